/* Randomized truncation lengths for truncated BPTT (Tallec & Ollivier
 * 2017, "Unbiasing truncated backpropagation through time"), model.h.
 *
 * Within a chunk, each recurrent link (from step s - 1 into step s) is cut
 * or kept at random, and a kept link's gradient is divided by the
 * probability that it was kept.  A gradient path from a loss at step t
 * back to a use of the parameters at step u crosses the links u+1 .. t and
 * survives only if all are kept; it is then weighted by the product of
 * their 1 / P(kept | the draws before), whose expectation is 1 step by
 * step (condition on the draws so far: P(kept) / P(kept) = 1).  So the
 * expected gradient is the full BPTT gradient of the chunk, for any
 * per-link probabilities that depend only on earlier draws.
 *
 * Our probabilities: no cut within min_length steps of the last cut (or of
 * the chunk's start); after that, a cut with probability p = 1 /
 * (mean_length - min_length + 1) at every link.  The truncation lengths
 * (distances between cuts) are then min_length + a geometric number of
 * steps, of mean mean_length, and every kept link past min_length carries
 * the weight 1 / (1 - p). */
#include "model.h"

int reel_bptt_draw_links(reel_rng *rng, int T, int min_length, double mean_length, reel_real *link)
{
	double p = mean_length > min_length ? 1.0 / (mean_length - min_length + 1) : 1;
	int last = 0, cuts = 0;
	if (T > 0)
		link[0] = 1;
	for (int s = 1; s < T; s++) {
		if (s - last < min_length) {
			link[s] = 1;
		} else if (p >= 1 || reel_rng_uniform(rng) < p) {
			link[s] = 0;
			last = s;
			cuts++;
		} else {
			link[s] = (reel_real)(1.0 / (1.0 - p));
		}
	}
	return cuts;
}
