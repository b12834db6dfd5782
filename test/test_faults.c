/* Fault injection (engine/fault.h): the N-th allocation fails, for every N
 * until the operation succeeds, in building a model, in one training step
 * (reel_train of one update: config, data, tape, optimizer, validation,
 * checkpoint) and in writing a checkpoint; and I/O fails (a full disk, a
 * write error, a failed flush, a failed rename, a file size limit, a target
 * that is a directory) while a checkpoint is written.  Each must give an
 * error with a message, never a crash or (under make asan) a leak, and a
 * failed write must leave the previous checkpoint byte for byte as it was,
 * and loadable, with no temporary file left behind.
 *
 * Also here: the regression tests of crashes found by make fuzz
 * (test/fuzz/) in the config, data and resume targets. */
#include "fault.h"
#include "harness.h"
#include "train.h"
#include "../engine/fastmath.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

/* ---- the allocation counter ------------------------------------------------------ */

typedef struct counter {
	long n;       /* allocations seen */
	long fail_at; /* the one to refuse (1-based) */
	int failed;   /* it was refused */
} counter;

static int fail_nth(size_t bytes, void *ctx)
{
	(void)bytes;
	counter *c = ctx;
	if (++c->n != c->fail_at)
		return 0;
	c->failed = 1;
	return 1;
}

static void hook_on(counter *c, long n)
{
	*c = (counter){.fail_at = n};
	reel_set_alloc_hook(fail_nth, c);
}

static void hook_off(void)
{
	reel_set_alloc_hook(NULL, NULL);
}

/* ---- files ------------------------------------------------------------------------- */

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* The whole file in a malloc'd buffer (*n bytes), or NULL. */
static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	unsigned char *buf = NULL;
	size_t cap = 0;
	*n = 0;
	for (;;) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 65536;
			unsigned char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t k = fread(buf + *n, 1, cap - *n, f);
		*n += k;
		if (k == 0)
			break;
	}
	fclose(f);
	return buf;
}

static int same_bytes(const char *path, const unsigned char *want, size_t n)
{
	size_t m;
	unsigned char *got = slurp(path, &m);
	int same = got && m == n && !memcmp(got, want, n);
	free(got);
	return same;
}

/* Names in dir containing ".tmp" (a temporary file left behind), or 0. */
static int temp_files(const char *dir)
{
	DIR *d = opendir(dir);
	int k = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		k += strstr(e->d_name, ".tmp") != NULL;
	if (d)
		closedir(d);
	return k;
}

static int loadable(const char *path, char *why, size_t n)
{
	reel_st_file *f = NULL;
	reel_err e = {0};
	if (reel_st_read(path, &f, &e) != REEL_OK) {
		snprintf(why, n, "%s", e.msg);
		return 0;
	}
	reel_st_free(f);
	return 1;
}

/* ---- the models ---------------------------------------------------------------------- */

/* A truncated-BPTT language model (text stream, carried LSTM state, Adam)
 * and a seq2seq model with attention (a generator, dropout): between them
 * every kind of allocation a step makes. */
static const char LM[] =
	"{\"format\": 1, \"task\": \"lm\","
	" \"data\": {\"source\": \"text\", \"path\": \"corpus.txt\", \"seq_len\": 6, \"valid_frac\": 0.2, \"test_frac\": 0.1},"
	" \"model\": [{\"type\": \"embedding\", \"embedding_dim\": 4}, {\"type\": \"lstm\", \"hidden_size\": 5},"
	"  {\"type\": \"linear\"}],"
	" \"train\": {\"steps\": 1, \"batch_size\": 2, \"valid_batches\": 1, \"log_every\": 100,"
	"  \"bptt\": {\"k1\": 6, \"k2\": 4}, \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01}}}";

