/* reel: the command-line program.  Each verb is a thin layer over models/:
 * read the arguments, call the library, print, map errors to the exit
 * status (0 success, 1 runtime failure, 2 bad usage or a bad config). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "train.h"

#define REEL_VERSION "0.3.0"
#define MAX_SETS 64

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

typedef struct args {
	const char *verb, *config, *out, *params, *split, *batch, *init, *init_prefix;
	int per_param;
	const char *sets[MAX_SETS];
	int nsets, force, resume, json, show, help;
} args;

static const char *const USAGE =
	"usage: reel <verb> [options]\n"
	"\n"
	"verbs:\n"
	"  train CONFIG [-o DIR] [--set k=v]... [--force | --resume] [--show N]\n"
	"                          train the model; writes DIR (default runs/<config name>)\n"
	"  eval CONFIG --params FILE [--split valid|test] [--json] [--set k=v]...\n"
	"                          the task's metrics on a split of the config's data\n"
	"  info CONFIG [--set k=v]...   layers, output shapes, parameters, memory per step\n"
	"  check CONFIG [--set k=v]...  validate the config and run one forward/backward step\n"
	"  list                    every layer type and config key, with defaults\n"
	"  grad CONFIG --params FILE --batch FILE -o OUT\n"
	"                          one forward/backward on a given batch: loss, outputs, grad.<name>\n"
	"  export CONFIG [--params FILE]  a PyTorch module (Python source) with reel's parameter names\n"
	"                          and forward; prints it\n"
	"  gradcheck CONFIG [--per-param N]   finite differences against the model's gradients\n"
	"                          (use the double build, build/d/reel)\n"
	"\n"
	"options: --help (on any verb), --version\n"
	"exit status: 0 success, 1 runtime failure, 2 bad usage or bad config\n";

static const char *verb_help(const char *verb)
{
	if (!strcmp(verb, "train"))
		return "usage: reel train CONFIG [-o DIR] [--set path=value]... [--force | --resume] [--show N]\n"
		       "  Trains the model CONFIG declares.  Progress goes to stderr (one redrawn line on a\n"
		       "  terminal, plain lines otherwise).  DIR (default runs/<config name>) receives\n"
		       "  config.json (the resolved config), metrics.jsonl, last.safetensors and\n"
		       "  best.safetensors.  DIR must be empty or absent unless --force (start over) or\n"
		       "  --resume (continue exactly from DIR/last.safetensors; the model, data and batch\n"
		       "  must match the checkpoint's, training settings may change and are reported).\n"
		       "  --set path=value   override a key, e.g. --set train.optimizer.lr=3e-4 or\n"
		       "                     --set /model/1/hidden_size=64; checked like the file\n"
		       "  --show N           seq2seq: decode N validation examples at the end (default 3)\n"
		       "  --init FILE        start from the parameters in FILE (e.g. a PyTorch state_dict saved\n"
		       "                     with safetensors), matched by name and shape\n"
		       "  --init-prefix FROM=TO  the file's FROM+X initialises the model's TO+X\n";
	if (!strcmp(verb, "eval"))
		return "usage: reel eval CONFIG --params FILE [--split valid|test] [--json] [--set path=value]...\n"
		       "  Loads the parameters in FILE (e.g. DIR/best.safetensors) into the model CONFIG\n"
		       "  declares and prints the task's metrics on the split (default test).\n";
	if (!strcmp(verb, "info"))
		return "usage: reel info CONFIG [--set path=value]...\n"
		       "  Prints each layer, its output shape, every parameter's name and shape, counts\n"
		       "  per layer and in total, and the memory a training step needs.\n";
	if (!strcmp(verb, "check"))
		return "usage: reel check CONFIG [--set path=value]...\n"
		       "  Validates the config (every error at once), opens its data, and runs one\n"
		       "  forward and backward step on one training batch, without training.\n";
	if (!strcmp(verb, "grad"))
		return "usage: reel grad CONFIG --params FILE --batch FILE -o OUT [--set path=value]...\n"
		       "  One forward and backward pass (dropout off) on the batch in FILE (safetensors:\n"
		       "  tokens (T, B) or inputs (T, B, F), optional lengths (B), labels or targets; seq2seq:\n"
		       "  src (S, B), src_len (B), tgt (T, B)).  Writes OUT with loss, outputs and grad.<name>\n"
		       "  for every parameter: the door for comparing reel with PyTorch on any model.\n"
		       "  --params may be a PyTorch state_dict saved with safetensors.torch.save_file.\n";
	if (!strcmp(verb, "export"))
		return "usage: reel export CONFIG [--params FILE] [--set path=value]...\n"
		       "  Prints a self-contained PyTorch module (Python source) for the model CONFIG declares:\n"
		       "  its state_dict names and shapes are reel's parameters, so FILE (a reel checkpoint or\n"
		       "  a PyTorch state_dict in safetensors) loads with load_state_dict unchanged; forward\n"
		       "  computes what reel computes in eval mode, reel_loss reel's loss.  --params FILE is\n"
		       "  checked against the model first and is what the source's __main__ block loads.\n"
		       "  Layer kinds PyTorch lacks (mgu) are an error naming the layer (exit 1).\n";
	if (!strcmp(verb, "gradcheck"))
		return "usage: reel gradcheck CONFIG [--per-param N] [--set path=value]...\n"
		       "  Central finite differences of the loss against the model's gradients on one\n"
		       "  training batch, N elements of every parameter (default 16); prints the worst\n"
		       "  relative error per parameter; exit 1 above tolerance.  Meant for the double\n"
		       "  build (build/d/reel, tolerance 1e-5 relative); the float build is loose.\n";
	if (!strcmp(verb, "list"))
		return "usage: reel list\n  Prints every layer type and every config key: type, default, meaning.\n";
	return NULL;
}

static int usage_error(const char *fmt, const char *a)
{
	fprintf(stderr, "reel: ");
	fprintf(stderr, fmt, a);
	fprintf(stderr, "\n(reel --help for usage)\n");
	return EXIT_USAGE;
}

static int parse(int argc, char **argv, args *a)
{
	memset(a, 0, sizeof *a);
	a->show = -1;
	if (argc < 2) {
		fputs(USAGE, stderr);
		return EXIT_USAGE;
	}
	a->verb = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED()                                                        \
	do {                                                              \
		if (!v)                                                       \
			return usage_error("%s needs a value", o);                \
		i++;                                                          \
	} while (0)
		if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
			a->help = 1;
		} else if (!strcmp(o, "-o") || !strcmp(o, "--out")) {
			NEED();
			a->out = v;
		} else if (!strcmp(o, "--set")) {
			NEED();
			if (a->nsets == MAX_SETS)
				return usage_error("at most 64 --set options, found more at %s", v);
			a->sets[a->nsets++] = v;
		} else if (!strncmp(o, "--set=", 6)) {
			if (a->nsets == MAX_SETS)
				return usage_error("at most 64 --set options, found more at %s", o);
			a->sets[a->nsets++] = o + 6;
		} else if (!strcmp(o, "--params")) {
			NEED();
			a->params = v;
		} else if (!strcmp(o, "--batch")) {
			NEED();
			a->batch = v;
		} else if (!strcmp(o, "--init")) {
			NEED();
			a->init = v;
		} else if (!strcmp(o, "--init-prefix")) {
			NEED();
			if (!strchr(v, '='))
				return usage_error("--init-prefix: expected FROM=TO (the file's FROM+X initialises TO+X), found \"%s\"", v);
			a->init_prefix = v;
		} else if (!strcmp(o, "--per-param")) {
			NEED();
			char *end;
			long n = strtol(v, &end, 10);
			if (*end || end == v || n < 1 || n > 1000000)
				return usage_error("--per-param: expected a count in [1, 1000000], found \"%s\"", v);
			a->per_param = (int)n;
		} else if (!strcmp(o, "--split")) {
			NEED();
			if (strcmp(v, "valid") && strcmp(v, "test") && strcmp(v, "train"))
				return usage_error("--split: expected valid, test or train, found \"%s\"", v);
			a->split = v;
		} else if (!strcmp(o, "--show")) {
			NEED();
			char *end;
			long n = strtol(v, &end, 10);
			if (*end || end == v || n < 0 || n > 1000)
				return usage_error("--show: expected a count in [0, 1000], found \"%s\"", v);
			a->show = (int)n;
		} else if (!strcmp(o, "--force")) {
			a->force = 1;
		} else if (!strcmp(o, "--resume")) {
			a->resume = 1;
		} else if (!strcmp(o, "--json")) {
			a->json = 1;
		} else if (o[0] == '-' && o[1]) {
			return usage_error("unknown option %s", o);
		} else if (!a->config) {
			a->config = o;
		} else {
			return usage_error("unexpected argument \"%s\"", o);
		}
#undef NEED
	}
	return 0;
}

/* Build the model; on failure print every error and return the exit code. */
static int load_model(const args *a, reel_model **m)
{
	if (!a->config)
		return usage_error("%s needs a CONFIG file", a->verb);
	reel_err err = {0};
	char *errors = NULL;
	reel_status st = reel_model_new(a->config, a->sets, a->nsets, m, &errors, &err);
	if (st == REEL_OK)
		return 0;
	if (errors) {
		fputs(errors, stderr);
		free(errors);
	}
	fprintf(stderr, "reel: %s\n", err.msg);
	return st == REEL_ERR_CONFIG || st == REEL_ERR_IO ? EXIT_USAGE : EXIT_RUNTIME;
}

