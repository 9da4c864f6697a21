/* json.c - JSON output in the canonical form (through the codec's
 * string writer), the lone-surrogate escape check, and the canonical
 * re-writer of one JSON value parsed with yajl (encode --json). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "cli.h"

/* Nesting accepted by the re-writer. yajl has no limit of its own; 512
 * is far beyond real documents and bounds the state array below. */
#define CANON_DEPTH_MAX 512

int cli_json_string(cli_buf *b, const void *s, size_t len)
{
    size_t need = hf_json_string_len(s, len), written;

    if (need == 0 || cli_buf_reserve(b, need) != 0)
        return -1;
    if (hf_json_write_string(b->p + b->len, b->cap - b->len, s, len,
                             &written) != HF_OK)
        return -1;
    b->len += written;
    return 0;
}

static int buf_str(cli_buf *b, const char *s)
{
    return cli_buf_append(b, s, strlen(s));
}

static int header_ext(cli_buf *b, const hf_ext *x)
{
    if (cli_json_string(b, x->key.ptr, x->key.len) != 0 ||
        buf_str(b, ": ") != 0)
        return -1;
    if (x->type == HF_VALUE_STRING)
        return cli_json_string(b, x->value.ptr, x->value.len);
    return cli_buf_append(b, x->value.ptr, x->value.len);
}

/* One member: a required key (CLI_KEY_*) or the extension *ext. */
static int header_member(cli_buf *b, const hf_header *h, int key,
                         size_t *ext)
{
    char num[32];

    switch (key) {
    case CLI_KEY_BYTEORDER:
        return buf_str(b, "\"byteorder\": \"") != 0 ||
               buf_str(b, hf_byteorder_name(h->byteorder)) != 0 ||
               buf_str(b, "\"") != 0 ? -1 : 0;
    case CLI_KEY_TYPE:
        return buf_str(b, "\"content-type\": ") != 0 ||
               cli_json_string(b, h->content_type.ptr,
                               h->content_type.len) != 0 ? -1 : 0;
    case CLI_KEY_ENCODING:
        return buf_str(b, "\"content-encoding\": ") != 0 ||
               cli_json_string(b, h->content_encoding.ptr,
                               h->content_encoding.len) != 0 ? -1 : 0;
    case CLI_KEY_LENGTH:
        snprintf(num, sizeof(num), "%" PRIu64, h->content_length);
        return buf_str(b, "\"content-length\": ") != 0 ||
               buf_str(b, num) != 0 ? -1 : 0;
    default:
        if (*ext >= h->n_ext || *ext >= HF_EXT_MAX)
            return -1;
        return header_ext(b, &h->ext[(*ext)++]);
    }
}

static const cli_key_order canonical_order = {
    { CLI_KEY_BYTEORDER, CLI_KEY_TYPE, CLI_KEY_ENCODING, CLI_KEY_LENGTH },
    4
};

/* o names each required key once and as many extensions as h has. */
static int order_matches(const cli_key_order *o, const hf_header *h)
{
    unsigned seen[CLI_KEY_EXT + 1] = { 0 };
    size_t i;

    if (o->n != 4 + h->n_ext)
        return 0;
    for (i = 0; i < o->n; i++) {
        if (o->key[i] > CLI_KEY_EXT)
            return 0;
        seen[o->key[i]]++;
    }
    for (i = 0; i < CLI_KEY_EXT; i++) {
        if (seen[i] != 1)
            return 0;
    }
    return 1;
}

int cli_json_header_in(cli_buf *b, const hf_header *h,
                       const cli_key_order *o)
{
    size_t i, ext = 0, n;

    if (o == NULL || !order_matches(o, h))
        o = &canonical_order;
    /* The canonical order lists the extensions implicitly, after. */
    n = o == &canonical_order ? 4 + h->n_ext : o->n;
    if (buf_str(b, "{") != 0)
        return -1;
    for (i = 0; i < n; i++) {
        int key = i < o->n ? o->key[i] : CLI_KEY_EXT;

        if ((i > 0 && buf_str(b, ", ") != 0) ||
            header_member(b, h, key, &ext) != 0)
            return -1;
    }
    return buf_str(b, "}");
}

