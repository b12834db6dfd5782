/* reel ops: the primitive differentiable operations recorded on a tape.
 *
 * Every constructor computes its output at once and, when an input needs a
 * gradient, records one node whose backward adds into the inputs' gradients
 * (inputs that need none are skipped).  Outputs live in the tape's arena.
 *
 * Errors: on a shape or argument error the op returns NULL and stores a
 * message naming the op and the shapes on the tape (first error wins); any op
 * given a NULL input, or called on a tape that has already failed, returns
 * NULL at once.  Check reel_tape_status() once after the forward.
 *
 * Broadcasting (add, sub, mul, div): b may have a's shape; or a's trailing dims
 * (with optional leading 1s), e.g. a bias row (H) or (1, H) against (T, B, H);
 * or a's shape with the last dim 1 (a column: one value per row, e.g. a mask
 * (B, 1) against (B, H)); or a single element.  For add, mul and div, a may
 * be the broadcast operand instead of b.
 */
#ifndef REEL_OPS_H
#define REEL_OPS_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The op table: X(ID, name).  Adding an op is one line here, its constructor
 * below, its forward + backward in the file of its family, and a gradient
 * check in test/ (the suite fails for an op without one). */
#define REEL_OPS(X)          \
	X(MATMUL, "matmul")        \
	X(BMM, "bmm")              \
	X(ADDMM, "addmm")          \
	X(ADD, "add")              \
	X(SUB, "sub")              \
	X(MUL, "mul")              \
	X(DIV, "div")              \
	X(SCALE, "scale")          \
	X(ADD_SCALAR, "add_scalar") \
	X(ONE_MINUS, "one_minus")  \
	X(TANH, "tanh")            \
	X(SIGMOID, "sigmoid")      \
	X(RELU, "relu")            \
	X(EXP, "exp")              \
	X(LOG, "log")              \
	X(SQRT, "sqrt")            \
	X(RSQRT, "rsqrt")          \
	X(POW, "pow")              \
	X(ABS, "abs")              \
	X(CLAMP, "clamp")          \
	X(SOFTMAX, "softmax")      \
	X(LOG_SOFTMAX, "log_softmax") \
	X(LAYER_NORM, "layer_norm") \
	X(CONCAT, "concat")        \
	X(SLICE, "slice")          \
	X(STACK, "stack")          \
	X(ROWS, "rows")            \
	X(RESHAPE, "reshape")      \
	X(TRANSPOSE, "transpose")  \
	X(SUM, "sum")              \
	X(MEAN, "mean")            \
	X(SUM_AXIS, "sum_axis")    \
	X(MEAN_AXIS, "mean_axis")  \
	X(MAX_AXIS, "max_axis")    \
	X(GATHER, "gather")        \
	X(CROSS_ENTROPY, "cross_entropy") \
	X(MSE, "mse")              \
	X(DROPOUT, "dropout")      \
	X(BLEND, "blend")          \
	X(CTC_LOSS, "ctc_loss")    \
	X(TIME_WINDOW, "time_window") \
	X(MDN_NLL, "mdn_nll")      \
	X(GRAD_SCALE, "grad_scale") \
	X(GATE_BLOCKS, "gate_blocks") \
	X(LSTM_CELL, "lstm_cell")  \
	X(GRU_CELL, "gru_cell")

typedef enum reel_op {
#define REEL_X_ENUM(id, name) REEL_OP_##id,
	REEL_OPS(REEL_X_ENUM)
#undef REEL_X_ENUM
	REEL_OP_COUNT
} reel_op;

/* The op's name ("matmul"), or "?" for an out-of-range id. */
const char *reel_op_name(int op);

/* ---- matrix products (BLIS) ---------------------------------------------- */

enum { REEL_TRANS_A = 1, REEL_TRANS_B = 2 };
/* A flag of reel_addmm and reel_lstm_cell: write the result over an input
 * the caller will not read again (each op says which and what it checks). */
