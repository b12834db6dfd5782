/* Elementwise ops: broadcasting add/sub/mul/div, scalar ops, activations,
 * powers, abs and clamp, dropout and the masked blend. */
#include "internal.h"

#include <string.h>

/* ---- broadcasting binary ops -------------------------------------------------
 *
 * The result has the shape of the "big" operand; the other one is read at
 * index o * so + j * sj for output element o * inner + j:
 *   same shape: so = 0, sj = 1, outer = 1     row (trailing dims): so = 0, sj = 1
 *   column (last dim 1): so = 1, sj = 0       scalar: so = 0, sj = 0
 */
struct bcast {
	int big;         /* 0: a is the big operand, 1: b is */
	size_t outer, inner;
	int so, sj;
};

static int is_row_of(const reel_tensor *big, const reel_tensor *small)
{
	int lead = 0;
	while (lead < small->ndim && small->shape[lead] == 1 && small->ndim - lead > 1)
		lead++;
	int nd = small->ndim - lead;
	if (nd > big->ndim || nd == 0)
		return 0;
	for (int i = 0; i < nd; i++)
		if (small->shape[lead + i] != big->shape[big->ndim - nd + i])
			return 0;
	return 1;
}

static int is_col_of(const reel_tensor *big, const reel_tensor *small)
{
	if (small->ndim != big->ndim || big->ndim == 0 || small->shape[small->ndim - 1] != 1)
		return 0;
	for (int i = 0; i < big->ndim - 1; i++)
		if (small->shape[i] != big->shape[i])
			return 0;
	return 1;
}

/* Can small broadcast against big?  Fills p (except p->big). */
static int bcast_against(const reel_tensor *big, const reel_tensor *small, struct bcast *p)
{
	if (reel__same_shape(big, small)) {
		*p = (struct bcast){.outer = 1, .inner = big->size, .so = 0, .sj = 1};
	} else if (small->size == 1) {
		*p = (struct bcast){.outer = 1, .inner = big->size, .so = 0, .sj = 0};
	} else if (is_row_of(big, small)) {
		*p = (struct bcast){.outer = big->size / small->size, .inner = small->size, .so = 0, .sj = 1};
	} else if (is_col_of(big, small)) {
		size_t inner = (size_t)big->shape[big->ndim - 1];
		*p = (struct bcast){.outer = big->size / inner, .inner = inner, .so = 1, .sj = 0};
	} else {
		return 0;
	}
	return 1;
}

static int bcast_plan(reel_tape *t, const char *op, const reel_tensor *a, const reel_tensor *b,
                      int a_may_broadcast, struct bcast *p)
{
	if (bcast_against(a, b, p)) {
		p->big = 0;
		return 1;
	}
	if (a_may_broadcast && bcast_against(b, a, p)) {
		p->big = 1;
		return 1;
	}
	char sa[64], sb[64];
	reel_tape_fail(t, REEL_ERR_SHAPE,
	               "reel_%s: shapes do not broadcast (a is %s, b is %s; b must equal a, a's "
	               "trailing dims, a with last dim 1, or one element)",
	               op, reel_shape_str(a, sa, sizeof sa), reel_shape_str(b, sb, sizeof sb));
	return 0;
}

enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };

/* Large elementwise passes are split into chunks of CHUNK elements between
 * the threads (reel__par_rows): every element is computed by the same code
 * whichever thread runs it, so results do not depend on the count. */
enum { CHUNK = 4096 };

/* Two operands of the same shape, elements [j0, j1): y = x op s (or s / x
 * for rdiv) forward; dx += dy f_x, ds += dy f_s backward. */
typedef struct bin_job {
	int kind, rdiv;
	size_t N;
	const reel_real *x, *s, *dy;
	reel_real *y, *dx, *ds;
} bin_job;

REEL_CLONES static void bin_same_fwd(int kind, int rdiv, const reel_real *restrict x, const reel_real *restrict s,
                                     reel_real *restrict y, size_t j0, size_t j1)
{
	switch (kind) {
	case BIN_ADD: for (size_t j = j0; j < j1; j++) y[j] = x[j] + s[j]; break;
	case BIN_SUB: for (size_t j = j0; j < j1; j++) y[j] = x[j] - s[j]; break;
	case BIN_MUL: for (size_t j = j0; j < j1; j++) y[j] = x[j] * s[j]; break;
	default:
		if (rdiv)
			for (size_t j = j0; j < j1; j++) y[j] = s[j] / x[j];
		else
			for (size_t j = j0; j < j1; j++) y[j] = x[j] / s[j];
		break;
	}
}

