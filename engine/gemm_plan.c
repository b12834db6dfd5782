/* The matmul planner: which code multiplies, chosen per product shape.
 *
 * Every product of the engine (and of bench/hand.c) goes through
 * reel__gemm, which asks this file how to run it.  The candidates are
 *   "blis"   BLIS's own choice of kernel set (its bli_gks_query_cntx(),
 *            which honours BLIS_ARCH_TYPE);
 *   "reel"   a plain C product (for the smallest shapes only, where BLIS's
 *            packing and dispatch cost more than the arithmetic);
 *   "skx", "zen3", "zen2", "zen", "haswell"
 *            BLIS's per-architecture kernel sets, each a context built once
 *            with bli_cntx_init_<name> and passed per call to the expert
 *            API (bli_?gemm_ex, bli_?gemv_ex, bli_?ger_ex, bli_?dotxv_ex).
 * A kernel set is a candidate only when the CPU has what its kernels use
 * (checked with the compiler's cpuid builtins: never an AVX-512 kernel on a
 * CPU without AVX-512, nor under valgrind, whose virtual CPU hides it) and
 * when its initialiser is linked: Debian's static libblis.a exports them,
 * the shared library does not.  They are weak references here, so libreel
 * links against either; with the shared library the candidates are "blis"
 * and "reel" (DESIGN.md, "Matrix products").
 *
 * Why per shape: BLIS 0.9 picks one kernel set per process from the CPU's
 * model; on CPUs it does not know it falls back to a slower set (or to the
 * reference kernels), and no single set wins everywhere (AVX-512 kernels
 * are fastest on long products and slowest on products of a few rows).
 *
 * How: the first product of a shape (m, n, k, the operands' layouts, beta
 * zero or not, the thread count) runs every candidate on the caller's A and
 * B into a scratch C, interleaved, a few rounds (dropping candidates more
 * than twice slower than the best after the first), and keeps the fastest
 * in a small open-addressed hash table; later products of that shape look
 * it up.  Choices are never revised during the process.
 *
 * Modes (environment, read once):
 *   REEL_GEMM=<candidate>  every product with that candidate, no measuring
 *                          (an unknown or unsupported name: "blis");
 *   BLIS_ARCH_TYPE set     the user chose BLIS's kernel set: "blis" only;
 *   otherwise              measured per shape.
 * A measured choice depends on timing, so two processes may choose
 * differently and round differently; fixing the choice makes runs
 * bitwise reproducible across processes (the test suite does that).
 *
 * Thread safety: lookups read published table entries without locking;
 * planning and inserting hold a mutex. */
#include "fault.h"
#include "internal.h"

#include <blis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#ifdef REEL_DOUBLE
#define BLI(name) bli_d##name
#else
#define BLI(name) bli_s##name
#endif

/* BLIS's per-architecture context initialisers: in libblis.a, not exported
 * by libblis.so; weak, so a missing one is a null pointer. */
#define REEL_KSETS(X) X(skx) X(zen3) X(zen2) X(zen) X(haswell)
#define REEL_X_WEAK(n) void bli_cntx_init_##n(cntx_t *cntx) __attribute__((weak));
REEL_KSETS(REEL_X_WEAK)
#undef REEL_X_WEAK

typedef struct kset {
	const char *name;
	void (*init)(cntx_t *);
	int (*supported)(void);
} kset;

