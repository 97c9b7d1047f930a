/* Quantisation: fake quantisation and its straight-through gradients,
 * quantise/dequantise bounds, weight packing, observers, batch-norm
 * folding, the QAT forward, lowering against a 64-bit reference, and a
 * small model end to end through the runtime executor. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "tm_checkpoint.h"
#include "tm_data_load.h"
#include "tm_gradcheck.h"
#include "tm_lower.h"
#include "tm_ops.h"
#include "tm_qat.h"
#include "tm_quant.h"
#include "tm_rt_kernels.h"
#include "tm_test_util.h"
#include "tm_run_folder.h"
#include "tm_train.h"
#ifndef NOISE
#define NOISE 1.0
#endif

static tm_tensor *make(int ndim, const int *shape, const float *vals, int requires_grad)
{
    tm_tensor *x = NULL;
    ck_assert_int_eq(tm_tensor_new(&x, ndim, shape, requires_grad), TM_OK);
    if (vals)
        memcpy(x->data, vals, x->size * sizeof(float));
    return x;
}

static void expect_close(const float *got, const float *want, size_t n, float tol)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabsf(got[i] - want[i]) <= tol, "element %zu: got %.7g, expected %.7g", i,
                      (double)got[i], (double)want[i]);
}

/* ---- activation parameters and fake quantisation ----------------------- */

START_TEST(qparams_by_hand)
{
    tm_qparams p = tm_qparams_from_range(0.0f, 2.55f, -128, 127);
    ck_assert_float_eq_tol(p.scale, 0.01f, 1e-7f);
    ck_assert_int_eq(p.zero_point, -128);
    /* [-1, 1]: scale 2/255, zero point -128 + 127.5 = -0.5 rounds away to -1 */
    p = tm_qparams_from_range(-1.0f, 1.0f, -128, 127);
    ck_assert_float_eq_tol(p.scale, 2.0f / 255.0f, 1e-8f);
    ck_assert_int_eq(p.zero_point, -1);
    ck_assert_int_eq(tm_quantize(0.0f, &p), -1);
    /* a range that excludes 0 is widened to include it */
    p = tm_qparams_from_range(2.0f, 5.1f, -128, 127);
    ck_assert_float_eq_tol(p.scale, 0.02f, 1e-7f);
    ck_assert_int_eq(p.zero_point, -128);
    p = tm_qparams_from_range(-5.1f, -2.0f, -128, 127);
    ck_assert_int_eq(p.zero_point, 127);
    ck_assert_int_eq(tm_quantize(0.0f, &p), 127);
    /* nothing observed but zeros: any positive scale */
    p = tm_qparams_from_range(0.0f, 0.0f, -128, 127);
    ck_assert_float_eq(p.scale, 1.0f);
    ck_assert_int_eq(tm_quantize(0.0f, &p), p.zero_point);
}
END_TEST

START_TEST(quantize_rounds_half_away_and_clamps)
{
    tm_qparams p = tm_qparams_from_range(0.0f, 2.55f, -128, 127); /* scale 0.01, zp -128 */
    p.scale = 0.5f;                                                /* exact halves */
    ck_assert_int_eq(tm_quantize(0.25f, &p), -127);  /* 0.5 -> 1 */
    ck_assert_int_eq(tm_quantize(0.75f, &p), -126);  /* 1.5 -> 2 */
    p.zero_point = 0;
    ck_assert_int_eq(tm_quantize(-0.25f, &p), -1);   /* -0.5 -> -1 */
    ck_assert_int_eq(tm_quantize(-0.75f, &p), -2);
    ck_assert_int_eq(tm_quantize(1000.0f, &p), 127);
    ck_assert_int_eq(tm_quantize(-1000.0f, &p), -128);
    ck_assert_int_eq(tm_quantize(1e30f, &p), 127);
    ck_assert_float_eq(tm_dequantize(-3, &p), -1.5f);
    /* the runtime's input quantiser agrees */
    float xs[6] = {0.25f, -0.25f, 0.75f, -0.75f, 1000.0f, 0.1f};
    int8_t q[6];
    tm_rt_quantize_input(xs, 6, p.scale, p.zero_point, q);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(q[i], tm_quantize(xs[i], &p));
}
END_TEST

START_TEST(fake_quant_forward_by_hand)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_qparams p = tm_qparams_from_range(0.0f, 2.55f, -128, 127); /* scale 0.01, zp -128 */
    tm_tensor *x = make(1, (int[]){6}, (float[]){1.0f, 3.0f, -1.0f, 0.004f, 0.016f, 2.55f}, 1);
    tm_tensor *y = NULL;
    TM_CK(tm_fake_quant(&t, x, &p, &y));
    expect_close(y->data, (float[]){1.0f, 2.55f, 0.0f, 0.0f, 0.02f, 2.55f}, 6, 1e-6f);
    /* asymmetric, both signs: [-1, 3] -> scale 4/255, zero point -128 + 63.75 -> -64 */
    p = tm_qparams_from_range(-1.0f, 3.0f, -128, 127);
    ck_assert_int_eq(p.zero_point, -64);
    float s = p.scale;
    tm_tensor *x2 = make(1, (int[]){4}, (float[]){-2.0f, -0.5f, 0.3f, 5.0f}, 0);
    TM_CK(tm_fake_quant(&t, x2, &p, &y));
    float lo = (-128 + 64) * s, hi = (127 + 64) * s;
    expect_close(y->data, (float[]){lo, roundf(-0.5f / s) * s, roundf(0.3f / s) * s, hi}, 4,
                 1e-6f);
    ck_assert_int_eq(y->requires_grad, 0);
    tm_tensor_free(x);
    tm_tensor_free(x2);
    tm_tape_free(&t);
}
END_TEST

START_TEST(fake_quant_straight_through_gradient)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_qparams p = tm_qparams_from_range(-1.0f, 1.0f, -128, 127);
    float lo, hi;
    tm_qparams_range(&p, &lo, &hi);
    tm_tensor *x = make(1, (int[]){7},
                        (float[]){-3.0f, lo - 0.01f, lo, 0.0f, 0.5f, hi, hi + 0.01f}, 1);
    tm_tensor *y = NULL;
    TM_CK(tm_fake_quant(&t, x, &p, &y));
    for (int i = 0; i < 7; i++)
        y->grad[i] = (float)(i + 1);
    TM_CK(tm_tape_backward_from(&t, y));
    expect_close(x->grad, (float[]){0, 0, 3, 4, 5, 6, 0}, 7, 0.0f);
    tm_tensor_free(x);
    tm_tape_free(&t);
}
END_TEST

typedef struct {
    tm_qparams p;
    const float *scales;
    int bits;
} fq_case;

static tm_status fq_graph(tm_tape *t, tm_tensor **in, int n, void *ctx, tm_tensor **out)
{
    (void)n;
    const fq_case *c = ctx;
    return c->scales ? tm_fake_quant_channels(t, in[0], c->scales, c->bits, out)
                     : tm_fake_quant(t, in[0], &c->p, out);
}

/* Keeps every value at least gap away from the clip limits +-lim (or
 * lo / hi), so central differences never straddle them. */
