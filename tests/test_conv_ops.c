/* Convolution and pooling ops: hand-computed forwards, a direct-loop
 * reference for forward and backward (model-sized shapes included), finite
 * differences, thread-count invariance, accumulation and shape errors. */
#include <math.h>
#include <string.h>

#include "tm_gradcheck.h"
#include "tm_ops.h"
#include "tm_tape.h"
#include "tm_test_util.h"
#include "tm_threads.h"

/* Conv, depthwise and average pooling are linear in each single element,
 * so central differences have no truncation error and a large step keeps
 * float rounding small against near-zero gradients. Max pooling is only
 * piecewise linear; its inputs are spaced wider than 2 * FD_EPS_PW. */
#define FD_EPS_LIN 1e-1
#define FD_EPS_PW 1e-2
#define FD_TOL 1e-2

static tm_tensor *make(int ndim, const int *shape, const float *vals, int requires_grad)
{
    tm_tensor *x = NULL;
    TM_CK(tm_tensor_new(&x, ndim, shape, requires_grad));
    if (vals)
        memcpy(x->data, vals, x->size * sizeof(float));
    return x;
}

static tm_tensor *rnd(tm_rng *r, int ndim, const int *shape, int requires_grad)
{
    tm_tensor *x = tm_test_tensor(r, ndim, shape, -1.0f, 1.0f, requires_grad);
    ck_assert_ptr_nonnull(x);
    return x;
}

static void expect_close(const char *what, const float *got, const float *want, size_t n,
                         float tol)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabsf(got[i] - want[i]) <= tol * (1.0f + fabsf(want[i])),
                      "%s element %zu: got %.7g, expected %.7g", what, i, (double)got[i],
                      (double)want[i]);
}

static void gradcheck(tm_tape *t, tm_gradcheck_fn fn, void *ctx, tm_tensor **in, int n,
                      double eps)
{
    tm_gradcheck_report rep;
    TM_CK(tm_gradcheck(t, fn, ctx, in, n, eps, FD_TOL, &rep));
    size_t want = 0;
    for (int i = 0; i < n; i++)
        if (in[i] && in[i]->requires_grad)
            want += in[i]->size;
    ck_assert_uint_eq(rep.checked, want);
}

static void free_all(tm_tensor **in, int n)
{
    for (int i = 0; i < n; i++)
        tm_tensor_free(in[i]);
}

static tm_pool *pool_of(int n)
{
    if (n <= 1)
        return NULL;
    tm_pool *p = NULL;
    TM_CK(tm_pool_new(&p, n));
    return p;
}

/* ---- direct-loop reference (double accumulation, own padding rule) ---- */

typedef struct {
    int n, ci, h, w, co, kh, kw, stride;
    tm_padding pad;
    int depthwise; /* weight (C,1,kh,kw), co == ci */
} conv_case;

static int ref_out(int in, int k, int s, tm_padding pad)
{
    return pad == TM_PAD_SAME ? (in + s - 1) / s : (in - k) / s + 1;
}

static int ref_pad(int in, int k, int s, tm_padding pad)
{
    if (pad == TM_PAD_VALID)
        return 0;
    int total = (ref_out(in, k, s, pad) - 1) * s + k - in;
    return total > 0 ? total / 2 : 0;
}

/* Calls fn(x index, w index, y index) for every multiply of the convolution. */
#define REF_LOOP(c, BODY)                                                                    \
    do {                                                                                     \
        int ho_ = ref_out((c)->h, (c)->kh, (c)->stride, (c)->pad);                           \
        int wo_ = ref_out((c)->w, (c)->kw, (c)->stride, (c)->pad);                           \
        int pt_ = ref_pad((c)->h, (c)->kh, (c)->stride, (c)->pad);                           \
        int pl_ = ref_pad((c)->w, (c)->kw, (c)->stride, (c)->pad);                           \
        for (int n_ = 0; n_ < (c)->n; n_++)                                                  \
            for (int o_ = 0; o_ < (c)->co; o_++)                                             \
                for (int y_ = 0; y_ < ho_; y_++)                                             \
                    for (int x_ = 0; x_ < wo_; x_++)                                         \
                        for (int ic_ = 0; ic_ < (c)->ci; ic_++) {                            \
                            if ((c)->depthwise && ic_ != o_)                                 \
                                continue;                                                    \
                            for (int i_ = 0; i_ < (c)->kh; i_++)                             \
                                for (int j_ = 0; j_ < (c)->kw; j_++) {                       \
                                    int hh_ = y_ * (c)->stride - pt_ + i_;                   \
                                    int ww_ = x_ * (c)->stride - pl_ + j_;                   \
                                    if (hh_ < 0 || hh_ >= (c)->h || ww_ < 0 || ww_ >= (c)->w) \
                                        continue;                                            \
                                    size_t xi = (((size_t)n_ * (c)->ci + ic_) * (c)->h + hh_) * \
                                                    (c)->w + ww_;                            \
                                    size_t wi = (((size_t)o_ * ((c)->depthwise ? 1 : (c)->ci) + \
                                                  ((c)->depthwise ? 0 : ic_)) * (c)->kh + i_) * \
                                                    (c)->kw + j_;                            \
                                    size_t yi = (((size_t)n_ * (c)->co + o_) * ho_ + y_) * wo_ + \
                                                x_;                                          \
                                    size_t bi = (size_t)o_;                                  \
                                    (void)bi;                                                \
                                    BODY;                                                    \
                                }                                                            \
                        }                                                                    \
    } while (0)

