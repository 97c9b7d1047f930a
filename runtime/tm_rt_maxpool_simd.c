/* Max pool, dispatched: the models' 2x2 stride-2 pool on SSE2 / SSE4.1 /
 * AVX2 or NEON vectors, or four bytes a word with the Arm DSP extension's
 * SSUB8 / SEL (not in its -Os size build), every other shape by
 * tm_rt_maxpool_ref. A maximum is exact, so these equal the reference bit
 * for bit (tests/test_kernels.c, runtime/tools/cortexm/kernels_main.c). Two
 * input rows give one output row: the rows' byte-wise maximum, then the
 * maximum of each even/odd byte pair. */
#include <string.h>

#include "tm_rt_kernels.h"

#if defined(__SSE2__)
#if defined(__AVX2__)
#include <immintrin.h>
#else
#include <emmintrin.h>
#if defined(__SSE4_1__)
#include <smmintrin.h>
#endif
#endif
#define TM_RT_POOL_STEP 8
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#define TM_RT_POOL_STEP 8
#elif defined(__ARM_FEATURE_DSP) && !defined(__OPTIMIZE_SIZE__)
#include "tm_rt_dsp.h"
#define TM_RT_POOL_STEP 4
#endif

#if defined(TM_RT_POOL_STEP)
#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_NEON)
/* The byte-wise signed maximum of a and b (SSUB8 sets the GE flags SEL
 * reads, so both stay in one asm statement). */
static inline uint32_t tm_rt_pool_max8(uint32_t a, uint32_t b)
{
    uint32_t r, t;
    __asm__("ssub8 %1, %2, %3\n\tsel %0, %2, %3" : "=r"(r), "=&r"(t) : "r"(a), "r"(b) : "cc");
    return r;
}

/* Outputs o[0 .. 4) from rows r0, r1 (8 bytes each): the pairs' maxima sit
 * in bytes 0 and 2 of x (and y), UXTB16 and an OR gather them. */
static void tm_rt_pool2_step(const int8_t *r0, const int8_t *r1, int8_t *o)
{
    uint32_t m0 = tm_rt_pool_max8(tm_rt_dsp_ld32(r0), tm_rt_dsp_ld32(r1));
    uint32_t m1 = tm_rt_pool_max8(tm_rt_dsp_ld32(r0 + 4), tm_rt_dsp_ld32(r1 + 4));
    uint32_t x = __uxtb16(tm_rt_pool_max8(m0, m0 >> 8)), y = __uxtb16(tm_rt_pool_max8(m1, m1 >> 8));
    uint32_t v = tm_rt_dsp_pkhbt16(x | x >> 8, y | y >> 8);
    memcpy(o, &v, 4);
}
#else
/* Outputs o[0 .. 8) from rows r0, r1 (16 bytes each). */
static void tm_rt_pool2_step(const int8_t *r0, const int8_t *r1, int8_t *o)
{
#if defined(__SSE2__)
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)r0),
            b = _mm_loadu_si128((const __m128i *)(const void *)r1);
#if defined(__SSE4_1__)
    __m128i v = _mm_max_epi8(a, b);
#else
    const __m128i flip = _mm_set1_epi8((char)0x80); /* signed max through unsigned */
    __m128i v = _mm_xor_si128(_mm_max_epu8(_mm_xor_si128(a, flip), _mm_xor_si128(b, flip)), flip);
#endif
    __m128i even = _mm_srai_epi16(_mm_slli_epi16(v, 8), 8), odd = _mm_srai_epi16(v, 8);
    __m128i m = _mm_max_epi16(even, odd);
    _mm_storel_epi64((__m128i *)(void *)o, _mm_packs_epi16(m, m));
#else
    int8x16_t v = vmaxq_s8(vld1q_s8(r0), vld1q_s8(r1));
    vst1_s8(o, vpmax_s8(vget_low_s8(v), vget_high_s8(v)));
#endif
}
#endif

#if defined(__SSE2__)
/* Outputs o[0 .. 4) from rows r0, r1 (8 bytes each): rows of 4 to 7 outputs. */
static void tm_rt_pool2_step4(const int8_t *r0, const int8_t *r1, int8_t *o)
{
    __m128i a = _mm_loadl_epi64((const __m128i *)(const void *)r0),
            b = _mm_loadl_epi64((const __m128i *)(const void *)r1);
    __m128i even = _mm_srai_epi16(_mm_slli_epi16(a, 8), 8), odd = _mm_srai_epi16(a, 8);
    __m128i m = _mm_max_epi16(even, odd);
    even = _mm_srai_epi16(_mm_slli_epi16(b, 8), 8);
    odd = _mm_srai_epi16(b, 8);
    m = _mm_max_epi16(m, _mm_max_epi16(even, odd));
    {
        int32_t v = _mm_cvtsi128_si32(_mm_packs_epi16(m, m));
        memcpy(o, &v, 4);
    }
}
#endif

