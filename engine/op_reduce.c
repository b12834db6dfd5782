/* Reductions, the softmax family, layer normalization and the losses.  Sums accumulate in double
 * so that a float build loses no more than its own rounding. */
#include "internal.h"

#include <string.h>

/* ---- sum / mean of everything -------------------------------------------- */

static reel_tensor *reduce_all(reel_tape *t, int op, reel_tensor *x)
{
	if (reel__skip(t, reel_op_name(op), 1, x))
		return NULL;
	int need = reel__needs_grad(t, x, NULL, NULL);
	reel_tensor *y = reel__out(t, 0, NULL, need);
	if (!y)
		return NULL;
	double acc = 0;
	for (size_t i = 0; i < x->size; i++)
		acc += x->data[i];
	y->data[0] = (reel_real)(op == REEL_OP_MEAN ? acc / (double)x->size : acc);
	if (need && !reel__record(t, op, y, x, NULL, NULL))
		return NULL;
	return y;
}

static void reduce_all_backward(reel_node *n)
{
	reel_real *dx = reel__g(n->in[0]);
	if (!dx)
		return;
	reel_real g = reel_tensor_grad(n->out)[0];
	if (n->op == REEL_OP_MEAN)
		g /= (reel_real)n->in[0]->size;
	for (size_t i = 0; i < n->in[0]->size; i++)
		dx[i] += g;
}

reel_tensor *reel_sum(reel_tape *t, reel_tensor *x) { return reduce_all(t, REEL_OP_SUM, x); }
reel_tensor *reel_mean(reel_tape *t, reel_tensor *x) { return reduce_all(t, REEL_OP_MEAN, x); }
void reel__bwd_SUM(reel_node *n) { reduce_all_backward(n); }
void reel__bwd_MEAN(reel_node *n) { reduce_all_backward(n); }

/* ---- sum / mean over one axis: x seen as (outer, dim, inner) -> (outer, inner) --- */

/* x seen as (outer, dim, inner) around a valid axis ax. */
static void axis_split(const reel_tensor *x, int ax, size_t *outer, size_t *dim, size_t *inner)
{
	*outer = *inner = 1;
	*dim = (size_t)x->shape[ax];
	for (int i = 0; i < ax; i++)
		*outer *= (size_t)x->shape[i];
	for (int i = ax + 1; i < x->ndim; i++)
		*inner *= (size_t)x->shape[i];
}

/* x seen as (outer, dim, inner) around axis (negative counts from the end);
 * shape/nd: x's shape without the axis.  0 (tape error) for a bad axis. */
static int axis_dims(reel_tape *t, const char *op, const reel_tensor *x, int axis, int *ax, int *shape, int *nd,
                     size_t *outer, size_t *dim, size_t *inner)
{
	*ax = axis < 0 ? axis + x->ndim : axis;
	if (*ax < 0 || *ax >= x->ndim) {
		char s[64];
		reel_tape_fail(t, REEL_ERR_ARG, "reel_%s: axis %d out of range for %s", op, axis, reel_shape_str(x, s, sizeof s));
		return 0;
	}
	*nd = 0;
	for (int i = 0; i < x->ndim; i++)
		if (i != *ax)
			shape[(*nd)++] = x->shape[i];
	axis_split(x, *ax, outer, dim, inner);
	return 1;
}

static reel_tensor *reduce_axis(reel_tape *t, int op, reel_tensor *x, int axis)
{
	if (reel__skip(t, reel_op_name(op), 1, x))
		return NULL;
	int ax, shape[REEL_MAX_DIMS], nd;
	size_t outer, dim, inner;
	if (!axis_dims(t, reel_op_name(op), x, axis, &ax, shape, &nd, &outer, &dim, &inner))
		return NULL;
	int need = reel__needs_grad(t, x, NULL, NULL);
	reel_tensor *y = reel__out(t, nd, shape, need);
	if (!y)
		return NULL;
	double scale = op == REEL_OP_MEAN_AXIS ? 1.0 / (double)dim : 1.0;
	for (size_t o = 0; o < outer; o++)
		for (size_t j = 0; j < inner; j++) {
			double acc = 0;
			for (size_t d = 0; d < dim; d++)
				acc += x->data[(o * dim + d) * inner + j];
			y->data[o * inner + j] = (reel_real)(acc * scale);
		}
	if (need) {
		reel_node *n = reel__record(t, op, y, x, NULL, NULL);
		if (!n)
			return NULL;
		n->iarg[0] = ax;
	}
	return y;
}

