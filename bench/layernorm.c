/* Layer normalization: the fused op (reel_layer_norm, one node with its own
 * backward) against the same function composed of existing ops (mean_axis,
 * sub, mul, add_scalar, rsqrt, mul, mul, add: 8 nodes), forward alone and
 * forward + backward, at a grid of (rows, cols).  Also prints the largest
 * difference between the two, output and every gradient, so the comparison
 * is between equal functions.  The numbers back the choice recorded above
 * reel_layer_norm in engine/ops.h.
 *
 * Usage: reel_bench layernorm [--reps N] [--threads N] */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LN_EPS ((reel_real)1e-5)

/* y = (x - mu) / sqrt(var + eps) * gamma + beta, from existing ops */
static reel_tensor *ln_composed(reel_tape *t, reel_tensor *x, reel_tensor *gamma, reel_tensor *beta)
{
	int R = reel_tensor_rows(x);
	reel_tensor *mu = reel_reshape2(t, reel_mean_axis(t, x, -1), R, 1);                  /* (R, 1) */
	reel_tensor *xc = reel_sub(t, x, mu);                                                 /* (R, N) */
	reel_tensor *var = reel_mean_axis(t, reel_mul(t, xc, xc), -1);                        /* (R) */
	reel_tensor *r = reel_reshape2(t, reel_rsqrt(t, reel_add_scalar(t, var, LN_EPS)), R, 1); /* (R, 1) */
	return reel_add(t, reel_mul(t, reel_mul(t, xc, r), gamma), beta);                      /* (R, N) */
}

struct ln_case {
	int R, N;
	reel_real *x, *gamma, *beta, *seed;
};

/* One forward (+ backward when bwd): fresh leaves, then the timed part.
 * Returns seconds; leaves in *lx, *lg, *lb and the output in *ly. */
static double ln_run(reel_tape *t, const struct ln_case *c, int fused, int bwd, reel_tensor **ly, reel_tensor **lx,
                     reel_tensor **lg, reel_tensor **lb)
{
	reel_tape_reset(t);
	*lx = reel_tensor_from(t, 2, (int[]){c->R, c->N}, c->x, REEL_GRAD);
	*lg = reel_tensor_from(t, 1, (int[]){c->N}, c->gamma, REEL_GRAD);
	*lb = reel_tensor_from(t, 1, (int[]){c->N}, c->beta, REEL_GRAD);
	double t0 = bench_now();
	*ly = fused ? reel_layer_norm(t, *lx, *lg, *lb, LN_EPS) : ln_composed(t, *lx, *lg, *lb);
	if (bwd && *ly)
		reel_backward_seed(t, *ly, c->seed);
	return bench_now() - t0;
}

static double maxdiff(const reel_real *a, const reel_real *b, size_t n)
{
	double d = 0;
	for (size_t i = 0; i < n; i++)
		d = fmax(d, fabs((double)a[i] - (double)b[i]));
	return d;
}

