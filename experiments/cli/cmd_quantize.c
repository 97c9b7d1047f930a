/* tinym2net quantize: calibration, optional QAT, lowering to the runtime's
 * model bytes and evaluation by integer simulation (docs/quantization.md). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tm_checkpoint.h"
#include "tm_cli.h"
#include "tm_data_load.h"
#include "tm_lower.h"
#include "tm_metrics.h"
#include "tm_qat.h"
#include "tm_train.h"

#define MAX_SETS 64

static void help(FILE *f)
{
    fprintf(f,
            "usage: tinym2net quantize RUN_DIR --out QDIR [options]\n\n"
            "Quantises a trained run (RUN_DIR/model.h5): calibrates activation ranges on\n"
            "training batches, optionally fine-tunes with quantisation-aware training,\n"
            "lowers the model to the integer runtime's format and evaluates it on the test\n"
            "split by running those bytes through the runtime. Writes QDIR/model.tm2n,\n"
            "QDIR/qmodel.h5 (tuned weights and ranges) and QDIR/metrics.json, and prints\n"
            "a size report.\n\n"
            "options:\n"
            "  --out DIR           output folder (required)\n"
            "  --preset NAME       paper: first layer of each branch and last of the head\n"
            "                      8-bit, the rest 4-bit; all8; all4 (default: each layer's\n"
            "                      `bits` key, 8 when absent)\n"
            "  --qat-epochs N      quantisation-aware fine-tuning epochs (default 3; 0 =\n"
            "                      post-training quantisation only)\n"
            "  --calib-batches N   training batches observed for calibration (default 100;\n"
            "                      0 = the whole training split)\n"
            "  --set SEC.KEY=VAL   override a key of the stored experiment (e.g. data paths)\n"
            "  --threads N         worker threads\n"
            "  --quiet             no progress output\n"
            "  --help              this text\n");
}

static int ensure_dir(const char *dir)
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
        return 0;
    tm_error(TM_ERR_IO, "%s: cannot create folder: %s", dir, strerror(errno));
    return -1;
}

static double accuracy(const float *probs, const int *labels, int n, int k)
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
static tm_status write_qmodel(const char *path, const tm_qat *q, const char *text,
                              const float *mean, const float *std, const char *preset)
{
    tm_ckpt_writer *w = NULL;
    TM_TRY(tm_ckpt_create(&w, path));
    const tm_model *m = q->m;
    tm_status s = TM_OK;
    for (int b = 0; b < m->spec.n_branches && s == TM_OK; b++) {
        char name[160];
        int one = 1;
        snprintf(name, sizeof name, "input/%s/mean", m->spec.branches[b].name);
        s = tm_ckpt_put_array(w, name, &mean[b], 1, &one);
        snprintf(name, sizeof name, "input/%s/std", m->spec.branches[b].name);
        if (s == TM_OK)
            s = tm_ckpt_put_array(w, name, &std[b], 1, &one);
    }
    if (s == TM_OK)
        s = put_params(w, m->params, m->n_params);
    if (s == TM_OK)
        s = put_params(w, m->buffers, m->n_buffers);
    if (s == TM_OK)
        s = tm_qat_store(q, put_array, w);
    if (s == TM_OK)
        s = tm_ckpt_put_attr_string(w, "experiment", text);
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

static tm_status write_file(const char *path, const void *data, size_t n)
{
    char tmp[TM_PATH_LEN + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return tm_error(TM_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    size_t put = fwrite(data, 1, n, f);
    if (fclose(f) != 0 || put != n) {
        remove(tmp);
        return tm_error(TM_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return tm_error(TM_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    }
    return TM_OK;
}

typedef struct {
    const char *preset;
    int qat_epochs, calib_batches;
    double float_acc, ptq_acc, fake_acc, sim_acc;
    size_t file_bytes;
} summary;

static tm_status write_metrics(const char *dir, const tm_experiment *e, const tm_qat *q,
                               const summary *sm, const tm_metrics *met, const tm_dataset *test)
{
    tm_size_totals tot;
    TM_TRY(tm_size_rows(q, NULL, 0, &tot));
    tm_size_row *rows = malloc(sizeof *rows * (size_t)(tot.rows ? tot.rows : 1));
    if (!rows)
        return tm_error(TM_ERR_NOMEM, "quantize: out of memory");
    tm_status s = tm_size_rows(q, rows, tot.rows, &tot);
    char path[TM_PATH_LEN + 16], tmp[TM_PATH_LEN + 24];
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = s == TM_OK ? fopen(tmp, "w") : NULL;
    if (s == TM_OK && !f)
        s = tm_error(TM_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    if (s == TM_OK) {
        fprintf(f, "{\n  \"experiment\": \"%s\",\n  \"variant\": \"quantized\",\n", e->name);
        fprintf(f, "  \"preset\": \"%s\",\n  \"qat_epochs\": %d,\n  \"calib_batches\": %d,\n",
                sm->preset ? sm->preset : "", sm->qat_epochs, sm->calib_batches);
        fprintf(f, "  \"float_test_accuracy\": %.6f,\n", sm->float_acc);
        fprintf(f, "  \"ptq_test_accuracy\": %.6f,\n", sm->ptq_acc);
        fprintf(f, "  \"fake_quant_test_accuracy\": %.6f,\n", sm->fake_acc);
        fprintf(f, "  \"weight_bytes\": %ld,\n  \"float_weight_bytes\": %ld,\n", tot.packed_bytes,
                tot.float_bytes);
        fprintf(f, "  \"compression\": %.4f,\n  \"model_file_bytes\": %zu,\n",
                tot.packed_bytes ? (double)tot.float_bytes / (double)tot.packed_bytes : 0.0,
                sm->file_bytes);
        fprintf(f, "  \"macs_per_sample\": %ld,\n  \"bits\": {", tot.macs);
        for (int i = 0; i < tot.rows; i++)
            fprintf(f, "%s\"%s\": %d", i ? ", " : "", rows[i].name, rows[i].bits);
        fprintf(f, "},\n  \"layers\": [\n");
        for (int i = 0; i < tot.rows; i++)
            fprintf(f,
                    "    {\"name\": \"%s\", \"type\": \"%s\", \"params\": %ld, \"bits\": %d, "
                    "\"packed_bytes\": %ld, \"macs\": %ld}%s\n",
                    rows[i].name, rows[i].kind, rows[i].params, rows[i].bits,
                    rows[i].packed_bytes, rows[i].macs, i + 1 < tot.rows ? "," : "");
        fprintf(f, "  ],\n");
        /* The integer simulation's metrics: test_accuracy, test_macro_f1, ... */
        s = tm_metrics_write_json(f, met, test->class_names, "test_", 2);
        fprintf(f, "\n}\n");
        if (fclose(f) != 0 && s == TM_OK)
            s = tm_error(TM_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        if (s == TM_OK && rename(tmp, path) != 0)
            s = tm_error(TM_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        if (s != TM_OK)
            remove(tmp);
    }
    free(rows);
    return s;
}

