/*
 * hframe.h - libhframe, a strict streaming codec for hframe frames.
 *
 * Wire format (normative text: docs/protocol.md):
 *
 *   +--------+--------+------------------------+---------------------+
 *   | N (2 bytes, BE) | N bytes: JSON header   | content-length bytes|
 *   +--------+--------+------------------------+---------------------+
 *
 *   The header is one UTF-8 JSON object with the required keys
 *   "byteorder" ("little" | "big"), "content-type" (non-empty string),
 *   "content-encoding" (non-empty string) and "content-length" (a
 *   non-negative JSON integer). Other keys are extension headers whose
 *   values are JSON scalars. No key may appear twice.
 *
 * Conventions used throughout this header:
 *   - Every function that can fail returns an hf_status. HF_OK is success,
 *     HF_NEED_MORE means "valid so far, give me more bytes" and is not an
 *     error; every other value is an error with a name (hf_status_name), a
 *     generic message (hf_strerror) and, from the decoder, a detailed
 *     message and byte offsets (hf_error).
 *   - The caller allocates every context (hf_decoder, hf_header). The
 *     decoder allocates its two internal buffers (the raw bytes of the
 *     last header, gathered there when split across pushes and kept so
 *     that the same header again is not parsed again; decoded header
 *     strings) through the hf_allocator
 *     given in its hf_limits (the C library's when NULL); each holds at
 *     most the header limit plus one byte. yajl's per-header parser state
 *     takes 3 KiB of the stack, and what a header needs beyond that (to
 *     unescape a string, for one) comes through the same hf_allocator;
 *     yajl's blocks stay within 4 KiB or twice the header limit plus 64
 *     bytes, whichever is more. The encoder's check of a NUMBER extension value runs
 *     yajl with the C library's allocator (the encoder has no hf_limits).
 *   - NULL: a function that returns an hf_status returns
 *     HF_E_INVALID_ARGUMENT for a NULL pointer it needs (or a NULL byte
 *     pointer with a non-zero length); the others do nothing, or return
 *     0 or NULL, as each says. Misuse is reported, never a crash.
 *   - No global mutable state: separate decoders may be used from separate
 *     threads without locking.
 *   - Pointers returned by the decoder (header strings, content slices)
 *     point either into the caller's input or into the decoder's own
 *     buffers; each function says how long they live.
 *
 * ABI (libhframe.so.0, symbol version HFRAME_0):
 *   - Exported are exactly the functions declared below with HF_EXPORT;
 *     the library's other symbols are hidden.
 *   - The soname follows HF_VERSION_MAJOR. Within one major version,
 *     minor releases only add functions and use reserved space.
 *   - Part of the ABI, size and members: hf_error, hf_allocator, hf_str,
 *     hf_ext, hf_event and the enums (new enum values are appended only
 *     before HF_STATUS_COUNT, whose value may grow). hf_limits, hf_header
 *     and hf_frame too, and each ends with reserved members that a later
 *     0.x release may give a meaning to: leave them as hf_limits_default,
 *     hf_header_init or the decoder set them (zero), and zero them when
 *     filling one of these structures by hand (memset, or an initialiser
 *     such as "hf_header h = {0};" in C, "hf_header h = {};" in C++).
 *   - hf_decoder: its size is part of the ABI, its members are not. The
 *     caller allocates it; only the functions below touch it. A 0.x
 *     release may rearrange the members within the same size (the
 *     reserved tail gives that room).
 *   - HF_EXT_MAX (the size of hf_header's extension table) stays 64 for
 *     the whole of ABI 0; more extensions per frame means a new major
 *     version.
 */
#ifndef HFRAME_H
#define HFRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks what the shared library exports (it is built with
 * -fvisibility=hidden and a version script, codec/hframe.map). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define HF_EXPORT __attribute__((visibility("default")))
#else
#define HF_EXPORT
#endif

/* The version of this header. hf_version() gives the library's at run
 * time: the two may differ in _MINOR and _PATCH (and then the library is
 * the newer one), never in _MAJOR, which names the soname
 * (libhframe.so.0). */
