/* Data sources (models/data.h): every source's batches (shapes, padding,
 * lengths, labels), determinism by seed, splits that never overlap, text
 * streams, vocabularies and <unk>, csv normalisation, safetensors batches,
 * and every file error's message. */
#include "harness.h"

#include "data.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *tmp_path(const char *name)
{
	static char buf[4][256];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "build/test-%d-%s", (int)getpid(), name);
	return buf[k];
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static reel_data *open_or_report(const reel_data_opts *o, const char *what)
{
	reel_err e = {0};
	reel_data *d = reel_data_open(o, &e);
	CHECK(d != NULL, "%s: open failed: %s", what, e.msg);
	return d;
}

/* Open must fail with code and a message containing each needle. */
static void expect_error(const reel_data_opts *o, reel_status code, const char *n1, const char *n2, const char *what)
{
	reel_err e = {0};
	reel_data *d = reel_data_open(o, &e);
	CHECK(d == NULL && e.code == code, "%s: expected %s, got %s (%s)", what, reel_status_name(code),
	      d ? "success" : reel_status_name(e.code), e.msg);
	CHECK((!n1 || strstr(e.msg, n1)) && (!n2 || strstr(e.msg, n2)), "%s: message \"%s\" lacks \"%s\" / \"%s\"", what,
	      e.msg, n1 ? n1 : "", n2 ? n2 : "");
	reel_data_free(d);
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211ULL;
	return h;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Keys of a batch's examples: a hash of each column's inputs (tokens or
 * reals) over its length, or for seq2seq of its source. */
static void batch_keys(const reel_batch *b, uint64_t *keys)
{
	for (int i = 0; i < b->B; i++) {
		uint64_t h = 1469598103934665603ULL;
		int len = b->src ? b->src_len[i] : b->lengths[i];
		for (int t = 0; t < len; t++) {
			if (b->src)
				h = fnv(&b->src[t * b->B + i], sizeof(int32_t), h);
			else if (b->tokens)
				h = fnv(&b->tokens[t * b->B + i], sizeof(int32_t), h);
			else
				h = fnv(&b->inputs[((size_t)t * b->B + i) * b->F], sizeof(reel_real) * (size_t)b->F, h);
		}
		keys[i] = h;
	}
}

/* Every key of a split over one pass (at most max). */
static size_t pass_keys(reel_data *d, reel_data_split s, int B, uint64_t *keys, size_t max)
{
	reel_batch b;
	reel_err e = {0};
	size_t n = 0;
	int r;
	while ((r = reel_data_next(d, s, B, &b, &e)) == 1 && n + (size_t)b.B <= max) {
		batch_keys(&b, keys + n);
		n += (size_t)b.B;
	}
	CHECK(r >= 0, "pass: %s", e.msg);
	return n;
}

static int overlap(uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
	qsort(a, na, sizeof *a, cmp_u64);
	int c = 0;
	for (size_t i = 0; i < nb; i++)
		c += bsearch(&b[i], a, na, sizeof *a, cmp_u64) != NULL;
	return c;
}

/* Same options twice -> the same first batches; another seed -> others
 * (unless the order does not depend on the seed: seeded 0). */
static void check_determinism_(const reel_data_opts *o0, reel_data_split s, int seeded, const char *what)
{
	reel_data_opts o = *o0;
	reel_data *a = open_or_report(&o, what), *b = open_or_report(&o, what);
	o.seed += 1;
	reel_data *c = open_or_report(&o, what);
	if (!a || !b || !c)
		goto out;
	uint64_t ka[256], kb[256], kc[256];
	int same = 1, diff = 0;
	for (int k = 0; k < 3; k++) {
		reel_batch x, y, z;
		reel_err e = {0};
		int ra = reel_data_next(a, s, 8, &x, &e);
		batch_keys(&x, ka);
		int rb = reel_data_next(b, s, 8, &y, &e);
		batch_keys(&y, kb);
		int rc = reel_data_next(c, s, 8, &z, &e);
		batch_keys(&z, kc);
		same &= ra == 1 && rb == 1 && rc == 1 && x.B == y.B && !memcmp(ka, kb, sizeof(uint64_t) * (size_t)x.B);
		diff |= x.B != z.B || memcmp(ka, kc, sizeof(uint64_t) * (size_t)x.B);
	}
	CHECK(same, "%s: the same seed gives the same batches", what);
	CHECK(diff == seeded, "%s: another seed gives %s batches", what, seeded ? "other" : "the same");
out:
	reel_data_free(a);
	reel_data_free(b);
	reel_data_free(c);
}

static void check_determinism(const reel_data_opts *o, reel_data_split s, const char *what)
{
	check_determinism_(o, s, 1, what);
}

/* Generated training batches never hold a valid or test example. */
static void check_gen_splits(const reel_data_opts *o, int train_batches, const char *what)
{
	reel_data *d = open_or_report(o, what);
	if (!d)
		return;
	enum { MAXK = 4000 };
	uint64_t *held = malloc(MAXK * sizeof *held), tk[64];
	size_t nh = pass_keys(d, REEL_VALID, 50, held, MAXK / 2);
	nh += pass_keys(d, REEL_TEST, 50, held + nh, MAXK / 2);
	qsort(held, nh, sizeof *held, cmp_u64);
	int bad = 0, seen = 0;
	reel_batch b;
	reel_err e = {0};
	for (int k = 0; k < train_batches; k++) {
		int r = reel_data_next(d, REEL_TRAIN, 64, &b, &e);
		if (r == 0)
			continue; /* epoch boundary */
		if (r < 0)
			break;
		batch_keys(&b, tk);
		for (int i = 0; i < b.B; i++, seen++)
			bad += bsearch(&tk[i], held, nh, sizeof *held, cmp_u64) != NULL;
	}
	CHECK(nh > 0 && seen > 1000 && bad == 0, "%s: %d of %d training examples are valid/test examples (%zu held)", what,
	      bad, seen, nh);
	/* valid and test are disjoint too, and valid is fixed */
	uint64_t *v = malloc(MAXK * sizeof *v), *t = malloc(MAXK * sizeof *t), *v2 = malloc(MAXK * sizeof *v2);
	size_t nv = pass_keys(d, REEL_VALID, 50, v, MAXK), nt = pass_keys(d, REEL_TEST, 50, t, MAXK);
	size_t nv2 = pass_keys(d, REEL_VALID, 33, v2, MAXK);
	CHECK(nv == nv2 && !memcmp(v, v2, nv * sizeof *v), "%s: valid is the same set on every pass", what);
	CHECK(overlap(v, nv, t, nt) == 0, "%s: valid and test share examples", what);
	free(held);
	free(v);
	free(t);
	free(v2);
	reel_data_free(d);
}

static void generators(void)
{
	reel_err e = {0};
	reel_batch b;

	th_case("data: adding: (T, B, 2) inputs, one marker per half, target the marked sum");
	reel_data_opts o = reel_data_defaults();
	o.source = "adding";
	o.task = REEL_TASK_REGRESS;
	o.length = 20;
	o.epoch_size = 100;
	o.valid_size = o.test_size = 200;
	reel_data *d = open_or_report(&o, "adding");
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		CHECK(!in.tokens_in && in.features == 2 && in.outputs == 1 && in.n[0] == -1 && in.n[1] == 200, "info");
		int ok = 1, batches = 0, examples = 0, r;
		while ((r = reel_data_next(d, REEL_TRAIN, 32, &b, &e)) == 1) {
			batches++;
			examples += b.B;
			ok &= b.T == 20 && b.F == 2 && b.O == 1 && b.inputs && b.targets && !b.tokens;
			for (int i = 0; i < b.B; i++) {
				double sum = 0;
				int marks = 0, first = -1, second = -1;
				for (int t = 0; t < b.T; t++) {
					const reel_real *x = b.inputs + ((size_t)t * b.B + i) * 2;
					ok &= x[0] >= 0 && x[0] < 1 && (x[1] == 0 || x[1] == 1) && b.lengths[i] == 20;
					if (x[1] == 1) {
						marks++;
						sum += x[0];
						if (first < 0)
							first = t;
						else
							second = t;
					}
				}
				ok &= marks == 2 && first < 10 && second >= 10 && fabs(sum - b.targets[i]) < 1e-5;
			}
		}
		CHECK(r == 0 && batches == 4 && examples == 100, "a pass is epoch_size examples (%d in %d batches)", examples,
		      batches);
		CHECK(ok, "shapes, markers and targets");
		CHECK(reel_data_next(d, REEL_TRAIN, 32, &b, &e) == 1, "a new pass starts after the end");
		reel_data_free(d);
	}
	check_determinism(&o, REEL_TRAIN, "adding");
	check_gen_splits(&o, 40, "adding");
	o.per_step = 1;
	expect_error(&o, REEL_ERR_CONFIG, "per_step", NULL, "adding per_step");
	o.per_step = 0;
	o.task = REEL_TASK_TAG;
	expect_error(&o, REEL_ERR_CONFIG, "adding", "regress", "adding as tag");

	th_case("data: copy: symbols, delay blanks, go, then the symbols as labels");
	o = reel_data_defaults();
	o.source = "copy";
	o.task = REEL_TASK_TAG;
	o.delay = 5;
	o.valid_size = o.test_size = 300;
	d = open_or_report(&o, "copy");
	if (d && reel_data_next(d, REEL_TRAIN, 16, &b, &e) == 1) {
		reel_data_info in = reel_data_get_info(d);
		CHECK(in.tokens_in && in.vocab == 11 && in.classes == 9 && b.T == 26, "vocab %d classes %d T %d", in.vocab,
		      in.classes, b.T);
		int ok = 1;
		for (int i = 0; i < b.B; i++)
			for (int t = 0; t < b.T; t++) {
				int32_t x = b.tokens[t * b.B + i], y = b.labels[t * b.B + i];
				if (t < 10)
					ok &= x >= 3 && x <= 10 && y == 0 && b.labels[(t + 16) * b.B + i] == x - 2;
				else
					ok &= x == (t == 15 ? 2 : 1) && (t >= 16 || y == 0);
			}
		CHECK(ok, "the copy layout");
		CHECK(!strcmp(reel_data_input_token(d, 2), "<go>") && !strcmp(reel_data_output_token(d, 0), "_") &&
		          !strcmp(reel_data_output_token(d, 1), "a") && reel_data_output_token(d, 9) == NULL,
		      "token strings");
	}
	reel_data_free(d);
	check_determinism(&o, REEL_TRAIN, "copy");
	check_gen_splits(&o, 400, "copy");

	th_case("data: reverse: seq2seq batches padded, ending in eos; short strings never cross splits");
	o = reel_data_defaults();
	o.source = "reverse";
	o.task = REEL_TASK_SEQ2SEQ;
	o.min_len = 1;
	o.max_len = 3; /* 1110 strings: without the split, overlap would be certain */
	o.valid_size = o.test_size = 300;
	d = open_or_report(&o, "reverse");
	if (d && reel_data_next(d, REEL_VALID, 20, &b, &e) == 1) {
		reel_data_info in = reel_data_get_info(d);
		CHECK(in.src_vocab == 11 && in.tgt_vocab == 13 && in.bos == 1 && in.eos == 2 && in.pad == 0, "info");
		int ok = b.src && !b.tokens && b.tgt && b.S >= 1 && b.S <= 3;
		for (int i = 0; ok && i < b.B; i++) {
			int L = b.src_len[i];
			for (int t = 0; t < b.S; t++)
				ok &= t < L ? b.src[t * b.B + i] >= 1 : b.src[t * b.B + i] == 0;
			for (int t = 0; t < L; t++) /* target = reversed source: id 3 + c vs 1 + c */
				ok &= b.tgt[t * b.B + i] == b.src[(L - 1 - t) * b.B + i] + 2;
			ok &= b.tgt[L * b.B + i] == 2;
			for (int t = L + 1; t < b.TT; t++)
				ok &= b.tgt[t * b.B + i] == 0;
		}
		CHECK(ok, "source, reversed target, eos and padding");
	}
	reel_data_free(d);
	check_gen_splits(&o, 200, "reverse");
	o.min_len = o.max_len = 1; /* 10 strings: some split may hold none */
	{
		reel_err e2 = {0};
		reel_data *d1 = reel_data_open(&o, &e2);
		CHECK(d1 || (e2.code == REEL_ERR_CONFIG && strstr(e2.msg, "draws")), "a split without keys: %s", e2.msg);
		reel_data_free(d1);
	}
	o.min_len = 5;
	o.max_len = 3;
	expect_error(&o, REEL_ERR_CONFIG, "reverse", NULL, "reverse bad lengths");

	th_case("data: reverse with bucketing: batches of similar lengths, the same examples");
	o = reel_data_defaults();
	o.source = "reverse";
	o.task = REEL_TASK_SEQ2SEQ;
	o.min_len = 1;
	o.max_len = 30;
	o.epoch_size = 3200;
	for (int bucket = 0; bucket < 2; bucket++) {
		o.bucket = bucket;
		d = open_or_report(&o, "reverse bucket");
		if (!d)
			break;
		long spread = 0, total = 0;
		while (reel_data_next(d, REEL_TRAIN, 32, &b, &e) == 1) {
			int lo = 99, hi = 0;
			for (int i = 0; i < b.B; i++) {
				lo = b.src_len[i] < lo ? b.src_len[i] : lo;
				hi = b.src_len[i] > hi ? b.src_len[i] : hi;
			}
			spread += hi - lo;
			total += b.B;
		}
		CHECK(total == 3200, "bucket %d: %ld examples per pass", bucket, total);
		CHECK(bucket ? spread < 100 * 3 : spread > 100 * 20, "bucket %d: summed length spread %ld", bucket, spread);
		reel_data_free(d);
	}

	th_case("data: dates: no date of valid or test is ever produced for training");
	o = reel_data_defaults();
	o.source = "dates";
	o.task = REEL_TASK_SEQ2SEQ;
	o.valid_size = o.test_size = 500;
	d = open_or_report(&o, "dates");
	if (d) {
		/* keys by target (the date), since a date has many source formats */
		enum { NT = 30000 };
		uint64_t *tr = malloc(NT * sizeof *tr), vk[64];
		size_t n = 0;
		while (n + 64 <= NT && reel_data_next(d, REEL_TRAIN, 64, &b, &e) == 1)
			for (int i = 0; i < b.B; i++) {
				uint64_t h = 1469598103934665603ULL;
				for (int t = 0; t < 10; t++)
					h = fnv(&b.tgt[t * b.B + i], 4, h);
				tr[n++] = h;
			}
		qsort(tr, n, sizeof *tr, cmp_u64);
		int bad = 0, held = 0;
		for (int s = REEL_VALID; s <= REEL_TEST; s++)
			while (reel_data_next(d, (reel_data_split)s, 64, &b, &e) == 1)
				for (int i = 0; i < b.B; i++, held++) {
					uint64_t h = 1469598103934665603ULL;
					for (int t = 0; t < 10; t++)
						h = fnv(&b.tgt[t * b.B + i], 4, h);
					vk[0] = h;
					bad += bsearch(vk, tr, n, sizeof *tr, cmp_u64) != NULL;
				}
		CHECK(n > 9000 && held == 1000 && bad == 0, "%d of %d held-out dates occur in %zu training ones", bad, held, n);
		free(tr);
		reel_data_free(d);
	}

	th_case("data: sine: noiseless per-step targets are the inputs one step on");
	o = reel_data_defaults();
	o.source = "sine";
	o.task = REEL_TASK_REGRESS;
	o.window = 30;
	o.per_step = 1;
	o.noise = 0;
	o.valid_size = o.test_size = 200;
	d = open_or_report(&o, "sine");
	if (d && reel_data_next(d, REEL_TRAIN, 8, &b, &e) == 1) {
		double worst = 0;
		for (int i = 0; i < b.B; i++)
			for (int t = 0; t + 1 < b.T; t++)
				worst = fmax(worst, fabs(b.targets[t * b.B + i] - b.inputs[(t + 1) * b.B + i]));
		CHECK(b.T == 30 && b.F == 1 && b.O == 1 && worst < 1e-5, "T %d, worst %g", b.T, worst);
	}
	reel_data_free(d);
	o.noise = 0.1;
	o.per_step = 0;
	check_determinism(&o, REEL_TRAIN, "sine");
	check_gen_splits(&o, 40, "sine");

	th_case("data: mackey_glass: a chaotic series in range; windows never cross splits");
	o = reel_data_defaults();
	o.source = "mackey_glass";
	o.task = REEL_TASK_REGRESS;
	o.window = 20;
	o.horizon = 5;
	o.per_step = 1;
	o.epoch_size = 500;
	o.valid_size = o.test_size = 100;
	d = open_or_report(&o, "mackey_glass");
	if (d) {
		enum { NV = 500 * 20 };
		double *tv = malloc(NV * sizeof *tv);
		size_t n = 0;
		int ok = 1, r;
		double lo = 9, hi = -9;
		while ((r = reel_data_next(d, REEL_TRAIN, 50, &b, &e)) == 1) {
			for (int i = 0; i < b.B; i++)
				for (int t = 0; t < b.T; t++) {
					double x = b.inputs[t * b.B + i];
					lo = fmin(lo, x);
					hi = fmax(hi, x);
					if (n < NV)
						tv[n++] = x;
					if (t + 5 < b.T)
						ok &= b.targets[t * b.B + i] == b.inputs[(t + 5) * b.B + i];
				}
		}
		CHECK(ok && r == 0 && n == NV, "per-step targets are the series horizon steps on");
		CHECK(lo > 0.2 && lo < 0.6 && hi > 1.1 && hi < 1.5, "range [%g, %g]", lo, hi);
		/* no two consecutive values of a held-out window occur together in
		 * a training window (pairs: single float values collide by chance) */
		int bad = 0;
		uint64_t *bits = malloc(n * sizeof *bits);
		for (size_t i = 0; i + 1 < n; i++)
			bits[i] = fnv(&tv[i + 1], sizeof(double), fnv(&tv[i], sizeof(double), 1469598103934665603ULL));
		qsort(bits, n - 1, sizeof *bits, cmp_u64);
		for (int s = REEL_VALID; s <= REEL_TEST; s++)
			while (reel_data_next(d, (reel_data_split)s, 50, &b, &e) == 1)
				for (int i = 0; i < b.B; i++)
					for (int t = 0; t + 1 < b.T; t++) {
						double x0 = b.inputs[t * b.B + i], x1 = b.inputs[(t + 1) * b.B + i];
						uint64_t k = fnv(&x1, sizeof(double), fnv(&x0, sizeof(double), 1469598103934665603ULL));
						bad += bsearch(&k, bits, n - 1, sizeof *bits, cmp_u64) != NULL;
					}
		CHECK(bad == 0, "%d held-out values occur in training windows", bad);
		free(bits);
		free(tv);
		reel_data_free(d);
	}
	check_determinism(&o, REEL_TRAIN, "mackey_glass");
	o.window = 5000;
	expect_error(&o, REEL_ERR_CONFIG, "window", "valid", "mackey_glass window too long");

	th_case("data: unknown source and task mismatch");
	o = reel_data_defaults();
	o.source = "mnist";
	expect_error(&o, REEL_ERR_CONFIG, "unknown source \"mnist\"", NULL, "unknown source");
	o.source = NULL;
	expect_error(&o, REEL_ERR_CONFIG, "no source", NULL, "no source");
}

