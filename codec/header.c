/*
 * header.c - validation of a frame header's JSON with yajl's callback API.
 *
 * yajl checks the JSON grammar; every protocol rule lives in the callbacks
 * below so that it is ours to test and to fuzz with coverage:
 *  - strict UTF-8 over the whole header (yajl accepts overlongs, encoded
 *    surrogates and code points above U+10FFFF), checked before yajl runs;
 *  - \u escapes that form lone surrogates (yajl turns them into '?');
 *  - \v and \f, which yajl skips as whitespace and JSON does not;
 *  - one object, required keys with their types, no duplicate keys,
 *    scalar extension values, the extension and content limits.
 * Nesting never goes deeper than one object: the first nested '{' or '['
 * is rejected in its callback, so yajl's own stack stays tiny.
 *
 * Error offsets point at the first byte of the offending token (or, for
 * yajl's syntax errors, where yajl stopped); they count from the frame's
 * first byte.
 */
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "internal.h"
#include "yajl_arena.h"

enum key_id {
    KEY_NONE = -1,
    KEY_BYTEORDER = 0,
    KEY_CONTENT_TYPE,
    KEY_CONTENT_ENCODING,
    KEY_CONTENT_LENGTH,
    KEY_EXT,
    KEY_REQUIRED_COUNT = KEY_EXT
};

static const char *const required_names[KEY_REQUIRED_COUNT] = {
    "byteorder", "content-type", "content-encoding", "content-length"
};

/* strlen of each of required_names, compared before the bytes. */
static const size_t required_lens[KEY_REQUIRED_COUNT] = { 9, 12, 16, 14 };

typedef struct parse_ctx {
    hf_decoder *d;
    yajl_handle y;
    const unsigned char *json;
    size_t len;
    size_t prefix_len;      /* added to offsets: frame offset of json[0] */
    size_t prev_end;        /* end of the previous token in json */
    int depth;              /* 0 outside the top-level object, 1 inside */
    unsigned seen;          /* bitmask of required keys seen */
    enum key_id cur;        /* key the next value belongs to */
    int failed;             /* a callback recorded an error */
    int finishing;          /* inside yajl_complete_parse */
    int escapes;            /* json holds a backslash */
    hf_yajl_alloc ya;       /* yajl's allocations through d's hooks */
} parse_ctx;

static int is_json_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Offset in json of the token yajl has just read: the first byte after
 * the previous token that is neither whitespace nor a separator. */
static size_t token_start(const parse_ctx *c)
{
    size_t p = c->prev_end;

    while (p < c->len && (is_json_space(c->json[p]) || c->json[p] == ',' ||
                          c->json[p] == ':'))
        p++;
    return p;
}

static size_t token_end(const parse_ctx *c)
{
    size_t end;

    /* yajl_complete_parse feeds yajl a buffer of its own, so its offsets
     * then no longer count in json: everything has been read. */
    if (c->finishing)
        return c->len;
    end = yajl_get_bytes_consumed(c->y);

    return end > c->len ? c->len : end;
}

/* Called after every token handled without error. */
static int advance(parse_ctx *c)
{
    c->prev_end = token_end(c);
    return 1;
}

static int fail_at(parse_ctx *c, hf_status code, size_t pos, const char *fmt,
                   const char *arg)
{
    hf_set_error(c->d, code, (uint64_t)c->prefix_len + pos, fmt, arg);
    c->failed = 1;
    return 0;
}

static int fail(parse_ctx *c, hf_status code, const char *fmt,
                const char *arg)
{
    return fail_at(c, code, token_start(c), fmt, arg);
}

/* Copy s into the decoder's arena, NUL-terminated. */
static const char *arena_copy(parse_ctx *c, const void *s, size_t n)
{
    hf_decoder *d = c->d;
    char *p;

    if (d->arena_cap - d->arena_len < n + 1)
        return NULL;
    p = d->arena + d->arena_len;
    if (n > 0)
        memcpy(p, s, n);
    p[n] = '\0';
    d->arena_len += n + 1;
    return p;
}

static unsigned hex4(const unsigned char *p)
{
    unsigned v = 0, i, c;

    for (i = 0; i < 4; i++) {
        c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else
            v |= c - 'A' + 10;
    }
    return v;
}

static int lone_surrogate(parse_ctx *c, size_t pos, const char *what)
{
    char msg[HF_DETAIL_MAX];

    snprintf(msg, sizeof msg, "escape %.6s is a %s", c->json + pos, what);
    return fail_at(c, HF_E_LONE_SURROGATE, pos, "%s", msg);
}

