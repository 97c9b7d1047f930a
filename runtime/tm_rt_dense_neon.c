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

#define TM_RT_DRV_DENSE tm_rt_dense_neon
#include "tm_rt_simd_drivers.h"

#endif /* TM_RT_NEON */
