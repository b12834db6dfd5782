/* The test suite's side of gradient checking: a thin adapter over the
 * library's reel_gradcheck (engine/gradcheck.h) that turns its report into
 * a CHECK of the current case, plus an input filler.  The check itself, its
 * defaults and its tolerances are the library's. */
#ifndef REEL_TEST_GRADCHECK_H
#define REEL_TEST_GRADCHECK_H

#include "reel.h"

typedef reel_gc_input gc_input;
typedef reel_gc_fn gc_fn;
typedef reel_gc_opts gc_opts;

/* Returns 1 if every gradient matches; a failure is one CHECK in the
 * current case with the report's message (input or parameter, element,
 * analytic and numeric values). */
int gradcheck(gc_fn f, void *ctx, int nin, gc_input *in, reel_params *ps, gc_opts opts);

/* Fill n values from U(lo, hi), keeping |x| >= gap away from 0 (kinks). */
void gc_fill(reel_rng *r, reel_real *x, size_t n, double lo, double hi, double gap);

#endif
