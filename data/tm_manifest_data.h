/* A manifest (CSV: one file column per modality, a label column, an
 * optional group column) decoded into raw inputs and features, with a bad
 * row policy, worker threads and an HDF5 feature cache. */
#ifndef TM_MANIFEST_DATA_H
#define TM_MANIFEST_DATA_H

#include <stdio.h>

#include "tm_dataset.h"
#include "tm_features.h"
#include "tm_manifest.h"
#include "tm_threads.h"

typedef struct tm_manifest_set {
    tm_dataset data;                        /* features, labels, groups, class names */
    float *raw[TM_MAX_MODALITIES];          /* n * raw_dim: decoded PCM or pixels,
                                               NULL when not needed (see need_raw) */
    size_t raw_dim[TM_MAX_MODALITIES];
    int n_groups;
    int rows_read;                          /* data rows in the manifest */
    int rows_skipped;                       /* bad rows left out (skip_bad_rows) */
    char *skipped_rows;                     /* one line per bad row left out,
                                               "manifest:line: reason\n"; NULL when none */
    int from_cache;                         /* 1 when read from the feature cache */
} tm_manifest_set;

typedef struct tm_manifest_options {
    const tm_feature_spec *specs;
    int n_specs;
    const char *label_column;
    const char *group_column;               /* NULL or "" = none */
    const tm_classes *classes;              /* NULL = the manifest's own labels, sorted */
    int skip_bad_rows;                      /* else the first bad row is an error */
    tm_pool *pool;                          /* decoding threads, NULL = one */
    const char *cache_dir;                  /* NULL or "" = no cache */
    int need_raw;                           /* keep raw inputs (augmentation); else
                                               raw[] may be NULL after loading */
    FILE *report;                           /* cache use, NULL = quiet */
    FILE *skip_report;                      /* where skipped rows are listed (also when
                                               read from the cache); NULL = nowhere, they
                                               stay in skipped_rows */
} tm_manifest_options;

tm_status tm_manifest_set_load(tm_manifest_set *s, const char *manifest_path,
                               const tm_manifest_options *o);
void tm_manifest_set_free(tm_manifest_set *s);
/* Keeps the rows idx[0..n) (raw inputs included). */
tm_status tm_manifest_set_subset(const tm_manifest_set *s, const int *idx, int n,
                                 tm_manifest_set *out);

#endif
