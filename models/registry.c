/* The layer registry: every layer type a config's "model" list may use.
 *
 * A new layer type is one builder (read and check options, set the output
 * flow, count parameters and memory, create parameters when b->ps is set),
 * one forward function of engine/layer calls, and one line in the table at
 * the bottom of this file.  Builders read their options through config.h,
 * so `reel list` documents them and unknown keys are errors. */
#include "model.h"
#include "cellc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const NAME_DOC = "parameter prefix: parameters are <name>.<PyTorch name> (default: the layer's index)";

static size_t rsz = sizeof(reel_real);

/* ---- embedding --------------------------------------------------------------- */

static reel_status embedding_build(reel_layer *L, reel_cfg_obj *o, const reel_flow *in, reel_flow *out,
                                   reel_build_ctx *b)
{
	reel_embedding *e = L->state;
	int num = reel_cfg_size(o, "num_embeddings", REEL_CFG_AUTO, 1, REEL_CFG_MAX_PATH * 4096,
	                        "vocabulary size; \"auto\": the data's");
	int dim = reel_cfg_int(o, "embedding_dim", REEL_CFG_REQUIRED, 1, 1 << 16, "size of each embedding vector");
	if (reel_cfg_describing(o->c))
		return REEL_OK;
	if (!in->unknown && !in->tokens)
		reel_cfg_error(o, NULL, "an embedding needs token ids as input, found %d real features per step%s", in->F,
		               b->index ? " (is it the first layer?)" : " (the data's inputs are numbers: remove it)");
	if (num == REEL_CFG_AUTO) {
		num = in->tokens ? in->F : 1;
		reel_cfg_resolve_int(o, "num_embeddings", num);
	} else if (!in->unknown && in->tokens && num < in->F) {
		reel_cfg_error(o, "num_embeddings", "expected at least the data's vocabulary (%d), found %d", in->F, num);
	}
	*out = (reel_flow){.tokens = 0, .pooled = 0, .F = dim, .unknown = in->unknown};
	L->n_params = (size_t)num * dim;
	b->act_bytes += (double)b->T * b->B * dim * rsz * 2;
	if (!b->ps)
		return REEL_OK;
	return reel_embedding_init(e, b->ps, L->prefix, num, dim, b->rng, &b->err);
}

static reel_tensor *embedding_forward(reel_tape *t, reel_layer *L, reel_tensor *x, const int32_t *tokens,
                                      const reel_fwd_ctx *c)
{
	(void)x;
	reel_embedding *e = L->state;
	reel_tensor *y = reel_embedding_forward(t, e, tokens, c->T * c->B);
	return reel_reshape3(t, y, c->T, c->B, e->dim);
}

/* ---- recurrent layers ------------------------------------------------------------ */

/* carry[0]: training streams; carry[1]: evaluation (so validating in the
 * middle of a pass does not disturb the training state) */
typedef struct rec_state {
	reel_rnn rnn;
	reel_rnn_carry carry[2];
	int carry_B[2];
} rec_state;

/* One recurrent layer type per registered cell (layers/cell_registry.c),
 * named after it: the cell is found from the layer's type name. */
