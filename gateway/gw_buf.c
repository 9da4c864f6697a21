/* gw_buf.c - growable byte buffer with a consumed offset. */
#include "gw_buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void gw_buf_init(gw_buf *b)
{
    b->data = NULL;
    b->off = 0;
    b->len = 0;
    b->cap = 0;
}

void gw_buf_free(gw_buf *b)
{
    free(b->data);
    gw_buf_init(b);
}

unsigned char *gw_buf_reserve(gw_buf *b, size_t n)
{
    size_t pending = b->len - b->off;
    size_t want, ncap;
    unsigned char *p;

    if (b->cap - b->len >= n)
        return b->data + b->len;
    /* Moving the pending bytes to the front may be enough. */
    if (b->off > 0) {
        if (pending > 0)
            memmove(b->data, b->data + b->off, pending);
        b->off = 0;
        b->len = pending;
        if (b->cap - b->len >= n)
            return b->data + b->len;
    }
    if (n > SIZE_MAX - pending)
        return NULL;
    want = pending + n;
    ncap = b->cap < GW_BUF_MIN_ALLOC ? GW_BUF_MIN_ALLOC : b->cap;
    while (ncap < want) {
        if (ncap > SIZE_MAX / 2) {
            ncap = want;
            break;
        }
        ncap *= 2;
    }
    p = realloc(b->data, ncap);
    if (p == NULL)
        return NULL;
    b->data = p;
    b->cap = ncap;
    return b->data + b->len;
}

void gw_buf_commit(gw_buf *b, size_t n)
{
    b->len += n;
}

int gw_buf_append(gw_buf *b, const void *p, size_t n)
{
    unsigned char *dst;

    if (n == 0)
        return 0;
    dst = gw_buf_reserve(b, n);
    if (dst == NULL)
        return -1;
    memcpy(dst, p, n);
    b->len += n;
    return 0;
}

void gw_buf_consume(gw_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len) {
        b->off = 0;
        b->len = 0;
    }
}

void gw_buf_clear(gw_buf *b)
{
    b->off = 0;
    b->len = 0;
}

void gw_buf_cut(gw_buf *b, size_t n)
{
    if (n < b->len - b->off)
        b->len = b->off + n;
}
