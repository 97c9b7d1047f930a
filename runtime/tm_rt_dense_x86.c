/* Dense on x86-64 (SSE2, SSE4.1 or AVX2): the int16 input against four
 * weight rows at a time. */
#include "tm_rt_simd.h"

#if defined(TM_RT_X86)

/* Dense rows o0..o0+nrow-1 (nrow 1 or 4); w[r] are int8 rows of length
 * >= vec (4-bit rows come unpacked and zero-padded), xin is int16, zero
 * beyond in_c. Positions [vec, in_c) are added one by one. */
static void tm_rt_dense_rows(const tm_rt_conv_args *a, const int16_t *xin, const int8_t *const *w,
                             int nrow, int vec, int o0)
{
    int32_t acc[4] = {0, 0, 0, 0};
    int i, r;
    if (nrow == 4) {
        tm_v s0 = V_SET1(0), s1 = s0, s2 = s0, s3 = s0;
        for (i = 0; i + TM_RT_VX <= vec; i += TM_RT_VX) {
            tm_v x = V_LOAD(xin + i);
            s0 = V_ADD(s0, V_MADD(x, V_W16(w[0] + i)));
            s1 = V_ADD(s1, V_MADD(x, V_W16(w[1] + i)));
            s2 = V_ADD(s2, V_MADD(x, V_W16(w[2] + i)));
            s3 = V_ADD(s3, V_MADD(x, V_W16(w[3] + i)));
        }
        acc[0] = tm_rt_hsum(s0);
        acc[1] = tm_rt_hsum(s1);
        acc[2] = tm_rt_hsum(s2);
        acc[3] = tm_rt_hsum(s3);
    } else {
        tm_v s0 = V_SET1(0);
        for (i = 0; i + TM_RT_VX <= vec; i += TM_RT_VX)
            s0 = V_ADD(s0, V_MADD(V_LOAD(xin + i), V_W16(w[0] + i)));
        acc[0] = tm_rt_hsum(s0);
    }
    for (r = 0; r < nrow; r++) {
        uint32_t u = (uint32_t)acc[r] + (uint32_t)(a->bias ? a->bias[o0 + r] : 0);
        tm_rt_rq q;
        for (i = vec / TM_RT_VX * TM_RT_VX; i < a->in_c; i++)
            u += (uint32_t)(xin[i] * w[r][i]);
        tm_rt_rq_init(&q, a, o0 + r);
        q.bias = 0;
        a->output[o0 + r] = tm_rt_rq_scalar(&q, tm_rt_wrap32(u));
    }
}

#define TM_RT_DRV_DENSE tm_rt_dense_x86
#include "tm_rt_simd_drivers.h"

#endif /* TM_RT_X86 */
