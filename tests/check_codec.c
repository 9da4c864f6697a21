/*
 * check_codec.c - the Check suite for libhframe (codec/).
 *
 * Sections, one per concern, in this order:
 *   helpers          exact-size input blocks, a growable byte log, frames
 *   traces           drive the streaming decoder and log what it reports
 *   status           names and messages of every hf_status
 *   golden           the four frames of the reference transcript
 *   valid frames     every valid vector, whole and in every split
 *   error vectors    every header error with its offsets, in every split
 *   length prefix    header-too-short and header-too-long
 *   streaming        events, several frames, header lifetime, reset,
 *                    sticky errors, hf_decode's need
 *   truncation       hf_decoder_finish inside a frame
 *   out of memory    a failing hf_allocator; every block through the
 *                    hooks, yajl's included; buffer reuse and bounds
 *   abi              version macros and hf_version(), ABI 0's structure
 *                    sizes, reserved members
 *   invalid args     bad limits, NULL pointers
 *   limits           at, one below and one above every bound
 *   UTF-8            hf_utf8_check, and the same inputs in headers
 *   JSON writer      strings and objects as json.dumps writes them
 *   encoder          refusals, number texts, buffer sizes, canonical form
 *   round trip       encode -> decode -> encode on generated frames
 *
 * The golden frames, the header errors and the length prefix errors are
 * read from tests/vectors/ (golden.jsonl, header-errors.jsonl,
 * prefix-errors.jsonl) before the suite is built: the unit tests, the
 * fuzz seeds and the end-to-end clients share one catalogue.
 *
 * Every decoder input sits at the very end of an exact-size heap block so
 * that an over-read by one byte is caught by AddressSanitizer.
 *
 * The helpers that run once per pushed byte test with plain `if` and
 * ck_abort_msg: every passing ck_assert sends a message to Check's parent
 * process, which would dominate the run time of the byte-by-byte tests.
 */
#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hframe.h"
#include "vectors.h"
#include "yajl_arena.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* A copy of p[0..n) filling a heap block of exactly n bytes. NULL for an
 * empty input (the decoder accepts NULL with length 0). */
static unsigned char *tail_copy(const void *p, size_t n)
{
    unsigned char *b;

    if (n == 0)
        return NULL;
    b = malloc(n);
    if (b == NULL)
        ck_abort_msg("out of memory");
    memcpy(b, p, n);
    return b;
}

/* A growable byte string for logs and generated inputs. */
typedef struct bytes {
    unsigned char *p;
    size_t len;
    size_t cap;
} bytes;

static void bytes_put(bytes *b, const void *p, size_t n)
{
    size_t cap;

    if (n == 0)
        return;
    if (b->cap - b->len < n) {
        cap = b->cap == 0 ? 256 : b->cap;
        while (cap - b->len < n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (b->p == NULL)
            ck_abort_msg("out of memory");
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void bytes_str(bytes *b, const char *z)
{
    bytes_put(b, z, strlen(z));
}

static void bytes_printf(bytes *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof tmp)
        ck_abort_msg("log record too long");
    bytes_put(b, tmp, (size_t)n);
}

static void bytes_free(bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void assert_bytes_eq(const bytes *a, const bytes *b)
{
    ck_assert_uint_eq(a->len, b->len);
    if (a->len > 0)
        ck_assert_mem_eq(a->p, b->p, a->len);
}

/* Append the 2-byte prefix, the header JSON and the content to b. */
static void put_frame(bytes *b, const void *json, size_t json_len,
                      const void *content, size_t content_len)
{
    unsigned char prefix[2];

    ck_assert_uint_le(json_len, 0xffff);
    prefix[0] = (unsigned char)(json_len >> 8);
    prefix[1] = (unsigned char)(json_len & 0xff);
    bytes_put(b, prefix, 2);
    bytes_put(b, json, json_len);
    bytes_put(b, content, content_len);
}

/* Offset in json of the first occurrence of mark; the length when mark
 * is NULL (an error found at the end of the header). */
static size_t mark_offset(const char *json, size_t len, const char *mark)
{
    size_t n, i;

    if (mark == NULL)
        return len;
    n = mark[0] == '\0' ? 1 : strlen(mark); /* "" stands for a NUL byte */
    for (i = 0; n <= len && i <= len - n; i++)
        if (memcmp(json + i, mark, n) == 0)
            return i;
    ck_abort_msg("mark '%s' not in the vector", mark);
    return 0;
}

/*
 * A valid header JSON with n_ext extensions "x0", "x1", ... and the given
 * content-length, padded with trailing spaces to pad_to bytes when that
 * is longer.
 */
static void limit_header(bytes *b, uint64_t content_length, size_t n_ext,
                         size_t pad_to)
{
    size_t i;

    b->len = 0;
    bytes_printf(b, "{\"byteorder\": \"little\", \"content-type\": \"t\", "
                 "\"content-encoding\": \"e\", \"content-length\": %llu",
                 (unsigned long long)content_length);
    for (i = 0; i < n_ext; i++)
        bytes_printf(b, ", \"x%zu\": %zu", i, i);
    bytes_str(b, "}");
    while (b->len < pad_to)
        bytes_str(b, " ");
}

static void init_decoder(hf_decoder *d, const hf_limits *lim)
{
    ck_assert_int_eq(hf_decoder_init(d, lim), HF_OK);
}

/* Every decoded string is NUL-terminated just past its length. */
static void assert_terminated(hf_str s)
{
    if (s.ptr == NULL || s.ptr[s.len] != '\0')
        ck_abort_msg("decoded string not NUL-terminated");
}

static void assert_header_strings(const hf_header *h)
{
    size_t i;

    assert_terminated(h->content_type);
    assert_terminated(h->content_encoding);
    for (i = 0; i < h->n_ext; i++) {
        assert_terminated(h->ext[i].key);
        assert_terminated(h->ext[i].value);
    }
}

/* ------------------------------------------------------------------ */
/* Traces: what the streaming decoder reports, as comparable bytes      */
/* ------------------------------------------------------------------ */

/*
 * A trace logs one letter per event, with the header's canonical
 * re-encoding after H, the content byte count of the frame after F and
 * the error's code, offsets and detail after E. Consecutive content
 * slices count as one run ('C'), so traces of the same stream cut in
 * different places compare equal; the content bytes go to their own log.
 */
typedef struct trace {
    bytes log;
    bytes content;
    size_t frame_content;
    int in_content;
    int errored;
    hf_error err;           /* the error, when errored */
    hf_status finish;
} trace;

static void trace_free(trace *t)
{
    bytes_free(&t->log);
    bytes_free(&t->content);
}

static void trace_header(trace *t, const hf_decoder *d)
{
    const hf_header *h = hf_decoder_header(d);
    unsigned char *out;
    size_t written = 0;
    hf_status st;

    if (h == NULL)
        ck_abort_msg("HEADER event without a header");
    assert_header_strings(h);
    st = hf_encode_header(h, NULL, 0, &written);
    if (st == HF_E_NO_SPACE) {
        out = malloc(written);
        if (out == NULL)
            ck_abort_msg("out of memory");
        if (hf_encode_header(h, out, written, &written) != HF_OK)
            ck_abort_msg("decoded header does not re-encode");
        bytes_printf(&t->log, "H%zu/", h->header_len);
        bytes_put(&t->log, out, written);
        free(out);
        return;
    }
    /* Not encodable (a decoded header whose canonical form is longer
     * than 65535 bytes): log the status alone. */
    bytes_printf(&t->log, "H%zu/%d", h->header_len, (int)st);
}

static void trace_error(trace *t, const hf_decoder *d)
{
    const hf_error *e = hf_decoder_error(d);

    if (e->code == HF_OK)
        ck_abort_msg("ERROR event without an error");
    bytes_printf(&t->log, "E%d@%llu/%llu:%s", (int)e->code,
                 (unsigned long long)e->offset,
                 (unsigned long long)e->frame_offset, e->detail);
    t->err = *e;
    t->errored = 1;
}

/* Handle one event of a push that consumed used bytes from at. */
static void trace_event(trace *t, hf_decoder *d, const hf_event *ev,
                        const unsigned char *at, size_t used)
{
    if (ev->type != HF_EV_CONTENT)
        t->in_content = 0;
    switch (ev->type) {
    case HF_EV_HEADER:
        trace_header(t, d);
        break;
    case HF_EV_CONTENT:
        /* A non-empty slice: the last part consumed, inside the input. */
        if (ev->len == 0 || ev->len > used || ev->data != at + used - ev->len)
            ck_abort_msg("content slice %zu of %zu bytes out of place",
                         ev->len, used);
        if (hf_decoder_header(d) == NULL)
            ck_abort_msg("no header during content");
        if (!t->in_content)
            bytes_str(&t->log, "C");
        t->in_content = 1;
        bytes_put(&t->content, ev->data, ev->len);
        t->frame_content += ev->len;
        break;
    case HF_EV_FRAME_END:
        /* The header outlives the frame until the next push. */
        if (hf_decoder_header(d) == NULL)
            ck_abort_msg("header gone at FRAME_END");
        bytes_printf(&t->log, "F%zu;", t->frame_content);
        t->frame_content = 0;
        break;
    case HF_EV_ERROR:
        trace_error(t, d);
        break;
    default:
        ck_abort_msg("unexpected event %d", (int)ev->type);
    }
}

/* Push p[0..n), copied to its own exact-size block, until consumed. */
static void feed(hf_decoder *d, trace *t, const unsigned char *p, size_t n)
{
    unsigned char *chunk = tail_copy(p, n);
    size_t off = 0, used, rounds = 0;
    const unsigned char *at;
    hf_event ev;

    while (!t->errored) {
        if (rounds++ > 2 * n + 16)
            ck_abort_msg("the decoder makes no progress");
        at = chunk == NULL ? NULL : chunk + off;
        used = hf_decoder_push(d, at, n - off, &ev);
        if (used > n - off)
            ck_abort_msg("push consumed %zu of %zu bytes", used, n - off);
        off += used;
        if (ev.type == HF_EV_NEED_MORE) {
            if (off != n)
                ck_abort_msg("NEED_MORE with %zu bytes left", n - off);
            break;
        }
        trace_event(t, d, &ev, at, used);
    }
    if (t->errored) {
        /* Errors are sticky: nothing more is consumed. */
        at = chunk == NULL ? NULL : chunk + off;
        if (hf_decoder_push(d, at, n - off, &ev) != 0 ||
            ev.type != HF_EV_ERROR)
            ck_abort_msg("an error did not stick");
    }
    free(chunk);
}

/*
 * Decode p[0..n) with a fresh decoder: p[0..cut) in one push, then the
 * rest in pushes of step bytes (0: all at once), then hf_decoder_finish.
 */
static void trace_run(trace *t, const hf_limits *lim, const void *p,
                      size_t n, size_t cut, size_t step)
{
    const unsigned char *b = p;
    hf_decoder d;
    size_t off;

    memset(t, 0, sizeof *t);
    init_decoder(&d, lim);
    if (cut > 0 || step == 0)
        feed(&d, t, b, cut);
    for (off = cut; off < n; off += step) {
        if (step == 0 || n - off < step) {
            feed(&d, t, b + off, n - off);
            break;
        }
        feed(&d, t, b + off, step);
    }
    t->finish = hf_decoder_finish(&d);
    if (t->errored)
        ck_assert_int_eq(t->finish, hf_decoder_error(&d)->code);
    else
        ck_assert_uint_eq(hf_decoder_offset(&d), n);
    if (t->finish != HF_OK && !t->errored)
        trace_error(t, &d);
    bytes_printf(&t->log, "Z%d/%llu", (int)t->finish,
                 (unsigned long long)hf_decoder_frames(&d));
    hf_decoder_free(&d);
}

static void assert_traces_eq(const trace *a, const trace *b)
{
    assert_bytes_eq(&a->log, &b->log);
    assert_bytes_eq(&a->content, &b->content);
    ck_assert_int_eq(a->finish, b->finish);
}

/*
 * Inputs up to SPLIT_ALL bytes are cut at every byte. A longer one (the
 * deeply nested and the oversized vectors, 20 and 32 KiB) is cut at every
 * byte of its first and last SPLIT_ALL / 2 bytes and at every
 * SPLIT_STRIDE-th byte between: each run copies the input into blocks of
 * its own, so cutting everywhere costs time quadratic in its length (a
 * minute under AddressSanitizer), and those inputs are decided near
 * their start.
 */
#define SPLIT_ALL 4096u
#define SPLIT_STRIDE 61u

static size_t next_cut(size_t cut, size_t n)
{
    if (n <= SPLIT_ALL || cut < SPLIT_ALL / 2 || n - cut <= SPLIT_ALL / 2)
        return cut + 1;
    if (n - cut - SPLIT_ALL / 2 < SPLIT_STRIDE)
        return n - SPLIT_ALL / 2;
    return cut + SPLIT_STRIDE;
}

/* The same trace whole, in every split into two pushes, byte by byte. */
static void assert_split_invariant(const hf_limits *lim, const void *p,
                                   size_t n, trace *whole)
{
    trace t;
    size_t cut;

    trace_run(whole, lim, p, n, n, 0);
    for (cut = 0; cut <= n; cut = next_cut(cut, n)) {
        trace_run(&t, lim, p, n, cut, 0);
        assert_traces_eq(whole, &t);
        trace_free(&t);
    }
    trace_run(&t, lim, p, n, 0, 1);
    assert_traces_eq(whole, &t);
    trace_free(&t);
}

/* ------------------------------------------------------------------ */
/* Status names and messages                                           */
/* ------------------------------------------------------------------ */

static const char *const status_names[HF_STATUS_COUNT] = {
    "ok", "need-more", "header-too-short", "header-too-long",
    "invalid-utf8", "lone-surrogate", "json-syntax", "not-object",
    "trailing-data", "duplicate-key", "missing-key", "bad-byteorder",
    "bad-content-type", "bad-content-encoding", "bad-content-length",
    "content-too-long", "nested-value", "too-many-extensions",
    "truncated", "out-of-memory", "invalid-argument", "no-space"
};

START_TEST(test_status_name)
{
    hf_status st = (hf_status)_i;
    const char *msg = hf_strerror(st);
    int j;

    ck_assert_str_eq(hf_status_name(st), status_names[_i]);
    ck_assert_ptr_nonnull(msg);
    ck_assert_uint_gt(strlen(msg), 0);
    /* Every code has its own message. */
    for (j = 0; j < _i; j++)
        ck_assert_str_ne(msg, hf_strerror((hf_status)j));
}
END_TEST

START_TEST(test_status_unknown)
{
    ck_assert_str_eq(hf_status_name(HF_STATUS_COUNT), "unknown");
    ck_assert_str_eq(hf_status_name((hf_status)1000), "unknown");
    ck_assert_str_eq(hf_status_name((hf_status)-1), "unknown");
    ck_assert_ptr_nonnull(hf_strerror(HF_STATUS_COUNT));
    ck_assert_ptr_nonnull(hf_strerror((hf_status)-1));
    ck_assert_str_eq(hf_strerror((hf_status)1000),
                     hf_strerror(HF_STATUS_COUNT));
}
END_TEST

/* ------------------------------------------------------------------ */
/* Golden frames (the reference transcript, tests/vectors/golden.jsonl) */
/* ------------------------------------------------------------------ */

/* tests/vectors/golden.jsonl, in its order: the search request and its
 * answer, the binary request and its answer. */
typedef struct golden {
    const char *frame;
    size_t frame_len;
    hf_byteorder byteorder;
    const char *content_type;
    const char *content_encoding;
    size_t header_len;
    const char *content;
    size_t content_len;
} golden;

static golden *goldens;
static size_t n_golden;

static void assert_str_is(hf_str s, const char *z)
{
    ck_assert_uint_eq(s.len, strlen(z));
    ck_assert_mem_eq(s.ptr, z, s.len);
}

START_TEST(test_golden_decode)
{
    const golden *g = &goldens[_i];
    unsigned char *buf = tail_copy(g->frame, g->frame_len);
    const hf_header *h;
    hf_decoder d;
    hf_frame f;

    ck_assert_uint_eq(g->frame_len, 2 + g->header_len + g->content_len);
    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_decode(&d, buf, g->frame_len, &f), HF_OK);
    h = f.header;
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(h->byteorder, g->byteorder);
    assert_str_is(h->content_type, g->content_type);
    assert_str_is(h->content_encoding, g->content_encoding);
    ck_assert_uint_eq(h->content_length, g->content_len);
    ck_assert_uint_eq(h->n_ext, 0);
    ck_assert_uint_eq(h->header_len, g->header_len);
    assert_header_strings(h);
    ck_assert_uint_eq(f.frame_len, g->frame_len);
    ck_assert_uint_eq(f.content_len, g->content_len);
    ck_assert_ptr_eq(f.content, buf + 2 + g->header_len);
    ck_assert_mem_eq(f.content, g->content, g->content_len);
    ck_assert(hf_header_is_canonical(h, buf + 2, g->header_len));
    ck_assert_int_eq(hf_decoder_error(&d)->code, HF_OK);
    hf_decoder_free(&d);
    free(buf);
}
END_TEST

/* Re-encoding the decoded header with the content gives the same bytes. */
START_TEST(test_golden_reencode)
{
    const golden *g = &goldens[_i];
    unsigned char *buf = tail_copy(g->frame, g->frame_len);
    unsigned char out[512];
    size_t written = 0;
    hf_decoder d;
    hf_frame f;

    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_decode(&d, buf, g->frame_len, &f), HF_OK);
    ck_assert_int_eq(hf_encode(f.header, f.content, f.content_len, out,
                               sizeof out, &written), HF_OK);
    ck_assert_uint_eq(written, g->frame_len);
    ck_assert_mem_eq(out, g->frame, g->frame_len);
    ck_assert_uint_eq(hf_header_json_len(f.header), g->header_len);
    hf_decoder_free(&d);
    free(buf);
}
END_TEST

/* Built from scratch with hf_header_init, the encoder writes the same. */
START_TEST(test_golden_encode_fresh)
{
    const golden *g = &goldens[_i];
    unsigned char out[512];
    size_t written = 0;
    hf_header h;

    hf_header_init(&h, g->content_type, g->content_encoding);
    ck_assert_int_eq(h.byteorder, hf_host_byteorder());
    ck_assert_uint_eq(h.content_length, 0);
    ck_assert_uint_eq(h.n_ext, 0);
    h.byteorder = g->byteorder;
    h.content_length = 12345; /* ignored by hf_encode */
    ck_assert_int_eq(hf_encode(&h, g->content, g->content_len, out,
                               sizeof out, &written), HF_OK);
    ck_assert_uint_eq(written, g->frame_len);
    ck_assert_mem_eq(out, g->frame, g->frame_len);
}
END_TEST

START_TEST(test_golden_split)
{
    const golden *g = &goldens[_i];
    trace whole;

    assert_split_invariant(NULL, g->frame, g->frame_len, &whole);
    ck_assert_uint_eq(whole.content.len, g->content_len);
    ck_assert_mem_eq(whole.content.p, g->content, g->content_len);
    ck_assert_int_eq(whole.finish, HF_OK);
    trace_free(&whole);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Valid frames                                                        */
/* ------------------------------------------------------------------ */

/* The four required keys with short values, for building vectors. */
#define REQ0 "\"byteorder\": \"big\", \"content-type\": \"t\", " \
             "\"content-encoding\": \"e\", \"content-length\": 0"

typedef struct good_frame {
    const char *name;
    const char *json;       /* header JSON */
    const char *content;    /* content, as many bytes as strlen says */
    const char *canon;      /* canonical re-encoding; NULL: json itself */
} good_frame;

static const good_frame good_frames[] = {
    {"minimal", "{" REQ0 "}", "", NULL},
    {"little", "{\"byteorder\": \"little\", \"content-type\": \"a/b\", "
     "\"content-encoding\": \"utf-8\", \"content-length\": 3}", "xyz",
     NULL},
    {"key order free", "{\"content-length\": 1, \"content-encoding\": "
     "\"e\", \"content-type\": \"t\", \"byteorder\": \"big\"}", "!",
     "{\"byteorder\": \"big\", \"content-type\": \"t\", "
     "\"content-encoding\": \"e\", \"content-length\": 1}"},
    {"compact", "{\"byteorder\":\"big\",\"content-type\":\"t\","
     "\"content-encoding\":\"e\",\"content-length\":0}", "",
     "{" REQ0 "}"},
    {"whitespace everywhere", " \t\r\n{ \"byteorder\" : \"big\" ,\n"
     "\"content-type\"\t:\"t\",\"content-encoding\":\"e\",\r"
     "\"content-length\":2 } \n\t\r ", "ab",
     "{\"byteorder\": \"big\", \"content-type\": \"t\", "
     "\"content-encoding\": \"e\", \"content-length\": 2}"},
    {"every extension type", "{" REQ0 ", \"s\": \"v\", \"n\": -1.5e3, "
     "\"i\": 42, \"t\": true, \"f\": false, \"z\": null, \"e\": \"\"}",
     "", NULL},
    {"number texts kept", "{" REQ0 ", \"a\": 1.0, \"b\": -0, "
     "\"c\": 1E+2, \"d\": 0.5e-7, \"e\": 12345678901234567890123}", "",
     NULL},
    {"escapes decoded", "{\"byteorder\": \"big\", \"content-type\": "
     "\"a\\/b\\u0041\\\"\", \"content-encoding\": \"\\t\\n\\u001f\\u00e9\","
     " \"content-length\": 0, \"k\\\\ey\": \"\\ud83d\\udc30\\b\\f\\r\"}",
     "", "{\"byteorder\": \"big\", \"content-type\": \"a/bA\\\"\", "
     "\"content-encoding\": \"\\t\\n\\u001f\xc3\xa9\", \"content-length\":"
     " 0, \"k\\\\ey\": \"\xf0\x9f\x90\xb0\\b\\f\\r\"}"},
    {"escaped backslash then u", "{" REQ0 ", \"x\": \"\\\\ud800\"}", "",
     NULL},
    {"raw UTF-8 and 0x7f", "{\"byteorder\": \"big\", \"content-type\": "
     "\"\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\", \"content-encoding\": "
     "\"\x7f\xc2\x80\xef\xbf\xbf\", \"content-length\": 0, "
     "\"\xf0\x9f\x98\x83\": \"\xe0\xa0\x80\"}", "", NULL},
    {"NUL escape", "{" REQ0 ", \"x\": \"a\\u0000b\"}", "", NULL},
    {"escaped required key and value", "{\"byteorder\": \"li\\u0074tle\", "
     "\"content\\u002dtype\": \"t\", \"content-encoding\": \"e\", "
     "\"content-length\": 0}", "", "{\"byteorder\": \"little\", "
     "\"content-type\": \"t\", \"content-encoding\": \"e\", "
     "\"content-length\": 0}"},
    {"keys differing after a NUL", "{" REQ0 ", \"a\\u0000b\": 1, "
     "\"a\\u0000c\": 2}", "", NULL},
    {"upper-case surrogate pair", "{" REQ0 ", \"x\": \"\\uD83D\\uDC30\"}", "",
     "{" REQ0 ", \"x\": \"\xf0\x9f\x90\xb0\"}"},
    {"escaped backslash then pair",
     "{" REQ0 ", \"x\": \"\\\\\\ud83d\\udc30\"}", "",
     "{" REQ0 ", \"x\": \"\\\\\xf0\x9f\x90\xb0\"}"},
    {"huge exponent kept", "{" REQ0 ", \"x\": 1e999, \"y\": -0.0E-0}", "",
     NULL},
    {"upper-case hex escape", "{" REQ0 ", \"x\": \"\\u001F\\u00E9\"}", "",
     "{" REQ0 ", \"x\": \"\\u001f\xc3\xa9\"}"},
    {"trailing whitespace", "{" REQ0 "} \n", "", "{" REQ0 "}"},
};

#define N_GOOD (sizeof good_frames / sizeof good_frames[0])

static void good_frame_bytes(bytes *b, const good_frame *g)
{
    put_frame(b, g->json, strlen(g->json), g->content, strlen(g->content));
}

START_TEST(test_good_decode)
{
    const good_frame *g = &good_frames[_i];
    const char *canon = g->canon != NULL ? g->canon : g->json;
    unsigned char out[1024];
    bytes in = {0};
    unsigned char *buf;
    size_t written = 0;
    hf_decoder d;
    hf_frame f;

    good_frame_bytes(&in, g);
    buf = tail_copy(in.p, in.len);
    init_decoder(&d, NULL);
    ck_assert_msg(hf_decode(&d, buf, in.len, &f) == HF_OK, "%s: %s",
                  g->name, hf_decoder_error(&d)->detail);
    ck_assert_uint_eq(f.frame_len, in.len);
    ck_assert_uint_eq(f.content_len, strlen(g->content));
    ck_assert_mem_eq(f.content, g->content, f.content_len);
    ck_assert_uint_eq(f.header->header_len, strlen(g->json));
    assert_header_strings(f.header);
    ck_assert_int_eq(hf_encode_header(f.header, out, sizeof out, &written),
                     HF_OK);
    ck_assert_uint_eq(written, 2 + strlen(canon));
    ck_assert_mem_eq(out + 2, canon, strlen(canon));
    ck_assert_int_eq(hf_header_is_canonical(f.header, buf + 2,
                                            strlen(g->json)),
                     g->canon == NULL);
    /* hf_parse_header agrees on the header alone. */
    ck_assert_int_eq(hf_parse_header(&d, g->json, strlen(g->json)), HF_OK);
    ck_assert_ptr_nonnull(hf_decoder_header(&d));
    hf_decoder_free(&d);
    free(buf);
    bytes_free(&in);
}
END_TEST

START_TEST(test_good_split)
{
    const good_frame *g = &good_frames[_i];
    bytes in = {0};
    trace whole, dec;
    hf_decoder d;
    hf_frame f;

    good_frame_bytes(&in, g);
    assert_split_invariant(NULL, in.p, in.len, &whole);
    ck_assert_int_eq(whole.finish, HF_OK);
    /* The one-shot decoder reports the same header and content. */
    memset(&dec, 0, sizeof dec);
    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_decode(&d, in.p, in.len, &f), HF_OK);
    trace_header(&dec, &d);
    if (f.content_len > 0)
        bytes_str(&dec.log, "C");
    bytes_put(&dec.content, f.content, f.content_len);
    bytes_printf(&dec.log, "F%zu;Z0/1", f.content_len);
    assert_traces_eq(&whole, &dec);
    hf_decoder_free(&d);
    trace_free(&dec);
    trace_free(&whole);
    bytes_free(&in);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Error vectors: every decoder error, its code and offsets             */
/* ------------------------------------------------------------------ */

/*
 * An input the decoder refuses, from tests/vectors/: header-errors.jsonl
 * (bytes: a header's JSON, framed alone, under the default limits; the
 * error at offset in the header) or prefix-errors.jsonl (bytes: a whole
 * frame, refused at its length prefix under max_header). detail, when
 * the vector gives one, is the exact message.
 */
typedef struct refused {
    const char *name;
    const char *bytes;
    size_t len;
    size_t max_header;
    hf_status code;
    size_t offset;
    const char *detail;     /* NULL: not checked */
} refused;

static refused *bad_headers;
static size_t n_bad;

/* The frame offset the vector's error must be reported at. */
static uint64_t bad_frame_offset(const refused *b)
{
    return HF_PREFIX_LEN + b->offset;
}

static void assert_error(const hf_error *e, hf_status code,
                         uint64_t offset, uint64_t frame_offset,
                         const char *detail)
{
    ck_assert_msg(e->code == code, "got %s (%s), want %s",
                  hf_status_name(e->code), e->detail,
                  hf_status_name(code));
    ck_assert_uint_eq(e->frame_offset, frame_offset);
    ck_assert_uint_eq(e->offset, offset);
    ck_assert_uint_gt(strlen(e->detail), 0);
    if (detail != NULL)
        ck_assert_str_eq(e->detail, detail);
}

START_TEST(test_bad_decode)
{
    const refused *b = &bad_headers[_i];
    size_t len = b->len;
    uint64_t fo = bad_frame_offset(b);
    bytes in = {0};
    unsigned char *buf;
    hf_decoder d;
    hf_frame f;

    put_frame(&in, b->bytes, len, NULL, 0);
    buf = tail_copy(in.p, in.len);
    init_decoder(&d, NULL);
    ck_assert_msg(hf_decode(&d, buf, in.len, &f) == b->code,
                  "%s: got %s (%s)", b->name,
                  hf_status_name(hf_decoder_error(&d)->code),
                  hf_decoder_error(&d)->detail);
    ck_assert_ptr_null(f.header);
    assert_error(hf_decoder_error(&d), b->code, fo, fo, b->detail);
    /* The header alone gives the same error at the same offset. */
    ck_assert_int_eq(hf_parse_header(&d, buf + 2, len), b->code);
    assert_error(hf_decoder_error(&d), b->code, fo, fo, b->detail);
    ck_assert_ptr_null(hf_decoder_header(&d));
    hf_decoder_free(&d);
    free(buf);
    bytes_free(&in);
}
END_TEST

/* A long key is cut short in the detail, which stays within its array. */
START_TEST(test_detail_long_key)
{
    bytes json = {0};
    const hf_error *e;
    hf_decoder d;
    size_t i, n;

    bytes_str(&json, "{\"");
    for (i = 0; i < 300; i++)
        bytes_str(&json, "\xc3\xa9");
    bytes_str(&json, "\": 1, \"");
    for (i = 0; i < 300; i++)
        bytes_str(&json, "\xc3\xa9");
    bytes_str(&json, "\": 2}");
    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_parse_header(&d, json.p, json.len),
                     HF_E_DUPLICATE_KEY);
    e = hf_decoder_error(&d);
    ck_assert_uint_eq(e->frame_offset, 2 + 2 + 600 + 6);
    n = strlen(e->detail);
    ck_assert_uint_lt(n, HF_DETAIL_MAX);
    ck_assert_mem_eq(e->detail, "key \"\xc3\xa9\xc3\xa9", 9);
    ck_assert_ptr_nonnull(strstr(e->detail, "...\" appears twice"));
    /* Cut on a character boundary: the detail is valid UTF-8. */
    ck_assert_uint_eq(hf_utf8_check(e->detail, n), n);
    hf_decoder_free(&d);
    bytes_free(&json);
}
END_TEST

/* Extension values keep their type and text, in order. */
START_TEST(test_ext_values)
{
    static const char json[] = "{" REQ0 ", \"s\": \"v\\u00e9\", "
        "\"n\": -1.5e3, \"t\": true, \"f\": false, \"z\": null, "
        "\"e\": \"\"}";
    static const struct {
        const char *key;
        hf_value_type type;
        const char *value;
    } want[] = {
        {"s", HF_VALUE_STRING, "v\xc3\xa9"}, {"n", HF_VALUE_NUMBER, "-1.5e3"},
        {"t", HF_VALUE_TRUE, "true"}, {"f", HF_VALUE_FALSE, "false"},
        {"z", HF_VALUE_NULL, "null"}, {"e", HF_VALUE_STRING, ""},
    };
    const hf_header *h;
    const hf_ext *e;
    hf_decoder d;
    size_t i;

    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_parse_header(&d, json, strlen(json)), HF_OK);
    h = hf_decoder_header(&d);
    ck_assert_uint_eq(h->n_ext, 6);
    for (i = 0; i < 6; i++) {
        assert_str_is(h->ext[i].key, want[i].key);
        ck_assert_int_eq(h->ext[i].type, want[i].type);
        assert_str_is(h->ext[i].value, want[i].value);
        e = hf_header_find_ext(h, want[i].key, 1);
        ck_assert_ptr_eq(e, &h->ext[i]);
    }
    ck_assert_ptr_null(hf_header_find_ext(h, "x", 1));
    ck_assert_ptr_null(hf_header_find_ext(h, "byteorder", 9));
    ck_assert_ptr_null(hf_header_find_ext(h, "s ", 2));
    hf_decoder_free(&d);
}
END_TEST

