/* The rest of issue 18: the mixture-density NLL against a PyTorch
 * composition of the same likelihood (test/fixtures/mdn.safetensors,
 * written by test/gen_mdn.py), mixture sampling, the bimodal generator,
 * and randomized truncated BPTT (Tallec & Ollivier 2017).  Gradient checks
 * of the ops themselves are in test_gradcheck_ops.c with every op's. */
#include "data.h"
#include "model.h"
#include "gradcheck.h"
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void suite_classic2(void)
{
	bimodal_data();
	mdn_model();
	mdn_golden();
	mdn_errors();
	mdn_sampling();
}
