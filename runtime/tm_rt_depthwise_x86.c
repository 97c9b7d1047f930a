/* Depthwise conv on x86-64 (SSE2, SSE4.1 or AVX2): one channel's padded
 * int16 plane at a time, two taps per madd_epi16; 3x3 stride 1 has its own
 * row code. */
#include "tm_rt_simd.h"

#if defined(TM_RT_X86)

static void tm_rt_pack_dw(const tm_rt_conv_args *a, size_t k, size_t rb, int c, int32_t *wp)
{
    size_t np = (k + 1) / 2, j;
    for (j = 0; j < np; j++)
        wp[j] = tm_rt_pair(tm_rt_w(a->weights, a->bits, rb, c, 2 * j),
                           2 * j + 1 < k ? tm_rt_w(a->weights, a->bits, rb, c, 2 * j + 1) : 0);
}

/* One depthwise output row: two vectors at a time while they fit. */
static void tm_rt_dw_row(const int16_t *base, const int32_t *toff, size_t k, const int32_t *wp,
                         const tm_rt_rqv *rq, int8_t *out, int n)
{
    size_t np = (k + 1) / 2, j;
    int x = 0;
    for (; x + 2 * TM_RT_VX <= n; x += 2 * TM_RT_VX) {
        tm_v al = V_SET1(rq->q.bias), ah = al, bl = al, bh = al;
        for (j = 0; j < np; j++) {
            const int16_t *p0 = base + toff[2 * j] + x, *p1 = base + toff[2 * j + 1] + x;
            tm_v ww = V_SET1(wp[j]);
            tm_v u = V_LOAD(p0), v = V_LOAD(p1), s = V_LOAD(p0 + TM_RT_VX),
                 t = V_LOAD(p1 + TM_RT_VX);
            al = V_ADD(al, V_MADD(V_UNPLO(u, v), ww));
            ah = V_ADD(ah, V_MADD(V_UNPHI(u, v), ww));
            bl = V_ADD(bl, V_MADD(V_UNPLO(s, t), ww));
            bh = V_ADD(bh, V_MADD(V_UNPHI(s, t), ww));
        }
        tm_rt_store(al, ah, rq, out + x, n - x);
        tm_rt_store(bl, bh, rq, out + x + TM_RT_VX, n - x - TM_RT_VX);
    }
    for (; x < n; x += TM_RT_VX) {
        int xs = x + TM_RT_VX > n && n >= TM_RT_VX ? n - TM_RT_VX : x; /* overlap, no tail */
        tm_v al = V_SET1(rq->q.bias), ah = al;
        for (j = 0; j < np; j++) {
            tm_v u = V_LOAD(base + toff[2 * j] + xs), v = V_LOAD(base + toff[2 * j + 1] + xs);
            tm_v ww = V_SET1(wp[j]);
            al = V_ADD(al, V_MADD(V_UNPLO(u, v), ww));
            ah = V_ADD(ah, V_MADD(V_UNPHI(u, v), ww));
        }
        tm_rt_store(al, ah, rq, out + xs, n - xs);
    }
}

/* The nine taps of one vector of positions from r0 on (rows at pw), bias b
 * first: lo and hi halves as tm_rt_store takes them. */
TM_RT_INLINE void tm_rt_dw3_sums16(const int16_t *r0, int pw, tm_v w0, tm_v w1, tm_v w2, tm_v w3, tm_v w4,
                                 tm_v b, tm_v *lo, tm_v *hi)
{
    const int16_t *r1 = r0 + pw, *r2 = r1 + pw;
    tm_v u = V_LOAD(r0), v = V_LOAD(r0 + 1);
    tm_v al = V_ADD(b, V_MADD(V_UNPLO(u, v), w0)), ah = V_ADD(b, V_MADD(V_UNPHI(u, v), w0));
    u = V_LOAD(r0 + 2);
    v = V_LOAD(r1);
    al = V_ADD(al, V_MADD(V_UNPLO(u, v), w1));
    ah = V_ADD(ah, V_MADD(V_UNPHI(u, v), w1));
    u = V_LOAD(r1 + 1);
    v = V_LOAD(r1 + 2);
    al = V_ADD(al, V_MADD(V_UNPLO(u, v), w2));
    ah = V_ADD(ah, V_MADD(V_UNPHI(u, v), w2));
    u = V_LOAD(r2);
    v = V_LOAD(r2 + 1);
    al = V_ADD(al, V_MADD(V_UNPLO(u, v), w3));
    ah = V_ADD(ah, V_MADD(V_UNPHI(u, v), w3));
    u = V_LOAD(r2 + 2); /* its partner's weight is 0: pair it with itself */
    *lo = V_ADD(al, V_MADD(V_UNPLO(u, u), w4));
    *hi = V_ADD(ah, V_MADD(V_UNPHI(u, u), w4));
}

