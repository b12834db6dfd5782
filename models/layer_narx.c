/* The "narx" layer: a nonlinear autoregressive model with exogenous
 * inputs (Leontaritis & Billings 1985; as a recurrent network, Lin,
 * Horne, Tino & Giles 1996).  Delay lines of the last dx inputs and the
 * last dy outputs feed one tanh hidden layer; its output is the model's,
 * so the layer is the last of a per-step regress model.
 *
 *   u_t = [x_t; x_{t-1}; ...; x_{t-dx+1}]                 (B, dx F), x_{<0} = 0
 *   v_t = [y_{t-1}; y_{t-2}; ...; y_{t-dy}]                (B, dy O), y_{<0} = 0
 *   h_t = tanh(u_t W_ih^T + b_ih + v_t W_yh^T)             (B, H)
 *   y_t = h_t W_out^T + b_out                              (B, O)
 *
 * that is y_t = V tanh(sum_{i<dx} W_i x_{t-i} + sum_{j=1..dy} U_j y_{t-j}
 * + b) + c with W_i the columns [i F, (i + 1) F) of ih.weight (H, dx F)
 * and U_j the columns [(j - 1) O, j O) of yh.weight (H, dy O).
 *
 * Teacher forcing: in training (reel_fwd_ctx.tf > 0) the y_t that enters
 * the output delay line is the target of step t with probability tf
 * (train.teacher_forcing's ratio and schedule, drawn once per step from
 * the tape's RNG, so a step's value is the same at every delay), else
 * the layer's own output: with ratio 1 this is the series-parallel
 * training of NARX networks.  Evaluation, prediction and gradient checks
 * run free (tf 0, the parallel mode), feeding back the outputs, through
 * which the gradient flows.  dy 0 is a feed-forward window of inputs
 * (no recurrence: all steps at once).
 *
 * A composition of time_window, linear, concat, add and tanh; the input
 * delays of all steps are one product over (T B, dx F).  No loop over
 * numbers. */
#include "model.h"

#include <stdio.h>

reel_status reel__narx_build(reel_layer *L, reel_cfg_obj *o, const reel_flow *in, reel_flow *out, reel_build_ctx *b)
{
	reel__narx_state *s = L->state;
	s->dx = reel_cfg_int(o, "input_delays", 2, 1, 1024, "dx: taps of the input, x_t back to x_{t-dx+1}");
	s->dy = reel_cfg_int(o, "output_delays", 2, 0, 1024, "dy: taps of the output fed back, y_{t-1} to y_{t-dy} (0: none)");
	s->H = reel_cfg_int(o, "hidden_size", 32, 1, 1 << 16, "hidden tanh units (H)");
	if (reel_cfg_describing(o->c))
		return REEL_OK;
	reel__feedback_place(o, "narx", in, b);
	if (b->task == REEL_TASK_REGRESS && !b->per_step)
		reel_cfg_error(o, NULL, "narx feeds back its output at every step: /data/per_step must be true");
	int F = in->F > 0 ? in->F : 1, H = s->H;
	s->O = b->info && b->info->outputs > 0 ? b->info->outputs : 1;
	*out = (reel_flow){.tokens = 0, .pooled = 0, .F = s->O, .unknown = in->unknown};
	L->n_params = (size_t)H * s->dx * F + H + (size_t)H * s->dy * s->O + (size_t)s->O * H + s->O;
	b->act_bytes += (double)b->T * b->B * ((double)s->dx * F + 3.0 * H + (s->dy + 2.0) * s->O) * sizeof(reel_real) * 2;
	if (!b->ps)
		return REEL_OK;
	char p[3][96];
	snprintf(p[0], sizeof p[0], "%sih.", L->prefix);
	snprintf(p[1], sizeof p[1], "%syh.", L->prefix);
	snprintf(p[2], sizeof p[2], "%sout.", L->prefix);
	reel_status st = reel_linear_init(&s->ih, b->ps, p[0], s->dx * F, H, 1, b->rng, &b->err);
	if (st == REEL_OK && s->dy > 0)
		st = reel_linear_init(&s->yh, b->ps, p[1], s->dy * s->O, H, 0, b->rng, &b->err);
	if (st == REEL_OK)
		st = reel_linear_init(&s->out, b->ps, p[2], H, s->O, 1, b->rng, &b->err);
	return st;
}

reel_tensor *reel__narx_forward(reel_tape *t, reel_layer *L, reel_tensor *x, const int32_t *tokens,
                                const reel_fwd_ctx *c)
{
	(void)tokens;
	const reel__narx_state *s = L->state;
	int T = c->T, B = c->B, O = s->O, dy = s->dy;
	if (!x)
		return NULL;
	/* all steps' u_t W_ih^T + b_ih at once (T, B, H) */
	reel_tensor *xp = reel_linear_forward(t, &s->ih, reel_time_window(t, x, s->dx, 1));
	if (dy == 0)
		return reel_linear_forward(t, &s->out, reel_tanh(t, xp));
	if (!reel__feedback_targets(t, L, c, O))
		return NULL;
	reel_tensor **ys = reel_tape_alloc(t, (size_t)T * sizeof *ys);
	reel_tensor **fed = reel_tape_alloc(t, (size_t)T * sizeof *fed); /* what entered the delay line at each step */
	reel_tensor **v = reel_tape_alloc(t, (size_t)dy * sizeof *v);
	reel_tensor *zero = reel_tensor_new2(t, B, O, REEL_NOGRAD); /* y_{<0} */
	if (!ys || !fed || !v || !zero)
		return NULL;
	for (int k = 0; k < T && reel_tape_status(t) == REEL_OK; k++) {
		for (int j = 1; j <= dy; j++)
			v[j - 1] = k - j >= 0 ? fed[k - j] : zero;
		reel_tensor *vt = dy == 1 ? v[0] : reel_concat(t, v, dy, 1);           /* v_t (B, dy O) */
		reel_tensor *a = reel_add(t, reel_index(t, xp, k), reel_linear_forward(t, &s->yh, vt)); /* (B, H) */
		ys[k] = reel_linear_forward(t, &s->out, reel_tanh(t, a));             /* y_t (B, O) */
		fed[k] = reel__feedback_value(t, c, ys[k], k, B, O);             /* y_t, or the target (teacher forcing) */
	}
	return reel_tape_status(t) == REEL_OK ? reel_stack(t, ys, T) : NULL;
}
