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
#else
#define TM_RT_INLINE static inline
#endif

#if defined(TM_RT_SIMD)

/* Weight idx of output channel row (8-bit, or packed 4-bit). */
static inline int32_t tm_rt_w(const void *w, int bits, size_t row_bytes, int row, size_t idx)
{
    if (bits == 8)
        return ((const int8_t *)w)[(size_t)row * row_bytes + idx];
    {
        uint8_t b = ((const uint8_t *)w)[(size_t)row * row_bytes + idx / 2];
        int32_t nib = (idx & 1) ? (b >> 4) : (b & 15);
        return nib >= 8 ? nib - 16 : nib;
    }
}

static inline int32_t tm_rt_wrap32(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

static inline int8_t *tm_rt_aligned(int8_t *p)
{
    size_t mis = (size_t)((uintptr_t)p % TM_RT_ALIGN);
    return mis ? p + (TM_RT_ALIGN - mis) : p;
}

/* Per-channel requantisation constants (shift clamped as tm_rt_requant). */
typedef struct tm_rt_rq {
    int32_t mult, ls, rs, zp, amin, amax, bias;
} tm_rt_rq;

static inline void tm_rt_rq_init(tm_rt_rq *q, const tm_rt_conv_args *a, int c)
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

static inline int8_t tm_rt_rq_scalar(const tm_rt_rq *q, int32_t acc)
{
    int64_t v = (int64_t)tm_rt_requant(acc, q->mult, q->ls - q->rs) + q->zp;
    return (int8_t)(v < q->amin ? q->amin : (v > q->amax ? q->amax : v));
}

static inline void tm_rt_unpack4_scalar(const uint8_t *src, size_t from, size_t n, int8_t *dst)
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
static inline void tm_rt_fill_row(int16_t *dst, const int8_t *src, int in_w, int col0, int s,
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
static inline void tm_rt_tap_offsets(int cin, int kh, int kw, int s, int hb, int pw,
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
static inline void tm_rt_copy_row(int8_t *d, const int8_t *s, int n)
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

#endif /* TM_RT_SIMD */

#endif
