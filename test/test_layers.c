/* Recurrent layers: PyTorch golden fixtures (outputs, final states, every
 * parameter gradient, input and initial-state gradients), gradient checks of
 * every cell through the driver, and truncated BPTT. */
#include "gradcheck.h"
#include "harness.h"
#include "layers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "ln_lstm_l2_bi_var" -> the registered cell "ln_lstm" */
static const reel_cell *cell_of(const char *cs)
{
	char kind[48];
	const char *end = strstr(cs, "_l1_") ? strstr(cs, "_l1_") : strstr(cs, "_l2_");
	snprintf(kind, sizeof kind, "%.*s", end ? (int)(end - cs) : (int)strlen(cs), cs);
	return reel_cell_find(kind);
}

static const reel_st_tensor *get(const reel_st_file *f, const char *cs, const char *what)
{
	char name[320];
	snprintf(name, sizeof name, "%s.%s", cs, what);
	return reel_st_find(f, name);
}

/* sum(a * seed) as ops, so the loss is part of the tape. */
static reel_tensor *dot_seed(reel_tape *t, reel_tensor *a, const reel_st_tensor *seed)
{
	return reel_sum(t, reel_mul(t, a, fx_leaf(t, seed, REEL_NOGRAD)));
}

static void golden_case(const reel_st_file *f, const char *cs)
{
	/* float build only: the LN-LSTM's layer norms divide by the standard
	 * deviation of 3- and 12-unit rows, which multiplies float roundoff
	 * (measured up to 1.5e-5 relative over 5 steps); the double build
	 * checks the same case at 1e-10 */
	double sc = cell_of(cs) == &reel_cell_ln_lstm ? 10 : 1;
#undef FX_COMPARE
#define FX_COMPARE(what, got, n, want) fx_compare_scaled(what, got, n, want, sc, __FILE__, __LINE__)
	int layers = strstr(cs, "_l2_") ? 2 : 1, bi = strstr(cs, "_bi_") != NULL;
	const reel_st_tensor *xs = get(f, cs, "x");
	if (!CHECK(xs, "%s: no input in the fixture", cs))
		return;
	if (!CHECK(cell_of(cs), "%s: no such cell", cs))
		return;
	reel_rnn_opts o = {.cell = cell_of(cs), .input_size = (int)xs->shape[2], .hidden_size = (int)get(f, cs, "h0")->shape[2],
	                   .num_layers = layers, .bidirectional = bi};
	reel_params *ps = reel_params_new();
	reel_rnn r;
	reel_rng rng;
	reel_rng_seed(&rng, 1);
	reel_err e = {0};
	char prefix[96];
	snprintf(prefix, sizeof prefix, "%s.", cs);
	CHECK(reel_rnn_init(&r, ps, prefix, &o, &rng, &e) == REEL_OK, "init: %s", e.msg);
	CHECK(reel_params_load(ps, f, "the fixture", &e) == REEL_OK, "load: %s", e.msg);
	reel_tape *t = reel_tape_new(0, 1);
	reel_tensor *x = fx_leaf(t, xs, REEL_GRAD);
	reel_tensor *h0 = fx_leaf(t, get(f, cs, "h0"), REEL_GRAD);
	reel_tensor *c0 = get(f, cs, "c0") ? fx_leaf(t, get(f, cs, "c0"), REEL_GRAD) : NULL;
	int32_t len32[16];
	int lengths[16];
	const reel_st_tensor *ls = get(f, cs, "lengths");
	reel_st_to_i32(ls, len32);
	for (size_t i = 0; i < ls->count; i++)
		lengths[i] = len32[i];
	reel_rnn_out out;
	reel_status s = reel_rnn_forward(t, &r, x, strstr(cs, "_var") ? lengths : NULL, h0, c0, &out);
	if (CHECK(s == REEL_OK, "forward: %s", reel_tape_error(t))) {
		FX_COMPARE("y", out.y->data, out.y->size, get(f, cs, "y"));
		FX_COMPARE("h_n", out.h_n->data, out.h_n->size, get(f, cs, "h_n"));
		reel_tensor *loss = reel_add(t, dot_seed(t, out.y, get(f, cs, "seed_y")),
		                             dot_seed(t, out.h_n, get(f, cs, "seed_h")));
		if (out.c_n) {
			FX_COMPARE("c_n", out.c_n->data, out.c_n->size, get(f, cs, "c_n"));
			loss = reel_add(t, loss, dot_seed(t, out.c_n, get(f, cs, "seed_c")));
		}
		reel_params_zero_grad(ps);
		CHECK(reel_backward(t, loss) == REEL_OK, "backward: %s", reel_tape_error(t));
		FX_COMPARE("grad x", reel_tensor_grad(x), x->size, get(f, cs, "grad.x"));
		FX_COMPARE("grad h0", reel_tensor_grad(h0), h0->size, get(f, cs, "grad.h0"));
		if (c0)
			FX_COMPARE("grad c0", reel_tensor_grad(c0), c0->size, get(f, cs, "grad.c0"));
		for (int i = 0; i < reel_params_count(ps); i++) {
			reel_tensor *p = reel_params_at(ps, i);
			char what[160];
			snprintf(what, sizeof what, "grad.%s", p->name + strlen(prefix));
			FX_COMPARE(what, p->grad, p->size, get(f, cs, what));
		}
	}
	reel_tape_free(t);
	reel_params_free(ps);
#undef FX_COMPARE
#define FX_COMPARE(what, got, n, want) fx_compare(what, got, n, want, __FILE__, __LINE__)
}

