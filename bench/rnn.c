/* reel_bench rnn: training-step timings of reel's tape against the
 * hand-written reference and the GEMM floor, interleaved in one run at one
 * thread count, medians of several repetitions after warm-up.
 *
 *   reel_bench rnn [--cell lstm] [--T 50] [--B 32] [--I 256] [--H 256]
 *                  [--layers 1] [--bidirectional 0] [--threads 1] [--reps 5] [--peak 0|1] [--json]
 *   reel_bench grid [--threads 1,2] [--reps 5] [--json]      the standard grid
 *
 * A step is: forward over T steps, loss sum(Y * R), full BPTT backward with
 * every weight, bias and input gradient.  The floor is the hand-written
 * step's sequence of BLIS calls with no elementwise work. */
#include "bench.h"
#include "hand.h"

#include "../engine/internal.h"

#include <blis.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct rnn_case {
	const char *cell;
	int T, B, I, H, layers, bi, threads, reps;
	int no_peak; /* skip the 1024^3 peak product (runs under valgrind) */
} rnn_case;

typedef struct rnn_result {
	double tape_ms, hand_ms, floor_ms, peak_gflops, gflop;
	double tape_lo, tape_hi, hand_lo, hand_hi, floor_lo, floor_hi; /* min and max over the repetitions */
	double rss_growth; /* bytes: resident set after the timed steps minus before the tape's first step */
	size_t tape_bytes, hand_bytes, arena_step_bytes, nodes;
	int new_mallocs; /* arena chunk allocations after the first step */
	double max_rel_diff; /* tape vs hand-written gradients in this run */
	double load;         /* 1-minute load average after the timed rounds */
} rnn_result;

/* The hand-written reference of a cell, if there is one (RNN, LSTM, GRU);
 * any other registered cell is timed on the tape only. */
static int hand_of(const reel_cell *cell, hand_kind *kind)
{
	if (cell == &reel_cell_rnn_tanh)
		*kind = HAND_RNN;
	else if (cell == &reel_cell_gru)
		*kind = HAND_GRU;
	else if (cell == &reel_cell_lstm)
		*kind = HAND_LSTM;
	else
		return 0;
	return 1;
}

/* The resident set (bytes) now, from /proc/self/statm; 0 where there is none. */
static double rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, resident = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = 0;
	fclose(f);
	return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

/* The 1-minute load average now, from /proc/loadavg; -1 where there is none.
 * Stored with each case: other work on the machine explains odd timings. */
static double load_avg(void)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double l = -1;
	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

/* min and max of v[0..n) */
static void spread(const double *v, int n, double *lo, double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (int i = 0; i < n; i++) {
		*lo = fmin(*lo, v[i]);
		*hi = fmax(*hi, v[i]);
	}
}

/* Square GEMM throughput (1024^3, best of seven) at the current thread
 * count: the peak to compare with. */
static double gemm_peak(void)
{
	static double cached[64];
	int th = (int)bli_thread_get_num_threads();
	if (th < 64 && cached[th] > 0)
		return cached[th];
	const int n = 1024;
	reel_real *a = calloc((size_t)n * n, sizeof *a), *b = calloc((size_t)n * n, sizeof *b),
	          *c = calloc((size_t)n * n, sizeof *c);
	for (int i = 0; i < n * n; i++)
		a[i] = b[i] = (reel_real)(i % 7) * (reel_real)0.1;
	double m = 0;
	for (int r = 0; r < 9; r++) { /* two warm-ups, then the best of seven */
		double t0 = bench_now();
		reel__gemm(n, n, n, 1, a, n, 1, b, n, 1, 0, c, n, 1);
		double g = 2.0 * n * n * n / (bench_now() - t0) / 1e9;
		if (r >= 2 && g > m)
			m = g;
	}
	free(a);
	free(b);
	free(c);
	if (th < 64)
		cached[th] = m;
	return m;
}

/* Largest |a - b| / max |a| over n elements; infinite when either holds a
 * NaN or an infinity (fmax alone would skip a NaN). */
static double rel_diff(const double *a, const reel_real *b, size_t n)
{
	double scale = 0, d = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(a[i]) || !isfinite((double)b[i]))
			return INFINITY;
		scale = fmax(scale, fabs(a[i]));
	}
	for (size_t i = 0; i < n; i++)
		d = fmax(d, fabs(a[i] - b[i]) / (scale + 1e-30));
	return d;
}