static reel_status rec_build(reel_layer *L, reel_cfg_obj *o, const reel_flow *in, reel_flow *out, reel_build_ctx *b)
{
	rec_state *s = L->state;
	const reel_cell *cell = reel_cell_find(L->type->name);
	if (!cell)
		return reel_err_set(&b->err, REEL_ERR_CONFIG, "layer type %s: no such cell", L->type->name);
	reel_rnn_opts ro = {.cell = cell};
	ro.input_size = reel_cfg_size(o, "input_size", REEL_CFG_AUTO, 1, 1 << 20,
	                              "features per step; \"auto\": the previous layer's");
	ro.hidden_size = reel_cfg_int(o, "hidden_size", REEL_CFG_REQUIRED, 1, 1 << 16, "hidden units per direction");
	ro.num_layers = reel_cfg_int(o, "num_layers", 1, 1, REEL_RNN_MAX_LAYERS, "stacked layers");
	ro.bidirectional = reel_cfg_bool(o, "bidirectional", 0, "a reverse direction too (outputs concatenated)");
	ro.dropout = reel_cfg_real(o, "dropout", 0, 0, 0.99, "dropout between stacked layers (not after the last)");
	ro.recurrent_dropout = reel_cfg_real(o, "recurrent_dropout", 0, 0, 0.99,
	                                     "variational dropout on h before W_hh, one mask per sequence (Gal & Ghahramani 2016)");
	ro.no_bias = !reel_cfg_bool(o, "bias", 1, "the cell's bias vectors (b_ih and b_hh, or its own)");
	ro.orthogonal = reel_cfg_bool(o, "orthogonal_init", 0, "orthogonal W_hh blocks (Saxe et al. 2014)");
	ro.residual = reel_cfg_bool(o, "residual", 0,
	                            "residual connections between stacked layers (GNMT, Wu et al. 2016): layers 2.. add their input to their output");
	if (ro.residual && ro.num_layers < 2 && !reel_cfg_describing(o->c))
		reel_cfg_error(o, "residual", "residual connections join stacked layers: expected num_layers >= 2, found %d",
		               ro.num_layers);
	int forget = 0;
	for (int i = 0; i < cell->nparams; i++)
		forget |= cell->params[i].flags & REEL_CP_FORGET;
	if (forget)
		ro.forget_bias = reel_cfg_real(o, "forget_bias", 0, -10, 10,
		                               "initial forget-gate bias (1 in Jozefowicz et al. 2015; 0: PyTorch's init)");
	if (cell == &reel_cell_rnn_tanh) {
		static const char *const nl[] = {"tanh", "relu", NULL};
		if (reel_cfg_enum(o, "nonlinearity", 0, nl, "activation of the Elman RNN") == 1)
			ro.cell = cell = &reel_cell_rnn_relu;
	}
	if (reel_cfg_describing(o->c))
		return REEL_OK;
	if (in->unknown)
		;
	else if (in->tokens)
		reel_cfg_error(o, NULL, "a recurrent layer needs vectors per step, found token ids: put an embedding before it");
	else if (in->pooled)
		reel_cfg_error(o, NULL, "a recurrent layer needs a sequence, found a pooled (B, %d) input: move the pool after it",
		               in->F);
	if (ro.input_size == REEL_CFG_AUTO) {
		ro.input_size = in->F;
		reel_cfg_resolve_int(o, "input_size", in->F);
	} else if (ro.input_size != in->F && !in->tokens && !in->unknown) {
		reel_cfg_error(o, "input_size", "expected %d (the previous layer's output), found %d", in->F, ro.input_size);
	}
	int D = ro.bidirectional ? 2 : 1, H = ro.hidden_size, G = cell->gates;
	*out = (reel_flow){.tokens = 0, .pooled = 0, .F = D * H, .unknown = in->unknown};
	size_t np = 0;
	for (int l = 0; l < ro.num_layers; l++) {
		int inl = l ? D * H : (ro.input_size > 0 ? ro.input_size : 1);
		np += (size_t)D * reel_cell_param_count(cell, inl, H, ro.no_bias);
	}
	L->n_params = np;
	/* the tape keeps about G + 6 (B, H) tensors per step and direction, plus gradients */
	b->act_bytes += (double)b->T * b->B * D * ro.num_layers * H * (G + 6) * rsz * 2;
	if (!b->ps)
		return REEL_OK;
	reel_status st = reel_rnn_init(&s->rnn, b->ps, L->prefix, &ro, b->rng, &b->err);
	return st == REEL_OK ? reel_cells_init(&s->rnn, b->rng, &b->err) : st; /* a JSON cell's constant, spectral */
}

