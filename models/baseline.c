/* Baselines for series forecasting (baseline.h): what a recurrent model's
 * forecast must beat, computed on exactly the windows the model sees.
 *
 *   persistence  y^(t + h) = x(t): the window's last value (the naive
 *                forecast; every horizon h)
 *   linear AR(p) y^ = c + sum_{k < p} a_k x(t - k): a least-squares fit on
 *                every training window (normal equations, Cholesky, a ridge
 *                of 1e-8 of the mean diagonal for rank safety), over the last
 *                p steps of all F inputs; p from 1 to the window is chosen
 *                by the validation MSE (or given)
 *
 * The data come from the model's source through reel_data_next, so splits,
 * windows and normalisation (csv z-scores) are the ones `reel eval`
 * reports its MSE in. */
#include "fault.h"
#include "baseline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One pass over a split: the design rows (last p steps of the F inputs,
 * newest first, then 1) and the targets go to fn.  0, or -1 with err. */
typedef void (*row_fn)(void *ctx, const double *x, const reel_real *y, int O);

static int pass(reel_model *m, reel_data_split split, int p, row_fn fn, void *ctx, reel_err *err)
{
	reel_data_rewind(m->data, split);
	reel_batch b;
	int r, F = m->info.features;
	double *x = reel__malloc(((size_t)p * (size_t)F + 1) * sizeof *x);
	if (!x)
		return reel_err_set(err, REEL_ERR_NOMEM, "baseline: out of memory"), -1;
	while ((r = reel_data_next(m->data, split, 64, &b, err)) == 1) {
		for (int i = 0; i < b.B; i++) {
			int L = b.lengths[i];
			for (int k = 0; k < p; k++) {
				int t = L - 1 - k < 0 ? 0 : L - 1 - k;
				for (int f = 0; f < F; f++)
					x[k * F + f] = b.inputs[((size_t)t * b.B + i) * F + f];
			}
			x[p * F] = 1;
			fn(ctx, x, b.targets + (size_t)i * b.O, b.O);
		}
	}
	free(x);
	reel_data_rewind(m->data, split);
	return r < 0 ? -1 : 0;
}

typedef struct fit {
	int D, O;
	double *A, *c; /* (D, D) X^T X and (D, O) X^T Y; then the coefficients in c */
	double se, ae;
	long n;
	const double *w; /* scoring: coefficients (D, O); NULL scores persistence */
} fit;

static void accumulate(void *ctx, const double *x, const reel_real *y, int O)
{
	fit *f = ctx;
	for (int i = 0; i < f->D; i++) {
		for (int j = 0; j <= i; j++)
			f->A[(size_t)i * f->D + j] += x[i] * x[j];
		for (int o = 0; o < O; o++)
			f->c[(size_t)i * O + o] += x[i] * (double)y[o];
	}
	f->n++;
}

static void score(void *ctx, const double *x, const reel_real *y, int O)
{
	fit *f = ctx;
	for (int o = 0; o < O; o++) {
		double yh = 0;
		if (f->w)
			for (int i = 0; i < f->D; i++)
				yh += x[i] * f->w[(size_t)i * O + o];
		else
			yh = x[o]; /* persistence: feature o is target o (checked) */
		double e = yh - (double)y[o];
		f->se += e * e;
		f->ae += fabs(e);
	}
	f->n++;
}

/* Solve A w = c in place (A symmetric positive definite, lower triangle
 * filled): c becomes w.  0, or -1 when A is not positive definite. */
static int cholesky_solve(double *A, double *c, int D, int O)
{
	double tr = 0;
	for (int i = 0; i < D; i++)
		tr += A[(size_t)i * D + i];
	for (int i = 0; i < D; i++)
		A[(size_t)i * D + i] += 1e-8 * (tr / D > 0 ? tr / D : 1);
	for (int j = 0; j < D; j++) {
		double s = A[(size_t)j * D + j];
		for (int k = 0; k < j; k++)
			s -= A[(size_t)j * D + k] * A[(size_t)j * D + k];
		if (!(s > 0))
			return -1;
		double d = sqrt(s);
		A[(size_t)j * D + j] = d;
		for (int i = j + 1; i < D; i++) {
			double v = A[(size_t)i * D + j];
			for (int k = 0; k < j; k++)
				v -= A[(size_t)i * D + k] * A[(size_t)j * D + k];
			A[(size_t)i * D + j] = v / d;
		}
	}
	for (int o = 0; o < O; o++) {
		for (int i = 0; i < D; i++) { /* L z = c */
			double v = c[(size_t)i * O + o];
			for (int k = 0; k < i; k++)
				v -= A[(size_t)i * D + k] * c[(size_t)k * O + o];
			c[(size_t)i * O + o] = v / A[(size_t)i * D + i];
		}
		for (int i = D - 1; i >= 0; i--) { /* L^T w = z */
			double v = c[(size_t)i * O + o];
			for (int k = i + 1; k < D; k++)
				v -= A[(size_t)k * D + i] * c[(size_t)k * O + o];
			c[(size_t)i * O + o] = v / A[(size_t)i * D + i];
		}
	}
	return 0;
}

