/* File data sources (data.h): text, csv, tsv, labelled, safetensors.
 *
 * Files are read whole, validated line by line (a malformed line is an
 * error "path:line: expected ..., found ..."), split (a split's own file,
 * or the last valid_frac / test_frac of the main file's lines, tokens or
 * rows), and turned into ids with vocabularies built from the training
 * split only.  Blank lines are skipped in line formats (csv, tsv,
 * labelled); a trailing '\r' is dropped.  Tokens are UTF-8 characters
 * (chars) or runs of non-whitespace (words).  A gzipped file (gzip
 * magic 1f 8b; dictzip is gzip) is decompressed with zlib on reading, so
 * every reader takes .gz and .dz files as they are.  Nothing of the file
 * buffers is kept after open. */
#include "data_internal.h"
#include "fault.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef reel__dfile dfile;

static int oom(reel_err *err)
{
	reel_err_set(err, REEL_ERR_NOMEM, "data: out of memory (or size overflow) reading data");
	return -1;
}

void reel__dfile_free(dfile *f)
{
	free(f->path);
	free(f->buf);
	memset(f, 0, sizeof *f);
}

/* data_internal.h */
int reel__dfile_read(dfile *f, const char *dir, const char *path, reel_err *err)
{
	memset(f, 0, sizeof *f);
	int join = dir && *dir && path[0] != '/';
	size_t n = strlen(path) + (join ? strlen(dir) + 2 : 1);
	if (!(f->path = reel__malloc(n)))
		return oom(err);
	if (join)
		snprintf(f->path, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", path);
	else
		memcpy(f->path, path, n);
	FILE *fp = fopen(f->path, "rb");
	if (!fp) {
		reel_err_set(err, REEL_ERR_IO, "%s: cannot open: %s", f->path, strerror(errno));
		return -1;
	}
	size_t cap = 0, got;
	char chunk[1 << 16];
	while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0) {
		if (f->len + got + 1 < f->len || reel__grow(&f->buf, &cap, f->len + got + 1, 1)) {
			fclose(fp);
			return oom(err);
		}
		memcpy(f->buf + f->len, chunk, got);
		f->len += got;
	}
	int bad = ferror(fp);
	fclose(fp);
	if (bad) {
		reel_err_set(err, REEL_ERR_IO, "%s: read error", f->path);
		return -1;
	}
	if (!f->len) {
		reel_err_set(err, REEL_ERR_IO, "%s: the file is empty", f->path);
		return -1;
	}
	f->buf[f->len] = 0;
	/* gzip (and dictzip, which is gzip with an index in its header) */
	if (f->len >= 2 && (unsigned char)f->buf[0] == 0x1f && (unsigned char)f->buf[1] == 0x8b) {
		if (reel__gunzip(f->path, &f->buf, &f->len, err))
			return -1;
		if (!f->len) {
			reel_err_set(err, REEL_ERR_IO, "%s: the file is empty (after decompression)", f->path);
			return -1;
		}
	}
	return 0;
}

/* Lines of a file: *line set to the next one (without '\n' and a final
 * '\r'), *no to its 1-based number.  Returns 0 at the end. */
typedef struct line_iter {
	const dfile *f;
	size_t pos;
	long no;
} line_iter;

static int next_line(line_iter *it, const char **line, size_t *len)
{
	if (it->pos >= it->f->len)
		return 0;
	const char *s = it->f->buf + it->pos, *nl = memchr(s, '\n', it->f->len - it->pos);
	size_t n = nl ? (size_t)(nl - s) : it->f->len - it->pos;
	it->pos += n + (nl != NULL);
	it->no++;
	if (n && s[n - 1] == '\r')
		n--;
	*line = s;
	*len = n;
	return 1;
}

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Bytes in the UTF-8 character at s (1 for a byte that starts none). */
static int utf8_len(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	int l = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
	if ((size_t)l > n)
		return 1;
	for (int i = 1; i < l; i++)
		if (((unsigned char)s[i] >> 6) != 2)
			return 1;
	return l;
}

/* The next token of s[0..n) from *pos: one character, or a run of
 * non-whitespace (words).  Returns 0 at the end. */
static int next_tok(const char *s, size_t n, size_t *pos, int words, const char **tok, int *len)
{
	size_t p = *pos;
	if (words) {
		while (p < n && isspace((unsigned char)s[p]))
			p++;
		if (p >= n)
			return 0;
		size_t q = p;
		while (q < n && !isspace((unsigned char)s[q]))
			q++;
		if (q - p > INT_MAX)
			return 0;
		*tok = s + p;
		*len = (int)(q - p);
		*pos = q;
		return 1;
	}
	if (p >= n)
		return 0;
	*tok = s + p;
	*len = utf8_len(s + p, n - p);
	*pos = p + (size_t)*len;
	return 1;
}

static long count_toks(const char *s, size_t n, int words)
{
	size_t pos = 0;
	long c = 0;
	const char *t;
	int l;
	while (next_tok(s, n, &pos, words, &t, &l) && c < LONG_MAX)
		c++;
	return c;
}

static int vocab_add_all(reel__vocab *v, const char *s, size_t n, int words)
{
	size_t pos = 0;
	const char *t;
	int l;
	while (next_tok(s, n, &pos, words, &t, &l))
		if (reel__vocab_add(v, t, l) < 0)
			return -1;
	return 0;
}

static int specials(reel__vocab *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (reel__vocab_add(v, names[i], (int)strlen(names[i])) < 0)
			return -1;
	v->n_special = n;
	return 0;
}

/* Which split each of n main-file items goes to, given the options. */
static void fracs(const reel_data_opts *o, size_t n, size_t *a, size_t *b)
{
	reel__split_fracs(n, o->valid_frac, o->test_frac, o->valid_path != NULL, o->test_path != NULL, a, b);
}

/* Is a split requested (its own file, or a positive fraction)? */
static int requested(const reel_data_opts *o, int s)
{
	if (s == REEL_TRAIN)
		return 1;
	return s == REEL_VALID ? o->valid_path || o->valid_frac > 0 : o->test_path || o->test_frac > 0;
}

static int empty_split(const char *what, const char *path, int s, reel_err *err)
{
	reel_err_set(err, REEL_ERR_CONFIG, "%s: %s: the %s split is empty%s", what, path, reel__split_name((reel_data_split)s),
	             s == REEL_TRAIN ? "" : " (give more data, a larger fraction, or its own file)");
	return -1;
}

