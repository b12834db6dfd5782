/* Learning tests: gates work (the adding problem), and truncated BPTT runs a
 * long stream without the tape growing. */
#include "harness.h"
#include "layers.h"
#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The adding problem (Hochreiter & Schmidhuber 1997): at each of T steps a
 * value in U(0, 1) and a marker; exactly two steps are marked, one in each
 * half; the target is the sum of the two marked values.  Predicting the mean
 * (1) gives MSE 1/6, the baseline a model must go far below. */
#ifndef REEL_DOUBLE
static void adding_batch(reel_rng *r, int T, int B, reel_real *x, reel_real *y)
{
	memset(x, 0, (size_t)T * B * 2 * sizeof *x);
	for (int b = 0; b < B; b++) {
		int i = (int)reel_rng_below(r, (uint64_t)(T / 2)), j = T / 2 + (int)reel_rng_below(r, (uint64_t)(T / 2));
		for (int s = 0; s < T; s++)
			x[(s * B + b) * 2] = (reel_real)reel_rng_uniform(r);
		x[(i * B + b) * 2 + 1] = 1;
		x[(j * B + b) * 2 + 1] = 1;
		y[b] = x[(i * B + b) * 2] + x[(j * B + b) * 2];
	}
}

typedef struct adder {
	reel_params *ps;
	reel_rnn rnn;
	reel_linear out;
} adder;

/* mse(linear(h_T), y): the prediction from the last hidden state */
static reel_tensor *adder_loss(reel_tape *t, const adder *m, reel_tensor *x, reel_tensor *y)
{
	reel_rnn_out o;
	if (reel_rnn_forward(t, &m->rnn, x, NULL, NULL, NULL, &o) != REEL_OK)
		return NULL;
	reel_tensor *h_last = reel_index(t, o.h_n, 0); /* (B, H) */
	return reel_mse(t, reel_linear_forward(t, &m->out, h_last), y);
}

static void test_adding_problem(void)
{
	th_case("learning: LSTM solves the adding problem at T=50 (MSE far below 1/6)");
	if (!th_selected() || th_slow())
		return;
	const int T = 50, B = 32, H = 32, steps = 1500;
	adder m;
	reel_rng rng;
	reel_rng_seed(&rng, 7);
	reel_err e = {0};
	m.ps = reel_params_new();
	reel_rnn_opts ro = {.cell = &reel_cell_lstm, .input_size = 2, .hidden_size = H, .forget_bias = 1};
	CHECK(reel_rnn_init(&m.rnn, m.ps, "lstm.", &ro, &rng, &e) == REEL_OK, "%s", e.msg);
	CHECK(reel_linear_init(&m.out, m.ps, "out.", H, 1, 1, &rng, &e) == REEL_OK, "%s", e.msg);
	reel_optim_opts oo = reel_optim_defaults(REEL_ADAM);
	oo.lr = 1e-2;
	reel_optim *opt = reel_optim_new(m.ps, &oo, &e);
	reel_tape *t = reel_tape_new(0, 1);
	reel_real *x = malloc((size_t)T * B * 2 * sizeof *x), y[32];
	double first = 0, last = 0;
	for (int s = 0; s < steps; s++) {
		adding_batch(&rng, T, B, x, y);
		reel_tape_reset(t);
		reel_params_zero_grad(m.ps);
		reel_tensor *loss = adder_loss(t, &m, reel_tensor_from(t, 3, (int[]){T, B, 2}, x, REEL_NOGRAD),
		                               reel_tensor_from(t, 2, (int[]){B, 1}, y, REEL_NOGRAD));
		if (!CHECK(loss && reel_backward(t, loss) == REEL_OK, "step %d: %s", s, reel_tape_error(t)))
			break;
		reel_clip_grad_norm(m.ps, 1.0);
		reel_optim_step(opt, loss->data[0], &e);
		if (s < 20)
			first += loss->data[0] / 20;
	}
	/* held-out evaluation: fresh batches, no gradient */
	reel_tape_set_grad(t, 0);
	for (int k = 0; k < 8; k++) {
		adding_batch(&rng, T, B, x, y);
		reel_tape_reset(t);
		reel_tensor *loss = adder_loss(t, &m, reel_tensor_from(t, 3, (int[]){T, B, 2}, x, REEL_NOGRAD),
		                               reel_tensor_from(t, 2, (int[]){B, 1}, y, REEL_NOGRAD));
		last += loss ? loss->data[0] / 8 : NAN;
	}
	printf("  adding problem T=%d: MSE %.4f in the first steps, %.4f held out after %d steps (baseline %.4f)\n", T,
	       first, last, steps, 1.0 / 6);
	CHECK(last < 1.0 / 6 / 10, "held-out MSE %.4f is not far below the 1/6 baseline", last);
	free(x);
	reel_tape_free(t);
	reel_optim_free(opt);
	reel_params_free(m.ps);
}

