#include <stddef.h>
#include <string.h>

#include "tm_im2col.h"
#include "tm_ops.h"

/* Direct loops, one plane at a time. For each output row and kernel tap the
 * valid columns form one range, so stride 1 becomes contiguous vector
 * loops with no per-pixel bounds tests. */

/* Kernel rows i whose input row ho * stride - pad_top + i lies in the plane. */
static void tap_rows(const tm_conv_geom *g, int ho, int *i0, int *i1)
{
    int h0 = ho * g->stride - g->pad_top;
    *i0 = h0 < 0 ? -h0 : 0;
    *i1 = g->h - h0 < g->kh ? g->h - h0 : g->kh;
}

/* y = bias + correlation of one plane x with kernel k. */
static void dw_plane_forward(const float *x, const float *k, float bias, const tm_conv_geom *g,
                             float *y)
{
    const int s = g->stride;
    for (int ho = 0; ho < g->ho; ho++) {
        float *o = y + (size_t)ho * (size_t)g->wo;
        for (int wo = 0; wo < g->wo; wo++)
            o[wo] = bias;
        int i0, i1;
        tap_rows(g, ho, &i0, &i1);
        for (int i = i0; i < i1; i++) {
            const float *xr = x + (size_t)(ho * s - g->pad_top + i) * (size_t)g->w;
            for (int j = 0; j < g->kw; j++) {
                const float kv = k[i * g->kw + j];
                int off = j - g->pad_left, lo, hi;
                tm_conv_valid_range(g->wo, g->w, s, off, &lo, &hi);
                if (s == 1) {
                    tm_vec_axpy(hi - lo, kv, xr + lo + off, o + lo);
                } else {
                    for (int wo = lo; wo < hi; wo++)
                        o[wo] += kv * xr[wo * s + off];
                }
            }
        }
    }
}

/* dx += the plane's output gradient dy scattered through kernel k. */
static void dw_plane_dx(const float *dy, const float *k, const tm_conv_geom *g, float *dx)
{
    const int s = g->stride;
    for (int ho = 0; ho < g->ho; ho++) {
        const float *d = dy + (size_t)ho * (size_t)g->wo;
        int i0, i1;
        tap_rows(g, ho, &i0, &i1);
        for (int i = i0; i < i1; i++) {
            float *xr = dx + (size_t)(ho * s - g->pad_top + i) * (size_t)g->w;
            for (int j = 0; j < g->kw; j++) {
                const float kv = k[i * g->kw + j];
                int off = j - g->pad_left, lo, hi;
                tm_conv_valid_range(g->wo, g->w, s, off, &lo, &hi);
                if (s == 1) {
                    tm_vec_axpy(hi - lo, kv, d + lo, xr + lo + off);
                } else {
                    for (int wo = lo; wo < hi; wo++)
                        xr[wo * s + off] += kv * d[wo];
                }
            }
        }
    }
}

/* dk += correlation of the plane's input x with its output gradient dy. */
static void dw_plane_dk(const float *x, const float *dy, const tm_conv_geom *g, float *dk)
{
    const int s = g->stride;
    for (int ho = 0; ho < g->ho; ho++) {
        const float *d = dy + (size_t)ho * (size_t)g->wo;
        int i0, i1;
        tap_rows(g, ho, &i0, &i1);
        for (int i = i0; i < i1; i++) {
            const float *xr = x + (size_t)(ho * s - g->pad_top + i) * (size_t)g->w;
            for (int j = 0; j < g->kw; j++) {
                int off = j - g->pad_left, lo, hi;
                tm_conv_valid_range(g->wo, g->w, s, off, &lo, &hi);
                float acc;
                if (s == 1) {
                    acc = tm_vec_dot(hi - lo, d + lo, xr + lo + off);
                } else {
                    acc = 0.0f;
                    for (int wo = lo; wo < hi; wo++)
                        acc += d[wo] * xr[wo * s + off];
                }
                dk[i * g->kw + j] += acc;
            }
        }
    }
}

typedef struct {
    const tm_conv_geom *g;
    const float *x, *w, *b;
    float *y;
} dw_fwd_arg;

static void dw_fwd_range(void *v, int begin, int end, int worker)
{
    (void)worker;
    const dw_fwd_arg *a = v;
    const tm_conv_geom *g = a->g;
    const size_t in_plane = (size_t)g->h * (size_t)g->w, out_plane = (size_t)g->ho * (size_t)g->wo;
    const int kk = g->kh * g->kw;
    for (int n = begin; n < end; n++) {
        for (int c = 0; c < g->c; c++) {
            size_t nc = (size_t)n * (size_t)g->c + (size_t)c;
            dw_plane_forward(a->x + nc * in_plane, a->w + (size_t)c * (size_t)kk,
                             a->b ? a->b[c] : 0.0f, g, a->y + nc * out_plane);
        }
    }
}

typedef struct {
    const tm_conv_geom *g;
    const float *x, *w, *dy;
    float *dx;   /* NULL when x needs no gradient */
    float *dw;   /* per-worker C x kh x kw partials, or NULL */
    float *db;   /* per-worker C partials, or NULL */
    int *used;   /* per worker: 1 once its partials hold data */
} dw_bwd_arg;

