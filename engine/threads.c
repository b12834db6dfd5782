/* The engine's thread count: BLIS's global setting, used by every product
 * (reel__gemm) and by the elementwise loops that split their rows between
 * threads (reel__par_rows).  The row split uses OpenMP, the thread pool
 * Debian's BLIS runs its products on, so no second pool competes for the
 * cores; this file is compiled with -fopenmp where the compiler has it
 * (gcc), and runs the rows on one thread otherwise. */
#include "internal.h"

#include <blis.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void reel__par_rows(size_t work, int n, void (*fn)(void *ctx, int r0, int r1), void *ctx)
{
	/* all the threads from 8192 elements on (a parallel region costs about
	 * a microsecond), at most one per row */
	int nt = work >= 8192 ? reel_get_threads() : 1;
	if (nt > n)
		nt = n;
#ifdef _OPENMP
	if (nt > 1) {
#pragma omp parallel num_threads(nt)
		{
			int k = omp_get_thread_num(), m = omp_get_num_threads();
			int r0 = (int)((long)n * k / m), r1 = (int)((long)n * (k + 1) / m);
			if (r1 > r0)
				fn(ctx, r0, r1);
		}
		return;
	}
#endif
	fn(ctx, 0, n);
}

reel_status reel_set_threads(int n)
{
	if (n < 1 || n > REEL_MAX_THREADS)
		return REEL_ERR_ARG;
	bli_thread_set_num_threads((dim_t)n);
	return REEL_OK;
}

int reel_get_threads(void)
{
	dim_t n = bli_thread_get_num_threads();
	return n < 1 ? 1 : (int)n;
}
