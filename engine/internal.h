/* Engine internals shared between the engine's .c files: the node record, the
 * tape's layout, and the helpers every op uses to check, allocate and
 * record.  Not installed; layers and models use the public headers only. */
#ifndef REEL_INTERNAL_H
#define REEL_INTERNAL_H

#include "ops.h"
#include "reel_limits.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libm at the scalar type's precision. */
#ifdef REEL_DOUBLE
#define REEL_M(fn) fn
#else
#define REEL_M(fn) fn##f
#endif

/* The activations: vectorizable versions in the float build, libm in the
 * double build (fastmath.h says why and how accurate). */
#include "fastmath.h"
#ifdef REEL_DOUBLE
static inline double reel__exp(double x) { return exp(x); }
static inline double reel__tanh(double x) { return tanh(x); }
static inline double reel__sigmoid(double x) { return 1 / (1 + exp(-x)); }
#else
static inline float reel__exp(float x) { return reel__fexp(x); }
static inline float reel__tanh(float x) { return reel__ftanh(x); }
static inline float reel__sigmoid(float x) { return reel__fsigmoid(x); }
#endif

/* fn(ctx, r0, r1) over rows [0, n) split into contiguous parts, one per
 * thread (threads.c): every thread set (reel_set_threads) when the pass
 * touches at least 8192 elements (work), else one call on this thread, as
 * without OpenMP.  For loops whose rows are independent: every row is
 * computed by the same code whichever thread runs it. */
void reel__par_rows(size_t work, int n, void (*fn)(void *ctx, int r0, int r1), void *ctx);

/* A unary elementwise op (REEL_OP_TANH, _RELU, ...; arg: scale's factor,
 * add_scalar's constant, pow's exponent) into slot when given (a tape view
 * of x's shape that nothing has written; the caller checks it), else into
 * a new tensor.  reel_tanh and the others are this with slot NULL. */
reel_tensor *reel__unary_into(reel_tape *t, int op, reel_tensor *x, reel_real arg, reel_tensor *slot);

typedef struct reel_node reel_node;
struct reel_node {
	reel_node *prev;      /* the node recorded before this one */
	reel_tensor *out;
	reel_tensor *out2;    /* a second output (reel_lstm_cell's h' written into a slot), or NULL */
	reel_tensor *in[3];   /* fixed-arity inputs; variadic ops keep theirs in saved */
	void *saved;          /* op-specific, in the arena */
	int op;               /* reel_op */
	int iarg[4];
	reel_real farg;
};

typedef void (*reel__backward_fn)(reel_node *n);

/* One backward per op, defined next to the op's forward. */
#define REEL_X_DECL(id, name) void reel__bwd_##id(reel_node *n);
REEL_OPS(REEL_X_DECL)
#undef REEL_X_DECL

typedef struct reel__chunk reel__chunk;
struct reel__chunk {
	reel__chunk *next;
	size_t cap;  /* bytes of payload */
	size_t used;
	char *mem;   /* 64-byte aligned payload */
};

/* Deferred weight gradients (see op_matmul.c): the rows (a, dC) of every
 * product with one parameter, staged side by side and summed in one GEMM
 * per chunk of rows. */
typedef struct reel__wgroup {
	reel_real *db;  /* the parameter's gradient */
	long rsb, csb;  /* its strides as op(B) (k, n) */
	int n, k;
	int rows, cap;  /* rows staged, room for */
	reel_real *A, *D; /* staging: (cap, k) and (cap, n) */
	/* In place: the rows of dC are read where they are, in the gradient of
	 * an in-place product's input (REEL_IN_PLACE addmm), each new block
	 * just below the last (time runs backwards through one buffer); A's
	 * rows are then staged from the end of A down, in the same order.
	 * Flushed before that gradient buffer is released. */
	const reel_real *Din; /* the lowest staged row of dC; NULL: copy mode */
} reel__wgroup;

#define REEL__WGROUPS 64

struct reel_tape {
	reel__chunk *head, *cur;
	size_t used;          /* bytes used this step, across chunks */
	size_t peak;
	size_t chunk_allocs;
	reel_node *last;
	size_t nnodes;
	reel_tensor *grad_list; /* tape roots needing a gradient buffer */
	reel_status status;
	char err[512];
	const char *op;       /* the op being run (set by reel__skip), for messages */
	size_t max_bytes;     /* cap on used, at most REEL_MAX_ARENA_BYTES */
	int training;
	int grad_enabled;
	reel_rng rng;
	reel__wgroup *wg; /* during a sweep: REEL__WGROUPS groups in the arena */
	int nwg;
	struct {          /* during a sweep: released gradient buffers by exact size */
		size_t bytes;
		void *head;   /* free buffers linked through their first bytes */
	} gpool[32];
	int ngpool;
};

/* Flush the deferred weight gradients (end of a sweep). */
void reel__flush_weight_grads(reel_tape *t);
/* Flush the groups whose in-place rows lie in [p, p + bytes): before the
 * sweep gives that gradient buffer back. */
void reel__flush_weight_grads_in(reel_tape *t, const void *p, size_t bytes);

