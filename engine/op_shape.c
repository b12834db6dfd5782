/* Shape ops: concat, slice, split, stack, the zero-copy views (rows, index,
 * reshape), transpose and gather.
 *
 * Along an axis, a tensor is seen as (outer, dim * inner): outer is the
 * product of the dims before the axis, inner of those after it.  Concat,
 * slice and stack are then row-wise copies of contiguous runs. */
#include "internal.h"

#include <limits.h>
#include <string.h>

static int norm_axis(reel_tape *t, const char *op, const reel_tensor *x, int axis)
{
	int a = axis < 0 ? axis + x->ndim : axis;
	if (a < 0 || a >= x->ndim) {
		char s[64];
		reel_tape_fail(t, REEL_ERR_ARG, "reel_%s: axis %d out of range for %s", op, axis,
		               reel_shape_str(x, s, sizeof s));
		return -1;
	}
	return a;
}

static void outer_inner(const reel_tensor *x, int axis, size_t *outer, size_t *inner)
{
	size_t o = 1, in = 1;
	for (int i = 0; i < axis; i++)
		o *= (size_t)x->shape[i];
	for (int i = axis + 1; i < x->ndim; i++)
		in *= (size_t)x->shape[i];
	*outer = o;
	*inner = in;
}

static reel_tensor **save_list(reel_tape *t, reel_tensor *const *xs, int n)
{
	reel_tensor **l = reel_tape_alloc(t, (size_t)n * sizeof *l);
	if (l)
		memcpy(l, xs, (size_t)n * sizeof *l);
	return l;
}

static int any_grad(const reel_tape *t, reel_tensor *const *xs, int n)
{
	if (!t->grad_enabled)
		return 0;
	for (int i = 0; i < n; i++)
		if (xs[i]->requires_grad)
			return 1;
	return 0;
}

static int check_list(reel_tape *t, const char *op, reel_tensor *const *xs, int n)
{
	if (t->status != REEL_OK)
		return 0;
	t->op = op;
	if (!xs || n < 1) {
		reel_tape_fail(t, REEL_ERR_ARG, "reel_%s: needs at least one tensor, got %d", op, n);
		return 0;
	}
	for (int i = 0; i < n; i++)
		if (!xs[i]) {
			reel_tape_fail(t, REEL_ERR_ARG, "reel_%s: tensor %d is NULL", op, i);
			return 0;
		}
	return 1;
}

static reel_tensor *view(reel_tape *t, reel_tensor *x, size_t off, int ndim, const int *shape, size_t size);

/* ---- concat -------------------------------------------------------------------- */

reel_tensor *reel_concat(reel_tape *t, reel_tensor *const *xs, int n, int axis)
{
	if (!check_list(t, "concat", xs, n))
		return NULL;
	int ax = norm_axis(t, "concat", xs[0], axis);
	if (ax < 0)
		return NULL;
	int shape[REEL_MAX_DIMS];
	memcpy(shape, xs[0]->shape, sizeof shape);
	long long total = 0; /* the sum of n ints may not fit an int */
	for (int i = 0; i < n; i++) {
		int ok = xs[i]->ndim == xs[0]->ndim;
		for (int d = 0; ok && d < xs[0]->ndim; d++)
			ok = d == ax || xs[i]->shape[d] == xs[0]->shape[d];
		if (!ok) {
			char s0[64], si[64];
			return reel_tape_fail(t, REEL_ERR_SHAPE,
			                      "reel_concat: tensor %d is %s, tensor 0 is %s (only axis %d may differ)",
			                      i, reel_shape_str(xs[i], si, sizeof si),
			                      reel_shape_str(xs[0], s0, sizeof s0), ax);
		}
		total += xs[i]->shape[ax];
	}
	if (total > INT_MAX) {
		char s0[64];
		return reel_tape_fail(t, REEL_ERR_NOMEM,
		                      "reel_concat: %d tensors (the first is %s) would make %lld along axis %d, "
		                      "more than %d",
		                      n, reel_shape_str(xs[0], s0, sizeof s0), total, ax, INT_MAX);
	}
	shape[ax] = (int)total;
	int need = any_grad(t, xs, n);
	reel_tensor *y = reel__out(t, xs[0]->ndim, shape, need);
	if (!y)
		return NULL;
	size_t outer, inner;
	outer_inner(y, ax, &outer, &inner);
	size_t yrow = (size_t)shape[ax] * inner;
	for (size_t o = 0; o < outer; o++) {
		size_t at = 0;
		for (int i = 0; i < n; i++) {
			size_t w = (size_t)xs[i]->shape[ax] * inner;
			memcpy(y->data + o * yrow + at, xs[i]->data + o * w, w * sizeof(reel_real));
			at += w;
		}
	}
	if (need) {
		reel_node *nd = reel__record(t, REEL_OP_CONCAT, y, NULL, NULL, NULL);
		if (!nd || !(nd->saved = save_list(t, xs, n)))
			return NULL;
		nd->iarg[0] = n;
		nd->iarg[1] = ax;
	}
	return y;
}

