/* Safetensors: round trip, atomic write, and the strict reader's rejections. */
#include "harness.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *tmp_path(const char *name)
{
	static char buf[256];
	snprintf(buf, sizeof buf, "build/test-%d-%s", (int)getpid(), name);
	return buf;
}

/* Write a file with the given header bytes (n of them) and ndata zero bytes. */
static void write_raw_n(const char *path, const char *hdr, uint64_t n, size_t ndata)
{
	FILE *f = fopen(path, "wb");
	unsigned char len8[8];
	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)(n >> (8 * i));
	fwrite(len8, 1, 8, f);
	fwrite(hdr, 1, n, f);
	for (size_t i = 0; i < ndata; i++)
		fputc(0, f);
	fclose(f);
}

static void expect_bad_n(const char *label, const char *hdr, size_t hlen, size_t ndata, const char *needle)
{
	const char *p = tmp_path("bad.safetensors");
	write_raw_n(p, hdr, hlen, ndata);
	reel_st_file *f = NULL;
	reel_err e = {0};
	reel_status s = reel_st_read(p, &f, &e);
	CHECK(s == REEL_ERR_IO && f == NULL, "%s: expected REEL_ERR_IO", label);
	CHECK(strstr(e.msg, needle) != NULL && strstr(e.msg, p) != NULL, "%s: message \"%s\" lacks \"%s\" or the path",
	      label, e.msg, needle);
	/* raw file bytes are escaped: no control character reaches the message */
	for (const char *c = e.msg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			CHECK(0, "%s: message holds the raw byte 0x%02x", label, (unsigned char)*c);
			break;
		}
	unlink(p);
}

static void expect_bad(const char *label, const char *hdr, size_t ndata, const char *needle)
{
	expect_bad_n(label, hdr, strlen(hdr), ndata, needle);
}

static void expect_good_n(const char *label, const char *hdr, size_t hlen, size_t ndata)
{
	const char *p = tmp_path("good.safetensors");
	write_raw_n(p, hdr, hlen, ndata);
	reel_st_file *f = NULL;
	reel_err e = {0};
	CHECK(reel_st_read(p, &f, &e) == REEL_OK, "%s: refused: %s", label, e.msg);
	reel_st_free(f);
	unlink(p);
}

#define A4 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"

