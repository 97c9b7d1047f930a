#define _GNU_SOURCE /* renameat2 */
#include "tm_qrun.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tm_checkpoint.h"
#include "tm_fault.h"
#include "tm_train.h"

tm_status tm_make_dir(const char *dir)
{
    char p[TM_PATH_LEN];
    snprintf(p, sizeof p, "%s", dir);
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            mkdir(p, 0777);
            *c = '/';
        }
    struct stat st;
    if ((mkdir(p, 0777) == 0 || errno == EEXIST) && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
        return TM_OK;
    return tm_error(TM_ERR_IO, "%s: cannot create folder: %s", dir, strerror(errno));
}

tm_status tm_write_file_atomic(const char *path, const void *data, size_t n)
{
    char tmp[TM_PATH_LEN + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return tm_error(TM_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    size_t put = fwrite(data, 1, n, f);
    return tm_file_commit(f, tmp, path,
                          put == n ? TM_OK
                                   : tm_error(TM_ERR_IO, "%s: write failed: %s", tmp,
                                              strerror(errno)));
}

tm_status tm_file_commit(FILE *f, const char *tmp, const char *path, tm_status s)
{
    if (fclose(f) != 0 && s == TM_OK)
        s = tm_error(TM_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    if (s == TM_OK && tm_rename(tmp, path) != 0)
        s = tm_error(TM_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (s != TM_OK)
        remove(tmp);
    return s;
}

/* ---- output folders that change as one unit ---------------------------- */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p) != 0 && errno != ENOENT;
}

static void rm_tree(const char *p)
{
    nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void fsync_path(const char *p)
{
    int fd = open(p, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: some file systems refuse it on folders */
        close(fd);
    }
}

static const char STAGE_MARK[] = ".tm-stage";

/* Moves entries of from that to lacks into to, through subfolders both hold
 * (a user's files left in the old folder by a kill after the swap). */
static void move_missing(const char *from, const char *to)
{
    DIR *dp = opendir(from);
    if (!dp)
        return;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            !strcmp(de->d_name, STAGE_MARK))
            continue;
        char a[2 * TM_PATH_LEN], b[2 * TM_PATH_LEN];
        struct stat sa, sb;
        snprintf(a, sizeof a, "%s/%s", from, de->d_name);
        snprintf(b, sizeof b, "%s/%s", to, de->d_name);
        if (lstat(b, &sb) != 0 && errno == ENOENT)
            (void)rename(a, b);
        else if (lstat(a, &sa) == 0 && S_ISDIR(sa.st_mode) && S_ISDIR(sb.st_mode))
            move_missing(a, b);
    }
    closedir(dp);
}

/* Hard-links into to the files of from that to lacks, through subfolders
 * both hold; subfolders only from has are moved after the swap. */
static tm_status link_missing(const char *from, const char *to)
{
    DIR *dp = opendir(from);
    if (!dp)
        return TM_OK;
    tm_status s = TM_OK;
    struct dirent *de;
    while (s == TM_OK && (de = readdir(dp))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            !strcmp(de->d_name, STAGE_MARK))
            continue;
        char a[2 * TM_PATH_LEN], b[2 * TM_PATH_LEN];
        struct stat sa, sb;
        snprintf(a, sizeof a, "%s/%s", from, de->d_name);
        snprintf(b, sizeof b, "%s/%s", to, de->d_name);
        if (lstat(a, &sa) != 0)
            continue;
        int have_b = lstat(b, &sb) == 0;
        if (S_ISDIR(sa.st_mode)) {
            if (have_b && S_ISDIR(sb.st_mode))
                s = link_missing(a, b);
        } else if (!have_b && link(a, b) != 0) {
            s = tm_error(TM_ERR_IO, "%s: cannot keep it in the new folder (link to %s): %s", a,
                         b, strerror(errno));
        }
    }
    closedir(dp);
    return s;
}

/* DIR.tmp-PID of a dead PID: a stage (has the mark) is dropped; an old
 * folder swapped out (no mark) first gives back what the new one lacks. */
