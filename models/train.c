/* The training loop (see train.h). */
#include "train.h"
#include "fault.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
	return reel_write_atomic(path, text, strlen(text), err);
}

/* ---- metrics ---------------------------------------------------------------------- */


void reel_metrics_print(const reel_metrics *mt, FILE *f)
{
	for (int i = 0; i < mt->n; i++) {
		if (reel_metric_is_rate(mt->name[i]))
			fprintf(f, "%s%s %.2f%%", i ? "  " : "", mt->name[i], 100 * mt->value[i]);
		else
			fprintf(f, "%s%s %.5g", i ? "  " : "", mt->name[i], mt->value[i]);
	}
}

static void metrics_json(FILE *f, long step, int epoch, double elapsed, const reel_metrics *mt)
{
	if (!f) /* data parallel: ranks other than 0 write nothing */
		return;
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

/* Where a run is: everything a checkpoint stores besides tensors. */
typedef struct run_state {
	long step;          /* updates made */
	int epoch;          /* passes completed */
	long epoch_steps;   /* updates in the current pass */
	long drawn;         /* calls of reel_data_next on the training split (the data position) */
	uint64_t batch_hash; /* of the last batch drawn: resume checks the replay reaches the same data */
	double avg, seqs, elapsed, lr0;
	int bad;            /* validations without improvement */
	int finished;       /* the run ended (steps or epochs done, or stopped early) */
	reel_rng rng;       /* the tape's: dropout masks, scheduled sampling */
	reel_plateau plateau;
} run_state;

typedef struct loop {
	reel_model *m;
	const reel_train_opts *o;
	reel_tape *t;
	reel_optim *opt;
	FILE *metrics;
	char dir[4096];
	double t0;
	long total;        /* updates planned (an estimate with epochs) */
	long per_epoch;    /* updates per pass over the training data (0: unknown) */
	int *sub_len;      /* lengths of a time slice (truncated BPTT) */
	reel_real *links;  /* randomized truncation: the chunk's link weights */
	int links_cap;
	int sub_cap;
	run_state rs;
	reel_train_result *res;
	/* data parallel: this rank of size (0 of 1: one process); the
	 * checkpoint's rank count when resuming */
	reel_reduce *red;
	int rank, size, ck_ranks;
} loop;

/* FNV-1a over a batch's arrays. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; p && i < n; i++)
		h = (h ^ c[i]) * 1099511628211ULL;
	return h;
}

static uint64_t batch_hash(const reel_batch *b)
{
	uint64_t h = 1469598103934665603ULL;
	size_t TB = (size_t)b->T * b->B;
	h = fnv(h, &b->B, sizeof b->B);
	h = fnv(h, &b->T, sizeof b->T);
	h = fnv(h, b->tokens, b->tokens ? TB * sizeof *b->tokens : 0);
	h = fnv(h, b->inputs, b->inputs ? TB * b->F * sizeof *b->inputs : 0);
	h = fnv(h, b->lengths, b->lengths ? (size_t)b->B * sizeof *b->lengths : 0);
	h = fnv(h, b->src, b->src ? (size_t)b->S * b->B * sizeof *b->src : 0);
	h = fnv(h, b->tgt, b->tgt ? (size_t)b->TT * b->B * sizeof *b->tgt : 0);
	return h;
}

static void rng_hex(const reel_rng *r, char *out, size_t n)
{
	snprintf(out, n, "%016llx%016llx%016llx%016llx", (unsigned long long)r->s[0], (unsigned long long)r->s[1],
	         (unsigned long long)r->s[2], (unsigned long long)r->s[3]);
}

static int hex_rng(const char *s, reel_rng *r)
{
	if (!s || strlen(s) != 64)
		return 0;
	for (int i = 0; i < 4; i++) {
		char part[17];
		memcpy(part, s + 16 * i, 16);
		part[16] = 0;
		char *end;
		r->s[i] = strtoull(part, &end, 16);
		if (*end)
			return 0;
	}
	r->has_spare = 0;
	return 1;
}

/* The run state as JSON for the checkpoint's metadata; caller frees.  NULL
 * if memory ran out (a state missing a key would make the checkpoint
 * unresumable, so every addition is checked). */
static char *state_json(const loop *L)
{
	const run_state *s = &L->rs;
	cJSON *o = cJSON_CreateObject();
	int ok = o != NULL;
	char rng[80], hash[24];
	rng_hex(&s->rng, rng, sizeof rng);
	snprintf(hash, sizeof hash, "%016llx", (unsigned long long)s->batch_hash);
	ok = ok && cJSON_AddNumberToObject(o, "step", (double)s->step);
	ok = ok && cJSON_AddNumberToObject(o, "epoch", s->epoch);
	ok = ok && cJSON_AddNumberToObject(o, "epoch_steps", (double)s->epoch_steps);
	ok = ok && cJSON_AddNumberToObject(o, "batches_drawn", (double)s->drawn);
	ok = ok && cJSON_AddStringToObject(o, "batch_hash", hash);
	ok = ok && cJSON_AddStringToObject(o, "rng", rng);
	ok = ok && cJSON_AddNumberToObject(o, "rng_spare", s->rng.spare);
	ok = ok && cJSON_AddBoolToObject(o, "rng_has_spare", s->rng.has_spare);
	ok = ok && cJSON_AddNumberToObject(o, "avg_loss", s->avg);
	ok = ok && cJSON_AddNumberToObject(o, "sequences", s->seqs);
	ok = ok && cJSON_AddNumberToObject(o, "elapsed_s", s->elapsed);
	ok = ok && cJSON_AddNumberToObject(o, "lr0", s->lr0);
	ok = ok && cJSON_AddNumberToObject(o, "bad_validations", s->bad);
	ok = ok && cJSON_AddBoolToObject(o, "finished", s->finished);
	ok = ok && cJSON_AddNumberToObject(o, "ranks", L->size);
	cJSON *pl = ok ? cJSON_AddObjectToObject(o, "plateau") : NULL;
	ok = ok && pl;
	ok = ok && cJSON_AddNumberToObject(pl, "best", s->plateau.best);
	ok = ok && cJSON_AddNumberToObject(pl, "bad_epochs", s->plateau.bad_epochs);
	ok = ok && cJSON_AddNumberToObject(pl, "cooldown_left", s->plateau.cooldown_left);
	ok = ok && cJSON_AddBoolToObject(pl, "started", s->plateau.started);
	const reel_train_result *r = L->res;
	cJSON *best = ok ? cJSON_AddObjectToObject(o, "best") : NULL;
	ok = ok && best;
	ok = ok && cJSON_AddNumberToObject(best, "step", (double)r->best_step);
	for (int i = 0; i < r->best.n; i++)
		ok = ok && cJSON_AddNumberToObject(best, r->best.name[i], r->best.value[i]);
	char *txt = ok ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	return txt;
}

static int num(const cJSON *o, const char *k, double *v)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsNumber(x) && !cJSON_IsBool(x))
		return 0;
	*v = cJSON_IsBool(x) ? cJSON_IsTrue(x) : x->valuedouble;
	return isfinite(*v) || !strcmp(k, "best");
}