void reel__bwd_CONCAT(reel_node *nd)
{
	reel_tensor **xs = nd->saved;
	int n = nd->iarg[0], ax = nd->iarg[1];
	size_t outer, inner;
	outer_inner(nd->out, ax, &outer, &inner);
	size_t yrow = (size_t)nd->out->shape[ax] * inner;
	const reel_real *dy = reel_tensor_grad(nd->out);
	size_t at = 0;
	for (int i = 0; i < n; i++) {
		size_t w = (size_t)xs[i]->shape[ax] * inner;
		reel_real *dx = reel__g(xs[i]);
		if (dx)
			for (size_t o = 0; o < outer; o++)
				for (size_t j = 0; j < w; j++)
					dx[o * w + j] += dy[o * yrow + at + j];
		at += w;
	}
}

/* ---- slice / split ---------------------------------------------------------------- */

reel_tensor *reel_slice(reel_tape *t, reel_tensor *x, int axis, int start, int len)
{
	if (reel__skip(t, "slice", 1, x))
		return NULL;
	int ax = norm_axis(t, "slice", x, axis);
	if (ax < 0)
		return NULL;
	if (start < 0 || len < 1 || start > x->shape[ax] - len) {
		char s[64];
		/* the end in long long: start + len may not fit an int */
		return reel_tape_fail(t, REEL_ERR_ARG,
		                      "reel_slice: range [%d, %lld) is outside axis %d of %s", start,
		                      (long long)start + len, ax, reel_shape_str(x, s, sizeof s));
	}
	int shape[REEL_MAX_DIMS];
	memcpy(shape, x->shape, sizeof shape);
	shape[ax] = len;
	size_t outer, inner;
	outer_inner(x, ax, &outer, &inner);
	if (outer == 1) /* one contiguous run (e.g. the gates of a batch-1 row): a view */
		return view(t, x, (size_t)start * inner, x->ndim, shape, (size_t)len * inner);
	int need = reel__needs_grad(t, x, NULL, NULL);
	reel_tensor *y = reel__out(t, x->ndim, shape, need);
	if (!y)
		return NULL;
	size_t xrow = (size_t)x->shape[ax] * inner, w = (size_t)len * inner, off = (size_t)start * inner;
	for (size_t o = 0; o < outer; o++)
		memcpy(y->data + o * w, x->data + o * xrow + off, w * sizeof(reel_real));
	if (need) {
		reel_node *nd = reel__record(t, REEL_OP_SLICE, y, x, NULL, NULL);
		if (!nd)
			return NULL;
		nd->iarg[0] = ax;
		nd->iarg[1] = start;
	}
	return y;
}

