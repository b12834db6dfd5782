/* Strict, located config reading (see config.h). */
#include "config.h"
#include "fault.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ERRORS 64

struct reel_cfg {
	char *name, *dir;
	cJSON *root;
	int describe;
	int nerr;
	int nomem;        /* memory ran out: the tree or the errors are incomplete */
	char *errs;       /* "name: /path: msg\n"... */
	size_t errs_len;
	char *desc;       /* describe mode text */
	size_t desc_len;
	char **strs;      /* strings handed out (owned) */
	int nstrs, capstrs;
};

/* ---- small string buffers ------------------------------------------------ */

/* Returns 0 if memory ran out (buf unchanged). */
static int append(char **buf, size_t *len, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return 1;
	char *nb = reel__realloc(*buf, *len + (size_t)n + 1);
	if (!nb)
		return 0;
	vsnprintf(nb + *len, (size_t)n + 1, fmt, ap);
	*buf = nb;
	*len += (size_t)n;
	return 1;
}

static int appendf(char **buf, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int appendf(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ok = append(buf, len, fmt, ap);
	va_end(ap);
	return ok;
}

/* Put v under key in obj, replacing a value there, keeping its position.
 * Returns 0 (v freed) if memory ran out or v is NULL (its creation
 * failed).  Not cJSON_ReplaceItemInObject: cJSON 1.7.15 inserts the
 * replacement with a NULL name when copying the name fails. */
static int set_key(cJSON *obj, const char *key, cJSON *v)
{
	if (!v)
		return 0;
	cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!old) {
		if (cJSON_AddItemToObject(obj, key, v))
			return 1;
		cJSON_Delete(v);
		return 0;
	}
	char *name = reel__strdup(key); /* freed by cJSON_Delete, whose free is free() */
	if (!name) {
		cJSON_Delete(v);
		return 0;
	}
	free(v->string);
	v->string = name;
	v->type &= ~cJSON_StringIsConst;
	cJSON_ReplaceItemViaPointer(obj, old, v);
	return 1;
}

static const char *keep(reel_cfg *c, const char *s)
{
	if (c->nstrs == c->capstrs) {
		int cap = c->capstrs ? 2 * c->capstrs : 16;
		char **n = reel__realloc(c->strs, (size_t)cap * sizeof *n);
		if (!n)
			return s;
		c->strs = n;
		c->capstrs = cap;
	}
	char *d = reel__strdup(s);
	if (!d)
		return s;
	c->strs[c->nstrs++] = d;
	return d;
}

/* Append sep + s to buf (size n), truncating: paths are for messages. */
static void join(char *buf, size_t n, const char *sep, const char *s)
{
	size_t l = strlen(buf);
	for (const char *p = sep; *p && l + 1 < n; p++)
		buf[l++] = *p;
	for (const char *p = s; *p && l + 1 < n; p++)
		buf[l++] = *p;
	buf[l] = 0;
}

/* ---- errors ---------------------------------------------------------------- */

static void verror(reel_cfg *c, const char *path, const char *key, const char *fmt, va_list ap)
{
	c->nerr++;
	if (c->nerr > MAX_ERRORS)
		return;
	int ok = appendf(&c->errs, &c->errs_len, "%s: %s%s%s: ", c->name, path, key ? "/" : path[0] ? "" : "/",
	                 key ? key : "");
	ok = ok && append(&c->errs, &c->errs_len, fmt, ap);
	ok = ok && appendf(&c->errs, &c->errs_len, "\n");
	if (ok && c->nerr == MAX_ERRORS)
		ok = appendf(&c->errs, &c->errs_len, "%s: (more errors not shown)\n", c->name);
	if (!ok)
		c->nomem = 1;
}

void reel_cfg_error(reel_cfg_obj *o, const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verror(o->c, o->path, key, fmt, ap);
	va_end(ap);
}

