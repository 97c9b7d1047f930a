/* Real FFT for the device runtime: radix-2, float, no allocation; SSE2 or
 * NEON where the build has them, bit-identical to the plain C reference.
 *
 * The twiddle table lives in a caller buffer of tm_rt_fft_plan_bytes(n)
 * bytes (any alignment) filled once by tm_rt_fft_plan_init; transforms do
 * no trigonometry. A length-n real transform runs as one n/2-point complex
 * FFT plus an O(n) split step, in a fixed order of float operations, so the
 * same input gives the same bits on every call. */
#ifndef TM_RT_FFT_H
#define TM_RT_FFT_H

#include <stddef.h>

#include "tm_rt.h"

#define TM_RT_FFT_MIN_N 2
#define TM_RT_FFT_MAX_N 65536

typedef struct tm_rt_fft_plan {
    int n;             /* transform length, a power of two */
    const float *cos_; /* cos(2*pi*k/n), k = 0 .. n/2-1, in the caller's buffer */
    const float *sin_; /* sin(2*pi*k/n), same indices */
} tm_rt_fft_plan;

/* 1 when n is a power of two in TM_RT_FFT_MIN_N .. TM_RT_FFT_MAX_N. */
int tm_rt_fft_size_ok(int n);

/* Bytes the plan needs for length n (alignment slack included), or 0 when n
 * is not a supported size. */
size_t tm_rt_fft_plan_bytes(int n);

/* Fills the twiddle table. TM_RT_ERR_ARG for a NULL pointer or an
 * unsupported n, TM_RT_ERR_BUFFER when bytes < tm_rt_fft_plan_bytes(n). */
tm_rt_status tm_rt_fft_plan_init(tm_rt_fft_plan *plan, int n, void *buf, size_t bytes);

/* Forward transform X[k] = sum_j x[j] exp(-2 pi i j k / n) of n real samples.
 * data (n floats) is used as the work area and overwritten. out receives the
 * n/2+1 bins k = 0 .. n/2, interleaved re, im (n+2 floats); it must not
 * overlap data. */
tm_rt_status tm_rt_fft_forward(const tm_rt_fft_plan *plan, float *data, float *out);

/* Same transform, writing |X[k]|^2 for k = 0 .. n/2 (n/2+1 floats) to power;
 * data is overwritten and must not overlap power. */
tm_rt_status tm_rt_fft_power(const tm_rt_fft_plan *plan, float *data, float *power);

/* The plain C reference of the two: the SSE2 / NEON paths above give its
 * bits exactly (tests/test_frontend.c checks). Builds without those paths
 * run the reference itself, so there the names are the same functions. */
#if defined(__SSE2__) || defined(__ARM_NEON)
tm_rt_status tm_rt_fft_forward_ref(const tm_rt_fft_plan *plan, float *data, float *out);
tm_rt_status tm_rt_fft_power_ref(const tm_rt_fft_plan *plan, float *data, float *power);
#else
#define tm_rt_fft_forward_ref tm_rt_fft_forward
#define tm_rt_fft_power_ref tm_rt_fft_power
#endif

#endif
