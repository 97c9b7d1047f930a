/* Conv on x86-64 (SSE2, SSE4.1 or AVX2 by the build's flags; the width
 * lives in tm_rt_isa_x86.h): tiles of the int16 input, four output channels
 * per block, two taps per madd_epi16 on interleaved pairs. */
#include "tm_rt_simd.h"

#if defined(TM_RT_X86)

#define TM_RT_NB 4 /* output channels per conv block */

/* Conv: weights of channels c0..c0+3 as pairs, [pair][4], each already
 * broadcast to a whole vector so the madds read them straight from memory. */
static void tm_rt_pack_conv(const tm_rt_conv_args *a, size_t k, size_t rb, int c0, tm_v *wp)
{
    size_t np = (k + 1) / 2, j;
    int c;
    for (c = 0; c < TM_RT_NB; c++)
        for (j = 0; j < np; j++) {
            int32_t w0 = 0, w1 = 0;
            if (c0 + c < a->out_c) {
                w0 = tm_rt_w(a->weights, a->bits, rb, c0 + c, 2 * j);
                w1 = 2 * j + 1 < k ? tm_rt_w(a->weights, a->bits, rb, c0 + c, 2 * j + 1) : 0;
            }
            wp[j * TM_RT_NB + (size_t)c] = V_SET1(tm_rt_pair(w0, w1));
        }
}

/* One output row segment of four channels: n positions from base. */
static void tm_rt_conv_row(const int16_t *base, const int32_t *toff, size_t k, const tm_v *wp,
                           const tm_rt_rqv *rq, int nvalid, int8_t *const *out, int n)
{
    size_t np = (k + 1) / 2, j;
    int x;
    for (x = 0; x < n; x += TM_RT_VX) {
        int xs = x + TM_RT_VX > n && n >= TM_RT_VX ? n - TM_RT_VX : x; /* overlap, no tail */
        tm_v a0l = V_SET1(rq[0].q.bias), a0h = a0l, a1l = V_SET1(rq[1].q.bias), a1h = a1l;
        tm_v a2l = V_SET1(rq[2].q.bias), a2h = a2l, a3l = V_SET1(rq[3].q.bias), a3h = a3l;
        const tm_v *w = wp;
        for (j = 0; j < np; j++, w += TM_RT_NB) {
            tm_v u = V_LOAD(base + toff[2 * j] + xs), v = V_LOAD(base + toff[2 * j + 1] + xs);
            tm_v lo = V_UNPLO(u, v), hi = V_UNPHI(u, v);
            a0l = V_ADD(a0l, V_MADD(lo, w[0]));
            a0h = V_ADD(a0h, V_MADD(hi, w[0]));
            a1l = V_ADD(a1l, V_MADD(lo, w[1]));
            a1h = V_ADD(a1h, V_MADD(hi, w[1]));
            a2l = V_ADD(a2l, V_MADD(lo, w[2]));
            a2h = V_ADD(a2h, V_MADD(hi, w[2]));
            a3l = V_ADD(a3l, V_MADD(lo, w[3]));
            a3h = V_ADD(a3h, V_MADD(hi, w[3]));
        }
        tm_rt_store(a0l, a0h, &rq[0], out[0] + xs, n - xs);
        if (nvalid > 1)
            tm_rt_store(a1l, a1h, &rq[1], out[1] + xs, n - xs);
        if (nvalid > 2)
            tm_rt_store(a2l, a2h, &rq[2], out[2] + xs, n - xs);
        if (nvalid > 3)
            tm_rt_store(a3l, a3h, &rq[3], out[3] + xs, n - xs);
    }
}

#define TM_RT_DRV_CONV tm_rt_conv_x86
#define TM_RT_DRV_WEIGHT tm_v
#include "tm_rt_simd_drivers.h"

#endif /* TM_RT_X86 */
