/* Encoder-decoder: gradient checks of a tiny model step (double build), a
 * learning test on reversal, beam search against greedy, decoding details
 * and configuration errors. */
#include "gradcheck.h"
#include "harness.h"
#include "s2s.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef REEL_DOUBLE
/* A tiny fixed batch: S = 4, B = 2, T = 3 (targets end in eos 2, pad 0). */
static const int32_t SRC[] = {3, 1, 4, 2, 2, 5, 1, 0};
static const int SRC_LEN[] = {4, 3};
static const int32_t TGT[] = {4, 3, 5, 2, 2, 0};

static reel_seq2seq GM;

static reel_tensor *s2s_loss_fn(reel_tape *t, reel_tensor **in, void *c)
{
	(void)in;
	(void)c;
	reel_s2s_batch b = {.src = SRC, .src_len = SRC_LEN, .S = 4, .B = 2, .tgt = TGT, .T = 3};
	return reel_seq2seq_loss(t, &GM, &b, 1.0);
}

static void gradchecks(void)
{
	static const struct {
		const char *name;
		const reel_cell *cell;
		reel_attn_kind attn;
		int bi, feeding, dec_layers, tie, bridge;
	} cs[] = {
		{"gradcheck seq2seq: LSTM, additive, bidirectional, input feeding, bridge", &reel_cell_lstm,
		 REEL_ATTN_ADDITIVE, 1, 1, 1, 0, 1},
		{"gradcheck seq2seq: GRU, general, 2 decoder layers, tied embeddings", &reel_cell_gru, REEL_ATTN_GENERAL, 0,
		 0, 2, 1, 1},
		{"gradcheck seq2seq: RNN, dot, zero bridge", &reel_cell_rnn_tanh, REEL_ATTN_DOT, 1, 1, 1, 0, 0},
		{"gradcheck seq2seq: LSTM without attention", &reel_cell_lstm, REEL_ATTN_NONE, 0, 0, 1, 0, 1},
		/* cells with parameters of their own, driven by hand in the decoder */
		{"gradcheck seq2seq: peephole LSTM, additive, bidirectional, bridge", &reel_cell_peephole_lstm,
		 REEL_ATTN_ADDITIVE, 1, 1, 2, 0, 1},
		{"gradcheck seq2seq: IndRNN, general", &reel_cell_indrnn, REEL_ATTN_GENERAL, 0, 1, 1, 0, 1},
	};
	for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
		th_case(cs[i].name);
		if (!th_selected())
			continue;
		reel_params *ps = reel_params_new();
		reel_rng rng;
		reel_rng_seed(&rng, 40 + i);
		reel_err e;
		reel_seq2seq_opts o = {.src_vocab = 6, .tgt_vocab = 6, .emb_size = cs[i].tie ? 4 : 3, .hidden_size = 4,
		                       .cell = cs[i].cell, .enc_layers = 1, .dec_layers = cs[i].dec_layers,
		                       .bidirectional = cs[i].bi, .attention = cs[i].attn, .attn_size = 3,
		                       .bridge = cs[i].bridge, .input_feeding = cs[i].feeding, .tie_embeddings = cs[i].tie,
		                       .bos = 1, .eos = 2, .pad = 0};
		if (!CHECK(reel_seq2seq_init(&GM, ps, "s2s.", &o, &rng, &e) == REEL_OK, "%s", e.msg))
			continue;
		gradcheck(s2s_loss_fn, NULL, 0, NULL, ps, (gc_opts){.rtol = 1e-5, .atol = 1e-8});
		reel_params_free(ps);
	}
}
#else
static void gradchecks(void) {}
#endif

/* ---- a trained tiny model (float build) ------------------------------------------ */
#ifndef REEL_DOUBLE

static void train_tiny(reel_seq2seq *m, reel_params *ps, reel_task *task)
{
	reel_err e = {0};
	CHECK(reel_task_init(task, "reverse", 5, 8, &e) == REEL_OK, "%s", e.msg);
	reel_rng rng;
	reel_rng_seed(&rng, 3);
	reel_seq2seq_opts o = {.src_vocab = task->src_vocab, .tgt_vocab = task->tgt_vocab, .emb_size = 16,
	                       .hidden_size = 64, .cell = &reel_cell_lstm, .enc_layers = 1, .dec_layers = 1,
	                       .bidirectional = 1, .attention = REEL_ATTN_ADDITIVE, .bridge = 1, .input_feeding = 1,
	                       .bos = REEL_TASK_BOS, .eos = REEL_TASK_EOS, .pad = REEL_TASK_PAD};
	CHECK(reel_seq2seq_init(m, ps, "", &o, &rng, &e) == REEL_OK, "%s", e.msg);
	reel_s2s_train_opts to = {.steps = 300, .batch = 32, .lr = 3e-3, .clip = 5, .tf_ratio = 1, .warmup = 15, .seed = 1};
	CHECK(reel_s2s_train(m, ps, task, &to, NULL, &e) == REEL_OK, "%s", e.msg);
}

