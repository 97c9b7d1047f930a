/* Conv on NEON: tiles of the int16 input, eight output channels per block,
 * one tap per vmlal_lane_s16. */
#include "tm_rt_simd.h"

#if defined(TM_RT_NEON)

#define TM_RT_NB 8 /* output channels per conv block */

/* Conv: weights of channels c0..c0+7 per tap, [tap][8] int16. */
static void tm_rt_pack_conv(const tm_rt_conv_args *a, size_t k, size_t rb, int c0, int16_t *wk)
{
    size_t t;
    int c;
    for (t = 0; t < k; t++)
        for (c = 0; c < TM_RT_NB; c++)
            wk[t * TM_RT_NB + (size_t)c] =
                (int16_t)(c0 + c < a->out_c ? tm_rt_w(a->weights, a->bits, rb, c0 + c, t) : 0);
}

#define TM_RT_MLA(i, wv, ln)                                                                 \
    do {                                                                                     \
        acc[i][0] = vmlal_lane_s16(acc[i][0], xl, wv, ln);                                   \
        acc[i][1] = vmlal_lane_s16(acc[i][1], xh, wv, ln);                                   \
    } while (0)

static void tm_rt_conv_row(const int16_t *base, const int32_t *toff, size_t k, const int16_t *wk,
                           const tm_rt_rqv *rq, int nvalid, int8_t *const *out, int n)
{
    size_t t;
    int x, c;
    for (x = 0; x < n; x += TM_RT_VX) {
        int xs = x + TM_RT_VX > n && n >= TM_RT_VX ? n - TM_RT_VX : x; /* overlap, no tail */
        int32x4_t acc[TM_RT_NB][2];
        for (c = 0; c < TM_RT_NB; c++)
            acc[c][0] = acc[c][1] = vdupq_n_s32(rq[c].q.bias);
        for (t = 0; t < k; t++) {
            int16x8_t xv = vld1q_s16(base + toff[t] + xs), wv = vld1q_s16(wk + t * TM_RT_NB);
            int16x4_t xl = vget_low_s16(xv), xh = vget_high_s16(xv);
            int16x4_t wl = vget_low_s16(wv), wh = vget_high_s16(wv);
            TM_RT_MLA(0, wl, 0);
            TM_RT_MLA(1, wl, 1);
            TM_RT_MLA(2, wl, 2);
            TM_RT_MLA(3, wl, 3);
            TM_RT_MLA(4, wh, 0);
            TM_RT_MLA(5, wh, 1);
            TM_RT_MLA(6, wh, 2);
            TM_RT_MLA(7, wh, 3);
        }
        for (c = 0; c < nvalid; c++)
            tm_rt_store(acc[c][0], acc[c][1], &rq[c], out[c] + xs, n - xs);
    }
}

#define TM_RT_DRV_CONV tm_rt_conv_neon
#define TM_RT_DRV_WEIGHT int16_t
#include "tm_rt_simd_drivers.h"

#endif /* TM_RT_NEON */
