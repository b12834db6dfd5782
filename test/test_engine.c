/* Engine mechanics: arena reuse, views, detach, accumulation, the parameter
 * store, RNG reproducibility. */
#include "harness.h"

#include "../engine/fastmath.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One fixed-shape "training step": a small tanh RNN over T steps. */
static reel_tensor *toy_step(reel_tape *t, reel_tensor *W, reel_tensor *U, reel_tensor *x_all)
{
	int T = x_all->shape[0];
	reel_tensor *h = reel_tensor_new2(t, 2, U->shape[0], REEL_NOGRAD);
	reel_tensor *xp = reel_matmul(t, reel_reshape2(t, x_all, -1, x_all->shape[2]), W, REEL_TRANS_B);
	for (int s = 0; s < T; s++)
		h = reel_tanh(t, reel_add(t, reel_rows(t, xp, 2 * s, 2), reel_matmul(t, h, U, REEL_TRANS_B)));
	return reel_mean(t, reel_mul(t, h, h));
}

static void test_arena_steady_state(void)
{
	th_case("arena: no malloc after the first step of a fixed-shape loop");
	reel_params *ps = reel_params_new();
	reel_tensor *W = reel_param_new(ps, "W", 2, (int[]){8, 3});
	reel_tensor *U = reel_param_new(ps, "U", 2, (int[]){8, 8});
	reel_rng r;
	reel_rng_seed(&r, 1);
	reel_param_uniform(W, &r, -0.5, 0.5);
	reel_param_uniform(U, &r, -0.5, 0.5);
	/* a deliberately tiny initial arena so the first step must grow it */
	reel_tape *t = reel_tape_new(256, 1);
	reel_real x[20 * 2 * 3];
	for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
		x[i] = (reel_real)reel_rng_range(&r, -1, 1);
	size_t after_first = 0;
	for (int step = 0; step < 6; step++) {
		reel_tensor *xa = reel_tensor_from(t, 3, (int[]){20, 2, 3}, x, REEL_NOGRAD);
		reel_tensor *loss = toy_step(t, W, U, xa);
		CHECK(reel_backward(t, loss) == REEL_OK, "backward: %s", reel_tape_error(t));
		reel_tape_reset(t);
		reel_tape_stats s = reel_tape_get_stats(t);
		if (step == 0) {
			after_first = s.chunk_allocs;
			CHECK(after_first > 1, "the tiny arena should have grown (allocs %zu)", after_first);
		} else {
			CHECK(s.chunk_allocs == after_first, "step %d allocated: %zu chunk mallocs, %zu after step 1",
			      step, s.chunk_allocs, after_first);
		}
	}
	reel_tape_stats s = reel_tape_get_stats(t);
	CHECK(s.arena_capacity >= s.arena_peak, "capacity %zu < peak %zu", s.arena_capacity, s.arena_peak);
	reel_tape_free(t);
	reel_params_free(ps);
}

static void test_views_share(void)
{
	th_case("views: rows and reshape share data and gradient");
	reel_tape *t = reel_tape_new(0, 1);
	reel_real v[12];
	for (int i = 0; i < 12; i++)
		v[i] = (reel_real)i;
	reel_tensor *x = reel_tensor_from(t, 3, (int[]){3, 2, 2}, v, REEL_GRAD);
	reel_tensor *r = reel_rows(t, x, 1, 1);
	reel_tensor *q = reel_reshape2(t, x, 6, 2);
	CHECK(r->data == x->data + 4, "row view points into x");
	CHECK(q->data == x->data && q->shape[0] == 6, "reshape is a view");
	reel_tensor *sl = reel_slice(t, reel_rows(t, x, 2, 1), 2, 1, 1); /* (1, 2, 2) -> (1, 2, 1): strided, a copy */
	reel_tensor *sv = reel_slice(t, reel_reshape2(t, x, 1, 12), 1, 4, 4); /* one row: a view */
	CHECK(sl && sl->base == sl && sv && sv->data == x->data + 4 && sv->base == x, "slice copies or views as documented");
	CHECK(reel_tape_get_stats(t).nodes == 1, "views record no node (%zu nodes)", reel_tape_get_stats(t).nodes);
	reel_tensor *y = reel_add(t, reel_sum(t, r), reel_sum(t, reel_scale(t, q, 2)));
	CHECK(reel_backward(t, y) == REEL_OK, "backward");
	const reel_real *g = reel_tensor_grad(x);
	for (int i = 0; i < 12; i++)
		CHECK(g[i] == ((i >= 4 && i < 8) ? 3 : 2), "grad[%d] = %g", i, (double)g[i]);
	CHECK(reel_tensor_grad(r) == g + 4, "the view's gradient aliases its base's");
	reel_tape_free(t);
}

