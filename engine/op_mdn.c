/* Mixture density output (Bishop 1994; Graves 2013, section 4.1): the
 * negative log-likelihood of targets under a mixture of K diagonal
 * Gaussians whose parameters a network emits, and sampling from it.
 *
 * Per row i of params (P = K (1 + 2D) columns): mixture logits a_k, means
 * mu_kd (component-major), log standard deviations s_kd, so sigma_kd =
 * exp(s_kd) (the variances, exp(2 s_kd), are positive by construction) and
 * pi = softmax(a).  With z_kd = (y_d - mu_kd) exp(-s_kd):
 *   log N_k = log pi_k - sum_d (z_kd^2 / 2 + s_kd + log(2 pi) / 2)
 *   loss_i  = -logsumexp_k log N_k
 * Gradients, with gamma_k = softmax_k(log N_k) the posterior of component
 * k given y (its responsibility):
 *   d loss_i / d a_k    = pi_k - gamma_k
 *   d loss_i / d mu_kd  = -gamma_k z_kd exp(-s_kd)
 *   d loss_i / d s_kd   = -gamma_k (z_kd^2 - 1)
 *   d loss_i / d y_d    = sum_k gamma_k z_kd exp(-s_kd)
 * Sums in double; forward saves pi and gamma (N, K) in double. */
#include "internal.h"

#include <string.h>

#define HALF_LOG_2PI 0.91893853320467274178

struct mdn_saved {
	int K, D;
	double *pi, *gamma; /* (N, K) */
	double *w;          /* (N): w_i / sum w */
};

/* log pi (into lpi) and log N_k (into ln) of one row; returns loss_i. */
static double mdn_row(const reel_real *p, const reel_real *y, int K, int D, double *lpi, double *ln)
{
	double amax = -INFINITY;
	for (int k = 0; k < K; k++)
		if ((double)p[k] > amax)
			amax = p[k];
	double se = 0;
	for (int k = 0; k < K; k++)
		se += exp((double)p[k] - amax);
	double lse = amax + log(se);
	const reel_real *mu = p + K, *ls = p + K + (size_t)K * D;
	double lmax = -INFINITY;
	for (int k = 0; k < K; k++) {
		lpi[k] = (double)p[k] - lse;
		double v = lpi[k];
		for (int d = 0; d < D; d++) {
			double s = ls[(size_t)k * D + d], z = ((double)y[d] - mu[(size_t)k * D + d]) * exp(-s);
			v -= 0.5 * z * z + s + HALF_LOG_2PI;
		}
		ln[k] = v;
		if (v > lmax)
			lmax = v;
	}
	double sn = 0;
	for (int k = 0; k < K; k++)
		sn += exp(ln[k] - lmax);
	return -(lmax + log(sn));
}

reel_tensor *reel_mdn_nll(reel_tape *t, reel_tensor *params, reel_tensor *target, reel_tensor *mask, int K)
{
	if (reel__skip(t, "mdn_nll", 2, params, target))
		return NULL;
	char s[64], s2[64];
	if (K < 1)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_mdn_nll: K is %d, expected at least 1", K);
	if (params->ndim < 1 || target->ndim < 1)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_mdn_nll: params and target need a last axis");
	int N = reel_tensor_rows(params), P = reel_tensor_cols(params), D = reel_tensor_cols(target);
	if (P != K * (1 + 2 * D) || reel_tensor_rows(target) != N)
		return reel_tape_fail(t, REEL_ERR_SHAPE,
		                      "reel_mdn_nll: params is %s, target %s: expected K (1 + 2 D) = %d columns of params "
		                      "and as many rows in both",
		                      reel_shape_str(params, s, sizeof s), reel_shape_str(target, s2, sizeof s2), K * (1 + 2 * D));
	if (mask && mask->size != (size_t)N)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_mdn_nll: mask is %s, expected %d elements (one per row)",
		                      reel_shape_str(mask, s, sizeof s), N);
	int need = reel__needs_grad(t, params, target, NULL);
	reel_tensor *out = reel__out(t, 0, NULL, need);
	double *pi = reel_tape_alloc(t, ((size_t)N * K + 1) * sizeof *pi);
	double *ga = reel_tape_alloc(t, ((size_t)N * K + 1) * sizeof *ga);
	double *w = reel_tape_alloc(t, ((size_t)N + 1) * sizeof *w);
	if (!out || !pi || !ga || !w)
		return NULL;
	double wsum = 0, total = 0;
	for (int i = 0; i < N; i++) {
		double *lp = pi + (size_t)i * K, *ln = ga + (size_t)i * K;
		w[i] = mask ? (double)mask->data[i] : 1;
		wsum += w[i];
		double li = mdn_row(params->data + (size_t)i * P, target->data + (size_t)i * D, K, D, lp, ln);
		if (w[i] != 0)
			total += w[i] * li;
		for (int k = 0; k < K; k++) {
			lp[k] = exp(lp[k]);
			ln[k] = exp(ln[k] + li); /* the responsibility gamma_k */
		}
	}
	out->data[0] = (reel_real)(wsum != 0 ? total / wsum : 0);
	if (need) {
		struct mdn_saved *sv = reel_tape_alloc(t, sizeof *sv);
		reel_node *nd = reel__record(t, REEL_OP_MDN_NLL, out, params, target, NULL);
		if (!sv || !nd)
			return NULL;
		for (int i = 0; i < N; i++)
			w[i] = wsum != 0 ? w[i] / wsum : 0;
		*sv = (struct mdn_saved){.K = K, .D = D, .pi = pi, .gamma = ga, .w = w};
		nd->saved = sv;
	}
	return out;
}

