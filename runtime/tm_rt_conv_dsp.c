/* Conv (pointwise included) and dense for Arm cores with the DSP extension
 * (__ARM_FEATURE_DSP: Cortex-M4, M7, M33...), without NEON: SMLAD does two
 * 16-bit multiply-accumulates per instruction.
 *
 * Conv: the input is CHW, so the taps of one output position are strided;
 * a tile of output positions has its taps gathered once into int16 columns
 * (zero point subtracted, padding 0) that every output channel then reads,
 * four positions at a time: one weight load and its unpacking feed eight
 * SMLADs (int8) or sixteen (int4). Columns pair taps the way the weights
 * unpack, so weights are never reordered: int8 groups of four as (t0, t2),
 * (t1, t3) (SXTB16); int4 groups of eight as (t0, t4), (t2, t6) (the low
 * nibbles, laid out as an int8 group) then (t1, t5), (t3, t7) (the high
 * ones), which one AND each gives at the top of each halfword, 4096 times
 * each weight (the jobs; SMMLA takes the 4096 x sums), or SXTB16 from the
 * nibbles moved to the top of each byte, 16 times (other rows). An int4 row
 * whose last group has 1 to 4 taps ends in a half group of four read from a
 * halfword of nibbles, so no int4 layer does more work than at int8. For a 1x1
 * stride-1 conv four positions of one channel are one word, and a 4 x 4
 * block of (channel, position) bytes is transposed in registers (SXTB16,
 * PKHBT / PKHTB); other convs take a word per tap where four positions lie
 * in one output row. A channel's whole blocks of a tile run in one call
 * (tm_rt_dsp_job8 / job4) that keeps the loop, the requantisation and the
 * store in registers. Weight rows are read in place; only the last row is
 * copied (zero-padded), so the last word of a row never reads past the
 * weights. When every channel takes the short requantisation, a tile's
 * channels run in one pass (tm_rt_dsp_tile_run). Dense: the input is
 * unpacked once per chunk for every pair of output rows.
 *
 * Accumulation is exact modulo 2^32 as in the reference. Requantisation
 * (tm_rt_dsp.h) is three instructions per output where that is provably the
 * same, tm_rt_requant elsewhere; four outputs of a channel are clamped and
 * stored as one word. runtime/tools/cortexm/kernels_main.c checks every
 * kernel against tm_rt_*_ref under QEMU. */
#include "tm_rt_kernels.h"

/* Taps of a column rounded up to a whole int4 group (so to int8 groups too). */
static size_t tm_rt_dsp_kp(size_t k)
{
    return (k + 7) & ~(size_t)7;
}

/* Output positions per tile: about 4 KB of columns, 4 to 64 positions
 * (each output channel's set-up is paid once a tile), no more than the
 * output has (rounded up to 4). */
static int tm_rt_dsp_tile(size_t k, int out_h, int out_w)
{
    size_t t = (2048 / tm_rt_dsp_kp(k)) & ~(size_t)3, n = ((size_t)out_h * (size_t)out_w + 3) & ~(size_t)3;
    t = t < 4 ? 4 : (t > 64 ? 64 : t);
    return (int)(n < t ? n : t); /* n = 0 only for shapes the kernels reject */
}

/* Dense: inputs unpacked per chunk (at most 512, so the scratch stays small
 * for any input length; a multiple of 8 when there are more; int4 at most
 * 256, tm_rt_dsp_drows4_u). */
static size_t tm_rt_dsp_dense_chunk(size_t k, int bits)
{
    const size_t most = (size_t)bits * 64; /* 512 or 256 */
    return k < most ? k : most;
}

/* Defined on every host: tm_rt_kernel_scratch_bytes_for sizes any build. */
size_t tm_rt_conv_dsp_scratch_bytes(const tm_rt_conv_args *a, tm_rt_kernel_kind kind)
{
    size_t k;
    if (kind == TM_RT_KERNEL_DENSE)
        /* alignment, a chunk of the unpacked input, each row's sum */
        return 4 + tm_rt_dsp_dense_chunk((size_t)a->in_c, a->bits) * sizeof(int16_t) + (size_t)a->out_c * 4;
    if (kind != TM_RT_KERNEL_CONV)
        return 0;
    k = (size_t)a->in_c * (size_t)a->kh * (size_t)a->kw;
    /* alignment, the columns of a tile, a copy of the last weight row */
    return 4 + (size_t)tm_rt_dsp_tile(k, a->out_h, a->out_w) * tm_rt_dsp_kp(k) * sizeof(int16_t) + k + 4;
}

#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_NEON)
#include "tm_rt_dsp.h"

int32_t tm_rt_dsp_rq_exact(uint32_t acc, const tm_rt_conv_args *a, int c)
{
    /* saturating: every caller clamps to int8 after */
    return __qadd(tm_rt_requant(tm_rt_dsp_wrap(acc), a->mult[c], a->shift[c]), a->out_zp);
}

/* Halfword of tap r of a group in its columns, position 0: int8 pairs (t0,
 * t2), (t1, t3); int4 (t0, t4), (t2, t6), the low nibbles, then 16 on (t1,
 * t5), (t3, t7), the high ones. */
static const unsigned char tm_rt_dsp_slot8[4] = {0, 2, 1, 3};
static const unsigned char tm_rt_dsp_off4[8] = {0, 16, 2, 18, 1, 17, 3, 19};

/* int4 rows whose last group has 1 to 4 taps end in a half group: four taps
 * from one halfword of nibbles, as int8's groups of four cost (no int4 row
 * pays for more taps than int8's). */
static int tm_rt_dsp_half(size_t k, int bits)
{
    return bits == 4 && (k & 7) != 0 && (k & 7) <= 4;
}

/* Column halfwords of one position: taps rounded up to whole groups (int8:
 * 4; int4: 8, or a half group of 4 at the end). */
static size_t tm_rt_dsp_kcols(size_t k, int bits)
{
    return bits == 8 || tm_rt_dsp_half(k, bits) ? (k + 3) & ~(size_t)3 : tm_rt_dsp_kp(k);
}

/* Halfword of tap t of position j in a block of four positions: groups of
 * gs taps (4 positions x gs halfwords each) in SXTB16's pairing; taps from kf
 * on are an int4 half group, its words (t1, t0), (t3, t2) as
 * TM_RT_DSP_HALF4 unpacks the nibbles. */
TM_RT_DSP_INLINE size_t tm_rt_dsp_cidx(size_t t, int j, int bits, size_t kf)
{
    if (bits == 8)
        return (t >> 2) * 16 + (size_t)j * 4 + tm_rt_dsp_slot8[t & 3];
    if (t < kf)
        return (t >> 3) * 32 + tm_rt_dsp_off4[t & 7] + (size_t)j * 4;
    return kf * 4 + (size_t)j * 4 + ((t & 3) ^ 1);
}

/* Bound on |sum of products| of one output: k taps of |x - zp| <= 255 and
 * |w| <= 128 (int8) or 8 (int4; its jobs scale it by 16 or 4096). */
static uint32_t tm_rt_dsp_bound(size_t k, int bits)
{
    uint64_t m = (uint64_t)k * 255u * (bits == 8 ? 128u : 8u);
    return m >= (1u << 30) ? (1u << 30) : (uint32_t)m;
}

TM_RT_DSP_INLINE int32_t tm_rt_dsp_w(const uint8_t *row, int bits, size_t t)
{
    if (bits == 8)
        return ((const int8_t *)(const void *)row)[t];
    {
        int32_t n = (t & 1) ? row[t / 2] >> 4 : row[t / 2] & 15;
        return n >= 8 ? n - 16 : n;
    }
}

/* Words va, vb of taps ta, tb at four positions (byte j: position j) ->
 * the (ta, tb) int16 pair of position j at o[j m], zero point subtracted. */
TM_RT_DSP_INLINE void tm_rt_dsp_pair4(uint32_t va, uint32_t vb, int32_t zz, uint32_t *o, size_t m)
{
    uint32_t a0 = (uint32_t)__ssub16(__sxtb16((int32_t)va), zz);
    uint32_t a1 = (uint32_t)__ssub16(tm_rt_dsp_sxtb16_r8(va), zz);
    uint32_t b0 = (uint32_t)__ssub16(__sxtb16((int32_t)vb), zz);
    uint32_t b1 = (uint32_t)__ssub16(tm_rt_dsp_sxtb16_r8(vb), zz);
    o[0] = tm_rt_dsp_pkhbt16(a0, b0);
    o[m] = tm_rt_dsp_pkhbt16(a1, b1);
    o[2 * m] = tm_rt_dsp_pkhtb16(b0, a0);
    o[3 * m] = tm_rt_dsp_pkhtb16(b1, a1);
}

#if !defined(__OPTIMIZE_SIZE__)
/* tm_rt_dsp_pair4 with m = 2 as one asm statement: sixteen instructions,
 * whatever GCC would make of several in a row. */
