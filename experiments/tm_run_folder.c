#include "tm_run_folder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_export.h"
#include "tm_fs.h"
#include "tm_json.h"

#define TM_MODEL_FORMAT 1

/* ---- the HDF5 layout --------------------------------------------------- */

tm_status tm_run_put_params(tm_ckpt_writer *w, const char *prefix, const tm_param *ps, int n,
                            float *const *alt)
{
    for (int i = 0; i < n; i++) {
        char name[256];
        snprintf(name, sizeof name, "%s/%s/%s", prefix, ps[i].layer, ps[i].what);
        const float *data = alt ? alt[i] : ps[i].t->data;
        TM_TRY(tm_ckpt_put_array(w, name, data, ps[i].t->ndim, ps[i].t->shape));
    }
    return TM_OK;
}

tm_status tm_run_get_params(tm_ckpt_reader *r, const char *prefix, const tm_param *ps, int n,
                            float *const *alt)
{
    for (int i = 0; i < n; i++) {
        char name[256];
        snprintf(name, sizeof name, "%s/%s/%s", prefix, ps[i].layer, ps[i].what);
        float *data = alt ? alt[i] : ps[i].t->data;
        TM_TRY(tm_ckpt_get_array(r, name, data, ps[i].t->ndim, ps[i].t->shape));
    }
    return TM_OK;
}

static void std_names(const tm_model *m, int b, char *mean, char *std, size_t cap)
{
    snprintf(mean, cap, "input/%s/mean", m->spec.branches[b].name);
    snprintf(std, cap, "input/%s/std", m->spec.branches[b].name);
}

static tm_status put_array(void *ctx, const char *name, const float *data, int n)
{
    return tm_ckpt_put_array(ctx, name, data, 1, &n);
}

static tm_status get_array(void *ctx, const char *name, float *data, int n)
{
    return tm_ckpt_get_array(ctx, name, data, 1, &n);
}

tm_status tm_run_put_model(tm_ckpt_writer *w, const tm_model *m, const char *text,
                           const float *mean, const float *std, const tm_qat *q,
                           const char *preset)
{
    for (int b = 0; mean && std && b < m->spec.n_branches; b++) {
        char mn[160], sn[160];
        int one = 1;
        std_names(m, b, mn, sn, sizeof mn);
        TM_TRY(tm_ckpt_put_array(w, mn, &mean[b], 1, &one));
        TM_TRY(tm_ckpt_put_array(w, sn, &std[b], 1, &one));
    }
    TM_TRY(tm_run_put_params(w, "model", m->params, m->n_params, NULL));
    TM_TRY(tm_run_put_params(w, "model", m->buffers, m->n_buffers, NULL));
    if (q)
        TM_TRY(tm_qat_store(q, put_array, w));
    TM_TRY(tm_ckpt_put_attr_string(w, "experiment", text));
    if (q)
        TM_TRY(tm_ckpt_put_attr_string(w, "quant_preset", preset ? preset : ""));
    return tm_ckpt_put_attr_int(w, "format_version", TM_MODEL_FORMAT);
}

/* ---- saving ------------------------------------------------------------ */

static tm_status save(const char *path, const tm_model *m, const tm_qat *q, const char *text,
                      const float *mean, const float *std, const char *preset)
{
    tm_ckpt_writer *w = NULL;
    TM_TRY(tm_ckpt_create(&w, path));
    tm_status s = tm_run_put_model(w, m, text, mean, std, q, preset);
    if (s != TM_OK) {
        tm_ckpt_abort(w);
        return s;
    }
    return tm_ckpt_commit(w);
}

tm_status tm_model_save(const tm_model *m, const char *experiment_text, const float *mean,
                        const float *std, const char *path)
{
    return save(path, m, NULL, experiment_text, mean, std, NULL);
}

