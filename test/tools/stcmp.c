/* stcmp A B [--rtol R] [--atol A] [--prefix P] [--skip S]: compare the tensors of two
 * safetensors files (the MPI test: parameters trained by 1 and by N
 * processes).  Every tensor of A (whose name starts with P, when given)
 * but those starting with S must be in B with the same element count.  An element pair (a, b) is
 * equal when |a - b| <= atol + rtol * max(|a|, |b|).  Prints the tensors
 * compared, the elements that differ at all (bitwise), the largest
 * relative difference max |a - b| / max(|a|, |b|) and the largest absolute
 * one; exits 0 when every pair is equal within the tolerance, 1 if not,
 * 2 on bad usage or an unreadable file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int main(int argc, char **argv)
{
	double rtol = 0, atol = 0;
	const char *prefix = "", *skip = NULL;
	if (argc < 3) {
		fprintf(stderr, "usage: stcmp A B [--rtol R] [--atol A] [--prefix P] [--skip S]\n");
		return 2;
	}
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rtol"))
			rtol = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--atol"))
			atol = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--prefix"))
			prefix = argv[i + 1];
		else if (!strcmp(argv[i], "--skip"))
			skip = argv[i + 1];
		else {
			fprintf(stderr, "stcmp: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	reel_err err = {0};
	reel_st_file *a = NULL, *b = NULL;
	if (reel_st_read(argv[1], &a, &err) != REEL_OK || reel_st_read(argv[2], &b, &err) != REEL_OK) {
		fprintf(stderr, "stcmp: %s\n", err.msg);
		reel_st_free(a);
		return 2;
	}
	int tensors = 0, bad = 0;
	size_t elems = 0, differ = 0;
	double max_rel = 0, max_abs = 0;
	char worst[128] = "";
	for (int i = 0; i < reel_st_count(a); i++) {
		const reel_st_tensor *ta = reel_st_at(a, i), *tb = reel_st_find(b, ta->name);
		if (strncmp(ta->name, prefix, strlen(prefix)) || (skip && !strncmp(ta->name, skip, strlen(skip))))
			continue;
		tensors++;
		if (!tb || tb->count != ta->count) {
			printf("stcmp: %s: %s in %s\n", ta->name, tb ? "another size" : "missing", argv[2]);
			bad++;
			continue;
		}
		double *x = malloc((ta->count + 1) * sizeof *x), *y = malloc((ta->count + 1) * sizeof *y);
		if (!x || !y) {
			fprintf(stderr, "stcmp: out of memory\n");
			return 2;
		}
		reel_st_to_double(ta, x);
		reel_st_to_double(tb, y);
		for (size_t k = 0; k < ta->count; k++) {
			double d = fabs(x[k] - y[k]), m = fmax(fabs(x[k]), fabs(y[k]));
			elems++;
			if (x[k] != y[k] || isnan(d))
				differ++;
			if (!(d <= atol + rtol * m)) {
				if (bad < 5)
					printf("stcmp: %s[%zu]: %.17g vs %.17g\n", ta->name, k, x[k], y[k]);
				bad++;
			}
			if (m > 0 && d / m > max_rel) {
				max_rel = d / m;
				snprintf(worst, sizeof worst, "%s[%zu]", ta->name, k);
			}
			max_abs = fmax(max_abs, d);
		}
		free(x);
		free(y);
	}
	printf("stcmp: %d tensors, %zu elements, %zu differ bitwise; max relative difference %.3g%s%s%s, max absolute "
	       "%.3g; %s (rtol %g, atol %g)\n",
	       tensors, elems, differ, max_rel, *worst ? " (" : "", worst, *worst ? ")" : "", max_abs,
	       bad ? "NOT equal" : "equal", rtol, atol);
	reel_st_free(a);
	reel_st_free(b);
	return bad || !tensors ? 1 : 0;
}
