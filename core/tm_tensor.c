#include "tm_tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t tm_shape_size(int ndim, const int *shape)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    return n;
}

tm_status tm_tensor_new(tm_tensor **out, int ndim, const int *shape, int requires_grad)
{
    *out = NULL;
    if (ndim < 1 || ndim > TM_MAX_DIMS)
        return tm_error(TM_ERR_ARG, "tensor: %d dimensions (1..%d allowed)", ndim, TM_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0)
            return tm_error(TM_ERR_SHAPE, "tensor: dimension %d is %d", i, shape[i]);
    tm_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return tm_error(TM_ERR_NOMEM, "tensor: out of memory");
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int) * (size_t)ndim);
    t->size = tm_shape_size(ndim, shape);
    t->owns = 1;
    t->requires_grad = requires_grad;
    t->data = calloc(t->size, sizeof(float));
    if (requires_grad)
        t->grad = calloc(t->size, sizeof(float));
    if (!t->data || (requires_grad && !t->grad)) {
        size_t n = t->size;
        tm_tensor_free(t);
        return tm_error(TM_ERR_NOMEM, "tensor: out of memory for %zu floats", n);
    }
    *out = t;
    return TM_OK;
}

void tm_tensor_free(tm_tensor *t)
{
    if (!t)
        return;
    if (t->owns) {
        free(t->data);
        free(t->grad);
        free(t);
    }
}

size_t tm_tensor_stride(const tm_tensor *t, int dim)
{
    size_t s = 1;
    for (int i = dim + 1; i < t->ndim; i++)
        s *= (size_t)t->shape[i];
    return s;
}

int tm_tensor_same_shape(const tm_tensor *a, const tm_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

const char *tm_shape_str(int ndim, const int *shape, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && used < n; i++) {
        int w = snprintf(buf + used, n - used, i ? "x%d" : "%d", shape[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return buf;
}

void tm_tensor_zero_grad(tm_tensor *t)
{
    if (t->grad)
        memset(t->grad, 0, t->size * sizeof(float));
}

tm_status tm_check_finite(const float *x, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return tm_error(TM_ERR_NUMERIC, "%s: %s at element %zu", what,
                            isnan(x[i]) ? "NaN" : "infinity", i);
    return TM_OK;
}
