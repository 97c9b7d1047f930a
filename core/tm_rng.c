#include "tm_rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void tm_rng_seed(tm_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    uint64_t a = splitmix64(&x), b = splitmix64(&x);
    r->s[0] = (uint32_t)a;
    r->s[1] = (uint32_t)(a >> 32);
    r->s[2] = (uint32_t)b;
    r->s[3] = (uint32_t)(b >> 32);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
}

static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

uint32_t tm_rng_u32(tm_rng *r)
{
    uint32_t *s = r->s;
    uint32_t result = rotl(s[1] * 5, 7) * 9;
    uint32_t t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
}

float tm_rng_uniform(tm_rng *r) { return (float)(tm_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

uint32_t tm_rng_below(tm_rng *r, uint32_t n)
{
    /* Rejection removes modulo bias. */
    uint32_t limit = UINT32_MAX - UINT32_MAX % n;
    uint32_t v;
    do
        v = tm_rng_u32(r);
    while (v >= limit);
    return v % n;
}

float tm_rng_normal(tm_rng *r)
{
    double u1 = ((double)(tm_rng_u32(r) >> 8) + 1.0) / 16777217.0;
    double u2 = (double)(tm_rng_u32(r) >> 8) / 16777216.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void tm_rng_shuffle(tm_rng *r, int *idx, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)tm_rng_below(r, (uint32_t)(i + 1));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

void tm_rng_fork(const tm_rng *r, uint64_t label, tm_rng *child)
{
    uint64_t x = ((uint64_t)r->s[0] << 32 | r->s[1]) ^ ((uint64_t)r->s[2] << 32 | r->s[3]);
    x ^= label * 0xD1B54A32D192ED03ull;
    tm_rng_seed(child, splitmix64(&x));
}
