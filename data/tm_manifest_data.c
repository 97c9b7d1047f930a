#define _XOPEN_SOURCE 700 /* realpath */
#include "tm_manifest_data.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tm_checkpoint.h"
#include "tm_fs.h"

#define ERR_LEN 512

/* ---- decoding rows in parallel ----------------------------------------- */

typedef struct {
    const tm_manifest *m;
    const tm_manifest_options *o;
    const int *cols;                /* column of each spec */
    tm_manifest_set *s;
    tm_featurizer (*z)[TM_MAX_MODALITIES]; /* per worker */
    tm_status *status;              /* per row */
    char (*err)[ERR_LEN];           /* per row */
} decode_job;

static void decode_rows(void *arg, int begin, int end, int worker)
{
    decode_job *j = arg;
    for (int r = begin; r < end; r++) {
        tm_status st = TM_OK;
        for (int k = 0; k < j->o->n_specs && st == TM_OK; k++) {
            char path[4096];
            float *raw = j->s->raw[k] + (size_t)r * j->s->raw_dim[k];
            float *feat = j->s->data.x[k] + (size_t)r * j->s->data.mod[k].dim;
            st = tm_manifest_path(j->m, r, j->cols[k], path, sizeof path);
            if (st == TM_OK)
                st = tm_feature_decode(&j->o->specs[k], path, raw);
            if (st == TM_OK && (st = tm_featurize(&j->z[worker][k], raw, feat, NULL)) != TM_OK)
                st = tm_error_prefix(st, "%s: ", path);
        }
        j->status[r] = st;
        if (st != TM_OK)
            snprintf(j->err[r], ERR_LEN, "%s", tm_last_error());
    }
}

/* ---- the cache --------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001B3ull;
    }
    return h;
}

/* The key covers the manifest file (path, size, time) and every setting
 * that changes the decoded values. */
static void cache_key(const char *manifest, const tm_manifest_options *o, char *key, size_t n)
{
    char real[PATH_MAX];
    if (!realpath(manifest, real))
        snprintf(real, sizeof real, "%s", manifest);
    struct stat st;
    memset(&st, 0, sizeof st);
    stat(manifest, &st);
    char text[8192];
    int used = snprintf(text, sizeof text, "tinym2net-features-v1|%s|%lld|%lld|%s|%s|%d", real,
                        (long long)st.st_size, (long long)st.st_mtime, o->label_column,
                        o->group_column ? o->group_column : "", o->skip_bad_rows);
    for (int k = 0; k < o->n_specs && used > 0 && (size_t)used < sizeof text; k++) {
        const tm_feature_spec *f = &o->specs[k];
        const tm_rt_frontend_config *c = &f->fe;
        used += snprintf(text + used, sizeof text - used,
                         "|%s:%s:%d:%d,%d,%d,%d,%d,%d,%.9g,%.9g,%d,%.9g,%d:%d:%d,%d,%d", f->name,
                         f->column, (int)f->kind, c->sample_rate, c->window_length, c->hop_length,
                         c->n_fft, c->n_mels, c->n_mfcc, (double)c->fmin, (double)c->fmax,
                         c->window, (double)c->log_floor, c->num_samples, (int)f->fit,
                         f->channels, f->height, f->width);
    }
    if (o->classes)
        for (int c = 0; c < o->classes->n && used > 0 && (size_t)used < sizeof text; c++)
            used += snprintf(text + used, sizeof text - used, "|c:%s", o->classes->name[c]);
    uint64_t h = fnv1a(0xCBF29CE484222325ull, text, strlen(text));
    snprintf(key, n, "%016llx", (unsigned long long)h);
}

static void cache_path(const char *dir, const char *manifest, const char *key, char *out,
                       size_t n)
{
    const char *base = strrchr(manifest, '/');
    base = base ? base + 1 : manifest;
    snprintf(out, n, "%s/%.*s-%s.h5", dir, (int)strcspn(base, "."), base, key);
}

