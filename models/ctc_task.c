/* The ctc task's loss and label error rate (model.h). */
#include "model.h"

#include <stdlib.h>

reel_tensor *reel__ctc_task_loss(reel_tape *t, reel_tensor *y, const reel_batch *b, reel_batch_stats *st)
{
	int T = b->T, B = b->B;
	/* the labels (T, B) time-major -> targets (B, T) and their lengths */
	int32_t *tg = reel_tape_alloc(t, (size_t)B * T * sizeof *tg);
	int *tl = reel_tape_alloc(t, (size_t)B * sizeof *tl);
	if (!tg || !tl)
		return NULL;
	for (int i = 0; i < B; i++) {
		int n = 0;
		while (n < T && b->labels[(size_t)n * B + i] != REEL_DATA_IGNORE) {
			tg[(size_t)i * T + n] = b->labels[(size_t)n * B + i];
			n++;
		}
		tl[i] = n;
	}
	reel_tensor *loss = reel_ctc_loss(t, reel_log_softmax(t, y), tg, T, b->lengths, tl, 0, REEL_CTC_MEAN);
	if (!loss || !st)
		return loss;
	int32_t *dec = reel_tape_alloc(t, (size_t)B * T * sizeof *dec);
	int *dl = reel_tape_alloc(t, (size_t)B * sizeof *dl), *row = reel_tape_alloc(t, ((size_t)T + 1) * sizeof *row);
	if (!dec || !dl || !row)
		return NULL;
	reel_ctc_greedy(y, b->lengths, 0, dec, dl);
	for (int i = 0; i < B; i++) {
		st->edits += reel__edit_distance(dec + (size_t)i * T, dl[i], tg + (size_t)i * T, 1, tl[i], row);
		st->ref_len += tl[i];
	}
	st->loss_sum += (double)loss->data[0] * B;
	st->count += B;
	return loss;
}
