/* The rest of issue 18: the mixture-density NLL against a PyTorch
 * composition of the same likelihood (test/fixtures/mdn.safetensors,
 * written by test/gen_mdn.py), mixture sampling, the bimodal generator,
 * and randomized truncated BPTT (Tallec & Ollivier 2017).  Gradient checks
 * of the ops themselves are in test_gradcheck_ops.c with every op's. */
#include "data.h"
#include "model.h"
#include "gradcheck.h"
#include "harness.h"
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* reel_mdn_nll on PyTorch's cases: the loss and both gradients (float
 * build about 1e-5 relative, double 1e-10). */
static void mdn_golden(void)
{
	static const char *const cases[] = {"k1_d1", "k3_d1", "k5_d2", "k2_d3_far", "k8_d1_many"};
	reel_st_file *f = NULL;
	reel_err e = {0};
	th_case("mdn golden: fixture file");
	if (!CHECK(reel_st_read("test/fixtures/mdn.safetensors", &f, &e) == REEL_OK, "%s", e.msg))
		return;
	static char names[sizeof cases / sizeof cases[0]][64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *c = cases[i];
		char n[96];
		snprintf(names[i], sizeof names[i], "mdn golden: %s", c);
		th_case(names[i]);
		if (!th_selected())
			continue;
		reel_tape *t = reel_tape_new(0, 1);
#define FX(w) (snprintf(n, sizeof n, "%s.%s", c, w), reel_st_find(f, n))
		reel_tensor *p = fx_leaf(t, FX("params"), REEL_GRAD), *y = fx_leaf(t, FX("target"), REEL_GRAD);
		reel_tensor *m = fx_leaf(t, FX("mask"), REEL_NOGRAD);
		int32_t k = 0;
		reel_st_to_i32(FX("k"), &k);
		reel_tensor *l = reel_mdn_nll(t, p, y, m, k);
		if (CHECK(l, "forward: %s", reel_tape_error(t))) {
			FX_COMPARE("loss", l->data, 1, FX("loss"));
			CHECK(reel_backward(t, l) == REEL_OK, "backward: %s", reel_tape_error(t));
			FX_COMPARE("grad params", reel_tensor_grad(p), p->size, FX("grad_params"));
			FX_COMPARE("grad target", reel_tensor_grad(y), y->size, FX("grad_target"));
		}
#undef FX
		reel_tape_free(t);
	}
	reel_st_free(f);
}

/* Shape errors name the op and the shapes. */
static void mdn_errors(void)
{
	th_case("mdn errors");
	reel_tape *t = reel_tape_new(0, 1);
	reel_tensor *p = reel_tensor_new2(t, 4, 8, REEL_GRAD), *y = reel_tensor_new2(t, 4, 1, REEL_NOGRAD);
	CHECK(!reel_mdn_nll(t, p, y, NULL, 3) && strstr(reel_tape_error(t), "expected K (1 + 2 D) = 9 columns"), "%s",
	      reel_tape_error(t));
	reel_tape_free(t);
	t = reel_tape_new(0, 1);
	CHECK(!reel_mdn_nll(t, reel_tensor_new2(t, 4, 9, REEL_GRAD), reel_tensor_new2(t, 4, 1, REEL_NOGRAD), NULL, 0) &&
	          strstr(reel_tape_error(t), "K is 0"),
	      "%s", reel_tape_error(t));
	reel_tape_free(t);
}

/* Sampling: 200000 draws from pi = (0.25, 0.75), mu = (-2, 1), sigma =
 * (0.5, 0.1): the share below -0.5 is 0.25 and the mean and variance are
 * the mixture's, within 5 standard errors; reel_mdn_mean is exact. */
static void mdn_sampling(void)
{
	th_case("mdn sampling and mixture mean");
	reel_real p[6] = {(reel_real)log(0.25), (reel_real)log(0.75), -2, 1, (reel_real)log(0.5), (reel_real)log(0.1)};
	reel_rng r;
	reel_rng_seed(&r, 7);
	int n = 200000, low = 0;
	double s = 0, s2 = 0;
	for (int i = 0; i < n; i++) {
		reel_real v;
		reel_mdn_sample(p, 2, 1, &r, 1, &v);
		low += v < -0.5;
		s += v;
		s2 += (double)v * v;
	}
	double mean = s / n, var = s2 / n - mean * mean;
	double mu = 0.25 * -2 + 0.75 * 1, ex2 = 0.25 * (4 + 0.25) + 0.75 * (1 + 0.01), v0 = ex2 - mu * mu;
	CHECK(fabs((double)low / n - 0.25) < 5 * sqrt(0.25 * 0.75 / n), "share of the first component %g", (double)low / n);
	CHECK(fabs(mean - mu) < 5 * sqrt(v0 / n), "mean %g, expected %g", mean, mu);
	CHECK(fabs(var - v0) < 0.03 * v0, "variance %g, expected %g", var, v0);
	reel_real m;
	reel_mdn_mean(p, 2, 1, &m);
	CHECK(fabs((double)m - mu) < 1e-6, "reel_mdn_mean %g, expected %g", (double)m, mu);
}

