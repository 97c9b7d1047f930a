#include "tm_data_load.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tm_manifest_data.h"
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

tm_status tm_data_root(const tm_experiment *e, char *buf, size_t n)
{
    const char *root = e->data.root[0] ? e->data.root : getenv("TINYM2NET_DATA");
    if (!root || !root[0])
        return tm_error(TM_ERR_CONFIG, "%s: [data] root is not set and neither is the "
                                       "environment variable TINYM2NET_DATA (the folder the "
                                       "manifest paths start from)",
                        e->path);
    snprintf(buf, n, "%s", root);
    return TM_OK;
}

static void resolve(const char *root, const char *p, char *buf, size_t n)
{
    if (p[0] == '/')
        snprintf(buf, n, "%s", p);
    else
        snprintf(buf, n, "%s/%s", root, p);
}

static void default_cache_dir(const tm_experiment *e, char *buf, size_t n)
{
    if (!strcmp(e->data.cache, "none")) {
        buf[0] = '\0';
        return;
    }
    if (e->data.cache[0]) {
        snprintf(buf, n, "%s", e->data.cache);
        return;
    }
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0])
        snprintf(buf, n, "%s/tinym2net", xdg);
    else if (home && home[0])
        snprintf(buf, n, "%s/.cache/tinym2net", home);
    else
        buf[0] = '\0';
}

/* Splits rows of `from` into a held-out part of about `fraction` and the
 * rest, seeded; whole groups move together so none leaks across. */
static tm_status split_off(tm_manifest_set *from, float fraction, uint64_t seed,
                           tm_manifest_set *held, const char *what)
{
    int n = from->data.n;
    int *order = malloc(sizeof(int) * (size_t)n), *a = malloc(sizeof(int) * (size_t)n),
        *b = malloc(sizeof(int) * (size_t)n);
    if (!order || !a || !b) {
        free(order), free(a), free(b);
        return tm_error(TM_ERR_NOMEM, "split: out of memory");
    }
    tm_rng r;
    tm_rng_seed(&r, seed);
    int na = 0, nb = 0;
    int want = (int)lround((double)fraction * n);
    if (from->data.group) {
        int g = from->n_groups;
        int *gorder = malloc(sizeof(int) * (size_t)(g ? g : 1));
        char *take = calloc((size_t)(g ? g : 1), 1);
        if (!gorder || !take) {
            free(gorder), free(take), free(order), free(a), free(b);
            return tm_error(TM_ERR_NOMEM, "split: out of memory");
        }
        for (int i = 0; i < g; i++)
            gorder[i] = i;
        tm_rng_shuffle(&r, gorder, g);
        int *count = calloc((size_t)(g ? g : 1), sizeof(int));
        for (int i = 0; count && i < n; i++)
            count[from->data.group[i]]++;
        int got = 0;
        for (int i = 0; count && i < g && got < want; i++) {
            take[gorder[i]] = 1;
            got += count[gorder[i]];
        }
        for (int i = 0; i < n; i++) {
            if (take[from->data.group[i]])
                b[nb++] = i;
            else
                a[na++] = i;
        }
        free(count);
        free(gorder);
        free(take);
    } else {
        for (int i = 0; i < n; i++)
            order[i] = i;
        tm_rng_shuffle(&r, order, n);
        for (int i = 0; i < n; i++) {
            if (i < want)
                b[nb++] = order[i];
            else
                a[na++] = order[i];
        }
    }
    tm_status s = TM_OK;
    if (nb < 1 || na < 1)
        s = tm_error(TM_ERR_CONFIG, "splitting off the %s split (fraction %.2f of %d rows%s) "
                                    "leaves an empty part",
                     what, (double)fraction, n, from->data.group ? ", by group" : "");
    tm_manifest_set rest;
    memset(&rest, 0, sizeof rest);
    if (s == TM_OK)
        s = tm_manifest_set_subset(from, b, nb, held);
    if (s == TM_OK)
        s = tm_manifest_set_subset(from, a, na, &rest);
    free(order);
    free(a);
    free(b);
    if (s != TM_OK) {
        tm_manifest_set_free(held);
        return s;
    }
    tm_manifest_set_free(from);
    *from = rest;
    return TM_OK;
}

