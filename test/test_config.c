/* Config reading: located errors (file, JSON Pointer path, expected,
 * found), "did you mean", all errors at once, syntax errors with line and
 * column, --set overrides, defaults filled into the resolved config. */
#include "config.h"
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static reel_cfg *parse(const char *text, const char *const *sets, int nsets, reel_err *e)
{
	memset(e, 0, sizeof *e);
	return reel_cfg_parse("t.json", text, sets, nsets, e);
}

static int has(const char *hay, const char *needle)
{
	return strstr(hay ? hay : "", needle) != NULL;
}

/* Reads a small schema: {hidden_size: int required, p: real, cell: enum,
 * layers: [{size: int|"auto"}], name: string}. */
static void read_schema(reel_cfg *c, int *hidden, double *p, int *cell, int *size0)
{
	static const char *const CELLS[] = {"lstm", "gru", "rnn", NULL};
	reel_cfg_obj r = reel_cfg_root(c);
	*hidden = reel_cfg_int(&r, "hidden_size", REEL_CFG_REQUIRED, 1, 1 << 16, "units");
	*p = reel_cfg_real(&r, "p", 0.25, 0, 0.99, "dropout");
	*cell = reel_cfg_enum(&r, "cell", 0, CELLS, "cell");
	reel_cfg_str(&r, "name", "x", "name");
	int n = reel_cfg_array(&r, "layers", 0, "layers");
	*size0 = 0;
	for (int i = 0; i < n; i++) {
		reel_cfg_obj e = reel_cfg_elem(&r, "layers", i);
		int s = reel_cfg_size(&e, "size", REEL_CFG_AUTO, 1, 100, "size");
		if (i == 0)
			*size0 = s;
		reel_cfg_end(&e);
	}
	reel_cfg_obj t = reel_cfg_child(&r, "train", "train");
	reel_cfg_obj o = reel_cfg_child(&t, "optimizer", "opt");
	reel_cfg_real(&o, "lr", 1e-3, 0, 10, "lr");
	reel_cfg_end(&o);
	reel_cfg_end(&t);
	reel_cfg_end(&r);
}

