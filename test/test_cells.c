/* Cells written as equations (models/cellc.c): the JSON LSTM and GRU
 * against the built-in cells (outputs and gradients, 1e-12 in the double
 * build), the Keras-style GRU against its PyTorch reference, gradient
 * checks through the driver for every cell in configs/cells/, and the
 * compiler's errors. */
#include "cellc.h"
#include "gradcheck.h"
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Read a config file's cells (registering them); the number of errors. */
static int read_cells(const char *path, char **errs)
{
	reel_err e = {0};
	reel_cfg *c = reel_cfg_load(path, NULL, 0, &e);
	if (!CHECK(c, "%s: %s", path, e.msg))
		return -1;
	reel_cfg_obj root = reel_cfg_root(c);
	reel_cells_read(&root);
	int n = reel_cfg_nerrors(c);
	if (errs)
		*errs = strdup(reel_cfg_errors(c));
	reel_cfg_free(c);
	return n;
}

static int parse_cells(const char *text, char **errs)
{
	reel_err e = {0};
	reel_cfg *c = reel_cfg_parse("t.json", text, NULL, 0, &e);
	if (!CHECK(c, "parse: %s", e.msg))
		return -1;
	reel_cfg_obj root = reel_cfg_root(c);
	reel_cells_read(&root);
	int n = reel_cfg_nerrors(c);
	*errs = strdup(reel_cfg_errors(c));
	reel_cfg_free(c);
	return n;
}

/* Compiles without errors (a failure says which). */
static int clean(const char *text)
{
	char *errs = NULL;
	int n = parse_cells(text, &errs);
	CHECK(n == 0, "%s", errs ? errs : "");
	free(errs);
	return n == 0;
}

static reel_tensor *seeded_sum(reel_tape *t, reel_tensor *y, reel_rng *rng)
{
	reel_tensor *s = reel_tensor_new(t, y->ndim, y->shape, REEL_NOGRAD);
	for (size_t i = 0; i < s->size; i++)
		s->data[i] = (reel_real)reel_rng_range(rng, -1, 1);
	return reel_sum(t, reel_mul(t, y, s));
}

#ifdef REEL_DOUBLE
#define EXACT 1e-12
#else
#define EXACT 1e-5
#endif

static void close_arrays(const char *what, const reel_real *a, const reel_real *b, size_t n, double tol)
{
	double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
	for (size_t i = 0; i < n; i++) {
		x[i] = a[i];
		y[i] = b[i];
	}
	CHECK_CLOSE(what, x, y, n, tol, tol);
	free(x);
	free(y);
}

/* A JSON cell and a built-in one with the same weights: outputs, final
 * states and every gradient, stacked, bidirectional, variable lengths,
 * initial states. */