static void keep_off(tm_tensor *x, float lo, float hi, float gap)
{
    for (size_t i = 0; i < x->size; i++) {
        float *v = &x->data[i];
        if (fabsf(*v - lo) < gap)
            *v = lo + (*v < lo ? -gap : gap);
        if (fabsf(*v - hi) < gap)
            *v = hi + (*v < hi ? -gap : gap);
    }
}

/* Over a step much wider than the quantisation step, fake quantisation is
 * the clamp (slope 1 inside, 0 outside) up to scale / (2 eps): the
 * straight-through gradient is that slope. */
START_TEST(fake_quant_gradcheck_8bit)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 2));
    tm_rng r;
    tm_rng_seed(&r, 7);
    fq_case c = {tm_qparams_from_range(-1.0f, 1.0f, -128, 127), NULL, 0};
    float lo, hi;
    tm_qparams_range(&c.p, &lo, &hi);
    tm_tensor *x = tm_test_tensor(&r, 2, (int[]){4, 10}, -3.0f, 3.0f, 1);
    keep_off(x, lo, hi, 0.3f);
    tm_gradcheck_report rep;
    TM_CK(tm_gradcheck(&t, fq_graph, &c, &x, 1, 0.25, 0.03, &rep));
    ck_assert_uint_eq(rep.checked, 40);
    /* per channel: 8-bit, scales 0.01 and 0.02 (limits 1.27 and 2.54) */
    float scales[2] = {0.01f, 0.02f};
    fq_case cc = {c.p, scales, 8};
    tm_tensor *w = tm_test_tensor(&r, 2, (int[]){2, 20}, -4.0f, 4.0f, 1);
    for (int ch = 0; ch < 2; ch++) {
        tm_tensor row = *w;
        row.data = w->data + ch * 20;
        row.size = 20;
        keep_off(&row, -127 * scales[ch], 127 * scales[ch], 0.3f);
    }
    TM_CK(tm_gradcheck(&t, fq_graph, &cc, &w, 1, 0.25, 0.04, &rep));
    ck_assert_uint_eq(rep.checked, 40);
    tm_tensor_free(x);
    tm_tensor_free(w);
    tm_tape_free(&t);
}
END_TEST

/* Outside the clip range fake quantisation is constant: there the true
 * derivative, 0, is checked exactly at any precision. */
START_TEST(fake_quant_gradcheck_outside_range)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 2));
    float scales[2] = {0.1f, 0.05f};           /* 4-bit limits 0.7 and 0.35 */
    fq_case c = {tm_qparams_from_range(0.0f, 1.0f, -128, 127), scales, 4};
    tm_tensor *w = make(2, (int[]){2, 4}, (float[]){1, -1, 2, -0.9f, 0.5f, -0.6f, 3, -2}, 1);
    tm_gradcheck_report rep;
    TM_CK(tm_gradcheck(&t, fq_graph, &c, &w, 1, 1e-2, 1e-6, &rep));
    ck_assert_uint_eq(rep.checked, 8);
    ck_assert(rep.max_abs_err == 0.0);
    fq_case a = {c.p, NULL, 0};
    tm_tensor *x = make(1, (int[]){4}, (float[]){-2, -0.5f, 1.5f, 9}, 1);
    TM_CK(tm_gradcheck(&t, fq_graph, &a, &x, 1, 1e-2, 1e-6, &rep));
    ck_assert(rep.max_abs_err == 0.0);
    tm_tensor_free(w);
    tm_tensor_free(x);
    tm_tape_free(&t);
}
END_TEST

START_TEST(fake_quant_channels_by_hand)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    const float wv[6] = {0.5f, -1.27f, 0.01f, 2.0f, 1.1f, -0.5f};
    float sc[2];
    TM_CK(tm_weight_scales(wv, 2, 3, 8, TM_WSCALE_MAX, sc));
    ck_assert_float_eq_tol(sc[0], 0.01f, 1e-8f);
    ck_assert_float_eq_tol(sc[1], 2.0f / 127.0f, 1e-8f);
    int8_t q[6];
    tm_quantize_weights(wv, 2, 3, sc, 8, q);
    int8_t want8[6] = {50, -127, 1, 127, 70, -32};
    ck_assert_mem_eq(q, want8, 6);
    tm_tensor *w = make(2, (int[]){2, 3}, wv, 1), *y = NULL;
    TM_CK(tm_fake_quant_channels(&t, w, sc, 8, &y));
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq_tol(y->data[i], want8[i] * sc[i / 3], 1e-7f);
    /* 4-bit, max scales: 1.27 / 7 and 2 / 7 */
    TM_CK(tm_weight_scales(wv, 2, 3, 4, TM_WSCALE_MAX, sc));
    ck_assert_float_eq_tol(sc[0], 1.27f / 7.0f, 1e-7f);
    tm_quantize_weights(wv, 2, 3, sc, 4, q);
    int8_t want4[6] = {3, -7, 0, 7, 4, -2};
    ck_assert_mem_eq(q, want4, 6);
    TM_CK(tm_fake_quant_channels(&t, w, sc, 4, &y));
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq_tol(y->data[i], want4[i] * sc[i / 3], 1e-7f);
    /* a channel of zeros keeps a usable scale */
    const float zeros[3] = {0, 0, 0};
    TM_CK(tm_weight_scales(zeros, 1, 3, 4, TM_WSCALE_MSE, sc));
    ck_assert_float_eq(sc[0], 1.0f);
    /* straight-through inside the limit, 0 outside it */
    float lim[2] = {0.1f, 0.2f}; /* 4-bit limits 0.7 and 1.4 */
    TM_CK(tm_fake_quant_channels(&t, w, lim, 4, &y));
    for (int i = 0; i < 6; i++)
        y->grad[i] = 1.0f;
    TM_CK(tm_tape_backward_from(&t, y));
    expect_close(w->grad, (float[]){1, 0, 1, 0, 1, 1}, 6, 0.0f);
    ck_assert_int_eq(tm_weight_scales(wv, 2, 3, 5, TM_WSCALE_MAX, sc), TM_ERR_ARG);
    tm_tensor_free(w);
    tm_tape_free(&t);
}
END_TEST

