/* reel_bench s2s: train and evaluate a sequence-to-sequence model on a
 * synthetic task, print held-out exact match (overall and by source length)
 * and one decoded example with its attention matrix.
 * reel_bench s2s-table: reversal with and without attention, accuracy by
 * source length side by side (the effect Bahdanau et al. 2015 reported). */
#include "bench.h"
#include "s2s.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct s2s_args {
	const char *task, *cell, *attention;
	int min_len, max_len, steps, batch, emb, hidden, enc_layers, dec_layers, bidirectional, feeding, beam;
	int eval_n, show, attn_size;
	double lr, dropout, tf;
	uint64_t seed;
} s2s_args;

static int parse_int(const char *opt, const char *v, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || *end || end == v || x < lo || x > hi) {
		fprintf(stderr, "s2s: %s: expected an integer in [%d, %d], got \"%s\"\n", opt, lo, hi, v);
		return 0;
	}
	*out = (int)x;
	return 1;
}

static int parse_real(const char *opt, const char *v, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	if (errno || *end || end == v || !(x >= lo && x <= hi)) {
		fprintf(stderr, "s2s: %s: expected a number in [%g, %g], got \"%s\"\n", opt, lo, hi, v);
		return 0;
	}
	*out = x;
	return 1;
}

static int parse_args(int argc, char **argv, s2s_args *a)
{
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "s2s: %s needs a value\n", o);
			return 0;
		}
		int ok = 1, seed = 0;
		if (!strcmp(o, "--task")) a->task = v;
		else if (!strcmp(o, "--cell")) a->cell = v;
		else if (!strcmp(o, "--attention")) a->attention = v;
		else if (!strcmp(o, "--min-len")) ok = parse_int(o, v, 1, 62, &a->min_len);
		else if (!strcmp(o, "--max-len")) ok = parse_int(o, v, 1, 62, &a->max_len);
		else if (!strcmp(o, "--steps")) ok = parse_int(o, v, 1, 100000000, &a->steps);
		else if (!strcmp(o, "--batch")) ok = parse_int(o, v, 1, 4096, &a->batch);
		else if (!strcmp(o, "--emb")) ok = parse_int(o, v, 1, 4096, &a->emb);
		else if (!strcmp(o, "--hidden")) ok = parse_int(o, v, 2, 8192, &a->hidden);
		else if (!strcmp(o, "--attn-size")) ok = parse_int(o, v, 1, 8192, &a->attn_size);
		else if (!strcmp(o, "--enc-layers")) ok = parse_int(o, v, 1, 8, &a->enc_layers);
		else if (!strcmp(o, "--dec-layers")) ok = parse_int(o, v, 1, 8, &a->dec_layers);
		else if (!strcmp(o, "--bidirectional")) ok = parse_int(o, v, 0, 1, &a->bidirectional);
		else if (!strcmp(o, "--input-feeding")) ok = parse_int(o, v, 0, 1, &a->feeding);
		else if (!strcmp(o, "--beam")) ok = parse_int(o, v, 1, 64, &a->beam);
		else if (!strcmp(o, "--eval")) ok = parse_int(o, v, 1, 1000000, &a->eval_n);
		else if (!strcmp(o, "--show")) ok = parse_int(o, v, 0, 100, &a->show);
		else if (!strcmp(o, "--lr")) ok = parse_real(o, v, 0, 10, &a->lr);
		else if (!strcmp(o, "--dropout")) ok = parse_real(o, v, 0, 0.99, &a->dropout);
		else if (!strcmp(o, "--teacher-forcing")) ok = parse_real(o, v, 0, 1, &a->tf);
		else if (!strcmp(o, "--seed")) {
			ok = parse_int(o, v, 0, 2147483647, &seed);
			a->seed = (uint64_t)seed;
		} else {
			fprintf(stderr, "s2s: unknown option %s\n", o);
			return 0;
		}
		if (!ok)
			return 0;
		i++;
	}
	return 1;
}

typedef struct s2s_run {
	reel_params *ps;
	reel_seq2seq m;
	reel_task task;
} s2s_run;

