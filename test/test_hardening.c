/* Hardening (issue 13): sizes that overflow, huge requests, ranges whose
 * messages used to overflow, limits, and optimizer options and state that
 * must be finite and in range.  Each case failed before its fix. */
#include "harness.h"
#include "optim.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static reel_tape *T;

/* Expect y == NULL and the tape's error to have status code and contain
 * every non-NULL needle; then reset the tape. */
static void expect_tape(const char *label, const void *y, reel_status code, const char *n1, const char *n2,
                        const char *n3)
{
	CHECK(y == NULL, "%s: expected NULL", label);
	CHECK(reel_tape_status(T) == code, "%s: status %s, expected %s", label,
	      reel_status_name(reel_tape_status(T)), reel_status_name(code));
	const char *m = reel_tape_error(T);
	const char *needles[3] = {n1, n2, n3};
	for (int i = 0; i < 3; i++)
		if (needles[i])
			CHECK(strstr(m, needles[i]) != NULL, "%s: message \"%s\" lacks \"%s\"", label, m, needles[i]);
	reel_tape_reset(T);
}

static void test_sizes(void)
{
	th_case("limits: a tensor whose byte size is near SIZE_MAX is refused, not wrapped");
	expect_tape("tensor_new", reel_tensor_new(T, 4, (int[]){224, 32377, 524287, 1212847}, 0), REEL_ERR_NOMEM,
	            "reel_tensor_new", "224x32377x524287x1212847", "largest tensor (" REEL_MAX_TENSOR_ELEMS_STR);
	/* just past the element limit; the byte size does not overflow */
	expect_tape("tensor_new 2^31", reel_tensor_new(T, 2, (int[]){65536, 32768}, 0), REEL_ERR_NOMEM,
	            "reel_tensor_new", "65536x32768", "largest tensor");
	static reel_real dummy[4];
	expect_tape("tensor_wrap", reel_tensor_wrap(T, 3, (int[]){INT_MAX, INT_MAX, 2}, dummy), REEL_ERR_NOMEM,
	            "reel_tensor_wrap", "2147483647x2147483647x2", "largest tensor");
	CHECK(reel_tensor_new(T, 1, (int[]){4}, 0) != NULL, "the tape works after reset: %s", reel_tape_error(T));

	th_case("limits: reel_tape_alloc of a huge size fails with NOMEM");
	static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 100, SIZE_MAX - 63, SIZE_MAX / 2, REEL_MAX_ARENA_BYTES + 1};
	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		char label[64];
		snprintf(label, sizeof label, "reel_tape_alloc(%zu)", huge[i]);
		expect_tape(label, reel_tape_alloc(T, huge[i]), REEL_ERR_NOMEM, "reel_tape_alloc", "largest arena",
		            REEL_MAX_ARENA_BYTES_STR);
	}
	CHECK(reel_tape_new(SIZE_MAX - 10, 1) == NULL, "a tape with a huge first chunk is refused");

	th_case("limits: an op whose output is too large names the op, the shape and the limit");
	reel_tensor *a = reel_tensor_new2(T, 100000, 1, 0), *b = reel_tensor_new2(T, 1, 100000, 0);
	expect_tape("matmul", reel_matmul(T, a, b, 0), REEL_ERR_NOMEM, "reel_matmul", "100000x100000", "largest tensor");
	a = reel_tensor_new2(T, 60000, 1, 0);
	b = reel_tensor_new2(T, 1, 60000, 0);
	expect_tape("add", reel_add(T, reel_matmul(T, a, b, 0), a), REEL_ERR_NOMEM, "reel_matmul", "60000x60000", NULL);

	th_case("limits: a tape's byte cap: the failing op, its shape and the cap are named");
	reel_tape_set_max_bytes(T, (size_t)1 << 20);
	reel_tensor *x = reel_tensor_new2(T, 256, 256, 0); /* 256 KiB or 512 KiB */
	CHECK(x != NULL, "under the cap: %s", reel_tape_error(T));
	expect_tape("tanh", reel_tanh(T, reel_tensor_new2(T, 1024, 512, 0)), REEL_ERR_NOMEM, "reel_tensor_new",
	            "1024x512", "1048576 bytes");
	expect_tape("matmul over cap", /* 2 or 4 MiB out of two small inputs */
	            reel_matmul(T, reel_tensor_new2(T, 1024, 1, 0), reel_tensor_new2(T, 1, 512, 0), 0), REEL_ERR_NOMEM,
	            "reel_matmul", "1024x512", "1048576 bytes");
	expect_tape("tape_alloc over cap", reel_tape_alloc(T, 2 << 20), REEL_ERR_NOMEM, "reel_tape_alloc",
	            "2097152 bytes", "1048576 bytes");
	reel_tape_set_max_bytes(T, 0); /* back to REEL_MAX_ARENA_BYTES */
	CHECK(reel_tensor_new2(T, 1024, 512, 0) != NULL, "the cap is lifted: %s", reel_tape_error(T));
	reel_tape_reset(T);

	th_case("limits: a parameter obeys the tensor limit, named with its shape");
	reel_params *ps = reel_params_new();
	CHECK(reel_param_new(ps, "emb.weight", 2, (int[]){65536, 32768}) == NULL, "2^31 elements refused");
	const char *m = reel_params_error(ps);
	CHECK(strstr(m, "emb.weight") && strstr(m, "65536x32768") && strstr(m, "largest tensor"), "message: %s", m);
	CHECK(reel_param_new(ps, "huge", 4, (int[]){INT_MAX, INT_MAX, INT_MAX, INT_MAX}) == NULL, "huge refused");
	reel_params_free(ps);
}