START_TEST(quantize_dequantize_error_bound)
{
    tm_rng r;
    tm_rng_seed(&r, 3);
    for (int trial = 0; trial < 50; trial++) {
        float a = -5.0f * tm_rng_uniform(&r), b = 5.0f * tm_rng_uniform(&r) + 0.01f;
        tm_qparams p = tm_qparams_from_range(a, b, -128, 127);
        float lo, hi;
        tm_qparams_range(&p, &lo, &hi);
        /* rounding the zero point shifts the range by at most half a step */
        ck_assert(lo <= a + p.scale * 0.5001f && hi >= b - p.scale * 0.5001f);
        for (int i = 0; i < 200; i++) {
            float x = lo + (hi - lo) * tm_rng_uniform(&r);
            float e = fabsf(x - tm_dequantize(tm_quantize(x, &p), &p));
            ck_assert_msg(e <= p.scale * 0.5f * (1.0f + 1e-5f), "x %g: error %g > scale/2 %g",
                          (double)x, (double)e, (double)p.scale / 2);
        }
    }
    /* weights: every value lies inside the range with max scales */
    float w[64], s[2], dq;
    int8_t q[64];
    for (int bits = 4; bits <= 8; bits += 4) {
        for (int i = 0; i < 64; i++)
            w[i] = 2.0f * tm_rng_normal(&r);
        TM_CK(tm_weight_scales(w, 2, 32, bits, TM_WSCALE_MAX, s));
        tm_quantize_weights(w, 2, 32, s, bits, q);
        for (int i = 0; i < 64; i++) {
            dq = q[i] * s[i / 32];
            ck_assert(fabsf(w[i] - dq) <= s[i / 32] * 0.5f * (1.0f + 1e-5f));
            ck_assert(abs(q[i]) <= tm_weight_qmax(bits));
        }
        /* minimum-error clipping never does worse than max scaling */
        float sm[2];
        TM_CK(tm_weight_scales(w, 2, 32, bits, TM_WSCALE_MSE, sm));
        for (int c = 0; c < 2; c++) {
            double e_max = 0, e_mse = 0;
            int8_t qa[32], qb[32];
            tm_quantize_weights(w + 32 * c, 1, 32, &s[c], bits, qa);
            tm_quantize_weights(w + 32 * c, 1, 32, &sm[c], bits, qb);
            for (int i = 0; i < 32; i++) {
                e_max += pow(w[32 * c + i] - qa[i] * s[c], 2);
                e_mse += pow(w[32 * c + i] - qb[i] * sm[c], 2);
            }
            ck_assert(e_mse <= e_max + 1e-12);
            ck_assert(sm[c] <= s[c]);
        }
    }
}
END_TEST

START_TEST(pack_4bit_low_nibble_first)
{
    int8_t q[6] = {3, -7, 0, -1, 7, -8};
    uint8_t out[4];
    ck_assert_uint_eq(tm_packed_weight_bytes(2, 3, 4), 4);
    ck_assert_uint_eq(tm_packed_weight_bytes(2, 3, 8), 6);
    tm_pack_weights(q, 2, 3, 4, out);
    /* rows of three: 3 | -7 << 4, 0 | pad; -1 | 7 << 4, -8 | pad */
    uint8_t want[4] = {0x93, 0x00, 0x7F, 0x08};
    ck_assert_mem_eq(out, want, 4);
    int8_t back[6];
    tm_unpack_weights(out, 2, 3, 4, back);
    ck_assert_mem_eq(back, q, 6);
    uint8_t o8[6];
    tm_pack_weights(q, 2, 3, 8, o8);
    ck_assert_mem_eq(o8, q, 6);
}
END_TEST

START_TEST(observers)
{
    tm_observer o;
    tm_observer_init(&o, TM_OBS_MINMAX, 0.0f);
    tm_observer_update(&o, (float[]){1, -2, 3}, 3);
    tm_observer_update(&o, (float[]){0.5f, NAN, 4}, 3);
    ck_assert_float_eq(o.min, -2.0f);
    ck_assert_float_eq(o.max, 4.0f);
    ck_assert_int_eq(o.batches, 2);
    /* EMA at 0.25: the plain mean of the first four batches, then 0.25 */
    tm_observer_init(&o, TM_OBS_EMA, 0.25f);
    tm_observer_update(&o, (float[]){-1, 2}, 2);
    tm_observer_update(&o, (float[]){-3, 6}, 2);
    ck_assert_float_eq_tol(o.min, -2.0f, 1e-6f);
    ck_assert_float_eq_tol(o.max, 4.0f, 1e-6f);
    tm_observer_update(&o, (float[]){-4, 10}, 2);
    tm_observer_update(&o, (float[]){0, 2}, 2);
    ck_assert_float_eq_tol(o.min, -2.0f, 1e-5f);
    ck_assert_float_eq_tol(o.max, 5.0f, 1e-5f);
    tm_observer_update(&o, (float[]){-6, 1}, 2);
    ck_assert_float_eq_tol(o.min, -3.0f, 1e-5f);
    ck_assert_float_eq_tol(o.max, 4.0f, 1e-5f);
    tm_observer_update(&o, (float[]){INFINITY}, 1); /* nothing finite: ignored */
    ck_assert_int_eq(o.batches, 5);
    tm_qparams p = tm_observer_qparams(&o);
    ck_assert_float_eq_tol(p.scale, 7.0f / 255.0f, 1e-6f);
}
END_TEST

/* ---- batch-norm folding ------------------------------------------------ */

static void random_bn(tm_rng *r, int c, tm_tensor **g, tm_tensor **b, float *mean, float *var)
{
    *g = tm_test_tensor(r, 1, &c, 0.5f, 1.5f, 1);
    *b = tm_test_tensor(r, 1, &c, -0.5f, 0.5f, 1);
    for (int i = 0; i < c; i++) {
        mean[i] = tm_rng_uniform(r) - 0.5f;
        var[i] = 0.2f + tm_rng_uniform(r);
    }
}

START_TEST(bn_folding_matches_conv_then_bn_in_eval_mode)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    t.training = 0;
    tm_rng r;
    tm_rng_seed(&r, 11);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        tm_tensor *x = tm_test_tensor(&r, 4, (int[]){2, 3, 6, 5}, -1, 1, 0);
        tm_tensor *w = tm_test_tensor(&r, 4, (int[]){4, 3, 3, 3}, -0.5f, 0.5f, 1);
        tm_tensor *b = with_bias ? tm_test_tensor(&r, 1, (int[]){4}, -0.3f, 0.3f, 1) : NULL;
        tm_tensor *g, *be;
        float mean[4], var[4];
        random_bn(&r, 4, &g, &be, mean, var);
        tm_conv_params cp = {1, TM_PAD_SAME};
        tm_tensor *h = NULL, *ref = NULL, *wf = NULL, *bf = NULL, *y = NULL;
        TM_CK(tm_conv2d(&t, x, w, b, &cp, &h));
        TM_CK(tm_batchnorm(&t, h, g, be, mean, var, 0.1f, 1e-3f, &ref));
        TM_CK(tm_fold_weight(&t, w, g, var, 1e-3f, &wf));
        TM_CK(tm_fold_bias(&t, b, g, be, mean, var, 1e-3f, &bf));
        TM_CK(tm_conv2d(&t, x, wf, bf, &cp, &y));
        expect_close(y->data, ref->data, y->size, 2e-5f);
        /* the plain-array fold gives the same numbers */
        float w2[108], b2[4];
        tm_bn_fold(w->data, b ? b->data : NULL, g->data, be->data, mean, var, 1e-3f, 4, 27, w2,
                   b2);
        expect_close(w2, wf->data, 108, 0.0f);
        expect_close(b2, bf->data, 4, 0.0f);
        tm_tape_reset(&t);
        tm_tensor_free(x);
        tm_tensor_free(w);
        tm_tensor_free(b);
        tm_tensor_free(g);
        tm_tensor_free(be);
    }
    tm_tape_free(&t);
}
END_TEST

