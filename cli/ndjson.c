/* ndjson.c - the NDJSON record format of `decode --ndjson` and
 * `encode --ndjson`: one JSON object per line,
 *   {"header": {...every header key...}, "text": "..."}   or
 *   {"header": {...}, "base64": "..."}
 * "text" when content-encoding is utf-8 (any case) and the content is
 * valid UTF-8, "base64" otherwise. The header object is validated by the
 * codec itself (hf_parse_header), so records obey the frame rules. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_parse.h>

#include "cli.h"

/* Nesting tolerated inside a record before the codec sees the header
 * (which rejects any nesting anyway); bounds the work on bad input. */
#define REC_DEPTH_MAX 64

static int content_is_text(const hf_header *h, const unsigned char *c,
                           size_t len)
{
    if (h->content_encoding.len != 5 ||
        strncasecmp(h->content_encoding.ptr, "utf-8", 5) != 0)
        return 0;
    return hf_utf8_check(c, len) == len;
}

static int record_base64(cli_buf *b, const unsigned char *c, size_t len)
{
    size_t n = cli_b64_len(len);

    if ((n == 0 && len > 0) || cli_buf_reserve(b, n + 1) != 0)
        return -1;
    cli_b64_encode(b->p + b->len, c, len);
    b->len += n;
    return cli_buf_append(b, "\"", 1);
}

int cli_ndjson_record(cli_buf *b, const hf_header *h,
                      const cli_key_order *o,
                      const unsigned char *content, size_t len)
{
    if (cli_buf_append(b, "{\"header\": ", 11) != 0 ||
        cli_json_header_in(b, h, o) != 0)
        return -1;
    if (content_is_text(h, content, len)) {
        if (cli_buf_append(b, ", \"text\": ", 10) != 0 ||
            cli_json_string(b, content, len) != 0)
            return -1;
    } else if (cli_buf_append(b, ", \"base64\": \"", 13) != 0 ||
               record_base64(b, content, len) != 0) {
        return -1;
    }
    return cli_buf_append(b, "}\n", 2);
}

/* ---------------------------------------------------------------- */
/* Reading records                                                   */
/* ---------------------------------------------------------------- */

enum { M_NONE = 0, M_HEADER = 1, M_TEXT = 2, M_BASE64 = 4 };

/* Base64 characters decoded at a time (a multiple of 4): a content is
 * decoded in slices, never whole. */
#define B64_SLICE 16384

typedef struct rec_parse {
    yajl_handle y;
    int depth;          /* 1 inside the record, 2 inside its header */
    int member;         /* M_* whose value comes next */
    int seen;           /* M_* bits already present */
    size_t hdr_start;   /* header object's span in the line */
    size_t hdr_end;
    const unsigned char *line;
    size_t line_len;
    uint64_t max;       /* the content limit */
    cli_ndjson_content *content;
    int io_failed;      /* the sink failed (reported) */
    char *err;
    size_t errcap;
    char cerr[96];      /* a content error, reported once the whole
                           record has parsed (syntax errors come first) */
} rec_parse;

static int rec_fail(rec_parse *r, const char *msg)
{
    snprintf(r->err, r->errcap, "%s", msg);
    return 0;
}

/* A scalar or array at the record's level is never right. */
static int rec_scalar(rec_parse *r)
{
    if (r->depth == 0)
        return rec_fail(r, "record is not a JSON object");
    if (r->depth == 1)
        return rec_fail(r, r->member == M_HEADER
                               ? "\"header\" is not an object"
                               : "\"text\"/\"base64\" is not a string");
    return 1;
}

static int rec_null(void *ctx)
{
    return rec_scalar(ctx);
}

static int rec_bool(void *ctx, int v)
{
    (void)v;
    return rec_scalar(ctx);
}

static int rec_number(void *ctx, const char *s, size_t n)
{
    (void)s;
    (void)n;
    return rec_scalar(ctx);
}

/* Where decoded content goes: a sink, stdout, or nowhere (a check). */
enum { TO_NOWHERE, TO_SINK, TO_OUT };

/* 0, or -1 when the destination failed (reported). */
static int put(int to, cli_sink *sink, const unsigned char *p, size_t n)
{
    if (to == TO_SINK)
        return cli_sink_write(sink, p, n);
    if (to == TO_OUT)
        return cli_out_write(p, n);
    return 0;
}

/* Strict base64 (see cli_b64_decode) decoded slice by slice to `to`:
 * 0; -1 with *bad the offending character; -2 when `to` failed. */
