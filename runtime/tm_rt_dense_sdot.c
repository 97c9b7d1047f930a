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

static tm_rt_status tm_rt_dense4_sdot_u(const tm_rt_conv_args *a, int8_t *xe, int8_t *xo,
                                        size_t rb, uint32_t sx);

/* 4-bit rows straight from their packed bytes, as tm_rt_dense4_neon: u =
 * nibble ^ 8 = w + 8 (0..15) against the even and odd inputs by sdot (16
 * bytes, 32 weights, per two instructions), sum u by udot of lo + hi
 * against ones, four rows at a time; tm_rt_dense_dot_finish requantises
 * sum w x - in_zp sum w + bias. */
#if defined(__GNUC__)
__attribute__((noinline)) /* inlined, it costs the 8-bit path registers */
#endif
static tm_rt_status tm_rt_dense4_sdot(const tm_rt_conv_args *a)
{
    int8_t *base = tm_rt_aligned(a->scratch), *xe = base, *xo;
    size_t rb = tm_rt_weight_row_bytes((size_t)a->in_c, 4), nv = rb / 16 * 16, j;
    uint32_t sx = 0;
    int o, nrow;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), f8 = vdupq_n_u8(0x88), ones = vdupq_n_u8(1);
    /* within the int16 input tile of the dense plan: 2 * round(rb, 32) <= its bytes */
    xo = base + tm_rt_round(rb, 32);
    sx = tm_rt_dense4_split_neon(a, rb, xe, xo);
    if (a->in_zp == -128)
        return tm_rt_dense4_sdot_u(a, xe, xo, rb, sx);
#define TM_RT_ROW4(r)                                                                         \
    do {                                                                                      \
        uint8x16_t v = veorq_u8(vld1q_u8((const uint8_t *)w[r] + j), f8);                     \
        uint8x16_t lo = vandq_u8(v, m4), hi = vshrq_n_u8(v, 4);                               \
        s##r = vdotq_s32(s##r, vreinterpretq_s8_u8(lo), e);                                   \
        s##r = vdotq_s32(s##r, vreinterpretq_s8_u8(hi), d);                                   \
        n##r = vdotq_u32(n##r, vaddq_u8(lo, hi), ones);                                       \
    } while (0)
    for (o = 0; o < a->out_c; o += nrow) {
        const int8_t *w[4];
        int32_t dot[4], wsum[4];
        int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
        uint32x4_t n0 = vdupq_n_u32(0), n1 = n0, n2 = n0, n3 = n0;
        nrow = a->out_c - o >= 4 ? 4 : 1;
        w[0] = (const int8_t *)a->weights + (size_t)o * rb;
        if (nrow == 4) {
            w[1] = w[0] + rb;
            w[2] = w[1] + rb;
            w[3] = w[2] + rb;
            for (j = 0; j < nv; j += 16) {
                int8x16_t e = vld1q_s8(xe + j), d = vld1q_s8(xo + j);
                TM_RT_ROW4(0);
                TM_RT_ROW4(1);
                TM_RT_ROW4(2);
                TM_RT_ROW4(3);
            }
            tm_rt_dense4_sums(a, (const uint8_t *)w[1], nv, rb, xe, xo, vaddvq_u32(n1), (uint32_t)vaddvq_s32(s1),
                              sx, &dot[1], &wsum[1]);
            tm_rt_dense4_sums(a, (const uint8_t *)w[2], nv, rb, xe, xo, vaddvq_u32(n2), (uint32_t)vaddvq_s32(s2),
                              sx, &dot[2], &wsum[2]);
            tm_rt_dense4_sums(a, (const uint8_t *)w[3], nv, rb, xe, xo, vaddvq_u32(n3), (uint32_t)vaddvq_s32(s3),
                              sx, &dot[3], &wsum[3]);
        } else {
            for (j = 0; j < nv; j += 16) {
                int8x16_t e = vld1q_s8(xe + j), d = vld1q_s8(xo + j);
                TM_RT_ROW4(0);
            }
        }
        tm_rt_dense4_sums(a, (const uint8_t *)w[0], nv, rb, xe, xo, vaddvq_u32(n0), (uint32_t)vaddvq_s32(s0), sx,
                          &dot[0], &wsum[0]);
        /* vec = in_c: no weights are read there */
        tm_rt_dense_dot_finish(a, w, dot, wsum, nrow, a->in_c, o, a->in_zp);
    }
#undef TM_RT_ROW4
    return TM_RT_OK;
}

