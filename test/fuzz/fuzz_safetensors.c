/* libFuzzer target for the safetensors reader (make fuzz).  Every input is
 * parsed from memory; an accepted file is then used the way the engine uses
 * one (every tensor found by name and converted, metadata looked up), so a
 * reader that accepts something inconsistent shows up as an ASan or UBSan
 * report.  A crash found here becomes a file in the seed corpus, which
 * `make test` reads (suite_safetensors). */
#include "safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	reel_st_file *f = NULL;
	reel_err e = {0};
	if (reel_st_read_mem("fuzz", data, size, &f, &e) != REEL_OK) {
		if (f || e.code == REEL_OK || !e.msg[0])
			abort(); /* a failure must leave no file and say why */
		for (const char *c = e.msg; *c; c++)
			if ((unsigned char)*c < 0x20)
				abort(); /* file bytes must reach messages escaped */
		return 0;
	}
	for (int i = 0; i < reel_st_count(f); i++) {
		const reel_st_tensor *t = reel_st_at(f, i);
		if (reel_st_find(f, t->name) != t)
			abort(); /* names are unique */
		size_t n = t->count < 4096 ? t->count : 4096;
		reel_st_tensor head = *t;
		head.count = n; /* convert at most 4096 elements: a big tensor is slow, not wrong */
		double *d = malloc((n ? n : 1) * sizeof *d);
		int32_t *k = malloc((n ? n : 1) * sizeof *k);
		reel_real *r = malloc((n ? n : 1) * sizeof *r);
		if (d && k && r) {
			reel_st_to_double(&head, d);
			reel_st_to_i32(&head, k);
			reel_st_to_real(&head, r);
		}
		if (t->count && d) { /* and the last element, so the whole claimed range is touched */
			reel_st_tensor tail = *t;
			size_t es = t->dtype == REEL_F64 || t->dtype == REEL_I64 ? 8 : 4;
			tail.bytes = t->bytes + (t->count - 1) * es;
			tail.count = 1;
			reel_st_to_double(&tail, d);
		}
		free(d);
		free(k);
		free(r);
	}
	reel_st_meta(f, "config");
	reel_st_free(f);
	return 0;
}
