/* Configs: strict, located reading of a JSON model file.
 *
 * A reel_cfg holds one parsed file (plus its --set overrides) and collects
 * every error found while the model is built from it, so a user sees all
 * of a file's mistakes at once.  Code that reads the config (the task
 * sections, each layer builder) asks for each key through the typed getters
 * below; a getter checks the JSON type and range and records an error
 * naming the file, the JSON Pointer path, what was expected and what was
 * found, then returns the default so reading can go on.  When an object has
 * been read, reel_cfg_end() reports every key nobody asked for, with "did
 * you mean" among the keys that were asked for.
 *
 * The same reading code documents itself: a cfg in describe mode (no file)
 * makes every getter record the key, its type, default and meaning instead
 * of reading, which is what `reel list` prints.
 *
 * Ownership: reel_cfg_load/reel_cfg_describe return a cfg freed with
 * reel_cfg_free; strings returned by getters belong to the cfg. */
#ifndef REEL_CONFIG_H
#define REEL_CONFIG_H

#include <stdio.h>

#include "reel.h"

typedef struct cJSON cJSON;
typedef struct reel_cfg reel_cfg;

#define REEL_CFG_MAX_PATH 256
#define REEL_CFG_MAX_KEYS 48
#define REEL_CFG_FORMAT 1 /* the config format this reel reads */

/* One object being read: its node, its JSON Pointer path, the keys asked. */
typedef struct reel_cfg_obj {
	reel_cfg *c;
	const cJSON *j;     /* NULL when absent or in describe mode */
	char path[REEL_CFG_MAX_PATH];
	const char *keys[REEL_CFG_MAX_KEYS];
	int nkeys;
} reel_cfg_obj;

/* Parse path and apply overrides ("train.optimizer.lr=3e-4" or
 * "/model/1/hidden_size=64"; the value is JSON, or a bare string).  A
 * syntax error names the line and column; a bad override names it.  On
 * failure returns NULL with err set (REEL_ERR_IO for an unreadable file,
 * REEL_ERR_CONFIG otherwise). */
reel_cfg *reel_cfg_load(const char *path, const char *const *sets, int nsets, reel_err *err);
/* The same from a string (name is used in messages). */
reel_cfg *reel_cfg_parse(const char *name, const char *text, const char *const *sets, int nsets, reel_err *err);
/* A cfg with no file, reading defaults and recording descriptions. */
reel_cfg *reel_cfg_describe(void);
void reel_cfg_free(reel_cfg *c);

const char *reel_cfg_name(const reel_cfg *c);   /* the file name given */
const char *reel_cfg_dir(const reel_cfg *c);    /* its directory, for relative data paths */
int reel_cfg_describing(const reel_cfg *c);
int reel_cfg_nerrors(const reel_cfg *c);
/* 1 if memory ran out while reading or resolving: the resolved tree and
 * the error list are then incomplete, and the config must not be used. */
int reel_cfg_nomem(const reel_cfg *c);
/* Every error, one per line ("file: /path: message\n"). */
const char *reel_cfg_errors(const reel_cfg *c);
/* Record an error at o's path (+ "/key" when key is non-NULL). */
void reel_cfg_error(reel_cfg_obj *o, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The root object, and children.  A missing child object reads as empty
 * (every key at its default); a child of the wrong type is an error. */
reel_cfg_obj reel_cfg_root(reel_cfg *c);
reel_cfg_obj reel_cfg_child(reel_cfg_obj *o, const char *key, const char *doc);
/* Report unknown keys of o. */
void reel_cfg_end(reel_cfg_obj *o);

/* Arrays of objects: the length (0 when absent; an error when not an
 * array or, with required, empty), then each element. */
int reel_cfg_array(reel_cfg_obj *o, const char *key, int required, const char *doc);
reel_cfg_obj reel_cfg_elem(reel_cfg_obj *o, const char *key, int i);
/* An array of strings into out (up to max, owned by the cfg). */
int reel_cfg_strings(reel_cfg_obj *o, const char *key, const char **out, int max, const char *doc);
/* An array of integers into out (up to max). */
int reel_cfg_ints(reel_cfg_obj *o, const char *key, int *out, int max, int lo, int hi, const char *doc);

/* Is key present in o? */
int reel_cfg_has(reel_cfg_obj *o, const char *key);

#define REEL_CFG_REQUIRED (-2147483647 - 1) /* int default: the key must be present */
#define REEL_CFG_AUTO (-1)                  /* what reel_cfg_size returns for "auto" */

int reel_cfg_int(reel_cfg_obj *o, const char *key, int def, int lo, int hi, const char *doc);
/* An integer, or the string "auto" (returns REEL_CFG_AUTO). */
int reel_cfg_size(reel_cfg_obj *o, const char *key, int def, int lo, int hi, const char *doc);
double reel_cfg_real(reel_cfg_obj *o, const char *key, double def, double lo, double hi, const char *doc);
/* A real that must be present. */
double reel_cfg_real_req(reel_cfg_obj *o, const char *key, double lo, double hi, const char *doc);
int reel_cfg_bool(reel_cfg_obj *o, const char *key, int def, const char *doc);
/* def NULL: required. */
const char *reel_cfg_str(reel_cfg_obj *o, const char *key, const char *def, const char *doc);
/* One of choices (NULL-terminated); returns its index.  def < 0: required. */
int reel_cfg_enum(reel_cfg_obj *o, const char *key, int def, const char *const *choices, const char *doc);
uint64_t reel_cfg_seed(reel_cfg_obj *o, const char *key, uint64_t def, const char *doc);

/* Describe mode: the recorded text (sections and keys), for `reel list`. */
const char *reel_cfg_description(const reel_cfg *c);
/* Describe mode: start a titled section in the description. */
void reel_cfg_section(reel_cfg *c, const char *title, const char *doc);

/* The whole tree (after overrides), pretty-printed; caller frees. */
char *reel_cfg_print(const reel_cfg *c);
/* Set key in o's object to a number / string / bool (filling in a
 * resolved default or an "auto" size, for the resolved config). */
void reel_cfg_resolve_int(reel_cfg_obj *o, const char *key, int v);
void reel_cfg_resolve_real(reel_cfg_obj *o, const char *key, double v);
void reel_cfg_resolve_str(reel_cfg_obj *o, const char *key, const char *v);

/* Levenshtein distance, for "did you mean". */
int reel_cfg_distance(const char *a, const char *b);

#endif
