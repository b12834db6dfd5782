/* Reductions across the processes of a data-parallel run.
 *
 * The training loop (train.c) and evaluation (model.c) sum their gradient
 * blocks and statistics through this small interface and know nothing of
 * MPI.  Two implementations exist:
 *   reel_reduce_single()   one process: rank 0 of 1, every sum a no-op
 *                          (in the library, models/reduce.c)
 *   reel_reduce_mpi_new()  MPI_COMM_WORLD (models/reduce_mpi.c: built into
 *                          the program only when Open MPI's headers are
 *                          present, never into libreel.a)
 * Every rank must call the sums in the same order with the same counts: they
 * are collective.  A sum leaves the same bits on every rank.
 *
 * Ownership: reel_reduce_single returns a static object (free is a no-op);
 * reel_reduce_mpi_new returns one freed with reel_reduce_free, which also
 * finalises MPI. */
#ifndef REEL_REDUCE_H
#define REEL_REDUCE_H

#include <stddef.h>

#include "reel.h"

typedef struct reel_reduce reel_reduce;

struct reel_reduce {
	int rank, size;
	/* Sum buf[0..n) elementwise over the ranks, in place, on every rank.
	 * REEL_OK, or an error with err set. */
	reel_status (*sum_double)(reel_reduce *r, double *buf, size_t n, reel_err *err);
	reel_status (*sum_real)(reel_reduce *r, reel_real *buf, size_t n, reel_err *err);
	/* Release; failed != 0 ends every rank of the job at once (a rank that
	 * failed alone would leave the others waiting in a sum). */
	void (*free)(reel_reduce *r, int failed);
	double seconds;  /* wall time spent in the sums so far */
	long calls;      /* sums made */
	void *impl;
};

/* The one-process reducer (rank 0 of 1). */
reel_reduce *reel_reduce_single(void);

/* The MPI reducer when the process was started by mpirun (Open MPI, or a
 * PMI/PMIx launcher), after MPI_Init; NULL otherwise (also when the
 * program was built without MPI), so the caller falls back to
 * reel_reduce_single.  *err is set only on a real failure. */
reel_reduce *reel_reduce_mpi_new(int *argc, char ***argv, reel_err *err);

/* Wrappers (r NULL means the single-process reducer). */
static inline int reel_reduce_rank(const reel_reduce *r) { return r ? r->rank : 0; }
static inline int reel_reduce_size(const reel_reduce *r) { return r ? r->size : 1; }
reel_status reel_reduce_sum_double(reel_reduce *r, double *buf, size_t n, reel_err *err);
reel_status reel_reduce_sum_real(reel_reduce *r, reel_real *buf, size_t n, reel_err *err);
void reel_reduce_free(reel_reduce *r, int failed);

/* Seconds on a monotonic clock, for the timings models/ reports (step
 * times, throughput, the reduction's share); defined in reduce.c. */
double reel__seconds(void);

#endif
