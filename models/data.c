/* Data sources (data.h): options, passes over the splits, batch assembly,
 * info, token strings and the state JSON.  The generators are in
 * data_gen.c, the file readers in data_file.c; data_internal.h says how a
 * split is stored. */
#include "data_internal.h"
#include "fault.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bucketing sorts examples by length within pools of this many batches. */
#define BUCKET_POOL_BATCHES 50

int reel__mul(size_t a, size_t b, size_t *out)
{
	if (a && b > SIZE_MAX / a)
		return -1;
	*out = a * b;
	return 0;
}

int reel__grow(void *p, size_t *cap, size_t need, size_t elem)
{
	void **pp = p;
	if (need <= *cap && *pp)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return -1;
		n *= 2;
	}
	size_t bytes;
	if (reel__mul(n, elem, &bytes))
		return -1;
	void *q = reel__realloc(*pp, bytes);
	if (!q)
		return -1;
	*pp = q;
	*cap = n;
	return 0;
}

/* ---- example sets ---- */

void reel__exset_free(reel__exset *s)
{
	free(s->ex);
	free(s->tok);
	free(s->lab);
	free(s->x);
	free(s->y);
	memset(s, 0, sizeof *s);
}

void reel__exset_clear(reel__exset *s)
{
	s->n = s->ntok = s->nlab = s->nx = s->ny = 0;
	s->max_len = 0;
}

reel__ex *reel__exset_add(reel__exset *s)
{
	if (s->n == SIZE_MAX || reel__grow(&s->ex, &s->cap, s->n + 1, sizeof *s->ex))
		return NULL;
	reel__ex *e = &s->ex[s->n++];
	memset(e, 0, sizeof *e);
	return e;
}

#define PUSH(arr, n, cap, v)                                      \
	do {                                                          \
		if ((n) == SIZE_MAX || reel__grow(&(arr), &(cap), (n) + 1, sizeof *(arr))) \
			return -1;                                            \
		(arr)[(n)++] = (v);                                       \
	} while (0)

int reel__push_tok(reel__exset *s, int32_t v)
{
	PUSH(s->tok, s->ntok, s->captok, v);
	return 0;
}
int reel__push_lab(reel__exset *s, int32_t v)
{
	PUSH(s->lab, s->nlab, s->caplab, v);
	return 0;
}
int reel__push_x(reel__exset *s, reel_real v)
{
	PUSH(s->x, s->nx, s->capx, v);
	return 0;
}
int reel__push_y(reel__exset *s, reel_real v)
{
	PUSH(s->y, s->ny, s->capy, v);
	return 0;
}

/* ---- vocabularies ---- */

void reel__vocab_free(reel__vocab *v)
{
	for (int i = 0; i < v->n; i++)
		free(v->str[i]);
	free(v->str);
	free(v->slen);
	free(v->hash);
	memset(v, 0, sizeof *v);
}

