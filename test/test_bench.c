/* The hand-written references of bench/ agree with reel's tape: the same
 * loss sum(Y * R) and every gradient (weights, biases, input), for RNN,
 * LSTM and GRU, one layer and two bidirectional layers.  A reference that
 * is timed must first be right. */
#include "../bench/hand.h"
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void agree(const char *label, const reel_cell *cell, hand_kind kind, int layers, int bi)
{
	th_case(label);
	if (!th_selected())
		return;
	const int T = 7, B = 3, I = 5, H = 6;
	reel_params *ps = reel_params_new();
	reel_rnn r;
	reel_rng rng;
	reel_rng_seed(&rng, 31);
	reel_err e;
	reel_rnn_opts o = {.cell = cell, .input_size = I, .hidden_size = H, .num_layers = layers, .bidirectional = bi};
	CHECK(reel_rnn_init(&r, ps, "", &o, &rng, &e) == REEL_OK, "%s", e.msg);
	int W = r.dirs * H;
	reel_real *X = malloc((size_t)T * B * I * sizeof *X), *R = malloc((size_t)T * B * W * sizeof *R);
	reel_real *dXh = calloc((size_t)T * B * I, sizeof *dXh);
	for (int i = 0; i < T * B * I; i++)
		X[i] = (reel_real)reel_rng_range(&rng, -1, 1);
	for (int i = 0; i < T * B * W; i++)
		R[i] = (reel_real)reel_rng_range(&rng, -1, 1);
	/* tape */
	reel_tape *t = reel_tape_new(0, 1);
	reel_tensor *x = reel_tensor_from(t, 3, (int[]){T, B, I}, X, REEL_GRAD);
	reel_rnn_out out;
	reel_rnn_forward(t, &r, x, NULL, NULL, NULL, &out);
	reel_tensor *loss = reel_sum(t, reel_mul(t, out.y, reel_tensor_wrap(t, 3, (int[]){T, B, W}, R)));
	CHECK(loss && reel_backward(t, loss) == REEL_OK, "tape: %s", reel_tape_error(t));
	size_t n;
	reel_real *g = reel_params_grads(ps, &n);
	double *tape_g = malloc(n * sizeof *tape_g), *hand_g = malloc(n * sizeof *hand_g);
	for (size_t i = 0; i < n; i++)
		tape_g[i] = g[i];
	/* hand-written */
	reel_params_zero_grad(ps);
	hand_net hn;
	CHECK(hand_net_init(&hn, kind, &r, T, B), "hand init");
	double hl = hand_net_step(&hn, X, R, dXh);
	for (size_t i = 0; i < n; i++)
		hand_g[i] = g[i];
	double *a = malloc((size_t)T * B * I * sizeof *a), *b = malloc((size_t)T * B * I * sizeof *b);
	for (int i = 0; i < T * B * I; i++) {
		a[i] = reel_tensor_grad(x)[i];
		b[i] = dXh[i];
	}
#ifdef REEL_DOUBLE
	const double rtol = 1e-11, atol = 1e-13;
#else
	const double rtol = 1e-5, atol = 1e-6;
#endif
	CHECK(fabs(hl - loss->data[0]) <= rtol * fabs(hl) + atol, "loss %.9g vs %.9g", hl, (double)loss->data[0]);
	CHECK_CLOSE("parameter gradients", hand_g, tape_g, n, rtol, atol);
	CHECK_CLOSE("input gradient", a, b, (size_t)T * B * I, rtol, atol);
	double norm = 0;
	for (size_t i = 0; i < n; i++)
		norm += tape_g[i] * tape_g[i];
	CHECK(norm > 1e-6, "gradients are not trivially zero");
	hand_net_free(&hn);
	free(a);
	free(b);
	free(X);
	free(R);
	free(dXh);
	free(tape_g);
	free(hand_g);
	reel_tape_free(t);
	reel_params_free(ps);
}

void suite_bench_refs(void)
{
	agree("hand-written = tape: RNN", &reel_cell_rnn_tanh, HAND_RNN, 1, 0);
	agree("hand-written = tape: LSTM", &reel_cell_lstm, HAND_LSTM, 1, 0);
	agree("hand-written = tape: GRU", &reel_cell_gru, HAND_GRU, 1, 0);
	agree("hand-written = tape: RNN 2 layers bidirectional", &reel_cell_rnn_tanh, HAND_RNN, 2, 1);
	agree("hand-written = tape: LSTM 2 layers bidirectional", &reel_cell_lstm, HAND_LSTM, 2, 1);
	agree("hand-written = tape: GRU 2 layers bidirectional", &reel_cell_gru, HAND_GRU, 2, 1);
}
