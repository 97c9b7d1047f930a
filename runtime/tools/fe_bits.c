/* Prints one FNV-1a hash of the audio front end's outputs per config, on
 * noise of several levels and silent stretches. Built twice by
 * tests/CMakeLists.txt, with the SIMD paths and with -U__SSE2__ (the plain C
 * reference), whose lines must be equal: ctest frontend_simd_bits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_rt_frontend.h"

static unsigned char ws[1 << 17];

int main(void)
{
    /* rate, window, hop, n_fft, mels, mfcc, window kind, samples, fmin, fmax */
    static const int cfgs[][8] = {
        {8000, 256, 128, 256, 40, 13, TM_RT_WINDOW_HANN, 8000},
        {8000, 256, 128, 256, 40, 0, TM_RT_WINDOW_HANN, 8000},
        {16000, 400, 160, 512, 40, 10, TM_RT_WINDOW_HAMMING, 16000},
        {16000, 640, 320, 1024, 23, 23, TM_RT_WINDOW_HANN, 16000},
        {8000, 200, 80, 0, 7, 3, TM_RT_WINDOW_HAMMING, 4000},
        {8000, 256, 128, 256, 40, 13, TM_RT_WINDOW_HANN, 8000},
    };
    /* the last config's floor is subnormal: its silent stretches give the log
     * subnormal and zero-weight inputs, the vector log's scalar fallback */
    static const float floors[] = {1e-6f, 1e-6f, 1e-6f, 1e-6f, 1e-6f, 1e-40f};
    float *x = malloc(16000 * sizeof *x), *out = malloc(40 * 200 * sizeof *out);
    if (!x || !out)
        return 1;
    for (size_t n = 0; n < sizeof cfgs / sizeof cfgs[0]; n++) {
        tm_rt_frontend_config c;
        tm_rt_frontend fe;
        uint32_t h = 2166136261u, r = 1u + (uint32_t)n;
        memset(&c, 0, sizeof c);
        c.sample_rate = cfgs[n][0];
        c.window_length = cfgs[n][1];
        c.hop_length = cfgs[n][2];
        c.n_fft = cfgs[n][3];
        c.n_mels = cfgs[n][4];
        c.n_mfcc = cfgs[n][5];
        c.window = cfgs[n][6];
        c.num_samples = cfgs[n][7];
        c.fmin = 20.0f;
        c.fmax = (float)c.sample_rate / 2;
        c.log_floor = floors[n];
        if (tm_rt_frontend_init(&fe, &c, ws, sizeof ws) != TM_RT_OK ||
            tm_rt_frontend_output_size(&c) > 40 * 200) {
            fprintf(stderr, "fe_bits: config %zu does not open\n", n);
            return 1;
        }
        for (int trial = 0; trial < 12; trial++) {
            float level = trial % 4 == 0 ? 1e-5f : trial % 4 == 1 ? 1e-2f : 0.7f;
            for (int i = 0; i < c.num_samples; i++) {
                r = r * 1664525u + 1013904223u;
                x[i] = (float)((int32_t)r >> 8) / 8388608.0f * level;
                if (trial % 3 == 2 && i > c.num_samples / 2)
                    x[i] = 0.0f; /* silence: the log floor alone */
            }
            if (tm_rt_frontend_run(&fe, x, out) != TM_RT_OK)
                return 1;
            const unsigned char *b = (const unsigned char *)out;
            for (size_t i = 0; i < tm_rt_frontend_output_size(&c) * sizeof(float); i++)
                h = (h ^ b[i]) * 16777619u;
        }
        printf("config %zu: %08x\n", n, (unsigned)h);
    }
    free(x);
    free(out);
    return 0;
}