static void bin_same_fwd_chunks(void *ctx, int c0, int c1)
{
	const bin_job *b = ctx;
	size_t j1 = (size_t)c1 * CHUNK;
	bin_same_fwd(b->kind, b->rdiv, b->x, b->s, b->y, (size_t)c0 * CHUNK, j1 < b->N ? j1 : b->N);
}

/* add, sub, mul only (div keeps its own backward) */
REEL_CLONES static void bin_same_bwd(int kind, const reel_real *restrict x, const reel_real *restrict s,
                                     const reel_real *restrict g, reel_real *restrict dx, reel_real *restrict ds,
                                     size_t j0, size_t j1)
{
	if (dx) {
		if (kind == BIN_MUL)
			for (size_t j = j0; j < j1; j++) dx[j] += g[j] * s[j];
		else
			for (size_t j = j0; j < j1; j++) dx[j] += g[j];
	}
	if (ds) {
		if (kind == BIN_MUL)
			for (size_t j = j0; j < j1; j++) ds[j] += g[j] * x[j];
		else if (kind == BIN_SUB)
			for (size_t j = j0; j < j1; j++) ds[j] += -1 * g[j];
		else
			for (size_t j = j0; j < j1; j++) ds[j] += g[j];
	}
}

static void bin_same_bwd_chunks(void *ctx, int c0, int c1)
{
	const bin_job *b = ctx;
	size_t j1 = (size_t)c1 * CHUNK;
	bin_same_bwd(b->kind, b->x, b->s, b->dy, b->dx, b->ds, (size_t)c0 * CHUNK, j1 < b->N ? j1 : b->N);
}

static reel_tensor *binary(reel_tape *t, int kind, reel_tensor *a, reel_tensor *b)
{
	static const char *const names[] = {"add", "sub", "mul", "div"};
	static const int ops[] = {REEL_OP_ADD, REEL_OP_SUB, REEL_OP_MUL, REEL_OP_DIV};
	if (reel__skip(t, names[kind], 2, a, b))
		return NULL;
	struct bcast p;
	if (!bcast_plan(t, names[kind], a, b, kind != BIN_SUB, &p))
		return NULL;
	const reel_tensor *big = p.big ? b : a;
	const reel_real *X = big->data, *S = (p.big ? a : b)->data;
	int need = reel__needs_grad(t, a, b, NULL);
	reel_tensor *y = reel__out(t, big->ndim, big->shape, need);
	if (!y)
		return NULL;
	reel_real *Y = y->data;
	/* X is the big operand, S the small one; sub is never swapped, div
	 * swapped (a small) computes s / x. */
	int rdiv = kind == BIN_DIV && p.big;
	if (p.outer == 1 && p.sj) { /* the same shape: one pass, in chunks */
		bin_job j = {.kind = kind, .rdiv = rdiv, .N = p.inner, .x = X, .s = S, .y = Y};
		reel__par_rows(j.N, (int)((j.N + CHUNK - 1) / CHUNK), bin_same_fwd_chunks, &j);
	} else
	for (size_t o = 0; o < p.outer; o++) {
		const reel_real *x = X + o * p.inner;
		reel_real *yy = Y + o * p.inner;
		if (p.sj) {
			const reel_real *s = S + o * p.so;
			switch (kind) {
			case BIN_ADD: for (size_t j = 0; j < p.inner; j++) yy[j] = x[j] + s[j]; break;
			case BIN_SUB: for (size_t j = 0; j < p.inner; j++) yy[j] = x[j] - s[j]; break;
			case BIN_MUL: for (size_t j = 0; j < p.inner; j++) yy[j] = x[j] * s[j]; break;
			default:
				if (rdiv)
					for (size_t j = 0; j < p.inner; j++) yy[j] = s[j] / x[j];
				else
					for (size_t j = 0; j < p.inner; j++) yy[j] = x[j] / s[j];
				break;
			}
		} else {
			reel_real s = S[o * p.so];
			switch (kind) {
			case BIN_ADD: for (size_t j = 0; j < p.inner; j++) yy[j] = x[j] + s; break;
			case BIN_SUB: for (size_t j = 0; j < p.inner; j++) yy[j] = x[j] - s; break;
			case BIN_MUL: for (size_t j = 0; j < p.inner; j++) yy[j] = x[j] * s; break;
			default:
				if (rdiv)
					for (size_t j = 0; j < p.inner; j++) yy[j] = s / x[j];
				else
					for (size_t j = 0; j < p.inner; j++) yy[j] = x[j] / s;
				break;
			}
		}
	}
	if (need) {
		reel_node *n = reel__record(t, ops[kind], y, a, b, NULL);
		if (!n)
			return NULL;
		n->iarg[0] = p.big;
		n->iarg[1] = p.so;
		n->iarg[2] = p.sj;
		n->iarg[3] = (int)p.inner;
	}
	return y;
}