static int b64_slices(const unsigned char *s, size_t n, int to,
                      cli_sink *sink, size_t *bad)
{
    unsigned char out[B64_SLICE / 4 * 3];
    size_t body = n < 4 ? 0 : n - 4, off, len;

    if (n % 4 != 0) {
        *bad = n - n % 4;
        return -1;
    }
    for (off = 0; off < body; off += len) {
        len = body - off < B64_SLICE ? body - off : B64_SLICE;
        if (cli_b64_decode_groups(out, s + off, len, bad) != 0) {
            *bad += off;
            return -1;
        }
        if (put(to, sink, out, len / 4 * 3) != 0)
            return -2;
    }
    if (n == 0)
        return 0;
    if (cli_b64_decode(out, s + body, 4, &len, bad) != 0) {
        *bad += body;
        return -1;
    }
    return put(to, sink, out, len) != 0 ? -2 : 0;
}

/* The content string s[0..n): checked, and unless it lies in the line
 * as it is (yajl hands over a string without escapes in place), decoded
 * into the sink now, as yajl's copy does not outlive the callback. */
static int rec_content(rec_parse *r, const unsigned char *s, size_t n,
                       int base64)
{
    cli_ndjson_content *c = r->content;
    uintptr_t a = (uintptr_t)s, l = (uintptr_t)r->line;
    int to = TO_SINK, rc;
    size_t bad = 0;

    if (a >= l && n <= r->line_len && a - l <= r->line_len - n) {
        c->str = s;
        c->str_len = n;
        to = TO_NOWHERE;
    }
    c->base64 = base64;
    if (!base64) {
        c->len = n;
        if (hf_utf8_check(s, n) != n)
            snprintf(r->cerr, sizeof(r->cerr), "\"text\" is not valid UTF-8");
        else if (n > r->max)
            snprintf(r->cerr, sizeof(r->cerr),
                     "content exceeds the content limit");
        else if (put(to, c->sink, s, n) != 0)
            r->io_failed = 1;
        return !r->io_failed;
    }
    c->len = cli_b64_decoded_len(s, n);
    if (c->len > r->max) {
        snprintf(r->cerr, sizeof(r->cerr),
                 "content exceeds the content limit");
        return 1;
    }
    rc = b64_slices(s, n, to, c->sink, &bad);
    if (rc == -1)
        snprintf(r->cerr, sizeof(r->cerr),
                 "\"base64\" is not canonical base64 (character %zu)", bad);
    r->io_failed = rc == -2;
    return !r->io_failed;
}

int cli_ndjson_content_out(const cli_ndjson_content *c)
{
    size_t bad;

    if (c->str == NULL)
        return cli_sink_emit(c->sink);
    if (!c->base64)
        return cli_out_write(c->str, c->str_len) == 0 ? CLI_EXIT_OK
                                                       : cli_out_stop();
    return b64_slices(c->str, c->str_len, TO_OUT, NULL, &bad) == 0
               ? CLI_EXIT_OK : cli_out_stop();
}

static int rec_string(void *ctx, const unsigned char *s, size_t n)
{
    rec_parse *r = ctx;
    int m = r->member;

    if (r->depth != 1)
        return rec_scalar(r);
    if (m == M_HEADER)
        return rec_scalar(r);
    /* Longer than the base64 of the longest content: refused before
     * the rest of the record is read. */
    if (n > cli_b64_len((size_t)r->max) + 4)
        return rec_fail(r, "content exceeds the content limit");
    r->member = M_NONE;
    return rec_content(r, s, n, m == M_BASE64);
}

static int rec_open(rec_parse *r)
{
    if (r->depth >= REC_DEPTH_MAX)
        return rec_fail(r, "record nested too deeply");
    r->depth++;
    return 1;
}

static int rec_start_map(void *ctx)
{
    rec_parse *r = ctx;

    if (r->depth == 1) {
        if (r->member != M_HEADER)
            return rec_scalar(r);
        r->hdr_start = yajl_get_bytes_consumed(r->y) - 1;
    }
    return rec_open(r);
}

static int rec_end_map(void *ctx)
{
    rec_parse *r = ctx;

    r->depth--;
    if (r->depth == 1) {
        r->hdr_end = yajl_get_bytes_consumed(r->y);
        r->member = M_NONE;
    }
    return 1;
}

static int rec_start_array(void *ctx)
{
    rec_parse *r = ctx;

    if (r->depth <= 1)
        return rec_scalar(r);
    return rec_open(r);
}

static int rec_end_array(void *ctx)
{
    ((rec_parse *)ctx)->depth--;
    return 1;
}

