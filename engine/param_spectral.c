/* The echo-state reservoir initializer (see param.h): a random square
 * matrix scaled to a chosen spectral radius.
 *
 * The radius is estimated by power iteration.  A random real matrix's
 * largest eigenvalues are often a complex pair, so the iterate does not
 * settle on an eigenvector; its growth rate does: ||W^k v||^(1/k) tends to
 * the spectral radius.  We take the mean log growth per step over the last
 * SPEC_ITERS - SPEC_BURN of SPEC_ITERS steps, renormalising every step. */
#include "fault.h"
#include "param.h"

#include <math.h>
#include <stdlib.h>

#define SPEC_ITERS 600
#define SPEC_BURN 100

reel_status reel_param_spectral(reel_tensor *p, reel_rng *rng, double radius)
{
	if (p->ndim != 2 || p->shape[0] != p->shape[1])
		return REEL_ERR_SHAPE;
	int n = p->shape[0];
	double *v = reel__malloc(2 * (size_t)n * sizeof *v);
	if (!v)
		return REEL_ERR_NOMEM;
	double *w = v + n;
	for (size_t i = 0; i < p->size; i++)
		p->data[i] = (reel_real)reel_rng_range(rng, -1, 1);
	for (int i = 0; i < n; i++)
		v[i] = reel_rng_normal(rng);
	double logsum = 0;
	for (int k = 0; k < SPEC_ITERS; k++) {
		double norm = 0;
		for (int i = 0; i < n; i++) {
			double s = 0;
			for (int j = 0; j < n; j++)
				s += (double)p->data[(size_t)i * n + j] * v[j];
			w[i] = s;
			norm += s * s;
		}
		norm = sqrt(norm);
		if (norm == 0) /* nilpotent by chance: nothing to scale */
			break;
		if (k >= SPEC_BURN)
			logsum += log(norm);
		for (int i = 0; i < n; i++)
			v[i] = w[i] / norm;
	}
	free(v);
	double rho = exp(logsum / (SPEC_ITERS - SPEC_BURN));
	if (rho > 0 && isfinite(rho))
		for (size_t i = 0; i < p->size; i++)
			p->data[i] = (reel_real)(p->data[i] * (radius / rho));
	return REEL_OK;
}