reel_tensor *reel_add(reel_tape *t, reel_tensor *a, reel_tensor *b)
{
	return binary(t, BIN_ADD, a, b);
}

reel_tensor *reel_sub(reel_tape *t, reel_tensor *a, reel_tensor *b)
{
	return binary(t, BIN_SUB, a, b);
}

reel_tensor *reel_mul(reel_tape *t, reel_tensor *a, reel_tensor *b)
{
	return binary(t, BIN_MUL, a, b);
}

reel_tensor *reel_div(reel_tape *t, reel_tensor *a, reel_tensor *b)
{
	return binary(t, BIN_DIV, a, b);
}

/* d(big) += dy * f_big;  d(small)[o*so + j*sj] += dy * f_small, where for
 * add f = 1, 1; sub f = 1, -1; mul f = other operand. */
static void binary_backward(reel_node *n, int kind)
{
	int bigi = n->iarg[0], so = n->iarg[1], sj = n->iarg[2];
	size_t inner = (size_t)n->iarg[3], outer = n->out->size / inner;
	reel_tensor *big = n->in[bigi], *small = n->in[1 - bigi];
	reel_real *dbig = reel__g(big), *dsmall = reel__g(small);
	const reel_real *dy = reel_tensor_grad(n->out), *X = big->data, *S = small->data;
	reel_real sign = kind == BIN_SUB ? -1 : 1;
	if (outer == 1 && sj && so == 0 && kind != BIN_DIV) { /* the same shape */
		bin_job j = {.kind = kind, .N = inner, .x = X, .s = S, .dy = dy, .dx = dbig, .ds = dsmall};
		reel__par_rows(j.N, (int)((j.N + CHUNK - 1) / CHUNK), bin_same_bwd_chunks, &j);
		return;
	}
	for (size_t o = 0; o < outer; o++) {
		const reel_real *g = dy + o * inner, *x = X + o * inner, *s = S + o * so;
		if (dbig) {
			reel_real *d = dbig + o * inner;
			if (kind != BIN_MUL)
				for (size_t j = 0; j < inner; j++)
					d[j] += g[j];
			else if (sj)
				for (size_t j = 0; j < inner; j++)
					d[j] += g[j] * s[j];
			else
				for (size_t j = 0; j < inner; j++)
					d[j] += g[j] * s[0];
		}
		if (dsmall) {
			reel_real *d = dsmall + o * so;
			if (sj) {
				if (kind == BIN_MUL)
					for (size_t j = 0; j < inner; j++) d[j] += g[j] * x[j];
				else
					for (size_t j = 0; j < inner; j++) d[j] += sign * g[j];
			} else {
				reel_real acc = 0;
				if (kind == BIN_MUL)
					for (size_t j = 0; j < inner; j++) acc += g[j] * x[j];
				else
					for (size_t j = 0; j < inner; j++) acc += g[j];
				d[0] += sign * acc;
			}
		}
	}
}

void reel__bwd_ADD(reel_node *n) { binary_backward(n, BIN_ADD); }
void reel__bwd_SUB(reel_node *n) { binary_backward(n, BIN_SUB); }
void reel__bwd_MUL(reel_node *n) { binary_backward(n, BIN_MUL); }

/* y = a / b:  da += dy / b,  db -= dy * y / b  (y / b = (a / b) / b, as
 * PyTorch computes it), each summed over the positions it was broadcast to. */
