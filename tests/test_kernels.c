/* Integer kernels (runtime/tm_rt_kernels.h): requantisation against an
 * exact long-double model, every reference kernel against a naive
 * re-implementation and hand-checked values, the dispatched (SIMD) kernels
 * against the reference bit for bit, pools, element-wise ops, bad
 * arguments. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tm_rt_kernels.h"
#include "tm_test_util.h"

/* ---- exact models -------------------------------------------------------- */

static long double round_away(long double v)
{
    return v >= 0 ? floorl(v + 0.5L) : -floorl(-v + 0.5L);
}

/* gemmlowp's two roundings written out on exact values: x * mult / 2^31
 * rounded half up, then / 2^rs rounded half away from zero. long double
 * holds x * mult (< 2^62) exactly. */
static int64_t model_requant(int64_t acc, int32_t mult, int32_t shift, long double *first)
{
    int32_t sh = shift > 31 ? 31 : (shift < -31 ? -31 : shift);
    int ls = sh > 0 ? sh : 0, rs = sh > 0 ? 0 : -sh;
    long double x = (long double)acc * ldexpl(1.0L, ls), hi;
    if (x > INT32_MAX)
        x = INT32_MAX;
    if (x < INT32_MIN)
        x = INT32_MIN;
    if (x == INT32_MIN && mult == INT32_MIN)
        hi = INT32_MAX;
    else
        hi = floorl(x * (long double)mult / 2147483648.0L + 0.5L);
    if (first)
        *first = x * (long double)mult / 2147483648.0L;
    return (int64_t)round_away(hi / ldexpl(1.0L, rs));
}

