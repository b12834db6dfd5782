/* The classic recurrent losses and layers of issue 18: CTC against
 * PyTorch's ctc_loss (test/fixtures/ctc.safetensors, written by
 * test/gen_ctc.py), greedy CTC decoding and prefix beam search, the time-delay window and the
 * residual stack.  Gradient checks of the ops themselves are in
 * test_gradcheck_ops.c with every op's. */
#include "data.h"
#include "model.h"
#include "gradcheck.h"
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const reel_st_file *FX;

static const reel_st_tensor *fx(const char *cs, const char *what)
{
	char name[96];
	snprintf(name, sizeof name, "%s.%s", cs, what);
	return reel_st_find(FX, name);
}

static int32_t *ints(const char *cs, const char *what, size_t *n)
{
	const reel_st_tensor *s = fx(cs, what);
	int32_t *v = malloc((s && s->count ? s->count : 1) * sizeof *v);
	if (s && v)
		reel_st_to_i32(s, v);
	if (n)
		*n = s ? s->count : 0;
	return v;
}

/* logits -> log_softmax -> ctc_loss: the loss and the logits' gradient as
 * PyTorch's; float build about 1e-5 relative, double 1e-10. */
static void ctc_golden(void)
{
	static const char *const cases[] = {"small_mean", "mean_b4", "sum_b4", "blank_last_mean",
	                                    "blank_mid_sum", "long_mean", "long_sum", "tight_sum"};
	reel_st_file *f = NULL;
	reel_err e = {0};
	th_case("ctc golden: fixture file");
	if (!CHECK(reel_st_read("test/fixtures/ctc.safetensors", &f, &e) == REEL_OK, "%s", e.msg))
		return;
	FX = f;
	static char names[sizeof cases / sizeof cases[0]][64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *c = cases[i];
		snprintf(names[i], sizeof names[i], "ctc golden: %s", c);
		th_case(names[i]);
		if (!th_selected())
			continue;
		reel_tape *t = reel_tape_new(0, 1);
		reel_tensor *x = fx_leaf(t, fx(c, "logits"), REEL_GRAD);
		size_t ntg = 0, B = 0;
		int32_t *tg = ints(c, "targets", &ntg), *il32 = ints(c, "input_lengths", &B), *tl32 = ints(c, "target_lengths", NULL);
		int32_t *blank = ints(c, "blank", NULL), *red = ints(c, "reduction", NULL);
		int *il = malloc(B * sizeof *il), *tl = malloc(B * sizeof *tl);
		for (size_t b = 0; b < B; b++) {
			il[b] = il32[b];
			tl[b] = tl32[b];
		}
		reel_tensor *y = reel_ctc_loss(t, reel_log_softmax(t, x), tg, (int)(ntg / B), il, tl, blank[0], red[0]);
		if (CHECK(y, "forward: %s", reel_tape_error(t))) {
			FX_COMPARE("loss", y->data, 1, fx(c, "loss"));
			CHECK(reel_backward(t, y) == REEL_OK, "backward: %s", reel_tape_error(t));
			FX_COMPARE("grad", reel_tensor_grad(x), x->size, fx(c, "grad"));
		}
		free(tg), free(il32), free(tl32), free(blank), free(red), free(il), free(tl);
		reel_tape_free(t);
	}
	reel_st_free(f);
}

/* Greedy decoding: argmax per frame, repeats merged, blanks dropped. */
static void ctc_decode(void)
{
	th_case("ctc greedy decoding");
	reel_tape *t = reel_tape_new(0, 1);
	/* T = 7, B = 2, C = 3; frame argmaxes b0: 1 1 0 1 2 2 0, b1: 0 2 0 2 2 (then padding) */
	static const int am[2][7] = {{1, 1, 0, 1, 2, 2, 0}, {0, 2, 0, 2, 2, 1, 1}};
	reel_tensor *x = reel_tensor_new3(t, 7, 2, 3, REEL_NOGRAD);
	for (int s = 0; s < 7; s++)
		for (int b = 0; b < 2; b++)
			x->data[(s * 2 + b) * 3 + am[b][s]] = 1;
	int il[2] = {7, 5}, ol[2];
	int32_t out[2 * 7];
	reel_ctc_greedy(x, il, 0, out, ol);
	CHECK(ol[0] == 3 && out[0] == 1 && out[1] == 1 && out[2] == 2, "b0: length %d, %d %d %d", ol[0], out[0], out[1], out[2]);
	CHECK(ol[1] == 2 && out[7] == 2 && out[8] == 2, "b1: length %d, %d %d", ol[1], out[7], out[8]);
	reel_tape_free(t);
}