TM_RT_DSP_INLINE void tm_rt_dsp_pair4s(uint32_t va, uint32_t vb, int32_t zz, uint32_t *o)
{
    uint32_t a0, a1, b0, b1;
    /* volatile: its only results are the stores */
    __asm__ volatile("sxtb16 %[a0], %[va]\n\t"
            "ssub16 %[a0], %[a0], %[zz]\n\t"
            "sxtb16 %[a1], %[va], ror #8\n\t"
            "ssub16 %[a1], %[a1], %[zz]\n\t"
            "sxtb16 %[b0], %[vb]\n\t"
            "ssub16 %[b0], %[b0], %[zz]\n\t"
            "sxtb16 %[b1], %[vb], ror #8\n\t"
            "ssub16 %[b1], %[b1], %[zz]\n\t"
            "pkhbt %[va], %[a0], %[b0], lsl #16\n\t"
            "str %[va], [%[o]]\n\t"
            "pkhbt %[va], %[a1], %[b1], lsl #16\n\t"
            "str %[va], [%[o], #8]\n\t"
            "pkhtb %[va], %[b0], %[a0], asr #16\n\t"
            "str %[va], [%[o], #16]\n\t"
            "pkhtb %[va], %[b1], %[a1], asr #16\n\t"
            "str %[va], [%[o], #24]"
            : [a0] "=&r"(a0), [a1] "=&r"(a1), [b0] "=&r"(b0), [b1] "=&r"(b1), [va] "+&r"(va)
            : [vb] "r"(vb), [zz] "r"(zz), [o] "r"(o)
            : "memory");
}
#endif

/* First column word of pair wi of a group (position 0; position j at + 2 j):
 * int8 (t0, t2), (t1, t3); int4 (t0, t4), (t2, t6) | (t1, t5), (t3, t7), the
 * low nibbles' half of a group before the high nibbles'. */
TM_RT_DSP_INLINE size_t tm_rt_dsp_wbase(size_t wi, int bits)
{
    return bits == 8 ? wi : (wi >> 1) * 8 + (wi & 1);
}

#if !defined(__OPTIMIZE_SIZE__)
/* Pairs n tap words of four positions (taps done.. of the row, in whole
 * groups) into columns at o; returns the end. */
TM_RT_DSP_INLINE uint32_t *tm_rt_dsp_pairs(const uint32_t *tw, size_t n, size_t done, size_t kf, int bits,
                                           int32_t zz, uint32_t *o)
{
    size_t i = 0;
    if (bits == 8) {
        for (; i < n; i += 4, o += 8) {
            tm_rt_dsp_pair4s(tw[i], tw[i + 2], zz, o);
            tm_rt_dsp_pair4s(tw[i + 1], tw[i + 3], zz, o + 1);
        }
        return o;
    }
    /* int4, four taps at a time as int8: a whole group's low nibbles' half
     * (t0, t4), (t2, t6), then its high nibbles' (t1, t5), (t3, t7); the half
     * group (t1, t0), (t3, t2) */
    for (; i < n; i += 4, o += 8) {
        const uint32_t *q = tw + i;
        if (done + i >= kf) {
            tm_rt_dsp_pair4s(q[1], q[0], zz, o);
            tm_rt_dsp_pair4s(q[3], q[2], zz, o + 1);
        } else if (!(i & 4)) {
            tm_rt_dsp_pair4s(q[0], q[4], zz, o);
            tm_rt_dsp_pair4s(q[2], q[6], zz, o + 1);
        } else {
            tm_rt_dsp_pair4s(q[-3], q[1], zz, o);
            tm_rt_dsp_pair4s(q[-1], q[3], zz, o + 1);
        }
    }
    return o;
}

/* Four positions of one output row (stride 1, kw <= 56): each tap is one
 * word of an input row, byte by byte (zero point outside) where the word
 * crosses an edge, the zero point in every byte for a row outside and for the
 * taps past k. The words are fetched in order into up to 64 (a kernel row's
 * bounds checked once where the row is inside), then paired in whole groups.
 * Out of line: inlined, its state would be spilled around the caller's. */
TM_RT_DSP_INLINE void tm_rt_dsp_gather_row4(const tm_rt_conv_args *a, int oy0, int ix0, size_t kp, size_t kf,
                                            int bits, int16_t *blk)
{
    const int32_t zz = (int32_t)(((uint32_t)a->in_zp & 0xFFFFu) * 0x10001u);
    const uint32_t zp4 = tm_rt_dsp_bytes4(a->in_zp);
    const int in_w = a->in_w, kw = a->kw, in_h = a->in_h, inside = ix0 >= 0 && ix0 + kw + 3 <= in_w;
    const size_t plane = (size_t)in_h * (size_t)in_w;
    uint32_t tw[64], *w = tw, *o = (uint32_t *)(void *)blk;
    size_t done = 0, n;
    int ci, ky, kx;
    if (inside && kp <= 64 && oy0 >= a->pad_top && oy0 - a->pad_top + a->kh <= in_h) {
        /* every tap inside (most blocks): no bounds, no flush */
        const int8_t *r0 = a->input + (size_t)(oy0 - a->pad_top) * (size_t)in_w + ix0;
        for (ci = 0; ci < a->in_c; ci++, r0 += plane) {
            const int8_t *r = r0;
            for (ky = 0; ky < a->kh; ky++, r += in_w)
                for (kx = 0; kx < kw; kx++)
                    *w++ = tm_rt_dsp_ld32(r + kx);
        }
        while (w < tw + kp)
            *w++ = zp4;
        tm_rt_dsp_pairs(tw, kp, 0, kf, bits, zz, o);
        return;
    }
    for (ci = 0; ci < a->in_c; ci++)
        for (ky = 0; ky < a->kh; ky++) {
            int iy = oy0 - a->pad_top + ky, ix = ix0;
            const int8_t *r = a->input + (size_t)ci * plane + (size_t)iy * (size_t)in_w + ix0;
            if (w + kw > tw + 64) {
                /* pair the whole groups, keep the rest */
                n = (size_t)(w - tw) & ~(size_t)7;
                o = tm_rt_dsp_pairs(tw, n, done, kf, bits, zz, o);
                done += n;
                memmove(tw, tw + n, (size_t)(w - tw - (ptrdiff_t)n) * sizeof *tw);
                w -= n;
            }
            if (iy < 0 || iy >= in_h) {
                for (kx = 0; kx < kw; kx++)
                    *w++ = zp4;
            } else if (inside) {
                for (kx = 0; kx < kw; kx++)
                    *w++ = tm_rt_dsp_ld32(r + kx);
            } else {
                r -= ix0;
                for (kx = 0; kx < kw; kx++, ix++) {
                    uint32_t v = zp4;
                    if (ix >= 0 && ix + 4 <= in_w) {
                        v = tm_rt_dsp_ld32(r + ix);
                    } else {
                        int b, x = ix;
                        for (b = 0; b < 4; b++, x++)
                            if (x >= 0 && x < in_w)
                                v = (v & ~(0xFFu << (8 * b))) | (uint32_t)(uint8_t)r[x] << (8 * b);
                    }
                    *w++ = v;
                }
            }
        }
    if (w > tw + 56) {
        n = (size_t)(w - tw) & ~(size_t)7;
        o = tm_rt_dsp_pairs(tw, n, done, kf, bits, zz, o);
        done += n;
        memmove(tw, tw + n, (size_t)(w - tw - (ptrdiff_t)n) * sizeof *tw);
        w -= n;
    }
    while (done + (size_t)(w - tw) < kp)
        *w++ = zp4;
    tm_rt_dsp_pairs(tw, (size_t)(w - tw), done, kf, bits, zz, o);
}

/* one function per weight width, so that each is compiled for its own */
static __attribute__((noinline)) void tm_rt_dsp_gather_row4_8(const tm_rt_conv_args *a, int oy0, int ix0,
                                                              size_t kp, int16_t *blk)
{
    tm_rt_dsp_gather_row4(a, oy0, ix0, kp, kp, 8, blk);
}

static __attribute__((noinline)) void tm_rt_dsp_gather_row4_4(const tm_rt_conv_args *a, int oy0, int ix0,
                                                              size_t kp, size_t kf, int16_t *blk)
{
    tm_rt_dsp_gather_row4(a, oy0, ix0, kp, kf, 4, blk);
}
#endif