static void same_as_builtin(const char *label, const reel_cell *json, const reel_cell *builtin)
{
	th_case(label);
	if (!th_selected())
		return;
	if (!CHECK(json, "the JSON cell is registered"))
		return;
	int T = 5, B = 3, I = 4, H = 3, L = 2;
	reel_params *pa = reel_params_new(), *pb = reel_params_new();
	reel_rnn ra, rb;
	reel_rng rng;
	reel_rng_seed(&rng, 7);
	reel_err e = {0};
	reel_rnn_opts o = {.cell = builtin, .input_size = I, .hidden_size = H, .num_layers = L, .bidirectional = 1};
	CHECK(reel_rnn_init(&ra, pa, "rnn.", &o, &rng, &e) == REEL_OK, "built-in init: %s", e.msg);
	o.cell = json;
	CHECK(reel_rnn_init(&rb, pb, "rnn.", &o, &rng, &e) == REEL_OK, "JSON init: %s", e.msg);
	if (!CHECK(reel_params_count(pa) == reel_params_count(pb), "parameter counts %d vs %d", reel_params_count(pa),
	           reel_params_count(pb)))
		goto out;
	for (int i = 0; i < reel_params_count(pa); i++) {
		reel_tensor *a = reel_params_at(pa, i), *b = reel_params_at(pb, i);
		CHECK(!strcmp(a->name, b->name) && a->size == b->size, "parameter %d: %s vs %s", i, a->name, b->name);
		reel_param_uniform(a, &rng, -0.7, 0.7);
		memcpy(b->data, a->data, a->size * sizeof(reel_real));
	}
	static const int lengths[] = {5, 2, 4};
	reel_real *x = malloc((size_t)T * B * I * sizeof *x), *h0 = malloc((size_t)L * 2 * B * H * sizeof *h0),
	          *c0 = malloc((size_t)L * 2 * B * H * sizeof *c0);
	for (int i = 0; i < T * B * I; i++)
		x[i] = (reel_real)reel_rng_range(&rng, -1, 1);
	for (int i = 0; i < L * 2 * B * H; i++) {
		h0[i] = (reel_real)reel_rng_range(&rng, -0.5, 0.5);
		c0[i] = (reel_real)reel_rng_range(&rng, -0.5, 0.5);
	}
	reel_rnn_out out[2];
	reel_tape *t[2];
	for (int k = 0; k < 2; k++) {
		reel_rng seeds;
		reel_rng_seed(&seeds, 99);
		t[k] = reel_tape_new(0, 1);
		reel_tensor *xt = reel_tensor_from(t[k], 3, (int[]){T, B, I}, x, REEL_GRAD);
		reel_tensor *ht = reel_tensor_from(t[k], 3, (int[]){L * 2, B, H}, h0, REEL_GRAD);
		reel_tensor *ct = builtin->nstate > 1 ? reel_tensor_from(t[k], 3, (int[]){L * 2, B, H}, c0, REEL_GRAD) : NULL;
		CHECK(reel_rnn_forward(t[k], k ? &rb : &ra, xt, lengths, ht, ct, &out[k]) == REEL_OK, "forward: %s",
		      reel_tape_error(t[k]));
		reel_tensor *loss = reel_add(t[k], seeded_sum(t[k], out[k].y, &seeds), seeded_sum(t[k], out[k].h_n, &seeds));
		if (out[k].c_n)
			loss = reel_add(t[k], loss, seeded_sum(t[k], out[k].c_n, &seeds));
		CHECK(reel_backward(t[k], loss) == REEL_OK, "backward: %s", reel_tape_error(t[k]));
	}
	if (reel_tape_status(t[0]) == REEL_OK && reel_tape_status(t[1]) == REEL_OK) {
		close_arrays("y", out[1].y->data, out[0].y->data, out[0].y->size, EXACT);
		close_arrays("h_n", out[1].h_n->data, out[0].h_n->data, out[0].h_n->size, EXACT);
		if (out[0].c_n)
			close_arrays("c_n", out[1].c_n->data, out[0].c_n->data, out[0].c_n->size, EXACT);
		for (int i = 0; i < reel_params_count(pa); i++) {
			reel_tensor *a = reel_params_at(pa, i), *b = reel_params_at(pb, i);
			char what[96];
			snprintf(what, sizeof what, "grad %s", a->name);
			close_arrays(what, reel_tensor_grad(b), reel_tensor_grad(a), a->size, EXACT);
		}
	}
	reel_tape_free(t[0]);
	reel_tape_free(t[1]);
	free(x);
	free(h0);
	free(c0);
out:
	reel_params_free(pa);
	reel_params_free(pb);
}

static const reel_st_tensor *fx(const reel_st_file *f, const char *name)
{
	const reel_st_tensor *s = reel_st_find(f, name);
	CHECK(s, "fixture tensor %s", name);
	return s;
}

