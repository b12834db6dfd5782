/* Test runner: runs every suite (optionally only cases whose name contains
 * argv[1]) and reports "N passed, M failed" for this build. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *filter;
static const char *current;
static int case_failed, passed, failed, skipped;
static int quick;      /* REEL_QUICK set: th_slow() cases are skipped */
static int show_times; /* REEL_CASE_TIMES set: print each case's CPU time */
static clock_t started;

static void end_case(void)
{
	if (!current)
		return;
	if (case_failed > 0) {
		failed++;
		printf("FAIL %s\n", current);
	} else if (case_failed < 0) {
		skipped++;
	} else {
		passed++;
	}
	if (show_times)
		printf("  %.3f s  %s\n", (double)(clock() - started) / CLOCKS_PER_SEC, current);
	current = NULL;
}

void th_case(const char *name)
{
	end_case();
	current = name;
	case_failed = 0;
	started = clock();
}

int th_slow(void)
{
	if (!quick || !current || !th_selected())
		return 0;
	if (case_failed == 0)
		case_failed = -1; /* skipped, unless a check already failed */
	return 1;
}

int th_selected(void)
{
	return !filter || (current && strstr(current, filter));
}

int th_check(int ok, const char *file, int line, const char *expr, const char *fmt, ...)
{
	if (ok)
		return 1;
	case_failed = 1; /* also over a skip */
	printf("  %s:%d: [%s] check failed: %s: ", file, line, current ? current : "?", expr);
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return 0;
}

int th_close(const char *what, const double *a, const double *b, size_t n, double rtol, double atol,
             const char *file, int line)
{
	size_t worst = 0;
	double worst_excess = -1;
	for (size_t i = 0; i < n; i++) {
		double d = fabs(a[i] - b[i]), lim = atol + rtol * fmax(fabs(a[i]), fabs(b[i]));
		double excess = isnan(d) ? INFINITY : d - lim;
		if (excess > worst_excess) {
			worst_excess = excess;
			worst = i;
		}
	}
	if (n == 0 || worst_excess <= 0)
		return 1;
	return th_check(0, file, line, what, "element %zu of %zu: %.10g vs %.10g (rtol %g, atol %g)", worst,
	                n, a[worst], b[worst], rtol, atol);
}

reel_tensor *fx_leaf(reel_tape *t, const reel_st_tensor *s, int grad)
{
	int shape[REEL_MAX_DIMS];
	if (!s || s->ndim > REEL_MAX_DIMS)
		return reel_tape_fail(t, REEL_ERR_ARG, "fx_leaf: fixture tensor missing or over %d dims", REEL_MAX_DIMS);
	for (int d = 0; d < s->ndim; d++)
		shape[d] = (int)s->shape[d];
	reel_real *buf = malloc((s->count ? s->count : 1) * sizeof *buf);
	reel_st_to_real(s, buf);
	reel_tensor *x = reel_tensor_from(t, s->ndim, shape, buf, grad);
	free(buf);
	return x;
}

void fx_compare(const char *what, const reel_real *got, size_t n, const reel_st_tensor *want, const char *file,
                int line)
{
	fx_compare_scaled(what, got, n, want, 1, file, line);
}

void fx_compare_scaled(const char *what, const reel_real *got, size_t n, const reel_st_tensor *want, double scale,
                       const char *file, int line)
{
	if (!th_check(want && got && want->count == n, file, line, what, "fixture missing or of size %zu, expected %zu",
	              want ? want->count : 0, n))
		return;
	double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
	for (size_t i = 0; i < n; i++)
		a[i] = got[i];
	reel_st_to_double(want, b);
#ifdef REEL_DOUBLE
	(void)scale;
	th_close(what, a, b, n, 1e-10, 1e-12, file, line);
#else
	th_close(what, a, b, n, 1e-5 * scale, 1e-6 * scale, file, line);
#endif
	free(a);
	free(b);
}

int main(int argc, char **argv)
{
	filter = argc > 1 ? argv[1] : NULL;
	quick = getenv("REEL_QUICK") && *getenv("REEL_QUICK") && strcmp(getenv("REEL_QUICK"), "0");
	show_times = getenv("REEL_CASE_TIMES") != NULL;
	struct {
		const char *name;
		void (*fn)(void);
	} suites[] = {
#define TH_ENTRY(s) {#s, s},
		TH_SUITES(TH_ENTRY)
#undef TH_ENTRY
	};
	for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
		suites[i].fn();
		end_case();
	}
	if (skipped)
		printf("[%s build] %d slow case%s skipped (REEL_QUICK is set)\n", REEL_REAL_NAME, skipped,
		       skipped == 1 ? "" : "s");
	printf("[%s build] %d passed, %d failed\n", REEL_REAL_NAME, passed, failed);
	return failed ? 1 : 0;
}
