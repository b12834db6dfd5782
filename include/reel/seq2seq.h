/* Attention and sequence-to-sequence: encoder-decoder with attention,
 * teacher forcing and scheduled sampling, greedy and beam decoding.
 * Compositions of engine ops and C control flow, as everything in layers/.
 *
 * Shapes: sources are time-major token ids (S, B) with lengths (B); encoder
 * outputs are (S, B, K); a decoder state is (B, H). */
#ifndef REEL_SEQ2SEQ_H
#define REEL_SEQ2SEQ_H

#include "layers.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- attention ----------------------------------------------------------------
 *
 * For a query s (B, Q) over keys h_1..h_S (the encoder outputs, (S, B, K)):
 *   dot       score_j = s . h_j                          (Luong et al. 2015; Q = K)
 *   general   score_j = s^T W h_j,   W (Q, K) = "W"      (Luong et al. 2015)
 *   additive  score_j = v^T tanh(W_q s + W_k h_j)        (Bahdanau et al. 2015)
 *             W_q (A, Q), W_k (A, K), v (1, A)
 *   a = softmax(score + padding bias)   weights (B, S); padding gets exactly 0
 *   c = sum_j a_j h_j                    context (B, K) */
typedef enum reel_attn_kind { REEL_ATTN_NONE, REEL_ATTN_DOT, REEL_ATTN_GENERAL, REEL_ATTN_ADDITIVE } reel_attn_kind;

/* "none", "dot", "general", "additive" <-> kind; -1 for another name. */
int reel_attn_kind_from_name(const char *name);
const char *reel_attn_kind_name(reel_attn_kind k);

typedef struct reel_attention {
	reel_attn_kind kind;
	int query_size, key_size, attn_size;
	reel_tensor *W;            /* general */
	reel_tensor *W_q, *W_k, *v; /* additive */
} reel_attention;

/* Parameters prefix + "W" (general) or "W_q", "W_k", "v" (additive), init
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)).  dot needs query_size == key_size. */
reel_status reel_attention_init(reel_attention *a, reel_params *ps, const char *prefix, reel_attn_kind kind,
                                int query_size, int key_size, int attn_size, reel_rng *rng, reel_err *err);

/* What one source batch contributes to every decoder step, computed once. */
typedef struct reel_attn_memory {
	reel_tensor *keys;  /* (B, S, K) batch-major encoder outputs */
	reel_tensor *proj;  /* additive: (S, B, A) = h W_k^T, time-major */
	reel_tensor *bias;  /* (B, S): 0, or -inf past each length; NULL without lengths */
	int S, B;
} reel_attn_memory;

/* enc (S, B, K); lengths (B) or NULL.  Returns REEL_OK or the tape error. */
reel_status reel_attention_memory(reel_tape *t, const reel_attention *a, reel_tensor *enc, const int *lengths,
                                  reel_attn_memory *m);

/* The context (B, K) for query (B, Q); *weights (B, S) if weights is not
 * NULL.  NULL on error (message on the tape). */
reel_tensor *reel_attention_step(reel_tape *t, const reel_attention *a, const reel_attn_memory *m,
                                 reel_tensor *query, reel_tensor **weights);

/* ---- encoder-decoder --------------------------------------------------------------
 *
 * Encoder: embedding -> reel_rnn (stacked, bidirectional allowed; with a
 * bidirectional encoder each direction has hidden_size / 2, so its outputs
 * have hidden_size).  Decoder, per step (Luong et al. 2015):
 *   x_t   = [emb(y_{t-1}); h~_{t-1} if input feeding]
 *   h_t   = cell stack (x_t, state)                            (B, H)
 *   c_t   = attention(h_t, encoder outputs)                    (B, H)
 *   h~_t  = tanh(W_c [c_t; h_t])   (h~_t = h_t without attention)
 *   logits = h~_t W_out^T + b_out  (W_out tied to the target embedding if asked)
 * Bridge: decoder initial states = tanh(W_b [final encoder states of the top
 * layer, both directions] + b_b) for every decoder layer (and the cell state
 * likewise for LSTM), or zeros. */
