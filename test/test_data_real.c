/* The readers of the real data sets (models/data_idx.c): the idx source
 * (images row by row, labels, splits, the official test files) and every
 * error of a malformed idx file with its offset; gzip and dictzip'd files
 * read through zlib by every file source (a gzipped text gives the same
 * batches as the plain one; concatenated members; corrupt and truncated
 * streams).  Every file is written by the test. */
#include "harness.h"

#include "baseline.h"
#include "data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static const char *tmp(const char *name)
{
	static char buf[8][256];
	static int k;
	k = (k + 1) % 8;
	snprintf(buf[k], sizeof buf[k], "build/test-%d-%s", (int)getpid(), name);
	return buf[k];
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(p, 1, n, f);
		fclose(f);
	}
}

static void write_gz(const char *path, const void *p, size_t n)
{
	gzFile g = gzopen(path, "wb");
	if (g) {
		gzwrite(g, p, (unsigned)n);
		gzclose(g);
	}
}

/* The bytes of a file (malloc'd, *n its size), NULL if unreadable. */
static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	unsigned char *b = malloc(1 << 20);
	*n = b ? fread(b, 1, 1 << 20, f) : 0;
	fclose(f);
	return b;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* An idx image file of n images of r x c (pixel k of image i = (i * 7 + k) % 256)
 * into buf; returns its size. */
static size_t idx_images(unsigned char *buf, int n, int r, int c)
{
	buf[0] = buf[1] = 0;
	buf[2] = 0x08;
	buf[3] = 3;
	put32(buf + 4, (uint32_t)n);
	put32(buf + 8, (uint32_t)r);
	put32(buf + 12, (uint32_t)c);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < r * c; k++)
			buf[16 + (size_t)i * r * c + k] = (unsigned char)((i * 7 + k) % 256);
	return 16 + (size_t)n * r * c;
}

static size_t idx_labels(unsigned char *buf, int n, const unsigned char *lab)
{
	buf[0] = buf[1] = 0;
	buf[2] = 0x08;
	buf[3] = 1;
	put32(buf + 4, (uint32_t)n);
	memcpy(buf + 8, lab, (size_t)n);
	return 8 + (size_t)n;
}

static reel_data_opts idx_opts(const char *im, const char *lb)
{
	reel_data_opts o = reel_data_defaults();
	o.source = "idx";
	o.task = REEL_TASK_CLASSIFY;
	o.images = im;
	o.labels = lb;
	o.valid_frac = 0.2;
	o.test_frac = 0.2;
	o.shuffle = 0;
	return o;
}

static void expect_fail(const reel_data_opts *o, reel_status code, const char *n1, const char *n2, const char *what)
{
	reel_err e = {0};
	reel_data *d = reel_data_open(o, &e);
	CHECK(d == NULL && e.code == code, "%s: expected %s, got %s (%s)", what, reel_status_name(code),
	      d ? "success" : reel_status_name(e.code), e.msg);
	CHECK((!n1 || strstr(e.msg, n1)) && (!n2 || strstr(e.msg, n2)), "%s: message \"%s\" lacks \"%s\" / \"%s\"", what,
	      e.msg, n1 ? n1 : "", n2 ? n2 : "");
	reel_data_free(d);
}