static void reduce_axis_backward(reel_node *n)
{
	reel_tensor *x = n->in[0];
	reel_real *dx = reel__g(x);
	if (!dx)
		return;
	size_t outer, dim, inner;
	axis_split(x, n->iarg[0], &outer, &dim, &inner);
	reel_real scale = n->op == REEL_OP_MEAN_AXIS ? (reel_real)1 / (reel_real)dim : 1;
	const reel_real *dy = reel_tensor_grad(n->out);
	for (size_t o = 0; o < outer; o++)
		for (size_t d = 0; d < dim; d++)
			for (size_t j = 0; j < inner; j++)
				dx[(o * dim + d) * inner + j] += scale * dy[o * inner + j];
}

reel_tensor *reel_sum_axis(reel_tape *t, reel_tensor *x, int axis) { return reduce_axis(t, REEL_OP_SUM_AXIS, x, axis); }
reel_tensor *reel_mean_axis(reel_tape *t, reel_tensor *x, int axis) { return reduce_axis(t, REEL_OP_MEAN_AXIS, x, axis); }
void reel__bwd_SUM_AXIS(reel_node *n) { reduce_axis_backward(n); }
void reel__bwd_MEAN_AXIS(reel_node *n) { reduce_axis_backward(n); }

/* ---- max over one axis: x seen as (outer, dim, inner) -> (outer, inner) ----------- */

reel_tensor *reel_max_axis(reel_tape *t, reel_tensor *x, int axis)
{
	if (reel__skip(t, "max_axis", 1, x))
		return NULL;
	int ax, shape[REEL_MAX_DIMS], nd;
	size_t outer, dim, inner;
	if (!axis_dims(t, "max_axis", x, axis, &ax, shape, &nd, &outer, &dim, &inner))
		return NULL;
	int need = reel__needs_grad(t, x, NULL, NULL);
	reel_tensor *y = reel__out(t, nd, shape, need);
	int32_t *pos = need ? reel_tape_alloc(t, outer * inner * sizeof *pos) : NULL;
	if (!y || (need && !pos))
		return NULL;
	for (size_t o = 0; o < outer; o++)
		for (size_t j = 0; j < inner; j++) {
			const reel_real *v = x->data + o * dim * inner + j;
			size_t best = 0;
			for (size_t d = 1; d < dim; d++)
				if (v[d * inner] > v[best * inner])
					best = d;
			y->data[o * inner + j] = v[best * inner];
			if (pos)
				pos[o * inner + j] = (int32_t)best;
		}
	if (need) {
		reel_node *n = reel__record(t, REEL_OP_MAX_AXIS, y, x, NULL, NULL);
		if (!n)
			return NULL;
		n->iarg[0] = ax;
		n->saved = pos;
	}
	return y;
}

void reel__bwd_MAX_AXIS(reel_node *n)
{
	reel_tensor *x = n->in[0];
	reel_real *dx = reel__g(x);
	if (!dx)
		return;
	size_t outer, dim, inner;
	axis_split(x, n->iarg[0], &outer, &dim, &inner);
	const int32_t *pos = n->saved;
	const reel_real *dy = reel_tensor_grad(n->out);
	for (size_t o = 0; o < outer; o++)
		for (size_t j = 0; j < inner; j++)
			dx[(o * dim + (size_t)pos[o * inner + j]) * inner + j] += dy[o * inner + j];
}

/* ---- softmax / log-softmax over the last axis ------------------------------------ */

