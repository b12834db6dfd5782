/* Library entry points beside the ops: the thread count, the public
 * gradient check (its report on success, on a wrong gradient and on bad
 * arguments) and the new ops' conventions at their kinks, which the
 * gradient checks keep away from. */
#include "harness.h"

#include <blis.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void test_threads(void)
{
	th_case("threads: reel_set_threads reaches BLIS; bad counts refused");
	int before = reel_get_threads();
	CHECK(before >= 1, "reel_get_threads() = %d", before);
	CHECK(reel_set_threads(2) == REEL_OK, "set 2");
	CHECK(reel_get_threads() == 2, "get after set 2: %d", reel_get_threads());
	CHECK(bli_thread_get_num_threads() == 2, "BLIS reports %ld", (long)bli_thread_get_num_threads());

	/* a product at 2 threads equals the one at 1 */
	reel_tape *t = reel_tape_new(0, 1);
	reel_rng r;
	reel_rng_seed(&r, 3);
	reel_tensor *a = reel_tensor_new2(t, 96, 80, REEL_NOGRAD), *b = reel_tensor_new2(t, 80, 72, REEL_NOGRAD);
	for (size_t i = 0; i < a->size; i++)
		a->data[i] = (reel_real)reel_rng_range(&r, -1, 1);
	for (size_t i = 0; i < b->size; i++)
		b->data[i] = (reel_real)reel_rng_range(&r, -1, 1);
	reel_tensor *c2 = reel_matmul(t, a, b, 0);
	CHECK(reel_set_threads(1) == REEL_OK && reel_get_threads() == 1, "set 1: %d", reel_get_threads());
	CHECK(bli_thread_get_num_threads() == 1, "BLIS reports %ld", (long)bli_thread_get_num_threads());
	reel_tensor *c1 = reel_matmul(t, a, b, 0);
	if (CHECK(c1 && c2, "matmul: %s", reel_tape_error(t))) {
		double d = 0;
		for (size_t i = 0; i < c1->size; i++)
			d = fmax(d, fabs((double)c1->data[i] - (double)c2->data[i]));
		CHECK(d < 1e-4, "1 vs 2 threads differ by %g", d);
	}
	reel_tape_free(t);

	CHECK(reel_set_threads(0) == REEL_ERR_ARG, "0 threads refused");
	CHECK(reel_set_threads(-3) == REEL_ERR_ARG, "-3 threads refused");
	CHECK(reel_set_threads(REEL_MAX_THREADS + 1) == REEL_ERR_ARG, "too many threads refused");
	CHECK(reel_get_threads() == 1, "a refused count changes nothing: %d", reel_get_threads());
	CHECK(reel_set_threads(before) == REEL_OK, "restore %d", before);
}

/* f(x) = x * x: right.  g(x) = x * detach(x): the tape sees only one of the
 * two paths, so its gradient is x where the true one is 2x. */
static reel_tensor *gc_square(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	return reel_mul(t, x[0], x[0]);
}

static reel_tensor *gc_wrong(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	return reel_mul(t, x[0], reel_detach(t, x[0]));
}

static reel_tensor *gc_bad_shape(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	return reel_matmul(t, x[0], x[0], 0);
}

/* a model with two parameters; ctx says whether W's path is cut */
struct gc_model {
	reel_tensor *W, *b;
	int cut;
};

static reel_tensor *gc_linear(reel_tape *t, reel_tensor **x, void *c)
{
	struct gc_model *m = c;
	reel_tensor *W = m->cut ? reel_add(t, reel_detach(t, m->W), reel_scale(t, m->W, 0.5)) : m->W;
	return reel_tanh(t, reel_addmm(t, m->b, x[0], W, REEL_TRANS_B));
}

