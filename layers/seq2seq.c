/* Encoder-decoder with attention: training with teacher forcing and
 * scheduled sampling, greedy and beam decoding (equations in seq2seq.h).
 * The decoding loops are C control flow over hypotheses; every number that
 * flows through the model is computed by engine ops. */
#include "seq2seq.h"
#include "fault.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEC_LAYERS REEL_RNN_MAX_LAYERS

static reel_status check_opts(const reel_seq2seq_opts *o, reel_err *err)
{
	if (o->src_vocab < 1 || o->tgt_vocab < 1 || o->emb_size < 1 || o->hidden_size < 1)
		return reel_err_set(err, REEL_ERR_ARG, "seq2seq: vocabularies, emb_size and hidden_size must be positive");
	if (!o->cell)
		return reel_err_set(err, REEL_ERR_ARG, "seq2seq: no cell given");
	if (o->enc_layers < 1 || o->dec_layers < 1 || o->dec_layers > MAX_DEC_LAYERS || o->enc_layers > MAX_DEC_LAYERS)
		return reel_err_set(err, REEL_ERR_ARG, "seq2seq: enc_layers and dec_layers must be 1 to %d", MAX_DEC_LAYERS);
	if (o->bidirectional && o->hidden_size % 2)
		return reel_err_set(err, REEL_ERR_ARG,
		                    "seq2seq: a bidirectional encoder needs an even hidden_size (each direction has half), got %d",
		                    o->hidden_size);
	if (o->tie_embeddings && o->emb_size != o->hidden_size)
		return reel_err_set(err, REEL_ERR_ARG, "seq2seq: tied embeddings need emb_size (%d) == hidden_size (%d)",
		                    o->emb_size, o->hidden_size);
	int ids[3] = {o->bos, o->eos, o->pad};
	for (int i = 0; i < 3; i++)
		if (ids[i] < 0 || ids[i] >= o->tgt_vocab)
			return reel_err_set(err, REEL_ERR_ARG, "seq2seq: bos, eos and pad must be target ids below %d", o->tgt_vocab);
	return REEL_OK;
}

static char *cat(char *buf, size_t n, const char *prefix, const char *name)
{
	snprintf(buf, n, "%s%s", prefix ? prefix : "", name);
	return buf;
}

reel_status reel_seq2seq_init(reel_seq2seq *m, reel_params *ps, const char *prefix, const reel_seq2seq_opts *o,
                              reel_rng *rng, reel_err *err)
{
	memset(m, 0, sizeof *m);
	m->o = *o;
	reel_status s = check_opts(o, err);
	if (s != REEL_OK)
		return s;
	int H = o->hidden_size, E = o->emb_size, V = o->tgt_vocab;
	char nm[256];
	if ((s = reel_embedding_init(&m->src_emb, ps, cat(nm, sizeof nm, prefix, "src_emb."), o->src_vocab, E, rng, err)) ||
	    (s = reel_embedding_init(&m->tgt_emb, ps, cat(nm, sizeof nm, prefix, "tgt_emb."), V, E, rng, err)))
		return s;
	reel_rnn_opts eo = {.cell = o->cell, .input_size = E, .hidden_size = o->bidirectional ? H / 2 : H,
	                    .num_layers = o->enc_layers, .bidirectional = o->bidirectional, .dropout = o->dropout};
	reel_rnn_opts dopt = {.cell = o->cell, .input_size = E + (o->input_feeding ? H : 0), .hidden_size = H,
	                      .num_layers = o->dec_layers, .dropout = o->dropout};
	if ((s = reel_rnn_init(&m->enc, ps, cat(nm, sizeof nm, prefix, "encoder."), &eo, rng, err)) ||
	    (s = reel_rnn_init(&m->dec, ps, cat(nm, sizeof nm, prefix, "decoder."), &dopt, rng, err)))
		return s;
	if ((s = reel_attention_init(&m->attn, ps, cat(nm, sizeof nm, prefix, "attn."), o->attention, H, H,
	                             o->attn_size ? o->attn_size : H, rng, err)))
		return s;
	if (o->bridge) {
		if ((s = reel_linear_init(&m->bridge_h, ps, cat(nm, sizeof nm, prefix, "bridge_h."), H, H, 1, rng, err)))
			return s;
		if (o->cell->nstate > 1 &&
		    (s = reel_linear_init(&m->bridge_c, ps, cat(nm, sizeof nm, prefix, "bridge_c."), H, H, 1, rng, err)))
			return s;
	}
	if (o->attention != REEL_ATTN_NONE &&
	    (s = reel_linear_init(&m->combine, ps, cat(nm, sizeof nm, prefix, "combine."), 2 * H, H, 0, rng, err)))
		return s;
	if (o->tie_embeddings) {
		/* W_out is the target embedding (Press & Wolf 2017); only the bias is new */
		reel_linear tmp;
		if ((s = reel_linear_init(&tmp, ps, cat(nm, sizeof nm, prefix, "out."), H, V, 1, rng, err)))
			return s;
		m->out = tmp;
		reel_param_freeze(tmp.weight, 1); /* the untied weight is unused */
		m->out.weight = m->tgt_emb.weight;
	} else if ((s = reel_linear_init(&m->out, ps, cat(nm, sizeof nm, prefix, "out."), H, V, 1, rng, err))) {
		return s;
	}
	return REEL_OK;
}

