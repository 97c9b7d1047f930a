/* Dense on x86-64 (SSE2, SSE4.1 or AVX2): the int16 input against four
 * weight rows at a time. */
#include "tm_rt_simd.h"

#if defined(TM_RT_X86)

/* Dense rows o0..o0+nrow-1 (nrow 1 or 4); w[r] are int8 rows of length
 * >= vec (4-bit rows come unpacked and zero-padded), xin is int16, zero
 * beyond in_c. Positions [vec, in_c) are added one by one. */
static void tm_rt_dense_rows(const tm_rt_conv_args *a, const int16_t *xin, const int8_t *const *w,
                             int nrow, int vec, int o0)
{
    int32_t acc[4] = {0, 0, 0, 0};
    int i, r;
    if (nrow == 4) {
        tm_v s0 = V_SET1(0), s1 = s0, s2 = s0, s3 = s0;
        for (i = 0; i + TM_RT_VX <= vec; i += TM_RT_VX) {
            tm_v x = V_LOAD(xin + i);
            s0 = V_ADD(s0, V_MADD(x, V_W16(w[0] + i)));
            s1 = V_ADD(s1, V_MADD(x, V_W16(w[1] + i)));
            s2 = V_ADD(s2, V_MADD(x, V_W16(w[2] + i)));
            s3 = V_ADD(s3, V_MADD(x, V_W16(w[3] + i)));
        }
        acc[0] = tm_rt_hsum(s0);
        acc[1] = tm_rt_hsum(s1);
        acc[2] = tm_rt_hsum(s2);
        acc[3] = tm_rt_hsum(s3);
    } else {
        tm_v s0 = V_SET1(0);
        for (i = 0; i + TM_RT_VX <= vec; i += TM_RT_VX)
            s0 = V_ADD(s0, V_MADD(V_LOAD(xin + i), V_W16(w[0] + i)));
        acc[0] = tm_rt_hsum(s0);
    }
    for (r = 0; r < nrow; r++) {
        uint32_t u = (uint32_t)acc[r] + (uint32_t)(a->bias ? a->bias[o0 + r] : 0);
        tm_rt_rq q;
        for (i = vec / TM_RT_VX * TM_RT_VX; i < a->in_c; i++)
            u += (uint32_t)(xin[i] * w[r][i]);
        tm_rt_rq_init(&q, a, o0 + r);
        q.bias = 0;
        a->output[o0 + r] = tm_rt_rq_scalar(&q, tm_rt_wrap32(u));
    }
}

#if defined(__AVX2__)
#define TM_RT_DRV_DENSE tm_rt_dense_x86_int16
tm_rt_status tm_rt_dense_x86_int16(const tm_rt_conv_args *a);
#else
#define TM_RT_DRV_DENSE tm_rt_dense_x86
#endif
#include "tm_rt_simd_drivers.h"

#if defined(__AVX2__)
/* 4-bit rows straight from their packed bytes, 64 weights a step: with the
 * nibble n as the unsigned operand u = n ^ 8 = w + 8 (0..15) of maddubs and
 * the int8 input as the signed one, a pair is at most 2 * 15 * 128, so no
 * lane saturates and the sums are exact. Even and odd inputs are split once
 * (they meet the low and high nibbles), and
 *   sum w (x - zp) = sum u x - 8 sum x - zp (sum u - 8 in_c). */
/* Bytes i of a load at tm_rt_tail_mask + t are kept (0xFF) when i >= 32 - t. */
static const uint8_t tm_rt_tail_mask[64] = {
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0,    0,    0,    0,    0,    0,    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

/* The low 32 bits of the sum of the four 64-bit lanes (psadbw's sums). */
static inline uint32_t tm_rt_hsum64(__m256i v)
{
    __m128i c2 = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return (uint32_t)_mm_cvtsi128_si32(_mm_add_epi64(c2, _mm_srli_si128(c2, 8)));
}

/* 64 weights: u (low and high nibbles) against the even and odd inputs. */
static inline void tm_rt_d4_step(__m256i lo, __m256i hi, const int8_t *xe, const int8_t *xo,
                                 __m256i *acc, __m256i *nib)
{
    __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, V_LOAD(xe)),
                                 _mm256_maddubs_epi16(hi, V_LOAD(xo)));
    *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
    *nib = _mm256_add_epi8(*nib, _mm256_add_epi8(lo, hi));
}

