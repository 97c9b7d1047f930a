/* Conv on aarch64 with the Armv8.2 dot product (Cortex-A76 / Raspberry Pi 5
 * class): sdot by lane adds four int8 x int8 products into each int32 lane,
 * so one instruction does 16 multiply-accumulates of 4 output positions for
 * one output channel. The tile holds channel quads as int8 (tm_rt_simd.h),
 * padding as the zero point; the accumulators start at
 * bias - in_zp x (sum of the channel's weights), which makes them equal the
 * reference's bias + sum (q - in_zp) w modulo 2^32. Eight output channels
 * and eight positions per step; requantisation is the NEON one. Fewer than
 * two input channels would leave most lanes idle: the NEON kernel runs
 * those. Pointwise convs pack their weights with vector code
 * (tm_rt_pack_quads_pw; 4-bit rows of whole octets of input channels as
 * nibble planes, tm_rt_pack_planes), other shapes with tm_rt_pack_quads. */
#include "tm_rt_simd.h"

#if defined(TM_RT_SDOT)

#define TM_RT_NBQ 8 /* output channels per block */

/* One output row segment of eight channels: n positions from base. The
 * accumulators are named variables (gcc keeps an array of them on the
 * stack around the group loop), and the row is a function of its own, as
 * tm_rt_conv_neon.c's. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void tm_rt_conv_sdot_row(const int8_t *base, const int32_t *toff, size_t ng,
                                const int8_t *wk, const tm_rt_rqv *rq, const int32_t *init,
                                int nvalid, int8_t *const *out, int n)
{
    size_t g;
    int x;
    for (x = 0; x < n; x += 8) {
        int xs = x + 8 > n && n >= 8 ? n - 8 : x; /* overlap, no tail */
        const int8_t *p = base + 4 * (size_t)xs;
        const int8_t *w = wk;
#define TM_RT_DECL(c) int32x4_t l##c = vdupq_n_s32(init[c]), h##c = l##c;
        TM_RT_DECL(0) TM_RT_DECL(1) TM_RT_DECL(2) TM_RT_DECL(3)
        TM_RT_DECL(4) TM_RT_DECL(5) TM_RT_DECL(6) TM_RT_DECL(7)
#undef TM_RT_DECL
        for (g = 0; g < ng; g++, w += 4 * TM_RT_NBQ) {
            int8x16_t u = vld1q_s8(p + toff[g]), v = vld1q_s8(p + toff[g] + 16);
            int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16);
#define TM_RT_DOT(c, wv, ln)                                                                 \
    l##c = vdotq_laneq_s32(l##c, u, wv, ln);                                                 \
    h##c = vdotq_laneq_s32(h##c, v, wv, ln);
            TM_RT_DOT(0, w0, 0)
            TM_RT_DOT(1, w0, 1)
            TM_RT_DOT(2, w0, 2)
            TM_RT_DOT(3, w0, 3)
            TM_RT_DOT(4, w1, 0)
            TM_RT_DOT(5, w1, 1)
            TM_RT_DOT(6, w1, 2)
            TM_RT_DOT(7, w1, 3)
#undef TM_RT_DOT
        }
#define TM_RT_ST(c)                                                                          \
    if ((c) < nvalid)                                                                        \
        tm_rt_store(l##c, h##c, &rq[c], out[c] + xs, n - xs);
        TM_RT_ST(0) TM_RT_ST(1) TM_RT_ST(2) TM_RT_ST(3)
        TM_RT_ST(4) TM_RT_ST(5) TM_RT_ST(6) TM_RT_ST(7)
#undef TM_RT_ST
    }
}