#define HF_VERSION_MAJOR 0
#define HF_VERSION_MINOR 1
#define HF_VERSION_PATCH 0
#define HF_VERSION_NUMBER (HF_VERSION_MAJOR * 10000 + \
                           HF_VERSION_MINOR * 100 + HF_VERSION_PATCH)
#define HF_VERSION "0.1.0"

/* HF_VERSION_NUMBER of the library in use (not of the header a program
 * was compiled with). */
HF_EXPORT int hf_version(void);

/* Size of the big-endian length prefix that starts every frame. */
#define HF_PREFIX_LEN 2

/* Smallest legal header: "{}" is the shortest JSON object. */
#define HF_HEADER_MIN 2

/* The prefix is 16 bits, so no header can be longer. Default limit too. */
#define HF_HEADER_MAX 65535u

/* Default content limit: 16 MiB comfortably holds any request the
 * reference peers send while bounding what one frame may make us hold. */
#define HF_CONTENT_DEFAULT (UINT64_C(16) * 1024 * 1024)

/* Largest content limit that may be configured: 2^53 - 1, the largest
 * integer every JSON implementation (including doubles) represents
 * exactly, so every peer reads the same content-length. */
#define HF_CONTENT_LIMIT_MAX ((UINT64_C(1) << 53) - 1)

/* Extension headers kept per frame. Bounds the header table; 64 is far
 * above any real use and keeps hf_header under 3 KiB. */
#define HF_EXT_MAX 64

/* Room for one detailed error message, including the NUL. */
#define HF_DETAIL_MAX 160

/* ------------------------------------------------------------------ */
/* Status codes                                                        */
/* ------------------------------------------------------------------ */

typedef enum hf_status {
    HF_OK = 0,                /* success */
    HF_NEED_MORE,             /* not an error: more input bytes needed */
    HF_E_HEADER_TOO_SHORT,    /* "header-too-short": N < 2 */
    HF_E_HEADER_TOO_LONG,     /* "header-too-long": N above the header limit */
    HF_E_UTF8,                /* "invalid-utf8": malformed, overlong,
                                 surrogate or > U+10FFFF UTF-8 */
    HF_E_LONE_SURROGATE,      /* "lone-surrogate": \u escape that does not
                                 form a surrogate pair */
    HF_E_JSON_SYNTAX,         /* "json-syntax": not well-formed JSON
                                 (includes BOM, comments, NaN, empty) */
    HF_E_NOT_OBJECT,          /* "not-object": header is not a JSON object */
    HF_E_TRAILING_DATA,       /* "trailing-data": non-whitespace after the
                                 header object's closing brace */
    HF_E_DUPLICATE_KEY,       /* "duplicate-key": a key appears twice */
    HF_E_MISSING_KEY,         /* "missing-key": a required key is absent */
    HF_E_BAD_BYTEORDER,       /* "bad-byteorder": not "little" or "big" */
    HF_E_BAD_CONTENT_TYPE,    /* "bad-content-type": not a non-empty string */
    HF_E_BAD_CONTENT_ENCODING,/* "bad-content-encoding": not a non-empty
                                 string */
    HF_E_BAD_CONTENT_LENGTH,  /* "bad-content-length": not a non-negative
                                 JSON integer (fraction, exponent, sign,
                                 wrong type) */
    HF_E_CONTENT_TOO_LONG,    /* "content-too-long": above the content limit */
    HF_E_NESTED_VALUE,        /* "nested-value": extension value is an
                                 object or array */
    HF_E_TOO_MANY_EXTENSIONS, /* "too-many-extensions": more than the
                                 extension limit */
    HF_E_TRUNCATED,           /* "truncated": input ended inside a frame */
    HF_E_NOMEM,               /* "out-of-memory": an allocation failed */
    HF_E_INVALID_ARGUMENT,    /* "invalid-argument": bad call (NULL pointer,
                                 limit out of range, length mismatch) */
    HF_E_NO_SPACE,            /* "no-space": output buffer too small */
    HF_STATUS_COUNT           /* number of codes; not a status */
} hf_status;

/* Short stable kebab-case name of a status ("duplicate-key"). Never NULL;
 * unknown values give "unknown". The returned string is static. */
HF_EXPORT const char *hf_status_name(hf_status st);

/* One-sentence generic message for a status. Static, never NULL. */
HF_EXPORT const char *hf_strerror(hf_status st);

