#include "tm_qat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tm_graph.h"
#include "tm_layer_desc.h"
#include "tm_qlayer.h"

void tm_qat_config_default(tm_qat_config *c)
{
    c->observer = TM_OBS_EMA;
    c->momentum = 0.01f;
    c->wscale8 = TM_WSCALE_MAX;
    c->wscale4 = TM_WSCALE_MSE;
    c->observe_in_training = 0;
}

const tm_layer *tm_qat_model_layer(const tm_qat *q, int c, int i)
{
    return tm_model_layer(q->m, c, i);
}

static tm_status plan_chain(tm_qat *q, int c)
{
    int owner = -1; /* weight layer that can still absorb a batch norm or activation */
    for (int i = 0; i < q->n[c]; i++) {
        const tm_layer *l = tm_qat_model_layer(q, c, i);
        const tm_layer_spec *s = &l->spec;
        tm_qat_layer *ql = &q->chain[c][i];
        ql->bn = -1;
        tm_observer_init(&ql->out, q->cfg.observer, q->cfg.momentum);
        tm_observer_init(&ql->mid, q->cfg.observer, q->cfg.momentum);
        tm_qplan plan = tm_qlayer_desc_of(s->kind)->plan;
        if (plan == TM_QPLAN_WEIGHT) {
            int bits = s->bits ? s->bits : 8;
            if (bits != 8 && bits != 4)
                return tm_error(TM_ERR_CONFIG, "%s (line %d): bits = %d, quantisation supports 8 "
                                               "or 4",
                                s->name, s->line, s->bits);
            ql->weight = 1;
            ql->observed = 1;
            ql->bits = bits;
            ql->bn = l->gamma ? i : -1;
            ql->act = s->activation;
            owner = i;
            continue;
        }
        switch (plan) {
        case TM_QPLAN_FOLD_BN:
            if (owner < 0 || !q->chain[c][owner].weight || q->chain[c][owner].bn >= 0 ||
                q->chain[c][owner].act != TM_ACT_NONE)
                return tm_error(TM_ERR_CONFIG,
                                "%s (line %d): a batchnorm layer can only be quantised right "
                                "after a conv, depthwise, separable or dense layer without batch "
                                "norm or activation (set batch_norm = 1 on that layer instead)",
                                s->name, s->line);
            q->chain[c][owner].bn = i;
            ql->merged = 1;
            break;
        case TM_QPLAN_FOLD_ACT:
            if (owner < 0 || q->chain[c][owner].act != TM_ACT_NONE)
                return tm_error(TM_ERR_CONFIG,
                                "%s (line %d): a %s layer can only be quantised right after a "
                                "conv, depthwise, separable, dense or add layer without activation "
                                "(set activation on that layer instead)",
                                s->name, s->line, tm_layer_kind_name(s->kind));
            q->chain[c][owner].act = s->kind == TM_LAYER_RELU ? TM_ACT_RELU : TM_ACT_RELU6;
            ql->merged = 1;
            owner = -1;
            break;
        case TM_QPLAN_OUTPUT: {
            int from = l->from, last = from;
            while (last >= 0 && last + 1 < i && q->chain[c][last + 1].merged)
                last++;
            if (last != from)
                return tm_error(TM_ERR_CONFIG,
                                "%s (line %d): from = %s, but %s is merged into it when "
                                "quantised, so the sum would differ from the float model's; "
                                "name %s in from",
                                s->name, s->line, s->from,
                                tm_qat_model_layer(q, c, from + 1)->spec.name,
                                tm_qat_model_layer(q, c, last)->spec.name);
            ql->observed = 1;
            ql->act = s->activation;
            owner = i;
            break;
        }
        default:
            owner = -1;
            break;
        }
    }
    return TM_OK;
}

