#include <math.h>
#include <string.h>

#include "tm_gradcheck.h"
#include "tm_ops.h"
#include "tm_tape.h"
#include "tm_test_util.h"
#include "tm_threads.h"

#define FD_EPS 1e-2
#define FD_TOL 2e-2

static tm_tensor *make(int ndim, const int *shape, const float *vals, int requires_grad)
{
    tm_tensor *x = NULL;
    ck_assert_int_eq(tm_tensor_new(&x, ndim, shape, requires_grad), TM_OK);
    if (vals)
        memcpy(x->data, vals, x->size * sizeof(float));
    return x;
}

static tm_tensor *rnd(tm_rng *r, int ndim, const int *shape, float lo, float hi)
{
    tm_tensor *x = tm_test_tensor(r, ndim, shape, lo, hi, 1);
    ck_assert_ptr_nonnull(x);
    return x;
}

/* Moves values out of the neighbourhood of a kink so central differences
 * never straddle it. */
static void avoid(tm_tensor *x, float kink, float gap)
{
    for (size_t i = 0; i < x->size; i++)
        if (fabsf(x->data[i] - kink) < gap)
            x->data[i] = kink + (x->data[i] < kink ? -gap : gap);
}

static void expect_close(const float *got, const float *want, size_t n, float tol)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabsf(got[i] - want[i]) <= tol, "element %zu: got %.7g, expected %.7g", i,
                      (double)got[i], (double)want[i]);
}

static void gradcheck(tm_tape *t, tm_gradcheck_fn fn, void *ctx, tm_tensor **in, int n)
{
    tm_gradcheck_report rep;
    TM_CK(tm_gradcheck(t, fn, ctx, in, n, FD_EPS, FD_TOL, &rep));
    size_t want = 0;
    for (int i = 0; i < n; i++)
        if (in[i]->requires_grad)
            want += in[i]->size;
    ck_assert_uint_eq(rep.checked, want);
}

static void free_all(tm_tensor **in, int n)
{
    for (int i = 0; i < n; i++)
        tm_tensor_free(in[i]);
}

/* ---- dense ------------------------------------------------------------ */

START_TEST(dense_forward_by_hand)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_tensor *x = make(2, (int[]){2, 3}, (float[]){1, 2, 3, -1, 0, 2}, 0);
    tm_tensor *w = make(2, (int[]){2, 3}, (float[]){1, 0, -1, 0.5f, 2, 1}, 1);
    tm_tensor *b = make(1, (int[]){2}, (float[]){10, -1}, 1);
    tm_tensor *y = NULL;
    TM_CK(tm_dense(&t, x, w, b, &y));
    ck_assert_int_eq(y->ndim, 2);
    ck_assert_int_eq(y->shape[0], 2);
    ck_assert_int_eq(y->shape[1], 2);
    /* row 0: 1-3+10 = 8, 0.5+4+3-1 = 6.5; row 1: -1-2+10 = 7, -0.5+0+2-1 = 0.5 */
    expect_close(y->data, (float[]){8, 6.5f, 7, 0.5f}, 4, 1e-6f);
    ck_assert_int_eq(y->requires_grad, 1);
    TM_CK(tm_dense(&t, x, w, NULL, &y));
    expect_close(y->data, (float[]){-2, 7.5f, -3, 1.5f}, 4, 1e-6f);
    /* no input needs a gradient: nothing is recorded */
    int nodes = t.n_nodes;
    w->requires_grad = 0;
    b->requires_grad = 0;
    TM_CK(tm_dense(&t, x, w, b, &y));
    ck_assert_int_eq(y->requires_grad, 0);
    ck_assert_int_eq(t.n_nodes, nodes);
    tm_tensor_free(x);
    tm_tensor_free(w);
    tm_tensor_free(b);
    tm_tape_free(&t);
}
END_TEST

static tm_status dense_fn(tm_tape *t, tm_tensor **in, int n, void *ctx, tm_tensor **out)
{
    (void)ctx;
    return tm_dense(t, in[0], in[1], n > 2 ? in[2] : NULL, out);
}

START_TEST(dense_gradients)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_rng r;
    tm_rng_seed(&r, 11);
    tm_tensor *in[3] = {rnd(&r, 2, (int[]){3, 5}, -1, 1), rnd(&r, 2, (int[]){4, 5}, -1, 1),
                        rnd(&r, 1, (int[]){4}, -1, 1)};
    gradcheck(&t, dense_fn, NULL, in, 3);
    gradcheck(&t, dense_fn, NULL, in, 2);
    free_all(in, 3);
    tm_tape_free(&t);
}
END_TEST

