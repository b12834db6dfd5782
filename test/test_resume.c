/* Checkpoints and exact resume, for real: a training process is killed
 * with SIGKILL part-way, resumed from its last checkpoint, and must end
 * with bitwise the parameters and optimizer state of an uninterrupted run.
 * Done for a seq2seq model (dropout and scheduled sampling draw from the
 * RNG) and a truncated-BPTT language model (carried stream states). */
#include "harness.h"
#include "internal.h" /* reel__gemm_plan_clear: a resumed run starts with no plan, as a new process does */
#include "train.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static const char S2S[] =
	"{\"format\": 1, \"task\": \"seq2seq\","
	" \"data\": {\"source\": \"reverse\", \"min_len\": 3, \"max_len\": 8, \"valid_size\": 16, \"epoch_size\": 96},"
	" \"model\": {\"embedding_dim\": 8, \"hidden_size\": 16, \"dropout\": 0.1, \"attention\": {\"type\": \"additive\"}},"
	" \"train\": {\"steps\": 200, \"batch_size\": 8, \"valid_every\": 50, \"checkpoint_every\": 3, \"log_every\": 100,"
	"  \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01}, \"clip_norm\": 1.0,"
	"  \"schedule\": {\"type\": \"cosine\", \"warmup_steps\": 5},"
	"  \"teacher_forcing\": {\"ratio\": 1.0, \"final_ratio\": 0.7, \"decay_steps\": 150}}}";

static const char LM[] =
	"{\"format\": 1, \"task\": \"lm\","
	" \"data\": {\"source\": \"text\", \"path\": \"corpus.txt\", \"valid_frac\": 0.1, \"test_frac\": 0.1},"
	" \"model\": [{\"type\": \"embedding\", \"embedding_dim\": 8}, {\"type\": \"lstm\", \"hidden_size\": 16},"
	"  {\"type\": \"dropout\", \"p\": 0.2}, {\"type\": \"linear\"}],"
	" \"train\": {\"epochs\": 3, \"steps\": 0, \"batch_size\": 4, \"checkpoint_every\": 4, \"log_every\": 100,"
	"  \"bptt\": {\"k1\": 12, \"k2\": 8}, \"optimizer\": {\"type\": \"rmsprop\", \"lr\": 0.01, \"momentum\": 0.5}}}";

/* Train config into dir (resume: continue).  0 on success. */
static int train(const char *config, const char *dir, int resume, reel_train_result *res)
{
	reel_model *m = NULL;
	char *errors = NULL;
	reel_err err = {0};
	if (reel_model_new(config, NULL, 0, &m, &errors, &err) != REEL_OK) {
		printf("  model: %s\n%s", err.msg, errors ? errors : "");
		free(errors);
		return 1;
	}
	reel_train_opts o = {.dir = dir, .resume = resume};
	reel_status st = reel_train(m, &o, res, &err);
	if (st != REEL_OK)
		printf("  train %s: %s\n", dir, err.msg);
	reel_model_free(m);
	return st != REEL_OK;
}

/* Every parameter, moment and carried state of two checkpoints, byte for byte. */
static int same_tensors(const char *a, const char *b, char *why, size_t n) /* why: >= 600 bytes */
{
	reel_st_file *fa = NULL, *fb = NULL;
	reel_err e;
	int same = reel_st_read(a, &fa, &e) == REEL_OK && reel_st_read(b, &fb, &e) == REEL_OK;
	if (!same)
		snprintf(why, n, "%s", e.msg);
	if (same && reel_st_count(fa) != reel_st_count(fb)) {
		snprintf(why, n, "%d vs %d tensors", reel_st_count(fa), reel_st_count(fb));
		same = 0;
	}
	for (int i = 0; same && i < reel_st_count(fa); i++) {
		const reel_st_tensor *x = reel_st_at(fa, i), *y = reel_st_find(fb, x->name);
		if (!y || y->count != x->count || y->dtype != x->dtype ||
		    memcmp(x->bytes, y->bytes, x->count * (x->dtype == REEL_F32 || x->dtype == REEL_I32 ? 4 : 8))) {
			snprintf(why, n, "tensor %s differs", x->name);
			same = 0;
		}
	}
	reel_st_free(fa);
	reel_st_free(fb);
	return same;
}

/* A child trains into dir; it is killed with SIGKILL a random time after
 * its first checkpoint appears.  Returns 1 if it was killed before ending. */
static int train_and_kill(const char *config, const char *dir, unsigned seed)
{
	char ckpt[700];
	snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", dir);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		reel_train_result r;
		_exit(train(config, dir, 0, &r));
	}
	if (pid < 0)
		return 0;
	struct stat sb;
	for (int i = 0; i < 20000 && stat(ckpt, &sb) != 0; i++)
		sleep_us(500);
	srand(seed);
	sleep_us(rand() % 40000);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status);
}