static const char S2S[] =
	"{\"format\": 1, \"task\": \"seq2seq\","
	" \"data\": {\"source\": \"reverse\", \"min_len\": 2, \"max_len\": 4, \"valid_size\": 4, \"test_size\": 4,"
	"  \"epoch_size\": 8},"
	" \"model\": {\"embedding_dim\": 4, \"hidden_size\": 6, \"dropout\": 0.1, \"attention\": {\"type\": \"additive\"}},"
	" \"train\": {\"steps\": 1, \"batch_size\": 2, \"valid_batches\": 1, \"log_every\": 100,"
	"  \"optimizer\": {\"type\": \"rmsprop\", \"lr\": 0.01, \"momentum\": 0.5}}}";

static reel_model *build(const char *cfg, const char *const *sets, int nsets, reel_err *e)
{
	reel_model *m = NULL;
	char *errors = NULL;
	if (reel_model_new(cfg, sets, nsets, &m, &errors, e) != REEL_OK)
		m = NULL;
	free(errors);
	return m;
}

/* Building the model from cfg with the N-th allocation failing, every N. */
static void build_faults(const char *cfg, const char *what)
{
	long silent = 0, N;
	for (N = 1; N < 100000; N++) {
		counter c;
		reel_err e = {0};
		reel_model *m = NULL;
		char *errors = NULL;
		hook_on(&c, N);
		reel_status st = reel_model_new(cfg, NULL, 0, &m, &errors, &e);
		hook_off();
		free(errors);
		reel_model_free(m);
		if (!c.failed) {
			CHECK(st == REEL_OK, "%s: the build fails with no fault: %s", what, e.msg);
			break;
		}
		if (st == REEL_OK && !silent)
			silent = N;
		if (!CHECK(st == REEL_OK || e.msg[0], "%s: allocation %ld failed: an error without a message", what, N))
			break;
	}
	CHECK(!silent, "%s: allocation %ld failed, yet the build reported success", what, silent);
	printf("  %s: model build: %ld allocations, each failure an error\n", what, N - 1);
}

/* One update (reel_train with steps 1, into a fresh directory: config,
 * data, tape, optimizer, validation, checkpoint) with the N-th allocation
 * failing, every N. */
static void step_faults(const char *cfg, const char *what)
{
	char dir[400];
	snprintf(dir, sizeof dir, "%s/%s-step", tmpdir, what);
	long silent = 0, N;
	for (N = 1; N < 100000; N++) {
		reel_err e = {0};
		reel_model *m = build(cfg, NULL, 0, &e);
		if (!CHECK(m, "%s: %s", what, e.msg))
			return;
		counter c;
		reel_train_opts o = {.dir = dir, .force = 1};
		reel_train_result r;
		hook_on(&c, N);
		reel_status st = reel_train(m, &o, &r, &e);
		hook_off();
		reel_model_free(m);
		if (!c.failed) {
			CHECK(st == REEL_OK && r.steps == 1, "%s: the step fails with no fault: %s", what, e.msg);
			break;
		}
		if (st == REEL_OK && !silent)
			silent = N;
		if (!CHECK(st == REEL_OK || e.msg[0], "%s: allocation %ld failed: an error without a message", what, N) ||
		    !CHECK(temp_files(dir) == 0, "%s: allocation %ld failed: a temporary file was left in %s", what, N, dir))
			break;
	}
	CHECK(!silent, "%s: allocation %ld failed, yet the training step reported success", what, silent);
	printf("  %s: one training step: %ld allocations, each failure an error\n", what, N - 1);
}

/* A run of 1 update, then its resume to 2 updates (loading the checkpoint,
 * replaying the data, one update, validation, writing the checkpoint) with
 * the N-th allocation failing: an error each time, and last.safetensors is
 * then still the 1-update checkpoint, byte for byte, and resumable. */
