/*
 * check_codec.c - the Check suite for libhframe (codec/).
 *
 * Sections, one per concern:
 *   helpers         exact-size input blocks, a growable byte log, frames
 *   traces          drive the streaming decoder and log what it reports
 *   status          names and messages of every hf_status
 *   golden          the four frames of the reference transcript
 *   valid frames    every valid vector, whole and in every split
 *   error vectors   every decoder error with its offsets, in every split
 *
 * Every decoder input sits at the very end of an exact-size heap block so
 * that an over-read by one byte is caught by AddressSanitizer.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hframe.h"

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
    ck_assert_ptr_nonnull(b);
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
        ck_assert_ptr_nonnull(b->p);
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
    ck_assert_int_ge(n, 0);
    ck_assert_int_lt(n, (int)sizeof tmp);
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

static void init_decoder(hf_decoder *d, const hf_limits *lim)
{
    ck_assert_int_eq(hf_decoder_init(d, lim), HF_OK);
}

/* Every decoded string is NUL-terminated just past its length. */
static void assert_terminated(hf_str s)
{
    ck_assert_ptr_nonnull(s.ptr);
    ck_assert_int_eq(s.ptr[s.len], '\0');
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
    unsigned char out[HF_PREFIX_LEN + HF_HEADER_MAX];
    size_t written = 0;
    hf_status st;

    ck_assert_ptr_nonnull(h);
    assert_header_strings(h);
    st = hf_encode_header(h, out, sizeof out, &written);
    bytes_printf(&t->log, "H%zu/%d/", h->header_len, (int)st);
    if (st == HF_OK)
        bytes_put(&t->log, out, written);
}

