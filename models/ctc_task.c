/* The ctc task's loss and label error rate, and prefix beam search for
 * decoding (model.h). */
#include "fault.h"
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

reel_tensor *reel__ctc_task_loss(reel_tape *t, reel_tensor *y, const reel_batch *b, reel_batch_stats *st)
{
	int T = b->T, B = b->B;
	/* the labels (T, B) time-major -> targets (B, T) and their lengths */
	int32_t *tg = reel_tape_alloc(t, (size_t)B * T * sizeof *tg);
	int *tl = reel_tape_alloc(t, (size_t)B * sizeof *tl);
	if (!tg || !tl)
		return NULL;
	for (int i = 0; i < B; i++) {
		int n = 0;
		while (n < T && b->labels[(size_t)n * B + i] != REEL_DATA_IGNORE) {
			tg[(size_t)i * T + n] = b->labels[(size_t)n * B + i];
			n++;
		}
		tl[i] = n;
	}
	reel_tensor *loss = reel_ctc_loss(t, reel_log_softmax(t, y), tg, T, b->lengths, tl, 0, REEL_CTC_MEAN);
	if (!loss || !st)
		return loss;
	int32_t *dec = reel_tape_alloc(t, (size_t)B * T * sizeof *dec);
	int *dl = reel_tape_alloc(t, (size_t)B * sizeof *dl), *row = reel_tape_alloc(t, ((size_t)T + 1) * sizeof *row);
	if (!dec || !dl || !row)
		return NULL;
	reel_ctc_greedy(y, b->lengths, 0, dec, dl);
	for (int i = 0; i < B; i++) {
		st->edits += reel__edit_distance(dec + (size_t)i * T, dl[i], tg + (size_t)i * T, 1, tl[i], row);
		st->ref_len += tl[i];
	}
	st->loss_sum += (double)loss->data[0] * B;
	st->count += B;
	return loss;
}

/* ---- prefix beam search ---------------------------------------------------------------- */

/* log(exp(a) + exp(b)) */
static double lse(double a, double b)
{
	if (a == -INFINITY)
		return b;
	if (b == -INFINITY)
		return a;
	return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

/* A candidate of the next beam: the prefix of beam entry `from`, extended
 * by c (c < 0: not extended), with its two probabilities. */
typedef struct ctc_cand {
	double pb, pnb, total;
	int from, c, order;
} ctc_cand;

static int cmp_cand(const void *a, const void *b)
{
	const ctc_cand *x = a, *y = b;
	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return (x->order > y->order) - (x->order < y->order);
}

int reel_ctc_beam(const double *lp, int T, int C, int blank, int beam, int n_best, int32_t *out, int *out_len,
                  double *score)
{
	int W = beam, Lmax = T > 0 ? T : 1;
	size_t nc = (size_t)W * C + 1;
	int32_t *buf[2] = {reel__malloc((size_t)W * Lmax * sizeof(int32_t)), reel__malloc((size_t)W * Lmax * sizeof(int32_t))};
	int *lens[2] = {reel__malloc((size_t)W * sizeof(int)), reel__malloc((size_t)W * sizeof(int))};
	int32_t *pre = buf[0], *nxt = buf[1];
	int *len = lens[0], *nlen = lens[1];
	int *child = reel__malloc((size_t)W * C * sizeof *child);
	double *pb = reel__malloc((size_t)W * sizeof *pb), *pnb = reel__malloc((size_t)W * sizeof *pnb);
	ctc_cand *cd = reel__malloc(nc * sizeof *cd);
	int n = -1;
	if (!pre || !nxt || !len || !nlen || !child || !pb || !pnb || !cd)
		goto out;
	/* the beam: prefix k is pre[k * Lmax ...], len[k]; p_b (ends in a blank),
	 * p_nb (ends in its last label), log-probabilities of the frames so far */
	int nb = 1;
	len[0] = 0;
	pb[0] = 0;
	pnb[0] = -INFINITY;
	for (int t = 0; t < T; t++) {
		const double *row = lp + (size_t)t * C;
		/* child[k * C + c]: the beam entry that is prefix k extended by c, or -1 */
		for (size_t i = 0; i < (size_t)nb * C; i++)
			child[i] = -1;
		for (int j = 0; j < nb; j++)
			for (int k = 0; k < nb; k++)
				if (len[j] == len[k] + 1 &&
				    !memcmp(pre + (size_t)j * Lmax, pre + (size_t)k * Lmax, (size_t)len[k] * sizeof *pre))
					child[(size_t)k * C + pre[(size_t)j * Lmax + len[k]]] = j;
		/* the prefixes themselves: a blank, or their last label repeated */
		int m = 0;
		for (int k = 0; k < nb; k++) {
			double all = lse(pb[k], pnb[k]);
			cd[m] = (ctc_cand){.pb = all + row[blank], .from = k, .c = -1, .order = m};
			cd[m].pnb = len[k] ? pnb[k] + row[pre[(size_t)k * Lmax + len[k] - 1]] : -INFINITY;
			m++;
		}
		/* extended by a label: after a blank only when it repeats the last */
		for (int k = 0; k < nb; k++) {
			int last = len[k] ? pre[(size_t)k * Lmax + len[k] - 1] : -1;
			double all = lse(pb[k], pnb[k]);
			for (int c = 0; c < C; c++) {
				if (c == blank)
					continue;
				double add = (c == last ? pb[k] : all) + row[c];
				int j = child[(size_t)k * C + c];
				if (j >= 0) {
					cd[j].pnb = lse(cd[j].pnb, add);
				} else {
					cd[m] = (ctc_cand){.pb = -INFINITY, .pnb = add, .from = k, .c = c, .order = m};
					m++;
				}
			}
		}
		for (int i = 0; i < m; i++)
			cd[i].total = lse(cd[i].pb, cd[i].pnb);
		qsort(cd, (size_t)m, sizeof *cd, cmp_cand);
		int keep = m < W ? m : W;
		for (int i = 0; i < keep; i++) {
			const ctc_cand *c = &cd[i];
			int32_t *dst = nxt + (size_t)i * Lmax;
			memcpy(dst, pre + (size_t)c->from * Lmax, (size_t)len[c->from] * sizeof *dst);
			nlen[i] = len[c->from];
			if (c->c >= 0)
				dst[nlen[i]++] = c->c;
			pb[i] = c->pb;
			pnb[i] = c->pnb;
		}
		int32_t *tp = pre;
		pre = nxt;
		nxt = tp;
		int *tl = len;
		len = nlen;
		nlen = tl;
		nb = keep;
	}
	/* the beam is sorted after every frame (T = 0: the empty prefix alone) */
	n = nb < n_best ? nb : n_best;
	for (int i = 0; i < n; i++) {
		memcpy(out + (size_t)i * Lmax, pre + (size_t)i * Lmax, (size_t)len[i] * sizeof *out);
		out_len[i] = len[i];
		score[i] = lse(pb[i], pnb[i]);
	}
out:
	free(buf[0]);
	free(buf[1]);
	free(lens[0]);
	free(lens[1]);
	free(child);
	free(pb);
	free(pnb);
	free(cd);
	return n;
}