/* Parse the run state back; 0 with err set if anything is missing. */
static int parse_state(loop *L, const char *txt, const char *path, reel_err *err)
{
	cJSON *o = txt ? cJSON_Parse(txt) : NULL;
	run_state *s = &L->rs;
	double v[12];
	static const char *const K[] = {"step", "epoch", "epoch_steps", "batches_drawn", "avg_loss", "sequences",
	                                "elapsed_s", "lr0", "bad_validations", "finished", "rng_spare", "rng_has_spare"};
	int ok = cJSON_IsObject(o);
	for (int i = 0; ok && i < 12; i++)
		if (!num(o, K[i], &v[i])) {
			reel_err_set(err, REEL_ERR_IO, "%s: the training state in the metadata lacks a valid \"%s\"", path, K[i]);
			cJSON_Delete(o);
			return 0;
		}
	const cJSON *rng = ok ? cJSON_GetObjectItemCaseSensitive(o, "rng") : NULL;
	const cJSON *hash = ok ? cJSON_GetObjectItemCaseSensitive(o, "batch_hash") : NULL;
	const cJSON *pl = ok ? cJSON_GetObjectItemCaseSensitive(o, "plateau") : NULL;
	const cJSON *best = ok ? cJSON_GetObjectItemCaseSensitive(o, "best") : NULL;
	if (!ok || !cJSON_IsString(rng) || !hex_rng(rng->valuestring, &s->rng) || !cJSON_IsString(hash) ||
	    !cJSON_IsObject(pl) || !cJSON_IsObject(best) || v[0] < 0 || v[0] > 1e15 || v[3] < 0 || v[3] > 1e15) {
		reel_err_set(err, REEL_ERR_IO, "%s: the training state in the metadata (\"reel.train\") is missing or malformed",
		             path);
		cJSON_Delete(o);
		return 0;
	}
	/* each draw of a training batch is an update or the end of a pass, so
	 * the replay on resume (batches_drawn) is bounded by the updates: a
	 * corrupted count must not make the replay run for hours */
	if (v[1] < 0 || v[1] > v[0] || v[2] < 0 || v[2] > v[0] || v[3] > v[0] + v[1] + 1) {
		reel_err_set(err, REEL_ERR_IO,
		             "%s: the training state is inconsistent: step %.0f, epoch %.0f, epoch_steps %.0f, batches_drawn %.0f",
		             path, v[0], v[1], v[2], v[3]);
		cJSON_Delete(o);
		return 0;
	}
	s->step = (long)v[0];
	s->epoch = (int)v[1];
	s->epoch_steps = (long)v[2];
	s->drawn = (long)v[3];
	s->avg = v[4];
	s->seqs = v[5];
	s->elapsed = v[6];
	s->lr0 = v[7];
	s->bad = (int)v[8];
	s->finished = (int)v[9];
	s->rng.spare = v[10];
	s->rng.has_spare = (int)v[11];
	s->batch_hash = strtoull(hash->valuestring, NULL, 16);
	double p;
	L->ck_ranks = num(o, "ranks", &p) && p >= 1 && p < 1e9 ? (int)p : 1; /* older checkpoints: one process */
	if (num(pl, "best", &p))
		s->plateau.best = p;
	if (num(pl, "bad_epochs", &p))
		s->plateau.bad_epochs = (int)p;
	if (num(pl, "cooldown_left", &p))
		s->plateau.cooldown_left = (int)p;
	if (num(pl, "started", &p))
		s->plateau.started = (int)p;
	reel_train_result *r = L->res;
	r->best = reel_task_metrics(L->m->task);
	r->best.n = 0;
	if (num(best, "step", &p)) {
		r->best_step = (long)p;
		reel_metrics mt = reel_task_metrics(L->m->task);
		int all = 1;
		for (int i = 0; i < mt.n; i++)
			all &= num(best, mt.name[i], &mt.value[i]);
		if (all)
			r->best = mt;
	}
	cJSON_Delete(o);
	return 1;
}

/* A layer's carried training state over the whole global batch
 * (layers*dirs, B, H): on one process the carry itself; data parallel, each
 * rank's columns [lo, hi) of the B streams put in place and summed over
 * the ranks into owned buffers (the caller frees h and c).  Collective. */
typedef struct gcarry {
	reel_real *h, *c;
	int shape[3];
	int valid, owned;
} gcarry;

