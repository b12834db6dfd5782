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

#include "gradcheck.h"
#include "ops.h"
#include "param.h"
#include "rng.h"
#include "safetensors.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

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
 * A cell is a descriptor: the parameters it needs (shape in terms of the
 * input size I, the hidden size H and its gate count G; a PyTorch-style base
 * name; an initializer; a role) and one step function of op calls.  The
 * driver (reel_rnn_init) creates the listed parameters for every layer and
 * direction, named prefix + base name + "_l0" (+ "_reverse"), in the listed
 * order, and hands them to step() by index in reel_cell_params.w[].  A cell
 * lists only what it uses: IndRNN has no H x H weight_hh.
 *
 * The input projection: the parameter with role REEL_CP_PROJ, (rows, I),
 * multiplies the input of all T steps in one product before the loop,
 *     xp = x W^T + (sum of the REEL_CP_PROJ_BIAS parameters)   (T*B, rows)
 * and step() gets that step's rows (B, rows).  A cell with no REEL_CP_PROJ
 * parameter gets the raw input rows (B, I) instead. */

#define REEL_CELL_MAX_PARAMS 12

/* One dimension of a cell parameter: i * I + h * H + gh * G * H. */
typedef struct reel_cell_dim {
	int i, h, gh;
} reel_cell_dim;

#define REEL_DIM_I  {1, 0, 0}
#define REEL_DIM_H  {0, 1, 0}
#define REEL_DIM_GH {0, 0, 1}

typedef enum reel_cell_init {
	REEL_INIT_UNIFORM = 0, /* U(-1/sqrt(H), 1/sqrt(H)), PyTorch's default for recurrent layers */
	REEL_INIT_ZEROS,
	REEL_INIT_ONES,
	REEL_INIT_ORTHOGONAL,  /* 2-d (k*H, H): each H x H block orthogonal (Saxe et al. 2014) */
	REEL_INIT_UNIT,        /* U(0, 1) */
} reel_cell_init;

/* Roles (flags) of a cell parameter. */
enum {
	REEL_CP_BIAS = 1,         /* a bias: not created with the driver's no_bias option (w[] slot NULL) */
	REEL_CP_PROJ = 2,         /* the input weight (rows, I) of the all-steps input projection */
	REEL_CP_PROJ_BIAS = 4,    /* added to the input projection once (b_ih, and a folded b_hh) */
	REEL_CP_RECURRENT = 8,    /* (k*H, H) recurrent weight: the driver's orthogonal option applies */
	REEL_CP_FORGET = 16,      /* forget_bias option: the forget gate's block is set to it */
	REEL_CP_FORGET_ZERO = 32, /* forget_bias option: the forget gate's block is zeroed */
	REEL_CP_FROZEN = 64,      /* no gradient, never updated (an echo-state reservoir) */
};

typedef struct reel_cell_param {
	const char *name;        /* PyTorch-style base name: "weight_ih", "weight_ci", "ln_gamma_c" */
	int ndim;                /* 1 or 2 */
	reel_cell_dim shape[2];
	reel_cell_init init;
	int flags;               /* REEL_CP_* */
} reel_cell_param;

/* PyTorch's layout as a parameter list, for cells that use it:
 * weight_ih (G*H, I) the input projection, weight_hh (G*H, H), bias_ih (G*H)
 * added to the projection, bias_hh (G*H) with hh_flags (REEL_CP_PROJ_BIAS:
 * folded into the projection too), all U(-1/sqrt(H), 1/sqrt(H)). */