START_TEST(dense_backward_accumulates)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_tensor *x = make(2, (int[]){1, 2}, (float[]){1, 2}, 1);
    tm_tensor *w = make(2, (int[]){1, 2}, (float[]){3, 4}, 1);
    tm_tensor *b = make(1, (int[]){1}, (float[]){0}, 1);
    w->grad[0] = 100.0f;
    tm_tensor *y = NULL;
    TM_CK(tm_dense(&t, x, w, b, &y));
    TM_CK(tm_tape_backward(&t, y));
    expect_close(x->grad, (float[]){3, 4}, 2, 0);
    expect_close(w->grad, (float[]){101, 2}, 2, 0);
    expect_close(b->grad, (float[]){1}, 1, 0);
    tm_tensor_free(x);
    tm_tensor_free(w);
    tm_tensor_free(b);
    tm_tape_free(&t);
}
END_TEST

START_TEST(dense_shape_errors)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_tensor *x = make(2, (int[]){2, 3}, NULL, 0);
    tm_tensor *w = make(2, (int[]){4, 5}, NULL, 1);
    tm_tensor *b = make(1, (int[]){3}, NULL, 1);
    tm_tensor *y = x;
    ck_assert_int_eq(tm_dense(&t, x, w, NULL, &y), TM_ERR_SHAPE);
    ck_assert_ptr_null(y);
    const char *m = tm_last_error();
    ck_assert_msg(strstr(m, "dense") && strstr(m, "2x3") && strstr(m, "4x5"), "message: %s", m);
    tm_tensor *w2 = make(2, (int[]){4, 3}, NULL, 1);
    ck_assert_int_eq(tm_dense(&t, x, w2, b, &y), TM_ERR_SHAPE);
    m = tm_last_error();
    ck_assert_msg(strstr(m, "dense") && strstr(m, "bias 3") && strstr(m, "4x3"), "message: %s",
                  m);
    tm_tensor_free(x);
    tm_tensor_free(w);
    tm_tensor_free(w2);
    tm_tensor_free(b);
    tm_tape_free(&t);
}
END_TEST

/* ---- batch norm ------------------------------------------------------- */

START_TEST(batchnorm_training_2d_by_hand)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    /* channel 0: 1, 3 (mean 2, var 1); channel 1: 2, 6 (mean 4, var 4) */
    tm_tensor *x = make(2, (int[]){2, 2}, (float[]){1, 2, 3, 6}, 1);
    tm_tensor *g = make(1, (int[]){2}, (float[]){1, 2}, 1);
    tm_tensor *b = make(1, (int[]){2}, (float[]){0, 1}, 1);
    float rm[2] = {0, 0}, rv[2] = {1, 1};
    tm_tensor *y = NULL;
    TM_CK(tm_batchnorm(&t, x, g, b, rm, rv, 0.1f, 0.0f, &y));
    expect_close(y->data, (float[]){-1, -1, 1, 3}, 4, 1e-6f);
    /* running: mean 0.1 * batch mean; var 0.9 + 0.1 * unbiased var (2 and 8) */
    expect_close(rm, (float[]){0.2f, 0.4f}, 2, 1e-7f);
    expect_close(rv, (float[]){1.1f, 1.7f}, 2, 1e-6f);
    tm_tensor_free(x);
    tm_tensor_free(g);
    tm_tensor_free(b);
    tm_tape_free(&t);
}
END_TEST

START_TEST(batchnorm_training_4d_running_stats)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    /* (2,2,1,2): channel 0 holds 1,2,3,4; channel 1 holds 0,0,2,2 */
    tm_tensor *x = make(4, (int[]){2, 2, 1, 2}, (float[]){1, 2, 0, 0, 3, 4, 2, 2}, 0);
    tm_tensor *g = make(1, (int[]){2}, (float[]){1, 1}, 1);
    tm_tensor *b = make(1, (int[]){2}, (float[]){0, 0}, 1);
    float rm[2] = {0, 0}, rv[2] = {1, 1};
    tm_tensor *y = NULL;
    TM_CK(tm_batchnorm(&t, x, g, b, rm, rv, 0.1f, 1e-5f, &y));
    /* mean 2.5 and 1; biased var 1.25 and 1; unbiased 5/3 and 4/3 */
    expect_close(rm, (float[]){0.25f, 0.1f}, 2, 1e-7f);
    expect_close(rv, (float[]){0.9f + 0.5f / 3.0f, 0.9f + 0.4f / 3.0f}, 2, 1e-6f);
    float s0 = 1.0f / sqrtf(1.25f + 1e-5f), s1 = 1.0f / sqrtf(1.0f + 1e-5f);
    expect_close(y->data,
                 (float[]){-1.5f * s0, -0.5f * s0, -s1, -s1, 0.5f * s0, 1.5f * s0, s1, s1}, 8,
                 1e-6f);
    /* a second step moves the running stats again from where they are */
    TM_CK(tm_batchnorm(&t, x, g, b, rm, rv, 0.5f, 1e-5f, &y));
    expect_close(rm, (float[]){0.125f + 1.25f, 0.05f + 0.5f}, 2, 1e-6f);
    tm_tensor_free(x);
    tm_tensor_free(g);
    tm_tensor_free(b);
    tm_tape_free(&t);
}
END_TEST