enum { REEL_IN_PLACE = 8 };

/* C = op(A) op(B), where op(X) = X^T if the flag for X is set.
 * a: (m, k), or (k, m) with REEL_TRANS_A; b: (k, n), or (n, k) with
 * REEL_TRANS_B; both 2-d.  Returns (m, n).  The operands are handed to BLIS
 * in place (transposes become strides, no copy); matrix-vector shapes (m, n
 * or k equal to 1) go to gemv/ger.  Saves nothing but the input pointers.
 * Errors: not 2-d; inner dimensions differ. */
reel_tensor *reel_matmul(reel_tape *t, reel_tensor *a, reel_tensor *b, int flags);

/* D + op(A) op(B) in one product (BLIS beta = 1 onto a copy of D): d is
 * (m, n), or a row (n) or (1, n) added to every row (a bias: the linear
 * layer is reel_addmm(t, bias, x, W, REEL_TRANS_B)).  a and b as in
 * reel_matmul.  Saves one pass and one buffer over reel_add(reel_matmul()).
 * flags | REEL_IN_PLACE, with d (m, n) the output of an op (not a leaf,
 * not a parameter, not wrapped memory): the product accumulates into d's
 * own buffer and the result is a view of it, whose gradient is d's (no
 * copy of d, no (m, n) buffer; the LSTM adds each step's recurrent product
 * onto its slice of the input projection).  The caller promises that no op
 * read d before and none reads it after; when d needs no gradient but a or
 * b do, the op makes the usual copy instead.
 * Errors: those of matmul; d of another shape; REEL_IN_PLACE on a row d or
 * on a d that is not an op's output. */
reel_tensor *reel_addmm(reel_tape *t, reel_tensor *d, reel_tensor *a, reel_tensor *b, int flags);

/* Batched: a (N, m, k), b (N, k, n) (per-matrix transposes as above) ->
 * (N, m, n), one product per leading index (attention scores and contexts).
 * Errors: not 3-d; batch sizes or inner dimensions differ. */
reel_tensor *reel_bmm(reel_tape *t, reel_tensor *a, reel_tensor *b, int flags);

/* ---- elementwise ---------------------------------------------------------- */

/* a + b, a - b, a * b with broadcasting (see the top of this file).  Result
 * has the shape of the larger operand.  mul saves its inputs (pointers). */
reel_tensor *reel_add(reel_tape *t, reel_tensor *a, reel_tensor *b);
reel_tensor *reel_sub(reel_tape *t, reel_tensor *a, reel_tensor *b);
reel_tensor *reel_mul(reel_tape *t, reel_tensor *a, reel_tensor *b);

/* a / b with the broadcasting of mul (either operand may be the broadcast
 * one); the result has the shape of the larger.  Gradients, as PyTorch:
 * da = dy / b, db = -dy * (a / b) / b, summed over broadcast positions.
 * Division by zero follows IEEE (inf or NaN), as in PyTorch.  Saves its
 * inputs (pointers); backward also reads the output.  Errors: shapes that
 * do not broadcast. */
reel_tensor *reel_div(reel_tape *t, reel_tensor *a, reel_tensor *b);

/* alpha * x;  x + c;  1 - x. */
reel_tensor *reel_scale(reel_tape *t, reel_tensor *x, reel_real alpha);
reel_tensor *reel_add_scalar(reel_tape *t, reel_tensor *x, reel_real c);
reel_tensor *reel_one_minus(reel_tape *t, reel_tensor *x);

/* tanh, logistic sigmoid 1/(1+e^-x), max(0, x) (gradient 0 at 0), e^x, ln x.
 * tanh, sigmoid, exp and relu backward use the output; log uses the input. */
reel_tensor *reel_tanh(reel_tape *t, reel_tensor *x);
reel_tensor *reel_sigmoid(reel_tape *t, reel_tensor *x);
reel_tensor *reel_relu(reel_tape *t, reel_tensor *x);
reel_tensor *reel_exp(reel_tape *t, reel_tensor *x);
reel_tensor *reel_log(reel_tape *t, reel_tensor *x);

