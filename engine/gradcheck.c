/* Finite-difference gradient checking (gradcheck.h says what and how). */
#include "gradcheck.h"
#include "fault.h"

#include "rng.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tape's RNG seed for every evaluation and the seed of R. */
#define GC_TAPE_SEED 0x5eedULL
#define GC_R_SEED 77

#ifdef REEL_DOUBLE
#define GC_EPS 1e-6
#define GC_RTOL 1e-6
#define GC_ATOL 1e-8
#else
#define GC_EPS 1e-3
#define GC_RTOL 1e-2
#define GC_ATOL 1e-3
#endif

/* Everything one check carries between its evaluations. */
struct gc {
	reel_gc_fn f;
	void *ctx;
	int nin;
	reel_gc_input *in;
	reel_tensor **leaves;
	reel_tape *t;
	const double *R;
	size_t nout;
	reel_gc_opts o;
	reel_gc_report *rep;
};

static reel_status fail(reel_gc_report *rep, reel_status code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static reel_status fail(reel_gc_report *rep, reel_status code, const char *fmt, ...)
{
	rep->status = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rep->msg, sizeof rep->msg, fmt, ap);
	va_end(ap);
	return code;
}

static size_t in_size(const reel_gc_input *g)
{
	size_t n = 1;
	for (int d = 0; d < g->ndim; d++)
		n *= (size_t)g->shape[d];
	return n;
}

/* Run f once on fresh leaves; returns its output (on g->t) or NULL. */
static reel_tensor *run(struct gc *g)
{
	reel_tape_reset(g->t);
	reel_rng_seed(reel_tape_rng(g->t), GC_TAPE_SEED);
	for (int i = 0; i < g->nin; i++)
		g->leaves[i] = reel_tensor_from(g->t, g->in[i].ndim, g->in[i].shape, g->in[i].data,
		                                g->in[i].grad ? REEL_GRAD : REEL_NOGRAD);
	return g->f(g->t, g->leaves, g->ctx);
}

/* L = sum(R * f(...)); NaN if the run failed or changed its output's size. */
static double loss(struct gc *g)
{
	reel_tensor *y = run(g);
	if (!y || y->size != g->nout)
		return NAN;
	double L = 0;
	for (size_t i = 0; i < y->size; i++)
		L += g->R[i] * y->data[i];
	return L;
}

/* Compare the analytic gradient of the n values at x with central
 * differences; stops at the first mismatch (recorded in the report). */
static reel_status compare(struct gc *g, const char *what, reel_real *x, size_t n, const double *analytic)
{
	reel_gc_report *rep = g->rep;
	for (size_t j = 0; j < n; j++) {
		reel_real keep = x[j];
		x[j] = keep + (reel_real)g->o.eps;
		double lp = loss(g);
		x[j] = keep - (reel_real)g->o.eps;
		double lm = loss(g);
		x[j] = keep;
		/* the step actually taken, after rounding to reel_real */
		double h = (double)(reel_real)(keep + (reel_real)g->o.eps) - (double)(reel_real)(keep - (reel_real)g->o.eps);
		double num = (lp - lm) / h, an = analytic[j];
		double lim = g->o.atol + g->o.rtol * fmax(fabs(num), fabs(an));
		double err = fabs(num - an);
		rep->checked++;
		if (err / lim > rep->worst)
			rep->worst = err / lim;
		if (err <= lim)
			continue;
		snprintf(rep->what, sizeof rep->what, "%s", what);
		rep->index = j;
		rep->analytic = an;
		rep->numeric = num;
		rep->worst = isnan(err) ? INFINITY : rep->worst;
		if (isnan(lp) || isnan(lm))
			return fail(rep, REEL_ERR_NUMERIC, "d/d %s[%zu]: a perturbed run failed (%s)", what, j,
			            reel_tape_status(g->t) != REEL_OK ? reel_tape_error(g->t) : "NaN or a changed output size");
		return fail(rep, REEL_ERR_NUMERIC, "d/d %s[%zu]: analytic %.12g, numeric %.12g (|diff| %.3g > limit %.3g)",
		            what, j, an, num, err, lim);
	}
	return REEL_OK;
}

static reel_status check_args(reel_gc_fn f, int nin, const reel_gc_input *in, reel_gc_opts o, reel_gc_report *rep)
{
	if (!f)
		return fail(rep, REEL_ERR_ARG, "reel_gradcheck: f is NULL");
	if (nin < 0 || (nin > 0 && !in))
		return fail(rep, REEL_ERR_ARG, "reel_gradcheck: %d inputs at %p", nin, (const void *)in);
	if (!(o.eps >= 0 && o.rtol >= 0 && o.atol >= 0))
		return fail(rep, REEL_ERR_ARG, "reel_gradcheck: eps, rtol and atol must be >= 0 (got %g, %g, %g)",
		            o.eps, o.rtol, o.atol);
	for (int i = 0; i < nin; i++) {
		int ok = in[i].data && in[i].ndim >= 0 && in[i].ndim <= REEL_MAX_DIMS;
		for (int d = 0; ok && d < in[i].ndim; d++)
			ok = in[i].shape[d] >= 1;
		if (!ok)
			return fail(rep, REEL_ERR_ARG, "reel_gradcheck: input %d has NULL data or a bad shape (ndim %d)", i,
			            in[i].ndim);
	}
	return REEL_OK;
}