/* A JSON value as the user wrote it, shortened, for "found ..." */
static void found(const cJSON *v, char *out, size_t n)
{
	char *s = cJSON_PrintUnformatted(v);
	if (!s) {
		snprintf(out, n, "(a value)");
		return;
	}
	const char *kind = cJSON_IsString(v) ? "" : cJSON_IsObject(v) ? "an object " : cJSON_IsArray(v) ? "an array " : "";
	if (strlen(s) > 40)
		snprintf(out, n, "%s%.37s...", kind, s);
	else
		snprintf(out, n, "%s%s", kind, s);
	free(s);
}

int reel_cfg_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 99;
	int d[65][65];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
			int m = sub < del ? sub : del;
			d[i][j] = m < ins ? m : ins;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1; /* a transposition is one edit */
		}
	return d[la][lb];
}

/* ", did you mean \"x\"?" when a candidate is close enough, else "". */
static void suggest(const char *got, const char *const *cands, int n, char *out, size_t len)
{
	int best = 99, bi = -1;
	for (int i = 0; i < n; i++) {
		int d = reel_cfg_distance(got, cands[i]);
		if (d < best) {
			best = d;
			bi = i;
		}
	}
	int limit = strlen(got) <= 4 ? 1 : strlen(got) <= 8 ? 2 : 3;
	if (bi >= 0 && best <= limit)
		snprintf(out, len, "; did you mean \"%s\"?", cands[bi]);
	else
		out[0] = 0;
}

/* ---- loading --------------------------------------------------------------- */

