/* Conv on NEON: tiles of the int16 input, eight output channels per block.
 * 8-bit weights: one tap per vmlal_lane_s16 (int32 lanes). 4-bit weights:
 * one tap per vmlaq_lane_s16 into int16 lanes, widened to int32 every 16
 * taps: a product is at most 255 x 8 = 2,040 in size and 16 of them 32,640,
 * so the int16 sums are exact (wrapping or not in between) and the int32
 * sums equal the reference's. The shared driver (tm_rt_simd_drivers.h)
 * picks the row kernel by the weights' width (TM_RT_DRV_ROW); on aarch64 a
 * block's weights are packed by vector code. */
#include "tm_rt_simd.h"

#if defined(TM_RT_NEON)

#define TM_RT_NB 8 /* output channels per conv block */

/* The row kernels stay functions of their own (named tm_rt_conv_*, so
 * counts per kernel find them): inlined, they make the driver big enough
 * that gcc no longer inlines tm_rt_fill_row there. */
#if defined(__GNUC__)
#define TM_RT_ROWFN static __attribute__((noinline))
#else
#define TM_RT_ROWFN static
#endif

#if defined(__aarch64__)
/* 8 bytes of the weights from byte off on (off + 8 may pass the end n:
 * the last 8 bytes, shifted down, zeros after the end). n >= 8. */
