/* Seeded, deterministic random numbers (xoshiro128** seeded by splitmix64).
 * The state is a plain struct so it can be saved in checkpoints and
 * restored to continue the exact same stream. */
#ifndef TM_RNG_H
#define TM_RNG_H

#include <stdint.h>

typedef struct tm_rng {
    uint32_t s[4];
} tm_rng;

void tm_rng_seed(tm_rng *r, uint64_t seed);
uint32_t tm_rng_u32(tm_rng *r);
/* Uniform in [0, 1). */
float tm_rng_uniform(tm_rng *r);
/* Uniform integer in [0, n). */
uint32_t tm_rng_below(tm_rng *r, uint32_t n);
/* Standard normal (Box-Muller; no cached second value so the state says it all). */
float tm_rng_normal(tm_rng *r);
void tm_rng_shuffle(tm_rng *r, int *idx, int n);
/* Independent stream derived from r's seed material and a label. */
void tm_rng_fork(const tm_rng *r, uint64_t label, tm_rng *child);

#endif
