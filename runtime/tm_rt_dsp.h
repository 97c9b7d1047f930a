/* Shared by the Arm DSP-extension kernels (tm_rt_conv_dsp.c,
 * tm_rt_depthwise_dsp.c); include only where __ARM_FEATURE_DSP and no NEON.
 *
 * Requantisation in three instructions where it is provably the same as
 * tm_rt_requant + zero point + clamp (tm_rt_kernels.h): for mult >= 0,
 * 1 <= -shift <= 21 and |acc| < 2^30,
 *   SRDHM(acc, mult) = floor((acc mult + 2^30) / 2^31) = SMMULR(2 acc, mult),
 * and the rounding divide by 2^rs (half away from zero) plus out_zp is
 *   floor((s + k - [acc < 0]) / 2^rs),  k = 2^(rs-1) + out_zp 2^rs,
 * so SMMLAR(2 acc, mult, k), the sign term, and one ASR. [s < 0] may be
 * replaced by [acc < 0] (they differ only where s = 0, and there both give
 * out_zp), and when act_min >= out_zp the sign term can be dropped: it only
 * moves values at or below out_zp, which the clamp sends to act_min anyway.
 * Other channels take tm_rt_requant itself. */
#ifndef TM_RT_DSP_H
#define TM_RT_DSP_H

#include <string.h>

#include <arm_acle.h>

#include "tm_rt_kernels.h"

/* Forced inline for speed; an -Os build (the 16 KB device goal,
 * runtime/tools/cross.sh m4) lets the compiler keep shared helpers out of
 * line instead. */
#if defined(__OPTIMIZE_SIZE__)
#define TM_RT_DSP_INLINE static inline
#else
#define TM_RT_DSP_INLINE static inline __attribute__((always_inline))
#endif

TM_RT_DSP_INLINE uint32_t tm_rt_dsp_ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* one LDR: M-profile cores load unaligned words */
    return v;
}

/* SXTB16 of v rotated by 8: bytes 1 and 3 (GCC does not fold the ROR). */
TM_RT_DSP_INLINE int32_t tm_rt_dsp_sxtb16_r8(uint32_t v)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

TM_RT_DSP_INLINE int32_t tm_rt_dsp_wrap(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

/* (a.lo, b.lo << 16) and (b.hi, a.hi >> 16) as one PKHBT / PKHTB each
 * (GCC spells them as three instructions). */
TM_RT_DSP_INLINE uint32_t tm_rt_dsp_pkhbt16(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

TM_RT_DSP_INLINE uint32_t tm_rt_dsp_pkhtb16(uint32_t b, uint32_t a)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(b), "r"(a));
    return r;
}

/* (a.lo, b.hi) */
TM_RT_DSP_INLINE uint32_t tm_rt_dsp_pkhbt0(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* Rd = Ra + round(Rn Rm / 2^32), ties up (no ACLE intrinsic). */
TM_RT_DSP_INLINE int32_t tm_rt_dsp_smmlar(int32_t n, int32_t m, int32_t a)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(n), "r"(m), "r"(a));
    return r;
}

/* Rd = Ra + floor(Rn Rm / 2^32). */
TM_RT_DSP_INLINE int32_t tm_rt_dsp_smmla(int32_t n, int32_t m, int32_t a)
{
    int32_t r;
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(n), "r"(m), "r"(a));
    return r;
}

/* One output channel's requantisation. */
typedef struct tm_rt_dsp_rq {
    int32_t mult, k, rs;
    int fast;
} tm_rt_dsp_rq;

/* The short form's constant k = 2^(rs-1) + out_zp 2^rs, as (1 + 2 out_zp)
 * 2^(rs-1) (1 <= rs <= 21). */
TM_RT_DSP_INLINE uint32_t tm_rt_dsp_rq_k(int32_t out_zp, int32_t rs)
{
    return (1u + 2u * (uint32_t)out_zp) << (rs - 1);
}

