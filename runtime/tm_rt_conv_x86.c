/* Conv on x86-64 (SSE2, SSE4.1 or AVX2 by the build's flags; the width
 * lives in tm_rt_isa_x86.h): tiles of the int16 input, four output channels
 * per block, two taps per madd_epi16 on interleaved pairs. */
#include "tm_rt_simd.h"

#if defined(TM_RT_X86)

#define TM_RT_NB 4 /* output channels per conv block */

/* Conv: weights of channels c0..c0+3 as pairs, [pair][4], each already
 * broadcast to a whole vector so the madds read them straight from memory. */
static void tm_rt_pack_conv(const tm_rt_conv_args *a, size_t k, size_t rb, int c0, tm_v *wp)
{
    size_t np = (k + 1) / 2, j;
    int c;
    for (c = 0; c < TM_RT_NB; c++)
        for (j = 0; j < np; j++) {
            int32_t w0 = 0, w1 = 0;
            if (c0 + c < a->out_c) {
                w0 = tm_rt_w(a->weights, a->bits, rb, c0 + c, 2 * j);
                w1 = 2 * j + 1 < k ? tm_rt_w(a->weights, a->bits, rb, c0 + c, 2 * j + 1) : 0;
            }
            wp[j * TM_RT_NB + (size_t)c] = V_SET1(tm_rt_pair(w0, w1));
        }
}

/* One output row segment of four channels: n positions from base. */
static void tm_rt_conv_row(const int16_t *base, const int32_t *toff, size_t k, const tm_v *wp,
                           const tm_rt_rqv *rq, int nvalid, int8_t *const *out, int n)
{
    size_t np = (k + 1) / 2, j;
    int x;
    for (x = 0; x < n; x += TM_RT_VX) {
        int xs = x + TM_RT_VX > n && n >= TM_RT_VX ? n - TM_RT_VX : x; /* overlap, no tail */
        tm_v a0l = V_SET1(rq[0].q.bias), a0h = a0l, a1l = V_SET1(rq[1].q.bias), a1h = a1l;
        tm_v a2l = V_SET1(rq[2].q.bias), a2h = a2l, a3l = V_SET1(rq[3].q.bias), a3h = a3l;
        const tm_v *w = wp;
        for (j = 0; j < np; j++, w += TM_RT_NB) {
            tm_v u = V_LOAD(base + toff[2 * j] + xs), v = V_LOAD(base + toff[2 * j + 1] + xs);
            tm_v lo = V_UNPLO(u, v), hi = V_UNPHI(u, v);
            a0l = V_ADD(a0l, V_MADD(lo, w[0]));
            a0h = V_ADD(a0h, V_MADD(hi, w[0]));
            a1l = V_ADD(a1l, V_MADD(lo, w[1]));
            a1h = V_ADD(a1h, V_MADD(hi, w[1]));
            a2l = V_ADD(a2l, V_MADD(lo, w[2]));
            a2h = V_ADD(a2h, V_MADD(hi, w[2]));
            a3l = V_ADD(a3l, V_MADD(lo, w[3]));
            a3h = V_ADD(a3h, V_MADD(hi, w[3]));
        }
        tm_rt_store(a0l, a0h, &rq[0], out[0] + xs, n - xs);
        if (nvalid > 1)
            tm_rt_store(a1l, a1h, &rq[1], out[1] + xs, n - xs);
        if (nvalid > 2)
            tm_rt_store(a2l, a2h, &rq[2], out[2] + xs, n - xs);
        if (nvalid > 3)
            tm_rt_store(a3l, a3h, &rq[3], out[3] + xs, n - xs);
    }
}

/* One input channel, 3x3, stride 1 (a branch's first layer): the input is
 * widened once into one padded plane pw = out_w + 2 wide, so the nine taps
 * lie at fixed distances from three row pointers and every output row is
 * read in place, with no tile per row segment; the pairs are
 * tm_rt_pack_conv's, (t0,t1) (t2,t3) ... (t8,0). */
