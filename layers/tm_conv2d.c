#include <stddef.h>
#include <string.h>

#include "tm_blas.h"
#include "tm_im2col.h"
#include "tm_ops.h"

/* Saved for backward; x, w and b are the node's inputs. */
typedef struct {
    tm_conv_geom g;
    int co;
} conv_ctx;

/* 1x1 stride-1 kernels see the input itself as the column matrix. */
static int is_pointwise(const tm_conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->stride == 1;
}

typedef struct {
    const tm_conv_geom *g;
    int co;
    const float *x, *w, *b;
    float *y;
    float *col;        /* one K x P buffer per worker, or NULL for pointwise */
} conv_fwd_arg;

static void conv_fwd_range(void *v, int begin, int end, int worker)
{
    const conv_fwd_arg *a = v;
    const tm_conv_geom *g = a->g;
    const int k = g->c * g->kh * g->kw, p = g->ho * g->wo;
    const size_t in_sz = (size_t)g->c * (size_t)g->h * (size_t)g->w;
    const size_t out_sz = (size_t)a->co * (size_t)p;
    float *col = a->col ? a->col + (size_t)worker * (size_t)k * (size_t)p : NULL;
    for (int n = begin; n < end; n++) {
        const float *xn = a->x + (size_t)n * in_sz;
        float *yn = a->y + (size_t)n * out_sz;
        const float *cols = xn;
        if (col) {
            tm_im2col(xn, g, col);
            cols = col;
        }
        if (a->b) {
            for (int o = 0; o < a->co; o++) {
                float *row = yn + (size_t)o * (size_t)p, bv = a->b[o];
                for (int i = 0; i < p; i++)
                    row[i] = bv;
            }
        }
        tm_sgemm(0, 0, a->co, p, k, 1.0f, a->w, k, cols, p, a->b ? 1.0f : 0.0f, yn, p);
    }
}

typedef struct {
    const tm_conv_geom *g;
    int co;
    const float *x, *w, *dy;
    float *dx;         /* NULL when x needs no gradient */
    float *col;        /* per-worker K x P scratch, or NULL */
    float *dw;         /* per-worker Co x K partials, or NULL */
    float *db;         /* per-worker Co partials, or NULL */
    int *used;         /* per worker: 1 once its partials hold data */
} conv_bwd_arg;

static void conv_bwd_range(void *v, int begin, int end, int worker)
{
    const conv_bwd_arg *a = v;
    const tm_conv_geom *g = a->g;
    const int k = g->c * g->kh * g->kw, p = g->ho * g->wo, co = a->co;
    const size_t in_sz = (size_t)g->c * (size_t)g->h * (size_t)g->w;
    const size_t out_sz = (size_t)co * (size_t)p;
    float *col = a->col ? a->col + (size_t)worker * (size_t)k * (size_t)p : NULL;
    float *dw = a->dw ? a->dw + (size_t)worker * (size_t)co * (size_t)k : NULL;
    float *db = a->db ? a->db + (size_t)worker * (size_t)co : NULL;
    for (int n = begin; n < end; n++) {
        const float *xn = a->x + (size_t)n * in_sz;
        const float *dyn = a->dy + (size_t)n * out_sz;
        /* The first sample of a worker overwrites its partials: no memset. */
        int first = n == begin;
        if (a->dx) {
            float *dxn = a->dx + (size_t)n * in_sz;
            if (!col) {
                tm_sgemm(1, 0, k, p, co, 1.0f, a->w, k, dyn, p, 1.0f, dxn, p);
            } else {
                tm_sgemm(1, 0, k, p, co, 1.0f, a->w, k, dyn, p, 0.0f, col, p);
                tm_col2im_add(col, g, dxn);
            }
        }
        if (dw) {
            const float *cols = xn;
            if (col) {
                tm_im2col(xn, g, col);
                cols = col;
            }
            tm_sgemm(0, 1, co, k, p, 1.0f, dyn, p, cols, p, first ? 0.0f : 1.0f, dw, k);
        }
        if (db) {
            for (int o = 0; o < co; o++) {
                float s = tm_vec_sum(p, dyn + (size_t)o * (size_t)p);
                db[o] = first ? s : db[o] + s;
            }
        }
    }
    if (begin < end)
        a->used[worker] = 1;
}


