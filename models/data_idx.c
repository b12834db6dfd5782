/* The idx data source (data.h, "idx") and gzip decompression for every
 * file reader (data_file.c reads gzipped files transparently through
 * reel__gunzip).
 *
 * idx is the format of MNIST and Fashion-MNIST (LeCun et al., "THE MNIST
 * DATABASE of handwritten digits"): a 4-byte magic number (two zero bytes,
 * a data type, the number of dimensions), the dimensions as big-endian
 * 32-bit sizes, then the values row-major.  Images are unsigned bytes of
 * (N, rows, cols), labels unsigned bytes of (N).  Each image becomes one
 * sequence of `rows` steps of `cols` features scaled to [0, 1] (pixel /
 * 255): the row-by-row reading of sequential (Fashion-)MNIST.  Every
 * malformed file is an error "path: offset K: expected ..., found ..."
 * naming the byte at which the file stops making sense. */
#include "data_internal.h"

#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- gzip ------------------------------------------------------------------ */

int reel__gunzip(const char *path, char **buf, size_t *len, reel_err *err)
{
	const unsigned char *in = (const unsigned char *)*buf;
	size_t n_in = *len, cap = 0, n_out = 0;
	char *out = NULL;
	if (n_in > SIZE_MAX / 4 - 1 || reel__grow(&out, &cap, n_in * 4 + 1, 1))
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory decompressing", path), -1;
	z_stream z;
	memset(&z, 0, sizeof z);
	/* 16 + MAX_WBITS: a gzip wrapper (dictzip's extra field included) */
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		free(out);
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: cannot start zlib", path), -1;
	}
	size_t pos = 0;
	int rc = -1;
	for (;;) {
		/* feed at most UINT_MAX bytes at a time: zlib counts in unsigned */
		if (!z.avail_in && pos < n_in) {
			z.next_in = (unsigned char *)(in + pos);
			z.avail_in = (unsigned)(n_in - pos > UINT_MAX ? UINT_MAX : n_in - pos);
			pos += z.avail_in;
		}
		if (n_out + 1 >= cap) {
			size_t want = cap * 2;
			if (want < cap || reel__grow(&out, &cap, want, 1)) {
				reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory decompressing", path);
				goto done;
			}
		}
		size_t room = cap - 1 - n_out;
		z.next_out = (unsigned char *)out + n_out;
		z.avail_out = (unsigned)(room > UINT_MAX ? UINT_MAX : room);
		unsigned before = z.avail_out;
		int zr = inflate(&z, Z_NO_FLUSH);
		n_out += before - z.avail_out;
		size_t at = pos - z.avail_in; /* compressed bytes consumed */
		if (zr == Z_STREAM_END) {
			if (at == n_in)
				break;
			/* another gzip member follows (concatenated files) */
			if (inflateReset(&z) != Z_OK)
				goto corrupt;
			continue;
		}
		if (zr == Z_BUF_ERROR && !z.avail_in && pos == n_in) {
			reel_err_set(err, REEL_ERR_IO, "%s: offset %zu: expected more gzip data, found the end of the file (truncated)",
			             path, at);
			goto done;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
		corrupt:
			reel_err_set(err, REEL_ERR_IO, "%s: offset %zu: corrupt gzip data (zlib: %s)", path, at,
			             z.msg ? z.msg : "error");
			goto done;
		}
	}
	out[n_out] = 0;
	free(*buf);
	*buf = out;
	*len = n_out;
	out = NULL;
	rc = 0;
done:
	inflateEnd(&z);
	free(out);
	return rc;
}

/* ---- idx ------------------------------------------------------------------- */

typedef struct idx_file {
	reel__dfile f;
	int ndim;
	size_t dim[3];
	const unsigned char *data; /* the values, after the header */
} idx_file;

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read an idx file of unsigned bytes with ndim dimensions (what names
 * them for messages) and check that its size is exactly the header's. */