void reel__bwd_SLICE(reel_node *nd)
{
	reel_tensor *x = nd->in[0];
	reel_real *dx = reel__g(x);
	if (!dx)
		return;
	int ax = nd->iarg[0];
	size_t outer, inner;
	outer_inner(x, ax, &outer, &inner);
	size_t xrow = (size_t)x->shape[ax] * inner, w = (size_t)nd->out->shape[ax] * inner;
	size_t off = (size_t)nd->iarg[1] * inner;
	const reel_real *dy = reel_tensor_grad(nd->out);
	for (size_t o = 0; o < outer; o++)
		for (size_t j = 0; j < w; j++)
			dx[o * xrow + off + j] += dy[o * w + j];
}

reel_status reel_split(reel_tape *t, reel_tensor *x, int axis, int n, reel_tensor **out)
{
	if (reel__skip(t, "split", 1, x))
		return t->status;
	int ax = norm_axis(t, "split", x, axis);
	if (ax < 0)
		return t->status;
	if (n < 1 || x->shape[ax] % n) {
		char s[64];
		reel_tape_fail(t, REEL_ERR_SHAPE, "reel_split: axis %d of %s does not split into %d parts",
		               ax, reel_shape_str(x, s, sizeof s), n);
		return t->status;
	}
	int w = x->shape[ax] / n;
	for (int i = 0; i < n; i++)
		out[i] = reel_slice(t, x, ax, i * w, w);
	return t->status;
}

/* ---- stack ------------------------------------------------------------------------ */

reel_tensor *reel_stack(reel_tape *t, reel_tensor *const *xs, int n)
{
	if (!check_list(t, "stack", xs, n))
		return NULL;
	if (xs[0]->ndim >= REEL_MAX_DIMS) {
		char s[64];
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_stack: %s has %d dims already (max %d)",
		                      reel_shape_str(xs[0], s, sizeof s), xs[0]->ndim, REEL_MAX_DIMS);
	}
	for (int i = 1; i < n; i++)
		if (!reel__same_shape(xs[i], xs[0])) {
			char s0[64], si[64];
			return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_stack: tensor %d is %s, tensor 0 is %s",
			                      i, reel_shape_str(xs[i], si, sizeof si),
			                      reel_shape_str(xs[0], s0, sizeof s0));
		}
	int shape[REEL_MAX_DIMS] = {n};
	memcpy(shape + 1, xs[0]->shape, (size_t)xs[0]->ndim * sizeof(int));
	int need = any_grad(t, xs, n);
	reel_tensor *y = reel__out(t, xs[0]->ndim + 1, shape, need);
	if (!y)
		return NULL;
	size_t w = xs[0]->size;
	for (int i = 0; i < n; i++)
		memcpy(y->data + (size_t)i * w, xs[i]->data, w * sizeof(reel_real));
	if (need) {
		reel_node *nd = reel__record(t, REEL_OP_STACK, y, NULL, NULL, NULL);
		if (!nd || !(nd->saved = save_list(t, xs, n)))
			return NULL;
		nd->iarg[0] = n;
	}
	return y;
}

void reel__bwd_STACK(reel_node *nd)
{
	reel_tensor **xs = nd->saved;
	size_t w = xs[0]->size;
	const reel_real *dy = reel_tensor_grad(nd->out);
	for (int i = 0; i < nd->iarg[0]; i++) {
		reel_real *dx = reel__g(xs[i]);
		if (dx)
			for (size_t j = 0; j < w; j++)
				dx[j] += dy[(size_t)i * w + j];
	}
}

/* ---- views: no copy, no node; the gradient aliases the base's ------------------ */

static reel_tensor *view(reel_tape *t, reel_tensor *x, size_t off, int ndim, const int *shape,
                         size_t size)
{
	reel_tensor *v = reel__alloc_small(t, sizeof *v);
	if (!v)
		return NULL;
	memset(v, 0, sizeof *v);
	v->data = x->data + off;
	v->base = x->base;
	v->offset = x->offset + off;
	v->size = size;
	v->ndim = ndim;
	memcpy(v->shape, shape, (size_t)ndim * sizeof(int));
	v->requires_grad = x->requires_grad;
	v->name = x->name;
	return v;
}