static reel_status carry_global(loop *L, reel_layer *ly, gcarry *g, reel_err *err)
{
	int B = L->m->train.batch_size, lo, hi;
	reel_data_shard_range(B, L->rank, L->size, &lo, &hi);
	memset(g, 0, sizeof *g);
	reel_rnn_carry *cy = ly->type->carry(ly, hi - lo);
	if (!cy)
		return reel_err_set(err, REEL_ERR_NOMEM, "checkpoint: out of memory");
	if (L->size == 1) {
		*g = (gcarry){cy->h, cy->c, {cy->shape[0], cy->shape[1], cy->shape[2]}, cy->valid, 0};
		return REEL_OK;
	}
	/* valid on one rank is valid on all: they ran the same updates */
	int LD = cy->shape[0], H = cy->shape[2], two = cy->c ? 2 : 1;
	size_t n = (size_t)LD * B * H;
	double *buf = reel__calloc(n * two + 1, sizeof *buf);
	g->h = reel__malloc(n * sizeof *g->h);
	g->c = cy->c ? reel__malloc(n * sizeof *g->c) : NULL;
	g->owned = 1;
	if (!buf || !g->h || (cy->c && !g->c)) {
		free(buf);
		return reel_err_set(err, REEL_ERR_NOMEM, "checkpoint: out of memory");
	}
	for (int k = 0; k < two; k++) {
		const reel_real *src = k ? cy->c : cy->h;
		for (int l = 0; l < LD; l++)
			for (int i = 0; i < hi - lo; i++)
				for (int j = 0; j < H; j++)
					buf[k * n + ((size_t)l * B + lo + i) * H + j] = src[((size_t)l * (hi - lo) + i) * H + j];
	}
	buf[n * two] = cy->valid;
	reel_status st = reel_reduce_sum_double(L->red, buf, n * two + 1, err);
	for (size_t i = 0; st == REEL_OK && i < n; i++) {
		g->h[i] = (reel_real)buf[i];
		if (g->c)
			g->c[i] = (reel_real)buf[n + i];
	}
	g->shape[0] = LD;
	g->shape[1] = B;
	g->shape[2] = H;
	g->valid = buf[n * two] == L->size;
	free(buf);
	return st;
}

static reel_status write_checkpoint(loop *L, const char *path, const gcarry *gc, reel_err *err);

/* Checkpoint: parameters, optimizer moments, carried stream states, and in
 * the metadata the resolved config, the data source's vocabularies and the
 * run state.  Written atomically, by rank 0 alone; collective (every rank
 * calls it at the same update). */
static reel_status save_checkpoint(loop *L, const char *name, reel_err *err)
{
	reel_model *m = L->m;
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", L->dir, name);
	size_t np;
	const reel_real *pv = reel_params_values(m->ps, &np);
	for (size_t i = 0; i < np; i++)
		if (!isfinite(pv[i])) /* never replace a good checkpoint with a broken one */
			return reel_err_set(err, REEL_ERR_NUMERIC, "%s: not written: a parameter is not finite (element %zu)", path, i);
	L->rs.rng = *reel_tape_rng(L->t);
	L->rs.elapsed = reel__seconds() - L->t0;
	/* data parallel: the carried stream states are the ranks' columns of
	 * the global batch's, summed here (collective); rank 0 writes */
	gcarry gc[REEL_RNN_MAX_LAYERS * 2];
	int ngc = 0;
	reel_status st = REEL_OK;
	for (int i = 0; i < m->nlayers && ngc < (int)(sizeof gc / sizeof *gc); i++)
		if (m->layers[i].type->carry && (st = carry_global(L, &m->layers[i], &gc[ngc++], err)) != REEL_OK)
			break;
	if (st == REEL_OK && L->rank == 0)
		st = write_checkpoint(L, path, gc, err);
	for (int i = 0; i < ngc; i++)
		if (gc[i].owned) {
			free(gc[i].h);
			free(gc[i].c);
		}
	return st;
}

static reel_status write_checkpoint(loop *L, const char *path, const gcarry *gc, reel_err *err)
{
	reel_model *m = L->m;
	reel_st_writer *w = reel_st_writer_new();
	if (!w)
		return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
	char *state = state_json(L);
	reel_status st = state ? REEL_OK : reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
	if (st == REEL_OK) /* what a saved model holds (parameters, config, vocabularies, plan) */
		st = reel__model_add_to(m, w, path, err);
	if (st == REEL_OK)
		st = reel_optim_add_to(L->opt, w, err);
	char names[REEL_RNN_MAX_LAYERS * 2][96];
	int nn = 0;
	for (int i = 0, k = 0; st == REEL_OK && i < m->nlayers; i++) {
		reel_layer *ly = &m->layers[i];
		if (!ly->type->carry || k >= REEL_RNN_MAX_LAYERS * 2)
			continue;
		const gcarry *cy = &gc[k++];
		if (!cy->valid || nn + 2 > (int)(sizeof names / sizeof names[0]))
			continue;
		snprintf(names[nn], sizeof names[nn], "state.%s.h", ly->name);
		st = reel_st_add_real(w, names[nn++], 3, cy->shape, cy->h, err);
		if (st == REEL_OK && cy->c) {
			snprintf(names[nn], sizeof names[nn], "state.%s.c", ly->name);
			st = reel_st_add_real(w, names[nn++], 3, cy->shape, cy->c, err);
		}
	}
	if (st == REEL_OK)
		st = reel_st_add_meta(w, "reel.train", state, err);
	if (st == REEL_OK)
		st = reel_st_write(w, path, err);
	free(state);
	reel_st_writer_free(w);
	return st;
}

/* ---- resuming ----------------------------------------------------------------------------- */

/* Keys that may change on resume: the run's length, learning rate,
 * schedule, cadences, decoding.  Everything else (format, task, data,
 * model, batch size) must match: the parameters and the data position
 * depend on it. */
static int may_change(const char *path)
{
	if (!strncmp(path, "/decode", 7))
		return 1;
	if (strncmp(path, "/train/", 7))
		return 0;
	return strcmp(path, "/train/batch_size") != 0 && strncmp(path, "/train/bptt", 11) != 0;
}

typedef struct diff_ctx {
	char *errs, *notes;
	size_t el, nl;
	int nerr;
	int nomem; /* a line could not be recorded */
} diff_ctx;