/* ---- shared pieces ------------------------------------------------------------------ */

typedef struct dec_state {
	reel_tensor *s[MAX_DEC_LAYERS][2]; /* per decoder layer: h (and c) (B, H) */
	reel_tensor *feed;                 /* h~ of the previous step, for input feeding */
	reel_attn_memory mem;
} dec_state;

static int check_batch(reel_tape *t, const reel_seq2seq *m, const reel_s2s_batch *b, int need_tgt)
{
	if (b->S < 1 || b->B < 1 || !b->src || !b->src_len || (need_tgt && (!b->tgt || b->T < 1))) {
		reel_tape_fail(t, REEL_ERR_ARG, "seq2seq: a batch needs sources, lengths%s", need_tgt ? " and targets" : "");
		return 0;
	}
	for (int i = 0; i < b->S * b->B; i++)
		if (b->src[i] < 0 || b->src[i] >= m->o.src_vocab) {
			reel_tape_fail(t, REEL_ERR_ARG, "seq2seq: source id %d at step %d, sequence %d is outside [0, %d)",
			               b->src[i], i / b->B, i % b->B, m->o.src_vocab);
			return 0;
		}
	return 1;
}

/* Encoder, attention memory and the decoder's initial state. */
static reel_status encode(reel_tape *t, const reel_seq2seq *m, const reel_s2s_batch *b, dec_state *d)
{
	const reel_seq2seq_opts *o = &m->o;
	int S = b->S, B = b->B, H = o->hidden_size, D = m->enc.dirs, L = o->enc_layers;
	memset(d, 0, sizeof *d);
	reel_tensor *x = reel_embedding_forward(t, &m->src_emb, b->src, S * B); /* (S*B, E) */
	x = reel_dropout(t, reel_reshape3(t, x, S, B, o->emb_size), (reel_real)o->dropout);
	reel_rnn_out eo;
	if (reel_rnn_forward(t, &m->enc, x, b->src_len, NULL, NULL, &eo) != REEL_OK)
		return reel_tape_status(t);
	if (o->attention != REEL_ATTN_NONE && reel_attention_memory(t, &m->attn, eo.y, b->src_len, &d->mem) != REEL_OK)
		return reel_tape_status(t);
	reel_tensor *h0 = NULL, *c0 = NULL;
	if (o->bridge) {
		/* the top encoder layer's final states, both directions: (B, H) */
		reel_tensor *hs[2], *cs[2];
		for (int k = 0; k < D; k++) {
			hs[k] = reel_index(t, eo.h_n, (L - 1) * D + k);
			cs[k] = eo.c_n ? reel_index(t, eo.c_n, (L - 1) * D + k) : NULL;
		}
		h0 = reel_tanh(t, reel_linear_forward(t, &m->bridge_h, D == 2 ? reel_concat(t, hs, 2, -1) : hs[0]));
		if (eo.c_n)
			c0 = reel_tanh(t, reel_linear_forward(t, &m->bridge_c, D == 2 ? reel_concat(t, cs, 2, -1) : cs[0]));
	}
	reel_tensor *zero = reel_tensor_new2(t, B, H, REEL_NOGRAD);
	for (int l = 0; l < o->dec_layers; l++) {
		d->s[l][0] = h0 ? h0 : zero;
		d->s[l][1] = c0 ? c0 : zero;
	}
	d->feed = zero;
	return reel_tape_status(t);
}