typedef struct {
    const float *mean, *var;
} fold_ctx;

static tm_status fold_graph(tm_tape *t, tm_tensor **in, int n, void *ctx, tm_tensor **out)
{
    (void)n;
    const fold_ctx *c = ctx;
    tm_tensor *wf = NULL, *bf = NULL, *y = NULL;
    TM_TRY(tm_fold_weight(t, in[0], in[2], c->var, 1e-3f, &wf));
    TM_TRY(tm_fold_bias(t, in[1], in[2], in[3], c->mean, c->var, 1e-3f, &bf));
    /* a dense layer uses both, so one output carries both gradients */
    TM_TRY(tm_dense(t, in[4], wf, bf, &y));
    *out = y;
    return TM_OK;
}

START_TEST(bn_fold_gradcheck)
{
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 1));
    tm_rng r;
    tm_rng_seed(&r, 5);
    tm_tensor *in[5];
    float mean[3], var[3];
    in[0] = tm_test_tensor(&r, 2, (int[]){3, 4}, -1, 1, 1);
    in[1] = tm_test_tensor(&r, 1, (int[]){3}, -1, 1, 1);
    random_bn(&r, 3, &in[2], &in[3], mean, var);
    in[4] = tm_test_tensor(&r, 2, (int[]){2, 4}, -1, 1, 1);
    fold_ctx c = {mean, var};
    tm_gradcheck_report rep;
    TM_CK(tm_gradcheck(&t, fold_graph, &c, in, 5, 1e-2, 2e-2, &rep));
    ck_assert_uint_eq(rep.checked, 12 + 3 + 3 + 3 + 8);
    for (int i = 0; i < 5; i++)
        tm_tensor_free(in[i]);
    tm_tape_free(&t);
}
END_TEST

/* ---- the model-level QAT state ---------------------------------------- */

static const char *tiny_cfg =
    "[experiment]\nseed = 3\nthreads = 1\n"
    "[data]\nsource = synthetic\nclasses = 4\ntrain_samples = %d\nval_samples = 64\n"
    "test_samples = 400\nnoise = %g\n"
    "[train]\nepochs = %d\nbatch_size = 32\nlr = 0.005\n"
    "[image]\ninput = 1x16x16\n"
    "[image.conv1]\ntype = conv\nfilters = 6\nbatch_norm = 1\nactivation = relu\n"
    "[image.pool1]\ntype = maxpool\nsize = 2\n"
    "[image.sep2]\ntype = separable\nfilters = 8\nactivation = relu\n"
    "[image.pool2]\ntype = avgpool\nsize = 2\n"
    "[image.flat]\ntype = flatten\n"
    "[image.fc]\ntype = dense\nunits = 12\nactivation = relu\n"
    "[audio]\ninput = 1x12x24\n"
    "[audio.conv1]\ntype = conv\nfilters = 6\nsize = %s\nstride = 2\npadding = same\n"
    "batch_norm = 1\nactivation = relu6\n"
    "[audio.dw]\ntype = depthwise\nsize = %s\npadding = valid\n"
    "[audio.bn]\ntype = batchnorm\n"
    "[audio.act]\ntype = relu\n"
    "[audio.gap]\ntype = globalavgpool\n"
    "[fusion]\ntype = concat\n"
    "[head.drop]\ntype = dropout\nrate = 0.2\n"
    "[head.out]\ntype = dense\nunits = classes\n";

/* nonsquare: the audio kernels 2x5 and 3x1 (even sides: uneven same padding) */
static void tiny_experiment_of(tm_experiment *e, int train_samples, double noise, int epochs,
                               int nonsquare)
{
    char text[4096];
    snprintf(text, sizeof text, tiny_cfg, train_samples, noise, epochs, nonsquare ? "2x5" : "3",
             nonsquare ? "3x1" : "3");
    TM_CK(tm_experiment_parse(e, text, "tiny.cfg", NULL, 0));
}

static void tiny_experiment(tm_experiment *e, int train_samples, double noise, int epochs)
{
    tiny_experiment_of(e, train_samples, noise, epochs, 0);
}

/* Random batch-norm statistics, so folding is not an identity. */
static void perturb_bn(tm_model *m, tm_rng *r)
{
    for (int i = 0; i < m->n_buffers; i++)
        for (size_t j = 0; j < m->buffers[i].t->size; j++) {
            float u = tm_rng_uniform(r);
            m->buffers[i].t->data[j] = strstr(m->buffers[i].what, "var") ? 0.3f + u : u - 0.5f;
        }
    for (int i = 0; i < m->n_params; i++)
        if (strstr(m->params[i].what, "bn."))
            for (size_t j = 0; j < m->params[i].t->size; j++)
                m->params[i].t->data[j] += 0.3f * (tm_rng_uniform(r) - 0.5f);
}

static void model_inputs(tm_tape *t, const tm_dataset *d, int n, tm_tensor **x)
{
    int idx[64];
    for (int i = 0; i < n; i++)
        idx[i] = i;
    for (int b = 0; b < 2; b++) {
        int shape[4] = {n, d->mod[b].shape[0], d->mod[b].shape[1], d->mod[b].shape[2]};
        TM_CK(tm_arena_tensor(&t->arena, &x[b], 4, shape, 0));
        tm_dataset_gather(d, b, idx, n, x[b]->data);
    }
}

START_TEST(qat_forward_without_fake_quant_is_the_float_model)
{
    tm_experiment e;
    tiny_experiment(&e, 64, 0.3, 1);
    tm_splits data;
    TM_CK(tm_load_splits(&e, &data, NULL));
    tm_experiment_set_classes(&e, data.train.n_classes);
    tm_rng r;
    tm_rng_seed(&r, 1);
    tm_model *m = NULL;
    TM_CK(tm_model_build(&m, &e.model, &r));
    perturb_bn(m, &r);
    tm_qat *q = NULL;
    TM_CK(tm_qat_new(&q, m, NULL));
    ck_assert_int_eq(q->chain[1][1].bn, 2); /* audio.bn folds into audio.dw */
    ck_assert_int_eq(q->chain[1][1].act, TM_ACT_RELU);
    ck_assert_int_eq(q->chain[1][2].merged, 1);
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 0));
    t.training = 0;
    tm_tape_set_grad_enabled(&t, 0);
    tm_tensor *x[2], *ref = NULL, *got = NULL;
    model_inputs(&t, &data.train, 16, x);
    TM_CK(tm_model_forward(m, &t, x, &ref));
    q->observe = 1;
    q->fake = 0;
    TM_CK(tm_qat_forward(q, &t, x, &got));
    expect_close(got->data, ref->data, ref->size, 1e-4f);
    ck_assert_int_eq(q->input[0].batches, 1);
    ck_assert(q->chain[0][0].out.min >= 0.0f); /* after ReLU */
    ck_assert(q->chain[1][0].out.max <= 6.0f); /* after ReLU6 */
    ck_assert(q->fusion.batches == 1);
    /* with fake quantisation the outputs move, but by little */
    q->observe = 0;
    q->fake = 1;
    TM_CK(tm_qat_forward(q, &t, x, &got));
    double err = 0, mag = 0;
    for (size_t i = 0; i < ref->size; i++) {
        err = fmax(err, fabs(got->data[i] - ref->data[i]));
        mag = fmax(mag, fabs(ref->data[i]));
    }
    ck_assert_msg(err > 0 && err < 0.1 * mag, "fake-quant error %g vs magnitude %g", err, mag);
    tm_tape_free(&t);
    tm_qat_free(q);
    tm_model_free(m);
    tm_splits_free(&data);
    tm_experiment_free(&e);
}
END_TEST

