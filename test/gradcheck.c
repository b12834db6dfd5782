#include "gradcheck.h"

#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdlib.h>
#include <string.h>

#define GC_SEED 0x5eedULL

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

static size_t in_size(const gc_input *g)
{
	size_t n = 1;
	for (int d = 0; d < g->ndim; d++)
		n *= (size_t)g->shape[d];
	return n;
}

/* Run f once on fresh leaves; returns the output (on t) or NULL. */
static reel_tensor *run(reel_tape *t, gc_fn f, void *ctx, int nin, gc_input *in, reel_tensor **leaves)
{
	reel_tape_reset(t);
	reel_rng_seed(reel_tape_rng(t), GC_SEED);
	for (int i = 0; i < nin; i++)
		leaves[i] = reel_tensor_from(t, in[i].ndim, in[i].shape, in[i].data, in[i].grad ? REEL_GRAD : REEL_NOGRAD);
	return f(t, leaves, ctx);
}

static double loss(reel_tape *t, gc_fn f, void *ctx, int nin, gc_input *in, reel_tensor **leaves,
                   const double *R)
{
	reel_tensor *y = run(t, f, ctx, nin, in, leaves);
	if (!y)
		return NAN;
	double L = 0;
	for (size_t i = 0; i < y->size; i++)
		L += R[i] * y->data[i];
	return L;
}

static int compare(const char *what, reel_real *x, size_t n, const double *analytic, gc_opts o,
                   reel_tape *t, gc_fn f, void *ctx, int nin, gc_input *in, reel_tensor **leaves,
                   const double *R)
{
	int ok = 1;
	for (size_t j = 0; j < n && ok; j++) {
		reel_real keep = x[j];
		x[j] = keep + (reel_real)o.eps;
		double lp = loss(t, f, ctx, nin, in, leaves, R);
		x[j] = keep - (reel_real)o.eps;
		double lm = loss(t, f, ctx, nin, in, leaves, R);
		x[j] = keep;
		double num = (lp - lm) / (2 * o.eps), an = analytic[j];
		double lim = o.atol + o.rtol * fmax(fabs(num), fabs(an));
		ok = CHECK(fabs(num - an) <= lim, "d/d %s[%zu]: analytic %.12g, numeric %.12g", what, j, an, num);
	}
	return ok;
}

int gradcheck(gc_fn f, void *ctx, int nin, gc_input *in, reel_params *ps, gc_opts o)
{
	if (o.eps == 0)
		o.eps = 1e-6;
	if (o.rtol == 0)
		o.rtol = 1e-6;
	if (o.atol == 0)
		o.atol = 1e-8;
	reel_tape *t = reel_tape_new(0, 1);
	reel_tensor *leaves[16];
	if (!CHECK(t && nin <= 16, "gradcheck setup"))
		return 0;
	int ok = 1;
	if (ps)
		reel_params_zero_grad(ps);
	reel_tensor *y = run(t, f, ctx, nin, in, leaves);
	if (!CHECK(y != NULL, "forward failed: %s", reel_tape_error(t))) {
		reel_tape_free(t);
		return 0;
	}
	double *R = malloc(y->size * sizeof *R);
	reel_real *Rr = malloc(y->size * sizeof *Rr);
	reel_rng rr;
	reel_rng_seed(&rr, 77);
	for (size_t i = 0; i < y->size; i++)
		Rr[i] = (reel_real)(R[i] = reel_rng_range(&rr, -1, 1));
	ok &= CHECK(reel_backward_seed(t, y, Rr) == REEL_OK, "backward: %s", reel_tape_error(t));
	/* keep the analytic gradients before the finite-difference runs reset the tape */
	double *an[16] = {0};
	for (int i = 0; i < nin; i++) {
		if (!in[i].grad)
			continue;
		size_t n = in_size(&in[i]);
		an[i] = malloc(n * sizeof(double));
		const reel_real *g = reel_tensor_grad(leaves[i]);
		for (size_t j = 0; j < n; j++)
			an[i][j] = g ? g[j] : 0;
	}
	size_t np = 0;
	double *pan = NULL;
	if (ps) {
		const reel_real *g = reel_params_grads(ps, &np);
		pan = malloc((np + 1) * sizeof *pan);
		for (size_t j = 0; j < np; j++)
			pan[j] = g[j];
	}
	for (int i = 0; i < nin && ok; i++) {
		if (!in[i].grad)
			continue;
		char what[32];
		snprintf(what, sizeof what, "input %d", i);
		ok &= compare(what, in[i].data, in_size(&in[i]), an[i], o, t, f, ctx, nin, in, leaves, R);
	}
	for (int p = 0; ps && ok && p < reel_params_count(ps); p++) {
		reel_tensor *pt = reel_params_at(ps, p);
		if (!pt->requires_grad)
			continue;
		size_t off = (size_t)(pt->data - reel_params_values(ps, NULL));
		ok &= compare(pt->name, pt->data, pt->size, pan + off, o, t, f, ctx, nin, in, leaves, R);
	}
	for (int i = 0; i < nin; i++)
		free(an[i]);
	free(pan);
	free(R);
	free(Rr);
	reel_tape_free(t);
	return ok;
}
