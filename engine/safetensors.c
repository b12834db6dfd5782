/* Safetensors: strict reader and atomic writer (format in safetensors.h). */
#include "safetensors.h"
#include "fault.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HEADER (100u << 20)

struct reel_st_file {
	unsigned char *buf; /* the whole file */
	reel_st_tensor *t;
	int n;
	char **meta_kv;     /* 2 * nmeta strings */
	int nmeta;
	cJSON *json;        /* owns the names */
};

static const char *const dtype_names[] = {"F32", "F64", "I32", "I64"};
static const size_t dtype_size[] = {4, 8, 4, 8};

static int host_is_little_endian(void)
{
	uint16_t x = 1;
	unsigned char c;
	memcpy(&c, &x, 1);
	return c == 1;
}

void reel_st_free(reel_st_file *f)
{
	if (!f)
		return;
	cJSON_Delete(f->json);
	free(f->buf);
	free(f->t);
	free(f->meta_kv);
	free(f);
}

static int cmp_offset(const void *a, const void *b)
{
	const reel_st_tensor *x = a, *y = b;
	return x->bytes < y->bytes ? -1 : x->bytes > y->bytes;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp((*(const reel_st_tensor *const *)a)->name, (*(const reel_st_tensor *const *)b)->name);
}

/* A JSON number that is a non-negative integer below 2^53. */
static int json_uint(const cJSON *v, uint64_t *out)
{
	if (!cJSON_IsNumber(v))
		return 0;
	double d = v->valuedouble;
	if (!(d >= 0 && d < 9007199254740992.0) || d != (double)(uint64_t)d)
		return 0;
	*out = (uint64_t)d;
	return 1;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when the
 * bytes there are not one: overlong forms, surrogates and code points past
 * U+10FFFF are invalid (RFC 3629). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	if (s[0] < 0x80)
		return 1;
	size_t len;
	unsigned lo = 0x80, hi = 0xbf; /* the range of the second byte */
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		if (s[0] == 0xe0)
			lo = 0xa0; /* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		if (s[0] == 0xf0)
			lo = 0x90; /* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f; /* past U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* 1 when the string s is valid UTF-8. */
static int utf8_ok(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq(u + i, n - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

/* s as it may appear in a message: printable ASCII and valid UTF-8 as they
 * are, quotes and backslashes escaped, every other byte (controls, invalid
 * UTF-8) as \xNN, cut with "..." when longer than the buffer.  Strings
 * from a file must never reach a terminal raw.  Returns buf. */
static const char *esc(const char *s, char *buf, size_t n)
{
	const unsigned char *u = (const unsigned char *)(s ? s : "(null)");
	size_t len = strlen((const char *)u), at = 0;
	for (size_t i = 0; i < len;) {
		char piece[8];
		size_t k = 1, pl;
		if (u[i] == '"' || u[i] == '\\') {
			piece[0] = '\\';
			piece[1] = (char)u[i];
			pl = 2;
		} else if (u[i] == '\n' || u[i] == '\t') {
			piece[0] = '\\';
			piece[1] = u[i] == '\n' ? 'n' : 't';
			pl = 2;
		} else if (u[i] >= 0x20 && u[i] < 0x7f) {
			piece[0] = (char)u[i];
			pl = 1;
		} else if (u[i] >= 0x80 && (k = utf8_seq(u + i, len - i)) > 0 &&
		           !(u[i] == 0xc2 && u[i + 1] < 0xa0)) { /* not a C1 control */
			memcpy(piece, u + i, k);
			pl = k;
		} else {
			k = 1;
			snprintf(piece, sizeof piece, "\\x%02x", u[i]);
			pl = 4;
		}
		if (at + pl + 4 > n) { /* room for "..." and the NUL */
			memcpy(buf + at, "...", 3);
			at += 3;
			break;
		}
		memcpy(buf + at, piece, pl);
		at += pl;
		i += k;
	}
	buf[at] = 0;
	return buf;
}

/* What a JSON value is, for messages: its number, or its kind. */
static const char *json_desc(const cJSON *v, char *buf, size_t n)
{
	if (cJSON_IsNumber(v))
		snprintf(buf, n, "%.17g", v->valuedouble);
	else
		snprintf(buf, n, "%s", cJSON_IsString(v) ? "a string" : cJSON_IsArray(v) ? "an array" :
		                       cJSON_IsObject(v) ? "an object" : cJSON_IsBool(v) ? "a boolean" :
		                       cJSON_IsNull(v) ? "null" : "not a value");
	return buf;
}

static reel_status parse_entry(const char *path, const cJSON *e, reel_st_tensor *t, uint64_t *begin,
                               uint64_t *end, reel_err *err)
{
	char nm[96], b1[96];
	esc(e->string, nm, sizeof nm);
	if (!cJSON_IsObject(e))
		return reel_err_set(err, REEL_ERR_IO, "%s: entry \"%s\": expected an object", path, nm);
	int seen = 0;
	for (const cJSON *k = e->child; k; k = k->next) {
		if (strcmp(k->string, "dtype") && strcmp(k->string, "shape") && strcmp(k->string, "data_offsets"))
			return reel_err_set(err, REEL_ERR_IO, "%s: entry \"%s\": unknown key \"%s\"", path, nm,
			                    esc(k->string, b1, sizeof b1));
		seen++;
	}
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
	const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
	if (!dt || !sh || !off || seen != 3)
		return reel_err_set(err, REEL_ERR_IO,
		                    "%s: entry \"%s\": expected exactly dtype, shape and data_offsets", path, nm);
	if (!cJSON_IsString(dt))
		return reel_err_set(err, REEL_ERR_IO, "%s: entry \"%s\": dtype must be a string", path, nm);
	int d = -1;
	for (int i = 0; i < 4; i++)
		if (!strcmp(dt->valuestring, dtype_names[i]))
			d = i;
	if (d < 0)
		return reel_err_set(err, REEL_ERR_IO,
		                    "%s: entry \"%s\": dtype %s is not supported (F32, F64, I32, I64)", path, nm,
		                    esc(dt->valuestring, b1, sizeof b1));
	t->dtype = (reel_dtype)d;
	if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) > REEL_ST_MAX_DIMS)
		return reel_err_set(err, REEL_ERR_IO,
		                    "%s: entry \"%s\": shape must be an array of at most %d integers", path, nm,
		                    REEL_ST_MAX_DIMS);
	t->ndim = 0;
	uint64_t count = 1;
	for (const cJSON *s = sh->child; s; s = s->next) {
		uint64_t v;
		if (!json_uint(s, &v) || v > INT32_MAX)
			return reel_err_set(err, REEL_ERR_IO,
			                    "%s: entry \"%s\": shape holds a bad dimension: shape[%d] is %s; expected an "
			                    "integer in [0, %d]",
			                    path, nm, t->ndim, json_desc(s, b1, sizeof b1), INT32_MAX);
		if (v && count > UINT64_MAX / 8 / v)
			return reel_err_set(err, REEL_ERR_IO, "%s: entry \"%s\": shape overflows", path, nm);
		count *= v;
		t->shape[t->ndim++] = (int64_t)v;
	}
	if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
		return reel_err_set(err, REEL_ERR_IO, "%s: entry \"%s\": data_offsets must be [begin, end]", path, nm);
	uint64_t *be[2] = {begin, end};
	int j = 0;
	for (const cJSON *o = off->child; o; o = o->next, j++)
		if (!json_uint(o, be[j]))
			return reel_err_set(err, REEL_ERR_IO,
			                    "%s: entry \"%s\": data_offsets[%d] is %s; expected an integer in [0, 2^53)",
			                    path, nm, j, json_desc(o, b1, sizeof b1));
	if (*begin > *end)
		return reel_err_set(err, REEL_ERR_IO, "%s: entry \"%s\": data_offsets: begin %llu is after end %llu",
		                    path, nm, (unsigned long long)*begin, (unsigned long long)*end);
	if (*end - *begin != count * dtype_size[d])
		return reel_err_set(err, REEL_ERR_IO,
		                    "%s: entry \"%s\": %llu bytes in data_offsets, but %s x %llu elements "
		                    "needs %llu",
		                    path, nm, (unsigned long long)(*end - *begin), dtype_names[d],
		                    (unsigned long long)count, (unsigned long long)(count * dtype_size[d]));
	t->count = (size_t)count;
	t->name = e->string;
	return REEL_OK;
}

static reel_status read_file(const char *path, unsigned char **buf, size_t *len, reel_err *err)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return reel_err_set(err, REEL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
	/* the size from fstat, not from seeking: a directory opens, and
	 * ftell at its "end" is LONG_MAX */
	struct stat st;
	if (fstat(fileno(fp), &st) != 0) {
		int en = errno;
		fclose(fp);
		return reel_err_set(err, REEL_ERR_IO, "%s: cannot stat: %s", path, strerror(en));
	}
	if (!S_ISREG(st.st_mode)) {
		fclose(fp);
		return reel_err_set(err, REEL_ERR_IO, "%s: %s", path,
		                    S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
	}
	if (st.st_size < 0 || (uint64_t)st.st_size >= SIZE_MAX) {
		fclose(fp);
		return reel_err_set(err, REEL_ERR_IO, "%s: its size (%lld bytes) cannot be held in memory", path,
		                    (long long)st.st_size);
	}
	size_t sz = (size_t)st.st_size;
	*buf = reel__malloc(sz + 1);
	if (!*buf) {
		fclose(fp);
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: no memory for its %zu bytes", path, sz);
	}
	size_t got = fread(*buf, 1, sz, fp);
	fclose(fp);
	if (got != sz) {
		free(*buf);
		*buf = NULL;
		return reel_err_set(err, REEL_ERR_IO, "%s: short read (%zu of %zu bytes)", path, got, sz);
	}
	*len = sz;
	return REEL_OK;
}

static reel_status parse(const char *path, reel_st_file *f, size_t len, reel_err *err)
{
	if (len < 8)
		return reel_err_set(err, REEL_ERR_IO, "%s: %zu bytes is too short for a safetensors file",
		                    path, len);
	uint64_t hl = 0;
	for (int i = 7; i >= 0; i--)
		hl = hl << 8 | f->buf[i];
	if (hl > MAX_HEADER || hl > len - 8)
		return reel_err_set(err, REEL_ERR_IO,
		                    "%s: header length %llu does not fit the file (%zu bytes)", path,
		                    (unsigned long long)hl, len);
	const char *hdr = (const char *)f->buf + 8, *hend = NULL;
	char b1[96], b2[96];
	if (hl == 0 || hdr[0] != '{')
		return reel_err_set(err, REEL_ERR_IO, "%s: header is not a JSON object (it must start with '{')", path);
	f->json = cJSON_ParseWithLengthOpts(hdr, (size_t)hl, &hend, 0);
	if (!f->json || !cJSON_IsObject(f->json))
		return reel_err_set(err, REEL_ERR_IO, "%s: header is not a JSON object (error at byte %zu of %llu)",
		                    path, hend && hend >= hdr ? (size_t)(hend - hdr) : (size_t)0, (unsigned long long)hl);
	/* the format lets spaces (0x20) pad the header after the JSON; nothing else */
	for (size_t i = (size_t)(hend - hdr); i < hl; i++)
		if (hdr[i] != ' ')
			return reel_err_set(err, REEL_ERR_IO,
			                    "%s: byte 0x%02x at byte %zu of the header, after the JSON (only spaces "
			                    "may pad it)",
			                    path, (unsigned char)hdr[i], i);
	/* JSON allows no raw control bytes (in a string they are escaped; cJSON
	 * would keep a NUL and cut the name there) */
	for (size_t i = 0; i < hl; i++)
		if ((unsigned char)hdr[i] < 0x20 && hdr[i] != '\t' && hdr[i] != '\n' && hdr[i] != '\r')
			return reel_err_set(err, REEL_ERR_IO, "%s: control byte 0x%02x at byte %zu of the header", path,
			                    (unsigned char)hdr[i], i);
	int n = 0, nmeta = 0;
	const cJSON *meta = NULL;
	for (const cJSON *e = f->json->child; e; e = e->next) {
		if (!utf8_ok(e->string))
			return reel_err_set(err, REEL_ERR_IO, "%s: tensor name \"%s\" is not valid UTF-8", path,
			                    esc(e->string, b1, sizeof b1));
		if (!strcmp(e->string, "__metadata__")) {
			if (meta)
				return reel_err_set(err, REEL_ERR_IO, "%s: __metadata__ appears twice", path);
			meta = e;
			if (!cJSON_IsObject(e))
				return reel_err_set(err, REEL_ERR_IO, "%s: __metadata__ must be an object", path);
			for (const cJSON *k = e->child; k; k = k->next) {
				if (!utf8_ok(k->string))
					return reel_err_set(err, REEL_ERR_IO, "%s: __metadata__ key \"%s\" is not valid UTF-8",
					                    path, esc(k->string, b1, sizeof b1));
				if (!cJSON_IsString(k))
					return reel_err_set(err, REEL_ERR_IO, "%s: __metadata__.%s: expected a string value, got %s",
					                    path, esc(k->string, b1, sizeof b1), json_desc(k, b2, sizeof b2));
				if (!utf8_ok(k->valuestring))
					return reel_err_set(err, REEL_ERR_IO, "%s: __metadata__.%s: value \"%s\" is not valid UTF-8",
					                    path, esc(k->string, b1, sizeof b1), esc(k->valuestring, b2, sizeof b2));
				nmeta++;
			}
		} else {
			n++;
		}
	}
	f->t = reel__calloc((size_t)n + 1, sizeof *f->t);
	f->meta_kv = reel__calloc(2 * (size_t)nmeta + 1, sizeof *f->meta_kv);
	if (!f->t || !f->meta_kv)
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
	const unsigned char *data = f->buf + 8 + hl;
	size_t dlen = len - 8 - (size_t)hl;
	uint64_t *ranges = reel__calloc(2 * (size_t)n + 1, sizeof *ranges);
	if (!ranges)
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
	int i = 0;
	for (const cJSON *e = f->json->child; e; e = e->next) {
		if (e == meta)
			continue;
		reel_status s = parse_entry(path, e, &f->t[i], &ranges[2 * i], &ranges[2 * i + 1], err);
		if (s != REEL_OK) {
			free(ranges);
			return s;
		}
		if (ranges[2 * i + 1] > dlen) {
			reel_err_set(err, REEL_ERR_IO, "%s: entry \"%s\": data_offsets end %llu is past the data (%zu bytes)",
			             path, esc(f->t[i].name, b1, sizeof b1), (unsigned long long)ranges[2 * i + 1], dlen);
			free(ranges);
			return REEL_ERR_IO;
		}
		f->t[i].bytes = data + ranges[2 * i];
		i++;
	}
	free(ranges);
	f->n = n;
	if (meta) {
		int m = 0;
		for (const cJSON *k = meta->child; k; k = k->next) {
			f->meta_kv[m++] = k->string;
			f->meta_kv[m++] = k->valuestring;
		}
		f->nmeta = nmeta;
	}
	/* names unique */
	const reel_st_tensor **byname = reel__malloc(((size_t)n + 1) * sizeof *byname);
	if (!byname)
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
	for (int j = 0; j < n; j++)
		byname[j] = &f->t[j];
	qsort(byname, (size_t)n, sizeof *byname, cmp_name);
	for (int j = 1; j < n; j++)
		if (!strcmp(byname[j]->name, byname[j - 1]->name)) {
			reel_err_set(err, REEL_ERR_IO, "%s: tensor \"%s\" appears twice", path,
			             esc(byname[j]->name, b1, sizeof b1));
			free(byname);
			return REEL_ERR_IO;
		}
	free(byname);
	/* byte ranges tile the data section: sort a copy by offset */
	reel_st_tensor *sorted = reel__malloc(((size_t)n + 1) * sizeof *sorted);
	if (!sorted)
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
	memcpy(sorted, f->t, (size_t)n * sizeof *sorted);
	qsort(sorted, (size_t)n, sizeof *sorted, cmp_offset);
	size_t at = 0;
	reel_status s = REEL_OK;
	for (int j = 0; j < n && s == REEL_OK; j++) {
		size_t b = (size_t)(sorted[j].bytes - data);
		if (b != at)
			s = reel_err_set(err, REEL_ERR_IO,
			                 "%s: entry \"%s\" starts at byte %zu of the data, expected %zu "
			                 "(offsets must be contiguous, without gaps or overlaps)",
			                 path, esc(sorted[j].name, b1, sizeof b1), b, at);
		at = b + sorted[j].count * dtype_size[sorted[j].dtype];
	}
	if (s == REEL_OK && at != dlen)
		s = reel_err_set(err, REEL_ERR_IO, "%s: tensors cover %zu bytes but the data section has %zu",
		                 path, at, dlen);
	free(sorted);
	return s;
}

reel_status reel_st_read(const char *path, reel_st_file **out, reel_err *err)
{
	*out = NULL;
	if (!host_is_little_endian())
		return reel_err_set(err, REEL_ERR_IO, "%s: safetensors support needs a little-endian host", path);
	reel_st_file *f = reel__calloc(1, sizeof *f);
	if (!f)
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
	size_t len = 0;
	reel_status s = read_file(path, &f->buf, &len, err);
	if (s == REEL_OK)
		s = parse(path, f, len, err);
	if (s != REEL_OK) {
		reel_st_free(f);
		return s;
	}
	*out = f;
	return REEL_OK;
}

reel_status reel_st_read_mem(const char *name, const void *bytes, size_t len, reel_st_file **out, reel_err *err)
{
	*out = NULL;
	if (!host_is_little_endian())
		return reel_err_set(err, REEL_ERR_IO, "%s: safetensors support needs a little-endian host", name);
	if (!bytes && len)
		return reel_err_set(err, REEL_ERR_ARG, "%s: bytes are NULL", name);
	reel_st_file *f = reel__calloc(1, sizeof *f);
	if (!f || len == SIZE_MAX || !(f->buf = reel__malloc(len + 1))) {
		reel_st_free(f);
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: no memory for a copy of %zu bytes", name, len);
	}
	if (len)
		memcpy(f->buf, bytes, len);
	reel_status s = parse(name, f, len, err);
	if (s != REEL_OK) {
		reel_st_free(f);
		return s;
	}
	*out = f;
	return REEL_OK;
}

int reel_st_count(const reel_st_file *f) { return f->n; }

const reel_st_tensor *reel_st_at(const reel_st_file *f, int i)
{
	return i >= 0 && i < f->n ? &f->t[i] : NULL;
}

const reel_st_tensor *reel_st_find(const reel_st_file *f, const char *name)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->t[i].name, name))
			return &f->t[i];
	return NULL;
}

