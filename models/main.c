/* reel: the command-line program.  Each verb is a thin layer over models/:
 * read the arguments, call the library, print, map errors to the exit
 * status (0 success, 1 runtime failure, 2 bad usage or a bad config). */
#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baseline.h"
#include "infer.h"
#include "model.h"
#include "train.h"

#define REEL_VERSION "0.3.0"
#define MAX_SETS 64
#define MAX_POS 64

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

typedef struct args {
	const char *verb, *config, *out, *params, *split, *batch, *init, *init_prefix;
	int per_param;
	const char *sets[MAX_SETS];
	int nsets, force, resume, json, show, help;
	const char *pos[MAX_POS]; /* positional arguments (config first) */
	int npos;
	/* decode, sample, predict */
	const char *input, *attention_svg, *prime, *svg;
	int beam, n_best, scores, attention, top_k, length, probs;
	double alpha, temperature;
	int has_alpha;
	long long seed;
	int order; /* baseline */
	int free_run; /* eval: forecast horizon (0: none) */
} args;

static const char *const USAGE =
	"usage: reel <verb> [options]\n"
	"\n"
	"verbs:\n"
	"  train CONFIG [-o DIR] [--set k=v]... [--force | --resume] [--show N]\n"
	"                          train the model; writes DIR (default runs/<config name>)\n"
	"  eval CONFIG --params FILE [--split valid|test] [--free-run H] [--json] [--set k=v]...\n"
	"                          the task's metrics on a split of the config's data\n"
	"  decode CONFIG --params FILE [--input FILE] [--beam N] [--n-best K] [--length-penalty A]\n"
	"         [--scores] [--attention] [--attention-svg FILE]\n"
	"                          seq2seq: decode each line of the input (default stdin); ctc: a split\n"
	"  sample CONFIG --params FILE [--prime TEXT] [--temperature T] [--top-k K] [--length N] [--seed S]\n"
	"                          language models: generate text\n"
	"  baseline CONFIG [--split S] [--order P] [--json]\n"
	"                          series regress: persistence and linear AR forecasts\n"
	"  predict CONFIG --params FILE [--input FILE | --split S] [--probs] [--svg FILE]\n"
	"                          classify, tag, regress, ctc: predictions on lines or a split\n"
	"  plot DIR [DIR...] [-o FILE.svg]   training curves of run directories\n"
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

/* The verbs: VERBS, at the end of the file (after the commands). */
static const char *verb_help(const char *verb);

static int usage_error(const char *fmt, const char *a)
{
	fprintf(stderr, "reel: ");
	fprintf(stderr, fmt, a);
	fprintf(stderr, "\n(reel --help for usage)\n");
	return EXIT_USAGE;
}

/* The options: each with its kind and range, and where it goes in args.
 * s: a string; i: an int in [lo, hi]; L: a long long in [lo, hi]; r: a
 * number in [lo, hi]; f: a flag (no value). */
typedef struct option {
	const char *name;
	char kind;
	double lo, hi;
	size_t off;
} option;

#define OPT(name, kind, lo, hi, field) {name, kind, lo, hi, offsetof(args, field)}
static const option OPTIONS[] = {
	OPT("-o", 's', 0, 0, out),
	OPT("--out", 's', 0, 0, out),
	OPT("--params", 's', 0, 0, params),
	OPT("--batch", 's', 0, 0, batch),
	OPT("--init", 's', 0, 0, init),
	OPT("--init-prefix", 's', 0, 0, init_prefix),
	OPT("--split", 's', 0, 0, split),
	OPT("--input", 's', 0, 0, input),
	OPT("--attention-svg", 's', 0, 0, attention_svg),
	OPT("--svg", 's', 0, 0, svg),
	OPT("--prime", 's', 0, 0, prime),
	OPT("--per-param", 'i', 1, 1000000, per_param),
	OPT("--show", 'i', 0, 1000, show),
	OPT("--beam", 'i', 1, 1000, beam),
	OPT("--n-best", 'i', 1, 1000, n_best),
	OPT("--top-k", 'i', 0, 1000, top_k),
	OPT("--length", 'i', 0, 10000000, length),
	OPT("--seed", 'L', 0, 4611686018427387904.0, seed),
	OPT("--order", 'i', 0, 100000, order),
	OPT("--free-run", 'i', 1, 1000000, free_run),
	OPT("--length-penalty", 'r', 0, 100, alpha),
	OPT("--temperature", 'r', 0, 100, temperature),
	OPT("--scores", 'f', 0, 0, scores),
	OPT("--attention", 'f', 0, 0, attention),
	OPT("--probs", 'f', 0, 0, probs),
	OPT("--force", 'f', 0, 0, force),
	OPT("--resume", 'f', 0, 0, resume),
	OPT("--json", 'f', 0, 0, json),
	OPT("--help", 'f', 0, 0, help),
	OPT("-h", 'f', 0, 0, help),
};
#undef OPT

