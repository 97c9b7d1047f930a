/* `tinym2net train`: one experiment, optionally with its single-branch
 * ablations, into a run folder with metrics.json. */
#ifndef TM_RUN_H
#define TM_RUN_H

#include "tm_train.h"

typedef struct tm_run_options {
    tm_train_options train;
    int ablations;           /* also train each branch alone */
} tm_run_options;

tm_status tm_run_experiment(const tm_experiment *e, const tm_run_options *o);

/* A training run's metrics.json in dir (tm_run_write_metrics). */
tm_status tm_write_metrics_json(const char *dir, const tm_experiment *e, const char *variant,
                                const tm_train_result *r, const tm_splits *data,
                                const char (*ablation_names)[TM_LAYER_NAME],
                                const double *ablation_acc, int n_ablations);

#endif
