/* The "bimodal" generator (data.h): a noisy series whose target has two
 * modes at every step, for mixture density outputs.  Input x_t = sin(2 pi f
 * t + phi) (f in [0.02, 0.2) cycles per step and phi in [0, 2 pi), each
 * quantised to 2^16 levels: the split key, as the sine source's); target
 * y_t = s_t (0.7 + 0.3 x_t) + noise * N(0, 1) with a fair sign s_t drawn
 * afresh at every step, so given the inputs y_t is an equal mixture of two
 * Gaussians at +-(0.7 + 0.3 x_t) of std `noise`.  A squared-error model can
 * only learn their mean, 0; a mixture of K >= 2 can learn both modes.  The
 * best possible NLL per step is log 2 + log(noise sqrt(2 pi e)) (-0.19 at
 * noise 0.1), against 0.5 log(2 pi e E[(0.7 + 0.3 x)^2 + noise^2]) (0.90)
 * for the best single Gaussian with a variance of its own per step. */
#include "data_internal.h"
#include "tasks.h"

#include <math.h>

int reel__gen_bimodal(reel_data *d, reel_data_split split, reel_rng *rng, reel__exset *out, reel_err *err)
{
	reel_task_split want = split == REEL_TRAIN ? REEL_SPLIT_TRAIN : split == REEL_VALID ? REEL_SPLIT_VALID : REEL_SPLIT_TEST;
	uint64_t fi, pi;
	do {
		fi = reel_rng_below(rng, 1 << 16);
		pi = reel_rng_below(rng, 1 << 16);
	} while (reel_task_key_split((fi << 16 | pi) * 0xd6e8feb86659fd93ULL) != want);
	const double two_pi = 6.283185307179586;
	double f = 0.02 + 0.18 * (double)fi / 65536.0, phi = two_pi * (double)pi / 65536.0;
	int W = d->o.window;
	reel__ex *e = reel__exset_add(out);
	if (!e)
		goto oom;
	e->in = out->nx;
	e->out = out->ny;
	e->len = W;
	for (int t = 0; t < W; t++)
		if (reel__push_x(out, (reel_real)sin(two_pi * f * t + phi)))
			goto oom;
	for (int t = 0; t < W; t++) {
		double x = sin(two_pi * f * t + phi), s = reel_rng_below(rng, 2) ? 1 : -1;
		double y = s * (0.7 + 0.3 * x) + d->o.noise * reel_rng_normal(rng);
		if ((d->o.per_step || t == W - 1) && reel__push_y(out, (reel_real)y))
			goto oom;
	}
	return 0;
oom:
	reel_err_set(err, REEL_ERR_NOMEM, "data: out of memory generating examples");
	return -1;
}