#define REEL_CELL_PARAMS_PYTORCH(ih_flags, hh_flags)                                                      \
	{"weight_ih", 2, {REEL_DIM_GH, REEL_DIM_I}, REEL_INIT_UNIFORM, REEL_CP_PROJ},                       \
	{"weight_hh", 2, {REEL_DIM_GH, REEL_DIM_H}, REEL_INIT_UNIFORM, REEL_CP_RECURRENT},                  \
	{"bias_ih", 1, {REEL_DIM_GH}, REEL_INIT_UNIFORM, REEL_CP_BIAS | REEL_CP_PROJ_BIAS | (ih_flags)},    \
	{"bias_hh", 1, {REEL_DIM_GH}, REEL_INIT_UNIFORM, REEL_CP_BIAS | (hh_flags)}

typedef struct reel_cell reel_cell;

/* One layer and direction of a cell: its parameters in the descriptor's
 * order (NULL for a bias under no_bias) and the sizes it was made for. */
typedef struct reel_cell_params {
	const reel_cell *cell;
	int input_size, hidden_size;
	reel_tensor *w[REEL_CELL_MAX_PARAMS];
} reel_cell_params;

struct reel_cell {
	const char *name; /* registry key and JSON layer type: "lstm", "indrnn" */
	const char *doc;  /* one line for `reel list` */
	int gates;        /* G in the parameter shapes (1 when unused) */
	int nstate;       /* 1 (h) or 2 (h, c); state[0] is always h, the output */
	int nparams;
	reel_cell_param params[REEL_CELL_MAX_PARAMS];
	int forget_gate;  /* block (of H) the REEL_CP_FORGET* flags refer to */
	/* One time step: xp is this step's input projection (B, rows) (or the
	 * raw input (B, I)); h_in is state[0] after recurrent dropout (use it
	 * for the recurrent product); state (B, H) each; writes
	 * next[0..nstate-1].  Errors go to the tape (a NULL next is fine).
	 * xp is the step's alone: nothing reads it after the step, so a
	 * step may overwrite it (REEL_IN_PLACE, as the built-in LSTM does).
	 * next[] is NULL on entry (the driver passes the built-in RNN, LSTM
	 * and GRU a (B, H) slot of the sequence's output in next[0], for h'). */
	void (*step)(reel_tape *t, const reel_cell_params *p, reel_tensor *xp, reel_tensor *h_in,
	             reel_tensor *const *state, reel_tensor **next);
	const void *data; /* for the step's own use (p->cell->data) */
};

/* The built-in cells' parameter slots for the PyTorch layout
 * weight_ih (G*H, I), weight_hh (G*H, H), bias_ih (G*H), bias_hh (G*H). */
enum { REEL_W_IH = 0, REEL_W_HH = 1, REEL_B_IH = 2, REEL_B_HH = 3 };

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
/* IndRNN (Li et al. 2018): h' = relu(x W_ih^T + b_ih + u * h + b_hh), u a
 * per-unit recurrent vector weight_hh (H) (layers/cell_indrnn.c). */
extern const reel_cell reel_cell_indrnn;
/* LSTM with peephole connections (Gers & Schmidhuber 2000): the gates see
 * the cell state through diagonal weights weight_ci, weight_cf (c) and
 * weight_co (c') (layers/cell_lstm_variants.c). */
extern const reel_cell reel_cell_peephole_lstm;
/* Layer-normalized LSTM (Ba et al. 2016): layer norm of the input and the
 * recurrent projections of the gates and of the cell state before the
 * output tanh (layers/cell_lstm_variants.c). */
extern const reel_cell reel_cell_ln_lstm;

/* ---- the cell registry ----------------------------------------------------------
 * Built-in cells and a program's own are found the same way: by the
 * driver's users, the JSON layer types of models/ (one per cell), `reel
 * list` and `reel_bench rnn --cell NAME`.  Registration is not thread-safe:
 * register before building models. */

/* Add a cell (the pointer is kept: the descriptor must outlive its use).
 * REEL_ERR_ARG with a message in err for a duplicate or empty name, a
 * malformed descriptor (no step, nstate not 1 or 2, a bad parameter list),
 * or a full registry. */