tm_status tm_qat_new(tm_qat **out, tm_model *m, const tm_qat_config *cfg)
{
    *out = NULL;
    tm_qat *q = calloc(1, sizeof *q);
    if (!q)
        return tm_error(TM_ERR_NOMEM, "qat: out of memory");
    q->m = m;
    if (cfg)
        q->cfg = *cfg;
    else
        tm_qat_config_default(&q->cfg);
    q->observe = 1;
    tm_observer_init(&q->fusion, q->cfg.observer, q->cfg.momentum);
    tm_status s = TM_OK;
    for (int c = 0; c <= TM_QAT_HEAD && s == TM_OK; c++) {
        if (c < TM_QAT_HEAD && c >= m->spec.n_branches)
            continue;
        if (c < TM_QAT_HEAD)
            tm_observer_init(&q->input[c], q->cfg.observer, q->cfg.momentum);
        q->n[c] = tm_model_chain_len(m, c);
        q->chain[c] = calloc((size_t)(q->n[c] ? q->n[c] : 1), sizeof(tm_qat_layer));
        if (!q->chain[c])
            s = tm_error(TM_ERR_NOMEM, "qat: out of memory");
        else
            s = plan_chain(q, c);
    }
    if (s != TM_OK) {
        tm_qat_free(q);
        return s;
    }
    *out = q;
    return TM_OK;
}

void tm_qat_free(tm_qat *q)
{
    if (!q)
        return;
    for (int c = 0; c <= TM_QAT_HEAD; c++)
        free(q->chain[c]);
    free(q);
}

static int last_weight(const tm_qat *q, int c)
{
    for (int i = q->n[c] - 1; i >= 0; i--)
        if (q->chain[c][i].weight)
            return i;
    return -1;
}

static int first_weight(const tm_qat *q, int c)
{
    for (int i = 0; i < q->n[c]; i++)
        if (q->chain[c][i].weight)
            return i;
    return -1;
}

tm_status tm_qat_preset(tm_qat *q, const char *preset)
{
    int paper = !strcmp(preset, "paper"), all8 = !strcmp(preset, "all8"),
        all4 = !strcmp(preset, "all4");
    if (!paper && !all8 && !all4)
        return tm_error(TM_ERR_ARG, "quantisation preset '%s': expected paper, all8 or all4",
                        preset);
    for (int c = 0; c <= TM_QAT_HEAD; c++) {
        if (!q->chain[c])
            continue;
        int keep = c == TM_QAT_HEAD ? last_weight(q, c) : first_weight(q, c);
        for (int i = 0; i < q->n[c]; i++)
            if (q->chain[c][i].weight)
                q->chain[c][i].bits = all8 || (paper && i == keep) ? 8 : 4;
    }
    return TM_OK;
}

tm_status tm_qat_weight_scales(const tm_qat *q, const float *w, int channels, size_t per,
                               int bits, float *scales)
{
    return tm_weight_scales(w, channels, per, bits, bits == 4 ? q->cfg.wscale4 : q->cfg.wscale8,
                            scales);
}

/* ---- forward ----------------------------------------------------------- */

/* Observes x (when observing) and fake-quantises it with the range. */
static tm_status quant_point(tm_qat *q, tm_tape *t, tm_observer *o, const char *what,
                             tm_tensor *x, tm_tensor **y, tm_qparams *cur)
{
    if (q->observe)
        tm_observer_update(o, x->data, x->size);
    *y = x;
    if (!q->fake)
        return TM_OK;
    if (o->batches == 0)
        return tm_error(TM_ERR_ARG, "qat: %s has no observed range; calibrate first", what);
    *cur = tm_observer_qparams(o);
    return tm_fake_quant(t, x, cur, y);
}

static tm_status quant_weights(tm_qat *q, tm_tape *t, tm_tensor *w, int bits, tm_tensor **y)
{
    *y = w;
    if (!q->fake)
        return TM_OK;
    int ch = w->shape[0];
    float *sc = tm_tape_alloc(t, sizeof(float) * (size_t)ch);
    if (!sc)
        return TM_ERR_NOMEM;
    TM_TRY(tm_qat_weight_scales(q, w->data, ch, w->size / (size_t)ch, bits, sc));
    return tm_fake_quant_channels(t, w, sc, bits, y);
}