/* Store value v of option o into a; 0, or the usage exit code. */
static int set_option(args *a, const option *o, const char *v)
{
	char *field = (char *)a + o->off, *end;
	errno = 0;
	if (o->kind == 's') {
		*(const char **)field = v;
	} else if (o->kind == 'r') {
		double x = strtod(v, &end);
		if (*end || end == v || !isfinite(x) || x < o->lo || x > o->hi) {
			fprintf(stderr, "reel: %s: expected a number in [%g, %g], found \"%s\"\n(reel --help for usage)\n", o->name,
			        o->lo, o->hi, v);
			return EXIT_USAGE;
		}
		*(double *)field = x;
	} else {
		long long n = strtoll(v, &end, 10);
		if (*end || end == v || errno || n < (long long)o->lo || n > (long long)o->hi) {
			fprintf(stderr, "reel: %s: expected an integer in [%lld, %lld], found \"%s\"\n(reel --help for usage)\n",
			        o->name, (long long)o->lo, (long long)o->hi, v);
			return EXIT_USAGE;
		}
		if (o->kind == 'L')
			*(long long *)field = n;
		else
			*(int *)field = (int)n;
	}
	return 0;
}

static int parse(int argc, char **argv, args *a)
{
	memset(a, 0, sizeof *a);
	a->show = -1;
	a->length = 200;
	a->temperature = 1;
	a->seed = 1;
	a->alpha = NAN; /* given or not: has_alpha */
	if (argc < 2) {
		fputs(USAGE, stderr);
		return EXIT_USAGE;
	}
	a->verb = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i];
		const option *opt = NULL;
		for (size_t k = 0; k < sizeof OPTIONS / sizeof OPTIONS[0] && !opt; k++)
			if (!strcmp(o, OPTIONS[k].name))
				opt = &OPTIONS[k];
		if (opt && opt->kind == 'f') {
			*(int *)((char *)a + opt->off) = 1;
		} else if (opt || !strcmp(o, "--set")) {
			if (i + 1 >= argc)
				return usage_error("%s needs a value", o);
			const char *v = argv[++i];
			if (opt) {
				int rc = set_option(a, opt, v);
				if (rc)
					return rc;
			} else if (a->nsets == MAX_SETS) {
				return usage_error("at most 64 --set options, found more at %s", v);
			} else {
				a->sets[a->nsets++] = v;
			}
		} else if (!strncmp(o, "--set=", 6)) {
			if (a->nsets == MAX_SETS)
				return usage_error("at most 64 --set options, found more at %s", o);
			a->sets[a->nsets++] = o + 6;
		} else if (o[0] == '-' && o[1]) {
			return usage_error("unknown option %s", o);
		} else if (a->npos < MAX_POS) {
			if (!a->config)
				a->config = o;
			a->pos[a->npos++] = o;
		} else {
			return usage_error("too many arguments at \"%s\"", o);
		}
	}
	if (a->split && strcmp(a->split, "valid") && strcmp(a->split, "test") && strcmp(a->split, "train"))
		return usage_error("--split: expected valid, test or train, found \"%s\"", a->split);
	if (a->init_prefix && !strchr(a->init_prefix, '='))
		return usage_error("--init-prefix: expected FROM=TO (the file's FROM+X initialises TO+X), found \"%s\"",
		                   a->init_prefix);
	a->has_alpha = !isnan(a->alpha);
	if (!a->has_alpha)
		a->alpha = 0;
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

