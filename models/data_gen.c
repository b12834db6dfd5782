/* Generated data sources (data.h): adding, copy, reverse, dates, sine,
 * mackey_glass, and the series windows shared with csv.
 *
 * Splits: adding, copy, sine, reverse and dates draw examples until one
 * falls in the requested split by a hash of its key (reel_task_key_split:
 * nine keys in ten train, one in twenty valid, one in twenty test).  The
 * key is the example's content where it is discrete (copy: its symbols;
 * reverse: its string; dates: the date; sine: its quantised frequency and
 * phase) and, for adding, the 64-bit seed the whole example is drawn from,
 * so a key and hence an example never occurs in two splits.
 * mackey_glass is one long series split into disjoint ranges. */
#include "data_internal.h"
#include "fault.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COPY_SYMBOLS 8
#define COPY_LEN 10
#define TASK_MAX_DRAWS 200000L
/* Mackey-Glass: samples of the series (one per time unit) after a
 * transient of MG_WARMUP time units. */
#define MG_SAMPLES 30000
#define MG_WARMUP 1000

static reel_data_split key_split(uint64_t key)
{
	reel_task_split s = reel_task_key_split(key);
	return s == REEL_SPLIT_TRAIN ? REEL_TRAIN : s == REEL_SPLIT_VALID ? REEL_VALID : REEL_TEST;
}

static int oom(reel_err *err)
{
	reel_err_set(err, REEL_ERR_NOMEM, "data: out of memory (or size overflow) generating examples");
	return -1;
}

/* adding: T steps of (value uniform in [0,1), marker); one marker in each
 * half; the target is the sum of the two marked values. */
static int gen_adding(reel_data *d, reel_data_split split, reel_rng *rng, reel__exset *out, reel_err *err)
{
	uint64_t u;
	do
		u = reel_rng_next(rng);
	while (key_split(u) != split);
	reel_rng r;
	reel_rng_seed(&r, u);
	int T = d->o.length, half = T / 2;
	int p1 = (int)reel_rng_below(&r, (uint64_t)half), p2 = half + (int)reel_rng_below(&r, (uint64_t)(T - half));
	reel__ex *e = reel__exset_add(out);
	if (!e)
		return oom(err);
	e->in = out->nx;
	e->out = out->ny;
	e->len = T;
	double sum = 0;
	for (int t = 0; t < T; t++) {
		double v = reel_rng_uniform(&r);
		int mark = t == p1 || t == p2;
		sum += mark ? v : 0;
		if (reel__push_x(out, (reel_real)v) || reel__push_x(out, (reel_real)mark))
			return oom(err);
	}
	return reel__push_y(out, (reel_real)sum) ? oom(err) : 0;
}

/* copy: inputs (ids) 3..10 the symbols, 1 blank, 2 go: COPY_LEN symbols,
 * `delay` blanks, go, COPY_LEN blanks; labels 0 blank until the last
 * COPY_LEN steps, which are the symbols again (1..8). */
static int gen_copy(reel_data *d, reel_data_split split, reel_rng *rng, reel__exset *out, reel_err *err)
{
	int sym[COPY_LEN];
	uint64_t key;
	do {
		key = 0;
		for (int i = 0; i < COPY_LEN; i++) {
			sym[i] = (int)reel_rng_below(rng, COPY_SYMBOLS);
			key = key * COPY_SYMBOLS + (uint64_t)sym[i];
		}
	} while (key_split(key) != split);
	int delay = d->o.delay, len = 2 * COPY_LEN + delay + 1;
	reel__ex *e = reel__exset_add(out);
	if (!e)
		return oom(err);
	e->in = out->ntok;
	e->out = out->nlab;
	e->len = len;
	for (int t = 0; t < len; t++) {
		int32_t in = t < COPY_LEN ? 3 + sym[t] : t == COPY_LEN + delay ? 2 : 1;
		int32_t lab = t >= len - COPY_LEN ? 1 + sym[t - (len - COPY_LEN)] : 0;
		if (reel__push_tok(out, in) || reel__push_lab(out, lab))
			return oom(err);
	}
	return 0;
}

static int32_t char_id(const char *chars, char c)
{
	const char *p = strchr(chars, c);
	return p && c ? (int32_t)(p - chars) : -1;
}

/* reverse, dates: tasks.h's examples; source ids 1 + character index,
 * target ids 3 + character index (0 pad, 1 bos, 2 eos). */
