/* The tape: arena, tensors in it, node recording, and the backward sweep. */
#include "internal.h"
#include "fault.h"

#include <stdarg.h>
#include <string.h>

#define ALIGN 64
#define DEFAULT_ARENA (1u << 20)

static const char *const op_names[] = {
#define REEL_X_NAME(id, name) [REEL_OP_##id] = name,
	REEL_OPS(REEL_X_NAME)
#undef REEL_X_NAME
};

static const reel__backward_fn backward_table[] = {
#define REEL_X_BWD(id, name) [REEL_OP_##id] = reel__bwd_##id,
	REEL_OPS(REEL_X_BWD)
#undef REEL_X_BWD
};

_Static_assert(sizeof op_names / sizeof op_names[0] == REEL_OP_COUNT, "op name table");
_Static_assert(sizeof backward_table / sizeof backward_table[0] == REEL_OP_COUNT,
               "op backward table");

const char *reel_op_name(int op)
{
	return op >= 0 && op < REEL_OP_COUNT ? op_names[op] : "?";
}

const char *reel_status_name(reel_status s)
{
	switch (s) {
	case REEL_OK: return "ok";
	case REEL_ERR_SHAPE: return "shape error";
	case REEL_ERR_ARG: return "bad argument";
	case REEL_ERR_CONFIG: return "config error";
	case REEL_ERR_IO: return "I/O error";
	case REEL_ERR_NOMEM: return "out of memory";
	case REEL_ERR_NUMERIC: return "numeric error";
	}
	return "unknown status";
}

reel_status reel_err_set(reel_err *e, reel_status code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
		e->code = code;
	}
	return code;
}

/* "3x4x5" (or "scalar") from a dims array, for messages. */
static char *dims_str(int ndim, const int *shape, char *buf, size_t n)
{
	if (ndim == 0) {
		snprintf(buf, n, "scalar");
		return buf;
	}
	size_t at = 0;
	for (int i = 0; i < ndim && at < n; i++)
		at += (size_t)snprintf(buf + at, n - at, i ? "x%d" : "%d", shape[i]);
	return buf;
}

char *reel_shape_str(const reel_tensor *x, char *buf, size_t n)
{
	if (!x) {
		snprintf(buf, n, "NULL");
		return buf;
	}
	return dims_str(x->ndim, x->shape, buf, n);
}

/* ---- arena ----------------------------------------------------------------- */

static reel__chunk *chunk_new(reel_tape *t, size_t cap)
{
	cap = (cap + ALIGN - 1) & ~(size_t)(ALIGN - 1); /* aligned_alloc wants a multiple of the alignment */
	reel__chunk *c = reel__malloc(sizeof *c);
	if (!c)
		return NULL;
	/* one alignment unit of slack past cap: BLIS's small-matrix kernels can
	 * read a float past the end of a product's C (make valgrind saw it) */
	c->mem = aligned_alloc(ALIGN, cap + ALIGN);
	if (!c->mem) {
		free(c);
		return NULL;
	}
	c->cap = cap;
	c->used = 0;
	c->next = NULL;
	t->chunk_allocs++;
	return c;
}

static void chunks_free(reel__chunk *c)
{
	while (c) {
		reel__chunk *next = c->next;
		free(c->mem);
		free(c);
		c = next;
	}
}

/* Why an arena request failed. */
enum { TAKE_OVER_CAP = 1, TAKE_NO_MEMORY };

/* n bytes at the given alignment (a power of two <= ALIGN), or NULL with
 * *why set; records nothing, so each caller can say what the bytes were
 * for.  Requests are checked against the cap before any arithmetic, and
 * the cap is at most REEL_MAX_ARENA_BYTES (2^40), so no sum here wraps. */
static void *arena_take(reel_tape *t, size_t n, size_t align, int *why)
{
	if (n > t->max_bytes - ALIGN || t->used > t->max_bytes - ALIGN - n) {
		*why = TAKE_OVER_CAP;
		return NULL;
	}
	reel__chunk *c = t->cur;
	size_t at = (c->used + align - 1) & ~(align - 1);
	while (at > c->cap || n > c->cap - at) {
		if (!c->next) {
			size_t cap = c->cap <= REEL_MAX_ARENA_BYTES / 2 ? c->cap * 2 : c->cap;
			if (cap < n + ALIGN)
				cap = n + ALIGN;
			c->next = chunk_new(t, cap);
			if (!c->next) {
				*why = TAKE_NO_MEMORY;
				return NULL;
			}
		}
		c = c->next;
		c->used = 0;
		at = 0;
	}
	t->cur = c;
	t->used += at + n - c->used;
	c->used = at + n;
	if (t->used > t->peak)
		t->peak = t->used;
	return c->mem + at;
}