/* The largest grad diff (above) that still counts as equal: float rounding
 * over a few hundred steps of BPTT (observed: ~1e-6 in float, ~1e-15 in
 * double), with two orders of magnitude of room. */
#define GRAD_TOL (sizeof(reel_real) == sizeof(float) ? 1e-4 : 1e-10)

/* 1 when the case's tape and hand-written gradients agree (or it has no
 * hand-written reference); else says so on stderr and returns 0. */
static int grads_agree(const rnn_case *c, const rnn_result *r)
{
	if (isnan(r->max_rel_diff) || r->max_rel_diff <= GRAD_TOL)
		return 1;
	fprintf(stderr, "rnn: FAILED: %s%s%s T=%d B=%d H=%d at %d thread(s): the tape's gradients differ from the "
	        "hand-written step's by %.3g of the largest gradient (tolerance %.0e)\n", c->layers > 1 ? "2-layer " : "",
	        c->bi ? "bi-" : "", c->cell, c->T, c->B, c->H, c->threads, r->max_rel_diff, GRAD_TOL);
	return 0;
}

static int run_case(const rnn_case *c, rnn_result *res)
{
	memset(res, 0, sizeof *res);
	bli_thread_set_num_threads(c->threads);
	const reel_cell *cell = reel_cell_find(c->cell);
	hand_kind kind = HAND_RNN;
	int has_hand = cell && hand_of(cell, &kind);
	if (!cell) {
		fprintf(stderr, "rnn: no cell named %s\n", c->cell);
		return 0;
	}
	reel_params *ps = reel_params_new();
	reel_rnn r;
	reel_rng rng;
	reel_rng_seed(&rng, 1);
	reel_err e;
	reel_rnn_opts o = {.cell = cell, .input_size = c->I, .hidden_size = c->H, .num_layers = c->layers,
	                   .bidirectional = c->bi};
	if (reel_rnn_init(&r, ps, "", &o, &rng, &e) != REEL_OK) {
		fprintf(stderr, "rnn: %s\n", e.msg);
		return 0;
	}
	int W = r.dirs * c->H;
	size_t nx = (size_t)c->T * c->B * c->I, ny = (size_t)c->T * c->B * W;
	reel_real *X = malloc(nx * sizeof *X), *R = malloc(ny * sizeof *R), *dX = calloc(nx, sizeof *dX);
	for (size_t i = 0; i < nx; i++)
		X[i] = (reel_real)reel_rng_range(&rng, -1, 1);
	for (size_t i = 0; i < ny; i++)
		R[i] = (reel_real)reel_rng_range(&rng, -1, 1) / (reel_real)ny;
	hand_net hand = {0};
	if (has_hand && !hand_net_init(&hand, kind, &r, c->T, c->B)) {
		fprintf(stderr, "rnn: out of memory\n");
		return 0;
	}
	if (has_hand) {
		/* the hand-written step's buffers become resident here, so that
		 * the growth measured below is the tape's */
		hand_net_step(&hand, X, R, dX);
		reel_params_zero_grad(ps);
	}
	double rss0 = rss_bytes();
	reel_tape *t = reel_tape_new(0, 1);
	size_t np;
	reel_params_grads(ps, &np);
	double *hg = malloc(np * sizeof *hg);
	double *vt = malloc((size_t)c->reps * sizeof(double)), *vh = malloc((size_t)c->reps * sizeof(double)),
	       *vf = malloc((size_t)c->reps * sizeof(double));
	size_t allocs_after_first = 0;
	for (int k = -2; k < c->reps; k++) { /* two warm-up rounds, then timed rounds, interleaved */
		double t0 = bench_now();
		reel_tape_reset(t);
		reel_params_zero_grad(ps);
		reel_tensor *x = reel_tensor_from(t, 3, (int[]){c->T, c->B, c->I}, X, REEL_GRAD);
		reel_rnn_out out;
		reel_rnn_forward(t, &r, x, NULL, NULL, NULL, &out);
		reel_tensor *loss = reel_sum(t, reel_mul(t, out.y, reel_tensor_wrap(t, 3, (int[]){c->T, c->B, W}, R)));
		if (!loss || reel_backward(t, loss) != REEL_OK) {
			fprintf(stderr, "rnn: %s\n", reel_tape_error(t));
			return 0;
		}
		double t1 = bench_now();
		if (k == -2 && !has_hand) {
			reel_tape_stats s = reel_tape_get_stats(t);
			res->arena_step_bytes = s.arena_used;
			res->nodes = s.nodes;
			continue;
		}
		if (k == -2) {
			/* validate before timing: the two steps' parameter and input
			 * gradients agree (a NaN anywhere makes the difference infinite) */
			reel_real *g = reel_params_grads(ps, NULL);
			for (size_t i = 0; i < np; i++)
				hg[i] = g[i];
			const reel_real *gx = reel_tensor_grad(x);
			double *tx = malloc(nx * sizeof *tx);
			if (!tx || !gx) {
				fprintf(stderr, "rnn: %s\n", gx ? "out of memory" : "the input has no gradient");
				return 0;
			}
			for (size_t i = 0; i < nx; i++)
				tx[i] = gx[i];
			reel_params_zero_grad(ps);
			memset(dX, 0, nx * sizeof *dX);
			hand_net_step(&hand, X, R, dX);
			res->max_rel_diff = fmax(rel_diff(hg, g, np), rel_diff(tx, dX, nx));
			free(tx);
			reel_tape_stats s = reel_tape_get_stats(t);
			res->arena_step_bytes = s.arena_used;
			res->nodes = s.nodes;
			continue;
		}
		if (k == -1)
			allocs_after_first = reel_tape_get_stats(t).chunk_allocs;
		reel_params_zero_grad(ps);
		if (!has_hand) {
			if (k >= 0)
				vt[k] = vh[k] = vf[k] = (t1 - t0) * 1e3;
			continue;
		}
		double t2 = bench_now();
		hand_net_step(&hand, X, R, dX);
		double t3 = bench_now();
		/* the floor: the same GEMMs on the same buffers, elementwise work off */
		hand_net_set_floor(&hand, 1);
		hand_net_step(&hand, X, R, dX);
		hand_net_set_floor(&hand, 0);
		double t4 = bench_now();
		if (k >= 0) {
			vt[k] = (t1 - t0) * 1e3;
			vh[k] = (t3 - t2) * 1e3;
			vf[k] = (t4 - t3) * 1e3;
		}
	}
	reel_tape_stats s = reel_tape_get_stats(t);
	res->rss_growth = rss_bytes() - rss0;
	res->load = load_avg();
	res->new_mallocs = (int)(s.chunk_allocs - allocs_after_first);
	spread(vt, c->reps, &res->tape_lo, &res->tape_hi);
	spread(vh, c->reps, &res->hand_lo, &res->hand_hi);
	spread(vf, c->reps, &res->floor_lo, &res->floor_hi);
	res->tape_ms = bench_median(vt, c->reps);
	res->hand_ms = has_hand ? bench_median(vh, c->reps) : NAN;
	res->floor_ms = has_hand ? bench_median(vf, c->reps) : NAN;
	res->max_rel_diff = has_hand ? res->max_rel_diff : NAN;
	res->tape_bytes = s.arena_peak;
	res->hand_bytes = has_hand ? hand.bytes : 0;
	/* FLOPs of the matrix products of one step: each 2-d weight (rows, cols)
	 * multiplies T*B rows forward (rows*cols multiply-adds each) and twice
	 * that backward (the input's and the weight's gradient); for the
	 * PyTorch layout, T*B*GH*(F + H) per layer and direction */
	double fl = 0;
	for (int l = 0; l < c->layers; l++)
		for (int d = 0; d < r.dirs; d++)
			for (int i = 0; i < cell->nparams; i++)
				if (r.p[l][d].w[i] && r.p[l][d].w[i]->ndim == 2)
					fl += 6.0 * c->T * c->B * (double)r.p[l][d].w[i]->size;
	res->gflop = fl / 1e9;
	res->peak_gflops = c->no_peak ? NAN : gemm_peak();
	if (has_hand)
		hand_net_free(&hand);
	reel_tape_free(t);
	reel_params_free(ps);
	free(X);
	free(R);
	free(dX);
	free(hg);
	free(vt);
	free(vh);
	free(vf);
	return 1;
}

