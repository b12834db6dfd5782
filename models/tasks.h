/* Synthetic sequence-to-sequence tasks, generated in code from a seed (no
 * downloads): the same seed gives the same examples on every machine.
 *
 *  reverse  a string over a small alphabet ("a".."j") -> the same reversed;
 *           source lengths uniform in [min_len, max_len]
 *  dates    a date from 1950-2049 written in one of many human formats
 *           ("25th of June, 2009", "03/30/1968", "Tue 24 JUNE 1987", ...)
 *           -> ISO "YYYY-MM-DD"
 *
 * Both are character-level.  Target ids: 0 pad, 1 bos, 2 eos, then the
 * target characters; source ids: 0 pad, then the source characters. */
#ifndef REEL_TASKS_H
#define REEL_TASKS_H

#include "reel.h"

typedef enum reel_task_kind { REEL_TASK_REVERSE, REEL_TASK_DATES } reel_task_kind;

enum { REEL_TASK_PAD = 0, REEL_TASK_BOS = 1, REEL_TASK_EOS = 2 };

#define REEL_TASK_MAX_LEN 64

/* Which part of the example space to draw from.  The space is split once by
 * a hash of the example's key (the date itself for dates, in any format;
 * the source string for reversal): one key in ten is held out, so an
 * evaluation on REEL_SPLIT_HELDOUT sees no date and no string that training
 * on REEL_SPLIT_TRAIN can ever produce.  The held-out tenth is split again
 * by another bit of the same hash into REEL_SPLIT_VALID and REEL_SPLIT_TEST
 * (about one key in twenty each), which share no key either. */
typedef enum reel_task_split {
	REEL_SPLIT_ALL,
	REEL_SPLIT_TRAIN,
	REEL_SPLIT_HELDOUT, /* VALID and TEST together */
	REEL_SPLIT_VALID,
	REEL_SPLIT_TEST
} reel_task_split;

/* The split a key belongs to: REEL_SPLIT_TRAIN, REEL_SPLIT_VALID or
 * REEL_SPLIT_TEST.  Shared with the generators of data.h, which split their
 * own keys the same way. */
reel_task_split reel_task_key_split(uint64_t key);

typedef struct reel_task {
	reel_task_kind kind;
	reel_task_split split; /* REEL_SPLIT_ALL after init */
	int min_len, max_len; /* reverse: source length range */
	const char *src_chars, *tgt_chars;
	int src_vocab, tgt_vocab;
} reel_task;

/* name: "reverse" or "dates".  Returns REEL_ERR_ARG for another name or a
 * bad length range (1 <= min <= max <= REEL_TASK_MAX_LEN - 2). */
reel_status reel_task_init(reel_task *t, const char *name, int min_len, int max_len, reel_err *err);

/* One example as strings (NUL-terminated, each < REEL_TASK_MAX_LEN). */
void reel_task_example(const reel_task *t, reel_rng *rng, char *src, char *tgt);
/* As reel_task_example, but gives up after max_draws draws that fall
 * outside t->split (a short reversal range may hold few or no keys of a
 * split): returns 1 with an example, 0 without. */
int reel_task_example_bounded(const reel_task *t, reel_rng *rng, char *src, char *tgt, long max_draws);

/* A batch of B examples, time-major and padded: src (S, B) with
 * S = longest source, src_len (B); tgt (T, B) ending in eos, T = longest
 * target + 1.  Buffers are caller-provided with room for
 * REEL_TASK_MAX_LEN * B ids each.  Fills *S and *T; keeps the strings in
 * src_str/tgt_str ((B, REEL_TASK_MAX_LEN) chars) when those are non-NULL. */
void reel_task_batch(const reel_task *t, reel_rng *rng, int B, int32_t *src, int *src_len, int *S, int32_t *tgt,
                     int *T, char *src_str, char *tgt_str);

/* Target ids (up to n, stopping at eos) back to characters. */
void reel_task_decode(const reel_task *t, const int32_t *ids, int n, char *out);

#endif