/* Returns 0 if memory ran out. */
static int add_line(char **buf, size_t *len, const char *path, const cJSON *a, const cJSON *b)
{
	char *sa = a ? cJSON_PrintUnformatted(a) : NULL, *sb = b ? cJSON_PrintUnformatted(b) : NULL;
	int ok = (!a || sa) && (!b || sb);
	char line[600];
	int n = snprintf(line, sizeof line, "  %s: %.200s -> %.200s\n", path, sa ? sa : "(absent)", sb ? sb : "(absent)");
	free(sa);
	free(sb);
	if (!ok || n < 0)
		return ok;
	char *nb = reel__realloc(*buf, *len + (size_t)n + 1);
	if (!nb)
		return 0;
	memcpy(nb + *len, line, (size_t)n + 1);
	*buf = nb;
	*len += (size_t)n;
	return 1;
}

static void diff(diff_ctx *d, const char *path, const cJSON *a, const cJSON *b)
{
	if (a && b && cJSON_IsObject(a) && cJSON_IsObject(b)) {
		const cJSON *it;
		cJSON_ArrayForEach(it, a)
		{
			char sub[512];
			snprintf(sub, sizeof sub, "%s/%s", path, it->string);
			diff(d, sub, it, cJSON_GetObjectItemCaseSensitive(b, it->string));
		}
		cJSON_ArrayForEach(it, b)
		{
			if (cJSON_GetObjectItemCaseSensitive(a, it->string))
				continue;
			char sub[512];
			snprintf(sub, sizeof sub, "%s/%s", path, it->string);
			diff(d, sub, NULL, it);
		}
		return;
	}
	if (a && b && cJSON_IsArray(a) && cJSON_IsArray(b) && cJSON_GetArraySize(a) == cJSON_GetArraySize(b)) {
		for (int i = 0; i < cJSON_GetArraySize(a); i++) {
			char sub[512];
			snprintf(sub, sizeof sub, "%s/%d", path, i);
			diff(d, sub, cJSON_GetArrayItem(a, i), cJSON_GetArrayItem(b, i));
		}
		return;
	}
	if (a && b && cJSON_Compare(a, b, 1))
		return;
	if (may_change(path)) {
		d->nomem |= !add_line(&d->notes, &d->nl, path, a, b);
	} else {
		d->nerr++;
		d->nomem |= !add_line(&d->errs, &d->el, path, a, b);
	}
}

/* Compare the checkpoint's config with the model's; errors on architecture
 * or data differences, notes (printed) on training changes. */
static reel_status compare_configs(loop *L, const char *ckpt_cfg, const char *path, reel_err *err)
{
	cJSON *a = ckpt_cfg ? cJSON_Parse(ckpt_cfg) : NULL;
	char *cur = reel_cfg_print(L->m->cfg);
	cJSON *b = cur ? cJSON_Parse(cur) : NULL;
	free(cur);
	if (!a || !b) {
		cJSON_Delete(a);
		cJSON_Delete(b);
		return reel_err_set(err, REEL_ERR_IO, "%s: the checkpoint has no readable config in its metadata", path);
	}
	diff_ctx d = {0};
	diff(&d, "", a, b);
	cJSON_Delete(a);
	cJSON_Delete(b);
	reel_status st = REEL_OK;
	if (d.nomem) {
		st = reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory comparing the config with the checkpoint's", path);
	} else if (d.nerr) {
		if (L->o->log)
			fprintf(L->o->log, "reel: the config differs from the checkpoint's where it must not (checkpoint -> now):\n%s",
			        d.errs);
		st = reel_err_set(err, REEL_ERR_CONFIG,
		                  "%s: cannot resume: %d key%s of the model, the data or the batch differ from the checkpoint's "
		                  "(listed above); train into a new directory instead",
		                  path, d.nerr, d.nerr == 1 ? "" : "s");
	} else if (d.notes && L->o->log) {
		fprintf(L->o->log, "reel: resuming with changed training settings (checkpoint -> now):\n%s", d.notes);
	}
	free(d.errs);
	free(d.notes);
	return st;
}

/* Every tensor of a checkpoint must be a parameter, an optimizer moment or
 * a carried state; every parameter must be there. */
static reel_status check_tensors(loop *L, const reel_st_file *f, const char *path, reel_err *err)
{
	for (int i = 0; i < reel_st_count(f); i++) {
		const char *n = reel_st_at(f, i)->name;
		if (!strncmp(n, "optim.", 6) || !strncmp(n, "state.", 6) || reel_param_get(L->m->ps, n))
			continue;
		return reel_err_set(err, REEL_ERR_IO, "%s: unexpected tensor \"%s\" (not a parameter of this model)", path, n);
	}
	return REEL_OK;
}

static reel_status load_carries(loop *L, const reel_st_file *f, const char *path, reel_err *err)
{
	reel_model *m = L->m;
	for (int i = 0; i < m->nlayers; i++) {
		reel_layer *ly = &m->layers[i];
		if (!ly->type->carry)
			continue;
		char hn[96], cn[96];
		snprintf(hn, sizeof hn, "state.%s.h", ly->name);
		snprintf(cn, sizeof cn, "state.%s.c", ly->name);
		const reel_st_tensor *h = reel_st_find(f, hn), *c = reel_st_find(f, cn);
		if (!h)
			continue;
		int B = m->train.batch_size, lo, hi;
		reel_data_shard_range(B, L->rank, L->size, &lo, &hi);
		reel_rnn_carry *cy = ly->type->carry(ly, hi - lo);
		if (!cy)
			return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
		/* the file holds the global batch's B streams; this rank takes [lo, hi) */
		int LD = cy->shape[0], H = cy->shape[2];
		size_t n = (size_t)LD * B * H;
		if (h->count != n || (cy->c && (!c || c->count != n)))
			return reel_err_set(err, REEL_ERR_IO, "%s: %s has %zu elements, expected %zu (%dx%dx%d)", path, hn,
			                    h->count, n, LD, B, H);
		reel_real *tmp = reel__malloc(n * sizeof *tmp);
		if (!tmp)
			return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
		for (int k = 0; k < (cy->c ? 2 : 1); k++) {
			reel_st_to_real(k ? c : h, tmp);
			reel_real *dst = k ? cy->c : cy->h;
			for (int l = 0; l < LD; l++)
				memcpy(dst + (size_t)l * (hi - lo) * H, tmp + ((size_t)l * B + lo) * H,
				       (size_t)(hi - lo) * H * sizeof *dst);
		}
		free(tmp);
		cy->valid = 1;
	}
	return REEL_OK;
}

