#include <stddef.h>
#include <string.h>

#include "tm_im2col.h"
#include "tm_ops.h"

/* Direct loops, one plane at a time.
 *
 * Stride 1 (the separable convs of the models): the plane is copied into a
 * zero-bordered buffer whose rows are Wp = Wo + kw - 1 wide. Then every
 * output of the Ho x Wp grid is sum_t k[t] * xp[p + off[t]] with
 * off[t] = i * Wp + j, one flat vector loop with no bounds tests; the kw - 1
 * extra columns per row are computed and dropped. Backward reuses the same
 * loop: dx is dy zero-bordered and correlated with the reversed kernel, and
 * dk[t] = sum_p dy_grid[p] * xp[p + off[t]].
 *
 * Other strides use per-row loops over the valid column range of each tap
 * (stride 1 would work there too, only slower). */

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
                for (int wo = lo; wo < hi; wo++)
                    o[wo] += kv * xr[wo * s + off];
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
                for (int wo = lo; wo < hi; wo++)
                    xr[wo * s + off] += kv * d[wo];
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
                float acc = 0.0f;
                for (int wo = lo; wo < hi; wo++)
                    acc += d[wo] * xr[wo * s + off];
                dk[i * g->kw + j] += acc;
            }
        }
    }
}

#define FLAT_BLOCK 16

static int round_up(int n, int m) { return (n + m - 1) / m * m; }

/* Buffer layout for the stride-1 path. */
typedef struct {
    int wp, lf;        /* input grid of forward and dk: width, flat output length */
    int wq, lq;        /* input grid of dx: width W + kw - 1, flat output length */
    int xp_n, dyp_n;   /* floats in the bordered buffers, with read slack */
} flat_geom;

static void flat_geom_init(flat_geom *f, const tm_conv_geom *g)
{
    f->wp = g->wo + g->kw - 1;
    f->lf = round_up(g->ho * f->wp, FLAT_BLOCK);
    f->xp_n = round_up(f->lf + (g->kh - 1) * f->wp + g->kw - 1, FLAT_BLOCK);
    f->wq = g->w + g->kw - 1;
    f->lq = round_up(g->h * f->wq, FLAT_BLOCK);
    f->dyp_n = round_up(f->lq + (g->kh - 1) * f->wq + g->kw - 1, FLAT_BLOCK);
}

/* out[p] = start + sum_t k[t] * in[p + off[t]] for p < len (a multiple of
 * FLAT_BLOCK); four independent accumulators hide the add latency. */
static void corr_flat(const float *in, const int *off, const float *k, int taps, float start,
                      int len, float *out)
{
    const tm_v4f s = {start, start, start, start};
    for (int base = 0; base < len; base += FLAT_BLOCK) {
        tm_v4f a0 = s, a1 = s, a2 = s, a3 = s;
        const float *p = in + base;
        for (int t = 0; t < taps; t++) {
            const float *q = p + off[t];
            const tm_v4f kv = {k[t], k[t], k[t], k[t]};
            a0 += kv * tm_v4f_load(q);
            a1 += kv * tm_v4f_load(q + 4);
            a2 += kv * tm_v4f_load(q + 8);
            a3 += kv * tm_v4f_load(q + 12);
        }
        tm_v4f_store(out + base, a0);
        tm_v4f_store(out + base + 4, a1);
        tm_v4f_store(out + base + 8, a2);
        tm_v4f_store(out + base + 12, a3);
    }
}