/* y = softmax(x) (want_log = 0) or log_softmax(x) (want_log = 1) of one row of n. */
static void softmax_row(const reel_real *x, reel_real *y, int n, int want_log)
{
	reel_real mx = x[0];
	for (int j = 1; j < n; j++)
		if (x[j] > mx)
			mx = x[j];
	double s = 0;
	for (int j = 0; j < n; j++)
		s += exp((double)(x[j] - mx));
	if (want_log) {
		double lse = (double)mx + log(s);
		for (int j = 0; j < n; j++)
			y[j] = (reel_real)((double)x[j] - lse);
	} else {
		for (int j = 0; j < n; j++)
			y[j] = (reel_real)(exp((double)(x[j] - mx)) / s);
	}
}

static reel_tensor *softmax_op(reel_tape *t, int op, reel_tensor *x)
{
	if (reel__skip(t, reel_op_name(op), 1, x))
		return NULL;
	if (x->ndim < 1)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_%s: needs at least 1 dim, got a scalar",
		                      reel_op_name(op));
	int need = reel__needs_grad(t, x, NULL, NULL);
	reel_tensor *y = reel__out(t, x->ndim, x->shape, need);
	if (!y)
		return NULL;
	int n = reel_tensor_cols(x), rows = reel_tensor_rows(x);
	for (int r = 0; r < rows; r++)
		softmax_row(x->data + (size_t)r * n, y->data + (size_t)r * n, n, op == REEL_OP_LOG_SOFTMAX);
	if (need && !reel__record(t, op, y, x, NULL, NULL))
		return NULL;
	return y;
}

reel_tensor *reel_softmax(reel_tape *t, reel_tensor *x) { return softmax_op(t, REEL_OP_SOFTMAX, x); }
reel_tensor *reel_log_softmax(reel_tape *t, reel_tensor *x) { return softmax_op(t, REEL_OP_LOG_SOFTMAX, x); }

/* softmax:      dx = y * (dy - sum(dy * y))
 * log_softmax:  dx = dy - exp(y) * sum(dy) */
static void softmax_backward(reel_node *nd)
{
	reel_real *dx = reel__g(nd->in[0]);
	if (!dx)
		return;
	const reel_real *Y = nd->out->data, *dY = reel_tensor_grad(nd->out);
	int n = reel_tensor_cols(nd->out), rows = reel_tensor_rows(nd->out);
	int is_log = nd->op == REEL_OP_LOG_SOFTMAX;
	for (int r = 0; r < rows; r++) {
		const reel_real *y = Y + (size_t)r * n, *dy = dY + (size_t)r * n;
		reel_real *d = dx + (size_t)r * n;
		double s = 0;
		for (int j = 0; j < n; j++)
			s += is_log ? dy[j] : dy[j] * y[j];
		for (int j = 0; j < n; j++)
			d[j] += is_log ? dy[j] - REEL_M(exp)(y[j]) * (reel_real)s : y[j] * (dy[j] - (reel_real)s);
	}
}

void reel__bwd_SOFTMAX(reel_node *n) { softmax_backward(n); }
void reel__bwd_LOG_SOFTMAX(reel_node *n) { softmax_backward(n); }

/* ---- layer normalization over the last axis --------------------------------------- */

/* Row sums in double with eight independent partial sums: without
 * -ffast-math the compiler may not reorder a single accumulator, whose
 * add-latency chain then bounds the loop; eight lanes vectorize.  The
 * order is fixed, so results are deterministic. */
enum { LANES = 8 };