/* The files of a source: main and the optional valid/test ones.  files[s]
 * is the file split s reads from (main for carved splits). */
typedef struct file_set {
	dfile f[3];
	int n;
	const dfile *of[3];
} file_set;

static int files_read(file_set *fs, const reel_data_opts *o, reel_err *err)
{
	memset(fs, 0, sizeof *fs);
	if (!o->path || !*o->path) {
		reel_err_set(err, REEL_ERR_CONFIG, "data: source %s needs a path", o->source);
		return -1;
	}
	const char *p[3] = {o->path, o->valid_path, o->test_path};
	for (int s = 0; s < 3; s++) {
		if (s && !p[s]) {
			fs->of[s] = &fs->f[0];
			continue;
		}
		if (reel__dfile_read(&fs->f[s], o->dir, p[s], err))
			return -1;
		fs->of[s] = &fs->f[s];
	}
	return 0;
}

static void files_free(file_set *fs)
{
	for (int s = 0; s < 3; s++)
		reel__dfile_free(&fs->f[s]);
}

/* ---- text ---- */

typedef struct span {
	const char *s;
	int len;
} span;

/* Tokens of a whole text file: characters (newlines included) or words
 * with "<eos>" at the end of every line that has a word. */
static int text_tokens(const dfile *f, int words, span **out, size_t *n, reel_err *err)
{
	size_t cap = 0, pos = 0;
	*out = NULL;
	*n = 0;
	const char *t;
	int l;
	while (pos < f->len) {
		if (words) {
			size_t p = pos;
			while (p < f->len && isspace((unsigned char)f->buf[p]) && f->buf[p] != '\n')
				p++;
			if (p < f->len && f->buf[p] == '\n') {
				pos = p + 1;
				if (*n && (*out)[*n - 1].s != NULL) { /* a word ends this line */
					if (reel__grow(out, &cap, *n + 1, sizeof **out))
						return oom(err);
					(*out)[(*n)++] = (span){NULL, 0};
				}
				continue;
			}
			pos = p;
			if (pos >= f->len)
				break;
			size_t q = pos;
			while (q < f->len && !isspace((unsigned char)f->buf[q]))
				q++;
			if (q - pos > INT_MAX)
				return oom(err);
			t = f->buf + pos;
			l = (int)(q - pos);
			pos = q;
		} else if (!next_tok(f->buf, f->len, &pos, 0, &t, &l)) {
			break;
		}
		if (reel__grow(out, &cap, *n + 1, sizeof **out))
			return oom(err);
		(*out)[(*n)++] = (span){t, l};
	}
	return 0;
}

static const char EOS_WORD[] = "<eos>";

static int text_window_fetch(reel_data *d, reel_data_split split, size_t start, reel__exset *out, reel_err *err)
{
	const reel__split *sp = &d->sp[split];
	size_t left = sp->n_ids - 1 - start;
	int len = left < (size_t)d->o.seq_len ? (int)left : d->o.seq_len;
	reel__ex *e = reel__exset_add(out);
	if (!e)
		return oom(err);
	e->in = out->ntok;
	e->out = out->nlab;
	e->len = len;
	for (int t = 0; t < len; t++)
		if (reel__push_tok(out, sp->ids[start + (size_t)t]) || reel__push_lab(out, sp->ids[start + (size_t)t + 1]))
			return oom(err);
	return 0;
}

typedef struct tok_count {
	size_t n;
	int32_t id;
} tok_count;

static int cmp_count(const void *a, const void *b)
{
	const tok_count *x = a, *y = b;
	return x->n != y->n ? (x->n < y->n) - (x->n > y->n) : (x->id > y->id) - (x->id < y->id);
}

/* A text token's string: its span, or the end-of-line word (s NULL). */
static const char *tok_str(const span *t, int *len)
{
	*len = t->s ? t->len : 5;
	return t->s ? t->s : EOS_WORD;
}

/* The training tokens tok[0..n) into v (after its specials), sorted
 * bytewise; with max_vocab > 0 only the max_vocab - v->n most frequent of
 * them (ties: the bytewise first), the others left to map to <unk>.
 * 0, or -1 when out of memory. */
static int text_vocab(reel__vocab *v, const span *tok, size_t n, int max_vocab)
{
	int len;
	if (!max_vocab) {
		for (size_t i = 0; i < n; i++) {
			const char *w = tok_str(&tok[i], &len);
			if (reel__vocab_add(v, w, len) < 0)
				return -1;
		}
		return reel__vocab_sort(v);
	}
	reel__vocab all = {0};
	tok_count *c = NULL;
	int rc = -1;
	for (size_t i = 0; i < n; i++) {
		const char *w = tok_str(&tok[i], &len);
		if (reel__vocab_add(&all, w, len) < 0)
			goto out;
	}
	if (reel__vocab_sort(&all) || !(c = reel__calloc((size_t)all.n + 1, sizeof *c)))
		goto out;
	for (int k = 0; k < all.n; k++)
		c[k].id = k;
	for (size_t i = 0; i < n; i++) {
		const char *w = tok_str(&tok[i], &len);
		c[reel__vocab_find(&all, w, len)].n++;
	}
	qsort(c, (size_t)all.n, sizeof *c, cmp_count);
	for (int k = 0; k < all.n && v->n < max_vocab; k++)
		if (reel__vocab_add(v, all.str[c[k].id], all.slen[c[k].id]) < 0)
			goto out;
	rc = reel__vocab_sort(v);
out:
	free(c);
	reel__vocab_free(&all);
	return rc;
}