/* Data parallel: the MPI reducer when mpirun started us (train), else NULL. */
static reel_reduce *ranks;

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
	reel_err rerr = {0};
	if (ranks && reel_model_set_reduce(m, ranks, &rerr) != REEL_OK) {
		fprintf(stderr, "reel: %s\n", rerr.msg);
		reel_model_free(m);
		return EXIT_RUNTIME;
	}
	int rank0 = reel_reduce_rank(ranks) == 0;
	if (rank0 && ranks)
		fprintf(stderr, "reel: data parallel over %d processes (each takes its part of every batch of %d)\n",
		        ranks->size, m->train.batch_size);
	if (rank0)
		fprintf(stderr, "reel: training %s (task %s, %zu parameters) into %s\n", a->config, reel_task_name(m->task), np,
		        dir);
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
	reel_train_opts o = {.dir = dir, .force = a->force, .resume = a->resume, .log = rank0 ? stderr : NULL,
	                     .tty = isatty(2), .stop = &stop_flag};
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
	if (!rank0) { /* rank 0 reports and draws */
		reel_model_free(m);
		return 0;
	}
	if (res.already_finished) {
		printf("%s: the run already finished (%ld updates, %d epochs); nothing to do (raise train.steps or train.epochs "
		       "with --set to train further)\n", dir, res.steps, res.epochs);
		reel_model_free(m);
		return 0;
	}
	int show = a->show >= 0 ? a->show : 3;
	char loss_svg[4200], attn_svg[4200];
	snprintf(loss_svg, sizeof loss_svg, "%s/loss.svg", dir);
	snprintf(attn_svg, sizeof attn_svg, "%s/attention.svg", dir);
	int drew_attn = 0;
	if (m->is_s2s && show > 0) {
		st = reel_infer_show_examples(m, show, stdout, m->s2s.o.attention != REEL_ATTN_NONE ? attn_svg : NULL, &err);
		if (st != REEL_OK) {
			fprintf(stderr, "reel: %s\n", err.msg);
			rc = EXIT_RUNTIME;
		} else {
			drew_attn = m->s2s.o.attention != REEL_ATTN_NONE;
		}
	}
	const char *run_dir = dir;
	int drew_loss = reel_plot_runs(&run_dir, 1, loss_svg, &err) == REEL_OK;
	if (!drew_loss)
		fprintf(stderr, "reel: plotting the run: %s\n", err.msg);
	printf("\n%s %ld updates (%d epoch%s) in %.1f s%s", res.interrupted ? "interrupted after" : "trained", res.steps,
	       res.epochs, res.epochs == 1 ? "" : "s", res.seconds, res.stopped_early ? ", stopped early" : "");
	if (res.skipped)
		printf(", %ld of them skipped for non-finite values", res.skipped);
	if (res.ranks > 1)
		printf(" on %d processes (%.2f s, %.1f%%, in %ld MPI_Allreduce calls)", res.ranks, res.reduce_seconds,
		       res.seconds > 0 ? 100 * res.reduce_seconds / res.seconds : 0, res.reduce_calls);
	printf("; ");
	if (res.valid.n) {
		printf("validation: ");
		reel_metrics_print(&res.valid, stdout);
		printf("\nbest validation at update %ld: ", res.best_step);
		reel_metrics_print(&res.best, stdout);
	}
	printf("\nwrote %s/ (config.json, metrics.jsonl, last.safetensors%s%s%s)\n", dir,
	       res.best.n ? ", best.safetensors" : "", drew_loss ? ", loss.svg" : "", drew_attn ? ", attention.svg" : "");
	if (drew_loss)
		printf("loss curves: %s\n", loss_svg);
	if (drew_attn)
		printf("attention: %s\n", attn_svg);
	reel_model_free(m);
	return rc;
}

static reel_data_split split_of(const args *a, reel_data_split def)
{
	if (!a->split)
		return def;
	return !strcmp(a->split, "test") ? REEL_TEST : !strcmp(a->split, "valid") ? REEL_VALID : REEL_TRAIN;
}

