/* How one modality becomes a CNN input: the raw form kept per sample (PCM
 * at the experiment's rate and length, or pixels at the experiment's size)
 * and the features computed from it with the runtime's own front end, so
 * training and device compute the same numbers. */
#ifndef TM_FEATURES_H
#define TM_FEATURES_H

#include <stddef.h>

#include "tm_audio.h"
#include "tm_rng.h"
#include "tm_rt_frontend.h"
#include "tm_status.h"

typedef enum {
    TM_FEATURE_NONE = 0,  /* not a file-backed modality (synthetic data) */
    TM_FEATURE_MFCC,
    TM_FEATURE_LOGMEL,
    TM_FEATURE_IMAGE
} tm_feature_kind;

typedef struct tm_feature_spec {
    char name[64];              /* the modality (branch) name */
    char column[64];            /* manifest column holding the file path */
    tm_feature_kind kind;
    /* audio */
    tm_rt_frontend_config fe;   /* num_samples = duration * sample_rate */
    float duration;             /* seconds */
    tm_audio_fit fit;
    /* image */
    int channels, height, width;
    int standardize;            /* subtract the training split's mean, divide by its std */
    /* augmentation, training split only (0 = off) */
    float aug_shift;            /* audio: max shift in seconds; image: max shift in pixels */
    float aug_gain_db;          /* audio: gain drawn from [-g, +g] dB */
    float aug_snr_db;           /* audio: white noise at this SNR */
    float aug_noise;            /* image: Gaussian noise deviation on the 0..1 scale */
} tm_feature_spec;

int tm_feature_is_audio(const tm_feature_spec *f);
int tm_feature_augments(const tm_feature_spec *f);
/* Checks the settings; the message names the branch and the field. */
tm_status tm_feature_check(const tm_feature_spec *f);
/* Raw floats per sample: num_samples (audio) or C*H*W (image). */
size_t tm_feature_raw_dim(const tm_feature_spec *f);
/* Feature map shape C x H x W: 1 x coefficients x frames, or the image. */
void tm_feature_shape(const tm_feature_spec *f, int shape[3]);
size_t tm_feature_dim(const tm_feature_spec *f);

/* Decodes a file into its raw form (raw_dim floats). */
tm_status tm_feature_decode(const tm_feature_spec *f, const char *path, float *raw);

/* Per-thread state for computing features (the front end's workspace). */
typedef struct tm_featurizer {
    const tm_feature_spec *spec;
    tm_rt_frontend fe;
    void *workspace;
    float *scratch;             /* raw_dim floats for augmentation */
} tm_featurizer;

tm_status tm_featurizer_init(tm_featurizer *z, const tm_feature_spec *f);
void tm_featurizer_free(tm_featurizer *z);
/* raw -> features (dim floats). With rng non-NULL the spec's augmentations
 * are drawn from it and applied to a copy of raw first. A feature that comes
 * out NaN or infinite is TM_ERR_FORMAT naming the branch and the index. */
tm_status tm_featurize(tm_featurizer *z, const float *raw, float *features, tm_rng *rng);

#endif
