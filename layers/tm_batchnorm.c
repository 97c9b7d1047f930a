#include <math.h>
#include <stddef.h>

#include "tm_ops.h"

/* Saved for backward. xhat is the normalised input; training records which
 * statistics normalised it, since the gradient differs. */
typedef struct {
    float *xhat;
    float *invstd;
    int n, c, hw;
    int training;
} bn_ctx;

typedef struct {
    const float *x;
    float *y, *xhat; /* xhat NULL when nothing is recorded */
    const float *gamma, *beta;
    float *rm, *rv, *invstd;
    int n, c, hw, training;
    float momentum, eps;
} bn_fwd;

/* Channels are independent, so splitting them over workers is exact. */
static void bn_forward_range(void *arg, int c0, int c1, int worker)
{
    (void)worker;
    bn_fwd *a = arg;
    size_t hw = (size_t)a->hw, cs = (size_t)a->c * hw;
    double m = (double)a->n * (double)hw;
    for (int c = c0; c < c1; c++) {
        double mean, var;
        if (a->training) {
            double s = 0.0;
            for (int i = 0; i < a->n; i++) {
                const float *p = a->x + (size_t)i * cs + (size_t)c * hw;
                for (size_t j = 0; j < hw; j++)
                    s += p[j];
            }
            mean = s / m;
            double s2 = 0.0;
            for (int i = 0; i < a->n; i++) {
                const float *p = a->x + (size_t)i * cs + (size_t)c * hw;
                for (size_t j = 0; j < hw; j++) {
                    double d = p[j] - mean;
                    s2 += d * d;
                }
            }
            var = s2 / m;
            a->rm[c] = (float)((1.0 - a->momentum) * a->rm[c] + a->momentum * mean);
            a->rv[c] = (float)((1.0 - a->momentum) * a->rv[c] +
                               a->momentum * var * m / (m - 1.0));
        } else {
            mean = a->rm[c];
            var = a->rv[c];
        }
        float is = (float)(1.0 / sqrt(var + a->eps));
        float mu = (float)mean, g = a->gamma[c], be = a->beta[c];
        a->invstd[c] = is;
        for (int i = 0; i < a->n; i++) {
            size_t off = (size_t)i * cs + (size_t)c * hw;
            const float *p = a->x + off;
            float *q = a->y + off;
            float *h = a->xhat ? a->xhat + off : NULL;
            for (size_t j = 0; j < hw; j++) {
                float xh = (p[j] - mu) * is;
                if (h)
                    h[j] = xh;
                q[j] = g * xh + be;
            }
        }
    }
}

typedef struct {
    const bn_ctx *s;
    const float *dy, *gamma;
    float *dx, *dgamma, *dbeta;
} bn_bwd;

static void bn_backward_range(void *arg, int c0, int c1, int worker)
{
    (void)worker;
    bn_bwd *a = arg;
    const bn_ctx *s = a->s;
    size_t hw = (size_t)s->hw, cs = (size_t)s->c * hw;
    double m = (double)s->n * (double)hw;
    for (int c = c0; c < c1; c++) {
        double sdy = 0.0, sdyx = 0.0;
        for (int i = 0; i < s->n; i++) {
            size_t off = (size_t)i * cs + (size_t)c * hw;
            for (size_t j = 0; j < hw; j++) {
                sdy += a->dy[off + j];
                sdyx += (double)a->dy[off + j] * s->xhat[off + j];
            }
        }
        if (a->dgamma)
            a->dgamma[c] += (float)sdyx;
        if (a->dbeta)
            a->dbeta[c] += (float)sdy;
        if (!a->dx)
            continue;
        float gi = a->gamma[c] * s->invstd[c];
        /* Training: the batch mean and variance depend on x too. */
        float k = (float)(gi / m), fm = (float)m;
        float mdy = (float)sdy, mdyx = (float)sdyx;
        for (int i = 0; i < s->n; i++) {
            size_t off = (size_t)i * cs + (size_t)c * hw;
            for (size_t j = 0; j < hw; j++) {
                float d = a->dy[off + j];
                if (s->training)
                    a->dx[off + j] += k * (fm * d - mdy - s->xhat[off + j] * mdyx);
                else
                    a->dx[off + j] += gi * d;
            }
        }
    }
}