static void trace_error(trace *t, const hf_decoder *d)
{
    const hf_error *e = hf_decoder_error(d);

    ck_assert_int_ne(e->code, HF_OK);
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
        ck_assert_uint_gt(ev->len, 0);
        ck_assert_uint_le(ev->len, used);
        /* The slice is the last part consumed, inside the input. */
        ck_assert_ptr_eq(ev->data, at + used - ev->len);
        ck_assert_ptr_nonnull(hf_decoder_header(d));
        if (!t->in_content)
            bytes_str(&t->log, "C");
        t->in_content = 1;
        bytes_put(&t->content, ev->data, ev->len);
        t->frame_content += ev->len;
        break;
    case HF_EV_FRAME_END:
        /* The header outlives the frame until the next push. */
        ck_assert_ptr_nonnull(hf_decoder_header(d));
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
        ck_assert_uint_lt(rounds++, 2 * n + 16);
        at = chunk == NULL ? NULL : chunk + off;
        used = hf_decoder_push(d, at, n - off, &ev);
        ck_assert_uint_le(used, n - off);
        off += used;
        if (ev.type == HF_EV_NEED_MORE) {
            ck_assert_uint_eq(off, n);
            break;
        }
        trace_event(t, d, &ev, at, used);
    }
    if (t->errored) {
        /* Errors are sticky: nothing more is consumed. */
        at = chunk == NULL ? NULL : chunk + off;
        ck_assert_uint_eq(hf_decoder_push(d, at, n - off, &ev), 0);
        ck_assert_int_eq(ev.type, HF_EV_ERROR);
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

/* The same trace whole, in every split into two pushes, byte by byte. */
static void assert_split_invariant(const hf_limits *lim, const void *p,
                                   size_t n, trace *whole)
{
    trace t;
    size_t cut;

    trace_run(whole, lim, p, n, n, 0);
    for (cut = 0; cut <= n; cut++) {
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
/* Golden frames (issue 2, from the reference transcript)              */
/* ------------------------------------------------------------------ */

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

static const golden goldens[] = {
    {"\x00" "d{\"byteorder\": \"big\", \"content-type\": \"text/json\", "
     "\"content-encoding\": \"utf-8\", \"content-length\": 41}"
     "{\"action\": \"search\", \"value\": \"morpheus\"}", 143,
     HF_BYTEORDER_BIG, "text/json", "utf-8", 100,
     "{\"action\": \"search\", \"value\": \"morpheus\"}", 41},
    {"\x00" "g{\"byteorder\": \"little\", \"content-type\": \"text/json\", "
     "\"content-encoding\": \"utf-8\", \"content-length\": 43}"
     "{\"result\": \"Follow the white rabbit. \xf0\x9f\x90\xb0\"}", 148,
     HF_BYTEORDER_LITTLE, "text/json", "utf-8", 103,
     "{\"result\": \"Follow the white rabbit. \xf0\x9f\x90\xb0\"}", 43},
    {"\x00" "|{\"byteorder\": \"big\", \"content-type\": "
     "\"binary/custom-client-binary-type\", \"content-encoding\": "
     "\"binary\", \"content-length\": 10}binary\xf0\x9f\x98\x83", 136,
     HF_BYTEORDER_BIG, "binary/custom-client-binary-type", "binary", 124,
     "binary\xf0\x9f\x98\x83", 10},
    {"\x00\x7f{\"byteorder\": \"little\", \"content-type\": "
     "\"binary/custom-server-binary-type\", \"content-encoding\": "
     "\"binary\", \"content-length\": 37}First 10 bytes of request: "
     "binary\xf0\x9f\x98\x83", 166,
     HF_BYTEORDER_LITTLE, "binary/custom-server-binary-type", "binary",
     127, "First 10 bytes of request: binary\xf0\x9f\x98\x83", 37},
};

#define N_GOLDEN (sizeof goldens / sizeof goldens[0])

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
    ck_assert_int_eq(hf_decode(&d, buf, in.len, &f), HF_OK);
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

typedef struct bad_header {
    const char *name;
    const char *json;       /* header JSON (the frame has no content) */
    size_t len;             /* 0: strlen(json) */
    hf_status code;
    const char *at;         /* the error is at the first occurrence of this
                               text in json; NULL: at its end */
    const char *detail;     /* expected detail; NULL: not checked */
} bad_header;

static const bad_header bad_headers[] = {
    /* UTF-8 (checked before the JSON grammar) */
    {"overlong 2", "{\"x\": \"\xc0\x80\"}", 0, HF_E_UTF8, "\xc0", NULL},
    {"overlong 3", "{\"x\": \"\xe0\x80\x80\"}", 0, HF_E_UTF8, "\xe0",
     NULL},
    {"overlong 4", "{\"x\": \"\xf0\x80\x80\x80\"}", 0, HF_E_UTF8, "\xf0",
     NULL},
    {"encoded surrogate", "{\"x\": \"\xed\xa0\x80\"}", 0, HF_E_UTF8,
     "\xed", NULL},
    {"above U+10FFFF", "{\"x\": \"\xf4\x90\x80\x80\"}", 0, HF_E_UTF8,
     "\xf4", NULL},
    {"F5 lead", "{\"x\": \"\xf5\x80\x80\x80\"}", 0, HF_E_UTF8, "\xf5",
     NULL},
    {"truncated sequence", "{\"x\": \"\xe2\x82\"}", 0, HF_E_UTF8, "\xe2",
     NULL},
    {"bare continuation", "{\"x\": \"ab\x80\"}", 0, HF_E_UTF8, "\x80",
     "invalid UTF-8 sequence starting with byte 0x80"},
    {"invalid after a long ASCII run", "{\"abcdefghijklmnop\": \"\xff\"}",
     0, HF_E_UTF8, "\xff", NULL},
    {"invalid in a key", "{\"\xc1\xbf\": 1}", 0, HF_E_UTF8, "\xc1", NULL},
    /* \u escapes forming lone surrogates */
    {"lone high", "{\"x\": \"\\ud800\"}", 0, HF_E_LONE_SURROGATE,
     "\\ud800", NULL},
    {"lone low", "{\"x\": \"a\\udc00\"}", 0, HF_E_LONE_SURROGATE,
     "\\udc00", NULL},
    {"high then letter", "{\"x\": \"\\ud800\\u0041\"}", 0,
     HF_E_LONE_SURROGATE, "\\ud800", NULL},
    {"high then high", "{\"x\": \"\\uD800\\uD800\"}", 0,
     HF_E_LONE_SURROGATE, "\\uD800", NULL},
    {"reversed pair", "{\"x\": \"\\udc00\\ud800\"}", 0,
     HF_E_LONE_SURROGATE, "\\udc00", NULL},
    {"lone in a key", "{\"\\udbff\": 1}", 0, HF_E_LONE_SURROGATE,
     "\\udbff", NULL},
    {"escaped backslash then lone", "{\"x\": \"\\\\\\ud800\"}", 0,
     HF_E_LONE_SURROGATE, "\\ud800", NULL},
    {"lone after a valid pair", "{\"x\": \"\\ud83d\\udc30\\udc30\"}", 0,
     HF_E_LONE_SURROGATE, "\\udc30\"", NULL},
    /* not a JSON object */
    {"array", "[1, 2]", 0, HF_E_NOT_OBJECT, "[", NULL},
    {"string", "\"{}\"", 0, HF_E_NOT_OBJECT, "\"", NULL},
    {"number", "12", 0, HF_E_NOT_OBJECT, "12", NULL},
    {"true", "true", 0, HF_E_NOT_OBJECT, "true", NULL},
    {"null", "  null", 0, HF_E_NOT_OBJECT, "null", NULL},
    /* trailing data */
    {"trailing letter", "{" REQ0 "} x", 0, HF_E_TRAILING_DATA, "x", NULL},
    {"second object", "{" REQ0 "}{}", 0, HF_E_TRAILING_DATA, "{}", NULL},
    {"trailing form feed", "{" REQ0 "}\f", 0, HF_E_TRAILING_DATA, "\f",
     NULL},
    {"trailing NUL", "{" REQ0 "}\0", sizeof("{" REQ0 "}"),
     HF_E_TRAILING_DATA, "", NULL},
    /* duplicate keys */
    {"duplicate required", "{\"content-type\": \"a\", \"content-type\": "
     "\"a\"}", 0, HF_E_DUPLICATE_KEY, "\"content-type\": \"a\"}",
     "key \"content-type\" appears twice"},
    {"duplicate extension", "{\"x\": 1, \"y\": 2, \"x\": 1}", 0,
     HF_E_DUPLICATE_KEY, "\"x\": 1}", NULL},
    {"duplicate through an escape", "{\"x\": 1, \"\\u0078\": 1}", 0,
     HF_E_DUPLICATE_KEY, "\"\\u0078\"", NULL},
    {"duplicate byteorder", "{\"byteorder\": \"big\", \"byteorder\": "
     "\"big\"}", 0, HF_E_DUPLICATE_KEY, "\"byteorder\": \"big\"}", NULL},
    /* missing keys */
    {"empty object", "{}", 0, HF_E_MISSING_KEY, "}",
     "required key \"byteorder\" is missing"},
    {"no byteorder", "{\"content-type\": \"t\", \"content-encoding\": "
     "\"e\", \"content-length\": 0}", 0, HF_E_MISSING_KEY, "}", NULL},
    {"no content-type", "{\"byteorder\": \"big\", \"content-encoding\": "
     "\"e\", \"content-length\": 0}", 0, HF_E_MISSING_KEY, "}",
     "required key \"content-type\" is missing"},
    {"no content-encoding", "{\"byteorder\": \"big\", \"content-type\": "
     "\"t\", \"content-length\": 0}", 0, HF_E_MISSING_KEY, "}", NULL},
    {"no content-length", "{\"byteorder\": \"big\", \"content-type\": "
     "\"t\", \"content-encoding\": \"e\", \"x\": 1}", 0, HF_E_MISSING_KEY,
     "}", "required key \"content-length\" is missing"},
    {"key case matters", "{\"Byteorder\": \"big\", \"content-type\": "
     "\"t\", \"content-encoding\": \"e\", \"content-length\": 0}", 0,
     HF_E_MISSING_KEY, "}", NULL},
    /* byteorder */
    {"byteorder upper", "{\"byteorder\": \"BIG\"}", 0, HF_E_BAD_BYTEORDER,
     "\"BIG\"", "byteorder must be \"little\" or \"big\", not \"BIG\""},
    {"byteorder empty", "{\"byteorder\": \"\"}", 0, HF_E_BAD_BYTEORDER,
     "\"\"", NULL},
    {"byteorder padded", "{\"byteorder\": \"big \"}", 0,
     HF_E_BAD_BYTEORDER, "\"big \"", NULL},
    {"byteorder number", "{\"byteorder\": 1}", 0, HF_E_BAD_BYTEORDER, "1",
     NULL},
    {"byteorder true", "{\"byteorder\": true}", 0, HF_E_BAD_BYTEORDER,
     "true", NULL},
    {"byteorder false", "{\"byteorder\": false}", 0, HF_E_BAD_BYTEORDER,
     "false", NULL},
    {"byteorder null", "{\"byteorder\": null}", 0, HF_E_BAD_BYTEORDER,
     "null", NULL},
    {"byteorder object", "{\"byteorder\": {}}", 0, HF_E_BAD_BYTEORDER,
     "{}", NULL},
    {"byteorder array", "{\"byteorder\": [\"big\"]}", 0,
     HF_E_BAD_BYTEORDER, "[", NULL},
    /* content-type */
    {"content-type empty", "{\"content-type\": \"\"}", 0,
     HF_E_BAD_CONTENT_TYPE, "\"\"", "content-type must not be empty"},
    {"content-type number", "{\"content-type\": 7}", 0,
     HF_E_BAD_CONTENT_TYPE, "7", NULL},
    {"content-type true", "{\"content-type\": true}", 0,
     HF_E_BAD_CONTENT_TYPE, "true", NULL},
    {"content-type null", "{\"content-type\": null}", 0,
     HF_E_BAD_CONTENT_TYPE, "null", NULL},
    {"content-type object", "{\"content-type\": {\"a\": 1}}", 0,
     HF_E_BAD_CONTENT_TYPE, "{\"a\"", NULL},
    {"content-type array", "{\"content-type\": []}", 0,
     HF_E_BAD_CONTENT_TYPE, "[]", NULL},
    /* content-encoding */
    {"content-encoding empty", "{\"content-encoding\": \"\"}", 0,
     HF_E_BAD_CONTENT_ENCODING, "\"\"", NULL},
    {"content-encoding number", "{\"content-encoding\": -1}", 0,
     HF_E_BAD_CONTENT_ENCODING, "-1", NULL},
    {"content-encoding false", "{\"content-encoding\": false}", 0,
     HF_E_BAD_CONTENT_ENCODING, "false", NULL},
    {"content-encoding null", "{\"content-encoding\": null}", 0,
     HF_E_BAD_CONTENT_ENCODING, "null", NULL},
    {"content-encoding object", "{\"content-encoding\": {}}", 0,
     HF_E_BAD_CONTENT_ENCODING, "{}", NULL},
    {"content-encoding array", "{\"content-encoding\": [1]}", 0,
     HF_E_BAD_CONTENT_ENCODING, "[1]", NULL},
    /* content-length */
    {"content-length fraction", "{\"content-length\": 1.5}", 0,
     HF_E_BAD_CONTENT_LENGTH, "1.5", NULL},
    {"content-length point zero", "{\"content-length\": 1.0}", 0,
     HF_E_BAD_CONTENT_LENGTH, "1.0", NULL},
    {"content-length exponent", "{\"content-length\": 1e2}", 0,
     HF_E_BAD_CONTENT_LENGTH, "1e2", NULL},
    {"content-length Exponent", "{\"content-length\": 1E+2}", 0,
     HF_E_BAD_CONTENT_LENGTH, "1E+2", NULL},
    {"content-length negative", "{\"content-length\": -1}", 0,
     HF_E_BAD_CONTENT_LENGTH, "-1",
     "content-length must be a non-negative integer, not -1"},
    {"content-length minus zero", "{\"content-length\": -0}", 0,
     HF_E_BAD_CONTENT_LENGTH, "-0", NULL},
    {"content-length string", "{\"content-length\": \"5\"}", 0,
     HF_E_BAD_CONTENT_LENGTH, "\"5\"", NULL},
    {"content-length true", "{\"content-length\": true}", 0,
     HF_E_BAD_CONTENT_LENGTH, "true", NULL},
    {"content-length null", "{\"content-length\": null}", 0,
     HF_E_BAD_CONTENT_LENGTH, "null", NULL},
    {"content-length object", "{\"content-length\": {}}", 0,
     HF_E_BAD_CONTENT_LENGTH, "{}", NULL},
    {"content-length array", "{\"content-length\": [0]}", 0,
     HF_E_BAD_CONTENT_LENGTH, "[0]", NULL},
    {"content-length above default", "{\"content-length\": 16777217}", 0,
     HF_E_CONTENT_TOO_LONG, "16777217",
     "content-length 16777217 exceeds the limit of 16777216"},
    {"content-length 30 digits", "{\"content-length\": "
     "123456789012345678901234567890}", 0, HF_E_CONTENT_TOO_LONG,
     "1234", NULL},
    /* nested extension values */
    {"object value", "{\"x\": {}}", 0, HF_E_NESTED_VALUE, "{}",
     "extension header \"x\" has an object value; only scalars are "
     "allowed"},
    {"array value", "{" REQ0 ", \"x\": [1]}", 0, HF_E_NESTED_VALUE, "[1]",
     NULL},
    /* JSON syntax. yajl reports where it stopped: usually just past the
     * first byte it could not accept, so the marks point there. */
    {"BOM", "\xef\xbb\xbf{" REQ0 "}", 0, HF_E_JSON_SYNTAX, "\xef", NULL},
    {"comment", "{/* c */" REQ0 "}", 0, HF_E_JSON_SYNTAX, "/", NULL},
    {"line comment", "{" REQ0 "// c\n}", 0, HF_E_JSON_SYNTAX, "/", NULL},
    {"NaN", "{\"x\": NaN}", 0, HF_E_JSON_SYNTAX, "aN", NULL},
    {"Infinity", "{\"x\": Infinity}", 0, HF_E_JSON_SYNTAX, "nfinity",
     NULL},
    {"minus Infinity", "{\"x\": -Infinity}", 0, HF_E_JSON_SYNTAX, "Inf", NULL},
    {"blank", "  ", 0, HF_E_JSON_SYNTAX, NULL, NULL},
    {"unclosed", "{" REQ0, 0, HF_E_JSON_SYNTAX, NULL, NULL},
    {"trailing comma", "{" REQ0 ",}", 0, HF_E_JSON_SYNTAX, NULL, NULL},
    {"single quotes", "{'x': 1}", 0, HF_E_JSON_SYNTAX, "x", NULL},
    {"missing colon", "{\"x\" 1}", 0, HF_E_JSON_SYNTAX, "}", NULL},
    {"raw control char", "{\"x\": \"a\tb\"}", 0, HF_E_JSON_SYNTAX, "\t",
     NULL},
    {"bad escape", "{\"x\": \"\\x41\"}", 0, HF_E_JSON_SYNTAX, "x41", NULL},
    {"short unicode escape", "{\"x\": \"\\u12\"}", 0, HF_E_JSON_SYNTAX,
     "\"}", NULL},
    {"unquoted key", "{x: 1}", 0, HF_E_JSON_SYNTAX, ":", NULL},
    {"leading zero", "{\"x\": 01}", 0, HF_E_JSON_SYNTAX, "1}", NULL},
    {"NUL byte", "{\0}", 3, HF_E_JSON_SYNTAX, "}", NULL},
};

#define N_BAD (sizeof bad_headers / sizeof bad_headers[0])

static size_t bad_len(const bad_header *b)
{
    return b->len != 0 ? b->len : strlen(b->json);
}

/* The frame offset the vector's error must be reported at. */
static uint64_t bad_frame_offset(const bad_header *b)
{
    return HF_PREFIX_LEN + mark_offset(b->json, bad_len(b), b->at);
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
    const bad_header *b = &bad_headers[_i];
    size_t len = bad_len(b);
    uint64_t fo = bad_frame_offset(b);
    bytes in = {0};
    unsigned char *buf;
    hf_decoder d;
    hf_frame f;

    put_frame(&in, b->json, len, NULL, 0);
    buf = tail_copy(in.p, in.len);
    init_decoder(&d, NULL);
    ck_assert_int_eq(hf_decode(&d, buf, in.len, &f), b->code);
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

/* Same error however the frame is cut, and after a valid frame. */
START_TEST(test_bad_split)
{
    const bad_header *b = &bad_headers[_i];
    size_t len = bad_len(b);
    uint64_t fo = bad_frame_offset(b);
    bytes in = {0}, two = {0};
    trace whole, t;

    put_frame(&in, b->json, len, NULL, 0);
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
/* Suite                                                               */
/* ------------------------------------------------------------------ */

static TCase *tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return tc;
}

static Suite *codec_suite(void)
{
    Suite *s = suite_create("codec");
    TCase *tc;

    tc = tcase(s, "status");
    tcase_add_loop_test(tc, test_status_name, 0, HF_STATUS_COUNT);
    tcase_add_test(tc, test_status_unknown);

    tc = tcase(s, "golden");
    tcase_add_loop_test(tc, test_golden_decode, 0, (int)N_GOLDEN);
    tcase_add_loop_test(tc, test_golden_reencode, 0, (int)N_GOLDEN);
    tcase_add_loop_test(tc, test_golden_encode_fresh, 0, (int)N_GOLDEN);
    tcase_add_loop_test(tc, test_golden_split, 0, (int)N_GOLDEN);

    tc = tcase(s, "valid frames");
    tcase_add_loop_test(tc, test_good_decode, 0, (int)N_GOOD);
    tcase_add_loop_test(tc, test_good_split, 0, (int)N_GOOD);

    tc = tcase(s, "error vectors");
    tcase_add_loop_test(tc, test_bad_decode, 0, (int)N_BAD);
    tcase_add_loop_test(tc, test_bad_split, 0, (int)N_BAD);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(codec_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
