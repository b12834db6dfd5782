/* The parameter store (see param.h). */
#include "param.h"
#include "fault.h"
#include "reel_limits.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAD_ELEMS (64 / sizeof(reel_real))

struct reel_params {
	reel_tensor **p;
	int n, cap;
	reel_real *values, *grads;
	size_t used, capacity; /* elements */
	char err[256];
};

static reel_tensor *fail(reel_params *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static reel_tensor *fail(reel_params *ps, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->err, sizeof ps->err, fmt, ap);
	va_end(ap);
	return NULL;
}

reel_params *reel_params_new(void)
{
	return reel__calloc(1, sizeof(reel_params));
}

void reel_params_free(reel_params *ps)
{
	if (!ps)
		return;
	for (int i = 0; i < ps->n; i++) {
		free((char *)ps->p[i]->name);
		free(ps->p[i]);
	}
	free(ps->p);
	free(ps->values);
	free(ps->grads);
	free(ps);
}

/* Grow both blocks to hold at least need elements, re-pointing every
 * parameter at its offset in the new blocks. */
static int grow(reel_params *ps, size_t need)
{
	/* 16 elements of slack after the last parameter: BLIS's small-matrix
	 * kernels can read a float past the end of a product's C (a weight
	 * gradient is one; make valgrind saw it on exact-size buffers) */
	need += 16;
	if (need <= ps->capacity)
		return 1;
	size_t cap = ps->capacity ? ps->capacity : 1024;
	while (cap < need)
		cap *= 2;
	reel_real *v = aligned_alloc(64, cap * sizeof(reel_real));
	reel_real *g = aligned_alloc(64, cap * sizeof(reel_real));
	if (!v || !g) {
		free(v);
		free(g);
		return 0;
	}
	memset(v, 0, cap * sizeof(reel_real));
	memset(g, 0, cap * sizeof(reel_real));
	if (ps->used) {
		memcpy(v, ps->values, ps->used * sizeof(reel_real));
		memcpy(g, ps->grads, ps->used * sizeof(reel_real));
	}
	for (int i = 0; i < ps->n; i++) {
		reel_tensor *t = ps->p[i];
		t->data = v + (t->data - ps->values);
		t->grad = g + (t->grad - ps->grads);
	}
	free(ps->values);
	free(ps->grads);
	ps->values = v;
	ps->grads = g;
	ps->capacity = cap;
	return 1;
}

reel_tensor *reel_param_new(reel_params *ps, const char *name, int ndim, const int *shape)
{
	if (!name || !*name)
		return fail(ps, "reel_param_new: a parameter needs a name");
	if (reel_param_get(ps, name))
		return fail(ps, "reel_param_new: parameter \"%s\" exists already", name);
	if (ndim < 0 || ndim > REEL_MAX_DIMS)
		return fail(ps, "reel_param_new: %s: %d dims (0 to %d allowed)", name, ndim, REEL_MAX_DIMS);
	size_t size = 1;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 1)
			return fail(ps, "reel_param_new: %s: dim %d is %d (must be >= 1)", name, i, shape[i]);
	}
	for (int i = 0; i < ndim; i++) {
		if (size > REEL_MAX_TENSOR_ELEMS / (size_t)shape[i]) {
			char s[96];
			size_t at = 0;
			for (int d = 0; d < ndim && at < sizeof s; d++)
				at += (size_t)snprintf(s + at, sizeof s - at, d ? "x%d" : "%d", shape[d]);
			return fail(ps, "reel_param_new: %s: shape %s exceeds the largest tensor (%s elements)", name, s,
			            REEL_MAX_TENSOR_ELEMS_STR);
		}
		size *= (size_t)shape[i];
	}
	size_t padded = (size + PAD_ELEMS - 1) / PAD_ELEMS * PAD_ELEMS;
	if (ps->n == ps->cap) {
		int cap = ps->cap ? ps->cap * 2 : 32;
		reel_tensor **p = reel__realloc(ps->p, (size_t)cap * sizeof *p);
		if (!p)
			return fail(ps, "reel_param_new: out of memory");
		ps->p = p;
		ps->cap = cap;
	}
	reel_tensor *t = reel__calloc(1, sizeof *t);
	char *nm = reel__strdup(name);
	if (!t || !nm || !grow(ps, ps->used + padded)) {
		free(t);
		free(nm);
		return fail(ps, "reel_param_new: out of memory for %s", name);
	}
	t->data = ps->values + ps->used;
	t->grad = ps->grads + ps->used;
	t->base = t;
	t->size = size;
	t->ndim = ndim;
	if (ndim)
		memcpy(t->shape, shape, (size_t)ndim * sizeof(int));
	t->requires_grad = 1;
	t->name = nm;
	ps->used += padded;
	ps->p[ps->n++] = t;
	return t;
}