static void resume_case(const char *name, const char *config_text, unsigned seed)
{
	char cfg[512], a[512], b[512], la[600], lb[600], why[600];
	snprintf(cfg, sizeof cfg, "%s/%s.json", tmpdir, name);
	snprintf(a, sizeof a, "%s/%s-a", tmpdir, name);
	snprintf(b, sizeof b, "%s/%s-b", tmpdir, name);
	write_text(cfg, config_text);
	reel_train_result ra, rb;
	if (!CHECK(train(cfg, a, 0, &ra) == 0, "uninterrupted run failed"))
		return;
	int killed = train_and_kill(cfg, b, seed);
	CHECK(killed, "the child ended before it was killed (the test proves nothing then)");
	reel__gemm_plan_clear(); /* a new process has measured nothing: the checkpoint's plan must be used */
	if (!CHECK(train(cfg, b, 1, &rb) == 0, "resume failed"))
		return;
	{ /* every kernel choice the checkpoint recorded is this process's choice too */
		char lb0[600];
		snprintf(lb0, sizeof lb0, "%s/last.safetensors", b);
		reel_st_file *f = NULL;
		reel_err e;
		char *now = reel_gemm_plan_save();
		if (CHECK(reel_st_read(lb0, &f, &e) == REEL_OK && now, "%s", e.msg)) {
			const char *rec = reel_st_meta(f, "reel.gemm_plan");
			int lines = 0, missing = 0;
			for (const char *l = rec; l && *l; lines++) {
				const char *nl = strchr(l, '\n');
				size_t n = nl ? (size_t)(nl - l + 1) : strlen(l);
				char one[128];
				snprintf(one, sizeof one, "%.*s", (int)(n < sizeof one ? n : sizeof one - 1), l);
				missing += strstr(now, one) == NULL;
				l += n;
			}
			CHECK(rec && lines > 0 && missing == 0, "%s: %d of %d recorded kernel choices not in use after resume",
			      name, missing, lines);
		}
		free(now);
		reel_st_free(f);
	}
	CHECK(rb.steps == ra.steps && rb.epochs == ra.epochs, "resumed run ended at step %ld epoch %d, uninterrupted at %ld/%d",
	      rb.steps, rb.epochs, ra.steps, ra.epochs);
	snprintf(la, sizeof la, "%s/last.safetensors", a);
	snprintf(lb, sizeof lb, "%s/last.safetensors", b);
	CHECK(same_tensors(la, lb, why, sizeof why), "%s: resumed and uninterrupted runs differ: %s", name, why);
	snprintf(la, sizeof la, "%s/best.safetensors", a);
	snprintf(lb, sizeof lb, "%s/best.safetensors", b);
	CHECK(same_tensors(la, lb, why, sizeof why), "%s: best checkpoints differ: %s", name, why);
	/* resuming a finished run does nothing and says so */
	reel_train_result rc;
	CHECK(train(cfg, b, 1, &rc) == 0 && rc.already_finished, "resume of a finished run");
}

void suite_resume(void)
{
	snprintf(tmpdir, sizeof tmpdir, "%s/reel-resume.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir))
		return;
	/* a small corpus for the language model */
	char corpus[600], *text = malloc(20000);
	snprintf(corpus, sizeof corpus, "%s/corpus.txt", tmpdir);
	reel_rng r;
	reel_rng_seed(&r, 7);
	static const char *const W[] = {"the ", "cat ", "sat ", "on ", "a ", "mat ", "and ", "dog ", "ran.\n"};
	size_t n = 0;
	while (n < 12000)
		n += (size_t)sprintf(text + n, "%s", W[reel_rng_below(&r, 9)]);
	write_text(corpus, text);
	free(text);

	th_case("resume: seq2seq killed with SIGKILL, resumed, bitwise equal to an uninterrupted run");
	if (th_selected() && !th_slow())
		resume_case("s2s", S2S, 11);
	th_case("resume: truncated-BPTT language model killed, resumed, bitwise equal");
	if (th_selected() && !th_slow())
		resume_case("lm", LM, 12);

	th_case("resume: the checkpoint holds parameters, moments, carried states and the run state");
	if (th_selected() && !th_slow()) { /* reads the run of the case before */
		char path[600];
		snprintf(path, sizeof path, "%s/lm-a/last.safetensors", tmpdir);
		reel_st_file *f = NULL;
		reel_err e;
		if (CHECK(reel_st_read(path, &f, &e) == REEL_OK, "%s", e.msg)) {
			CHECK(reel_st_find(f, "1.weight_hh_l0") && reel_st_find(f, "optim.step") &&
			          reel_st_find(f, "optim.1.weight_hh_l0.square_avg") && reel_st_find(f, "state.1.h") &&
			          reel_st_find(f, "state.1.c"),
			      "tensors missing");
			const char *st = reel_st_meta(f, "reel.train"), *cfg = reel_st_meta(f, "config"), *d = reel_st_meta(f, "data");
			CHECK(st && strstr(st, "\"batches_drawn\"") && strstr(st, "\"rng\""), "run state: %s", st ? st : "(none)");
			CHECK(cfg && strstr(cfg, "\"num_embeddings\":"), "resolved config missing");
			CHECK(d && strlen(d) > 10, "vocabulary missing");
			reel_st_free(f);
		}
	}
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("  could not remove %s\n", tmpdir);
}
