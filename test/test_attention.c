/* Attention: PyTorch golden values for each kind with a padding mask,
 * padding weights exactly zero, and gradient checks (double build). */
#include "gradcheck.h"
#include "harness.h"
#include "seq2seq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kinds[] = {"dot", "general", "additive"};
static const reel_attn_kind kind_ids[] = {REEL_ATTN_DOT, REEL_ATTN_GENERAL, REEL_ATTN_ADDITIVE};

static void golden(void)
{
	th_case("golden attention: fixture file");
	reel_st_file *f = NULL;
	reel_err e = {0};
	if (!CHECK(reel_st_read("test/fixtures/attn.safetensors", &f, &e) == REEL_OK, "%s", e.msg))
		return;
	static char names[3][64];
	for (int k = 0; k < 3; k++) {
		snprintf(names[k], sizeof names[k], "golden attention: %s with padding", kinds[k]);
		th_case(names[k]);
		if (!th_selected())
			continue;
		char pre[32], key[96];
		snprintf(pre, sizeof pre, "attn_%s.", kinds[k]);
#define FX(w) (snprintf(key, sizeof key, "%s%s", pre, w), reel_st_find(f, key))
		const reel_st_tensor *enc_s = FX("enc"), *q_s = FX("query");
		int S = (int)enc_s->shape[0], B = (int)enc_s->shape[1], K = (int)enc_s->shape[2], Q = (int)q_s->shape[1];
		int A = FX("v") ? (int)FX("v")->shape[1] : 1;
		reel_params *ps = reel_params_new();
		reel_attention a;
		reel_rng rng;
		reel_rng_seed(&rng, 1);
		CHECK(reel_attention_init(&a, ps, pre, kind_ids[k], Q, K, A, &rng, &e) == REEL_OK, "%s", e.msg);
		CHECK(reel_params_load(ps, f, "attn.safetensors", &e) == REEL_OK, "%s", e.msg);
		int32_t l32[8];
		int len[8];
		reel_st_to_i32(FX("lengths"), l32);
		for (int b = 0; b < B; b++)
			len[b] = l32[b];
		reel_tape *t = reel_tape_new(0, 1);
		reel_tensor *enc = fx_leaf(t, enc_s, REEL_GRAD), *q = fx_leaf(t, q_s, REEL_GRAD), *w = NULL;
		reel_attn_memory m;
		CHECK(reel_attention_memory(t, &a, enc, len, &m) == REEL_OK, "%s", reel_tape_error(t));
		reel_tensor *c = reel_attention_step(t, &a, &m, q, &w);
		if (CHECK(c && w, "step: %s", reel_tape_error(t))) {
			FX_COMPARE("context", c->data, c->size, FX("context"));
			FX_COMPARE("weights", w->data, w->size, FX("weights"));
			int zero = 1;
			for (int b = 0; b < B; b++)
				for (int s = len[b]; s < S; s++)
					zero &= w->data[b * S + s] == 0;
			CHECK(zero, "padding positions have exactly zero weight");
			reel_tensor *loss = reel_add(t, reel_sum(t, reel_mul(t, c, fx_leaf(t, FX("seed_c"), 0))),
			                             reel_sum(t, reel_mul(t, w, fx_leaf(t, FX("seed_a"), 0))));
			CHECK(reel_backward(t, loss) == REEL_OK, "backward");
			FX_COMPARE("grad enc", reel_tensor_grad(enc), enc->size, FX("grad.enc"));
			FX_COMPARE("grad query", reel_tensor_grad(q), q->size, FX("grad.query"));
			for (int i = 0; i < reel_params_count(ps); i++) {
				reel_tensor *p = reel_params_at(ps, i);
				char g[64];
				snprintf(g, sizeof g, "grad.%s", p->name + strlen(pre));
				FX_COMPARE(g, p->grad, p->size, FX(g));
			}
		}
#undef FX
		reel_tape_free(t);
		reel_params_free(ps);
	}
	reel_st_free(f);
}

#ifdef REEL_DOUBLE
static struct {
	reel_attention a;
	const int *lengths;
} actx;

/* in[0] enc (S, B, K), in[1] query (B, Q); output [context; weights] flat */
static reel_tensor *attn_fn(reel_tape *t, reel_tensor **in, void *c)
{
	(void)c;
	reel_attn_memory m;
	reel_tensor *w;
	if (reel_attention_memory(t, &actx.a, in[0], actx.lengths, &m) != REEL_OK)
		return NULL;
	reel_tensor *ctx = reel_attention_step(t, &actx.a, &m, in[1], &w);
	reel_tensor *parts[2] = {reel_reshape(t, ctx, 1, (int[]){-1}), reel_reshape(t, w, 1, (int[]){-1})};
	return reel_concat(t, parts, 2, 0);
}

static void gradchecks(void)
{
	static char names[6][80];
	static const int lengths[] = {4, 1, 3};
	for (int k = 0; k < 3; k++)
		for (int masked = 0; masked < 2; masked++) {
			snprintf(names[2 * k + masked], 80, "gradcheck attention: %s%s", kinds[k], masked ? " with padding" : "");
			th_case(names[2 * k + masked]);
			if (!th_selected())
				continue;
			int S = 4, B = 3, K = 3, Q = kind_ids[k] == REEL_ATTN_DOT ? 3 : 2, A = 5;
			reel_params *ps = reel_params_new();
			reel_rng rng;
			reel_rng_seed(&rng, 21 + k);
			reel_err e;
			CHECK(reel_attention_init(&actx.a, ps, "attn.", kind_ids[k], Q, K, A, &rng, &e) == REEL_OK, "%s", e.msg);
			actx.lengths = masked ? lengths : NULL;
			reel_real enc[4 * 3 * 3], q[3 * 3];
			gc_fill(&rng, enc, sizeof enc / sizeof enc[0], -1, 1, 0);
			gc_fill(&rng, q, sizeof q / sizeof q[0], -1, 1, 0);
			gc_input in[2] = {{3, {S, B, K}, enc, 1}, {2, {B, Q}, q, 1}};
			gradcheck(attn_fn, NULL, 2, in, ps, (gc_opts){0});
			reel_params_free(ps);
		}
}
#else
static void gradchecks(void) {}
#endif

void suite_attention(void)
{
	golden();
	gradchecks();
}
