/* Models from configs (see model.h): the sections, building, loss,
 * evaluation, summary, saving and loading. */
#include "model.h"
#include "cellc.h"
#include "fault.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const TASKS[] = {"lm", "classify", "tag", "regress", "seq2seq", "ctc", NULL};
static const char *const SOURCES[] = {"adding", "copy",  "reverse",  "dates",    "mackey_glass", "sine",
                                      "text",   "csv",   "tsv",      "labelled", "safetensors",  "unsegmented", "bimodal", "idx", NULL};
enum { S_ADDING, S_COPY, S_REVERSE, S_DATES, S_MG, S_SINE, S_TEXT, S_CSV, S_TSV, S_LABELLED, S_ST, S_UNSEG, S_BIMODAL, S_IDX };

const char *reel_task_name(reel_task_type t)
{
	return t >= 0 && t <= REEL_TASK_CTC ? TASKS[t] : "?";
}

reel_metrics reel_task_metrics(reel_task_type t)
{
	reel_metrics m = {.n = 1, .name = {"valid_loss"}};
	switch (t) {
	case REEL_TASK_LM:
		m.name[1] = "perplexity";
		m.name[2] = "bits_per_token";
		m.name[3] = "accuracy";
		m.higher_better[3] = 1;
		m.n = 4;
		break;
	case REEL_TASK_CLASSIFY:
	case REEL_TASK_TAG:
		m.name[1] = "accuracy";
		m.higher_better[1] = 1;
		m.n = 2;
		break;
	case REEL_TASK_REGRESS:
		m.name[1] = "mse";
		m.name[2] = "mae";
		m.n = 3;
		break;
	case REEL_TASK_SEQ2SEQ:
		m.name[1] = "exact_match";
		m.name[2] = "token_accuracy";
		m.higher_better[1] = m.higher_better[2] = 1;
		m.n = 3;
		break;
	case REEL_TASK_CTC:
		m.name[1] = "label_error_rate"; /* edit distance of greedy decodings / reference labels */
		m.n = 2;
		break;
	}
	return m;
}

/* ---- data ------------------------------------------------------------------------ */

/* Which keys of "data" apply to which sources (bit per source). */
#define B(s) (1u << (s))
#define FILES (B(S_TEXT) | B(S_CSV) | B(S_TSV) | B(S_LABELLED) | B(S_ST))
#define GENS (B(S_ADDING) | B(S_COPY) | B(S_REVERSE) | B(S_DATES) | B(S_MG) | B(S_SINE) | B(S_UNSEG) | B(S_BIMODAL))
#define SERIES (B(S_CSV) | B(S_MG) | B(S_SINE))

static int task_of_source(int s, int *alt)
{
	*alt = -1;
	switch (s) {
	case S_ADDING: case S_MG: case S_SINE: case S_CSV: case S_BIMODAL: return REEL_TASK_REGRESS;
	case S_COPY: return REEL_TASK_TAG;
	case S_REVERSE: case S_DATES: case S_TSV: return REEL_TASK_SEQ2SEQ;
	case S_TEXT: return REEL_TASK_LM;
	case S_UNSEG: return REEL_TASK_CTC;
	case S_LABELLED: *alt = REEL_TASK_TAG; return REEL_TASK_CLASSIFY;
	case S_IDX: return REEL_TASK_CLASSIFY;
	default: *alt = -2; return -1; /* safetensors: any but seq2seq */
	}
}

static void read_data(reel_cfg_obj *root, reel_task_type task, int task_ok, reel_data_opts *d)
{
	reel_cfg *c = root->c;
	int desc = reel_cfg_describing(c);
	reel_cfg_section(c, "data", "where batches come from (models/data.h)");
	reel_cfg_obj o = reel_cfg_child(root, "data", "the data source");
	*d = reel_data_defaults();
	d->task = task;
	d->dir = reel_cfg_dir(c);
	int src = reel_cfg_enum(&o, "source", -1, SOURCES, "generator or file format");
	unsigned bit = desc ? ~0u : B(src);
#define IF(mask) if (bit & (mask))
	d->source = SOURCES[src];
	if (!desc && task_ok) {
		int alt, want = task_of_source(src, &alt);
		if (want >= 0 && (int)task != want && (int)task != alt)
			reel_cfg_error(&o, "source", "source \"%s\" makes %s%s%s data, but /task is \"%s\"", SOURCES[src],
			               TASKS[want], alt >= 0 ? " or " : "", alt >= 0 ? TASKS[alt] : "", TASKS[task]);
		if (alt == -2 && task == REEL_TASK_SEQ2SEQ)
			reel_cfg_error(&o, "source", "safetensors batches serve lm, classify, tag and regress, not seq2seq");
	}
	IF(FILES)
	{
		d->path = reel_cfg_str(&o, "path", NULL, "file (relative to the config's folder)");
		if (reel_cfg_has(&o, "valid_path") || desc)
			d->valid_path = reel_cfg_str(&o, "valid_path", "", "validation file (default: the end of path)");
		if (reel_cfg_has(&o, "test_path") || desc)
			d->test_path = reel_cfg_str(&o, "test_path", "", "test file (default: the end of path)");
		if (d->valid_path && !d->valid_path[0])
			d->valid_path = NULL;
		if (d->test_path && !d->test_path[0])
			d->test_path = NULL;
	}
	IF(B(S_IDX))
	{
		d->images = reel_cfg_str(&o, "images", NULL, "idx: training images (N, rows, cols), gzipped or not");
		d->labels = reel_cfg_str(&o, "labels", NULL, "idx: training labels (N)");
		if (reel_cfg_has(&o, "test_images") || desc)
			d->test_images = reel_cfg_str(&o, "test_images", "", "idx: test images (default: the end of images)");
		if (reel_cfg_has(&o, "test_labels") || desc)
			d->test_labels = reel_cfg_str(&o, "test_labels", "", "idx: test labels");
		if (d->test_images && !d->test_images[0])
			d->test_images = NULL;
		if (d->test_labels && !d->test_labels[0])
			d->test_labels = NULL;
		if (!desc && !d->test_images != !d->test_labels)
			reel_cfg_error(&o, d->test_images ? "test_images" : "test_labels",
			               "test_images and test_labels go together (found only one)");
	}
	IF(FILES | B(S_MG) | B(S_IDX))
	{
		d->valid_frac = reel_cfg_real(&o, "valid_frac", d->valid_frac, 0, 0.5, "share held out for validation (the end of the file or series)");
		d->test_frac = reel_cfg_real(&o, "test_frac", d->test_frac, 0, 0.5, "share held out for testing");
	}
	IF(B(S_TEXT) | B(S_TSV) | B(S_LABELLED))
	{
		static const char *const TOK[] = {"chars", "words", NULL};
		d->tokens_words = reel_cfg_enum(&o, "tokens", 0, TOK, "characters or whitespace-separated words");
	}
	IF(B(S_TEXT))
	{
		d->seq_len = reel_cfg_int(&o, "seq_len", d->seq_len, 1, 1 << 20, "steps per batch");
		d->stream = reel_cfg_bool(&o, "stream", 1, "consecutive streams carrying state (truncated BPTT)");
		d->max_vocab = reel_cfg_int(&o, "max_vocab", 0, 0, INT32_MAX - 1,
		                            "at most this many ids, <pad> and <unk> included: the most frequent training "
		                            "tokens, the others <unk> (0: every token)");
		if (!desc && d->max_vocab > 0 && d->max_vocab < 3)
			reel_cfg_error(&o, "max_vocab", "expected 0 (every token) or at least 3 (<pad>, <unk> and a token), "
			               "found %d", d->max_vocab);
	}
	IF(B(S_CSV))
	{
		static const char *cols[64], *tg[64];
		d->n_columns = reel_cfg_strings(&o, "columns", cols, 64, "input columns, header names or 0-based indices (default: all)");
		d->n_targets = reel_cfg_strings(&o, "targets", tg, 64, "target columns (default: the input columns)");
		d->columns = cols;
		d->targets = tg;
		d->header = reel_cfg_bool(&o, "header", 1, "the first line names the columns");
		d->normalize = reel_cfg_bool(&o, "normalize", 1, "z-score from the training split");
	}
	IF(SERIES)
	{
		d->window = reel_cfg_int(&o, "window", d->window, 1, 100000, "steps per example (the input window; also bimodal)");
		d->horizon = reel_cfg_int(&o, "horizon", d->horizon, 1, 100000, "predict this many steps after the window");
	}
	if (!desc && src == S_BIMODAL) /* documented with the series' window */
		d->window = reel_cfg_int(&o, "window", d->window, 1, 100000, "steps per example");
	IF(SERIES | B(S_ADDING) | B(S_ST) | B(S_BIMODAL))
		d->per_step = reel_cfg_bool(&o, "per_step", d->per_step, "regress: a target at every step (else the last)");
	IF(B(S_ADDING))
		d->length = reel_cfg_int(&o, "length", d->length, 2, 100000, "sequence length");
	IF(B(S_COPY))
		d->delay = reel_cfg_int(&o, "delay", d->delay, 1, 10000, "blanks between the symbols and the go marker");
	IF(B(S_REVERSE) | B(S_UNSEG))
	{
		d->min_len = reel_cfg_int(&o, "min_len", d->min_len, 1, 62, "shortest source (unsegmented: fewest letters)");
		d->max_len = reel_cfg_int(&o, "max_len", d->max_len, 1, 62, "longest source (unsegmented: most letters)");
		if (!desc && d->min_len > d->max_len)
			reel_cfg_error(&o, "min_len", "expected at most max_len (%d), found %d", d->max_len, d->min_len);
	}
	IF(B(S_SINE) | B(S_UNSEG) | B(S_BIMODAL))
		d->noise = reel_cfg_real(&o, "noise", d->noise, 0, 10, "Gaussian noise std");
	IF(GENS)
	{
		d->valid_size = reel_cfg_int(&o, "valid_size", d->valid_size, 1, 10000000, "validation examples");
		d->test_size = reel_cfg_int(&o, "test_size", d->test_size, 1, 10000000, "test examples");
		d->epoch_size = reel_cfg_int(&o, "epoch_size", d->epoch_size, 1, 1000000000, "training examples per epoch");
	}
	d->bucket = reel_cfg_bool(&o, "bucket", d->bucket, "batch training examples of similar length together");
	d->shuffle = reel_cfg_bool(&o, "shuffle", d->shuffle, "reshuffle training examples every epoch");
	d->seed = reel_cfg_seed(&o, "seed", 1, "seed of generation, splitting and shuffling");
#undef IF
	reel_cfg_end(&o);
}

