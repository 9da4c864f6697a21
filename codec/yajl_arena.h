/*
 * yajl_arena.h - yajl's allocations for one parse from a buffer the
 * caller holds (on its stack), so that parsing a small document costs no
 * call to the allocator. Internal to libhframe and the programs built
 * with libhframe.a; not installed.
 *
 * yajl 2 cannot reset a handle, so each parse allocates a new one: the
 * handle, its lexer, two buffer records and its state stack (some 400
 * bytes in five blocks), and at yajl_complete_parse the lexer's 2 KiB
 * buffer, all given back at yajl_free. The arena hands them out from its
 * buffer and takes the last one back when it is freed; what does not fit
 * (the decode buffer of a string with escapes, a stack that grows past
 * its first 128 levels) comes from the next allocator. The arena must
 * outlive the yajl handle; nothing is left to free after yajl_free.
 */
#ifndef HF_YAJL_ARENA_H
#define HF_YAJL_ARENA_H

#include <stddef.h>
#include <yajl/yajl_common.h>

/* Room for all of the above in yajl 2.1 (2,512 bytes with the blocks'
 * headers) with a margin; a document that needs more spills to the next
 * allocator, it is not refused. */
#define HF_YAJL_ARENA_SIZE 3072

typedef struct hf_yajl_arena {
    yajl_alloc_funcs funcs;       /* what to pass to yajl_alloc */
    const yajl_alloc_funcs *next; /* beyond the buffer; NULL: the C library */
    size_t used;                  /* bytes of buf handed out */
    size_t last;                  /* offset of the last block; SIZE_MAX:
                                     none can be taken back */
    union {
        max_align_t align;
        unsigned char bytes[HF_YAJL_ARENA_SIZE];
    } buf;
} hf_yajl_arena;

/* Prepare *a (empty) and return the functions to give yajl_alloc. next
 * (NULL: the C library) serves what does not fit; it must outlive a. */
yajl_alloc_funcs *hf_yajl_arena_init(hf_yajl_arena *a,
                                     const yajl_alloc_funcs *next);

#endif /* HF_YAJL_ARENA_H */