typedef struct reel_seq2seq_opts {
	int src_vocab, tgt_vocab;
	int emb_size, hidden_size;
	const reel_cell *cell;   /* encoder and decoder cell */
	int enc_layers, dec_layers;
	int bidirectional;       /* encoder */
	reel_attn_kind attention;
	int attn_size;           /* additive; default hidden_size */
	int bridge;              /* 1: learned projection, 0: zeros */
	int input_feeding;
	int tie_embeddings;      /* needs emb_size == hidden_size */
	double dropout;          /* on embeddings, between layers and before the output */
	int bos, eos, pad;       /* target-side special ids; pad is ignored by the loss */
} reel_seq2seq_opts;

typedef struct reel_seq2seq {
	reel_seq2seq_opts o;
	reel_embedding src_emb, tgt_emb;
	reel_rnn enc, dec;      /* dec is stepped by hand, one layer at a time */
	reel_attention attn;
	reel_linear bridge_h, bridge_c, combine, out;
} reel_seq2seq;

/* Parameters under prefix: "src_emb.weight", "encoder.weight_ih_l0", ...,
 * "decoder.*", "attn.*", "bridge_h.*", "combine.*", "out.*". */
reel_status reel_seq2seq_init(reel_seq2seq *m, reel_params *ps, const char *prefix, const reel_seq2seq_opts *o,
                              reel_rng *rng, reel_err *err);

/* A batch: time-major ids, lengths.  tgt holds the outputs to produce,
 * ending in eos and padded with pad; the decoder input at step 0 is bos. */
typedef struct reel_s2s_batch {
	const int32_t *src; /* (S, B) */
	const int *src_len; /* (B), in [1, S] */
	int S, B;
	const int32_t *tgt; /* (T, B) */
	int T;
} reel_s2s_batch;

/* Mean cross-entropy over non-pad target tokens.  Teacher forcing with
 * probability tf_ratio per token; otherwise the decoder's input is its own
 * previous prediction (argmax; scheduled sampling, Bengio et al. 2015),
 * drawn from the tape's RNG.  NULL on error. */
reel_tensor *reel_seq2seq_loss(reel_tape *t, const reel_seq2seq *m, const reel_s2s_batch *b, double tf_ratio);

typedef struct reel_s2s_result {
	int B, max_len, S;
	int32_t *tokens;  /* (B, max_len): the output, eos included when produced */
	int *len;         /* (B) */
	double *score;    /* (B): sum of log-probabilities (beam: divided by len^alpha) */
	reel_real *attn;  /* (B, max_len, S): attention weights per output step (NULL without attention) */
} reel_s2s_result;

reel_status reel_s2s_result_init(reel_s2s_result *r, int B, int max_len, int S);
void reel_s2s_result_deinit(reel_s2s_result *r);

/* Greedy decoding of b's sources (tgt unused), batched; stops at eos or
 * max_len.  Runs without gradients on t (which it resets first). */
reel_status reel_seq2seq_greedy(reel_tape *t, const reel_seq2seq *m, const reel_s2s_batch *b, int max_len,
                                reel_s2s_result *r);

/* Beam search of width beam, batched over sources: a hypothesis ends at
 * eos; a source is done when beam hypotheses have ended or at max_len
 * (then unfinished ones count as ended).  The best by sum(log p) / len^alpha
 * is returned (alpha = 0: no length normalisation).  Width 1 equals greedy. */
reel_status reel_seq2seq_beam(reel_tape *t, const reel_seq2seq *m, const reel_s2s_batch *b, int beam, int max_len,
                              double alpha, reel_s2s_result *r);

/* The same, keeping the n_best (1 <= n_best <= beam) best ended hypotheses
 * of every source, best first: r holds B * n_best rows, source b's i-th
 * best in row b * n_best + i (len 0 and score -inf when fewer ended). */
reel_status reel_seq2seq_beam_nbest(reel_tape *t, const reel_seq2seq *m, const reel_s2s_batch *b, int beam,
                                    int max_len, double alpha, int n_best, reel_s2s_result *r);

#ifdef __cplusplus
}
#endif

#endif
