/* Audio file decoding: anything libsndfile reads (WAV, FLAC, Ogg, ...),
 * mixed down to mono, resampled with libsamplerate, fitted to a length.
 * Samples are floats in [-1, 1) for integer files (libsndfile's
 * normalisation); float files pass through unchanged but must be finite
 * and within TM_AUDIO_MAX_ABS.
 * The rules are written down in docs/data.md. */
#ifndef TM_AUDIO_H
#define TM_AUDIO_H

#include <stddef.h>

#include "tm_status.h"

/* How a signal is padded or cut to a fixed number of samples. */
typedef enum tm_audio_fit {
    TM_AUDIO_FIT_START = 0, /* keep the first num_samples; zeros after the end */
    TM_AUDIO_FIT_CENTER     /* cut or pad equally on both sides; an odd surplus
                               goes to the end */
} tm_audio_fit;

/* What the file held before any conversion. */
typedef struct tm_audio_info {
    int rate;         /* sample rate in Hz */
    int channels;
    long long frames; /* samples per channel */
} tm_audio_info;

/* Limits on what a file's header may claim, checked before anything is
 * allocated (a 42-byte FLAC header can claim 2^30 frames). A decoded
 * signal, and a resampled one, holds at most TM_AUDIO_MAX_SAMPLES floats
 * (frames x channels; 256 MiB, 23 minutes of 48 kHz mono). */
#define TM_AUDIO_MAX_SAMPLES (1LL << 26)
#define TM_AUDIO_MAX_CHANNELS 64
#define TM_AUDIO_MAX_RATE 768000
/* Largest sample magnitude accepted from a float file: 60 dB over full
 * scale, low enough that no front-end power sum can overflow a float. */
#define TM_AUDIO_MAX_ABS 1024.0f

/* Resampler used for every rate conversion (libsamplerate). */
#define TM_AUDIO_SRC_QUALITY "SRC_SINC_MEDIUM_QUALITY"

/* Reads the whole file as mono at its own rate. *samples (*n floats) is
 * malloc'ed and owned by the caller; info is optional. Errors name the
 * file: TM_ERR_IO when it cannot be opened, TM_ERR_FORMAT when it is not
 * audio, corrupt, truncated, empty, over the limits above or holds a
 * sample that is NaN, infinite or larger than TM_AUDIO_MAX_ABS. */
tm_status tm_audio_read_all(const char *path, float **samples, size_t *n, tm_audio_info *info);

/* Converts n_in samples from rate_in to rate_out Hz. The output has exactly
 * round(n_in * rate_out / rate_in) samples (at least 1); *out is malloc'ed
 * and owned by the caller. Equal rates copy. */
tm_status tm_audio_resample(const float *in, size_t n_in, int rate_in, int rate_out, float **out,
                            size_t *n_out);

/* Pads or cuts in[0..n) into out[0..num_samples) by the fit rule. */
void tm_audio_fit_length(const float *in, size_t n, float *out, size_t num_samples,
                         tm_audio_fit fit);

/* Decodes path to num_samples mono floats at target_rate Hz:
 * read_all, then resample if the rate differs, then fit_length.
 * info (optional) receives the file's original properties. On error out
 * is left zeroed. */
tm_status tm_audio_load(const char *path, int target_rate, int num_samples, tm_audio_fit fit,
                        float *out, tm_audio_info *info);

#endif
