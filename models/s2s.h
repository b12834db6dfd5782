/* Training and evaluation loops for sequence-to-sequence tasks: Adam,
 * gradient clipping, cosine decay with warm-up, held-out exact match. */
#ifndef REEL_S2S_H
#define REEL_S2S_H

#include <stdio.h>

#include "optim.h"
#include "seq2seq.h"
#include "tasks.h"

typedef struct reel_s2s_train_opts {
	int steps, batch;
	double lr, clip, tf_ratio; /* tf_ratio 1: always teacher forcing */
	int warmup;                /* linear warm-up steps, then cosine decay to lr / 10 */
	uint64_t seed;
	int log_every;             /* 0: quiet */
} reel_s2s_train_opts;

/* Train m (parameters in ps) on task's training split (REEL_SPLIT_TRAIN).  Progress lines go to log when
 * log_every > 0.  Returns REEL_OK, or the tape's / optimizer's error in err. */
reel_status reel_s2s_train(reel_seq2seq *m, reel_params *ps, const reel_task *task, const reel_s2s_train_opts *o,
                           FILE *log, reel_err *err);

typedef struct reel_s2s_eval {
	int n, correct;
	int len_n[REEL_TASK_MAX_LEN], len_ok[REEL_TASK_MAX_LEN]; /* by source length */
} reel_s2s_eval;

/* Exact-match accuracy on n examples of the held-out split
 * (REEL_SPLIT_HELDOUT: keys training never sees), drawn from seed, decoded
 * greedily (beam <= 1) or by beam search. */
reel_status reel_s2s_evaluate(const reel_seq2seq *m, const reel_task *task, uint64_t seed, int n, int beam,
                              reel_s2s_eval *ev, reel_err *err);

#endif
