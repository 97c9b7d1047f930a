/* An in-memory labelled data set of one or more modalities. Each modality
 * is a CxHxW float feature map per sample (audio: 1 x coefficients x frames;
 * images: channels x height x width), stored sample-major. */
#ifndef TM_DATASET_H
#define TM_DATASET_H

#include <stddef.h>

#include "tm_status.h"

#define TM_MAX_MODALITIES 4
#define TM_NAME_LEN 64

typedef struct tm_modality {
    char name[TM_NAME_LEN];   /* the branch that reads it: "image", "audio" */
    int shape[3];             /* C, H, W */
    size_t dim;               /* C * H * W */
} tm_modality;

typedef struct tm_dataset {
    int n;                               /* samples */
    int n_modalities;
    tm_modality mod[TM_MAX_MODALITIES];
    float *x[TM_MAX_MODALITIES];         /* n * mod[m].dim floats each; owned */
    int *label;                          /* n labels in [0, n_classes); owned */
    int *group;                          /* n group ids (speaker...), or NULL */
    int n_classes;
    char (*class_names)[TM_NAME_LEN];    /* n_classes names; owned */
} tm_dataset;

/* Allocates zeroed storage; class names default to "0", "1", ... */
tm_status tm_dataset_alloc(tm_dataset *d, int n, int n_modalities, const tm_modality *mods,
                           int n_classes);
void tm_dataset_free(tm_dataset *d);
/* Index of the modality called name, or -1. */
int tm_dataset_find(const tm_dataset *d, const char *name);
/* Copies the rows idx[0..n) into a new data set (same modalities and classes). */
tm_status tm_dataset_subset(const tm_dataset *d, const int *idx, int n, tm_dataset *out);
/* Copies the rows idx[0..n) of modality m into dst (n * dim floats). */
void tm_dataset_gather(const tm_dataset *d, int m, const int *idx, int n, float *dst);

#endif
