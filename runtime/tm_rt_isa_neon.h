/* NEON primitives of the int16-tile kernels (aarch64, or 32-bit ARM with
 * NEON): widening, weight unpacking and gemmlowp's NEON requantisation.
 * Included by tm_rt_simd.h. Multiplication is one tap at a time with
 * vmlal_lane_s16 / vmlal_n_s16. */
#ifndef TM_RT_ISA_NEON_H
#define TM_RT_ISA_NEON_H

#include <arm_neon.h>

TM_RT_INLINE void tm_rt_widen(int16_t *dst, const int8_t *src, int n, int32_t zp)
{
    int i = 0;
    int16x8_t z = vdupq_n_s16((int16_t)zp);
    for (; i + 8 <= n; i += 8)
        vst1q_s16(dst + i, vsubq_s16(vmovl_s8(vld1_s8(src + i)), z));
    if (i < n && n >= 8) /* the last 8 again, overlapping */
        vst1q_s16(dst + n - 8, vsubq_s16(vmovl_s8(vld1_s8(src + n - 8)), z));
    else
        for (; i < n; i++)
            dst[i] = (int16_t)(src[i] - zp);
}

TM_RT_STATIC void tm_rt_zero(int16_t *dst, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        vst1q_s16(dst + i, vdupq_n_s16(0));
    for (; i < n; i++)
        dst[i] = 0;
}

TM_RT_STATIC void tm_rt_unpack4(const uint8_t *src, size_t n, int8_t *dst)
{
    size_t i = 0;
    const uint8x16_t m = vdupq_n_u8(15), e = vdupq_n_u8(8);
    for (; i + 32 <= n; i += 32) {
        uint8x16_t v = vld1q_u8(src + i / 2);
        int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(veorq_u8(vandq_u8(v, m), e)),
                                vreinterpretq_s8_u8(e));
        int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(veorq_u8(vshrq_n_u8(v, 4), e)),
                                vreinterpretq_s8_u8(e));
        int8x16x2_t z = vzipq_s8(lo, hi);
        vst1q_s8(dst + i, z.val[0]);
        vst1q_s8(dst + i + 16, z.val[1]);
    }
    tm_rt_unpack4_scalar(src, i, n, dst);
}

typedef struct tm_rt_rqv {
    tm_rt_rq q;
    int32x4_t ls, nrs, mult;
    int16x8_t zp16, amin16, amax16;
} tm_rt_rqv;

TM_RT_STATIC void tm_rt_rqv_init(tm_rt_rqv *v, const tm_rt_conv_args *a, int c)
{
    tm_rt_rq_init(&v->q, a, c);
    v->ls = vdupq_n_s32(v->q.ls);
    v->nrs = vdupq_n_s32(-v->q.rs);
    v->mult = vdupq_n_s32(v->q.mult);
    v->zp16 = vdupq_n_s16((int16_t)v->q.zp);
    v->amin16 = vdupq_n_s16((int16_t)v->q.amin);
    v->amax16 = vdupq_n_s16((int16_t)v->q.amax);
}

/* gemmlowp's NEON MultiplyByQuantizedMultiplier: vqrdmulh is exactly the
 * saturating rounding doubling high multiply; the fixup makes vrshl's
 * round-half-up a round-half-away. */
TM_RT_INLINE int32x4_t tm_rt_rq_vec(int32x4_t x, const tm_rt_rqv *v)
{
    if (v->q.ls)
        x = vqshlq_s32(x, v->ls);
    x = vqrdmulhq_s32(x, v->mult);
    if (v->q.rs) {
        int32x4_t fix = vshrq_n_s32(vandq_s32(x, v->nrs), 31);
        x = vrshlq_s32(vqaddq_s32(x, fix), v->nrs);
    }
    return x;
}

TM_RT_INLINE void tm_rt_store(int32x4_t lo, int32x4_t hi, const tm_rt_rqv *v, int8_t *out, int n)
{
    int16x8_t p = vcombine_s16(vqmovn_s32(tm_rt_rq_vec(lo, v)), vqmovn_s32(tm_rt_rq_vec(hi, v)));
    int8x8_t b;
    p = vqaddq_s16(p, v->zp16);
    p = vminq_s16(vmaxq_s16(p, v->amin16), v->amax16);
    b = vqmovn_s16(p);
    if (n >= 8) {
        vst1_s8(out, b);
    } else {
        int8_t t[8];
        vst1_s8(t, b);
        memcpy(out, t, (size_t)n);
    }
}

TM_RT_STATIC int32_t tm_rt_hsum(int32x4_t v)
{
    int32x2_t s = vadd_s32(vget_low_s32(v), vget_high_s32(v));
    s = vpadd_s32(s, s);
    return vget_lane_s32(s, 0);
}

#endif
