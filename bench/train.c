/* reel_bench train: one real model trained end to end for a fixed number of
 * steps (by default the date-normalisation seq2seq model of `reel_bench s2s
 * --task dates`), reporting steps/s and where the time goes: GEMM (measured
 * in the engine's one GEMM function), tape bookkeeping (nodes recorded and
 * replayed times the per-node cost measured by `overhead` in this run), and
 * elementwise ops (the rest). */
#include "bench.h"
#include "s2s.h"

#include <stdio.h>
#include <string.h>

/* ns per node, record + replay, on a chain of one-element ops */
static double node_cost_ns(void)
{
	reel_tape *t = reel_tape_new(0, 1);
	reel_params *ps = reel_params_new();
	reel_tensor *w = reel_param_new(ps, "w", 1, (int[]){1});
	w->data[0] = 0.5f;
	double best = 1e9;
	for (int r = 0; r < 5; r++) {
		double t0 = bench_now();
		reel_tensor *x = w;
		for (int i = 0; i < 20000; i++)
			x = (i & 1) ? reel_tanh(t, x) : reel_add(t, x, w);
		reel_backward(t, reel_sum(t, x));
		double ns = (bench_now() - t0) * 1e9 / 20000;
		best = ns < best ? ns : best;
		reel_tape_reset(t);
	}
	reel_params_free(ps);
	reel_tape_free(t);
	return best;
}

int bench_train(int argc, char **argv)
{
	int steps = 200;
	if (argc >= 2 && !strcmp(argv[0], "--steps"))
		steps = atoi(argv[1]);
	if (steps < 1) {
		fprintf(stderr, "train: --steps must be a positive integer\n");
		return 2;
	}
	reel_task task;
	reel_err e;
	reel_task_init(&task, "dates", 0, 0, &e);
	reel_seq2seq_opts o = {.src_vocab = task.src_vocab, .tgt_vocab = task.tgt_vocab, .emb_size = 32,
	                       .hidden_size = 128, .cell = &reel_cell_lstm, .enc_layers = 1, .dec_layers = 1,
	                       .bidirectional = 1, .attention = REEL_ATTN_ADDITIVE, .bridge = 1, .input_feeding = 1,
	                       .bos = REEL_TASK_BOS, .eos = REEL_TASK_EOS, .pad = REEL_TASK_PAD};
	reel_params *ps = reel_params_new();
	reel_seq2seq m;
	reel_rng rng;
	reel_rng_seed(&rng, 1);
	if (reel_seq2seq_init(&m, ps, "", &o, &rng, &e) != REEL_OK) {
		fprintf(stderr, "train: %s\n", e.msg);
		return 1;
	}
	reel_optim_opts oo = reel_optim_defaults(REEL_ADAM);
	oo.lr = 3e-3;
	reel_optim *opt = reel_optim_new(ps, &oo, &e);
	reel_tape *t = reel_tape_new(0, 1);
	const int B = 64;
	int32_t src[REEL_TASK_MAX_LEN * 64], tgt[REEL_TASK_MAX_LEN * 64];
	int len[64], S, T;
	double node_ns = node_cost_ns();
	size_t nodes = 0;
	reel_profile_reset();
	reel_profile_enable(1);
	double t0 = bench_now();
	for (int s = 0; s < steps; s++) {
		reel_task_batch(&task, &rng, B, src, len, &S, tgt, &T, NULL, NULL);
		reel_s2s_batch b = {.src = src, .src_len = len, .S = S, .B = B, .tgt = tgt, .T = T};
		reel_tape_reset(t);
		reel_params_zero_grad(ps);
		reel_tensor *loss = reel_seq2seq_loss(t, &m, &b, 1.0);
		if (!loss || reel_backward(t, loss) != REEL_OK) {
			fprintf(stderr, "train: %s\n", reel_tape_error(t));
			return 1;
		}
		nodes += reel_tape_get_stats(t).nodes;
		reel_clip_grad_norm(ps, 5.0);
		reel_optim_step(opt, loss->data[0], &e);
	}
	double total = bench_now() - t0;
	reel_profile_enable(0);
	reel_profile p = reel_profile_get();
	double book = (double)nodes * node_ns * 1e-9;
	printf("end to end: dates seq2seq (bi-LSTM 128, additive attention, batch %d), %d steps in %.2f s: %.1f steps/s\n", B,
	       steps, total, steps / total);
	printf("  GEMM                %5.1f%%  (%ld calls, measured)\n", 100 * p.gemm_seconds / total, p.gemm_calls);
	printf("  tape bookkeeping    %5.1f%%  (%.0f nodes/step x %.1f ns/node recorded + replayed)\n", 100 * book / total,
	       (double)nodes / steps, node_ns);
	printf("  elementwise, rest   %5.1f%%  (the remainder: activations, copies, softmax, optimizer, data)\n",
	       100 * (total - p.gemm_seconds - book) / total);
	printf("  arena peak          %.1f MB\n", reel_tape_get_stats(t).arena_peak / 1e6);
	reel_optim_free(opt);
	reel_tape_free(t);
	reel_params_free(ps);
	return 0;
}
