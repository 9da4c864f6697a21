/*
 * internal.h - declarations shared by the codec's source files only.
 * Not installed; nothing here is part of the public API.
 */
#ifndef HF_INTERNAL_H
#define HF_INTERNAL_H

#include <stdarg.h>
#include <yajl/yajl_common.h>

#include "hframe.h"

/*
 * An output sink for the writers. Three modes, chosen by the fields:
 *  - buf == NULL, cmp == NULL: only count bytes (measuring);
 *  - buf != NULL: copy while there is room, count everything;
 *  - cmp != NULL: compare with cmp[0..cap) instead of writing.
 * len counts every byte put, saturating at SIZE_MAX.
 */
typedef struct hf_sink {
    unsigned char *buf;
    const unsigned char *cmp;
    size_t cap;
    size_t len;
    int mismatch;
} hf_sink;

void hf_sink_put(hf_sink *s, const void *p, size_t n);
void hf_sink_str(hf_sink *s, const char *z);

/* Canonical JSON string (with quotes) of valid UTF-8 s into the sink. The
 * caller has checked s with hf_utf8_check. */
void hf_sink_json_string(hf_sink *s, const unsigned char *p, size_t n);

/* Validate and store the header JSON json[0..len) in d->header.
 * prefix_len is added to every reported offset (2 for a frame). On error
 * the decoder's error is set (offsets from d->frame_start). */
hf_status hf_header_parse(hf_decoder *d, const unsigned char *json,
                          size_t len, size_t prefix_len);

/* Record an error in d at frame offset frame_off. */
void hf_set_error(hf_decoder *d, hf_status code, uint64_t frame_off,
                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Allocation through the decoder's hooks (or the C library). */
void *hf_realloc(const hf_limits *lim, void *p, size_t n);
void hf_free(const hf_limits *lim, void *p);

/* yajl's allocator over lim's hooks, for one parser's lifetime. */
typedef struct hf_yajl_alloc {
    yajl_alloc_funcs funcs;
    const hf_allocator *alloc;
    int failed;             /* a hook failed; the C library stood in */
} hf_yajl_alloc;

/* Fill *ya and return the functions to give yajl_alloc, or NULL (yajl's
 * default, the C library) when lim has no hooks. */
yajl_alloc_funcs *hf_yajl_alloc_init(hf_yajl_alloc *ya,
                                     const hf_limits *lim);

/* Copy s into dst (cap bytes) for use inside a message: non-printable
 * ASCII becomes \xNN, long strings are cut at a UTF-8 boundary with
 * "...". Always NUL-terminates when cap > 0. */
void hf_quote_for_message(char *dst, size_t cap, const char *s, size_t n);

/* Non-zero when p[0..n) is exactly one JSON number (checked by yajl). */
int hf_is_json_number(const char *p, size_t n);

#endif /* HF_INTERNAL_H */