void reel__bwd_DIV(reel_node *n)
{
	int bigi = n->iarg[0], so = n->iarg[1], sj = n->iarg[2];
	size_t inner = (size_t)n->iarg[3], outer = n->out->size / inner;
	reel_tensor *a = n->in[0], *b = n->in[1];
	reel_real *da = reel__g(a), *db = reel__g(b);
	const reel_real *dy = reel_tensor_grad(n->out), *Y = n->out->data;
	const reel_real *B = b->data;
	for (size_t o = 0; o < outer; o++) {
		const reel_real *g = dy + o * inner, *y = Y + o * inner;
		if (bigi == 0) {
			/* a big, b small: b read at o * so + j * sj */
			const reel_real *bb = B + o * so;
			if (da) {
				reel_real *d = da + o * inner;
				if (sj)
					for (size_t j = 0; j < inner; j++) d[j] += g[j] / bb[j];
				else
					for (size_t j = 0; j < inner; j++) d[j] += g[j] / bb[0];
			}
			if (db) {
				reel_real *d = db + o * so;
				if (sj) {
					for (size_t j = 0; j < inner; j++) d[j] -= g[j] * y[j] / bb[j];
				} else {
					reel_real acc = 0;
					for (size_t j = 0; j < inner; j++) acc += g[j] * y[j];
					d[0] -= acc / bb[0];
				}
			}
		} else {
			/* a small, b big: a read at o * so + j * sj */
			const reel_real *bb = B + o * inner;
			if (da) {
				reel_real *d = da + o * so;
				if (sj) {
					for (size_t j = 0; j < inner; j++) d[j] += g[j] / bb[j];
				} else {
					reel_real acc = 0;
					for (size_t j = 0; j < inner; j++) acc += g[j] / bb[j];
					d[0] += acc;
				}
			}
			if (db) {
				reel_real *d = db + o * inner;
				for (size_t j = 0; j < inner; j++) d[j] -= g[j] * y[j] / bb[j];
			}
		}
	}
}

/* ---- unary ops -------------------------------------------------------------- */

/* Elements [i0, i1) of a unary op's forward (Y = op(X)) and backward
 * (dx += dy op'(...)), split in chunks as the binary ops' (above). */

typedef struct unary_job {
	int op;
	size_t N;
	reel_real a;
	const reel_real *X, *Y, *dy;
	reel_real *out; /* Y in forward, dx in backward */
} unary_job;

REEL_CLONES static void unary_fwd_range(int op, reel_real arg, const reel_real *X, reel_real *Y, size_t i0, size_t i1)
{
	switch (op) {
	case REEL_OP_SCALE: for (size_t i = i0; i < i1; i++) Y[i] = arg * X[i]; break;
	case REEL_OP_ADD_SCALAR: for (size_t i = i0; i < i1; i++) Y[i] = X[i] + arg; break;
	case REEL_OP_ONE_MINUS: for (size_t i = i0; i < i1; i++) Y[i] = 1 - X[i]; break;
	case REEL_OP_TANH: for (size_t i = i0; i < i1; i++) Y[i] = reel__tanh(X[i]); break;
	case REEL_OP_SIGMOID: for (size_t i = i0; i < i1; i++) Y[i] = reel__sigmoid(X[i]); break;
	case REEL_OP_RELU: for (size_t i = i0; i < i1; i++) Y[i] = X[i] > 0 ? X[i] : 0; break;
	case REEL_OP_EXP: for (size_t i = i0; i < i1; i++) Y[i] = reel__exp(X[i]); break;
	case REEL_OP_LOG: for (size_t i = i0; i < i1; i++) Y[i] = REEL_M(log)(X[i]); break;
	case REEL_OP_SQRT: for (size_t i = i0; i < i1; i++) Y[i] = REEL_M(sqrt)(X[i]); break;
	case REEL_OP_RSQRT: for (size_t i = i0; i < i1; i++) Y[i] = 1 / REEL_M(sqrt)(X[i]); break;
	case REEL_OP_ABS: for (size_t i = i0; i < i1; i++) Y[i] = REEL_M(fabs)(X[i]); break;
	case REEL_OP_POW:
		if (arg == 2)
			for (size_t i = i0; i < i1; i++) Y[i] = X[i] * X[i];
		else
			for (size_t i = i0; i < i1; i++) Y[i] = REEL_M(pow)(X[i], arg);
		break;
	default: break;
	}
}