static int open_text(reel_data *d, const reel_data_opts *o, reel_err *err)
{
	if (d->task != REEL_TASK_LM)
		return reel__task_mismatch(d, "lm", err), -1;
	file_set fs;
	span *tok[3] = {NULL, NULL, NULL};
	size_t ntok[3] = {0, 0, 0};
	int rc = -1;
	if (files_read(&fs, o, err))
		goto out;
	/* tokens of each file; carved splits are ranges of the main file's */
	for (int s = 0; s < 3; s++)
		if (fs.of[s] == &fs.f[s] && text_tokens(&fs.f[s], o->tokens_words, &tok[s], &ntok[s], err))
			goto out;
	size_t a, b, off[3];
	fracs(o, ntok[0], &a, &b);
	size_t lo[3] = {0, a, b}, hi[3] = {a, b, ntok[0]};
	for (int s = 0; s < 3; s++) {
		off[s] = fs.of[s] == &fs.f[s] && s ? 0 : lo[s];
		if (fs.of[s] == &fs.f[s] && s)
			hi[s] = ntok[s];
		size_t n = hi[s] - off[s];
		if (requested(o, s) && n < 2) {
			empty_split("data: text", fs.of[s]->path, s, err);
			goto out;
		}
	}
	static const char *const sp_names[] = {"<pad>", "<unk>"};
	if (specials(&d->in_vocab, sp_names, 2) || text_vocab(&d->in_vocab, tok[0], hi[0], o->max_vocab))
		goto nomem;
	for (int s = 0; s < 3; s++) {
		reel__split *sp = &d->sp[s];
		const span *src = (fs.of[s] == &fs.f[s] ? tok[s] : tok[0]) + off[s];
		size_t n = hi[s] - off[s];
		if (!(sp->ids = reel__malloc((n ? n : 1) * sizeof *sp->ids)))
			goto nomem;
		sp->n_ids = n;
		for (size_t i = 0; i < n; i++) {
			int32_t id = src[i].s ? reel__vocab_find(&d->in_vocab, src[i].s, src[i].len)
			                      : reel__vocab_find(&d->in_vocab, EOS_WORD, 5);
			sp->ids[i] = id < 0 ? 1 : id;
		}
		d->info.n[s] = n > (size_t)LONG_MAX ? LONG_MAX : (long)n;
		if (o->stream) {
			sp->kind = REEL__STREAM;
			continue;
		}
		/* window mode: training draws random starts, valid/test cut the
		 * split into consecutive windows of seq_len */
		sp->kind = REEL__SERIES;
		size_t L = (size_t)o->seq_len, nw = n >= 2 ? (n - 1 + L - 1) / L : 0;
		if (s == REEL_TRAIN) {
			sp->random_starts = 1;
			sp->n_random = nw;
			sp->lo = 0;
			sp->hi = n - 1 >= L ? n - L : 1; /* starts [0, hi): a full window fits, or start 0 */
			continue;
		}
		if (!(sp->starts = reel__malloc((nw ? nw : 1) * sizeof *sp->starts)))
			goto nomem;
		for (size_t i = 0; i < nw; i++)
			sp->starts[i] = i * L;
		sp->n_starts = nw;
	}
	d->fetch = text_window_fetch;
	d->tokens_in = 1;
	d->info.tokens_in = 1;
	d->info.vocab = d->info.classes = d->in_vocab.n;
	d->info.max_len = o->seq_len;
	rc = 0;
	goto out;
nomem:
	oom(err);
out:
	for (int s = 0; s < 3; s++)
		free(tok[s]);
	files_free(&fs);
	return rc;
}

/* ---- csv ---- */

/* Fields of a csv line: up to max (start, length) pairs, spaces trimmed;
 * returns the count (which may exceed max: the rest are not stored). */
static int csv_fields(const char *s, size_t n, span *out, int max)
{
	int k = 0;
	size_t p = 0;
	for (;;) {
		const char *c = memchr(s + p, ',', n - p);
		size_t e = c ? (size_t)(c - s) : n, a = p, z = e;
		while (a < z && isspace((unsigned char)s[a]))
			a++;
		while (z > a && isspace((unsigned char)s[z - 1]))
			z--;
		if (k < max)
			out[k] = (span){s + a, (int)(z - a)};
		if (k < INT_MAX)
			k++;
		if (!c)
			return k;
		p = e + 1;
	}
}

/* Column index of a name (header) or a 0-based index; -1 if none. */
static int csv_column(const reel_data *d, const char *name)
{
	for (int c = 0; c < d->cols; c++)
		if (!strcmp(d->col_names[c], name))
			return c;
	char *end;
	errno = 0;
	long v = strtol(name, &end, 10);
	if (*name && !*end && !errno && v >= 0 && v < d->cols && isdigit((unsigned char)*name))
		return (int)v;
	return -1;
}

static int csv_resolve(reel_data *d, const char *path, const char *const *names, int n, int **out, reel_err *err)
{
	int all = n == 0;
	int k = all ? d->cols : n;
	if (!(*out = reel__malloc((size_t)k * sizeof **out)))
		return oom(err);
	for (int i = 0; i < k; i++) {
		if (all) {
			(*out)[i] = i;
			continue;
		}
		int c = csv_column(d, names[i]);
		if (c < 0) {
			char list[256] = "";
			for (int j = 0; j < d->cols && strlen(list) < sizeof list - 40; j++)
				snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "", d->col_names[j]);
			reel_err_set(err, REEL_ERR_CONFIG, "%s: no column \"%s\" (%s: %s%s)", path, names[i],
			             d->o.header ? "the header names" : "no header; 0-based indices", list,
			             strlen(list) >= sizeof list - 40 ? ", ..." : "");
			return -1;
		}
		(*out)[i] = c;
	}
	return k;
}

