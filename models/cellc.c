/* The cell language (see cellc.h and configs/README.md): a config's cells,
 * parsed by recursive descent, checked (names, shapes, cycles), compiled
 * to a program of engine op calls, and registered as cells.
 *
 * A cell's program is straight-line code in SSA form: instruction i
 * leaves its tensor in register i.  The step runs the list once per time
 * step, each instruction one engine op (reel_add, reel_sigmoid,
 * reel_addmm, ...); nothing loops over numbers.  Equal instructions are
 * emitted once (so a subexpression written twice costs one op), numbers
 * are folded, and when every x.<gate> is summed with its hh.<gate> the two
 * products become one addmm per step (xp + h W_hh^T), as in the built-in
 * LSTM, with b_hh folded into the all-steps projection.
 *
 * Grammar (one equation):
 *   sum     := product (('+' | '-') product)*
 *   product := mm ('*' mm)*
 *   mm      := unary ('@' unary)*          left operand: a matrix parameter
 *   unary   := '-' unary | primary
 *   primary := number | name | name "'" | x.gate | hh.gate | x
 *            | fn '(' sum ')' | '(' sum ')'
 *   fn      := sigmoid | tanh | relu | softsign | hardtanh | exp */
#include "fault.h"
#include "cellc.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "layers.h"

#define MAX_GATES 8
#define MAX_UPARAMS (REEL_CELL_MAX_PARAMS - 4)
#define MAX_EQS 16
#define MAX_NODES 512
#define MAX_INSNS 256
#define MAX_FAILED 16

static const char *const FNS[] = {"sigmoid", "tanh", "relu", "softsign", "hardtanh", "exp", NULL};
enum { F_SIGMOID, F_TANH, F_RELU, F_SOFTSIGN, F_HARDTANH, F_EXP };
static const char *const INITS[] = {"uniform", "zeros", "ones", "unit", "orthogonal", "constant", "spectral", NULL};
/* constant and spectral are applied after the driver's init (reel_cells_init): zeros until then */
enum { I_CONSTANT = 5, I_SPECTRAL = 6 };
static const reel_cell_init INIT_OF[] = {REEL_INIT_UNIFORM, REEL_INIT_ZEROS, REEL_INIT_ONES, REEL_INIT_UNIT,
                                         REEL_INIT_ORTHOGONAL, REEL_INIT_ZEROS, REEL_INIT_ZEROS};
