/*
 * gw_buf.h - a growable byte buffer with a consumed offset.
 *
 * Bytes are appended at the end and consumed from the front by moving an
 * offset, so taking a message out never shifts the rest. The pending
 * bytes are data[off..len). Space is reclaimed only when the buffer must
 * grow (the pending bytes move to the front once) or when it empties.
 *
 * Ownership: the buffer owns data (malloc/realloc/free). Pointers from
 * gw_buf_peek and gw_buf_reserve live until the next call that changes
 * the buffer.
 */
#ifndef GW_BUF_H
#define GW_BUF_H

#include <stddef.h>

/* Never allocate less than this: most responses fit in one go. */
#define GW_BUF_MIN_ALLOC 512

typedef struct gw_buf {
    unsigned char *data;
    size_t off;     /* first pending byte */
    size_t len;     /* end of pending bytes */
    size_t cap;     /* bytes allocated */
} gw_buf;

void gw_buf_init(gw_buf *b);
void gw_buf_free(gw_buf *b);

/* Bytes appended and not yet consumed. (Inline: every poll of every
 * connection asks.) */
static inline size_t gw_buf_pending(const gw_buf *b)
{
    return b->len - b->off;
}

/* First pending byte (NULL when the buffer never held anything). */
static inline const unsigned char *gw_buf_peek(const gw_buf *b)
{
    return b->data == NULL ? NULL : b->data + b->off;
}

/* Room for n more bytes at the end; NULL when memory runs out. The bytes
 * count only after gw_buf_commit. */
unsigned char *gw_buf_reserve(gw_buf *b, size_t n);

/* Count n bytes written into the room gw_buf_reserve gave. */
void gw_buf_commit(gw_buf *b, size_t n);

/* reserve + copy + commit. 0 on success, -1 when memory runs out. */
int gw_buf_append(gw_buf *b, const void *p, size_t n);

/* Drop n pending bytes from the front (n <= gw_buf_pending). */
void gw_buf_consume(gw_buf *b, size_t n);

/* Drop every pending byte; the allocation is kept. */
void gw_buf_clear(gw_buf *b);

/* Keep the first n pending bytes, drop the rest (n <= gw_buf_pending). */
void gw_buf_cut(gw_buf *b, size_t n);

#endif /* GW_BUF_H */
