#include <stddef.h>

#include "tm_ops.h"

static tm_status add_backward(tm_tape *t, tm_tape_node *node)
{
    (void)t;
    const float *dy = node->out->grad;
    for (int k = 0; k < 2; k++) {
        float *dx = node->in[k]->grad;
        if (dx)
            for (size_t i = 0; i < node->out->size; i++)
                dx[i] += dy[i];
    }
    return TM_OK;
}

tm_status tm_add(tm_tape *t, tm_tensor *a, tm_tensor *b, tm_tensor **out)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "add: no output pointer");
    *out = NULL;
    if (!t || !a || !b)
        return tm_error(TM_ERR_ARG, "add: missing tape or input");
    int same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim; i++)
        same = a->shape[i] == b->shape[i];
    if (!same) {
        char sa[64], sb[64];
        return tm_error(TM_ERR_SHAPE, "add: the inputs are %s and %s (they must be equal)",
                        tm_shape_str(a->ndim, a->shape, sa, sizeof sa),
                        tm_shape_str(b->ndim, b->shape, sb, sizeof sb));
    }
    tm_tensor *in[2] = {a, b}, *y = NULL;
    TM_TRY(tm_tape_output(t, &y, a->ndim, a->shape, in, 2));
    for (size_t i = 0; i < y->size; i++)
        y->data[i] = a->data[i] + b->data[i];
    TM_TRY(tm_tape_record(t, "add", add_backward, in, 2, y, NULL));
    *out = y;
    return TM_OK;
}
