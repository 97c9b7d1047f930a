/* Dense on AVX-512 VNNI: the input as uint8 q + 128 in scratch, four
 * weight rows at a time, vpdpbusd over 64 inputs per instruction; a second
 * vpdpbusd against ones sums each row's weights, so the zero point's share
 * (in_zp + 128) x (sum of weights) comes off afterwards and the
 * accumulators equal the reference's modulo 2^32. */
#include "tm_rt_simd.h"

#if defined(TM_RT_VNNI)

/* 32 bytes at p, the upper half zero. */
#define TM_RT_LOAD32(p) \
    _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_loadu_si256((const __m256i *)(const void *)(p)), 0)

#define TM_RT_ROW(r, W)                                                                       \
    do {                                                                                      \
        __m512i wv = W;                                                                       \
        s##r = _mm512_dpbusd_epi32(s##r, x, wv);                                              \
        t##r = _mm512_dpbusd_epi32(t##r, ones, wv);                                           \
    } while (0)

/* dot and weight sums of nrow (1 or 4) rows over [0, vec), vec a multiple
 * of 32. */
static void tm_rt_vnni_dense_dots(const uint8_t *xu, const int8_t *const *w, int nrow, int vec,
                                  int32_t *dot, int32_t *wsum)
{
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    __m512i t0 = s0, t1 = s0, t2 = s0, t3 = s0;
    int i = 0;
    if (nrow == 4) {
        for (; i + 64 <= vec; i += 64) {
            __m512i x = _mm512_loadu_si512((const void *)(xu + i));
            TM_RT_ROW(0, _mm512_loadu_si512((const void *)(w[0] + i)));
            TM_RT_ROW(1, _mm512_loadu_si512((const void *)(w[1] + i)));
            TM_RT_ROW(2, _mm512_loadu_si512((const void *)(w[2] + i)));
            TM_RT_ROW(3, _mm512_loadu_si512((const void *)(w[3] + i)));
        }
        if (i < vec) {
            __m512i x = TM_RT_LOAD32(xu + i);
            TM_RT_ROW(0, TM_RT_LOAD32(w[0] + i));
            TM_RT_ROW(1, TM_RT_LOAD32(w[1] + i));
            TM_RT_ROW(2, TM_RT_LOAD32(w[2] + i));
            TM_RT_ROW(3, TM_RT_LOAD32(w[3] + i));
        }
        dot[1] = _mm512_reduce_add_epi32(s1);
        dot[2] = _mm512_reduce_add_epi32(s2);
        dot[3] = _mm512_reduce_add_epi32(s3);
        wsum[1] = _mm512_reduce_add_epi32(t1);
        wsum[2] = _mm512_reduce_add_epi32(t2);
        wsum[3] = _mm512_reduce_add_epi32(t3);
    } else {
        for (; i + 64 <= vec; i += 64) {
            __m512i x = _mm512_loadu_si512((const void *)(xu + i));
            TM_RT_ROW(0, _mm512_loadu_si512((const void *)(w[0] + i)));
        }
        if (i < vec) {
            __m512i x = TM_RT_LOAD32(xu + i);
            TM_RT_ROW(0, TM_RT_LOAD32(w[0] + i));
        }
    }
    dot[0] = _mm512_reduce_add_epi32(s0);
    wsum[0] = _mm512_reduce_add_epi32(t0);
}

/* The int16 plan's layout: the uint8 input in its int16 input area. */
tm_rt_status tm_rt_dense_vnni(const tm_rt_conv_args *a)
{
    tm_rt_plan p, pq;
    int8_t *base;
    uint8_t *xu;
    size_t np;
    int o, i, vec;
    const __m128i flip = _mm_set1_epi8((char)0x80);
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    /* 4-bit rows: the AVX2 kernel reads them packed; here they would be
     * unpacked first, which costs more than vpdpbusd saves (0.40 against
     * 0.84 instructions per MAC on the reference model's dense layers). */
    if (a->bits == 4)
        return tm_rt_dense_x86(a);
    tm_rt_dense_plan(a, &pq);
    p = pq; /* a copy whose address does not escape: its fields stay in registers */
    base = tm_rt_aligned(a->scratch);
    xu = (uint8_t *)(void *)(base + p.tile_off);
    np = tm_rt_round((size_t)a->in_c, 32);
    for (i = 0; i + 16 <= a->in_c; i += 16)
        _mm_storeu_si128((__m128i *)(void *)(xu + i),
                         _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(a->input + i)),
                                       flip));
    for (; i < a->in_c; i++)
        xu[i] = (uint8_t)((uint8_t)a->input[i] ^ 0x80);
    memset(xu + a->in_c, 0, np - (size_t)a->in_c);
    vec = a->in_c / 32 * 32; /* rows read in place up to the last whole 32 */
    for (o = 0; o < a->out_c;) {
        int nrow = a->out_c - o >= 4 ? 4 : 1;
        const int8_t *w[4];
        int32_t dot[4], wsum[4];
        tm_rt_dense_dot_rows(a, o, nrow, w);
        tm_rt_vnni_dense_dots(xu, w, nrow, vec, dot, wsum);
        tm_rt_dense_dot_finish(a, w, dot, wsum, nrow, vec, o, a->in_zp + 128);
        o += nrow;
    }
    return TM_RT_OK;
}

#endif /* TM_RT_VNNI */