static void test_detach(void)
{
	th_case("detach stops gradients and shares data");
	reel_tape *t = reel_tape_new(0, 1);
	reel_real v[3] = {1, 2, 3};
	reel_tensor *x = reel_tensor_from(t, 1, (int[]){3}, v, REEL_GRAD);
	reel_tensor *h = reel_scale(t, x, 2);
	reel_tensor *d = reel_detach(t, h);
	CHECK(d->data == h->data && !d->requires_grad, "detached shares data, needs no grad");
	reel_tensor *y = reel_sum(t, reel_add(t, reel_mul(t, d, x), h));
	CHECK(reel_backward(t, y) == REEL_OK, "backward");
	/* y = sum(stop(2x) * x + 2x): dy/dx = 2x + 2 */
	const reel_real *g = reel_tensor_grad(x);
	for (int i = 0; i < 3; i++)
		CHECK(g[i] == 2 * v[i] + 2, "grad[%d] = %g", i, (double)g[i]);
	reel_tape_free(t);
}

static void test_param_accumulate(void)
{
	th_case("params: gradients accumulate across backward calls until zeroed");
	reel_params *ps = reel_params_new();
	reel_tensor *w = reel_param_new(ps, "layer.weight", 2, (int[]){2, 3});
	reel_tensor *b = reel_param_new(ps, "layer.bias", 1, (int[]){2});
	CHECK(w && b, "created: %s", reel_params_error(ps));
	CHECK(reel_param_new(ps, "layer.bias", 1, (int[]){2}) == NULL, "duplicate name refused");
	CHECK(strstr(reel_params_error(ps), "layer.bias") != NULL, "message names it: %s", reel_params_error(ps));
	CHECK(reel_param_get(ps, "layer.weight") == w, "lookup by name");
	size_t n;
	reel_real *vals = reel_params_values(ps, &n);
	CHECK(w->data == vals && (uintptr_t)b->data % 64 == 0 && b->data > w->data && n >= 8, "views into one block");
	reel_param_fill(w, 1);
	reel_tape *t = reel_tape_new(0, 1);
	for (int k = 0; k < 2; k++) {
		reel_tensor *x = reel_tensor_from(t, 2, (int[]){1, 3}, (reel_real[]){1, 2, 3}, REEL_NOGRAD);
		reel_tensor *y = reel_sum(t, reel_add(t, reel_matmul(t, x, w, REEL_TRANS_B), b));
		CHECK(reel_backward(t, y) == REEL_OK, "backward");
		reel_tape_reset(t);
	}
	for (int j = 0; j < 3; j++)
		CHECK(w->grad[j] == 2 * (j + 1), "w.grad[%d] = %g after two backwards", j, (double)w->grad[j]);
	CHECK(b->grad[0] == 2 && b->grad[1] == 2, "b.grad accumulated");
	reel_params_zero_grad(ps);
	CHECK(w->grad[0] == 0 && b->grad[1] == 0, "zeroed");
	/* growth keeps values and re-points the views */
	for (int i = 0; i < 100; i++) {
		char nm[32];
		snprintf(nm, sizeof nm, "extra.%d", i);
		CHECK(reel_param_new(ps, nm, 2, (int[]){7, 9}) != NULL, "grow");
	}
	CHECK(w->data == reel_params_values(ps, NULL) && w->data[5] == 1, "values kept after growth");
	reel_param_freeze(w, 1);
	reel_tensor *x = reel_tensor_from(t, 2, (int[]){1, 3}, (reel_real[]){1, 2, 3}, REEL_NOGRAD);
	reel_tensor *y = reel_sum(t, reel_add(t, reel_matmul(t, x, w, REEL_TRANS_B), b));
	CHECK(reel_backward(t, y) == REEL_OK, "backward");
	CHECK(w->grad[0] == 0 && b->grad[0] == 1, "frozen parameter gets no gradient");
	reel_tape_free(t);
	reel_params_free(ps);
}