/* "runs/<config file name without .json>" */
static void default_dir(const char *config, char *out, size_t n)
{
	const char *base = strrchr(config, '/');
	base = base ? base + 1 : config;
	size_t len = strlen(base);
	if (len > 5 && !strcmp(base + len - 5, ".json"))
		len -= 5;
	snprintf(out, n, "runs/%.*s", (int)len, base);
}

static void print_tokens(const reel_model *m, const int32_t *ids, int n, int stride, int input_side, FILE *f)
{
	int words = m->data_opts.tokens_words;
	for (int i = 0; i < n; i++) {
		int id = ids[(size_t)i * stride];
		const char *s = input_side ? reel_data_input_token(m->data, id) : reel_data_output_token(m->data, id);
		fprintf(f, "%s%s", i && words ? " " : "", s ? s : "?");
	}
}

/* Decode a few validation examples and print them with their attention
 * (rows: output tokens, columns: source tokens, weights in tenths). */
static int show_examples(reel_model *m, int n, FILE *f)
{
	reel_err err = {0};
	reel_data_rewind(m->data, REEL_VALID);
	reel_batch b;
	int r = reel_data_next(m->data, REEL_VALID, n, &b, &err);
	if (r <= 0)
		return r < 0 ? EXIT_RUNTIME : 0;
	int B = b.B, maxlen = m->decode.max_len;
	reel_tape *t = reel_tape_new(0, 1);
	reel_s2s_result res;
	if (!t || reel_s2s_result_init(&res, B, maxlen, b.S) != REEL_OK) {
		reel_tape_free(t);
		return EXIT_RUNTIME;
	}
	reel_s2s_batch sb = {.src = b.src, .src_len = b.src_len, .S = b.S, .B = B};
	reel_status st = m->decode.beam > 1
	                     ? reel_seq2seq_beam(t, &m->s2s, &sb, m->decode.beam, maxlen, m->decode.alpha, &res)
	                     : reel_seq2seq_greedy(t, &m->s2s, &sb, maxlen, &res);
	if (st != REEL_OK) {
		fprintf(stderr, "reel: decoding: %s\n", reel_tape_error(t));
		reel_s2s_result_deinit(&res);
		reel_tape_free(t);
		return EXIT_RUNTIME;
	}
	int eos = m->s2s.o.eos;
	for (int k = 0; k < B; k++) {
		const int32_t *out = res.tokens + (size_t)k * maxlen;
		int len = res.len[k], olen = len > 0 && out[len - 1] == eos ? len - 1 : len;
		int tl = 0;
		while (tl < b.TT && b.tgt[tl * B + k] != eos && b.tgt[tl * B + k] != m->s2s.o.pad)
			tl++;
		int ok = olen == tl;
		for (int i = 0; ok && i < tl; i++)
			ok = out[i] == b.tgt[i * B + k];
		fprintf(f, "\n\"");
		print_tokens(m, b.src + k, b.src_len[k], B, 1, f);
		fprintf(f, "\" -> \"");
		print_tokens(m, out, olen, 1, 0, f);
		fprintf(f, "\"  %s", ok ? "(correct)" : "(expected \"");
		if (!ok) {
			print_tokens(m, b.tgt + k, tl, B, 0, f);
			fprintf(f, "\")");
		}
		fprintf(f, "\n");
		if (!res.attn || m->data_opts.tokens_words)
			continue;
		fprintf(f, "      ");
		for (int s = 0; s < b.src_len[k]; s++) {
			const char *tok = reel_data_input_token(m->data, b.src[s * B + k]);
			fputc(tok && tok[0] && tok[0] != ' ' ? tok[0] : '_', f);
		}
		fputc('\n', f);
		for (int i = 0; i < len; i++) {
			const char *tok = i < olen ? reel_data_output_token(m->data, out[i]) : "$";
			fprintf(f, "  %c   ", tok && tok[0] ? tok[0] : '?');
			for (int s = 0; s < b.src_len[k]; s++) {
				double w = res.attn[((size_t)k * maxlen + i) * b.S + s];
				fputc(w >= 0.95 ? '#' : w < 0.05 ? '.' : (char)('0' + (int)(w * 10 + 0.5)), f);
			}
			fputc('\n', f);
		}
	}
	reel_s2s_result_deinit(&res);
	reel_tape_free(t);
	reel_data_rewind(m->data, REEL_VALID);
	return 0;
}

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int cmd_train(const args *a)
{
	reel_model *m;
	int rc = load_model(a, &m);
	if (rc)
		return rc;
	char dir[4096];
	if (a->out)
		snprintf(dir, sizeof dir, "%s", a->out);
	else
		default_dir(a->config, dir, sizeof dir);
	size_t np = 0;
	for (int i = 0; i < reel_params_count(m->ps); i++)
		np += reel_params_at(m->ps, i)->size;
	fprintf(stderr, "reel: training %s (task %s, %zu parameters) into %s\n", a->config, reel_task_name(m->task), np, dir);
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (a->resume && a->force) {
		reel_model_free(m);
		return usage_error("--resume and --force exclude each other (--force starts %s over)", dir);
	}
	if (a->init) {
		if (a->resume) {
			reel_model_free(m);
			return usage_error("--init and --resume exclude each other (--resume continues %s)", dir);
		}
		char *report = NULL;
		reel_err e = {0};
		if (reel_model_init_from(m, a->init, a->init_prefix, &report, &e) != REEL_OK) {
			if (report)
				fputs(report, stderr);
			free(report);
			fprintf(stderr, "reel: %s\n", e.msg);
			reel_model_free(m);
			return EXIT_RUNTIME;
		}
		fprintf(stderr, "reel: parameters initialised from %s\n", a->init);
	}
	reel_train_opts o = {.dir = dir, .force = a->force, .resume = a->resume, .log = stderr, .tty = isatty(2),
	                     .stop = &stop_flag};
	reel_train_result res;
	reel_err err = {0};
	reel_status st = reel_train(m, &o, &res, &err);
	if (st != REEL_OK) {
		fprintf(stderr, "reel: %s\n", err.msg);
		reel_model_free(m);
		int usage = st == REEL_ERR_CONFIG || (st == REEL_ERR_IO && (strstr(err.msg, "not empty") ||
		                                                            strstr(err.msg, "no checkpoint to resume")));
		return usage ? EXIT_USAGE : EXIT_RUNTIME;
	}
	if (res.already_finished) {
		printf("%s: the run already finished (%ld updates, %d epochs); nothing to do (raise train.steps or train.epochs "
		       "with --set to train further)\n", dir, res.steps, res.epochs);
		reel_model_free(m);
		return 0;
	}
	int show = a->show >= 0 ? a->show : 3;
	if (m->is_s2s && show > 0)
		rc = show_examples(m, show, stdout);
	printf("\n%s %ld updates (%d epoch%s) in %.1f s%s", res.interrupted ? "interrupted after" : "trained", res.steps,
	       res.epochs, res.epochs == 1 ? "" : "s", res.seconds, res.stopped_early ? ", stopped early" : "");
	if (res.skipped)
		printf(", %ld of them skipped for non-finite values", res.skipped);
	printf("; ");
	if (res.valid.n) {
		printf("validation: ");
		reel_metrics_print(&res.valid, stdout);
		printf("\nbest validation at update %ld: ", res.best_step);
		reel_metrics_print(&res.best, stdout);
	}
	printf("\nwrote %s/ (config.json, metrics.jsonl, last.safetensors%s)\n", dir,
	       res.best.n ? ", best.safetensors" : "");
	reel_model_free(m);
	return rc;
}

