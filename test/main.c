/* Test runner: runs every suite (optionally only cases whose name contains
 * argv[1]) and reports "N passed, M failed" for this build. */
#include "harness.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *filter;
static const char *current;
static int case_failed, passed, failed;

static void end_case(void)
{
	if (!current)
		return;
	if (case_failed) {
		failed++;
		printf("FAIL %s\n", current);
	} else {
		passed++;
	}
	current = NULL;
}

void th_case(const char *name)
{
	end_case();
	current = name;
	case_failed = 0;
}

int th_selected(void)
{
	return !filter || (current && strstr(current, filter));
}

int th_check(int ok, const char *file, int line, const char *expr, const char *fmt, ...)
{
	if (ok)
		return 1;
	case_failed = 1;
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

int main(int argc, char **argv)
{
	filter = argc > 1 ? argv[1] : NULL;
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
	printf("[%s build] %d passed, %d failed\n", REEL_REAL_NAME, passed, failed);
	return failed ? 1 : 0;
}