static int8_t model_out(int64_t acc, int32_t mult, int32_t shift, int32_t zp, int32_t lo,
                        int32_t hi)
{
    /* accumulators wrap modulo 2^32 */
    int64_t w = (int64_t)(int32_t)(uint32_t)(uint64_t)acc;
    int64_t v = model_requant(w, mult, shift, NULL) + zp;
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* Independent weight decode: two's complement nibble via (n ^ 8) - 8. */
static int wval(const void *w, int bits, size_t per, int row, size_t i)
{
    if (bits == 8)
        return ((const int8_t *)w)[(size_t)row * per + i];
    size_t rb = (per + 1) / 2;
    uint8_t b = ((const uint8_t *)w)[(size_t)row * rb + i / 2];
    int n = (i % 2) ? b >> 4 : b & 0xF;
    return (n ^ 8) - 8;
}

/* Naive conv / depthwise / dense: double accumulator over explicit window
 * bounds (padding contributes nothing). */
static void naive_kernel(const tm_rt_conv_args *a, tm_rt_kernel_kind kind, int8_t *out)
{
    int dw = kind == TM_RT_KERNEL_DEPTHWISE;
    size_t per = dw ? (size_t)a->kh * a->kw : (size_t)a->in_c * a->kh * a->kw;
    for (int co = 0; co < a->out_c; co++)
        for (int oy = 0; oy < a->out_h; oy++)
            for (int ox = 0; ox < a->out_w; ox++) {
                double acc = a->bias ? (double)a->bias[co] : 0.0;
                int c_lo = dw ? co : 0, c_hi = dw ? co + 1 : a->in_c;
                for (int ci = c_lo; ci < c_hi; ci++)
                    for (int ky = 0; ky < a->kh; ky++)
                        for (int kx = 0; kx < a->kw; kx++) {
                            int iy = oy * a->stride + ky - a->pad_top;
                            int ix = ox * a->stride + kx - a->pad_left;
                            if (iy < 0 || ix < 0 || iy >= a->in_h || ix >= a->in_w)
                                continue;
                            size_t t = ((size_t)(dw ? 0 : ci) * a->kh + ky) * a->kw + kx;
                            double q = a->input[((size_t)ci * a->in_h + iy) * a->in_w + ix];
                            acc += (q - a->in_zp) * wval(a->weights, a->bits, per, co, t);
                        }
                out[((size_t)co * a->out_h + oy) * a->out_w + ox] =
                    model_out((int64_t)acc, a->mult[co], a->shift[co], a->out_zp, a->act_min,
                              a->act_max);
            }
}

static tm_rt_status run_ref(const tm_rt_conv_args *a, tm_rt_kernel_kind k)
{
    return k == TM_RT_KERNEL_CONV        ? tm_rt_conv_ref(a)
           : k == TM_RT_KERNEL_DEPTHWISE ? tm_rt_depthwise_ref(a)
                                         : tm_rt_dense_ref(a);
}

static tm_rt_status run_simd(const tm_rt_conv_args *a, tm_rt_kernel_kind k)
{
    return k == TM_RT_KERNEL_CONV        ? tm_rt_conv(a)
           : k == TM_RT_KERNEL_DEPTHWISE ? tm_rt_depthwise(a)
                                         : tm_rt_dense(a);
}

/* ---- multiplier and requantisation --------------------------------------- */

START_TEST(quantize_multiplier_known_values)
{
    int32_t m, s;
    tm_rt_quantize_multiplier(0.5, &m, &s);
    ck_assert_int_eq(m, 1 << 30);
    ck_assert_int_eq(s, 0);
    tm_rt_quantize_multiplier(1.0, &m, &s);
    ck_assert_int_eq(m, 1 << 30);
    ck_assert_int_eq(s, 1);
    tm_rt_quantize_multiplier(0.25, &m, &s);
    ck_assert_int_eq(m, 1 << 30);
    ck_assert_int_eq(s, -1);
    tm_rt_quantize_multiplier(0.75, &m, &s); /* 0.75 * 2^31 */
    ck_assert_int_eq(m, 1610612736);
    ck_assert_int_eq(s, 0);
    tm_rt_quantize_multiplier(3.0, &m, &s); /* 0.75 * 2^2 */
    ck_assert_int_eq(m, 1610612736);
    ck_assert_int_eq(s, 2);
    /* q * 2^31 rounds up to 2^31: halved, exponent + 1 */
    tm_rt_quantize_multiplier(1.0 - 1e-12, &m, &s);
    ck_assert_int_eq(m, 1 << 30);
    ck_assert_int_eq(s, 1);
    /* 0.1 = 0.8 * 2^-3; 0.8 * 2^31 = 1717986918.4 -> 1717986918 */
    tm_rt_quantize_multiplier(0.1, &m, &s);
    ck_assert_int_eq(m, 1717986918);
    ck_assert_int_eq(s, -3);
    tm_rt_quantize_multiplier(0.0, &m, &s);
    ck_assert_int_eq(m, 0);
    ck_assert_int_eq(s, 0);
    tm_rt_quantize_multiplier(ldexp(1.0, -40), &m, &s); /* below 2^-32: zero */
    ck_assert_int_eq(m, 0);
    ck_assert_int_eq(s, 0);
    tm_rt_quantize_multiplier(-1.0, &m, &s);
    ck_assert_int_eq(m, 0);
    tm_rt_quantize_multiplier(NAN, &m, &s);
    ck_assert_int_eq(m, 0);
}
END_TEST

START_TEST(quantize_multiplier_is_accurate)
{
    tm_rng r;
    tm_rng_seed(&r, 11);
    for (int i = 0; i < 20000; i++) {
        double m = exp(log(1e-7) + (log(5e4) - log(1e-7)) * tm_rng_uniform(&r));
        int32_t q, s;
        tm_rt_quantize_multiplier(m, &q, &s);
        ck_assert_int_ge(q, 1 << 30);
        ck_assert(q <= INT32_MAX);
        ck_assert_double_le(fabs(ldexp((double)q, s - 31) / m - 1.0), ldexp(1.0, -31));
    }
}
END_TEST

START_TEST(requant_hand_values)
{
    /* m = 0.5: mult 2^30, shift 0; only the high multiply rounds (ties up) */
    ck_assert_int_eq(tm_rt_requant(100, 1 << 30, 0), 50);
    ck_assert_int_eq(tm_rt_requant(101, 1 << 30, 0), 51);  /* 50.5 -> 51 */
    ck_assert_int_eq(tm_rt_requant(3, 1 << 30, 0), 2);     /* 1.5 -> 2 */
    ck_assert_int_eq(tm_rt_requant(-3, 1 << 30, 0), -1);   /* -1.5 -> -1 (tie up) */
    ck_assert_int_eq(tm_rt_requant(-5, 1 << 30, 0), -2);   /* -2.5 -> -2 */
    /* m = 0.25: 2^30, shift -1; the right shift rounds half away */
    ck_assert_int_eq(tm_rt_requant(2, 1 << 30, -1), 1);    /* 1 / 2 = 0.5 -> 1 */
    ck_assert_int_eq(tm_rt_requant(-2, 1 << 30, -1), -1);  /* -1 / 2 -> -1 */
    ck_assert_int_eq(tm_rt_requant(-3, 1 << 30, -1), -1);  /* -1.5 -> -1, then -0.5 -> -1 */
    ck_assert_int_eq(tm_rt_requant(-7, 1 << 30, -1), -2);  /* -3.5 -> -3, -1.5 -> -2 */
    ck_assert_int_eq(tm_rt_requant(6, 1 << 30, -1), 2);    /* 3 / 2 = 1.5 -> 2 */
    ck_assert_int_eq(tm_rt_requant(-6, 1 << 30, -1), -2);
    /* m = 3: 0.75 * 2^2 */
    ck_assert_int_eq(tm_rt_requant(7, 1610612736, 2), 21);
    ck_assert_int_eq(tm_rt_requant(-7, 1610612736, 2), -21);
    /* m = 0.375 = 0.75 * 2^-1: 4 * 0.75 = 3, 3 / 2 = 1.5 -> 2 */
    ck_assert_int_eq(tm_rt_requant(4, 1610612736, -1), 2);
    ck_assert_int_eq(tm_rt_requant(-4, 1610612736, -1), -2);
    /* the left shift saturates: 2^30 * 4 does not fit */
    ck_assert_int_eq(tm_rt_requant(1 << 30, 1 << 30, 2), 1 << 30);
    ck_assert_int_eq(tm_rt_requant(-(1 << 30), 1 << 30, 2), -(1 << 30));
    /* the one saturating high multiply: MIN * MIN */
    ck_assert_int_eq(tm_rt_requant(INT32_MIN, INT32_MIN, 0), INT32_MAX);
    /* mult 0 and out-of-range shifts (clamped to +-31) */
    ck_assert_int_eq(tm_rt_requant(12345, 0, 0), 0);
    /* (2^31 - 1) * 0.5 -> 2^30 (tie up), / 2^31 = 0.5 -> 1 */
    ck_assert_int_eq(tm_rt_requant(INT32_MAX, 1 << 30, -40), 1);
    /* -2^31 * 0.5 = -2^30, / 2^31 = -0.5 -> -1 */
    ck_assert_int_eq(tm_rt_requant(INT32_MIN, 1 << 30, -31), -1);
    /* (-2^31 + 1) * 0.5 -> -2^30 + 1 (tie up), / 2^31 = -0.4999... -> 0 */
    ck_assert_int_eq(tm_rt_requant(INT32_MIN + 1, 1 << 30, -32), 0);
}
END_TEST

/* The gemmlowp arithmetic equals the two-rounding model exactly, and
 * differs from one correct rounding of acc * m by at most 1, only where the
 * model says double rounding is the cause. */
START_TEST(requant_matches_exact_model)
{
    tm_rng r;
    tm_rng_seed(&r, 5);
    long mismatches = 0, n = 0;
    for (int i = 0; i < 400000; i++) {
        int32_t acc, mult, shift;
        int mode = i % 4;
        if (mode == 3) { /* anything at all */
            acc = (int32_t)tm_rng_u32(&r);
            mult = (int32_t)tm_rng_u32(&r);
            shift = (int32_t)tm_rng_below(&r, 81) - 40;
        } else {
            double m = mode == 0 ? tm_rng_uniform(&r) * 0.999 + 1e-6
                       : mode == 1 ? exp(log(1e-6) + log(1e6) * tm_rng_uniform(&r))
                                   : 1.0 + 200.0 * tm_rng_uniform(&r);
            tm_rt_quantize_multiplier(m, &mult, &shift);
            int bitsz = 1 + (int)tm_rng_below(&r, 31);
            acc = (int32_t)(tm_rng_u32(&r) >> (32 - bitsz)) * (tm_rng_below(&r, 2) ? -1 : 1);
        }
        long double first;
        int64_t model = model_requant(acc, mult, shift, &first);
        int32_t got = tm_rt_requant(acc, mult, shift);
        ck_assert_msg(got == model, "requant(%d, %d, %d) = %d, model %lld", acc, mult, shift, got,
                      (long long)model);
        /* single rounding, only where nothing saturates */
        int32_t sh = shift > 31 ? 31 : (shift < -31 ? -31 : shift);
        int ls = sh > 0 ? sh : 0, rs = sh > 0 ? 0 : -sh;
        long double x = (long double)acc * ldexpl(1.0L, ls);
        if (x > INT32_MAX || x < INT32_MIN || (acc == INT32_MIN && mult == INT32_MIN))
            continue;
        long double single = round_away(first / ldexpl(1.0L, rs));
        n++;
        if ((long double)got != single) {
            long double hi = floorl(first + 0.5L);
            long double half = ldexpl(1.0L, rs - 1);
            int explained = rs == 0 ? (first < 0 && first - floorl(first) == 0.5L)
                                    : (hi != first && fabsl(fmodl(hi, 2 * half)) == half);
            ck_assert_msg(fabsl((long double)got - single) == 1.0L,
                          "requant(%d, %d, %d) = %d, single rounding %.1Lf", acc, mult, shift, got,
                          single);
            ck_assert_msg(explained, "requant(%d, %d, %d) = %d differs from %.1Lf unexplained",
                          acc, mult, shift, got, single);
            mismatches++;
        }
    }
    /* A right shift by rs differs from one rounding in about 2^-(rs+1) of
     * the cases (the high multiply lands exactly on the shift's tie), so a
     * spread of shifts gives a few percent; every one was explained above. */
    ck_assert_int_gt(n, 300000);
    ck_assert_int_gt(mismatches, 0);
    ck_assert_int_lt(mismatches, n / 10);
    /* Double rounding made visible: m = 0.325 = 0.65 * 2^-1, acc 4:
     * 4 * 0.65 = 2.6 -> 3, then 3 / 2 = 1.5 -> 2, where one rounding of
     * 1.3 gives 1. And the tie rule of the high multiply: -3 * 0.5 = -1.5
     * -> -1 (single rounding: -2). */
    int32_t m3, s3;
    tm_rt_quantize_multiplier(0.325, &m3, &s3);
    ck_assert_int_eq(s3, -1);
    ck_assert_int_eq(tm_rt_requant(4, m3, s3), 2);
    ck_assert_int_eq(tm_rt_requant(-4, m3, s3), -2);
    ck_assert_int_eq(tm_rt_requant(-3, 1 << 30, 0), -1);
}
END_TEST

START_TEST(requantize_tensor_matches_model)
{
    int8_t in[256], out[256];
    for (int i = 0; i < 256; i++)
        in[i] = (int8_t)(i - 128);
    int32_t zps[3] = {-128, 0, 127};
    double ms[4] = {0.013, 0.5, 1.0, 3.7};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int k = 0; k < 4; k++) {
                int32_t m, s;
                tm_rt_quantize_multiplier(ms[k], &m, &s);
                tm_rt_requantize(in, 256, zps[a], m, s, zps[b], out);
                for (int i = 0; i < 256; i++) {
                    int64_t v = model_requant(in[i] - zps[a], m, s, NULL) + zps[b];
                    v = v < -128 ? -128 : (v > 127 ? 127 : v);
                    ck_assert_int_eq(out[i], v);
                }
            }
    /* same scale and zero point: identity */
    int32_t m, s;
    tm_rt_quantize_multiplier(1.0, &m, &s);
    tm_rt_requantize(in, 256, 7, m, s, 7, out);
    ck_assert_int_eq(memcmp(in, out, 256), 0);
}
END_TEST

/* ---- hand-checked kernels ------------------------------------------------ */