static void test_no_grad_mode(void)
{
	th_case("inference: no nodes when nothing needs a gradient");
	reel_tape *t = reel_tape_new(0, 1);
	reel_tensor *x = reel_tensor_new2(t, 2, 3, REEL_NOGRAD);
	reel_tensor *y = reel_tanh(t, reel_add(t, x, x));
	CHECK(y && reel_tape_get_stats(t).nodes == 0, "constant inputs record nothing");
	reel_tensor *g = reel_tensor_new2(t, 2, 3, REEL_GRAD);
	reel_tape_set_grad(t, 0);
	reel_tensor *z = reel_tanh(t, g);
	CHECK(z && !z->requires_grad && reel_tape_get_stats(t).nodes == 0, "grad disabled records nothing");
	reel_tape_set_grad(t, 1);
	reel_tape_set_training(t, 0);
	CHECK(reel_dropout(t, g, 0.5) == g, "dropout in evaluation mode is the identity");
	reel_tape_free(t);
}

static void test_rng(void)
{
	th_case("rng: same seed, same stream; uniform in range; normal moments");
	reel_rng a, b;
	reel_rng_seed(&a, 42);
	reel_rng_seed(&b, 42);
	int same = 1;
	for (int i = 0; i < 1000; i++)
		same &= reel_rng_next(&a) == reel_rng_next(&b);
	CHECK(same, "streams with one seed agree");
	reel_rng_seed(&b, 43);
	CHECK(reel_rng_next(&a) != reel_rng_next(&b), "another seed differs");
	double s = 0, s2 = 0;
	int inrange = 1;
	for (int i = 0; i < 100000; i++) {
		double u = reel_rng_uniform(&a);
		inrange &= u >= 0 && u < 1;
		double z = reel_rng_normal(&a);
		s += z;
		s2 += z * z;
	}
	CHECK(inrange, "uniform in [0, 1)");
	CHECK(fabs(s / 1e5) < 0.02 && fabs(s2 / 1e5 - 1) < 0.02, "normal mean %g var %g", s / 1e5, s2 / 1e5);
	int counts[3] = {0};
	for (int i = 0; i < 30000; i++)
		counts[reel_rng_below(&a, 3)]++;
	CHECK(abs(counts[0] - 10000) < 500 && abs(counts[2] - 10000) < 500, "below(3) balanced");
}

static void test_dropout_reproducible(void)
{
	th_case("dropout: same seed, same mask; mean preserved");
	reel_real out[2][4000];
	for (int k = 0; k < 2; k++) {
		reel_tape *t = reel_tape_new(0, 99);
		reel_tensor *x = reel_tensor_new2(t, 40, 100, REEL_GRAD);
		for (size_t i = 0; i < x->size; i++)
			x->data[i] = 1;
		reel_tensor *y = reel_dropout(t, x, 0.25);
		memcpy(out[k], y->data, sizeof out[k]);
		reel_tape_free(t);
	}
	CHECK(!memcmp(out[0], out[1], sizeof out[0]), "bitwise equal masks");
	double s = 0;
	int zeros = 0;
	for (int i = 0; i < 4000; i++) {
		s += out[0][i];
		zeros += out[0][i] == 0;
	}
	CHECK(fabs(s / 4000 - 1) < 0.05 && abs(zeros - 1000) < 120, "mean %g, zeros %d", s / 4000, zeros);
}