static const char *const IMPLICIT[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
enum { S_WIH, S_WHH, S_BIH, S_BHH };

/* ---- the program ------------------------------------------------------------------ */

enum {
	OP_STATE, OP_HIN, OP_PARAM, OP_XP, OP_HH, OP_FUSED, OP_SPLIT, OP_PART, OP_ADD, OP_SUB, OP_MUL, OP_SCALE,
	OP_ADDS, OP_ONEMINUS, OP_FN, OP_MM,
};

typedef struct insn {
	unsigned char op;
	short a, b;  /* registers, or a state / slot / function index */
	double k;    /* OP_SCALE, OP_ADDS */
} insn;

typedef struct program {
	int n;
	insn code[MAX_INSNS];
	int out[2];  /* registers of the new states */
	int whh, bhh; /* slots of weight_hh, bias_hh (-1: none) */
} program;

/* A compiled cell: the descriptor the registry holds, its program, and
 * the strings both point to (copies: the cfg they came from is freed). */
typedef struct jcell {
	reel_cell cell;
	program prog;
	char *source; /* the definition, unformatted JSON: a cell read again unchanged is reused */
	char *text;   /* the equations as parsed, for reel info */
	char *strings;
	int init[REEL_CELL_MAX_PARAMS]; /* index into INITS of each parameter */
	double value[REEL_CELL_MAX_PARAMS];
	struct jcell *next;
} jcell;

static jcell *compiled;                         /* every cell compiled, kept for the models built with them */
static char failed[MAX_FAILED][64];
static int nfailed;

static void run_fn(reel_tape *t, int f, reel_tensor *x, reel_tensor **out)
{
	switch (f) {
	case F_SIGMOID: *out = reel_sigmoid(t, x); break;
	case F_TANH: *out = reel_tanh(t, x); break;
	case F_RELU: *out = reel_relu(t, x); break;
	case F_EXP: *out = reel_exp(t, x); break;
	case F_HARDTANH: *out = reel_clamp(t, x, -1, 1); break;
	/* softsign(x) = x / (1 + |x|) */
	case F_SOFTSIGN: *out = reel_div(t, x, reel_add_scalar(t, reel_abs(t, x), 1)); break;
	}
}

/* One time step: the program, one engine op per instruction. */
static void jcell_step(reel_tape *t, const reel_cell_params *p, reel_tensor *xp, reel_tensor *h_in,
                       reel_tensor *const *state, reel_tensor **next)
{
	const program *pg = p->cell->data;
	reel_tensor *r[MAX_INSNS];
	for (int i = 0; i < pg->n; i++) {
		const insn *c = &pg->code[i];
		reel_tensor *a = c->op >= OP_ADD && c->op != OP_FN ? r[c->a] : NULL, *b = NULL;
		switch (c->op) {
		case OP_STATE: r[i] = state[c->a]; break;
		case OP_HIN: r[i] = h_in; break;
		case OP_PARAM: r[i] = p->w[c->a]; break;
		case OP_XP: r[i] = xp; break;
		case OP_HH: /* h W_hh^T + b_hh                                   (B, k*H) */
			b = pg->bhh >= 0 ? p->w[pg->bhh] : NULL;
			r[i] = b ? reel_addmm(t, b, h_in, p->w[pg->whh], REEL_TRANS_B)
			         : reel_matmul(t, h_in, p->w[pg->whh], REEL_TRANS_B);
			break;
		case OP_FUSED: r[i] = reel_addmm(t, xp, h_in, p->w[pg->whh], REEL_TRANS_B); break; /* xp + h W_hh^T */
		case OP_SPLIT:
			if (c->b == 1)
				r[i + 1] = r[c->a];
			else if (reel_split(t, r[c->a], -1, c->b, r + i + 1) != REEL_OK)
				return;
			r[i] = r[c->a];
			break;
		case OP_PART: break; /* filled by its OP_SPLIT */
		case OP_ADD: r[i] = reel_add(t, a, r[c->b]); break;
		case OP_SUB: r[i] = reel_sub(t, a, r[c->b]); break;
		case OP_MUL: r[i] = reel_mul(t, a, r[c->b]); break;
		case OP_SCALE: r[i] = reel_scale(t, a, (reel_real)c->k); break;
		case OP_ADDS: r[i] = reel_add_scalar(t, a, (reel_real)c->k); break;
		case OP_ONEMINUS: r[i] = reel_one_minus(t, a); break;
		case OP_FN: run_fn(t, c->a, r[c->b], &r[i]); break;
		case OP_MM: r[i] = reel_matmul(t, r[c->b], a, REEL_TRANS_B); break; /* W @ v = v W^T */
		}
	}
	for (int s = 0; s < p->cell->nstate; s++)
		next[s] = r[pg->out[s]];
}

/* ---- the compiler's state --------------------------------------------------------------- */

enum { K_NUM, K_STATE, K_PRIME, K_LOCAL, K_PARAM, K_X, K_HH, K_XRAW, K_NEG, K_ADD, K_SUB, K_MUL, K_MM, K_FN };

typedef struct node {
	int k, pos, a, b, ref; /* children; state / param / gate / equation / function index */
	double num;
} node;

/* A width: h * H + i * I columns (G folded into h). */
typedef struct width {
	int h, i;
} width;

enum { T_NUM, T_VEC, T_ROWS, T_MAT, T_BAD };
typedef struct type {
	int kind;
	width w, cols; /* T_MAT: rows w, columns cols */
} type;

typedef struct uparam {
	const char *name;
	int ndim;
	width dim[2];
	int init, frozen;
	double value;
	int slot;
} uparam;

typedef struct eqn {
	const char *name, *text;
	int root;  /* node, -1 after a syntax error */
	int state; /* index, or -1 for a local definition */
	int mark;  /* cycle search: 0 new, 1 on the path, 2 done */
	type ty;
	int reg[2]; /* emitted value (register or -1 with num), outside / inside an @ operand */
	double num[2];
	int done[2];
} eqn;

typedef struct cc {
	reel_cfg_obj *eo;   /* the equations object: errors are located at its keys */
	const char *cell;
	int G;
	const char *gates[MAX_GATES];
	const char *forget;
	int ns;
	const char *states[2];
	int np;
	uparam par[MAX_UPARAMS];
	uparam imp[4];      /* overrides of weight_ih, weight_hh, bias_ih, bias_hh (init, frozen) */
	int neq;
	eqn eq[MAX_EQS];
	node nd[MAX_NODES];
	int nn;
	int nerr;
	int xused[MAX_GATES], hhused[MAX_GATES], xblock[MAX_GATES], hblock[MAX_GATES], nx, nh, xraw;
	int nxocc, nhocc, npaired, fused;
	program *pg;
	int slot[4];
	int xsplit, hsplit; /* registers of the split projections (-1: not yet) */
	int cur;            /* equation being worked on (errors) */
	int path[MAX_EQS], npath;
} cc;

static void cerr(cc *c, int eq, int pos, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void cerr(cc *c, int eq, int pos, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	const eqn *e = &c->eq[eq];
	size_t len = strlen(e->text);
	if (pos > (int)len)
		pos = (int)len;
	if (pos < (int)len)
		reel_cfg_error(c->eo, e->name, "cell %s, equation %s, column %d: %s (at \"%.16s\")", c->cell, e->name, pos + 1,
		               msg, e->text + pos);
	else
		reel_cfg_error(c->eo, e->name, "cell %s, equation %s, column %d: %s (at the end)", c->cell, e->name, pos + 1, msg);
	c->nerr++;
}

/* ", did you mean "x"" among candidates */
static void suggest(const char *w, const char *const *cand, int n, char *out, size_t sz)
{
	int best = strlen(w) < 3 ? (int)strlen(w) : 3; /* a one-letter name suggests nothing */
	out[0] = 0;
	for (int i = 0; i < n; i++)
		if (cand[i]) {
			int d = reel_cfg_distance(w, cand[i]);
			if (d < best) {
				best = d;
				snprintf(out, sz, "; did you mean \"%s\"?", cand[i]);
			}
		}
}

static int find(const char *const *names, int n, const char *s, size_t len)
{
	for (int i = 0; i < n; i++)
		if (names[i] && strlen(names[i]) == len && !strncmp(names[i], s, len))
			return i;
	return -1;
}

static int is_ident(const char *s)
{
	if (!s || !(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

/* ---- parsing -------------------------------------------------------------------------- */

typedef struct parser {
	cc *c;
	int eq;
	const char *s, *p;
	int failed;
} parser;

static void skip(parser *ps)
{
	while (isspace((unsigned char)*ps->p))
		ps->p++;
}

static int pos_of(parser *ps) { return (int)(ps->p - ps->s); }

static int fail(parser *ps, int pos, const char *fmt, const char *arg, const char *more)
{
	if (!ps->failed) {
		char m[256];
		snprintf(m, sizeof m, fmt, arg ? arg : "");
		cerr(ps->c, ps->eq, pos, "%s%s", m, more ? more : "");
	}
	ps->failed = 1;
	return -1;
}

static int mk(parser *ps, int k, int pos, int a, int b, int ref, double num)
{
	cc *c = ps->c;
	if (c->nn == MAX_NODES)
		return fail(ps, pos, "the cell's equations are too long (over %s nodes)", "512", NULL);
	c->nd[c->nn] = (node){k, pos, a, b, ref, num};
	return c->nn++;
}

static int p_sum(parser *ps);

static int p_primary(parser *ps)
{
	cc *c = ps->c;
	skip(ps);
	int pos = pos_of(ps);
	const char *q = ps->p;
	if (isdigit((unsigned char)*q) || (*q == '.' && isdigit((unsigned char)q[1]))) {
		char *end;
		double v = strtod(q, &end);
		ps->p = end;
		return mk(ps, K_NUM, pos, -1, -1, 0, v);
	}
	if (*q == '(') {
		ps->p++;
		int e = p_sum(ps);
		skip(ps);
		if (e < 0)
			return -1;
		if (*ps->p != ')')
			return fail(ps, pos, "this \"(\" is not closed%s", NULL, NULL);
		ps->p++;
		return e;
	}
	if (!(isalpha((unsigned char)*q) || *q == '_'))
		return fail(ps, pos, "expected a number, a name or \"(\"%s", NULL, NULL);
	while (isalnum((unsigned char)*ps->p) || *ps->p == '_')
		ps->p++;
	size_t len = (size_t)(ps->p - q);
	char name[64];
	snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), q);
	int is_x = !strcmp(name, "x"), is_hh = !strcmp(name, "hh");
	if ((is_x || is_hh) && *ps->p == '.') {
		ps->p++;
		const char *g = ps->p;
		while (isalnum((unsigned char)*ps->p) || *ps->p == '_')
			ps->p++;
		char gname[64];
		snprintf(gname, sizeof gname, "%.*s", (int)(ps->p - g < 63 ? ps->p - g : 63), g);
		int gi = find(c->gates, c->G, g, (size_t)(ps->p - g));
		if (gi < 0) {
			char sug[96], more[128];
			suggest(gname, c->gates, c->G, sug, sizeof sug);
			snprintf(more, sizeof more, "%s", sug[0] ? sug : " (not in \"gates\")");
			return fail(ps, (int)(g - ps->s), "unknown gate \"%s\"", gname, more);
		}
		return mk(ps, is_x ? K_X : K_HH, pos, -1, -1, gi, 0);
	}
	if (*ps->p == '\'') {
		ps->p++;
		int si = find(c->states, c->ns, q, len);
		if (si < 0)
			return fail(ps, pos, "%s' names the new value of a state, but it is not one of \"states\"", name, NULL);
		return mk(ps, K_PRIME, pos, -1, -1, si, 0);
	}
	int fi = find(FNS, 6, q, len);
	if (fi >= 0) {
		skip(ps);
		if (*ps->p != '(')
			return fail(ps, pos_of(ps), "expected \"(\" after %s", name, NULL);
		ps->p++;
		int e = p_sum(ps);
		if (e < 0)
			return -1;
		skip(ps);
		if (*ps->p != ')')
			return fail(ps, pos_of(ps), "expected \")\" to close %s(", name, NULL);
		ps->p++;
		return mk(ps, K_FN, pos, e, -1, fi, 0);
	}
	if (is_x)
		return mk(ps, K_XRAW, pos, -1, -1, 0, 0);
	if (is_hh)
		return fail(ps, pos, "hh needs a gate: hh.<gate>%s", NULL, NULL);
	int i;
	if ((i = find(c->states, c->ns, q, len)) >= 0)
		return mk(ps, K_STATE, pos, -1, -1, i, 0);
	for (i = 0; i < c->np; i++)
		if (strlen(c->par[i].name) == len && !strncmp(c->par[i].name, q, len))
			return mk(ps, K_PARAM, pos, -1, -1, i, 0);
	for (i = 0; i < c->neq; i++)
		if (c->eq[i].state < 0 && strlen(c->eq[i].name) == len && !strncmp(c->eq[i].name, q, len))
			return mk(ps, K_LOCAL, pos, -1, -1, i, 0);
	for (i = 0; i < 4; i++)
		if (!strcmp(name, IMPLICIT[i]))
			return fail(ps, pos, "%s is used through x.<gate> and hh.<gate>, not by name", name, NULL);
	const char *cand[MAX_UPARAMS + MAX_EQS + 8];
	int n = 0;
	for (i = 0; i < c->ns; i++)
		cand[n++] = c->states[i];
	for (i = 0; i < c->np; i++)
		cand[n++] = c->par[i].name;
	for (i = 0; i < c->neq; i++)
		cand[n++] = c->eq[i].name;
	for (i = 0; FNS[i]; i++)
		cand[n++] = FNS[i];
	char sug[96];
	suggest(name, cand, n, sug, sizeof sug);
	return fail(ps, pos, "unknown name \"%s\"", name, sug[0] ? sug : " (not a state, a parameter, a definition or a function)");
}

static int p_unary(parser *ps)
{
	skip(ps);
	if (*ps->p == '-') {
		int pos = pos_of(ps);
		ps->p++;
		int e = p_unary(ps);
		return e < 0 ? -1 : mk(ps, K_NEG, pos, e, -1, 0, 0);
	}
	return p_primary(ps);
}

static int p_mm(parser *ps)
{
	int a = p_unary(ps);
	for (;;) {
		if (a < 0)
			return -1;
		skip(ps);
		if (*ps->p != '@')
			return a;
		int pos = pos_of(ps);
		ps->p++;
		int b = p_unary(ps);
		a = b < 0 ? -1 : mk(ps, K_MM, pos, a, b, 0, 0);
	}
}

static int p_product(parser *ps)
{
	int a = p_mm(ps);
	for (;;) {
		if (a < 0)
			return -1;
		skip(ps);
		if (*ps->p != '*')
			return a;
		int pos = pos_of(ps);
		ps->p++;
		int b = p_mm(ps);
		a = b < 0 ? -1 : mk(ps, K_MUL, pos, a, b, 0, 0);
	}
}

static int p_sum(parser *ps)
{
	int a = p_product(ps);
	for (;;) {
		if (a < 0)
			return -1;
		skip(ps);
		if (*ps->p != '+' && *ps->p != '-')
			return a;
		int k = *ps->p == '+' ? K_ADD : K_SUB, pos = pos_of(ps);
		ps->p++;
		int b = p_product(ps);
		a = b < 0 ? -1 : mk(ps, k, pos, a, b, 0, 0);
	}
}

static void parse_eq(cc *c, int i)
{
	parser ps = {c, i, c->eq[i].text, c->eq[i].text, 0};
	int r = p_sum(&ps);
	skip(&ps);
	if (r >= 0 && *ps.p) {
		const char *msg = *ps.p == ')' ? "unbalanced \")\"" : "expected an operator (+ - * @) or the end";
		r = fail(&ps, pos_of(&ps), "%s", msg, NULL);
	}
	c->eq[i].root = r;
}

/* ---- types: shapes, and cycles among the equations ------------------------------------------ */

static void wstr(width w, char *out, size_t n)
{
	char a[16] = "", b[16] = "";
	if (w.h)
		snprintf(a, sizeof a, w.h == 1 ? "H" : "%dH", w.h);
	if (w.i)
		snprintf(b, sizeof b, w.i == 1 ? "I" : "%dI", w.i);
	snprintf(out, n, "%s%s%s", a, w.h && w.i ? "+" : "", b);
}

static void tstr(type t, char *out, size_t n)
{
	char a[32], b[32];
	wstr(t.w, a, sizeof a);
	wstr(t.cols, b, sizeof b);
	switch (t.kind) {
	case T_NUM: snprintf(out, n, "a number"); break;
	case T_VEC: snprintf(out, n, "a vector (%s)", a); break;
	case T_ROWS: snprintf(out, n, "(B, %s)", a); break;
	case T_MAT: snprintf(out, n, "a matrix (%s, %s)", a, b); break;
	default: snprintf(out, n, "?"); break;
	}
}

static int weq(width a, width b) { return a.h == b.h && a.i == b.i; }

static type type_eq(cc *c, int e, int pos);

static type type_of(cc *c, int n)
{
	const node *d = &c->nd[n];
	type H = {T_ROWS, {1, 0}, {0, 0}}, bad = {T_BAD, {0, 0}, {0, 0}};
	char s1[96], s2[96];
	switch (d->k) {
	case K_NUM: return (type){T_NUM, {0, 0}, {0, 0}};
	case K_STATE: case K_X: case K_HH: return H;
	case K_PRIME: {
		int e = -1;
		for (int i = 0; i < c->neq; i++)
			if (c->eq[i].state == d->ref)
				e = i;
		return e < 0 ? H : type_eq(c, e, d->pos);
	}
	case K_LOCAL: return type_eq(c, d->ref, d->pos);
	case K_XRAW: return (type){T_ROWS, {0, 1}, {0, 0}};
	case K_PARAM: {
		const uparam *p = &c->par[d->ref];
		return p->ndim == 1 ? (type){T_VEC, p->dim[0], {0, 0}} : (type){T_MAT, p->dim[0], p->dim[1]};
	}
	case K_NEG: case K_FN: {
		type a = type_of(c, d->a);
		if (a.kind == T_MAT) {
			cerr(c, c->cur, d->pos, "the matrix %s may only be the left operand of @", c->par[c->nd[d->a].ref].name);
			return bad;
		}
		return a;
	}
	case K_ADD: case K_SUB: case K_MUL: {
		type a = type_of(c, d->a), b = type_of(c, d->b);
		if (a.kind == T_BAD || b.kind == T_BAD)
			return bad;
		if (a.kind == T_MAT || b.kind == T_MAT) {
			const node *m = &c->nd[a.kind == T_MAT ? d->a : d->b];
			cerr(c, c->cur, m->pos, "the matrix %s may only be the left operand of @",
			     m->k == K_PARAM ? c->par[m->ref].name : "?");
			return bad;
		}
		if (a.kind == T_NUM)
			return b;
		if (b.kind == T_NUM)
			return a;
		if (!weq(a.w, b.w)) {
			tstr(a, s1, sizeof s1);
			tstr(b, s2, sizeof s2);
			cerr(c, c->cur, d->pos, "the shapes do not fit: %s %c %s", s1, d->k == K_ADD ? '+' : d->k == K_SUB ? '-' : '*', s2);
			return bad;
		}
		return a.kind == T_ROWS || b.kind == T_ROWS ? (type){T_ROWS, a.w, {0, 0}} : a;
	}
	case K_MM: {
		const node *l = &c->nd[d->a];
		if (l->k != K_PARAM || c->par[l->ref].ndim != 2) {
			cerr(c, c->cur, d->pos, "the left operand of @ must be a matrix parameter (declared with two dimensions)");
			return bad;
		}
		type m = type_of(c, d->a), b = type_of(c, d->b);
		if (b.kind == T_BAD)
			return bad;
		if (b.kind != T_ROWS || !weq(b.w, m.cols)) {
			tstr(m, s1, sizeof s1);
			tstr(b, s2, sizeof s2);
			cerr(c, c->cur, d->pos, "the shapes do not fit: %s @ %s (it needs (B, columns))", s1, s2);
			return bad;
		}
		return (type){T_ROWS, m.w, {0, 0}};
	}
	}
	return bad;
}

/* The type of equation e, reached from position pos of the current one;
 * a cycle is reported there. */
static type type_eq(cc *c, int e, int pos)
{
	eqn *q = &c->eq[e];
	type bad = {T_BAD, {0, 0}, {0, 0}};
	if (q->mark == 2)
		return q->ty;
	if (q->mark == 1) {
		char chain[256] = "";
		size_t l = 0;
		int start = 0;
		while (start < c->npath && c->path[start] != e)
			start++;
		for (int i = start; i < c->npath && l + 40 < sizeof chain; i++)
			l += (size_t)snprintf(chain + l, sizeof chain - l, "%s%s%s needs ", c->eq[c->path[i]].name,
			                      c->eq[c->path[i]].state >= 0 ? "'" : "", "");
		snprintf(chain + l, sizeof chain - l, "%s%s", q->name, q->state >= 0 ? "'" : "");
		cerr(c, c->cur, pos, "a cycle: %s", chain);
		return bad;
	}
	if (q->root < 0) {
		q->mark = 2;
		q->ty = bad;
		return bad;
	}
	int keep = c->cur;
	q->mark = 1;
	c->path[c->npath++] = e;
	c->cur = e;
	q->ty = type_of(c, q->root);
	c->cur = keep;
	c->npath--;
	q->mark = 2;
	return q->ty;
}

/* ---- gate usage: which projections exist, and whether x and hh fuse ---------------------------------- */

static int reachable[MAX_EQS];

static void mark_eq(cc *c, int e);

static void scan(cc *c, int n)
{
	const node *d = &c->nd[n];
	switch (d->k) {
	case K_X: c->xused[d->ref] = 1; c->nxocc++; break;
	case K_HH: c->hhused[d->ref] = 1; c->nhocc++; break;
	case K_XRAW: c->xraw = 1; break;
	case K_LOCAL: mark_eq(c, d->ref); break;
	case K_PRIME:
		for (int i = 0; i < c->neq; i++)
			if (c->eq[i].state == d->ref)
				mark_eq(c, i);
		break;
	default: break;
	}
	if (d->k >= K_NEG) {
		scan(c, d->a);
		if (d->b >= 0 && d->k != K_FN && d->k != K_NEG)
			scan(c, d->b);
	}
}

static void mark_eq(cc *c, int e)
{
	if (reachable[e] || c->eq[e].root < 0)
		return;
	reachable[e] = 1;
	scan(c, c->eq[e].root);
}

/* The terms of a sum (+ on both sides, - on the left only), with signs. */
static int terms(cc *c, int n, int sign, int *t, int *sg, int max, int k)
{
	const node *d = &c->nd[n];
	if (d->k == K_ADD || (d->k == K_SUB && sign > 0)) {
		k = terms(c, d->a, sign, t, sg, max, k);
		if (d->k == K_ADD)
			return terms(c, d->b, sign, t, sg, max, k);
		if (k < max) {
			t[k] = d->b;
			sg[k++] = -1;
		}
		return k;
	}
	if (k < max) {
		t[k] = n;
		sg[k++] = sign;
	}
	return k;
}

/* Pair x.g with hh.g among the positive terms: out[i] = j when term j
 * pairs with term i (i < j), -1 otherwise. */
static int pair_terms(cc *c, const int *t, const int *sg, int k, int *with)
{
	int np = 0;
	for (int i = 0; i < k; i++)
		with[i] = -2; /* unpaired */
	for (int i = 0; i < k; i++) {
		const node *a = &c->nd[t[i]];
		if (with[i] != -2 || sg[i] < 0 || (a->k != K_X && a->k != K_HH))
			continue;
		for (int j = i + 1; j < k; j++) {
			const node *b = &c->nd[t[j]];
			if (with[j] == -2 && sg[j] > 0 && b->ref == a->ref &&
			    ((a->k == K_X && b->k == K_HH) || (a->k == K_HH && b->k == K_X))) {
				with[i] = j;
				with[j] = -1; /* consumed */
				np++;
				break;
			}
		}
	}
	return np;
}

static void count_pairs(cc *c, int n, int in_sum)
{
	const node *d = &c->nd[n];
	int is_sum = d->k == K_ADD || d->k == K_SUB;
	if (is_sum && !in_sum) {
		int t[64], sg[64], with[64];
		int k = terms(c, n, 1, t, sg, 64, 0);
		c->npaired += 2 * pair_terms(c, t, sg, k, with);
		for (int i = 0; i < k; i++)
			count_pairs(c, t[i], 0);
		return;
	}
	if (d->k >= K_NEG) {
		count_pairs(c, d->a, 0);
		if (d->b >= 0 && d->k != K_FN && d->k != K_NEG)
			count_pairs(c, d->b, 0);
	}
}

/* ---- emission -------------------------------------------------------------------------------- */

typedef struct val {
	int reg; /* -1: a number */
	double num;
} val;

static int emit(cc *c, int op, int a, int b, double k)
{
	program *pg = c->pg;
	if (op != OP_PART)
		for (int i = 0; i < pg->n; i++)
			if (pg->code[i].op == op && pg->code[i].a == a && pg->code[i].b == b && pg->code[i].k == k)
				return i;
	if (pg->n == MAX_INSNS) {
		if (!c->nerr)
			cerr(c, c->cur, 0, "the cell compiles to more than %d ops", MAX_INSNS);
		return 0;
	}
	pg->code[pg->n] = (insn){(unsigned char)op, (short)a, (short)b, k};
	return pg->n++;
}

/* A split of register src into k parts: the parts are the next k registers. */
static int emit_split(cc *c, int src, int k)
{
	for (int i = 0; i < c->pg->n; i++)
		if (c->pg->code[i].op == OP_SPLIT && c->pg->code[i].a == src)
			return i;
	int s = emit(c, OP_SPLIT, src, k, 0);
	for (int j = 0; j < k; j++)
		emit(c, OP_PART, s, j, 0);
	return s;
}

static val num(double v) { return (val){-1, v}; }
static val reg(int r) { return (val){r, 0}; }

static double sigm(double x) { return 1 / (1 + exp(-x)); }

static val v_fn(cc *c, int f, val a)
{
	if (a.reg < 0) {
		double x = a.num;
		double y = f == F_SIGMOID ? sigm(x) : f == F_TANH ? tanh(x) : f == F_RELU ? (x > 0 ? x : 0) :
		           f == F_EXP ? exp(x) : f == F_HARDTANH ? (x < -1 ? -1 : x > 1 ? 1 : x) : x / (1 + fabs(x));
		return num(y);
	}
	return reg(emit(c, OP_FN, f, a.reg, 0));
}

static val v_scale(cc *c, val a, double k)
{
	if (a.reg < 0)
		return num(a.num * k);
	return k == 1 ? a : reg(emit(c, OP_SCALE, a.reg, 0, k));
}

static val v_adds(cc *c, val a, double k)
{
	if (a.reg < 0)
		return num(a.num + k);
	return k == 0 ? a : reg(emit(c, OP_ADDS, a.reg, 0, k));
}

static val v_bin(cc *c, int k, val a, val b)
{
	if (a.reg < 0 && b.reg < 0)
		return num(k == K_ADD ? a.num + b.num : k == K_SUB ? a.num - b.num : a.num * b.num);
	if (k == K_MUL)
		return a.reg < 0 ? v_scale(c, b, a.num) : b.reg < 0 ? v_scale(c, a, b.num) : reg(emit(c, OP_MUL, a.reg, b.reg, 0));
	if (k == K_ADD)
		return a.reg < 0 ? v_adds(c, b, a.num) : b.reg < 0 ? v_adds(c, a, b.num) : reg(emit(c, OP_ADD, a.reg, b.reg, 0));
	if (b.reg < 0)
		return v_adds(c, a, -b.num);
	if (a.reg < 0) /* n - b */
		return a.num == 1 ? reg(emit(c, OP_ONEMINUS, b.reg, 0, 0)) : v_adds(c, v_scale(c, b, -1), a.num);
	return reg(emit(c, OP_SUB, a.reg, b.reg, 0));
}

static int proj_x(cc *c) /* register of the split input projection */
{
	if (c->xsplit < 0)
		c->xsplit = emit_split(c, emit(c, OP_XP, 0, 0, 0), c->nx);
	return c->xsplit;
}

static int proj_hh(cc *c)
{
	if (c->hsplit < 0)
		c->hsplit = emit_split(c, emit(c, c->fused ? OP_FUSED : OP_HH, 0, 0, 0), c->fused ? c->nx : c->nh);
	return c->hsplit;
}

static val gen_eq(cc *c, int e, int mm);

static val gen(cc *c, int n, int mm)
{
	const node *d = &c->nd[n];
	switch (d->k) {
	case K_NUM: return num(d->num);
	case K_STATE: return reg(d->ref == 0 && mm ? emit(c, OP_HIN, 0, 0, 0) : emit(c, OP_STATE, d->ref, 0, 0));
	case K_PRIME:
		for (int i = 0; i < c->neq; i++)
			if (c->eq[i].state == d->ref)
				return gen_eq(c, i, 0);
		return num(0);
	case K_LOCAL: return gen_eq(c, d->ref, mm);
	case K_PARAM: return reg(emit(c, OP_PARAM, c->par[d->ref].slot, 0, 0));
	case K_X: return reg(proj_x(c) + 1 + c->xblock[d->ref]);
	case K_HH: return reg(proj_hh(c) + 1 + c->hblock[d->ref]);
	case K_XRAW: return reg(emit(c, OP_XP, 0, 0, 0));
	case K_NEG: return v_scale(c, gen(c, d->a, mm), -1);
	case K_FN: return v_fn(c, d->ref, gen(c, d->a, mm));
	case K_MUL: return v_bin(c, K_MUL, gen(c, d->a, mm), gen(c, d->b, mm));
	case K_MM: {
		val w = gen(c, d->a, mm), x = gen(c, d->b, 1);
		return reg(emit(c, OP_MM, w.reg, x.reg, 0));
	}
	case K_ADD: case K_SUB: {
		int t[64], sg[64], with[64];
		int k = terms(c, n, 1, t, sg, 64, 0);
		if (c->fused)
			pair_terms(c, t, sg, k, with);
		val acc = num(0);
		int first = 1;
		for (int i = 0; i < k; i++) {
			val v;
			if (c->fused && with[i] == -1)
				continue; /* the second of a pair */
			if (c->fused && with[i] >= 0)
				v = reg(proj_hh(c) + 1 + c->xblock[c->nd[t[i]].ref]); /* x.g + hh.g: a part of xp + h W_hh^T */
			else
				v = gen(c, t[i], mm);
			if (first && sg[i] > 0)
				acc = v;
			else
				acc = v_bin(c, sg[i] > 0 ? K_ADD : K_SUB, acc, v);
			first = 0;
		}
		return acc;
	}
	}
	return num(0);
}

static val gen_eq(cc *c, int e, int mm)
{
	eqn *q = &c->eq[e];
	mm = mm && q->state < 0; /* a state's new value is the same inside an @ operand */
	if (!q->done[mm]) {
		val v = gen(c, q->root, mm);
		q->reg[mm] = v.reg;
		q->num[mm] = v.num;
		q->done[mm] = 1;
	}
	return (val){q->reg[mm], q->num[mm]};
}

/* ---- printing the equations as parsed --------------------------------------------------------- */

static int prec(int k) { return k == K_ADD || k == K_SUB ? 1 : k == K_MUL ? 2 : k == K_MM ? 3 : k == K_NEG ? 4 : 5; }

static void put(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);
	if (*len + n + 1 > *cap) {
		size_t nc = (*cap ? *cap * 2 : 256) + n;
		char *nb = reel__realloc(*buf, nc);
		if (!nb)
			return;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

static void print_node(cc *c, int n, char **buf, size_t *len, size_t *cap)
{
	const node *d = &c->nd[n];
	char tmp[96];
	switch (d->k) {
	case K_NUM: snprintf(tmp, sizeof tmp, "%.15g", d->num); put(buf, len, cap, tmp); return;
	case K_STATE: put(buf, len, cap, c->states[d->ref]); return;
	case K_PRIME: snprintf(tmp, sizeof tmp, "%s'", c->states[d->ref]); put(buf, len, cap, tmp); return;
	case K_LOCAL: put(buf, len, cap, c->eq[d->ref].name); return;
	case K_PARAM: put(buf, len, cap, c->par[d->ref].name); return;
	case K_X: case K_HH:
		snprintf(tmp, sizeof tmp, "%s.%s", d->k == K_X ? "x" : "hh", c->gates[d->ref]);
		put(buf, len, cap, tmp);
		return;
	case K_XRAW: put(buf, len, cap, "x"); return;
	case K_FN:
		put(buf, len, cap, FNS[d->ref]);
		put(buf, len, cap, "(");
		print_node(c, d->a, buf, len, cap);
		put(buf, len, cap, ")");
		return;
	case K_NEG: {
		int par = prec(c->nd[d->a].k) < 4;
		put(buf, len, cap, par ? "-(" : "-");
		print_node(c, d->a, buf, len, cap);
		if (par)
			put(buf, len, cap, ")");
		return;
	}
	default: {
		int p = prec(d->k);
		int lp = prec(c->nd[d->a].k) < p, rp = prec(c->nd[d->b].k) <= p;
		const char *op = d->k == K_ADD ? " + " : d->k == K_SUB ? " - " : d->k == K_MUL ? " * " : " @ ";
		put(buf, len, cap, lp ? "(" : "");
		print_node(c, d->a, buf, len, cap);
		put(buf, len, cap, lp ? ")" : "");
		put(buf, len, cap, op);
		put(buf, len, cap, rp ? "(" : "");
		print_node(c, d->b, buf, len, cap);
		put(buf, len, cap, rp ? ")" : "");
	}
	}
}

/* ---- reading a cell ------------------------------------------------------------------------------ */

/* A dimension: a product of factors among a positive integer, H, I and G
 * (the gate count), with exactly one of H and I ("H", "I", "G*H", "2*H"). */
static int parse_dim(const char *s, int G, width *w)
{
	int k = 1, h = 0, i = 0;
	const char *p = s;
	for (;;) {
		while (*p == ' ')
			p++;
		if (isdigit((unsigned char)*p)) {
			long v = strtol(p, (char **)&p, 10);
			if (v < 1 || v > 1024)
				return 0;
			k *= (int)v;
		} else if (*p == 'H') {
			h++;
			p++;
		} else if (*p == 'I') {
			i++;
			p++;
		} else if (*p == 'G') {
			k *= G;
			p++;
		} else {
			return 0;
		}
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (*p++ != '*')
			return 0;
	}
	if (h + i != 1)
		return 0;
	*w = (width){h * k, i * k};
	return 1;
}

static const char *const PARAM_KEYS_DOC = "shape: 1 or 2 dimensions, each \"H\", \"I\", \"G*H\" or \"k*H\"";

static void read_param(cc *c, reel_cfg_obj *po, const char *name, int implicit, uparam *u)
{
	const cJSON *v = po->j ? cJSON_GetObjectItemCaseSensitive(po->j, name) : NULL;
	const char *shape[3];
	int nshape = 0;
	u->name = name;
	u->init = 0;
	if (!reel_cfg_describing(po->c) && cJSON_IsArray(v)) {
		nshape = reel_cfg_strings(po, name, shape, 3, PARAM_KEYS_DOC);
	} else {
		reel_cfg_obj o = reel_cfg_child(po, name, "a parameter");
		if (!implicit || reel_cfg_describing(po->c))
			nshape = reel_cfg_strings(&o, "shape", shape, 3, PARAM_KEYS_DOC);
		u->init = reel_cfg_enum(&o, "init", 0, INITS,
		                        "uniform: U(-1/sqrt(H), 1/sqrt(H)); unit: U(0, 1); constant: value; spectral: a square "
		                        "U(-1, 1) matrix scaled to spectral radius value");
		u->value = reel_cfg_real(&o, "value", u->init == 6 ? 0.9 : 0, -1e6, 1e6,
		                         "the constant (init constant) or the spectral radius (init spectral; default 0.9)");
		u->frozen = reel_cfg_bool(&o, "frozen", 0, "no gradient, never updated (an echo-state reservoir)");
		if (u->init == 6 && !reel_cfg_has(&o, "value"))
			u->value = 0.9;
		reel_cfg_end(&o);
	}
	if (reel_cfg_describing(po->c) || implicit)
		return;
	if (nshape < 1 || nshape > 2) {
		reel_cfg_error(po, name, "cell %s: expected a shape of 1 or 2 dimensions, found %d", c->cell, nshape);
		c->nerr++;
		return;
	}
	u->ndim = nshape;
	for (int d = 0; d < nshape; d++)
		if (!parse_dim(shape[d], c->G, &u->dim[d])) {
			reel_cfg_error(po, name, "cell %s: dimension %d is \"%s\": expected H, I, G*H or k*H (or k*I)", c->cell, d,
			               shape[d]);
			c->nerr++;
		}
	if (u->init == 6 && (nshape != 2 || !weq(u->dim[0], u->dim[1]))) {
		reel_cfg_error(po, name, "cell %s: the spectral init needs a square matrix", c->cell);
		c->nerr++;
	}
}

/* Copy every string the descriptor and the printed text refer to into one
 * block owned by the jcell. */
static const char *keep(char **pool, size_t *used, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = *pool + *used;
	memcpy(d, s, n);
	*used += n;
	return d;
}

static int reserved(const char *s)
{
	return !strcmp(s, "x") || !strcmp(s, "hh") || find(FNS, 6, s, strlen(s)) >= 0;
}

static void compile_cell(reel_cfg_obj *cells, const char *name)
{
	reel_cfg *cfg = cells->c;
	int desc = reel_cfg_describing(cfg);
	const cJSON *src = desc ? NULL : cJSON_GetObjectItemCaseSensitive(cells->j, name);
	reel_cfg_obj o = reel_cfg_child(cells, name, "a cell; its name is a layer type");
	cc *c = reel__calloc(1, sizeof *c);
	program *pg = reel__calloc(1, sizeof *pg);
	if (!c || !pg) {
		free(c);
		free(pg);
		return;
	}
	c->cell = name;
	c->pg = pg;
	int before = reel_cfg_nerrors(cfg);
	const char *doc = reel_cfg_str(&o, "doc", "", "one line for reel list");
	c->G = reel_cfg_strings(&o, "gates", c->gates, MAX_GATES,
	                        "names of the blocks of the projections x.<gate> and hh.<gate> (up to 8)");
	c->ns = reel_cfg_strings(&o, "states", c->states, 2, "1 or 2 state names, the output first (default [\"h\"])");
	c->forget = reel_cfg_str(&o, "forget_gate", "", "the gate whose bias the layer's forget_bias option sets");
	reel_cfg_obj po = reel_cfg_child(&o, "params", "the cell's own parameters");
	reel_cfg_obj eo = reel_cfg_child(&o, "equations", "one per state (and optional definitions)");
	c->eo = &eo;
	if (desc) {
		uparam u;
		read_param(c, &po, "NAME", 0, &u);
		reel_cfg_str(&eo, "STATE", NULL, "the state's new value (or a definition's value), an expression");
		goto out;
	}
	if (c->ns == 0 && !reel_cfg_has(&o, "states"))
		c->states[c->ns++] = "h";
	if (c->ns == 0)
		reel_cfg_error(&o, "states", "cell %s: expected 1 or 2 state names, found none", name);
	/* names: identifiers, unique, not reserved */
	for (int i = 0; i < c->G; i++) {
		if (!is_ident(c->gates[i]) || find(c->gates, i, c->gates[i], strlen(c->gates[i])) >= 0)
			reel_cfg_error(&o, "gates", "cell %s: gate \"%s\" is not a new name (letters, digits, _)", name, c->gates[i]);
	}
	for (int i = 0; i < c->ns; i++)
		if (!is_ident(c->states[i]) || reserved(c->states[i]) || (i == 1 && !strcmp(c->states[0], c->states[1])))
			reel_cfg_error(&o, "states", "cell %s: state \"%s\" is not a free name", name, c->states[i]);
	if (c->forget[0] && find(c->gates, c->G, c->forget, strlen(c->forget)) < 0)
		reel_cfg_error(&o, "forget_gate", "cell %s: \"%s\" is not one of the gates", name, c->forget);
	const cJSON *it;
	if (po.j)
		cJSON_ArrayForEach(it, po.j)
		{
			int imp = find(IMPLICIT, 4, it->string, strlen(it->string));
			if (imp >= 0) {
				read_param(c, &po, it->string, 1, &c->imp[imp]);
				continue;
			}
			if (!is_ident(it->string) || reserved(it->string) || find(c->states, c->ns, it->string, strlen(it->string)) >= 0) {
				reel_cfg_error(&po, it->string, "cell %s: \"%s\" cannot name a parameter (a state, a function, x or hh)",
				               name, it->string);
				continue;
			}
			if (c->np == MAX_UPARAMS) {
				reel_cfg_error(&po, it->string, "cell %s: at most %d parameters of its own", name, MAX_UPARAMS);
				break;
			}
			read_param(c, &po, it->string, 0, &c->par[c->np++]);
		}
	if (eo.j)
		cJSON_ArrayForEach(it, eo.j)
		{
			if (c->neq == MAX_EQS) {
				reel_cfg_error(&eo, it->string, "cell %s: at most %d equations", name, MAX_EQS);
				break;
			}
			eqn *q = &c->eq[c->neq];
			q->name = it->string;
			q->text = reel_cfg_str(&eo, it->string, NULL, "an equation");
			q->state = find(c->states, c->ns, it->string, strlen(it->string));
			q->root = -1;
			if (!cJSON_IsString(it))
				continue;
			int clash = reserved(q->name) || !is_ident(q->name);
			for (int i = 0; i < c->np; i++)
				clash |= !strcmp(c->par[i].name, q->name);
			if (clash) {
				reel_cfg_error(&eo, it->string, "cell %s: \"%s\" cannot name a definition (a parameter, a function, x or hh)",
				               name, it->string);
				continue;
			}
			c->neq++;
		}
	for (int s = 0; s < c->ns; s++) {
		int have = 0;
		for (int i = 0; i < c->neq; i++)
			have |= c->eq[i].state == s;
		if (!have && eo.j)
			reel_cfg_error(&eo, NULL, "cell %s: state %s has no equation", name, c->states[s]);
		else if (!have)
			reel_cfg_error(&o, "equations", "cell %s: missing: expected an equation for each state (%s%s%s)", name,
			               c->states[0], c->ns > 1 ? ", " : "", c->ns > 1 ? c->states[1] : "");
	}
	if (reel_cfg_nerrors(cfg) > before)
		goto out;
	for (int i = 0; i < c->neq; i++)
		parse_eq(c, i);
	for (int i = 0; i < c->neq; i++) {
		c->cur = i;
		type t = type_eq(c, i, 0);
		char s1[96];
		tstr(t, s1, sizeof s1);
		if (c->eq[i].state >= 0 && t.kind != T_BAD && !(t.kind == T_ROWS && t.w.h == 1 && t.w.i == 0))
			cerr(c, i, 0, "the new %s must be (B, H), found %s", c->eq[i].name, s1);
		else if (t.kind == T_MAT)
			cerr(c, i, 0, "a definition cannot be a matrix");
	}
	if (reel_cfg_nerrors(cfg) > before)
		goto out;
	/* which projections exist: the gates x.<g> names, and those hh.<g> names */
	memset(reachable, 0, sizeof reachable);
	for (int i = 0; i < c->neq; i++)
		if (c->eq[i].state >= 0)
			mark_eq(c, i);
	for (int i = 0; i < c->neq; i++)
		if (reachable[i])
			count_pairs(c, c->eq[i].root, 0);
	for (int g = 0; g < c->G; g++) {
		c->xblock[g] = c->xused[g] ? c->nx++ : -1;
		c->hblock[g] = c->hhused[g] ? c->nh++ : -1;
	}
	if (c->xraw && c->nx) {
		reel_cfg_error(&eo, NULL, "cell %s: x alone (the raw input) and x.<gate> (its projection) exclude each other", name);
		goto out;
	}
	c->fused = c->nh > 0 && c->npaired == c->nxocc + c->nhocc;
	/* the descriptor's parameters: the projections that are used, then the cell's own */
	reel_cell_param cp[REEL_CELL_MAX_PARAMS];
	int pinit[REEL_CELL_MAX_PARAMS];
	double pval[REEL_CELL_MAX_PARAMS];
	int n = 0;
	int fg = c->forget[0] ? find(c->gates, c->G, c->forget, strlen(c->forget)) : -1;
	for (int k = 0; k < 4; k++) {
		c->slot[k] = -1;
		int nblk = k == S_WIH || k == S_BIH ? c->nx : c->nh;
		if (!nblk)
			continue;
		reel_cell_param *q = &cp[n];
		memset(q, 0, sizeof *q);
		q->name = IMPLICIT[k];
		q->ndim = k <= S_WHH ? 2 : 1;
		q->shape[0] = (reel_cell_dim){0, nblk, 0};
		if (k == S_WIH)
			q->shape[1] = (reel_cell_dim){1, 0, 0};
		if (k == S_WHH)
			q->shape[1] = (reel_cell_dim){0, 1, 0};
		q->flags = k == S_WIH ? REEL_CP_PROJ : k == S_WHH ? REEL_CP_RECURRENT : k == S_BIH ? REEL_CP_BIAS | REEL_CP_PROJ_BIAS
		         : REEL_CP_BIAS | (c->fused ? REEL_CP_PROJ_BIAS : 0);
		if (fg >= 0 && k == S_BIH && c->xblock[fg] >= 0)
			q->flags |= REEL_CP_FORGET;
		if (fg >= 0 && k == S_BHH && c->hblock[fg] >= 0 && c->hblock[fg] == c->xblock[fg])
			q->flags |= REEL_CP_FORGET_ZERO;
		q->init = INIT_OF[c->imp[k].init];
		pinit[n] = c->imp[k].init;
		pval[n] = c->imp[k].value;
		if (c->imp[k].frozen)
			q->flags |= REEL_CP_FROZEN;
		c->slot[k] = n++;
	}
	for (int i = 0; i < c->np; i++) {
		uparam *u = &c->par[i];
		reel_cell_param *q = &cp[n];
		memset(q, 0, sizeof *q);
		q->name = u->name;
		q->ndim = u->ndim;
		for (int d = 0; d < u->ndim; d++)
			q->shape[d] = (reel_cell_dim){u->dim[d].i, u->dim[d].h, 0};
		q->init = INIT_OF[u->init];
		pinit[n] = u->init;
		pval[n] = u->value;
		q->flags = u->frozen ? REEL_CP_FROZEN : 0;
		u->slot = n++;
	}
	pg->whh = c->slot[S_WHH];
	pg->bhh = c->slot[S_BHH];
	c->xsplit = c->hsplit = -1;
	for (int s = 0; s < c->ns; s++)
		for (int i = 0; i < c->neq; i++)
			if (c->eq[i].state == s) {
				c->cur = i;
				val v = gen_eq(c, i, 0);
				pg->out[s] = v.reg;
			}
	if (reel_cfg_nerrors(cfg) > before)
		goto out;
	/* the printed equations */
	char *text = NULL;
	size_t tl = 0, tc = 0;
	for (int i = 0; i < c->neq; i++) {
		char head[96];
		snprintf(head, sizeof head, "    %s%s = ", c->eq[i].name, c->eq[i].state >= 0 ? "'" : "");
		put(&text, &tl, &tc, head);
		print_node(c, c->eq[i].root, &text, &tl, &tc);
		put(&text, &tl, &tc, "\n");
	}
	int nops = 0;
	for (int i = 0; i < pg->n; i++)
		nops += pg->code[i].op >= OP_HH && pg->code[i].op != OP_PART;
	char tail[256];
	snprintf(tail, sizeof tail, "    (%d op calls per step; %s)\n", nops,
	         c->fused ? "x.<gate> + hh.<gate> fused: one addmm xp + h W_hh^T per step, b_hh folded into the projection"
	         : c->nh ? "hh = h W_hh^T + b_hh, one product per step" : "no recurrent product W_hh");
	put(&text, &tl, &tc, tail);
	char *source = cJSON_PrintUnformatted(src);
	/* the same definition again (a config read in passes, or twice): reuse it */
	for (jcell *j = compiled; j && source && text; j = j->next)
		if (!strcmp(j->cell.name, name) && !strcmp(j->source, source) && reel_cell_find(name) == &j->cell) {
			free(source);
			free(text);
			goto out;
		}
	size_t need = strlen(name) + strlen(doc) + 2;
	for (int i = 0; i < n; i++)
		need += strlen(cp[i].name) + 1;
	jcell *j = reel__calloc(1, sizeof *j);
	char *pool = reel__malloc(need);
	if (!j || !pool || !source || !text) {
		free(j);
		free(pool);
		free(source);
		free(text);
		reel_cfg_error(&o, NULL, "cell %s: out of memory", name);
		goto out;
	}
	size_t used = 0;
	j->strings = pool;
	j->source = source;
	j->text = text;
	j->prog = *pg;
	j->cell.name = keep(&pool, &used, name);
	j->cell.doc = doc[0] ? keep(&pool, &used, doc) : "a cell compiled from JSON equations";
	j->cell.gates = c->G > 0 ? c->G : 1;
	j->cell.nstate = c->ns;
	j->cell.nparams = n;
	for (int i = 0; i < n; i++) {
		j->init[i] = pinit[i];
		j->value[i] = pval[i];
		j->cell.params[i] = cp[i];
		j->cell.params[i].name = keep(&pool, &used, cp[i].name);
	}
	j->cell.forget_gate = fg >= 0 ? c->xblock[fg] : 0;
	j->cell.step = jcell_step;
	j->cell.data = &j->prog;
	reel_err err = {0};
	const reel_layer_type *ty = reel_layer_type_find(name);
	if (ty && !reel_cell_find(name)) {
		reel_cfg_error(cells, name, "cell %s: the name of a layer type; choose another", name);
	} else if (reel_cell_define(&j->cell, &err) != REEL_OK) {
		reel_cfg_error(cells, name, "%s", err.msg);
	} else {
		j->next = compiled;
		compiled = j;
		goto out;
	}
	free(j->strings);
	free(j->source);
	free(j->text);
	free(j);
out:
	if (!desc && reel_cfg_nerrors(cfg) > before && nfailed < MAX_FAILED)
		snprintf(failed[nfailed++], sizeof failed[0], "%s", name);
	reel_cfg_end(&po);
	reel_cfg_end(&eo);
	reel_cfg_end(&o);
	free(pg);
	free(c);
}

void reel_cells_read(reel_cfg_obj *root)
{
	int desc = reel_cfg_describing(root->c);
	nfailed = 0;
	if (!desc && !reel_cfg_has(root, "cells"))
		return;
	if (desc)
		reel_cfg_section(root->c, "cells",
		                 "recurrent cells written as equations; each is a layer type named after it (configs/README.md)");
	reel_cfg_obj co = reel_cfg_child(root, "cells", "cells written as equations");
	if (desc) {
		compile_cell(&co, "NAME");
		return;
	}
	const cJSON *it;
	if (co.j)
		cJSON_ArrayForEach(it, co.j)
		{
			if (!cJSON_IsObject(it)) {
				reel_cfg_child(&co, it->string, "a cell"); /* reports the type */
				continue;
			}
			if (!is_ident(it->string) || strlen(it->string) > 63) {
				reel_cfg_error(&co, it->string, "a cell's name is a layer type: letters, digits and _, under 64 characters");
				reel_cfg_child(&co, it->string, "a cell");
				continue;
			}
			compile_cell(&co, it->string);
		}
	reel_cfg_end(&co);
}

int reel_cells_failed(const char *name)
{
	for (int i = 0; i < nfailed; i++)
		if (!strcmp(failed[i], name))
			return 1;
	return 0;
}

const char *reel_cells_text(const reel_cell *cell)
{
	for (const jcell *j = compiled; j; j = j->next)
		if (&j->cell == cell)
			return j->text;
	return NULL;
}

reel_status reel_cells_init(const reel_rnn *r, reel_rng *rng, reel_err *err)
{
	const jcell *j = compiled;
	while (j && &j->cell != r->o.cell)
		j = j->next;
	if (!j)
		return REEL_OK;
	for (int l = 0; l < r->o.num_layers; l++)
		for (int d = 0; d < r->dirs; d++)
			for (int i = 0; i < j->cell.nparams; i++) {
				reel_tensor *w = r->p[l][d].w[i];
				if (!w)
					continue;
				if (j->init[i] == I_CONSTANT)
					reel_param_fill(w, (reel_real)j->value[i]);
				else if (j->init[i] == I_SPECTRAL && reel_param_spectral(w, rng, j->value[i]) != REEL_OK)
					return reel_err_set(err, REEL_ERR_ARG, "cell %s: %s is not square for the spectral init",
					                    j->cell.name, w->name);
			}
	return REEL_OK;
}
