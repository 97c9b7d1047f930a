/* x86-64 primitives of the int16-tile kernels: one vector type and its
 * operations for AVX2 (16 int16 lanes) or SSE2 / SSE4.1 (8), so the kernel
 * files tm_rt_*_x86.c are written once for every width; widening, weight
 * unpacking and gemmlowp's requantisation (the SSE form), exact for every
 * multiplier and shift. Included by tm_rt_simd.h. Multiplication pairs two
 * taps at a time with madd_epi16 on interleaved int16 values. */
#ifndef TM_RT_ISA_X86_H
#define TM_RT_ISA_X86_H

#if defined(__AVX2__)
#include <immintrin.h>
#else
#include <emmintrin.h>
#if defined(__SSE4_1__)
#include <smmintrin.h>
#endif
#endif

#if defined(__AVX2__)
typedef __m256i tm_v;
#define V_LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define V_SET1(x) _mm256_set1_epi32(x)
#define V_ADD _mm256_add_epi32
#define V_MADD _mm256_madd_epi16
#define V_UNPLO _mm256_unpacklo_epi16
#define V_UNPHI _mm256_unpackhi_epi16
#else
typedef __m128i tm_v;
#define V_LOAD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define V_SET1(x) _mm_set1_epi32(x)
#define V_ADD _mm_add_epi32
#define V_MADD _mm_madd_epi16
#define V_UNPLO _mm_unpacklo_epi16
#define V_UNPHI _mm_unpackhi_epi16
#endif

/* Pins a vector accumulator in a register at this point: gcc otherwise
 * regroups a kernel's unrolled chain of integer adds into a tree whose
 * partial sums spill. No instruction is emitted. */
#if defined(__GNUC__)
#define TM_RT_KEEP(v) __asm__("" : "+x"(v))
#else
#define TM_RT_KEEP(v) ((void)0)
#endif

/* 8 int8 -> 8 int16 (SSE2 lacks pmovsxbw). */
TM_RT_STATIC __m128i tm_rt_s8to16(__m128i v)
{
#if defined(__SSE4_1__)
    return _mm_cvtepi8_epi16(v);
#else
    return _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8);
#endif
}

/* dst[i] = src[i] - zp */
TM_RT_INLINE void tm_rt_widen(int16_t *dst, const int8_t *src, int n, int32_t zp)
{
    int i = 0;
#if defined(__AVX2__)
    __m256i z = _mm256_set1_epi16((short)zp);
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(void *)(dst + i),
                            _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128(
                                                 (const __m128i *)(const void *)(src + i))),
                                             z));
    if (i < n && n >= 16) { /* the last 16 again, overlapping */
        _mm256_storeu_si256((__m256i *)(void *)(dst + n - 16),
                            _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128(
                                                 (const __m128i *)(const void *)(src + n - 16))),
                                             z));
        return;
    }
#endif
    {
        __m128i z8 = _mm_set1_epi16((short)zp);
        for (; i + 8 <= n; i += 8)
            _mm_storeu_si128((__m128i *)(void *)(dst + i),
                             _mm_sub_epi16(tm_rt_s8to16(_mm_loadl_epi64(
                                               (const __m128i *)(const void *)(src + i))),
                                           z8));
        if (i < n && n >= 8) /* the last 8 again, overlapping */
            _mm_storeu_si128((__m128i *)(void *)(dst + n - 8),
                             _mm_sub_epi16(tm_rt_s8to16(_mm_loadl_epi64(
                                               (const __m128i *)(const void *)(src + n - 8))),
                                           z8));
        else
            for (; i < n; i++)
                dst[i] = (int16_t)(src[i] - zp);
    }
}

/* Small zero fills without a memset call. */
TM_RT_STATIC void tm_rt_zero(int16_t *dst, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_setzero_si128());
    for (; i < n; i++)
        dst[i] = 0;
}