static void print_header(int json, int reps)
{
	if (json)
		return;
	printf("One training step (forward over T steps, loss sum(Y * R), full BPTT backward with every gradient),\n"
	       "three ways, interleaved in each round: 2 warm-up rounds, then %d timed rounds.\n"
	       "  tape ms      reel's tape (reel_rnn_forward + loss + reel_backward): median [min-max] of the rounds, ms\n"
	       "  hand ms      the same step hand-written (bench/hand.c, same BLIS calls, hand-derived BPTT), ms\n"
	       "  floor ms     the hand-written step's matrix products alone (no elementwise work), ms\n"
	       "  tape/hand, tape/floor   ratios of the medians (1.00 = as fast)\n"
	       "  GFLOP/s      the step's matrix-product FLOPs / tape median; %% of peak: against a 1024^3 GEMM\n"
	       "               (best of 7) at the same thread count, so long products can exceed 100%%\n"
	       "  RSS +MB      the process's resident set after the timed rounds minus before the tape's first step\n"
	       "               (arena, gradients, planner): the tape's memory as the OS sees it; MB = 1e6 bytes\n"
	       "  hand MB      the hand-written step's buffers; arena KB/step: the tape's arena use in one step\n"
	       "  nodes        nodes recorded per step; grad diff: largest |tape - hand| / max |gradient| (checked each run)\n"
	       "Matrix products run with the code the planner chose per shape (reel_bench plans shows the choices).\n\n",
	       reps);
	printf("| case | threads | tape ms [min-max] | hand ms [min-max] | floor ms [min-max] | tape/hand | tape/floor | "
	       "GFLOP/s | %% of peak | RSS +MB | hand MB | arena KB/step | nodes | grad diff |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
}

/* A number for JSON: null when there is none (no hand-written reference). */
static const char *jnum(char *buf, size_t n, const char *fmt, double v)
{
	if (isnan(v))
		snprintf(buf, n, "null");
	else
		snprintf(buf, n, fmt, v);
	return buf;
}

static void print_row(const rnn_case *c, const rnn_result *r, int json, int first)
{
	char name[96];
	snprintf(name, sizeof name, "%s%s%s T=%d B=%d I=%d H=%d", c->layers > 1 ? "2-layer " : "",
	         c->bi ? "bi-" : "", c->cell, c->T, c->B, c->I, c->H);
	double gf = r->gflop / (r->tape_ms / 1e3);
	if (json) {
		char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32], b7[32], b8[32];
		int has = !isnan(r->hand_ms);
		printf("%s{\"cell\":\"%s\",\"T\":%d,\"B\":%d,\"I\":%d,\"H\":%d,\"layers\":%d,\"bidirectional\":%d,"
		       "\"threads\":%d,\"tape_ms\":%.4f,\"hand_ms\":%s,\"floor_ms\":%s,\"gflop\":%.6f,"
		       "\"tape_gflops\":%.3f,\"peak_gflops\":%s,\"tape_bytes\":%zu,\"hand_bytes\":%zu,"
		       "\"arena_step_bytes\":%zu,\"nodes\":%zu,\"new_mallocs\":%d,\"grad_rel_diff\":%s,"
		       "\"tape_ms_min\":%.4f,\"tape_ms_max\":%.4f,\"hand_ms_min\":%s,\"hand_ms_max\":%s,"
		       "\"floor_ms_min\":%s,\"floor_ms_max\":%s,\"rss_growth_bytes\":%.0f,\"reps\":%d,\"load\":%.2f}",
		       first ? "" : ",\n", c->cell, c->T, c->B, c->I, c->H, c->layers, c->bi, c->threads, r->tape_ms,
		       jnum(b1, sizeof b1, "%.4f", r->hand_ms), jnum(b2, sizeof b2, "%.4f", r->floor_ms), r->gflop, gf,
		       jnum(b8, sizeof b8, "%.3f", r->peak_gflops), r->tape_bytes, r->hand_bytes, r->arena_step_bytes, r->nodes, r->new_mallocs,
		       jnum(b3, sizeof b3, "%.3g", r->max_rel_diff), r->tape_lo, r->tape_hi,
		       jnum(b4, sizeof b4, "%.4f", has ? r->hand_lo : NAN), jnum(b5, sizeof b5, "%.4f", has ? r->hand_hi : NAN),
		       jnum(b6, sizeof b6, "%.4f", has ? r->floor_lo : NAN), jnum(b7, sizeof b7, "%.4f", has ? r->floor_hi : NAN),
		       r->rss_growth, c->reps, r->load);
		return;
	}
	if (isnan(r->hand_ms)) { /* a cell without a hand-written reference: the tape only */
		printf("| %s | %d | %.3f [%.3f-%.3f] | - | - | - | - | %.1f | %.0f%% | %.1f | - | %.0f | %zu | - |\n", name,
		       c->threads, r->tape_ms, r->tape_lo, r->tape_hi, gf, 100 * gf / r->peak_gflops, r->rss_growth / 1e6,
		       r->arena_step_bytes / 1e3, r->nodes);
		if (r->new_mallocs)
			printf("  (!) the arena allocated %d more chunk(s) after the first step\n", r->new_mallocs);
		return;
	}
	printf("| %s | %d | %.3f [%.3f-%.3f] | %.3f [%.3f-%.3f] | %.3f [%.3f-%.3f] | %.2f | %.2f | %.1f | %.0f%% | %.1f | "
	       "%.1f | %.0f | %zu | %.1e |\n",
	       name, c->threads, r->tape_ms, r->tape_lo, r->tape_hi, r->hand_ms, r->hand_lo, r->hand_hi, r->floor_ms,
	       r->floor_lo, r->floor_hi, r->tape_ms / r->hand_ms, r->tape_ms / r->floor_ms, gf, 100 * gf / r->peak_gflops,
	       r->rss_growth / 1e6, r->hand_bytes / 1e6, r->arena_step_bytes / 1e3, r->nodes, r->max_rel_diff);
	if (r->new_mallocs)
		printf("  (!) the arena allocated %d more chunk(s) after the first step\n", r->new_mallocs);
}