int cli_json_header(cli_buf *b, const hf_header *h)
{
    return cli_json_header_in(b, h, NULL);
}

/* ---------------------------------------------------------------- */
/* Key order of a raw header                                         */
/* ---------------------------------------------------------------- */

typedef struct order_parse {
    cli_key_order *o;
    int depth;
} order_parse;

static int order_value(void *ctx)
{
    (void)ctx;
    return 1;
}

static int order_bool(void *ctx, int v)
{
    (void)v;
    return order_value(ctx);
}

static int order_number(void *ctx, const char *s, size_t n)
{
    (void)s;
    (void)n;
    return order_value(ctx);
}

static int order_string(void *ctx, const unsigned char *s, size_t n)
{
    (void)s;
    (void)n;
    return order_value(ctx);
}

static int order_key(void *ctx, const unsigned char *s, size_t n)
{
    static const char *const names[] = {
        "byteorder", "content-type", "content-encoding", "content-length"
    };
    order_parse *p = ctx;
    int key = CLI_KEY_EXT, i;

    if (p->depth != 1)
        return 1;
    for (i = 0; i < 4; i++) {
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
            key = i;
    }
    if (p->o->n >= sizeof(p->o->key))
        return 0;
    p->o->key[p->o->n++] = (unsigned char)key;
    return 1;
}

static int order_open(void *ctx)
{
    order_parse *p = ctx;

    /* The codec refuses nesting; stop rather than follow it. */
    return ++p->depth <= 1;
}

static int order_close(void *ctx)
{
    ((order_parse *)ctx)->depth--;
    return 1;
}

static const yajl_callbacks order_callbacks = {
    order_value, order_bool, NULL, NULL, order_number, order_string,
    order_open, order_key, order_close, order_open, order_close
};