/* 4-bit row -> int8, 32 weights per step (sign extension: (n ^ 8) - 8). */
TM_RT_STATIC void tm_rt_unpack4(const uint8_t *src, size_t n, int8_t *dst)
{
    size_t i = 0;
    const __m128i m = _mm_set1_epi8(15), e = _mm_set1_epi8(8);
    for (; i + 32 <= n; i += 32) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + i / 2));
        __m128i lo = _mm_sub_epi8(_mm_xor_si128(_mm_and_si128(v, m), e), e);
        __m128i hi = _mm_sub_epi8(_mm_xor_si128(_mm_and_si128(_mm_srli_epi16(v, 4), m), e), e);
        _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_unpacklo_epi8(lo, hi));
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 16), _mm_unpackhi_epi8(lo, hi));
    }
    tm_rt_unpack4_scalar(src, i, n, dst);
}

/* Vector requantisation constants of one channel. tm_rt_rqv_init sets only
 * those of the channel's path: q, common, fast, mult, zp16, amin16, amax16
 * always; rs_even, rs_odd, sv_even, sv_odd, d64, kk, kz when fast; ls, rs, lo, hi, mask, half
 * otherwise. */
typedef struct tm_rt_rqv {
    tm_rt_rq q;
    int common; /* no left shift, a right shift, mult >= 0 */
    int fast;   /* common, and a clamp at or above the zero point (tm_rt_rq_fast) */
    __m128i ls, rs, rs_even, rs_odd;
#if defined(__AVX2__)
    __m256i mult, lo, hi, mask, half, zp16, amin16, amax16, d64, kk, kz;
    __m256i sv_even, sv_odd; /* rs_even, rs_odd in every 64-bit lane (srlv reads them from memory) */
#else
    __m128i mult, lo, hi, mask, half, zp16, amin16, amax16, d64, kk, kz;
#endif
} tm_rt_rqv;

#if defined(__AVX2__)
#define TM_RT_V32 _mm256_set1_epi32
#define TM_RT_V16 _mm256_set1_epi16
#define TM_RT_V64 _mm256_set1_epi64x
#else
#define TM_RT_V32 _mm_set1_epi32
#define TM_RT_V16 _mm_set1_epi16
#define TM_RT_V64 _mm_set1_epi64x
#endif

/* tm_rt_rq_fast's constants of a fast channel. */
TM_RT_STATIC void tm_rt_rqv_fast_set(tm_rt_rqv *v)
{
    /* tm_rt_rq_fast's addend: both roundings' halves and K 2^(31 + rs),
     * K = 2^(31 - rs) + 1, which keeps every sum non-negative. */
    int rs = v->q.rs;
    uint32_t k = ((uint32_t)1 << (31 - rs)) + 1u;
    uint64_t d = ((uint64_t)1 << 30) + ((uint64_t)1 << (30 + rs)) + ((uint64_t)k << (31 + rs));
    long long dl; /* d's bits (d >= 2^63 for rs = 31: no conversion) */
    memcpy(&dl, &d, sizeof dl);
    v->mult = TM_RT_V32(v->q.mult);
    v->rs_even = _mm_cvtsi32_si128(31 + rs);
    v->rs_odd = _mm_cvtsi32_si128(rs - 1);
    v->d64 = TM_RT_V64(dl);
    v->kk = TM_RT_V32((int32_t)k);
    v->kz = TM_RT_V32(tm_rt_wrap32(k - (uint32_t)v->q.zp)); /* K - zp: the result + zp */
#if defined(__AVX2__)
    v->sv_even = _mm256_set1_epi64x(31 + rs);
    v->sv_odd = _mm256_set1_epi64x(rs - 1);
#endif
}

/* q, common and fast, and for a fast channel only tm_rt_rqv_fast_set's
 * constants (those tm_rt_store2_fast reads): returns fast. */
TM_RT_STATIC int tm_rt_rqv_init_fast(tm_rt_rqv *v, const tm_rt_conv_args *a, int c)
{
    tm_rt_rq_init(&v->q, a, c);
    v->common = v->q.ls == 0 && v->q.rs > 0 && v->q.mult >= 0;
    v->fast = v->common && v->q.amin >= v->q.zp;
    if (v->fast)
        tm_rt_rqv_fast_set(v);
    return v->fast;
}