static int parse_int(const char *opt, const char *v, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long x = v ? strtol(v, &end, 10) : 0;
	if (!v || errno || *end || end == v || x < lo || x > hi) {
		fprintf(stderr, "rnn: %s: expected an integer in [%d, %d], got \"%s\"\n", opt, lo, hi, v ? v : "");
		return 0;
	}
	*out = (int)x;
	return 1;
}

int bench_rnn(int argc, char **argv)
{
	rnn_case c = {"lstm", 50, 32, 256, 256, 1, 0, 1, 5, 0};
	int json = 0, I_set = 0;
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int ok = 1;
		if (!strcmp(o, "--json")) {
			json = 1;
			continue;
		}
		if (!strcmp(o, "--cell")) {
			if (!v || !reel_cell_find(v)) {
				fprintf(stderr, "rnn: --cell must name a registered cell:");
				for (int k = 0; k < reel_cell_count(); k++)
					fprintf(stderr, " %s", reel_cell_at(k)->name);
				fprintf(stderr, "\n");
				return 2;
			}
			c.cell = v;
		} else if (!strcmp(o, "--T")) ok = parse_int(o, v, 1, 100000, &c.T);
		else if (!strcmp(o, "--B")) ok = parse_int(o, v, 1, 100000, &c.B);
		else if (!strcmp(o, "--I")) ok = (I_set = parse_int(o, v, 1, 100000, &c.I));
		else if (!strcmp(o, "--H")) ok = parse_int(o, v, 1, 100000, &c.H);
		else if (!strcmp(o, "--layers")) ok = parse_int(o, v, 1, REEL_RNN_MAX_LAYERS, &c.layers);
		else if (!strcmp(o, "--bidirectional")) ok = parse_int(o, v, 0, 1, &c.bi);
		else if (!strcmp(o, "--threads")) ok = parse_int(o, v, 1, 256, &c.threads);
		else if (!strcmp(o, "--reps")) ok = parse_int(o, v, 1, 1000, &c.reps);
		else if (!strcmp(o, "--peak")) {
			int peak = 1;
			ok = parse_int(o, v, 0, 1, &peak);
			c.no_peak = !peak;
		}
		else {
			fprintf(stderr, "rnn: unknown option %s\n", o);
			return 2;
		}
		if (!ok)
			return 2;
		i++;
	}
	if (!I_set)
		c.I = c.H;
	rnn_result r;
	if (!run_case(&c, &r))
		return 1;
	if (json)
		printf("[");
	print_header(json, c.reps);
	print_row(&c, &r, json, 1);
	if (json)
		printf("]\n");
	return grads_agree(&c, &r) ? 0 : 1;
}