tm_status tm_qat_forward_weight(tm_qat *q, tm_tape *t, int c, int i, const tm_qval *xv,
                                const tm_qval *skip, tm_qval *y)
{
    (void)skip;
    const tm_layer *l = tm_qat_model_layer(q, c, i);
    tm_qat_layer *ql = &q->chain[c][i];
    const tm_layer_spec *s = &l->spec;
    tm_conv_params cp = {s->stride ? s->stride : 1, s->padding};
    tm_tensor *x = xv->t, *w = l->w, *b = l->b, *h = NULL, *wq = NULL;
    tm_qparams *cur = &y->qp;
    char what[TM_LAYER_NAME + 32];
    *cur = xv->qp;
    if (s->kind == TM_LAYER_SEPARABLE) {
        TM_TRY(quant_weights(q, t, l->w, ql->bits, &wq));
        TM_TRY(tm_depthwise_conv2d(t, x, wq, l->b, &cp, &h));
        snprintf(what, sizeof what, "%s (depthwise output)", s->name);
        TM_TRY(quant_point(q, t, &ql->mid, what, h, &x, cur));
        w = l->pw_w;
        b = l->pw_b;
        cp.stride = 1;
        cp.padding = TM_PAD_SAME;
    }
    if (ql->bn >= 0) {
        const tm_layer *bl = tm_qat_model_layer(q, c, ql->bn);
        float eps = q->m->spec.bn_eps;
        tm_tensor *wf = NULL, *bf = NULL;
        TM_TRY(tm_fold_weight(t, w, bl->gamma, bl->run_var->data, eps, &wf));
        TM_TRY(tm_fold_bias(t, b, bl->gamma, bl->beta, bl->run_mean->data, bl->run_var->data, eps,
                            &bf));
        w = wf;
        b = bf;
    }
    TM_TRY(quant_weights(q, t, w, ql->bits, &wq));
    switch (s->kind) {
    case TM_LAYER_CONV:
    case TM_LAYER_SEPARABLE:
        TM_TRY(tm_conv2d(t, x, wq, b, &cp, &h));
        break;
    case TM_LAYER_DEPTHWISE:
        TM_TRY(tm_depthwise_conv2d(t, x, wq, b, &cp, &h));
        break;
    default:
        TM_TRY(tm_dense(t, x, wq, b, &h));
        break;
    }
    if (ql->act == TM_ACT_RELU)
        TM_TRY(tm_relu(t, h, &h));
    else if (ql->act == TM_ACT_RELU6)
        TM_TRY(tm_relu6(t, h, &h));
    snprintf(what, sizeof what, "%s (output)", s->name);
    return quant_point(q, t, &ql->out, what, h, &y->t, cur);
}

tm_status tm_qat_forward_maxpool(tm_qat *q, tm_tape *t, int c, int i, const tm_qval *x,
                                 const tm_qval *skip, tm_qval *y)
{
    (void)skip;
    const tm_layer_spec *s = &tm_qat_model_layer(q, c, i)->spec;
    y->qp = x->qp;
    return tm_maxpool2d(t, x->t, s->size, s->stride ? s->stride : s->size, &y->t);
}

/* avgpool and globalavgpool. */
tm_status tm_qat_forward_avgpool(tm_qat *q, tm_tape *t, int c, int i, const tm_qval *x,
                                 const tm_qval *skip, tm_qval *y)
{
    (void)skip;
    const tm_layer_spec *s = &tm_qat_model_layer(q, c, i)->spec;
    y->qp = x->qp;
    if (s->kind == TM_LAYER_AVGPOOL)
        TM_TRY(tm_avgpool2d(t, x->t, s->size, s->stride ? s->stride : s->size, &y->t));
    else
        TM_TRY(tm_global_avgpool(t, x->t, &y->t));
    /* The integer kernel rounds the mean onto the input's grid. */
    if (q->fake)
        TM_TRY(tm_fake_quant(t, y->t, &y->qp, &y->t));
    return TM_OK;
}

/* Layers whose quantised form is their float one (flatten, dropout). */
tm_status tm_qat_forward_float(tm_qat *q, tm_tape *t, int c, int i, const tm_qval *x,
                               const tm_qval *skip, tm_qval *y)
{
    const tm_layer *l = tm_qat_model_layer(q, c, i);
    y->qp = x->qp;
    return tm_layer_desc_of(l->spec.kind)->forward(q->m, l, t, x->t, skip ? skip->t : NULL,
                                                   &y->t);
}

tm_status tm_qat_forward_add(tm_qat *q, tm_tape *t, int c, int i, const tm_qval *x,
                             const tm_qval *skip, tm_qval *y)
{
    const tm_layer *l = tm_qat_model_layer(q, c, i);
    tm_qat_layer *ql = &q->chain[c][i];
    char what[TM_LAYER_NAME + 16];
    tm_tensor *h = NULL;
    y->qp = x->qp;
    TM_TRY(tm_add(t, x->t, skip->t, &h));
    if (ql->act == TM_ACT_RELU)
        TM_TRY(tm_relu(t, h, &h));
    else if (ql->act == TM_ACT_RELU6)
        TM_TRY(tm_relu6(t, h, &h));
    snprintf(what, sizeof what, "%s (output)", l->spec.name);
    return quant_point(q, t, &ql->out, what, h, &y->t, &y->qp);
}

