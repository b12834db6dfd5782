/* exp, sigmoid and tanh for the engine's float build, written so that loops
 * calling them vectorize (no branches, no libm calls): glibc's tanhf and
 * expf are scalar and were the largest single cost of an LSTM step.
 * Accuracy against double-precision libm, checked by the test suite: a few
 * ulp over the whole range.  The double build (gradient checks) uses libm.
 *
 * exp: x = k ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), e^r by its
 * Taylor series to r^7 (truncation below 1e-8 relative), times 2^k built in
 * the exponent bits; inputs are clamped to [-87, 88], so results below
 * e^-87 (1.6e-38) are returned as e^-87 rather than as subnormals.
 * tanh: |x| < 0.625 by x + x^3 P(x^2) (degree-4 P, least-squares fit on
 * Chebyshev nodes, made for reel); otherwise 1 - 2 / (e^{2|x|} + 1) with the
 * sign of x.  sigmoid: 1 / (1 + e^-x).  NaN gives NaN. */
#ifndef REEL_FASTMATH_H
#define REEL_FASTMATH_H

/* REEL_CLONES before an elementwise kernel: gcc compiles it three times
 * (AVX-512, AVX2, the portable default) and the loader picks the widest
 * the CPU running it has (an ifunc: decided on that machine, at run time,
 * by its cpuid; valgrind's virtual CPU gets the AVX2 or default one).
 * Results are bitwise the same in every clone: the kernels use only IEEE
 * add, sub, mul, div and compares, and C11 mode does not contract a * b +
 * c into an FMA.  Other compilers (clang's fuzz build) get one portable
 * version. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define REEL_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define REEL_CLONES
#endif

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float reel__fexp(float x)
{
	x = x > 88.0f ? 88.0f : x < -87.0f ? -87.0f : x;
	/* k = round(x / ln2): adding and subtracting 1.5 * 2^23 rounds to nearest
	 * without a call (floorf would stop the loop from vectorizing) */
	float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	float r = x - k * 0.693359375f + k * 2.12194440e-4f;
	float p = 1.0f / 5040;
	p = p * r + 1.0f / 720;
	p = p * r + 1.0f / 120;
	p = p * r + 1.0f / 24;
	p = p * r + 1.0f / 6;
	p = p * r + 0.5f;
	p = p * r + 1.0f;
	p = p * r + 1.0f;
	/* NaN in, NaN out (through p), without converting NaN to int (undefined
	 * behaviour); a select, so the loop still vectorizes */
	k = k == k ? k : 0.0f;
	int32_t bits = ((int32_t)k + 127) << 23;
	float scale;
	memcpy(&scale, &bits, sizeof scale);
	return p * scale;
}

static inline float reel__fsigmoid(float x)
{
	return 1.0f / (1.0f + reel__fexp(-x));
}

static inline float reel__ftanh(float x)
{
	float a = fabsf(x), z = x * x;
	float p = -6.1049588746e-03f;
	p = p * z + 2.1003650769e-02f;
	p = p * z - 5.3852500266e-02f;
	p = p * z + 1.3332782294e-01f;
	p = p * z - 3.3333329101e-01f;
	float small = x + x * z * p;
	float big = 1.0f - 2.0f / (reel__fexp(2.0f * a) + 1.0f);
	return a < 0.625f ? small : copysignf(big, x);
}

#endif
