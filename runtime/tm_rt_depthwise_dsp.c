/* Depthwise conv for Arm cores with the DSP extension (__ARM_FEATURE_DSP:
 * Cortex-M4, M7, M33...) without NEON; compiles to nothing elsewhere.
 *
 * CHW input: a channel's rows are contiguous, so for a 3-wide kernel at
 * stride 1 four neighbouring outputs of a row read six neighbouring bytes
 * of each input row: one word and one halfword, SXTB16 into (x0, x2),
 * (x1, x3), (x4, .), (x5, .), and PKHBT / PKHTB into the pairs (x0, x1),
 * (x1, x2), (x2, x3), (x4, x3); per kernel row each output then takes one
 * SMLAD (SMLADX for the swapped pair) with (w0, w1) and one SMLAxy with w2.
 * The zero point of those inner outputs is folded into the bias:
 * sum (x - zp) w = sum x w - zp sum w over the kernel rows inside the input,
 * exact modulo 2^32 like the reference's accumulator. Border outputs, other
 * kernel widths and strides take a per-output loop over the taps inside the
 * input. Weights (int8, or int4 nibbles sign-extended) are unpacked once per
 * channel into registers / locals, never through scratch. Requantisation is
 * tm_rt_dsp.h's. Bit-exact with tm_rt_depthwise_ref
 * (runtime/tools/cortexm/kernels_main.c checks it under QEMU). */
#include <stddef.h>

#include "tm_rt_kernels.h"

#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_NEON)
#include "tm_rt_dsp.h"

#define TM_RT_DW_MAX_TAPS 64 /* larger kernels run the reference */
#define TM_RT_DW_MAX_KH 16   /* kernel rows of the 3-wide path */
#define TM_RT_DW_RING_W 136  /* 3x3: padded copies of three input rows, this wide at most */
/* An -Os build (the 16 KB device goal, runtime/tools/cross.sh m4) leaves
 * the four-output path out: every output takes the per-output loop. */
#if defined(__OPTIMIZE_SIZE__)
#define TM_RT_DW_FOUR 0
#else
#define TM_RT_DW_FOUR 1
#endif

/* One output from the taps inside the input (zero point subtracted). */
static uint32_t tm_rt_dw_one(const tm_rt_conv_args *a, const int8_t *plane, const int32_t *w, int oy, int ox,
                             uint32_t acc)
{
    int iy0 = oy * a->stride - a->pad_top, ix0 = ox * a->stride - a->pad_left;
    int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = a->in_h - iy0 < a->kh ? a->in_h - iy0 : a->kh;
    int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = a->in_w - ix0 < a->kw ? a->in_w - ix0 : a->kw;
    int ky, kx;
    for (ky = ky0; ky < ky1; ky++) {
        const int8_t *x = plane + (size_t)(iy0 + ky) * a->in_w;
        const int32_t *wr = w + ky * a->kw;
        for (kx = kx0; kx < kx1; kx++)
            acc += (uint32_t)((x[ix0 + kx] - a->in_zp) * wr[kx]);
    }
    return acc;
}

/* Outputs ox0..ox1-1 of row oy of channel c, one at a time. */
static void tm_rt_dw_span(const tm_rt_conv_args *a, int c, const tm_rt_dsp_rq *q, const int8_t *plane,
                          const int32_t *w, uint32_t bias, int oy, int ox0, int ox1, int negfix)
{
    int8_t *o = a->output + ((size_t)c * a->out_h + oy) * a->out_w;
    int ox;
    for (ox = ox0; ox < ox1; ox++) {
        uint32_t acc = tm_rt_dw_one(a, plane, w, oy, ox, bias);
        o[ox] = tm_rt_dsp_clamp(q->fast ? tm_rt_dsp_rq_fast((int32_t)(acc << 1), q, negfix)
                                        : tm_rt_dsp_rq_exact(acc, a, c), a);
    }
}

#if TM_RT_DW_FOUR
/* Blocks of four outputs of one output row, 3-wide kernel, stride 1, every
 * tap inside its input row, fast requantisation. Kernel row r reads
 * kr[r].row + ix + 4 b ..; the zero point is in base. */
typedef struct tm_rt_dw_kr {
    const int8_t *row;
    int32_t w01, w2; /* (w0, w1) and w2 of the kernel row */
} tm_rt_dw_kr;