static reel_tensor *rec_forward(reel_tape *t, reel_layer *L, reel_tensor *x, const int32_t *tokens,
                                const reel_fwd_ctx *c)
{
	(void)tokens;
	rec_state *s = L->state;
	reel_tensor *h0 = NULL, *c0 = NULL;
	int k = c->carry - 1;
	if (c->carry) {
		if (s->carry_B[k] != c->B || c->reset) {
			reel_rnn_carry_deinit(&s->carry[k]);
			s->carry_B[k] = 0;
			if (reel_rnn_carry_init(&s->carry[k], &s->rnn, c->B) != REEL_OK)
				return reel_tape_fail(t, REEL_ERR_NOMEM, "layer %s: out of memory for the carried state", L->name);
			s->carry_B[k] = c->B;
		}
		h0 = reel_rnn_carry_h0(t, &s->carry[k]);
		c0 = reel_rnn_carry_c0(t, &s->carry[k]);
	}
	reel_rnn_out out;
	if (reel_rnn_forward_links(t, &s->rnn, x, c->lengths, h0, c0, c->links, &out) != REEL_OK)
		return NULL;
	if (c->carry)
		reel_rnn_carry_store(&s->carry[k], &out);
	return out.y;
}

static void rec_free(reel_layer *L)
{
	rec_state *s = L->state;
	reel_rnn_carry_deinit(&s->carry[0]);
	reel_rnn_carry_deinit(&s->carry[1]);
}

/* The training carry, allocated for batch B (for checkpoints). */
static reel_rnn_carry *rec_carry(reel_layer *L, int B)
{
	rec_state *s = L->state;
	if (s->carry_B[0] != B) {
		reel_rnn_carry_deinit(&s->carry[0]);
		s->carry_B[0] = 0;
		if (reel_rnn_carry_init(&s->carry[0], &s->rnn, B) != REEL_OK)
			return NULL;
		s->carry_B[0] = B;
	}
	return &s->carry[0];
}

/* ---- dropout ----------------------------------------------------------------------- */

static reel_status dropout_build(reel_layer *L, reel_cfg_obj *o, const reel_flow *in, reel_flow *out,
                                 reel_build_ctx *b)
{
	double *p = L->state;
	*p = reel_cfg_real(o, "p", 0.5, 0, 0.99, "probability of zeroing an element (inverted dropout)");
	if (reel_cfg_describing(o->c))
		return REEL_OK;
	if (!in->unknown && in->tokens)
		reel_cfg_error(o, NULL, "dropout needs vectors, found token ids: put it after the embedding");
	*out = *in;
	b->act_bytes += (double)b->T * b->B * in->F * rsz * 2;
	return REEL_OK;
}

static reel_tensor *dropout_forward(reel_tape *t, reel_layer *L, reel_tensor *x, const int32_t *tokens,
                                    const reel_fwd_ctx *c)
{
	(void)tokens;
	(void)c;
	return reel_dropout(t, x, (reel_real) * (double *)L->state);
}

/* ---- linear -------------------------------------------------------------------------- */

static reel_status linear_build(reel_layer *L, reel_cfg_obj *o, const reel_flow *in, reel_flow *out,
                                reel_build_ctx *b)
{
	reel_linear *l = L->state;
	int nin = reel_cfg_size(o, "in_features", REEL_CFG_AUTO, 1, 1 << 20, "\"auto\": the previous layer's");
	int nout = reel_cfg_size(o, "out_features", REEL_CFG_AUTO, 1, 1 << 24,
	                         "\"auto\" (last layer only): the data's classes, vocabulary or outputs");
	int bias = reel_cfg_bool(o, "bias", 1, "add a bias vector");
	if (reel_cfg_describing(o->c))
		return REEL_OK;
	if (!in->unknown && in->tokens)
		reel_cfg_error(o, NULL, "linear needs vectors, found token ids: put an embedding before it");
	if (nin == REEL_CFG_AUTO) {
		nin = in->F;
		reel_cfg_resolve_int(o, "in_features", nin);
	} else if (nin != in->F && !in->tokens && !in->unknown) {
		reel_cfg_error(o, "in_features", "expected %d (the previous layer's output), found %d", in->F, nin);
	}
	if (nout == REEL_CFG_AUTO) {
		if (b->index != b->count - 1) {
			reel_cfg_error(o, "out_features", "\"auto\" is only for the last layer; give a number");
			nout = 1;
		} else {
			int want = b->task == REEL_TASK_REGRESS ? b->info->outputs : b->info->classes;
			nout = want > 0 ? want : 1;
			reel_cfg_resolve_int(o, "out_features", nout);
		}
	}
	*out = (reel_flow){.tokens = 0, .pooled = in->pooled, .F = nout, .unknown = in->unknown};
	L->n_params = (size_t)nout * (nin > 0 ? nin : 1) + (bias ? (size_t)nout : 0);
	b->act_bytes += (double)(in->pooled ? 1 : b->T) * b->B * nout * rsz * 2;
	if (!b->ps)
		return REEL_OK;
	return reel_linear_init(l, b->ps, L->prefix, nin, nout, bias, b->rng, &b->err);
}