static int build_and_train(const s2s_args *a, s2s_run *run, FILE *log)
{
	reel_err e = {0};
	const reel_cell *cell = reel_cell_find(a->cell); /* any registered cell */
	int attn = reel_attn_kind_from_name(a->attention);
	if (!cell || attn < 0) {
		fprintf(stderr, "s2s: --cell must name a registered cell (reel list) and --attention none, dot, general or additive\n");
		return 0;
	}
	if (reel_task_init(&run->task, a->task, a->min_len, a->max_len, &e) != REEL_OK) {
		fprintf(stderr, "s2s: %s\n", e.msg);
		return 0;
	}
	reel_seq2seq_opts o = {.src_vocab = run->task.src_vocab, .tgt_vocab = run->task.tgt_vocab, .emb_size = a->emb,
	                       .hidden_size = a->hidden, .cell = cell, .enc_layers = a->enc_layers,
	                       .dec_layers = a->dec_layers, .bidirectional = a->bidirectional,
	                       .attention = (reel_attn_kind)attn, .attn_size = a->attn_size, .bridge = 1,
	                       .input_feeding = a->feeding, .dropout = a->dropout, .bos = REEL_TASK_BOS,
	                       .eos = REEL_TASK_EOS, .pad = REEL_TASK_PAD};
	reel_rng rng;
	reel_rng_seed(&rng, a->seed);
	run->ps = reel_params_new();
	if (reel_seq2seq_init(&run->m, run->ps, "", &o, &rng, &e) != REEL_OK) {
		fprintf(stderr, "s2s: %s\n", e.msg);
		return 0;
	}
	size_t np = 0;
	for (int i = 0; i < reel_params_count(run->ps); i++)
		np += reel_params_at(run->ps, i)->size;
	char lens[32] = "";
	if (run->task.kind == REEL_TASK_REVERSE)
		snprintf(lens, sizeof lens, " (lengths %d-%d)", a->min_len, a->max_len);
	fprintf(log, "task %s%s, %s, attention %s, %s%d x %d, emb %d, %zu parameters, %d steps of %d\n", a->task, lens,
	        a->cell, a->attention, a->bidirectional ? "bidirectional " : "",
	        a->enc_layers, a->hidden, a->emb, np, a->steps, a->batch);
	reel_s2s_train_opts to = {.steps = a->steps, .batch = a->batch, .lr = a->lr, .clip = 5.0, .tf_ratio = a->tf,
	                          .warmup = a->steps / 20, .seed = a->seed, .log_every = a->steps / 10};
	double t0 = bench_now();
	if (reel_s2s_train(&run->m, run->ps, &run->task, &to, log, &e) != REEL_OK) {
		fprintf(stderr, "s2s: %s\n", e.msg);
		return 0;
	}
	fprintf(log, "trained in %.1f s\n", bench_now() - t0);
	return 1;
}

/* One decoded example with its attention matrix: a row per output
 * character, a column per source character, weights in tenths. */
static void show_example(const s2s_args *a, s2s_run *run, int k)
{
	reel_rng rng;
	reel_rng_seed(&rng, a->seed + 1000 + (uint64_t)k);
	int32_t src[REEL_TASK_MAX_LEN], tgt[REEL_TASK_MAX_LEN];
	int len, S, T;
	char src_s[REEL_TASK_MAX_LEN], tgt_s[REEL_TASK_MAX_LEN], got[REEL_TASK_MAX_LEN + 1];
	reel_task_batch(&run->task, &rng, 1, src, &len, &S, tgt, &T, src_s, tgt_s);
	reel_s2s_batch b = {.src = src, .src_len = &len, .S = S, .B = 1};
	reel_s2s_result r;
	reel_tape *t = reel_tape_new(0, 1);
	if (reel_s2s_result_init(&r, 1, REEL_TASK_MAX_LEN, S) != REEL_OK || !t)
		return;
	reel_status st = a->beam > 1 ? reel_seq2seq_beam(t, &run->m, &b, a->beam, REEL_TASK_MAX_LEN, 0.0, &r)
	                             : reel_seq2seq_greedy(t, &run->m, &b, REEL_TASK_MAX_LEN, &r);
	if (st == REEL_OK) {
		reel_task_decode(&run->task, r.tokens, r.len[0], got);
		printf("\n\"%s\" -> \"%s\" (expected \"%s\", log p %.3f)\n", src_s, got, tgt_s, r.score[0]);
		if (run->m.o.attention != REEL_ATTN_NONE) {
			printf("attention (tenths; rows: output, columns: source)\n      ");
			for (int s = 0; s < S; s++)
				printf("%c", src_s[s] == ' ' ? '_' : src_s[s]);
			printf("\n");
			for (int i = 0; i < r.len[0]; i++) {
				printf("  %c   ", i < (int)strlen(got) ? got[i] : '$');
				for (int s = 0; s < S; s++) {
					double w = r.attn[(size_t)i * S + s];
					printf("%c", w >= 0.95 ? '#' : w < 0.05 ? '.' : (char)('0' + (int)(w * 10 + 0.5)));
				}
				printf("\n");
			}
		}
	}
	reel_s2s_result_deinit(&r);
	reel_tape_free(t);
}