REEL_CLONES static void unary_bwd_range(int op, reel_real a, const reel_real *X, const reel_real *Y, const reel_real *dy,
                            reel_real *dx, size_t i0, size_t i1)
{
	switch (op) {
	case REEL_OP_SCALE: for (size_t i = i0; i < i1; i++) dx[i] += a * dy[i]; break;
	case REEL_OP_ADD_SCALAR: for (size_t i = i0; i < i1; i++) dx[i] += dy[i]; break;
	case REEL_OP_ONE_MINUS: for (size_t i = i0; i < i1; i++) dx[i] -= dy[i]; break;
	case REEL_OP_TANH: for (size_t i = i0; i < i1; i++) dx[i] += dy[i] * (1 - Y[i] * Y[i]); break;
	case REEL_OP_SIGMOID: for (size_t i = i0; i < i1; i++) dx[i] += dy[i] * Y[i] * (1 - Y[i]); break;
	case REEL_OP_RELU: for (size_t i = i0; i < i1; i++) dx[i] += Y[i] > 0 ? dy[i] : 0; break;
	case REEL_OP_EXP: for (size_t i = i0; i < i1; i++) dx[i] += dy[i] * Y[i]; break;
	case REEL_OP_LOG: for (size_t i = i0; i < i1; i++) dx[i] += dy[i] / X[i]; break;
	case REEL_OP_SQRT: for (size_t i = i0; i < i1; i++) dx[i] += dy[i] / (2 * Y[i]); break;
	case REEL_OP_RSQRT: for (size_t i = i0; i < i1; i++) dx[i] += (reel_real)-0.5 * dy[i] * Y[i] * Y[i] * Y[i]; break;
	case REEL_OP_ABS:
		for (size_t i = i0; i < i1; i++) dx[i] += X[i] > 0 ? dy[i] : X[i] < 0 ? -dy[i] : 0;
		break;
	case REEL_OP_POW:
		/* p == 0: exactly 0, also at x == 0 where p x^(p-1) would be NaN */
		if (a == 0)
			break;
		if (a == 2)
			for (size_t i = i0; i < i1; i++) dx[i] += dy[i] * 2 * X[i];
		else
			for (size_t i = i0; i < i1; i++) dx[i] += dy[i] * a * REEL_M(pow)(X[i], a - 1);
		break;
	default: break; /* forward refused any other op, so no such node exists */
	}
}

static void unary_fwd_chunks(void *ctx, int c0, int c1)
{
	const unary_job *j = ctx;
	size_t i1 = (size_t)c1 * CHUNK;
	unary_fwd_range(j->op, j->a, j->X, j->out, (size_t)c0 * CHUNK, i1 < j->N ? i1 : j->N);
}

static void unary_bwd_chunks(void *ctx, int c0, int c1)
{
	const unary_job *j = ctx;
	size_t i1 = (size_t)c1 * CHUNK;
	unary_bwd_range(j->op, j->a, j->X, j->Y, j->dy, j->out, (size_t)c0 * CHUNK, i1 < j->N ? i1 : j->N);
}

static int is_unary(int op)
{
	switch (op) {
	case REEL_OP_SCALE: case REEL_OP_ADD_SCALAR: case REEL_OP_ONE_MINUS: case REEL_OP_TANH: case REEL_OP_SIGMOID:
	case REEL_OP_RELU: case REEL_OP_EXP: case REEL_OP_LOG: case REEL_OP_SQRT: case REEL_OP_RSQRT: case REEL_OP_ABS:
	case REEL_OP_POW: return 1;
	default: return 0;
	}
}

reel_tensor *reel__unary_into(reel_tape *t, int op, reel_tensor *x, reel_real arg, reel_tensor *slot)
{
	if (reel__skip(t, reel_op_name(op), 1, x))
		return NULL;
	if (!is_unary(op))
		return reel_tape_fail(t, REEL_ERR_ARG, "internal: op %s is not elementwise unary", reel_op_name(op));
	int need = reel__needs_grad(t, x, NULL, NULL);
	reel_tensor *y = slot ? slot : reel__out(t, x->ndim, x->shape, need);
	if (!y)
		return NULL;
	unary_job j = {.op = op, .N = x->size, .a = arg, .X = x->data, .out = y->data};
	reel__par_rows(j.N, (int)((j.N + CHUNK - 1) / CHUNK), unary_fwd_chunks, &j);
	if (need) {
		reel_node *n = reel__record(t, op, y, x, NULL, NULL);
		if (!n)
			return NULL;
		n->farg = arg;
	}
	return y;
}