/* ---- train ---------------------------------------------------------------------------- */

static const char *const OPTIMS[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad", NULL};
static const char *const SCHEDS[] = {"constant", "step", "multistep", "exponential", "cosine", "plateau", NULL};

static void read_optim(reel_cfg_obj *t, reel_optim_opts *oo)
{
	int desc = reel_cfg_describing(t->c);
	reel_cfg_obj o = reel_cfg_child(t, "optimizer", "optimizer and its options");
	int kind = reel_cfg_enum(&o, "type", 1, OPTIMS, "optimizer");
	*oo = reel_optim_defaults((reel_optim_kind)kind);
	oo->lr = reel_cfg_real(&o, "lr", kind == REEL_ADAM || kind == REEL_ADAMW ? 1e-3 : oo->lr, 0, 1e3, "learning rate");
	oo->weight_decay = reel_cfg_real(&o, "weight_decay", oo->weight_decay, 0, 10, "L2 (AdamW: decoupled) weight decay");
	oo->no_decay_bias = reel_cfg_bool(&o, "no_decay_bias", 0, "no weight decay on parameters named bias*");
	if (desc || kind == REEL_SGD || kind == REEL_RMSPROP)
		oo->momentum = reel_cfg_real(&o, "momentum", 0, 0, 1, "momentum (sgd, rmsprop)");
	if (desc || kind == REEL_SGD) {
		oo->dampening = reel_cfg_real(&o, "dampening", 0, 0, 1, "dampening for momentum (sgd)");
		oo->nesterov = reel_cfg_bool(&o, "nesterov", 0, "Nesterov momentum (sgd)");
	}
	if (desc || kind == REEL_ADAM || kind == REEL_ADAMW) {
		oo->beta1 = reel_cfg_real(&o, "beta1", oo->beta1, 0, 0.999999, "first-moment decay (adam, adamw)");
		oo->beta2 = reel_cfg_real(&o, "beta2", oo->beta2, 0, 0.999999999, "second-moment decay (adam, adamw)");
		oo->amsgrad = reel_cfg_bool(&o, "amsgrad", 0, "AMSGrad (adam, adamw)");
	}
	if (desc || kind != REEL_SGD)
		oo->eps = reel_cfg_real(&o, "eps", oo->eps, 0, 1, "denominator term (adam, adamw, rmsprop, adagrad)");
	if (desc || kind == REEL_RMSPROP) {
		oo->alpha = reel_cfg_real(&o, "alpha", oo->alpha, 0, 1, "smoothing constant (rmsprop)");
		oo->centered = reel_cfg_bool(&o, "centered", 0, "centered variant (rmsprop)");
	}
	if (desc || kind == REEL_ADAGRAD) {
		oo->lr_decay = reel_cfg_real(&o, "lr_decay", 0, 0, 1, "learning-rate decay (adagrad)");
		oo->initial_accumulator_value =
			reel_cfg_real(&o, "initial_accumulator_value", 0, 0, 1e6, "initial sum of squares (adagrad)");
	}
	if (!desc && kind == REEL_SGD && oo->nesterov && oo->momentum <= 0)
		reel_cfg_error(&o, "nesterov", "Nesterov momentum needs momentum > 0 (found momentum %g)", oo->momentum);
	reel_cfg_end(&o);
}

static void read_schedule(reel_cfg_obj *t, reel_train_cfg *tr)
{
	int desc = reel_cfg_describing(t->c);
	reel_cfg_obj o = reel_cfg_child(t, "schedule", "learning-rate schedule");
	int kind = reel_cfg_enum(&o, "type", 0, SCHEDS, "schedule (plateau: reduce when the validation loss stalls)");
	reel_sched *s = &tr->sched;
	memset(s, 0, sizeof *s);
	s->kind = kind == 5 ? REEL_SCHED_CONSTANT : (reel_sched_kind)kind;
	tr->plateau = kind == 5;
	s->warmup_steps = reel_cfg_int(&o, "warmup_steps", 0, 0, INT32_MAX, "linear warm-up updates");
	s->warmup_start_factor =
		reel_cfg_real(&o, "warmup_start_factor", s->warmup_steps ? 0.1 : 1, 0, 1, "lr factor at the first update");
	if (desc || kind == 1 || kind == 2 || kind == 3 || kind == 5)
		s->gamma = reel_cfg_real(&o, "gamma", 0.1, 0, 1, "decay factor (step, multistep, exponential)");
	if (desc || kind == 1)
		s->step_size = reel_cfg_int(&o, "step_size", REEL_CFG_REQUIRED, 1, INT32_MAX, "updates between decays (step)");
	if (desc || kind == 2) {
		s->n_milestones = reel_cfg_ints(&o, "milestones", s->milestones, REEL_SCHED_MAX_MILESTONES, 1, INT32_MAX,
		                                "updates at which to decay (multistep), increasing");
		for (int i = 1; i < s->n_milestones; i++)
			if (s->milestones[i] <= s->milestones[i - 1])
				reel_cfg_error(&o, "milestones", "expected increasing updates, found %d after %d", s->milestones[i],
				               s->milestones[i - 1]);
		if (!desc && kind == 2 && !s->n_milestones)
			reel_cfg_error(&o, "milestones", "missing: expected an array of increasing update counts");
	}
	if (desc || kind == 4) {
		s->t_max = reel_cfg_int(&o, "t_max", 0, 0, INT32_MAX, "updates of the cosine (0: until the end)");
		s->eta_min = reel_cfg_real(&o, "eta_min", 0, 0, 1e3, "final learning rate (cosine)");
	}
	if (desc || kind == 5) {
		tr->plateau_opts = reel_plateau_defaults();
		tr->plateau_opts.factor = reel_cfg_real(&o, "factor", 0.1, 0, 0.999999, "lr factor on a plateau");
		tr->plateau_opts.patience = reel_cfg_int(&o, "patience", 10, 0, 1 << 20, "validations without improvement");
		tr->plateau_opts.min_lr = reel_cfg_real(&o, "min_lr", 0, 0, 1e3, "lower bound");
	}
	reel_cfg_end(&o);
}

static void read_train(reel_cfg_obj *root, reel_task_type task, reel_train_cfg *tr)
{
	int desc = reel_cfg_describing(root->c);
	reel_cfg_section(root->c, "train", "the training run (optimizers: torch.optim's names, defaults and update rules, optim/optim.h)");
	reel_cfg_obj o = reel_cfg_child(root, "train", "training settings");
	memset(tr, 0, sizeof *tr);
	tr->steps = reel_cfg_int(&o, "steps", 1000, 0, INT32_MAX, "updates (0: use epochs)");
	tr->epochs = reel_cfg_int(&o, "epochs", 0, 0, 1 << 20, "passes over the training split (0: use steps)");
	if (!desc && !tr->steps == !tr->epochs)
		reel_cfg_error(&o, "steps", "give exactly one of steps and epochs (the other 0), found steps %ld and epochs %d",
		               tr->steps, tr->epochs);
	tr->batch_size = reel_cfg_int(&o, "batch_size", 32, 1, 1 << 16, "sequences per batch");
	read_optim(&o, &tr->optim);
	tr->clip_norm = reel_cfg_real(&o, "clip_norm", 0, 0, 1e6, "clip the global gradient norm to this (0: off)");
	tr->clip_value = reel_cfg_real(&o, "clip_value", 0, 0, 1e6, "clamp each gradient to [-v, v] (0: off)");
	static const char *const NF[] = {"stop", "skip", NULL};
	tr->optim.on_nonfinite = (reel_nonfinite)reel_cfg_enum(
		&o, "on_nonfinite", 0, NF, "a NaN/inf loss or gradient: stop with an error, or skip the update");
	read_schedule(&o, tr);
	reel_cfg_obj b = reel_cfg_child(&o, "bptt", "truncated backpropagation through time");
	tr->bptt_k1 = reel_cfg_int(&b, "k1", 0, 0, 1 << 20, "steps forward between updates (0: the data's seq_len)");
	tr->bptt_k2 = reel_cfg_int(&b, "k2", 0, 0, 1 << 20, "steps backpropagated, <= k1 (0: k1)");
	if (!desc && tr->bptt_k2 > tr->bptt_k1 && tr->bptt_k1)
		reel_cfg_error(&b, "k2", "expected at most k1 (%d): backpropagating past the chunk is not supported, found %d",
		               tr->bptt_k1, tr->bptt_k2);
	static const char *const TRUNC[] = {"fixed", "random", NULL};
	tr->bptt_random = reel_cfg_enum(&b, "truncation", 0, TRUNC,
	                                "random: randomized truncation lengths within each chunk, unbiased by reweighting (Tallec & Ollivier 2017)");
	if (desc || tr->bptt_random) {
		tr->bptt_min = reel_cfg_int(&b, "min_length", 1, 1, 1 << 20, "random: steps backpropagated at least after a cut");
		tr->bptt_mean = reel_cfg_real(&b, "mean_length", 16, 1, 1 << 20, "random: mean truncation length, above min_length");
	}
	if (!desc && tr->bptt_random && tr->bptt_mean <= tr->bptt_min)
		reel_cfg_error(&b, "mean_length", "expected more than min_length (%d): at mean_length = min_length every cut is certain and the gradient biased, found %g",
		               tr->bptt_min, tr->bptt_mean);
	if (!desc && tr->bptt_random && tr->bptt_k2 && tr->bptt_k2 != tr->bptt_k1)
		reel_cfg_error(&b, "k2", "random truncation backpropagates through the whole chunk: leave k2 out (or equal to k1), found %d",
		               tr->bptt_k2);
	if (!desc && (tr->bptt_k1 || tr->bptt_k2 || tr->bptt_random) && task != REEL_TASK_LM && reel_cfg_has(&o, "bptt"))
		reel_cfg_error(&o, "bptt", "truncated BPTT applies to lm streams; /task is \"%s\"", TASKS[task]);
	reel_cfg_end(&b);
	reel_cfg_obj ss = reel_cfg_child(&o, "sampled_softmax",
	                                 "lm training through a sampled softmax (Jean et al. 2015); evaluation keeps the full softmax");
	tr->ss_negatives = reel_cfg_int(&ss, "negatives", 0, 0, 1 << 20,
	                                "negatives per batch, shared by its rows, drawn with replacement (0: the full softmax)");
	static const char *const SSD[] = {"log_uniform", "unigram", NULL};
	tr->ss_dist = reel_cfg_enum(&ss, "distribution", REEL_SS_LOG_UNIFORM, SSD,
	                            "proposal: log_uniform (Zipfian over ids, presumes them ranked by frequency) or unigram (training counts + 1)");
	if (!desc && tr->ss_negatives && task != REEL_TASK_LM)
		reel_cfg_error(&ss, "negatives", "sampled softmax applies to the lm task; /task is \"%s\"", TASKS[task]);
	reel_cfg_end(&ss);
	reel_cfg_obj tf = reel_cfg_child(&o, "teacher_forcing", "scheduled sampling (Bengio et al. 2015)");
	tr->tf_start = reel_cfg_real(&tf, "ratio", 1, 0, 1, "probability of the gold token at the start");
	static const char *const TFS[] = {"linear", "exponential", "inverse_sigmoid", NULL};
	tr->tf_schedule = reel_cfg_enum(&tf, "schedule", REEL_TF_LINEAR, TFS,
	                                "decay of the ratio towards final_ratio (Bengio et al. 2015; models/model.h)");
	tr->tf_end = reel_cfg_real(&tf, "final_ratio", tr->tf_start, 0, 1, "the ratio the decay tends to (linear: reaches after decay_steps)");
	if (desc || tr->tf_schedule == REEL_TF_LINEAR)
		tr->tf_steps = reel_cfg_int(&tf, "decay_steps", 0, 0, INT32_MAX, "updates of the linear decay (0: no decay)");
	if (desc || tr->tf_schedule == REEL_TF_EXPONENTIAL)
		tr->tf_k = reel_cfg_real(&tf, "decay", 0.999, 1e-9, 0.999999999, "exponential: ratio factor per update, k^step");
	if (!desc && tr->tf_schedule == REEL_TF_INVERSE_SIGMOID)
		tr->tf_k = reel_cfg_real(&tf, "k", 1000, 1, 1e9, "inverse_sigmoid: k / (k + exp(step / k)); larger k decays later");
	else if (desc)
		reel_cfg_real(&tf, "k", 1000, 1, 1e9, "inverse_sigmoid: k / (k + exp(step / k)); larger k decays later");
	reel_cfg_end(&tf);
	tr->valid_every = reel_cfg_int(&o, "valid_every", 0, 0, INT32_MAX, "updates between validations (0: every epoch)");
	tr->valid_batches = reel_cfg_int(&o, "valid_batches", 0, 0, INT32_MAX, "batches per validation (0: all)");
	tr->checkpoint_every = reel_cfg_int(&o, "checkpoint_every", 0, 0, INT32_MAX,
	                                    "updates between checkpoints, DIR/last.safetensors (0: at every validation)");
	reel_cfg_obj es = reel_cfg_child(&o, "early_stopping", "early stopping");
	tr->patience = reel_cfg_int(&es, "patience", 0, 0, 1 << 20, "validations without improvement (0: off)");
	reel_metrics mt = reel_task_metrics(task);
	const char *names[REEL_MAX_METRICS + 1] = {0};
	for (int i = 0; i < mt.n; i++)
		names[i] = mt.name[i];
	tr->metric = reel_cfg_enum(&es, "metric", 0, desc ? (const char *const[]){"valid_loss", "accuracy", "perplexity", "bits_per_token", "mse", "mae", "exact_match", "token_accuracy", "label_error_rate", NULL} : names,
	                           "what to watch");
	tr->metric_max = desc ? 0 : mt.higher_better[tr->metric];
	reel_cfg_end(&es);
	tr->log_every = reel_cfg_int(&o, "log_every", 0, 0, INT32_MAX, "updates between log lines (0: about 50 per run)");
	tr->seed = reel_cfg_seed(&o, "seed", 1, "seed of initialisation, dropout and sampling");
	tr->threads = reel_cfg_int(&o, "threads", 1, 1, 1024, "BLIS threads");
	reel_cfg_end(&o);
}

static void read_decode(reel_cfg_obj *root, reel_decode_cfg *d)
{
	reel_cfg_section(root->c, "decode", "seq2seq decoding");
	reel_cfg_obj o = reel_cfg_child(root, "decode", "decoding settings");
	d->beam = reel_cfg_int(&o, "beam", 1, 1, 256, "beam width (1: greedy)");
	d->max_len = reel_cfg_int(&o, "max_len", 64, 1, 100000, "longest output");
	d->alpha = reel_cfg_real(&o, "length_penalty", 0, 0, 10, "score = log p / length^alpha");
	d->n_best = reel_cfg_int(&o, "n_best", 1, 1, 256, "hypotheses returned per source");
	if (!reel_cfg_describing(o.c) && d->n_best > d->beam)
		reel_cfg_error(&o, "n_best", "expected at most beam (%d), found %d", d->beam, d->n_best);
	reel_cfg_end(&o);
}

/* ---- model: list of layers ----------------------------------------------------------------- */

static void build_layers(reel_model *m, reel_cfg_obj *root, reel_build_ctx *b)
{
	reel_cfg_obj mo = {.c = root->c};
	int n = reel_cfg_array(root, "model", 1, "the layers, in order");
	if (!m->layers && n > 0) {
		m->layers = reel__calloc((size_t)n, sizeof *m->layers);
		if (!m->layers) {
			reel_err_set(&b->err, REEL_ERR_NOMEM, "out of memory");
			return;
		}
		m->nlayers = n;
	}
	reel_flow flow = {.tokens = m->info.tokens_in, .pooled = 0, .F = m->info.tokens_in ? m->info.vocab : m->info.features,
	                  .unknown = b->unknown};
	for (int i = 0; i < n && i < m->nlayers; i++) {
		reel_layer *L = &m->layers[i];
		mo = reel_cfg_elem(root, "model", i);
		if (!mo.j)
			continue;
		const char *tn = reel_cfg_str(&mo, "type", NULL, "layer type (reel list)");
		const reel_layer_type *ty = reel_layer_type_find(tn);
		if (!ty && reel_cells_failed(tn))
			continue; /* its cell's errors are reported */
		if (!ty) {
			const char *names[32];
			int k = 0;
			for (; k < reel_layer_type_count() && k < 31; k++)
				names[k] = reel_layer_type_at(k)->name;
			names[k] = NULL;
			reel_cfg_enum(&mo, "type", -1, names, "layer type"); /* reports it with "did you mean" */
			continue;
		}
		char defname[16];
		snprintf(defname, sizeof defname, "%d", i);
		const char *name = reel_cfg_str(&mo, "name", defname, "parameter prefix (default: the index)");
		if (!L->type) {
			L->type = ty;
			L->state = reel__calloc(1, ty->state_size);
			if (!L->state) {
				reel_err_set(&b->err, REEL_ERR_NOMEM, "out of memory");
				return;
			}
		}
		snprintf(L->name, sizeof L->name, "%s", name);
		snprintf(L->prefix, sizeof L->prefix, "%s.", name);
		if (strlen(name) >= sizeof L->name || !name[0] || strchr(name, '.'))
			reel_cfg_error(&mo, "name", "expected a non-empty name without dots, under 64 characters, found \"%s\"", name);
		for (int j = 0; j < i; j++)
			if (!strcmp(m->layers[j].name, L->name))
				reel_cfg_error(&mo, "name", "\"%s\" is already the name of /model/%d", name, j);
		b->index = i;
		b->count = n;
		b->per_step = m->data_opts.per_step;
		L->in = flow;
		int before = b->ps ? reel_params_count(b->ps) : 0;
		if (ty->build(L, &mo, &flow, &L->out, b) != REEL_OK && b->ps)
			return;
		L->first_param = before;
		L->nparams = b->ps ? reel_params_count(b->ps) - before : 0;
		b->n_params += L->n_params;
		flow = L->out;
		reel_cfg_end(&mo);
	}
	if (reel_cfg_describing(root->c) || n == 0 || b->unknown)
		return;
	/* the last layer's output must be what the task's loss takes */
	reel_task_type t = m->task;
	reel_cfg_obj last = reel_cfg_elem(root, "model", n - 1);
	int want = t == REEL_TASK_REGRESS ? m->info.outputs : m->info.classes;
	const char *what = t == REEL_TASK_REGRESS ? "values per target" : t == REEL_TASK_LM ? "vocabulary size" : "classes";
	int mk = n <= m->nlayers ? reel__mdn_components(&m->layers[n - 1]) : 0;
	if (mk > 0) { /* the mixture's parameters per target vector */
		want = mk * (1 + 2 * m->info.outputs);
		what = "mixture parameters, K (1 + 2 outputs)";
	}
	if (flow.tokens)
		reel_cfg_error(&last, NULL, "the model ends in token ids: end it with a linear layer of %d outputs", want);
	else if (want > 0 && flow.F != want)
		reel_cfg_error(&last, NULL, "the model's output has %d features, but the data has %d %s (end with a linear layer, out_features \"auto\")",
		               flow.F, want, what);
	int needs_pool = t == REEL_TASK_CLASSIFY || (t == REEL_TASK_REGRESS && !m->data_opts.per_step);
	if (needs_pool && !flow.pooled)
		reel_cfg_error(&last, NULL, "%s needs one output per sequence: add {\"type\": \"pool\", \"mode\": \"last\"} after the recurrent layers",
		               t == REEL_TASK_CLASSIFY ? "classify" : "regress with last-step targets");
	if (!needs_pool && flow.pooled)
		reel_cfg_error(&last, NULL, "%s needs an output at every step, but the model pools over time: remove the pool layer",
		               TASKS[t]);
}

/* ---- model: seq2seq ------------------------------------------------------------------------- */

/* The cell of a seq2seq model: any registered cell (built-in, a program's,
 * or one a config defines in "cells"), checked with "did you mean". */
static const reel_cell *read_cell(reel_cfg_obj *o)
{
	const char *names[65];
	int n = reel_cell_count() < 64 ? reel_cell_count() : 64, def = 0;
	for (int i = 0; i < n; i++) {
		names[i] = reel_cell_at(i)->name;
		if (!strcmp(names[i], "lstm"))
			def = i;
	}
	names[n] = NULL;
	return reel_cell_at(reel_cfg_enum(o, "cell", def, names, "cell of encoder and decoder (any registered cell)"));
}

static void build_s2s(reel_model *m, reel_cfg_obj *root, reel_build_ctx *b)
{
	int desc = reel_cfg_describing(root->c);
	reel_cfg_section(root->c, "model (seq2seq)", "encoder-decoder with attention (layers/seq2seq.h)");
	reel_cfg_obj o = reel_cfg_child(root, "model", "the encoder-decoder");
	reel_seq2seq_opts so = {0};
	so.cell = read_cell(&o);
	so.emb_size = reel_cfg_int(&o, "embedding_dim", 64, 1, 1 << 16, "source and target embedding size");
	so.hidden_size = reel_cfg_int(&o, "hidden_size", 128, 2, 1 << 16, "decoder state (the encoder's, both directions)");
	so.dropout = reel_cfg_real(&o, "dropout", 0, 0, 0.99, "on embeddings, between layers, before the output");
	reel_cfg_obj e = reel_cfg_child(&o, "encoder", "the encoder");
	so.enc_layers = reel_cfg_int(&e, "num_layers", 1, 1, REEL_RNN_MAX_LAYERS, "stacked layers");
	so.bidirectional = reel_cfg_bool(&e, "bidirectional", 1, "both directions, each hidden_size/2");
	reel_cfg_end(&e);
	reel_cfg_obj a = reel_cfg_child(&o, "attention", "attention over the encoder outputs");
	static const char *const ATT[] = {"none", "dot", "general", "additive", NULL};
	so.attention = (reel_attn_kind)reel_cfg_enum(&a, "type", 3, ATT, "Bahdanau (additive) or Luong (dot, general)");
	so.attn_size = reel_cfg_size(&a, "size", REEL_CFG_AUTO, 1, 1 << 16, "additive: hidden size of the scorer (\"auto\": hidden_size)");
	reel_cfg_end(&a);
	reel_cfg_obj d = reel_cfg_child(&o, "decoder", "the decoder");
	so.dec_layers = reel_cfg_int(&d, "num_layers", 1, 1, REEL_RNN_MAX_LAYERS, "stacked layers");
	so.input_feeding = reel_cfg_bool(&d, "input_feeding", 1, "feed the previous attentional state (Luong et al. 2015)");
	so.bridge = reel_cfg_bool(&d, "bridge", 1, "initial state from the encoder's final states (else zeros)");
	so.tie_embeddings = reel_cfg_bool(&d, "tie_embeddings", 0, "output layer shares the target embedding");
	reel_cfg_end(&d);
	reel_cfg_end(&o);
	if (desc)
		return;
	if (so.attn_size == REEL_CFG_AUTO) {
		so.attn_size = so.hidden_size;
		reel_cfg_resolve_int(&a, "size", so.attn_size);
	}
	if (so.bidirectional && so.hidden_size % 2)
		reel_cfg_error(&o, "hidden_size", "a bidirectional encoder needs an even hidden_size (each direction has half), found %d",
		               so.hidden_size);
	if (so.tie_embeddings && so.emb_size != so.hidden_size)
		reel_cfg_error(&d, "tie_embeddings", "tied embeddings need embedding_dim (%d) == hidden_size (%d)", so.emb_size,
		               so.hidden_size);
	so.src_vocab = m->info.src_vocab > 0 ? m->info.src_vocab : 1;
	so.tgt_vocab = m->info.tgt_vocab > 3 ? m->info.tgt_vocab : 4;
	so.bos = m->info.bos;
	so.eos = m->info.eos;
	so.pad = m->info.pad;
	int H = so.hidden_size, E = so.emb_size, G = so.cell->gates, He = so.bidirectional ? H / 2 : H, D = so.bidirectional ? 2 : 1;
	size_t np = (size_t)(so.src_vocab + so.tgt_vocab) * E;
	for (int l = 0; l < so.enc_layers; l++)
		np += (size_t)D * reel_cell_param_count(so.cell, l ? D * He : E, He, 0);
	for (int l = 0; l < so.dec_layers; l++)
		np += reel_cell_param_count(so.cell, l ? H : E + (so.input_feeding ? H : 0), H, 0);
	np += (size_t)3 * H * so.attn_size + (size_t)2 * H * H * 2 + (size_t)so.tgt_vocab * (H + 1);
	b->n_params = np;
	int S = b->T, T = b->T, B = b->B;
	b->act_bytes = (double)(S * D * so.enc_layers * He + T * so.dec_layers * H) * B * (G + 6) * sizeof(reel_real) * 2 +
	               (double)T * B * (S * 4 + so.tgt_vocab * 3 + H * 6) * sizeof(reel_real);
	if (b->ps && reel_seq2seq_init(&m->s2s, b->ps, "", &so, b->rng, &b->err) != REEL_OK)
		return;
}

/* ---- building --------------------------------------------------------------------------------- */

static double machine_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
	return pages > 0 && psz > 0 ? (double)pages * (double)psz : 0;
}