static void clean_stale(const tm_outdir *d)
{
    char parent[TM_PATH_LEN], base[TM_PATH_LEN];
    snprintf(parent, sizeof parent, "%s", d->dir);
    char *slash = strrchr(parent, '/');
    if (slash) {
        snprintf(base, sizeof base, "%s", slash + 1);
        *slash = '\0';
        if (!*parent)
            snprintf(parent, sizeof parent, "/");
    } else {
        snprintf(base, sizeof base, "%s", parent);
        snprintf(parent, sizeof parent, ".");
    }
    DIR *dp = opendir(parent);
    if (!dp)
        return;
    size_t bl = strlen(base);
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (strncmp(de->d_name, base, bl) || strncmp(de->d_name + bl, ".tmp-", 5))
            continue;
        char *end;
        long pid = strtol(de->d_name + bl + 5, &end, 10);
        if (*end || pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        char p[2 * TM_PATH_LEN], mark[3 * TM_PATH_LEN];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", parent, de->d_name);
        snprintf(mark, sizeof mark, "%s/%s", p, STAGE_MARK);
        if (lstat(mark, &st) != 0)
            move_missing(p, d->dir);
        rm_tree(p);
    }
    closedir(dp);
    char mark[TM_PATH_LEN + 16];
    snprintf(mark, sizeof mark, "%s/%s", d->dir, STAGE_MARK);
    (void)remove(mark); /* a kill right after the swap left it */
}

tm_status tm_outdir_begin(tm_outdir *d, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n >= sizeof d->dir)
        return tm_error(TM_ERR_ARG, "%s: path too long", dir);
    memcpy(d->dir, dir, n);
    d->dir[n] = '\0';
    snprintf(d->stage, sizeof d->stage, "%s.tmp-%ld", d->dir, (long)getpid());
    TM_TRY(tm_make_dir(d->dir)); /* also the parent folders */
    clean_stale(d);
    rm_tree(d->stage);
    if (mkdir(d->stage, 0777) != 0)
        return tm_error(TM_ERR_IO, "%s: cannot create folder: %s", d->stage, strerror(errno));
    char mark[sizeof d->stage + 16];
    snprintf(mark, sizeof mark, "%s/%s", d->stage, STAGE_MARK);
    FILE *f = fopen(mark, "w");
    if (!f || fclose(f) != 0) {
        tm_status s = tm_error(TM_ERR_IO, "%s: cannot write: %s", mark, strerror(errno));
        tm_outdir_abort(d);
        return s;
    }
    return TM_OK;
}

void tm_outdir_abort(tm_outdir *d)
{
    if (d->stage[0])
        rm_tree(d->stage);
    d->stage[0] = '\0';
}

tm_status tm_outdir_commit(tm_outdir *d)
{
    /* The user's files in DIR, as hard links, so the swap keeps them. */
    tm_status s = link_missing(d->dir, d->stage);
    if (s == TM_OK) {
        fsync_path(d->stage);
        if (tm_fault_rename())
            s = tm_error(TM_ERR_IO, "%s: cannot swap in %s: %s (injected)", d->dir, d->stage,
                         strerror(EIO));
        else if (renameat2(AT_FDCWD, d->stage, AT_FDCWD, d->dir, RENAME_EXCHANGE) != 0)
            s = tm_error(TM_ERR_IO, "%s: cannot swap in %s: %s", d->dir, d->stage,
                         strerror(errno));
    }
    if (s != TM_OK) {
        tm_outdir_abort(d);
        return s;
    }
    /* d->stage now holds the old folder: its subfolders move across, the rest goes. */
    char mark[sizeof d->dir + 16], parent[sizeof d->dir + 4];
    snprintf(mark, sizeof mark, "%s/%s", d->dir, STAGE_MARK);
    (void)remove(mark);
    move_missing(d->stage, d->dir);
    snprintf(parent, sizeof parent, "%s/..", d->dir);
    fsync_path(d->dir);
    fsync_path(parent);
    tm_outdir_abort(d);
    return TM_OK;
}

double tm_qrun_accuracy(const float *probs, const int *labels, int n, int k)
{
    int right = 0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * k;
        int best = 0;
        for (int c = 1; c < k; c++)
            if (p[c] > p[best])
                best = c;
        right += best == labels[i];
    }
    return n ? (double)right / n : 0.0;
}

static void data_view(const tm_model *m, const tm_dataset *d, const int *map, tm_qat_data *v)
{
    memset(v, 0, sizeof *v);
    v->n = d->n;
    v->label = d->label;
    for (int b = 0; b < m->spec.n_branches; b++)
        v->x[b] = d->x[map[b]];
}

