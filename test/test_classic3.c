/* Issue 18, the rest: sampled softmax (Jean et al. 2015) as a composition
 * of ops: its gradient check, its equality with the full softmax when every
 * class is a negative and nothing is corrected, the proposals' draws, and
 * the train.sampled_softmax option of lm configs. */
#include "gradcheck.h"
#include "harness.h"
#include "model.h"
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { N = 5, D = 3, V = 7, S = 4 };
static const int32_t TARGETS[N] = {2, 6, REEL_DATA_IGNORE, 0, 2};
static const int32_t NEG[S] = {2, 5, 0, 5}; /* hits rows 0, 3, 4; a repeated 5 */

static void fill(reel_real *x, int n, double scale, unsigned seed)
{
	reel_rng r;
	reel_rng_seed(&r, seed);
	for (int i = 0; i < n; i++)
		x[i] = (reel_real)(scale * reel_rng_range(&r, -1, 1));
}

/* The composition with the log-uniform correction, accidental hits and an
 * ignored row. */
static reel_tensor *ss_fn(reel_tape *t, reel_tensor **in, void *ctx)
{
	const reel_real *logq = ctx;
	return reel_sampled_softmax_loss(t, in[0], in[1], in[2], TARGETS, REEL_DATA_IGNORE, NEG, S, logq);
}

static void ss_gradcheck(void)
{
	th_case("sampled softmax: gradient check of the composition");
	reel_real h[N * D], w[V * D], b[V], logq[V];
	fill(h, N * D, 1, 1), fill(w, V * D, 1, 2), fill(b, V, 0.5, 3);
	for (int k = 0; k < V; k++)
		logq[k] = (reel_real)log(S * reel_sampled_prob(V, NULL, k));
	reel_gc_input in[3] = {{2, {N, D}, h, 1}, {2, {V, D}, w, 1}, {1, {V}, b, 1}};
	reel_gc_report rep;
	CHECK(reel_gradcheck(ss_fn, logq, 3, in, NULL, (reel_gc_opts){0}, &rep) == REEL_OK, "%s", rep.msg);
	CHECK(rep.checked == N * D + V * D + V, "checked %zu", rep.checked);
}

static void to_double(double *out, const reel_real *x, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = x[i];
}

/* Every class once as a negative, no correction: the full softmax's
 * cross-entropy of h W^T + b, value and gradients. */
static void ss_full_equality(void)
{
	th_case("sampled softmax: all classes, no correction = full softmax");
	reel_real h[N * D], w[V * D], b[V];
	fill(h, N * D, 2, 4), fill(w, V * D, 1, 5), fill(b, V, 1, 6);
	int32_t all[V];
	for (int k = 0; k < V; k++)
		all[k] = k;
	double val[2] = {0}, gh[2][N * D] = {{0}}, gw[2][V * D] = {{0}}, gb[2][V] = {{0}};
	for (int pass = 0; pass < 2; pass++) {
		reel_tape *t = reel_tape_new(0, 1);
		reel_tensor *th = reel_tensor_new2(t, N, D, REEL_GRAD), *tw = reel_tensor_new2(t, V, D, REEL_GRAD);
		reel_tensor *tb = reel_tensor_new(t, 1, (int[]){V}, REEL_GRAD);
		memcpy(th->data, h, sizeof h), memcpy(tw->data, w, sizeof w), memcpy(tb->data, b, sizeof b);
		reel_tensor *l = pass ? reel_sampled_softmax_loss(t, th, tw, tb, TARGETS, REEL_DATA_IGNORE, all, V, NULL)
		                      : reel_cross_entropy(t, reel_addmm(t, tb, th, tw, REEL_TRANS_B), TARGETS, NULL,
		                                           REEL_DATA_IGNORE);
		if (CHECK(l && reel_backward(t, l) == REEL_OK, "pass %d: %s", pass, reel_tape_error(t))) {
			val[pass] = l->data[0];
			to_double(gh[pass], reel_tensor_grad(th), N * D);
			to_double(gw[pass], reel_tensor_grad(tw), V * D);
			to_double(gb[pass], reel_tensor_grad(tb), V);
		}
		reel_tape_free(t);
	}
#ifdef REEL_DOUBLE
	double rtol = 1e-12, atol = 1e-14;
#else
	double rtol = 1e-5, atol = 1e-6;
#endif
	CHECK_CLOSE("loss", &val[1], &val[0], 1, rtol, atol);
	CHECK_CLOSE("grad h", gh[1], gh[0], N * D, rtol, atol);
	CHECK_CLOSE("grad W", gw[1], gw[0], V * D, rtol, atol);
	CHECK_CLOSE("grad b", gb[1], gb[0], V, rtol, atol);
}