/* One decoder step from input ids (B); returns logits (B, V), *w the
 * attention weights (B, S) when attention is on. */
static reel_tensor *dec_step(reel_tape *t, const reel_seq2seq *m, dec_state *d, const int32_t *ids, int B,
                             reel_tensor **w)
{
	const reel_seq2seq_opts *o = &m->o;
	const reel_cell *cell = o->cell;
	reel_tensor *x = reel_dropout(t, reel_embedding_forward(t, &m->tgt_emb, ids, B), (reel_real)o->dropout);
	if (o->input_feeding) {
		reel_tensor *parts[2] = {x, d->feed};
		x = reel_concat(t, parts, 2, -1); /* (B, E + H) */
	}
	for (int l = 0; l < o->dec_layers; l++) {
		const reel_cell_params *p = &m->dec.p[l][0];
		if (l > 0)
			x = reel_dropout(t, x, (reel_real)o->dropout);
		reel_tensor *xp = reel__input_projection(t, cell, p, x);
		reel_tensor *next[2] = {0};
		cell->step(t, p, xp, d->s[l][0], d->s[l], next);
		d->s[l][0] = next[0];
		d->s[l][1] = next[1];
		x = next[0];
	}
	reel_tensor *hat = x; /* h~ = h without attention */
	if (o->attention != REEL_ATTN_NONE) {
		reel_tensor *c = reel_attention_step(t, &m->attn, &d->mem, x, w);
		reel_tensor *parts[2] = {c, x};
		hat = reel_tanh(t, reel_linear_forward(t, &m->combine, reel_concat(t, parts, 2, -1)));
	}
	d->feed = hat;
	return reel_linear_forward(t, &m->out, reel_dropout(t, hat, (reel_real)o->dropout));
}

/* ---- inference memory ------------------------------------------------------------------
 * A decoding loop needs only the decoder state from one step to the next:
 * it lives in tensors made before the loop's mark, and each step's memory
 * is given back to the tape after its state is copied there, so decoding
 * runs in the memory of one step however long the output. */
typedef struct kept_state {
	dec_state keep;
	reel_tape_mark mark;
} kept_state;

/* Copy d's states into fresh tensors, point d at them and take the mark. */
static int keep_init(reel_tape *t, const reel_seq2seq *m, dec_state *d, kept_state *k)
{
	k->keep = *d;
	for (int l = 0; l < m->o.dec_layers; l++)
		for (int i = 0; i < m->o.cell->nstate; i++) {
			reel_tensor *x = d->s[l][i];
			k->keep.s[l][i] = x ? reel_tensor_from(t, x->ndim, x->shape, x->data, REEL_NOGRAD) : NULL;
		}
	if (d->feed)
		k->keep.feed = reel_tensor_from(t, d->feed->ndim, d->feed->shape, d->feed->data, REEL_NOGRAD);
	if (reel_tape_status(t) != REEL_OK)
		return 0;
	*d = k->keep;
	k->mark = reel_tape_get_mark(t);
	return 1;
}

/* After a step: the new states into the kept tensors, the step's memory back. */
static int keep_step(reel_tape *t, const reel_seq2seq *m, dec_state *d, kept_state *k)
{
	if (reel_tape_status(t) != REEL_OK)
		return 0;
	for (int l = 0; l < m->o.dec_layers; l++)
		for (int i = 0; i < m->o.cell->nstate; i++)
			if (d->s[l][i] && d->s[l][i] != k->keep.s[l][i])
				memcpy(k->keep.s[l][i]->data, d->s[l][i]->data, d->s[l][i]->size * sizeof(reel_real));
	if (d->feed && d->feed != k->keep.feed)
		memcpy(k->keep.feed->data, d->feed->data, d->feed->size * sizeof(reel_real));
	*d = k->keep;
	return reel_tape_release(t, &k->mark) == REEL_OK;
}

/* ---- training -------------------------------------------------------------------------- */

