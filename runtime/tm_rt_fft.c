#include "tm_rt_fft.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define TM_RT_FFT_SSE 1
#elif defined(__ARM_NEON) && defined(__aarch64__)
/* aarch64 only: Armv7's NEON flushes subnormals to zero, so it would not
 * give the reference's bits */
#include <arm_neon.h>
#define TM_RT_FFT_NEON 1
#endif

#define TM_RT_FFT_ALIGN 16

static const double tm_rt_two_pi = 6.283185307179586476925286766559;

int tm_rt_fft_size_ok(int n)
{
    return n >= TM_RT_FFT_MIN_N && n <= TM_RT_FFT_MAX_N && (n & (n - 1)) == 0;
}

size_t tm_rt_fft_plan_bytes(int n)
{
    if (!tm_rt_fft_size_ok(n))
        return 0;
    return (size_t)n * sizeof(float) + (TM_RT_FFT_ALIGN - 1);
}

tm_rt_status tm_rt_fft_plan_init(tm_rt_fft_plan *plan, int n, void *buf, size_t bytes)
{
    if (!plan || !buf || !tm_rt_fft_size_ok(n))
        return TM_RT_ERR_ARG;
    if (bytes < tm_rt_fft_plan_bytes(n))
        return TM_RT_ERR_BUFFER;
    uintptr_t p = ((uintptr_t)buf + (TM_RT_FFT_ALIGN - 1)) & ~(uintptr_t)(TM_RT_FFT_ALIGN - 1);
    float *c = (float *)p;
    float *s = c + n / 2;
    /* Only angles up to pi/4 go through libm; the rest follow by symmetry, so
     * quarter-turn values are exact and the table does not depend on how a
     * given libm rounds large arguments. */
    for (int k = 0; k < n / 2; k++) {
        int r = k;
        double sign = 1.0;
        if (r > n / 4) {
            r = n / 2 - r;
            sign = -1.0;
        }
        double cv, sv;
        if (r <= n / 8) {
            cv = cos(tm_rt_two_pi * r / n);
            sv = sin(tm_rt_two_pi * r / n);
        } else {
            int q = n / 4 - r;
            cv = sin(tm_rt_two_pi * q / n);
            sv = cos(tm_rt_two_pi * q / n);
        }
        c[k] = (float)(sign * cv);
        s[k] = (float)sv;
    }
    plan->n = n;
    plan->cos_ = c;
    plan->sin_ = s;
    return TM_RT_OK;
}

/* The bit-reversal permutation of m interleaved complex values. */
static void tm_rt_fft_bitrev(float *z, int m)
{
    for (int i = 1, j = 0; i < m; i++) {
        int bit = m >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            float tr = z[2 * i], ti = z[2 * i + 1];
            z[2 * i] = z[2 * j];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = tr;
            z[2 * j + 1] = ti;
        }
    }
}

/* The table on the SIMD builds, and on the others but the -Os size build
 * and TM_RT_FFT_LOOP_BITREV (the reference side of ctest
 * frontend_simd_bits, which must not share it). */
#if defined(TM_RT_FFT_SSE) || defined(TM_RT_FFT_NEON) ||                                      \
    (!defined(__OPTIMIZE_SIZE__) && !defined(TM_RT_FFT_LOOP_BITREV))
#define TM_RT_FFT_REV_TABLE 1
/* Bytes bit-reversed: the SIMD and -O2 builds' permutation takes the reversals
 * from it (one lookup for up to 8 bits, two for up to 16) instead of a
 * carry loop per index. */