/* ---- the command ------------------------------------------------------- */

typedef struct {
    const char *run_dir, *out_dir, *preset;
    int qat_epochs, calib_batches, quiet;
    const char *sets[MAX_SETS + 1];
    int n_sets;
} options;

typedef struct {
    tm_experiment e;
    int have_e;
    tm_splits data;
    int have_data;
    tm_model *m;
    tm_qat *q;
    tm_pool *pool;
    tm_optimizer *opt;
    tm_tape tape;
    int have_tape;
    tm_dataset aug;
    float *probs;
    uint8_t *bytes;
    tm_qsim sim;
    int have_sim;
    tm_metrics met;
} state;

static void state_free(state *st)
{
    tm_metrics_free(&st->met);
    if (st->have_sim)
        tm_qsim_close(&st->sim);
    free(st->bytes);
    free(st->probs);
    tm_dataset_free(&st->aug);
    if (st->have_tape)
        tm_tape_free(&st->tape);
    tm_optim_free(st->opt);
    tm_pool_free(st->pool);
    tm_qat_free(st->q);
    tm_model_free(st->m);
    if (st->have_data)
        tm_splits_free(&st->data);
    if (st->have_e)
        tm_experiment_free(&st->e);
}

/* Lowers q and runs the test split through the runtime: accuracy and, when
 * met is given, full metrics. */
