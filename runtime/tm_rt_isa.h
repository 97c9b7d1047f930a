/* Which integer kernels this build compiles, read from the compiler's
 * target macros (runtime/CMakeLists.txt sets the flags). Every kernel file
 * tests these and compiles to nothing on another target, so a build may
 * compile every runtime source with any flags. Internal to the runtime. */
#ifndef TM_RT_ISA_H
#define TM_RT_ISA_H

#include "tm_rt_kernels.h"

#if defined(__AVX2__)
#define TM_RT_X86 1
#define TM_RT_VX 16 /* int16 lanes per vector */
#elif defined(__SSE2__)
#define TM_RT_X86 1
#define TM_RT_VX 8
#elif defined(__ARM_NEON)
#define TM_RT_NEON 1
#define TM_RT_VX 8
#endif

/* On top of the AVX2 kernels: AVX-512 VNNI (vpdpbusd) conv and dense. */
#if defined(TM_RT_X86) && defined(__AVX2__) && defined(__AVX512F__) && defined(__AVX512VNNI__)
#define TM_RT_VNNI 1
#endif
/* On top of the NEON kernels: the Armv8.2 dot product (sdot) conv and dense. */
#if defined(TM_RT_NEON) && defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#define TM_RT_SDOT 1
#endif

#if defined(TM_RT_X86) || defined(TM_RT_NEON)
#define TM_RT_SIMD 1 /* the int16-tile kernels (tm_rt_*_x86.c, tm_rt_*_neon.c) */
#elif defined(__ARM_FEATURE_DSP)
#define TM_RT_DSP 1 /* Cortex-M DSP extension (tm_rt_conv_dsp.c) */
#endif

/* Builds that widen streamed chains (tm_rt_stream.c), lending them the
 * workspace's bytes that only set_audio uses: the SIMD and DSP ones (not the
 * -Os size build) and any exporting host. */
#if defined(TM_RT_SIMD) || (defined(TM_RT_DSP) && !defined(__OPTIMIZE_SIZE__)) || !defined(__arm__) ||  \
    defined(TM_RT_ALL_ISA_SCRATCH)
#define TM_RT_STREAM_WIDEN 1
#endif

/* The kernels of each target, on arguments tm_rt_conv_check passed (the
 * dispatch in tm_rt_kernels_dispatch.c checks first); declared everywhere,
 * defined only in that target's build. */
tm_rt_status tm_rt_conv_x86(const tm_rt_conv_args *a);
tm_rt_status tm_rt_depthwise_x86(const tm_rt_conv_args *a);
tm_rt_status tm_rt_dense_x86(const tm_rt_conv_args *a);
tm_rt_status tm_rt_conv_neon(const tm_rt_conv_args *a);
tm_rt_status tm_rt_depthwise_neon(const tm_rt_conv_args *a);
tm_rt_status tm_rt_dense_neon(const tm_rt_conv_args *a);
tm_rt_status tm_rt_conv_vnni(const tm_rt_conv_args *a);
tm_rt_status tm_rt_dense_vnni(const tm_rt_conv_args *a);
tm_rt_status tm_rt_conv_sdot(const tm_rt_conv_args *a);
tm_rt_status tm_rt_dense_sdot(const tm_rt_conv_args *a);

#endif