tm_status tm_run_save_quantised(const char *dir, const uint8_t *tm2n, size_t n,
                                const tm_model *m, const tm_qat *q,
                                const char *experiment_text, const float *mean,
                                const float *std, const char *preset)
{
    if (!q)
        return tm_error(TM_ERR_ARG, "%s: a quantised run without quantisation state", dir);
    char path[TM_FS_PATH_LEN + 16];
    if (snprintf(path, sizeof path, "%s/model.tm2n", dir) >= (int)sizeof path)
        return tm_error(TM_ERR_ARG, "%s: path too long", dir);
    TM_TRY(tm_atomic_write(path, tm2n, n));
    snprintf(path, sizeof path, "%s/qmodel.h5", dir);
    return save(path, m, q, experiment_text, mean, std, preset);
}

/* Moves obj's members into doc, in obj's order. */
static int merge(json_t *doc, json_t *obj)
{
    if (!obj)
        return 0;
    int bad = !doc || json_object_update(doc, obj) != 0;
    json_decref(obj);
    return bad ? -1 : 0;
}

tm_status tm_run_write_metrics(const char *dir, const tm_run_metrics *mt, int bad)
{
    char path[TM_FS_PATH_LEN + 16];
    if (snprintf(path, sizeof path, "%s/metrics.json", dir) >= (int)sizeof path) {
        json_decref(mt->head);
        json_decref(mt->mid);
        json_decref(mt->tail);
        return tm_error(TM_ERR_ARG, "%s: path too long", dir);
    }
    json_t *d = tm_json_doc(mt->experiment, mt->variant);
    bad |= !d;
    bad |= merge(d, mt->head);
    bad |= tm_json_add_skipped(d, mt->data);
    bad |= merge(d, mt->mid);
    tm_status s = d && mt->q ? tm_run_size_json(d, mt->q, mt->model_file_bytes) : TM_OK;
    bad |= tm_json_add_metrics(d, mt->test, mt->data->test.class_names, "test_");
    bad |= merge(d, mt->tail);
    if (s != TM_OK) {
        json_decref(d);
        return s;
    }
    return tm_json_commit(d, bad, path);
}