START_TEST(batchnorm_eval_uses_running_stats)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    t.training = 0;
    tm_tensor *x = make(2, (int[]){1, 2}, (float[]){3, 5}, 1);
    tm_tensor *g = make(1, (int[]){2}, (float[]){2, 1}, 1);
    tm_tensor *b = make(1, (int[]){2}, (float[]){0, 0.5f}, 1);
    float rm[2] = {1, 2}, rv[2] = {4, 9};
    tm_tensor *y = NULL;
    /* a single sample is fine in eval mode */
    TM_CK(tm_batchnorm(&t, x, g, b, rm, rv, 0.1f, 0.0f, &y));
    expect_close(y->data, (float[]){2, 1.5f}, 2, 1e-6f);
    expect_close(rm, (float[]){1, 2}, 2, 0);
    expect_close(rv, (float[]){4, 9}, 2, 0);
    y->grad[0] = y->grad[1] = 1.0f;
    TM_CK(tm_tape_backward_from(&t, y));
    expect_close(x->grad, (float[]){1, 1.0f / 3.0f}, 2, 1e-6f);
    expect_close(g->grad, (float[]){1, 1}, 2, 1e-6f);
    expect_close(b->grad, (float[]){1, 1}, 2, 0);
    tm_tensor_free(x);
    tm_tensor_free(g);
    tm_tensor_free(b);
    tm_tape_free(&t);
}
END_TEST

typedef struct {
    float rm[16], rv[16];
} bn_state;

static tm_status bn_fn(tm_tape *t, tm_tensor **in, int n, void *ctx, tm_tensor **out)
{
    (void)n;
    bn_state *s = ctx;
    return tm_batchnorm(t, in[0], in[1], in[2], s->rm, s->rv, 0.1f, 1e-5f, out);
}

static void bn_gradcheck(int training, int ndim, const int *shape, tm_pool *pool)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, pool, 1));
    t.training = training;
    tm_rng r;
    tm_rng_seed(&r, 21);
    int c = shape[1];
    tm_tensor *in[3] = {rnd(&r, ndim, shape, -2, 2), rnd(&r, 1, &c, 0.5f, 1.5f),
                        rnd(&r, 1, &c, -1, 1)};
    bn_state s;
    for (int i = 0; i < 16; i++) {
        s.rm[i] = 0.1f * (float)i;
        s.rv[i] = 1.0f + 0.2f * (float)i;
    }
    gradcheck(&t, bn_fn, &s, in, 3);
    free_all(in, 3);
    tm_tape_free(&t);
}

START_TEST(batchnorm_gradients)
{
    bn_gradcheck(1, 4, (int[]){3, 2, 2, 3}, NULL);
    bn_gradcheck(1, 2, (int[]){5, 4}, NULL);
    bn_gradcheck(0, 4, (int[]){2, 3, 2, 2}, NULL);
    bn_gradcheck(0, 2, (int[]){3, 4}, NULL);
    tm_pool *p = NULL;
    TM_CK(tm_pool_new(&p, 2));
    bn_gradcheck(1, 4, (int[]){2, 3, 3, 2}, p);
    tm_pool_free(p);
}
END_TEST

START_TEST(batchnorm_threads_give_identical_results)
{
    tm_rng r;
    tm_rng_seed(&r, 5);
    int shape[4] = {4, 5, 6, 6}, c = 5;
    tm_tensor *x = rnd(&r, 4, shape, -3, 3), *g = rnd(&r, 1, &c, 0.5f, 2);
    tm_tensor *b = rnd(&r, 1, &c, -1, 1);
    tm_pool *p = NULL;
    TM_CK(tm_pool_new(&p, 2));
    float res[2][4 * 5 * 36 + 3 * 5];
    for (int k = 0; k < 2; k++) {
        tm_tape t;
        TM_CK(tm_tape_init(&t, k ? p : NULL, 1));
        float rm[5] = {0}, rv[5] = {1, 1, 1, 1, 1};
        tm_tensor_zero_grad(x);
        tm_tensor_zero_grad(g);
        tm_tensor_zero_grad(b);
        tm_tensor *y = NULL;
        TM_CK(tm_batchnorm(&t, x, g, b, rm, rv, 0.1f, 1e-5f, &y));
        for (size_t i = 0; i < y->size; i++)
            y->grad[i] = (float)(i % 7) - 3.0f;
        TM_CK(tm_tape_backward_from(&t, y));
        memcpy(res[k], x->grad, x->size * sizeof(float));
        memcpy(res[k] + x->size, g->grad, 5 * sizeof(float));
        memcpy(res[k] + x->size + 5, rm, 5 * sizeof(float));
        memcpy(res[k] + x->size + 10, rv, 5 * sizeof(float));
        tm_tape_free(&t);
    }
    ck_assert_int_eq(memcmp(res[0], res[1], sizeof res[0]), 0);
    tm_pool_free(p);
    tm_tensor_free(x);
    tm_tensor_free(g);
    tm_tensor_free(b);
}
END_TEST