/* Same error however the frame is cut, and after a valid frame. */
START_TEST(test_bad_split)
{
    const refused *b = &bad_headers[_i];
    size_t len = b->len;
    uint64_t fo = bad_frame_offset(b);
    bytes in = {0}, two = {0};
    trace whole, t;

    put_frame(&in, b->bytes, len, NULL, 0);
    assert_split_invariant(NULL, in.p, in.len, &whole);
    ck_assert_int_eq(whole.finish, b->code);
    trace_free(&whole);

    bytes_put(&two, goldens[0].frame, goldens[0].frame_len);
    bytes_put(&two, in.p, in.len);
    trace_run(&t, NULL, two.p, two.len, two.len, 0);
    assert_error(&t.err, b->code, goldens[0].frame_len + fo, fo, b->detail);
    trace_free(&t);
    trace_run(&t, NULL, two.p, two.len, 0, 1);
    assert_error(&t.err, b->code, goldens[0].frame_len + fo, fo, b->detail);
    trace_free(&t);
    bytes_free(&two);
    bytes_free(&in);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Length prefix errors                                                */
/* ------------------------------------------------------------------ */

static refused *bad_prefixes;
static size_t n_bad_prefix;

/* The prefix alone decides: the error comes before any header byte. */
START_TEST(test_bad_prefix)
{
    const refused *b = &bad_prefixes[_i];
    unsigned char *buf = tail_copy(b->bytes, b->len);
    hf_limits lim;
    hf_decoder d;
    hf_event ev;
    hf_frame f;
    trace whole;

    hf_limits_default(&lim);
    lim.max_header = b->max_header;
    init_decoder(&d, &lim);
    ck_assert_uint_eq(hf_decoder_push(&d, buf, 2, &ev), 2);
    ck_assert_int_eq(ev.type, HF_EV_ERROR);
    assert_error(hf_decoder_error(&d), b->code, 0, 0, b->detail);
    ck_assert_int_eq(hf_decode(&d, buf, b->len, &f), b->code);
    assert_error(hf_decoder_error(&d), b->code, 0, 0, b->detail);
    hf_decoder_free(&d);
    free(buf);

    assert_split_invariant(&lim, b->bytes, b->len, &whole);
    ck_assert_int_eq(whole.finish, b->code);
    assert_error(&whole.err, b->code, 0, 0, b->detail);
    trace_free(&whole);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Streaming behaviour                                                 */
/* ------------------------------------------------------------------ */

/* Content-length 0: HEADER, then FRAME_END, never a CONTENT event. */
START_TEST(test_zero_content)
{
    static const char json[] = "{" REQ0 "}";
    bytes in = {0};
    unsigned char *buf;
    hf_decoder d;
    hf_event ev;
    size_t n;

    put_frame(&in, json, strlen(json), NULL, 0);
    bytes_put(&in, "\x00", 1); /* the next frame's first byte */
    buf = tail_copy(in.p, in.len);
    init_decoder(&d, NULL);
    n = hf_decoder_push(&d, buf, in.len, &ev);
    ck_assert_int_eq(ev.type, HF_EV_HEADER);
    ck_assert_uint_eq(n, in.len - 1);
    ck_assert_uint_eq(hf_decoder_header(&d)->content_length, 0);
    ck_assert(hf_decoder_in_frame(&d));
    ck_assert_uint_eq(hf_decoder_push(&d, buf + n, in.len - n, &ev), 0);
    ck_assert_int_eq(ev.type, HF_EV_FRAME_END);
    ck_assert_uint_eq(hf_decoder_frames(&d), 1);
    ck_assert(!hf_decoder_in_frame(&d));
    ck_assert_uint_eq(hf_decoder_push(&d, buf + n, in.len - n, &ev), 1);
    ck_assert_int_eq(ev.type, HF_EV_NEED_MORE);
    ck_assert(hf_decoder_in_frame(&d));
    ck_assert_int_eq(hf_decoder_finish(&d), HF_E_TRUNCATED);
    hf_decoder_free(&d);
    free(buf);
    bytes_free(&in);
}
END_TEST

/* Every golden and valid vector back to back in one stream. */
static void all_frames(bytes *b, size_t *n_frames, bytes *contents)
{
    size_t i;

    for (i = 0; i < n_golden; i++) {
        bytes_put(b, goldens[i].frame, goldens[i].frame_len);
        bytes_put(contents, goldens[i].content, goldens[i].content_len);
    }
    for (i = 0; i < N_GOOD; i++) {
        good_frame_bytes(b, &good_frames[i]);
        bytes_str(contents, good_frames[i].content);
    }
    *n_frames = n_golden + N_GOOD;
}

static size_t count_frame_ends(const bytes *log)
{
    size_t i, n = 0;

    /* F is followed by a count and ';' - find "F<digits>;" records. */
    for (i = 0; i < log->len; i++) {
        size_t j = i + 1;

        if (log->p[i] != 'F')
            continue;
        while (j < log->len && log->p[j] >= '0' && log->p[j] <= '9')
            j++;
        if (j > i + 1 && j < log->len && log->p[j] == ';')
            n++;
    }
    return n;
}

START_TEST(test_several_frames)
{
    bytes in = {0}, contents = {0};
    size_t n_frames, step;
    char tail[32];
    trace whole, t;

    all_frames(&in, &n_frames, &contents);
    trace_run(&whole, NULL, in.p, in.len, in.len, 0);
    ck_assert_int_eq(whole.finish, HF_OK);
    ck_assert(!whole.errored);
    assert_bytes_eq(&whole.content, &contents);
    ck_assert_uint_ge(count_frame_ends(&whole.log), n_frames);
    snprintf(tail, sizeof tail, "Z0/%zu", n_frames);
    ck_assert_mem_eq(whole.log.p + whole.log.len - strlen(tail), tail,
                     strlen(tail));
    for (step = 1; step <= 31; step++) {
        trace_run(&t, NULL, in.p, in.len, 0, step);
        assert_traces_eq(&whole, &t);
        trace_free(&t);
    }
    trace_free(&whole);
    bytes_free(&in);
    bytes_free(&contents);
}
END_TEST

/* Every split of a stream of two frames, and all splits of each gap. */
START_TEST(test_several_frames_split)
{
    bytes in = {0};
    trace whole;

    bytes_put(&in, goldens[_i].frame, goldens[_i].frame_len);
    good_frame_bytes(&in, &good_frames[0]);
    bytes_put(&in, goldens[(_i + 1) % n_golden].frame,
              goldens[(_i + 1) % n_golden].frame_len);
    assert_split_invariant(NULL, in.p, in.len, &whole);
    ck_assert_int_eq(whole.finish, HF_OK);
    trace_free(&whole);
    bytes_free(&in);
}
END_TEST

/* The header lives in the decoder (not in the input) from HEADER until
 * the first push after FRAME_END. */
START_TEST(test_header_lifetime)
{
    const golden *g = &goldens[1];
    size_t hdr = 2 + g->header_len;
    unsigned char *part;
    const hf_header *h;
    hf_decoder d;
    hf_event ev;

    init_decoder(&d, NULL);
    ck_assert_ptr_null(hf_decoder_header(&d));
    part = tail_copy(g->frame, hdr);
    ck_assert_uint_eq(hf_decoder_push(&d, part, hdr, &ev), hdr);
    ck_assert_int_eq(ev.type, HF_EV_HEADER);
    free(part); /* the header must not point into it */
    h = hf_decoder_header(&d);
    ck_assert_ptr_nonnull(h);
    assert_str_is(h->content_type, g->content_type);

    part = tail_copy(g->frame + hdr, g->content_len);
    ck_assert_uint_eq(hf_decoder_push(&d, part, g->content_len, &ev),
                      g->content_len);
    ck_assert_int_eq(ev.type, HF_EV_CONTENT);
    ck_assert_ptr_eq(ev.data, part);
    ck_assert_uint_eq(ev.len, g->content_len);
    free(part);
    ck_assert_ptr_eq(hf_decoder_header(&d), h);
    ck_assert_uint_eq(hf_decoder_push(&d, NULL, 0, &ev), 0);
    ck_assert_int_eq(ev.type, HF_EV_FRAME_END);
    ck_assert_ptr_eq(hf_decoder_header(&d), h);
    assert_str_is(h->content_type, g->content_type);
    assert_str_is(h->content_encoding, g->content_encoding);
    ck_assert_uint_eq(h->content_length, g->content_len);

    part = tail_copy(g->frame, 1);
    ck_assert_uint_eq(hf_decoder_push(&d, part, 1, &ev), 1);
    ck_assert_int_eq(ev.type, HF_EV_NEED_MORE);
    ck_assert_ptr_null(hf_decoder_header(&d));
    free(part);
    hf_decoder_free(&d);
}
END_TEST

/* Pushing nothing never changes anything. */
START_TEST(test_empty_push)
{
    hf_decoder d;
    hf_event ev;

    init_decoder(&d, NULL);
    ck_assert_uint_eq(hf_decoder_push(&d, NULL, 0, &ev), 0);
    ck_assert_int_eq(ev.type, HF_EV_NEED_MORE);
    ck_assert_uint_eq(hf_decoder_push(&d, "x", 0, &ev), 0);
    ck_assert_int_eq(ev.type, HF_EV_NEED_MORE);
    ck_assert_uint_eq(hf_decoder_offset(&d), 0);
    ck_assert(!hf_decoder_in_frame(&d));
    ck_assert_int_eq(hf_decoder_finish(&d), HF_OK);
    hf_decoder_free(&d);
}
END_TEST

/* Push the whole of p[0..n) (already in an exact-size block). */
static hf_event_type push_all(hf_decoder *d, const unsigned char *p, size_t n)
{
    size_t off = 0;
    hf_event ev;

    do {
        off += hf_decoder_push(d, p + off, n - off, &ev);
    } while (ev.type != HF_EV_NEED_MORE && ev.type != HF_EV_ERROR);
    return ev.type;
}

START_TEST(test_reset_mid_frame)
{
    const golden *g = &goldens[0];
    unsigned char *buf = tail_copy(g->frame, g->frame_len);
    hf_decoder d;

    init_decoder(&d, NULL);
    /* Stop inside the prefix, the header and the content in turn. */
    ck_assert_int_eq(push_all(&d, buf, 1), HF_EV_NEED_MORE);
    hf_decoder_reset(&d);
    ck_assert(!hf_decoder_in_frame(&d));
    ck_assert_uint_eq(hf_decoder_offset(&d), 0);
    ck_assert_int_eq(push_all(&d, buf, 50), HF_EV_NEED_MORE);
    hf_decoder_reset(&d);
    ck_assert_ptr_null(hf_decoder_header(&d));
    ck_assert_int_eq(push_all(&d, buf, 120), HF_EV_NEED_MORE);
    ck_assert(hf_decoder_in_frame(&d));
    hf_decoder_reset(&d);
    ck_assert(!hf_decoder_in_frame(&d));
    ck_assert_ptr_null(hf_decoder_header(&d));
    ck_assert_uint_eq(hf_decoder_offset(&d), 0);
    ck_assert_uint_eq(hf_decoder_frames(&d), 0);
    ck_assert_int_eq(push_all(&d, buf, g->frame_len), HF_EV_NEED_MORE);
    ck_assert_uint_eq(hf_decoder_frames(&d), 1);
    ck_assert_uint_eq(hf_decoder_offset(&d), g->frame_len);
    ck_assert_int_eq(hf_decoder_finish(&d), HF_OK);
    hf_decoder_free(&d);
    free(buf);
}
END_TEST

/* An error sticks: no byte consumed, same error, until the reset. */
START_TEST(test_error_sticky)
{
    static const char bad[] = "\x00\x02[]";
    unsigned char *buf = tail_copy(bad, 4);
    unsigned char *good = tail_copy(goldens[2].frame, goldens[2].frame_len);
    hf_error saved;
    hf_decoder d;
    hf_event ev;
    int k;

    init_decoder(&d, NULL);
    ck_assert_uint_eq(hf_decoder_push(&d, buf, 4, &ev), 4);
    ck_assert_int_eq(ev.type, HF_EV_ERROR);
    saved = *hf_decoder_error(&d);
    assert_error(&saved, HF_E_NOT_OBJECT, 2, 2, NULL);
    for (k = 0; k < 3; k++) {
        ck_assert_uint_eq(hf_decoder_push(&d, good, goldens[2].frame_len,
                                          &ev), 0);
        ck_assert_int_eq(ev.type, HF_EV_ERROR);
        ck_assert_uint_eq(hf_decoder_push(&d, NULL, 0, &ev), 0);
        ck_assert_int_eq(ev.type, HF_EV_ERROR);
        ck_assert_int_eq(hf_decoder_finish(&d), HF_E_NOT_OBJECT);
        ck_assert_mem_eq(hf_decoder_error(&d), &saved, sizeof saved);
    }
    ck_assert_ptr_null(hf_decoder_header(&d));
    hf_decoder_reset(&d);
    ck_assert_int_eq(hf_decoder_error(&d)->code, HF_OK);
    ck_assert_uint_eq(hf_decoder_offset(&d), 0);
    ck_assert_int_eq(push_all(&d, good, goldens[2].frame_len),
                     HF_EV_NEED_MORE);
    ck_assert_uint_eq(hf_decoder_frames(&d), 1);
    ck_assert_int_eq(hf_decoder_finish(&d), HF_OK);
    hf_decoder_free(&d);
    free(good);
    free(buf);
}
END_TEST

/* hf_decode's need: 2 in the prefix, 2 + N in the header, the whole
 * frame in the content; always more than what it was given. */
START_TEST(test_decode_need)
{
    const golden *g = &goldens[_i];
    size_t hdr = 2 + g->header_len, len, want;
    unsigned char *buf;
    hf_decoder d;
    hf_frame f;

    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_decode(&d, NULL, 0, &f), HF_NEED_MORE);
    ck_assert_uint_eq(f.need, 2);
    for (len = 0; len < g->frame_len; len++) {
        want = len < 2 ? 2 : len < hdr ? hdr : g->frame_len;
        buf = tail_copy(g->frame, len);
        ck_assert_int_eq(hf_decode(&d, buf, len, &f), HF_NEED_MORE);
        ck_assert_uint_eq(f.need, want);
        ck_assert_uint_gt(f.need, len);
        ck_assert_ptr_null(f.header);
        ck_assert_int_eq(hf_decoder_error(&d)->code, HF_OK);
        free(buf);
    }
    /* Bytes after the frame are not examined. */
    buf = malloc(g->frame_len + 3);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, g->frame, g->frame_len);
    memcpy(buf + g->frame_len, "\x00\x00x", 3);
    ck_assert_int_eq(hf_decode(&d, buf, g->frame_len + 3, &f), HF_OK);
    ck_assert_uint_eq(f.frame_len, g->frame_len);
    free(buf);
    hf_decoder_free(&d);
}
END_TEST