reel_status reel_cell_register(const reel_cell *cell, reel_err *err);
/* Register cell, or put it in the place of the program's own cell of the
 * same name (a cell compiled from a config that is read again, or changed).
 * Built-in names are refused.  The old descriptor is no longer found, but
 * models built with it keep using it: the caller keeps it alive. */
reel_status reel_cell_define(const reel_cell *cell, reel_err *err);
const reel_cell *reel_cell_find(const char *name); /* NULL if unknown */
int reel_cell_count(void);
const reel_cell *reel_cell_at(int i); /* 0 <= i < count: built-ins first, then registration order */

/* Check a descriptor (what reel_cell_register and reel_rnn_init check). */
reel_status reel_cell_validate(const reel_cell *cell, reel_err *err);

/* Elements of one layer and direction's parameters for input size I and
 * hidden size H (biases left out under no_bias). */
size_t reel_cell_param_count(const reel_cell *cell, int I, int H, int no_bias);

/* ---- the sequence driver ------------------------------------------------------- */

typedef struct reel_rnn_opts {
	const reel_cell *cell;
	int input_size, hidden_size;
	int num_layers;           /* default 1 */
	int bidirectional;        /* reverse direction's parameters end in "_reverse" */
	int no_bias;              /* 1: no bias vectors (nn.LSTM's bias=False) */
	double dropout;           /* between layers, not after the last (as nn.LSTM) */
	double recurrent_dropout; /* variational: one mask per sequence on h before W_hh (Gal & Ghahramani 2016) */
	int orthogonal;           /* orthogonal init of REEL_CP_RECURRENT weights' H x H blocks (Saxe et al. 2014) */
	double forget_bias;       /* cells with REEL_CP_FORGET biases (LSTMs): forget-gate bias init
	                           * (Jozefowicz et al. 2015 use 1); 0 = PyTorch default */
	int residual;             /* residual connections between stacked layers (GNMT, Wu et al. 2016):
	                           * every layer l >= 1 outputs its cell's outputs plus its input
	                           * (after inter-layer dropout), both (T, B, dirs*H) */
} reel_rnn_opts;

#define REEL_RNN_MAX_LAYERS 8

typedef struct reel_rnn {
	reel_rnn_opts o;
	int dirs;
	reel_cell_params p[REEL_RNN_MAX_LAYERS][2];
} reel_rnn;

/* Create the cell's parameters for every layer and direction (prefix +
 * "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
 * "..._l0_reverse", ... for the built-ins), each layer and direction in
 * turn: all its tensors are created, then initialized in the descriptor's
 * order (PyTorch's default U(-1/sqrt(H), 1/sqrt(H)) for the built-ins, so
 * the RNG stream is PyTorch-like), then the optional orthogonal and
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

/* reel_rnn_forward with a weight on each recurrent link, for randomized
 * truncated BPTT (Tallec & Ollivier 2017): link[s] (s = 1 .. T-1) applies
 * to the states entering step s from step s - 1, in every layer: 0 cuts
 * the link (the state is copied into a constant, so no gradient flows
 * back through it), another value w scales the gradient through it by w
 * (reel_grad_scale), 1 leaves it alone; the forward values are never
 * changed.  link[0] is not read (the initial state is h0/c0).  link NULL
 * is reel_rnn_forward.  Errors: link with a bidirectional stack (the
 * reverse direction's links run the other way). */
reel_status reel_rnn_forward_links(reel_tape *t, const reel_rnn *r, reel_tensor *x, const int *lengths,
                                   reel_tensor *h0, reel_tensor *c0, const reel_real *link, reel_rnn_out *out);

/* x W^T + the projection biases (REEL_CP_PROJ, REEL_CP_PROJ_BIAS): the
 * input projection of a cell for any number of rows of x (F columns); x
 * itself for a cell without one.  For drivers of cells (the sequence
 * driver, the seq2seq decoder). */
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

#ifdef __cplusplus
}
#endif

#endif