static int idx_read(idx_file *x, const char *dir, const char *path, int ndim, const char *what, reel_err *err)
{
	memset(x, 0, sizeof *x);
	if (reel__dfile_read(&x->f, dir, path, err))
		return -1;
	const unsigned char *b = (const unsigned char *)x->f.buf;
	size_t n = x->f.len, head = 4 + 4 * (size_t)ndim;
	const char *p = x->f.path;
	if (n < 4 || b[0] || b[1]) {
		reel_err_set(err, REEL_ERR_IO, "%s: offset 0: expected the idx magic number 00 00 08 %02x (%s), found %s", p,
		             ndim, what, n < 4 ? "a file shorter than 4 bytes" : "other bytes (not an idx file)");
		return -1;
	}
	if (b[2] != 0x08) {
		reel_err_set(err, REEL_ERR_IO, "%s: offset 2: expected data type 0x08 (unsigned byte), found 0x%02x", p, b[2]);
		return -1;
	}
	if (b[3] != ndim) {
		reel_err_set(err, REEL_ERR_IO, "%s: offset 3: expected %d dimension%s (%s), found %d", p, ndim,
		             ndim == 1 ? "" : "s", what, b[3]);
		return -1;
	}
	if (n < head) {
		reel_err_set(err, REEL_ERR_IO, "%s: offset %zu: expected %d dimension sizes, found the end of the file", p, n,
		             ndim);
		return -1;
	}
	size_t total = 1;
	for (int i = 0; i < ndim; i++) {
		uint32_t v = be32(b + 4 + 4 * i);
		if (v < 1 || v > INT_MAX / 2 || (i && v > 65536)) {
			reel_err_set(err, REEL_ERR_IO, "%s: offset %d: expected a size in [1, %d] for dimension %d, found %lu", p,
			             4 + 4 * i, i ? 65536 : INT_MAX / 2, i, (unsigned long)v);
			return -1;
		}
		x->dim[i] = v;
		if (reel__mul(total, v, &total))
			return reel_err_set(err, REEL_ERR_IO, "%s: dimensions too large", p), -1;
	}
	x->ndim = ndim;
	if (n - head != total) {
		reel_err_set(err, REEL_ERR_IO, "%s: offset %zu: expected %zu bytes of data after the header, found %zu (%s)", p,
		             head, total, n - head, n - head < total ? "truncated" : "trailing bytes");
		return -1;
	}
	x->data = b + head;
	return 0;
}

/* Append images [lo, hi) of im with their labels to set; labels must be
 * below classes (classes 0: no check). */
static int idx_add(reel__exset *set, const idx_file *im, const idx_file *lb, size_t lo, size_t hi, int classes,
                   reel_err *err)
{
	size_t rows = im->dim[1], cols = im->dim[2], per = rows * cols, need;
	if (reel__mul(hi - lo, per, &need) || set->nx + need < set->nx ||
	    reel__grow(&set->x, &set->capx, set->nx + need, sizeof *set->x))
		return reel_err_set(err, REEL_ERR_NOMEM, "data: idx: out of memory for %zu images", hi - lo), -1;
	for (size_t k = lo; k < hi; k++) {
		int label = lb->data[k];
		if (classes && label >= classes) {
			reel_err_set(err, REEL_ERR_CONFIG, "%s: offset %zu: label %d is not among the training labels (0..%d)",
			             lb->f.path, 8 + k, label, classes - 1);
			return -1;
		}
		reel__ex *e = reel__exset_add(set);
		if (!e)
			return reel_err_set(err, REEL_ERR_NOMEM, "data: idx: out of memory"), -1;
		e->in = set->nx;
		e->len = (int)rows;
		e->label = label;
		const unsigned char *px = im->data + k * per;
		for (size_t i = 0; i < per; i++)
			set->x[set->nx + i] = (reel_real)px[i] / (reel_real)255;
		set->nx += per;
	}
	set->max_len = (int)rows;
	return 0;
}

