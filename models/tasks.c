/* Synthetic seq2seq tasks (see tasks.h). */
#include "tasks.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char REVERSE_CHARS[] = "abcdefghij";
static const char DATE_SRC_CHARS[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,./-'";
static const char DATE_TGT_CHARS[] = "0123456789-";

static const char *const MONTHS[] = {"January", "February", "March",     "April",   "May",      "June",
                                     "July",    "August",   "September", "October", "November", "December"};
static const char *const DAYS[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

reel_status reel_task_init(reel_task *t, const char *name, int min_len, int max_len, reel_err *err)
{
	memset(t, 0, sizeof *t);
	if (!strcmp(name, "reverse")) {
		if (min_len < 1 || min_len > max_len || max_len > REEL_TASK_MAX_LEN - 2)
			return reel_err_set(err, REEL_ERR_ARG, "task reverse: lengths must satisfy 1 <= min (%d) <= max (%d) <= %d",
			                    min_len, max_len, REEL_TASK_MAX_LEN - 2);
		t->kind = REEL_TASK_REVERSE;
		t->min_len = min_len;
		t->max_len = max_len;
		t->src_chars = t->tgt_chars = REVERSE_CHARS;
	} else if (!strcmp(name, "dates")) {
		t->kind = REEL_TASK_DATES;
		t->src_chars = DATE_SRC_CHARS;
		t->tgt_chars = DATE_TGT_CHARS;
	} else {
		return reel_err_set(err, REEL_ERR_ARG, "task: unknown task \"%s\" (reverse, dates)", name);
	}
	t->src_vocab = 1 + (int)strlen(t->src_chars);
	t->tgt_vocab = 3 + (int)strlen(t->tgt_chars);
	return REEL_OK;
}

static int rnd(reel_rng *r, int n)
{
	return (int)reel_rng_below(r, (uint64_t)n);
}

static int days_in(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d[m - 1] + (m == 2 && leap);
}

/* 0 = Monday; Sakamoto's method. */
static int weekday(int y, int m, int d)
{
	static const int k[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
	if (m < 3)
		y--;
	int w = (y + y / 4 - y / 100 + y / 400 + k[m - 1] + d) % 7; /* 0 = Sunday */
	return (w + 6) % 7;
}

static const char *ordinal(int d)
{
	if (d % 100 >= 11 && d % 100 <= 13)
		return "th";
	return d % 10 == 1 ? "st" : d % 10 == 2 ? "nd" : d % 10 == 3 ? "rd" : "th";
}

/* Copy s into out in one of three cases: as is, UPPER, lower. */
static void cased(char *out, size_t n, const char *s, int how)
{
	size_t i = 0;
	for (; s[i] && i + 1 < n; i++)
		out[i] = (char)(how == 1 ? toupper((unsigned char)s[i]) : how == 2 ? tolower((unsigned char)s[i]) : s[i]);
	out[i] = 0;
}

/* Returns the example's key (see reel_task_split). */
static uint64_t date_example(reel_rng *r, char *src, char *tgt)
{
	int y = 1950 + rnd(r, 100), m = 1 + rnd(r, 12), d = 1 + rnd(r, days_in(y, m));
	char mon[16], mon3[8], day[16], day3[8];
	int how = rnd(r, 3);
	cased(mon, sizeof mon, MONTHS[m - 1], how);
	snprintf(mon3, sizeof mon3, "%.3s", mon);
	cased(day, sizeof day, DAYS[weekday(y, m, d)], how);
	snprintf(day3, sizeof day3, "%.3s", day);
	char buf[256]; /* every format fits REEL_TASK_MAX_LEN; the compiler cannot see that */
	char *const out = src;
	src = buf;
	const size_t n = sizeof buf;
	switch (rnd(r, 14)) {
	case 0: snprintf(src, n, "%d%s of %s, %d", d, ordinal(d), mon, y); break;
	case 1: snprintf(src, n, "%02d/%02d/%d", m, d, y); break;
	case 2: snprintf(src, n, "%s %d %s %d", day3, d, mon, y); break;
	case 3: snprintf(src, n, "%s %d, %d", mon, d, y); break;
	case 4: snprintf(src, n, "%d %s %d", d, mon3, y); break;
	case 5: snprintf(src, n, "%02d.%02d.%d", d, m, y); break;
	case 6: snprintf(src, n, "%s, %s %d, %d", day, mon, d, y); break;
	case 7: snprintf(src, n, "%d/%d/%02d", m, d, y % 100); break;
	case 8: snprintf(src, n, "%d %s %d", d, mon, y); break;
	case 9: snprintf(src, n, "%s %d %d", mon3, d, y); break;
	case 10: snprintf(src, n, "%s %d%s, %d", mon, d, ordinal(d), y); break;
	case 11: snprintf(src, n, "%d-%s-%d", d, mon3, y); break;
	case 12: snprintf(src, n, "%s the %d%s of %s %d", day, d, ordinal(d), mon, y); break;
	default: snprintf(src, n, "%d %s '%02d", d, mon3, y % 100); break;
	}
	snprintf(out, REEL_TASK_MAX_LEN, "%.*s", REEL_TASK_MAX_LEN - 1, buf);
	snprintf(tgt, REEL_TASK_MAX_LEN, "%04d-%02d-%02d", y % 10000, m % 100, d % 100);
	return (uint64_t)y * 10000 + (uint64_t)m * 100 + (uint64_t)d;
}

static uint64_t string_key(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

reel_task_split reel_task_key_split(uint64_t key)
{
	key ^= key >> 33; /* mix before taking one in ten */
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	if (key % 10 != 0)
		return REEL_SPLIT_TRAIN;
	return (key / 10) % 2 ? REEL_SPLIT_TEST : REEL_SPLIT_VALID;
}

static int in_split(reel_task_split want, uint64_t key)
{
	reel_task_split s = reel_task_key_split(key);
	switch (want) {
	case REEL_SPLIT_ALL: return 1;
	case REEL_SPLIT_HELDOUT: return s != REEL_SPLIT_TRAIN;
	default: return s == want;
	}
}

static uint64_t one_example(const reel_task *t, reel_rng *rng, char *src, char *tgt)
{
	if (t->kind == REEL_TASK_DATES)
		return date_example(rng, src, tgt);
	int len = t->min_len + rnd(rng, t->max_len - t->min_len + 1);
	for (int i = 0; i < len; i++)
		src[i] = REVERSE_CHARS[rnd(rng, (int)sizeof REVERSE_CHARS - 1)];
	for (int i = 0; i < len; i++)
		tgt[i] = src[len - 1 - i];
	src[len] = tgt[len] = 0;
	return string_key(src);
}

void reel_task_example(const reel_task *t, reel_rng *rng, char *src, char *tgt)
{
	for (;;) /* draw until the example falls in the requested split */
		if (in_split(t->split, one_example(t, rng, src, tgt)))
			return;
}

int reel_task_example_bounded(const reel_task *t, reel_rng *rng, char *src, char *tgt, long max_draws)
{
	for (long i = 0; i < max_draws; i++)
		if (in_split(t->split, one_example(t, rng, src, tgt)))
			return 1;
	return 0;
}

static int32_t index_of(const char *chars, char c)
{
	const char *p = strchr(chars, c);
	return p && c ? (int32_t)(p - chars) : -1;
}

void reel_task_batch(const reel_task *t, reel_rng *rng, int B, int32_t *src, int *src_len, int *S, int32_t *tgt,
                     int *T, char *src_str, char *tgt_str)
{
	char s[REEL_TASK_MAX_LEN], g[REEL_TASK_MAX_LEN];
	char (*ss)[REEL_TASK_MAX_LEN] = (void *)src_str, (*gs)[REEL_TASK_MAX_LEN] = (void *)tgt_str;
	int maxs = 1, maxt = 1;
	/* first pass: lengths, so the batch is padded to its own longest */
	reel_rng save = *rng;
	for (int b = 0; b < B; b++) {
		reel_task_example(t, rng, s, g);
		int ls = (int)strlen(s), lt = (int)strlen(g) + 1;
		maxs = ls > maxs ? ls : maxs;
		maxt = lt > maxt ? lt : maxt;
	}
	*rng = save;
	for (int b = 0; b < B; b++) {
		reel_task_example(t, rng, s, g);
		int ls = (int)strlen(s), lt = (int)strlen(g);
		src_len[b] = ls;
		for (int i = 0; i < maxs; i++)
			src[i * B + b] = i < ls ? 1 + index_of(t->src_chars, s[i]) : REEL_TASK_PAD;
		for (int i = 0; i < maxt; i++)
			tgt[i * B + b] = i < lt ? 3 + index_of(t->tgt_chars, g[i]) : i == lt ? REEL_TASK_EOS : REEL_TASK_PAD;
		if (ss)
			memcpy(ss[b], s, sizeof s);
		if (gs)
			memcpy(gs[b], g, sizeof g);
	}
	*S = maxs;
	*T = maxt;
}

void reel_task_decode(const reel_task *t, const int32_t *ids, int n, char *out)
{
	int k = 0, nchars = (int)strlen(t->tgt_chars);
	for (int i = 0; i < n && ids[i] != REEL_TASK_EOS; i++)
		out[k++] = ids[i] >= 3 && ids[i] - 3 < nchars ? t->tgt_chars[ids[i] - 3] : '?';
	out[k] = 0;
}
