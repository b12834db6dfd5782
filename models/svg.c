/* SVG pictures (see svg.h). */
#include "svg.h"
#include "fault.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

/* ---- a growing text buffer ------------------------------------------------------ */

typedef struct sbuf {
	char *s;
	size_t n, cap;
	int oom;
} sbuf;

__attribute__((format(printf, 2, 3))) static void put(sbuf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = b->cap - b->n;
		int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? room : 0, fmt, ap);
		va_end(ap);
		if (k < 0) {
			b->oom = 1;
			return;
		}
		if (b->s && (size_t)k < room) {
			b->n += (size_t)k;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 1 << 14;
		while (cap < b->n + (size_t)k + 1)
			cap *= 2;
		char *s = reel__realloc(b->s, cap);
		if (!s) {
			b->oom = 1;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
}

/* Text with XML's five specials escaped (and control bytes dropped). */
static void put_text(sbuf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': put(b, "&lt;"); break;
		case '>': put(b, "&gt;"); break;
		case '&': put(b, "&amp;"); break;
		case '"': put(b, "&quot;"); break;
		case '\'': put(b, "&apos;"); break;
		default:
			if ((unsigned char)*s >= 0x20)
				put(b, "%c", *s);
		}
	}
}

static reel_status finish(sbuf *b, const char *path, reel_err *err)
{
	put(b, "</svg>\n");
	reel_status st = b->oom ? reel_err_set(err, REEL_ERR_NOMEM, "%s: out of memory drawing", path)
	                        : reel_write_file_atomic(path, b->s, err);
	free(b->s);
	return st;
}

static const char *const PALETTE[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};
#define NPAL (int)(sizeof PALETTE / sizeof PALETTE[0])

/* ---- axes --------------------------------------------------------------------------- */

