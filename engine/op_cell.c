/* The LSTM state update as one op (reel_lstm_cell): the activations of the
 * four gate blocks and the two state equations, fused, so that a step of
 * the LSTM records two nodes (the recurrent product and this) instead of
 * seven, passes over its elements once forward and once backward instead
 * of five times each, and keeps only what its backward reads.
 *
 * gates (B, 4H) holds the pre-activations [i f g o] (PyTorch's order), c
 * (B, H) the previous cell state:
 *   i = sigmoid(gates[:, 0:H])    f = sigmoid(gates[:, H:2H])
 *   g = tanh(gates[:, 2H:3H])     o = sigmoid(gates[:, 3H:4H])
 *   c' = f c + i g                h' = o tanh(c')
 * y = (2, B, H) = [c'; h'].
 *
 * Saved: the activations (B, 4H) (over gates' own buffer with
 * REEL_IN_PLACE, see ops.h), tanh(c') (B, H) and the input pointers.
 * Backward, with dc' and dh' the two halves of dy:
 *   dc  = dc' + dh' o (1 - tanh(c')^2)
 *   di  = dc g i (1 - i)       df = dc c f (1 - f)
 *   dg  = dc i (1 - g^2)       do = dh' tanh(c') o (1 - o)
 *   dc_prev += dc f
 * The float products are those of the composition (mul, add, tanh, mul) in
 * the same order, so forward values equal it bit for bit. */
#include "internal.h"

/* A slot h_out for h' (NULL: none): (B, H), in a tape's arena, with a
 * gradient when the op records one.  1 if usable, else the error is on
 * the tape. */
static int slot_ok(reel_tape *t, const char *op, const reel_tensor *h_out, int B, int H, int need)
{
	char s[64];
	if (!h_out)
		return 1;
	if (h_out->ndim != 2 || h_out->shape[0] != B || h_out->shape[1] != H || !h_out->base->on_tape) {
		reel_tape_fail(t, REEL_ERR_SHAPE, "reel_%s: h_out is %s%s, expected (%d, %d) on the tape", op,
		               reel_shape_str(h_out, s, sizeof s), h_out->base->on_tape ? "" : " (not on the tape)", B, H);
		return 0;
	}
	if (need && !h_out->requires_grad) {
		reel_tape_fail(t, REEL_ERR_ARG, "reel_%s: h_out has no gradient, but the inputs need one", op);
		return 0;
	}
	return 1;
}

typedef struct lstm_saved {
	reel_real *act; /* (B, 4H): i f g o */
	reel_real *tc;  /* (B, H): tanh(c') */
} lstm_saved;

/* One op's rows: the pointers of the forward or of the backward. */
typedef struct lstm_job {
	int H;
	const reel_real *G, *C, *dcn, *dh;
	reel_real *A, *Cn, *Hn, *TC, *dG, *dC;
	const lstm_saved *s;
} lstm_job;

/* One row of the forward (restrict: distinct buffers, or gr == ar exactly
 * when in place, which the element-by-element loops allow; the pointers
 * are passed apart so the state loops vectorize). */
REEL_CLONES static void lstm_fwd_row(const reel_real *gr, reel_real *ar, const reel_real *restrict c, reel_real *restrict cn,
                         reel_real *restrict hn, reel_real *restrict tc, int H)
{
	for (int j = 0; j < 2 * H; j++)
		ar[j] = reel__sigmoid(gr[j]);
	for (int j = 2 * H; j < 3 * H; j++)
		ar[j] = reel__tanh(gr[j]);
	for (int j = 3 * H; j < 4 * H; j++)
		ar[j] = reel__sigmoid(gr[j]);
	const reel_real *restrict i = ar, *restrict f = ar + H, *restrict g = ar + 2 * H, *restrict o = ar + 3 * H;
	for (int j = 0; j < H; j++) {
		reel_real fc = f[j] * c[j], ig = i[j] * g[j];
		cn[j] = fc + ig;
		tc[j] = reel__tanh(cn[j]);
		hn[j] = o[j] * tc[j];
	}
}

