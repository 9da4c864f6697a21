/*
 * gw_index.h - the search index: an immutable map of query -> answer.
 *
 * An index is built once, from the built-in tutorial entries or from a
 * JSON object of string -> string (parsed with yajl), and then only read.
 * Lookups are a binary search over entries sorted by key bytes.
 *
 * Ownership: gw_index_builtin/gw_index_load_* allocate the index; the
 * caller frees it with gw_index_free. Pointers returned by
 * gw_index_lookup point into the index and live as long as it does.
 * Nothing here keeps global state, so an index may be read from several
 * threads at once.
 */
#ifndef GW_INDEX_H
#define GW_INDEX_H

#include <stddef.h>

#include "gw_buf.h"

/* Largest index file accepted: far above any hand-written index, and it
 * bounds what a reload can make a worker hold (about twice this). */
#define GW_INDEX_FILE_MAX ((size_t)64 * 1024 * 1024)

/* Most entries in one index; bounds the entry table. */
#define GW_INDEX_ENTRIES_MAX ((size_t)1 << 20)

/* Nesting the loader tolerates before giving up (values must be strings,
 * so anything deeper than 1 is already an error; this only bounds the
 * work done on the way to reporting it). */
#define GW_INDEX_DEPTH_MAX 64

/* Room for one error message, including the NUL. */
#define GW_INDEX_DETAIL_MAX 200

typedef enum gw_index_status {
    GW_INDEX_OK = 0,
    GW_INDEX_E_IO,          /* the file could not be opened or read */
    GW_INDEX_E_TOO_BIG,     /* above GW_INDEX_FILE_MAX or _ENTRIES_MAX */
    GW_INDEX_E_JSON,        /* not well-formed JSON (or invalid UTF-8) */
    GW_INDEX_E_NOT_OBJECT,  /* the top-level value is not an object */
    GW_INDEX_E_NOT_STRING,  /* an answer is not a string */
    GW_INDEX_E_DUPLICATE,   /* a query appears twice */
    GW_INDEX_E_NOMEM        /* an allocation failed */
} gw_index_status;

typedef struct gw_index_error {
    gw_index_status code;
    size_t offset;          /* byte offset in the input where it was seen */
    char detail[GW_INDEX_DETAIL_MAX]; /* NUL-terminated, printable */
} gw_index_error;

typedef struct gw_index gw_index;

/* Short stable name of a status ("duplicate-key"). Static, never NULL. */
const char *gw_index_strerror(gw_index_status st);

/* The tutorial's three entries. NULL only when memory runs out. */
gw_index *gw_index_builtin(void);

/*
 * Build an index from buf[0..len), a JSON object whose values are all
 * strings. On GW_INDEX_OK *out receives the index; otherwise *out is NULL
 * and *err (when not NULL) says what and where. buf is not kept.
 */
gw_index_status gw_index_load_mem(const void *buf, size_t len,
                                  gw_index **out, gw_index_error *err);

/* gw_index_load_mem on the contents of the file at path. */
gw_index_status gw_index_load_file(const char *path, gw_index **out,
                                   gw_index_error *err);

/* The answer for key[0..key_len), or NULL when absent; *value_len gets
 * its length. Answers are not NUL-terminated. */
const char *gw_index_lookup(const gw_index *idx, const void *key,
                            size_t key_len, size_t *value_len);

/* Most bytes of answers an index holds made ahead (gw_index_prepare):
 * entries past it are answered as they are asked, so a large index
 * costs no more memory than the file it came from and its table. */
#define GW_INDEX_PREPARED_MAX ((size_t)16 * 1024 * 1024)

/* Make each entry's answer ahead of time: make(ctx, value, len, out)
 * appends the bytes for one value to out and returns 0, or returns -1 to
 * leave that entry to be answered when asked. Entries are prepared in
 * key order while the answers fit in GW_INDEX_PREPARED_MAX. Call before
 * the index is shared. Returns 0, or -1 when memory runs out (nothing is
 * prepared then, and the index works as before). */
int gw_index_prepare(gw_index *idx,
                     int (*make)(void *ctx, const char *value, size_t len,
                                 gw_buf *out),
                     void *ctx);

/* The answer made ahead for key[0..key_len), or NULL (no such key, or
 * not prepared); *len gets its length. Lives as long as the index. */
const unsigned char *gw_index_lookup_prepared(const gw_index *idx,
                                              const void *key,
                                              size_t key_len, size_t *len);

/* Number of entries. */
size_t gw_index_count(const gw_index *idx);

/* Release an index; NULL is allowed. */
void gw_index_free(gw_index *idx);

#endif /* GW_INDEX_H */
