/* reel's size limits, in one place.  (Not named limits.h: with -Iengine that
 * name would shadow the C library's <limits.h>.)
 *
 * Every size a user, a config or a file can choose is checked against one of
 * these before any arithmetic on it, so no size computation can overflow and
 * an absurd request fails with a message (naming the op, the shape and the
 * limit) instead of a wrapped size, a failed malloc of 2^63 bytes or a
 * memset past the end of a buffer.  The limits are far above what the
 * engine is used for; they exist to make the arithmetic provably safe.
 *
 * Why these values:
 *  - REEL_MAX_TENSOR_ELEMS: counts derived from a tensor (its rows, its
 *    columns, a row index, a BLIS dimension) are int, so every tensor's
 *    element count must fit an int.  2^31 - 1 elements is 8 GiB of float
 *    and 16 GiB of double; one tensor that size is already past any step
 *    this engine is meant for.  Parameters obey the same limit.
 *  - REEL_MAX_ARENA_BYTES: one tape's arena (all of a step's activations,
 *    saved values and gradients).  2^40 bytes (1 TiB) is far above any
 *    machine's memory but far below SIZE_MAX, so `used + n` and the
 *    alignment round-up of any request below it cannot wrap.  A tape can be
 *    given a lower cap (reel_tape_set_max_bytes).
 *  - REEL_MAX_SEQ_LEN: the longest sequence (time steps) a data source or a
 *    config may ask for; T * B * features must still fit a tensor.
 *  - REEL_MAX_VOCAB: the largest vocabulary (token ids are int32; a logits
 *    row holds one value per token). */
#ifndef REEL_LIMITS_H
#define REEL_LIMITS_H

#define REEL_MAX_TENSOR_ELEMS ((size_t)2147483647)     /* 2^31 - 1 elements */
#define REEL_MAX_TENSOR_ELEMS_STR "2^31 - 1"
#define REEL_MAX_ARENA_BYTES ((size_t)1 << 40)          /* 2^40 bytes */
#define REEL_MAX_ARENA_BYTES_STR "2^40"
#define REEL_MAX_SEQ_LEN 1048576                        /* 2^20 time steps */
#define REEL_MAX_VOCAB 16777216                         /* 2^24 tokens */

#endif
