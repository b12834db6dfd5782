/* reel optimizers, gradient clipping and learning-rate schedules.
 *
 * Optimizers are flat loops over the parameter store's value and gradient
 * blocks (engine/param.h).  Their state (moments) is allocated once, at
 * reel_optim_new, with the same layout as the store, and is part of a
 * checkpoint (reel_optim_add_to / reel_optim_load, names
 * "optim.<param>.<moment>").  Arithmetic is done in double.
 *
 * Update rules, as torch.optim 1.13 (g = gradient, p = parameter, t = step
 * count from 1, wd = weight decay; "L2" adds wd * p to g first):
 *
 *  SGD      (L2)  b = g at t = 1, else b = mu * b + (1 - dampening) * g
 *                 d = nesterov ? g + mu * b : b   (d = g when mu = 0)
 *                 p -= lr * d
 *           defaults: lr 1e-3, momentum 0, dampening 0, nesterov off, wd 0
 *  Adam     (L2)  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *                 vmax = max(vmax, v) with amsgrad (then vmax replaces v)
 *                 p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *           defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, wd 0, amsgrad off
 *  AdamW    p *= 1 - lr * wd (decoupled, Loshchilov & Hutter 2019), then
 *           Adam without L2.  defaults: as Adam but wd 1e-2
 *  RMSprop  (L2)  s = a s + (1 - a) g^2;  centered: ga = a ga + (1 - a) g,
 *                 den = sqrt(s - ga^2) + eps, else den = sqrt(s) + eps
 *                 momentum > 0: b = mu b + g / den, p -= lr b; else p -= lr g / den
 *           defaults: lr 1e-2, alpha 0.99, eps 1e-8, momentum 0, centered off, wd 0
 *  Adagrad  (L2)  clr = lr / (1 + (t - 1) lr_decay);  s += g^2
 *                 p -= clr g / (sqrt(s) + eps)
 *           defaults: lr 1e-2, lr_decay 0, initial_accumulator_value 0, eps 1e-10, wd 0
 *
 * Parameter groups: with no_decay_bias set, parameters whose last name
 * component starts with "bias" get no weight decay.  Frozen parameters are
 * not updated.
 *
 * Non-finite values: reel_optim_step first checks the loss and every
 * gradient; if any is NaN or infinite it changes nothing and, by the
 * optimizer's policy, either skips the step (counted in skipped) or returns
 * REEL_ERR_NUMERIC with a message naming the parameter. */
#ifndef REEL_OPTIM_H
#define REEL_OPTIM_H

#include "param.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum reel_optim_kind { REEL_SGD, REEL_ADAM, REEL_ADAMW, REEL_RMSPROP, REEL_ADAGRAD } reel_optim_kind;

typedef enum reel_nonfinite { REEL_NONFINITE_STOP, REEL_NONFINITE_SKIP } reel_nonfinite;

typedef struct reel_optim_opts {
	reel_optim_kind kind;
	double lr;
	double weight_decay;
	int no_decay_bias;
	double momentum, dampening; /* SGD; momentum also RMSprop */
	int nesterov;
	double beta1, beta2, eps;   /* Adam, AdamW; eps also RMSprop, Adagrad */
	int amsgrad;
	double alpha;               /* RMSprop */
	int centered;
	double lr_decay, initial_accumulator_value; /* Adagrad */
	reel_nonfinite on_nonfinite;
} reel_optim_opts;

/* torch.optim's defaults for kind. */
reel_optim_opts reel_optim_defaults(reel_optim_kind kind);
/* "sgd", "adam", "adamw", "rmsprop", "adagrad"; -1 for another name. */
int reel_optim_kind_from_name(const char *name);
const char *reel_optim_kind_name(reel_optim_kind kind);

typedef struct reel_optim reel_optim;

/* An optimizer over every parameter of ps (which must not grow afterwards).
 * NULL with err set on a bad option (e.g. nesterov without momentum, a
 * negative lr) or out of memory.  Free with reel_optim_free. */