/* The bimodal generator: |y - s (0.7 + 0.3 x)| is noise for one sign s,
 * both signs occur about equally, and each target has its input's step. */
static void bimodal_data(void)
{
	th_case("mdn data: bimodal batches");
	reel_data_opts o = reel_data_defaults();
	o.source = "bimodal";
	o.task = REEL_TASK_REGRESS;
	o.window = 30;
	o.per_step = 1;
	o.noise = 0.05;
	o.valid_size = o.test_size = 8;
	reel_err e = {0};
	reel_data *d = reel_data_open(&o, &e);
	if (!CHECK(d, "%s", e.msg))
		return;
	reel_batch b;
	if (CHECK(reel_data_next(d, REEL_TRAIN, 16, &b, &e) == 1, "%s", e.msg)) {
		int pos = 0, far = 0, n = b.T * b.B;
		for (int i = 0; i < n; i++) {
			double x = b.inputs[i], y = b.targets[i], m = 0.7 + 0.3 * x;
			pos += y > 0;
			far += fabs(fabs(y) - m) > 5 * 0.05;
		}
		CHECK(b.T == 30 && b.O == 1 && b.F == 1, "T %d O %d F %d", b.T, b.O, b.F);
		CHECK(far == 0, "%d of %d targets are not at +-(0.7 + 0.3 x)", far, n);
		CHECK(fabs(pos - n / 2.0) < 4 * sqrt(n / 4.0), "%d of %d positive", pos, n);
	}
	reel_data_free(d);
}

/* A model ending in an mdn layer is found as one, and its whole-model
 * gradient matches finite differences (double build).  configs/
 * mdn-bimodal.json itself is trained a few steps with every config. */
static void mdn_model(void)
{
	th_case("mdn model: gradcheck and training");
	const char *sets[] = {"data.window=5", "train.batch_size=3", "model.0.hidden_size=4", "model.1.components=2"};
	reel_model *m = NULL;
	char *errs = NULL;
	reel_err e = {0};
	if (!CHECK(reel_model_new("configs/mdn-bimodal.json", sets, 4, &m, &errs, &e) == REEL_OK, "%s %s", e.msg,
	           errs ? errs : ""))
		goto out;
	CHECK(reel_model_mdn_components(m) == 2, "K %d", reel_model_mdn_components(m));
#ifdef REEL_DOUBLE
	int failed = -1;
	FILE *null = fopen("/dev/null", "w");
	CHECK(reel_model_gradcheck(m, 6, 1e-5, 1e-7, null, &failed, &e) == REEL_OK && failed == 0, "%d failed: %s", failed,
	      e.msg);
	if (null)
		fclose(null);
#endif
out:
	reel_model_free(m);
	free(errs);
}

/* ---- randomized truncated BPTT ---- */

/* The gradient of sum(y * C) over a 2-layer LSTM run of T steps with the
 * link weights link (NULL: full BPTT) into g (n). */
static int links_grad(const reel_rnn *r, reel_params *ps, const reel_real *x, const reel_real *C, int T, int B, int I,
                      const reel_real *link, double *g, size_t n)
{
	reel_params_zero_grad(ps);
	reel_tape *t = reel_tape_new(0, 1);
	reel_rnn_out o;
	reel_tensor *xt = reel_tensor_from(t, 3, (int[]){T, B, I}, x, REEL_NOGRAD);
	int ok = reel_rnn_forward_links(t, r, xt, NULL, NULL, NULL, link, &o) == REEL_OK;
	reel_tensor *ct = ok ? reel_tensor_from(t, 3, o.y->shape, C, REEL_NOGRAD) : NULL;
	ok = ok && reel_backward(t, reel_sum(t, reel_mul(t, o.y, ct))) == REEL_OK;
	size_t m;
	const reel_real *gr = reel_params_grads(ps, &m);
	for (size_t i = 0; i < n && i < m; i++)
		g[i] = gr[i];
	reel_tape_free(t);
	return ok;
}

/* Tallec & Ollivier's unbiasedness, on a small case: over 3000 draws of
 * random truncation (min_length 2, mean_length 4, on 10 steps of a 2-layer
 * LSTM 3 with a loss at every step), every gradient element's mean is the
 * full BPTT gradient within 4.5 standard errors of the mean.  The same
 * cuts without the 1 / (1 - p) weights are biased: some element is more
 * than 8 standard errors off (so the test can see a bias).  Link weights
 * of 1 are full BPTT exactly. */