static reel_tensor *linear_forward(reel_tape *t, reel_layer *L, reel_tensor *x, const int32_t *tokens,
                                   const reel_fwd_ctx *c)
{
	(void)tokens;
	(void)c;
	return reel_linear_forward(t, L->state, x);
}

/* ---- activation ------------------------------------------------------------------------ */

static const char *const ACTS[] = {"tanh", "relu", "sigmoid", NULL};

static reel_status activation_build(reel_layer *L, reel_cfg_obj *o, const reel_flow *in, reel_flow *out,
                                    reel_build_ctx *b)
{
	int *fn = L->state;
	*fn = reel_cfg_enum(o, "function", 0, ACTS, "elementwise function");
	if (reel_cfg_describing(o->c))
		return REEL_OK;
	if (!in->unknown && in->tokens)
		reel_cfg_error(o, NULL, "an activation needs vectors, found token ids");
	*out = *in;
	b->act_bytes += (double)(in->pooled ? 1 : b->T) * b->B * in->F * rsz * 2;
	return REEL_OK;
}

static reel_tensor *activation_forward(reel_tape *t, reel_layer *L, reel_tensor *x, const int32_t *tokens,
                                       const reel_fwd_ctx *c)
{
	(void)tokens;
	(void)c;
	int fn = *(int *)L->state;
	return fn == 0 ? reel_tanh(t, x) : fn == 1 ? reel_relu(t, x) : reel_sigmoid(t, x);
}

/* ---- time-delay layer (Waibel et al. 1989) ----------------------------------------------- */

typedef struct tdnn_state {
	reel_linear lin; /* weight (O, k*F): block j for the input j*dilation steps back */
	int k, dilation, act; /* act: 0 none, else ACTS[act - 1] */
} tdnn_state;

static const char *const TDNN_ACTS[] = {"none", "tanh", "relu", "sigmoid", NULL};

static reel_status tdnn_build(reel_layer *L, reel_cfg_obj *o, const reel_flow *in, reel_flow *out, reel_build_ctx *b)
{
	tdnn_state *s = L->state;
	int nout = reel_cfg_int(o, "out_features", REEL_CFG_REQUIRED, 1, 1 << 20, "outputs per step");
	s->k = reel_cfg_int(o, "context", 3, 1, 1024, "taps: the step itself and context - 1 earlier ones");
	s->dilation = reel_cfg_int(o, "dilation", 1, 1, 1 << 16, "steps between taps");
	s->act = reel_cfg_enum(o, "activation", 3, TDNN_ACTS, "after the product (Waibel et al. used the sigmoid)");
	int bias = reel_cfg_bool(o, "bias", 1, "add a bias vector");
	if (reel_cfg_describing(o->c))
		return REEL_OK;
	if (!in->unknown && (in->tokens || in->pooled))
		reel_cfg_error(o, NULL, "tdnn needs a sequence of vectors (T, B, F), found %s: %s",
		               in->tokens ? "token ids" : "a pooled input", in->tokens ? "put an embedding before it" : "move the pool after it");
	int F = in->F > 0 ? in->F : 1;
	*out = (reel_flow){.tokens = 0, .pooled = 0, .F = nout, .unknown = in->unknown};
	L->n_params = (size_t)nout * s->k * F + (bias ? (size_t)nout : 0);
	b->act_bytes += (double)b->T * b->B * ((double)s->k * F + 2.0 * nout) * rsz * 2;
	if (!b->ps)
		return REEL_OK;
	return reel_linear_init(&s->lin, b->ps, L->prefix, s->k * F, nout, bias, b->rng, &b->err);
}