/* Truncated BPTT: k1 is the stream's chunk length; k2 defaults to k1. */
static void apply_bptt(reel_model *m)
{
	reel_train_cfg *tr = &m->train;
	if (m->task != REEL_TASK_LM)
		return;
	if (tr->bptt_k1 > 0) {
		m->data_opts.seq_len = tr->bptt_k1; /* k1 is the chunk the stream hands out */
	} else {
		tr->bptt_k1 = m->data_opts.seq_len;
	}
	if (tr->bptt_k2 <= 0 || tr->bptt_k2 > tr->bptt_k1)
		tr->bptt_k2 = tr->bptt_k1;
}

/* Read every section.  The first call (ps NULL) checks and estimates; the
 * second creates parameters. */
static void read_all(reel_model *m, reel_cfg *c, reel_build_ctx *b)
{
	reel_cfg_obj root = reel_cfg_root(c);
	int fmt = reel_cfg_int(&root, "format", REEL_CFG_REQUIRED, 1, 1000, "config format version (this reel reads 1)");
	if (!reel_cfg_describing(c) && fmt != REEL_CFG_FORMAT && reel_cfg_has(&root, "format"))
		reel_cfg_error(&root, "format", "this reel reads format %d, found %d", REEL_CFG_FORMAT, fmt);
	int before = reel_cfg_nerrors(c);
	m->task = (reel_task_type)reel_cfg_enum(&root, "task", -1, TASKS, "lm, classify, tag, regress or seq2seq");
	read_data(&root, m->task, reel_cfg_nerrors(c) == before, &m->data_opts);
	reel_cells_read(&root); /* before the layers: each cell is a layer type */
	if (m->task == REEL_TASK_SEQ2SEQ)
		build_s2s(m, &root, b);
	else
		build_layers(m, &root, b);
	read_train(&root, m->task, &m->train);
	apply_bptt(m);
	read_decode(&root, &m->decode);
	reel_cfg_end(&root);
}

