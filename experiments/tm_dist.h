/* Data-parallel training (train --distributed): each global batch is cut
 * into a fixed number of shards, independent of the rank count; every shard
 * runs forward and backward alone (batch norm over the shard: ghost batch
 * norm; dropout from a stream of (step, shard)), its loss divided by the
 * whole batch's class-weight sum. The ranks run their shards, gather every
 * shard's gradient and batch-norm statistics, and all add them in shard
 * order and take the same optimiser step, so 1, 2 or N ranks (or one process
 * alone) give the same weights bit for bit at a given thread count. */
#ifndef TM_DIST_H
#define TM_DIST_H

#include "tm_data_load.h"
#include "tm_model.h"
#include "tm_ranks.h"

typedef struct tm_dist {
    const tm_ranks *ranks;
    int shards;
    long n_grad, n_buf, slot; /* floats: gradients, buffers, one shard's slot */
    float *all;               /* shards x slot */
    float *saved;             /* the buffers (running statistics) before the step */
    int *labels, *counts, *displs;
} tm_dist;

tm_status tm_dist_init(tm_dist *d, const tm_ranks *r, int shards, int batch_size,
                       const tm_model *m);
void tm_dist_free(tm_dist *d);

/* One step on the global batch idx[0..n) of ds: the shards of this rank, the
 * gather, the sums in shard order, the optimiser step. dropout is the base
 * stream (each shard forks it by step and shard). Adds the batch's loss
 * times n to *loss_sum and its right answers to *right, as every rank sees. */
tm_status tm_dist_step(tm_dist *d, tm_model *m, tm_tape *t, tm_optimizer *opt,
                       const tm_dataset *ds, const int *map, const int *idx, int n,
                       const float *class_weights, const tm_rng *dropout, float lr,
                       double *loss_sum, long *right);

#endif
