/* Forward values and input gradients of the ops that PyTorch also has,
 * against test/fixtures/ops.safetensors (written by test/gen_ops.py in
 * float64).  Float build: about 1e-5 relative; double build: 1e-10. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const reel_st_file *FX;

/* Host copy of a fixture tensor; NULL if absent. */
static const reel_st_tensor *fx(const char *cs, const char *what)
{
	char name[96];
	snprintf(name, sizeof name, "%s.%s", cs, what);
	return reel_st_find(FX, name);
}

static int32_t *ints(const char *cs, const char *what)
{
	const reel_st_tensor *s = fx(cs, what);
	int32_t *v = malloc((s ? s->count : 1) * sizeof *v);
	if (s)
		reel_st_to_i32(s, v);
	return v;
}

typedef reel_tensor *(*golden_fn)(reel_tape *t, reel_tensor **x, const char *cs);

static reel_tensor *g_matmul(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_matmul(t, x[0], x[1], 0); }
static reel_tensor *g_matmul_ta(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_matmul(t, x[0], x[1], REEL_TRANS_A); }
static reel_tensor *g_matmul_tb(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_matmul(t, x[0], x[1], REEL_TRANS_B); }
static reel_tensor *g_addmm(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_addmm(t, x[0], x[1], x[2], REEL_TRANS_B); }
static reel_tensor *g_bmm(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_bmm(t, x[0], x[1], REEL_TRANS_B); }
static reel_tensor *g_add(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_add(t, x[0], x[1]); }
static reel_tensor *g_sub(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_sub(t, x[0], x[1]); }
static reel_tensor *g_mul(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_mul(t, x[0], x[1]); }
static reel_tensor *g_scale(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_scale(t, x[0], (reel_real)-1.5); }
static reel_tensor *g_add_scalar(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_add_scalar(t, x[0], (reel_real)0.25); }
static reel_tensor *g_one_minus(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_one_minus(t, x[0]); }
static reel_tensor *g_tanh(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_tanh(t, x[0]); }
static reel_tensor *g_sigmoid(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_sigmoid(t, x[0]); }
static reel_tensor *g_relu(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_relu(t, x[0]); }
static reel_tensor *g_exp(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_exp(t, x[0]); }
static reel_tensor *g_log(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_log(t, x[0]); }
static reel_tensor *g_softmax(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_softmax(t, x[0]); }
static reel_tensor *g_log_softmax(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_log_softmax(t, x[0]); }
static reel_tensor *g_concat(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_concat(t, x, 2, 1); }
static reel_tensor *g_slice(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_slice(t, x[0], 1, 2, 3); }
static reel_tensor *g_stack(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_stack(t, x, 2); }
static reel_tensor *g_transpose(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_transpose(t, x[0]); }
static reel_tensor *g_swapaxes(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_swapaxes(t, x[0], 0, 1); }
static reel_tensor *g_sum(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_sum(t, x[0]); }
static reel_tensor *g_mean(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_mean(t, x[0]); }
static reel_tensor *g_sum_axis(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_sum_axis(t, x[0], 0); }
static reel_tensor *g_mean_axis(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_mean_axis(t, x[0], 1); }
static reel_tensor *g_mse(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_mse(t, x[0], x[1]); }

static reel_tensor *g_div(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_div(t, x[0], x[1]); }
static reel_tensor *g_sqrt(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_sqrt(t, x[0]); }
static reel_tensor *g_rsqrt(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_rsqrt(t, x[0]); }
static reel_tensor *g_abs(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_abs(t, x[0]); }
static reel_tensor *g_max_axis(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_max_axis(t, x[0], 0); }
static reel_tensor *g_max_axis_last(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_max_axis(t, x[0], -1); }
static reel_tensor *g_clamp(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_clamp(t, x[0], (reel_real)-0.5, (reel_real)0.5); }
static reel_tensor *g_clamp_max(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_clamp(t, x[0], (reel_real)-INFINITY, (reel_real)0.25); }
/* x[1], x[2] are NULL when the case has no gamma or beta */
static reel_tensor *g_layer_norm(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_layer_norm(t, x[0], x[1], x[2], (reel_real)1e-5); }
static reel_tensor *g_layer_norm_eps01(reel_tape *t, reel_tensor **x, const char *c) { (void)c; return reel_layer_norm(t, x[0], x[1], x[2], (reel_real)0.1); }

/* the exponent is the fixture's <case>.p */
static reel_tensor *g_pow(reel_tape *t, reel_tensor **x, const char *c)
{
	const reel_st_tensor *s = fx(c, "p");
	double p = NAN;
	if (s && s->count == 1)
		reel_st_to_double(s, &p);
	return reel_pow(t, x[0], (reel_real)p);
}

static reel_tensor *g_gather(reel_tape *t, reel_tensor **x, const char *c)
{
	int32_t *ids = ints(c, "ids");
	reel_tensor *y = reel_gather(t, x[0], ids, (int)fx(c, "ids")->count);
	free(ids);
	return y;
}