START_TEST(presets_and_rejections)
{
    tm_experiment e;
    tiny_experiment(&e, 64, 0.3, 1);
    tm_experiment_set_classes(&e, 4);
    tm_rng r;
    tm_rng_seed(&r, 1);
    tm_model *m = NULL;
    TM_CK(tm_model_build(&m, &e.model, &r));
    tm_qat *q = NULL;
    TM_CK(tm_qat_new(&q, m, NULL));
    ck_assert_int_eq(q->chain[0][0].bits, 8);
    ck_assert_int_eq(q->chain[0][2].bits, 8);
    TM_CK(tm_qat_preset(q, "paper"));
    ck_assert_int_eq(q->chain[0][0].bits, 8);            /* image.conv1 */
    ck_assert_int_eq(q->chain[0][2].bits, 4);            /* image.sep2 */
    ck_assert_int_eq(q->chain[0][5].bits, 4);            /* image.fc */
    ck_assert_int_eq(q->chain[1][0].bits, 8);            /* audio.conv1 */
    ck_assert_int_eq(q->chain[1][1].bits, 4);            /* audio.dw */
    ck_assert_int_eq(q->chain[TM_QAT_HEAD][1].bits, 8);  /* head.out */
    ck_assert_int_eq(q->chain[0][1].bits, 0);            /* pools have none */
    TM_CK(tm_qat_preset(q, "all4"));
    ck_assert_int_eq(q->chain[TM_QAT_HEAD][1].bits, 4);
    ck_assert_int_eq(tm_qat_preset(q, "int3"), TM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "int3"));
    /* the forward refuses to fake-quantise before calibration */
    q->fake = 1;
    q->observe = 0;
    tm_tape t;
    TM_CK(tm_tape_init(&t, NULL, 0));
    tm_tensor *x[2], *y = NULL;
    TM_CK(tm_arena_tensor(&t.arena, &x[0], 4, (int[]){1, 1, 16, 16}, 0));
    TM_CK(tm_arena_tensor(&t.arena, &x[1], 4, (int[]){1, 1, 12, 24}, 0));
    ck_assert_int_eq(tm_qat_forward(q, &t, x, &y), TM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "calibrate"));
    tm_tape_free(&t);
    tm_qat_free(q);
    tm_model_free(m);
    tm_experiment_free(&e);

    /* a batchnorm after an activation cannot fold; 5 bits is not a precision */
    const char *bad[2] = {
        "[image.c]\ntype = conv\nfilters = 2\nactivation = relu\n"
        "[image.bn]\ntype = batchnorm\n",
        "[image.c]\ntype = conv\nfilters = 2\nbits = 5\n",
    };
    const char *want[2] = {"image.bn (line", "image.c (line"};
    for (int i = 0; i < 2; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "[data]\nsource = synthetic\n[image]\ninput = 1x8x8\n%s"
                 "[image.f]\ntype = flatten\n[head.out]\ntype = dense\nunits = classes\n",
                 bad[i]);
        tm_experiment be;
        tm_status s = tm_experiment_parse(&be, text, "bad.cfg", NULL, 0);
        if (s != TM_OK) {
            /* the experiment parser may already reject the precision */
            ck_assert_int_eq(i, 1);
            ck_assert_ptr_nonnull(strstr(tm_last_error(), "bits"));
            continue;
        }
        tm_experiment_set_classes(&be, 4);
        TM_CK(tm_model_build(&m, &be.model, &r));
        ck_assert_int_eq(tm_qat_new(&q, m, NULL), TM_ERR_CONFIG);
        ck_assert_msg(strstr(tm_last_error(), want[i]), "message: %s", tm_last_error());
        ck_assert_ptr_null(q);
        tm_model_free(m);
        tm_experiment_free(&be);
    }
}
END_TEST

/* In-memory store for tm_qat_store / tm_qat_restore. */
typedef struct {
    char names[64][96];
    float vals[64][4];
    int n[64], count;
} mem_store;

static tm_status mem_put(void *ctx, const char *name, const float *data, int n)
{
    mem_store *s = ctx;
    ck_assert_int_lt(s->count, 64);
    snprintf(s->names[s->count], 96, "%s", name);
    memcpy(s->vals[s->count], data, sizeof(float) * (size_t)n);
    s->n[s->count++] = n;
    return TM_OK;
}

static tm_status mem_get(void *ctx, const char *name, float *data, int n)
{
    mem_store *s = ctx;
    for (int i = 0; i < s->count; i++)
        if (!strcmp(s->names[i], name) && s->n[i] == n) {
            memcpy(data, s->vals[i], sizeof(float) * (size_t)n);
            return TM_OK;
        }
    return tm_error(TM_ERR_FORMAT, "%s: missing", name);
}

START_TEST(state_store_and_restore)
{
    tm_experiment e;
    tiny_experiment(&e, 64, 0.3, 1);
    tm_splits data;
    TM_CK(tm_load_splits(&e, &data, NULL));
    tm_experiment_set_classes(&e, data.train.n_classes);
    tm_rng r;
    tm_rng_seed(&r, 1);
    tm_model *m = NULL;
    TM_CK(tm_model_build(&m, &e.model, &r));
    tm_qat *q = NULL, *q2 = NULL;
    TM_CK(tm_qat_new(&q, m, NULL));
    TM_CK(tm_qat_preset(q, "paper"));
    mem_store st;
    memset(&st, 0, sizeof st);
    ck_assert_int_eq(tm_qat_store(q, mem_put, &st), TM_ERR_ARG); /* not calibrated */
    tm_qat_data d = {data.train.n, {data.train.x[0], data.train.x[1]}, data.train.label};
    TM_CK(tm_qat_calibrate(q, NULL, &d, 32, 2, &r));
    ck_assert_int_eq(q->fake, 1);
    memset(&st, 0, sizeof st);
    TM_CK(tm_qat_store(q, mem_put, &st));
    /* inputs 2, fusion, outputs of 6 weight layers, 1 depthwise output, 6 bits */
    ck_assert_int_eq(st.count, 2 + 1 + 6 + 1 + 6);
    TM_CK(tm_qat_new(&q2, m, NULL));
    TM_CK(tm_qat_restore(q2, mem_get, &st));
    ck_assert_int_eq(q2->chain[0][2].bits, 4);
    ck_assert_float_eq(q2->chain[0][2].mid.max, q->chain[0][2].mid.max);
    ck_assert_float_eq(q2->fusion.min, q->fusion.min);
    st.vals[0][0] = 5.0f; /* min above max */
    st.vals[0][1] = 1.0f;
    ck_assert_int_eq(tm_qat_restore(q2, mem_get, &st), TM_ERR_FORMAT);
    tm_qat_free(q);
    tm_qat_free(q2);
    tm_model_free(m);
    tm_splits_free(&data);
    tm_experiment_free(&e);
}
END_TEST

