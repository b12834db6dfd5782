/* reel: a reverse-mode, tape-based autodiff engine with recurrent layers.
 * The one header a user includes for the engine; see tensor.h (tape,
 * tensors, backward), reel_limits.h (size limits), ops.h (the op list),
 * param.h (parameter store), rng.h, safetensors.h and gradcheck.h (checking
 * gradients by finite differences). */
#ifndef REEL_H
#define REEL_H

#include "fault.h"
#include "gradcheck.h"
#include "reel_limits.h"
#include "ops.h"
#include "param.h"
#include "rng.h"
#include "safetensors.h"
#include "tensor.h"

#endif
