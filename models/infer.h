/* Using a trained model: decoding (seq2seq), sampling (language models),
 * prediction (classify, tag, regress) and the task's evaluation report.
 * What the `reel` verbs decode, sample, predict and eval do, as calls a
 * user can make.
 *
 * Every function runs without gradients (the tape records no node) and in
 * evaluation mode (no dropout), on a tape of its own that it frees.
 * Sampling resets its tape after every step and carries the recurrent state
 * outside it, so its memory does not grow with the length generated.
 *
 * Text goes through the model's data source: inputs are tokenized with its
 * vocabulary (reel_data_encode), outputs printed with its token strings
 * (characters joined, words separated by spaces).  Errors: REEL_ERR_ARG for
 * input the model cannot take (a token outside a vocabulary without <unk>,
 * a verb for another task), REEL_ERR_IO, REEL_ERR_NOMEM, and the tape's
 * errors; the message is in err. */
#ifndef REEL_INFER_H
#define REEL_INFER_H

#include <stdio.h>

#include "model.h"

/* ---- printing tokens and attention ---------------------------------------------------- */

/* ids[0], ids[stride], ... (n of them) as text: input side (sources, lm
 * text) or output side (targets, tags, labels). */
void reel_infer_print_tokens(const reel_model *m, const int32_t *ids, int n, int stride, int input_side, FILE *f);

/* The attention of one decoded example as text: a header of the source's
 * first characters, then one row per output step (its token, then weights
 * in tenths: '.' below 0.05, '#' from 0.95).  src: slen ids at stride;
 * out: len ids (eos included if produced); attn: (len, S) row-major. */
void reel_infer_print_attention(const reel_model *m, const int32_t *src, int slen, int stride, const int32_t *out,
                                int len, const reel_real *attn, int S, FILE *f);

/* The same drawn as an SVG heatmap into path. */
reel_status reel_infer_attention_svg(const reel_model *m, const char *path, const int32_t *src, int slen, int stride,
                                     const int32_t *out, int len, const reel_real *attn, int S, reel_err *err);

/* Decode the first n validation examples with the config's decode settings
 * and print each as "source" -> "output" (correct, or the expected output)
 * with its attention as text; svg_path (or NULL): the first example's
 * attention as a picture.  What `reel train` prints at its end. */
reel_status reel_infer_show_examples(reel_model *m, int n, FILE *f, const char *svg_path, reel_err *err);

/* ---- decode ---------------------------------------------------------------------------- */

typedef struct reel_decode_opts {
	int beam;          /* 1: greedy */
	int n_best;        /* outputs per source, best first (<= beam) */
	int max_len;       /* output steps */
	double alpha;      /* beam: length normalisation, score = sum log p / len^alpha */
	int scores;        /* print scores */
	int attention;     /* print attention matrices as text */
	const char *attention_svg; /* draw the first source's attention here (NULL: no) */
} reel_decode_opts;

/* The config's decode section as options (nothing printed beyond outputs). */
reel_decode_opts reel_decode_defaults(const reel_model *m);

/* Decode the n sources in lines (one per string; blank ones must be
 * removed by the caller) and print, for each:
 *   OUTPUT                          greedy or n_best 1
 *   OUTPUT<TAB>SCORE                with scores
 *   LINE<TAB>RANK<TAB>OUTPUT[<TAB>SCORE]   n_best > 1 (LINE, RANK from 1)
 * and with attention, "SOURCE" -> "OUTPUT" and the matrix instead.
 * Sources are decoded in batches of 64. */
reel_status reel_infer_decode_lines(reel_model *m, char *const *lines, int n, const reel_decode_opts *o, FILE *f,
                                    reel_err *err);

/* ---- sample ---------------------------------------------------------------------------- */

typedef struct reel_sample_opts {
	const char *prime;   /* text fed first (printed too); NULL or "": a line start */
	double temperature;  /* logits / temperature; 0: argmax */
	int top_k;           /* 0: all tokens */
	int length;          /* tokens generated after the prime */
	uint64_t seed;
} reel_sample_opts;

/* A language model generates o->length tokens, one step at a time, each
 * drawn from softmax(logits / temperature) over the top_k most likely,
 * feeding each back with the recurrent state carried.  Prints the prime
 * and the tokens to f. */
reel_status reel_infer_sample(reel_model *m, const reel_sample_opts *o, FILE *f, reel_err *err);

/* ---- predict ------------------------------------------------------------------------- */