reel_tensor *reel_seq2seq_loss(reel_tape *t, const reel_seq2seq *m, const reel_s2s_batch *b, double tf_ratio)
{
	if (reel_tape_status(t) != REEL_OK || !check_batch(t, m, b, 1))
		return NULL;
	int B = b->B, T = b->T, V = m->o.tgt_vocab;
	for (int i = 0; i < T * B; i++)
		if (b->tgt[i] < 0 || b->tgt[i] >= V)
			return reel_tape_fail(t, REEL_ERR_ARG, "seq2seq: target id %d at step %d, sequence %d is outside [0, %d)",
			                      b->tgt[i], i / B, i % B, V);
	dec_state d;
	if (encode(t, m, b, &d) != REEL_OK)
		return NULL;
	reel_tensor **logits = reel_tape_alloc(t, (size_t)T * sizeof *logits);
	int32_t *in = reel_tape_alloc(t, (size_t)T * B * sizeof *in), *pred = reel_tape_alloc(t, (size_t)B * sizeof *pred);
	if (!logits || !in || !pred)
		return NULL;
	reel_rng *rng = reel_tape_rng(t);
	for (int s = 0; s < T; s++) {
		int32_t *ids = in + (size_t)s * B;
		for (int k = 0; k < B; k++) {
			int teacher = tf_ratio >= 1 || reel_rng_uniform(rng) < tf_ratio;
			ids[k] = s == 0 ? m->o.bos : teacher ? b->tgt[(s - 1) * B + k] : pred[k];
		}
		logits[s] = dec_step(t, m, &d, ids, B, NULL);
		if (!logits[s])
			return NULL;
		if (tf_ratio < 1)
			reel_argmax_rows(logits[s], pred);
	}
	reel_tensor *all = reel_reshape2(t, reel_stack(t, logits, T), T * B, V);
	return reel_cross_entropy(t, all, b->tgt, NULL, m->o.pad);
}

/* ---- decoding ---------------------------------------------------------------------------- */

reel_status reel_s2s_result_init(reel_s2s_result *r, int B, int max_len, int S)
{
	memset(r, 0, sizeof *r);
	r->B = B;
	r->max_len = max_len;
	r->S = S;
	r->tokens = reel__calloc((size_t)B * max_len, sizeof *r->tokens);
	r->len = reel__calloc((size_t)B, sizeof *r->len);
	r->score = reel__calloc((size_t)B, sizeof *r->score);
	r->attn = reel__calloc((size_t)B * max_len * S, sizeof *r->attn);
	if (!r->tokens || !r->len || !r->score || !r->attn) {
		reel_s2s_result_deinit(r);
		return REEL_ERR_NOMEM;
	}
	return REEL_OK;
}

void reel_s2s_result_deinit(reel_s2s_result *r)
{
	free(r->tokens);
	free(r->len);
	free(r->score);
	free(r->attn);
	memset(r, 0, sizeof *r);
}

/* Decoding runs in evaluation mode without gradients; restores both. */
typedef struct eval_mode {
	int grad, training;
} eval_mode;

static eval_mode eval_enter(reel_tape *t)
{
	reel_tape_reset(t);
	eval_mode e = {reel_tape_set_grad(t, 0), reel_tape_training(t)};
	reel_tape_set_training(t, 0);
	return e;
}

static void eval_leave(reel_tape *t, eval_mode e)
{
	reel_tape_set_grad(t, e.grad);
	reel_tape_set_training(t, e.training);
}

static int check_result(reel_tape *t, const reel_s2s_batch *b, int max_len, const reel_s2s_result *r)
{
	if (max_len < 1 || r->B != b->B || r->max_len < max_len || r->S != b->S) {
		reel_tape_fail(t, REEL_ERR_ARG, "seq2seq decode: the result holds %d x %d (S %d), the batch needs %d x %d (S %d)",
		               r->B, r->max_len, r->S, b->B, max_len, b->S);
		return 0;
	}
	return 1;
}

