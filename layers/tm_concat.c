#include <string.h>

#include "tm_ops.h"

static tm_status concat_backward(tm_tape *t, tm_tape_node *node)
{
    (void)t;
    const float *dy = node->out->grad;
    int rows = node->out->shape[0], width = node->out->shape[1], off = 0;
    for (int k = 0; k < node->n_in; k++) {
        tm_tensor *x = node->in[k];
        int f = x->shape[1];
        if (x->grad) {
            for (int i = 0; i < rows; i++) {
                const float *src = dy + (size_t)i * (size_t)width + off;
                float *dst = x->grad + (size_t)i * (size_t)f;
                for (int j = 0; j < f; j++)
                    dst[j] += src[j];
            }
        }
        off += f;
    }
    return TM_OK;
}

tm_status tm_concat(tm_tape *t, tm_tensor **xs, int n, tm_tensor **out)
{
    char s0[64], sk[64];
    if (!out)
        return tm_error(TM_ERR_ARG, "concat: no output pointer");
    *out = NULL;
    if (!t || !xs)
        return tm_error(TM_ERR_ARG, "concat: missing tape or inputs");
    if (n < 1 || n > TM_TAPE_MAX_IN)
        return tm_error(TM_ERR_ARG, "concat: %d inputs (1..%d allowed)", n, TM_TAPE_MAX_IN);
    for (int k = 0; k < n; k++)
        if (!xs[k])
            return tm_error(TM_ERR_ARG, "concat: input %d is missing", k);
    tm_shape_str(xs[0]->ndim, xs[0]->shape, s0, sizeof s0);
    int rows = xs[0]->shape[0], width = 0;
    for (int k = 0; k < n; k++) {
        tm_tensor *x = xs[k];
        if (x->ndim != 2 || x->shape[0] != rows)
            return tm_error(TM_ERR_SHAPE,
                            "concat: input %d is %s but input 0 is %s (expected (N,F) with "
                            "the same N)",
                            k, tm_shape_str(x->ndim, x->shape, sk, sizeof sk), s0);
        width += x->shape[1];
    }
    int shape[2] = {rows, width};
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, 2, shape, xs, n));
    int off = 0;
    for (int k = 0; k < n; k++) {
        int f = xs[k]->shape[1];
        for (int i = 0; i < rows; i++)
            memcpy(y->data + (size_t)i * (size_t)width + off,
                   xs[k]->data + (size_t)i * (size_t)f, (size_t)f * sizeof(float));
        off += f;
    }
    TM_TRY(tm_tape_record(t, "concat", concat_backward, xs, n, y, NULL));
    *out = y;
    return TM_OK;
}
