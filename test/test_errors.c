/* Error paths: each op family's shape errors give NULL and a message that
 * names the op and the shapes; errors are sticky; the tape is usable again
 * after reset. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static reel_tape *T;

/* Expect op() to fail with a message containing every needle. */
static void expect_fail(const char *label, reel_tensor *y, const char *n1, const char *n2)
{
	CHECK(y == NULL, "%s: expected NULL", label);
	CHECK(reel_tape_status(T) != REEL_OK, "%s: status set", label);
	const char *m = reel_tape_error(T);
	CHECK(strstr(m, n1) != NULL, "%s: message \"%s\" lacks \"%s\"", label, m, n1);
	if (n2)
		CHECK(strstr(m, n2) != NULL, "%s: message \"%s\" lacks \"%s\"", label, m, n2);
	reel_tape_reset(T);
}

static reel_tensor *M(int r, int c) { return reel_tensor_new2(T, r, c, REEL_GRAD); }

void suite_errors(void)
{
	T = reel_tape_new(0, 1);
	th_case("errors: matmul inner dimensions");
	expect_fail("matmul", reel_matmul(T, M(32, 64), M(128, 16), 0), "reel_matmul", "32x64");
	expect_fail("matmul 3d", reel_matmul(T, reel_tensor_new3(T, 2, 2, 2, 0), M(2, 2), 0), "2-d", "2x2x2");
	expect_fail("addmm d", reel_addmm(T, M(3, 3), M(2, 4), M(4, 3), 0), "reel_addmm", "2x3");
	expect_fail("bmm batch", reel_bmm(T, reel_tensor_new3(T, 2, 3, 4, 0), reel_tensor_new3(T, 3, 4, 5, 0), 0),
	            "reel_bmm", "batch");

	th_case("errors: broadcasting");
	expect_fail("add", reel_add(T, M(3, 4), M(4, 3)), "reel_add", "3x4");
	expect_fail("sub a-broadcast", reel_sub(T, reel_tensor_new(T, 1, (int[]){4}, 0), M(3, 4)), "reel_sub", "4");
	expect_fail("mul", reel_mul(T, M(3, 4), M(2, 1)), "reel_mul", "2x1");
	expect_fail("blend", reel_blend(T, M(2, 1), M(3, 4), M(3, 4)), "reel_blend", "2x1");
	expect_fail("mse", reel_mse(T, M(3, 4), M(3, 3)), "reel_mse", "3x3");

	th_case("errors: the issue-10 ops");
	expect_fail("div", reel_div(T, M(3, 4), M(2, 4)), "reel_div", "2x4");
	expect_fail("pow inf", reel_pow(T, M(2, 2), (reel_real)INFINITY), "reel_pow", "finite");
	expect_fail("clamp lo > hi", reel_clamp(T, M(2, 2), 1, -1), "reel_clamp", "lo <= hi");
	expect_fail("clamp NaN", reel_clamp(T, M(2, 2), (reel_real)NAN, 1), "reel_clamp", "NaN");
	expect_fail("layer_norm gamma", reel_layer_norm(T, M(3, 4), M(1, 5), NULL, (reel_real)1e-5), "reel_layer_norm",
	            "gamma is 1x5");
	expect_fail("layer_norm beta", reel_layer_norm(T, M(3, 4), NULL, M(4, 1), (reel_real)1e-5), "reel_layer_norm",
	            "beta is 4x1");
	expect_fail("layer_norm scalar", reel_layer_norm(T, reel_tensor_new(T, 0, NULL, 1), NULL, NULL, 0),
	            "reel_layer_norm", "scalar");
	expect_fail("layer_norm eps", reel_layer_norm(T, M(3, 4), NULL, NULL, -1), "reel_layer_norm", "eps");
	expect_fail("sqrt NULL", reel_sqrt(T, NULL), "reel_sqrt", "NULL");

	th_case("errors: shape ops");
	reel_tensor *xs[2];
	xs[0] = M(2, 3);
	xs[1] = M(3, 3);
	expect_fail("concat", reel_concat(T, (xs[0] = M(2, 3), xs[1] = M(3, 4), xs), 2, 1), "reel_concat", "3x4");
	expect_fail("stack", reel_stack(T, (xs[0] = M(2, 3), xs[1] = M(3, 3), xs), 2), "reel_stack", "3x3");
	expect_fail("slice", reel_slice(T, M(2, 3), 1, 2, 2), "reel_slice", "[2, 4)");
	expect_fail("axis", reel_slice(T, M(2, 3), 2, 0, 1), "axis 2", "2x3");
	expect_fail("rows", reel_rows(T, M(2, 3), 1, 2), "reel_rows", "2x3");
	expect_fail("reshape", reel_reshape2(T, M(2, 3), 4, 2), "reel_reshape", "4x2");
	reel_tensor *parts[3];
	CHECK(reel_split(T, M(2, 8), 1, 3, parts) != REEL_OK, "split 8 in 3");
	expect_fail("split", NULL, "reel_split", "3 parts");
	expect_fail("transpose", reel_transpose(T, reel_tensor_new(T, 1, (int[]){4}, 0)), "reel_transpose", "4");

	th_case("errors: gather and cross-entropy ids");
	expect_fail("gather", reel_gather(T, M(5, 3), (int32_t[]){1, 5}, 2), "reel_gather", "id 5");
	expect_fail("ce target", reel_cross_entropy(T, M(2, 4), (int32_t[]){1, 4}, NULL, REEL_NO_IGNORE),
	            "reel_cross_entropy", "target 4");
	expect_fail("ce mask", reel_cross_entropy(T, M(2, 4), (int32_t[]){1, 2}, M(3, 1), REEL_NO_IGNORE),
	            "reel_cross_entropy", "mask");
	expect_fail("dropout p", reel_dropout(T, M(2, 2), 1.0), "reel_dropout", "[0, 1)");

	th_case("errors: sticky, then usable after reset");
	reel_tensor *bad = reel_matmul(T, M(2, 3), M(2, 3), 0);
	char first[512];
	snprintf(first, sizeof first, "%s", reel_tape_error(T));
	reel_tensor *later = reel_tanh(T, M(2, 2));
	CHECK(bad == NULL && later == NULL, "ops after a failure return NULL");
	CHECK(!strcmp(first, reel_tape_error(T)), "first error kept: %s", reel_tape_error(T));
	CHECK(reel_backward(T, later) != REEL_OK, "backward on a failed tape reports the error");
	reel_tape_reset(T);
	CHECK(reel_tape_status(T) == REEL_OK && reel_tape_error(T)[0] == 0, "reset clears the error");
	reel_tensor *x = M(2, 2);
	reel_tensor *y = reel_sum(T, reel_tanh(T, x));
	CHECK(y && reel_backward(T, y) == REEL_OK, "usable after reset: %s", reel_tape_error(T));
	expect_fail("NULL input", reel_tanh(T, NULL), "reel_tanh", "NULL");
	expect_fail("backward non-scalar", (reel_backward(T, M(2, 2)), NULL), "reel_backward", "scalar");
	reel_tape_free(T);
}