/* Details of a decoding error. */
typedef struct hf_error {
    hf_status code;          /* HF_OK when there is no error */
    uint64_t offset;         /* byte offset from the start of the stream */
    uint64_t frame_offset;   /* byte offset from the frame's first byte */
    char detail[HF_DETAIL_MAX]; /* specific message, NUL-terminated,
                                   e.g. key "content-type" appears twice */
} hf_error;

/* ------------------------------------------------------------------ */
/* Limits and allocation                                               */
/* ------------------------------------------------------------------ */

/* Allocation hooks for the decoder's buffers and its yajl parser state.
 * malloc/realloc/free semantics (realloc_fn is called with a non-NULL
 * ptr only; malloc_fn makes every new block); ctx is passed back. A
 * failing hook makes the decoder report HF_E_NOMEM. yajl does not
 * survive a failing allocator: when a hook fails inside yajl, that block
 * comes from the C library instead, and the header being parsed is
 * refused with HF_E_NOMEM. */
typedef struct hf_allocator {
    void *(*malloc_fn)(void *ctx, size_t size);
    void *(*realloc_fn)(void *ctx, void *ptr, size_t size);
    void (*free_fn)(void *ctx, void *ptr);
    void *ctx;
} hf_allocator;

typedef struct hf_limits {
    size_t max_header;      /* HF_HEADER_MIN .. HF_HEADER_MAX */
    uint64_t max_content;   /* 0 .. HF_CONTENT_LIMIT_MAX */
    size_t max_extensions;  /* 0 .. HF_EXT_MAX */
    const hf_allocator *alloc; /* NULL: the C library's allocator. Must
                                  outlive every decoder using it. */
    void *reserved[4];      /* zero (see ABI at the top) */
} hf_limits;

/* Fill *lim with the defaults: HF_HEADER_MAX, HF_CONTENT_DEFAULT,
 * HF_EXT_MAX, NULL allocator. */
HF_EXPORT void hf_limits_default(hf_limits *lim);

/* HF_OK when every field of *lim is within its documented range, else
 * HF_E_INVALID_ARGUMENT. */
HF_EXPORT hf_status hf_limits_check(const hf_limits *lim);

/* ------------------------------------------------------------------ */
/* Decoded header                                                      */
/* ------------------------------------------------------------------ */

/* A byte string; not NUL-terminated unless stated. */
typedef struct hf_str {
    const char *ptr;
    size_t len;
} hf_str;

typedef enum hf_byteorder {
    HF_BYTEORDER_LITTLE = 0,
    HF_BYTEORDER_BIG = 1
} hf_byteorder;

/* JSON type of an extension header's value. */
typedef enum hf_value_type {
    HF_VALUE_STRING = 0,    /* value: the decoded (unescaped) UTF-8 string */
    HF_VALUE_NUMBER,        /* value: the number's original JSON text */
    HF_VALUE_TRUE,          /* value: "true" */
    HF_VALUE_FALSE,         /* value: "false" */
    HF_VALUE_NULL           /* value: "null" */
} hf_value_type;

typedef struct hf_ext {
    hf_str key;             /* decoded key, UTF-8 */
    hf_str value;           /* see hf_value_type */
    hf_value_type type;
} hf_ext;

/* A frame header, decoded or to be encoded. Decoded strings are UTF-8
 * (validated), unescaped, and also NUL-terminated (the NUL is not counted
 * in len) so they can be printed directly; for encoding, strings need not
 * be NUL-terminated. A decoded string may hold NUL bytes of its own (the
 * escape \u0000 is valid JSON): compare with len and memcmp, never
 * strcmp, or "text/json\u0000x" passes for "text/json". */
typedef struct hf_header {
    hf_byteorder byteorder;
    hf_str content_type;
    hf_str content_encoding;
    uint64_t content_length;
    size_t n_ext;                /* 0 .. HF_EXT_MAX */
    hf_ext ext[HF_EXT_MAX];      /* in the order they appeared */
    size_t header_len;           /* N of the decoded frame; ignored by the
                                    encoder */
    void *reserved[4];           /* zero (see ABI at the top) */
} hf_header;

/* Zero *h and set byteorder to the host's and the four required fields:
 * content_type/content_encoding point at the given NUL-terminated
 * strings (not copied), content_length is 0. */
