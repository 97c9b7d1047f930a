#include "tm_im2col.h"

#include <stddef.h>
#include <string.h>

/* TensorFlow's SAME rule: the odd pixel of padding goes after. */
static int pad_before(int in, int out, int k, int stride, tm_padding padding)
{
    if (padding != TM_PAD_SAME)
        return 0;
    int total = (out - 1) * stride + k - in;
    return total > 0 ? total / 2 : 0;
}

tm_status tm_conv_geom_init(tm_conv_geom *g, const char *op, const tm_tensor *x,
                            const tm_tensor *w, const tm_conv_params *p)
{
    if (!p)
        return tm_error(TM_ERR_ARG, "%s: no convolution parameters", op);
    if (p->stride < 1)
        return tm_error(TM_ERR_ARG, "%s: stride %d (must be at least 1)", op, p->stride);
    if (p->padding != TM_PAD_SAME && p->padding != TM_PAD_VALID)
        return tm_error(TM_ERR_ARG, "%s: unknown padding %d", op, (int)p->padding);
    g->c = x->shape[1];
    g->h = x->shape[2];
    g->w = x->shape[3];
    g->kh = w->shape[2];
    g->kw = w->shape[3];
    g->stride = p->stride;
    g->ho = tm_conv_out_size(g->h, g->kh, p->stride, p->padding);
    g->wo = tm_conv_out_size(g->w, g->kw, p->stride, p->padding);
    if (g->ho <= 0 || g->wo <= 0) {
        char sx[64], sw[64];
        return tm_error(TM_ERR_SHAPE,
                        "%s: kernel of weight %s does not fit input %s with stride %d and %s "
                        "padding (output %dx%d)",
                        op, tm_shape_str(w->ndim, w->shape, sw, sizeof sw),
                        tm_shape_str(x->ndim, x->shape, sx, sizeof sx), p->stride,
                        p->padding == TM_PAD_SAME ? "SAME" : "VALID", g->ho, g->wo);
    }
    g->pad_top = pad_before(g->h, g->ho, g->kh, p->stride, p->padding);
    g->pad_left = pad_before(g->w, g->wo, g->kw, p->stride, p->padding);
    return TM_OK;
}

void tm_conv_valid_range(int n_out, int n_in, int stride, int off, int *lo, int *hi)
{
    int l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int last = n_in - 1 - off; /* o * stride <= last */
    int h = last < 0 ? 0 : last / stride + 1;
    if (h > n_out)
        h = n_out;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

void tm_im2col(const float *x, const tm_conv_geom *g, float *col)
{
    const int s = g->stride, wo_n = g->wo;
    const size_t plane_out = (size_t)g->ho * (size_t)wo_n;
    float *dst = col;
    for (int c = 0; c < g->c; c++) {
        const float *xc = x + (size_t)c * (size_t)g->h * (size_t)g->w;
        for (int i = 0; i < g->kh; i++) {
            for (int j = 0; j < g->kw; j++, dst += plane_out) {
                int off = j - g->pad_left, lo, hi;
                tm_conv_valid_range(wo_n, g->w, s, off, &lo, &hi);
                for (int ho = 0; ho < g->ho; ho++) {
                    float *d = dst + (size_t)ho * (size_t)wo_n;
                    int h = ho * s - g->pad_top + i;
                    if (h < 0 || h >= g->h) {
                        memset(d, 0, sizeof(float) * (size_t)wo_n);
                        continue;
                    }
                    const float *xr = xc + (size_t)h * (size_t)g->w;
                    for (int wo = 0; wo < lo; wo++)
                        d[wo] = 0.0f;
                    if (s == 1) {
                        memcpy(d + lo, xr + lo + off, sizeof(float) * (size_t)(hi - lo));
                    } else {
                        for (int wo = lo; wo < hi; wo++)
                            d[wo] = xr[wo * s + off];
                    }
                    for (int wo = hi; wo < wo_n; wo++)
                        d[wo] = 0.0f;
                }
            }
        }
    }
}

void tm_col2im_add(const float *col, const tm_conv_geom *g, float *dx)
{
    const int s = g->stride, wo_n = g->wo;
    const size_t plane_out = (size_t)g->ho * (size_t)wo_n;
    const float *src = col;
    for (int c = 0; c < g->c; c++) {
        float *dc = dx + (size_t)c * (size_t)g->h * (size_t)g->w;
        for (int i = 0; i < g->kh; i++) {
            for (int j = 0; j < g->kw; j++, src += plane_out) {
                int off = j - g->pad_left, lo, hi;
                tm_conv_valid_range(wo_n, g->w, s, off, &lo, &hi);
                for (int ho = 0; ho < g->ho; ho++) {
                    int h = ho * s - g->pad_top + i;
                    if (h < 0 || h >= g->h)
                        continue;
                    const float *r = src + (size_t)ho * (size_t)wo_n;
                    float *dr = dc + (size_t)h * (size_t)g->w;
                    if (s == 1) {
                        tm_vec_add(hi - lo, r + lo, dr + lo + off);
                    } else {
                        for (int wo = lo; wo < hi; wo++)
                            dr[wo * s + off] += r[wo];
                    }
                }
            }
        }
    }
}

void tm_reduce_partials(float *dst, const float *part, size_t n, const int *used, int nw)
{
    for (size_t i = 0; i < n; i++) {
        float s = 0.0f;
        for (int w = 0; w < nw; w++)
            if (used[w])
                s += part[(size_t)w * n + i];
        dst[i] += s;
    }
}
