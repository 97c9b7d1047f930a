/* Dense on NEON: the int16 input against one weight row at a time. */
#include "tm_rt_simd.h"

#if defined(TM_RT_NEON)

static void tm_rt_dense_rows(const tm_rt_conv_args *a, const int16_t *xin, const int8_t *const *w,
                             int nrow, int vec, int o0)
{
    int32_t acc[4] = {0, 0, 0, 0};
    int i, r;
    for (r = 0; r < nrow; r++) {
        int32x4_t s0 = vdupq_n_s32(0), s1 = s0;
        for (i = 0; i + 8 <= vec; i += 8) {
            int16x8_t x = vld1q_s16(xin + i), ww = vmovl_s8(vld1_s8(w[r] + i));
            s0 = vmlal_s16(s0, vget_low_s16(x), vget_low_s16(ww));
            s1 = vmlal_s16(s1, vget_high_s16(x), vget_high_s16(ww));
        }
        acc[r] = tm_rt_hsum(vaddq_s32(s0, s1));
    }
    for (r = 0; r < nrow; r++) {
        uint32_t u = (uint32_t)acc[r] + (uint32_t)(a->bias ? a->bias[o0 + r] : 0);
        tm_rt_rq q;
        for (i = vec / 8 * 8; i < a->in_c; i++)
            u += (uint32_t)(xin[i] * w[r][i]);
        tm_rt_rq_init(&q, a, o0 + r);
        q.bias = 0;
        a->output[o0 + r] = tm_rt_rq_scalar(&q, tm_rt_wrap32(u));
    }
}

tm_rt_status tm_rt_dense_neon(const tm_rt_conv_args *a)
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

#endif /* TM_RT_NEON */