static void line_col(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && text[i]; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* Split "a.b.0.c" or "/a/b/0/c" into components; apply value at the end. */
static int apply_set(reel_cfg *c, const char *set, reel_err *err)
{
	const char *eq = strchr(set, '=');
	if (!eq || eq == set)
		return reel_err_set(err, REEL_ERR_CONFIG, "--set %s: expected path=value (e.g. train.optimizer.lr=3e-4)", set),
		       0;
	char path[REEL_CFG_MAX_PATH];
	size_t pl = (size_t)(eq - set);
	if (pl >= sizeof path)
		return reel_err_set(err, REEL_ERR_CONFIG, "--set: path too long"), 0;
	memcpy(path, set, pl);
	path[pl] = 0;
	const char *val = eq + 1;
	cJSON *v = cJSON_Parse(val);
	if (!v)
		v = cJSON_CreateString(val); /* a bare word is a string */
	if (!v)
		return reel_err_set(err, REEL_ERR_NOMEM, "--set: out of memory"), 0;
	char sep = path[0] == '/' ? '/' : '.';
	char *p = path[0] == '/' ? path + 1 : path;
	cJSON *node = c->root;
	char shown[REEL_CFG_MAX_PATH] = "";
	for (;;) {
		char *next = strchr(p, sep);
		if (next)
			*next = 0;
		if (!*p) {
			cJSON_Delete(v);
			return reel_err_set(err, REEL_ERR_CONFIG, "--set %s: empty path component", set), 0;
		}
		join(shown, sizeof shown, "/", p);
		if (cJSON_IsArray(node)) {
			char *end;
			long i = strtol(p, &end, 10);
			int n = cJSON_GetArraySize(node);
			if (*end || i < 0 || i >= n) {
				cJSON_Delete(v);
				return reel_err_set(err, REEL_ERR_CONFIG, "--set %s: %s: expected an index in [0, %d), found \"%s\"",
				                    set, shown, n, p),
				       0;
			}
			if (!next) {
				cJSON_ReplaceItemInArray(node, (int)i, v); /* moves pointers only */
				return 1;
			}
			node = cJSON_GetArrayItem(node, (int)i);
		} else if (cJSON_IsObject(node)) {
			cJSON *child = cJSON_GetObjectItemCaseSensitive(node, p);
			if (!next) {
				if (!set_key(node, p, v))
					return reel_err_set(err, REEL_ERR_NOMEM, "--set: out of memory"), 0;
				return 1;
			}
			if (!child) { /* create the section; its keys are then checked like the file's */
				child = cJSON_AddObjectToObject(node, p);
				if (!child) {
					cJSON_Delete(v);
					return reel_err_set(err, REEL_ERR_NOMEM, "--set: out of memory"), 0;
				}
			}
			node = child;
		} else {
			cJSON_Delete(v);
			*strrchr(shown, '/') = 0;
			return reel_err_set(err, REEL_ERR_CONFIG, "--set %s: %s is not an object or array", set,
			                    shown[0] ? shown : "/"),
			       0;
		}
		p = next + 1;
	}
}

reel_cfg *reel_cfg_parse(const char *name, const char *text, const char *const *sets, int nsets, reel_err *err)
{
	reel_cfg *c = reel__calloc(1, sizeof *c);
	if (!c || !(c->name = reel__strdup(name))) {
		free(c);
		reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", name);
		return NULL;
	}
	const char *slash = strrchr(name, '/');
	c->dir = slash ? reel__strndup(name, (size_t)(slash - name)) : reel__strdup(".");
	if (!c->dir) {
		reel_cfg_free(c);
		reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", name);
		return NULL;
	}
	const char *end = NULL;
	c->root = cJSON_ParseWithOpts(text, &end, 1);
	if (!c->root) {
		int line, col;
		size_t off = end ? (size_t)(end - text) : 0;
		line_col(text, off, &line, &col);
		const char *what = text[off] ? "unexpected character" : "unexpected end of file";
		char near[16];
		size_t k = 0;
		for (; k + 1 < sizeof near && text[off + k] && text[off + k] != '\n' && text[off + k] != '\r'; k++)
			near[k] = (unsigned char)text[off + k] < 32 ? '?' : text[off + k];
		near[k] = 0;
		reel_err_set(err, REEL_ERR_CONFIG, "%s:%d:%d: JSON syntax error: %s%s%s%s", name, line, col, what,
		             text[off] ? " near \"" : "", near, text[off] ? "\"" : "");
		reel_cfg_free(c);
		return NULL;
	}
	if (!cJSON_IsObject(c->root)) {
		char f[64];
		found(c->root, f, sizeof f);
		reel_err_set(err, REEL_ERR_CONFIG, "%s: /: expected an object with format, task, data, model, train, found %s",
		             name, f);
		reel_cfg_free(c);
		return NULL;
	}
	for (int i = 0; i < nsets; i++)
		if (!apply_set(c, sets[i], err)) {
			reel_cfg_free(c);
			return NULL;
		}
	return c;
}

reel_cfg *reel_cfg_load(const char *path, const char *const *sets, int nsets, reel_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		reel_err_set(err, REEL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	char *text = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? 2 * cap : 65536;
			if (cap > (64u << 20)) {
				fclose(f);
				free(text);
				reel_err_set(err, REEL_ERR_CONFIG, "%s: larger than 64 MiB: not a config", path);
				return NULL;
			}
			char *n = reel__realloc(text, cap);
			if (!n) {
				fclose(f);
				free(text);
				reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
				return NULL;
			}
			text = n;
		}
		size_t got = fread(text + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(text);
		reel_err_set(err, REEL_ERR_IO, "%s: read error (is it a directory?)", path);
		return NULL;
	}
	text[len] = 0;
	if (strlen(text) != len) {
		free(text);
		reel_err_set(err, REEL_ERR_CONFIG, "%s: contains a NUL byte: not a JSON config", path);
		return NULL;
	}
	reel_cfg *c = reel_cfg_parse(path, text, sets, nsets, err);
	free(text);
	return c;
}

reel_cfg *reel_cfg_describe(void)
{
	reel_cfg *c = reel__calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->name = reel__strdup("(describe)");
	c->dir = reel__strdup(".");
	c->describe = 1;
	return c;
}

void reel_cfg_free(reel_cfg *c)
{
	if (!c)
		return;
	cJSON_Delete(c->root);
	for (int i = 0; i < c->nstrs; i++)
		free(c->strs[i]);
	free(c->strs);
	free(c->errs);
	free(c->desc);
	free(c->name);
	free(c->dir);
	free(c);
}

const char *reel_cfg_name(const reel_cfg *c) { return c->name; }
const char *reel_cfg_dir(const reel_cfg *c) { return c->dir; }
int reel_cfg_describing(const reel_cfg *c) { return c->describe; }
int reel_cfg_nerrors(const reel_cfg *c) { return c->nerr; }
int reel_cfg_nomem(const reel_cfg *c) { return c->nomem; }
const char *reel_cfg_errors(const reel_cfg *c) { return c->errs ? c->errs : ""; }
const char *reel_cfg_description(const reel_cfg *c) { return c->desc ? c->desc : ""; }

void reel_cfg_section(reel_cfg *c, const char *title, const char *doc)
{
	if (c->describe)
		appendf(&c->desc, &c->desc_len, "\n%s%s%s\n", title, doc ? "  " : "", doc ? doc : "");
}

char *reel_cfg_print(const reel_cfg *c)
{
	return c->root ? cJSON_Print(c->root) : NULL;
}

/* ---- reading ------------------------------------------------------------------ */

reel_cfg_obj reel_cfg_root(reel_cfg *c)
{
	reel_cfg_obj o = {.c = c, .j = c->root};
	return o;
}

static void note_key(reel_cfg_obj *o, const char *key)
{
	for (int i = 0; i < o->nkeys; i++)
		if (!strcmp(o->keys[i], key))
			return;
	if (o->nkeys < REEL_CFG_MAX_KEYS)
		o->keys[o->nkeys++] = key;
}

/* "  train.optimizer.lr   number = 0.001   learning rate" */
static void describe(reel_cfg_obj *o, const char *key, const char *type, const char *doc)
{
	char full[REEL_CFG_MAX_PATH];
	size_t l = 0;
	for (const char *p = o->path[0] == '/' ? o->path + 1 : o->path; *p && l + 1 < sizeof full; p++)
		full[l++] = *p == '/' ? '.' : *p;
	full[l] = 0;
	join(full, sizeof full, l ? "." : "", key);
	appendf(&o->c->desc, &o->c->desc_len, "  %-32s %-28s %s\n", full, type, doc ? doc : "");
}

/* The value of key in o, or NULL; notes the key as known. */
static cJSON *get(reel_cfg_obj *o, const char *key)
{
	note_key(o, key);
	return o->j ? cJSON_GetObjectItemCaseSensitive(o->j, key) : NULL;
}

static int writable(reel_cfg_obj *o)
{
	return o->j && !o->c->describe && cJSON_IsObject(o->j);
}

/* Fill a missing key with its default, so the tree becomes the resolved config. */
static void fill(reel_cfg_obj *o, const char *key, cJSON *v)
{
	if (!writable(o))
		cJSON_Delete(v);
	else if (!set_key((cJSON *)o->j, key, v))
		o->c->nomem = 1;
}

int reel_cfg_has(reel_cfg_obj *o, const char *key)
{
	return o->j && cJSON_GetObjectItemCaseSensitive(o->j, key) != NULL;
}

static void child_path(char *out, const char *path, const char *key)
{
	out[0] = 0;
	join(out, REEL_CFG_MAX_PATH, "", path);
	join(out, REEL_CFG_MAX_PATH, "/", key);
}

reel_cfg_obj reel_cfg_child(reel_cfg_obj *o, const char *key, const char *doc)
{
	reel_cfg_obj ch = {.c = o->c};
	child_path(ch.path, o->path, key);
	cJSON *v = get(o, key);
	(void)doc; /* children are documented by their keys */
	if (o->c->describe)
		return ch; /* its keys are described with their full paths */
	if (!v && writable(o) && !(v = cJSON_AddObjectToObject((cJSON *)o->j, key)))
		o->c->nomem = 1;
	if (v && !cJSON_IsObject(v)) {
		char f[64];
		found(v, f, sizeof f);
		reel_cfg_error(o, key, "expected an object, found %s", f);
		v = NULL;
	}
	ch.j = v;
	return ch;
}

void reel_cfg_end(reel_cfg_obj *o)
{
	if (!o->j || o->c->describe)
		return;
	const cJSON *it;
	cJSON_ArrayForEach(it, o->j)
	{
		int known = 0;
		for (int i = 0; i < o->nkeys && !known; i++)
			known = !strcmp(o->keys[i], it->string);
		if (!known) {
			char sug[96], list[400] = "";
			suggest(it->string, o->keys, o->nkeys, sug, sizeof sug);
			if (!sug[0]) {
				size_t l = 0;
				for (int i = 0; i < o->nkeys && l + 40 < sizeof list; i++)
					l += (size_t)snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "; expected one of: ", o->keys[i]);
			}
			reel_cfg_error(o, it->string, "unknown key%s%s", sug, list);
		}
	}
}