/* Rows [r0, r1) of the forward. */
static void lstm_fwd_rows(void *ctx, int r0, int r1)
{
	const lstm_job *j_ = ctx;
	size_t H = (size_t)j_->H;
	for (int r = r0; r < r1; r++)
		lstm_fwd_row(j_->G + r * 4 * H, j_->A + r * 4 * H, j_->C + r * H, j_->Cn + r * H, j_->Hn + r * H,
		             j_->TC + r * H, j_->H);
}

reel_tensor *reel_lstm_cell(reel_tape *t, reel_tensor *gates, reel_tensor *c, reel_tensor *h_out, int flags)
{
	if (reel__skip(t, "lstm_cell", 2, gates, c))
		return NULL;
	char sg[64], sc[64];
	if (gates->ndim != 2 || gates->shape[1] % 4 || gates->shape[1] == 0 || c->ndim != 2 ||
	    c->shape[0] != gates->shape[0] || c->shape[1] * 4 != gates->shape[1])
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_lstm_cell: gates is %s and c %s, expected (B, 4H) and (B, H)",
		                      reel_shape_str(gates, sg, sizeof sg), reel_shape_str(c, sc, sizeof sc));
	if (flags & ~REEL_IN_PLACE)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_lstm_cell: flags is %d, expected 0 or REEL_IN_PLACE", flags);
	int B = c->shape[0], H = c->shape[1];
	int need = reel__needs_grad(t, gates, c, NULL);
	/* In place: the caller promises gates' values are not read again;
	 * the engine checks that no recorded backward reads them either
	 * (gates is the output of the node just recorded, a product). */
	int in_place = 0;
	if (flags & REEL_IN_PLACE) {
		int fresh = gates->base->on_tape && !gates->base->leaf;
		int product = !need || (t->last && t->last->out == gates &&
		                        (t->last->op == REEL_OP_ADDMM || t->last->op == REEL_OP_MATMUL));
		if (!fresh || !product)
			return reel_tape_fail(t, REEL_ERR_ARG,
			                      "reel_lstm_cell: REEL_IN_PLACE needs gates to be the output of the op just "
			                      "recorded, a matmul or addmm (its backward does not read it)");
		in_place = 1;
	}
	if (!slot_ok(t, "lstm_cell", h_out, B, H, need))
		return NULL;
	/* [c'; h'] (2, B, H), or c' (B, H) with h' in the slot */
	reel_tensor *y = h_out ? reel__out(t, 2, (int[]){B, H}, need) : reel__out(t, 3, (int[]){2, B, H}, need);
	if (!y)
		return NULL;
	size_t BH = (size_t)B * H;
	reel_real *hn = h_out ? h_out->data : y->data + BH;
	lstm_saved *s = need ? reel__alloc_small(t, sizeof *s) : NULL;
	reel_real *act = in_place ? gates->data : reel_tape_alloc(t, 4 * BH * sizeof(reel_real));
	reel_real *tc = reel_tape_alloc(t, BH * sizeof(reel_real));
	if ((need && !s) || !act || !tc)
		return NULL;
	lstm_job job = {.H = H, .G = gates->data, .C = c->data, .A = act, .Cn = y->data, .Hn = hn, .TC = tc};
	reel__par_rows(4 * BH, B, lstm_fwd_rows, &job); /* rows are independent */
	if (need) {
		reel_node *n = reel__record(t, REEL_OP_LSTM_CELL, y, gates, c, NULL);
		if (!n)
			return NULL;
		n->out2 = h_out;
		s->act = act;
		s->tc = tc;
		n->saved = s;
	}
	return y;
}

/* One row of the backward (restrict: the buffers are distinct, so the
 * loops vectorize). */
