/*
 * fuzz_util.h - helpers shared by the fuzz harnesses and the replay driver.
 *
 * Every harness is one LLVMFuzzerTestOneInput in its own file. The helpers
 * here are the oracles' building blocks: an exact-size copy of the input
 * (so any over-read trips ASan), a reader that takes control bytes from the
 * input, a counting allocator with failure injection, and independent
 * checks (UTF-8, JSON numbers, header invariants, the JSON of the
 * gateway's answers) written without looking at the codec's own
 * implementation of the same rules.
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "hframe.h"

/* The libFuzzer entry points. Harnesses define the first; the second is
 * optional (the replay driver calls it when a harness defines it). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Report a broken invariant (file, line, expression, optional detail) on
 * stderr and abort(), so every engine records the input as a crash. */
_Noreturn void fz_fail(const char *file, int line, const char *what,
                       const char *detail);

#define FZ_CHECK(cond) \
    ((cond) ? (void)0 : fz_fail(__FILE__, __LINE__, #cond, NULL))

/*
 * Non-zero when the environment variable FUZZ_KNOWN names the known,
 * reported bug id (a comma-separated list, e.g. "yajl-alloc-hooks").
 * fuzz/run.sh sets it from fuzz/known-bugs for every fuzzing run (make
 * fuzz, fuzz-smoke, campaigns) unless it is already set, so that a bug
 * already reported does not stop them; its merge clears it to find the
 * new inputs that still show such a bug. `make check` (fuzz/replay.sh)
 * does not set it, so the replayed corpus shows every check. Ids:
 * docs/fuzzing.md, "Known bugs".
 */
int fz_known(const char *id);

/* An exact-size heap copy of data[0..size). Never NULL (aborts on
 * allocation failure); free() it. A 0-byte input gives a 0-byte block. */
unsigned char *fz_dup(const uint8_t *data, size_t size);

/* Control bytes taken from the front of an input. */
typedef struct fz_reader {
    const uint8_t *p;
    size_t len;
} fz_reader;

/* Next byte, or 0 once the reader is empty. */
uint8_t fz_take_u8(fz_reader *r);

/* Next 16-bit big-endian value, 0 when short. */
uint16_t fz_take_u16(fz_reader *r);

/* Up to n bytes: *out points at them, the count is returned. */
size_t fz_take_bytes(fz_reader *r, size_t n, const uint8_t **out);

/*
 * Counting allocator for hf_limits.alloc. Tracks live and peak bytes and
 * can fail the allocation with index fail_at (0-based; SIZE_MAX: never).
 * Every block carries a small size header so live bytes are exact.
 */
typedef struct fz_alloc {
    hf_allocator hooks;   /* hand &hooks to hf_limits.alloc */
    size_t live;          /* bytes currently allocated */
    size_t peak;          /* most bytes ever live at once */
    size_t calls;         /* malloc + realloc calls seen */
    size_t fail_at;       /* index of the call to fail, SIZE_MAX: none */
    size_t failed;        /* calls that were failed */
} fz_alloc;

void fz_alloc_init(fz_alloc *a, size_t fail_at);

/* Independent strict UTF-8 check (RFC 3629): length of the longest valid
 * prefix, i.e. len when valid, else the offset of the first bad
 * sequence. */
size_t fz_utf8_prefix(const unsigned char *s, size_t len);

/* Non-zero when p[0..n) is exactly one RFC 8259 number. */
int fz_is_json_number(const char *p, size_t n);

/* The canonical JSON string (quotes included) of valid UTF-8 s[0..len),
 * by the protocol's escaping rules, written without the codec. Returns
 * its length; writes it to out when out != NULL. */
size_t fz_json_string(unsigned char *out, const unsigned char *s,
                      size_t len);

/* Non-zero when both strings hold the same bytes. */
int fz_str_eq(hf_str a, hf_str b);

/* Non-zero when two headers carry the same fields (header_len aside). */
int fz_header_eq(const hf_header *a, const hf_header *b);

/* Invariants of every header the decoder hands out under limits lim:
 * strings valid UTF-8 and NUL-terminated, required strings non-empty,
 * byteorder and value types in range, numbers valid JSON, literals
 * spelled right, no key twice, limits respected. Aborts on a violation. */
void fz_check_header(const hf_header *h, const hf_limits *lim);

/* Invariants of a decoder error for an input of len bytes starting at
 * stream offset base: a real error code equal to st, the offset inside
 * the input or just past its end (an error found at the end of a header,
 * such as JSON that stops early, points past the header's last byte), a
 * NUL-terminated non-empty detail. */
void fz_check_error(const hf_error *e, hf_status st, uint64_t base,
                    size_t len);

/*
 * fz_check_error, then where the error points, worked out from the
 * frame's own bytes without the codec (docs/protocol.md 3.1 and 4.2):
 * the frame starts at stream offset frame_start, frame[0..avail) is what
 * arrived of it (and may run on into later frames), lim are the limits it
 * was decoded under. Aborts unless:
 *  - offset = frame_start + frame_offset;
 *  - header-too-short / -too-long: frame offset 0, and N (the prefix)
 *    below 2 / above the header limit;
 *  - truncated: the first byte that did not arrive (frame offset avail);
 *  - every other code but out-of-memory and invalid-argument: the whole
 *    header arrived, N within the limits, and the header's bytes agree
 *    (fz_check_header_error's rules).
 */
void fz_check_frame_error(const hf_error *e, hf_status st,
                          uint64_t frame_start, const unsigned char *frame,
                          size_t avail, const hf_limits *lim);

/*
 * The same for hf_parse_header(json, n) under lim, whose offsets count as
 * if the 2-byte prefix came first: header-too-short / -too-long at offset
 * 0 exactly when n is out of range; otherwise, from the header's bytes:
 *  - a byte order mark: json-syntax at the header's first byte;
 *  - invalid UTF-8: invalid-utf8 at the first byte of the first invalid
 *    sequence an independent RFC 3629 check finds, the detail naming
 *    that byte; valid UTF-8: never invalid-utf8;
 *  - nothing but whitespace before the end or a \v or \f: json-syntax
 *    there; errors of the JSON text never lie beyond the first \v or \f
 *    (nor at it, but json-syntax);
 *  - not-object: the value's first byte, not a '{';
 *  - trailing-data: the first non-whitespace byte after the object's
 *    closing brace, named by the detail;
 *  - missing-key: the object's closing brace;
 *  - duplicate-key, too-many-extensions: the opening quote of a key;
 *  - the value rules: the first byte of a value (after a ':');
 *    content-too-long: a number's first digit, nested-value: '{' or '[';
 *  - lone-surrogate: the backslash of the first \u escape in the header
 *    that is a surrogate not in a pair.
 */
void fz_check_header_error(const hf_error *e, hf_status st,
                           const unsigned char *json, size_t n,
                           const hf_limits *lim);

/*
 * The keys of one gateway answer's JSON, as fz_check_answer_json found
 * them. The gateway answers {"result": TEXT} or {"error": CODE,
 * "message": TEXT}; which of those shapes a harness accepts is its own
 * oracle, checked on these fields.
 */
typedef struct fz_answer_json {
    size_t keys;          /* keys in the object, repeated ones counted */
    int has_result;       /* a "result" key */
    int has_error;        /* an "error" key */
    int has_message;      /* a "message" key */
    int other_key;        /* a key that is none of those three */
    int code_ok;          /* the last "error" value is the code asked for */
    size_t message_len;   /* bytes of the last "message" value */
} fz_answer_json;

/*
 * Parse p[0..n) with yajl (default options) and abort unless it is
 * exactly one JSON object, not nested, whose values are all strings.
 * Fills *out; code_ok compares the "error" value byte for byte with the
 * NUL-terminated code, and stays 0 when code is NULL. Nothing is kept:
 * p is only read during the call.
 */
void fz_check_answer_json(const unsigned char *p, size_t n,
                          const char *code, fz_answer_json *out);

/* Limits chosen by one control byte: the defaults, or small limits that
 * keep the fuzzer near the boundaries (small headers, few extensions,
 * little content). */
void fz_limits_from_byte(hf_limits *lim, uint8_t b);

/* A session harness's first input byte: its limits into *lim
 * (fz_limits_from_byte), every block through a, which never fails.
 * Returns the byte (0xff: the session is to be refused its limits). */
uint8_t fz_take_limits(fz_reader *r, hf_limits *lim, fz_alloc *a);

#endif /* FUZZ_UTIL_H */
