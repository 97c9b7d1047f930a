#include "tm_dist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tm_ops.h"

tm_status tm_dist_init(tm_dist *d, const tm_ranks *r, int shards, int batch_size,
                       const tm_model *m)
{
    memset(d, 0, sizeof *d);
    d->ranks = r;
    d->shards = shards;
    for (int i = 0; i < m->n_params; i++)
        d->n_grad += (long)m->params[i].t->size;
    for (int i = 0; i < m->n_buffers; i++)
        d->n_buf += (long)m->buffers[i].t->size;
    d->slot = d->n_grad + d->n_buf + 2;
    if ((long long)shards * d->slot > 0x7fffffff)
        return tm_error(TM_ERR_ARG, "train --distributed: %d shards of %ld floats are too many "
                                    "for one gather",
                        shards, d->slot);
    d->all = malloc(sizeof(float) * (size_t)shards * (size_t)d->slot);
    d->saved = malloc(sizeof(float) * (size_t)(d->n_buf + 1));
    d->labels = malloc(sizeof(int) * (size_t)batch_size);
    d->counts = malloc(sizeof(int) * (size_t)r->size);
    d->displs = malloc(sizeof(int) * (size_t)r->size);
    if (!d->all || !d->saved || !d->labels || !d->counts || !d->displs) {
        tm_dist_free(d);
        return tm_error(TM_ERR_NOMEM, "train --distributed: out of memory");
    }
    return TM_OK;
}

void tm_dist_free(tm_dist *d)
{
    free(d->all);
    free(d->saved);
    free(d->labels);
    free(d->counts);
    free(d->displs);
    memset(d, 0, sizeof *d);
}

static void copy_buffers(const tm_model *m, float *dst, int to_model)
{
    for (int i = 0; i < m->n_buffers; i++) {
        tm_tensor *b = m->buffers[i].t;
        if (to_model)
            memcpy(b->data, dst, sizeof(float) * (size_t)b->size);
        else
            memcpy(dst, b->data, sizeof(float) * (size_t)b->size);
        dst += b->size;
    }
}

/* Forward and backward of samples idx[0..n) alone; fills slot. */
static tm_status run_shard(tm_dist *d, tm_model *m, tm_tape *t, tm_optimizer *opt,
                           const tm_dataset *ds, const int *map, const int *idx, int n,
                           const float *cw, double norm, float *slot)
{
    const int k = m->spec.n_classes;
    tm_tape_reset(t);
    tm_tensor *x[TM_MAX_BRANCHES] = {0};
    for (int b = 0; b < m->spec.n_branches; b++) {
        const tm_modality *mod = &ds->mod[map[b]];
        int shape[4] = {n, mod->shape[0], mod->shape[1], mod->shape[2]};
        TM_TRY(tm_arena_tensor(&t->arena, &x[b], 4, shape, 0));
        tm_dataset_gather(ds, map[b], idx, n, x[b]->data);
    }
    for (int i = 0; i < n; i++)
        d->labels[i] = ds->label[idx[i]];
    float *probs = tm_tape_alloc(t, sizeof(float) * (size_t)n * (size_t)k);
    if (!probs)
        return tm_error(TM_ERR_NOMEM, "train --distributed: out of memory");
    tm_tensor *logits = NULL, *loss = NULL;
    TM_TRY(tm_model_forward(m, t, x, &logits));
    TM_TRY(tm_softmax_cross_entropy_shard(t, logits, d->labels, cw, norm, probs, &loss));
    tm_optim_zero_grad(opt);
    if (isfinite(loss->data[0]))
        TM_TRY(tm_tape_backward(t, loss));
    float *g = slot;
    for (int i = 0; i < m->n_params; i++) {
        const tm_tensor *p = m->params[i].t;
        if (p->grad)
            memcpy(g, p->grad, sizeof(float) * (size_t)p->size);
        else
            memset(g, 0, sizeof(float) * (size_t)p->size);
        g += p->size;
    }
    copy_buffers(m, g, 0);
    long right = tm_top1_right(probs, d->labels, n, k);
    slot[d->n_grad + d->n_buf] = loss->data[0];
    slot[d->n_grad + d->n_buf + 1] = (float)right;
    return TM_OK;
}

