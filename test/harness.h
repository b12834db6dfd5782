/* A tiny test harness whose exit code tells the truth.
 *
 * A suite is a function; inside it, th_case("name") starts a case (ending
 * the previous one) and CHECK(cond, fmt, ...) records a failure with
 * file:line, the expression and a message.  A case passes when none of its
 * checks failed.  main() prints failures as they happen and closes with
 * "N passed, M failed"; it returns non-zero on any failure. */
#ifndef REEL_TEST_HARNESS_H
#define REEL_TEST_HARNESS_H

#include "reel.h"

void th_case(const char *name);
int th_check(int ok, const char *file, int line, const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Is the current case selected by the command-line filter? */
int th_selected(void);
/* For a slow case (seconds natively, many minutes under valgrind): 1 when
 * REEL_QUICK is set in the environment (make valgrind sets it), and the
 * case is then counted as skipped, not passed; the caller returns or skips
 * its body.  0 otherwise. */
int th_slow(void);

#define CHECK(cond, ...) th_check(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

/* |a - b| <= atol + rtol * max(|a|, |b|), elementwise; reports the worst. */
int th_close(const char *what, const double *a, const double *b, size_t n, double rtol, double atol,
             const char *file, int line);
#define CHECK_CLOSE(what, a, b, n, rtol, atol) th_close(what, a, b, n, rtol, atol, __FILE__, __LINE__)

/* Golden fixtures (safetensors written by the generators in test/). */
/* A leaf tensor on t holding the fixture tensor s (any dtype), with or
 * without gradient. */
reel_tensor *fx_leaf(reel_tape *t, const reel_st_tensor *s, int grad);
/* Compare n computed values with a fixture tensor: about 1e-5 relative in
 * the float build, 1e-10 in the double build (the fixtures are float64). */
void fx_compare(const char *what, const reel_real *got, size_t n, const reel_st_tensor *want, const char *file,
                int line);
#define FX_COMPARE(what, got, n, want) fx_compare(what, got, n, want, __FILE__, __LINE__)
/* The same with the float build's tolerances times scale (the double
 * build's are unchanged): for a composition whose float roundoff is
 * amplified by its conditioning, said where it is used. */
void fx_compare_scaled(const char *what, const reel_real *got, size_t n, const reel_st_tensor *want, double scale,
                       const char *file, int line);

/* The suites (one per test file). */
#define TH_SUITES(X) \
	X(suite_engine)  \
	X(suite_safetensors) \
	X(suite_gradcheck_ops) \
	X(suite_golden_ops) \
	X(suite_errors) \
	X(suite_layers) \
	X(suite_optim) \
	X(suite_learning) \
	X(suite_attention) \
	X(suite_seq2seq) \
	X(suite_bench_refs) \
	X(suite_api) \
	X(suite_config) \
	X(suite_data) \
	X(suite_data_real) \
	X(suite_resume) \
	X(suite_hardening) \
	X(suite_cells) \
	X(suite_classic) \
	X(suite_faults) \
	X(suite_classic2) \
	X(suite_gemm_plan) \
	X(suite_classic3) \
	X(suite_narx)

#define TH_DECL(s) void s(void);
TH_SUITES(TH_DECL)
#undef TH_DECL

#endif