typedef char tm_rt_fft_rev_bits_ok[TM_RT_FFT_MAX_N <= 131072 ? 1 : -1]; /* m <= 2^16 */
static const unsigned char tm_rt_rev8[256] = {
#define TM_RT_R2(n) n, n + 2 * 64, n + 1 * 64, n + 3 * 64
#define TM_RT_R4(n) TM_RT_R2(n), TM_RT_R2(n + 2 * 16), TM_RT_R2(n + 1 * 16), TM_RT_R2(n + 3 * 16)
#define TM_RT_R6(n) TM_RT_R4(n), TM_RT_R4(n + 2 * 4), TM_RT_R4(n + 1 * 4), TM_RT_R4(n + 3 * 4)
    TM_RT_R6(0), TM_RT_R6(2), TM_RT_R6(1), TM_RT_R6(3)
#undef TM_RT_R2
#undef TM_RT_R4
#undef TM_RT_R6
};

/* Swaps complex values i and j (8 bytes each, moved as bits). */
static inline void tm_rt_fft_swap(float *z, int i, int j)
{
    double t;
    memcpy(&t, z + 2 * i, sizeof t);
    memcpy(z + 2 * i, z + 2 * j, sizeof t);
    memcpy(z + 2 * j, &t, sizeof t);
}

/* tm_rt_fft_bitrev's permutation (m = 2^b, 2 <= b <= 15), each pair
 * swapped once: with i = 2 x + u + t m/2 (x the b - 2 middle bits, r their
 * reversal), rev(i) = 2 r + t + u m/2, so one lookup a middle value gives
 * four indices: (u, t) = (1, 0) always pairs with a larger index, (0, 1) is
 * that pair seen from r, and (0, 0), (1, 1) swap when x < r. */
static void tm_rt_fft_bitrev_table(float *z, int m)
{
    int b = 0;
    while ((1 << b) < m)
        b++;
    const int mb = b - 2, q = m / 2;
    for (int x = 0; x < (1 << mb); x++) {
        const int r = mb <= 8 ? tm_rt_rev8[x] >> (8 - mb)
                              : (int)(((unsigned)tm_rt_rev8[x & 255] << 8 | tm_rt_rev8[x >> 8]) >> (16 - mb));
        tm_rt_fft_swap(z, 2 * x + 1, 2 * r + q);
        if (x < r) {
            tm_rt_fft_swap(z, 2 * x, 2 * r);
            tm_rt_fft_swap(z, 2 * x + 1 + q, 2 * r + 1 + q);
        }
    }
}

#endif

/* In-place m-point complex FFT (m = n/2) of interleaved re/im pairs:
 * bit-reversal permutation, then iterative radix-2 decimation-in-time. */
static void tm_rt_fft_complex_half(const tm_rt_fft_plan *plan, float *z)
{
    int n = plan->n, m = n / 2;
    /* the table on builds without a SIMD FFT but with room for it (the
     * Cortex-M -O2 builds); the SIMD builds keep the loop here, so the
     * reference their tests compare with is computed another way */
#if defined(TM_RT_FFT_REV_TABLE) && !defined(TM_RT_FFT_SSE) && !defined(TM_RT_FFT_NEON)
    if (m >= 4)
        tm_rt_fft_bitrev_table(z, m);
    else
        tm_rt_fft_bitrev(z, m);
#else
    tm_rt_fft_bitrev(z, m);
#endif
    for (int len = 2; len <= m; len <<= 1) {
        int half = len / 2, step = n / len;
        for (int j = 0; j < half; j++) {
            /* w = exp(-2 pi i j / len) = table entry j * n / len */
            float wr = plan->cos_[j * step], wi = -plan->sin_[j * step];
            for (int s = j; s < m; s += len) {
                float *a = z + 2 * s, *b = z + 2 * (s + half);
                float tr = b[0] * wr - b[1] * wi;
                float ti = b[0] * wi + b[1] * wr;
                b[0] = a[0] - tr;
                b[1] = a[1] - ti;
                a[0] = a[0] + tr;
                a[1] = a[1] + ti;
            }
        }
    }
}

/* X[0] and X[m] (real) from Z[0]. */
static void tm_rt_fft_split_ends(const float *data, int m, float *out, float *power)
{
    float z0r = data[0], z0i = data[1];
    float x0 = z0r + z0i, xm = z0r - z0i;
    if (out) {
        out[0] = x0;
        out[1] = 0.0f;
        out[2 * m] = xm;
        out[2 * m + 1] = 0.0f;
    } else {
        power[0] = x0 * x0;
        power[m] = xm * xm;
    }
}