static void suite_golden(void)
{
	th_case("golden rnn: fixture file");
	reel_st_file *f = NULL;
	reel_err e = {0};
	if (!CHECK(reel_st_read("test/fixtures/rnn.safetensors", &f, &e) == REEL_OK, "%s", e.msg))
		return;
	static const char *kinds[] = {"rnn", "lstm", "gru"};
	static char names[24][64];
	int n = 0;
	for (int k = 0; k < 3; k++)
		for (int l = 1; l <= 2; l++)
			for (int bi = 0; bi < 2; bi++)
				for (int v = 0; v < 2; v++, n++) {
					char cs[48];
					snprintf(cs, sizeof cs, "%s_l%d_%s_%s", kinds[k], l, bi ? "bi" : "uni", v ? "var" : "eq");
					snprintf(names[n], sizeof names[n], "golden rnn: %s", cs);
					th_case(names[n]);
					if (th_selected())
						golden_case(f, cs);
				}
	reel_st_free(f);

	/* cells PyTorch has no module for, written from their papers in PyTorch ops (test/gen_cells.py) */
	th_case("golden cells: fixture file");
	f = NULL;
	if (!CHECK(reel_st_read("test/fixtures/cells.safetensors", &f, &e) == REEL_OK, "%s", e.msg))
		return;
	static const char *cells[] = {"indrnn", "peephole_lstm", "ln_lstm"};
	static char cnames[6][64];
	n = 0;
	for (int k = 0; k < 3; k++)
		for (int v = 0; v < 2; v++, n++) {
			char cs[48];
			snprintf(cs, sizeof cs, "%s_%s", cells[k], v ? "l2_bi_var" : "l1_uni_eq");
			snprintf(cnames[n], sizeof cnames[n], "golden cells: %s", cs);
			th_case(cnames[n]);
			if (th_selected())
				golden_case(f, cs);
		}
	reel_st_free(f);
}

/* ---- gradient checks through the driver (double build) ----------------------------- */

#ifdef REEL_DOUBLE
typedef struct rnn_ctx {
	reel_rnn *r;
	const int *lengths;
	int use_h0, use_c0;
	reel_rnn_carry *carry; /* start from a previous chunk's final state (a constant) */
} rnn_ctx;

/* in[0] = x (T, B, I), in[1] = h0, in[2] = c0.  Output: y and h_n concatenated flat. */
static reel_tensor *rnn_fn(reel_tape *t, reel_tensor **in, void *vc)
{
	rnn_ctx *c = vc;
	reel_rnn_out o;
	reel_tensor *h0 = c->use_h0 ? in[1] : NULL, *c0 = c->use_c0 ? in[2] : NULL;
	if (c->carry) {
		h0 = reel_rnn_carry_h0(t, c->carry);
		c0 = reel_rnn_carry_c0(t, c->carry);
	}
	if (reel_rnn_forward(t, c->r, in[0], c->lengths, h0, c0, &o) != REEL_OK)
		return NULL;
	reel_tensor *parts[3] = {reel_reshape(t, o.y, 1, (int[]){-1}), reel_reshape(t, o.h_n, 1, (int[]){-1}),
	                         o.c_n ? reel_reshape(t, o.c_n, 1, (int[]){-1}) : NULL};
	return reel_concat(t, parts, o.c_n ? 3 : 2, 0);
}

