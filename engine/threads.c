/* The engine's thread count: BLIS's global setting, the only threaded code
 * the engine calls (every product goes through reel__gemm).  The elementwise
 * and reduction loops are single-threaded, so nothing else needs telling. */
#include "internal.h"

#include <blis.h>

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