static tm_status load_one(const tm_experiment *e, const char *root, const char *rel,
                          const tm_classes *classes, const char *cache, tm_pool *pool,
                          FILE *skipped, tm_manifest_set *out)
{
    char path[TM_PATH_LEN * 2];
    resolve(root, rel, path, sizeof path);
    tm_manifest_options o;
    memset(&o, 0, sizeof o);
    o.specs = e->features;
    o.n_specs = e->model.n_branches;
    o.label_column = e->data.label_column;
    o.group_column = e->data.group_column;
    o.classes = classes;
    o.skip_bad_rows = e->data.skip_bad_rows;
    o.pool = pool;
    o.cache_dir = cache;
    o.skip_report = skipped;
    for (int k = 0; k < o.n_specs; k++)
        o.need_raw |= tm_feature_augments(&e->features[k]);
    return tm_manifest_set_load(out, path, &o);
}

static tm_status manifest_splits(const tm_experiment *e, tm_splits *s, FILE *skipped)
{
    if (!e->data.train[0])
        return tm_error(TM_ERR_CONFIG, "%s: [data] source = manifest needs train = <csv>",
                        e->path);
    char root[TM_PATH_LEN], cache[TM_PATH_LEN];
    TM_TRY(tm_data_root(e, root, sizeof root));
    default_cache_dir(e, cache, sizeof cache);
    tm_pool *pool = NULL;
    TM_TRY(tm_pool_new(&pool, e->threads));
    tm_manifest_set tr, va, te;
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    memset(&te, 0, sizeof te);
    tm_classes classes = {0, NULL};
    tm_status st = load_one(e, root, e->data.train, NULL, cache, pool, skipped, &tr);
    if (st == TM_OK) {
        classes.n = tr.data.n_classes;
        classes.name = tr.data.class_names;
    }
    if (st == TM_OK && e->data.test[0])
        st = load_one(e, root, e->data.test, &classes, cache, pool, skipped, &te);
    else if (st == TM_OK)
        st = split_off(&tr, e->data.test_fraction, e->seed * 7 + 101, &te, "test");
    if (st == TM_OK && e->data.val[0])
        st = load_one(e, root, e->data.val, &classes, cache, pool, skipped, &va);
    else if (st == TM_OK)
        st = split_off(&tr, e->data.val_fraction, e->seed * 7 + 102, &va, "validation");
    tm_pool_free(pool);
    if (st != TM_OK) {
        tm_manifest_set_free(&tr);
        tm_manifest_set_free(&va);
        tm_manifest_set_free(&te);
        return st;
    }
    s->train = tr.data;
    s->val = va.data;
    s->test = te.data;
    s->rows_skipped[0] = tr.rows_skipped;
    s->rows_skipped[1] = e->data.val[0] ? va.rows_skipped : 0;
    s->rows_skipped[2] = e->data.test[0] ? te.rows_skipped : 0;
    free(tr.skipped_rows);
    free(va.skipped_rows);
    free(te.skipped_rows);
    for (int k = 0; k < e->model.n_branches; k++) {
        s->specs[k] = e->features[k];
        s->raw_dim[k] = tr.raw_dim[k];
        s->augment |= tm_feature_augments(&e->features[k]);
    }
    if (s->augment)
        memcpy(s->train_raw, tr.raw, sizeof s->train_raw);
    else
        for (int k = 0; k < TM_MAX_MODALITIES; k++)
            free(tr.raw[k]);
    for (int k = 0; k < TM_MAX_MODALITIES; k++) {
        free(va.raw[k]);
        free(te.raw[k]);
    }
    return TM_OK;
}

/* Divides, as the runtime's input setters do, so both round alike. */
static void standardize(tm_dataset *d, int m, float mean, float std)
{
    size_t n = (size_t)d->n * d->mod[m].dim;
    for (size_t i = 0; i < n; i++)
        d->x[m][i] = (d->x[m][i] - mean) / std;
}