/* Draws follow the proposal: 200000 draws per class within 5 standard
 * errors of n q(k), for log-uniform and for a unigram cdf. */
static void ss_draws(void)
{
	th_case("sampled softmax: draws follow the proposal");
	enum { n = 200000 };
	double cdf[V], c[V] = {5, 1, 0, 9, 2, 2, 1}, tot = 0, run = 0;
	for (int k = 0; k < V; k++)
		tot += c[k] + 1;
	for (int k = 0; k < V; k++)
		cdf[k] = (run += c[k] + 1) / tot;
	static int32_t ids[n];
	for (int pass = 0; pass < 2; pass++) {
		const double *q = pass ? cdf : NULL;
		reel_rng r;
		reel_rng_seed(&r, 11);
		reel_sampled_draw(&r, V, q, n, ids);
		int hist[V] = {0};
		for (int i = 0; i < n; i++)
			if (CHECK(ids[i] >= 0 && ids[i] < V, "id %d", ids[i]))
				hist[ids[i]]++;
		double sum = 0;
		for (int k = 0; k < V; k++) {
			double p = reel_sampled_prob(V, q, k), se = sqrt(n * p * (1 - p));
			sum += p;
			CHECK(fabs(hist[k] - n * p) <= 5 * se, "%s class %d: %d draws, expected %.0f +- %.0f",
			      pass ? "unigram" : "log_uniform", k, hist[k], n * p, se);
		}
		CHECK(fabs(sum - 1) < 1e-12, "probabilities sum to %.15g", sum);
	}
}

/* Shape errors name the function and the shapes. */
static void ss_errors(void)
{
	th_case("sampled softmax: errors");
	reel_tape *t = reel_tape_new(0, 1);
	reel_tensor *h = reel_tensor_new2(t, N, D, REEL_GRAD), *w = reel_tensor_new2(t, V, D + 1, REEL_GRAD);
	CHECK(!reel_sampled_softmax_loss(t, h, w, NULL, TARGETS, REEL_DATA_IGNORE, NEG, S, NULL) &&
	          strstr(reel_tape_error(t), "found h 5x3, W 7x4"),
	      "%s", reel_tape_error(t));
	reel_tape_free(t);
}