static int tm_rt_conv1_ok(const tm_rt_conv_args *a, const tm_rt_plan *p)
{
    size_t pw = (size_t)a->out_w + 2, hb = (size_t)a->out_h + 2;
    return a->in_c == 1 && a->kh == 3 && a->kw == 3 && a->stride == 1 && a->out_w >= TM_RT_VX &&
           hb * pw * 2 <= p->toff_off && 5 * TM_RT_NB * sizeof(tm_v) + TM_RT_ALIGN <= p->total - p->w_off;
}

static void tm_rt_conv1(const tm_rt_conv_args *a, const tm_rt_plan *p)
{
    int8_t *base = tm_rt_aligned(a->scratch);
    int16_t *plane = (int16_t *)(void *)(base + p->tile_off);
    tm_v *wp = (tm_v *)(void *)(base + p->w_off);
    const int pw = a->out_w + 2, hb = a->out_h + 2, n = a->out_w;
    int n_in = a->in_w < pw - a->pad_left ? a->in_w : pw - a->pad_left;
    size_t rb = tm_rt_weight_row_bytes(9, a->bits), plane_out = (size_t)a->out_h * (size_t)a->out_w;
    int i, cb, c, y, x;
    tm_v b0, b1, b2, b3;
#if defined(__AVX2__)
    const __m256i amin8 = _mm256_set1_epi8((char)a->act_min), amax8 = _mm256_set1_epi8((char)a->act_max);
    int fast4;
#endif
    tm_rt_zero(plane, hb * pw);
    for (i = 0; i < a->in_h && i + a->pad_top < hb; i++)
        if (n_in > 0)
            tm_rt_widen(plane + (size_t)(i + a->pad_top) * pw + a->pad_left,
                        a->input + (size_t)i * a->in_w, n_in, a->in_zp);
    for (cb = 0; cb < a->out_c; cb += TM_RT_NB) {
        tm_rt_rqv rq[TM_RT_NB];
        int8_t *out[TM_RT_NB];
        int nvalid = a->out_c - cb < TM_RT_NB ? a->out_c - cb : TM_RT_NB;
        tm_rt_pack_conv(a, 9, rb, cb, wp);
#if defined(__AVX2__)
        for (c = 0; c < TM_RT_NB; c++) {
            tm_rt_rqv_init_fast(&rq[c], a, c < nvalid ? cb + c : cb);
            out[c] = a->output + (size_t)(c < nvalid ? cb + c : cb) * plane_out;
        }
        fast4 = nvalid == 4 && rq[0].fast && rq[1].fast && rq[2].fast && rq[3].fast;
        if (!fast4) /* tm_rt_store's constants too */
#endif
            for (c = 0; c < TM_RT_NB; c++) {
                tm_rt_rqv_init(&rq[c], a, c < nvalid ? cb + c : cb);
                out[c] = a->output + (size_t)(c < nvalid ? cb + c : cb) * plane_out;
            }
        /* locals: the int8 stores could alias rq */
        b0 = V_SET1(rq[0].q.bias);
        b1 = V_SET1(rq[1].q.bias);
        b2 = V_SET1(rq[2].q.bias);
        b3 = V_SET1(rq[3].q.bias);
        for (y = 0; y < a->out_h; y++) {
            const int16_t *row = plane + (size_t)y * pw;
            for (x = 0; x < n; x += TM_RT_VX) {
                int xs = x + TM_RT_VX > n ? n - TM_RT_VX : x; /* overlap, no tail */
                const int16_t *r0 = row + xs, *r1 = r0 + pw, *r2 = r1 + pw;
                tm_v a0l = b0, a0h = b0, a1l = b1, a1h = b1, a2l = b2, a2h = b2, a3l = b3, a3h = b3;
                size_t o = (size_t)y * (size_t)n + (size_t)xs;
#define TM_RT_C1_PAIR(pu, pv, j)                                                  \
    do {                                                                          \
        tm_v u = V_LOAD(pu), v = V_LOAD(pv), lo = V_UNPLO(u, v), hi = V_UNPHI(u, v); \
        const tm_v *w = wp + (j) * TM_RT_NB;                                      \
        a0l = V_ADD(a0l, V_MADD(lo, w[0]));                                       \
        a0h = V_ADD(a0h, V_MADD(hi, w[0]));                                       \
        a1l = V_ADD(a1l, V_MADD(lo, w[1]));                                       \
        a1h = V_ADD(a1h, V_MADD(hi, w[1]));                                       \
        a2l = V_ADD(a2l, V_MADD(lo, w[2]));                                       \
        a2h = V_ADD(a2h, V_MADD(hi, w[2]));                                       \
        a3l = V_ADD(a3l, V_MADD(lo, w[3]));                                       \
        a3h = V_ADD(a3h, V_MADD(hi, w[3]));                                       \
        TM_RT_KEEP(a0l);                                                          \
        TM_RT_KEEP(a0h);                                                          \
        TM_RT_KEEP(a1l);                                                          \
        TM_RT_KEEP(a1h);                                                          \
        TM_RT_KEEP(a2l);                                                          \
        TM_RT_KEEP(a2h);                                                          \
        TM_RT_KEEP(a3l);                                                          \
        TM_RT_KEEP(a3h);                                                          \
    } while (0)
                TM_RT_C1_PAIR(r0, r0 + 1, 0);
                TM_RT_C1_PAIR(r0 + 2, r1, 1);
                TM_RT_C1_PAIR(r1 + 1, r1 + 2, 2);
                TM_RT_C1_PAIR(r2, r2 + 1, 3);
                TM_RT_C1_PAIR(r2 + 2, r2 + 2, 4); /* its partner's weight is 0 */
#undef TM_RT_C1_PAIR
#if defined(__AVX2__)
                if (fast4) {
                    tm_rt_store2_fast(a0l, a0h, a1l, a1h, &rq[0], &rq[1], amin8, amax8, out[0] + o, out[1] + o);
                    tm_rt_store2_fast(a2l, a2h, a3l, a3h, &rq[2], &rq[3], amin8, amax8, out[2] + o, out[3] + o);
                    continue;
                }
#endif
                tm_rt_store(a0l, a0h, &rq[0], out[0] + o, TM_RT_VX);
                if (nvalid > 1)
                    tm_rt_store(a1l, a1h, &rq[1], out[1] + o, TM_RT_VX);
                if (nvalid > 2)
                    tm_rt_store(a2l, a2h, &rq[2], out[2] + o, TM_RT_VX);
                if (nvalid > 3)
                    tm_rt_store(a3l, a3h, &rq[3], out[3] + o, TM_RT_VX);
            }
        }
    }
}