static tm_rt_conv_args base_args(void)
{
    tm_rt_conv_args a;
    memset(&a, 0, sizeof a);
    a.bits = 8;
    a.stride = 1;
    a.act_min = -128;
    a.act_max = 127;
    return a;
}

START_TEST(conv_hand_values)
{
    /* input - zp = [[0,1,2],[3,4,5],[6,7,8]], w = [[1,2],[3,4]], bias 1:
     * 28 38 58 68, * 0.5 -> 14 19 29 34, + zp -3 -> 11 16 26 31, clamp 20 */
    int8_t in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w8[4] = {1, 2, 3, 4}, out[9];
    uint8_t w4[2] = {0x21, 0x43};
    int32_t bias = 1, mult = 1 << 30, shift = 0;
    int8_t scratch_buf[4096];
    tm_rt_conv_args a = base_args();
    a.input = in;
    a.in_c = 1;
    a.in_h = a.in_w = 3;
    a.in_zp = 1;
    a.weights = w8;
    a.bias = &bias;
    a.out_c = 1;
    a.kh = a.kw = 2;
    a.output = out;
    a.out_h = a.out_w = 2;
    a.out_zp = -3;
    a.mult = &mult;
    a.shift = &shift;
    a.act_max = 20;
    ck_assert_uint_le(tm_rt_conv_scratch_bytes(&a), sizeof scratch_buf);
    a.scratch = scratch_buf;
    int8_t want[4] = {11, 16, 20, 20};
    for (int bits = 8; bits >= 4; bits -= 4)
        for (int simd = 0; simd < 2; simd++) {
            a.bits = bits;
            a.weights = bits == 8 ? (const void *)w8 : (const void *)w4;
            memset(out, 99, sizeof out);
            ck_assert_int_eq(simd ? tm_rt_conv(&a) : tm_rt_conv_ref(&a), TM_RT_OK);
            ck_assert_int_eq(memcmp(out, want, 4), 0);
        }
    /* padding 1 on top and left, 3x3 output: the corner sees only
     * d[0][0] * w[1][1] = 0; +1 -> 1 * 0.5 = 0.5 -> 1; -3 -> -2.
     * (0,1): d00*3 + d01*4 = 4, +1 = 5 -> 2.5 -> 3 -> 0.
     * (1,1): the unpadded 27 + 1 -> 14 -> 11. */
    a.bits = 8;
    a.weights = w8;
    a.pad_top = a.pad_left = 1;
    a.out_h = a.out_w = 3;
    a.act_max = 127;
    ck_assert_int_eq(tm_rt_conv_ref(&a), TM_RT_OK);
    ck_assert_int_eq(out[0], -2);
    ck_assert_int_eq(out[1], 0);
    ck_assert_int_eq(out[4], 11);
    int8_t o2[9];
    memcpy(o2, out, 9);
    ck_assert_int_eq(tm_rt_conv(&a), TM_RT_OK);
    ck_assert_int_eq(memcmp(o2, out, 9), 0);
}
END_TEST

START_TEST(depthwise_and_dense_hand_values)
{
    /* depthwise, 2 channels of 2x2, 2x2 kernel, no padding: one output each
     * ch0: (in - 0) . w = 1*1 + 2*0 + 3*0 + 4*-1 = -3; ch1: 8*2 = 16 + bias 4 = 20;
     * m = 1 -> -3, 20; out_zp 10 -> 7, 30 */
    int8_t in[8] = {1, 2, 3, 4, 8, 0, 0, 0}, w[8] = {1, 0, 0, -1, 2, 0, 0, 0}, out[2];
    int32_t bias[2] = {0, 4}, mult[2], shift[2];
    int8_t scratch_buf[8192];
    tm_rt_quantize_multiplier(1.0, &mult[0], &shift[0]);
    mult[1] = mult[0];
    shift[1] = shift[0];
    tm_rt_conv_args a = base_args();
    a.input = in;
    a.in_c = 2;
    a.in_h = a.in_w = 2;
    a.weights = w;
    a.bias = bias;
    a.out_c = 2;
    a.kh = a.kw = 2;
    a.output = out;
    a.out_h = a.out_w = 1;
    a.out_zp = 10;
    a.mult = mult;
    a.shift = shift;
    ck_assert_uint_le(tm_rt_conv_scratch_bytes(&a), sizeof scratch_buf);
    a.scratch = scratch_buf;
    ck_assert_int_eq(tm_rt_depthwise_ref(&a), TM_RT_OK);
    ck_assert_int_eq(out[0], 7);
    ck_assert_int_eq(out[1], 30);
    out[0] = out[1] = 0;
    ck_assert_int_eq(tm_rt_depthwise(&a), TM_RT_OK);
    ck_assert_int_eq(out[0], 7);
    ck_assert_int_eq(out[1], 30);

    /* dense: in - zp = [4, 0, 1, 6]; rows [1,-2,3,-4] -> -17 + 10 = -7,
     * [7,7,-7,-7] -> -21. m = 0.25: -7 -> -3.5 -> -3 -> -1.5 -> -2;
     * -21 -> -10.5 -> -10 -> -5. + out_zp 5 -> 3, 0 */
    int8_t din[4] = {3, -1, 0, 5}, dw8[8] = {1, -2, 3, -4, 7, 7, -7, -7}, dout[2];
    uint8_t dw4[4] = {0xE1, 0xC3, 0x77, 0x99}; /* nibbles: 1,-2 | 3,-4 | 7,7 | -7,-7 */
    int32_t dbias[2] = {10, 0};
    tm_rt_quantize_multiplier(0.25, &mult[0], &shift[0]);
    mult[1] = mult[0];
    shift[1] = shift[0];
    a = base_args();
    a.input = din;
    a.in_c = 4;
    a.in_h = a.in_w = 1;
    a.in_zp = -1;
    a.bias = dbias;
    a.out_c = 2;
    a.kh = a.kw = 1;
    a.output = dout;
    a.out_h = a.out_w = 1;
    a.out_zp = 5;
    a.mult = mult;
    a.shift = shift;
    a.scratch = scratch_buf;
    for (int bits = 8; bits >= 4; bits -= 4)
        for (int simd = 0; simd < 2; simd++) {
            a.bits = bits;
            a.weights = bits == 8 ? (const void *)dw8 : (const void *)dw4;
            dout[0] = dout[1] = 99;
            ck_assert_int_eq(simd ? tm_rt_dense(&a) : tm_rt_dense_ref(&a), TM_RT_OK);
            ck_assert_int_eq(dout[0], 3);
            ck_assert_int_eq(dout[1], 0);
        }
}
END_TEST

/* ---- random cases -------------------------------------------------------- */

typedef struct kcase {
    tm_rt_conv_args a;
    tm_rt_kernel_kind kind;
    int8_t *in, *w8;
    int32_t *bias, *mult, *shift;
    size_t n_in, n_out, w_bytes;
} kcase;

static int rnd(tm_rng *r, int lo, int hi) /* inclusive */
{
    return lo + (int)tm_rng_below(r, (uint32_t)(hi - lo + 1));
}

static void kcase_free(kcase *k)
{
    free(k->in);
    free(k->w8);
    free(k->bias);
    free(k->mult);
    free(k->shift);
}

/* Fills buffers for the shape already in k->a: random int8 data, weights,
 * bias, zero points, clamp and per-channel multipliers. */