START_TEST(test_decode_need_zero_content)
{
    static const char json[] = "{" REQ0 "}";
    bytes in = {0};
    hf_decoder d;
    hf_frame f;

    put_frame(&in, json, strlen(json), NULL, 0);
    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_decode(&d, in.p, in.len - 1, &f), HF_NEED_MORE);
    ck_assert_uint_eq(f.need, in.len);
    ck_assert_int_eq(hf_decode(&d, in.p, in.len, &f), HF_OK);
    ck_assert_uint_eq(f.frame_len, in.len);
    ck_assert_uint_eq(f.content_len, 0);
    hf_decoder_free(&d);
    bytes_free(&in);
}
END_TEST

/* One decoder per thread, no shared state: each thread decodes and
 * re-encodes the golden frames many times and counts mismatches in the
 * long that arg points to. */
#define N_THREADS 4

static void *decode_goldens(void *arg)
{
    unsigned char out[512];
    size_t i, written;
    long *bad = arg;
    int round;
    hf_decoder d;
    hf_frame f;

    if (hf_decoder_init(&d, NULL) != HF_OK) {
        (*bad)++;
        return NULL;
    }
    for (round = 0; round < 500; round++) {
        for (i = 0; i < n_golden; i++) {
            written = 0;
            if (hf_decode(&d, goldens[i].frame, goldens[i].frame_len,
                          &f) != HF_OK ||
                hf_encode(f.header, f.content, f.content_len, out,
                          sizeof out, &written) != HF_OK ||
                written != goldens[i].frame_len ||
                memcmp(out, goldens[i].frame, written) != 0)
                (*bad)++;
        }
    }
    hf_decoder_free(&d);
    return NULL;
}

