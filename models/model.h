/* Models from configs: the config's sections in C, the layer registry, the
 * model object (it owns its parameters and knows its config), its loss and
 * its evaluation.
 *
 * Reading a config is two passes over the same code: a dry pass that checks
 * every key, sizes every layer from the data ("auto") and estimates the
 * parameter count and the memory of one step without allocating anything,
 * then, if the file is clean and the estimate fits the machine, the pass
 * that creates the parameters.  All errors of a file are reported at once.
 *
 * Layers: a model for lm/classify/tag/regress is a list of layers applied in
 * order.  Each layer type is one entry of the registry table in
 * models/registry.c (a name, a one-line doc, the size of its state, a build
 * and a forward function); `reel list` prints the table with every option
 * from the builders themselves.  Seq2seq models are built from the
 * encoder/attention/decoder sections onto layers/seq2seq.h.
 *
 * Ownership: reel_model_new returns a model freed with reel_model_free; it
 * owns its parameter store, its data source, its config and its layers. */
#ifndef REEL_MODEL_H
#define REEL_MODEL_H

#include <stdio.h>

#include "config.h"
#include "data.h"
#include "reduce.h"
#include "optim.h"
#include "seq2seq.h"

/* ---- what flows from layer to layer ------------------------------------------- */

typedef struct reel_flow {
	int tokens; /* 1: token ids (T, B) not yet embedded; F is the vocabulary */
	int pooled; /* 1: (B, F) after pooling over time; 0: (T, B, F) */
	int F;
	int unknown; /* sizes unknown (the data section has errors): skip size checks */
} reel_flow;

/* ---- the config's sections --------------------------------------------------------- */

typedef struct reel_train_cfg {
	long steps;               /* total updates (0: from epochs) */
	int epochs;               /* passes over the training split (0: from steps) */
	int batch_size;
	reel_optim_opts optim;
	double clip_norm, clip_value; /* 0: off */
	reel_sched sched;         /* per update; plateau handled separately */
	int plateau;              /* 1: reduce on plateau of the validation loss */
	reel_plateau plateau_opts;
	int bptt_k1, bptt_k2;     /* truncated BPTT for streams (0: the data's seq_len) */
	int bptt_random;          /* 1: randomized truncation within each chunk (reel_bptt_draw_links) */
	int bptt_min;             /* its min_length */
	double bptt_mean;         /* its mean_length */
	int ss_negatives;         /* sampled softmax (lm training): negatives per batch (0: full softmax) */
	int ss_dist;              /* its proposal: REEL_SS_LOG_UNIFORM or REEL_SS_UNIGRAM */
	double tf_start, tf_end;  /* teacher-forcing ratio from start towards end (reel_tf_ratio) */
	long tf_steps;            /* linear: updates of the decay (0: none) */
	int tf_schedule;          /* REEL_TF_LINEAR, _EXPONENTIAL, _INVERSE_SIGMOID */
	double tf_k;              /* exponential: decay per update; inverse_sigmoid: k */
	long valid_every;         /* updates between validations (0: each epoch) */
	long checkpoint_every;    /* updates between checkpoints (0: at every validation) */
	int valid_batches;        /* 0: the whole validation split */
	int patience;             /* early stopping: validations without improvement (0: off) */
	int metric;               /* index into the task's metrics; 0 = valid_loss */
	int metric_max;           /* 1: higher is better */
	long log_every;
	uint64_t seed;
	int threads;
} reel_train_cfg;

typedef struct reel_decode_cfg {
	int beam, max_len, n_best;
	double alpha;
} reel_decode_cfg;

/* Scheduled sampling (Bengio et al. 2015): the teacher-forcing ratio at
 * update `step` (from 0), going from tf_start (s) towards tf_end (e):
 *   linear           s + (e - s) min(1, step / tf_steps)  (s throughout if tf_steps is 0)
 *   exponential      e + (s - e) k^step                   (0 < k < 1)
 *   inverse_sigmoid  e + (s - e) k / (k + exp(step / k))  (k >= 1)
 * The paper's schedules are these with s = 1, e = 0 (linear: its
 * max(epsilon, 1 - c i) with e = epsilon, tf_steps = (1 - e) / c). */
