/* Quantisation-aware training: the quantisation state of a float model and
 * a forward pass that mirrors tm_model_forward with what the integer
 * runtime will do (docs/quantization.md):
 * - each branch's input is quantised to int8 with its observed range;
 * - every weight layer (conv, depthwise, separable, dense) runs with its
 *   batch norm folded into weight and bias (running statistics, so batch
 *   norm is frozen during QAT), weights fake-quantised per output channel
 *   at the layer's precision (8 or 4 bits), and its output (after its
 *   activation) fake-quantised per tensor with the observed range; a
 *   separable layer also quantises the depthwise output it hands to the
 *   pointwise half;
 * - max pools keep their input's scale, average pools snap back to it;
 * - the concatenation (fusion) has its own observed range, and each
 *   branch's vector is requantised to it;
 * - an add (residual) sums its two fake-quantised inputs, applies its
 *   activation and fake-quantises the sum with its own observed range;
 * - flatten and dropout change nothing.
 * A standalone batchnorm layer folds into the weight layer right before it
 * (which must have no batch norm and no activation), a standalone relu or
 * relu6 becomes that layer's (or an add's) activation; anything else is
 * rejected, and so is an add whose `from` layer has a batchnorm or relu
 * merged into it from after (the sum must see what the float model sees). */
#ifndef TM_QAT_H
#define TM_QAT_H

#include <stdio.h>

#include "tm_model.h"
#include "tm_optim.h"
#include "tm_quant.h"
#include "tm_threads.h"

/* Chain index of the head (branches are 0 .. n_branches - 1). */
#define TM_QAT_HEAD TM_MODEL_HEAD

typedef struct tm_qat_layer {
    int weight;          /* conv, depthwise, separable or dense */
    int observed;        /* has an observed output: weight layers and adds */
    int bits;            /* weight layers: 8 or 4 */
    int merged;          /* batchnorm / relu / relu6 merged into the weight layer (or, for
                          * relu / relu6, the add) before it */
    int bn;              /* weight layers: layer (same chain) whose batch norm folds in, or -1 */
    tm_activation act;   /* weight layers, adds: applied before the output is quantised */
    tm_observer out;     /* weight layers, adds: the output */
    tm_observer mid;     /* separable: the depthwise output */
} tm_qat_layer;

typedef struct tm_qat_config {
    tm_observer_kind observer;  /* activations */
    float momentum;             /* EMA observers */
    tm_wscale_method wscale8, wscale4;
    int observe_in_training;    /* QAT steps keep updating the activation ranges */
} tm_qat_config;

typedef struct tm_qat {
    tm_model *m;                          /* borrowed */
    tm_qat_config cfg;
    tm_qat_layer *chain[TM_MAX_BRANCHES + 1];
    int n[TM_MAX_BRANCHES + 1];
    tm_observer input[TM_MAX_BRANCHES];
    tm_observer fusion;                   /* used when the model has more than one branch */
    int observe;                          /* the forward updates observers */
    int fake;                             /* the forward fake-quantises */
} tm_qat;

/* EMA observers (momentum 0.01: over a calibration of up to 100 batches,
 * the mean of the batches' ranges), max weight scales for 8 bits and
 * minimum-error clipping for 4 bits, ranges frozen during QAT steps. */
void tm_qat_config_default(tm_qat_config *c);
/* Precision from each layer's spec.bits (0 = 8). Errors name the layer
 * and its line. cfg may be NULL (defaults). Starts observing, not faking. */
tm_status tm_qat_new(tm_qat **out, tm_model *m, const tm_qat_config *cfg);
void tm_qat_free(tm_qat *q);
/* "paper": the first weight layer of every branch and the last of the head
 * 8-bit, every other weight layer 4-bit; "all8"; "all4". */
tm_status tm_qat_preset(tm_qat *q, const char *preset);

const tm_layer *tm_qat_model_layer(const tm_qat *q, int chain, int i);
/* Weight scales the way the forward and the lowering compute them. */
tm_status tm_qat_weight_scales(const tm_qat *q, const float *w, int channels, size_t per,
                               int bits, float *scales);

/* inputs[b]: branch b's (N, C, H, W) batch, as tm_model_forward. */
tm_status tm_qat_forward(tm_qat *q, tm_tape *t, tm_tensor *const *inputs, tm_tensor **logits);

/* Samples for the loops below: per branch, n samples of that branch's input
 * shape, contiguous (a tm_dataset's modality arrays, mapped to branches). */
typedef struct tm_qat_data {
    int n;
    const float *x[TM_MAX_BRANCHES];
    const int *label;
} tm_qat_data;

/* Observes `batches` shuffled batches (0 = the whole set) in eval mode
 * without fake quantisation, then switches to fake quantisation. */
tm_status tm_qat_calibrate(tm_qat *q, tm_pool *pool, const tm_qat_data *d, int batch_size,
                           int batches, tm_rng *rng);
/* One epoch of QAT on a shuffled set (training mode: dropout on). t is the
 * caller's tape (its pool is used); class_weights may be NULL. */
tm_status tm_qat_train_epoch(tm_qat *q, tm_tape *t, tm_optimizer *opt, const tm_qat_data *d,
                             int batch_size, float lr, const float *class_weights, tm_rng *rng,
                             double *loss, double *accuracy);
/* Softmax of every sample (n * classes) in eval mode, fake-quantised when
 * q->fake, float (with folded batch norm) otherwise. */
tm_status tm_qat_predict(tm_qat *q, tm_pool *pool, const tm_qat_data *d, float *probs);

/* The quantisation state as named float arrays, so callers can keep it
 * next to the weights (qmodel.h5): "quant/input/<branch>",
 * "quant/fusion", "quant/<layer>/output", "quant/<layer>/depthwise_output"
 * hold {min, max, scale, zero_point}; "quant/<layer>/bits" holds {bits}. */
typedef tm_status (*tm_qat_put_fn)(void *ctx, const char *name, const float *data, int n);
typedef tm_status (*tm_qat_get_fn)(void *ctx, const char *name, float *data, int n);
tm_status tm_qat_store(const tm_qat *q, tm_qat_put_fn put, void *ctx);
tm_status tm_qat_restore(tm_qat *q, tm_qat_get_fn get, void *ctx);

#endif
