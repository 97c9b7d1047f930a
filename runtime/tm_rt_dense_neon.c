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

#define TM_RT_DRV_DENSE tm_rt_dense_neon_int16
tm_rt_status tm_rt_dense_neon_int16(const tm_rt_conv_args *a);
#include "tm_rt_simd_drivers.h"

/* 4-bit rows straight from their packed bytes, 32 weights a step, as the
 * AVX2 kernel: u = nibble ^ 8 = w + 8 (0..15) times the int8 input by
 * vmlal_s8 (a product is at most 15 x 128, so int16 lanes hold 8 steps of
 * two products exactly), even and odd inputs split once, and
 *   sum w (x - zp) = sum u x - 8 sum x - zp (sum u - 8 in_c). */
static tm_rt_status tm_rt_dense4_neon(const tm_rt_conv_args *a)
{
    int8_t *base = tm_rt_aligned(a->scratch), *xe = base, *xo;
    size_t rb = tm_rt_weight_row_bytes((size_t)a->in_c, 4), nv = rb / 16 * 16, j;
    uint32_t sx = 0;
    int o;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), f8 = vdupq_n_u8(0x88);
    /* within the int16 input tile of the dense plan: 2 * round(rb, 32) <= its bytes */
    xo = base + tm_rt_round(rb, 32);
    sx = tm_rt_dense4_split_neon(a, rb, xe, xo);
    for (o = 0; o < a->out_c; o++) {
        const uint8_t *w = (const uint8_t *)a->weights + (size_t)o * rb;
        int32x4_t acc = vdupq_n_s32(0);
        uint32x4_t cnt = vdupq_n_u32(0);
        uint32_t su, sux;
        size_t j0;
        for (j0 = 0; j0 < nv; j0 += 8 * 16) {
            size_t end = j0 + 8 * 16 < nv ? j0 + 8 * 16 : nv;
            int16x8_t s0 = vdupq_n_s16(0), s1 = s0;
            uint16x8_t nib = vdupq_n_u16(0);
            for (j = j0; j < end; j += 16) {
                uint8x16_t v = veorq_u8(vld1q_u8(w + j), f8);
                uint8x16_t lo = vandq_u8(v, m4), hi = vshrq_n_u8(v, 4);
                int8x16_t e = vld1q_s8(xe + j), d = vld1q_s8(xo + j);
                int8x16_t ls = vreinterpretq_s8_u8(lo), hs = vreinterpretq_s8_u8(hi);
                s0 = vmlal_s8(s0, vget_low_s8(ls), vget_low_s8(e));
                s1 = vmlal_s8(s1, vget_high_s8(ls), vget_high_s8(e));
                s0 = vmlal_s8(s0, vget_low_s8(hs), vget_low_s8(d));
                s1 = vmlal_s8(s1, vget_high_s8(hs), vget_high_s8(d));
                nib = vpadalq_u8(nib, lo);
                nib = vpadalq_u8(nib, hi);
            }
            acc = vpadalq_s16(acc, s0);
            acc = vpadalq_s16(acc, s1);
            cnt = vpadalq_u16(cnt, nib);
        }
        sux = (uint32_t)tm_rt_hsum(acc);
        su = (uint32_t)tm_rt_hsum(vreinterpretq_s32_u32(cnt));
        tm_rt_dense4_finish(a, o, w, nv, rb, xe, xo, su, sux, sx);
    }
    return TM_RT_OK;
}

tm_rt_status tm_rt_dense_neon(const tm_rt_conv_args *a)
{
    if (a->bits == 4 && a->scratch)
        return tm_rt_dense4_neon(a);
    return tm_rt_dense_neon_int16(a);
}

#endif /* TM_RT_NEON */
