#include "tm_dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tm_status tm_dataset_alloc(tm_dataset *d, int n, int n_modalities, const tm_modality *mods,
                           int n_classes)
{
    memset(d, 0, sizeof *d);
    if (n <= 0)
        return tm_error(TM_ERR_ARG, "data set: %d samples", n);
    if (n_modalities < 1 || n_modalities > TM_MAX_MODALITIES)
        return tm_error(TM_ERR_ARG, "data set: %d modalities (1..%d allowed)", n_modalities,
                        TM_MAX_MODALITIES);
    if (n_classes < 2)
        return tm_error(TM_ERR_ARG, "data set: %d classes (at least 2 needed)", n_classes);
    d->n = n;
    d->n_modalities = n_modalities;
    d->n_classes = n_classes;
    for (int m = 0; m < n_modalities; m++) {
        d->mod[m] = mods[m];
        d->mod[m].dim = (size_t)mods[m].shape[0] * mods[m].shape[1] * mods[m].shape[2];
        d->x[m] = calloc((size_t)n * d->mod[m].dim, sizeof(float));
        if (!d->x[m])
            goto nomem;
    }
    d->label = calloc((size_t)n, sizeof(int));
    d->class_names = calloc((size_t)n_classes, sizeof *d->class_names);
    if (!d->label || !d->class_names)
        goto nomem;
    for (int c = 0; c < n_classes; c++)
        snprintf(d->class_names[c], TM_NAME_LEN, "%d", c);
    return TM_OK;
nomem:
    tm_dataset_free(d);
    return tm_error(TM_ERR_NOMEM, "data set: out of memory for %d samples", n);
}

void tm_dataset_free(tm_dataset *d)
{
    for (int m = 0; m < TM_MAX_MODALITIES; m++)
        free(d->x[m]);
    free(d->label);
    free(d->group);
    free(d->class_names);
    memset(d, 0, sizeof *d);
}

int tm_dataset_find(const tm_dataset *d, const char *name)
{
    for (int m = 0; m < d->n_modalities; m++)
        if (strcmp(d->mod[m].name, name) == 0)
            return m;
    return -1;
}

tm_status tm_dataset_subset(const tm_dataset *d, const int *idx, int n, tm_dataset *out)
{
    TM_TRY(tm_dataset_alloc(out, n, d->n_modalities, d->mod, d->n_classes));
    memcpy(out->class_names, d->class_names, sizeof *d->class_names * (size_t)d->n_classes);
    if (d->group && !(out->group = malloc(sizeof(int) * (size_t)n))) {
        tm_dataset_free(out);
        return tm_error(TM_ERR_NOMEM, "data set: out of memory");
    }
    for (int i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= d->n) {
            tm_dataset_free(out);
            return tm_error(TM_ERR_ARG, "data set: row %d out of range (%d rows)", idx[i], d->n);
        }
        out->label[i] = d->label[idx[i]];
        if (d->group)
            out->group[i] = d->group[idx[i]];
    }
    for (int m = 0; m < d->n_modalities; m++)
        tm_dataset_gather(d, m, idx, n, out->x[m]);
    return TM_OK;
}

void tm_dataset_gather(const tm_dataset *d, int m, const int *idx, int n, float *dst)
{
    size_t dim = d->mod[m].dim;
    for (int i = 0; i < n; i++)
        memcpy(dst + (size_t)i * dim, d->x[m] + (size_t)idx[i] * dim, dim * sizeof(float));
}
