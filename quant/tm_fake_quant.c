#include <math.h>
#include <string.h>

#include "tm_quant.h"

static int32_t clamp_i32(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

tm_qparams tm_qparams_from_range(float min, float max, int32_t qmin, int32_t qmax)
{
    tm_qparams p = {1.0f, 0, qmin, qmax};
    if (!isfinite(min) || !isfinite(max) || qmax <= qmin)
        return p;
    double lo = min < 0.0f ? min : 0.0, hi = max > 0.0f ? max : 0.0;
    if (!(hi > lo)) {
        p.zero_point = clamp_i32(0, qmin, qmax);
        return p;
    }
    p.scale = (float)((hi - lo) / (double)(qmax - qmin));
    double zp = (double)qmin - lo / (double)p.scale;
    p.zero_point = clamp_i32((int32_t)round(zp), qmin, qmax);
    return p;
}

int32_t tm_quantize(float x, const tm_qparams *p)
{
    float r = roundf(x / p->scale);
    /* Saturate before converting: a float beyond int32 is undefined there. */
    if (!(r > -2147483520.0f))
        r = -2147483520.0f;
    if (r > 2147483520.0f)
        r = 2147483520.0f;
    int64_t q = (int64_t)r + p->zero_point;
    return q < p->qmin ? p->qmin : q > p->qmax ? p->qmax : (int32_t)q;
}

float tm_dequantize(int32_t q, const tm_qparams *p)
{
    return (float)(q - p->zero_point) * p->scale;
}

void tm_qparams_range(const tm_qparams *p, float *lo, float *hi)
{
    *lo = tm_dequantize(p->qmin, p);
    *hi = tm_dequantize(p->qmax, p);
}

/* ---- weights ----------------------------------------------------------- */

int tm_weight_qmax(int bits)
{
    return bits == 8 ? 127 : bits == 4 ? 7 : 0;
}

static float quant_weight(float w, float scale, int qmax)
{
    float r = roundf(w / scale);
    r = r < (float)-qmax ? (float)-qmax : r;
    return r > (float)qmax ? (float)qmax : r;
}

/* Squared rounding error of one row at a given scale. */
static double row_error(const float *w, size_t per, float scale, int qmax)
{
    double e = 0.0;
    for (size_t i = 0; i < per; i++) {
        double d = (double)w[i] - (double)(quant_weight(w[i], scale, qmax) * scale);
        e += d * d;
    }
    return e;
}

tm_status tm_weight_scales(const float *w, int channels, size_t per, int bits,
                           tm_wscale_method method, float *scales)
{
    int qmax = tm_weight_qmax(bits);
    if (!qmax)
        return tm_error(TM_ERR_ARG, "weight scales: %d bits (8 or 4 supported)", bits);
    for (int c = 0; c < channels; c++) {
        const float *row = w + (size_t)c * per;
        float amax = 0.0f;
        for (size_t i = 0; i < per; i++) {
            float a = fabsf(row[i]);
            if (!isfinite(a))
                return tm_error(TM_ERR_NUMERIC, "weight scales: channel %d holds a non-finite "
                                                "weight",
                                c);
            amax = a > amax ? a : amax;
        }
        if (amax == 0.0f) {
            scales[c] = 1.0f;
            continue;
        }
        float best = amax / (float)qmax;
        if (method == TM_WSCALE_MSE) {
            /* A coarse grid suffices: the error is flat near its minimum. */
            double best_e = row_error(row, per, best, qmax);
            for (int i = 1; i <= 70; i++) {
                float s = amax * (1.0f - 0.01f * (float)i) / (float)qmax;
                double e = row_error(row, per, s, qmax);
                if (e < best_e) {
                    best_e = e;
                    best = s;
                }
            }
        }
        scales[c] = best;
    }
    return TM_OK;
}

void tm_quantize_weights(const float *w, int channels, size_t per, const float *scales, int bits,
                         int8_t *q)
{
    int qmax = tm_weight_qmax(bits);
    for (int c = 0; c < channels; c++)
        for (size_t i = 0; i < per; i++) {
            size_t k = (size_t)c * per + i;
            q[k] = (int8_t)quant_weight(w[k], scales[c], qmax);
        }
}

size_t tm_packed_weight_bytes(int channels, size_t per, int bits)
{
    size_t row = bits == 4 ? (per + 1) / 2 : per;
    return row * (size_t)channels;
}

void tm_pack_weights(const int8_t *q, int channels, size_t per, int bits, uint8_t *out)
{
    if (bits != 4) {
        memcpy(out, q, per * (size_t)channels);
        return;
    }
    size_t row = (per + 1) / 2;
    for (int c = 0; c < channels; c++) {
        const int8_t *src = q + (size_t)c * per;
        uint8_t *dst = out + (size_t)c * row;
        for (size_t j = 0; j < row; j++) {
            uint8_t lo = (uint8_t)(src[2 * j] & 0x0F);
            uint8_t hi = 2 * j + 1 < per ? (uint8_t)(src[2 * j + 1] & 0x0F) : 0;
            dst[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

static int8_t nibble(uint8_t v)
{
    return (int8_t)(v & 0x08 ? (int)v - 16 : (int)v);
}

void tm_unpack_weights(const uint8_t *packed, int channels, size_t per, int bits, int8_t *q)
{
    if (bits != 4) {
        memcpy(q, packed, per * (size_t)channels);
        return;
    }
    size_t row = (per + 1) / 2;
    for (int c = 0; c < channels; c++)
        for (size_t i = 0; i < per; i++) {
            uint8_t b = packed[(size_t)c * row + i / 2];
            q[(size_t)c * per + i] = nibble(i % 2 ? (uint8_t)(b >> 4) : (uint8_t)(b & 0x0F));
        }
}

/* ---- fake quantisation ------------------------------------------------- */

typedef struct {
    float lo, hi;
} fq_ctx;

static tm_status fake_quant_backward(tm_tape *t, tm_tape_node *node)
{
    (void)t;
    tm_tensor *x = node->in[0], *y = node->out;
    const fq_ctx *c = node->ctx;
    if (!x->grad)
        return TM_OK;
    for (size_t i = 0; i < y->size; i++)
        x->grad[i] += y->grad[i] * (float)((x->data[i] >= c->lo) & (x->data[i] <= c->hi));
    return TM_OK;
}

tm_status tm_fake_quant(tm_tape *t, tm_tensor *x, const tm_qparams *p, tm_tensor **out)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "fake_quant: no output pointer");
    *out = NULL;
    if (!t || !x || !p)
        return tm_error(TM_ERR_ARG, "fake_quant: missing tape, input or parameters");
    if (!(p->scale > 0.0f) || !isfinite(p->scale) || p->qmax <= p->qmin)
        return tm_error(TM_ERR_ARG, "fake_quant: invalid parameters (scale %g, range %d..%d)",
                        (double)p->scale, p->qmin, p->qmax);
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, x->ndim, x->shape, &x, 1));
    const float s = p->scale;
    const float zp = (float)p->zero_point, qmin = (float)p->qmin, qmax = (float)p->qmax;
    for (size_t i = 0; i < x->size; i++) {
        float q = roundf(x->data[i] / s) + zp;
        q = q < qmin ? qmin : q;
        q = q > qmax ? qmax : q;
        y->data[i] = (q - zp) * s;
    }
    if (y->requires_grad) {
        fq_ctx *c = tm_tape_alloc(t, sizeof *c);
        if (!c)
            return TM_ERR_NOMEM;
        tm_qparams_range(p, &c->lo, &c->hi);
        TM_TRY(tm_tape_record(t, "fake_quant", fake_quant_backward, &x, 1, y, c));
    }
    *out = y;
    return TM_OK;
}

typedef struct {
    const float *scales;
    int channels, qmax;
    size_t per;
} fqc_ctx;

static tm_status fake_quant_channels_backward(tm_tape *t, tm_tape_node *node)
{
    (void)t;
    tm_tensor *w = node->in[0], *y = node->out;
    const fqc_ctx *c = node->ctx;
    if (!w->grad)
        return TM_OK;
    for (int ch = 0; ch < c->channels; ch++) {
        float lim = (float)c->qmax * c->scales[ch];
        size_t o = (size_t)ch * c->per;
        for (size_t i = 0; i < c->per; i++)
            w->grad[o + i] += y->grad[o + i] * (float)(fabsf(w->data[o + i]) <= lim);
    }
    return TM_OK;
}

tm_status tm_fake_quant_channels(tm_tape *t, tm_tensor *w, const float *scales, int bits,
                                 tm_tensor **out)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "fake_quant_channels: no output pointer");
    *out = NULL;
    if (!t || !w || !scales)
        return tm_error(TM_ERR_ARG, "fake_quant_channels: missing tape, weights or scales");
    int qmax = tm_weight_qmax(bits);
    if (!qmax)
        return tm_error(TM_ERR_ARG, "fake_quant_channels: %d bits (8 or 4 supported)", bits);
    int channels = w->shape[0];
    size_t per = w->size / (size_t)channels;
    for (int c = 0; c < channels; c++)
        if (!(scales[c] > 0.0f) || !isfinite(scales[c]))
            return tm_error(TM_ERR_ARG, "fake_quant_channels: channel %d has scale %g", c,
                            (double)scales[c]);
    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, w->ndim, w->shape, &w, 1));
    for (int c = 0; c < channels; c++) {
        size_t o = (size_t)c * per;
        for (size_t i = 0; i < per; i++)
            y->data[o + i] = quant_weight(w->data[o + i], scales[c], qmax) * scales[c];
    }
    if (y->requires_grad) {
        fqc_ctx *c = tm_tape_alloc(t, sizeof *c);
        float *sc = tm_tape_alloc(t, sizeof(float) * (size_t)channels);
        if (!c || !sc)
            return TM_ERR_NOMEM;
        memcpy(sc, scales, sizeof(float) * (size_t)channels);
        c->scales = sc;
        c->channels = channels;
        c->qmax = qmax;
        c->per = per;
        TM_TRY(tm_tape_record(t, "fake_quant_channels", fake_quant_channels_backward, &w, 1, y, c));
    }
    *out = y;
    return TM_OK;
}