START_TEST(test_threads)
{
    pthread_t th[N_THREADS];
    long bad[N_THREADS] = {0};
    int i;

    for (i = 0; i < N_THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, decode_goldens,
                                        &bad[i]), 0);
    for (i = 0; i < N_THREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(bad[i], 0);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* Truncation: hf_decoder_finish inside a frame                        */
/* ------------------------------------------------------------------ */

typedef struct truncation {
    const char *name;
    size_t keep;            /* bytes of goldens[0] pushed */
    hf_status code;
    const char *detail;
} truncation;

static const truncation truncations[] = {
    {"nothing", 0, HF_OK, NULL},
    {"mid-prefix", 1, HF_E_TRUNCATED,
     "stream ended 1 byte into the 2-byte length prefix"},
    {"after the prefix", 2, HF_E_TRUNCATED,
     "stream ended 0 bytes into a 100-byte header"},
    {"one header byte", 3, HF_E_TRUNCATED,
     "stream ended 1 byte into a 100-byte header"},
    {"mid-header", 7, HF_E_TRUNCATED,
     "stream ended 5 bytes into a 100-byte header"},
    {"header short by one", 101, HF_E_TRUNCATED,
     "stream ended 99 bytes into a 100-byte header"},
    {"after the header", 102, HF_E_TRUNCATED,
     "stream ended 0 bytes into a 41-byte content"},
    {"one content byte", 103, HF_E_TRUNCATED,
     "stream ended 1 byte into a 41-byte content"},
    {"mid-content", 114, HF_E_TRUNCATED,
     "stream ended 12 bytes into a 41-byte content"},
    {"content short by one", 142, HF_E_TRUNCATED,
     "stream ended 40 bytes into a 41-byte content"},
    {"whole frame", 143, HF_OK, NULL},
};

#define N_TRUNCATIONS (sizeof truncations / sizeof truncations[0])

START_TEST(test_truncated)
{
    const truncation *c = &truncations[_i];
    bytes in = {0};
    trace whole;
    size_t before;

    /* Alone, then after a complete frame (stream and frame offsets
     * differ). */
    for (before = 0; before <= goldens[3].frame_len;
         before += goldens[3].frame_len) {
        if (before > 0)
            bytes_put(&in, goldens[3].frame, before);
        bytes_put(&in, goldens[0].frame, c->keep);
        assert_split_invariant(NULL, in.p, in.len, &whole);
        ck_assert_int_eq(whole.finish, c->code);
        if (c->code != HF_OK)
            assert_error(&whole.err, c->code, before + c->keep, c->keep,
                         c->detail);
        trace_free(&whole);
        in.len = 0;
    }
    bytes_free(&in);
}
END_TEST

/* finish between frames, or after the last content byte but before
 * FRAME_END was reported, is a clean end. */
START_TEST(test_finish_clean)
{
    const golden *g = &goldens[2];
    unsigned char *buf = tail_copy(g->frame, g->frame_len);
    hf_decoder d;
    hf_event ev;
    size_t n = 0;

    init_decoder(&d, NULL);
    while (n < g->frame_len) {
        n += hf_decoder_push(&d, buf + n, g->frame_len - n, &ev);
        ck_assert_int_ne(ev.type, HF_EV_ERROR);
    }
    ck_assert_int_eq(ev.type, HF_EV_CONTENT);
    ck_assert_int_eq(hf_decoder_finish(&d), HF_OK);
    ck_assert_uint_eq(hf_decoder_frames(&d), 1);
    ck_assert_int_eq(hf_decoder_finish(&d), HF_OK);
    ck_assert_int_eq(hf_decoder_error(&d)->code, HF_OK);
    hf_decoder_free(&d);
    free(buf);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Out of memory: an hf_allocator that fails the Nth allocation         */
/* ------------------------------------------------------------------ */

typedef struct fail_alloc {
    unsigned calls;         /* allocations asked for (malloc or growth) */
    unsigned fail_at;       /* 1-based call that fails; 0: none */
    long live;              /* blocks handed out and not yet freed */
    size_t largest;         /* largest block asked for */
} fail_alloc;

static void *fa_malloc(void *ctx, size_t n)
{
    fail_alloc *fa = ctx;

    if (n > fa->largest)
        fa->largest = n;
    if (++fa->calls == fa->fail_at)
        return NULL;
    fa->live++;
    return malloc(n);
}

static void *fa_realloc(void *ctx, void *p, size_t n)
{
    fail_alloc *fa = ctx;
    void *q;

    if (p == NULL)
        return fa_malloc(ctx, n);
    if (n > fa->largest)
        fa->largest = n;
    if (++fa->calls == fa->fail_at)
        return NULL;
    q = realloc(p, n);
    ck_assert_ptr_nonnull(q);
    return q;
}

static void fa_free(void *ctx, void *p)
{
    fail_alloc *fa = ctx;

    if (p == NULL)
        return;
    fa->live--;
    free(p);
}

static void fail_limits(hf_limits *lim, hf_allocator *a, fail_alloc *fa,
                        unsigned fail_at)
{
    memset(fa, 0, sizeof *fa);
    fa->fail_at = fail_at;
    a->malloc_fn = fa_malloc;
    a->realloc_fn = fa_realloc;
    a->free_fn = fa_free;
    a->ctx = fa;
    hf_limits_default(lim);
    lim->alloc = a;
}

/* The first allocation fails, with the header whole or split. */
START_TEST(test_nomem_first)
{
    const golden *g = &goldens[0];
    hf_allocator a;
    fail_alloc fa;
    hf_limits lim;
    trace t;
    size_t step;

    for (step = 0; step <= 1; step++) {
        fail_limits(&lim, &a, &fa, 1);
        trace_run(&t, &lim, g->frame, g->frame_len, step == 0 ?
                  g->frame_len : 0, step);
        ck_assert_int_eq(t.finish, HF_E_NOMEM);
        assert_error(&t.err, HF_E_NOMEM, 2, 2, step == 0 ?
                     "no memory for 100 header bytes" :
                     "no memory to buffer a 100-byte header");
        ck_assert_int_eq(fa.live, 0);
        trace_free(&t);
    }
}
END_TEST

/* Failing the Nth allocation (yajl's included) of a stream whose second
 * header is larger (so a buffer grows) is an out-of-memory error at a
 * header, or nothing at all once N is past the allocations made; never
 * anything else. */
START_TEST(test_nomem_nth)
{
    bytes in = {0}, json = {0};
    trace ref, t;
    hf_allocator a;
    fail_alloc fa;
    hf_limits lim;
    unsigned n;
    size_t step, first = goldens[0].frame_len;
    int succeeded;
    unsigned calls;

    bytes_put(&in, goldens[0].frame, first);
    bytes_str(&json, "{" REQ0 ", \"pad\": \"");
    for (n = 0; n < 900; n++)
        bytes_str(&json, "p");
    bytes_str(&json, "\"}");
    put_frame(&in, json.p, json.len, NULL, 0);
    for (step = 0; step <= 1; step++) {
        trace_run(&ref, NULL, in.p, in.len, step == 0 ? in.len : 0, step);
        fail_limits(&lim, &a, &fa, 0);
        trace_run(&t, &lim, in.p, in.len, step == 0 ? in.len : 0, step);
        trace_free(&t);
        calls = fa.calls;
        succeeded = 0;
        for (n = 1; n <= calls + 1; n++) {
            fail_limits(&lim, &a, &fa, n);
            trace_run(&t, &lim, in.p, in.len, step == 0 ? in.len : 0,
                      step);
            ck_assert_int_eq(fa.live, 0);
            if (!t.errored) {
                assert_traces_eq(&ref, &t);
                succeeded = 1;
            } else {
                ck_assert_int_eq(t.err.code, HF_E_NOMEM);
                ck_assert_uint_eq(t.err.frame_offset, 2);
                ck_assert(t.err.offset == 2 || t.err.offset == first + 2);
            }
            trace_free(&t);
        }
        ck_assert(succeeded);
        trace_free(&ref);
    }
    bytes_free(&json);
    bytes_free(&in);
}
END_TEST

/* After an out-of-memory error a reset decoder works again. */
START_TEST(test_nomem_recover)
{
    const golden *g = &goldens[1];
    unsigned char *buf = tail_copy(g->frame, g->frame_len);
    hf_allocator a;
    fail_alloc fa;
    hf_limits lim;
    hf_decoder d;
    hf_frame f;

    fail_limits(&lim, &a, &fa, 1);
    init_decoder(&d, &lim);
    ck_assert_int_eq(hf_decode(&d, buf, g->frame_len, &f), HF_E_NOMEM);
    ck_assert_int_eq(hf_decode(&d, buf, g->frame_len, &f), HF_OK);
    ck_assert_uint_eq(f.content_len, g->content_len);
    ck_assert_int_gt(fa.live, 0);
    hf_decoder_free(&d);
    ck_assert_int_eq(fa.live, 0);
    free(buf);
}
END_TEST

/* A header byte for byte the last one parsed is not parsed again; any
 * other header, one gathered from pieces, one refused, one given to
 * hf_parse_header, is, and every frame gets its own header's values. */
#define SAME_HDR(bo, len) "{\"byteorder\": \"" bo "\", \"content-type\": " \
    "\"t\", \"content-encoding\": \"e\", \"content-length\": " len "}"

static void same_frame(bytes *b, const char *json, const char *content)
{
    b->len = 0;
    put_frame(b, json, strlen(json), content, strlen(content));
}

/* Decode b whole, or (split) one byte at a time; its content-length. */
static uint64_t same_decode(hf_decoder *d, const bytes *b, int split)
{
    const hf_header *h;
    hf_frame f;
    size_t i;

    if (!split) {
        ck_assert_int_eq(hf_decode(d, b->p, b->len, &f), HF_OK);
        h = f.header;
    } else {
        for (i = 0; i < b->len; i++)
            ck_assert_int_ne(push_all(d, b->p + i, 1), HF_EV_ERROR);
        h = &d->header;
    }
    ck_assert_str_eq(h->content_type.ptr, "t");
    ck_assert_str_eq(h->content_encoding.ptr, "e");
    ck_assert_int_eq(h->byteorder, HF_BYTEORDER_BIG);
    return h->content_length;
}

START_TEST(test_same_header)
{
    bytes a = {0}, b = {0}, bad = {0};
    hf_decoder d;
    hf_frame f;

    same_frame(&a, SAME_HDR("big", "1"), "x");
    same_frame(&b, SAME_HDR("big", "2"), "xy");
    same_frame(&bad, SAME_HDR("bxg", "1"), "x");
    init_decoder(&d, NULL);
    ck_assert_uint_eq(same_decode(&d, &a, 0), 1);
    ck_assert_uint_eq(same_decode(&d, &a, 0), 1);
    ck_assert_uint_eq(same_decode(&d, &b, 0), 2);
    ck_assert_uint_eq(same_decode(&d, &a, 0), 1);
    /* Refused every time, never taken for the header before it. */
    ck_assert_int_eq(hf_decode(&d, bad.p, bad.len, &f),
                     HF_E_BAD_BYTEORDER);
    ck_assert_int_eq(hf_decode(&d, bad.p, bad.len, &f),
                     HF_E_BAD_BYTEORDER);
    ck_assert_uint_eq(same_decode(&d, &a, 0), 1);
    ck_assert_int_eq(hf_decode(&d, bad.p, bad.len, &f),
                     HF_E_BAD_BYTEORDER);
    /* hf_parse_header leaves another header's values behind. */
    ck_assert_uint_eq(same_decode(&d, &a, 0), 1);
    ck_assert_int_eq(hf_parse_header(&d, SAME_HDR("big", "2"),
                                     strlen(SAME_HDR("big", "2"))), HF_OK);
    ck_assert_uint_eq(same_decode(&d, &a, 0), 1);
    /* Pieces gathered in the buffer the last header was kept in. */
    hf_decoder_reset(&d);
    ck_assert_uint_eq(same_decode(&d, &b, 1), 2);
    ck_assert_uint_eq(same_decode(&d, &a, 0), 1);
    hf_decoder_reset(&d);
    ck_assert_uint_eq(same_decode(&d, &a, 1), 1);
    hf_decoder_reset(&d);
    ck_assert_uint_eq(same_decode(&d, &b, 1), 2);
    ck_assert_uint_eq(same_decode(&d, &b, 0), 2);
    ck_assert_uint_eq(same_decode(&d, &a, 0), 1);
    hf_decoder_free(&d);
    bytes_free(&a);
    bytes_free(&b);
    bytes_free(&bad);
}
END_TEST

/* Buffers survive reset and hf_decode: after the first stream, a header
 * costs no allocation at all (yajl's state comes from the stack), and
 * the decoder's own blocks stay as they are. */
START_TEST(test_buffers_reused)
{
    const golden *g = &goldens[0];
    unsigned char *buf = tail_copy(g->frame, g->frame_len);
    hf_allocator a;
    fail_alloc fa;
    hf_limits lim;
    hf_decoder d;
    hf_frame f;
    unsigned calls;
    long live;
    size_t i;

    fail_limits(&lim, &a, &fa, 0);
    init_decoder(&d, &lim);
    for (i = 0; i < g->frame_len; i++)
        ck_assert_int_eq(push_all(&d, buf + i, 1), HF_EV_NEED_MORE);
    calls = fa.calls;
    live = fa.live;
    ck_assert_int_eq(live, 2);
    ck_assert_int_eq(hf_decode(&d, buf, g->frame_len, &f), HF_OK);
    ck_assert_uint_eq(fa.calls, calls);
    hf_decoder_reset(&d);
    calls = fa.calls;
    for (i = 0; i < g->frame_len; i++)
        ck_assert_int_eq(push_all(&d, buf + i, 1), HF_EV_NEED_MORE);
    ck_assert_uint_eq(hf_decoder_frames(&d), 1);
    ck_assert_int_eq(hf_decode(&d, buf, g->frame_len, &f), HF_OK);
    ck_assert_uint_eq(fa.calls, calls);
    ck_assert_int_eq(fa.live, live);
    hf_decoder_free(&d);
    ck_assert_int_eq(fa.live, 0);
    free(buf);
}
END_TEST

/*
 * hframe.h: every block comes from malloc_fn (realloc_fn only grows a
 * block it made). yajl's parser state for a plain header comes from the
 * stack (no hook call at all); what it needs beyond that, here the 2 KiB
 * buffer that unescapes a string, goes through the hooks. Failing each
 * call in turn while such a header is parsed gives HF_E_NOMEM for that
 * header, and a later header parses.
 */
typedef struct hook_count {
    unsigned mallocs, reallocs, frees;
    unsigned realloc_null;  /* realloc_fn called with ptr == NULL */
    unsigned fail_at;       /* 1-based malloc/realloc call to fail; 0 none */
    long live;
} hook_count;

static void *hc_malloc(void *ctx, size_t n)
{
    hook_count *hc = ctx;

    if (++hc->mallocs + hc->reallocs == hc->fail_at)
        return NULL;
    hc->live++;
    return malloc(n);
}

static void *hc_realloc(void *ctx, void *p, size_t n)
{
    hook_count *hc = ctx;

    if (p == NULL)
        hc->realloc_null++;
    if (hc->mallocs + ++hc->reallocs == hc->fail_at)
        return NULL;
    if (p == NULL)
        hc->live++;
    return realloc(p, n);
}

static void hc_free(void *ctx, void *p)
{
    hook_count *hc = ctx;

    if (p == NULL)
        return;
    hc->frees++;
    hc->live--;
    free(p);
}

START_TEST(test_alloc_hooks_used)
{
    static const char plain_json[] = "{" REQ0 "}";
    static const char esc_json[] = "{" REQ0 ", \"x\": \"a\\nb\"}";
    hf_allocator a = {hc_malloc, hc_realloc, hc_free, NULL};
    hook_count hc, first;
    hf_limits lim;
    hf_decoder d;
    hf_frame f;
    bytes plain = {0}, esc = {0};
    unsigned n, header_calls, nomem = 0;
    hf_status st;

    memset(&hc, 0, sizeof hc);
    a.ctx = &hc;
    hf_limits_default(&lim);
    lim.alloc = &a;
    init_decoder(&d, &lim);
    put_frame(&plain, plain_json, strlen(plain_json), NULL, 0);
    put_frame(&esc, esc_json, strlen(esc_json), NULL, 0);
    /* The arena for the header strings and the copy of the header kept
     * for comparison, each made once at the longest header's size. */
    ck_assert_int_eq(hf_decode(&d, esc.p, esc.len, &f), HF_OK);
    ck_assert_int_eq(hc.live, 2);
    ck_assert_uint_eq(hc.realloc_null, 0);
    /* A plain header: nothing of yajl's from the hooks. */
    first = hc;
    ck_assert_int_eq(hf_decode(&d, plain.p, plain.len, &f), HF_OK);
    ck_assert_int_eq(hf_decode(&d, plain.p, plain.len, &f), HF_OK);
    ck_assert_uint_eq(hc.mallocs + hc.reallocs, first.mallocs +
                      first.reallocs);
    /* A string with an escape: yajl's unescaping buffer from the hooks. */
    first = hc;
    ck_assert_int_eq(hf_decode(&d, esc.p, esc.len, &f), HF_OK);
    header_calls = hc.mallocs + hc.reallocs - first.mallocs -
                   first.reallocs;
    ck_assert_uint_ge(header_calls, 1);
    ck_assert_int_eq(hc.live, 2);
    for (n = 1; n <= header_calls; n++) {
        /* Another header between, so that esc is parsed again. */
        ck_assert_int_eq(hf_decode(&d, plain.p, plain.len, &f), HF_OK);
        hc.fail_at = hc.mallocs + hc.reallocs + n;
        st = hf_decode(&d, esc.p, esc.len, &f);
        ck_assert(st == HF_OK || st == HF_E_NOMEM);
        if (st == HF_E_NOMEM) {
            nomem++;
            ck_assert_str_eq(hf_decoder_error(&d)->detail,
                             "no memory for the JSON parser");
            ck_assert_ptr_null(hf_decoder_header(&d));
        }
        ck_assert_int_eq(hc.live, 2);
        hc.fail_at = 0;
        ck_assert_int_eq(hf_decode(&d, esc.p, esc.len, &f), HF_OK);
        ck_assert_uint_eq(f.header->n_ext, 1);
        ck_assert_str_eq(f.header->ext[0].value.ptr, "a\nb");
    }
    ck_assert_uint_eq(nomem, header_calls);
    ck_assert_uint_eq(hc.realloc_null, 0);
    hf_decoder_free(&d);
    ck_assert_int_eq(hc.live, 0);
    bytes_free(&plain);
    bytes_free(&esc);
}
END_TEST

/* yajl_arena.h: blocks from the buffer while they fit, the last one grown
 * in place or taken back, the rest from the next allocator; contents
 * survive every move. */
typedef struct next_count {
    unsigned calls;
    long live;
} next_count;

static void *nc_malloc(void *ctx, size_t n)
{
    next_count *nc = ctx;

    nc->calls++;
    nc->live++;
    return malloc(n);
}

static void *nc_realloc(void *ctx, void *p, size_t n)
{
    next_count *nc = ctx;

    nc->calls++;
    if (p == NULL)
        nc->live++;
    return realloc(p, n);
}

static void nc_free(void *ctx, void *p)
{
    next_count *nc = ctx;

    if (p != NULL)
        nc->live--;
    free(p);
}

START_TEST(test_yajl_arena)
{
    next_count nc = {0, 0};
    yajl_alloc_funcs next = {nc_malloc, nc_realloc, nc_free, &nc};
    hf_yajl_arena a;
    yajl_alloc_funcs *f = hf_yajl_arena_init(&a, &next);
    unsigned char *p, *q, *r, *big;

    p = f->malloc(f->ctx, 100);
    memset(p, 'p', 100);
    q = f->malloc(f->ctx, 200);
    memset(q, 'q', 200);
    ck_assert_uint_eq(nc.calls, 0);
    /* The last block grows where it is. */
    ck_assert_ptr_eq(f->realloc(f->ctx, q, 1000), q);
    ck_assert_uint_eq(nc.calls, 0);
    /* Another block moves, its bytes with it, and stays in the buffer. */
    r = f->realloc(f->ctx, p, 150);
    ck_assert_ptr_ne(r, p);
    ck_assert_uint_eq(nc.calls, 0);
    ck_assert_mem_eq(r, "pppppppppp", 10);
    ck_assert_int_eq(r[99], 'p');
    /* Too big for what is left: from the next allocator. */
    big = f->malloc(f->ctx, HF_YAJL_ARENA_SIZE);
    ck_assert_uint_eq(nc.calls, 1);
    ck_assert_int_eq(nc.live, 1);
    big[HF_YAJL_ARENA_SIZE - 1] = 'b';
    /* A block of the buffer that outgrows it moves to the next one. */
    q = f->realloc(f->ctx, q, 4000);
    ck_assert_uint_eq(nc.calls, 2);
    ck_assert_int_eq(nc.live, 2);
    ck_assert_int_eq(q[199], 'q');
    big = f->realloc(f->ctx, big, 2 * HF_YAJL_ARENA_SIZE);
    ck_assert_int_eq(big[HF_YAJL_ARENA_SIZE - 1], 'b');
    f->free(f->ctx, q);
    f->free(f->ctx, big);
    f->free(f->ctx, r);
    ck_assert_int_eq(nc.live, 0);
    /* The last block freed is taken back: the buffer serves again. */
    p = f->malloc(f->ctx, 64);
    q = f->malloc(f->ctx, 64);
    f->free(f->ctx, q);
    ck_assert_ptr_eq(f->malloc(f->ctx, 64), q);
    ck_assert_uint_eq(nc.calls, 3);
}
END_TEST

/*
 * hframe.h, ABI: the size of every structure callers allocate is part of
 * ABI 0, and so are the members of the public ones. These are the LP64
 * figures of libhframe.so.0; a change here needs a new major version
 * (reserved members are the room for 0.x releases).
 */
START_TEST(test_abi_layout)
{
    hf_limits lim;

#if UINTPTR_MAX == UINT64_MAX && SIZE_MAX == UINT64_MAX
    ck_assert_uint_eq(sizeof(hf_decoder), 3072);
    ck_assert_uint_eq(sizeof(hf_header), 2656);
    ck_assert_uint_eq(sizeof(hf_limits), 64);
    ck_assert_uint_eq(sizeof(hf_frame), 56);
    ck_assert_uint_eq(sizeof(hf_error), 184);
    ck_assert_uint_eq(sizeof(hf_event), 24);
    ck_assert_uint_eq(sizeof(hf_ext), 40);
    ck_assert_uint_eq(sizeof(hf_allocator), 32);
    ck_assert_uint_eq(sizeof(hf_str), 16);
    ck_assert_uint_eq(offsetof(hf_header, n_ext), 48);
    ck_assert_uint_eq(offsetof(hf_header, ext), 56);
    ck_assert_uint_eq(offsetof(hf_header, header_len), 2616);
    ck_assert_uint_eq(offsetof(hf_limits, alloc), 24);
    ck_assert_uint_eq(offsetof(hf_frame, need), 32);
    ck_assert_uint_eq(offsetof(hf_error, detail), 24);
#endif
    ck_assert_int_eq(HF_EXT_MAX, 64);
    ck_assert_int_eq(HF_DETAIL_MAX, 160);
    /* Reserved members must be zero, so that they can gain a meaning. */
    hf_limits_default(&lim);
    ck_assert_int_eq(hf_limits_check(&lim), HF_OK);
    lim.reserved[3] = &lim;
    ck_assert_int_eq(hf_limits_check(&lim), HF_E_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_version)
{
    char s[32];

    ck_assert_int_eq(hf_version(), HF_VERSION_NUMBER);
    ck_assert_int_eq(HF_VERSION_NUMBER, HF_VERSION_MAJOR * 10000 +
                     HF_VERSION_MINOR * 100 + HF_VERSION_PATCH);
    snprintf(s, sizeof s, "%d.%d.%d", HF_VERSION_MAJOR, HF_VERSION_MINOR,
             HF_VERSION_PATCH);
    ck_assert_str_eq(s, HF_VERSION);
}
END_TEST

/*
 * hframe.h: each of the decoder's two buffers "holds at most the header
 * limit plus one byte", and yajl's blocks stay within "4 KiB or twice
 * the header limit plus 64 bytes". Pushed byte by byte, a header of the
 * largest allowed length makes both buffers as large as they get.
 */
typedef struct alloc_bound {
    size_t max_header;
    size_t header_len;
} alloc_bound;

static const alloc_bound alloc_bounds[] = {
    {HF_HEADER_MAX, HF_HEADER_MAX},
    {4000, 4000},
    {300, 300},
    {255, 200},
    {100, 100},
    {HF_HEADER_MIN, HF_HEADER_MIN},
};

#define N_ALLOC_BOUNDS (sizeof alloc_bounds / sizeof alloc_bounds[0])

START_TEST(test_alloc_bound)
{
    const alloc_bound *c = &alloc_bounds[_i];
    bytes json = {0}, in = {0};
    hf_allocator a;
    fail_alloc fa;
    hf_limits lim;
    trace t;
    hf_decoder d;
    size_t i, yajl_bound = 2 * (c->max_header + 64);

    if (c->header_len >= 100)
        limit_header(&json, 0, 0, c->header_len);
    else
        bytes_str(&json, "{}");
    put_frame(&in, json.p, json.len, NULL, 0);
    fail_limits(&lim, &a, &fa, 0);
    lim.max_header = c->max_header;
    trace_run(&t, &lim, in.p, in.len, 0, 1);
    ck_assert_int_eq(t.finish, c->header_len >= 100 ? HF_OK :
                                                      HF_E_MISSING_KEY);
    ck_assert_uint_le(fa.largest, yajl_bound > 4096 ? yajl_bound : 4096);
    ck_assert_int_eq(fa.live, 0);
    trace_free(&t);
    /* The decoder's own buffers, seen from inside. */
    init_decoder(&d, &lim);
    for (i = 0; i < in.len; i++)
        push_all(&d, in.p + i, 1);
    ck_assert_uint_gt(d.hbuf_cap, 0);
    ck_assert_uint_le(d.hbuf_cap, c->max_header + 1);
    ck_assert_uint_le(d.arena_cap, c->max_header + 1);
    hf_decoder_free(&d);
    bytes_free(&in);
    bytes_free(&json);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Invalid arguments                                                   */
/* ------------------------------------------------------------------ */

typedef struct bad_limit {
    const char *name;
    size_t max_header;
    uint64_t max_content;
    size_t max_extensions;
    int alloc_hole;         /* 1..3: that allocator function is NULL */
} bad_limit;

static const bad_limit bad_limits[] = {
    {"header 0", 0, HF_CONTENT_DEFAULT, HF_EXT_MAX, 0},
    {"header 1", 1, HF_CONTENT_DEFAULT, HF_EXT_MAX, 0},
    {"header 65536", 65536, HF_CONTENT_DEFAULT, HF_EXT_MAX, 0},
    {"header huge", (size_t)-1, HF_CONTENT_DEFAULT, HF_EXT_MAX, 0},
    {"content 2^53", HF_HEADER_MAX, HF_CONTENT_LIMIT_MAX + 1, HF_EXT_MAX, 0},
    {"content max", HF_HEADER_MAX, UINT64_MAX, HF_EXT_MAX, 0},
    {"extensions 65", HF_HEADER_MAX, HF_CONTENT_DEFAULT, HF_EXT_MAX + 1, 0},
    {"no malloc", HF_HEADER_MAX, HF_CONTENT_DEFAULT, HF_EXT_MAX, 1},
    {"no realloc", HF_HEADER_MAX, HF_CONTENT_DEFAULT, HF_EXT_MAX, 2},
    {"no free", HF_HEADER_MAX, HF_CONTENT_DEFAULT, HF_EXT_MAX, 3},
};

#define N_BAD_LIMITS (sizeof bad_limits / sizeof bad_limits[0])

static void *plain_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void *plain_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return realloc(p, n);
}

static void plain_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/* The decoder refuses the limits and falls back on the defaults. */
START_TEST(test_bad_limits)
{
    const bad_limit *b = &bad_limits[_i];
    hf_allocator a = {plain_malloc, plain_realloc, plain_free, NULL};
    const golden *g = &goldens[3];
    hf_limits lim;
    hf_decoder d;
    hf_frame f;

    hf_limits_default(&lim);
    ck_assert_int_eq(hf_limits_check(&lim), HF_OK);
    lim.max_header = b->max_header;
    lim.max_content = b->max_content;
    lim.max_extensions = b->max_extensions;
    if (b->alloc_hole == 1)
        a.malloc_fn = NULL;
    else if (b->alloc_hole == 2)
        a.realloc_fn = NULL;
    else if (b->alloc_hole == 3)
        a.free_fn = NULL;
    if (b->alloc_hole != 0)
        lim.alloc = &a;
    ck_assert_int_eq(hf_limits_check(&lim), HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_decoder_init(&d, &lim), HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_decode(&d, g->frame, g->frame_len, &f), HF_OK);
    hf_decoder_free(&d);
}
END_TEST

START_TEST(test_null_arguments)
{
    unsigned char out[256];
    size_t written = 7;
    hf_str k = {"a", 1};
    hf_decoder d;
    hf_header h;
    hf_frame f;

    ck_assert_int_eq(hf_limits_check(NULL), HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_decoder_init(NULL, NULL), HF_E_INVALID_ARGUMENT);
    hf_decoder_free(NULL);
    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_decode(&d, NULL, 3, &f), HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_parse_header(&d, NULL, 3), HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_parse_header(&d, NULL, 0), HF_E_HEADER_TOO_SHORT);
    hf_decoder_free(&d);

    hf_header_init(&h, "t", "e");
    ck_assert_int_eq(hf_encode(NULL, "x", 1, out, sizeof out, &written),
                     HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_encode(&h, NULL, 1, out, sizeof out, &written),
                     HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_encode(&h, "x", 1, NULL, 10, &written),
                     HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_encode_header(NULL, out, sizeof out, &written),
                     HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_encode_header(&h, NULL, 10, &written),
                     HF_E_INVALID_ARGUMENT);
    ck_assert_uint_eq(hf_header_json_len(NULL), 0);
    ck_assert(!hf_header_is_canonical(NULL, "{}", 2));
    ck_assert(!hf_header_is_canonical(&h, NULL, 2));
    /* An empty content may come as NULL. */
    ck_assert_int_eq(hf_encode(&h, NULL, 0, out, sizeof out, &written),
                     HF_OK);
    ck_assert_int_eq(hf_json_write_string(NULL, 5, "a", 1, &written),
                     HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_json_write_string(out, sizeof out, NULL, 1,
                                          &written), HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_json_write_object(out, sizeof out, NULL, &k, 1,
                                          &written), HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_json_write_object(out, sizeof out, &k, NULL, 1,
                                          &written), HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_json_write_object(NULL, 3, &k, &k, 1, &written),
                     HF_E_INVALID_ARGUMENT);
    ck_assert_uint_eq(hf_json_object_len(NULL, NULL, 1), 0);
    ck_assert_uint_eq(hf_json_string_len(NULL, 1), 0);
}
END_TEST

/* Every other function given NULL: an error or nothing, never a crash. */
START_TEST(test_null_arguments_everywhere)
{
    unsigned char out[256];
    size_t written;
    hf_str k = {"a", 1}, missing = {NULL, 3};
    hf_event ev;
    hf_decoder d;
    hf_header h;

    ck_assert_int_eq(hf_decode(NULL, "\0\2{}", 4, NULL),
                     HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_parse_header(NULL, "{}", 2), HF_E_INVALID_ARGUMENT);
    ck_assert_int_eq(hf_decoder_finish(NULL), HF_E_INVALID_ARGUMENT);
    ck_assert_uint_eq(hf_decoder_push(NULL, "ab", 2, &ev), 0);
    ck_assert_int_eq(ev.type, HF_EV_ERROR);
    hf_decoder_reset(NULL);
    ck_assert_ptr_null(hf_decoder_header(NULL));
    ck_assert_ptr_null(hf_decoder_error(NULL));
    ck_assert_uint_eq(hf_decoder_offset(NULL), 0);
    ck_assert_uint_eq(hf_decoder_frames(NULL), 0);
    ck_assert_int_eq(hf_decoder_in_frame(NULL), 0);
    hf_limits_default(NULL);
    hf_header_init(NULL, "t", "e");
    ck_assert_int_eq(hf_header_add_ext(NULL, k, k, HF_VALUE_STRING),
                     HF_E_INVALID_ARGUMENT);
    ck_assert_ptr_null(hf_header_find_ext(NULL, "a", 1));
    ck_assert_uint_eq(hf_utf8_check(NULL, 3), 0);
    ck_assert_uint_eq(hf_json_lone_surrogate(NULL, 3), 0);

    /* A decoder: a NULL event, NULL bytes with a length. */
    init_decoder(&d, NULL);
    ck_assert_uint_eq(hf_decoder_push(&d, "\0\2{}", 4, NULL), 0);
    ck_assert_uint_eq(hf_decoder_offset(&d), 0);
    ck_assert_uint_eq(hf_decoder_push(&d, "\0", 1, &ev), 1);
    ck_assert_uint_eq(hf_decoder_push(&d, NULL, 3, &ev), 0);
    ck_assert_int_eq(ev.type, HF_EV_ERROR);
    ck_assert_int_eq(hf_decoder_error(&d)->code, HF_E_INVALID_ARGUMENT);
    ck_assert_uint_eq(hf_decoder_error(&d)->offset, 1);
    ck_assert_int_eq(hf_decoder_finish(&d), HF_E_INVALID_ARGUMENT);
    hf_decoder_reset(&d);
    ck_assert_uint_eq(hf_decoder_push(&d, NULL, 0, &ev), 0);
    ck_assert_int_eq(ev.type, HF_EV_NEED_MORE);
    hf_decoder_free(&d);

    /* Strings whose bytes are missing are bad calls, not bad UTF-8. */
    hf_header_init(&h, "t", "e");
    h.content_type = missing;
    ck_assert_int_eq(hf_encode_header(&h, out, sizeof out, &written),
                     HF_E_INVALID_ARGUMENT);
    ck_assert_uint_eq(hf_header_json_len(&h), 0);
    hf_header_init(&h, "t", "e");
    h.content_encoding = missing;
    ck_assert_int_eq(hf_encode_header(&h, out, sizeof out, &written),
                     HF_E_INVALID_ARGUMENT);
    hf_header_init(&h, "t", "e");
    ck_assert_int_eq(hf_header_add_ext(&h, missing, k, HF_VALUE_STRING),
                     HF_OK);
    ck_assert_int_eq(hf_encode_header(&h, out, sizeof out, &written),
                     HF_E_INVALID_ARGUMENT);
    hf_header_init(&h, "t", "e");
    ck_assert_int_eq(hf_header_add_ext(&h, k, missing, HF_VALUE_STRING),
                     HF_OK);
    ck_assert_int_eq(hf_encode_header(&h, out, sizeof out, &written),
                     HF_E_INVALID_ARGUMENT);
    hf_header_init(&h, "t", "e");
    ck_assert_int_eq(hf_header_add_ext(&h, k, missing, HF_VALUE_NUMBER),
                     HF_OK);
    ck_assert_int_eq(hf_encode_header(&h, out, sizeof out, &written),
                     HF_E_INVALID_ARGUMENT);
    ck_assert_ptr_null(hf_header_find_ext(&h, NULL, 1));
}
END_TEST

/* ------------------------------------------------------------------ */
/* Limits: at, one below and one above each bound                      */
/* ------------------------------------------------------------------ */

typedef struct limit_case {
    const char *name;
    size_t max_header;
    uint64_t max_content;
    size_t max_extensions;
    size_t header_len;      /* pad the header to this length (0: none) */
    uint64_t content_length;
    size_t n_ext;
    hf_status code;
    const char *at;         /* error mark in the header; NULL: offset 0 */
} limit_case;

static const limit_case limit_cases[] = {
    {"header at default max", HF_HEADER_MAX, HF_CONTENT_DEFAULT, HF_EXT_MAX,
     65535, 0, 0, HF_OK, NULL},
    {"header one below max", HF_HEADER_MAX, HF_CONTENT_DEFAULT, HF_EXT_MAX,
     65534, 0, 0, HF_OK, NULL},
    {"header 65535 above 65534", 65534, HF_CONTENT_DEFAULT, HF_EXT_MAX,
     65535, 0, 0, HF_E_HEADER_TOO_LONG, NULL},
    {"header at custom max", 120, HF_CONTENT_DEFAULT, HF_EXT_MAX, 120, 0,
     0, HF_OK, NULL},
    {"header below custom max", 120, HF_CONTENT_DEFAULT, HF_EXT_MAX, 119,
     0, 0, HF_OK, NULL},
    {"header above custom max", 120, HF_CONTENT_DEFAULT, HF_EXT_MAX, 121,
     0, 0, HF_E_HEADER_TOO_LONG, NULL},
    {"content at default", HF_HEADER_MAX, HF_CONTENT_DEFAULT, HF_EXT_MAX, 0,
     HF_CONTENT_DEFAULT, 0, HF_OK, NULL},
    {"content above default", HF_HEADER_MAX, HF_CONTENT_DEFAULT, HF_EXT_MAX,
     0, HF_CONTENT_DEFAULT + 1, 0, HF_E_CONTENT_TOO_LONG, "16777217"},
    {"content at custom", HF_HEADER_MAX, 10, HF_EXT_MAX, 0, 10, 0, HF_OK,
     NULL},
    {"content below custom", HF_HEADER_MAX, 10, HF_EXT_MAX, 0, 9, 0, HF_OK,
     NULL},
    {"content above custom", HF_HEADER_MAX, 10, HF_EXT_MAX, 0, 11, 0,
     HF_E_CONTENT_TOO_LONG, "11"},
    {"content 0 at limit 0", HF_HEADER_MAX, 0, HF_EXT_MAX, 0, 0, 0, HF_OK,
     NULL},
    {"content 1 above limit 0", HF_HEADER_MAX, 0, HF_EXT_MAX, 0, 1, 0,
     HF_E_CONTENT_TOO_LONG, "1}"},
    {"content 4 GiB - 1", HF_HEADER_MAX, UINT64_C(4294967295), HF_EXT_MAX,
     0, UINT64_C(4294967295), 0, HF_OK, NULL},
    {"content 4 GiB", HF_HEADER_MAX, UINT64_C(4294967295), HF_EXT_MAX,
     0, UINT64_C(4294967296), 0, HF_E_CONTENT_TOO_LONG, "4294967296"},
    {"content 2^53 - 1", HF_HEADER_MAX, HF_CONTENT_LIMIT_MAX, HF_EXT_MAX, 0,
     HF_CONTENT_LIMIT_MAX, 0, HF_OK, NULL},
    {"content 2^53", HF_HEADER_MAX, HF_CONTENT_LIMIT_MAX, HF_EXT_MAX, 0,
     HF_CONTENT_LIMIT_MAX + 1, 0, HF_E_CONTENT_TOO_LONG, "9007199254740992"},
    {"content 2^64 - 1", HF_HEADER_MAX, HF_CONTENT_DEFAULT, HF_EXT_MAX, 0,
     UINT64_MAX, 0, HF_E_CONTENT_TOO_LONG, "18446744073709551615"},
    {"content 2^64 at the largest limit", HF_HEADER_MAX,
     HF_CONTENT_LIMIT_MAX, HF_EXT_MAX, 0, UINT64_MAX, 0,
     HF_E_CONTENT_TOO_LONG, "18446744073709551615"},
    {"64 extensions", HF_HEADER_MAX, HF_CONTENT_DEFAULT, HF_EXT_MAX, 0, 0,
     64, HF_OK, NULL},
    {"63 extensions", HF_HEADER_MAX, HF_CONTENT_DEFAULT, HF_EXT_MAX, 0, 0,
     63, HF_OK, NULL},
    {"65 extensions", HF_HEADER_MAX, HF_CONTENT_DEFAULT, HF_EXT_MAX, 0, 0,
     65, HF_E_TOO_MANY_EXTENSIONS, "\"x64\""},
    {"3 extensions of 3", HF_HEADER_MAX, HF_CONTENT_DEFAULT, 3, 0, 0, 3,
     HF_OK, NULL},
    {"4 extensions of 3", HF_HEADER_MAX, HF_CONTENT_DEFAULT, 3, 0, 0, 4,
     HF_E_TOO_MANY_EXTENSIONS, "\"x3\""},
    {"no extension allowed", HF_HEADER_MAX, HF_CONTENT_DEFAULT, 0, 0, 0, 0,
     HF_OK, NULL},
    {"one extension of 0", HF_HEADER_MAX, HF_CONTENT_DEFAULT, 0, 0, 0, 1,
     HF_E_TOO_MANY_EXTENSIONS, "\"x0\""},
};

#define N_LIMIT_CASES (sizeof limit_cases / sizeof limit_cases[0])

START_TEST(test_limits)
{
    const limit_case *c = &limit_cases[_i];
    bytes json = {0}, in = {0};
    unsigned char *buf;
    hf_limits lim;
    hf_decoder d;
    hf_frame f;
    uint64_t fo;

    hf_limits_default(&lim);
    lim.max_header = c->max_header;
    lim.max_content = c->max_content;
    lim.max_extensions = c->max_extensions;
    ck_assert_int_eq(hf_limits_check(&lim), HF_OK);
    limit_header(&json, c->content_length, c->n_ext, c->header_len);
    if (c->header_len != 0)
        ck_assert_uint_eq(json.len, c->header_len);
    put_frame(&in, json.p, json.len, NULL, 0);
    buf = tail_copy(in.p, in.len);
    init_decoder(&d, &lim);
    if (c->code == HF_OK) {
        /* Only the header is here: complete unless content is due. */
        ck_assert_int_eq(hf_decode(&d, buf, in.len, &f),
                         c->content_length == 0 ? HF_OK : HF_NEED_MORE);
        if (c->content_length > 0)
            ck_assert_uint_eq(f.need, in.len + c->content_length);
        ck_assert_int_eq(hf_parse_header(&d, json.p, json.len), HF_OK);
        ck_assert_uint_eq(hf_decoder_header(&d)->content_length,
                          c->content_length);
        ck_assert_uint_eq(hf_decoder_header(&d)->n_ext, c->n_ext);
    } else {
        fo = c->at == NULL ? 0 :
             2 + mark_offset((const char *)json.p, json.len, c->at);
        ck_assert_int_eq(hf_decode(&d, buf, in.len, &f), c->code);
        assert_error(hf_decoder_error(&d), c->code, fo, fo, NULL);
    }
    hf_decoder_free(&d);
    free(buf);
    bytes_free(&in);
    bytes_free(&json);
}
END_TEST

/* Long digit strings never wrap around, even under the largest limit. */
static const char *const long_lengths[] = {
    "9007199254740992",                 /* 2^53 */
    "18446744073709551615",             /* 2^64 - 1 */
    "18446744073709551616",             /* 2^64 */
    "36893488147419103232",             /* 2^65 */
    "123456789012345678901234567890",   /* 30 digits */
    "000000000000000000000000000001",   /* leading zeros: not JSON */
};

#define N_LONG_LENGTHS (sizeof long_lengths / sizeof long_lengths[0])

START_TEST(test_content_length_digits)
{
    const char *digits = long_lengths[_i];
    bytes json = {0};
    hf_limits lim;
    hf_decoder d;
    hf_status want = digits[0] == '0' ? HF_E_JSON_SYNTAX :
                                        HF_E_CONTENT_TOO_LONG;

    hf_limits_default(&lim);
    lim.max_content = HF_CONTENT_LIMIT_MAX;
    init_decoder(&d, &lim);
    bytes_printf(&json, "{\"content-length\": %s}", digits);
    ck_assert_int_eq(hf_parse_header(&d, json.p, json.len), want);
    if (want == HF_E_CONTENT_TOO_LONG)
        assert_error(hf_decoder_error(&d), want, 2 + 19, 2 + 19, NULL);
    hf_decoder_free(&d);
    bytes_free(&json);
}
END_TEST

/* The limits themselves: at and one beyond each end of each range. */
START_TEST(test_limits_check)
{
    hf_limits lim;

    hf_limits_default(&lim);
    ck_assert_uint_eq(lim.max_header, HF_HEADER_MAX);
    ck_assert_uint_eq(lim.max_content, HF_CONTENT_DEFAULT);
    ck_assert_uint_eq(lim.max_extensions, HF_EXT_MAX);
    ck_assert_ptr_null(lim.alloc);
    lim.max_header = HF_HEADER_MIN;
    ck_assert_int_eq(hf_limits_check(&lim), HF_OK);
    lim.max_header = HF_HEADER_MIN - 1;
    ck_assert_int_eq(hf_limits_check(&lim), HF_E_INVALID_ARGUMENT);
    lim.max_header = HF_HEADER_MAX;
    lim.max_content = 0;
    ck_assert_int_eq(hf_limits_check(&lim), HF_OK);
    lim.max_content = HF_CONTENT_LIMIT_MAX;
    ck_assert_int_eq(hf_limits_check(&lim), HF_OK);
    lim.max_content = HF_CONTENT_LIMIT_MAX + 1;
    ck_assert_int_eq(hf_limits_check(&lim), HF_E_INVALID_ARGUMENT);
    lim.max_content = 0;
    lim.max_extensions = 0;
    ck_assert_int_eq(hf_limits_check(&lim), HF_OK);
    lim.max_extensions = HF_EXT_MAX + 1;
    ck_assert_int_eq(hf_limits_check(&lim), HF_E_INVALID_ARGUMENT);
}
END_TEST

/* hf_parse_header applies the length bounds to its input. */
START_TEST(test_parse_header_length)
{
    bytes json = {0};
    hf_limits lim;
    hf_decoder d;

    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_parse_header(&d, "{", 1), HF_E_HEADER_TOO_SHORT);
    assert_error(hf_decoder_error(&d), HF_E_HEADER_TOO_SHORT, 0, 0, NULL);
    ck_assert_int_eq(hf_parse_header(&d, "{}", 2), HF_E_MISSING_KEY);
    limit_header(&json, 0, 0, 65536);
    ck_assert_int_eq(hf_parse_header(&d, json.p, json.len),
                     HF_E_HEADER_TOO_LONG);
    ck_assert_int_eq(hf_parse_header(&d, json.p, 65535), HF_OK);
    hf_decoder_free(&d);
    hf_limits_default(&lim);
    lim.max_header = 100;
    init_decoder(&d, &lim);
    ck_assert_int_eq(hf_parse_header(&d, json.p, 100), HF_OK);
    ck_assert_int_eq(hf_parse_header(&d, json.p, 101), HF_E_HEADER_TOO_LONG);
    hf_decoder_free(&d);
    bytes_free(&json);
}
END_TEST

/* A 65535-byte header split over many pushes decodes the same. */
START_TEST(test_largest_header_streamed)
{
    bytes json = {0}, in = {0};
    trace whole, t;

    limit_header(&json, 3, 64, 65535);
    put_frame(&in, json.p, json.len, "abc", 3);
    trace_run(&whole, NULL, in.p, in.len, in.len, 0);
    ck_assert_int_eq(whole.finish, HF_OK);
    ck_assert(!whole.errored);
    trace_run(&t, NULL, in.p, in.len, 0, 1);
    assert_traces_eq(&whole, &t);
    trace_free(&t);
    trace_run(&t, NULL, in.p, in.len, 30000, 0);
    assert_traces_eq(&whole, &t);
    trace_free(&t);
    trace_free(&whole);
    bytes_free(&in);
    bytes_free(&json);
}
END_TEST

/* ------------------------------------------------------------------ */
/* UTF-8                                                               */
/* ------------------------------------------------------------------ */

typedef struct utf8_case {
    const char *name;
    const char *s;
    size_t len;             /* 0: strlen(s) */
    size_t bad;             /* offset of the first invalid sequence;
                               (size_t)-1: valid */
} utf8_case;

#define VALID ((size_t)-1)

static const utf8_case utf8_cases[] = {
    {"empty", "", 0, VALID},
    {"ASCII", "hello, world: 0123456789", 0, VALID},
    {"NUL and DEL", "a\0b\x7f", 4, VALID},
    {"U+0080", "\xc2\x80", 0, VALID},
    {"U+07FF", "\xdf\xbf", 0, VALID},
    {"U+0800", "\xe0\xa0\x80", 0, VALID},
    {"U+D7FF", "\xed\x9f\xbf", 0, VALID},
    {"U+E000", "\xee\x80\x80", 0, VALID},
    {"U+FFFF", "\xef\xbf\xbf", 0, VALID},
    {"U+10000", "\xf0\x90\x80\x80", 0, VALID},
    {"U+10FFFF", "\xf4\x8f\xbf\xbf", 0, VALID},
    {"mixed", "r\xc3\xa9sum\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb0 ok", 0,
     VALID},
    {"overlong C0 80", "\xc0\x80", 0, 0},
    {"overlong C1 BF", "\xc1\xbf", 0, 0},
    {"overlong E0 80 80", "\xe0\x80\x80", 0, 0},
    {"overlong E0 9F BF", "\xe0\x9f\xbf", 0, 0},
    {"overlong F0 80 80 80", "\xf0\x80\x80\x80", 0, 0},
    {"overlong F0 8F BF BF", "\xf0\x8f\xbf\xbf", 0, 0},
    {"surrogate ED A0 80", "\xed\xa0\x80", 0, 0},
    {"surrogate ED BF BF", "\xed\xbf\xbf", 0, 0},
    {"above U+10FFFF F4 90 80 80", "\xf4\x90\x80\x80", 0, 0},
    {"F5 80 80 80", "\xf5\x80\x80\x80", 0, 0},
    {"F8 lead", "\xf8\x88\x80\x80\x80", 0, 0},
    {"FE", "ab\xfe", 0, 2},
    {"FF", "\xff", 0, 0},
    {"truncated 2", "\xc3", 0, 0},
    {"truncated 3", "x\xe2\x82", 0, 1},
    {"truncated 4", "xy\xf0\x9f\x90", 0, 2},
    {"truncated then ASCII", "\xe2\x82z", 0, 0},
    {"bare continuation", "\x80", 0, 0},
    {"continuation after a char", "\xc3\xa9\xa9", 0, 2},
    {"lead then ASCII", "\xc2\x41", 0, 0},
    {"after 8 ASCII bytes", "abcdefgh\x80", 0, 8},
    {"after 9 ASCII bytes", "abcdefghi\xc0\x80", 0, 9},
    {"after 16 ASCII bytes", "0123456789abcdef\xf4\x90\x80\x80xyz", 0, 16},
    {"after valid multibyte", "\xf0\x9f\x98\x83\xf0\x9f\x98\x83" "abcdefgh"
     "\xed\xa0\x80", 0, 16},
};

#define N_UTF8 (sizeof utf8_cases / sizeof utf8_cases[0])

static size_t utf8_len(const utf8_case *c)
{
    return c->len != 0 ? c->len : strlen(c->s);
}

static int has_control(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return 1;
    return 0;
}

START_TEST(test_utf8_check)
{
    const utf8_case *c = &utf8_cases[_i];
    size_t len = utf8_len(c);
    size_t want = c->bad == VALID ? len : c->bad;
    unsigned char *buf = tail_copy(c->s, len);

    ck_assert_uint_eq(hf_utf8_check(buf, len), want);
    /* The writer accepts exactly the valid strings. */
    ck_assert_int_eq(hf_json_write_string(NULL, 0, buf, len, NULL),
                     c->bad == VALID ? HF_E_NO_SPACE : HF_E_UTF8);
    free(buf);
}
END_TEST

/* Inside a header string: decoded as is, or invalid-utf8 at the byte. */
START_TEST(test_utf8_in_header)
{
    const utf8_case *c = &utf8_cases[_i];
    size_t len = utf8_len(c);
    bytes json = {0}, in = {0};
    const hf_ext *e;
    hf_decoder d;
    hf_frame f;

    if (has_control(c->s, len))
        return;
    bytes_str(&json, "{\"x\": \"");
    bytes_put(&json, c->s, len);
    bytes_str(&json, "\", " REQ0 "}");
    put_frame(&in, json.p, json.len, NULL, 0);
    init_decoder(&d, NULL);
    if (c->bad == VALID) {
        ck_assert_int_eq(hf_decode(&d, in.p, in.len, &f), HF_OK);
        e = hf_header_find_ext(f.header, "x", 1);
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(e->type, HF_VALUE_STRING);
        ck_assert_uint_eq(e->value.len, len);
        if (len > 0)
            ck_assert_mem_eq(e->value.ptr, c->s, len);
    } else {
        ck_assert_int_eq(hf_decode(&d, in.p, in.len, &f), HF_E_UTF8);
        assert_error(hf_decoder_error(&d), HF_E_UTF8, 9 + c->bad,
                     9 + c->bad, NULL);
    }
    hf_decoder_free(&d);
    bytes_free(&in);
    bytes_free(&json);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Canonical JSON writer                                               */
/* ------------------------------------------------------------------ */

typedef struct json_string_case {
    const char *in;
    size_t len;             /* 0: strlen(in) */
    const char *out;        /* NULL: invalid UTF-8 */
} json_string_case;

/* Expected outputs are those of json.dumps(s, ensure_ascii=False). */
static const json_string_case json_string_cases[] = {
    {"", 0, "\"\""},
    {"plain text", 0, "\"plain text\""},
    {"say \"hi\"", 0, "\"say \\\"hi\\\"\""},
    {"back\\slash", 0, "\"back\\\\slash\""},
    {"\\u0041", 0, "\"\\\\u0041\""},
    {"a/b", 0, "\"a/b\""},
    {"\n\r\t\b\f", 0, "\"\\n\\r\\t\\b\\f\""},
    {"\0", 1, "\"\\u0000\""},
    {"\x01\x1f", 0, "\"\\u0001\\u001f\""},
    {"\x0b\x0e\x1b", 0, "\"\\u000b\\u000e\\u001b\""},
    {" ~\x7f", 0, "\" ~\x7f\""},
    {"\xc2\x80\xc3\xa9", 0, "\"\xc2\x80\xc3\xa9\""},
    {"\xe2\x80\xa8\xe2\x80\xa9", 0, "\"\xe2\x80\xa8\xe2\x80\xa9\""},
    {"\xef\xbb\xbf", 0, "\"\xef\xbb\xbf\""},
    {"\xf0\x9f\x90\xb0 \xf4\x8f\xbf\xbf", 0,
     "\"\xf0\x9f\x90\xb0 \xf4\x8f\xbf\xbf\""},
    {"mix \"\\\n\x01\x7f\xc3\xa9", 0,
     "\"mix \\\"\\\\\\n\\u0001\x7f\xc3\xa9\""},
    {"\xc0\x80", 0, NULL},
    {"ok\xed\xa0\x80", 0, NULL},
    {"\xf4\x90\x80\x80", 0, NULL},
    {"\xe2\x82", 0, NULL},
    {"\x80", 0, NULL},
};

#define N_JSON_STRINGS (sizeof json_string_cases / sizeof json_string_cases[0])

START_TEST(test_json_string)
{
    const json_string_case *c = &json_string_cases[_i];
    size_t len = c->len != 0 ? c->len : strlen(c->in);
    unsigned char *in = tail_copy(c->in, len);
    size_t want, written = 0, cap;
    unsigned char *out;

    if (c->out == NULL) {
        ck_assert_uint_eq(hf_json_string_len(in, len), 0);
        ck_assert_int_eq(hf_json_write_string(NULL, 0, in, len, &written),
                         HF_E_UTF8);
        free(in);
        return;
    }
    want = strlen(c->out);
    ck_assert_uint_eq(hf_json_string_len(in, len), want);
    /* Every too-small buffer (exact size) is refused without overflow. */
    for (cap = 0; cap <= want; cap++) {
        out = malloc(cap > 0 ? cap : 1);
        ck_assert_ptr_nonnull(out);
        written = 0;
        ck_assert_int_eq(hf_json_write_string(out, cap, in, len, &written),
                         cap < want ? HF_E_NO_SPACE : HF_OK);
        ck_assert_uint_eq(written, want);
        if (cap == want)
            ck_assert_mem_eq(out, c->out, want);
        free(out);
    }
    free(in);
}
END_TEST

/* Each byte below 0x20 on its own. */
START_TEST(test_json_control_chars)
{
    static const char *const named[0x20] = {
        ['\b'] = "\\b", ['\t'] = "\\t", ['\n'] = "\\n", ['\f'] = "\\f",
        ['\r'] = "\\r"
    };
    unsigned char c = (unsigned char)_i, out[16];
    char want[16];
    size_t written = 0;

    if (named[c] != NULL)
        snprintf(want, sizeof want, "\"%s\"", named[c]);
    else
        snprintf(want, sizeof want, "\"\\u%04x\"", (unsigned)c);
    ck_assert_int_eq(hf_json_write_string(out, sizeof out, &c, 1, &written),
                     HF_OK);
    ck_assert_uint_eq(written, strlen(want));
    ck_assert_mem_eq(out, want, written);
}
END_TEST

typedef struct json_object_case {
    size_t n;
    const char *k[3];
    const char *v[3];
    const char *out;        /* NULL: invalid UTF-8 */
} json_object_case;

static const json_object_case json_object_cases[] = {
    {0, {NULL}, {NULL}, "{}"},
    {1, {"result"}, {"x"}, "{\"result\": \"x\"}"},
    {2, {"error", "message"}, {"a", "b"},
     "{\"error\": \"a\", \"message\": \"b\"}"},
    {3, {"a", "", "c\""}, {"", "\n", "\xc3\xa9"},
     "{\"a\": \"\", \"\": \"\\n\", \"c\\\"\": \"\xc3\xa9\"}"},
    {1, {"result"}, {"Follow the white rabbit. \xf0\x9f\x90\xb0"},
     "{\"result\": \"Follow the white rabbit. \xf0\x9f\x90\xb0\"}"},
    {2, {"ok", "bad\xff"}, {"1", "2"}, NULL},
    {2, {"ok", "fine"}, {"1", "\xc0\xaf"}, NULL},
};

#define N_JSON_OBJECTS (sizeof json_object_cases / sizeof json_object_cases[0])

START_TEST(test_json_object)
{
    const json_object_case *c = &json_object_cases[_i];
    hf_str keys[3], values[3];
    size_t i, want, written = 0;
    unsigned char *out;

    for (i = 0; i < c->n; i++) {
        keys[i].ptr = c->k[i];
        keys[i].len = strlen(c->k[i]);
        values[i].ptr = c->v[i];
        values[i].len = strlen(c->v[i]);
    }
    if (c->out == NULL) {
        ck_assert_uint_eq(hf_json_object_len(keys, values, c->n), 0);
        ck_assert_int_eq(hf_json_write_object(NULL, 0, keys, values, c->n,
                                              &written), HF_E_UTF8);
        return;
    }
    want = strlen(c->out);
    ck_assert_uint_eq(hf_json_object_len(keys, values, c->n), want);
    out = malloc(want);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(hf_json_write_object(out, want - 1, keys, values, c->n,
                                          &written), HF_E_NO_SPACE);
    ck_assert_uint_eq(written, want);
    written = 0;
    ck_assert_int_eq(hf_json_write_object(out, want, keys, values, c->n,
                                          &written), HF_OK);
    ck_assert_uint_eq(written, want);
    ck_assert_mem_eq(out, c->out, want);
    free(out);
}
END_TEST

/* An empty string may be given as {NULL, 0} to every writer. */
START_TEST(test_write_null_empty)
{
    unsigned char out[256];
    size_t written = 0;
    hf_str key = {"k", 1}, empty = {NULL, 0};
    hf_header h;

    ck_assert_uint_eq(hf_json_string_len(NULL, 0), 2);
    ck_assert_int_eq(hf_json_write_string(out, sizeof out, NULL, 0,
                                          &written), HF_OK);
    ck_assert_uint_eq(written, 2);
    ck_assert_mem_eq(out, "\"\"", 2);
    ck_assert_int_eq(hf_json_write_object(out, sizeof out, &key, &empty, 1,
                                          &written), HF_OK);
    ck_assert_uint_eq(written, 9);
    ck_assert_mem_eq(out, "{\"k\": \"\"}", 9);
    hf_header_init(&h, "t", "e");
    ck_assert_int_eq(hf_header_add_ext(&h, key, empty, HF_VALUE_STRING),
                     HF_OK);
    ck_assert_int_eq(hf_encode_header(&h, out, sizeof out, &written),
                     HF_OK);
    ck_assert_ptr_eq(hf_header_find_ext(&h, "k", 1), &h.ext[0]);
    h.ext[0].key = empty;
    ck_assert_int_eq(hf_encode_header(&h, out, sizeof out, &written),
                     HF_OK);
    ck_assert_ptr_eq(hf_header_find_ext(&h, NULL, 0), &h.ext[0]);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Encoder                                                             */
/* ------------------------------------------------------------------ */

typedef struct enc_case {
    const char *name;
    int byteorder;
    const char *ct;
    const char *ce;
    uint64_t content_length;
    const char *k1;         /* first extension; NULL: none */
    const char *v1;
    int t1;
    const char *k2;         /* second extension; NULL: none */
    const char *v2;
    int t2;
    hf_status code;
} enc_case;

static const enc_case enc_cases[] = {
    {"plain", 1, "t", "e", 5, NULL, NULL, 0, NULL, NULL, 0, HF_OK},
    {"bad byteorder", 2, "t", "e", 5, NULL, NULL, 0, NULL, NULL, 0,
     HF_E_BAD_BYTEORDER},
    {"negative byteorder", -1, "t", "e", 5, NULL, NULL, 0, NULL, NULL, 0,
     HF_E_BAD_BYTEORDER},
    {"empty content-type", 0, "", "e", 0, NULL, NULL, 0, NULL, NULL, 0,
     HF_E_BAD_CONTENT_TYPE},
    {"empty content-encoding", 0, "t", "", 0, NULL, NULL, 0, NULL, NULL, 0,
     HF_E_BAD_CONTENT_ENCODING},
    {"content-type not UTF-8", 0, "\xc0\x80", "e", 0, NULL, NULL, 0, NULL,
     NULL, 0, HF_E_UTF8},
    {"content-encoding not UTF-8", 0, "t", "\xed\xa0\x80", 0, NULL, NULL,
     0, NULL, NULL, 0, HF_E_UTF8},
    {"key not UTF-8", 0, "t", "e", 0, "\xff", "v", HF_VALUE_STRING, NULL,
     NULL, 0, HF_E_UTF8},
    {"value not UTF-8", 0, "t", "e", 0, "k", "\xf5\x80\x80\x80",
     HF_VALUE_STRING, NULL, NULL, 0, HF_E_UTF8},
    {"content-length 2^53 - 1", 0, "t", "e", HF_CONTENT_LIMIT_MAX, NULL,
     NULL, 0, NULL, NULL, 0, HF_OK},
    {"content-length 2^53", 0, "t", "e", HF_CONTENT_LIMIT_MAX + 1, NULL,
     NULL, 0, NULL, NULL, 0, HF_E_CONTENT_TOO_LONG},
    {"duplicate extension", 0, "t", "e", 0, "k", "1", HF_VALUE_NUMBER, "k",
     "2", HF_VALUE_NUMBER, HF_E_DUPLICATE_KEY},
    {"extension byteorder", 0, "t", "e", 0, "byteorder", "big",
     HF_VALUE_STRING, NULL, NULL, 0, HF_E_DUPLICATE_KEY},
    {"extension content-type", 0, "t", "e", 0, "content-type", "t",
     HF_VALUE_STRING, NULL, NULL, 0, HF_E_DUPLICATE_KEY},
    {"extension content-encoding", 0, "t", "e", 0, "x", "1",
     HF_VALUE_NUMBER, "content-encoding", "e", HF_VALUE_STRING,
     HF_E_DUPLICATE_KEY},
    {"extension content-length", 0, "t", "e", 0, "content-length", "0",
     HF_VALUE_NUMBER, NULL, NULL, 0, HF_E_DUPLICATE_KEY},
    {"case differs", 0, "t", "e", 0, "Content-Type", "t", HF_VALUE_STRING,
     "content-type ", "t", HF_VALUE_STRING, HF_OK},
    {"empty key and value", 0, "t", "e", 0, "", "", HF_VALUE_STRING, NULL,
     NULL, 0, HF_OK},
    {"unknown value type", 0, "t", "e", 0, "k", "1", 99, NULL, NULL, 0,
     HF_E_INVALID_ARGUMENT},
    {"literals", 0, "t", "e", 0, "a", "ignored", HF_VALUE_TRUE, "b", NULL,
     HF_VALUE_NULL, HF_OK},
};

#define N_ENC (sizeof enc_cases / sizeof enc_cases[0])

static void set_str(hf_str *s, const char *z)
{
    s->ptr = z;
    s->len = z != NULL ? strlen(z) : 0;
}

static void enc_case_header(hf_header *h, const enc_case *c)
{
    hf_str k, v;

    hf_header_init(h, c->ct, c->ce);
    h->byteorder = (hf_byteorder)c->byteorder;
    h->content_length = c->content_length;
    if (c->k1 != NULL) {
        set_str(&k, c->k1);
        set_str(&v, c->v1);
        ck_assert_int_eq(hf_header_add_ext(h, k, v, (hf_value_type)c->t1),
                         HF_OK);
    }
    if (c->k2 != NULL) {
        set_str(&k, c->k2);
        set_str(&v, c->v2);
        ck_assert_int_eq(hf_header_add_ext(h, k, v, (hf_value_type)c->t2),
                         HF_OK);
    }
}

START_TEST(test_encoder_refusals)
{
    const enc_case *c = &enc_cases[_i];
    unsigned char out[512], json_copy[512];
    size_t written = 0, n;
    hf_limits lim;
    hf_decoder d;
    hf_header h;

    enc_case_header(&h, c);
    ck_assert_int_eq(hf_encode_header(&h, out, sizeof out, &written),
                     c->code);
    n = hf_header_json_len(&h);
    if (c->code != HF_OK) {
        ck_assert_uint_eq(n, 0);
        if (c->code != HF_E_CONTENT_TOO_LONG)
            ck_assert_int_eq(hf_encode(&h, "", 0, out, sizeof out,
                                       &written), c->code);
        ck_assert(!hf_header_is_canonical(&h, "{}", 2));
        return;
    }
    ck_assert_uint_eq(n + 2, written);
    ck_assert_uint_eq((size_t)out[0] << 8 | out[1], n);
    ck_assert(hf_header_is_canonical(&h, out + 2, n));
    /* What the encoder accepts, the decoder accepts, canonical. */
    memcpy(json_copy, out + 2, n);
    hf_limits_default(&lim);
    lim.max_content = HF_CONTENT_LIMIT_MAX;
    init_decoder(&d, &lim);
    ck_assert_int_eq(hf_parse_header(&d, json_copy, n), HF_OK);
    ck_assert(hf_header_is_canonical(hf_decoder_header(&d), json_copy, n));
    ck_assert_uint_eq(hf_decoder_header(&d)->content_length,
                      c->content_length);
    hf_decoder_free(&d);
}
END_TEST

/* NUMBER values must be exactly one JSON number; their text is kept. */
typedef struct number_case {
    const char *text;
    int valid;
} number_case;

typedef struct surrogate_case {
    const char *json;
    size_t at;          /* expected result; (size_t)-1: strlen(json) */
} surrogate_case;

static const surrogate_case surrogate_cases[] = {
    {"{}", (size_t)-1},
    {"\"\\ud83d\\ude00\"", (size_t)-1},
    {"\"\\uD83D\\uDE00\"", (size_t)-1},
    {"\"\\\\ud800\"", (size_t)-1},          /* escaped backslash, then text */
    {"\"\\u0041\\n\\\"\"", (size_t)-1},
    {"\"\\ud800\"", 1},
    {"\"ab\\udc00\"", 3},
    {"\"\\ud800\\u0041\"", 1},
    {"\"\\ud800\\ud800\\udc00\"", 1},
    {"[\"\\ud83d\\ude00\", \"\\udfff\"]", 18},
    {"\"\\ud800", 1},                       /* cut short */
    {"\"\\ud800\\", 1},
    {"\\", (size_t)-1},
};

#define N_SURROGATES (sizeof surrogate_cases / sizeof surrogate_cases[0])

START_TEST(test_json_lone_surrogate)
{
    const surrogate_case *v = &surrogate_cases[_i];
    size_t n = strlen(v->json);
    size_t want = v->at == (size_t)-1 ? n : v->at;
    unsigned char *buf = malloc(n > 0 ? n : 1);

    /* At the end of an exact-size buffer: over-reads are caught. */
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, v->json, n);
    ck_assert_msg(hf_json_lone_surrogate(buf, n) == want,
                  "case %d: %zu, want %zu", _i,
                  hf_json_lone_surrogate(buf, n), want);
    free(buf);
}
END_TEST

static const number_case number_cases[] = {
    {"0", 1}, {"-0", 1}, {"-1.5e3", 1}, {"1E+2", 1}, {"0.5", 1},
    {"1e-7", 1}, {"-0.0", 1}, {"12345678901234567890123", 1},
    {"", 0}, {" 1", 0}, {"1 ", 0}, {"1\n", 0}, {"abc", 0}, {"1.", 0},
    {".5", 0}, {"+1", 0}, {"1e", 0}, {"--1", 0}, {"0x10", 0}, {"NaN", 0},
    {"Infinity", 0}, {"-Infinity", 0}, {"1,2", 0}, {"\"1\"", 0},
    {"true", 0}, {"null", 0}, {"01", 0}, {"1.5.2", 0}, {"- 1", 0},
    {"[1]", 0}, {"1/", 0}, {"\f1", 0}, {"\v1", 0}, {"1\f", 0}, {"\t1", 0},
    /* yajl takes a complete value followed by an unfinished token. */
    {"0\"01432", 0}, {"1\"", 0}, {"1t", 0}, {"1[", 0}, {"1{", 0},
};

#define N_NUMBERS (sizeof number_cases / sizeof number_cases[0])

START_TEST(test_encoder_number_text)
{
    const number_case *c = &number_cases[_i];
    size_t len = strlen(c->text), written = 0;
    char *text = (char *)tail_copy(c->text, len);
    unsigned char out[256];
    const hf_ext *e;
    hf_str k = {"n", 1}, v = {text, len};
    hf_decoder d;
    hf_header h;
    hf_frame f;

    hf_header_init(&h, "t", "e");
    ck_assert_int_eq(hf_header_add_ext(&h, k, v, HF_VALUE_NUMBER), HF_OK);
    if (!c->valid) {
        ck_assert_int_eq(hf_encode(&h, NULL, 0, out, sizeof out, &written),
                         HF_E_INVALID_ARGUMENT);
        ck_assert_uint_eq(hf_header_json_len(&h), 0);
        free(text);
        return;
    }
    ck_assert_int_eq(hf_encode(&h, NULL, 0, out, sizeof out, &written),
                     HF_OK);
    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_decode(&d, out, written, &f), HF_OK);
    e = hf_header_find_ext(f.header, "n", 1);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->type, HF_VALUE_NUMBER);
    assert_str_is(e->value, c->text);
    hf_decoder_free(&d);
    free(text);
}
END_TEST