static void kcase_fill(kcase *k, tm_rng *r)
{
    tm_rt_conv_args *a = &k->a;
    int dw = k->kind == TM_RT_KERNEL_DEPTHWISE;
    size_t per = dw ? (size_t)a->kh * a->kw : (size_t)a->in_c * a->kh * a->kw;
    k->n_in = (size_t)a->in_c * a->in_h * a->in_w;
    k->n_out = (size_t)a->out_c * a->out_h * a->out_w;
    k->w_bytes = (size_t)a->out_c * tm_rt_weight_row_bytes(per, a->bits);
    k->in = malloc(k->n_in);
    k->w8 = malloc(k->w_bytes);
    k->bias = malloc(sizeof(int32_t) * (size_t)a->out_c);
    k->mult = malloc(sizeof(int32_t) * (size_t)a->out_c);
    k->shift = malloc(sizeof(int32_t) * (size_t)a->out_c);
    for (size_t i = 0; i < k->n_in; i++)
        k->in[i] = (int8_t)tm_rng_u32(r);
    for (size_t i = 0; i < k->w_bytes; i++)
        k->w8[i] = (int8_t)tm_rng_u32(r);
    int zpmode = rnd(r, 0, 3);
    a->in_zp = zpmode == 0 ? -128 : zpmode == 1 ? 127 : rnd(r, -128, 127);
    a->out_zp = rnd(r, 0, 3) == 0 ? (rnd(r, 0, 1) ? -128 : 127) : rnd(r, -128, 127);
    int cl = rnd(r, 0, 3);
    a->act_min = cl == 0 ? -128 : rnd(r, -128, 127);
    a->act_max = cl == 0 ? 127 : rnd(r, a->act_min, 127);
    int biasmode = rnd(r, 0, 4);
    for (int c = 0; c < a->out_c; c++) {
        k->bias[c] = biasmode == 4 ? (int32_t)tm_rng_u32(r) /* wraps the sum */
                                   : rnd(r, -40000, 40000);
        if (rnd(r, 0, 9) == 0) {
            k->mult[c] = (int32_t)tm_rng_u32(r);
            k->shift[c] = rnd(r, -35, 35);
        } else {
            /* real multipliers that keep most outputs inside int8 */
            double m = exp(log(1e-5) + (log(2.0) - log(1e-5)) * tm_rng_uniform(r));
            tm_rt_quantize_multiplier(m, &k->mult[c], &k->shift[c]);
        }
    }
    a->input = k->in;
    a->weights = k->w8;
    a->bias = biasmode == 0 ? NULL : k->bias;
    a->mult = k->mult;
    a->shift = k->shift;
}

/* Runs the reference and the dispatched kernel, with guard bytes after the
 * output and the scratch, and requires identical bytes. */
static void kcase_compare(kcase *k, const char *what)
{
    size_t sb = tm_rt_conv_scratch_bytes(&k->a);
    int8_t *ref = malloc(k->n_out + 64), *got = malloc(k->n_out + 64), *scr = malloc(sb + 64);
    memset(ref, 0x5A, k->n_out + 64);
    memset(got, 0x5A, k->n_out + 64);
    memset(scr, 0x3C, sb + 64);
    tm_rt_conv_args a = k->a;
    a.output = ref;
    a.scratch = NULL;
    ck_assert_int_eq(run_ref(&a, k->kind), TM_RT_OK);
    a.output = got;
    a.scratch = sb ? scr : NULL;
    ck_assert_int_eq(run_simd(&a, k->kind), TM_RT_OK);
    for (size_t i = 0; i < k->n_out; i++)
        if (ref[i] != got[i])
            ck_abort_msg("%s: kind %d in %dx%dx%d out %dx%dx%d k %dx%d s %d pad %d,%d bits %d: "
                         "element %zu ref %d simd %d",
                         what, (int)k->kind, a.in_c, a.in_h, a.in_w, a.out_c, a.out_h, a.out_w,
                         a.kh, a.kw, a.stride, a.pad_top, a.pad_left, a.bits, i, ref[i], got[i]);
    for (size_t i = 0; i < 64; i++) {
        ck_assert_int_eq(got[k->n_out + i], 0x5A);
        ck_assert_int_eq(scr[sb + i], 0x3C);
    }
    /* again with scratch of exactly the size asked for, at an odd address:
     * a sanitizer build sees any read past it */
    int8_t *exact = malloc(sb + 1);
    memset(got, 0x5A, k->n_out);
    a.scratch = sb ? exact + 1 : NULL;
    ck_assert_int_eq(run_simd(&a, k->kind), TM_RT_OK);
    ck_assert_int_eq(memcmp(ref, got, k->n_out), 0);
    free(exact);
    free(ref);
    free(got);
    free(scr);
}

/* A random valid shape of the given kind. */
static void kcase_shape(kcase *k, tm_rng *r, tm_rt_kernel_kind kind)
{
    tm_rt_conv_args *a = &k->a;
    memset(k, 0, sizeof *k);
    *a = base_args();
    k->kind = kind;
    a->bits = rnd(r, 0, 1) ? 8 : 4;
    if (kind == TM_RT_KERNEL_DENSE) {
        a->in_c = rnd(r, 0, 3) == 0 ? rnd(r, 1, 9) : rnd(r, 1, 700);
        a->in_h = a->in_w = a->kh = a->kw = a->out_h = a->out_w = 1;
        a->out_c = rnd(r, 1, 13);
        return;
    }
    a->in_c = kind == TM_RT_KERNEL_DEPTHWISE ? rnd(r, 1, 9) : rnd(r, 1, 20);
    a->out_c = kind == TM_RT_KERNEL_DEPTHWISE ? a->in_c : rnd(r, 1, 19);
    a->kh = rnd(r, 1, 5);
    a->kw = rnd(r, 1, 5);
    a->stride = rnd(r, 0, 2) ? 1 : rnd(r, 2, 3);
    a->pad_top = rnd(r, 0, a->kh - 1);
    a->pad_left = rnd(r, 0, a->kw - 1);
    a->in_h = rnd(r, 1, 14);
    a->in_w = rnd(r, 1, 45);
    /* (out - 1) * s - pad <= in - 1 */
    int mh = (a->in_h - 1 + a->pad_top) / a->stride + 1;
    int mw = (a->in_w - 1 + a->pad_left) / a->stride + 1;
    /* usually the conventional size, sometimes any smaller one */
    int ch = (a->in_h + 2 * a->pad_top - a->kh) / a->stride + 1;
    int cw = (a->in_w + 2 * a->pad_left - a->kw) / a->stride + 1;
    a->out_h = ch >= 1 && ch <= mh && rnd(r, 0, 3) ? ch : rnd(r, 1, mh);
    a->out_w = cw >= 1 && cw <= mw && rnd(r, 0, 3) ? cw : rnd(r, 1, mw);
    if (kind == TM_RT_KERNEL_CONV && rnd(r, 0, 4) == 0) { /* pointwise */
        a->kh = a->kw = a->stride = 1;
        a->pad_top = a->pad_left = 0;
        a->out_h = a->in_h;
        a->out_w = a->in_w;
    }
}

START_TEST(reference_matches_naive_random)
{
    tm_rng r;
    tm_rng_seed(&r, 21);
    for (int i = 0; i < 600; i++) {
        kcase k;
        kcase_shape(&k, &r, (tm_rt_kernel_kind)(i % 3));
        kcase_fill(&k, &r);
        int8_t *ref = malloc(k.n_out), *want = malloc(k.n_out);
        tm_rt_conv_args a = k.a;
        a.output = ref;
        ck_assert_int_eq(run_ref(&a, k.kind), TM_RT_OK);
        naive_kernel(&a, k.kind, want);
        for (size_t j = 0; j < k.n_out; j++)
            ck_assert_msg(ref[j] == want[j], "case %d kind %d element %zu: ref %d naive %d", i,
                          (int)k.kind, j, ref[j], want[j]);
        free(ref);
        free(want);
        kcase_free(&k);
    }
}
END_TEST

/* Real-valued check: with scales chosen first, the dequantised output is
 * within one output step of the float computation (clamped). */
