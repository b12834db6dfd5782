/* Sampled softmax (Jean et al. 2015, "On using very large target
 * vocabulary for neural machine translation"), model.h: the output
 * layer's rows for the targets and for S negatives shared by the batch,
 * the logits corrected by the log of each class's expected count among
 * the negatives, accidental hits masked, and a cross-entropy with the
 * target at index 0.  Training only: evaluation takes the full softmax.
 * The per-step cost of the output layer falls from V to S + 1 rows, which
 * pays off when V is large (a word vocabulary), not for characters. */
#include "fault.h"
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double reel_sampled_prob(int V, const double *cdf, int k)
{
	if (cdf)
		return k > 0 ? cdf[k] - cdf[k - 1] : cdf[0];
	return log((k + 2.0) / (k + 1.0)) / log(V + 1.0);
}

void reel_sampled_draw(reel_rng *rng, int V, const double *cdf, int S, int32_t *neg)
{
	for (int j = 0; j < S; j++) {
		double u = reel_rng_uniform(rng);
		int k;
		if (cdf) { /* the first k with cdf[k] > u */
			int lo = 0, hi = V - 1;
			while (lo < hi) {
				int mid = lo + (hi - lo) / 2;
				if (cdf[mid] > u)
					hi = mid;
				else
					lo = mid + 1;
			}
			k = lo;
		} else { /* inverse of the log-uniform cdf, log(k + 1) / log(V + 1) */
			k = (int)floor(exp(u * log(V + 1.0))) - 1;
		}
		neg[j] = k < 0 ? 0 : k >= V ? V - 1 : k;
	}
}

reel_tensor *reel_sampled_softmax_loss(reel_tape *t, reel_tensor *h, reel_tensor *W, reel_tensor *bias,
                                       const int32_t *targets, int32_t ignore, const int32_t *neg, int S,
                                       const reel_real *logq)
{
	if (!h || !W || reel_tape_status(t) != REEL_OK)
		return NULL;
	if (h->ndim != 2 || W->ndim != 2 || h->shape[1] != W->shape[1] || S < 1 ||
	    (bias && (int)bias->size != W->shape[0]))
		return reel_tape_fail(t, REEL_ERR_SHAPE,
		                      "reel_sampled_softmax_loss: expected h (N, D), W (V, D), bias (V) and S >= 1, "
		                      "found h %dx%d, W %dx%d, bias %d, S %d",
		                      h->shape[0], h->ndim > 1 ? h->shape[1] : 0, W->shape[0], W->ndim > 1 ? W->shape[1] : 0,
		                      bias ? (int)bias->size : 0, S);
	int N = h->shape[0], V = W->shape[0];
	int32_t *tid = reel_tape_alloc(t, (size_t)N * sizeof *tid), *ce = reel_tape_alloc(t, (size_t)N * sizeof *ce);
	if (!tid || !ce)
		return NULL;
	for (int i = 0; i < N; i++) { /* ignored rows gather class 0 and count for nothing */
		int keep = targets[i] != ignore;
		tid[i] = keep ? targets[i] : 0;
		ce[i] = keep ? 0 : ignore;
	}
	reel_tensor *bcol = bias ? reel_reshape2(t, bias, V, 1) : NULL;
	/* o_i0 = h_i . W[y_i] + b[y_i] - logq[y_i]                          (N, 1) */
	reel_tensor *o0 = reel_reshape2(t, reel_sum_axis(t, reel_mul(t, h, reel_gather(t, W, tid, N)), 1), N, 1);
	if (bias)
		o0 = reel_add(t, o0, reel_gather(t, bcol, tid, N));
	/* o_ij = h_i . W[s_j] + b[s_j] - logq[s_j]                          (N, S) */
	reel_tensor *os = reel_matmul(t, h, reel_gather(t, W, neg, S), REEL_TRANS_B);
	if (bias)
		os = reel_add(t, os, reel_reshape2(t, reel_gather(t, bcol, neg, S), 1, S));
	if (logq) {
		reel_tensor *q0 = reel_tensor_new2(t, N, 1, REEL_NOGRAD), *qs = reel_tensor_new2(t, 1, S, REEL_NOGRAD);
		if (!q0 || !qs)
			return NULL;
		for (int i = 0; i < N; i++)
			q0->data[i] = logq[tid[i]];
		for (int j = 0; j < S; j++)
			qs->data[j] = logq[neg[j]];
		o0 = reel_sub(t, o0, q0);
		os = reel_sub(t, os, qs);
	}
	/* accidental hits: a negative that is the row's target gets -inf */
	reel_tensor *hit = reel_tensor_new2(t, N, S, REEL_NOGRAD);
	if (!hit)
		return NULL;
	int hits = 0;
	for (int i = 0; i < N; i++)
		for (int j = 0; j < S; j++) {
			int h_ij = ce[i] == 0 && neg[j] == tid[i];
			hit->data[(size_t)i * S + j] = h_ij ? (reel_real)-INFINITY : 0;
			hits += h_ij;
		}
	if (hits)
		os = reel_add(t, os, hit);
	/* cross-entropy with the target at index 0 of [o_i0, o_i1 .. o_iS] */
	reel_tensor *parts[2] = {o0, os};
	return reel_cross_entropy(t, reel_concat(t, parts, 2, 1), ce, NULL, ignore);
}