int reel_cfg_array(reel_cfg_obj *o, const char *key, int required, const char *doc)
{
	cJSON *v = get(o, key);
	if (o->c->describe) {
		describe(o, key, "array", doc);
		return 0;
	}
	if (!v) {
		if (required && o->j)
			reel_cfg_error(o, key, "missing: expected a non-empty array");
		return 0;
	}
	if (!cJSON_IsArray(v)) {
		char f[64];
		found(v, f, sizeof f);
		reel_cfg_error(o, key, "expected an array, found %s", f);
		return 0;
	}
	int n = cJSON_GetArraySize(v);
	if (required && n == 0)
		reel_cfg_error(o, key, "expected a non-empty array, found []");
	return n;
}

reel_cfg_obj reel_cfg_elem(reel_cfg_obj *o, const char *key, int i)
{
	reel_cfg_obj e = {.c = o->c};
	char idx[16];
	snprintf(idx, sizeof idx, "%d", i);
	child_path(e.path, o->path, key);
	join(e.path, sizeof e.path, "/", idx);
	cJSON *arr = o->j ? cJSON_GetObjectItemCaseSensitive(o->j, key) : NULL;
	cJSON *v = arr ? cJSON_GetArrayItem(arr, i) : NULL;
	if (v && !cJSON_IsObject(v)) {
		char f[64];
		found(v, f, sizeof f);
		reel_cfg_error(&e, NULL, "expected an object, found %s", f);
		v = NULL;
	}
	e.j = v;
	return e;
}

