/* Recurrent cells declared in a config as equations (the "cells" section).
 *
 * Each cell is compiled once, when the config is read, into a program of
 * engine op calls (a list of (op, operands) with every value in its own
 * register) and registered in the cell registry under its name
 * (reel_cell_define), so it is a recurrent layer type like the built-ins:
 * the driver runs its step with every option, and `reel info`, `reel
 * gradcheck` and the benchmark see an ordinary cell.  The language is
 * documented in configs/README.md ("Cells in JSON").
 *
 * Ownership: compiled cells live until the program exits (models built
 * with them hold their descriptors); a cell read again with the same
 * definition is reused, a changed one replaces it in the registry. */
#ifndef REEL_CELLC_H
#define REEL_CELLC_H

#include "config.h"

/* Read root's "cells" object (when present, or in describe mode), compile
 * and register each cell.  Errors (with the cell, the equation and the
 * column) go to root's cfg. */
void reel_cells_read(reel_cfg_obj *root);
/* The inits the driver does not know (constant, spectral), applied to the
 * parameters reel_rnn_init made for a JSON cell, every layer and direction
 * in turn, after the driver's own; REEL_OK at once for other cells. */
reel_status reel_cells_init(const reel_rnn *r, reel_rng *rng, reel_err *err);
/* 1 if the last read of a config defined name but its cell had errors (a
 * layer of that type is then not reported again as unknown). */
int reel_cells_failed(const char *name);
/* A compiled cell's equations as parsed, one per line, and its program's
 * size; NULL for a cell written in C. */
const char *reel_cells_text(const reel_cell *cell);

#endif
