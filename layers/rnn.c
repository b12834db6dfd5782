/* The sequence driver: runs any cell over time, stacked and bidirectional,
 * with variable lengths, dropout between layers, variational recurrent
 * dropout and carried states.  Only op calls and C control flow. */
#include "layers.h"
#include "fault.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

reel_status reel_rnn_init(reel_rnn *r, reel_params *ps, const char *prefix, const reel_rnn_opts *o,
                          reel_rng *rng, reel_err *err)
{
	memset(r, 0, sizeof *r);
	r->o = *o;
	if (r->o.num_layers == 0)
		r->o.num_layers = 1;
	const reel_rnn_opts *q = &r->o;
	if (!q->cell)
		return reel_err_set(err, REEL_ERR_ARG, "rnn %s: no cell given", prefix ? prefix : "");
	if (q->input_size < 1 || q->hidden_size < 1)
		return reel_err_set(err, REEL_ERR_ARG, "rnn %s: input_size and hidden_size must be positive (got %d, %d)",
		                    prefix ? prefix : "", q->input_size, q->hidden_size);
	if (q->num_layers < 1 || q->num_layers > REEL_RNN_MAX_LAYERS)
		return reel_err_set(err, REEL_ERR_ARG, "rnn %s: num_layers must be 1 to %d, got %d",
		                    prefix ? prefix : "", REEL_RNN_MAX_LAYERS, q->num_layers);
	if (!(q->dropout >= 0 && q->dropout < 1) || !(q->recurrent_dropout >= 0 && q->recurrent_dropout < 1))
		return reel_err_set(err, REEL_ERR_ARG, "rnn %s: dropout must be in [0, 1)", prefix ? prefix : "");
	reel_status s = reel_cell_validate(q->cell, err);
	if (s != REEL_OK)
		return s;
	r->dirs = q->bidirectional ? 2 : 1;
	const char *pre = prefix ? prefix : "";
	const reel_cell *cell = q->cell;
	int H = q->hidden_size, G = cell->gates;
	double k = 1 / sqrt((double)H);
	for (int l = 0; l < q->num_layers; l++) {
		int F = l == 0 ? q->input_size : r->dirs * H;
		for (int d = 0; d < r->dirs; d++) {
			reel_cell_params *p = &r->p[l][d];
			p->cell = cell;
			p->input_size = F;
			p->hidden_size = H;
			char sfx[32]; /* PyTorch's "_l0", "_l0_reverse" */
			snprintf(sfx, sizeof sfx, "_l%d%s", l, d ? "_reverse" : "");
			for (int i = 0; i < cell->nparams; i++) {
				const reel_cell_param *cp = &cell->params[i];
				if (q->no_bias && (cp->flags & REEL_CP_BIAS))
					continue;
				int shape[2];
				for (int j = 0; j < cp->ndim; j++)
					shape[j] = cp->shape[j].i * F + cp->shape[j].h * H + cp->shape[j].gh * G * H;
				if (!(p->w[i] = reel__layer_param(ps, err, cp->ndim, shape, "%s%s%s", pre, cp->name, sfx)))
					return REEL_ERR_ARG;
			}
			/* every tensor of this layer and direction, in the listed order;
			 * PyTorch's default is U(-1/sqrt(H), 1/sqrt(H)) for all of them */
			for (int i = 0; i < cell->nparams; i++) {
				reel_tensor *w = p->w[i];
				if (!w)
					continue;
				switch (cell->params[i].init) {
				case REEL_INIT_UNIFORM: reel_param_uniform(w, rng, -k, k); break;
				case REEL_INIT_ZEROS: reel_param_fill(w, 0); break;
				case REEL_INIT_ONES: reel_param_fill(w, 1); break;
				case REEL_INIT_UNIT: reel_param_uniform(w, rng, 0, 1); break;
				case REEL_INIT_ORTHOGONAL:
					if (reel_param_orthogonal(w, rng, H, 1.0) != REEL_OK)
						return reel_err_set(err, REEL_ERR_ARG, "rnn %s: %s%s is not (k*H, H) for orthogonal init",
						                    pre, cell->params[i].name, sfx);
					break;
				}
			}
			for (int i = 0; i < cell->nparams; i++) {
				reel_tensor *w = p->w[i];
				int fl = cell->params[i].flags;
				if (!w)
					continue;
				if (fl & REEL_CP_FROZEN)
					reel_param_freeze(w, 1);
				if (q->orthogonal && (fl & REEL_CP_RECURRENT) && reel_param_orthogonal(w, rng, H, 1.0) != REEL_OK)
					return reel_err_set(err, REEL_ERR_ARG, "rnn: orthogonal init failed");
				/* the forget block [f*H, (f+1)*H): the forget biases sum to forget_bias */
				if (q->forget_bias != 0 && (fl & (REEL_CP_FORGET | REEL_CP_FORGET_ZERO)))
					reel_param_fill_range(w, (size_t)cell->forget_gate * H, (size_t)H,
					                      fl & REEL_CP_FORGET ? (reel_real)q->forget_bias : 0);
			}
		}
	}
	return REEL_OK;
}