static void ref_forward(const conv_case *c, const float *x, const float *w, const float *b,
                        double *y, size_t ny)
{
    for (size_t i = 0; i < ny; i++)
        y[i] = 0.0;
    REF_LOOP(c, y[yi] += (double)x[xi] * w[wi]);
    if (b) {
        size_t plane = ny / ((size_t)c->n * c->co);
        for (size_t i = 0; i < ny; i++)
            y[i] += b[(i / plane) % (size_t)c->co];
    }
}

static void ref_backward(const conv_case *c, const float *x, const float *w, const float *dy,
                         size_t ny, double *dx, double *dw, double *db)
{
    REF_LOOP(c, dx[xi] += (double)dy[yi] * w[wi]);
    REF_LOOP(c, dw[wi] += (double)dy[yi] * x[xi]);
    size_t plane = ny / ((size_t)c->n * c->co);
    for (size_t i = 0; i < ny; i++)
        db[(i / plane) % (size_t)c->co] += dy[i];
}

static tm_status run_conv(tm_tape *t, const conv_case *c, tm_tensor *x, tm_tensor *w,
                          tm_tensor *b, tm_tensor **y)
{
    tm_conv_params p = {c->stride, c->pad};
    return c->depthwise ? tm_depthwise_conv2d(t, x, w, b, &p, y)
                        : tm_conv2d(t, x, w, b, &p, y);
}

static void make_conv_tensors(tm_rng *r, const conv_case *c, int x_grad, tm_tensor **x,
                              tm_tensor **w, tm_tensor **b)
{
    int xs[4] = {c->n, c->ci, c->h, c->w};
    int ws[4] = {c->co, c->depthwise ? 1 : c->ci, c->kh, c->kw};
    int bs[1] = {c->co};
    *x = rnd(r, 4, xs, x_grad);
    *w = rnd(r, 4, ws, 1);
    *b = rnd(r, 1, bs, 1);
}

static void expect_close_d(const char *what, const float *got, const double *want, size_t n,
                           double tol)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= tol * (1.0 + fabs(want[i])),
                      "%s element %zu: got %.7g, reference %.7g", what, i, (double)got[i],
                      want[i]);
}

/* Forward and backward against the reference, with and without a pool. */
static void check_against_reference(const conv_case *c, int threads)
{
    tm_rng r;
    tm_rng_seed(&r, 100 + (uint64_t)c->h * 7 + (uint64_t)c->kw);
    tm_pool *pool = pool_of(threads);
    tm_tape t;
    TM_CK(tm_tape_init(&t, pool, 1));
    tm_tensor *x, *w, *b, *y = NULL;
    make_conv_tensors(&r, c, 1, &x, &w, &b);
    TM_CK(run_conv(&t, c, x, w, b, &y));
    int ho = ref_out(c->h, c->kh, c->stride, c->pad), wo = ref_out(c->w, c->kw, c->stride, c->pad);
    ck_assert_int_eq(y->shape[0], c->n);
    ck_assert_int_eq(y->shape[1], c->co);
    ck_assert_int_eq(y->shape[2], ho);
    ck_assert_int_eq(y->shape[3], wo);
    double *ref = calloc(y->size, sizeof *ref);
    double *dx = calloc(x->size, sizeof *dx), *dw = calloc(w->size, sizeof *dw);
    double *db = calloc(b->size, sizeof *db);
    ck_assert(ref && dx && dw && db);
    ref_forward(c, x->data, w->data, b->data, ref, y->size);
    expect_close_d("forward", y->data, ref, y->size, 1e-5);

    for (size_t i = 0; i < y->size; i++)
        y->grad[i] = tm_rng_uniform(&r) * 2.0f - 1.0f;
    ref_backward(c, x->data, w->data, y->grad, y->size, dx, dw, db);
    TM_CK(tm_tape_backward_from(&t, y));
    expect_close_d("dx", x->grad, dx, x->size, 1e-5);
    expect_close_d("dw", w->grad, dw, w->size, 1e-5);
    expect_close_d("db", b->grad, db, b->size, 1e-5);

    free(ref);
    free(dx);
    free(dw);
    free(db);
    tm_tensor *all[3] = {x, w, b};
    free_all(all, 3);
    tm_tape_free(&t);
    tm_pool_free(pool);
}

