/* Conv on AVX-512 VNNI: vpdpbusd adds four uint8 x int8 products into each
 * int32 lane, so one instruction does 64 multiply-accumulates of 16 output
 * positions. The tile holds channel quads as uint8 q + 128 (tm_rt_simd.h);
 * the accumulators start at bias - (in_zp + 128) x (sum of the channel's
 * weights), which makes them equal the reference's bias + sum (q - in_zp) w
 * modulo 2^32. Eight output channels per block; requantisation is the AVX2
 * one's steps on 16 lanes at once (tm_rt_rq_fast's, or the common case's).
 * Fewer than two input channels would leave most lanes idle: the AVX2
 * kernel runs those. */
#include "tm_rt_simd.h"

#if defined(TM_RT_VNNI)

#define TM_RT_NBQ 8 /* output channels per block */

/* The AVX2 requantisation constants of a channel and, for the common case
 * (no left shift, a right shift, mult >= 0), 16-lane copies. */
typedef struct tm_rt_rqz {
    tm_rt_rqv v;
    __m512i mult, mask, half, d64, kk; /* mask, half: common; d64, kk: fast */
} tm_rt_rqz;

static void tm_rt_rqz_init(tm_rt_rqz *z, const tm_rt_conv_args *a, int c)
{
    tm_rt_rqv_init(&z->v, a, c);
    z->mult = _mm512_set1_epi32(z->v.q.mult);
    if (z->v.fast) {
        z->d64 = _mm512_broadcastq_epi64(_mm256_castsi256_si128(z->v.d64));
        z->kk = _mm512_broadcastd_epi32(_mm256_castsi256_si128(z->v.kk));
    } else if (z->v.common) {
        z->mask = _mm512_broadcastd_epi32(_mm256_castsi256_si128(z->v.mask));
        z->half = _mm512_broadcastd_epi32(_mm256_castsi256_si128(z->v.half));
    }
}

/* 16 accumulators of positions 0-15 in order -> int8: the fast and the
 * common case in 16 lanes (tm_rt_rq_fast, or tm_rt_rq_high and
 * tm_rt_rq_right, of tm_rt_isa_x86.h; vpmovsdw for packs_epi32's
 * saturation), the others by the AVX2 store. */
TM_RT_INLINE void tm_rt_store_z(__m512i x, const tm_rt_rqz *z, int8_t *out, int n)
{
    const __m512i nudge = _mm512_set1_epi64(1LL << 30);
    __m512i pe, po, r, rem, thr, sh;
    __m256i p;
    if (z->v.fast) { /* tm_rt_rq_fast on 16 lanes */
        pe = _mm512_srl_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, z->mult), z->d64), z->v.rs_even);
        po = _mm512_srl_epi64(
            _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), z->mult), z->d64),
            z->v.rs_odd);
        r = _mm512_sub_epi32(_mm512_mask_blend_epi32(0xAAAA, pe, po), z->kk);
        p = _mm256_adds_epi16(_mm512_cvtsepi32_epi16(r), z->v.zp16);
        p = _mm256_min_epi16(_mm256_max_epi16(p, z->v.amin16), z->v.amax16);
        tm_rt_put16(_mm_packs_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1)), out,
                    n);
        return;
    }
    if (!z->v.common) {
        tm_rt_store_seq(_mm512_castsi512_si256(x), _mm512_extracti64x4_epi64(x, 1), &z->v, out, n);
        return;
    }
    pe = _mm512_add_epi64(_mm512_mul_epi32(x, z->mult), nudge);
    po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), z->mult), nudge);
    r = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
    rem = _mm512_and_si512(r, z->mask);
    thr = _mm512_sub_epi32(z->half, _mm512_srai_epi32(r, 31));
    sh = _mm512_sra_epi32(r, z->v.rs);
    r = _mm512_mask_sub_epi32(sh, _mm512_cmpgt_epi32_mask(rem, thr), sh, _mm512_set1_epi32(-1));
    p = _mm256_adds_epi16(_mm512_cvtsepi32_epi16(r), z->v.zp16);
    p = _mm256_min_epi16(_mm256_max_epi16(p, z->v.amin16), z->v.amax16);
    tm_rt_put16(_mm_packs_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1)), out, n);
}