HF_EXPORT void hf_header_init(hf_header *h, const char *content_type,
                    const char *content_encoding);

/* Byte order of the host this library runs on. */
HF_EXPORT hf_byteorder hf_host_byteorder(void);

/* "little" or "big"; "unknown" for any other value. */
HF_EXPORT const char *hf_byteorder_name(hf_byteorder bo);

/* Append an extension header (pointers stored, not copied).
 * HF_E_TOO_MANY_EXTENSIONS when h already holds HF_EXT_MAX. */
HF_EXPORT hf_status hf_header_add_ext(hf_header *h, hf_str key, hf_str value,
                            hf_value_type type);

/* Find an extension header by exact key; NULL when absent (or h is
 * NULL). */
HF_EXPORT const hf_ext *hf_header_find_ext(const hf_header *h, const char *key,
                                 size_t key_len);

/* ------------------------------------------------------------------ */
/* Streaming decoder                                                   */
/* ------------------------------------------------------------------ */

typedef enum hf_event_type {
    HF_EV_NEED_MORE = 0, /* every byte pushed was consumed; push more */
    HF_EV_HEADER,        /* a header is complete: hf_decoder_header() */
    HF_EV_CONTENT,       /* ev.data/ev.len: the next slice of content */
    HF_EV_FRAME_END,     /* the frame is complete (after its content) */
    HF_EV_ERROR          /* the stream is invalid: hf_decoder_error() */
} hf_event_type;

typedef struct hf_event {
    hf_event_type type;
    const unsigned char *data; /* HF_EV_CONTENT only: points into the
                                  caller's input, valid as long as it is */
    size_t len;                /* HF_EV_CONTENT only */
} hf_event;

/* Private state. Allocate it yourself (stack, struct member, malloc);
 * touch it only through the functions below. Only its size is part of
 * the ABI (see the top). */
typedef struct hf_decoder {
    hf_limits lim;
    int state;                /* internal state machine */
    unsigned char prefix[2];
    size_t header_len;        /* N of the current frame */
    size_t have;              /* bytes of the current part gathered */
    uint64_t content_left;    /* content bytes still expected */
    uint64_t stream_pos;      /* bytes consumed since init/reset */
    uint64_t frame_start;     /* stream_pos of the current frame's start */
    uint64_t frames;          /* frames completed */
    unsigned char *hbuf;      /* header bytes split across pushes */
    size_t hbuf_cap;
    char *arena;              /* decoded header strings */
    size_t arena_cap;
    size_t arena_len;
    int header_valid;         /* header holds the current frame's */
    hf_header header;
    hf_error error;
    size_t same_len;          /* hbuf[0..same_len) is the last header
                                 parsed, header and arena still hold its
                                 result; 0: none */
    size_t same_arena_len;    /* arena_len after that parse */
    void *reserved[6];        /* room for 0.x releases */
} hf_decoder;

/* Prepare *d. lim may be NULL for the defaults; it is copied.
 * HF_E_INVALID_ARGUMENT when a limit is out of range (d is then left
 * initialised with the defaults, so hf_decoder_free is still safe).
 * Initialising a decoder that holds buffers (used, not freed) leaks
 * them: hf_decoder_free first, or hf_decoder_reset to start over. */
HF_EXPORT hf_status hf_decoder_init(hf_decoder *d, const hf_limits *lim);

/* Release the decoder's buffers. *d may be re-initialised afterwards. */
HF_EXPORT void hf_decoder_free(hf_decoder *d);

/* Forget any partial frame and any error and start a new stream at
 * offset 0. Buffers are kept for reuse. */
HF_EXPORT void hf_decoder_reset(hf_decoder *d);

