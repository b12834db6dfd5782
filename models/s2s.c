/* Seq2seq training and evaluation loops (see s2s.h). */
#include "s2s.h"
#include "reduce.h"
#include "fault.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVAL_BATCH 100

reel_status reel_s2s_train(reel_seq2seq *m, reel_params *ps, const reel_task *task, const reel_s2s_train_opts *o,
                           FILE *log, reel_err *err)
{
	reel_status st = REEL_OK;
	int B = o->batch;
	int32_t *src = reel__malloc((size_t)REEL_TASK_MAX_LEN * B * sizeof *src);
	int32_t *tgt = reel__malloc((size_t)REEL_TASK_MAX_LEN * B * sizeof *tgt);
	int *len = reel__malloc((size_t)B * sizeof *len);
	reel_tape *t = reel_tape_new(0, o->seed ^ 0x7a9e);
	reel_optim_opts oo = reel_optim_defaults(REEL_ADAM);
	oo.lr = o->lr;
	reel_optim *opt = reel_optim_new(ps, &oo, err);
	if (!src || !tgt || !len || !t || !opt) {
		st = opt ? reel_err_set(err, REEL_ERR_NOMEM, "s2s train: out of memory") : REEL_ERR_ARG;
		goto out;
	}
	reel_rng rng;
	reel_rng_seed(&rng, o->seed);
	reel_task train = *task;
	train.split = REEL_SPLIT_TRAIN;
	task = &train;
	reel_sched sched = {.kind = REEL_SCHED_COSINE, .t_max = o->steps - o->warmup, .eta_min = o->lr / 10,
	                    .warmup_steps = o->warmup, .warmup_start_factor = 0.1};
	double t0 = reel__seconds(), avg = 0;
	for (int s = 0; s < o->steps; s++) {
		int S, T;
		reel_task_batch(task, &rng, B, src, len, &S, tgt, &T, NULL, NULL);
		reel_s2s_batch b = {.src = src, .src_len = len, .S = S, .B = B, .tgt = tgt, .T = T};
		reel_tape_reset(t);
		reel_params_zero_grad(ps);
		reel_tensor *loss = reel_seq2seq_loss(t, m, &b, o->tf_ratio);
		if (!loss || reel_backward(t, loss) != REEL_OK) {
			st = reel_err_set(err, reel_tape_status(t), "s2s train, step %d: %s", s, reel_tape_error(t));
			goto out;
		}
		if (o->clip > 0)
			reel_clip_grad_norm(ps, o->clip);
		reel_optim_set_lr(opt, reel_sched_lr(&sched, o->lr, s));
		if ((st = reel_optim_step(opt, loss->data[0], err)) != REEL_OK)
			goto out;
		avg = s == 0 ? loss->data[0] : 0.98 * avg + 0.02 * loss->data[0];
		if (log && o->log_every > 0 && ((s + 1) % o->log_every == 0 || s + 1 == o->steps))
			fprintf(log, "  step %6d  loss %.4f  lr %.2e  %.1f steps/s\n", s + 1, avg, reel_optim_lr(opt),
			        (s + 1) / (reel__seconds() - t0));
	}
out:
	free(src);
	free(tgt);
	free(len);
	reel_tape_free(t);
	reel_optim_free(opt);
	return st;
}

reel_status reel_s2s_evaluate(const reel_seq2seq *m, const reel_task *task, uint64_t seed, int n, int beam,
                              reel_s2s_eval *ev, reel_err *err)
{
	memset(ev, 0, sizeof *ev);
	const int B = EVAL_BATCH, max_len = REEL_TASK_MAX_LEN;
	int32_t *src = reel__malloc((size_t)REEL_TASK_MAX_LEN * B * sizeof *src);
	int32_t *tgt = reel__malloc((size_t)REEL_TASK_MAX_LEN * B * sizeof *tgt);
	int *len = reel__malloc((size_t)B * sizeof *len);
	char(*want)[REEL_TASK_MAX_LEN] = reel__malloc((size_t)B * REEL_TASK_MAX_LEN);
	reel_tape *t = reel_tape_new(0, 1);
	reel_status st = REEL_OK;
	if (!src || !tgt || !len || !want || !t) {
		st = reel_err_set(err, REEL_ERR_NOMEM, "s2s evaluate: out of memory");
		goto out;
	}
	reel_rng rng;
	reel_rng_seed(&rng, seed ^ 0xe7a1u);
	reel_task held = *task;
	held.split = REEL_SPLIT_HELDOUT;
	task = &held;
	for (int done = 0; done < n; done += B) {
		int S, T;
		reel_task_batch(task, &rng, B, src, len, &S, tgt, &T, NULL, (char *)want);
		reel_s2s_batch b = {.src = src, .src_len = len, .S = S, .B = B};
		reel_s2s_result r;
		if (reel_s2s_result_init(&r, B, max_len, S) != REEL_OK) {
			st = reel_err_set(err, REEL_ERR_NOMEM, "s2s evaluate: out of memory");
			goto out;
		}
		st = beam > 1 ? reel_seq2seq_beam(t, m, &b, beam, max_len, 0.0, &r) : reel_seq2seq_greedy(t, m, &b, max_len, &r);
		if (st != REEL_OK) {
			reel_err_set(err, st, "s2s evaluate: %s", reel_tape_error(t));
			reel_s2s_result_deinit(&r);
			goto out;
		}
		for (int k = 0; k < B && done + k < n; k++) {
			char got[REEL_TASK_MAX_LEN + 1];
			reel_task_decode(task, r.tokens + (size_t)k * max_len, r.len[k], got);
			int ok = r.len[k] > 0 && r.tokens[(size_t)k * max_len + r.len[k] - 1] == REEL_TASK_EOS &&
			         !strcmp(got, want[k]);
			ev->n++;
			ev->correct += ok;
			ev->len_n[len[k]]++;
			ev->len_ok[len[k]] += ok;
		}
		reel_s2s_result_deinit(&r);
	}
out:
	free(src);
	free(tgt);
	free(len);
	free(want);
	reel_tape_free(t);
	return st;
}