/* Every labelling's probability by enumerating every path of T frames over
 * C classes (C^T of them): labellings into lab (rows of T), lens, prob;
 * returns their count. */
static int ctc_brute(const double *lp, int T, int C, int blank, int32_t *lab, int *lens, double *prob, int max)
{
	int n = 0;
	long paths = 1;
	for (int t = 0; t < T; t++)
		paths *= C;
	for (long p = 0; p < paths; p++) {
		int32_t l[16];
		int len = 0, prev = -1;
		double lpp = 0;
		long q = p;
		for (int t = 0; t < T; t++, q /= C) {
			int c = (int)(q % C);
			lpp += lp[t * C + c];
			if (c != blank && c != prev)
				l[len++] = c;
			prev = c;
		}
		int k = 0;
		while (k < n && !(lens[k] == len && !memcmp(lab + k * T, l, (size_t)len * sizeof *l)))
			k++;
		if (k == n) {
			if (n == max)
				return -1;
			memcpy(lab + k * T, l, (size_t)len * sizeof *l);
			lens[k] = len;
			prob[k] = 0;
			n++;
		}
		prob[k] += exp(lpp);
	}
	return n;
}

/* Prefix beam search (reel_ctc_beam): with a beam as wide as every
 * labelling its scores are the exact labelling probabilities, in order;
 * it finds the labelling greedy decoding misses. */
static void ctc_beam(void)
{
	th_case("ctc prefix beam search: exact against every path");
	/* three frames of blank 0.6, a 0.4: the best path is all blanks (""),
	 * but "a" has probability 3 (0.4)(0.36) + 2 (0.16)(0.6) + 0.064 = 0.688 */
	double lp[3 * 2];
	for (int t = 0; t < 3; t++) {
		lp[t * 2] = log(0.6);
		lp[t * 2 + 1] = log(0.4);
	}
	int32_t out[4 * 5];
	int ol[4];
	double sc[4];
	int n = reel_ctc_beam(lp, 3, 2, 0, 4, 2, out, ol, sc);
	CHECK(n == 2 && ol[0] == 1 && out[0] == 1 && fabs(exp(sc[0]) - 0.688) < 1e-12 && ol[1] == 0 &&
	          fabs(exp(sc[1]) - 0.216) < 1e-12,
	      "n %d, best of length %d, p %.6f, second of length %d, p %.6f", n, ol[0], exp(sc[0]), ol[1], exp(sc[1]));
	/* random frames: T = 5 over C = 3 (blank 0, then blank 1) and T = 4 over C = 4 */
	static const int cases[][3] = {{5, 3, 0}, {5, 3, 1}, {4, 4, 0}, {4, 4, 3}};
	unsigned seed = 12345;
	for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
		int T = cases[ci][0], C = cases[ci][1], blank = cases[ci][2];
		double x[5 * 4];
		for (int t = 0; t < T; t++) {
			double sum = 0;
			for (int c = 0; c < C; c++) {
				seed = seed * 1103515245u + 12345u;
				x[t * C + c] = exp(2.0 * ((seed >> 8) % 1000) / 1000.0);
				sum += x[t * C + c];
			}
			for (int c = 0; c < C; c++)
				x[t * C + c] = log(x[t * C + c] / sum);
		}
		int32_t lab[128 * 5];
		int lens[128];
		double prob[128];
		int nl = ctc_brute(x, T, C, blank, lab, lens, prob, 128);
		/* the brute force in order of probability */
		int order[128];
		for (int i = 0; i < nl; i++)
			order[i] = i;
		for (int i = 0; i < nl; i++)
			for (int j = i + 1; j < nl; j++)
				if (prob[order[j]] > prob[order[i]]) {
					int tmp = order[i];
					order[i] = order[j];
					order[j] = tmp;
				}
		double total = 0;
		for (int i = 0; i < nl; i++)
			total += prob[i];
		enum { NB = 6 };
		int32_t bo[NB * 5];
		int bl[NB];
		double bs[NB];
		int got = reel_ctc_beam(x, T, C, blank, 128, NB, bo, bl, bs);
		int ok = nl > NB && got == NB && fabs(total - 1) < 1e-12;
		for (int i = 0; ok && i < NB; i++) {
			int k = order[i];
			ok = bl[i] == lens[k] && !memcmp(bo + i * T, lab + k * T, (size_t)lens[k] * sizeof *bo) &&
			     fabs(bs[i] - log(prob[k])) < 1e-10;
		}
		CHECK(ok, "case %zu (T %d, C %d, blank %d): %d labellings, beam gave %d; best p %.6f, brute %.6f", ci, T, C,
		      blank, nl, got, got > 0 ? exp(bs[0]) : 0, nl > 0 ? prob[order[0]] : 0);
		/* a beam of one keeps a single prefix: a labelling the search reached, no better than the best */
		got = reel_ctc_beam(x, T, C, blank, 1, 1, bo, bl, bs);
		CHECK(got == 1 && bs[0] <= log(prob[order[0]]) + 1e-12, "beam 1: %d, %g", got, got == 1 ? bs[0] : 0);
	}
	CHECK(reel_ctc_beam(lp, 0, 2, 0, 3, 3, out, ol, sc) == 1 && ol[0] == 0 && sc[0] == 0,
	      "no frames: the empty labelling, probability 1");
}