/* 3x3 stride 1 on the flat plane: the taps sit at fixed distances from
 * three row pointers, so offsets and weights stay in registers (the int8
 * stores would otherwise force them to be reloaded every vector). Pairs as
 * tm_rt_tap_offsets: (0,1) (2,pw) (pw+1,pw+2) (2pw,2pw+1) (2pw+2, weight 0).
 * n is a multiple of the vector width (the flat plane's nq). */
static void tm_rt_dw_row3(const int16_t *base, int pw, const int32_t *wp, const tm_rt_rqv *rq,
                          int8_t *out, int n)
{
    const tm_v w0 = V_SET1(wp[0]), w1 = V_SET1(wp[1]), w2 = V_SET1(wp[2]), w3 = V_SET1(wp[3]),
               w4 = V_SET1(wp[4]), b = V_SET1(rq->q.bias);
    const tm_rt_rqv q = *rq; /* a local copy: the int8 stores cannot alias it */
    int x;
    for (x = 0; x + TM_RT_VX <= n; x += TM_RT_VX) {
        tm_v al, ah;
        tm_rt_dw3_sums16(base + x, pw, w0, w1, w2, w3, w4, b, &al, &ah);
        tm_rt_store(al, ah, &q, out + x, TM_RT_VX);
    }
}

#if defined(__AVX2__)
/* 3x3 stride 1 with 4-bit weights on bytes: u = x + 128 (0..255) against
 * weight pairs (-8..7) in maddubs, at most 2 x 255 x 8 per pair and five
 * pairs 20,400, so the int16 sums are exact; sum w (x - zp) = sum w u -
 * (128 + zp) sum w, folded into the bias (the border bytes are zp + 128, so
 * padding taps cancel). 32 outputs per step, half the int16 plane's work.
 * The pairs are tm_rt_dw_row3's; the plane lies in the int16 tile's area.
 * lo: positions 0-7 | 16-23, hi: 8-15 | 24-31; packs puts them back in order. */
TM_RT_INLINE void tm_rt_dw3_sums(const uint8_t *r0, int pw, __m256i w0, __m256i w1, __m256i w2,
                                 __m256i w3, __m256i w4, __m256i *lo, __m256i *hi)
{
    const uint8_t *r1 = r0 + pw, *r2 = r1 + pw;
    __m256i u = V_LOAD(r0), v = V_LOAD(r0 + 1);
    __m256i l = _mm256_maddubs_epi16(_mm256_unpacklo_epi8(u, v), w0);
    __m256i h = _mm256_maddubs_epi16(_mm256_unpackhi_epi8(u, v), w0);
#define TM_RT_DW3_PAIR(pu, pv, w)                                                                  \
    do {                                                                                           \
        u = V_LOAD(pu);                                                                            \
        v = V_LOAD(pv);                                                                            \
        l = _mm256_add_epi16(l, _mm256_maddubs_epi16(_mm256_unpacklo_epi8(u, v), w));              \
        h = _mm256_add_epi16(h, _mm256_maddubs_epi16(_mm256_unpackhi_epi8(u, v), w));              \
    } while (0)
    TM_RT_DW3_PAIR(r0 + 2, r1, w1);
    TM_RT_DW3_PAIR(r1 + 1, r1 + 2, w2);
    TM_RT_DW3_PAIR(r2, r2 + 1, w3);
    TM_RT_DW3_PAIR(r2 + 2, r2 + 2, w4); /* its partner's weight is 0 */
#undef TM_RT_DW3_PAIR
    *lo = l;
    *hi = h;
}

/* The one-shift requantisation (tm_rt_rq_fast, docs/quantization.md) of 8
 * lanes, less K; with the sign term when no clamp at the zero point hides
 * it: dn = d - 2^31 where x < 0, picked by each 64-bit lane's top bit (the
 * even lanes' signs moved up). */
