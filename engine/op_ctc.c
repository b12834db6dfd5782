/* Connectionist temporal classification (Graves et al. 2006): the loss of
 * an unsegmented label sequence under per-frame class distributions, by
 * the forward-backward recursion over the label sequence with blanks
 * interleaved, in log space and in double.
 *
 * Notation, per sequence b: T_b frames, U labels l_1..l_U, the extended
 * sequence l' = (blank, l_1, blank, l_2, ..., l_U, blank) of S = 2U + 1
 * positions; y_t(c) = exp(lp[t, b, c]).  Both recursions include the
 * frame's own emission (Graves' convention):
 *   alpha_0(0) = y_0(blank), alpha_0(1) = y_0(l_1), other alpha_0(s) = 0
 *   alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1)
 *                 + [l'_s != blank and l'_s != l'_{s-2}] alpha_{t-1}(s-2)) y_t(l'_s)
 *   beta mirrors it from the end; p = alpha_{T-1}(S-1) + alpha_{T-1}(S-2).
 *   loss_b = -log p.
 * Gradient with respect to the log-probabilities (the exact one; see the
 * constructor's comment in ops.h for how it relates to PyTorch's):
 *   d loss_b / d lp[t, b, c] = -exp(log sum_{s: l'_s = c} alpha_t(s) beta_t(s) - lp[t, b, c] + loss_b). */
#include "internal.h"

#include <string.h>

