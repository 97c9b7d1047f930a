#include "tm_qrun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_run_folder.h"
#include "tm_train.h"

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
    TM_TRY(tm_run_read_experiment(&r->e, model_path, sets, n_sets));
    r->have_e = 1;
    tm_experiment *e = &r->e;
    TM_TRY(tm_load_splits(e, &r->data, stderr));
    r->have_data = 1;
    tm_experiment_set_classes(e, r->data.train.n_classes);
    TM_TRY(tm_run_load_model(model_path, e, &r->m, r->mean, r->std, NULL));
    tm_model *m = r->m;
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

tm_status tm_qrun_save(const tm_qrun *r, const char *dir, const char *preset)
{
    return tm_run_save_quantised(dir, r->bytes, r->size, r->m, r->q, r->e.text, r->mean, r->std,
                                 preset);
}