reel_tensor *reel_rows(reel_tape *t, reel_tensor *x, int start, int len)
{
	if (reel__skip(t, "rows", 1, x))
		return NULL;
	char s[64];
	if (x->ndim < 1)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_rows: a scalar has no rows");
	if (start < 0 || len < 1 || start > x->shape[0] - len)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_rows: range [%d, %lld) is outside the %d rows of %s",
		                      start, (long long)start + len, x->shape[0], reel_shape_str(x, s, sizeof s));
	int shape[REEL_MAX_DIMS];
	memcpy(shape, x->shape, sizeof shape);
	shape[0] = len;
	size_t row = x->size / (size_t)x->shape[0];
	return view(t, x, (size_t)start * row, x->ndim, shape, (size_t)len * row);
}

reel_tensor *reel_index(reel_tape *t, reel_tensor *x, int i)
{
	reel_tensor *r = reel_rows(t, x, i, 1);
	if (!r)
		return NULL;
	for (int d = 1; d < r->ndim; d++)
		r->shape[d - 1] = r->shape[d];
	r->ndim--;
	return r;
}

reel_tensor *reel_reshape(reel_tape *t, reel_tensor *x, int ndim, const int *shape)
{
	if (reel__skip(t, "reshape", 1, x))
		return NULL;
	char s[64];
	if (ndim < 0 || ndim > REEL_MAX_DIMS)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_reshape: %d dims (0 to %d allowed)", ndim,
		                      REEL_MAX_DIMS);
	int sh[REEL_MAX_DIMS];
	int infer = -1;
	size_t known = 1;
	int too_big = 0;
	for (int i = 0; i < ndim; i++) {
		sh[i] = shape[i];
		if (shape[i] == -1 && infer < 0) {
			infer = i;
		} else if (shape[i] < 1) {
			return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_reshape: dim %d is %d", i, shape[i]);
		} else if (known > REEL_MAX_TENSOR_ELEMS / (size_t)shape[i]) {
			/* checked before multiplying: four dims below 2^31 can wrap a
			 * size_t around to x->size and pass the comparison below */
			too_big = 1;
		} else {
			known *= (size_t)shape[i];
		}
	}
	if (too_big)
		known = 0; /* matches no tensor's size */
	if (infer >= 0 && known && x->size % known == 0)
		sh[infer] = (int)(x->size / known), known = x->size;
	if (known != x->size) {
		char want[96];
		size_t at = 0;
		for (int i = 0; i < ndim && at < sizeof want; i++)
			at += (size_t)snprintf(want + at, sizeof want - at, i ? "x%d" : "%d", shape[i]);
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_reshape: cannot view %s (%zu elements) as %s",
		                      reel_shape_str(x, s, sizeof s), x->size, ndim ? want : "scalar");
	}
	return view(t, x, 0, ndim, sh, x->size);
}

reel_tensor *reel_reshape2(reel_tape *t, reel_tensor *x, int rows, int cols)
{
	return reel_reshape(t, x, 2, (int[]){rows, cols});
}

reel_tensor *reel_reshape3(reel_tape *t, reel_tensor *x, int d0, int d1, int d2)
{
	return reel_reshape(t, x, 3, (int[]){d0, d1, d2});
}

/* Views record no node, so these are never called; they keep the op table
 * complete (views are still gradient-checked through the ops around them). */
void reel__bwd_ROWS(reel_node *nd) { (void)nd; }
void reel__bwd_RESHAPE(reel_node *nd) { (void)nd; }

/* ---- transpose: swap two axes (copy) ------------------------------------------------
 *
 * y has x's shape with axes a and b swapped; y[..i..j..] = x[..j..i..].  Both
 * are seen as 4-d (leading 1s); y is walked in order and x read through
 * its strides with a and b exchanged. */