enum { REEL_TF_LINEAR, REEL_TF_EXPONENTIAL, REEL_TF_INVERSE_SIGMOID };
double reel_tf_ratio(const reel_train_cfg *tr, long step);

/* ---- layers -------------------------------------------------------------------------- */

typedef struct reel_layer reel_layer;

/* What a builder works with.  ps is NULL in the dry pass: read and check
 * the options, set the output flow, count parameters and memory, create
 * nothing. */
typedef struct reel_build_ctx {
	reel_params *ps;
	reel_rng *rng;
	reel_task_type task;
	const reel_data_info *info;
	int T, B;                 /* the longest sequence and the batch, for memory estimates */
	int index, count;         /* the layer's position in the list */
	int per_step;             /* regress: targets at every step (data.per_step) */
	size_t n_params;          /* running totals */
	double act_bytes;
	int unknown;              /* the data could not be opened: skip checks against its sizes */
	reel_err err;             /* a failure while creating parameters */
} reel_build_ctx;

/* Forward context: the batch being run. */
typedef struct reel_fwd_ctx {
	const int *lengths;       /* (B) */
	int T, B;
	int carry;                /* 0: no carried state; 1: the training streams'; 2: evaluation's */
	int reset;                /* drop carried states first */
	int nograd_prefix;        /* unused by layers */
	const reel_real *links;   /* (T) randomized truncation: weights of the recurrent links (reel_rnn_forward_links), or NULL */
	const reel_real *targets; /* (T, B, O) per-step regress targets (teacher forcing), or NULL */
	int O;
	double tf;                /* output recurrence: probability of feeding the target rather than the output (0: free running) */
} reel_fwd_ctx;

typedef struct reel_layer_type {
	const char *name;
	const char *doc;
	size_t state_size;
	/* Read options from o, check them against in, set out, count params
	 * and memory in b, and (when b->ps) create parameters named
	 * prefix + PyTorch names.  Returns REEL_OK, or an error (config errors
	 * go to the cfg; parameter creation errors to b->err). */
	reel_status (*build)(reel_layer *L, reel_cfg_obj *o, const reel_flow *in, reel_flow *out, reel_build_ctx *b);
	/* x: (T, B, F) or (B, F), or NULL with tokens (T, B) for the first layer. */
	reel_tensor *(*forward)(reel_tape *t, reel_layer *L, reel_tensor *x, const int32_t *tokens,
	                        const reel_fwd_ctx *c);
	void (*free)(reel_layer *L); /* optional: release what build allocated */
	/* Recurrent layers: the state carried between training batches of a
	 * stream, allocated for batch B (NULL if out of memory); NULL for
	 * layers without one.  Checkpoints save and restore it. */
	reel_rnn_carry *(*carry)(reel_layer *L, int B);
} reel_layer_type;

struct reel_layer {
	const reel_layer_type *type;
	char name[64];
	char prefix[72];          /* name + "." */
	reel_flow in, out;
	int first_param, nparams; /* the layer's parameters in the store */
	size_t n_params;
	void *state;              /* type->state_size bytes, zeroed */
};

/* What a registry layer was built with, from its private state (for
 * reel export): the recurrent driver's options (rnn, lstm, gru, mgu),
 * dropout's p, the activation function's or the pool mode's name. */
typedef struct reel_layer_opts {
	const reel_rnn_opts *rnn; /* NULL for non-recurrent layers */
	double p;
	const char *mode;         /* "tanh", "relu", "sigmoid"; "last", "mean", "max"; else NULL (tdnn: its
	                           * activation, NULL for none) */
	int context, dilation;    /* tdnn: taps and steps between them */
	int components;           /* mdn: K */
	const reel_linear *lin;   /* tdnn, mdn: the product (in: k F for tdnn; out: K (1 + 2 O) for mdn) */
} reel_layer_opts;
void reel__layer_opts(const reel_layer *L, reel_layer_opts *o);

