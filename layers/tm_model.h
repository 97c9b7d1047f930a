/* Multi-branch CNNs: one branch per modality, a fusion (concatenation of the
 * branches' flat outputs) and a head. Built from a tm_model_spec (which the
 * experiment file fills), with shapes checked layer by layer. */
#ifndef TM_MODEL_H
#define TM_MODEL_H

#include <stdio.h>

#include "tm_ops.h"
#include "tm_rng.h"

#define TM_MAX_BRANCHES 4
#define TM_LAYER_NAME 64

/* Every layer kind, in the order of tm_layer_kind: X(ENUM, name) where name
 * is the experiment file's `type`. Each kind has a descriptor
 * tm_layer_<name> (layers/tm_layer_desc.h) and a quantised form
 * tm_qlayer_<name> (quant/tm_qlayer.h); a kind without either does not link. */
#define TM_LAYER_KINDS(X)                                                              \
    X(CONV, conv)                                                                      \
    X(DEPTHWISE, depthwise)                                                            \
    X(SEPARABLE, separable) /* depthwise k x k then pointwise 1 x 1 */                 \
    X(MAXPOOL, maxpool)                                                                \
    X(AVGPOOL, avgpool)                                                                \
    X(GLOBALAVGPOOL, globalavgpool)                                                    \
    X(DENSE, dense)                                                                    \
    X(BATCHNORM, batchnorm)                                                            \
    X(RELU, relu)                                                                      \
    X(RELU6, relu6)                                                                    \
    X(DROPOUT, dropout)                                                                \
    X(FLATTEN, flatten)                                                                \
    X(ADD, add) /* its input plus the output of an earlier layer (`from`) */

#define TM_LAYER_ENUM_(K, n) TM_LAYER_##K,
typedef enum { TM_LAYER_KINDS(TM_LAYER_ENUM_) TM_LAYER_KIND_COUNT } tm_layer_kind;
#undef TM_LAYER_ENUM_

typedef enum { TM_ACT_NONE = 0, TM_ACT_RELU, TM_ACT_RELU6 } tm_activation;

typedef struct tm_layer_spec {
    char name[TM_LAYER_NAME];   /* "image.conv1", "head.out" */
    tm_layer_kind kind;
    int filters;                /* conv, separable: output channels; dense: units */
    int size;                   /* kernel (its height) or pool window */
    int size_w;                 /* kernel width of `size = HxW`; 0 = square */
    int stride;                 /* 0 = 1 for convs, = size for pools */
    tm_padding padding;
    int batch_norm;             /* conv, depthwise, separable, dense */
    int bias;                   /* -1: automatic (no bias before batch norm) */
    tm_activation activation;
    float rate;                 /* dropout */
    int bits;                   /* quantisation precision, 0 = default */
    char from[TM_LAYER_NAME];   /* add: the earlier layer of the same chain it adds */
    int line;                   /* where it was declared, for messages */
} tm_layer_spec;

typedef struct tm_branch_spec {
    char name[TM_LAYER_NAME];   /* also the modality it reads */
    int input[3];               /* C, H, W */
    tm_layer_spec *layers;
    int n_layers;
    int line;
} tm_branch_spec;

/* Weight initialisation. AUTO: He normal before a ReLU, Glorot uniform
 * otherwise, biases zero. TORCH: PyTorch's defaults (weights and biases
 * uniform in +-1/sqrt(fan_in)), for runs compared with a PyTorch reference. */
typedef enum { TM_INIT_AUTO = 0, TM_INIT_HE, TM_INIT_GLOROT, TM_INIT_TORCH } tm_init_scheme;

/* Values one parameter tensor may hold (256 MiB of floats): a layer beyond
 * it is refused when the model is built, naming its line. */
#define TM_MAX_PARAM_VALUES (1 << 26)

typedef struct tm_model_spec {
    tm_branch_spec branches[TM_MAX_BRANCHES];
    int n_branches;
    tm_layer_spec *head;        /* after the fusion */
    int n_head;
    int n_classes;
    float bn_momentum, bn_eps;
    tm_init_scheme init;
    char source[256];           /* experiment file, for messages ("x.cfg:12: ...") */
} tm_model_spec;

const char *tm_layer_kind_name(tm_layer_kind k);
/* -1 when unknown. */
/* Kernel width: size_w, or size for a square kernel. */
static inline int tm_layer_kernel_w(const tm_layer_spec *s)
{
    return s->size_w ? s->size_w : s->size;
}
int tm_layer_kind_parse(const char *s);

/* A parameter (trained) or buffer (batch-norm running statistics). */
typedef struct tm_param {
    char name[2 * TM_LAYER_NAME]; /* "image.conv1.weight" */
    char layer[TM_LAYER_NAME];    /* "image.conv1" */
    char what[32];                /* "weight", "bn.gamma" */
    tm_tensor *t;
    int decay;                    /* weight decay applies (weights, not biases / BN) */
} tm_param;

typedef struct tm_layer {
    tm_layer_spec spec;
    int in_shape[3], out_shape[3];   /* C, H, W (vectors: F, 1, 1) */
    int in_ndim, out_ndim;           /* 4 = feature map, 2 = vector */
    tm_tensor *w, *b;                /* conv / depthwise / dense; separable: depthwise */
    tm_tensor *pw_w, *pw_b;          /* separable: pointwise */
    tm_tensor *gamma, *beta;         /* batch norm */
    tm_tensor *run_mean, *run_var;   /* batch-norm buffers, no gradient */
    long macs;                       /* multiply-accumulates per sample */
    int from;                        /* add: index in its chain of spec.from, else -1 */
    int slot;                        /* the walker keeps this layer's output there for
                                      * a later add (tm_graph.h), else -1 */
} tm_layer;