/* Columns of four positions: pos < n_valid from (oy, ox) on, the rest 0. */
static void tm_rt_dsp_gather(const tm_rt_conv_args *a, int p, int n_valid, size_t k, size_t kp, size_t kf,
                             int bits, int16_t *blk)
{
    const size_t gs = bits == 8 ? 4 : 8, plane = (size_t)a->in_h * a->in_w;
    const int pw = a->kh == 1 && a->kw == 1 && a->stride == 1 && a->out_w == a->in_w && n_valid == 4;
    int j;
#if !defined(__OPTIMIZE_SIZE__)
    const int oy0 = p / a->out_w, ox0 = p % a->out_w, ix0 = ox0 - a->pad_left;
    if (!pw && a->stride == 1 && n_valid == 4 && ox0 + 3 < a->out_w && a->kw <= 56) {
        if (bits == 8)
            tm_rt_dsp_gather_row4_8(a, oy0, ix0, kp, blk);
        else
            tm_rt_dsp_gather_row4_4(a, oy0, ix0, kp, kf, blk);
        return;
    }
#endif
    if (pw) {
        /* pointwise: tap t is channel t; a word is four positions of it */
        const int8_t *x = a->input + p;
        const int32_t zz = (int32_t)(((uint32_t)a->in_zp & 0xFFFFu) * 0x10001u);
        size_t g, wi, m = gs / 2, kg = k / gs * gs;
        uint32_t *o = (uint32_t *)(void *)blk;
#if !defined(__OPTIMIZE_SIZE__)
        const size_t p1 = plane, p2 = 2 * plane, p3 = 3 * plane;
        const int8_t *r = x;
        if (bits == 8) {
            for (g = 0; g < kg; g += 4, o += 8, r += 4 * plane) {
                tm_rt_dsp_pair4(tm_rt_dsp_ld32(r), tm_rt_dsp_ld32(r + p2), zz, o, 2);
                tm_rt_dsp_pair4(tm_rt_dsp_ld32(r + p1), tm_rt_dsp_ld32(r + p3), zz, o + 1, 2);
            }
        } else {
            for (g = 0; g < kg; g += 8, o += 16, r += 8 * plane) {
                const int8_t *r4 = r + 4 * plane;
                tm_rt_dsp_pair4(tm_rt_dsp_ld32(r), tm_rt_dsp_ld32(r4), zz, o, 2);
                tm_rt_dsp_pair4(tm_rt_dsp_ld32(r + p2), tm_rt_dsp_ld32(r4 + p2), zz, o + 1, 2);
                tm_rt_dsp_pair4(tm_rt_dsp_ld32(r + p1), tm_rt_dsp_ld32(r4 + p1), zz, o + 8, 2);
                tm_rt_dsp_pair4(tm_rt_dsp_ld32(r + p3), tm_rt_dsp_ld32(r4 + p3), zz, o + 9, 2);
            }
        }
        (void)wi;
        (void)m;
#else
        for (g = 0; g < kg; g += gs, o += 4 * m)
            for (wi = 0; wi < m; wi++) {
                /* word wi of a position pairs taps ta and tb of the group */
                size_t ta = bits == 8 ? wi : (size_t)((wi & 1) * 2 + (wi >> 1));
                tm_rt_dsp_pair4(tm_rt_dsp_ld32(x + (g + ta) * plane), tm_rt_dsp_ld32(x + (g + ta + m) * plane),
                                zz, o + tm_rt_dsp_wbase(wi, bits), 2);
            }
#endif
        if (kg == kp)
            return;
    }
    for (j = 0; j < 4; j++) {
        int oy = (p + j) / a->out_w, ox = (p + j) % a->out_w, ci, ky, kx;
        size_t t = 0, skip = pw ? k / gs * gs : 0;
        if (j < n_valid)
            for (ci = 0; ci < a->in_c; ci++)
                for (ky = 0; ky < a->kh; ky++) {
                    int iy = oy * a->stride - a->pad_top + ky, ok = iy >= 0 && iy < a->in_h;
                    const int8_t *src = a->input + (size_t)ci * plane + (size_t)(ok ? iy : 0) * a->in_w;
                    int ix = ox * a->stride - a->pad_left;
                    for (kx = 0; kx < a->kw; kx++, ix++, t++)
                        if (t >= skip)
                            blk[tm_rt_dsp_cidx(t, j, bits, kf)] =
                                (int16_t)(ok && ix >= 0 && ix < a->in_w ? src[ix] - a->in_zp : 0);
                }
        for (t = t > skip ? t : skip; t < kp; t++)
            blk[tm_rt_dsp_cidx(t, j, bits, kf)] = 0;
    }
}

TM_RT_DSP_INLINE void tm_rt_dsp_g8(uint32_t v, const uint32_t *c, int32_t *s0, int32_t *s1, int32_t *s2,
                                   int32_t *s3)
{
    int32_t wa = __sxtb16((int32_t)v), wb = tm_rt_dsp_sxtb16_r8((v));
    *s0 = __smlad(wb, (int32_t)c[1], __smlad(wa, (int32_t)c[0], *s0));
    *s1 = __smlad(wb, (int32_t)c[3], __smlad(wa, (int32_t)c[2], *s1));
    *s2 = __smlad(wb, (int32_t)c[5], __smlad(wa, (int32_t)c[4], *s2));
    *s3 = __smlad(wb, (int32_t)c[7], __smlad(wa, (int32_t)c[6], *s3));
}

/* acc[0..3] += row . four columns over n groups of 4 int8 taps / 8 int4
 * taps. Out of line so the loop gets every register, not the caller's. */
static __attribute__((noinline)) void tm_rt_dsp_dot8(const uint8_t *row, const uint32_t *c, size_t n,
                                                     uint32_t acc[4])
{
    int32_t s0 = (int32_t)acc[0], s1 = (int32_t)acc[1], s2 = (int32_t)acc[2], s3 = (int32_t)acc[3];
    const uint8_t *end = row + 4 * n;
    for (; row < end; row += 4, c += 8)
        tm_rt_dsp_g8(tm_rt_dsp_ld32(row), c, &s0, &s1, &s2, &s3);
    acc[0] = (uint32_t)s0;
    acc[1] = (uint32_t)s1;
    acc[2] = (uint32_t)s2;
    acc[3] = (uint32_t)s3;
}

/* Four positions of one unpacked weight pair (wa, wb) and the next eight
 * column words. */
#define TM_RT_DSP_A4                                                                           \
    "ldrd %[x0], %[x1], [%[c]], #8\n\t"                                                        \
    "smlad %[s0], %[wa], %[x0], %[s0]\n\t"                                                     \
    "smlad %[s0], %[wb], %[x1], %[s0]\n\t"                                                     \
    "ldrd %[x0], %[x1], [%[c]], #8\n\t"                                                        \
    "smlad %[s1], %[wa], %[x0], %[s1]\n\t"                                                     \
    "smlad %[s1], %[wb], %[x1], %[s1]\n\t"                                                     \
    "ldrd %[x0], %[x1], [%[c]], #8\n\t"                                                        \
    "smlad %[s2], %[wa], %[x0], %[s2]\n\t"                                                     \
    "smlad %[s2], %[wb], %[x1], %[s2]\n\t"                                                     \
    "ldrd %[x0], %[x1], [%[c]], #8\n\t"                                                        \
    "smlad %[s3], %[wa], %[x0], %[s3]\n\t"                                                     \
    "smlad %[s3], %[wb], %[x1], %[s3]\n\t"

/* The whole groups of an int4 row from row to end (at least one), then
 * (HALF) its half group at end, into s0..s3; LOOP "" leaves the groups out
 * (rows of a half group alone). One asm statement in twelve registers, so the
 * block loop around it keeps its own (GCC spills the output pointer every
 * block and rematerialises the nibble mask otherwise): 34 instructions for
 * 8 taps of four positions, as int8's two groups of four, and a half group
 * as one int8 group. BIC #0x0F0F0F0F keeps the high nibble of each byte. */
#define TM_RT_DSP_ASM4(LOOP, HALF) __asm__(LOOP HALF TM_RT_DSP_ASM4_OPS)
#define TM_RT_DSP_LOOP4                                                                        \
            "1:\n\t"                                                                           \
            "ldr %[v], [%[row]], #4\n\t"                                                       \
            "lsl %[wa], %[v], #4\n\t"                                                          \
            "bic %[wa], %[wa], #0x0F0F0F0F\n\t"                                                \
            "sxtb16 %[wb], %[wa], ror #8\n\t"                                                  \
            "sxtb16 %[wa], %[wa]\n\t" TM_RT_DSP_A4 "bic %[v], %[v], #0x0F0F0F0F\n\t"           \
            "sxtb16 %[wa], %[v]\n\t"                                                           \
            "sxtb16 %[wb], %[v], ror #8\n\t" TM_RT_DSP_A4 "cmp %[row], %[end]\n\t"             \
            "bne 1b\n\t"
#define TM_RT_DSP_ASM4_OPS                                                                     \
            : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [c] "+r"(c),         \
              [row] "+r"(row), [v] "=&r"(v), [wa] "=&r"(wa), [wb] "=&r"(wb), [x0] "=&r"(x0),   \
              [x1] "=&r"(x1)                                                                   \
            : [end] "r"(end)                                                                   \
            : "cc", "memory"

/* The half group's four taps from the halfword h of nibbles at row: h |
 * h << 20 with the high nibble of each byte kept holds them at the top of
 * bytes (t1, t3, t0, t2), so SXTB16 gives 16 x (t1, t0) and, rotated,
 * 16 x (t3, t2). */
#define TM_RT_DSP_HALF4                                                                        \
    "ldrh %[v], [%[row]]\n\t"                                                                  \
    "orr %[v], %[v], %[v], lsl #20\n\t"                                                        \
    "bic %[v], %[v], #0x0F0F0F0F\n\t"                                                          \
    "sxtb16 %[wa], %[v]\n\t"                                                                   \
    "sxtb16 %[wb], %[v], ror #8\n\t" TM_RT_DSP_A4

/* half: the row ends in a half group after the n whole ones. */
static __attribute__((noinline)) void tm_rt_dsp_dot4(const uint8_t *row, const uint32_t *c, size_t n,
                                                     int half, uint32_t acc[4])
{
    int32_t s0 = (int32_t)acc[0], s1 = (int32_t)acc[1], s2 = (int32_t)acc[2], s3 = (int32_t)acc[3];
#if defined(__OPTIMIZE_SIZE__)
    /* the 16 KB build: one unpacking for every four taps (low nibbles, high
     * nibbles, the half group), each laid out as an int8 group */
    size_t g, ng = 2 * n + (size_t)half;
    for (g = 0; g < ng; g++, c += 8) {
        uint32_t v;
        if (g == 2 * n) {
            uint16_t h;
            memcpy(&h, row + 4 * n, 2);
            v = (uint32_t)h | (uint32_t)h << 20;
        } else {
            v = tm_rt_dsp_ld32(row + g / 2 * 4) << (g & 1 ? 0 : 4);
        }
        tm_rt_dsp_g8(v & 0xF0F0F0F0u, c, &s0, &s1, &s2, &s3);
    }
#else
    const uint8_t *end = row + 4 * n;
    int32_t x0, x1;
    uint32_t v, wa, wb;
    if (n)
        TM_RT_DSP_ASM4(TM_RT_DSP_LOOP4, "");
    if (half)
        TM_RT_DSP_ASM4("", TM_RT_DSP_HALF4);
#endif
    acc[0] = (uint32_t)s0;
    acc[1] = (uint32_t)s1;
    acc[2] = (uint32_t)s2;
    acc[3] = (uint32_t)s3;
}