static reel_tensor *g_ce(reel_tape *t, reel_tensor **x, const char *c)
{
	int32_t *tg = ints(c, "targets");
	reel_tensor *y = reel_cross_entropy(t, x[0], tg, NULL, 1);
	free(tg);
	return y;
}

static reel_tensor *g_ce_mask(reel_tape *t, reel_tensor **x, const char *c)
{
	int32_t *tg = ints(c, "targets");
	reel_tensor *y = reel_cross_entropy(t, x[0], tg, fx_leaf(t, fx(c, "mask"), REEL_NOGRAD), REEL_NO_IGNORE);
	free(tg);
	return y;
}

static reel_tensor *g_blend(reel_tape *t, reel_tensor **x, const char *c)
{
	return reel_blend(t, fx_leaf(t, fx(c, "mask"), REEL_NOGRAD), x[0], x[1]);
}

static const struct {
	const char *name;
	golden_fn f;
} cases[] = {
	{"matmul", g_matmul}, {"matmul_ta", g_matmul_ta}, {"matmul_tb", g_matmul_tb},
	{"matmul_row", g_matmul_tb}, {"addmm", g_addmm}, {"bmm", g_bmm}, {"add_bias", g_add}, {"sub", g_sub},
	{"mul_col", g_mul}, {"scale", g_scale}, {"add_scalar", g_add_scalar},
	{"one_minus", g_one_minus}, {"tanh", g_tanh}, {"sigmoid", g_sigmoid}, {"relu", g_relu},
	{"exp", g_exp}, {"log", g_log}, {"softmax", g_softmax}, {"log_softmax", g_log_softmax},
	{"concat", g_concat}, {"slice", g_slice}, {"stack", g_stack}, {"transpose", g_transpose},
	{"swapaxes", g_swapaxes},
	{"sum", g_sum}, {"mean", g_mean}, {"sum_axis", g_sum_axis}, {"mean_axis", g_mean_axis},
	{"gather", g_gather}, {"cross_entropy", g_ce}, {"cross_entropy_mask", g_ce_mask},
	{"mse", g_mse}, {"blend", g_blend},
	{"log_softmax_3d_wide", g_log_softmax}, {"div", g_div}, {"div_row", g_div}, {"div_col_first", g_div},
	{"sqrt", g_sqrt}, {"rsqrt", g_rsqrt}, {"pow_2_5", g_pow}, {"pow_m1_5", g_pow}, {"pow_3", g_pow},
	{"pow_2", g_pow}, {"pow_0", g_pow}, {"abs", g_abs}, {"clamp", g_clamp}, {"clamp_max", g_clamp_max},
	{"max_axis", g_max_axis}, {"max_axis_last", g_max_axis_last},
	{"layer_norm", g_layer_norm}, {"layer_norm_plain", g_layer_norm}, {"layer_norm_gamma", g_layer_norm_eps01},
};

void suite_golden_ops(void)
{
	th_case("golden ops: fixture file");
	reel_st_file *f = NULL;
	reel_err e = {0};
	if (!CHECK(reel_st_read("test/fixtures/ops.safetensors", &f, &e) == REEL_OK, "%s", e.msg))
		return;
	FX = f;
	static char names[sizeof cases / sizeof cases[0]][64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *c = cases[i].name;
		snprintf(names[i], sizeof names[i], "golden: %s", c);
		th_case(names[i]);
		if (!th_selected())
			continue;
		reel_tape *t = reel_tape_new(0, 1);
		reel_tensor *x[4] = {0};
		int nin = 0;
		for (; nin < 4; nin++) {
			char w[16];
			snprintf(w, sizeof w, "in%d", nin);
			const reel_st_tensor *s = fx(c, w);
			if (!s)
				break;
			snprintf(w, sizeof w, "grad%d", nin);
			x[nin] = fx_leaf(t, s, fx(c, w) ? REEL_GRAD : REEL_NOGRAD);
		}
		reel_tensor *y = cases[i].f(t, x, c);
		if (CHECK(y && nin > 0, "%s: forward: %s", c, reel_tape_error(t))) {
			FX_COMPARE("output", y->data, y->size, fx(c, "out"));
			const reel_st_tensor *sd = fx(c, "seed");
			reel_real *seed = malloc(y->size * sizeof *seed);
			reel_st_to_real(sd, seed);
			CHECK(reel_backward_seed(t, y, seed) == REEL_OK, "backward: %s", reel_tape_error(t));
			free(seed);
			for (int k = 0; k < nin; k++) {
				char w[16];
				snprintf(w, sizeof w, "grad%d", k);
				if (fx(c, w))
					FX_COMPARE(w, reel_tensor_grad(x[k]), x[k]->size, fx(c, w));
			}
		}
		reel_tape_free(t);
	}
	reel_st_free(f);
}