static const conv_case conv_cases[] = {
    /* n ci  h   w co kh kw s  pad */
    {3, 1, 28, 28, 16, 3, 3, 1, TM_PAD_SAME, 0},  /* the model's first image conv */
    {2, 1, 13, 61, 16, 3, 3, 1, TM_PAD_SAME, 0},  /* ... and audio conv */
    {2, 16, 13, 61, 32, 1, 1, 1, TM_PAD_SAME, 0}, /* pointwise, no im2col */
    {2, 3, 7, 9, 5, 3, 3, 2, TM_PAD_SAME, 0},
    {2, 2, 8, 6, 3, 2, 2, 2, TM_PAD_VALID, 0},
    {2, 3, 5, 7, 2, 1, 1, 2, TM_PAD_SAME, 0},     /* 1x1 strided: im2col path */
    {1, 4, 5, 5, 2, 5, 3, 1, TM_PAD_VALID, 0},    /* non-square kernel */
    {2, 2, 6, 7, 3, 4, 4, 1, TM_PAD_SAME, 0},     /* even kernel: extra pad after */
    {1, 2, 7, 8, 2, 3, 3, 3, TM_PAD_SAME, 0},
};

static const conv_case dw_cases[] = {
    {3, 16, 28, 28, 16, 3, 3, 1, TM_PAD_SAME, 1}, /* the model's depthwise convs */
    {2, 32, 6, 30, 32, 3, 3, 1, TM_PAD_SAME, 1},
    {2, 3, 7, 9, 3, 3, 3, 2, TM_PAD_SAME, 1},
    {2, 2, 8, 6, 2, 2, 3, 2, TM_PAD_VALID, 1},
    {1, 2, 4, 6, 2, 5, 5, 1, TM_PAD_SAME, 1},     /* kernel larger than the input */
    {2, 3, 5, 7, 3, 4, 2, 1, TM_PAD_SAME, 1},
    {1, 2, 9, 10, 2, 3, 3, 1, TM_PAD_VALID, 1},
};

#define N_CASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

START_TEST(conv2d_matches_reference)
{
    for (int threads = 1; threads <= 2; threads++)
        for (int i = 0; i < N_CASES(conv_cases); i++)
            check_against_reference(&conv_cases[i], threads);
}
END_TEST

START_TEST(depthwise_matches_reference)
{
    for (int threads = 1; threads <= 2; threads++)
        for (int i = 0; i < N_CASES(dw_cases); i++)
            check_against_reference(&dw_cases[i], threads);
}
END_TEST

/* ---- hand-computed forwards ------------------------------------------- */

static const float x33[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static void conv_by_hand(const float *xv, const int *xs, const float *wv, const int *ws,
                         const float *bv, int stride, tm_padding pad, const int *ys,
                         const float *want)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_tensor *x = make(4, xs, xv, 0), *w = make(4, ws, wv, 0), *b = NULL, *y = NULL;
    int bs[1] = {ws[0]};
    if (bv)
        b = make(1, bs, bv, 0);
    tm_conv_params p = {stride, pad};
    TM_CK(tm_conv2d(&t, x, w, b, &p, &y));
    for (int d = 0; d < 4; d++)
        ck_assert_int_eq(y->shape[d], ys[d]);
    expect_close("conv2d", y->data, want, y->size, 1e-6f);
    ck_assert_int_eq(y->requires_grad, 0);
    ck_assert_int_eq(t.n_nodes, 0);
    tm_tensor_free(x);
    tm_tensor_free(w);
    tm_tensor_free(b);
    tm_tape_free(&t);
}

START_TEST(conv2d_forward_by_hand)
{
    const float k22[4] = {1, 2, 3, 4};
    const int xs[4] = {1, 1, 3, 3}, ws[4] = {1, 1, 2, 2};
    /* stride 2 SAME: out 2x2, one pad row/column after (bottom, right). */
    const float b05[1] = {0.5f};
    conv_by_hand(x33, xs, k22, ws, b05, 2, TM_PAD_SAME, (int[]){1, 1, 2, 2},
                 (float[]){37.5f, 21.5f, 23.5f, 9.5f});
    conv_by_hand(x33, xs, k22, ws, NULL, 1, TM_PAD_VALID, (int[]){1, 1, 2, 2},
                 (float[]){37, 47, 67, 77});
    /* stride 1 SAME with an even kernel: the pad goes after only. */
    conv_by_hand(x33, xs, k22, ws, NULL, 1, TM_PAD_SAME, (int[]){1, 1, 3, 3},
                 (float[]){37, 47, 21, 67, 77, 33, 23, 26, 9});
    /* 3x3 ones, stride 1 SAME: neighbourhood sums. */
    const float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    conv_by_hand(x33, xs, ones, (int[]){1, 1, 3, 3}, NULL, 1, TM_PAD_SAME, (int[]){1, 1, 3, 3},
                 (float[]){12, 21, 16, 27, 45, 33, 24, 39, 28});
    /* 5x5 input x = 5r + c, 3x3 ones, stride 2 VALID. */
    float x55[25];
    for (int i = 0; i < 25; i++)
        x55[i] = (float)i;
    conv_by_hand(x55, (int[]){1, 1, 5, 5}, ones, (int[]){1, 1, 3, 3}, NULL, 2, TM_PAD_VALID,
                 (int[]){1, 1, 2, 2}, (float[]){54, 72, 144, 162});
    /* Pointwise over two channels with bias. */
    conv_by_hand((float[]){1, 2, 3, 4, 10, 20, 30, 40}, (int[]){1, 2, 2, 2},
                 (float[]){1, 0.5f, -1, 2}, (int[]){2, 2, 1, 1}, (float[]){0, 1}, 1, TM_PAD_SAME,
                 (int[]){1, 2, 2, 2}, (float[]){6, 12, 18, 24, 20, 39, 58, 77});
}
END_TEST