typedef struct tm_model {
    tm_model_spec spec;              /* deep copy */
    tm_layer *branch_layers[TM_MAX_BRANCHES];
    tm_layer *head_layers;
    int fused_width;                 /* features after concatenation */
    tm_param *params;                /* trained parameters */
    int n_params;
    tm_param *buffers;               /* running statistics */
    int n_buffers;
} tm_model;

/* Copies a spec (layers arrays included) so the copy can be freed alone. */
tm_status tm_model_spec_copy(tm_model_spec *dst, const tm_model_spec *src);
void tm_model_spec_free(tm_model_spec *s);
/* The same spec with only the branch called `keep`. */
tm_status tm_model_spec_single_branch(tm_model_spec *dst, const tm_model_spec *src,
                                      const char *keep);

/* Checks shapes layer by layer (errors name the layer and its line) and
 * initialises weights (He normal for ReLU layers, Glorot otherwise). */
tm_status tm_model_build(tm_model **out, const tm_model_spec *spec, tm_rng *init_rng);
void tm_model_free(tm_model *m);

/* inputs[i] is branch i's (N, C, H, W) batch. logits: (N, n_classes). */
tm_status tm_model_forward(tm_model *m, tm_tape *t, tm_tensor *const *inputs,
                           tm_tensor **logits);
/* Branch b's input batch has the branch's shape (N x C x H x W). */
tm_status tm_model_check_input(const tm_model *m, int b, const tm_tensor *x);
/* Layer i of chain c (0 .. n_branches - 1, or TM_MODEL_HEAD) and the chain's length. */
#define TM_MODEL_HEAD TM_MAX_BRANCHES
const tm_layer *tm_model_layer(const tm_model *m, int c, int i);
int tm_model_chain_len(const tm_model *m, int c);

/* The one evaluation loop: n samples in order (or in order[] when given),
 * batch at a time, on a tape of its own in eval mode without gradients
 * (dropout off, batch norm on running statistics). For each batch, gather
 * fills the inputs of samples idx[0..count-1], forward makes the logits and
 * done takes them (start: the batch's first position in the order). Used by
 * float prediction, QAT calibration and QAT prediction. */
typedef struct tm_eval_loop {
    int n, batch;
    const int *order;   /* NULL: 0 .. n - 1 */
    tm_status (*gather)(void *ctx, tm_tape *t, const int *idx, int count, tm_tensor **x);
    tm_status (*forward)(void *ctx, tm_tape *t, tm_tensor *const *x, tm_tensor **logits);
    tm_status (*done)(void *ctx, tm_tape *t, int start, int count, tm_tensor *logits);
} tm_eval_loop;
tm_status tm_eval_batches(tm_pool *pool, const tm_eval_loop *l, void *ctx);

/* One training step on t: forward makes the logits of x, then the
 * (class-weighted, NULL: unweighted) softmax cross-entropy, a check that it
 * is finite, backward and opt's step at lr. probs (batch x classes) and
 * *loss_out get the batch's softmax and mean loss. */
typedef tm_status (*tm_forward_fn)(void *ctx, tm_tape *t, tm_tensor *const *x,
                                   tm_tensor **logits);
struct tm_optimizer;
tm_status tm_train_batch(tm_tape *t, struct tm_optimizer *opt, tm_forward_fn forward, void *ctx,
                         tm_tensor *const *x, const int *labels, const float *class_weights,
                         float lr, float *probs, float *loss_out);

/* How many of n rows of scores (n x k) have their largest score (the first
 * of equal ones) at the label. */
long tm_top1_right(const float *probs, const int *labels, int n, int k);

/* The one training epoch loop, for float training and QAT: n samples in
 * order[], batch at a time, on the caller's tape in training mode (its rng
 * drives dropout). For each batch gather fills the inputs and labels of
 * samples idx[0..count-1] (the tape is reset first) and tm_train_batch
 * steps with forward; step, when set, replaces both for a batch (the
 * data-parallel shards of experiments/tm_dist.c). after, when set, sees the
 * sums after each batch. *loss_sum adds each batch's mean loss x count,
 * *right its right answers; a failure says its batch ("batch 3: ..."). */
typedef struct tm_train_loop {
    int n, batch, n_classes;
    const int *order;
    float lr;
    const float *class_weights;
    int *labels;          /* batch ints, the caller's */
    float *probs;         /* batch x classes floats, the caller's */
    tm_status (*gather)(void *ctx, tm_tape *t, const int *idx, int count, tm_tensor **x,
                        int *labels);
    tm_forward_fn forward;
    tm_status (*step)(void *ctx, const int *idx, int count, double *loss_sum, long *right);
    void (*after)(void *ctx, int batch, long seen, double loss_sum, long right);
} tm_train_loop;
tm_status tm_train_batches(tm_tape *t, struct tm_optimizer *opt, const tm_train_loop *l,
                           void *ctx, double *loss_sum, long *right);

long tm_model_param_count(const tm_model *m);
long tm_model_macs(const tm_model *m);
/* Human-readable table of layers, shapes, parameters and MACs. */
void tm_model_summary(const tm_model *m, FILE *f);

#endif