static void idx_source(void)
{
	th_case("idx: images row by row, labels, splits");
	unsigned char im[16 + 10 * 12], lb[8 + 10], lab[10] = {3, 1, 0, 2, 1, 3, 0, 2, 1, 0};
	size_t nim = idx_images(im, 10, 3, 4), nlb = idx_labels(lb, 10, lab);
	const char *pi = tmp("im.idx"), *pl = tmp("lb.idx.gz"), *ti = tmp("tim.idx.gz"), *tl = tmp("tlb.idx");
	write_bytes(pi, im, nim);
	write_gz(pl, lb, nlb); /* one plain, one gzipped: both read */
	reel_data_opts o = idx_opts(pi, pl);
	reel_err e = {0};
	reel_data *d = reel_data_open(&o, &e);
	CHECK(d != NULL, "open: %s", e.msg);
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		CHECK(!in.tokens_in && in.features == 4 && in.max_len == 3 && in.classes == 4, "info: features %d, T %d, classes %d",
		      in.features, in.max_len, in.classes);
		CHECK(in.n[0] == 6 && in.n[1] == 2 && in.n[2] == 2, "splits %ld %ld %ld", in.n[0], in.n[1], in.n[2]);
		reel_batch b;
		int r = reel_data_next(d, REEL_TRAIN, 4, &b, &e);
		CHECK(r == 1 && b.B == 4 && b.T == 3 && b.F == 4 && b.inputs && b.labels, "batch shape B %d T %d F %d", b.B, b.T, b.F);
		if (r == 1) {
			int ok = 1;
			/* time-major (T, B, F): step t of example i is row t of image i */
			for (int t = 0; t < 3; t++)
				for (int i = 0; i < 4; i++)
					for (int f = 0; f < 4; f++)
						ok &= fabs((double)b.inputs[((size_t)t * 4 + i) * 4 + f] -
						           (double)((i * 7 + t * 4 + f) % 256) / 255) < 1e-6;
			CHECK(ok, "pixels scaled to [0, 1], row t at step t");
			CHECK(b.labels[0] == 3 && b.labels[1] == 1 && b.labels[3] == 2 && b.lengths[0] == 3, "labels in order");
		}
		/* valid: images 6 and 7; test: 8 and 9 */
		r = reel_data_next(d, REEL_TEST, 4, &b, &e);
		CHECK(r == 1 && b.B == 2 && b.labels[0] == 1 && b.labels[1] == 0 &&
		          fabs((double)b.inputs[0] - (8 * 7 % 256) / 255.0) < 1e-6,
		      "test split is the end of the file");
		reel_data_free(d);
	}

	th_case("idx: the official test files");
	unsigned char tim[16 + 3 * 12], tlb[8 + 3], tlab[3] = {2, 2, 0};
	write_gz(ti, tim, idx_images(tim, 3, 3, 4));
	write_bytes(tl, tlb, idx_labels(tlb, 3, tlab));
	o.test_images = ti;
	o.test_labels = tl;
	o.valid_frac = 0.1;
	d = reel_data_open(&o, &e);
	CHECK(d != NULL, "open with test files: %s", e.msg);
	if (d) {
		reel_data_info in = reel_data_get_info(d);
		CHECK(in.n[0] == 9 && in.n[1] == 1 && in.n[2] == 3, "test from its files, test_frac unused: %ld %ld %ld", in.n[0],
		      in.n[1], in.n[2]);
		reel_data_free(d);
	}

	th_case("idx: errors name the file and the offset");
	o = idx_opts(pi, pl);
	unsigned char bad[sizeof im];
	const char *pb = tmp("bad.idx");
	memcpy(bad, im, nim);
	bad[0] = 0x1e;
	write_bytes(pb, bad, nim);
	o.images = pb;
	expect_fail(&o, REEL_ERR_IO, "bad.idx: offset 0: expected the idx magic number 00 00 08 03", "not an idx file",
	            "bad magic");
	memcpy(bad, im, nim);
	bad[2] = 0x0d;
	write_bytes(pb, bad, nim);
	expect_fail(&o, REEL_ERR_IO, "bad.idx: offset 2: expected data type 0x08 (unsigned byte), found 0x0d", NULL,
	            "float data");
	memcpy(bad, im, nim);
	bad[3] = 2;
	write_bytes(pb, bad, nim);
	expect_fail(&o, REEL_ERR_IO, "bad.idx: offset 3: expected 3 dimensions (images, rows, columns), found 2", NULL,
	            "dimensions");
	write_bytes(pb, im, nim - 5);
	expect_fail(&o, REEL_ERR_IO, "bad.idx: offset 16: expected 120 bytes of data after the header, found 115 (truncated)",
	            NULL, "truncated");
	memcpy(bad, im, nim);
	write_bytes(pb, bad, 10);
	expect_fail(&o, REEL_ERR_IO, "bad.idx: offset 10: expected 3 dimension sizes, found the end of the file", NULL,
	            "header cut");
	memcpy(bad, im, nim);
	put32(bad + 8, 0);
	write_bytes(pb, bad, nim);
	expect_fail(&o, REEL_ERR_IO, "bad.idx: offset 8: expected a size in [1, 65536] for dimension 1, found 0", NULL,
	            "zero rows");
	{
		unsigned char big[sizeof im + 3];
		memcpy(big, im, nim);
		big[nim] = big[nim + 1] = big[nim + 2] = 1;
		write_bytes(pb, big, nim + 3);
		expect_fail(&o, REEL_ERR_IO, "found 123 (trailing bytes)", NULL, "trailing bytes");
	}
	o.images = pi;
	o.labels = tl; /* 3 labels for 10 images */
	expect_fail(&o, REEL_ERR_IO, "tlb.idx: offset 4: expected 10 labels", "found 3", "count mismatch");
	o.labels = pi; /* an image file as labels */
	expect_fail(&o, REEL_ERR_IO, "im.idx: offset 3: expected 1 dimension (labels), found 3", NULL, "images as labels");
	{
		unsigned char lb2[8 + 10], lab2[10] = {0, 1, 0, 1, 0, 1, 0, 7, 1, 0};
		const char *p2 = tmp("lb2.idx");
		write_bytes(p2, lb2, idx_labels(lb2, 10, lab2));
		o.labels = p2;
		expect_fail(&o, REEL_ERR_CONFIG, "lb2.idx: offset 15: label 7 is not among the training labels (0..1)", NULL,
		            "unseen label");
		unlink(p2);
	}
	o.labels = tmp("missing.idx");
	expect_fail(&o, REEL_ERR_IO, "missing.idx: cannot open", NULL, "missing file");
	o.labels = NULL;
	expect_fail(&o, REEL_ERR_CONFIG, "source idx needs both images and labels", NULL, "no labels");
	o = idx_opts(pi, pl);
	o.task = REEL_TASK_TAG;
	expect_fail(&o, REEL_ERR_CONFIG, "source idx gives task classify", NULL, "wrong task");
	o = idx_opts(pi, pl);
	o.test_labels = tl;
	expect_fail(&o, REEL_ERR_CONFIG, "test_labels given without test_images", NULL, "half a test pair");
	o = idx_opts(pi, pl);
	o.test_images = tmp("tim2.idx");
	o.test_labels = tl;
	{
		unsigned char t2[16 + 3 * 10];
		write_bytes(o.test_images, t2, idx_images(t2, 3, 2, 5));
		o.test_labels = tl;
		expect_fail(&o, REEL_ERR_IO, "offset 8: expected images of 3x4", "found 2x5", "test images of another size");
		unlink(o.test_images);
	}
	unlink(pb);
	unlink(pi);
	unlink(pl);
	unlink(ti);
	unlink(tl);
}

