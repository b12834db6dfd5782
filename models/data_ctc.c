/* The "unsegmented" generator (data.h): strings over a five-letter
 * alphabet rendered as frames the way a speech front end sees syllables,
 * for the ctc task.  Each letter lasts 2 to 4 frames under a rise-and-fall
 * envelope, sin(pi (j + 1/2) / d) at frame j of d, times its fixed 8-dim
 * prototype, with 0 or 1 silent frames after it and Gaussian noise of std
 * `noise` on every frame.  Repeated letters are separated only by the dip
 * of the envelope, so a model must find the boundaries itself; no frame
 * alignment is given: the labels are the letters alone (time-major like a
 * tag task's, left-aligned, padded with REEL_DATA_IGNORE).
 *
 * Split key: the letters, durations and gaps, so an example (up to its
 * noise) never occurs in two splits. */
#include "data_internal.h"

#include <math.h>

#define UNSEG_LETTERS 5
#define UNSEG_F 8

/* prototypes: cos(1.3 (k + 1) (j + 1) + k), unit-free and pairwise distinct */
static double proto(int k, int j) { return cos(1.3 * (k + 1) * (j + 1) + k); }

int reel__gen_unsegmented(reel_data *d, reel_data_split split, reel_rng *rng, reel__exset *out, reel_err *err)
{
	int sym[REEL_TASK_MAX_LEN], dur[REEL_TASK_MAX_LEN], gap[REEL_TASK_MAX_LEN], U, T;
	uint64_t key;
	reel_task_split want = split == REEL_TRAIN ? REEL_SPLIT_TRAIN : split == REEL_VALID ? REEL_SPLIT_VALID : REEL_SPLIT_TEST;
	do {
		U = d->o.min_len + (int)reel_rng_below(rng, (uint64_t)(d->o.max_len - d->o.min_len + 1));
		key = (uint64_t)U;
		T = 0;
		for (int u = 0; u < U; u++) {
			sym[u] = (int)reel_rng_below(rng, UNSEG_LETTERS);
			dur[u] = 2 + (int)reel_rng_below(rng, 3);
			gap[u] = (int)reel_rng_below(rng, 2);
			key = key * 1000003u + (uint64_t)(sym[u] * 6 + (dur[u] - 2) * 2 + gap[u]);
			T += dur[u] + gap[u];
		}
	} while (reel_task_key_split(key * 0x9e3779b97f4a7c15ULL) != want);
	reel__ex *e = reel__exset_add(out);
	if (!e)
		goto oom;
	e->in = out->nx;
	e->out = out->nlab;
	e->len = T;
	for (int u = 0; u < U; u++)
		for (int j = 0; j < dur[u] + gap[u]; j++) {
			double env = j < dur[u] ? sin(3.14159265358979323846 * (j + 0.5) / dur[u]) : 0;
			for (int f = 0; f < UNSEG_F; f++)
				if (reel__push_x(out, (reel_real)(env * proto(sym[u], f) + d->o.noise * reel_rng_normal(rng))))
					goto oom;
		}
	for (int t = 0; t < T; t++)
		if (reel__push_lab(out, t < U ? sym[t] + 1 : REEL_DATA_IGNORE))
			goto oom;
	if (T > out->max_len)
		out->max_len = T;
	return 0;
oom:
	reel_err_set(err, REEL_ERR_NOMEM, "data: out of memory generating examples");
	return -1;
}
