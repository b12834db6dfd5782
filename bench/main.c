/* reel_bench: benchmark programs.  Usage: reel_bench [overhead [N]] */
#include "bench.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "overhead"))
		return bench_overhead(argc > 2 ? argc - 2 : 0, argv + 2);
	fprintf(stderr, "usage: reel_bench [overhead [N]]\n");
	return 2;
}