/* Every buffer one byte too small is refused, *written tells the need,
 * and nothing is written past the buffer (each is exact-size). */
START_TEST(test_encoder_no_space)
{
    const golden *g = &goldens[_i];
    size_t cap, hdr = 2 + g->header_len, written;
    unsigned char *out;
    hf_header h;

    hf_header_init(&h, g->content_type, g->content_encoding);
    h.byteorder = g->byteorder;
    for (cap = 0; cap <= g->frame_len; cap++) {
        out = cap > 0 ? malloc(cap) : NULL;
        written = 0;
        ck_assert_int_eq(hf_encode(&h, g->content, g->content_len, out, cap,
                                   &written),
                         cap < g->frame_len ? HF_E_NO_SPACE : HF_OK);
        ck_assert_uint_eq(written, g->frame_len);
        h.content_length = g->content_len;
        written = 0;
        ck_assert_int_eq(hf_encode_header(&h, out, cap, &written),
                         cap < hdr ? HF_E_NO_SPACE : HF_OK);
        ck_assert_uint_eq(written, hdr);
        if (cap >= hdr)
            ck_assert_mem_eq(out, g->frame, hdr);
        if (cap == g->frame_len)
            ck_assert_mem_eq(out, g->frame, g->frame_len);
        free(out);
    }
}
END_TEST