static int gen_task(reel_data *d, reel_data_split split, reel_rng *rng, reel__exset *out, reel_err *err)
{
	reel_task t = d->s2s_task;
	t.split = split == REEL_TRAIN ? REEL_SPLIT_TRAIN : split == REEL_VALID ? REEL_SPLIT_VALID : REEL_SPLIT_TEST;
	char src[REEL_TASK_MAX_LEN], tgt[REEL_TASK_MAX_LEN];
	if (!reel_task_example_bounded(&t, rng, src, tgt, TASK_MAX_DRAWS)) {
		reel_err_set(err, REEL_ERR_CONFIG,
		             "data: %s: no example of the %s split in %ld draws (lengths %d..%d hold too few distinct "
		             "strings; widen them)",
		             d->source, reel__split_name(split), TASK_MAX_DRAWS, d->o.min_len, d->o.max_len);
		return -1;
	}
	int ls = (int)strlen(src), lt = (int)strlen(tgt);
	reel__ex *e = reel__exset_add(out);
	if (!e)
		return oom(err);
	e->in = out->ntok;
	e->out = out->nlab;
	e->len = ls;
	e->out_len = lt;
	for (int i = 0; i < ls; i++)
		if (reel__push_tok(out, 1 + char_id(t.src_chars, src[i])))
			return oom(err);
	for (int i = 0; i < lt; i++)
		if (reel__push_lab(out, 3 + char_id(t.tgt_chars, tgt[i])))
			return oom(err);
	return 0;
}

/* sine: x_t = sin(2 pi f t + phi) + noise * N(0, 1) for t < window, with f
 * in [0.02, 0.2) cycles per step and phi in [0, 2 pi), each quantised to
 * 2^16 levels (the key); targets are the noiseless value `horizon` steps
 * ahead (of every step, or of the last). */
static int gen_sine(reel_data *d, reel_data_split split, reel_rng *rng, reel__exset *out, reel_err *err)
{
	uint64_t fi, pi;
	do {
		fi = reel_rng_below(rng, 1 << 16);
		pi = reel_rng_below(rng, 1 << 16);
	} while (key_split(fi << 16 | pi) != split);
	const double two_pi = 6.283185307179586;
	double f = 0.02 + 0.18 * (double)fi / 65536.0, phi = two_pi * (double)pi / 65536.0;
	int W = d->o.window, h = d->o.horizon;
	reel__ex *e = reel__exset_add(out);
	if (!e)
		return oom(err);
	e->in = out->nx;
	e->out = out->ny;
	e->len = W;
	for (int t = 0; t < W; t++)
		if (reel__push_x(out, (reel_real)(sin(two_pi * f * t + phi) + d->o.noise * reel_rng_normal(rng))))
			return oom(err);
	for (int t = d->o.per_step ? 0 : W - 1; t < W; t++)
		if (reel__push_y(out, (reel_real)sin(two_pi * f * (t + h) + phi)))
			return oom(err);
	return 0;
}

/* ---- series (mackey_glass here, csv in data_file.c) ---- */

int reel__series_fetch(reel_data *d, reel_data_split split, size_t start, reel__exset *out, reel_err *err)
{
	(void)split;
	int W = d->o.window, h = d->o.horizon, C = d->cols;
	reel__ex *e = reel__exset_add(out);
	if (!e)
		return oom(err);
	e->in = out->nx;
	e->out = out->ny;
	e->len = W;
	for (int t = 0; t < W; t++)
		for (int f = 0; f < d->F; f++)
			if (reel__push_x(out, (reel_real)d->series[(start + (size_t)t) * (size_t)C + (size_t)d->in_cols[f]]))
				return oom(err);
	for (int t = d->o.per_step ? 0 : W - 1; t < W; t++)
		for (int o = 0; o < d->O; o++)
			if (reel__push_y(out, (reel_real)d->series[(start + (size_t)t + (size_t)h) * (size_t)C +
			                                           (size_t)d->tgt_cols[o]]))
				return oom(err);
	return 0;
}