START_TEST(reference_tracks_float_math)
{
    tm_rng r;
    tm_rng_seed(&r, 8);
    for (int i = 0; i < 200; i++) {
        kcase k;
        kcase_shape(&k, &r, (tm_rt_kernel_kind)(i % 3));
        kcase_fill(&k, &r);
        tm_rt_conv_args *a = &k.a;
        int dw = k.kind == TM_RT_KERNEL_DEPTHWISE;
        size_t per = dw ? (size_t)a->kh * a->kw : (size_t)a->in_c * a->kh * a->kw;
        double s_in = 0.02 + 0.05 * tm_rng_uniform(&r);
        double *s_w = malloc(sizeof(double) * (size_t)a->out_c);
        double s_out = 0.5 * s_in * sqrt((double)per) * (a->bits == 8 ? 127 : 7) * 0.02;
        for (int c = 0; c < a->out_c; c++) {
            s_w[c] = 0.01 + 0.02 * tm_rng_uniform(&r);
            tm_rt_quantize_multiplier(s_in * s_w[c] / s_out, &k.mult[c], &k.shift[c]);
            k.bias[c] = rnd(&r, -3000, 3000);
        }
        a->bias = k.bias;
        int8_t *out = malloc(k.n_out);
        a->output = out;
        ck_assert_int_eq(run_ref(a, k.kind), TM_RT_OK);
        for (int co = 0; co < a->out_c; co++)
            for (int oy = 0; oy < a->out_h; oy++)
                for (int ox = 0; ox < a->out_w; ox++) {
                    double real = k.bias[co] * s_in * s_w[co];
                    int c_lo = dw ? co : 0, c_hi = dw ? co + 1 : a->in_c;
                    for (int ci = c_lo; ci < c_hi; ci++)
                        for (int ky = 0; ky < a->kh; ky++)
                            for (int kx = 0; kx < a->kw; kx++) {
                                int iy = oy * a->stride + ky - a->pad_top;
                                int ix = ox * a->stride + kx - a->pad_left;
                                if (iy < 0 || ix < 0 || iy >= a->in_h || ix >= a->in_w)
                                    continue;
                                size_t t = ((size_t)(dw ? 0 : ci) * a->kh + ky) * a->kw + kx;
                                double xr =
                                    s_in * (k.in[((size_t)ci * a->in_h + iy) * a->in_w + ix] -
                                            a->in_zp);
                                real += xr * s_w[co] * wval(k.w8, a->bits, per, co, t);
                            }
                    double lo = s_out * (a->act_min - a->out_zp), hi = s_out * (a->act_max - a->out_zp);
                    real = real < lo ? lo : (real > hi ? hi : real);
                    double got =
                        s_out * (out[((size_t)co * a->out_h + oy) * a->out_w + ox] - a->out_zp);
                    ck_assert_msg(fabs(got - real) <= s_out * 1.0001,
                                  "case %d: dequantised %g, float %g, step %g", i, got, real, s_out);
                }
        free(out);
        free(s_w);
        kcase_free(&k);
    }
}
END_TEST

START_TEST(simd_matches_reference_random)
{
    tm_rng r;
    tm_rng_seed(&r, 99);
    for (int i = 0; i < 1500; i++) {
        kcase k;
        kcase_shape(&k, &r, (tm_rt_kernel_kind)(i % 3));
        kcase_fill(&k, &r);
        kcase_compare(&k, "random");
        kcase_free(&k);
    }
}
END_TEST

/* Bigger planes: several conv tiles, long pointwise rows, wide depthwise. */
START_TEST(simd_matches_reference_large)
{
    tm_rng r;
    tm_rng_seed(&r, 123);
    for (int i = 0; i < 40; i++) {
        kcase k;
        tm_rt_kernel_kind kind = (tm_rt_kernel_kind)(i % 2);
        kcase_shape(&k, &r, kind);
        tm_rt_conv_args *a = &k.a;
        a->in_h = rnd(&r, 10, 40);
        a->in_w = rnd(&r, 30, 300);
        a->in_c = kind == TM_RT_KERNEL_DEPTHWISE ? rnd(&r, 1, 5) : rnd(&r, 1, 40);
        a->out_c = kind == TM_RT_KERNEL_DEPTHWISE ? a->in_c : rnd(&r, 1, 40);
        if (i % 4 == 0) {
            a->kh = a->kw = a->stride = 1;
            a->pad_top = a->pad_left = 0;
        }
        a->out_h = (a->in_h + 2 * a->pad_top - a->kh) / a->stride + 1;
        a->out_w = (a->in_w + 2 * a->pad_left - a->kw) / a->stride + 1;
        int mh = (a->in_h - 1 + a->pad_top) / a->stride + 1;
        int mw = (a->in_w - 1 + a->pad_left) / a->stride + 1;
        if (a->out_h > mh || a->out_h < 1)
            a->out_h = mh;
        if (a->out_w > mw || a->out_w < 1)
            a->out_w = mw;
        kcase_fill(&k, &r);
        kcase_compare(&k, "large");
        kcase_free(&k);
    }
}
END_TEST

/* 3x3 stride 1 depthwise has its own SIMD row code: every padding, planes
 * narrower than a vector, cropped outputs. */
START_TEST(simd_depthwise_3x3_stride1)
{
    tm_rng r;
    tm_rng_seed(&r, 99);
    for (int i = 0; i < 200; i++) {
        kcase k;
        kcase_shape(&k, &r, TM_RT_KERNEL_DEPTHWISE);
        tm_rt_conv_args *a = &k.a;
        a->kh = a->kw = 3;
        a->stride = 1;
        a->pad_top = rnd(&r, 0, 2);
        a->pad_left = rnd(&r, 0, 2);
        a->in_h = rnd(&r, 1, 20);
        a->in_w = rnd(&r, 1, 70);
        int mh = a->in_h + a->pad_top, mw = a->in_w + a->pad_left;
        int ch = a->in_h + 2 * a->pad_top - 2, cw = a->in_w + 2 * a->pad_left - 2;
        a->out_h = ch >= 1 && ch <= mh && rnd(&r, 0, 3) ? ch : rnd(&r, 1, mh);
        a->out_w = cw >= 1 && cw <= mw && rnd(&r, 0, 3) ? cw : rnd(&r, 1, mw);
        kcase_fill(&k, &r);
        kcase_compare(&k, "dw3x3");
        kcase_free(&k);
    }
}
END_TEST

/* The streamed plan's depthwise windows: out_h + 2 input rows, no top
 * padding (the window holds it), the model's widths and ones either side
 * of a 32-byte step, a ReLU clamp or none. */
START_TEST(simd_depthwise_stream_windows)
{
    const int widths[] = {14, 28, 30, 61, 31, 32, 33, 64, 65};
    tm_rng r;
    tm_rng_seed(&r, 17);
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++)
        for (int v = 0; v < 16; v++) {
            kcase k;
            memset(&k, 0, sizeof k);
            k.kind = TM_RT_KERNEL_DEPTHWISE;
            k.a = base_args();
            k.a.bits = v % 2 ? 4 : 8;
            k.a.in_c = k.a.out_c = v % 4 < 2 ? 16 : 32;
            k.a.out_h = 1 + v % 4;
            k.a.in_h = k.a.out_h + 2;
            k.a.in_w = k.a.out_w = widths[wi];
            k.a.kh = k.a.kw = 3;
            k.a.pad_top = 0;
            k.a.pad_left = 1;
            kcase_fill(&k, &r);
            if (v >= 8) {
                k.a.act_min = k.a.out_zp;
                k.a.act_max = 127;
            } else if (v >= 4) {
                k.a.act_min = -128;
                k.a.act_max = 127;
            }
            kcase_compare(&k, "stream window");
            kcase_free(&k);
        }
}
END_TEST