/* Parse one csv file's rows, appending to *vals (rows x cols). */
static int csv_rows(reel_data *d, const dfile *f, int main_file, double **vals, size_t *cap, size_t *rows,
                    span *fld, reel_err *err)
{
	line_iter it = {f, 0, 0};
	const char *line;
	size_t len;
	int seen_header = !d->o.header;
	while (next_line(&it, &line, &len)) {
		if (blank(line, len))
			continue;
		int k = csv_fields(line, len, fld, d->cols > 0 ? d->cols : 0);
		if (!seen_header) {
			seen_header = 1;
			if (main_file)
				continue; /* names were read by csv_header */
			int same = k == d->cols;
			for (int c = 0; same && c < k; c++)
				same = (size_t)fld[c].len == strlen(d->col_names[c]) &&
				       !memcmp(fld[c].s, d->col_names[c], (size_t)fld[c].len);
			if (!same) {
				reel_err_set(err, REEL_ERR_IO, "%s:%ld: expected the header of %s, found a different one", f->path,
				             it.no, d->o.path);
				return -1;
			}
			continue;
		}
		if (k != d->cols) {
			reel_err_set(err, REEL_ERR_IO, "%s:%ld: expected %d fields, found %d", f->path, it.no, d->cols, k);
			return -1;
		}
		size_t need;
		if (reel__mul(*rows + 1, (size_t)d->cols, &need) || reel__grow(vals, cap, need, sizeof **vals))
			return oom(err);
		for (int c = 0; c < k; c++) {
			char tmp[64];
			char *end = NULL;
			double v = 0;
			int ok = fld[c].len > 0 && (size_t)fld[c].len < sizeof tmp;
			if (ok) {
				memcpy(tmp, fld[c].s, (size_t)fld[c].len);
				tmp[fld[c].len] = 0;
				errno = 0;
				v = strtod(tmp, &end);
				ok = *end == 0 && errno != ERANGE && isfinite(v);
			}
			if (!ok) {
				reel_err_set(err, REEL_ERR_IO, "%s:%ld: column %d (\"%s\"): expected a finite number, found \"%.*s\"",
				             f->path, it.no, c, d->col_names[c], fld[c].len > 40 ? 40 : fld[c].len, fld[c].s);
				return -1;
			}
			/* unnormalised values reach the model as reel_real: a float build
			 * would turn 1e65 into inf (found by fuzz_data) */
			double lim = sizeof(reel_real) == sizeof(float) ? FLT_MAX : DBL_MAX;
			if (!d->o.normalize && fabs(v) > lim) {
				reel_err_set(err, REEL_ERR_IO, "%s:%ld: column %d (\"%s\"): %g does not fit a %s (largest %g); "
				             "normalize the series (data.normalize) or scale it",
				             f->path, it.no, c, d->col_names[c], v, REEL_REAL_NAME, lim);
				return -1;
			}
			(*vals)[*rows * (size_t)d->cols + (size_t)c] = v;
		}
		(*rows)++;
	}
	return 0;
}

/* Column names from the main file's first non-blank line (header) or
 * "0", "1", ... (no header). */
static int csv_header(reel_data *d, const dfile *f, span **fld, reel_err *err)
{
	line_iter it = {f, 0, 0};
	const char *line = NULL;
	size_t len = 0;
	while (next_line(&it, &line, &len) && blank(line, len))
		;
	if (!line || blank(line, len)) {
		reel_err_set(err, REEL_ERR_IO, "%s: no rows (only blank lines)", f->path);
		return -1;
	}
	int k = csv_fields(line, len, NULL, 0);
	if (k < 1 || k > 100000) {
		reel_err_set(err, REEL_ERR_IO, "%s:%ld: expected at most 100000 fields, found %d", f->path, it.no, k);
		return -1;
	}
	if (!(*fld = reel__malloc((size_t)k * sizeof **fld)) || !(d->col_names = reel__calloc((size_t)k, sizeof *d->col_names)))
		return oom(err);
	d->cols = k;
	csv_fields(line, len, *fld, k);
	for (int c = 0; c < k; c++) {
		char num[24];
		const char *s = d->o.header ? (*fld)[c].s : num;
		int l = d->o.header ? (*fld)[c].len : snprintf(num, sizeof num, "%d", c);
		if (d->o.header && !l) {
			reel_err_set(err, REEL_ERR_IO, "%s:%ld: column %d: expected a name in the header, found an empty field",
			             f->path, it.no, c);
			return -1;
		}
		if (!(d->col_names[c] = reel__malloc((size_t)l + 1)))
			return oom(err);
		memcpy(d->col_names[c], s, (size_t)l);
		d->col_names[c][l] = 0;
	}
	return 0;
}

static int open_csv(reel_data *d, const reel_data_opts *o, reel_err *err)
{
	if (d->task != REEL_TASK_REGRESS)
		return reel__task_mismatch(d, "regress", err), -1;
	file_set fs;
	span *fld = NULL;
	double *vals = NULL;
	size_t cap = 0, rows = 0;
	int rc = -1;
	if (files_read(&fs, o, err) || csv_header(d, &fs.f[0], &fld, err))
		goto out;
	int nf = csv_resolve(d, fs.f[0].path, o->columns, o->n_columns, &d->in_cols, err);
	int no = nf < 0 ? -1 : csv_resolve(d, fs.f[0].path, o->n_targets ? o->targets : o->columns,
	                                   o->n_targets ? o->n_targets : o->n_columns, &d->tgt_cols, err);
	if (nf < 0 || no < 0)
		goto out;
	d->F = nf;
	d->O = no;
	/* rows: the main file's (carved into train, valid, test), then the
	 * separate valid and test files' */
	if (csv_rows(d, &fs.f[0], 1, &vals, &cap, &rows, fld, err))
		goto out;
	size_t a, b, lo[3], hi[3];
	fracs(o, rows, &a, &b);
	lo[0] = 0, hi[0] = a, lo[1] = a, hi[1] = b, lo[2] = b, hi[2] = rows;
	for (int s = 1; s < 3; s++)
		if (fs.of[s] == &fs.f[s]) {
			lo[s] = rows;
			if (csv_rows(d, &fs.f[s], 0, &vals, &cap, &rows, fld, err))
				goto out;
			hi[s] = rows;
		}
	for (int s = 0; s < 3; s++)
		if (requested(o, s) && hi[s] == lo[s]) {
			empty_split("data: csv", fs.of[s]->path, s, err);
			goto out;
		}
	/* z-scores from the training rows (population std; a constant column
	 * keeps std 1 so it maps to 0) */
	size_t C = (size_t)d->cols, ntr = hi[0] - lo[0];
	if (!(d->mean = reel__calloc(C, sizeof *d->mean)) || !(d->std = reel__calloc(C, sizeof *d->std)))
		goto nomem;
	for (size_t c = 0; c < C; c++) {
		double m = 0, v = 0;
		for (size_t r = 0; r < ntr; r++)
			m += vals[r * C + c];
		m /= (double)ntr;
		for (size_t r = 0; r < ntr; r++)
			v += (vals[r * C + c] - m) * (vals[r * C + c] - m);
		v = sqrt(v / (double)ntr);
		d->mean[c] = m;
		d->std[c] = v > 1e-12 ? v : 1;
	}
	if (o->normalize)
		for (size_t r = 0; r < rows; r++)
			for (size_t c = 0; c < C; c++)
				vals[r * C + c] = (vals[r * C + c] - d->mean[c]) / d->std[c];
	else {
		free(d->mean);
		free(d->std);
		d->mean = d->std = NULL;
	}
	d->series = vals;
	vals = NULL;
	d->rows = rows;
	int req[3] = {1, requested(o, 1), requested(o, 2)};
	size_t none[3] = {0, 0, 0};
	char what[600];
	snprintf(what, sizeof what, "data: csv: %s", fs.f[0].path);
	if (reel__series_setup(d, lo, hi, req, 0, none, what, err))
		goto out;
	d->info.features = d->F;
	d->info.outputs = d->O;
	rc = 0;
	goto out;
nomem:
	oom(err);
out:
	free(fld);
	free(vals);
	files_free(&fs);
	return rc;
}