/* sqrt(x) and 1 / sqrt(x).  Domain x >= 0 (x > 0 for rsqrt and for a finite
 * gradient): a negative x gives NaN, 0 gives an infinite gradient (rsqrt:
 * an infinite value), as in PyTorch.  Backward uses the output only:
 * d sqrt = dy / (2 y),  d rsqrt = -dy y^3 / 2. */
reel_tensor *reel_sqrt(reel_tape *t, reel_tensor *x);
reel_tensor *reel_rsqrt(reel_tape *t, reel_tensor *x);

/* x^p for a real scalar exponent p (C's pow, elementwise), with gradient
 * dy * p * x^(p-1), and exactly 0 when p == 0 (as PyTorch).  Domain: any x
 * when p is an integer; x >= 0 otherwise (a negative x with a non-integer p
 * gives NaN); at x == 0 a negative p gives an infinite value and p < 1 an
 * infinite gradient.  Saves its input (pointer).  Errors: p not finite. */
reel_tensor *reel_pow(reel_tape *t, reel_tensor *x, reel_real p);

/* |x|, with gradient dy * sign(x) and sign(0) = 0: the subgradient 0 at the
 * kink, as PyTorch.  Saves its input (pointer). */
reel_tensor *reel_abs(reel_tape *t, reel_tensor *x);

/* min(max(x, lo), hi) elementwise.  The gradient passes where
 * lo <= x <= hi, boundaries included (PyTorch's clamp_backward: the
 * subgradient 1 at lo and at hi), and is 0 outside; a NaN x stays NaN and
 * gets gradient 0.  One-sided clamps: lo = -INFINITY or hi = INFINITY.
 * Saves its input (pointer) and the bounds.  Errors: lo or hi NaN, lo > hi
 * (PyTorch then returns hi everywhere; reel refuses). */
reel_tensor *reel_clamp(reel_tape *t, reel_tensor *x, reel_real lo, reel_real hi);

/* Inverted dropout: y = x * m / (1 - p), m ~ Bernoulli(1 - p) from the
 * tape's RNG, saved in the arena for backward.  In evaluation mode, or with
 * p == 0, returns x itself (no copy, no node).  Errors: p outside [0, 1). */
reel_tensor *reel_dropout(reel_tape *t, reel_tensor *x, reel_real p);

/* Masked blend y = m * a + (1 - m) * b for variable lengths: where m is 1 the
 * new value a, where 0 the old value b.  a and b have the same shape; m has
 * that shape or that shape with the last dim 1 (one value per row, e.g. (B, 1)
 * against (B, H)).  m is a constant: it gets no gradient. */
reel_tensor *reel_blend(reel_tape *t, reel_tensor *m, reel_tensor *a, reel_tensor *b);

/* Gate activations in one pass: x is (..., G*H), the gate pre-activations
 * of R = size / (G*H) rows side by side in G column blocks of H (an LSTM's
 * i, f, g, o); acts names each block's activation, one character per block
 * (G = strlen(acts) <= 16): 's' sigmoid, 't' tanh, '-' none.  Returns
 * (G, R, H): block g of every row, activated and made contiguous, so that
 * reel_index(t, y, g) is a gate as a (R, H) view, with no copy and no
 * node.  Replaces reel_split (G copies) and G activations (G more passes
 * and nodes) with one pass and one node; the values are those of the
 * split-and-activate composition, bit for bit.  Backward uses the output:
 * dx += dy * y (1 - y) for 's', dy * (1 - y^2) for 't', dy for '-'.
 * A single row with no activation is returned as a view (reel_reshape).
 * Errors: acts empty, too long or with another character; x's last dim not
 * a multiple of G; x 0-d. */
reel_tensor *reel_gate_blocks(reel_tape *t, reel_tensor *x, const char *acts);

