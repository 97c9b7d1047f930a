/* Convolution geometry, im2col / col2im, and the short vector loops the
 * convolution and pooling kernels share.
 *
 * Column layout: col[(c * kh + i) * kw + j][ho * wo_n + wo] holds
 * x[c][ho * stride - pad_top + i][wo * stride - pad_left + j], zero outside
 * the input, so that conv = W (Co, C*kh*kw) x col (C*kh*kw, Ho*Wo). */
#ifndef TM_IM2COL_H
#define TM_IM2COL_H

#include <string.h>

#include "tm_ops.h"

typedef struct tm_conv_geom {
    int c, h, w;          /* input channels and plane */
    int kh, kw, stride;
    int pad_top, pad_left;
    int ho, wo;           /* output plane */
} tm_conv_geom;

/* Fills g for x (N,C,H,W) and a kernel w (.,.,kh,kw); both already have 4
 * dimensions. TM_ERR_ARG for a missing p, a stride below 1 or an unknown
 * padding; TM_ERR_SHAPE (naming `op` and both shapes) when the output would
 * be empty. */
tm_status tm_conv_geom_init(tm_conv_geom *g, const char *op, const tm_tensor *x,
                            const tm_tensor *w, const tm_conv_params *p);

/* The outputs o in [*lo, *hi) of an axis of n_out whose input index
 * o * stride + off lies in [0, n_in). */
void tm_conv_valid_range(int n_out, int n_in, int stride, int off, int *lo, int *hi);

/* col (c*kh*kw, ho*wo) from one sample x (c, h, w). Writes every element. */
void tm_im2col(const float *x, const tm_conv_geom *g, float *col);
/* dx (c, h, w) += the columns scattered back: the adjoint of tm_im2col. */
void tm_col2im_add(const float *col, const tm_conv_geom *g, float *dx);
/* dst[i] += sum over used workers of part[w][i], in worker order, so the
 * result does not depend on which worker finished first. */
void tm_reduce_partials(float *dst, const float *part, size_t n, const int *used, int nw);

/* Four-float vectors (GCC/Clang extension): SSE on x86-64, NEON on aarch64.
 * Written out because -O2 does not vectorise loops of unknown length. */
typedef float tm_v4f __attribute__((vector_size(16)));

static inline tm_v4f tm_v4f_load(const float *p)
{
    tm_v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void tm_v4f_store(float *p, tm_v4f v) { memcpy(p, &v, sizeof v); }

/* y[i] += x[i]; x and y do not overlap. */
static inline void tm_vec_add(int n, const float *restrict x, float *restrict y)
{
    int i = 0;
    for (; i + 4 <= n; i += 4)
        tm_v4f_store(y + i, tm_v4f_load(y + i) + tm_v4f_load(x + i));
    for (; i < n; i++)
        y[i] += x[i];
}

static inline float tm_v4f_hsum(tm_v4f v) { return (v[0] + v[1]) + (v[2] + v[3]); }

/* sum x[i] * y[i], in a fixed order (deterministic, not sequential). */
static inline float tm_vec_dot(int n, const float *x, const float *y)
{
    tm_v4f a0 = {0, 0, 0, 0}, a1 = {0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 += tm_v4f_load(x + i) * tm_v4f_load(y + i);
        a1 += tm_v4f_load(x + i + 4) * tm_v4f_load(y + i + 4);
    }
    if (i + 4 <= n) {
        a0 += tm_v4f_load(x + i) * tm_v4f_load(y + i);
        i += 4;
    }
    float s = tm_v4f_hsum(a0 + a1);
    for (; i < n; i++)
        s += x[i] * y[i];
    return s;
}

/* sum x[i], in a fixed order. */
static inline float tm_vec_sum(int n, const float *x)
{
    tm_v4f a0 = {0, 0, 0, 0}, a1 = {0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 += tm_v4f_load(x + i);
        a1 += tm_v4f_load(x + i + 4);
    }
    if (i + 4 <= n) {
        a0 += tm_v4f_load(x + i);
        i += 4;
    }
    float s = tm_v4f_hsum(a0 + a1);
    for (; i < n; i++)
        s += x[i];
    return s;
}

#endif