/* An infeasible target (more labels than frames) is +inf, with no gradient,
 * as PyTorch's zero_infinity=False value; bad arguments are tape errors. */
static void ctc_errors(void)
{
	th_case("ctc infeasible target and errors");
	reel_tape *t = reel_tape_new(0, 1);
	reel_tensor *x = reel_tensor_new3(t, 2, 1, 3, REEL_GRAD);
	int32_t tg[3] = {1, 1, 2};
	int il[1] = {2}, tl[1] = {2};
	reel_tensor *y = reel_ctc_loss(t, x, tg, 3, il, tl, 0, REEL_CTC_SUM); /* 1 1 needs 3 frames */
	CHECK(y && isinf(y->data[0]) && y->data[0] > 0, "loss %g", y ? (double)y->data[0] : NAN);
	CHECK(y && reel_backward(t, y) == REEL_OK, "%s", reel_tape_error(t));
	int nz = 0;
	for (size_t i = 0; i < x->size; i++)
		nz += reel_tensor_grad(x)[i] != 0;
	CHECK(nz == 0, "%d non-zero gradients", nz);
	reel_tape_reset(t);
	x = reel_tensor_new3(t, 2, 1, 3, REEL_GRAD);
	tg[0] = 0;
	CHECK(!reel_ctc_loss(t, x, tg, 3, il, tl, 0, REEL_CTC_SUM) && strstr(reel_tape_error(t), "is the blank"), "%s",
	      reel_tape_error(t));
	reel_tape_free(t);
}

/* The unsegmented generator: labels left-aligned then ignored, every
 * sequence long enough for its labels (2 frames a letter at least), the
 * features zero past each length. */
static void unsegmented_data(void)
{
	th_case("ctc data: unsegmented batches");
	reel_data_opts o = reel_data_defaults();
	o.source = "unsegmented";
	o.task = REEL_TASK_CTC;
	o.min_len = 2;
	o.max_len = 6;
	o.valid_size = o.test_size = 20;
	reel_err e = {0};
	reel_data *d = reel_data_open(&o, &e);
	if (!CHECK(d, "%s", e.msg))
		return;
	reel_data_info in = reel_data_get_info(d);
	CHECK(in.classes == 6 && in.features == 8 && !in.tokens_in, "classes %d features %d", in.classes, in.features);
	reel_batch b;
	CHECK(reel_data_next(d, REEL_TRAIN, 8, &b, &e) == 1, "%s", e.msg);
	int bad = 0;
	for (int i = 0; i < b.B; i++) {
		int U = 0;
		while (U < b.T && b.labels[U * b.B + i] != REEL_DATA_IGNORE)
			U++;
		bad += U < 2 || U > 6 || b.lengths[i] < 2 * U || b.lengths[i] > 5 * U;
		for (int t = U; t < b.T; t++)
			bad += b.labels[t * b.B + i] != REEL_DATA_IGNORE;
		for (int t = 0; t < U; t++)
			bad += b.labels[t * b.B + i] < 1 || b.labels[t * b.B + i] > 5;
		for (int t = b.lengths[i]; t < b.T; t++)
			for (int f = 0; f < 8; f++)
				bad += b.inputs[((size_t)t * b.B + i) * 8 + f] != 0;
	}
	CHECK(bad == 0, "%d malformed entries", bad);
	reel_data_free(d);
}