/* The grid's cases at one thread count: RNN, GRU and LSTM over T in
 * {50, 200} x B in {1, 32} x I = H in {64, 256, 512}, then the cases of
 * issue 14's goals that lie outside it: a tiny LSTM (T100 B1 H16), an
 * LSTM T30 B64 H384 and a 2-layer bidirectional LSTM T40 B16 H128.
 * Returns the count (at most GRID_MAX). */
#define GRID_MAX 48
static int grid_cases(rnn_case *cases, int threads, int reps)
{
	static const char *const cells[] = {"rnn", "gru", "lstm"};
	static const int Ts[] = {50, 200}, Bs[] = {1, 32}, Hs[] = {64, 256, 512};
	int n = 0;
	for (int ci = 0; ci < 3; ci++)
		for (int ti = 0; ti < 2; ti++)
			for (int bi = 0; bi < 2; bi++)
				for (int hi = 0; hi < 3; hi++)
					cases[n++] = (rnn_case){cells[ci], Ts[ti], Bs[bi], Hs[hi], Hs[hi], 1, 0, threads, reps, 0};
	cases[n++] = (rnn_case){"lstm", 100, 1, 16, 16, 1, 0, threads, reps, 0};
	cases[n++] = (rnn_case){"lstm", 30, 64, 384, 384, 1, 0, threads, reps, 0};
	cases[n++] = (rnn_case){"lstm", 40, 16, 128, 128, 2, 1, threads, reps, 0};
	return n;
}

