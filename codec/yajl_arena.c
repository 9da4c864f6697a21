/* yajl_arena.c - yajl's blocks for one parse from the caller's buffer
 * (see yajl_arena.h). Each block starts with its size, so that realloc
 * knows how much to copy; the last block given out is grown in place or
 * taken back. */
#include "yajl_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef union block {
    max_align_t align;
    size_t size;
} block;

#define ALIGN sizeof(block)

static int in_arena(const hf_yajl_arena *a, const void *p)
{
    uintptr_t u = (uintptr_t)p, lo = (uintptr_t)a->buf.bytes;

    return u >= lo && u - lo < sizeof a->buf.bytes;
}

/* Bytes a block of n takes in the buffer, header included; 0 when it
 * cannot fit at all. */
static size_t span(size_t n)
{
    if (n > sizeof(((hf_yajl_arena *)0)->buf.bytes))
        return 0;
    return ALIGN + (n + ALIGN - 1) / ALIGN * ALIGN;
}

static void *next_malloc(hf_yajl_arena *a, size_t n)
{
    if (a->next == NULL)
        return malloc(n);
    return a->next->malloc(a->next->ctx, n);
}

static void *arena_malloc(void *ctx, size_t n)
{
    hf_yajl_arena *a = ctx;
    size_t need = span(n);
    block *b;

    if (need == 0 || sizeof a->buf.bytes - a->used < need)
        return next_malloc(a, n);
    b = (block *)(a->buf.bytes + a->used);
    b->size = n;
    a->last = a->used;
    a->used += need;
    return b + 1;
}

static void arena_free(void *ctx, void *p)
{
    hf_yajl_arena *a = ctx;
    unsigned char *b;

    if (p == NULL)
        return;
    if (!in_arena(a, p)) {
        if (a->next == NULL)
            free(p);
        else
            a->next->free(a->next->ctx, p);
        return;
    }
    b = (unsigned char *)p - ALIGN;
    if (a->last != SIZE_MAX && b == a->buf.bytes + a->last) {
        a->used = a->last;
        a->last = SIZE_MAX;
    }
}

static void *arena_realloc(void *ctx, void *p, size_t n)
{
    hf_yajl_arena *a = ctx;
    block *b;
    size_t need = span(n);
    void *q;

    if (p == NULL)
        return arena_malloc(ctx, n);
    if (!in_arena(a, p)) {
        if (a->next == NULL)
            return realloc(p, n);
        return a->next->realloc(a->next->ctx, p, n);
    }
    b = (block *)p - 1;
    /* The last block grows or shrinks where it is when there is room. */
    if (a->last != SIZE_MAX && (unsigned char *)b == a->buf.bytes + a->last
            && need != 0 && sizeof a->buf.bytes - a->last >= need) {
        b->size = n;
        a->used = a->last + need;
        return p;
    }
    q = arena_malloc(ctx, n);
    if (q == NULL)
        return NULL;
    memcpy(q, p, b->size < n ? b->size : n);
    arena_free(ctx, p);
    return q;
}

yajl_alloc_funcs *hf_yajl_arena_init(hf_yajl_arena *a,
                                     const yajl_alloc_funcs *next)
{
    a->funcs.malloc = arena_malloc;
    a->funcs.realloc = arena_realloc;
    a->funcs.free = arena_free;
    a->funcs.ctx = a;
    a->next = next;
    a->used = 0;
    a->last = SIZE_MAX;
    return &a->funcs;
}