static void bptt_unbiased(void)
{
	th_case("randomized truncation: unbiased gradient");
	enum { T = 10, B = 2, I = 2, H = 3, N = 3000 };
	reel_params *ps = reel_params_new();
	reel_rng rng;
	reel_rng_seed(&rng, 2017);
	reel_rnn r;
	reel_err e = {0};
	reel_rnn_opts o = {.cell = reel_cell_find("lstm"), .input_size = I, .hidden_size = H, .num_layers = 2};
	if (!CHECK(reel_rnn_init(&r, ps, "r.", &o, &rng, &e) == REEL_OK, "%s", e.msg)) {
		reel_params_free(ps);
		return;
	}
	/* larger recurrent weights than the init, so that gradients travel far */
	size_t n;
	reel_real *w = reel_params_values(ps, &n);
	for (size_t i = 0; i < n; i++)
		w[i] *= 3;
	reel_real x[T * B * I], C[T * B * H], link[T], ones[T];
	for (int i = 0; i < T * B * I; i++)
		x[i] = (reel_real)reel_rng_range(&rng, -1, 1);
	for (int i = 0; i < T * B * H; i++)
		C[i] = (reel_real)reel_rng_range(&rng, -1, 1);
	for (int s = 0; s < T; s++)
		ones[s] = 1;
	double *full = calloc(n, sizeof *full), *g = calloc(n, sizeof *g), *s1 = calloc(n, sizeof *s1),
	       *s2 = calloc(n, sizeof *s2), *b1 = calloc(n, sizeof *b1), *b2 = calloc(n, sizeof *b2);
	if (!full || !g || !s1 || !s2 || !b1 || !b2)
		goto out;
	int ok = links_grad(&r, ps, x, C, T, B, I, NULL, full, n);
	ok &= links_grad(&r, ps, x, C, T, B, I, ones, g, n);
	int same = 1;
	for (size_t i = 0; i < n; i++)
		same &= g[i] == full[i];
	CHECK(ok && same, "link weights of 1 differ from full BPTT");
	long cuts = 0;
	for (int k = 0; k < N && ok; k++) {
		cuts += reel_bptt_draw_links(&rng, T, 2, 4, link);
		ok &= links_grad(&r, ps, x, C, T, B, I, link, g, n);
		for (size_t i = 0; i < n; i++) {
			s1[i] += g[i];
			s2[i] += g[i] * g[i];
		}
		for (int s = 0; s < T; s++) /* the same cuts, kept links unweighted */
			link[s] = link[s] != 0;
		ok &= links_grad(&r, ps, x, C, T, B, I, link, g, n);
		for (size_t i = 0; i < n; i++) {
			b1[i] += g[i];
			b2[i] += g[i] * g[i];
		}
	}
	CHECK(ok, "forward/backward failed");
	double worst = 0, worst_biased = 0;
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		double m = s1[i] / N, se = sqrt(fmax(s2[i] / N - m * m, 0) / (N - 1));
		double z = fabs(m - full[i]) / (se + 1e-9 * (fabs(full[i]) + 1e-6));
		if (z > worst) {
			worst = z;
			at = i;
		}
		double mb = b1[i] / N, seb = sqrt(fmax(b2[i] / N - mb * mb, 0) / (N - 1));
		double zb = fabs(mb - full[i]) / (seb + 1e-9 * (fabs(full[i]) + 1e-6));
		if (zb > worst_biased)
			worst_biased = zb;
	}
	/* the cuts: lengths 2 + Geometric(1/3) on 10 steps, about 2 a draw */
	CHECK(cuts > N && cuts < 4 * N, "%ld cuts in %d draws", cuts, N);
	CHECK(worst < 4.5, "element %zu: mean of the randomized gradients %g standard errors from the full gradient %g",
	      at, worst, full[at]);
	CHECK(worst_biased > 8, "unweighted truncation is only %g standard errors off: the test cannot see a bias",
	      worst_biased);
out:
	free(full), free(g), free(s1), free(s2), free(b1), free(b2);
	reel_params_free(ps);
}

/* Train a small character LM on a corpus in dir with bptt (a JSON
 * object's body) for 12 updates; a copy of its parameters (caller frees),
 * NULL on failure. */