static void gzip_files(void)
{
	th_case("gzip: a gzipped text gives the plain text's batches");
	static const char text[] = "ABASEMENT, n.  A decent and customary mental attitude in the presence\n"
	                           "of wealth of power.  Peculiarly appropriate in an employee when\n"
	                           "addressing an employer.\n";
	const char *pp = tmp("plain.txt"), *pg = tmp("text.dz"), *pc = tmp("cat.gz"), *pa = tmp("a.gz"), *pbz = tmp("b.gz");
	write_bytes(pp, text, sizeof text - 1);
	write_gz(pg, text, sizeof text - 1);
	/* two gzip members one after the other, as `cat a.gz b.gz` makes */
	write_gz(pa, text, 50);
	write_gz(pbz, text + 50, sizeof text - 1 - 50);
	size_t na = 0, nb = 0;
	unsigned char *ba = slurp(pa, &na), *bb = slurp(pbz, &nb);
	if (ba && bb) {
		unsigned char *cat = malloc(na + nb);
		if (cat) {
			memcpy(cat, ba, na);
			memcpy(cat + na, bb, nb);
			write_bytes(pc, cat, na + nb);
			free(cat);
		}
	}
	const char *paths[3] = {pp, pg, pc};
	uint64_t sum[3] = {0, 0, 0};
	int vocab[3] = {0, 0, 0};
	for (int k = 0; k < 3; k++) {
		reel_data_opts o = reel_data_defaults();
		o.source = "text";
		o.task = REEL_TASK_LM;
		o.path = paths[k];
		o.seq_len = 8;
		o.valid_frac = o.test_frac = 0.1;
		reel_err e = {0};
		reel_data *d = reel_data_open(&o, &e);
		CHECK(d != NULL, "%s: %s", paths[k], e.msg);
		if (!d)
			continue;
		vocab[k] = reel_data_get_info(d).vocab;
		reel_batch b;
		while (reel_data_next(d, REEL_TRAIN, 4, &b, &e) == 1)
			for (int i = 0; i < b.T * b.B; i++)
				sum[k] = sum[k] * 31 + (uint64_t)b.tokens[i] * 7 + (uint64_t)b.labels[i];
		reel_data_free(d);
	}
	CHECK(sum[0] && sum[0] == sum[1] && vocab[0] == vocab[1], "gzip: same batches and vocabulary as plain");
	CHECK(sum[0] == sum[2] && vocab[0] == vocab[2], "concatenated gzip members: same batches as plain");

	th_case("gzip: corrupt and truncated streams are errors with the offset");
	size_t ng = 0;
	unsigned char *bg = slurp(pg, &ng);
	const char *px = tmp("broken.gz");
	reel_data_opts o = reel_data_defaults();
	o.source = "text";
	o.task = REEL_TASK_LM;
	o.path = px;
	if (bg && ng > 30) {
		write_bytes(px, bg, ng - 12);
		expect_fail(&o, REEL_ERR_IO, "broken.gz: offset", "expected more gzip data, found the end of the file (truncated)",
		            "truncated gzip");
		bg[12] ^= 0xff;
		bg[13] ^= 0xff;
		bg[14] ^= 0x55;
		write_bytes(px, bg, ng);
		expect_fail(&o, REEL_ERR_IO, "broken.gz: offset", "corrupt gzip data (zlib: ", "corrupt gzip");
	}
	write_gz(px, "", 0);
	expect_fail(&o, REEL_ERR_IO, "broken.gz: the file is empty (after decompression)", NULL, "empty gzip");
	free(ba);
	free(bb);
	free(bg);
	unlink(pp);
	unlink(pg);
	unlink(pc);
	unlink(pa);
	unlink(pbz);
	unlink(px);
}