static tm_status read_standardisation(const char *path, const tm_model *m, float *mean,
                                      float *std)
{
    tm_ckpt_reader *r = NULL;
    TM_TRY(tm_ckpt_open(&r, path));
    tm_status s = TM_OK;
    for (int b = 0; b < m->spec.n_branches && s == TM_OK; b++) {
        char name[160];
        int one = 1;
        snprintf(name, sizeof name, "input/%s/mean", m->spec.branches[b].name);
        mean[b] = 0.0f;
        std[b] = 0.0f;
        if (!tm_ckpt_has_array(r, name))
            continue; /* a run without standardisation */
        s = tm_ckpt_get_array(r, name, &mean[b], 1, &one);
        snprintf(name, sizeof name, "input/%s/std", m->spec.branches[b].name);
        if (s == TM_OK)
            s = tm_ckpt_get_array(r, name, &std[b], 1, &one);
    }
    tm_ckpt_close(r);
    return s;
}

tm_status tm_qrun_open(tm_qrun *r, const char *run_dir, const char *const *sets, int n_sets)
{
    char model_path[TM_PATH_LEN + 16];
    snprintf(model_path, sizeof model_path, "%s/model.h5", run_dir);
    return tm_qrun_open_file(r, model_path, sets, n_sets);
}

tm_status tm_qrun_open_file(tm_qrun *r, const char *model_path, const char *const *sets,
                            int n_sets)
{
    memset(r, 0, sizeof *r);
    char *text = NULL;
    TM_TRY(tm_read_experiment_text(model_path, &text));
    tm_status s = tm_experiment_parse(&r->e, text, model_path, sets, n_sets);
    free(text);
    TM_TRY(s);
    r->have_e = 1;
    tm_experiment *e = &r->e;
    TM_TRY(tm_load_splits(e, &r->data, stderr));
    r->have_data = 1;
    tm_experiment_set_classes(e, r->data.train.n_classes);
    tm_rng rng;
    tm_rng_seed(&rng, e->seed);
    TM_TRY(tm_model_build(&r->m, &e->model, &rng));
    TM_TRY(tm_model_load_weights(r->m, model_path));
    tm_model *m = r->m;
    TM_TRY(read_standardisation(model_path, m, r->mean, r->std));
    TM_TRY(tm_match_branches(e, &m->spec, &r->data.test, r->map));
    TM_TRY(tm_pool_new(&r->pool, e->threads));
    int k = m->spec.n_classes;
    int most = r->data.val.n > r->data.test.n ? r->data.val.n : r->data.test.n;
    if (!(r->probs = malloc(sizeof(float) * (size_t)(most ? most : 1) * k)))
        return tm_error(TM_ERR_NOMEM, "quantisation: out of memory");
    data_view(m, &r->data.train, r->map, &r->train);
    data_view(m, &r->data.val, r->map, &r->val);
    data_view(m, &r->data.test, r->map, &r->test);
    for (int c = 0; c < k && c < 256; c++)
        r->class_names[c] = r->data.test.class_names[c];
    r->lo.class_names = r->class_names;
    for (int b = 0; b < m->spec.n_branches; b++) {
        r->lo.input[b].mean = r->mean[b];
        r->lo.input[b].std = r->std[b];
    }
    return tm_qat_new(&r->q, m, NULL);
}

void tm_qrun_close(tm_qrun *r)
{
    if (r->have_sim)
        tm_qsim_close(&r->sim);
    free(r->bytes);
    free(r->probs);
    tm_dataset_free(&r->aug);
    if (r->have_tape)
        tm_tape_free(&r->tape);
    tm_optim_free(r->opt);
    tm_pool_free(r->pool);
    tm_qat_free(r->q);
    tm_model_free(r->m);
    if (r->have_data)
        tm_splits_free(&r->data);
    if (r->have_e)
        tm_experiment_free(&r->e);
    memset(r, 0, sizeof *r);
}

tm_status tm_qrun_float_accuracy(tm_qrun *r, double *acc)
{
    TM_TRY(tm_predict(r->m, r->pool, &r->data.test, r->map, r->probs, NULL));
    *acc = tm_qrun_accuracy(r->probs, r->test.label, r->test.n, r->m->spec.n_classes);
    return TM_OK;
}

tm_status tm_qrun_calibrate(tm_qrun *r, int calib_batches)
{
    tm_rng cal;
    tm_rng_seed(&cal, r->e.seed * 7919ull + 17);
    return tm_qat_calibrate(r->q, r->pool, &r->train, r->e.train.batch_size, calib_batches, &cal);
}