static void gradcheck_driver(const char *label, const reel_cell *cell, int layers, int bi, int var,
                             int carry, double dropout, double rdrop)
{
	th_case(label);
	if (!th_selected())
		return;
	/* H = 3 for the layer-normalized LSTM: a layer norm over 2 units has a
	 * normalized output of +-1 and a steep, ill-conditioned gradient */
	int T = 4, B = 3, I = 3, H = cell == &reel_cell_ln_lstm ? 3 : 2, D = bi ? 2 : 1;
	reel_params *ps = reel_params_new();
	reel_rnn r;
	reel_rng rng;
	reel_rng_seed(&rng, 11);
	reel_err e = {0};
	reel_rnn_opts o = {.cell = cell, .input_size = I, .hidden_size = H, .num_layers = layers,
	                   .bidirectional = bi, .dropout = dropout, .recurrent_dropout = rdrop};
	if (!CHECK(reel_rnn_init(&r, ps, "rnn.", &o, &rng, &e) == REEL_OK, "init: %s", e.msg))
		return;
	/* larger weights than the default init, so gradients are not tiny */
	for (int i = 0; i < reel_params_count(ps); i++)
		reel_param_uniform(reel_params_at(ps, i), &rng, -0.8, 0.8);
	static const int lengths[] = {4, 1, 3};
	rnn_ctx c = {&r, var ? lengths : NULL, 1, cell->nstate > 1, NULL};
	reel_rnn_carry cy;
	if (carry) {
		/* a previous chunk on its own tape; its final state is carried */
		reel_real x1[4 * 3 * 3];
		gc_fill(&rng, x1, sizeof x1 / sizeof x1[0], -1, 1, 0);
		reel_tape *t1 = reel_tape_new(0, 5);
		reel_rnn_out o1;
		CHECK(reel_rnn_carry_init(&cy, &r, B) == REEL_OK, "carry init");
		CHECK(reel_rnn_forward(t1, &r, reel_tensor_from(t1, 3, (int[]){T, B, I}, x1, REEL_NOGRAD), NULL, NULL,
		                       NULL, &o1) == REEL_OK, "first chunk: %s", reel_tape_error(t1));
		reel_rnn_carry_store(&cy, &o1);
		reel_tape_free(t1);
		CHECK(cy.valid, "carry stored");
		c.carry = &cy;
	}
	reel_real x[4 * 3 * 3], h0[2 * 2 * 3 * 3], c0[2 * 2 * 3 * 3];
	gc_fill(&rng, x, sizeof x / sizeof x[0], -1, 1, 0);
	gc_fill(&rng, h0, (size_t)2 * 2 * 3 * H, -0.5, 0.5, 0);
	gc_fill(&rng, c0, (size_t)2 * 2 * 3 * H, -0.5, 0.5, 0);
	gc_input in[3] = {
		{3, {T, B, I}, x, 1},
		{3, {layers * D, B, H}, h0, !carry},
		{3, {layers * D, B, H}, c0, !carry && cell->nstate > 1},
	};
	gradcheck(rnn_fn, &c, 3, in, ps, (gc_opts){.rtol = 1e-5, .atol = 1e-7});
	if (carry)
		reel_rnn_carry_deinit(&cy);
	reel_params_free(ps);
}

static struct {
	reel_linear l;
	reel_embedding e;
} lin_emb;

/* linear(x) on a (T, B, F) input, then tanh(linear(embedding(ids))) */
static reel_tensor *lin_emb_fn(reel_tape *t, reel_tensor **in, void *c)
{
	(void)c;
	static const int32_t ids[] = {4, 1, 4};
	reel_tensor *a = reel_linear_forward(t, &lin_emb.l, in[0]);
	reel_tensor *b = reel_tanh(t, reel_linear_forward(t, &lin_emb.l, reel_embedding_forward(t, &lin_emb.e, ids, 3)));
	reel_tensor *parts[2] = {reel_reshape(t, a, 1, (int[]){-1}), reel_reshape(t, b, 1, (int[]){-1})};
	return reel_concat(t, parts, 2, 0);
}

