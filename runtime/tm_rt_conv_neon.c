/* Conv on NEON: tiles of the int16 input, eight output channels per block,
 * one tap per vmlal_lane_s16. */
#include "tm_rt_simd.h"

#if defined(TM_RT_NEON)

#define TM_RT_NB 8 /* output channels per conv block */

/* Conv: weights of channels c0..c0+7 per tap, [tap][8] int16. */
static void tm_rt_pack_conv(const tm_rt_conv_args *a, size_t k, size_t rb, int c0, int16_t *wk)
{
    size_t t;
    int c;
    for (t = 0; t < k; t++)
        for (c = 0; c < TM_RT_NB; c++)
            wk[t * TM_RT_NB + (size_t)c] =
                (int16_t)(c0 + c < a->out_c ? tm_rt_w(a->weights, a->bits, rb, c0 + c, t) : 0);
}

#define TM_RT_MLA(i, wv, ln)                                                                 \
    do {                                                                                     \
        acc[i][0] = vmlal_lane_s16(acc[i][0], xl, wv, ln);                                   \
        acc[i][1] = vmlal_lane_s16(acc[i][1], xh, wv, ln);                                   \
    } while (0)

static void tm_rt_conv_row(const int16_t *base, const int32_t *toff, size_t k, const int16_t *wk,
                           const tm_rt_rqv *rq, int nvalid, int8_t *const *out, int n)
{
    size_t t;
    int x, c;
    for (x = 0; x < n; x += TM_RT_VX) {
        int xs = x + TM_RT_VX > n && n >= TM_RT_VX ? n - TM_RT_VX : x; /* overlap, no tail */
        int32x4_t acc[TM_RT_NB][2];
        for (c = 0; c < TM_RT_NB; c++)
            acc[c][0] = acc[c][1] = vdupq_n_s32(rq[c].q.bias);
        for (t = 0; t < k; t++) {
            int16x8_t xv = vld1q_s16(base + toff[t] + xs), wv = vld1q_s16(wk + t * TM_RT_NB);
            int16x4_t xl = vget_low_s16(xv), xh = vget_high_s16(xv);
            int16x4_t wl = vget_low_s16(wv), wh = vget_high_s16(wv);
            TM_RT_MLA(0, wl, 0);
            TM_RT_MLA(1, wl, 1);
            TM_RT_MLA(2, wl, 2);
            TM_RT_MLA(3, wl, 3);
            TM_RT_MLA(4, wh, 0);
            TM_RT_MLA(5, wh, 1);
            TM_RT_MLA(6, wh, 2);
            TM_RT_MLA(7, wh, 3);
        }
        for (c = 0; c < nvalid; c++)
            tm_rt_store(acc[c][0], acc[c][1], &rq[c], out[c] + xs, n - xs);
    }
}

tm_rt_status tm_rt_conv_neon(const tm_rt_conv_args *a)
{
    tm_rt_plan p, pq;
    int8_t *base;
    int16_t *tile;
    int32_t *toff;
    int16_t *wts;
    size_t rb, plane;
    int y0, x0, cb, r, ci, i, c;
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    tm_rt_conv_plan(a, &pq);
    p = pq; /* a copy whose address does not escape: its fields stay in registers */
    base = tm_rt_aligned(a->scratch);
    tile = (int16_t *)(void *)(base + p.tile_off);
    toff = (int32_t *)(void *)(base + p.toff_off);
    wts = (int16_t *)(void *)(base + p.w_off);
    rb = tm_rt_weight_row_bytes(p.k, a->bits);
    plane = (size_t)p.eih * (size_t)p.eiw;
    tm_rt_tap_offsets(a->in_c, a->kh, a->kw, p.s, p.hb, p.pw, toff);
    for (y0 = 0; y0 < p.eoh; y0 += p.nr) {
        int nr = p.eoh - y0 < p.nr ? p.eoh - y0 : p.nr;
        int hb = (nr - 1) * p.s + a->kh;
        for (x0 = 0; x0 < p.eow; x0 += p.nx) {
            int nx = p.eow - x0 < p.nx ? p.eow - x0 : p.nx;
            for (ci = 0; ci < a->in_c; ci++)
                for (i = 0; i < hb; i++) {
                    int iy = y0 * p.s - a->pad_top + i;
                    const int8_t *src =
                        iy >= 0 && iy < p.eih ? a->input + ci * plane + (size_t)iy * p.eiw : NULL;
                    tm_rt_fill_row(tile + (((size_t)ci * p.hb + i) * p.s) * p.pw, src, p.eiw,
                                   x0 * p.s - a->pad_left, p.s, p.pw, a->in_zp);
                }
            for (cb = 0; cb < a->out_c; cb += TM_RT_NB) {
                tm_rt_rqv rq[TM_RT_NB];
                int nvalid = a->out_c - cb < TM_RT_NB ? a->out_c - cb : TM_RT_NB;
                tm_rt_pack_conv(a, p.k, rb, cb, wts);
                for (c = 0; c < TM_RT_NB; c++)
                    tm_rt_rqv_init(&rq[c], a, c < nvalid ? cb + c : cb);
                for (r = 0; r < nr; r++) {
                    int8_t *out[TM_RT_NB];
                    for (c = 0; c < nvalid; c++)
                        out[c] = a->output + ((size_t)(cb + c) * p.eoh + (size_t)(y0 + r)) * p.eow +
                                 x0;
                    tm_rt_conv_row(tile + (size_t)r * p.s * p.s * p.pw, toff, p.k, wts, rq,
                                   nvalid, out, nx);
                }
            }
        }
    }
    return TM_RT_OK;
}

#endif /* TM_RT_NEON */
