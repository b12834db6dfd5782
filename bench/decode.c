/* reel_bench decode: decoding speed of a seq2seq model from a config
 * (default the dates model): sentences per second, greedy and beam 5,
 * batched as `reel decode` batches (64 sources), on the test split, with
 * the exact match it reaches.  The model is trained briefly first (into a
 * temporary run directory), or loaded from --params.
 *
 * reel_bench forward: one forward pass of a recurrent layer (T, B, H) with
 * the tape recording (as in training) and without (as in inference), to
 * set beside PyTorch's forward under torch.no_grad() (bench/torch_forward.py). */
#include "bench.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "infer.h"
#include "layers.h"
#include "model.h"
#include "train.h"

static int arg_int(const char *v, int *out)
{
	char *end;
	long x = strtol(v, &end, 10);
	if (*end || end == v || x < 0 || x > 100000000)
		return 0;
	*out = (int)x;
	return 1;
}

/* Decode every test source with width beam (1: greedy); sentences/s and exact match. */
static int run_decode(reel_model *m, int beam, int batch, double *rate, double *exact)
{
	reel_tape *t = reel_tape_new(0, 1);
	reel_data_rewind(m->data, REEL_TEST);
	long n = 0, ok = 0;
	double secs = 0;
	int rc = 0;
	for (;;) {
		reel_batch b;
		reel_err err = {0};
		int got = reel_data_next(m->data, REEL_TEST, batch, &b, &err);
		if (got <= 0) {
			rc = got < 0;
			break;
		}
		int maxlen = m->decode.max_len;
		reel_s2s_result r;
		if (reel_s2s_result_init(&r, b.B, maxlen, b.S) != REEL_OK) {
			rc = 1;
			break;
		}
		reel_s2s_batch sb = {.src = b.src, .src_len = b.src_len, .S = b.S, .B = b.B};
		double t0 = bench_now();
		reel_status st = beam > 1 ? reel_seq2seq_beam(t, &m->s2s, &sb, beam, maxlen, m->decode.alpha, &r)
		                          : reel_seq2seq_greedy(t, &m->s2s, &sb, maxlen, &r);
		secs += bench_now() - t0;
		if (st != REEL_OK) {
			fprintf(stderr, "decode: %s\n", reel_tape_error(t));
			reel_s2s_result_deinit(&r);
			rc = 1;
			break;
		}
		for (int k = 0; k < b.B; k++) {
			const int32_t *out = r.tokens + (size_t)k * maxlen;
			int same = 1;
			for (int i = 0; i < b.TT && same; i++) {
				int32_t want = b.tgt[i * b.B + k];
				if (want == m->s2s.o.pad)
					break;
				same = i < r.len[k] && out[i] == want;
				if (want == m->s2s.o.eos)
					break;
			}
			ok += same;
		}
		n += b.B;
		reel_s2s_result_deinit(&r);
	}
	reel_tape_free(t);
	reel_data_rewind(m->data, REEL_TEST);
	*rate = secs > 0 ? n / secs : 0;
	*exact = n ? (double)ok / n : 0;
	return rc;
}

int bench_decode(int argc, char **argv)
{
	const char *config = "configs/dates-attention.json", *params = NULL;
	int steps = 300, threads = 1;
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int ok = v != NULL;
		if (ok && !strcmp(o, "--config"))
			config = v;
		else if (ok && !strcmp(o, "--params"))
			params = v;
		else if (ok && !strcmp(o, "--steps"))
			ok = arg_int(v, &steps);
		else if (ok && !strcmp(o, "--threads"))
			ok = arg_int(v, &threads);
		else
			ok = 0;
		if (!ok) {
			fprintf(stderr, "usage: reel_bench decode [--config FILE] [--params CKPT | --steps N] [--threads N]\n");
			return 2;
		}
		i++;
	}
	char set_steps[64], set_valid[64];
	snprintf(set_steps, sizeof set_steps, "train.steps=%d", steps > 0 ? steps : 1);
	snprintf(set_valid, sizeof set_valid, "train.valid_every=%d", steps > 0 ? steps : 1);
	const char *sets[] = {set_steps, set_valid, "train.valid_batches=2"};
	reel_model *m;
	reel_err err = {0};
	char *errors = NULL;
	if (reel_model_new(config, sets, params ? 0 : 3, &m, &errors, &err) != REEL_OK) {
		fprintf(stderr, "%s%s\n", errors ? errors : "", err.msg);
		free(errors);
		return 1;
	}
	if (!m->is_s2s) {
		fprintf(stderr, "decode: %s is not a seq2seq model\n", config);
		reel_model_free(m);
		return 2;
	}
	if (params) {
		if (reel_model_load(m, params, &err) != REEL_OK) {
			fprintf(stderr, "%s\n", err.msg);
			reel_model_free(m);
			return 1;
		}
	} else {
		char dir[] = "/tmp/reel-bench-decode.XXXXXX";
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			reel_model_free(m);
			return 1;
		}
		reel_train_opts o = {.dir = dir, .force = 1};
		reel_train_result res;
		printf("decode: training %s for %d steps ...\n", config, steps);
		if (reel_train(m, &o, &res, &err) != REEL_OK) {
			fprintf(stderr, "%s\n", err.msg);
			reel_model_free(m);
			return 1;
		}
		printf("decode: trained %ld steps in %.1f s\n", res.steps, res.seconds);
		const char *files[] = {"config.json", "metrics.jsonl", "last.safetensors", "best.safetensors"};
		for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
			char p[128];
			snprintf(p, sizeof p, "%s/%s", dir, files[k]);
			unlink(p);
		}
		rmdir(dir);
	}
	reel_set_threads(threads);
	long n = m->info.n[REEL_TEST];
	printf("decode: %s, %ld test sentences, batches of 64, %d thread%s\n", config, n, threads, threads == 1 ? "" : "s");
	printf("| decoding | sentences/s | exact match |\n|---|---|---|\n");
	int beams[] = {1, 5};
	for (int k = 0; k < 2; k++) {
		double rate, exact;
		if (run_decode(m, beams[k], 64, &rate, &exact)) {
			reel_model_free(m);
			return 1;
		}
		printf("| %s | %.0f | %.2f%% |\n", beams[k] == 1 ? "greedy" : "beam 5", rate, 100 * exact);
	}
	reel_model_free(m);
	return 0;
}