START_TEST(batchnorm_errors)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_tensor *x = make(4, (int[]){2, 3, 4, 4}, NULL, 1);
    tm_tensor *g = make(1, (int[]){4}, NULL, 1);
    tm_tensor *b = make(1, (int[]){3}, NULL, 1);
    float rm[4] = {0}, rv[4] = {1, 1, 1, 1};
    tm_tensor *y = NULL;
    ck_assert_int_eq(tm_batchnorm(&t, x, g, b, rm, rv, 0.1f, 1e-5f, &y), TM_ERR_SHAPE);
    const char *m = tm_last_error();
    ck_assert_msg(strstr(m, "batchnorm") && strstr(m, "gamma 4") && strstr(m, "2x3x4x4"),
                  "message: %s", m);
    tm_tensor *x3 = make(3, (int[]){2, 4, 5}, NULL, 1);
    ck_assert_int_eq(tm_batchnorm(&t, x3, g, g, rm, rv, 0.1f, 1e-5f, &y), TM_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "2x4x5"));
    /* one value per channel: no variance to estimate in training */
    tm_tensor *x1 = make(2, (int[]){1, 4}, NULL, 1);
    ck_assert_int_eq(tm_batchnorm(&t, x1, g, g, rm, rv, 0.1f, 1e-5f, &y), TM_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "1x4"));
    tm_tensor_free(x);
    tm_tensor_free(x3);
    tm_tensor_free(x1);
    tm_tensor_free(g);
    tm_tensor_free(b);
    tm_tape_free(&t);
}
END_TEST

/* ---- activations ------------------------------------------------------ */

START_TEST(relu_and_relu6_by_hand)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_tensor *x = make(2, (int[]){1, 6}, (float[]){-2, 0, 0.5f, 3, 6, 7.5f}, 1);
    tm_tensor *y = NULL, *y6 = NULL;
    TM_CK(tm_relu(&t, x, &y));
    expect_close(y->data, (float[]){0, 0, 0.5f, 3, 6, 7.5f}, 6, 0);
    TM_CK(tm_relu6(&t, x, &y6));
    expect_close(y6->data, (float[]){0, 0, 0.5f, 3, 6, 6}, 6, 0);
    /* the kinks at 0 and 6 pass no gradient, as in PyTorch */
    for (int i = 0; i < 6; i++)
        y6->grad[i] = 1.0f;
    TM_CK(tm_tape_backward_from(&t, y6));
    expect_close(x->grad, (float[]){0, 0, 1, 1, 0, 0}, 6, 0);
    tm_tensor_zero_grad(x);
    tm_tensor_zero_grad(y6);
    for (int i = 0; i < 6; i++)
        y->grad[i] = 1.0f;
    TM_CK(tm_tape_backward_from(&t, y));
    expect_close(x->grad, (float[]){0, 0, 1, 1, 1, 1}, 6, 0);
    tm_tensor_free(x);
    tm_tape_free(&t);
}
END_TEST

static tm_status relu_fn(tm_tape *t, tm_tensor **in, int n, void *ctx, tm_tensor **out)
{
    (void)n;
    return ctx ? tm_relu6(t, in[0], out) : tm_relu(t, in[0], out);
}

START_TEST(activation_gradients)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_rng r;
    tm_rng_seed(&r, 31);
    tm_tensor *x = rnd(&r, 4, (int[]){2, 3, 2, 2}, -8, 8);
    avoid(x, 0.0f, 0.05f);
    avoid(x, 6.0f, 0.05f);
    gradcheck(&t, relu_fn, NULL, &x, 1);
    gradcheck(&t, relu_fn, (void *)1, &x, 1);
    tm_tensor_free(x);
    tm_tape_free(&t);
}
END_TEST

/* ---- dropout ---------------------------------------------------------- */

