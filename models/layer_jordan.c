/* The "jordan" layer: output recurrence (Jordan 1986, "Serial order: a
 * parallel distributed processing approach").  The hidden state is fed
 * the previous output rather than the previous hidden state, so the layer
 * is its model's output: the last layer of a per-step regress model.
 *
 *   h_t = tanh(x_t W_ih^T + b_ih + f_{t-1} W_yh^T)     (B, H), f_{-1} = 0
 *   y_t = h_t W_out^T + b_out                          (B, O)
 *
 * What is fed back, f_t ("feedback"):
 *   "output"   f_t = y_t                               (the default)
 *   "average"  f_t = a_t = mu a_{t-1} + (1 - mu) y_t,  a_{-1} = 0
 * The average is Jordan's state units, which decay with mu and take in
 * the current output, here normalised by (1 - mu) so that a_t stays on
 * the scale of y (a constant output y gives a_t -> y) and mu = 0 is the
 * "output" variant exactly.  mu is "decay", fixed in [0, 1), or with
 * "learn_decay" a parameter: mu = sigmoid(p), p = log(mu_0 / (1 - mu_0))
 * from the configured decay mu_0 in (0, 1) (parameter decay_logit (1)).
 *
 * Teacher forcing: in training (reel_fwd_ctx.tf > 0) y_t in f_t is the
 * target of step t with probability tf (train.teacher_forcing's ratio
 * and schedule, drawn per step from the tape's RNG), else the layer's own
 * output; for "average" the target enters the average in y_t's place.
 * Evaluation, prediction and gradient checks run free (tf 0), feeding
 * back the outputs, through which the gradient flows.  Parameters:
 * ih.weight, ih.bias, yh.weight, out.weight, out.bias, and decay_logit
 * when learned.  A composition of linear, add, scale, mul, sigmoid and
 * tanh per step; no loop over numbers. */
#include "model.h"

#include <math.h>
#include <stdio.h>

static const char *const FEEDBACK[] = {"output", "average", NULL};

void reel__feedback_place(reel_cfg_obj *o, const char *type, const reel_flow *in, const reel_build_ctx *b)
{
	if (!in->unknown && in->tokens)
		reel_cfg_error(o, NULL, "%s needs vectors, found token ids: put an embedding before it", type);
	if (b->task != REEL_TASK_REGRESS)
		reel_cfg_error(o, NULL, "%s feeds back real outputs: /task must be \"regress\"", type);
	if (b->index != b->count - 1)
		reel_cfg_error(o, NULL, "%s is an output layer: it must be the last layer (it is %d of %d)", type,
		               b->index + 1, b->count);
	if (!in->unknown && in->pooled)
		reel_cfg_error(o, NULL, "%s runs over time: it needs (T, B, F), found a pooled (B, F)", type);
}

int reel__feedback_targets(reel_tape *t, const reel_layer *L, const reel_fwd_ctx *c, int O)
{
	if (c->tf > 0 && (!c->targets || c->O != O)) {
		reel_tape_fail(t, REEL_ERR_ARG, "%s %s: teacher forcing needs per-step targets of %d values", L->type->name,
		               L->name, O);
		return 0;
	}
	return 1;
}

reel_tensor *reel__feedback_value(reel_tape *t, const reel_fwd_ctx *c, reel_tensor *y, int k, int B, int O)
{
	if (c->tf > 0 && reel_rng_uniform(reel_tape_rng(t)) < c->tf)
		return reel_tensor_wrap(t, 2, (int[]){B, O}, (reel_real *)c->targets + (size_t)k * B * O);
	return y;
}