reel_tensor *reel_param_get(const reel_params *ps, const char *name)
{
	for (int i = 0; i < ps->n; i++)
		if (!strcmp(ps->p[i]->name, name))
			return ps->p[i];
	return NULL;
}

int reel_params_count(const reel_params *ps) { return ps->n; }

reel_tensor *reel_params_at(const reel_params *ps, int i)
{
	return i >= 0 && i < ps->n ? ps->p[i] : NULL;
}

const char *reel_params_error(const reel_params *ps) { return ps->err; }

reel_real *reel_params_values(const reel_params *ps, size_t *n)
{
	if (n)
		*n = ps->used;
	return ps->values;
}

reel_real *reel_params_grads(const reel_params *ps, size_t *n)
{
	if (n)
		*n = ps->used;
	return ps->grads;
}

void reel_params_zero_grad(reel_params *ps)
{
	if (ps->used)
		memset(ps->grads, 0, ps->used * sizeof(reel_real));
}

void reel_param_freeze(reel_tensor *p, int frozen)
{
	p->requires_grad = !frozen;
}

void reel_param_uniform(reel_tensor *p, reel_rng *rng, double lo, double hi)
{
	for (size_t i = 0; i < p->size; i++)
		p->data[i] = (reel_real)reel_rng_range(rng, lo, hi);
}

void reel_param_normal(reel_tensor *p, reel_rng *rng, double std)
{
	for (size_t i = 0; i < p->size; i++)
		p->data[i] = (reel_real)(std * reel_rng_normal(rng));
}

void reel_param_fill(reel_tensor *p, reel_real v)
{
	for (size_t i = 0; i < p->size; i++)
		p->data[i] = v;
}

void reel_param_fill_range(reel_tensor *p, size_t start, size_t n, reel_real v)
{
	for (size_t i = start; i < start + n && i < p->size; i++)
		p->data[i] = v;
}

reel_status reel_param_orthogonal(reel_tensor *p, reel_rng *rng, int block, double gain)
{
	if (p->ndim != 2 || block < 1 || p->shape[1] != block || p->shape[0] % block)
		return REEL_ERR_SHAPE;
	int n = block;
	double *q = reel__malloc((size_t)n * n * sizeof *q);
	if (!q)
		return REEL_ERR_NOMEM;
	for (int k = 0; k < p->shape[0] / n; k++) {
		/* modified Gram-Schmidt on Gaussian rows; a (numerically) dependent
		 * row is redrawn */
		for (int i = 0; i < n; i++) {
			double norm = 0;
			do {
				for (int j = 0; j < n; j++)
					q[i * n + j] = reel_rng_normal(rng);
				for (int r = 0; r < i; r++) {
					double dot = 0;
					for (int j = 0; j < n; j++)
						dot += q[i * n + j] * q[r * n + j];
					for (int j = 0; j < n; j++)
						q[i * n + j] -= dot * q[r * n + j];
				}
				norm = 0;
				for (int j = 0; j < n; j++)
					norm += q[i * n + j] * q[i * n + j];
			} while (norm < 1e-10);
			norm = sqrt(norm);
			for (int j = 0; j < n; j++)
				q[i * n + j] /= norm;
		}
		for (int i = 0; i < n * n; i++)
			p->data[(size_t)k * n * n + i] = (reel_real)(gain * q[i]);
	}
	free(q);
	return REEL_OK;
}

reel_status reel_params_add_to(const reel_params *ps, reel_st_writer *w, reel_err *err)
{
	for (int i = 0; i < ps->n; i++) {
		const reel_tensor *t = ps->p[i];
		reel_status s = reel_st_add_real(w, t->name, t->ndim, t->shape, t->data, err);
		if (s != REEL_OK)
			return s;
	}
	return REEL_OK;
}

reel_status reel_params_load(reel_params *ps, const reel_st_file *f, const char *what, reel_err *err)
{
	/* validate everything first, so a bad file changes nothing */
	for (int i = 0; i < ps->n; i++) {
		const reel_tensor *p = ps->p[i];
		const reel_st_tensor *s = reel_st_find(f, p->name);
		if (!s)
			return reel_err_set(err, REEL_ERR_IO, "%s: parameter \"%s\" is missing", what, p->name);
		if (s->dtype != REEL_F32 && s->dtype != REEL_F64)
			return reel_err_set(err, REEL_ERR_IO, "%s: parameter \"%s\" is not F32 or F64", what, p->name);
		int ok = s->ndim == p->ndim;
		for (int d = 0; ok && d < p->ndim; d++)
			ok = s->shape[d] == p->shape[d];
		if (!ok) {
			char want[64];
			reel_shape_str(p, want, sizeof want);
			return reel_err_set(err, REEL_ERR_IO, "%s: parameter \"%s\": shape differs (expected %s)",
			                    what, p->name, want);
		}
	}
	for (int i = 0; i < ps->n; i++)
		reel_st_to_real(reel_st_find(f, ps->p[i]->name), ps->p[i]->data);
	return REEL_OK;
}
