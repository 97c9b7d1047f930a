/* Depthwise conv on NEON: one channel's padded int16 plane at a time, one
 * tap per vmlal_n_s16; with 4-bit weights one tap per vmlaq_n_s16 into
 * int16 lanes, widened every 16 taps (a product is at most 255 x 8 = 2,040
 * in size, 16 of them 32,640: the int16 sums are exact). */
#include "tm_rt_simd.h"

#if defined(TM_RT_NEON)

static void tm_rt_pack_dw(const tm_rt_conv_args *a, size_t k, size_t rb, int c, int16_t *wk)
{
    size_t t;
    if (a->bits == 8) {
        const int8_t *w = (const int8_t *)a->weights + (size_t)c * rb;
        if (k >= 8) { /* 8 at a time, the last 8 again, overlapping */
            for (t = 0; t + 8 <= k; t += 8)
                vst1q_s16(wk + t, vmovl_s8(vld1_s8(w + t)));
            if (t < k)
                vst1q_s16(wk + k - 8, vmovl_s8(vld1_s8(w + k - 8)));
        } else {
            for (t = 0; t < k; t++)
                wk[t] = w[t];
        }
    } else { /* two nibbles per byte, sign-extended */
        const uint8_t *w = (const uint8_t *)a->weights + (size_t)c * rb;
        for (t = 0; t + 1 < k; t += 2) {
            int32_t b = (int32_t)(uint32_t)w[t / 2];
            wk[t] = (int16_t)(((b & 15) ^ 8) - 8);
            wk[t + 1] = (int16_t)((b >> 4 ^ 8) - 8);
        }
        if (t < k)
            wk[t] = (int16_t)(((w[t / 2] & 15) ^ 8) - 8);
    }
}

static void tm_rt_dw_row(const int16_t *base, const int32_t *toff, size_t k, const int16_t *wk,
                         const tm_rt_rqv *rq, int8_t *out, int n)
{
    size_t t;
    int x = 0;
    for (; x + 2 * TM_RT_VX <= n; x += 2 * TM_RT_VX) {
        int32x4_t a0 = vdupq_n_s32(rq->q.bias), a1 = a0, b0 = a0, b1 = a0;
        for (t = 0; t < k; t++) {
            int16x8_t u = vld1q_s16(base + toff[t] + x), v = vld1q_s16(base + toff[t] + x + 8);
            a0 = vmlal_n_s16(a0, vget_low_s16(u), wk[t]);
            a1 = vmlal_n_s16(a1, vget_high_s16(u), wk[t]);
            b0 = vmlal_n_s16(b0, vget_low_s16(v), wk[t]);
            b1 = vmlal_n_s16(b1, vget_high_s16(v), wk[t]);
        }
        tm_rt_store(a0, a1, rq, out + x, n - x);
        tm_rt_store(b0, b1, rq, out + x + 8, n - x - 8);
    }
    for (; x < n; x += TM_RT_VX) {
        int xs = x + TM_RT_VX > n && n >= TM_RT_VX ? n - TM_RT_VX : x; /* overlap, no tail */
        int32x4_t a0 = vdupq_n_s32(rq->q.bias), a1 = a0;
        for (t = 0; t < k; t++) {
            int16x8_t u = vld1q_s16(base + toff[t] + xs);
            a0 = vmlal_n_s16(a0, vget_low_s16(u), wk[t]);
            a1 = vmlal_n_s16(a1, vget_high_s16(u), wk[t]);
        }
        tm_rt_store(a0, a1, rq, out + xs, n - xs);
    }
}