static void suite_gradcheck_layers(void)
{
	static const struct {
		const char *name;
		const reel_cell *cell;
	} cells[] = {{"rnn", &reel_cell_rnn_tanh}, {"rnn_relu", &reel_cell_rnn_relu},
	             {"lstm", &reel_cell_lstm}, {"gru", &reel_cell_gru}, {"mgu", &reel_cell_mgu},
	             {"indrnn", &reel_cell_indrnn}, {"peephole_lstm", &reel_cell_peephole_lstm},
	             {"ln_lstm", &reel_cell_ln_lstm}};
	static char names[8][3][96];
	for (int i = 0; i < 8; i++) {
		snprintf(names[i][0], 96, "gradcheck layer: %s 1 layer", cells[i].name);
		gradcheck_driver(names[i][0], cells[i].cell, 1, 0, 0, 0, 0, 0);
		snprintf(names[i][1], 96, "gradcheck layer: %s 2 layers bidirectional, lengths", cells[i].name);
		gradcheck_driver(names[i][1], cells[i].cell, 2, 1, 1, 0, 0, 0);
		snprintf(names[i][2], 96, "gradcheck layer: %s carried state, dropout, recurrent dropout", cells[i].name);
		gradcheck_driver(names[i][2], cells[i].cell, 2, 0, 1, 1, 0.3, 0.25);
	}
	th_case("gradcheck layer: linear on (T, B, F) and embedding");
	if (th_selected()) {
		reel_params *ps = reel_params_new();
		reel_rng rng;
		reel_rng_seed(&rng, 3);
		reel_err e;
		CHECK(reel_linear_init(&lin_emb.l, ps, "out.", 3, 4, 1, &rng, &e) == REEL_OK, "linear");
		CHECK(reel_embedding_init(&lin_emb.e, ps, "emb.", 5, 3, &rng, &e) == REEL_OK, "embedding");
		reel_real x[2 * 2 * 3];
		gc_fill(&rng, x, 12, -1, 1, 0);
		gc_input in[1] = {{3, {2, 2, 3}, x, 1}};
		gradcheck(lin_emb_fn, NULL, 1, in, ps, (gc_opts){0});
		reel_params_free(ps);
	}
}
#else
static void suite_gradcheck_layers(void) {}
#endif

