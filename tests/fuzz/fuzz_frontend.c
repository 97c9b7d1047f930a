/* libFuzzer target: the runtime audio front end (tm_rt_frontend_run and
 * _run_i16) on arbitrary PCM: the bytes are read as floats (so NaN, Inf and
 * huge values occur) and as 16-bit samples, tiled to the fixed input length.
 * Any input must run without a crash. Finite input within 1024 (the data
 * path's TM_AUDIO_MAX_ABS bound) must give finite features; with
 * TM_FUZZ_STRICT=1 in the environment, any finite input must. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_rt_frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ABS 1024.0f

typedef struct {
    tm_rt_frontend fe;
    size_t n_in, n_out;
    float *out;
} setup;

static setup fronts[2];
static int strict;

static void init(setup *s, int n_mfcc)
{
    tm_rt_frontend_config c = {.sample_rate = 16000, .window_length = 400, .hop_length = 160,
                               .n_fft = 512, .n_mels = 40, .n_mfcc = n_mfcc, .fmin = 20.0f,
                               .fmax = 8000.0f, .window = TM_RT_WINDOW_HANN,
                               .log_floor = 1e-6f, .num_samples = 1600};
    size_t bytes = tm_rt_frontend_workspace_bytes(&c);
    void *ws = malloc(bytes);
    if (!ws || tm_rt_frontend_init(&s->fe, &c, ws, bytes) != TM_RT_OK)
        abort();
    s->n_in = (size_t)c.num_samples;
    s->n_out = tm_rt_frontend_output_size(&c);
    s->out = malloc(s->n_out * sizeof(float));
    if (!s->out)
        abort();
}

static void check(const setup *s, int must_be_finite, const char *what)
{
    if (!must_be_finite)
        return;
    for (size_t i = 0; i < s->n_out; i++)
        if (!isfinite(s->out[i])) {
            fprintf(stderr, "%s: feature %zu is %g for finite input\n", what, i,
                    (double)s->out[i]);
            abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fronts[0].out) {
        const char *e = getenv("TM_FUZZ_STRICT");
        strict = e && *e == '1';
        init(&fronts[0], 13);
        init(&fronts[1], 0);
    }
    size_t nf = size / sizeof(float);
    size_t ni = size / sizeof(int16_t);
    if (nf == 0)
        return 0;
    size_t n = fronts[0].n_in;
    float *pcm = malloc(n * sizeof(float));
    int16_t *pcm16 = malloc(n * sizeof(int16_t));
    if (!pcm || !pcm16)
        abort();
    int finite = 1, small = 1;
    for (size_t i = 0; i < n; i++) {
        memcpy(&pcm[i], data + (i % nf) * sizeof(float), sizeof(float));
        if (!isfinite(pcm[i]))
            finite = 0;
        else if (fabsf(pcm[i]) > MAX_ABS)
            small = 0;
        memcpy(&pcm16[i], data + (i % ni) * sizeof(int16_t), sizeof(int16_t));
    }
    for (int k = 0; k < 2; k++) {
        setup *s = &fronts[k];
        const char *name = k ? "log-mel" : "mfcc";
        if (tm_rt_frontend_run(&s->fe, pcm, s->out) != TM_RT_OK)
            abort();
        check(s, finite && (small || strict), name);
        if (tm_rt_frontend_run_i16(&s->fe, pcm16, s->out) != TM_RT_OK)
            abort();
        check(s, 1, name);
    }
    free(pcm);
    free(pcm16);
    return 0;
}