/* configs/cells/gru_reset_before.json against test/gen_cells_json.py's reference */
static void keras_gru(void)
{
	th_case("json cells: GRU with reset before the product = its PyTorch reference");
	if (!th_selected())
		return;
	const reel_cell *cell = reel_cell_find("gru_reset_before");
	reel_st_file *f = NULL;
	reel_err e = {0};
	if (!CHECK(cell, "registered") ||
	    !CHECK(reel_st_read("test/fixtures/cells_json.safetensors", &f, &e) == REEL_OK, "%s", e.msg))
		return;
	reel_params *ps = reel_params_new();
	reel_rnn r;
	reel_rng rng;
	reel_rng_seed(&rng, 1);
	reel_rnn_opts o = {.cell = cell, .input_size = 4, .hidden_size = 3, .num_layers = 2, .bidirectional = 1};
	CHECK(reel_rnn_init(&r, ps, "", &o, &rng, &e) == REEL_OK, "init: %s", e.msg);
	CHECK(reel_params_load(ps, f, "the fixture", &e) == REEL_OK, "load: %s", e.msg);
	reel_tape *t = reel_tape_new(0, 1);
	reel_tensor *x = fx_leaf(t, fx(f, "x"), REEL_GRAD), *h0 = fx_leaf(t, fx(f, "h0"), REEL_GRAD);
	int32_t l32[3];
	reel_st_to_i32(fx(f, "lengths"), l32);
	int lengths[3] = {l32[0], l32[1], l32[2]};
	reel_rnn_out out;
	if (CHECK(reel_rnn_forward(t, &r, x, lengths, h0, NULL, &out) == REEL_OK, "forward: %s", reel_tape_error(t))) {
		FX_COMPARE("y", out.y->data, out.y->size, fx(f, "y"));
		FX_COMPARE("h_n", out.h_n->data, out.h_n->size, fx(f, "h_n"));
		reel_tensor *sy = fx_leaf(t, fx(f, "seed_y"), REEL_NOGRAD), *sh = fx_leaf(t, fx(f, "seed_h"), REEL_NOGRAD);
		reel_tensor *loss = reel_add(t, reel_sum(t, reel_mul(t, out.y, sy)), reel_sum(t, reel_mul(t, out.h_n, sh)));
		reel_params_zero_grad(ps);
		CHECK(reel_backward(t, loss) == REEL_OK, "backward: %s", reel_tape_error(t));
		FX_COMPARE("grad x", reel_tensor_grad(x), x->size, fx(f, "grad.x"));
		FX_COMPARE("grad h0", reel_tensor_grad(h0), h0->size, fx(f, "grad.h0"));
		for (int i = 0; i < reel_params_count(ps); i++) {
			reel_tensor *p = reel_params_at(ps, i);
			char what[96];
			snprintf(what, sizeof what, "grad.%s", p->name);
			FX_COMPARE(what, reel_tensor_grad(p), p->size, fx(f, what));
		}
	}
	reel_tape_free(t);
	reel_params_free(ps);
	reel_st_free(f);
}

#ifdef REEL_DOUBLE
typedef struct drv_ctx {
	reel_rnn *r;
	const int *lengths;
} drv_ctx;

static reel_tensor *drv_fn(reel_tape *t, reel_tensor **in, void *vc)
{
	drv_ctx *c = vc;
	reel_rnn_out o;
	if (reel_rnn_forward(t, c->r, in[0], c->lengths, in[1], c->r->o.cell->nstate > 1 ? in[2] : NULL, &o) != REEL_OK)
		return NULL;
	reel_tensor *parts[3] = {reel_reshape(t, o.y, 1, (int[]){-1}), reel_reshape(t, o.h_n, 1, (int[]){-1}),
	                         o.c_n ? reel_reshape(t, o.c_n, 1, (int[]){-1}) : NULL};
	return reel_concat(t, parts, o.c_n ? 3 : 2, 0);
}

/* Gradient check of a JSON cell through the driver: 2 layers, bidirectional,
 * variable lengths, initial states, recurrent and inter-layer dropout (the
 * masks are fixed by the reseeded tape). */