TM_RT_INLINE uint8x8_t tm_rt_wload8(const uint8_t *w, size_t n, size_t off)
{
    static const uint8_t iota[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    if (off + 8 <= n)
        return vld1_u8(w + off);
    return vtbl1_u8(vld1_u8(w + n - 8), vadd_u8(vld1_u8(iota), vdup_n_u8((uint8_t)(off + 8 - n))));
}

/* Weights of channels c0..c0+7 per tap, [tap][8] int16 (channels past out_c
 * 0; taps from k on up to the next even one may hold anything). Eight rows
 * of 8 bytes form a 64-byte table (8 taps of 8-bit weights, 16 of 4-bit);
 * one vqtbl4q_u8 gives two taps of all eight channels. */
static void tm_rt_pack_conv(const tm_rt_conv_args *a, size_t k, size_t rb, int c0, int16_t *wk)
{
    static const uint8_t idx8[16] = {0, 8, 16, 24, 32, 40, 48, 56, 1, 9, 17, 25, 33, 41, 49, 57};
    static const uint8_t idx4[16] = {0, 8, 16, 24, 32, 40, 48, 56, 0, 8, 16, 24, 32, 40, 48, 56};
    static const int8_t sh4[16] = {4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t *w = (const uint8_t *)a->weights;
    size_t total = (size_t)a->out_c * rb, t0, m;
    int nv = a->out_c - c0 < TM_RT_NB ? a->out_c - c0 : TM_RT_NB, c, r;
    int four = a->bits == 4;
    size_t step = four ? 16 : 8;
    if (total < 8) { /* too small for 8-byte loads */
        for (t0 = 0; t0 < k; t0++)
            for (c = 0; c < TM_RT_NB; c++)
                wk[t0 * TM_RT_NB + (size_t)c] =
                    (int16_t)(c < nv ? tm_rt_w(a->weights, a->bits, rb, c0 + c, t0) : 0);
        return;
    }
    for (t0 = 0; t0 < k; t0 += step) {
        size_t off = four ? t0 / 2 : t0;
        uint8x8_t row[TM_RT_NB];
        uint8x16x4_t tb;
        uint8x16_t ix = vld1q_u8(four ? idx4 : idx8);
        for (r = 0; r < TM_RT_NB; r++)
            row[r] = r < nv ? tm_rt_wload8(w, total, (size_t)(c0 + r) * rb + off) : vdup_n_u8(0);
        tb.val[0] = vcombine_u8(row[0], row[1]);
        tb.val[1] = vcombine_u8(row[2], row[3]);
        tb.val[2] = vcombine_u8(row[4], row[5]);
        tb.val[3] = vcombine_u8(row[6], row[7]);
        for (m = 0; m < step / 2 && t0 + 2 * m < k; m++) {
            int8x16_t v = vreinterpretq_s8_u8(vqtbl4q_u8(tb, ix));
            int16_t *d = wk + (t0 + 2 * m) * TM_RT_NB;
            if (four) /* low nibbles (even tap) in lanes 0-7, high ones (odd tap) in 8-15 */
                v = vshrq_n_s8(vshlq_s8(v, vld1q_s8(sh4)), 4);
            vst1q_s16(d, vmovl_s8(vget_low_s8(v)));
            vst1q_s16(d + TM_RT_NB, vmovl_s8(vget_high_s8(v)));
            ix = vaddq_u8(ix, vdupq_n_u8(four ? 1 : 2));
        }
    }
}

#else
/* 32-bit NEON has no 64-byte table lookup: one weight at a time. */
static void tm_rt_pack_conv(const tm_rt_conv_args *a, size_t k, size_t rb, int c0, int16_t *wk)
{
    size_t t;
    int c;
    for (t = 0; t < k; t++)
        for (c = 0; c < TM_RT_NB; c++)
            wk[t * TM_RT_NB + (size_t)c] =
                (int16_t)(c0 + c < a->out_c ? tm_rt_w(a->weights, a->bits, rb, c0 + c, t) : 0);
}
#endif

/* The accumulators are named variables, not arrays: gcc keeps arrays of
 * vectors on the stack around the tap loop. */
#define TM_RT_ACC8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

#define TM_RT_STORE1(c, lo, hi, x)                                                           \
    if ((c) < nvalid)                                                                        \
        tm_rt_store(lo, hi, &rq[c], out[c] + (x), n - (x));

TM_RT_ROWFN void tm_rt_conv_row(const int16_t *base, const int32_t *toff, size_t k,
                                const int16_t *wk, const tm_rt_rqv *rq, int nvalid,
                                int8_t *const *out, int n)
{
    size_t t;
    int x;
    for (x = 0; x < n; x += TM_RT_VX) {
        int xs = x + TM_RT_VX > n && n >= TM_RT_VX ? n - TM_RT_VX : x; /* overlap, no tail */
#define TM_RT_DECL(c) int32x4_t l##c = vdupq_n_s32(rq[c].q.bias), h##c = l##c;
        TM_RT_ACC8(TM_RT_DECL)
#undef TM_RT_DECL
        for (t = 0; t < k; t++) {
            int16x8_t xv = vld1q_s16(base + toff[t] + xs), wv = vld1q_s16(wk + t * TM_RT_NB);
#if defined(__aarch64__) /* smlal2 and by-lane of a q register: no half moves */
#define TM_RT_MLA(c, w, ln)                                                                  \
    l##c = vmlal_laneq_s16(l##c, vget_low_s16(xv), wv, c);                                   \
    h##c = vmlal_high_laneq_s16(h##c, xv, wv, c);
#else
            int16x4_t xl = vget_low_s16(xv), xh = vget_high_s16(xv);
            int16x4_t wl = vget_low_s16(wv), wh = vget_high_s16(wv);
#define TM_RT_MLA(c, w, ln)                                                                  \
    l##c = vmlal_lane_s16(l##c, xl, w, ln);                                                  \
    h##c = vmlal_lane_s16(h##c, xh, w, ln);
#endif
            TM_RT_MLA(0, wl, 0)
            TM_RT_MLA(1, wl, 1)
            TM_RT_MLA(2, wl, 2)
            TM_RT_MLA(3, wl, 3)
            TM_RT_MLA(4, wh, 0)
            TM_RT_MLA(5, wh, 1)
            TM_RT_MLA(6, wh, 2)
            TM_RT_MLA(7, wh, 3)
#undef TM_RT_MLA
        }
#define TM_RT_ST(c) TM_RT_STORE1(c, l##c, h##c, xs)
        TM_RT_ACC8(TM_RT_ST)
#undef TM_RT_ST
    }
}

/* Tap t of 4-bit weights into int16 sums s0..s7 of positions xv: lane c of
 * wv (Armv7 has no by-lane form over a whole q register). */
#if defined(__aarch64__)
#define TM_RT_MLAQ_LANE(acc, xv, c) vmlaq_laneq_s16(acc, xv, wv, c)
#else
#define TM_RT_MLAQ_LANE(acc, xv, c)                                                          \
    vmlaq_lane_s16(acc, xv, (c) < 4 ? vget_low_s16(wv) : vget_high_s16(wv), (c) & 3)
#endif
#define TM_RT_MLA16(s, xv)                                                                   \
    do {                                                                                     \
        s##0 = TM_RT_MLAQ_LANE(s##0, xv, 0);                                                 \
        s##1 = TM_RT_MLAQ_LANE(s##1, xv, 1);                                                 \
        s##2 = TM_RT_MLAQ_LANE(s##2, xv, 2);                                                 \
        s##3 = TM_RT_MLAQ_LANE(s##3, xv, 3);                                                 \
        s##4 = TM_RT_MLAQ_LANE(s##4, xv, 4);                                                 \
        s##5 = TM_RT_MLAQ_LANE(s##5, xv, 5);                                                 \
        s##6 = TM_RT_MLAQ_LANE(s##6, xv, 6);                                                 \
        s##7 = TM_RT_MLAQ_LANE(s##7, xv, 7);                                                 \
    } while (0)

/* 4-bit weights, up to 16 taps: 16 positions at once (positions x0 .. x0 + 15). */
TM_RT_INLINE void tm_rt_conv_row4_16(const int16_t *base, const int32_t *toff, size_t k,
                                     const int16_t *wk, const tm_rt_rqv *rq, int nvalid,
                                     int8_t *const *out, int n, int x0)
{
    size_t t;
#define TM_RT_DECL(c) int16x8_t s##c = vdupq_n_s16(0), u##c = s##c;
    TM_RT_ACC8(TM_RT_DECL)
#undef TM_RT_DECL
    for (t = 0; t < k; t++) {
        const int16_t *p = base + toff[t] + x0;
        int16x8_t xa = vld1q_s16(p), xb = vld1q_s16(p + 8), wv = vld1q_s16(wk + t * TM_RT_NB);
        TM_RT_MLA16(s, xa);
        TM_RT_MLA16(u, xb);
    }
#define TM_RT_ST(c)                                                                          \
    if ((c) < nvalid) {                                                                      \
        int32x4_t b = vdupq_n_s32(rq[c].q.bias);                                             \
        tm_rt_store(vaddw_s16(b, vget_low_s16(s##c)), vaddw_s16(b, vget_high_s16(s##c)),     \
                    &rq[c], out[c] + x0, n - x0);                                            \
        tm_rt_store(vaddw_s16(b, vget_low_s16(u##c)), vaddw_s16(b, vget_high_s16(u##c)),     \
                    &rq[c], out[c] + x0 + 8, n - x0 - 8);                                    \
    }
    TM_RT_ACC8(TM_RT_ST)
#undef TM_RT_ST
}

TM_RT_ROWFN void tm_rt_conv_row4(const int16_t *base, const int32_t *toff, size_t k,
                                 const int16_t *wk, const tm_rt_rqv *rq, int nvalid,
                                 int8_t *const *out, int n)
{
    size_t t0, t;
    int x = 0;
    if (k <= 16 && n >= 16) {
        for (; x + 16 <= n; x += 16)
            tm_rt_conv_row4_16(base, toff, k, wk, rq, nvalid, out, n, x);
        if (n - x > 8) {
            tm_rt_conv_row4_16(base, toff, k, wk, rq, nvalid, out, n, n - 16);
            return;
        }
    }
    for (; x < n; x += TM_RT_VX) {
        int xs = x + TM_RT_VX > n && n >= TM_RT_VX ? n - TM_RT_VX : x; /* overlap, no tail */
#define TM_RT_DECL(c) int32x4_t l##c = vdupq_n_s32(rq[c].q.bias), h##c = l##c;
        TM_RT_ACC8(TM_RT_DECL)
#undef TM_RT_DECL
        for (t0 = 0; t0 < k; t0 += 16) {
            size_t te = k - t0 < 16 ? k : t0 + 16;
#define TM_RT_DECL(c) int16x8_t s##c = vdupq_n_s16(0);
            TM_RT_ACC8(TM_RT_DECL)
#undef TM_RT_DECL
            for (t = t0; t < te; t++) {
                int16x8_t xv = vld1q_s16(base + toff[t] + xs), wv = vld1q_s16(wk + t * TM_RT_NB);
                TM_RT_MLA16(s, xv);
            }
#define TM_RT_WIDEN(c)                                                                       \
    l##c = vaddw_s16(l##c, vget_low_s16(s##c));                                              \
    h##c = vaddw_s16(h##c, vget_high_s16(s##c));
            TM_RT_ACC8(TM_RT_WIDEN)
#undef TM_RT_WIDEN
        }
#define TM_RT_ST(c) TM_RT_STORE1(c, l##c, h##c, xs)
        TM_RT_ACC8(TM_RT_ST)
#undef TM_RT_ST
    }
}

/* The shared driver (tm_rt_simd_drivers.h), with the row kernel chosen by
 * the weights' width. */
#define TM_RT_DRV_CONV tm_rt_conv_neon
#define TM_RT_DRV_WEIGHT int16_t
#define TM_RT_DRV_ROW(a, ...)                                                               \
    ((a)->bits == 4 ? tm_rt_conv_row4(__VA_ARGS__) : tm_rt_conv_row(__VA_ARGS__))
#include "tm_rt_simd_drivers.h"

#endif /* TM_RT_NEON */