const char *reel_st_meta(const reel_st_file *f, const char *key)
{
	for (int i = 0; i < f->nmeta; i++)
		if (!strcmp(f->meta_kv[2 * i], key))
			return f->meta_kv[2 * i + 1];
	return NULL;
}

/* Element i of t as a double (memcpy: the bytes may be unaligned). */
static double elem(const reel_st_tensor *t, size_t i)
{
	switch (t->dtype) {
	case REEL_F32: { float v; memcpy(&v, t->bytes + 4 * i, 4); return v; }
	case REEL_F64: { double v; memcpy(&v, t->bytes + 8 * i, 8); return v; }
	case REEL_I32: { int32_t v; memcpy(&v, t->bytes + 4 * i, 4); return v; }
	case REEL_I64: { int64_t v; memcpy(&v, t->bytes + 8 * i, 8); return (double)v; }
	}
	return 0;
}

void reel_st_to_real(const reel_st_tensor *t, reel_real *dst)
{
	for (size_t i = 0; i < t->count; i++)
		dst[i] = (reel_real)elem(t, i);
}

size_t reel_st_first_nonfinite(const reel_st_tensor *t)
{
	double lim = sizeof(reel_real) == sizeof(float) ? FLT_MAX : DBL_MAX;
	for (size_t i = 0; i < t->count; i++) {
		double v = elem(t, i);
		if (!(fabs(v) <= lim)) /* NaN fails the comparison too */
			return i;
	}
	return t->count;
}

