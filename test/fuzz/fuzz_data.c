/* libFuzzer target for the file data readers (make fuzz): text, csv, tsv,
 * labelled and safetensors batches (models/data_file.c).
 *
 * Input: byte 0 chooses the source and its options, byte 1 the sizes
 * (batch, seq_len or window), the rest is the file, written to a temporary
 * file the source is opened on.  An opened source is then used as training
 * uses it: a few batches of every split, the vocabularies, its state JSON
 * and the tokenizer; every batch is checked against what data.h promises
 * (lengths in [1, T], ids inside the vocabulary, labels inside the classes
 * or ignored, finite values), so a reader that accepts something
 * inconsistent aborts here even where ASan sees nothing.  A crash found
 * becomes a regression test in `make test` (suite_faults). */
#include "data.h"

#include <math.h>
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

static void check_at(int ok, int line)
{
	if (!ok) {
		fprintf(stderr, "fuzz_data: the check at test/fuzz/fuzz_data.c:%d failed\n", line);
		abort();
	}
}
#define check(ok) check_at(!!(ok), __LINE__)

static void check_batch(const reel_batch *b, const reel_data_info *in, reel_task_type task, int per_step, int B)
{
	check(b->B >= 1 && b->B <= B);
	if (task == REEL_TASK_SEQ2SEQ) {
		check(b->S >= 1 && b->TT >= 1);
		for (int i = 0; i < b->B; i++) {
			check(b->src_len[i] >= 1 && b->src_len[i] <= b->S);
			for (int s = 0; s < b->S; s++)
				check(b->src[(size_t)s * b->B + i] >= 0 && b->src[(size_t)s * b->B + i] < in->src_vocab);
			for (int s = 0; s < b->TT; s++)
				check(b->tgt[(size_t)s * b->B + i] >= 0 && b->tgt[(size_t)s * b->B + i] < in->tgt_vocab);
		}
		return;
	}
	check(b->T >= 1);
	for (int i = 0; i < b->B; i++)
		check(b->lengths[i] >= 1 && b->lengths[i] <= b->T);
	size_t TB = (size_t)b->T * b->B;
	if (b->tokens)
		for (size_t k = 0; k < TB; k++)
			check(b->tokens[k] >= 0 && b->tokens[k] < in->vocab);
	if (b->inputs)
		for (size_t k = 0; k < TB * (size_t)b->F; k++)
			check(isfinite(b->inputs[k]));
	check(b->tokens || b->inputs);
	if (task == REEL_TASK_CLASSIFY)
		for (int i = 0; i < b->B; i++)
			check(b->labels[i] >= 0 && b->labels[i] < in->classes);
	if (task == REEL_TASK_TAG || task == REEL_TASK_LM)
		for (size_t k = 0; k < TB; k++)
			check(b->labels[k] == REEL_DATA_IGNORE || (b->labels[k] >= 0 && b->labels[k] < in->classes));
	if (task == REEL_TASK_REGRESS) {
		check(b->O >= 1);
		size_t n = (size_t)b->B * b->O * (per_step ? (size_t)b->T : 1);
		for (size_t k = 0; k < n; k++)
			check(isfinite(b->targets[k]));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/reel-fuzz-data-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		atexit(remove_dir);
	}
	uint8_t k = data[0], s = data[1];
	static const char *const ext[] = {"txt", "csv", "tsv", "tsv", "safetensors"};
	static const char *const source[] = {"text", "csv", "tsv", "labelled", "safetensors"};
	int src = (k & 7) % 5;
	snprintf(path, sizeof path, "%s/in.%s", dir, ext[src]);
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	fwrite(data + 2, 1, size - 2, f);
	fclose(f);

	reel_data_opts o = reel_data_defaults();
	o.source = source[src];
	o.path = path;
	o.seed = 1 + (k >> 7);
	o.tokens_words = (k >> 3) & 1;
	o.shuffle = (k >> 4) & 1;
	o.bucket = (k >> 5) & 1;
	int B = 1 + (s & 7), len = 1 + (s >> 3); /* batch 1..8, seq_len/window 1..32 */
	static const reel_task_type file_task[] = {REEL_TASK_CLASSIFY, REEL_TASK_TAG, REEL_TASK_REGRESS, REEL_TASK_LM,
	                                           REEL_TASK_SEQ2SEQ};
	switch (src) {
	case 0: /* text */
		o.task = REEL_TASK_LM;
		o.seq_len = len;
		o.stream = !((k >> 6) & 1);
		break;
	case 1: /* csv */
		o.task = REEL_TASK_REGRESS;
		o.window = len;
		o.horizon = 1 + ((k >> 6) & 1);
		o.header = (k >> 5) & 1;
		o.per_step = (k >> 7) & 1;
		o.normalize = (k >> 4) & 1;
		break;
	case 2: /* tsv */
		o.task = REEL_TASK_SEQ2SEQ;
		break;
	case 3: /* labelled */
		o.task = (k >> 6) & 1 ? REEL_TASK_TAG : REEL_TASK_CLASSIFY;
		break;
	default: /* safetensors batches */
		o.task = file_task[((k >> 5) & 7) % 5];
		o.per_step = (k >> 3) & 1;
		break;
	}
	if ((s >> 7) & 1)
		o.valid_frac = o.test_frac = 0.25;

	reel_err e = {0};
	reel_data *d = reel_data_open(&o, &e);
	if (!d) {
		check(e.code != REEL_OK && e.msg[0]);
		return 0;
	}
	reel_data_info in = reel_data_get_info(d);
	for (int sp = REEL_TRAIN; sp <= REEL_TEST; sp++) {
		for (int i = 0; i < 12; i++) {
			reel_batch b;
			memset(&b, 0, sizeof b);
			int r = reel_data_next(d, (reel_data_split)sp, B, &b, &e);
			check(r >= -1 && r <= 1);
			if (r < 0) {
				check(e.msg[0]);
				break;
			}
			if (r == 1)
				check_batch(&b, &in, o.task, o.per_step, B);
			else if (sp != REEL_TRAIN)
				break;
		}
		reel_data_rewind(d, (reel_data_split)sp);
	}
	for (int id = -1; id < 300; id++) {
		const char *a = reel_data_input_token(d, id), *b = reel_data_output_token(d, id);
		if (a)
			check(strlen(a) < 1u << 20);
		if (b)
			check(strlen(b) < 1u << 20);
	}
	char *st = reel_data_state_json(d);
	free(st);
	if (o.task != REEL_TASK_REGRESS) {
		int32_t *ids = NULL;
		int unk = 0;
		size_t n = size - 2 < 64 ? size - 2 : 64;
		int r = reel_data_encode(d, (const char *)data + 2, n, &ids, &unk, &e);
		check(r >= -1);
		for (int i = 0; i < r; i++)
			check(ids[i] >= 0);
		free(ids);
	}
	reel_data_free(d);
	return 0;
}