static void gradcheck_cell(const char *label, const char *name)
{
	th_case(label);
	if (!th_selected())
		return;
	const reel_cell *cell = reel_cell_find(name);
	if (!CHECK(cell, "cell %s registered", name))
		return;
	int T = 4, B = 3, I = 3, H = 2, L = 2;
	reel_params *ps = reel_params_new();
	reel_rnn r;
	reel_rng rng;
	reel_rng_seed(&rng, 5);
	reel_err e = {0};
	reel_rnn_opts o = {.cell = cell, .input_size = I, .hidden_size = H, .num_layers = L, .bidirectional = 1,
	                   .dropout = 0.3, .recurrent_dropout = 0.3};
	if (!CHECK(reel_rnn_init(&r, ps, "rnn.", &o, &rng, &e) == REEL_OK, "init: %s", e.msg)) {
		reel_params_free(ps);
		return;
	}
	CHECK(reel_cells_init(&r, &rng, &e) == REEL_OK, "cell init: %s", e.msg);
	for (int i = 0; i < reel_params_count(ps); i++)
		if (reel_params_at(ps, i)->requires_grad)
			reel_param_uniform(reel_params_at(ps, i), &rng, -0.8, 0.8);
	static const int lengths[] = {4, 1, 3};
	drv_ctx c = {&r, lengths};
	reel_real x[4 * 3 * 3], h0[4 * 3 * 2], c0[4 * 3 * 2];
	gc_fill(&rng, x, sizeof x / sizeof x[0], -1, 1, 0);
	gc_fill(&rng, h0, sizeof h0 / sizeof h0[0], -0.5, 0.5, 0);
	gc_fill(&rng, c0, sizeof c0 / sizeof c0[0], -0.5, 0.5, 0);
	gc_input in[3] = {{3, {T, B, I}, x, 1}, {3, {L * 2, B, H}, h0, 1}, {3, {L * 2, B, H}, c0, cell->nstate > 1}};
	gradcheck(drv_fn, &c, 3, in, ps, (gc_opts){.rtol = 1e-5, .atol = 1e-7});
	reel_params_free(ps);
}
#endif

