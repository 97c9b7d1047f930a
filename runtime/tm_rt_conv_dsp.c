/* Conv (pointwise and dense included) for Arm cores with the DSP extension
 * (__ARM_FEATURE_DSP: Cortex-M4, M7, M33...), without NEON: SMLAD does two
 * 16-bit multiply-accumulates per instruction.
 *
 * The input is CHW, so the taps of one output position are strided; each
 * position's taps are first gathered once into an int16 column (zero point
 * subtracted, padding 0) that every output channel then reads. Columns are
 * stored in groups of four taps as (t0, t2, t1, t3): SXTB16 of four int8
 * weights gives (w0, w2) and, rotated by 8, (w1, w3), so two SMLADs add four
 * products with no unpacking of the weights. 4-bit weights are unpacked in
 * registers, four per 16-bit load. Two positions share each weight load.
 * Accumulators wrap modulo 2^32 like the reference's, and requantisation is
 * tm_rt_requant, so the results equal tm_rt_conv_ref bit for bit
 * (runtime/tools/cortexm/kernels_main.c checks it under QEMU). */
#include <string.h>

#include "tm_rt_kernels.h"

/* Column length in int16, even so the second column stays 4-byte aligned. */
static size_t tm_rt_dsp_kpad(size_t k)
{
    return (k + 1) & ~(size_t)1;
}

/* Defined on every host: tm_rt_kernel_scratch_bytes_for sizes any build. */
size_t tm_rt_conv_dsp_scratch_bytes(const tm_rt_conv_args *a, tm_rt_kernel_kind kind)
{
    size_t k;
    if (kind == TM_RT_KERNEL_DENSE)
        k = (size_t)a->in_c;
    else if (kind == TM_RT_KERNEL_CONV)
        k = (size_t)a->in_c * (size_t)a->kh * (size_t)a->kw;
    else
        return 0;
    return 4 + 2 * tm_rt_dsp_kpad(k) * sizeof(int16_t);
}

#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_NEON)
#include <arm_acle.h>

#define TM_RT_DSP_INLINE static inline __attribute__((always_inline))

TM_RT_DSP_INLINE int32_t tm_rt_dsp_wrap(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

TM_RT_DSP_INLINE int8_t tm_rt_dsp_finish(uint32_t acc, const tm_rt_conv_args *a, int c)
{
    int32_t v = tm_rt_requant(tm_rt_dsp_wrap(acc), a->mult[c], a->shift[c]);
    int64_t o = (int64_t)v + a->out_zp;
    if (o < a->act_min)
        o = a->act_min;
    if (o > a->act_max)
        o = a->act_max;
    return (int8_t)o;
}

/* Tap t's slot in a column: groups of four reordered, the tail in order. */
TM_RT_DSP_INLINE size_t tm_rt_dsp_slot(size_t t, size_t k4)
{
    static const unsigned char order[4] = {0, 2, 1, 3};
    return t < k4 ? (t & ~(size_t)3) + order[t & 3] : t;
}

/* The column of output position (oy, ox). */
TM_RT_DSP_INLINE void tm_rt_dsp_column(const tm_rt_conv_args *a, int oy, int ox, size_t k4, int16_t *col)
{
    size_t t = 0;
    int ci, ky, kx;
    if (a->kh == 1 && a->kw == 1 && a->stride == 1) {
        /* pointwise: tap ci is channel ci at this position, never padding */
        const int8_t *x = a->input + (size_t)oy * a->in_w + ox;
        size_t plane = (size_t)a->in_h * a->in_w, n = (size_t)a->in_c;
        for (t = 0; t < k4; t += 4, x += 4 * plane) {
            col[t] = (int16_t)(x[0] - a->in_zp);
            col[t + 1] = (int16_t)(x[2 * plane] - a->in_zp);
            col[t + 2] = (int16_t)(x[plane] - a->in_zp);
            col[t + 3] = (int16_t)(x[3 * plane] - a->in_zp);
        }
        for (; t < n; t++, x += plane)
            col[t] = (int16_t)(x[0] - a->in_zp);
        return;
    }
    for (ci = 0; ci < a->in_c; ci++)
        for (ky = 0; ky < a->kh; ky++) {
            int iy = oy * a->stride - a->pad_top + ky;
            const int8_t *row = a->input + ((size_t)ci * a->in_h + (size_t)(iy < 0 ? 0 : iy)) * a->in_w;
            for (kx = 0; kx < a->kw; kx++, t++) {
                int ix = ox * a->stride - a->pad_left + kx;
                int v = iy >= 0 && iy < a->in_h && ix >= 0 && ix < a->in_w ? row[ix] - a->in_zp : 0;
                col[tm_rt_dsp_slot(t, k4)] = (int16_t)v;
            }
        }
}

TM_RT_DSP_INLINE uint32_t tm_rt_dsp_load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* one LDR: M-profile cores load unaligned words */
    return v;
}

/* Four weights of group g as (w0, w2) and (w1, w3) int16 pairs. */
TM_RT_DSP_INLINE void tm_rt_dsp_weights(const uint8_t *row, int bits, size_t g, uint32_t *wa, uint32_t *wb)
{
    if (bits == 8) {
        uint32_t v = tm_rt_dsp_load32(row + 4 * g);
        *wa = (uint32_t)__sxtb16(v);
        *wb = (uint32_t)__sxtb16((v >> 8) | (v << 24)); /* ROR 8: folded into SXTB16 */
    } else {
        /* nibbles n0..n3 (low first) -> (n0, n2), (n1, n3), then (n ^ 8) - 8 */
        uint32_t h = (uint32_t)row[2 * g] | (uint32_t)row[2 * g + 1] << 8, u = h | h << 8;
        *wa = (uint32_t)__ssub16((u & 0x000F000Fu) ^ 0x00080008u, 0x00080008u);
        *wb = (uint32_t)__ssub16(((u >> 4) & 0x000F000Fu) ^ 0x00080008u, 0x00080008u);
    }
}