/* Fit AR(p) on training windows; *w gets (D, O) coefficients (malloc'd). */
static int fit_ar(reel_model *m, int p, double **w, reel_err *err)
{
	int F = m->info.features, O = m->info.outputs, D = p * F + 1;
	fit f = {.D = D, .O = O};
	f.A = reel__calloc((size_t)D * D, sizeof *f.A);
	f.c = reel__calloc((size_t)D * O, sizeof *f.c);
	int rc = -1;
	if (!f.A || !f.c) {
		reel_err_set(err, REEL_ERR_NOMEM, "baseline: out of memory");
		goto out;
	}
	if (pass(m, REEL_TRAIN, p, accumulate, &f, err))
		goto out;
	if (f.n < 1 || cholesky_solve(f.A, f.c, D, O)) {
		reel_err_set(err, REEL_ERR_NUMERIC, "baseline: AR(%d) least squares failed (%ld training windows)", p, f.n);
		goto out;
	}
	*w = f.c;
	f.c = NULL;
	rc = 0;
out:
	free(f.A);
	free(f.c);
	return rc;
}

static int eval_split(reel_model *m, reel_data_split split, int p, const double *w, double *mse, double *mae,
                      reel_err *err)
{
	fit f = {.D = p * m->info.features + 1, .O = m->info.outputs, .w = w};
	if (pass(m, split, p, score, &f, err))
		return -1;
	if (!f.n)
		return reel_err_set(err, REEL_ERR_IO, "baseline: the %s split is empty", split == REEL_TRAIN ? "train" : split == REEL_VALID ? "valid" : "test"), -1;
	*mse = f.se / ((double)f.n * f.O);
	*mae = f.ae / ((double)f.n * f.O);
	return 0;
}

reel_status reel_baseline_series(reel_model *m, int order, reel_data_split split, reel_baseline_report *r, reel_err *err)
{
	memset(r, 0, sizeof *r);
	if (m->task != REEL_TASK_REGRESS || m->info.tokens_in || m->data_opts.per_step)
		return reel_err_set(err, REEL_ERR_ARG,
		                    "baseline: forecasting baselines need a regress task with real inputs and one target "
		                    "after the window (per_step false), not %s",
		                    reel_task_name(m->task));
	int F = m->info.features, O = m->info.outputs, T = m->data_opts.window;
	if (F != O)
		return reel_err_set(err, REEL_ERR_ARG,
		                    "baseline: persistence needs the targets to be the inputs (%d inputs, %d targets)", F, O);
	if (order > T)
		return reel_err_set(err, REEL_ERR_ARG, "baseline: AR order %d exceeds the window (%d)", order, T);
	r->horizon = m->data_opts.horizon;
	if (eval_split(m, split, 1, NULL, &r->mse_persistence, &r->mae_persistence, err))
		return err->code;
	/* the order: given, or the best validation MSE over 1..T */
	int lo = order > 0 ? order : 1, hi = order > 0 ? order : T;
	double best = INFINITY;
	for (int p = lo; p <= hi; p++) {
		double *w = NULL, mse, mae;
		if (fit_ar(m, p, &w, err))
			return err->code;
		int e = order > 0 ? 0 : eval_split(m, REEL_VALID, p, w, &mse, &mae, err);
		free(w);
		if (e)
			return err->code;
		if (order > 0 || mse < best) {
			best = mse;
			r->order = p;
		}
	}
	double *w = NULL;
	if (fit_ar(m, r->order, &w, err))
		return err->code;
	int e = eval_split(m, split, r->order, w, &r->mse_ar, &r->mae_ar, err);
	free(w);
	return e ? err->code : REEL_OK;
}
