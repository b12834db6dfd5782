/* Data sources: where a config's batches come from.
 *
 * A source is opened from plain options (reel_data_opts; models/config.c
 * fills them from the config's "data" section, so this file knows nothing
 * of JSON) and hands out padded, time-major batches for one of three splits.
 * Everything is deterministic given the seed: the same options give the same
 * batches on every machine.  The splits never overlap: generators split their
 * example space by a hash of each example's key (as tasks.h does), files are
 * split by position (contiguous parts of a stream or series) or by line
 * (whole examples), or come from separate files.
 *
 * Sources (opts.source):
 *   generators (no files)
 *     "adding"    adding problem (Hochreiter & Schmidhuber 1997): inputs
 *                 (T, B, 2) = (value in [0,1), marker), T = `length`, one
 *                 marker in each half, target the sum of the two marked
 *                 values; task regress, last step only (per_step 0).
 *     "copy"      copy memory (Arjovsky et al. 2016): 10 symbols from 8,
 *                 `delay` blanks, a go marker, 10 blanks during which the
 *                 model must output the 10 symbols; task tag (blank label
 *                 elsewhere).  Input ids 0 <pad>, 1 blank, 2 go, 3..10 the
 *                 symbols; labels 0 blank, 1..8 the symbols.
 *     "reverse"   string reversal, seq2seq (tasks.h; min_len..max_len)
 *     "dates"     date normalisation, seq2seq (tasks.h)
 *     "mackey_glass"  Mackey-Glass series (tau 17; Euler, dt 0.1, sampled
 *                 once per time unit; 30000 samples whose first, middle
 *                 and last parts by valid_frac/test_frac are the splits),
 *                 task regress: a window of `window` values from a random
 *                 start -> the value `horizon` steps after the window's
 *                 end (or, per_step, each step's value `horizon` on).
 *     "unsegmented"  letter strings (min_len..max_len of 5 letters) rendered
 *                 as 8 real features per frame, 2-4 frames a letter under a
 *                 rise-and-fall envelope, 0-1 silent frames between, noise
 *                 std `noise` (models/data_ctc.c); task ctc: the labels are
 *                 the letters only (1..5; class 0 is the blank), no
 *                 alignment.
 *     "sine"      noisy sines (noise std `noise`) of random frequency and
 *                 phase, `window` steps; targets as mackey_glass, noiseless.
 *     "bimodal"   sines of random frequency and phase as inputs, targets
 *                 +-(0.7 + 0.3 x_t) with a fair sign per step plus noise
 *                 std `noise`: two modes at every step, for mdn outputs
 *                 (models/data_bimodal.c); task regress.
 *   Generators' splits: adding, copy, sine, reverse and dates split their
 *   example space by a hash of each example's key (reel_task_key_split:
 *   9/10 train, 1/20 valid, 1/20 test); valid and test are fixed sets of
 *   valid_size and test_size examples; training is an endless stream, one
 *   pass being epoch_size examples (rewinding train starts a new epoch,
 *   the stream goes on).
 *   files (path relative to opts.dir unless absolute)
 *     "text"      language model on a text file: characters (UTF-8) or
 *                 whitespace tokens with "<eos>" ending each line that has
 *                 one; vocabulary from the training split (unseen tokens
 *                 of valid/test map to <unk>).  Stream mode (the default
 *                 for lm): the split is cut into B parallel streams and
 *                 each batch is the next `seq_len` steps of every stream,
 *                 so a carried state continues across batches (truncated
 *                 BPTT); B must stay the same within a pass.  Otherwise
 *                 windows of seq_len: random starts for training (as many
 *                 per pass as the split holds windows), consecutive ones
 *                 for valid/test.
 *     "csv"       numeric series, one row per time step: `columns` inputs
 *                 (default all), `targets` outputs (default the inputs);
 *                 column names from a header line or 0-based indices;
 *                 fields separated by commas, no quoting; windows of
 *                 `window` steps at every start -> targets `horizon` steps
 *                 after the window's end (or per step); z-score
 *                 normalisation of every column from the training rows,
 *                 stored with the model.  Task regress.
 *     "tsv"       seq2seq pairs `source<TAB>target`, characters or
 *                 space-separated tokens; vocabularies from training.
 *                 Source ids 0 <pad>, 1 <unk>, then the tokens sorted;
 *                 target ids 0 pad, 1 bos, 2 eos, 3 <unk>, then sorted.
 *     "labelled"  `label<TAB>sequence` for classify; for tag the label
 *                 field is one tag per token, space-separated.  Input ids
 *                 as tsv's source; labels and tags sorted from 0; a label
 *                 or tag of valid/test unseen in training is an error.
 *     "safetensors"  ready batches: `inputs` (T, N, F) or `tokens` (T, N)
 *                 (I32/I64), optional `lengths` (N), `targets`: classify
 *                 (N), tag/lm (T, N), regress (N, O) or per_step (T, N, O),
 *                 seq2seq (TT, N) ids ending in eos 2 (`tokens` are then
 *                 the sources); N examples are cut into batches, each
 *                 trimmed to its longest; vocab and classes are the
 *                 largest id + 1.
 *   Line formats skip blank lines and drop a trailing '\r'.  Every file
 *   may be gzipped (or dictzip'd, as dictd dictionaries are): it is
 *   decompressed with zlib on reading.
 *     "idx"       images (N, rows, cols) and labels (N) of unsigned bytes in
 *                 idx files (MNIST, Fashion-MNIST), for classify: each image
 *                 is a sequence of `rows` steps of `cols` pixels scaled to
 *                 [0, 1] (read row by row).  `images` and `labels` give the
 *                 training files, whose last valid_frac (and test_frac)
 *                 are held out; `test_images` and `test_labels` an own
 *                 test split (the official one).  Classes are the largest
 *                 training label + 1; a larger valid/test label is an
 *                 error.
 *
 * Batching: training examples are reshuffled each pass (shuffle); with
 * bucket, they are then sorted by length within pools of 50 batches and
 * the batches served in shuffled order.  Valid and test come in file (or
 * generated) order, sorted within pools when bucket is set.
 *
 * Ownership: reel_data_open returns a source the caller frees with
 * reel_data_free; it copies what it keeps of the options, whose strings
 * need live only during the call.  A batch's arrays belong to the source
 * and stay valid until the next reel_data_next on the same source; they
 * grow to the largest batch seen and are reused. */