/* dk[t] += sum_p d[p] * in[p + off[t]] for p < len (a multiple of 4). */
static void dk_flat(const float *d, const float *in, const int *off, int taps, int len,
                    float *dk)
{
    if (taps == 9) {
        /* 3x3: one pass over d with a register per tap. */
        tm_v4f a[9] = {{0}};
        for (int p = 0; p < len; p += 4) {
            const tm_v4f dv = tm_v4f_load(d + p);
            const float *q = in + p;
            a[0] += dv * tm_v4f_load(q + off[0]);
            a[1] += dv * tm_v4f_load(q + off[1]);
            a[2] += dv * tm_v4f_load(q + off[2]);
            a[3] += dv * tm_v4f_load(q + off[3]);
            a[4] += dv * tm_v4f_load(q + off[4]);
            a[5] += dv * tm_v4f_load(q + off[5]);
            a[6] += dv * tm_v4f_load(q + off[6]);
            a[7] += dv * tm_v4f_load(q + off[7]);
            a[8] += dv * tm_v4f_load(q + off[8]);
        }
        for (int t = 0; t < 9; t++)
            dk[t] += tm_v4f_hsum(a[t]);
        return;
    }
    for (int t = 0; t < taps; t++)
        dk[t] += tm_vec_dot(len, d, in + off[t]);
}

/* Copies plane src (rows x cols) into dst at (top, left) of a grid `width` wide. */
static void place(const float *src, int rows, int cols, float *dst, int width, int top,
                  int left)
{
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)(top + r) * (size_t)width + left, src + (size_t)r * (size_t)cols,
               sizeof(float) * (size_t)cols);
}

typedef struct {
    const tm_conv_geom *g;
    const flat_geom *f;      /* NULL: stride is not 1 */
    const int *off;          /* forward / dk tap offsets in the Wp grid */
    const float *x, *w, *b;
    float *y;
    float *scratch;          /* per worker: xp_n + lf floats */
} dw_fwd_arg;

static void dw_fwd_range(void *v, int begin, int end, int worker)
{
    const dw_fwd_arg *a = v;
    const tm_conv_geom *g = a->g;
    const flat_geom *f = a->f;
    const size_t in_plane = (size_t)g->h * (size_t)g->w, out_plane = (size_t)g->ho * (size_t)g->wo;
    const int kk = g->kh * g->kw;
    float *xp = NULL, *yp = NULL;
    if (f) {
        xp = a->scratch + (size_t)worker * (size_t)(f->xp_n + f->lf);
        yp = xp + f->xp_n;
        memset(xp, 0, sizeof(float) * (size_t)f->xp_n); /* the border stays zero */
    }
    for (int n = begin; n < end; n++) {
        for (int c = 0; c < g->c; c++) {
            size_t nc = (size_t)n * (size_t)g->c + (size_t)c;
            const float *x = a->x + nc * in_plane, *k = a->w + (size_t)c * (size_t)kk;
            float *y = a->y + nc * out_plane, bias = a->b ? a->b[c] : 0.0f;
            if (!f) {
                dw_plane_forward(x, k, bias, g, y);
                continue;
            }
            place(x, g->h, g->w, xp, f->wp, g->pad_top, g->pad_left);
            corr_flat(xp, a->off, k, kk, bias, f->lf, yp);
            for (int ho = 0; ho < g->ho; ho++)
                memcpy(y + (size_t)ho * (size_t)g->wo, yp + (size_t)ho * (size_t)f->wp,
                       sizeof(float) * (size_t)g->wo);
        }
    }
}

typedef struct {
    const tm_conv_geom *g;
    const flat_geom *f;     /* NULL: stride is not 1 */
    const int *off;         /* tap offsets in the Wp grid (dk) */
    const int *off_dx;      /* reversed-kernel tap offsets in the Wq grid (dx) */
    const float *x, *w, *dy;
    float *dx;              /* NULL when x needs no gradient */
    float *dw;              /* per-worker C x kh x kw partials, or NULL */
    float *db;              /* per-worker C partials, or NULL */
    float *scratch;         /* per worker: scratch_n floats, or NULL */
    size_t scratch_n;
    int *used;              /* per worker: 1 once its partials hold data */
} dw_bwd_arg;

