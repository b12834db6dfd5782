/* Hand-written RNN, LSTM and GRU layers with hand-derived BPTT (hand.h).
 *
 * State buffer Hs holds T+1 blocks of (B, H).  Forward direction: the state
 * before step s is block s and after it block s+1 (h0 = block 0).  Reverse
 * direction: before s is block s+1, after it block s (h0 = block T).  Either
 * way the "state before" blocks of all steps, in time order, are one
 * contiguous (T*B, H) matrix, so dW_hh is a single GEMM. */
#include "hand.h"

#include "../engine/internal.h" /* reel__gemm: the engine's own BLIS dispatch */

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* the engine's activations (engine/fastmath.h), so both sides compute the same functions */
#define sigm reel__sigmoid

/* ---- fused elementwise kernels, one batch row each (restrict: they vectorize) ---- */

REEL_CLONES static void tanh_n(const reel_real *restrict a, reel_real *restrict h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h[i] = reel__tanh(a[i]);
}

/* a = [i f g o] pre-activations in, activations out; c' = f c + i g; h = o tanh(c') */
REEL_CLONES static void lstm_fwd_row(reel_real *restrict a, const reel_real *restrict cin, reel_real *restrict cout,
                         reel_real *restrict tc, reel_real *restrict h, int H)
{
	for (int j = 0; j < 2 * H; j++)
		a[j] = sigm(a[j]);
	for (int j = 2 * H; j < 3 * H; j++)
		a[j] = reel__tanh(a[j]);
	for (int j = 3 * H; j < 4 * H; j++)
		a[j] = sigm(a[j]);
	for (int j = 0; j < H; j++) {
		reel_real c = a[H + j] * cin[j] + a[j] * a[2 * H + j];
		cout[j] = c;
		tc[j] = reel__tanh(c);
		h[j] = a[3 * H + j] * tc[j];
	}
}

/* r, z from the input and recurrent sums; n = tanh(xn + r (h W_hn^T + b_hn)); h' = n + z (h - n) */
REEL_CLONES static void gru_fwd_row(reel_real *restrict a, const reel_real *restrict hh, const reel_real *restrict bh,
                        const reel_real *restrict hin, reel_real *restrict hn, reel_real *restrict h, int H)
{
	for (int j = 0; j < 2 * H; j++)
		a[j] = sigm(a[j] + hh[j] + bh[j]);
	for (int j = 0; j < H; j++) {
		hn[j] = hh[2 * H + j] + bh[2 * H + j];
		reel_real n = reel__tanh(a[2 * H + j] + a[j] * hn[j]);
		a[2 * H + j] = n;
		h[j] = n + a[H + j] * (hin[j] - n);
	}
}

REEL_CLONES static void rnn_bwd_row(const reel_real *restrict h, const reel_real *restrict dy, const reel_real *restrict dh,
                        reel_real *restrict da, int H)
{
	for (int j = 0; j < H; j++)
		da[j] = (dy[j] + dh[j]) * (1 - h[j] * h[j]);
}

REEL_CLONES static void lstm_bwd_row(const reel_real *restrict a, const reel_real *restrict cin, const reel_real *restrict tc,
                         const reel_real *restrict dy, const reel_real *restrict dh, reel_real *restrict dc,
                         reel_real *restrict da, int H)
{
	for (int j = 0; j < H; j++) {
		reel_real i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j], t = tc[j];
		reel_real dht = dy[j] + dh[j];
		reel_real dct = dc[j] + dht * o * (1 - t * t);
		da[j] = dct * g * i * (1 - i);
		da[H + j] = dct * cin[j] * f * (1 - f);
		da[2 * H + j] = dct * i * (1 - g * g);
		da[3 * H + j] = dht * t * o * (1 - o);
		dc[j] = dct * f;
	}
}

