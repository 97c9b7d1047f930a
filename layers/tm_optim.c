#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tm_optim.h"

void tm_optim_config_default(tm_optim_config *c, tm_optim_kind kind)
{
    /* PyTorch's defaults, so that reference runs and ours agree out of the box. */
    c->kind = kind;
    c->momentum = 0.0f;
    c->nesterov = 0;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->weight_decay = kind == TM_OPT_ADAMW ? 0.01f : 0.0f;
}

static tm_status tm_optim_check_config(const tm_optim_config *c)
{
    if (c->kind != TM_OPT_SGD && c->kind != TM_OPT_ADAM && c->kind != TM_OPT_ADAMW)
        return tm_error(TM_ERR_ARG, "optimiser: unknown kind %d", (int)c->kind);
    if (!isfinite(c->weight_decay) || c->weight_decay < 0.0f)
        return tm_error(TM_ERR_ARG, "optimiser: weight_decay %g must be finite and >= 0",
                        (double)c->weight_decay);
    if (c->kind == TM_OPT_SGD) {
        if (!isfinite(c->momentum) || c->momentum < 0.0f)
            return tm_error(TM_ERR_ARG, "optimiser: SGD momentum %g must be finite and >= 0",
                            (double)c->momentum);
        if (c->nesterov && c->momentum == 0.0f)
            return tm_error(TM_ERR_ARG, "optimiser: Nesterov SGD needs momentum > 0");
        return TM_OK;
    }
    if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f))
        return tm_error(TM_ERR_ARG, "optimiser: beta1 %g must be in [0, 1)", (double)c->beta1);
    if (!(c->beta2 >= 0.0f && c->beta2 < 1.0f))
        return tm_error(TM_ERR_ARG, "optimiser: beta2 %g must be in [0, 1)", (double)c->beta2);
    if (!isfinite(c->eps) || c->eps < 0.0f)
        return tm_error(TM_ERR_ARG, "optimiser: eps %g must be finite and >= 0", (double)c->eps);
    return TM_OK;
}

tm_status tm_optim_new(tm_optimizer **out, const tm_optim_config *cfg, tm_tensor **params,
                       const int *decay, int n)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "tm_optim_new: out is NULL");
    *out = NULL;
    if (!cfg || (n > 0 && !params) || n < 0)
        return tm_error(TM_ERR_ARG, "tm_optim_new: config or parameter list missing (n = %d)", n);
    TM_TRY(tm_optim_check_config(cfg));
    for (int i = 0; i < n; i++) {
        char shp[64];
        if (!params[i])
            return tm_error(TM_ERR_ARG, "tm_optim_new: parameter %d is NULL", i);
        if (!params[i]->grad)
            return tm_error(TM_ERR_ARG, "tm_optim_new: parameter %d (%s) has no gradient buffer",
                            i, tm_shape_str(params[i]->ndim, params[i]->shape, shp, sizeof shp));
    }

    tm_optimizer *o = calloc(1, sizeof *o);
    if (!o)
        return tm_error(TM_ERR_NOMEM, "tm_optim_new: optimiser state");
    o->cfg = *cfg;
    o->n = n;
    size_t np = n > 0 ? (size_t)n : 1;
    o->params = calloc(np, sizeof *o->params);
    o->decay = calloc(np, sizeof *o->decay);
    int need_m = cfg->kind != TM_OPT_SGD || cfg->momentum != 0.0f;
    int need_v = cfg->kind != TM_OPT_SGD;
    if (need_m)
        o->m = calloc(np, sizeof *o->m);
    if (need_v)
        o->v = calloc(np, sizeof *o->v);
    if (!o->params || !o->decay || (need_m && !o->m) || (need_v && !o->v)) {
        tm_optim_free(o);
        return tm_error(TM_ERR_NOMEM, "tm_optim_new: parameter tables for %d parameters", n);
    }
    for (int i = 0; i < n; i++) {
        o->params[i] = params[i];
        o->decay[i] = decay ? decay[i] != 0 : 1;
        size_t sz = params[i]->size;
        if ((need_m && !(o->m[i] = calloc(sz, sizeof(float)))) ||
            (need_v && !(o->v[i] = calloc(sz, sizeof(float))))) {
            tm_optim_free(o);
            return tm_error(TM_ERR_NOMEM, "tm_optim_new: moment buffers of parameter %d (%zu values)",
                            i, sz);
        }
    }
    *out = o;
    return TM_OK;
}

