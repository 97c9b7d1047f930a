/* Classification metrics from labels and per-class scores.
 *
 * Conventions (those of scikit-learn with zero_division=0):
 * - the predicted class is the arg-max of a sample's scores (the lowest index on ties);
 * - precision of a class that is never predicted is 0, recall of a class absent
 *   from the labels is 0, and F1 is 0 when precision + recall is 0;
 * - macro F1 is the plain mean over all k classes, including absent ones;
 * - roc_auc (k == 2 only) is the Mann-Whitney statistic of the class-1
 *   probability, ties counted half; NaN when k != 2 or a class is absent.
 * Scores are taken as probabilities when every row lies in [0, 1] and sums to
 * 1 within 1e-3, otherwise as logits (softmax applied). loss is the mean
 * cross-entropy -log p(label); probability input is clamped at p >= 1e-12 so
 * that the loss stays finite (logits need no clamp). */
#ifndef TM_METRICS_H
#define TM_METRICS_H

#include <stdio.h>

#include "tm_status.h"

typedef struct tm_metrics {
    int n, k;
    double accuracy;
    double *precision, *recall, *f1; /* k each */
    double macro_f1;
    long *confusion;                 /* k * k, row = true class, column = predicted */
    double roc_auc;
    double loss;
} tm_metrics;

/* Fills *m (whose old content is ignored, not freed); on failure *m holds no
 * allocations. labels in [0, k), scores n * k row-major, n >= 1, k >= 2. */
tm_status tm_metrics_compute(tm_metrics *m, const int *labels, const float *scores, int n, int k);
void tm_metrics_free(tm_metrics *m);

/* As JSON: tm_json_add_metrics (tm_json.h). */

#endif