/* Keep the lines of metrics.jsonl up to step (the checkpoint's). */
static reel_status trim_metrics(const char *path, long step, reel_err *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return REEL_OK;
	char *out = NULL, line[4096];
	size_t len = 0;
	while (fgets(line, sizeof line, f)) {
		long s;
		if (sscanf(line, "{\"step\": %ld", &s) == 1 && s > step)
			continue;
		size_t n = strlen(line);
		char *nb = reel__realloc(out, len + n + 1);
		if (!nb) {
			free(out);
			fclose(f);
			return reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory", path);
		}
		memcpy(nb + len, line, n + 1);
		out = nb;
		len += n;
	}
	fclose(f);
	reel_status st = reel_write_file_atomic(path, out ? out : "", err);
	free(out);
	return st;
}

/* Has the run reached its steps or epochs, or stopped early? */
static int run_done(const loop *L)
{
	const reel_train_cfg *tr = &L->m->train;
	const run_state *r = &L->rs;
	int more = (tr->steps && r->step < tr->steps) || (tr->epochs && r->epoch < tr->epochs);
	return !more || (tr->patience && r->bad >= tr->patience);
}

static reel_status resume(loop *L, reel_err *err)
{
	reel_model *m = L->m;
	char path[4200];
	snprintf(path, sizeof path, "%s/last.safetensors", L->dir);
	if (access(path, F_OK) != 0)
		return reel_err_set(err, REEL_ERR_IO, "%s: no checkpoint to resume from (%s): train without --resume", L->dir,
		                    path);
	reel_st_file *f = NULL;
	reel_status st = reel_st_read(path, &f, err);
	if (st != REEL_OK)
		return st;
	if ((st = compare_configs(L, reel_st_meta(f, "config"), path, err)) != REEL_OK ||
	    (st = check_tensors(L, f, path, err)) != REEL_OK)
		goto out;
	if (!parse_state(L, reel_st_meta(f, "reel.train"), path, err)) {
		st = REEL_ERR_IO;
		goto out;
	}
	if ((st = reel_params_load(m->ps, f, path, err)) != REEL_OK || (st = reel_optim_load(L->opt, f, path, err)) != REEL_OK ||
	    (st = load_carries(L, f, path, err)) != REEL_OK)
		goto out;
	/* checkpoints are written only with finite parameters (save_checkpoint) */
	size_t np;
	const reel_real *pv = reel_params_values(m->ps, &np);
	for (size_t i = 0; i < np; i++)
		if (!isfinite(pv[i])) {
			st = reel_err_set(err, REEL_ERR_IO, "%s: parameter element %zu is not finite: the checkpoint is corrupt", path, i);
			goto out;
		}
	*reel_tape_rng(L->t) = L->rs.rng;
	/* the first process's kernel choices, so the products round as they did */
	reel_gemm_plan_load(reel_st_meta(f, "reel.gemm_plan"));
	if (run_done(L))
		goto out; /* reel_train reports it; nothing to replay */
	if (L->per_epoch > 0 && L->rs.epoch_steps > L->per_epoch) {
		st = reel_err_set(err, REEL_ERR_IO, "%s: the training state is inconsistent: %ld updates into a pass of %ld", path,
		                  L->rs.epoch_steps, L->per_epoch);
		goto out;
	}
	/* the data position: replay the training batches drawn (no model work) */
	uint64_t h = 0;
	for (long i = 0; i < L->rs.drawn; i++) {
		reel_batch b;
		int r = reel_data_next(m->data, REEL_TRAIN, m->train.batch_size, &b, err);
		if (r < 0) {
			st = err->code ? err->code : REEL_ERR_IO;
			goto out;
		}
		if (r > 0)
			h = batch_hash(&b);
	}
	/* the hash is of rank 0's part of the batch: comparable on rank 0 with
	 * as many ranks as the checkpoint's run had */
	if (L->rank == 0 && L->ck_ranks != L->size && L->o->log)
		fprintf(L->o->log, "reel: the checkpoint was written by %d process%s, this run has %d: the data position is "
		        "replayed but not checked\n", L->ck_ranks, L->ck_ranks == 1 ? "" : "es", L->size);
	if (L->rank == 0 && L->ck_ranks == L->size && L->rs.drawn > 0 && h != L->rs.batch_hash) {
		st = reel_err_set(err, REEL_ERR_IO,
		                  "%s: the training data differ from the checkpoint's (batch %ld is not the same): the data file "
		                  "or the data source changed",
		                  path, L->rs.drawn);
		goto out;
	}
	L->res->steps = L->rs.step;
	L->res->epochs = L->rs.epoch;
	char mpath[4200];
	snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", L->dir);
	if (L->rank == 0)
		st = trim_metrics(mpath, L->rs.step, err);
out:
	reel_st_free(f);
	return st;
}

static reel_status finish_update(loop *L, long step, double loss, double *gnorm, reel_err *err);

/* ---- one update -------------------------------------------------------------------------- */

/* Data parallel: turn this rank's gradient of its mean loss (over count
 * items) into the gradient of the global batch's mean loss (over total
 * items), summed over the ranks:  g = sum_r (count_r / total) g_r.
 * Collective. */
