/* reel layers: linear, embedding, recurrent cells and the sequence driver.
 *
 * Every layer here is a composition of engine ops (engine/ops.h): there is no
 * gradient code and no loop over numbers in layers/.  Backpropagation through
 * time is the tape replayed backwards.
 *
 * Parameters are created once in a reel_params store under PyTorch's
 * state_dict names (prefix + "weight_ih_l0", ...), so a PyTorch model's
 * weights map onto reel's tensor by tensor.  Init functions return REEL_OK
 * or an error with the message in err; forward functions return NULL (or
 * the tape's status) and leave the message on the tape. */
#ifndef REEL_LAYERS_H
#define REEL_LAYERS_H

#include "reel.h"

/* A new parameter named by fmt (printf-style; "enc.weight_ih_l0"), zeroed;
 * NULL with the store's message in err (a duplicate name, a bad shape).
 * For layer constructors, here and in new layers. */
reel_tensor *reel__layer_param(reel_params *ps, reel_err *err, int ndim, const int *shape, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* ---- linear: y = x W^T + b ----------------------------------------------------
 * weight (out, in), bias (out); x (..., in) -> (..., out).
 * Init as torch.nn.Linear: W, b ~ U(-1/sqrt(in), 1/sqrt(in)). */
typedef struct reel_linear {
	reel_tensor *weight, *bias; /* bias NULL when created without */
	int in, out;
} reel_linear;

reel_status reel_linear_init(reel_linear *l, reel_params *ps, const char *prefix, int in, int out,
                             int bias, reel_rng *rng, reel_err *err);
reel_tensor *reel_linear_forward(reel_tape *t, const reel_linear *l, reel_tensor *x);

/* ---- embedding: rows of weight (num, dim) picked by token ids --------------
 * Init as torch.nn.Embedding: N(0, 1).  ids (n) -> (n, dim). */
typedef struct reel_embedding {
	reel_tensor *weight;
	int num, dim;
} reel_embedding;

reel_status reel_embedding_init(reel_embedding *e, reel_params *ps, const char *prefix, int num,
                                int dim, reel_rng *rng, reel_err *err);
reel_tensor *reel_embedding_forward(reel_tape *t, const reel_embedding *e, const int32_t *ids, int n);

/* ---- recurrent cells ----------------------------------------------------------
 *
 * A cell's weights for one layer and direction, PyTorch's layout:
 * w_ih (G*H, F), w_hh (G*H, H), b_ih (G*H), b_hh (G*H), G = gates.
 * The driver computes the input projection of all T steps in one product,
 *     xp = x W_ih^T + b_ih (+ b_hh when the cell folds it)      (T*B, G*H)
 * and calls step() once per time step with that step's rows (B, G*H). */
typedef struct reel_cell_params {
	reel_tensor *w_ih, *w_hh, *b_ih, *b_hh; /* biases NULL without bias */
} reel_cell_params;

typedef struct reel_cell {
	const char *name;
	int gates;     /* G: blocks of H rows in w_ih and w_hh */
	int nstate;    /* 1 (h) or 2 (h, c); state[0] is always h, the output */
	int fold_bias; /* 1: b_hh is added to xp once, not inside step */
	/* One time step: xp (B, G*H) is this step's input projection; h_in is
	 * state[0] after recurrent dropout (use it for the recurrent product);
	 * state (B, H) each; writes next[0..nstate-1]. */
	void (*step)(reel_tape *t, const reel_cell_params *p, reel_tensor *xp, reel_tensor *h_in,
	             reel_tensor *const *state, reel_tensor **next);
} reel_cell;

/* Elman RNN, h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu). */
extern const reel_cell reel_cell_rnn_tanh, reel_cell_rnn_relu;
/* LSTM, PyTorch's equations and gate order i, f, g, o (Hochreiter &
 * Schmidhuber 1997, with the forget gate of Gers et al. 2000). */
extern const reel_cell reel_cell_lstm;
/* GRU, PyTorch's equations (Cho et al. 2014), gate order r, z, n, with the
 * reset gate applied after the recurrent product: n = tanh(x W_in^T + b_in +
 * r * (h W_hn^T + b_hn)). */
extern const reel_cell reel_cell_gru;
/* Minimal gated unit (Zhou et al. 2016), the example of a new cell written
 * as op calls (layers/cell_mgu.c). */
extern const reel_cell reel_cell_mgu;

/* ---- the sequence driver ------------------------------------------------------- */

typedef struct reel_rnn_opts {
	const reel_cell *cell;
	int input_size, hidden_size;
	int num_layers;           /* default 1 */
	int bidirectional;        /* reverse direction's parameters end in "_reverse" */
	int no_bias;              /* 1: no bias vectors (nn.LSTM's bias=False) */
	double dropout;           /* between layers, not after the last (as nn.LSTM) */
	double recurrent_dropout; /* variational: one mask per sequence on h before W_hh (Gal & Ghahramani 2016) */
	int orthogonal;           /* orthogonal init of W_hh blocks (Saxe et al. 2014) */
	double forget_bias;       /* LSTM: forget-gate bias init (Jozefowicz et al. 2015 use 1); 0 = PyTorch default */
} reel_rnn_opts;

#define REEL_RNN_MAX_LAYERS 8

typedef struct reel_rnn {
	reel_rnn_opts o;
	int dirs;
	reel_cell_params p[REEL_RNN_MAX_LAYERS][2];
} reel_rnn;

/* Create the parameters (prefix + "weight_ih_l0", "weight_hh_l0",
 * "bias_ih_l0", "bias_hh_l0", "..._l0_reverse", ...) with PyTorch's default
 * init U(-1/sqrt(H), 1/sqrt(H)), then the optional orthogonal and
 * forget-bias init. */
reel_status reel_rnn_init(reel_rnn *r, reel_params *ps, const char *prefix, const reel_rnn_opts *o,
                          reel_rng *rng, reel_err *err);

typedef struct reel_rnn_out {
	reel_tensor *y;   /* (T, B, dirs*H): top layer's outputs; zero past each length */
	reel_tensor *h_n; /* (layers*dirs, B, H), PyTorch's order */
	reel_tensor *c_n; /* LSTM's cell state, same shape; NULL for other cells */
} reel_rnn_out;

/* Run the stack over x (T, B, input_size), time-major.
 * lengths: per-sequence lengths (B) in [1, T], or NULL for all T.  Past a
 * sequence's end its state is frozen and its outputs are zero, so results
 * equal running each sequence alone; the reverse direction starts at each
 * sequence's own last element (as PyTorch's packed sequences).
 * h0, c0: initial states (layers*dirs, B, H) or NULL for zeros; to carry a
 * state across chunks (truncated BPTT), pass the previous chunk's final
 * state copied into a fresh leaf (see reel_rnn_carry below).
 * Returns REEL_OK or the tape's error. */
reel_status reel_rnn_forward(reel_tape *t, const reel_rnn *r, reel_tensor *x, const int *lengths,
                             reel_tensor *h0, reel_tensor *c0, reel_rnn_out *out);

/* x W_ih^T + b_ih (+ b_hh when the cell folds it): the input projection of
 * a cell for any number of rows of x (F columns).  For drivers of cells
 * (the sequence driver, the seq2seq decoder). */
reel_tensor *reel__input_projection(reel_tape *t, const reel_cell *cell, const reel_cell_params *p, reel_tensor *x);

/* Truncated BPTT: final states kept across reel_tape_reset, in caller
 * memory.  store() copies the final states out; h0()/c0() give them back on
 * a new tape as constant leaves, so gradients stop at the chunk boundary. */
typedef struct reel_rnn_carry {
	reel_real *h, *c; /* (layers*dirs, B, H) each; c NULL unless LSTM */
	int shape[3];
	int valid;
} reel_rnn_carry;

reel_status reel_rnn_carry_init(reel_rnn_carry *cy, const reel_rnn *r, int batch);
void reel_rnn_carry_deinit(reel_rnn_carry *cy);
void reel_rnn_carry_store(reel_rnn_carry *cy, const reel_rnn_out *out);
reel_tensor *reel_rnn_carry_h0(reel_tape *t, const reel_rnn_carry *cy); /* NULL if not valid yet */
reel_tensor *reel_rnn_carry_c0(reel_tape *t, const reel_rnn_carry *cy);

#endif