/* 4-bit weights: 32 positions per step, int16 sums of up to 16 taps. */
static void tm_rt_dw_row4(const int16_t *base, const int32_t *toff, size_t k, const int16_t *wk,
                          const tm_rt_rqv *rq, int8_t *out, int n)
{
    size_t t0, t;
    int x = 0;
    for (; x + 4 * TM_RT_VX <= n; x += 4 * TM_RT_VX) {
        int32x4_t a0 = vdupq_n_s32(rq->q.bias), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0,
                  a6 = a0, a7 = a0;
        for (t0 = 0; t0 < k; t0 += 16) {
            size_t te = k - t0 < 16 ? k : t0 + 16;
            int16x8_t s0 = vdupq_n_s16(0), s1 = s0, s2 = s0, s3 = s0;
            for (t = t0; t < te; t++) {
                const int16_t *p = base + toff[t] + x;
                int16_t w = wk[t];
                s0 = vmlaq_n_s16(s0, vld1q_s16(p), w);
                s1 = vmlaq_n_s16(s1, vld1q_s16(p + 8), w);
                s2 = vmlaq_n_s16(s2, vld1q_s16(p + 16), w);
                s3 = vmlaq_n_s16(s3, vld1q_s16(p + 24), w);
            }
            a0 = vaddw_s16(a0, vget_low_s16(s0));
            a1 = vaddw_s16(a1, vget_high_s16(s0));
            a2 = vaddw_s16(a2, vget_low_s16(s1));
            a3 = vaddw_s16(a3, vget_high_s16(s1));
            a4 = vaddw_s16(a4, vget_low_s16(s2));
            a5 = vaddw_s16(a5, vget_high_s16(s2));
            a6 = vaddw_s16(a6, vget_low_s16(s3));
            a7 = vaddw_s16(a7, vget_high_s16(s3));
        }
        tm_rt_store(a0, a1, rq, out + x, n - x);
        tm_rt_store(a2, a3, rq, out + x + 8, n - x - 8);
        tm_rt_store(a4, a5, rq, out + x + 16, n - x - 16);
        tm_rt_store(a6, a7, rq, out + x + 24, n - x - 24);
    }
    for (; x < n; x += TM_RT_VX) {
        int xs = x + TM_RT_VX > n && n >= TM_RT_VX ? n - TM_RT_VX : x; /* overlap, no tail */
        int32x4_t a0 = vdupq_n_s32(rq->q.bias), a1 = a0;
        for (t0 = 0; t0 < k; t0 += 16) {
            size_t te = k - t0 < 16 ? k : t0 + 16;
            int16x8_t s0 = vdupq_n_s16(0);
            for (t = t0; t < te; t++)
                s0 = vmlaq_n_s16(s0, vld1q_s16(base + toff[t] + xs), wk[t]);
            a0 = vaddw_s16(a0, vget_low_s16(s0));
            a1 = vaddw_s16(a1, vget_high_s16(s0));
        }
        tm_rt_store(a0, a1, rq, out + xs, n - xs);
    }
}

tm_rt_status tm_rt_depthwise_neon(const tm_rt_conv_args *a)
{
    tm_rt_plan p, pq;
    int8_t *base, *tmp;
    int16_t *tile;
    int32_t *toff;
    int16_t *wts;
    size_t rb, plane;
    int c, i, y;
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    tm_rt_dw_plan(a, &pq);
    p = pq; /* a copy whose address does not escape: its fields stay in registers */
    base = tm_rt_aligned(a->scratch);
    tile = (int16_t *)(void *)(base + p.tile_off);
    toff = (int32_t *)(void *)(base + p.toff_off);
    wts = (int16_t *)(void *)(base + p.w_off);
    tmp = base + p.tmp_off;
    rb = tm_rt_weight_row_bytes(p.k, a->bits);
    plane = (size_t)a->in_h * (size_t)a->in_w;
    tm_rt_tap_offsets(1, a->kh, a->kw, p.s, p.hb, p.pw, toff);
    if (p.s == 1)
        tm_rt_zero(tile, (int)p.plane); /* borders stay zero: every channel writes the same interior */
    for (c = 0; c < a->in_c; c++) {
        tm_rt_rqv rq;
        const int8_t *in = a->input + c * plane;
        int8_t *out = a->output + c * (size_t)a->out_h * a->out_w;
        tm_rt_pack_dw(a, p.k, rb, c, wts);
        tm_rt_rqv_init(&rq, a, c);
        if (p.s == 1) {
            int n = a->in_w < p.pw - a->pad_left ? a->in_w : p.pw - a->pad_left;
            for (i = 0; i < a->in_h && i + a->pad_top < p.hb; i++)
                tm_rt_widen(tile + (size_t)(i + a->pad_top) * p.pw + a->pad_left,
                            in + (size_t)i * a->in_w, n, a->in_zp);
            if (a->bits == 4)
                tm_rt_dw_row4(tile, toff, p.k, wts, &rq, tmp, (int)p.nq);
            else
                tm_rt_dw_row(tile, toff, p.k, wts, &rq, tmp, (int)p.nq);
            for (y = 0; y < a->out_h; y++)
                tm_rt_copy_row(out + (size_t)y * a->out_w, tmp + (size_t)y * p.pw, a->out_w);
            continue;
        }
        for (i = 0; i < p.hb; i++) {
            int iy = i - a->pad_top;
            const int8_t *src = iy >= 0 && iy < a->in_h ? in + (size_t)iy * a->in_w : NULL;
            tm_rt_fill_row(tile + (size_t)i * p.s * p.pw, src, a->in_w, -a->pad_left, p.s, p.pw,
                           a->in_zp);
        }
        for (y = 0; y < a->out_h; y++) {
            const int16_t *row = tile + (size_t)y * p.s * p.s * p.pw;
            if (a->bits == 4)
                tm_rt_dw_row4(row, toff, p.k, wts, &rq, out + (size_t)y * a->out_w, a->out_w);
            else
                tm_rt_dw_row(row, toff, p.k, wts, &rq, out + (size_t)y * a->out_w, a->out_w);
        }
    }
    return TM_RT_OK;
}

#endif /* TM_RT_NEON */