/* Every malformed cell gives its message (the cell, the equation, the column). */
static void errors(void)
{
	static const struct {
		const char *label, *cell, *want;
	} cases[] = {
		{"json cells: unknown name", "\"gates\": [\"a\"], \"equations\": {\"h\": \"tanh(x.a + w * h)\"}",
		 "t.json: /cells/k/equations/h: cell k, equation h, column 12: unknown name \"w\" (not a state"},
		{"json cells: unknown gate", "\"gates\": [\"a\"], \"equations\": {\"h\": \"tanh(x.b)\"}",
		 "column 8: unknown gate \"b\""},
		{"json cells: a state without an equation", "\"gates\": [\"a\"], \"states\": [\"h\", \"c\"], \"equations\": {\"h\": \"tanh(x.a)\"}",
		 "/cells/k/equations: cell k: state c has no equation"},
		{"json cells: shapes", "\"gates\": [\"a\"], \"params\": {\"v\": [\"I\"]}, \"equations\": {\"h\": \"tanh(x.a) * v\"}",
		 "column 11: the shapes do not fit: (B, H) * a vector (I)"},
		{"json cells: @ needs a matrix on the left", "\"gates\": [\"a\"], \"equations\": {\"h\": \"h @ x.a\"}",
		 "column 3: the left operand of @ must be a matrix parameter"},
		{"json cells: a cycle", "\"gates\": [\"a\"], \"states\": [\"h\", \"c\"], \"equations\": {\"c\": \"h' * c\", \"h\": \"tanh(c' + x.a)\"}",
		 "a cycle: c' needs h' needs c'"},
		{"json cells: syntax", "\"gates\": [\"a\"], \"equations\": {\"h\": \"tanh(x.a + )\"}",
		 "cell k, equation h, column 12: expected a number, a name or \"(\""},
		{"json cells: unclosed parenthesis", "\"gates\": [\"a\"], \"equations\": {\"h\": \"tanh((x.a)\"}",
		 "column 11: expected \")\" to close tanh( (at the end)"},
		{"json cells: a state must be (B, H)", "\"gates\": [\"a\"], \"params\": {\"w\": [\"H\"]}, \"equations\": {\"h\": \"tanh(w)\"}",
		 "the new h must be (B, H), found a vector (H)"},
		{"json cells: a built-in's name", NULL, "cell lstm: the name of a built-in cell"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		th_case(cases[i].label);
		if (!th_selected())
			continue;
		char text[512], *errs = NULL;
		if (cases[i].cell)
			snprintf(text, sizeof text, "{\"cells\": {\"k\": {%s}}}", cases[i].cell);
		else
			snprintf(text, sizeof text, "{\"cells\": {\"lstm\": {\"gates\": [\"a\"], \"equations\": {\"h\": \"tanh(x.a)\"}}}}");
		int n = parse_cells(text, &errs);
		CHECK(n > 0 && errs && strstr(errs, cases[i].want), "expected \"%s\", got %d errors: %s", cases[i].want, n,
		      errs ? errs : "");
		free(errs);
	}
	th_case("json cells: a redefinition replaces the cell, the old one stays usable");
	if (th_selected()) {
		CHECK(clean("{\"cells\": {\"twice\": {\"gates\": [\"a\"], \"equations\": {\"h\": \"tanh(x.a)\"}}}}"), "first");
		const reel_cell *a = reel_cell_find("twice");
		CHECK(clean("{\"cells\": {\"twice\": {\"gates\": [\"a\"], \"equations\": {\"h\": \"tanh(x.a)\"}}}}"), "again");
		CHECK(reel_cell_find("twice") == a, "the same definition is reused");
		CHECK(clean("{\"cells\": {\"twice\": {\"gates\": [\"a\"], \"equations\": {\"h\": \"relu(x.a)\"}}}}"), "changed");
		CHECK(reel_cell_find("twice") != a && a && a->step && strstr(reel_cells_text(a), "tanh"),
		      "replaced; the old one is kept");
	}
}

void suite_cells(void)
{
	static const char *const files[][2] = {
		{"configs/cells/lstm.json", "lstm_eq"}, {"configs/cells/gru.json", "gru_eq"},
		{"configs/cells/lstm1997.json", "lstm1997"}, {"configs/cells/peephole.json", "peephole"},
		{"configs/cells/gru_reset_before.json", "gru_reset_before"}, {"configs/cells/leaky.json", "leaky"},
		{"configs/cells/indrnn.json", "ind_rnn"}, {"configs/cells/mgu.json", "mgu_eq"},
		{"configs/cells/cifg.json", "cifg"}, {"configs/cells/esn-mackey-glass.json", "esn"},
	};
	static char labels[2][10][96];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(labels[0][i], sizeof labels[0][i], "json cells: %s compiles", files[i][0]);
		th_case(labels[0][i]);
		char *errs = NULL;
		CHECK(read_cells(files[i][0], &errs) == 0 && reel_cell_find(files[i][1]), "%s", errs ? errs : "");
		free(errs);
	}
	same_as_builtin("json cells: JSON LSTM = built-in LSTM (outputs, gradients)", reel_cell_find("lstm_eq"), &reel_cell_lstm);
	same_as_builtin("json cells: JSON GRU = built-in GRU (outputs, gradients)", reel_cell_find("gru_eq"), &reel_cell_gru);
	keras_gru();
#ifdef REEL_DOUBLE
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(labels[1][i], sizeof labels[1][i], "json cells: gradcheck through the driver: %s", files[i][1]);
		gradcheck_cell(labels[1][i], files[i][1]);
	}
#endif
	errors();
}