/* Only the constants of the channel's path are set: in a streamed chain
 * this runs per channel and row window. */
TM_RT_STATIC void tm_rt_rqv_init(tm_rt_rqv *v, const tm_rt_conv_args *a, int c)
{
    tm_rt_rqv_init_fast(v, a, c);
    v->zp16 = TM_RT_V16((short)v->q.zp);
    v->amin16 = TM_RT_V16((short)v->q.amin);
    v->amax16 = TM_RT_V16((short)v->q.amax);
    if (!v->fast) {
        uint32_t mask = v->q.rs ? ((uint32_t)1 << v->q.rs) - 1u : 0u;
        v->mult = TM_RT_V32(v->q.mult);
        v->ls = _mm_cvtsi32_si128(v->q.ls);
        v->rs = _mm_cvtsi32_si128(v->q.rs);
        v->lo = TM_RT_V32(v->q.ls ? -(int32_t)(((uint32_t)1 << 31) >> v->q.ls) : INT32_MIN);
        v->hi = TM_RT_V32((int32_t)(0x7fffffffu >> v->q.ls));
        v->mask = TM_RT_V32((int32_t)mask);
        v->half = TM_RT_V32((int32_t)(mask >> 1));
    }
}
#undef TM_RT_V32
#undef TM_RT_V16
#undef TM_RT_V64

#if defined(__AVX2__)
/* Saturating left shift. */
TM_RT_INLINE __m256i tm_rt_rq_left(__m256i x, const tm_rt_rqv *v)
{
    __m256i up = _mm256_cmpgt_epi32(x, v->hi), dn = _mm256_cmpgt_epi32(v->lo, x);
    x = _mm256_sll_epi32(x, v->ls);
    x = _mm256_blendv_epi8(x, _mm256_set1_epi32(INT32_MAX), up);
    return _mm256_blendv_epi8(x, _mm256_set1_epi32(INT32_MIN), dn);
}

/* floor((x * mult + 2^30) / 2^31): bits 31..62 of each 64-bit sum (the
 * MIN * MIN saturation is the caller's). */
TM_RT_INLINE __m256i tm_rt_rq_high(__m256i x, const tm_rt_rqv *v)
{
    const __m256i nudge = _mm256_set1_epi64x(1LL << 30);
    __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x, v->mult), nudge);
    __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), v->mult), nudge);
    return _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
}

/* Rounding right shift, half away from zero (gemmlowp's SSE form). */
TM_RT_INLINE __m256i tm_rt_rq_right(__m256i r, const tm_rt_rqv *v)
{
    __m256i rem = _mm256_and_si256(r, v->mask);
    __m256i thr = _mm256_sub_epi32(v->half, _mm256_cmpgt_epi32(_mm256_setzero_si256(), r));
    return _mm256_sub_epi32(_mm256_sra_epi32(r, v->rs), _mm256_cmpgt_epi32(rem, thr));
}

/* Both roundings at once, for the fast case: with P = x mult, gemmlowp's
 * result is floor((P + 2^30 + 2^(30+rs) - [x < 0] 2^31) / 2^(31+rs)) (nested
 * floors of divisions by powers of two; docs/quantization.md), and the clamp
 * at or above the zero point sends every x < 0 to act_min with or without
 * the sign term, so it is left out. K 2^(31+rs) in the addend keeps the sum
 * in [0, 2^64), so logical 64-bit shifts are exact; the result fits int32,
 * so this returns result + K mod 2^32 (tm_rt_rq_fast subtracts K, the
 * two-channel store K - zp). Even lanes shift by 31 + rs (the quotient's
 * low 32 bits land in the low half); odd lanes by rs - 1, which puts the
 * same bits in the high half, where the blend takes them. */
TM_RT_INLINE __m256i tm_rt_rq_fast_k(__m256i x, const tm_rt_rqv *v)
{
    __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x, v->mult), v->d64);
    __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), v->mult), v->d64);
    return _mm256_blend_epi32(_mm256_srlv_epi64(pe, v->sv_even), _mm256_srlv_epi64(po, v->sv_odd), 0xAA);
}