/* window + product against torch conv1d (causal, dilated): output and the
 * gradients of x, weight and bias. */
static void tdnn_golden(void)
{
	static const char *const cases[] = {"k3", "k2_dil2", "k4_dil3_short", "k1"};
	reel_st_file *f = NULL;
	reel_err e = {0};
	th_case("tdnn golden: fixture file");
	if (!CHECK(reel_st_read("test/fixtures/tdnn.safetensors", &f, &e) == REEL_OK, "%s", e.msg))
		return;
	FX = f;
	static char names[sizeof cases / sizeof cases[0]][64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *c = cases[i];
		snprintf(names[i], sizeof names[i], "tdnn golden: %s", c);
		th_case(names[i]);
		if (!th_selected())
			continue;
		reel_tape *t = reel_tape_new(0, 1);
		reel_tensor *x = fx_leaf(t, fx(c, "x"), REEL_GRAD), *w = fx_leaf(t, fx(c, "weight"), REEL_GRAD);
		reel_tensor *b = fx_leaf(t, fx(c, "bias"), REEL_GRAD);
		int32_t *k = ints(c, "k", NULL), *dil = ints(c, "dilation", NULL);
		reel_tensor *win = reel_time_window(t, x, k[0], dil[0]);
		reel_tensor *y = win ? reel_addmm(t, b, reel_reshape2(t, win, -1, win->shape[2]), w, REEL_TRANS_B) : NULL;
		if (CHECK(y, "forward: %s", reel_tape_error(t))) {
			FX_COMPARE("out", y->data, y->size, fx(c, "out"));
			reel_real *seed = malloc(y->size * sizeof *seed);
			reel_st_to_real(fx(c, "seed"), seed);
			CHECK(reel_backward_seed(t, y, seed) == REEL_OK, "backward: %s", reel_tape_error(t));
			free(seed);
			FX_COMPARE("grad_x", reel_tensor_grad(x), x->size, fx(c, "grad_x"));
			FX_COMPARE("grad_weight", reel_tensor_grad(w), w->size, fx(c, "grad_weight"));
			FX_COMPARE("grad_bias", reel_tensor_grad(b), b->size, fx(c, "grad_bias"));
		}
		free(k), free(dil);
		reel_tape_free(t);
	}
	reel_st_free(f);
}

/* Residual stacks (GNMT): gradient-checked through the driver, 3 layers,
 * both directions, variable lengths (every parameter and x); and the
 * outputs stay zero past each length. */
typedef struct res_ctx {
	reel_rnn *rnn;
	const int *lengths;
} res_ctx;

static reel_tensor *res_forward(reel_tape *t, reel_tensor **in, void *vc)
{
	res_ctx *c = vc;
	reel_rnn_out out;
	if (reel_rnn_forward(t, c->rnn, in[0], c->lengths, NULL, NULL, &out) != REEL_OK)
		return NULL;
	return out.y;
}

