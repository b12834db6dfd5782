/* Using a trained model (see infer.h). */
#include "infer.h"
#include "fault.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"

#define DECODE_BATCH 64

static reel_status nomem(reel_err *err, const char *what)
{
	return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", what);
}

/* An inference tape: no gradients, evaluation mode. */
static reel_tape *infer_tape(uint64_t seed)
{
	reel_tape *t = reel_tape_new(0, seed);
	if (t) {
		reel_tape_set_grad(t, 0);
		reel_tape_set_training(t, 0);
	}
	return t;
}

/* ---- printing ---------------------------------------------------------------------------- */

void reel_infer_print_tokens(const reel_model *m, const int32_t *ids, int n, int stride, int input_side, FILE *f)
{
	int words = m->data_opts.tokens_words;
	for (int i = 0; i < n; i++) {
		int id = ids[(size_t)i * stride];
		const char *s = input_side ? reel_data_input_token(m->data, id) : reel_data_output_token(m->data, id);
		fprintf(f, "%s%s", i && words ? " " : "", s ? s : "?");
	}
}

/* Output length without a final eos. */
static int out_len(const reel_model *m, const int32_t *out, int len)
{
	return len > 0 && out[len - 1] == m->s2s.o.eos ? len - 1 : len;
}

void reel_infer_print_attention(const reel_model *m, const int32_t *src, int slen, int stride, const int32_t *out,
                                int len, const reel_real *attn, int S, FILE *f)
{
	int olen = out_len(m, out, len);
	fprintf(f, "      ");
	for (int s = 0; s < slen; s++) {
		const char *tok = reel_data_input_token(m->data, src[(size_t)s * stride]);
		fputc(tok && tok[0] && tok[0] != ' ' ? tok[0] : '_', f);
	}
	fputc('\n', f);
	for (int i = 0; i < len; i++) {
		const char *tok = i < olen ? reel_data_output_token(m->data, out[i]) : "$";
		fprintf(f, "  %c   ", tok && tok[0] ? tok[0] : '?');
		for (int s = 0; s < slen; s++) {
			double w = attn[(size_t)i * S + s];
			fputc(w >= 0.95 ? '#' : w < 0.05 ? '.' : (char)('0' + (int)(w * 10 + 0.5)), f);
		}
		fputc('\n', f);
	}
}

reel_status reel_infer_attention_svg(const reel_model *m, const char *path, const int32_t *src, int slen, int stride,
                                     const int32_t *out, int len, const reel_real *attn, int S, reel_err *err)
{
	if (len < 1)
		return reel_err_set(err, REEL_ERR_ARG, "%s: the output is empty: no attention to draw", path);
	const char **rows = reel__malloc((size_t)len * sizeof *rows), **cols = reel__malloc((size_t)slen * sizeof *cols);
	reel_real *w = reel__malloc((size_t)len * slen * sizeof *w);
	reel_status st;
	if (!rows || !cols || !w) {
		st = nomem(err, path);
		goto out;
	}
	int olen = out_len(m, out, len);
	for (int i = 0; i < len; i++) {
		rows[i] = i < olen ? reel_data_output_token(m->data, out[i]) : "<eos>";
		for (int s = 0; s < slen; s++)
			w[(size_t)i * slen + s] = attn[(size_t)i * S + s];
	}
	for (int s = 0; s < slen; s++)
		cols[s] = reel_data_input_token(m->data, src[(size_t)s * stride]);
	st = reel_svg_heatmap(path, "attention weights", rows, len, cols, slen,
	                      w, "output", "source", err);
out:
	free(rows);
	free(cols);
	free(w);
	return st;
}

/* ---- decoding ---------------------------------------------------------------------------- */

reel_decode_opts reel_decode_defaults(const reel_model *m)
{
	reel_decode_opts o = {.beam = m->decode.beam > 0 ? m->decode.beam : 1,
	                      .n_best = 1,
	                      .max_len = m->decode.max_len,
	                      .alpha = m->decode.alpha};
	return o;
}

static reel_status need_task(const reel_model *m, int ok, const char *verb, const char *tasks, reel_err *err)
{
	if (ok)
		return REEL_OK;
	return reel_err_set(err, REEL_ERR_ARG, "%s serves %s models; %s is a %s model", verb, tasks, reel_cfg_name(m->cfg),
	                    reel_task_name(m->task));
}

/* Decode one batch into r (B * n_best rows). */
static reel_status decode_batch(reel_tape *t, reel_model *m, const reel_s2s_batch *sb, const reel_decode_opts *o,
                                reel_s2s_result *r, reel_err *err)
{
	reel_status st = o->beam > 1
	                     ? reel_seq2seq_beam_nbest(t, &m->s2s, sb, o->beam, o->max_len, o->alpha, o->n_best, r)
	                     : reel_seq2seq_greedy(t, &m->s2s, sb, o->max_len, r);
	if (st != REEL_OK)
		return reel_err_set(err, st, "decoding: %s", reel_tape_error(t));
	return REEL_OK;
}

reel_status reel_infer_show_examples(reel_model *m, int n, FILE *f, const char *svg_path, reel_err *err)
{
	reel_status st = need_task(m, m->is_s2s, "showing decoded examples", "seq2seq", err);
	if (st != REEL_OK || n <= 0)
		return st;
	reel_data_rewind(m->data, REEL_VALID);
	reel_batch b;
	int got = reel_data_next(m->data, REEL_VALID, n, &b, err);
	if (got <= 0)
		return got < 0 ? err->code : REEL_OK;
	reel_decode_opts o = reel_decode_defaults(m);
	int B = b.B, maxlen = o.max_len;
	reel_tape *t = infer_tape(1);
	reel_s2s_result res;
	if (!t || reel_s2s_result_init(&res, B, maxlen, b.S) != REEL_OK) {
		reel_tape_free(t);
		return nomem(err, "decoding");
	}
	reel_s2s_batch sb = {.src = b.src, .src_len = b.src_len, .S = b.S, .B = B};
	st = decode_batch(t, m, &sb, &o, &res, err);
	int eos = m->s2s.o.eos;
	for (int k = 0; st == REEL_OK && k < B; k++) {
		const int32_t *out = res.tokens + (size_t)k * maxlen;
		int len = res.len[k], olen = out_len(m, out, len);
		int tl = 0;
		while (tl < b.TT && b.tgt[tl * B + k] != eos && b.tgt[tl * B + k] != m->s2s.o.pad)
			tl++;
		int ok = olen == tl;
		for (int i = 0; ok && i < tl; i++)
			ok = out[i] == b.tgt[i * B + k];
		fprintf(f, "\n\"");
		reel_infer_print_tokens(m, b.src + k, b.src_len[k], B, 1, f);
		fprintf(f, "\" -> \"");
		reel_infer_print_tokens(m, out, olen, 1, 0, f);
		fprintf(f, "\"  %s", ok ? "(correct)" : "(expected \"");
		if (!ok) {
			reel_infer_print_tokens(m, b.tgt + k, tl, B, 0, f);
			fprintf(f, "\")");
		}
		fprintf(f, "\n");
		if (!res.attn || m->s2s.o.attention == REEL_ATTN_NONE)
			continue;
		if (!m->data_opts.tokens_words)
			reel_infer_print_attention(m, b.src + k, b.src_len[k], B, out, len, res.attn + (size_t)k * maxlen * b.S,
			                           b.S, f);
		if (k == 0 && svg_path)
			st = reel_infer_attention_svg(m, svg_path, b.src + k, b.src_len[k], B, out, len,
			                              res.attn + (size_t)k * maxlen * b.S, b.S, err);
	}
	reel_s2s_result_deinit(&res);
	reel_tape_free(t);
	reel_data_rewind(m->data, REEL_VALID);
	return st;
}

