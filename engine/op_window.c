/* The time-delay window (Waibel et al. 1989): each step sees its own input
 * and those of k - 1 earlier steps, `dilation` apart.  With one weight
 * matrix applied to every step's window this is the time-delay neural
 * network's layer, a causal 1-D convolution over time (layers and models
 * put a product after it). */
#include "internal.h"

#include <string.h>

reel_tensor *reel_time_window(reel_tape *t, reel_tensor *x, int k, int dilation)
{
	if (reel__skip(t, "time_window", 1, x))
		return NULL;
	char s[64];
	if (x->ndim != 3)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_time_window: x is %s, expected (T, B, F)",
		                      reel_shape_str(x, s, sizeof s));
	if (k < 1 || dilation < 1)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_time_window: k (%d) and dilation (%d) must be at least 1", k,
		                      dilation);
	int T = x->shape[0], B = x->shape[1], F = x->shape[2];
	if ((long long)k * F > INT32_MAX / 2)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_time_window: k (%d) x F (%d) is too large", k, F);
	int need = reel__needs_grad(t, x, NULL, NULL);
	reel_tensor *y = reel__out(t, 3, (int[]){T, B, k * F}, need);
	if (!y)
		return NULL;
	size_t row = (size_t)B * F; /* one step of x */
	for (int s = 0; s < T; s++)
		for (int j = 0; j < k; j++) {
			int src = s - j * dilation;
			for (int b = 0; b < B; b++) {
				reel_real *dst = y->data + ((size_t)s * B + b) * k * F + (size_t)j * F;
				if (src >= 0)
					memcpy(dst, x->data + (size_t)src * row + (size_t)b * F, (size_t)F * sizeof *dst);
				else
					memset(dst, 0, (size_t)F * sizeof *dst);
			}
		}
	if (need) {
		reel_node *nd = reel__record(t, REEL_OP_TIME_WINDOW, y, x, NULL, NULL);
		if (!nd)
			return NULL;
		nd->iarg[0] = k;
		nd->iarg[1] = dilation;
	}
	return y;
}

/* dx[s - j d, b] += dy[s, b, block j]: each input step collects the
 * gradient of every window it appears in. */
void reel__bwd_TIME_WINDOW(reel_node *nd)
{
	reel_tensor *x = nd->in[0];
	reel_real *dx = reel__g(x);
	if (!dx)
		return;
	int k = nd->iarg[0], dil = nd->iarg[1];
	int T = x->shape[0], B = x->shape[1], F = x->shape[2];
	const reel_real *dy = reel_tensor_grad(nd->out);
	for (int s = 0; s < T; s++)
		for (int j = 0; j < k && s - j * dil >= 0; j++) {
			int src = s - j * dil;
			for (int b = 0; b < B; b++) {
				const reel_real *g = dy + ((size_t)s * B + b) * k * F + (size_t)j * F;
				reel_real *d = dx + ((size_t)src * B + b) * F;
				for (int f = 0; f < F; f++)
					d[f] += g[f];
			}
		}
}