/* The registry: every layer type, and lookup by name (NULL if unknown). */
const reel_layer_type *reel_layer_type_find(const char *name);
int reel_layer_type_count(void);
const reel_layer_type *reel_layer_type_at(int i);

/* Shared by the layers that feed their own output back (jordan, narx;
 * models/layer_jordan.c).  reel__feedback_place: the config errors of such
 * a layer's place (real vectors over time in, a regress task, the last
 * layer), named by its type.  reel__feedback_targets: with teacher forcing
 * on, the per-step targets must be there (else an error on the tape, 0).
 * reel__feedback_value: what step k feeds back, the target of step k with
 * probability c->tf (a draw from the tape's RNG), else y, its own output. */
void reel__feedback_place(reel_cfg_obj *o, const char *type, const reel_flow *in, const reel_build_ctx *b);
int reel__feedback_targets(reel_tape *t, const reel_layer *L, const reel_fwd_ctx *c, int O);
reel_tensor *reel__feedback_value(reel_tape *t, const reel_fwd_ctx *c, reel_tensor *y, int k, int B, int O);

/* The "jordan" layer (models/layer_jordan.c): output recurrence (Jordan
 * 1986), built and run through these from the registry's table. */
enum { REEL_JORDAN_OUTPUT, REEL_JORDAN_AVERAGE }; /* what is fed back: y_{t-1}, or the running average a_{t-1} */
typedef struct reel__jordan_state {
	reel_linear ih, yh, out; /* x -> H (bias), y_prev -> H (no bias), H -> O (bias) */
	int H, O;
	int feedback;            /* REEL_JORDAN_OUTPUT or _AVERAGE */
	double decay;            /* average: mu, fixed (or the initial value of a learned one) */
	reel_tensor *decay_logit; /* learned decay: the parameter p of mu = sigmoid(p) (1); NULL when fixed */
} reel__jordan_state;
reel_status reel__jordan_build(reel_layer *L, reel_cfg_obj *o, const reel_flow *in, reel_flow *out, reel_build_ctx *b);
reel_tensor *reel__jordan_forward(reel_tape *t, reel_layer *L, reel_tensor *x, const int32_t *tokens,
                                  const reel_fwd_ctx *c);

/* The "narx" layer (models/layer_narx.c): a nonlinear autoregressive
 * model with exogenous inputs, delay lines of the last dx inputs and the
 * last dy outputs into a tanh hidden layer. */
typedef struct reel__narx_state {
	reel_linear ih, yh, out; /* dx*F -> H (bias), dy*O -> H (no bias; absent when dy is 0), H -> O (bias) */
	int H, O, dx, dy;
} reel__narx_state;
reel_status reel__narx_build(reel_layer *L, reel_cfg_obj *o, const reel_flow *in, reel_flow *out, reel_build_ctx *b);
reel_tensor *reel__narx_forward(reel_tape *t, reel_layer *L, reel_tensor *x, const int32_t *tokens,
                                const reel_fwd_ctx *c);

/* Randomized truncated BPTT (Tallec & Ollivier 2017; models/bptt_random.c):
 * draw the weights of the recurrent links of a chunk of T steps into link
 * (T) for reel_rnn_forward_links: no cut within min_length steps of the
 * last cut or of the chunk's start, then a cut (0) with probability p =
 * 1 / (mean_length - min_length + 1) at each link, a kept link there
 * weighted 1 / (1 - p) so that the expected gradient is the chunk's full
 * BPTT gradient.  Truncation lengths are min_length + Geometric(p), of
 * mean mean_length.  Returns the number of cuts. */
int reel_bptt_draw_links(reel_rng *rng, int T, int min_length, double mean_length, reel_real *link);

/* ---- the model ---------------------------------------------------------------------- */

/* The task's metrics: names and whether higher is better.  Index 0 is
 * always "valid_loss". */