/* Lines [lo, hi) as a time-major padded batch of input ids: *src (S, B),
 * *len (B); the caller frees both.  Every line must encode to >= 1 id. */
static reel_status encode_lines(const reel_model *m, char *const *lines, int lo, int hi, int32_t **src, int **len,
                                int *S, reel_err *err)
{
	int B = hi - lo;
	int32_t **ids = reel__calloc((size_t)B, sizeof *ids);
	*len = reel__calloc((size_t)B, sizeof **len);
	*src = NULL;
	reel_status st = REEL_OK;
	if (!ids || !*len) {
		st = nomem(err, "encoding the input");
		goto out;
	}
	*S = 1;
	for (int k = 0; k < B; k++) {
		const char *s = lines[lo + k];
		int n = reel_data_encode(m->data, s, strlen(s), &ids[k], NULL, err);
		if (n < 0) {
			char msg[sizeof err->msg];
			snprintf(msg, sizeof msg, "%s", err->msg);
			st = reel_err_set(err, err->code, "source %d: %s", lo + k + 1, msg);
			goto out;
		}
		if (n == 0) {
			st = reel_err_set(err, REEL_ERR_ARG, "source %d: no tokens", lo + k + 1);
			goto out;
		}
		(*len)[k] = n;
		*S = n > *S ? n : *S;
	}
	*src = reel__calloc((size_t)*S * B, sizeof **src); /* padding: id 0 */
	if (!*src) {
		st = nomem(err, "encoding the input");
		goto out;
	}
	for (int k = 0; k < B; k++)
		for (int s = 0; s < (*len)[k]; s++)
			(*src)[(size_t)s * B + k] = ids[k][s];
out:
	for (int k = 0; ids && k < B; k++)
		free(ids[k]);
	free(ids);
	if (st != REEL_OK) {
		free(*src);
		free(*len);
		*src = NULL;
		*len = NULL;
	}
	return st;
}

reel_status reel_infer_decode_lines(reel_model *m, char *const *lines, int n, const reel_decode_opts *o, FILE *f,
                                    reel_err *err)
{
	reel_status st = need_task(m, m->is_s2s, "decode", "seq2seq", err);
	if (st != REEL_OK)
		return st;
	if (n < 1)
		return reel_err_set(err, REEL_ERR_ARG, "decode: the input has no lines");
	if (o->beam < 1 || o->n_best < 1 || o->n_best > o->beam || o->max_len < 1)
		return reel_err_set(err, REEL_ERR_ARG, "decode: need beam >= 1, 1 <= n_best <= beam, max_len >= 1 (got %d, %d, %d)",
		                    o->beam, o->n_best, o->max_len);
	if ((o->attention || o->attention_svg) && m->s2s.o.attention == REEL_ATTN_NONE)
		return reel_err_set(err, REEL_ERR_ARG, "decode: %s has no attention to show", reel_cfg_name(m->cfg));
	reel_tape *t = infer_tape(1);
	if (!t)
		return nomem(err, "decode");
	int nb = o->n_best;
	for (int lo = 0; lo < n && st == REEL_OK; lo += DECODE_BATCH) {
		int hi = lo + DECODE_BATCH < n ? lo + DECODE_BATCH : n, B = hi - lo, S;
		int32_t *src;
		int *len;
		if ((st = encode_lines(m, lines, lo, hi, &src, &len, &S, err)) != REEL_OK)
			break;
		reel_s2s_result r;
		if (reel_s2s_result_init(&r, B * nb, o->max_len, S) != REEL_OK) {
			free(src);
			free(len);
			st = nomem(err, "decode");
			break;
		}
		reel_s2s_batch sb = {.src = src, .src_len = len, .S = S, .B = B};
		st = decode_batch(t, m, &sb, o, &r, err);
		for (int k = 0; st == REEL_OK && k < B; k++)
			for (int i = 0; i < nb; i++) {
				int row = k * nb + i;
				const int32_t *out = r.tokens + (size_t)row * o->max_len;
				int ol = out_len(m, out, r.len[row]);
				const reel_real *attn = r.attn + (size_t)row * o->max_len * S;
				if (o->attention) {
					fprintf(f, "%s\"", lo + k || i ? "\n" : "");
					reel_infer_print_tokens(m, src + k, len[k], B, 1, f);
					fprintf(f, "\" -> \"");
					reel_infer_print_tokens(m, out, ol, 1, 0, f);
					fprintf(f, "\"");
					if (nb > 1)
						fprintf(f, "  (rank %d)", i + 1);
					if (o->scores)
						fprintf(f, "  score %.4f", r.score[row]);
					fprintf(f, "\n");
					reel_infer_print_attention(m, src + k, len[k], B, out, r.len[row], attn, S, f);
				} else {
					if (nb > 1)
						fprintf(f, "%d\t%d\t", lo + k + 1, i + 1);
					reel_infer_print_tokens(m, out, ol, 1, 0, f);
					if (o->scores)
						fprintf(f, "\t%.4f", r.score[row]);
					fprintf(f, "\n");
				}
				if (lo + k == 0 && i == 0 && o->attention_svg)
					st = reel_infer_attention_svg(m, o->attention_svg, src + k, len[k], B, out, r.len[row], attn, S,
					                              err);
			}
		reel_s2s_result_deinit(&r);
		free(src);
		free(len);
	}
	reel_tape_free(t);
	return st;
}

/* ---- the layers' forward ------------------------------------------------------------------- */

static reel_tensor *forward(reel_tape *t, reel_model *m, const reel_batch *b, int carry, int reset)
{
	reel_fwd_ctx c = {.lengths = b->lengths, .T = b->T, .B = b->B, .carry = carry, .reset = reset};
	reel_tensor *x = b->tokens ? NULL : reel_tensor_wrap(t, 3, (int[]){b->T, b->B, b->F}, b->inputs);
	for (int i = 0; i < m->nlayers && reel_tape_status(t) == REEL_OK; i++)
		x = m->layers[i].type->forward(t, &m->layers[i], x, b->tokens, &c);
	if (!x && reel_tape_status(t) == REEL_OK)
		return reel_tape_fail(t, REEL_ERR_ARG, "model: a layer returned no output");
	return x;
}

/* softmax of row[0..K) into p */
static void softmax_row(const reel_real *row, int K, double temperature, double *p)
{
	double mx = -INFINITY, sum = 0;
	for (int k = 0; k < K; k++)
		mx = fmax(mx, (double)row[k] / temperature);
	for (int k = 0; k < K; k++)
		sum += p[k] = exp((double)row[k] / temperature - mx);
	for (int k = 0; k < K; k++)
		p[k] /= sum;
}

static int argmax_row(const reel_real *row, int K)
{
	int best = 0;
	for (int k = 1; k < K; k++)
		if (row[k] > row[best])
			best = k;
	return best;
}