tm_status tm_qrun_simulate(tm_qrun *r, const tm_qat_data *d, double *acc, tm_metrics *met)
{
    if (r->have_sim) {
        tm_qsim_close(&r->sim);
        r->have_sim = 0;
    }
    free(r->bytes);
    r->bytes = NULL;
    r->size = 0;
    TM_TRY(tm_lower(r->q, &r->lo, &r->bytes, &r->size));
    TM_TRY(tm_qsim_open(&r->sim, r->m, r->bytes, r->size));
    r->have_sim = 1;
    int k = r->m->spec.n_classes;
    TM_TRY(tm_qsim_predict(&r->sim, d, r->probs, NULL));
    *acc = tm_qrun_accuracy(r->probs, d->label, d->n, k);
    if (met)
        TM_TRY(tm_metrics_compute(met, d->label, r->probs, d->n, k));
    return TM_OK;
}

static tm_status new_optimizer(tm_qrun *r)
{
    tm_model *m = r->m;
    tm_optim_config oc = r->e.train.optim;
    if (oc.kind == TM_OPT_SGD)
        tm_optim_config_default(&oc, TM_OPT_ADAM);
    tm_tensor **params = malloc(sizeof *params * (size_t)m->n_params);
    int *decay = malloc(sizeof *decay * (size_t)m->n_params);
    if (!params || !decay) {
        free(params);
        free(decay);
        return tm_error(TM_ERR_NOMEM, "quantisation: out of memory");
    }
    for (int i = 0; i < m->n_params; i++) {
        params[i] = m->params[i].t;
        decay[i] = m->params[i].decay;
    }
    tm_optim_free(r->opt);
    r->opt = NULL;
    tm_status s = tm_optim_new(&r->opt, &oc, params, decay, m->n_params);
    free(params);
    free(decay);
    return s;
}

tm_status tm_qrun_finetune(tm_qrun *r, int epochs, FILE *progress)
{
    if (epochs <= 0)
        return TM_OK;
    tm_experiment *e = &r->e;
    int k = r->m->spec.n_classes;
    TM_TRY(new_optimizer(r));
    if (r->have_tape)
        tm_tape_free(&r->tape);
    tm_tape_init(&r->tape, r->pool, 0);
    r->have_tape = 1;
    tm_rng_seed(&r->tape.rng, e->seed * 31ull + 5);
    float lr = e->train.schedule.base_lr / 10.0f;
    /* The training run's class weighting, so QAT optimises the same loss. */
    float cwbuf[256], *cw = NULL;
    if (e->train.class_weight_mode == TM_CW_LIST && e->train.n_class_weights == k)
        cw = e->train.class_weights;
    if (e->train.class_weight_mode == TM_CW_BALANCED && k <= 256) {
        long count[256] = {0};
        for (int i = 0; i < r->train.n; i++)
            count[r->train.label[i]]++;
        for (int c = 0; c < k; c++)
            cwbuf[c] = count[c] ? (float)((double)r->train.n / ((double)k * count[c])) : 0.0f;
        cw = cwbuf;
    }
    tm_rng shuf;
    tm_rng_seed(&shuf, e->seed * 104729ull + 3);
    tm_qat_data tr = r->train;
    if (r->data.augment) {
        if (r->aug.n == 0) {
            int *all = malloc(sizeof(int) * (size_t)r->data.train.n);
            if (!all)
                return tm_error(TM_ERR_NOMEM, "quantisation: out of memory");
            for (int i = 0; i < r->data.train.n; i++)
                all[i] = i;
            tm_status s = tm_dataset_subset(&r->data.train, all, r->data.train.n, &r->aug);
            free(all);
            TM_TRY(s);
        }
        data_view(r->m, &r->aug, r->map, &tr);
    }
    for (int ep = 0; ep < epochs; ep++) {
        if (r->data.augment) {
            tm_rng ar;
            tm_rng_seed(&ar, e->seed * 1000003ull + 7777ull + (uint64_t)ep);
            TM_TRY(tm_splits_augment(&r->data, &ar, r->pool, &r->aug));
        }
        double loss = 0, acc = 0;
        TM_TRY(tm_qat_train_epoch(r->q, &r->tape, r->opt, &tr, e->train.batch_size, lr, cw, &shuf,
                                  &loss, &acc));
        double va = 0;
        if (r->val.n > 0) {
            TM_TRY(tm_qat_predict(r->q, r->pool, &r->val, r->probs));
            va = tm_qrun_accuracy(r->probs, r->val.label, r->val.n, k);
        }
        if (progress)
            fprintf(progress, "QAT epoch %d/%d: train loss %.4f acc %.4f | val acc %.4f (fake "
                              "quant)\n",
                    ep + 1, epochs, loss, acc, va);
    }
    return TM_OK;
}