/*
 * Push up to len bytes. Returns the number of bytes consumed (<= len) and
 * fills *ev with the event that stopped it; call again with the rest of
 * the input (data + returned count) until the event is HF_EV_NEED_MORE.
 *
 *  - HF_EV_HEADER: hf_decoder_header() now returns the frame's header. It
 *    stays valid until the first push after HF_EV_FRAME_END (or a reset).
 *  - HF_EV_CONTENT: ev->data points into *data (no copy); a frame's
 *    content may arrive in several slices. No slice for zero-length
 *    content.
 *  - HF_EV_FRAME_END: the frame is complete. Returned with 0 bytes
 *    consumed when the last content byte came in the previous event.
 *  - HF_EV_ERROR: the stream is invalid at hf_decoder_error()->offset.
 *    Every later push returns HF_EV_ERROR and consumes nothing until
 *    hf_decoder_reset.
 *
 * Cost is linear in the bytes pushed: a header split over many pushes is
 * gathered (at most the header limit) and parsed once when complete.
 * Passing len == 0 is allowed (data may then be NULL). NULL data with a
 * non-zero len is an HF_EV_ERROR (HF_E_INVALID_ARGUMENT); a NULL d gives
 * HF_EV_ERROR and a NULL ev returns 0.
 */
HF_EXPORT size_t hf_decoder_push(hf_decoder *d, const void *data, size_t len,
                       hf_event *ev);

/* Declare the end of the input. HF_OK when the decoder stands between
 * frames; HF_E_TRUNCATED (with details in hf_decoder_error) when the
 * input ended inside a frame; the pending error when there is one. */
HF_EXPORT hf_status hf_decoder_finish(hf_decoder *d);

/* The current frame's header (see HF_EV_HEADER for its lifetime); NULL
 * when no header is complete. */
HF_EXPORT const hf_header *hf_decoder_header(const hf_decoder *d);

/* The decoder's error; code is HF_OK when there is none. NULL only when
 * d is NULL. */
HF_EXPORT const hf_error *hf_decoder_error(const hf_decoder *d);

/* Bytes consumed since init/reset (the next byte's stream offset). */
HF_EXPORT uint64_t hf_decoder_offset(const hf_decoder *d);

/* Frames completed since init/reset. */
HF_EXPORT uint64_t hf_decoder_frames(const hf_decoder *d);

/* Non-zero while the decoder stands inside a frame (bytes of an
 * unfinished frame have been consumed). */
HF_EXPORT int hf_decoder_in_frame(const hf_decoder *d);

/* ------------------------------------------------------------------ */
/* One-shot decoding                                                   */
/* ------------------------------------------------------------------ */

typedef struct hf_frame {
    const hf_header *header;  /* owned by the decoder, see hf_decode */
    const unsigned char *content; /* points into buf */
    size_t content_len;
    size_t frame_len;         /* 2 + N + content_len */
    size_t need;              /* HF_NEED_MORE: total bytes from buf[0]
                                 known to be needed (>= len + 1) */
    void *reserved[2];        /* zeroed by hf_decode */
} hf_frame;

/*
 * Decode the one frame that starts at buf[0], using d for storage (d is
 * reset first; its limits apply). Returns:
 *  - HF_OK: *out describes the frame; out->header lives until d is next
 *    used, out->content points into buf. Bytes after out->frame_len are
 *    not examined.
 *  - HF_NEED_MORE: buf holds a valid beginning of a frame; out->need
 *    says how many bytes in total are needed to make progress.
 *  - an error: details in hf_decoder_error(d), offsets relative to buf.
 */
HF_EXPORT hf_status hf_decode(hf_decoder *d, const void *buf, size_t len,
                    hf_frame *out);

/* Convenience: validate one header given as raw JSON bytes (without the
 * length prefix), as the decoder would. Offsets in the error count from
 * json[0] plus 2, i.e. as if the prefix preceded it. Like hf_decode, it
 * resets d first: a stream being pushed through d is forgotten. */
HF_EXPORT hf_status hf_parse_header(hf_decoder *d, const void *json,
                                  size_t len);

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

/*
 * Canonical header JSON (the form json.dumps(obj, ensure_ascii=False)
 * gives): keys byteorder, content-type, content-encoding, content-length,
 * then the extensions in order; separators ", " and ": ".
 *
 * The encoder refuses headers a decoder would refuse: HF_E_BAD_BYTEORDER
 * (not one of the enum values), HF_E_BAD_CONTENT_TYPE /
 * HF_E_BAD_CONTENT_ENCODING (empty), HF_E_UTF8 (a string or key that is
 * not valid UTF-8), HF_E_CONTENT_TOO_LONG (above HF_CONTENT_LIMIT_MAX),
 * HF_E_TOO_MANY_EXTENSIONS (n_ext above HF_EXT_MAX), HF_E_DUPLICATE_KEY
 * (an extension key repeating a required or earlier key),
 * HF_E_INVALID_ARGUMENT (a NUMBER value that is not exactly one JSON
 * number, an unknown value type, NULL pointers, a string whose ptr is
 * NULL with a non-zero len).
 *
 * hf_header_json_len: the length of that JSON text (without the prefix),
 * or 0 when the header cannot be encoded (including a text above
 * HF_HEADER_MAX).
 */