/* ---- lowering and the runtime ----------------------------------------- */

/* gemmlowp's requantisation in plain 64-bit arithmetic: x = acc << max(shift, 0);
 * round_half_away(x * mult / 2^31); then round_half_away(/ 2^-shift). Both
 * roundings are exact integer operations here, independent of the runtime. */
static int64_t ref_requant(int64_t acc, int32_t mult, int32_t shift)
{
    int64_t x = shift > 0 ? acc * ((int64_t)1 << shift) : acc;
    x = x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : x;
    int64_t ab = x * mult;
    int64_t hi = (ab >= 0 ? ab + (1LL << 30) : ab - (1LL << 30) + 1) / (1LL << 31);
    if (shift >= 0)
        return hi;
    int64_t d = (int64_t)1 << -shift;
    return hi >= 0 ? (hi + d / 2) / d : -((-hi + d / 2) / d);
}

/* The integer requantisation of a lowered conv, recomputed from the lowered
 * bytes with the 64-bit reference. */
START_TEST(lowered_requantisation_matches_64bit_reference)
{
    tm_rng r;
    tm_rng_seed(&r, 21);
    for (int i = 0; i < 20000; i++) {
        double m = pow(2.0, -24.0 + 28.0 * tm_rng_uniform(&r));
        int32_t mult, shift;
        tm_rt_quantize_multiplier(m, &mult, &shift);
        double back = (double)mult / 2147483648.0 * pow(2.0, shift);
        ck_assert_msg(fabs(back - m) <= m * 1e-9, "m %.12g -> %.12g", m, back);
        int32_t acc = (int32_t)(tm_rng_u32(&r) % 2000001u) - 1000000;
        if (m > 1.0)
            acc /= 16;
        int64_t want = ref_requant(acc, mult, shift);
        ck_assert_msg(tm_rt_requant(acc, mult, shift) == want, "acc %d mult %d shift %d", acc,
                      mult, shift);
        /* two roundings: within one unit of the real product */
        ck_assert(fabs((double)want - (double)acc * m) <= 1.0);
    }

    /* a one-branch model: conv (stride 2, batch norm, relu) -> flatten -> dense */
    const char *cfg =
        "[experiment]\nseed = 2\nthreads = 1\n"
        "[data]\nsource = synthetic\nclasses = 4\ntrain_samples = 64\nval_samples = 8\n"
        "test_samples = 8\n"
        "[image]\ninput = 1x16x16\n"
        "[image.c]\ntype = conv\nfilters = 5\nsize = 3\nstride = 2\npadding = same\n"
        "batch_norm = 1\nactivation = relu\nbits = %d\n"
        "[image.f]\ntype = flatten\n"
        "[head.out]\ntype = dense\nunits = classes\nbits = %d\n";
    for (int bits = 4; bits <= 8; bits += 4) {
        char text[2048];
        snprintf(text, sizeof text, cfg, bits, bits);
        tm_experiment e;
        TM_CK(tm_experiment_parse(&e, text, "one.cfg", NULL, 0));
        tm_splits data;
        TM_CK(tm_load_splits(&e, &data, NULL));
        tm_experiment_set_classes(&e, data.train.n_classes);
        tm_model *m = NULL;
        TM_CK(tm_model_build(&m, &e.model, &r));
        perturb_bn(m, &r);
        tm_qat *q = NULL;
        TM_CK(tm_qat_new(&q, m, NULL));
        int mi = tm_dataset_find(&data.train, "image");
        tm_qat_data d = {data.train.n, {data.train.x[mi]}, data.train.label};
        TM_CK(tm_qat_calibrate(q, NULL, &d, 16, 0, &r));
        uint8_t *bytes = NULL;
        size_t size = 0;
        TM_CK(tm_lower(q, NULL, &bytes, &size));
        tm_qsim sim;
        TM_CK(tm_qsim_open(&sim, m, bytes, size));
        const tm_rt_model *rm = &sim.model;
        ck_assert_uint_eq(rm->n_ops, 2);
        const tm_rt_op_desc *op = &rm->ops[0];
        ck_assert_int_eq(op->type, TM_RT_OP_CONV);
        ck_assert_int_eq(op->bits, bits);
        ck_assert_int_eq(op->pad_top, 0); /* 16 -> 8 at stride 2: the extra row is at the bottom */
        const tm_rt_tensor_desc *ti = &rm->tensors[op->inputs[0]], *to = &rm->tensors[op->output];
        ck_assert_int_eq(to->c, 5);
        ck_assert_int_eq(to->h, 8);
        ck_assert_int_eq(op->act_min, to->zero_point > -128 ? to->zero_point : -128);
        int8_t w[5 * 9];
        tm_unpack_weights(rm->blob + op->weights, 5, 9, bits, w);
        const int32_t *bias = (const int32_t *)(const void *)(rm->blob + op->bias);
        const int32_t *mult = (const int32_t *)(const void *)(rm->blob + op->mult);
        const int32_t *shift = (const int32_t *)(const void *)(rm->blob + op->shift);
        /* recover the weight scales the lowering used from the folded weights */
        const tm_layer *l = &m->branch_layers[0][0];
        float wf[45], bf[5], sw[5];
        tm_bn_fold(l->w->data, NULL, l->gamma->data, l->beta->data, l->run_mean->data,
                   l->run_var->data, m->spec.bn_eps, 5, 9, wf, bf);
        TM_CK(tm_qat_weight_scales(q, wf, 5, 9, bits, sw));
        int mismatches = 0;
        for (int n = 0; n < 4; n++) {
            const float *x = data.test.x[mi] + (size_t)n * 256;
            tm_qat_data one = {1, {x}, data.test.label + n};
            TM_CK(tm_qsim_predict(&sim, &one, NULL, NULL));
            /* the input's bytes may be reused by later tensors: quantise it
             * here; the conv output stays live until the dense has read it */
            int8_t qin[256];
            tm_rt_quantize_input(x, 256, ti->scale, ti->zero_point, qin);
            const int8_t *qout = tm_rt_model_tensor(rm, sim.mem, op->output);
            for (int c = 0; c < 5; c++) {
                double real_m = (double)ti->scale * sw[c] / to->scale;
                int32_t mm, ss;
                tm_rt_quantize_multiplier(real_m, &mm, &ss);
                ck_assert_int_eq(mm, mult[c]);
                ck_assert_int_eq(ss, shift[c]);
                ck_assert_int_eq(bias[c], (int32_t)round(bf[c] / ((double)ti->scale * sw[c])));
                for (int oy = 0; oy < 8; oy++)
                    for (int ox = 0; ox < 8; ox++) {
                        int64_t acc = bias[c];
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int iy = oy * 2 + ky, ix = ox * 2 + kx; /* pad top/left 0 */
                                if (iy >= 16 || ix >= 16)
                                    continue;
                                acc += (int64_t)(qin[iy * 16 + ix] - ti->zero_point) *
                                       w[c * 9 + ky * 3 + kx];
                            }
                        int64_t v = to->zero_point + ref_requant(acc, mm, ss);
                        v = v < op->act_min ? op->act_min : v > op->act_max ? op->act_max : v;
                        int got = qout[c * 64 + oy * 8 + ox];
                        ck_assert_msg(got == v, "channel %d (%d,%d): %d vs %lld", c, oy, ox, got,
                                      (long long)v);
                        /* and within a unit of the real-valued rescaling */
                        double real = round((double)acc * real_m) + to->zero_point;
                        real = real < op->act_min ? op->act_min : real > op->act_max ? op->act_max : real;
                        ck_assert(fabs(got - real) <= 1.0);
                        mismatches += got != (int)real;
                    }
            }
        }
        /* the double rounding seldom moves a value (4 samples x 320 outputs) */
        fprintf(stderr, "test_quant: %d-bit conv: %d of 1280 outputs differ by one from the "
                        "real-valued rescaling\n", bits, mismatches);
        ck_assert_int_le(mismatches, 128);
        tm_qsim_close(&sim);
        free(bytes);
        tm_qat_free(q);
        tm_model_free(m);
        tm_splits_free(&data);
        tm_experiment_free(&e);
    }
}
END_TEST