static tm_status lower_and_simulate(state *st, const tm_lower_options *lo, const tm_qat_data *test,
                                    size_t *file_bytes, double *acc, tm_metrics *met)
{
    if (st->have_sim) {
        tm_qsim_close(&st->sim);
        st->have_sim = 0;
    }
    free(st->bytes);
    st->bytes = NULL;
    size_t n = 0;
    TM_TRY(tm_lower(st->q, lo, &st->bytes, &n));
    TM_TRY(tm_qsim_open(&st->sim, st->m, st->bytes, n));
    st->have_sim = 1;
    int k = st->m->spec.n_classes;
    TM_TRY(tm_qsim_predict(&st->sim, test, st->probs, NULL));
    *acc = accuracy(st->probs, test->label, test->n, k);
    if (file_bytes)
        *file_bytes = n;
    if (met)
        TM_TRY(tm_metrics_compute(met, test->label, st->probs, test->n, k));
    return TM_OK;
}

static tm_status run(const options *o, state *st)
{
    FILE *out = o->quiet ? NULL : stderr;
    char model_path[TM_PATH_LEN + 16];
    snprintf(model_path, sizeof model_path, "%s/model.h5", o->run_dir);
    char *text = NULL;
    TM_TRY(tm_read_experiment_text(model_path, &text));
    tm_status s = tm_experiment_parse(&st->e, text, model_path, o->sets, o->n_sets);
    free(text);
    TM_TRY(s);
    st->have_e = 1;
    tm_experiment *e = &st->e;
    TM_TRY(tm_load_splits(e, &st->data));
    st->have_data = 1;
    tm_experiment_set_classes(e, st->data.train.n_classes);
    tm_rng r;
    tm_rng_seed(&r, e->seed);
    TM_TRY(tm_model_build(&st->m, &e->model, &r));
    TM_TRY(tm_model_load_weights(st->m, model_path));
    tm_model *m = st->m;
    float mean[TM_MAX_BRANCHES], std[TM_MAX_BRANCHES];
    TM_TRY(read_standardisation(model_path, m, mean, std));
    int map[TM_MAX_BRANCHES];
    TM_TRY(tm_match_branches(e, &m->spec, &st->data.test, map));
    TM_TRY(tm_pool_new(&st->pool, e->threads));
    int k = m->spec.n_classes;
    const tm_dataset *test_d = &st->data.test;
    int most = st->data.val.n > test_d->n ? st->data.val.n : test_d->n;
    if (!(st->probs = malloc(sizeof(float) * (size_t)(most ? most : 1) * k)))
        return tm_error(TM_ERR_NOMEM, "quantize: out of memory");
    tm_qat_data train, val, test;
    data_view(m, &st->data.train, map, &train);
    data_view(m, &st->data.val, map, &val);
    data_view(m, test_d, map, &test);

    summary sm;
    memset(&sm, 0, sizeof sm);
    sm.preset = o->preset;
    sm.qat_epochs = o->qat_epochs;
    sm.calib_batches = o->calib_batches;
    TM_TRY(tm_predict(m, st->pool, test_d, map, st->probs, NULL));
    sm.float_acc = accuracy(st->probs, test.label, test.n, k);

    TM_TRY(tm_qat_new(&st->q, m, NULL));
    if (o->preset)
        TM_TRY(tm_qat_preset(st->q, o->preset));
    tm_rng cal;
    tm_rng_seed(&cal, e->seed * 7919ull + 17);
    TM_TRY(tm_qat_calibrate(st->q, st->pool, &train, e->train.batch_size, o->calib_batches, &cal));

    tm_lower_options lo;
    memset(&lo, 0, sizeof lo);
    const char *names[256];
    for (int c = 0; c < k && c < 256; c++)
        names[c] = test_d->class_names[c];
    lo.class_names = names;
    for (int b = 0; b < m->spec.n_branches; b++) {
        lo.mean[b] = mean[b];
        lo.std[b] = std[b];
    }
    TM_TRY(lower_and_simulate(st, &lo, &test, NULL, &sm.ptq_acc, NULL));
    if (out)
        fprintf(out, "float test accuracy %.4f; after calibration (%s) integer %.4f\n",
                sm.float_acc, o->preset ? o->preset : "layer bits", sm.ptq_acc);

    if (o->qat_epochs > 0) {
        tm_optim_config oc = e->train.optim;
        if (oc.kind == TM_OPT_SGD)
            tm_optim_config_default(&oc, TM_OPT_ADAM);
        tm_tensor **params = malloc(sizeof *params * (size_t)m->n_params);
        int *decay = malloc(sizeof *decay * (size_t)m->n_params);
        if (!params || !decay) {
            free(params);
            free(decay);
            return tm_error(TM_ERR_NOMEM, "quantize: out of memory");
        }
        for (int i = 0; i < m->n_params; i++) {
            params[i] = m->params[i].t;
            decay[i] = m->params[i].decay;
        }
        s = tm_optim_new(&st->opt, &oc, params, decay, m->n_params);
        free(params);
        free(decay);
        TM_TRY(s);
        tm_tape_init(&st->tape, st->pool, 0);
        st->have_tape = 1;
        tm_rng_seed(&st->tape.rng, e->seed * 31ull + 5);
        float lr = e->train.schedule.base_lr / 10.0f;
        /* The training run's class weighting, so QAT optimises the same loss. */
        float cwbuf[256], *cw = NULL;
        if (e->train.class_weight_mode == TM_CW_LIST && e->train.n_class_weights == k)
            cw = e->train.class_weights;
        if (e->train.class_weight_mode == TM_CW_BALANCED && k <= 256) {
            long count[256] = {0};
            for (int i = 0; i < train.n; i++)
                count[train.label[i]]++;
            for (int c = 0; c < k; c++)
                cwbuf[c] = count[c] ? (float)((double)train.n / ((double)k * count[c])) : 0.0f;
            cw = cwbuf;
        }
        tm_rng shuf;
        tm_rng_seed(&shuf, e->seed * 104729ull + 3);
        tm_qat_data tr = train;
        if (st->data.augment) {
            int *all = malloc(sizeof(int) * (size_t)st->data.train.n);
            if (!all)
                return tm_error(TM_ERR_NOMEM, "quantize: out of memory");
            for (int i = 0; i < st->data.train.n; i++)
                all[i] = i;
            s = tm_dataset_subset(&st->data.train, all, st->data.train.n, &st->aug);
            free(all);
            TM_TRY(s);
            data_view(m, &st->aug, map, &tr);
        }
        for (int ep = 0; ep < o->qat_epochs; ep++) {
            if (st->data.augment) {
                tm_rng ar;
                tm_rng_seed(&ar, e->seed * 1000003ull + 7777ull + (uint64_t)ep);
                TM_TRY(tm_splits_augment(&st->data, &ar, st->pool, &st->aug));
            }
            double loss = 0, acc = 0;
            TM_TRY(tm_qat_train_epoch(st->q, &st->tape, st->opt, &tr, e->train.batch_size, lr, cw,
                                      &shuf, &loss, &acc));
            double va = 0;
            if (val.n > 0) {
                TM_TRY(tm_qat_predict(st->q, st->pool, &val, st->probs));
                va = accuracy(st->probs, val.label, val.n, k);
            }
            if (out)
                fprintf(out, "QAT epoch %d/%d: train loss %.4f acc %.4f | val acc %.4f (fake "
                             "quant)\n",
                        ep + 1, o->qat_epochs, loss, acc, va);
        }
    }
    TM_TRY(tm_qat_predict(st->q, st->pool, &test, st->probs));
    sm.fake_acc = accuracy(st->probs, test.label, test.n, k);
    TM_TRY(lower_and_simulate(st, &lo, &test, &sm.file_bytes, &sm.sim_acc, &st->met));
    if (out)
        fprintf(out, "test accuracy: float %.4f, fake quant %.4f, integer (runtime) %.4f\n",
                sm.float_acc, sm.fake_acc, sm.sim_acc);

    if (ensure_dir(o->out_dir) != 0)
        return TM_ERR_IO;
    char path[TM_PATH_LEN + 16];
    snprintf(path, sizeof path, "%s/model.tm2n", o->out_dir);
    TM_TRY(write_file(path, st->bytes, sm.file_bytes));
    snprintf(path, sizeof path, "%s/qmodel.h5", o->out_dir);
    TM_TRY(write_qmodel(path, st->q, e->text, mean, std, o->preset));
    TM_TRY(write_metrics(o->out_dir, e, st->q, &sm, &st->met, test_d));
    printf("quantized %s (%s):\n", e->name, o->preset ? o->preset : "layer bits");
    TM_TRY(tm_size_report(st->q, stdout));
    printf("  model file %zu bytes\n", sm.file_bytes);
    printf("test accuracy: float %.4f, integer %.4f (%+.2f points)\n", sm.float_acc, sm.sim_acc,
           100.0 * (sm.sim_acc - sm.float_acc));
    printf("wrote %s/model.tm2n, qmodel.h5, metrics.json\n", o->out_dir);
    return TM_OK;
}