#define REEL_MAX_METRICS 6
typedef struct reel_metrics {
	int n;
	const char *name[REEL_MAX_METRICS];
	double value[REEL_MAX_METRICS];
	int higher_better[REEL_MAX_METRICS];
} reel_metrics;

typedef struct reel_model {
	reel_cfg *cfg;            /* the resolved config */
	reel_cfg *pre_cfg;        /* the pre-read that the data options point into */
	reel_task_type task;
	reel_data_opts data_opts;
	reel_data *data;
	reel_data_info info;
	reel_train_cfg train;
	reel_decode_cfg decode;
	reel_params *ps;
	reel_layer *layers;       /* lm/classify/tag/regress */
	int nlayers;
	reel_seq2seq s2s;         /* seq2seq */
	int is_s2s;
	size_t n_params;
	double est_bytes;         /* estimated memory: parameters, gradients, optimizer state, one step */
	int est_T;
	const reel_real *bptt_links; /* set by the training loop around a loss: reel_fwd_ctx.links */
	reel_reduce *reduce;      /* data parallel (not owned); NULL: one process */
	int training;             /* set by the training loop around a loss: sampled softmax (train.ss_negatives), teacher forcing of output recurrence */
	double *ss_cdf;           /* its unigram proposal's cumulative probabilities (V), made on first use */
} reel_model;

/* Build a model from config file path with --set overrides.  Returns
 * REEL_OK, REEL_ERR_CONFIG (err->msg holds every error of the file, one
 * per line), REEL_ERR_IO (a data file), or another error.  with_data 0:
 * no data source is opened (sizes must then be explicit; for `reel list`
 * and tests). */
reel_status reel_model_new(const char *path, const char *const *sets, int nsets, reel_model **out, char **errors,
                           reel_err *err);
void reel_model_free(reel_model *m);

/* Data parallel: train and evaluate as rank r->rank of r->size (the model
 * does not own r).  Shards the data source (reel_data_set_shard), so each
 * rank assembles only its part of every global batch; reel_train then sums
 * the gradients and reel_model_evaluate the statistics through r.  NULL or
 * a size-1 reducer: one process, as before. */
reel_status reel_model_set_reduce(reel_model *m, reel_reduce *r, reel_err *err);

/* Is the metric a rate (printed as a percentage, higher is better)? */
int reel_metric_is_rate(const char *name);

/* Task names and metric names of a task. */
const char *reel_task_name(reel_task_type t);
reel_metrics reel_task_metrics(reel_task_type t);

/* Per-batch statistics for metrics (accumulated by the loss). */
typedef struct reel_batch_stats {
	double loss_sum;   /* loss summed over counted items */
	double count;      /* counted items (tokens, sequences, values) */
	double correct;    /* classify/tag/lm: argmax hits; seq2seq: exact matches */
	double abs_err;    /* regress */
	double sq_err;
	double seqs;       /* seq2seq: sequences */
	double tok_ok, tok_n; /* seq2seq token accuracy */
	double edits, ref_len; /* ctc: edit distance of greedy decodings, reference labels */
} reel_batch_stats;

/* The training loss of a batch (mean over counted items) on t; stats
 * (when non-NULL) accumulate.  tf_ratio: seq2seq teacher forcing.
 * NULL on error (message on the tape). */
reel_tensor *reel_model_loss(reel_tape *t, reel_model *m, const reel_batch *b, double tf_ratio, int carry,
                             reel_batch_stats *st);

/* The number of items reel_model_loss averages over for batch b (tokens
 * not ignored, sequences, target values, target tokens): data parallel
 * training weighs each rank's mean by it. */
double reel_model_loss_count(const reel_model *m, const reel_batch *b);

/* The ctc task's loss (models/ctc_task.c): logits y (T, B, C) through
 * log_softmax into reel_ctc_loss with blank 0 and PyTorch's 'mean'
 * reduction, the targets the labels of b (T, B) up to the first
 * REEL_DATA_IGNORE of each column; stats (when non-NULL) get the loss per
 * sequence and the greedy decodings' edit distance. */