/* The LSTM state update in one op: gates (B, 4H), the pre-activations
 * [i f g o] (PyTorch's order), and the previous cell state c (B, H) ->
 * c' = sigmoid(f) c + sigmoid(i) tanh(g) and h' = sigmoid(o) tanh(c').
 * With h_out NULL the result is y (2, B, H) = [c'; h'] (reel_index(t, y,
 * 0) and 1 are the two states, as views); with a slot h_out (B, H), a view
 * of a tape tensor nothing has written (a time step of the sequence's
 * output), h' is written there and the result is c' (B, H): the sequence
 * needs no stack copy of its hidden states.  The values are those of the
 * composition (gate_blocks "ssts", mul, add, tanh, mul) bit for bit, with
 * 2 nodes per LSTM step instead of 7 and one pass forward and one
 * backward.  Saves the four activations and tanh(c').  flags: 0, or
 * REEL_IN_PLACE: the activations overwrite gates' buffer instead of a new
 * one (a (B, 4H) buffer less per step); the caller promises not to read
 * gates' values again (also not through a view), and the op checks that
 * no backward does: gates must be the output of the node recorded just
 * before, a matmul or addmm (or no gradient is recorded).  Errors: shapes
 * other than (B, 4H) and (B, H); a slot of another shape, off the tape or
 * without a gradient the op needs; REEL_IN_PLACE on another gates; unknown
 * flags. */
reel_tensor *reel_lstm_cell(reel_tape *t, reel_tensor *gates, reel_tensor *c, reel_tensor *h_out, int flags);

/* The GRU state update in one op: xp (B, 3H) = [xr xz xn], the input
 * projection with b_ih; gh (B, 3H) = [hr hz hn], the recurrent product
 * with b_hh; h (B, H) -> h' (B, H), with r = sigmoid(xr + hr), z =
 * sigmoid(xz + hz), n = tanh(xn + r hn), h' = n + z (h - n) (PyTorch's
 * GRU).  Values equal the composition (add, sigmoid, mul, tanh, sub) bit
 * for bit; 2 nodes per GRU step instead of 13.  Saves r, z, n; reads hn
 * from gh in backward.  h_out: NULL, or a slot for h' as in
 * reel_lstm_cell (the result is then h_out).  flags: 0, or REEL_IN_PLACE:
 * r, z, n overwrite xp's buffer (the caller promises not to read xp again;
 * xp must be an op's output).  Errors: other shapes; a bad slot (as
 * reel_lstm_cell); REEL_IN_PLACE on a leaf or wrapped memory; unknown
 * flags. */
reel_tensor *reel_gru_cell(reel_tape *t, reel_tensor *xp, reel_tensor *gh, reel_tensor *h, reel_tensor *h_out,
                           int flags);

/* The Elman RNN's activation as a cell op: pre (B, H) -> h' = tanh(pre)
 * (act 't') or relu(pre) ('r'), written into the slot h_out when given
 * (as reel_lstm_cell; the result is then h_out), else a new tensor.  It
 * records reel_tanh's / reel_relu's node; with the recurrent product added
 * in place onto the input projection (reel_addmm REEL_IN_PLACE) and h'
 * in the output's slot, an RNN step keeps no buffer of its own.  Errors:
 * pre not 2-d; act other than 't' or 'r'; a bad slot. */
reel_tensor *reel_rnn_cell(reel_tape *t, reel_tensor *pre, char act, reel_tensor *h_out);

/* ---- softmax family (last axis) ------------------------------------------- */

/* softmax(x)_j = e^{x_j - max} / sum_k e^{x_k - max}, per row of the last
 * axis; log_softmax = x_j - max - log sum_k e^{x_k - max}.  Both save their
 * output.  A row of all -inf gives NaN, as in PyTorch. */
reel_tensor *reel_softmax(reel_tape *t, reel_tensor *x);
reel_tensor *reel_log_softmax(reel_tape *t, reel_tensor *x);