TM_RT_INLINE __m256i tm_rt_dw3_rq8(__m256i x, __m256i mult, __m256i d, __m256i dn, __m128i rs_even,
                                   __m128i rs_odd, int sign)
{
    __m256i xo = _mm256_srli_epi64(x, 32), d_even = d, d_odd = d;
    if (sign) {
        d_even =
            _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(d), _mm256_castsi256_pd(dn),
                                                 _mm256_castsi256_pd(_mm256_slli_epi64(x, 32))));
        d_odd = _mm256_castpd_si256(_mm256_blendv_pd(
            _mm256_castsi256_pd(d), _mm256_castsi256_pd(dn), _mm256_castsi256_pd(x)));
    }
    return _mm256_blend_epi32(
        _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, mult), d_even), rs_even),
        _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epi32(xo, mult), d_odd), rs_odd), 0xAA);
}

/* One channel's requantisation constants for tm_rt_dw3_rq8; kz = K - zp
 * puts the zero point in the subtraction of K (the result + zp fits int32,
 * and saturating to int16 then int8 gives what adding zp to the int16 did). */
typedef struct tm_rt_dw3_q {
    __m256i b, mult, d, dn, kz, amin, amax;
    __m128i rs_even, rs_odd;
} tm_rt_dw3_q;

enum { TM_RT_DW3_ANY, TM_RT_DW3_FAST, TM_RT_DW3_SIGNED_CLAMP, TM_RT_DW3_SIGNED };

/* k for channel q with accumulator bias b (tm_rt_rqv_init's fast
 * constants, K = 2^(31 - rs) + 1), and which form of tm_rt_dw3_rq8 it
 * takes: the one-shift rounding needs no left shift, a right shift and
 * mult >= 0; the sign term can go with a clamp at the zero point, the
 * clamp with -128..127. */
static int tm_rt_dw3_q_init(tm_rt_dw3_q *k, const tm_rt_rq *q, __m256i b)
{
    uint32_t kk;
    uint64_t d, dn;
    long long dl, dnl;
    if (!(q->ls == 0 && q->rs > 0 && q->mult >= 0))
        return TM_RT_DW3_ANY;
    kk = ((uint32_t)1 << (31 - q->rs)) + 1u;
    d = ((uint64_t)1 << 30) + ((uint64_t)1 << (30 + q->rs)) + ((uint64_t)kk << (31 + q->rs));
    dn = d - ((uint64_t)1 << 31);
    memcpy(&dl, &d, sizeof dl);
    memcpy(&dnl, &dn, sizeof dnl);
    k->b = b;
    k->mult = _mm256_set1_epi32(q->mult);
    k->d = _mm256_set1_epi64x(dl);
    k->dn = _mm256_set1_epi64x(dnl);
    k->kz = _mm256_set1_epi32(tm_rt_wrap32(kk - (uint32_t)q->zp));
    k->amin = _mm256_set1_epi8((char)q->amin);
    k->amax = _mm256_set1_epi8((char)q->amax);
    k->rs_even = _mm_cvtsi32_si128(31 + q->rs);
    k->rs_odd = _mm_cvtsi32_si128(q->rs - 1);
    if (q->amin >= q->zp)
        return TM_RT_DW3_FAST;
    return q->amin > -128 || q->amax < 127 ? TM_RT_DW3_SIGNED_CLAMP : TM_RT_DW3_SIGNED;
}

/* tm_rt_dw_row3 with tm_rt_dw3_rq8's requantisation, 16 outputs a step. */
TM_RT_INLINE void tm_rt_dw_row3_q(const int16_t *base, int pw, const int32_t *wp,
                                  const tm_rt_dw3_q *k, int8_t *out, int n, int sign, int clamp)
{
    const __m256i w0 = V_SET1(wp[0]), w1 = V_SET1(wp[1]), w2 = V_SET1(wp[2]), w3 = V_SET1(wp[3]),
                  w4 = V_SET1(wp[4]);
    const __m256i b = k->b, mult = k->mult, d = k->d, dn = k->dn, kz = k->kz;
    const __m128i rse = k->rs_even, rso = k->rs_odd, amin = _mm256_castsi256_si128(k->amin),
                  amax = _mm256_castsi256_si128(k->amax);
    int x;
    for (x = 0; x + 16 <= n; x += 16) {
        tm_v al, ah, p;
        __m128i r;
        tm_rt_dw3_sums16(base + x, pw, w0, w1, w2, w3, w4, b, &al, &ah);
        /* al: positions 0-3 | 8-11, ah: 4-7 | 12-15 */
        p = _mm256_packs_epi32(
            _mm256_sub_epi32(tm_rt_dw3_rq8(al, mult, d, dn, rse, rso, sign), kz),
            _mm256_sub_epi32(tm_rt_dw3_rq8(ah, mult, d, dn, rse, rso, sign), kz));
        p = _mm256_packs_epi16(p, p);
        r = _mm256_castsi256_si128(_mm256_permute4x64_epi64(p, 0x08));
        if (clamp)
            r = _mm_min_epi8(_mm_max_epi8(r, amin), amax);
        _mm_storeu_si128((__m128i *)(void *)(out + x), r);
    }
}