static void learning_and_decoding(void)
{
	th_case("learning seq2seq: reversal of length 5-8 reaches 98% held-out exact match");
	if (!th_selected() || th_slow()) /* under REEL_QUICK the beam cases on the trained model go too */
		return;
	reel_params *ps = reel_params_new();
	reel_seq2seq m;
	reel_task task;
	train_tiny(&m, ps, &task);
	reel_s2s_eval ev;
	reel_err e;
	CHECK(reel_s2s_evaluate(&m, &task, 99, 500, 1, &ev, &e) == REEL_OK, "%s", e.msg);
	printf("  reversal 5-8: %.1f%% held-out exact match after 300 steps\n", 100.0 * ev.correct / ev.n);
	CHECK(ev.correct >= 0.98 * ev.n, "exact match %d of %d", ev.correct, ev.n);

	th_case("beam: width 1 equals greedy; wider never scores below greedy");
	reel_tape *t = reel_tape_new(0, 1);
	reel_rng rng;
	reel_rng_seed(&rng, 12);
	int32_t src[64 * 40], tgt[64 * 40];
	int len[40], S, T, B = 40, L = 20;
	reel_task_batch(&task, &rng, B, src, len, &S, tgt, &T, NULL, NULL);
	reel_s2s_batch b = {.src = src, .src_len = len, .S = S, .B = B};
	reel_s2s_result g, b1, b4;
	reel_s2s_result_init(&g, B, L, S);
	reel_s2s_result_init(&b1, B, L, S);
	reel_s2s_result_init(&b4, B, L, S);
	CHECK(reel_seq2seq_greedy(t, &m, &b, L, &g) == REEL_OK, "greedy: %s", reel_tape_error(t));
	CHECK(reel_seq2seq_beam(t, &m, &b, 1, L, 0.0, &b1) == REEL_OK, "beam 1: %s", reel_tape_error(t));
	CHECK(reel_seq2seq_beam(t, &m, &b, 4, L, 0.0, &b4) == REEL_OK, "beam 4: %s", reel_tape_error(t));
	int same = 1, not_worse = 1, attn_ok = 1;
	for (int k = 0; k < B; k++) {
		same &= g.len[k] == b1.len[k] && !memcmp(g.tokens + k * L, b1.tokens + k * L, (size_t)g.len[k] * 4) &&
		        fabs(g.score[k] - b1.score[k]) < 1e-4;
		not_worse &= b4.score[k] >= g.score[k] - 1e-4;
		for (int i = 0; i < b4.len[k]; i++) {
			const reel_real *row = b4.attn + ((size_t)k * L + i) * S;
			double sum = 0;
			for (int s = 0; s < S; s++) {
				sum += row[s];
				attn_ok &= s < len[k] || row[s] == 0;
			}
			attn_ok &= fabs(sum - 1) < 1e-4;
		}
	}
	CHECK(same, "beam width 1 differs from greedy");
	CHECK(not_worse, "beam width 4 returned a lower score than greedy");
	CHECK(attn_ok, "decoded attention rows sum to 1 with zero weight on padding");

	th_case("beam on an untrained model: width 1 equals greedy, width 3 not worse, length cap respected");
	reel_params *ps2 = reel_params_new();
	reel_seq2seq m2;
	reel_seq2seq_opts o2 = m.o;
	o2.attention = REEL_ATTN_DOT;
	reel_rng_seed(&rng, 5);
	CHECK(reel_seq2seq_init(&m2, ps2, "", &o2, &rng, &e) == REEL_OK, "%s", e.msg);
	reel_s2s_result_deinit(&g);
	reel_s2s_result_deinit(&b1);
	reel_s2s_result_deinit(&b4);
	int L2 = 6;
	reel_s2s_result_init(&g, B, L2, S);
	reel_s2s_result_init(&b1, B, L2, S);
	reel_s2s_result_init(&b4, B, L2, S);
	reel_seq2seq_greedy(t, &m2, &b, L2, &g);
	reel_seq2seq_beam(t, &m2, &b, 1, L2, 0.0, &b1);
	reel_seq2seq_beam(t, &m2, &b, 3, L2, 0.0, &b4);
	same = 1;
	not_worse = 1;
	int capped = 1;
	for (int k = 0; k < B; k++) {
		same &= g.len[k] == b1.len[k] && !memcmp(g.tokens + k * L2, b1.tokens + k * L2, (size_t)g.len[k] * 4);
		not_worse &= b4.score[k] >= g.score[k] - 1e-4;
		capped &= g.len[k] <= L2 && b4.len[k] <= L2 && b4.len[k] >= 1;
	}
	CHECK(same && not_worse && capped, "same %d, not worse %d, capped %d", same, not_worse, capped);
	reel_s2s_result_deinit(&g);
	reel_s2s_result_deinit(&b1);
	reel_s2s_result_deinit(&b4);

	th_case("decoding runs in the memory of one step: the arena does not grow with the output length");
	{
		size_t peak[2][2];
		int longest = 0;
		for (int beam = 0; beam < 2; beam++)
			for (int i = 0; i < 2; i++) {
				int L = i ? 64 : 8;
				reel_tape *td = reel_tape_new(0, 1);
				reel_s2s_result r;
				reel_s2s_result_init(&r, B, L, S);
				reel_status st = beam ? reel_seq2seq_beam(td, &m2, &b, 3, L, 0.0, &r) : reel_seq2seq_greedy(td, &m2, &b, L, &r);
				CHECK(st == REEL_OK, "%s", reel_tape_error(td));
				for (int k = 0; k < B; k++)
					longest = r.len[k] > longest ? r.len[k] : longest;
				peak[beam][i] = reel_tape_get_stats(td).arena_peak;
				reel_s2s_result_deinit(&r);
				reel_tape_free(td);
			}
		CHECK(longest >= 32, "the untrained model ended every output by step %d: the check needs long outputs", longest);
		for (int beam = 0; beam < 2; beam++)
			CHECK(peak[beam][1] <= peak[beam][0] + peak[beam][0] / 4,
			      "%s: arena peak %zu bytes for 64 steps against %zu for 8", beam ? "beam" : "greedy", peak[beam][1],
			      peak[beam][0]);
	}
	th_case("reel_tape_release refuses a tape that recorded nodes since the mark");
	{
		reel_tape *tr = reel_tape_new(0, 1);
		reel_tensor *x = reel_tensor_new2(tr, 2, 3, REEL_GRAD);
		reel_tape_mark mk = reel_tape_get_mark(tr);
		reel_tensor *y = reel_tanh(tr, x);
		CHECK(y && reel_tape_release(tr, &mk) == REEL_ERR_ARG && strstr(reel_tape_error(tr), "nodes were recorded"),
		      "%s", reel_tape_error(tr));
		reel_tape_reset(tr);
		reel_tape_set_grad(tr, 0);
		x = reel_tensor_new2(tr, 2, 3, REEL_NOGRAD);
		mk = reel_tape_get_mark(tr);
		size_t before = reel_tape_get_stats(tr).arena_used;
		for (int i = 0; i < 100; i++)
			reel_tanh(tr, x);
		CHECK(reel_tape_release(tr, &mk) == REEL_OK && reel_tape_get_stats(tr).arena_used == before,
		      "release did not give the memory back: %zu bytes in use, %zu at the mark",
		      reel_tape_get_stats(tr).arena_used, before);
		reel_tape_free(tr);
	}
	reel_params_free(ps2);

	th_case("seq2seq: scheduled sampling (teacher forcing below 1) trains on its own predictions");
	reel_s2s_batch tb = {.src = src, .src_len = len, .S = S, .B = B, .tgt = tgt, .T = T};
	reel_tape_reset(t);
	reel_tensor *l1 = reel_seq2seq_loss(t, &m, &tb, 1.0);
	double full = l1 ? l1->data[0] : NAN;
	reel_tape_reset(t);
	reel_tensor *l0 = reel_seq2seq_loss(t, &m, &tb, 0.0);
	CHECK(l0 && isfinite(l0->data[0]) && reel_backward(t, l0) == REEL_OK, "loss with ratio 0: %s", reel_tape_error(t));
	CHECK(isfinite(full) && l0 && l0->data[0] >= full - 1e-3,
	      "feeding its own predictions should not beat teacher forcing on a trained model (%g vs %g)",
	      l0 ? l0->data[0] : NAN, full);
	reel_tape_free(t);
	reel_params_free(ps);
}

