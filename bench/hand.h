/* Hand-written recurrent layers with hand-derived BPTT, on BLIS: the
 * reference reel's tape is measured against.  Written the way a careful
 * engineer would: one GEMM for all T input projections, one recurrent GEMM
 * per step, one GEMM each for the weight and input gradients over all
 * steps, fused elementwise loops, all buffers allocated once.
 *
 * Same equations and parameter layout as reel's cells (PyTorch's), so the
 * weights are read from, and the gradients written into, a reel parameter
 * store; the agreement of the two is a test (test/test_bench.c).
 *
 * A hand_layer is one layer in one direction over time-major input
 * X (T*B, F) with row stride ldx; outputs Y (T*B, H) with row stride ldy,
 * so bidirectional layers write the two halves of one (T*B, 2H) buffer. */
#ifndef REEL_BENCH_HAND_H
#define REEL_BENCH_HAND_H

#include "layers.h"

typedef enum hand_kind { HAND_RNN, HAND_LSTM, HAND_GRU } hand_kind;

typedef struct hand_layer {
	hand_kind kind;
	int T, B, F, H, G, reverse;
	const reel_cell_params *p; /* weights; gradients go to p->...->grad (accumulated) */
	int floor;                 /* 1: only the GEMMs (the "GEMM floor"), no elementwise work */
	/* workspace, allocated once, in time order */
	reel_real *A;   /* (T*B, G*H): activations (gates) */
	reel_real *Hs;  /* ((T+1)*B, H): the state before/after each step (see hand.c) */
	reel_real *Cs;  /* LSTM cell states, same indexing */
	reel_real *Aux; /* LSTM: tanh(c_t); GRU: h W_hn^T + b_hn */
	reel_real *dA;  /* (T*B, G*H) gradient of the input-side pre-activations */
	reel_real *dHH; /* GRU: (T*B, G*H) gradient of the recurrent-side pre-activations */
	reel_real *dh, *dc; /* (B, H) */
	size_t bytes;   /* workspace size */
} hand_layer;

/* Allocate the workspace; NULL-safe free.  Returns 0 when out of memory. */
int hand_layer_init(hand_layer *L, hand_kind kind, int T, int B, int F, int H, int reverse,
                    const reel_cell_params *p);
void hand_layer_free(hand_layer *L);

/* Forward from h0 = c0 = 0: Y gets h_t for every t. */
void hand_forward(hand_layer *L, const reel_real *X, long ldx, reel_real *Y, long ldy);

/* Backward given dY (the loss gradient w.r.t. every output): adds the
 * weight and bias gradients into the parameters' grad buffers and, when dX
 * is not NULL, the input gradient into dX (row stride lddx). */
void hand_backward(hand_layer *L, const reel_real *X, long ldx, const reel_real *dY, long lddy, reel_real *dX,
                   long lddx);

/* A stack of layers (bidirectional optional), the unit the benchmark times:
 * forward, loss sum(Y * R) (so dY = R), full backward. */
typedef struct hand_net {
	int layers, dirs, T, B, I, H;
	hand_layer L[REEL_RNN_MAX_LAYERS][2];
	reel_real *Y[REEL_RNN_MAX_LAYERS]; /* (T*B, dirs*H) per layer */
	reel_real *dY[REEL_RNN_MAX_LAYERS];
	size_t bytes;
} hand_net;

int hand_net_init(hand_net *n, hand_kind kind, const reel_rnn *r, int T, int B);
void hand_net_free(hand_net *n);
/* Switch every layer to (1) or from (0) the GEMM-floor mode. */
void hand_net_set_floor(hand_net *n, int floor);
/* One training step's forward and backward; returns the loss.  dX may be NULL. */
double hand_net_step(hand_net *n, const reel_real *X, const reel_real *R, reel_real *dX);

#endif