#if defined(__x86_64__) || defined(__i386__)
static int has_avx512(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
	       __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl");
}
static int has_avx2_fma(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
static int has_avx512(void) { return 0; }
static int has_avx2_fma(void) { return 0; }
#endif

static int ksets_count(void) { return 5; }
static kset ksets_at(int i)
{
	switch (i) {
	case 0: return (kset){"skx", bli_cntx_init_skx, has_avx512};
	case 1: return (kset){"zen3", bli_cntx_init_zen3, has_avx2_fma};
	case 2: return (kset){"zen2", bli_cntx_init_zen2, has_avx2_fma};
	case 3: return (kset){"zen", bli_cntx_init_zen, has_avx2_fma};
	default: return (kset){"haswell", bli_cntx_init_haswell, has_avx2_fma};
	}
}

/* ---- candidates ----------------------------------------------------------- */

#define MAXCAND 8
enum { CAND_BLIS = 0, CAND_REEL = 1 };

static struct {
	int n;
	const char *name[MAXCAND];
	cntx_t *cntx[MAXCAND]; /* NULL for "reel" */
	int mode;              /* REEL__PLAN_* */
	int fixed;             /* the candidate of REEL__PLAN_FIXED */
	const char *why;       /* why the mode (for reports) */
} cands;

static cntx_t kset_cntx[MAXCAND];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void setup(void)
{
	cands.name[CAND_BLIS] = "blis";
	cands.cntx[CAND_BLIS] = (cntx_t *)bli_gks_query_cntx();
	cands.name[CAND_REEL] = "reel";
	cands.cntx[CAND_REEL] = NULL;
	cands.n = 2;
	/* BLIS's own choice is "blis"; the same set again would only be measured twice */
	const char *own = bli_arch_string(bli_arch_query_id());
	for (int i = 0; i < ksets_count() && cands.n < MAXCAND; i++) {
		kset k = ksets_at(i);
		if (!k.init || !k.supported() || !strcmp(own, k.name))
			continue;
		k.init(&kset_cntx[cands.n]);
		cands.name[cands.n] = k.name;
		cands.cntx[cands.n] = &kset_cntx[cands.n];
		cands.n++;
	}
	const char *env = getenv("REEL_GEMM"), *arch = getenv("BLIS_ARCH_TYPE");
	cands.mode = REEL__PLAN_MEASURE;
	cands.why = "measured per shape";
	if (env && *env) {
		cands.mode = REEL__PLAN_FIXED;
		cands.fixed = CAND_BLIS;
		cands.why = "REEL_GEMM names no available candidate: blis";
		for (int i = 0; i < cands.n; i++)
			if (!strcmp(env, cands.name[i])) {
				cands.fixed = i;
				cands.why = "fixed by REEL_GEMM";
			}
	} else if (arch && *arch) {
		cands.mode = REEL__PLAN_FIXED;
		cands.fixed = CAND_BLIS;
		cands.why = "BLIS_ARCH_TYPE is set: BLIS's choice";
	}
}

static void init_once(void) { pthread_once(&once, setup); }

int reel__gemm_candidates(void)
{
	init_once();
	return cands.n;
}

const char *reel__gemm_candidate_name(int i)
{
	init_once();
	return i >= 0 && i < cands.n ? cands.name[i] : "?";
}

const char *reel__gemm_plan_why(void)
{
	init_once();
	return cands.why;
}

int reel__gemm_plan_mode(void)
{
	init_once();
	return cands.mode;
}

void reel__gemm_plan_set_mode(int mode, int fixed)
{
	init_once();
	pthread_mutex_lock(&lock);
	cands.mode = mode;
	cands.fixed = fixed >= 0 && fixed < cands.n ? fixed : CAND_BLIS;
	pthread_mutex_unlock(&lock);
}

int reel__gemm_plan_fixed(void)
{
	init_once();
	return cands.fixed;
}

/* ---- the plain C product ---------------------------------------------------- */

/* C = alpha A B + beta C, any strides; beta == 0 ignores C's old values (a
 * NaN there included), as BLIS does.  Loop orders keep the innermost loop
 * on unit strides where the layout allows, so it vectorizes. */
static void c_product(int m, int n, int k, reel_real alpha, const reel_real *a, long rsa, long csa,
                      const reel_real *b, long rsb, long csb, reel_real beta, reel_real *c, long rsc,
                      long csc)
{
	if (csb == 1 && csc == 1) {
		/* rows of C as sums of rows of B */
		for (int i = 0; i < m; i++) {
			reel_real *restrict ci = c + i * rsc;
			if (beta == 0)
				for (int j = 0; j < n; j++) ci[j] = 0;
			else if (beta != 1)
				for (int j = 0; j < n; j++) ci[j] *= beta;
			for (int p = 0; p < k; p++) {
				reel_real s = alpha * a[i * rsa + p * csa];
				const reel_real *restrict bp = b + p * rsb;
				for (int j = 0; j < n; j++)
					ci[j] += s * bp[j];
			}
		}
	} else if (csa == 1 && rsb == 1) {
		/* dot products of rows of A with columns of B, both contiguous */
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++) {
				const reel_real *restrict ai = a + i * rsa, *restrict bj = b + j * csb;
				reel_real acc = 0;
				for (int p = 0; p < k; p++)
					acc += ai[p] * bj[p];
				reel_real *cij = c + i * rsc + j * csc;
				*cij = alpha * acc + (beta == 0 ? 0 : beta * *cij);
			}
	} else {
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++) {
				reel_real acc = 0;
				for (int p = 0; p < k; p++)
					acc += a[i * rsa + p * csa] * b[p * rsb + j * csb];
				reel_real *cij = c + i * rsc + j * csc;
				*cij = alpha * acc + (beta == 0 ? 0 : beta * *cij);
			}
	}
}

