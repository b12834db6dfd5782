/* stcmp: compare two safetensors files tensor by tensor (for test/interop.sh,
 * so that `make test` compares reel's output with PyTorch's fixtures without
 * Python).
 *
 *   stcmp GOT EXPECTED [--rtol R] [--atol A] [--subset] [--skip PREFIX]
 *
 * (also test/mpi.sh: parameters trained by 1 and by N processes, --skip optim.)
 * Both files must hold the same tensor names (--subset: GOT may hold more,
 * e.g. a checkpoint's optimizer moments; --skip: tensors whose names start
 * with PREFIX are left out in both) with the same shapes; every
 * element must satisfy |got - expected| <= atol + rtol * |expected| (defaults
 * rtol 1e-10, atol 0).  Prints one line per tensor with its worst element,
 * then the worst tensor overall; exit 0 when all match, 1 on a mismatch, 2 on
 * bad usage or an unreadable file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reel.h"

static int is_real(const reel_st_tensor *t)
{
	return t->dtype == REEL_F32 || t->dtype == REEL_F64;
}

static void shape_str(const reel_st_tensor *t, char *out, size_t n)
{
	size_t l = 0;
	out[0] = 0;
	if (t->ndim == 0)
		snprintf(out, n, "scalar");
	for (int d = 0; d < t->ndim && l + 24 < n; d++)
		l += (size_t)snprintf(out + l, n - l, "%s%lld", d ? "x" : "", (long long)t->shape[d]);
}

static int parse_real(const char *s, double *v)
{
	char *end;
	*v = strtod(s, &end);
	return end != s && !*end && *v >= 0 && isfinite(*v);
}

int main(int argc, char **argv)
{
	const char *paths[2] = {0};
	int np = 0, subset = 0;
	const char *skip = NULL;
	double rtol = 1e-10, atol = 0;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "--rtol") || !strcmp(argv[i], "--atol")) && i + 1 < argc) {
			if (!parse_real(argv[i + 1], argv[i][2] == 'r' ? &rtol : &atol)) {
				fprintf(stderr, "stcmp: %s: expected a non-negative number, found \"%s\"\n", argv[i], argv[i + 1]);
				return 2;
			}
			i++;
		} else if (!strcmp(argv[i], "--subset")) {
			subset = 1;
		} else if (!strcmp(argv[i], "--skip") && i + 1 < argc) {
			skip = argv[++i];
		} else if (np < 2 && argv[i][0] != '-') {
			paths[np++] = argv[i];
		} else {
			np = 3;
			break;
		}
	}
	if (np != 2) {
		fprintf(stderr, "usage: stcmp GOT EXPECTED [--rtol R] [--atol A] [--subset] [--skip PREFIX]\n");
		return 2;
	}
	reel_st_file *f[2] = {0};
	for (int k = 0; k < 2; k++) {
		reel_err err = {0};
		if (reel_st_read(paths[k], &f[k], &err) != REEL_OK) {
			fprintf(stderr, "stcmp: %s\n", err.msg);
			reel_st_free(f[0]);
			return 2;
		}
	}
	int bad = 0, n = 0;
	double worst_ratio = -1, worst_rel = 0;
	char worst[320] = "";
	/* the same names in both files */
	for (int k = subset; k < 2; k++)
		for (int i = 0; i < reel_st_count(f[k]); i++) {
			const reel_st_tensor *t = reel_st_at(f[k], i);
			if (skip && !strncmp(t->name, skip, strlen(skip)))
				continue;
			if (!reel_st_find(f[1 - k], t->name)) {
				printf("  %s: only in %s\n", t->name, paths[k]);
				bad++;
			}
		}
	for (int i = 0; i < reel_st_count(f[1]); i++) {
		const reel_st_tensor *e = reel_st_at(f[1], i), *g = reel_st_find(f[0], e->name);
		if (!g || (skip && !strncmp(e->name, skip, strlen(skip))))
			continue;
		char se[64], sg[64];
		shape_str(e, se, sizeof se);
		shape_str(g, sg, sizeof sg);
		if (strcmp(se, sg) || !is_real(e) || !is_real(g)) {
			printf("  %s: %s %s in %s, %s %s expected\n", e->name, sg, is_real(g) ? "" : "(not F32/F64)", paths[0], se,
			       is_real(e) ? "" : "(not F32/F64)");
			bad++;
			continue;
		}
		n++;
		size_t cnt = e->count;
		double *a = malloc((cnt ? cnt : 1) * sizeof *a), *b = malloc((cnt ? cnt : 1) * sizeof *b);
		if (!a || !b) {
			fprintf(stderr, "stcmp: out of memory\n");
			return 2;
		}
		reel_st_to_double(g, a);
		reel_st_to_double(e, b);
		double t_ratio = 0, t_rel = 0;
		size_t t_at = 0;
		int t_bad = 0;
		for (size_t j = 0; j < cnt; j++) {
			double d = fabs(a[j] - b[j]), lim = atol + rtol * fabs(b[j]);
			double ratio = d == 0 ? 0 : lim > 0 ? d / lim : INFINITY;
			double rel = d == 0 ? 0 : d / fmax(fabs(a[j]), fabs(b[j]));
			if (isnan(d))
				ratio = rel = INFINITY;
			if (ratio > 1)
				t_bad++;
			if (ratio > t_ratio || (j == 0 && ratio == 0)) {
				t_ratio = ratio;
				t_at = j;
			}
			if (rel > t_rel)
				t_rel = rel;
		}
		char line[320];
		snprintf(line, sizeof line, "%s[%zu]: got %.17g, expected %.17g (relative error %.3g)", e->name, t_at,
		         cnt ? a[t_at] : 0.0, cnt ? b[t_at] : 0.0, t_rel);
		printf("  %-40s %6zu elements, worst relative error %.3e%s\n", e->name, cnt, t_rel,
		       t_bad ? "  FAILED" : "");
		if (t_bad) {
			printf("    %zu element%s over %g + %g |expected|; worst %s\n", (size_t)t_bad, t_bad == 1 ? "" : "s", atol,
			       rtol, line);
			bad++;
		}
		if (t_ratio > worst_ratio) {
			worst_ratio = t_ratio;
			snprintf(worst, sizeof worst, "%s", line);
		}
		if (t_rel > worst_rel)
			worst_rel = t_rel;
		free(a);
		free(b);
	}
	printf("stcmp: %d tensors compared, tolerance %g + %g |expected|, worst relative error %.3e; worst element %s\n", n,
	       atol, rtol, worst_rel, worst);
	printf(bad ? "stcmp: %d tensor%s FAILED\n" : "stcmp: every tensor matches\n", bad, bad == 1 ? "" : "s");
	reel_st_free(f[0]);
	reel_st_free(f[1]);
	return bad ? 1 : 0;
}