static void free_layers(reel_model *m);

void reel_model_free(reel_model *m)
{
	if (!m)
		return;
	free_layers(m);
	reel_params_free(m->ps);
	reel_data_free(m->data);
	free(m->ss_cdf);
	reel_cfg_free(m->cfg);
	reel_cfg_free(m->pre_cfg);
	free(m);
}

int reel_metric_is_rate(const char *name)
{
	return !strcmp(name, "accuracy") || !strcmp(name, "exact_match") || !strcmp(name, "token_accuracy");
}

static void free_layers(reel_model *m)
{
	for (int i = 0; i < m->nlayers; i++) {
		if (m->layers[i].type && m->layers[i].type->free && m->layers[i].state)
			m->layers[i].type->free(&m->layers[i]);
		free(m->layers[i].state);
	}
	free(m->layers);
	m->layers = NULL;
	m->nlayers = 0;
}

/* A pre-read of the sections the data source and the estimate need: task,
 * data, train.  Returns 1 if they are clean. */
static int pre_read(reel_model *m, const char *path, const char *const *sets, int nsets, reel_err *err)
{
	reel_cfg *c = reel_cfg_load(path, sets, nsets, err);
	if (!c)
		return 0;
	reel_cfg_obj root = reel_cfg_root(c);
	int before = reel_cfg_nerrors(c);
	m->task = (reel_task_type)reel_cfg_enum(&root, "task", -1, TASKS, "task");
	int task_ok = reel_cfg_nerrors(c) == before;
	read_data(&root, m->task, task_ok, &m->data_opts);
	read_train(&root, m->task, &m->train);
	apply_bptt(m);
	int ok = reel_cfg_nerrors(c) == 0;
	/* data options point into the cfg (paths, columns): keep it alive */
	m->pre_cfg = c;
	return ok;
}