static tm_status put_ints(tm_ckpt_writer *w, const char *name, const int *v, int n)
{
    float *f = malloc(sizeof(float) * (size_t)n);
    if (!f)
        return tm_error(TM_ERR_NOMEM, "feature cache: out of memory");
    for (int i = 0; i < n; i++)
        f[i] = (float)v[i];
    tm_status s = tm_ckpt_put_array(w, name, f, 1, &n);
    free(f);
    return s;
}

static tm_status get_ints(tm_ckpt_reader *r, const char *name, int *v, int n)
{
    float *f = malloc(sizeof(float) * (size_t)n);
    if (!f)
        return tm_error(TM_ERR_NOMEM, "feature cache: out of memory");
    tm_status s = tm_ckpt_get_array(r, name, f, 1, &n);
    for (int i = 0; s == TM_OK && i < n; i++)
        v[i] = (int)f[i];
    free(f);
    return s;
}

static tm_status cache_write(const char *path, const char *key, const tm_manifest_set *s,
                             const tm_manifest_options *o)
{
    tm_ckpt_writer *w = NULL;
    TM_TRY(tm_ckpt_create(&w, path));
    const tm_dataset *d = &s->data;
    tm_status st = tm_ckpt_put_attr_string(w, "key", key);
    if (st == TM_OK)
        st = tm_ckpt_put_attr_int(w, "samples", d->n);
    if (st == TM_OK)
        st = tm_ckpt_put_attr_int(w, "rows_read", s->rows_read);
    if (st == TM_OK)
        st = tm_ckpt_put_attr_int(w, "rows_skipped", s->rows_skipped);
    if (st == TM_OK)
        st = tm_ckpt_put_attr_string(w, "skipped_rows", s->skipped_rows ? s->skipped_rows : "");
    if (st == TM_OK)
        st = tm_ckpt_put_attr_int(w, "groups", s->n_groups);
    if (st == TM_OK) {
        size_t len = (size_t)d->n_classes * TM_NAME_LEN + 1;
        char *names = calloc(len, 1);
        if (!names)
            st = tm_error(TM_ERR_NOMEM, "feature cache: out of memory");
        for (int c = 0; names && c < d->n_classes; c++) {
            strcat(names, d->class_names[c]);
            strcat(names, "\n");
        }
        if (st == TM_OK)
            st = tm_ckpt_put_attr_string(w, "classes", names);
        free(names);
    }
    if (st == TM_OK)
        st = put_ints(w, "label", d->label, d->n);
    if (st == TM_OK && d->group)
        st = put_ints(w, "group", d->group, d->n);
    for (int k = 0; k < o->n_specs && st == TM_OK; k++) {
        char name[128];
        int rs[2] = {d->n, (int)s->raw_dim[k]};
        snprintf(name, sizeof name, "raw/%s", o->specs[k].name);
        st = tm_ckpt_put_array(w, name, s->raw[k], 2, rs);
        int fs[4] = {d->n, d->mod[k].shape[0], d->mod[k].shape[1], d->mod[k].shape[2]};
        snprintf(name, sizeof name, "features/%s", o->specs[k].name);
        if (st == TM_OK)
            st = tm_ckpt_put_array(w, name, d->x[k], 4, fs);
    }
    if (st != TM_OK) {
        tm_ckpt_abort(w);
        return st;
    }
    return tm_ckpt_commit(w);
}

static tm_status alloc_set(tm_manifest_set *s, int n, const tm_manifest_options *o, int n_classes,
                           int with_raw)
{
    tm_modality mods[TM_MAX_MODALITIES];
    memset(mods, 0, sizeof mods);
    for (int k = 0; k < o->n_specs; k++) {
        snprintf(mods[k].name, sizeof mods[k].name, "%s", o->specs[k].name);
        tm_feature_shape(&o->specs[k], mods[k].shape);
    }
    TM_TRY(tm_dataset_alloc(&s->data, n, o->n_specs, mods, n_classes));
    for (int k = 0; k < o->n_specs; k++) {
        s->raw_dim[k] = tm_feature_raw_dim(&o->specs[k]);
        if (!with_raw)
            continue;
        s->raw[k] = malloc(sizeof(float) * s->raw_dim[k] * (size_t)n);
        if (!s->raw[k])
            return tm_error(TM_ERR_NOMEM, "data set: out of memory for %d samples", n);
    }
    return TM_OK;
}

