/* The "jordan" layer: output recurrence (Jordan 1986, "Serial order: a
 * parallel distributed processing approach").  The hidden state is fed
 * the previous output rather than the previous hidden state, so the layer
 * is its model's output: the last layer of a per-step regress model.
 *
 *   h_t = tanh(x_t W_ih^T + b_ih + y_{t-1} W_yh^T)     (B, H), y_{-1} = 0
 *   y_t = h_t W_out^T + b_out                          (B, O)
 *
 * Teacher forcing: in training (reel_fwd_ctx.tf > 0) y_{t-1} is the
 * target of step t - 1 with probability tf (train.teacher_forcing's
 * ratio and schedule, drawn per step from the tape's RNG), else the
 * layer's own output; evaluation, prediction and gradient checks run
 * free (tf 0), feeding back the outputs, through which the gradient
 * flows.  Parameters: ih.weight, ih.bias, yh.weight, out.weight,
 * out.bias.  A composition of linear, add and tanh per step; no loop over
 * numbers. */
#include "model.h"

#include <stdio.h>

reel_status reel__jordan_build(reel_layer *L, reel_cfg_obj *o, const reel_flow *in, reel_flow *out, reel_build_ctx *b)
{
	reel__jordan_state *s = L->state;
	s->H = reel_cfg_int(o, "hidden_size", 32, 1, 1 << 16, "hidden units (H)");
	if (reel_cfg_describing(o->c))
		return REEL_OK;
	if (!in->unknown && in->tokens)
		reel_cfg_error(o, NULL, "jordan needs vectors, found token ids: put an embedding before it");
	if (b->task != REEL_TASK_REGRESS)
		reel_cfg_error(o, NULL, "jordan feeds back real outputs: /task must be \"regress\"");
	if (b->index != b->count - 1)
		reel_cfg_error(o, NULL, "jordan is an output layer: it must be the last layer (it is %d of %d)", b->index + 1,
		               b->count);
	if (!in->unknown && in->pooled)
		reel_cfg_error(o, NULL, "jordan runs over time: it needs (T, B, F), found a pooled (B, F)");
	int F = in->F > 0 ? in->F : 1, H = s->H;
	s->O = b->info && b->info->outputs > 0 ? b->info->outputs : 1;
	*out = (reel_flow){.tokens = 0, .pooled = 0, .F = s->O, .unknown = in->unknown};
	L->n_params = (size_t)H * F + H + (size_t)H * s->O + (size_t)s->O * H + s->O;
	b->act_bytes += (double)b->T * b->B * (3.0 * H + 2.0 * s->O) * sizeof(reel_real);
	if (!b->ps)
		return REEL_OK;
	char p[3][96];
	snprintf(p[0], sizeof p[0], "%sih.", L->prefix);
	snprintf(p[1], sizeof p[1], "%syh.", L->prefix);
	snprintf(p[2], sizeof p[2], "%sout.", L->prefix);
	reel_status st = reel_linear_init(&s->ih, b->ps, p[0], F, H, 1, b->rng, &b->err);
	if (st == REEL_OK)
		st = reel_linear_init(&s->yh, b->ps, p[1], s->O, H, 0, b->rng, &b->err);
	if (st == REEL_OK)
		st = reel_linear_init(&s->out, b->ps, p[2], H, s->O, 1, b->rng, &b->err);
	return st;
}

reel_tensor *reel__jordan_forward(reel_tape *t, reel_layer *L, reel_tensor *x, const int32_t *tokens,
                                  const reel_fwd_ctx *c)
{
	(void)tokens;
	const reel__jordan_state *s = L->state;
	int T = c->T, B = c->B, O = s->O;
	if (!x)
		return NULL;
	if (c->tf > 0 && (!c->targets || c->O != O))
		return reel_tape_fail(t, REEL_ERR_ARG, "jordan %s: teacher forcing needs per-step targets of %d values",
		                      L->name, O);
	reel_tensor **ys = reel_tape_alloc(t, (size_t)T * sizeof *ys);
	if (!ys)
		return NULL;
	reel_tensor *xp = reel_linear_forward(t, &s->ih, x); /* all steps' x_t W_ih^T + b_ih at once (T, B, H) */
	reel_tensor *prev = NULL;                            /* y_{t-1} (B, O); NULL: y_{-1} = 0 */
	for (int k = 0; k < T && reel_tape_status(t) == REEL_OK; k++) {
		reel_tensor *a = reel_index(t, xp, k);                       /* (B, H) */
		if (prev)
			a = reel_add(t, a, reel_linear_forward(t, &s->yh, prev)); /* + y_{t-1} W_yh^T */
		ys[k] = reel_linear_forward(t, &s->out, reel_tanh(t, a));   /* y_t (B, O) */
		if (c->tf > 0 && reel_rng_uniform(reel_tape_rng(t)) < c->tf) /* teacher forcing: the target */
			prev = reel_tensor_wrap(t, 2, (int[]){B, O}, (reel_real *)c->targets + (size_t)k * B * O);
		else
			prev = ys[k];
	}
	return reel_tape_status(t) == REEL_OK ? reel_stack(t, ys, T) : NULL;
}