static void test_ranges(void)
{
	th_case("ranges: slice and rows messages do not overflow int");
	reel_tensor *x = reel_tensor_new2(T, 2, 3, 0);
	expect_tape("slice", reel_slice(T, x, 1, 2, INT_MAX), REEL_ERR_ARG, "reel_slice", "[2, 2147483649)", "2x3");
	x = reel_tensor_new2(T, 2, 3, 0);
	expect_tape("rows", reel_rows(T, x, INT_MAX, 2), REEL_ERR_ARG, "reel_rows", "[2147483647, 2147483649)", "2x3");
	x = reel_tensor_new2(T, 2, 3, 0);
	expect_tape("index", reel_index(T, x, INT_MAX), REEL_ERR_ARG, "reel_rows", "[2147483647, 2147483648)", NULL);

	th_case("ranges: concat whose axis would pass INT_MAX is refused");
	static reel_real dummy[4];
	reel_tensor *xs[2];
	xs[0] = reel_tensor_wrap(T, 1, (int[]){1200000000}, dummy);
	xs[1] = reel_tensor_wrap(T, 1, (int[]){1200000000}, dummy);
	CHECK(xs[0] && xs[1], "wrap: %s", reel_tape_error(T));
	expect_tape("concat", reel_concat(T, xs, 2, 0), REEL_ERR_NOMEM, "reel_concat", "2400000000", NULL);

	th_case("ranges: a reshape whose element count wraps modulo 2^64 is refused");
	/* 35 * 11239 * 88801 * 1056175639 = 2 * 2^64 + 3 */
	x = reel_tensor_new(T, 1, (int[]){3}, 0);
	expect_tape("reshape", reel_reshape(T, x, 4, (int[]){35, 11239, 88801, 1056175639}), REEL_ERR_SHAPE,
	            "reel_reshape", "35x11239x88801x1056175639", NULL);
	x = reel_tensor_new(T, 1, (int[]){3}, 0);
	expect_tape("reshape infer", reel_reshape(T, x, 4, (int[]){35, 11239, 88801, -1}), REEL_ERR_SHAPE,
	            "reel_reshape", NULL, NULL);
}

