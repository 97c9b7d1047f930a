#include <math.h>

#include "tm_optim.h"

/* A zero or negative fan (an empty layer) falls back to 1 so the scale stays finite. */
static double tm_fan(int fan) { return fan > 0 ? (double)fan : 1.0; }

void tm_init_he_normal(tm_tensor *w, int fan_in, tm_rng *r)
{
    float std = (float)sqrt(2.0 / tm_fan(fan_in));
    for (size_t i = 0; i < w->size; i++)
        w->data[i] = std * tm_rng_normal(r);
}

void tm_init_glorot_uniform(tm_tensor *w, int fan_in, int fan_out, tm_rng *r)
{
    float limit = (float)sqrt(6.0 / (tm_fan(fan_in) + tm_fan(fan_out)));
    for (size_t i = 0; i < w->size; i++)
        w->data[i] = limit * (2.0f * tm_rng_uniform(r) - 1.0f);
}

void tm_init_constant(tm_tensor *w, float v)
{
    for (size_t i = 0; i < w->size; i++)
        w->data[i] = v;
}

void tm_init_uniform(tm_tensor *w, float bound, tm_rng *r)
{
    for (size_t i = 0; i < w->size; i++)
        w->data[i] = (tm_rng_uniform(r) * 2.0f - 1.0f) * bound;
}