static tm_status cache_read(const char *path, const char *key, tm_manifest_set *s,
                            const tm_manifest_options *o)
{
    tm_ckpt_reader *r = NULL;
    TM_TRY(tm_ckpt_open(&r, path));
    char *stored = NULL, *names = NULL;
    long long n = 0, read = 0, skipped = 0, groups = 0;
    tm_status st = tm_ckpt_get_attr_string(r, "key", &stored);
    if (st == TM_OK && strcmp(stored, key) != 0)
        st = tm_error(TM_ERR_FORMAT, "%s: built for other settings", path);
    if (st == TM_OK)
        st = tm_ckpt_get_attr_int(r, "samples", &n);
    if (st == TM_OK)
        st = tm_ckpt_get_attr_int(r, "rows_read", &read);
    if (st == TM_OK)
        st = tm_ckpt_get_attr_int(r, "rows_skipped", &skipped);
    char *skipped_rows = NULL;
    if (st == TM_OK)
        st = tm_ckpt_get_attr_string(r, "skipped_rows", &skipped_rows);
    if (st == TM_OK)
        st = tm_ckpt_get_attr_int(r, "groups", &groups);
    if (st == TM_OK)
        st = tm_ckpt_get_attr_string(r, "classes", &names);
    int k_classes = 0;
    for (char *p = names; st == TM_OK && p && *p; p++)
        k_classes += *p == '\n';
    if (st == TM_OK && (n < 1 || n > INT_MAX || k_classes < 2))
        st = tm_error(TM_ERR_FORMAT, "%s: malformed feature cache", path);
    if (st == TM_OK)
        st = alloc_set(s, (int)n, o, k_classes, o->need_raw);
    if (st == TM_OK) {
        char *p = names;
        for (int c = 0; c < k_classes; c++) {
            char *nl = strchr(p, '\n');
            snprintf(s->data.class_names[c], TM_NAME_LEN, "%.*s", (int)(nl - p), p);
            p = nl + 1;
        }
        st = get_ints(r, "label", s->data.label, (int)n);
    }
    if (st == TM_OK && groups > 0) {
        if (!(s->data.group = malloc(sizeof(int) * (size_t)n)))
            st = tm_error(TM_ERR_NOMEM, "feature cache: out of memory");
        else
            st = get_ints(r, "group", s->data.group, (int)n);
    }
    for (int k = 0; k < o->n_specs && st == TM_OK; k++) {
        char name[128];
        int rs[2] = {(int)n, (int)s->raw_dim[k]};
        snprintf(name, sizeof name, "raw/%s", o->specs[k].name);
        /* Raw PCM is most of the file: read it only for augmentation. */
        if (o->need_raw)
            st = tm_ckpt_get_array(r, name, s->raw[k], 2, rs);
        const int *sh = s->data.mod[k].shape;
        int fs[4] = {(int)n, sh[0], sh[1], sh[2]};
        snprintf(name, sizeof name, "features/%s", o->specs[k].name);
        if (st == TM_OK)
            st = tm_ckpt_get_array(r, name, s->data.x[k], 4, fs);
    }
    for (int i = 0; st == TM_OK && i < n; i++)
        if (s->data.label[i] < 0 || s->data.label[i] >= k_classes)
            st = tm_error(TM_ERR_FORMAT, "%s: label out of range", path);
    tm_ckpt_close(r);
    free(stored);
    free(names);
    s->rows_read = (int)read;
    s->rows_skipped = (int)skipped;
    if (skipped_rows && skipped_rows[0])
        s->skipped_rows = skipped_rows;
    else
        free(skipped_rows);
    s->n_groups = (int)groups;
    s->from_cache = 1;
    return st;
}

