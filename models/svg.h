/* Pictures as SVG, written by reel itself: plain text, no dependency, opens
 * in any browser.  Two kinds: panels of line charts (training curves,
 * predicted against actual) with axes, ticks, labels, a legend and an
 * optional log scale; and a heatmap with labelled rows and columns (the
 * attention of a decoded example).
 *
 * Each function builds the document in memory and writes it atomically
 * (reel_write_file_atomic).  Labels are escaped for XML; the caller's
 * arrays are only read.  Returns REEL_OK, or an error with err set
 * (REEL_ERR_IO, REEL_ERR_NOMEM, REEL_ERR_ARG for nothing to draw). */
#ifndef REEL_SVG_H
#define REEL_SVG_H

#include "reel.h"

typedef struct reel_svg_series {
	const char *label;  /* legend text (NULL: none) */
	const double *x, *y; /* n points; non-finite points are skipped (log scale: y <= 0 too) */
	int n;
	int color;          /* index into the palette (wraps) */
	int dashed;         /* 1: dashed line */
	int markers;        /* 1: a dot at every point */
} reel_svg_series;

typedef struct reel_svg_panel {
	const char *title, *xlabel, *ylabel;
	int logy;           /* 1: log10 y axis */
	int percent;        /* 1: y is a percentage: the axis stays within [0, 100] */
	const reel_svg_series *series;
	int n_series;
} reel_svg_panel;

/* np panels stacked vertically under a title. */
reel_status reel_svg_panels(const char *path, const char *title, const reel_svg_panel *p, int np, reel_err *err);

/* A heatmap of w (R, C) in [0, 1] (row-major, row stride C): row labels
 * down the left, column labels along the top, a scale bar.  For attention:
 * rows are output tokens, columns source tokens. */
reel_status reel_svg_heatmap(const char *path, const char *title, const char *const *row_labels, int R,
                             const char *const *col_labels, int C, const reel_real *w, const char *row_axis,
                             const char *col_axis, reel_err *err);

#endif
