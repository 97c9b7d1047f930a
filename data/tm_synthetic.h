/* The built-in two-modality data set: no download, generated from a seed.
 *
 * Class c in [0, K) (K even, >= 4) shows an "image" (1 x 16 x 16: an oriented
 * bar) that encodes c / 2, and an "audio" map (1 x 12 x 24: a band of energy
 * in one frequency row, like a spectrogram) that encodes ((c + 1) mod K) / 2.
 * Either modality alone therefore confuses every class with one neighbour
 * (at best about 50 % accuracy), while the pair identifies the class: the
 * two pairings intersect in exactly one class. Random shifts, amplitudes and
 * Gaussian noise make it a real learning problem. */
#ifndef TM_SYNTHETIC_H
#define TM_SYNTHETIC_H

#include <stdint.h>

#include "tm_dataset.h"

typedef struct tm_synthetic_config {
    int classes;     /* K: even, 4..32 */
    int samples;
    float noise;     /* Gaussian noise deviation, relative to a unit pattern */
    uint64_t seed;
} tm_synthetic_config;

#define TM_SYNTH_IMAGE_H 16
#define TM_SYNTH_IMAGE_W 16
#define TM_SYNTH_AUDIO_H 12
#define TM_SYNTH_AUDIO_W 24

tm_status tm_synthetic_make(tm_dataset *d, const tm_synthetic_config *c);

#endif
