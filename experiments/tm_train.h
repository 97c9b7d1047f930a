/* The training loop: train, validate each epoch, checkpoint atomically,
 * resume, and test at the end. */
#ifndef TM_TRAIN_H
#define TM_TRAIN_H

#include <stdio.h>

#include "tm_data_load.h"
#include "tm_experiment.h"
#include "tm_metrics.h"
#include "tm_model.h"
#include "tm_ranks.h"

typedef struct tm_train_options {
    const char *out_dir;     /* run folder: checkpoint.h5, best.h5, log.csv */
    int resume;              /* continue from out_dir/checkpoint.h5 if present */
    int force;               /* start over even if out_dir holds a run */
    FILE *progress;          /* progress output, NULL = silent */
    int stop_after_epoch;    /* stop as if killed after this epoch (0 = never) */
    const char *result_dir;  /* where model.h5 goes (NULL = out_dir) */
    /* Data-parallel over ranks (tm_dist.h), or alone in shards when ranks is
     * NULL or of size 1; only rank 0 writes files. */
    int distributed;
    const tm_ranks *ranks;
} tm_train_options;

typedef struct tm_train_result {
    tm_metrics test;          /* of the final model on the test split */
    double val_accuracy;      /* of the final model */
    double best_val_accuracy;
    int best_epoch;           /* 1-based */
    int epochs_done;
    int stopped_early;        /* stop_after_epoch hit: no test metrics */
    double train_seconds;
    double samples_per_s;
    long params, macs;
} tm_train_result;

/* Trains `spec` (the experiment's model or an ablation of it). The caller
 * frees *model_out (if requested) and res->test. Distributed, ranks other
 * than 0 write nothing and stop after the last epoch (no model, no test). */
tm_status tm_train(const tm_experiment *e, const tm_model_spec *spec, const tm_splits *data,
                   const tm_train_options *o, tm_model **model_out, tm_train_result *res);

/* One optimisation step on a batch already on the tape (the tape is in
 * training mode; the caller resets it before gathering inputs). probs
 * receives the batch's softmax (n * k floats). */
tm_status tm_train_step(tm_model *m, tm_tape *t, tm_optimizer *opt, tm_tensor *const *x,
                        const int *labels, const float *class_weights, float lr, float *probs,
                        float *loss);

/* Class scores (softmax) of every sample of d, in eval mode, into probs
 * (n * k floats); mean cross-entropy into *loss if non-NULL. */
tm_status tm_predict(tm_model *m, tm_pool *pool, const tm_dataset *d, const int *map,
                     float *probs, double *loss);

#endif