static void swap_copy(const reel_tensor *x, int a, int b, const reel_real *src, reel_real *dst, int to_x)
{
	int pad = REEL_MAX_DIMS - x->ndim;
	size_t xs[REEL_MAX_DIMS], st = 1;
	int ys[REEL_MAX_DIMS];
	for (int d = REEL_MAX_DIMS - 1; d >= 0; d--) {
		int dim = d < pad ? 1 : x->shape[d - pad];
		xs[d] = st;
		st *= (size_t)dim;
		ys[d] = dim;
	}
	a += pad;
	b += pad;
	int tmp = ys[a];
	ys[a] = ys[b];
	ys[b] = tmp;
	size_t ps[REEL_MAX_DIMS]; /* x's stride for each of y's axes */
	for (int d = 0; d < REEL_MAX_DIMS; d++)
		ps[d] = xs[d];
	ps[a] = xs[b];
	ps[b] = xs[a];
	size_t k = 0;
	for (int i0 = 0; i0 < ys[0]; i0++)
		for (int i1 = 0; i1 < ys[1]; i1++)
			for (int i2 = 0; i2 < ys[2]; i2++)
				for (int i3 = 0; i3 < ys[3]; i3++, k++) {
					size_t xi = i0 * ps[0] + i1 * ps[1] + i2 * ps[2] + i3 * ps[3];
					if (to_x)
						dst[xi] += src[k]; /* backward: y's gradient into x's */
					else
						dst[k] = src[xi];
				}
}

reel_tensor *reel_swapaxes(reel_tape *t, reel_tensor *x, int a, int b)
{
	if (reel__skip(t, "transpose", 1, x))
		return NULL;
	int aa = a < 0 ? a + x->ndim : a, bb = b < 0 ? b + x->ndim : b;
	if (aa < 0 || aa >= x->ndim || bb < 0 || bb >= x->ndim || aa == bb) {
		char s[64];
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_transpose: cannot swap axes %d and %d of %s", a, b,
		                      reel_shape_str(x, s, sizeof s));
	}
	int shape[REEL_MAX_DIMS];
	memcpy(shape, x->shape, sizeof shape);
	shape[aa] = x->shape[bb];
	shape[bb] = x->shape[aa];
	int need = reel__needs_grad(t, x, NULL, NULL);
	reel_tensor *y = reel__out(t, x->ndim, shape, need);
	if (!y)
		return NULL;
	swap_copy(x, aa, bb, x->data, y->data, 0);
	if (need) {
		reel_node *nd = reel__record(t, REEL_OP_TRANSPOSE, y, x, NULL, NULL);
		if (!nd)
			return NULL;
		nd->iarg[0] = aa;
		nd->iarg[1] = bb;
	}
	return y;
}

reel_tensor *reel_transpose(reel_tape *t, reel_tensor *x)
{
	if (x && x->ndim < 2 && reel_tape_status(t) == REEL_OK) {
		char s[64];
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_transpose: needs at least 2 dims, got %s",
		                      reel_shape_str(x, s, sizeof s));
	}
	return reel_swapaxes(t, x, -2, -1);
}

void reel__bwd_TRANSPOSE(reel_node *nd)
{
	reel_real *dx = reel__g(nd->in[0]);
	if (dx)
		swap_copy(nd->in[0], nd->iarg[0], nd->iarg[1], reel_tensor_grad(nd->out), dx, 1);
}

/* ---- gather (embedding lookup) ----------------------------------------------------- */

reel_tensor *reel_gather(reel_tape *t, reel_tensor *table, const int32_t *ids, int n)
{
	if (reel__skip(t, "gather", 1, table))
		return NULL;
	char s[64];
	if (table->ndim != 2)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_gather: table must be 2-d, got %s",
		                      reel_shape_str(table, s, sizeof s));
	if (!ids || n < 1)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_gather: needs at least one id, got %d", n);
	int V = table->shape[0], D = table->shape[1];
	for (int i = 0; i < n; i++)
		if (ids[i] < 0 || ids[i] >= V)
			return reel_tape_fail(t, REEL_ERR_ARG, "reel_gather: id %d at position %d is outside [0, %d)",
			                      ids[i], i, V);
	int need = reel__needs_grad(t, table, NULL, NULL);
	reel_tensor *y = reel__out(t, 2, (int[]){n, D}, need);
	if (!y)
		return NULL;
	for (int i = 0; i < n; i++)
		memcpy(y->data + (size_t)i * D, table->data + (size_t)ids[i] * D, (size_t)D * sizeof(reel_real));
	if (need) {
		int32_t *saved = reel_tape_alloc(t, (size_t)n * sizeof *saved);
		reel_node *nd = reel__record(t, REEL_OP_GATHER, y, table, NULL, NULL);
		if (!saved || !nd)
			return NULL;
		memcpy(saved, ids, (size_t)n * sizeof *saved);
		nd->saved = saved;
	}
	return y;
}