static tm_status conv_backward(tm_tape *t, tm_tape_node *node)
{
    const conv_ctx *c = node->ctx;
    const tm_conv_geom *g = &c->g;
    tm_tensor *x = node->in[0], *w = node->in[1];
    tm_tensor *b = node->n_in > 2 ? node->in[2] : NULL;
    int need_dx = x->requires_grad && x->grad;
    int need_dw = w->requires_grad && w->grad;
    int need_db = b && b->requires_grad && b->grad;
    if (!need_dx && !need_dw && !need_db)
        return TM_OK;

    const int n = x->shape[0], k = g->c * g->kh * g->kw, p = g->ho * g->wo;
    const int nw = tm_pool_size(t->pool);
    conv_bwd_arg a = {g, c->co, x->data, w->data, node->out->grad, need_dx ? x->grad : NULL,
                      NULL, NULL, NULL, NULL};
    /* Scratch comes from the arena here, on the calling thread. */
    a.used = tm_tape_alloc(t, sizeof(int) * (size_t)nw);
    if (!a.used)
        return TM_ERR_NOMEM;
    memset(a.used, 0, sizeof(int) * (size_t)nw);
    if (!is_pointwise(g) && (need_dx || need_dw)) {
        a.col = tm_tape_alloc(t, sizeof(float) * (size_t)nw * (size_t)k * (size_t)p);
        if (!a.col)
            return TM_ERR_NOMEM;
    }
    if (need_dw) {
        a.dw = tm_tape_alloc(t, sizeof(float) * (size_t)nw * (size_t)c->co * (size_t)k);
        if (!a.dw)
            return TM_ERR_NOMEM;
    }
    if (need_db) {
        a.db = tm_tape_alloc(t, sizeof(float) * (size_t)nw * (size_t)c->co);
        if (!a.db)
            return TM_ERR_NOMEM;
    }
    tm_pool_run(t->pool, n, conv_bwd_range, &a);
    if (need_dw)
        tm_reduce_partials(w->grad, a.dw, (size_t)c->co * (size_t)k, a.used, nw);
    if (need_db)
        tm_reduce_partials(b->grad, a.db, (size_t)c->co, a.used, nw);
    return TM_OK;
}

tm_status tm_conv2d(tm_tape *t, tm_tensor *x, tm_tensor *w, tm_tensor *b,
                    const tm_conv_params *p, tm_tensor **out)
{
    char sx[64], sw[64], sb[64];
    if (!out)
        return tm_error(TM_ERR_ARG, "conv2d: no output pointer");
    *out = NULL;
    if (!t || !x || !w)
        return tm_error(TM_ERR_ARG, "conv2d: missing tape, input or weight");
    tm_shape_str(x->ndim, x->shape, sx, sizeof sx);
    tm_shape_str(w->ndim, w->shape, sw, sizeof sw);
    if (x->ndim != 4)
        return tm_error(TM_ERR_SHAPE, "conv2d: input %s has %d dimensions, expected (N,C,H,W)",
                        sx, x->ndim);
    if (w->ndim != 4)
        return tm_error(TM_ERR_SHAPE,
                        "conv2d: weight %s has %d dimensions, expected (Co,Ci,kh,kw)", sw,
                        w->ndim);
    if (x->shape[1] != w->shape[1])
        return tm_error(TM_ERR_SHAPE,
                        "conv2d: input %s has %d channels, weight %s expects %d", sx,
                        x->shape[1], sw, w->shape[1]);
    const int co = w->shape[0];
    if (b && (b->ndim != 1 || b->shape[0] != co))
        return tm_error(TM_ERR_SHAPE, "conv2d: bias %s does not fit weight %s (expected %d)",
                        tm_shape_str(b->ndim, b->shape, sb, sizeof sb), sw, co);
    tm_conv_geom g;
    TM_TRY(tm_conv_geom_init(&g, "conv2d", x, w, p));

    tm_tensor *in[3] = {x, w, b};
    const int n_in = b ? 3 : 2, n = x->shape[0];
    const int shape[4] = {n, co, g.ho, g.wo};
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, 4, shape, in, n_in));

    conv_fwd_arg a = {&g, co, x->data, w->data, b ? b->data : NULL, y->data, NULL};
    if (!is_pointwise(&g)) {
        const int nw = tm_pool_size(t->pool);
        a.col = tm_tape_alloc(t, sizeof(float) * (size_t)nw * (size_t)g.c * (size_t)g.kh *
                                     (size_t)g.kw * (size_t)g.ho * (size_t)g.wo);
        if (!a.col)
            return TM_ERR_NOMEM;
    }
    tm_pool_run(t->pool, n, conv_fwd_range, &a);

    if (y->requires_grad) {
        conv_ctx *c = tm_tape_alloc(t, sizeof *c);
        if (!c)
            return TM_ERR_NOMEM;
        c->g = g;
        c->co = co;
        TM_TRY(tm_tape_record(t, "conv2d", conv_backward, in, n_in, y, c));
    }
    *out = y;
    return TM_OK;
}
