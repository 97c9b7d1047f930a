#include "tm_synthetic.h"

#include <math.h>
#include <stdio.h>

#include "tm_rng.h"

static void draw_bar(float *img, int g, int groups, tm_rng *r)
{
    const int H = TM_SYNTH_IMAGE_H, W = TM_SYNTH_IMAGE_W;
    double angle = 3.141592653589793 * g / groups;
    double cx = (W - 1) / 2.0 + (tm_rng_uniform(r) * 4.0 - 2.0);
    double cy = (H - 1) / 2.0 + (tm_rng_uniform(r) * 4.0 - 2.0);
    double amp = 0.7 + 0.6 * tm_rng_uniform(r);
    double dx = cos(angle), dy = sin(angle);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double px = x - cx, py = y - cy;
            double along = px * dx + py * dy;
            double across = -px * dy + py * dx;
            if (fabs(along) <= 5.5)
                img[y * W + x] += (float)(amp * exp(-across * across / 1.5));
        }
}

static void draw_band(float *map, int g, int groups, tm_rng *r)
{
    const int H = TM_SYNTH_AUDIO_H, W = TM_SYNTH_AUDIO_W;
    /* Rows spread over the height; the band has a weaker harmonic above. */
    int row = 1 + g * (H - 3) / (groups > 1 ? groups - 1 : 1);
    int len = 10 + (int)tm_rng_below(r, 10);
    int start = (int)tm_rng_below(r, (uint32_t)(W - len + 1));
    double amp = 0.7 + 0.6 * tm_rng_uniform(r);
    for (int t = start; t < start + len; t++) {
        map[row * W + t] += (float)amp;
        if (row + 1 < H)
            map[(row + 1) * W + t] += (float)(0.4 * amp);
        if (row - 1 >= 0)
            map[(row - 1) * W + t] += (float)(0.4 * amp);
    }
}

tm_status tm_synthetic_make(tm_dataset *d, const tm_synthetic_config *c)
{
    if (c->classes < 4 || c->classes > 32 || c->classes % 2)
        return tm_error(TM_ERR_ARG, "synthetic data: classes = %d (an even number 4..32 needed)",
                        c->classes);
    if (c->samples < 1)
        return tm_error(TM_ERR_ARG, "synthetic data: %d samples", c->samples);
    if (!(c->noise >= 0.0f))
        return tm_error(TM_ERR_ARG, "synthetic data: noise = %g (must be >= 0)", c->noise);
    tm_modality mods[2] = {
        {"image", {1, TM_SYNTH_IMAGE_H, TM_SYNTH_IMAGE_W}, 0},
        {"audio", {1, TM_SYNTH_AUDIO_H, TM_SYNTH_AUDIO_W}, 0},
    };
    TM_TRY(tm_dataset_alloc(d, c->samples, 2, mods, c->classes));
    tm_rng r;
    tm_rng_seed(&r, c->seed);
    int groups = c->classes / 2;
    for (int i = 0; i < c->samples; i++) {
        int label = (int)tm_rng_below(&r, (uint32_t)c->classes);
        d->label[i] = label;
        float *img = d->x[0] + (size_t)i * d->mod[0].dim;
        float *aud = d->x[1] + (size_t)i * d->mod[1].dim;
        draw_bar(img, label / 2, groups, &r);
        draw_band(aud, ((label + 1) % c->classes) / 2, groups, &r);
        for (size_t k = 0; k < d->mod[0].dim; k++)
            img[k] += c->noise * tm_rng_normal(&r);
        for (size_t k = 0; k < d->mod[1].dim; k++)
            aud[k] += c->noise * tm_rng_normal(&r);
    }
    for (int k = 0; k < c->classes; k++)
        snprintf(d->class_names[k], TM_NAME_LEN, "class%d", k);
    return TM_OK;
}