static void checkpoint_faults(const char *cfg, const char *what)
{
	char dir[400], ckpt[450], why[600];
	snprintf(dir, sizeof dir, "%s/%s-ckpt", tmpdir, what);
	snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", dir);
	reel_err e = {0};
	reel_model *m = build(cfg, NULL, 0, &e);
	reel_train_opts o = {.dir = dir, .force = 1};
	reel_train_result r;
	if (!CHECK(m && reel_train(m, &o, &r, &e) == REEL_OK, "%s: first run: %s", what, e.msg)) {
		reel_model_free(m);
		return;
	}
	reel_model_free(m);
	size_t n0;
	unsigned char *before = slurp(ckpt, &n0);
	if (!CHECK(before, "%s: no checkpoint", what))
		return;
	static const char *const two[] = {"train.steps=2"};
	long silent = 0, N, changed = 0;
	for (N = 1; N < 100000; N++) {
		m = build(cfg, two, 1, &e);
		if (!CHECK(m, "%s: %s", what, e.msg))
			break;
		counter c;
		o = (reel_train_opts){.dir = dir, .resume = 1};
		hook_on(&c, N);
		reel_status st = reel_train(m, &o, &r, &e);
		hook_off();
		reel_model_free(m);
		if (!c.failed) {
			CHECK(st == REEL_OK && r.steps == 2, "%s: resume fails with no fault: %s", what, e.msg);
			break;
		}
		if (st == REEL_OK && !silent)
			silent = N;
		if (!CHECK(st == REEL_OK || e.msg[0], "%s: allocation %ld failed: an error without a message", what, N) ||
		    !CHECK(temp_files(dir) == 0, "%s: allocation %ld failed: a temporary file was left in %s", what, N, dir))
			break;
		if (!same_bytes(ckpt, before, n0)) {
			/* the checkpoint of update 2 was written before the failure
			 * (only a later step may fail then): whole and loadable, and
			 * the next N starts from the 1-update checkpoint again */
			if (!changed)
				changed = N;
			if (!CHECK(loadable(ckpt, why, sizeof why), "%s: allocation %ld failed: the checkpoint is broken: %s", what,
			           N, why))
				break;
			FILE *f = fopen(ckpt, "wb");
			if (f) {
				fwrite(before, 1, n0, f);
				fclose(f);
			}
		}
	}
	CHECK(!silent, "%s: allocation %ld failed, yet the resumed run reported success", what, silent);
	CHECK(!changed, "%s: allocation %ld failed after the new checkpoint was in place (an error after the write)", what,
	      changed);
	free(before);
	printf("  %s: resume, one update and its checkpoint: %ld allocations, each failure an error, "
	       "the previous checkpoint intact\n",
	       what, N - 1);
}

/* reel_model_save over an existing file with the N-th allocation failing:
 * an error each time, the file unchanged. */
static void save_faults(const char *cfg, const char *what)
{
	char path[400], why[600];
	snprintf(path, sizeof path, "%s/%s-model.safetensors", tmpdir, what);
	reel_err e = {0};
	reel_model *m = build(cfg, NULL, 0, &e);
	if (!CHECK(m && reel_model_save(m, path, &e) == REEL_OK, "%s: save: %s", what, e.msg)) {
		reel_model_free(m);
		return;
	}
	size_t n0;
	unsigned char *before = slurp(path, &n0);
	/* change the parameters, so a write that got through would show */
	size_t np;
	reel_real *pv = (reel_real *)reel_params_values(m->ps, &np);
	for (size_t i = 0; i < np; i++)
		pv[i] += 1;
	long silent = 0, N;
	for (N = 1; N < 100000; N++) {
		counter c;
		hook_on(&c, N);
		reel_status st = reel_model_save(m, path, &e);
		hook_off();
		if (!c.failed) {
			CHECK(st == REEL_OK, "%s: save fails with no fault: %s", what, e.msg);
			break;
		}
		if (st == REEL_OK && !silent)
			silent = N;
		if (!CHECK(st == REEL_ERR_NOMEM || st == REEL_OK, "%s: allocation %ld failed: %s, expected REEL_ERR_NOMEM",
		           what, N, reel_status_name(st)) ||
		    !CHECK(same_bytes(path, before, n0), "%s: allocation %ld failed, and the file changed", what, N))
			break;
	}
	CHECK(!silent, "%s: allocation %ld failed, yet the save reported success", what, silent);
	CHECK(loadable(path, why, sizeof why) && !same_bytes(path, before, n0), "%s: the final save: %s", what, why);
	printf("  %s: one checkpoint write: %ld allocations, each failure an error, the file intact\n", what, N - 1);
	free(before);
	reel_model_free(m);
}

