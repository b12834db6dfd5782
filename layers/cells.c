/* The built-in recurrent cells, each a descriptor (its parameters) and a
 * few op calls under its equations.  xp is this step's input projection
 * x W_ih^T + b_ih (B, G*H), with b_hh already added for cells that fold it
 * (every PyTorch-layout cell but the GRU, whose b_hn sits inside the reset
 * product).  The parameters arrive in p->w[] in the descriptor's order. */
#include "layers.h"

/* h' = act(xp + h W_hh^T)                                         (B, H)
 * the product in place over xp (the step's alone), h' into the driver's
 * slot (next[0]) or a tensor of its own */
static void rnn_step(reel_tape *t, const reel_cell_params *p, reel_tensor *xp, reel_tensor *h_in,
                     reel_tensor *const *state, reel_tensor **next, int relu)
{
	(void)state;
	reel_tensor *pre = reel_addmm(t, xp, h_in, p->w[REEL_W_HH], REEL_TRANS_B | REEL_IN_PLACE);
	next[0] = reel_rnn_cell(t, pre, relu ? 'r' : 't', next[0]);
}

static void rnn_tanh_step(reel_tape *t, const reel_cell_params *p, reel_tensor *xp, reel_tensor *h_in,
                          reel_tensor *const *state, reel_tensor **next)
{
	rnn_step(t, p, xp, h_in, state, next, 0);
}

static void rnn_relu_step(reel_tape *t, const reel_cell_params *p, reel_tensor *xp, reel_tensor *h_in,
                          reel_tensor *const *state, reel_tensor **next)
{
	rnn_step(t, p, xp, h_in, state, next, 1);
}

/* gates = xp + h W_hh^T                          (B, 4H), [i f g o], in place
 *                                                over xp (the step's alone)
 * c' = sigmoid(f) * c + sigmoid(i) * tanh(g)     one lstm_cell op, in place
 * h' = sigmoid(o) * tanh(c')                     over gates: y (2, B, H)
 * (the activations overwrite the product, which nothing else reads) */
static void lstm_step(reel_tape *t, const reel_cell_params *p, reel_tensor *xp, reel_tensor *h_in,
                      reel_tensor *const *state, reel_tensor **next)
{
	reel_tensor *gates = reel_addmm(t, xp, h_in, p->w[REEL_W_HH], REEL_TRANS_B | REEL_IN_PLACE);
	if (next[0]) { /* h' into the driver's slot */
		next[1] = reel_lstm_cell(t, gates, state[1], next[0], REEL_IN_PLACE);
		return;
	}
	reel_tensor *y = reel_lstm_cell(t, gates, state[1], NULL, REEL_IN_PLACE);
	next[1] = reel_index(t, y, 0);
	next[0] = reel_index(t, y, 1);
}

/* gh = h W_hh^T + b_hh                    (B, 3H)
 * r = sigmoid(xr + hr),  z = sigmoid(xz + hz)      one gru_cell op; r, z, n
 * n = tanh(xn + r * hn)                            saved over xp (the
 * h' = (1 - z) * n + z * h  =  n + z * (h - n)     step's alone)      */
static void gru_step(reel_tape *t, const reel_cell_params *p, reel_tensor *xp, reel_tensor *h_in,
                     reel_tensor *const *state, reel_tensor **next)
{
	reel_tensor *w_hh = p->w[REEL_W_HH], *b_hh = p->w[REEL_B_HH];
	reel_tensor *gh = b_hh ? reel_addmm(t, b_hh, h_in, w_hh, REEL_TRANS_B) : reel_matmul(t, h_in, w_hh, REEL_TRANS_B);
	next[0] = reel_gru_cell(t, xp, gh, state[0], next[0], REEL_IN_PLACE); /* next[0]: the driver's slot or NULL */
}

const reel_cell reel_cell_rnn_tanh = {
	"rnn", "Elman RNN over time (torch.nn.RNN; nonlinearity tanh or relu)", 1, 1,
	4, {REEL_CELL_PARAMS_PYTORCH(0, REEL_CP_PROJ_BIAS)}, 0, rnn_tanh_step, NULL};
const reel_cell reel_cell_rnn_relu = {
	"rnn_relu", "Elman RNN with relu over time (torch.nn.RNN, nonlinearity=\"relu\")", 1, 1,
	4, {REEL_CELL_PARAMS_PYTORCH(0, REEL_CP_PROJ_BIAS)}, 0, rnn_relu_step, NULL};
/* forget_bias: bias_ih's forget block gets it, bias_hh's is zeroed */
const reel_cell reel_cell_lstm = {
	"lstm", "LSTM over time (torch.nn.LSTM: gates i, f, g, o)", 4, 2,
	4, {REEL_CELL_PARAMS_PYTORCH(REEL_CP_FORGET, REEL_CP_PROJ_BIAS | REEL_CP_FORGET_ZERO)}, 1, lstm_step, NULL};
const reel_cell reel_cell_gru = {
	"gru", "GRU over time (torch.nn.GRU: gates r, z, n)", 3, 1,
	4, {REEL_CELL_PARAMS_PYTORCH(0, 0)}, 0, gru_step, NULL};