static reel_real *train_lm(const char *dir, const char *bptt, size_t *n)
{
	char cfg[512], path[600], run[600];
	snprintf(cfg, sizeof cfg,
	         "{\"format\": 1, \"task\": \"lm\","
	         " \"data\": {\"source\": \"text\", \"path\": \"corpus.txt\", \"valid_frac\": 0.1, \"test_frac\": 0.1},"
	         " \"model\": [{\"type\": \"embedding\", \"embedding_dim\": 8}, {\"type\": \"lstm\", \"hidden_size\": 16},"
	         "  {\"type\": \"dropout\", \"p\": 0.2}, {\"type\": \"linear\"}],"
	         " \"train\": {\"steps\": 12, \"batch_size\": 4, \"log_every\": 100, \"valid_every\": 100,"
	         "  \"bptt\": {%s}, \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01}}}",
	         bptt);
	snprintf(path, sizeof path, "%s/lm.json", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(cfg, f);
	fclose(f);
	snprintf(run, sizeof run, "%s/run", dir);
	reel_model *m = NULL;
	char *errors = NULL;
	reel_err err = {0};
	reel_real *out = NULL;
	if (reel_model_new(path, NULL, 0, &m, &errors, &err) != REEL_OK) {
		printf("  model: %s\n%s", err.msg, errors ? errors : "");
		goto done;
	}
	reel_train_opts o = {.dir = run, .force = 1};
	reel_train_result res;
	if (reel_train(m, &o, &res, &err) != REEL_OK) {
		printf("  train: %s\n", err.msg);
		goto done;
	}
	const reel_real *v = reel_params_values(m->ps, n);
	out = malloc(*n * sizeof *out);
	if (out)
		memcpy(out, v, *n * sizeof *out);
done:
	free(errors);
	reel_model_free(m);
	return out;
}

/* train.bptt: k1 = k2 = 12 is today's carried-state training; random
 * truncation whose min_length (12) leaves no link of a 12-step chunk to
 * cut gives bitwise the same parameters; with cuts (min_length 3, mean 6)
 * it trains to other ones.  And the config's checks. */
static void bptt_random_training(void)
{
	th_case("randomized truncation: k1 = k2 training");
	char dir[] = "/tmp/reel-bptt-XXXXXX";
	if (!CHECK(mkdtemp(dir), "mkdtemp"))
		return;
	char path[600];
	snprintf(path, sizeof path, "%s/corpus.txt", dir);
	FILE *f = fopen(path, "w");
	if (!CHECK(f, "%s", path))
		return;
	for (int i = 0; i < 60; i++)
		fprintf(f, "the quick brown fox %d jumps over the lazy dog; a stitch in time saves nine.\n", i % 7);
	fclose(f);
	size_t na = 0, nb = 0, nc = 0;
	reel_real *a = train_lm(dir, "\"k1\": 12, \"k2\": 12", &na);
	reel_real *b = train_lm(dir, "\"k1\": 12, \"truncation\": \"random\", \"min_length\": 12, \"mean_length\": 20", &nb);
	reel_real *c = train_lm(dir, "\"k1\": 12, \"truncation\": \"random\", \"min_length\": 3, \"mean_length\": 6", &nc);
	if (CHECK(a && b && c && na == nb && na == nc, "training failed")) {
		CHECK(!memcmp(a, b, na * sizeof *a), "random truncation without cuts differs from k1 = k2");
		CHECK(memcmp(a, c, na * sizeof *a), "random truncation with cuts trained the same parameters");
	}
	free(a), free(b), free(c);
	th_case("randomized truncation: config errors");
	static const char *const bad[][2] = {
		{"\"k1\": 12, \"truncation\": \"random\", \"min_length\": 4, \"mean_length\": 4", "expected more than min_length (4)"},
		{"\"k1\": 12, \"k2\": 6, \"truncation\": \"random\", \"mean_length\": 4", "random truncation backpropagates through the whole chunk"},
	};
	for (int i = 0; i < 2; i++) {
		char cfg[512];
		snprintf(cfg, sizeof cfg,
		         "{\"format\": 1, \"task\": \"lm\", \"data\": {\"source\": \"text\", \"path\": \"corpus.txt\"},"
		         " \"model\": [{\"type\": \"embedding\", \"embedding_dim\": 8}, {\"type\": \"lstm\", \"hidden_size\": 4},"
		         " {\"type\": \"linear\"}], \"train\": {\"bptt\": {%s}}}",
		         bad[i][0]);
		snprintf(path, sizeof path, "%s/bad.json", dir);
		f = fopen(path, "w");
		if (!f)
			continue;
		fputs(cfg, f);
		fclose(f);
		reel_model *m = NULL;
		char *errors = NULL;
		reel_err e = {0};
		CHECK(reel_model_new(path, NULL, 0, &m, &errors, &e) == REEL_ERR_CONFIG && errors && strstr(errors, bad[i][1]),
		      "case %d: %s", i, errors ? errors : e.msg);
		reel_model_free(m);
		free(errors);
	}
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("  could not remove %s\n", dir);
}

void suite_classic2(void)
{
	bptt_random_training();
	bptt_unbiased();
	bimodal_data();
	mdn_model();
	mdn_golden();
	mdn_errors();
	mdn_sampling();
}
