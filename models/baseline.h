/* Forecasting baselines for regress configs over series (csv,
 * mackey_glass, sine): persistence and a linear autoregression fitted by
 * least squares on the training windows, scored on a split in the units
 * `reel eval` reports (z-scores for csv).  See baseline.c for the method. */
#ifndef REEL_BASELINE_H
#define REEL_BASELINE_H

#include "model.h"

typedef struct reel_baseline_report {
	int horizon;                              /* steps ahead, from the config */
	double mse_persistence, mae_persistence;  /* the window's last value */
	int order;                                /* AR order used */
	double mse_ar, mae_ar;
} reel_baseline_report;

/* Fit and score the baselines of m's data (task regress, targets = inputs,
 * one target after the window).  order 0: the AR order in 1..window with
 * the lowest validation MSE; else that order.  Reads the training split
 * once per order tried and rewinds every split it reads.  REEL_ERR_ARG for
 * a config the baselines do not apply to; REEL_ERR_NUMERIC when the least
 * squares fail; REEL_ERR_NOMEM. */
reel_status reel_baseline_series(reel_model *m, int order, reel_data_split split, reel_baseline_report *r,
                                 reel_err *err);

#endif