/* Levenshtein distance between a[0..n) and b[0], b[bstride], ... (m ids),
 * with a scratch row of m + 1 ints (models/infer.c; CER and CTC's label
 * error rate). */
int reel__edit_distance(const int32_t *a, int n, const int32_t *b, int bstride, int m, int *row);

reel_tensor *reel__ctc_task_loss(reel_tape *t, reel_tensor *y, const reel_batch *b, reel_batch_stats *st);

/* CTC prefix beam search (Hannun et al. 2014, "First-pass large vocabulary
 * continuous speech recognition using bi-directional recurrent DNNs",
 * without a language model) over one sequence's per-frame
 * log-probabilities lp (T, C) row-major, blank `blank`: after each frame
 * the `beam` most probable labellings, each with the probability of its
 * paths that end in a blank and of those that end in its last label
 * (every path that collapses to it, while it stays in the beam).  Writes
 * the n_best most probable (best first) into out (n_best rows of
 * max(T, 1) ids), their lengths into out_len and their log-probabilities
 * into score.  With a beam at least as wide as the labellings the search
 * can reach, the scores are exact.  Cost per frame O(beam C log(beam C) +
 * beam^2 T).  Returns the number written (min(n_best, the beam's size)),
 * or -1 when out of memory. */
int reel_ctc_beam(const double *lp, int T, int C, int blank, int beam, int n_best, int32_t *out, int *out_len,
                  double *score);

/* The regress task when the model ends in an "mdn" layer
 * (models/mdn_task.c): the negative log-likelihood of the targets under
 * the mixture in y (rows of K (1 + 2 O), reel_mdn_nll), a mean over the
 * steps within each length (per_step) or over sequences; stats get the
 * NLL per row and the squared and absolute errors of the mixture mean.
 * reel__mdn_components: K for an mdn layer, else 0 (models/registry.c). */
reel_tensor *reel__mdn_task_loss(reel_tape *t, reel_tensor *y, const reel_batch *b, int per_step, int K,
                                 reel_batch_stats *st);
int reel__mdn_components(const reel_layer *L);
int reel_model_mdn_components(const reel_model *m); /* K of the model's mdn output, or 0 */

/* Sampled softmax (Jean et al. 2015; models/sampled_softmax.c).
 *
 * The proposal q over the V classes: log-uniform (Zipfian),
 * q(k) = log((k + 2) / (k + 1)) / log(V + 1), which presumes ids ranked by
 * frequency; or unigram, the training split's counts plus one (so that no
 * class has q = 0), given as cumulative probabilities cdf (V).
 * reel_sampled_prob is q(k) (cdf NULL: log-uniform); reel_sampled_draw
 * draws S ids with replacement from q into neg (S). */
enum { REEL_SS_LOG_UNIFORM, REEL_SS_UNIGRAM };
double reel_sampled_prob(int V, const double *cdf, int k);
void reel_sampled_draw(reel_rng *rng, int V, const double *cdf, int S, int32_t *neg);

/* The sampled softmax loss of hidden rows h (N, D) under an output layer
 * W (V, D), bias (V) or NULL, for targets (N) (ignore: rows not counted),
 * against the S negatives neg shared by all rows:
 *   o_i0 = h_i . W[y_i] + b[y_i] - logq[y_i]                     (N, 1)
 *   o_ij = h_i . W[s_j] + b[s_j] - logq[s_j], -inf if s_j = y_i   (N, S)
 *   loss = mean over counted rows of cross_entropy([o_i0, o_i.], 0)
 * logq (V): log of each class's expected count among the negatives,
 * log(S q(k)), or NULL for no correction.  Masking the accidental hits
 * and taking every class once as a negative without correction gives the
 * full softmax's cross-entropy.  A composition of gather, mul, sum_axis,
 * matmul, add, sub, concat and cross_entropy; NULL on error (tape). */
reel_tensor *reel_sampled_softmax_loss(reel_tape *t, reel_tensor *h, reel_tensor *W, reel_tensor *bias,
                                       const int32_t *targets, int32_t ignore, const int32_t *neg, int S,
                                       const reel_real *logq);