START_TEST(dropout_is_identity_in_eval)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    t.training = 0;
    tm_rng r;
    tm_rng_seed(&r, 41);
    tm_tensor *x = rnd(&r, 2, (int[]){4, 8}, -1, 1);
    tm_tensor *w = rnd(&r, 2, (int[]){2, 8}, -1, 1);
    tm_rng before = t.rng;
    tm_tensor *y = NULL, *z = NULL;
    TM_CK(tm_dropout(&t, x, 0.5f, &y));
    ck_assert_int_eq(memcmp(&before, &t.rng, sizeof before), 0);
    ck_assert_int_eq(tm_tensor_same_shape(x, y), 1);
    expect_close(y->data, x->data, x->size, 0);
    ck_assert_int_eq(t.n_nodes, 0);
    /* gradients pass straight through */
    TM_CK(tm_dense(&t, y, w, NULL, &z));
    for (int i = 0; i < 8; i++)
        z->grad[i] = 1.0f;
    TM_CK(tm_tape_backward_from(&t, z));
    for (int j = 0; j < 8; j++)
        ck_assert_float_eq_tol(x->grad[j], w->data[j] + w->data[8 + j], 1e-6f);
    /* rate 0 is the identity in training too */
    t.training = 1;
    TM_CK(tm_dropout(&t, x, 0.0f, &y));
    expect_close(y->data, x->data, x->size, 0);
    tm_tensor_free(x);
    tm_tensor_free(w);
    tm_tape_free(&t);
}
END_TEST

START_TEST(dropout_keeps_about_one_minus_rate)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 7));
    tm_tensor *x = make(2, (int[]){100, 200}, NULL, 1);
    for (size_t i = 0; i < x->size; i++)
        x->data[i] = 1.0f + (float)(i % 3);
    float rates[3] = {0.2f, 0.5f, 0.8f};
    for (int k = 0; k < 3; k++) {
        tm_tensor *y = NULL;
        TM_CK(tm_dropout(&t, x, rates[k], &y));
        size_t kept = 0;
        float scale = 1.0f / (1.0f - rates[k]);
        for (size_t i = 0; i < y->size; i++) {
            if (y->data[i] != 0.0f) {
                kept++;
                ck_assert_float_eq_tol(y->data[i], x->data[i] * scale, 1e-5f);
            }
            y->grad[i] = 1.0f;
        }
        double frac = (double)kept / (double)y->size;
        /* 20,000 draws: the standard error is below 0.004 */
        ck_assert_msg(fabs(frac - (1.0 - rates[k])) < 0.02, "rate %g kept %g", (double)rates[k],
                      frac);
        /* the gradient goes through the same mask */
        tm_tensor_zero_grad(x);
        TM_CK(tm_tape_backward_from(&t, y));
        for (size_t i = 0; i < y->size; i++) {
            float want = y->data[i] != 0.0f ? scale : 0.0f;
            ck_assert_float_eq(x->grad[i], want);
        }
        tm_tape_reset(&t);
    }
    /* different steps draw different masks */
    tm_tensor *a = NULL, *b = NULL;
    TM_CK(tm_dropout(&t, x, 0.5f, &a));
    TM_CK(tm_dropout(&t, x, 0.5f, &b));
    ck_assert_int_ne(memcmp(a->data, b->data, x->size * sizeof(float)), 0);
    tm_tensor *y = NULL;
    ck_assert_int_eq(tm_dropout(&t, x, 1.0f, &y), TM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "dropout"));
    ck_assert_int_eq(tm_dropout(&t, x, -0.1f, &y), TM_ERR_ARG);
    tm_tensor_free(x);
    tm_tape_free(&t);
}
END_TEST

static tm_status dropout_fn(tm_tape *t, tm_tensor **in, int n, void *ctx, tm_tensor **out)
{
    (void)n;
    (void)ctx;
    return tm_dropout(t, in[0], 0.3f, out);
}

START_TEST(dropout_gradients)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 3));
    tm_rng r;
    tm_rng_seed(&r, 43);
    tm_tensor *x = rnd(&r, 2, (int[]){4, 10}, -1, 1);
    gradcheck(&t, dropout_fn, NULL, &x, 1);
    tm_tensor_free(x);
    tm_tape_free(&t);
}
END_TEST

/* ---- flatten ---------------------------------------------------------- */

