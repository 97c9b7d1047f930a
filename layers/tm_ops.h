/* Differentiable ops. Each op computes its output eagerly on the tape and,
 * when an input needs a gradient, records its backward, which accumulates
 * (+=) into the inputs' grad buffers. Feature maps are NCHW; vectors (N, F).
 * Batch work is split over t->pool; per-worker weight-gradient partials are
 * summed in worker order so results are reproducible. */
#ifndef TM_OPS_H
#define TM_OPS_H

#include "tm_tape.h"

typedef enum { TM_PAD_SAME = 0, TM_PAD_VALID = 1 } tm_padding;

typedef struct tm_conv_params {
    int stride;          /* same in both directions */
    tm_padding padding;  /* SAME: out = ceil(in / stride), zero padding split
                            as TensorFlow does (extra on bottom/right) */
} tm_conv_params;

/* Output size along one axis for kernel k. */
int tm_conv_out_size(int in, int k, int stride, tm_padding padding);

/* x (N,Ci,H,W), w (Co,Ci,kh,kw), b (Co) or NULL -> (N,Co,Ho,Wo).
 * im2col + sgemm. */
tm_status tm_conv2d(tm_tape *t, tm_tensor *x, tm_tensor *w, tm_tensor *b,
                    const tm_conv_params *p, tm_tensor **out);
/* x (N,C,H,W), w (C,1,kh,kw), b (C) or NULL -> (N,C,Ho,Wo). */
tm_status tm_depthwise_conv2d(tm_tape *t, tm_tensor *x, tm_tensor *w, tm_tensor *b,
                              const tm_conv_params *p, tm_tensor **out);
/* Window size x size, given stride, no padding (floor). */
tm_status tm_maxpool2d(tm_tape *t, tm_tensor *x, int size, int stride, tm_tensor **out);
tm_status tm_avgpool2d(tm_tape *t, tm_tensor *x, int size, int stride, tm_tensor **out);
/* (N,C,H,W) -> (N,C). */
tm_status tm_global_avgpool(tm_tape *t, tm_tensor *x, tm_tensor **out);

/* x (N,In), w (Out,In), b (Out) or NULL -> (N,Out). */
tm_status tm_dense(tm_tape *t, tm_tensor *x, tm_tensor *w, tm_tensor *b, tm_tensor **out);

/* x (N,C,H,W) or (N,C); gamma, beta (C) parameters; running_mean and
 * running_var (C) buffers updated in training mode as
 * r = (1 - momentum) * r + momentum * batch_stat (unbiased variance, as
 * PyTorch). Eval mode (t->training == 0) normalises with the running stats. */
tm_status tm_batchnorm(tm_tape *t, tm_tensor *x, tm_tensor *gamma, tm_tensor *beta,
                       float *running_mean, float *running_var, float momentum, float eps,
                       tm_tensor **out);

tm_status tm_relu(tm_tape *t, tm_tensor *x, tm_tensor **out);
tm_status tm_relu6(tm_tape *t, tm_tensor *x, tm_tensor **out);
/* Inverted dropout: in training, zero with probability rate and scale the
 * rest by 1/(1-rate), mask from t->rng; identity in eval mode. */
tm_status tm_dropout(tm_tape *t, tm_tensor *x, float rate, tm_tensor **out);
/* (N, ...) -> (N, F); shares x's data and grad, records nothing. */
tm_status tm_flatten(tm_tape *t, tm_tensor *x, tm_tensor **out);
/* a + b, two tensors of one shape: a residual connection. */
tm_status tm_add(tm_tape *t, tm_tensor *a, tm_tensor *b, tm_tensor **out);
/* Concatenates (N, Fi) tensors along dim 1: the fusion of branches. */
tm_status tm_concat(tm_tape *t, tm_tensor **xs, int n, tm_tensor **out);

/* Mean softmax cross-entropy of logits (N,K) against labels in [0,K).
 * With class_weights (K), the PyTorch rule: sum_i w[y_i] * ce_i / sum_i w[y_i].
 * probs, if non-NULL, receives the softmax (N*K floats). Output: 1 element. */
tm_status tm_softmax_cross_entropy(tm_tape *t, tm_tensor *logits, const int *labels,
                                   const float *class_weights, float *probs, tm_tensor **out);
/* The same over one shard of a larger batch: divided by `norm`, the whole
 * batch's sum_i w[y_i] (its sample count without class weights), so that the
 * shards' losses and gradients add up to the batch's (data-parallel training). */
tm_status tm_softmax_cross_entropy_shard(tm_tape *t, tm_tensor *logits, const int *labels,
                                         const float *class_weights, double norm, float *probs,
                                         tm_tensor **out);

#endif