typedef struct tm_rt_dw_job {
    tm_rt_dw_kr kr[TM_RT_DW_MAX_KH];
    int nkr, nb, ix, negfix;
    uint32_t base, lo4, hi4;
    int32_t mult, k, rs;
    int8_t *out;
} tm_rt_dw_job;

/* Kernel row r's taps of four outputs from ix on into s[0..3]. */
TM_RT_DSP_INLINE void tm_rt_dw_row(const tm_rt_dw_kr *r, int ix, int32_t *s0, int32_t *s1, int32_t *s2,
                                   int32_t *s3)
{
    const int8_t *x = r->row + ix;
    uint32_t v = tm_rt_dsp_ld32(x), h, A, B, C, D;
    uint16_t h16;
    int32_t wa = r->w01, wb = r->w2;
    memcpy(&h16, x + 4, 2);
    h = h16;
    A = (uint32_t)__sxtb16((int32_t)v);   /* (x0, x2) */
    B = (uint32_t)tm_rt_dsp_sxtb16_r8(v); /* (x1, x3) */
    C = (uint32_t)__sxtb16((int32_t)h);   /* (x4, 0) */
    D = (uint32_t)tm_rt_dsp_sxtb16_r8(h); /* (x5, 0) */
    *s0 = __smlatb((int32_t)A, wb, __smlad((int32_t)tm_rt_dsp_pkhbt16(A, B), wa, *s0));
    *s1 = __smlatb((int32_t)B, wb, __smlad((int32_t)tm_rt_dsp_pkhbt0(B, A), wa, *s1));
    *s2 = __smlabb((int32_t)C, wb, __smlad((int32_t)tm_rt_dsp_pkhtb16(B, A), wa, *s2));
    *s3 = __smlabb((int32_t)D, wb, __smladx((int32_t)tm_rt_dsp_pkhbt0(C, B), wa, *s3));
}

/* tm_rt_dw_row of kernel row kr[i] as asm (ROW, W: the byte offsets of
 * kr[i].row and kr[i].w01): 21 instructions in twelve registers with the
 * block's, so GCC spills nothing in the 3x3 loop (it kept 117 instructions
 * a block, with stack traffic, for the three rows in C). */
#define TM_RT_DW_ASM_ROW(ROW, W)                                                               \
    "ldr %[v], [%[kr], #" #ROW "]\n\t"                                                         \
    "ldrd %[wa], %[wb], [%[kr], #" #W "]\n\t"                                                  \
    "add %[v], %[v], %[ix]\n\t"                                                                \
    "ldrh %[h], [%[v], #4]\n\t"                                                                \
    "ldr %[v], [%[v]]\n\t"                                                                     \
    "sxtb16 %[A], %[v]\n\t"                                                                    \
    "sxtb16 %[B], %[v], ror #8\n\t"                                                            \
    "pkhbt %[v], %[A], %[B], lsl #16\n\t"                                                      \
    "smlad %[s0], %[v], %[wa], %[s0]\n\t"                                                      \
    "smlatb %[s0], %[A], %[wb], %[s0]\n\t"                                                     \
    "pkhbt %[v], %[B], %[A]\n\t"                                                               \
    "smlad %[s1], %[v], %[wa], %[s1]\n\t"                                                      \
    "smlatb %[s1], %[B], %[wb], %[s1]\n\t"                                                     \
    "pkhtb %[v], %[B], %[A], asr #16\n\t"                                                      \
    "smlad %[s2], %[v], %[wa], %[s2]\n\t"                                                      \
    "sxtb16 %[A], %[h]\n\t"                                                                    \
    "smlabb %[s2], %[A], %[wb], %[s2]\n\t"                                                     \
    "pkhbt %[v], %[A], %[B]\n\t"                                                               \
    "smladx %[s3], %[v], %[wa], %[s3]\n\t"                                                     \
    "sxtb16 %[A], %[h], ror #8\n\t"                                                            \
    "smlabb %[s3], %[A], %[wb], %[s3]\n\t"
typedef char tm_rt_dw_kr_layout[offsetof(tm_rt_dw_kr, w01) == 4 && offsetof(tm_rt_dw_kr, w2) == 8 &&
                                        sizeof(tm_rt_dw_kr) == 12
                                    ? 1
                                    : -1];

/* three: the 3x3 ring path's three kernel rows, unrolled (a constant in
 * each caller); else j->nkr of them */
