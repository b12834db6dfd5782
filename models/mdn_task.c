/* The regress task with a mixture density output (model.h): the loss is
 * the mixture's negative log-likelihood, the mse and mae metrics are those
 * of the mixture's mean. */
#include "model.h"

#include <math.h>

reel_tensor *reel__mdn_task_loss(reel_tape *t, reel_tensor *y, const reel_batch *b, int per_step, int K,
                                 reel_batch_stats *st)
{
	int B = b->B, O = b->O, N = per_step ? b->T * B : B;
	reel_tensor *tg = reel_tensor_wrap(t, 2, (int[]){N, O}, b->targets);
	reel_tensor *mask = per_step ? reel_reshape2(t, reel_length_mask(t, b->lengths, b->T, B), N, 1) : NULL;
	reel_tensor *loss = reel_mdn_nll(t, y, tg, mask, K);
	if (!loss || !st)
		return loss;
	reel_real *mean = reel_tape_alloc(t, (size_t)O * sizeof *mean);
	if (!mean)
		return NULL;
	int P = K * (1 + 2 * O);
	double rows = 0, ae = 0, se = 0;
	for (int i = 0; i < N; i++) {
		if (mask && mask->data[i] == 0)
			continue;
		rows++;
		reel_mdn_mean(y->data + (size_t)i * P, K, O, mean);
		for (int o = 0; o < O; o++) {
			double d = (double)mean[o] - b->targets[(size_t)i * O + o];
			ae += fabs(d);
			se += d * d;
		}
	}
	/* valid_loss: the NLL per counted row (step or sequence); mse and mae
	 * per value, as the plain regress task's (reel_model_evaluate divides
	 * by count, so the errors are rescaled to rows) */
	st->loss_sum += (double)loss->data[0] * rows;
	st->count += rows;
	st->abs_err += ae / O;
	st->sq_err += se / O;
	return loss;
}