/* Issue 13: the reader's remaining holes, each seen failing first. */
static void test_reader_hardening(void)
{
	th_case("safetensors: only spaces may follow the header's JSON");
	expect_good_n("space padding", "{" A4 "}   ", strlen("{" A4 "}   "), 4);
	expect_bad("garbage after", "{" A4 "}xyz", 4, "after the JSON");
	expect_bad("second object", "{" A4 "}{}", 4, "after the JSON");
	expect_bad("newline after", "{" A4 "}\n", 4, "after the JSON");
	expect_bad_n("NUL after", "{" A4 "}\0", strlen("{" A4 "}") + 1, 4, "after the JSON");
	expect_bad("leading space", " {" A4 "}", 4, "must start with '{'");

	th_case("safetensors: names and metadata must be valid UTF-8");
	expect_good_n("UTF-8 name", "{\"caf\xc3\xa9\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
	              strlen("{\"caf\xc3\xa9\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"), 4);
	expect_bad("0xff name", "{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
	           "not valid UTF-8");
	expect_bad("overlong name", "{\"\xc0\xaf\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
	           "\\xc0\\xaf");
	expect_bad("surrogate meta key", "{\"__metadata__\":{\"\xed\xa0\x80\":\"v\"}}", 0, "__metadata__");
	expect_bad("truncated meta value", "{\"__metadata__\":{\"k\":\"ab\xe2\x82\"}}", 0, "__metadata__.k");

	th_case("safetensors: raw bytes in messages are escaped");
	expect_bad("escape in dtype", "{\"a\":{\"dtype\":\"\\u001b[31mF32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
	           4, "\\x1b[31mF32");
	expect_bad("newline in key", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\\ny\":1}}", 4,
	           "x\\ny");

	th_case("safetensors: a directory is refused as such");
	{
		reel_st_file *df = NULL;
		reel_err e = {0};
		CHECK(reel_st_read("build", &df, &e) == REEL_ERR_IO && df == NULL, "a directory is an I/O error");
		CHECK(strstr(e.msg, "build") && strstr(e.msg, "is a directory"), "message: %s", e.msg);
	}

	th_case("safetensors: a bad dimension is named with its index and value");
	expect_bad("negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,-3],\"data_offsets\":[0,4]}}", 4,
	           "shape[1] is -3");
	expect_bad("fraction", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
	           "shape[0] is 1.5");
	expect_bad("huge", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3000000000],\"data_offsets\":[0,4]}}", 4,
	           "shape[0] is 3000000000");
	expect_bad("string", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,4]}}", 4,
	           "shape[0] is a string");

	th_case("safetensors: to_i32 of NaN or out-of-range values is INT32_MIN, not undefined");
	{
		const char *ip = tmp_path("i32.safetensors");
		double v[6] = {NAN, 1e30, -1e30, 2147483648.0, -2147483649.0, -7.9};
		reel_st_writer *w = reel_st_writer_new();
		reel_err e = {0};
		reel_st_add(w, "v", REEL_F64, 1, (int64_t[]){6}, v, &e);
		reel_st_add(w, "big", REEL_I64, 1, (int64_t[]){2}, (int64_t[]){(int64_t)1 << 40, INT64_MIN}, &e);
		CHECK(reel_st_write(w, ip, &e) == REEL_OK, "write: %s", e.msg);
		reel_st_writer_free(w);
		reel_st_file *f = NULL;
		if (CHECK(reel_st_read(ip, &f, &e) == REEL_OK, "read: %s", e.msg)) {
			int32_t got[6];
			reel_st_to_i32(reel_st_find(f, "v"), got);
			for (int i = 0; i < 5; i++)
				CHECK(got[i] == INT32_MIN, "element %d: %d", i, (int)got[i]);
			CHECK(got[5] == -7, "-7.9 truncates to -7: %d", (int)got[5]);
			reel_st_to_i32(reel_st_find(f, "big"), got);
			CHECK(got[0] == INT32_MIN && got[1] == INT32_MIN, "I64 out of range: %d %d", (int)got[0], (int)got[1]);
			reel_st_free(f);
		}
		unlink(ip);
	}

	th_case("safetensors: the fuzz seed corpus: valid_* read, bad_* refused, anything else (a crash found by make fuzz) handled");
	{
		const char *dir = "test/fuzz/corpus/safetensors";
		DIR *dp = opendir(dir);
		int seen = 0;
		if (CHECK(dp != NULL, "cannot open %s", dir)) {
			struct dirent *de;
			while ((de = readdir(dp))) {
				if (de->d_name[0] == '.')
					continue;
				char path[512];
				snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
				reel_st_file *f = NULL;
				reel_err e = {0};
				reel_status s = reel_st_read(path, &f, &e);
				if (!strncmp(de->d_name, "valid_", 6))
					CHECK(s == REEL_OK, "%s: %s", path, e.msg);
				else if (!strncmp(de->d_name, "bad_", 4))
					CHECK(s == REEL_ERR_IO && f == NULL && e.msg[0], "%s: accepted", path);
				/* the same bytes from memory give the same answer */
				FILE *fp = fopen(path, "rb");
				unsigned char buf[4096];
				size_t n = fp ? fread(buf, 1, sizeof buf, fp) : 0;
				if (fp)
					fclose(fp);
				reel_st_file *g = NULL;
				CHECK(reel_st_read_mem(path, buf, n, &g, &e) == s, "%s: read_mem differs from read", path);
				if (f && g)
					CHECK(reel_st_count(f) == reel_st_count(g), "%s: counts differ", path);
				reel_st_free(f);
				reel_st_free(g);
				seen++;
			}
			closedir(dp);
		}
		CHECK(seen >= 4, "only %d corpus files", seen);
	}

	th_case("safetensors: float, negative or huge data_offsets get a precise message");
	expect_bad("float", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4]}}", 4,
	           "data_offsets[0] is 0.5");
	expect_bad("negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,4]}}", 4,
	           "data_offsets[0] is -4");
	expect_bad("huge", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1e20]}}", 4,
	           "data_offsets[1] is 1e+20");
	expect_bad("reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
	           "begin 4 is after end 0");
	expect_bad("three", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4,
	           "data_offsets must be [begin, end]");
}

