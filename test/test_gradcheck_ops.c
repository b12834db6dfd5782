/* A gradient check for every op in the op table (double build), against
 * central finite differences.  The table below names the op each case
 * covers; an op of REEL_OPS without a case fails the suite. */
#include "gradcheck.h"
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAXIN = 4 };

typedef struct gcase {
	const char *name;
	int op;
	gc_fn f;
	int nin;
	int shapes[MAXIN][REEL_MAX_DIMS + 1]; /* ndim, dims... */
	double lo, hi, gap;                   /* input range; keep |x| >= gap */
	int nograd_mask;                      /* bit i: input i gets no gradient check */
	int iarg;
	double farg;
} gcase;

static const gcase *cur;

/* ---- case bodies ---- */
static reel_tensor *f_matmul(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_matmul(t, x[0], x[1], cur->iarg); }
static reel_tensor *f_addmm(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_addmm(t, x[2], x[0], x[1], cur->iarg); }
static reel_tensor *f_bmm(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_bmm(t, x[0], x[1], cur->iarg); }
static reel_tensor *f_add(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_add(t, x[0], x[1]); }
static reel_tensor *f_sub(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_sub(t, x[0], x[1]); }
static reel_tensor *f_mul(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_mul(t, x[0], x[1]); }
static reel_tensor *f_scale(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_scale(t, x[0], (reel_real)cur->farg); }
static reel_tensor *f_add_scalar(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_add_scalar(t, x[0], (reel_real)cur->farg); }
static reel_tensor *f_one_minus(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_one_minus(t, x[0]); }
static reel_tensor *f_tanh(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_tanh(t, x[0]); }
static reel_tensor *f_sigmoid(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_sigmoid(t, x[0]); }
static reel_tensor *f_relu(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_relu(t, x[0]); }
static reel_tensor *f_exp(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_exp(t, x[0]); }
static reel_tensor *f_log(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_log(t, x[0]); }
static reel_tensor *f_softmax(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_softmax(t, x[0]); }
static reel_tensor *f_log_softmax(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_log_softmax(t, x[0]); }
static reel_tensor *f_concat(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_concat(t, x, cur->nin, cur->iarg); }
static reel_tensor *f_slice(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_slice(t, x[0], cur->iarg, 1, 2); }
static reel_tensor *f_stack(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_stack(t, x, cur->nin); }
static reel_tensor *f_transpose(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_transpose(t, x[0]); }
static reel_tensor *f_swap01(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_swapaxes(t, x[0], 0, 1); }
static reel_tensor *f_swap02(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_swapaxes(t, x[0], 2, 0); }
static reel_tensor *f_max_axis(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_max_axis(t, x[0], cur->iarg); }
static reel_tensor *f_sum(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_sum(t, x[0]); }
static reel_tensor *f_mean(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_mean(t, x[0]); }
static reel_tensor *f_sum_axis(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_sum_axis(t, x[0], cur->iarg); }
static reel_tensor *f_mean_axis(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_mean_axis(t, x[0], cur->iarg); }
static reel_tensor *f_div(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_div(t, x[0], x[1]); }
static reel_tensor *f_sqrt(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_sqrt(t, x[0]); }
static reel_tensor *f_rsqrt(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_rsqrt(t, x[0]); }
static reel_tensor *f_pow(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_pow(t, x[0], (reel_real)cur->farg); }
static reel_tensor *f_abs(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_abs(t, x[0]); }

/* clamp to [-0.5, farg], or (-inf, farg] with iarg set */
static reel_tensor *f_clamp(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	return reel_clamp(t, x[0], cur->iarg ? (reel_real)-INFINITY : (reel_real)-0.5, (reel_real)cur->farg);
}

/* layer_norm(x, gamma, beta) with whichever of gamma, beta the case has:
 * iarg 0 both, 1 neither, 2 gamma only, 3 beta only */
static reel_tensor *f_layer_norm(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	reel_tensor *gamma = cur->iarg == 0 || cur->iarg == 2 ? x[1] : NULL;
	reel_tensor *beta = cur->iarg == 0 ? x[2] : cur->iarg == 3 ? x[1] : NULL;
	return reel_layer_norm(t, x[0], gamma, beta, (reel_real)cur->farg);
}

static reel_tensor *f_mse(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_mse(t, x[0], x[1]); }
static reel_tensor *f_dropout(reel_tape *t, reel_tensor **x, void *c) { (void)c; return reel_dropout(t, x[0], (reel_real)cur->farg); }

/* split: the gradient reaches x through every part */
static reel_tensor *f_split(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	reel_tensor *p[4];
	if (reel_split(t, x[0], -1, 4, p) != REEL_OK)
		return NULL;
	return reel_add(t, reel_mul(t, p[0], p[1]), reel_mul(t, p[2], p[3]));
}