reel_status reel_model_new(const char *path, const char *const *sets, int nsets, reel_model **out, char **errors,
                           reel_err *err)
{
	*out = NULL;
	if (errors)
		*errors = NULL;
	reel_model *m = reel__calloc(1, sizeof *m);
	if (!m)
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
	reel_status st = REEL_OK;
	int clean = pre_read(m, path, sets, nsets, err);
	if (!m->pre_cfg) {
		st = err->code;
		goto fail;
	}
	if (reel_cfg_nomem(m->pre_cfg)) {
		st = reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory reading the config", path);
		goto fail;
	}
	if (clean) {
		m->data = reel_data_open(&m->data_opts, err);
		if (!m->data) {
			st = err->code ? err->code : REEL_ERR_IO;
			goto fail;
		}
		m->info = reel_data_get_info(m->data);
	}
	/* the dry pass: every error of the file, sizes from the data, the estimate */
	reel_cfg *c = m->cfg = reel_cfg_load(path, sets, nsets, err);
	if (!c) {
		st = err->code;
		goto fail;
	}
	int T = m->info.max_len > 0 ? m->info.max_len : 64;
	if (m->task == REEL_TASK_LM && m->data_opts.seq_len > 0)
		T = m->data_opts.seq_len;
	reel_build_ctx b = {.T = T, .B = m->train.batch_size, .info = &m->info, .task = m->task, .unknown = !clean};
	read_all(m, c, &b);
	if (b.err.code != REEL_OK) {
		st = reel_err_set(err, b.err.code, "%s: %s", path, b.err.msg);
		goto fail;
	}
	if (reel_cfg_nomem(c)) {
		st = reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory reading the config", path);
		goto fail;
	}
	if (reel_cfg_nerrors(c) > 0) {
		if (errors)
			*errors = reel__strdup(reel_cfg_errors(c));
		st = reel_err_set(err, REEL_ERR_CONFIG, "%s: %d error%s in the config", path, reel_cfg_nerrors(c),
		                  reel_cfg_nerrors(c) == 1 ? "" : "s");
		goto fail;
	}
	/* memory: values, gradients and up to three optimizer moments, plus one step */
	m->n_params = b.n_params;
	m->est_T = b.T;
	m->est_bytes = (double)b.n_params * sizeof(reel_real) * 5 + b.act_bytes;
	double have = machine_bytes();
	if (have > 0 && m->est_bytes > have) {
		st = reel_err_set(err, REEL_ERR_CONFIG,
		                  "%s: /train/batch_size: the model needs about %.1f GiB (%zu parameters; one step of %d x %d) but "
		                  "this machine has %.1f GiB: make the model, batch or sequences smaller",
		                  path, m->est_bytes / (1 << 30), b.n_params, b.T, b.B, have / (1 << 30));
		goto fail;
	}
	/* the real pass: create the parameters; the cfg it leaves is the resolved config */
	m->ps = reel_params_new();
	if (!m->ps) {
		st = reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
		goto fail;
	}
	free_layers(m);
	reel_cfg_free(c);
	c = m->cfg = reel_cfg_load(path, sets, nsets, err);
	if (!c) {
		st = err->code;
		goto fail;
	}
	reel_rng rng;
	reel_rng_seed(&rng, m->train.seed);
	b = (reel_build_ctx){.ps = m->ps, .rng = &rng, .T = m->est_T, .B = m->train.batch_size, .info = &m->info,
	                     .task = m->task};
	read_all(m, c, &b);
	if (b.err.code != REEL_OK) {
		st = reel_err_set(err, b.err.code, "%s: %s", path, b.err.msg);
		goto fail;
	}
	if (reel_cfg_nomem(c)) {
		st = reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory reading the config", path);
		goto fail;
	}
	if (reel_cfg_nerrors(c) > 0) { /* the dry pass read the same file cleanly */
		st = reel_err_set(err, REEL_ERR_CONFIG, "%s: %s", path, reel_cfg_errors(c));
		goto fail;
	}
	m->is_s2s = m->task == REEL_TASK_SEQ2SEQ;
	*out = m;
	return REEL_OK;
fail:
	reel_model_free(m);
	return st;
}

static reel_tensor *forward_layers(reel_tape *t, reel_model *m, const reel_batch *b, int carry, int reset);

reel_status reel_model_set_reduce(reel_model *m, reel_reduce *r, reel_err *err)
{
	reel_status st = reel_data_set_shard(m->data, reel_reduce_rank(r), reel_reduce_size(r), err);
	if (st == REEL_OK)
		m->reduce = r;
	return st;
}

/* ---- forward and loss -------------------------------------------------------------------------- */

reel_tensor *reel_model_forward(reel_tape *t, reel_model *m, const reel_batch *b, int carry)
{
	if (m->is_s2s)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_model_forward: a seq2seq model's outputs come from its decoder");
	return forward_layers(t, m, b, carry, b->stream_reset);
}

static reel_tensor *forward_upto(reel_tape *t, reel_model *m, const reel_batch *b, int carry, int reset, int n,
                                 double tf);

static reel_tensor *forward_layers(reel_tape *t, reel_model *m, const reel_batch *b, int carry, int reset)
{
	return forward_upto(t, m, b, carry, reset, m->nlayers, 0);
}

/* The output of the first n layers; tf: the teacher-forcing ratio of
 * output recurrences (0: free running). */
static reel_tensor *forward_upto(reel_tape *t, reel_model *m, const reel_batch *b, int carry, int reset, int n,
                                 double tf)
{
	reel_fwd_ctx c = {.lengths = b->lengths, .T = b->T, .B = b->B, .carry = carry, .reset = reset, .links = m->bptt_links,
	                  .targets = m->task == REEL_TASK_REGRESS && m->data_opts.per_step ? b->targets : NULL,
	                  .O = b->O, .tf = tf};
	reel_tensor *x = NULL;
	if (!b->tokens) {
		x = reel_tensor_wrap(t, 3, (int[]){b->T, b->B, b->F}, b->inputs);
	}
	for (int i = 0; i < n && reel_tape_status(t) == REEL_OK; i++)
		x = m->layers[i].type->forward(t, &m->layers[i], x, b->tokens, &c);
	if (!x && reel_tape_status(t) == REEL_OK)
		return reel_tape_fail(t, REEL_ERR_ARG, "model: a layer returned no output");
	return x;
}

/* Cross-entropy over labels with ignore, counting argmax hits. */
static reel_tensor *ce_loss(reel_tape *t, reel_tensor *logits, const int32_t *labels, int n, reel_batch_stats *st)
{
	reel_tensor *l2 = reel_reshape2(t, logits, n, -1);
	reel_tensor *loss = reel_cross_entropy(t, l2, labels, NULL, REEL_DATA_IGNORE);
	if (!loss || !st)
		return loss;
	int32_t *am = reel_tape_alloc(t, (size_t)n * sizeof *am);
	if (!am)
		return NULL;
	reel_argmax_rows(l2, am);
	double cnt = 0, ok = 0;
	for (int i = 0; i < n; i++)
		if (labels[i] != REEL_DATA_IGNORE) {
			cnt++;
			ok += am[i] == labels[i];
		}
	st->loss_sum += (double)loss->data[0] * cnt;
	st->count += cnt;
	st->correct += ok;
	return loss;
}

/* Mean squared error over the values of sequences within their lengths. */
static reel_tensor *mse_loss(reel_tape *t, reel_tensor *y, const reel_batch *b, int per_step, reel_batch_stats *st)
{
	int B = b->B, O = b->O;
	reel_tensor *tg = per_step ? reel_tensor_wrap(t, 3, (int[]){b->T, B, O}, b->targets)
	                           : reel_tensor_wrap(t, 2, (int[]){B, O}, b->targets);
	reel_tensor *d = reel_sub(t, y, tg);
	if (!d)
		return NULL;
	double cnt = (double)B * O;
	if (per_step) {
		reel_tensor *mask = reel_length_mask(t, b->lengths, b->T, B);
		d = reel_mul(t, d, mask);
		cnt = 0;
		for (int i = 0; i < B; i++)
			cnt += (double)b->lengths[i] * O;
	}
	reel_tensor *loss = reel_scale(t, reel_sum(t, reel_mul(t, d, d)), (reel_real)(1.0 / cnt));
	if (loss && st) {
		double ae = 0, se = 0;
		for (size_t i = 0; i < d->size; i++) {
			ae += fabs((double)d->data[i]);
			se += (double)d->data[i] * d->data[i];
		}
		st->loss_sum += (double)loss->data[0] * cnt;
		st->count += cnt;
		st->abs_err += ae;
		st->sq_err += se;
	}
	return loss;
}

int reel_model_mdn_components(const reel_model *m)
{
	return m->nlayers > 0 ? reel__mdn_components(&m->layers[m->nlayers - 1]) : 0;
}

/* regress: squared error, or the mixture's NLL after an mdn layer */
static reel_tensor *regress_loss(reel_tape *t, reel_model *m, reel_tensor *y, const reel_batch *b, reel_batch_stats *st)
{
	int K = reel_model_mdn_components(m);
	return K ? reel__mdn_task_loss(t, y, b, m->data_opts.per_step, K, st) : mse_loss(t, y, b, m->data_opts.per_step, st);
}

reel_tensor *reel_model_loss(reel_tape *t, reel_model *m, const reel_batch *b, double tf_ratio, int carry,
                             reel_batch_stats *st)
{
	if (m->is_s2s) {
		reel_s2s_batch sb = {.src = b->src, .src_len = b->src_len, .S = b->S, .B = b->B, .tgt = b->tgt, .T = b->TT};
		reel_tensor *loss = reel_seq2seq_loss(t, &m->s2s, &sb, tf_ratio);
		if (loss && st) {
			double cnt = 0;
			for (int i = 0; i < b->TT * b->B; i++)
				cnt += b->tgt[i] != m->s2s.o.pad;
			st->loss_sum += (double)loss->data[0] * cnt;
			st->count += cnt;
		}
		return loss;
	}
	if (m->task == REEL_TASK_LM && m->training && m->train.ss_negatives && m->nlayers > 1)
		return reel__sampled_lm_loss(t, m, forward_upto(t, m, b, carry, b->stream_reset, m->nlayers - 1, 0), b, st);
	reel_tensor *y = forward_upto(t, m, b, carry, b->stream_reset, m->nlayers, m->training ? tf_ratio : 0);
	if (!y)
		return NULL;
	switch (m->task) {
	case REEL_TASK_CLASSIFY: return ce_loss(t, y, b->labels, b->B, st);
	case REEL_TASK_LM:
	case REEL_TASK_TAG: return ce_loss(t, y, b->labels, b->T * b->B, st);
	case REEL_TASK_REGRESS: return regress_loss(t, m, y, b, st);
	case REEL_TASK_CTC: return reel__ctc_task_loss(t, y, b, st);
	default: return reel_tape_fail(t, REEL_ERR_ARG, "model: unknown task");
	}
}