void reel_st_to_double(const reel_st_tensor *t, double *dst)
{
	for (size_t i = 0; i < t->count; i++)
		dst[i] = elem(t, i);
}

void reel_st_to_i32(const reel_st_tensor *t, int32_t *dst)
{
	/* converting a NaN or an out-of-range double to int32 is undefined:
	 * those become INT32_MIN, which no id, length or count is */
	for (size_t i = 0; i < t->count; i++) {
		double v = elem(t, i);
		dst[i] = v >= -2147483648.0 && v < 2147483648.0 ? (int32_t)v : INT32_MIN;
	}
}

/* ---- writer ------------------------------------------------------------------ */

struct st_entry {
	char *name;
	reel_dtype dtype;
	int ndim;
	int64_t shape[REEL_ST_MAX_DIMS];
	size_t nbytes;
	const void *data;
};

struct reel_st_writer {
	struct st_entry *e;
	int n, cap;
	cJSON *meta;
};

reel_st_writer *reel_st_writer_new(void)
{
	reel_st_writer *w = reel__calloc(1, sizeof *w);
	if (w && !(w->meta = cJSON_CreateObject())) {
		free(w);
		return NULL;
	}
	return w;
}

void reel_st_writer_free(reel_st_writer *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->n; i++)
		free(w->e[i].name);
	free(w->e);
	cJSON_Delete(w->meta);
	free(w);
}