static void text(void)
{
	reel_err e = {0};
	reel_batch b;

	th_case("data: text stream: B streams continue across batches; labels are the next token");
	reel_data_opts o = reel_data_defaults();
	o.source = "text";
	o.task = REEL_TASK_LM;
	o.dir = "configs/data";
	o.path = "devils_dictionary.txt";
	o.seq_len = 50;
	reel_data *d = open_or_report(&o, "text");
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		CHECK(in.tokens_in && in.vocab > 60 && in.vocab < 120 && in.classes == in.vocab, "vocab %d", in.vocab);
		CHECK(in.n[0] + in.n[1] + in.n[2] == 200542 && labs(in.n[1] - 20054) <= 1, "split sizes %ld %ld %ld", in.n[0],
		      in.n[1], in.n[2]);
		CHECK(!strcmp(reel_data_input_token(d, 0), "<pad>") && !strcmp(reel_data_input_token(d, 1), "<unk>") &&
		          !strcmp(reel_data_input_token(d, 2), "\n"),
		      "specials first, then sorted characters");
		const int B = 16;
		int32_t last[16];
		int ok = 1, cont = 1, batches = 0, resets = 0, r;
		long steps = 0;
		while ((r = reel_data_next(d, REEL_TRAIN, B, &b, &e)) == 1) {
			ok &= b.B == B && b.T >= 1 && b.T <= 50 && b.labels && b.tokens;
			resets += b.stream_reset;
			for (int i = 0; i < B; i++) {
				ok &= b.lengths[i] == b.T;
				for (int t = 0; t + 1 < b.T; t++)
					ok &= b.labels[t * B + i] == b.tokens[(t + 1) * B + i];
				if (batches > 0)
					cont &= b.tokens[i] == last[i];
				last[i] = b.labels[(b.T - 1) * B + i];
			}
			batches++;
			steps += b.T;
		}
		CHECK(r == 0 && ok, "labels are the next token");
		CHECK(cont, "each stream continues where its previous batch ended");
		CHECK(resets == 1 && steps == (in.n[0] - 1) / B, "one reset per pass; %ld steps", steps);
		CHECK(reel_data_next(d, REEL_TRAIN, B, &b, &e) == 1 && b.stream_reset == 1, "a new pass resets");
		CHECK(reel_data_next(d, REEL_TRAIN, B + 1, &b, &e) == -1 && strstr(e.msg, "batch size changed"), "%s", e.msg);
		/* the streams tile the training split: stream 1 starts where stream 0 would end */
		reel_data_rewind(d, REEL_TRAIN);
		char *js = reel_data_state_json(d);
		cJSON *j = js ? cJSON_Parse(js) : NULL;
		cJSON *v = cJSON_GetObjectItem(j, "input_vocab");
		CHECK(cJSON_GetArraySize(v) == in.vocab && !strcmp(cJSON_GetArrayItem(v, 1)->valuestring, "<unk>"),
		      "state json holds the vocabulary");
		cJSON_Delete(j);
		free(js);
		reel_data_free(d);
	}
	check_determinism_(&o, REEL_TRAIN, 0, "text stream (the order does not depend on the seed)");

	th_case("data: text: unseen tokens of valid map to <unk>; words with <eos>; windows padded");
	const char *tr = tmp_path("train.txt"), *va = tmp_path("valid.txt");
	write_file(tr, "the cat sat\nthe dog sat on the mat\n\nthe end\n");
	write_file(va, "the zebra sat\n");
	o = reel_data_defaults();
	o.source = "text";
	o.task = REEL_TASK_LM;
	o.path = tr;
	o.valid_path = va;
	o.test_frac = 0;
	o.tokens_words = 1;
	d = open_or_report(&o, "text words");
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		/* <pad> <unk> <eos> cat dog end mat on sat the */
		CHECK(in.vocab == 10 && in.n[0] == 14 && in.n[1] == 4 && in.n[2] == 0, "vocab %d, n %ld %ld %ld", in.vocab,
		      in.n[0], in.n[1], in.n[2]);
		CHECK(reel_data_next(d, REEL_VALID, 1, &b, &e) == 1 && b.T == 3, "valid: one stream of 3 steps");
		CHECK(!strcmp(reel_data_input_token(d, b.tokens[0]), "the") && b.tokens[1] == 1 &&
		          !strcmp(reel_data_input_token(d, b.labels[2]), "<eos>"),
		      "zebra is <unk>, the line ends in <eos>");
		CHECK(reel_data_next(d, REEL_TEST, 1, &b, &e) == 0, "an empty test split ends at once");
		reel_data_rewind(d, REEL_VALID);
		CHECK(reel_data_next(d, REEL_VALID, 4, &b, &e) == -1 && strstr(e.msg, "too few for 4 streams"), "%s", e.msg);
		reel_data_free(d);
	}
	o.stream = 0;
	o.seq_len = 4;
	d = open_or_report(&o, "text windows");
	if (d) {
		int ok = 1, n = 0, r;
		while ((r = reel_data_next(d, REEL_VALID, 8, &b, &e)) == 1) {
			n++;
			/* valid: 4 tokens -> one window of 3 steps */
			ok &= b.B == 1 && b.T == 3 && b.lengths[0] == 3 && b.stream_reset == 0;
		}
		CHECK(ok && n == 1, "valid windows");
		int pad_ok = 1;
		reel_data_rewind(d, REEL_TRAIN);
		while ((r = reel_data_next(d, REEL_TRAIN, 2, &b, &e)) == 1) {
			for (int i = 0; i < b.B; i++)
				for (int t = 0; t < b.T; t++)
					pad_ok &= t < b.lengths[i] ? b.labels[t * b.B + i] >= 0
					                           : b.labels[t * b.B + i] == REEL_DATA_IGNORE && b.tokens[t * b.B + i] == 0;
			n++;
		}
		CHECK(pad_ok && n == 1 + 2, "training windows: 4 per pass, padding ignored");
		reel_data_free(d);
	}

	th_case("data: text max_vocab: the most frequent training tokens (ties bytewise), the rest <unk>");
	o = reel_data_defaults();
	o.source = "text";
	o.task = REEL_TASK_LM;
	o.path = tr;
	o.valid_path = va;
	o.test_frac = 0;
	o.tokens_words = 1;
	/* counts: the 4, <eos> 3, sat 2, then cat dog end mat on once each */
	o.max_vocab = 6;
	d = open_or_report(&o, "text max_vocab");
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		static const char *const want[] = {"<pad>", "<unk>", "<eos>", "cat", "sat", "the"};
		int ok = in.vocab == 6 && in.classes == 6;
		for (int i = 0; ok && i < 6; i++)
			ok = !strcmp(reel_data_input_token(d, i), want[i]);
		CHECK(ok, "vocab %d: %s %s %s %s", in.vocab, reel_data_input_token(d, 2), reel_data_input_token(d, 3),
		      reel_data_input_token(d, 4), reel_data_input_token(d, 5));
		/* the training stream: the cat sat <eos> the dog(<unk>) sat on(<unk>) ... */
		CHECK(reel_data_next(d, REEL_TRAIN, 1, &b, &e) == 1 && b.T == 13 && b.tokens[1] == 3 && b.tokens[5] == 1 &&
		          b.tokens[7] == 1 && b.labels[3] == 5,
		      "dog and on are <unk> in training too");
		reel_data_free(d);
	}
	o.max_vocab = 3;
	d = open_or_report(&o, "text max_vocab 3");
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		CHECK(in.vocab == 3 && !strcmp(reel_data_input_token(d, 2), "the"), "vocab %d", in.vocab);
		reel_data_free(d);
	}
	o.max_vocab = 1000;
	d = open_or_report(&o, "text max_vocab above the vocabulary");
	if (d) {
		CHECK(reel_data_get_info(d).vocab == 10, "every token when max_vocab exceeds them: %d",
		      reel_data_get_info(d).vocab);
		reel_data_free(d);
	}
	o.max_vocab = 2;
	expect_error(&o, REEL_ERR_CONFIG, "max_vocab must be 0 (every token) or >= 3, got 2", NULL, "max_vocab 2");
	unlink(tr);
	unlink(va);

	th_case("data: text errors: missing file, empty file, empty split, wrong task");
	o = reel_data_defaults();
	o.source = "text";
	o.task = REEL_TASK_LM;
	o.path = "no/such/file.txt";
	expect_error(&o, REEL_ERR_IO, "no/such/file.txt: cannot open", NULL, "missing file");
	o.dir = "configs";
	o.path = "nofile.txt";
	expect_error(&o, REEL_ERR_IO, "configs/nofile.txt: cannot open", NULL, "dir + path");
	o.dir = NULL;
	const char *em = tmp_path("empty.txt");
	write_file(em, "");
	o.path = em;
	expect_error(&o, REEL_ERR_IO, em, "is empty", "empty file");
	write_file(em, "abc");
	expect_error(&o, REEL_ERR_CONFIG, "valid split is empty", em, "empty split");
	o.task = REEL_TASK_CLASSIFY;
	expect_error(&o, REEL_ERR_CONFIG, "text", "lm", "text as classify");
	unlink(em);
}

