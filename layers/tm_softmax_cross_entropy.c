#include <math.h>
#include <string.h>

#include "tm_ops.h"

/* The softmax and each sample's share w[y_i] / sum_w of the mean. */
typedef struct {
    float *probs;
    float *scale;
    int *labels;
} ce_ctx;

static tm_status ce_backward(tm_tape *t, tm_tape_node *node)
{
    (void)t;
    tm_tensor *z = node->in[0];
    const ce_ctx *c = node->ctx;
    if (!z->grad)
        return TM_OK;
    int n = z->shape[0], k = z->shape[1];
    float g = node->out->grad[0];
    for (int i = 0; i < n; i++) {
        const float *p = c->probs + (size_t)i * (size_t)k;
        float *d = z->grad + (size_t)i * (size_t)k;
        float s = g * c->scale[i];
        for (int j = 0; j < k; j++)
            d[j] += s * (p[j] - (j == c->labels[i] ? 1.0f : 0.0f));
    }
    return TM_OK;
}

/* norm 0: this batch's own weight sum */
static tm_status cross_entropy(tm_tape *t, tm_tensor *logits, const int *labels,
                               const float *class_weights, double norm, float *probs,
                               tm_tensor **out)
{
    char sz[64];
    if (!out)
        return tm_error(TM_ERR_ARG, "softmax_cross_entropy: no output pointer");
    *out = NULL;
    if (!t || !logits || !labels)
        return tm_error(TM_ERR_ARG, "softmax_cross_entropy: missing tape, logits or labels");
    if (logits->ndim != 2)
        return tm_error(TM_ERR_SHAPE, "softmax_cross_entropy: logits %s must be (N,K)",
                        tm_shape_str(logits->ndim, logits->shape, sz, sizeof sz));
    int n = logits->shape[0], k = logits->shape[1];
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return tm_error(TM_ERR_ARG,
                            "softmax_cross_entropy: sample %d has label %d, outside [0,%d)", i,
                            labels[i], k);
    double sum_w = norm > 0.0 ? norm : n;
    if (class_weights && !(norm > 0.0)) {
        sum_w = 0.0;
        for (int i = 0; i < n; i++)
            sum_w += class_weights[labels[i]];
        if (!(sum_w > 0.0))
            return tm_error(TM_ERR_ARG,
                            "softmax_cross_entropy: the class weights of the batch's labels "
                            "sum to %g; they must be positive",
                            sum_w);
    }

    tm_tensor *y = NULL;
    TM_TRY(tm_tape_output(t, &y, 1, (int[]){1}, &logits, 1));
    ce_ctx *c = NULL;
    float *p = probs;
    if (y->requires_grad) {
        c = tm_tape_alloc(t, sizeof *c);
        if (!c)
            return TM_ERR_NOMEM;
        c->probs = tm_tape_alloc(t, logits->size * sizeof(float));
        c->scale = tm_tape_alloc(t, (size_t)n * sizeof(float));
        c->labels = tm_tape_alloc(t, (size_t)n * sizeof(int));
        if (!c->probs || !c->scale || !c->labels)
            return TM_ERR_NOMEM;
        memcpy(c->labels, labels, (size_t)n * sizeof(int));
        p = c->probs;
    }
    double loss = 0.0;
    for (int i = 0; i < n; i++) {
        const float *z = logits->data + (size_t)i * (size_t)k;
        float zmax = z[0];
        for (int j = 1; j < k; j++)
            zmax = z[j] > zmax ? z[j] : zmax;
        /* Shifting by the maximum keeps exp() from overflowing. */
        double se = 0.0;
        for (int j = 0; j < k; j++)
            se += exp((double)z[j] - zmax);
        double lse = zmax + log(se);
        double w = class_weights ? class_weights[labels[i]] : 1.0;
        loss += w * (lse - z[labels[i]]);
        if (p) {
            float *pi = p + (size_t)i * (size_t)k;
            for (int j = 0; j < k; j++)
                pi[j] = (float)exp((double)z[j] - lse);
        }
        if (c)
            c->scale[i] = (float)(w / sum_w);
    }
    if (c && probs)
        memcpy(probs, c->probs, logits->size * sizeof(float));
    y->data[0] = (float)(loss / sum_w);
    TM_TRY(tm_tape_record(t, "softmax_cross_entropy", ce_backward, &logits, 1, y, c));
    *out = y;
    return TM_OK;
}

tm_status tm_softmax_cross_entropy(tm_tape *t, tm_tensor *logits, const int *labels,
                                   const float *class_weights, float *probs, tm_tensor **out)
{
    return cross_entropy(t, logits, labels, class_weights, 0.0, probs, out);
}

tm_status tm_softmax_cross_entropy_shard(tm_tape *t, tm_tensor *logits, const int *labels,
                                         const float *class_weights, double norm, float *probs,
                                         tm_tensor **out)
{
    if (!(norm > 0.0))
        return tm_error(TM_ERR_ARG, "softmax_cross_entropy: normaliser %g must be positive",
                        norm);
    return cross_entropy(t, logits, labels, class_weights, norm, probs, out);
}