/* The lm task's training loss with train.sampled_softmax: h (T, B, D) the
 * input of the model's last layer, which must be linear; negatives drawn
 * from the tape's RNG. */
reel_tensor *reel__sampled_lm_loss(reel_tape *t, reel_model *m, reel_tensor *h, const reel_batch *b,
                                   reel_batch_stats *st);

/* Run the model over a split without gradients: its metrics.  max_batches
 * 0: all.  Data parallel (m->reduce): each rank runs its shard of every
 * batch and the statistics are summed, so every rank gets the metrics of
 * the whole split; a collective call. */
reel_status reel_model_evaluate(reel_model *m, reel_data_split split, int max_batches, reel_metrics *out, reel_err *err);

/* Print the Keras-like summary (layers, output shapes, parameters, counts,
 * memory) to f. */
void reel_model_summary(const reel_model *m, FILE *f);

/* Write the parameters (and the resolved config in the metadata) to path,
 * atomically. */
reel_status reel_model_save(const reel_model *m, const char *path, reel_err *err);
/* Add what reel_model_save writes (parameters; in the metadata the format,
 * the resolved config, the data source's vocabularies and normalisation,
 * and the matrix-product plan) to w; checkpoints add their own to it.
 * path is for messages. */
reel_status reel__model_add_to(const reel_model *m, reel_st_writer *w, const char *path, reel_err *err);
/* Load parameters saved by reel_model_save (or PyTorch, by name). */
reel_status reel_model_load(reel_model *m, const char *path, reel_err *err);

/* The model's output for batch b (lm/classify/tag/regress): logits
 * (T, B, V), (B, C) or predictions.  carry as in reel_fwd_ctx. */
reel_tensor *reel_model_forward(reel_tape *t, reel_model *m, const reel_batch *b, int carry);

/* Initialise the parameters from a safetensors file (a PyTorch state_dict
 * saved with safetensors.torch.save_file), matched by name and shape.
 * prefix_map "from=to" (or NULL): the file's from+X initialises to+X.  On a
 * mismatch nothing changes, *report (caller frees) lists every missing,
 * extra and misshapen tensor, and err says how many. */
reel_status reel_model_init_from(reel_model *m, const char *path, const char *prefix_map, char **report, reel_err *err);

/* One forward and backward on the batch in batch_path (dropout off), written
 * to out_path: "loss", "outputs" (not for seq2seq) and "grad.<name>" for
 * every parameter.  Batch tensors: tokens (T, B) or inputs (T, B, F),
 * optional lengths (B), and labels (B) for classify, labels (T, B) for
 * lm/tag (-100 ignored), targets (T, B, O) or (B, O) for regress; seq2seq:
 * src (S, B), src_len (B), tgt (T, B) ending in eos and padded with pad. */
reel_status reel_model_grad(reel_model *m, const char *batch_path, const char *out_path, double *loss, reel_err *err);

/* Finite-difference check of the whole model's gradients on one training
 * batch: per_param elements of every parameter (evenly spread), central
 * differences of the loss; prints the worst relative error per parameter
 * to out; *failed counts parameters over atol + rtol |g|. */
reel_status reel_model_gradcheck(reel_model *m, int per_param, double rtol, double atol, FILE *out, int *failed,
                                 reel_err *err);

/* `reel export`: write to f a self-contained PyTorch module (Python source)
 * whose state_dict names and shapes are the model's parameters, so that a
 * file reel saves (or `reel grad --params` reads) loads unchanged, and whose
 * forward computes what reel computes with dropout off.  params_path (or
 * NULL) is the file the source's __main__ block loads by default.  Layer
 * kinds PyTorch lacks (mgu) are REEL_ERR_ARG naming the layer, with
 * nothing written. */
reel_status reel_model_export(const reel_model *m, const char *params_path, FILE *f, reel_err *err);

/* `reel list`: every layer type and config section with its options. */
void reel_model_describe(FILE *f);

#endif