static void test_init_options(void)
{
	th_case("rnn init: PyTorch names and shapes, orthogonal W_hh blocks, forget-gate bias");
	reel_params *ps = reel_params_new();
	reel_rnn r;
	reel_rng rng;
	reel_rng_seed(&rng, 9);
	reel_err e = {0};
	int H = 6;
	reel_rnn_opts o = {.cell = &reel_cell_lstm, .input_size = 5, .hidden_size = H, .num_layers = 2,
	                   .bidirectional = 1, .orthogonal = 1, .forget_bias = 1.0};
	CHECK(reel_rnn_init(&r, ps, "enc.", &o, &rng, &e) == REEL_OK, "%s", e.msg);
	static const char *names[] = {"enc.weight_ih_l0", "enc.weight_hh_l0", "enc.bias_ih_l0", "enc.bias_hh_l0",
	                              "enc.weight_ih_l0_reverse", "enc.weight_ih_l1", "enc.bias_hh_l1_reverse"};
	for (int i = 0; i < 7; i++)
		CHECK(reel_param_get(ps, names[i]) != NULL, "parameter %s exists", names[i]);
	reel_tensor *w1 = reel_param_get(ps, "enc.weight_ih_l1");
	CHECK(w1 && w1->shape[0] == 4 * H && w1->shape[1] == 2 * H, "layer 2 input is both directions");
	reel_tensor *whh = reel_param_get(ps, "enc.weight_hh_l1_reverse");
	double worst = 0;
	for (int k = 0; k < 4; k++)
		for (int i = 0; i < H; i++)
			for (int j = 0; j < H; j++) {
				double d = 0;
				for (int c = 0; c < H; c++)
					d += (double)whh->data[(k * H + i) * H + c] * whh->data[(k * H + j) * H + c];
				worst = fmax(worst, fabs(d - (i == j)));
			}
	CHECK(worst < 1e-5, "each H x H block of W_hh is orthogonal (worst |QQ^T - I| %g)", worst);
	reel_tensor *bi = reel_param_get(ps, "enc.bias_ih_l0"), *bh = reel_param_get(ps, "enc.bias_hh_l0");
	int ok = 1;
	for (int i = 0; i < H; i++)
		ok &= bi->data[H + i] + bh->data[H + i] == 1;
	CHECK(ok, "forget-gate biases sum to 1");
	CHECK(fabs(bi->data[0]) <= 1 / sqrt(H) && bi->data[0] != 0, "other biases keep PyTorch's U(-1/sqrt(H), 1/sqrt(H))");
	reel_rnn_opts bad = {.cell = &reel_cell_gru, .input_size = 0, .hidden_size = 4};
	CHECK(reel_rnn_init(&r, ps, "x.", &bad, &rng, &e) == REEL_ERR_ARG && strstr(e.msg, "input_size"), "bad size: %s", e.msg);
	reel_params_free(ps);

	th_case("rnn forward: a wrong input shape is an error naming the shapes");
	ps = reel_params_new();
	reel_rnn_opts g = {.cell = &reel_cell_gru, .input_size = 3, .hidden_size = 4};
	reel_rnn_init(&r, ps, "", &g, &rng, &e);
	reel_tape *t = reel_tape_new(0, 1);
	reel_rnn_out out;
	CHECK(reel_rnn_forward(t, &r, reel_tensor_new3(t, 5, 2, 4, 0), NULL, NULL, NULL, &out) == REEL_ERR_SHAPE &&
	          strstr(reel_tape_error(t), "5x2x4") && strstr(reel_tape_error(t), "(T, B, 3)"),
	      "message: %s", reel_tape_error(t));
	reel_tape_reset(t);
	CHECK(reel_rnn_forward(t, &r, reel_tensor_new3(t, 5, 2, 3, 0), (int[]){5, 6}, NULL, NULL, &out) != REEL_OK &&
	          strstr(reel_tape_error(t), "length 6"),
	      "length beyond T: %s", reel_tape_error(t));
	reel_tape_free(t);
	reel_params_free(ps);
}

/* A program's own cell: h' = tanh(xp + h W_hh^T) * gain, gain (H) of its own. */
static void gain_step(reel_tape *t, const reel_cell_params *p, reel_tensor *xp, reel_tensor *h_in,
                      reel_tensor *const *state, reel_tensor **next)
{
	(void)state;
	next[0] = reel_mul(t, reel_tanh(t, reel_addmm(t, xp, h_in, p->w[1], REEL_TRANS_B)), p->w[2]);
}

static const reel_cell gain_cell = {
	"test_gain_rnn", "a test cell", 1, 1, 3,
	{
		{"weight_ih", 2, {REEL_DIM_H, REEL_DIM_I}, REEL_INIT_UNIFORM, REEL_CP_PROJ},
		{"weight_hh", 2, {REEL_DIM_H, REEL_DIM_H}, REEL_INIT_ORTHOGONAL, REEL_CP_RECURRENT},
		{"gain", 1, {REEL_DIM_H}, REEL_INIT_ONES, 0},
	},
	0, gain_step, NULL};

