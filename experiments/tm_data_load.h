/* Turns an experiment's [data] section into train / validation / test sets. */
#ifndef TM_DATA_LOAD_H
#define TM_DATA_LOAD_H

#include "tm_dataset.h"
#include "tm_experiment.h"

typedef struct tm_splits {
    tm_dataset train, val, test;
} tm_splits;

tm_status tm_load_splits(const tm_experiment *e, tm_splits *s);
void tm_splits_free(tm_splits *s);
/* Matches each branch to the data set's modality of the same name and checks
 * shapes; map[b] receives the modality index of branch b. */
tm_status tm_match_branches(const tm_experiment *e, const tm_model_spec *spec,
                            const tm_dataset *d, int *map);

#endif