/* ---- sampling ------------------------------------------------------------------------------ */

static void print_sampled(const reel_model *m, int id, FILE *f, int *first)
{
	const char *s = reel_data_input_token(m->data, id);
	if (!s)
		s = "?";
	if (!m->data_opts.tokens_words) {
		fputs(s, f);
		return;
	}
	if (!strcmp(s, "<eos>")) {
		fputc('\n', f);
		*first = 1;
		return;
	}
	fprintf(f, "%s%s", *first ? "" : " ", s);
	*first = 0;
}

reel_status reel_infer_sample(reel_model *m, const reel_sample_opts *o, FILE *f, reel_err *err)
{
	reel_status st = need_task(m, m->task == REEL_TASK_LM, "sample", "language (lm)", err);
	if (st != REEL_OK)
		return st;
	if (o->length < 0 || o->top_k < 0 || !(o->temperature >= 0))
		return reel_err_set(err, REEL_ERR_ARG, "sample: need length >= 0, top_k >= 0, temperature >= 0");
	int V = m->info.classes > 0 ? m->info.classes : m->info.vocab;
	int32_t *ids = NULL;
	int n = 0;
	const char *prime = o->prime ? o->prime : "";
	if (prime[0]) {
		n = reel_data_encode(m->data, prime, strlen(prime), &ids, NULL, err);
		if (n < 0)
			return reel_err_set(err, err->code, "--prime: %.400s", err->msg);
	}
	if (n == 0) { /* start at a line start: a newline, or the end-of-line word */
		free(ids);
		ids = reel__malloc(sizeof *ids);
		if (!ids)
			return nomem(err, "sample");
		const char *start = m->data_opts.tokens_words ? "<eos>" : "\n";
		int32_t *tmp;
		int k = reel_data_encode(m->data, start, strlen(start), &tmp, NULL, NULL);
		ids[0] = k == 1 ? tmp[0] : 1; /* else <unk>, id 1 */
		if (k >= 0)
			free(tmp);
		n = 1;
	}
	double *p = reel__malloc((size_t)V * sizeof *p);
	int32_t *order = reel__malloc((size_t)V * sizeof *order);
	reel_tape *t = infer_tape(o->seed);
	if (!p || !order || !t) {
		st = nomem(err, "sample");
		goto out;
	}
	reel_rng rng;
	reel_rng_seed(&rng, o->seed);
	int first = 1;
	if (prime[0])
		for (int i = 0; i < n; i++)
			print_sampled(m, ids[i], f, &first);
	/* the prime in one forward, then one token per step; the state is carried
	 * by the recurrent layers outside the tape, which is reset every step */
	int32_t tok = 0;
	int T = n, len1;
	const int32_t *in = ids;
	for (int step = 0; step <= o->length; step++) {
		reel_tape_reset(t);
		len1 = T;
		reel_batch b = {.B = 1, .T = T, .tokens = (int32_t *)in, .lengths = &len1};
		reel_tensor *y = forward(t, m, &b, 1, step == 0);
		if (!y) {
			st = reel_err_set(err, reel_tape_status(t), "sample: %s", reel_tape_error(t));
			goto out;
		}
		if (step == o->length)
			break;
		const reel_real *row = y->data + (size_t)(T - 1) * V; /* the last step's logits, (V) */
		if (o->temperature == 0) {
			tok = argmax_row(row, V);
		} else {
			softmax_row(row, V, o->temperature, p);
			int K = o->top_k > 0 && o->top_k < V ? o->top_k : V;
			/* the K most likely, then a draw among them renormalised */
			double mass = 0;
			if (K < V) {
				reel_topk(row, V, K, order);
				for (int k = 0; k < K; k++)
					mass += p[order[k]];
			} else {
				for (int k = 0; k < V; k++)
					order[k] = k;
				mass = 1;
			}
			double u = reel_rng_uniform(&rng) * mass, acc = 0;
			tok = order[K - 1];
			for (int k = 0; k < K; k++) {
				acc += p[order[k]];
				if (u < acc) {
					tok = order[k];
					break;
				}
			}
		}
		print_sampled(m, tok, f, &first);
		in = &tok;
		T = 1;
	}
	if (!m->data_opts.tokens_words || !first)
		fputc('\n', f);
out:
	free(ids);
	free(p);
	free(order);
	reel_tape_free(t);
	return st;
}

/* ---- predict --------------------------------------------------------------------------------- */

static void print_label(const reel_model *m, int id, FILE *f)
{
	const char *s = reel_data_output_token(m->data, id);
	fputs(s ? s : "?", f);
}

static void print_probs(const reel_model *m, const reel_real *row, int K, double *p, FILE *f)
{
	softmax_row(row, K, 1, p);
	for (int k = 0; k < K; k++) {
		fprintf(f, "%s", k ? " " : "\t");
		print_label(m, k, f);
		fprintf(f, "=%.4f", p[k]);
	}
}

reel_status reel_infer_predict_lines(reel_model *m, char *const *lines, int n, int probs, FILE *f, reel_err *err)
{
	int cls = m->task == REEL_TASK_CLASSIFY, tag = m->task == REEL_TASK_TAG;
	reel_status st = need_task(m, (cls || tag) && m->info.tokens_in, "predict on text", "classify and tag (token input)",
	                           err);
	if (st != REEL_OK)
		return st;
	if (n < 1)
		return reel_err_set(err, REEL_ERR_ARG, "predict: the input has no lines");
	int K = m->info.classes;
	/* "label<TAB>sequence": the sequence */
	char **seqs = reel__malloc((size_t)n * sizeof *seqs);
	double *p = reel__malloc((size_t)(K > 0 ? K : 1) * sizeof *p);
	reel_tape *t = infer_tape(1);
	if (!seqs || !p || !t) {
		st = nomem(err, "predict");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		char *tab = strchr(lines[i], '\t');
		seqs[i] = tab ? tab + 1 : lines[i];
	}
	for (int lo = 0; lo < n && st == REEL_OK; lo += DECODE_BATCH) {
		int hi = lo + DECODE_BATCH < n ? lo + DECODE_BATCH : n, B = hi - lo, S;
		int32_t *src;
		int *len;
		if ((st = encode_lines(m, seqs, lo, hi, &src, &len, &S, err)) != REEL_OK)
			break;
		reel_tape_reset(t);
		reel_batch b = {.B = B, .T = S, .tokens = src, .lengths = len};
		reel_tensor *y = forward(t, m, &b, 0, 0);
		if (!y) {
			st = reel_err_set(err, reel_tape_status(t), "predict: %s", reel_tape_error(t));
		} else {
			for (int k = 0; k < B; k++) {
				if (cls) { /* y (B, K) */
					const reel_real *row = y->data + (size_t)k * K;
					print_label(m, argmax_row(row, K), f);
					if (probs)
						print_probs(m, row, K, p, f);
				} else { /* y (T, B, K) */
					for (int s = 0; s < len[k]; s++) {
						const reel_real *row = y->data + ((size_t)s * B + k) * K;
						int c = argmax_row(row, K);
						fputs(s ? " " : "", f);
						print_label(m, c, f);
						if (probs) {
							softmax_row(row, K, 1, p);
							fprintf(f, ":%.3f", p[c]);
						}
					}
				}
				fputc('\n', f);
			}
		}
		free(src);
		free(len);
	}
out:
	free(seqs);
	free(p);
	reel_tape_free(t);
	return st;
}

