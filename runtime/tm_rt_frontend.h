/* Audio front end (log-mel or MFCC) shared by the device and the training
 * side, so both compute the same features. C99, no allocation: every table
 * and the per-call scratch live in one caller workspace.
 *
 * Per frame t (frames = 1 + (num_samples - window_length) / hop_length, no
 * centring, no padding): take samples [t*hop, t*hop + window_length), multiply
 * by the window, zero-pad to n_fft, |FFT|^2 on bins 0 .. n_fft/2, apply
 * n_mels triangular HTK-mel filters (peak 1, no area normalisation), natural
 * log(mel + log_floor), then, when n_mfcc > 0, an orthonormal DCT-II keeping
 * coefficients 0 .. n_mfcc-1. Output is coefficient-major: out[c*frames + t].
 * docs/frontend.md gives every formula. */
#ifndef TM_RT_FRONTEND_H
#define TM_RT_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#include "tm_rt.h"
#include "tm_rt_fft.h"

enum {
    TM_RT_WINDOW_HANN = 0,   /* periodic: 0.5 - 0.5 cos(2 pi i / N) */
    TM_RT_WINDOW_HAMMING = 1 /* periodic: 0.54 - 0.46 cos(2 pi i / N) */
};

typedef struct tm_rt_frontend_config {
    /* In the order of the model file's input record, which holds this struct
     * as it is (4-byte fields only). */
    int sample_rate;   /* Hz */
    int window_length; /* samples per frame, 2 .. TM_RT_FFT_MAX_N */
    int hop_length;    /* samples between frame starts, > 0 */
    int n_fft;         /* power of two >= window_length; 0 = next power of two */
    int n_mels;        /* mel bands, > 0; every band must hold an FFT bin */
    int n_mfcc;        /* 0 = log-mel output; else 1 .. n_mels DCT coefficients */
    int window;        /* TM_RT_WINDOW_HANN or TM_RT_WINDOW_HAMMING */
    int num_samples;   /* fixed input length in samples, >= window_length */
    float fmin, fmax;  /* filter bank edges in Hz, 0 <= fmin < fmax <= sample_rate/2 */
    float log_floor;   /* > 0, added inside the log */
} tm_rt_frontend_config;

/* Filled by tm_rt_frontend_init; every pointer points into the workspace. */
typedef struct tm_rt_frontend {
    uint32_t magic; /* set by init, checked by run */
    tm_rt_frontend_config cfg;
    int n_fft;  /* resolved (never 0) */
    int frames;
    int n_coef; /* n_mfcc, or n_mels for log-mel output */
    tm_rt_fft_plan fft;
    const float *window;       /* window_length */
    const int32_t *mel_start;  /* n_mels: first FFT bin of band b */
    const int32_t *mel_len;    /* n_mels: number of bins with non-zero weight */
    const float *mel_weights;  /* concatenated per band, sum(mel_len) floats */
    const float *dct;          /* n_mfcc x n_mels (band-major on SSE2); NULL for log-mel */
    /* Per-call scratch, also in the workspace: run writes it, so one
     * tm_rt_frontend must not be run from two threads at once. */
    float *frame; /* n_fft */
    float *power; /* n_fft/2 + 1 */
    float *mel;   /* n_mels */
    uint32_t tables_sum; /* checksum of the tables, for tm_rt_frontend_ready */
} tm_rt_frontend;

/* NULL when the config is valid, else a static string naming the first bad
 * field and why (e.g. "fmax exceeds sample_rate/2"); "" when built with
 * TM_RT_NO_MESSAGES (tm_rt.h). */
const char *tm_rt_frontend_check(const tm_rt_frontend_config *c);
/* TM_RT_OK, or TM_RT_ERR_ARG when tm_rt_frontend_check reports a problem. */
tm_rt_status tm_rt_frontend_validate(const tm_rt_frontend_config *c);

/* Coefficients per frame: n_mfcc, or n_mels for log-mel output. */
static inline int tm_rt_frontend_coefs(const tm_rt_frontend_config *c)
{
    return c->n_mfcc > 0 ? c->n_mfcc : c->n_mels;
}

/* The next three return 0 for an invalid config. */
size_t tm_rt_frontend_frames(const tm_rt_frontend_config *c);
size_t tm_rt_frontend_output_size(const tm_rt_frontend_config *c); /* coefs * frames */
/* Tables plus per-call scratch, alignment slack included (any pointer works). */
size_t tm_rt_frontend_workspace_bytes(const tm_rt_frontend_config *c);

/* Precomputes the window, FFT twiddles, sparse mel weights and DCT matrix
 * into workspace. TM_RT_ERR_ARG for NULL pointers or an invalid config,
 * TM_RT_ERR_BUFFER when bytes < tm_rt_frontend_workspace_bytes(c). The
 * workspace must outlive fe. */
tm_rt_status tm_rt_frontend_init(tm_rt_frontend *fe, const tm_rt_frontend_config *c,
                                 void *workspace, size_t bytes);
/* 1 when fe holds what tm_rt_frontend_init(fe, c, workspace, bytes) would
 * build: its magic, the same config, its tables at this workspace address
 * and their checksum unchanged; then init can be skipped. Else 0. */
int tm_rt_frontend_ready(const tm_rt_frontend *fe, const tm_rt_frontend_config *c,
                         const void *workspace, size_t bytes);

/* pcm: num_samples floats (nominally in [-1, 1]); out: output_size floats,
 * out[c * frames + t]. */
#define tm_rt_frontend_run(fe, pcm, out) tm_rt_frontend_run_pcm(fe, pcm, NULL, out)
/* Same for 16-bit PCM: sample s is read as s / 32768 (exact in float), so the
 * result equals tm_rt_frontend_run on the scaled samples bit for bit. */
#define tm_rt_frontend_run_i16(fe, pcm, out) tm_rt_frontend_run_pcm(fe, NULL, pcm, out)
/* Both in one: float pcm, or 16-bit pcm16 when pcm is NULL (one of them). */
tm_rt_status tm_rt_frontend_run_pcm(const tm_rt_frontend *fe, const float *pcm,
                                    const int16_t *pcm16, float *out);

/* The natural log the front end applies: basic float operations only (no
 * libm at run time), so every target with IEEE single precision and no
 * fused multiply-add contraction produces the same bits. x > 0 and finite;
 * other inputs give NaN, -inf or +inf as logf would. */
float tm_rt_frontend_log(float x);

#endif