void reel__bwd_MDN_NLL(reel_node *nd)
{
	reel_tensor *p = nd->in[0], *y = nd->in[1];
	reel_real *dp = reel__g(p), *dy = reel__g(y);
	if (!dp && !dy)
		return;
	const struct mdn_saved *sv = nd->saved;
	int K = sv->K, D = sv->D, N = reel_tensor_rows(p), P = reel_tensor_cols(p);
	double g = (double)reel_tensor_grad(nd->out)[0];
	for (int i = 0; i < N; i++) {
		double wi = g * sv->w[i];
		if (wi == 0)
			continue;
		const reel_real *row = p->data + (size_t)i * P, *yi = y->data + (size_t)i * D;
		const reel_real *mu = row + K, *ls = row + K + (size_t)K * D;
		const double *pi = sv->pi + (size_t)i * K, *ga = sv->gamma + (size_t)i * K;
		reel_real *da = dp ? dp + (size_t)i * P : NULL, *dyi = dy ? dy + (size_t)i * D : NULL;
		for (int k = 0; k < K; k++) {
			if (da)
				da[k] += (reel_real)(wi * (pi[k] - ga[k]));
			for (int d = 0; d < D; d++) {
				size_t j = (size_t)k * D + d;
				double is = exp(-(double)ls[j]), z = ((double)yi[d] - mu[j]) * is;
				if (da) {
					da[K + j] -= (reel_real)(wi * ga[k] * z * is);
					da[K + (size_t)K * D + j] -= (reel_real)(wi * ga[k] * (z * z - 1));
				}
				if (dyi)
					dyi[d] += (reel_real)(wi * ga[k] * z * is);
			}
		}
	}
}

void reel_mdn_sample(const reel_real *params, int K, int D, reel_rng *rng, double temperature, reel_real *out)
{
	const reel_real *mu = params + K, *ls = params + K + (size_t)K * D;
	double tau = temperature > 0 ? temperature : 1, amax = -INFINITY, sum = 0;
	for (int k = 0; k < K; k++)
		if ((double)params[k] / tau > amax)
			amax = (double)params[k] / tau;
	for (int k = 0; k < K; k++)
		sum += exp((double)params[k] / tau - amax);
	double u = reel_rng_uniform(rng) * sum;
	int pick = K - 1;
	for (int k = 0; k < K; k++) {
		u -= exp((double)params[k] / tau - amax);
		if (u < 0) {
			pick = k;
			break;
		}
	}
	for (int d = 0; d < D; d++) {
		size_t j = (size_t)pick * D + d;
		out[d] = (reel_real)(mu[j] + sqrt(tau) * exp((double)ls[j]) * reel_rng_normal(rng));
	}
}

void reel_mdn_mean(const reel_real *params, int K, int D, reel_real *out)
{
	double amax = -INFINITY, sum = 0;
	for (int k = 0; k < K; k++)
		if ((double)params[k] > amax)
			amax = params[k];
	for (int k = 0; k < K; k++)
		sum += exp((double)params[k] - amax);
	for (int d = 0; d < D; d++) {
		double m = 0;
		for (int k = 0; k < K; k++)
			m += exp((double)params[k] - amax) / sum * params[K + (size_t)k * D + d];
		out[d] = (reel_real)m;
	}
}