REEL_CLONES static void lstm_bwd_row(const reel_real *restrict i, const reel_real *restrict tc, const reel_real *restrict dcn,
                         const reel_real *restrict dh, const reel_real *restrict cr, reel_real *restrict dg,
                         reel_real *restrict dc, int H)
{
	const reel_real *f = i + H, *g = i + 2 * H, *o = i + 3 * H;
	if (dg && dc) {
		for (int j = 0; j < H; j++) {
			reel_real d = dcn[j] + dh[j] * o[j] * (1 - tc[j] * tc[j]);
			dg[j] += d * g[j] * i[j] * (1 - i[j]);
			dg[H + j] += d * cr[j] * f[j] * (1 - f[j]);
			dg[2 * H + j] += d * i[j] * (1 - g[j] * g[j]);
			dg[3 * H + j] += dh[j] * tc[j] * o[j] * (1 - o[j]);
			dc[j] += d * f[j];
		}
	} else if (dg) {
		for (int j = 0; j < H; j++) {
			reel_real d = dcn[j] + dh[j] * o[j] * (1 - tc[j] * tc[j]);
			dg[j] += d * g[j] * i[j] * (1 - i[j]);
			dg[H + j] += d * cr[j] * f[j] * (1 - f[j]);
			dg[2 * H + j] += d * i[j] * (1 - g[j] * g[j]);
			dg[3 * H + j] += dh[j] * tc[j] * o[j] * (1 - o[j]);
		}
	} else if (dc) {
		for (int j = 0; j < H; j++)
			dc[j] += (dcn[j] + dh[j] * o[j] * (1 - tc[j] * tc[j])) * f[j];
	}
}

/* Rows [r0, r1) of the backward. */
static void lstm_bwd_rows(void *ctx, int r0, int r1)
{
	const lstm_job *j_ = ctx;
	size_t H = (size_t)j_->H;
	for (int r = r0; r < r1; r++)
		lstm_bwd_row(j_->s->act + r * 4 * H, j_->s->tc + r * H, j_->dcn + r * H, j_->dh + r * H,
		             j_->C + r * H, j_->dG ? j_->dG + r * 4 * H : NULL, j_->dC ? j_->dC + r * H : NULL, j_->H);
}

void reel__bwd_LSTM_CELL(reel_node *n)
{
	reel_tensor *gates = n->in[0], *c = n->in[1];
	int B = c->shape[0], H = c->shape[1];
	size_t BH = (size_t)B * H;
	/* dc' and dh': the halves of y's gradient, or c''s and the slot's (a
	 * gradient that reached only one of them: the other is taken, zeroed) */
	const reel_real *dcn, *dh;
	if (n->out2) {
		dcn = reel__g(n->out);
		dh = reel__g(n->out2);
	} else {
		dcn = reel_tensor_grad(n->out);
		dh = dcn ? dcn + BH : NULL;
	}
	if (!dcn || !dh)
		return; /* out of memory: recorded on the tape */
	lstm_job job = {.H = H, .C = c->data, .dcn = dcn, .dh = dh, .s = n->saved, .dG = reel__g(gates), .dC = reel__g(c)};
	reel__par_rows(4 * (size_t)B * H, B, lstm_bwd_rows, &job);
}

/* ---- GRU ------------------------------------------------------------------------ */

/* reel_gru_cell: xp (B, 3H) = [xr xz xn] (the input projection with
 * b_ih), gh (B, 3H) = [hr hz hn] (the recurrent product with b_hh), h
 * (B, H):
 *   r = sigmoid(xr + hr)   z = sigmoid(xz + hz)   n = tanh(xn + r hn)
 *   h' = n + z (h - n)
 * Saved: r, z, n (B, 3H) (over xp's buffer with REEL_IN_PLACE) and the
 * pointers (hn is read from gh).  Backward, dh' = dy:
 *   dn = dy (1 - z) as dy - dy z,  da_n = dn (1 - n^2)
 *   dxn += da_n   dhn += da_n r   da_r = da_n hn r (1 - r)   dxr, dhr += da_r
 *   da_z = dy (h - n) z (1 - z)   dxz, dhz += da_z            dh += dy z */