static double acc_of(const float *probs, const int *labels, int n, int k)
{
    int right = 0;
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int c = 1; c < k; c++)
            if (probs[i * k + c] > probs[i * k + best])
                best = c;
        right += best == labels[i];
    }
    return (double)right / n;
}

START_TEST(small_model_end_to_end_through_the_runtime)
{
    /* _i: 0 the square kernels, 1 non-square ones */
    tm_experiment e;
    tiny_experiment_of(&e, 1200, NOISE, 6, _i);
    tm_splits data;
    TM_CK(tm_load_splits(&e, &data, NULL));
    tm_experiment_set_classes(&e, data.train.n_classes);
    char *dir = tm_test_tmpdir("quant");
    ck_assert_ptr_nonnull(dir);
    tm_train_options o = {dir, 0, 1, NULL, 0, NULL, 0, NULL};
    tm_train_result res;
    tm_model *m = NULL;
    TM_CK(tm_train(&e, &e.model, &data, &o, &m, &res));
    int k = m->spec.n_classes, map[TM_MAX_BRANCHES];
    TM_CK(tm_match_branches(&e, &m->spec, &data.test, map));
    float *probs = malloc(sizeof(float) * (size_t)data.test.n * k);
    int8_t *logits = malloc((size_t)data.test.n * k);
    TM_CK(tm_predict(m, NULL, &data.test, map, probs, NULL));
    double float_acc = acc_of(probs, data.test.label, data.test.n, k);
    ck_assert_msg(float_acc > 0.8, "float accuracy %.3f: the model did not learn", float_acc);

    tm_qat_data train = {data.train.n, {data.train.x[map[0]], data.train.x[map[1]]},
                         data.train.label};
    tm_qat_data test = {data.test.n, {data.test.x[map[0]], data.test.x[map[1]]},
                        data.test.label};
    const char *presets[2] = {"all8", "paper"};
    for (int pi = 0; pi < 2; pi++) {
        tm_qat *q = NULL;
        TM_CK(tm_qat_new(&q, m, NULL));
        TM_CK(tm_qat_preset(q, presets[pi]));
        tm_rng r;
        tm_rng_seed(&r, 9);
        TM_CK(tm_qat_calibrate(q, NULL, &train, 32, 20, &r));
        if (pi == 1) {
            /* one epoch of QAT at a tenth of the learning rate */
            tm_optimizer *opt = NULL;
            tm_tensor *params[64];
            for (int i = 0; i < m->n_params; i++)
                params[i] = m->params[i].t;
            TM_CK(tm_optim_new(&opt, &e.train.optim, params, NULL, m->n_params));
            tm_tape t;
            TM_CK(tm_tape_init(&t, NULL, 4));
            double loss, acc;
            TM_CK(tm_qat_train_epoch(q, &t, opt, &train, 32, 0.0005f, NULL, &r, &loss, &acc));
            ck_assert(isfinite(loss) && acc > 0.5);
            tm_tape_free(&t);
            tm_optim_free(opt);
        }
        tm_lower_options lo;
        memset(&lo, 0, sizeof lo);
        const char *names[4] = {"a", "b", "c", "d"};
        lo.class_names = names;
        uint8_t *bytes = NULL;
        size_t size = 0;
        TM_CK(tm_lower(q, &lo, &bytes, &size));
        tm_qsim sim;
        TM_CK(tm_qsim_open(&sim, m, bytes, size));
        ck_assert_str_eq(sim.model.class_names[2], "c");
        ck_assert_uint_eq(sim.model.n_inputs, 2);
        TM_CK(tm_qsim_predict(&sim, &test, probs, logits));
        double int_acc = acc_of(probs, data.test.label, data.test.n, k);
        /* the fake-quantised forward predicts what the runtime computes */
        float *fprobs = malloc(sizeof(float) * (size_t)data.test.n * k);
        TM_CK(tm_qat_predict(q, NULL, &test, fprobs));
        int agree = 0;
        for (int i = 0; i < data.test.n; i++) {
            int a = 0, b = 0;
            for (int c = 1; c < k; c++) {
                a = probs[i * k + c] > probs[i * k + a] ? c : a;
                b = fprobs[i * k + c] > fprobs[i * k + b] ? c : b;
            }
            agree += a == b;
        }
        free(fprobs);
        ck_assert_msg(int_acc >= float_acc - 0.04,
                      "%s: integer accuracy %.4f vs float %.4f", presets[pi], int_acc, float_acc);
        ck_assert_msg(agree >= data.test.n * 0.95, "%s: fake quant and runtime agree on %d of %d",
                      presets[pi], agree, data.test.n);
        /* size: paper precision packs well below float32 */
        tm_size_totals tot;
        TM_CK(tm_size_rows(q, NULL, 0, &tot));
        ck_assert_int_eq(tot.rows, 6);
        ck_assert_int_eq(tot.float_bytes, 4 * tm_model_param_count(m));
        ck_assert_int_lt(tot.packed_bytes, tot.float_bytes / (pi == 0 ? 3 : 4));
        /* the packed bytes (the search's budget) are the bytes the file stores */
        long file_bytes = 0;
        for (uint32_t o = 0; o < sim.model.n_ops; o++) {
            const tm_rt_op_desc *op = &sim.model.ops[o];
            if (op->weights == TM_RT_NONE)
                continue;
            long ch = sim.model.tensors[op->output].c;
            file_bytes += ((long)op->weights_bytes + 3) / 4 * 4 + 8 * ch +
                          (op->bias != TM_RT_NONE ? 4 * ch : 0);
        }
        ck_assert_int_eq(tot.packed_bytes, file_bytes);
        fprintf(stderr,
                "test_quant: %s%s: float %.4f, integer %.4f, agree %d/%d, %ld -> %ld bytes\n",
                presets[pi], _i ? " (non-square kernels)" : "", float_acc, int_acc, agree,
                data.test.n, tot.float_bytes, tot.packed_bytes);
        tm_qsim_close(&sim);
        free(bytes);
        tm_qat_free(q);
    }
    free(probs);
    free(logits);
    tm_model_free(m);
    tm_metrics_free(&res.test);
    tm_splits_free(&data);
    tm_experiment_free(&e);
    free(dir);
}
END_TEST