/* ---- loading ----------------------------------------------------------- */

static tm_status decode_manifest(tm_manifest_set *s, const tm_manifest *m,
                                 const tm_manifest_options *o)
{
    int cols[TM_MAX_MODALITIES];
    for (int k = 0; k < o->n_specs; k++) {
        const char *col = o->specs[k].column[0] ? o->specs[k].column : o->specs[k].name;
        cols[k] = tm_manifest_column(m, col);
        if (cols[k] < 0)
            return tm_error(TM_ERR_FORMAT, "%s: no column '%s' (branch %s)", m->path, col,
                            o->specs[k].name);
    }
    int lc = tm_manifest_column(m, o->label_column);
    if (lc < 0)
        return tm_error(TM_ERR_FORMAT, "%s: no label column '%s'", m->path, o->label_column);
    int gc = -1;
    if (o->group_column && o->group_column[0] &&
        (gc = tm_manifest_column(m, o->group_column)) < 0)
        return tm_error(TM_ERR_FORMAT, "%s: no group column '%s'", m->path, o->group_column);
    if (m->n_rows < 1)
        return tm_error(TM_ERR_FORMAT, "%s: no data rows", m->path);

    tm_classes own;
    memset(&own, 0, sizeof own);
    const tm_classes *classes = o->classes;
    if (!classes) {
        TM_TRY(tm_manifest_classes(m, lc, &own));
        classes = &own;
    }
    int n = m->n_rows;
    int *labels = malloc(sizeof(int) * (size_t)n);
    int *groups = malloc(sizeof(int) * (size_t)n);
    tm_status *status = calloc((size_t)n, sizeof *status);
    char (*err)[ERR_LEN] = calloc((size_t)n, sizeof *err);
    int workers = tm_pool_size(o->pool);
    tm_featurizer (*z)[TM_MAX_MODALITIES] = calloc((size_t)workers, sizeof *z);
    tm_manifest_set all;
    memset(&all, 0, sizeof all);
    tm_status st = TM_OK;
    if (!labels || !groups || !status || !err || !z)
        st = tm_error(TM_ERR_NOMEM, "%s: out of memory", m->path);
    /* Unknown labels are bad rows like unreadable files. */
    for (int r = 0; st == TM_OK && r < n; r++) {
        const char *lab = tm_manifest_cell(m, r, lc);
        labels[r] = tm_classes_find(classes, lab);
        if (labels[r] < 0) {
            status[r] = TM_ERR_FORMAT;
            snprintf(err[r], ERR_LEN, "%s:%d: unknown label '%s'", m->path, m->line[r], lab);
        }
    }
    for (int w = 0; st == TM_OK && w < workers; w++)
        for (int k = 0; st == TM_OK && k < o->n_specs; k++)
            st = tm_featurizer_init(&z[w][k], &o->specs[k]);
    if (st == TM_OK)
        st = alloc_set(&all, n, o, classes->n, 1);
    if (st == TM_OK) {
        decode_job j = {m, o, cols, &all, z, status, err};
        /* rows already known bad keep their status: decode only the rest */
        tm_status *known = malloc(sizeof *known * (size_t)n);
        if (!known) {
            st = tm_error(TM_ERR_NOMEM, "%s: out of memory", m->path);
        } else {
            memcpy(known, status, sizeof *known * (size_t)n);
            tm_pool_run(o->pool, n, decode_rows, &j);
            for (int r = 0; r < n; r++)
                if (known[r] != TM_OK) {
                    status[r] = known[r];
                    snprintf(err[r], ERR_LEN, "%s:%d: unknown label '%s'", m->path, m->line[r],
                             tm_manifest_cell(m, r, lc));
                }
            free(known);
        }
    }
    int bad = 0, first_bad = -1;
    for (int r = 0; st == TM_OK && r < n; r++)
        if (status[r] != TM_OK) {
            if (first_bad < 0)
                first_bad = r;
            bad++;
        }
    if (st == TM_OK && bad && !o->skip_bad_rows)
        st = tm_error(status[first_bad], "%s:%d (row %d): %s%s", m->path, m->line[first_bad],
                      first_bad + 1, err[first_bad],
                      bad > 1 ? " (and more bad rows; set [data] skip_bad_rows = 1 to leave "
                                "them out)"
                              : " (set [data] skip_bad_rows = 1 to leave bad rows out)");
    if (st == TM_OK && bad == n)
        st = tm_error(TM_ERR_FORMAT, "%s: every row is bad; the first: %s", m->path,
                      err[first_bad]);
    char *skipped_rows = NULL;
    if (st == TM_OK && bad) {
        size_t len = 1, used = 0;
        for (int r = 0; r < n; r++)
            if (status[r] != TM_OK)
                len += strlen(m->path) + strlen(err[r]) + 16;
        if (!(skipped_rows = malloc(len)))
            st = tm_error(TM_ERR_NOMEM, "%s: out of memory", m->path);
        for (int r = 0; skipped_rows && r < n; r++)
            if (status[r] != TM_OK)
                used += (size_t)snprintf(skipped_rows + used, len - used, "%s:%d: %s\n", m->path,
                                         m->line[r], err[r]);
    }
    /* group ids in order of first appearance */
    int n_groups = 0;
    char **gnames = gc >= 0 ? calloc((size_t)n, sizeof *gnames) : NULL;
    if (st == TM_OK && gc >= 0 && !gnames)
        st = tm_error(TM_ERR_NOMEM, "%s: out of memory", m->path);
    for (int r = 0; st == TM_OK && gc >= 0 && r < n; r++) {
        const char *g = tm_manifest_cell(m, r, gc);
        int id = -1;
        for (int i = 0; i < n_groups && id < 0; i++)
            if (!strcmp(gnames[i], g))
                id = i;
        if (id < 0) {
            gnames[n_groups] = (char *)g;
            id = n_groups++;
        }
        groups[r] = id;
    }
    free(gnames);
    if (st == TM_OK) {
        int *keep = malloc(sizeof(int) * (size_t)n);
        int kept = 0;
        if (!keep) {
            st = tm_error(TM_ERR_NOMEM, "%s: out of memory", m->path);
        } else {
            for (int r = 0; r < n; r++) {
                all.data.label[r] = labels[r] < 0 ? 0 : labels[r];
                if (status[r] == TM_OK)
                    keep[kept++] = r;
            }
            if (gc >= 0) {
                all.data.group = groups;
                groups = NULL;
            }
            for (int c = 0; c < classes->n; c++)
                snprintf(all.data.class_names[c], TM_NAME_LEN, "%s", classes->name[c]);
            st = tm_manifest_set_subset(&all, keep, kept, s);
            free(keep);
        }
    }
    if (st == TM_OK) {
        s->rows_read = n;
        s->rows_skipped = bad;
        s->skipped_rows = skipped_rows;
        skipped_rows = NULL;
        s->n_groups = n_groups;
    }
    free(skipped_rows);
    for (int w = 0; z && w < workers; w++)
        for (int k = 0; k < o->n_specs; k++)
            tm_featurizer_free(&z[w][k]);
    free(z);
    tm_manifest_set_free(&all);
    free(labels);
    free(groups);
    free(status);
    free(err);
    tm_classes_free(&own);
    return st;
}

