/* Plain C reference of the integer kernels (tm_rt_kernels.h): the
 * definition the vectorised kernels must match bit for bit. */
#include <math.h>
#include <string.h>

#include "tm_rt_kernels.h"

#define TM_RT_MAX_ELEMS 2147483647LL /* per tensor */
#define TM_RT_MAX_TAPS (1LL << 24)   /* weights per output channel */

void tm_rt_quantize_multiplier(double m, int32_t *mult, int32_t *shift)
{
    int e = 0;
    double q;
    int64_t qf;
    if (!mult || !shift)
        return;
    *mult = 0;
    *shift = 0;
    if (!(m > 0.0)) /* 0, negative, NaN */
        return;
    if (m > 1e300) {
        *mult = INT32_MAX;
        *shift = 31;
        return;
    }
    q = frexp(m, &e);
    qf = (int64_t)round(q * 2147483648.0);
    if (qf == (1LL << 31)) {
        qf /= 2;
        e++;
    }
    /* Below 2^-32 every product shifts out: TFLite uses mult 0 there too. */
    if (e < -31)
        return;
    if (e > 31) {
        *mult = INT32_MAX;
        *shift = 31;
        return;
    }
    *mult = (int32_t)qf;
    *shift = e;
}

int32_t tm_rt_requant(int32_t acc, int32_t mult, int32_t shift)
{
    int32_t sh = shift > 31 ? 31 : (shift < -31 ? -31 : shift);
    int ls = sh > 0 ? sh : 0, rs = sh > 0 ? 0 : -sh;
    int64_t v = (int64_t)acc * ((int64_t)1 << ls);
    int32_t x = v > INT32_MAX ? INT32_MAX : (v < INT32_MIN ? INT32_MIN : (int32_t)v);
    int32_t hi, q;
    uint32_t mask, rem, thr;
    /* SaturatingRoundingDoublingHighMul, gemmlowp's scalar formulation. */
    if (x == INT32_MIN && mult == INT32_MIN) {
        hi = INT32_MAX;
    } else {
        int64_t ab = (int64_t)x * mult;
        int64_t nudge = ab >= 0 ? (1LL << 30) : (1 - (1LL << 30));
        hi = (int32_t)((ab + nudge) / (1LL << 31));
    }
    if (rs == 0)
        return hi;
    /* RoundingDivideByPOT; the floor shift avoids >> of a negative int. */
    mask = ((uint32_t)1 << rs) - 1u;
    rem = (uint32_t)hi & mask;
    thr = (mask >> 1) + (hi < 0 ? 1u : 0u);
    q = hi >= 0 ? (int32_t)((uint32_t)hi >> rs) : -(int32_t)(~(uint32_t)hi >> rs) - 1;
    return q + (rem > thr ? 1 : 0);
}

size_t tm_rt_weight_row_bytes(size_t n, int bits)
{
    return bits == 4 ? (n + 1) / 2 : n;
}

tm_rt_status tm_rt_conv_check(const tm_rt_conv_args *a, tm_rt_kernel_kind kind)
{
    long long taps;
    if (!a || !a->input || !a->weights || !a->output || !a->mult || !a->shift)
        return TM_RT_ERR_ARG;
    if (a->bits != 4 && a->bits != 8)
        return TM_RT_ERR_ARG;
    if (a->in_c < 1 || a->in_h < 1 || a->in_w < 1 || a->out_c < 1 || a->kh < 1 || a->kw < 1 ||
        a->stride < 1 || a->out_h < 1 || a->out_w < 1 || a->pad_top < 0 || a->pad_left < 0)
        return TM_RT_ERR_ARG;
    if (a->in_zp < -128 || a->in_zp > 127 || a->out_zp < -128 || a->out_zp > 127)
        return TM_RT_ERR_ARG;
    if (a->act_min < -128 || a->act_max > 127 || a->act_min > a->act_max)
        return TM_RT_ERR_ARG;
    if ((long long)a->in_c * a->in_h * a->in_w > TM_RT_MAX_ELEMS ||
        (long long)a->out_c * a->out_h * a->out_w > TM_RT_MAX_ELEMS)
        return TM_RT_ERR_ARG;
    taps = (long long)a->kh * a->kw * (kind == TM_RT_KERNEL_DEPTHWISE ? 1 : a->in_c);
    if (taps > TM_RT_MAX_TAPS)
        return TM_RT_ERR_ARG;
    switch (kind) {
    case TM_RT_KERNEL_DENSE:
        if (a->in_h != 1 || a->in_w != 1 || a->kh != 1 || a->kw != 1 || a->stride != 1 ||
            a->pad_top != 0 || a->pad_left != 0 || a->out_h != 1 || a->out_w != 1)
            return TM_RT_ERR_ARG;
        return TM_RT_OK;
    case TM_RT_KERNEL_DEPTHWISE:
        if (a->out_c != a->in_c)
            return TM_RT_ERR_ARG;
        break;
    case TM_RT_KERNEL_CONV:
        break;
    default:
        return TM_RT_ERR_ARG;
    }
    /* Every window overlaps the input: padding below k on each side. */
    if (a->pad_top > a->kh - 1 || a->pad_left > a->kw - 1)
        return TM_RT_ERR_ARG;
    if ((long long)(a->out_h - 1) * a->stride - a->pad_top > a->in_h - 1 ||
        (long long)(a->out_w - 1) * a->stride - a->pad_left > a->in_w - 1)
        return TM_RT_ERR_ARG;
    return TM_RT_OK;
}