static int cmd_eval(const args *a)
{
	if (!a->params)
		return usage_error("eval needs --params FILE (e.g. %s)", "runs/NAME/best.safetensors");
	reel_model *m;
	int rc = load_model(a, &m);
	if (rc)
		return rc;
	reel_err err = {0};
	if (reel_model_load(m, a->params, &err) != REEL_OK) {
		fprintf(stderr, "reel: %s\n", err.msg);
		reel_model_free(m);
		return EXIT_RUNTIME;
	}
	reel_data_split split = !a->split || !strcmp(a->split, "test") ? REEL_TEST : !strcmp(a->split, "valid") ? REEL_VALID : REEL_TRAIN;
	reel_metrics mt;
	reel_set_threads(m->train.threads);
	if (reel_model_evaluate(m, split, 0, &mt, &err) != REEL_OK) {
		fprintf(stderr, "reel: %s\n", err.msg);
		reel_model_free(m);
		return EXIT_RUNTIME;
	}
	const char *sn = split == REEL_TEST ? "test" : split == REEL_VALID ? "valid" : "train";
	if (a->json) {
		printf("{\"split\": \"%s\"", sn);
		for (int i = 0; i < mt.n; i++)
			printf(", \"%s\": %.9g", i ? mt.name[i] : "loss", mt.value[i]);
		printf("}\n");
	} else {
		printf("%s: ", sn);
		mt.name[0] = "loss";
		reel_metrics_print(&mt, stdout);
		printf("\n");
	}
	reel_model_free(m);
	return 0;
}

