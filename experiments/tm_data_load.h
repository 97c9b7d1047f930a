/* Turns an experiment's [data] section into train / validation / test sets:
 * the built-in synthetic set, or manifests decoded through each branch's
 * feature settings, split without leaking groups, standardised with the
 * training split's statistics. */
#ifndef TM_DATA_LOAD_H
#define TM_DATA_LOAD_H

#include <stdio.h>

#include "tm_dataset.h"
#include "tm_experiment.h"
#include "tm_threads.h"

typedef struct tm_splits {
    tm_dataset train, val, test;
    /* standardisation per modality: x' = (x - mean) / std (std 0 = none) */
    float mean[TM_MAX_MODALITIES], std[TM_MAX_MODALITIES];
    /* augmentation: the training split's raw inputs, re-featurised per epoch */
    int augment;
    float *train_raw[TM_MAX_MODALITIES];
    size_t raw_dim[TM_MAX_MODALITIES];
    tm_feature_spec specs[TM_MAX_MODALITIES];
    /* bad rows left out (data.skip_bad_rows) of the train, val and test
     * manifests; a split carved out of the train manifest counts 0 */
    int rows_skipped[3];
} tm_splits;

/* skipped: where every bad row left out is listed (manifest:line, file,
 * reason); callers pass stderr so no command drops rows unseen. */
tm_status tm_load_splits(const tm_experiment *e, tm_splits *s, FILE *skipped);
void tm_splits_free(tm_splits *s);

/* Fills out (a data set shaped like s->train) with freshly augmented
 * training features drawn from rng. */
tm_status tm_splits_augment(const tm_splits *s, tm_rng *rng, tm_pool *pool, tm_dataset *out);

/* Matches each branch to the data set's modality of the same name and checks
 * shapes; map[b] receives the modality index of branch b. */
tm_status tm_match_branches(const tm_experiment *e, const tm_model_spec *spec,
                            const tm_dataset *d, int *map);

/* The folder relative manifest paths start from: [data] root, else
 * $TINYM2NET_DATA. */
tm_status tm_data_root(const tm_experiment *e, char *buf, size_t n);

#endif