/* ---- normalization (last axis) --------------------------------------------- */

/* Layer normalization over the last axis, as torch.nn.functional.layer_norm
 * with normalized_shape = (N,):
 *   mu = mean_j x_j,  var = mean_j (x_j - mu)^2  (biased),  r = 1/sqrt(var + eps)
 *   y_j = (x_j - mu) * r * gamma_j + beta_j
 * x: (..., N) with at least 1 dim; gamma, beta: (N) or (1, N), or NULL
 * (gamma = 1, beta = 0).  Saves mu and r per row (arena).  Backward, with
 * xh = (x - mu) r and g = dy * gamma, per row:
 *   dx = r (g - mean(g) - xh mean(g xh)),  dgamma += sum_rows dy xh,
 *   dbeta += sum_rows dy.
 * Statistics accumulate in double.
 *
 * One op rather than a composition of existing ops (mean_axis, sub, mul,
 * mean_axis, add_scalar, rsqrt, mul, mul, add: 9 nodes), because it is 3 to
 * 7 times faster.  Measured with `reel_bench layernorm` (bench/layernorm.c;
 * float build, 1 thread, median ms per call, gamma and beta given):
 *     rows x cols   forward: fused  composed    forward + backward: fused  composed
 *       32 x   64           0.0011    0.0032                       0.0029    0.0076
 *       32 x 1024           0.0080    0.0416                       0.0244    0.1726
 *      128 x  256           0.0090    0.0398                       0.0255    0.1274
 *      128 x 1024           0.0316    0.1882                       0.1074    0.5764
 *     1024 x   64           0.0248    0.0794                       0.0635    0.2527
 *     1024 x 1024           0.2566    1.8786                       1.0754    5.7665
 * Why: the fused op reads x twice forward (sums of x and of (x - mu)^2, in
 * eight-lane double sums that vectorize) and writes y once; backward makes
 * five short vectorized passes per row and allocates only dx.  The
 * composition runs nine ops, each a full pass, keeps seven intermediate
 * tensors (four of them (R, N)) and their gradient buffers, and its row
 * sums (mean_axis over the last axis) are one serial double accumulator
 * each.  Both compute the same function: the benchmark prints the largest
 * difference of output and gradients, 2.3e-5 at 1024 x 1024 in float.
 * Errors: x a scalar; gamma or beta not of N elements; eps < 0 or NaN. */
reel_tensor *reel_layer_norm(reel_tape *t, reel_tensor *x, reel_tensor *gamma, reel_tensor *beta,
                             reel_real eps);

/* ---- shape ------------------------------------------------------------------ */

/* Concatenate n >= 1 tensors along axis (negative counts from the end); all
 * other dims equal.  Copies. */
reel_tensor *reel_concat(reel_tape *t, reel_tensor *const *xs, int n, int axis);

/* The range [start, start + len) of axis (any axis).  Copied, unless the
 * range is one contiguous run (every axis before `axis` has size 1, e.g. the
 * gates of a single row, or the leading axis): then a view, as reel_rows. */
reel_tensor *reel_slice(reel_tape *t, reel_tensor *x, int axis, int start, int len);

/* n equal slices of axis (its size must divide by n), into out[0..n-1]:
 * e.g. the four gate blocks of an LSTM.  Returns REEL_OK or the tape error. */
reel_status reel_split(reel_tape *t, reel_tensor *x, int axis, int n, reel_tensor **out);

/* Stack n >= 1 tensors of equal shape along a new leading axis: (n, ...). */
reel_tensor *reel_stack(reel_tape *t, reel_tensor *const *xs, int n);

/* View of leading-axis entries [start, start + len): one time step of a
 * (T, B, H) tensor is reel_rows(t, x, s, 1) -> (1, B, H).  Shares data and
 * gradient; no copy and no node. */
reel_tensor *reel_rows(reel_tape *t, reel_tensor *x, int start, int len);

