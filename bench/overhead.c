/* Tape bookkeeping cost: a long chain of tiny ops (1-element tensors), so
 * the arithmetic is negligible and what is timed is recording a node,
 * allocating its output in the arena, and replaying it backward. */
#include "bench.h"

#include <stdio.h>

int bench_overhead(int argc, char **argv)
{
	int n = argc > 0 ? atoi(argv[0]) : 100000, reps = 20;
	if (n < 1) {
		fprintf(stderr, "overhead: the chain length must be a positive integer\n");
		return 2;
	}
	reel_tape *t = reel_tape_new(0, 1);
	reel_params *ps = reel_params_new();
	reel_tensor *w = reel_param_new(ps, "w", 1, (int[]){1});
	if (!t || !ps || !w)
		return 1;
	w->data[0] = (reel_real)0.5;
	double fwd[64], bwd[64];
	for (int r = 0; r < reps; r++) {
		double t0 = bench_now();
		reel_tensor *x = w;
		for (int i = 0; i < n; i++)
			x = (i & 1) ? reel_tanh(t, x) : reel_add(t, x, w);
		double t1 = bench_now();
		reel_backward(t, reel_sum(t, x));
		double t2 = bench_now();
		fwd[r] = (t1 - t0) * 1e9 / n;
		bwd[r] = (t2 - t1) * 1e9 / n;
		reel_tape_reset(t);
	}
	reel_tape_stats s = reel_tape_get_stats(t);
	printf("tape overhead: chain of %d one-element ops (add, tanh alternating), median of %d\n", n, reps);
	printf("  forward (record)   %6.1f ns/node\n", bench_median(fwd, reps));
	printf("  backward (replay)  %6.1f ns/node\n", bench_median(bwd, reps));
	printf("  arena peak         %zu bytes (%.0f bytes/node), %zu chunk mallocs in all\n", s.arena_peak,
	       (double)s.arena_peak / n, s.chunk_allocs);
	reel_params_free(ps);
	reel_tape_free(t);
	return 0;
}