START_TEST(test_encoder_extension_count)
{
    char keys[HF_EXT_MAX + 1][8];
    unsigned char *out;
    size_t i, written = 0;
    hf_str k, v = {"1", 1};
    hf_decoder d;
    hf_header h;
    hf_frame f;

    hf_header_init(&h, "t", "e");
    for (i = 0; i < HF_EXT_MAX; i++) {
        snprintf(keys[i], sizeof keys[i], "k%zu", i);
        set_str(&k, keys[i]);
        ck_assert_int_eq(hf_header_add_ext(&h, k, v, HF_VALUE_NUMBER),
                         HF_OK);
    }
    set_str(&k, "one-too-many");
    ck_assert_int_eq(hf_header_add_ext(&h, k, v, HF_VALUE_NUMBER),
                     HF_E_TOO_MANY_EXTENSIONS);
    ck_assert_uint_eq(h.n_ext, HF_EXT_MAX);
    ck_assert_ptr_eq(hf_header_find_ext(&h, "k63", 3), &h.ext[63]);
    ck_assert_ptr_null(hf_header_find_ext(&h, "one-too-many", 12));
    ck_assert_ptr_null(hf_header_find_ext(&h, "k6", 1));

    /* 64 extensions encode and decode. */
    ck_assert_int_eq(hf_encode(&h, "", 0, NULL, 0, &written),
                     HF_E_NO_SPACE);
    out = malloc(written);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(hf_encode(&h, "", 0, out, written, &written), HF_OK);
    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_decode(&d, out, written, &f), HF_OK);
    ck_assert_uint_eq(f.header->n_ext, HF_EXT_MAX);
    hf_decoder_free(&d);
    free(out);

    /* A content length above 2^53 - 1 is refused before it is read. */
    ck_assert_int_eq(hf_encode(&h, "x", (size_t)HF_CONTENT_LIMIT_MAX + 1,
                               NULL, 0, &written), HF_E_CONTENT_TOO_LONG);

    /* A table claiming more is refused. */
    h.n_ext = HF_EXT_MAX + 1;
    ck_assert_int_eq(hf_encode_header(&h, NULL, 0, &written),
                     HF_E_TOO_MANY_EXTENSIONS);
    ck_assert_uint_eq(hf_header_json_len(&h), 0);
}
END_TEST