/* View of leading entry i with the leading axis dropped: (T, B, H) -> (B, H). */
reel_tensor *reel_index(reel_tape *t, reel_tensor *x, int i);

/* View with a new shape of the same size (a -1 entry is inferred).  Shares
 * data and gradient; no copy and no node. */
reel_tensor *reel_reshape(reel_tape *t, reel_tensor *x, int ndim, const int *shape);
reel_tensor *reel_reshape2(reel_tape *t, reel_tensor *x, int rows, int cols);
reel_tensor *reel_reshape3(reel_tape *t, reel_tensor *x, int d0, int d1, int d2);

/* The time-delay window (Waibel et al. 1989): x (T, B, F) time-major ->
 * (T, B, k*F), where block j (columns j*F .. j*F + F - 1) of step s is
 * x[s - j * dilation], zeros before the first step (causal: no step sees
 * a later one).  A product with one (O, k*F) weight after it is the
 * time-delay layer, shared across time: the causal
 * torch.nn.functional.conv1d with left padding (k - 1) * dilation, its
 * kernel tap i being block k - 1 - i.  Backward adds each block's gradient
 * into the step it was copied from.  Saves nothing but x.  Errors: x not
 * 3-d; k or dilation below 1. */
reel_tensor *reel_time_window(reel_tape *t, reel_tensor *x, int k, int dilation);

/* Swap the last two dims (copy): (..., m, n) -> (..., n, m). */
reel_tensor *reel_transpose(reel_tape *t, reel_tensor *x);

/* Swap any two axes (copy), e.g. time-major (S, B, H) -> batch-major
 * (B, S, H) with a = 0, b = 1.  Same op as reel_transpose. */
reel_tensor *reel_swapaxes(reel_tape *t, reel_tensor *x, int a, int b);

/* ---- constants ------------------------------------------------------------ */

/* Sequence masks from lengths: (T, B, 1) with m[s][b] = 1 if s < lengths[b]
 * else 0; a constant (no gradient).  Errors: a length outside [0, T]. */
reel_tensor *reel_length_mask(reel_tape *t, const int *lengths, int T, int B);

/* Additive attention mask from key lengths: (B, S) with 0 where s <
 * lengths[b] and -infinity past it, so softmax gives padding exactly zero
 * weight.  Errors: a length outside [1, S]. */
reel_tensor *reel_key_padding_bias(reel_tape *t, const int *lengths, int B, int S);

/* ---- utilities on values (no gradient, no node) --------------------------- */

/* Index of the largest element of each row (last axis) of x into out
 * (rows entries); the first wins ties.  For greedy decoding. */
void reel_argmax_rows(const reel_tensor *x, int32_t *out);

/* Indices of the k largest of v[0..n) in decreasing order (first wins
 * ties), into idx[0..min(k, n)).  For beam search; k is small. */
void reel_topk(const reel_real *v, int n, int k, int32_t *idx);

/* ---- profiling --------------------------------------------------------------- */

/* Time spent in matrix products (every product goes through one function),
 * for benchmarks that split a step into GEMM and the rest.  Process-wide
 * and not thread-safe; off by default, and then it costs one branch. */
typedef struct reel_profile {
	double gemm_seconds;
	long gemm_calls;
} reel_profile;
void reel_profile_enable(int on);
void reel_profile_reset(void);
reel_profile reel_profile_get(void);

/* The matrix-product plan (engine/gemm_plan.c: the kernel set measured
 * fastest per product shape) as text, one "m n k layout threads name" line
 * per shape, so a checkpoint can carry it: a process that loads it runs
 * each recorded shape with the kernels the first process chose, so a
 * resumed run computes bit for bit what the uninterrupted one did.  save
 * returns text the caller frees (NULL if out of memory); load returns the
 * number of shapes recorded (a kernel set this CPU lacks is skipped, and
 * those shapes are measured again). */
char *reel_gemm_plan_save(void);
int reel_gemm_plan_load(const char *text);

