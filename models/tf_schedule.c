/* Teacher-forcing schedules (model.h: reel_tf_ratio). */
#include "model.h"

#include <math.h>

double reel_tf_ratio(const reel_train_cfg *tr, long step)
{
	double s = tr->tf_start, e = tr->tf_end, i = (double)step;
	switch (tr->tf_schedule) {
	case REEL_TF_EXPONENTIAL: return e + (s - e) * pow(tr->tf_k, i);
	case REEL_TF_INVERSE_SIGMOID: {
		double k = tr->tf_k, z = i / k;
		return z > 700 ? e : e + (s - e) * k / (k + exp(z)); /* exp overflows past 709 */
	}
	default: return tr->tf_steps > 0 ? s + (e - s) * fmin(1.0, i / (double)tr->tf_steps) : s;
	}
}