/* An integral JSON number in [lo, hi]?  Writes why not into why. */
static int as_int(const cJSON *v, int lo, int hi, int *out)
{
	if (!cJSON_IsNumber(v))
		return 0;
	double d = v->valuedouble;
	if (!(d == floor(d)) || d < lo || d > hi)
		return 0;
	*out = (int)d;
	return 1;
}

/* An array of strings (ints NULL) or of integers in [lo, hi] (strs NULL)
 * into out (up to max). */
static int read_array(reel_cfg_obj *o, const char *key, const char **strs, int *ints, int max, int lo, int hi,
                      const char *doc)
{
	const char *what = strs ? "array of strings" : "array of integers";
	cJSON *v = get(o, key);
	if (o->c->describe) {
		describe(o, key, what, doc);
		return 0;
	}
	if (!v)
		return 0;
	if (!cJSON_IsArray(v)) {
		char f[64];
		found(v, f, sizeof f);
		reel_cfg_error(o, key, "expected an %s, found %s", what, f);
		return 0;
	}
	int n = 0, i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, v)
	{
		char sub[96];
		snprintf(sub, sizeof sub, "%.60s/%d", key, i++);
		int x = 0, ok = strs ? cJSON_IsString(it) : as_int(it, lo, hi, &x);
		if (!ok) {
			char f[64];
			found(it, f, sizeof f);
			if (strs)
				reel_cfg_error(o, sub, "expected a string, found %s", f);
			else
				reel_cfg_error(o, sub, "expected an integer in [%d, %d], found %s", lo, hi, f);
		} else if (n < max) {
			if (strs)
				strs[n++] = keep(o->c, it->valuestring);
			else
				ints[n++] = x;
		} else {
			reel_cfg_error(o, sub, "too many entries: at most %d", max);
			break;
		}
	}
	return n;
}

