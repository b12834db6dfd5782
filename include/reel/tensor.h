/* reel engine core: scalar type, status codes, tensors, the tape and its arena.
 *
 * Ownership in one paragraph.  A tape (reel_tape_new / reel_tape_free) owns an
 * arena; every tensor an op returns, every node, every saved value and every
 * intermediate gradient is an allocation in it (bump allocation; gradient
 * buffers are recycled within a backward sweep).  reel_tape_reset() makes
 * all of them invalid at once and reuses the memory: after the first step of a
 * fixed-shape loop the arena is big enough and no malloc happens.  Parameters
 * live in a reel_params store (param.h), not on a tape, so they survive resets
 * and their gradients accumulate across backward calls until zeroed.
 *
 * Invariants.
 *  - Tensors are contiguous and row-major, 0 to 4 dims (0 dims = a scalar,
 *    size 1).  A view (reel_rows, reel_reshape) shares its base's data: its
 *    data is base->data + offset and its gradient is base->grad + offset, so a
 *    view costs no copy forward or backward and needs no node.
 *  - A tensor needs a gradient (requires_grad) iff it is a parameter that is
 *    not frozen, a leaf created with REEL_GRAD, or the output of an op with
 *    such an input.  Ops whose inputs need no gradient record no node.
 *  - Errors are sticky: the first failing op stores a status and a message on
 *    the tape and returns NULL; every later op on that tape returns NULL at
 *    once, so the caller checks once after the forward.
 */
#ifndef REEL_TENSOR_H
#define REEL_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef REEL_DOUBLE
typedef double reel_real;
#define REEL_REAL_NAME "double"
#else
typedef float reel_real;
#define REEL_REAL_NAME "float"
#endif

/* The scalar-type check.  libreel (float) defines reel_abi_float__link_with_libreel
 * and libreel_f64 (double) reel_abi_double__link_with_libreel_f64, and each
 * other translation unit that includes this header refers to the one of
 * its own scalar type.  So a program compiled without REEL_DOUBLE fails to
 * link against libreel_f64 (and one compiled with it against libreel) with
 *     undefined reference to `reel_abi_float__link_with_libreel'
 * instead of running with every reel_real misread.  The reference costs one
 * pointer per object file and no call. */
#ifdef REEL_DOUBLE
#define REEL_ABI_TAG reel_abi_double__link_with_libreel_f64
#else
#define REEL_ABI_TAG reel_abi_float__link_with_libreel
#endif
extern const int REEL_ABI_TAG;
#if !defined(REEL_BUILDING_ABI_TAG) && (defined(__GNUC__) || defined(__clang__))
static const int *const reel__abi_check __attribute__((used, unused)) = &REEL_ABI_TAG;
#endif

#define REEL_MAX_DIMS 4

/* A small closed set of result codes; the detail is in a message on the
 * object that failed (the tape, the parameter store, a reel_err). */
typedef enum reel_status {
	REEL_OK = 0,
	REEL_ERR_SHAPE,   /* operand shapes do not fit the op */
	REEL_ERR_ARG,     /* a bad argument that is not a shape (NULL, range) */
	REEL_ERR_CONFIG,  /* a bad model or training configuration */
	REEL_ERR_IO,      /* a file could not be read or written, or is malformed */
	REEL_ERR_NOMEM,   /* an allocation failed or a size overflowed */
	REEL_ERR_NUMERIC, /* a NaN or infinity where a finite number is needed */
} reel_status;

const char *reel_status_name(reel_status s);

/* Error detail for calls that have no object of their own to carry it
 * (file readers, parsers).  Caller-provided storage. */
typedef struct reel_err {
	reel_status code;
	char msg[512];
} reel_err;

/* Sets e (when non-NULL) and returns code, so callers can write
 * `return reel_err_set(e, REEL_ERR_IO, "%s: ...", path);`. */
