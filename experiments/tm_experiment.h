/* Experiment files: INI text (parsed with libinih) declaring the data, one
 * branch per modality with its layers, the fusion, the head, training
 * settings and the seed. See docs/experiment-files.md for the reference. */
#ifndef TM_EXPERIMENT_H
#define TM_EXPERIMENT_H

#include <stdint.h>

#include "tm_features.h"
#include "tm_model.h"
#include "tm_optim.h"

#define TM_PATH_LEN 4096

typedef enum { TM_DATA_SYNTHETIC = 0, TM_DATA_MANIFEST } tm_data_source;

typedef struct tm_data_spec {
    tm_data_source source;
    /* synthetic */
    int classes;
    int train_samples, val_samples, test_samples;
    float noise;
    /* manifest */
    char root[TM_PATH_LEN];        /* "" = TINYM2NET_DATA */
    char train[TM_PATH_LEN];       /* manifest paths, relative to root */
    char val[TM_PATH_LEN];         /* "" = split off train by group */
    char test[TM_PATH_LEN];
    float val_fraction;            /* split off train when no val manifest */
    float test_fraction;           /* split off train when no test manifest */
    char label_column[64];
    char group_column[64];
    char cache[TM_PATH_LEN];       /* feature cache file, "" = none */
    int skip_bad_rows;
} tm_data_spec;

typedef enum { TM_CW_NONE = 0, TM_CW_BALANCED, TM_CW_LIST } tm_class_weight_mode;

typedef struct tm_train_spec {
    int epochs;
    int batch_size;
    tm_optim_config optim;
    tm_schedule schedule;           /* base_lr is the learning rate */
    tm_class_weight_mode class_weight_mode;
    float class_weights[64];
    int n_class_weights;
    int keep_best;                  /* final model = best validation epoch */
    int shards;                     /* train --distributed: shards of each batch */
} tm_train_spec;

typedef struct tm_experiment {
    char path[TM_PATH_LEN];         /* where it was read from (or a label) */
    char *text;                     /* effective INI text, overrides applied; owned */
    char name[64];
    /* [experiment] branch: "" = every branch (fused); else only this branch,
     * with the fusion dropped and the head on its output (an ablation) */
    char branch[TM_LAYER_NAME];
    uint64_t seed;
    int threads;                    /* 0 = one per core */
    tm_data_spec data;
    tm_train_spec train;
    tm_model_spec model;
    /* per-branch modality names (the data set's feature names) */
    char modality[TM_MAX_BRANCHES][TM_LAYER_NAME];
    /* per-branch decoding and features (kind NONE for synthetic data) */
    tm_feature_spec features[TM_MAX_BRANCHES];
} tm_experiment;

/* overrides: "section.key=value" strings (from --set), applied on top of the
 * file; a key that is not valid for its section is an error either way. */
tm_status tm_experiment_load(tm_experiment *e, const char *path, const char *const *overrides,
                             int n_overrides);
tm_status tm_experiment_parse(tm_experiment *e, const char *text, const char *label,
                              const char *const *overrides, int n_overrides);
void tm_experiment_free(tm_experiment *e);
/* The single-branch ablation of src: src's text with [experiment] branch =
 * <branch> (the section is added if missing), parsed again, so that dst->text
 * rebuilds exactly dst's model wherever it is stored. */
tm_status tm_experiment_single_branch(tm_experiment *dst, const tm_experiment *src,
                                      const char *branch);
/* Sets the model's class count and resolves "units = classes". */
void tm_experiment_set_classes(tm_experiment *e, int n_classes);

#endif