#endif

/* A stream of 40 chunks of k = 10 steps, each starting from the previous
 * chunk's final state: the arena stops growing after the first chunk, and
 * the carried state is actually used. */
static void test_tbptt_stream(void)
{
	th_case("TBPTT: a long stream in chunks with a carried state; the tape does not grow");
	if (!th_selected())
		return;
	const int K = 10, B = 4, I = 3, H = 8;
	reel_params *ps = reel_params_new();
	reel_rnn r;
	reel_rng rng;
	reel_rng_seed(&rng, 5);
	reel_err e;
	reel_rnn_opts o = {.cell = &reel_cell_gru, .input_size = I, .hidden_size = H, .num_layers = 2};
	CHECK(reel_rnn_init(&r, ps, "gru.", &o, &rng, &e) == REEL_OK, "%s", e.msg);
	reel_rnn_carry cy;
	CHECK(reel_rnn_carry_init(&cy, &r, B) == REEL_OK, "carry");
	reel_tape *t = reel_tape_new(0, 1);
	reel_real x[10 * 4 * 3];
	size_t allocs = 0, nodes = 0;
	double with_carry = 0, without = 0;
	for (int c = 0; c < 40; c++) {
		for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
			x[i] = (reel_real)reel_rng_range(&rng, -1, 1);
		reel_tape_reset(t);
		reel_rnn_out out;
		reel_tensor *xt = reel_tensor_from(t, 3, (int[]){K, B, I}, x, REEL_NOGRAD);
		CHECK(reel_rnn_forward(t, &r, xt, NULL, reel_rnn_carry_h0(t, &cy), NULL, &out) == REEL_OK, "%s",
		      reel_tape_error(t));
		reel_tensor *loss = reel_mean(t, reel_mul(t, out.y, out.y));
		CHECK(reel_backward(t, loss) == REEL_OK, "backward");
		if (c == 39) {
			with_carry = loss->data[0];
			reel_rnn_out o2;
			reel_rnn_forward(t, &r, xt, NULL, NULL, NULL, &o2);
			without = reel_mean(t, reel_mul(t, o2.y, o2.y))->data[0];
		}
		reel_rnn_carry_store(&cy, &out);
		reel_tape_stats s = reel_tape_get_stats(t);
		if (c == 1) {
			allocs = s.chunk_allocs;
			nodes = s.nodes;
		} else if (c > 1 && c < 39) {
			CHECK(s.chunk_allocs == allocs && s.nodes == nodes, "chunk %d: %zu mallocs, %zu nodes (chunk 1: %zu, %zu)",
			      c, s.chunk_allocs, s.nodes, allocs, nodes);
		}
	}
	CHECK(with_carry != without, "the carried state changes the result");
	reel_rnn_carry_deinit(&cy);
	reel_tape_free(t);
	reel_params_free(ps);
}

void suite_learning(void)
{
	test_tbptt_stream();
#ifndef REEL_DOUBLE
	/* the float build trains; the double build's job is the gradient checks */
	test_adding_problem();
#endif
}