TM_RT_DSP_INLINE void tm_rt_dw_blocks_n(const tm_rt_dw_job *j, int three)
{
    int b;
    for (b = 0; b < j->nb; b++) {
        int32_t s0 = (int32_t)j->base, s1 = s0, s2 = s0, s3 = s0;
        const int ix = j->ix + 4 * b;
        if (three) {
            uint32_t v, h, A, B;
            int32_t wa, wb;
            __asm__(TM_RT_DW_ASM_ROW(0, 4) TM_RT_DW_ASM_ROW(12, 16) TM_RT_DW_ASM_ROW(24, 28)
                    : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [v] "=&r"(v), [h] "=&r"(h),
                      [A] "=&r"(A), [B] "=&r"(B), [wa] "=&r"(wa), [wb] "=&r"(wb)
                    : [kr] "r"(j->kr), [ix] "r"(ix)
                    : "memory");
        } else {
            const tm_rt_dw_kr *r = j->kr, *re = j->kr + j->nkr;
            for (; r < re; r++)
                tm_rt_dw_row(r, ix, &s0, &s1, &s2, &s3);
        }
        {
            /* the job's weights and base are doubled: s is the 2 acc SMMLAR takes */
            const int32_t m = j->mult, kq = j->k, rs = j->rs;
            int32_t h0 = tm_rt_dsp_smmlar(s0, m, kq), h1 = tm_rt_dsp_smmlar(s1, m, kq);
            int32_t h2 = tm_rt_dsp_smmlar(s2, m, kq), h3 = tm_rt_dsp_smmlar(s3, m, kq);
            if (j->negfix) {
                h0 += s0 >> 31;
                h1 += s1 >> 31;
                h2 += s2 >> 31;
                h3 += s3 >> 31;
            }
            tm_rt_dsp_store4(j->out + 4 * b, h0 >> rs, h1 >> rs, h2 >> rs, h3 >> rs, j->lo4, j->hi4);
        }
    }
}

static __attribute__((noinline)) void tm_rt_dw_blocks(const tm_rt_dw_job *j)
{
    tm_rt_dw_blocks_n(j, 0);
}

/* three kernel rows (the 3x3 ring path), the row loop unrolled */
static __attribute__((noinline)) void tm_rt_dw_blocks3(const tm_rt_dw_job *j)
{
    tm_rt_dw_blocks_n(j, 1);
}
#endif

#if TM_RT_DW_FOUR
/* (2 w0, 2 w1) as halfwords: the blocks' weights are doubled, so their sums
 * are the 2 acc the requantisation takes (|2 w| <= 256 fits int16). */
TM_RT_DSP_INLINE int32_t tm_rt_dw_pair2(int32_t w0, int32_t w1)
{
    uint32_t p = tm_rt_dsp_pkhbt16((uint32_t)w0, (uint32_t)w1);
    return __sadd16((int32_t)p, (int32_t)p);
}

/* The weights of a 3x3 kernel as the blocks read them: (2 w0, 2 w1) and
 * 2 w2 of each kernel row; returns the sum of the nine (not doubled). Straight from the packed
 * row (int4: one word of eight nibbles and a ninth, one SBFX each), as a
 * streamed chain runs this per channel and row window. */
TM_RT_DSP_INLINE int32_t tm_rt_dw_weights3(const uint8_t *wr, int bits, tm_rt_dw_kr *kr)
{
    int32_t t[9];
    if (bits == 8) {
        const int8_t *w = (const int8_t *)(const void *)wr;
        t[0] = w[0], t[1] = w[1], t[2] = w[2], t[3] = w[3], t[4] = w[4];
        t[5] = w[5], t[6] = w[6], t[7] = w[7], t[8] = w[8];
    } else {
        const uint32_t v = tm_rt_dsp_ld32(wr);
#define TM_RT_DW_NIB(i) ((int32_t)(v << (28 - 4 * (i))) >> 28) /* arithmetic on GCC / Arm */
        t[0] = TM_RT_DW_NIB(0), t[1] = TM_RT_DW_NIB(1), t[2] = TM_RT_DW_NIB(2);
        t[3] = TM_RT_DW_NIB(3), t[4] = TM_RT_DW_NIB(4), t[5] = TM_RT_DW_NIB(5);
        t[6] = TM_RT_DW_NIB(6), t[7] = (int32_t)v >> 28;
#undef TM_RT_DW_NIB
        t[8] = (int32_t)((uint32_t)wr[4] << 28) >> 28;
    }
    kr[0].w01 = tm_rt_dw_pair2(t[0], t[1]);
    kr[1].w01 = tm_rt_dw_pair2(t[3], t[4]);
    kr[2].w01 = tm_rt_dw_pair2(t[6], t[7]);
    kr[0].w2 = 2 * t[2];
    kr[1].w2 = 2 * t[5];
    kr[2].w2 = 2 * t[8];
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7] + t[8];
}