static void csv(void)
{
	reel_err e = {0};
	reel_batch b;
	th_case("data: csv: windows of columns by name, targets horizon steps on, z-scores from train");
	const char *p = tmp_path("s.csv");
	{
		FILE *f = fopen(p, "w");
		fprintf(f, "t, a,b\n");
		for (int r = 0; r < 100; r++)
			fprintf(f, "%d,%d,%g\n%s", r, 2 * r, r % 2 ? 1.0 : 3.0, r == 50 ? "\n" : "");
		fclose(f);
	}
	reel_data_opts o = reel_data_defaults();
	o.source = "csv";
	o.task = REEL_TASK_REGRESS;
	o.path = p;
	const char *cols[] = {"t", "b"}, *tg[] = {"a"};
	o.columns = cols;
	o.n_columns = 2;
	o.targets = tg;
	o.n_targets = 1;
	o.window = 5;
	o.horizon = 2;
	o.normalize = 0;
	o.shuffle = 0;
	reel_data *d = open_or_report(&o, "csv");
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		/* 80 / 10 / 10 rows; starts per split = rows - window - horizon + 1 */
		CHECK(in.features == 2 && in.outputs == 1 && in.n[0] == 74 && in.n[1] == 4 && in.n[2] == 4, "info %ld %ld %ld",
		      in.n[0], in.n[1], in.n[2]);
		int ok = 1, r, seen = 0;
		while ((r = reel_data_next(d, REEL_TRAIN, 10, &b, &e)) == 1)
			for (int i = 0; i < b.B; i++, seen++) {
				double t0 = b.inputs[(0 * b.B + i) * 2];
				ok &= t0 == seen && b.T == 5 && b.F == 2;
				for (int t = 0; t < 5; t++)
					ok &= b.inputs[(t * b.B + i) * 2] == t0 + t &&
					      b.inputs[(t * b.B + i) * 2 + 1] == (((int)t0 + t) % 2 ? 1 : 3);
				ok &= b.targets[i] == 2 * (t0 + 4 + 2); /* a at the row horizon after the window's end */
			}
		CHECK(ok && seen == 74, "windows in row order (shuffle 0), targets");
		CHECK(reel_data_next(d, REEL_VALID, 10, &b, &e) == 1 && b.B == 4 && b.inputs[0] == 80,
		      "valid windows start at row 80");
		CHECK(reel_data_next(d, REEL_TEST, 10, &b, &e) == 1 && b.inputs[(3 * b.B + 3) * 2] == 96, "test ends at row 99");
		reel_data_free(d);
	}
	o.normalize = 1;
	d = open_or_report(&o, "csv normalised");
	if (d) {
		char *js = reel_data_state_json(d);
		cJSON *j = js ? cJSON_Parse(js) : NULL;
		cJSON *nz = cJSON_GetObjectItem(j, "normalize");
		cJSON *im = cJSON_GetObjectItem(cJSON_GetObjectItem(nz, "inputs"), "mean");
		cJSON *is = cJSON_GetObjectItem(cJSON_GetObjectItem(nz, "inputs"), "std");
		cJSON *tm = cJSON_GetObjectItem(cJSON_GetObjectItem(nz, "targets"), "mean");
		/* train rows 0..79: t mean 39.5, std sqrt((80^2 - 1) / 12); b mean 2 std 1; a mean 79 */
		double st = sqrt((80.0 * 80 - 1) / 12);
		CHECK(im && fabs(cJSON_GetArrayItem(im, 0)->valuedouble - 39.5) < 1e-9 &&
		          fabs(cJSON_GetArrayItem(is, 0)->valuedouble - st) < 1e-9 &&
		          fabs(cJSON_GetArrayItem(im, 1)->valuedouble - 2) < 1e-9 &&
		          fabs(cJSON_GetArrayItem(is, 1)->valuedouble - 1) < 1e-9 &&
		          fabs(cJSON_GetArrayItem(tm, 0)->valuedouble - 79) < 1e-9,
		      "normalisation stats in the state json: %s", js ? js : "(null)");
		CHECK(!strcmp(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "inputs"), 1)->valuestring, "b"), "column names");
		cJSON_Delete(j);
		free(js);
		/* training inputs are z-scores: over every window's first step, b averages near 0 */
		double sum = 0;
		int n = 0;
		while (reel_data_next(d, REEL_TRAIN, 16, &b, &e) == 1)
			for (int i = 0; i < b.B; i++, n++)
				sum += b.inputs[i * 2 + 1];
		CHECK(n == 74 && fabs(sum / n) < 0.1, "b z-scored (mean %g)", sum / n);
		reel_data_free(d);
	}
	check_determinism_(&o, REEL_TRAIN, 0, "csv without shuffling");
	o.shuffle = 1;
	check_determinism(&o, REEL_TRAIN, "csv shuffled");

	th_case("data: csv errors: bad column name, bad number, wrong field count, no header indices");
	const char *badc[] = {"temp"};
	o.columns = badc;
	o.n_columns = 1;
	expect_error(&o, REEL_ERR_CONFIG, "no column \"temp\"", "t, a, b", "bad column");
	o.columns = cols;
	o.n_columns = 2;
	const char *q = tmp_path("bad.csv");
	write_file(q, "t,a,b\n1,2,3\n4,x5,6\n");
	o.path = q;
	char want[300];
	snprintf(want, sizeof want, "%s:3: column 1 (\"a\"): expected a finite number, found \"x5\"", q);
	expect_error(&o, REEL_ERR_IO, want, NULL, "bad number");
	if (sizeof(reel_real) == sizeof(float)) { /* a value a float cannot hold, unnormalised (found by fuzz_data) */
		int norm = o.normalize;
		o.normalize = 0;
		write_file(q, "t,a,b\n1,2,3\n4,1e65,6\n");
		snprintf(want, sizeof want, "%s:3: column 1 (\"a\"): 1e+65 does not fit a float", q);
		expect_error(&o, REEL_ERR_IO, want, NULL, "value beyond the float range");
		o.normalize = norm;
	}
	write_file(q, "t,a,b\n1,2,3\n\n4,5\n");
	snprintf(want, sizeof want, "%s:4: expected 3 fields, found 2", q);
	expect_error(&o, REEL_ERR_IO, want, NULL, "field count");
	write_file(q, "1,2,3\n4,5,6\n");
	o.header = 0;
	expect_error(&o, REEL_ERR_CONFIG, "no column \"t\"", "0-based", "names without a header");
	const char *idx[] = {"0", "2"};
	o.columns = idx;
	o.targets = NULL;
	o.n_targets = 0; /* targets default to the input columns */
	o.window = 1;
	o.horizon = 0;
	o.valid_frac = o.test_frac = 0;
	d = open_or_report(&o, "csv by index");
	CHECK(d && reel_data_get_info(d).n[0] == 2, "two windows of one row");
	reel_data_free(d);
	o.window = 3;
	expect_error(&o, REEL_ERR_CONFIG, "train split has 2 rows", "window", "too few rows");
	unlink(q);

	th_case("data: csv: per-step targets");
	o = reel_data_defaults();
	o.source = "csv";
	o.task = REEL_TASK_REGRESS;
	o.path = p;
	o.columns = cols;
	o.n_columns = 2;
	o.targets = tg;
	o.n_targets = 1;
	o.window = 4;
	o.horizon = 1;
	o.per_step = 1;
	o.normalize = 0;
	d = open_or_report(&o, "csv per step");
	if (d) {
		int ok = reel_data_next(d, REEL_TRAIN, 3, &b, &e) == 1 && b.O == 1;
		for (int i = 0; ok && i < b.B; i++)
			for (int t = 0; t < b.T; t++)
				ok &= b.targets[t * b.B + i] == 2 * (b.inputs[(t * b.B + i) * 2] + 1);
		CHECK(ok, "each step's target is column a one row on");
		reel_data_free(d);
	}
	unlink(p);

	th_case("data: csv: the shipped series");
	o = reel_data_defaults();
	o.source = "csv";
	o.task = REEL_TASK_REGRESS;
	o.dir = "configs/data";
	o.path = "load.csv";
	const char *in2[] = {"temp", "load"}, *out2[] = {"load"};
	o.columns = in2;
	o.n_columns = 2;
	o.targets = out2;
	o.n_targets = 1;
	o.window = 24;
	d = open_or_report(&o, "load.csv");
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		CHECK(in.features == 2 && in.outputs == 1 && in.n[0] == 2400 - 24 && reel_data_next(d, REEL_TRAIN, 32, &b, &e) == 1,
		      "n %ld", in.n[0]);
		reel_data_free(d);
	}
}