/* Overlapping row views of one tensor: both views' gradients alias x's, so
 * the contributions must add up. */
static reel_tensor *f_rows(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	reel_tensor *a = reel_rows(t, x[0], 0, 2), *b = reel_rows(t, x[0], 1, 2);
	return reel_mul(t, reel_tanh(t, a), b);
}

static reel_tensor *f_index(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	return reel_mul(t, reel_index(t, x[0], 2), reel_index(t, x[0], 0));
}

/* A (T, B, F) input folded to (T*B, F) for one product: the pattern of every
 * recurrent layer's input projection. */
static reel_tensor *f_reshape(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	reel_tensor *y = reel_matmul(t, reel_reshape2(t, x[0], -1, x[0]->shape[2]), x[1], REEL_TRANS_B);
	return reel_reshape3(t, y, x[0]->shape[0], x[0]->shape[1], -1);
}

static const int32_t gather_ids[] = {2, 0, 2, 4, 1, 2};
static reel_tensor *f_gather(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	return reel_gather(t, x[0], gather_ids, 6);
}

static const int32_t ce_targets[] = {1, 3, 0, 2, 3};
static reel_tensor *f_ce(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	return reel_cross_entropy(t, x[0], ce_targets, NULL, REEL_NO_IGNORE);
}
static reel_tensor *f_ce_ignore(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	return reel_cross_entropy(t, x[0], ce_targets, NULL, 3);
}
static reel_tensor *f_ce_mask(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	reel_real m[5] = {1, 0, 0.5, 1, 2};
	reel_tensor *mask = reel_tensor_from(t, 1, (int[]){5}, m, REEL_NOGRAD);
	return reel_cross_entropy(t, x[0], ce_targets, mask, REEL_NO_IGNORE);
}

static reel_tensor *f_blend(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	int col = cur->iarg;
	reel_real m[12] = {1, 0, 1, 0, 0.25, 1, 0, 1, 1, 0, 0.5, 1};
	reel_tensor *mask = col ? reel_tensor_from(t, 2, (int[]){3, 1}, m, REEL_NOGRAD)
	                        : reel_tensor_from(t, 2, (int[]){3, 4}, m, REEL_NOGRAD);
	return reel_blend(t, mask, x[0], x[1]);
}

/* CTC over (T=6, B=3, C=4) log-probabilities (any reals: the gradient is
 * exact for unnormalised ones too): variable input and target lengths, a
 * repeated label (needs a blank between), an empty target; iarg is the
 * reduction, farg the blank. */
static reel_tensor *f_ctc(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	int blank = (int)cur->farg;
	int32_t tg[3 * 3];
	static const int32_t base[9] = {1, 2, 2, 3, 1, 0, 2, 0, 0}; /* rows: 1 2 2 | 3 1 | 2 */
	for (int i = 0; i < 9; i++) /* relabel so that no target is the blank */
		tg[i] = blank == 0 ? base[i] : base[i] == blank ? 0 : base[i];
	int il[3] = {6, 4, 5}, tl[3] = {3, 2, cur->iarg ? 0 : 1};
	return reel_ctc_loss(t, x[0], tg, 3, il, tl, blank, cur->iarg);
}

/* window of k = iarg taps, dilation farg, times a weight so that every
 * block's gradient differs */
static reel_tensor *f_window(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	reel_tensor *w = reel_time_window(t, x[0], cur->iarg, (int)cur->farg);
	return reel_matmul(t, reel_reshape2(t, w, -1, w->shape[2]), x[1], REEL_TRANS_B);
}

/* mixture density NLL with K = iarg components: x[0] params (N, K (1 + 2D)),
 * x[1] target (N, D); farg 1: a row mask with a zero weight */
static reel_tensor *f_mdn(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	reel_tensor *mask = NULL;
	if (cur->farg) {
		int N = reel_tensor_rows(x[0]);
		reel_real m[8] = {1, 0, 0.5, 2, 1, 1, 0, 1};
		mask = reel_tensor_from(t, 1, (int[]){N}, m, REEL_NOGRAD);
	}
	return reel_mdn_nll(t, x[0], x[1], mask, cur->iarg);
}

/* grad_scale's backward is alpha times the identity's, which no finite
 * difference of it sees; so the case adds (alpha - 1) x w through a constant
 * copy of x (no gradient): the forward is alpha x w, whose derivative in x,
 * alpha w, is what grad_scale's backward must give (w's gradient checks the
 * forward value).  alpha = farg. */
static reel_tensor *f_grad_scale(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	reel_real a = (reel_real)cur->farg;
	reel_tensor *k = reel_tensor_from(t, x[0]->ndim, x[0]->shape, x[0]->data, REEL_NOGRAD);
	return reel_add(t, reel_mul(t, reel_grad_scale(t, x[0], a), x[1]), reel_scale(t, reel_mul(t, k, x[1]), a - 1));
}

