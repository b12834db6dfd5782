/* Optimizers, clipping and schedules against torch.optim trajectories
 * (test/fixtures/optim.safetensors from test/gen_optim.py); checkpoint
 * resume is bitwise; non-finite handling for both policies. */
#include "harness.h"
#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const reel_st_file *FX;

static const reel_st_tensor *fx(const char *name)
{
	return reel_st_find(FX, name);
}

typedef struct problem {
	reel_params *ps;
	reel_tensor *W, *b;
	reel_real X[8 * 4], Y[8 * 3];
	reel_tape *t;
} problem;

static void problem_init(problem *p)
{
	p->ps = reel_params_new();
	p->W = reel_param_new(p->ps, "layer.weight", 2, (int[]){3, 4});
	p->b = reel_param_new(p->ps, "layer.bias", 1, (int[]){3});
	reel_st_to_real(fx("data.W0"), p->W->data);
	reel_st_to_real(fx("data.b0"), p->b->data);
	reel_st_to_real(fx("data.X"), p->X);
	reel_st_to_real(fx("data.Y"), p->Y);
	p->t = reel_tape_new(0, 1);
}

static void problem_deinit(problem *p)
{
	reel_tape_free(p->t);
	reel_params_free(p->ps);
}

/* Gradients of mean((tanh(X W^T + b) - Y)^2) into the store; returns the loss. */
static double problem_grad(problem *p)
{
	reel_tape *t = p->t;
	reel_tape_reset(t);
	reel_params_zero_grad(p->ps);
	reel_tensor *X = reel_tensor_from(t, 2, (int[]){8, 4}, p->X, REEL_NOGRAD);
	reel_tensor *Y = reel_tensor_from(t, 2, (int[]){8, 3}, p->Y, REEL_NOGRAD);
	reel_tensor *loss = reel_mse(t, reel_tanh(t, reel_add(t, reel_matmul(t, X, p->W, REEL_TRANS_B), p->b)), Y);
	if (!loss || reel_backward(t, loss) != REEL_OK)
		return NAN;
	return loss->data[0];
}

static void flat_params(const problem *p, double *out)
{
	for (int i = 0; i < 12; i++)
		out[i] = p->W->data[i];
	for (int i = 0; i < 3; i++)
		out[12 + i] = p->b->data[i];
}

#ifdef REEL_DOUBLE
#define RTOL 1e-10
#define ATOL 1e-12
#else
/* float parameters, rounded at each of 20 steps, against a float64 run */
#define RTOL 1e-6
#define ATOL 1e-7
#endif

static void trajectory(const char *name, reel_optim_opts o, int clip_kind, double clip)
{
	char key[128];
	snprintf(key, sizeof key, "%s.traj", name);
	const reel_st_tensor *tr = fx(key);
	if (!CHECK(tr && tr->count == 20 * 15, "fixture %s", key))
		return;
	double *want = malloc(tr->count * sizeof *want), got[20 * 15], loss[20], norm[20];
	reel_st_to_double(tr, want);
	problem p;
	problem_init(&p);
	reel_err e = {0};
	reel_optim *op = reel_optim_new(p.ps, &o, &e);
	if (CHECK(op, "optimizer: %s", e.msg)) {
		for (int s = 0; s < 20; s++) {
			loss[s] = problem_grad(&p);
			if (clip_kind == 1)
				norm[s] = reel_clip_grad_norm(p.ps, clip);
			else if (clip_kind == 2)
				reel_clip_grad_value(p.ps, clip);
			CHECK(reel_optim_step(op, loss[s], &e) == REEL_OK, "step: %s", e.msg);
			flat_params(&p, got + 15 * s);
		}
		CHECK_CLOSE("trajectory", got, want, 20 * 15, RTOL, ATOL);
		snprintf(key, sizeof key, "%s.loss", name);
		double wl[20];
		reel_st_to_double(fx(key), wl);
		CHECK_CLOSE("loss", loss, wl, 20, RTOL, ATOL);
		snprintf(key, sizeof key, "%s.norm", name);
		if (clip_kind == 1 && CHECK(fx(key), "fixture %s", key)) {
			reel_st_to_double(fx(key), wl);
			CHECK_CLOSE("clip norm", norm, wl, 20, RTOL, ATOL);
			CHECK(norm[0] > clip, "the test must actually clip (norm %g, max %g)", norm[0], clip);
		}
	}
	reel_optim_free(op);
	problem_deinit(&p);
	free(want);
}