typedef struct gru_job {
	int H;
	const reel_real *X, *G, *h, *dy, *act;
	reel_real *A, *Hn, *dX, *dG, *dh;
} gru_job;

REEL_CLONES static void gru_fwd_row(const reel_real *x, reel_real *a, const reel_real *restrict g, const reel_real *restrict h,
                        reel_real *restrict hn, int H)
{
	for (int j = 0; j < 2 * H; j++) {
		reel_real s = x[j] + g[j];
		a[j] = reel__sigmoid(s);
	}
	for (int j = 0; j < H; j++) {
		reel_real rh = a[j] * g[2 * H + j], s = x[2 * H + j] + rh;
		reel_real n = reel__tanh(s);
		a[2 * H + j] = n;
		reel_real d = h[j] - n, zd = a[H + j] * d;
		hn[j] = n + zd;
	}
}

static void gru_fwd_rows(void *ctx, int r0, int r1)
{
	const gru_job *j_ = ctx;
	size_t H = (size_t)j_->H;
	for (int r = r0; r < r1; r++)
		gru_fwd_row(j_->X + r * 3 * H, j_->A + r * 3 * H, j_->G + r * 3 * H, j_->h + r * H, j_->Hn + r * H, j_->H);
}

reel_tensor *reel_gru_cell(reel_tape *t, reel_tensor *xp, reel_tensor *gh, reel_tensor *h, reel_tensor *h_out,
                           int flags)
{
	if (reel__skip(t, "gru_cell", 3, xp, gh, h))
		return NULL;
	char sx[64], sg[64], sh[64];
	if (h->ndim != 2 || xp->ndim != 2 || gh->ndim != 2 || h->shape[1] == 0 || xp->shape[0] != h->shape[0] ||
	    gh->shape[0] != h->shape[0] || xp->shape[1] != 3 * h->shape[1] || gh->shape[1] != 3 * h->shape[1])
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_gru_cell: xp is %s, gh %s and h %s, expected (B, 3H), (B, 3H) and (B, H)",
		                      reel_shape_str(xp, sx, sizeof sx), reel_shape_str(gh, sg, sizeof sg),
		                      reel_shape_str(h, sh, sizeof sh));
	if (flags & ~REEL_IN_PLACE)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_gru_cell: flags is %d, expected 0 or REEL_IN_PLACE", flags);
	if ((flags & REEL_IN_PLACE) && (!xp->base->on_tape || xp->base->leaf))
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_gru_cell: REEL_IN_PLACE needs xp to be an op's output, found %s",
		                      xp->base->leaf ? "a leaf" : "memory not on the tape");
	int B = h->shape[0], H = h->shape[1];
	int need = reel__needs_grad(t, xp, gh, h);
	if (!slot_ok(t, "gru_cell", h_out, B, H, need))
		return NULL;
	reel_tensor *y = h_out ? h_out : reel__out(t, 2, (int[]){B, H}, need);
	if (!y)
		return NULL;
	reel_real *act = (flags & REEL_IN_PLACE) ? xp->data : reel_tape_alloc(t, 3 * (size_t)B * H * sizeof(reel_real));
	if (!act)
		return NULL;
	gru_job job = {.H = H, .X = xp->data, .G = gh->data, .h = h->data, .A = act, .Hn = y->data};
	reel__par_rows(3 * (size_t)B * H, B, gru_fwd_rows, &job);
	if (need) {
		reel_node *n = reel__record(t, REEL_OP_GRU_CELL, y, xp, gh, h);
		if (!n)
			return NULL;
		n->saved = act;
	}
	return y;
}