static void unary_backward(reel_node *n)
{
	reel_real *dx = reel__g(n->in[0]);
	if (!dx)
		return;
	unary_job j = {.op = n->op, .N = n->out->size, .a = n->farg, .X = n->in[0]->data, .Y = n->out->data,
	               .dy = reel_tensor_grad(n->out), .out = dx};
	reel__par_rows(j.N, (int)((j.N + CHUNK - 1) / CHUNK), unary_bwd_chunks, &j);
}

reel_tensor *reel_scale(reel_tape *t, reel_tensor *x, reel_real a) { return reel__unary_into(t, REEL_OP_SCALE, x, a, NULL); }
reel_tensor *reel_add_scalar(reel_tape *t, reel_tensor *x, reel_real c) { return reel__unary_into(t, REEL_OP_ADD_SCALAR, x, c, NULL); }
reel_tensor *reel_one_minus(reel_tape *t, reel_tensor *x) { return reel__unary_into(t, REEL_OP_ONE_MINUS, x, 0, NULL); }
reel_tensor *reel_tanh(reel_tape *t, reel_tensor *x) { return reel__unary_into(t, REEL_OP_TANH, x, 0, NULL); }
reel_tensor *reel_sigmoid(reel_tape *t, reel_tensor *x) { return reel__unary_into(t, REEL_OP_SIGMOID, x, 0, NULL); }
reel_tensor *reel_relu(reel_tape *t, reel_tensor *x) { return reel__unary_into(t, REEL_OP_RELU, x, 0, NULL); }
reel_tensor *reel_exp(reel_tape *t, reel_tensor *x) { return reel__unary_into(t, REEL_OP_EXP, x, 0, NULL); }
reel_tensor *reel_log(reel_tape *t, reel_tensor *x) { return reel__unary_into(t, REEL_OP_LOG, x, 0, NULL); }
reel_tensor *reel_sqrt(reel_tape *t, reel_tensor *x) { return reel__unary_into(t, REEL_OP_SQRT, x, 0, NULL); }
reel_tensor *reel_rsqrt(reel_tape *t, reel_tensor *x) { return reel__unary_into(t, REEL_OP_RSQRT, x, 0, NULL); }
reel_tensor *reel_abs(reel_tape *t, reel_tensor *x) { return reel__unary_into(t, REEL_OP_ABS, x, 0, NULL); }

reel_tensor *reel_pow(reel_tape *t, reel_tensor *x, reel_real p)
{
	if (reel__skip(t, "pow", 1, x))
		return NULL;
	if (!isfinite(p))
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_pow: exponent must be finite, got %g", (double)p);
	return reel__unary_into(t, REEL_OP_POW, x, p, NULL);
}

void reel__bwd_SCALE(reel_node *n) { unary_backward(n); }
void reel__bwd_ADD_SCALAR(reel_node *n) { unary_backward(n); }
void reel__bwd_ONE_MINUS(reel_node *n) { unary_backward(n); }
void reel__bwd_TANH(reel_node *n) { unary_backward(n); }
void reel__bwd_SIGMOID(reel_node *n) { unary_backward(n); }
void reel__bwd_RELU(reel_node *n) { unary_backward(n); }
void reel__bwd_EXP(reel_node *n) { unary_backward(n); }
void reel__bwd_LOG(reel_node *n) { unary_backward(n); }
void reel__bwd_SQRT(reel_node *n) { unary_backward(n); }
void reel__bwd_RSQRT(reel_node *n) { unary_backward(n); }
void reel__bwd_ABS(reel_node *n) { unary_backward(n); }
void reel__bwd_POW(reel_node *n) { unary_backward(n); }

/* ---- clamp -------------------------------------------------------------------- */

reel_tensor *reel_clamp(reel_tape *t, reel_tensor *x, reel_real lo, reel_real hi)
{
	if (reel__skip(t, "clamp", 1, x))
		return NULL;
	if (isnan(lo) || isnan(hi) || lo > hi)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_clamp: need lo <= hi (neither NaN), got lo %g, hi %g",
		                      (double)lo, (double)hi);
	int need = reel__needs_grad(t, x, NULL, NULL);
	reel_tensor *y = reel__out(t, x->ndim, x->shape, need);
	if (!y)
		return NULL;
	const reel_real *X = x->data;
	reel_real *Y = y->data;
	/* comparisons with NaN are false: a NaN x passes through */
	for (size_t i = 0; i < x->size; i++)
		Y[i] = X[i] < lo ? lo : X[i] > hi ? hi : X[i];
	if (need) {
		reel_real *bounds = reel__alloc_small(t, 2 * sizeof *bounds);
		reel_node *n = bounds ? reel__record(t, REEL_OP_CLAMP, y, x, NULL, NULL) : NULL;
		if (!n)
			return NULL;
		bounds[0] = lo;
		bounds[1] = hi;
		n->saved = bounds;
	}
	return y;
}