static void test_cells(void)
{
	th_case("cells: descriptors create their own parameters (IndRNN has no H x H weight_hh)");
	reel_params *ps = reel_params_new();
	reel_rnn r;
	reel_rng rng;
	reel_rng_seed(&rng, 4);
	reel_err e = {0};
	reel_rnn_opts o = {.cell = &reel_cell_indrnn, .input_size = 5, .hidden_size = 6, .num_layers = 2, .bidirectional = 1};
	CHECK(reel_rnn_init(&r, ps, "ind.", &o, &rng, &e) == REEL_OK, "%s", e.msg);
	reel_tensor *u = reel_param_get(ps, "ind.weight_hh_l1_reverse");
	CHECK(u && u->ndim == 1 && u->shape[0] == 6, "weight_hh is a vector (H)");
	int in01 = 1;
	for (int i = 0; u && i < 6; i++)
		in01 &= u->data[i] >= 0 && u->data[i] < 1;
	CHECK(in01, "u starts in U(0, 1)");
	CHECK(reel_params_count(ps) == 2 * 2 * 4, "4 tensors per layer and direction, got %d", reel_params_count(ps));
	CHECK(reel_cell_param_count(&reel_cell_indrnn, 5, 6, 0) == 6 * 5 + 6 * 3, "count");
	reel_params_free(ps);

	ps = reel_params_new();
	reel_rnn_opts l = {.cell = &reel_cell_ln_lstm, .input_size = 3, .hidden_size = 4, .no_bias = 1};
	CHECK(reel_rnn_init(&r, ps, "", &l, &rng, &e) == REEL_OK, "%s", e.msg);
	CHECK(reel_param_get(ps, "ln_gamma_c_l0") && !reel_param_get(ps, "ln_beta_c_l0") && !r.p[0][0].w[3],
	      "no_bias drops the betas, keeps the gains");
	reel_tensor *g = reel_param_get(ps, "ln_gamma_ih_l0");
	CHECK(g && g->size == 16 && g->data[0] == 1 && g->data[15] == 1, "gains start at one");
	reel_params_free(ps);

	ps = reel_params_new();
	reel_rnn_opts ph = {.cell = &reel_cell_peephole_lstm, .input_size = 3, .hidden_size = 4, .forget_bias = 1};
	CHECK(reel_rnn_init(&r, ps, "", &ph, &rng, &e) == REEL_OK, "%s", e.msg);
	reel_tensor *bi = reel_param_get(ps, "bias_ih_l0"), *bh = reel_param_get(ps, "bias_hh_l0");
	CHECK(reel_param_get(ps, "weight_co_l0") && bi->data[4] + bh->data[4] == 1 && bi->data[7] + bh->data[7] == 1,
	      "peepholes exist; forget_bias applies to the peephole LSTM too");
	reel_params_free(ps);

	th_case("cells: registry finds built-ins and a program's own cell the same way");
	CHECK(reel_cell_find("lstm") == &reel_cell_lstm && reel_cell_find("indrnn") == &reel_cell_indrnn &&
	          reel_cell_find("rnn") == &reel_cell_rnn_tanh && !reel_cell_find("nope"),
	      "find");
	if (!reel_cell_find("test_gain_rnn"))
		CHECK(reel_cell_register(&gain_cell, &e) == REEL_OK, "register: %s", e.msg);
	CHECK(reel_cell_find("test_gain_rnn") == &gain_cell, "found after registration");
	CHECK(reel_cell_at(reel_cell_count() - 1) == &gain_cell, "listed last");
	CHECK(reel_cell_register(&gain_cell, &e) == REEL_ERR_ARG && strstr(e.msg, "already registered"), "duplicate: %s",
	      e.msg);
	reel_cell bad = gain_cell;
	bad.name = "test_bad";
	bad.params[2].name = "weight_hh";
	CHECK(reel_cell_register(&bad, &e) == REEL_ERR_ARG && strstr(e.msg, "weight_hh appears twice"), "bad: %s", e.msg);
	bad = gain_cell;
	bad.name = "test_bad";
	bad.step = NULL;
	CHECK(reel_cell_register(&bad, &e) == REEL_ERR_ARG && strstr(e.msg, "no step"), "no step: %s", e.msg);
	ps = reel_params_new();
	reel_rnn_opts go = {.cell = reel_cell_find("test_gain_rnn"), .input_size = 2, .hidden_size = 3};
	CHECK(reel_rnn_init(&r, ps, "g.", &go, &rng, &e) == REEL_OK, "%s", e.msg);
	CHECK(reel_params_count(ps) == 3 && reel_param_get(ps, "g.gain_l0"), "the user's own parameter g.gain_l0");
	reel_tape *t = reel_tape_new(0, 1);
	reel_rnn_out out;
	CHECK(reel_rnn_forward(t, &r, reel_tensor_new3(t, 4, 2, 2, REEL_GRAD), NULL, NULL, NULL, &out) == REEL_OK &&
	          out.y->shape[2] == 3,
	      "runs: %s", reel_tape_error(t));
	reel_tape_free(t);
	reel_params_free(ps);
}

void suite_layers(void)
{
	test_init_options();
	test_cells();
	suite_golden();
	suite_gradcheck_layers();
}