static void test_gradcheck_api(void)
{
	th_case("reel_gradcheck: passes a right gradient, with a report");
	reel_real x[6] = {0.5, -1, 0.25, 2, -0.75, 1.5};
	reel_gc_input in[1] = {{2, {2, 3}, x, 1}};
	reel_gc_report rep;
	reel_status st = reel_gradcheck(gc_square, NULL, 1, in, NULL, (reel_gc_opts){0}, &rep);
	CHECK(st == REEL_OK && rep.status == REEL_OK, "status %s: %s", reel_status_name(st), rep.msg);
	CHECK(rep.checked == 6 && rep.msg[0] == 0, "checked %zu, msg \"%s\"", rep.checked, rep.msg);
	CHECK(rep.worst <= 1, "worst %g", rep.worst);
	CHECK(x[1] == -1 && x[3] == 2, "inputs restored");

	th_case("reel_gradcheck: reports a wrong gradient, naming the element");
	st = reel_gradcheck(gc_wrong, NULL, 1, in, NULL, (reel_gc_opts){0}, &rep);
	CHECK(st == REEL_ERR_NUMERIC && rep.status == st, "status %s", reel_status_name(st));
	CHECK(!strcmp(rep.what, "input 0") && rep.index == 0 && rep.checked == 1, "what %s[%zu], checked %zu",
	      rep.what, rep.index, rep.checked);
	/* seed R[0] weights element 0: analytic R x, numeric 2 R x */
	CHECK(fabs(rep.numeric - 2 * rep.analytic) < 1e-2 * fabs(rep.numeric) && rep.analytic != 0,
	      "analytic %g, numeric %g", rep.analytic, rep.numeric);
	CHECK(strstr(rep.msg, "input 0[0]") && strstr(rep.msg, "analytic"), "msg \"%s\"", rep.msg);
	CHECK(rep.worst > 1, "worst %g", rep.worst);

	th_case("reel_gradcheck: parameters, by name; frozen ones skipped");
	reel_params *ps = reel_params_new();
	struct gc_model m = {reel_param_new(ps, "lin.weight", 2, (int[]){2, 3}), reel_param_new(ps, "lin.bias", 1, (int[]){2}), 0};
	reel_rng r;
	reel_rng_seed(&r, 9);
	reel_param_uniform(m.W, &r, -1, 1);
	reel_param_uniform(m.b, &r, -1, 1);
	st = reel_gradcheck(gc_linear, &m, 1, in, ps, (reel_gc_opts){0}, &rep);
	CHECK(st == REEL_OK && rep.checked == 6 + 6 + 2, "status %s, checked %zu: %s", reel_status_name(st), rep.checked,
	      rep.msg);
	m.cut = 1;
	in[0].grad = 0;
	st = reel_gradcheck(gc_linear, &m, 1, in, ps, (reel_gc_opts){0}, &rep);
	CHECK(st == REEL_ERR_NUMERIC && !strcmp(rep.what, "lin.weight"), "status %s, what %s: %s", reel_status_name(st),
	      rep.what, rep.msg);
	reel_param_freeze(m.W, 1);
	st = reel_gradcheck(gc_linear, &m, 1, in, ps, (reel_gc_opts){0}, &rep);
	CHECK(st == REEL_OK && rep.checked == 2, "frozen weight skipped: status %s, checked %zu: %s",
	      reel_status_name(st), rep.checked, rep.msg);
	reel_params_free(ps);
	in[0].grad = 1;

	th_case("reel_gradcheck: bad arguments and a failing forward");
	CHECK(reel_gradcheck(NULL, NULL, 1, in, NULL, (reel_gc_opts){0}, &rep) == REEL_ERR_ARG, "NULL f");
	CHECK(reel_gradcheck(gc_square, NULL, -1, in, NULL, (reel_gc_opts){0}, &rep) == REEL_ERR_ARG, "nin -1");
	CHECK(reel_gradcheck(gc_square, NULL, 1, NULL, NULL, (reel_gc_opts){0}, &rep) == REEL_ERR_ARG, "NULL inputs");
	CHECK(reel_gradcheck(gc_square, NULL, 1, in, NULL, (reel_gc_opts){.eps = -1}, &rep) == REEL_ERR_ARG, "eps < 0");
	CHECK(reel_gradcheck(gc_square, NULL, 1, in, NULL, (reel_gc_opts){0}, NULL) == REEL_ERR_ARG, "NULL report");
	reel_gc_input bad[1] = {{2, {2, 0}, x, 1}};
	CHECK(reel_gradcheck(gc_square, NULL, 1, bad, NULL, (reel_gc_opts){0}, &rep) == REEL_ERR_ARG &&
	          strstr(rep.msg, "input 0"), "zero dim: %s", rep.msg);
	st = reel_gradcheck(gc_bad_shape, NULL, 1, in, NULL, (reel_gc_opts){0}, &rep);
	CHECK(st == REEL_ERR_SHAPE && strstr(rep.msg, "reel_matmul"), "status %s: %s", reel_status_name(st), rep.msg);
}

/* PyTorch's choices where the derivative does not exist (checked against
 * PyTorch by the golden fixtures too; spelled out here). */
static void test_kinks(void)
{
	th_case("ops at their kinks: clamp passes the gradient at lo and hi, abs and pow 0 give 0");
	reel_tape *t = reel_tape_new(0, 1);
	reel_real v[6] = {-1, -0.5, 0, 0.5, 1, (reel_real)NAN};
	reel_tensor *x = reel_tensor_from(t, 1, (int[]){6}, v, REEL_GRAD);
	reel_tensor *y = reel_sum(t, reel_add(t, reel_clamp(t, x, (reel_real)-0.5, (reel_real)0.5),
	                                      reel_scale(t, reel_abs(t, x), 10)));
	y = reel_add(t, y, reel_scale(t, reel_sum(t, reel_pow(t, x, 0)), 100));
	if (CHECK(y && reel_backward(t, y) == REEL_OK, "%s", reel_tape_error(t))) {
		const reel_real *g = reel_tensor_grad(x);
		/* clamp: 0 1 1 1 0 0;  abs * 10: -10 -10 0 10 10 0;  pow 0: 0 */
		const double want[6] = {-10, -9, 1, 11, 10, 0};
		for (int i = 0; i < 6; i++)
			CHECK(g[i] == want[i], "x = %g: gradient %g, want %g", (double)v[i], (double)g[i], want[i]);
	}
	reel_tape_reset(t);
	x = reel_tensor_from(t, 1, (int[]){6}, v, REEL_GRAD);
	reel_tensor *c = reel_clamp(t, x, (reel_real)-0.5, (reel_real)0.5);
	CHECK(c && isnan(c->data[5]) && c->data[0] == (reel_real)-0.5 && c->data[4] == (reel_real)0.5,
	      "clamp values (NaN stays NaN)");
	reel_tape_free(t);
}

void suite_api(void)
{
	test_threads();
	test_gradcheck_api();
	test_kinks();
}