/* dh gets the direct path z * dh'; the recurrent product is added after */
REEL_CLONES static void gru_bwd_row(const reel_real *restrict a, const reel_real *restrict hn, const reel_real *restrict hin,
                        const reel_real *restrict dy, reel_real *restrict dh, reel_real *restrict da,
                        reel_real *restrict dhh, int H)
{
	for (int j = 0; j < H; j++) {
		reel_real r = a[j], z = a[H + j], n = a[2 * H + j];
		reel_real dht = dy[j] + dh[j];
		reel_real dn = dht * (1 - z), dz = dht * (hin[j] - n);
		reel_real dan = dn * (1 - n * n);
		reel_real dar = dan * hn[j] * r * (1 - r), daz = dz * z * (1 - z);
		da[j] = dhh[j] = dar;
		da[H + j] = dhh[H + j] = daz;
		da[2 * H + j] = dan;
		dhh[2 * H + j] = dan * r;
		dh[j] = dht * z;
	}
}

static reel_real *zalloc(hand_layer *L, size_t n)
{
	L->bytes += n * sizeof(reel_real);
	return calloc(n ? n : 1, sizeof(reel_real));
}

int hand_layer_init(hand_layer *L, hand_kind kind, int T, int B, int F, int H, int reverse, const reel_cell_params *p)
{
	memset(L, 0, sizeof *L);
	L->kind = kind;
	L->T = T;
	L->B = B;
	L->F = F;
	L->H = H;
	L->G = kind == HAND_LSTM ? 4 : kind == HAND_GRU ? 3 : 1;
	L->reverse = reverse;
	L->p = p;
	size_t TB = (size_t)T * B, GH = (size_t)L->G * H, BH = (size_t)B * H;
	L->A = zalloc(L, TB * GH);
	L->Hs = zalloc(L, (TB + B) * H);
	L->dA = zalloc(L, TB * GH);
	L->dh = zalloc(L, kind == HAND_GRU ? (size_t)B * GH : BH); /* GRU: also the (B, 3H) recurrent product */
	L->dc = zalloc(L, BH);
	if (kind == HAND_LSTM)
		L->Cs = zalloc(L, (TB + B) * H);
	if (kind != HAND_RNN)
		L->Aux = zalloc(L, TB * H);
	if (kind == HAND_GRU)
		L->dHH = zalloc(L, TB * GH);
	return L->A && L->Hs && L->dA && L->dh && L->dc && (kind != HAND_LSTM || L->Cs) &&
	       (kind == HAND_RNN || L->Aux) && (kind != HAND_GRU || L->dHH);
}

void hand_layer_free(hand_layer *L)
{
	free(L->A);
	free(L->Hs);
	free(L->Cs);
	free(L->Aux);
	free(L->dA);
	free(L->dHH);
	free(L->dh);
	free(L->dc);
	memset(L, 0, sizeof *L);
}

static size_t blk_in(const hand_layer *L, int s)
{
	return (size_t)(L->reverse ? s + 1 : s) * L->B * L->H;
}

static size_t blk_out(const hand_layer *L, int s)
{
	return (size_t)(L->reverse ? s : s + 1) * L->B * L->H;
}