/* addmm in place: over a slice of an op's output (its other rows read
 * too), so the product's gradient is the slice's */
static reel_tensor *f_addmm_in_place(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	reel_tensor *big = reel_scale(t, x[2], 2); /* (2m, n) */
	int m = big->shape[0] / 2;
	reel_tensor *y = reel_addmm(t, reel_rows(t, big, m, m), x[0], x[1], cur->iarg | REEL_IN_PLACE);
	return reel_add(t, reel_mul(t, y, y), reel_rows(t, big, 0, m));
}

/* lstm_cell: on its inputs (a copy of the activations); in place over a
 * product (x0 (B, K) x1 (K, 4H), c = x2); two steps, the second fed the
 * first's cell state, both hidden states read */
static reel_tensor *f_lstm_cell(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	if (cur->iarg == 0)
		return reel_lstm_cell(t, x[0], x[1], NULL, 0);
	reel_tensor *g1 = reel_matmul(t, x[0], x[1], 0);
	reel_tensor *y1 = reel_lstm_cell(t, g1, x[2], NULL, REEL_IN_PLACE);
	if (cur->iarg == 1)
		return y1;
	if (cur->iarg == 3) { /* h' into the slots of a (2, B, H) output, read as a whole */
		int B = x[2]->shape[0], H = x[2]->shape[1];
		reel_tensor *slab = reel_tensor_new(t, 3, (int[]){2, B, H}, REEL_GRAD);
		reel_tensor *c1 = reel_lstm_cell(t, reel_matmul(t, x[0], x[1], 0), x[2], reel_index(t, slab, 0), REEL_IN_PLACE);
		reel_tensor *g2 = reel_matmul(t, reel_index(t, slab, 0), reel_rows(t, x[1], 0, H), 0);
		reel_tensor *c2 = reel_lstm_cell(t, g2, c1, reel_index(t, slab, 1), REEL_IN_PLACE);
		return reel_add(t, reel_mul(t, slab, slab), reel_reshape3(t, reel_concat(t, (reel_tensor *[]){c1, c2}, 2, 0), 2, B, H));
	}
	reel_tensor *g2 = reel_matmul(t, reel_index(t, y1, 1), reel_rows(t, x[1], 0, 3), 0);
	reel_tensor *y2 = reel_lstm_cell(t, g2, reel_index(t, y1, 0), NULL, REEL_IN_PLACE);
	return reel_add(t, reel_mul(t, reel_index(t, y2, 1), reel_index(t, y1, 1)), reel_index(t, y2, 0));
}

/* gru_cell: on its inputs; in place over an op's output (xp = 2 x0, gh =
 * 1.5 x1); two steps, the second's recurrent product from the first's h
 * (y1 x3) and fed y1 as its state */
static reel_tensor *f_gru_cell(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	if (cur->iarg == 0)
		return reel_gru_cell(t, x[0], x[1], x[2], NULL, 0);
	if (cur->iarg == 3) { /* h' into the slots of a (2, B, H) output */
		int B = x[2]->shape[0], H = x[2]->shape[1];
		reel_tensor *slab = reel_tensor_new(t, 3, (int[]){2, B, H}, REEL_GRAD);
		reel_tensor *h1 = reel_gru_cell(t, reel_scale(t, x[0], 2), x[1], x[2], reel_index(t, slab, 0), REEL_IN_PLACE);
		reel_gru_cell(t, reel_scale(t, x[0], -1), reel_matmul(t, h1, x[3], 0), h1, reel_index(t, slab, 1), REEL_IN_PLACE);
		return reel_mul(t, slab, slab);
	}
	reel_tensor *y1 = reel_gru_cell(t, reel_scale(t, x[0], 2), reel_scale(t, x[1], (reel_real)1.5), x[2], NULL, REEL_IN_PLACE);
	if (cur->iarg == 1)
		return y1;
	reel_tensor *gh2 = reel_matmul(t, y1, x[3], 0);
	reel_tensor *y2 = reel_gru_cell(t, reel_scale(t, x[0], -1), gh2, y1, NULL, REEL_IN_PLACE);
	return reel_mul(t, y2, y1);
}

/* rnn_cell: tanh (iarg 0) or relu (1) on its input; two steps into the
 * slots of a (2, B, H) output over in-place products (iarg 2) */
static reel_tensor *f_rnn_cell(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	if (cur->iarg < 2)
		return reel_rnn_cell(t, x[0], cur->iarg ? 'r' : 't', NULL);
	int B = x[0]->shape[0], H = x[0]->shape[1];
	reel_tensor *slab = reel_tensor_new(t, 3, (int[]){2, B, H}, REEL_GRAD);
	reel_tensor *xp = reel_scale(t, x[0], 2); /* an op's output: the product may accumulate onto it */
	reel_tensor *h1 = reel_rnn_cell(t, reel_addmm(t, xp, x[1], x[2], REEL_IN_PLACE), 't', reel_index(t, slab, 0));
	reel_tensor *xp2 = reel_scale(t, x[0], -1);
	reel_rnn_cell(t, reel_addmm(t, xp2, h1, x[2], REEL_IN_PLACE), 't', reel_index(t, slab, 1));
	return reel_mul(t, slab, slab);
}