static double lse2(double a, double b)
{
	if (a == -INFINITY)
		return b;
	if (b == -INFINITY)
		return a;
	return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

struct ctc_saved {
	int32_t *targets;  /* (B, Smax) copied */
	int *in_len, *tg_len;
	int smax, blank;
	double *nll;       /* (B): +inf when infeasible */
	double *weight;    /* (B): d loss / d loss_b (0 for infeasible sequences) */
	double *alpha;     /* per sequence b at offset aoff[b]: (T_b, 2U_b + 1) */
	size_t *aoff;
	double *scratch;   /* backward: two beta rows of the longest l' and one row of C */
	int smax_ext;      /* the longest l' */
};

/* l'_s: blank at even s, l_{(s-1)/2} at odd s */
static inline int ext(const int32_t *lab, int s, int blank) { return s & 1 ? lab[s >> 1] : blank; }

/* The forward recursion of one sequence into a (T_b, S) log-alpha table;
 * returns log p. */
static double ctc_alpha(const reel_real *lp, int B, int C, int b, int Tb, const int32_t *lab, int U, int blank,
                        double *a)
{
	int S = 2 * U + 1;
	for (int s = 0; s < S; s++)
		a[s] = -INFINITY;
	a[0] = lp[(size_t)b * C + blank];
	if (U > 0)
		a[1] = lp[(size_t)b * C + lab[0]];
	for (int t = 1; t < Tb; t++) {
		const reel_real *row = lp + ((size_t)t * B + b) * C;
		const double *prev = a + (size_t)(t - 1) * S;
		double *cur = a + (size_t)t * S;
		for (int s = 0; s < S; s++) {
			int c = ext(lab, s, blank);
			double v = prev[s];
			if (s >= 1)
				v = lse2(v, prev[s - 1]);
			if (s >= 2 && c != blank && c != ext(lab, s - 2, blank))
				v = lse2(v, prev[s - 2]);
			cur[s] = v == -INFINITY ? v : v + row[c];
		}
	}
	const double *last = a + (size_t)(Tb - 1) * S;
	return S > 1 ? lse2(last[S - 1], last[S - 2]) : last[0];
}

reel_tensor *reel_ctc_loss(reel_tape *t, reel_tensor *log_probs, const int32_t *targets, int max_target_len,
                           const int *input_lengths, const int *target_lengths, int blank, int reduction)
{
	if (reel__skip(t, "ctc_loss", 1, log_probs))
		return NULL;
	char s[64];
	if (log_probs->ndim != 3)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_ctc_loss: log_probs is %s, expected (T, B, C)",
		                      reel_shape_str(log_probs, s, sizeof s));
	int T = log_probs->shape[0], B = log_probs->shape[1], C = log_probs->shape[2];
	if (!input_lengths || !target_lengths || (!targets && max_target_len > 0))
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_ctc_loss: targets or lengths are NULL");
	if (blank < 0 || blank >= C)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_ctc_loss: blank %d is outside [0, %d)", blank, C);
	if (reduction != REEL_CTC_MEAN && reduction != REEL_CTC_SUM)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_ctc_loss: unknown reduction %d", reduction);
	if (max_target_len < 0)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_ctc_loss: max_target_len %d is negative", max_target_len);
	size_t atotal = 0;
	for (int b = 0; b < B; b++) {
		if (input_lengths[b] < 1 || input_lengths[b] > T)
			return reel_tape_fail(t, REEL_ERR_ARG, "reel_ctc_loss: input length %d of sequence %d is outside [1, %d]",
			                      input_lengths[b], b, T);
		if (target_lengths[b] < 0 || target_lengths[b] > max_target_len)
			return reel_tape_fail(t, REEL_ERR_ARG, "reel_ctc_loss: target length %d of sequence %d is outside [0, %d]",
			                      target_lengths[b], b, max_target_len);
		for (int u = 0; u < target_lengths[b]; u++) {
			int32_t c = targets[(size_t)b * max_target_len + u];
			if (c < 0 || c >= C || c == blank)
				return reel_tape_fail(t, REEL_ERR_ARG,
				                      "reel_ctc_loss: target %d at position %d of sequence %d is the blank or outside [0, %d)",
				                      c, u, b, C);
		}
		atotal += (size_t)input_lengths[b] * (size_t)(2 * target_lengths[b] + 1);
	}
	int need = reel__needs_grad(t, log_probs, NULL, NULL);
	reel_tensor *y = reel__out(t, 0, NULL, need);
	double *alpha = reel_tape_alloc(t, (atotal ? atotal : 1) * sizeof *alpha);
	double *nll = reel_tape_alloc(t, (size_t)B * sizeof *nll), *w = reel_tape_alloc(t, (size_t)B * sizeof *w);
	size_t *aoff = reel_tape_alloc(t, (size_t)B * sizeof *aoff);
	if (!y || !alpha || !nll || !w || !aoff)
		return NULL;
	double total = 0;
	size_t at = 0;
	for (int b = 0; b < B; b++) {
		int U = target_lengths[b];
		aoff[b] = at;
		nll[b] = -ctc_alpha(log_probs->data, B, C, b, input_lengths[b], targets + (size_t)b * max_target_len, U, blank,
		                    alpha + at);
		at += (size_t)input_lengths[b] * (size_t)(2 * U + 1);
		/* PyTorch's 'mean': each loss over its target length (at least 1), then the batch mean */
		double k = reduction == REEL_CTC_MEAN ? 1.0 / ((U > 1 ? U : 1) * (double)B) : 1.0;
		total += k * nll[b];
		w[b] = isfinite(nll[b]) ? k : 0;
	}
	y->data[0] = (reel_real)total;
	if (need) {
		struct ctc_saved *sv = reel_tape_alloc(t, sizeof *sv);
		int32_t *tg = reel_tape_alloc(t, ((size_t)B * max_target_len + 1) * sizeof *tg);
		int *il = reel_tape_alloc(t, (size_t)B * sizeof *il), *tl = reel_tape_alloc(t, (size_t)B * sizeof *tl);
		int sx = 2 * max_target_len + 1;
		double *scratch = reel_tape_alloc(t, ((size_t)2 * sx + (size_t)C) * sizeof *scratch);
		reel_node *nd = reel__record(t, REEL_OP_CTC_LOSS, y, log_probs, NULL, NULL);
		if (!sv || !tg || !il || !tl || !scratch || !nd)
			return NULL;
		if (max_target_len > 0)
			memcpy(tg, targets, (size_t)B * max_target_len * sizeof *tg);
		memcpy(il, input_lengths, (size_t)B * sizeof *il);
		memcpy(tl, target_lengths, (size_t)B * sizeof *tl);
		*sv = (struct ctc_saved){.targets = tg, .in_len = il, .tg_len = tl, .smax = max_target_len, .blank = blank,
		                         .nll = nll, .weight = w, .alpha = alpha, .aoff = aoff,
		                         .scratch = scratch, .smax_ext = sx};
		nd->saved = sv;
	}
	return y;
}