static reel_status reduce_grads(loop *L, double count, double total, reel_err *err)
{
	size_t n;
	reel_real *g = reel_params_grads(L->m->ps, &n);
	reel_real w = (reel_real)(total > 0 ? count / total : 0);
	if (w != 1)
		for (size_t i = 0; i < n; i++)
			g[i] *= w;
	return reel_reduce_sum_real(L->red, g, n, err);
}

/* One update from batch b (with truncated BPTT for streams).  *loss gets the
 * batch's mean loss, *gnorm the gradient norm before clipping.  Data
 * parallel, b is this rank's shard (possibly empty), *loss the global
 * batch's mean and *seqs its size; every rank makes the same update. */
static reel_status update(loop *L, reel_batch *b, long step, double *loss, double *gnorm, double *seqs, reel_err *err)
{
	reel_model *m = L->m;
	const reel_train_cfg *tr = &m->train;
	int carry = m->task == REEL_TASK_LM && m->data_opts.stream ? 1 : 0;
	reel_tape_reset(L->t);
	reel_params_zero_grad(m->ps);
	*seqs = b->B;
	if (L->size > 1) {
		/* ranks > 0 draw their dropout masks from a stream of their own per
		 * update, so a checkpoint needs only rank 0's */
		if (L->rank > 0)
			reel_rng_seed(reel_tape_rng(L->t), (tr->seed ^ 0x7a9e) + 0x9e3779b97f4a7c15ULL * (uint64_t)L->rank +
			                                       0xbf58476d1ce4e5b9ULL * (uint64_t)step);
		if (b->B == 0) { /* an empty shard: no gradient, but its part in the sums */
			double v[3] = {0, 0, 0};
			reel_status st = reel_reduce_sum_double(L->red, v, 3, err);
			if (st == REEL_OK)
				st = reduce_grads(L, 0, v[0], err);
			if (st != REEL_OK)
				return st;
			*loss = v[0] > 0 ? v[1] / v[0] : 0;
			*seqs = v[2];
			return finish_update(L, step, *loss, gnorm, err);
		}
	}
	reel_batch g = *b;
	int k2 = tr->bptt_k2;
	if (carry && k2 > 0 && k2 < b->T) {
		/* the first T - k2 steps only move the carried state forward */
		int pre = b->T - k2;
		if (L->sub_cap < b->B) {
			free(L->sub_len);
			L->sub_len = reel__malloc((size_t)b->B * sizeof *L->sub_len);
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
	if (carry && tr->bptt_random) {
		/* randomized truncation: cuts and weights of this chunk's links, from
		 * the tape's RNG (saved in checkpoints, so a resumed run draws the same) */
		if (L->links_cap < g.T) {
			free(L->links);
			L->links = reel__malloc((size_t)g.T * sizeof *L->links);
			L->links_cap = L->links ? g.T : 0;
			if (!L->links)
				return reel_err_set(err, REEL_ERR_NOMEM, "train: out of memory");
		}
		reel_bptt_draw_links(reel_tape_rng(L->t), g.T, tr->bptt_min, tr->bptt_mean, L->links);
		m->bptt_links = L->links;
	}
	double tf = reel_tf_ratio(tr, step);
	m->training = 1; /* for this loss only: train.sampled_softmax, teacher forcing of jordan layers */
	reel_tensor *l = reel_model_loss(L->t, m, &g, tf, carry, NULL);
	m->training = 0;
	m->bptt_links = NULL;
	if (!l)
		return reel_err_set(err, reel_tape_status(L->t), "step %ld: %s", step + 1, reel_tape_error(L->t));
	*loss = l->data[0];
	double count = 0, total = 0;
	if (L->size > 1) {
		/* the global item count, loss and batch size, before backward: the
		 * gradient's weight is known when the sweep starts */
		count = reel_model_loss_count(m, &g);
		double v[3] = {count, count * l->data[0], b->B};
		reel_status st = reel_reduce_sum_double(L->red, v, 3, err);
		if (st != REEL_OK)
			return st;
		total = v[0];
		*loss = total > 0 ? v[1] / total : 0;
		*seqs = v[2];
	}
	if (reel_backward(L->t, l) != REEL_OK)
		return reel_err_set(err, reel_tape_status(L->t), "step %ld: %s", step + 1, reel_tape_error(L->t));
	if (L->size > 1) {
		reel_status st = reduce_grads(L, count, total, err);
		if (st != REEL_OK)
			return st;
	}
	return finish_update(L, step, *loss, gnorm, err);
}

/* Clip (by the norm of the whole, reduced gradient) and step. */
static reel_status finish_update(loop *L, long step, double loss, double *gnorm, reel_err *err)
{
	reel_model *m = L->m;
	const reel_train_cfg *tr = &m->train;
	*gnorm = reel_clip_grad_norm(m->ps, tr->clip_norm > 0 ? tr->clip_norm : INFINITY);
	if (tr->clip_value > 0)
		reel_clip_grad_value(m->ps, tr->clip_value);
	reel_optim_set_lr(L->opt, reel_sched_lr(&tr->sched, L->rs.lr0, step));
	reel_status st = reel_optim_step(L->opt, loss, err);
	if (st != REEL_OK) {
		char msg[sizeof err->msg];
		snprintf(msg, sizeof msg, "%s", err->msg);
		return reel_err_set(err, st, "step %ld: %s; training stopped (train.on_nonfinite \"skip\" would skip such updates)",
		                    step + 1, msg);
	}
	return REEL_OK;
}

static void progress(loop *L, double gnorm, int final)
{
	const reel_train_opts *o = L->o;
	const run_state *r = &L->rs;
	if (!o->log)
		return;
	double el = reel__seconds() - L->t0, rate = el > 0 ? r->seqs / el : 0;
	char eta[16], elapsed[16], tot[32];
	fmt_time(r->step > 0 && L->total > r->step ? el * (double)(L->total - r->step) / (double)r->step : 0, eta, sizeof eta);
	fmt_time(el, elapsed, sizeof elapsed);
	if (L->total > 0)
		snprintf(tot, sizeof tot, "/%ld", L->total);
	else
		tot[0] = 0;
	fprintf(o->log, "%sstep %ld%s  epoch %d  loss %.4f  lr %.2e  |g| %.3g  %.0f seq/s  %s elapsed, ETA %s%s",
	        o->tty ? "\r\033[K" : "", r->step, tot, r->epoch, r->avg, reel_optim_lr(L->opt), gnorm, rate, elapsed, eta,
	        o->tty && !final ? "" : "\n");
	fflush(o->log);
}

/* Validate; on improvement write best.safetensors; *stop when early
 * stopping says so. */
static reel_status validate(loop *L, int *stop, reel_err *err)
{
	reel_model *m = L->m;
	run_state *r = &L->rs;
	reel_metrics mt;
	reel_status st = reel_model_evaluate(m, REEL_VALID, m->train.valid_batches, &mt, err);
	if (st != REEL_OK)
		return st;
	L->res->valid = mt;
	metrics_json(L->metrics, r->step, r->epoch, reel__seconds() - L->t0, &mt);
	int k = m->train.metric;
	int improved = L->res->best.n == 0 || better(&m->train, mt.value[k], L->res->best.value[k]);
	r->bad = improved ? 0 : r->bad + 1;
	if (improved) {
		L->res->best = mt;
		L->res->best_step = r->step;
	}
	if (m->train.plateau)
		r->lr0 = reel_plateau_step(&r->plateau, mt.value[0], r->lr0);
	*stop = m->train.patience && r->bad >= m->train.patience;
	if (*stop) {
		r->finished = 1;
		L->res->stopped_early = 1;
	}
	if (improved && (st = save_checkpoint(L, "best.safetensors", err)) != REEL_OK)
		return st;
	if (L->o->log) {
		fprintf(L->o->log, "%svalid @ %ld: ", L->o->tty ? "\r\033[K" : "", r->step);
		reel_metrics_print(&mt, L->o->log);
		fprintf(L->o->log, "%s\n", improved ? "  (best)" : "");
	}
	return REEL_OK;
}

static reel_status write_config(loop *L, reel_err *err)
{
	char path[4200];
	char *cfg = reel_cfg_print(L->m->cfg);
	if (!cfg)
		return reel_err_set(err, REEL_ERR_NOMEM, "train: out of memory");
	size_t cl = strlen(cfg);
	char *nl = reel__malloc(cl + 2);
	if (!nl) {
		free(cfg);
		return reel_err_set(err, REEL_ERR_NOMEM, "train: out of memory");
	}
	memcpy(nl, cfg, cl);
	memcpy(nl + cl, "\n", 2);
	snprintf(path, sizeof path, "%s/config.json", L->dir);
	reel_status st = reel_write_file_atomic(path, nl, err);
	free(cfg);
	free(nl);
	return st;
}

/* Data parallel: every rank must end with rank 0's parameters, bit for
 * bit.  Rank 0's FNV-1a hash of the parameter block, in 16-bit pieces
 * (exact in doubles), is summed with zeros from the others: every rank
 * gets it and compares.  Collective. */
static reel_status check_in_sync(loop *L, reel_err *err)
{
	size_t n;
	const reel_real *p = reel_params_values(L->m->ps, &n);
	uint64_t h = fnv(1469598103934665603ULL, p, n * sizeof *p);
	double v[4];
	for (int i = 0; i < 4; i++)
		v[i] = L->rank == 0 ? (double)((h >> (16 * i)) & 0xffff) : 0;
	reel_status st = reel_reduce_sum_double(L->red, v, 4, err);
	if (st != REEL_OK)
		return st;
	uint64_t h0 = 0;
	for (int i = 0; i < 4; i++)
		h0 |= (uint64_t)v[i] << (16 * i);
	if (h0 != h)
		return reel_err_set(err, REEL_ERR_NUMERIC,
		                    "train: rank %d's parameters differ from rank 0's at the end (the ranks diverged)", L->rank);
	return REEL_OK;
}

reel_status reel_train(reel_model *m, const reel_train_opts *o, reel_train_result *res, reel_err *err)
{
	memset(res, 0, sizeof *res);
	reel_train_cfg *tr = &m->train;
	loop L = {.m = m, .o = o, .res = res, .red = m->reduce, .rank = reel_reduce_rank(m->reduce),
	          .size = reel_reduce_size(m->reduce), .ck_ranks = 1};
	run_state *r = &L.rs;
	/* data parallel: rank 0 alone writes the run directory */
	reel_status st = o->resume || L.rank ? REEL_OK : reel_run_dir(o->dir, o->force, err);
	if (st != REEL_OK)
		return st;
	if (L.size > 1 && m->task == REEL_TASK_LM && m->data_opts.stream && tr->batch_size < L.size)
		return reel_err_set(err, REEL_ERR_CONFIG,
		                    "train: %d processes need at least as many text streams: train.batch_size is %d", L.size,
		                    tr->batch_size);
	snprintf(L.dir, sizeof L.dir, "%s", o->dir);
	if (reel_set_threads(tr->threads) != REEL_OK)
		return reel_err_set(err, REEL_ERR_ARG, "train: cannot use %d threads", tr->threads);
	L.t = reel_tape_new(0, tr->seed ^ 0x7a9e);
	L.opt = reel_optim_new(m->ps, &tr->optim, err);
	if (!L.t || !L.opt) {
		st = L.opt ? reel_err_set(err, REEL_ERR_NOMEM, "train: out of memory") : err->code;
		goto out;
	}
	r->lr0 = tr->optim.lr;
	r->plateau = tr->plateau_opts;
	reel_data_info info = m->info;
	long per_epoch = info.n[REEL_TRAIN] > 0 ? (info.n[REEL_TRAIN] + tr->batch_size - 1) / tr->batch_size : 0;
	if (m->task == REEL_TASK_LM && m->data_opts.stream && info.n[REEL_TRAIN] > 0)
		per_epoch = info.n[REEL_TRAIN] / ((long)tr->batch_size * m->data_opts.seq_len);
	L.total = tr->steps ? tr->steps : per_epoch * tr->epochs;
	L.per_epoch = per_epoch;
	if (tr->sched.kind == REEL_SCHED_COSINE && tr->sched.t_max == 0)
		tr->sched.t_max = (int)(L.total > tr->sched.warmup_steps ? L.total - tr->sched.warmup_steps : 1);
	if (o->resume) {
		if ((st = resume(&L, err)) != REEL_OK)
			goto out;
		/* done: the steps or epochs are reached, or early stopping still holds */
		if (run_done(&L)) {
			res->already_finished = 1;
			res->steps = r->step;
			res->epochs = r->epoch;
			goto out;
		}
		r->finished = 0;
		if (o->log)
			fprintf(o->log, "reel: resuming %s at update %ld (epoch %d)\n", L.dir, r->step, r->epoch);
	}
	if (L.rank == 0 && (st = write_config(&L, err)) != REEL_OK)
		goto out;
	char path[4200];
	snprintf(path, sizeof path, "%s/metrics.jsonl", L.dir);
	L.metrics = L.rank ? NULL : fopen(path, o->resume ? "a" : "w");
	if (L.rank == 0 && !L.metrics) {
		st = reel_err_set(err, REEL_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
		goto out;
	}
	long log_every = tr->log_every ? tr->log_every : (L.total >= 50 ? L.total / 50 : 1);
	long valid_every = tr->valid_every, ckpt_every = tr->checkpoint_every;
	L.t0 = reel__seconds() - r->elapsed;
	double gnorm = 0;
	int stop = 0;
	for (;;) {
		if (tr->steps && r->step >= tr->steps)
			break;
		int stop_now = o->stop && *o->stop;
		if (L.size > 1) { /* a signal may reach one rank first: stop together */
			double v = stop_now;
			if ((st = reel_reduce_sum_double(L.red, &v, 1, err)) != REEL_OK)
				goto out;
			stop_now = v > 0;
		}
		if (stop_now) {
			res->interrupted = 1;
			break;
		}
		reel_batch b;
		int got = reel_data_next(m->data, REEL_TRAIN, tr->batch_size, &b, err);
		if (got < 0) {
			st = err->code ? err->code : REEL_ERR_IO;
			goto out;
		}
		r->drawn++;
		if (got == 0) { /* the end of a pass over the training data */
			if (r->epoch_steps == 0) {
				st = reel_err_set(err, REEL_ERR_IO, "train: the training split gave no batch (is it empty?)");
				goto out;
			}
			r->epoch++;
			r->epoch_steps = 0;
			res->epochs = r->epoch;
			if (!valid_every && (st = validate(&L, &stop, err)) != REEL_OK)
				goto out;
			if (tr->epochs && r->epoch >= tr->epochs)
				r->finished = 1;
			if (stop || r->finished)
				break;
			if (!ckpt_every && !valid_every && (st = save_checkpoint(&L, "last.safetensors", err)) != REEL_OK)
				goto out;
			continue;
		}
		r->batch_hash = batch_hash(&b);
		double loss = 0, seqs = 0;
		if ((st = update(&L, &b, r->step, &loss, &gnorm, &seqs, err)) != REEL_OK)
			goto out;
		r->step++;
		r->epoch_steps++;
		r->seqs += seqs;
		r->avg = r->step == 1 ? loss : 0.95 * r->avg + 0.05 * loss;
		res->steps = r->step;
		if (L.metrics && (r->step % log_every == 0 || r->step == L.total)) {
			fprintf(L.metrics,
			        "{\"step\": %ld, \"epoch\": %d, \"loss\": %.9g, \"lr\": %.9g, \"grad_norm\": %.9g, \"elapsed_s\": %.3f, "
			        "\"seq_per_s\": %.1f}\n",
			        r->step, r->epoch, loss, reel_optim_lr(L.opt), gnorm, reel__seconds() - L.t0, r->seqs / (reel__seconds() - L.t0));
			fflush(L.metrics);
			progress(&L, gnorm, 0);
		}
		if (tr->steps && r->step >= tr->steps)
			r->finished = 1;
		int validated = 0;
		if (valid_every && r->step % valid_every == 0) {
			if ((st = validate(&L, &stop, err)) != REEL_OK)
				goto out;
			validated = 1;
		}
		if (stop || r->finished)
			break;
		if ((ckpt_every && r->step % ckpt_every == 0) || (!ckpt_every && validated))
			if ((st = save_checkpoint(&L, "last.safetensors", err)) != REEL_OK)
				goto out;
	}
	if (L.o->log && L.o->tty)
		fprintf(L.o->log, "\n");
	/* a final validation unless the last update was just validated */
	int just = (valid_every && r->step % valid_every == 0) || (!valid_every && r->epoch_steps == 0);
	if (r->step > 0 && !just && !res->interrupted && (st = validate(&L, &stop, err)) != REEL_OK)
		goto out;
	if ((st = save_checkpoint(&L, "last.safetensors", err)) != REEL_OK)
		goto out;
	if (L.size > 1 && (st = check_in_sync(&L, err)) != REEL_OK)
		goto out;
	res->steps = r->step;
	res->epochs = r->epoch;
	res->seconds = reel__seconds() - L.t0;
	res->last_loss = r->avg;
	res->skipped = reel_optim_skipped(L.opt);
	res->ranks = L.size;
	res->reduce_seconds = L.red ? L.red->seconds : 0;
	res->reduce_calls = L.red ? L.red->calls : 0;
out:
	if (L.metrics)
		fclose(L.metrics);
	free(L.sub_len);
	free(L.links);
	reel_optim_free(L.opt);
	reel_tape_free(L.t);
	return st;
}
