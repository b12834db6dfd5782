/* Two LSTM variants as cells with parameters of their own: peepholes
 * (Gers & Schmidhuber 2000) and layer normalization (Ba et al. 2016).
 * Gate order i, f, g, o as torch.nn.LSTM's, so weight_ih and weight_hh have
 * PyTorch's layout and a plain LSTM's weights load into them. */
#include "layers.h"

/* ---- peephole LSTM -------------------------------------------------------------
 * Gers & Schmidhuber 2000, "Recurrent nets that time and count": the gates
 * look at the cell state through diagonal (per-unit) weights, the input and
 * forget gates at the old state, the output gate at the new one.
 *
 * a_i, a_f, a_g, a_o = split4(xp + h W_hh^T)              (B, 4H)
 * i = sigmoid(a_i + w_ci * c),  f = sigmoid(a_f + w_cf * c)
 * c' = f * c + i * tanh(a_g)                               (B, H)
 * o = sigmoid(a_o + w_co * c')
 * h' = o * tanh(c')                                        (B, H) */
enum { PH_W_CI = 4, PH_W_CF, PH_W_CO };

static void peephole_step(reel_tape *t, const reel_cell_params *p, reel_tensor *xp, reel_tensor *h_in,
                          reel_tensor *const *state, reel_tensor **next)
{
	reel_tensor *a[4], *c = state[1];
	if (reel_split(t, reel_addmm(t, xp, h_in, p->w[REEL_W_HH], REEL_TRANS_B), -1, 4, a) != REEL_OK)
		return;
	reel_tensor *i = reel_sigmoid(t, reel_add(t, a[0], reel_mul(t, c, p->w[PH_W_CI])));
	reel_tensor *f = reel_sigmoid(t, reel_add(t, a[1], reel_mul(t, c, p->w[PH_W_CF])));
	reel_tensor *c2 = reel_add(t, reel_mul(t, f, c), reel_mul(t, i, reel_tanh(t, a[2])));
	reel_tensor *o = reel_sigmoid(t, reel_add(t, a[3], reel_mul(t, c2, p->w[PH_W_CO])));
	next[1] = c2;
	next[0] = reel_mul(t, o, reel_tanh(t, c2));
}

const reel_cell reel_cell_peephole_lstm = {
	"peephole_lstm", "LSTM with peephole connections (Gers & Schmidhuber 2000): gates see c through weight_c{i,f,o}",
	4, 2, 7,
	{
		REEL_CELL_PARAMS_PYTORCH(REEL_CP_FORGET, REEL_CP_PROJ_BIAS | REEL_CP_FORGET_ZERO),
		{"weight_ci", 1, {REEL_DIM_H}, REEL_INIT_UNIFORM, 0},
		{"weight_cf", 1, {REEL_DIM_H}, REEL_INIT_UNIFORM, 0},
		{"weight_co", 1, {REEL_DIM_H}, REEL_INIT_UNIFORM, 0},
	},
	1, peephole_step, NULL};

/* ---- layer-normalized LSTM -----------------------------------------------------------
 * Ba, Kiros & Hinton 2016, "Layer normalization", eqs. 20-22: the input and
 * recurrent contributions to the gates are normalized separately (over all
 * 4H gate pre-activations of a row), and so is the new cell state before
 * the output tanh.  The betas are the biases (no separate b); eps 1e-5.
 *
 * xp = x W_ih^T                        (all steps at once, no bias)  (B, 4H)
 * a_i, a_f, a_g, a_o = split4(LN(xp; g_ih, b_ih) + LN(h W_hh^T; g_hh, b_hh))
 * c' = sigmoid(a_f) * c + sigmoid(a_i) * tanh(a_g)                    (B, H)
 * h' = sigmoid(a_o) * tanh(LN(c'; g_c, b_c))                          (B, H)
 *
 * c' itself (not its normalization) is the carried state, as in Ba et al. */
enum { LN_W_IH, LN_W_HH, LN_G_IH, LN_B_IH, LN_G_HH, LN_B_HH, LN_G_C, LN_B_C };
#define LN_EPS ((reel_real)1e-5)

static void ln_lstm_step(reel_tape *t, const reel_cell_params *p, reel_tensor *xp, reel_tensor *h_in,
                         reel_tensor *const *state, reel_tensor **next)
{
	reel_tensor *a[4];
	reel_tensor *gx = reel_layer_norm(t, xp, p->w[LN_G_IH], p->w[LN_B_IH], LN_EPS);
	reel_tensor *gh = reel_layer_norm(t, reel_matmul(t, h_in, p->w[LN_W_HH], REEL_TRANS_B), p->w[LN_G_HH],
	                                  p->w[LN_B_HH], LN_EPS);
	if (reel_split(t, reel_add(t, gx, gh), -1, 4, a) != REEL_OK)
		return;
	reel_tensor *c = reel_add(t, reel_mul(t, reel_sigmoid(t, a[1]), state[1]),
	                          reel_mul(t, reel_sigmoid(t, a[0]), reel_tanh(t, a[2])));
	next[1] = c;
	next[0] = reel_mul(t, reel_sigmoid(t, a[3]), reel_tanh(t, reel_layer_norm(t, c, p->w[LN_G_C], p->w[LN_B_C], LN_EPS)));
}

const reel_cell reel_cell_ln_lstm = {
	"ln_lstm", "layer-normalized LSTM (Ba et al. 2016): LN of input and recurrent gate sums and of c", 4, 2, 8,
	{
		{"weight_ih", 2, {REEL_DIM_GH, REEL_DIM_I}, REEL_INIT_UNIFORM, REEL_CP_PROJ},
		{"weight_hh", 2, {REEL_DIM_GH, REEL_DIM_H}, REEL_INIT_UNIFORM, REEL_CP_RECURRENT},
		{"ln_gamma_ih", 1, {REEL_DIM_GH}, REEL_INIT_ONES, 0},
		{"ln_beta_ih", 1, {REEL_DIM_GH}, REEL_INIT_ZEROS, REEL_CP_BIAS | REEL_CP_FORGET},
		{"ln_gamma_hh", 1, {REEL_DIM_GH}, REEL_INIT_ONES, 0},
		{"ln_beta_hh", 1, {REEL_DIM_GH}, REEL_INIT_ZEROS, REEL_CP_BIAS | REEL_CP_FORGET_ZERO},
		{"ln_gamma_c", 1, {REEL_DIM_H}, REEL_INIT_ONES, 0},
		{"ln_beta_c", 1, {REEL_DIM_H}, REEL_INIT_ZEROS, REEL_CP_BIAS},
	},
	1, ln_lstm_step, NULL};
