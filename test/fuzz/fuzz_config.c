/* libFuzzer target for the JSON config loader and the whole model build
 * (models/config.c, models/model.c, models/registry.c, and the data
 * sources a config opens) (make fuzz).
 *
 * Input: a config file, written to a temporary directory that also holds a
 * small text corpus (corpus.txt), a series (series.csv), pairs (pairs.tsv)
 * and labelled lines (labels.tsv), so configs naming those files build
 * whole models.  A config that builds is then used: its resolved config
 * printed, one training batch drawn, a forward and backward run when the
 * model's memory estimate is small.  Invariants: a failure leaves no model
 * and says why; a model that builds runs its step without a sanitizer
 * report.  A crash found becomes a regression test in `make test`
 * (suite_faults). */
#include "model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[128];

/* The temporary directory goes when the fuzzer exits. */
static void remove_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static void put(const char *name, const char *text)
{
	char p[160];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/reel-fuzz-config-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	atexit(remove_dir);
	snprintf(path, sizeof path, "%s/config.json", dir);
	put("corpus.txt", "the quick brown fox jumps over the lazy dog\nsphinx of black quartz, judge my vow\n"
	                  "how vexingly quick daft zebras jump\npack my box with five dozen liquor jugs\n"
	                  "the five boxing wizards jump quickly\njackdaws love my big sphinx of quartz\n");
	char csv[16384] = "a,b,c\n";
	for (int i = 0; i < 200; i++) {
		char row[64];
		snprintf(row, sizeof row, "%d,%d.5,%d\n", i % 7, (i * 3) % 11, i % 2);
		strcat(csv, row);
	}
	put("series.csv", csv);
	put("pairs.tsv", "abc\tcba\nhello\tolleh\nxy\tyx\nreel\tleer\nfuzz\tzzuf\nab\tba\nq\tq\nlong one\teno gnol\n"
	                 "tape\tepat\ngrad\tdarg\n");
	put("labels.tsv", "pos\tgood fun\nneg\tbad dull\npos\tgreat\nneg\tawful thing\npos\tnice one\nneg\tpoor\n"
	                  "pos\tlovely\nneg\tugly\npos\tfine\nneg\tsad\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0])
		setup();
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	reel_model *m = NULL;
	char *errors = NULL;
	reel_err e = {0};
	reel_status st = reel_model_new(path, NULL, 0, &m, &errors, &e);
	if (st != REEL_OK) {
		if (m || e.code == REEL_OK || !e.msg[0])
			abort(); /* a failure leaves no model and says why */
		free(errors);
		return 0;
	}
	free(errors);
	char *txt = reel_cfg_print(m->cfg);
	free(txt);
	/* one training step's forward and backward, for models that fit quickly */
	if (m->est_bytes < 32e6 && m->n_params < 200000) {
		reel_batch b;
		int r = reel_data_next(m->data, REEL_TRAIN, m->train.batch_size, &b, &e);
		if (r == 1) {
			reel_tape *t = reel_tape_new(0, 1);
			if (t) {
				reel_tensor *l = reel_model_loss(t, m, &b, 1.0, 0, NULL);
				if (l)
					reel_backward(t, l);
				reel_tape_free(t);
			}
		}
	}
	reel_model_free(m);
	return 0;
}
