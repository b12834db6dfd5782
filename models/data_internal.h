/* Internals shared by the data-source files (data.c: batching, passes,
 * info, state; data_gen.c: generators; data_file.c: file readers).  Not
 * part of the public interface.
 *
 * Every split is served from one of four kinds of storage:
 *   FIXED   examples stored once at open (files; generators' valid/test)
 *   GEN     training examples generated pool by pool from an endless
 *           seeded stream (generators), epoch_size per pass
 *   SERIES  examples are windows of a series named by their start
 *           (csv, mackey_glass, text in window mode); materialised per
 *           batch into a scratch example set
 *   STREAM  text in stream mode: B parallel streams, seq_len per batch
 * An example set (reel__exset) owns flat arrays and one record per
 * example; batches are assembled from it into buffers the source owns and
 * grows only when a larger batch comes. */
#ifndef REEL_DATA_INTERNAL_H
#define REEL_DATA_INTERNAL_H

#include <stdio.h>

#include "data.h"
#include "tasks.h"

/* Growable arrays: *p has room for *cap elements of size elem.  Returns 0,
 * or -1 when the size overflows or memory runs out (*p unchanged). */
int reel__grow(void *p, size_t *cap, size_t need, size_t elem);
/* a * b into *out; 0, or -1 on overflow. */
int reel__mul(size_t a, size_t b, size_t *out);

typedef struct reel__ex {
	size_t in;     /* offset in tok (ids) or x (len * F reals) */
	size_t out;    /* tag/lm: offset in lab (len ids); seq2seq: in lab (out_len ids); regress: in y */
	int len;       /* input steps, >= 1 */
	int out_len;   /* seq2seq: target length without eos */
	int32_t label; /* classify */
} reel__ex;

typedef struct reel__exset {
	reel__ex *ex;
	size_t n, cap;
	int32_t *tok, *lab;
	size_t ntok, captok, nlab, caplab;
	reel_real *x, *y;
	size_t nx, capx, ny, capy;
	int max_len;
} reel__exset;

void reel__exset_free(reel__exset *s);
void reel__exset_clear(reel__exset *s); /* keeps the memory */
/* Append one zeroed example record: returns it or NULL on overflow/out of
 * memory.  The caller sets its offsets (the current ntok/nx, nlab/ny) and
 * lengths, and appends the values with the push functions below; the
 * record stays valid until the next reel__exset_add. */
reel__ex *reel__exset_add(reel__exset *s);
int reel__push_tok(reel__exset *s, int32_t v);
int reel__push_lab(reel__exset *s, int32_t v);
int reel__push_x(reel__exset *s, reel_real v);
int reel__push_y(reel__exset *s, reel_real v);

/* A vocabulary: id -> string (owned), string -> id by an open-addressing
 * hash.  The first n_special entries are fixed; reel__vocab_sort orders the
 * rest bytewise so ids do not depend on the order of the text. */
typedef struct reel__vocab {
	char **str;
	int *slen;
	int n, cap, n_special;
	int32_t *hash; /* ids, -1 empty */
	size_t hcap;   /* power of two */
} reel__vocab;

void reel__vocab_free(reel__vocab *v);
/* Id of s[0..len), or -1. */
int32_t reel__vocab_find(const reel__vocab *v, const char *s, int len);
/* Id of s, added when new; -1 when out of memory or over INT32_MAX. */
int32_t reel__vocab_add(reel__vocab *v, const char *s, int len);
int reel__vocab_sort(reel__vocab *v); /* 0 or -1 (out of memory) */

/* A whole file in memory: path resolved against the options' dir, the
 * contents NUL-terminated, gzip files (and dictzip's) decompressed. */
typedef struct reel__dfile {
	char *path;
	char *buf;
	size_t len;
} reel__dfile;

/* data_file.c: read dir/path (path alone when absolute or dir is NULL)
 * into f; an empty file is an error.  0, or -1 with err set (f is then
 * to be freed all the same).  reel__dfile_free(f) frees and zeroes it. */
int reel__dfile_read(reel__dfile *f, const char *dir, const char *path, reel_err *err);
void reel__dfile_free(reel__dfile *f);
/* data_idx.c: replace *buf[0..*len) (a gzip stream, possibly several
 * members) by its decompression, NUL-terminated.  0, or -1 with err set
 * naming path and the compressed offset ( *buf unchanged). */
int reel__gunzip(const char *path, char **buf, size_t *len, reel_err *err);
/* data_idx.c: set up the idx source.  0, or -1 with err set. */
int reel__idx_open(reel_data *d, const reel_data_opts *o, reel_err *err);

typedef enum reel__kind { REEL__FIXED, REEL__GEN, REEL__SERIES, REEL__STREAM } reel__kind;