void tm_optim_free(tm_optimizer *o)
{
    if (!o)
        return;
    for (int i = 0; i < o->n; i++) {
        if (o->m)
            free(o->m[i]);
        if (o->v)
            free(o->v[i]);
    }
    free(o->m);
    free(o->v);
    free(o->params);
    free(o->decay);
    free(o);
}

static void tm_sgd_update(const tm_optim_config *c, float *p, const float *g, float *buf,
                          size_t n, float lr, float wd)
{
    float mu = c->momentum;
    for (size_t j = 0; j < n; j++) {
        float d = g[j] + wd * p[j];
        if (buf) {
            /* A zeroed buffer makes the first update equal PyTorch's buf = grad seeding. */
            buf[j] = mu * buf[j] + d;
            d = c->nesterov ? d + mu * buf[j] : buf[j];
        }
        p[j] -= lr * d;
    }
}

static void tm_adam_update(const tm_optim_config *c, float *p, const float *g, float *m, float *v,
                           size_t n, float lr, float wd, long t)
{
    float b1 = c->beta1, b2 = c->beta2;
    double bc1 = 1.0 - pow((double)b1, (double)t);
    double bc2 = 1.0 - pow((double)b2, (double)t);
    float step_size = (float)(lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    int decoupled = c->kind == TM_OPT_ADAMW;
    float shrink = (float)(1.0 - (double)lr * wd);
    for (size_t j = 0; j < n; j++) {
        float gj = g[j];
        if (decoupled)
            p[j] *= shrink;
        else
            gj += wd * p[j];
        m[j] = b1 * m[j] + (1.0f - b1) * gj;
        v[j] = b2 * v[j] + (1.0f - b2) * gj * gj;
        float denom = sqrtf(v[j]) / bc2_sqrt + c->eps;
        p[j] -= step_size * (m[j] / denom);
    }
}

tm_status tm_optim_step(tm_optimizer *o, float lr)
{
    if (!o)
        return tm_error(TM_ERR_ARG, "tm_optim_step: optimiser is NULL");
    if (!isfinite(lr) || lr < 0.0f)
        return tm_error(TM_ERR_ARG, "tm_optim_step: learning rate %g must be finite and >= 0",
                        (double)lr);
    /* Check every gradient before touching any parameter: a bad batch must leave the model intact. */
    for (int i = 0; i < o->n; i++) {
        const tm_tensor *t = o->params[i];
        char what[96], shp[64];
        snprintf(what, sizeof what, "gradient of parameter %d (%s)", i,
                 tm_shape_str(t->ndim, t->shape, shp, sizeof shp));
        TM_TRY(tm_check_finite(t->grad, t->size, what));
    }
    long t = o->step + 1;
    for (int i = 0; i < o->n; i++) {
        tm_tensor *p = o->params[i];
        float wd = o->decay[i] ? o->cfg.weight_decay : 0.0f;
        if (o->cfg.kind == TM_OPT_SGD)
            tm_sgd_update(&o->cfg, p->data, p->grad, o->m ? o->m[i] : NULL, p->size, lr, wd);
        else
            tm_adam_update(&o->cfg, p->data, p->grad, o->m[i], o->v[i], p->size, lr, wd, t);
    }
    o->step = t;
    return TM_OK;
}

void tm_optim_zero_grad(tm_optimizer *o)
{
    if (!o)
        return;
    for (int i = 0; i < o->n; i++)
        tm_tensor_zero_grad(o->params[i]);
}