void reel__bwd_GATHER(reel_node *nd)
{
	reel_real *dt = reel__g(nd->in[0]);
	if (!dt)
		return;
	const int32_t *ids = nd->saved;
	int n = nd->out->shape[0], D = nd->out->shape[1];
	const reel_real *dy = reel_tensor_grad(nd->out);
	for (int i = 0; i < n; i++) {
		reel_real *row = dt + (size_t)ids[i] * D;
		for (int j = 0; j < D; j++)
			row[j] += dy[(size_t)i * D + j];
	}
}

/* ---- constants ------------------------------------------------------------------------ */

/* Lengths of n sequences, each in [lo, hi]; else a tape error naming op. */
static int check_lengths(reel_tape *t, const char *op, const int *lengths, int n, int lo, int hi)
{
	if (t->status != REEL_OK)
		return 0;
	t->op = op;
	if (!lengths || n < 1 || hi < 1) {
		reel_tape_fail(t, REEL_ERR_ARG, "reel_%s: needs lengths, with at least one sequence and one step", op);
		return 0;
	}
	for (int b = 0; b < n; b++)
		if (lengths[b] < lo || lengths[b] > hi) {
			reel_tape_fail(t, REEL_ERR_ARG, "reel_%s: length %d of sequence %d is outside [%d, %d]", op,
			               lengths[b], b, lo, hi);
			return 0;
		}
	return 1;
}

reel_tensor *reel_length_mask(reel_tape *t, const int *lengths, int T, int B)
{
	if (!check_lengths(t, "length_mask", lengths, B, 0, T))
		return NULL;
	reel_tensor *m = reel__out(t, 3, (int[]){T, B, 1}, 0);
	if (!m)
		return NULL;
	for (int s = 0; s < T; s++)
		for (int b = 0; b < B; b++)
			m->data[s * B + b] = s < lengths[b] ? 1 : 0;
	return m;
}

reel_tensor *reel_key_padding_bias(reel_tape *t, const int *lengths, int B, int S)
{
	if (!check_lengths(t, "key_padding_bias", lengths, B, 1, S))
		return NULL;
	reel_tensor *m = reel__out(t, 2, (int[]){B, S}, 0);
	if (!m)
		return NULL;
	for (int b = 0; b < B; b++)
		for (int s = 0; s < S; s++)
			m->data[b * S + s] = s < lengths[b] ? 0 : -INFINITY;
	return m;
}

/* ---- utilities on values (no gradient, no node) ------------------------------------- */

void reel_argmax_rows(const reel_tensor *x, int32_t *out)
{
	int n = reel_tensor_cols(x), rows = reel_tensor_rows(x);
	for (int r = 0; r < rows; r++) {
		const reel_real *v = x->data + (size_t)r * n;
		int best = 0;
		for (int j = 1; j < n; j++)
			if (v[j] > v[best])
				best = j;
		out[r] = best;
	}
}

void reel_topk(const reel_real *v, int n, int k, int32_t *idx)
{
	/* one pass keeping a sorted list of the best k so far (k is small);
	 * strict comparisons keep the earlier index first on ties */
	int have = 0;
	for (int j = 0; j < n; j++) {
		if (have == k && !(v[j] > v[idx[k - 1]]))
			continue;
		int at = have < k ? have++ : k - 1;
		while (at > 0 && v[j] > v[idx[at - 1]]) {
			idx[at] = idx[at - 1];
			at--;
		}
		idx[at] = j;
	}
}
