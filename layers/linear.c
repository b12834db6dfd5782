/* Linear and embedding layers. */
#include "layers.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

reel_tensor *reel__layer_param(reel_params *ps, reel_err *err, int ndim, const int *shape, const char *fmt, ...)
{
	char name[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	reel_tensor *p = reel_param_new(ps, name, ndim, shape);
	if (!p)
		reel_err_set(err, REEL_ERR_ARG, "%s", reel_params_error(ps));
	return p;
}

reel_status reel_linear_init(reel_linear *l, reel_params *ps, const char *prefix, int in, int out,
                             int bias, reel_rng *rng, reel_err *err)
{
	if (in < 1 || out < 1)
		return reel_err_set(err, REEL_ERR_ARG, "linear %s: sizes must be positive (in %d, out %d)",
		                    prefix ? prefix : "", in, out);
	l->in = in;
	l->out = out;
	l->bias = NULL;
	if (!(l->weight = reel__layer_param(ps, err, 2, (int[]){out, in}, "%sweight", prefix ? prefix : "")))
		return REEL_ERR_ARG;
	if (bias && !(l->bias = reel__layer_param(ps, err, 1, (int[]){out}, "%sbias", prefix ? prefix : "")))
		return REEL_ERR_ARG;
	double k = 1 / sqrt((double)in);
	reel_param_uniform(l->weight, rng, -k, k);
	if (l->bias)
		reel_param_uniform(l->bias, rng, -k, k);
	return REEL_OK;
}

/* y = x W^T + b, x folded to (rows, in) and unfolded back. */
reel_tensor *reel_linear_forward(reel_tape *t, const reel_linear *l, reel_tensor *x)
{
	if (!x || reel_tape_status(t) != REEL_OK)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_linear_forward: input is NULL");
	if (x->ndim < 1 || x->shape[x->ndim - 1] != l->in) {
		char s[64];
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_linear_forward: input is %s, last dim must be %d",
		                      reel_shape_str(x, s, sizeof s), l->in);
	}
	reel_tensor *x2 = reel_reshape2(t, x, -1, l->in);
	reel_tensor *y = l->bias ? reel_addmm(t, l->bias, x2, l->weight, REEL_TRANS_B)
	                         : reel_matmul(t, x2, l->weight, REEL_TRANS_B);
	if (x->ndim == 2 || !y)
		return y;
	int shape[REEL_MAX_DIMS];
	for (int d = 0; d < x->ndim; d++)
		shape[d] = x->shape[d];
	shape[x->ndim - 1] = l->out;
	return reel_reshape(t, y, x->ndim, shape);
}

reel_status reel_embedding_init(reel_embedding *e, reel_params *ps, const char *prefix, int num,
                                int dim, reel_rng *rng, reel_err *err)
{
	if (num < 1 || dim < 1)
		return reel_err_set(err, REEL_ERR_ARG, "embedding %s: sizes must be positive (num %d, dim %d)",
		                    prefix ? prefix : "", num, dim);
	e->num = num;
	e->dim = dim;
	if (!(e->weight = reel__layer_param(ps, err, 2, (int[]){num, dim}, "%sweight", prefix ? prefix : "")))
		return REEL_ERR_ARG;
	reel_param_normal(e->weight, rng, 1.0);
	return REEL_OK;
}

reel_tensor *reel_embedding_forward(reel_tape *t, const reel_embedding *e, const int32_t *ids, int n)
{
	return reel_gather(t, e->weight, ids, n);
}