/* reel_bench grid [--threads N | --threads 1,2] [--second all|goal] [--reps N] [--json]:
 * every grid case at each thread count.  --second goal runs the second
 * thread count only on the cases the threads goal is about (B = 32,
 * H >= 256), to keep `make bench` short. */
int bench_grid(int argc, char **argv)
{
	int json = 0, reps = 5, threads[2] = {1, 2}, nthreads = 2, second_all = 1;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			if (!parse_int("--reps", argv[++i], 1, 1000, &reps))
				return 2;
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			const char *v = argv[++i], *comma = strchr(v, ',');
			char first[16];
			if (comma && (size_t)(comma - v) < sizeof first) {
				memcpy(first, v, (size_t)(comma - v));
				first[comma - v] = 0;
				if (!parse_int("--threads", first, 1, 256, &threads[0]) ||
				    !parse_int("--threads", comma + 1, 1, 256, &threads[1]))
					return 2;
				nthreads = 2;
			} else {
				if (!parse_int("--threads", v, 1, 256, &threads[0]))
					return 2;
				nthreads = 1;
			}
		} else if (!strcmp(argv[i], "--second") && i + 1 < argc) {
			const char *v = argv[++i];
			if (strcmp(v, "all") && strcmp(v, "goal")) {
				fprintf(stderr, "grid: --second: expected all or goal, got \"%s\"\n", v);
				return 2;
			}
			second_all = !strcmp(v, "all");
		} else {
			fprintf(stderr, "grid: unknown option %s (--json, --reps N, --threads N or N,M, --second all|goal)\n",
			        argv[i]);
			return 2;
		}
	}
	rnn_case cases[GRID_MAX];
	int n = grid_cases(cases, 1, reps), failed = 0;
	if (json)
		printf("[");
	print_header(json, reps);
	int first = 1;
	for (int th = 0; th < nthreads; th++)
		for (int i = 0; i < n; i++) {
			rnn_case c = cases[i];
			if (th > 0 && !second_all && !(c.B == 32 && c.H >= 256 && c.layers == 1))
				continue;
			c.threads = threads[th];
			rnn_result r;
			if (!run_case(&c, &r))
				return 1;
			print_row(&c, &r, json, first);
			failed += !grads_agree(&c, &r);
			first = 0;
			fflush(stdout);
		}
	if (json)
		printf("]\n");
	if (failed)
		fprintf(stderr, "rnn: FAILED: %d case(s) whose tape gradients differ from the hand-written ones\n", failed);
	return failed ? 1 : 0;
}

/* reel_bench plans [--threads N] [--reps N]: the matmul planner's choices
 * for every product shape of the grid (and the 1024^3 peak product): runs
 * each grid case's step once, then lists the planned shapes with the
 * GFLOP/s each candidate measured and the one chosen. */