reel_tensor *reel__input_projection(reel_tape *t, const reel_cell *cell, const reel_cell_params *p, reel_tensor *x)
{
	reel_tensor *w = NULL, *bias = NULL;
	for (int i = 0; i < cell->nparams; i++) {
		if (!p->w[i])
			continue;
		if (cell->params[i].flags & REEL_CP_PROJ)
			w = p->w[i];
		else if (cell->params[i].flags & REEL_CP_PROJ_BIAS) /* b_ih + b_hh is a (G*H) add; the product starts from it */
			bias = bias ? reel_add(t, bias, p->w[i]) : p->w[i];
	}
	if (!w)
		return x;
	return bias ? reel_addmm(t, bias, x, w, REEL_TRANS_B) : reel_matmul(t, x, w, REEL_TRANS_B);
}

/* One layer, one direction, over all T steps.  xp (T*B, G*H); init[] the
 * initial states; mask (T, B, 1) or NULL.  Writes the outputs (T, B, H) and
 * the final states. */
static reel_tensor *run_direction(reel_tape *t, const reel_rnn *r, const reel_cell_params *p,
                                  reel_tensor *xp, int T, int B, int reverse, reel_tensor *mask,
                                  reel_tensor **state, const reel_real *link)
{
	const reel_cell *cell = r->o.cell;
	int H = r->o.hidden_size;
	reel_tensor **outs = reel_tape_alloc(t, (size_t)T * sizeof *outs);
	if (!outs)
		return NULL;
	/* variational dropout: one mask per sequence, reused at every step */
	reel_tensor *rmask = NULL;
	if (r->o.recurrent_dropout > 0 && reel_tape_training(t)) {
		reel_tensor *ones = reel_add_scalar(t, reel_tensor_new2(t, B, H, REEL_NOGRAD), 1);
		rmask = reel_dropout(t, ones, (reel_real)r->o.recurrent_dropout);
	}
	/* the built-in RNN, LSTM and GRU write each step's h' into its time
	 * step of the output (no stack copy; reel_lstm_cell's h_out); past a
	 * sequence's end the output is masked, so then every step makes its own */
	int slots = (cell == &reel_cell_lstm || cell == &reel_cell_gru || cell == &reel_cell_rnn_tanh ||
	             cell == &reel_cell_rnn_relu) && !mask;
	reel_tensor *slab = slots ? reel_tensor_new(t, 3, (int[]){T, B, H}, REEL_GRAD) : NULL;
	int all_slots = slab != NULL;
	for (int k = 0; k < T; k++) {
		int s = reverse ? T - 1 - k : k;
		reel_tensor *next[2] = {0};
		reel_tensor *slot = slab ? reel_index(t, slab, s) : NULL;
		next[0] = slot;
		/* randomized truncation: cut (a constant copy) or reweight the link into step s */
		if (link && k > 0 && link[s] != 1)
			for (int i = 0; i < cell->nstate; i++)
				state[i] = link[s] == 0 ? reel_tensor_from(t, state[i]->ndim, state[i]->shape, state[i]->data, REEL_NOGRAD)
				                        : reel_grad_scale(t, state[i], link[s]);
		reel_tensor *h_in = rmask ? reel_mul(t, state[0], rmask) : state[0];
		cell->step(t, p, reel_rows(t, xp, s * B, B), h_in, state, next);
		if (mask) {
			/* past a sequence's end: keep the old state, output zero */
			reel_tensor *m = reel_index(t, mask, s); /* (B, 1) */
			for (int i = 0; i < cell->nstate; i++)
				next[i] = reel_blend(t, m, next[i], state[i]);
			outs[s] = reel_mul(t, next[0], m);
		} else {
			outs[s] = next[0];
			all_slots &= next[0] == slot;
		}
		for (int i = 0; i < cell->nstate; i++)
			state[i] = next[i];
		if (reel_tape_status(t) != REEL_OK)
			return NULL;
	}
	return all_slots ? slab : reel_stack(t, outs, T);
}

static int check_state(reel_tape *t, const char *what, const reel_tensor *s, int n, int B, int H)
{
	if (!s || (s->ndim == 3 && s->shape[0] == n && s->shape[1] == B && s->shape[2] == H))
		return 1;
	char buf[64];
	reel_tape_fail(t, REEL_ERR_SHAPE, "reel_rnn_forward: %s is %s, expected %dx%dx%d", what,
	               reel_shape_str(s, buf, sizeof buf), n, B, H);
	return 0;
}

reel_status reel_rnn_forward(reel_tape *t, const reel_rnn *r, reel_tensor *x, const int *lengths,
                             reel_tensor *h0, reel_tensor *c0, reel_rnn_out *out)
{
	return reel_rnn_forward_links(t, r, x, lengths, h0, c0, NULL, out);
}