static void lines(void)
{
	reel_err e = {0};
	reel_batch b;
	th_case("data: tsv: pairs by line, vocabularies from train, <unk>, eos and padding");
	const char *p = tmp_path("pairs.tsv"), *v = tmp_path("pairs_valid.tsv");
	{
		FILE *f = fopen(p, "w");
		for (int i = 0; i < 40; i++)
			fprintf(f, "%d\t%s\n", i, i % 2 ? "odd one" : "even");
		fclose(f);
	}
	reel_data_opts o = reel_data_defaults();
	o.source = "tsv";
	o.task = REEL_TASK_SEQ2SEQ;
	o.path = p;
	o.shuffle = 0;
	reel_data *d = open_or_report(&o, "tsv");
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		/* 32 / 4 / 4 lines; sources are 0..31: digits; targets chars of "odd one", "even" */
		CHECK(in.n[0] == 32 && in.n[1] == 4 && in.n[2] == 4 && in.src_vocab == 12 && in.eos == 2, "info: src %d",
		      in.src_vocab);
		CHECK(!strcmp(reel_data_output_token(d, 3), "<unk>") && !strcmp(reel_data_output_token(d, 4), " "),
		      "target specials then sorted characters");
		int seen[40] = {0}, ok = 1;
		for (int s = 0; s < 3; s++)
			while (reel_data_next(d, (reel_data_split)s, 7, &b, &e) == 1)
				for (int i = 0; i < b.B; i++) {
					int num = 0;
					for (int t = 0; t < b.src_len[i]; t++)
						num = num * 10 + atoi(reel_data_input_token(d, b.src[t * b.B + i]));
					seen[num] += 1 + 10 * s;
					int lt = num % 2 ? 7 : 4;
					ok &= b.tgt[lt * b.B + i] == 2 && (lt + 1 >= b.TT || b.tgt[(lt + 1) * b.B + i] == 0);
					ok &= (s == 0) == (num < 32) && (s == 2) == (num >= 36);
				}
		int once = 1;
		for (int i = 0; i < 40; i++)
			once &= seen[i] == 1 || seen[i] == 11 || seen[i] == 21;
		CHECK(ok && once, "every line in exactly one split, by position; targets end in eos");
		reel_data_free(d);
	}
	write_file(v, "7\tevens\n");
	o.valid_path = v;
	d = open_or_report(&o, "tsv valid file");
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		CHECK(in.n[0] == 36 && in.n[1] == 1 && reel_data_next(d, REEL_VALID, 4, &b, &e) == 1 && b.tgt[4] == 3,
		      "the valid file's unseen 's' is <unk> (3)");
		reel_data_free(d);
	}
	o.valid_path = NULL;
	o.shuffle = 1;
	check_determinism(&o, REEL_TRAIN, "tsv");

	th_case("data: tsv and labelled errors name the file and line");
	const char *q = tmp_path("bad.tsv");
	char want[300];
	o = reel_data_defaults();
	o.source = "tsv";
	o.task = REEL_TASK_SEQ2SEQ;
	o.path = q;
	write_file(q, "a\tb\nc\td\r\n\ne f\n");
	snprintf(want, sizeof want, "%s:4: expected source<TAB>target, found no tab", q);
	expect_error(&o, REEL_ERR_IO, want, NULL, "no tab");
	write_file(q, "a\tb\tc\n");
	snprintf(want, sizeof want, "%s:1: expected source<TAB>target, found 2 tabs", q);
	expect_error(&o, REEL_ERR_IO, want, NULL, "two tabs");
	write_file(q, "a\tb\n\t b\n");
	snprintf(want, sizeof want, "%s:2: expected source<TAB>target, found an empty source", q);
	expect_error(&o, REEL_ERR_IO, want, NULL, "empty source");
	write_file(q, "a\tb\nc\td\n");
	expect_error(&o, REEL_ERR_CONFIG, "valid split is empty", q, "two lines");
	o.source = "labelled";
	o.task = REEL_TASK_TAG;
	o.valid_frac = o.test_frac = 0;
	write_file(q, "A B\tab\nA\tab\n");
	snprintf(want, sizeof want, "%s:2: expected 2 tags (one per character of the sequence), found 1", q);
	expect_error(&o, REEL_ERR_IO, want, NULL, "tag count");
	o.task = REEL_TASK_CLASSIFY;
	o.valid_frac = 0.5;
	write_file(q, "x\tab\ny\tcd\n");
	snprintf(want, sizeof want, "%s:2: expected a label of the training split, found \"y\"", q);
	expect_error(&o, REEL_ERR_IO, want, NULL, "unseen label");
	o.task = REEL_TASK_REGRESS;
	expect_error(&o, REEL_ERR_CONFIG, "classify or tag", NULL, "labelled as regress");
	unlink(q);
	unlink(p);
	unlink(v);

	th_case("data: labelled classify: the shipped bracket strings");
	o = reel_data_defaults();
	o.source = "labelled";
	o.task = REEL_TASK_CLASSIFY;
	o.dir = "configs/data";
	o.path = "brackets.tsv";
	d = open_or_report(&o, "brackets");
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		CHECK(in.classes == 2 && in.vocab == 6 && in.n[0] == 3200 && in.n[1] == 400 && in.n[2] == 400,
		      "classes %d vocab %d", in.classes, in.vocab);
		CHECK(!strcmp(reel_data_output_token(d, 0), "balanced"), "labels sorted");
		int ok = 1, count[2] = {0, 0};
		while (reel_data_next(d, REEL_TRAIN, 64, &b, &e) == 1)
			for (int i = 0; i < b.B; i++) {
				ok &= b.labels[i] == 0 || b.labels[i] == 1;
				count[b.labels[i] & 1]++;
				for (int t = 0; t < b.T; t++)
					ok &= (t < b.lengths[i]) == (b.tokens[t * b.B + i] != 0);
			}
		CHECK(ok && count[0] + count[1] == 3200 && abs(count[0] - count[1]) < 200, "labels %d/%d; padding 0",
		      count[0], count[1]);
		reel_data_free(d);
	}
	o.bucket = 1;
	check_determinism(&o, REEL_TRAIN, "brackets bucketed");

	th_case("data: labelled tag: one tag per character, ignored at padding");
	o = reel_data_defaults();
	o.source = "labelled";
	o.task = REEL_TASK_TAG;
	o.dir = "configs/data";
	o.path = "date_roles.tsv";
	d = open_or_report(&o, "date_roles");
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		CHECK(in.classes == 4 && !strcmp(reel_data_output_token(d, 3), "Y"), "tags D M S Y");
		int ok = 1, r = reel_data_next(d, REEL_VALID, 32, &b, &e);
		for (int i = 0; r == 1 && i < b.B; i++)
			for (int t = 0; t < b.T; t++) {
				int32_t y = b.labels[t * b.B + i];
				if (t >= b.lengths[i]) {
					ok &= y == REEL_DATA_IGNORE && b.tokens[t * b.B + i] == 0;
					continue;
				}
				const char *c = reel_data_input_token(d, b.tokens[t * b.B + i]);
				/* digits are Y, M or D; '/', '-', '.', ',' and ' ' are S */
				ok &= strchr("/-., ", c[0]) ? y == 2 : c[0] >= '0' && c[0] <= '9' ? y != 2 : 1;
			}
		CHECK(r == 1 && ok, "tags line up with characters");
		reel_data_free(d);
	}
}

