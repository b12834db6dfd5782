/* Fault injection: hooks that make the library's allocations and its
 * checkpoint writes fail on demand, so tests can prove that every failure
 * is an error with a message (never a crash or a leak) and that a failed
 * write leaves the previous file intact.  Both hooks are off by default and
 * cost one predictable branch when off.
 *
 * Every allocation the library makes goes through reel__malloc and its
 * siblings below (and, while an allocation hook is set, cJSON's allocations
 * too, through cJSON_InitHooks); memory they return is released with plain
 * free().  BLIS's internal buffers are its own and are not hooked.
 *
 * The hooks are process-wide and not thread-safe: set them while no other
 * thread is inside reel (tests do, between calls). */
#ifndef REEL_FAULT_H
#define REEL_FAULT_H

#include <stddef.h>

/* Asked before every allocation with its size; non-zero makes that
 * allocation fail as if the machine were out of memory.  fail NULL: off. */
typedef int (*reel_alloc_fail_fn)(size_t bytes, void *ctx);
void reel_set_alloc_hook(reel_alloc_fail_fn fail, void *ctx);

/* The steps of an atomic file write (engine/safetensors.c reel_st_write,
 * and reel_write_atomic). */
typedef enum reel_io_op {
	REEL_IO_CREATE,  /* creating the temporary file */
	REEL_IO_WRITE,   /* each write(2) into it */
	REEL_IO_FSYNC,   /* flushing it */
	REEL_IO_RENAME,  /* renaming it over the target */
	REEL_IO_DIRSYNC, /* flushing the directory after the rename */
} reel_io_op;

/* Asked before each step with the path it acts on; a non-zero errno value
 * (ENOSPC, EIO, ...) makes the step fail with that errno instead of
 * running.  fail NULL: off. */
typedef int (*reel_io_fail_fn)(reel_io_op op, const char *path, void *ctx);
void reel_set_io_hook(reel_io_fail_fn fail, void *ctx);

/* Internals: the library's allocators and the I/O check. */
void *reel__malloc(size_t n);
void *reel__calloc(size_t count, size_t size);
void *reel__realloc(void *p, size_t n);
char *reel__strdup(const char *s);
char *reel__strndup(const char *s, size_t n);
/* 0, or the errno the I/O hook injects for op on path. */
int reel__io_fault(reel_io_op op, const char *path);

#endif