static s2s_args defaults(void)
{
	return (s2s_args){.task = "reverse", .cell = "lstm", .attention = "additive", .min_len = 5, .max_len = 30,
	                  .steps = 3000, .batch = 64, .emb = 32, .hidden = 128, .enc_layers = 1, .dec_layers = 1,
	                  .bidirectional = 1, .feeding = 1, .beam = 1, .eval_n = 2000, .show = 1, .lr = 3e-3,
	                  .dropout = 0, .tf = 1, .seed = 1};
}

int bench_s2s(int argc, char **argv)
{
	s2s_args a = defaults();
	if (!parse_args(argc, argv, &a))
		return 2;
	s2s_run run = {0};
	int ok = build_and_train(&a, &run, stdout);
	if (ok) {
		reel_s2s_eval ev;
		reel_err e;
		if (reel_s2s_evaluate(&run.m, &run.task, a.seed + 77, a.eval_n, a.beam, &ev, &e) != REEL_OK) {
			fprintf(stderr, "s2s: %s\n", e.msg);
			ok = 0;
		} else {
			printf("held-out exact match (%s): %.2f%% of %d\n", a.beam > 1 ? "beam" : "greedy",
			       100.0 * ev.correct / ev.n, ev.n);
			for (int k = 0; k < a.show; k++)
				show_example(&a, &run, k);
		}
	}
	reel_params_free(run.ps);
	return ok ? 0 : 1;
}

int bench_s2s_table(int argc, char **argv)
{
	s2s_args a = defaults();
	if (!parse_args(argc, argv, &a))
		return 2;
	static const char *const kinds[] = {"additive", "none"};
	reel_s2s_eval ev[2];
	for (int k = 0; k < 2; k++) {
		s2s_args ak = a;
		ak.attention = kinds[k];
		s2s_run run = {0};
		reel_err e;
		if (!build_and_train(&ak, &run, stdout) ||
		    reel_s2s_evaluate(&run.m, &run.task, a.seed + 77, a.eval_n, 1, &ev[k], &e) != REEL_OK) {
			reel_params_free(run.ps);
			return 1;
		}
		printf("held-out exact match, attention %s: %.2f%%\n", kinds[k], 100.0 * ev[k].correct / ev[k].n);
		reel_params_free(run.ps);
	}
	printf("\nexact match by source length (%d held-out examples, greedy)\n", a.eval_n);
	printf("| source length | examples | attention (additive) | no attention |\n|---|---|---|---|\n");
	for (int lo = a.min_len; lo <= a.max_len; lo += 5) {
		int hi = lo + 4 < a.max_len ? lo + 4 : a.max_len, n[2] = {0}, c[2] = {0};
		for (int k = 0; k < 2; k++)
			for (int l = lo; l <= hi; l++) {
				n[k] += ev[k].len_n[l];
				c[k] += ev[k].len_ok[l];
			}
		printf("| %d-%d | %d | %.1f%% | %.1f%% |\n", lo, hi, n[0], n[0] ? 100.0 * c[0] / n[0] : 0,
		       n[1] ? 100.0 * c[1] / n[1] : 0);
	}
	return 0;
}
