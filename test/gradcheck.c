#include "gradcheck.h"

#include "harness.h"

#include <math.h>

void gc_fill(reel_rng *r, reel_real *x, size_t n, double lo, double hi, double gap)
{
	for (size_t i = 0; i < n; i++) {
		double v;
		do
			v = reel_rng_range(r, lo, hi);
		while (fabs(v) < gap);
		x[i] = (reel_real)v;
	}
}

int gradcheck(gc_fn f, void *ctx, int nin, gc_input *in, reel_params *ps, gc_opts o)
{
	reel_gc_report rep;
	reel_status st = reel_gradcheck(f, ctx, nin, in, ps, o, &rep);
	return CHECK(st == REEL_OK, "%s (%s, %zu elements checked)", rep.msg, reel_status_name(st), rep.checked);
}
