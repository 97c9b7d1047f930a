#include "tm_rt_fft.h"

#include <math.h>
#include <stdint.h>

#define TM_RT_FFT_ALIGN 16

static const double tm_rt_two_pi = 6.283185307179586476925286766559;

int tm_rt_fft_size_ok(int n)
{
    return n >= TM_RT_FFT_MIN_N && n <= TM_RT_FFT_MAX_N && (n & (n - 1)) == 0;
}

size_t tm_rt_fft_plan_bytes(int n)
{
    if (!tm_rt_fft_size_ok(n))
        return 0;
    return (size_t)n * sizeof(float) + (TM_RT_FFT_ALIGN - 1);
}

tm_rt_status tm_rt_fft_plan_init(tm_rt_fft_plan *plan, int n, void *buf, size_t bytes)
{
    if (!plan || !buf || !tm_rt_fft_size_ok(n))
        return TM_RT_ERR_ARG;
    if (bytes < tm_rt_fft_plan_bytes(n))
        return TM_RT_ERR_BUFFER;
    uintptr_t p = ((uintptr_t)buf + (TM_RT_FFT_ALIGN - 1)) & ~(uintptr_t)(TM_RT_FFT_ALIGN - 1);
    float *c = (float *)p;
    float *s = c + n / 2;
    /* Only angles up to pi/4 go through libm; the rest follow by symmetry, so
     * quarter-turn values are exact and the table does not depend on how a
     * given libm rounds large arguments. */
    for (int k = 0; k < n / 2; k++) {
        int r = k;
        double sign = 1.0;
        if (r > n / 4) {
            r = n / 2 - r;
            sign = -1.0;
        }
        double cv, sv;
        if (r <= n / 8) {
            cv = cos(tm_rt_two_pi * r / n);
            sv = sin(tm_rt_two_pi * r / n);
        } else {
            int q = n / 4 - r;
            cv = sin(tm_rt_two_pi * q / n);
            sv = cos(tm_rt_two_pi * q / n);
        }
        c[k] = (float)(sign * cv);
        s[k] = (float)sv;
    }
    plan->n = n;
    plan->cos_ = c;
    plan->sin_ = s;
    return TM_RT_OK;
}

/* In-place m-point complex FFT (m = n/2) of interleaved re/im pairs:
 * bit-reversal permutation, then iterative radix-2 decimation-in-time. */
static void tm_rt_fft_complex_half(const tm_rt_fft_plan *plan, float *z)
{
    int n = plan->n, m = n / 2;
    for (int i = 1, j = 0; i < m; i++) {
        int bit = m >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            float tr = z[2 * i], ti = z[2 * i + 1];
            z[2 * i] = z[2 * j];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = tr;
            z[2 * j + 1] = ti;
        }
    }
    for (int len = 2; len <= m; len <<= 1) {
        int half = len / 2, step = n / len;
        for (int j = 0; j < half; j++) {
            /* w = exp(-2 pi i j / len) = table entry j * n / len */
            float wr = plan->cos_[j * step], wi = -plan->sin_[j * step];
            for (int s = j; s < m; s += len) {
                float *a = z + 2 * s, *b = z + 2 * (s + half);
                float tr = b[0] * wr - b[1] * wi;
                float ti = b[0] * wi + b[1] * wr;
                b[0] = a[0] - tr;
                b[1] = a[1] - ti;
                a[0] = a[0] + tr;
                a[1] = a[1] + ti;
            }
        }
    }
}

/* Runs the half-length complex FFT on data viewed as z[j] = x[2j] + i x[2j+1]
 * and splits Z into the real signal's bins:
 * X[k] = (Z[k] + conj Z[m-k]) / 2 + w^k (Z[k] - conj Z[m-k]) / 2i, w = exp(-2 pi i / n).
 * Writes interleaved bins to out, or |X|^2 to power (exactly one non-NULL). */
static tm_rt_status tm_rt_fft_run(const tm_rt_fft_plan *plan, float *data, float *out,
                                  float *power)
{
    if (!plan || !data || !tm_rt_fft_size_ok(plan->n) || !plan->cos_ || !plan->sin_)
        return TM_RT_ERR_ARG;
    int m = plan->n / 2;
    tm_rt_fft_complex_half(plan, data);
    float z0r = data[0], z0i = data[1];
    float x0 = z0r + z0i, xm = z0r - z0i;
    if (out) {
        out[0] = x0;
        out[1] = 0.0f;
        out[2 * m] = xm;
        out[2 * m + 1] = 0.0f;
    } else {
        power[0] = x0 * x0;
        power[m] = xm * xm;
    }
    for (int k = 1; k < m; k++) {
        float ar = data[2 * k], ai = data[2 * k + 1];
        float br = data[2 * (m - k)], bi = -data[2 * (m - k) + 1];
        float er = 0.5f * (ar + br), ei = 0.5f * (ai + bi);
        float dr = 0.5f * (ar - br), di = 0.5f * (ai - bi);
        /* o = d / i */
        float orr = di, oi = -dr;
        float wr = plan->cos_[k], wi = -plan->sin_[k];
        float xr = er + (wr * orr - wi * oi);
        float xi = ei + (wr * oi + wi * orr);
        if (out) {
            out[2 * k] = xr;
            out[2 * k + 1] = xi;
        } else {
            power[k] = xr * xr + xi * xi;
        }
    }
    return TM_RT_OK;
}

tm_rt_status tm_rt_fft_forward(const tm_rt_fft_plan *plan, float *data, float *out)
{
    if (!out)
        return TM_RT_ERR_ARG;
    return tm_rt_fft_run(plan, data, out, NULL);
}

tm_rt_status tm_rt_fft_power(const tm_rt_fft_plan *plan, float *data, float *power)
{
    if (!power)
        return TM_RT_ERR_ARG;
    return tm_rt_fft_run(plan, data, NULL, power);
}