typedef struct dvec {
	double *v;
	size_t n, cap;
} dvec;

static int dvec_push(dvec *d, double x)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 256;
		double *v = reel__realloc(d->v, cap * sizeof *v);
		if (!v)
			return -1;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n++] = x;
	return 0;
}

/* Iterate a split's batches with the layers' forward (no gradient, no
 * dropout); fn sees each batch with its output. */
typedef reel_status (*batch_fn)(reel_model *m, const reel_batch *b, const reel_tensor *y, void *ctx, reel_err *err);

static reel_status over_split(reel_model *m, reel_data_split split, batch_fn fn, void *ctx, reel_err *err)
{
	reel_tape *t = infer_tape(m->train.seed ^ 0xe7a1u);
	if (!t)
		return nomem(err, "predict");
	reel_data_rewind(m->data, split);
	reel_status st = REEL_OK;
	long seen = 0;
	for (;;) {
		reel_batch b;
		int r = reel_data_next(m->data, split, m->train.batch_size, &b, err);
		if (r < 0) {
			st = err->code ? err->code : REEL_ERR_IO;
			break;
		}
		if (r == 0)
			break;
		reel_tape_reset(t);
		reel_tensor *y = forward(t, m, &b, 0, 0);
		if (!y) {
			st = reel_err_set(err, reel_tape_status(t), "%s", reel_tape_error(t));
			break;
		}
		seen += b.B;
		if ((st = fn(m, &b, y, ctx, err)) != REEL_OK)
			break;
	}
	reel_tape_free(t);
	reel_data_rewind(m->data, split);
	if (st == REEL_OK && seen == 0)
		st = reel_err_set(err, REEL_ERR_IO, "the %s split is empty",
		                  split == REEL_TEST ? "test" : split == REEL_VALID ? "validation" : "training");
	return st;
}

typedef struct pred_ctx {
	FILE *f;
	int probs;
	double *p;
	dvec pred, actual;
	int want_series;
	reel_rng rng; /* mdn outputs: the draws */
} pred_ctx;

static reel_status predict_batch(reel_model *m, const reel_batch *b, const reel_tensor *y, void *vctx, reel_err *err)
{
	pred_ctx *c = vctx;
	FILE *f = c->f;
	int B = b->B, K = m->info.classes;
	for (int k = 0; k < B; k++) {
		if (m->task == REEL_TASK_CLASSIFY) {
			const reel_real *row = y->data + (size_t)k * K;
			print_label(m, argmax_row(row, K), f);
			fputc('\t', f);
			print_label(m, b->labels[k], f);
			if (c->probs)
				print_probs(m, row, K, c->p, f);
		} else if (m->task == REEL_TASK_TAG) {
			for (int s = 0; s < b->lengths[k]; s++) {
				fputs(s ? " " : "", f);
				print_label(m, argmax_row(y->data + ((size_t)s * B + k) * K, K), f);
			}
			fputc('\t', f);
			for (int s = 0; s < b->lengths[k]; s++) {
				int32_t l = b->labels[(size_t)s * B + k];
				fputs(s ? " " : "", f);
				if (l == REEL_DATA_IGNORE)
					fputs("-", f);
				else
					print_label(m, l, f);
			}
		} else { /* regress: (B, O), or per step (T, B, O): the last step */
			int O = b->O, MK = reel_model_mdn_components(m);
			size_t row = m->data_opts.per_step ? (size_t)(b->lengths[k] - 1) * B + k : (size_t)k, at = row * O;
			/* an mdn output: the mixture's mean as the prediction, then one draw from it */
			reel_real mean[64], draw[64];
			const reel_real *pred = y->data + at;
			if (MK) {
				const reel_real *pr = y->data + row * (size_t)MK * (1 + 2 * O);
				reel_mdn_mean(pr, MK, O < 64 ? O : 64, mean);
				reel_mdn_sample(pr, MK, O < 64 ? O : 64, &c->rng, 1, draw);
				pred = mean;
			}
			for (int o = 0; o < O; o++)
				fprintf(f, "%s%.6g", o ? " " : "", (double)pred[o]);
			fputc('\t', f);
			for (int o = 0; o < O; o++)
				fprintf(f, "%s%.6g", o ? " " : "", (double)b->targets[at + o]);
			if (MK) {
				fputc('\t', f);
				for (int o = 0; o < O && o < 64; o++)
					fprintf(f, "%s%.6g", o ? " " : "", (double)draw[o]);
			}
			if (c->want_series &&
			    (dvec_push(&c->pred, (double)pred[0]) || dvec_push(&c->actual, (double)b->targets[at])))
				return nomem(err, "predict");
		}
		fputc('\n', f);
	}
	return REEL_OK;
}

reel_status reel_infer_predict_split(reel_model *m, reel_data_split split, int probs, FILE *f, const char *svg_path,
                                     reel_err *err)
{
	reel_status st = need_task(m,
	                           m->task == REEL_TASK_CLASSIFY || m->task == REEL_TASK_TAG || m->task == REEL_TASK_REGRESS,
	                           "predict", "classify, tag and regress", err);
	if (st != REEL_OK)
		return st;
	if (svg_path && m->task != REEL_TASK_REGRESS)
		return reel_err_set(err, REEL_ERR_ARG, "predict: --svg draws regression (predicted against actual)");
	pred_ctx c = {.f = f, .probs = probs, .want_series = svg_path != NULL};
	reel_rng_seed(&c.rng, m->train.seed ^ 0x3d7a5e11u);
	c.p = reel__malloc((size_t)(m->info.classes > 0 ? m->info.classes : 1) * sizeof *c.p);
	if (!c.p)
		return nomem(err, "predict");
	st = over_split(m, split, predict_batch, &c, err);
	if (st == REEL_OK && svg_path) {
		dvec x = {0};
		for (size_t i = 0; i < c.pred.n; i++)
			if (dvec_push(&x, (double)i)) {
				st = nomem(err, "predict");
				break;
			}
		if (st == REEL_OK) {
			const char *sn = split == REEL_TEST ? "test" : split == REEL_VALID ? "valid" : "train";
			char title[256], xl[64];
			snprintf(title, sizeof title, "%s: predicted and actual over the %s split", reel_cfg_name(m->cfg), sn);
			snprintf(xl, sizeof xl, "example (%s split order)", sn);
			reel_svg_series s[2] = {{"actual", x.v, c.actual.v, (int)c.actual.n, 0, 0, 0},
			                        {"predicted", x.v, c.pred.v, (int)c.pred.n, 1, 1, 0}};
			reel_svg_panel pn = {"target value", xl, m->data_opts.normalize && !strcmp(m->data_opts.source, "csv")
			                                             ? "value (z-score)"
			                                             : "value",
			                     0, 0, s, 2};
			st = reel_svg_panels(svg_path, title, &pn, 1, err);
		}
		free(x.v);
	}
	free(c.p);
	free(c.pred.v);
	free(c.actual.v);
	return st;
}

/* ---- ctc decoding ------------------------------------------------------------------------------ */

/* labels[0], labels[stride], ... (n) space-separated: their strings, or
 * their ids when the data have no output vocabulary */