typedef struct {
    tm_qat *q;
    tm_tape *t;
    tm_tensor *const *inputs;
} qat_walk;

static tm_status qat_input(void *ctx, int b, void *out)
{
    qat_walk *w = ctx;
    tm_qval *y = out;
    char what[TM_LAYER_NAME + 16];
    TM_TRY(tm_model_check_input(w->q->m, b, w->inputs[b]));
    y->qp = (tm_qparams){1.0f, 0, TM_QMIN_INT8, TM_QMAX_INT8};
    snprintf(what, sizeof what, "input %s", w->q->m->spec.branches[b].name);
    return quant_point(w->q, w->t, &w->q->input[b], what, w->inputs[b], &y->t, &y->qp);
}

static tm_status qat_layer(void *ctx, int c, int i, const tm_layer *l, const void *x,
                           const void *skip, void *y)
{
    qat_walk *w = ctx;
    if (w->q->chain[c][i].merged) {
        *(tm_qval *)y = *(const tm_qval *)x;
        return TM_OK;
    }
    const tm_qlayer_desc *d = tm_qlayer_desc_of(l->spec.kind);
    if (!d->forward)
        return tm_error(TM_ERR_INTERNAL, "%s: no quantised forward", l->spec.name);
    return d->forward(w->q, w->t, c, i, x, skip, y);
}

static tm_status qat_fusion(void *ctx, const void *outs, int n, void *out)
{
    qat_walk *w = ctx;
    const tm_qval *v = outs;
    tm_qval *y = out;
    tm_tensor *xs[TM_MAX_BRANCHES];
    for (int b = 0; b < n; b++)
        xs[b] = v[b].t;
    y->qp = v[n - 1].qp;
    TM_TRY(tm_concat(w->t, xs, n, &y->t));
    return quant_point(w->q, w->t, &w->q->fusion, "fusion", y->t, &y->t, &y->qp);
}

tm_status tm_qat_forward(tm_qat *q, tm_tape *t, tm_tensor *const *inputs, tm_tensor **logits)
{
    static const tm_graph_visitor v = {sizeof(tm_qval), qat_input, qat_layer, qat_fusion};
    qat_walk w = {q, t, inputs};
    tm_qval out;
    TM_TRY(tm_graph_walk(q->m, &v, &w, &out));
    *logits = out.t;
    return TM_OK;
}

/* ---- loops ------------------------------------------------------------- */

static size_t branch_dim(const tm_model *m, int b)
{
    const int *s = m->spec.branches[b].input;
    return (size_t)s[0] * (size_t)s[1] * (size_t)s[2];
}

static tm_status gather(tm_qat *q, tm_tape *t, const tm_qat_data *d, const int *idx, int n,
                        tm_tensor **x)
{
    const tm_model *m = q->m;
    for (int b = 0; b < m->spec.n_branches; b++) {
        x[b] = NULL;
        if (!d->x[b])
            return tm_error(TM_ERR_ARG, "qat: no samples for branch %s",
                            m->spec.branches[b].name);
        const int *in = m->spec.branches[b].input;
        int shape[4] = {n, in[0], in[1], in[2]};
        TM_TRY(tm_arena_tensor(&t->arena, &x[b], 4, shape, 0));
        size_t dim = branch_dim(m, b);
        for (int i = 0; i < n; i++)
            memcpy(x[b]->data + (size_t)i * dim, d->x[b] + (size_t)idx[i] * dim,
                   dim * sizeof(float));
    }
    return TM_OK;
}

static int *shuffled(int n, tm_rng *rng)
{
    int *p = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!p)
        return NULL;
    for (int i = 0; i < n; i++)
        p[i] = i;
    if (rng)
        tm_rng_shuffle(rng, p, n);
    return p;
}

/* The evaluation loops' side: gather (into a tape's arena) and the QAT forward. */
typedef struct {
    tm_qat *q;
    const tm_qat_data *d;
    float *probs;
} qat_eval;