START_TEST(depthwise_forward_by_hand)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    float xv[18], wv[18] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0};
    memcpy(xv, x33, sizeof x33);
    memcpy(xv + 9, x33, sizeof x33);
    tm_tensor *x = make(4, (int[]){1, 2, 3, 3}, xv, 0);
    tm_tensor *w = make(4, (int[]){2, 1, 3, 3}, wv, 0);
    tm_tensor *b = make(1, (int[]){2}, (float[]){0, -1}, 0);
    tm_tensor *y = NULL;
    tm_conv_params p = {1, TM_PAD_SAME};
    TM_CK(tm_depthwise_conv2d(&t, x, w, b, &p, &y));
    /* Channel 0: neighbourhood sums; channel 1: 2x - 1. */
    expect_close("depthwise", y->data,
                 (float[]){12, 21, 16, 27, 45, 33, 24, 39, 28, 1, 3, 5, 7, 9, 11, 13, 15, 17},
                 18, 1e-6f);
    /* Stride 2 SAME on 3x3 with a 3x3 kernel: out 2x2, pad 1 before and after. */
    p.stride = 2;
    TM_CK(tm_depthwise_conv2d(&t, x, w, NULL, &p, &y));
    ck_assert_int_eq(y->shape[2], 2);
    expect_close("depthwise s2", y->data, (float[]){12, 16, 24, 28, 2, 6, 14, 18}, 8, 1e-6f);
    tm_tensor *all[3] = {x, w, b};
    free_all(all, 3);
    tm_tape_free(&t);
}
END_TEST

static const float x44[16] = {1, 5, 2, 0, 3, 4, 8, 1, 0, 2, 9, 7, 6, 1, 3, 3};