/* Told on every load, the cached one too, so no run drops rows unseen. */
static void list_skipped(const tm_manifest_set *s, const char *manifest_path,
                         const tm_manifest_options *o)
{
    if (!o->skip_report || !s->rows_skipped)
        return;
    fprintf(o->skip_report, "%s: skipped %d bad row%s of %d (data.skip_bad_rows = 1):\n%s",
            manifest_path, s->rows_skipped, s->rows_skipped > 1 ? "s" : "", s->rows_read,
            s->skipped_rows ? s->skipped_rows : "");
}

tm_status tm_manifest_set_load(tm_manifest_set *s, const char *manifest_path,
                               const tm_manifest_options *o)
{
    memset(s, 0, sizeof *s);
    if (o->n_specs < 1 || o->n_specs > TM_MAX_MODALITIES)
        return tm_error(TM_ERR_ARG, "%s: %d modalities (1..%d)", manifest_path, o->n_specs,
                        TM_MAX_MODALITIES);
    for (int k = 0; k < o->n_specs; k++)
        TM_TRY(tm_feature_check(&o->specs[k]));
    char key[32], cpath[4200];
    int use_cache = o->cache_dir && o->cache_dir[0];
    if (use_cache) {
        cache_key(manifest_path, o, key, sizeof key);
        cache_path(o->cache_dir, manifest_path, key, cpath, sizeof cpath);
        struct stat st;
        if (stat(cpath, &st) == 0) {
            tm_status cs = cache_read(cpath, key, s, o);
            if (cs == TM_OK) {
                if (o->report)
                    fprintf(o->report, "%s: %d samples from the feature cache %s\n",
                            manifest_path, s->data.n, cpath);
                list_skipped(s, manifest_path, o);
                return TM_OK;
            }
            /* A damaged or stale cache is rebuilt, never trusted. */
            if (o->report)
                fprintf(o->report, "%s: rebuilding the feature cache (%s)\n", manifest_path,
                        tm_last_error());
            tm_manifest_set_free(s);
        }
    }
    tm_manifest m;
    TM_TRY(tm_manifest_load(&m, manifest_path));
    tm_status st = decode_manifest(s, &m, o);
    tm_manifest_free(&m);
    if (st != TM_OK) {
        tm_manifest_set_free(s);
        return st;
    }
    if (use_cache) {
        st = tm_mkdirs(o->cache_dir);
        if (st == TM_OK)
            st = cache_write(cpath, key, s, o);
        if (st != TM_OK) {
            /* The data is fine; only the cache could not be written. */
            if (o->report)
                fprintf(o->report, "warning: feature cache not written: %s\n", tm_last_error());
            st = TM_OK;
        } else if (o->report) {
            fprintf(o->report, "%s: %d samples decoded, cached in %s\n", manifest_path,
                    s->data.n, cpath);
        }
    }
    list_skipped(s, manifest_path, o);
    return st;
}