HF_EXPORT size_t hf_header_json_len(const hf_header *h);

/*
 * Write the 2-byte prefix and the canonical header JSON to out.
 * *written receives the bytes written on HF_OK, and on HF_E_NO_SPACE the
 * bytes that would be needed. Errors: those listed above,
 * HF_E_HEADER_TOO_LONG (JSON above HF_HEADER_MAX), HF_E_NO_SPACE.
 */
HF_EXPORT hf_status hf_encode_header(const hf_header *h, unsigned char *out,
                           size_t cap, size_t *written);

/*
 * Write a whole frame: h's fields with content_length taken from
 * content_len (h->content_length is ignored), then the content.
 * Same errors and *written semantics as hf_encode_header.
 */
HF_EXPORT hf_status hf_encode(const hf_header *h, const void *content,
                    size_t content_len, unsigned char *out, size_t cap,
                    size_t *written);

/* Non-zero when the raw header bytes json[0..len) are exactly the
 * canonical encoding of h (used to tell canonical input apart). */
HF_EXPORT int hf_header_is_canonical(const hf_header *h, const void *json,
                           size_t len);

/* ------------------------------------------------------------------ */
/* Canonical JSON writer                                               */
/* ------------------------------------------------------------------ */

/*
 * Length of s[0..len) written as a canonical JSON string, quotes included
 * ('"' -> \", '\' -> \\, \n \r \t \b \f, other bytes < 0x20 as \u00xx,
 * everything else raw). 0 when s is not valid UTF-8 (a valid result is
 * never shorter than 2).
 */
HF_EXPORT size_t hf_json_string_len(const void *s, size_t len);

/*
 * Write s as a canonical JSON string to out. HF_OK with *written set;
 * HF_E_UTF8 when s is not valid UTF-8; HF_E_NO_SPACE with *written set to
 * the bytes needed (out then holds a part of the text from its start,
 * at most cap bytes, whole pieces only: do not rely on its length; where
 * hf_encode and hf_encode_header write nothing).
 */
HF_EXPORT hf_status hf_json_write_string(unsigned char *out, size_t cap,
                               const void *s, size_t len, size_t *written);

/*
 * Write a flat JSON object of string members in canonical form:
 * {"k0": "v0", "k1": "v1"} with n pairs (keys[i], values[i]).
 * Used for {"result": ...} and {"error": ..., "message": ...} contents.
 * Same return values as hf_json_write_string.
 */
HF_EXPORT hf_status hf_json_write_object(unsigned char *out, size_t cap,
                               const hf_str *keys, const hf_str *values,
                               size_t n, size_t *written);

/* Length hf_json_write_object would write; 0 on invalid UTF-8. */
HF_EXPORT size_t hf_json_object_len(const hf_str *keys, const hf_str *values,
                          size_t n);

/* ------------------------------------------------------------------ */
/* UTF-8                                                               */
/* ------------------------------------------------------------------ */

/* Strict UTF-8 check (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF). Returns len when s is valid, else the offset of the
 * first byte of the first invalid sequence (0 for a NULL s). */
HF_EXPORT size_t hf_utf8_check(const void *s, size_t len);

/*
 * Offset of the first \u escape in the JSON text json[0..len) that does
 * not form a surrogate pair (a high surrogate not followed by a low one,
 * or a low one alone), or len when there is none. yajl decodes such
 * escapes to '?' without a word, so callers that parse JSON content with
 * yajl run this first. Meant for text yajl accepts: outside strings a
 * backslash is a syntax error anyway. A NULL json gives 0.
 */
HF_EXPORT size_t hf_json_lone_surrogate(const void *json, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* HFRAME_H */
