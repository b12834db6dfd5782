/* Issue 18, the classic recurrent systems: the jordan layer's running
 * average of outputs (fixed and learned decay), the narx layer (delay
 * lines of inputs and outputs), and free-running forecasts
 * (reel_infer_forecast).  Config errors of both layers are in
 * test/configs/jordan-*.json and narx-*.json (test/cli.sh). */
#include "harness.h"
#include "infer.h"
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static reel_model *open_model(const char *path, const char *const *sets, int n)
{
	reel_model *m = NULL;
	char *errs = NULL;
	reel_err e = {0};
	if (!CHECK(reel_model_new(path, sets, n, &m, &errs, &e) == REEL_OK, "%s: %s %s", path, e.msg, errs ? errs : ""))
		m = NULL;
	free(errs);
	return m;
}

/* The whole model against finite differences (double build only). */
static void model_gradcheck(reel_model *m, const char *what)
{
#ifdef REEL_DOUBLE
	int failed = -1;
	reel_err e = {0};
	FILE *null = fopen("/dev/null", "w");
	CHECK(reel_model_gradcheck(m, 6, 1e-5, 1e-7, null, &failed, &e) == REEL_OK && failed == 0, "%s: %d failed: %s",
	      what, failed, e.msg);
	if (null)
		fclose(null);
#else
	(void)m;
	(void)what;
#endif
}

/* Output of layer 0 (the model's only layer) on batch b with targets
 * targets and teacher forcing tf, copied into out (T B O values). */
static int run_layer(reel_model *m, const reel_batch *b, const reel_real *targets, double tf, reel_real *out)
{
	reel_tape *t = reel_tape_new(0, 7);
	reel_fwd_ctx c = {.lengths = b->lengths, .T = b->T, .B = b->B, .targets = targets, .O = b->O, .tf = tf};
	reel_tensor *x = reel_tensor_wrap(t, 3, (int[]){b->T, b->B, b->F}, b->inputs);
	reel_tensor *y = m->layers[0].type->forward(t, &m->layers[0], x, NULL, &c);
	int ok = CHECK(y && y->ndim == 3 && y->shape[0] == b->T && y->shape[2] == b->O, "%s", reel_tape_error(t));
	if (ok)
		memcpy(out, y->data, (size_t)b->T * b->B * b->O * sizeof *out);
	reel_tape_free(t);
	return ok;
}

/* Which (step, row 0) outputs change when the target (or, with input,
 * the input) of step 0, row 0 changes: bit s of the result for step s. */
static unsigned followers(reel_model *m, reel_batch *b, double tf, int input)
{
	size_t n = (size_t)b->T * b->B * b->O;
	reel_real *y0 = malloc(n * sizeof *y0), *y1 = malloc(n * sizeof *y1);
	reel_real *tg = malloc(n * sizeof *tg);
	unsigned mask = 0;
	if (!CHECK(y0 && y1 && tg, "out of memory") || b->T > 31)
		goto out;
	memcpy(tg, b->targets, n * sizeof *tg);
	if (!run_layer(m, b, tg, tf, y0))
		goto out;
	reel_real saved = input ? b->inputs[0] : 0;
	if (input)
		b->inputs[0] += 1;
	else
		tg[0] += 1;
	int ok = run_layer(m, b, tg, tf, y1);
	if (input)
		b->inputs[0] = saved;
	if (!ok)
		goto out;
	for (int s = 0; s < b->T; s++) {
		if (y0[(size_t)s * b->B * b->O] != y1[(size_t)s * b->B * b->O])
			mask |= 1u << s;
		for (int k = 1; k < b->B; k++) /* another row never follows row 0 */
			CHECK(y0[((size_t)s * b->B + k) * b->O] == y1[((size_t)s * b->B + k) * b->O],
			      "step %d: row %d followed row 0", s, k);
	}
out:
	free(y0);
	free(y1);
	free(tg);
	return mask;
}

/* ---- jordan: running average ---- */

static const char *const JSETS[] = {"data.window=6", "train.batch_size=3", "model.0.hidden_size=4",
                                    "model.0.feedback=average", "model.0.decay=0.6", "model.0.learn_decay=true"};

static void jordan_average(void)
{
	th_case("jordan average: gradcheck (fixed, learned decay), teacher forcing");
	for (int learn = 0; learn < 2; learn++) {
		reel_model *m = open_model("configs/mackey-glass-jordan.json", JSETS, 5 + learn);
		if (!m)
			continue;
		reel_tensor *p = reel_param_get(m->ps, "jordan.decay_logit");
		CHECK(learn ? p && fabs((double)p->data[0] - log(0.6 / 0.4)) < 1e-6 : !p, "decay_logit %s",
		      p ? "present" : "absent");
		model_gradcheck(m, learn ? "learned decay" : "fixed decay");
		reel_batch b;
		reel_err e = {0};
		if (CHECK(reel_data_next(m->data, REEL_TRAIN, 3, &b, &e) == 1, "%s", e.msg)) {
			/* the target of step 0 enters a_0, which every later step sees (decay > 0) */
			CHECK(followers(m, &b, 1, 0) == 0x3e, "teacher forcing: steps following target 0: %#x, expected 0x3e",
			      followers(m, &b, 1, 0));
			CHECK(followers(m, &b, 0, 0) == 0, "free running followed a target");
		}
		reel_model_free(m);
	}
	/* the plain output feedback forgets target 0 after step 1 */
	reel_model *m = open_model("configs/mackey-glass-jordan.json", JSETS, 3);
	reel_batch b;
	reel_err e = {0};
	if (m && CHECK(reel_data_next(m->data, REEL_TRAIN, 3, &b, &e) == 1, "%s", e.msg))
		CHECK(followers(m, &b, 1, 0) == 0x2, "output feedback: steps following target 0: %#x, expected 0x2",
		      followers(m, &b, 1, 0));
	reel_model_free(m);
}