/* dx += dy where lo <= x <= hi (both ends included, as PyTorch), else 0. */
void reel__bwd_CLAMP(reel_node *n)
{
	reel_real *dx = reel__g(n->in[0]);
	if (!dx)
		return;
	const reel_real *dy = reel_tensor_grad(n->out), *X = n->in[0]->data, *b = n->saved;
	reel_real lo = b[0], hi = b[1];
	for (size_t i = 0; i < n->out->size; i++)
		if (X[i] >= lo && X[i] <= hi)
			dx[i] += dy[i];
}

/* ---- dropout ------------------------------------------------------------------ */

reel_tensor *reel_dropout(reel_tape *t, reel_tensor *x, reel_real p)
{
	if (reel__skip(t, "dropout", 1, x))
		return NULL;
	if (!(p >= 0 && p < 1))
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_dropout: p must be in [0, 1), got %g", (double)p);
	if (p == 0 || !t->training)
		return x;
	int need = reel__needs_grad(t, x, NULL, NULL);
	reel_tensor *y = reel__out(t, x->ndim, x->shape, need);
	reel_real *mask = reel_tape_alloc(t, x->size * sizeof(reel_real));
	if (!y || !mask)
		return NULL;
	reel_real keep = 1 / (1 - p);
	for (size_t i = 0; i < x->size; i++) {
		mask[i] = reel_rng_uniform(&t->rng) >= p ? keep : 0;
		y->data[i] = x->data[i] * mask[i];
	}
	if (need) {
		reel_node *n = reel__record(t, REEL_OP_DROPOUT, y, x, NULL, NULL);
		if (!n)
			return NULL;
		n->saved = mask;
	}
	return y;
}

void reel__bwd_DROPOUT(reel_node *n)
{
	reel_real *dx = reel__g(n->in[0]);
	const reel_real *dy = reel_tensor_grad(n->out), *mask = n->saved;
	if (dx)
		for (size_t i = 0; i < n->out->size; i++)
			dx[i] += dy[i] * mask[i];
}

/* ---- masked blend --------------------------------------------------------------- */

reel_tensor *reel_blend(reel_tape *t, reel_tensor *m, reel_tensor *a, reel_tensor *b)
{
	if (reel__skip(t, "blend", 3, m, a, b))
		return NULL;
	char sm[64], sa[64], sb[64];
	if (!reel__same_shape(a, b))
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_blend: a and b differ (a is %s, b is %s)",
		                      reel_shape_str(a, sa, sizeof sa), reel_shape_str(b, sb, sizeof sb));
	int col;
	if (reel__same_shape(m, a))
		col = 0;
	else if (is_col_of(a, m))
		col = 1;
	else
		return reel_tape_fail(t, REEL_ERR_SHAPE,
		                      "reel_blend: mask is %s, expected %s or that with last dim 1",
		                      reel_shape_str(m, sm, sizeof sm), reel_shape_str(a, sa, sizeof sa));
	int need = reel__needs_grad(t, a, b, NULL);
	reel_tensor *y = reel__out(t, a->ndim, a->shape, need);
	if (!y)
		return NULL;
	size_t inner = col ? (size_t)reel_tensor_cols(a) : a->size, outer = a->size / inner;
	for (size_t o = 0; o < outer; o++)
		for (size_t j = 0; j < inner; j++) {
			size_t i = o * inner + j;
			reel_real w = m->data[col ? o : i];
			y->data[i] = w * a->data[i] + (1 - w) * b->data[i];
		}
	if (need) {
		reel_node *n = reel__record(t, REEL_OP_BLEND, y, a, b, m);
		if (!n)
			return NULL;
		n->iarg[0] = col;
	}
	return y;
}