/* Write cfg (a JSON text) to dir/name; 0 on success. */
static int write_file(const char *dir, const char *name, const char *text, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* A character LM trains with each proposal (and differs from the full
 * softmax's parameters); evaluation is the full softmax's; config errors. */
static void ss_training(void)
{
	th_case("sampled softmax: lm training and config errors");
	char dir[] = "/tmp/reel-ss-XXXXXX", path[600], cfg[1024];
	if (!CHECK(mkdtemp(dir), "mkdtemp"))
		return;
	FILE *f;
	snprintf(path, sizeof path, "%s/corpus.txt", dir);
	if (!CHECK((f = fopen(path, "w")), "%s", path))
		return;
	for (int i = 0; i < 60; i++)
		fprintf(f, "the quick brown fox %d jumps over the lazy dog; a stitch in time saves nine.\n", i % 7);
	fclose(f);
	static const char *const ss[] = {"", ", \"sampled_softmax\": {\"negatives\": 8}",
	                                 ", \"sampled_softmax\": {\"negatives\": 8, \"distribution\": \"unigram\"}"};
	reel_real *p[3] = {0};
	size_t np[3] = {0};
	double vl[3] = {0};
	for (int c = 0; c < 3; c++) {
		snprintf(cfg, sizeof cfg,
		         "{\"format\": 1, \"task\": \"lm\","
		         " \"data\": {\"source\": \"text\", \"path\": \"corpus.txt\", \"seq_len\": 12, \"valid_frac\": 0.1, \"test_frac\": 0.1},"
		         " \"model\": [{\"type\": \"embedding\", \"embedding_dim\": 8}, {\"type\": \"lstm\", \"hidden_size\": 16},"
		         "  {\"type\": \"linear\"}],"
		         " \"train\": {\"steps\": 10, \"batch_size\": 4, \"log_every\": 100, \"valid_every\": 100,"
		         "  \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01}%s}}",
		         ss[c]);
		char run[640];
		snprintf(run, sizeof run, "%s/run%d", dir, c);
		reel_model *m = NULL;
		char *errors = NULL;
		reel_err e = {0};
		if (CHECK(write_file(dir, "lm.json", cfg, path, sizeof path) == 0, "%s", path) &&
		    CHECK(reel_model_new(path, NULL, 0, &m, &errors, &e) == REEL_OK, "%s %s", e.msg, errors ? errors : "")) {
			reel_train_opts o = {.dir = run, .force = 1};
			reel_train_result res;
			reel_metrics mt;
			if (CHECK(reel_train(m, &o, &res, &e) == REEL_OK, "case %d: %s", c, e.msg) &&
			    CHECK(reel_model_evaluate(m, REEL_VALID, 0, &mt, &e) == REEL_OK, "%s", e.msg)) {
				vl[c] = mt.value[0];
				const reel_real *v = reel_params_values(m->ps, &np[c]);
				if ((p[c] = malloc(np[c] * sizeof *p[c])))
					memcpy(p[c], v, np[c] * sizeof *p[c]);
			}
		}
		reel_model_free(m);
		free(errors);
	}
	if (CHECK(p[0] && p[1] && p[2] && np[0] == np[1] && np[0] == np[2], "training failed")) {
		CHECK(memcmp(p[0], p[1], np[0] * sizeof *p[0]) && memcmp(p[1], p[2], np[0] * sizeof *p[0]),
		      "sampled softmax trained the same parameters as another case");
		/* the full softmax's validation loss after 10 updates: finite, near log V */
		for (int c = 0; c < 3; c++)
			CHECK(isfinite(vl[c]) && vl[c] > 0 && vl[c] < 5, "case %d: valid loss %g", c, vl[c]);
	}
	for (int c = 0; c < 3; c++)
		free(p[c]);
	static const char *const bad[][2] = {
		{"{\"format\": 1, \"task\": \"tag\", \"data\": {\"source\": \"copy\"}, \"model\": [{\"type\": \"embedding\", \"embedding_dim\": 4},"
		 " {\"type\": \"linear\"}], \"train\": {\"sampled_softmax\": {\"negatives\": 4}}}",
		 "sampled softmax applies to the lm task"},
		{"{\"format\": 1, \"task\": \"lm\", \"data\": {\"source\": \"text\", \"path\": \"corpus.txt\"}, \"model\": [{\"type\": \"embedding\", \"embedding_dim\": 4},"
		 " {\"type\": \"linear\"}], \"train\": {\"sampled_softmax\": {\"negatives\": 4, \"distribution\": \"zipf\"}}}",
		 "distribution"},
	};
	for (int i = 0; i < 2; i++) {
		reel_model *m = NULL;
		char *errors = NULL;
		reel_err e = {0};
		if (write_file(dir, "bad.json", bad[i][0], path, sizeof path) == 0)
			CHECK(reel_model_new(path, NULL, 0, &m, &errors, &e) == REEL_ERR_CONFIG && errors &&
			          strstr(errors, bad[i][1]),
			      "case %d: %s", i, errors ? errors : e.msg);
		reel_model_free(m);
		free(errors);
	}
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("  could not remove %s\n", dir);
}

/* ---- output recurrence (the jordan layer) ---- */

/* The free-running model's gradient matches finite differences (double
 * build); with teacher forcing (tf 1) the output of step 1 follows the
 * target of step 0 and not the output, free running (tf 0) ignores the
 * targets; the layer's placement errors. */
static void jordan_layer(void)
{
	th_case("jordan: gradcheck, teacher forcing, errors");
	const char *sets[] = {"data.window=5", "train.batch_size=3", "model.0.hidden_size=4"};
	reel_model *m = NULL;
	char *errs = NULL;
	reel_err e = {0};
	reel_tape *t = NULL;
	if (!CHECK(reel_model_new("configs/mackey-glass-jordan.json", sets, 3, &m, &errs, &e) == REEL_OK, "%s %s", e.msg,
	           errs ? errs : ""))
		goto out;
#ifdef REEL_DOUBLE
	int failed = -1;
	FILE *null = fopen("/dev/null", "w");
	CHECK(reel_model_gradcheck(m, 6, 1e-5, 1e-7, null, &failed, &e) == REEL_OK && failed == 0, "%d failed: %s", failed,
	      e.msg);
	if (null)
		fclose(null);
#endif
	reel_batch b;
	if (!CHECK(reel_data_next(m->data, REEL_TRAIN, 3, &b, &e) == 1, "%s", e.msg))
		goto out;
	int T = b.T, B = b.B, O = b.O;
	reel_real y[2][2][3]; /* [tf][target changed][B at most 3] the output of step 1, row 0.. */
	reel_real y0[2];      /* the output of step 0, row 0, tf 1, per target */
	t = reel_tape_new(0, 1);
	for (int tf = 0; tf < 2; tf++)
		for (int ch = 0; ch < 2; ch++) {
			reel_tape_reset(t);
			reel_real saved = b.targets[0];
			if (ch)
				b.targets[0] += 1; /* the target of step 0, row 0 */
			reel_fwd_ctx c = {.lengths = b.lengths, .T = T, .B = B, .targets = b.targets, .O = O, .tf = tf};
			reel_tensor *x = reel_tensor_wrap(t, 3, (int[]){T, B, b.F}, b.inputs);
			reel_tensor *out = reel__jordan_forward(t, &m->layers[0], x, NULL, &c);
			b.targets[0] = saved;
			if (!CHECK(out && out->ndim == 3 && out->shape[0] == T && out->shape[2] == O, "%s", reel_tape_error(t)))
				goto out;
			for (int i = 0; i < B && i < 3; i++)
				y[tf][ch][i] = out->data[(size_t)(B + i) * O];
			if (tf)
				y0[ch] = out->data[0];
		}
	CHECK(y[1][0][0] != y[1][1][0], "teacher forcing: step 1 does not follow the target of step 0");
	CHECK(y0[0] == y0[1], "teacher forcing: step 0 changed with its own target");
	CHECK(B < 2 || y[1][0][1] == y[1][1][1], "teacher forcing: another row followed row 0's target");
	CHECK(y[0][0][0] == y[0][1][0], "free running: the output followed a target");
	static const char *const bad[][2] = {
		{"{\"format\": 1, \"task\": \"regress\", \"data\": {\"source\": \"mackey_glass\", \"per_step\": true},"
		 " \"model\": [{\"type\": \"jordan\"}, {\"type\": \"linear\"}]}",
		 "jordan is an output layer: it must be the last layer (it is 1 of 2)"},
		{"{\"format\": 1, \"task\": \"tag\", \"data\": {\"source\": \"copy\"},"
		 " \"model\": [{\"type\": \"embedding\", \"embedding_dim\": 4}, {\"type\": \"jordan\"}]}",
		 "/task must be \"regress\""},
	};
	for (int i = 0; i < 2; i++) {
		char path[] = "/tmp/reel-jordan-XXXXXX";
		int fd = mkstemp(path);
		if (!CHECK(fd >= 0, "mkstemp"))
			break;
		FILE *f = fdopen(fd, "w");
		if (f) {
			fputs(bad[i][0], f);
			fclose(f);
		}
		reel_model *bm = NULL;
		char *be = NULL;
		CHECK(reel_model_new(path, NULL, 0, &bm, &be, &e) == REEL_ERR_CONFIG && be && strstr(be, bad[i][1]),
		      "case %d: %s", i, be ? be : e.msg);
		reel_model_free(bm);
		free(be);
		unlink(path);
	}
out:
	reel_tape_free(t);
	reel_model_free(m);
	free(errs);
}

void suite_classic3(void)
{
	jordan_layer();
	ss_gradcheck();
	ss_full_equality();
	ss_draws();
	ss_errors();
	ss_training();
}