/* Reject \u escapes forming lone surrogates in the string token that
 * ends at token_end (yajl has already checked the escapes' syntax). */
static int check_surrogates(parse_ctx *c)
{
    size_t start, end, i;
    const unsigned char *j = c->json;
    unsigned u;

    if (!c->escapes)
        return 1;
    start = token_start(c);
    end = token_end(c);
    for (i = start + 1; i + 1 < end; i++) {
        const unsigned char *q = memchr(j + i, '\\', end - 1 - i);

        if (q == NULL)
            break;
        i = (size_t)(q - j);
        if (j[i + 1] != 'u' || end - i < 6) {
            i++;
            continue;
        }
        u = hex4(j + i + 2);
        if (u >= 0xdc00 && u <= 0xdfff)
            return lone_surrogate(c, i, "low surrogate without a high "
                                  "surrogate before it");
        if (u >= 0xd800 && u <= 0xdbff) {
            if (end - i < 12 || j[i + 6] != '\\' || j[i + 7] != 'u' ||
                hex4(j + i + 8) < 0xdc00 || hex4(j + i + 8) > 0xdfff)
                return lone_surrogate(c, i, "high surrogate without a "
                                      "low surrogate after it");
            i += 11;
            continue;
        }
        i += 5;
    }
    return 1;
}

static const char *json_type_name(int which)
{
    static const char *const names[] = {
        "string", "number", "true", "false", "null", "object", "array"
    };
    return names[which];
}

enum { T_STRING, T_NUMBER, T_TRUE, T_FALSE, T_NULL, T_OBJECT, T_ARRAY };

/* A value of JSON type t arrived outside the top-level object. (Nothing
 * arrives after the object: cb_end_map refuses any byte but whitespace
 * after it before yajl reads on.) */
static int top_level_value(parse_ctx *c, int t)
{
    return fail(c, HF_E_NOT_OBJECT, "header is a JSON %s, not an object",
                json_type_name(t));
}

/* A required key got a value of the wrong JSON type t. */
static int wrong_type(parse_ctx *c, int t)
{
    switch (c->cur) {
    case KEY_BYTEORDER:
        return fail(c, HF_E_BAD_BYTEORDER, "byteorder must be \"little\" "
                    "or \"big\", not a JSON %s", json_type_name(t));
    case KEY_CONTENT_TYPE:
        return fail(c, HF_E_BAD_CONTENT_TYPE, "content-type must be a "
                    "non-empty string, not a JSON %s", json_type_name(t));
    case KEY_CONTENT_ENCODING:
        return fail(c, HF_E_BAD_CONTENT_ENCODING, "content-encoding must "
                    "be a non-empty string, not a JSON %s",
                    json_type_name(t));
    default:
        return fail(c, HF_E_BAD_CONTENT_LENGTH, "content-length must be a "
                    "non-negative integer, not a JSON %s",
                    json_type_name(t));
    }
}

static int store_ext_value(parse_ctx *c, const void *s, size_t n,
                           hf_value_type type)
{
    hf_ext *e = &c->d->header.ext[c->d->header.n_ext - 1];
    const char *v;

    v = arena_copy(c, s, n);
    if (v == NULL)
        return fail(c, HF_E_NOMEM, "header storage exhausted%s", "");
    e->value.ptr = v;
    e->value.len = n;
    e->type = type;
    c->cur = KEY_NONE;
    return advance(c);
}

static int cb_null(void *ctx)
{
    parse_ctx *c = ctx;

    if (c->depth == 0)
        return top_level_value(c, T_NULL);
    if (c->cur != KEY_EXT)
        return wrong_type(c, T_NULL);
    return store_ext_value(c, "null", 4, HF_VALUE_NULL);
}

static int cb_boolean(void *ctx, int b)
{
    parse_ctx *c = ctx;

    if (c->depth == 0)
        return top_level_value(c, b ? T_TRUE : T_FALSE);
    if (c->cur != KEY_EXT)
        return wrong_type(c, b ? T_TRUE : T_FALSE);
    if (b)
        return store_ext_value(c, "true", 4, HF_VALUE_TRUE);
    return store_ext_value(c, "false", 5, HF_VALUE_FALSE);
}

static int content_length_error(parse_ctx *c, hf_status code,
                                const char *s, size_t n)
{
    char shown[48], msg[HF_DETAIL_MAX];

    hf_quote_for_message(shown, sizeof shown, s, n);
    if (code == HF_E_BAD_CONTENT_LENGTH)
        return fail(c, code, "content-length must be a non-negative "
                    "integer, not %s", shown);
    snprintf(msg, sizeof msg, "content-length %s exceeds the limit of %llu",
             shown, (unsigned long long)c->d->lim.max_content);
    return fail(c, code, "%s", msg);
}