/* Channel c through tm_rt_dw_row3_q when its requantisation has the
 * one-shift form (0 otherwise: nothing done). */
static int tm_rt_dw_row3_one_shift(const int16_t *base, int pw, const int32_t *wp,
                                   const tm_rt_conv_args *a, int c, int8_t *out, int n)
{
    tm_rt_rq q;
    tm_rt_dw3_q k;
    int path;
    tm_rt_rq_init(&q, a, c);
    path = tm_rt_dw3_q_init(&k, &q, _mm256_set1_epi32(q.bias));
    if (path == TM_RT_DW3_FAST)
        tm_rt_dw_row3_q(base, pw, wp, &k, out, n, 0, 1);
    else if (path == TM_RT_DW3_SIGNED_CLAMP)
        tm_rt_dw_row3_q(base, pw, wp, &k, out, n, 1, 1);
    else if (path == TM_RT_DW3_SIGNED)
        tm_rt_dw_row3_q(base, pw, wp, &k, out, n, 1, 0);
    return path != TM_RT_DW3_ANY;
}

/* One channel's n outputs (a multiple of 32), plane rows at pw, into out;
 * sign and clamp are constants where it is inlined. */
TM_RT_INLINE void tm_rt_dw3_run(const uint8_t *base, int pw, const __m128i wq, const tm_rt_dw3_q *k,
                                int8_t *out, int n, int sign, int clamp)
{
    const __m256i w0 = _mm256_broadcastw_epi16(wq),
                  w1 = _mm256_broadcastw_epi16(_mm_srli_si128(wq, 2)),
                  w2 = _mm256_broadcastw_epi16(_mm_srli_si128(wq, 4)),
                  w3 = _mm256_broadcastw_epi16(_mm_srli_si128(wq, 6)),
                  w4 = _mm256_broadcastw_epi16(_mm_srli_si128(wq, 8));
    const __m256i b = k->b, mult = k->mult, d = k->d, dn = k->dn, kz = k->kz, amin = k->amin,
                  amax = k->amax;
    const __m128i rse = k->rs_even, rso = k->rs_odd;
    int x;
    for (x = 0; x < n; x += 32) {
        __m256i lo, hi, sl, sh, r;
        tm_rt_dw3_sums(base + x, pw, w0, w1, w2, w3, w4, &lo, &hi);
        sl = _mm256_srai_epi16(lo, 15);
        sh = _mm256_srai_epi16(hi, 15);
#define TM_RT_DW3_RQ(v)                                                                            \
    _mm256_sub_epi32(tm_rt_dw3_rq8(_mm256_add_epi32(v, b), mult, d, dn, rse, rso, sign), kz)
        lo = _mm256_packs_epi32(TM_RT_DW3_RQ(_mm256_unpacklo_epi16(lo, sl)),
                                TM_RT_DW3_RQ(_mm256_unpackhi_epi16(lo, sl)));
        hi = _mm256_packs_epi32(TM_RT_DW3_RQ(_mm256_unpacklo_epi16(hi, sh)),
                                TM_RT_DW3_RQ(_mm256_unpackhi_epi16(hi, sh)));
#undef TM_RT_DW3_RQ
        r = _mm256_packs_epi16(lo, hi);
        if (clamp)
            r = _mm256_min_epi8(_mm256_max_epi8(r, amin), amax);
        _mm256_storeu_si256((__m256i *)(void *)(out + x), r);
    }
}

