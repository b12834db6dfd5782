/* Shared helpers of the benchmark programs. */
#ifndef REEL_BENCH_H
#define REEL_BENCH_H

#include "reel.h"

#include <stdlib.h>

double bench_now(void);                 /* monotonic seconds */
double bench_median(double *v, int n);  /* sorts v */

int bench_overhead(int argc, char **argv);
int bench_s2s(int argc, char **argv);
int bench_rnn(int argc, char **argv);
int bench_cells(int argc, char **argv); /* a JSON-compiled LSTM vs the built-in (bench/cells.c) */
int bench_grid(int argc, char **argv);
int bench_plans(int argc, char **argv); /* the matmul planner's choices for the grid's shapes (bench/rnn.c) */
int bench_peak(int argc, char **argv);  /* a 1024^3 product against the core's theoretical peak (bench/rnn.c) */
int bench_train(int argc, char **argv);
int bench_s2s_table(int argc, char **argv);
int bench_layernorm(int argc, char **argv);
int bench_decode(int argc, char **argv);
int bench_forward(int argc, char **argv);

#endif