/* The float build's vectorizable activations against double libm. */
static void test_fastmath(void)
{
	th_case("fastmath: exp, sigmoid, tanh within a few ulp of libm (float build)");
#ifndef REEL_DOUBLE
	double worst[3] = {0};
	for (int i = -400000; i <= 400000; i++) {
		float x = (float)i * 5e-5f; /* [-20, 20] */
		double ref[3] = {exp((double)x), 1 / (1 + exp(-(double)x)), tanh((double)x)};
		float got[3] = {reel__fexp(x), reel__fsigmoid(x), reel__ftanh(x)};
		for (int k = 0; k < 3; k++) {
			double ulp = nextafterf((float)fabs(ref[k]), INFINITY) - (float)fabs(ref[k]);
			double err = fabs(got[k] - ref[k]) / ulp;
			worst[k] = err > worst[k] ? err : worst[k];
		}
	}
	CHECK(worst[0] <= 2 && worst[1] <= 3 && worst[2] <= 3, "worst ulp: exp %.2f, sigmoid %.2f, tanh %.2f", worst[0],
	      worst[1], worst[2]);
	CHECK(reel__ftanh(30) == 1 && reel__ftanh(-30) == -1 && reel__fsigmoid(-100) < 1e-37f && reel__fsigmoid(100) == 1,
	      "saturation");
	CHECK(reel__ftanh(0) == 0 && reel__ftanh(1e-20f) == 1e-20f, "tanh near zero keeps relative precision");
#endif
}

/* reel_lstm_cell against the composition it replaces (gate_blocks "ssts",
 * mul, add, tanh, mul): forward values bit for bit in both builds,
 * gradients of gates and c to rounding; in place over a product gives the
 * same; REEL_IN_PLACE on anything else is refused with a message. */
