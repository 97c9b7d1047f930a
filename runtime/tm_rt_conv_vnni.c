/* Conv on AVX-512 VNNI: vpdpbusd adds four uint8 x int8 products into each
 * int32 lane, so one instruction does 64 multiply-accumulates of 16 output
 * positions. The tile holds channel quads as uint8 q + 128 (tm_rt_simd.h);
 * the accumulators start at bias - (in_zp + 128) x (sum of the channel's
 * weights), which makes them equal the reference's bias + sum (q - in_zp) w
 * modulo 2^32. Eight output channels per block; requantisation is the AVX2
 * one. Fewer than two input channels would leave most lanes idle: the
 * AVX2 kernel runs those. */
#include "tm_rt_simd.h"

#if defined(TM_RT_VNNI)

#define TM_RT_NBQ 8 /* output channels per block */

#define TM_RT_DP(i) acc##i = _mm512_dpbusd_epi32(acc##i, u, _mm512_set1_epi32(w[i]))
#define TM_RT_PUT(i)                                                                          \
    do {                                                                                      \
        if (nvalid > i)                                                                       \
            tm_rt_store_seq(_mm512_castsi512_si256(acc##i), _mm512_extracti64x4_epi64(acc##i, 1), \
                            &rq[i], out[i] + xs, n - xs);                                     \
    } while (0)

/* One output row segment of eight channels: n positions from base. */
static void tm_rt_vnni_row(const uint8_t *base, const int32_t *toff, size_t ng, const int32_t *wk,
                           const tm_rt_rqv *rq, const int32_t *init, int nvalid,
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
 * channels on, and the packed weights its weight area, so the scratch is
 * the AVX2 build's. */
tm_rt_status tm_rt_conv_vnni(const tm_rt_conv_args *a)
{
    tm_rt_plan p;
    int8_t *base;
    uint8_t *tile;
    int32_t *toff, *wts;
    size_t rb, plane, ng, qstride;
    int y0, x0, cb, r, q, i, c, j, cq;
    uint8_t pad;
    if (a->in_c < 2)
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
                tm_rt_rqv rq[TM_RT_NBQ];
                int32_t init[TM_RT_NBQ];
                uint32_t wsum[TM_RT_NBQ];
                int nvalid = a->out_c - cb < TM_RT_NBQ ? a->out_c - cb : TM_RT_NBQ;
                tm_rt_pack_quads(a, rb, cb, TM_RT_NBQ, (int8_t *)(void *)wts, wsum);
                for (c = 0; c < TM_RT_NBQ; c++) {
                    tm_rt_rqv_init(&rq[c], a, c < nvalid ? cb + c : cb);
                    init[c] = tm_rt_wrap32((uint32_t)rq[c].q.bias -
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