/* y[s] = act(W [x[s]; x[s - d]; ...; x[s - (k-1) d]] + b), zeros before the first step:
 * a causal convolution over time with weights shared across steps */
static reel_tensor *tdnn_forward(reel_tape *t, reel_layer *L, reel_tensor *x, const int32_t *tokens,
                                 const reel_fwd_ctx *c)
{
	(void)tokens;
	(void)c;
	tdnn_state *s = L->state;
	reel_tensor *y = reel_linear_forward(t, &s->lin, reel_time_window(t, x, s->k, s->dilation)); /* (T, B, O) */
	switch (s->act) {
	case 1: return reel_tanh(t, y);
	case 2: return reel_relu(t, y);
	case 3: return reel_sigmoid(t, y);
	default: return y;
	}
}

/* ---- pooling over time ------------------------------------------------------------------ */

static const char *const POOLS[] = {"last", "mean", "max", NULL};
enum { POOL_LAST, POOL_MEAN, POOL_MAX };

static reel_status pool_build(reel_layer *L, reel_cfg_obj *o, const reel_flow *in, reel_flow *out, reel_build_ctx *b)
{
	int *mode = L->state;
	*mode = reel_cfg_enum(o, "mode", POOL_LAST, POOLS,
	                      "over each sequence's own steps (padding excluded): the last step's output, the mean, or the max");
	if (reel_cfg_describing(o->c))
		return REEL_OK;
	if (!in->unknown && (in->tokens || in->pooled))
		reel_cfg_error(o, NULL, "pool needs a sequence of vectors (T, B, F), found %s",
		               in->tokens ? "token ids" : "an already pooled input");
	*out = (reel_flow){.tokens = 0, .pooled = 1, .F = in->F, .unknown = in->unknown};
	b->act_bytes += (double)b->B * in->F * rsz * 2;
	return REEL_OK;
}

/*  last:  y_b = x[len_b - 1, b]                          rows of x folded to (T*B, F)
 *  mean:  y_b = sum_{t < len_b} x[t, b] / len_b         (padding masked: a linear or
 *                                                         sigmoid before the pool is not zero there)
 *  max:   y_b = max_{t < len_b} x[t, b]                  (padding set to -inf first) */
static reel_tensor *pool_forward(reel_tape *t, reel_layer *L, reel_tensor *x, const int32_t *tokens,
                                 const reel_fwd_ctx *c)
{
	(void)tokens;
	int mode = *(int *)L->state, T = c->T, B = c->B;
	if (!x)
		return NULL;
	int F = x->shape[x->ndim - 1];
	if (mode == POOL_LAST) {
		int32_t *idx = reel_tape_alloc(t, (size_t)B * sizeof *idx);
		if (!idx)
			return NULL;
		for (int b = 0; b < B; b++)
			idx[b] = (c->lengths ? c->lengths[b] - 1 : T - 1) * B + b;
		return reel_gather(t, reel_reshape2(t, x, T * B, F), idx, B);
	}
	if (mode == POOL_MEAN) {
		reel_tensor *inv = reel_tensor_new2(t, B, 1, REEL_NOGRAD);
		if (!inv)
			return NULL;
		for (int b = 0; b < B; b++)
			inv->data[b] = (reel_real)1 / (reel_real)(c->lengths ? c->lengths[b] : T);
		if (c->lengths)
			x = reel_mul(t, x, reel_length_mask(t, c->lengths, T, B));
		return reel_mul(t, reel_sum_axis(t, x, 0), inv);
	}
	/* max: padded steps get -inf added (a constant), then the max over time */
	reel_tensor *pad = reel_tensor_new3(t, T, B, 1, REEL_NOGRAD);
	if (!pad)
		return NULL;
	for (int s = 0; s < T; s++)
		for (int b = 0; b < B; b++)
			pad->data[s * B + b] = c->lengths && s >= c->lengths[b] ? -(reel_real)INFINITY : 0;
	return reel_max_axis(t, reel_add(t, x, pad), 0);
}