static void test_lstm_cell_fused(void)
{
	th_case("lstm_cell: equals its composition (values bitwise), in place or not; in-place misuse refused");
	enum { B = 3, H = 7, K = 5 };
	reel_rng r;
	reel_rng_seed(&r, 7);
	reel_real xv[B * K], wv[K * 4 * H], cv[B * H];
	for (int i = 0; i < B * K; i++)
		xv[i] = (reel_real)(2 * reel_rng_uniform(&r) - 1);
	for (int i = 0; i < K * 4 * H; i++)
		wv[i] = (reel_real)(2 * reel_rng_uniform(&r) - 1);
	for (int i = 0; i < B * H; i++)
		cv[i] = (reel_real)(2 * reel_rng_uniform(&r) - 1);
	reel_real out[3][2 * B * H], gx[3][B * K], gc[3][B * H];
	for (int way = 0; way < 3; way++) { /* 0 composition, 1 fused on a copy, 2 fused in place */
		reel_tape *t = reel_tape_new(0, 1);
		reel_tensor *x = reel_tensor_from(t, 2, (int[]){B, K}, xv, REEL_GRAD);
		reel_tensor *w = reel_tensor_from(t, 2, (int[]){K, 4 * H}, wv, REEL_GRAD);
		reel_tensor *c = reel_tensor_from(t, 2, (int[]){B, H}, cv, REEL_GRAD);
		reel_tensor *g = reel_matmul(t, x, w, 0), *cn, *hn;
		if (way == 0) {
			reel_tensor *a = reel_gate_blocks(t, g, "ssts");
			cn = reel_add(t, reel_mul(t, reel_index(t, a, 1), c), reel_mul(t, reel_index(t, a, 0), reel_index(t, a, 2)));
			hn = reel_mul(t, reel_index(t, a, 3), reel_tanh(t, cn));
		} else {
			reel_tensor *y = reel_lstm_cell(t, g, c, NULL, way == 2 ? REEL_IN_PLACE : 0);
			cn = reel_index(t, y, 0);
			hn = reel_index(t, y, 1);
		}
		/* a loss reading both states with different weights */
		reel_tensor *loss = reel_add(t, reel_sum(t, reel_mul(t, hn, hn)), reel_sum(t, reel_scale(t, cn, (reel_real)0.5)));
		if (!CHECK(reel_backward(t, loss) == REEL_OK, "way %d: %s", way, reel_tape_error(t))) {
			reel_tape_free(t);
			return;
		}
		memcpy(out[way], cn->data, sizeof(reel_real) * B * H);
		memcpy(out[way] + B * H, hn->data, sizeof(reel_real) * B * H);
		memcpy(gx[way], reel_tensor_grad(x), sizeof gx[way]);
		memcpy(gc[way], reel_tensor_grad(c), sizeof gc[way]);
		reel_tape_free(t);
	}
	for (int way = 1; way < 3; way++) {
		CHECK(!memcmp(out[0], out[way], sizeof out[0]), "way %d: c' and h' differ from the composition's bits", way);
		double a[B * K], b[B * K], e[B * H], f[B * H];
		for (int i = 0; i < B * K; i++)
			a[i] = gx[way][i], b[i] = gx[0][i];
		for (int i = 0; i < B * H; i++)
			e[i] = gc[way][i], f[i] = gc[0][i];
		/* the same sums in another order: rounding of the build's type */
		double tol = sizeof(reel_real) == 4 ? 1e-5 : 1e-13;
		CHECK_CLOSE("x gradient", a, b, B * K, tol, tol);
		CHECK_CLOSE("c gradient", e, f, B * H, tol, tol);
	}
	/* misuse: in place over a leaf, over a product already consumed */
	reel_tape *t = reel_tape_new(0, 1);
	reel_tensor *g = reel_tensor_from(t, 2, (int[]){B, 4 * H}, wv, REEL_GRAD);
	reel_tensor *c = reel_tensor_from(t, 2, (int[]){B, H}, cv, REEL_GRAD);
	CHECK(!reel_lstm_cell(t, g, c, NULL, REEL_IN_PLACE) && strstr(reel_tape_error(t), "REEL_IN_PLACE"),
	      "in place over a leaf: %s", reel_tape_error(t));
	reel_tape_reset(t);
	g = reel_tensor_from(t, 2, (int[]){B, 4 * H}, wv, REEL_GRAD);
	c = reel_tensor_from(t, 2, (int[]){B, H}, cv, REEL_GRAD);
	reel_tensor *p = reel_scale(t, g, 2);
	reel_tanh(t, p); /* p is read again after its producer */
	CHECK(!reel_lstm_cell(t, p, c, NULL, REEL_IN_PLACE) && strstr(reel_tape_error(t), "just recorded"),
	      "in place over a consumed tensor: %s", reel_tape_error(t));
	reel_tape_reset(t);
	c = reel_tensor_from(t, 2, (int[]){B, H}, cv, REEL_GRAD);
	g = reel_tensor_from(t, 2, (int[]){B, 4 * H - 1}, wv, REEL_GRAD);
	CHECK(!reel_lstm_cell(t, g, c, NULL, 0) && strstr(reel_tape_error(t), "expected (B, 4H)"), "shape: %s", reel_tape_error(t));
	reel_tape_free(t);
}

/* reel_gru_cell against its composition (add, sigmoid, mul, tanh, sub):
 * values bit for bit in both builds, gradients of xp, gh and h to
 * rounding, in place or not. */
