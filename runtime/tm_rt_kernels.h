/* Integer kernels shared by the device and the training side's integer
 * simulation, so both compute the same bits.
 *
 * Arithmetic (docs/quantization.md):
 * - Activations: int8, per tensor, asymmetric: real = scale * (q - zero_point).
 * - Weights: per output channel, symmetric, zero point 0; 8-bit in [-127, 127],
 *   4-bit in [-7, 7]. 4-bit weights are packed two per byte, low nibble first,
 *   sign-extended (the CMSIS-NN / TFLM convention); every output channel's
 *   row starts on a byte boundary (an odd row ends with a zero nibble).
 * - Layout: CHW per sample (batch 1), weights [out][in][kh][kw], depthwise
 *   [ch][kh][kw], dense [out][in]; flatten is therefore a no-op.
 * - Accumulation: int32, acc = bias[c] + sum (q_in - in_zp) * w.
 * - Requantisation: out = clamp(out_zp + requant(acc, mult[c], shift[c]),
 *   act_min, act_max), where requant is gemmlowp's / TFLite's
 *   MultiplyByQuantizedMultiplier: mult is a Q31 value in [2^30, 2^31) (or 0),
 *   shift > 0 shifts left (saturating) before, shift < 0 shifts right after
 *   a saturating rounding doubling high multiply. As in gemmlowp, the high
 *   multiply rounds ties up (toward +inf) and the right shift rounds half
 *   away from zero; accumulators wrap modulo 2^32 (docs/quantization.md,
 *   "Integer kernels").
 *   tm_rt_quantize_multiplier turns a real multiplier into (mult, shift).
 * Every kernel has a plain C reference (tm_rt_*_ref) and a dispatched version
 * (tm_rt_*) that uses SSE2 (SSE4.1 when enabled) / AVX2 on x86-64, NEON on
 * aarch64 or the DSP extension on Cortex-M when compiled for them
 * (tm_rt_kernels_dispatch.c); tests require both to agree bit for bit. */
#ifndef TM_RT_KERNELS_H
#define TM_RT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "tm_rt.h"

/* The instruction sets the dispatched kernels can be compiled for. */
typedef enum tm_rt_isa {
    TM_RT_ISA_REFERENCE = 0, /* plain C */
    TM_RT_ISA_SSE2,
    TM_RT_ISA_SSE41,
    TM_RT_ISA_AVX2,
    TM_RT_ISA_NEON,
    TM_RT_ISA_ARM_DSP,    /* Cortex-M DSP extension */
    TM_RT_ISA_AVX512VNNI, /* AVX2 + AVX-512 VNNI conv and dense */
    TM_RT_ISA_DOTPROD,    /* NEON + Armv8.2 dot product conv and dense */
    TM_RT_ISA_COUNT
} tm_rt_isa;

/* The instruction set this build's kernels were compiled for, and the name
 * of any ("avx2", "sse2", "sse4.1", "avx512vnni", "neon", "dotprod",
 * "arm-dsp" or "reference"; NULL for a value outside the enum; left out of
 * Cortex-M / R builds like tm_rt_kernel_scratch_bytes_for). */
tm_rt_isa tm_rt_kernels_build_isa(void);
const char *tm_rt_kernels_isa_name(tm_rt_isa isa);
/* tm_rt_kernels_isa_name(tm_rt_kernels_build_isa()), and the int16
 * multiply-accumulates one of its multiply-add instructions does (the ideal
 * Ir/MAC is 1 / that). */
const char *tm_rt_kernels_isa(void);
int tm_rt_kernels_macs_per_instruction(void);

/* real multiplier m (0 <= m < 2^31 / 2) -> Q31 mult and shift. */
void tm_rt_quantize_multiplier(double m, int32_t *mult, int32_t *shift);
/* The requantisation of one accumulator (without zero point and clamp). */
int32_t tm_rt_requant(int32_t acc, int32_t mult, int32_t shift);

typedef struct tm_rt_conv_args {
    const int8_t *input;      /* in_c x in_h x in_w */
    int in_c, in_h, in_w;
    int32_t in_zp;
    const void *weights;      /* int8, or packed int4 when bits == 4 */
    int bits;                 /* 8 or 4 */
    const int32_t *bias;      /* out_c, or NULL */
    int out_c, kh, kw, stride, pad_top, pad_left;  /* depthwise: out_c == in_c */
    int8_t *output;           /* out_c x out_h x out_w */
    int out_h, out_w;
    int32_t out_zp;
    const int32_t *mult, *shift;  /* per output channel */
    int32_t act_min, act_max;
    int8_t *scratch;          /* tm_rt_conv_scratch_bytes() bytes, or NULL when 0 */
} tm_rt_conv_args;

/* Scratch the conv / depthwise / dense kernels need (4-bit rows unpacked). */
size_t tm_rt_conv_scratch_bytes(const tm_rt_conv_args *a);