static inline double lanes_total(const double *a)
{
	return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

static double row_sum(const reel_real *x, int n)
{
	double a[LANES] = {0}, s = 0;
	int j = 0;
	for (; j + LANES <= n; j += LANES)
		for (int k = 0; k < LANES; k++)
			a[k] += x[j + k];
	for (; j < n; j++)
		s += x[j];
	return s + lanes_total(a);
}

/* sum_j (x_j - mu)^2 */
static double row_sumsq_centered(const reel_real *x, int n, double mu)
{
	double a[LANES] = {0}, s = 0;
	int j = 0;
	for (; j + LANES <= n; j += LANES)
		for (int k = 0; k < LANES; k++) {
			double d = x[j + k] - mu;
			a[k] += d * d;
		}
	for (; j < n; j++) {
		double d = x[j] - mu;
		s += d * d;
	}
	return s + lanes_total(a);
}

/* sum_j dy_j G_j (G NULL: 1) */
static double row_dot(const reel_real *dy, const reel_real *G, int n)
{
	if (!G)
		return row_sum(dy, n);
	double a[LANES] = {0}, s = 0;
	int j = 0;
	for (; j + LANES <= n; j += LANES)
		for (int k = 0; k < LANES; k++)
			a[k] += (double)dy[j + k] * G[j + k];
	for (; j < n; j++)
		s += (double)dy[j] * G[j];
	return s + lanes_total(a);
}

/* sum_j dy_j G_j (x_j - mu) (G NULL: 1) */
static double row_dot_centered(const reel_real *dy, const reel_real *G, const reel_real *x, double mu, int n)
{
	double a[LANES] = {0}, s = 0;
	int j = 0;
	if (G)
		for (; j + LANES <= n; j += LANES)
			for (int k = 0; k < LANES; k++)
				a[k] += (double)dy[j + k] * G[j + k] * (x[j + k] - mu);
	else
		for (; j + LANES <= n; j += LANES)
			for (int k = 0; k < LANES; k++)
				a[k] += dy[j + k] * (x[j + k] - mu);
	for (; j < n; j++)
		s += (G ? (double)dy[j] * G[j] : dy[j]) * (x[j] - mu);
	return s + lanes_total(a);
}

struct ln_saved {
	reel_real *mean, *rstd; /* (rows) */
};

static int is_vec_of(const reel_tensor *v, int n)
{
	return !v || (v->size == (size_t)n && reel_tensor_cols(v) == n);
}

reel_tensor *reel_layer_norm(reel_tape *t, reel_tensor *x, reel_tensor *gamma, reel_tensor *beta,
                             reel_real eps)
{
	if (reel__skip(t, "layer_norm", 1, x))
		return NULL;
	char sx[64], sb[64];
	if (x->ndim < 1)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_layer_norm: needs at least 1 dim, got a scalar");
	int N = reel_tensor_cols(x), R = reel_tensor_rows(x);
	if (!is_vec_of(gamma, N) || !is_vec_of(beta, N)) {
		const reel_tensor *bad = is_vec_of(gamma, N) ? beta : gamma;
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_layer_norm: %s is %s, expected (%d) to match the last dim of x (%s)",
		                      bad == gamma ? "gamma" : "beta", reel_shape_str(bad, sb, sizeof sb), N,
		                      reel_shape_str(x, sx, sizeof sx));
	}
	if (!(eps >= 0))
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_layer_norm: eps must be >= 0, got %g", (double)eps);
	int need = reel__needs_grad(t, x, gamma, beta);
	reel_tensor *y = reel__out(t, x->ndim, x->shape, need);
	struct ln_saved *saved = need ? reel__alloc_small(t, sizeof *saved) : NULL;
	reel_real *mean = need ? reel_tape_alloc(t, (size_t)R * sizeof *mean) : NULL;
	reel_real *rstd = need ? reel_tape_alloc(t, (size_t)R * sizeof *rstd) : NULL;
	if (!y || (need && (!saved || !mean || !rstd)))
		return NULL;
	const reel_real *G = gamma ? gamma->data : NULL, *B = beta ? beta->data : NULL;
	for (int r = 0; r < R; r++) {
		const reel_real *xr = x->data + (size_t)r * N;
		reel_real *yr = y->data + (size_t)r * N;
		double mu = row_sum(xr, N) / N;
		double rs = 1 / sqrt(row_sumsq_centered(xr, N, mu) / N + (double)eps);
		reel_real m = (reel_real)mu, k = (reel_real)rs;
		if (G && B)
			for (int j = 0; j < N; j++) yr[j] = (xr[j] - m) * k * G[j] + B[j];
		else if (G)
			for (int j = 0; j < N; j++) yr[j] = (xr[j] - m) * k * G[j];
		else if (B)
			for (int j = 0; j < N; j++) yr[j] = (xr[j] - m) * k + B[j];
		else
			for (int j = 0; j < N; j++) yr[j] = (xr[j] - m) * k;
		if (need) {
			mean[r] = m;
			rstd[r] = k;
		}
	}
	if (need) {
		reel_node *n = reel__record(t, REEL_OP_LAYER_NORM, y, x, gamma, beta);
		if (!n)
			return NULL;
		*saved = (struct ln_saved){.mean = mean, .rstd = rstd};
		n->saved = saved;
	}
	return y;
}

