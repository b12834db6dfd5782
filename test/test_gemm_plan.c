/* The matmul planner: every candidate (BLIS's own kernel set, the C
 * product, each BLIS kernel set this CPU and link support) computes the
 * same products, for every layout the engine uses; a measured choice is
 * made once per shape, cached, and never changes.  No test here asserts a
 * time. */
#include "harness.h"

#include "../engine/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* A row- or column-major (rows, cols) buffer: strides of element (i, j). */
static void strides(int rows, int cols, int colmajor, long *rs, long *cs)
{
	*rs = colmajor ? 1 : cols;
	*cs = colmajor ? rows : 1;
}

/* C = alpha A B + beta C in double, as the reference. */
static void ref_product(int m, int n, int k, double alpha, const reel_real *a, long rsa, long csa, const reel_real *b,
                        long rsb, long csb, double beta, const reel_real *c0, double *c, long rsc, long csc)
{
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			double acc = 0;
			for (int p = 0; p < k; p++)
				acc += (double)a[i * rsa + p * csa] * (double)b[p * rsb + j * csb];
			c[i * n + j] = alpha * acc + (beta == 0 ? 0 : beta * (double)c0[i * rsc + j * csc]);
		}
}

static void fill(reel_real *v, size_t n, reel_rng *r)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (reel_real)reel_rng_range(r, -1, 1);
}

/* Every candidate on one shape and layout; returns the worst relative
 * error over candidates (scaled by k: the sums' rounding grows with it). */
static int check_shape(int m, int n, int k, int ta, int tb, int tc, double beta, reel_rng *r)
{
	long rsa, csa, rsb, csb, rsc, csc;
	strides(m, k, ta, &rsa, &csa);
	strides(k, n, tb, &rsb, &csb);
	strides(m, n, tc, &rsc, &csc);
	/* 16 elements of slack after each operand: BLIS's AVX2 small-matrix
	 * (sup) kernels read a float just past the end of C in some layouts
	 * (make valgrind reports it; reel's own operands live in the tape's
	 * arena or the parameter blocks, which have room after them) */
	reel_real *a = malloc(sizeof *a * ((size_t)m * k + 16)), *b = malloc(sizeof *b * ((size_t)k * n + 16));
	reel_real *c0 = malloc(sizeof *c0 * ((size_t)m * n + 16)), *c = malloc(sizeof *c * ((size_t)m * n + 16));
	double *want = malloc(sizeof *want * (size_t)m * n), *got = malloc(sizeof *got * (size_t)m * n);
	fill(a, (size_t)m * k, r);
	fill(b, (size_t)k * n, r);
	fill(c0, (size_t)m * n, r);
	if (beta == 0)
		c0[0] = NAN; /* beta 0 ignores C, a NaN included */
	ref_product(m, n, k, 0.75, a, rsa, csa, b, rsb, csb, beta, c0, want, rsc, csc);
	int ok = 1;
#ifdef REEL_DOUBLE
	double tol = 1e-13 * (k + 1);
#else
	double tol = 1e-6 * (k + 1);
#endif
	for (int cand = 0; cand < reel__gemm_candidates(); cand++) {
		memcpy(c, c0, sizeof *c * (size_t)m * n);
		reel__gemm_with(cand, m, n, k, (reel_real)0.75, a, rsa, csa, b, rsb, csb, (reel_real)beta, c, rsc, csc);
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++)
				got[i * n + j] = c[i * rsc + j * csc];
		double worst = 0;
		for (int i = 0; i < m * n; i++)
			worst = fmax(worst, fabs(got[i] - want[i]) / (1 + fabs(want[i])));
		ok &= CHECK(worst <= tol, "%s: %dx%dx%d ta=%d tb=%d tc=%d beta=%g: error %.3g > %.3g",
		            reel__gemm_candidate_name(cand), m, n, k, ta, tb, tc, beta, worst, tol);
	}
	free(a);
	free(b);
	free(c0);
	free(c);
	free(want);
	free(got);
	return ok;
}

static void test_candidates_agree(void)
{
	th_case("gemm plan: every candidate gives the same product (to rounding), every layout and vector shape");
	if (!th_selected())
		return;
	CHECK(reel__gemm_candidates() >= 2, "at least BLIS's own choice and the C product");
	CHECK(!strcmp(reel__gemm_candidate_name(0), "blis") && !strcmp(reel__gemm_candidate_name(1), "reel"),
	      "candidates 0 and 1 are %s and %s", reel__gemm_candidate_name(0), reel__gemm_candidate_name(1));
	static const int shapes[][3] = {{1, 1, 7}, {1, 13, 9}, {11, 1, 5}, {6, 7, 1}, {5, 9, 13},
	                                {33, 70, 40}, {64, 256, 64}, {2, 48, 16}};
	reel_rng r;
	reel_rng_seed(&r, 5);
	int all = 1;
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
		for (int lay = 0; lay < 8; lay++)
			for (int beta = 0; beta < 2; beta++)
				all &= check_shape(shapes[s][0], shapes[s][1], shapes[s][2], lay & 1, lay >> 1 & 1, lay >> 2 & 1,
				                   beta, &r);
	if (all)
		for (int cand = 0; cand < reel__gemm_candidates(); cand++)
			printf("  candidate %d: %s\n", cand, reel__gemm_candidate_name(cand));
}