static int parse_count(const char *opt, const char *v, int *out)
{
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (!v[0] || *end || n < 0 || n > 100000) {
        fprintf(stderr, "tinym2net quantize: %s needs a count >= 0, got '%s'\n", opt, v);
        return -1;
    }
    *out = (int)n;
    return 0;
}

int tm_cmd_quantize(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    o.qat_epochs = 3;
    o.calib_batches = 100;
    char threads_set[64];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help(stdout);
            return 0;
        } else if (!strcmp(a, "--out") || !strcmp(a, "-o")) {
            if (!(o.out_dir = tm_cli_value(argc, argv, &i)))
                return 2;
        } else if (!strcmp(a, "--preset")) {
            if (!(o.preset = tm_cli_value(argc, argv, &i)))
                return 2;
            if (strcmp(o.preset, "paper") && strcmp(o.preset, "all8") &&
                strcmp(o.preset, "all4")) {
                fprintf(stderr, "tinym2net quantize: --preset must be paper, all8 or all4\n");
                return 2;
            }
        } else if (!strcmp(a, "--qat-epochs")) {
            if (!(v = tm_cli_value(argc, argv, &i)) || parse_count(a, v, &o.qat_epochs))
                return 2;
        } else if (!strcmp(a, "--calib-batches")) {
            if (!(v = tm_cli_value(argc, argv, &i)) || parse_count(a, v, &o.calib_batches))
                return 2;
        } else if (!strcmp(a, "--set")) {
            if (!(v = tm_cli_value(argc, argv, &i)))
                return 2;
            if (o.n_sets == MAX_SETS) {
                fprintf(stderr, "tinym2net quantize: too many --set options\n");
                return 2;
            }
            o.sets[o.n_sets++] = v;
        } else if (!strcmp(a, "--threads")) {
            if (!(v = tm_cli_value(argc, argv, &i)) || o.n_sets == MAX_SETS)
                return 2;
            snprintf(threads_set, sizeof threads_set, "experiment.threads=%s", v);
            o.sets[o.n_sets++] = threads_set;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o.quiet = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "tinym2net quantize: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!o.run_dir) {
            o.run_dir = a;
        } else {
            fprintf(stderr, "tinym2net quantize: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!o.run_dir || !o.out_dir) {
        if (!o.run_dir)
            help(stderr);
        else
            fprintf(stderr, "tinym2net quantize: --out QDIR is required\n");
        return 2;
    }
    state st;
    memset(&st, 0, sizeof st);
    tm_status s = run(&o, &st);
    state_free(&st);
    return s == TM_OK ? 0 : tm_cli_fail("quantize");
}