/* The unigram proposal's cdf from the training counts plus one. */
static int unigram_cdf(reel_model *m, int V)
{
	double *c = reel__malloc((size_t)V * sizeof *c);
	if (!c || reel_data_train_counts(m->data, c, V) != 0) {
		free(c);
		return -1;
	}
	double total = 0;
	for (int k = 0; k < V; k++)
		total += c[k] + 1;
	double run = 0;
	for (int k = 0; k < V; k++) {
		run += c[k] + 1;
		c[k] = run / total;
	}
	c[V - 1] = 1;
	m->ss_cdf = c;
	return 0;
}

reel_tensor *reel__sampled_lm_loss(reel_tape *t, reel_model *m, reel_tensor *h, const reel_batch *b,
                                   reel_batch_stats *st)
{
	if (!h)
		return NULL;
	const reel_layer *L = &m->layers[m->nlayers - 1];
	if (strcmp(L->type->name, "linear") != 0)
		return reel_tape_fail(t, REEL_ERR_ARG, "train.sampled_softmax: the model must end in a linear layer (found %s)",
		                      L->type->name);
	const reel_linear *head = L->state;
	int V = head->out, S = m->train.ss_negatives, N = b->T * b->B;
	if (m->train.ss_dist == REEL_SS_UNIGRAM && !m->ss_cdf && unigram_cdf(m, V) != 0)
		return reel_tape_fail(t, REEL_ERR_ARG,
		                      "train.sampled_softmax: the unigram distribution needs the text source's training tokens");
	const double *cdf = m->train.ss_dist == REEL_SS_UNIGRAM ? m->ss_cdf : NULL;
	int32_t *neg = reel_tape_alloc(t, (size_t)S * sizeof *neg);
	reel_real *logq = reel_tape_alloc(t, (size_t)V * sizeof *logq);
	if (!neg || !logq)
		return NULL;
	reel_sampled_draw(reel_tape_rng(t), V, cdf, S, neg);
	for (int k = 0; k < V; k++) /* log of the expected count among S draws with replacement */
		logq[k] = (reel_real)log(S * reel_sampled_prob(V, cdf, k));
	reel_tensor *loss = reel_sampled_softmax_loss(t, reel_reshape2(t, h, N, -1), head->weight, head->bias, b->labels,
	                                              REEL_DATA_IGNORE, neg, S, logq);
	if (loss && st) {
		double cnt = 0;
		for (int i = 0; i < N; i++)
			cnt += b->labels[i] != REEL_DATA_IGNORE;
		st->loss_sum += (double)loss->data[0] * cnt;
		st->count += cnt;
	}
	return loss;
}