static void test_gru_cell_fused(void)
{
	th_case("gru_cell: equals its composition (values bitwise), in place or not");
	enum { B = 3, H = 6 };
	reel_rng r;
	reel_rng_seed(&r, 11);
	reel_real xv[B * 3 * H], gv[B * 3 * H], hv[B * H];
	for (int i = 0; i < B * 3 * H; i++) {
		xv[i] = (reel_real)(4 * reel_rng_uniform(&r) - 2);
		gv[i] = (reel_real)(4 * reel_rng_uniform(&r) - 2);
	}
	for (int i = 0; i < B * H; i++)
		hv[i] = (reel_real)(2 * reel_rng_uniform(&r) - 1);
	reel_real out[3][B * H];
	double gx[3][B * 3 * H], gg[3][B * 3 * H], gh[3][B * H];
	for (int way = 0; way < 3; way++) { /* 0 composition, 1 fused, 2 fused in place */
		reel_tape *t = reel_tape_new(0, 1);
		reel_tensor *x0 = reel_tensor_from(t, 2, (int[]){B, 3 * H}, xv, REEL_GRAD);
		reel_tensor *g = reel_tensor_from(t, 2, (int[]){B, 3 * H}, gv, REEL_GRAD);
		reel_tensor *h = reel_tensor_from(t, 2, (int[]){B, H}, hv, REEL_GRAD);
		reel_tensor *x = reel_scale(t, x0, 1); /* an op's output, for in place */
		reel_tensor *y;
		if (way == 0) {
			reel_tensor *xb = reel_gate_blocks(t, x, "---"), *hb = reel_gate_blocks(t, g, "---");
			reel_tensor *rr = reel_sigmoid(t, reel_add(t, reel_index(t, xb, 0), reel_index(t, hb, 0)));
			reel_tensor *z = reel_sigmoid(t, reel_add(t, reel_index(t, xb, 1), reel_index(t, hb, 1)));
			reel_tensor *n = reel_tanh(t, reel_add(t, reel_index(t, xb, 2), reel_mul(t, rr, reel_index(t, hb, 2))));
			y = reel_add(t, n, reel_mul(t, z, reel_sub(t, h, n)));
		} else {
			y = reel_gru_cell(t, x, g, h, NULL, way == 2 ? REEL_IN_PLACE : 0);
		}
		reel_tensor *loss = reel_sum(t, reel_mul(t, y, y));
		if (!CHECK(reel_backward(t, loss) == REEL_OK, "way %d: %s", way, reel_tape_error(t))) {
			reel_tape_free(t);
			return;
		}
		memcpy(out[way], y->data, sizeof out[way]);
		for (int i = 0; i < B * 3 * H; i++) {
			gx[way][i] = reel_tensor_grad(x0)[i];
			gg[way][i] = reel_tensor_grad(g)[i];
		}
		for (int i = 0; i < B * H; i++)
			gh[way][i] = reel_tensor_grad(h)[i];
		reel_tape_free(t);
	}
	double tol = sizeof(reel_real) == 4 ? 1e-5 : 1e-13;
	for (int way = 1; way < 3; way++) {
		CHECK(!memcmp(out[0], out[way], sizeof out[0]), "way %d: h' differs from the composition's bits", way);
		CHECK_CLOSE("xp gradient", gx[way], gx[0], B * 3 * H, tol, tol);
		CHECK_CLOSE("gh gradient", gg[way], gg[0], B * 3 * H, tol, tol);
		CHECK_CLOSE("h gradient", gh[way], gh[0], B * H, tol, tol);
	}
	reel_tape *t = reel_tape_new(0, 1);
	reel_tensor *x = reel_tensor_from(t, 2, (int[]){B, 3 * H}, xv, REEL_GRAD);
	reel_tensor *g = reel_tensor_from(t, 2, (int[]){B, 3 * H}, gv, REEL_GRAD);
	reel_tensor *h = reel_tensor_from(t, 2, (int[]){B, H}, hv, REEL_GRAD);
	CHECK(!reel_gru_cell(t, x, g, h, NULL, REEL_IN_PLACE) && strstr(reel_tape_error(t), "a leaf"),
	      "in place over a leaf: %s", reel_tape_error(t));
	reel_tape_free(t);
}

void suite_engine(void)
{
	test_fastmath();
	test_arena_steady_state();
	test_views_share();
	test_detach();
	test_param_accumulate();
	test_no_grad_mode();
	test_rng();
	test_dropout_reproducible();
	test_lstm_cell_fused();
	test_gru_cell_fused();
}