static void dw_bwd_range(void *v, int begin, int end, int worker)
{
    const dw_bwd_arg *a = v;
    const tm_conv_geom *g = a->g;
    const size_t in_plane = (size_t)g->h * (size_t)g->w, out_plane = (size_t)g->ho * (size_t)g->wo;
    const int kk = g->kh * g->kw;
    float *dw = a->dw ? a->dw + (size_t)worker * (size_t)g->c * (size_t)kk : NULL;
    float *db = a->db ? a->db + (size_t)worker * (size_t)g->c : NULL;
    if (dw)
        memset(dw, 0, sizeof(float) * (size_t)g->c * (size_t)kk);
    if (db)
        memset(db, 0, sizeof(float) * (size_t)g->c);
    for (int n = begin; n < end; n++) {
        for (int c = 0; c < g->c; c++) {
            size_t nc = (size_t)n * (size_t)g->c + (size_t)c;
            const float *dyp = a->dy + nc * out_plane;
            if (a->dx)
                dw_plane_dx(dyp, a->w + (size_t)c * (size_t)kk, g, a->dx + nc * in_plane);
            if (dw)
                dw_plane_dk(a->x + nc * in_plane, dyp, g, dw + (size_t)c * (size_t)kk);
            if (db)
                db[c] += tm_vec_sum((int)out_plane, dyp);
        }
    }
    a->used[worker] = 1;
}

static void reduce_partials(float *dst, const float *part, size_t n, const int *used, int nw)
{
    for (size_t i = 0; i < n; i++) {
        float s = 0.0f;
        for (int w = 0; w < nw; w++)
            if (used[w])
                s += part[(size_t)w * n + i];
        dst[i] += s;
    }
}

static tm_status dw_backward(tm_tape *t, tm_tape_node *node)
{
    const tm_conv_geom *g = node->ctx;
    tm_tensor *x = node->in[0], *w = node->in[1];
    tm_tensor *b = node->n_in > 2 ? node->in[2] : NULL;
    int need_dx = x->requires_grad && x->grad;
    int need_dw = w->requires_grad && w->grad;
    int need_db = b && b->requires_grad && b->grad;
    if (!need_dx && !need_dw && !need_db)
        return TM_OK;
    const int nw = tm_pool_size(t->pool);
    const size_t nk = (size_t)g->c * (size_t)g->kh * (size_t)g->kw;
    dw_bwd_arg a = {g, x->data, w->data, node->out->grad, need_dx ? x->grad : NULL, NULL, NULL,
                    NULL};
    /* Scratch comes from the arena here, on the calling thread. */
    a.used = tm_tape_alloc(t, sizeof(int) * (size_t)nw);
    if (!a.used)
        return TM_ERR_NOMEM;
    memset(a.used, 0, sizeof(int) * (size_t)nw);
    if (need_dw && !(a.dw = tm_tape_alloc(t, sizeof(float) * (size_t)nw * nk)))
        return TM_ERR_NOMEM;
    if (need_db && !(a.db = tm_tape_alloc(t, sizeof(float) * (size_t)nw * (size_t)g->c)))
        return TM_ERR_NOMEM;
    tm_pool_run(t->pool, x->shape[0], dw_bwd_range, &a);
    if (need_dw)
        reduce_partials(w->grad, a.dw, nk, a.used, nw);
    if (need_db)
        reduce_partials(b->grad, a.db, (size_t)g->c, a.used, nw);
    return TM_OK;
}

tm_status tm_depthwise_conv2d(tm_tape *t, tm_tensor *x, tm_tensor *w, tm_tensor *b,
                              const tm_conv_params *p, tm_tensor **out)
{
    char sx[64], sw[64], sb[64];
    if (!out)
        return tm_error(TM_ERR_ARG, "depthwise_conv2d: no output pointer");
    *out = NULL;
    if (!t || !x || !w)
        return tm_error(TM_ERR_ARG, "depthwise_conv2d: missing tape, input or weight");
    tm_shape_str(x->ndim, x->shape, sx, sizeof sx);
    tm_shape_str(w->ndim, w->shape, sw, sizeof sw);
    if (x->ndim != 4)
        return tm_error(TM_ERR_SHAPE,
                        "depthwise_conv2d: input %s has %d dimensions, expected (N,C,H,W)", sx,
                        x->ndim);
    if (w->ndim != 4 || w->shape[1] != 1)
        return tm_error(TM_ERR_SHAPE,
                        "depthwise_conv2d: weight %s is not (C,1,kh,kw)", sw);
    if (x->shape[1] != w->shape[0])
        return tm_error(TM_ERR_SHAPE,
                        "depthwise_conv2d: input %s has %d channels, weight %s expects %d", sx,
                        x->shape[1], sw, w->shape[0]);
    if (b && (b->ndim != 1 || b->shape[0] != x->shape[1]))
        return tm_error(TM_ERR_SHAPE,
                        "depthwise_conv2d: bias %s does not fit weight %s (expected %d)",
                        tm_shape_str(b->ndim, b->shape, sb, sizeof sb), sw, w->shape[0]);
    tm_conv_geom g;
    TM_TRY(tm_conv_geom_init(&g, "depthwise_conv2d", x, w, p));

    tm_tensor *in[3] = {x, w, b};
    const int n_in = b ? 3 : 2;
    const int shape[4] = {x->shape[0], g.c, g.ho, g.wo};
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, 4, shape, in, n_in));
    dw_fwd_arg a = {&g, x->data, w->data, b ? b->data : NULL, y->data};
    tm_pool_run(t->pool, x->shape[0], dw_fwd_range, &a);

    if (y->requires_grad) {
        tm_conv_geom *c = tm_tape_alloc(t, sizeof *c);
        if (!c)
            return TM_ERR_NOMEM;
        *c = g;
        TM_TRY(tm_tape_record(t, "depthwise_conv2d", dw_backward, in, n_in, y, c));
    }
    *out = y;
    return TM_OK;
}