reel_status reel_gradcheck(reel_gc_fn f, void *ctx, int nin, reel_gc_input *in, reel_params *ps,
                           reel_gc_opts o, reel_gc_report *rep)
{
	if (!rep)
		return REEL_ERR_ARG;
	memset(rep, 0, sizeof *rep);
	if (check_args(f, nin, in, o, rep) != REEL_OK)
		return rep->status;
	if (o.eps == 0)
		o.eps = GC_EPS;
	if (o.rtol == 0)
		o.rtol = GC_RTOL;
	if (o.atol == 0)
		o.atol = GC_ATOL;

	struct gc g = {.f = f, .ctx = ctx, .nin = nin, .in = in, .o = o, .rep = rep};
	double **an = reel__calloc((size_t)nin + 1, sizeof *an);
	double *R = NULL, *pan = NULL;
	reel_real *Rr = NULL;
	g.leaves = reel__calloc((size_t)nin + 1, sizeof *g.leaves);
	g.t = reel_tape_new(0, 1);
	if (!an || !g.leaves || !g.t) {
		fail(rep, REEL_ERR_NOMEM, "reel_gradcheck: out of memory");
		goto out;
	}
	if (ps)
		reel_params_zero_grad(ps);
	reel_tensor *y = run(&g);
	if (!y) {
		fail(rep, reel_tape_status(g.t) != REEL_OK ? reel_tape_status(g.t) : REEL_ERR_ARG,
		     "forward failed: %s", reel_tape_error(g.t));
		goto out;
	}
	if (y->size == 0) {
		fail(rep, REEL_ERR_ARG, "reel_gradcheck: f returned an empty tensor");
		goto out;
	}
	g.nout = y->size;
	R = reel__malloc(y->size * sizeof *R);
	Rr = reel__malloc(y->size * sizeof *Rr);
	if (!R || !Rr) {
		fail(rep, REEL_ERR_NOMEM, "reel_gradcheck: out of memory");
		goto out;
	}
	reel_rng rr;
	reel_rng_seed(&rr, GC_R_SEED);
	for (size_t i = 0; i < y->size; i++)
		Rr[i] = (reel_real)(R[i] = reel_rng_range(&rr, -1, 1));
	g.R = R;
	if (reel_backward_seed(g.t, y, Rr) != REEL_OK) {
		fail(rep, reel_tape_status(g.t), "backward: %s", reel_tape_error(g.t));
		goto out;
	}
	/* keep the analytic gradients before the finite-difference runs reset the tape */
	for (int i = 0; i < nin; i++) {
		if (!in[i].grad)
			continue;
		size_t n = in_size(&in[i]);
		const reel_real *gr = reel_tensor_grad(g.leaves[i]);
		if (!(an[i] = reel__malloc(n * sizeof **an))) {
			fail(rep, REEL_ERR_NOMEM, "reel_gradcheck: out of memory");
			goto out;
		}
		for (size_t j = 0; j < n; j++)
			an[i][j] = gr ? gr[j] : 0;
	}
	if (ps) {
		size_t np = 0;
		const reel_real *gr = reel_params_grads(ps, &np);
		if (!(pan = reel__malloc((np + 1) * sizeof *pan))) {
			fail(rep, REEL_ERR_NOMEM, "reel_gradcheck: out of memory");
			goto out;
		}
		for (size_t j = 0; j < np; j++)
			pan[j] = gr[j];
	}
	for (int i = 0; i < nin; i++) {
		if (!in[i].grad)
			continue;
		char what[32];
		snprintf(what, sizeof what, "input %d", i);
		if (compare(&g, what, in[i].data, in_size(&in[i]), an[i]) != REEL_OK)
			goto out;
	}
	for (int p = 0; ps && p < reel_params_count(ps); p++) {
		reel_tensor *pt = reel_params_at(ps, p);
		if (!pt->requires_grad)
			continue;
		size_t off = (size_t)(pt->data - reel_params_values(ps, NULL));
		if (compare(&g, pt->name, pt->data, pt->size, pan + off) != REEL_OK)
			goto out;
	}
	rep->status = REEL_OK;
out:
	for (int i = 0; an && i < nin; i++)
		free(an[i]);
	free(an);
	free(pan);
	free(R);
	free(Rr);
	free(g.leaves);
	reel_tape_free(g.t);
	return rep->status;
}