/* The fused reference model's layers (docs/reference-model.md). */
START_TEST(simd_matches_reference_model_shapes)
{
    struct {
        tm_rt_kernel_kind kind;
        int in_c, h, w, out_c, k, pad;
    } L[] = {
        {TM_RT_KERNEL_CONV, 1, 28, 28, 16, 3, 1},      {TM_RT_KERNEL_DEPTHWISE, 16, 28, 28, 16, 3, 1},
        {TM_RT_KERNEL_CONV, 16, 28, 28, 32, 1, 0},     {TM_RT_KERNEL_DEPTHWISE, 32, 14, 14, 32, 3, 1},
        {TM_RT_KERNEL_CONV, 32, 14, 14, 32, 1, 0},     {TM_RT_KERNEL_CONV, 1, 13, 61, 16, 3, 1},
        {TM_RT_KERNEL_DEPTHWISE, 16, 13, 61, 16, 3, 1}, {TM_RT_KERNEL_CONV, 16, 13, 61, 32, 1, 0},
        {TM_RT_KERNEL_DEPTHWISE, 32, 6, 30, 32, 3, 1}, {TM_RT_KERNEL_CONV, 32, 6, 30, 32, 1, 0},
        {TM_RT_KERNEL_DENSE, 1568, 1, 1, 32, 1, 0},    {TM_RT_KERNEL_DENSE, 1440, 1, 1, 32, 1, 0},
        {TM_RT_KERNEL_DENSE, 64, 1, 1, 10, 1, 0},
    };
    tm_rng r;
    tm_rng_seed(&r, 7);
    for (size_t l = 0; l < sizeof L / sizeof L[0]; l++)
        for (int v = 0; v < 8; v++) {
            kcase k;
            memset(&k, 0, sizeof k);
            k.kind = L[l].kind;
            k.a = base_args();
            k.a.bits = v % 2 ? 4 : 8;
            k.a.in_c = L[l].in_c;
            k.a.in_h = k.a.out_h = L[l].h;
            k.a.in_w = k.a.out_w = L[l].w;
            k.a.out_c = L[l].out_c;
            k.a.kh = k.a.kw = L[l].k;
            k.a.pad_top = k.a.pad_left = L[l].pad;
            kcase_fill(&k, &r);
            if (v >= 4) { /* ReLU-style clamp at the zero point */
                k.a.act_min = k.a.out_zp;
                k.a.act_max = 127;
            }
            kcase_compare(&k, "model");
            kcase_free(&k);
        }
}
END_TEST

/* Scratch of every target's build, asked on this host: this build's own
 * entry agrees with tm_rt_kernel_scratch_bytes, the SIMD targets share one
 * plan (the dot-product kernels fit the int16 one), the DSP build's comes
 * from tm_rt_conv_dsp.c on any host. */
START_TEST(scratch_of_every_isa)
{
    tm_rng r;
    tm_rng_seed(&r, 5);
    const char *seen[TM_RT_ISA_COUNT];
    for (int i = 0; i < TM_RT_ISA_COUNT; i++) {
        seen[i] = tm_rt_kernels_isa_name((tm_rt_isa)i);
        ck_assert_ptr_nonnull(seen[i]);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(seen[i], seen[j]);
    }
    ck_assert_ptr_null(tm_rt_kernels_isa_name(TM_RT_ISA_COUNT));
    ck_assert_str_eq(tm_rt_kernels_isa(), tm_rt_kernels_isa_name(tm_rt_kernels_build_isa()));
    for (int i = 0; i < 600; i++) {
        kcase k;
        tm_rt_kernel_kind kind = (tm_rt_kernel_kind)(i % 3);
        kcase_shape(&k, &r, kind);
        const tm_rt_conv_args *a = &k.a;
        size_t own = tm_rt_kernel_scratch_bytes(a, kind);
        ck_assert_uint_eq(tm_rt_kernel_scratch_bytes_for(tm_rt_kernels_build_isa(), a, kind), own);
        ck_assert_uint_eq(tm_rt_kernel_scratch_bytes_for(TM_RT_ISA_REFERENCE, a, kind), 0);
        ck_assert_uint_eq(tm_rt_kernel_scratch_bytes_for(TM_RT_ISA_COUNT, a, kind), 0);
        size_t avx2 = tm_rt_kernel_scratch_bytes_for(TM_RT_ISA_AVX2, a, kind);
        ck_assert_uint_gt(avx2, 0);
        ck_assert_uint_eq(tm_rt_kernel_scratch_bytes_for(TM_RT_ISA_SSE2, a, kind), avx2);
        ck_assert_uint_eq(tm_rt_kernel_scratch_bytes_for(TM_RT_ISA_SSE41, a, kind), avx2);
        ck_assert_uint_eq(tm_rt_kernel_scratch_bytes_for(TM_RT_ISA_NEON, a, kind), avx2);
        ck_assert_uint_eq(tm_rt_kernel_scratch_bytes_for(TM_RT_ISA_AVX512VNNI, a, kind), avx2);
        ck_assert_uint_eq(tm_rt_kernel_scratch_bytes_for(TM_RT_ISA_DOTPROD, a, kind), avx2);
        /* the DSP build: conv's columns, dense's unpacked input chunk and row
         * sums (at most 512 inputs, 256 at int4); depthwise reads in place */
        ck_assert_uint_eq(tm_rt_kernel_scratch_bytes_for(TM_RT_ISA_ARM_DSP, a, kind),
                          kind == TM_RT_KERNEL_DEPTHWISE ? 0 : tm_rt_conv_dsp_scratch_bytes(a, kind));
        if (kind != TM_RT_KERNEL_DEPTHWISE)
            ck_assert_uint_gt(tm_rt_conv_dsp_scratch_bytes(a, kind), 0);
        if (kind == TM_RT_KERNEL_DENSE)
            ck_assert_uint_eq(tm_rt_conv_dsp_scratch_bytes(a, kind),
                              4 + 2 * (size_t)(a->in_c < (a->bits == 4 ? 256 : 512) ? a->in_c
                                                    : (a->bits == 4 ? 256 : 512)) +
                                  4 * (size_t)a->out_c);
        kcase_free(&k);
    }
}
END_TEST

/* Every requantisation path with raw multipliers and shifts, including
 * MIN * MIN, left shifts that saturate and shifts beyond +-31, through a
 * 1x1 conv whose accumulators are the bias alone or nearly. */
START_TEST(simd_requant_edges)
{
    tm_rng r;
    tm_rng_seed(&r, 3);
    int32_t mults[] = {INT32_MIN, -1, 0, 1, 1 << 30, INT32_MAX, -(1 << 30), 1717986918};
    int32_t shifts[] = {-40, -31, -30, -1, 0, 1, 2, 30, 31, 40};
    int nm = (int)(sizeof mults / sizeof mults[0]), ns = (int)(sizeof shifts / sizeof shifts[0]);
    int n = 37;
    int8_t *in = malloc((size_t)n), w[1] = {1}, *o1 = malloc((size_t)n), *o2 = malloc((size_t)n);
    int32_t bias, mult, shift;
    int32_t biases[] = {0, 1, -1, INT32_MAX, INT32_MIN, INT32_MAX - 200, INT32_MIN + 200, 1 << 29,
                        -(1 << 29), 12345};
    tm_rt_conv_args a = base_args();
    a.input = in;
    a.in_c = a.out_c = 1;
    a.in_h = a.out_h = 1;
    a.in_w = a.out_w = n;
    a.kh = a.kw = 1;
    a.weights = w;
    a.bias = &bias;
    a.mult = &mult;
    a.shift = &shift;
    size_t sb = tm_rt_conv_scratch_bytes(&a);
    int8_t *scr = malloc(sb + 1);
    a.scratch = scr;
    for (int i = 0; i < n; i++)
        in[i] = (int8_t)(i * 7 - 128);
    for (int m = 0; m < nm; m++)
        for (int s = 0; s < ns; s++)
            for (size_t b = 0; b < sizeof biases / sizeof biases[0]; b++)
                for (int z = 0; z < 2; z++) {
                    mult = mults[m];
                    shift = shifts[s];
                    bias = biases[b];
                    a.in_zp = z ? 127 : -128;
                    a.out_zp = z ? -128 : 127;
                    a.output = o1;
                    ck_assert_int_eq(tm_rt_conv_ref(&a), TM_RT_OK);
                    a.output = o2;
                    ck_assert_int_eq(tm_rt_conv(&a), TM_RT_OK);
                    ck_assert_msg(memcmp(o1, o2, (size_t)n) == 0, "mult %d shift %d bias %d",
                                  mult, shift, bias);
                    for (int i = 0; i < n; i++)
                        ck_assert_int_eq(o1[i], model_out((int64_t)bias + in[i] - a.in_zp, mult,
                                                          shift, a.out_zp, -128, 127));
                }
    free(in);
    free(o1);
    free(o2);
    free(scr);
}
END_TEST

/* ---- argument checks ----------------------------------------------------- */

