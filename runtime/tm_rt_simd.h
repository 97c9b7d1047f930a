/* Helpers every int16-tile SIMD kernel file shares (tm_rt_conv_*.c,
 * tm_rt_depthwise_*.c, tm_rt_dense_*.c): weight reads, scalar
 * requantisation, the target's primitives (tm_rt_isa_x86.h or
 * tm_rt_isa_neon.h) and the tile filling built on them. Internal.
 *
 * The kernels take one route: the input is widened once into an int16
 * copy with the zero point subtracted (so padding is a plain 0), laid out so
 * that every kernel tap reads a contiguous run of output positions (stride
 * s: each input row is split into s column phases). The hot loops then
 * vectorise over output positions. Accumulators are int32 and wrap like the
 * reference's, and the vector requantisation is gemmlowp's, so results match
 * tm_rt_*_ref bit for bit. */
#ifndef TM_RT_SIMD_H
#define TM_RT_SIMD_H

#include <string.h>

#include "tm_rt_isa.h"
#include "tm_rt_kernels.h"
#include "tm_rt_kernels_plan.h"

#if defined(__GNUC__)
#define TM_RT_INLINE static inline __attribute__((always_inline))
/* Left to the compiler's inlining heuristics (an inline keyword would tip
 * them, and the kernels' code with them); unused in some kernel files. */
#define TM_RT_STATIC static __attribute__((unused))
#else
#define TM_RT_INLINE static inline
#define TM_RT_STATIC static
#endif

#if defined(TM_RT_SIMD)

/* Weight idx of output channel row (8-bit, or packed 4-bit). */
TM_RT_STATIC int32_t tm_rt_w(const void *w, int bits, size_t row_bytes, int row, size_t idx)
{
    if (bits == 8)
        return ((const int8_t *)w)[(size_t)row * row_bytes + idx];
    {
        uint8_t b = ((const uint8_t *)w)[(size_t)row * row_bytes + idx / 2];
        int32_t nib = (idx & 1) ? (b >> 4) : (b & 15);
        return nib >= 8 ? nib - 16 : nib;
    }
}