static const uint8_t tm_rt_iota16[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* 16 bytes of the weights from byte off on; off + 16 may pass the end n:
 * the last 16 bytes, shifted down (zeros after the end). n >= 16. */
TM_RT_INLINE int8x16_t tm_rt_wload16(const int8_t *w, size_t n, size_t off)
{
    if (off + 16 <= n)
        return vld1q_s8(w + off);
    return vqtbl1q_s8(vld1q_s8(w + n - 16),
                      vaddq_u8(vld1q_u8(tm_rt_iota16), vdupq_n_u8((uint8_t)(off + 16 - n))));
}

/* The same, zero from byte lim on (lim < 16). */
TM_RT_INLINE int8x16_t tm_rt_wload16_lim(const int8_t *w, size_t n, size_t off, int lim)
{
    uint8x16_t keep = vcltq_u8(vld1q_u8(tm_rt_iota16), vdupq_n_u8((uint8_t)lim));
    return vandq_s8(tm_rt_wload16(w, n, off), vreinterpretq_s8_u8(keep));
}

/* 8 packed 4-bit bytes (16 weights) from byte off on as int8, zero from
 * weight lim on; off + 8 may pass the end n (as tm_rt_wload16). n >= 8. */
TM_RT_INLINE int8x16_t tm_rt_wload16_4(const uint8_t *w, size_t n, size_t off, int lim)
{
    int8x8_t b, lo, hi;
    int8x16_t v;
    if (off + 8 <= n) {
        b = vreinterpret_s8_u8(vld1_u8(w + off));
    } else {
        uint8x8_t ix = vadd_u8(vld1_u8(tm_rt_iota16), vdup_n_u8((uint8_t)(off + 8 - n)));
        b = vreinterpret_s8_u8(vtbl1_u8(vld1_u8(w + n - 8), ix));
    }
    lo = vshr_n_s8(vshl_n_s8(b, 4), 4);
    hi = vshr_n_s8(b, 4);
    v = vcombine_s8(vzip1_s8(lo, hi), vzip2_s8(lo, hi));
    if (lim < 16)
        v = vandq_s8(v, vreinterpretq_s8_u8(vcltq_u8(vld1q_u8(tm_rt_iota16),
                                                    vdupq_n_u8((uint8_t)lim))));
    return v;
}

/* tm_rt_pack_quads for a pointwise conv (one tap per input channel): 16
 * input channels of eight output channels at a time, 4-byte groups
 * transposed with trn1 / trn2, the sums of weights by sdot with ones. */
static void tm_rt_pack_quads_pw(const tm_rt_conv_args *a, size_t rb, int c0, int8_t *wk,
                                uint32_t *wsum)
{
    const size_t total = (size_t)a->out_c * rb, ng = (size_t)(a->in_c + 3) / 4;
    const int nv = a->out_c - c0 < TM_RT_NBQ ? a->out_c - c0 : TM_RT_NBQ;
    const int8x16_t ones = vdupq_n_s8(1);
    int32x4_t sa = vdupq_n_s32(0), sb = sa;
    size_t h, g;
    int r;
    for (h = 0; 16 * h < (size_t)a->in_c; h++) {
        int lim = a->in_c - 16 * (int)h < 16 ? a->in_c - 16 * (int)h : 16;
        int8x16_t row[TM_RT_NBQ];
        uint32x4_t q[TM_RT_NBQ];
        for (r = 0; r < TM_RT_NBQ; r++) {
            size_t off = (size_t)(c0 + r) * rb + (a->bits == 4 ? 8 * h : 16 * h);
            row[r] = r >= nv        ? vdupq_n_s8(0)
                     : a->bits == 4 ? tm_rt_wload16_4((const uint8_t *)a->weights, total, off, lim)
                     : lim < 16 ? tm_rt_wload16_lim((const int8_t *)a->weights, total, off, lim)
                                : tm_rt_wload16((const int8_t *)a->weights, total, off);
        }
        for (r = 0; r < TM_RT_NBQ; r += 4) { /* rows r..r+3: 4 x 4 words transposed */
            uint32x4_t r0 = vreinterpretq_u32_s8(row[r]), r1 = vreinterpretq_u32_s8(row[r + 1]);
            uint32x4_t r2 = vreinterpretq_u32_s8(row[r + 2]), r3 = vreinterpretq_u32_s8(row[r + 3]);
            uint64x2_t t0 = vreinterpretq_u64_u32(vtrn1q_u32(r0, r1));
            uint64x2_t t1 = vreinterpretq_u64_u32(vtrn2q_u32(r0, r1));
            uint64x2_t t2 = vreinterpretq_u64_u32(vtrn1q_u32(r2, r3));
            uint64x2_t t3 = vreinterpretq_u64_u32(vtrn2q_u32(r2, r3));
            q[r] = vreinterpretq_u32_u64(vtrn1q_u64(t0, t2));
            q[r + 1] = vreinterpretq_u32_u64(vtrn1q_u64(t1, t3));
            q[r + 2] = vreinterpretq_u32_u64(vtrn2q_u64(t0, t2));
            q[r + 3] = vreinterpretq_u32_u64(vtrn2q_u64(t1, t3));
        }
        for (g = 0; g < 4 && 4 * h + g < ng; g++) {
            int8x16_t lo = vreinterpretq_s8_u32(q[g]), hi = vreinterpretq_s8_u32(q[4 + g]);
            vst1q_s8(wk + (4 * h + g) * 4 * TM_RT_NBQ, lo);
            vst1q_s8(wk + (4 * h + g) * 4 * TM_RT_NBQ + 16, hi);
            sa = vdotq_s32(sa, lo, ones);
            sb = vdotq_s32(sb, hi, ones);
        }
    }
    vst1q_u32(wsum, vreinterpretq_u32_s32(sa));
    vst1q_u32(wsum + 4, vreinterpretq_u32_s32(sb));
}

/* 4-bit pointwise rows of a multiple of 8 input channels, without
 * unpacking the nibbles into channel order: the 4 bytes of an octet o
 * (input channels 8 o .. 8 o + 7) of a row hold the even channels in their
 * low nibbles and the odd ones in the high nibbles, so group 2 o takes
 * channels 8 o + 0, 2, 4, 6 and group 2 o + 1 channels 8 o + 1, 3, 5, 7 (the
 * tile's quads are filled in the same order, tm_rt_conv_sdot). A tbl of
 * four rows' bytes gives four channels' octet, and two shifts its groups. */
static void tm_rt_pack_planes(const tm_rt_conv_args *a, size_t rb, int c0, int8_t *wk,
                              uint32_t *wsum)
{
    static const uint8_t idx16[16] = {0, 1, 2, 3, 16, 17, 18, 19, 32, 33, 34, 35, 48, 49, 50, 51};
    static const uint8_t idx8[16] = {0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27};
    const size_t total = (size_t)a->out_c * rb;
    const int nv = a->out_c - c0 < TM_RT_NBQ ? a->out_c - c0 : TM_RT_NBQ;
    const int8x16_t ones = vdupq_n_s8(1);
    const int8_t *w = (const int8_t *)a->weights;
    int32x4_t sa = vdupq_n_s32(0), sb = sa;
    size_t h, m, o;
    int r;
#define TM_RT_PLANES(tbl, idx, h, nm)                                                         \
    do {                                                                                     \
        uint8x16_t ix = vld1q_u8(idx);                                                       \
        for (m = 0; m < (nm); m++, ix = vaddq_u8(ix, vdupq_n_u8(4))) {                      \
            int8x16_t va = tbl(ra, ix), vb = tbl(rbv, ix);                                   \
            int8x16_t la = vshrq_n_s8(vshlq_n_s8(va, 4), 4), ha = vshrq_n_s8(va, 4);         \
            int8x16_t lb = vshrq_n_s8(vshlq_n_s8(vb, 4), 4), hb = vshrq_n_s8(vb, 4);         \
            int8_t *d = wk + (4 * (h) + m) * 2 * 4 * TM_RT_NBQ;                              \
            vst1q_s8(d, la);                                                                 \
            vst1q_s8(d + 16, lb);                                                            \
            vst1q_s8(d + 32, ha);                                                            \
            vst1q_s8(d + 48, hb);                                                            \
            sa = vdotq_s32(vdotq_s32(sa, la, ones), ha, ones);                               \
            sb = vdotq_s32(vdotq_s32(sb, lb, ones), hb, ones);                               \
        }                                                                                    \
    } while (0)
    if (rb == 8 && nv == TM_RT_NBQ) { /* 16 channels: the block's rows are 64 bytes in a row */
        const int8_t *b = w + (size_t)c0 * rb;
        int8x16x2_t ra, rbv;
        ra.val[0] = vld1q_s8(b);
        ra.val[1] = vld1q_s8(b + 16);
        rbv.val[0] = vld1q_s8(b + 32);
        rbv.val[1] = vld1q_s8(b + 48);
        TM_RT_PLANES(vqtbl2q_s8, idx8, 0, 2);
    } else {
        for (h = 0, o = 0; o < rb / 4; h++, o += 4) { /* 16 bytes (32 channels) of each row */
            size_t nm = rb / 4 - o < 4 ? rb / 4 - o : 4;
            int8x16x4_t ra, rbv;
            int8x16_t row[TM_RT_NBQ];
            for (r = 0; r < TM_RT_NBQ; r++) {
                size_t off = (size_t)(c0 + r) * rb + 16 * h;
                row[r] = r < nv ? tm_rt_wload16(w, total, off) : vdupq_n_s8(0);
            }
            ra.val[0] = row[0];
            ra.val[1] = row[1];
            ra.val[2] = row[2];
            ra.val[3] = row[3];
            rbv.val[0] = row[4];
            rbv.val[1] = row[5];
            rbv.val[2] = row[6];
            rbv.val[3] = row[7];
            TM_RT_PLANES(vqtbl4q_s8, idx16, h, nm);
        }
    }
#undef TM_RT_PLANES
    vst1q_u32(wsum, vreinterpretq_u32_s32(sa));
    vst1q_u32(wsum + 4, vreinterpretq_u32_s32(sb));
}

/* The int16 plan's geometry and offsets, as tm_rt_conv_vnni.c: the quad
 * tile, the packed weights and one unpacked 4-bit row fit it from two input
 * channels on. */
tm_rt_status tm_rt_conv_sdot(const tm_rt_conv_args *a)
{
    tm_rt_plan p;
    int8_t *base, *tile, *wts, *wtmp;
    int32_t *toff;
    size_t rb, plane, ng, qstride;
    int y0, x0, cb, r, q, i, c, j, cq, pack;
    if (a->in_c < 2)
        return tm_rt_conv_neon(a);
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    tm_rt_conv_plan(a, &p);
    base = tm_rt_aligned(a->scratch);
    tile = base + p.tile_off;
    toff = (int32_t *)(void *)(base + p.toff_off);
    wts = base + p.w_off;
    rb = tm_rt_weight_row_bytes(p.k, a->bits);
    /* pack 1: one tap per input channel, and at least 16 weight bytes in all;
     * 2: 4-bit such rows of whole octets, in nibble planes */
    pack = a->kh == 1 && a->kw == 1 && (size_t)a->out_c * rb >= 16;
    if (pack && a->bits == 4 && a->in_c % 8 == 0)
        pack = 2;
    plane = (size_t)p.eih * (size_t)p.eiw;
    cq = (a->in_c + 3) / 4;
    ng = (size_t)cq * (size_t)a->kh * (size_t)a->kw;
    qstride = (size_t)p.hb * (size_t)p.s * (size_t)p.pw * 4;
    wtmp = (int8_t *)(void *)wts + tm_rt_round(ng * TM_RT_NBQ * 4, TM_RT_ALIGN);
    tm_rt_quad_offsets(cq, a->kh, a->kw, p.s, p.hb, p.pw, toff);
    for (y0 = 0; y0 < p.eoh; y0 += p.nr) {
        int nr = p.eoh - y0 < p.nr ? p.eoh - y0 : p.nr;
        int hb = (nr - 1) * p.s + a->kh;
        for (x0 = 0; x0 < p.eow; x0 += p.nx) {
            int nx = p.eow - x0 < p.nx ? p.eow - x0 : p.nx;
            for (q = 0; q < cq; q++)
                for (i = 0; i < hb; i++) {
                    int iy = y0 * p.s - a->pad_top + i;
                    const int8_t *src[4];
                    for (j = 0; j < 4; j++) {
                        /* quad q: channels 4 q .. 4 q + 3, or a nibble plane's (pack 2) */
                        int ch = pack == 2 ? 8 * (q / 2) + q % 2 + 2 * j : 4 * q + j;
                        src[j] = iy >= 0 && iy < p.eih && ch < a->in_c
                                     ? a->input + (size_t)ch * plane + (size_t)iy * p.eiw
                                     : NULL;
                    }
                    tm_rt_fill_quad((uint8_t *)(void *)(tile + (size_t)q * qstride +
                                                        (size_t)i * p.s * p.pw * 4),
                                    src, p.eiw, x0 * p.s - a->pad_left, p.s, p.pw, 0,
                                    (uint8_t)a->in_zp);
                }
            for (cb = 0; cb < a->out_c; cb += TM_RT_NBQ) {
                tm_rt_rqv rq[TM_RT_NBQ];
                int32_t init[TM_RT_NBQ];
                uint32_t wsum[TM_RT_NBQ];
                int nvalid = a->out_c - cb < TM_RT_NBQ ? a->out_c - cb : TM_RT_NBQ;
                if (pack == 2)
                    tm_rt_pack_planes(a, rb, cb, wts, wsum);
                else if (pack)
                    tm_rt_pack_quads_pw(a, rb, cb, wts, wsum);
                else
                    tm_rt_pack_quads(a, rb, cb, TM_RT_NBQ, wts, wsum, wtmp);
                for (c = 0; c < TM_RT_NBQ; c++) {
                    tm_rt_rqv_init(&rq[c], a, c < nvalid ? cb + c : cb);
                    init[c] = tm_rt_wrap32((uint32_t)rq[c].q.bias - (uint32_t)a->in_zp * wsum[c]);
                }
                for (r = 0; r < nr; r++) {
                    int8_t *out[TM_RT_NBQ];
                    for (c = 0; c < nvalid; c++)
                        out[c] = a->output + ((size_t)(cb + c) * p.eoh + (size_t)(y0 + r)) * p.eow +
                                 x0;
                    tm_rt_conv_sdot_row(tile + (size_t)r * p.s * p.s * p.pw * 4, toff, ng, wts,
                                        rq, init, nvalid, out, nx);
                }
            }
        }
    }
    return TM_RT_OK;
}

#endif /* TM_RT_SDOT */