/* max_abs: a bound on |acc - bias| over the channel's outputs; the fast
 * path also needs |acc| < lim (2^30, or 2^26 for accumulators kept x16). */
TM_RT_DSP_INLINE void tm_rt_dsp_rq_init(tm_rt_dsp_rq *q, const tm_rt_conv_args *a, int c,
                                        uint32_t max_abs, uint32_t lim)
{
    int32_t sh = a->shift[c], b = a->bias ? a->bias[c] : 0;
    uint32_t ab = b < 0 ? 0u - (uint32_t)b : (uint32_t)b;
    q->mult = a->mult[c];
    q->rs = -sh;
    q->fast = q->mult >= 0 && sh <= -1 && sh >= -21 && max_abs < lim && ab < lim - max_abs;
    q->k = q->fast ? (int32_t)tm_rt_dsp_rq_k(a->out_zp, q->rs) : 0;
}

/* t = 2 acc (fast channels only); negfix: act_min < out_zp. */
TM_RT_DSP_INLINE int32_t tm_rt_dsp_rq_fast(int32_t t, const tm_rt_dsp_rq *q, int negfix)
{
    int32_t h = tm_rt_dsp_smmlar(t, q->mult, q->k);
    if (negfix)
        h += t >> 31; /* arithmetic on GCC / Arm */
    return h >> q->rs;
}

/* The reference's requantisation of a wrapped accumulator, out_zp added
 * with int32 saturation, for the caller to clamp (the rare path, out of
 * line in tm_rt_conv_dsp.c). */
int32_t tm_rt_dsp_rq_exact(uint32_t acc, const tm_rt_conv_args *a, int c);

TM_RT_DSP_INLINE int8_t tm_rt_dsp_clamp(int32_t v, const tm_rt_conv_args *a)
{
    v = __ssat(v, 8);
    v = v < a->act_min ? a->act_min : v;
    return (int8_t)(v > a->act_max ? a->act_max : v);
}

/* Four clamped outputs to out[0..3] with one store: lo4 / hi4 are act_min /
 * act_max in every byte. */
TM_RT_DSP_INLINE void tm_rt_dsp_store4(int8_t *out, int32_t v0, int32_t v1, int32_t v2, int32_t v3,
                                       uint32_t lo4, uint32_t hi4)
{
    uint32_t w = (uint32_t)__ssat(v0, 8);
    /* BFI the other three bytes in (GCC builds them with shifts and ORs) */
    __asm__("bfi %0, %1, #8, #8\n\tbfi %0, %2, #16, #8\n\tbfi %0, %3, #24, #8"
            : "+r"(w)
            : "r"(__ssat(v1, 8)), "r"(__ssat(v2, 8)), "r"(__ssat(v3, 8)));
    uint32_t t;
    /* max then min per byte: SSUB8 sets the GE flags SEL reads, so the four
     * stay in one asm statement */
    __asm__("ssub8 %1, %0, %2\n\tsel %0, %0, %2\n\tssub8 %1, %0, %3\n\tsel %0, %3, %0"
            : "+r"(w), "=&r"(t)
            : "r"(lo4), "r"(hi4));
    memcpy(out, &w, 4);
}

/* tm_rt_dsp_store4 where act_min = -128 and act_max = 127 (SSAT is the
 * clamp). */
TM_RT_DSP_INLINE void tm_rt_dsp_store4p(int8_t *out, int32_t v0, int32_t v1, int32_t v2, int32_t v3)
{
    uint32_t w = (uint32_t)__ssat(v0, 8);
    __asm__("bfi %0, %1, #8, #8\n\tbfi %0, %2, #16, #8\n\tbfi %0, %3, #24, #8"
            : "+r"(w)
            : "r"(__ssat(v1, 8)), "r"(__ssat(v2, 8)), "r"(__ssat(v3, 8)));
    memcpy(out, &w, 4);
}

TM_RT_DSP_INLINE uint32_t tm_rt_dsp_bytes4(int32_t v)
{
    return ((uint32_t)v & 0xFFu) * 0x01010101u;
}

#endif
