#include <string.h>

#include "tm_ops.h"

static tm_status dropout_backward(tm_tape *t, tm_tape_node *node)
{
    (void)t;
    tm_tensor *x = node->in[0], *y = node->out;
    const float *mask = node->ctx;
    if (!x->grad)
        return TM_OK;
    for (size_t i = 0; i < y->size; i++)
        x->grad[i] += y->grad[i] * mask[i];
    return TM_OK;
}

tm_status tm_dropout(tm_tape *t, tm_tensor *x, float rate, tm_tensor **out)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "dropout: no output pointer");
    *out = NULL;
    if (!t || !x)
        return tm_error(TM_ERR_ARG, "dropout: missing tape or input");
    if (!(rate >= 0.0f && rate < 1.0f))
        return tm_error(TM_ERR_ARG, "dropout: rate %g must be in [0, 1)", (double)rate);
    if (!t->training || rate == 0.0f) {
        /* Identity: a view sharing data and grad, like flatten, no node. */
        tm_tensor *y = tm_tape_alloc(t, sizeof *y);
        if (!y)
            return TM_ERR_NOMEM;
        *y = *x;
        y->owns = 0;
        y->requires_grad = x->requires_grad && x->grad && t->grad_enabled;
        y->grad = y->requires_grad ? x->grad : NULL;
        *out = y;
        return TM_OK;
    }
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, x->ndim, x->shape, &x, 1));
    float *mask = tm_tape_alloc(t, x->size * sizeof(float));
    if (!mask)
        return TM_ERR_NOMEM;
    float keep = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < x->size; i++) {
        mask[i] = tm_rng_uniform(&t->rng) < rate ? 0.0f : keep;
        y->data[i] = x->data[i] * mask[i];
    }
    TM_TRY(tm_tape_record(t, "dropout", dropout_backward, &x, 1, y, mask));
    *out = y;
    return TM_OK;
}