#define TM_RT_DRV_CONV tm_rt_conv_x86_int16
tm_rt_status tm_rt_conv_x86_int16(const tm_rt_conv_args *a);
#define TM_RT_DRV_WEIGHT tm_v
#include "tm_rt_simd_drivers.h"

#if defined(__AVX2__)
/* 4-bit pointwise conv on bytes: u = x + 128 (0..255) as maddubs' unsigned
 * operand against weight pairs (-8..7): a pair is at most 2 * 255 * 8 and
 * eight pairs 32,640, so int16 sums of up to 16 input channels are exact;
 * then sum w (x - zp) = sum w u - (128 + zp) sum w, folded into the bias.
 * The int16 plan's tile and weight areas hold the byte tile (pairs of
 * input channels interleaved per position) and the broadcast weight pairs. */
static int tm_rt_pw4_ok(const tm_rt_conv_args *a, const tm_rt_plan *p)
{
    size_t np = (size_t)(a->in_c + 1) / 2, n = (size_t)a->in_h * (size_t)a->in_w;
    return a->bits == 4 && a->kh == 1 && a->kw == 1 && a->stride == 1 && a->pad_top == 0 &&
           a->pad_left == 0 && a->out_h == a->in_h && a->out_w == a->in_w && n >= 16 &&
           np * 2 * n <= p->toff_off && np * 4 * sizeof(__m256i) + TM_RT_ALIGN <= p->total - p->w_off;
}

/* The first m (1..8) of p's eight weight pairs, each broadcast to a whole
 * vector, to w[0], w[4], ... (a shuffle each from both halves' copy of p). */