TM_RT_DSP_INLINE int32_t tm_rt_dsp_weight(const uint8_t *row, int bits, size_t t)
{
    if (bits == 8)
        return ((const int8_t *)(const void *)row)[t];
    {
        int32_t n = (t & 1) ? row[t / 2] >> 4 : row[t / 2] & 15;
        return n >= 8 ? n - 16 : n;
    }
}

/* acc0 / acc1 += row . col0 / col1 over k taps (col1 NULL: one column). */
TM_RT_DSP_INLINE void tm_rt_dsp_dot(const uint8_t *row, int bits, const int16_t *col0, const int16_t *col1,
                          size_t k, uint32_t *acc0, uint32_t *acc1)
{
    size_t k4 = k & ~(size_t)3, g, t;
    int32_t s0 = tm_rt_dsp_wrap(*acc0), s1 = acc1 ? tm_rt_dsp_wrap(*acc1) : 0;
    for (g = 0; g < k4 / 4; g++) {
        uint32_t wa, wb;
        tm_rt_dsp_weights(row, bits, g, &wa, &wb);
        s0 = __smlad((int32_t)wa, (int32_t)tm_rt_dsp_load32(col0 + 4 * g), s0);
        s0 = __smlad((int32_t)wb, (int32_t)tm_rt_dsp_load32(col0 + 4 * g + 2), s0);
        if (col1) {
            s1 = __smlad((int32_t)wa, (int32_t)tm_rt_dsp_load32(col1 + 4 * g), s1);
            s1 = __smlad((int32_t)wb, (int32_t)tm_rt_dsp_load32(col1 + 4 * g + 2), s1);
        }
    }
    {
        uint32_t u0 = (uint32_t)s0, u1 = (uint32_t)s1;
        for (t = k4; t < k; t++) {
            int32_t w = tm_rt_dsp_weight(row, bits, t);
            u0 += (uint32_t)(w * col0[t]);
            if (col1)
                u1 += (uint32_t)(w * col1[t]);
        }
        *acc0 = u0;
        if (acc1)
            *acc1 = u1;
    }
}

/* Inlined into the conv and the dense entry, so an instruction count per
 * function (runtime/tools/bench_device.sh) tells the two apart. */
TM_RT_DSP_INLINE tm_rt_status tm_rt_dsp_run(const tm_rt_conv_args *a, tm_rt_kernel_kind kind)
{
    tm_rt_status st = tm_rt_conv_check(a, kind);
    size_t k, k4, rb, kp;
    int16_t *col0, *col1;
    int n_pos, p, co;
    if (st != TM_RT_OK)
        return st;
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    k = kind == TM_RT_KERNEL_DENSE ? (size_t)a->in_c : (size_t)a->in_c * a->kh * a->kw;
    k4 = k & ~(size_t)3;
    kp = tm_rt_dsp_kpad(k);
    rb = tm_rt_weight_row_bytes(k, a->bits);
    col0 = (int16_t *)(void *)(a->scratch + ((4u - ((uintptr_t)a->scratch & 3u)) & 3u));
    col1 = col0 + kp;
    n_pos = kind == TM_RT_KERNEL_DENSE ? 1 : a->out_h * a->out_w;
    for (p = 0; p < n_pos; p += 2) {
        int two = p + 1 < n_pos;
        if (kind == TM_RT_KERNEL_DENSE) {
            size_t t;
            for (t = 0; t < k; t++)
                col0[tm_rt_dsp_slot(t, k4)] = (int16_t)(a->input[t] - a->in_zp);
        } else {
            tm_rt_dsp_column(a, p / a->out_w, p % a->out_w, k4, col0);
            if (two)
                tm_rt_dsp_column(a, (p + 1) / a->out_w, (p + 1) % a->out_w, k4, col1);
        }
        for (co = 0; co < a->out_c; co++) {
            const uint8_t *row = (const uint8_t *)a->weights + (size_t)co * rb;
            uint32_t b = a->bias ? (uint32_t)a->bias[co] : 0u, acc0 = b, acc1 = b;
            tm_rt_dsp_dot(row, a->bits, col0, two ? col1 : NULL, k, &acc0, two ? &acc1 : NULL);
            a->output[(size_t)co * (size_t)n_pos + (size_t)p] = tm_rt_dsp_finish(acc0, a, co);
            if (two)
                a->output[(size_t)co * (size_t)n_pos + (size_t)p + 1] = tm_rt_dsp_finish(acc1, a, co);
        }
    }
    return TM_RT_OK;
}

tm_rt_status tm_rt_dense_dsp(const tm_rt_conv_args *a)
{
    return tm_rt_dsp_run(a, TM_RT_KERNEL_DENSE);
}

tm_rt_status tm_rt_conv_dsp(const tm_rt_conv_args *a, tm_rt_kernel_kind kind)
{
    return kind == TM_RT_KERNEL_DENSE ? tm_rt_dense_dsp(a) : tm_rt_dsp_run(a, TM_RT_KERNEL_CONV);
}

#else
/* ISO C forbids an empty translation unit. */
typedef int tm_rt_conv_dsp_unused;
#endif