/* ---- I/O faults ------------------------------------------------------------------------ */

typedef struct io_fault {
	reel_io_op op;
	const char *only; /* count only calls on paths containing this (NULL: all) */
	int nth;    /* fail the nth call of op (1-based) */
	int err;    /* with this errno */
	int seen;
	int fired;
} io_fault;

static int io_fail(reel_io_op op, const char *path, void *ctx)
{
	io_fault *f = ctx;
	if (op != f->op || (f->only && !strstr(path, f->only)) || ++f->seen != f->nth)
		return 0;
	f->fired = 1;
	return f->err;
}

static void io_faults(const char *cfg, const char *what)
{
	char dir[400], ckpt[450], why[600];
	snprintf(dir, sizeof dir, "%s/%s-io", tmpdir, what);
	snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", dir);
	reel_err e = {0};
	reel_model *m = build(cfg, NULL, 0, &e);
	reel_train_opts o = {.dir = dir, .force = 1};
	reel_train_result r;
	if (!CHECK(m && reel_train(m, &o, &r, &e) == REEL_OK, "%s: first run: %s", what, e.msg)) {
		reel_model_free(m);
		return;
	}
	reel_model_free(m);
	size_t n0;
	unsigned char *before = slurp(ckpt, &n0);
	static const char *const two[] = {"train.steps=2"};
	static const struct {
		reel_io_op op;
		int nth, err;
		const char *name;
	} cases[] = {
		{REEL_IO_CREATE, 1, ENOSPC, "no room to create the temporary file"},
		{REEL_IO_WRITE, 1, ENOSPC, "a full disk at the first write"},
		{REEL_IO_WRITE, 3, ENOSPC, "a full disk part-way"},
		{REEL_IO_WRITE, 4, EIO, "an I/O error part-way"},
		{REEL_IO_FSYNC, 1, EIO, "a failed flush"},
		{REEL_IO_RENAME, 1, EXDEV, "a failed rename"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		m = build(cfg, two, 1, &e);
		if (!CHECK(m, "%s", e.msg))
			break;
		io_fault f = {.op = cases[k].op, .only = "last.safetensors", .nth = cases[k].nth, .err = cases[k].err};
		o = (reel_train_opts){.dir = dir, .resume = 1};
		reel_set_io_hook(io_fail, &f);
		reel_status st = reel_train(m, &o, &r, &e);
		reel_set_io_hook(NULL, NULL);
		reel_model_free(m);
		CHECK(f.fired, "%s: %s: the fault was never injected", what, cases[k].name);
		CHECK(st == REEL_ERR_IO && strstr(e.msg, strerror(cases[k].err)) && strstr(e.msg, "last.safetensors"),
		      "%s: %s: got %s \"%s\"", what, cases[k].name, reel_status_name(st), e.msg);
		CHECK(same_bytes(ckpt, before, n0) && loadable(ckpt, why, sizeof why),
		      "%s: %s: the previous checkpoint changed or does not load", what, cases[k].name);
		CHECK(temp_files(dir) == 0, "%s: %s: a temporary file was left behind", what, cases[k].name);
	}
	/* and the run resumes from it afterwards */
	m = build(cfg, two, 1, &e);
	o = (reel_train_opts){.dir = dir, .resume = 1};
	CHECK(m && reel_train(m, &o, &r, &e) == REEL_OK && r.steps == 2, "%s: resume after the faults: %s", what, e.msg);
	reel_model_free(m);
	free(before);
}

/* Real failures from the kernel, no hook: a file size limit (EFBIG, as a
 * full disk would give ENOSPC), a target that is a directory (rename
 * fails), a directory that cannot be written; and the mode of a new file. */
static void kernel_faults(void)
{
	char path[400], why[600];
	snprintf(path, sizeof path, "%s/kernel.safetensors", tmpdir);
	static float big[65536];
	reel_err e = {0};
	reel_st_writer *w = reel_st_writer_new();
	int64_t shape[1] = {65536};
	if (!CHECK(w && reel_st_add(w, "x", REEL_F32, 1, shape, big, &e) == REEL_OK, "%s", e.msg)) {
		reel_st_writer_free(w);
		return;
	}
	reel_st_writer *small = reel_st_writer_new();
	int64_t one[1] = {1};
	reel_st_add(small, "x", REEL_F32, 1, one, big, &e);
	mode_t old = umask(022);
	CHECK(reel_st_write(small, path, &e) == REEL_OK, "%s", e.msg);
	umask(old);
	struct stat sb;
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644, "mode %o, expected 0644 (0666 less umask 022)",
	      (unsigned)(sb.st_mode & 0777));
	size_t n0;
	unsigned char *before = slurp(path, &n0);

	/* the file size limit: the kernel refuses writes past 64 KiB */
	struct rlimit rl, low;
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0) {
		low = rl;
		low.rlim_cur = 65536;
		if (setrlimit(RLIMIT_FSIZE, &low) == 0) {
			reel_status st = reel_st_write(w, path, &e);
			setrlimit(RLIMIT_FSIZE, &rl);
			CHECK(st == REEL_ERR_IO && strstr(e.msg, strerror(EFBIG)) && strstr(e.msg, "unchanged"),
			      "file size limit: %s \"%s\"", reel_status_name(st), e.msg);
			CHECK(same_bytes(path, before, n0), "file size limit: the previous file changed");
		}
	}
	signal(SIGXFSZ, prev);
	/* the target is a directory */
	char dpath[450];
	snprintf(dpath, sizeof dpath, "%s/adir.safetensors", tmpdir);
	mkdir(dpath, 0777);
	reel_status st = reel_st_write(small, dpath, &e);
	CHECK(st == REEL_ERR_IO && strstr(e.msg, "rename") && strstr(e.msg, strerror(EISDIR)), "rename onto a directory: %s",
	      e.msg);
	CHECK(stat(dpath, &sb) == 0 && S_ISDIR(sb.st_mode), "the directory is gone");
	/* a directory where nothing can be created (unless root, who can) */
	char ro[450], rpath[500];
	snprintf(ro, sizeof ro, "%s/readonly", tmpdir);
	mkdir(ro, 0555);
	snprintf(rpath, sizeof rpath, "%s/x.safetensors", ro);
	if (geteuid() != 0) {
		st = reel_st_write(small, rpath, &e);
		CHECK(st == REEL_ERR_IO && strstr(e.msg, "temporary file"), "read-only directory: %s", e.msg);
	}
	CHECK(temp_files(tmpdir) == 0, "a temporary file was left behind");
	CHECK(loadable(path, why, sizeof why), "%s", why);
	/* a failed flush of the directory after the rename: an error that says
	 * the file was written */
	io_fault f = {.op = REEL_IO_DIRSYNC, .nth = 1, .err = EIO};
	reel_set_io_hook(io_fail, &f);
	st = reel_st_write(small, path, &e);
	reel_set_io_hook(NULL, NULL);
	CHECK(st == REEL_ERR_IO && strstr(e.msg, "written, but its directory"), "directory flush: %s", e.msg);
	free(before);
	reel_st_writer_free(w);
	reel_st_writer_free(small);
}

