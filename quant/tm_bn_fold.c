#include <math.h>

#include "tm_quant.h"

void tm_bn_fold_factors(const float *gamma, const float *var, float eps, int channels, float *k)
{
    for (int c = 0; c < channels; c++)
        k[c] = gamma[c] * (float)(1.0 / sqrt((double)var[c] + (double)eps));
}

void tm_bn_fold(const float *w, const float *b, const float *gamma, const float *beta,
                const float *mean, const float *var, float eps, int channels, size_t per,
                float *w_out, float *b_out)
{
    for (int c = 0; c < channels; c++) {
        float k;
        tm_bn_fold_factors(&gamma[c], &var[c], eps, 1, &k);
        for (size_t i = 0; i < per; i++)
            w_out[(size_t)c * per + i] = w[(size_t)c * per + i] * k;
        b_out[c] = beta[c] + ((b ? b[c] : 0.0f) - mean[c]) * k;
    }
}

/* The 1/sqrt(var + eps) factors are constants of the fold; gamma is not. */
static float *inv_std(tm_tape *t, const float *var, float eps, int channels)
{
    float *is = tm_tape_alloc(t, sizeof(float) * (size_t)channels);
    if (is)
        for (int c = 0; c < channels; c++)
            is[c] = (float)(1.0 / sqrt((double)var[c] + (double)eps));
    return is;
}

typedef struct {
    const float *is, *mean;
    int channels;
} fold_ctx;

static tm_status fold_weight_backward(tm_tape *t, tm_tape_node *node)
{
    (void)t;
    tm_tensor *w = node->in[0], *g = node->in[1], *y = node->out;
    const fold_ctx *c = node->ctx;
    size_t per = w->size / (size_t)c->channels;
    for (int ch = 0; ch < c->channels; ch++) {
        const float *dy = y->grad + (size_t)ch * per, *wd = w->data + (size_t)ch * per;
        float k = g->data[ch] * c->is[ch];
        if (w->grad) {
            float *dw = w->grad + (size_t)ch * per;
            for (size_t i = 0; i < per; i++)
                dw[i] += dy[i] * k;
        }
        if (g->grad) {
            double s = 0.0;
            for (size_t i = 0; i < per; i++)
                s += (double)dy[i] * wd[i];
            g->grad[ch] += (float)(s * c->is[ch]);
        }
    }
    return TM_OK;
}

tm_status tm_fold_weight(tm_tape *t, tm_tensor *w, tm_tensor *gamma, const float *var, float eps,
                         tm_tensor **out)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "fold_weight: no output pointer");
    *out = NULL;
    if (!t || !w || !gamma || !var)
        return tm_error(TM_ERR_ARG, "fold_weight: missing tape, weight, gamma or variance");
    int channels = w->shape[0];
    if ((int)gamma->size != channels)
        return tm_error(TM_ERR_SHAPE, "fold_weight: %zu batch-norm channels for %d output "
                                      "channels",
                        gamma->size, channels);
    tm_tensor *in[2] = {w, gamma};
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, w->ndim, w->shape, in, 2));
    fold_ctx *c = tm_tape_alloc(t, sizeof *c);
    float *is = inv_std(t, var, eps, channels);
    if (!c || !is)
        return TM_ERR_NOMEM;
    c->is = is;
    c->mean = NULL;
    c->channels = channels;
    size_t per = w->size / (size_t)channels;
    for (int ch = 0; ch < channels; ch++) {
        float k = gamma->data[ch] * is[ch];
        for (size_t i = 0; i < per; i++)
            y->data[(size_t)ch * per + i] = w->data[(size_t)ch * per + i] * k;
    }
    TM_TRY(tm_tape_record(t, "fold_weight", fold_weight_backward, in, 2, y, c));
    *out = y;
    return TM_OK;
}

static tm_status fold_bias_backward(tm_tape *t, tm_tape_node *node)
{
    (void)t;
    tm_tensor *g = node->in[0], *be = node->in[1], *y = node->out;
    tm_tensor *b = node->n_in > 2 ? node->in[2] : NULL;
    const fold_ctx *c = node->ctx;
    for (int ch = 0; ch < c->channels; ch++) {
        float dy = y->grad[ch];
        if (be->grad)
            be->grad[ch] += dy;
        if (g->grad)
            g->grad[ch] += dy * ((b ? b->data[ch] : 0.0f) - c->mean[ch]) * c->is[ch];
        if (b && b->grad)
            b->grad[ch] += dy * g->data[ch] * c->is[ch];
    }
    return TM_OK;
}

tm_status tm_fold_bias(tm_tape *t, tm_tensor *b, tm_tensor *gamma, tm_tensor *beta,
                       const float *mean, const float *var, float eps, tm_tensor **out)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "fold_bias: no output pointer");
    *out = NULL;
    if (!t || !gamma || !beta || !mean || !var)
        return tm_error(TM_ERR_ARG, "fold_bias: missing tape, gamma, beta or statistics");
    int channels = (int)gamma->size;
    if ((int)beta->size != channels || (b && (int)b->size != channels))
        return tm_error(TM_ERR_SHAPE, "fold_bias: gamma, beta and bias differ in length");
    tm_tensor *in[3] = {gamma, beta, b};
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, 1, &channels, in, b ? 3 : 2));
    fold_ctx *c = tm_tape_alloc(t, sizeof *c);
    float *is = inv_std(t, var, eps, channels);
    float *mu = tm_tape_alloc(t, sizeof(float) * (size_t)channels);
    if (!c || !is || !mu)
        return TM_ERR_NOMEM;
    for (int ch = 0; ch < channels; ch++) {
        mu[ch] = mean[ch];
        y->data[ch] = beta->data[ch] + ((b ? b->data[ch] : 0.0f) - mean[ch]) *
                                           (gamma->data[ch] * is[ch]);
    }
    c->is = is;
    c->mean = mu;
    c->channels = channels;
    TM_TRY(tm_tape_record(t, "fold_bias", fold_bias_backward, in, b ? 3 : 2, y, c));
    *out = y;
    return TM_OK;
}