/* Record why a request of n bytes for what (e.g. "a tensor of shape 3x4")
 * failed, naming who asked; returns NULL. */
static void *arena_fail(reel_tape *t, int why, const char *who, size_t n, const char *what)
{
	if (why == TAKE_NO_MEMORY)
		return reel_tape_fail(t, REEL_ERR_NOMEM, "%s: cannot allocate %zu bytes for %s (out of memory)", who, n,
		                      what);
	if (t->max_bytes == REEL_MAX_ARENA_BYTES)
		return reel_tape_fail(t, REEL_ERR_NOMEM,
		                      "%s: %zu bytes for %s would exceed the largest arena (%s bytes; %zu in use)", who,
		                      n, what, REEL_MAX_ARENA_BYTES_STR, t->used);
	return reel_tape_fail(t, REEL_ERR_NOMEM,
	                      "%s: %zu bytes for %s would exceed the tape's cap of %zu bytes (%zu in use)", who, n,
	                      what, t->max_bytes, t->used);
}

void *reel_tape_alloc(reel_tape *t, size_t n)
{
	int why = 0;
	void *p = arena_take(t, n, ALIGN, &why);
	return p ? p : arena_fail(t, why, "reel_tape_alloc", n, "a buffer");
}

void *reel__alloc_small(reel_tape *t, size_t n)
{
	int why = 0;
	void *p = arena_take(t, n, 16, &why);
	if (!p) {
		char who[64];
		snprintf(who, sizeof who, "reel_%s", t->op ? t->op : "tape");
		arena_fail(t, why, who, n, "a tensor header or node");
	}
	return p;
}

reel_tape *reel_tape_new(size_t initial_bytes, uint64_t seed)
{
	reel_tape *t = reel__calloc(1, sizeof *t);
	if (!t)
		return NULL;
	if (initial_bytes > REEL_MAX_ARENA_BYTES) {
		free(t);
		return NULL;
	}
	t->max_bytes = REEL_MAX_ARENA_BYTES;
	size_t cap = initial_bytes ? initial_bytes : DEFAULT_ARENA;
	t->head = chunk_new(t, cap);
	if (!t->head) {
		free(t);
		return NULL;
	}
	t->cur = t->head;
	t->training = 1;
	t->grad_enabled = 1;
	reel_rng_seed(&t->rng, seed);
	return t;
}

void reel_tape_free(reel_tape *t)
{
	if (!t)
		return;
	chunks_free(t->head);
	free(t);
}

void reel_tape_reset(reel_tape *t)
{
	if (t->head->next) {
		/* The step spilled into more chunks: merge them into one chunk as
		 * large as the whole arena, so the next step needs no malloc. */
		size_t total = 0;
		for (reel__chunk *c = t->head; c; c = c->next)
			total += c->cap;
		reel__chunk *merged = chunk_new(t, total);
		if (merged) {
			chunks_free(t->head);
			t->head = merged;
		}
	}
	for (reel__chunk *c = t->head; c; c = c->next)
		c->used = 0;
	t->cur = t->head;
	t->used = 0;
	t->last = NULL;
	t->nnodes = 0;
	t->grad_list = NULL;
	t->wg = NULL;
	t->nwg = 0;
	t->ngpool = 0;
	t->status = REEL_OK;
	t->err[0] = 0;
	t->op = NULL;
}

reel_tape_mark reel_tape_get_mark(const reel_tape *t)
{
	reel_tape_mark m = {t->cur, t->cur->used, t->used, t->nnodes, t->grad_list};
	return m;
}

reel_status reel_tape_release(reel_tape *t, const reel_tape_mark *m)
{
	if (t->nnodes != m->nnodes || t->grad_list != m->grad_list) {
		reel_tape_fail(t, REEL_ERR_ARG, "reel_tape_release: %zu nodes were recorded since the mark: only a tape "
		               "without gradients may release memory", t->nnodes - m->nnodes);
		return REEL_ERR_ARG;
	}
	/* the chunks after the mark's are free again: arena_take resets a chunk's
	 * use when it moves on to it */
	t->cur = m->chunk;
	t->cur->used = m->chunk_used;
	t->used = m->used;
	return t->status;
}