static int set_content_length(parse_ctx *c, const char *s, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return content_length_error(c, HF_E_BAD_CONTENT_LENGTH, s, n);
    for (i = 0; i < n; i++) {
        /* v <= max_content <= 2^53 - 1 here, so v * 10 + 9 cannot wrap. */
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > c->d->lim.max_content)
            return content_length_error(c, HF_E_CONTENT_TOO_LONG, s, n);
    }
    c->d->header.content_length = v;
    c->cur = KEY_NONE;
    return advance(c);
}

static int cb_number(void *ctx, const char *s, size_t n)
{
    parse_ctx *c = ctx;

    if (c->depth == 0)
        return top_level_value(c, T_NUMBER);
    if (c->cur == KEY_CONTENT_LENGTH)
        return set_content_length(c, s, n);
    if (c->cur != KEY_EXT)
        return wrong_type(c, T_NUMBER);
    return store_ext_value(c, s, n, HF_VALUE_NUMBER);
}

static int set_byteorder(parse_ctx *c, const unsigned char *s, size_t n)
{
    char shown[48];

    if (n == 6 && memcmp(s, "little", 6) == 0) {
        c->d->header.byteorder = HF_BYTEORDER_LITTLE;
    } else if (n == 3 && memcmp(s, "big", 3) == 0) {
        c->d->header.byteorder = HF_BYTEORDER_BIG;
    } else {
        hf_quote_for_message(shown, sizeof shown, (const char *)s, n);
        return fail(c, HF_E_BAD_BYTEORDER, "byteorder must be \"little\" "
                    "or \"big\", not \"%s\"", shown);
    }
    c->cur = KEY_NONE;
    return advance(c);
}

static int set_required_string(parse_ctx *c, hf_str *dst, hf_status code,
                               const unsigned char *s, size_t n)
{
    const char *v;

    if (n == 0)
        return fail(c, code, "%s must not be empty",
                    required_names[c->cur]);
    v = arena_copy(c, s, n);
    if (v == NULL)
        return fail(c, HF_E_NOMEM, "header storage exhausted%s", "");
    dst->ptr = v;
    dst->len = n;
    c->cur = KEY_NONE;
    return advance(c);
}

static int cb_string(void *ctx, const unsigned char *s, size_t n)
{
    parse_ctx *c = ctx;
    hf_header *h = &c->d->header;

    if (c->depth == 0)
        return top_level_value(c, T_STRING);
    if (!check_surrogates(c))
        return 0;
    switch (c->cur) {
    case KEY_BYTEORDER:
        return set_byteorder(c, s, n);
    case KEY_CONTENT_TYPE:
        return set_required_string(c, &h->content_type,
                                   HF_E_BAD_CONTENT_TYPE, s, n);
    case KEY_CONTENT_ENCODING:
        return set_required_string(c, &h->content_encoding,
                                   HF_E_BAD_CONTENT_ENCODING, s, n);
    case KEY_CONTENT_LENGTH:
        return wrong_type(c, T_STRING);
    default:
        return store_ext_value(c, s, n, HF_VALUE_STRING);
    }
}

static int cb_start_map(void *ctx)
{
    parse_ctx *c = ctx;
    char shown[72];

    if (c->depth == 0) {
        c->depth = 1;
        return advance(c);
    }
    if (c->cur != KEY_EXT)
        return wrong_type(c, T_OBJECT);
    hf_quote_for_message(shown, sizeof shown,
                         c->d->header.ext[c->d->header.n_ext - 1].key.ptr,
                         c->d->header.ext[c->d->header.n_ext - 1].key.len);
    return fail(c, HF_E_NESTED_VALUE, "extension header \"%s\" has an "
                "object value; only scalars are allowed", shown);
}

static int cb_start_array(void *ctx)
{
    parse_ctx *c = ctx;
    char shown[72];

    if (c->depth == 0)
        return top_level_value(c, T_ARRAY);
    if (c->cur != KEY_EXT)
        return wrong_type(c, T_ARRAY);
    hf_quote_for_message(shown, sizeof shown,
                         c->d->header.ext[c->d->header.n_ext - 1].key.ptr,
                         c->d->header.ext[c->d->header.n_ext - 1].key.len);
    return fail(c, HF_E_NESTED_VALUE, "extension header \"%s\" has an "
                "array value; only scalars are allowed", shown);
}

static enum key_id classify_key(const unsigned char *s, size_t n)
{
    int k;

