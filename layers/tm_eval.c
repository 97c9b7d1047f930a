#include <stdlib.h>

#include "tm_model.h"

tm_status tm_eval_batches(tm_pool *pool, const tm_eval_loop *l, void *ctx)
{
    if (l->batch < 1)
        return tm_error(TM_ERR_ARG, "evaluation: batch size %d", l->batch);
    int *idx = malloc(sizeof(int) * (size_t)l->batch);
    if (!idx)
        return tm_error(TM_ERR_NOMEM, "evaluation: out of memory");
    tm_tape t;
    tm_tape_init(&t, pool, 0);
    t.training = 0;
    tm_tape_set_grad_enabled(&t, 0);
    tm_status s = TM_OK;
    for (int start = 0; start < l->n && s == TM_OK; start += l->batch) {
        int count = l->n - start < l->batch ? l->n - start : l->batch;
        for (int i = 0; i < count; i++)
            idx[i] = l->order ? l->order[start + i] : start + i;
        tm_tape_reset(&t);
        tm_tensor *x[TM_MAX_BRANCHES] = {0}, *logits = NULL;
        s = l->gather(ctx, &t, idx, count, x);
        if (s == TM_OK)
            s = l->forward(ctx, &t, x, &logits);
        if (s == TM_OK && l->done)
            s = l->done(ctx, &t, start, count, logits);
    }
    tm_tape_free(&t);
    free(idx);
    return s;
}