struct reel_data;
/* Generators: append one example of split to out, drawn from rng.
 * Returns 0, or -1 with err set. */
typedef int (*reel__gen_fn)(struct reel_data *d, reel_data_split split, reel_rng *rng, reel__exset *out, reel_err *err);
/* Series: append the window starting at key of split to out. */
typedef int (*reel__fetch_fn)(struct reel_data *d, reel_data_split split, size_t key, reel__exset *out, reel_err *err);

typedef struct reel__split {
	reel__kind kind;
	reel__exset set;   /* FIXED; GEN train: the current pool */
	size_t *order;     /* this pass: example indices (FIXED, GEN) or window starts (SERIES) */
	size_t n_order, cap_order, pos;
	int active;        /* a pass is under way */
	long done;         /* GEN: examples handed out in this pass */
	/* SERIES: the range of starts [lo, hi) and, for fixed lists, the starts */
	size_t lo, hi;
	size_t *starts;
	size_t n_starts;
	int random_starts; /* SERIES train: n_random random starts per pass */
	size_t n_random;
	/* STREAM and text windows: the split's token ids */
	int32_t *ids;
	size_t n_ids;
	int stream_B;
	size_t stream_len, stream_t;
} reel__split;

struct reel_data {
	char *source;
	reel_task_type task;
	reel_data_opts o;          /* the caller's strings: set to NULL once open returns */
	reel_data_info info;
	reel__split sp[3];
	reel__exset scratch;       /* SERIES: the batch's windows */
	reel_rng gen_rng;          /* GEN train stream */
	reel_rng shuffle_rng;      /* train passes: shuffles, random starts */
	reel__gen_fn gen;
	reel__fetch_fn fetch;
	int F, O, tokens_in;
	reel__vocab in_vocab, out_vocab;
	reel_task s2s_task;        /* reverse, dates */
	/* series (csv, mackey_glass): rows x cols values, normalised */
	double *series;
	size_t rows;
	int cols;
	int *in_cols, *tgt_cols;   /* F and O column indices */
	char **col_names;          /* csv: cols names (or "0", "1", ...) */
	double *mean, *std;        /* csv: per column, from the training rows */
	/* batch buffers (grown, never shrunk) */
	int32_t *b_tokens, *b_labels, *b_tgt;
	reel_real *b_inputs, *b_targets;
	int *b_lengths;
	size_t cap_tokens, cap_labels, cap_tgt, cap_inputs, cap_targets, cap_lengths;
	size_t *b_idx;
	size_t cap_idx;
};

/* data_ctc.c: the "unsegmented" generator (ctc task). */
int reel__gen_unsegmented(reel_data *d, reel_data_split split, reel_rng *rng, reel__exset *out, reel_err *err);
/* data_bimodal.c: the "bimodal" generator (regress, two modes per step). */
int reel__gen_bimodal(reel_data *d, reel_data_split split, reel_rng *rng, reel__exset *out, reel_err *err);

/* data_gen.c: series sources (csv, mackey_glass).  Row ranges [rlo, rhi)
 * per split; required[s] makes a split too short for one window an error
 * (otherwise it is empty).  n_random > 0: training draws that many random
 * starts per pass and valid/test keep fixed_n[s] random starts drawn at
 * open; n_random == 0: every start, in order (training shuffled). */
int reel__series_setup(reel_data *d, const size_t rlo[3], const size_t rhi[3], const int required[3],
                       size_t n_random, const size_t fixed_n[3], const char *what, reel_err *err);
int reel__series_fetch(reel_data *d, reel_data_split split, size_t start, reel__exset *out, reel_err *err);
reel_status reel__task_mismatch(const reel_data *d, const char *supported, reel_err *err);

/* data_gen.c: set up a generator source (adding, copy, reverse, dates,
 * sine, mackey_glass).  0, or -1 with err set. */
int reel__gen_open(reel_data *d, reel_err *err);
/* data_file.c: set up a file source (text, csv, tsv, labelled,
 * safetensors).  0, or -1 with err set. */
int reel__file_open(reel_data *d, const reel_data_opts *o, reel_err *err);

/* Split boundaries for n items by fractions: train [0, a), valid [a, b),
 * test [b, n), valid taking round(n * vf) and test round(n * tf) (0 when
 * has_valid/has_test say the split comes from its own file). */
void reel__split_fracs(size_t n, double vf, double tf, int own_valid, int own_test, size_t *a, size_t *b);

static inline const char *reel__split_name(reel_data_split s)
{
	return s == REEL_TRAIN ? "train" : s == REEL_VALID ? "valid" : "test";
}

#endif
