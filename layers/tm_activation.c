#include <math.h>
#include <stddef.h>

#include "tm_ops.h"

/* restrict and a mask product let the compiler vectorise: the signs are
 * random, so a branch per element would mispredict half the time. */
static void masked_add(float *restrict xg, const float *restrict yd, const float *restrict yg,
                       size_t n, float hi)
{
    for (size_t i = 0; i < n; i++)
        xg[i] += yg[i] * (float)((yd[i] > 0.0f) & (yd[i] < hi));
}

static void clamp(float *restrict yd, const float *restrict xd, size_t n, float hi)
{
    for (size_t i = 0; i < n; i++) {
        float v = xd[i];
        /* Written so that NaN propagates and the finite checks see it. */
        v = v < 0.0f ? 0.0f : v;
        yd[i] = v > hi ? hi : v;
    }
}

/* Both backwards read the output: y > 0 exactly where x > 0, and the
 * gradient at the kinks is 0 as in PyTorch. */
static tm_status relu_backward(tm_tape *t, tm_tape_node *node)
{
    (void)t;
    tm_tensor *x = node->in[0], *y = node->out;
    if (!x->grad)
        return TM_OK;
    masked_add(x->grad, y->data, y->grad, y->size, INFINITY);
    return TM_OK;
}

static tm_status relu6_backward(tm_tape *t, tm_tape_node *node)
{
    (void)t;
    tm_tensor *x = node->in[0], *y = node->out;
    if (!x->grad)
        return TM_OK;
    masked_add(x->grad, y->data, y->grad, y->size, 6.0f);
    return TM_OK;
}

static tm_status activation(tm_tape *t, tm_tensor *x, tm_tensor **out, const char *op,
                            float hi, tm_backward_fn backward)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "%s: no output pointer", op);
    *out = NULL;
    if (!t || !x)
        return tm_error(TM_ERR_ARG, "%s: missing tape or input", op);
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, x->ndim, x->shape, &x, 1));
    clamp(y->data, x->data, x->size, hi);
    TM_TRY(tm_tape_record(t, op, backward, &x, 1, y, NULL));
    *out = y;
    return TM_OK;
}

tm_status tm_relu(tm_tape *t, tm_tensor *x, tm_tensor **out)
{
    return activation(t, x, out, "relu", INFINITY, relu_backward);
}

tm_status tm_relu6(tm_tape *t, tm_tensor *x, tm_tensor **out)
{
    return activation(t, x, out, "relu6", 6.0f, relu6_backward);
}