reel_status reel_st_add(reel_st_writer *w, const char *name, reel_dtype dtype, int ndim,
                        const int64_t *shape, const void *data, reel_err *err)
{
	if (!name || !*name || !strcmp(name, "__metadata__"))
		return reel_err_set(err, REEL_ERR_ARG, "safetensors: bad tensor name \"%s\"", name ? name : "(null)");
	if (ndim < 0 || ndim > REEL_ST_MAX_DIMS || (unsigned)dtype > REEL_I64)
		return reel_err_set(err, REEL_ERR_ARG, "safetensors: %s: bad dtype or %d dims", name, ndim);
	for (int i = 0; i < w->n; i++)
		if (!strcmp(w->e[i].name, name))
			return reel_err_set(err, REEL_ERR_ARG, "safetensors: tensor \"%s\" added twice", name);
	size_t count = 1;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0 || (shape[i] && count > SIZE_MAX / 8 / (size_t)shape[i]))
			return reel_err_set(err, REEL_ERR_ARG, "safetensors: %s: bad dimension %lld", name,
			                    (long long)shape[i]);
		count *= (size_t)shape[i];
	}
	if (w->n == w->cap) {
		int cap = w->cap ? 2 * w->cap : 16;
		struct st_entry *e = reel__realloc(w->e, (size_t)cap * sizeof *e);
		if (!e)
			return reel_err_set(err, REEL_ERR_NOMEM, "safetensors: out of memory");
		w->e = e;
		w->cap = cap;
	}
	struct st_entry *e = &w->e[w->n];
	if (!(e->name = reel__strdup(name)))
		return reel_err_set(err, REEL_ERR_NOMEM, "safetensors: out of memory");
	e->dtype = dtype;
	e->ndim = ndim;
	if (ndim)
		memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
	e->nbytes = count * dtype_size[dtype];
	e->data = data;
	w->n++;
	return REEL_OK;
}