static void test_plan_cached(void)
{
	th_case("gemm plan: a shape is measured once, its choice cached and stable; a fixed mode measures nothing");
	if (!th_selected())
		return;
	int mode = reel__gemm_plan_mode(), fixed = reel__gemm_plan_fixed();
	reel__gemm_plan_set_mode(REEL__PLAN_MEASURE, 0);
	reel__gemm_plan_clear();
	enum { M = 16, N = 96, K = 24 };
	reel_real a[(M + 1) * K], b[K * N], c[(M + 1) * N]; /* one row more for the (M + 1)-row product below */
	double want[M * N];
	reel_rng r;
	reel_rng_seed(&r, 9);
	fill(a, (M + 1) * K, &r);
	fill(b, K * N, &r);
	ref_product(M, N, K, 1, a, K, 1, b, 1, K, 0, c, want, N, 1); /* b stored (N, K): B^T */
	int choice = -1, stable = 1;
	for (int rep = 0; rep < 20; rep++) {
		reel__gemm(M, N, K, 1, a, K, 1, b, 1, K, 0, c, N, 1);
		reel__gemm_plan p[4];
		int np = reel__gemm_plan_list(p, 4);
		CHECK(np == 1 && reel__gemm_plan_count() == 1, "one shape, %d plans after %d products", np, rep + 1);
		if (np != 1)
			break;
		if (rep == 0)
			choice = p[0].choice;
		stable &= p[0].choice == choice && p[0].uses == rep + 1;
		if (rep == 0) {
			CHECK(p[0].m == M && p[0].n == N && p[0].k == K && p[0].layout == 2, "key %dx%dx%d layout %d", p[0].m,
			      p[0].n, p[0].k, p[0].layout);
			CHECK(choice >= 0 && choice < reel__gemm_candidates() && p[0].gflops[choice] > 0,
			      "choice %d measured at %g GFLOP/s", choice, choice >= 0 ? p[0].gflops[choice] : 0);
			int best = 0;
			for (int i = 0; i < reel__gemm_candidates(); i++)
				if (p[0].gflops[i] > p[0].gflops[best])
					best = i;
			CHECK(best == choice, "the choice (%s) is the fastest measured (%s)", reel__gemm_candidate_name(choice),
			      reel__gemm_candidate_name(best));
		}
	}
	CHECK(stable, "the choice and the use count hold over 20 products");
	double got[M * N];
	for (int i = 0; i < M * N; i++)
		got[i] = c[i];
	CHECK_CLOSE("planned product", got, want, M * N, 1e-5, 1e-5);
	/* another layout of the same (m, n, k) is another plan */
	reel__gemm(M, N, K, 1, a, K, 1, b, 1, K, 1, c, N, 1);
	CHECK(reel__gemm_plan_count() == 2, "beta 1 is planned apart (%d plans)", reel__gemm_plan_count());
	/* fixed: no measuring, no new plan */
	reel__gemm_plan_set_mode(REEL__PLAN_FIXED, 1);
	reel__gemm(M + 1, N, K, 1, a, K, 1, b, 1, K, 0, c, N, 1);
	CHECK(reel__gemm_plan_count() == 2, "a fixed mode planned a shape");
	reel__gemm_plan_clear();
	CHECK(reel__gemm_plan_count() == 0, "cleared");
	/* a full table: a new shape runs with the candidate most shapes chose
	 * at its thread count, not BLIS's own choice */
	CHECK(reel__gemm_plan_lookup(7, 7, 7, 0, 1) == -1, "an unplanned shape of an empty table is measured");
	int full = 0;
	for (int i = 1; i < 100000 && !full; i++)
		full = !reel__gemm_plan_add(i, 3, 5, 0, 1, i % 4 ? "reel" : "blis");
	CHECK(full && reel__gemm_plan_count() > 1000, "the table filled at %d plans", reel__gemm_plan_count());
	int pick = reel__gemm_plan_lookup(7, 7, 99999, 0, 1);
	CHECK(pick == 1, "with the table full a new shape runs with %s, expected reel (3 of 4 plans chose it)",
	      pick < 0 ? "(measured)" : reel__gemm_candidate_name(pick));
	CHECK(reel__gemm_plan_lookup(7, 7, 99999, 0, 2) == 0, "at another thread count (none planned): BLIS's own");
	reel__gemm_plan_clear();
	reel__gemm_plan_set_mode(mode, fixed);
}

void suite_gemm_plan(void)
{
	test_candidates_agree();
	test_plan_cached();
}
