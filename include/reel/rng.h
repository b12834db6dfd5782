/* Seeded pseudo-random numbers: xoshiro256** (Blackman & Vigna 2018) seeded
 * through splitmix64, so any 64-bit seed gives a well-mixed state.  The same
 * seed gives the same sequence on every machine; nothing here reads the
 * clock.  The struct is plain data: copy it to fork a stream, store it to
 * resume one. */
#ifndef REEL_RNG_H
#define REEL_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct reel_rng {
	uint64_t s[4];
	double spare;     /* second Box-Muller normal, valid when has_spare */
	int has_spare;
};
typedef struct reel_rng reel_rng;

void reel_rng_seed(reel_rng *r, uint64_t seed);
uint64_t reel_rng_next(reel_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double reel_rng_uniform(reel_rng *r);
/* Uniform in [lo, hi). */
double reel_rng_range(reel_rng *r, double lo, double hi);
/* Standard normal (Box-Muller, polar-free form). */
double reel_rng_normal(reel_rng *r);
/* Uniform integer in [0, n), n >= 1, without modulo bias. */
uint64_t reel_rng_below(reel_rng *r, uint64_t n);

#ifdef __cplusplus
}
#endif

#endif