int reel_cfg_strings(reel_cfg_obj *o, const char *key, const char **out, int max, const char *doc)
{
	return read_array(o, key, out, NULL, max, 0, 0, doc);
}

int reel_cfg_ints(reel_cfg_obj *o, const char *key, int *out, int max, int lo, int hi, const char *doc)
{
	return read_array(o, key, NULL, out, max, lo, hi, doc);
}

static void range_text(char *out, size_t n, int lo, int hi)
{
	if (lo == 1 && hi == INT32_MAX)
		snprintf(out, n, "a positive integer");
	else if (lo == 0 && hi == INT32_MAX)
		snprintf(out, n, "a non-negative integer");
	else
		snprintf(out, n, "an integer in [%d, %d]", lo, hi);
}

static int read_int(reel_cfg_obj *o, const char *key, int def, int lo, int hi, const char *doc, int allow_auto)
{
	cJSON *v = get(o, key);
	char want[64];
	range_text(want, sizeof want, lo, hi);
	if (o->c->describe) {
		char type[96];
		if (def == REEL_CFG_REQUIRED)
			snprintf(type, sizeof type, "int%s, required", allow_auto ? "|\"auto\"" : "");
		else if (def == REEL_CFG_AUTO && allow_auto)
			snprintf(type, sizeof type, "int|\"auto\" = \"auto\"");
		else
			snprintf(type, sizeof type, "int%s = %d", allow_auto ? "|\"auto\"" : "", def);
		describe(o, key, type, doc);
		return def == REEL_CFG_REQUIRED ? lo : def;
	}
	if (!v) {
		if (def == REEL_CFG_REQUIRED) {
			if (o->j)
				reel_cfg_error(o, key, "missing: expected %s%s", want, allow_auto ? " or \"auto\"" : "");
			return lo;
		}
		fill(o, key, def == REEL_CFG_AUTO && allow_auto ? cJSON_CreateString("auto") : cJSON_CreateNumber(def));
		return def;
	}
	if (allow_auto && cJSON_IsString(v) && !strcmp(v->valuestring, "auto"))
		return REEL_CFG_AUTO;
	int x;
	if (as_int(v, lo, hi, &x))
		return x;
	char f[64];
	found(v, f, sizeof f);
	reel_cfg_error(o, key, "expected %s%s, found %s", want, allow_auto ? " or \"auto\"" : "", f);
	return def == REEL_CFG_REQUIRED || def == REEL_CFG_AUTO ? lo : def;
}

int reel_cfg_int(reel_cfg_obj *o, const char *key, int def, int lo, int hi, const char *doc)
{
	return read_int(o, key, def, lo, hi, doc, 0);
}

int reel_cfg_size(reel_cfg_obj *o, const char *key, int def, int lo, int hi, const char *doc)
{
	return read_int(o, key, def, lo, hi, doc, 1);
}

static double read_real(reel_cfg_obj *o, const char *key, double def, int required, double lo, double hi,
                        const char *doc)
{
	cJSON *v = get(o, key);
	if (o->c->describe) {
		char type[64];
		if (required)
			snprintf(type, sizeof type, "number, required");
		else
			snprintf(type, sizeof type, "number = %g", def);
		describe(o, key, type, doc);
		return def;
	}
	if (!v) {
		if (required && o->j)
			reel_cfg_error(o, key, "missing: expected a number in [%g, %g]", lo, hi);
		else if (!required)
			fill(o, key, cJSON_CreateNumber(def));
		return def;
	}
	if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= lo && v->valuedouble <= hi)
		return v->valuedouble;
	char f[64];
	found(v, f, sizeof f);
	reel_cfg_error(o, key, "expected a number in [%g, %g], found %s", lo, hi, f);
	return def;
}

double reel_cfg_real(reel_cfg_obj *o, const char *key, double def, double lo, double hi, const char *doc)
{
	return read_real(o, key, def, 0, lo, hi, doc);
}

double reel_cfg_real_req(reel_cfg_obj *o, const char *key, double lo, double hi, const char *doc)
{
	return read_real(o, key, lo, 1, lo, hi, doc);
}

