/* Dense on aarch64 with the Armv8.2 dot product: the int8 input copied
 * zero-padded into scratch, four weight rows at a time, sdot over 16 inputs
 * per instruction; a second sdot against ones sums each row's weights, so
 * in_zp x (sum of weights) comes off afterwards and the accumulators equal
 * the reference's modulo 2^32. */
#include "tm_rt_simd.h"

#if defined(TM_RT_SDOT)

#define TM_RT_ROW(r)                                                                          \
    do {                                                                                      \
        int8x16_t wv = vld1q_s8(w[r] + i);                                                    \
        s##r = vdotq_s32(s##r, x, wv);                                                        \
        t##r = vdotq_s32(t##r, ones, wv);                                                     \
    } while (0)

/* dot and weight sums of nrow (1 or 4) rows over [0, vec), vec a multiple
 * of 16. */
static void tm_rt_sdot_dense_dots(const int8_t *xs, const int8_t *const *w, int nrow, int vec,
                                  int32_t *dot, int32_t *wsum)
{
    const int8x16_t ones = vdupq_n_s8(1);
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
    int i;
    if (nrow == 4) {
        for (i = 0; i + 16 <= vec; i += 16) {
            int8x16_t x = vld1q_s8(xs + i);
            TM_RT_ROW(0);
            TM_RT_ROW(1);
            TM_RT_ROW(2);
            TM_RT_ROW(3);
        }
        dot[1] = vaddvq_s32(s1);
        dot[2] = vaddvq_s32(s2);
        dot[3] = vaddvq_s32(s3);
        wsum[1] = vaddvq_s32(t1);
        wsum[2] = vaddvq_s32(t2);
        wsum[3] = vaddvq_s32(t3);
    } else {
        for (i = 0; i + 16 <= vec; i += 16) {
            int8x16_t x = vld1q_s8(xs + i);
            TM_RT_ROW(0);
        }
    }
    dot[0] = vaddvq_s32(s0);
    wsum[0] = vaddvq_s32(t0);
}

/* The int16 plan's layout: the int8 input in its int16 input area. */
tm_rt_status tm_rt_dense_sdot(const tm_rt_conv_args *a)
{
    tm_rt_plan p, pq;
    int8_t *base, *unp, *xs;
    size_t rb, np;
    int o, vec;
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    /* 4-bit rows: the NEON kernel reads them packed (0.59 instructions per
     * MAC on the reference model's dense layers), where this one would
     * unpack them first (0.85). */
    if (a->bits == 4)
        return tm_rt_dense_neon(a);
    tm_rt_dense_plan(a, &pq);
    p = pq; /* a copy whose address does not escape: its fields stay in registers */
    base = tm_rt_aligned(a->scratch);
    xs = base + p.tile_off;
    unp = base + p.w_off;
    np = tm_rt_round((size_t)a->in_c, 32);
    rb = tm_rt_weight_row_bytes((size_t)a->in_c, a->bits);
    memcpy(xs, a->input, (size_t)a->in_c);
    memset(xs + a->in_c, 0, np - (size_t)a->in_c);
    /* 8-bit rows are read in place up to the last whole 16; unpacked 4-bit
     * rows are zero-padded, so vectors run to the end. */
    vec = a->bits == 8 ? a->in_c / 16 * 16 : (int)np;
    for (o = 0; o < a->out_c;) {
        int nrow = a->out_c - o >= 4 ? 4 : 1;
        const int8_t *w[4];
        int32_t dot[4], wsum[4];
        tm_rt_dense_dot_rows(a, rb, np, o, nrow, unp, w);
        tm_rt_sdot_dense_dots(xs, w, nrow, vec, dot, wsum);
        tm_rt_dense_dot_finish(a, w, dot, wsum, nrow, vec, o, a->in_zp);
        o += nrow;
    }
    return TM_RT_OK;
}

#endif /* TM_RT_SDOT */