/* ---- optimizer ------------------------------------------------------------------ */

static reel_params *small_params(void)
{
	reel_params *ps = reel_params_new();
	reel_tensor *w = reel_param_new(ps, "layer.weight", 2, (int[]){2, 2});
	reel_param_fill(w, 0.5);
	return ps;
}

static void expect_opt_refused(const char *label, reel_optim_opts o, const char *n1, const char *n2)
{
	reel_params *ps = small_params();
	reel_err e = {0};
	reel_optim *op = reel_optim_new(ps, &o, &e);
	CHECK(op == NULL && e.code == REEL_ERR_ARG, "%s: accepted", label);
	CHECK(strstr(e.msg, n1) && strstr(e.msg, n2), "%s: message \"%s\" lacks \"%s\" or \"%s\"", label, e.msg, n1,
	      n2);
	reel_optim_free(op);
	reel_params_free(ps);
}

static void test_optim_options(void)
{
	th_case("optim: non-finite options are refused, naming the option and the value");
	reel_optim_opts o = reel_optim_defaults(REEL_ADAM);
	o.lr = INFINITY;
	expect_opt_refused("lr inf", o, "lr", "inf");
	o.lr = NAN;
	expect_opt_refused("lr nan", o, "lr", "nan");
	o = reel_optim_defaults(REEL_SGD);
	o.weight_decay = INFINITY;
	expect_opt_refused("weight_decay", o, "weight_decay", "inf");
	o = reel_optim_defaults(REEL_SGD);
	o.momentum = INFINITY;
	expect_opt_refused("momentum", o, "momentum", "inf");
	o = reel_optim_defaults(REEL_SGD);
	o.momentum = 0.9;
	o.dampening = NAN;
	expect_opt_refused("dampening", o, "dampening", "nan");
	o = reel_optim_defaults(REEL_ADAMW);
	o.eps = INFINITY;
	expect_opt_refused("eps", o, "eps", "inf");
	o = reel_optim_defaults(REEL_ADAM);
	o.beta1 = NAN;
	expect_opt_refused("beta1", o, "beta1", "nan");
	o = reel_optim_defaults(REEL_RMSPROP);
	o.alpha = INFINITY;
	expect_opt_refused("alpha", o, "alpha", "inf");
	o = reel_optim_defaults(REEL_ADAGRAD);
	o.lr_decay = INFINITY;
	expect_opt_refused("lr_decay", o, "lr_decay", "inf");
	o = reel_optim_defaults(REEL_ADAGRAD);
	o.initial_accumulator_value = -INFINITY;
	expect_opt_refused("initial_accumulator_value", o, "initial_accumulator_value", "-inf");
	o = reel_optim_defaults(REEL_SGD);
	o.alpha = NAN; /* unused by SGD, but a NaN anywhere is a bug upstream */
	expect_opt_refused("unused alpha", o, "alpha", "nan");

	th_case("optim: a step with a non-finite lr (set after creation) changes nothing");
	reel_params *ps = small_params();
	reel_err e = {0};
	o = reel_optim_defaults(REEL_SGD);
	reel_optim *op = reel_optim_new(ps, &o, &e);
	reel_tensor *w = reel_params_at(ps, 0);
	reel_param_fill(w, 0.5);
	for (size_t i = 0; i < w->size; i++)
		w->grad[i] = 1;
	reel_optim_set_lr(op, INFINITY);
	CHECK(reel_optim_step(op, 1.0, &e) == REEL_ERR_ARG, "step with lr inf refused");
	CHECK(strstr(e.msg, "lr") && strstr(e.msg, "inf"), "message names lr and its value: %s", e.msg);
	CHECK(w->data[0] == (reel_real)0.5 && reel_optim_steps(op) == 0, "nothing changed");
	reel_optim_set_lr(op, 0.1);
	CHECK(reel_optim_step(op, 1.0, &e) == REEL_OK && reel_optim_steps(op) == 1, "a finite lr works: %s", e.msg);
	reel_optim_free(op);
	reel_params_free(ps);
}

