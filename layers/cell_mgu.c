/* A new cell in a dozen lines: the minimal gated unit (Zhou et al. 2016,
 * "Minimal gated unit for recurrent neural networks").  It gets gradients,
 * stacking, bidirectionality, variable lengths and dropout from the driver;
 * nothing else is needed.  Parameters: PyTorch's layout with two gate
 * blocks, w_ih (2H, F) and w_hh (2H, H) holding the forget block then the
 * candidate block; both biases are folded into xp.
 *
 * f  = sigmoid(x W_f^T + h U_f^T + b_f)               (B, H)
 * h~ = tanh(x W_h^T + (f * h) U_h^T + b_h)            (B, H)
 * h' = (1 - f) * h + f * h~  =  h + f * (h~ - h)      (B, H) */
#include "layers.h"

static void mgu_step(reel_tape *t, const reel_cell_params *p, reel_tensor *xp, reel_tensor *h_in,
                     reel_tensor *const *state, reel_tensor **next)
{
	int H = p->hidden_size;
	reel_tensor *x2[2];
	if (reel_split(t, xp, -1, 2, x2) != REEL_OK)
		return;
	reel_tensor *w_hh = p->w[REEL_W_HH];
	reel_tensor *U_f = reel_rows(t, w_hh, 0, H), *U_h = reel_rows(t, w_hh, H, H); /* views */
	reel_tensor *f = reel_sigmoid(t, reel_addmm(t, x2[0], h_in, U_f, REEL_TRANS_B));
	reel_tensor *cand = reel_tanh(t, reel_addmm(t, x2[1], reel_mul(t, f, h_in), U_h, REEL_TRANS_B));
	next[0] = reel_add(t, state[0], reel_mul(t, f, reel_sub(t, cand, state[0])));
}

const reel_cell reel_cell_mgu = {
	"mgu", "minimal gated unit over time (Zhou et al. 2016)", /*gates*/ 2, /*states*/ 1,
	4, {REEL_CELL_PARAMS_PYTORCH(0, REEL_CP_PROJ_BIAS)}, 0, mgu_step, NULL};