/* Bins k0 .. m-1 of the split, one at a time. */
static void tm_rt_fft_split(const tm_rt_fft_plan *plan, const float *data, int m, int k0,
                            float *out, float *power)
{
    for (int k = k0; k < m; k++) {
        float ar = data[2 * k], ai = data[2 * k + 1];
        float br = data[2 * (m - k)], bi = -data[2 * (m - k) + 1];
        float er = 0.5f * (ar + br), ei = 0.5f * (ai + bi);
        float dr = 0.5f * (ar - br), di = 0.5f * (ai - bi);
        /* o = d / i */
        float orr = di, oi = -dr;
        float wr = plan->cos_[k], wi = -plan->sin_[k];
        float xr = er + (wr * orr - wi * oi);
        float xi = ei + (wr * oi + wi * orr);
        if (out) {
            out[2 * k] = xr;
            out[2 * k + 1] = xi;
        } else {
            power[k] = xr * xr + xi * xi;
        }
    }
}

/* Runs the half-length complex FFT on data viewed as z[j] = x[2j] + i x[2j+1]
 * and splits Z into the real signal's bins:
 * X[k] = (Z[k] + conj Z[m-k]) / 2 + w^k (Z[k] - conj Z[m-k]) / 2i, w = exp(-2 pi i / n).
 * Writes interleaved bins to out, or |X|^2 to power (exactly one non-NULL). */
static tm_rt_status tm_rt_fft_run_ref(const tm_rt_fft_plan *plan, float *data, float *out,
                                      float *power)
{
    if (!plan || !data || !tm_rt_fft_size_ok(plan->n) || !plan->cos_ || !plan->sin_)
        return TM_RT_ERR_ARG;
    int m = plan->n / 2;
    tm_rt_fft_complex_half(plan, data);
    tm_rt_fft_split_ends(data, m, out, power);
    tm_rt_fft_split(plan, data, m, 1, out, power);
    return TM_RT_OK;
}

#if defined(TM_RT_FFT_SSE) || defined(TM_RT_FFT_NEON)
/* Two complex values per 4-float vector, interleaved as in memory. Every
 * butterfly and split value is computed with the reference's float
 * operations on the same operands: t = b*w as (br*wr + bi*(-wi), bi*wr +
 * br*wi), which equals the reference's (br*wr - bi*wi, br*wi + bi*wr) bit
 * for bit (x + (-y) is x - y, and + and * commute), so the SIMD transform
 * gives the reference's bits. */
