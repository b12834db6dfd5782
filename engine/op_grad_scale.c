/* grad_scale: the identity forward, alpha times the gradient backward (ops.h).
 * Randomized truncated BPTT (Tallec & Ollivier 2017) reweights each kept
 * recurrent link by the inverse of its survival probability with it. */
#include "internal.h"

#include <string.h>

reel_tensor *reel_grad_scale(reel_tape *t, reel_tensor *x, reel_real alpha)
{
	if (reel__skip(t, "grad_scale", 1, x))
		return NULL;
	if (!isfinite((double)alpha))
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_grad_scale: alpha is %g, expected a finite number", (double)alpha);
	int need = reel__needs_grad(t, x, NULL, NULL);
	reel_tensor *y = reel__out(t, x->ndim, x->shape, need);
	if (!y)
		return NULL;
	memcpy(y->data, x->data, x->size * sizeof *y->data);
	if (need) {
		reel_node *nd = reel__record(t, REEL_OP_GRAD_SCALE, y, x, NULL, NULL);
		if (!nd)
			return NULL;
		nd->farg = alpha;
	}
	return y;
}

void reel__bwd_GRAD_SCALE(reel_node *nd)
{
	reel_real *dx = reel__g(nd->in[0]);
	if (!dx)
		return;
	reel_real a = nd->farg;
	const reel_real *dy = reel_tensor_grad(nd->out);
	for (size_t i = 0; i < nd->out->size; i++)
		dx[i] += a * dy[i];
}