/* ---- regressions of crashes found by make fuzz ------------------------------------- */

/* Replace the first occurrence of what (in the file's header) with with, of
 * the same length; 1 if found. */
static int patch_text(unsigned char *buf, size_t n, const char *what, const char *with)
{
	size_t k = strlen(what);
	for (size_t i = 0; i + k <= n; i++)
		if (!memcmp(buf + i, what, k)) {
			memcpy(buf + i, with, k);
			return 1;
		}
	return 0;
}

static void put_bytes(const char *path, const unsigned char *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(b, 1, n, f);
		fclose(f);
	}
}

static void fuzz_regressions(const char *cfg)
{
#ifndef REEL_DOUBLE
	th_case("fuzz regressions: fastmath exp, sigmoid, tanh of NaN are NaN, with no NaN-to-int conversion "
	        "(fuzz_resume crash 1db3849a)");
	if (th_selected()) {
		volatile float nan = NAN;
		CHECK(isnan(reel__fexp(nan)) && isnan(reel__fsigmoid(nan)) && isnan(reel__ftanh(nan)), "NaN in, not NaN out");
		CHECK(reel__fexp(INFINITY) > 1e38f && reel__fexp(-INFINITY) < 1e-37f, "infinities still clamp");
	}
#endif
	th_case("fuzz regressions: resuming from a checkpoint with a NaN parameter is an error (fuzz_resume crash "
	        "1db3849a)");
	char dir[400], ckpt[450];
	snprintf(dir, sizeof dir, "%s/regress", tmpdir);
	snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", dir);
	reel_err e = {0};
	reel_model *m = build(cfg, NULL, 0, &e);
	reel_train_opts o = {.dir = dir, .force = 1};
	reel_train_result r;
	if (!CHECK(m && reel_train(m, &o, &r, &e) == REEL_OK, "first run: %s", e.msg)) {
		reel_model_free(m);
		return;
	}
	reel_model_free(m);
	size_t n;
	unsigned char *good = slurp(ckpt, &n), *bad = good ? malloc(n) : NULL;
	reel_st_file *f = NULL;
	if (!CHECK(bad && reel_st_read(ckpt, &f, &e) == REEL_OK, "%s", e.msg)) {
		free(good);
		free(bad);
		return;
	}
	const reel_st_tensor *w = reel_st_find(f, "1.weight_hh_l0");
	size_t at = w ? (size_t)(w->bytes - reel_st_at(f, 0)->bytes) : 0, data0 = 0;
	memcpy(&data0, good, 8); /* the header's length: data starts at 8 + it */
	reel_st_free(f);
	static const char *const two[] = {"train.steps=2"};
	memcpy(bad, good, n);
	reel_real nan = NAN;
	if (th_selected() && CHECK(w, "no 1.weight_hh_l0")) {
		/* the first tensor's bytes start the data section; w's are at + after */
		memcpy(bad + 8 + data0 + at + sizeof nan * 3, &nan, sizeof nan);
		put_bytes(ckpt, bad, n);
		m = build(cfg, two, 1, &e);
		o = (reel_train_opts){.dir = dir, .resume = 1};
		reel_status st = m ? reel_train(m, &o, &r, &e) : REEL_ERR_CONFIG;
		CHECK(st == REEL_ERR_IO && strstr(e.msg, "not finite"), "got %s: %s", reel_status_name(st), e.msg);
		reel_model_free(m);
	}

	th_case("fuzz regressions: a checkpoint whose batches_drawn disagrees with its step is refused, not replayed");
	memcpy(bad, good, n);
	/* in the header the run state is a JSON string, its quotes escaped */
	if (th_selected() &&
	    CHECK(patch_text(bad, n, "batches_drawn\\\":1,", "batches_drawn\\\":9,"), "no batches_drawn 1 in the header")) {
		put_bytes(ckpt, bad, n);
		m = build(cfg, two, 1, &e);
		o = (reel_train_opts){.dir = dir, .resume = 1};
		reel_status st = m ? reel_train(m, &o, &r, &e) : REEL_ERR_CONFIG;
		CHECK(st == REEL_ERR_IO && strstr(e.msg, "inconsistent"), "got %s: %s", reel_status_name(st), e.msg);
		reel_model_free(m);
	}
	th_case("fuzz regressions: safetensors batches with a NaN input or an infinite target are refused at open "
	        "(fuzz_data crash b67d3da8)");
	if (th_selected()) {
		char st_path[450];
		snprintf(st_path, sizeof st_path, "%s/nan-batches.safetensors", tmpdir);
		float x[3 * 4 * 2], y[4] = {0, 1, 2, 3};
		for (int i = 0; i < 24; i++)
			x[i] = (float)i;
		for (int k = 0; k < 2; k++) {
			if (k == 0)
				x[2 * 4 * 2 + 3] = NAN; /* inputs[2, 1, 1] */
			else
				y[2] = INFINITY;
			reel_st_writer *sw = reel_st_writer_new();
			reel_st_add(sw, "inputs", REEL_F32, 3, (int64_t[]){3, 4, 2}, x, &e);
			reel_st_add(sw, "targets", REEL_F32, 2, (int64_t[]){4, 1}, y, &e);
			CHECK(reel_st_write(sw, st_path, &e) == REEL_OK, "%s", e.msg);
			reel_st_writer_free(sw);
			reel_data_opts dopt = reel_data_defaults();
			dopt.source = "safetensors";
			dopt.task = REEL_TASK_REGRESS;
			dopt.path = st_path;
			dopt.valid_frac = dopt.test_frac = 0;
			reel_data *d = reel_data_open(&dopt, &e);
			CHECK(!d && e.code == REEL_ERR_IO && strstr(e.msg, k ? "\"targets\" element 2" : "\"inputs\"[2, 1, 1]") &&
			          strstr(e.msg, "expected a finite number"),
			      "%s: %s", k ? "infinite target" : "NaN input", d ? "opened" : e.msg);
			reel_data_free(d);
			x[2 * 4 * 2 + 3] = 0;
		}
	}
	th_case("fuzz regressions: safetensors seq2seq targets with a negative id are refused at open (fuzz_data crash "
	        "e0ee85ad)");
	if (th_selected()) {
		char st_path[450];
		snprintf(st_path, sizeof st_path, "%s/neg-target.safetensors", tmpdir);
		int32_t src[2 * 3] = {4, 5, 6, 7, 0, 8}, len3[3] = {2, 1, 2};
		int32_t tg[3 * 3] = {9, -5, 10, 2, 2, 11, 0, 0, 2}; /* example 1's target starts with -5 */
		reel_st_writer *sw = reel_st_writer_new();
		reel_st_add(sw, "tokens", REEL_I32, 2, (int64_t[]){2, 3}, src, &e);
		reel_st_add(sw, "lengths", REEL_I32, 1, (int64_t[]){3}, len3, &e);
		reel_st_add(sw, "targets", REEL_I32, 2, (int64_t[]){3, 3}, tg, &e);
		CHECK(reel_st_write(sw, st_path, &e) == REEL_OK, "%s", e.msg);
		reel_st_writer_free(sw);
		reel_data_opts dopt = reel_data_defaults();
		dopt.source = "safetensors";
		dopt.task = REEL_TASK_SEQ2SEQ;
		dopt.path = st_path;
		dopt.valid_frac = dopt.test_frac = 0;
		reel_data *d = reel_data_open(&dopt, &e);
		CHECK(!d && e.code == REEL_ERR_IO && strstr(e.msg, "\"targets\"[0, 1]: expected an id >= 0, found -5"), "%s",
		      d ? "opened" : e.msg);
		reel_data_free(d);
	}
	th_case("fuzz regressions: a class id of 2^31 - 1 is refused at open, not overflowed into the class count "
	        "(fuzz_data crash 2eb87339)");
	if (th_selected()) {
		char st_path[450];
		snprintf(st_path, sizeof st_path, "%s/huge-class.safetensors", tmpdir);
		int32_t tok[2 * 3] = {1, 2, 3, 4, 5, 1}, tg[2 * 3] = {0, 1, 2, 1, INT32_MAX, 0};
		reel_st_writer *sw = reel_st_writer_new();
		reel_st_add(sw, "tokens", REEL_I32, 2, (int64_t[]){2, 3}, tok, &e);
		reel_st_add(sw, "targets", REEL_I32, 2, (int64_t[]){2, 3}, tg, &e);
		CHECK(reel_st_write(sw, st_path, &e) == REEL_OK, "%s", e.msg);
		reel_st_writer_free(sw);
		reel_data_opts dopt = reel_data_defaults();
		dopt.source = "safetensors";
		dopt.task = REEL_TASK_TAG;
		dopt.path = st_path;
		dopt.valid_frac = dopt.test_frac = 0;
		reel_data *d = reel_data_open(&dopt, &e);
		CHECK(!d && e.code == REEL_ERR_IO && strstr(e.msg, "expected a class in [0, ") && strstr(e.msg, "found 2147483647"),
		      "%s", d ? "opened" : e.msg);
		reel_data_free(d);
	}
	/* and the good checkpoint still resumes */
	put_bytes(ckpt, good, n);
	m = build(cfg, two, 1, &e);
	o = (reel_train_opts){.dir = dir, .resume = 1};
	CHECK(m && reel_train(m, &o, &r, &e) == REEL_OK && r.steps == 2, "the untouched checkpoint: %s", e.msg);
	reel_model_free(m);
	free(good);
	free(bad);
}

