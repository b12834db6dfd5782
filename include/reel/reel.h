/* reel: a reverse-mode, tape-based autodiff engine with recurrent layers.
 * The one header a program includes:
 *
 *     #include <reel/reel.h>
 *     cc prog.c $(pkg-config --cflags --libs reel)       float
 *     cc prog.c $(pkg-config --cflags --libs reel_f64)   double (-DREEL_DOUBLE)
 *
 * The pieces: tensor.h (scalar type, status codes, tape, tensors, backward),
 * reel_limits.h (the largest tensor, arena, sequence and vocabulary),
 * ops.h (every op: math, shapes, errors), param.h (the parameter store),
 * rng.h, safetensors.h, gradcheck.h (checking gradients by finite
 * differences), layers.h (linear, embedding, the cells, their registry and
 * the sequence driver), seq2seq.h (attention, encoder-decoder, decoding)
 * and optim.h (optimizers, clipping, schedules).
 *
 * The scalar type is chosen at compile time: float by default, double with
 * REEL_DOUBLE defined.  The two builds are two libraries (libreel,
 * libreel_f64); a program compiled for one does not link against the other
 * (see REEL_ABI_TAG in tensor.h). */
#ifndef REEL_H
#define REEL_H

#define REEL_VERSION_MAJOR 0
#define REEL_VERSION_MINOR 3
#define REEL_VERSION_PATCH 0

#include "tensor.h"
#include "reel_limits.h"
#include "ops.h"
#include "param.h"
#include "rng.h"
#include "safetensors.h"
#include "gradcheck.h"
#include "layers.h"
#include "seq2seq.h"
#include "optim.h"

#endif
