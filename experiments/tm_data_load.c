#include "tm_data_load.h"

#include <string.h>

#include "tm_synthetic.h"

static tm_status synthetic(const tm_experiment *e, tm_splits *s)
{
    /* Distinct seeds per split: the test set never overlaps training. */
    tm_synthetic_config c = {e->data.classes, e->data.train_samples, e->data.noise,
                             e->seed * 3 + 1};
    TM_TRY(tm_synthetic_make(&s->train, &c));
    c.samples = e->data.val_samples;
    c.seed = e->seed * 3 + 2;
    TM_TRY(tm_synthetic_make(&s->val, &c));
    c.samples = e->data.test_samples;
    c.seed = e->seed * 3 + 3;
    return tm_synthetic_make(&s->test, &c);
}

tm_status tm_load_splits(const tm_experiment *e, tm_splits *s)
{
    memset(s, 0, sizeof *s);
    tm_status st;
    switch (e->data.source) {
    case TM_DATA_SYNTHETIC:
        st = synthetic(e, s);
        break;
    default:
        st = tm_error(TM_ERR_CONFIG, "%s: [data] source = manifest is not available in this "
                                     "build",
                      e->path);
    }
    if (st != TM_OK)
        tm_splits_free(s);
    return st;
}

void tm_splits_free(tm_splits *s)
{
    tm_dataset_free(&s->train);
    tm_dataset_free(&s->val);
    tm_dataset_free(&s->test);
}

tm_status tm_match_branches(const tm_experiment *e, const tm_model_spec *spec,
                            const tm_dataset *d, int *map)
{
    for (int b = 0; b < spec->n_branches; b++) {
        const tm_branch_spec *bs = &spec->branches[b];
        const char *modality = bs->name;
        for (int i = 0; i < e->model.n_branches; i++)
            if (!strcmp(e->model.branches[i].name, bs->name))
                modality = e->modality[i];
        int m = tm_dataset_find(d, modality);
        if (m < 0) {
            char have[256] = "";
            for (int i = 0; i < d->n_modalities; i++) {
                strncat(have, i ? ", " : "", sizeof have - strlen(have) - 1);
                strncat(have, d->mod[i].name, sizeof have - strlen(have) - 1);
            }
            return tm_error(TM_ERR_CONFIG, "branch %s (line %d): the data set has no modality "
                                           "'%s' (it has: %s)",
                            bs->name, bs->line, modality, have);
        }
        const int *sh = d->mod[m].shape;
        if (sh[0] != bs->input[0] || sh[1] != bs->input[1] || sh[2] != bs->input[2])
            return tm_error(TM_ERR_CONFIG, "branch %s (line %d): input = %dx%dx%d but the "
                                           "'%s' features are %dx%dx%d",
                            bs->name, bs->line, bs->input[0], bs->input[1], bs->input[2],
                            modality, sh[0], sh[1], sh[2]);
        map[b] = m;
    }
    return TM_OK;
}