/* classify / tag on text lines: a line is a sequence, or "label<TAB>sequence"
 * as the labelled format has it (the label is ignored).  Prints per line
 *   classify: LABEL  (probs: LABEL<TAB>label=p label=p ... for every class)
 *   tag:      TAG TAG ... one per token (probs: TAG:p for each)  */
reel_status reel_infer_predict_lines(reel_model *m, char *const *lines, int n, int probs, FILE *f, reel_err *err);

/* classify / tag / regress over a split of the config's data: prints
 * "PREDICTED<TAB>ACTUAL" per example (tag: per example, tags joined;
 * regress: the values, per_step: the last step's).  svg_path (regress):
 * predicted and actual drawn against the example's index. */
reel_status reel_infer_predict_split(reel_model *m, reel_data_split split, int probs, FILE *f, const char *svg_path,
                                     reel_err *err);

/* ---- ctc -------------------------------------------------------------------------------- */

/* A ctc model's decodings of every example of a split (the inputs are
 * frames, so there are no text lines to read): greedy (o->beam 1: the best
 * path's labels, repeats merged, blanks dropped, as eval's label error rate
 * counts them) or prefix beam search (reel_ctc_beam).  Prints per example
 *   DECODED<TAB>ACTUAL[<TAB>SCORE]
 *   EXAMPLE<TAB>RANK<TAB>DECODED<TAB>ACTUAL[<TAB>SCORE]   n_best > 1 (from 1)
 * labels space-separated, through the data's output vocabulary when it
 * has one (else their ids).  SCORE: greedy, the best path's
 * log-probability; beam, the labelling's (summed over its paths).
 * o->max_len, alpha and attention are not used. */
reel_status reel_infer_ctc_split(reel_model *m, reel_data_split split, const reel_decode_opts *o, FILE *f,
                                 reel_err *err);

/* ---- the evaluation report ----------------------------------------------------------- */

typedef struct reel_eval_report {
	reel_metrics base;   /* reel_model_evaluate's (what training reports) */
	reel_task_type task;
	int K;               /* classify/tag: classes */
	double *confusion;   /* (K, K): rows actual, columns predicted (counts) */
	double r2;           /* regress: 1 - SSE / SST over every target value */
	double cer;          /* seq2seq: edit distance / target tokens (eos excluded) */
	long examples;
	/* free-running forecasts (reel_infer_forecast; horizon 0: not made) */
	int horizon;         /* H */
	int warmup;          /* true inputs per window: T - H + 1 */
	double *forecast_mse; /* (H): [h - 1] the MSE of the forecasts h steps ahead */
	double forecast_mean; /* their mean over h = 1..H */
	long forecast_windows;
} reel_eval_report;

/* The task's metrics on split.  Free with reel_eval_report_deinit. */
reel_status reel_infer_evaluate(reel_model *m, reel_data_split split, reel_eval_report *r, reel_err *err);
void reel_eval_report_deinit(reel_eval_report *r);

/* Free-running multi-step forecasts of a per-step regress model whose
 * targets are its inputs one step on (data horizon 1, as many outputs as
 * inputs: a series predicting its next value), over the split's windows
 * of T steps: the first T - H + 1 inputs are the true values (the
 * warm-up), each later input is the model's own output of the step
 * before, so the outputs of the last H steps are forecasts 1, ..., H
 * steps after the last true value.  Every layer is run as it is at
 * evaluation (an output recurrence runs free).  The model is rerun over
 * each prefix that gains a fed-back input (H runs per batch), which holds
 * for any causal stack of layers.  Fills r's horizon, warmup,
 * forecast_mse, forecast_mean and forecast_windows (r as
 * reel_infer_evaluate left it, or zeroed; freed by
 * reel_eval_report_deinit).  REEL_ERR_ARG for a model or data that cannot
 * feed its outputs back, or H outside [1, T]. */
reel_status reel_infer_forecast(reel_model *m, reel_data_split split, int H, reel_eval_report *r, reel_err *err);

/* Print as text, or as one JSON object (split names the split); with
 * the forecasts when r->horizon > 0. */
void reel_eval_report_print(const reel_model *m, const reel_eval_report *r, const char *split, int json, FILE *f);

/* ---- pictures of runs ------------------------------------------------------------------ */

/* Training and validation curves of the run directories dirs[0..n) (each
 * DIR/metrics.jsonl) in one SVG at out: loss against step (log scale), the
 * task's metric, and the learning rate; one colour per run. */
reel_status reel_plot_runs(const char *const *dirs, int n, const char *out, reel_err *err);

#endif