static const char *split_name(reel_data_split s)
{
	return s == REEL_TEST ? "test" : s == REEL_VALID ? "valid" : "train";
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
	reel_data_split split = split_of(a, REEL_TEST);
	reel_eval_report rep;
	reel_set_threads(m->train.threads);
	if (reel_infer_evaluate(m, split, &rep, &err) != REEL_OK) {
		fprintf(stderr, "reel: %s\n", err.msg);
		reel_eval_report_deinit(&rep);
		reel_model_free(m);
		return EXIT_RUNTIME;
	}
	reel_status st = a->free_run ? reel_infer_forecast(m, split, a->free_run, &rep, &err) : REEL_OK;
	if (st != REEL_OK) {
		fprintf(stderr, "reel: %s%s\n", err.msg, st == REEL_ERR_ARG ? "\n(reel eval --help for usage)" : "");
		reel_eval_report_deinit(&rep);
		reel_model_free(m);
		return st == REEL_ERR_ARG ? EXIT_USAGE : EXIT_RUNTIME;
	}
	reel_eval_report_print(m, &rep, split_name(split), a->json, stdout);
	reel_eval_report_deinit(&rep);
	reel_model_free(m);
	return 0;
}

/* Non-blank lines of path (or stdin when NULL or "-"), without their line
 * ends.  Returns the count, or -1 after printing why. */
