/* reel gradient check: the tape's gradients against central finite
 * differences, for a user's op composition, cell or whole model.
 *
 * The check builds leaf tensors from host inputs, runs f, seeds the output
 * with fixed random weights R in [-1, 1) and compares every analytic
 * gradient of L = sum(R * f(...)) with (L(x + e) - L(x - e)) / 2e, for every
 * element of every input marked `grad` and of every trainable parameter in an
 * optional store.  An element passes when
 *     |numeric - analytic| <= atol + rtol * max(|numeric|, |analytic|).
 * The tape's RNG is reseeded before every evaluation, so dropout masks are
 * the same in all of them.  f runs 1 + 2 * (checked elements) times: keep
 * the inputs small.
 *
 * Meant for the double build (-DREEL_DOUBLE), where the default step and
 * tolerances below are tight; it compiles and runs in the float build too,
 * with defaults loose enough for single precision (a pass there is weaker
 * evidence).
 *
 * Ownership: the check makes and frees its own tape.  Inputs' data are
 * perturbed in place and restored; parameters' values likewise.  With a
 * parameter store, its gradients are zeroed first and hold the analytic
 * gradients afterwards.  Not thread-safe with respect to the inputs or the
 * store. */
#ifndef REEL_GRADCHECK_H
#define REEL_GRADCHECK_H

#include "param.h"
#include "tensor.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One input of f: a leaf with this shape, built from data on every run. */
typedef struct reel_gc_input {
	int ndim;
	int shape[REEL_MAX_DIMS];
	reel_real *data; /* host values, perturbed in place during the check */
	int grad;        /* nonzero: check the gradient w.r.t. this input */
} reel_gc_input;

/* The function under test: builds its output on t from the leaves in[0..nin)
 * (and parameters it closes over through ctx).  Returns NULL on failure (the
 * tape's error is reported). */
typedef reel_tensor *(*reel_gc_fn)(reel_tape *t, reel_tensor **in, void *ctx);

/* Zero fields take the defaults: double build eps 1e-6, rtol 1e-6,
 * atol 1e-8; float build eps 1e-3, rtol 1e-2, atol 1e-3. */
typedef struct reel_gc_opts {
	double eps;  /* finite-difference step */
	double rtol;
	double atol;
} reel_gc_opts;

/* What a check found.  On a mismatch, `what`, `index`, `analytic` and
 * `numeric` name the first element that failed (the check stops there); msg
 * says the same in words, e.g.
 *   "d/d input 0[3]: analytic 0.5, numeric 1 (|diff| 0.5 > limit 1.0e-06)". */
typedef struct reel_gc_report {
	reel_status status;  /* REEL_OK: every gradient matched */
	size_t checked;      /* elements compared (including a failing one) */
	double worst;        /* largest |numeric - analytic| / limit seen (<= 1 passes) */
	char what[64];       /* "input 2" or a parameter's name */
	size_t index;        /* element within it */
	double analytic, numeric;
	char msg[512];       /* "" on success */
} reel_gc_report;

/* Check f's gradients w.r.t. in[0..nin) (those with grad set) and the
 * trainable parameters of ps (NULL: none).  Fills *rep (required) and
 * returns its status:
 *   REEL_OK           every element matched;
 *   REEL_ERR_NUMERIC  a gradient differs from its finite difference, or
 *                     a perturbed run failed (msg names the element);
 *   REEL_ERR_ARG      f or rep NULL, nin < 0, in NULL with nin > 0, an
 *                     input with a bad shape or NULL data, a negative
 *                     option, or an output that is empty;
 *   REEL_ERR_NOMEM    out of memory;
 *   otherwise         the tape's error from the unperturbed forward or
 *                     the backward (msg has its message). */
reel_status reel_gradcheck(reel_gc_fn f, void *ctx, int nin, reel_gc_input *in, reel_params *ps,
                           reel_gc_opts opts, reel_gc_report *rep);

#ifdef __cplusplus
}
#endif

#endif