/* ---- tsv and labelled: one example per line ---- */

typedef struct rec {
	const char *a, *b; /* tsv: source, target; labelled: label(s), sequence */
	size_t alen, blen;
	const dfile *f;
	long line;
} rec;

/* Lines of the files, checked for "A<TAB>B": the main file's first, then
 * the valid file's, then the test file's; split s is recs [lo[s], hi[s]). */
static int read_recs(const file_set *fs, const char *what_a, const char *what_b, rec **recs, size_t *n,
                     size_t lo[3], size_t hi[3], const reel_data_opts *o, reel_err *err)
{
	size_t cap = 0, first[3] = {0, 0, 0};
	*n = 0;
	for (int s = 0; s < 3; s++) {
		first[s] = *n;
		if (s && fs->of[s] != &fs->f[s])
			continue;
		line_iter it = {fs->of[s], 0, 0};
		const char *line;
		size_t len;
		while (next_line(&it, &line, &len)) {
			if (blank(line, len))
				continue;
			const char *tab = memchr(line, '\t', len);
			const char *found = NULL;
			char foundbuf[64];
			if (!tab) {
				found = "no tab";
			} else {
				size_t tabs = 0;
				for (size_t i = 0; i < len; i++)
					tabs += line[i] == '\t';
				if (tabs > 1) {
					snprintf(foundbuf, sizeof foundbuf, "%zu tabs", tabs);
					found = foundbuf;
				} else if (blank(line, (size_t)(tab - line))) {
					snprintf(foundbuf, sizeof foundbuf, "an empty %s", what_a);
					found = foundbuf;
				} else if (blank(tab + 1, len - (size_t)(tab - line) - 1)) {
					snprintf(foundbuf, sizeof foundbuf, "an empty %s", what_b);
					found = foundbuf;
				}
			}
			if (found) {
				reel_err_set(err, REEL_ERR_IO, "%s:%ld: expected %s<TAB>%s, found %s", fs->of[s]->path, it.no, what_a,
				             what_b, found);
				return -1;
			}
			if (reel__grow(recs, &cap, *n + 1, sizeof **recs))
				return oom(err);
			(*recs)[(*n)++] = (rec){line, tab + 1, (size_t)(tab - line), len - (size_t)(tab - line) - 1, fs->of[s], it.no};
		}
	}
	size_t m = first[1], a, b; /* the main file's records are [0, m) */
	fracs(o, m, &a, &b);
	lo[0] = 0, hi[0] = a;
	lo[1] = fs->of[1] == &fs->f[1] ? first[1] : a;
	hi[1] = fs->of[1] == &fs->f[1] ? first[2] : b;
	lo[2] = fs->of[2] == &fs->f[2] ? first[2] : b;
	hi[2] = fs->of[2] == &fs->f[2] ? *n : m;
	for (int s = 0; s < 3; s++)
		if (requested(o, s) && hi[s] == lo[s])
			return empty_split(o->source, fs->of[s]->path, s, err);
	return 0;
}

/* Token ids of s[0..n) appended to tok (lab when to_lab); unknown tokens
 * get unk, or are an error (unk < 0) reported by the caller via *bad. */
static int map_toks(const reel__vocab *v, const char *s, size_t n, int words, int32_t unk, reel__exset *out,
                    int to_lab, const char **bad, int *badlen)
{
	size_t pos = 0;
	const char *t;
	int l;
	while (next_tok(s, n, &pos, words, &t, &l)) {
		int32_t id = reel__vocab_find(v, t, l);
		if (id < 0) {
			if (unk < 0) {
				*bad = t;
				*badlen = l;
				return 1;
			}
			id = unk;
		}
		if (to_lab ? reel__push_lab(out, id) : reel__push_tok(out, id))
			return -1;
	}
	return 0;
}

static int line_too_long(const rec *r, reel_err *err)
{
	reel_err_set(err, REEL_ERR_IO, "%s:%ld: expected at most %d tokens, found more", r->f->path, r->line, INT_MAX / 2);
	return -1;
}