static int read_lines(const char *path, char ***out)
{
	*out = NULL;
	FILE *f = path && strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		fprintf(stderr, "reel: %s: cannot open: %s\n", path, strerror(errno));
		return -1;
	}
	char **lines = NULL, *line = NULL;
	size_t cap = 0, lcap = 0;
	int n = 0;
	ssize_t len;
	while ((len = getline(&line, &lcap, f)) > 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		int blank = 1;
		for (ssize_t i = 0; i < len && blank; i++)
			blank = line[i] == ' ' || line[i] == '\t';
		if (blank)
			continue;
		if ((size_t)n == cap) {
			cap = cap ? 2 * cap : 64;
			char **nl = realloc(lines, cap * sizeof *nl);
			if (!nl || n == INT32_MAX - 1)
				goto oom;
			lines = nl;
		}
		if (!(lines[n] = strdup(line)))
			goto oom;
		n++;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	*out = lines;
	return n;
oom:
	fprintf(stderr, "reel: out of memory reading the input\n");
	for (int i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	free(line);
	if (f != stdin)
		fclose(f);
	return -1;
}

static void free_lines(char **lines, int n)
{
	for (int i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

/* Model from CONFIG with the parameters of --params loaded; exit code on failure. */
static int load_trained(const args *a, reel_model **m)
{
	if (!a->params)
		return usage_error("%s needs --params FILE (e.g. runs/NAME/best.safetensors)", a->verb);
	int rc = load_model(a, m);
	if (rc)
		return rc;
	reel_err err = {0};
	if (reel_model_load(*m, a->params, &err) != REEL_OK) {
		fprintf(stderr, "reel: %s\n", err.msg);
		reel_model_free(*m);
		return EXIT_RUNTIME;
	}
	reel_set_threads((*m)->train.threads);
	return 0;
}

/* The verb refused for the loaded model's task: says so, frees m. */
static int wrong_task(reel_model *m, const char *verb, const char *tasks)
{
	fprintf(stderr, "reel: %s serves %s models; %s is a %s model\n(reel %s --help for usage)\n", verb, tasks,
	        reel_cfg_name(m->cfg), reel_task_name(m->task), verb);
	reel_model_free(m);
	return EXIT_USAGE;
}

/* decode for a ctc model: the examples of a split, greedy or a prefix beam */
static int cmd_decode_ctc(const args *a, reel_model *m)
{
	const char *bad = a->input ? "--input" : a->attention ? "--attention" : a->attention_svg ? "--attention-svg"
	                : a->has_alpha ? "--length-penalty" : NULL;
	if (bad) {
		fprintf(stderr, "reel: decode: %s does not apply to ctc models (%s), which decode the examples of a split "
		        "(--split valid|test)\n(reel decode --help for usage)\n", bad, a->config);
		reel_model_free(m);
		return EXIT_USAGE;
	}
	reel_decode_opts o = {.beam = a->beam ? a->beam : 1, .n_best = a->n_best ? a->n_best : 1, .scores = a->scores};
	if (o.n_best > o.beam) {
		reel_model_free(m);
		fprintf(stderr, "reel: --n-best %d needs a beam at least as wide (--beam %d)\n", o.n_best, o.beam);
		return EXIT_USAGE;
	}
	reel_err err = {0};
	int rc = 0;
	reel_set_threads(m->train.threads);
	if (reel_infer_ctc_split(m, split_of(a, REEL_TEST), &o, stdout, &err) != REEL_OK) {
		fprintf(stderr, "reel: %s\n", err.msg);
		rc = EXIT_RUNTIME;
	}
	reel_model_free(m);
	return rc;
}

static int cmd_decode(const args *a)
{
	reel_model *m;
	int rc = load_trained(a, &m);
	if (rc)
		return rc;
	if (!m->is_s2s && m->task != REEL_TASK_CTC)
		return wrong_task(m, "decode", "seq2seq and ctc");
	if (m->task == REEL_TASK_CTC)
		return cmd_decode_ctc(a, m);
	reel_decode_opts o = reel_decode_defaults(m);
	if (a->beam)
		o.beam = a->beam;
	if (a->n_best)
		o.n_best = a->n_best;
	if (a->has_alpha)
		o.alpha = a->alpha;
	o.scores = a->scores;
	o.attention = a->attention;
	o.attention_svg = a->attention_svg;
	if (o.n_best > o.beam) {
		reel_model_free(m);
		fprintf(stderr, "reel: --n-best %d needs a beam at least as wide (--beam %d)\n", o.n_best, o.beam);
		return EXIT_USAGE;
	}
	if ((o.attention || o.attention_svg) && m->s2s.o.attention == REEL_ATTN_NONE) {
		reel_model_free(m);
		fprintf(stderr, "reel: %s has no attention to show\n", a->config);
		return EXIT_USAGE;
	}
	char **lines;
	int n = read_lines(a->input, &lines);
	if (n <= 0) {
		if (n == 0)
			fprintf(stderr, "reel: decode: the input (%s) is empty: expected one source per line\n",
			        a->input ? a->input : "stdin");
		reel_model_free(m);
		return n == 0 ? EXIT_USAGE : EXIT_RUNTIME;
	}
	reel_err err = {0};
	if (reel_infer_decode_lines(m, lines, n, &o, stdout, &err) != REEL_OK) {
		fprintf(stderr, "reel: %s\n", err.msg);
		rc = EXIT_RUNTIME;
	}
	free_lines(lines, n);
	reel_model_free(m);
	return rc;
}

static int cmd_sample(const args *a)
{
	reel_model *m;
	int rc = load_trained(a, &m);
	if (rc)
		return rc;
	if (m->task != REEL_TASK_LM)
		return wrong_task(m, "sample", "language (lm)");
	reel_sample_opts o = {.prime = a->prime, .temperature = a->temperature, .top_k = a->top_k, .length = a->length,
	                      .seed = (uint64_t)a->seed};
	reel_err err = {0};
	if (reel_infer_sample(m, &o, stdout, &err) != REEL_OK) {
		fprintf(stderr, "reel: %s\n", err.msg);
		rc = EXIT_RUNTIME;
	}
	reel_model_free(m);
	return rc;
}

static int cmd_predict(const args *a)
{
	reel_model *m;
	int rc = load_trained(a, &m);
	if (rc)
		return rc;
	if (m->task == REEL_TASK_LM || m->task == REEL_TASK_SEQ2SEQ)
		return wrong_task(m, "predict", "classify, tag, regress and ctc");
	reel_err err = {0};
	reel_status st;
	if (m->task == REEL_TASK_CTC && (a->input || a->probs || a->svg)) {
		fprintf(stderr, "reel: predict: %s does not apply to ctc models (%s): predict over a split (--split valid|test)"
		        "\n(reel predict --help for usage)\n", a->input ? "--input" : a->probs ? "--probs" : "--svg", a->config);
		reel_model_free(m);
		return EXIT_USAGE;
	}
	if (m->task == REEL_TASK_CTC) {
		reel_decode_opts o = {.beam = 1, .n_best = 1};
		st = reel_infer_ctc_split(m, split_of(a, REEL_TEST), &o, stdout, &err);
	} else if (a->input) {
		if (!m->info.tokens_in || m->task == REEL_TASK_REGRESS) {
			fprintf(stderr, "reel: predict --input reads text lines for classify and tag models; for %s, "
			                "predict over a split (--split valid|test)\n",
			        a->config);
			reel_model_free(m);
			return EXIT_USAGE;
		}
		char **lines;
		int n = read_lines(a->input, &lines);
		if (n <= 0) {
			if (n == 0)
				fprintf(stderr, "reel: predict: the input (%s) is empty: expected one sequence per line\n", a->input);
			reel_model_free(m);
			return n == 0 ? EXIT_USAGE : EXIT_RUNTIME;
		}
		st = reel_infer_predict_lines(m, lines, n, a->probs, stdout, &err);
		free_lines(lines, n);
	} else {
		if (a->svg && m->task != REEL_TASK_REGRESS) {
			reel_model_free(m);
			return usage_error("--svg draws regression models' predictions, not %s", reel_task_name(m->task));
		}
		st = reel_infer_predict_split(m, split_of(a, REEL_TEST), a->probs, stdout, a->svg, &err);
	}
	if (st != REEL_OK) {
		fprintf(stderr, "reel: %s\n", err.msg);
		rc = EXIT_RUNTIME;
	}
	reel_model_free(m);
	return rc;
}

static int cmd_plot(const args *a)
{
	if (a->npos < 1)
		return usage_error("%s needs a run DIR (with metrics.jsonl)", "plot");
	char out[4200];
	if (a->out)
		snprintf(out, sizeof out, "%s", a->out);
	else if (a->npos == 1)
		snprintf(out, sizeof out, "%s/loss.svg", a->pos[0]);
	else
		snprintf(out, sizeof out, "runs.svg");
	reel_err err = {0};
	if (reel_plot_runs(a->pos, a->npos, out, &err) != REEL_OK) {
		fprintf(stderr, "reel: %s\n", err.msg);
		return err.code == REEL_ERR_IO ? EXIT_USAGE : EXIT_RUNTIME;
	}
	printf("wrote %s\n", out);
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

static int cmd_baseline(const args *a)
{
	reel_model *m;
	int rc = load_model(a, &m);
	if (rc)
		return rc;
	reel_err err = {0};
	reel_baseline_report r;
	reel_data_split sp = split_of(a, REEL_TEST);
	if (reel_baseline_series(m, a->order, sp, &r, &err) != REEL_OK) {
		fprintf(stderr, "reel: %s: %s\n", a->config, err.msg);
		reel_model_free(m);
		return err.code == REEL_ERR_ARG ? EXIT_USAGE : EXIT_RUNTIME;
	}
	if (a->json)
		printf("{\"split\": \"%s\", \"horizon\": %d, \"persistence\": {\"mse\": %.6g, \"mae\": %.6g}, "
		       "\"ar\": {\"order\": %d, \"mse\": %.6g, \"mae\": %.6g}}\n",
		       split_name(sp), r.horizon, r.mse_persistence, r.mae_persistence, r.order, r.mse_ar, r.mae_ar);
	else
		printf("%s: horizon %d  persistence mse %.5g mae %.5g  AR(%d) mse %.5g mae %.5g\n", split_name(sp), r.horizon,
		       r.mse_persistence, r.mae_persistence, r.order, r.mse_ar, r.mae_ar);
	reel_model_free(m);
	return 0;
}

/* Every verb: its name, its command (NULL: handled in main) and its --help. */
static const struct verb {
	const char *name;
	int (*run)(const args *a);
	const char *help;
} VERBS[] = {
	{"train", cmd_train,
	 "usage: reel train CONFIG [-o DIR] [--set path=value]... [--force | --resume] [--show N]\n"
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
		       "  --init-prefix FROM=TO  the file's FROM+X initialises the model's TO+X\n"},
	{"eval", cmd_eval,
	 "usage: reel eval CONFIG --params FILE [--split valid|test] [--free-run H] [--json] [--set path=value]...\n"
		       "  Loads the parameters in FILE (e.g. DIR/best.safetensors) into the model CONFIG\n"
		       "  declares and prints the task's metrics on the split (default test): loss and\n"
		       "  accuracy with a confusion matrix (classify), per-tag accuracy (tag), perplexity and\n"
		       "  bits per token/character (lm), exact match, token accuracy and character error\n"
		       "  rate (seq2seq), MSE, MAE and R^2 (regress).  --json: one JSON object.\n"
		       "  --free-run H   per-step series regress (targets = the inputs one step on): also\n"
		       "                 forecast free running, each window's first T - H + 1 inputs true,\n"
		       "                 the rest the model's own outputs, and print the MSE of the\n"
		       "                 forecasts 1..H steps after the last true value\n"},
	{"decode", cmd_decode,
	 "usage: reel decode CONFIG --params FILE [--input FILE] [options] [--set path=value]...\n"
		       "  Decodes every non-blank line of FILE (default: stdin) with the seq2seq model, one\n"
		       "  output line per source.  Sources are tokenized with the config's vocabulary;\n"
		       "  unknown tokens become <unk> (an error when the vocabulary has none).\n"
		       "  --beam N             beam search of width N (default: the config's decode.beam)\n"
		       "  --n-best K           print the K best of the beam: LINE<TAB>RANK<TAB>OUTPUT\n"
		       "  --length-penalty A   beam score = sum log p / length^A (default: decode.alpha)\n"
		       "  --scores             append <TAB>SCORE (sum of log-probabilities; beam: normalised)\n"
		       "  --attention          print each attention matrix as text (rows: outputs)\n"
		       "  --attention-svg F    draw the first source's attention into F\n"
		       "  ctc models decode the examples of a split instead (--split valid|test, default\n"
		       "  test): DECODED<TAB>ACTUAL, labels space-separated; greedy (best path, repeats\n"
		       "  merged, blanks dropped), or with --beam N a prefix beam search; --n-best K:\n"
		       "  EXAMPLE<TAB>RANK<TAB>DECODED<TAB>ACTUAL; --scores appends the log-probability\n"
		       "  (greedy: of the best path; beam: of the labelling)\n"},
	{"sample", cmd_sample,
	 "usage: reel sample CONFIG --params FILE [options] [--set path=value]...\n"
		       "  Generates text from a language model, one token at a time, carrying the\n"
		       "  recurrent state.  The prime (if any) is printed first.\n"
		       "  --prime TEXT         text to start from (default: a line start)\n"
		       "  --temperature T      divide logits by T (default 1; 0: always the most likely)\n"
		       "  --top-k K            draw among the K most likely tokens (default 0: all)\n"
		       "  --length N           tokens to generate (default 200)\n"
		       "  --seed S             random seed (default 1)\n"},
	{"predict", cmd_predict,
	 "usage: reel predict CONFIG --params FILE [--input FILE | --split valid|test] [--probs] [--svg FILE]\n"
		       "  classify, tag: with --input, one prediction per line of FILE (a sequence, or the\n"
		       "  labelled format's label<TAB>sequence, whose label is ignored): LABEL, or one TAG per\n"
		       "  token.  Without --input, every example of the split (default test):\n"
		       "  PREDICTED<TAB>ACTUAL.  regress: the split's examples, PREDICTED<TAB>ACTUAL.\n"
		       "  ctc: the split's greedy decodings, DECODED<TAB>ACTUAL (labels space-separated;\n"
		       "  reel decode has the beam search)\n"
		       "  --probs              classify: every class probability; tag: the chosen tag's\n"
		       "  --svg FILE           regress: draw predicted and actual over the split\n"},
	{"baseline", cmd_baseline,
	 "usage: reel baseline CONFIG [--split valid|test] [--order P] [--json] [--set path=value]...\n"
	 "  Forecasts of a series regress config (one target after the window, targets = inputs)\n"
	 "  that a model must beat, on the config's own windows and units (as reel eval):\n"
	 "  persistence (the window's last value) and a linear autoregression AR(P) fitted by\n"
	 "  least squares on the training windows.  MSE and MAE on the split (default test).\n"
	 "  --order P            AR order (default: the best validation MSE in 1..window)\n"},
	{"plot", cmd_plot,
	 "usage: reel plot DIR [DIR...] [-o FILE.svg]\n"
		       "  Draws loss against step (training and validation, log scale), the task's validation\n"
		       "  metric and the learning rate from each DIR/metrics.jsonl, one colour per run.\n"
		       "  Default output: DIR/loss.svg for one run, runs.svg for several.\n"},
	{"info", cmd_info,
	 "usage: reel info CONFIG [--set path=value]...\n"
		       "  Prints each layer, its output shape, every parameter's name and shape, counts\n"
		       "  per layer and in total, and the memory a training step needs.\n"},
	{"check", cmd_check,
	 "usage: reel check CONFIG [--set path=value]...\n"
		       "  Validates the config (every error at once), opens its data, and runs one\n"
		       "  forward and backward step on one training batch, without training.\n"},
	{"grad", cmd_grad,
	 "usage: reel grad CONFIG --params FILE --batch FILE -o OUT [--set path=value]...\n"
		       "  One forward and backward pass (dropout off) on the batch in FILE (safetensors:\n"
		       "  tokens (T, B) or inputs (T, B, F), optional lengths (B), labels or targets; seq2seq:\n"
		       "  src (S, B), src_len (B), tgt (T, B)).  Writes OUT with loss, outputs and grad.<name>\n"
		       "  for every parameter: the door for comparing reel with PyTorch on any model.\n"
		       "  --params may be a PyTorch state_dict saved with safetensors.torch.save_file.\n"},
	{"export", cmd_export,
	 "usage: reel export CONFIG [--params FILE] [--set path=value]...\n"
		       "  Prints a self-contained PyTorch module (Python source) for the model CONFIG declares:\n"
		       "  its state_dict names and shapes are reel's parameters, so FILE (a reel checkpoint or\n"
		       "  a PyTorch state_dict in safetensors) loads with load_state_dict unchanged; forward\n"
		       "  computes what reel computes in eval mode, reel_loss reel's loss.  --params FILE is\n"
		       "  checked against the model first and is what the source's __main__ block loads.\n"
		       "  Layer kinds PyTorch lacks (mgu) are an error naming the layer (exit 1).\n"},
	{"gradcheck", cmd_gradcheck,
	 "usage: reel gradcheck CONFIG [--per-param N] [--set path=value]...\n"
		       "  Central finite differences of the loss against the model's gradients on one\n"
		       "  training batch, N elements of every parameter (default 16); prints the worst\n"
		       "  relative error per parameter; exit 1 above tolerance.  Meant for the double\n"
		       "  build (build/d/reel, tolerance 1e-5 relative); the float build is loose.\n"},
	{"list", NULL,
	 "usage: reel list\n  Prints every layer type and every config key: type, default, meaning.\n"},
};

static const char *verb_help(const char *verb)
{
	for (size_t i = 0; i < sizeof VERBS / sizeof VERBS[0]; i++)
		if (!strcmp(verb, VERBS[i].name))
			return VERBS[i].help;
	return NULL;
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
	if (!h) {
		const char *near = NULL;
		int best = 3;
		fprintf(stderr, "reel: unknown verb \"%s\" (", a.verb);
		for (size_t i = 0; i < sizeof VERBS / sizeof VERBS[0]; i++) {
			fprintf(stderr, "%s%s", i ? ", " : "", VERBS[i].name);
			int d = reel_cfg_distance(a.verb, VERBS[i].name);
			if (d < best) {
				best = d;
				near = VERBS[i].name;
			}
		}
		fprintf(stderr, ")");
		if (near)
			fprintf(stderr, "; did you mean \"%s\"?", near);
		fprintf(stderr, "\n(reel --help for usage)\n");
		return EXIT_USAGE;
	}
	if (a.help) {
		fputs(h, stdout);
		return 0;
	}
	if (strcmp(a.verb, "plot") && a.npos > 1)
		return usage_error("unexpected argument \"%s\"", a.pos[1]);
	if (!strcmp(a.verb, "train")) {
		/* under mpirun: data parallel (reduce.h); otherwise NULL, one process */
		reel_err err = {0};
		ranks = reel_reduce_mpi_new(&argc, &argv, &err);
		if (!ranks && err.code) {
			fprintf(stderr, "reel: %s\n", err.msg);
			return EXIT_RUNTIME;
		}
		rc = cmd_train(&a);
		reel_reduce_free(ranks, rc);
		return rc;
	}
	for (size_t i = 0; i < sizeof VERBS / sizeof VERBS[0]; i++)
		if (VERBS[i].run && !strcmp(a.verb, VERBS[i].name))
			return VERBS[i].run(&a);
	if (a.config)
		return usage_error("list takes no CONFIG, found \"%s\"", a.config);
	reel_model_describe(stdout);
	return 0;
}
