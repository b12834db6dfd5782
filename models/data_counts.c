/* Token counts of a text source's training split (data.h), for the
 * unigram proposal of sampled softmax. */
#include "data_internal.h"

int reel_data_train_counts(const reel_data *d, double *counts, int V)
{
	const reel__split *s = &d->sp[REEL_TRAIN];
	if (!s->ids || s->n_ids == 0)
		return -1;
	for (int k = 0; k < V; k++)
		counts[k] = 0;
	for (size_t i = 0; i < s->n_ids; i++)
		if (s->ids[i] >= 0 && s->ids[i] < V)
			counts[s->ids[i]]++;
	return 0;
}