static int open_lines(reel_data *d, const reel_data_opts *o, reel_err *err)
{
	int tsv = !strcmp(d->source, "tsv");
	if (tsv && d->task != REEL_TASK_SEQ2SEQ)
		return reel__task_mismatch(d, "seq2seq", err), -1;
	if (!tsv && d->task != REEL_TASK_CLASSIFY && d->task != REEL_TASK_TAG)
		return reel__task_mismatch(d, "classify or tag", err), -1;
	int tag = d->task == REEL_TASK_TAG, words = o->tokens_words;
	file_set fs;
	rec *recs = NULL;
	size_t n = 0, rlo[3], rhi[3];
	int rc = -1;
	if (files_read(&fs, o, err) ||
	    read_recs(&fs, tsv ? "source" : "label", tsv ? "target" : "sequence", &recs, &n, rlo, rhi, o, err))
		goto out;
	static const char *const in_sp[] = {"<pad>", "<unk>"}, *const out_sp[] = {"<pad>", "<bos>", "<eos>", "<unk>"};
	if (specials(&d->in_vocab, in_sp, 2) || (tsv && specials(&d->out_vocab, out_sp, 4)))
		goto nomem;
	size_t lo = rlo[0], hi = rhi[0];
	for (size_t i = lo; i < hi; i++) {
		const rec *r = &recs[i];
		const char *seq = tsv ? r->a : r->b;
		size_t slen = tsv ? r->alen : r->blen;
		if (vocab_add_all(&d->in_vocab, seq, slen, words))
			goto nomem;
		if (tsv ? vocab_add_all(&d->out_vocab, r->b, r->blen, words)
		        : tag ? vocab_add_all(&d->out_vocab, r->a, r->alen, 1)
		              : reel__vocab_add(&d->out_vocab, r->a, (int)r->alen) < 0)
			goto nomem;
	}
	if (reel__vocab_sort(&d->in_vocab) || reel__vocab_sort(&d->out_vocab))
		goto nomem;
	int max_len = 1;
	for (int s = 0; s < 3; s++) {
		reel__split *sp = &d->sp[s];
		sp->kind = REEL__FIXED;
		lo = rlo[s];
		hi = rhi[s];
		for (size_t i = lo; i < hi; i++) {
			const rec *r = &recs[i];
			const char *seq = tsv ? r->a : r->b;
			size_t slen = tsv ? r->alen : r->blen;
			long ns = count_toks(seq, slen, words);
			long nt = tsv ? count_toks(r->b, r->blen, words) : tag ? count_toks(r->a, r->alen, 1) : 1;
			if (ns > INT_MAX / 2 || nt > INT_MAX / 2)
				goto too_long;
			if (tag && nt != ns) {
				reel_err_set(err, REEL_ERR_IO, "%s:%ld: expected %ld tags (one per %s of the sequence), found %ld",
				             r->f->path, r->line, ns, words ? "token" : "character", nt);
				goto out;
			}
			reel__ex *e = reel__exset_add(&sp->set);
			if (!e)
				goto nomem;
			e->in = sp->set.ntok;
			e->out = sp->set.nlab;
			e->len = (int)ns;
			e->out_len = tsv ? (int)nt : 0;
			max_len = ns > max_len ? (int)ns : max_len;
			max_len = tsv && nt + 1 > max_len ? (int)nt + 1 : max_len;
			const char *bad = NULL;
			int badlen = 0, m;
			if (map_toks(&d->in_vocab, seq, slen, words, 1, &sp->set, 0, &bad, &badlen))
				goto nomem;
			if (tsv)
				m = map_toks(&d->out_vocab, r->b, r->blen, words, 3, &sp->set, 1, &bad, &badlen);
			else if (tag)
				m = map_toks(&d->out_vocab, r->a, r->alen, 1, -1, &sp->set, 1, &bad, &badlen);
			else {
				e->label = reel__vocab_find(&d->out_vocab, r->a, (int)r->alen);
				m = e->label < 0;
				bad = r->a;
				badlen = (int)r->alen;
			}
			if (m < 0)
				goto nomem;
			if (m > 0) {
				reel_err_set(err, REEL_ERR_IO, "%s:%ld: expected a %s of the training split, found \"%.*s\"",
				             r->f->path, r->line, tag ? "tag" : "label", badlen > 60 ? 60 : badlen, bad);
				goto out;
			}
		}
		d->info.n[s] = (long)(hi - lo);
	}
	d->tokens_in = 1;
	d->info.tokens_in = 1;
	d->info.vocab = d->in_vocab.n;
	d->info.max_len = max_len;
	if (tsv) {
		d->info.src_vocab = d->in_vocab.n;
		d->info.tgt_vocab = d->out_vocab.n;
		d->info.bos = 1;
		d->info.eos = 2;
		d->info.pad = 0;
	} else {
		d->info.classes = d->out_vocab.n;
	}
	rc = 0;
	goto out;
too_long:
	line_too_long(&recs[lo], err);
	goto out;
nomem:
	oom(err);
out:
	free(recs);
	files_free(&fs);
	return rc;
}

/* ---- safetensors ---- */

static const reel_st_tensor *st_need(const reel_st_file *f, const char *path, const char *name, int ints,
                                     reel_err *err)
{
	const reel_st_tensor *t = reel_st_find(f, name);
	if (t && ints && t->dtype != REEL_I32 && t->dtype != REEL_I64) {
		reel_err_set(err, REEL_ERR_IO, "%s: \"%s\": expected dtype I32 or I64, found a float dtype", path, name);
		return NULL;
	}
	return t;
}

/* Append the N examples of one safetensors file to the split sets: the
 * first a to train, [a, b) to valid, the rest to test (a = b = N puts all
 * in `only`). */
