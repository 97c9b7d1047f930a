/* The conv and dense drivers the x86 and NEON builds share: the plan, the
 * tiles and the loops around each instruction set's primitives, which the
 * including file defines first (tm_rt_pack_conv, tm_rt_conv_row and
 * TM_RT_NB for conv; tm_rt_dense_rows for dense). It then defines
 * TM_RT_DRV_CONV or TM_RT_DRV_DENSE as the function's name, and for conv
 * TM_RT_DRV_WEIGHT as its packed weight element, before including this;
 * TM_RT_DRV_ROW(a, ...) may pick a row kernel other than tm_rt_conv_row
 * (by the weights' width, say). */
#include "tm_rt_simd.h"

#if defined(TM_RT_DRV_CONV)
#if !defined(TM_RT_DRV_ROW)
#define TM_RT_DRV_ROW(a, ...) tm_rt_conv_row(__VA_ARGS__)
#endif
tm_rt_status TM_RT_DRV_CONV(const tm_rt_conv_args *a)
{
    tm_rt_plan p, pq;
    int8_t *base;
    int16_t *tile;
    int32_t *toff;
    TM_RT_DRV_WEIGHT *wts;
    size_t rb, plane;
    int y0, x0, cb, r, ci, i, c;
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    tm_rt_conv_plan(a, &pq);
    p = pq; /* a copy whose address does not escape: its fields stay in registers */
    base = tm_rt_aligned(a->scratch);
    tile = (int16_t *)(void *)(base + p.tile_off);
    toff = (int32_t *)(void *)(base + p.toff_off);
    wts = (TM_RT_DRV_WEIGHT *)(void *)(base + p.w_off);
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
                    TM_RT_DRV_ROW(a, tile + (size_t)r * p.s * p.s * p.pw, toff, p.k, wts, rq,
                                   nvalid, out, nx);
                }
            }
        }
    }
    return TM_RT_OK;
}
#undef TM_RT_DRV_CONV
#undef TM_RT_DRV_WEIGHT
#undef TM_RT_DRV_ROW
#endif

#if defined(TM_RT_DRV_DENSE)
tm_rt_status TM_RT_DRV_DENSE(const tm_rt_conv_args *a)
{
    tm_rt_plan p, pq;
    int8_t *base, *unp;
    int16_t *xin;
    size_t rb, np;
    int o, r, vec;
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    tm_rt_dense_plan(a, &pq);
    p = pq; /* a copy whose address does not escape: its fields stay in registers */
    base = tm_rt_aligned(a->scratch);
    xin = (int16_t *)(void *)(base + p.tile_off);
    unp = base + p.w_off;
    np = tm_rt_round((size_t)a->in_c, 32);
    rb = tm_rt_weight_row_bytes((size_t)a->in_c, a->bits);
    tm_rt_widen(xin, a->input, a->in_c, a->in_zp);
    memset(xin + a->in_c, 0, (np - (size_t)a->in_c) * sizeof *xin);
    /* 8-bit rows are read in place up to the last whole vector; unpacked
     * 4-bit rows are zero-padded, so vectors run to the end. */
    vec = a->bits == 8 ? a->in_c / TM_RT_VX * TM_RT_VX : (int)np;
    for (o = 0; o < a->out_c;) {
        int nrow = a->out_c - o >= 4 ? 4 : 1;
        const int8_t *w[4];
        for (r = 0; r < nrow; r++) {
            if (a->bits == 8) {
                w[r] = (const int8_t *)a->weights + (size_t)(o + r) * rb;
            } else {
                int8_t *d = unp + (size_t)r * np;
                tm_rt_unpack4((const uint8_t *)a->weights + (size_t)(o + r) * rb, (size_t)a->in_c,
                              d);
                memset(d + a->in_c, 0, np - (size_t)a->in_c);
                w[r] = d;
            }
        }
        tm_rt_dense_rows(a, xin, w, nrow, vec, o);
        o += nrow;
    }
    return TM_RT_OK;
}
#undef TM_RT_DRV_DENSE
#endif