/* Per sequence: beta by the mirrored recursion, two rows at a time; at each
 * frame the occupancy of every class, log sum_{s: l'_s = c} alpha_t(s) beta_t(s),
 * gives the gradient of the frame's log-probabilities. */
void reel__bwd_CTC_LOSS(reel_node *nd)
{
	reel_tensor *x = nd->in[0];
	reel_real *dx = reel__g(x);
	if (!dx)
		return;
	const struct ctc_saved *sv = nd->saved;
	int B = x->shape[1], C = x->shape[2], blank = sv->blank;
	double g = (double)reel_tensor_grad(nd->out)[0];
	int smax = sv->smax_ext;
	double *beta = sv->scratch, *occ = sv->scratch + (size_t)2 * smax;
	for (int b = 0; b < B; b++) {
		if (sv->weight[b] == 0)
			continue;
		int Tb = sv->in_len[b], U = sv->tg_len[b], S = 2 * U + 1;
		const int32_t *lab = sv->targets + (size_t)b * sv->smax;
		const double *alpha = sv->alpha + sv->aoff[b];
		double k = g * sv->weight[b], nll = sv->nll[b];
		double *cur = beta, *nxt = beta + smax;
		for (int t = Tb - 1; t >= 0; t--) {
			const reel_real *row = x->data + ((size_t)t * B + b) * C;
			for (int s = 0; s < S; s++) {
				int c = ext(lab, s, blank);
				double v;
				if (t == Tb - 1) {
					v = s >= S - 2 ? 0 : -INFINITY;
				} else {
					v = nxt[s];
					if (s + 1 < S)
						v = lse2(v, nxt[s + 1]);
					if (s + 2 < S && c != blank && c != ext(lab, s + 2, blank))
						v = lse2(v, nxt[s + 2]);
				}
				cur[s] = v == -INFINITY ? v : v + row[c];
			}
			for (int c = 0; c < C; c++)
				occ[c] = -INFINITY;
			const double *a = alpha + (size_t)t * S;
			for (int s = 0; s < S; s++) {
				int c = ext(lab, s, blank);
				occ[c] = lse2(occ[c], a[s] + cur[s]);
			}
			reel_real *d = dx + ((size_t)t * B + b) * C;
			for (int c = 0; c < C; c++)
				if (occ[c] != -INFINITY)
					d[c] -= (reel_real)(k * exp(occ[c] - row[c] + nll));
			double *tmp = cur;
			cur = nxt;
			nxt = tmp;
		}
	}
}

void reel_ctc_greedy(const reel_tensor *x, const int *input_lengths, int blank, int32_t *out, int *out_len)
{
	int T = x->shape[0], B = x->shape[1], C = x->shape[2];
	for (int b = 0; b < B; b++) {
		int n = 0, prev = -1, Tb = input_lengths ? input_lengths[b] : T;
		for (int t = 0; t < Tb; t++) {
			const reel_real *row = x->data + ((size_t)t * B + b) * C;
			int best = 0;
			for (int c = 1; c < C; c++)
				if (row[c] > row[best])
					best = c;
			if (best != blank && best != prev)
				out[(size_t)b * T + n++] = best;
			prev = best;
		}
		out_len[b] = n;
	}
}