double reel_model_loss_count(const reel_model *m, const reel_batch *b)
{
	double cnt = 0;
	size_t TB = (size_t)b->T * b->B;
	if (b->B == 0)
		return 0;
	if (m->is_s2s) {
		for (size_t i = 0; i < (size_t)b->TT * b->B; i++)
			cnt += b->tgt[i] != m->s2s.o.pad;
		return cnt;
	}
	switch (m->task) {
	case REEL_TASK_CLASSIFY:
	case REEL_TASK_CTC: return b->B; /* ctc: a mean over sequences (of loss / target length) */
	case REEL_TASK_LM:
	case REEL_TASK_TAG:
		for (size_t i = 0; i < TB; i++)
			cnt += b->labels[i] != REEL_DATA_IGNORE;
		return cnt;
	case REEL_TASK_REGRESS: {
		int per_row = reel_model_mdn_components(m) ? 1 : b->O; /* mdn: a mean over rows, not values */
		if (!m->data_opts.per_step)
			return (double)b->B * per_row;
		for (int i = 0; i < b->B; i++)
			cnt += (double)b->lengths[i] * per_row;
		return cnt;
	}
	default: return 0;
	}
}

/* ---- evaluation ------------------------------------------------------------------------------------ */

static void s2s_decode_stats(reel_tape *t, reel_model *m, const reel_batch *b, reel_batch_stats *st, reel_status *rs)
{
	int B = b->B, maxlen = b->TT + 8;
	reel_s2s_batch sb = {.src = b->src, .src_len = b->src_len, .S = b->S, .B = B};
	reel_s2s_result r;
	if ((*rs = reel_s2s_result_init(&r, B, maxlen, b->S)) != REEL_OK)
		return;
	*rs = m->decode.beam > 1 ? reel_seq2seq_beam(t, &m->s2s, &sb, m->decode.beam, maxlen, m->decode.alpha, &r)
	                         : reel_seq2seq_greedy(t, &m->s2s, &sb, maxlen, &r);
	if (*rs == REEL_OK)
		for (int k = 0; k < B; k++) {
			const int32_t *out = r.tokens + (size_t)k * maxlen;
			int exact = 1;
			for (int i = 0; i < b->TT; i++) {
				int32_t want = b->tgt[i * B + k];
				if (want == m->s2s.o.pad)
					break;
				int32_t got = i < r.len[k] ? out[i] : -1;
				st->tok_n++;
				st->tok_ok += got == want;
				if (got != want)
					exact = 0;
				if (want == m->s2s.o.eos)
					break;
			}
			st->seqs++;
			st->correct += exact;
		}
	reel_s2s_result_deinit(&r);
}

reel_status reel_model_evaluate(reel_model *m, reel_data_split split, int max_batches, reel_metrics *out, reel_err *err)
{
	*out = reel_task_metrics(m->task);
	reel_tape *t = reel_tape_new(0, m->train.seed ^ 0xe7a1u);
	if (!t)
		return reel_err_set(err, REEL_ERR_NOMEM, "evaluate: out of memory");
	reel_tape_set_training(t, 0);
	reel_tape_set_grad(t, 0);
	reel_data_rewind(m->data, split);
	reel_batch_stats st = {0};
	reel_status rs = REEL_OK;
	int nb = 0, carry = m->task == REEL_TASK_LM && m->data_opts.stream ? 2 : 0;
	for (;;) {
		if (max_batches && nb >= max_batches)
			break;
		reel_batch b;
		int r = reel_data_next(m->data, split, m->train.batch_size, &b, err);
		if (r < 0) {
			rs = err->code ? err->code : REEL_ERR_IO;
			break;
		}
		if (r == 0)
			break;
		nb++;
		if (b.B == 0) /* data parallel: an empty shard of a small last batch */
			continue;
		reel_tape_reset(t);
		if (carry && nb == 1)
			b.stream_reset = 1;
		reel_tensor *loss = reel_model_loss(t, m, &b, 1.0, carry, &st);
		if (!loss) {
			rs = reel_err_set(err, reel_tape_status(t), "evaluate: %s", reel_tape_error(t));
			break;
		}
		if (m->is_s2s) {
			reel_tape_reset(t);
			s2s_decode_stats(t, m, &b, &st, &rs);
			if (rs != REEL_OK) {
				reel_err_set(err, rs, "evaluate: %s", reel_tape_error(t));
				break;
			}
		}
	}
	reel_tape_free(t);
	reel_data_rewind(m->data, split);
	if (rs != REEL_OK)
		return rs;
	if (m->reduce) { /* every rank: the statistics of the whole split */
		double v[] = {st.loss_sum, st.count, st.correct, st.abs_err, st.sq_err, st.seqs, st.tok_ok, st.tok_n,
		              st.edits, st.ref_len};
		if ((rs = reel_reduce_sum_double(m->reduce, v, sizeof v / sizeof *v, err)) != REEL_OK)
			return rs;
		st = (reel_batch_stats){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]};
	}
	if (st.count == 0)
		return reel_err_set(err, REEL_ERR_IO, "evaluate: the %s split is empty",
		                    split == REEL_VALID ? "validation" : split == REEL_TEST ? "test" : "training");
	double loss = st.loss_sum / st.count;
	out->value[0] = loss;
	switch (m->task) {
	case REEL_TASK_LM:
		out->value[1] = exp(loss);
		out->value[2] = loss / log(2.0);
		out->value[3] = st.correct / st.count;
		break;
	case REEL_TASK_CLASSIFY:
	case REEL_TASK_TAG: out->value[1] = st.correct / st.count; break;
	case REEL_TASK_REGRESS:
		out->value[1] = st.sq_err / st.count;
		out->value[2] = st.abs_err / st.count;
		break;
	case REEL_TASK_SEQ2SEQ:
		out->value[1] = st.seqs ? st.correct / st.seqs : 0;
		out->value[2] = st.tok_n ? st.tok_ok / st.tok_n : 0;
		break;
	case REEL_TASK_CTC: out->value[1] = st.ref_len ? st.edits / st.ref_len : 0; break;
	}
	return REEL_OK;
}

/* ---- summary --------------------------------------------------------------------------------------- */

static void flow_str(const reel_flow *f, char *out, size_t n)
{
	if (f->tokens)
		snprintf(out, n, "(T, B) ids < %d", f->F);
	else if (f->pooled)
		snprintf(out, n, "(B, %d)", f->F);
	else
		snprintf(out, n, "(T, B, %d)", f->F);
}

static void print_params(const reel_model *m, int first, int n, FILE *f)
{
	for (int i = first; i < first + n; i++) {
		reel_tensor *p = reel_params_at(m->ps, i);
		char s[64];
		fprintf(f, "    %-36s %-14s %10zu\n", p->name, reel_shape_str(p, s, sizeof s), p->size);
	}
}

static void human_bytes(double b, char *out, size_t n)
{
	if (b >= 1 << 30)
		snprintf(out, n, "%.2f GiB", b / (1 << 30));
	else if (b >= 1 << 20)
		snprintf(out, n, "%.1f MiB", b / (1 << 20));
	else
		snprintf(out, n, "%.1f KiB", b / 1024);
}

void reel_model_summary(const reel_model *m, FILE *f)
{
	fprintf(f, "%s: task %s, data %s\n", reel_cfg_name(m->cfg), reel_task_name(m->task), m->data_opts.source);
	if (m->is_s2s) {
		const reel_seq2seq_opts *o = &m->s2s.o;
		fprintf(f, "seq2seq: %s cells, embedding %d, hidden %d, encoder %d layer%s%s, decoder %d layer%s, attention %s%s%s\n",
		        o->cell->name, o->emb_size, o->hidden_size, o->enc_layers, o->enc_layers > 1 ? "s" : "",
		        o->bidirectional ? " bidirectional" : "", o->dec_layers, o->dec_layers > 1 ? "s" : "",
		        reel_attn_kind_name(o->attention), o->input_feeding ? ", input feeding" : "",
		        o->tie_embeddings ? ", tied embeddings" : "");
		fprintf(f, "source vocabulary %d, target vocabulary %d\n\n", o->src_vocab, o->tgt_vocab);
		fprintf(f, "    %-36s %-14s %10s\n", "parameter", "shape", "count");
		print_params(m, 0, reel_params_count(m->ps), f);
	} else {
		fprintf(f, "\n%-4s %-12s %-16s %-20s %12s\n", "#", "layer", "name", "output", "parameters");
		for (int i = 0; i < m->nlayers; i++) {
			const reel_layer *L = &m->layers[i];
			char s[64];
			flow_str(&L->out, s, sizeof s);
			size_t np = 0;
			for (int k = L->first_param; k < L->first_param + L->nparams; k++)
				np += reel_params_at(m->ps, k)->size;
			fprintf(f, "%-4d %-12s %-16s %-20s %12zu\n", i, L->type->name, L->name, s, np);
			print_params(m, L->first_param, L->nparams, f);
			const char *eqs = reel_cells_text(reel_cell_find(L->type->name));
			if (eqs)
				fprintf(f, "  cell %s, equations as parsed:\n%s", L->type->name, eqs);
		}
	}
	size_t total = 0;
	for (int i = 0; i < reel_params_count(m->ps); i++)
		total += reel_params_at(m->ps, i)->size;
	char pb[32], eb[32];
	human_bytes((double)total * sizeof(reel_real), pb, sizeof pb);
	human_bytes(m->est_bytes, eb, sizeof eb);
	fprintf(f, "\ntotal parameters: %zu (%s of %s)\n", total, pb, REEL_REAL_NAME);
	fprintf(f, "memory estimate: %s (parameters, gradients, optimizer state, one step of %d steps x batch %d)\n", eb,
	        m->est_T, m->train.batch_size);
}

/* ---- save and load -------------------------------------------------------------------------------------- */