static int cmd_info(const args *a)
{
	reel_model *m;
	int rc = load_model(a, &m);
	if (rc)
		return rc;
	reel_model_summary(m, stdout);
	reel_model_free(m);
	return 0;
}

static int cmd_check(const args *a)
{
	reel_model *m;
	int rc = load_model(a, &m);
	if (rc)
		return rc;
	reel_err err = {0};
	reel_batch b;
	int r = reel_data_next(m->data, REEL_TRAIN, m->train.batch_size, &b, &err);
	if (r <= 0) {
		fprintf(stderr, "reel: %s\n", r < 0 ? err.msg : "the training split gave no batch");
		reel_model_free(m);
		return EXIT_RUNTIME;
	}
	reel_tape *t = reel_tape_new(0, m->train.seed);
	reel_tensor *loss = t ? reel_model_loss(t, m, &b, 1.0, 0, NULL) : NULL;
	if (!loss || reel_backward(t, loss) != REEL_OK) {
		fprintf(stderr, "reel: one step failed: %s\n", t ? reel_tape_error(t) : "out of memory");
		reel_tape_free(t);
		reel_model_free(m);
		return EXIT_RUNTIME;
	}
	double gn = reel_clip_grad_norm(m->ps, INFINITY);
	reel_tape_stats ts = reel_tape_get_stats(t);
	printf("%s: ok (task %s; one batch of %d: loss %.5g, gradient norm %.4g, %zu tape nodes, %.1f MiB of arena)\n",
	       a->config, reel_task_name(m->task), b.B, (double)loss->data[0], gn, ts.nodes,
	       (double)ts.arena_peak / (1 << 20));
	int bad = !isfinite(loss->data[0]) || !isfinite(gn);
	reel_tape_free(t);
	reel_model_free(m);
	if (bad) {
		fprintf(stderr, "reel: the loss or gradient is not finite\n");
		return EXIT_RUNTIME;
	}
	return 0;
}

