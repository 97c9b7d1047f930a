#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tm_im2col.h"
#include "tm_ops.h"

/* Pooling windows never overlap planes, so work is split over the N*C
 * planes and backward needs no per-worker partials. */

typedef struct {
    int h, w, ho, wo, size, stride;
} pool_geom;

static tm_status pool_geom_init(pool_geom *g, const char *op, const tm_tensor *x, int size,
                                int stride)
{
    char sx[64];
    tm_shape_str(x->ndim, x->shape, sx, sizeof sx);
    if (x->ndim != 4)
        return tm_error(TM_ERR_SHAPE, "%s: input %s has %d dimensions, expected (N,C,H,W)", op,
                        sx, x->ndim);
    if (size < 1 || stride < 1)
        return tm_error(TM_ERR_ARG, "%s: window %d and stride %d (both must be at least 1)", op,
                        size, stride);
    g->h = x->shape[2];
    g->w = x->shape[3];
    g->size = size;
    g->stride = stride;
    g->ho = g->h < size ? 0 : (g->h - size) / stride + 1;
    g->wo = g->w < size ? 0 : (g->w - size) / stride + 1;
    if (g->ho <= 0 || g->wo <= 0)
        return tm_error(TM_ERR_SHAPE, "%s: window %dx%d does not fit input %s", op, size, size,
                        sx);
    return TM_OK;
}

typedef struct {
    const pool_geom *g;
    const float *x, *dy;
    float *y, *dx;
    int32_t *idx;   /* max pool: argmax per output, offset within the plane */
} pool_arg;

/* Selects rather than branches: window maxima of real data are unpredictable. */
static inline void take_max(float v, int i, float *best, int *best_i)
{
    /* Strict >: ties go to the first element, as PyTorch. The index is
     * blended with a mask because gcc turns a ?: on it into a branch. */
    int gt = v > *best, m = -gt;
    *best = gt ? v : *best;
    *best_i = (i & m) | (*best_i & ~m);
}

#if defined(__clang__)
#define TM_EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6)
#define TM_ODD(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7)
#elif defined(__GNUC__)
#define TM_EVEN(a, b) __builtin_shuffle(a, b, (tm_v4i){0, 2, 4, 6})
#define TM_ODD(a, b) __builtin_shuffle(a, b, (tm_v4i){1, 3, 5, 7})
#endif

typedef int32_t tm_v4i __attribute__((vector_size(16)));

/* 2x2 stride-2 windows of rows r0, r1, four outputs at a time, with the
 * argmax; returns how many outputs it did (the rest go scalar). */
static int max2x2_idx_v4(const float *r0, const float *r1, int wo_n, int w, int row0, float *y,
                         int32_t *idx)
{
#ifdef TM_EVEN
    const tm_v4i one = {1, 1, 1, 1}, lane2 = {0, 2, 4, 6};
    const tm_v4i down = {w, w, w, w};
    int wo = 0;
    for (; wo + 4 <= wo_n; wo += 4) {
        const int c = 2 * wo;
        tm_v4f a0 = tm_v4f_load(r0 + c), a1 = tm_v4f_load(r0 + c + 4);
        tm_v4f b0 = tm_v4f_load(r1 + c), b1 = tm_v4f_load(r1 + c + 4);
        tm_v4f cand[3] = {TM_ODD(a0, a1), TM_EVEN(b0, b1), TM_ODD(b0, b1)};
        const tm_v4i off[3] = {one, down, down + one};
        tm_v4f best = TM_EVEN(a0, a1);
        tm_v4i pos = {0, 0, 0, 0};
        /* Window order: ties keep the earlier element, as the scalar path. */
        for (int k = 0; k < 3; k++) {
            tm_v4i m = cand[k] > best;
            best = (tm_v4f)(((tm_v4i)cand[k] & m) | ((tm_v4i)best & ~m));
            pos = (off[k] & m) | (pos & ~m);
        }
        tm_v4f_store(y + wo, best);
        tm_v4i at = pos + lane2 + (row0 + c);
        memcpy(idx + wo, &at, sizeof at);
    }
    return wo;
#else
    (void)r0, (void)r1, (void)wo_n, (void)w, (void)row0, (void)y, (void)idx;
    return 0;
#endif
}