/* Every output of channel c by blocks of four: the three input rows in use
 * are copied into the ring between borders of the zero point (set once per
 * call by the caller), so border outputs need no per-tap bounds (the zero
 * point's taps cancel in base); a kernel row outside the input reads ring
 * row 3, all zero point, so every block takes three kernel rows. */
static void tm_rt_dw_ring(const tm_rt_conv_args *a, int c, const tm_rt_dsp_rq *q, int negfix, uint32_t lo4,
                          uint32_t hi4, int8_t (*ring)[TM_RT_DW_RING_W])
{
    const size_t rb = tm_rt_weight_row_bytes(9, a->bits);
    const int8_t *in = a->input + (size_t)c * a->in_h * a->in_w;
    int8_t *out = a->output + (size_t)c * a->out_h * a->out_w;
    const int n = a->out_w / 4;
    uint32_t bias = a->bias ? (uint32_t)a->bias[c] : 0u;
    int filled = -1, oy, ky;
    tm_rt_dw_job j;
    j.negfix = negfix;
    j.lo4 = lo4;
    j.hi4 = hi4;
    j.mult = q->mult;
    j.k = q->k;
    j.rs = q->rs;
    j.nkr = 3;
    j.base = (bias - (uint32_t)(a->in_zp * tm_rt_dw_weights3((const uint8_t *)a->weights + (size_t)c * rb,
                                                             a->bits, j.kr)))
             << 1;
    for (oy = 0; oy < a->out_h; oy++) {
        int iy0 = oy - a->pad_top;
        int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = a->in_h - iy0 < 3 ? a->in_h - iy0 : 3;
        int8_t *o = out + (size_t)oy * a->out_w;
        for (; filled < iy0 + ky1 - 1; filled++)
            memcpy(ring[(filled + 1) % 3] + a->pad_left, in + (size_t)(filled + 1) * a->in_w,
                   (size_t)a->in_w);
        for (ky = 0; ky < 3; ky++)
            j.kr[ky].row = ky >= ky0 && ky < ky1 ? ring[(iy0 + ky) % 3] : ring[3];
        j.nb = n;
        j.ix = 0;
        j.out = o;
        tm_rt_dw_blocks3(&j);
        if (4 * n < a->out_w) { /* the last four, recomputing a few */
            j.nb = 1;
            j.ix = a->out_w - 4;
            j.out = o + a->out_w - 4;
            tm_rt_dw_blocks3(&j);
        }
    }
}
#endif

