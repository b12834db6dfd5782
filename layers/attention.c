/* Attention: dot, general, additive (equations in seq2seq.h). */
#include "seq2seq.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const attn_names[] = {"none", "dot", "general", "additive"};

int reel_attn_kind_from_name(const char *name)
{
	for (int i = 0; i <= REEL_ATTN_ADDITIVE; i++)
		if (!strcmp(name, attn_names[i]))
			return i;
	return -1;
}

const char *reel_attn_kind_name(reel_attn_kind k)
{
	return (unsigned)k <= REEL_ATTN_ADDITIVE ? attn_names[k] : "?";
}

static reel_tensor *attn_param(reel_params *ps, const char *prefix, const char *name, int rows, int cols,
                               int fan_in, reel_rng *rng, reel_err *err)
{
	reel_tensor *p = reel__layer_param(ps, err, 2, (int[]){rows, cols}, "%s%s", prefix ? prefix : "", name);
	if (!p)
		return NULL;
	double k = 1 / sqrt((double)fan_in);
	reel_param_uniform(p, rng, -k, k);
	return p;
}

reel_status reel_attention_init(reel_attention *a, reel_params *ps, const char *prefix, reel_attn_kind kind,
                                int query_size, int key_size, int attn_size, reel_rng *rng, reel_err *err)
{
	memset(a, 0, sizeof *a);
	a->kind = kind;
	a->query_size = query_size;
	a->key_size = key_size;
	a->attn_size = attn_size;
	switch (kind) {
	case REEL_ATTN_NONE: return REEL_OK;
	case REEL_ATTN_DOT:
		if (query_size != key_size)
			return reel_err_set(err, REEL_ERR_ARG, "attention %s: dot needs query size (%d) == key size (%d)",
			                    prefix ? prefix : "", query_size, key_size);
		return REEL_OK;
	case REEL_ATTN_GENERAL:
		a->W = attn_param(ps, prefix, "W", query_size, key_size, key_size, rng, err);
		return a->W ? REEL_OK : REEL_ERR_ARG;
	case REEL_ATTN_ADDITIVE:
		if (attn_size < 1)
			return reel_err_set(err, REEL_ERR_ARG, "attention %s: additive needs attn_size >= 1", prefix ? prefix : "");
		if (!(a->W_q = attn_param(ps, prefix, "W_q", attn_size, query_size, query_size, rng, err)) ||
		    !(a->W_k = attn_param(ps, prefix, "W_k", attn_size, key_size, key_size, rng, err)) ||
		    !(a->v = attn_param(ps, prefix, "v", 1, attn_size, attn_size, rng, err)))
			return REEL_ERR_ARG;
		return REEL_OK;
	}
	return reel_err_set(err, REEL_ERR_ARG, "attention: unknown kind %d", (int)kind);
}

reel_status reel_attention_memory(reel_tape *t, const reel_attention *a, reel_tensor *enc, const int *lengths,
                                  reel_attn_memory *m)
{
	memset(m, 0, sizeof *m);
	if (reel_tape_status(t) != REEL_OK)
		return reel_tape_status(t);
	if (!enc || enc->ndim != 3 || enc->shape[2] != a->key_size) {
		char s[64];
		reel_tape_fail(t, REEL_ERR_SHAPE, "reel_attention_memory: encoder outputs are %s, expected (S, B, %d)",
		               reel_shape_str(enc, s, sizeof s), a->key_size);
		return reel_tape_status(t);
	}
	m->S = enc->shape[0];
	m->B = enc->shape[1];
	m->keys = reel_swapaxes(t, enc, 0, 1); /* (B, S, K) */
	if (a->kind == REEL_ATTN_ADDITIVE) /* W_k h_j for every j, once: (S*B, K) x (A, K)^T */
		m->proj = reel_reshape3(t, reel_matmul(t, reel_reshape2(t, enc, -1, a->key_size), a->W_k, REEL_TRANS_B),
		                        m->S, m->B, a->attn_size);
	if (lengths)
		m->bias = reel_key_padding_bias(t, lengths, m->B, m->S);
	return reel_tape_status(t);
}

reel_tensor *reel_attention_step(reel_tape *t, const reel_attention *a, const reel_attn_memory *m,
                                 reel_tensor *query, reel_tensor **weights)
{
	if (reel_tape_status(t) != REEL_OK)
		return NULL;
	int B = m->B, S = m->S, K = a->key_size;
	if (!query || query->ndim != 2 || query->shape[0] != B || query->shape[1] != a->query_size) {
		char s[64];
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_attention_step: query is %s, expected %dx%d",
		                      reel_shape_str(query, s, sizeof s), B, a->query_size);
	}
	reel_tensor *score; /* (B, S) */
	switch (a->kind) {
	case REEL_ATTN_DOT:
	case REEL_ATTN_GENERAL: {
		/* general: s^T W h = (s W) . h;  dot: s . h  -- one bmm over the batch */
		reel_tensor *q = a->kind == REEL_ATTN_GENERAL ? reel_matmul(t, query, a->W, 0) : query; /* (B, K) */
		score = reel_reshape2(t, reel_bmm(t, m->keys, reel_reshape3(t, q, B, K, 1), 0), B, S);
		break;
	}
	case REEL_ATTN_ADDITIVE: {
		/* v^T tanh(W_q s + W_k h_j): W_q s (B, A) broadcasts over the S rows of proj (S, B, A) */
		reel_tensor *e = reel_tanh(t, reel_add(t, m->proj, reel_matmul(t, query, a->W_q, REEL_TRANS_B)));
		reel_tensor *sc = reel_matmul(t, reel_reshape2(t, e, S * B, a->attn_size), a->v, REEL_TRANS_B); /* (S*B, 1) */
		score = reel_swapaxes(t, reel_reshape2(t, sc, S, B), 0, 1);
		break;
	}
	default:
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_attention_step: attention kind %s has no scores",
		                      reel_attn_kind_name(a->kind));
	}
	if (m->bias)
		score = reel_add(t, score, m->bias);
	reel_tensor *w = reel_softmax(t, score); /* (B, S) */
	if (weights)
		*weights = w;
	/* c = sum_j a_j h_j: (B, 1, S) x (B, S, K) */
	return reel_reshape2(t, reel_bmm(t, reel_reshape3(t, w, B, 1, S), m->keys, 0), B, K);
}
