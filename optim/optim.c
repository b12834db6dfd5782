/* Optimizers, clipping and schedules (rules in optim.h). */
#include "optim.h"
#include "fault.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M_BUF, M_EXP_AVG, M_EXP_AVG_SQ, M_MAX_EXP_AVG_SQ, M_SQUARE_AVG, M_GRAD_AVG, M_SUM, M_COUNT };

static const char *const moment_names[M_COUNT] = {
	"momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "square_avg", "grad_avg", "sum",
};

struct reel_optim {
	reel_optim_opts o;
	reel_params *ps;
	size_t n;              /* elements in the store's blocks */
	reel_real *m[M_COUNT]; /* moments used by this kind, each n elements; else NULL */
	int64_t step, skipped; /* written to checkpoints as I64 */
};

static const char *const kind_names[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad"};

const char *reel_optim_kind_name(reel_optim_kind k)
{
	return (unsigned)k <= REEL_ADAGRAD ? kind_names[k] : "?";
}

int reel_optim_kind_from_name(const char *name)
{
	for (int i = 0; i <= REEL_ADAGRAD; i++)
		if (!strcmp(name, kind_names[i]))
			return i;
	return -1;
}

reel_optim_opts reel_optim_defaults(reel_optim_kind kind)
{
	reel_optim_opts o = {.kind = kind, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .alpha = 0.99};
	switch (kind) {
	case REEL_ADAMW: o.weight_decay = 1e-2; break;
	case REEL_RMSPROP: o.lr = 1e-2; break;
	case REEL_ADAGRAD: o.lr = 1e-2; o.eps = 1e-10; break;
	default: break;
	}
	return o;
}

static int uses(const reel_optim_opts *o, int m)
{
	switch (m) {
	case M_BUF: return (o->kind == REEL_SGD || o->kind == REEL_RMSPROP) && o->momentum != 0;
	case M_EXP_AVG:
	case M_EXP_AVG_SQ: return o->kind == REEL_ADAM || o->kind == REEL_ADAMW;
	case M_MAX_EXP_AVG_SQ: return (o->kind == REEL_ADAM || o->kind == REEL_ADAMW) && o->amsgrad;
	case M_SQUARE_AVG: return o->kind == REEL_RMSPROP;
	case M_GRAD_AVG: return o->kind == REEL_RMSPROP && o->centered;
	case M_SUM: return o->kind == REEL_ADAGRAD;
	}
	return 0;
}

reel_optim *reel_optim_new(reel_params *ps, const reel_optim_opts *opts, reel_err *err)
{
	const reel_optim_opts *o = opts;
	if ((unsigned)o->kind > REEL_ADAGRAD) {
		reel_err_set(err, REEL_ERR_ARG, "optimizer: unknown kind %d", (int)o->kind);
		return NULL;
	}
	const char *kn = kind_names[o->kind];
	/* every option must be finite, whether or not this kind uses it: a NaN
	 * or an infinity anywhere is a bug upstream (a schedule, a config) */
	const struct {
		const char *name;
		double v;
	} num[] = {
		{"lr", o->lr}, {"weight_decay", o->weight_decay}, {"momentum", o->momentum},
		{"dampening", o->dampening}, {"beta1", o->beta1}, {"beta2", o->beta2}, {"eps", o->eps},
		{"alpha", o->alpha}, {"lr_decay", o->lr_decay},
		{"initial_accumulator_value", o->initial_accumulator_value},
	};
	for (size_t i = 0; i < sizeof num / sizeof num[0]; i++)
		if (!isfinite(num[i].v)) {
			reel_err_set(err, REEL_ERR_ARG, "optimizer %s: %s is %g (must be finite)", kn, num[i].name, num[i].v);
			return NULL;
		}
	const char *bad = NULL;
	if (!(o->lr >= 0))
		bad = "lr must be >= 0";
	else if (!(o->weight_decay >= 0))
		bad = "weight_decay must be >= 0";
	else if (!(o->momentum >= 0))
		bad = "momentum must be >= 0";
	else if (o->kind == REEL_SGD && o->nesterov && (o->momentum <= 0 || o->dampening != 0))
		bad = "nesterov needs momentum > 0 and dampening 0";
	else if ((o->kind == REEL_ADAM || o->kind == REEL_ADAMW) &&
	         !(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1))
		bad = "betas must be in [0, 1)";
	else if (!(o->eps >= 0))
		bad = "eps must be >= 0";
	else if (o->kind == REEL_RMSPROP && !(o->alpha >= 0))
		bad = "alpha must be >= 0";
	else if (o->kind == REEL_ADAGRAD && !(o->lr_decay >= 0 && o->initial_accumulator_value >= 0))
		bad = "lr_decay and initial_accumulator_value must be >= 0";
	if (bad) {
		reel_err_set(err, REEL_ERR_ARG, "optimizer %s: %s (lr %g, weight_decay %g, momentum %g, dampening %g, "
		             "betas (%g, %g), eps %g, alpha %g, lr_decay %g, initial_accumulator_value %g)",
		             kn, bad, o->lr, o->weight_decay, o->momentum, o->dampening, o->beta1, o->beta2, o->eps,
		             o->alpha, o->lr_decay, o->initial_accumulator_value);
		return NULL;
	}
	reel_optim *op = reel__calloc(1, sizeof *op);
	if (!op) {
		reel_err_set(err, REEL_ERR_NOMEM, "optimizer: out of memory");
		return NULL;
	}
	op->o = *o;
	op->ps = ps;
	reel_params_values(ps, &op->n);
	for (int m = 0; m < M_COUNT; m++) {
		if (!uses(o, m))
			continue;
		op->m[m] = reel__calloc(op->n ? op->n : 1, sizeof(reel_real));
		if (!op->m[m]) {
			reel_optim_free(op);
			reel_err_set(err, REEL_ERR_NOMEM, "optimizer: out of memory for its state");
			return NULL;
		}
		if (m == M_SUM)
			for (size_t i = 0; i < op->n; i++)
				op->m[m][i] = (reel_real)o->initial_accumulator_value;
	}
	return op;
}

void reel_optim_free(reel_optim *o)
{
	if (!o)
		return;
	for (int m = 0; m < M_COUNT; m++)
		free(o->m[m]);
	free(o);
}

void reel_optim_set_lr(reel_optim *o, double lr) { o->o.lr = lr; }
double reel_optim_lr(const reel_optim *o) { return o->o.lr; }
long reel_optim_steps(const reel_optim *o) { return o->step; }
long reel_optim_skipped(const reel_optim *o) { return o->skipped; }

static int is_bias(const char *name)
{
	const char *last = strrchr(name, '.');
	return !strncmp(last ? last + 1 : name, "bias", 4);
}

/* One parameter's update, elements [0, n) at offset off in the blocks. */
static void update(reel_optim *op, reel_real *p, const reel_real *gr, size_t off, size_t n, double wd)
{
	const reel_optim_opts *o = &op->o;
	double lr = o->lr, t = (double)op->step;
	reel_real *buf = op->m[M_BUF] ? op->m[M_BUF] + off : NULL;
	switch (o->kind) {
	case REEL_SGD:
		for (size_t i = 0; i < n; i++) {
			double g = gr[i] + wd * p[i], d = g;
			if (buf) {
				double b = op->step == 1 ? g : o->momentum * buf[i] + (1 - o->dampening) * g;
				buf[i] = (reel_real)b;
				d = o->nesterov ? g + o->momentum * b : b;
			}
			p[i] = (reel_real)(p[i] - lr * d);
		}
		break;
	case REEL_ADAM:
	case REEL_ADAMW: {
		reel_real *m = op->m[M_EXP_AVG] + off, *v = op->m[M_EXP_AVG_SQ] + off;
		reel_real *vmax = op->m[M_MAX_EXP_AVG_SQ] ? op->m[M_MAX_EXP_AVG_SQ] + off : NULL;
		double bc1 = 1 - pow(o->beta1, t), bc2s = sqrt(1 - pow(o->beta2, t)), step = lr / bc1;
		int decoupled = o->kind == REEL_ADAMW;
		for (size_t i = 0; i < n; i++) {
			double pi = p[i];
			double g = gr[i];
			if (decoupled)
				pi *= 1 - lr * wd;
			else
				g += wd * pi;
			double mi = o->beta1 * m[i] + (1 - o->beta1) * g;
			double vi = o->beta2 * v[i] + (1 - o->beta2) * g * g;
			m[i] = (reel_real)mi;
			v[i] = (reel_real)vi;
			if (vmax) {
				vi = fmax((double)vmax[i], vi);
				vmax[i] = (reel_real)vi;
			}
			p[i] = (reel_real)(pi - step * mi / (sqrt(vi) / bc2s + o->eps));
		}
		break;
	}
	case REEL_RMSPROP: {
		reel_real *s = op->m[M_SQUARE_AVG] + off;
		reel_real *ga = op->m[M_GRAD_AVG] ? op->m[M_GRAD_AVG] + off : NULL;
		double a = o->alpha;
		for (size_t i = 0; i < n; i++) {
			double g = gr[i] + wd * p[i];
			double si = a * s[i] + (1 - a) * g * g, den;
			s[i] = (reel_real)si;
			if (ga) {
				double gi = a * ga[i] + (1 - a) * g;
				ga[i] = (reel_real)gi;
				den = sqrt(si - gi * gi) + o->eps;
			} else {
				den = sqrt(si) + o->eps;
			}
			if (buf) {
				double b = o->momentum * buf[i] + g / den;
				buf[i] = (reel_real)b;
				p[i] = (reel_real)(p[i] - lr * b);
			} else {
				p[i] = (reel_real)(p[i] - lr * g / den);
			}
		}
		break;
	}
	case REEL_ADAGRAD: {
		reel_real *s = op->m[M_SUM] + off;
		double clr = lr / (1 + (t - 1) * o->lr_decay);
		for (size_t i = 0; i < n; i++) {
			double g = gr[i] + wd * p[i];
			double si = s[i] + g * g;
			s[i] = (reel_real)si;
			p[i] = (reel_real)(p[i] - clr * g / (sqrt(si) + o->eps));
		}
		break;
	}
	}
}

reel_status reel_optim_step(reel_optim *op, double loss, reel_err *err)
{
	reel_params *ps = op->ps;
	/* reel_optim_set_lr cannot refuse a value (a schedule may overflow to
	 * inf): refuse it here, before anything is touched */
	if (!(isfinite(op->o.lr) && op->o.lr >= 0))
		return reel_err_set(err, REEL_ERR_ARG,
		                    "optimizer %s: lr is %g (must be finite and >= 0) at step %ld; parameters unchanged",
		                    kind_names[op->o.kind], op->o.lr, (long)op->step + 1);
	const char *culprit = NULL;
	int loss_bad = !isfinite(loss);
	if (loss_bad)
		culprit = "the loss";
	for (int k = 0; !culprit && k < reel_params_count(ps); k++) {
		const reel_tensor *p = reel_params_at(ps, k);
		for (size_t i = 0; i < p->size; i++)
			if (!isfinite(p->grad[i])) {
				culprit = p->name;
				break;
			}
	}
	if (culprit) {
		if (op->o.on_nonfinite == REEL_NONFINITE_SKIP) {
			op->skipped++;
			return REEL_OK;
		}
		return reel_err_set(err, REEL_ERR_NUMERIC,
		                    "optimizer %s: non-finite value in %s%s at step %ld; parameters unchanged",
		                    kind_names[op->o.kind], loss_bad ? "" : "the gradient of ",
		                    culprit, (long)op->step + 1);
	}
	op->step++;
	reel_real *vals = reel_params_values(ps, NULL), *grads = reel_params_grads(ps, NULL);
	for (int k = 0; k < reel_params_count(ps); k++) {
		reel_tensor *p = reel_params_at(ps, k);
		if (!p->requires_grad)
			continue;
		double wd = op->o.no_decay_bias && is_bias(p->name) ? 0 : op->o.weight_decay;
		size_t off = (size_t)(p->data - vals);
		update(op, p->data, grads + off, off, p->size, wd);
	}
	return REEL_OK;
}

/* ---- checkpoint ------------------------------------------------------------------ */

/* Calls fn for every moment of every parameter with its checkpoint name
 * "optim.<param>.<moment>" and its offset in the blocks; stops at the first
 * status that is not REEL_OK. */
typedef reel_status (*moment_fn)(const reel_optim *op, reel_real *moment, const reel_tensor *p, const char *name,
                                 void *ctx);

static reel_status each_moment(const reel_optim *op, moment_fn fn, void *ctx)
{
	char name[512];
	for (int m = 0; m < M_COUNT; m++) {
		if (!op->m[m])
			continue;
		for (int k = 0; k < reel_params_count(op->ps); k++) {
			const reel_tensor *p = reel_params_at(op->ps, k);
			size_t off = (size_t)(p->data - reel_params_values(op->ps, NULL));
			snprintf(name, sizeof name, "optim.%s.%s", p->name, moment_names[m]);
			reel_status s = fn(op, op->m[m] + off, p, name, ctx);
			if (s != REEL_OK)
				return s;
		}
	}
	return REEL_OK;
}

struct io_ctx {
	reel_st_writer *w;
	const reel_st_file *f;
	const char *what;
	reel_err *err;
};

static reel_status add_moment(const reel_optim *op, reel_real *v, const reel_tensor *p, const char *name, void *c)
{
	(void)op;
	struct io_ctx *x = c;
	return reel_st_add_real(x->w, name, p->ndim, p->shape, v, x->err);
}

static reel_status check_moment(const reel_optim *op, reel_real *v, const reel_tensor *p, const char *name, void *c)
{
	(void)op;
	(void)v;
	struct io_ctx *x = c;
	const reel_st_tensor *t = reel_st_find(x->f, name);
	if (!t || t->count != p->size || (t->dtype != REEL_F32 && t->dtype != REEL_F64))
		return reel_err_set(x->err, REEL_ERR_IO, "%s: optimizer state \"%s\" is %s", x->what, name,
		                    t ? "of the wrong size or type" : "missing");
	/* a NaN moment would turn every later update into NaN */
	size_t bad = reel_st_first_nonfinite(t);
	if (bad < t->count)
		return reel_err_set(x->err, REEL_ERR_IO, "%s: optimizer state \"%s\" element %zu is not finite: the checkpoint "
		                    "is corrupt", x->what, name, bad);
	return REEL_OK;
}

static reel_status load_moment(const reel_optim *op, reel_real *v, const reel_tensor *p, const char *name, void *c)
{
	(void)op;
	(void)p;
	reel_st_to_real(reel_st_find(((struct io_ctx *)c)->f, name), v);
	return REEL_OK;
}

/* step and skipped are I64: a float tensor would lose counts above 2^24. */
reel_status reel_optim_add_to(const reel_optim *op, reel_st_writer *w, reel_err *err)
{
	struct io_ctx c = {.w = w, .err = err};
	reel_status s = each_moment(op, add_moment, &c);
	if (s == REEL_OK)
		s = reel_st_add(w, "optim.step", REEL_I64, 0, NULL, &op->step, err);
	if (s == REEL_OK)
		s = reel_st_add(w, "optim.skipped", REEL_I64, 0, NULL, &op->skipped, err);
	return s;
}

/* A stored count (optim.step, optim.skipped) as an int64 in *out: a
 * scalar that is an integer in [0, 2^53] (converting NaN, an infinity or
 * 1e30 to int64 is undefined behaviour, and a negative or fractional count
 * means the file is not what it claims). */
static reel_status load_count(const reel_st_tensor *t, const char *name, const char *what, int64_t *out,
                              reel_err *err)
{
	if (!t || t->count != 1)
		return reel_err_set(err, REEL_ERR_IO, "%s: %s is %s", what, name, t ? "not a scalar" : "missing");
	if (t->dtype == REEL_I64 || t->dtype == REEL_I32) {
		int64_t v = 0;
		if (t->dtype == REEL_I64) {
			memcpy(&v, t->bytes, 8);
		} else {
			int32_t v32;
			memcpy(&v32, t->bytes, 4);
			v = v32;
		}
		if (v < 0 || v > ((int64_t)1 << 53))
			return reel_err_set(err, REEL_ERR_IO, "%s: %s is %lld, expected an integer in [0, 2^53]", what,
			                    name, (long long)v);
		*out = v;
		return REEL_OK;
	}
	double v;
	reel_st_to_double(t, &v);
	if (!(v >= 0 && v <= 9007199254740992.0 && v == floor(v)))
		return reel_err_set(err, REEL_ERR_IO, "%s: %s is %.17g, expected an integer in [0, 2^53]", what, name,
		                    v);
	*out = (int64_t)v;
	return REEL_OK;
}

reel_status reel_optim_load(reel_optim *op, const reel_st_file *f, const char *what, reel_err *err)
{
	struct io_ctx c = {.f = f, .what = what, .err = err};
	reel_status s = each_moment(op, check_moment, &c); /* validate all first: a bad file changes nothing */
	if (s != REEL_OK)
		return s;
	int64_t step = 0, skipped = 0;
	s = load_count(reel_st_find(f, "optim.step"), "optim.step", what, &step, err);
	if (s == REEL_OK)
		s = load_count(reel_st_find(f, "optim.skipped"), "optim.skipped", what, &skipped, err);
	if (s != REEL_OK)
		return s;
	each_moment(op, load_moment, &c);
	op->step = step;
	op->skipped = skipped;
	return REEL_OK;
}

/* ---- clipping ------------------------------------------------------------------- */

double reel_clip_grad_norm(reel_params *ps, double max_norm)
{
	size_t n;
	reel_real *g = reel_params_grads(ps, &n);
	double ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (double)g[i] * g[i];
	double norm = sqrt(ss), coef = max_norm / (norm + 1e-6);
	if (coef < 1)
		for (size_t i = 0; i < n; i++)
			g[i] = (reel_real)(g[i] * coef);
	return norm;
}

void reel_clip_grad_value(reel_params *ps, double clip)
{
	size_t n;
	reel_real *g = reel_params_grads(ps, &n);
	for (size_t i = 0; i < n; i++)
		g[i] = g[i] > clip ? (reel_real)clip : g[i] < -clip ? (reel_real)-clip : g[i];
}

/* ---- schedules ----------------------------------------------------------------- */

static double main_lr(const reel_sched *s, double lr0, long e)
{
	switch (s->kind) {
	case REEL_SCHED_CONSTANT: return lr0;
	case REEL_SCHED_STEP: return lr0 * pow(s->gamma, (double)(e / (s->step_size > 0 ? s->step_size : 1)));
	case REEL_SCHED_MULTISTEP: {
		int k = 0;
		while (k < s->n_milestones && s->milestones[k] <= e)
			k++;
		return lr0 * pow(s->gamma, k);
	}
	case REEL_SCHED_EXPONENTIAL: return lr0 * pow(s->gamma, (double)e);
	case REEL_SCHED_COSINE:
		return s->eta_min + (lr0 - s->eta_min) * (1 + cos(3.14159265358979323846 * (double)e / (s->t_max > 0 ? s->t_max : 1))) / 2;
	}
	return lr0;
}

double reel_sched_lr(const reel_sched *s, double lr0, long e)
{
	if (s->warmup_steps > 0 && e < s->warmup_steps) {
		double f = s->warmup_start_factor;
		return lr0 * (f + (1 - f) * (double)e / s->warmup_steps);
	}
	return main_lr(s, lr0, s->warmup_steps > 0 ? e - s->warmup_steps : e);
}

reel_plateau reel_plateau_defaults(void)
{
	return (reel_plateau){.factor = 0.1, .patience = 10, .threshold = 1e-4, .eps = 1e-8};
}

static int plateau_better(const reel_plateau *p, double a)
{
	if (!p->started)
		return 1;
	if (p->mode_max)
		return p->threshold_abs ? a > p->best + p->threshold : a > p->best * (1 + p->threshold);
	return p->threshold_abs ? a < p->best - p->threshold : a < p->best * (1 - p->threshold);
}

double reel_plateau_step(reel_plateau *p, double metric, double lr)
{
	if (plateau_better(p, metric)) {
		p->best = metric;
		p->started = 1;
		p->bad_epochs = 0;
	} else {
		p->bad_epochs++;
	}
	if (p->cooldown_left > 0) {
		p->cooldown_left--;
		p->bad_epochs = 0;
	}
	if (p->bad_epochs > p->patience) {
		double nl = fmax(lr * p->factor, p->min_lr);
		if (lr - nl > p->eps)
			lr = nl;
		p->cooldown_left = p->cooldown;
		p->bad_epochs = 0;
	}
	return lr;
}