/* 4-bit rows when in_zp is -128 (inputs after a ReLU): x - zp = x ^ 0x80 is
 * a byte 0..255, so sum w (x - zp) = sum u (x - zp) - 8 sum (x - zp) with u =
 * nibble ^ 8 by udot, and no row needs its weight sum: six instructions per
 * 16 bytes of a row (32 weights) against eight, as many as an 8-bit row's
 * two loads and four sdot. xe, xo: tm_rt_dense4_split_neon's, flipped here. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static tm_rt_status tm_rt_dense4_sdot_u(const tm_rt_conv_args *a, int8_t *xe, int8_t *xo,
                                        size_t rb, uint32_t sx)
{
    size_t nv = rb / 16 * 16, j;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), f8 = vdupq_n_u8(0x88), f80 = vdupq_n_u8(0x80);
    /* sum (x - zp) over the real inputs; the pad of an odd row stays 0 */
    const uint32_t sxu = sx + 128u * (uint32_t)a->in_c;
    int o, nrow;
    for (j = 0; j + 16 <= rb; j += 16) {
        vst1q_u8((uint8_t *)xe + j, veorq_u8(vld1q_u8((const uint8_t *)xe + j), f80));
        vst1q_u8((uint8_t *)xo + j, veorq_u8(vld1q_u8((const uint8_t *)xo + j), f80));
    }
    for (; j < rb; j++) {
        xe[j] = (int8_t)((uint8_t)xe[j] ^ 0x80u);
        xo[j] = (int8_t)((uint8_t)xo[j] ^ 0x80u);
    }
    if (a->in_c & 1)
        xo[rb - 1] = 0;
#define TM_RT_ROWU(r)                                                                         \
    do {                                                                                      \
        uint8x16_t v = veorq_u8(vld1q_u8(w[r] + j), f8);                                      \
        s##r = vdotq_u32(s##r, vandq_u8(v, m4), e);                                           \
        s##r = vdotq_u32(s##r, vshrq_n_u8(v, 4), d);                                          \
    } while (0)
    for (o = 0; o < a->out_c; o += nrow) {
        const uint8_t *w[4];
        uint32x4_t s0 = vdupq_n_u32(0), s1 = s0, s2 = s0, s3 = s0;
        uint32_t su[4];
        int r;
        nrow = a->out_c - o >= 4 ? 4 : 1;
        w[0] = (const uint8_t *)a->weights + (size_t)o * rb;
        if (nrow == 4) {
            w[1] = w[0] + rb;
            w[2] = w[1] + rb;
            w[3] = w[2] + rb;
            for (j = 0; j < nv; j += 16) {
                uint8x16_t e = vld1q_u8((const uint8_t *)xe + j), d = vld1q_u8((const uint8_t *)xo + j);
                TM_RT_ROWU(0);
                TM_RT_ROWU(1);
                TM_RT_ROWU(2);
                TM_RT_ROWU(3);
            }
            su[1] = vaddvq_u32(s1);
            su[2] = vaddvq_u32(s2);
            su[3] = vaddvq_u32(s3);
        } else {
            for (j = 0; j < nv; j += 16) {
                uint8x16_t e = vld1q_u8((const uint8_t *)xe + j), d = vld1q_u8((const uint8_t *)xo + j);
                TM_RT_ROWU(0);
            }
        }
        su[0] = vaddvq_u32(s0);
        for (r = 0; r < nrow; r++) {
            uint32_t acc = su[r];
            tm_rt_rq q;
            for (j = nv; j < rb; j++) { /* the row's last bytes one by one */
                uint32_t b = (uint32_t)(w[r][j] ^ 0x88u);
                acc += (b & 15u) * (uint8_t)xe[j] + (b >> 4) * (uint8_t)xo[j];
            }
            acc = acc - 8u * sxu + (uint32_t)(a->bias ? a->bias[o + r] : 0);
            tm_rt_rq_init(&q, a, o + r);
            q.bias = 0;
            a->output[o + r] = tm_rt_rq_scalar(&q, tm_rt_wrap32(acc));
        }
    }
#undef TM_RT_ROWU
    return TM_RT_OK;
}

/* The int16 plan's layout: the int8 input in its int16 input area. */
tm_rt_status tm_rt_dense_sdot(const tm_rt_conv_args *a)
{
    tm_rt_plan p, pq;
    int8_t *base, *xs;
    size_t np;
    int o, vec;
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    /* 4-bit rows: read packed (tm_rt_dense4_sdot), not unpacked first */
    if (a->bits == 4)
        return tm_rt_dense4_sdot(a);
    tm_rt_dense_plan(a, &pq);
    p = pq; /* a copy whose address does not escape: its fields stay in registers */
    base = tm_rt_aligned(a->scratch);
    xs = base + p.tile_off;
    np = tm_rt_round((size_t)a->in_c, 32);
    memcpy(xs, a->input, (size_t)a->in_c);
    memset(xs + a->in_c, 0, np - (size_t)a->in_c);
    vec = a->in_c / 16 * 16; /* rows read in place up to the last whole 16 */
    for (o = 0; o < a->out_c;) {
        int nrow = a->out_c - o >= 4 ? 4 : 1;
        const int8_t *w[4];
        int32_t dot[4], wsum[4];
        tm_rt_dense_dot_rows(a, o, nrow, w);
        tm_rt_sdot_dense_dots(xs, w, nrow, vec, dot, wsum);
        tm_rt_dense_dot_finish(a, w, dot, wsum, nrow, vec, o, a->in_zp);
        o += nrow;
    }
    return TM_RT_OK;
}

#endif /* TM_RT_SDOT */