static tm_status bn_backward(tm_tape *t, tm_tape_node *node)
{
    tm_tensor *x = node->in[0], *gamma = node->in[1], *beta = node->in[2];
    bn_bwd a = {node->ctx, node->out->grad, gamma->data, x->grad, gamma->grad, beta->grad};
    tm_pool_run(t->pool, ((bn_ctx *)node->ctx)->c, bn_backward_range, &a);
    return TM_OK;
}

tm_status tm_batchnorm(tm_tape *t, tm_tensor *x, tm_tensor *gamma, tm_tensor *beta,
                       float *running_mean, float *running_var, float momentum, float eps,
                       tm_tensor **out)
{
    char sx[64], sp[64];
    if (!out)
        return tm_error(TM_ERR_ARG, "batchnorm: no output pointer");
    *out = NULL;
    if (!t || !x || !gamma || !beta || !running_mean || !running_var)
        return tm_error(TM_ERR_ARG,
                        "batchnorm: missing tape, input, gamma, beta or running statistics");
    tm_shape_str(x->ndim, x->shape, sx, sizeof sx);
    if (x->ndim != 2 && x->ndim != 4)
        return tm_error(TM_ERR_SHAPE, "batchnorm: input %s must be (N,C,H,W) or (N,C)", sx);
    int n = x->shape[0], c = x->shape[1];
    int hw = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
    if (gamma->ndim != 1 || gamma->shape[0] != c)
        return tm_error(TM_ERR_SHAPE, "batchnorm: gamma %s does not fit input %s (expected %d)",
                        tm_shape_str(gamma->ndim, gamma->shape, sp, sizeof sp), sx, c);
    if (beta->ndim != 1 || beta->shape[0] != c)
        return tm_error(TM_ERR_SHAPE, "batchnorm: beta %s does not fit input %s (expected %d)",
                        tm_shape_str(beta->ndim, beta->shape, sp, sizeof sp), sx, c);
    if (!(eps >= 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return tm_error(TM_ERR_ARG, "batchnorm: eps %g must be >= 0 and momentum %g in [0,1]",
                        (double)eps, (double)momentum);
    int training = t->training != 0;
    if (training && (size_t)n * (size_t)hw < 2)
        return tm_error(TM_ERR_SHAPE,
                        "batchnorm: input %s has one value per channel; training needs more",
                        sx);

    tm_tensor *in_t[3] = {x, gamma, beta};
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, x->ndim, x->shape, in_t, 3));
    bn_ctx *ctx = NULL;
    float *invstd;
    if (y->requires_grad) {
        ctx = tm_tape_alloc(t, sizeof *ctx);
        if (!ctx)
            return TM_ERR_NOMEM;
        ctx->xhat = tm_tape_alloc(t, x->size * sizeof(float));
        ctx->invstd = tm_tape_alloc(t, (size_t)c * sizeof(float));
        if (!ctx->xhat || !ctx->invstd)
            return TM_ERR_NOMEM;
        ctx->n = n;
        ctx->c = c;
        ctx->hw = hw;
        ctx->training = training;
        invstd = ctx->invstd;
    } else {
        invstd = tm_tape_alloc(t, (size_t)c * sizeof(float));
        if (!invstd)
            return TM_ERR_NOMEM;
    }
    bn_fwd a = {x->data,     y->data,  ctx ? ctx->xhat : NULL, gamma->data, beta->data,
                running_mean, running_var, invstd, n, c, hw, training, momentum, eps};
    tm_pool_run(t->pool, c, bn_forward_range, &a);
    TM_TRY(tm_tape_record(t, "batchnorm", bn_backward, in_t, 3, y, ctx));
    *out = y;
    return TM_OK;
}