#define TM_RT_DP(i) acc##i = _mm512_dpbusd_epi32(acc##i, u, _mm512_set1_epi32(w[i]))
#define TM_RT_PUT(i)                                                                          \
    do {                                                                                      \
        if (nvalid > i)                                                                       \
            tm_rt_store_z(acc##i, &rq[i], out[i] + xs, n - xs);                               \
    } while (0)

/* One output row segment of eight channels: n positions from base. */
static void tm_rt_vnni_row(const uint8_t *base, const int32_t *toff, size_t ng, const int32_t *wk,
                           const tm_rt_rqz *rq, const int32_t *init, int nvalid,
                           int8_t *const *out, int n)
{
    size_t g;
    int x;
    for (x = 0; x < n; x += 16) {
        int xs = x + 16 > n && n >= 16 ? n - 16 : x; /* overlap, no tail */
        const uint8_t *p = base + 4 * (size_t)xs;
        const int32_t *w = wk;
        __m512i acc0 = _mm512_set1_epi32(init[0]), acc1 = _mm512_set1_epi32(init[1]);
        __m512i acc2 = _mm512_set1_epi32(init[2]), acc3 = _mm512_set1_epi32(init[3]);
        __m512i acc4 = _mm512_set1_epi32(init[4]), acc5 = _mm512_set1_epi32(init[5]);
        __m512i acc6 = _mm512_set1_epi32(init[6]), acc7 = _mm512_set1_epi32(init[7]);
        for (g = 0; g < ng; g++, w += TM_RT_NBQ) {
            __m512i u = _mm512_loadu_si512((const void *)(p + toff[g]));
            TM_RT_DP(0);
            TM_RT_DP(1);
            TM_RT_DP(2);
            TM_RT_DP(3);
            TM_RT_DP(4);
            TM_RT_DP(5);
            TM_RT_DP(6);
            TM_RT_DP(7);
        }
        TM_RT_PUT(0);
        TM_RT_PUT(1);
        TM_RT_PUT(2);
        TM_RT_PUT(3);
        TM_RT_PUT(4);
        TM_RT_PUT(5);
        TM_RT_PUT(6);
        TM_RT_PUT(7);
    }
}

/* The int16 plan's geometry and offsets: the quad tile (one byte per
 * channel, rounded up to four channels) fits its int16 tile from two
 * channels on, and the packed weights (32 bytes per tap group, at most k / 2
 * groups) with one unpacked 4-bit row (k bytes) its weight area of
 * 64 (k + 2) bytes, so the scratch is the AVX2 build's. */
tm_rt_status tm_rt_conv_vnni(const tm_rt_conv_args *a)
{
    tm_rt_plan p;
    int8_t *base;
    uint8_t *tile;
    int32_t *toff, *wts;
    int8_t *wtmp;
    size_t rb, plane, ng, qstride;
    int y0, x0, cb, r, q, i, c, j, cq;
    uint8_t pad;
    /* One input channel: three of four bytes would idle. A 4-bit pointwise
     * conv of few positions (a streamed chain's row window): the AVX2 byte
     * kernel (tm_rt_pw4), whose weight packing is cheaper; the packing here
     * pays off from about 160 positions. */
    if (a->in_c < 2 || (a->bits == 4 && a->kh == 1 && a->kw == 1 && a->stride == 1 &&
                        a->in_h * a->in_w < 160))
        return tm_rt_conv_x86(a);
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    tm_rt_conv_plan(a, &p);
    base = tm_rt_aligned(a->scratch);
    tile = (uint8_t *)(void *)(base + p.tile_off);
    toff = (int32_t *)(void *)(base + p.toff_off);
    wts = (int32_t *)(void *)(base + p.w_off);
    rb = tm_rt_weight_row_bytes(p.k, a->bits);
    plane = (size_t)p.eih * (size_t)p.eiw;
    cq = (a->in_c + 3) / 4;
    ng = (size_t)cq * (size_t)a->kh * (size_t)a->kw;
    qstride = (size_t)p.hb * (size_t)p.s * (size_t)p.pw * 4;
    pad = (uint8_t)((uint8_t)a->in_zp ^ 0x80);
    wtmp = (int8_t *)(void *)wts + tm_rt_round(ng * TM_RT_NBQ * 4, TM_RT_ALIGN);
    tm_rt_quad_offsets(cq, a->kh, a->kw, p.s, p.hb, p.pw, toff);
    for (y0 = 0; y0 < p.eoh; y0 += p.nr) {
        int nr = p.eoh - y0 < p.nr ? p.eoh - y0 : p.nr;
        int hb = (nr - 1) * p.s + a->kh;
        for (x0 = 0; x0 < p.eow; x0 += p.nx) {
            int nx = p.eow - x0 < p.nx ? p.eow - x0 : p.nx;
            for (q = 0; q < cq; q++)
                for (i = 0; i < hb; i++) {
                    int iy = y0 * p.s - a->pad_top + i;
                    const int8_t *src[4];
                    for (j = 0; j < 4; j++)
                        src[j] = iy >= 0 && iy < p.eih && 4 * q + j < a->in_c
                                     ? a->input + (size_t)(4 * q + j) * plane + (size_t)iy * p.eiw
                                     : NULL;
                    tm_rt_fill_quad(tile + (size_t)q * qstride + (size_t)i * p.s * p.pw * 4, src,
                                    p.eiw, x0 * p.s - a->pad_left, p.s, p.pw, 0x80, pad);
                }
            for (cb = 0; cb < a->out_c; cb += TM_RT_NBQ) {
                tm_rt_rqz rq[TM_RT_NBQ];
                int32_t init[TM_RT_NBQ];
                uint32_t wsum[TM_RT_NBQ];
                int nvalid = a->out_c - cb < TM_RT_NBQ ? a->out_c - cb : TM_RT_NBQ;
                tm_rt_pack_quads(a, rb, cb, TM_RT_NBQ, (int8_t *)(void *)wts, wsum, wtmp);
                for (c = 0; c < TM_RT_NBQ; c++) {
                    tm_rt_rqz_init(&rq[c], a, c < nvalid ? cb + c : cb);
                    init[c] = tm_rt_wrap32((uint32_t)rq[c].v.q.bias -
                                           (uint32_t)(a->in_zp + 128) * wsum[c]);
                }
                for (r = 0; r < nr; r++) {
                    int8_t *out[TM_RT_NBQ];
                    for (c = 0; c < nvalid; c++)
                        out[c] = a->output + ((size_t)(cb + c) * p.eoh + (size_t)(y0 + r)) * p.eow +
                                 x0;
                    tm_rt_vnni_row(tile + (size_t)r * p.s * p.s * p.pw * 4, toff, ng, wts, rq,
                                   init, nvalid, out, nx);
                }
            }
        }
    }
    return TM_RT_OK;
}

#endif /* TM_RT_VNNI */