#ifndef REEL_DATA_H
#define REEL_DATA_H

#include "reel.h"

typedef enum reel_task_type {
	REEL_TASK_LM, REEL_TASK_CLASSIFY, REEL_TASK_TAG, REEL_TASK_REGRESS, REEL_TASK_SEQ2SEQ,
	REEL_TASK_CTC /* unsegmented labels (T, B), left-aligned and padded with REEL_DATA_IGNORE; class 0 the blank */
} reel_task_type;

/* (Named reel_data_split: reel_split is the engine's op that splits a tensor.) */
typedef enum reel_data_split { REEL_TRAIN, REEL_VALID, REEL_TEST } reel_data_split;

/* Label value at padded or unlabelled positions (cross-entropy ignores it). */
#define REEL_DATA_IGNORE (-100)

typedef struct reel_data_opts {
	const char *source;     /* see above */
	const char *dir;        /* relative paths are resolved against it; NULL = "." */
	reel_task_type task;    /* which targets to produce */
	uint64_t seed;          /* default 1 */
	/* files: path, or separate split files (valid/test optional: then the
	 * last valid_frac / test_frac of path's examples or stream) */
	const char *path, *valid_path, *test_path;
	double valid_frac, test_frac; /* defaults 0.1, 0.1 */
	int tokens_words;       /* text/tsv/labelled: 0 characters (default), 1 whitespace-separated tokens */
	int seq_len;            /* text: steps per batch (default 64) */
	int max_vocab;          /* text: at most this many ids, <pad> and <unk> included: the most frequent
	                         * training tokens, the rest <unk> (0, the default: every training token) */
	int stream;             /* text: 1 consecutive streams (default for lm), 0 random windows */
	const char *const *columns; int n_columns; /* csv inputs (0: every column) */
	const char *const *targets; int n_targets; /* csv outputs (0: the inputs) */
	int header;             /* csv: 1 if the first line names the columns (default 1) */
	int window, horizon;    /* csv, mackey_glass, sine: T (default 50) and steps ahead (default 1) */
	int normalize;          /* csv: z-score from training (default 1) */
	const char *images, *labels;           /* idx: training files */
	const char *test_images, *test_labels; /* idx: the test split's files (optional) */
	int per_step;           /* regress: targets at every step (1) or only the last (0) */
	/* generators */
	int length;             /* adding: T (default 50) */
	int delay;              /* copy: blanks between the symbols and the go marker (default 10) */
	int min_len, max_len;   /* reverse: source lengths (default 1, 10) */
	double noise;           /* sine: Gaussian noise std (default 0.1) */
	int valid_size, test_size; /* generators: examples in valid and test (default 1000 each) */
	int epoch_size;         /* generators: examples per training epoch (default 10000) */
	/* batching */
	int bucket;             /* 1: group examples of similar length into batches (default 0) */
	int shuffle;            /* 1: reshuffle training examples each epoch (default 1) */
	/* data parallel: this process takes part shard_rank of shard_count of
	 * every batch (default 0 of 1: all of it); see reel_data_set_shard */
	int shard_rank, shard_count;
} reel_data_opts;

/* Defaults for every field (source NULL, task LM). */
reel_data_opts reel_data_defaults(void);