START_TEST(bad_arguments_are_rejected)
{
    int8_t in[64] = {0}, w[64] = {0}, out[64];
    int32_t mult[4] = {1 << 30, 1 << 30, 1 << 30, 1 << 30}, shift[4] = {0};
    int8_t scr[65536];
    tm_rt_conv_args good = base_args();
    good.input = in;
    good.in_c = 2;
    good.in_h = good.in_w = 4;
    good.weights = w;
    good.out_c = 2;
    good.kh = good.kw = 3;
    good.pad_top = good.pad_left = 1;
    good.output = out;
    good.out_h = good.out_w = 4;
    good.mult = mult;
    good.shift = shift;
    good.scratch = scr;
    ck_assert_uint_le(tm_rt_conv_scratch_bytes(&good), sizeof scr);
    for (int kind = 0; kind < 2; kind++) {
        tm_rt_kernel_kind kk = (tm_rt_kernel_kind)kind;
        ck_assert_int_eq(run_ref(&good, kk), TM_RT_OK);
        ck_assert_int_eq(run_simd(&good, kk), TM_RT_OK);
        for (int bad = 0; bad < 24; bad++) {
            tm_rt_conv_args a = good;
            switch (bad) {
            case 0: a.input = NULL; break;
            case 1: a.weights = NULL; break;
            case 2: a.output = NULL; break;
            case 3: a.mult = NULL; break;
            case 4: a.shift = NULL; break;
            case 5: a.bits = 2; break;
            case 6: a.in_c = 0; break;
            case 7: a.in_h = -1; break;
            case 8: a.kh = 0; break;
            case 9: a.stride = 0; break;
            case 10: a.pad_top = -1; break;
            case 11: a.pad_left = 3; break;    /* padding >= kernel */
            case 12: a.out_h = 0; break;
            case 13: a.out_w = 6; break;       /* (6-1)*1 - 1 = 4 > in_w - 1 */
            case 14: a.in_zp = 128; break;
            case 15: a.out_zp = -129; break;
            case 16: a.act_min = 5; a.act_max = 4; break;
            case 17: a.act_max = 128; break;
            case 18: a.act_min = -129; break;
            case 19: a.stride = 2; break;      /* 4 outputs need in >= (4-1)*2 - 1 + 1 = 6 */
            case 20: a.out_c = kind == 1 ? 3 : 0; break; /* depthwise: out_c != in_c */
            case 21: a.kw = -2; break;
            case 22: a.in_c = 1 << 20; a.in_h = a.in_w = 1 << 10; break; /* too large */
            default: a.bits = 0; break;
            }
            ck_assert_msg(run_ref(&a, kk) == TM_RT_ERR_ARG, "kind %d bad %d ref", kind, bad);
            ck_assert_msg(run_simd(&a, kk) == TM_RT_ERR_ARG, "kind %d bad %d simd", kind, bad);
            ck_assert_int_eq(tm_rt_conv_check(&a, kk), TM_RT_ERR_ARG);
        }
    }
    ck_assert_int_eq(tm_rt_conv_ref(NULL), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_conv(NULL), TM_RT_ERR_ARG);
    ck_assert_uint_eq(tm_rt_conv_scratch_bytes(NULL), 0);
    /* the dispatched kernels need their scratch when they say so */
    if (tm_rt_conv_scratch_bytes(&good) > 0) {
        tm_rt_conv_args a = good;
        a.scratch = NULL;
        ck_assert_int_eq(tm_rt_conv(&a), TM_RT_ERR_ARG);
        ck_assert_int_eq(tm_rt_depthwise(&a), TM_RT_ERR_ARG);
        ck_assert_int_eq(tm_rt_conv_ref(&a), TM_RT_OK); /* the reference needs none */
    }
    /* dense: everything but in_c / out_c must be 1 (pads 0) */
    tm_rt_conv_args d = base_args();
    d.input = in;
    d.in_c = 16;
    d.in_h = d.in_w = 1;
    d.weights = w;
    d.out_c = 4;
    d.kh = d.kw = 1;
    d.output = out;
    d.out_h = d.out_w = 1;
    d.mult = mult;
    d.shift = shift;
    d.scratch = scr;
    ck_assert_int_eq(tm_rt_dense_ref(&d), TM_RT_OK);
    ck_assert_int_eq(tm_rt_dense(&d), TM_RT_OK);
    for (int bad = 0; bad < 7; bad++) {
        tm_rt_conv_args a = d;
        switch (bad) {
        case 0: a.in_h = 2; break;
        case 1: a.kh = 3; break;
        case 2: a.out_w = 2; break;
        case 3: a.stride = 2; break;
        case 4: a.pad_top = 1; break;
        case 5: a.out_c = 0; break;
        default: a.bits = 16; break;
        }
        ck_assert_msg(tm_rt_dense_ref(&a) == TM_RT_ERR_ARG, "dense bad %d", bad);
        ck_assert_msg(tm_rt_dense(&a) == TM_RT_ERR_ARG, "dense bad %d simd", bad);
    }
}
END_TEST

/* ---- pools --------------------------------------------------------------- */

START_TEST(pools_hand_values)
{
    /* 1 channel 4x4, size 2 stride 2 */
    int8_t in[16] = {1, 2, -5, -6, 3, 4, -7, -8, 127, -128, 0, 1, -128, -128, 1, 0};
    int8_t out[4];
    ck_assert_int_eq(tm_rt_maxpool(in, 1, 4, 4, 2, 2, out, 2, 2), TM_RT_OK);
    ck_assert_int_eq(out[0], 4);
    ck_assert_int_eq(out[1], -5);
    ck_assert_int_eq(out[2], 127);
    ck_assert_int_eq(out[3], 1);
    /* means: 10/4 = 2.5 -> 3; -26/4 = -6.5 -> -7; -257/4 = -64.25 -> -64; 2/4 -> 1 */
    ck_assert_int_eq(tm_rt_avgpool(in, 1, 4, 4, 2, 2, out, 2, 2), TM_RT_OK);
    ck_assert_int_eq(out[0], 3);
    ck_assert_int_eq(out[1], -7);
    ck_assert_int_eq(out[2], -64);
    ck_assert_int_eq(out[3], 1);
    /* floor output: 5x5 with size 2 stride 2 -> 2x2 (last row/column unused) */
    int8_t in5[25];
    for (int i = 0; i < 25; i++)
        in5[i] = (int8_t)i;
    ck_assert_int_eq(tm_rt_maxpool(in5, 1, 5, 5, 2, 2, out, 2, 2), TM_RT_OK);
    ck_assert_int_eq(out[0], 6);
    ck_assert_int_eq(out[3], 18);
    ck_assert_int_eq(tm_rt_maxpool(in5, 1, 5, 5, 2, 2, out, 3, 3), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_avgpool(in5, 1, 5, 5, 2, 2, out, 2, 1), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_maxpool(in5, 1, 5, 5, 6, 1, out, 0, 0), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_maxpool(NULL, 1, 5, 5, 2, 2, out, 2, 2), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_avgpool(in5, 1, 5, 5, 2, 0, out, 2, 2), TM_RT_ERR_ARG);
    /* global: [1,2] -> 1.5 -> 2, [-1,-2] -> -2, [1,2,3,-1]... per channel of 2 */
    int8_t g[6] = {1, 2, -1, -2, 5, 4};
    ck_assert_int_eq(tm_rt_global_avgpool(g, 3, 1, 2, out), TM_RT_OK);
    ck_assert_int_eq(out[0], 2);
    ck_assert_int_eq(out[1], -2);
    ck_assert_int_eq(out[2], 5);
    ck_assert_int_eq(tm_rt_global_avgpool(g, 0, 1, 2, out), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_global_avgpool(g, 1, 1, 2, NULL), TM_RT_ERR_ARG);
}
END_TEST

/* The dispatched max pool (vectors for 2x2 stride 2) against the reference,
 * on rows long enough for every vector width and its overlapping last step. */
