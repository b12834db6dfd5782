/* The parameter store: every parameter of a model as a named view into one
 * contiguous value block and one contiguous gradient block.
 *
 * Optimizers, zeroing, clipping and checkpoints are flat loops over the two
 * blocks.  Each parameter starts on a 64-byte boundary; the padding between
 * parameters is zero in both blocks and stays zero under every optimizer.
 *
 * Ownership: the store owns the blocks and the parameter tensors; free with
 * reel_params_free.  Adding a parameter may move the blocks (the tensors'
 * data and grad pointers are updated), so hold reel_tensor pointers, never
 * raw data pointers, while a model is being built.
 *
 * Parameter tensors are used directly in ops on any tape: they need a
 * gradient unless frozen, and their gradients accumulate across backward
 * calls until reel_params_zero_grad. */
#ifndef REEL_PARAM_H
#define REEL_PARAM_H

#include "rng.h"
#include "safetensors.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct reel_params reel_params;

reel_params *reel_params_new(void);  /* NULL: out of memory */
void reel_params_free(reel_params *ps); /* NULL is a no-op */

/* A new zero-initialised parameter.  name is copied (PyTorch state_dict
 * style, "encoder.weight_ih_l0").  NULL on a duplicate name, a bad shape or
 * out of memory; the message is in reel_params_error. */
reel_tensor *reel_param_new(reel_params *ps, const char *name, int ndim, const int *shape);

reel_tensor *reel_param_get(const reel_params *ps, const char *name); /* NULL if absent */
int reel_params_count(const reel_params *ps);
reel_tensor *reel_params_at(const reel_params *ps, int i);
const char *reel_params_error(const reel_params *ps);

/* The flat blocks (n elements each, padding included). */
reel_real *reel_params_values(const reel_params *ps, size_t *n);
reel_real *reel_params_grads(const reel_params *ps, size_t *n);

void reel_params_zero_grad(reel_params *ps);

/* Stop (frozen = 1) or resume gradient flow into p. */
void reel_param_freeze(reel_tensor *p, int frozen);

/* Fill p from U(lo, hi), N(0, std^2) or a constant. */
void reel_param_uniform(reel_tensor *p, reel_rng *rng, double lo, double hi);
void reel_param_normal(reel_tensor *p, reel_rng *rng, double std);
void reel_param_fill(reel_tensor *p, reel_real v);
/* Set elements [start, start + n) of p (flat order) to v: e.g. one gate's
 * block of a bias vector (forget-gate bias). */
void reel_param_fill_range(reel_tensor *p, size_t start, size_t n, reel_real v);
/* Orthogonal init (Saxe et al. 2014) of a 2-d p seen as stacked square
 * blocks of `block` rows (block = cols; an LSTM's W_hh has four): each block
 * is an orthogonal matrix from Gram-Schmidt on Gaussian rows, times gain.
 * Returns REEL_ERR_SHAPE if p is not (k * block, block). */
reel_status reel_param_orthogonal(reel_tensor *p, reel_rng *rng, int block, double gain);

/* Echo-state reservoir init (Jaeger 2001): a square 2-d p from U(-1, 1),
 * scaled so that its spectral radius (the largest |eigenvalue|, estimated
 * by power iteration as the mean growth rate of ||p^k v||) is radius.
 * Returns REEL_ERR_SHAPE if p is not square. */
reel_status reel_param_spectral(reel_tensor *p, reel_rng *rng, double radius);

/* Add every parameter to a safetensors writer under its name. */
reel_status reel_params_add_to(const reel_params *ps, reel_st_writer *w, reel_err *err);

/* Copy values from a safetensors file: every parameter must be present with
 * its exact shape (dtype F32 or F64); tensors the store does not know are
 * ignored.  On error nothing is changed and err names the tensor. */
reel_status reel_params_load(reel_params *ps, const reel_st_file *f, const char *what, reel_err *err);

#ifdef __cplusplus
}
#endif

#endif
