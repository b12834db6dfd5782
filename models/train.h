/* The training loop of a config's model, and its run directory.
 *
 * A run directory holds what a run wrote:
 *   config.json         the resolved config (defaults filled in, --set applied, "auto" sizes resolved)
 *   metrics.jsonl       one JSON object per logged update and per validation
 *   last.safetensors    the checkpoint: parameters, optimizer moments, carried
 *                       stream states; in the metadata the resolved config, the
 *                       data's vocabularies and the run state (step, epoch, data
 *                       position, RNG, early stopping); at every checkpoint_every
 *                       updates (default: at every validation) and at the end
 *   best.safetensors    the same at the best validation metric
 *
 * Resume (opts.resume) continues from last.safetensors exactly: the data
 * source is deterministic from its seed, so its position is the number of
 * training batches drawn, replayed without model work and checked against
 * a hash of the last batch; at a fixed thread count the resumed run ends
 * with bitwise the parameters of an uninterrupted one.  The config given on
 * resume is compared with the checkpoint's path by path: the model, the
 * data and the batch must match; training keys (steps, learning rate,
 * schedule, cadences) may change, are reported, and take effect.
 * Every file is written atomically (temporary file, fsync, rename). */
#ifndef REEL_TRAIN_H
#define REEL_TRAIN_H

#include <signal.h>
#include <stdio.h>

#include "model.h"

typedef struct reel_train_opts {
	const char *dir;                 /* run directory (created; must be empty or absent unless force) */
	int force;                       /* train into a non-empty directory */
	int resume;                      /* continue from dir/last.safetensors */
	FILE *log;                       /* progress (stderr); NULL: quiet */
	int tty;                         /* 1: redraw one progress line; 0: plain lines */
	volatile sig_atomic_t *stop;     /* set (by a signal handler) to stop after the current update */
} reel_train_opts;

typedef struct reel_train_result {
	long steps;                      /* updates made */
	int epochs;                      /* passes over the training data completed */
	double seconds;
	double last_loss;                /* running mean of the training loss */
	reel_metrics valid;              /* the last validation */
	reel_metrics best;               /* the best validation */
	long best_step;
	int stopped_early, interrupted;
	int already_finished;            /* resume: the checkpoint's run had ended; nothing was done */
	long skipped;                    /* updates skipped for non-finite values */
	int ranks;                       /* data parallel: processes (1: one) */
	double reduce_seconds;           /* data parallel: wall time in the sums (gradients, counts, statistics) */
	long reduce_calls;
} reel_train_result;

/* Train m as its config says, writing the run directory.  Returns REEL_OK,
 * or the error (bad directory: REEL_ERR_IO; a non-finite loss under the
 * "stop" policy: REEL_ERR_NUMERIC; ...) with err set. */
reel_status reel_train(reel_model *m, const reel_train_opts *o, reel_train_result *res, reel_err *err);

/* Create dir (and its parents) if absent; an error if it exists and is not
 * an empty directory, unless force. */
reel_status reel_run_dir(const char *dir, int force, reel_err *err);

/* Write text to path atomically: reel_write_atomic (safetensors.h). */
reel_status reel_write_file_atomic(const char *path, const char *text, reel_err *err);

/* Print a metrics set: "valid_loss 0.1234  accuracy 98.10%". */
void reel_metrics_print(const reel_metrics *mt, FILE *f);

#endif