#if defined(TM_RT_FFT_SSE)
typedef __m128 tm_rt_v4;
#define V_LOAD(p) _mm_loadu_ps(p)
#define V_STORE(p, v) _mm_storeu_ps(p, v)
#define V_ADD(a, b) _mm_add_ps(a, b)
#define V_SUB(a, b) _mm_sub_ps(a, b)
#define V_MUL(a, b) _mm_mul_ps(a, b)
#define V_SET1(x) _mm_set1_ps(x)
/* (a0 a1 a2 a3) -> (a1 a0 a3 a2): re and im of each complex swapped */
#define V_SWAP(a) _mm_shuffle_ps(a, a, _MM_SHUFFLE(2, 3, 0, 1))
/* the two complex values of a swapped: (a2 a3 a0 a1) */
#define V_HALVES(a) _mm_shuffle_ps(a, a, _MM_SHUFFLE(1, 0, 3, 2))
#define V_NEG_ODD(a) _mm_xor_ps(a, _mm_castsi128_ps(_mm_set_epi32((int)0x80000000, 0, (int)0x80000000, 0)))
/* (x0 x0 x1 x1) and (y0 -y0 y1 -y1) from x0 = p[0], x1 = p[d] */
static inline __m128 tm_rt_dup2(const float *p, int d)
{
    __m128 t = _mm_unpacklo_ps(_mm_load_ss(p), _mm_load_ss(p + d));
    return _mm_unpacklo_ps(t, t);
}
#define V_DUP2P(p, d) tm_rt_dup2(p, d)
#define V_ALT2P(p, d) V_NEG_ODD(tm_rt_dup2(p, d))
/* low complex of a and of b: (a0 a1 b0 b1); high: (a2 a3 b2 b3) */
#define V_LOWS(a, b) _mm_movelh_ps(a, b)
#define V_HIGHS(a, b) _mm_movehl_ps(b, a)
/* (a0 a0 a1 a1), (a2 a2 a3 a3); lanes 0, 2 of a then of b */
#define V_DUPLO(a) _mm_unpacklo_ps(a, a)
#define V_DUPHI(a) _mm_unpackhi_ps(a, a)
#define V_EVENS(a, b) _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))
#else
typedef float32x4_t tm_rt_v4;
#define V_LOAD(p) vld1q_f32(p)
#define V_STORE(p, v) vst1q_f32(p, v)
#define V_ADD(a, b) vaddq_f32(a, b)
#define V_SUB(a, b) vsubq_f32(a, b)
#define V_MUL(a, b) vmulq_f32(a, b)
#define V_SET1(x) vdupq_n_f32(x)
#define V_SWAP(a) vrev64q_f32(a)
#define V_HALVES(a) vcombine_f32(vget_high_f32(a), vget_low_f32(a))
static inline float32x4_t tm_rt_neg_odd(float32x4_t a)
{
    static const uint32_t m[4] = {0, 0x80000000u, 0, 0x80000000u};
    return vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(a), vld1q_u32(m)));
}
#define V_NEG_ODD(a) tm_rt_neg_odd(a)
static inline float32x4_t tm_rt_set4(float a, float b, float c, float d)
{
    float v[4] = {a, b, c, d};
    return vld1q_f32(v);
}
#define V_DUP2P(p, d) tm_rt_set4((p)[0], (p)[0], (p)[d], (p)[d])
#define V_ALT2P(p, d) tm_rt_set4((p)[0], -(p)[0], (p)[d], -(p)[d])
#define V_LOWS(a, b) vcombine_f32(vget_low_f32(a), vget_low_f32(b))
#define V_HIGHS(a, b) vcombine_f32(vget_high_f32(a), vget_high_f32(b))
#define V_DUPLO(a) vzipq_f32(a, a).val[0]
#define V_DUPHI(a) vzipq_f32(a, a).val[1]
#define V_EVENS(a, b) vuzpq_f32(a, b).val[0]
#endif

/* b * w for two complex values, w given as (wr wr ..) and (-wi wi ..). */
static inline tm_rt_v4 tm_rt_cmul(tm_rt_v4 b, tm_rt_v4 wr, tm_rt_v4 wi_alt)
{
    return V_ADD(V_MUL(b, wr), V_MUL(V_SWAP(b), wi_alt));
}