int cli_header_order(const void *json, size_t len, cli_key_order *o)
{
    order_parse p = { o, 0 };
    yajl_handle y = yajl_alloc(&order_callbacks, NULL, &p);
    yajl_status st;

    o->n = 0;
    if (y == NULL)
        return -1;
    st = yajl_parse(y, json, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(y);
    yajl_free(y);
    return st == yajl_status_ok ? 0 : -1;
}

/* ---------------------------------------------------------------- */
/* Lone surrogate escapes                                            */
/* ---------------------------------------------------------------- */

enum {
    ESC_TEXT = 0,   /* outside an escape */
    ESC_SLASH,      /* after a backslash */
    ESC_HEX,        /* in the four hex digits of a \u escape */
    ESC_WANT_SLASH, /* after a high surrogate: a low one must follow */
    ESC_WANT_U,
    ESC_LOW_HEX     /* in the hex digits of the expected low surrogate */
};

void cli_esc_init(cli_esc *e)
{
    memset(e, 0, sizeof(*e));
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One byte of a \u escape's hex digits; returns the next state. */
static int esc_hex(cli_esc *e, unsigned char c, int low)
{
    int v = hex_value(c);

    if (v < 0)
        return ESC_TEXT;   /* not JSON; yajl reports it */
    e->unit = e->unit << 4 | (unsigned)v;
    if (++e->digits < 4)
        return low ? ESC_LOW_HEX : ESC_HEX;
    if (low)
        return e->unit >= 0xDC00 && e->unit <= 0xDFFF ? ESC_TEXT : -1;
    if (e->unit >= 0xD800 && e->unit <= 0xDBFF)
        return ESC_WANT_SLASH;
    return e->unit >= 0xDC00 && e->unit <= 0xDFFF ? -1 : ESC_TEXT;
}

static int esc_step(cli_esc *e, unsigned char c)
{
    switch (e->state) {
    case ESC_TEXT:
        if (c == '\\') {
            e->esc_start = e->pos;
            return ESC_SLASH;
        }
        return ESC_TEXT;
    case ESC_SLASH:
        e->unit = 0;
        e->digits = 0;
        return c == 'u' ? ESC_HEX : ESC_TEXT;
    case ESC_HEX:
        return esc_hex(e, c, 0);
    case ESC_WANT_SLASH:
        return c == '\\' ? ESC_WANT_U : -1;
    case ESC_WANT_U:
        e->unit = 0;
        e->digits = 0;
        return c == 'u' ? ESC_LOW_HEX : -1;
    default:
        return esc_hex(e, c, 1);
    }
}

int cli_esc_feed(cli_esc *e, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i;

    if (e->state < 0)
        return -1;
    for (i = 0; i < n; i++, e->pos++) {
        e->state = esc_step(e, s[i]);
        if (e->state < 0) {
            e->bad_at = e->esc_start;
            return -1;
        }
    }
    return 0;
}

int cli_esc_finish(cli_esc *e)
{
    if (e->state < 0)
        return -1;
    if (e->state >= ESC_WANT_SLASH) {
        e->bad_at = e->esc_start;
        e->state = -1;
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- */
/* Canonical re-writer                                               */
/* ---------------------------------------------------------------- */

enum { CANON_YAJL = 0, CANON_DEEP, CANON_BIG, CANON_UTF8, CANON_IO };

/* A string longer than this is written out in slices of about this
 * size, each moved to the spill sink once CLI_SPOOL_AFTER is reached. */
#define CANON_SLICE 65536

/* Input a string may span before input is batched for yajl, and the
 * share of the string so far that a batch then holds (see cli.h). */
#define CANON_STALL CLI_SPOOL_AFTER
#define CANON_BATCH_SHARE 4

struct cli_canon {
    yajl_handle y;
    cli_buf *out;
    cli_sink *spill;                 /* or NULL: all output in out */
    size_t limit;                    /* out's max when given */
    int depth;
    int after_key;                   /* next value follows "key": */
    unsigned char first[CANON_DEPTH_MAX + 1]; /* container still empty */
    int why;                         /* CANON_* when a callback stops */
    uint64_t fed;                    /* bytes before the current chunk */
    uint64_t taken;                  /* output moved to the spill sink */
    uint64_t events;                 /* callbacks so far */
    uint64_t stalled;                /* input fed since the last one */
    cli_buf batch;                   /* input held back from yajl */
    cli_buf slice;                   /* one slice of a long string */
    cli_esc esc;
    char err[256];
};

/* Move out's bytes to the spill sink; 0, or -1. */
static int canon_move(cli_canon *c)
{
    size_t n = c->out->len;

    if (cli_sink_write(c->spill, c->out->p, n) != 0) {
        c->why = CANON_IO;
        return -1;
    }
    c->taken += n;
    c->out->max -= n;
    c->out->len = 0;
    return 0;
}

/* Append p[0..n) to the output; 0, or -1 with c->why set. */
static int canon_put(cli_canon *c, const void *p, size_t n)
{
    if (cli_buf_append(c->out, p, n) != 0) {
        c->why = CANON_BIG;
        return -1;
    }
    if (c->spill != NULL && c->out->len >= CLI_SPOOL_AFTER)
        return canon_move(c);
    return 0;
}

/* Separator before a value or key at the current depth. */
static int canon_sep(cli_canon *c)
{
    if (c->after_key) {
        c->after_key = 0;
        return 0;
    }
    if (c->depth == 0)
        return 0;
    if (c->first[c->depth]) {
        c->first[c->depth] = 0;
        return 0;
    }
    return canon_put(c, ", ", 2);
}

/* s[0..n) (valid UTF-8) as a canonical string, slice by slice: each
 * slice ends on a character, so its escapes are those of the whole. */
static int canon_string_out(cli_canon *c, const unsigned char *s, size_t n)
{
    size_t off = 0, take;

    if (canon_put(c, "\"", 1) != 0)
        return -1;
    while (off < n) {
        take = n - off;
        if (take > CANON_SLICE) {
            take = CANON_SLICE;
            while (take > 0 && (s[off + take] & 0xC0) == 0x80)
                take--;
        }
        c->slice.len = 0;
        if (cli_json_string(&c->slice, s + off, take) != 0) {
            c->why = CANON_UTF8;
            return -1;
        }
        if (canon_put(c, c->slice.p + 1, c->slice.len - 2) != 0)
            return -1;
        off += take;
    }
    return canon_put(c, "\"", 1);
}

static int canon_raw(cli_canon *c, const void *p, size_t n)
{
    c->events++;
    return canon_sep(c) == 0 && canon_put(c, p, n) == 0;
}

static int canon_null(void *ctx)
{
    return canon_raw(ctx, "null", 4);
}

static int canon_bool(void *ctx, int v)
{
    return v ? canon_raw(ctx, "true", 4) : canon_raw(ctx, "false", 5);
}

static int canon_number(void *ctx, const char *s, size_t n)
{
    return canon_raw(ctx, s, n);
}

static int canon_text(cli_canon *c, const unsigned char *s, size_t n)
{
    c->events++;
    if (hf_json_string_len(s, n) == 0) {
        c->why = CANON_UTF8;
        return 0;
    }
    return canon_sep(c) == 0 && canon_string_out(c, s, n) == 0;
}

static int canon_string(void *ctx, const unsigned char *s, size_t n)
{
    return canon_text(ctx, s, n);
}

static int canon_key(void *ctx, const unsigned char *s, size_t n)
{
    cli_canon *c = ctx;

    if (!canon_text(c, s, n) || canon_put(c, ": ", 2) != 0)
        return 0;
    c->after_key = 1;
    return 1;
}

static int canon_open(cli_canon *c, const char *brace)
{
    if (c->depth >= CANON_DEPTH_MAX) {
        c->why = CANON_DEEP;
        return 0;
    }
    if (!canon_raw(c, brace, 1))
        return 0;
    c->depth++;
    c->first[c->depth] = 1;
    return 1;
}

static int canon_close(cli_canon *c, const char *brace)
{
    c->events++;
    c->depth--;
    return canon_put(c, brace, 1) == 0;
}

static int canon_start_map(void *ctx)
{
    return canon_open(ctx, "{");
}

static int canon_end_map(void *ctx)
{
    return canon_close(ctx, "}");
}

static int canon_start_array(void *ctx)
{
    return canon_open(ctx, "[");
}

static int canon_end_array(void *ctx)
{
    return canon_close(ctx, "]");
}

static const yajl_callbacks canon_callbacks = {
    canon_null, canon_bool, NULL, NULL, canon_number, canon_string,
    canon_start_map, canon_key, canon_end_map, canon_start_array,
    canon_end_array
};

cli_canon *cli_canon_new(cli_buf *out, cli_sink *spill)
{
    cli_canon *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->out = out;
    c->spill = spill;
    c->limit = out->max;
    cli_buf_init(&c->batch, SIZE_MAX / 2);
    cli_buf_init(&c->slice, 6 * (size_t)CANON_SLICE + 2);
    c->y = yajl_alloc(&canon_callbacks, NULL, c);
    if (c->y == NULL) {
        free(c);
        return NULL;
    }
    cli_esc_init(&c->esc);
    return c;
}

void cli_canon_free(cli_canon *c)
{
    if (c == NULL)
        return;
    c->out->max = c->limit;
    yajl_free(c->y);
    cli_buf_free(&c->batch);
    cli_buf_free(&c->slice);
    free(c);
}

/* Record why yajl stopped, at offset off of the input. */
static void canon_fail(cli_canon *c, const unsigned char *p, size_t n,
                       uint64_t off)
{
    unsigned char *msg;
    size_t len;

    switch (c->why) {
    case CANON_DEEP:
        snprintf(c->err, sizeof(c->err),
                 "offset %" PRIu64 ": nesting deeper than %d", off,
                 CANON_DEPTH_MAX);
        return;
    case CANON_BIG:
        snprintf(c->err, sizeof(c->err),
                 "offset %" PRIu64 ": canonical form exceeds the content "
                 "limit of %zu bytes", off, c->limit);
        return;
    case CANON_UTF8:
        snprintf(c->err, sizeof(c->err),
                 "offset %" PRIu64 ": string is not valid UTF-8", off);
        return;
    case CANON_IO:
        snprintf(c->err, sizeof(c->err), "offset %" PRIu64 ": %s", off,
                 "cannot spool the canonical form");
        return;
    default:
        break;
    }
    msg = yajl_get_error(c->y, 0, p, n);
    len = msg == NULL ? 0 : strlen((char *)msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        len--;
    snprintf(c->err, sizeof(c->err), "offset %" PRIu64 ": %.*s", off,
             (int)len, msg == NULL ? "" : (char *)msg);
    if (msg != NULL)
        yajl_free_error(c->y, msg);
}

static int canon_failed(const cli_canon *c)
{
    return c->why == CANON_IO ? CLI_SINK_FAILED : -1;
}

/* Hand p[0..n) to yajl now. */
static int canon_parse(cli_canon *c, const unsigned char *p, size_t n)
{
    uint64_t events = c->events;
    yajl_status st = yajl_parse(c->y, p, n);

    if (st != yajl_status_ok) {
        canon_fail(c, p, n, c->fed + yajl_get_bytes_consumed(c->y));
        return canon_failed(c);
    }
    if (cli_esc_feed(&c->esc, p, n) != 0) {
        snprintf(c->err, sizeof(c->err),
                 "offset %" PRIu64 ": \\u escape is a lone surrogate",
                 c->esc.bad_at);
        return -1;
    }
    c->fed += n;
    c->stalled = c->events == events ? c->stalled + n : 0;
    return 0;
}

int cli_canon_drain(cli_canon *c)
{
    int rc;

    if (c->batch.len == 0)
        return 0;
    rc = canon_parse(c, c->batch.p, c->batch.len);
    c->batch.len = 0;
    if (c->stalled == 0)
        cli_buf_free(&c->batch);   /* the long string is over */
    return rc;
}

int cli_canon_feed(cli_canon *c, const void *p, size_t n)
{
    size_t want;

    if (c->batch.len == 0 && c->stalled < CANON_STALL)
        return canon_parse(c, p, n);
    if (cli_buf_append(&c->batch, p, n) != 0) {
        snprintf(c->err, sizeof(c->err), "offset %" PRIu64 ": %s",
                 c->fed, "out of memory");
        return -1;
    }
    want = (size_t)(c->stalled / CANON_BATCH_SHARE);
    if (c->batch.len < want)
        return 0;
    return cli_canon_drain(c);
}

int cli_canon_finish(cli_canon *c)
{
    int rc = cli_canon_drain(c);

    if (rc != 0)
        return rc;
    if (yajl_complete_parse(c->y) != yajl_status_ok) {
        canon_fail(c, NULL, 0, c->fed);
        return canon_failed(c);
    }
    if (cli_esc_finish(&c->esc) != 0) {
        snprintf(c->err, sizeof(c->err),
                 "offset %" PRIu64 ": \\u escape is a lone surrogate",
                 c->esc.bad_at);
        return -1;
    }
    if (c->spill != NULL && c->out->len > 0 && canon_move(c) != 0)
        return CLI_SINK_FAILED;
    return 0;
}

const char *cli_canon_error(const cli_canon *c)
{
    return c->err;
}