reel_status reel__jordan_build(reel_layer *L, reel_cfg_obj *o, const reel_flow *in, reel_flow *out, reel_build_ctx *b)
{
	reel__jordan_state *s = L->state;
	int describing = reel_cfg_describing(o->c), learn = 0;
	s->H = reel_cfg_int(o, "hidden_size", 32, 1, 1 << 16, "hidden units (H)");
	int before = reel_cfg_nerrors(o->c);
	s->feedback = reel_cfg_enum(o, "feedback", REEL_JORDAN_OUTPUT, FEEDBACK,
	                            "fed back into h_t: the previous output y_{t-1}, or the running average "
	                            "a_{t-1}, a_t = decay a_{t-1} + (1 - decay) y_t");
	int bad_feedback = reel_cfg_nerrors(o->c) > before; /* then check decay as if for "average" */
	s->decay = 0;
	if (s->feedback == REEL_JORDAN_AVERAGE || describing || bad_feedback) {
		s->decay = reel_cfg_real(o, "decay", 0.5, 0, 1, "average: mu in [0, 1) (0: the output itself); with learn_decay, its start in (0, 1)");
		learn = reel_cfg_bool(o, "learn_decay", 0, "average: mu = sigmoid(p) with p a parameter (decay_logit), from logit(decay)");
		if (!describing && s->decay >= 1)
			reel_cfg_error(o, "decay", "expected a number in [0, 1) (1 would never take in an output), found 1");
		if (!describing && learn && s->decay <= 0)
			reel_cfg_error(o, "decay", "a learned decay starts from logit(decay): expected a number in (0, 1), found 0");
	} else {
		/* read (so not "unknown") and refused: they mean nothing for "output" */
		if (reel_cfg_has(o, "decay")) {
			reel_cfg_real(o, "decay", 0.5, 0, 1, NULL);
			reel_cfg_error(o, "decay", "applies to \"feedback\": \"average\" only, found feedback \"output\"");
		}
		if (reel_cfg_has(o, "learn_decay")) {
			reel_cfg_bool(o, "learn_decay", 0, NULL);
			reel_cfg_error(o, "learn_decay", "applies to \"feedback\": \"average\" only, found feedback \"output\"");
		}
	}
	if (describing)
		return REEL_OK;
	reel__feedback_place(o, "jordan", in, b);
	int F = in->F > 0 ? in->F : 1, H = s->H;
	s->O = b->info && b->info->outputs > 0 ? b->info->outputs : 1;
	*out = (reel_flow){.tokens = 0, .pooled = 0, .F = s->O, .unknown = in->unknown};
	L->n_params = (size_t)H * F + H + (size_t)H * s->O + (size_t)s->O * H + s->O + (learn ? 1 : 0);
	b->act_bytes += (double)b->T * b->B * (3.0 * H + (s->feedback == REEL_JORDAN_AVERAGE ? 5.0 : 2.0) * s->O) *
	                sizeof(reel_real);
	if (!b->ps)
		return REEL_OK;
	char p[4][96];
	snprintf(p[0], sizeof p[0], "%sih.", L->prefix);
	snprintf(p[1], sizeof p[1], "%syh.", L->prefix);
	snprintf(p[2], sizeof p[2], "%sout.", L->prefix);
	snprintf(p[3], sizeof p[3], "%sdecay_logit", L->prefix);
	reel_status st = reel_linear_init(&s->ih, b->ps, p[0], F, H, 1, b->rng, &b->err);
	if (st == REEL_OK)
		st = reel_linear_init(&s->yh, b->ps, p[1], s->O, H, 0, b->rng, &b->err);
	if (st == REEL_OK)
		st = reel_linear_init(&s->out, b->ps, p[2], H, s->O, 1, b->rng, &b->err);
	s->decay_logit = NULL;
	if (st == REEL_OK && learn) { /* after the others: the RNG's draws are those of a fixed decay */
		if (!(s->decay_logit = reel_param_new(b->ps, p[3], 1, (int[]){1})))
			return reel_err_set(&b->err, REEL_ERR_NOMEM, "layer %s: %s", L->name, reel_params_error(b->ps));
		s->decay_logit->data[0] = (reel_real)log(s->decay / (1 - s->decay));
	}
	return st;
}

reel_tensor *reel__jordan_forward(reel_tape *t, reel_layer *L, reel_tensor *x, const int32_t *tokens,
                                  const reel_fwd_ctx *c)
{
	(void)tokens;
	const reel__jordan_state *s = L->state;
	int T = c->T, B = c->B, O = s->O, avg = s->feedback == REEL_JORDAN_AVERAGE;
	if (!x)
		return NULL;
	if (!reel__feedback_targets(t, L, c, O))
		return NULL;
	reel_tensor **ys = reel_tape_alloc(t, (size_t)T * sizeof *ys);
	if (!ys)
		return NULL;
	reel_tensor *mu = NULL, *keep = NULL; /* a learned decay: mu = sigmoid(p), 1 - mu (1) */
	if (avg && s->decay_logit) {
		mu = reel_sigmoid(t, s->decay_logit);
		keep = reel_one_minus(t, mu);
	}
	reel_real fmu = (reel_real)s->decay, fkeep = (reel_real)(1 - s->decay);
	reel_tensor *xp = reel_linear_forward(t, &s->ih, x); /* all steps' x_t W_ih^T + b_ih at once (T, B, H) */
	reel_tensor *prev = NULL;                            /* f_{t-1} (B, O); NULL: f_{-1} = 0 */
	for (int k = 0; k < T && reel_tape_status(t) == REEL_OK; k++) {
		reel_tensor *a = reel_index(t, xp, k);                       /* (B, H) */
		if (prev)
			a = reel_add(t, a, reel_linear_forward(t, &s->yh, prev)); /* + f_{t-1} W_yh^T */
		ys[k] = reel_linear_forward(t, &s->out, reel_tanh(t, a));   /* y_t (B, O) */
		reel_tensor *y = reel__feedback_value(t, c, ys[k], k, B, O); /* y_t, or the target (teacher forcing) */
		if (!avg) {
			prev = y; /* f_t = y_t */
		} else if (mu) {
			/* a_t = mu a_{t-1} + (1 - mu) y_t, mu = sigmoid(p) broadcast over (B, O) */
			reel_tensor *in = reel_mul(t, y, keep);
			prev = prev ? reel_add(t, reel_mul(t, prev, mu), in) : in;
		} else {
			reel_tensor *in = reel_scale(t, y, fkeep); /* a_t = mu a_{t-1} + (1 - mu) y_t, mu fixed */
			prev = prev ? reel_add(t, reel_scale(t, prev, fmu), in) : in;
		}
	}
	return reel_tape_status(t) == REEL_OK ? reel_stack(t, ys, T) : NULL;
}