static int st_load(reel_data *d, const reel_st_file *f, const char *path, int only, int carve, reel_err *err)
{
	const reel_st_tensor *x = reel_st_find(f, "inputs"), *tk = reel_st_find(f, "tokens");
	const reel_st_tensor *ln = reel_st_find(f, "lengths"), *tg = reel_st_find(f, "targets");
	if (!x == !tk) {
		reel_err_set(err, REEL_ERR_IO, "%s: expected exactly one of \"inputs\" (T, N, F) and \"tokens\" (T, N), found %s",
		             path, x ? "both" : "neither");
		return -1;
	}
	if (!tg) {
		reel_err_set(err, REEL_ERR_IO, "%s: expected a tensor \"targets\", found none", path);
		return -1;
	}
	int tokens = tk != NULL;
	const reel_st_tensor *in = tokens ? tk : x;
	if (tokens && !st_need(f, path, "tokens", 1, err))
		return -1;
	if (in->ndim != (tokens ? 2 : 3) || in->shape[0] < 1 || in->shape[1] < 1 || in->shape[0] > INT_MAX / 2 ||
	    (!tokens && (in->shape[2] < 1 || in->shape[2] > INT_MAX))) {
		reel_err_set(err, REEL_ERR_IO, "%s: \"%s\": expected shape %s with every size >= 1", path,
		             tokens ? "tokens" : "inputs", tokens ? "(T, N)" : "(T, N, F)");
		return -1;
	}
	size_t T = (size_t)in->shape[0], N = (size_t)in->shape[1], F = tokens ? 1 : (size_t)in->shape[2];
	if (d->sp[0].set.n + d->sp[1].set.n + d->sp[2].set.n && (tokens != d->tokens_in || (!tokens && (int)F != d->F))) {
		reel_err_set(err, REEL_ERR_IO, "%s: inputs differ in kind or features from the training file's", path);
		return -1;
	}
	d->tokens_in = tokens;
	d->F = tokens ? 0 : (int)F;
	if (ln && (!st_need(f, path, "lengths", 1, err) || ln->ndim != 1 || (size_t)ln->shape[0] != N)) {
		reel_err_set(err, REEL_ERR_IO, "%s: \"lengths\": expected integers of shape (%zu)", path, N);
		return -1;
	}
	/* targets by task */
	reel_task_type task = d->task;
	int t_ints = task != REEL_TASK_REGRESS;
	if (t_ints && !st_need(f, path, "targets", 1, err))
		return -1;
	const char *want = NULL;
	size_t O = 1, TT = 0;
	switch (task) {
	case REEL_TASK_CLASSIFY:
		if (tg->ndim != 1 || (size_t)tg->shape[0] != N)
			want = "(N)";
		break;
	case REEL_TASK_TAG:
	case REEL_TASK_LM:
	case REEL_TASK_CTC:
	case REEL_TASK_SEQ2SEQ:
		if (tg->ndim != 2 || (size_t)tg->shape[1] != N || (task != REEL_TASK_SEQ2SEQ && (size_t)tg->shape[0] != T) ||
		    tg->shape[0] < 1 || tg->shape[0] > INT_MAX / 2)
			want = task == REEL_TASK_SEQ2SEQ ? "(TT, N) target ids ending in eos" : "(T, N)";
		TT = tg->ndim == 2 ? (size_t)tg->shape[0] : 0;
		break;
	case REEL_TASK_REGRESS:
		if (d->o.per_step ? tg->ndim != 3 || (size_t)tg->shape[0] != T || (size_t)tg->shape[1] != N
		                  : tg->ndim != 2 || (size_t)tg->shape[0] != N)
			want = d->o.per_step ? "(T, N, O) (per_step)" : "(N, O) (per_step 0)";
		else
			O = (size_t)tg->shape[tg->ndim - 1];
		if (O < 1 || O > INT_MAX)
			want = "an output size >= 1";
		break;
	}
	if (want) {
		reel_err_set(err, REEL_ERR_IO, "%s: \"targets\": expected shape %s for task %s", path, want,
		             (const char *[]){"lm", "classify", "tag", "regress", "seq2seq"}[task]);
		return -1;
	}
	if (task == REEL_TASK_REGRESS) {
		if (d->O && (int)O != d->O) {
			reel_err_set(err, REEL_ERR_IO, "%s: \"targets\": %zu outputs, the training file has %d", path, O, d->O);
			return -1;
		}
		d->O = (int)O;
	}
	/* convert everything once; sizes were checked by the reader */
	size_t nin = in->count, nt = tg->count;
	reel_real *xv = tokens ? NULL : reel__malloc((nin ? nin : 1) * sizeof *xv);
	int32_t *iv = tokens ? reel__malloc((nin ? nin : 1) * sizeof *iv) : NULL;
	int32_t *li = ln ? reel__malloc(N * sizeof *li) : NULL;
	reel_real *yv = t_ints ? NULL : reel__malloc((nt ? nt : 1) * sizeof *yv);
	int32_t *ti = t_ints ? reel__malloc((nt ? nt : 1) * sizeof *ti) : NULL;
	int rc = -1;
	if ((tokens ? !iv : !xv) || (ln && !li) || (t_ints ? !ti : !yv)) {
		oom(err);
		goto out;
	}
	if (tokens)
		reel_st_to_i32(in, iv);
	else
		reel_st_to_real(in, xv);
	if (ln)
		reel_st_to_i32(ln, li);
	if (t_ints)
		reel_st_to_i32(tg, ti);
	else
		reel_st_to_real(tg, yv);
	size_t a = N, b = N;
	if (carve)
		fracs(&d->o, N, &a, &b);
	for (size_t k = 0; k < N; k++) {
		int s = !carve ? only : k < a ? REEL_TRAIN : k < b ? REEL_VALID : REEL_TEST;
		reel__exset *set = &d->sp[s].set;
		int len = ln ? li[k] : (int)T;
		if (len < 1 || (size_t)len > T) {
			reel_err_set(err, REEL_ERR_IO, "%s: \"lengths\"[%zu]: expected a length in [1, %zu], found %d", path, k, T, len);
			goto out;
		}
		reel__ex *e = reel__exset_add(set);
		if (!e) {
			oom(err);
			goto out;
		}
		e->in = tokens ? set->ntok : set->nx;
		e->out = t_ints ? set->nlab : set->ny;
		e->len = len;
		for (int t = 0; t < len; t++) {
			size_t at = (size_t)t * N + k;
			if (tokens) {
				if (iv[at] < 0) {
					reel_err_set(err, REEL_ERR_IO, "%s: \"tokens\"[%d, %zu]: expected an id >= 0, found %d", path, t, k,
					             (int)iv[at]);
					goto out;
				}
				if (reel__push_tok(set, iv[at]))
					goto nomem;
				d->info.vocab = iv[at] + 1 > d->info.vocab ? iv[at] + 1 : d->info.vocab;
			} else {
				for (size_t c = 0; c < F; c++) {
					/* as csv: a NaN or infinity (or a double beyond float) is a data error here, not a NaN
					 * loss many updates later */
					if (!isfinite(xv[at * F + c])) {
						reel_err_set(err, REEL_ERR_IO, "%s: \"inputs\"[%d, %zu, %zu]: expected a finite number, found %g",
						             path, t, k, c, (double)xv[at * F + c]);
						goto out;
					}
					if (reel__push_x(set, xv[at * F + c]))
						goto nomem;
				}
			}
		}
		switch (task) {
		case REEL_TASK_CLASSIFY:
			e->label = ti[k];
			break;
		case REEL_TASK_TAG:
		case REEL_TASK_LM:
		case REEL_TASK_CTC: /* labels left-aligned, -100 after them */
			for (int t = 0; t < len; t++)
				if (reel__push_lab(set, ti[(size_t)t * N + k]))
					goto nomem;
			break;
		case REEL_TASK_SEQ2SEQ: {
			int tl = 0;
			while ((size_t)tl < TT && ti[(size_t)tl * N + k] != 2)
				tl++;
			if ((size_t)tl == TT) {
				reel_err_set(err, REEL_ERR_IO, "%s: \"targets\"[:, %zu]: expected ids ending in eos (2), found no eos",
				             path, k);
				goto out;
			}
			e->out_len = tl;
			for (int t = 0; t < tl; t++)
				if (reel__push_lab(set, ti[(size_t)t * N + k]))
					goto nomem;
			d->info.max_len = tl + 1 > d->info.max_len ? tl + 1 : d->info.max_len;
			break;
		}
		case REEL_TASK_REGRESS:
			for (size_t t = 0; t < (d->o.per_step ? (size_t)len : 1); t++)
				for (size_t c = 0; c < O; c++) {
					size_t at = d->o.per_step ? (t * N + k) * O + c : k * O + c;
					if (!isfinite(yv[at])) {
						reel_err_set(err, REEL_ERR_IO, "%s: \"targets\" element %zu (example %zu): expected a finite number, "
						             "found %g", path, at, k, (double)yv[at]);
						goto out;
					}
					if (reel__push_y(set, yv[at]))
						goto nomem;
				}
			break;
		}
		if (t_ints && task != REEL_TASK_SEQ2SEQ) {
			const int32_t *l = task == REEL_TASK_CLASSIFY ? &e->label : set->lab + e->out;
			for (int t = 0; t < (task == REEL_TASK_CLASSIFY ? 1 : len); t++) {
				if ((l[t] < 0 && l[t] != REEL_DATA_IGNORE) || l[t] >= REEL_MAX_VOCAB) {
					reel_err_set(err, REEL_ERR_IO,
					             "%s: \"targets\" of example %zu: expected a class in [0, %d) or %d, found %d", path, k,
					             REEL_MAX_VOCAB, REEL_DATA_IGNORE, (int)l[t]);
					goto out;
				}
				d->info.classes = l[t] + 1 > d->info.classes ? l[t] + 1 : d->info.classes;
			}
		}
		if (task == REEL_TASK_SEQ2SEQ)
			for (int t = 0; t < e->out_len; t++) {
				int32_t id = set->lab[e->out + t];
				if (id < 0) { /* the decoder would embed it: an index below its table */
					reel_err_set(err, REEL_ERR_IO, "%s: \"targets\"[%d, %zu]: expected an id >= 0, found %d", path, t, k,
					             (int)id);
					goto out;
				}
				d->info.tgt_vocab = id + 1 > d->info.tgt_vocab ? id + 1 : d->info.tgt_vocab;
			}
		d->info.max_len = len > d->info.max_len ? len : d->info.max_len;
	}
	rc = 0;
	goto out;
nomem:
	oom(err);
out:
	free(xv);
	free(iv);
	free(li);
	free(yv);
	free(ti);
	return rc;
}