/* Per row, xh = (x - mu) r, g = dy * gamma:
 *   dx += r (g - mean(g) - xh mean(g xh)),  dgamma += dy xh,  dbeta += dy. */
void reel__bwd_LAYER_NORM(reel_node *n)
{
	reel_tensor *x = n->in[0], *gamma = n->in[1], *beta = n->in[2];
	reel_real *dx = reel__g(x);
	reel_real *dgamma = gamma ? reel__g(gamma) : NULL, *dbeta = beta ? reel__g(beta) : NULL;
	const struct ln_saved *sv = n->saved;
	const reel_real *dY = reel_tensor_grad(n->out), *G = gamma ? gamma->data : NULL;
	int N = reel_tensor_cols(x), R = reel_tensor_rows(x);
	for (int r = 0; r < R; r++) {
		const reel_real *xr = x->data + (size_t)r * N, *dy = dY + (size_t)r * N;
		reel_real m = sv->mean[r], k = sv->rstd[r];
		if (dgamma)
			for (int j = 0; j < N; j++) dgamma[j] += dy[j] * (xr[j] - m) * k;
		if (dbeta)
			for (int j = 0; j < N; j++) dbeta[j] += dy[j];
		if (!dx)
			continue;
		double sg = row_dot(dy, G, N), sgx = row_dot_centered(dy, G, xr, m, N) * k;
		reel_real mg = (reel_real)(sg / N), mgx = (reel_real)(sgx / N);
		reel_real *d = dx + (size_t)r * N;
		if (G)
			for (int j = 0; j < N; j++) d[j] += k * (dy[j] * G[j] - mg - (xr[j] - m) * k * mgx);
		else
			for (int j = 0; j < N; j++) d[j] += k * (dy[j] - mg - (xr[j] - m) * k * mgx);
	}
}

/* ---- cross-entropy from logits ------------------------------------------------------ */

struct ce_saved {
	reel_real *prob;   /* (N, C) softmax of the logits */
	int32_t *target;   /* (N) */
	reel_real *weight; /* (N) w_i / sum w, 0 for rows that do not count */
};

