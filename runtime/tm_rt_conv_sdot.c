/* Conv on aarch64 with the Armv8.2 dot product (Cortex-A76 / Raspberry Pi 5
 * class): sdot by lane adds four int8 x int8 products into each int32 lane,
 * so one instruction does 16 multiply-accumulates of 4 output positions for
 * one output channel. The tile holds channel quads as int8 (tm_rt_simd.h),
 * padding as the zero point; the accumulators start at
 * bias - in_zp x (sum of the channel's weights), which makes them equal the
 * reference's bias + sum (q - in_zp) w modulo 2^32. Eight output channels
 * and eight positions per step; requantisation is the NEON one. Fewer than
 * two input channels would leave most lanes idle: the NEON kernel runs
 * those. */
#include "tm_rt_simd.h"

#if defined(TM_RT_SDOT)

#define TM_RT_NBQ 8 /* output channels per block */

#define TM_RT_DOT(i, wv, ln)                                                                 \
    do {                                                                                     \
        acc[i][0] = vdotq_laneq_s32(acc[i][0], u, wv, ln);                                   \
        acc[i][1] = vdotq_laneq_s32(acc[i][1], v, wv, ln);                                   \
    } while (0)

/* One output row segment of eight channels: n positions from base. */
static void tm_rt_sdot_row(const int8_t *base, const int32_t *toff, size_t ng, const int8_t *wk,
                           const tm_rt_rqv *rq, const int32_t *init, int nvalid,
                           int8_t *const *out, int n)
{
    size_t g;
    int x, c;
    for (x = 0; x < n; x += 8) {
        int xs = x + 8 > n && n >= 8 ? n - 8 : x; /* overlap, no tail */
        const int8_t *p = base + 4 * (size_t)xs;
        const int8_t *w = wk;
        int32x4_t acc[TM_RT_NBQ][2];
        for (c = 0; c < TM_RT_NBQ; c++)
            acc[c][0] = acc[c][1] = vdupq_n_s32(init[c]);
        for (g = 0; g < ng; g++, w += 4 * TM_RT_NBQ) {
            int8x16_t u = vld1q_s8(p + toff[g]), v = vld1q_s8(p + toff[g] + 16);
            int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16);
            TM_RT_DOT(0, w0, 0);
            TM_RT_DOT(1, w0, 1);
            TM_RT_DOT(2, w0, 2);
            TM_RT_DOT(3, w0, 3);
            TM_RT_DOT(4, w1, 0);
            TM_RT_DOT(5, w1, 1);
            TM_RT_DOT(6, w1, 2);
            TM_RT_DOT(7, w1, 3);
        }
        for (c = 0; c < nvalid; c++)
            tm_rt_store(acc[c][0], acc[c][1], &rq[c], out[c] + xs, n - xs);
    }
}

/* The int16 plan's geometry and offsets, as tm_rt_conv_vnni.c: the quad
 * tile, the packed weights and one unpacked 4-bit row fit it from two input
 * channels on. */
tm_rt_status tm_rt_conv_sdot(const tm_rt_conv_args *a)
{
    tm_rt_plan p;
    int8_t *base, *tile, *wts, *wtmp;
    int32_t *toff;
    size_t rb, plane, ng, qstride;
    int y0, x0, cb, r, q, i, c, j, cq;
    if (a->in_c < 2)
        return tm_rt_conv_neon(a);
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    tm_rt_conv_plan(a, &p);
    base = tm_rt_aligned(a->scratch);
    tile = base + p.tile_off;
    toff = (int32_t *)(void *)(base + p.toff_off);
    wts = base + p.w_off;
    rb = tm_rt_weight_row_bytes(p.k, a->bits);
    plane = (size_t)p.eih * (size_t)p.eiw;
    cq = (a->in_c + 3) / 4;
    ng = (size_t)cq * (size_t)a->kh * (size_t)a->kw;
    qstride = (size_t)p.hb * (size_t)p.s * (size_t)p.pw * 4;
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
                    tm_rt_fill_quad((uint8_t *)(void *)(tile + (size_t)q * qstride +
                                                        (size_t)i * p.s * p.pw * 4),
                                    src, p.eiw, x0 * p.s - a->pad_left, p.s, p.pw, 0,
                                    (uint8_t)a->in_zp);
                }
            for (cb = 0; cb < a->out_c; cb += TM_RT_NBQ) {
                tm_rt_rqv rq[TM_RT_NBQ];
                int32_t init[TM_RT_NBQ];
                uint32_t wsum[TM_RT_NBQ];
                int nvalid = a->out_c - cb < TM_RT_NBQ ? a->out_c - cb : TM_RT_NBQ;
                tm_rt_pack_quads(a, rb, cb, TM_RT_NBQ, wts, wsum, wtmp);
                for (c = 0; c < TM_RT_NBQ; c++) {
                    tm_rt_rqv_init(&rq[c], a, c < nvalid ? cb + c : cb);
                    init[c] = tm_rt_wrap32((uint32_t)rq[c].q.bias - (uint32_t)a->in_zp * wsum[c]);
                }
                for (r = 0; r < nr; r++) {
                    int8_t *out[TM_RT_NBQ];
                    for (c = 0; c < nvalid; c++)
                        out[c] = a->output + ((size_t)(cb + c) * p.eoh + (size_t)(y0 + r)) * p.eow +
                                 x0;
                    tm_rt_sdot_row(tile + (size_t)r * p.s * p.s * p.pw * 4, toff, ng, wts, rq,
                                   init, nvalid, out, nx);
                }
            }
        }
    }
    return TM_RT_OK;
}

#endif /* TM_RT_SDOT */