#if !defined(__OPTIMIZE_SIZE__)
/* One channel over the whole blocks of a tile, fast requantisation: the
 * dot, the requantisation and the store of each block stay in registers.
 * (The -Os build, the 16 KB goal, leaves these out: every block takes the
 * dot and tm_rt_dsp_out4.) */
typedef struct tm_rt_dsp_job {
    const uint8_t *row, *end; /* the weight row; the end of its whole groups */
    const uint32_t *cols;
    int8_t *out, *oend; /* the first block's output, past the last one's */
    int negfix;
    uint32_t bias, lo4, hi4;
    int32_t mult, k, rs;
} tm_rt_dsp_job;

/* Two column words at *c, c advanced past them: one LDRD (GCC does not pair
 * these loads itself). */
TM_RT_DSP_INLINE void tm_rt_dsp_ld2(const uint32_t **c, int32_t *x0, int32_t *x1)
{
    const uint32_t *p = *c;
    __asm__("ldrd %0, %1, [%2], #8" : "=r"(*x0), "=r"(*x1), "+r"(p) : "m"(*(const uint32_t(*)[2])p));
    *c = p;
}

/* plain: no sign term, no clamp past SSAT's (act_min = out_zp = -128,
 * act_max = 127: every ReLU layer of a calibrated model), known at compile
 * time so those blocks pay nothing for them. k4: t are 4096 x sums (the
 * int4 jobs: SMMLA, the sign term as -2^11), else 2 x (SMMLAR, -1). */
TM_RT_DSP_INLINE void tm_rt_dsp_job_out(const tm_rt_dsp_job *j, int8_t *out, int32_t t0, int32_t t1,
                                        int32_t t2, int32_t t3, int plain, int k4)
{
    const int32_t m = j->mult, kq = j->k, rs = j->rs;
    int32_t h0 = k4 ? tm_rt_dsp_smmla(t0, m, kq) : tm_rt_dsp_smmlar(t0, m, kq);
    int32_t h1 = k4 ? tm_rt_dsp_smmla(t1, m, kq) : tm_rt_dsp_smmlar(t1, m, kq);
    int32_t h2 = k4 ? tm_rt_dsp_smmla(t2, m, kq) : tm_rt_dsp_smmlar(t2, m, kq);
    int32_t h3 = k4 ? tm_rt_dsp_smmla(t3, m, kq) : tm_rt_dsp_smmlar(t3, m, kq);
    if (plain) {
        tm_rt_dsp_store4p(out, h0 >> rs, h1 >> rs, h2 >> rs, h3 >> rs);
        return;
    }
    if (j->negfix) {
        const int sh = k4 ? 11 : 0;
        h0 += (int32_t)((uint32_t)(t0 >> 31) << sh);
        h1 += (int32_t)((uint32_t)(t1 >> 31) << sh);
        h2 += (int32_t)((uint32_t)(t2 >> 31) << sh);
        h3 += (int32_t)((uint32_t)(t3 >> 31) << sh);
    }
    tm_rt_dsp_store4(out, h0 >> rs, h1 >> rs, h2 >> rs, h3 >> rs, j->lo4, j->hi4);
}

/* One int8 group (weight word v) of four positions from the columns at *c:
 * s_i = a_i + its products (a_i: the bias for a row's first group). */
TM_RT_DSP_INLINE void tm_rt_dsp_g8c(uint32_t v, const uint32_t **c, int32_t a0, int32_t a1, int32_t a2,
                                    int32_t a3, int32_t *s0, int32_t *s1, int32_t *s2, int32_t *s3)
{
    int32_t wa = __sxtb16((int32_t)v), wb = tm_rt_dsp_sxtb16_r8(v), x0, x1;
    tm_rt_dsp_ld2(c, &x0, &x1);
    *s0 = __smlad(wb, x1, __smlad(wa, x0, a0));
    tm_rt_dsp_ld2(c, &x0, &x1);
    *s1 = __smlad(wb, x1, __smlad(wa, x0, a1));
    tm_rt_dsp_ld2(c, &x0, &x1);
    *s2 = __smlad(wb, x1, __smlad(wa, x0, a2));
    tm_rt_dsp_ld2(c, &x0, &x1);
    *s3 = __smlad(wb, x1, __smlad(wa, x0, a3));
}

TM_RT_DSP_INLINE void tm_rt_dsp_job8_body(const tm_rt_dsp_job *j, int plain)
{
    const uint32_t *c = j->cols;
    int8_t *out;
    for (out = j->out; out != j->oend; out += 4) {
        const int32_t b = (int32_t)j->bias;
        int32_t s0, s1, s2, s3;
        const uint8_t *row = j->row, *end = j->end;
        /* the first group from the bias itself (every row has one) */
        tm_rt_dsp_g8c(tm_rt_dsp_ld32(row), &c, b, b, b, b, &s0, &s1, &s2, &s3);
        for (row += 4; row < end; row += 4)
            tm_rt_dsp_g8c(tm_rt_dsp_ld32(row), &c, s0, s1, s2, s3, &s0, &s1, &s2, &s3);
        tm_rt_dsp_job_out(j, out, (int32_t)((uint32_t)s0 << 1), (int32_t)((uint32_t)s1 << 1),
                          (int32_t)((uint32_t)s2 << 1), (int32_t)((uint32_t)s3 << 1), plain, 0);
    }
}

static __attribute__((noinline)) void tm_rt_dsp_job8(const tm_rt_dsp_job *j)
{
    tm_rt_dsp_job8_body(j, 0);
}


#if !defined(__OPTIMIZE_SIZE__)
/* A half group of 1 or 2 taps: its taps 2 and 3 meet zero columns, so only
 * (t1, t0) is multiplied (the column words (t3, t2) are skipped). */
/* The pair wa against the first column word of each of the four positions. */
#define TM_RT_DSP_A4_1                                                                         \
    "ldr %[x0], [%[c]], #8\n\t"                                                                \
    "smlad %[s0], %[wa], %[x0], %[s0]\n\t"                                                     \
    "ldr %[x0], [%[c]], #8\n\t"                                                                \
    "smlad %[s1], %[wa], %[x0], %[s1]\n\t"                                                     \
    "ldr %[x0], [%[c]], #8\n\t"                                                                \
    "smlad %[s2], %[wa], %[x0], %[s2]\n\t"                                                     \
    "ldr %[x0], [%[c]], #8\n\t"                                                                \
    "smlad %[s3], %[wa], %[x0], %[s3]\n\t"
#define TM_RT_DSP_HALF2                                                                        \
    "ldrh %[v], [%[row]]\n\t"                                                                  \
    "orr %[v], %[v], %[v], lsl #20\n\t"                                                        \
    "bic %[v], %[v], #0x0F0F0F0F\n\t"                                                          \
    "sxtb16 %[wa], %[v]\n\t" TM_RT_DSP_A4_1
#endif

/* half: the rows end in a half group (2: of 1 or 2 taps); whole: they have
 * whole groups (constants in each caller) */
TM_RT_DSP_INLINE void tm_rt_dsp_job4_body(const tm_rt_dsp_job *j, int half, int whole)
{
    const uint32_t *c = j->cols;
    int8_t *out;
    for (out = j->out; out != j->oend; out += 4) {
        int32_t s0 = (int32_t)j->bias, s1 = s0, s2 = s0, s3 = s0, x0, x1;
        const uint8_t *row = j->row, *end = j->end;
        uint32_t v, wa, wb;
        if (!whole && half == 2)
            TM_RT_DSP_ASM4("", TM_RT_DSP_HALF2);
        else if (!whole)
            TM_RT_DSP_ASM4("", TM_RT_DSP_HALF4);
        else if (half == 2)
            TM_RT_DSP_ASM4(TM_RT_DSP_LOOP4, TM_RT_DSP_HALF2);
        else if (half)
            TM_RT_DSP_ASM4(TM_RT_DSP_LOOP4, TM_RT_DSP_HALF4);
        else
            TM_RT_DSP_ASM4(TM_RT_DSP_LOOP4, "");
        (void)wb;
        tm_rt_dsp_job_out(j, out, s0 >> 3, s1 >> 3, s2 >> 3, s3 >> 3, 0, 0); /* 16 x acc -> 2 x acc */
    }
}

static __attribute__((noinline)) void tm_rt_dsp_job4(const tm_rt_dsp_job *j)
{
    tm_rt_dsp_job4_body(j, 0, 1);
}

static __attribute__((noinline)) void tm_rt_dsp_job4h(const tm_rt_dsp_job *j)
{
    tm_rt_dsp_job4_body(j, 1, 1);
}

static __attribute__((noinline)) void tm_rt_dsp_job4q(const tm_rt_dsp_job *j)
{
    tm_rt_dsp_job4_body(j, 1, 0);
}

static __attribute__((noinline)) void tm_rt_dsp_job4h2(const tm_rt_dsp_job *j)
{
    tm_rt_dsp_job4_body(j, 2, 1);
}

static __attribute__((noinline)) void tm_rt_dsp_job4q2(const tm_rt_dsp_job *j)
{
    tm_rt_dsp_job4_body(j, 2, 0);
}