TM_RT_STATIC int32_t tm_rt_wrap32(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

TM_RT_STATIC int8_t *tm_rt_aligned(int8_t *p)
{
    size_t mis = (size_t)((uintptr_t)p % TM_RT_ALIGN);
    return mis ? p + (TM_RT_ALIGN - mis) : p;
}

/* Per-channel requantisation constants (shift clamped as tm_rt_requant). */
typedef struct tm_rt_rq {
    int32_t mult, ls, rs, zp, amin, amax, bias;
} tm_rt_rq;

TM_RT_STATIC void tm_rt_rq_init(tm_rt_rq *q, const tm_rt_conv_args *a, int c)
{
    int32_t sh = a->shift[c] > 31 ? 31 : (a->shift[c] < -31 ? -31 : a->shift[c]);
    q->mult = a->mult[c];
    q->ls = sh > 0 ? sh : 0;
    q->rs = sh > 0 ? 0 : -sh;
    q->zp = a->out_zp;
    q->amin = a->act_min;
    q->amax = a->act_max;
    q->bias = a->bias ? a->bias[c] : 0;
}

TM_RT_STATIC int8_t tm_rt_rq_scalar(const tm_rt_rq *q, int32_t acc)
{
    int64_t v = (int64_t)tm_rt_requant(acc, q->mult, q->ls - q->rs) + q->zp;
    return (int8_t)(v < q->amin ? q->amin : (v > q->amax ? q->amax : v));
}

TM_RT_STATIC void tm_rt_unpack4_scalar(const uint8_t *src, size_t from, size_t n, int8_t *dst)
{
    size_t i;
    for (i = from; i < n; i++) {
        int32_t nib = (i & 1) ? (src[i / 2] >> 4) : (src[i / 2] & 15);
        dst[i] = (int8_t)(nib >= 8 ? nib - 16 : nib);
    }
}

#if defined(TM_RT_X86)
#include "tm_rt_isa_x86.h"
#else
#include "tm_rt_isa_neon.h"
#endif

/* One padded input row as s column phases of pw values; src NULL = padding. */
TM_RT_STATIC void tm_rt_fill_row(int16_t *dst, const int8_t *src, int in_w, int col0, int s,
                                  int pw, int32_t zp)
{
    int r, j;
    for (r = 0; r < s; r++, dst += pw) {
        int c0 = col0 + r;
        if (!src) {
            tm_rt_zero(dst, pw);
        } else if (s == 1) {
            int lo = c0 < 0 ? -c0 : 0, hi = in_w - c0 < pw ? in_w - c0 : pw;
            if (hi < lo)
                hi = lo;
            if (lo > pw)
                lo = hi = pw;
            tm_rt_zero(dst, lo);
            if (hi > lo)
                tm_rt_widen(dst + lo, src + c0 + lo, hi - lo, zp);
            tm_rt_zero(dst + hi, pw - hi);
        } else {
            for (j = 0; j < pw; j++) {
                long ix = (long)c0 + (long)j * s;
                dst[j] = (int16_t)(ix >= 0 && ix < in_w ? src[ix] - zp : 0);
            }
        }
    }
}

/* Tap t = (ci, ky, kx) reads phase kx % s, kx / s columns on. */
TM_RT_STATIC void tm_rt_tap_offsets(int cin, int kh, int kw, int s, int hb, int pw,
                                     int32_t *toff)
{
    size_t t = 0;
    int ci, ky, kx;
    for (ci = 0; ci < cin; ci++)
        for (ky = 0; ky < kh; ky++)
            for (kx = 0; kx < kw; kx++)
                toff[t++] = (int32_t)((((size_t)ci * hb + ky) * s + kx % s) * pw + kx / s);
    toff[t] = toff[t - 1]; /* partner of an odd last tap (weight 0) */
}

/* n bytes; rows of 16 (8) or more move 16 (8) at a time, the last
 * overlapping. */
TM_RT_INLINE void tm_rt_copy_row(int8_t *d, const int8_t *s, int n)
{
    int i = 0;
    if (n >= 16) {
        for (; i + 16 <= n; i += 16)
            memcpy(d + i, s + i, 16);
        if (i < n)
            memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        for (; i + 8 <= n; i += 8)
            memcpy(d + i, s + i, 8);
        if (i < n)
            memcpy(d + n - 8, s + n - 8, 8);
    } else {
        for (; i < n; i++)
            d[i] = s[i];
    }
}

#if defined(TM_RT_VNNI) || defined(TM_RT_SDOT)
/* ---- channel-quad tiles of the dot-product kernels (vpdpbusd, sdot) ------
 * Four input channels share each 4-byte group: tile byte
 * (((cq * hb + i) * s + phase) * pw + col) * 4 + ci % 4 holds channel
 * 4 cq + ci % 4, so one load of 4 n bytes gives n output positions their
 * four taps (one per channel) for one dot-product instruction. Values are
 * int8 as stored (sdot) or flipped to uint8 q + 128 (vpdpbusd multiplies
 * unsigned by signed); padding and channels beyond in_c hold the zero
 * point in the same form, and the kernel subtracts (zero point) x (sum of
 * the channel's weights) once, so padding still adds nothing. */

/* Tap group g = (cq, ky, kx): its byte offset. */
TM_RT_STATIC void tm_rt_quad_offsets(int cq, int kh, int kw, int s, int hb, int pw,
                                      int32_t *toff)
{
    size_t g = 0;
    int c, ky, kx;
    for (c = 0; c < cq; c++)
        for (ky = 0; ky < kh; ky++)
            for (kx = 0; kx < kw; kx++)
                toff[g++] = (int32_t)(((((size_t)c * hb + ky) * s + kx % s) * pw + kx / s) * 4);
}

/* Weights of channels c0 .. c0 + nb - 1, [group][nb][4] bytes (0 beyond
 * in_c and out_c), and each channel's sum of weights; 4-bit rows are
 * unpacked into tmp (k bytes) first. */
TM_RT_STATIC void tm_rt_pack_quads(const tm_rt_conv_args *a, size_t rb, int c0, int nb,
                                    int8_t *wk, uint32_t *wsum, int8_t *tmp)
{
    size_t khw = (size_t)a->kh * (size_t)a->kw, ng = (size_t)((a->in_c + 3) / 4) * khw, g, t;
    int c, j, ci;
    for (c = 0; c < nb; c++) {
        const int8_t *row;
        int8_t *d = wk + (size_t)c * 4;
        uint32_t sum = 0;
        if (c0 + c >= a->out_c) {
            for (g = 0; g < ng; g++)
                memset(d + g * (size_t)nb * 4, 0, 4);
            wsum[c] = 0;
            continue;
        }
        row = (const int8_t *)a->weights + (size_t)(c0 + c) * rb;
        if (a->bits == 4) {
            tm_rt_unpack4((const uint8_t *)row, (size_t)a->in_c * khw, tmp);
            row = tmp;
        }
        for (g = 0, ci = 0; ci < a->in_c; ci += 4) {
            int nj = a->in_c - ci < 4 ? a->in_c - ci : 4;
            for (t = 0; t < khw; t++, g++) {
                int8_t *q = d + g * (size_t)nb * 4;
                for (j = 0; j < nj; j++) {
                    q[j] = row[(size_t)(ci + j) * khw + t];
                    sum += (uint32_t)(int32_t)q[j];
                }
                for (; j < 4; j++)
                    q[j] = 0;
            }
        }
        wsum[c] = sum;
    }
}

/* One padded input row of four channels (src[j] NULL: padding or beyond
 * in_c) as s column phases of pw groups; flip 0x80 makes uint8. */
TM_RT_STATIC void tm_rt_fill_quad(uint8_t *dst, const int8_t *const *src, int in_w, int col0,
                                   int s, int pw, uint8_t flip, uint8_t pad)
{
    int r, j, c;
    if (!src[0] && !src[1] && !src[2] && !src[3]) {
        memset(dst, pad, (size_t)s * (size_t)pw * 4);
        return;
    }
    for (r = 0; r < s; r++, dst += 4 * (size_t)pw) {
        int c0 = col0 + r;
        if (s == 1) {
            int lo = c0 < 0 ? -c0 : 0, hi = in_w - c0 < pw ? in_w - c0 : pw;
            if (hi < lo)
                hi = lo;
            if (lo > pw)
                lo = hi = pw;
            memset(dst, pad, 4 * (size_t)lo);
            memset(dst + 4 * (size_t)hi, pad, 4 * (size_t)(pw - hi));
            j = lo;
            if (src[0] && src[1] && src[2] && src[3]) {
#if defined(TM_RT_VNNI)
                const __m128i f = _mm_set1_epi8((char)flip);
                for (; j + 16 <= hi; j += 16) {
                    __m128i x0 = _mm_xor_si128(
                        _mm_loadu_si128((const __m128i *)(const void *)(src[0] + c0 + j)), f);
                    __m128i x1 = _mm_xor_si128(
                        _mm_loadu_si128((const __m128i *)(const void *)(src[1] + c0 + j)), f);
                    __m128i x2 = _mm_xor_si128(
                        _mm_loadu_si128((const __m128i *)(const void *)(src[2] + c0 + j)), f);
                    __m128i x3 = _mm_xor_si128(
                        _mm_loadu_si128((const __m128i *)(const void *)(src[3] + c0 + j)), f);
                    __m128i a0 = _mm_unpacklo_epi8(x0, x1), a1 = _mm_unpackhi_epi8(x0, x1);
                    __m128i b0 = _mm_unpacklo_epi8(x2, x3), b1 = _mm_unpackhi_epi8(x2, x3);
                    __m128i *d = (__m128i *)(void *)(dst + 4 * (size_t)j);
                    _mm_storeu_si128(d, _mm_unpacklo_epi16(a0, b0));
                    _mm_storeu_si128(d + 1, _mm_unpackhi_epi16(a0, b0));
                    _mm_storeu_si128(d + 2, _mm_unpacklo_epi16(a1, b1));
                    _mm_storeu_si128(d + 3, _mm_unpackhi_epi16(a1, b1));
                }
#else
                (void)flip;
                for (; j + 16 <= hi; j += 16) {
                    int8x16x4_t v;
                    v.val[0] = vld1q_s8(src[0] + c0 + j);
                    v.val[1] = vld1q_s8(src[1] + c0 + j);
                    v.val[2] = vld1q_s8(src[2] + c0 + j);
                    v.val[3] = vld1q_s8(src[3] + c0 + j);
                    vst4q_s8((int8_t *)(void *)(dst + 4 * (size_t)j), v);
                }
#endif
            }
            for (; j < hi; j++)
                for (c = 0; c < 4; c++)
                    dst[4 * (size_t)j + (size_t)c] =
                        src[c] ? (uint8_t)((uint8_t)src[c][c0 + j] ^ flip) : pad;
        } else {
            for (j = 0; j < pw; j++) {
                long ix = (long)c0 + (long)j * s;
                for (c = 0; c < 4; c++)
                    dst[4 * (size_t)j + (size_t)c] =
                        src[c] && ix >= 0 && ix < in_w ? (uint8_t)((uint8_t)src[c][ix] ^ flip) : pad;
            }
        }
    }
}
/* Dense rows o0 .. o0 + nrow - 1 of the dot-product kernels: dot[r] and
 * wsum[r] are sum x w and sum w over [0, vec) with x the flipped or plain
 * input (zoff = in_zp + 128 or in_zp); the rest of each row is added one by
 * one, then requantised. */
TM_RT_STATIC void tm_rt_dense_dot_finish(const tm_rt_conv_args *a, const int8_t *const *w,
                                         const int32_t *dot, const int32_t *wsum, int nrow,
                                         int vec, int o0, int32_t zoff)
{
    int r, i;
    for (r = 0; r < nrow; r++) {
        uint32_t u = (uint32_t)dot[r] - (uint32_t)zoff * (uint32_t)wsum[r] +
                     (uint32_t)(a->bias ? a->bias[o0 + r] : 0);
        tm_rt_rq q;
        for (i = vec; i < a->in_c; i++)
            u += (uint32_t)((a->input[i] - a->in_zp) * w[r][i]);
        tm_rt_rq_init(&q, a, o0 + r);
        q.bias = 0;
        a->output[o0 + r] = tm_rt_rq_scalar(&q, tm_rt_wrap32(u));
    }
}

/* Row pointers of the 8-bit weight rows o .. o + nrow - 1, read in place
 * (4-bit rows take the packed kernels: tm_rt_dense4_sdot, tm_rt_dense_x86). */
TM_RT_STATIC void tm_rt_dense_dot_rows(const tm_rt_conv_args *a, int o, int nrow, const int8_t **w)
{
    int r;
    for (r = 0; r < nrow; r++)
        w[r] = (const int8_t *)a->weights + (size_t)(o + r) * (size_t)a->in_c;
}
#endif /* TM_RT_VNNI || TM_RT_SDOT */

/* The even and odd inputs of a packed 4-bit dense row from input 2 * j0 on
 * (the vector code did those before), the odd one 0 past in_c, and sum x
 * of inputs from 2 * j0 on added to *sx. */
TM_RT_STATIC void tm_rt_dense4_split(const tm_rt_conv_args *a, size_t j0, size_t rb, int8_t *xe,
                                     int8_t *xo, uint32_t *sx)
{
    size_t j;
    int i;
    for (j = j0; j < rb; j++) {
        xe[j] = a->input[2 * j];
        xo[j] = 2 * j + 1 < (size_t)a->in_c ? a->input[2 * j + 1] : 0;
    }
    for (i = (int)(2 * j0); i < a->in_c; i++)
        *sx += (uint32_t)(int32_t)a->input[i];
}

#if defined(TM_RT_NEON)
/* The even and odd inputs of a packed 4-bit dense row into xe and xo (the
 * NEON and sdot kernels), 32 a step by vld2q; sum x returned. */
TM_RT_STATIC uint32_t tm_rt_dense4_split_neon(const tm_rt_conv_args *a, size_t rb, int8_t *xe,
                                              int8_t *xo)
{
    size_t n32 = (size_t)a->in_c / 32 * 32, j;
    int32x4_t sum = vdupq_n_s32(0);
    uint32_t sx;
    for (j = 0; j < n32; j += 32) {
        int8x16x2_t v = vld2q_s8(a->input + j); /* even and odd bytes */
        vst1q_s8(xe + j / 2, v.val[0]);
        vst1q_s8(xo + j / 2, v.val[1]);
        sum = vpadalq_s16(sum, vpaddlq_s8(v.val[0]));
        sum = vpadalq_s16(sum, vpaddlq_s8(v.val[1]));
    }
    sx = (uint32_t)tm_rt_hsum(sum);
    tm_rt_dense4_split(a, n32 / 2, rb, xe, xo, &sx);
    return sx;
}
#endif

/* Bytes [j, rb) of a packed 4-bit row added to sum u and sum u x one by
 * one (u = nibble ^ 8 = w + 8), the pad nibble of an odd row taken out of
 * sum u; then sum w x = sum u x - 8 sum x and sum w = sum u - 8 in_c into
 * dot and wsum. su, sux: the sums of the bytes before j; sx: sum x. */
TM_RT_STATIC void tm_rt_dense4_sums(const tm_rt_conv_args *a, const uint8_t *w, size_t j,
                                    size_t rb, const int8_t *xe, const int8_t *xo, uint32_t su,
                                    uint32_t sux, uint32_t sx, int32_t *dot, int32_t *wsum)
{
    for (; j < rb; j++) {
        uint32_t lo = (uint32_t)((w[j] ^ 0x88) & 15), hi = (uint32_t)((w[j] ^ 0x88) >> 4);
        su += lo + hi;
        sux += lo * (uint32_t)(int32_t)xe[j] + hi * (uint32_t)(int32_t)xo[j];
    }
    if (a->in_c & 1) /* the last byte's pad nibble (met by input 0) is no weight */
        su -= (uint32_t)((w[rb - 1] ^ 0x88) >> 4);
    *dot = tm_rt_wrap32(sux - 8u * sx);
    *wsum = tm_rt_wrap32(su - 8u * (uint32_t)a->in_c);
}

/* The end of a 4-bit dense row read from packed bytes (the AVX2 and NEON
 * kernels): tm_rt_dense4_sums, then sum w (x - zp) = sum w x - zp sum w,
 * the bias and the requantisation of output o. */
TM_RT_STATIC void tm_rt_dense4_finish(const tm_rt_conv_args *a, int o, const uint8_t *w,
                                      size_t j, size_t rb, const int8_t *xe, const int8_t *xo,
                                      uint32_t su, uint32_t sux, uint32_t sx)
{
    tm_rt_rq q;
    int32_t dot, wsum;
    uint32_t u;
    tm_rt_dense4_sums(a, w, j, rb, xe, xo, su, sux, sx, &dot, &wsum);
    u = (uint32_t)dot - (uint32_t)a->in_zp * (uint32_t)wsum + (uint32_t)(a->bias ? a->bias[o] : 0);
    tm_rt_rq_init(&q, a, o);
    q.bias = 0;
    a->output[o] = tm_rt_rq_scalar(&q, tm_rt_wrap32(u));
}

#endif /* TM_RT_SIMD */

#endif