static uint64_t hash_bytes(const char *s, int len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (int i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

int32_t reel__vocab_find(const reel__vocab *v, const char *s, int len)
{
	if (!v->hcap)
		return -1;
	for (size_t i = hash_bytes(s, len) & (v->hcap - 1);; i = (i + 1) & (v->hcap - 1)) {
		int32_t id = v->hash[i];
		if (id < 0)
			return -1;
		if (v->slen[id] == len && !memcmp(v->str[id], s, (size_t)len))
			return id;
	}
}

static int rehash(reel__vocab *v, size_t hcap)
{
	int32_t *h = reel__malloc(hcap * sizeof *h);
	if (!h)
		return -1;
	for (size_t i = 0; i < hcap; i++)
		h[i] = -1;
	for (int id = 0; id < v->n; id++) {
		size_t i = hash_bytes(v->str[id], v->slen[id]) & (hcap - 1);
		while (h[i] >= 0)
			i = (i + 1) & (hcap - 1);
		h[i] = id;
	}
	free(v->hash);
	v->hash = h;
	v->hcap = hcap;
	return 0;
}

int32_t reel__vocab_add(reel__vocab *v, const char *s, int len)
{
	int32_t id = reel__vocab_find(v, s, len);
	if (id >= 0)
		return id;
	if (v->n == INT32_MAX - 1 || len < 0)
		return -1;
	size_t cap = (size_t)v->cap, scap = (size_t)v->cap;
	if (reel__grow(&v->str, &cap, (size_t)v->n + 1, sizeof *v->str) ||
	    reel__grow(&v->slen, &scap, (size_t)v->n + 1, sizeof *v->slen))
		return -1;
	v->cap = (int)(cap < scap ? cap : scap);
	char *c = reel__malloc((size_t)len + 1);
	if (!c)
		return -1;
	memcpy(c, s, (size_t)len);
	c[len] = 0;
	v->str[v->n] = c;
	v->slen[v->n] = len;
	v->n++;
	/* keep the table at most half full */
	if ((size_t)v->n * 2 > v->hcap) {
		if (rehash(v, v->hcap ? v->hcap * 2 : 64)) {
			v->n--;
			free(c);
			return -1;
		}
	} else {
		size_t i = hash_bytes(s, len) & (v->hcap - 1);
		while (v->hash[i] >= 0)
			i = (i + 1) & (v->hcap - 1);
		v->hash[i] = v->n - 1;
	}
	return v->n - 1;
}

typedef struct vocab_entry {
	char *s;
	int len;
} vocab_entry;

static int cmp_entry(const void *a, const void *b)
{
	const vocab_entry *x = a, *y = b;
	int n = x->len < y->len ? x->len : y->len, c = memcmp(x->s, y->s, (size_t)n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

int reel__vocab_sort(reel__vocab *v)
{
	int k = v->n_special, m = v->n - k;
	if (m < 2)
		return 0;
	vocab_entry *e = reel__malloc((size_t)m * sizeof *e);
	if (!e)
		return -1;
	for (int i = 0; i < m; i++)
		e[i] = (vocab_entry){v->str[k + i], v->slen[k + i]};
	qsort(e, (size_t)m, sizeof *e, cmp_entry); /* bytewise, shorter first on a common prefix */
	for (int i = 0; i < m; i++) {
		v->str[k + i] = e[i].s;
		v->slen[k + i] = e[i].len;
	}
	free(e);
	return rehash(v, v->hcap);
}

/* ---- options ---- */

reel_data_opts reel_data_defaults(void)
{
	reel_data_opts o;
	memset(&o, 0, sizeof o);
	o.task = REEL_TASK_LM;
	o.seed = 1;
	o.valid_frac = 0.1;
	o.test_frac = 0.1;
	o.seq_len = 64;
	o.stream = 1;
	o.header = 1;
	o.window = 50;
	o.horizon = 1;
	o.normalize = 1;
	o.length = 50;
	o.delay = 10;
	o.min_len = 1;
	o.max_len = 10;
	o.noise = 0.1;
	o.valid_size = 1000;
	o.test_size = 1000;
	o.epoch_size = 10000;
	o.shuffle = 1;
	o.shard_count = 1;
	return o;
}

void reel__split_fracs(size_t n, double vf, double tf, int own_valid, int own_test, size_t *a, size_t *b)
{
	size_t nv = own_valid ? 0 : (size_t)floor((double)n * vf + 0.5);
	size_t nt = own_test ? 0 : (size_t)floor((double)n * tf + 0.5);
	if (nv > n)
		nv = n;
	if (nt > n - nv)
		nt = n - nv;
	*a = n - nv - nt;
	*b = n - nt;
}

static const char *task_name(reel_task_type t)
{
	static const char *const names[] = {"lm", "classify", "tag", "regress", "seq2seq"};
	return (unsigned)t < 5 ? names[t] : "?";
}

static reel_status check_opts(const reel_data_opts *o, reel_err *err)
{
#define NEED(cond, ...)                                           \
	do {                                                          \
		if (!(cond))                                              \
			return reel_err_set(err, REEL_ERR_CONFIG, __VA_ARGS__); \
	} while (0)
	NEED(o->source && *o->source, "data: no source given");
	NEED((unsigned)o->task <= REEL_TASK_CTC, "data: unknown task %d", (int)o->task);
	NEED(o->valid_frac >= 0 && o->test_frac >= 0 && o->valid_frac + o->test_frac < 1,
	     "data: valid_frac (%g) and test_frac (%g) must be >= 0 and sum to less than 1", o->valid_frac, o->test_frac);
	NEED(o->seq_len >= 1, "data: seq_len must be >= 1, got %d", o->seq_len);
	NEED(o->max_vocab == 0 || o->max_vocab >= 3, "data: max_vocab must be 0 (every token) or >= 3, got %d",
	     o->max_vocab);
	NEED(o->window >= 1, "data: window must be >= 1, got %d", o->window);
	NEED(o->horizon >= 0, "data: horizon must be >= 0, got %d", o->horizon);
	NEED(o->length >= 2, "data: length must be >= 2, got %d", o->length);
	NEED(o->delay >= 0, "data: delay must be >= 0, got %d", o->delay);
	NEED(o->noise >= 0 && isfinite(o->noise), "data: noise must be a finite number >= 0, got %g", o->noise);
	NEED(o->valid_size >= 0 && o->test_size >= 0, "data: valid_size and test_size must be >= 0");
	NEED(o->epoch_size >= 1, "data: epoch_size must be >= 1, got %d", o->epoch_size);
	NEED(o->n_columns >= 0 && o->n_targets >= 0, "data: negative column count");
	NEED(o->shard_count >= 1 && o->shard_rank >= 0 && o->shard_rank < o->shard_count,
	     "data: shard %d of %d is not a shard", o->shard_rank, o->shard_count);
	return REEL_OK;
#undef NEED
}

static const char *const GEN_SOURCES[] = {"adding", "copy", "reverse", "dates", "mackey_glass", "sine", "unsegmented", "bimodal"};
static const char *const FILE_SOURCES[] = {"text", "csv", "tsv", "labelled", "safetensors"};

reel_data *reel_data_open(const reel_data_opts *o, reel_err *err)
{
	if (!o) {
		reel_err_set(err, REEL_ERR_ARG, "reel_data_open: no options");
		return NULL;
	}
	if (check_opts(o, err) != REEL_OK)
		return NULL;
	reel_data *d = reel__calloc(1, sizeof *d);
	if (!d || !(d->source = reel__malloc(strlen(o->source) + 1))) {
		free(d);
		reel_err_set(err, REEL_ERR_NOMEM, "data: out of memory");
		return NULL;
	}
	strcpy(d->source, o->source);
	d->o = *o; /* its strings are the caller's: used while opening only */
	d->o.source = d->source;
	d->task = o->task;
	reel_rng_seed(&d->gen_rng, o->seed);
	reel_rng_seed(&d->shuffle_rng, o->seed ^ 0x5eed5aff1eULL);
	for (int s = 0; s < 3; s++)
		d->info.n[s] = 0;
	int rc = -1, known = 0;
	for (size_t i = 0; i < sizeof GEN_SOURCES / sizeof *GEN_SOURCES; i++)
		if (!strcmp(o->source, GEN_SOURCES[i])) {
			known = 1;
			rc = reel__gen_open(d, err);
		}
	for (size_t i = 0; i < sizeof FILE_SOURCES / sizeof *FILE_SOURCES; i++)
		if (!strcmp(o->source, FILE_SOURCES[i])) {
			known = 1;
			rc = reel__file_open(d, o, err);
		}
	if (!strcmp(o->source, "idx")) {
		known = 1;
		rc = reel__idx_open(d, o, err);
	}
	if (!known)
		reel_err_set(err, REEL_ERR_CONFIG,
		             "data: unknown source \"%s\" (adding, copy, reverse, dates, mackey_glass, sine, unsegmented, bimodal, text, csv, tsv, "
		             "labelled, safetensors, idx)",
		             o->source);
	if (rc) {
		reel_data_free(d);
		return NULL;
	}
	d->o.dir = d->o.path = d->o.valid_path = d->o.test_path = NULL;
	d->o.columns = d->o.targets = NULL;
	d->o.images = d->o.labels = d->o.test_images = d->o.test_labels = NULL;
	return d;
}

/* The error for a source that cannot produce the task asked for. */
reel_status reel__task_mismatch(const reel_data *d, const char *supported, reel_err *err)
{
	return reel_err_set(err, REEL_ERR_CONFIG, "data: source %s gives task %s, not %s", d->source, supported,
	                    task_name(d->task));
}

void reel_data_free(reel_data *d)
{
	if (!d)
		return;
	for (int s = 0; s < 3; s++) {
		reel__exset_free(&d->sp[s].set);
		free(d->sp[s].order);
		free(d->sp[s].starts);
		free(d->sp[s].ids);
	}
	reel__exset_free(&d->scratch);
	reel__vocab_free(&d->in_vocab);
	reel__vocab_free(&d->out_vocab);
	free(d->series);
	free(d->in_cols);
	free(d->tgt_cols);
	if (d->col_names)
		for (int i = 0; i < d->cols; i++)
			free(d->col_names[i]);
	free(d->col_names);
	free(d->mean);
	free(d->std);
	free(d->b_tokens);
	free(d->b_labels);
	free(d->b_tgt);
	free(d->b_inputs);
	free(d->b_targets);
	free(d->b_lengths);
	free(d->b_idx);
	free(d->source);
	free(d);
}

reel_data_info reel_data_get_info(const reel_data *d)
{
	return d->info;
}

/* ---- passes ---- */

typedef struct len_key {
	int len;
	size_t pos; /* position in the order: ties keep it, so the sort is stable */
	size_t idx;
} len_key;

static int cmp_len(const void *a, const void *b)
{
	const len_key *x = a, *y = b;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void shuffle(size_t *a, size_t n, reel_rng *r)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)reel_rng_below(r, (uint64_t)i);
		size_t t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

static reel_status nomem(reel_err *err, const char *what)
{
	return reel_err_set(err, REEL_ERR_NOMEM, "data: out of memory (or size overflow) %s", what);
}

/* The order of a pass over the n examples of set: shuffled (training with
 * shuffle), then with bucketing sorted by length within pools of
 * BUCKET_POOL_BATCHES batches, whose batches are then served in shuffled
 * order (training; a smaller last batch stays last). */
static int arrange(reel_data *d, reel__split *sp, reel_data_split split, int B, reel_err *err)
{
	size_t n = sp->set.n;
	if (reel__grow(&sp->order, &sp->cap_order, n ? n : 1, sizeof *sp->order))
		return nomem(err, "arranging a pass"), -1;
	for (size_t i = 0; i < n; i++)
		sp->order[i] = i;
	sp->n_order = n;
	sp->pos = 0;
	int train_shuffle = split == REEL_TRAIN && d->o.shuffle;
	if (train_shuffle)
		shuffle(sp->order, n, &d->shuffle_rng);
	if (!d->o.bucket || n <= (size_t)B)
		return 0;
	size_t pool;
	if (reel__mul((size_t)B, BUCKET_POOL_BATCHES, &pool))
		pool = SIZE_MAX;
	len_key *k = reel__malloc((n < pool ? n : pool) * sizeof *k);
	size_t nb = (n + (size_t)B - 1) / (size_t)B, *perm = reel__malloc(nb * sizeof *perm);
	size_t *tmp = reel__malloc(n * sizeof *tmp);
	if (!k || !perm || !tmp) {
		free(k);
		free(perm);
		free(tmp);
		return nomem(err, "bucketing"), -1;
	}
	for (size_t p0 = 0; p0 < n; p0 += pool) {
		size_t m = n - p0 < pool ? n - p0 : pool;
		for (size_t i = 0; i < m; i++)
			k[i] = (len_key){sp->set.ex[sp->order[p0 + i]].len, i, sp->order[p0 + i]};
		qsort(k, m, sizeof *k, cmp_len);
		for (size_t i = 0; i < m; i++)
			sp->order[p0 + i] = k[i].idx;
	}
	size_t full = n / (size_t)B;
	for (size_t i = 0; i < nb; i++)
		perm[i] = i;
	if (train_shuffle)
		shuffle(perm, full, &d->shuffle_rng);
	size_t w = 0;
	for (size_t i = 0; i < nb; i++) {
		size_t s0 = perm[i] * (size_t)B, e0 = s0 + (size_t)B < n ? s0 + (size_t)B : n;
		for (size_t j = s0; j < e0; j++)
			tmp[w++] = sp->order[j];
	}
	memcpy(sp->order, tmp, n * sizeof *tmp);
	free(k);
	free(perm);
	free(tmp);
	return 0;
}

/* Batch assembly: the m examples set->ex[idx[..]] into d's buffers. */
static int assemble(reel_data *d, const reel__exset *s, const size_t *idx, int m, reel_batch *b, reel_err *err)
{
	int T = 1, TT = 1;
	for (int i = 0; i < m; i++) {
		const reel__ex *e = &s->ex[idx[i]];
		T = e->len > T ? e->len : T;
		TT = e->out_len + 1 > TT ? e->out_len + 1 : TT;
	}
	size_t TB, TBF, TBO, TTB;
	size_t F = (size_t)d->F, O = (size_t)d->O;
	if (reel__mul((size_t)T, (size_t)m, &TB) || reel__mul(TB, F ? F : 1, &TBF) || reel__mul(TB, O ? O : 1, &TBO) ||
	    reel__mul((size_t)TT, (size_t)m, &TTB))
		return nomem(err, "for a batch"), -1;
	if (reel__grow(&d->b_lengths, &d->cap_lengths, (size_t)m, sizeof *d->b_lengths))
		return nomem(err, "for a batch"), -1;
	b->B = m;
	b->T = T;
	b->lengths = d->b_lengths;
	for (int i = 0; i < m; i++)
		d->b_lengths[i] = s->ex[idx[i]].len;
	if (d->tokens_in) {
		if (reel__grow(&d->b_tokens, &d->cap_tokens, TB, sizeof *d->b_tokens))
			return nomem(err, "for a batch"), -1;
		for (int i = 0; i < m; i++) {
			const reel__ex *e = &s->ex[idx[i]];
			for (int t = 0; t < T; t++)
				d->b_tokens[(size_t)t * m + i] = t < e->len ? s->tok[e->in + t] : 0;
		}
		b->tokens = d->b_tokens;
	} else {
		if (reel__grow(&d->b_inputs, &d->cap_inputs, TBF, sizeof *d->b_inputs))
			return nomem(err, "for a batch"), -1;
		for (int i = 0; i < m; i++) {
			const reel__ex *e = &s->ex[idx[i]];
			for (int t = 0; t < T; t++) {
				reel_real *dst = d->b_inputs + ((size_t)t * m + i) * F;
				if (t < e->len)
					memcpy(dst, s->x + e->in + (size_t)t * F, F * sizeof *dst);
				else
					memset(dst, 0, F * sizeof *dst);
			}
		}
		b->inputs = d->b_inputs;
		b->F = d->F;
	}
	switch (d->task) {
	case REEL_TASK_CLASSIFY:
		if (reel__grow(&d->b_labels, &d->cap_labels, (size_t)m, sizeof *d->b_labels))
			return nomem(err, "for a batch"), -1;
		for (int i = 0; i < m; i++)
			d->b_labels[i] = s->ex[idx[i]].label;
		b->labels = d->b_labels;
		break;
	case REEL_TASK_TAG:
	case REEL_TASK_LM:
	case REEL_TASK_CTC: /* ctc: the labels, left-aligned, then REEL_DATA_IGNORE */
		if (reel__grow(&d->b_labels, &d->cap_labels, TB, sizeof *d->b_labels))
			return nomem(err, "for a batch"), -1;
		for (int i = 0; i < m; i++) {
			const reel__ex *e = &s->ex[idx[i]];
			for (int t = 0; t < T; t++)
				d->b_labels[(size_t)t * m + i] = t < e->len ? s->lab[e->out + t] : REEL_DATA_IGNORE;
		}
		b->labels = d->b_labels;
		break;
	case REEL_TASK_REGRESS:
		b->O = d->O;
		if (reel__grow(&d->b_targets, &d->cap_targets, d->o.per_step ? TBO : (size_t)m * O, sizeof *d->b_targets))
			return nomem(err, "for a batch"), -1;
		for (int i = 0; i < m; i++) {
			const reel__ex *e = &s->ex[idx[i]];
			if (!d->o.per_step) {
				memcpy(d->b_targets + (size_t)i * O, s->y + e->out, O * sizeof *d->b_targets);
				continue;
			}
			for (int t = 0; t < T; t++) {
				reel_real *dst = d->b_targets + ((size_t)t * m + i) * O;
				if (t < e->len)
					memcpy(dst, s->y + e->out + (size_t)t * O, O * sizeof *dst);
				else
					memset(dst, 0, O * sizeof *dst);
			}
		}
		b->targets = d->b_targets;
		break;
	case REEL_TASK_SEQ2SEQ:
		if (reel__grow(&d->b_tgt, &d->cap_tgt, TTB, sizeof *d->b_tgt))
			return nomem(err, "for a batch"), -1;
		for (int i = 0; i < m; i++) {
			const reel__ex *e = &s->ex[idx[i]];
			for (int t = 0; t < TT; t++)
				d->b_tgt[(size_t)t * m + i] = t < e->out_len ? s->lab[e->out + t]
				                              : t == e->out_len ? d->info.eos
				                                                : d->info.pad;
		}
		b->src = b->tokens;
		b->tokens = NULL;
		b->S = T;
		b->src_len = b->lengths;
		b->tgt = d->b_tgt;
		b->TT = TT;
		break;
	}
	return 0;
}

static int next_stream(reel_data *d, reel__split *sp, reel_data_split split, int B, reel_batch *b, reel_err *err)
{
	if (!sp->active) {
		if (sp->n_ids == 0)
			return 0; /* an empty split (fraction 0, no file) */
		if (sp->n_ids < (size_t)B + 1) {
			reel_err_set(err, REEL_ERR_ARG, "data: text: the %s split has %zu tokens, too few for %d streams",
			             reel__split_name(split), sp->n_ids, B);
			return -1;
		}
		sp->stream_len = (sp->n_ids - 1) / (size_t)B;
		sp->stream_B = B;
		sp->stream_t = 0;
		sp->active = 1;
	} else if (B != sp->stream_B) {
		reel_err_set(err, REEL_ERR_ARG, "data: text stream: the batch size changed within a pass (%d, then %d)",
		             sp->stream_B, B);
		return -1;
	}
	if (sp->stream_t >= sp->stream_len) {
		sp->active = 0;
		return 0;
	}
	size_t left = sp->stream_len - sp->stream_t;
	int T = left < (size_t)d->o.seq_len ? (int)left : d->o.seq_len;
	/* data parallel: this rank's streams [lo, hi) of the B */
	int lo, hi;
	reel_data_shard_range(B, d->o.shard_rank, d->o.shard_count, &lo, &hi);
	b->stream_reset = sp->stream_t == 0;
	if (hi == lo) {
		sp->stream_t += (size_t)T;
		return 1;
	}
	const int32_t *ids = sp->ids + (size_t)lo * sp->stream_len;
	B = hi - lo;
	size_t TB = (size_t)T * (size_t)B; /* <= n_ids: no overflow */
	if (reel__grow(&d->b_tokens, &d->cap_tokens, TB, sizeof *d->b_tokens) ||
	    reel__grow(&d->b_labels, &d->cap_labels, TB, sizeof *d->b_labels) ||
	    reel__grow(&d->b_lengths, &d->cap_lengths, (size_t)B, sizeof *d->b_lengths))
		return nomem(err, "for a batch"), -1;
	for (int i = 0; i < B; i++) {
		const int32_t *row = ids + (size_t)i * sp->stream_len + sp->stream_t;
		for (int t = 0; t < T; t++) {
			d->b_tokens[(size_t)t * B + i] = row[t];
			d->b_labels[(size_t)t * B + i] = row[t + 1];
		}
		d->b_lengths[i] = T;
	}
	b->B = B;
	b->T = T;
	b->tokens = d->b_tokens;
	b->labels = d->b_labels;
	b->lengths = d->b_lengths;
	sp->stream_t += (size_t)T;
	return 1;
}

/* SERIES: the order of a pass: random starts, or the fixed starts
 * (shuffled for training). */
static int series_pass(reel_data *d, reel__split *sp, reel_data_split split, reel_err *err)
{
	size_t n = sp->random_starts ? sp->n_random : sp->n_starts;
	if (reel__grow(&sp->order, &sp->cap_order, n ? n : 1, sizeof *sp->order))
		return nomem(err, "arranging a pass"), -1;
	if (sp->random_starts) {
		uint64_t span = (uint64_t)(sp->hi - sp->lo);
		for (size_t i = 0; i < n; i++)
			sp->order[i] = sp->lo + (size_t)reel_rng_below(&d->shuffle_rng, span);
	} else {
		memcpy(sp->order, sp->starts, n * sizeof *sp->order);
		if (split == REEL_TRAIN && d->o.shuffle)
			shuffle(sp->order, n, &d->shuffle_rng);
	}
	sp->n_order = n;
	sp->pos = 0;
	return 0;
}

int reel_data_next(reel_data *d, reel_data_split split, int B, reel_batch *b, reel_err *err)
{
	if (!d || !b || (unsigned)split > REEL_TEST || B < 1) {
		reel_err_set(err, REEL_ERR_ARG, "reel_data_next: bad argument (split %d, batch size %d)", (int)split, B);
		return -1;
	}
	memset(b, 0, sizeof *b);
	reel__split *sp = &d->sp[split];
	switch (sp->kind) {
	case REEL__STREAM:
		return next_stream(d, sp, split, B, b, err);
	case REEL__FIXED:
		if (!sp->active) {
			if (arrange(d, sp, split, B, err))
				return -1;
			sp->active = 1;
		}
		break;
	case REEL__GEN:
		if (!sp->active) {
			sp->active = 1;
			sp->done = 0;
			sp->n_order = sp->pos = 0;
		}
		if (sp->pos >= sp->n_order && sp->done < d->o.epoch_size) {
			/* a new pool: one batch, or BUCKET_POOL_BATCHES to sort by length */
			long want = d->o.bucket ? (long)B * BUCKET_POOL_BATCHES : B;
			if (want > d->o.epoch_size - sp->done || want < 0)
				want = d->o.epoch_size - sp->done;
			reel__exset_clear(&sp->set);
			for (long i = 0; i < want; i++)
				if (d->gen(d, split, &d->gen_rng, &sp->set, err))
					return -1;
			if (arrange(d, sp, split, B, err))
				return -1;
			sp->done += want;
		}
		break;
	case REEL__SERIES:
		if (!sp->active) {
			if (series_pass(d, sp, split, err))
				return -1;
			sp->active = 1;
		}
		break;
	}
	if (sp->pos >= sp->n_order) {
		sp->active = 0;
		return 0;
	}
	size_t left = sp->n_order - sp->pos;
	int m = left < (size_t)B ? (int)left : B;
	const reel__exset *set = &sp->set;
	const size_t *idx = sp->order + sp->pos;
	/* data parallel: the whole global batch is consumed, this rank's part
	 * [lo, hi) of it assembled */
	int lo, hi;
	reel_data_shard_range(m, d->o.shard_rank, d->o.shard_count, &lo, &hi);
	sp->pos += (size_t)m;
	idx += lo;
	m = hi - lo;
	if (m == 0)
		return 1;
	if (sp->kind == REEL__SERIES) {
		if (reel__grow(&d->b_idx, &d->cap_idx, (size_t)m, sizeof *d->b_idx))
			return nomem(err, "for a batch"), -1;
		reel__exset_clear(&d->scratch);
		for (int i = 0; i < m; i++) {
			if (d->fetch(d, split, idx[i], &d->scratch, err))
				return -1;
			d->b_idx[i] = (size_t)i;
		}
		set = &d->scratch;
		idx = d->b_idx;
	}
	if (assemble(d, set, idx, m, b, err))
		return -1;
	return 1;
}

void reel_data_shard_range(int B, int rank, int count, int *lo, int *hi)
{
	*lo = (int)((long long)B * rank / count);
	*hi = (int)((long long)B * (rank + 1) / count);
}

reel_status reel_data_set_shard(reel_data *d, int rank, int count, reel_err *err)
{
	if (!d || count < 1 || rank < 0 || rank >= count)
		return reel_err_set(err, REEL_ERR_ARG, "reel_data_set_shard: shard %d of %d is not a shard", rank, count);
	d->o.shard_rank = rank;
	d->o.shard_count = count;
	return REEL_OK;
}

void reel_data_rewind(reel_data *d, reel_data_split split)
{
	if (!d || (unsigned)split > REEL_TEST)
		return;
	reel__split *sp = &d->sp[split];
	sp->active = 0;
	sp->pos = sp->n_order = 0;
	sp->stream_t = 0;
}

/* ---- tokens and state ---- */

static const char *vocab_at(const reel__vocab *v, int id)
{
	return id >= 0 && id < v->n ? v->str[id] : NULL;
}

const char *reel_data_input_token(const reel_data *d, int id)
{
	return d ? vocab_at(&d->in_vocab, id) : NULL;
}

const char *reel_data_output_token(const reel_data *d, int id)
{
	if (!d)
		return NULL;
	if (d->task == REEL_TASK_LM)
		return vocab_at(&d->in_vocab, id);
	return vocab_at(&d->out_vocab, id);
}

static cJSON *vocab_json(const reel__vocab *v)
{
	cJSON *a = cJSON_CreateArray();
	for (int i = 0; a && i < v->n; i++) {
		cJSON *s = cJSON_CreateString(v->str[i]);
		if (!s || !cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static cJSON *names_json(reel_data *d, const int *cols, int n)
{
	cJSON *a = cJSON_CreateArray();
	for (int i = 0; a && i < n; i++) {
		cJSON *s = cJSON_CreateString(d->col_names[cols[i]]);
		if (!s || !cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static cJSON *stats_json(const double *v, const int *cols, int n)
{
	cJSON *a = cJSON_CreateArray();
	for (int i = 0; a && i < n; i++) {
		cJSON *x = cJSON_CreateNumber(v[cols[i]]);
		if (!x || !cJSON_AddItemToArray(a, x)) {
			cJSON_Delete(x);
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

/* cJSON_AddItemToObject that frees v when it cannot add it (v NULL: a
 * builder ran out of memory); 0 then. */
static int add_owned(cJSON *o, const char *key, cJSON *v)
{
	if (v && cJSON_AddItemToObject(o, key, v))
		return 1;
	cJSON_Delete(v);
	return 0;
}

/* {"source", "task", "input_vocab"?, "output_vocab"?, "inputs"?, "targets"?,
 *  "normalize"?: {"inputs": {"mean": [..], "std": [..]}, "targets": {..}}} */
char *reel_data_state_json(const reel_data *d)
{
	reel_data *dd = (reel_data *)d; /* cJSON's builders take no const */
	cJSON *j = cJSON_CreateObject();
	int ok = j && cJSON_AddStringToObject(j, "source", d->source) &&
	         cJSON_AddStringToObject(j, "task", task_name(d->task));
	if (ok && d->in_vocab.n)
		ok = add_owned(j, "input_vocab", vocab_json(&d->in_vocab));
	if (ok && d->out_vocab.n)
		ok = add_owned(j, "output_vocab", vocab_json(&d->out_vocab));
	if (ok && d->col_names) {
		ok = add_owned(j, "inputs", names_json(dd, d->in_cols, d->F)) &&
		     add_owned(j, "targets", names_json(dd, d->tgt_cols, d->O));
		if (ok && d->mean) {
			cJSON *nz = cJSON_AddObjectToObject(j, "normalize");
			cJSON *in = nz ? cJSON_AddObjectToObject(nz, "inputs") : NULL;
			cJSON *tg = nz ? cJSON_AddObjectToObject(nz, "targets") : NULL;
			ok = in && tg && add_owned(in, "mean", stats_json(d->mean, d->in_cols, d->F)) &&
			     add_owned(in, "std", stats_json(d->std, d->in_cols, d->F)) &&
			     add_owned(tg, "mean", stats_json(d->mean, d->tgt_cols, d->O)) &&
			     add_owned(tg, "std", stats_json(d->std, d->tgt_cols, d->O));
		}
	}
	char *s = ok ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	return s;
}