int reel__series_setup(reel_data *d, const size_t rlo[3], const size_t rhi[3], const int required[3],
                       size_t n_random, const size_t fixed_n[3], const char *what, reel_err *err)
{
	size_t need = (size_t)d->o.window + (size_t)d->o.horizon;
	for (int s = 0; s < 3; s++) {
		reel__split *sp = &d->sp[s];
		sp->kind = REEL__SERIES;
		size_t rows = rhi[s] - rlo[s];
		if (rows < need) {
			if (required[s] || s == REEL_TRAIN) {
				reel_err_set(err, REEL_ERR_CONFIG,
				             "%s: the %s split has %zu rows, fewer than window + horizon (%d + %d): no example fits",
				             what, reel__split_name((reel_data_split)s), rows, d->o.window, d->o.horizon);
				return -1;
			}
			d->info.n[s] = 0;
			continue;
		}
		sp->lo = rlo[s];
		sp->hi = rhi[s] - need + 1; /* starts [lo, hi): the window and its last target fit */
		size_t span = sp->hi - sp->lo;
		if (n_random && s == REEL_TRAIN) {
			sp->random_starts = 1;
			sp->n_random = n_random;
			d->info.n[s] = -1;
			continue;
		}
		size_t n = n_random ? fixed_n[s] : span;
		if (!(sp->starts = reel__malloc((n ? n : 1) * sizeof *sp->starts)))
			return oom(err);
		sp->n_starts = n;
		if (n_random) {
			reel_rng r;
			reel_rng_seed(&r, d->o.seed ^ (0x57a27ULL + (uint64_t)s));
			for (size_t i = 0; i < n; i++)
				sp->starts[i] = sp->lo + (size_t)reel_rng_below(&r, span);
		} else {
			for (size_t i = 0; i < n; i++)
				sp->starts[i] = sp->lo + i;
		}
		d->info.n[s] = n > (size_t)LONG_MAX ? LONG_MAX : (long)n;
	}
	d->fetch = reel__series_fetch;
	d->info.max_len = d->o.window;
	return 0;
}

/* Mackey & Glass (1977) with tau = 17: dx/dt = 0.2 x(t-17) / (1 + x(t-17)^10)
 * - 0.1 x(t), integrated by Euler's method with dt = 0.1 from x = 1.2 on
 * [-17, 0], sampled once per time unit after MG_WARMUP units.  The series
 * does not depend on the seed; the windows drawn from it do. */
static int mackey_glass(reel_data *d, reel_err *err)
{
	const int sub = 10, lag = 17 * sub;
	const double dt = 0.1;
	double *hist = reel__malloc((size_t)(lag + 1) * sizeof *hist); /* ring of the last lag + 1 values */
	d->series = reel__malloc((size_t)MG_SAMPLES * sizeof *d->series);
	d->in_cols = reel__malloc(sizeof *d->in_cols);
	d->tgt_cols = reel__malloc(sizeof *d->tgt_cols);
	if (!hist || !d->series || !d->in_cols || !d->tgt_cols) {
		free(hist);
		return oom(err);
	}
	for (int i = 0; i <= lag; i++)
		hist[i] = 1.2;
	long steps = (long)(MG_WARMUP + MG_SAMPLES) * sub;
	int head = lag; /* hist[head] = x(t); hist[(head + 1) % (lag + 1)] = x(t - 17) */
	for (long k = 0; k < steps; k++) {
		double x = hist[head], xl = hist[(head + 1) % (lag + 1)];
		double nx = x + dt * (0.2 * xl / (1 + pow(xl, 10)) - 0.1 * x);
		head = (head + 1) % (lag + 1);
		hist[head] = nx;
		long u = k + 1 - (long)MG_WARMUP * sub;
		if (u > 0 && u % sub == 0 && u / sub <= MG_SAMPLES)
			d->series[u / sub - 1] = nx;
	}
	free(hist);
	d->rows = MG_SAMPLES;
	d->cols = 1;
	d->in_cols[0] = d->tgt_cols[0] = 0;
	d->F = d->O = 1;
	size_t a, b;
	reel__split_fracs(MG_SAMPLES, d->o.valid_frac, d->o.test_frac, 0, 0, &a, &b);
	size_t lo[3] = {0, a, b}, hi[3] = {a, b, MG_SAMPLES};
	int req[3] = {1, d->o.valid_frac > 0 && d->o.valid_size > 0, d->o.test_frac > 0 && d->o.test_size > 0};
	size_t fixed[3] = {0, req[1] ? (size_t)d->o.valid_size : 0, req[2] ? (size_t)d->o.test_size : 0};
	return reel__series_setup(d, lo, hi, req, (size_t)d->o.epoch_size, fixed, "data: mackey_glass", err);
}

static int vocab_specials(reel__vocab *v, const char *const *names, int n, const char *chars)
{
	for (int i = 0; i < n; i++)
		if (reel__vocab_add(v, names[i], (int)strlen(names[i])) < 0)
			return -1;
	for (const char *c = chars; c && *c; c++)
		if (reel__vocab_add(v, c, 1) < 0)
			return -1;
	v->n_special = v->n;
	return 0;
}