#endif

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void config_errors(void)
{
	th_case("seq2seq: bad options give a clear message");
	reel_params *ps = reel_params_new();
	reel_seq2seq m;
	reel_rng rng;
	reel_rng_seed(&rng, 1);
	reel_err e = {0};
	reel_seq2seq_opts o = {.src_vocab = 6, .tgt_vocab = 6, .emb_size = 3, .hidden_size = 5, .cell = &reel_cell_gru,
	                       .enc_layers = 1, .dec_layers = 1, .bidirectional = 1, .bos = 1, .eos = 2};
	CHECK(reel_seq2seq_init(&m, ps, "", &o, &rng, &e) == REEL_ERR_ARG && strstr(e.msg, "even hidden_size"), "%s", e.msg);
	o.bidirectional = 0;
	o.tie_embeddings = 1;
	CHECK(reel_seq2seq_init(&m, ps, "", &o, &rng, &e) == REEL_ERR_ARG && strstr(e.msg, "tied"), "%s", e.msg);
	o.tie_embeddings = 0;
	o.eos = 9;
	CHECK(reel_seq2seq_init(&m, ps, "", &o, &rng, &e) == REEL_ERR_ARG && strstr(e.msg, "eos"), "%s", e.msg);
	reel_task task;
	CHECK(reel_task_init(&task, "translate", 1, 2, &e) == REEL_ERR_ARG && strstr(e.msg, "translate"), "%s", e.msg);
	CHECK(reel_task_init(&task, "reverse", 9, 3, &e) == REEL_ERR_ARG, "bad range");
	reel_params_free(ps);

	th_case("tasks: the held-out split shares no date and no string with the training split");
	{
		reel_task tr, ho;
		for (int k = 0; k < 2; k++) {
			CHECK(reel_task_init(&tr, k ? "reverse" : "dates", 5, 5, &e) == REEL_OK, "%s", e.msg);
			ho = tr;
			tr.split = REEL_SPLIT_TRAIN;
			ho.split = REEL_SPLIT_HELDOUT;
			static char seen[20000][REEL_TASK_MAX_LEN];
			char s[REEL_TASK_MAX_LEN], g[REEL_TASK_MAX_LEN];
			reel_rng_seed(&rng, 8);
			for (int i = 0; i < 20000; i++)
				reel_task_example(&tr, &rng, s, seen[i]);
			qsort(seen, 20000, REEL_TASK_MAX_LEN, cmp_str);
			int overlap = 0;
			for (int i = 0; i < 2000; i++) {
				reel_task_example(&ho, &rng, s, g);
				overlap += bsearch(g, seen, 20000, REEL_TASK_MAX_LEN, cmp_str) != NULL;
			}
			CHECK(overlap == 0, "%s: %d held-out targets also occur in training", k ? "reverse" : "dates", overlap);
		}
	}

	th_case("tasks: dates are valid ISO dates matching their source; reversal reverses");
	CHECK(reel_task_init(&task, "dates", 0, 0, &e) == REEL_OK, "%s", e.msg);
	reel_rng_seed(&rng, 4);
	int ok = 1, formats_with_month_name = 0;
	for (int i = 0; i < 500; i++) {
		char s[REEL_TASK_MAX_LEN], g[REEL_TASK_MAX_LEN];
		reel_task_example(&task, &rng, s, g);
		int y, mo, d;
		ok &= sscanf(g, "%4d-%2d-%2d", &y, &mo, &d) == 3 && strlen(g) == 10 && y >= 1950 && y < 2050 && mo >= 1 &&
		      mo <= 12 && d >= 1 && d <= 31;
		char dd[4];
		snprintf(dd, sizeof dd, "%d", d);
		ok &= strstr(s, dd) != NULL; /* the day appears in the source */
		formats_with_month_name += strpbrk(s, "aeiouAEIOU") != NULL;
	}
	CHECK(ok, "every target is a valid date whose day appears in the source");
	CHECK(formats_with_month_name > 100 && formats_with_month_name < 500, "a mix of numeric and named formats");
	CHECK(reel_task_init(&task, "reverse", 3, 3, &e) == REEL_OK, "reverse");
	char s[REEL_TASK_MAX_LEN], g[REEL_TASK_MAX_LEN];
	reel_task_example(&task, &rng, s, g);
	CHECK(strlen(s) == 3 && s[0] == g[2] && s[2] == g[0], "%s -> %s", s, g);
}

void suite_seq2seq(void)
{
	config_errors();
	gradchecks();
#ifndef REEL_DOUBLE
	learning_and_decoding();
#endif
}