/* Any other channel: tm_rt_rq_16's every-case requantisation. */
static void tm_rt_dw3_any(const uint8_t *base, int pw, const __m128i wq, __m256i b,
                          const tm_rt_rqv *rq, int8_t *out, int n)
{
    const __m256i w0 = _mm256_broadcastw_epi16(wq),
                  w1 = _mm256_broadcastw_epi16(_mm_srli_si128(wq, 2)),
                  w2 = _mm256_broadcastw_epi16(_mm_srli_si128(wq, 4)),
                  w3 = _mm256_broadcastw_epi16(_mm_srli_si128(wq, 6)),
                  w4 = _mm256_broadcastw_epi16(_mm_srli_si128(wq, 8));
    int x;
    for (x = 0; x < n; x += 32) {
        __m256i lo, hi, sl, sh;
        tm_rt_dw3_sums(base + x, pw, w0, w1, w2, w3, w4, &lo, &hi);
        sl = _mm256_srai_epi16(lo, 15);
        sh = _mm256_srai_epi16(hi, 15);
        lo = tm_rt_rq_16(_mm256_add_epi32(_mm256_unpacklo_epi16(lo, sl), b),
                         _mm256_add_epi32(_mm256_unpackhi_epi16(lo, sl), b), rq);
        hi = tm_rt_rq_16(_mm256_add_epi32(_mm256_unpacklo_epi16(hi, sh), b),
                         _mm256_add_epi32(_mm256_unpackhi_epi16(hi, sh), b), rq);
        _mm256_storeu_si256((__m256i *)(void *)(out + x), _mm256_packs_epi16(lo, hi));
    }
}

/* Channel c's nine 4-bit weights (5 bytes; the pad nibble dropped) as the
 * five maddubs pairs in int16 lanes 0-4, and their sum. */
TM_RT_INLINE __m128i tm_rt_dw3_weights(const uint8_t *w, int32_t *sum)
{
    const __m128i m = _mm_set1_epi8(15), e = _mm_set1_epi8(8);
    uint32_t w03;
    __m128i v, nib;
    memcpy(&w03, w, 4);
    v = _mm_cvtsi64_si128((long long)(w03 | (uint64_t)(w[4] & 15) << 32));
    nib = _mm_unpacklo_epi8(_mm_and_si128(v, m), _mm_and_si128(_mm_srli_epi16(v, 4), m));
    nib = _mm_xor_si128(nib, e); /* (n ^ 8) - 8 sign-extends, and 0 stays 0 */
    v = _mm_sad_epu8(nib, _mm_setzero_si128());
    *sum = _mm_cvtsi128_si32(v) + _mm_extract_epi16(v, 4) - 128;
    return _mm_sub_epi8(nib, e);
}

/* The first n bytes of src as u = x + 128; tails overlap the last whole step. */
static void tm_rt_flip_row(uint8_t *dst, const int8_t *src, int n)
{
    const __m128i f = _mm_set1_epi8((char)0x80);
    int i = 0;
    if (n >= 16) {
        for (; i + 16 <= n; i += 16)
            _mm_storeu_si128((__m128i *)(void *)(dst + i),
                             _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(src + i)), f));
        if (i < n)
            _mm_storeu_si128(
                (__m128i *)(void *)(dst + n - 16),
                _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(src + n - 16)), f));
    } else if (n >= 8) {
        _mm_storel_epi64((__m128i *)(void *)dst,
                         _mm_xor_si128(_mm_loadl_epi64((const __m128i *)(const void *)src), f));
        _mm_storel_epi64((__m128i *)(void *)(dst + n - 8),
                         _mm_xor_si128(_mm_loadl_epi64((const __m128i *)(const void *)(src + n - 8)), f));
    } else {
        for (; i < n; i++)
            dst[i] = (uint8_t)(src[i] ^ 0x80);
    }
}

/* One channel's out_h rows of out_w bytes, at off in the output (out_end
 * bytes), from the staging rows at pw (nq bytes): in whole steps (16 bytes
 * for rows that fit them) where both have them, the next rows and channels
 * rewriting the excess. */