reel_status reel_err_set(reel_err *e, reel_status code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

typedef struct reel_tensor reel_tensor;
struct reel_tensor {
	reel_real *data;          /* size elements, row-major */
	reel_real *grad;          /* params: the store's block; tape roots: set by backward (kept for leaves only); views: unused, see reel_tensor_grad */
	reel_tensor *base;        /* the root that owns data and grad; itself for roots */
	size_t offset;            /* element offset of data within base */
	size_t size;              /* product of shape */
	int ndim;
	int shape[REEL_MAX_DIMS];
	unsigned char requires_grad;
	unsigned char on_tape;    /* root allocated in a tape arena (gradient zeroed per backward) */
	unsigned char grad_ready; /* tape roots during backward: the gradient buffer is allocated and zeroed */
	unsigned char leaf;       /* created by reel_tensor_new/_from, not by an op: keeps its gradient */
	struct reel_tape *tape;   /* tape roots: the tape whose arena holds the gradient */
	reel_tensor *next_grad;   /* tape: chain of roots that need a gradient buffer */
	const char *name;         /* parameters: their dotted name; else NULL */
};

/* The gradient storage of x (aliasing its base's for views), or NULL when x
 * has none.  After reel_backward, parameters, leaves created with REEL_GRAD
 * and their views have gradients; an intermediate tensor's gradient is
 * released as soon as the op that produced it has passed it on, so it is
 * NULL afterwards (as PyTorch keeps no .grad on non-leaf tensors). */
static inline reel_real *reel_tensor_grad(const reel_tensor *x)
{
	return x->base->grad ? x->base->grad + x->offset : NULL;
}

/* Rows of a 2-d view of x: all dims but the last folded together. */
static inline int reel_tensor_rows(const reel_tensor *x)
{
	return x->ndim == 0 ? 1 : (int)(x->size / (size_t)x->shape[x->ndim - 1]);
}
static inline int reel_tensor_cols(const reel_tensor *x)
{
	return x->ndim == 0 ? 1 : x->shape[x->ndim - 1];
}

/* Writes "3x4x5" (or "scalar") into buf; returns buf.  For messages. */
char *reel_shape_str(const reel_tensor *x, char *buf, size_t n);

/* ---- the tape ------------------------------------------------------------ */

typedef struct reel_tape reel_tape;
typedef struct reel_rng reel_rng;

/* A new tape whose arena starts with initial_bytes (0: a default); the RNG
 * (dropout masks) is seeded with seed.  Returns NULL if out of memory.
 * Free with reel_tape_free. */
reel_tape *reel_tape_new(size_t initial_bytes, uint64_t seed);
void reel_tape_free(reel_tape *t); /* NULL is a no-op */

/* Forget every node and tensor of the tape and reuse its memory; clears the
 * error.  If the last step needed more than one arena chunk, the chunks are
 * merged into one of the total size, so a fixed-shape loop stops allocating
 * after its first step. */
void reel_tape_reset(reel_tape *t);

/* Status and message of the first error since the last reset; REEL_OK and
 * "" when there is none. */
reel_status reel_tape_status(const reel_tape *t);
const char *reel_tape_error(const reel_tape *t);

/* Record an error on the tape (the first one wins); returns NULL so op code
 * can `return reel_tape_fail(...)`.  For layers and extensions too. */
void *reel_tape_fail(reel_tape *t, reel_status code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Training mode (dropout active) vs evaluation; default training. */
void reel_tape_set_training(reel_tape *t, int training);
int reel_tape_training(const reel_tape *t);

/* Gradient recording on/off (off: ops record no nodes, as in inference);
 * default on.  Returns the previous setting. */
int reel_tape_set_grad(reel_tape *t, int enabled);

/* The tape's RNG (dropout masks); reseed with reel_rng_seed. */
reel_rng *reel_tape_rng(reel_tape *t);

typedef struct reel_tape_stats {
	size_t nodes;          /* nodes recorded since the last reset */
	size_t arena_used;     /* bytes in use since the last reset */
	size_t arena_capacity; /* bytes owned by the arena */
	size_t arena_peak;     /* most bytes used by any step so far */
	size_t chunk_allocs;   /* mallocs the arena has made in its lifetime */
} reel_tape_stats;
reel_tape_stats reel_tape_get_stats(const reel_tape *t);

/* Inference loops (decoding, sampling) free each step's memory: take a
 * mark, run a step, copy what must survive into tensors made before the
 * mark, and release back to it.  Release makes every tensor allocated
 * after the mark invalid.  It is only for a tape that recorded no node
 * since the mark (gradients off): otherwise it changes nothing, records
 * REEL_ERR_ARG on the tape and returns it. */
typedef struct reel_tape_mark {
	void *chunk;
	size_t chunk_used, used, nnodes;
	void *grad_list;
} reel_tape_mark;
reel_tape_mark reel_tape_get_mark(const reel_tape *t);
reel_status reel_tape_release(reel_tape *t, const reel_tape_mark *m);

/* Cap the bytes a step may take from the tape's arena (a memory budget);
 * 0 or anything above REEL_MAX_ARENA_BYTES means REEL_MAX_ARENA_BYTES.  A
 * request past the cap fails like an out-of-memory: NULL, REEL_ERR_NOMEM
 * and a message naming the op, the shape and the cap.  Returns the previous
 * cap. */
size_t reel_tape_set_max_bytes(reel_tape *t, size_t max_bytes);

/* Arena allocation of n bytes, 64-byte aligned; valid until reset.  Returns
 * NULL (and records REEL_ERR_NOMEM on the tape) when memory runs out. */
void *reel_tape_alloc(reel_tape *t, size_t n);

/* ---- tensors on a tape --------------------------------------------------- */

enum { REEL_NOGRAD = 0, REEL_GRAD = 1 };

/* A new tensor in the tape's arena, zero-filled, with ndim dims of the
 * given shape (each >= 1).  requires_grad: REEL_GRAD makes it a leaf whose
 * gradient backward fills (read it with reel_tensor_grad).  NULL on error. */
reel_tensor *reel_tensor_new(reel_tape *t, int ndim, const int *shape, int requires_grad);

/* The same, filled with a copy of src (size elements). */
reel_tensor *reel_tensor_from(reel_tape *t, int ndim, const int *shape,
                              const reel_real *src, int requires_grad);

/* Convenience shapes. */
reel_tensor *reel_tensor_new2(reel_tape *t, int rows, int cols, int requires_grad);
reel_tensor *reel_tensor_new3(reel_tape *t, int d0, int d1, int d2, int requires_grad);

/* A tensor that shares x's data but stops gradients: backward never reaches
 * x through it (truncated BPTT).  No copy, no node.  The data is still x's:
 * to carry a state across reel_tape_reset, copy it out first. */
reel_tensor *reel_detach(reel_tape *t, reel_tensor *x);

/* Wrap caller-owned memory (size = product of shape elements) as a constant
 * leaf (no gradient).  The tensor struct lives in the arena; data is not
 * copied and must outlive the step. */
reel_tensor *reel_tensor_wrap(reel_tape *t, int ndim, const int *shape, reel_real *data);

/* ---- backward ------------------------------------------------------------ */

/* Reverse-mode sweep: seeds d(y)/d(y) = 1 for the scalar y (size 1) and
 * replays the nodes in reverse, each adding into its inputs' gradients.
 * Gradient buffers come from the arena when first touched and are reused
 * once their tensor's producer has run, so a step's gradients never occupy
 * more than the live ones.  Parameter
 * gradients accumulate across calls until zeroed (reel_params_zero_grad).
 * Returns REEL_OK, or the tape's sticky error (then nothing is touched). */
reel_status reel_backward(reel_tape *t, reel_tensor *y);

/* The same with an explicit seed dy (y->size elements) for a non-scalar y:
 * computes the vector-Jacobian product dy^T dy/dx for every x. */
reel_status reel_backward_seed(reel_tape *t, reel_tensor *y, const reel_real *dy);

#ifdef __cplusplus
}
#endif

#endif
