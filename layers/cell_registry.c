/* The cell registry: the built-in cells, then the program's own in the
 * order they were registered.  A fixed table (no allocation), filled before
 * models are built; lookups are by name. */
#include "layers.h"

#include <stdio.h>
#include <string.h>

#define MAX_USER_CELLS 32

static const reel_cell *const BUILTIN[] = {
	&reel_cell_rnn_tanh, &reel_cell_rnn_relu, &reel_cell_lstm, &reel_cell_gru, &reel_cell_mgu,
	&reel_cell_indrnn, &reel_cell_peephole_lstm, &reel_cell_ln_lstm,
};
#define NBUILTIN ((int)(sizeof BUILTIN / sizeof BUILTIN[0]))

static const reel_cell *user[MAX_USER_CELLS];
static int nuser;

reel_status reel_cell_validate(const reel_cell *c, reel_err *err)
{
	if (!c || !c->name || !*c->name)
		return reel_err_set(err, REEL_ERR_ARG, "cell: no descriptor or no name");
	if (!c->step)
		return reel_err_set(err, REEL_ERR_ARG, "cell %s: no step function", c->name);
	if (c->nstate < 1 || c->nstate > 2)
		return reel_err_set(err, REEL_ERR_ARG, "cell %s: nstate must be 1 or 2, got %d", c->name, c->nstate);
	if (c->gates < 1)
		return reel_err_set(err, REEL_ERR_ARG, "cell %s: gates must be at least 1, got %d", c->name, c->gates);
	if (c->nparams < 0 || c->nparams > REEL_CELL_MAX_PARAMS)
		return reel_err_set(err, REEL_ERR_ARG, "cell %s: nparams must be 0 to %d, got %d", c->name,
		                    REEL_CELL_MAX_PARAMS, c->nparams);
	int nproj = 0;
	for (int i = 0; i < c->nparams; i++) {
		const reel_cell_param *p = &c->params[i];
		if (!p->name || !*p->name)
			return reel_err_set(err, REEL_ERR_ARG, "cell %s: parameter %d has no name", c->name, i);
		for (int j = 0; j < i; j++)
			if (!strcmp(c->params[j].name, p->name))
				return reel_err_set(err, REEL_ERR_ARG, "cell %s: parameter name %s appears twice", c->name, p->name);
		if (p->ndim < 1 || p->ndim > 2)
			return reel_err_set(err, REEL_ERR_ARG, "cell %s: parameter %s: ndim must be 1 or 2, got %d", c->name,
			                    p->name, p->ndim);
		for (int d = 0; d < p->ndim; d++) {
			const reel_cell_dim *m = &p->shape[d];
			if (m->i < 0 || m->h < 0 || m->gh < 0 || m->i + m->h + m->gh == 0)
				return reel_err_set(err, REEL_ERR_ARG,
				                    "cell %s: parameter %s: dimension %d must be a non-negative, non-zero "
				                    "combination of I, H and G*H", c->name, p->name, d);
		}
		if ((unsigned)p->init > REEL_INIT_UNIT)
			return reel_err_set(err, REEL_ERR_ARG, "cell %s: parameter %s: unknown initializer %d", c->name, p->name,
			                    (int)p->init);
		if (p->flags & REEL_CP_PROJ) {
			nproj++;
			if (p->ndim != 2 || p->shape[1].i != 1 || p->shape[1].h || p->shape[1].gh)
				return reel_err_set(err, REEL_ERR_ARG, "cell %s: the projection weight %s must be (rows, I)", c->name,
				                    p->name);
		}
		if ((p->flags & REEL_CP_PROJ_BIAS) && p->ndim != 1)
			return reel_err_set(err, REEL_ERR_ARG, "cell %s: projection bias %s must be 1-d", c->name, p->name);
	}
	if (nproj > 1)
		return reel_err_set(err, REEL_ERR_ARG, "cell %s: more than one REEL_CP_PROJ parameter", c->name);
	return REEL_OK;
}

size_t reel_cell_param_count(const reel_cell *c, int I, int H, int no_bias)
{
	size_t n = 0;
	for (int i = 0; i < c->nparams; i++) {
		const reel_cell_param *p = &c->params[i];
		if (no_bias && (p->flags & REEL_CP_BIAS))
			continue;
		size_t k = 1;
		for (int d = 0; d < p->ndim; d++)
			k *= (size_t)p->shape[d].i * I + (size_t)p->shape[d].h * H + (size_t)p->shape[d].gh * c->gates * H;
		n += k;
	}
	return n;
}

int reel_cell_count(void)
{
	return NBUILTIN + nuser;
}

const reel_cell *reel_cell_at(int i)
{
	if (i < 0 || i >= reel_cell_count())
		return NULL;
	return i < NBUILTIN ? BUILTIN[i] : user[i - NBUILTIN];
}

const reel_cell *reel_cell_find(const char *name)
{
	for (int i = 0; name && i < reel_cell_count(); i++)
		if (!strcmp(reel_cell_at(i)->name, name))
			return reel_cell_at(i);
	return NULL;
}

reel_status reel_cell_register(const reel_cell *cell, reel_err *err)
{
	reel_status s = reel_cell_validate(cell, err);
	if (s != REEL_OK)
		return s;
	if (reel_cell_find(cell->name))
		return reel_err_set(err, REEL_ERR_ARG, "cell %s: a cell of that name is already registered", cell->name);
	if (nuser == MAX_USER_CELLS)
		return reel_err_set(err, REEL_ERR_ARG, "cell %s: the registry is full (%d cells of a program's own)",
		                    cell->name, MAX_USER_CELLS);
	user[nuser++] = cell;
	return REEL_OK;
}

reel_status reel_cell_define(const reel_cell *cell, reel_err *err)
{
	reel_status s = reel_cell_validate(cell, err);
	if (s != REEL_OK)
		return s;
	for (int i = 0; i < NBUILTIN; i++)
		if (!strcmp(BUILTIN[i]->name, cell->name))
			return reel_err_set(err, REEL_ERR_ARG, "cell %s: the name of a built-in cell", cell->name);
	for (int i = 0; i < nuser; i++)
		if (!strcmp(user[i]->name, cell->name)) {
			user[i] = cell;
			return REEL_OK;
		}
	return reel_cell_register(cell, err);
}