int reel__gen_open(reel_data *d, reel_err *err)
{
	const char *s = d->source;
	reel_data_info *in = &d->info;
	reel_task_type want;
	if (!strcmp(s, "adding")) {
		want = REEL_TASK_REGRESS;
		d->gen = gen_adding;
		d->F = 2;
		d->O = 1;
		in->max_len = d->o.length;
		if (d->o.per_step)
			return reel_err_set(err, REEL_ERR_CONFIG, "data: adding has one target, at the last step (per_step must be 0)"), -1;
	} else if (!strcmp(s, "copy")) {
		want = REEL_TASK_TAG;
		d->gen = gen_copy;
		d->tokens_in = 1;
		static const char *const ins[] = {"<pad>", "_", "<go>"}, *const outs[] = {"_"};
		if (vocab_specials(&d->in_vocab, ins, 3, "abcdefgh") || vocab_specials(&d->out_vocab, outs, 1, "abcdefgh"))
			return oom(err);
		in->max_len = 2 * COPY_LEN + 1 + d->o.delay;
	} else if (!strcmp(s, "reverse") || !strcmp(s, "dates")) {
		want = REEL_TASK_SEQ2SEQ;
		if (reel_task_init(&d->s2s_task, s, d->o.min_len, d->o.max_len, err) != REEL_OK) {
			if (err)
				err->code = REEL_ERR_CONFIG;
			return -1;
		}
		d->gen = gen_task;
		d->tokens_in = 1;
		static const char *const ins[] = {"<pad>"}, *const outs[] = {"<pad>", "<bos>", "<eos>"};
		if (vocab_specials(&d->in_vocab, ins, 1, d->s2s_task.src_chars) ||
		    vocab_specials(&d->out_vocab, outs, 3, d->s2s_task.tgt_chars))
			return oom(err);
		in->src_vocab = in->vocab = d->s2s_task.src_vocab;
		in->tgt_vocab = d->s2s_task.tgt_vocab;
		in->bos = REEL_TASK_BOS;
		in->eos = REEL_TASK_EOS;
		in->pad = REEL_TASK_PAD;
		in->max_len = !strcmp(s, "reverse") ? d->o.max_len + 1 : REEL_TASK_MAX_LEN;
	} else if (!strcmp(s, "unsegmented")) {
		want = REEL_TASK_CTC;
		d->gen = reel__gen_unsegmented;
		d->F = 8;
		static const char *const outs[] = {"_"}; /* class 0: the CTC blank */
		if (vocab_specials(&d->out_vocab, outs, 1, "abcde"))
			return oom(err);
		in->max_len = 5 * d->o.max_len;
	} else if (!strcmp(s, "bimodal")) {
		want = REEL_TASK_REGRESS;
		d->gen = reel__gen_bimodal;
		d->F = d->O = 1;
		in->max_len = d->o.window;
	} else if (!strcmp(s, "sine")) {
		want = REEL_TASK_REGRESS;
		d->gen = gen_sine;
		d->F = d->O = 1;
		in->max_len = d->o.window;
	} else { /* mackey_glass */
		if (d->task != REEL_TASK_REGRESS)
			return reel__task_mismatch(d, "regress", err), -1;
		if (mackey_glass(d, err))
			return -1;
		in->features = in->outputs = 1;
		return 0;
	}
	if (d->task != want) {
		static const char *const names[] = {"lm", "classify", "tag", "regress", "seq2seq", "ctc"};
		return reel__task_mismatch(d, names[want], err), -1;
	}
	in->tokens_in = d->tokens_in;
	if (d->tokens_in && d->task != REEL_TASK_SEQ2SEQ)
		in->vocab = d->in_vocab.n;
	in->classes = d->task == REEL_TASK_TAG || d->task == REEL_TASK_CTC ? d->out_vocab.n : 0;
	in->features = d->F;
	in->outputs = d->O;
	in->n[REEL_TRAIN] = -1;
	d->sp[REEL_TRAIN].kind = REEL__GEN;
	int sizes[3] = {0, d->o.valid_size, d->o.test_size};
	for (int k = REEL_VALID; k <= REEL_TEST; k++) {
		d->sp[k].kind = REEL__FIXED;
		reel_rng r;
		reel_rng_seed(&r, d->o.seed ^ (0xa11d0000ULL + (uint64_t)k));
		for (int i = 0; i < sizes[k]; i++)
			if (d->gen(d, (reel_data_split)k, &r, &d->sp[k].set, err))
				return -1;
		in->n[k] = sizes[k];
	}
	return 0;
}