/* The JSON text may be at most 65535 bytes: at the bound and above. */
START_TEST(test_encoder_header_too_long)
{
    size_t base, written = 0;
    hf_str k = {"pad", 3}, v = {"", 0};
    unsigned char *out;
    char *pad;
    hf_decoder d;
    hf_header h;
    hf_frame f;

    hf_header_init(&h, "t", "e");
    ck_assert_int_eq(hf_header_add_ext(&h, k, v, HF_VALUE_STRING), HF_OK);
    base = hf_header_json_len(&h);
    ck_assert_uint_gt(base, 0);
    pad = malloc(HF_HEADER_MAX + 1);
    ck_assert_ptr_nonnull(pad);
    memset(pad, 'p', HF_HEADER_MAX + 1);
    h.ext[0].value.ptr = pad;
    h.ext[0].value.len = HF_HEADER_MAX - base;
    ck_assert_uint_eq(hf_header_json_len(&h), HF_HEADER_MAX);
    out = malloc(2 + HF_HEADER_MAX);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(hf_encode(&h, NULL, 0, out, 2 + HF_HEADER_MAX,
                               &written), HF_OK);
    ck_assert_uint_eq(written, 2 + HF_HEADER_MAX);
    ck_assert_uint_eq(out[0], 0xff);
    ck_assert_uint_eq(out[1], 0xff);
    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_decode(&d, out, written, &f), HF_OK);
    ck_assert_uint_eq(f.header->header_len, HF_HEADER_MAX);
    hf_decoder_free(&d);
    h.ext[0].value.len++;
    ck_assert_int_eq(hf_encode(&h, NULL, 0, out, 2 + HF_HEADER_MAX,
                               &written), HF_E_HEADER_TOO_LONG);
    ck_assert_int_eq(hf_encode_header(&h, out, 2 + HF_HEADER_MAX, &written),
                     HF_E_HEADER_TOO_LONG);
    ck_assert_uint_eq(hf_header_json_len(&h), 0);   /* cannot be encoded */
    /* Escapes count: one control byte more makes six bytes more. */
    h.ext[0].value.len = HF_HEADER_MAX - base - 5;
    pad[0] = '\x01';
    ck_assert_int_eq(hf_encode_header(&h, out, 2 + HF_HEADER_MAX, &written),
                     HF_OK);
    h.ext[0].value.len++;
    ck_assert_int_eq(hf_encode_header(&h, out, 2 + HF_HEADER_MAX, &written),
                     HF_E_HEADER_TOO_LONG);
    free(out);
    free(pad);
}
END_TEST

/* hf_header_is_canonical compares the exact bytes. */
START_TEST(test_is_canonical)
{
    const golden *g = &goldens[0];
    const char *json = g->frame + 2;
    size_t n = g->header_len;
    hf_header h;
    hf_decoder d;
    hf_frame f;

    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_decode(&d, g->frame, g->frame_len, &f), HF_OK);
    h = *f.header;
    ck_assert(hf_header_is_canonical(&h, json, n));
    ck_assert(!hf_header_is_canonical(&h, json, n - 1));
    ck_assert(!hf_header_is_canonical(&h, g->frame + 2, n + 1));
    h.content_length = 42;
    ck_assert(!hf_header_is_canonical(&h, json, n));
    h.content_length = g->content_len;
    h.byteorder = HF_BYTEORDER_LITTLE;
    ck_assert(!hf_header_is_canonical(&h, json, n));
    h.byteorder = HF_BYTEORDER_BIG;
    ck_assert(hf_header_is_canonical(&h, json, n));
    ck_assert(!hf_header_is_canonical(&h, "{}", 2));
    ck_assert(!hf_header_is_canonical(&h, "", 0));
    hf_decoder_free(&d);
}
END_TEST

