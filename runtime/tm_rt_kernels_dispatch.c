/* The dispatched conv / depthwise / dense: the kernels of the instruction
 * set this build was compiled for (tm_rt_isa.h), the reference otherwise.
 * One file per op and target holds the kernels:
 *   x86-64 SSE2 / SSE4.1 / AVX2  tm_rt_{conv,depthwise,dense}_x86.c
 *   x86-64 AVX-512 VNNI          tm_rt_conv_vnni.c, tm_rt_dense_vnni.c (AVX2 otherwise)
 *   NEON                         tm_rt_{conv,depthwise,dense}_neon.c
 *   aarch64 dot product          tm_rt_conv_sdot.c, tm_rt_dense_sdot.c (NEON otherwise)
 *   Cortex-M DSP extension       tm_rt_conv_dsp.c (conv, dense), tm_rt_depthwise_dsp.c
 * and compiles to nothing in another build. */
#include "tm_rt_isa.h"
#include "tm_rt_kernels_plan.h"

#if defined(TM_RT_VNNI)
#define TM_RT_CONV tm_rt_conv_vnni
#define TM_RT_DEPTHWISE tm_rt_depthwise_x86
#define TM_RT_DENSE tm_rt_dense_vnni
#elif defined(TM_RT_SDOT)
#define TM_RT_CONV tm_rt_conv_sdot
#define TM_RT_DEPTHWISE tm_rt_depthwise_neon
#define TM_RT_DENSE tm_rt_dense_sdot
#elif defined(TM_RT_X86)
#define TM_RT_CONV tm_rt_conv_x86
#define TM_RT_DEPTHWISE tm_rt_depthwise_x86
#define TM_RT_DENSE tm_rt_dense_x86
#elif defined(TM_RT_NEON)
#define TM_RT_CONV tm_rt_conv_neon
#define TM_RT_DEPTHWISE tm_rt_depthwise_neon
#define TM_RT_DENSE tm_rt_dense_neon
#endif

#if defined(TM_RT_SIMD)

tm_rt_status tm_rt_conv(const tm_rt_conv_args *a)
{
    tm_rt_status st = tm_rt_conv_check(a, TM_RT_KERNEL_CONV);
    if (st != TM_RT_OK)
        return st;
    return tm_rt_dense_shaped(a) ? TM_RT_DENSE(a) : TM_RT_CONV(a);
}

tm_rt_status tm_rt_depthwise(const tm_rt_conv_args *a)
{
    tm_rt_status st = tm_rt_conv_check(a, TM_RT_KERNEL_DEPTHWISE);
    return st != TM_RT_OK ? st : TM_RT_DEPTHWISE(a);
}

tm_rt_status tm_rt_dense(const tm_rt_conv_args *a)
{
    tm_rt_status st = tm_rt_conv_check(a, TM_RT_KERNEL_DENSE);
    return st != TM_RT_OK ? st : TM_RT_DENSE(a);
}

#elif defined(TM_RT_DSP)

tm_rt_status tm_rt_conv(const tm_rt_conv_args *a) { return tm_rt_conv_dsp(a, TM_RT_KERNEL_CONV); }
tm_rt_status tm_rt_depthwise(const tm_rt_conv_args *a) { return tm_rt_depthwise_dsp(a); }
tm_rt_status tm_rt_dense(const tm_rt_conv_args *a) { return tm_rt_dense_dsp(a); }

#else

tm_rt_status tm_rt_conv(const tm_rt_conv_args *a) { return tm_rt_conv_ref(a); }
tm_rt_status tm_rt_depthwise(const tm_rt_conv_args *a) { return tm_rt_depthwise_ref(a); }
tm_rt_status tm_rt_dense(const tm_rt_conv_args *a) { return tm_rt_dense_ref(a); }

#endif

/* This build's ISA, its name and its multiply-add width, from the macros
 * alone: one string in a microcontroller's flash, not the table. */
#if defined(TM_RT_VNNI)
#define TM_RT_BUILD_ISA TM_RT_ISA_AVX512VNNI
#define TM_RT_BUILD_NAME "avx512vnni"
#define TM_RT_BUILD_MACS 64 /* vpdpbusd zmm */
#elif defined(TM_RT_SDOT)
#define TM_RT_BUILD_ISA TM_RT_ISA_DOTPROD
#define TM_RT_BUILD_NAME "dotprod"
#define TM_RT_BUILD_MACS 16 /* sdot by lane */
#elif defined(__AVX2__)
#define TM_RT_BUILD_ISA TM_RT_ISA_AVX2
#define TM_RT_BUILD_NAME "avx2"
#define TM_RT_BUILD_MACS 16 /* vpmaddwd */
#elif defined(__SSE4_1__)
#define TM_RT_BUILD_ISA TM_RT_ISA_SSE41
#define TM_RT_BUILD_NAME "sse4.1"
#define TM_RT_BUILD_MACS 8 /* pmaddwd */
#elif defined(__SSE2__)
#define TM_RT_BUILD_ISA TM_RT_ISA_SSE2
#define TM_RT_BUILD_NAME "sse2"
#define TM_RT_BUILD_MACS 8
#elif defined(__ARM_NEON)
#define TM_RT_BUILD_ISA TM_RT_ISA_NEON
#define TM_RT_BUILD_NAME "neon"
#define TM_RT_BUILD_MACS 4 /* smlal by lane */
#elif defined(__ARM_FEATURE_DSP)
#define TM_RT_BUILD_ISA TM_RT_ISA_ARM_DSP
#define TM_RT_BUILD_NAME "arm-dsp"
#define TM_RT_BUILD_MACS 2 /* smlad */
#else
#define TM_RT_BUILD_ISA TM_RT_ISA_REFERENCE
#define TM_RT_BUILD_NAME "reference"
#define TM_RT_BUILD_MACS 1
#endif

tm_rt_isa tm_rt_kernels_build_isa(void)
{
    return TM_RT_BUILD_ISA;
}

const char *tm_rt_kernels_isa(void)
{
    return TM_RT_BUILD_NAME;
}

int tm_rt_kernels_macs_per_instruction(void)
{
    return TM_RT_BUILD_MACS;
}

#if defined(TM_RT_SIMD) || !defined(__arm__) || defined(TM_RT_ALL_ISA_SCRATCH)
const char *tm_rt_kernels_isa_name(tm_rt_isa isa)
{
    switch (isa) {
    case TM_RT_ISA_REFERENCE: return "reference";
    case TM_RT_ISA_SSE2: return "sse2";
    case TM_RT_ISA_SSE41: return "sse4.1";
    case TM_RT_ISA_AVX2: return "avx2";
    case TM_RT_ISA_NEON: return "neon";
    case TM_RT_ISA_ARM_DSP: return "arm-dsp";
    case TM_RT_ISA_AVX512VNNI: return "avx512vnni";
    case TM_RT_ISA_DOTPROD: return "dotprod";
    default: return NULL;
    }
}
#endif
