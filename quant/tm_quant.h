/* Quantisation primitives shared by QAT, lowering and export: the int8
 * activation parameters, observers, per-channel weight quantisation and
 * packing, fake-quantisation tape ops with straight-through gradients, and
 * batch-norm folding. The arithmetic is the one runtime/tm_rt_kernels.h
 * states (docs/quantization.md): activations asymmetric int8 per tensor,
 * weights symmetric per output channel, 8-bit in [-127, 127] and 4-bit in
 * [-7, 7]; every rounding here is half away from zero, as the runtime's. */
#ifndef TM_QUANT_H
#define TM_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "tm_tape.h"

#define TM_QMIN_INT8 (-128)
#define TM_QMAX_INT8 127

/* real = scale * (q - zero_point), q in [qmin, qmax]. */
typedef struct tm_qparams {
    float scale;
    int32_t zero_point;
    int32_t qmin, qmax;
} tm_qparams;

/* Asymmetric parameters covering [min, max] widened to contain 0, so that
 * real 0 (ReLU floors, zero padding) is exactly representable. A zero-width
 * range gets scale 1. */
tm_qparams tm_qparams_from_range(float min, float max, int32_t qmin, int32_t qmax);
/* q = clamp(round_half_away(x / scale) + zero_point, qmin, qmax): the same
 * expression as tm_rt_quantize_input. */
int32_t tm_quantize(float x, const tm_qparams *p);
float tm_dequantize(int32_t q, const tm_qparams *p);
/* The real interval [lo, hi] that quantises without clipping. */
void tm_qparams_range(const tm_qparams *p, float *lo, float *hi);

/* ---- observers --------------------------------------------------------- */

typedef enum {
    TM_OBS_MINMAX = 0, /* running min and max over everything seen */
    TM_OBS_EMA         /* moving average of each batch's min and max; the plain
                          mean of them until 1 / momentum batches are seen */
} tm_observer_kind;

typedef struct tm_observer {
    tm_observer_kind kind;
    float momentum;    /* EMA: weight of the newest batch */
    float min, max;
    long batches;      /* 0 = nothing seen yet */
} tm_observer;

void tm_observer_init(tm_observer *o, tm_observer_kind kind, float momentum);
/* Non-finite values are ignored (the loss check reports them). */
void tm_observer_update(tm_observer *o, const float *x, size_t n);
/* int8 asymmetric parameters of the observed range. */
tm_qparams tm_observer_qparams(const tm_observer *o);

/* ---- weights ----------------------------------------------------------- */

/* 127 for 8 bits, 7 for 4 bits, 0 for anything else. */
int tm_weight_qmax(int bits);

typedef enum {
    TM_WSCALE_MAX = 0, /* scale = max |w| / qmax: nothing clips */
    TM_WSCALE_MSE      /* clip level that minimises the squared rounding error */
} tm_wscale_method;

/* w holds `channels` rows of `per` values (output channel first). A row of
 * zeros gets scale 1. */
tm_status tm_weight_scales(const float *w, int channels, size_t per, int bits,
                           tm_wscale_method method, float *scales);
/* q = clamp(round_half_away(w / scale[c]), -qmax, qmax). */
void tm_quantize_weights(const float *w, int channels, size_t per, const float *scales, int bits,
                         int8_t *q);
/* Bytes of `channels` rows of `per` weights: 8-bit one byte each; 4-bit two
 * per byte, every row starting on a byte boundary. */
size_t tm_packed_weight_bytes(int channels, size_t per, int bits);
/* Packs q into out (tm_packed_weight_bytes bytes): 4-bit low nibble first,
 * two's complement nibbles, an odd row ends with a zero nibble. */
void tm_pack_weights(const int8_t *q, int channels, size_t per, int bits, uint8_t *out);
/* The reverse of tm_pack_weights, sign-extending nibbles. */
void tm_unpack_weights(const uint8_t *packed, int channels, size_t per, int bits, int8_t *q);

/* ---- fake quantisation (tape ops) ------------------------------------- */

/* y = dequantize(quantize(x)) per tensor. Straight-through gradient: dy
 * passes where x lies inside the clip range [lo, hi] of p, 0 outside. */
tm_status tm_fake_quant(tm_tape *t, tm_tensor *x, const tm_qparams *p, tm_tensor **out);
/* Symmetric per-channel fake quantisation along dimension 0 with the given
 * scales (w->shape[0] of them): y = clamp(round(w / s), -qmax, qmax) * s.
 * Straight-through gradient where |w| <= qmax * s, 0 outside. */
tm_status tm_fake_quant_channels(tm_tape *t, tm_tensor *w, const float *scales, int bits,
                                 tm_tensor **out);

/* ---- batch-norm folding ----------------------------------------------- */

/* k[c] = gamma[c] / sqrt(var[c] + eps), computed as tm_batchnorm does in
 * eval mode (1 / sqrt in double, rounded to float, times gamma). */
void tm_bn_fold_factors(const float *gamma, const float *var, float eps, int channels, float *k);
/* Plain arrays: w'[c,...] = w[c,...] * k[c] (w may equal w_out);
 * b'[c] = beta[c] + (b[c] - mean[c]) * k[c], b NULL meaning zeros. */
void tm_bn_fold(const float *w, const float *b, const float *gamma, const float *beta,
                const float *mean, const float *var, float eps, int channels, size_t per,
                float *w_out, float *b_out);
/* Tape ops with gradients into w, b, gamma and beta (the running statistics
 * are constants): the folded weight and bias of a layer followed by batch
 * norm in eval mode. b may be NULL. */
tm_status tm_fold_weight(tm_tape *t, tm_tensor *w, tm_tensor *gamma, const float *var, float eps,
                         tm_tensor **out);
tm_status tm_fold_bias(tm_tape *t, tm_tensor *b, tm_tensor *gamma, tm_tensor *beta,
                       const float *mean, const float *var, float eps, tm_tensor **out);

#endif