int reel_cfg_bool(reel_cfg_obj *o, const char *key, int def, const char *doc)
{
	cJSON *v = get(o, key);
	if (o->c->describe) {
		describe(o, key, def ? "bool = true" : "bool = false", doc);
		return def;
	}
	if (!v) {
		fill(o, key, cJSON_CreateBool(def));
		return def;
	}
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v);
	char f[64];
	found(v, f, sizeof f);
	reel_cfg_error(o, key, "expected true or false, found %s", f);
	return def;
}

const char *reel_cfg_str(reel_cfg_obj *o, const char *key, const char *def, const char *doc)
{
	cJSON *v = get(o, key);
	if (o->c->describe) {
		char type[96];
		snprintf(type, sizeof type, def ? "string = \"%s\"" : "string, required", def ? def : "");
		describe(o, key, type, doc);
		return def ? def : "";
	}
	if (!v) {
		if (!def) {
			if (o->j)
				reel_cfg_error(o, key, "missing: expected a string");
			return "";
		}
		fill(o, key, cJSON_CreateString(def));
		return def;
	}
	if (cJSON_IsString(v))
		return v->valuestring;
	char f[64];
	found(v, f, sizeof f);
	reel_cfg_error(o, key, "expected a string, found %s", f);
	return def ? def : "";
}

int reel_cfg_enum(reel_cfg_obj *o, const char *key, int def, const char *const *choices, const char *doc)
{
	int n = 0;
	while (choices[n])
		n++;
	char list[400];
	size_t l = 0;
	list[0] = 0;
	for (int i = 0; i < n && l + 2 < sizeof list; i++)
		l += (size_t)snprintf(list + l, sizeof list - l, "%s\"%s\"", i ? ", " : "", choices[i]);
	cJSON *v = get(o, key);
	if (o->c->describe) {
		char type[480];
		if (def >= 0)
			snprintf(type, sizeof type, "one of %s = \"%s\"", list, choices[def]);
		else
			snprintf(type, sizeof type, "one of %s, required", list);
		describe(o, key, type, doc);
		return def >= 0 ? def : 0;
	}
	if (!v) {
		if (def < 0) {
			if (o->j)
				reel_cfg_error(o, key, "missing: expected one of %s", list);
			return 0;
		}
		fill(o, key, cJSON_CreateString(choices[def]));
		return def;
	}
	if (cJSON_IsString(v)) {
		for (int i = 0; i < n; i++)
			if (!strcmp(v->valuestring, choices[i]))
				return i;
		char sug[96];
		suggest(v->valuestring, choices, n, sug, sizeof sug);
		reel_cfg_error(o, key, "expected one of %s, found \"%s\"%s", list, v->valuestring, sug);
		return def >= 0 ? def : 0;
	}
	char f[64];
	found(v, f, sizeof f);
	reel_cfg_error(o, key, "expected one of %s, found %s", list, f);
	return def >= 0 ? def : 0;
}

uint64_t reel_cfg_seed(reel_cfg_obj *o, const char *key, uint64_t def, const char *doc)
{
	int s = reel_cfg_int(o, key, (int)def, 0, INT32_MAX, doc);
	return (uint64_t)s;
}

/* ---- resolving ------------------------------------------------------------------- */

static void resolve(reel_cfg_obj *o, const char *key, cJSON *v)
{
	if (!writable(o)) {
		cJSON_Delete(v);
		return;
	}
	if (!set_key((cJSON *)o->j, key, v))
		o->c->nomem = 1;
}

void reel_cfg_resolve_int(reel_cfg_obj *o, const char *key, int v) { resolve(o, key, cJSON_CreateNumber(v)); }
void reel_cfg_resolve_real(reel_cfg_obj *o, const char *key, double v) { resolve(o, key, cJSON_CreateNumber(v)); }
void reel_cfg_resolve_str(reel_cfg_obj *o, const char *key, const char *v) { resolve(o, key, cJSON_CreateString(v)); }