tm_status tm_run_size_json(json_t *obj, const tm_qat *q, size_t model_file_bytes)
{
    tm_size_totals tot;
    tm_size_row *rows = NULL;
    tm_status s = tm_size_rows_alloc(q, &rows, &tot);
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

/* ---- opening ----------------------------------------------------------- */

tm_status tm_read_experiment_text(const char *path, char **text)
{
    tm_ckpt_reader *r = NULL;
    TM_TRY(tm_ckpt_open(&r, path));
    tm_status s = tm_ckpt_get_attr_string(r, "experiment", text);
    tm_ckpt_close(r);
    return s;
}

tm_status tm_run_read_experiment(tm_experiment *e, const char *path, const char *const *sets,
                                 int n_sets)
{
    char *text = NULL;
    TM_TRY(tm_read_experiment_text(path, &text));
    tm_status s = tm_experiment_parse(e, text, path, sets, n_sets);
    free(text);
    return s;
}

static tm_status get_weights(tm_ckpt_reader *r, tm_model *m)
{
    TM_TRY(tm_run_get_params(r, "model", m->params, m->n_params, NULL));
    return tm_run_get_params(r, "model", m->buffers, m->n_buffers, NULL);
}

static tm_status get_standardisation(tm_ckpt_reader *r, const tm_model *m, float *mean,
                                     float *std)
{
    for (int b = 0; b < m->spec.n_branches; b++) {
        char mn[160], sn[160];
        int one = 1;
        std_names(m, b, mn, sn, sizeof mn);
        mean[b] = 0.0f;
        std[b] = 0.0f;
        if (!tm_ckpt_has_array(r, mn))
            continue; /* a run without standardisation */
        TM_TRY(tm_ckpt_get_array(r, mn, &mean[b], 1, &one));
        TM_TRY(tm_ckpt_get_array(r, sn, &std[b], 1, &one));
    }
    return TM_OK;
}

tm_status tm_model_load_weights(tm_model *m, const char *path)
{
    tm_ckpt_reader *r = NULL;
    TM_TRY(tm_ckpt_open(&r, path));
    tm_status s = get_weights(r, m);
    tm_ckpt_close(r);
    return s;
}

tm_status tm_run_read_standardisation(const char *path, const tm_model *m, float *mean,
                                      float *std)
{
    tm_ckpt_reader *r = NULL;
    TM_TRY(tm_ckpt_open(&r, path));
    tm_status s = get_standardisation(r, m, mean, std);
    tm_ckpt_close(r);
    return s;
}

tm_status tm_run_load_model(const char *path, const tm_experiment *e, tm_model **m,
                            float *mean, float *std, tm_qat **q)
{
    /* the seed does not matter: every initialised tensor is read back */
    tm_rng rng;
    tm_rng_seed(&rng, e->seed);
    TM_TRY(tm_model_build(m, &e->model, &rng));
    tm_ckpt_reader *r = NULL;
    TM_TRY(tm_ckpt_open(&r, path));
    tm_status s = get_weights(r, *m);
    if (s == TM_OK)
        s = get_standardisation(r, *m, mean, std);
    if (s == TM_OK && q && (s = tm_qat_new(q, *m, NULL)) == TM_OK)
        s = tm_qat_restore(*q, get_array, r);
    tm_ckpt_close(r);
    return s;
}

tm_status tm_run_raw_inputs(const tm_experiment *e, const tm_model *m, tm_rt_input_desc *raw,
                            const tm_rt_input_desc **rawp, int *n_raw)
{
    *n_raw = 0;
    for (int b = 0; b < m->spec.n_branches; b++) {
        const tm_feature_spec *f = &e->features[b];
        rawp[b] = NULL;
        if (tm_feature_is_audio(f))
            tm_export_audio_input(&f->fe, &raw[b]);
        else if (f->kind == TM_FEATURE_IMAGE)
            tm_export_image_input(&raw[b]);
        else
            continue; /* synthetic data: the input stays a features input */
        /* The host runner reads the file column and the fit rule from the model. */
        if (strlen(f->column) >= TM_RT_NAME_LEN)
            return tm_error(TM_ERR_ARG, "export: input %s: column '%s' is longer than the model "
                                        "file's %d bytes",
                            f->name, f->column, TM_RT_NAME_LEN - 1);
        memcpy(raw[b].column, f->column, strlen(f->column) + 1);
        if (tm_feature_is_audio(f))
            raw[b].fit = f->fit == TM_AUDIO_FIT_CENTER ? TM_RT_FIT_CENTER : TM_RT_FIT_START;
        rawp[b] = &raw[b];
        (*n_raw)++;
    }
    return TM_OK;
}

tm_status tm_qrun_folder_open(tm_qrun_folder *f, const char *qdir)
{
    memset(f, 0, sizeof *f);
    char path[TM_PATH_LEN + 32], qpath[TM_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/model.tm2n", qdir);
    snprintf(qpath, sizeof qpath, "%s/qmodel.h5", qdir);
    TM_TRY(tm_read_file_aligned(path, &f->tm2n, &f->tm2n_size));
    if (tm_rt_model_open(&f->rt, f->tm2n, f->tm2n_size) != TM_RT_OK)
        return tm_error(TM_ERR_FORMAT, "%s: not a valid model: %s", path,
                        tm_rt_model_error(&f->rt));
    TM_TRY(tm_run_read_experiment(&f->e, qpath, NULL, 0));
    f->have_e = 1;
    tm_experiment_set_classes(&f->e, (int)f->rt.n_classes);
    float mean[TM_MAX_BRANCHES] = {0}, std[TM_MAX_BRANCHES] = {0};
    TM_TRY(tm_run_load_model(qpath, &f->e, &f->m, mean, std, &f->q));
    for (int b = 0; b < TM_MAX_BRANCHES; b++) {
        f->lo.input[b].mean = mean[b];
        f->lo.input[b].std = std[b];
    }
    for (uint32_t c = 0; c < f->rt.n_classes; c++) {
        memcpy(f->class_buf[c], f->rt.class_names[c], TM_RT_NAME_LEN);
        f->class_names[c] = f->class_buf[c];
    }
    f->lo.class_names = f->class_names;
    return TM_OK;
}

void tm_qrun_folder_close(tm_qrun_folder *f)
{
    tm_qat_free(f->q);
    tm_model_free(f->m);
    if (f->have_e)
        tm_experiment_free(&f->e);
    free(f->tm2n);
    memset(f, 0, sizeof *f);
}