/* The result: tm_rt_rq_fast_k minus K. */
TM_RT_INLINE __m256i tm_rt_rq_fast(__m256i x, const tm_rt_rqv *v)
{
    return _mm256_sub_epi32(tm_rt_rq_fast_k(x, v), v->kk);
}

/* tm_rt_requant on 8 lanes, every case. */
TM_RT_STATIC __m256i tm_rt_rq_vec(__m256i x, const tm_rt_rqv *v)
{
    __m256i r;
    if (v->q.ls)
        x = tm_rt_rq_left(x, v);
    r = tm_rt_rq_high(x, v);
    if (v->q.mult == INT32_MIN)
        r = _mm256_blendv_epi8(r, _mm256_set1_epi32(INT32_MAX),
                               _mm256_cmpeq_epi32(x, _mm256_set1_epi32(INT32_MIN)));
    if (v->q.rs)
        r = tm_rt_rq_right(r, v);
    return r;
}

/* Requantised, offset and clamped int16 of 16 lanes, as packs_epi32
 * leaves them: per 128-bit half, lo's four lanes then hi's. */
TM_RT_INLINE __m256i tm_rt_rq_16(__m256i lo, __m256i hi, const tm_rt_rqv *v)
{
    __m256i p;
    if (v->fast) {
        lo = tm_rt_rq_fast(lo, v);
        hi = tm_rt_rq_fast(hi, v);
    } else if (v->common) {
        lo = tm_rt_rq_right(tm_rt_rq_high(lo, v), v);
        hi = tm_rt_rq_right(tm_rt_rq_high(hi, v), v);
    } else {
        lo = tm_rt_rq_vec(lo, v);
        hi = tm_rt_rq_vec(hi, v);
    }
    p = _mm256_adds_epi16(_mm256_packs_epi32(lo, hi), v->zp16);
    return _mm256_min_epi16(_mm256_max_epi16(p, v->amin16), v->amax16);
}

/* The same as int8, twice: per 128-bit half, lo's four lanes then hi's. */
TM_RT_INLINE __m256i tm_rt_rq_pack(__m256i lo, __m256i hi, const tm_rt_rqv *v)
{
    __m256i p = tm_rt_rq_16(lo, hi, v);
    return _mm256_packs_epi16(p, p);
}

TM_RT_INLINE void tm_rt_put16(__m128i b, int8_t *out, int n)
{
    if (n >= 16) {
        _mm_storeu_si128((__m128i *)(void *)out, b);
    } else {
        int8_t t[16];
        _mm_storeu_si128((__m128i *)(void *)t, b);
        memcpy(out, t, (size_t)n);
    }
}

/* lo holds positions 0-3 | 8-11, hi 4-7 | 12-15 (unpack order). */
TM_RT_INLINE void tm_rt_store(__m256i lo, __m256i hi, const tm_rt_rqv *v, int8_t *out, int n)
{
    tm_rt_put16(_mm256_castsi256_si128(_mm256_permute4x64_epi64(tm_rt_rq_pack(lo, hi, v), 0x08)),
                out, n);
}

/* lo holds positions 0-7, hi 8-15 (in order). */
TM_RT_INLINE void tm_rt_store_seq(__m256i lo, __m256i hi, const tm_rt_rqv *v, int8_t *out, int n)
{
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 0, 4, 1, 5);
    tm_rt_put16(_mm256_castsi256_si128(_mm256_permutevar8x32_epi32(tm_rt_rq_pack(lo, hi, v), order)),
                out, n);
}

/* Two fast channels' 16 outputs each (lo / hi as tm_rt_store takes them):
 * kz adds the zero point before the packs (the result + zp fits int32, and
 * saturating to int16 then int8 gives what adding zp to the int16 did), so
 * one clamp on bytes serves both (act_min, act_max are the op's). */