reel_status reel_st_add_real(reel_st_writer *w, const char *name, int ndim, const int *shape,
                             const reel_real *data, reel_err *err)
{
	int64_t s[REEL_ST_MAX_DIMS];
	if (ndim < 0 || ndim > REEL_ST_MAX_DIMS)
		return reel_err_set(err, REEL_ERR_ARG, "safetensors: %s: %d dims", name, ndim);
	for (int i = 0; i < ndim; i++)
		s[i] = shape[i];
	return reel_st_add(w, name, sizeof(reel_real) == 4 ? REEL_F32 : REEL_F64, ndim, s, data, err);
}

reel_status reel_st_add_meta(reel_st_writer *w, const char *key, const char *value, reel_err *err)
{
	if (!key || !value)
		return reel_err_set(err, REEL_ERR_ARG, "safetensors: metadata key and value must not be NULL");
	cJSON_DeleteItemFromObjectCaseSensitive(w->meta, key);
	if (!cJSON_AddStringToObject(w->meta, key, value))
		return reel_err_set(err, REEL_ERR_NOMEM, "safetensors: out of memory");
	return REEL_OK;
}

/* write(2) all of p, retrying short writes; 0 with errno set on failure. */
static int write_all(int fd, const char *path, const void *p, size_t n)
{
	const unsigned char *c = p;
	while (n) {
		int fault = reel__io_fault(REEL_IO_WRITE, path);
		ssize_t k = fault ? -1 : write(fd, c, n);
		if (fault)
			errno = fault;
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			return 0;
		}
		c += k;
		n -= (size_t)k;
	}
	return 1;
}