/* ---- one candidate ------------------------------------------------------------- */

static void run_with(int cand, int m, int n, int k, reel_real alpha, const reel_real *a, long rsa, long csa,
                     const reel_real *b, long rsb, long csb, reel_real beta, reel_real *c, long rsc, long csc)
{
	cntx_t *cx = cands.cntx[cand];
	if (!cx) {
		c_product(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
		return;
	}
	reel_real *A = (reel_real *)a, *B = (reel_real *)b;
	if (m == 1 && n == 1) {
		BLI(dotxv_ex)(BLIS_NO_CONJUGATE, BLIS_NO_CONJUGATE, k, &alpha, A, csa, B, rsb, &beta, c, cx, NULL);
	} else if (m == 1) {
		/* c^T = a^T B  ->  c = B^T a, B^T being (n, k) with swapped strides;
		 * BLIS's gemm with m = 1 runs far below gemv's speed. */
		BLI(gemv_ex)(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, n, k, &alpha, B, csb, rsb, A, csa, &beta, c, csc,
		             cx, NULL);
	} else if (n == 1) {
		BLI(gemv_ex)(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, m, k, &alpha, A, rsa, csa, B, rsb, &beta, c, rsc,
		             cx, NULL);
	} else if (k == 1) {
		if (beta != 1)
			for (int i = 0; i < m; i++)
				for (int j = 0; j < n; j++)
					c[i * rsc + j * csc] = beta == 0 ? 0 : beta * c[i * rsc + j * csc];
		BLI(ger_ex)(BLIS_NO_CONJUGATE, BLIS_NO_CONJUGATE, m, n, &alpha, A, rsa, B, csb, c, rsc, csc, cx, NULL);
	} else {
		BLI(gemm_ex)(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha, A, rsa, csa, B, rsb, csb, &beta,
		             c, rsc, csc, cx, NULL);
	}
}

void reel__gemm_with(int cand, int m, int n, int k, reel_real alpha, const reel_real *a, long rsa, long csa,
                     const reel_real *b, long rsb, long csb, reel_real beta, reel_real *c, long rsc, long csc)
{
	init_once();
	if (cand < 0 || cand >= cands.n)
		cand = CAND_BLIS;
	run_with(cand, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
}

/* ---- the plan cache ---------------------------------------------------------------- */

/* A program meets a few dozen shapes; a benchmark grid or training on
 * batches of varying length can meet hundreds (the input projection is
 * (T*B, F)).  Past 3/4 of the slots a new shape is not measured but runs
 * with the candidate most shapes chose at its thread count (not BLIS's
 * own choice, which on a CPU BLIS does not know is its slow reference
 * code: that silently made a long grid's later cases 2x slower). */
#define PLAN_SLOTS 2048 /* a power of two */
#define WIN_THREADS 64  /* thread counts tallied apart (more share the last row) */

typedef struct slot {
	atomic_int ready;
	reel__gemm_plan e;
} slot;

static slot table[PLAN_SLOTS];
static int nplans;
static int wins[WIN_THREADS + 1][REEL__GEMM_MAXCAND]; /* shapes each candidate won, per thread count */

static int *wins_of(int threads)
{
	return wins[threads < 1 ? 1 : threads > WIN_THREADS ? WIN_THREADS : threads];
}

/* The candidate most planned shapes chose at this thread count (BLIS's own
 * when none was planned yet); under the lock. */
static int majority(int threads)
{
	const int *w = wins_of(threads);
	int best = CAND_BLIS;
	for (int i = 0; i < cands.n; i++)
		if (w[i] > w[best])
			best = i;
	return best;
}

static int same_key(const reel__gemm_plan *e, const int *key)
{
	return e->m == key[0] && e->n == key[1] && e->k == key[2] && e->layout == key[3] && e->threads == key[4];
}

static unsigned hash_key(const int *key)
{
	unsigned h = 2166136261u;
	for (int i = 0; i < 5; i++)
		h = (h ^ (unsigned)key[i]) * 16777619u;
	return h;
}

/* The products of the C candidate: small ones only, where it can win
 * (a multiply-add count at most 64^3, about 0.1 ms even at 3 GFLOP/s). */
static int c_eligible(int m, int n, int k)
{
	return (double)m * n * k <= 64.0 * 64 * 64;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Measure every candidate on this shape (caller's A and B, a scratch C
 * laid out like the caller's) and fill e.  Returns the winner. */
static int measure(reel__gemm_plan *e, int m, int n, int k, const reel_real *a, long rsa, long csa,
                   const reel_real *b, long rsb, long csb, reel_real beta, long rsc, long csc)
{
	long ldc = csc == 1 ? rsc : csc;
	size_t len = csc == 1 ? (size_t)(m - 1) * ldc + n : (size_t)(n - 1) * ldc + m;
	/* plain calloc, outside the fault hooks: without the scratch the shape
	 * simply keeps BLIS's choice, which is no failure to report.  16
	 * elements of slack: BLIS's AVX2 small-matrix (sup) kernels read a
	 * float just past the end of an exact-size C (valgrind's report, make
	 * valgrind); the tape's arena has room after every tensor, this
	 * block now too */
	reel_real *c = calloc(len + 16, sizeof *c);
	if (!c)
		return CAND_BLIS;
	double flops = 2.0 * m * n * k;
	/* calls per sample: about 20 microseconds of work at 10 GFLOP/s */
	int calls = flops >= 2e5 ? 1 : (int)(2e5 / (flops + 1)) + 1;
	int rounds = flops > 1e9 ? 3 : 5;
	int live[MAXCAND];
	for (int i = 0; i < cands.n; i++) {
		live[i] = i != CAND_REEL || c_eligible(m, n, k);
		e->gflops[i] = 0;
		/* warm-up: first use of a context packs into new buffers */
		if (live[i])
			run_with(i, m, n, k, 1, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
	}
	double best[MAXCAND];
	for (int i = 0; i < cands.n; i++)
		best[i] = INFINITY;
	for (int r = 0; r < rounds; r++) {
		double fastest = INFINITY;
		for (int i = 0; i < cands.n; i++) {
			if (!live[i])
				continue;
			double t0 = now();
			for (int q = 0; q < calls; q++)
				run_with(i, m, n, k, 1, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
			double dt = (now() - t0) / calls;
			if (dt < best[i])
				best[i] = dt;
			if (best[i] < fastest)
				fastest = best[i];
		}
		if (r == 0)
			for (int i = 0; i < cands.n; i++)
				if (live[i] && best[i] > 2 * fastest)
					live[i] = 0;
	}
	free(c);
	int win = CAND_BLIS;
	for (int i = 0; i < cands.n; i++) {
		e->gflops[i] = isfinite(best[i]) && best[i] > 0 ? flops / best[i] / 1e9 : 0;
		if (isfinite(best[i]) && best[i] < best[win])
			win = i;
	}
	return win;
}

/* The candidate for this product: looked up, or measured once. */
/* The slot holding key, or else the first free slot on its probe path
 * (free: ready is 0).  The table is never full (at most 3/4 is filled). */
static slot *probe(const int *key)
{
	unsigned h = hash_key(key);
	for (int i = 0; i < PLAN_SLOTS; i++) {
		slot *s = &table[(h + (unsigned)i) & (PLAN_SLOTS - 1)];
		if (!atomic_load_explicit(&s->ready, memory_order_acquire) || same_key(&s->e, key))
			return s;
	}
	return NULL;
}

static int table_full(void)
{
	return nplans >= PLAN_SLOTS * 3 / 4;
}

/* Fill a free slot (under the lock). */
static void insert(slot *s, const reel__gemm_plan *e)
{
	s->e = *e;
	atomic_store_explicit(&s->ready, 1, memory_order_release);
	nplans++;
	wins_of(e->threads)[e->choice]++;
}

/* The candidate for this product: looked up, or measured once. */
static int choose(int m, int n, int k, const reel_real *a, long rsa, long csa, const reel_real *b, long rsb,
                  long csb, reel_real beta, long rsc, long csc)
{
	int threads = (int)bli_thread_get_num_threads();
	int layout = (csa != 1) | (csb != 1) << 1 | (csc != 1) << 2 | (beta != 0) << 3;
	int key[5] = {m, n, k, layout, threads};
	slot *s = probe(key);
	if (s && atomic_load_explicit(&s->ready, memory_order_acquire)) {
		s->e.uses++; /* a statistic: a lost increment between threads does no harm */
		return s->e.choice;
	}
	pthread_mutex_lock(&lock);
	int choice = CAND_BLIS;
	s = probe(key); /* again, under the lock: another thread may have planned it meanwhile */
	if (s && atomic_load_explicit(&s->ready, memory_order_acquire)) {
		choice = s->e.choice;
	} else if (!s || table_full()) {
		choice = majority(threads); /* full: what most shapes chose */
	} else {
		reel__gemm_plan e = {.m = m, .n = n, .k = k, .layout = layout, .threads = threads, .uses = 1};
		e.choice = measure(&e, m, n, k, a, rsa, csa, b, rsb, csb, beta, rsc, csc);
		insert(s, &e);
		choice = e.choice;
	}
	pthread_mutex_unlock(&lock);
	return choice;
}

void reel__gemm_planned(int m, int n, int k, reel_real alpha, const reel_real *a, long rsa, long csa,
                        const reel_real *b, long rsb, long csb, reel_real beta, reel_real *c, long rsc, long csc)
{
	init_once();
	if (m <= 0 || n <= 0)
		return;
	if (k <= 0) { /* C = beta C */
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++)
				c[i * rsc + j * csc] = beta == 0 ? 0 : beta * c[i * rsc + j * csc];
		return;
	}
	int cand;
	if (cands.mode == REEL__PLAN_FIXED)
		cand = cands.fixed;
	else
		cand = choose(m, n, k, a, rsa, csa, b, rsb, csb, beta, rsc, csc);
	run_with(cand, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
}

int reel__gemm_plan_add(int m, int n, int k, int layout, int threads, const char *name)
{
	init_once();
	int cand = -1;
	for (int i = 0; i < cands.n; i++)
		if (!strcmp(name, cands.name[i]))
			cand = i;
	if (cand < 0 || m <= 0 || n <= 0 || k <= 0 || layout < 0 || layout > 15 || threads == 0) /* BLIS says -1: unset */
		return 0;
	int key[5] = {m, n, k, layout, threads};
	int added = 0;
	pthread_mutex_lock(&lock);
	slot *s = probe(key);
	if (s && atomic_load_explicit(&s->ready, memory_order_acquire)) {
		s->e.choice = cand; /* planned here already: the recorded choice wins */
		added = 1;
	} else if (s && !table_full()) {
		reel__gemm_plan e = {.m = m, .n = n, .k = k, .layout = layout, .threads = threads, .choice = cand};
		insert(s, &e);
		added = 1;
	}
	pthread_mutex_unlock(&lock);
	return added;
}

int reel__gemm_plan_lookup(int m, int n, int k, int layout, int threads)
{
	init_once();
	int key[5] = {m, n, k, layout, threads};
	pthread_mutex_lock(&lock);
	slot *s = probe(key);
	int choice = s && atomic_load_explicit(&s->ready, memory_order_acquire) ? s->e.choice
	             : !s || table_full()                                       ? majority(threads)
	                                                                        : -1;
	pthread_mutex_unlock(&lock);
	return choice;
}

int reel__gemm_plan_count(void)
{
	return nplans;
}

int reel__gemm_plan_list(reel__gemm_plan *out, int max)
{
	int n = 0;
	for (int i = 0; i < PLAN_SLOTS && n < max; i++)
		if (atomic_load_explicit(&table[i].ready, memory_order_acquire))
			out[n++] = table[i].e;
	return n;
}

void reel__gemm_plan_clear(void)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < PLAN_SLOTS; i++)
		atomic_store_explicit(&table[i].ready, 0, memory_order_release);
	nplans = 0;
	memset(wins, 0, sizeof wins);
	pthread_mutex_unlock(&lock);
}

char *reel_gemm_plan_save(void)
{
	init_once();
	reel__gemm_plan *list = reel__malloc((size_t)PLAN_SLOTS * sizeof *list);
	char *text = list ? reel__malloc((size_t)PLAN_SLOTS * 80 + 1) : NULL;
	if (!text) {
		free(list);
		return NULL;
	}
	int n = reel__gemm_plan_list(list, PLAN_SLOTS);
	size_t len = 0;
	text[0] = 0;
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, 80, "%d %d %d %d %d %s\n", list[i].m, list[i].n, list[i].k, list[i].layout,
		                        list[i].threads, reel__gemm_candidate_name(list[i].choice));
	free(list);
	return text;
}

int reel_gemm_plan_load(const char *text)
{
	int added = 0;
	while (text && *text) {
		int m, n, k, layout, threads, used = 0;
		char name[32];
		if (sscanf(text, "%d %d %d %d %d %31s%n", &m, &n, &k, &layout, &threads, name, &used) == 6)
			added += reel__gemm_plan_add(m, n, k, layout, threads, name);
		const char *nl = strchr(text, '\n');
		if (!nl)
			break;
		text = nl + 1;
	}
	return added;
}