static void tm_rt_fft_complex_half_simd(const tm_rt_fft_plan *plan, float *z)
{
    int n = plan->n, m = n / 2;
    tm_rt_fft_bitrev_table(z, m);
    const float *cs = plan->cos_, *sn = plan->sin_;
    /* len 2: w = exp(0) = (cos_[0], -sin_[0]); pairs (s, s+1), two per step */
    {
        tm_rt_v4 wr = V_SET1(cs[0]), wi = V_ALT2P(sn, 0);
        int s = 0;
        for (; s + 4 <= m; s += 4) {
            tm_rt_v4 v1 = V_LOAD(z + 2 * s), v2 = V_LOAD(z + 2 * s + 4);
            tm_rt_v4 a = V_LOWS(v1, v2), b = V_HIGHS(v1, v2);
            tm_rt_v4 t = tm_rt_cmul(b, wr, wi);
            tm_rt_v4 na = V_ADD(a, t), nb = V_SUB(a, t);
            V_STORE(z + 2 * s, V_LOWS(na, nb));
            V_STORE(z + 2 * s + 4, V_HIGHS(na, nb));
        }
        for (; s < m; s += 2) { /* m = 2: one butterfly */
            float *a = z + 2 * s, *b = a + 2;
            float wr0 = cs[0], wi0 = -sn[0];
            float tr = b[0] * wr0 - b[1] * wi0, ti = b[0] * wi0 + b[1] * wr0;
            b[0] = a[0] - tr;
            b[1] = a[1] - ti;
            a[0] = a[0] + tr;
            a[1] = a[1] + ti;
        }
    }
    /* Stages len and 2 len in one pass over four values (s, s + len/2,
     * s + len, s + 3 len/2): the same butterflies on the same operands as two
     * passes, each value loaded and stored once instead of twice. */
    int len = 4;
    for (; 2 * len <= m; len <<= 2) {
        int half = len / 2, step = n / len, step2 = step / 2;
        for (int j = 0; j < half; j += 2) {
            tm_rt_v4 wr1 = V_DUP2P(cs + j * step, step), wi1 = V_ALT2P(sn + j * step, step);
            tm_rt_v4 wra = V_DUP2P(cs + j * step2, step2), wia = V_ALT2P(sn + j * step2, step2);
            tm_rt_v4 wrb = V_DUP2P(cs + (j + half) * step2, step2);
            tm_rt_v4 wib = V_ALT2P(sn + (j + half) * step2, step2);
            for (int s = j; s < m; s += 2 * len) {
                float *pa = z + 2 * s, *pb = pa + 2 * half, *pc = pa + 2 * len, *pd = pc + 2 * half;
                tm_rt_v4 a = V_LOAD(pa), c = V_LOAD(pc);
                tm_rt_v4 t = tm_rt_cmul(V_LOAD(pb), wr1, wi1), u = tm_rt_cmul(V_LOAD(pd), wr1, wi1);
                tm_rt_v4 a1 = V_ADD(a, t), b1 = V_SUB(a, t), c1 = V_ADD(c, u), d1 = V_SUB(c, u);
                tm_rt_v4 t2 = tm_rt_cmul(c1, wra, wia), u2 = tm_rt_cmul(d1, wrb, wib);
                V_STORE(pa, V_ADD(a1, t2));
                V_STORE(pc, V_SUB(a1, t2));
                V_STORE(pb, V_ADD(b1, u2));
                V_STORE(pd, V_SUB(b1, u2));
            }
        }
    }
    for (; len <= m; len <<= 1) {
        int half = len / 2, step = n / len;
        for (int j = 0; j < half; j += 2) {
            /* wi = -sin: the alternating vector holds (-wi, wi) = (sin, -sin) */
            tm_rt_v4 wr = V_DUP2P(cs + j * step, step);
            tm_rt_v4 wi = V_ALT2P(sn + j * step, step);
            for (int s = j; s < m; s += len) {
                float *pa = z + 2 * s, *pb = z + 2 * (s + half);
                tm_rt_v4 a = V_LOAD(pa), t = tm_rt_cmul(V_LOAD(pb), wr, wi);
                V_STORE(pb, V_SUB(a, t));
                V_STORE(pa, V_ADD(a, t));
            }
        }
    }
}