    for (k = 0; k < KEY_REQUIRED_COUNT; k++)
        if (required_lens[k] == n && memcmp(required_names[k], s, n) == 0)
            return (enum key_id)k;
    return KEY_EXT;
}

static int is_duplicate_ext(const hf_header *h, const unsigned char *s,
                            size_t n)
{
    size_t i;

    for (i = 0; i < h->n_ext; i++)
        if (h->ext[i].key.len == n && memcmp(h->ext[i].key.ptr, s, n) == 0)
            return 1;
    return 0;
}

static int duplicate(parse_ctx *c, const unsigned char *s, size_t n)
{
    char shown[72];

    hf_quote_for_message(shown, sizeof shown, (const char *)s, n);
    return fail(c, HF_E_DUPLICATE_KEY, "key \"%s\" appears twice", shown);
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t n)
{
    parse_ctx *c = ctx;
    hf_header *h = &c->d->header;
    enum key_id k;
    hf_ext *e;

    if (!check_surrogates(c))
        return 0;
    k = classify_key(s, n);
    if (k != KEY_EXT) {
        if (c->seen & (1u << k))
            return duplicate(c, s, n);
        c->seen |= 1u << k;
        c->cur = k;
        return advance(c);
    }
    if (is_duplicate_ext(h, s, n))
        return duplicate(c, s, n);
    if (h->n_ext >= c->d->lim.max_extensions) {
        char msg[64];

        snprintf(msg, sizeof msg, "more than %zu extension headers",
                 c->d->lim.max_extensions);
        return fail(c, HF_E_TOO_MANY_EXTENSIONS, "%s", msg);
    }
    e = &h->ext[h->n_ext];
    e->key.ptr = arena_copy(c, s, n);
    if (e->key.ptr == NULL)
        return fail(c, HF_E_NOMEM, "header storage exhausted%s", "");
    e->key.len = n;
    h->n_ext++;
    c->cur = KEY_EXT;
    return advance(c);
}

static int check_trailing(parse_ctx *c)
{
    size_t p = token_end(c);
    char msg[64];

    while (p < c->len && is_json_space(c->json[p]))
        p++;
    if (p == c->len)
        return 1;
    snprintf(msg, sizeof msg, "unexpected byte 0x%02x after the header "
             "object", (unsigned)c->json[p]);
    return fail_at(c, HF_E_TRAILING_DATA, p, "%s", msg);
}

static int cb_end_map(void *ctx)
{
    parse_ctx *c = ctx;
    int k;

    /* depth is 1 here: nested objects are rejected when they open. */
    c->depth = 0;
    for (k = 0; k < KEY_REQUIRED_COUNT; k++)
        if (!(c->seen & (1u << k)))
            return fail(c, HF_E_MISSING_KEY, "required key \"%s\" is "
                        "missing", required_names[k]);
    if (!check_trailing(c))
        return 0;
    return advance(c);
}

static const yajl_callbacks header_callbacks = {
    cb_null, cb_boolean, NULL, NULL, cb_number, cb_string,
    cb_start_map, cb_map_key, cb_end_map, cb_start_array,
    NULL        /* end_array: arrays are refused when they open */
};

/* Map a yajl syntax error to json-syntax with yajl's own words. */
static void syntax_error(parse_ctx *c)
{
    unsigned char *msg = yajl_get_error(c->y, 0, NULL, 0);
    size_t pos = token_end(c), n;
    char text[HF_DETAIL_MAX];

    text[0] = '\0';
    if (msg != NULL) {
        snprintf(text, sizeof text, "%s", (const char *)msg);
        yajl_free_error(c->y, msg);
        n = strlen(text);
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
            text[--n] = '\0';
    }
    if (text[0] == '\0')
        snprintf(text, sizeof text, "malformed JSON");
    hf_set_error(c->d, HF_E_JSON_SYNTAX, (uint64_t)c->prefix_len + pos,
                 "%s", text);
}

/* Reset the fields a parse fills; ext[] past n_ext is never read, so
 * the table (most of the struct) is not cleared for every frame. */
static void clear_header(hf_header *h)
{
    h->byteorder = HF_BYTEORDER_LITTLE;
    h->content_type.ptr = NULL;
    h->content_type.len = 0;
    h->content_encoding.ptr = NULL;
    h->content_encoding.len = 0;
    h->content_length = 0;
    h->n_ext = 0;
    h->header_len = 0;
}