reel_tensor *reel_cross_entropy(reel_tape *t, reel_tensor *logits, const int32_t *targets,
                                reel_tensor *mask, int32_t ignore_index)
{
	if (reel__skip(t, "cross_entropy", 1, logits))
		return NULL;
	char s[64], sm[64];
	if (logits->ndim < 1)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_cross_entropy: logits must have a class axis, got a scalar");
	if (!targets)
		return reel_tape_fail(t, REEL_ERR_ARG, "reel_cross_entropy: targets are NULL");
	int N = reel_tensor_rows(logits), C = reel_tensor_cols(logits);
	if (mask && mask->size != (size_t)N)
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_cross_entropy: mask is %s, expected %d elements (one per row of %s)",
		                      reel_shape_str(mask, sm, sizeof sm), N, reel_shape_str(logits, s, sizeof s));
	for (int i = 0; i < N; i++)
		if (targets[i] != ignore_index && (targets[i] < 0 || targets[i] >= C))
			return reel_tape_fail(t, REEL_ERR_ARG, "reel_cross_entropy: target %d at row %d is outside [0, %d)",
			                      targets[i], i, C);
	int need = reel__needs_grad(t, logits, NULL, NULL);
	reel_tensor *y = reel__out(t, 0, NULL, need);
	reel_real *logp = reel_tape_alloc(t, (size_t)N * C * sizeof(reel_real));
	reel_real *w = reel_tape_alloc(t, (size_t)N * sizeof(reel_real));
	if (!y || !logp || !w)
		return NULL;
	double wsum = 0, loss = 0;
	for (int i = 0; i < N; i++) {
		softmax_row(logits->data + (size_t)i * C, logp + (size_t)i * C, C, 1);
		w[i] = targets[i] == ignore_index ? 0 : mask ? mask->data[i] : 1;
		wsum += w[i];
		if (w[i] != 0)
			loss -= (double)w[i] * logp[(size_t)i * C + targets[i]];
	}
	y->data[0] = (reel_real)(wsum != 0 ? loss / wsum : 0);
	if (need) {
		struct ce_saved *sv = reel_tape_alloc(t, sizeof *sv);
		int32_t *tg = reel_tape_alloc(t, (size_t)N * sizeof *tg);
		reel_node *nd = reel__record(t, REEL_OP_CROSS_ENTROPY, y, logits, NULL, NULL);
		if (!sv || !tg || !nd)
			return NULL;
		memcpy(tg, targets, (size_t)N * sizeof *tg);
		for (size_t i = 0; i < (size_t)N * C; i++)
			logp[i] = REEL_M(exp)(logp[i]);
		for (int i = 0; i < N; i++)
			w[i] = wsum != 0 ? (reel_real)(w[i] / wsum) : 0;
		*sv = (struct ce_saved){.prob = logp, .target = tg, .weight = w};
		nd->saved = sv;
	}
	return y;
}

/* d logits_ic = g * w_i * (p_ic - [c == target_i]) */
void reel__bwd_CROSS_ENTROPY(reel_node *nd)
{
	reel_real *dx = reel__g(nd->in[0]);
	if (!dx)
		return;
	const struct ce_saved *sv = nd->saved;
	int N = reel_tensor_rows(nd->in[0]), C = reel_tensor_cols(nd->in[0]);
	reel_real g = reel_tensor_grad(nd->out)[0];
	for (int i = 0; i < N; i++) {
		reel_real wi = g * sv->weight[i];
		if (wi == 0)
			continue;
		reel_real *d = dx + (size_t)i * C;
		const reel_real *p = sv->prob + (size_t)i * C;
		for (int c = 0; c < C; c++)
			d[c] += wi * p[c];
		d[sv->target[i]] -= wi;
	}
}

/* ---- mean squared error ------------------------------------------------------------- */

reel_tensor *reel_mse(reel_tape *t, reel_tensor *a, reel_tensor *b)
{
	if (reel__skip(t, "mse", 2, a, b))
		return NULL;
	if (!reel__same_shape(a, b)) {
		char sa[64], sb[64];
		return reel_tape_fail(t, REEL_ERR_SHAPE, "reel_mse: shapes differ (a is %s, b is %s)",
		                      reel_shape_str(a, sa, sizeof sa), reel_shape_str(b, sb, sizeof sb));
	}
	int need = reel__needs_grad(t, a, b, NULL);
	reel_tensor *y = reel__out(t, 0, NULL, need);
	if (!y)
		return NULL;
	double acc = 0;
	for (size_t i = 0; i < a->size; i++) {
		double d = (double)a->data[i] - (double)b->data[i];
		acc += d * d;
	}
	y->data[0] = (reel_real)(acc / (double)a->size);
	if (need && !reel__record(t, REEL_OP_MSE, y, a, b, NULL))
		return NULL;
	return y;
}

void reel__bwd_MSE(reel_node *nd)
{
	reel_tensor *a = nd->in[0], *b = nd->in[1];
	reel_real *da = reel__g(a), *db = reel__g(b);
	reel_real k = 2 * reel_tensor_grad(nd->out)[0] / (reel_real)a->size;
	for (size_t i = 0; i < a->size; i++) {
		reel_real d = k * (a->data[i] - b->data[i]);
		if (da)
			da[i] += d;
		if (db)
			db[i] -= d;
	}
}