static int open_safetensors(reel_data *d, const reel_data_opts *o, reel_err *err)
{
	if (!o->path || !*o->path)
		return reel_err_set(err, REEL_ERR_CONFIG, "data: source safetensors needs a path"), -1;
	const char *p[3] = {o->path, o->valid_path, o->test_path};
	char *path[3] = {NULL, NULL, NULL};
	int rc = 0;
	for (int s = 0; s < 3 && !rc; s++) {
		if (!p[s])
			continue;
		/* resolve the path as the text readers do */
		int join = o->dir && *o->dir && p[s][0] != '/';
		size_t n = strlen(p[s]) + (join ? strlen(o->dir) + 2 : 1);
		if (!(path[s] = reel__malloc(n))) {
			rc = oom(err);
			break;
		}
		if (join)
			snprintf(path[s], n, "%s%s%s", o->dir, o->dir[strlen(o->dir) - 1] == '/' ? "" : "/", p[s]);
		else
			memcpy(path[s], p[s], n);
		reel_st_file *st = NULL;
		rc = reel_st_read(path[s], &st, err) != REEL_OK ? -1 : st_load(d, st, path[s], s, s == 0, err);
		reel_st_free(st);
	}
	for (int s = 0; s < 3 && !rc; s++)
		if (requested(o, s) && !d->sp[s].set.n)
			rc = empty_split("data: safetensors", path[s] ? path[s] : path[0], s, err);
	for (int s = 0; s < 3; s++)
		free(path[s]);
	if (rc)
		return -1;
	for (int s = 0; s < 3; s++) {
		d->sp[s].kind = REEL__FIXED;
		d->info.n[s] = (long)d->sp[s].set.n;
	}
	d->info.tokens_in = d->tokens_in;
	d->info.features = d->F;
	d->info.outputs = d->O;
	if (d->task == REEL_TASK_SEQ2SEQ) {
		d->info.src_vocab = d->info.vocab;
		d->info.tgt_vocab = d->info.tgt_vocab > 3 ? d->info.tgt_vocab : 3;
		d->info.bos = 1;
		d->info.eos = 2;
		d->info.pad = 0;
	}
	return 0;
}

int reel__file_open(reel_data *d, const reel_data_opts *o, reel_err *err)
{
	if (!strcmp(d->source, "text"))
		return open_text(d, o, err);
	if (!strcmp(d->source, "csv"))
		return open_csv(d, o, err);
	if (!strcmp(d->source, "safetensors"))
		return open_safetensors(d, o, err);
	return open_lines(d, o, err);
}

/* ---- a user's text as input ids (data.h) ---- */

int reel_data_encode(const reel_data *d, const char *s, size_t n, int32_t **ids, int *unknown, reel_err *err)
{
	*ids = NULL;
	if (unknown)
		*unknown = 0;
	if (!d->tokens_in && !d->in_vocab.n)
		return reel_err_set(err, REEL_ERR_ARG, "data: %s takes real-valued inputs, not text", d->source), -1;
	int words = d->o.tokens_words;
	int32_t unk = reel__vocab_find(&d->in_vocab, "<unk>", 5);
	long count = count_toks(s, n, words);
	if (count > INT_MAX / 2)
		return reel_err_set(err, REEL_ERR_ARG, "data: input of more than %d tokens", INT_MAX / 2), -1;
	*ids = reel__malloc((size_t)(count ? count : 1) * sizeof **ids);
	if (!*ids)
		return oom(err);
	size_t pos = 0;
	const char *t;
	int l, k = 0;
	while (next_tok(s, n, &pos, words, &t, &l)) {
		int32_t id = reel__vocab_find(&d->in_vocab, t, l);
		if (id <= 0) { /* not in the vocabulary, or the padding token (id 0) typed literally */
			if (unk < 0) {
				reel_err_set(err, REEL_ERR_ARG, "\"%.*s\" is not in the input vocabulary of %s (which has no <unk>)",
				             l > 40 ? 40 : l, t, d->source);
				free(*ids);
				*ids = NULL;
				return -1;
			}
			id = unk;
			if (unknown)
				(*unknown)++;
		}
		(*ids)[k++] = id;
	}
	return k;
}