TM_RT_INLINE void tm_rt_dw_rows_out(int8_t *output, size_t off, size_t out_end, const int8_t *t,
                                    int pw, int nq, int out_h, int out_w)
{
    const int full = out_w <= 16 ? 16 : (out_w + 31) & ~31;
    int y, j;
    if ((out_h - 1) * pw + full <= nq &&
        off + (size_t)(out_h - 1) * (size_t)out_w + (size_t)full <= out_end) {
        if (out_w <= 16)
            for (y = 0; y < out_h; y++, off += (size_t)out_w, t += pw)
                _mm_storeu_si128((__m128i *)(void *)(output + off),
                                 _mm_loadu_si128((const __m128i *)(const void *)t));
        else
            for (y = 0; y < out_h; y++, off += (size_t)out_w, t += pw) {
                j = 0;
                do {
                    _mm256_storeu_si256((__m256i *)(void *)(output + off + j), V_LOAD(t + j));
                    j += 32;
                } while (j < out_w);
            }
    } else {
        for (y = 0; y < out_h; y++, off += (size_t)out_w, t += pw)
            tm_rt_copy_row(output + off, t, out_w);
    }
}

/* The 4-bit 3x3 stride-1 kernel, channel by channel. The args' fields are
 * copied to locals: the byte stores could alias them. */
static void tm_rt_dw3_u8(const tm_rt_conv_args *a, const tm_rt_plan *p, uint8_t *ub, int8_t *tmp)
{
    const int pw = p->pw, nq = (int)p->nq, in_w = a->in_w, out_w = a->out_w, out_h = a->out_h;
    const int n = in_w < pw - a->pad_left ? in_w : pw - a->pad_left;
    const int rows = a->in_h < p->hb - a->pad_top ? a->in_h : p->hb - a->pad_top;
    const int in_c = a->in_c, n32 = (n + 31) & ~31;
    const size_t plane = (size_t)a->in_h * (size_t)in_w, oplane = (size_t)out_h * (size_t)out_w;
    const size_t in_end = (size_t)in_c * plane, out_end = (size_t)in_c * oplane;
    const int8_t *const input = a->input;
    int8_t *const output = a->output;
    const uint8_t *const weights = (const uint8_t *)a->weights;
    const int32_t in_zp = a->in_zp;
    uint8_t *const row0 = ub + (size_t)a->pad_top * pw + a->pad_left;
    const __m256i flip = _mm256_set1_epi8((char)0x80),
                  border = _mm256_set1_epi8((char)(uint8_t)(in_zp + 128));
    int c, i, j;
    /* the border: zp + 128, the same for every channel */
    memset(ub, (int)(uint8_t)(in_zp + 128), p->plane);
    for (c = 0; c < in_c; c++) {
        tm_rt_rq q;
        tm_rt_dw3_q k;
        int32_t sw;
        int path;
        __m128i wq = tm_rt_dw3_weights(weights + (size_t)c * 5u, &sw); /* (9 + 1) / 2 bytes */
        __m256i b;
        size_t off = (size_t)c * plane;
        uint8_t *dst = row0;
        /* Whole 32-byte steps where the source has them (all but the last
         * channel): the excess lands in the gap or in later rows, which the
         * border store and those rows rewrite. */
        if (off + (size_t)(rows - 1) * (size_t)in_w + (size_t)n32 <= in_end)
            for (i = 0; i < rows; i++, off += (size_t)in_w, dst += pw) {
                j = 0;
                do {
                    _mm256_storeu_si256((__m256i *)(void *)(dst + j),
                                        _mm256_xor_si256(V_LOAD(input + off + j), flip));
                    j += 32;
                } while (j < n);
                _mm256_storeu_si256((__m256i *)(void *)(dst + n), border);
            }
        else
            for (i = 0; i < rows; i++, off += (size_t)in_w, dst += pw)
                tm_rt_flip_row(dst, input + off, n);
        tm_rt_rq_init(&q, a, c);
        b = _mm256_set1_epi32(
            tm_rt_wrap32((uint32_t)q.bias - (uint32_t)(128 + in_zp) * (uint32_t)sw));
        path = tm_rt_dw3_q_init(&k, &q, b);
        if (path == TM_RT_DW3_FAST)
            tm_rt_dw3_run(ub, pw, wq, &k, tmp, nq, 0, 1);
        else if (path == TM_RT_DW3_SIGNED_CLAMP)
            tm_rt_dw3_run(ub, pw, wq, &k, tmp, nq, 1, 1);
        else if (path == TM_RT_DW3_SIGNED)
            tm_rt_dw3_run(ub, pw, wq, &k, tmp, nq, 1, 0);
        else {
            tm_rt_rqv rq;
            tm_rt_rqv_init(&rq, a, c);
            tm_rt_dw3_any(ub, pw, wq, b, &rq, tmp, nq);
        }
        tm_rt_dw_rows_out(output, (size_t)c * oplane, out_end, tmp, pw, nq, out_h, out_w);
    }
}
#endif

