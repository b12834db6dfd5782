/* reel_bench cells: a cell written as equations (configs/cells/lstm.json,
 * compiled by models/cellc.c) against the built-in LSTM it restates, one
 * training step each (forward over T steps, loss sum(Y * R), full BPTT),
 * interleaved in one run, medians after warm-up.  The ratio is the cost of
 * the cell language: the target is within 1.10x.
 *
 *   reel_bench cells [--T 50] [--B 32] [--I 256] [--H 256] [--reps 7] [--threads 1] */
#include "bench.h"

#include "cellc.h"

#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int bench_cells(int argc, char **argv)
{
	int T = 50, B = 32, I = 256, H = 256, reps = 7, threads = 1;
	for (int i = 0; i + 1 < argc; i += 2) {
		int v = atoi(argv[i + 1]);
		if (!strcmp(argv[i], "--T")) T = v;
		else if (!strcmp(argv[i], "--B")) B = v;
		else if (!strcmp(argv[i], "--I")) I = v;
		else if (!strcmp(argv[i], "--H")) H = v;
		else if (!strcmp(argv[i], "--reps")) reps = v;
		else if (!strcmp(argv[i], "--threads")) threads = v;
		else {
			fprintf(stderr, "usage: reel_bench cells [--T N] [--B N] [--I N] [--H N] [--reps N] [--threads N]\n");
			return 2;
		}
	}
	if (reps < 1 || reps > 1000)
		reps = 7;
	bli_thread_set_num_threads(threads);
	reel_err e = {0};
	reel_cfg *cfg = reel_cfg_load("configs/cells/lstm.json", NULL, 0, &e);
	if (!cfg) {
		fprintf(stderr, "cells: %s (run from the repository root)\n", e.msg);
		return 1;
	}
	reel_cfg_obj root = reel_cfg_root(cfg);
	reel_cells_read(&root);
	if (reel_cfg_nerrors(cfg)) {
		fprintf(stderr, "cells: %s", reel_cfg_errors(cfg));
		reel_cfg_free(cfg);
		return 1;
	}
	reel_cfg_free(cfg);
	const reel_cell *cells[2] = {&reel_cell_lstm, reel_cell_find("lstm_eq")};
	reel_params *ps[2];
	reel_rnn r[2];
	reel_rng rng;
	reel_rng_seed(&rng, 1);
	for (int k = 0; k < 2; k++) {
		reel_rnn_opts o = {.cell = cells[k], .input_size = I, .hidden_size = H, .num_layers = 1};
		ps[k] = reel_params_new();
		if (!cells[k] || reel_rnn_init(&r[k], ps[k], "", &o, &rng, &e) != REEL_OK) {
			fprintf(stderr, "cells: %s\n", cells[k] ? e.msg : "lstm_eq not registered");
			return 1;
		}
	}
	size_t nx = (size_t)T * B * I, ny = (size_t)T * B * H;
	reel_real *X = malloc(nx * sizeof *X), *R = malloc(ny * sizeof *R);
	double *ms[2] = {malloc((size_t)reps * sizeof(double)), malloc((size_t)reps * sizeof(double))};
	for (size_t i = 0; i < nx; i++)
		X[i] = (reel_real)reel_rng_range(&rng, -1, 1);
	for (size_t i = 0; i < ny; i++)
		R[i] = (reel_real)reel_rng_range(&rng, -1, 1) / (reel_real)ny;
	reel_tape *t = reel_tape_new(0, 1);
	for (int rep = -2; rep < reps; rep++)
		for (int k = 0; k < 2; k++) {
			double t0 = bench_now();
			reel_tape_reset(t);
			reel_params_zero_grad(ps[k]);
			reel_tensor *x = reel_tensor_from(t, 3, (int[]){T, B, I}, X, REEL_GRAD);
			reel_rnn_out out;
			reel_rnn_forward(t, &r[k], x, NULL, NULL, NULL, &out);
			reel_tensor *loss = reel_sum(t, reel_mul(t, out.y, reel_tensor_wrap(t, 3, (int[]){T, B, H}, R)));
			if (!loss || reel_backward(t, loss) != REEL_OK) {
				fprintf(stderr, "cells: %s\n", reel_tape_error(t));
				return 1;
			}
			if (rep >= 0)
				ms[k][rep] = (bench_now() - t0) * 1e3;
		}
	qsort(ms[0], (size_t)reps, sizeof(double), cmp);
	qsort(ms[1], (size_t)reps, sizeof(double), cmp);
	double a = ms[0][reps / 2], b = ms[1][reps / 2];
	printf("training step, LSTM T=%d B=%d I=%d H=%d, %d thread%s, median of %d: built-in lstm %.3f ms, "
	       "JSON lstm_eq (configs/cells/lstm.json) %.3f ms, ratio %.3fx\n",
	       T, B, I, H, threads, threads == 1 ? "" : "s", reps, a, b, b / a);
	reel_tape_free(t);
	for (int k = 0; k < 2; k++) {
		reel_params_free(ps[k]);
		free(ms[k]);
	}
	free(X);
	free(R);
	return 0;
}