/* Loss and every gradient of m on its first training batch, teacher
 * forcing tf; returns the loss (NAN on failure), grads into g (n). */
static double loss_grads(reel_model *m, double tf, reel_real *g, size_t n)
{
	reel_batch b;
	reel_err e = {0};
	double loss = NAN;
	if (!CHECK(reel_data_next(m->data, REEL_TRAIN, 3, &b, &e) == 1, "%s", e.msg))
		return loss;
	reel_tape *t = reel_tape_new(0, 11);
	reel_params_zero_grad(m->ps);
	m->training = tf > 0;
	reel_tensor *l = reel_model_loss(t, m, &b, tf, 0, NULL);
	m->training = 0;
	if (CHECK(l && reel_backward(t, l) == REEL_OK, "%s", reel_tape_error(t))) {
		loss = l->data[0];
		size_t np;
		const reel_real *gr = reel_params_grads(m->ps, &np);
		if (CHECK(np == n, "%zu gradients, expected %zu", np, n))
			memcpy(g, gr, n * sizeof *g);
	}
	reel_tape_free(t);
	return loss;
}

/* decay 0: a_t = 0 a_{t-1} + 1 y_t is y_t, so the model is the "output"
 * one: the same parameters (no extra draw) and loss, bit for bit, free
 * running and teacher forced; the gradients to 1e-15 in the double
 * build, not bitwise: with "output" the product through W_yh is added
 * into y_t's gradient inside the matrix product (BLIS, beta 1), with
 * "average" it lands in a_t's and is added after, one rounding apart. */
static void jordan_decay_zero(void)
{
	th_case("jordan average: decay 0 equals output feedback");
	static const char *const out_sets[] = {"data.window=7", "train.batch_size=3", "model.0.hidden_size=5"};
	static const char *const avg_sets[] = {"data.window=7", "train.batch_size=3", "model.0.hidden_size=5",
	                                       "model.0.feedback=average", "model.0.decay=0"};
	reel_model *a = open_model("configs/mackey-glass-jordan.json", out_sets, 3);
	reel_model *b = open_model("configs/mackey-glass-jordan.json", avg_sets, 5);
	size_t na = 0, nb = 0;
	reel_real *ga = NULL, *gb = NULL;
	if (!a || !b)
		goto out;
	const reel_real *va = reel_params_values(a->ps, &na), *vb = reel_params_values(b->ps, &nb);
	if (!CHECK(na == nb && !memcmp(va, vb, na * sizeof *va), "the two models' parameters differ"))
		goto out;
	ga = malloc(na * sizeof *ga);
	gb = malloc(na * sizeof *gb);
	if (!CHECK(ga && gb, "out of memory"))
		goto out;
	for (int pass = 0; pass < 2; pass++) {
		double tf = pass ? 0.5 : 0; /* teacher forcing draws the same steps in both */
		reel_data_rewind(a->data, REEL_TRAIN);
		reel_data_rewind(b->data, REEL_TRAIN);
		double la = loss_grads(a, tf, ga, na), lb = loss_grads(b, tf, gb, na);
		CHECK(isfinite(la) && la == lb, "tf %g: loss %.17g (output) against %.17g (average, decay 0)", tf, la, lb);
		double da[2048], db[2048];
		size_t nc = na < 2048 ? na : 2048;
		for (size_t i = 0; i < nc; i++)
			da[i] = ga[i], db[i] = gb[i];
		CHECK(nc == na, "%zu parameters, more than the check holds", na);
#ifdef REEL_DOUBLE
		CHECK_CLOSE("gradients", da, db, nc, 1e-15, 1e-18);
#else
		CHECK_CLOSE("gradients", da, db, nc, 1e-6, 1e-9);
#endif
	}
out:
	free(ga);
	free(gb);
	reel_model_free(a);
	reel_model_free(b);
}

/* ---- narx ---- */