TM_RT_INLINE void tm_rt_store2_fast(__m256i l0, __m256i h0, __m256i l1, __m256i h1, const tm_rt_rqv *v0,
                                    const tm_rt_rqv *v1, __m256i amin8, __m256i amax8, int8_t *o0,
                                    int8_t *o1)
{
    __m256i p0 = _mm256_packs_epi32(_mm256_sub_epi32(tm_rt_rq_fast_k(l0, v0), v0->kz),
                                    _mm256_sub_epi32(tm_rt_rq_fast_k(h0, v0), v0->kz));
    __m256i p1 = _mm256_packs_epi32(_mm256_sub_epi32(tm_rt_rq_fast_k(l1, v1), v1->kz),
                                    _mm256_sub_epi32(tm_rt_rq_fast_k(h1, v1), v1->kz));
    /* per 128-bit half: channel 0's eight then channel 1's */
    __m256i b = _mm256_min_epi8(_mm256_max_epi8(_mm256_packs_epi16(p0, p1), amin8), amax8);
    b = _mm256_permute4x64_epi64(b, 0xD8);
    _mm_storeu_si128((__m128i *)(void *)o0, _mm256_castsi256_si128(b));
    _mm_storeu_si128((__m128i *)(void *)o1, _mm256_extracti128_si256(b, 1));
}