/* ---- threads ------------------------------------------------------------------- */

/* Threads for matrix products (BLIS's global setting; the engine's other
 * loops are single-threaded).  Process-wide, like BLIS's own setting: call
 * it between steps, not while another thread runs ops.  Returns REEL_OK, or
 * REEL_ERR_ARG for n < 1 or n > REEL_MAX_THREADS (nothing changes then).
 * reel_get_threads() is the count in effect: BLIS's (>= 1; BLIS reads
 * BLIS_NUM_THREADS or OMP_NUM_THREADS at start-up). */
#define REEL_MAX_THREADS 1024
reel_status reel_set_threads(int n);
int reel_get_threads(void);

/* ---- reductions and losses ---------------------------------------------- */

/* Sum / mean of all elements: a scalar (0-d). */
reel_tensor *reel_sum(reel_tape *t, reel_tensor *x);
reel_tensor *reel_mean(reel_tape *t, reel_tensor *x);

/* Sum / mean over one axis, which is removed: (T, B, H) axis 0 -> (B, H). */
reel_tensor *reel_sum_axis(reel_tape *t, reel_tensor *x, int axis);
/* Max over one axis, which is removed, as torch.max(x, dim).values: the
 * gradient goes to the position of the maximum (the first one on ties).
 * Saves the positions (int32, one per output element).  A slice of all
 * -inf gives -inf (padding masked with -inf never wins over a real value). */
reel_tensor *reel_max_axis(reel_tape *t, reel_tensor *x, int axis);
reel_tensor *reel_mean_axis(reel_tape *t, reel_tensor *x, int axis);

/* Rows of a table (V, D) picked by n ids in [0, V): (n, D).  The embedding
 * lookup; backward scatter-adds into the table's gradient (repeated ids
 * accumulate).  ids are copied into the arena.  Errors: table not 2-d; an
 * id out of range (names the position and the id). */
reel_tensor *reel_gather(reel_tape *t, reel_tensor *table, const int32_t *ids, int n);

/* Cross-entropy from logits (N, C) (or (..., C), folded) and integer
 * targets (N):  loss_i = logsumexp(x_i) - x_i[target_i].
 * Reduction: mean over counted rows, sum_i w_i loss_i / sum_i w_i, where
 * w_i = 0 if target_i == ignore_index, else mask_i (mask: (N) or NULL for
 * all ones).  If no row counts, the loss is 0 (PyTorch gives NaN).
 * Pass REEL_NO_IGNORE to ignore nothing.  The mask gets no gradient.
 * Saves the softmax (N, C).  Errors: a target outside [0, C) that is not
 * ignore_index; a mask of the wrong size. */
#define REEL_NO_IGNORE INT32_MIN
reel_tensor *reel_cross_entropy(reel_tape *t, reel_tensor *logits, const int32_t *targets,
                                reel_tensor *mask, int32_t ignore_index);

/* Mean squared error mean((a - b)^2): a scalar; both operands get gradients. */
reel_tensor *reel_mse(reel_tape *t, reel_tensor *a, reel_tensor *b);

/* Connectionist temporal classification loss (Graves et al. 2006), as
 * torch.nn.functional.ctc_loss: log_probs (T, B, C) time-major per-frame
 * log-probabilities (reel_log_softmax of the logits); targets (B,
 * max_target_len) label ids, row b holding target_lengths[b] labels in
 * [0, C) other than blank (the rest of the row is not read);
 * input_lengths (B) in [1, T] frames per sequence.  The loss of sequence b
 * is -log of the summed probability of every frame labelling that
 * collapses (repeats merged, then blanks removed) to its targets, by the
 * forward-backward recursion in log space, in double (engine/op_ctc.c).
 * Reduction: REEL_CTC_MEAN is PyTorch's 'mean' (each loss divided by its
 * target length, at least 1, then the mean over the batch); REEL_CTC_SUM
 * the sum.  A sequence no labelling can reach (too few frames for its
 * labels and the blanks between repeats) has loss +inf, as PyTorch with
 * zero_infinity=False, and gets no gradient.
 * Gradient: the exact d loss / d log_probs, -exp(log occupancy(t, c) -
 * lp + nll), zero past a sequence's frames.  PyTorch's kernel returns
 * that plus exp(lp), a term that vanishes through log_softmax (each
 * frame's exp(lp) sums to 1), so both give the same gradient of the
 * logits; test/gen_ctc.py compares there.
 * Saves the log-alpha tables (double, sum of T_b (2 U_b + 1)), the
 * targets, lengths and per-sequence losses.  Errors: log_probs not 3-d;
 * a length outside its range; a target that is the blank or not a class;
 * blank outside [0, C). */