static int rec_key(void *ctx, const unsigned char *s, size_t n)
{
    rec_parse *r = ctx;
    int m = M_NONE;

    if (r->depth != 1)
        return 1;
    if (n == 6 && memcmp(s, "header", 6) == 0)
        m = M_HEADER;
    else if (n == 4 && memcmp(s, "text", 4) == 0)
        m = M_TEXT;
    else if (n == 6 && memcmp(s, "base64", 6) == 0)
        m = M_BASE64;
    if (m == M_NONE)
        return rec_fail(r, "unknown record member (expected \"header\", "
                           "\"text\" or \"base64\")");
    if ((r->seen & m) != 0)
        return rec_fail(r, "record member appears twice");
    if (m != M_HEADER && (r->seen & (M_TEXT | M_BASE64)) != 0)
        return rec_fail(r, "record has both \"text\" and \"base64\"");
    r->seen |= m;
    r->member = m;
    return 1;
}

static const yajl_callbacks rec_callbacks = {
    rec_null, rec_bool, NULL, NULL, rec_number, rec_string,
    rec_start_map, rec_key, rec_end_map, rec_start_array, rec_end_array
};

/* Run yajl over the line; 0 or -1 with r->err filled. */
static int rec_syntax(rec_parse *r, const unsigned char *line, size_t len)
{
    yajl_status st = yajl_parse(r->y, line, len);
    unsigned char *msg;
    size_t n;

    if (st == yajl_status_ok)
        st = yajl_complete_parse(r->y);
    if (st == yajl_status_ok)
        return 0;
    if (st == yajl_status_client_canceled)
        return -1;
    msg = yajl_get_error(r->y, 0, line, len);
    n = msg == NULL ? 0 : strlen((char *)msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    snprintf(r->err, r->errcap, "json-syntax: %.*s", (int)n,
             msg == NULL ? "" : (char *)msg);
    if (msg != NULL)
        yajl_free_error(r->y, msg);
    return -1;
}

static int rec_header(rec_parse *r, hf_decoder *d, const unsigned char *line,
                      uint64_t content_len, int fix_length)
{
    const hf_error *e;
    const hf_header *h;

    if (hf_parse_header(d, line + r->hdr_start,
                        r->hdr_end - r->hdr_start) != HF_OK) {
        e = hf_decoder_error(d);
        snprintf(r->err, r->errcap, "header: %s: %s",
                 hf_status_name(e->code),
                 e->detail[0] != '\0' ? e->detail : hf_strerror(e->code));
        return -1;
    }
    h = hf_decoder_header(d);
    if (h == NULL) {
        rec_fail(r, "header: not available");
        return -1;
    }
    if (!fix_length && h->content_length != content_len) {
        snprintf(r->err, r->errcap,
                 "content-length is %llu but the content has %llu bytes",
                 (unsigned long long)h->content_length,
                 (unsigned long long)content_len);
        return -1;
    }
    return 0;
}

int cli_ndjson_parse(hf_decoder *d, const unsigned char *line, size_t len,
                     uint64_t max_content, cli_ndjson_content *content,
                     int fix_length, char *err, size_t errcap)
{
    rec_parse r;
    cli_esc esc;
    int rc = -1;

    memset(&r, 0, sizeof(r));
    r.line = line;
    r.line_len = len;
    r.max = max_content;
    r.content = content;
    r.err = err;
    r.errcap = errcap;
    content->str = NULL;
    content->str_len = 0;
    content->len = 0;
    if (cli_sink_reset(content->sink) != 0)
        return CLI_SINK_FAILED;
    r.y = yajl_alloc(&rec_callbacks, NULL, &r);
    if (r.y == NULL) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    if (rec_syntax(&r, line, len) != 0) {
        if (r.io_failed)
            rc = CLI_SINK_FAILED;
        goto out;
    }
    cli_esc_init(&esc);
    if (cli_esc_feed(&esc, line, len) != 0 || cli_esc_finish(&esc) != 0) {
        snprintf(err, errcap, "lone-surrogate: \\u escape at column %llu "
                 "is a lone surrogate",
                 (unsigned long long)esc.bad_at + 1);
        goto out;
    }
    if ((r.seen & M_HEADER) == 0 || (r.seen & (M_TEXT | M_BASE64)) == 0) {
        rec_fail(&r, "record needs \"header\" and one of \"text\" or "
                     "\"base64\"");
        goto out;
    }
    if (r.cerr[0] != '\0') {
        rec_fail(&r, r.cerr);
        goto out;
    }
    rc = rec_header(&r, d, line, content->len, fix_length);
out:
    yajl_free(r.y);
    return rc;
}