size_t reel_tape_set_max_bytes(reel_tape *t, size_t max_bytes)
{
	size_t old = t->max_bytes;
	t->max_bytes = max_bytes && max_bytes < REEL_MAX_ARENA_BYTES ? max_bytes : REEL_MAX_ARENA_BYTES;
	if (t->max_bytes < 2 * ALIGN)
		t->max_bytes = 2 * ALIGN; /* arena_take subtracts ALIGN from it */
	return old;
}

reel_status reel_tape_status(const reel_tape *t)
{
	return t->status;
}

const char *reel_tape_error(const reel_tape *t)
{
	return t->err;
}

void *reel_tape_fail(reel_tape *t, reel_status code, const char *fmt, ...)
{
	if (t->status == REEL_OK) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(t->err, sizeof t->err, fmt, ap);
		va_end(ap);
		t->status = code;
	}
	return NULL;
}

void reel_tape_set_training(reel_tape *t, int training)
{
	t->training = training != 0;
}

int reel_tape_training(const reel_tape *t)
{
	return t->training;
}

int reel_tape_set_grad(reel_tape *t, int enabled)
{
	int old = t->grad_enabled;
	t->grad_enabled = enabled != 0;
	return old;
}

reel_rng *reel_tape_rng(reel_tape *t)
{
	return &t->rng;
}

reel_tape_stats reel_tape_get_stats(const reel_tape *t)
{
	reel_tape_stats s = {0};
	s.nodes = t->nnodes;
	s.arena_used = t->used;
	s.arena_peak = t->peak;
	s.chunk_allocs = t->chunk_allocs;
	for (const reel__chunk *c = t->head; c; c = c->next)
		s.arena_capacity += c->cap;
	return s;
}

/* ---- op helpers ------------------------------------------------------------ */

int reel__skip(reel_tape *t, const char *op, int n, ...)
{
	if (t->status != REEL_OK)
		return 1;
	t->op = op;
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		if (!va_arg(ap, const reel_tensor *)) {
			va_end(ap);
			reel_tape_fail(t, REEL_ERR_ARG, "reel_%s: input %d is NULL", op, i + 1);
			return 1;
		}
	}
	va_end(ap);
	return 0;
}

int reel__same_shape(const reel_tensor *a, const reel_tensor *b)
{
	if (a->ndim != b->ndim)
		return 0;
	for (int i = 0; i < a->ndim; i++)
		if (a->shape[i] != b->shape[i])
			return 0;
	return 1;
}

/* The element count of shape into *size; else a tape error naming the op
 * being run.  Every dim is >= 1 and the product is checked against
 * REEL_MAX_TENSOR_ELEMS before each multiplication, so it cannot wrap. */
static int shape_size(reel_tape *t, int ndim, const int *shape, size_t *size)
{
	const char *op = t->op ? t->op : "tensor";
	if (ndim < 0 || ndim > REEL_MAX_DIMS) {
		reel_tape_fail(t, REEL_ERR_SHAPE, "reel_%s: %d dims (0 to %d allowed)", op, ndim, REEL_MAX_DIMS);
		return 0;
	}
	char s[96];
	size_t n = 1;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 1) {
			reel_tape_fail(t, REEL_ERR_SHAPE, "reel_%s: dim %d of %s is %d (must be >= 1)", op, i,
			               dims_str(ndim, shape, s, sizeof s), shape[i]);
			return 0;
		}
	}
	for (int i = 0; i < ndim; i++) {
		if (n > REEL_MAX_TENSOR_ELEMS / (size_t)shape[i]) {
			reel_tape_fail(t, REEL_ERR_NOMEM, "reel_%s: tensor of shape %s exceeds the largest tensor (%s elements)",
			               op, dims_str(ndim, shape, s, sizeof s), REEL_MAX_TENSOR_ELEMS_STR);
			return 0;
		}
		n *= (size_t)shape[i];
	}
	*size = n;
	return 1;
}

static reel_tensor *tensor_header(reel_tape *t, int ndim, const int *shape, size_t size)
{
	reel_tensor *x = reel__alloc_small(t, sizeof *x);
	if (!x)
		return NULL;
	memset(x, 0, sizeof *x);
	x->base = x;
	x->size = size;
	x->ndim = ndim;
	for (int i = 0; i < ndim; i++)
		x->shape[i] = shape[i];
	return x;
}