/* Weight idx of a row; 4-bit: low nibble first, sign-extended. */
static int32_t tm_rt_weight(const void *w, int bits, size_t row_bytes, int row, size_t idx)
{
    if (bits == 8)
        return ((const int8_t *)w)[(size_t)row * row_bytes + idx];
    {
        uint8_t b = ((const uint8_t *)w)[(size_t)row * row_bytes + idx / 2];
        int32_t nib = (idx & 1) ? (b >> 4) : (b & 15);
        return nib >= 8 ? nib - 16 : nib;
    }
}

/* uint32 -> int32 modulo 2^32 without implementation-defined conversion. */
static int32_t tm_rt_wrap(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

static int8_t tm_rt_finish(uint32_t acc, const tm_rt_conv_args *a, int c)
{
    int64_t v = (int64_t)tm_rt_requant(tm_rt_wrap(acc), a->mult[c], a->shift[c]) + a->out_zp;
    if (v < a->act_min)
        v = a->act_min;
    if (v > a->act_max)
        v = a->act_max;
    return (int8_t)v;
}

tm_rt_status tm_rt_conv_ref(const tm_rt_conv_args *a)
{
    tm_rt_status s = tm_rt_conv_check(a, TM_RT_KERNEL_CONV);
    size_t rb;
    int co, oy, ox, ci, ky, kx;
    if (s != TM_RT_OK)
        return s;
    rb = tm_rt_weight_row_bytes((size_t)a->in_c * a->kh * a->kw, a->bits);
    for (co = 0; co < a->out_c; co++)
        for (oy = 0; oy < a->out_h; oy++)
            for (ox = 0; ox < a->out_w; ox++) {
                uint32_t acc = a->bias ? (uint32_t)a->bias[co] : 0u;
                for (ci = 0; ci < a->in_c; ci++)
                    for (ky = 0; ky < a->kh; ky++) {
                        int iy = oy * a->stride - a->pad_top + ky;
                        if (iy < 0 || iy >= a->in_h)
                            continue; /* padding: (in_zp - in_zp) * w = 0 */
                        for (kx = 0; kx < a->kw; kx++) {
                            int ix = ox * a->stride - a->pad_left + kx;
                            size_t t = ((size_t)ci * a->kh + ky) * a->kw + kx;
                            int32_t q;
                            if (ix < 0 || ix >= a->in_w)
                                continue;
                            q = a->input[((size_t)ci * a->in_h + iy) * a->in_w + ix];
                            acc += (uint32_t)((q - a->in_zp) *
                                              tm_rt_weight(a->weights, a->bits, rb, co, t));
                        }
                    }
                a->output[((size_t)co * a->out_h + oy) * a->out_w + ox] = tm_rt_finish(acc, a, co);
            }
    return TM_RT_OK;
}

tm_rt_status tm_rt_depthwise_ref(const tm_rt_conv_args *a)
{
    tm_rt_status s = tm_rt_conv_check(a, TM_RT_KERNEL_DEPTHWISE);
    size_t rb;
    int c, oy, ox, ky, kx;
    if (s != TM_RT_OK)
        return s;
    rb = tm_rt_weight_row_bytes((size_t)a->kh * a->kw, a->bits);
    for (c = 0; c < a->out_c; c++)
        for (oy = 0; oy < a->out_h; oy++)
            for (ox = 0; ox < a->out_w; ox++) {
                uint32_t acc = a->bias ? (uint32_t)a->bias[c] : 0u;
                for (ky = 0; ky < a->kh; ky++) {
                    int iy = oy * a->stride - a->pad_top + ky;
                    if (iy < 0 || iy >= a->in_h)
                        continue;
                    for (kx = 0; kx < a->kw; kx++) {
                        int ix = ox * a->stride - a->pad_left + kx;
                        int32_t q;
                        if (ix < 0 || ix >= a->in_w)
                            continue;
                        q = a->input[((size_t)c * a->in_h + iy) * a->in_w + ix];
                        acc += (uint32_t)((q - a->in_zp) *
                                          tm_rt_weight(a->weights, a->bits, rb, c,
                                                       (size_t)ky * a->kw + kx));
                    }
                }
                a->output[((size_t)c * a->out_h + oy) * a->out_w + ox] = tm_rt_finish(acc, a, c);
            }
    return TM_RT_OK;
}

tm_rt_status tm_rt_dense_ref(const tm_rt_conv_args *a)
{
    tm_rt_status s = tm_rt_conv_check(a, TM_RT_KERNEL_DENSE);
    size_t rb;
    int o, i;
    if (s != TM_RT_OK)
        return s;
    rb = tm_rt_weight_row_bytes((size_t)a->in_c, a->bits);
    for (o = 0; o < a->out_c; o++) {
        uint32_t acc = a->bias ? (uint32_t)a->bias[o] : 0u;
        for (i = 0; i < a->in_c; i++)
            acc += (uint32_t)((a->input[i] - a->in_zp) *
                              tm_rt_weight(a->weights, a->bits, rb, o, (size_t)i));
        a->output[o] = tm_rt_finish(acc, a, o);
    }
    return TM_RT_OK;
}

/* ---- pools --------------------------------------------------------------- */

tm_rt_status tm_rt_pool_check(const int8_t *in, int c, int h, int w, int size, int stride,
                              const int8_t *out, int out_h, int out_w)
{
    if (!in || !out || c < 1 || h < 1 || w < 1 || size < 1 || stride < 1)
        return TM_RT_ERR_ARG;
    if ((long long)c * h * w > TM_RT_MAX_ELEMS || size > h || size > w)
        return TM_RT_ERR_ARG;
    /* Floor output, no padding. */
    if (out_h != (h - size) / stride + 1 || out_w != (w - size) / stride + 1)
        return TM_RT_ERR_ARG;
    return TM_RT_OK;
}

/* sum / n rounded half away from zero (n > 0). */
static int32_t tm_rt_div_away(int64_t sum, int64_t n)
{
    return sum >= 0 ? (int32_t)((2 * sum + n) / (2 * n)) : -(int32_t)((-2 * sum + n) / (2 * n));
}

tm_rt_status tm_rt_maxpool_ref(const int8_t *in, int c, int h, int w, int size, int stride,
                               int8_t *out, int out_h, int out_w)
{
    tm_rt_status s = tm_rt_pool_check(in, c, h, w, size, stride, out, out_h, out_w);
    int ch, oy, ox, ky, kx;
    if (s != TM_RT_OK)
        return s;
    if (size == 2 && stride == 2) {
        /* The models' only pool: two rows at a time, branch-free maxima. */
        for (ch = 0; ch < c; ch++)
            for (oy = 0; oy < out_h; oy++) {
                const int8_t *r0 = in + ((size_t)ch * h + (size_t)oy * 2) * w, *r1 = r0 + w;
                int8_t *o = out + ((size_t)ch * out_h + oy) * out_w;
                for (ox = 0; ox < out_w; ox++) {
                    int8_t a = r0[2 * ox] > r0[2 * ox + 1] ? r0[2 * ox] : r0[2 * ox + 1];
                    int8_t b = r1[2 * ox] > r1[2 * ox + 1] ? r1[2 * ox] : r1[2 * ox + 1];
                    o[ox] = a > b ? a : b;
                }
            }
        return TM_RT_OK;
    }
    for (ch = 0; ch < c; ch++)
        for (oy = 0; oy < out_h; oy++)
            for (ox = 0; ox < out_w; ox++) {
                const int8_t *p = in + ((size_t)ch * h + (size_t)oy * stride) * w + (size_t)ox * stride;
                int8_t m = p[0];
                for (ky = 0; ky < size; ky++)
                    for (kx = 0; kx < size; kx++)
                        if (p[(size_t)ky * w + kx] > m)
                            m = p[(size_t)ky * w + kx];
                out[((size_t)ch * out_h + oy) * out_w + ox] = m;
            }
    return TM_RT_OK;
}

tm_rt_status tm_rt_avgpool(const int8_t *in, int c, int h, int w, int size, int stride,
                           int8_t *out, int out_h, int out_w)
{
    tm_rt_status s = tm_rt_pool_check(in, c, h, w, size, stride, out, out_h, out_w);
    int ch, oy, ox, ky, kx;
    if (s != TM_RT_OK)
        return s;
    for (ch = 0; ch < c; ch++)
        for (oy = 0; oy < out_h; oy++)
            for (ox = 0; ox < out_w; ox++) {
                const int8_t *p = in + ((size_t)ch * h + (size_t)oy * stride) * w + (size_t)ox * stride;
                int64_t sum = 0;
                for (ky = 0; ky < size; ky++)
                    for (kx = 0; kx < size; kx++)
                        sum += p[(size_t)ky * w + kx];
                out[((size_t)ch * out_h + oy) * out_w + ox] =
                    (int8_t)tm_rt_div_away(sum, (int64_t)size * size);
            }
    return TM_RT_OK;
}

tm_rt_status tm_rt_global_avgpool(const int8_t *in, int c, int h, int w, int8_t *out)
{
    int ch;
    size_t i, n;
    if (!in || !out || c < 1 || h < 1 || w < 1 || (long long)c * h * w > TM_RT_MAX_ELEMS)
        return TM_RT_ERR_ARG;
    n = (size_t)h * w;
    for (ch = 0; ch < c; ch++) {
        const int8_t *p = in + (size_t)ch * n;
        int64_t sum = 0;
        for (i = 0; i < n; i++)
            sum += p[i];
        out[ch] = (int8_t)tm_rt_div_away(sum, (int64_t)n);
    }
    return TM_RT_OK;
}

/* ---- element-wise -------------------------------------------------------- */

void tm_rt_requantize(const int8_t *in, size_t n, int32_t in_zp, int32_t mult, int32_t shift,
                      int32_t out_zp, int8_t *out)
{
    size_t i;
    if (!in || !out)
        return;
    for (i = 0; i < n; i++) {
        int64_t d = (int64_t)in[i] - in_zp;
        int32_t x = d > INT32_MAX ? INT32_MAX : (d < INT32_MIN ? INT32_MIN : (int32_t)d);
        int64_t v = (int64_t)tm_rt_requant(x, mult, shift) + out_zp;
        out[i] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
    }
}

void tm_rt_add(const int8_t *a, int32_t a_zp, const int8_t *b, int32_t b_zp, size_t n,
               const int32_t *mult, const int32_t *shift, int32_t out_zp, int32_t lo, int32_t hi,
               int8_t *out)
{
    size_t i;
    for (i = 0; i < n; i++) {
        /* |x - zp| <= 255, so the 20-bit headroom shift cannot overflow;
         * the sum and the offset are saturated, as a file's multipliers are
         * only range-checked. */
        int64_t s = (int64_t)tm_rt_requant((a[i] - a_zp) * (1 << 20), mult[0], shift[0]) +
                    tm_rt_requant((b[i] - b_zp) * (1 << 20), mult[1], shift[1]);
        int32_t t = s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
        int64_t v = (int64_t)tm_rt_requant(t, mult[2], shift[2]) + out_zp;
        out[i] = (int8_t)(v < lo ? lo : (v > hi ? hi : v));
    }
}

void tm_rt_quantize_input(const float *in, size_t n, float scale, int32_t zp, int8_t *out)
{
    size_t i;
    if (!in || !out)
        return;
    for (i = 0; i < n; i++) {
        /* The training side's tm_quantize (round half away from zero,
         * saturate, add zp) without roundf or an int64 conversion, a call
         * and soft double on a Cortex-M4F: v is held to the bound that
         * expression saturates to (NaN at the bottom), which fits int32;
         * f = v - trunc(v) is exact and |f| < 1, so trunc(2 f) is the
         * rounding's step: +-1 from |f| >= 1/2 on, else 0. */
        float v = in[i] / scale, f;
        int32_t t;
        int64_t q;
        if (!(v > -2147483520.0f))
            v = -2147483520.0f;
        if (v > 2147483520.0f)
            v = 2147483520.0f;
        t = (int32_t)v;
        f = v - (float)t;
        t += (int32_t)(f + f);
        q = (int64_t)t + zp;
        out[i] = (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
    }
}

void tm_rt_softmax(const int8_t *logits, int n, float scale, int32_t zp, float *probs)
{
    int i;
    float mx, sum = 0.0f;
    if (!logits || !probs || n < 1)
        return;
    mx = scale * (float)(logits[0] - zp);
    for (i = 1; i < n; i++) {
        float v = scale * (float)(logits[i] - zp);
        if (v > mx)
            mx = v;
    }
    for (i = 0; i < n; i++) {
        probs[i] = expf(scale * (float)(logits[i] - zp) - mx);
        sum += probs[i];
    }
    for (i = 0; i < n; i++)
        probs[i] /= sum;
}
