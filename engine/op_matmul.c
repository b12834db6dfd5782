/* Matrix products: the one strided GEMM path to BLIS, matmul and bmm.
 *
 * Transposes never copy: an operand stored (k, m) and used as its transpose
 * (m, k) is the same memory with row stride 1 and column stride m.  The
 * backward products reuse those strides, so the gradient of a transposed
 * operand is written in its stored layout. */
#include "internal.h"

#include <string.h>
#include <time.h>

static int profiling;
static reel_profile prof;

void reel_profile_enable(int on) { profiling = on; }
void reel_profile_reset(void) { prof = (reel_profile){0}; }
reel_profile reel_profile_get(void) { return prof; }

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void gemm(int m, int n, int k, reel_real alpha, const reel_real *a, long rsa, long csa, const reel_real *b,
                 long rsb, long csb, reel_real beta, reel_real *c, long rsc, long csc);

void reel__gemm(int m, int n, int k, reel_real alpha, const reel_real *a, long rsa, long csa,
                const reel_real *b, long rsb, long csb, reel_real beta, reel_real *c, long rsc,
                long csc)
{
	if (!profiling) {
		gemm(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
		return;
	}
	double t0 = seconds();
	gemm(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
	prof.gemm_seconds += seconds() - t0;
	prof.gemm_calls++;
}

/* Every product: the planner (gemm_plan.c) picks the code for the shape
 * (a kernel set of BLIS through its expert API, or a C product) and routes
 * vector shapes to dot/gemv/ger. */
static void gemm(int m, int n, int k, reel_real alpha, const reel_real *a, long rsa, long csa, const reel_real *b,
                 long rsb, long csb, reel_real beta, reel_real *c, long rsc, long csc)
{
	reel__gemm_planned(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
}

/* Strides of op(X) for X stored row-major as rows x cols. */
static void op_strides(int trans, int cols_stored, long *rs, long *cs)
{
	if (trans) {
		*rs = 1;
		*cs = cols_stored;
	} else {
		*rs = cols_stored;
		*cs = 1;
	}
}

/* One product of matmul/bmm (forward or backward) at given base pointers. */
struct mm {
	int m, n, k, flags;
	long rsa, csa, rsb, csb;
};

static int mm_shape(reel_tape *t, const char *op, const reel_tensor *a, const reel_tensor *b,
                    int flags, int lead, struct mm *p)
{
	char sa[64], sb[64];
	int ra = a->shape[lead], ca = a->shape[lead + 1];
	int rb = b->shape[lead], cb = b->shape[lead + 1];
	int ta = flags & REEL_TRANS_A, tb = (flags & REEL_TRANS_B) != 0;
	p->m = ta ? ca : ra;
	int ka = ta ? ra : ca;
	int kb = tb ? cb : rb;
	p->n = tb ? rb : cb;
	p->k = ka;
	p->flags = flags;
	if (ka != kb) {
		reel_tape_fail(t, REEL_ERR_SHAPE,
		               "reel_%s: inner dimensions differ (a%s is %s, b%s is %s: %d vs %d)", op,
		               ta ? "^T" : "", reel_shape_str(a, sa, sizeof sa), tb ? "^T" : "",
		               reel_shape_str(b, sb, sizeof sb), ka, kb);
		return 0;
	}
	op_strides(ta, ca, &p->rsa, &p->csa);
	op_strides(tb, cb, &p->rsb, &p->csb);
	return 1;
}

static void mm_forward(const struct mm *p, const reel_real *a, const reel_real *b, reel_real *c)
{
	reel__gemm(p->m, p->n, p->k, 1, a, p->rsa, p->csa, b, p->rsb, p->csb, 0, c, p->n, 1);
}

/* dA_op += dC B_op^T;  dB_op += A_op^T dC  (beta = 1: accumulate). */
/* Deferred weight gradients.  A recurrent layer multiplies by the same
 * parameter W at every step, so backward meets dW_op += a_t^T dC_t once per
 * step: T small GEMMs (rank-1 updates over all of dW at batch 1).  A
 * parameter's gradient is not read during the sweep, so the rows of a_t and
 * dC_t are copied side by side into a staging area of the parameter and
 * summed in one GEMM per chunk of up to 512 rows (16 products, at least 64
 * rows), as a hand-written BPTT does over
 * all steps.  Only for products of fewer than 256 rows (larger ones are
 * efficient as they are), with parameters (not on the tape) and a not
 * transposed (contiguous rows). */
#define STAGE_ROWS 512

/* flag bits in an addmm node: d is a row broadcast over the rows of the
 * output; the output is d itself (REEL_IN_PLACE), so d's gradient is the
 * output's */
enum { ADDMM_ROW = 4, ADDMM_ALIAS = 16 };

static void wgroup_flush(reel__wgroup *g)
{
	if (g->rows && g->Din)
		reel__gemm(g->k, g->n, g->rows, 1, g->A + (size_t)(g->cap - g->rows) * g->k, 1, g->k, g->Din, g->n, 1, 1,
		           g->db, g->rsb, g->csb);
	else if (g->rows)
		reel__gemm(g->k, g->n, g->rows, 1, g->A, 1, g->k, g->D, g->n, 1, 1, g->db, g->rsb, g->csb);
	g->rows = 0;
	g->Din = NULL;
}

/* Stage a product's rows (a, dC) for its parameter's gradient db; 0 when
 * the caller must run the product now.  in_place: dc lies in a gradient
 * buffer that stays until its producer releases it (an in-place product's
 * input), so it is read where it is when it continues the run below. */
static int defer_weight_grad(reel_tape *t, const struct mm *p, const reel_real *a, const reel_real *dc,
                             reel_real *db, int in_place)
{
	if (!t || !t->wg || (p->flags & REEL_TRANS_A) || p->m >= STAGE_ROWS / 2)
		return 0; /* a product of many rows is efficient as it is */
	reel__wgroup *g = NULL;
	for (int i = 0; i < t->nwg && !g; i++)
		if (t->wg[i].db == db && t->wg[i].n == p->n && t->wg[i].k == p->k && t->wg[i].rsb == p->rsb)
			g = &t->wg[i];
	if (!g) {
		/* the first product with this parameter runs now; staging starts with
		 * the second (an input projection never has one) */
		if (t->nwg < REEL__WGROUPS)
			t->wg[t->nwg++] = (reel__wgroup){.db = db, .rsb = p->rsb, .csb = p->csb, .n = p->n, .k = p->k};
		return 0;
	}
	if (!g->A) {
		int cap = p->m * 16 < 64 ? 64 : p->m * 16 > STAGE_ROWS ? STAGE_ROWS : p->m * 16;
		g->A = reel_tape_alloc(t, (size_t)cap * g->k * sizeof(reel_real));
		if (!g->A)
			return 0;
		g->cap = cap;
	}
	size_t m = (size_t)p->m;
	/* in place: a block that continues the run just below it; anything
	 * else ends the run (flush) and starts a new one or goes to the copy */
	int extends = in_place && g->Din && dc + m * g->n == g->Din;
	if (g->rows && (!!g->Din != in_place || (in_place && !extends) || g->rows + p->m > g->cap))
		wgroup_flush(g);
	if (p->m > g->cap)
		return 0; /* the staging was sized for smaller products */
	if (in_place) {
		memcpy(g->A + (g->cap - g->rows - m) * g->k, a, m * g->k * sizeof(reel_real));
		g->Din = dc;
	} else {
		if (!g->D && !(g->D = reel_tape_alloc(t, (size_t)g->cap * g->n * sizeof(reel_real))))
			return 0;
		memcpy(g->A + (size_t)g->rows * g->k, a, m * g->k * sizeof(reel_real));
		memcpy(g->D + (size_t)g->rows * g->n, dc, m * g->n * sizeof(reel_real));
	}
	g->rows += p->m;
	return 1;
}

void reel__flush_weight_grads(reel_tape *t)
{
	for (int i = 0; i < t->nwg; i++)
		wgroup_flush(&t->wg[i]);
	t->wg = NULL;
	t->nwg = 0;
}

void reel__flush_weight_grads_in(reel_tape *t, const void *p, size_t bytes)
{
	const char *lo = p, *hi = lo + bytes;
	for (int i = 0; i < t->nwg; i++) {
		const char *d = (const char *)t->wg[i].Din;
		if (d && d >= lo && d < hi)
			wgroup_flush(&t->wg[i]);
	}
}

static void mm_backward(reel_tape *t, const struct mm *p, const reel_real *a, const reel_real *b,
                        const reel_real *dc, reel_real *da, reel_real *db)
{
	if (da)
		reel__gemm(p->m, p->k, p->n, 1, dc, p->n, 1, b, p->csb, p->rsb, 1, da, p->rsa, p->csa);
	if (db && !defer_weight_grad(t, p, a, dc, db, (p->flags & ADDMM_ALIAS) != 0))
		reel__gemm(p->k, p->n, p->m, 1, a, p->csa, p->rsa, dc, p->n, 1, 1, db, p->rsb, p->csb);
}

/* The tape of a product's node, when its weight operand is a parameter
 * whose gradient may be deferred; else NULL. */
static reel_tape *defer_tape(const reel_node *n)
{
	const reel_tensor *b = n->in[1];
	return b->requires_grad && !b->base->on_tape ? n->saved : NULL;
}

static void mm_save(reel_node *n, const struct mm *p)
{
	n->iarg[0] = p->m;
	n->iarg[1] = p->n;
	n->iarg[2] = p->k;
	n->iarg[3] = p->flags;
}

static struct mm mm_load(const reel_node *n)
{
	struct mm p = {.m = n->iarg[0], .n = n->iarg[1], .k = n->iarg[2], .flags = n->iarg[3]};
	/* only the transpose bits decide the strides */
	int ta = p.flags & REEL_TRANS_A, tb = (p.flags & REEL_TRANS_B) != 0;
	op_strides(ta, ta ? p.m : p.k, &p.rsa, &p.csa);
	op_strides(tb, tb ? p.k : p.n, &p.rsb, &p.csb);
	return p;
}

reel_tensor *reel_matmul(reel_tape *t, reel_tensor *a, reel_tensor *b, int flags)
{
	if (reel__skip(t, "matmul", 2, a, b))
		return NULL;
	if (a->ndim != 2 || b->ndim != 2) {
		char sa[64], sb[64];
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_matmul: operands must be 2-d (a is %s, b is %s)",
		                      reel_shape_str(a, sa, sizeof sa), reel_shape_str(b, sb, sizeof sb));
	}
	struct mm p;
	if (!mm_shape(t, "matmul", a, b, flags, 0, &p))
		return NULL;
	int need = reel__needs_grad(t, a, b, NULL);
	reel_tensor *c = reel__out(t, 2, (int[]){p.m, p.n}, need);
	if (!c)
		return NULL;
	mm_forward(&p, a->data, b->data, c->data);
	if (need) {
		reel_node *n = reel__record(t, REEL_OP_MATMUL, c, a, b, NULL);
		if (!n)
			return NULL;
		mm_save(n, &p);
		n->saved = t;
	}
	return c;
}


reel_tensor *reel_addmm(reel_tape *t, reel_tensor *d, reel_tensor *a, reel_tensor *b, int flags)
{
	if (reel__skip(t, "addmm", 3, d, a, b))
		return NULL;
	char sa[64], sb[64], sd[64];
	if (a->ndim != 2 || b->ndim != 2)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_addmm: a and b must be 2-d (a is %s, b is %s)",
		                      reel_shape_str(a, sa, sizeof sa), reel_shape_str(b, sb, sizeof sb));
	struct mm p;
	if (flags & ~(REEL_TRANS_A | REEL_TRANS_B | REEL_IN_PLACE))
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_addmm: flags is %d, expected REEL_TRANS_A, REEL_TRANS_B, REEL_IN_PLACE",
		                      flags);
	if (!mm_shape(t, "addmm", a, b, flags & (REEL_TRANS_A | REEL_TRANS_B), 0, &p))
		return NULL;
	int row;
	if (d->ndim == 2 && d->shape[0] == p.m && d->shape[1] == p.n)
		row = 0;
	else if (d->size == (size_t)p.n && (d->ndim == 1 || (d->ndim == 2 && d->shape[0] == 1)))
		row = 1;
	else
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_addmm: d is %s, expected %dx%d or a row of %d",
		                      reel_shape_str(d, sd, sizeof sd), p.m, p.n, p.n);
	int need = reel__needs_grad(t, a, b, d);
	int alias = 0;
	if (flags & REEL_IN_PLACE) {
		if (row || !d->base->on_tape || d->base->leaf)
			return reel_tape_fail(t, REEL_ERR_ARG, "reel_addmm: REEL_IN_PLACE needs d to be a (%d, %d) op output, "
			                      "found %s%s", p.m, p.n, reel_shape_str(d, sd, sizeof sd),
			                      row ? "" : d->base->leaf ? ", a leaf" : ", memory not on the tape");
		alias = !need || d->requires_grad; /* else d has no gradient to share: copy */
	}
	reel_tensor *c = alias ? reel_rows(t, d, 0, p.m) : reel__out(t, 2, (int[]){p.m, p.n}, need);
	if (!c)
		return NULL;
	if (!alias && row)
		for (int i = 0; i < p.m; i++)
			memcpy(c->data + (size_t)i * p.n, d->data, (size_t)p.n * sizeof(reel_real));
	else if (!alias)
		memcpy(c->data, d->data, d->size * sizeof(reel_real));
	reel__gemm(p.m, p.n, p.k, 1, a->data, p.rsa, p.csa, b->data, p.rsb, p.csb, 1, c->data, p.n, 1);
	if (need) {
		reel_node *n = reel__record(t, REEL_OP_ADDMM, c, a, b, d);
		if (!n)
			return NULL;
		p.flags |= (row ? ADDMM_ROW : 0) | (alias ? ADDMM_ALIAS : 0);
		mm_save(n, &p);
		n->saved = t;
	}
	return c;
}