void suite_config(void)
{
	reel_err e;
	int h, cell, s0;
	double p;

	th_case("config: a clean file reads its values and fills in defaults");
	{
		reel_cfg *c = parse("{\"hidden_size\": 64, \"cell\": \"gru\", \"layers\": [{\"size\": \"auto\"}, {\"size\": 7}]}",
		                    NULL, 0, &e);
		CHECK(c, "parse failed: %s", e.msg);
		if (c) {
			read_schema(c, &h, &p, &cell, &s0);
			CHECK(reel_cfg_nerrors(c) == 0, "errors: %s", reel_cfg_errors(c));
			CHECK(h == 64 && cell == 1 && s0 == REEL_CFG_AUTO && p == 0.25, "h %d cell %d size0 %d p %g", h, cell, s0, p);
			char *txt = reel_cfg_print(c);
			CHECK(has(txt, "\"p\":\t0.25") && has(txt, "\"lr\":\t0.001") && has(txt, "\"name\":\t\"x\""),
			      "defaults not filled in: %s", txt);
			free(txt);
			reel_cfg_free(c);
		}
	}

	th_case("config: syntax error names line and column");
	{
		reel_cfg *c = parse("{\n  \"hidden_size\": 64,\n  \"p\": ]\n}\n", NULL, 0, &e);
		CHECK(!c && e.code == REEL_ERR_CONFIG, "no error");
		CHECK(has(e.msg, "t.json:3:8: JSON syntax error"), "message: %s", e.msg);
		reel_cfg_free(c);
		c = parse("{\"a\": 1", NULL, 0, &e);
		CHECK(!c && has(e.msg, "t.json:1:8") && has(e.msg, "unexpected end of file"), "message: %s", e.msg);
		reel_cfg_free(c);
		c = parse("[1, 2]", NULL, 0, &e);
		CHECK(!c && has(e.msg, "t.json: /: expected an object") && has(e.msg, "found an array [1,2]"), "message: %s", e.msg);
		reel_cfg_free(c);
	}

	th_case("config: every error at once, each with path, expected and found");
	{
		reel_cfg *c = parse("{\"hiden_size\": 64, \"p\": 1.5, \"cell\": \"lstn\", \"name\": 3,"
		                    " \"layers\": [{\"size\": \"64x\"}, {\"size\": 2.5, \"sise\": 1}], \"train\": {\"optimizer\": []}}",
		                    NULL, 0, &e);
		CHECK(c, "parse failed: %s", e.msg);
		if (c) {
			read_schema(c, &h, &p, &cell, &s0);
			const char *m = reel_cfg_errors(c);
			CHECK(reel_cfg_nerrors(c) == 9, "%d errors:\n%s", reel_cfg_nerrors(c), m);
			CHECK(has(m, "t.json: /hidden_size: missing: expected an integer in [1, 65536]"), "%s", m);
			CHECK(has(m, "t.json: /hiden_size: unknown key; did you mean \"hidden_size\"?"), "%s", m);
			CHECK(has(m, "t.json: /p: expected a number in [0, 0.99], found 1.5"), "%s", m);
			CHECK(has(m, "t.json: /cell: expected one of \"lstm\", \"gru\", \"rnn\", found \"lstn\"; did you mean \"lstm\"?"),
			      "%s", m);
			CHECK(has(m, "t.json: /name: expected a string, found 3"), "%s", m);
			CHECK(has(m, "t.json: /layers/0/size: expected an integer in [1, 100] or \"auto\", found \"64x\""), "%s", m);
			CHECK(has(m, "t.json: /layers/1/size: expected an integer in [1, 100] or \"auto\", found 2.5"), "%s", m);
			CHECK(has(m, "t.json: /layers/1/sise: unknown key; did you mean \"size\"?"), "%s", m);
			CHECK(has(m, "t.json: /train/optimizer: expected an object, found an array []"), "%s", m);
			reel_cfg_free(c);
		}
	}

	th_case("config: an unknown key far from any known one lists the expected keys");
	{
		reel_cfg *c = parse("{\"hidden_size\": 4, \"zzzzzzzz\": 1}", NULL, 0, &e);
		if (CHECK(c, "parse failed: %s", e.msg)) {
			read_schema(c, &h, &p, &cell, &s0);
			CHECK(has(reel_cfg_errors(c), "/zzzzzzzz: unknown key; expected one of: hidden_size, p, cell, name, layers, train"),
			      "%s", reel_cfg_errors(c));
			reel_cfg_free(c);
		}
	}

	th_case("config: --set overrides keys, by dots or JSON Pointer, checked like the file");
	{
		const char *sets[] = {"hidden_size=32", "/layers/1/size=9", "train.optimizer.lr=3e-4", "cell=rnn"};
		reel_cfg *c = parse("{\"hidden_size\": 64, \"layers\": [{}, {\"size\": 7}]}", sets, 4, &e);
		if (CHECK(c, "parse failed: %s", e.msg)) {
			read_schema(c, &h, &p, &cell, &s0);
			CHECK(reel_cfg_nerrors(c) == 0, "%s", reel_cfg_errors(c));
			char *txt = reel_cfg_print(c);
			CHECK(h == 32 && cell == 2 && has(txt, "\"size\":\t9") && has(txt, "\"lr\":\t0.0003"), "h %d cell %d: %s", h,
			      cell, txt);
			free(txt);
			reel_cfg_free(c);
		}
		const char *bad[] = {"p=2"};
		c = parse("{\"hidden_size\": 64}", bad, 1, &e);
		if (CHECK(c, "parse failed: %s", e.msg)) {
			read_schema(c, &h, &p, &cell, &s0);
			CHECK(has(reel_cfg_errors(c), "t.json: /p: expected a number in [0, 0.99], found 2"), "%s", reel_cfg_errors(c));
			reel_cfg_free(c);
		}
		const char *unknown[] = {"train.optimiser.lr=1"};
		c = parse("{\"hidden_size\": 64}", unknown, 1, &e);
		if (CHECK(c, "parse failed: %s", e.msg)) {
			read_schema(c, &h, &p, &cell, &s0);
			CHECK(has(reel_cfg_errors(c), "/train/optimiser: unknown key; did you mean \"optimizer\"?"), "%s",
			      reel_cfg_errors(c));
			reel_cfg_free(c);
		}
		const char *through[] = {"hidden_size.x=1"};
		c = parse("{\"hidden_size\": 64}", through, 1, &e);
		CHECK(!c && has(e.msg, "--set hidden_size.x=1: /hidden_size is not an object or array"), "%s", e.msg);
		const char *index[] = {"layers.5.size=1"};
		c = parse("{\"layers\": [{}]}", index, 1, &e);
		CHECK(!c && has(e.msg, "/layers/5: expected an index in [0, 1), found \"5\""), "%s", e.msg);
		const char *noeq[] = {"hidden_size"};
		c = parse("{}", noeq, 1, &e);
		CHECK(!c && has(e.msg, "--set hidden_size: expected path=value"), "%s", e.msg);
	}

	th_case("config: describe mode documents keys without a file");
	{
		reel_cfg *c = reel_cfg_describe();
		read_schema(c, &h, &p, &cell, &s0);
		const char *d = reel_cfg_description(c);
		CHECK(has(d, "hidden_size") && has(d, "int, required") && has(d, "number = 0.25") &&
		          has(d, "one of \"lstm\", \"gru\", \"rnn\" = \"lstm\"") && has(d, "train.optimizer.lr               number = 0.001"),
		      "%s", d);
		CHECK(reel_cfg_nerrors(c) == 0, "%s", reel_cfg_errors(c));
		reel_cfg_free(c);
	}

	th_case("config: edit distance (did you mean)");
	CHECK(reel_cfg_distance("hidden_size", "hiden_size") == 1, "deletion");
	CHECK(reel_cfg_distance("lstm", "lsmt") == 1, "transposition counts once");
	CHECK(reel_cfg_distance("gru", "lstm") == 4, "gru/lstm %d", reel_cfg_distance("gru", "lstm"));
}