/* Append a number to array a; 0 if memory ran out. */
static int add_number(cJSON *a, double v)
{
	cJSON *n = cJSON_CreateNumber(v);
	if (n && cJSON_AddItemToArray(a, n))
		return 1;
	cJSON_Delete(n);
	return 0;
}

static char *header_json(const reel_st_writer *w, size_t *len)
{
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return NULL;
	if (w->meta->child) {
		cJSON *m = cJSON_Duplicate(w->meta, 1);
		if (!m) {
			cJSON_Delete(root);
			return NULL;
		}
		if (!cJSON_AddItemToObject(root, "__metadata__", m)) {
			cJSON_Delete(m);
			cJSON_Delete(root);
			return NULL;
		}
	}
	size_t at = 0;
	for (int i = 0; i < w->n; i++) {
		const struct st_entry *e = &w->e[i];
		cJSON *o = cJSON_AddObjectToObject(root, e->name);
		cJSON *sh = cJSON_AddArrayToObject(o, "shape");
		cJSON *off = cJSON_AddArrayToObject(o, "data_offsets");
		if (!o || !sh || !off || !cJSON_AddStringToObject(o, "dtype", dtype_names[e->dtype])) {
			cJSON_Delete(root);
			return NULL;
		}
		/* every number checked: a dropped one would write a header that
		 * parses but describes other tensors */
		int ok = 1;
		for (int d = 0; ok && d < e->ndim; d++)
			ok = add_number(sh, (double)e->shape[d]);
		ok = ok && add_number(off, (double)at) && add_number(off, (double)(at + e->nbytes));
		if (!ok) {
			cJSON_Delete(root);
			return NULL;
		}
		at += e->nbytes;
	}
	char *s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (s)
		*len = strlen(s);
	return s;
}