static int cmd_grad(const args *a)
{
	if (!a->params || !a->batch || !a->out)
		return usage_error("%s", "grad needs --params FILE, --batch FILE and -o OUT");
	reel_model *m;
	int rc = load_model(a, &m);
	if (rc)
		return rc;
	reel_err err = {0};
	double loss;
	char *report = NULL;
	if (reel_model_init_from(m, a->params, a->init_prefix, &report, &err) != REEL_OK ||
	    reel_model_grad(m, a->batch, a->out, &loss, &err) != REEL_OK) {
		if (report)
			fputs(report, stderr);
		free(report);
		fprintf(stderr, "reel: %s\n", err.msg);
		reel_model_free(m);
		return EXIT_RUNTIME;
	}
	printf("loss %.10g; wrote %s (loss, %sgrad.<name> for %d parameters)\n", loss, a->out, m->is_s2s ? "" : "outputs, ",
	       reel_params_count(m->ps));
	reel_model_free(m);
	return 0;
}

static int cmd_export(const args *a)
{
	reel_model *m;
	int rc = load_model(a, &m);
	if (rc)
		return rc;
	reel_err err = {0};
	char *report = NULL;
	if ((a->params && reel_model_init_from(m, a->params, a->init_prefix, &report, &err) != REEL_OK) ||
	    reel_model_export(m, a->params, stdout, &err) != REEL_OK) {
		if (report)
			fputs(report, stderr);
		free(report);
		fprintf(stderr, "reel: %s\n", err.msg);
		reel_model_free(m);
		return EXIT_RUNTIME;
	}
	reel_model_free(m);
	return 0;
}