static void residual_stack(void)
{
	static const char *const cells[] = {"lstm", "gru"};
	static char names[2][64];
	for (int ci = 0; ci < 2; ci++) {
		snprintf(names[ci], sizeof names[ci], "residual stack: %s, 3 layers, bidirectional, lengths", cells[ci]);
		th_case(names[ci]);
		if (!th_selected())
			continue;
		reel_params *ps = reel_params_new();
		reel_rng rng;
		reel_rng_seed(&rng, 7);
		reel_rnn rnn, plain;
		reel_err e = {0};
		reel_rnn_opts o = {.cell = reel_cell_find(cells[ci]), .input_size = 3, .hidden_size = 2, .num_layers = 3,
		                   .bidirectional = 1, .residual = 1};
		if (!CHECK(reel_rnn_init(&rnn, ps, "r.", &o, &rng, &e) == REEL_OK, "%s", e.msg))
			continue;
		enum { T = 4, B = 2, I = 3 };
		reel_real x[T * B * I];
		for (int i = 0; i < T * B * I; i++)
			x[i] = (reel_real)reel_rng_range(&rng, -1, 1);
		int lengths[B] = {4, 2};
		/* the same parameters without the residual path give other outputs; both zero past the lengths */
		plain = rnn;
		plain.o.residual = 0;
		reel_tape *t = reel_tape_new(0, 1);
		reel_tensor *xt = reel_tensor_from(t, 3, (int[]){T, B, I}, x, REEL_NOGRAD);
		reel_rnn_out a, b;
		CHECK(reel_rnn_forward(t, &rnn, xt, lengths, NULL, NULL, &a) == REEL_OK &&
		          reel_rnn_forward(t, &plain, xt, lengths, NULL, NULL, &b) == REEL_OK,
		      "%s", reel_tape_error(t));
		double diff = 0, pad = 0;
		for (size_t i = 0; a.y && b.y && i < a.y->size; i++)
			diff += fabs((double)a.y->data[i] - (double)b.y->data[i]);
		for (int s = 2; a.y && s < T; s++)
			for (int j = 0; j < 4; j++)
				pad += fabs((double)a.y->data[(s * B + 1) * 4 + j]);
		CHECK(diff > 1e-3 && pad == 0, "residual changes the outputs by %g; past the length %g", diff, pad);
		reel_tape_free(t);
#ifdef REEL_DOUBLE
		res_ctx c = {&rnn, lengths};
		gc_input in = {3, {T, B, I}, x, 1};
		gradcheck(res_forward, &c, 1, &in, ps, (gc_opts){0});
#else
		(void)res_forward;
#endif
		reel_params_free(ps);
	}
}

/* Scheduled sampling: the three decays against their formulas, and the
 * inverse sigmoid decreasing from k/(k+1) towards the final ratio. */
static void tf_schedules(void)
{
	th_case("teacher forcing: linear, exponential, inverse sigmoid");
	reel_train_cfg tr = {.tf_start = 1, .tf_end = 0.2, .tf_steps = 100, .tf_schedule = REEL_TF_LINEAR};
	CHECK(fabs(reel_tf_ratio(&tr, 0) - 1) < 1e-12 && fabs(reel_tf_ratio(&tr, 50) - 0.6) < 1e-12 &&
	          fabs(reel_tf_ratio(&tr, 500) - 0.2) < 1e-12,
	      "linear %g %g %g", reel_tf_ratio(&tr, 0), reel_tf_ratio(&tr, 50), reel_tf_ratio(&tr, 500));
	tr.tf_schedule = REEL_TF_EXPONENTIAL;
	tr.tf_k = 0.99;
	CHECK(fabs(reel_tf_ratio(&tr, 100) - (0.2 + 0.8 * pow(0.99, 100))) < 1e-12, "exponential %g", reel_tf_ratio(&tr, 100));
	tr.tf_schedule = REEL_TF_INVERSE_SIGMOID;
	tr.tf_k = 50;
	tr.tf_end = 0;
	double prev = 2;
	int mono = 1;
	for (long i = 0; i < 2000000; i += 997) {
		double r = reel_tf_ratio(&tr, i);
		mono &= r <= prev && r >= 0;
		prev = r;
	}
	CHECK(mono && fabs(reel_tf_ratio(&tr, 0) - 50.0 / 51) < 1e-12 &&
	          fabs(reel_tf_ratio(&tr, 200) - 50 / (50 + exp(4.0))) < 1e-12 && reel_tf_ratio(&tr, 2000000) == 0,
	      "inverse sigmoid: monotone %d, %g at 0, %g at 200", mono, reel_tf_ratio(&tr, 0), reel_tf_ratio(&tr, 200));
}

void suite_classic(void)
{
	tf_schedules();
	residual_stack();
	tdnn_golden();
	unsegmented_data();
	ctc_golden();
	ctc_decode();
	ctc_beam();
	ctc_errors();
}