static tm_rt_status tm_rt_dense4_avx2(const tm_rt_conv_args *a)
{
    int8_t *base = tm_rt_aligned(a->scratch);
    int8_t *xe, *xo;
    size_t rb = tm_rt_weight_row_bytes((size_t)a->in_c, 4), nv = rb / 32 * 32, np, j;
    uint32_t sx = 0;
    int o;
    const __m256i m4 = _mm256_set1_epi8(0x0F), f8 = _mm256_set1_epi8((char)0x88);
    const __m256i zero = _mm256_setzero_si256();
    np = tm_rt_round(rb, 32);
    xe = base; /* within the int16 input tile of the dense plan: 2 * np <= its bytes */
    xo = base + np;
    {
        /* Per 128-bit lane: even bytes to the low half, odd to the high. */
        const __m256i split = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13,
                                               15, 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11,
                                               13, 15);
        const __m256i flip = _mm256_set1_epi8((char)0x80);
        __m256i sum = zero;
        size_t n32 = (size_t)a->in_c / 32 * 32;
        for (j = 0; j < n32; j += 32) {
            __m256i v = V_LOAD(a->input + j);
            __m256i d = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(v, split), 0xD8);
            _mm_storeu_si128((__m128i *)(void *)(xe + j / 2), _mm256_castsi256_si128(d));
            _mm_storeu_si128((__m128i *)(void *)(xo + j / 2), _mm256_extracti128_si256(d, 1));
            sum = _mm256_add_epi64(sum, _mm256_sad_epu8(_mm256_xor_si256(v, flip), zero));
        }
        sx = tm_rt_hsum64(sum) - 128u * (uint32_t)n32; /* x + 128 summed as unsigned bytes */
        tm_rt_dense4_split(a, n32 / 2, rb, xe, xo, &sx);
    }
    for (o = 0; o < a->out_c; o++) {
        const uint8_t *w = (const uint8_t *)a->weights + (size_t)o * rb;
        __m256i acc = zero, cnt = zero;
        uint32_t su = 0, sux = 0;
        size_t j0;
        for (j0 = 0; j0 < nv; j0 += 8 * 32) { /* nibble sums: at most 8 * 30 per byte */
            size_t end = j0 + 8 * 32 < nv ? j0 + 8 * 32 : nv;
            __m256i nib = zero;
            for (j = j0; j < end; j += 32) {
                __m256i v = _mm256_xor_si256(V_LOAD(w + j), f8);
                tm_rt_d4_step(_mm256_and_si256(v, m4),
                              _mm256_and_si256(_mm256_srli_epi16(v, 4), m4), xe + j, xo + j, &acc,
                              &nib);
            }
            cnt = _mm256_add_epi64(cnt, _mm256_sad_epu8(nib, zero));
        }
        j = nv;
        if (rb >= 32 && nv < rb) {
            /* The tail as one more step over the row's last 32 bytes, the
             * bytes the steps before took masked to u = 0. */
            __m256i v = _mm256_xor_si256(V_LOAD(w + rb - 32), f8);
            __m256i keep = _mm256_and_si256(V_LOAD(tm_rt_tail_mask + (rb - nv)), m4);
            __m256i nib = zero;
            tm_rt_d4_step(_mm256_and_si256(v, keep),
                          _mm256_and_si256(_mm256_srli_epi16(v, 4), keep), xe + rb - 32,
                          xo + rb - 32, &acc, &nib);
            cnt = _mm256_add_epi64(cnt, _mm256_sad_epu8(nib, zero));
            j = rb;
        }
        su = tm_rt_hsum64(cnt);
        sux = (uint32_t)tm_rt_hsum(acc);
        tm_rt_dense4_finish(a, o, w, j, rb, xe, xo, su, sux, sx);
    }
    return TM_RT_OK;
}

tm_rt_status tm_rt_dense_x86(const tm_rt_conv_args *a)
{
    if (a->bits == 4 && a->scratch)
        return tm_rt_dense4_avx2(a);
    return tm_rt_dense_x86_int16(a);
}
#endif

#endif /* TM_RT_X86 */
