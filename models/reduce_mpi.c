/* The MPI reducer (reduce.h): MPI_COMM_WORLD, MPI_Allreduce with MPI_SUM.
 *
 * Built into the program only, and only when <mpi.h> is found (the Makefile
 * compiles this file with mpicc and defines REEL_HAVE_MPI); without it
 * reel_reduce_mpi_new returns NULL and the program runs as one process.
 * MPI_Init is called only when a launcher started the process (its
 * environment says so), so a plain `reel train` needs no MPI daemon and
 * behaves exactly as a build without MPI. */
#include "fault.h"
#include "reduce.h"

#include <stdlib.h>

#ifdef REEL_HAVE_MPI
#include <mpi.h>

static reel_status mpi_fail(int rc, const char *what, reel_err *err)
{
	char msg[MPI_MAX_ERROR_STRING];
	int len = 0;
	if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
		len = 0;
	msg[len] = 0;
	return reel_err_set(err, REEL_ERR_IO, "MPI: %s failed: %s", what, len ? msg : "unknown error");
}

static reel_status sum_double(reel_reduce *r, double *buf, size_t n, reel_err *err)
{
	(void)r;
	/* MPI counts are ints: sum in chunks */
	for (size_t i = 0; i < n; i += 1u << 30) {
		int c = (int)(n - i < (1u << 30) ? n - i : (1u << 30));
		int rc = MPI_Allreduce(MPI_IN_PLACE, buf + i, c, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
		if (rc != MPI_SUCCESS)
			return mpi_fail(rc, "MPI_Allreduce", err);
	}
	return REEL_OK;
}

static reel_status sum_real(reel_reduce *r, reel_real *buf, size_t n, reel_err *err)
{
	(void)r;
#ifdef REEL_DOUBLE
	MPI_Datatype ty = MPI_DOUBLE;
#else
	MPI_Datatype ty = MPI_FLOAT;
#endif
	for (size_t i = 0; i < n; i += 1u << 30) {
		int c = (int)(n - i < (1u << 30) ? n - i : (1u << 30));
		int rc = MPI_Allreduce(MPI_IN_PLACE, buf + i, c, ty, MPI_SUM, MPI_COMM_WORLD);
		if (rc != MPI_SUCCESS)
			return mpi_fail(rc, "MPI_Allreduce", err);
	}
	return REEL_OK;
}

static void mpi_free(reel_reduce *r, int failed)
{
	if (!r)
		return;
	if (failed && r->size > 1)
		MPI_Abort(MPI_COMM_WORLD, failed); /* does not return */
	MPI_Finalize();
	free(r);
}

/* Launchers announce themselves in the environment: Open MPI's mpirun,
 * and PMI/PMIx launchers (srun, hydra). */
static int launched(void)
{
	static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"};
	for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
		if (getenv(vars[i]))
			return 1;
	return 0;
}

reel_reduce *reel_reduce_mpi_new(int *argc, char ***argv, reel_err *err)
{
	if (!launched())
		return NULL;
	reel_reduce *r = reel__calloc(1, sizeof *r);
	if (!r) {
		reel_err_set(err, REEL_ERR_NOMEM, "MPI: out of memory");
		return NULL;
	}
	int rc = MPI_Init(argc, argv);
	if (rc != MPI_SUCCESS) {
		mpi_fail(rc, "MPI_Init", err);
		free(r);
		return NULL;
	}
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	MPI_Comm_rank(MPI_COMM_WORLD, &r->rank);
	MPI_Comm_size(MPI_COMM_WORLD, &r->size);
	r->sum_double = sum_double;
	r->sum_real = sum_real;
	r->free = mpi_free;
	return r;
}

#else

reel_reduce *reel_reduce_mpi_new(int *argc, char ***argv, reel_err *err)
{
	(void)argc, (void)argv, (void)err;
	return NULL;
}

#endif