static void dw_bwd_range(void *v, int begin, int end, int worker)
{
    const dw_bwd_arg *a = v;
    const tm_conv_geom *g = a->g;
    const flat_geom *f = a->f;
    const size_t in_plane = (size_t)g->h * (size_t)g->w, out_plane = (size_t)g->ho * (size_t)g->wo;
    const int kk = g->kh * g->kw;
    float *dw = a->dw ? a->dw + (size_t)worker * (size_t)g->c * (size_t)kk : NULL;
    float *db = a->db ? a->db + (size_t)worker * (size_t)g->c : NULL;
    if (dw)
        memset(dw, 0, sizeof(float) * (size_t)g->c * (size_t)kk);
    if (db)
        memset(db, 0, sizeof(float) * (size_t)g->c);
    /* Stride-1 buffers; their borders are zeroed once and never written. */
    float *xp = NULL, *dyq = NULL, *dyp = NULL, *dxp = NULL;
    if (f) {
        float *base = a->scratch + (size_t)worker * a->scratch_n, *s = base;
        if (dw) {
            xp = s;
            dyq = xp + f->xp_n;
            s = dyq + f->lf;
        }
        if (a->dx) {
            dyp = s;
            dxp = dyp + f->dyp_n;
            s = dxp + f->lq;
        }
        memset(base, 0, sizeof(float) * (size_t)(s - base));
    }
    for (int n = begin; n < end; n++) {
        for (int c = 0; c < g->c; c++) {
            size_t nc = (size_t)n * (size_t)g->c + (size_t)c;
            const float *dyc = a->dy + nc * out_plane, *x = a->x + nc * in_plane;
            const float *k = a->w + (size_t)c * (size_t)kk;
            if (db)
                db[c] += tm_vec_sum((int)out_plane, dyc);
            if (!f) {
                if (a->dx)
                    dw_plane_dx(dyc, k, g, a->dx + nc * in_plane);
                if (dw)
                    dw_plane_dk(x, dyc, g, dw + (size_t)c * (size_t)kk);
                continue;
            }
            if (a->dx) {
                float *dx = a->dx + nc * in_plane;
                place(dyc, g->ho, g->wo, dyp, f->wq, g->kh - 1 - g->pad_top,
                      g->kw - 1 - g->pad_left);
                corr_flat(dyp, a->off_dx, k, kk, 0.0f, f->lq, dxp);
                for (int h = 0; h < g->h; h++)
                    tm_vec_add(g->w, dxp + (size_t)h * (size_t)f->wq,
                               dx + (size_t)h * (size_t)g->w);
            }
            if (dw) {
                place(x, g->h, g->w, xp, f->wp, g->pad_top, g->pad_left);
                place(dyc, g->ho, g->wo, dyq, f->wp, 0, 0);
                dk_flat(dyq, xp, a->off, kk, f->lf, dw + (size_t)c * (size_t)kk);
            }
        }
    }
    a->used[worker] = 1;
}


/* Saved for backward; x, w and b are the node's inputs. */
typedef struct {
    tm_conv_geom g;
    flat_geom f;
    int flat;               /* stride 1: f and the offsets are valid */
    int *off, *off_dx;
} dw_ctx;

/* Tap offsets: off[i*kw+j] = i*wp + j; off_dx the same taps reversed in the
 * wq grid, so that dx correlates with the reversed kernel. */
static tm_status make_offsets(tm_tape *t, dw_ctx *c)
{
    const tm_conv_geom *g = &c->g;
    const int kk = g->kh * g->kw;
    c->off = tm_tape_alloc(t, sizeof(int) * 2 * (size_t)kk);
    if (!c->off)
        return TM_ERR_NOMEM;
    c->off_dx = c->off + kk;
    for (int i = 0; i < g->kh; i++) {
        for (int j = 0; j < g->kw; j++) {
            c->off[i * g->kw + j] = i * c->f.wp + j;
            c->off_dx[i * g->kw + j] = (g->kh - 1 - i) * c->f.wq + (g->kw - 1 - j);
        }
    }
    return TM_OK;
}