static void print_ctc_labels(const reel_model *m, const int32_t *ids, int n, int stride, FILE *f)
{
	for (int i = 0; i < n; i++) {
		int id = ids[(size_t)i * stride];
		const char *s = reel_data_output_token(m->data, id);
		if (i)
			fputc(' ', f);
		if (s)
			fputs(s, f);
		else
			fprintf(f, "%d", id);
	}
}

typedef struct ctc_ctx {
	FILE *f;
	const reel_decode_opts *o;
	long example;      /* examples printed so far */
	int32_t *dec;      /* (B, T) greedy, or (n_best, T) beam */
	int *dl;           /* (B) or (n_best) */
	double *lp, *score; /* (T, C) one sequence's log-probabilities; (n_best) */
	size_t cap_dec, cap_lp;
} ctc_ctx;

/* log_softmax of sequence k's frames of y (T, B, C) within len, into lp (len, C) */
static void ctc_log_probs(const reel_tensor *y, int k, int len, double *lp)
{
	int B = y->shape[1], C = y->shape[2];
	for (int t = 0; t < len; t++) {
		const reel_real *row = y->data + ((size_t)t * B + k) * C;
		double mx = -INFINITY, sum = 0;
		for (int c = 0; c < C; c++)
			mx = fmax(mx, (double)row[c]);
		for (int c = 0; c < C; c++)
			sum += exp((double)row[c] - mx);
		for (int c = 0; c < C; c++)
			lp[(size_t)t * C + c] = (double)row[c] - mx - log(sum);
	}
}

static reel_status ctc_batch(reel_model *m, const reel_batch *b, const reel_tensor *y, void *vctx, reel_err *err)
{
	ctc_ctx *c = vctx;
	const reel_decode_opts *o = c->o;
	int T = b->T, B = b->B, C = y->shape[2], W = o->beam, nb = o->n_best;
	size_t need_dec = (size_t)(B > nb ? B : nb) * (T > 0 ? T : 1), need_lp = (size_t)T * C + 1;
	if (need_dec > c->cap_dec) {
		free(c->dec);
		free(c->dl);
		c->dec = reel__malloc(need_dec * sizeof *c->dec);
		c->dl = reel__malloc((size_t)(B > nb ? B : nb) * sizeof *c->dl);
		c->cap_dec = c->dec && c->dl ? need_dec : 0;
		if (!c->cap_dec)
			return nomem(err, "ctc decoding");
	}
	if ((o->scores || W > 1) && need_lp > c->cap_lp) {
		free(c->lp);
		c->lp = reel__malloc(need_lp * sizeof *c->lp);
		c->cap_lp = c->lp ? need_lp : 0;
		if (!c->lp)
			return nomem(err, "ctc decoding");
	}
	if (W == 1) /* the greedy decodings eval's label error rate counts (models/ctc_task.c) */
		reel_ctc_greedy(y, b->lengths, 0, c->dec, c->dl);
	for (int k = 0; k < B; k++) {
		int len = b->lengths[k], got = 1;
		if (o->scores || W > 1)
			ctc_log_probs(y, k, len, c->lp);
		if (W > 1) {
			got = reel_ctc_beam(c->lp, len, C, 0, W, nb, c->dec, c->dl, c->score);
			if (got < 0)
				return nomem(err, "ctc beam search");
		} else if (o->scores) { /* the best path's log-probability */
			double s = 0;
			for (int t = 0; t < len; t++) {
				double best = -INFINITY;
				for (int j = 0; j < C; j++)
					best = fmax(best, c->lp[(size_t)t * C + j]);
				s += best;
			}
			c->score[0] = s;
		}
		int tl = 0;
		while (tl < T && b->labels[(size_t)tl * B + k] != REEL_DATA_IGNORE)
			tl++;
		c->example++;
		for (int i = 0; i < got; i++) {
			/* greedy: row k of (B, T); beam: row i of (n_best, len) */
			const int32_t *out = W > 1 ? c->dec + (size_t)i * (len > 0 ? len : 1) : c->dec + (size_t)k * T;
			int ol = W > 1 ? c->dl[i] : c->dl[k];
			if (nb > 1)
				fprintf(c->f, "%ld\t%d\t", c->example, i + 1);
			print_ctc_labels(m, out, ol, 1, c->f);
			fputc('\t', c->f);
			print_ctc_labels(m, b->labels + k, tl, B, c->f);
			if (o->scores)
				fprintf(c->f, "\t%.4f", c->score[i]);
			fputc('\n', c->f);
		}
	}
	return REEL_OK;
}

reel_status reel_infer_ctc_split(reel_model *m, reel_data_split split, const reel_decode_opts *o, FILE *f,
                                 reel_err *err)
{
	reel_status st = need_task(m, m->task == REEL_TASK_CTC, "ctc decoding", "ctc", err);
	if (st != REEL_OK)
		return st;
	if (o->beam < 1 || o->n_best < 1 || o->n_best > o->beam)
		return reel_err_set(err, REEL_ERR_ARG, "ctc decoding: need beam >= 1 and 1 <= n_best <= beam (got %d, %d)",
		                    o->beam, o->n_best);
	ctc_ctx c = {.f = f, .o = o};
	c.score = reel__malloc((size_t)o->n_best * sizeof *c.score);
	if (!c.score)
		return nomem(err, "ctc decoding");
	st = over_split(m, split, ctc_batch, &c, err);
	free(c.dec);
	free(c.dl);
	free(c.lp);
	free(c.score);
	return st;
}

/* ---- evaluation ------------------------------------------------------------------------------- */

typedef struct eval_ctx {
	reel_eval_report *r;
	double sse, sy, syy, n;
} eval_ctx;

static reel_status eval_batch(reel_model *m, const reel_batch *b, const reel_tensor *y, void *vctx, reel_err *err)
{
	(void)err;
	eval_ctx *c = vctx;
	reel_eval_report *r = c->r;
	int B = b->B, K = r->K;
	if (m->task == REEL_TASK_CLASSIFY) {
		for (int k = 0; k < B; k++)
			if (b->labels[k] >= 0 && b->labels[k] < K)
				r->confusion[(size_t)b->labels[k] * K + argmax_row(y->data + (size_t)k * K, K)] += 1;
	} else if (m->task == REEL_TASK_TAG) {
		for (int s = 0; s < b->T; s++)
			for (int k = 0; k < B; k++) {
				int32_t l = b->labels[(size_t)s * B + k];
				if (l >= 0 && l < K)
					r->confusion[(size_t)l * K + argmax_row(y->data + ((size_t)s * B + k) * K, K)] += 1;
			}
	} else { /* regress */
		int O = b->O, per = m->data_opts.per_step;
		for (int s = 0; s < (per ? b->T : 1); s++)
			for (int k = 0; k < B; k++) {
				if (per && s >= b->lengths[k])
					continue;
				for (int o = 0; o < O; o++) {
					size_t at = ((size_t)s * B + k) * O + o;
					double yt = b->targets[at], d = (double)y->data[at] - yt;
					c->sse += d * d;
					c->sy += yt;
					c->syy += yt * yt;
					c->n += 1;
				}
			}
	}
	r->examples += B;
	return REEL_OK;
}