void tm_manifest_set_free(tm_manifest_set *s)
{
    tm_dataset_free(&s->data);
    for (int k = 0; k < TM_MAX_MODALITIES; k++)
        free(s->raw[k]);
    free(s->skipped_rows);
    memset(s, 0, sizeof *s);
}

tm_status tm_manifest_set_subset(const tm_manifest_set *s, const int *idx, int n,
                                 tm_manifest_set *out)
{
    memset(out, 0, sizeof *out);
    TM_TRY(tm_dataset_subset(&s->data, idx, n, &out->data));
    for (int k = 0; k < s->data.n_modalities; k++) {
        out->raw_dim[k] = s->raw_dim[k];
        if (!s->raw[k])
            continue;
        out->raw[k] = malloc(sizeof(float) * s->raw_dim[k] * (size_t)(n ? n : 1));
        if (!out->raw[k]) {
            tm_manifest_set_free(out);
            return tm_error(TM_ERR_NOMEM, "data set: out of memory");
        }
        for (int i = 0; i < n; i++)
            memcpy(out->raw[k] + (size_t)i * s->raw_dim[k],
                   s->raw[k] + (size_t)idx[i] * s->raw_dim[k], s->raw_dim[k] * sizeof(float));
    }
    out->n_groups = s->n_groups;
    out->rows_read = s->rows_read;
    out->rows_skipped = s->rows_skipped;
    return TM_OK;
}