/* int4 jobs at 4096 x acc, for channels whose 4096 x (bound + |bias|)
 * stays below 2^31 (bound: tm_rt_dsp_bound; up to 257 taps without a bias)
 * and rs <= 11 (tm_rt_dsp_all_fast). A weight word's nibbles ANDed
 * with 0xF000F000 after a shift of 12, 4, 8 or 0 are the pairs (t0, t4),
 * (t2, t6), (t1, t5), (t3, t7) at the top of each halfword, 4096 x each
 * weight: one instruction per pair (the 16 x jobs take 7 per group for 4),
 * in the columns' order, so the gather is the same. The requantisation
 * takes 4096 x acc directly: with n = 1 for acc < 0 (the sign term,
 * negfix; else 0),
 *   floor((SMMULR(2 acc, m) + k - n) / 2^rs)
 *     = floor((floor(4096 acc m / 2^32) + 2^10 + (k - n) 2^11) / 2^(rs + 11))
 * (nested floors of integers), so SMMLA with K = 2^10 + k 2^11, minus 2^11
 * for n, and one ASR by rs + 11: no shift back to 2 x acc. |K| < 2^30 for
 * rs <= 11. */
#define TM_RT_DSP_G4K                                                                          \
    "ldr %[v], [%[row]], #4\n\t"                                                               \
    "and %[wa], %[mk], %[v], lsl #12\n\t"                                                      \
    "and %[wb], %[mk], %[v], lsl #4\n\t" TM_RT_DSP_A4                                          \
    "and %[wa], %[mk], %[v], lsl #8\n\t"                                                       \
    "and %[wb], %[mk], %[v]\n\t" TM_RT_DSP_A4
#define TM_RT_DSP_LOOP4K "1:\n\t" TM_RT_DSP_G4K "cmp %[row], %[end]\n\tbne 1b\n\t"
/* A row's first group with s0 = the bias: s1..s3 start from it (positions
 * 1 to 3 read ahead of 0), no copies of the bias. */
#define TM_RT_DSP_G4K_FIRST                                                                    \
    "ldr %[v], [%[row]], #4\n\t"                                                               \
    "and %[wa], %[mk], %[v], lsl #12\n\t"                                                      \
    "and %[wb], %[mk], %[v], lsl #4\n\t"                                                       \
    "ldrd %[x0], %[x1], [%[c], #8]\n\t"                                                        \
    "smlad %[s1], %[wa], %[x0], %[s0]\n\t"                                                     \
    "smlad %[s1], %[wb], %[x1], %[s1]\n\t"                                                     \
    "ldrd %[x0], %[x1], [%[c], #16]\n\t"                                                       \
    "smlad %[s2], %[wa], %[x0], %[s0]\n\t"                                                     \
    "smlad %[s2], %[wb], %[x1], %[s2]\n\t"                                                     \
    "ldrd %[x0], %[x1], [%[c], #24]\n\t"                                                       \
    "smlad %[s3], %[wa], %[x0], %[s0]\n\t"                                                     \
    "smlad %[s3], %[wb], %[x1], %[s3]\n\t"                                                     \
    "ldrd %[x0], %[x1], [%[c]], #32\n\t"                                                       \
    "smlad %[s0], %[wa], %[x0], %[s0]\n\t"                                                     \
    "smlad %[s0], %[wb], %[x1], %[s0]\n\t"                                                     \
    "and %[wa], %[mk], %[v], lsl #8\n\t"                                                       \
    "and %[wb], %[mk], %[v]\n\t" TM_RT_DSP_A4
/* the half group from the halfword h: v = h | h << 20 puts t1, t0 at bits
 * 4 and 20 (shift 8: (t1, t0)) and t3, t2 at bits 12 and 28 ((t3, t2)) */
#define TM_RT_DSP_HALF4K                                                                       \
    "ldrh %[v], [%[row]]\n\t"                                                                  \
    "orr %[v], %[v], %[v], lsl #20\n\t"                                                        \
    "and %[wa], %[mk], %[v], lsl #8\n\t"                                                       \
    "and %[wb], %[mk], %[v]\n\t" TM_RT_DSP_A4
#define TM_RT_DSP_HALF2K                                                                       \
    "ldrh %[v], [%[row]]\n\t"                                                                  \
    "orr %[v], %[v], %[v], lsl #20\n\t"                                                        \
    "and %[wa], %[mk], %[v], lsl #8\n\t" TM_RT_DSP_A4_1
