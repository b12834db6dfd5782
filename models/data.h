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
 *                 (T, B, 2) = (value in [0,1), marker), target the sum of
 *                 the two marked values; task regress, last step.
 *     "copy"      copy memory (Arjovsky et al. 2016): 10 symbols from 8,
 *                 `delay` blanks, a go marker, then the model must output
 *                 the 10 symbols; task tag (blank label elsewhere).
 *     "reverse"   string reversal, seq2seq (tasks.h)
 *     "dates"     date normalisation, seq2seq (tasks.h)
 *     "mackey_glass"  Mackey-Glass series (tau 17), task regress: a window
 *                 of `window` values -> the value `horizon` steps ahead.
 *     "sine"      noisy sines of random frequency and phase, regress as
 *                 mackey_glass.
 *   files (path relative to opts.dir unless absolute)
 *     "text"      language model on a text file: characters or whitespace
 *                 tokens; vocabulary from the training split (unseen
 *                 tokens of valid/test map to <unk>).  Stream mode (the
 *                 default for lm): the split is cut into B parallel
 *                 streams and each batch is the next `seq_len` steps of
 *                 every stream, so a carried state continues across
 *                 batches (truncated BPTT); otherwise random windows.
 *     "csv"       numeric series, one row per time step: `columns` inputs,
 *                 `targets` outputs (column names from a header line or
 *                 0-based indices), windows of `window` steps -> targets
 *                 `horizon` steps after the window's end; z-score
 *                 normalisation from the training split, stored with the
 *                 model.  Task regress.
 *     "tsv"       seq2seq pairs `source<TAB>target`, characters or
 *                 space-separated tokens; vocabularies from training.
 *     "labelled"  `label<TAB>sequence` for classify; for tag the label
 *                 field is one tag per token, space-separated.
 *     "safetensors"  ready batches: `inputs` (T, N, F) or `tokens` (T, N),
 *                 optional `lengths` (N), `targets`; N examples are cut
 *                 into batches.
 *
 * Ownership: reel_data_open returns a source the caller frees with
 * reel_data_free.  A batch's arrays belong to the source and stay valid
 * until the next reel_data_next on the same source. */
#ifndef REEL_DATA_H
#define REEL_DATA_H

#include "reel.h"

typedef enum reel_task_type { REEL_TASK_LM, REEL_TASK_CLASSIFY, REEL_TASK_TAG, REEL_TASK_REGRESS, REEL_TASK_SEQ2SEQ } reel_task_type;

typedef enum reel_data_split { REEL_TRAIN, REEL_VALID, REEL_TEST } reel_data_split;

/* Label value at padded or unlabelled positions (cross-entropy ignores it). */
#define REEL_DATA_IGNORE (-100)

typedef struct reel_data_opts {
	const char *source;     /* see above */
	const char *dir;        /* relative paths are resolved against it; NULL = "." */
	reel_task_type task;    /* which targets to produce */
	uint64_t seed;
	/* files: path, or separate split files (valid/test optional: then the
	 * last valid_frac / test_frac of path's examples or stream) */
	const char *path, *valid_path, *test_path;
	double valid_frac, test_frac; /* defaults 0.1, 0.1 */
	int tokens_words;       /* text/tsv/labelled: 0 characters, 1 whitespace-separated tokens */
	int seq_len;            /* text: steps per batch (default 64) */
	int stream;             /* text: 1 consecutive streams (default for lm), 0 random windows */
	const char *const *columns; int n_columns; /* csv inputs */
	const char *const *targets; int n_targets; /* csv outputs */
	int header;             /* csv: 1 if the first line names the columns */
	int window, horizon;    /* csv, mackey_glass, sine: window length and steps ahead (default 1) */
	int normalize;          /* csv: z-score from training (default 1) */
	int per_step;           /* regress: targets at every step (1) or only the last (0) */
	/* generators */
	int length;             /* adding: T; sine/mackey_glass: series length per example */
	int delay;              /* copy: blanks between the symbols and the go marker */
	int min_len, max_len;   /* reverse */
	double noise;           /* sine: Gaussian noise std */
	int valid_size, test_size; /* generators: examples in valid and test (default 1000 each) */
	int epoch_size;         /* generators: examples per training epoch (default 10000) */
	/* batching */
	int bucket;             /* 1: group training examples of similar length into batches */
	int shuffle;            /* 1: reshuffle training examples each epoch (default 1) */
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

/* Start split over from its beginning (valid/test before each evaluation). */
void reel_data_rewind(reel_data *d, reel_data_split split);

/* Token strings for printing: input side (lm, classify, tag, seq2seq
 * source) and output side (tag labels, classify labels, seq2seq target).
 * NULL for an id out of range. */
const char *reel_data_input_token(const reel_data *d, int id);
const char *reel_data_output_token(const reel_data *d, int id);

/* What the source built from training data (vocabularies, normalisation
 * statistics) as a JSON string, for storing with the model; the caller
 * frees it with free().  NULL if out of memory. */
char *reel_data_state_json(const reel_data *d);

#endif
