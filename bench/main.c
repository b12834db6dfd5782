/* reel_bench: benchmark and experiment programs.
 * Usage: reel_bench [overhead [N] | rnn | grid | plans | peak | train | s2s | s2s-table | layernorm | decode | forward] [options] */
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
	setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines appear as they happen, also in a log file */
	if (argc < 2 || !strcmp(argv[1], "overhead"))
		return bench_overhead(argc > 2 ? argc - 2 : 0, argv + 2);
	if (!strcmp(argv[1], "rnn"))
		return bench_rnn(argc - 2, argv + 2);
	if (!strcmp(argv[1], "cells"))
		return bench_cells(argc - 2, argv + 2);
	if (!strcmp(argv[1], "plans"))
		return bench_plans(argc - 2, argv + 2);
	if (!strcmp(argv[1], "peak"))
		return bench_peak(argc - 2, argv + 2);
	if (!strcmp(argv[1], "grid"))
		return bench_grid(argc - 2, argv + 2);
	if (!strcmp(argv[1], "train"))
		return bench_train(argc - 2, argv + 2);
	if (!strcmp(argv[1], "s2s"))
		return bench_s2s(argc - 2, argv + 2);
	if (!strcmp(argv[1], "s2s-table"))
		return bench_s2s_table(argc - 2, argv + 2);
	if (!strcmp(argv[1], "decode"))
		return bench_decode(argc - 2, argv + 2);
	if (!strcmp(argv[1], "forward"))
		return bench_forward(argc - 2, argv + 2);
	if (!strcmp(argv[1], "layernorm"))
		return bench_layernorm(argc - 2, argv + 2);
	fprintf(stderr, "usage: reel_bench overhead [N] | rnn [options] | grid [options] | plans [--threads N] | peak [--threads N] [--json] | train [--steps N] | s2s [options] | s2s-table [options] | layernorm [--reps N] [--threads N] | decode [--params CKPT | --steps N] | forward [--cell C] [--T N] [--B N] [--H N] | cells [--T N] [--B N] [--I N] [--H N]\n");
	return 2;
}
