/* libFuzzer target for checkpoint loading and resuming (make fuzz): the
 * input is a run directory's last.safetensors for a small language model
 * (text stream, LSTM with carried state, Adam), and it goes through every
 * reader of checkpoints: reel_model_load (what eval and decode use),
 * reel_model_init_from (--init) and reel_train's resume (config diffing,
 * the run state in the metadata, parameters, optimizer moments, carried
 * states, the data replay), which then trains the few remaining updates of
 * the 3-step run and writes its own checkpoint.  A corrupted checkpoint
 * must be an error with a message, never a crash, a hang or a leak.
 *
 * Seeds: REEL_FUZZ_WRITE_SEEDS=DIR makes the target train the same model
 * 1, 2 and 3 updates and copy each last.safetensors into DIR (that is how
 * test/fuzz/corpus/resume/ was made).  A crash found becomes a regression
 * test in `make test` (suite_faults). */
#include "model.h"
#include "train.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char CONFIG[] =
	"{\"format\": 1, \"task\": \"lm\",\n"
	" \"data\": {\"source\": \"text\", \"path\": \"corpus.txt\", \"seq_len\": 6, \"valid_frac\": 0.2, \"test_frac\": 0.1},\n"
	" \"model\": [{\"type\": \"embedding\", \"embedding_dim\": 4}, {\"type\": \"lstm\", \"hidden_size\": 5},\n"
	"  {\"type\": \"linear\"}],\n"
	" \"train\": {\"steps\": 3, \"batch_size\": 2, \"checkpoint_every\": 1, \"valid_every\": 2, \"valid_batches\": 1,\n"
	"  \"log_every\": 100, \"bptt\": {\"k1\": 6, \"k2\": 4}, \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01}}}\n";

static const char CORPUS[] = "the quick brown fox jumps over the lazy dog\nsphinx of black quartz, judge my vow\n"
                             "how vexingly quick daft zebras jump\npack my box with five dozen liquor jugs\n"
                             "the five boxing wizards jump quickly\n";

static char dir[64], cfg_path[128], ckpt[128];

/* The temporary directory goes when the fuzzer exits. */
static void remove_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static void put(const char *p, const void *bytes, size_t n)
{
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(bytes, 1, n, f) != n)
		abort();
	fclose(f);
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/reel-fuzz-resume-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	atexit(remove_dir);
	char p[160];
	snprintf(p, sizeof p, "%s/corpus.txt", dir);
	put(p, CORPUS, strlen(CORPUS));
	snprintf(cfg_path, sizeof cfg_path, "%s/config.in.json", dir);
	put(cfg_path, CONFIG, strlen(CONFIG));
	snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", dir);
}

static reel_model *model(void)
{
	reel_model *m = NULL;
	char *errors = NULL;
	reel_err e = {0};
	if (reel_model_new(cfg_path, NULL, 0, &m, &errors, &e) != REEL_OK) {
		fprintf(stderr, "fuzz_resume: the built-in config does not build: %s\n%s", e.msg, errors ? errors : "");
		abort();
	}
	free(errors);
	return m;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setup();
	const char *seeds = getenv("REEL_FUZZ_WRITE_SEEDS");
	if (!seeds)
		return 0;
	for (int steps = 1; steps <= 3; steps++) {
		char set[32], *sets[1] = {set}, *errors = NULL;
		snprintf(set, sizeof set, "train.steps=%d", steps);
		reel_model *m = NULL;
		reel_err e = {0};
		if (reel_model_new(cfg_path, (const char *const *)sets, 1, &m, &errors, &e) != REEL_OK)
			abort();
		free(errors);
		reel_train_opts o = {.dir = dir, .force = 1};
		reel_train_result r;
		if (reel_train(m, &o, &r, &e) != REEL_OK) {
			fprintf(stderr, "fuzz_resume: %s\n", e.msg);
			abort();
		}
		reel_model_free(m);
		char cmd[512];
		snprintf(cmd, sizeof cmd, "cp %s %s/valid_step%d", ckpt, seeds, steps);
		if (system(cmd) != 0)
			abort();
	}
	exit(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	put(ckpt, data, size);
	reel_err e = {0};
	reel_model *m = model();
	if (reel_model_load(m, ckpt, &e) != REEL_OK && (e.code == REEL_OK || !e.msg[0]))
		abort();
	char *report = NULL;
	e = (reel_err){0};
	if (reel_model_init_from(m, ckpt, NULL, &report, &e) != REEL_OK && (e.code == REEL_OK || !e.msg[0]))
		abort();
	free(report);
	reel_model_free(m);

	m = model();
	reel_train_opts o = {.dir = dir, .resume = 1};
	reel_train_result r;
	e = (reel_err){0};
	if (reel_train(m, &o, &r, &e) != REEL_OK && (e.code == REEL_OK || !e.msg[0]))
		abort();
	reel_model_free(m);
	return 0;
}