/* sin(w t) is exactly AR(2): x(t) = 2 cos(w) x(t - 1) - x(t - 2); its
 * one-step persistence error in z-scores is 2 (1 - cos w) (the mean square
 * of x(t) - x(t - 1) = 2 sin(w / 2) cos(...) is 2 sin^2(w / 2), the
 * variance 1/2). */
static void baselines(void)
{
	th_case("baseline: persistence and AR on a sine");
	const char *csv = tmp("sine.csv"), *cfg = tmp("sine.json");
	FILE *f = fopen(csv, "w");
	if (f) {
		fprintf(f, "x\n");
		for (int t = 0; t < 2000; t++)
			fprintf(f, "%.12f\n", sin(0.3 * t));
		fclose(f);
	}
	char text[1024];
	snprintf(text, sizeof text,
	         "{\"format\": 1, \"task\": \"regress\", \"data\": {\"source\": \"csv\", \"path\": \"%s\", "
	         "\"window\": 8, \"horizon\": 1}, \"model\": [{\"type\": \"gru\", \"hidden_size\": 4}, "
	         "{\"type\": \"pool\", \"mode\": \"last\"}, {\"type\": \"linear\", \"out_features\": \"auto\"}]}",
	         strrchr(csv, '/') + 1);
	f = fopen(cfg, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	reel_model *m = NULL;
	char *errors = NULL;
	reel_err e = {0};
	CHECK(reel_model_new(cfg, NULL, 0, &m, &errors, &e) == REEL_OK, "model: %s %s", e.msg, errors ? errors : "");
	free(errors);
	if (m) {
		reel_baseline_report r;
		CHECK(reel_baseline_series(m, 2, REEL_TEST, &r, &e) == REEL_OK, "AR(2): %s", e.msg);
		double want = 2 * (1 - cos(0.3));
		CHECK(fabs(r.mse_persistence - want) < 0.01 * want, "persistence mse %g, expected about %g", r.mse_persistence,
		      want);
		CHECK(r.order == 2 && r.mse_ar < 1e-6, "AR(2) fits a sine exactly: mse %g", r.mse_ar);
		CHECK(reel_baseline_series(m, 1, REEL_TEST, &r, &e) == REEL_OK && r.mse_ar > 1e-3, "AR(1) cannot: mse %g",
		      r.mse_ar);
		CHECK(reel_baseline_series(m, 0, REEL_TEST, &r, &e) == REEL_OK && r.order >= 2 && r.mse_ar < 1e-6,
		      "order chosen on validation: %d (mse %g)", r.order, r.mse_ar);
		CHECK(reel_baseline_series(m, 9, REEL_TEST, &r, &e) == REEL_ERR_ARG &&
		          strstr(e.msg, "AR order 9 exceeds the window (8)"),
		      "order above the window: %s", e.msg);
		reel_model_free(m);
	}
	unlink(csv);
	unlink(cfg);
}

void suite_data_real(void)
{
	idx_source();
	gzip_files();
	baselines();
}
