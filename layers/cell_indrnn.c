/* IndRNN, the independently recurrent network (Li et al. 2018,
 * "Independently recurrent neural network (IndRNN): building a longer and
 * deeper RNN"): each unit sees only its own past, through one recurrent
 * weight per unit, so the recurrent product is an elementwise one and
 * there is no H x H matrix at all.
 *
 * h' = relu(x W_ih^T + b_ih + b_hh + u * h)          (B, H),  u = weight_hh (H)
 *
 * u starts in U(0, 1): |u| <= 1 keeps the relu recurrence from exploding,
 * the range Li et al. constrain it to.  bias_hh is kept (folded into the
 * input projection) so the names and count match torch.nn.RNN's. */
#include "layers.h"

enum { IND_W_IH, IND_U, IND_B_IH, IND_B_HH };

static void indrnn_step(reel_tape *t, const reel_cell_params *p, reel_tensor *xp, reel_tensor *h_in,
                        reel_tensor *const *state, reel_tensor **next)
{
	(void)state;
	next[0] = reel_relu(t, reel_add(t, xp, reel_mul(t, h_in, p->w[IND_U]))); /* u (H) broadcast over rows */
}

const reel_cell reel_cell_indrnn = {
	"indrnn", "IndRNN over time (Li et al. 2018): h' = relu(W x + b + u * h), u one weight per unit", 1, 1, 4,
	{
		{"weight_ih", 2, {REEL_DIM_H, REEL_DIM_I}, REEL_INIT_UNIFORM, REEL_CP_PROJ},
		{"weight_hh", 1, {REEL_DIM_H}, REEL_INIT_UNIT, 0},
		{"bias_ih", 1, {REEL_DIM_H}, REEL_INIT_UNIFORM, REEL_CP_BIAS | REEL_CP_PROJ_BIAS},
		{"bias_hh", 1, {REEL_DIM_H}, REEL_INIT_UNIFORM, REEL_CP_BIAS | REEL_CP_PROJ_BIAS},
	},
	0, indrnn_step, NULL};