/* ---- qmodel.h5 --------------------------------------------------------- */

static tm_status put_array(void *ctx, const char *name, const float *data, int n)
{
    return tm_ckpt_put_array(ctx, name, data, 1, &n);
}

static tm_status put_params(tm_ckpt_writer *w, const tm_param *ps, int n)
{
    for (int i = 0; i < n; i++) {
        char name[256];
        snprintf(name, sizeof name, "model/%s/%s", ps[i].layer, ps[i].what);
        TM_TRY(tm_ckpt_put_array(w, name, ps[i].t->data, ps[i].t->ndim, ps[i].t->shape));
    }
    return TM_OK;
}

/* The layout of model.h5 (tm_model_save) plus the quantisation state, so
 * tm_model_load_weights and tm_qat_restore read it back. */
tm_status tm_qrun_write_qmodel(const tm_qrun *r, const char *path, const char *preset)
{
    tm_ckpt_writer *w = NULL;
    TM_TRY(tm_ckpt_create(&w, path));
    const tm_model *m = r->m;
    tm_status s = TM_OK;
    for (int b = 0; b < m->spec.n_branches && s == TM_OK; b++) {
        char name[160];
        int one = 1;
        snprintf(name, sizeof name, "input/%s/mean", m->spec.branches[b].name);
        s = tm_ckpt_put_array(w, name, &r->mean[b], 1, &one);
        snprintf(name, sizeof name, "input/%s/std", m->spec.branches[b].name);
        if (s == TM_OK)
            s = tm_ckpt_put_array(w, name, &r->std[b], 1, &one);
    }
    if (s == TM_OK)
        s = put_params(w, m->params, m->n_params);
    if (s == TM_OK)
        s = put_params(w, m->buffers, m->n_buffers);
    if (s == TM_OK)
        s = tm_qat_store(r->q, put_array, w);
    if (s == TM_OK)
        s = tm_ckpt_put_attr_string(w, "experiment", r->e.text);
    if (s == TM_OK)
        s = tm_ckpt_put_attr_string(w, "quant_preset", preset ? preset : "");
    if (s == TM_OK)
        s = tm_ckpt_put_attr_int(w, "format_version", 1);
    if (s != TM_OK) {
        tm_ckpt_abort(w);
        return s;
    }
    return tm_ckpt_commit(w);
}

tm_status tm_qrun_size_json(json_t *obj, const tm_qat *q, size_t model_file_bytes)
{
    tm_size_totals tot;
    TM_TRY(tm_size_rows(q, NULL, 0, &tot));
    tm_size_row *rows = malloc(sizeof *rows * (size_t)(tot.rows ? tot.rows : 1));
    if (!rows)
        return tm_error(TM_ERR_NOMEM, "metrics: out of memory");
    tm_status s = tm_size_rows(q, rows, tot.rows, &tot);
    if (s == TM_OK) {
        int bad = tm_json_set_int(obj, "weight_bytes", tot.packed_bytes);
        bad |= tm_json_set_int(obj, "float_weight_bytes", tot.float_bytes);
        bad |= tm_json_set_num(obj, "compression",
                               tot.packed_bytes ? (double)tot.float_bytes / (double)tot.packed_bytes
                                                : 0.0,
                               4);
        bad |= tm_json_set_int(obj, "model_file_bytes", (long long)model_file_bytes);
        bad |= tm_json_set_int(obj, "macs_per_sample", tot.macs);
        json_t *bits = json_object(), *layers = json_array();
        for (int i = 0; i < tot.rows; i++) {
            bad |= tm_json_set_int(bits, rows[i].name, rows[i].bits);
            json_t *l = json_object();
            bad |= tm_json_set_str(l, "name", rows[i].name);
            bad |= tm_json_set_str(l, "type", rows[i].kind);
            bad |= tm_json_set_int(l, "params", rows[i].params);
            bad |= tm_json_set_int(l, "bits", rows[i].bits);
            bad |= tm_json_set_int(l, "packed_bytes", rows[i].packed_bytes);
            bad |= tm_json_set_int(l, "macs", rows[i].macs);
            bad |= tm_json_push(layers, l);
        }
        bad |= tm_json_set(obj, "bits", bits);
        bad |= tm_json_set(obj, "layers", layers);
        if (bad)
            s = tm_error(TM_ERR_NOMEM, "metrics: out of memory");
    }
    free(rows);
    return s;
}