int bench_forward(int argc, char **argv)
{
	int T = 50, B = 32, H = 256, reps = 21, threads = 1;
	const char *cell = "lstm";
	for (int i = 0; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];
		int ok = 1;
		if (!strcmp(o, "--T"))
			ok = arg_int(v, &T);
		else if (!strcmp(o, "--B"))
			ok = arg_int(v, &B);
		else if (!strcmp(o, "--H"))
			ok = arg_int(v, &H);
		else if (!strcmp(o, "--reps"))
			ok = arg_int(v, &reps);
		else if (!strcmp(o, "--threads"))
			ok = arg_int(v, &threads);
		else if (!strcmp(o, "--cell"))
			cell = v;
		else
			ok = 0;
		if (!ok || T < 1 || B < 1 || H < 1 || reps < 1) {
			fprintf(stderr, "usage: reel_bench forward [--cell lstm|gru|rnn] [--T N] [--B N] [--H N] [--reps N] [--threads N]\n");
			return 2;
		}
	}
	const reel_cell *c = !strcmp(cell, "gru") ? &reel_cell_gru : !strcmp(cell, "rnn") ? &reel_cell_rnn_tanh : &reel_cell_lstm;
	reel_set_threads(threads);
	reel_params *ps = reel_params_new();
	reel_rng rng;
	reel_rng_seed(&rng, 1);
	reel_rnn r;
	reel_rnn_opts o = {.cell = c, .input_size = H, .hidden_size = H, .num_layers = 1};
	reel_err err = {0};
	if (!ps || reel_rnn_init(&r, ps, "rnn.", &o, &rng, &err) != REEL_OK) {
		fprintf(stderr, "forward: %s\n", err.msg);
		reel_params_free(ps);
		return 1;
	}
	reel_real *x = malloc((size_t)T * B * H * sizeof *x);
	for (size_t i = 0; x && i < (size_t)T * B * H; i++)
		x[i] = (reel_real)reel_rng_range(&rng, -1, 1);
	reel_tape *t = reel_tape_new(0, 1);
	double *ms = malloc((size_t)reps * sizeof *ms), res[2];
	size_t peak[2];
	for (int grad = 1; grad >= 0 && x && t && ms; grad--) {
		reel_tape_set_grad(t, grad);
		reel_tape_set_training(t, grad);
		for (int k = 0; k < reps + 2; k++) {
			reel_tape_reset(t);
			double t0 = bench_now();
			reel_tensor *xt = reel_tensor_wrap(t, 3, (int[]){T, B, H}, x);
			reel_rnn_out out;
			if (reel_rnn_forward(t, &r, xt, NULL, NULL, NULL, &out) != REEL_OK) {
				fprintf(stderr, "forward: %s\n", reel_tape_error(t));
				break;
			}
			if (k >= 2)
				ms[k - 2] = 1e3 * (bench_now() - t0);
		}
		res[grad] = bench_median(ms, reps);
		peak[grad] = reel_tape_get_stats(t).arena_used;
	}
	printf("forward %s T=%d B=%d H=%d, %d thread%s, median of %d:\n", cell, T, B, H, threads, threads == 1 ? "" : "s",
	       reps);
	printf("  recording (training)   %8.3f ms  %7.1f MB of arena\n", res[1], peak[1] / 1e6);
	printf("  no gradient (inference) %7.3f ms  %7.1f MB of arena\n", res[0], peak[0] / 1e6);
	printf("{\"cell\": \"%s\", \"T\": %d, \"B\": %d, \"H\": %d, \"threads\": %d, \"grad_ms\": %.4f, \"nograd_ms\": %.4f}\n",
	       cell, T, B, H, threads, res[1], res[0]);
	free(x);
	free(ms);
	reel_tape_free(t);
	reel_params_free(ps);
	return 0;
}
