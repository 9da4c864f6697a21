/*
 * vectors.h - the test vectors of tests/vectors/ for the C suites.
 *
 * A vector file holds one JSON object a line (tests/vectors/README.md
 * says what each file holds). vec_load parses every line with yajl's
 * tree API; the getters read one member of one vector. Bytes are written
 * in the files as a string (its UTF-8 bytes) or a list of parts: strings,
 * {"hex": "..."} and {"repeat": "...", "count": N}.
 *
 * A file that cannot be read, or a member that is missing or of the
 * wrong kind, is a broken test: the loader says which file, line and
 * member, and exits with status 1.
 *
 * Ownership: the set owns its parsed vectors until vec_free; vec_text's
 * strings live as long as the set; vec_bytes returns a block of its own
 * that the caller frees.
 */
#ifndef HF_TEST_VECTORS_H
#define HF_TEST_VECTORS_H

#include <stddef.h>

#include <yajl/yajl_tree.h>

typedef struct vec_set {
    char *path;         /* the file, for messages */
    yajl_val *v;        /* one object a line */
    size_t *line;       /* its line number */
    size_t n;
} vec_set;

/* Load tests/vectors/NAME.jsonl (the directory is $HF_VECTORS when set,
 * else the one the build was made from). Exits on any error. */
void vec_load(vec_set *s, const char *name);

void vec_free(vec_set *s);

/* The string member key of vector i; NULL when absent (required: exits
 * when absent). */
const char *vec_text(const vec_set *s, size_t i, const char *key,
                     int required);

/* The non-negative integer member key of vector i; dflt when absent. */
unsigned long long vec_count(const vec_set *s, size_t i, const char *key,
                             unsigned long long dflt);

/* The bytes of member key of vector i in a new block, NUL-terminated
 * after *len bytes. Required: exits when absent. */
unsigned char *vec_bytes(const vec_set *s, size_t i, const char *key,
                         size_t *len);

#endif