/* ---- the table ------------------------------------------------------------------------------ */

/* ---- mixture density output ------------------------------------------------------------ */

/* The output layer of a mixture density network (Bishop 1994; Graves
 * 2013): one linear map to K (1 + 2 O) values per step, read by the loss
 * (reel_mdn_nll) as K mixture logits, K x O means and K x O log standard
 * deviations.  It must be the last layer of a regress model, which then
 * trains on the negative log-likelihood. */
typedef struct mdn_state {
	reel_linear lin;
	int K;
} mdn_state;

static reel_status mdn_build(reel_layer *L, reel_cfg_obj *o, const reel_flow *in, reel_flow *out, reel_build_ctx *b)
{
	mdn_state *s = L->state;
	s->K = reel_cfg_int(o, "components", 5, 1, 1024, "Gaussians in the mixture (K)");
	int bias = reel_cfg_bool(o, "bias", 1, "add a bias vector");
	if (reel_cfg_describing(o->c))
		return REEL_OK;
	if (!in->unknown && in->tokens)
		reel_cfg_error(o, NULL, "mdn needs vectors, found token ids: put an embedding and a recurrent layer before it");
	if (b->task != REEL_TASK_REGRESS)
		reel_cfg_error(o, NULL, "an mdn output models real targets: /task must be \"regress\"");
	if (b->index != b->count - 1)
		reel_cfg_error(o, NULL, "mdn is an output layer: it must be the last layer (it is %d of %d)", b->index + 1, b->count);
	int O = b->info && b->info->outputs > 0 ? b->info->outputs : 1, nin = in->F > 0 ? in->F : 1;
	int nout = s->K * (1 + 2 * O);
	*out = (reel_flow){.tokens = 0, .pooled = in->pooled, .F = nout, .unknown = in->unknown};
	L->n_params = (size_t)nout * nin + (bias ? (size_t)nout : 0);
	b->act_bytes += (double)(in->pooled ? 1 : b->T) * b->B * nout * rsz * 2;
	if (!b->ps)
		return REEL_OK;
	return reel_linear_init(&s->lin, b->ps, L->prefix, nin, nout, bias, b->rng, &b->err);
}

static reel_tensor *mdn_forward(reel_tape *t, reel_layer *L, reel_tensor *x, const int32_t *tokens,
                                const reel_fwd_ctx *c)
{
	(void)tokens;
	(void)c;
	return reel_linear_forward(t, &((mdn_state *)L->state)->lin, x);
}

int reel__mdn_components(const reel_layer *L)
{
	return L && L->type && L->type->build == mdn_build ? ((const mdn_state *)L->state)->K : 0;
}