#define TM_RT_DSP_ASM4K_OUTS                                                                   \
    [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [c] "+r"(c), [row] "+r"(row),  \
        [v] "=&r"(v), [wa] "=&r"(wa), [wb] "=&r"(wb), [x0] "=&r"(x0), [x1] "=&r"(x1)
/* with a loop (end is its bound) / straight-line groups (one register
 * fewer). Thirteen registers with the loop: r0-r12 and lr, so it needs a
 * build without a frame pointer or a reserved PIC register (the -O2 device
 * builds; -Os leaves these jobs out). */
#define TM_RT_DSP_ASM4K(BODY) __asm__(BODY : TM_RT_DSP_ASM4K_OUTS : [end] "r"(end), [mk] "r"(mk) : "cc", "memory")
#define TM_RT_DSP_ASM4U(BODY) __asm__(BODY : TM_RT_DSP_ASM4K_OUTS : [mk] "r"(mk) : "cc", "memory")
/* starting with TM_RT_DSP_G4K_FIRST: s1..s3 are outputs only */
#define TM_RT_DSP_ASM4K_F_OUTS                                                                 \
    [s0] "+r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), [c] "+r"(c), [row] "+r"(row), \
        [v] "=&r"(v), [wa] "=&r"(wa), [wb] "=&r"(wb), [x0] "=&r"(x0), [x1] "=&r"(x1)
#define TM_RT_DSP_ASM4KF(BODY)                                                                 \
    __asm__(TM_RT_DSP_G4K_FIRST BODY : TM_RT_DSP_ASM4K_F_OUTS : [end] "r"(end), [mk] "r"(mk) : "cc", "memory")
#define TM_RT_DSP_ASM4UF(BODY)                                                                 \
    __asm__(TM_RT_DSP_G4K_FIRST BODY : TM_RT_DSP_ASM4K_F_OUTS : [mk] "r"(mk) : "cc", "memory")

/* The forms of a row: 1 to 4 whole groups straight (form = the count),
 * five or more in a loop (form 0), the loop then a half group (of 3 or 4
 * taps / of 1 or 2), a half group alone. */
enum {
    TM_RT_DSP_F4K_LOOP = 0,
    TM_RT_DSP_F4K_G1,
    TM_RT_DSP_F4K_G2,
    TM_RT_DSP_F4K_G3,
    TM_RT_DSP_F4K_G4,
    TM_RT_DSP_F4K_LH,
    TM_RT_DSP_F4K_H,
    TM_RT_DSP_F4K_LH2,
    TM_RT_DSP_F4K_H2,
    TM_RT_DSP_F4K_N
};

TM_RT_DSP_INLINE void tm_rt_dsp_job4k_body(const tm_rt_dsp_job *j, int form, int plain)
{
    const uint32_t *c = j->cols;
    const uint32_t mk = 0xF000F000u;
    int8_t *out;
    for (out = j->out; out != j->oend; out += 4) {
        int32_t s0 = (int32_t)j->bias, s1, s2, s3, x0, x1;
        const uint8_t *row = j->row, *end = j->end;
        uint32_t v, wa, wb;
        /* the half-group forms may have no whole group to start with */
        if (form >= TM_RT_DSP_F4K_LH)
            s1 = s2 = s3 = s0;
        switch (form) {
        case TM_RT_DSP_F4K_G1: TM_RT_DSP_ASM4UF(""); break;
        case TM_RT_DSP_F4K_G2: TM_RT_DSP_ASM4UF(TM_RT_DSP_G4K); break;
        case TM_RT_DSP_F4K_G3: TM_RT_DSP_ASM4UF(TM_RT_DSP_G4K TM_RT_DSP_G4K); break;
        case TM_RT_DSP_F4K_G4: TM_RT_DSP_ASM4UF(TM_RT_DSP_G4K TM_RT_DSP_G4K TM_RT_DSP_G4K); break;
        case TM_RT_DSP_F4K_LH: TM_RT_DSP_ASM4K(TM_RT_DSP_LOOP4K TM_RT_DSP_HALF4K); break;
        case TM_RT_DSP_F4K_H: TM_RT_DSP_ASM4U(TM_RT_DSP_HALF4K); break;
        case TM_RT_DSP_F4K_LH2: TM_RT_DSP_ASM4K(TM_RT_DSP_LOOP4K TM_RT_DSP_HALF2K); break;
        case TM_RT_DSP_F4K_H2: TM_RT_DSP_ASM4U(TM_RT_DSP_HALF2K); break;
        default: TM_RT_DSP_ASM4KF(TM_RT_DSP_LOOP4K); break; /* TM_RT_DSP_F4K_LOOP */
        }
        (void)end;
        (void)wb;
        (void)x1;
        tm_rt_dsp_job_out(j, out, s0, s1, s2, s3, plain, 1);
    }
}

#define TM_RT_DSP_JOB4K(form)                                                                  \
    static __attribute__((noinline)) void tm_rt_dsp_job4k_##form(const tm_rt_dsp_job *j)      \
    {                                                                                          \
        tm_rt_dsp_job4k_body(j, form, 0);                                                      \
    }                                                                                          \
    static __attribute__((noinline)) void tm_rt_dsp_job4kp_##form(const tm_rt_dsp_job *j)     \
    {                                                                                          \
        tm_rt_dsp_job4k_body(j, form, 1);                                                      \
    }
TM_RT_DSP_JOB4K(0)
TM_RT_DSP_JOB4K(1)
TM_RT_DSP_JOB4K(2)
TM_RT_DSP_JOB4K(3)
TM_RT_DSP_JOB4K(4)
TM_RT_DSP_JOB4K(5)
TM_RT_DSP_JOB4K(6)
TM_RT_DSP_JOB4K(7)
TM_RT_DSP_JOB4K(8)
#undef TM_RT_DSP_JOB4K

/* [plain][form] */
static void (*const tm_rt_dsp_jobs4k[2][TM_RT_DSP_F4K_N])(const tm_rt_dsp_job *) = {
    {tm_rt_dsp_job4k_0, tm_rt_dsp_job4k_1, tm_rt_dsp_job4k_2, tm_rt_dsp_job4k_3, tm_rt_dsp_job4k_4,
     tm_rt_dsp_job4k_5, tm_rt_dsp_job4k_6, tm_rt_dsp_job4k_7, tm_rt_dsp_job4k_8},
    {tm_rt_dsp_job4kp_0, tm_rt_dsp_job4kp_1, tm_rt_dsp_job4kp_2, tm_rt_dsp_job4kp_3, tm_rt_dsp_job4kp_4,
     tm_rt_dsp_job4kp_5, tm_rt_dsp_job4kp_6, tm_rt_dsp_job4kp_7, tm_rt_dsp_job4kp_8}};

static __attribute__((noinline)) void tm_rt_dsp_job8p(const tm_rt_dsp_job *j)
{
    tm_rt_dsp_job8_body(j, 1);
}

/* A tile's whole blocks for every output channel (every channel fast;
 * int4: every channel 4096 x, tm_rt_dsp_all_fast): a channel's requantisation
 * constants are a few instructions from mult, shift and bias, not
 * tm_rt_dsp_conv_run's generic per-channel set-up. */
typedef struct tm_rt_dsp_tjob {
    const tm_rt_conv_args *a;
    void (*job)(const tm_rt_dsp_job *);
    const uint8_t *last; /* the last channel's zero-padded row copy, or NULL */
    size_t rb, rend;     /* row bytes; bytes of its whole groups */
    size_t kcols;        /* column halfwords of a position */
    int bits;            /* a->bits, read once: the stores through j may alias *a */
} tm_rt_dsp_tjob;

/* Every channel takes the short requantisation, as tm_rt_dsp_rq_init's
 * fast, and for int4 the 4096 x jobs (rs <= 11, 4096 x (bound + |bias|) <
 * 2^31), in a few instructions a channel. */
static int tm_rt_dsp_all_fast(const tm_rt_conv_args *a, uint32_t bound, uint32_t lim)
{
    const uint32_t rmax = a->bits == 4 ? 11u : 21u, blim = a->bits == 4 ? (1u << 19) : lim;
    int co;
    if (bound >= blim)
        return 0;
    for (co = 0; co < a->out_c; co++) {
        const int32_t b = a->bias ? a->bias[co] : 0;
        const uint32_t ab = b < 0 ? 0u - (uint32_t)b : (uint32_t)b;
        const uint32_t rs1 = 0u - (uint32_t)a->shift[co] - 1u; /* rs - 1 */
        if (a->mult[co] < 0 || rs1 >= rmax || ab >= blim - bound)
            return 0;
    }
    return 1;
}

/* One channel of tm_rt_dsp_tile_run: j's row, output and requantisation
 * constants, then its whole blocks and its tail. */
TM_RT_DSP_INLINE void tm_rt_dsp_tile_chan(tm_rt_dsp_job *j, void (*job)(const tm_rt_dsp_job *),
                                          const uint8_t *row, size_t rend, int8_t *out, int nblk,
                                          int ntail, const uint32_t *tcols, int32_t mult, int32_t rs,
                                          uint32_t b, uint32_t zk, int x4)
{
    const uint32_t k = zk << (rs - 1);
    j->row = row;
    j->end = row + rend;
    j->out = out;
    j->oend = out + 4 * nblk;
    j->mult = mult;
    if (x4) {
        j->bias = b * 4096u;
        j->k = (int32_t)(k * 2048u + 1024u);
        j->rs = rs + 11;
    } else {
        j->bias = b;
        j->k = (int32_t)k;
        j->rs = rs;
    }
    if (nblk)
        job(j);
    if (ntail) {
        int8_t tail[4];
        const uint32_t *cols = j->cols;
        j->cols = tcols;
        j->out = tail;
        j->oend = tail + 4;
        job(j);
        memcpy(out + 4 * nblk, tail, (size_t)ntail);
        j->cols = cols;
    }
}

/* j: cols, negfix, lo4, hi4 set; the tile's positions p0 .. p0 + 4 nblk +
 * ntail - 1 (ntail < 4: a last block's four outputs go to a buffer, ntail
 * of them to the output, as the gather left its other columns 0) */
static void tm_rt_dsp_tile_run(const tm_rt_dsp_tjob *t, tm_rt_dsp_job *j, int p0, int nblk, int ntail)
{
    const tm_rt_conv_args *const a = t->a;
    /* every field read once: the jobs' int8 stores may alias *t and *a, so
     * the compiler would reload them after each call */
    void (*const job)(const tm_rt_dsp_job *) = t->job;
    const size_t n_pos = (size_t)a->out_h * (size_t)a->out_w, rb = t->rb, rend = t->rend;
    const int32_t *const mult = a->mult, *const shift = a->shift, *const bias = a->bias;
    const uint32_t zk = 1u + 2u * (uint32_t)a->out_zp; /* tm_rt_dsp_rq_k(zp, rs) = zk << (rs - 1) */
    const int x4 = t->bits == 4, last = a->out_c - 1;
    const uint32_t *const tcols = j->cols + (size_t)nblk * 2 * t->kcols;
    const uint8_t *row = (const uint8_t *)a->weights;
    int8_t *out = a->output + p0;
    int co;
    if (last < 0)
        return;
    for (co = 0; co < last; co++, row += rb, out += n_pos)
        tm_rt_dsp_tile_chan(j, job, row, rend, out, nblk, ntail, tcols, mult[co], -shift[co],
                            bias ? (uint32_t)bias[co] : 0u, zk, x4);
    tm_rt_dsp_tile_chan(j, job, t->last ? t->last : row, rend, out, nblk, ntail, tcols, mult[last],
                        -shift[last], bias ? (uint32_t)bias[last] : 0u, zk, x4);
}

#endif

/* Requantises a block's four accumulators (n_valid of them stored). */
static void tm_rt_dsp_out4(const tm_rt_conv_args *a, int c, const tm_rt_dsp_rq *q, const uint32_t acc[4],
                           int8_t *out, int n_valid, int negfix, uint32_t lo4, uint32_t hi4)
{
    const int r = a->bits == 8 ? 0 : 4; /* int4 accumulators are 16 x acc */
    int32_t v[4];
    int j;
    if (q->fast) {
        const int32_t m = q->mult, kq = q->k, rs = q->rs;
        int32_t t0 = (int32_t)(acc[0] << 1) >> r, t1 = (int32_t)(acc[1] << 1) >> r;
        int32_t t2 = (int32_t)(acc[2] << 1) >> r, t3 = (int32_t)(acc[3] << 1) >> r;
        int32_t h0 = tm_rt_dsp_smmlar(t0, m, kq), h1 = tm_rt_dsp_smmlar(t1, m, kq);
        int32_t h2 = tm_rt_dsp_smmlar(t2, m, kq), h3 = tm_rt_dsp_smmlar(t3, m, kq);
        if (negfix) {
            h0 += t0 >> 31;
            h1 += t1 >> 31;
            h2 += t2 >> 31;
            h3 += t3 >> 31;
        }
        v[0] = h0 >> rs;
        v[1] = h1 >> rs;
        v[2] = h2 >> rs;
        v[3] = h3 >> rs;
    } else {
        for (j = 0; j < 4; j++)
            v[j] = tm_rt_dsp_rq_exact(acc[j], a, c);
    }
    if (n_valid == 4) {
        tm_rt_dsp_store4(out, v[0], v[1], v[2], v[3], lo4, hi4);
        return;
    }
    for (j = 0; j < n_valid; j++)
        out[j] = tm_rt_dsp_clamp(v[j], a);
}

/* int4 sums kept x16 must stay below 2^31 (k < 65793), else the reference. */
static int tm_rt_dsp_x16_ok(size_t k)
{
    return (uint64_t)k * 255u * 8u * 16u < (1u << 31);
}

static tm_rt_status tm_rt_dsp_conv_run(const tm_rt_conv_args *a)
{
    const size_t k = (size_t)a->in_c * a->kh * a->kw, rb = tm_rt_weight_row_bytes(k, a->bits);
    const size_t gs = a->bits == 8 ? 4 : 8, ng = k / gs, kp = tm_rt_dsp_kcols(k, a->bits);
    /* kf: taps before the int4 half group (all of them without one) */
    const size_t kf = tm_rt_dsp_half(k, a->bits) ? k & ~(size_t)7 : kp;
    const int half = kf < kp, tail = ng * gs < k, n_pos = a->out_h * a->out_w, tile = tm_rt_dsp_tile(k, a->out_h, a->out_w);
    const int negfix = a->act_min < a->out_zp;
    const uint32_t lo4 = tm_rt_dsp_bytes4(a->act_min), hi4 = tm_rt_dsp_bytes4(a->act_max);
    const uint32_t bound = tm_rt_dsp_bound(k, a->bits);
    const uint32_t lim = a->bits == 8 ? (1u << 30) : (1u << 26);
    int16_t *cols = (int16_t *)(void *)(a->scratch + ((4u - ((uintptr_t)a->scratch & 3u)) & 3u));
    /* the last row's copy, zero-padded, so its last word never reads past
     * the weights (other rows' last words read the next row: times 0) */
    uint8_t *last = (uint8_t *)(cols + (size_t)tile * kp);
    int p0, co, b;
#if !defined(__OPTIMIZE_SIZE__)
    /* the channel's whole blocks: one call, the same for every channel */
    const int h2 = half && (k & 7) <= 2; /* taps 2 and 3 of the half group: padding */
    const int plain = !negfix && lo4 == 0x80808080u && hi4 == 0x7F7F7F7Fu;
    void (*const job)(const tm_rt_dsp_job *) = a->bits == 8 ? tm_rt_dsp_job8
                                               : !half      ? tm_rt_dsp_job4
                                               : ng         ? (h2 ? tm_rt_dsp_job4h2 : tm_rt_dsp_job4h)
                                                            : (h2 ? tm_rt_dsp_job4q2 : tm_rt_dsp_job4q);
    const size_t ngw = ng + (size_t)(tail && !half), rend = 4 * ngw;
    /* the 4096 x job of these rows (tm_rt_dsp_job4k_body's forms) */
    const int form = !half ? (ngw <= 4 ? TM_RT_DSP_F4K_LOOP + (int)ngw : TM_RT_DSP_F4K_LOOP)
                     : ng  ? (h2 ? TM_RT_DSP_F4K_LH2 : TM_RT_DSP_F4K_LH)
                           : (h2 ? TM_RT_DSP_F4K_H2 : TM_RT_DSP_F4K_H);
    /* every channel fast (int4: 4096 x): all of a tile's channels at once */
    int all = 1;
    tm_rt_dsp_tjob t;
    tm_rt_dsp_job j;
    j.cols = (const uint32_t *)(const void *)cols;
    j.negfix = negfix;
    j.lo4 = lo4;
    j.hi4 = hi4;
#endif
    if (tail) {
        memset(last, 0, 4 * (ng + 1));
        memcpy(last, (const uint8_t *)a->weights + (size_t)(a->out_c - 1) * rb, rb);
    }
#if !defined(__OPTIMIZE_SIZE__)
    all = tm_rt_dsp_all_fast(a, bound, lim);
    t.a = a;
    t.job = a->bits == 8 ? (plain ? tm_rt_dsp_job8p : tm_rt_dsp_job8) : tm_rt_dsp_jobs4k[plain][form];
    t.last = tail ? last : NULL;
    t.rb = rb;
    t.rend = rend;
    t.kcols = kp;
    t.bits = a->bits;
#endif
    for (p0 = 0; p0 < n_pos; p0 += tile) {
        int np = n_pos - p0 < tile ? n_pos - p0 : tile, nb = (np + 3) / 4;
        for (b = 0; b < nb; b++)
            tm_rt_dsp_gather(a, p0 + 4 * b, np - 4 * b < 4 ? np - 4 * b : 4, k, kp, kf, a->bits,
                             cols + (size_t)b * 4 * kp);
#if !defined(__OPTIMIZE_SIZE__)
        if (all) {
            tm_rt_dsp_tile_run(&t, &j, p0, np / 4, np % 4);
            continue;
        }
#endif
        for (co = 0; co < a->out_c; co++) {
            const uint8_t *row = tail && co + 1 == a->out_c ? last : (const uint8_t *)a->weights + (size_t)co * rb;
            int8_t *out = a->output + (size_t)co * (size_t)n_pos + p0;
            uint32_t bias = a->bias ? (uint32_t)a->bias[co] : 0u;
            tm_rt_dsp_rq q;
            tm_rt_dsp_rq_init(&q, a, co, bound, lim);
            /* int4 keeps 16 x acc: with the bias when that stays below
             * 2^31, else 16 x the sum alone, the bias added after */
            if (a->bits == 4)
                bias = q.fast ? bias * 16u : 0u;
            b = 0;
#if !defined(__OPTIMIZE_SIZE__)
            if (q.fast && np >= 4) {
                j.row = row;
                j.end = row + rend;
                j.out = out;
                j.oend = out + 4 * (np / 4);
                j.bias = bias;
                j.mult = q.mult;
                j.k = q.k;
                j.rs = q.rs;
                job(&j);
                b = np / 4;
            }
#endif
            for (; b < nb; b++) {
                const int16_t *blk = cols + (size_t)b * 4 * kp;
                int nv = np - 4 * b < 4 ? np - 4 * b : 4;
                uint32_t acc[4] = {bias, bias, bias, bias};
                if (a->bits == 8)
                    tm_rt_dsp_dot8(row, (const uint32_t *)(const void *)blk, ng + (size_t)tail, acc);
                else
                    tm_rt_dsp_dot4(row, (const uint32_t *)(const void *)blk, ng + (size_t)(tail && !half), half,
                                   acc);
                if (a->bits == 4 && !q.fast) {
                    int j;
                    uint32_t b0 = a->bias ? (uint32_t)a->bias[co] : 0u;
                    for (j = 0; j < 4; j++)
                        acc[j] = b0 + (uint32_t)((int32_t)acc[j] >> 4);
                }
                tm_rt_dsp_out4(a, co, &q, acc, out + 4 * b, nv, negfix, lo4, hi4);
            }
        }
    }
    return TM_RT_OK;
}

/* ---- dense: two output rows share each unpacked input word ------------- */

/* s[0..1] = two weight rows . (x - zp) over the first kg inputs (int4:
 * 16 x, kg a multiple of 8); out of line, so the rows stay in registers
 * (four rows would not fit them). */
static __attribute__((noinline)) void tm_rt_dsp_drows8(const int8_t *x, const uint8_t *const *r, size_t kg,
                                                       int32_t zz, int32_t *s)
{
    const uint8_t *r0 = r[0], *r1 = r[1];
    const int8_t *end = x + kg;
    int32_t s0 = 0, s1 = 0;
    for (; x < end; x += 4, r0 += 4, r1 += 4) {
        uint32_t v = tm_rt_dsp_ld32(x), w;
        int32_t xa = __ssub16(__sxtb16((int32_t)v), zz), xb = __ssub16(tm_rt_dsp_sxtb16_r8(v), zz);
#define TM_RT_DSP_ROW8(rr, ss)                                                                \
    w = tm_rt_dsp_ld32(rr);                                                                   \
    ss = __smlad(tm_rt_dsp_sxtb16_r8(w), xb, __smlad(__sxtb16((int32_t)w), xa, ss))
        TM_RT_DSP_ROW8(r0, s0);
        TM_RT_DSP_ROW8(r1, s1);
#undef TM_RT_DSP_ROW8
    }
    s[0] = s0;
    s[1] = s1;
}

/* Eight inputs x - zp as four int16 pairs in the order a weight word
 * unpacks to: int8 two words (w0, w2) (w1, w3), (w4, w6) (w5, w7); int4
 * one word, low nibbles (w0, w4) (w2, w6), then high ones (w1, w5)
 * (w3, w7). */
TM_RT_DSP_INLINE void tm_rt_dsp_xgroup(const int8_t *x, int bits, int32_t zz, uint32_t *o)
{
    uint32_t v0 = tm_rt_dsp_ld32(x), v1 = tm_rt_dsp_ld32(x + 4);
    uint32_t e0 = (uint32_t)__ssub16(__sxtb16((int32_t)v0), zz);
    uint32_t o0 = (uint32_t)__ssub16(tm_rt_dsp_sxtb16_r8(v0), zz);
    uint32_t e1 = (uint32_t)__ssub16(__sxtb16((int32_t)v1), zz);
    uint32_t o1 = (uint32_t)__ssub16(tm_rt_dsp_sxtb16_r8(v1), zz);
    if (bits == 8) {
        o[0] = e0, o[1] = o0, o[2] = e1, o[3] = o1;
    } else {
        o[0] = tm_rt_dsp_pkhbt16(e0, e1), o[1] = tm_rt_dsp_pkhtb16(e1, e0);
        o[2] = tm_rt_dsp_pkhbt16(o0, o1), o[3] = tm_rt_dsp_pkhtb16(o1, o0);
    }
}

static __attribute__((noinline)) void tm_rt_dsp_drows4(const int8_t *x, const uint8_t *const *r, size_t kg,
                                                       int32_t zz, int32_t *s)
{
    const uint8_t *r0 = r[0], *r1 = r[1];
    const int8_t *end = x + kg;
    int32_t s0 = 0, s1 = 0;
    for (; x < end; x += 8, r0 += 4, r1 += 4) {
        uint32_t g[4], w, lo, hi;
        tm_rt_dsp_xgroup(x, 4, zz, g);
#define TM_RT_DSP_ROW4(rr, ss)                                                                \
    w = tm_rt_dsp_ld32(rr);                                                                   \
    lo = (w << 4) & 0xF0F0F0F0u;                                                              \
    hi = w & 0xF0F0F0F0u;                                                                     \
    ss = __smlad(tm_rt_dsp_sxtb16_r8(lo), (int32_t)g[1], __smlad(__sxtb16((int32_t)lo), (int32_t)g[0], ss)); \
    ss = __smlad(tm_rt_dsp_sxtb16_r8(hi), (int32_t)g[3], __smlad(__sxtb16((int32_t)hi), (int32_t)g[2], ss))
        TM_RT_DSP_ROW4(r0, s0);
        TM_RT_DSP_ROW4(r1, s1);
#undef TM_RT_DSP_ROW4
    }
    s[0] = s0;
    s[1] = s1;
}

#if !defined(__OPTIMIZE_SIZE__)
/* s[0..1] += two weight rows . the n unpacked groups at g (tm_rt_dsp_xgroup's
 * order): four input words per eight inputs, loaded once for both rows. */
static __attribute__((noinline)) void tm_rt_dsp_drows8_u(const uint32_t *g, const uint8_t *const *r, size_t n,
                                                         int32_t *s)
{
    const uint8_t *r0 = r[0], *r1 = r[1];
    const uint32_t *end = g + 4 * n;
    int32_t s0 = s[0], s1 = s[1];
    for (; g < end; g += 4, r0 += 8, r1 += 8) {
        uint32_t w0 = tm_rt_dsp_ld32(r0), w1 = tm_rt_dsp_ld32(r0 + 4);
        int32_t x0 = (int32_t)g[0], x1 = (int32_t)g[1], x2 = (int32_t)g[2], x3 = (int32_t)g[3];
        s0 = __smlad(__sxtb16((int32_t)w0), x0, s0);
        s0 = __smlad(tm_rt_dsp_sxtb16_r8(w0), x1, s0);
        s0 = __smlad(__sxtb16((int32_t)w1), x2, s0);
        s0 = __smlad(tm_rt_dsp_sxtb16_r8(w1), x3, s0);
        w0 = tm_rt_dsp_ld32(r1);
        w1 = tm_rt_dsp_ld32(r1 + 4);
        s1 = __smlad(__sxtb16((int32_t)w0), x0, s1);
        s1 = __smlad(tm_rt_dsp_sxtb16_r8(w0), x1, s1);
        s1 = __smlad(__sxtb16((int32_t)w1), x2, s1);
        s1 = __smlad(tm_rt_dsp_sxtb16_r8(w1), x3, s1);
    }
    s[0] = s0;
    s[1] = s1;
}

/* int4 at 4096 x from zero (the caller adds s >> 12 per chunk of at most 256
 * inputs, so 4096 x the sum stays below 2^31): a weight word's pairs are
 * one AND each with 0xF000F000 after a shift of 12, 4, 8, 0, (w0, w4),
 * (w2, w6), (w1, w5), (w3, w7) as tm_rt_dsp_xgroup lays the inputs out;
 * fewer instructions than int8's two words and four SXTB16. */
/* mk & (w << SH) as one AND (GCC shifts first, then ANDs an immediate) */
#define TM_RT_DSP_ANDSH(SH)                                                                    \
    TM_RT_DSP_INLINE uint32_t tm_rt_dsp_and##SH(uint32_t mk, uint32_t w)                       \
    {                                                                                          \
        uint32_t r;                                                                            \
        __asm__("and %0, %1, %2, lsl #" #SH : "=r"(r) : "r"(mk), "r"(w));                     \
        return r;                                                                              \
    }
TM_RT_DSP_ANDSH(12)
TM_RT_DSP_ANDSH(8)
TM_RT_DSP_ANDSH(4)
#undef TM_RT_DSP_ANDSH

static __attribute__((noinline)) void tm_rt_dsp_drows4_u(const uint32_t *g, const uint8_t *const *r, size_t n,
                                                         int32_t *s)
{
    const uint8_t *r0 = r[0], *r1 = r[1];
    const uint32_t *end = g + 4 * n, mk = 0xF000F000u;
    int32_t s0 = 0, s1 = 0;
    for (; g < end; g += 4, r0 += 4, r1 += 4) {
        int32_t x0 = (int32_t)g[0], x1 = (int32_t)g[1], x2 = (int32_t)g[2], x3 = (int32_t)g[3];
        uint32_t w = tm_rt_dsp_ld32(r0);
        s0 = __smlad((int32_t)tm_rt_dsp_and12(mk, w), x0, s0);
        s0 = __smlad((int32_t)tm_rt_dsp_and4(mk, w), x1, s0);
        s0 = __smlad((int32_t)tm_rt_dsp_and8(mk, w), x2, s0);
        s0 = __smlad((int32_t)(w & mk), x3, s0);
        w = tm_rt_dsp_ld32(r1);
        s1 = __smlad((int32_t)tm_rt_dsp_and12(mk, w), x0, s1);
        s1 = __smlad((int32_t)tm_rt_dsp_and4(mk, w), x1, s1);
        s1 = __smlad((int32_t)tm_rt_dsp_and8(mk, w), x2, s1);
        s1 = __smlad((int32_t)(w & mk), x3, s1);
    }
    s[0] = s0;
    s[1] = s1;
}
#endif

static tm_rt_status tm_rt_dsp_dense_run(const tm_rt_conv_args *a)
{
    const size_t k = (size_t)a->in_c, rb = tm_rt_weight_row_bytes(k, a->bits);
    const int bits = a->bits, negfix = a->act_min < a->out_zp;
    const int32_t zz = (int32_t)(((uint32_t)a->in_zp & 0xFFFFu) * 0x10001u);
    const uint32_t bound = tm_rt_dsp_bound(k, bits), lim = bits == 8 ? (1u << 30) : (1u << 26);
    const int8_t *x = a->input;
    int co;
#if !defined(__OPTIMIZE_SIZE__)
    /* with scratch: the input unpacked once per chunk for every row, each
     * row's sum kept across chunks */
    const size_t kg = k & ~(size_t)7, chunk = tm_rt_dsp_dense_chunk(k, bits);
    uint32_t *gx = a->scratch && kg ? (uint32_t *)(void *)(((uintptr_t)a->scratch + 3u) & ~(uintptr_t)3u) : NULL;
    int32_t *sums = gx ? (int32_t *)(gx + chunk / 2) : NULL;
    if (sums) {
        size_t c0;
        for (co = 0; co < a->out_c; co++)
            sums[co] = 0;
        for (c0 = 0; c0 < kg; c0 += chunk) {
            size_t n = (kg - c0 < chunk ? kg - c0 : chunk) / 8, i;
            for (i = 0; i < n; i++)
                tm_rt_dsp_xgroup(x + c0 + 8 * i, bits, zz, gx + 4 * i);
            for (co = 0; co < a->out_c; co += 2) {
                /* a row past out_c repeats the last one into a spare sum */
                int c1 = co + 1 < a->out_c ? co + 1 : co;
                const uint8_t *r[2];
                int32_t s[2];
                r[0] = (const uint8_t *)a->weights + (size_t)co * rb + (bits == 8 ? c0 : c0 / 2);
                r[1] = (const uint8_t *)a->weights + (size_t)c1 * rb + (bits == 8 ? c0 : c0 / 2);
                if (bits == 8) {
                    s[0] = sums[co];
                    s[1] = sums[c1];
                    tm_rt_dsp_drows8_u(gx, r, n, s);
                } else {
                    tm_rt_dsp_drows4_u(gx, r, n, s); /* 4096 x this chunk's sums */
                    s[0] = sums[co] + (s[0] >> 12);
                    s[1] = sums[c1] + (s[1] >> 12);
                }
                sums[co] = s[0];
                if (c1 != co)
                    sums[c1] = s[1];
            }
        }
    }
#else
    const size_t kg = bits == 8 ? k / 4 * 4 : k / 8 * 8;
    int32_t *sums = NULL;
#endif
    for (co = 0; co < a->out_c; co += 2) {
        /* a row past out_c repeats the last one; its output is not stored */
        const uint8_t *r[2];
        tm_rt_dsp_rq q[2];
        int32_t s[2];
        int i, nr = a->out_c - co < 2 ? a->out_c - co : 2;
        size_t t;
        for (i = 0; i < 2; i++) {
            int c = co + (i < nr ? i : nr - 1);
            r[i] = (const uint8_t *)a->weights + (size_t)c * rb;
            tm_rt_dsp_rq_init(&q[i], a, c, bound, lim);
        }
        if (sums) {
            s[0] = sums[co];
            s[1] = nr > 1 ? sums[co + 1] : 0;
        } else {
            (bits == 8 ? tm_rt_dsp_drows8 : tm_rt_dsp_drows4)(x, r, kg, zz, s);
        }
        for (i = 0; i < nr; i++) {
            int c = co + i;
            uint32_t sum = (uint32_t)s[i];
            int32_t v;
            if (bits == 4 && !sums) {
                sum = (uint32_t)(s[i] >> 4); /* 16 x a sum below 2^31: exact */
            }
            for (t = kg; t < k; t++)
                sum += (uint32_t)((x[t] - a->in_zp) * tm_rt_dsp_w(r[i], bits, t));
            sum += a->bias ? (uint32_t)a->bias[c] : 0u;
            v = q[i].fast ? tm_rt_dsp_rq_fast((int32_t)(sum << 1), &q[i], negfix) : tm_rt_dsp_rq_exact(sum, a, c);
            a->output[c] = tm_rt_dsp_clamp(v, a);
        }
    }
    return TM_RT_OK;
}

tm_rt_status tm_rt_dense_dsp(const tm_rt_conv_args *a)
{
    tm_rt_status st = tm_rt_conv_check(a, TM_RT_KERNEL_DENSE);
    if (st != TM_RT_OK)
        return st;
    return a->bits == 4 && !tm_rt_dsp_x16_ok((size_t)a->in_c) ? tm_rt_dense_ref(a) : tm_rt_dsp_dense_run(a);
}

tm_rt_status tm_rt_conv_dsp(const tm_rt_conv_args *a, tm_rt_kernel_kind kind)
{
    tm_rt_status st;
    if (kind == TM_RT_KERNEL_DENSE)
        return tm_rt_dense_dsp(a);
    st = tm_rt_conv_check(a, TM_RT_KERNEL_CONV);
    if (st != TM_RT_OK)
        return st;
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    if (a->bits == 4 && !tm_rt_dsp_x16_ok((size_t)a->in_c * a->kh * a->kw))
        return tm_rt_conv_ref(a);
    return tm_rt_dsp_conv_run(a);
}

#else
/* ISO C forbids an empty translation unit. */
typedef int tm_rt_conv_dsp_unused;
#endif