START_TEST(maxpool_dispatched_matches_reference)
{
    tm_rng r;
    tm_rng_seed(&r, 11);
    for (int it = 0; it < 400; it++) {
        int c = rnd(&r, 1, 3), h = rnd(&r, 2, 12), w = rnd(&r, 2, 90);
        int size = rnd(&r, 0, 3) ? 2 : rnd(&r, 1, 3), stride = size == 2 && rnd(&r, 0, 3) ? 2 : rnd(&r, 1, 3);
        if (size > h || size > w)
            size = 1;
        int oh = (h - size) / stride + 1, ow = (w - size) / stride + 1;
        int8_t *in = malloc((size_t)(c * h * w)), *a = malloc((size_t)(c * oh * ow)),
               *b = malloc((size_t)(c * oh * ow));
        for (int i = 0; i < c * h * w; i++)
            in[i] = (int8_t)(rnd(&r, 0, 5) == 0 ? (rnd(&r, 0, 1) ? 127 : -128) : (int)tm_rng_u32(&r));
        ck_assert_int_eq(tm_rt_maxpool(in, c, h, w, size, stride, a, oh, ow), TM_RT_OK);
        ck_assert_int_eq(tm_rt_maxpool_ref(in, c, h, w, size, stride, b, oh, ow), TM_RT_OK);
        ck_assert_msg(memcmp(a, b, (size_t)(c * oh * ow)) == 0, "c %d h %d w %d size %d stride %d",
                      c, h, w, size, stride);
        free(in);
        free(a);
        free(b);
    }
}
END_TEST

START_TEST(pools_match_naive)
{
    tm_rng r;
    tm_rng_seed(&r, 4);
    for (int it = 0; it < 300; it++) {
        int c = rnd(&r, 1, 4), h = rnd(&r, 1, 17), w = rnd(&r, 1, 17);
        int size = rnd(&r, 1, h < w ? h : w), stride = rnd(&r, 1, 3);
        int oh = (h - size) / stride + 1, ow = (w - size) / stride + 1;
        int8_t *in = malloc((size_t)(c * h * w)), *mx = malloc((size_t)(c * oh * ow)),
               *av = malloc((size_t)(c * oh * ow)), gl[4];
        for (int i = 0; i < c * h * w; i++)
            in[i] = (int8_t)(rnd(&r, 0, 5) == 0 ? (rnd(&r, 0, 1) ? 127 : -128) : (int)tm_rng_u32(&r));
        ck_assert_int_eq(tm_rt_maxpool(in, c, h, w, size, stride, mx, oh, ow), TM_RT_OK);
        ck_assert_int_eq(tm_rt_avgpool(in, c, h, w, size, stride, av, oh, ow), TM_RT_OK);
        ck_assert_int_eq(tm_rt_global_avgpool(in, c, h, w, gl), TM_RT_OK);
        for (int ch = 0; ch < c; ch++) {
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++) {
                    int m = -1000;
                    double s = 0;
                    for (int ky = 0; ky < size; ky++)
                        for (int kx = 0; kx < size; kx++) {
                            int v = in[(ch * h + y * stride + ky) * w + x * stride + kx];
                            m = v > m ? v : m;
                            s += v;
                        }
                    ck_assert_int_eq(mx[(ch * oh + y) * ow + x], m);
                    ck_assert_int_eq(av[(ch * oh + y) * ow + x],
                                     (int)round_away((long double)s / (size * size)));
                }
            double s = 0;
            for (int i = 0; i < h * w; i++)
                s += in[ch * h * w + i];
            ck_assert_int_eq(gl[ch], (int)round_away((long double)s / (h * w)));
        }
        free(in);
        free(mx);
        free(av);
    }
}
END_TEST

/* ---- input quantisation and softmax -------------------------------------- */

START_TEST(quantize_input_rounds_half_away_and_clamps)
{
    float x[10] = {0.25f, -0.25f, 0.75f, -0.75f, 0.2f, 100.0f, -100.0f, NAN, INFINITY, 0.0f};
    int8_t q[10];
    tm_rt_quantize_input(x, 10, 0.5f, 3, q);
    ck_assert_int_eq(q[0], 4);   /* 0.5 -> 1, + 3 */
    ck_assert_int_eq(q[1], 2);   /* -0.5 -> -1 */
    ck_assert_int_eq(q[2], 5);   /* 1.5 -> 2 */
    ck_assert_int_eq(q[3], 1);   /* -1.5 -> -2 */
    ck_assert_int_eq(q[4], 3);   /* 0.4 -> 0 */
    ck_assert_int_eq(q[5], 127);
    ck_assert_int_eq(q[6], -128);
    ck_assert_int_eq(q[7], -128); /* NaN: as the training side's tm_quantize */
    ck_assert_int_eq(q[8], 127);
    ck_assert_int_eq(q[9], 3);
    /* computed as x / scale in float: 0.3f / 0.1f is 3.0000002f -> 3 */
    float y = 0.3f;
    tm_rt_quantize_input(&y, 1, 0.1f, -128, q);
    ck_assert_int_eq(q[0], (int)roundf(0.3f / 0.1f) - 128);
    /* every int8 level round-trips */
    for (int v = -128; v <= 127; v++) {
        float f = 0.037f * (float)(v - 10);
        tm_rt_quantize_input(&f, 1, 0.037f, 10, q);
        ck_assert_int_eq(q[0], v);
    }
}
END_TEST

START_TEST(softmax_matches_double)
{
    int8_t l[10] = {-128, -3, 0, 5, 127, 126, 7, 7, -50, 20};
    float p[10];
    for (int zi = 0; zi < 3; zi++) {
        int32_t zp = zi == 0 ? 0 : zi == 1 ? -128 : 127;
        float scale = zi == 2 ? 2.0f : 0.1f; /* large logits: no overflow */
        tm_rt_softmax(l, 10, scale, zp, p);
        double mx = -1e300, s = 0, e[10];
        for (int i = 0; i < 10; i++)
            mx = fmax(mx, (double)scale * (l[i] - zp));
        for (int i = 0; i < 10; i++)
            s += e[i] = exp((double)scale * (l[i] - zp) - mx);
        float sum = 0;
        for (int i = 0; i < 10; i++) {
            ck_assert(isfinite(p[i]));
            ck_assert_double_le(fabs(p[i] - e[i] / s), 1e-6);
            sum += p[i];
        }
        ck_assert_double_le(fabs(sum - 1.0), 1e-5);
        ck_assert_float_eq(p[6], p[7]);
    }
}
END_TEST

Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, quantize_multiplier_known_values);
    tcase_add_test(tc, quantize_multiplier_is_accurate);
    tcase_add_test(tc, requant_hand_values);
    tcase_add_test(tc, requant_matches_exact_model);
    tcase_add_test(tc, requantize_tensor_matches_model);
    tcase_add_test(tc, conv_hand_values);
    tcase_add_test(tc, depthwise_and_dense_hand_values);
    tcase_add_test(tc, reference_matches_naive_random);
    tcase_add_test(tc, reference_tracks_float_math);
    tcase_add_test(tc, simd_matches_reference_random);
    tcase_add_test(tc, simd_matches_reference_large);
    tcase_add_test(tc, simd_matches_reference_model_shapes);
    tcase_add_test(tc, simd_depthwise_3x3_stride1);
    tcase_add_test(tc, simd_depthwise_stream_windows);
    tcase_add_test(tc, simd_requant_edges);
    tcase_add_test(tc, scratch_of_every_isa);
    tcase_add_test(tc, bad_arguments_are_rejected);
    tcase_add_test(tc, pools_hand_values);
    tcase_add_test(tc, pools_match_naive);
    tcase_add_test(tc, maxpool_dispatched_matches_reference);
    tcase_add_test(tc, quantize_input_rounds_half_away_and_clamps);
    tcase_add_test(tc, softmax_matches_double);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
#if defined(__AVX512VNNI__) && defined(__x86_64__) && defined(__GNUC__)
    /* test_kernels_vnni (tests/CMakeLists.txt): the kernels need the CPU's VNNI */
    if (!__builtin_cpu_supports("avx512vnni")) {
        printf("test_kernels: this CPU has no AVX-512 VNNI - skipped\n");
        return 77;
    }
#elif defined(__AVX2__) && defined(__x86_64__) && defined(__GNUC__)
    /* an -mavx2 build (test_kernels_asan_avx2) on a CPU without AVX2 */
    if (!__builtin_cpu_supports("avx2")) {
        printf("test_kernels: this CPU has no AVX2 - skipped\n");
        return 77;
    }
#endif
    printf("test_kernels: dispatched kernels %s\n", tm_rt_kernels_isa());
    return tm_test_run(kernels_suite());
}