int reel__edit_distance(const int32_t *a, int n, const int32_t *b, int bstride, int m, int *row)
{
	for (int j = 0; j <= m; j++)
		row[j] = j;
	for (int i = 1; i <= n; i++) {
		int diag = row[0];
		row[0] = i;
		for (int j = 1; j <= m; j++) {
			int up = row[j];
			int best = diag + (a[i - 1] != b[(size_t)(j - 1) * bstride]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[m];
}

static reel_status eval_s2s_cer(reel_model *m, reel_data_split split, reel_eval_report *r, reel_err *err)
{
	reel_tape *t = infer_tape(1);
	if (!t)
		return nomem(err, "evaluate");
	reel_data_rewind(m->data, split);
	reel_decode_opts o = reel_decode_defaults(m);
	reel_status st = REEL_OK;
	double dist = 0, toks = 0;
	int *row = NULL;
	int eos = m->s2s.o.eos, pad = m->s2s.o.pad;
	for (;;) {
		reel_batch b;
		int got = reel_data_next(m->data, split, m->train.batch_size, &b, err);
		if (got < 0) {
			st = err->code ? err->code : REEL_ERR_IO;
			break;
		}
		if (got == 0)
			break;
		int maxlen = b.TT + 8, B = b.B; /* as training's evaluation decodes */
		o.max_len = maxlen;
		reel_s2s_result res;
		free(row);
		row = reel__malloc((size_t)(b.TT + 1) * sizeof *row);
		if (!row || reel_s2s_result_init(&res, B, maxlen, b.S) != REEL_OK) {
			st = nomem(err, "evaluate");
			break;
		}
		reel_s2s_batch sb = {.src = b.src, .src_len = b.src_len, .S = b.S, .B = B};
		st = decode_batch(t, m, &sb, &o, &res, err);
		for (int k = 0; st == REEL_OK && k < B; k++) {
			int tl = 0;
			while (tl < b.TT && b.tgt[tl * B + k] != eos && b.tgt[tl * B + k] != pad)
				tl++;
			const int32_t *out = res.tokens + (size_t)k * maxlen;
			dist += reel__edit_distance(out, out_len(m, out, res.len[k]), b.tgt + k, B, tl, row);
			toks += tl;
		}
		r->examples += B;
		reel_s2s_result_deinit(&res);
		if (st != REEL_OK)
			break;
	}
	free(row);
	reel_tape_free(t);
	reel_data_rewind(m->data, split);
	r->cer = toks > 0 ? dist / toks : 0;
	return st;
}

reel_status reel_infer_evaluate(reel_model *m, reel_data_split split, reel_eval_report *r, reel_err *err)
{
	memset(r, 0, sizeof *r);
	r->task = m->task;
	r->r2 = r->cer = NAN;
	reel_status st = reel_model_evaluate(m, split, 0, &r->base, err);
	if (st != REEL_OK)
		return st;
	eval_ctx c = {.r = r};
	switch (m->task) {
	case REEL_TASK_CLASSIFY:
	case REEL_TASK_TAG:
		r->K = m->info.classes;
		r->confusion = reel__calloc((size_t)r->K * r->K, sizeof *r->confusion);
		if (!r->confusion)
			return nomem(err, "evaluate");
		return over_split(m, split, eval_batch, &c, err);
	case REEL_TASK_REGRESS:
		st = over_split(m, split, eval_batch, &c, err);
		if (st == REEL_OK && c.n > 0) {
			double sst = c.syy - c.sy * c.sy / c.n;
			r->r2 = sst > 0 ? 1 - c.sse / sst : NAN;
		}
		return st;
	case REEL_TASK_SEQ2SEQ: return eval_s2s_cer(m, split, r, err);
	case REEL_TASK_LM:
	case REEL_TASK_CTC: return REEL_OK;
	}
	return REEL_OK;
}

void reel_eval_report_deinit(reel_eval_report *r)
{
	free(r->confusion);
	r->confusion = NULL;
	free(r->forecast_mse);
	r->forecast_mse = NULL;
}

/* ---- free-running forecasts ---------------------------------------------------------------------- */

reel_status reel_infer_forecast(reel_model *m, reel_data_split split, int H, reel_eval_report *r, reel_err *err)
{
	int F = m->info.features, O = m->info.outputs, T = m->data_opts.window;
	if (m->is_s2s || m->task != REEL_TASK_REGRESS || m->info.tokens_in || !m->data_opts.per_step)
		return reel_err_set(err, REEL_ERR_ARG,
		                    "forecast: free running needs a regress task with real inputs and a target per step "
		                    "(per_step true), not %s%s",
		                    reel_task_name(m->task), m->task == REEL_TASK_REGRESS ? " with last-step targets" : "");
	if (F != O || m->data_opts.horizon != 1)
		return reel_err_set(err, REEL_ERR_ARG,
		                    "forecast: free running feeds each output back as the next input: the targets must be the "
		                    "inputs one step on (data horizon 1, as many targets as inputs), found horizon %d, %d "
		                    "inputs, %d targets",
		                    m->data_opts.horizon, F, O);
	if (reel_model_mdn_components(m))
		return reel_err_set(err, REEL_ERR_ARG, "forecast: an mdn output is a distribution, not a value to feed back");
	if (H < 1 || H > T)
		return reel_err_set(err, REEL_ERR_ARG, "forecast: the horizon must be in [1, %d] (the window), found %d", T, H);
	free(r->forecast_mse);
	r->forecast_mse = reel__calloc((size_t)H, sizeof *r->forecast_mse);
	r->horizon = r->warmup = 0;
	r->forecast_mean = NAN;
	r->forecast_windows = 0;
	long *cnt = reel__calloc((size_t)H, sizeof *cnt);
	reel_tape *t = infer_tape(m->train.seed ^ 0xe7a1u);
	reel_real *xin = NULL;
	int *len = NULL;
	size_t cap = 0;
	reel_status st = REEL_OK;
	if (!r->forecast_mse || !cnt || !t) {
		st = nomem(err, "forecast");
		goto out;
	}
	reel_data_rewind(m->data, split);
	for (;;) {
		reel_batch b;
		int got = reel_data_next(m->data, split, m->train.batch_size, &b, err);
		if (got < 0) {
			st = err->code ? err->code : REEL_ERR_IO;
			break;
		}
		if (got == 0)
			break;
		int B = b.B;
		size_t n = (size_t)b.T * B * F;
		for (int k = 0; k < B && st == REEL_OK; k++)
			if (b.T != T || b.lengths[k] != T)
				st = reel_err_set(err, REEL_ERR_ARG, "forecast: window %d has %d steps, expected %d", k,
				                  b.lengths[k], T);
		if (st != REEL_OK)
			break;
		if (n > cap) {
			reel_real *nx = reel__realloc(xin, n * sizeof *xin);
			int *nl = reel__realloc(len, (size_t)B * sizeof *len);
			if (nx)
				xin = nx;
			if (nl)
				len = nl;
			if (!nx || !nl) {
				st = nomem(err, "forecast");
				break;
			}
			cap = n;
		}
		memcpy(xin, b.inputs, n * sizeof *xin);
		reel_batch p = b;
		p.inputs = xin;
		p.lengths = len;
		/* x_k = y_{k-1} for k = T - H + 1 .. T - 1, each from a run over the k steps before it;
		 * then a run over all T steps gives the H forecasts */
		for (int k = T - H + 1; k <= T; k++) {
			p.T = k;
			for (int i = 0; i < B; i++)
				len[i] = k;
			reel_tape_reset(t);
			reel_tensor *y = forward(t, m, &p, 0, 0); /* (k, B, O) */
			if (!y) {
				st = reel_err_set(err, reel_tape_status(t), "forecast: %s", reel_tape_error(t));
				break;
			}
			if (k < T) {
				memcpy(xin + (size_t)k * B * F, y->data + (size_t)(k - 1) * B * O, (size_t)B * O * sizeof *xin);
				continue;
			}
			for (int h = 0; h < H; h++) {
				size_t at = (size_t)(T - H + h) * B * O;
				for (size_t i = 0; i < (size_t)B * O; i++) {
					double d = (double)y->data[at + i] - b.targets[at + i];
					r->forecast_mse[h] += d * d;
				}
				cnt[h] += (long)B * O;
			}
		}
		if (st != REEL_OK)
			break;
		r->forecast_windows += B;
	}
	reel_data_rewind(m->data, split);
	if (st == REEL_OK && r->forecast_windows == 0)
		st = reel_err_set(err, REEL_ERR_IO, "forecast: the %s split is empty",
		                  split == REEL_TEST ? "test" : split == REEL_VALID ? "validation" : "training");
	if (st == REEL_OK) {
		double sum = 0;
		for (int h = 0; h < H; h++)
			sum += r->forecast_mse[h] /= (double)cnt[h];
		r->horizon = H;
		r->warmup = T - H + 1;
		r->forecast_mean = sum / H;
	}
out:
	if (st != REEL_OK) {
		free(r->forecast_mse);
		r->forecast_mse = NULL;
	}
	free(cnt);
	free(xin);
	free(len);
	reel_tape_free(t);
	return st;
}


/* A JSON string literal. */
static void json_str(const char *s, FILE *f)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* JSON has no NaN: null. */
static void json_num(double v, FILE *f)
{
	if (isfinite(v))
		fprintf(f, "%.9g", v);
	else
		fputs("null", f);
}

static const char *label_of(const reel_model *m, int k)
{
	const char *s = reel_data_output_token(m->data, k);
	return s ? s : "?";
}

void reel_eval_report_print(const reel_model *m, const reel_eval_report *r, const char *split, int json, FILE *f)
{
	const reel_metrics *mt = &r->base;
	int K = r->K, chars = !m->data_opts.tokens_words;
	if (json) {
		fprintf(f, "{\"split\": \"%s\"", split);
		for (int i = 0; i < mt->n; i++) {
			fprintf(f, ", \"%s\": ", i ? mt->name[i] : "loss");
			json_num(mt->value[i], f);
		}
		if (m->task == REEL_TASK_LM && chars) {
			fprintf(f, ", \"bits_per_character\": ");
			json_num(mt->value[2], f);
		}
		if (m->task == REEL_TASK_REGRESS) {
			fprintf(f, ", \"r2\": ");
			json_num(r->r2, f);
		}
		if (m->task == REEL_TASK_SEQ2SEQ) {
			fprintf(f, ", \"character_error_rate\": ");
			json_num(r->cer, f);
		}
		if (r->horizon > 0) {
			fprintf(f, ", \"free_run\": {\"horizon\": %d, \"warmup\": %d, \"windows\": %ld, \"mse_mean\": ", r->horizon,
			        r->warmup, r->forecast_windows);
			json_num(r->forecast_mean, f);
			fprintf(f, ", \"mse\": [");
			for (int h = 0; h < r->horizon; h++) {
				fputs(h ? ", " : "", f);
				json_num(r->forecast_mse[h], f);
			}
			fputs("]}", f);
		}
		if (r->confusion) {
			fprintf(f, ", \"labels\": [");
			for (int k = 0; k < K; k++) {
				fputs(k ? ", " : "", f);
				json_str(label_of(m, k), f);
			}
			fprintf(f, "], \"confusion\": [");
			for (int a = 0; a < K; a++) {
				fprintf(f, "%s[", a ? ", " : "");
				for (int p = 0; p < K; p++)
					fprintf(f, "%s%.0f", p ? ", " : "", r->confusion[(size_t)a * K + p]);
				fputc(']', f);
			}
			fputc(']', f);
			if (m->task == REEL_TASK_TAG) {
				fprintf(f, ", \"per_tag_accuracy\": {");
				for (int a = 0, first = 1; a < K; a++) {
					double n = 0;
					for (int p = 0; p < K; p++)
						n += r->confusion[(size_t)a * K + p];
					if (n == 0)
						continue;
					fputs(first ? "" : ", ", f);
					first = 0;
					json_str(label_of(m, a), f);
					fprintf(f, ": %.9g", r->confusion[(size_t)a * K + a] / n);
				}
				fputc('}', f);
			}
		}
		fprintf(f, "}\n");
		return;
	}
	fprintf(f, "%s: ", split);
	for (int i = 0; i < mt->n; i++) {
		const char *name = i ? mt->name[i] : "loss";
		if (reel_metric_is_rate(name))
			fprintf(f, "%s%s %.2f%%", i ? "  " : "", name, 100 * mt->value[i]);
		else
			fprintf(f, "%s%s %.5g", i ? "  " : "", name, mt->value[i]);
	}
	if (m->task == REEL_TASK_LM && chars)
		fprintf(f, "  bits_per_character %.4f", mt->value[2]);
	if (m->task == REEL_TASK_REGRESS)
		fprintf(f, "  r2 %.4f", r->r2);
	if (m->task == REEL_TASK_SEQ2SEQ)
		fprintf(f, "  character_error_rate %.2f%%", 100 * r->cer);
	fputc('\n', f);
	if (r->horizon > 0) {
		fprintf(f, "free running, %d steps after a warm-up of %d true values (%ld windows): mse at 1 step %.5g, "
		           "at %d steps %.5g, mean over 1..%d %.5g\n",
		        r->horizon, r->warmup, r->forecast_windows, r->forecast_mse[0], r->horizon,
		        r->forecast_mse[r->horizon - 1], r->horizon, r->forecast_mean);
		if (r->horizon > 1) {
			fprintf(f, "  mse by steps ahead:");
			for (int h = 0; h < r->horizon; h++)
				fprintf(f, " %.3g", r->forecast_mse[h]);
			fputc('\n', f);
		}
	}
	if (!r->confusion)
		return;
	if (m->task == REEL_TASK_TAG) {
		fprintf(f, "per-tag accuracy:\n");
		for (int a = 0; a < K; a++) {
			double n = 0;
			for (int p = 0; p < K; p++)
				n += r->confusion[(size_t)a * K + p];
			if (n > 0)
				fprintf(f, "  %-12s %7.2f%%  (%.0f tokens)\n", label_of(m, a), 100 * r->confusion[(size_t)a * K + a] / n,
				        n);
		}
		if (K > 12)
			return;
	}
	int wcol = 7;
	for (int k = 0; k < K; k++)
		if ((int)strlen(label_of(m, k)) + 1 > wcol)
			wcol = (int)strlen(label_of(m, k)) + 1;
	if (wcol > 16)
		wcol = 16;
	fprintf(f, "confusion matrix (rows: actual, columns: predicted):\n  %-*s", wcol, "");
	for (int p = 0; p < K; p++)
		fprintf(f, " %*.*s", wcol, wcol, label_of(m, p));
	fputc('\n', f);
	for (int a = 0; a < K; a++) {
		fprintf(f, "  %-*.*s", wcol, wcol, label_of(m, a));
		for (int p = 0; p < K; p++)
			fprintf(f, " %*.0f", wcol, r->confusion[(size_t)a * K + p]);
		fputc('\n', f);
	}
}

/* ---- plots of runs ------------------------------------------------------------------------------ */

typedef struct run_curves {
	char name[128];
	dvec step, loss, lr, vstep, vloss, mstep, metric;
	char metric_name[64];
} run_curves;

static void curves_free(run_curves *c)
{
	dvec *all[] = {&c->step, &c->loss, &c->lr, &c->vstep, &c->vloss, &c->mstep, &c->metric};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		free(all[i]->v);
}

static reel_status read_metrics(const char *dir, run_curves *c, reel_err *err)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return reel_err_set(err, REEL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
	const char *base = dir + strlen(dir);
	while (base > dir && base[-1] == '/')
		base--;
	const char *e = base;
	while (base > dir && base[-1] != '/')
		base--;
	snprintf(c->name, sizeof c->name, "%.*s", (int)(e - base), base);
	if (!c->name[0])
		snprintf(c->name, sizeof c->name, "%s", dir);
	char *line = NULL;
	size_t cap = 0;
	long no = 0;
	reel_status st = REEL_OK;
	while (getline(&line, &cap, fp) > 0) {
		no++;
		cJSON *o = cJSON_Parse(line);
		if (!o || !cJSON_IsObject(o)) {
			cJSON_Delete(o);
			size_t l = strlen(line);
			if (l == 0 || (l == 1 && line[0] == '\n'))
				continue;
			st = reel_err_set(err, REEL_ERR_IO, "%s:%ld: expected a JSON object", path, no);
			break;
		}
		cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
		cJSON *loss = cJSON_GetObjectItemCaseSensitive(o, "loss");
		cJSON *vl = cJSON_GetObjectItemCaseSensitive(o, "valid_loss");
		int bad = 0;
		if (cJSON_IsNumber(step) && cJSON_IsNumber(loss)) {
			cJSON *lr = cJSON_GetObjectItemCaseSensitive(o, "lr");
			bad |= dvec_push(&c->step, step->valuedouble) | dvec_push(&c->loss, loss->valuedouble) |
			       dvec_push(&c->lr, cJSON_IsNumber(lr) ? lr->valuedouble : NAN);
		} else if (cJSON_IsNumber(step) && cJSON_IsNumber(vl)) {
			bad |= dvec_push(&c->vstep, step->valuedouble) | dvec_push(&c->vloss, vl->valuedouble);
			/* the task's metric: the first key after valid_loss */
			for (cJSON *it = vl->next; it; it = it->next)
				if (cJSON_IsNumber(it) && it->string) {
					if (!c->metric_name[0])
						snprintf(c->metric_name, sizeof c->metric_name, "%s", it->string);
					if (!strcmp(it->string, c->metric_name))
						bad |= dvec_push(&c->mstep, step->valuedouble) | dvec_push(&c->metric, it->valuedouble);
					break;
				}
		}
		cJSON_Delete(o);
		if (bad) {
			st = nomem(err, path);
			break;
		}
	}
	free(line);
	fclose(fp);
	if (st == REEL_OK && c->step.n == 0 && c->vstep.n == 0)
		st = reel_err_set(err, REEL_ERR_IO, "%s: no training or validation records", path);
	return st;
}

static int spans_decades(const dvec *v, double factor)
{
	double lo = INFINITY, hi = 0;
	for (size_t i = 0; i < v->n; i++)
		if (v->v[i] > 0 && isfinite(v->v[i]))
			lo = fmin(lo, v->v[i]), hi = fmax(hi, v->v[i]);
	return hi > 0 && hi / lo > factor;
}

reel_status reel_plot_runs(const char *const *dirs, int n, const char *out, reel_err *err)
{
	if (n < 1)
		return reel_err_set(err, REEL_ERR_ARG, "plot: no run directory");
	run_curves *c = reel__calloc((size_t)n, sizeof *c);
	reel_svg_series *s = reel__calloc((size_t)n * 4, sizeof *s);
	char(*labels)[2][160] = reel__calloc((size_t)n, sizeof *labels);
	reel_status st = REEL_OK;
	if (!c || !s || !labels) {
		st = nomem(err, "plot");
		goto out;
	}
	for (int i = 0; i < n && st == REEL_OK; i++)
		st = read_metrics(dirs[i], &c[i], err);
	if (st != REEL_OK)
		goto out;
	const char *metric = NULL;
	for (int i = 0; i < n && !metric; i++)
		if (c[i].metric_name[0])
			metric = c[i].metric_name;
	int rate = metric && reel_metric_is_rate(metric), logm = 0, loglr = 0;
	reel_svg_series *sl = s, *sm = s + 2 * n, *sr = s + 3 * n;
	int nm = 0;
	for (int i = 0; i < n; i++) {
		snprintf(labels[i][0], sizeof labels[i][0], "%s train", c[i].name);
		snprintf(labels[i][1], sizeof labels[i][1], "%s valid", c[i].name);
		sl[2 * i] = (reel_svg_series){labels[i][0], c[i].step.v, c[i].loss.v, (int)c[i].step.n, i, 0, 0};
		sl[2 * i + 1] = (reel_svg_series){labels[i][1], c[i].vstep.v, c[i].vloss.v, (int)c[i].vstep.n, i, 1, 1};
		if (metric && !strcmp(c[i].metric_name, metric)) {
			if (rate)
				for (size_t k = 0; k < c[i].metric.n; k++)
					c[i].metric.v[k] *= 100;
			logm |= !rate && spans_decades(&c[i].metric, 20); /* perplexity, mse */
			sm[nm++] = (reel_svg_series){c[i].name, c[i].mstep.v, c[i].metric.v, (int)c[i].metric.n, i, 0, 1};
		}
		loglr |= spans_decades(&c[i].lr, 20);
		sr[i] = (reel_svg_series){c[i].name, c[i].step.v, c[i].lr.v, (int)c[i].step.n, i, 0, 0};
	}
	char mtitle[128], mlabel[96];
	snprintf(mtitle, sizeof mtitle, "validation %s", metric ? metric : "metric");
	snprintf(mlabel, sizeof mlabel, "%s%s", metric ? metric : "", rate ? " (%)" : "");
	reel_svg_panel p[3] = {
		{"loss: training (solid) and validation (dashed)", "step", "loss", 1, 0, sl, 2 * n},
		{mtitle, "step", mlabel, logm, rate, sm, nm},
		{"learning rate", "step", "learning rate", loglr, 0, sr, n},
	};
	char title[256];
	snprintf(title, sizeof title, "%s%s", n == 1 ? "run " : "runs ", c[0].name);
	for (int i = 1; i < n && strlen(title) < 200; i++) {
		strcat(title, ", ");
		strncat(title, c[i].name, 40);
	}
	if (!metric) /* no validation metric: loss and learning rate */
		p[1] = p[2];
	st = reel_svg_panels(out, title, p, metric ? 3 : 2, err);
out:
	for (int i = 0; c && i < n; i++)
		curves_free(&c[i]);
	free(c);
	free(s);
	free(labels);
	return st;
}
