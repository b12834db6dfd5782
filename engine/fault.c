/* Fault injection hooks (see fault.h). */
#include "fault.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static reel_alloc_fail_fn alloc_fail;
static void *alloc_ctx;
static reel_io_fail_fn io_fail;
static void *io_ctx;

static int refused(size_t n)
{
	return alloc_fail && alloc_fail(n, alloc_ctx);
}

void *reel__malloc(size_t n)
{
	return refused(n) ? NULL : malloc(n);
}

void *reel__calloc(size_t count, size_t size)
{
	size_t n = size && count > SIZE_MAX / size ? SIZE_MAX : count * size; /* calloc itself refuses the overflow */
	return refused(n) ? NULL : calloc(count, size);
}

void *reel__realloc(void *p, size_t n)
{
	return refused(n) ? NULL : realloc(p, n);
}

char *reel__strdup(const char *s)
{
	return refused(strlen(s) + 1) ? NULL : strdup(s);
}

char *reel__strndup(const char *s, size_t n)
{
	return refused(n + 1) ? NULL : strndup(s, n);
}

static void *cjson_malloc(size_t n)
{
	return reel__malloc(n);
}

void reel_set_alloc_hook(reel_alloc_fail_fn fail, void *ctx)
{
	alloc_fail = fail;
	alloc_ctx = ctx;
	/* cJSON allocates the library's config trees and checkpoint headers:
	 * route it through the hook while one is set, back to malloc after */
	cJSON_Hooks h = {cjson_malloc, free};
	cJSON_InitHooks(fail ? &h : NULL);
}

void reel_set_io_hook(reel_io_fail_fn fail, void *ctx)
{
	io_fail = fail;
	io_ctx = ctx;
}

int reel__io_fault(reel_io_op op, const char *path)
{
	return io_fail ? io_fail(op, path, io_ctx) : 0;
}