static const reel_layer_type TYPES[] = {
	{"embedding", "token ids -> vectors (torch.nn.Embedding; N(0, 1) init)", sizeof(reel_embedding), embedding_build,
	 embedding_forward, NULL, NULL},
	{"dropout", "inverted dropout (training only)", sizeof(double), dropout_build, dropout_forward, NULL, NULL},
	{"linear", "y = x W^T + b on the last axis (torch.nn.Linear)", sizeof(reel_linear), linear_build, linear_forward,
	 NULL, NULL},
	{"activation", "elementwise tanh, relu or sigmoid", sizeof(int), activation_build, activation_forward, NULL, NULL},
	{"pool", "pool over time, masked by lengths: (T, B, F) -> (B, F)", sizeof(int), pool_build, pool_forward, NULL, NULL},
	{"tdnn", "time-delay layer (Waibel et al. 1989): a causal, dilated window of the last steps, weights shared over time",
	 sizeof(tdnn_state), tdnn_build, tdnn_forward, NULL, NULL},
	{"mdn", "mixture density output (Bishop 1994; Graves 2013): K Gaussians per step, trained on their negative log-likelihood",
	 sizeof(mdn_state), mdn_build, mdn_forward, NULL, NULL},
	{"jordan", "output recurrence (Jordan 1986): h_t = tanh(W x_t + U f_{t-1} + b), y_t = V h_t + c, f the output or its running average; teacher forcing in training",
	 sizeof(reel__jordan_state), reel__jordan_build, reel__jordan_forward, NULL, NULL},
	{"narx", "nonlinear autoregressive with exogenous inputs: y_t = V tanh(sum_{i<dx} W_i x_{t-i} + sum_{j=1..dy} U_j y_{t-j} + b) + c; teacher forcing in training",
	 sizeof(reel__narx_state), reel__narx_build, reel__narx_forward, NULL, NULL},
};

#define NFIXED ((int)(sizeof TYPES / sizeof TYPES[0]))

/* The recurrent types, one per registered cell, made on demand: a program
 * may register cells of its own before it builds a model. */
#define MAX_REC_TYPES 64
static reel_layer_type rec_types[MAX_REC_TYPES];
static int n_rec_types;

static int sync_rec_types(void)
{
	/* every time: a program's cell may have been replaced (reel_cell_define) */
	int n = reel_cell_count();
	for (n_rec_types = 0; n_rec_types < n && n_rec_types < MAX_REC_TYPES; n_rec_types++) {
		const reel_cell *c = reel_cell_at(n_rec_types);
		rec_types[n_rec_types] = (reel_layer_type){c->name, c->doc ? c->doc : "a recurrent cell over time",
		                                           sizeof(rec_state), rec_build, rec_forward, rec_free, rec_carry};
	}
	return n_rec_types;
}

const char *reel__layer_name_doc(void) { return NAME_DOC; }

void reel__layer_opts(const reel_layer *L, reel_layer_opts *o)
{
	memset(o, 0, sizeof *o);
	const char *n = L->type->name;
	if (L->type->build == rec_build)
		o->rnn = &((const rec_state *)L->state)->rnn.o;
	else if (!strcmp(n, "dropout"))
		o->p = *(const double *)L->state;
	else if (!strcmp(n, "activation"))
		o->mode = ACTS[*(const int *)L->state];
	else if (!strcmp(n, "pool"))
		o->mode = POOLS[*(const int *)L->state];
	else if (!strcmp(n, "tdnn")) {
		const tdnn_state *s = L->state;
		o->mode = s->act ? TDNN_ACTS[s->act] : NULL;
		o->context = s->k;
		o->dilation = s->dilation;
		o->lin = &s->lin;
	} else if (!strcmp(n, "mdn")) {
		const mdn_state *s = L->state;
		o->components = s->K;
		o->lin = &s->lin;
	}
}

/* Order: embedding, the recurrent types, then the others. */
int reel_layer_type_count(void)
{
	return NFIXED + sync_rec_types();
}

const reel_layer_type *reel_layer_type_at(int i)
{
	int nrec = sync_rec_types();
	if (i < 0 || i >= NFIXED + nrec)
		return NULL;
	if (i == 0)
		return &TYPES[0];
	return i <= nrec ? &rec_types[i - 1] : &TYPES[i - nrec];
}

const reel_layer_type *reel_layer_type_find(const char *name)
{
	for (int i = 0; i < reel_layer_type_count(); i++)
		if (!strcmp(reel_layer_type_at(i)->name, name))
			return reel_layer_type_at(i);
	return NULL;
}