static void narx_layer(void)
{
	th_case("narx: gradcheck, delay lines, teacher forcing");
	const char *sets[] = {"data.window=7", "train.batch_size=3", "model.0.hidden_size=4", "model.0.input_delays=2",
	                      "model.0.output_delays=3"};
	reel_model *m = open_model("configs/mackey-glass-narx.json", sets, 5);
	reel_batch b;
	reel_err e = {0};
	if (m) {
		CHECK(reel_param_get(m->ps, "narx.yh.weight") && reel_param_get(m->ps, "narx.yh.weight")->shape[1] == 3,
		      "narx.yh.weight is not (H, 3)");
		model_gradcheck(m, "narx");
		if (CHECK(reel_data_next(m->data, REEL_TRAIN, 3, &b, &e) == 1, "%s", e.msg)) {
			/* target 0 sits in the output delay line of steps 1..3; free running ignores it */
			CHECK(followers(m, &b, 1, 0) == 0xe, "teacher forcing: steps following target 0: %#x, expected 0xe",
			      followers(m, &b, 1, 0));
			CHECK(followers(m, &b, 0, 0) == 0, "free running followed a target");
			/* free running: x_0 reaches every step through the outputs */
			CHECK(followers(m, &b, 0, 1) == 0x7f, "free running: steps following x_0: %#x, expected 0x7f",
			      followers(m, &b, 0, 1));
		}
	}
	reel_model_free(m);
	/* no output delays: a window of two inputs, x_0 reaches steps 0 and 1 only */
	sets[4] = "model.0.output_delays=0";
	m = open_model("configs/mackey-glass-narx.json", sets, 5);
	if (m) {
		CHECK(!reel_param_get(m->ps, "narx.yh.weight"), "narx.yh.weight exists without output delays");
		model_gradcheck(m, "narx, no output delays");
		if (CHECK(reel_data_next(m->data, REEL_TRAIN, 3, &b, &e) == 1, "%s", e.msg))
			CHECK(followers(m, &b, 0, 1) == 0x3, "steps following x_0: %#x, expected 0x3", followers(m, &b, 0, 1));
	}
	reel_model_free(m);
}

/* ---- free-running forecasts ---- */

static int write_tmp(const char *text, char *path)
{
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* A per-step linear model y = 0.5 x + 0.1 fed its own outputs: forecast
 * h is that map iterated h times from the last true input, whatever the
 * later true inputs; and the errors of models that cannot feed back. */
static void forecast(void)
{
	th_case("forecast: free running feeds the outputs back");
	enum { T = 8, H = 3 };
	char path[] = "/tmp/reel-forecast-XXXXXX";
	if (!CHECK(write_tmp("{\"format\": 1, \"task\": \"regress\", \"data\": {\"source\": \"mackey_glass\", \"window\": 8,"
	                     " \"per_step\": true, \"valid_size\": 20}, \"model\": [{\"type\": \"linear\", \"name\": \"lin\"}],"
	                     " \"train\": {\"batch_size\": 8}}",
	                     path) == 0,
	           "%s", path))
		return;
	reel_model *m = open_model(path, NULL, 0);
	reel_eval_report r = {0};
	reel_err e = {0};
	if (!m)
		goto out;
	reel_param_fill(reel_param_get(m->ps, "lin.weight"), (reel_real)0.5);
	reel_param_fill(reel_param_get(m->ps, "lin.bias"), (reel_real)0.1);
	if (!CHECK(reel_infer_forecast(m, REEL_VALID, H, &r, &e) == REEL_OK, "%s", e.msg))
		goto out;
	double want[H] = {0};
	long n = 0;
	reel_batch b;
	reel_data_rewind(m->data, REEL_VALID);
	while (reel_data_next(m->data, REEL_VALID, 8, &b, &e) == 1) {
		for (int k = 0; k < b.B; k++, n++) {
			double f = b.inputs[(size_t)(T - H) * b.B + k]; /* the last true input */
			for (int h = 0; h < H; h++) {
				f = (double)(reel_real)((reel_real)0.5 * (reel_real)f + (reel_real)0.1);
				double d = f - b.targets[(size_t)(T - H + h) * b.B + k];
				want[h] += d * d;
			}
		}
	}
	reel_data_rewind(m->data, REEL_VALID);
	for (int h = 0; h < H; h++)
		want[h] /= (double)n;
	CHECK(r.horizon == H && r.warmup == T - H + 1 && r.forecast_windows == 20 && n == 20, "horizon %d warmup %d windows %ld",
	      r.horizon, r.warmup, r.forecast_windows);
	CHECK_CLOSE("mse by steps ahead", r.forecast_mse, want, H, 1e-5, 1e-9);
	CHECK(fabs(r.forecast_mean - (want[0] + want[1] + want[2]) / 3) < 1e-6, "mean %g", r.forecast_mean);
	CHECK(reel_infer_forecast(m, REEL_VALID, T + 1, &r, &e) == REEL_ERR_ARG && strstr(e.msg, "must be in [1, 8] (the window), found 9"),
	      "%s", e.msg);
	reel_model_free(m);
	m = open_model("configs/mackey-glass.json", NULL, 0); /* last-step targets */
	if (m)
		CHECK(reel_infer_forecast(m, REEL_VALID, 2, &r, &e) == REEL_ERR_ARG && strstr(e.msg, "per_step true"), "%s",
		      e.msg);
out:
	reel_eval_report_deinit(&r);
	reel_model_free(m);
	unlink(path);
}

void suite_narx(void)
{
	jordan_average();
	jordan_decay_zero();
	narx_layer();
	forecast();
}
