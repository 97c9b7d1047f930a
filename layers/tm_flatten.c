#include <string.h>

#include "tm_ops.h"

/* A view costs no copy and no node: the output's grad is x's grad, so
 * whatever flows into it has already reached x. */
tm_status tm_flatten(tm_tape *t, tm_tensor *x, tm_tensor **out)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "flatten: no output pointer");
    *out = NULL;
    if (!t || !x)
        return tm_error(TM_ERR_ARG, "flatten: missing tape or input");
    tm_tensor *y = tm_tape_alloc(t, sizeof *y);
    if (!y)
        return TM_ERR_NOMEM;
    memset(y, 0, sizeof *y);
    y->data = x->data;
    y->size = x->size;
    y->ndim = 2;
    y->shape[0] = x->shape[0];
    y->shape[1] = (int)(x->size / (size_t)x->shape[0]);
    y->requires_grad = x->requires_grad && x->grad && t->grad_enabled;
    y->grad = y->requires_grad ? x->grad : NULL;
    y->owns = 0;
    *out = y;
    return TM_OK;
}
