/*
 * status.c - status names and messages, limits, allocation hooks.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int hf_version(void)
{
    return HF_VERSION_NUMBER;
}

static const struct {
    const char *name;
    const char *message;
} status_table[HF_STATUS_COUNT] = {
    [HF_OK] = {"ok", "success"},
    [HF_NEED_MORE] = {"need-more", "more input is needed"},
    [HF_E_HEADER_TOO_SHORT] = {"header-too-short",
        "header length is below 2 bytes"},
    [HF_E_HEADER_TOO_LONG] = {"header-too-long",
        "header length exceeds the header limit"},
    [HF_E_UTF8] = {"invalid-utf8", "header is not valid UTF-8"},
    [HF_E_LONE_SURROGATE] = {"lone-surrogate",
        "\\u escape forms a lone surrogate"},
    [HF_E_JSON_SYNTAX] = {"json-syntax", "header is not well-formed JSON"},
    [HF_E_NOT_OBJECT] = {"not-object", "header is not a JSON object"},
    [HF_E_TRAILING_DATA] = {"trailing-data",
        "bytes follow the header object"},
    [HF_E_DUPLICATE_KEY] = {"duplicate-key",
        "a key appears twice in the header"},
    [HF_E_MISSING_KEY] = {"missing-key", "a required key is missing"},
    [HF_E_BAD_BYTEORDER] = {"bad-byteorder",
        "byteorder is not \"little\" or \"big\""},
    [HF_E_BAD_CONTENT_TYPE] = {"bad-content-type",
        "content-type is not a non-empty string"},
    [HF_E_BAD_CONTENT_ENCODING] = {"bad-content-encoding",
        "content-encoding is not a non-empty string"},
    [HF_E_BAD_CONTENT_LENGTH] = {"bad-content-length",
        "content-length is not a non-negative integer"},
    [HF_E_CONTENT_TOO_LONG] = {"content-too-long",
        "content-length exceeds the content limit"},
    [HF_E_NESTED_VALUE] = {"nested-value",
        "extension header value is an object or array"},
    [HF_E_TOO_MANY_EXTENSIONS] = {"too-many-extensions",
        "too many extension headers"},
    [HF_E_TRUNCATED] = {"truncated", "input ended inside a frame"},
    [HF_E_NOMEM] = {"out-of-memory", "memory allocation failed"},
    [HF_E_INVALID_ARGUMENT] = {"invalid-argument", "invalid argument"},
    [HF_E_NO_SPACE] = {"no-space", "output buffer too small"},
};

const char *hf_status_name(hf_status st)
{
    if ((unsigned)st >= HF_STATUS_COUNT)
        return "unknown";
    return status_table[st].name;
}

const char *hf_strerror(hf_status st)
{
    if ((unsigned)st >= HF_STATUS_COUNT)
        return "unknown status";
    return status_table[st].message;
}

void hf_limits_default(hf_limits *lim)
{
    if (lim == NULL)
        return;
    lim->max_header = HF_HEADER_MAX;
    lim->max_content = HF_CONTENT_DEFAULT;
    lim->max_extensions = HF_EXT_MAX;
    lim->alloc = NULL;
    memset(lim->reserved, 0, sizeof lim->reserved);
}

hf_status hf_limits_check(const hf_limits *lim)
{
    size_t i;

    if (lim == NULL)
        return HF_E_INVALID_ARGUMENT;
    if (lim->max_header < HF_HEADER_MIN || lim->max_header > HF_HEADER_MAX)
        return HF_E_INVALID_ARGUMENT;
    if (lim->max_content > HF_CONTENT_LIMIT_MAX)
        return HF_E_INVALID_ARGUMENT;
    if (lim->max_extensions > HF_EXT_MAX)
        return HF_E_INVALID_ARGUMENT;
    if (lim->alloc != NULL && (lim->alloc->malloc_fn == NULL ||
                               lim->alloc->realloc_fn == NULL ||
                               lim->alloc->free_fn == NULL))
        return HF_E_INVALID_ARGUMENT;
    for (i = 0; i < sizeof lim->reserved / sizeof lim->reserved[0]; i++)
        if (lim->reserved[i] != NULL)
            return HF_E_INVALID_ARGUMENT;
    return HF_OK;
}

void *hf_realloc(const hf_limits *lim, void *p, size_t n)
{
    if (lim->alloc == NULL)
        return realloc(p, n);
    if (p == NULL)
        return lim->alloc->malloc_fn(lim->alloc->ctx, n);
    return lim->alloc->realloc_fn(lim->alloc->ctx, p, n);
}

void hf_free(const hf_limits *lim, void *p)
{
    if (p == NULL)
        return;
    if (lim->alloc != NULL) {
        lim->alloc->free_fn(lim->alloc->ctx, p);
        return;
    }
    free(p);
}

/*
 * yajl's allocations. yajl dereferences what its allocator returns
 * without a check, so a block a hook refuses comes from the C library
 * instead and ya->failed tells the parser to refuse the header. Each
 * block starts with a tag saying which allocator made it and its size
 * (for the copy when a hook's realloc fails).
 */
typedef union yajl_tag {
    max_align_t align;
    struct {
        size_t size;
        int from_libc;
    } t;
} yajl_tag;

static void *tag_block(yajl_tag *b, size_t size, int from_libc)
{
    if (b == NULL)
        return NULL;
    b->t.size = size;
    b->t.from_libc = from_libc;
    return b + 1;
}

static void *ya_malloc(void *ctx, size_t size)
{
    hf_yajl_alloc *ya = ctx;
    yajl_tag *b;

    if (size > SIZE_MAX - sizeof *b)
        return NULL;
    b = ya->alloc->malloc_fn(ya->alloc->ctx, sizeof *b + size);
    if (b != NULL)
        return tag_block(b, size, 0);
    ya->failed = 1;
    return tag_block(malloc(sizeof *b + size), size, 1);
}

static void *ya_realloc(void *ctx, void *p, size_t size)
{
    hf_yajl_alloc *ya = ctx;
    yajl_tag *b, *nb;

    if (p == NULL)
        return ya_malloc(ctx, size);
    if (size > SIZE_MAX - sizeof *b)
        return NULL;
    b = (yajl_tag *)p - 1;
    if (b->t.from_libc)
        return tag_block(realloc(b, sizeof *b + size), size, 1);
    nb = ya->alloc->realloc_fn(ya->alloc->ctx, b, sizeof *b + size);
    if (nb != NULL)
        return tag_block(nb, size, 0);
    ya->failed = 1;
    nb = malloc(sizeof *b + size);
    if (nb == NULL)
        return NULL;
    memcpy(nb + 1, b + 1, b->t.size < size ? b->t.size : size);
    ya->alloc->free_fn(ya->alloc->ctx, b);
    return tag_block(nb, size, 1);
}

static void ya_free(void *ctx, void *p)
{
    hf_yajl_alloc *ya = ctx;
    yajl_tag *b;

    if (p == NULL)
        return;
    b = (yajl_tag *)p - 1;
    if (b->t.from_libc)
        free(b);
    else
        ya->alloc->free_fn(ya->alloc->ctx, b);
}

yajl_alloc_funcs *hf_yajl_alloc_init(hf_yajl_alloc *ya,
                                     const hf_limits *lim)
{
    memset(ya, 0, sizeof *ya);
    if (lim->alloc == NULL)
        return NULL;
    ya->alloc = lim->alloc;
    ya->funcs.malloc = ya_malloc;
    ya->funcs.realloc = ya_realloc;
    ya->funcs.free = ya_free;
    ya->funcs.ctx = ya;
    return &ya->funcs;
}