static void maxpool_fwd_range(void *v, int begin, int end, int worker)
{
    (void)worker;
    const pool_arg *a = v;
    const pool_geom *g = a->g;
    const size_t in_plane = (size_t)g->h * (size_t)g->w, out_plane = (size_t)g->ho * (size_t)g->wo;
    const int two = g->size == 2 && g->stride == 2;
    for (int pl = begin; pl < end; pl++) {
        const float *x = a->x + (size_t)pl * in_plane;
        float *y = a->y + (size_t)pl * out_plane;
        int32_t *idx = a->idx ? a->idx + (size_t)pl * out_plane : NULL;
        for (int ho = 0; ho < g->ho; ho++) {
            float *yr = y + (size_t)ho * (size_t)g->wo;
            int32_t *ir = idx ? idx + (size_t)ho * (size_t)g->wo : NULL;
            const int row0 = ho * g->stride * g->w;
            if (two) {
                const float *r0 = x + row0, *r1 = r0 + g->w;
                int wo = ir ? max2x2_idx_v4(r0, r1, g->wo, g->w, row0, yr, ir) : 0;
                for (; wo < g->wo; wo++) {
                    int i = 2 * wo, bi = row0 + i;
                    float best = r0[i];
                    take_max(r0[i + 1], row0 + i + 1, &best, &bi);
                    take_max(r1[i], row0 + g->w + i, &best, &bi);
                    take_max(r1[i + 1], row0 + g->w + i + 1, &best, &bi);
                    yr[wo] = best;
                    if (ir)
                        ir[wo] = bi;
                }
                continue;
            }
            for (int wo = 0; wo < g->wo; wo++) {
                int base = row0 + wo * g->stride, bi = base;
                float best = x[base];
                for (int i = 0; i < g->size; i++) {
                    const int row = base + i * g->w;
                    for (int j = 0; j < g->size; j++)
                        take_max(x[row + j], row + j, &best, &bi);
                }
                yr[wo] = best;
                if (ir)
                    ir[wo] = bi;
            }
        }
    }
}

static void maxpool_bwd_range(void *v, int begin, int end, int worker)
{
    (void)worker;
    const pool_arg *a = v;
    const pool_geom *g = a->g;
    const size_t in_plane = (size_t)g->h * (size_t)g->w, out_plane = (size_t)g->ho * (size_t)g->wo;
    for (int pl = begin; pl < end; pl++) {
        float *dx = a->dx + (size_t)pl * in_plane;
        const float *dy = a->dy + (size_t)pl * out_plane;
        const int32_t *idx = a->idx + (size_t)pl * out_plane;
        for (size_t o = 0; o < out_plane; o++)
            dx[idx[o]] += dy[o];
    }
}

typedef struct {
    pool_geom g;
    int32_t *idx;
} maxpool_ctx;

static tm_status maxpool_backward(tm_tape *t, tm_tape_node *node)
{
    const maxpool_ctx *c = node->ctx;
    tm_tensor *x = node->in[0];
    if (!x->requires_grad || !x->grad)
        return TM_OK;
    pool_arg a = {&c->g, NULL, node->out->grad, NULL, x->grad, c->idx};
    tm_pool_run(t->pool, x->shape[0] * x->shape[1], maxpool_bwd_range, &a);
    return TM_OK;
}

tm_status tm_maxpool2d(tm_tape *t, tm_tensor *x, int size, int stride, tm_tensor **out)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "maxpool2d: no output pointer");
    *out = NULL;
    if (!t || !x)
        return tm_error(TM_ERR_ARG, "maxpool2d: missing tape or input");
    pool_geom g;
    TM_TRY(pool_geom_init(&g, "maxpool2d", x, size, stride));
    const int shape[4] = {x->shape[0], x->shape[1], g.ho, g.wo};
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, 4, shape, &x, 1));
    maxpool_ctx *c = NULL;
    if (y->requires_grad) {
        c = tm_tape_alloc(t, sizeof *c);
        if (!c || !(c->idx = tm_tape_alloc(t, sizeof(int32_t) * y->size)))
            return TM_ERR_NOMEM;
        c->g = g;
    }
    pool_arg a = {&g, x->data, NULL, y->data, NULL, c ? c->idx : NULL};
    tm_pool_run(t->pool, x->shape[0] * x->shape[1], maxpool_fwd_range, &a);
    if (c)
        TM_TRY(tm_tape_record(t, "maxpool2d", maxpool_backward, &x, 1, y, c));
    *out = y;
    return TM_OK;
}

static void avgpool_fwd_range(void *v, int begin, int end, int worker)
{
    (void)worker;
    const pool_arg *a = v;
    const pool_geom *g = a->g;
    const size_t in_plane = (size_t)g->h * (size_t)g->w, out_plane = (size_t)g->ho * (size_t)g->wo;
    const float inv = 1.0f / (float)(g->size * g->size);
    for (int pl = begin; pl < end; pl++) {
        const float *x = a->x + (size_t)pl * in_plane;
        float *y = a->y + (size_t)pl * out_plane;
        for (int ho = 0; ho < g->ho; ho++) {
            for (int wo = 0; wo < g->wo; wo++) {
                const float *win = x + (size_t)(ho * g->stride) * (size_t)g->w +
                                   (size_t)(wo * g->stride);
                float s = 0.0f;
                for (int i = 0; i < g->size; i++)
                    for (int j = 0; j < g->size; j++)
                        s += win[i * g->w + j];
                y[ho * g->wo + wo] = s * inv;
            }
        }
    }
}