static hf_status prepare_arena(hf_decoder *d, size_t len)
{
    /* Decoded strings never outgrow their JSON text (see header.c top),
     * so len + 1 bytes always suffice. */
    size_t need = len + 1;
    char *p;

    if (d->arena_cap < need) {
        p = hf_realloc(&d->lim, d->arena, need);
        if (p == NULL)
            return HF_E_NOMEM;
        d->arena = p;
        d->arena_cap = need;
    }
    d->arena_len = 0;
    return HF_OK;
}

/* Offset of the first a or b in p[0..n), or n. */
static size_t first_of(const unsigned char *p, size_t n, int a, int b)
{
    const unsigned char *pa = memchr(p, a, n), *pb = memchr(p, b, n);

    if (pa == NULL && pb == NULL)
        return n;
    if (pa == NULL || (pb != NULL && pb < pa))
        return (size_t)(pb - p);
    return (size_t)(pa - p);
}

static hf_status pre_checks(hf_decoder *d, const unsigned char *json,
                            size_t len, size_t prefix_len)
{
    size_t bad;

    if (len >= 3 && json[0] == 0xef && json[1] == 0xbb && json[2] == 0xbf) {
        hf_set_error(d, HF_E_JSON_SYNTAX, prefix_len,
                     "a byte order mark is not allowed before the header");
        return HF_E_JSON_SYNTAX;
    }
    bad = hf_utf8_check(json, len);
    if (bad != len) {
        hf_set_error(d, HF_E_UTF8, (uint64_t)prefix_len + bad,
                     "invalid UTF-8 sequence starting with byte 0x%02x",
                     (unsigned)json[bad]);
        return HF_E_UTF8;
    }
    return HF_OK;
}

/* yajl also skips \v and \f as whitespace; JSON has neither outside
 * strings, and no raw control byte inside them. The text is parsed up to
 * the first of them, so that an error before it is the one reported. */
static void control_byte_error(hf_decoder *d, const unsigned char *json,
                               size_t at, size_t prefix_len)
{
    hf_set_error(d, HF_E_JSON_SYNTAX, (uint64_t)prefix_len + at,
                 "control byte 0x%02x is not JSON whitespace",
                 (unsigned)json[at]);
}

/* A hook failed inside yajl: whatever yajl made of the header, it is
 * refused. */
static hf_status parser_nomem(hf_decoder *d, size_t prefix_len)
{
    clear_header(&d->header);
    hf_set_error(d, HF_E_NOMEM, prefix_len, "no memory for the JSON "
                 "parser");
    return HF_E_NOMEM;
}

hf_status hf_header_parse(hf_decoder *d, const unsigned char *json,
                          size_t len, size_t prefix_len)
{
    parse_ctx c;
    hf_yajl_arena yajl_mem;
    yajl_status ys;
    hf_status st;
    size_t ctl;

    /* header and arena are about to hold another header's result. */
    d->same_len = 0;
    clear_header(&d->header);
    st = pre_checks(d, json, len, prefix_len);
    if (st != HF_OK)
        return st;
    if (prepare_arena(d, len) != HF_OK) {
        hf_set_error(d, HF_E_NOMEM, prefix_len, "no memory for %zu header "
                     "bytes", len);
        return HF_E_NOMEM;
    }
    /* The text yajl sees ends at the first \v or \f. */
    ctl = first_of(json, len, '\v', '\f');
    memset(&c, 0, sizeof c);
    c.d = d;
    c.json = json;
    c.len = ctl;
    c.prefix_len = prefix_len;
    c.cur = KEY_NONE;
    /* Without a backslash no string can hold a \u escape. */
    c.escapes = memchr(json, '\\', ctl) != NULL;
    /* yajl's blocks from the stack, past that through d's hooks. */
    c.y = yajl_alloc(&header_callbacks, hf_yajl_arena_init(&yajl_mem,
                     hf_yajl_alloc_init(&c.ya, &d->lim)), &c);
    if (c.y == NULL || c.ya.failed) {
        if (c.y != NULL)
            yajl_free(c.y);
        return parser_nomem(d, prefix_len);
    }
    ys = yajl_parse(c.y, json, ctl);
    if (ys == yajl_status_ok && ctl == len) {
        c.finishing = 1;
        ys = yajl_complete_parse(c.y);
    }
    if (ys != yajl_status_ok && !c.failed && !c.ya.failed)
        syntax_error(&c);
    yajl_free(c.y);
    if (c.ya.failed)
        return parser_nomem(d, prefix_len);
    if (ys != yajl_status_ok)
        return d->error.code;
    if (ctl != len) {
        clear_header(&d->header);
        control_byte_error(d, json, ctl, prefix_len);
        return HF_E_JSON_SYNTAX;
    }
    d->header.header_len = len;
    return HF_OK;
}