static tm_status eval_gather(void *ctx, tm_tape *t, const int *idx, int n, tm_tensor **x)
{
    qat_eval *e = ctx;
    return gather(e->q, t, e->d, idx, n, x);
}

static tm_status eval_forward(void *ctx, tm_tape *t, tm_tensor *const *x, tm_tensor **logits)
{
    return tm_qat_forward(((qat_eval *)ctx)->q, t, x, logits);
}

tm_status tm_qat_calibrate(tm_qat *q, tm_pool *pool, const tm_qat_data *d, int batch_size,
                           int batches, tm_rng *rng)
{
    if (batch_size < 1 || d->n < 1)
        return tm_error(TM_ERR_ARG, "calibration: batch size %d over %d samples", batch_size,
                        d->n);
    int *perm = shuffled(d->n, rng);
    if (!perm)
        return tm_error(TM_ERR_NOMEM, "calibration: out of memory");
    int total = (d->n + batch_size - 1) / batch_size;
    if (batches > 0 && batches < total)
        total = batches;
    qat_eval e = {q, d, NULL};
    tm_eval_loop l = {(long)total * batch_size < d->n ? total * batch_size : d->n, batch_size,
                      perm, eval_gather, eval_forward, NULL};
    q->observe = 1;
    q->fake = 0;
    tm_status s = tm_eval_batches(pool, &l, &e);
    free(perm);
    q->observe = 0;
    q->fake = 1;
    return s;
}

static int argmax(const float *p, int k)
{
    int best = 0;
    for (int c = 1; c < k; c++)
        if (p[c] > p[best])
            best = c;
    return best;
}

static tm_status train_gather(void *ctx, tm_tape *t, const int *idx, int n, tm_tensor **x,
                              int *labels)
{
    qat_eval *e = ctx;
    for (int i = 0; i < n; i++)
        labels[i] = e->d->label[idx[i]];
    return gather(e->q, t, e->d, idx, n, x);
}

tm_status tm_qat_train_epoch(tm_qat *q, tm_tape *t, tm_optimizer *opt, const tm_qat_data *d,
                             int batch_size, float lr, const float *class_weights, tm_rng *rng,
                             double *loss_out, double *acc_out)
{
    if (batch_size < 1 || d->n < 1 || !d->label)
        return tm_error(TM_ERR_ARG, "qat: batch size %d over %d labelled samples", batch_size,
                        d->n);
    int k = q->m->spec.n_classes;
    int *perm = shuffled(d->n, rng);
    float *probs = malloc(sizeof(float) * (size_t)batch_size * (size_t)k);
    int *labels = malloc(sizeof(int) * (size_t)batch_size);
    if (!perm || !probs || !labels) {
        free(perm);
        free(probs);
        free(labels);
        return tm_error(TM_ERR_NOMEM, "qat: out of memory");
    }
    int old_grad = tm_tape_set_grad_enabled(t, 1), old_train = t->training;
    t->training = 1;
    q->fake = 1;
    q->observe = q->cfg.observe_in_training;
    double loss_sum = 0.0;
    long right = 0;
    qat_eval e = {q, d, NULL};
    tm_train_loop l = {d->n,   batch_size,   k,           perm,         lr,   class_weights,
                       labels, probs,        train_gather, eval_forward, NULL, NULL};
    tm_status s = tm_train_batches(t, opt, &l, &e, &loss_sum, &right);
    tm_tape_reset(t);
    tm_tape_set_grad_enabled(t, old_grad);
    t->training = old_train;
    q->observe = 0;
    free(perm);
    free(probs);
    free(labels);
    if (s != TM_OK) {
        /* "batch N: ..." from the loop; the QAT steps' own errors say "qat:" already */
        const char *why = strstr(tm_last_error(), ": ");
        return why && !strncmp(why + 2, "qat:", 4) ? s : tm_error_prefix(s, "qat: ");
    }
    if (loss_out)
        *loss_out = loss_sum / d->n;
    if (acc_out)
        *acc_out = (double)right / d->n;
    return TM_OK;
}

static tm_status eval_softmax(void *ctx, tm_tape *t, int start, int n, tm_tensor *logits)
{
    (void)t;
    qat_eval *e = ctx;
    int k = e->q->m->spec.n_classes;
    for (int i = 0; i < n; i++) {
        const float *z = logits->data + (size_t)i * k;
        float *p = e->probs + (size_t)(start + i) * k, mx = z[argmax(z, k)];
        double sum = 0.0;
        for (int c = 0; c < k; c++)
            sum += p[c] = expf(z[c] - mx);
        for (int c = 0; c < k; c++)
            p[c] = (float)(p[c] / sum);
    }
    return TM_OK;
}