static int cmd_gradcheck(const args *a)
{
	reel_model *m;
	int rc = load_model(a, &m);
	if (rc)
		return rc;
	reel_err err = {0};
	int failed = 0;
	int dbl = sizeof(reel_real) == 8;
	if (!dbl)
		fprintf(stderr, "reel: this is the float build: differences are loose; build/d/reel checks in double\n");
	reel_status st = reel_model_gradcheck(m, a->per_param ? a->per_param : 16, dbl ? 1e-5 : 5e-2, dbl ? 1e-8 : 1e-3,
	                                      stdout, &failed, &err);
	reel_model_free(m);
	if (st != REEL_OK) {
		fprintf(stderr, "reel: %s\n", err.msg);
		return EXIT_RUNTIME;
	}
	printf(failed ? "gradcheck: %d parameter%s FAILED\n" : "gradcheck: every parameter ok\n", failed, failed == 1 ? "" : "s");
	return failed ? EXIT_RUNTIME : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
		printf("reel %s (%s build)\n", REEL_VERSION, REEL_REAL_NAME);
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
		fputs(USAGE, stdout);
		return 0;
	}
	args a;
	int rc = parse(argc, argv, &a);
	if (rc)
		return rc;
	const char *h = verb_help(a.verb);
	if (!h)
		return usage_error("unknown verb \"%s\" (train, eval, info, check, list, grad, gradcheck)", a.verb);
	if (a.help) {
		fputs(h, stdout);
		return 0;
	}
	if (!strcmp(a.verb, "train"))
		return cmd_train(&a);
	if (!strcmp(a.verb, "eval"))
		return cmd_eval(&a);
	if (!strcmp(a.verb, "info"))
		return cmd_info(&a);
	if (!strcmp(a.verb, "check"))
		return cmd_check(&a);
	if (!strcmp(a.verb, "grad"))
		return cmd_grad(&a);
	if (!strcmp(a.verb, "gradcheck"))
		return cmd_gradcheck(&a);
	if (!strcmp(a.verb, "export"))
		return cmd_export(&a);
	if (a.config)
		return usage_error("list takes no CONFIG, found \"%s\"", a.config);
	reel_model_describe(stdout);
	return 0;
}