static void avgpool_bwd_range(void *v, int begin, int end, int worker)
{
    (void)worker;
    const pool_arg *a = v;
    const pool_geom *g = a->g;
    const size_t in_plane = (size_t)g->h * (size_t)g->w, out_plane = (size_t)g->ho * (size_t)g->wo;
    const float inv = 1.0f / (float)(g->size * g->size);
    for (int pl = begin; pl < end; pl++) {
        float *dx = a->dx + (size_t)pl * in_plane;
        const float *dy = a->dy + (size_t)pl * out_plane;
        for (int ho = 0; ho < g->ho; ho++) {
            for (int wo = 0; wo < g->wo; wo++) {
                float *win = dx + (size_t)(ho * g->stride) * (size_t)g->w +
                             (size_t)(wo * g->stride);
                const float d = dy[ho * g->wo + wo] * inv;
                for (int i = 0; i < g->size; i++)
                    for (int j = 0; j < g->size; j++)
                        win[i * g->w + j] += d;
            }
        }
    }
}

static tm_status avgpool_backward(tm_tape *t, tm_tape_node *node)
{
    tm_tensor *x = node->in[0];
    if (!x->requires_grad || !x->grad)
        return TM_OK;
    pool_arg a = {node->ctx, NULL, node->out->grad, NULL, x->grad, NULL};
    tm_pool_run(t->pool, x->shape[0] * x->shape[1], avgpool_bwd_range, &a);
    return TM_OK;
}

tm_status tm_avgpool2d(tm_tape *t, tm_tensor *x, int size, int stride, tm_tensor **out)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "avgpool2d: no output pointer");
    *out = NULL;
    if (!t || !x)
        return tm_error(TM_ERR_ARG, "avgpool2d: missing tape or input");
    pool_geom g;
    TM_TRY(pool_geom_init(&g, "avgpool2d", x, size, stride));
    const int shape[4] = {x->shape[0], x->shape[1], g.ho, g.wo};
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, 4, shape, &x, 1));
    pool_arg a = {&g, x->data, NULL, y->data, NULL, NULL};
    tm_pool_run(t->pool, x->shape[0] * x->shape[1], avgpool_fwd_range, &a);
    if (y->requires_grad) {
        pool_geom *c = tm_tape_alloc(t, sizeof *c);
        if (!c)
            return TM_ERR_NOMEM;
        *c = g;
        TM_TRY(tm_tape_record(t, "avgpool2d", avgpool_backward, &x, 1, y, c));
    }
    *out = y;
    return TM_OK;
}

typedef struct {
    int plane;
    const float *x, *dy;
    float *y, *dx;
} gap_arg;

static void gap_fwd_range(void *v, int begin, int end, int worker)
{
    (void)worker;
    const gap_arg *a = v;
    const float inv = 1.0f / (float)a->plane;
    for (int pl = begin; pl < end; pl++)
        a->y[pl] = tm_vec_sum(a->plane, a->x + (size_t)pl * (size_t)a->plane) * inv;
}

static void gap_bwd_range(void *v, int begin, int end, int worker)
{
    (void)worker;
    const gap_arg *a = v;
    const float inv = 1.0f / (float)a->plane;
    for (int pl = begin; pl < end; pl++) {
        float *dx = a->dx + (size_t)pl * (size_t)a->plane;
        const float d = a->dy[pl] * inv;
        for (int i = 0; i < a->plane; i++)
            dx[i] += d;
    }
}

static tm_status gap_backward(tm_tape *t, tm_tape_node *node)
{
    tm_tensor *x = node->in[0];
    if (!x->requires_grad || !x->grad)
        return TM_OK;
    gap_arg a = {x->shape[2] * x->shape[3], NULL, node->out->grad, NULL, x->grad};
    tm_pool_run(t->pool, x->shape[0] * x->shape[1], gap_bwd_range, &a);
    return TM_OK;
}

tm_status tm_global_avgpool(tm_tape *t, tm_tensor *x, tm_tensor **out)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "global_avgpool: no output pointer");
    *out = NULL;
    if (!t || !x)
        return tm_error(TM_ERR_ARG, "global_avgpool: missing tape or input");
    if (x->ndim != 4) {
        char sx[64];
        return tm_error(TM_ERR_SHAPE,
                        "global_avgpool: input %s has %d dimensions, expected (N,C,H,W)",
                        tm_shape_str(x->ndim, x->shape, sx, sizeof sx), x->ndim);
    }
    const int shape[2] = {x->shape[0], x->shape[1]};
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, 2, shape, &x, 1));
    gap_arg a = {x->shape[2] * x->shape[3], x->data, NULL, y->data, NULL};
    tm_pool_run(t->pool, x->shape[0] * x->shape[1], gap_fwd_range, &a);
    TM_TRY(tm_tape_record(t, "global_avgpool", gap_backward, &x, 1, y, NULL));
    *out = y;
    return TM_OK;
}