/* A checkpoint holding optim.step and optim.skipped with the given dtypes
 * and values (an SGD without momentum has no other state). */
static void write_counts(const char *path, reel_dtype dt, const void *step, const void *skipped)
{
	reel_st_writer *w = reel_st_writer_new();
	reel_err e = {0};
	CHECK(reel_st_add(w, "optim.step", dt, 0, NULL, step, &e) == REEL_OK, "add: %s", e.msg);
	CHECK(reel_st_add(w, "optim.skipped", dt, 0, NULL, skipped, &e) == REEL_OK, "add: %s", e.msg);
	CHECK(reel_st_write(w, path, &e) == REEL_OK, "write: %s", e.msg);
	reel_st_writer_free(w);
}

static void expect_load(const char *label, reel_dtype dt, const void *step, const void *skipped, const char *n1,
                        const char *n2)
{
	char path[128];
	snprintf(path, sizeof path, "build/test-%d-counts.safetensors", (int)getpid());
	write_counts(path, dt, step, skipped);
	reel_params *ps = small_params();
	reel_optim_opts o = reel_optim_defaults(REEL_SGD);
	reel_err e = {0};
	reel_optim *op = reel_optim_new(ps, &o, &e);
	reel_st_file *f = NULL;
	CHECK(reel_st_read(path, &f, &e) == REEL_OK, "%s: read: %s", label, e.msg);
	if (f && op) {
		reel_status s = reel_optim_load(op, f, path, &e);
		if (!n1) {
			CHECK(s == REEL_OK, "%s: load: %s", label, e.msg);
		} else {
			CHECK(s == REEL_ERR_IO, "%s: accepted (step now %ld)", label, reel_optim_steps(op));
			CHECK(strstr(e.msg, n1) && strstr(e.msg, n2) && strstr(e.msg, path),
			      "%s: message \"%s\" lacks the path, \"%s\" or \"%s\"", label, e.msg, n1, n2);
			CHECK(reel_optim_steps(op) == 0 && reel_optim_skipped(op) == 0, "%s: state changed", label);
		}
	}
	reel_st_free(f);
	reel_optim_free(op);
	reel_params_free(ps);
	unlink(path);
}

static void test_optim_load(void)
{
	th_case("optim: a checkpoint's step count must be a finite integer in range");
	double zero = 0;
	expect_load("F64 ok", REEL_F64, &(double){7}, &zero, NULL, NULL);
	expect_load("NaN", REEL_F64, &(double){NAN}, &zero, "optim.step", "nan");
	expect_load("1e30", REEL_F64, &(double){1e30}, &zero, "optim.step", "1e+30");
	expect_load("negative", REEL_F64, &(double){-3}, &zero, "optim.step", "-3");
	expect_load("fraction", REEL_F64, &(double){2.5}, &zero, "optim.step", "2.5");
	expect_load("inf skipped", REEL_F64, &zero, &(double){INFINITY}, "optim.skipped", "inf");
	expect_load("F32 NaN", REEL_F32, &(float){NAN}, &(float){0}, "optim.step", "nan");
	int64_t z64 = 0;
	expect_load("I64 negative", REEL_I64, &(int64_t){-1}, &z64, "optim.step", "-1");
	expect_load("I64 huge", REEL_I64, &(int64_t){INT64_MAX}, &z64, "optim.step", "9223372036854775807");
	expect_load("I64 ok", REEL_I64, &(int64_t){123456789012LL}, &z64, NULL, NULL);
}

void suite_hardening(void)
{
	T = reel_tape_new(0, 1);
	test_sizes();
	test_ranges();
	reel_tape_free(T);
	test_optim_options();
	test_optim_load();
}