reel_optim *reel_optim_new(reel_params *ps, const reel_optim_opts *o, reel_err *err);
void reel_optim_free(reel_optim *o); /* NULL is a no-op */

/* One update from the gradients in the store.  loss: the step's loss (NaN
 * or infinity is treated like a non-finite gradient); pass 0 if unknown.
 * Returns REEL_OK (updated or skipped) or REEL_ERR_NUMERIC (stop policy);
 * the parameters are unchanged unless updated. */
reel_status reel_optim_step(reel_optim *o, double loss, reel_err *err);

void reel_optim_set_lr(reel_optim *o, double lr);
double reel_optim_lr(const reel_optim *o);
long reel_optim_steps(const reel_optim *o);   /* updates made */
long reel_optim_skipped(const reel_optim *o); /* steps skipped for non-finite values */

/* Checkpointing: the moments as "optim.<param>.<moment>" plus "optim.step"
 * (and "optim.skipped"), F32/F64 as the build. */
reel_status reel_optim_add_to(const reel_optim *o, reel_st_writer *w, reel_err *err);
/* Restore from a file written by add_to for the same parameters and kind;
 * on error nothing is changed. */
reel_status reel_optim_load(reel_optim *o, const reel_st_file *f, const char *what, reel_err *err);

/* ---- clipping ----------------------------------------------------------------- */

/* Scale all gradients so their global L2 norm is at most max_norm, as
 * torch.nn.utils.clip_grad_norm_ (coefficient max_norm / (norm + 1e-6),
 * applied when below 1).  Returns the norm before clipping. */
double reel_clip_grad_norm(reel_params *ps, double max_norm);
/* Clamp every gradient element to [-clip, clip]. */
void reel_clip_grad_value(reel_params *ps, double clip);

/* ---- learning-rate schedules ----------------------------------------------------- */

typedef enum reel_sched_kind {
	REEL_SCHED_CONSTANT,
	REEL_SCHED_STEP,        /* lr0 * gamma^floor(e / step_size)          (StepLR) */
	REEL_SCHED_MULTISTEP,   /* lr0 * gamma^(milestones <= e)             (MultiStepLR) */
	REEL_SCHED_EXPONENTIAL, /* lr0 * gamma^e                              (ExponentialLR) */
	REEL_SCHED_COSINE,      /* eta_min + (lr0 - eta_min)(1 + cos(pi e / T_max)) / 2 */
} reel_sched_kind;

#define REEL_SCHED_MAX_MILESTONES 16

typedef struct reel_sched {
	reel_sched_kind kind;
	double gamma;
	int step_size;
	int milestones[REEL_SCHED_MAX_MILESTONES], n_milestones; /* increasing */
	int t_max;
	double eta_min;
	/* Linear warm-up (LinearLR then the main schedule, as SequentialLR):
	 * for e < warmup_steps, lr0 * (f + (1 - f) e / warmup_steps) with
	 * f = warmup_start_factor; after it, the main schedule at e - warmup_steps. */
	int warmup_steps;
	double warmup_start_factor;
} reel_sched;

/* The learning rate at epoch (or step) e >= 0 from base lr0. */
double reel_sched_lr(const reel_sched *s, double lr0, long e);

/* Reduce-on-plateau (ReduceLROnPlateau): driven by a validation metric. */
typedef struct reel_plateau {
	int mode_max;          /* 0: lower is better (default), 1: higher */
	double factor;         /* 0.1 */
	int patience;          /* 10 */
	double threshold;      /* 1e-4 */
	int threshold_abs;     /* 0: relative threshold (default) */
	int cooldown;          /* 0 */
	double min_lr;         /* 0 */
	double eps;            /* 1e-8 */
	/* state */
	double best;
	int bad_epochs, cooldown_left, started;
} reel_plateau;

reel_plateau reel_plateau_defaults(void);
/* Feed one metric; returns the new learning rate given the current one. */
double reel_plateau_step(reel_plateau *p, double metric, double lr);

#ifdef __cplusplus
}
#endif

#endif