reel_status reel_seq2seq_greedy(reel_tape *t, const reel_seq2seq *m, const reel_s2s_batch *b, int max_len,
                                reel_s2s_result *r)
{
	eval_mode em = eval_enter(t);
	int B = b->B, S = b->S;
	dec_state d;
	int32_t *ids = NULL, *tok = NULL;
	int *ended = NULL;
	if (!check_batch(t, m, b, 0) || !check_result(t, b, max_len, r) || encode(t, m, b, &d) != REEL_OK)
		goto out;
	ids = reel__malloc((size_t)B * sizeof *ids);
	tok = reel__malloc((size_t)B * sizeof *tok);
	ended = reel__calloc((size_t)B, sizeof *ended);
	if (!ids || !tok || !ended) {
		reel_tape_fail(t, REEL_ERR_NOMEM, "seq2seq greedy: out of memory");
		goto out;
	}
	for (int k = 0; k < B; k++) {
		ids[k] = m->o.bos;
		r->len[k] = 0;
		r->score[k] = 0;
	}
	int live = B;
	kept_state ks;
	if (!keep_init(t, m, &d, &ks))
		goto out;
	for (int s = 0; s < max_len && live > 0; s++) {
		reel_tensor *w = NULL;
		reel_tensor *logp = reel_log_softmax(t, dec_step(t, m, &d, ids, B, &w));
		if (!logp)
			goto out;
		reel_argmax_rows(logp, tok);
		for (int k = 0; k < B; k++) {
			if (ended[k])
				continue;
			r->tokens[(size_t)k * r->max_len + s] = tok[k];
			r->score[k] += logp->data[(size_t)k * m->o.tgt_vocab + tok[k]];
			r->len[k] = s + 1;
			if (w)
				memcpy(r->attn + ((size_t)k * r->max_len + s) * S, w->data + (size_t)k * S, (size_t)S * sizeof(reel_real));
			if (tok[k] == m->o.eos) {
				ended[k] = 1;
				live--;
			}
			ids[k] = tok[k];
		}
		if (!keep_step(t, m, &d, &ks))
			goto out;
	}
out:
	free(ids);
	free(tok);
	free(ended);
	eval_leave(t, em);
	return reel_tape_status(t);
}

/* Beam search.  Slots n = b*K + k hold the live hypotheses of source b.
 * After step s, slot j holds a hypothesis whose last token is tok[s][j],
 * whose attention at s is attn[s][j] and whose prefix is slot parent[s][j]
 * after step s - 1. */
typedef struct beam_hist {
	int32_t *tok, *parent; /* (max_len, N) */
	reel_real *attn;       /* (max_len, N, S) */
} beam_hist;

typedef struct beam_end {
	double score;  /* normalised */
	double raw;
	int step, slot; /* the ending step, and the slot it continues from (or holds it) */
	int32_t last;  /* its last token */
	reel_real *last_attn;
} beam_end;

static void backtrack(const beam_hist *h, int N, int S, int step, int slot, int32_t last, const reel_real *last_attn,
                      int32_t *tokens, reel_real *attn)
{
	tokens[step] = last;
	if (attn && last_attn)
		memcpy(attn + (size_t)step * S, last_attn, (size_t)S * sizeof(reel_real));
	for (int s = step - 1; s >= 0; s--) {
		tokens[s] = h->tok[(size_t)s * N + slot];
		if (attn)
			memcpy(attn + (size_t)s * S, h->attn + ((size_t)s * N + slot) * S, (size_t)S * sizeof(reel_real));
		slot = h->parent[(size_t)s * N + slot];
	}
}

/* Best first; stable, so among equal scores the earlier-ended comes first
 * (at most 2 * beam entries). */
static void sort_ends(beam_end *e, int n)
{
	for (int i = 1; i < n; i++) {
		beam_end x = e[i];
		int j = i;
		for (; j > 0 && e[j - 1].score < x.score; j--)
			e[j] = e[j - 1];
		e[j] = x;
	}
}