void suite_faults(void)
{
	/* thousands of runs, each flushing its files: on tmpfs (/dev/shm)
	 * when there is one, so fsync costs nothing */
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(tmpdir, sizeof tmpdir, "%s/reel-faults.XXXXXX", base);
	if (!mkdtemp(tmpdir))
		return;
	char corpus[400], lm[400], s2s[400];
	snprintf(corpus, sizeof corpus, "%s/corpus.txt", tmpdir);
	write_text(corpus, "the quick brown fox jumps over the lazy dog\nsphinx of black quartz, judge my vow\n"
	                   "how vexingly quick daft zebras jump\npack my box with five dozen liquor jugs\n"
	                   "the five boxing wizards jump quickly\n");
	snprintf(lm, sizeof lm, "%s/lm.json", tmpdir);
	write_text(lm, LM);
	snprintf(s2s, sizeof s2s, "%s/s2s.json", tmpdir);
	write_text(s2s, S2S);

	/* the allocation loops run a few thousand trainings: in the float build
	 * only (they test no arithmetic), the I/O cases in both */
#ifndef REEL_DOUBLE
	th_case("faults: building a model with the N-th allocation failing, every N: an error each time");
	if (th_selected()) {
		build_faults(lm, "lm");
		build_faults(s2s, "s2s");
	}
	th_case("faults: one training step with the N-th allocation failing, every N: an error each time");
	if (th_selected() && !th_slow()) {
		step_faults(lm, "lm");
		step_faults(s2s, "s2s");
	}
	th_case("faults: resume, one update and its checkpoint with the N-th allocation failing: the old checkpoint intact");
	if (th_selected() && !th_slow()) {
		checkpoint_faults(lm, "lm");
		checkpoint_faults(s2s, "s2s");
	}
	th_case("faults: one checkpoint write (reel_model_save) with the N-th allocation failing: the file intact");
	if (th_selected())
		save_faults(lm, "lm");
#else
	(void)build_faults;
	(void)step_faults;
	(void)checkpoint_faults;
	(void)save_faults;
#endif
	th_case("faults: a full disk, write, flush and rename errors while checkpointing: the old checkpoint intact");
	if (th_selected())
		io_faults(lm, "lm");
	th_case("faults: real kernel errors (file size limit, rename onto a directory), the directory flush, file mode");
	if (th_selected())
		kernel_faults();
	fuzz_regressions(lm);

	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("  could not remove %s\n", tmpdir);
}