reel_status reel_rnn_forward_links(reel_tape *t, const reel_rnn *r, reel_tensor *x, const int *lengths,
                                   reel_tensor *h0, reel_tensor *c0, const reel_real *link, reel_rnn_out *out)
{
	memset(out, 0, sizeof *out);
	if (reel_tape_status(t) != REEL_OK)
		return reel_tape_status(t);
	const reel_rnn_opts *o = &r->o;
	int L = o->num_layers, D = r->dirs, H = o->hidden_size, ns = o->cell->nstate;
	char buf[64];
	if (!x || x->ndim != 3 || x->shape[2] != o->input_size) {
		reel_tape_fail(t, REEL_ERR_SHAPE, "reel_rnn_forward: input is %s, expected (T, B, %d)",
		               reel_shape_str(x, buf, sizeof buf), o->input_size);
		return reel_tape_status(t);
	}
	int T = x->shape[0], B = x->shape[1];
	if (!check_state(t, "h0", h0, L * D, B, H) || !check_state(t, "c0", c0, L * D, B, H))
		return reel_tape_status(t);
	if (link && D == 2) {
		reel_tape_fail(t, REEL_ERR_ARG, "reel_rnn_forward_links: link weights need a unidirectional stack");
		return reel_tape_status(t);
	}
	reel_tensor *mask = lengths ? reel_length_mask(t, lengths, T, B) : NULL;
	reel_tensor *zero = (!h0 || (ns > 1 && !c0)) ? reel_tensor_new2(t, B, H, REEL_NOGRAD) : NULL;
	reel_tensor **fin = reel_tape_alloc(t, 2 * (size_t)L * D * sizeof *fin);
	if (!fin || reel_tape_status(t) != REEL_OK)
		return reel_tape_status(t);
	reel_tensor *layer_in = x;
	for (int l = 0; l < L; l++) {
		if (l > 0 && o->dropout > 0)
			layer_in = reel_dropout(t, layer_in, (reel_real)o->dropout);
		reel_tensor *in2d = reel_reshape2(t, layer_in, T * B, -1);
		reel_tensor *dir_out[2];
		for (int d = 0; d < D; d++) {
			const reel_cell_params *p = &r->p[l][d];
			/* all T input projections in one product: (T*B, F) x (G*H, F)^T + bias */
			reel_tensor *xp = reel__input_projection(t, o->cell, p, in2d);
			reel_tensor *state[2];
			state[0] = h0 ? reel_index(t, h0, l * D + d) : zero;
			state[1] = ns > 1 ? (c0 ? reel_index(t, c0, l * D + d) : zero) : NULL;
			dir_out[d] = run_direction(t, r, p, xp, T, B, d == 1, mask, state, link);
			if (!dir_out[d])
				return reel_tape_status(t) != REEL_OK ? reel_tape_status(t) : REEL_ERR_NOMEM;
			fin[l * D + d] = state[0];
			fin[L * D + l * D + d] = state[1];
		}
		reel_tensor *y = D == 2 ? reel_concat(t, dir_out, 2, -1) : dir_out[0];
		/* residual (l >= 1): y_l = cell outputs + x_l; both are zero past each length */
		layer_in = o->residual && l > 0 ? reel_add(t, y, layer_in) : y;
	}
	out->y = layer_in;
	out->h_n = reel_stack(t, fin, L * D);
	if (ns > 1)
		out->c_n = reel_stack(t, fin + L * D, L * D);
	return reel_tape_status(t);
}

/* ---- carried state for truncated BPTT ------------------------------------------ */

reel_status reel_rnn_carry_init(reel_rnn_carry *cy, const reel_rnn *r, int batch)
{
	memset(cy, 0, sizeof *cy);
	cy->shape[0] = r->o.num_layers * r->dirs;
	cy->shape[1] = batch;
	cy->shape[2] = r->o.hidden_size;
	size_t n = (size_t)cy->shape[0] * batch * r->o.hidden_size;
	cy->h = reel__calloc(n, sizeof(reel_real));
	if (r->o.cell->nstate > 1)
		cy->c = reel__calloc(n, sizeof(reel_real));
	if (!cy->h || (r->o.cell->nstate > 1 && !cy->c)) {
		reel_rnn_carry_deinit(cy);
		return REEL_ERR_NOMEM;
	}
	return REEL_OK;
}

void reel_rnn_carry_deinit(reel_rnn_carry *cy)
{
	free(cy->h);
	free(cy->c);
	cy->h = cy->c = NULL;
	cy->valid = 0;
}

void reel_rnn_carry_store(reel_rnn_carry *cy, const reel_rnn_out *out)
{
	size_t n = (size_t)cy->shape[0] * cy->shape[1] * cy->shape[2];
	if (!out->h_n || out->h_n->size != n)
		return;
	memcpy(cy->h, out->h_n->data, n * sizeof(reel_real));
	if (cy->c && out->c_n)
		memcpy(cy->c, out->c_n->data, n * sizeof(reel_real));
	cy->valid = 1;
}

reel_tensor *reel_rnn_carry_h0(reel_tape *t, const reel_rnn_carry *cy)
{
	return cy->valid ? reel_tensor_from(t, 3, cy->shape, cy->h, REEL_NOGRAD) : NULL;
}

reel_tensor *reel_rnn_carry_c0(reel_tape *t, const reel_rnn_carry *cy)
{
	return cy->valid && cy->c ? reel_tensor_from(t, 3, cy->shape, cy->c, REEL_NOGRAD) : NULL;
}