typedef enum tm_rt_kernel_kind {
    TM_RT_KERNEL_CONV = 0,
    TM_RT_KERNEL_DEPTHWISE,
    TM_RT_KERNEL_DENSE
} tm_rt_kernel_kind;
/* The argument check every kernel runs first (TM_RT_OK or TM_RT_ERR_ARG);
 * a loader may run it up front. Rules: docs/quantization.md. */
tm_rt_status tm_rt_conv_check(const tm_rt_conv_args *a, tm_rt_kernel_kind kind);
/* Scratch of one kind of kernel (only the shapes in a are read) in this
 * build; tm_rt_conv_scratch_bytes is the largest over the kinds the shapes
 * allow. 0 when the build has no SIMD kernels. */
size_t tm_rt_kernel_scratch_bytes(const tm_rt_conv_args *a, tm_rt_kernel_kind kind);
/* The same for the build of another instruction set, asked on any host (0
 * for the reference and values outside the enum). Cortex-M / R builds
 * (32-bit ARM without NEON) leave it out unless TM_RT_ALL_ISA_SCRATCH is
 * defined, to save their flash. */
size_t tm_rt_kernel_scratch_bytes_for(tm_rt_isa isa, const tm_rt_conv_args *a,
                                      tm_rt_kernel_kind kind);
/* Bytes of one output channel's weight row of n weights (4-bit: n / 2
 * rounded up). */
size_t tm_rt_weight_row_bytes(size_t n, int bits);

tm_rt_status tm_rt_conv_ref(const tm_rt_conv_args *a);
tm_rt_status tm_rt_conv(const tm_rt_conv_args *a);
tm_rt_status tm_rt_depthwise_ref(const tm_rt_conv_args *a);
tm_rt_status tm_rt_depthwise(const tm_rt_conv_args *a);
/* Dense: in_c = inputs (in_h = in_w = 1), out_c = outputs, kh = kw = 1. */
tm_rt_status tm_rt_dense_ref(const tm_rt_conv_args *a);
tm_rt_status tm_rt_dense(const tm_rt_conv_args *a);

/* Arm DSP-extension builds (Cortex-M4/M7: SMLAD), tm_rt_conv_dsp.c: conv
 * (kind CONV) and dense (kind DENSE), declared everywhere, defined only
 * where __ARM_FEATURE_DSP is; their scratch (two int16 columns), defined
 * everywhere. */
tm_rt_status tm_rt_conv_dsp(const tm_rt_conv_args *a, tm_rt_kernel_kind kind);
tm_rt_status tm_rt_dense_dsp(const tm_rt_conv_args *a);
size_t tm_rt_conv_dsp_scratch_bytes(const tm_rt_conv_args *a, tm_rt_kernel_kind kind);
/* Depthwise for the same cores, tm_rt_depthwise_dsp.c (no scratch). */
tm_rt_status tm_rt_depthwise_dsp(const tm_rt_conv_args *a);

/* Pools keep the input's scale and zero point. Average pools round the
 * mean half away from zero. */
tm_rt_status tm_rt_maxpool(const int8_t *in, int c, int h, int w, int size, int stride,
                           int8_t *out, int out_h, int out_w);
tm_rt_status tm_rt_maxpool_ref(const int8_t *in, int c, int h, int w, int size, int stride,
                               int8_t *out, int out_h, int out_w);
/* The argument check of every pool (TM_RT_OK or TM_RT_ERR_ARG). */
tm_rt_status tm_rt_pool_check(const int8_t *in, int c, int h, int w, int size, int stride,
                              const int8_t *out, int out_h, int out_w);
tm_rt_status tm_rt_avgpool(const int8_t *in, int c, int h, int w, int size, int stride,
                           int8_t *out, int out_h, int out_w);
tm_rt_status tm_rt_global_avgpool(const int8_t *in, int c, int h, int w, int8_t *out);

/* out[i] = clamp(out_zp + requant(in[i] - in_zp, mult, shift), -128, 127):
 * moves a tensor to another scale (each input of a concatenation). */
void tm_rt_requantize(const int8_t *in, size_t n, int32_t in_zp, int32_t mult, int32_t shift,
                      int32_t out_zp, int8_t *out);
/* TFLite's int8 add: with a' = requant((a[i] - a_zp) << 20, mult[0], shift[0]) and
 * b' likewise with mult[1], shift[1], out[i] = clamp(out_zp + requant(a' + b',
 * mult[2], shift[2]), lo, hi) (tm_rt_add_multipliers, tm_rt_model.h, makes them). */
void tm_rt_add(const int8_t *a, int32_t a_zp, const int8_t *b, int32_t b_zp, size_t n,
               const int32_t *mult, const int32_t *shift, int32_t out_zp, int32_t lo, int32_t hi,
               int8_t *out);
/* float -> int8: q = clamp(round_half_away(x / scale) + zp, -128, 127). */
void tm_rt_quantize_input(const float *in, size_t n, float scale, int32_t zp, int8_t *out);
/* Softmax of dequantised int8 logits, in float. */
void tm_rt_softmax(const int8_t *logits, int n, float scale, int32_t zp, float *probs);

#endif