/* 1 when the op should do nothing: the tape already failed, or an input is
 * NULL (then, if the tape has no error yet, one is recorded naming op).
 * Also notes op as the op being run: a failed allocation of its output
 * names it (reel__out).  Ops that check their inputs otherwise set t->op
 * themselves. */
int reel__skip(reel_tape *t, const char *op, int n, ...);

/* Does an op with these inputs need to record a node? */
static inline int reel__needs_grad(const reel_tape *t, const reel_tensor *a, const reel_tensor *b,
                                   const reel_tensor *c)
{
	return t->grad_enabled &&
	       ((a && a->requires_grad) || (b && b->requires_grad) || (c && c->requires_grad));
}

/* Arena allocation aligned to 16 bytes, for headers and nodes (data is
 * 64-byte aligned through reel_tape_alloc). */
void *reel__alloc_small(reel_tape *t, size_t n);

/* A new root tensor in the arena with uninitialised data. */
reel_tensor *reel__out(reel_tape *t, int ndim, const int *shape, int requires_grad);

/* Record a node for out (which must require grad); returns it (NULL: out of
 * memory, recorded on the tape). */
reel_node *reel__record(reel_tape *t, int op, reel_tensor *out, reel_tensor *a, reel_tensor *b,
                        reel_tensor *c);

/* The gradient buffer of x for a backward function to add into, or NULL if
 * x needs no gradient (backward skips it; also when memory ran out, which
 * the tape records).  A tape tensor's buffer is taken and zeroed here, on
 * first touch in a sweep: the zeroing happens while the buffer is about to
 * be used (in cache), buffers no gradient reaches are never allocated, and
 * the sweep gives a buffer back once the tensor's producer has run. */
void reel__grad_acquire(reel_tensor *b);

static inline reel_real *reel__g(const reel_tensor *x)
{
	if (!x->requires_grad)
		return NULL;
	reel_tensor *b = x->base;
	if (b->on_tape && !b->grad_ready)
		reel__grad_acquire(b);
	return b->grad ? b->grad + x->offset : NULL;
}

int reel__same_shape(const reel_tensor *a, const reel_tensor *b);

/* Strided general matrix product C = alpha * A B + beta * C with A (m, k), B
 * (k, n), C (m, n) given by row and column strides; transposes are strides.
 * Dispatches vector shapes to gemv/ger.  The engine's only GEMM path. */
void reel__gemm(int m, int n, int k, reel_real alpha, const reel_real *a, long rsa, long csa,
                const reel_real *b, long rsb, long csb, reel_real beta, reel_real *c, long rsc,
                long csc);

/* The matmul planner (gemm_plan.c): reel__gemm runs each product with the
 * candidate chosen for its shape.  Candidates are numbered 0 ("blis",
 * BLIS's own kernel set), 1 ("reel", a C product), then the BLIS kernel
 * sets this CPU and this link support. */
enum { REEL__PLAN_MEASURE, REEL__PLAN_FIXED };
#define REEL__GEMM_MAXCAND 8
typedef struct reel__gemm_plan {
	int m, n, k;
	int layout;  /* bits: A stored transposed, B transposed, C transposed, beta != 0 */
	int threads;
	int choice;  /* the candidate */
	long uses;   /* products run with this entry (the first one planned it) */
	double gflops[REEL__GEMM_MAXCAND]; /* measured, per candidate (0: not measured) */
} reel__gemm_plan;
void reel__gemm_planned(int m, int n, int k, reel_real alpha, const reel_real *a, long rsa, long csa,
                        const reel_real *b, long rsb, long csb, reel_real beta, reel_real *c, long rsc,
                        long csc);
/* The same product with candidate cand (tests, benchmarks). */
void reel__gemm_with(int cand, int m, int n, int k, reel_real alpha, const reel_real *a, long rsa, long csa,
                     const reel_real *b, long rsb, long csb, reel_real beta, reel_real *c, long rsc, long csc);
int reel__gemm_candidates(void);
const char *reel__gemm_candidate_name(int i);
int reel__gemm_plan_mode(void);
int reel__gemm_plan_fixed(void); /* the candidate of REEL__PLAN_FIXED */
const char *reel__gemm_plan_why(void); /* the mode at start-up, in words */
/* Switch between measuring and one fixed candidate (tests); process-wide. */
void reel__gemm_plan_set_mode(int mode, int fixed);
/* The candidate a product of this key runs with now: its plan's, or with
 * the table full the one most shapes chose at that thread count; -1 when
 * it would be measured first. */
int reel__gemm_plan_lookup(int m, int n, int k, int layout, int threads);
/* The shapes planned so far: their count; a copy of up to max of them. */
int reel__gemm_plan_count(void);
int reel__gemm_plan_list(reel__gemm_plan *out, int max);
/* Record a known choice for a shape (a checkpoint's, so that a resumed
 * process runs each recorded product with the kernels the first process
 * measured, bit for bit): name is a candidate's name; layout as
 * reel__gemm_plan.layout.  Returns 0 (nothing recorded) for a candidate
 * this CPU does not have, a bad key or a full table. */
int reel__gemm_plan_add(int m, int n, int k, int layout, int threads, const char *name);
/* Forget every plan (benchmarks, between cases; not while products run). */
void reel__gemm_plan_clear(void);

#endif