/* Statistics of the training split only, so nothing leaks from test. */
static void fit_standardization(const tm_experiment *e, tm_splits *s)
{
    for (int m = 0; m < s->train.n_modalities; m++) {
        s->mean[m] = 0.0f;
        s->std[m] = 0.0f;
        if (e->data.source != TM_DATA_MANIFEST || !e->features[m].standardize)
            continue;
        size_t n = (size_t)s->train.n * s->train.mod[m].dim;
        double sum = 0.0, sq = 0.0;
        for (size_t i = 0; i < n; i++)
            sum += s->train.x[m][i];
        double mean = sum / n;
        for (size_t i = 0; i < n; i++) {
            double d = s->train.x[m][i] - mean;
            sq += d * d;
        }
        double std = sqrt(sq / n);
        s->mean[m] = (float)mean;
        s->std[m] = (float)(std > 1e-12 ? std : 1.0);
        standardize(&s->train, m, s->mean[m], s->std[m]);
        standardize(&s->val, m, s->mean[m], s->std[m]);
        standardize(&s->test, m, s->mean[m], s->std[m]);
    }
}

typedef struct {
    const tm_splits *s;
    tm_dataset *out;
    tm_featurizer (*z)[TM_MAX_MODALITIES];
    tm_rng *rngs;       /* one per sample, drawn in order so threads do not matter */
    tm_status *status;
} augment_job;

static void augment_rows(void *arg, int begin, int end, int worker)
{
    augment_job *j = arg;
    for (int i = begin; i < end; i++)
        for (int m = 0; m < j->out->n_modalities; m++) {
            tm_status st = tm_featurize(&j->z[worker][m],
                                        j->s->train_raw[m] + (size_t)i * j->s->raw_dim[m],
                                        j->out->x[m] + (size_t)i * j->out->mod[m].dim,
                                        &j->rngs[i]);
            if (st != TM_OK)
                j->status[i] = st;
            else if (j->s->std[m] > 0)
                for (size_t k = 0; k < j->out->mod[m].dim; k++) {
                    float *v = j->out->x[m] + (size_t)i * j->out->mod[m].dim + k;
                    *v = (*v - j->s->mean[m]) / j->s->std[m];
                }
        }
}

tm_status tm_splits_augment(const tm_splits *s, tm_rng *rng, tm_pool *pool, tm_dataset *out)
{
    int n = s->train.n, workers = tm_pool_size(pool);
    tm_rng *rngs = malloc(sizeof *rngs * (size_t)n);
    tm_status *status = calloc((size_t)n, sizeof *status);
    tm_featurizer (*z)[TM_MAX_MODALITIES] = calloc((size_t)workers, sizeof *z);
    tm_status st = TM_OK;
    if (!rngs || !status || !z)
        st = tm_error(TM_ERR_NOMEM, "augmentation: out of memory");
    for (int i = 0; st == TM_OK && i < n; i++)
        tm_rng_fork(rng, (uint64_t)i, &rngs[i]);
    if (st == TM_OK)
        tm_rng_u32(rng);
    for (int w = 0; st == TM_OK && w < workers; w++)
        for (int m = 0; st == TM_OK && m < s->train.n_modalities; m++)
            st = tm_featurizer_init(&z[w][m], &s->specs[m]);
    if (st == TM_OK) {
        augment_job j = {s, out, z, rngs, status};
        tm_pool_run(pool, n, augment_rows, &j);
        for (int i = 0; i < n && st == TM_OK; i++)
            st = status[i];
    }
    for (int w = 0; z && w < workers; w++)
        for (int m = 0; m < s->train.n_modalities; m++)
            tm_featurizer_free(&z[w][m]);
    free(z);
    free(rngs);
    free(status);
    return st;
}

tm_status tm_load_splits(const tm_experiment *e, tm_splits *s, FILE *skipped)
{
    memset(s, 0, sizeof *s);
    tm_status st;
    switch (e->data.source) {
    case TM_DATA_SYNTHETIC:
        st = synthetic(e, s);
        break;
    case TM_DATA_MANIFEST:
        st = manifest_splits(e, s, skipped);
        break;
    default:
        st = tm_error(TM_ERR_INTERNAL, "unknown data source");
    }
    if (st != TM_OK) {
        tm_splits_free(s);
        return st;
    }
    fit_standardization(e, s);
    return TM_OK;
}

void tm_splits_free(tm_splits *s)
{
    for (int k = 0; k < TM_MAX_MODALITIES; k++)
        free(s->train_raw[k]);
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