tm_rt_status tm_rt_depthwise_dsp(const tm_rt_conv_args *a)
{
    tm_rt_status st = tm_rt_conv_check(a, TM_RT_KERNEL_DEPTHWISE);
    const int kk = a->kh * a->kw, fast3 = TM_RT_DW_FOUR && a->kw == 3 && a->stride == 1 &&
                                                  a->kh <= TM_RT_DW_MAX_KH;
    const int negfix = a->act_min < a->out_zp;
#if TM_RT_DW_FOUR
    const uint32_t lo4 = tm_rt_dsp_bytes4(a->act_min), hi4 = tm_rt_dsp_bytes4(a->act_max);
    /* the 3x3 ring: rows of pad_left + in_w + 8 bytes (blocks read at most
     * two past the row: index out_w + 1 <= pad_left + in_w + 1) */
    const int use_ring = fast3 && a->kh == 3 && a->out_w >= 4 && a->pad_left + a->in_w + 8 <= TM_RT_DW_RING_W &&
                         a->out_w + 2 <= TM_RT_DW_RING_W;
    int8_t ring[4][TM_RT_DW_RING_W];
    int ring_set = 0;
#endif
    const size_t plane = (size_t)a->in_h * a->in_w, rb = tm_rt_weight_row_bytes((size_t)kk, a->bits);
    uint32_t bound;
    int c;
    if (st != TM_RT_OK)
        return st;
    if (kk > TM_RT_DW_MAX_TAPS)
        return tm_rt_depthwise_ref(a);
    bound = (uint32_t)kk * 255u * 128u; /* |sum (x - zp) w| */
    /* interior outputs: every kernel column inside the input */
    for (c = 0; c < a->out_c; c++) {
        const uint8_t *wrow = (const uint8_t *)a->weights + (size_t)c * rb;
        const int8_t *in = a->input + (size_t)c * plane;
        int8_t *out = a->output + (size_t)c * a->out_h * a->out_w;
        int32_t w[TM_RT_DW_MAX_TAPS];
#if TM_RT_DW_FOUR
        int32_t w01[TM_RT_DW_MAX_KH], w2[TM_RT_DW_MAX_KH], wsum[TM_RT_DW_MAX_KH];
#endif
        uint32_t bias = a->bias ? (uint32_t)a->bias[c] : 0u;
        int t, oy, ky, ox_lo, ox_hi;
        tm_rt_dsp_rq q;
#if !TM_RT_DW_FOUR
        (void)fast3; /* the -Os build: only the per-output loop */
        (void)out;
        (void)ky;
#endif
        tm_rt_dsp_rq_init(&q, a, c, bound, 1u << 30);
#if TM_RT_DW_FOUR
        if (use_ring && q.fast) {
            if (!ring_set) { /* the zero point's borders, the same for every row and channel */
                int r;
                for (r = 0; r < 4; r++)
                    memset(ring[r], a->in_zp, (size_t)(a->pad_left + a->in_w + 8));
                ring_set = 1;
            }
            tm_rt_dw_ring(a, c, &q, negfix, lo4, hi4, ring);
            continue;
        }
#endif
        for (t = 0; t < kk; t++) {
            if (a->bits == 8) {
                w[t] = ((const int8_t *)(const void *)wrow)[t];
            } else {
                int32_t n = (t & 1) ? wrow[t / 2] >> 4 : wrow[t / 2] & 15;
                w[t] = n >= 8 ? n - 16 : n;
            }
        }
        ox_lo = (a->pad_left + a->stride - 1) / a->stride;
        ox_hi = (a->in_w - a->kw + a->pad_left) / a->stride + 1;
        ox_hi = ox_hi > a->out_w ? a->out_w : ox_hi;
#if TM_RT_DW_FOUR
        if (fast3)
            for (ky = 0; ky < a->kh; ky++) {
                w01[ky] = tm_rt_dw_pair2(w[3 * ky], w[3 * ky + 1]);
                w2[ky] = 2 * w[3 * ky + 2];
                wsum[ky] = w[3 * ky] + w[3 * ky + 1] + w[3 * ky + 2];
            }
#endif
        for (oy = 0; oy < a->out_h; oy++) {
            int ox = ox_lo < a->out_w ? ox_lo : a->out_w;
#if TM_RT_DW_FOUR
            int8_t *o = out + (size_t)oy * a->out_w;
#endif
            tm_rt_dw_span(a, c, &q, in, w, bias, oy, 0, ox, negfix);
#if TM_RT_DW_FOUR
            if (fast3 && q.fast && ox + 4 <= ox_hi) {
                tm_rt_dw_job j;
                int iy0 = oy - a->pad_top, n = (ox_hi - ox) / 4;
                int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = a->in_h - iy0 < a->kh ? a->in_h - iy0 : a->kh;
                j.nkr = ky1 - ky0;
                j.base = bias;
                for (ky = ky0; ky < ky1; ky++) {
                    j.kr[ky - ky0].row = in + (size_t)(iy0 + ky) * a->in_w;
                    j.kr[ky - ky0].w01 = w01[ky];
                    j.kr[ky - ky0].w2 = w2[ky];
                    j.base -= (uint32_t)(a->in_zp * wsum[ky]);
                }
                j.base <<= 1;
                j.nb = n;
                j.ix = ox - a->pad_left;
                j.negfix = negfix;
                j.lo4 = lo4;
                j.hi4 = hi4;
                j.mult = q.mult;
                j.k = q.k;
                j.rs = q.rs;
                j.out = o + ox;
                tm_rt_dw_blocks(&j);
                ox += 4 * n;
                if (ox < ox_hi) { /* the rest as one block ending at ox_hi, recomputing a few */
                    j.nb = 1;
                    j.ix = ox_hi - 4 - a->pad_left;
                    j.out = o + ox_hi - 4;
                    tm_rt_dw_blocks(&j);
                    ox = ox_hi;
                }
            }
#endif
            tm_rt_dw_span(a, c, &q, in, w, bias, oy, ox, a->out_w, negfix);
        }
    }
    return TM_RT_OK;
}

#else
/* ISO C forbids an empty translation unit. */
typedef int tm_rt_depthwise_dsp_unused;
#endif