static void safetensors(void)
{
	reel_err e = {0};
	reel_batch b;
	th_case("data: safetensors: token batches with lengths, tag targets, carved splits");
	const char *p = tmp_path("batches.safetensors");
	enum { T = 6, N = 20 };
	int32_t tok[T * N], tgt[T * N], len[N];
	for (int k = 0; k < N; k++) {
		len[k] = 1 + k % T;
		for (int t = 0; t < T; t++) {
			tok[t * N + k] = t < len[k] ? 1 + (k + t) % 5 : 0;
			tgt[t * N + k] = t < len[k] ? (k + t) % 3 : 0;
		}
	}
	reel_st_writer *w = reel_st_writer_new();
	reel_st_add(w, "tokens", REEL_I32, 2, (int64_t[]){T, N}, tok, &e);
	reel_st_add(w, "lengths", REEL_I32, 1, (int64_t[]){N}, len, &e);
	reel_st_add(w, "targets", REEL_I32, 2, (int64_t[]){T, N}, tgt, &e);
	CHECK(reel_st_write(w, p, &e) == REEL_OK, "%s", e.msg);
	reel_st_writer_free(w);
	reel_data_opts o = reel_data_defaults();
	o.source = "safetensors";
	o.task = REEL_TASK_TAG;
	o.path = p;
	o.shuffle = 0;
	reel_data *d = open_or_report(&o, "safetensors");
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		CHECK(in.tokens_in && in.vocab == 6 && in.classes == 3 && in.n[0] == 16 && in.n[1] == 2 && in.n[2] == 2,
		      "info: vocab %d classes %d n %ld", in.vocab, in.classes, in.n[0]);
		int ok = 1, k = 0;
		while (reel_data_next(d, REEL_TRAIN, 5, &b, &e) == 1) {
			int maxl = 0;
			for (int i = 0; i < b.B; i++, k++) {
				ok &= b.lengths[i] == len[k];
				maxl = len[k] > maxl ? len[k] : maxl;
				for (int t = 0; t < b.T; t++)
					ok &= t < len[k] ? b.tokens[t * b.B + i] == tok[t * N + k] && b.labels[t * b.B + i] == tgt[t * N + k]
					                 : b.tokens[t * b.B + i] == 0 && b.labels[t * b.B + i] == REEL_DATA_IGNORE;
			}
			ok &= b.T == maxl;
		}
		CHECK(ok && k == 16, "batches in order, trimmed to their longest, padding ignored");
		CHECK(reel_data_next(d, REEL_TEST, 5, &b, &e) == 1 && b.B == 2 && b.lengths[0] == len[18], "test is the last 2");
		reel_data_free(d);
	}

	th_case("data: safetensors: regress inputs and errors");
	const char *q = tmp_path("reg.safetensors");
	float x[3 * 4 * 2], y[4];
	for (int i = 0; i < 24; i++)
		x[i] = (float)i;
	for (int i = 0; i < 4; i++)
		y[i] = (float)(10 * i);
	w = reel_st_writer_new();
	reel_st_add(w, "inputs", REEL_F32, 3, (int64_t[]){3, 4, 2}, x, &e);
	reel_st_add(w, "targets", REEL_F32, 2, (int64_t[]){4, 1}, y, &e);
	reel_st_write(w, q, &e);
	reel_st_writer_free(w);
	o = reel_data_defaults();
	o.source = "safetensors";
	o.task = REEL_TASK_REGRESS;
	o.path = q;
	o.valid_frac = o.test_frac = 0;
	o.shuffle = 0;
	d = open_or_report(&o, "safetensors regress");
	if (d) {
		CHECK(reel_data_next(d, REEL_TRAIN, 4, &b, &e) == 1 && b.T == 3 && b.F == 2 && b.O == 1 &&
		          b.inputs[(2 * 4 + 1) * 2 + 1] == x[(2 * 4 + 1) * 2 + 1] && b.targets[3] == 30,
		      "inputs and targets");
		reel_data_free(d);
	}
	o.per_step = 1;
	expect_error(&o, REEL_ERR_IO, "\"targets\": expected shape (T, N, O)", q, "per_step shape");
	o.per_step = 0;
	o.task = REEL_TASK_CLASSIFY;
	expect_error(&o, REEL_ERR_IO, "expected dtype I32 or I64", NULL, "float labels");
	o.task = REEL_TASK_REGRESS;
	o.path = "build/no-such.safetensors";
	expect_error(&o, REEL_ERR_IO, "build/no-such.safetensors", NULL, "missing safetensors");
	o.path = q;
	o.valid_frac = 0.1; /* 4 examples: no valid example */
	expect_error(&o, REEL_ERR_CONFIG, "valid split is empty", NULL, "safetensors empty split");

	th_case("data: safetensors: seq2seq targets end at eos");
	{
		int32_t src[2 * 3] = {4, 5, 6, 7, 0, 8}, len3[3] = {2, 1, 2};
		int32_t tg2[3 * 3] = {9, 2, 10, 2, 0, 11, 0, 0, 2}; /* targets: [9], [], [10, 11] */
		w = reel_st_writer_new();
		reel_st_add(w, "tokens", REEL_I32, 2, (int64_t[]){2, 3}, src, &e);
		reel_st_add(w, "lengths", REEL_I32, 1, (int64_t[]){3}, len3, &e);
		reel_st_add(w, "targets", REEL_I32, 2, (int64_t[]){3, 3}, tg2, &e);
		reel_st_write(w, q, &e);
		reel_st_writer_free(w);
	}
	o = reel_data_defaults();
	o.source = "safetensors";
	o.task = REEL_TASK_SEQ2SEQ;
	o.path = q;
	o.valid_frac = o.test_frac = 0;
	o.shuffle = 0;
	d = open_or_report(&o, "safetensors seq2seq");
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		int r = reel_data_next(d, REEL_TRAIN, 3, &b, &e);
		CHECK(r == 1 && b.S == 2 && b.TT == 3 && b.src[1] == 5 && b.src[4] == 0 && b.src_len[1] == 1,
		      "sources padded");
		CHECK(r == 1 && b.tgt[0] == 9 && b.tgt[3] == 2 && b.tgt[6] == 0 && b.tgt[1] == 2 && b.tgt[2] == 10 &&
		          b.tgt[5] == 11 && b.tgt[8] == 2,
		      "targets up to eos, eos, then padding");
		CHECK(in.src_vocab == 9 && in.tgt_vocab == 12 && in.eos == 2, "vocabularies %d %d", in.src_vocab, in.tgt_vocab);
		reel_data_free(d);
	}
	unlink(p);
	unlink(q);
}

void suite_data(void)
{
	generators();
	text();
	csv();
	lines();
	safetensors();
}