START_TEST(pools_forward_and_backward_by_hand)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_tensor *x = make(4, (int[]){1, 1, 4, 4}, x44, 1), *y = NULL;

    TM_CK(tm_maxpool2d(&t, x, 2, 2, &y));
    expect_close("maxpool", y->data, (float[]){5, 8, 6, 9}, 4, 0);
    memcpy(y->grad, (float[]){1, 2, 3, 4}, sizeof(float) * 4);
    TM_CK(tm_tape_backward_from(&t, y));
    expect_close("maxpool dx", x->grad,
                 (float[]){0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 4, 0, 3, 0, 0, 0}, 16, 0);

    /* Overlapping windows all pick the 9: its gradients add up. */
    tm_tape_reset(&t);
    tm_tensor_zero_grad(x);
    TM_CK(tm_maxpool2d(&t, x, 3, 1, &y));
    expect_close("maxpool 3/1", y->data, (float[]){9, 9, 9, 9}, 4, 0);
    memcpy(y->grad, (float[]){1, 2, 3, 4}, sizeof(float) * 4);
    TM_CK(tm_tape_backward_from(&t, y));
    ck_assert_float_eq(x->grad[10], 10.0f);

    tm_tape_reset(&t);
    tm_tensor_zero_grad(x);
    TM_CK(tm_avgpool2d(&t, x, 2, 2, &y));
    expect_close("avgpool", y->data, (float[]){3.25f, 2.75f, 2.25f, 5.5f}, 4, 1e-6f);
    memcpy(y->grad, (float[]){4, 8, 12, 16}, sizeof(float) * 4);
    TM_CK(tm_tape_backward_from(&t, y));
    expect_close("avgpool dx", x->grad,
                 (float[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 16, 1e-6f);

    tm_tape_reset(&t);
    tm_tensor_zero_grad(x);
    TM_CK(tm_global_avgpool(&t, x, &y));
    ck_assert_int_eq(y->ndim, 2);
    ck_assert_int_eq(y->shape[1], 1);
    expect_close("global avgpool", y->data, (float[]){3.4375f}, 1, 1e-6f);
    y->grad[0] = 16.0f;
    TM_CK(tm_tape_backward_from(&t, y));
    for (int i = 0; i < 16; i++)
        ck_assert_float_eq(x->grad[i], 1.0f);
    tm_tensor_free(x);

    /* Floor: a 5x5 input pools to 2x2 and the last row/column get nothing;
     * ties go to the first element of the window. */
    float v[25];
    for (int i = 0; i < 25; i++)
        v[i] = 1.0f;
    x = make(4, (int[]){1, 1, 5, 5}, v, 1);
    tm_tape_reset(&t);
    TM_CK(tm_maxpool2d(&t, x, 2, 2, &y));
    ck_assert_int_eq(y->shape[2], 2);
    ck_assert_int_eq(y->shape[3], 2);
    for (int i = 0; i < 4; i++)
        y->grad[i] = 1.0f;
    TM_CK(tm_tape_backward_from(&t, y));
    for (int i = 0; i < 25; i++) {
        int r = i / 5, c = i % 5;
        ck_assert_float_eq(x->grad[i], (r == 0 || r == 2) && (c == 0 || c == 2) ? 1.0f : 0.0f);
    }
    tm_tensor_free(x);
    tm_tape_free(&t);
}
END_TEST

/* Max pooling against a direct scan, with many ties (values on a coarse
 * grid) so that the first-maximum rule is exercised on every code path. */
static void maxpool_reference_case(const int *shape, int size, int stride, int threads)
{
    tm_rng r;
    tm_rng_seed(&r, 11);
    tm_pool *pool = pool_of(threads);
    tm_tape t;
    TM_CK(tm_tape_init(&t, pool, 1));
    tm_tensor *x = make(4, shape, NULL, 1), *y = NULL;
    for (size_t i = 0; i < x->size; i++)
        x->data[i] = (float)tm_rng_below(&r, 4);
    TM_CK(tm_maxpool2d(&t, x, size, stride, &y));
    const int h = shape[2], w = shape[3];
    const int ho = (h - size) / stride + 1, wo = (w - size) / stride + 1;
    ck_assert_int_eq(y->shape[2], ho);
    ck_assert_int_eq(y->shape[3], wo);
    float *dx = calloc(x->size, sizeof *dx);
    for (size_t i = 0; i < y->size; i++)
        y->grad[i] = (float)(i % 7) + 1.0f;
    for (int pl = 0; pl < shape[0] * shape[1]; pl++) {
        const float *xp = x->data + (size_t)pl * h * w;
        for (int oy = 0; oy < ho; oy++) {
            for (int ox = 0; ox < wo; ox++) {
                int bi = oy * stride * w + ox * stride;
                for (int i = 0; i < size; i++)
                    for (int j = 0; j < size; j++) {
                        int k = (oy * stride + i) * w + ox * stride + j;
                        if (xp[k] > xp[bi])
                            bi = k;
                    }
                size_t o = ((size_t)pl * ho + oy) * wo + ox;
                ck_assert_float_eq(y->data[o], xp[bi]);
                dx[(size_t)pl * h * w + bi] += y->grad[o];
            }
        }
    }
    TM_CK(tm_tape_backward_from(&t, y));
    expect_close("maxpool dx", x->grad, dx, x->size, 0);
    free(dx);
    tm_tensor_free(x);
    tm_tape_free(&t);
    tm_pool_free(pool);
}

START_TEST(maxpool_matches_reference)
{
    for (int threads = 1; threads <= 2; threads++) {
        maxpool_reference_case((int[]){3, 2, 6, 19}, 2, 2, threads);  /* 4-wide path + tail */
        maxpool_reference_case((int[]){2, 32, 28, 28}, 2, 2, threads); /* the model's pools */
        maxpool_reference_case((int[]){2, 3, 13, 61}, 2, 2, threads);
        maxpool_reference_case((int[]){2, 2, 9, 11}, 3, 2, threads);
        maxpool_reference_case((int[]){1, 2, 7, 8}, 2, 1, threads);
    }
}
END_TEST

/* ---- finite differences ----------------------------------------------- */

typedef struct {
    tm_conv_params p;
    int depthwise;
} conv_fd_ctx;

static tm_status conv_fn(tm_tape *t, tm_tensor **in, int n, void *ctx, tm_tensor **out)
{
    const conv_fd_ctx *c = ctx;
    tm_tensor *b = n > 2 ? in[2] : NULL;
    return c->depthwise ? tm_depthwise_conv2d(t, in[0], in[1], b, &c->p, out)
                        : tm_conv2d(t, in[0], in[1], b, &c->p, out);
}

static void conv_gradcheck(const conv_case *c, int threads, int with_bias, int x_grad)
{
    tm_rng r;
    tm_rng_seed(&r, 7 + (uint64_t)c->h + (uint64_t)c->stride * 31);
    tm_pool *pool = pool_of(threads);
    tm_tape t;
    TM_CK(tm_tape_init(&t, pool, 3));
    tm_tensor *in[3];
    make_conv_tensors(&r, c, x_grad, &in[0], &in[1], &in[2]);
    conv_fd_ctx ctx = {{c->stride, c->pad}, c->depthwise};
    gradcheck(&t, conv_fn, &ctx, in, with_bias ? 3 : 2, FD_EPS_LIN);
    if (!x_grad)
        ck_assert_ptr_null(in[0]->grad);
    free_all(in, 3);
    tm_tape_free(&t);
    tm_pool_free(pool);
}

static const conv_case fd_cases[] = {
    {2, 3, 5, 7, 4, 3, 3, 1, TM_PAD_SAME, 0},
    {3, 2, 6, 5, 3, 3, 3, 2, TM_PAD_SAME, 0},
    {2, 2, 7, 6, 3, 2, 3, 2, TM_PAD_VALID, 0},
    {3, 4, 3, 5, 3, 1, 1, 1, TM_PAD_SAME, 0},
    {2, 3, 5, 5, 2, 1, 1, 2, TM_PAD_VALID, 0},
    {2, 2, 5, 4, 2, 2, 2, 1, TM_PAD_SAME, 0},
};

START_TEST(conv2d_gradients)
{
    for (int threads = 1; threads <= 2; threads++) {
        for (int i = 0; i < N_CASES(fd_cases); i++)
            conv_gradcheck(&fd_cases[i], threads, 1, 1);
        /* Without a bias, and with an input that needs no gradient. */
        conv_gradcheck(&fd_cases[0], threads, 0, 1);
        conv_gradcheck(&fd_cases[1], threads, 1, 0);
    }
}
END_TEST

START_TEST(depthwise_gradients)
{
    for (int threads = 1; threads <= 2; threads++) {
        for (int i = 0; i < N_CASES(fd_cases); i++) {
            conv_case c = fd_cases[i];
            c.depthwise = 1;
            c.co = c.ci;
            conv_gradcheck(&c, threads, 1, 1);
            if (i < 2) {
                conv_gradcheck(&c, threads, 0, 1);
                conv_gradcheck(&c, threads, 1, 0);
            }
        }
    }
}
END_TEST

typedef struct {
    int kind; /* 0 max, 1 average, 2 global average */
    int size, stride;
} pool_fd_ctx;

static tm_status pool_fn(tm_tape *t, tm_tensor **in, int n, void *ctx, tm_tensor **out)
{
    (void)n;
    const pool_fd_ctx *c = ctx;
    if (c->kind == 0)
        return tm_maxpool2d(t, in[0], c->size, c->stride, out);
    if (c->kind == 1)
        return tm_avgpool2d(t, in[0], c->size, c->stride, out);
    return tm_global_avgpool(t, in[0], out);
}

START_TEST(pool_gradients)
{
    static const int shapes[4][4] = {{2, 3, 5, 7}, {1, 2, 7, 7}, {3, 2, 4, 6}, {1, 2, 4, 18}};
    static const pool_fd_ctx cfg[] = {{0, 2, 2}, {0, 3, 2}, {0, 3, 1}, {1, 2, 2},
                                      {1, 3, 1}, {1, 2, 3}, {2, 0, 0}};
    for (int threads = 1; threads <= 2; threads++) {
        tm_pool *pool = pool_of(threads);
        for (int s = 0; s < 4; s++) {
            for (int k = 0; k < N_CASES(cfg); k++) {
                tm_tape t;
                TM_CK(tm_tape_init(&t, pool, 5));
                tm_tensor *x = make(4, shapes[s], NULL, 1);
                /* Distinct values 0.05 apart in random order: no near-ties. */
                int *perm = malloc(sizeof(int) * x->size);
                for (size_t i = 0; i < x->size; i++)
                    perm[i] = (int)i;
                tm_rng_shuffle(&t.rng, perm, (int)x->size);
                for (size_t i = 0; i < x->size; i++)
                    x->data[i] = 0.05f * (float)perm[i] - 2.0f;
                free(perm);
                gradcheck(&t, pool_fn, (void *)&cfg[k], &x, 1,
                          cfg[k].kind == 0 ? FD_EPS_PW : FD_EPS_LIN);
                tm_tensor_free(x);
                tm_tape_free(&t);
            }
        }
        tm_pool_free(pool);
    }
}
END_TEST

/* ---- threads, accumulation, no-grad mode ------------------------------ */

typedef struct {
    float *y, *dx, *dw, *db;
} run_result;

static run_result run_once(const conv_case *c, int threads)
{
    tm_rng r;
    tm_rng_seed(&r, 99);
    tm_pool *pool = pool_of(threads);
    tm_tape t;
    TM_CK(tm_tape_init(&t, pool, 1));
    tm_tensor *x, *w, *b, *y = NULL;
    make_conv_tensors(&r, c, 1, &x, &w, &b);
    TM_CK(run_conv(&t, c, x, w, b, &y));
    for (size_t i = 0; i < y->size; i++)
        y->grad[i] = tm_rng_uniform(&r) - 0.5f;
    TM_CK(tm_tape_backward_from(&t, y));
    run_result res = {malloc(y->size * sizeof(float)), malloc(x->size * sizeof(float)),
                      malloc(w->size * sizeof(float)), malloc(b->size * sizeof(float))};
    memcpy(res.y, y->data, y->size * sizeof(float));
    memcpy(res.dx, x->grad, x->size * sizeof(float));
    memcpy(res.dw, w->grad, w->size * sizeof(float));
    memcpy(res.db, b->grad, b->size * sizeof(float));
    tm_tensor *all[3] = {x, w, b};
    free_all(all, 3);
    tm_tape_free(&t);
    tm_pool_free(pool);
    return res;
}

static void free_result(run_result *r)
{
    free(r->y);
    free(r->dx);
    free(r->dw);
    free(r->db);
}

START_TEST(results_do_not_depend_on_thread_count)
{
    /* 7 samples: an uneven split over 2 and 3 workers. */
    const conv_case cases[] = {
        {7, 3, 11, 13, 8, 3, 3, 1, TM_PAD_SAME, 0},
        {7, 8, 11, 13, 6, 1, 1, 1, TM_PAD_SAME, 0},
        {7, 8, 11, 13, 8, 3, 3, 1, TM_PAD_SAME, 1},
        {7, 4, 11, 13, 4, 3, 3, 2, TM_PAD_VALID, 1},
    };
    for (int i = 0; i < N_CASES(cases); i++) {
        const conv_case *c = &cases[i];
        size_t ny = (size_t)c->n * c->co * ref_out(c->h, c->kh, c->stride, c->pad) *
                    ref_out(c->w, c->kw, c->stride, c->pad);
        size_t nx = (size_t)c->n * c->ci * c->h * c->w;
        size_t nw = (size_t)c->co * (c->depthwise ? 1 : c->ci) * c->kh * c->kw;
        run_result one = run_once(c, 1);
        for (int threads = 2; threads <= 3; threads++) {
            run_result many = run_once(c, threads);
            /* Per-sample work is the same computation; only the dW/db sums
             * are reordered. */
            expect_close("y", many.y, one.y, ny, 1e-6f);
            expect_close("dx", many.dx, one.dx, nx, 1e-6f);
            expect_close("dw", many.dw, one.dw, nw, 1e-5f);
            expect_close("db", many.db, one.db, (size_t)c->co, 1e-5f);
            /* Deterministic for a given thread count. */
            run_result again = run_once(c, threads);
            ck_assert_int_eq(memcmp(again.y, many.y, ny * sizeof(float)), 0);
            ck_assert_int_eq(memcmp(again.dx, many.dx, nx * sizeof(float)), 0);
            ck_assert_int_eq(memcmp(again.dw, many.dw, nw * sizeof(float)), 0);
            ck_assert_int_eq(memcmp(again.db, many.db, (size_t)c->co * sizeof(float)), 0);
            free_result(&again);
            free_result(&many);
        }
        free_result(&one);
    }
}
END_TEST

START_TEST(backward_accumulates_into_grads)
{
    const conv_case cases[] = {
        {2, 3, 6, 5, 4, 3, 3, 1, TM_PAD_SAME, 0},
        {2, 3, 6, 5, 4, 1, 1, 1, TM_PAD_SAME, 0},
        {2, 3, 6, 5, 3, 3, 3, 2, TM_PAD_SAME, 1},
    };
    for (int k = 0; k < N_CASES(cases); k++) {
        const conv_case *c = &cases[k];
        tm_rng r;
        tm_rng_seed(&r, 5);
        tm_pool *pool = pool_of(2);
        tm_tape t;
        TM_CK(tm_tape_init(&t, pool, 1));
        tm_tensor *x, *w, *b, *y = NULL;
        make_conv_tensors(&r, c, 1, &x, &w, &b);
        tm_tensor *all[3] = {x, w, b};
        float *first[3];
        for (int rep = 0; rep < 2; rep++) {
            tm_tape_reset(&t);
            TM_CK(run_conv(&t, c, x, w, b, &y));
            for (size_t i = 0; i < y->size; i++)
                y->grad[i] = (float)(i % 5) - 2.0f;
            TM_CK(tm_tape_backward_from(&t, y));
            for (int i = 0; rep == 0 && i < 3; i++) {
                first[i] = malloc(all[i]->size * sizeof(float));
                memcpy(first[i], all[i]->grad, all[i]->size * sizeof(float));
            }
        }
        for (int i = 0; i < 3; i++) {
            for (size_t j = 0; j < all[i]->size; j++)
                ck_assert_msg(fabsf(all[i]->grad[j] - 2.0f * first[i][j]) <=
                                  1e-5f * (1.0f + fabsf(first[i][j])),
                              "input %d element %zu did not accumulate", i, j);
            free(first[i]);
        }
        free_all(all, 3);
        tm_tape_free(&t);
        tm_pool_free(pool);
    }
}
END_TEST

START_TEST(no_grad_mode_records_nothing)
{
    tm_rng r;
    tm_rng_seed(&r, 2);
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    conv_case c = {2, 3, 6, 6, 3, 3, 3, 1, TM_PAD_SAME, 0};
    tm_tensor *x, *w, *b, *y = NULL, *z = NULL;
    make_conv_tensors(&r, &c, 1, &x, &w, &b);
    tm_tensor *wd = rnd(&r, 4, (int[]){3, 1, 3, 3}, 1);
    tm_tape_set_grad_enabled(&t, 0);
    TM_CK(run_conv(&t, &c, x, w, b, &y));
    ck_assert_int_eq(y->requires_grad, 0);
    c.depthwise = 1;
    TM_CK(run_conv(&t, &c, y, wd, b, &z));
    ck_assert_int_eq(z->requires_grad, 0);
    TM_CK(tm_maxpool2d(&t, z, 2, 2, &y));
    TM_CK(tm_avgpool2d(&t, z, 2, 2, &y));
    TM_CK(tm_global_avgpool(&t, z, &y));
    ck_assert_int_eq(t.n_nodes, 0);
    tm_tape_set_grad_enabled(&t, 1);
    TM_CK(tm_maxpool2d(&t, x, 2, 2, &y));
    ck_assert_int_eq(t.n_nodes, 1);
    tm_tensor *all[4] = {x, w, b, wd};
    free_all(all, 4);
    tm_tape_free(&t);
}
END_TEST

/* ---- shape errors ----------------------------------------------------- */

static void expect_error(tm_status s, tm_status want, tm_tensor *out, const char *const *parts)
{
    ck_assert_msg(s == want, "got %s, expected %s (%s)", tm_status_name(s), tm_status_name(want),
                  tm_last_error());
    ck_assert_ptr_null(out);
    for (int i = 0; parts[i]; i++)
        ck_assert_msg(strstr(tm_last_error(), parts[i]) != NULL, "message \"%s\" lacks \"%s\"",
                      tm_last_error(), parts[i]);
}

START_TEST(shape_errors_are_named)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_tensor *x = make(4, (int[]){2, 3, 5, 5}, NULL, 0);
    tm_tensor *x3 = make(3, (int[]){3, 5, 5}, NULL, 0);
    tm_tensor *w4 = make(4, (int[]){4, 4, 3, 3}, NULL, 1);
    tm_tensor *w3 = make(4, (int[]){4, 3, 3, 3}, NULL, 1);
    tm_tensor *w7 = make(4, (int[]){4, 3, 7, 7}, NULL, 1);
    tm_tensor *b5 = make(1, (int[]){5}, NULL, 1);
    tm_tensor *dw_bad = make(4, (int[]){3, 2, 3, 3}, NULL, 1);
    tm_tensor *dw_c4 = make(4, (int[]){4, 1, 3, 3}, NULL, 1);
    tm_tensor *y = NULL;
    tm_conv_params same = {1, TM_PAD_SAME}, valid = {1, TM_PAD_VALID}, bad = {0, TM_PAD_SAME};

    expect_error(tm_conv2d(&t, x, w4, NULL, &same, &y), TM_ERR_SHAPE, y,
                 (const char *[]){"conv2d", "2x3x5x5", "has 3 channels", "4x4x3x3",
                                  "expects 4", NULL});
    expect_error(tm_conv2d(&t, x3, w3, NULL, &same, &y), TM_ERR_SHAPE, y,
                 (const char *[]){"conv2d", "3x5x5", "3 dimensions", NULL});
    expect_error(tm_conv2d(&t, x, w7, NULL, &valid, &y), TM_ERR_SHAPE, y,
                 (const char *[]){"conv2d", "4x3x7x7", "2x3x5x5", "VALID", NULL});
    expect_error(tm_conv2d(&t, x, w3, b5, &same, &y), TM_ERR_SHAPE, y,
                 (const char *[]){"conv2d", "bias 5", "expected 4", NULL});
    expect_error(tm_conv2d(&t, x, w3, NULL, &bad, &y), TM_ERR_ARG, y,
                 (const char *[]){"conv2d", "stride 0", NULL});
    expect_error(tm_depthwise_conv2d(&t, x, dw_bad, NULL, &same, &y), TM_ERR_SHAPE, y,
                 (const char *[]){"depthwise_conv2d", "3x2x3x3", NULL});
    expect_error(tm_depthwise_conv2d(&t, x, dw_c4, NULL, &same, &y), TM_ERR_SHAPE, y,
                 (const char *[]){"depthwise_conv2d", "has 3 channels", "expects 4", NULL});
    expect_error(tm_maxpool2d(&t, x, 6, 1, &y), TM_ERR_SHAPE, y,
                 (const char *[]){"maxpool2d", "6x6", "2x3x5x5", NULL});
    expect_error(tm_avgpool2d(&t, x3, 2, 2, &y), TM_ERR_SHAPE, y,
                 (const char *[]){"avgpool2d", "3x5x5", NULL});
    expect_error(tm_maxpool2d(&t, x, 2, 0, &y), TM_ERR_ARG, y,
                 (const char *[]){"maxpool2d", "stride 0", NULL});
    expect_error(tm_global_avgpool(&t, x3, &y), TM_ERR_SHAPE, y,
                 (const char *[]){"global_avgpool", "3x5x5", NULL});
    ck_assert_int_eq(t.n_nodes, 0);

    tm_tensor *all[8] = {x, x3, w4, w3, w7, b5, dw_bad, dw_c4};
    free_all(all, 8);
    tm_tape_free(&t);
}
END_TEST

static Suite *conv_suite(void)
{
    Suite *s = suite_create("conv_ops");
    TCase *tc = tcase_create("conv_ops");
    tcase_add_test(tc, conv2d_forward_by_hand);
    tcase_add_test(tc, depthwise_forward_by_hand);
    tcase_add_test(tc, pools_forward_and_backward_by_hand);
    tcase_add_test(tc, maxpool_matches_reference);
    tcase_add_test(tc, conv2d_matches_reference);
    tcase_add_test(tc, depthwise_matches_reference);
    tcase_add_test(tc, conv2d_gradients);
    tcase_add_test(tc, depthwise_gradients);
    tcase_add_test(tc, pool_gradients);
    tcase_add_test(tc, results_do_not_depend_on_thread_count);
    tcase_add_test(tc, backward_accumulates_into_grads);
    tcase_add_test(tc, no_grad_mode_records_nothing);
    tcase_add_test(tc, shape_errors_are_named);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tm_test_run(conv_suite());
}