/* gate blocks: the output itself, and the gates used through index views
 * the way a cell uses them */
static reel_tensor *f_gate_blocks(reel_tape *t, reel_tensor **x, void *c)
{
	(void)c;
	reel_tensor *y = reel_gate_blocks(t, x[0], cur->iarg == 2 ? "---" : cur->iarg ? "st-s" : "stt-s");
	if (cur->iarg == 2)
		return reel_mul(t, reel_index(t, y, 0), reel_index(t, y, 2));
	if (!cur->iarg)
		return y;
	return reel_add(t, reel_mul(t, reel_index(t, y, 0), reel_index(t, y, 1)),
	                reel_mul(t, reel_index(t, y, 3), reel_index(t, y, 2)));
}
#define S1(a) {1, a}
#define S2(a, b) {2, a, b}
#define S3(a, b, c) {3, a, b, c}

static const gcase cases[] = {
	{"matmul", REEL_OP_MATMUL, f_matmul, 2, {S2(3, 5), S2(5, 4)}, -1, 1, 0, 0, 0, 0},
	{"matmul A^T", REEL_OP_MATMUL, f_matmul, 2, {S2(5, 3), S2(5, 4)}, -1, 1, 0, 0, REEL_TRANS_A, 0},
	{"matmul B^T", REEL_OP_MATMUL, f_matmul, 2, {S2(3, 5), S2(4, 5)}, -1, 1, 0, 0, REEL_TRANS_B, 0},
	{"matmul A^T B^T", REEL_OP_MATMUL, f_matmul, 2, {S2(5, 3), S2(4, 5)}, -1, 1, 0, 0, REEL_TRANS_A | REEL_TRANS_B, 0},
	{"matmul m=1 (gemv)", REEL_OP_MATMUL, f_matmul, 2, {S2(1, 5), S2(4, 5)}, -1, 1, 0, 0, REEL_TRANS_B, 0},
	{"matmul n=1 (gemv)", REEL_OP_MATMUL, f_matmul, 2, {S2(3, 5), S2(5, 1)}, -1, 1, 0, 0, 0, 0},
	{"matmul k=1 (ger)", REEL_OP_MATMUL, f_matmul, 2, {S2(3, 1), S2(1, 4)}, -1, 1, 0, 0, 0, 0},
	{"matmul m=n=1 (dot)", REEL_OP_MATMUL, f_matmul, 2, {S2(1, 5), S2(5, 1)}, -1, 1, 0, 0, 0, 0},
	{"addmm", REEL_OP_ADDMM, f_addmm, 3, {S2(3, 5), S2(5, 4), S2(3, 4)}, -1, 1, 0, 0, 0, 0},
	{"addmm bias row, B^T", REEL_OP_ADDMM, f_addmm, 3, {S2(3, 5), S2(4, 5), S1(4)}, -1, 1, 0, 0, REEL_TRANS_B, 0},
	{"addmm m=1 (gemv), A^T", REEL_OP_ADDMM, f_addmm, 3, {S2(5, 1), S2(5, 4), S2(1, 4)}, -1, 1, 0, 0, REEL_TRANS_A, 0},
	{"bmm", REEL_OP_BMM, f_bmm, 2, {S3(2, 3, 4), S3(2, 4, 5)}, -1, 1, 0, 0, 0, 0},
	{"bmm B^T", REEL_OP_BMM, f_bmm, 2, {S3(2, 3, 4), S3(2, 5, 4)}, -1, 1, 0, 0, REEL_TRANS_B, 0},
	{"bmm A^T", REEL_OP_BMM, f_bmm, 2, {S3(2, 4, 3), S3(2, 4, 1)}, -1, 1, 0, 0, REEL_TRANS_A, 0},
	{"add same", REEL_OP_ADD, f_add, 2, {S2(3, 4), S2(3, 4)}, -1, 1, 0, 0, 0, 0},
	{"add row bias", REEL_OP_ADD, f_add, 2, {S3(2, 3, 4), S1(4)}, -1, 1, 0, 0, 0, 0},
	{"add bias first", REEL_OP_ADD, f_add, 2, {S2(1, 4), S3(2, 3, 4)}, -1, 1, 0, 0, 0, 0},
	{"add column", REEL_OP_ADD, f_add, 2, {S2(3, 4), S2(3, 1)}, -1, 1, 0, 0, 0, 0},
	{"add scalar tensor", REEL_OP_ADD, f_add, 2, {S2(3, 4), S1(1)}, -1, 1, 0, 0, 0, 0},
	{"sub same", REEL_OP_SUB, f_sub, 2, {S2(3, 4), S2(3, 4)}, -1, 1, 0, 0, 0, 0},
	{"sub row", REEL_OP_SUB, f_sub, 2, {S2(3, 4), S1(4)}, -1, 1, 0, 0, 0, 0},
	{"mul same", REEL_OP_MUL, f_mul, 2, {S2(3, 4), S2(3, 4)}, -1, 1, 0, 0, 0, 0},
	{"mul column", REEL_OP_MUL, f_mul, 2, {S3(2, 3, 4), S3(2, 3, 1)}, -1, 1, 0, 0, 0, 0},
	{"mul row first", REEL_OP_MUL, f_mul, 2, {S1(4), S2(3, 4)}, -1, 1, 0, 0, 0, 0},
	{"div same", REEL_OP_DIV, f_div, 2, {S2(3, 4), S2(3, 4)}, -2, 2, 0.5, 0, 0, 0},
	{"div row", REEL_OP_DIV, f_div, 2, {S3(2, 3, 4), S1(4)}, -2, 2, 0.5, 0, 0, 0},
	{"div column", REEL_OP_DIV, f_div, 2, {S3(2, 3, 4), S3(2, 3, 1)}, -2, 2, 0.5, 0, 0, 0},
	{"div scalar tensor", REEL_OP_DIV, f_div, 2, {S2(3, 4), S1(1)}, -2, 2, 0.5, 0, 0, 0},
	{"div row first (row / matrix)", REEL_OP_DIV, f_div, 2, {S1(4), S2(3, 4)}, -2, 2, 0.5, 0, 0, 0},
	{"div column first", REEL_OP_DIV, f_div, 2, {S2(3, 1), S2(3, 4)}, -2, 2, 0.5, 0, 0, 0},
	{"div scalar first", REEL_OP_DIV, f_div, 2, {S1(1), S2(3, 4)}, -2, 2, 0.5, 0, 0, 0},
	{"div numerator constant", REEL_OP_DIV, f_div, 2, {S2(3, 4), S1(4)}, -2, 2, 0.5, 1, 0, 0},
	{"div denominator constant", REEL_OP_DIV, f_div, 2, {S2(3, 4), S2(3, 1)}, -2, 2, 0.5, 2, 0, 0},
	{"scale", REEL_OP_SCALE, f_scale, 1, {S2(3, 4)}, -1, 1, 0, 0, 0, -2.5},
	{"add_scalar", REEL_OP_ADD_SCALAR, f_add_scalar, 1, {S2(3, 4)}, -1, 1, 0, 0, 0, 0.75},
	{"one_minus", REEL_OP_ONE_MINUS, f_one_minus, 1, {S2(3, 4)}, -1, 1, 0, 0, 0, 0},
	{"tanh", REEL_OP_TANH, f_tanh, 1, {S2(3, 4)}, -2, 2, 0, 0, 0, 0},
	{"sigmoid", REEL_OP_SIGMOID, f_sigmoid, 1, {S2(3, 4)}, -3, 3, 0, 0, 0, 0},
	{"relu", REEL_OP_RELU, f_relu, 1, {S2(3, 4)}, -1, 1, 0.05, 0, 0, 0},
	{"exp", REEL_OP_EXP, f_exp, 1, {S2(3, 4)}, -1, 1, 0, 0, 0, 0},
	{"log", REEL_OP_LOG, f_log, 1, {S2(3, 4)}, 0.5, 2, 0, 0, 0, 0},
	{"sqrt", REEL_OP_SQRT, f_sqrt, 1, {S2(3, 4)}, 0.25, 3, 0, 0, 0, 0},
	{"rsqrt", REEL_OP_RSQRT, f_rsqrt, 1, {S2(3, 4)}, 0.25, 3, 0, 0, 0, 0},
	{"pow 2.5", REEL_OP_POW, f_pow, 1, {S2(3, 4)}, 0.25, 2, 0, 0, 0, 2.5},
	{"pow -1.5", REEL_OP_POW, f_pow, 1, {S2(3, 4)}, 0.25, 2, 0, 0, 0, -1.5},
	{"pow 0.5", REEL_OP_POW, f_pow, 1, {S2(3, 4)}, 0.25, 2, 0, 0, 0, 0.5},
	{"pow 3 (negative base)", REEL_OP_POW, f_pow, 1, {S2(3, 4)}, -1.5, 1.5, 0, 0, 0, 3},
	{"pow 2", REEL_OP_POW, f_pow, 1, {S2(3, 4)}, -1.5, 1.5, 0, 0, 0, 2},
	{"pow -2 (negative base)", REEL_OP_POW, f_pow, 1, {S2(3, 4)}, -2, 2, 0.5, 0, 0, -2},
	{"pow 0", REEL_OP_POW, f_pow, 1, {S2(3, 4)}, -1, 1, 0, 0, 0, 0},
	{"abs", REEL_OP_ABS, f_abs, 1, {S2(3, 4)}, -1, 1, 0.05, 0, 0, 0},
	{"clamp [-0.5, 0.5]", REEL_OP_CLAMP, f_clamp, 1, {S2(4, 5)}, -1, 1, 0, 0, 0, 0.5},
	{"clamp (-inf, 0.25]", REEL_OP_CLAMP, f_clamp, 1, {S2(4, 5)}, -1, 1, 0, 0, 1, 0.25},
	{"softmax", REEL_OP_SOFTMAX, f_softmax, 1, {S3(2, 3, 5)}, -2, 2, 0, 0, 0, 0},
	{"log_softmax", REEL_OP_LOG_SOFTMAX, f_log_softmax, 1, {S2(3, 5)}, -2, 2, 0, 0, 0, 0},
	{"layer_norm gamma beta", REEL_OP_LAYER_NORM, f_layer_norm, 3, {S3(2, 3, 6), S1(6), S1(6)}, -2, 2, 0, 0, 0, 1e-5},
	{"layer_norm plain", REEL_OP_LAYER_NORM, f_layer_norm, 1, {S2(4, 5)}, -2, 2, 0, 0, 1, 1e-5},
	{"layer_norm gamma only", REEL_OP_LAYER_NORM, f_layer_norm, 2, {S2(3, 7), S2(1, 7)}, -2, 2, 0, 0, 2, 0.1},
	{"layer_norm beta only", REEL_OP_LAYER_NORM, f_layer_norm, 2, {S2(3, 4), S1(4)}, -2, 2, 0, 0, 3, 1e-5},
	{"layer_norm x constant", REEL_OP_LAYER_NORM, f_layer_norm, 3, {S2(3, 5), S1(5), S1(5)}, -2, 2, 0, 1, 0, 1e-5},
	{"layer_norm one row, 1-d", REEL_OP_LAYER_NORM, f_layer_norm, 3, {S1(6), S1(6), S1(6)}, -2, 2, 0, 0, 0, 1e-5},
	{"concat axis 0", REEL_OP_CONCAT, f_concat, 3, {S2(1, 4), S2(2, 4), S2(3, 4)}, -1, 1, 0, 0, 0, 0},
	{"concat axis 1", REEL_OP_CONCAT, f_concat, 2, {S3(2, 1, 3), S3(2, 2, 3)}, -1, 1, 0, 0, 1, 0},
	{"concat last axis", REEL_OP_CONCAT, f_concat, 3, {S2(3, 2), S2(3, 1), S2(3, 4)}, -1, 1, 0, 0, -1, 0},
	{"slice axis 1", REEL_OP_SLICE, f_slice, 1, {S3(2, 4, 3)}, -1, 1, 0, 0, 1, 0},
	{"slice last axis", REEL_OP_SLICE, f_slice, 1, {S2(3, 5)}, -1, 1, 0, 0, -1, 0},
	{"split into gates", REEL_OP_SLICE, f_split, 1, {S2(3, 8)}, -1, 1, 0, 0, 0, 0},
	{"split a single row (views)", REEL_OP_SLICE, f_split, 1, {S2(1, 8)}, -1, 1, 0, 0, 0, 0},
	{"stack", REEL_OP_STACK, f_stack, 3, {S2(2, 3), S2(2, 3), S2(2, 3)}, -1, 1, 0, 0, 0, 0},
	{"rows (overlapping views)", REEL_OP_ROWS, f_rows, 1, {S3(3, 2, 2)}, -1, 1, 0, 0, 0, 0},
	{"index views", REEL_OP_ROWS, f_index, 1, {S3(3, 2, 2)}, -1, 1, 0, 0, 0, 0},
	{"reshape fold (T,B,F)", REEL_OP_RESHAPE, f_reshape, 2, {S3(3, 2, 4), S2(5, 4)}, -1, 1, 0, 0, 0, 0},
	{"transpose", REEL_OP_TRANSPOSE, f_transpose, 1, {S3(2, 3, 4)}, -1, 1, 0, 0, 0, 0},
	{"swapaxes 0 1 (time-major to batch-major)", REEL_OP_TRANSPOSE, f_swap01, 1, {S3(3, 2, 4)}, -1, 1, 0, 0, 0, 0},
	{"swapaxes 2 0", REEL_OP_TRANSPOSE, f_swap02, 1, {S3(3, 2, 4)}, -1, 1, 0, 0, 0, 0},
	{"sum", REEL_OP_SUM, f_sum, 1, {S2(3, 4)}, -1, 1, 0, 0, 0, 0},
	{"mean", REEL_OP_MEAN, f_mean, 1, {S3(2, 3, 4)}, -1, 1, 0, 0, 0, 0},
	{"sum_axis 0", REEL_OP_SUM_AXIS, f_sum_axis, 1, {S3(2, 3, 4)}, -1, 1, 0, 0, 0, 0},
	{"sum_axis 1", REEL_OP_SUM_AXIS, f_sum_axis, 1, {S3(2, 3, 4)}, -1, 1, 0, 0, 1, 0},
	{"mean_axis last", REEL_OP_MEAN_AXIS, f_mean_axis, 1, {S3(2, 3, 4)}, -1, 1, 0, 0, -1, 0},
	{"max_axis 0", REEL_OP_MAX_AXIS, f_max_axis, 1, {S3(4, 3, 2)}, -1, 1, 0, 0, 0, 0},
	{"max_axis last", REEL_OP_MAX_AXIS, f_max_axis, 1, {S3(2, 3, 5)}, -1, 1, 0, 0, -1, 0},
	{"gather (repeated ids)", REEL_OP_GATHER, f_gather, 1, {S2(5, 3)}, -1, 1, 0, 0, 0, 0},
	{"cross_entropy", REEL_OP_CROSS_ENTROPY, f_ce, 1, {S2(5, 4)}, -2, 2, 0, 0, 0, 0},
	{"cross_entropy ignore_index", REEL_OP_CROSS_ENTROPY, f_ce_ignore, 1, {S2(5, 4)}, -2, 2, 0, 0, 0, 0},
	{"cross_entropy mask", REEL_OP_CROSS_ENTROPY, f_ce_mask, 1, {S2(5, 4)}, -2, 2, 0, 0, 0, 0},
	{"mse", REEL_OP_MSE, f_mse, 2, {S2(3, 4), S2(3, 4)}, -1, 1, 0, 0, 0, 0},
	{"dropout", REEL_OP_DROPOUT, f_dropout, 1, {S2(6, 5)}, -1, 1, 0, 0, 0, 0.3},
	{"blend full mask", REEL_OP_BLEND, f_blend, 2, {S2(3, 4), S2(3, 4)}, -1, 1, 0, 0, 0, 0},
	{"blend column mask", REEL_OP_BLEND, f_blend, 2, {S2(3, 4), S2(3, 4)}, -1, 1, 0, 0, 1, 0},
	{"time_window k 3, dilation 1", REEL_OP_TIME_WINDOW, f_window, 2, {S3(5, 2, 3), S2(4, 9)}, -1, 1, 0, 0, 3, 1},
	{"time_window k 2, dilation 2", REEL_OP_TIME_WINDOW, f_window, 2, {S3(6, 3, 2), S2(3, 4)}, -1, 1, 0, 0, 2, 2},
	{"time_window k 3, dilation 3, longer than T", REEL_OP_TIME_WINDOW, f_window, 2, {S3(4, 2, 2), S2(2, 6)}, -1, 1, 0, 0, 3, 3},
	{"ctc_loss mean, blank 0", REEL_OP_CTC_LOSS, f_ctc, 1, {S3(6, 3, 4)}, -2, 0, 0, 0, REEL_CTC_MEAN, 0},
	{"ctc_loss sum, blank 3, empty target", REEL_OP_CTC_LOSS, f_ctc, 1, {S3(6, 3, 4)}, -2, 0, 0, 0, REEL_CTC_SUM, 3},
	{"mdn_nll K 3, D 1", REEL_OP_MDN_NLL, f_mdn, 2, {S2(5, 9), S2(5, 1)}, -1, 1, 0, 0, 3, 0},
	{"mdn_nll K 2, D 2, time-major, mask", REEL_OP_MDN_NLL, f_mdn, 2, {S3(4, 2, 10), S3(4, 2, 2)}, -1, 1, 0, 0, 2, 1},
	{"mdn_nll K 1, D 3", REEL_OP_MDN_NLL, f_mdn, 2, {S2(4, 7), S2(4, 3)}, -1, 1, 0, 0, 1, 0},
	{"grad_scale 2.5", REEL_OP_GRAD_SCALE, f_grad_scale, 2, {S2(3, 4), S2(3, 4)}, -1, 1, 0, 0, 0, 2.5},
	{"grad_scale 0 (a cut)", REEL_OP_GRAD_SCALE, f_grad_scale, 2, {S2(3, 4), S2(3, 4)}, -1, 1, 0, 0, 0, 0},
	{"gate_blocks (2, 3, 5*2)", REEL_OP_GATE_BLOCKS, f_gate_blocks, 1, {S3(2, 3, 10)}, -2, 2, 0, 0, 0, 0},
	{"gate_blocks through index views", REEL_OP_GATE_BLOCKS, f_gate_blocks, 1, {S2(3, 12)}, -2, 2, 0, 0, 1, 0},
	{"gate_blocks one row, no activation (a view)", REEL_OP_GATE_BLOCKS, f_gate_blocks, 1, {S2(1, 12)}, -2, 2, 0, 0, 2, 0},
	{"addmm in place over a slice", REEL_OP_ADDMM, f_addmm_in_place, 3, {S2(3, 5), S2(5, 4), S2(6, 4)}, -1, 1, 0, 0, 0, 0},
	{"addmm in place, B^T", REEL_OP_ADDMM, f_addmm_in_place, 3, {S2(3, 5), S2(4, 5), S2(6, 4)}, -1, 1, 0, 0, REEL_TRANS_B, 0},
	{"gru_cell (3, 3*4), (3, 3*4), (3, 4)", REEL_OP_GRU_CELL, f_gru_cell, 3, {S2(3, 12), S2(3, 12), S2(3, 4)}, -2, 2, 0, 0, 0, 0},
	{"gru_cell in place over an op's output", REEL_OP_GRU_CELL, f_gru_cell, 3, {S2(3, 12), S2(3, 12), S2(3, 4)}, -1, 1, 0, 0, 1, 0},
	{"gru_cell two steps, state carried", REEL_OP_GRU_CELL, f_gru_cell, 4, {S2(2, 9), S2(2, 9), S2(2, 3), S2(3, 9)}, -1, 1, 0, 0, 2, 0},
	{"rnn_cell tanh (a tanh node)", REEL_OP_TANH, f_rnn_cell, 1, {S2(3, 5)}, -2, 2, 0, 0, 0, 0},
	{"rnn_cell relu (a relu node)", REEL_OP_RELU, f_rnn_cell, 1, {S2(3, 5)}, -2, 2, 0.05, 0, 1, 0},
	{"rnn_cell two steps into output slots", REEL_OP_TANH, f_rnn_cell, 3, {S2(2, 3), S2(2, 3), S2(3, 3)}, -1, 1, 0, 0, 2, 0},
	{"lstm_cell (3, 4*5), (3, 5)", REEL_OP_LSTM_CELL, f_lstm_cell, 2, {S2(3, 20), S2(3, 5)}, -2, 2, 0, 0, 0, 0},
	{"lstm_cell in place over a matmul", REEL_OP_LSTM_CELL, f_lstm_cell, 3, {S2(3, 4), S2(4, 12), S2(3, 3)}, -1, 1, 0, 0, 1, 0},
	{"lstm_cell two steps into output slots", REEL_OP_LSTM_CELL, f_lstm_cell, 3, {S2(2, 4), S2(4, 12), S2(2, 3)}, -1, 1, 0, 0, 3, 0},
	{"gru_cell two steps into output slots", REEL_OP_GRU_CELL, f_gru_cell, 4, {S2(2, 9), S2(2, 9), S2(2, 3), S2(3, 9)}, -1, 1, 0, 0, 3, 0},
	{"lstm_cell two steps, state carried", REEL_OP_LSTM_CELL, f_lstm_cell, 3, {S2(2, 4), S2(4, 12), S2(2, 3)}, -1, 1, 0, 0, 2, 0},
};

