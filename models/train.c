/* The training loop (see train.h). */
#include "train.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- files ------------------------------------------------------------------------ */

static reel_status mkdirs(const char *dir, reel_err *err)
{
	char buf[4096];
	if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
		return reel_err_set(err, REEL_ERR_IO, "%s: path too long", dir);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0777) != 0 && errno != EEXIST)
			return reel_err_set(err, REEL_ERR_IO, "%s: cannot create: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0777) != 0 && errno != EEXIST)
		return reel_err_set(err, REEL_ERR_IO, "%s: cannot create: %s", buf, strerror(errno));
	return REEL_OK;
}

reel_status reel_run_dir(const char *dir, int force, reel_err *err)
{
	struct stat sb;
	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode))
			return reel_err_set(err, REEL_ERR_IO, "%s: exists and is not a directory", dir);
		DIR *d = opendir(dir);
		if (!d)
			return reel_err_set(err, REEL_ERR_IO, "%s: cannot open: %s", dir, strerror(errno));
		int empty = 1;
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				empty = 0;
		closedir(d);
		if (!empty && !force)
			return reel_err_set(err, REEL_ERR_IO,
			                    "%s: not empty (a previous run?): choose another -o, or pass --force to overwrite it", dir);
		return REEL_OK;
	}
	return mkdirs(dir, err);
}

