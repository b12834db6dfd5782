/* Finite-difference gradient checking against the tape (double build).
 *
 * A check builds leaf tensors from host inputs, runs f, seeds the output
 * with fixed random weights R and compares every analytic gradient of
 * L = sum(R * f(...)) with central differences (L(x + e) - L(x - e)) / 2e,
 * for every element of every input marked `grad` and of every parameter in
 * an optional store.  The tape's RNG is reseeded before each evaluation, so
 * dropout masks are the same in all of them. */
#ifndef REEL_TEST_GRADCHECK_H
#define REEL_TEST_GRADCHECK_H

#include "reel.h"

typedef struct gc_input {
	int ndim;
	int shape[REEL_MAX_DIMS];
	reel_real *data; /* host values, perturbed in place during the check */
	int grad;        /* check the gradient w.r.t. this input */
} gc_input;

typedef reel_tensor *(*gc_fn)(reel_tape *t, reel_tensor **in, void *ctx);

typedef struct gc_opts {
	double eps;  /* finite-difference step (default 1e-6) */
	double rtol; /* default 1e-6 */
	double atol; /* default 1e-8 */
} gc_opts;

/* Returns 1 if every gradient matches; failures are reported as CHECKs in
 * the current case, naming the input or parameter and the element. */
int gradcheck(gc_fn f, void *ctx, int nin, gc_input *in, reel_params *ps, gc_opts opts);

/* Fill n values from U(lo, hi), keeping |x| >= gap away from 0 (kinks). */
void gc_fill(reel_rng *r, reel_real *x, size_t n, double lo, double hi, double gap);

#endif