/* What the model needs to know to size itself ("auto" sizes in configs). */
typedef struct reel_data_info {
	int tokens_in;     /* 1: inputs are token ids (use an embedding); 0: real features */
	int vocab;         /* token inputs: vocabulary size (ids 0..vocab-1), specials included */
	int features;      /* real inputs: F */
	int classes;       /* classify, tag, lm: number of output classes */
	int outputs;       /* regress: values per target */
	int src_vocab, tgt_vocab, bos, eos, pad; /* seq2seq */
	int max_len;       /* longest sequence seen (or generated), for memory estimates */
	long n[3];         /* examples (or stream steps for text) per split; -1 unbounded */
} reel_data_info;

typedef struct reel_batch {
	int B, T;             /* batch size, time steps of the input */
	int F;                /* features per step (0 with tokens) */
	reel_real *inputs;    /* (T, B, F) or NULL */
	int32_t *tokens;      /* (T, B) or NULL; padding 0 */
	int *lengths;         /* (B), each in [1, T] */
	int32_t *labels;      /* classify (B); tag, lm (T, B) with REEL_DATA_IGNORE at padding */
	int O;                /* regress: values per target */
	reel_real *targets;   /* regress: (T, B, O) per step or (B, O) last step */
	/* seq2seq (tokens/inputs unused): as reel_s2s_batch */
	int32_t *src;         /* (S, B) */
	int *src_len;         /* (B) */
	int S;
	int32_t *tgt;         /* (TT, B): target ids ending in eos, padded */
	int TT;
	int stream_reset;     /* text stream: 1 at the first batch of a pass (drop carried state) */
} reel_batch;

typedef struct reel_data reel_data;

/* Open a source: reads and validates files (a malformed line is an error
 * naming the file and line), builds vocabularies and normalisation.
 * NULL with err set on failure. */
reel_data *reel_data_open(const reel_data_opts *o, reel_err *err);
void reel_data_free(reel_data *d); /* NULL is a no-op */

reel_data_info reel_data_get_info(const reel_data *d);

/* The next batch of up to B examples of split into *b.  Returns 1 with a
 * batch, 0 at the end of a pass over the split (no batch; the next call
 * starts a new pass, reshuffled for training), or -1 with err set.
 * Training passes over generators are epoch_size examples long.  The last
 * batch of a pass may be smaller than B (b->B says). */
int reel_data_next(reel_data *d, reel_data_split split, int B, reel_batch *b, reel_err *err);

/* Data parallel: from now on every batch of every split is the global
 * batch of B examples (or B streams) that one process would get, of which
 * this source assembles only part rank of count: the examples (streams)
 * [lo, hi) of reel_data_shard_range.  Every rank draws the same sequence of
 * global batches (the order is deterministic from the seed; generators
 * still generate every example, file and series sources read only the
 * shard's), so the ranks together see exactly what one process sees.  A
 * shard may be empty (a last batch smaller than count): reel_data_next then
 * returns 1 with b->B == 0 and no arrays.  REEL_ERR_ARG unless
 * 0 <= rank < count. */
reel_status reel_data_set_shard(reel_data *d, int rank, int count, reel_err *err);
/* The part [*lo, *hi) of a global batch of B that rank of count takes:
 * contiguous, sizes differing by at most one. */
void reel_data_shard_range(int B, int rank, int count, int *lo, int *hi);

/* Start split over from its beginning (valid/test before each evaluation). */
void reel_data_rewind(reel_data *d, reel_data_split split);

/* Token strings for printing: input side (lm, classify, tag, seq2seq
 * source) and output side (tag labels, classify labels, seq2seq target).
 * NULL for an id out of range. */
const char *reel_data_input_token(const reel_data *d, int id);
const char *reel_data_output_token(const reel_data *d, int id);

/* A user's text s[0..n) as input ids, tokenized as the source tokenizes
 * (UTF-8 characters, or whitespace-separated words): *ids gets a malloc'd
 * array the caller frees.  A token outside the input vocabulary (or the
 * padding token typed literally) becomes <unk> when the vocabulary has one
 * (counted in *unknown when non-NULL), else it is an error naming it.
 * Returns the number of ids (0 for blank text), or -1 with err set
 * (REEL_ERR_ARG; REEL_ERR_NOMEM). */
int reel_data_encode(const reel_data *d, const char *s, size_t n, int32_t **ids, int *unknown, reel_err *err);

/* How often each input id occurs in the training split of a token stream
 * (the text source), into counts (V); ids >= V are not counted.  Returns
 * 0, or -1 when the source keeps no training token stream (sources other
 * than text). */
int reel_data_train_counts(const reel_data *d, double *counts, int V);

/* What the source built from training data (vocabularies, normalisation
 * statistics) as a JSON string, for storing with the model; the caller
 * frees it with free().  NULL if out of memory. */
char *reel_data_state_json(const reel_data *d);

#endif