REEL_CLONES static void gru_bwd_row(const reel_real *restrict a, const reel_real *restrict g, const reel_real *restrict h,
                        const reel_real *restrict dy, reel_real *restrict dx, reel_real *restrict dg,
                        reel_real *restrict dh, int H)
{
	const reel_real *r = a, *z = a + H, *n = a + 2 * H, *hn = g + 2 * H;
	if (dx && dg && dh) {
		for (int j = 0; j < H; j++) {
			reel_real dn = dy[j] - dy[j] * z[j];
			reel_real dan = dn * (1 - n[j] * n[j]);
			reel_real dar = dan * hn[j] * r[j] * (1 - r[j]);
			reel_real daz = dy[j] * (h[j] - n[j]) * z[j] * (1 - z[j]);
			dx[j] += dar;
			dx[H + j] += daz;
			dx[2 * H + j] += dan;
			dg[j] += dar;
			dg[H + j] += daz;
			dg[2 * H + j] += dan * r[j];
			dh[j] += dy[j] * z[j];
		}
		return;
	}
	for (int j = 0; j < H; j++) {
		reel_real dn = dy[j] - dy[j] * z[j];
		reel_real dan = dn * (1 - n[j] * n[j]);
		reel_real dar = dan * hn[j] * r[j] * (1 - r[j]);
		reel_real daz = dy[j] * (h[j] - n[j]) * z[j] * (1 - z[j]);
		if (dx) {
			dx[j] += dar;
			dx[H + j] += daz;
			dx[2 * H + j] += dan;
		}
		if (dg) {
			dg[j] += dar;
			dg[H + j] += daz;
			dg[2 * H + j] += dan * r[j];
		}
		if (dh)
			dh[j] += dy[j] * z[j];
	}
}

static void gru_bwd_rows(void *ctx, int r0, int r1)
{
	const gru_job *j_ = ctx;
	size_t H = (size_t)j_->H;
	for (int r = r0; r < r1; r++)
		gru_bwd_row(j_->act + r * 3 * H, j_->G + r * 3 * H, j_->h + r * H, j_->dy + r * H,
		            j_->dX ? j_->dX + r * 3 * H : NULL, j_->dG ? j_->dG + r * 3 * H : NULL,
		            j_->dh ? j_->dh + r * H : NULL, j_->H);
}

void reel__bwd_GRU_CELL(reel_node *n)
{
	reel_tensor *xp = n->in[0], *gh = n->in[1], *h = n->in[2];
	int B = h->shape[0], H = h->shape[1];
	gru_job job = {.H = H, .G = gh->data, .h = h->data, .dy = reel_tensor_grad(n->out), .act = n->saved,
	               .dX = reel__g(xp), .dG = reel__g(gh), .dh = reel__g(h)};
	reel__par_rows(3 * (size_t)B * H, B, gru_bwd_rows, &job);
}

/* ---- Elman RNN ---------------------------------------------------------------------- */

/* reel_rnn_cell: tanh or relu of pre, into the slot h_out when given: the
 * unary op itself (a TANH or RELU node), with the slot checked as the
 * other cells check theirs. */
reel_tensor *reel_rnn_cell(reel_tape *t, reel_tensor *pre, char act, reel_tensor *h_out)
{
	if (reel__skip(t, "rnn_cell", 1, pre))
		return NULL;
	char sp[64];
	if (pre->ndim != 2 || pre->shape[1] == 0)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_rnn_cell: pre is %s, expected (B, H)",
		                      reel_shape_str(pre, sp, sizeof sp));
	if (act != 't' && act != 'r')
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_rnn_cell: act is '%c' (%d), expected 't' (tanh) or 'r' (relu)",
		                      act >= 32 && act < 127 ? act : '?', act);
	if (!slot_ok(t, "rnn_cell", h_out, pre->shape[0], pre->shape[1], reel__needs_grad(t, pre, NULL, NULL)))
		return NULL;
	return reel__unary_into(t, act == 'r' ? REEL_OP_RELU : REEL_OP_TANH, pre, 0, h_out);
}
