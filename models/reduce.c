/* The single-process reducer and the wrappers (reduce.h). */
#include "reduce.h"

#include <time.h>

static reel_status single_sum_double(reel_reduce *r, double *buf, size_t n, reel_err *err)
{
	(void)r, (void)buf, (void)n, (void)err;
	return REEL_OK;
}

static reel_status single_sum_real(reel_reduce *r, reel_real *buf, size_t n, reel_err *err)
{
	(void)r, (void)buf, (void)n, (void)err;
	return REEL_OK;
}

static void single_free(reel_reduce *r, int failed)
{
	(void)r, (void)failed;
}

reel_reduce *reel_reduce_single(void)
{
	/* stateless but for its counters, which a one-process run never moves */
	static reel_reduce one = {.rank = 0, .size = 1, .sum_double = single_sum_double, .sum_real = single_sum_real,
	                          .free = single_free};
	return &one;
}

double reel__seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

reel_status reel_reduce_sum_double(reel_reduce *r, double *buf, size_t n, reel_err *err)
{
	if (!r || r->size == 1 || n == 0)
		return REEL_OK;
	double t0 = reel__seconds();
	reel_status st = r->sum_double(r, buf, n, err);
	r->seconds += reel__seconds() - t0;
	r->calls++;
	return st;
}

reel_status reel_reduce_sum_real(reel_reduce *r, reel_real *buf, size_t n, reel_err *err)
{
	if (!r || r->size == 1 || n == 0)
		return REEL_OK;
	double t0 = reel__seconds();
	reel_status st = r->sum_real(r, buf, n, err);
	r->seconds += reel__seconds() - t0;
	r->calls++;
	return st;
}

void reel_reduce_free(reel_reduce *r, int failed)
{
	if (r)
		r->free(r, failed);
}
