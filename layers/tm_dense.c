#include <stddef.h>

#include "tm_blas.h"
#include "tm_ops.h"

static tm_status dense_backward(tm_tape *t, tm_tape_node *node)
{
    (void)t;
    tm_tensor *x = node->in[0], *w = node->in[1];
    tm_tensor *b = node->n_in > 2 ? node->in[2] : NULL;
    const float *dy = node->out->grad;
    int n = x->shape[0], in = x->shape[1], out = w->shape[0];
    if (x->grad)
        tm_sgemm(0, 0, n, in, out, 1.0f, dy, out, w->data, in, 1.0f, x->grad, in);
    if (w->grad)
        tm_sgemm(1, 0, out, in, n, 1.0f, dy, out, x->data, in, 1.0f, w->grad, in);
    if (b && b->grad) {
        for (int i = 0; i < n; i++) {
            const float *row = dy + (size_t)i * (size_t)out;
            for (int o = 0; o < out; o++)
                b->grad[o] += row[o];
        }
    }
    return TM_OK;
}

tm_status tm_dense(tm_tape *t, tm_tensor *x, tm_tensor *w, tm_tensor *b, tm_tensor **out)
{
    char sx[64], sw[64], sb[64];
    if (!out)
        return tm_error(TM_ERR_ARG, "dense: no output pointer");
    *out = NULL;
    if (!t || !x || !w)
        return tm_error(TM_ERR_ARG, "dense: missing tape, input or weight");
    tm_shape_str(x->ndim, x->shape, sx, sizeof sx);
    tm_shape_str(w->ndim, w->shape, sw, sizeof sw);
    if (x->ndim != 2 || w->ndim != 2 || x->shape[1] != w->shape[1])
        return tm_error(TM_ERR_SHAPE,
                        "dense: input %s and weight %s do not fit (expected (N,In) and (Out,In))",
                        sx, sw);
    int n = x->shape[0], in = x->shape[1], nout = w->shape[0];
    if (b && (b->ndim != 1 || b->shape[0] != nout))
        return tm_error(TM_ERR_SHAPE, "dense: bias %s does not fit weight %s (expected %d)",
                        tm_shape_str(b->ndim, b->shape, sb, sizeof sb), sw, nout);

    tm_tensor *in_t[3] = {x, w, b};
    int n_in = b ? 3 : 2;
    int shape[2] = {n, nout};
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, 2, shape, in_t, n_in));
    if (b) {
        for (int i = 0; i < n; i++) {
            float *row = y->data + (size_t)i * (size_t)nout;
            for (int o = 0; o < nout; o++)
                row[o] = b->data[o];
        }
    }
    tm_sgemm(0, 1, n, nout, in, 1.0f, x->data, in, w->data, in, b ? 1.0f : 0.0f, y->data, nout);
    TM_TRY(tm_tape_record(t, "dense", dense_backward, in_t, n_in, y, NULL));
    *out = y;
    return TM_OK;
}