void reel__bwd_BLEND(reel_node *n)
{
	reel_tensor *a = n->in[0], *b = n->in[1], *m = n->in[2];
	reel_real *da = reel__g(a), *db = reel__g(b);
	const reel_real *dy = reel_tensor_grad(n->out);
	int col = n->iarg[0];
	size_t inner = col ? (size_t)reel_tensor_cols(a) : a->size, outer = a->size / inner;
	for (size_t o = 0; o < outer; o++)
		for (size_t j = 0; j < inner; j++) {
			size_t i = o * inner + j;
			reel_real w = m->data[col ? o : i];
			if (da)
				da[i] += w * dy[i];
			if (db)
				db[i] += (1 - w) * dy[i];
		}
}

/* ---- gate blocks ------------------------------------------------------------------ */

#define GATE_MAX 16

reel_tensor *reel_gate_blocks(reel_tape *t, reel_tensor *x, const char *acts)
{
	if (reel__skip(t, "gate_blocks", 1, x))
		return NULL;
	char sx[64];
	size_t G = acts ? strlen(acts) : 0;
	if (G < 1 || G > GATE_MAX || strspn(acts, "st-") != G)
		return reel_tape_fail(t, REEL_ERR_ARG,
		                      "reel_gate_blocks: acts must be 1 to %d of 's' (sigmoid), 't' (tanh), '-' (none), got \"%s\"",
		                      GATE_MAX, acts ? acts : "(null)");
	int cols = x->ndim >= 1 ? x->shape[x->ndim - 1] : 0;
	if (x->ndim < 1 || cols % (int)G)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_gate_blocks: x is %s, its last dim must be %zu blocks of equal width",
		                      reel_shape_str(x, sx, sizeof sx), G);
	size_t R = x->size / (size_t)cols;
	if (R > (size_t)INT32_MAX)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_gate_blocks: x is %s: too many rows", reel_shape_str(x, sx, sizeof sx));
	int H = cols / (int)G;
	/* one row without activations is already laid out as (G, 1, H) */
	if (R == 1 && strspn(acts, "-") == G)
		return reel_reshape3(t, x, (int)G, 1, H);
	int need = reel__needs_grad(t, x, NULL, NULL);
	reel_tensor *y = reel__out(t, 3, (int[]){(int)G, (int)R, H}, need);
	char *saved = need ? reel__alloc_small(t, G + 1) : NULL;
	if (!y || (need && !saved))
		return NULL;
	const reel_real *X = x->data;
	reel_real *Y = y->data;
	for (size_t r = 0; r < R; r++)
		for (size_t g = 0; g < G; g++) {
			const reel_real *xr = X + r * (size_t)cols + g * (size_t)H;
			reel_real *yr = Y + (g * R + r) * (size_t)H;
			switch (acts[g]) {
			case 's': for (int j = 0; j < H; j++) yr[j] = reel__sigmoid(xr[j]); break;
			case 't': for (int j = 0; j < H; j++) yr[j] = reel__tanh(xr[j]); break;
			default: memcpy(yr, xr, (size_t)H * sizeof *yr); break;
			}
		}
	if (need) {
		reel_node *n = reel__record(t, REEL_OP_GATE_BLOCKS, y, x, NULL, NULL);
		if (!n)
			return NULL;
		memcpy(saved, acts, G + 1);
		n->saved = saved;
	}
	return y;
}

/* dx[r, g*H + j] += dy[g, r, j] * act_g'(y[g, r, j]) */
void reel__bwd_GATE_BLOCKS(reel_node *n)
{
	reel_real *dx = reel__g(n->in[0]);
	if (!dx)
		return;
	const char *acts = n->saved;
	size_t G = (size_t)n->out->shape[0], R = (size_t)n->out->shape[1], H = (size_t)n->out->shape[2];
	const reel_real *dy = reel_tensor_grad(n->out), *Y = n->out->data;
	for (size_t r = 0; r < R; r++)
		for (size_t g = 0; g < G; g++) {
			reel_real *d = dx + (r * G + g) * H;
			const reel_real *gy = dy + (g * R + r) * H, *yr = Y + (g * R + r) * H;
			switch (acts[g]) {
			case 's': for (size_t j = 0; j < H; j++) d[j] += gy[j] * yr[j] * (1 - yr[j]); break;
			case 't': for (size_t j = 0; j < H; j++) d[j] += gy[j] * (1 - yr[j] * yr[j]); break;
			default: for (size_t j = 0; j < H; j++) d[j] += gy[j]; break;
			}
		}
}