void hand_forward(hand_layer *L, const reel_real *X, long ldx, reel_real *Y, long ldy)
{
	const int T = L->T, B = L->B, F = L->F, H = L->H, GH = L->G * H;
	const size_t BH = (size_t)B * H;
	const reel_cell_params *p = L->p;
	/* all input projections: A = X W_ih^T   (T*B, GH) */
	reel__gemm(T * B, GH, F, 1, X, ldx, 1, p->w[REEL_W_IH]->data, 1, F, 0, L->A, GH, 1);
	if (!L->floor)
		for (int r = 0; r < T * B; r++) {
			reel_real *a = L->A + (size_t)r * GH;
			const reel_real *bi = p->w[REEL_B_IH]->data, *bh = p->w[REEL_B_HH]->data;
			if (L->kind == HAND_GRU)
				for (int j = 0; j < GH; j++)
					a[j] += bi[j];
			else
				for (int j = 0; j < GH; j++)
					a[j] += bi[j] + bh[j];
		}
	memset(L->Hs + (L->reverse ? (size_t)T * BH : 0), 0, BH * sizeof(reel_real));
	if (L->Cs)
		memset(L->Cs + (L->reverse ? (size_t)T * BH : 0), 0, BH * sizeof(reel_real));
	for (int k = 0; k < T; k++) {
		int s = L->reverse ? T - 1 - k : k;
		const reel_real *hin = L->Hs + blk_in(L, s);
		reel_real *hout = L->Hs + blk_out(L, s), *a = L->A + (size_t)s * B * GH;
		if (L->kind == HAND_GRU) {
			reel_real *hh = L->dh; /* (B, 3H) scratch: h W_hh^T */
			reel__gemm(B, GH, H, 1, hin, H, 1, p->w[REEL_W_HH]->data, 1, H, 0, hh, GH, 1);
			if (L->floor)
				continue;
			for (int b = 0; b < B; b++)
				gru_fwd_row(a + (size_t)b * GH, hh + (size_t)b * GH, p->w[REEL_B_HH]->data, hin + (size_t)b * H,
				            L->Aux + (size_t)s * BH + (size_t)b * H, hout + (size_t)b * H, H);
		} else {
			/* a += h W_hh^T, accumulating onto the input projection */
			reel__gemm(B, GH, H, 1, hin, H, 1, p->w[REEL_W_HH]->data, 1, H, 1, a, GH, 1);
			if (L->floor)
				continue;
			if (L->kind == HAND_RNN) {
				tanh_n(a, hout, BH);
			} else {
				const reel_real *cin = L->Cs + blk_in(L, s);
				reel_real *cout = L->Cs + blk_out(L, s), *tc = L->Aux + (size_t)s * BH;
				for (int b = 0; b < B; b++) {
					size_t q = (size_t)b * H;
					lstm_fwd_row(a + (size_t)b * GH, cin + q, cout + q, tc + q, hout + q, H);
				}
			}
		}
		for (int b = 0; b < B; b++)
			memcpy(Y + ((size_t)s * B + b) * ldy, hout + (size_t)b * H, (size_t)H * sizeof(reel_real));
	}
}

static void colsum_add(const reel_real *A, int rows, int cols, reel_real *out)
{
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < cols; j++)
			out[j] += A[(size_t)r * cols + j];
}

void hand_backward(hand_layer *L, const reel_real *X, long ldx, const reel_real *dY, long lddy, reel_real *dX,
                   long lddx)
{
	const int T = L->T, B = L->B, F = L->F, H = L->H, GH = L->G * H;
	const size_t BH = (size_t)B * H;
	const reel_cell_params *p = L->p;
	reel_real *dh = L->dh, *dc = L->dc;
	memset(dh, 0, BH * sizeof(reel_real));
	memset(dc, 0, BH * sizeof(reel_real));
	for (int k = 0; k < T; k++) {
		int s = L->reverse ? k : T - 1 - k;
		const reel_real *hin = L->Hs + blk_in(L, s), *hout = L->Hs + blk_out(L, s), *a = L->A + (size_t)s * B * GH;
		const reel_real *dy = dY + (size_t)s * B * lddy;
		reel_real *da = L->dA + (size_t)s * B * GH;
		if (!L->floor) {
			for (int b = 0; b < B; b++) {
				size_t q = (size_t)b * H;
				const reel_real *dyb = dy + (size_t)b * lddy;
				if (L->kind == HAND_RNN)
					rnn_bwd_row(hout + q, dyb, dh + q, da + q, H);
				else if (L->kind == HAND_LSTM)
					lstm_bwd_row(a + (size_t)b * GH, L->Cs + blk_in(L, s) + q, L->Aux + (size_t)s * BH + q, dyb,
					             dh + q, dc + q, da + (size_t)b * GH, H);
				else
					gru_bwd_row(a + (size_t)b * GH, L->Aux + (size_t)s * BH + q, hin + q, dyb, dh + q,
					            da + (size_t)b * GH, L->dHH + (size_t)s * B * GH + (size_t)b * GH, H);
			}
		}
		/* dh_prev = dpre W_hh   (B, GH) x (GH, H) */
		if (L->kind == HAND_GRU)
			reel__gemm(B, H, GH, 1, L->dHH + (size_t)s * B * GH, GH, 1, p->w[REEL_W_HH]->data, H, 1, 1, dh, H, 1);
		else
			reel__gemm(B, H, GH, 1, da, GH, 1, p->w[REEL_W_HH]->data, H, 1, 0, dh, H, 1);
	}
	/* weight gradients over all steps in one GEMM each */
	const reel_real *Hin = L->Hs + (L->reverse ? BH : 0), *dR = L->kind == HAND_GRU ? L->dHH : L->dA;
	reel__gemm(GH, H, T * B, 1, dR, 1, GH, Hin, H, 1, 1, p->w[REEL_W_HH]->grad, H, 1);
	reel__gemm(GH, F, T * B, 1, L->dA, 1, GH, X, ldx, 1, 1, p->w[REEL_W_IH]->grad, F, 1);
	if (!L->floor) {
		colsum_add(L->dA, T * B, GH, p->w[REEL_B_IH]->grad);
		colsum_add(dR, T * B, GH, p->w[REEL_B_HH]->grad);
	}
	if (dX)
		reel__gemm(T * B, F, GH, 1, L->dA, GH, 1, p->w[REEL_W_IH]->data, F, 1, 1, dX, lddx, 1);
}