/* ---- the command ------------------------------------------------------- */

static int run_cli(const char *args, char *out, size_t n)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s/tinym2net' %s 2>&1", getenv("TM_BUILD_DIR"), args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s missing", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*n + 1);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    b[*n] = '\0';
    fclose(f);
    return b;
}

/* tinym2net quantize on a tiny trained run: outputs, options, and
 * qmodel.h5 rebuilding the very bytes of model.tm2n (what export does). */
START_TEST(quantize_command)
{
    if (!getenv("TM_BUILD_DIR")) {
        printf("skip: TM_BUILD_DIR not set (run through ctest)\n");
        return;
    }
    char *dir = tm_test_tmpdir("quantcli");
    ck_assert_ptr_nonnull(dir);
    char cfg[4200], run[4200], qd[4200], args[16384], path[4300];
    snprintf(cfg, sizeof cfg, "%s/tiny.cfg", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(qd, sizeof qd, "%s/q", dir);
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, tiny_cfg, 400, 0.5, 2, "3", "3");
    fclose(f);
    static char out[1 << 16];
    snprintf(args, sizeof args, "train '%s' --out '%s' --quiet", cfg, run);
    ck_assert_msg(run_cli(args, out, sizeof out) == 0, "%s", out);

    ck_assert_int_eq(run_cli("quantize --help", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "--qat-epochs"));
    snprintf(args, sizeof args, "quantize '%s'", run);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--out"));
    snprintf(args, sizeof args, "quantize '%s' --out '%s' --preset int2", run, qd);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "paper, all8 or all4"));
    snprintf(args, sizeof args, "quantize '%s' --out '%s' --qat-epochs -1", run, qd);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 2);
    snprintf(args, sizeof args, "quantize '%s/nothing' --out '%s'", dir, qd);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "nothing/model.h5"));

    snprintf(args, sizeof args,
             "quantize '%s' --out '%s' --preset paper --qat-epochs 1 --calib-batches 5", run, qd);
    ck_assert_msg(run_cli(args, out, sizeof out) == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "image.sep2"));
    ck_assert_ptr_nonnull(strstr(out, "packed bytes"));
    size_t n = 0;
    snprintf(path, sizeof path, "%s/metrics.json", qd);
    json_t *doc = tm_test_json_file(path);
    tm_test_json_num(doc, "weight_bytes");
    tm_test_json_num(doc, "float_weight_bytes");
    /* the paper preset: first layer of each branch and the head's last 8-bit */
    static const char *const layer[] = {"image.conv1", "image.sep2", "image.fc",
                                        "audio.conv1", "audio.dw",   "head.out"};
    static const int want[] = {8, 4, 4, 8, 4, 8};
    const json_t *bits = tm_test_json_get(doc, "bits");
    ck_assert_int_eq(json_object_size(bits), 6);
    size_t at = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)bits, key, v) {
        ck_assert_str_eq(key, layer[at]);
        ck_assert_int_eq(json_integer_value(v), want[at]);
        at++;
    }
    double acc = tm_test_json_num(doc, "test_accuracy");
    double facc = tm_test_json_num(doc, "float_test_accuracy");
    ck_assert_msg(acc > 0.5 && fabs(acc - facc) < 0.1, "accuracy %g vs float %g", acc, facc);
    json_decref(doc);

    /* the model file opens on the runtime */
    snprintf(path, sizeof path, "%s/model.tm2n", qd);
    char *file = slurp(path, &n);
    tm_rt_model rm;
    ck_assert_int_eq(tm_rt_model_open(&rm, file, n), TM_RT_OK);
    ck_assert_uint_eq(rm.n_inputs, 2);

    /* qmodel.h5: the weights and the quantisation state (tm_run_load_model) */
    snprintf(path, sizeof path, "%s/qmodel.h5", qd);
    tm_experiment e;
    TM_CK(tm_run_read_experiment(&e, path, NULL, 0));
    tm_experiment_set_classes(&e, 4);
    tm_model *m = NULL;
    tm_qat *q = NULL;
    float mean[TM_MAX_BRANCHES], std[TM_MAX_BRANCHES];
    TM_CK(tm_run_load_model(path, &e, &m, mean, std, &q));
    ck_assert(mean[0] == 0.0f && std[0] == 0.0f && mean[1] == 0.0f && std[1] == 0.0f);
    ck_assert_int_eq(q->chain[0][2].bits, 4);
    /* class names come from the data set; the synthetic set has no standardisation */
    tm_lower_options lo;
    memset(&lo, 0, sizeof lo);
    const char *names[4];
    for (int c = 0; c < 4; c++)
        names[c] = rm.class_names[c];
    lo.class_names = names;
    uint8_t *bytes = NULL;
    size_t size = 0;
    TM_CK(tm_lower(q, &lo, &bytes, &size));
    ck_assert_uint_eq(size, n);
    ck_assert_msg(memcmp(bytes, file, n) == 0, "the rebuilt model differs from model.tm2n");
    free(bytes);
    free(file);
    tm_qat_free(q);
    tm_model_free(m);
    tm_experiment_free(&e);
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(args), 0);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("quant");
    TCase *c = tcase_create("fake_quant");
    tcase_add_test(c, qparams_by_hand);
    tcase_add_test(c, quantize_rounds_half_away_and_clamps);
    tcase_add_test(c, fake_quant_forward_by_hand);
    tcase_add_test(c, fake_quant_straight_through_gradient);
    tcase_add_test(c, fake_quant_gradcheck_8bit);
    tcase_add_test(c, fake_quant_gradcheck_outside_range);
    tcase_add_test(c, fake_quant_channels_by_hand);
    tcase_add_test(c, quantize_dequantize_error_bound);
    tcase_add_test(c, pack_4bit_low_nibble_first);
    tcase_add_test(c, observers);
    suite_add_tcase(s, c);
    c = tcase_create("fold_and_qat");
    tcase_add_test(c, bn_folding_matches_conv_then_bn_in_eval_mode);
    tcase_add_test(c, bn_fold_gradcheck);
    tcase_add_test(c, qat_forward_without_fake_quant_is_the_float_model);
    tcase_add_test(c, presets_and_rejections);
    tcase_add_test(c, state_store_and_restore);
    suite_add_tcase(s, c);
    c = tcase_create("runtime");
    tcase_add_test(c, lowered_requantisation_matches_64bit_reference);
    tcase_add_loop_test(c, small_model_end_to_end_through_the_runtime, 0, 2);
    tcase_add_test(c, quantize_command);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    return tm_test_run(suite());
}