START_TEST(flatten_shares_and_records_nothing)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_tensor *x = make(4, (int[]){2, 3, 2, 2}, NULL, 1);
    tm_tensor *y = NULL;
    TM_CK(tm_flatten(&t, x, &y));
    ck_assert_int_eq(y->ndim, 2);
    ck_assert_int_eq(y->shape[0], 2);
    ck_assert_int_eq(y->shape[1], 12);
    ck_assert_uint_eq(y->size, 24);
    ck_assert_ptr_eq(y->data, x->data);
    ck_assert_ptr_eq(y->grad, x->grad);
    ck_assert_int_eq(y->requires_grad, 1);
    ck_assert_int_eq(t.n_nodes, 0);
    int old = tm_tape_set_grad_enabled(&t, 0);
    TM_CK(tm_flatten(&t, x, &y));
    ck_assert_int_eq(y->requires_grad, 0);
    ck_assert_ptr_null(y->grad);
    tm_tape_set_grad_enabled(&t, old);
    tm_tensor *c = make(2, (int[]){3, 5}, NULL, 0);
    TM_CK(tm_flatten(&t, c, &y));
    ck_assert_int_eq(y->shape[1], 5);
    ck_assert_int_eq(y->requires_grad, 0);
    tm_tensor_free(x);
    tm_tensor_free(c);
    tm_tape_free(&t);
}
END_TEST

/* flatten -> dense: the gradient reaches the 4-D input through the view. */
static tm_status flatten_fn(tm_tape *t, tm_tensor **in, int n, void *ctx, tm_tensor **out)
{
    (void)n;
    (void)ctx;
    tm_tensor *h = NULL;
    TM_TRY(tm_relu(t, in[0], &h));
    TM_TRY(tm_flatten(t, h, &h));
    return tm_dense(t, h, in[1], NULL, out);
}

START_TEST(flatten_gradients)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_rng r;
    tm_rng_seed(&r, 51);
    tm_tensor *in[2] = {rnd(&r, 4, (int[]){2, 2, 2, 3}, -1, 1), rnd(&r, 2, (int[]){3, 12}, -1, 1)};
    avoid(in[0], 0.0f, 0.05f);
    gradcheck(&t, flatten_fn, NULL, in, 2);
    free_all(in, 2);
    tm_tape_free(&t);
}
END_TEST

/* ---- concat ----------------------------------------------------------- */

START_TEST(concat_two_and_three_by_hand)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_tensor *a = make(2, (int[]){2, 2}, (float[]){1, 2, 3, 4}, 1);
    tm_tensor *b = make(2, (int[]){2, 1}, (float[]){5, 6}, 0);
    tm_tensor *c = make(2, (int[]){2, 3}, (float[]){7, 8, 9, 10, 11, 12}, 1);
    tm_tensor *y = NULL;
    TM_CK(tm_concat(&t, (tm_tensor *[]){a, b}, 2, &y));
    ck_assert_int_eq(y->shape[0], 2);
    ck_assert_int_eq(y->shape[1], 3);
    expect_close(y->data, (float[]){1, 2, 5, 3, 4, 6}, 6, 0);
    TM_CK(tm_concat(&t, (tm_tensor *[]){a, b, c}, 3, &y));
    ck_assert_int_eq(y->shape[1], 6);
    expect_close(y->data, (float[]){1, 2, 5, 7, 8, 9, 3, 4, 6, 10, 11, 12}, 12, 0);
    for (int i = 0; i < 12; i++)
        y->grad[i] = (float)(i + 1);
    TM_CK(tm_tape_backward_from(&t, y));
    expect_close(a->grad, (float[]){1, 2, 7, 8}, 4, 0);
    expect_close(c->grad, (float[]){4, 5, 6, 10, 11, 12}, 6, 0);
    tm_tensor_free(a);
    tm_tensor_free(b);
    tm_tensor_free(c);
    tm_tape_free(&t);
}
END_TEST

static tm_status concat_fn(tm_tape *t, tm_tensor **in, int n, void *ctx, tm_tensor **out)
{
    (void)ctx;
    return tm_concat(t, in, n, out);
}

/* a used twice: its gradient is the sum of both slices. */
static tm_status concat_twice_fn(tm_tape *t, tm_tensor **in, int n, void *ctx, tm_tensor **out)
{
    (void)n;
    (void)ctx;
    return tm_concat(t, (tm_tensor *[]){in[0], in[1], in[0]}, 3, out);
}

START_TEST(concat_gradients)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_rng r;
    tm_rng_seed(&r, 61);
    tm_tensor *in[3] = {rnd(&r, 2, (int[]){3, 2}, -1, 1), rnd(&r, 2, (int[]){3, 4}, -1, 1),
                        rnd(&r, 2, (int[]){3, 1}, -1, 1)};
    gradcheck(&t, concat_fn, NULL, in, 2);
    gradcheck(&t, concat_fn, NULL, in, 3);
    gradcheck(&t, concat_twice_fn, NULL, in, 2);
    free_all(in, 3);
    tm_tape_free(&t);
}
END_TEST

