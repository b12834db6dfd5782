/* Safetensors reading and writing: the file format of fixtures, checkpoints
 * and PyTorch interop.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 *  ..., "__metadata__": {"key": "string", ...}}, then the data bytes.
 *
 * Reading is strict: the header must be a JSON object starting at its first
 * byte, followed by nothing but spaces (the padding the format allows), with
 * no raw control bytes; tensor names and metadata must be valid UTF-8;
 * the file must be a regular file; every entry must have
 * exactly dtype (F32, F64, I32 or I64), shape (non-negative integers) and
 * data_offsets; sizes must agree with dtype and shape; the byte ranges must
 * tile the data section exactly (sorted by offset, contiguous, from 0 to its
 * end); names must be unique.  Anything else is REEL_ERR_IO with a message
 * naming the file, the entry and the offending value (a dimension or offset
 * by its index); bytes from the file appear in messages escaped (\xNN), never
 * raw.  Little-endian hosts only (checked).
 *
 * Writing is atomic: a temporary file next to the target (created with mode
 * 0666 less the umask, as the target would be), fsync, rename, fsync of the
 * directory, so a crash never leaves a half-written file under the target's
 * name.  A failed write, flush or rename (a full disk, an I/O error, a
 * target that is a directory) is REEL_ERR_IO, removes the temporary file
 * and leaves the target as it was.  engine/fault.h can inject each of these
 * failures. */
#ifndef REEL_SAFETENSORS_H
#define REEL_SAFETENSORS_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum reel_dtype { REEL_F32, REEL_F64, REEL_I32, REEL_I64 } reel_dtype;

#define REEL_ST_MAX_DIMS 8

typedef struct reel_st_tensor {
	const char *name;
	reel_dtype dtype;
	int ndim;
	int64_t shape[REEL_ST_MAX_DIMS];
	size_t count;               /* elements */
	const unsigned char *bytes; /* count * element size, possibly unaligned */
} reel_st_tensor;

typedef struct reel_st_file reel_st_file;

/* Read and validate path.  On success *out owns everything (free with
 * reel_st_free); on failure returns the status, *out is NULL and err says
 * what is wrong. */
reel_status reel_st_read(const char *path, reel_st_file **out, reel_err *err);
void reel_st_free(reel_st_file *f); /* NULL is a no-op */
/* The same from len bytes in memory (copied; the caller keeps bytes);
 * name stands for the path in messages. */
reel_status reel_st_read_mem(const char *name, const void *bytes, size_t len, reel_st_file **out,
                             reel_err *err);

int reel_st_count(const reel_st_file *f);
const reel_st_tensor *reel_st_at(const reel_st_file *f, int i);
/* The tensor called name, or NULL. */
const reel_st_tensor *reel_st_find(const reel_st_file *f, const char *name);
/* The metadata value for key, or NULL. */
const char *reel_st_meta(const reel_st_file *f, const char *key);

/* Convert a tensor's elements (any dtype) into dst (count elements).  In
 * reel_st_to_i32, NaN and values outside the int32 range become INT32_MIN. */
void reel_st_to_real(const reel_st_tensor *t, reel_real *dst);
void reel_st_to_double(const reel_st_tensor *t, double *dst);
void reel_st_to_i32(const reel_st_tensor *t, int32_t *dst);
/* The index of the first element that is not a finite reel_real (NaN,
 * infinite, or beyond the build's type: 1e300 in a float build), or
 * t->count when every element is. */
size_t reel_st_first_nonfinite(const reel_st_tensor *t);

/* A writer collects entries (pointers to caller memory, which must stay valid
 * until reel_st_write) and metadata strings (copied). */
typedef struct reel_st_writer reel_st_writer;
reel_st_writer *reel_st_writer_new(void); /* NULL: out of memory */
void reel_st_writer_free(reel_st_writer *w);
/* Returns REEL_OK, or REEL_ERR_ARG for a duplicate name or a bad shape, or
 * REEL_ERR_NOMEM; the message is in err. */
reel_status reel_st_add(reel_st_writer *w, const char *name, reel_dtype dtype, int ndim,
                        const int64_t *shape, const void *data, reel_err *err);
/* reel_real data, written as F32 or F64 to match the build. */
reel_status reel_st_add_real(reel_st_writer *w, const char *name, int ndim, const int *shape,
                             const reel_real *data, reel_err *err);
reel_status reel_st_add_meta(reel_st_writer *w, const char *key, const char *value, reel_err *err);
reel_status reel_st_write(const reel_st_writer *w, const char *path, reel_err *err);

/* Any n bytes written to path the same atomic way (temporary file next to
 * it, fsync, rename, fsync of the directory): a crash or an error leaves
 * the previous file intact.  Run directories' config.json, metrics and
 * pictures use it too. */
reel_status reel_write_atomic(const char *path, const void *data, size_t n, reel_err *err);

#ifdef __cplusplus
}
#endif

#endif