tm_rt_status tm_rt_depthwise_x86(const tm_rt_conv_args *a)
{
    tm_rt_plan p, pq;
    int8_t *base, *tmp;
    int16_t *tile;
    int32_t *toff;
    int32_t *wts;
    size_t rb, plane;
    int c, i, y;
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    tm_rt_dw_plan(a, &pq);
    p = pq; /* a copy whose address does not escape: its fields stay in registers */
    base = tm_rt_aligned(a->scratch);
    tile = (int16_t *)(void *)(base + p.tile_off);
    toff = (int32_t *)(void *)(base + p.toff_off);
    wts = (int32_t *)(void *)(base + p.w_off);
    tmp = base + p.tmp_off;
    rb = tm_rt_weight_row_bytes(p.k, a->bits);
    plane = (size_t)a->in_h * (size_t)a->in_w;
#if defined(__AVX2__)
    /* nq: tm_rt_dw_plan rounds it to 32, which the byte rows need */
    if (p.s == 1 && a->bits == 4 && a->kh == 3 && a->kw == 3 && p.nq >= 32 && p.nq % 32 == 0) {
        tm_rt_dw3_u8(a, &p, (uint8_t *)tile, tmp);
        return TM_RT_OK;
    }
#endif
    tm_rt_tap_offsets(1, a->kh, a->kw, p.s, p.hb, p.pw, toff);
    if (p.s == 1)
        tm_rt_zero(tile, (int)p.plane); /* borders stay zero: every channel writes the same interior */
    for (c = 0; c < a->in_c; c++) {
        tm_rt_rqv rq;
        const int8_t *in = a->input + c * plane;
        int8_t *out = a->output + c * (size_t)a->out_h * a->out_w;
        tm_rt_pack_dw(a, p.k, rb, c, wts);
        if (p.s == 1) {
            int n = a->in_w < p.pw - a->pad_left ? a->in_w : p.pw - a->pad_left;
            for (i = 0; i < a->in_h && i + a->pad_top < p.hb; i++)
                tm_rt_widen(tile + (size_t)(i + a->pad_top) * p.pw + a->pad_left,
                            in + (size_t)i * a->in_w, n, a->in_zp);
            if (a->kh == 3 && a->kw == 3 && p.nq % TM_RT_VX == 0) {
#if defined(__AVX2__)
                if (!tm_rt_dw_row3_one_shift(tile, p.pw, wts, a, c, tmp, (int)p.nq))
#endif
                {
                    tm_rt_rqv_init(&rq, a, c);
                    tm_rt_dw_row3(tile, p.pw, wts, &rq, tmp, (int)p.nq);
                }
            } else {
                tm_rt_rqv_init(&rq, a, c);
                tm_rt_dw_row(tile, toff, p.k, wts, &rq, tmp, (int)p.nq);
            }
#if defined(__AVX2__)
            tm_rt_dw_rows_out(a->output, (size_t)(out - a->output),
                              (size_t)a->in_c * a->out_h * a->out_w, tmp, p.pw, (int)p.nq,
                              a->out_h, a->out_w);
#else
            for (y = 0; y < a->out_h; y++)
                tm_rt_copy_row(out + (size_t)y * a->out_w, tmp + (size_t)y * p.pw, a->out_w);
#endif
            continue;
        }
        tm_rt_rqv_init(&rq, a, c);
        for (i = 0; i < p.hb; i++) {
            int iy = i - a->pad_top;
            const int8_t *src = iy >= 0 && iy < a->in_h ? in + (size_t)iy * a->in_w : NULL;
            tm_rt_fill_row(tile + (size_t)i * p.s * p.pw, src, a->in_w, -a->pad_left, p.s, p.pw,
                           a->in_zp);
        }
        for (y = 0; y < a->out_h; y++)
            tm_rt_dw_row(tile + (size_t)y * p.s * p.s * p.pw, toff, p.k, wts, &rq,
                         out + (size_t)y * a->out_w, a->out_w);
    }
    return TM_RT_OK;
}

#endif /* TM_RT_X86 */