START_TEST(concat_errors)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_tensor *a = make(2, (int[]){2, 3}, NULL, 1);
    tm_tensor *b = make(2, (int[]){4, 3}, NULL, 1);
    tm_tensor *c = make(4, (int[]){2, 3, 1, 1}, NULL, 1);
    tm_tensor *y = NULL;
    ck_assert_int_eq(tm_concat(&t, (tm_tensor *[]){a, b}, 2, &y), TM_ERR_SHAPE);
    const char *m = tm_last_error();
    ck_assert_msg(strstr(m, "concat") && strstr(m, "4x3") && strstr(m, "2x3"), "message: %s", m);
    ck_assert_int_eq(tm_concat(&t, (tm_tensor *[]){a, c}, 2, &y), TM_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "2x3x1x1"));
    ck_assert_int_eq(tm_concat(&t, (tm_tensor *[]){a}, 0, &y), TM_ERR_ARG);
    tm_tensor_free(a);
    tm_tensor_free(b);
    tm_tensor_free(c);
    tm_tape_free(&t);
}
END_TEST

/* ---- softmax cross-entropy -------------------------------------------- */

START_TEST(cross_entropy_by_hand)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_tensor *z = make(2, (int[]){2, 3}, (float[]){0, 0, 0, 1, 2, 3}, 1);
    int labels[2] = {0, 2};
    float probs[6];
    tm_tensor *y = NULL;
    TM_CK(tm_softmax_cross_entropy(&t, z, labels, NULL, probs, &y));
    ck_assert_uint_eq(y->size, 1);
    /* ln 3 and ln(1 + e^-1 + e^-2) */
    double ce0 = 1.0986122886681098, ce1 = 0.40760596444438013;
    ck_assert_double_eq_tol(y->data[0], (ce0 + ce1) / 2, 1e-6);
    double e = 1.0 + exp(-1.0) + exp(-2.0);
    expect_close(probs,
                 (float[]){1 / 3.0f, 1 / 3.0f, 1 / 3.0f, (float)(exp(-2.0) / e),
                           (float)(exp(-1.0) / e), (float)(1 / e)},
                 6, 1e-6f);
    TM_CK(tm_tape_backward(&t, y));
    expect_close(z->grad,
                 (float[]){(1 / 3.0f - 1) / 2, 1 / 6.0f, 1 / 6.0f, (float)(exp(-2.0) / e) / 2,
                           (float)(exp(-1.0) / e) / 2, (float)(1 / e - 1) / 2},
                 6, 1e-6f);
    /* class weights: (1 * ce0 + 3 * ce1) / (1 + 3) */
    float w[3] = {1, 1, 3};
    TM_CK(tm_softmax_cross_entropy(&t, z, labels, w, NULL, &y));
    ck_assert_double_eq_tol(y->data[0], (ce0 + 3 * ce1) / 4, 1e-6);
    /* large logits stay finite */
    tm_tensor *big = make(2, (int[]){2, 2}, (float[]){1000, 0, 1000, 0}, 1);
    TM_CK(tm_softmax_cross_entropy(&t, big, (int[]){0, 1}, NULL, probs, &y));
    ck_assert_double_eq_tol(y->data[0], 500.0, 1e-3);
    ck_assert(isfinite(probs[0]) && isfinite(probs[1]));
    ck_assert_float_eq(probs[0], 1.0f);
    tm_tensor_free(z);
    tm_tensor_free(big);
    tm_tape_free(&t);
}
END_TEST

typedef struct {
    const int *labels;
    const float *weights;
} ce_args;

static tm_status ce_fn(tm_tape *t, tm_tensor **in, int n, void *ctx, tm_tensor **out)
{
    (void)n;
    ce_args *a = ctx;
    return tm_softmax_cross_entropy(t, in[0], a->labels, a->weights, NULL, out);
}

START_TEST(cross_entropy_gradients)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_rng r;
    tm_rng_seed(&r, 71);
    tm_tensor *z = rnd(&r, 2, (int[]){5, 4}, -3, 3);
    int labels[5] = {0, 3, 1, 3, 2};
    float w[4] = {0.5f, 2.0f, 1.0f, 3.0f};
    ce_args plain = {labels, NULL}, weighted = {labels, w};
    gradcheck(&t, ce_fn, &plain, &z, 1);
    gradcheck(&t, ce_fn, &weighted, &z, 1);
    tm_tensor_free(z);
    tm_tape_free(&t);
}
END_TEST