int bench_layernorm(int argc, char **argv)
{
	int reps = 7, threads = 1;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc && (reps = atoi(argv[++i])) >= 1 && reps <= 101)
			continue;
		if (!strcmp(argv[i], "--threads") && i + 1 < argc && reel_set_threads(atoi(argv[++i])) == REEL_OK)
			continue;
		fprintf(stderr, "layernorm: bad option %s (--reps 1..101, --threads N >= 1)\n", argv[i]);
		return 2;
	}
	threads = reel_get_threads();
	static const int rows[] = {32, 128, 1024}, cols[] = {64, 256, 1024};
	reel_tape *t = reel_tape_new(0, 1);
	reel_rng r;
	reel_rng_seed(&r, 11);
	if (!t)
		return 1;
	printf("layer_norm over the last axis, %s build, %d thread(s): median ms of %d reps "
	       "(each the mean of enough calls for ~20 ms)\n",
	       REEL_REAL_NAME, threads, reps);
	printf("| rows x cols | fwd fused | fwd composed | ratio | fwd+bwd fused | fwd+bwd composed | ratio | max |diff| |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	int status = 0;
	for (size_t ri = 0; ri < sizeof rows / sizeof rows[0]; ri++)
		for (size_t ci = 0; ci < sizeof cols / sizeof cols[0]; ci++) {
			struct ln_case c = {rows[ri], cols[ci], NULL, NULL, NULL, NULL};
			size_t n = (size_t)c.R * c.N;
			c.x = malloc(n * sizeof *c.x);
			c.seed = malloc(n * sizeof *c.seed);
			c.gamma = malloc((size_t)c.N * sizeof *c.gamma);
			c.beta = malloc((size_t)c.N * sizeof *c.beta);
			if (!c.x || !c.seed || !c.gamma || !c.beta)
				return 1;
			for (size_t i = 0; i < n; i++) {
				c.x[i] = (reel_real)reel_rng_range(&r, -2, 3);
				c.seed[i] = (reel_real)reel_rng_range(&r, -1, 1);
			}
			for (int j = 0; j < c.N; j++) {
				c.gamma[j] = (reel_real)reel_rng_range(&r, 0.5, 1.5);
				c.beta[j] = (reel_real)reel_rng_range(&r, -0.5, 0.5);
			}

			/* equal functions: output and gradients of both ways */
			reel_tensor *y, *x, *g, *b;
			ln_run(t, &c, 1, 1, &y, &x, &g, &b);
			reel_real *ref = malloc((2 * n + 2 * (size_t)c.N) * sizeof *ref);
			if (!ref || !y)
				return 1;
			memcpy(ref, y->data, n * sizeof *ref);
			memcpy(ref + n, reel_tensor_grad(x), n * sizeof *ref);
			memcpy(ref + 2 * n, reel_tensor_grad(g), (size_t)c.N * sizeof *ref);
			memcpy(ref + 2 * n + c.N, reel_tensor_grad(b), (size_t)c.N * sizeof *ref);
			ln_run(t, &c, 0, 1, &y, &x, &g, &b);
			if (!y) {
				fprintf(stderr, "layernorm: %s\n", reel_tape_error(t));
				return 1;
			}
			double d = fmax(fmax(maxdiff(ref, y->data, n), maxdiff(ref + n, reel_tensor_grad(x), n)),
			                fmax(maxdiff(ref + 2 * n, reel_tensor_grad(g), (size_t)c.N),
			                     maxdiff(ref + 2 * n + c.N, reel_tensor_grad(b), (size_t)c.N)));
			free(ref);

			int calls = (int)(4e6 / (double)n);
			calls = calls < 1 ? 1 : calls;
			double ms[2][2];
			for (int bwd = 0; bwd < 2; bwd++)
				for (int fused = 1; fused >= 0; fused--) {
					double v[101];
					ln_run(t, &c, fused, bwd, &y, &x, &g, &b); /* warm-up: sizes the arena */
					for (int k = 0; k < reps; k++) {
						double s = 0;
						for (int q = 0; q < calls; q++)
							s += ln_run(t, &c, fused, bwd, &y, &x, &g, &b);
						v[k] = 1e3 * s / calls;
					}
					ms[bwd][fused] = bench_median(v, reps);
				}
			printf("| %d x %d | %.4f | %.4f | %.2f | %.4f | %.4f | %.2f | %.1e |\n", c.R, c.N, ms[0][1], ms[0][0],
			       ms[0][0] / ms[0][1], ms[1][1], ms[1][0], ms[1][0] / ms[1][1], d);
			if (!(d < 1e-3))
				status = 1;
			free(c.x);
			free(c.seed);
			free(c.gamma);
			free(c.beta);
		}
	if (status)
		fprintf(stderr, "layernorm: the fused and composed results differ\n");
	reel_tape_free(t);
	return status;
}