TM_RT_INLINE void tm_rt_pw4_bcast(__m128i p, int m, __m256i *w)
{
    const __m256i b = _mm256_broadcastsi128_si256(p);
#define TM_RT_PW4_B(k) (w[(k) * 4] = _mm256_shuffle_epi8(b, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (k)))))
    if (m == 8) {
        TM_RT_PW4_B(0);
        TM_RT_PW4_B(1);
        TM_RT_PW4_B(2);
        TM_RT_PW4_B(3);
        TM_RT_PW4_B(4);
        TM_RT_PW4_B(5);
        TM_RT_PW4_B(6);
        TM_RT_PW4_B(7);
        return;
    }
    TM_RT_PW4_B(0);
    if (m > 1)
        TM_RT_PW4_B(1);
    if (m > 2)
        TM_RT_PW4_B(2);
    if (m > 3)
        TM_RT_PW4_B(3);
    if (m > 4)
        TM_RT_PW4_B(4);
    if (m > 5)
        TM_RT_PW4_B(5);
    if (m > 6)
        TM_RT_PW4_B(6);
#undef TM_RT_PW4_B
}

/* One block of four channels over every position; fast: all four take
 * tm_rt_rq_fast (a constant where inlined), stored two channels at a time. */
TM_RT_INLINE void tm_rt_pw4_run(const uint8_t *tile, const __m256i *wv, const __m256i bias[4],
                                const tm_rt_rqv rq[4], int8_t *const out[4], int n, int np, int nvalid,
                                int fast)
{
    const __m256i amin8 = _mm256_set1_epi8((char)rq[0].q.amin), amax8 = _mm256_set1_epi8((char)rq[0].q.amax);
    int x;
    for (x = 0; x < n; x += 16) {
        int xs = x + 16 > n ? n - 16 : x;
        const uint8_t *t = tile + 2 * (size_t)xs;
        __m256i s0, s1, s2, s3, l0, h0, l1, h1, l2, h2, l3, h3, X, sg;
        int j0, cnt;
        /* adds, not add: the sums never saturate (above), and gcc does
         * not reassociate a saturating chain into a tree that spills;
         * eight pairs unrolled, with constant offsets from tj and wj */
#define TM_RT_PW4_PAIR(jj)                                                        \
    do {                                                                          \
        const __m256i *w = wj + (jj) * 4;                                         \
        X = V_LOAD(tj + (size_t)(jj) * 2 * (size_t)n);                            \
        s0 = _mm256_adds_epi16(s0, _mm256_maddubs_epi16(X, w[0]));                \
        s1 = _mm256_adds_epi16(s1, _mm256_maddubs_epi16(X, w[1]));                \
        s2 = _mm256_adds_epi16(s2, _mm256_maddubs_epi16(X, w[2]));                \
        s3 = _mm256_adds_epi16(s3, _mm256_maddubs_epi16(X, w[3]));                \
    } while (0)
#define TM_RT_PW4_SUMS(j0, cnt)                                                   \
    do {                                                                          \
        const uint8_t *tj = t + (size_t)(j0) * 2 * (size_t)n;                     \
        const __m256i *wj = wv + (size_t)(j0) * 4;                                \
        int jj;                                                                   \
        X = V_LOAD(tj);                                                           \
        s0 = _mm256_maddubs_epi16(X, wj[0]);                                      \
        s1 = _mm256_maddubs_epi16(X, wj[1]);                                      \
        s2 = _mm256_maddubs_epi16(X, wj[2]);                                      \
        s3 = _mm256_maddubs_epi16(X, wj[3]);                                      \
        if ((cnt) == 8) {                                                         \
            TM_RT_PW4_PAIR(1);                                                    \
            TM_RT_PW4_PAIR(2);                                                    \
            TM_RT_PW4_PAIR(3);                                                    \
            TM_RT_PW4_PAIR(4);                                                    \
            TM_RT_PW4_PAIR(5);                                                    \
            TM_RT_PW4_PAIR(6);                                                    \
            TM_RT_PW4_PAIR(7);                                                    \
        } else {                                                                  \
            for (jj = 1; jj < (cnt); jj++)                                        \
                TM_RT_PW4_PAIR(jj);                                               \
        }                                                                         \
    } while (0)
        /* int16 to int32 in tm_rt_store's lane order (0-3 | 8-11, 4-7 | 12-15) */
#define TM_RT_PW4_WIDEN(s, l, h, b0, b1)                                          \
    do {                                                                          \
        sg = _mm256_srai_epi16(s, 15);                                            \
        l = _mm256_add_epi32(b0, _mm256_unpacklo_epi16(s, sg));                   \
        h = _mm256_add_epi32(b1, _mm256_unpackhi_epi16(s, sg));                   \
    } while (0)
        cnt = np < 8 ? np : 8;
        TM_RT_PW4_SUMS(0, cnt);
        TM_RT_PW4_WIDEN(s0, l0, h0, bias[0], bias[0]);
        TM_RT_PW4_WIDEN(s1, l1, h1, bias[1], bias[1]);
        TM_RT_PW4_WIDEN(s2, l2, h2, bias[2], bias[2]);
        TM_RT_PW4_WIDEN(s3, l3, h3, bias[3], bias[3]);
        for (j0 = 8; j0 < np; j0 += 8) {
            cnt = np - j0 < 8 ? np - j0 : 8;
            TM_RT_PW4_SUMS(j0, cnt);
            TM_RT_PW4_WIDEN(s0, l0, h0, l0, h0);
            TM_RT_PW4_WIDEN(s1, l1, h1, l1, h1);
            TM_RT_PW4_WIDEN(s2, l2, h2, l2, h2);
            TM_RT_PW4_WIDEN(s3, l3, h3, l3, h3);
        }
#undef TM_RT_PW4_PAIR
#undef TM_RT_PW4_SUMS
#undef TM_RT_PW4_WIDEN
        if (fast) {
            tm_rt_store2_fast(l0, h0, l1, h1, &rq[0], &rq[1], amin8, amax8, out[0] + xs, out[1] + xs);
            tm_rt_store2_fast(l2, h2, l3, h3, &rq[2], &rq[3], amin8, amax8, out[2] + xs, out[3] + xs);
            continue;
        }
        tm_rt_store(l0, h0, &rq[0], out[0] + xs, 16);
        if (nvalid > 1)
            tm_rt_store(l1, h1, &rq[1], out[1] + xs, 16);
        if (nvalid > 2)
            tm_rt_store(l2, h2, &rq[2], out[2] + xs, 16);
        if (nvalid > 3)
            tm_rt_store(l3, h3, &rq[3], out[3] + xs, 16);
    }
}