/* A step of 1, 2 or 5 times a power of ten giving about 5 ticks over span. */
static double nice_step(double span)
{
	if (!(span > 0))
		return 1;
	double raw = span / 5, p = pow(10, floor(log10(raw))), f = raw / p;
	return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void fmt_num(double v, char *out, size_t n)
{
	if (fabs(v) < 1e-12)
		v = 0;
	snprintf(out, n, "%.4g", v);
}

typedef struct axis {
	double lo, hi; /* data range (log: log10 of it) */
	int log;
} axis;

static double ax_val(const axis *a, double v)
{
	return a->log ? log10(v) : v;
}

static int usable(double x, double y, int logy)
{
	return isfinite(x) && isfinite(y) && (!logy || y > 0);
}

/* Ranges of the panel's data; 0 if it has no usable point. */
static int ranges(const reel_svg_panel *p, axis *ax, axis *ay)
{
	int any = 0;
	ax->log = 0;
	ay->log = p->logy;
	for (int i = 0; i < p->n_series; i++) {
		const reel_svg_series *s = &p->series[i];
		for (int k = 0; k < s->n; k++) {
			double x = s->x[k], y = s->y[k];
			if (!usable(x, y, p->logy))
				continue;
			double vy = ax_val(ay, y);
			if (!any) {
				ax->lo = ax->hi = x;
				ay->lo = ay->hi = vy;
				any = 1;
			}
			ax->lo = fmin(ax->lo, x), ax->hi = fmax(ax->hi, x);
			ay->lo = fmin(ay->lo, vy), ay->hi = fmax(ay->hi, vy);
		}
	}
	if (!any)
		return 0;
	if (ax->hi <= ax->lo)
		ax->lo -= 0.5, ax->hi += 0.5;
	if (ay->hi <= ay->lo) {
		double d = ay->log ? 0.5 : fabs(ay->lo) > 0 ? fabs(ay->lo) * 0.1 : 0.5;
		ay->lo -= d, ay->hi += d;
	} else if (!ay->log) {
		double pad = 0.05 * (ay->hi - ay->lo);
		ay->lo -= pad, ay->hi += pad;
	}
	if (p->percent && !ay->log) { /* 100% is a ceiling, not a value to centre */
		if (ay->hi > 100)
			ay->lo -= ay->hi - 100, ay->hi = 100;
		if (ay->lo < 0)
			ay->lo = 0;
	}
	return 1;
}

/* Panel geometry */
#define W 900
#define PH 280          /* panel height */
#define ML 80           /* margins inside a panel */
#define MR 190
#define MT 34
#define MB 48

static void draw_panel(sbuf *b, const reel_svg_panel *p, int y0)
{
	int x0 = ML, pw = W - ML - MR, ph = PH - MT - MB, top = y0 + MT;
	put(b, "<g class=\"panel\">\n");
	put(b, "<text x=\"%d\" y=\"%d\" font-size=\"14\" font-weight=\"bold\">", x0, y0 + 22);
	put_text(b, p->title);
	put(b, "%s</text>\n", p->logy ? " (log scale)" : "");
	put(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fcfcfc\" stroke=\"#888\"/>\n", x0, top, pw, ph);
	axis ax, ay;
	if (!ranges(p, &ax, &ay)) {
		put(b, "<text x=\"%d\" y=\"%d\" font-size=\"13\" fill=\"#888\">no data</text>\n</g>\n", x0 + pw / 2 - 30,
		    top + ph / 2);
		return;
	}
#define PX(v) (x0 + ((v) - ax.lo) / (ax.hi - ax.lo) * pw)
#define PY(v) (top + ph - ((v) - ay.lo) / (ay.hi - ay.lo) * ph)
	char num[32];
	/* x ticks */
	double st = nice_step(ax.hi - ax.lo);
	for (double v = ceil(ax.lo / st) * st; v <= ax.hi + 1e-9 * st; v += st) {
		double px = PX(v);
		put(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e4e4e4\"/>\n", px, top, px, top + ph);
		put(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#444\"/>\n", px, top + ph, px, top + ph + 5);
		fmt_num(v, num, sizeof num);
		put(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n", px, top + ph + 18, num);
	}
	/* y ticks: decades (and 2, 5 within them when the range is short) on a log axis */
	if (ay.log) {
		int span = (int)ceil(ay.hi) - (int)floor(ay.lo);
		for (int e = (int)floor(ay.lo); e <= (int)ceil(ay.hi); e++)
			for (int m = 1; m <= 5; m++) {
				if (m != 1 && m != 2 && m != 5)
					continue;
				if (m != 1 && span > 2)
					continue;
				double v = log10(m) + e;
				if (v < ay.lo - 1e-9 || v > ay.hi + 1e-9)
					continue;
				double py = PY(v);
				put(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", x0, py, x0 + pw, py);
				put(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#444\"/>\n", x0 - 5, py, x0, py);
				fmt_num(m * pow(10, e), num, sizeof num);
				put(b, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n", x0 - 8, py + 4,
				    num);
			}
	} else {
		st = nice_step(ay.hi - ay.lo);
		for (double v = ceil(ay.lo / st) * st; v <= ay.hi + 1e-9 * st; v += st) {
			double py = PY(v);
			put(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", x0, py, x0 + pw, py);
			put(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#444\"/>\n", x0 - 5, py, x0, py);
			fmt_num(v, num, sizeof num);
			put(b, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n", x0 - 8, py + 4, num);
		}
	}
	/* axis labels */
	put(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">", x0 + pw / 2, top + ph + 38);
	put_text(b, p->xlabel);
	put(b, "</text>\n<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 %d %d)\">",
	    18, top + ph / 2, 18, top + ph / 2);
	put_text(b, p->ylabel);
	put(b, "</text>\n");
	/* the series, then the legend */
	for (int i = 0; i < p->n_series; i++) {
		const reel_svg_series *s = &p->series[i];
		const char *col = PALETTE[(s->color % NPAL + NPAL) % NPAL];
		int started = 0;
		for (int k = 0; k < s->n; k++) {
			if (!usable(s->x[k], s->y[k], p->logy))
				continue;
			if (!started)
				put(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"%s points=\"", col,
				    s->dashed ? " stroke-dasharray=\"6 3\"" : "");
			put(b, "%s%.1f,%.1f", started ? " " : "", PX(s->x[k]), PY(ax_val(&ay, s->y[k])));
			started = 1;
		}
		if (started)
			put(b, "\"/>\n");
		if (s->markers)
			for (int k = 0; k < s->n; k++)
				if (usable(s->x[k], s->y[k], p->logy))
					put(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.8\" fill=\"%s\"/>\n", PX(s->x[k]),
					    PY(ax_val(&ay, s->y[k])), col);
	}
	int ly = top + 10;
	for (int i = 0; i < p->n_series; i++) {
		const reel_svg_series *s = &p->series[i];
		if (!s->label)
			continue;
		const char *col = PALETTE[(s->color % NPAL + NPAL) % NPAL];
		put(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", x0 + pw + 12, ly,
		    x0 + pw + 36, ly, col, s->dashed ? " stroke-dasharray=\"6 3\"" : "");
		put(b, "<text x=\"%d\" y=\"%d\" font-size=\"11\">", x0 + pw + 42, ly + 4);
		put_text(b, s->label);
		put(b, "</text>\n");
		ly += 18;
	}
#undef PX
#undef PY
	put(b, "</g>\n");
}

static void header(sbuf *b, int w, int h, const char *title)
{
	put(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	put(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	       "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
	    w, h, w, h);
	put(b, "<title>");
	put_text(b, title);
	put(b, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", w, h);
	put(b, "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\" text-anchor=\"middle\">", w / 2);
	put_text(b, title);
	put(b, "</text>\n");
}

reel_status reel_svg_panels(const char *path, const char *title, const reel_svg_panel *p, int np, reel_err *err)
{
	if (np < 1)
		return reel_err_set(err, REEL_ERR_ARG, "%s: nothing to draw", path);
	sbuf b = {0};
	header(&b, W, 36 + np * PH, title);
	for (int i = 0; i < np; i++)
		draw_panel(&b, &p[i], 36 + i * PH);
	return finish(&b, path, err);
}

/* ---- heatmap ---------------------------------------------------------------------------- */

/* white (0) to dark blue (1) */
static void shade(double w, char *out, size_t n)
{
	w = w < 0 ? 0 : w > 1 ? 1 : w;
	int r = (int)(255 - w * (255 - 8)), g = (int)(255 - w * (255 - 48)), bl = (int)(255 - w * (255 - 107));
	snprintf(out, n, "#%02x%02x%02x", r, g, bl);
}

reel_status reel_svg_heatmap(const char *path, const char *title, const char *const *row_labels, int R,
                             const char *const *col_labels, int C, const reel_real *w, const char *row_axis,
                             const char *col_axis, reel_err *err)
{
	if (R < 1 || C < 1)
		return reel_err_set(err, REEL_ERR_ARG, "%s: nothing to draw (%d x %d)", path, R, C);
	int cell = C > 60 || R > 60 ? 12 : 24, left = 110, top = 110;
	int width = left + C * cell + 120, height = top + R * cell + 40;
	int tw = 40 + 10 * (int)strlen(title ? title : ""); /* the title, centred, must fit */
	if (width < tw)
		width = tw;
	if (width < 420)
		width = 420;
	if (R * cell < 100)
		height = top + 100 + 40;
	sbuf b = {0};
	header(&b, width, height, title);
	char col[16];
	/* column labels (source tokens), one per column, above the grid */
	for (int c = 0; c < C; c++) {
		double x = left + c * cell + cell / 2.0;
		put(&b, "<text x=\"%.1f\" y=\"%d\" font-size=\"%d\" font-family=\"DejaVu Sans Mono, monospace\" "
		        "text-anchor=\"middle\">",
		    x, top - 8, cell > 12 ? 14 : 9);
		put_text(&b, col_labels[c] && col_labels[c][0] ? (strcmp(col_labels[c], " ") ? col_labels[c] : "\xe2\x90\xa3") : "?");
		put(&b, "</text>\n");
	}
	put(&b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">", left + C * cell / 2, top - 34);
	put_text(&b, col_axis);
	put(&b, "</text>\n");
	for (int r = 0; r < R; r++) {
		double y = top + r * cell + cell / 2.0 + 5;
		put(&b, "<text x=\"%d\" y=\"%.1f\" font-size=\"%d\" font-family=\"DejaVu Sans Mono, monospace\" "
		        "text-anchor=\"end\">",
		    left - 8, y, cell > 12 ? 14 : 9);
		put_text(&b, row_labels[r] && row_labels[r][0] ? (strcmp(row_labels[r], " ") ? row_labels[r] : "\xe2\x90\xa3") : "?");
		put(&b, "</text>\n");
	}
	put(&b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 %d %d)\">", 24,
	    top + R * cell / 2, 24, top + R * cell / 2);
	put_text(&b, row_axis);
	put(&b, "</text>\n<g class=\"cells\">\n");
	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++) {
			double v = (double)w[(size_t)r * C + c];
			shade(v, col, sizeof col);
			put(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>%.3f</title></rect>\n",
			    left + c * cell, top + r * cell, cell, cell, col, v);
		}
	put(&b, "</g>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", left, top,
	    C * cell, R * cell);
	/* the scale: 0 to 1 */
	int sx = left + C * cell + 30, sh = R * cell < 100 ? 100 : R * cell;
	for (int i = 0; i < 10; i++) {
		shade((9 - i) / 9.0, col, sizeof col);
		put(&b, "<rect x=\"%d\" y=\"%.1f\" width=\"16\" height=\"%.1f\" fill=\"%s\"/>\n", sx, top + i * sh / 10.0,
		    sh / 10.0 + 0.5, col);
	}
	put(&b, "<rect x=\"%d\" y=\"%d\" width=\"16\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", sx, top, sh);
	put(&b, "<text x=\"%d\" y=\"%d\" font-size=\"11\">1</text>\n", sx + 22, top + 10);
	put(&b, "<text x=\"%d\" y=\"%d\" font-size=\"11\">0</text>\n", sx + 22, top + sh);
	return finish(&b, path, err);
}
