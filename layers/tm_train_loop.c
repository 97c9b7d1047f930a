#include <math.h>

#include "tm_model.h"
#include "tm_optim.h"

tm_status tm_train_batch(tm_tape *t, tm_optimizer *opt, tm_forward_fn forward, void *ctx,
                         tm_tensor *const *x, const int *labels, const float *class_weights,
                         float lr, float *probs, float *loss_out)
{
    tm_tensor *logits = NULL, *loss = NULL;
    TM_TRY(forward(ctx, t, x, &logits));
    TM_TRY(tm_softmax_cross_entropy(t, logits, labels, class_weights, probs, &loss));
    if (!isfinite(loss->data[0]))
        return tm_error(TM_ERR_NUMERIC, "the training loss is %s (learning rate %g); training "
                                        "stopped",
                        isnan(loss->data[0]) ? "NaN" : "infinite", (double)lr);
    tm_optim_zero_grad(opt);
    TM_TRY(tm_tape_backward(t, loss));
    TM_TRY(tm_optim_step(opt, lr));
    *loss_out = loss->data[0];
    return TM_OK;
}

long tm_top1_right(const float *probs, const int *labels, int n, int k)
{
    long right = 0;
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int c = 1; c < k; c++)
            if (probs[(size_t)i * k + c] > probs[(size_t)i * k + best])
                best = c;
        right += best == labels[i];
    }
    return right;
}

tm_status tm_train_batches(tm_tape *t, tm_optimizer *opt, const tm_train_loop *l, void *ctx,
                           double *loss_sum, long *right)
{
    if (l->batch < 1)
        return tm_error(TM_ERR_ARG, "training: batch size %d", l->batch);
    long seen = 0;
    for (int start = 0, bi = 0; start < l->n; start += l->batch, bi++) {
        int count = l->n - start < l->batch ? l->n - start : l->batch;
        const int *idx = l->order + start;
        tm_status s;
        if (l->step) {
            s = l->step(ctx, idx, count, loss_sum, right);
        } else {
            tm_tensor *x[TM_MAX_BRANCHES] = {0};
            float loss = 0.0f;
            tm_tape_reset(t);
            s = l->gather(ctx, t, idx, count, x, l->labels);
            if (s == TM_OK)
                s = tm_train_batch(t, opt, l->forward, ctx, x, l->labels, l->class_weights, l->lr,
                                   l->probs, &loss);
            if (s == TM_OK) {
                *loss_sum += (double)loss * count;
                *right += tm_top1_right(l->probs, l->labels, count, l->n_classes);
            }
        }
        if (s != TM_OK)
            return tm_error_prefix(s, "batch %d: ", bi + 1);
        seen += count;
        if (l->after)
            l->after(ctx, bi + 1, seen, *loss_sum, *right);
    }
    return TM_OK;
}