static void tm_rt_pw4(const tm_rt_conv_args *a, const tm_rt_plan *p)
{
    int8_t *base = tm_rt_aligned(a->scratch);
    const int n = a->in_h * a->in_w, np = (a->in_c + 1) / 2;
    uint8_t *tile = (uint8_t *)base + p->tile_off;
    __m256i *wv = (__m256i *)(void *)(base + p->w_off);
    const __m128i flip = _mm_set1_epi8((char)0x80);
    size_t rb = tm_rt_weight_row_bytes((size_t)a->in_c, 4), wbytes = (size_t)a->out_c * rb;
    int j, x, cb, c;
    for (j = 0; j < np; j++) {
        const int8_t *r0 = a->input + (size_t)(2 * j) * (size_t)n;
        const int8_t *r1 = 2 * j + 1 < a->in_c ? r0 + n : r0; /* meets weight 0 */
        uint8_t *d = tile + (size_t)j * 2 * (size_t)n;
        for (x = 0; x < n; x += 16) {
            int xs = x + 16 > n ? n - 16 : x;
            __m128i u = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(r0 + xs)), flip);
            __m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(r1 + xs)), flip);
            _mm_storeu_si128((__m128i *)(void *)(d + 2 * xs), _mm_unpacklo_epi8(u, v));
            _mm_storeu_si128((__m128i *)(void *)(d + 2 * xs + 16), _mm_unpackhi_epi8(u, v));
        }
    }
    for (cb = 0; cb < a->out_c; cb += 4) {
        tm_rt_rqv rq[4];
        __m256i bias[4];
        int8_t *out[4];
        int nvalid = a->out_c - cb < 4 ? a->out_c - cb : 4;
        for (c = 0; c < 4; c++) {
            int cc = c < nvalid ? cb + c : cb;
            uint32_t sw = 0;
            const uint8_t *wr = (const uint8_t *)a->weights + (size_t)cc * rb;
            for (j = 0; j < np; j += 16) {
                /* 16 packed bytes to 16 (w0, w1) int8 pairs: a nibble n is
                 * (n ^ 8) - 8; bytes past the row and an odd row's pad
                 * nibble are cleared to 0, which is weight 0 */
                const __m128i m4 = _mm_set1_epi8(0x0F), e8 = _mm_set1_epi8(8),
                              iota = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
                int m = np - j < 16 ? np - j : 16;
                size_t at = (size_t)cc * rb + (size_t)j;
                __m128i v, lu, hu, sad;
                if (at + 16 <= wbytes) {
                    v = _mm_loadu_si128((const __m128i *)(const void *)((const uint8_t *)a->weights + at));
                } else {
                    uint8_t raw[16];
                    memset(raw, 0, sizeof raw);
                    memcpy(raw, wr + j, (size_t)m);
                    v = _mm_loadu_si128((const __m128i *)(const void *)raw);
                }
                v = _mm_and_si128(v, _mm_cmpgt_epi8(_mm_set1_epi8((char)m), iota));
                if (j + m == np && (a->in_c & 1))
                    v = _mm_andnot_si128(_mm_and_si128(_mm_cmpeq_epi8(iota, _mm_set1_epi8((char)(m - 1))),
                                                       _mm_set1_epi8((char)0xF0)),
                                         v);
                lu = _mm_xor_si128(_mm_and_si128(v, m4), e8); /* w + 8, 0..15 */
                hu = _mm_xor_si128(_mm_and_si128(_mm_srli_epi16(v, 4), m4), e8);
                sad = _mm_add_epi64(_mm_sad_epu8(lu, _mm_setzero_si128()),
                                    _mm_sad_epu8(hu, _mm_setzero_si128()));
                sw += (uint32_t)_mm_cvtsi128_si32(_mm_add_epi64(sad, _mm_unpackhi_epi64(sad, sad))) - 256u;
                lu = _mm_sub_epi8(lu, e8);
                hu = _mm_sub_epi8(hu, e8);
                tm_rt_pw4_bcast(_mm_unpacklo_epi8(lu, hu), m < 8 ? m : 8, wv + (size_t)j * 4 + c);
                if (m > 8)
                    tm_rt_pw4_bcast(_mm_unpackhi_epi8(lu, hu), m - 8, wv + (size_t)(j + 8) * 4 + c);
            }
            tm_rt_rqv_init_fast(&rq[c], a, cc);
            bias[c] = _mm256_set1_epi32(
                tm_rt_wrap32((uint32_t)rq[c].q.bias - (uint32_t)(128 + a->in_zp) * sw));
            out[c] = a->output + (size_t)cc * (size_t)n;
        }
        if (nvalid == 4 && rq[0].fast && rq[1].fast && rq[2].fast && rq[3].fast) {
            /* the separable layers' 16 and 32 input channels as constants */
            if (np == 8)
                tm_rt_pw4_run(tile, wv, bias, rq, out, n, 8, 4, 1);
            else if (np == 16)
                tm_rt_pw4_run(tile, wv, bias, rq, out, n, 16, 4, 1);
            else
                tm_rt_pw4_run(tile, wv, bias, rq, out, n, np, 4, 1);
        } else {
            for (c = 0; c < 4; c++) /* tm_rt_store's constants too */
                tm_rt_rqv_init(&rq[c], a, c < nvalid ? cb + c : cb);
            tm_rt_pw4_run(tile, wv, bias, rq, out, n, np, nvalid, 0);
        }
    }
}

#endif /* __AVX2__ */

tm_rt_status tm_rt_conv_x86(const tm_rt_conv_args *a)
{
    tm_rt_plan p;
    if (a->scratch && (a->in_c == 1 || a->bits == 4)) {
        tm_rt_conv_plan(a, &p);
        if (tm_rt_conv1_ok(a, &p)) {
            tm_rt_conv1(a, &p);
            return TM_RT_OK;
        }
#if defined(__AVX2__)
        if (a->bits == 4 && tm_rt_pw4_ok(a, &p)) {
            tm_rt_pw4(a, &p);
            return TM_RT_OK;
        }
#endif
    }
    return tm_rt_conv_x86_int16(a);
}

#endif /* TM_RT_X86 */