tm_status tm_dist_step(tm_dist *d, tm_model *m, tm_tape *t, tm_optimizer *opt,
                       const tm_dataset *ds, const int *map, const int *idx, int n,
                       const float *class_weights, const tm_rng *dropout, float lr,
                       double *loss_sum, long *right)
{
    const tm_ranks *r = d->ranks;
    /* at least two samples a shard, so batch norm has a variance */
    int shards = n >= 2 * d->shards ? d->shards : (n / 2 > 0 ? n / 2 : 1);
    double norm = n;
    if (class_weights) {
        norm = 0.0;
        for (int i = 0; i < n; i++)
            norm += class_weights[ds->label[idx[i]]];
        if (!(norm > 0.0))
            return tm_error(TM_ERR_ARG, "the class weights of the batch's labels sum to %g; "
                                        "they must be positive",
                            norm);
    }
    copy_buffers(m, d->saved, 0);
    for (int q = 0; q < r->size; q++) {
        int lo = (int)((long)q * shards / r->size), hi = (int)((long)(q + 1) * shards / r->size);
        d->counts[q] = (int)((hi - lo) * d->slot);
        d->displs[q] = (int)(lo * d->slot);
    }
    int lo = (int)((long)r->rank * shards / r->size);
    int hi = (int)((long)(r->rank + 1) * shards / r->size);
    for (int j = lo; j < hi; j++) {
        int a = (int)((long)j * n / shards), b = (int)((long)(j + 1) * n / shards);
        /* every shard starts from the step's running statistics */
        copy_buffers(m, d->saved, 1);
        tm_rng_fork(dropout, ((uint64_t)opt->step << 16) | (uint64_t)j, &t->rng);
        TM_TRY(run_shard(d, m, t, opt, ds, map, idx + a, b - a, class_weights, norm,
                         d->all + (size_t)j * (size_t)d->slot));
    }
    TM_TRY(tm_ranks_allgather_floats(r, d->all, d->counts, d->displs));

    double loss = 0.0;
    long ok = 0;
    for (int j = 0; j < shards; j++) {
        const float *s = d->all + (size_t)j * (size_t)d->slot;
        loss += s[d->n_grad + d->n_buf];
        ok += (long)s[d->n_grad + d->n_buf + 1];
    }
    if (!isfinite(loss))
        return tm_error(TM_ERR_NUMERIC, "the training loss is %s (learning rate %g); training "
                                        "stopped",
                        isnan(loss) ? "NaN" : "infinite", (double)lr);
    /* the gradient: the shards' in shard order */
    tm_optim_zero_grad(opt);
    const float *s = d->all;
    for (int i = 0; i < m->n_params; i++) {
        tm_tensor *p = m->params[i].t;
        for (int j = 0; j < shards && p->grad; j++) {
            const float *g = s + (size_t)j * (size_t)d->slot;
            for (size_t e = 0; e < p->size; e++)
                p->grad[e] += g[e];
        }
        s += p->size;
    }
    /* running statistics: the shards' updates weighted by their sizes */
    for (int i = 0; i < m->n_buffers; i++) {
        tm_tensor *bt = m->buffers[i].t;
        for (size_t e = 0; e < bt->size; e++) {
            double acc = 0.0;
            for (int j = 0; j < shards; j++) {
                long nj = (long)(j + 1) * n / shards - (long)j * n / shards;
                acc += (double)nj * s[(size_t)j * (size_t)d->slot + e];
            }
            bt->data[e] = (float)(acc / n);
        }
        s += bt->size;
    }
    TM_TRY(tm_optim_step(opt, lr));
    *loss_sum += loss * n;
    *right += ok;
    return TM_OK;
}