static int cmp_plan(const void *a, const void *b)
{
	const reel__gemm_plan *x = a, *y = b;
	double fx = (double)x->m * x->n * x->k, fy = (double)y->m * y->n * y->k;
	return fx < fy ? -1 : fx > fy ? 1 : x->layout - y->layout;
}

int bench_plans(int argc, char **argv)
{
	int threads = 1;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			if (!parse_int("--threads", argv[++i], 1, 256, &threads))
				return 2;
		} else {
			fprintf(stderr, "plans: unknown option %s (--threads N)\n", argv[i]);
			return 2;
		}
	}
	if (reel__gemm_plan_mode() != REEL__PLAN_MEASURE) {
		printf("matmul planner: %s; nothing is measured (unset REEL_GEMM and BLIS_ARCH_TYPE to see the choices)\n",
		       reel__gemm_plan_why());
		return 0;
	}
	rnn_case cases[GRID_MAX];
	int n = grid_cases(cases, threads, 1);
	for (int i = 0; i < n; i++) {
		rnn_result r;
		if (!run_case(&cases[i], &r) || !grads_agree(&cases[i], &r))
			return 1;
	}
	int np = reel__gemm_plan_count();
	reel__gemm_plan *p = malloc((size_t)(np > 0 ? np : 1) * sizeof *p);
	np = reel__gemm_plan_list(p, np);
	qsort(p, (size_t)np, sizeof *p, cmp_plan);
	int nc = reel__gemm_candidates();
	printf("Matrix-product shapes of the grid at %d thread(s), as the planner measured them once each:\n"
	       "C (m x n) = A (m x k) B (k x n); layout: which operands are stored transposed, and beta (0: C overwritten,\n"
	       "1: accumulated); then GFLOP/s of each candidate (best of its rounds; - : not measured: the C product\n"
	       "only runs up to 64^3 multiply-adds, and a candidate more than 2x slower than the best after the first\n"
	       "round is dropped); chosen: the one every later product of the shape uses.  Candidates: blis = BLIS's\n"
	       "own kernel set (%s here), reel = a C product, the others BLIS's kernel sets this CPU supports.\n\n",
	       threads, bli_arch_string(bli_arch_query_id()));
	printf("| m | n | k | layout |");
	for (int c = 0; c < nc; c++)
		printf(" %s |", reel__gemm_candidate_name(c));
	printf(" chosen | chosen / blis |\n|---|---|---|---|");
	for (int c = 0; c <= nc; c++)
		printf("---|");
	printf("---|\n");
	for (int i = 0; i < np; i++) {
		char lay[48];
		snprintf(lay, sizeof lay, "%s%s%s beta %d", p[i].layout & 1 ? "A^T " : "", p[i].layout & 2 ? "B^T " : "",
		         p[i].layout & 4 ? "C^T " : "", p[i].layout >> 3 & 1);
		printf("| %d | %d | %d | %s |", p[i].m, p[i].n, p[i].k, lay);
		for (int c = 0; c < nc; c++)
			if (p[i].gflops[c] > 0)
				printf(" %.1f |", p[i].gflops[c]);
			else
				printf(" - |");
		double base = p[i].gflops[0], best = p[i].gflops[p[i].choice];
		if (base > 0)
			printf(" %s | %.2f |\n", reel__gemm_candidate_name(p[i].choice), best / base);
		else
			printf(" %s | - |\n", reel__gemm_candidate_name(p[i].choice));
	}
	free(p);
	return 0;
}

/* The theoretical single-precision peak of one core, from what the running
 * system tells: the clock (cpufreq's maximum when sysfs has it, else
 * /proc/cpuinfo's "cpu MHz") times the FMA width (AVX-512: 16 float lanes,
 * AVX2 with FMA: 8) times an ASSUMED 2 FMA units times 2 flops per FMA.
 * Returns GFLOP/s, or 0 when the clock or the width cannot be read; how
 * goes into how either way. */