START_TEST(cross_entropy_errors)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_tensor *z = make(2, (int[]){3, 4}, NULL, 1);
    tm_tensor *y = NULL;
    ck_assert_int_eq(tm_softmax_cross_entropy(&t, z, (int[]){0, 4, 1}, NULL, NULL, &y),
                     TM_ERR_ARG);
    const char *m = tm_last_error();
    ck_assert_msg(strstr(m, "sample 1") && strstr(m, "label 4"), "message: %s", m);
    ck_assert_int_eq(tm_softmax_cross_entropy(&t, z, (int[]){0, 1, -1}, NULL, NULL, &y),
                     TM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "sample 2"));
    ck_assert_int_eq(tm_softmax_cross_entropy(&t, z, (int[]){0, 0, 0}, (float[]){0, 1, 1, 1},
                                              NULL, &y),
                     TM_ERR_ARG);
    tm_tensor *z4 = make(4, (int[]){3, 4, 1, 1}, NULL, 1);
    ck_assert_int_eq(tm_softmax_cross_entropy(&t, z4, (int[]){0, 1, 2}, NULL, NULL, &y),
                     TM_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "3x4x1x1"));
    tm_tensor_free(z);
    tm_tensor_free(z4);
    tm_tape_free(&t);
}
END_TEST

/* ---- end to end ------------------------------------------------------- */

START_TEST(mlp_overfits_a_fixed_batch)
{
    enum { N = 16, IN = 8, HID = 32, K = 4 };
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_rng r;
    tm_rng_seed(&r, 81);
    tm_tensor *x = tm_test_tensor(&r, 2, (int[]){N, IN}, -1, 1, 0);
    int labels[N];
    for (int i = 0; i < N; i++)
        labels[i] = (int)tm_rng_below(&r, K);
    float l1 = 1.0f / sqrtf(IN), l2 = 1.0f / sqrtf(HID);
    tm_tensor *p[4] = {rnd(&r, 2, (int[]){HID, IN}, -l1, l1), rnd(&r, 1, (int[]){HID}, -l1, l1),
                       rnd(&r, 2, (int[]){K, HID}, -l2, l2), rnd(&r, 1, (int[]){K}, -l2, l2)};
    float loss = INFINITY, probs[N * K];
    int correct = 0, step;
    for (step = 0; step < 3000; step++) {
        tm_tape_reset(&t);
        for (int i = 0; i < 4; i++)
            tm_tensor_zero_grad(p[i]);
        tm_tensor *h = NULL, *a = NULL, *z = NULL, *l = NULL;
        TM_CK(tm_dense(&t, x, p[0], p[1], &h));
        TM_CK(tm_relu(&t, h, &a));
        TM_CK(tm_dense(&t, a, p[2], p[3], &z));
        TM_CK(tm_softmax_cross_entropy(&t, z, labels, NULL, probs, &l));
        loss = l->data[0];
        correct = 0;
        for (int i = 0; i < N; i++) {
            int best = 0;
            for (int k = 1; k < K; k++)
                if (probs[i * K + k] > probs[i * K + best])
                    best = k;
            correct += best == labels[i];
        }
        if (loss < 0.05f && correct == N)
            break;
        TM_CK(tm_tape_backward(&t, l));
        for (int i = 0; i < 4; i++)
            for (size_t j = 0; j < p[i]->size; j++)
                p[i]->data[j] -= 0.5f * p[i]->grad[j];
    }
    ck_assert_msg(loss < 0.05f && correct == N, "after %d steps: loss %g, %d/%d correct", step,
                  (double)loss, correct, N);
    free_all(p, 4);
    tm_tensor_free(x);
    tm_tape_free(&t);
}
END_TEST

Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("ops");
    tcase_add_test(tc, dense_forward_by_hand);
    tcase_add_test(tc, dense_gradients);
    tcase_add_test(tc, dense_backward_accumulates);
    tcase_add_test(tc, dense_shape_errors);
    tcase_add_test(tc, batchnorm_training_2d_by_hand);
    tcase_add_test(tc, batchnorm_training_4d_running_stats);
    tcase_add_test(tc, batchnorm_eval_uses_running_stats);
    tcase_add_test(tc, batchnorm_gradients);
    tcase_add_test(tc, batchnorm_threads_give_identical_results);
    tcase_add_test(tc, batchnorm_errors);
    tcase_add_test(tc, relu_and_relu6_by_hand);
    tcase_add_test(tc, activation_gradients);
    tcase_add_test(tc, dropout_is_identity_in_eval);
    tcase_add_test(tc, dropout_keeps_about_one_minus_rate);
    tcase_add_test(tc, dropout_gradients);
    tcase_add_test(tc, flatten_shares_and_records_nothing);
    tcase_add_test(tc, flatten_gradients);
    tcase_add_test(tc, concat_two_and_three_by_hand);
    tcase_add_test(tc, concat_gradients);
    tcase_add_test(tc, concat_errors);
    tcase_add_test(tc, cross_entropy_by_hand);
    tcase_add_test(tc, cross_entropy_gradients);
    tcase_add_test(tc, cross_entropy_errors);
    tcase_add_test(tc, mlp_overfits_a_fixed_batch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tm_test_run(ops_suite()); }