reel_status reel_write_file_atomic(const char *path, const char *text, reel_err *err)
{
	char tmp[4200];
	if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return reel_err_set(err, REEL_ERR_IO, "%s: path too long", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return reel_err_set(err, REEL_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
	size_t n = strlen(text), done = 0;
	while (done < n) {
		ssize_t w = write(fd, text + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno;
			close(fd);
			unlink(tmp);
			return reel_err_set(err, REEL_ERR_IO, "%s: write failed: %s", tmp, strerror(e));
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		unlink(tmp);
		return reel_err_set(err, REEL_ERR_IO, "%s: cannot flush: %s", tmp, strerror(errno));
	}
	if (rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return reel_err_set(err, REEL_ERR_IO, "%s: cannot rename into place: %s", path, strerror(e));
	}
	char dir[4200];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof dir, ".");
	int dfd = open(dir, O_RDONLY);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return REEL_OK;
}

/* ---- metrics ---------------------------------------------------------------------- */

static int is_rate(const char *name)
{
	return !strcmp(name, "accuracy") || !strcmp(name, "exact_match") || !strcmp(name, "token_accuracy");
}

void reel_metrics_print(const reel_metrics *mt, FILE *f)
{
	for (int i = 0; i < mt->n; i++) {
		if (is_rate(mt->name[i]))
			fprintf(f, "%s%s %.2f%%", i ? "  " : "", mt->name[i], 100 * mt->value[i]);
		else
			fprintf(f, "%s%s %.5g", i ? "  " : "", mt->name[i], mt->value[i]);
	}
}

static void metrics_json(FILE *f, long step, int epoch, double elapsed, const reel_metrics *mt)
{
	fprintf(f, "{\"step\": %ld, \"epoch\": %d, \"elapsed_s\": %.3f", step, epoch, elapsed);
	for (int i = 0; i < mt->n; i++)
		fprintf(f, ", \"%s\": %.9g", mt->name[i], mt->value[i]);
	fprintf(f, "}\n");
	fflush(f);
}

static int better(const reel_train_cfg *tr, double v, double best)
{
	return tr->metric_max ? v > best : v < best;
}

static void fmt_time(double s, char *out, size_t n)
{
	if (!(s >= 0) || s > 1e7)
		snprintf(out, n, "--:--");
	else if (s >= 3600)
		snprintf(out, n, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
	else
		snprintf(out, n, "%d:%02d", (int)s / 60, (int)s % 60);
}

/* ---- the loop --------------------------------------------------------------------------- */

typedef struct loop {
	reel_model *m;
	const reel_train_opts *o;
	reel_tape *t;
	reel_optim *opt;
	FILE *metrics;
	char dir[4096];
	double t0, lr0;
	long total;        /* updates planned (an estimate with epochs) */
	int *sub_len;      /* lengths of a time slice (truncated BPTT) */
	int sub_cap;
} loop;

static reel_status save_params(loop *L, const char *name, reel_err *err)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", L->dir, name);
	return reel_model_save(L->m, path, err);
}

/* One update from batch b (with truncated BPTT for streams).  *loss gets the
 * batch's mean loss, *gnorm the gradient norm before clipping. */
static reel_status update(loop *L, reel_batch *b, long step, double *loss, double *gnorm, reel_err *err)
{
	reel_model *m = L->m;
	const reel_train_cfg *tr = &m->train;
	int carry = m->task == REEL_TASK_LM && m->data_opts.stream ? 1 : 0;
	reel_tape_reset(L->t);
	reel_params_zero_grad(m->ps);
	reel_batch g = *b;
	int k2 = tr->bptt_k2;
	if (carry && k2 > 0 && k2 < b->T) {
		/* the first T - k2 steps only move the carried state forward */
		int pre = b->T - k2;
		if (L->sub_cap < b->B) {
			free(L->sub_len);
			L->sub_len = malloc((size_t)b->B * sizeof *L->sub_len);
			L->sub_cap = L->sub_len ? b->B : 0;
			if (!L->sub_len)
				return reel_err_set(err, REEL_ERR_NOMEM, "train: out of memory");
		}
		reel_batch h = *b;
		h.T = pre;
		h.lengths = L->sub_len;
		for (int i = 0; i < b->B; i++)
			L->sub_len[i] = pre;
		int prev = reel_tape_set_grad(L->t, 0);
		reel_tensor *hl = reel_model_loss(L->t, m, &h, 1.0, carry, NULL);
		reel_tape_set_grad(L->t, prev);
		if (!hl)
			return reel_err_set(err, reel_tape_status(L->t), "step %ld: %s", step, reel_tape_error(L->t));
		reel_tape_reset(L->t);
		g.T = k2;
		g.tokens = b->tokens + (size_t)pre * b->B;
		g.labels = b->labels + (size_t)pre * b->B;
		g.lengths = L->sub_len;
		for (int i = 0; i < b->B; i++)
			L->sub_len[i] = k2;
		g.stream_reset = 0;
	}
	double tf = tr->tf_start;
	if (tr->tf_steps > 0)
		tf += (tr->tf_end - tr->tf_start) * fmin(1.0, (double)step / (double)tr->tf_steps);
	reel_tensor *l = reel_model_loss(L->t, m, &g, tf, carry, NULL);
	if (!l || reel_backward(L->t, l) != REEL_OK)
		return reel_err_set(err, reel_tape_status(L->t), "step %ld: %s", step + 1, reel_tape_error(L->t));
	*loss = l->data[0];
	*gnorm = reel_clip_grad_norm(m->ps, tr->clip_norm > 0 ? tr->clip_norm : INFINITY);
	if (tr->clip_value > 0)
		reel_clip_grad_value(m->ps, tr->clip_value);
	reel_optim_set_lr(L->opt, reel_sched_lr(&tr->sched, L->lr0, step));
	reel_status st = reel_optim_step(L->opt, *loss, err);
	if (st != REEL_OK) {
		char msg[sizeof err->msg];
		snprintf(msg, sizeof msg, "%s", err->msg);
		return reel_err_set(err, st, "step %ld: %s (the parameters were not changed; on_nonfinite \"skip\" skips such steps)",
		                    step + 1, msg);
	}
	return REEL_OK;
}

static void progress(loop *L, long step, int epoch, double avg, double gnorm, double seqs, int final)
{
	const reel_train_opts *o = L->o;
	if (!o->log)
		return;
	double el = now() - L->t0, rate = el > 0 ? seqs / el : 0;
	char eta[16], elapsed[16], tot[32];
	fmt_time(step > 0 && L->total > step ? el * (double)(L->total - step) / (double)step : 0, eta, sizeof eta);
	fmt_time(el, elapsed, sizeof elapsed);
	if (L->total > 0)
		snprintf(tot, sizeof tot, "/%ld", L->total);
	else
		tot[0] = 0;
	fprintf(o->log, "%sstep %ld%s  epoch %d  loss %.4f  lr %.2e  |g| %.3g  %.0f seq/s  %s elapsed, ETA %s%s",
	        o->tty ? "\r\033[K" : "", step, tot, epoch, avg, reel_optim_lr(L->opt), gnorm, rate, elapsed, eta,
	        o->tty && !final ? "" : "\n");
	fflush(o->log);
}

static reel_status validate(loop *L, long step, int epoch, reel_train_result *res, int *improved, reel_err *err)
{
	reel_model *m = L->m;
	reel_metrics mt;
	reel_status st = reel_model_evaluate(m, REEL_VALID, m->train.valid_batches, &mt, err);
	if (st != REEL_OK)
		return st;
	res->valid = mt;
	metrics_json(L->metrics, step, epoch, now() - L->t0, &mt);
	int k = m->train.metric;
	*improved = res->best.n == 0 || better(&m->train, mt.value[k], res->best.value[k]);
	if (*improved) {
		res->best = mt;
		res->best_step = step;
		if ((st = save_params(L, "best.safetensors", err)) != REEL_OK)
			return st;
	}
	if (m->train.plateau) {
		double lr = reel_plateau_step(&m->train.plateau_opts, mt.value[0], L->lr0);
		L->lr0 = lr;
	}
	if (L->o->log) {
		fprintf(L->o->log, "%svalid @ %ld: ", L->o->tty ? "\r\033[K" : "", step);
		reel_metrics_print(&mt, L->o->log);
		fprintf(L->o->log, "%s\n", *improved ? "  (best)" : "");
	}
	return REEL_OK;
}

reel_status reel_train(reel_model *m, const reel_train_opts *o, reel_train_result *res, reel_err *err)
{
	memset(res, 0, sizeof *res);
	const reel_train_cfg *tr = &m->train;
	loop L = {.m = m, .o = o};
	reel_status st = reel_run_dir(o->dir, o->force, err);
	if (st != REEL_OK)
		return st;
	snprintf(L.dir, sizeof L.dir, "%s", o->dir);
	char path[4200];
	char *cfg = reel_cfg_print(m->cfg);
	if (!cfg)
		return reel_err_set(err, REEL_ERR_NOMEM, "train: out of memory");
	snprintf(path, sizeof path, "%s/config.json", L.dir);
	size_t cl = strlen(cfg);
	char *cfgnl = malloc(cl + 2);
	if (cfgnl) {
		memcpy(cfgnl, cfg, cl);
		cfgnl[cl] = '\n';
		cfgnl[cl + 1] = 0;
	}
	st = cfgnl ? reel_write_file_atomic(path, cfgnl, err) : reel_err_set(err, REEL_ERR_NOMEM, "train: out of memory");
	free(cfg);
	free(cfgnl);
	if (st != REEL_OK)
		return st;
	snprintf(path, sizeof path, "%s/metrics.jsonl", L.dir);
	L.metrics = fopen(path, "w");
	if (!L.metrics)
		return reel_err_set(err, REEL_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
	if (reel_set_threads(tr->threads) != REEL_OK)
		return reel_err_set(err, REEL_ERR_ARG, "train: cannot use %d threads", tr->threads);
	L.t = reel_tape_new(0, tr->seed ^ 0x7a9e);
	L.opt = reel_optim_new(m->ps, &tr->optim, err);
	if (!L.t || !L.opt) {
		st = L.opt ? reel_err_set(err, REEL_ERR_NOMEM, "train: out of memory") : err->code;
		goto out;
	}
	L.lr0 = tr->optim.lr;
	reel_data_info info = m->info;
	long per_epoch = info.n[REEL_TRAIN] > 0 ? (info.n[REEL_TRAIN] + tr->batch_size - 1) / tr->batch_size : 0;
	if (m->task == REEL_TASK_LM && m->data_opts.stream && info.n[REEL_TRAIN] > 0)
		per_epoch = info.n[REEL_TRAIN] / ((long)tr->batch_size * m->data_opts.seq_len);
	L.total = tr->steps ? tr->steps : per_epoch * tr->epochs;
	if (m->train.sched.kind == REEL_SCHED_COSINE && m->train.sched.t_max == 0)
		m->train.sched.t_max = (int)(L.total > m->train.sched.warmup_steps ? L.total - m->train.sched.warmup_steps : 1);
	long log_every = tr->log_every ? tr->log_every : (L.total >= 50 ? L.total / 50 : 1);
	long valid_every = tr->valid_every;
	L.t0 = now();
	double avg = 0, gnorm = 0, seqs = 0;
	int bad = 0;
	long step = 0;
	int epoch = 0, epoch_steps = 0;
	for (;;) {
		if (tr->steps && step >= tr->steps)
			break;
		if (o->stop && *o->stop) {
			res->interrupted = 1;
			break;
		}
		reel_batch b;
		int r = reel_data_next(m->data, REEL_TRAIN, tr->batch_size, &b, err);
		if (r < 0) {
			st = err->code ? err->code : REEL_ERR_IO;
			goto out;
		}
		if (r == 0) { /* the end of a pass over the training data */
			if (epoch_steps == 0) {
				st = reel_err_set(err, REEL_ERR_IO, "train: the training split gave no batch (is it empty?)");
				goto out;
			}
			epoch++;
			epoch_steps = 0;
			res->epochs = epoch;
			if (!valid_every) {
				int improved;
				if ((st = validate(&L, step, epoch, res, &improved, err)) != REEL_OK)
					goto out;
				bad = improved ? 0 : bad + 1;
				if (tr->patience && bad >= tr->patience) {
					res->stopped_early = 1;
					break;
				}
			}
			if (tr->epochs && epoch >= tr->epochs)
				break;
			continue;
		}
		double loss = 0;
		if ((st = update(&L, &b, step, &loss, &gnorm, err)) != REEL_OK)
			goto out;
		step++;
		epoch_steps++;
		seqs += b.B;
		avg = step == 1 ? loss : 0.95 * avg + 0.05 * loss;
		if (step % log_every == 0 || step == L.total) {
			fprintf(L.metrics,
			        "{\"step\": %ld, \"epoch\": %d, \"loss\": %.9g, \"lr\": %.9g, \"grad_norm\": %.9g, \"elapsed_s\": %.3f, "
			        "\"seq_per_s\": %.1f}\n",
			        step, epoch, loss, reel_optim_lr(L.opt), gnorm, now() - L.t0, seqs / (now() - L.t0));
			fflush(L.metrics);
			progress(&L, step, epoch, avg, gnorm, seqs, 0);
		}
		if (valid_every && step % valid_every == 0) {
			int improved;
			if ((st = validate(&L, step, epoch, res, &improved, err)) != REEL_OK)
				goto out;
			bad = improved ? 0 : bad + 1;
			if (tr->patience && bad >= tr->patience) {
				res->stopped_early = 1;
				break;
			}
		}
	}
	if (L.o->log && L.o->tty)
		fprintf(L.o->log, "\n");
	/* a final validation unless the last update was just validated */
	if (step > 0 && !(valid_every && step % valid_every == 0) && !(!valid_every && epoch_steps == 0)) {
		int improved;
		if ((st = validate(&L, step, epoch, res, &improved, err)) != REEL_OK)
			goto out;
	}
	if ((st = save_params(&L, "last.safetensors", err)) != REEL_OK)
		goto out;
	res->steps = step;
	res->seconds = now() - L.t0;
	res->last_loss = avg;
	res->skipped = reel_optim_skipped(L.opt);
out:
	if (L.metrics)
		fclose(L.metrics);
	free(L.sub_len);
	reel_optim_free(L.opt);
	reel_tape_free(L.t);
	return st;
}
