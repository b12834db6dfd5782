/* xoshiro256** and splitmix64, written from the published recurrences. */
#include "rng.h"

#include <math.h>

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void reel_rng_seed(reel_rng *r, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	r->has_spare = 0;
	r->spare = 0;
}

uint64_t reel_rng_next(reel_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double reel_rng_uniform(reel_rng *r)
{
	return (double)(reel_rng_next(r) >> 11) * 0x1.0p-53;
}

double reel_rng_range(reel_rng *r, double lo, double hi)
{
	return lo + (hi - lo) * reel_rng_uniform(r);
}

double reel_rng_normal(reel_rng *r)
{
	if (r->has_spare) {
		r->has_spare = 0;
		return r->spare;
	}
	double u1 = reel_rng_uniform(r), u2 = reel_rng_uniform(r);
	if (u1 < 1e-300)
		u1 = 1e-300; /* log(0) guard: u1 is exactly 0 once in 2^53 draws */
	double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
	r->spare = rad * sin(th);
	r->has_spare = 1;
	return rad * cos(th);
}

uint64_t reel_rng_below(reel_rng *r, uint64_t n)
{
	/* reject the top partial bucket so every value is equally likely */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = reel_rng_next(r);
	while (x >= limit);
	return x % n;
}