int hand_net_init(hand_net *n, hand_kind kind, const reel_rnn *r, int T, int B)
{
	memset(n, 0, sizeof *n);
	n->layers = r->o.num_layers;
	n->dirs = r->dirs;
	n->T = T;
	n->B = B;
	n->I = r->o.input_size;
	n->H = r->o.hidden_size;
	size_t out = (size_t)T * B * n->dirs * n->H;
	for (int l = 0; l < n->layers; l++) {
		int F = l == 0 ? n->I : n->dirs * n->H;
		for (int d = 0; d < n->dirs; d++) {
			if (!hand_layer_init(&n->L[l][d], kind, T, B, F, n->H, d, &r->p[l][d]))
				return 0;
			n->bytes += n->L[l][d].bytes;
		}
		n->Y[l] = calloc(out, sizeof(reel_real));
		n->dY[l] = l + 1 < n->layers ? calloc(out, sizeof(reel_real)) : NULL;
		n->bytes += out * sizeof(reel_real) * (l + 1 < n->layers ? 2 : 1);
		if (!n->Y[l] || (l + 1 < n->layers && !n->dY[l]))
			return 0;
	}
	return 1;
}

void hand_net_free(hand_net *n)
{
	for (int l = 0; l < n->layers; l++) {
		for (int d = 0; d < n->dirs; d++)
			hand_layer_free(&n->L[l][d]);
		free(n->Y[l]);
		free(n->dY[l]);
	}
	memset(n, 0, sizeof *n);
}

void hand_net_set_floor(hand_net *n, int floor)
{
	for (int l = 0; l < n->layers; l++)
		for (int d = 0; d < n->dirs; d++)
			n->L[l][d].floor = floor;
}

double hand_net_step(hand_net *n, const reel_real *X, const reel_real *R, reel_real *dX)
{
	const int L = n->layers, D = n->dirs, W = D * n->H;
	const size_t rows = (size_t)n->T * n->B;
	for (int l = 0; l < L; l++) {
		const reel_real *in = l == 0 ? X : n->Y[l - 1];
		long ld = l == 0 ? n->I : W;
		for (int d = 0; d < D; d++)
			hand_forward(&n->L[l][d], in, ld, n->Y[l] + d * n->H, W);
	}
	double loss = 0;
	if (!n->L[0][0].floor)
		for (size_t i = 0; i < rows * W; i++)
			loss += (double)n->Y[L - 1][i] * R[i];
	for (int l = L - 1; l >= 0; l--) {
		const reel_real *in = l == 0 ? X : n->Y[l - 1], *dy = l == L - 1 ? R : n->dY[l];
		long ld = l == 0 ? n->I : W;
		reel_real *dx = l == 0 ? dX : n->dY[l - 1];
		if (l > 0)
			memset(dx, 0, rows * W * sizeof(reel_real));
		for (int d = 0; d < D; d++)
			hand_backward(&n->L[l][d], in, ld, dy + d * n->H, W, dx, ld);
	}
	return loss;
}