void suite_safetensors(void)
{
	th_case("safetensors: round trip of every dtype and metadata");
	const char *p = tmp_path("rt.safetensors");
	float f32[6] = {1, -2, 3.5f, 4, 5, 6};
	double f64[2] = {0.1, -1e300};
	int32_t i32[3] = {7, -8, 9};
	int64_t i64[1] = {-((int64_t)1 << 40)};
	reel_st_writer *w = reel_st_writer_new();
	reel_err e = {0};
	CHECK(reel_st_add(w, "a.f32", REEL_F32, 2, (int64_t[]){2, 3}, f32, &e) == REEL_OK, "add");
	CHECK(reel_st_add(w, "b.f64", REEL_F64, 1, (int64_t[]){2}, f64, &e) == REEL_OK, "add");
	CHECK(reel_st_add(w, "c.i32", REEL_I32, 1, (int64_t[]){3}, i32, &e) == REEL_OK, "add");
	CHECK(reel_st_add(w, "d.i64", REEL_I64, 0, NULL, i64, &e) == REEL_OK, "add scalar");
	CHECK(reel_st_add(w, "a.f32", REEL_F32, 1, (int64_t[]){1}, f32, &e) == REEL_ERR_ARG, "duplicate refused");
	CHECK(reel_st_add_meta(w, "config", "{\"x\": 1}", &e) == REEL_OK, "meta");
	CHECK(reel_st_write(w, p, &e) == REEL_OK, "write: %s", e.msg);
	reel_st_writer_free(w);
	reel_st_file *f = NULL;
	CHECK(reel_st_read(p, &f, &e) == REEL_OK, "read: %s", e.msg);
	if (f) {
		CHECK(reel_st_count(f) == 4, "4 tensors");
		const reel_st_tensor *a = reel_st_find(f, "a.f32");
		double d[6];
		reel_st_to_double(a, d);
		CHECK(a->ndim == 2 && a->shape[1] == 3 && d[2] == 3.5, "f32 values");
		reel_st_to_double(reel_st_find(f, "b.f64"), d);
		CHECK(d[1] == -1e300, "f64 values");
		int32_t iv[3];
		reel_st_to_i32(reel_st_find(f, "c.i32"), iv);
		CHECK(iv[1] == -8, "i32 values");
		reel_st_to_double(reel_st_find(f, "d.i64"), d);
		CHECK(d[0] == -(double)((int64_t)1 << 40) && reel_st_find(f, "d.i64")->ndim == 0, "i64 scalar");
		CHECK(reel_st_meta(f, "config") && !strcmp(reel_st_meta(f, "config"), "{\"x\": 1}"), "metadata");
		reel_st_free(f);
	}
	unlink(p);

	th_case("safetensors: write into a missing directory fails and leaves nothing");
	w = reel_st_writer_new();
	reel_st_add(w, "x", REEL_F32, 1, (int64_t[]){1}, f32, &e);
	CHECK(reel_st_write(w, "build/no/such/dir/x.safetensors", &e) == REEL_ERR_IO, "error");
	CHECK(strstr(e.msg, "no/such/dir") != NULL, "names the path: %s", e.msg);
	reel_st_writer_free(w);

	th_case("safetensors: strict header validation");
	expect_bad("not json", "{\"a\": ", 0, "not a JSON object");
	expect_bad("dtype", "{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, "BF16");
	expect_bad("size", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "needs 8");
	expect_bad("bounds", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "past the data");
	expect_bad("gap",
	           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
	           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
	           12, "contiguous");
	expect_bad("overlap",
	           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
	           8, "contiguous");
	expect_bad("trailing", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "cover 4");
	expect_bad("duplicate",
	           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
	           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
	           8, "twice");
	expect_bad("unknown key", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "unknown key");
	expect_bad("negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "bad dimension");
	expect_bad("meta value", "{\"__metadata__\":{\"k\":1}}", 0, "__metadata__.k");
	{
		const char *bp = tmp_path("short.safetensors");
		FILE *fp = fopen(bp, "wb");
		fwrite("\xff\xff\xff\xff\x00\x00\x00\x00{}", 1, 10, fp);
		fclose(fp);
		reel_st_file *bf = NULL;
		CHECK(reel_st_read(bp, &bf, &e) == REEL_ERR_IO && strstr(e.msg, "header length"), "huge header length: %s", e.msg);
		unlink(bp);
	}
	reel_st_file *nf = NULL;
	CHECK(reel_st_read("build/does-not-exist.safetensors", &nf, &e) == REEL_ERR_IO &&
	          strstr(e.msg, "does-not-exist") && strstr(e.msg, "cannot open"),
	      "missing file: %s", e.msg);

	test_reader_hardening();

	th_case("safetensors: parameter store save and load");
	reel_params *ps = reel_params_new();
	reel_tensor *wt = reel_param_new(ps, "rnn.weight_ih_l0", 2, (int[]){4, 3});
	reel_tensor *bt = reel_param_new(ps, "rnn.bias_ih_l0", 1, (int[]){4});
	for (int i = 0; i < 12; i++)
		wt->data[i] = (reel_real)(i * 0.5);
	reel_param_fill(bt, -1);
	w = reel_st_writer_new();
	CHECK(reel_params_add_to(ps, w, &e) == REEL_OK, "add params");
	p = tmp_path("params.safetensors");
	CHECK(reel_st_write(w, p, &e) == REEL_OK, "write");
	reel_st_writer_free(w);
	reel_param_fill(wt, 0);
	reel_param_fill(bt, 0);
	f = NULL;
	CHECK(reel_st_read(p, &f, &e) == REEL_OK && reel_params_load(ps, f, p, &e) == REEL_OK, "load: %s", e.msg);
	CHECK(wt->data[11] == (reel_real)5.5 && bt->data[3] == -1, "values restored");
	reel_st_free(f);
	reel_tensor *extra = reel_param_new(ps, "rnn.weight_hh_l0", 2, (int[]){4, 4});
	(void)extra;
	f = NULL;
	reel_st_read(p, &f, &e);
	CHECK(reel_params_load(ps, f, p, &e) == REEL_ERR_IO && strstr(e.msg, "weight_hh_l0") && strstr(e.msg, "missing"),
	      "missing parameter named: %s", e.msg);
	reel_st_free(f);
	unlink(p);
	reel_params_free(ps);
}