static void test_trajectories(void)
{
	static const struct {
		const char *name;
		reel_optim_kind kind;
		double lr, wd, momentum, dampening;
		int nesterov, amsgrad, centered, no_decay_bias;
		double lr_decay, init_acc;
		int clip_kind;
		double clip;
	} cs[] = {
		{"sgd", REEL_SGD, 0.1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{"sgd_momentum", REEL_SGD, 0.1, 0.01, 0.9, 0.1, 0, 0, 0, 0, 0, 0, 0, 0},
		{"sgd_nesterov", REEL_SGD, 0.1, 0.01, 0.9, 0, 1, 0, 0, 0, 0, 0, 0, 0},
		{"adam", REEL_ADAM, 0.05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{"adam_amsgrad_wd", REEL_ADAM, 0.05, 0.01, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
		{"adamw", REEL_ADAMW, 0.05, 0.1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{"adamw_amsgrad", REEL_ADAMW, 0.05, 0.01, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
		{"rmsprop", REEL_RMSPROP, 0.01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{"rmsprop_centered_momentum", REEL_RMSPROP, 0.01, 0.01, 0.5, 0, 0, 0, 1, 0, 0, 0, 0, 0},
		{"adagrad", REEL_ADAGRAD, 0.1, 0.01, 0, 0, 0, 0, 0, 0, 0.01, 0.1, 0, 0},
		{"sgd_no_decay_bias", REEL_SGD, 0.1, 0.1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0},
		{"sgd_clip_norm", REEL_SGD, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0.05},
		{"sgd_clip_value", REEL_SGD, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0.01},
	};
	static char names[32][80];
	for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
		snprintf(names[i], sizeof names[i], "optim trajectory vs torch: %s", cs[i].name);
		th_case(names[i]);
		if (!th_selected())
			continue;
		reel_optim_opts o = reel_optim_defaults(cs[i].kind);
		o.lr = cs[i].lr;
		o.weight_decay = cs[i].wd;
		o.momentum = cs[i].momentum;
		o.dampening = cs[i].dampening;
		o.nesterov = cs[i].nesterov;
		o.amsgrad = cs[i].amsgrad;
		o.centered = cs[i].centered;
		o.no_decay_bias = cs[i].no_decay_bias;
		o.lr_decay = cs[i].lr_decay;
		o.initial_accumulator_value = cs[i].init_acc;
		trajectory(cs[i].name, o, cs[i].clip_kind, cs[i].clip);
	}
}

static void sched_case(const char *label, const char *key, reel_sched s, int n)
{
	th_case(label);
	const reel_st_tensor *f = fx(key);
	if (!CHECK(f && (int)f->count == n, "fixture %s", key))
		return;
	double want[64], got[64];
	reel_st_to_double(f, want);
	for (int e = 0; e < n; e++)
		got[e] = reel_sched_lr(&s, 1.0, e);
	CHECK_CLOSE(key, got, want, (size_t)n, 1e-12, 1e-15);
}

static void test_schedules(void)
{
	sched_case("schedule vs torch: StepLR", "sched.step", (reel_sched){.kind = REEL_SCHED_STEP, .step_size = 5, .gamma = 0.5}, 30);
	sched_case("schedule vs torch: MultiStepLR", "sched.multistep",
	           (reel_sched){.kind = REEL_SCHED_MULTISTEP, .milestones = {3, 7, 12}, .n_milestones = 3, .gamma = 0.3}, 30);
	sched_case("schedule vs torch: ExponentialLR", "sched.exponential", (reel_sched){.kind = REEL_SCHED_EXPONENTIAL, .gamma = 0.9}, 30);
	sched_case("schedule vs torch: CosineAnnealingLR", "sched.cosine",
	           (reel_sched){.kind = REEL_SCHED_COSINE, .t_max = 10, .eta_min = 0.001}, 11);
	sched_case("schedule vs torch: warm-up then cosine", "sched.warmup_cosine",
	           (reel_sched){.kind = REEL_SCHED_COSINE, .t_max = 10, .eta_min = 0.001, .warmup_steps = 5, .warmup_start_factor = 0.1}, 16);
	sched_case("schedule vs torch: warm-up then step", "sched.warmup_step",
	           (reel_sched){.kind = REEL_SCHED_STEP, .step_size = 3, .gamma = 0.5, .warmup_steps = 4, .warmup_start_factor = 0.25}, 30);
	th_case("schedule vs torch: ReduceLROnPlateau");
	double m[20], want[20], got[20];
	reel_st_to_double(fx("plateau.metric"), m);
	reel_st_to_double(fx("plateau.lr"), want);
	reel_plateau p = reel_plateau_defaults();
	p.factor = 0.5;
	p.patience = 2;
	p.cooldown = 1;
	p.min_lr = 0.05;
	double lr = 1;
	for (int i = 0; i < 20; i++)
		got[i] = lr = reel_plateau_step(&p, m[i], lr);
	CHECK_CLOSE("plateau lr", got, want, 20, 1e-15, 0);
	CHECK(got[19] < 1, "the metric sequence must actually reduce the lr");
}

/* Save after 10 steps, continue 10 more; load into a fresh run and do the
 * same 10: the parameters must agree bit for bit. */
static void test_resume(void)
{
	static const reel_optim_kind kinds[] = {REEL_SGD, REEL_ADAM, REEL_ADAMW, REEL_RMSPROP, REEL_ADAGRAD};
	static char names[5][64];
	for (int k = 0; k < 5; k++) {
		snprintf(names[k], sizeof names[k], "optim: save, restore, continue is bitwise (%s)",
		         reel_optim_kind_name(kinds[k]));
		th_case(names[k]);
		if (!th_selected())
			continue;
		reel_optim_opts o = reel_optim_defaults(kinds[k]);
		o.lr = 0.05;
		o.momentum = kinds[k] == REEL_SGD || kinds[k] == REEL_RMSPROP ? 0.5 : 0;
		o.amsgrad = 1;
		o.centered = 1;
		o.weight_decay = 0.01;
		reel_err e = {0};
		problem a, b;
		problem_init(&a);
		reel_optim *oa = reel_optim_new(a.ps, &o, &e);
		for (int s = 0; s < 10; s++)
			reel_optim_step(oa, problem_grad(&a), &e);
		char path[128];
		snprintf(path, sizeof path, "build/test-%d-resume.safetensors", (int)getpid());
		reel_st_writer *w = reel_st_writer_new();
		CHECK(reel_params_add_to(a.ps, w, &e) == REEL_OK && reel_optim_add_to(oa, w, &e) == REEL_OK, "add: %s", e.msg);
		CHECK(reel_st_write(w, path, &e) == REEL_OK, "write: %s", e.msg);
		reel_st_writer_free(w);
		for (int s = 0; s < 10; s++)
			reel_optim_step(oa, problem_grad(&a), &e);
		problem_init(&b);
		reel_optim *ob = reel_optim_new(b.ps, &o, &e);
		reel_st_file *f = NULL;
		CHECK(reel_st_read(path, &f, &e) == REEL_OK, "read: %s", e.msg);
		CHECK(f && reel_params_load(b.ps, f, path, &e) == REEL_OK && reel_optim_load(ob, f, path, &e) == REEL_OK,
		      "load: %s", e.msg);
		CHECK(reel_optim_steps(ob) == 10, "step count restored (%ld)", reel_optim_steps(ob));
		for (int s = 0; s < 10; s++)
			reel_optim_step(ob, problem_grad(&b), &e);
		size_t n;
		reel_real *va = reel_params_values(a.ps, &n), *vb = reel_params_values(b.ps, NULL);
		CHECK(!memcmp(va, vb, n * sizeof *va), "parameters differ after resuming");
		reel_st_free(f);
		unlink(path);
		reel_optim_free(oa);
		reel_optim_free(ob);
		problem_deinit(&a);
		problem_deinit(&b);
	}
}

/* A checkpoint whose optimizer state holds a NaN (or, in the float build,
 * a double beyond float's range) is refused by name and element, and the
 * optimizer keeps its state. */
static void test_load_nonfinite(void)
{
	th_case("optim: a non-finite moment in a checkpoint is refused, nothing loaded");
	if (!th_selected())
		return;
	reel_optim_opts o = reel_optim_defaults(REEL_ADAM);
	reel_err e = {0};
	problem a;
	problem_init(&a);
	reel_optim *op = reel_optim_new(a.ps, &o, &e);
	for (int s = 0; s < 3; s++)
		reel_optim_step(op, problem_grad(&a), &e);
	char path[128], bad[128];
	snprintf(path, sizeof path, "build/test-%d-moments.safetensors", (int)getpid());
	snprintf(bad, sizeof bad, "build/test-%d-moments-bad.safetensors", (int)getpid());
	reel_st_writer *w = reel_st_writer_new();
	CHECK(reel_params_add_to(a.ps, w, &e) == REEL_OK && reel_optim_add_to(op, w, &e) == REEL_OK, "add: %s", e.msg);
	CHECK(reel_st_write(w, path, &e) == REEL_OK, "write: %s", e.msg);
	reel_st_writer_free(w);
	for (int way = 0; way < 2; way++) { /* 0: NaN; 1: 1e300 as F64 (beyond float; finite in double) */
		reel_st_file *f = NULL;
		if (!CHECK(reel_st_read(path, &f, &e) == REEL_OK, "read: %s", e.msg))
			break;
		/* copy every tensor, the first moment's element 1 spoiled */
		w = reel_st_writer_new();
		int n = reel_st_count(f);
		double *spoiled = NULL;
		const char *victim = NULL;
		for (int i = 0; i < n; i++) {
			const reel_st_tensor *t = reel_st_at(f, i);
			if (!victim && !strncmp(t->name, "optim.", 6) && t->count > 1) {
				victim = t->name;
				spoiled = malloc(t->count * sizeof *spoiled);
				reel_st_to_double(t, spoiled);
				spoiled[1] = way ? 1e300 : NAN;
				reel_st_add(w, t->name, REEL_F64, t->ndim, t->shape, spoiled, &e);
			} else {
				reel_st_add(w, t->name, t->dtype, t->ndim, t->shape, t->bytes, &e);
			}
		}
		CHECK(victim && reel_st_write(w, bad, &e) == REEL_OK, "spoiled copy: %s", e.msg);
		reel_st_writer_free(w);
		free(spoiled);
		reel_st_file *g = NULL;
		reel_optim *ob = reel_optim_new(a.ps, &o, &e);
		CHECK(reel_st_read(bad, &g, &e) == REEL_OK, "read spoiled: %s", e.msg);
		reel_status st = g ? reel_optim_load(ob, g, bad, &e) : REEL_ERR_IO;
		int finite_double = way == 1 && sizeof(reel_real) == sizeof(double);
		if (finite_double)
			CHECK(st == REEL_OK, "1e300 is a finite double: %s", e.msg);
		else
			CHECK(st == REEL_ERR_IO && strstr(e.msg, victim) && strstr(e.msg, "element 1 is not finite"),
			      "way %d: status %d, message: %s", way, (int)st, e.msg);
		if (!finite_double)
			CHECK(reel_optim_steps(ob) == 0, "a refused checkpoint changed the step count");
		reel_st_free(g);
		reel_st_free(f);
		reel_optim_free(ob);
		unlink(bad);
	}
	unlink(path);
	reel_optim_free(op);
	problem_deinit(&a);
}

static void test_nonfinite(void)
{
	th_case("optim: non-finite gradient, skip policy");
	problem p;
	problem_init(&p);
	reel_err e = {0};
	reel_optim_opts o = reel_optim_defaults(REEL_ADAM);
	o.on_nonfinite = REEL_NONFINITE_SKIP;
	reel_optim *op = reel_optim_new(p.ps, &o, &e);
	double before[15], after[15];
	double loss = problem_grad(&p);
	p.b->grad[1] = NAN;
	flat_params(&p, before);
	CHECK(reel_optim_step(op, loss, &e) == REEL_OK, "skip returns OK");
	flat_params(&p, after);
	CHECK(!memcmp(before, after, sizeof before), "parameters unchanged");
	CHECK(reel_optim_skipped(op) == 1 && reel_optim_steps(op) == 0, "counted as skipped");
	problem_grad(&p);
	CHECK(reel_optim_step(op, INFINITY, &e) == REEL_OK && reel_optim_skipped(op) == 2, "infinite loss skipped");
	CHECK(reel_optim_step(op, loss, &e) == REEL_OK && reel_optim_steps(op) == 1, "finite step goes through");
	reel_optim_free(op);
	problem_deinit(&p);

	th_case("optim: non-finite gradient, stop policy");
	problem_init(&p);
	o.on_nonfinite = REEL_NONFINITE_STOP;
	op = reel_optim_new(p.ps, &o, &e);
	loss = problem_grad(&p);
	p.W->grad[5] = INFINITY;
	flat_params(&p, before);
	CHECK(reel_optim_step(op, loss, &e) == REEL_ERR_NUMERIC, "stop returns REEL_ERR_NUMERIC");
	CHECK(strstr(e.msg, "layer.weight") != NULL, "message names the parameter: %s", e.msg);
	flat_params(&p, after);
	CHECK(!memcmp(before, after, sizeof before), "parameters unchanged");
	reel_optim_free(op);
	problem_deinit(&p);

	th_case("optim: bad options are refused with a message");
	problem_init(&p);
	o = reel_optim_defaults(REEL_SGD);
	o.nesterov = 1;
	CHECK(reel_optim_new(p.ps, &o, &e) == NULL && strstr(e.msg, "nesterov"), "nesterov without momentum: %s", e.msg);
	o = reel_optim_defaults(REEL_ADAM);
	o.beta2 = 1.5;
	CHECK(reel_optim_new(p.ps, &o, &e) == NULL && strstr(e.msg, "betas"), "beta out of range: %s", e.msg);
	CHECK(reel_optim_kind_from_name("adamw") == REEL_ADAMW && reel_optim_kind_from_name("lbfgs") == -1, "names");
	problem_deinit(&p);

	th_case("clip: scales to the threshold, not to unit norm");
	problem_init(&p);
	problem_grad(&p);
	double n0 = reel_clip_grad_norm(p.ps, 1e9);
	double n1 = reel_clip_grad_norm(p.ps, n0 / 4);
	double n2 = reel_clip_grad_norm(p.ps, 1e9);
	CHECK(fabs(n1 - n0) < 1e-6 * n0 && fabs(n2 - n0 / 4) < 1e-5 * n0, "norms %g -> %g (want %g)", n0, n2, n0 / 4);
	problem_deinit(&p);
}

void suite_optim(void)
{
	th_case("optim: fixture file");
	reel_st_file *f = NULL;
	reel_err e = {0};
	if (!CHECK(reel_st_read("test/fixtures/optim.safetensors", &f, &e) == REEL_OK, "%s", e.msg))
		return;
	FX = f;
	test_trajectories();
	test_schedules();
	test_resume();
	test_nonfinite();
	test_load_nonfinite();
	reel_st_free(f);
}