START_TEST(test_byteorder_names)
{
    hf_byteorder host = hf_host_byteorder();
    const uint16_t probe = 0x0102;
    unsigned char first;

    memcpy(&first, &probe, 1);
    ck_assert_int_eq(host, first == 0x02 ? HF_BYTEORDER_LITTLE :
                                           HF_BYTEORDER_BIG);
    ck_assert_str_eq(hf_byteorder_name(HF_BYTEORDER_LITTLE), "little");
    ck_assert_str_eq(hf_byteorder_name(HF_BYTEORDER_BIG), "big");
    ck_assert_str_eq(hf_byteorder_name((hf_byteorder)7), "unknown");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Round trip: encode -> decode -> encode on generated frames          */
/* ------------------------------------------------------------------ */

/* splitmix64: a small deterministic generator, seeded per frame. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static size_t rng_below(uint64_t *s, size_t n)
{
    return (size_t)(rng_next(s) % n);
}

static void put_code_point(bytes *b, uint32_t cp)
{
    unsigned char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    bytes_put(b, u, n);
}

/* One code point, biased towards what needs escaping or is multibyte. */
static uint32_t rand_code_point(uint64_t *s)
{
    static const uint32_t special[] = {
        '"', '\\', '/', 0x7f, 0x1f4a9, 0x1f430, 0x1f603, 0xfeff, 0x2028,
        0xffff, 0x10ffff, 0xd7ff, 0xe000, 0x80, 0x7ff, 0x800
    };
    uint32_t cp;

    switch (rng_below(s, 8)) {
    case 0:
        return (uint32_t)rng_below(s, 0x20);
    case 1:
        return special[rng_below(s, sizeof special / sizeof special[0])];
    case 2:
        return 0x80 + (uint32_t)rng_below(s, 0x800 - 0x80);
    case 3:
        cp = 0x800 + (uint32_t)rng_below(s, 0x10000 - 0x800);
        return cp >= 0xd800 && cp <= 0xdfff ? cp - 0x800 : cp;
    case 4:
        return 0x10000 + (uint32_t)rng_below(s, 0x110000 - 0x10000);
    default:
        return 0x20 + (uint32_t)rng_below(s, 0x7f - 0x20);
    }
}

static void rand_string(uint64_t *s, bytes *b, size_t min, size_t max)
{
    size_t n = min + rng_below(s, max - min + 1), i;

    for (i = 0; i < n; i++)
        put_code_point(b, rand_code_point(s));
}

static const char *const number_texts[] = {
    "0", "-0", "7", "-1.5e3", "1E+2", "0.25", "3.14159", "-12",
    "6.02e23", "1e-7", "12345678901234567890"
};

/* Everything a generated frame points at. */
typedef struct gen_frame {
    hf_header h;
    bytes text[2 + 2 * HF_EXT_MAX];
    bytes content;
} gen_frame;

static hf_str text_str(const bytes *b)
{
    hf_str s;

    /* An empty string stays {NULL, 0}: the encoder takes that. */
    s.ptr = (const char *)b->p;
    s.len = b->len;
    return s;
}

static void gen_ext(uint64_t *s, gen_frame *g, size_t i)
{
    bytes *key = &g->text[2 + 2 * i], *val = &g->text[3 + 2 * i];
    hf_value_type t = (hf_value_type)rng_below(s, 5);

    /* The "-<i>" suffix keeps keys distinct from each other and from the
     * required keys. */
    rand_string(s, key, 0, 6);
    bytes_printf(key, "-%zu", i);
    if (t == HF_VALUE_STRING)
        rand_string(s, val, 0, 12);
    else if (t == HF_VALUE_NUMBER)
        bytes_str(val, number_texts[rng_below(s, sizeof number_texts /
                                                 sizeof number_texts[0])]);
    else
        bytes_str(val, t == HF_VALUE_TRUE ? "true" :
                       t == HF_VALUE_FALSE ? "false" : "null");
    ck_assert_int_eq(hf_header_add_ext(&g->h, text_str(key), text_str(val),
                                       t), HF_OK);
}

static void gen_frame_make(gen_frame *g, uint64_t seed)
{
    uint64_t s = seed;
    size_t i, n_ext, n;

    memset(g, 0, sizeof *g);
    rand_string(&s, &g->text[0], 1, 10);
    rand_string(&s, &g->text[1], 1, 6);
    hf_header_init(&g->h, NULL, NULL);
    g->h.content_type = text_str(&g->text[0]);
    g->h.content_encoding = text_str(&g->text[1]);
    g->h.byteorder = rng_below(&s, 2) ? HF_BYTEORDER_BIG :
                                        HF_BYTEORDER_LITTLE;
    n_ext = rng_below(&s, 10) == 0 ? HF_EXT_MAX : rng_below(&s, 8);
    for (i = 0; i < n_ext; i++)
        gen_ext(&s, g, i);
    n = rng_below(&s, 3) == 0 ? 0 : rng_below(&s, 200);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rng_next(&s);

        bytes_put(&g->content, &c, 1);
    }
}

static void gen_frame_free(gen_frame *g)
{
    size_t i;

    for (i = 0; i < sizeof g->text / sizeof g->text[0]; i++)
        bytes_free(&g->text[i]);
    bytes_free(&g->content);
}

static void assert_str_eq(hf_str a, hf_str b)
{
    ck_assert_uint_eq(a.len, b.len);
    if (a.len > 0)
        ck_assert_mem_eq(a.ptr, b.ptr, a.len);
}

static void assert_same_header(const hf_header *got, const hf_header *want)
{
    size_t i;

    ck_assert_int_eq(got->byteorder, want->byteorder);
    assert_str_eq(got->content_type, want->content_type);
    assert_str_eq(got->content_encoding, want->content_encoding);
    ck_assert_uint_eq(got->n_ext, want->n_ext);
    for (i = 0; i < want->n_ext; i++) {
        assert_str_eq(got->ext[i].key, want->ext[i].key);
        assert_str_eq(got->ext[i].value, want->ext[i].value);
        ck_assert_int_eq(got->ext[i].type, want->ext[i].type);
    }
}

/* Encode with an exact-size buffer sized by a first, empty call. */
static unsigned char *encode_exact(const hf_header *h, const bytes *content,
                                   size_t *len)
{
    unsigned char *out;

    ck_assert_int_eq(hf_encode(h, content->p, content->len, NULL, 0, len),
                     HF_E_NO_SPACE);
    out = malloc(*len);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(hf_encode(h, content->p, content->len, out, *len, len),
                     HF_OK);
    return out;
}

/* A few hundred frames, in batches (one test process per batch). */
#define N_ROUND_TRIPS 300
#define ROUND_TRIP_BATCH 10


static void round_trip_one(unsigned k)
{
    gen_frame *g = malloc(sizeof *g);
    unsigned char *first, *second;
    size_t len1, len2;
    hf_decoder d;
    hf_frame f;
    trace whole, t;

    ck_assert_ptr_nonnull(g);
    gen_frame_make(g, (uint64_t)k * 7919 + 1);
    first = encode_exact(&g->h, &g->content, &len1);
    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_decode(&d, first, len1, &f), HF_OK);
    ck_assert_uint_eq(f.frame_len, len1);
    assert_same_header(f.header, &g->h);
    ck_assert_uint_eq(f.header->content_length, g->content.len);
    ck_assert_uint_eq(f.content_len, g->content.len);
    if (g->content.len > 0)
        ck_assert_mem_eq(f.content, g->content.p, g->content.len);
    ck_assert(hf_header_is_canonical(f.header, first + 2,
                                     f.header->header_len));
    ck_assert_uint_eq(hf_header_json_len(f.header), f.header->header_len);
    second = encode_exact(f.header, &g->content, &len2);
    ck_assert_uint_eq(len2, len1);
    ck_assert_mem_eq(second, first, len1);

    /* The streaming decoder agrees when the frame is cut in two (and
     * byte by byte: see test_round_trip_stream). */
    trace_run(&whole, NULL, first, len1, len1, 0);
    trace_run(&t, NULL, first, len1, (size_t)k % (len1 + 1), 0);
    assert_traces_eq(&whole, &t);
    trace_free(&t);
    trace_free(&whole);
    hf_decoder_free(&d);
    free(second);
    free(first);
    gen_frame_free(g);
    free(g);
}

START_TEST(test_round_trip)
{
    unsigned k;

    for (k = 0; k < ROUND_TRIP_BATCH; k++)
        round_trip_one((unsigned)_i * ROUND_TRIP_BATCH + k);
}
END_TEST

/* Non-zero when s contains the byte c. */
static int str_has(hf_str s, unsigned char c)
{
    return s.len > 0 && memchr(s.ptr, c, s.len) != NULL;
}

/* The generated frames really hold what the round trip is meant to
 * cover: every value type, every kind of character, 64 extensions. */
START_TEST(test_round_trip_coverage)
{
    gen_frame *g = malloc(sizeof *g);
    int types[5] = {0}, ctl = 0, quote = 0, bslash = 0, del = 0, four = 0;
    int full = 0, empty = 0, neg_exp = 0;
    hf_str v;
    size_t i;
    int k;

    ck_assert_ptr_nonnull(g);
    for (k = 0; k < N_ROUND_TRIPS; k++) {
        gen_frame_make(g, (uint64_t)k * 7919 + 1);
        full += g->h.n_ext == HF_EXT_MAX;
        empty += g->content.len == 0;
        for (i = 0; i < g->h.n_ext; i++) {
            v = g->h.ext[i].value;
            types[g->h.ext[i].type]++;
            if (g->h.ext[i].type != HF_VALUE_STRING) {
                neg_exp += v.len == 6 && memcmp(v.ptr, "-1.5e3", 6) == 0;
                continue;
            }
            ctl += str_has(v, '\x01') || str_has(v, '\n');
            quote += str_has(v, '"');
            bslash += str_has(v, '\\');
            del += str_has(v, 0x7f);
            four += str_has(v, 0xf0) || str_has(v, 0xf4);
        }
        gen_frame_free(g);
    }
    for (k = 0; k < 5; k++)
        ck_assert_int_gt(types[k], 0);
    ck_assert_int_gt(ctl, 0);
    ck_assert_int_gt(quote, 0);
    ck_assert_int_gt(bslash, 0);
    ck_assert_int_gt(del, 0);
    ck_assert_int_gt(four, 0);
    ck_assert_int_gt(full, 0);
    ck_assert_int_gt(empty, 0);
    ck_assert_int_gt(neg_exp, 0);
    free(g);
}
END_TEST

/* All generated frames in one stream, pushed in pieces of 1..31 bytes. */
START_TEST(test_round_trip_stream)
{
    gen_frame *g = malloc(sizeof *g);
    bytes in = {0}, contents = {0};
    unsigned char *frame;
    size_t len, step;
    trace whole, t;
    int i;

    ck_assert_ptr_nonnull(g);
    for (i = 0; i < N_ROUND_TRIPS; i++) {
        gen_frame_make(g, (uint64_t)i * 7919 + 1);
        frame = encode_exact(&g->h, &g->content, &len);
        bytes_put(&in, frame, len);
        bytes_put(&contents, g->content.p, g->content.len);
        free(frame);
        gen_frame_free(g);
    }
    trace_run(&whole, NULL, in.p, in.len, in.len, 0);
    ck_assert_int_eq(whole.finish, HF_OK);
    assert_bytes_eq(&whole.content, &contents);
    for (step = 1; step <= 31; step += 5) {
        trace_run(&t, NULL, in.p, in.len, 0, step);
        assert_traces_eq(&whole, &t);
        trace_free(&t);
    }
    trace_free(&whole);
    bytes_free(&contents);
    bytes_free(&in);
    free(g);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Suite                                                               */
/* ------------------------------------------------------------------ */

static TCase *tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return tc;
}

/* ------------------------------------------------------------------ */
/* The vectors of tests/vectors/                                        */
/* ------------------------------------------------------------------ */

static vec_set golden_set, header_error_set, prefix_error_set;

static hf_status status_of(const vec_set *s, size_t i)
{
    const char *name = vec_text(s, i, "error", 1);
    int st;

    for (st = 0; st < HF_STATUS_COUNT; st++)
        if (strcmp(hf_status_name((hf_status)st), name) == 0)
            return (hf_status)st;
    fprintf(stderr, "%s:%zu: unknown error \"%s\"\n", s->path, s->line[i],
            name);
    exit(1);
}

static void *array_of(size_t n, size_t size)
{
    void *p = calloc(n, size);

    if (p == NULL) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static void load_goldens(void)
{
    const vec_set *s = &golden_set;
    const char *bo;
    size_t i;

    vec_load(&golden_set, "golden");
    n_golden = s->n;
    goldens = array_of(n_golden, sizeof *goldens);
    for (i = 0; i < n_golden; i++) {
        golden *g = &goldens[i];

        g->frame = (const char *)vec_bytes(s, i, "frame", &g->frame_len);
        g->content = (const char *)vec_bytes(s, i, "content",
                                             &g->content_len);
        bo = vec_text(s, i, "byteorder", 1);
        g->byteorder = strcmp(bo, "big") == 0 ? HF_BYTEORDER_BIG
                                              : HF_BYTEORDER_LITTLE;
        g->content_type = vec_text(s, i, "content-type", 1);
        g->content_encoding = vec_text(s, i, "content-encoding", 1);
        g->header_len = (size_t)vec_count(s, i, "header-length", 0);
    }
}

/* The vectors of tests/vectors/FILE.jsonl, their input in member key. */
static refused *load_refused(vec_set *s, const char *file, const char *key,
                             size_t *n)
{
    refused *out;
    size_t i;

    vec_load(s, file);
    *n = s->n;
    out = array_of(s->n, sizeof *out);
    for (i = 0; i < s->n; i++) {
        refused *b = &out[i];

        b->name = vec_text(s, i, "name", 1);
        b->bytes = (const char *)vec_bytes(s, i, key, &b->len);
        b->max_header = (size_t)vec_count(s, i, "max-header", HF_HEADER_MAX);
        b->code = status_of(s, i);
        b->offset = (size_t)vec_count(s, i, "offset", 0);
        b->detail = vec_text(s, i, "detail", 0);
    }
    return out;
}

static void free_vectors(void)
{
    size_t i;

    for (i = 0; i < n_golden; i++) {
        free((void *)goldens[i].frame);
        free((void *)goldens[i].content);
    }
    for (i = 0; i < n_bad; i++)
        free((void *)bad_headers[i].bytes);
    for (i = 0; i < n_bad_prefix; i++)
        free((void *)bad_prefixes[i].bytes);
    free(goldens);
    free(bad_headers);
    free(bad_prefixes);
    vec_free(&golden_set);
    vec_free(&header_error_set);
    vec_free(&prefix_error_set);
}

static Suite *codec_suite(void)
{
    Suite *s = suite_create("codec");
    TCase *tc;

    tc = tcase(s, "status");
    tcase_add_loop_test(tc, test_status_name, 0, HF_STATUS_COUNT);
    tcase_add_test(tc, test_status_unknown);

    tc = tcase(s, "golden");
    tcase_add_loop_test(tc, test_golden_decode, 0, (int)n_golden);
    tcase_add_loop_test(tc, test_golden_reencode, 0, (int)n_golden);
    tcase_add_loop_test(tc, test_golden_encode_fresh, 0, (int)n_golden);
    tcase_add_loop_test(tc, test_golden_split, 0, (int)n_golden);

    tc = tcase(s, "valid frames");
    tcase_add_loop_test(tc, test_good_decode, 0, (int)N_GOOD);
    tcase_add_loop_test(tc, test_good_split, 0, (int)N_GOOD);
    tcase_add_test(tc, test_ext_values);

    tc = tcase(s, "error vectors");
    tcase_add_loop_test(tc, test_bad_decode, 0, (int)n_bad);
    tcase_add_loop_test(tc, test_bad_split, 0, (int)n_bad);
    tcase_add_loop_test(tc, test_bad_prefix, 0, (int)n_bad_prefix);
    tcase_add_test(tc, test_detail_long_key);

    tc = tcase(s, "streaming");
    tcase_add_test(tc, test_zero_content);
    tcase_add_test(tc, test_several_frames);
    tcase_add_loop_test(tc, test_several_frames_split, 0, (int)n_golden);
    tcase_add_test(tc, test_header_lifetime);
    tcase_add_test(tc, test_empty_push);
    tcase_add_test(tc, test_reset_mid_frame);
    tcase_add_test(tc, test_same_header);
    tcase_add_test(tc, test_error_sticky);
    tcase_add_loop_test(tc, test_decode_need, 0, (int)n_golden);
    tcase_add_test(tc, test_decode_need_zero_content);
    tcase_add_test(tc, test_threads);

    tc = tcase(s, "truncation");
    tcase_add_loop_test(tc, test_truncated, 0, (int)N_TRUNCATIONS);
    tcase_add_test(tc, test_finish_clean);

    tc = tcase(s, "out of memory");
    tcase_add_test(tc, test_nomem_first);
    tcase_add_test(tc, test_nomem_nth);
    tcase_add_test(tc, test_nomem_recover);
    tcase_add_test(tc, test_buffers_reused);
    tcase_add_test(tc, test_alloc_hooks_used);
    tcase_add_test(tc, test_yajl_arena);
    tcase_add_loop_test(tc, test_alloc_bound, 0, (int)N_ALLOC_BOUNDS);

    tc = tcase(s, "abi");
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_abi_layout);

    tc = tcase(s, "invalid arguments");
    tcase_add_loop_test(tc, test_bad_limits, 0, (int)N_BAD_LIMITS);
    tcase_add_test(tc, test_null_arguments);
    tcase_add_test(tc, test_null_arguments_everywhere);

    tc = tcase(s, "limits");
    tcase_add_loop_test(tc, test_limits, 0, (int)N_LIMIT_CASES);
    tcase_add_loop_test(tc, test_content_length_digits, 0,
                        (int)N_LONG_LENGTHS);
    tcase_add_test(tc, test_limits_check);
    tcase_add_test(tc, test_parse_header_length);
    tcase_add_test(tc, test_largest_header_streamed);

    tc = tcase(s, "utf-8");
    tcase_add_loop_test(tc, test_utf8_check, 0, (int)N_UTF8);
    tcase_add_loop_test(tc, test_utf8_in_header, 0, (int)N_UTF8);

    tc = tcase(s, "json writer");
    tcase_add_loop_test(tc, test_json_string, 0, (int)N_JSON_STRINGS);
    tcase_add_loop_test(tc, test_json_control_chars, 0, 0x20);
    tcase_add_loop_test(tc, test_json_object, 0, (int)N_JSON_OBJECTS);
    tcase_add_test(tc, test_write_null_empty);

    tc = tcase(s, "encoder");
    tcase_add_loop_test(tc, test_encoder_refusals, 0, (int)N_ENC);
    tcase_add_loop_test(tc, test_encoder_number_text, 0, (int)N_NUMBERS);
    tcase_add_loop_test(tc, test_json_lone_surrogate, 0, (int)N_SURROGATES);
    tcase_add_loop_test(tc, test_encoder_no_space, 0, (int)n_golden);
    tcase_add_test(tc, test_encoder_extension_count);
    tcase_add_test(tc, test_encoder_header_too_long);
    tcase_add_test(tc, test_is_canonical);
    tcase_add_test(tc, test_byteorder_names);

    tc = tcase(s, "round trip");
    tcase_add_loop_test(tc, test_round_trip, 0,
                        N_ROUND_TRIPS / ROUND_TRIP_BATCH);
    tcase_add_test(tc, test_round_trip_stream);
    tcase_add_test(tc, test_round_trip_coverage);
    return s;
}

/* Built with AddressSanitizer (clang's __has_feature, gcc's macro). */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

int main(void)
{
    SRunner *sr;
    int failed;

    load_goldens();
    bad_headers = load_refused(&header_error_set, "header-errors", "header",
                               &n_bad);
    bad_prefixes = load_refused(&prefix_error_set, "prefix-errors", "frame",
                                &n_bad_prefix);
    sr = srunner_create(codec_suite());
    /* Under AddressSanitizer a process per test costs some 80 ms to
     * start and end (LeakSanitizer scans each one at exit): over a
     * minute for the whole suite. The codec keeps no state between
     * tests (an allocator belongs to its decoder), so that build runs
     * them all in this process, scanned once at exit; the plain build
     * keeps a process per test, with its timeout. CK_FORK, when set,
     * decides. */
    if (UNDER_ASAN && getenv("CK_FORK") == NULL)
        srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    free_vectors();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