tm_status tm_qat_predict(tm_qat *q, tm_pool *pool, const tm_qat_data *d, float *probs)
{
    qat_eval e = {q, d, probs};
    tm_eval_loop l = {d->n, 256, NULL, eval_gather, eval_forward, eval_softmax};
    int old_observe = q->observe;
    q->observe = 0;
    tm_status s = tm_eval_batches(pool, &l, &e);
    q->observe = old_observe;
    return s;
}

/* ---- state as named arrays --------------------------------------------- */

static tm_status put_range(const tm_observer *o, tm_qat_put_fn put, void *ctx, const char *name)
{
    tm_qparams p = tm_observer_qparams(o);
    float v[4] = {o->min, o->max, p.scale, (float)p.zero_point};
    if (o->batches == 0)
        return tm_error(TM_ERR_ARG, "qat: %s has no observed range; calibrate first", name);
    return put(ctx, name, v, 4);
}

static tm_status get_range(tm_observer *o, tm_qat_get_fn get, void *ctx, const char *name)
{
    float v[4];
    TM_TRY(get(ctx, name, v, 4));
    if (!isfinite(v[0]) || !isfinite(v[1]) || v[0] > v[1])
        return tm_error(TM_ERR_FORMAT, "%s: range [%g, %g] is not valid", name, (double)v[0],
                        (double)v[1]);
    o->min = v[0];
    o->max = v[1];
    o->batches = 1;
    return TM_OK;
}

typedef struct {
    int store;
    tm_qat_put_fn put;
    tm_qat_get_fn get;
    void *ctx;
} io;

static tm_status visit_range(io *o, tm_observer *ob, const char *name)
{
    return o->store ? put_range(ob, o->put, o->ctx, name) : get_range(ob, o->get, o->ctx, name);
}

static tm_status visit(tm_qat *q, io *o)
{
    char name[TM_LAYER_NAME + 48];
    tm_model *m = q->m;
    for (int b = 0; b < m->spec.n_branches; b++) {
        snprintf(name, sizeof name, "quant/input/%s", m->spec.branches[b].name);
        TM_TRY(visit_range(o, &q->input[b], name));
    }
    if (m->spec.n_branches > 1)
        TM_TRY(visit_range(o, &q->fusion, "quant/fusion"));
    for (int c = 0; c <= TM_QAT_HEAD; c++) {
        if (!q->chain[c])
            continue;
        for (int i = 0; i < q->n[c]; i++) {
            tm_qat_layer *ql = &q->chain[c][i];
            const char *ln = tm_qat_model_layer(q, c, i)->spec.name;
            if (!ql->observed)
                continue;
            snprintf(name, sizeof name, "quant/%s/output", ln);
            TM_TRY(visit_range(o, &ql->out, name));
            if (!ql->weight)
                continue;
            if (tm_qat_model_layer(q, c, i)->spec.kind == TM_LAYER_SEPARABLE) {
                snprintf(name, sizeof name, "quant/%s/depthwise_output", ln);
                TM_TRY(visit_range(o, &ql->mid, name));
            }
            snprintf(name, sizeof name, "quant/%s/bits", ln);
            float bits = (float)ql->bits;
            if (o->store) {
                TM_TRY(o->put(o->ctx, name, &bits, 1));
            } else {
                TM_TRY(o->get(o->ctx, name, &bits, 1));
                if (bits != 8.0f && bits != 4.0f)
                    return tm_error(TM_ERR_FORMAT, "%s: %g bits (8 or 4 expected)", name,
                                    (double)bits);
                ql->bits = (int)bits;
            }
        }
    }
    return TM_OK;
}

tm_status tm_qat_store(const tm_qat *q, tm_qat_put_fn put, void *ctx)
{
    io o = {1, put, NULL, ctx};
    return visit((tm_qat *)q, &o);
}

tm_status tm_qat_restore(tm_qat *q, tm_qat_get_fn get, void *ctx)
{
    io o = {0, NULL, get, ctx};
    TM_TRY(visit(q, &o));
    q->observe = 0;
    q->fake = 1;
    return TM_OK;
}