reel_status reel__model_add_to(const reel_model *m, reel_st_writer *w, const char *path, reel_err *err)
{
	char *cfg = reel_cfg_print(m->cfg), *data = reel_data_state_json(m->data);
	char *plan = reel_gemm_plan_save(); /* the kernels chosen per product shape: loading reproduces them */
	char fmt[16];
	snprintf(fmt, sizeof fmt, "%d", REEL_CFG_FORMAT);
	/* a model without its config, vocabularies or plan cannot be used as trained: no write */
	reel_status st = cfg && data && plan ? REEL_OK : reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
	if (st == REEL_OK)
		st = reel_params_add_to(m->ps, w, err);
	if (st == REEL_OK)
		st = reel_st_add_meta(w, "format", fmt, err);
	if (st == REEL_OK)
		st = reel_st_add_meta(w, "config", cfg, err);
	if (st == REEL_OK)
		st = reel_st_add_meta(w, "data", data, err);
	if (st == REEL_OK && plan[0])
		st = reel_st_add_meta(w, "reel.gemm_plan", plan, err);
	free(cfg);
	free(data);
	free(plan);
	return st;
}

reel_status reel_model_save(const reel_model *m, const char *path, reel_err *err)
{
	reel_st_writer *w = reel_st_writer_new();
	if (!w)
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
	reel_status st = reel__model_add_to(m, w, path, err);
	if (st == REEL_OK)
		st = reel_st_write(w, path, err);
	reel_st_writer_free(w);
	return st;
}

reel_status reel_model_load(reel_model *m, const char *path, reel_err *err)
{
	reel_st_file *f = NULL;
	reel_status st = reel_st_read(path, &f, err);
	if (st != REEL_OK)
		return st;
	st = reel_params_load(m->ps, f, path, err);
	if (st == REEL_OK) /* run the products with the kernels training chose */
		reel_gemm_plan_load(reel_st_meta(f, "reel.gemm_plan"));
	reel_st_free(f);
	return st;
}

/* ---- reel list -------------------------------------------------------------------------------------------- */

void reel_model_describe(FILE *f)
{
	reel_cfg *c = reel_cfg_describe();
	if (!c)
		return;
	reel_cfg_obj root = reel_cfg_root(c);
	reel_cfg_section(c, "top level", NULL);
	reel_cfg_int(&root, "format", REEL_CFG_REQUIRED, 1, 1000, "config format version (this reel reads 1)");
	reel_cfg_enum(&root, "task", -1, TASKS, "what is learned");
	reel_cfg_array(&root, "model", 1, "layers in order (lm, classify, tag, regress) or an object (seq2seq)");
	reel_data_opts d;
	read_data(&root, REEL_TASK_LM, 0, &d);
	reel_cells_read(&root);
	reel_cfg_section(c, "layer types (entries of \"model\" for lm, classify, tag, regress)",
	                 "every layer also takes \"type\" and \"name\" (the parameter prefix; default: its index)");
	reel_data_info info = {0};
	for (int i = 0; i < reel_layer_type_count(); i++) {
		const reel_layer_type *ty = reel_layer_type_at(i);
		reel_cfg_section(c, ty->name, ty->doc);
		reel_layer L = {.type = ty};
		L.state = reel__calloc(1, ty->state_size);
		reel_build_ctx b = {.info = &info};
		reel_flow in = {0}, out;
		reel_cfg_obj o = {.c = c};
		ty->build(&L, &o, &in, &out, &b);
		free(L.state);
	}
	reel_model m = {0};
	reel_build_ctx b = {.info = &info};
	build_s2s(&m, &root, &b);
	reel_train_cfg tr;
	read_train(&root, REEL_TASK_LM, &tr);
	reel_decode_cfg dc;
	read_decode(&root, &dc);
	fputs(reel_cfg_description(c), f);
	reel_cfg_free(c);
}

/* ---- interop: --init, reel grad, reel gradcheck ----------------------------------------------- */

static void shape_of(const reel_st_tensor *s, char *out, size_t n)
{
	size_t l = 0;
	out[0] = 0;
	for (int d = 0; d < s->ndim && l + 24 < n; d++)
		l += (size_t)snprintf(out + l, n - l, "%s%lld", d ? "x" : "", (long long)s->shape[d]);
	if (s->ndim == 0)
		snprintf(out, n, "scalar");
}

/* Append line to the report *buf (length *len); a failed realloc drops it. */
static void append(char **buf, size_t *len, const char *line)
{
	size_t n = strlen(line);
	char *nb = reel__realloc(*buf, *len + n + 1);
	if (!nb)
		return;
	memcpy(nb + *len, line, n + 1);
	*buf = nb;
	*len += n;
}

/* The file's name for parameter name under the prefix map "from=to"
 * (a file tensor from+X initialises to+X). */
static const char *mapped(const char *name, const char *map, char *buf, size_t n)
{
	if (!map)
		return name;
	const char *eq = strchr(map, '=');
	size_t fl = eq ? (size_t)(eq - map) : strlen(map);
	const char *to = eq ? eq + 1 : "";
	size_t tl = strlen(to);
	if (strncmp(name, to, tl))
		return name;
	snprintf(buf, n, "%.*s%s", (int)fl, map, name + tl);
	return buf;
}

reel_status reel_model_init_from(reel_model *m, const char *path, const char *prefix_map, char **report, reel_err *err)
{
	*report = NULL;
	reel_st_file *f = NULL;
	reel_status st = reel_st_read(path, &f, err);
	if (st != REEL_OK)
		return st;
	char *rep = NULL;
	size_t len = 0;
	int bad = 0;
	int np = reel_params_count(m->ps), nf = reel_st_count(f);
	char *used = reel__calloc((size_t)nf + 1, 1);
	if (!used) {
		reel_st_free(f);
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
	}
	char line[600], buf[300], a[64], b[64];
	for (int i = 0; i < np; i++) {
		reel_tensor *p = reel_params_at(m->ps, i);
		const char *fn = mapped(p->name, prefix_map, buf, sizeof buf);
		const reel_st_tensor *t = reel_st_find(f, fn);
		line[0] = 0;
		if (!t) {
			snprintf(line, sizeof line, "  missing: %s (%s)\n", fn, reel_shape_str(p, a, sizeof a));
		} else {
			used[t - reel_st_at(f, 0)] = 1;
			int same = t->ndim == p->ndim;
			for (int d = 0; same && d < p->ndim; d++)
				same = t->shape[d] == p->shape[d];
			shape_of(t, b, sizeof b);
			if (!same)
				snprintf(line, sizeof line, "  misshapen: %s is %s in the file, %s in the model\n", fn, b,
				         reel_shape_str(p, a, sizeof a));
			else if (t->dtype != REEL_F32 && t->dtype != REEL_F64)
				snprintf(line, sizeof line, "  wrong dtype: %s (F32 or F64 expected)\n", fn);
		}
		if (line[0]) {
			bad++;
			append(&rep, &len, line);
		}
	}
	int reel_ckpt = reel_st_meta(f, "reel.train") != NULL; /* a reel checkpoint: its moments and states are not parameters */
	for (int i = 0; i < nf; i++) {
		const reel_st_tensor *t = reel_st_at(f, i);
		if (used[t - reel_st_at(f, 0)] || (reel_ckpt && (!strncmp(t->name, "optim.", 6) || !strncmp(t->name, "state.", 6))))
			continue;
		bad++;
		shape_of(t, b, sizeof b);
		snprintf(line, sizeof line, "  extra: %s (%s) is not a parameter of the model\n", t->name, b);
		append(&rep, &len, line);
	}
	free(used);
	if (bad) {
		*report = rep;
		reel_st_free(f);
		return reel_err_set(err, REEL_ERR_IO, "%s: %d tensor%s do not match the model%s%s (listed above)", path, bad,
		                    bad == 1 ? "" : "s", prefix_map ? " under --init-prefix " : "", prefix_map ? prefix_map : "");
	}
	free(rep);
	for (int i = 0; i < np; i++) {
		reel_tensor *p = reel_params_at(m->ps, i);
		reel_st_to_real(reel_st_find(f, mapped(p->name, prefix_map, buf, sizeof buf)), p->data);
	}
	reel_st_free(f);
	return REEL_OK;
}

/* A batch from a safetensors file (see reel_model_grad).  Arrays are
 * allocated into *own (freed by the caller, one block each). */
typedef struct loaded_batch {
	reel_batch b;
	void *mem[8];
	int nmem;
} loaded_batch;

static void *take(loaded_batch *lb, const reel_st_tensor *t, int as_int)
{
	void *p = reel__malloc((t->count ? t->count : 1) * (as_int ? sizeof(int32_t) : sizeof(reel_real)));
	if (!p || lb->nmem == 8) {
		free(p);
		return NULL;
	}
	lb->mem[lb->nmem++] = p;
	if (as_int)
		reel_st_to_i32(t, p);
	else
		reel_st_to_real(t, p);
	return p;
}

static int dims(const reel_st_tensor *t, int nd, long long d0, long long d1, long long d2)
{
	long long want[3] = {d0, d1, d2};
	if (!t || t->ndim != nd)
		return 0;
	for (int d = 0; d < nd; d++)
		if (want[d] >= 0 && t->shape[d] != want[d])
			return 0;
	return 1;
}