static reel_status beam_search(reel_tape *t, const reel_seq2seq *m, const reel_s2s_batch *b, int beam, int max_len,
                               double alpha, int n_best, reel_s2s_result *r)
{
	eval_mode em = eval_enter(t);
	const int B = b->B, S = b->S, K = beam, N = b->B * beam, V = m->o.tgt_vocab;
	int32_t *src = NULL, *ids = NULL, *cand = NULL, *slot_src = NULL;
	int *len = NULL, *done = NULL, *nend = NULL;
	reel_real *score = NULL, *next_score = NULL;
	beam_hist h = {0};
	beam_end *ends = NULL;
	reel_real *end_attn = NULL;
	if (beam < 1) {
		reel_tape_fail(t, REEL_ERR_ARG, "seq2seq beam: width must be >= 1, got %d", beam);
		goto out;
	}
	if (n_best < 1 || n_best > beam) {
		reel_tape_fail(t, REEL_ERR_ARG, "seq2seq beam: n_best must be in [1, beam %d], got %d", beam, n_best);
		goto out;
	}
	reel_s2s_batch rb = *b; /* the result holds n_best rows per source */
	rb.B = b->B * n_best;
	if (!check_batch(t, m, b, 0) || !check_result(t, &rb, max_len, r))
		goto out;
	/* the batch with every source repeated K times: slot b*K + k */
	src = reel__malloc((size_t)S * N * sizeof *src);
	len = reel__malloc((size_t)N * sizeof *len);
	ids = reel__malloc((size_t)N * sizeof *ids);
	slot_src = reel__malloc((size_t)N * sizeof *slot_src);
	cand = reel__malloc((size_t)2 * K * sizeof *cand);
	score = reel__malloc((size_t)N * sizeof *score);
	next_score = reel__malloc((size_t)N * sizeof *next_score);
	done = reel__calloc((size_t)B, sizeof *done);
	nend = reel__calloc((size_t)B, sizeof *nend);
	ends = reel__calloc((size_t)B * (K + K), sizeof *ends);
	end_attn = reel__calloc((size_t)B * (K + K) * S, sizeof *end_attn);
	h.tok = reel__malloc((size_t)max_len * N * sizeof *h.tok);
	h.parent = reel__malloc((size_t)max_len * N * sizeof *h.parent);
	h.attn = reel__calloc((size_t)max_len * N * S, sizeof *h.attn);
	if (!src || !len || !ids || !slot_src || !cand || !score || !next_score || !done || !nend || !ends ||
	    !end_attn || !h.tok || !h.parent || !h.attn) {
		reel_tape_fail(t, REEL_ERR_NOMEM, "seq2seq beam: out of memory");
		goto out;
	}
	for (int s = 0; s < S; s++)
		for (int n = 0; n < N; n++)
			src[s * N + n] = b->src[s * B + n / K];
	for (int n = 0; n < N; n++) {
		len[n] = b->src_len[n / K];
		ids[n] = m->o.bos;
		score[n] = n % K == 0 ? 0 : -INFINITY; /* one live hypothesis at the start */
	}
	reel_s2s_batch xb = {.src = src, .src_len = len, .S = S, .B = N};
	dec_state d;
	if (encode(t, m, &xb, &d) != REEL_OK)
		goto out;
	int remaining = B;
	kept_state ks;
	if (!keep_init(t, m, &d, &ks))
		goto out;
	for (int s = 0; s < max_len && remaining > 0; s++) {
		reel_tensor *w = NULL;
		reel_tensor *logp = reel_log_softmax(t, dec_step(t, m, &d, ids, N, &w));
		/* every continuation's score: hypothesis score + log p, (N, V) */
		reel_tensor *cand_score = reel_add(t, logp, reel_tensor_from(t, 2, (int[]){N, 1}, score, REEL_NOGRAD));
		if (!cand_score)
			goto out;
		for (int bb = 0; bb < B; bb++) {
			for (int k = 0; k < K; k++) {
				int n = bb * K + k;
				next_score[n] = -INFINITY;
				slot_src[n] = n;
				h.tok[(size_t)s * N + n] = m->o.eos;
			}
			if (done[bb])
				continue;
			const reel_real *cs = cand_score->data + (size_t)bb * K * V; /* this source's K rows */
			int ncand = 2 * K < K * V ? 2 * K : K * V, alive = 0;
			reel_topk(cs, K * V, ncand, cand);
			for (int c = 0; c < ncand && alive < K; c++) {
				int k = cand[c] / V, v = cand[c] % V, from = bb * K + k;
				double sc = cs[cand[c]];
				if (!isfinite(sc))
					break;
				if (v == m->o.eos) {
					if (c >= K) /* only hypotheses inside the beam may end */
						continue;
					beam_end *e = &ends[bb * 2 * K + nend[bb]];
					e->raw = sc;
					e->score = sc / pow(s + 1, alpha);
					e->step = s;
					e->slot = from;
					e->last = v;
					e->last_attn = end_attn + ((size_t)bb * 2 * K + nend[bb]) * S;
					if (w)
						memcpy(e->last_attn, w->data + (size_t)from * S, (size_t)S * sizeof(reel_real));
					nend[bb]++;
					continue;
				}
				int j = bb * K + alive++;
				slot_src[j] = from;
				next_score[j] = sc;
				h.tok[(size_t)s * N + j] = v;
				if (w)
					memcpy(h.attn + ((size_t)s * N + j) * S, w->data + (size_t)from * S, (size_t)S * sizeof(reel_real));
			}
			if (nend[bb] >= K || alive == 0) {
				done[bb] = 1;
				remaining--;
			}
		}
		for (int n = 0; n < N; n++) {
			h.parent[(size_t)s * N + n] = slot_src[n];
			ids[n] = h.tok[(size_t)s * N + n];
			score[n] = next_score[n];
		}
		/* every live hypothesis takes its parent's decoder state */
		for (int l = 0; l < m->o.dec_layers; l++)
			for (int i = 0; i < m->o.cell->nstate; i++)
				d.s[l][i] = reel_gather(t, d.s[l][i], slot_src, N);
		d.feed = reel_gather(t, d.feed, slot_src, N);
		if (!keep_step(t, m, &d, &ks))
			goto out;
		if (s == max_len - 1) /* out of length: live hypotheses end here */
			for (int bb = 0; bb < B; bb++)
				for (int k = 0; k < K && !done[bb]; k++) {
					int n = bb * K + k;
					if (!isfinite(score[n]) || nend[bb] >= 2 * K)
						continue;
					beam_end *e = &ends[bb * 2 * K + nend[bb]++];
					e->raw = score[n];
					e->score = score[n] / pow(max_len, alpha);
					e->step = s;
					e->slot = n; /* the hypothesis is in slot n after step s */
					e->last = -1;
				}
	}
	for (int bb = 0; bb < B; bb++) {
		beam_end *be = &ends[bb * 2 * K];
		sort_ends(be, nend[bb]);
		for (int i = 0; i < n_best; i++) {
			int row = bb * n_best + i;
			int32_t *tokens = r->tokens + (size_t)row * r->max_len;
			reel_real *attn = r->attn ? r->attn + (size_t)row * r->max_len * S : NULL;
			if (i >= nend[bb]) {
				r->len[row] = 0;
				r->score[row] = -INFINITY;
				continue;
			}
			const beam_end *e = &be[i];
			if (e->last >= 0) /* ended with eos at step, extending slot e->slot of step - 1 */
				backtrack(&h, N, S, e->step, e->slot, e->last, e->last_attn, tokens, attn);
			else /* cut at max_len: the hypothesis is in slot e->slot after step */
				backtrack(&h, N, S, e->step, h.parent[(size_t)e->step * N + e->slot],
				          h.tok[(size_t)e->step * N + e->slot], h.attn + ((size_t)e->step * N + e->slot) * S, tokens,
				          attn);
			r->len[row] = e->step + 1;
			r->score[row] = e->score;
		}
	}
out:
	free(src);
	free(len);
	free(ids);
	free(slot_src);
	free(cand);
	free(score);
	free(next_score);
	free(done);
	free(nend);
	free(ends);
	free(end_attn);
	free(h.tok);
	free(h.parent);
	free(h.attn);
	eval_leave(t, em);
	return reel_tape_status(t);
}

reel_status reel_seq2seq_beam(reel_tape *t, const reel_seq2seq *m, const reel_s2s_batch *b, int beam, int max_len,
                              double alpha, reel_s2s_result *r)
{
	return beam_search(t, m, b, beam, max_len, alpha, 1, r);
}

reel_status reel_seq2seq_beam_nbest(reel_tape *t, const reel_seq2seq *m, const reel_s2s_batch *b, int beam,
                                    int max_len, double alpha, int n_best, reel_s2s_result *r)
{
	return beam_search(t, m, b, beam, max_len, alpha, n_best, r);
}