reel_tensor *reel__out(reel_tape *t, int ndim, const int *shape, int requires_grad)
{
	size_t size;
	if (!shape_size(t, ndim, shape, &size))
		return NULL;
	reel_tensor *x = tensor_header(t, ndim, shape, size);
	if (!x)
		return NULL;
	int why = 0;
	x->data = arena_take(t, size * sizeof(reel_real), ALIGN, &why);
	if (!x->data) {
		char who[64], what[128], s[96];
		snprintf(who, sizeof who, "reel_%s", t->op ? t->op : "tensor");
		snprintf(what, sizeof what, "a tensor of shape %s", dims_str(ndim, shape, s, sizeof s));
		return arena_fail(t, why, who, size * sizeof(reel_real), what);
	}
	x->on_tape = 1;
	if (requires_grad) {
		x->requires_grad = 1;
		x->tape = t;
		x->next_grad = t->grad_list;
		t->grad_list = x;
	}
	return x;
}

/* ---- gradient buffers during a sweep --------------------------------------------- */

static size_t grad_bytes(const reel_tensor *b)
{
	return (b->size * sizeof(reel_real) + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

void reel__grad_acquire(reel_tensor *b)
{
	reel_tape *t = b->tape;
	size_t bytes = grad_bytes(b);
	void *p = NULL;
	for (int i = 0; i < t->ngpool && !p; i++)
		if (t->gpool[i].bytes == bytes && t->gpool[i].head) {
			p = t->gpool[i].head;
			memcpy(&t->gpool[i].head, p, sizeof(void *));
		}
	int why = 0;
	if (!p && !(p = arena_take(t, bytes, ALIGN, &why))) {
		char what[160], s[96];
		snprintf(what, sizeof what, "the gradient of a tensor of shape %s", reel_shape_str(b, s, sizeof s));
		arena_fail(t, why, "reel_backward", bytes, what);
		return; /* the gradient is skipped; the sweep reports the error */
	}
	b->grad = p;
	memset(b->grad, 0, b->size * sizeof(reel_real));
	b->grad_ready = 1;
}

static void grad_release(reel_tape *t, reel_tensor *b)
{
	size_t bytes = grad_bytes(b);
	int i = 0;
	while (i < t->ngpool && t->gpool[i].bytes != bytes)
		i++;
	if (i == t->ngpool) {
		if (t->ngpool == (int)(sizeof t->gpool / sizeof t->gpool[0]))
			return; /* too many sizes: this buffer is simply not reused */
		t->gpool[t->ngpool].bytes = bytes;
		t->gpool[t->ngpool++].head = NULL;
	}
	memcpy(b->grad, &t->gpool[i].head, sizeof(void *));
	t->gpool[i].head = b->grad;
	b->grad = NULL;
	b->grad_ready = 0;
}

reel_node *reel__record(reel_tape *t, int op, reel_tensor *out, reel_tensor *a, reel_tensor *b,
                        reel_tensor *c)
{
	reel_node *n = reel__alloc_small(t, sizeof *n);
	if (!n)
		return NULL;
	n->prev = t->last;
	n->out = out;
	n->out2 = NULL;
	n->in[0] = a;
	n->in[1] = b;
	n->in[2] = c;
	n->saved = NULL;
	n->op = op;
	t->last = n;
	t->nnodes++;
	return n;
}

/* ---- tensors on a tape ---------------------------------------------------- */

reel_tensor *reel_tensor_new(reel_tape *t, int ndim, const int *shape, int requires_grad)
{
	if (t->status != REEL_OK)
		return NULL;
	t->op = "tensor_new";
	reel_tensor *x = reel__out(t, ndim, shape, requires_grad && t->grad_enabled);
	if (x) {
		memset(x->data, 0, x->size * sizeof(reel_real));
		x->leaf = 1;
	}
	return x;
}

reel_tensor *reel_tensor_from(reel_tape *t, int ndim, const int *shape, const reel_real *src,
                              int requires_grad)
{
	if (t->status != REEL_OK)
		return NULL;
	t->op = "tensor_from";
	if (!src)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_tensor_from: source is NULL");
	reel_tensor *x = reel__out(t, ndim, shape, requires_grad && t->grad_enabled);
	if (x) {
		memcpy(x->data, src, x->size * sizeof(reel_real));
		x->leaf = 1;
	}
	return x;
}

reel_tensor *reel_tensor_new2(reel_tape *t, int rows, int cols, int requires_grad)
{
	int s[2] = {rows, cols};
	return reel_tensor_new(t, 2, s, requires_grad);
}

reel_tensor *reel_tensor_new3(reel_tape *t, int d0, int d1, int d2, int requires_grad)
{
	int s[3] = {d0, d1, d2};
	return reel_tensor_new(t, 3, s, requires_grad);
}

reel_tensor *reel_tensor_wrap(reel_tape *t, int ndim, const int *shape, reel_real *data)
{
	if (t->status != REEL_OK)
		return NULL;
	t->op = "tensor_wrap";
	if (!data)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_tensor_wrap: data is NULL");
	size_t size;
	if (!shape_size(t, ndim, shape, &size))
		return NULL;
	reel_tensor *x = tensor_header(t, ndim, shape, size);
	if (x)
		x->data = data;
	return x;
}

reel_tensor *reel_detach(reel_tape *t, reel_tensor *x)
{
	if (reel__skip(t, "detach", 1, x))
		return NULL;
	reel_tensor *y = tensor_header(t, x->ndim, x->shape, x->size);
	if (y)
		y->data = x->data;
	return y;
}

/* ---- backward --------------------------------------------------------------- */

/* After its producer's backward: a root's gradient buffer goes back to the
 * pool (deferred weight gradients reading it are summed first). */
static void release_output(reel_tape *t, reel_tensor *x)
{
	if (x->base != x || x->leaf || !x->grad_ready)
		return;
	if (t->nwg)
		reel__flush_weight_grads_in(t, x->grad, x->size * sizeof(reel_real));
	grad_release(t, x);
}

static reel_status sweep(reel_tape *t, reel_tensor *y, const reel_real *dy)
{
	if (t->status != REEL_OK)
		return t->status;
	if (!y) {
		reel_tape_fail(t, REEL_ERR_ARG, "reel_backward: output is NULL");
		return t->status;
	}
	if (!dy && y->size != 1) {
		char s[64];
		reel_tape_fail(t, REEL_ERR_SHAPE,
		               "reel_backward: output must be a scalar (size 1), got %s; use "
		               "reel_backward_seed for a vector-Jacobian product",
		               reel_shape_str(y, s, sizeof s));
		return t->status;
	}
	if (!y->requires_grad)
		return REEL_OK; /* nothing upstream needs a gradient */
	/* every tape gradient starts absent; reel__g takes and zeroes a buffer on first touch */
	for (reel_tensor *x = t->grad_list; x; x = x->next_grad) {
		x->grad = NULL;
		x->grad_ready = 0;
	}
	t->ngpool = 0;
	t->wg = reel__alloc_small(t, REEL__WGROUPS * sizeof *t->wg);
	t->nwg = 0;
	reel_real *g = reel__g(y);
	if (!g || !t->wg)
		return t->status;
	for (size_t i = 0; i < y->size; i++)
		g[i] += dy ? dy[i] : 1;
	for (reel_node *n = t->last; n; n = n->prev) {
		/* views for an op writing in place (REEL_IN_PLACE) or into a slot */
		reel_tensor *ob = n->out->base, *ob2 = n->out2 ? n->out2->base : NULL;
		if (!ob->grad_ready && !(ob2 && ob2->grad_ready))
			continue; /* no gradient reached this node's outputs: nothing to pass on */
		backward_table[n->op](n);
		/* the producer has passed the gradient on: its buffer serves others
		 * now (an in-place op's output is part of its input, whose own
		 * producer releases it; a slot is part of a tensor made elsewhere) */
		release_output(t, n->out);
		if (n->out2)
			release_output(t, n->out2);
	}
	reel__flush_weight_grads(t);
	/* leaves nothing reached get a zero gradient, as the caller will read it */
	for (reel_tensor *x = t->grad_list; x; x = x->next_grad)
		if (x->leaf && !x->grad_ready)
			reel__grad_acquire(x);
	return t->status;
}

reel_status reel_backward(reel_tape *t, reel_tensor *y)
{
	return sweep(t, y, NULL);
}

reel_status reel_backward_seed(reel_tape *t, reel_tensor *y, const reel_real *dy)
{
	if (!dy) {
		reel_tape_fail(t, REEL_ERR_ARG, "reel_backward_seed: seed is NULL");
		return t->status;
	}
	return sweep(t, y, dy);
}