enum { REEL_CTC_MEAN = 0, REEL_CTC_SUM = 1 };
reel_tensor *reel_ctc_loss(reel_tape *t, reel_tensor *log_probs, const int32_t *targets, int max_target_len,
                           const int *input_lengths, const int *target_lengths, int blank, int reduction);

/* Mixture density output (Bishop 1994; Graves 2013): the negative
 * log-likelihood of targets under K diagonal Gaussians per row.  params
 * (..., K (1 + 2 D)), folded to (N, P): per row the K mixture logits
 * (pi = softmax), then the K x D means (component-major), then the K x D
 * log standard deviations (sigma = exp, so variances exp(2 s) > 0);
 * target (..., D), folded to N rows; mask (N) row weights or NULL (all 1).
 *   loss_i = -log sum_k pi_k prod_d Normal(y_d; mu_kd, sigma_kd)
 * Reduction: sum_i w_i loss_i / sum_i w_i (0 if no weight).  Computed in
 * double with log-sum-exp over components (engine/op_mdn.c, where the
 * gradients are written out); params and target both get gradients, the
 * mask none.  As a PyTorch composition: -(log_softmax(a) +
 * Normal(mu, exp(s)).log_prob(y).sum(-1)).logsumexp(-1), test/gen_mdn.py.
 * Saves pi and the responsibilities (N, K) in double.  Errors: K < 1;
 * params not K (1 + 2 D) columns; rows differ; a mask of the wrong size. */
reel_tensor *reel_mdn_nll(reel_tape *t, reel_tensor *params, reel_tensor *target, reel_tensor *mask, int K);

/* One draw from the mixture of one row of params (layout as reel_mdn_nll)
 * into out (D): a component from softmax(a / temperature), then its
 * Gaussian with standard deviation sigma sqrt(temperature) (temperature
 * <= 0 means 1; below 1 sharpens both choices, as in Ha & Eck 2017).
 * reel_mdn_mean: the mixture's mean sum_k pi_k mu_k into out (D).  No
 * gradient, no node. */
void reel_mdn_sample(const reel_real *params, int K, int D, reel_rng *rng, double temperature, reel_real *out);
void reel_mdn_mean(const reel_real *params, int K, int D, reel_real *out);

/* Identity forward, gradient times alpha backward: dx += alpha dy.  A
 * scale of the gradient through one link of the graph, e.g. the
 * reweighting of kept recurrent links in randomized truncated BPTT
 * (Tallec & Ollivier 2017; layers.h, reel_rnn_forward_links).  A copy of
 * x (so the node has its own output).  Saves alpha.  Errors: alpha not
 * finite. */
reel_tensor *reel_grad_scale(reel_tape *t, reel_tensor *x, reel_real alpha);

/* Greedy (best-path) CTC decoding of per-frame scores x (T, B, C): the
 * argmax class of each frame within input_lengths[b], repeats merged,
 * blanks removed, into out (B, T) row b, its length in out_len[b].
 * No gradient, no node. */
void reel_ctc_greedy(const reel_tensor *x, const int *input_lengths, int blank, int32_t *out, int *out_len);

#ifdef __cplusplus
}
#endif

#endif