static double core_peak(char *how, size_t n)
{
	double mhz = 0;
	const char *clock_src = NULL;
	FILE *f = fopen("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "r");
	long khz = 0;
	if (f) {
		if (fscanf(f, "%ld", &khz) == 1 && khz > 0) {
			mhz = khz / 1e3;
			clock_src = "cpufreq's cpuinfo_max_freq";
		}
		fclose(f);
	}
	int avx512 = 0, avx2 = 0, fma = 0;
	char line[8192], model[128] = "";
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof line, f)) {
		double v;
		if (!clock_src && sscanf(line, "cpu MHz : %lf", &v) == 1 && v > 0) {
			mhz = v;
			clock_src = "/proc/cpuinfo's \"cpu MHz\" (the clock the kernel reports; boost clocks can be higher, "
			            "and a virtual machine reports a nominal one)";
		}
		if (!model[0] && !strncmp(line, "model name", 10)) {
			const char *c = strchr(line, ':');
			if (c)
				snprintf(model, sizeof model, "%s", c + 2);
			model[strcspn(model, "\n")] = 0;
		}
		if (!strncmp(line, "flags", 5) && !avx2) {
			for (char *tok = strtok(strchr(line, ':') ? strchr(line, ':') + 1 : line, " \t\n"); tok;
			     tok = strtok(NULL, " \t\n")) {
				avx512 |= !strcmp(tok, "avx512f");
				avx2 |= !strcmp(tok, "avx2");
				fma |= !strcmp(tok, "fma");
			}
		}
	}
	if (f)
		fclose(f);
	int lanes = avx512 ? 16 : avx2 && fma ? 8 : 0;
	if (mhz <= 0 || lanes == 0) {
		snprintf(how, n, "theoretical peak: cannot be determined here (%s%s)",
		         mhz <= 0 ? "no clock in cpufreq or /proc/cpuinfo" : "",
		         lanes == 0 ? (mhz <= 0 ? "; no AVX-512 or AVX2+FMA flag" : "no AVX-512 or AVX2+FMA flag") : "");
		return 0;
	}
	double g = mhz * 1e6 * lanes * 2 * 2 / 1e9;
	snprintf(how, n, "theoretical peak of one core: %.0f MHz x %d float lanes (%s) x 2 FMA units x 2 flops per FMA "
	         "= %.1f GFLOP/s.  Clock: %s.  The 2 FMA units are an assumption (nothing at run time tells how many "
	         "the core has); CPU: %s", mhz, lanes, avx512 ? "AVX-512" : "AVX2", g, clock_src, model[0] ? model : "?");
	return g;
}

/* s as a JSON string (quotes and backslashes escaped) on stdout. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if ((unsigned char)*s >= 0x20)
			putchar(*s);
	}
	putchar('"');
}

/* reel_bench peak [--threads N] [--json]: a square 1024^3 product (best of
 * 7 after 2 warm-ups, with the planner's choice) at 1 thread and, when more
 * are asked, at N threads, against the theoretical peak above (one thread
 * per core assumed). */
int bench_peak(int argc, char **argv)
{
	int json = 0, maxth = 1;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			if (!parse_int("--threads", argv[++i], 1, 256, &maxth))
				return 2;
		} else {
			fprintf(stderr, "peak: unknown option %s (--threads N, --json)\n", argv[i]);
			return 2;
		}
	}
	char how[1024];
	double core = core_peak(how, sizeof how);
	if (json) {
		printf("{\"how\":");
		json_str(how);
		printf(",\"runs\":[");
	} else {
		printf("Square product C (1024 x 1024) = A (1024 x 1024) B (1024 x 1024), best of 7 after 2 warm-ups, "
		       "with the planner's choice of kernel:\n");
	}
	int ths[2] = {1, maxth};
	for (int k = 0; k < (maxth > 1 ? 2 : 1); k++) {
		int th = ths[k];
		bli_thread_set_num_threads(th);
		double g = gemm_peak(), p = core * th;
		if (json) {
			printf("%s{\"threads\":%d,\"gemm1024_gflops\":%.3f,\"peak_gflops\":", k ? "," : "", th, g);
			if (p > 0)
				printf("%.3f}", p);
			else
				printf("null}");
		} else if (p > 0) {
			printf("  %d thread(s): %.1f GFLOP/s = %.0f%% of the theoretical peak, %.1f GFLOP/s (%d core(s) x %.1f)%s\n",
			       th, g, 100 * g / p, p, th, core,
			       g > p ? "\n    (above the computed peak: the clock or the FMA-unit count it assumes is too low)" : "");
		} else {
			printf("  %d thread(s): %.1f GFLOP/s (no theoretical peak to compare with)\n", th, g);
		}
	}
	if (json)
		printf("]}\n");
	else
		printf("  %s\n", how);
	return 0;
}