static tm_rt_status tm_rt_fft_run(const tm_rt_fft_plan *plan, float *data, float *out,
                                  float *power)
{
    if (!plan || !data || !tm_rt_fft_size_ok(plan->n) || !plan->cos_ || !plan->sin_)
        return TM_RT_ERR_ARG;
    int m = plan->n / 2;
    if (m < 4)
        return tm_rt_fft_run_ref(plan, data, out, power);
    tm_rt_fft_complex_half_simd(plan, data);
    tm_rt_fft_split_ends(data, m, out, power);
    const tm_rt_v4 half = V_SET1(0.5f);
    int k = 1;
    if (!out) /* power: four bins a step, their twiddles from one load each */
        for (; k + 3 < m; k += 4) {
            tm_rt_v4 a = V_LOAD(data + 2 * k), a2 = V_LOAD(data + 2 * k + 4);
            tm_rt_v4 b = V_NEG_ODD(V_HALVES(V_LOAD(data + 2 * (m - k - 1))));
            tm_rt_v4 b2 = V_NEG_ODD(V_HALVES(V_LOAD(data + 2 * (m - k - 3))));
            tm_rt_v4 e = V_MUL(half, V_ADD(a, b)), d = V_MUL(half, V_SUB(a, b));
            tm_rt_v4 e2 = V_MUL(half, V_ADD(a2, b2)), d2 = V_MUL(half, V_SUB(a2, b2));
            tm_rt_v4 c4 = V_LOAD(plan->cos_ + k), s4 = V_LOAD(plan->sin_ + k);
            tm_rt_v4 x = V_ADD(e, tm_rt_cmul(V_NEG_ODD(V_SWAP(d)), V_DUPLO(c4), V_NEG_ODD(V_DUPLO(s4))));
            tm_rt_v4 x2 = V_ADD(e2, tm_rt_cmul(V_NEG_ODD(V_SWAP(d2)), V_DUPHI(c4), V_NEG_ODD(V_DUPHI(s4))));
            tm_rt_v4 sq = V_MUL(x, x), sq2 = V_MUL(x2, x2);
            V_STORE(power + k, V_EVENS(V_ADD(sq, V_SWAP(sq)), V_ADD(sq2, V_SWAP(sq2))));
        }
    for (; k + 1 < m; k += 2) {
        /* bins k, k+1 from Z[k], Z[k+1] and conj Z[m-k], conj Z[m-k-1] */
        tm_rt_v4 a = V_LOAD(data + 2 * k);
        tm_rt_v4 b = V_NEG_ODD(V_HALVES(V_LOAD(data + 2 * (m - k - 1))));
        tm_rt_v4 e = V_MUL(half, V_ADD(a, b)), d = V_MUL(half, V_SUB(a, b));
        tm_rt_v4 o = V_NEG_ODD(V_SWAP(d)); /* d / i = (di, -dr) */
        tm_rt_v4 wr = V_DUP2P(plan->cos_ + k, 1);
        tm_rt_v4 wi = V_ALT2P(plan->sin_ + k, 1);
        tm_rt_v4 x = V_ADD(e, tm_rt_cmul(o, wr, wi));
        if (out) {
            V_STORE(out + 2 * k, x);
        } else {
            tm_rt_v4 sq = V_MUL(x, x);
            float v[4];
            V_STORE(v, V_ADD(sq, V_SWAP(sq)));
            power[k] = v[0];
            power[k + 1] = v[2];
        }
    }
    tm_rt_fft_split(plan, data, m, k, out, power); /* the last bin when m - 1 is odd */
    return TM_RT_OK;
}
#else
#define tm_rt_fft_run tm_rt_fft_run_ref
#endif

tm_rt_status tm_rt_fft_forward(const tm_rt_fft_plan *plan, float *data, float *out)
{
    if (!out)
        return TM_RT_ERR_ARG;
    return tm_rt_fft_run(plan, data, out, NULL);
}

tm_rt_status tm_rt_fft_power(const tm_rt_fft_plan *plan, float *data, float *power)
{
    if (!power)
        return TM_RT_ERR_ARG;
    return tm_rt_fft_run(plan, data, NULL, power);
}

#if defined(TM_RT_FFT_SSE) || defined(TM_RT_FFT_NEON)
tm_rt_status tm_rt_fft_forward_ref(const tm_rt_fft_plan *plan, float *data, float *out)
{
    if (!out)
        return TM_RT_ERR_ARG;
    return tm_rt_fft_run_ref(plan, data, out, NULL);
}

tm_rt_status tm_rt_fft_power_ref(const tm_rt_fft_plan *plan, float *data, float *power)
{
    if (!power)
        return TM_RT_ERR_ARG;
    return tm_rt_fft_run_ref(plan, data, NULL, power);
}
#endif