void suite_gradcheck_ops(void)
{
	int ncase = (int)(sizeof cases / sizeof cases[0]);
	th_case("gradcheck: every op has a case");
	for (int op = 0; op < REEL_OP_COUNT; op++) {
		int found = 0;
		for (int i = 0; i < ncase; i++)
			found |= cases[i].op == op;
		CHECK(found, "op %s has no gradient check", reel_op_name(op));
	}
#ifdef REEL_DOUBLE
	reel_rng r;
	reel_rng_seed(&r, 2024);
	static char names[sizeof cases / sizeof cases[0]][80];
	for (int i = 0; i < ncase; i++) {
		snprintf(names[i], sizeof names[i], "gradcheck: %s", cases[i].name);
		th_case(names[i]);
		if (!th_selected())
			continue;
		cur = &cases[i];
		gc_input in[MAXIN];
		reel_real *bufs[MAXIN];
		for (int k = 0; k < cur->nin; k++) {
			in[k].ndim = cur->shapes[k][0];
			size_t n = 1;
			for (int d = 0; d < in[k].ndim; d++)
				n *= (size_t)(in[k].shape[d] = cur->shapes[k][d + 1]);
			bufs[k] = in[k].data = malloc(n * sizeof(reel_real));
			gc_fill(&r, in[k].data, n, cur->lo, cur->hi, cur->gap);
			in[k].grad = !(cur->nograd_mask >> k & 1);
		}
		gradcheck(cur->f, NULL, cur->nin, in, NULL, (gc_opts){0});
		for (int k = 0; k < cur->nin; k++)
			free(bufs[k]);
	}
#endif
}