void reel__bwd_ADDMM(reel_node *n)
{
	struct mm p = mm_load(n);
	const reel_real *dc = reel_tensor_grad(n->out);
	mm_backward(defer_tape(n), &p, n->in[0]->data, n->in[1]->data, dc, reel__g(n->in[0]), reel__g(n->in[1]));
	if (p.flags & ADDMM_ALIAS)
		return; /* d's gradient is the output's: already there */
	reel_real *dd = reel__g(n->in[2]);
	if (!dd)
		return;
	if (p.flags & ADDMM_ROW) {
		for (int i = 0; i < p.m; i++)
			for (int j = 0; j < p.n; j++)
				dd[j] += dc[(size_t)i * p.n + j];
	} else {
		for (size_t i = 0; i < (size_t)p.m * p.n; i++)
			dd[i] += dc[i];
	}
}

void reel__bwd_MATMUL(reel_node *n)
{
	struct mm p = mm_load(n);
	mm_backward(defer_tape(n), &p, n->in[0]->data, n->in[1]->data, reel_tensor_grad(n->out), reel__g(n->in[0]),
	            reel__g(n->in[1]));
}

reel_tensor *reel_bmm(reel_tape *t, reel_tensor *a, reel_tensor *b, int flags)
{
	if (reel__skip(t, "bmm", 2, a, b))
		return NULL;
	char sa[64], sb[64];
	if (a->ndim != 3 || b->ndim != 3)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_bmm: operands must be 3-d (a is %s, b is %s)",
		                      reel_shape_str(a, sa, sizeof sa), reel_shape_str(b, sb, sizeof sb));
	if (a->shape[0] != b->shape[0])
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_bmm: batch sizes differ (a is %s, b is %s)",
		                      reel_shape_str(a, sa, sizeof sa), reel_shape_str(b, sb, sizeof sb));
	struct mm p;
	if (!mm_shape(t, "bmm", a, b, flags, 1, &p))
		return NULL;
	int N = a->shape[0];
	int need = reel__needs_grad(t, a, b, NULL);
	reel_tensor *c = reel__out(t, 3, (int[]){N, p.m, p.n}, need);
	if (!c)
		return NULL;
	size_t sa_ = (size_t)p.m * p.k, sb_ = (size_t)p.k * p.n, sc = (size_t)p.m * p.n;
	for (int i = 0; i < N; i++)
		mm_forward(&p, a->data + i * sa_, b->data + i * sb_, c->data + i * sc);
	if (need) {
		reel_node *n = reel__record(t, REEL_OP_BMM, c, a, b, NULL);
		if (!n)
			return NULL;
		mm_save(n, &p);
	}
	return c;
}

void reel__bwd_BMM(reel_node *n)
{
	struct mm p = mm_load(n);
	reel_real *da = reel__g(n->in[0]), *db = reel__g(n->in[1]), *dc = reel_tensor_grad(n->out);
	size_t sa = (size_t)p.m * p.k, sb = (size_t)p.k * p.n, sc = (size_t)p.m * p.n;
	for (int i = 0; i < n->out->shape[0]; i++)
		mm_backward(NULL, &p, n->in[0]->data + i * sa, n->in[1]->data + i * sb, dc + i * sc,
		            da ? da + i * sa : NULL, db ? db + i * sb : NULL);
}