static tm_status dw_backward(tm_tape *t, tm_tape_node *node)
{
    const dw_ctx *c = node->ctx;
    const tm_conv_geom *g = &c->g;
    tm_tensor *x = node->in[0], *w = node->in[1];
    tm_tensor *b = node->n_in > 2 ? node->in[2] : NULL;
    int need_dx = x->requires_grad && x->grad;
    int need_dw = w->requires_grad && w->grad;
    int need_db = b && b->requires_grad && b->grad;
    if (!need_dx && !need_dw && !need_db)
        return TM_OK;
    const int nw = tm_pool_size(t->pool);
    const size_t nk = (size_t)g->c * (size_t)g->kh * (size_t)g->kw;
    dw_bwd_arg a = {g, c->flat ? &c->f : NULL, c->off, c->off_dx, x->data, w->data,
                    node->out->grad, need_dx ? x->grad : NULL, NULL, NULL, NULL, 0, NULL};
    /* Scratch comes from the arena here, on the calling thread. */
    a.used = tm_tape_alloc(t, sizeof(int) * (size_t)nw);
    if (!a.used)
        return TM_ERR_NOMEM;
    memset(a.used, 0, sizeof(int) * (size_t)nw);
    if (need_dw && !(a.dw = tm_tape_alloc(t, sizeof(float) * (size_t)nw * nk)))
        return TM_ERR_NOMEM;
    if (need_db && !(a.db = tm_tape_alloc(t, sizeof(float) * (size_t)nw * (size_t)g->c)))
        return TM_ERR_NOMEM;
    if (c->flat && (need_dx || need_dw)) {
        a.scratch_n = (need_dw ? (size_t)(c->f.xp_n + c->f.lf) : 0) +
                      (need_dx ? (size_t)(c->f.dyp_n + c->f.lq) : 0);
        if (!(a.scratch = tm_tape_alloc(t, sizeof(float) * (size_t)nw * a.scratch_n)))
            return TM_ERR_NOMEM;
    }
    tm_pool_run(t->pool, x->shape[0], dw_bwd_range, &a);
    if (need_dw)
        tm_reduce_partials(w->grad, a.dw, nk, a.used, nw);
    if (need_db)
        tm_reduce_partials(b->grad, a.db, (size_t)g->c, a.used, nw);
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
    dw_ctx ctx = {0};
    TM_TRY(tm_conv_geom_init(&ctx.g, "depthwise_conv2d", x, w, p));
    const tm_conv_geom *g = &ctx.g;
    ctx.flat = g->stride == 1;

    tm_tensor *in[3] = {x, w, b};
    const int n_in = b ? 3 : 2;
    const int shape[4] = {x->shape[0], g->c, g->ho, g->wo};
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, 4, shape, in, n_in));
    dw_fwd_arg a = {g, NULL, NULL, x->data, w->data, b ? b->data : NULL, y->data, NULL};
    if (ctx.flat) {
        flat_geom_init(&ctx.f, g);
        TM_TRY(make_offsets(t, &ctx));
        a.f = &ctx.f;
        a.off = ctx.off;
        a.scratch = tm_tape_alloc(t, sizeof(float) * (size_t)tm_pool_size(t->pool) *
                                         (size_t)(ctx.f.xp_n + ctx.f.lf));
        if (!a.scratch)
            return TM_ERR_NOMEM;
    }
    tm_pool_run(t->pool, x->shape[0], dw_fwd_range, &a);

    if (y->requires_grad) {
        dw_ctx *c = tm_tape_alloc(t, sizeof *c);
        if (!c)
            return TM_ERR_NOMEM;
        *c = ctx;
        TM_TRY(tm_tape_record(t, "depthwise_conv2d", dw_backward, in, n_in, y, c));
    }
    *out = y;
    return TM_OK;
}