/* Create a fresh temporary file "path.tmpNNNNNN" next to path, exclusively
 * and with mode 0666 less the umask, as the target itself would be created
 * (mkstemp's 0600 would make every checkpoint private).  Returns the fd
 * (name in tmp, which has room for plen + 24 bytes) or -1 with errno set. */
static int create_temp(const char *path, char *tmp, size_t cap)
{
	static unsigned long counter;
	unsigned long seed = (unsigned long)getpid() * 2654435761UL;
	for (int attempt = 0; attempt < 100; attempt++) {
		counter++;
		snprintf(tmp, cap, "%s.tmp%06lu", path, (seed + counter * 40503UL) % 1000000UL);
		int fault = reel__io_fault(REEL_IO_CREATE, tmp);
		if (fault) {
			errno = fault;
			return -1;
		}
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/* fsync the directory holding path, so the rename itself is durable.
 * Filesystems that cannot sync a directory (EINVAL) are not an error. */
static int sync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else if ((size_t)(slash - path) < sizeof dir)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	else
		return errno = ENAMETOOLONG, 0;
	int fault = reel__io_fault(REEL_IO_DIRSYNC, dir);
	if (fault)
		return errno = fault, 0;
	int fd = open(dir, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int ok = fsync(fd) == 0 || errno == EINVAL;
	int e = errno;
	close(fd);
	errno = e;
	return ok;
}

/* Write nparts buffers to path atomically: a temporary file next to it,
 * fsync, rename, fsync of the directory.  On failure the file is unchanged. */
static reel_status write_parts(const char *path, const void *const *part, const size_t *size, int nparts,
                               reel_err *err)
{
	size_t cap = strlen(path) + 24;
	char *tmp = reel__malloc(cap);
	if (!tmp)
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
	reel_status st = REEL_OK;
	int fd = create_temp(path, tmp, cap);
	if (fd < 0) {
		st = reel_err_set(err, REEL_ERR_IO, "%s: cannot create a temporary file: %s (the file is unchanged)", path,
		                  strerror(errno));
		goto out;
	}
	const char *step = "write failed";
	int ok = 1;
	for (int i = 0; ok && i < nparts; i++)
		ok = write_all(fd, tmp, part[i], size[i]);
	if (ok) {
		int fault = reel__io_fault(REEL_IO_FSYNC, tmp);
		ok = fault ? (errno = fault, 0) : fsync(fd) == 0;
		step = "cannot flush to disk";
	}
	int saved_errno = errno;
	if (close(fd) != 0 && ok) {
		ok = 0;
		saved_errno = errno;
		step = "cannot close";
	}
	if (ok) {
		int fault = reel__io_fault(REEL_IO_RENAME, path);
		ok = fault ? (errno = fault, 0) : rename(tmp, path) == 0;
		saved_errno = errno;
		step = "cannot rename the temporary file into place";
	}
	if (!ok) {
		unlink(tmp);
		st = reel_err_set(err, REEL_ERR_IO, "%s: %s: %s (the file is unchanged)", path, step, strerror(saved_errno));
		goto out;
	}
	if (!sync_dir(path))
		st = reel_err_set(err, REEL_ERR_IO, "%s: written, but its directory cannot be flushed to disk: %s", path,
		                  strerror(errno));
out:
	free(tmp);
	return st;
}

reel_status reel_write_atomic(const char *path, const void *data, size_t n, reel_err *err)
{
	return write_parts(path, &data, &n, 1, err);
}

reel_status reel_st_write(const reel_st_writer *w, const char *path, reel_err *err)
{
	if (!host_is_little_endian())
		return reel_err_set(err, REEL_ERR_IO, "%s: safetensors support needs a little-endian host", path);
	size_t hlen = 0;
	char *hdr = header_json(w, &hlen);
	if (!hdr)
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory building the header", path);
	size_t padded = (hlen + 7) & ~(size_t)7; /* data starts 8-byte aligned */
	unsigned char len8[8];
	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
	/* the parts: length, header, its padding, every tensor's bytes */
	int np = w->n + 3;
	const void **part = reel__malloc((size_t)np * sizeof *part);
	size_t *size = reel__malloc((size_t)np * sizeof *size);
	reel_status st;
	if (!part || !size) {
		st = reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
	} else {
		part[0] = len8, size[0] = 8;
		part[1] = hdr, size[1] = hlen;
		part[2] = "        ", size[2] = padded - hlen;
		for (int i = 0; i < w->n; i++)
			part[3 + i] = w->e[i].data, size[3 + i] = w->e[i].nbytes;
		st = write_parts(path, part, size, np, err);
	}
	free(part);
	free(size);
	cJSON_free(hdr);
	return st;
}