TM_RT_STATIC int32_t tm_rt_hsum(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/* 16 int8 weights -> int16 */
#define V_W16(p) _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(p)))

#else /* SSE */

/* Signed 32x32->64 products of the even lanes. */
TM_RT_INLINE __m128i tm_rt_mul_even(__m128i a, __m128i b)
{
#if defined(__SSE4_1__)
    return _mm_mul_epi32(a, b);
#else
    /* Unsigned product minus the two's complement corrections. */
    __m128i p = _mm_mul_epu32(a, b);
    __m128i c = _mm_add_epi32(_mm_and_si128(_mm_srai_epi32(a, 31), b),
                              _mm_and_si128(_mm_srai_epi32(b, 31), a));
    return _mm_sub_epi64(p, _mm_slli_epi64(c, 32));
#endif
}

/* The same for b >= 0 (every multiplier tm_rt_quantize_multiplier makes). */
TM_RT_INLINE __m128i tm_rt_mul_even_pos(__m128i a, __m128i b)
{
#if defined(__SSE4_1__)
    return _mm_mul_epi32(a, b);
#else
    __m128i c = _mm_and_si128(_mm_srai_epi32(a, 31), b);
    return _mm_sub_epi64(_mm_mul_epu32(a, b), _mm_slli_epi64(c, 32));
#endif
}

TM_RT_INLINE __m128i tm_rt_select(__m128i a, __m128i b, __m128i mask) /* mask ? b : a */
{
    return _mm_or_si128(_mm_andnot_si128(mask, a), _mm_and_si128(mask, b));
}

TM_RT_INLINE __m128i tm_rt_rq_left(__m128i x, const tm_rt_rqv *v)
{
    __m128i up = _mm_cmpgt_epi32(x, v->hi), dn = _mm_cmplt_epi32(x, v->lo);
    x = _mm_sll_epi32(x, v->ls);
    x = tm_rt_select(x, _mm_set1_epi32(INT32_MAX), up);
    return tm_rt_select(x, _mm_set1_epi32(INT32_MIN), dn);
}

TM_RT_INLINE __m128i tm_rt_rq_high(__m128i x, const tm_rt_rqv *v, int pos)
{
    const __m128i nudge = _mm_set1_epi64x(1LL << 30);
    __m128i xo = _mm_srli_epi64(x, 32), pe, po;
    if (pos) {
        pe = _mm_add_epi64(tm_rt_mul_even_pos(x, v->mult), nudge);
        po = _mm_add_epi64(tm_rt_mul_even_pos(xo, v->mult), nudge);
    } else {
        pe = _mm_add_epi64(tm_rt_mul_even(x, v->mult), nudge);
        po = _mm_add_epi64(tm_rt_mul_even(xo, v->mult), nudge);
    }
#if defined(__SSE4_1__)
    return _mm_blend_epi16(_mm_srli_epi64(pe, 31), _mm_slli_epi64(po, 1), 0xCC);
#else
    return tm_rt_select(_mm_slli_epi64(po, 1), _mm_srli_epi64(pe, 31), _mm_set_epi32(0, -1, 0, -1));
#endif
}

TM_RT_INLINE __m128i tm_rt_rq_right(__m128i r, const tm_rt_rqv *v)
{
    __m128i rem = _mm_and_si128(r, v->mask);
    __m128i thr = _mm_sub_epi32(v->half, _mm_cmplt_epi32(r, _mm_setzero_si128()));
    return _mm_sub_epi32(_mm_sra_epi32(r, v->rs), _mm_cmpgt_epi32(rem, thr));
}

/* The AVX2 tm_rt_rq_fast on 4 lanes. */
TM_RT_INLINE __m128i tm_rt_rq_fast(__m128i x, const tm_rt_rqv *v)
{
    __m128i pe = _mm_srl_epi64(_mm_add_epi64(tm_rt_mul_even_pos(x, v->mult), v->d64), v->rs_even);
    __m128i po = _mm_srl_epi64(
        _mm_add_epi64(tm_rt_mul_even_pos(_mm_srli_epi64(x, 32), v->mult), v->d64), v->rs_odd);
#if defined(__SSE4_1__)
    return _mm_sub_epi32(_mm_blend_epi16(pe, po, 0xCC), v->kk);
#else
    return _mm_sub_epi32(tm_rt_select(po, pe, _mm_set_epi32(0, -1, 0, -1)), v->kk);
#endif
}

TM_RT_STATIC __m128i tm_rt_rq_vec(__m128i x, const tm_rt_rqv *v)
{
    __m128i r;
    if (v->q.ls)
        x = tm_rt_rq_left(x, v);
    r = tm_rt_rq_high(x, v, 0);
    if (v->q.mult == INT32_MIN)
        r = tm_rt_select(r, _mm_set1_epi32(INT32_MAX),
                         _mm_cmpeq_epi32(x, _mm_set1_epi32(INT32_MIN)));
    if (v->q.rs)
        r = tm_rt_rq_right(r, v);
    return r;
}

TM_RT_INLINE void tm_rt_store(__m128i lo, __m128i hi, const tm_rt_rqv *v, int8_t *out, int n)
{
    __m128i p;
    if (v->fast) {
        lo = tm_rt_rq_fast(lo, v);
        hi = tm_rt_rq_fast(hi, v);
    } else if (v->common) {
        lo = tm_rt_rq_right(tm_rt_rq_high(lo, v, 1), v);
        hi = tm_rt_rq_right(tm_rt_rq_high(hi, v, 1), v);
    } else {
        lo = tm_rt_rq_vec(lo, v);
        hi = tm_rt_rq_vec(hi, v);
    }
    p = _mm_adds_epi16(_mm_packs_epi32(lo, hi), v->zp16);
    p = _mm_min_epi16(_mm_max_epi16(p, v->amin16), v->amax16);
    p = _mm_packs_epi16(p, p);
    if (n >= 8) {
        _mm_storel_epi64((__m128i *)(void *)out, p);
    } else {
        int8_t t[16];
        _mm_storeu_si128((__m128i *)(void *)t, p);
        memcpy(out, t, (size_t)n);
    }
}

TM_RT_STATIC int32_t tm_rt_hsum(__m128i s)
{
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

#define V_W16(p) tm_rt_s8to16(_mm_loadl_epi64((const __m128i *)(const void *)(p)))

#endif /* AVX2 / SSE */

/* Two taps' weights as one madd operand: low half tap t, high half t + 1. */
TM_RT_STATIC int32_t tm_rt_pair(int32_t w0, int32_t w1)
{
    return tm_rt_wrap32((uint32_t)(uint16_t)(int16_t)w0 | ((uint32_t)(uint16_t)(int16_t)w1 << 16));
}

#endif