#if defined(__AVX2__)
/* Outputs o[0 .. 16) from rows r0, r1 (32 bytes each). */
static void tm_rt_pool2_step16(const int8_t *r0, const int8_t *r1, int8_t *o)
{
    __m256i v = _mm256_max_epi8(_mm256_loadu_si256((const __m256i *)(const void *)r0),
                                _mm256_loadu_si256((const __m256i *)(const void *)r1));
    __m256i even = _mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8), odd = _mm256_srai_epi16(v, 8);
    __m256i m = _mm256_max_epi16(even, odd);
    m = _mm256_permute4x64_epi64(_mm256_packs_epi16(m, m), 0x08);
    _mm_storeu_si128((__m128i *)(void *)o, _mm256_castsi256_si128(m));
}
#endif
#endif

tm_rt_status tm_rt_maxpool(const int8_t *in, int c, int h, int w, int size, int stride,
                           int8_t *out, int out_h, int out_w)
{
#if defined(TM_RT_POOL_STEP)
    tm_rt_status s = tm_rt_pool_check(in, c, h, w, size, stride, out, out_h, out_w);
    int ch, oy, ox;
    if (s != TM_RT_OK)
        return s;
#if defined(__AVX2__)
    /* Rows of 4 to 16 outputs: one 32-byte step a row, its bytes past the
     * row read from the next one and its outputs past the row rewritten by
     * the next rows; the rows where that would leave the output take the
     * steps below. The reads stay inside the input then: with R output rows
     * left, at least (4R - 2) out_w >= 32 input bytes follow r1 (R out_w >= 16,
     * out_w <= 16). */
    if (size == 2 && stride == 2 && out_w >= 4 && out_w <= 16) {
        int8_t *const out_end = out + (size_t)c * (size_t)out_h * (size_t)out_w;
        for (ch = 0; ch < c; ch++) {
            const int8_t *r0 = in + (size_t)ch * (size_t)h * (size_t)w;
            int8_t *o = out + (size_t)ch * (size_t)out_h * (size_t)out_w;
            for (oy = 0; oy < out_h; oy++, r0 += 2 * (size_t)w, o += out_w) {
                const int8_t *r1 = r0 + w;
                if (o + 16 <= out_end) {
                    tm_rt_pool2_step16(r0, r1, o);
                } else if (out_w >= TM_RT_POOL_STEP) {
                    tm_rt_pool2_step(r0, r1, o);
                    tm_rt_pool2_step(r0 + 2 * (out_w - TM_RT_POOL_STEP), r1 + 2 * (out_w - TM_RT_POOL_STEP),
                                     o + out_w - TM_RT_POOL_STEP);
                } else {
                    tm_rt_pool2_step4(r0, r1, o);
                    tm_rt_pool2_step4(r0 + 2 * (out_w - 4), r1 + 2 * (out_w - 4), o + out_w - 4);
                }
            }
        }
        return TM_RT_OK;
    }
#endif
#if defined(__SSE2__)
    if (size == 2 && stride == 2 && out_w >= 4 && out_w < TM_RT_POOL_STEP) {
        for (ch = 0; ch < c; ch++)
            for (oy = 0; oy < out_h; oy++) {
                const int8_t *r0 = in + ((size_t)ch * h + (size_t)oy * 2) * w, *r1 = r0 + w;
                int8_t *o = out + ((size_t)ch * out_h + oy) * out_w;
                tm_rt_pool2_step4(r0, r1, o);
                tm_rt_pool2_step4(r0 + 2 * (out_w - 4), r1 + 2 * (out_w - 4), o + out_w - 4);
            }
        return TM_RT_OK;
    }
#endif
    if (size != 2 || stride != 2 || out_w < TM_RT_POOL_STEP)
        return tm_rt_maxpool_ref(in, c, h, w, size, stride, out, out_h, out_w);
    for (ch = 0; ch < c; ch++)
        for (oy = 0; oy < out_h; oy++) {
            const int8_t *r0 = in + ((size_t)ch * h + (size_t)oy * 2) * w, *r1 = r0 + w;
            int8_t *o = out + ((size_t)ch * out_h + oy) * out_w;
            /* 2 * out_w <= w, so each step's bytes are inside the row; the
             * last step overlaps the one before instead of a scalar tail.
             * AVX2 takes 16 outputs a step on rows that have them. */
            ox = 0;
#if defined(__AVX2__)
            if (out_w >= 16) {
                for (; ox < out_w; ox += 16) {
                    int x = ox + 16 > out_w ? out_w - 16 : ox;
                    tm_rt_pool2_step16(r0 + 2 * x, r1 + 2 * x, o + x);
                }
            }
#endif
            for (; ox + TM_RT_POOL_STEP <= out_w; ox += TM_RT_POOL_STEP)
                tm_rt_pool2_step(r0 + 2 * ox, r1 + 2 * ox, o + ox);
            if (ox < out_w)
                tm_rt_pool2_step(r0 + 2 * (out_w - TM_RT_POOL_STEP), r1 + 2 * (out_w - TM_RT_POOL_STEP),
                                 o + out_w - TM_RT_POOL_STEP);
        }
    return TM_RT_OK;
#else
    return tm_rt_maxpool_ref(in, c, h, w, size, stride, out, out_h, out_w);
#endif
}