/* Images and labels of one pair of files, counts and image sizes checked. */
static int idx_pair(idx_file *im, idx_file *lb, const char *dir, const char *images, const char *labels, reel_err *err)
{
	if (!images || !*images || !labels || !*labels)
		return reel_err_set(err, REEL_ERR_CONFIG, "data: source idx needs both images and labels"), -1;
	if (idx_read(im, dir, images, 3, "images, rows, columns", err) || idx_read(lb, dir, labels, 1, "labels", err))
		return -1;
	if (im->dim[0] != lb->dim[0]) {
		reel_err_set(err, REEL_ERR_IO, "%s: offset 4: expected %zu labels (as %s has images), found %zu", lb->f.path,
		             im->dim[0], im->f.path, lb->dim[0]);
		return -1;
	}
	return 0;
}

int reel__idx_open(reel_data *d, const reel_data_opts *o, reel_err *err)
{
	if (d->task != REEL_TASK_CLASSIFY)
		return reel__task_mismatch(d, "classify", err), -1;
	idx_file im[2], lb[2];
	memset(im, 0, sizeof im);
	memset(lb, 0, sizeof lb);
	int rc = -1, own_test = o->test_images && *o->test_images;
	if (!own_test && o->test_labels && *o->test_labels) {
		reel_err_set(err, REEL_ERR_CONFIG, "data: idx: test_labels given without test_images");
		goto out;
	}
	if (idx_pair(&im[0], &lb[0], o->dir, o->images, o->labels, err))
		goto out;
	if (own_test && idx_pair(&im[1], &lb[1], o->dir, o->test_images, o->test_labels, err))
		goto out;
	if (own_test && (im[1].dim[1] != im[0].dim[1] || im[1].dim[2] != im[0].dim[2])) {
		reel_err_set(err, REEL_ERR_IO, "%s: offset 8: expected images of %zux%zu (as %s), found %zux%zu", im[1].f.path,
		             im[0].dim[1], im[0].dim[2], im[0].f.path, im[1].dim[1], im[1].dim[2]);
		goto out;
	}
	size_t n = im[0].dim[0], a, b;
	reel__split_fracs(n, o->valid_frac, o->test_frac, 0, own_test, &a, &b);
	if (!a) {
		reel_err_set(err, REEL_ERR_CONFIG, "data: idx: %s: the train split is empty", im[0].f.path);
		goto out;
	}
	int classes = 0;
	for (size_t k = 0; k < a; k++)
		classes = lb[0].data[k] + 1 > classes ? lb[0].data[k] + 1 : classes;
	if (idx_add(&d->sp[REEL_TRAIN].set, &im[0], &lb[0], 0, a, 0, err) ||
	    idx_add(&d->sp[REEL_VALID].set, &im[0], &lb[0], a, b, classes, err) ||
	    (own_test ? idx_add(&d->sp[REEL_TEST].set, &im[1], &lb[1], 0, im[1].dim[0], classes, err)
	              : idx_add(&d->sp[REEL_TEST].set, &im[0], &lb[0], b, n, classes, err)))
		goto out;
	for (int s = 0; s < 3; s++) {
		d->sp[s].kind = REEL__FIXED;
		d->info.n[s] = (long)d->sp[s].set.n;
	}
	if ((o->valid_frac > 0 && !d->sp[REEL_VALID].set.n) || (!own_test && o->test_frac > 0 && !d->sp[REEL_TEST].set.n)) {
		reel_err_set(err, REEL_ERR_CONFIG, "data: idx: %s: the %s split is empty (give more images or a larger fraction)",
		             im[0].f.path, d->sp[REEL_VALID].set.n ? "test" : "valid");
		goto out;
	}
	/* label names for printing (reel eval's confusion matrix, predict) */
	for (int c = 0; c < classes; c++) {
		char name[8];
		int len = snprintf(name, sizeof name, "%d", c);
		if (reel__vocab_add(&d->out_vocab, name, len) < 0) {
			reel_err_set(err, REEL_ERR_NOMEM, "data: idx: out of memory");
			goto out;
		}
	}
	d->tokens_in = 0;
	d->F = (int)im[0].dim[2];
	d->info.tokens_in = 0;
	d->info.features = d->F;
	d->info.classes = classes;
	d->info.max_len = (int)im[0].dim[1];
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		reel__dfile_free(&im[i].f);
		reel__dfile_free(&lb[i].f);
	}
	return rc;
}