static reel_status load_batch(reel_model *m, const reel_st_file *f, const char *path, loaded_batch *lb, reel_err *err)
{
	reel_batch *b = &lb->b;
	memset(lb, 0, sizeof *lb);
	if (m->is_s2s) {
		const reel_st_tensor *src = reel_st_find(f, "src"), *sl = reel_st_find(f, "src_len"), *tg = reel_st_find(f, "tgt");
		if (!dims(src, 2, -1, -1, 0) || !dims(sl, 1, src ? src->shape[1] : -1, 0, 0) || !dims(tg, 2, -1, src ? src->shape[1] : -1, 0))
			return reel_err_set(err, REEL_ERR_IO, "%s: a seq2seq batch needs src (S, B), src_len (B) and tgt (T, B) ids", path);
		b->S = (int)src->shape[0];
		b->B = (int)src->shape[1];
		b->TT = (int)tg->shape[0];
		b->src = take(lb, src, 1);
		b->src_len = take(lb, sl, 1);
		b->tgt = take(lb, tg, 1);
		if (!b->src || !b->src_len || !b->tgt)
			return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
		for (int i = 0; i < b->B; i++)
			if (b->src_len[i] < 1 || b->src_len[i] > b->S)
				return reel_err_set(err, REEL_ERR_IO, "%s: src_len[%d] is %d, outside [1, %d]", path, i, b->src_len[i], b->S);
		return REEL_OK;
	}
	const reel_st_tensor *tok = reel_st_find(f, "tokens"), *in = reel_st_find(f, "inputs"), *len = reel_st_find(f, "lengths");
	const reel_st_tensor *lab = reel_st_find(f, "labels"), *tg = reel_st_find(f, "targets");
	if (m->info.tokens_in ? !dims(tok, 2, -1, -1, 0) : !dims(in, 3, -1, -1, m->info.features))
		return reel_err_set(err, REEL_ERR_IO, m->info.tokens_in ? "%s: the batch needs tokens (T, B) ids" : "%s: the batch needs inputs (T, B, %d)",
		                    path, m->info.features);
	const reel_st_tensor *x = m->info.tokens_in ? tok : in;
	b->T = (int)x->shape[0];
	b->B = (int)x->shape[1];
	if (m->info.tokens_in)
		b->tokens = take(lb, tok, 1);
	else {
		b->inputs = take(lb, in, 0);
		b->F = m->info.features;
	}
	if (len) {
		if (!dims(len, 1, b->B, 0, 0))
			return reel_err_set(err, REEL_ERR_IO, "%s: lengths must be (B) = (%d)", path, b->B);
		b->lengths = take(lb, len, 1);
	} else {
		/* no lengths in the file: every sequence is T steps (B of them, not the 1
		 * element a zero-count tensor would get from take) */
		b->lengths = lb->nmem < 8 ? reel__malloc((size_t)b->B * sizeof *b->lengths) : NULL;
		if (b->lengths)
			lb->mem[lb->nmem++] = b->lengths;
		for (int i = 0; b->lengths && i < b->B; i++)
			b->lengths[i] = b->T;
	}
	for (int i = 0; b->lengths && i < b->B; i++)
		if (b->lengths[i] < 1 || b->lengths[i] > b->T)
			return reel_err_set(err, REEL_ERR_IO, "%s: lengths[%d] is %d, outside [1, %d]", path, i, b->lengths[i], b->T);
	if (m->task == REEL_TASK_REGRESS) {
		int per = m->data_opts.per_step, O = m->info.outputs;
		if (per ? !dims(tg, 3, b->T, b->B, O) : !dims(tg, 2, b->B, O, 0))
			return reel_err_set(err, REEL_ERR_IO, per ? "%s: targets must be (T, B, %d)" : "%s: targets must be (B, %d)", path, O);
		b->targets = take(lb, tg, 0);
		b->O = O;
	} else {
		int per = m->task != REEL_TASK_CLASSIFY;
		if (per ? !dims(lab, 2, b->T, b->B, 0) : !dims(lab, 1, b->B, 0, 0))
			return reel_err_set(err, REEL_ERR_IO, per ? "%s: labels must be (T, B) ids (-100: ignored)" : "%s: labels must be (B) ids", path);
		b->labels = take(lb, lab, 1);
	}
	if ((m->info.tokens_in ? !b->tokens : !b->inputs) || !b->lengths || (!b->labels && !b->targets))
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
	return REEL_OK;
}

reel_status reel_model_grad(reel_model *m, const char *batch_path, const char *out_path, double *loss_out, reel_err *err)
{
	reel_st_file *f = NULL;
	reel_status st = reel_st_read(batch_path, &f, err);
	if (st != REEL_OK)
		return st;
	loaded_batch lb;
	reel_tape *t = NULL;
	reel_st_writer *w = NULL;
	char **names = NULL;
	int np = reel_params_count(m->ps);
	if ((st = load_batch(m, f, batch_path, &lb, err)) != REEL_OK)
		goto out;
	t = reel_tape_new(0, m->train.seed);
	w = reel_st_writer_new();
	names = reel__calloc((size_t)np + 1, sizeof *names);
	if (!t || !w || !names) {
		st = reel_err_set(err, REEL_ERR_NOMEM, "reel grad: out of memory");
		goto out;
	}
	reel_tape_set_training(t, 0); /* no dropout: the same function PyTorch's eval() computes */
	reel_params_zero_grad(m->ps);
	reel_tensor *y = m->is_s2s ? NULL : reel_model_forward(t, m, &lb.b, 0);
	reel_tensor *loss = NULL;
	if (m->is_s2s) {
		loss = reel_model_loss(t, m, &lb.b, 1.0, 0, NULL);
	} else if (y) {
		switch (m->task) {
		case REEL_TASK_CLASSIFY: loss = ce_loss(t, y, lb.b.labels, lb.b.B, NULL); break;
		case REEL_TASK_REGRESS: loss = regress_loss(t, m, y, &lb.b, NULL); break;
		case REEL_TASK_CTC: loss = reel__ctc_task_loss(t, y, &lb.b, NULL); break;
		default: loss = ce_loss(t, y, lb.b.labels, lb.b.T * lb.b.B, NULL); break;
		}
	}
	if (!loss || reel_backward(t, loss) != REEL_OK) {
		st = reel_err_set(err, reel_tape_status(t), "reel grad: %s", reel_tape_error(t));
		goto out;
	}
	*loss_out = loss->data[0];
	if ((st = reel_st_add_real(w, "loss", 0, NULL, loss->data, err)) != REEL_OK)
		goto out;
	if (y && (st = reel_st_add_real(w, "outputs", y->ndim, y->shape, y->data, err)) != REEL_OK)
		goto out;
	for (int i = 0; i < np; i++) {
		reel_tensor *p = reel_params_at(m->ps, i);
		size_t n = strlen(p->name) + 6;
		if (!(names[i] = reel__malloc(n))) {
			st = reel_err_set(err, REEL_ERR_NOMEM, "reel grad: out of memory");
			goto out;
		}
		snprintf(names[i], n, "grad.%s", p->name);
		if ((st = reel_st_add_real(w, names[i], p->ndim, p->shape, reel_tensor_grad(p), err)) != REEL_OK)
			goto out;
	}
	st = reel_st_write(w, out_path, err);
out:
	for (int i = 0; names && i < np; i++)
		free(names[i]);
	free(names);
	reel_st_writer_free(w);
	reel_tape_free(t);
	for (int i = 0; i < lb.nmem; i++)
		free(lb.mem[i]);
	reel_st_free(f);
	return st;
}

/* The loss of batch b with the tape's RNG reseeded (the same dropout masks
 * every time); NAN on error. */
static double loss_at(reel_model *m, reel_tape *t, const reel_batch *b, int backward)
{
	reel_tape_reset(t);
	reel_rng_seed(reel_tape_rng(t), m->train.seed);
	reel_tensor *l = reel_model_loss(t, m, b, 1.0, 0, NULL);
	if (!l || (backward && reel_backward(t, l) != REEL_OK))
		return NAN;
	return l->data[0];
}

reel_status reel_model_gradcheck(reel_model *m, int per_param, double rtol, double atol, FILE *out, int *failed,
                                 reel_err *err)
{
	*failed = 0;
	reel_batch b;
	int r = reel_data_next(m->data, REEL_TRAIN, m->train.batch_size, &b, err);
	if (r <= 0)
		return r < 0 ? err->code : reel_err_set(err, REEL_ERR_IO, "gradcheck: the training split gave no batch");
	reel_tape *t = reel_tape_new(0, m->train.seed);
	if (!t)
		return reel_err_set(err, REEL_ERR_NOMEM, "gradcheck: out of memory");
	reel_params_zero_grad(m->ps);
	double l0 = loss_at(m, t, &b, 1);
	if (!isfinite(l0)) {
		reel_status st = reel_err_set(err, REEL_ERR_NUMERIC, "gradcheck: the loss is %g: %s", l0, reel_tape_error(t));
		reel_tape_free(t);
		return st;
	}
	const double eps = sizeof(reel_real) == 8 ? 1e-6 : 1e-3;
	fprintf(out, "gradcheck: loss %.10g on one batch of %d; %d elements per parameter, step %g, tolerance %g + %g |g|\n",
	        l0, b.B, per_param, eps, atol, rtol);
	fprintf(out, "  %-36s %10s %14s  %s\n", "parameter", "elements", "worst rel err", "");
	for (int i = 0; i < reel_params_count(m->ps); i++) {
		reel_tensor *p = reel_params_at(m->ps, i);
		if (!p->requires_grad) {
			fprintf(out, "  %-36s %10zu %14s  frozen\n", p->name, (size_t)0, "-");
			continue;
		}
		const reel_real *g = reel_tensor_grad(p);
		size_t n = p->size, k = (size_t)per_param < n ? (size_t)per_param : n;
		double worst = 0, worst_ratio = 0;
		for (size_t j = 0; j < k; j++) {
			size_t e = k == n ? j : (size_t)((double)j * (double)(n - 1) / (double)(k - 1 ? k - 1 : 1));
			reel_real keep = p->data[e];
			p->data[e] = keep + (reel_real)eps;
			double lp = loss_at(m, t, &b, 0);
			p->data[e] = keep - (reel_real)eps;
			double lm = loss_at(m, t, &b, 0);
			p->data[e] = keep;
			double num = (lp - lm) / (2 * eps), ana = g[e], d = fabs(num - ana);
			double scale = fmax(fabs(num), fabs(ana));
			double rel = scale > 0 ? d / scale : 0, ratio = d / (atol + rtol * scale);
			if (rel > worst)
				worst = rel;
			if (ratio > worst_ratio || isnan(ratio))
				worst_ratio = isnan(ratio) ? INFINITY : ratio;
		}
		int ok = worst_ratio <= 1;
		*failed += !ok;
		fprintf(out, "  %-36s %10zu %14.3e  %s\n", p->name, k, worst, ok ? "ok" : "FAILED");
	}
	reel_tape_free(t);
	return REEL_OK;
}
