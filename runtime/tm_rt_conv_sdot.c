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

/* 16 bytes of the weights from byte off on, zero from byte lim of them on
 * (lim <= 16; off + 16 may pass the end n: the last 16 bytes, shifted
 * down). n >= 16. */
TM_RT_INLINE int8x16_t tm_rt_wload16(const int8_t *w, size_t n, size_t off, int lim)
{
    static const uint8_t iota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    uint8x16_t ix = vld1q_u8(iota), keep = vcltq_u8(ix, vdupq_n_u8((uint8_t)lim));
    int8x16_t v;
    if (off + 16 <= n)
        v = vld1q_s8(w + off);
    else
        v = vqtbl1q_s8(vld1q_s8(w + n - 16), vaddq_u8(ix, vdupq_n_u8((uint8_t)(off + 16 - n))));
    return vandq_s8(v, vreinterpretq_s8_u8(keep));
}

/* 8 packed 4-bit bytes (16 weights) from byte off on as int8, zero from
 * weight lim on; off + 8 may pass the end n (as tm_rt_wload16). n >= 8. */
TM_RT_INLINE int8x16_t tm_rt_wload16_4(const uint8_t *w, size_t n, size_t off, int lim)
{
    static const uint8_t iota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    uint8x16_t keep = vcltq_u8(vld1q_u8(iota), vdupq_n_u8((uint8_t)lim));
    int8x8_t b, lo, hi;
    if (off + 8 <= n)
        b = vreinterpret_s8_u8(vld1_u8(w + off));
    else
        b = vreinterpret_s8_u8(vtbl1_u8(vld1_u8(w + n - 8),
                                        vadd_u8(vld1_u8(iota), vdup_n_u8((uint8_t)(off + 8 - n)))));
    lo = vshr_n_s8(vshl_n_s8(b, 4), 4);
    hi = vshr_n_s8(b, 4);
    return vandq_s8(vcombine_s8(vzip1_s8(lo, hi), vzip2_s8(lo, hi)), vreinterpretq_s8_u8(keep));
}

/* tm_rt_pack_quads for a pointwise conv (one tap per input channel): 16
 * input channels of eight output channels at a time, 4-byte groups
 * transposed with trn1 / trn2, the sums of weights by sdot with ones. */
static void tm_rt_pack_quads_pw(const tm_rt_conv_args *a, size_t rb, int c0, int8_t *wk,
                                uint32_t *wsum)
{
    const size_t total = (size_t)a->out_c * rb, ng = (size_t)(a->in_c + 3) / 4;
    const int nv = a->out_c - c0 < TM_RT_NBQ ? a->out_c - c0 : TM_RT_NBQ;
    const int8x16_t ones = vdupq_n_s8(1);
    int32x4_t sa = vdupq_n_s32(0), sb = sa;
    size_t h, g;
    int r;
    for (h = 0; 16 * h < (size_t)a->in_c; h++) {
        int lim = a->in_c - 16 * (int)h < 16 ? a->in_c - 16 * (int)h : 16;
        int8x16_t row[TM_RT_NBQ];
        uint32x4_t q[TM_RT_NBQ];
        for (r = 0; r < TM_RT_NBQ; r++) {
            size_t off = (size_t)(c0 + r) * rb + (a->bits == 4 ? 8 * h : 16 * h);
            row[r] = r >= nv            ? vdupq_n_s8(0)
                     : a->bits == 4 ? tm_rt_wload16_4((const uint8_t *)a->weights, total, off, lim)
                                    : tm_rt_wload16((const int8_t *)a->weights, total, off, lim);
        }
        for (r = 0; r < TM_RT_NBQ; r += 4) { /* rows r..r+3: 4 x 4 words transposed */
            uint32x4_t r0 = vreinterpretq_u32_s8(row[r]), r1 = vreinterpretq_u32_s8(row[r + 1]);
            uint32x4_t r2 = vreinterpretq_u32_s8(row[r + 2]), r3 = vreinterpretq_u32_s8(row[r + 3]);
            uint64x2_t t0 = vreinterpretq_u64_u32(vtrn1q_u32(r0, r1));
            uint64x2_t t1 = vreinterpretq_u64_u32(vtrn2q_u32(r0, r1));
            uint64x2_t t2 = vreinterpretq_u64_u32(vtrn1q_u32(r2, r3));
            uint64x2_t t3 = vreinterpretq_u64_u32(vtrn2q_u32(r2, r3));
            q[r] = vreinterpretq_u32_u64(vtrn1q_u64(t0, t2));
            q[r + 1] = vreinterpretq_u32_u64(vtrn1q_u64(t1, t3));
            q[r + 2] = vreinterpretq_u32_u64(vtrn2q_u64(t0, t2));
            q[r + 3] = vreinterpretq_u32_u64(vtrn2q_u64(t1, t3));
        }
        for (g = 0; g < 4 && 4 * h + g < ng; g++) {
            int8x16_t lo = vreinterpretq_s8_u32(q[g]), hi = vreinterpretq_s8_u32(q[4 + g]);
            vst1q_s8(wk + (4 * h + g) * 4 * TM_RT_NBQ, lo);
            vst1q_s8(wk + (4 * h + g) * 4 * TM_RT_NBQ + 16, hi);
            sa = vdotq_s32(sa, lo, ones);
            sb = vdotq_s32(sb, hi, ones);
        }
    }
    vst1q_u32(wsum, vreinterpretq_u32_s32(sa));
    vst1q_u32(wsum + 4, vreinterpretq_u32_s32(sb));
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
    int y0, x0, cb, r, q, i, c, j, cq, pw;
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
    /* one tap per input channel, and rows of at least 16 (8) bytes in all */
    pw = a->kh == 1 && a->kw == 1 && (size_t)a->out_c * rb >= 16;
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
                if (pw)
                    tm_rt_pack_quads_pw(a, rb, cb, wts, wsum);
                else
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
