/*
 * json.c - the canonical JSON writer: strings and flat string objects in
 * exactly the form Python's json.dumps(obj, ensure_ascii=False) gives.
 * All JSON parsing is yajl's; this file only writes (and asks yajl whether
 * a number's text is a JSON number).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "internal.h"

void hf_sink_put(hf_sink *s, const void *p, size_t n)
{
    int fits = s->len <= s->cap && n <= s->cap - s->len;

    /* Nothing to do, and p may be NULL (an empty string). */
    if (n == 0)
        return;
    if (s->cmp != NULL) {
        if (!fits || memcmp(s->cmp + s->len, p, n) != 0)
            s->mismatch = 1;
    } else if (s->buf != NULL && fits) {
        memcpy(s->buf + s->len, p, n);
    }
    s->len = (n > SIZE_MAX - s->len) ? SIZE_MAX : s->len + n;
}

void hf_sink_str(hf_sink *s, const char *z)
{
    hf_sink_put(s, z, strlen(z));
}

/* The escape for byte c, or NULL when c is written as it is. */
static const char *escape_for(unsigned char c, char tmp[8])
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\b': return "\\b";
    case '\f': return "\\f";
    default: break;
    }
    if (c >= 0x20)
        return NULL;
    snprintf(tmp, 8, "\\u%04x", (unsigned)c);
    return tmp;
}

void hf_sink_json_string(hf_sink *s, const unsigned char *p, size_t n)
{
    size_t run = 0, i;
    const char *esc;
    char tmp[8];

    hf_sink_put(s, "\"", 1);
    if (n == 0) {
        hf_sink_put(s, "\"", 1);
        return;
    }
    for (i = 0; i < n; i++) {
        esc = escape_for(p[i], tmp);
        if (esc == NULL)
            continue;
        hf_sink_put(s, p + run, i - run);
        hf_sink_str(s, esc);
        run = i + 1;
    }
    hf_sink_put(s, p + run, n - run);
    hf_sink_put(s, "\"", 1);
}

size_t hf_json_string_len(const void *s, size_t len)
{
    hf_sink sink = {0};

    if (len > 0 && s == NULL)
        return 0;
    if (hf_utf8_check(s, len) != len)
        return 0;
    hf_sink_json_string(&sink, s, len);
    return sink.len;
}

static hf_status finish(const hf_sink *sink, size_t *written)
{
    if (written != NULL)
        *written = sink->len;
    return sink->len > sink->cap ? HF_E_NO_SPACE : HF_OK;
}

hf_status hf_json_write_string(unsigned char *out, size_t cap,
                               const void *s, size_t len, size_t *written)
{
    hf_sink sink = {0};

    if ((out == NULL && cap > 0) || (s == NULL && len > 0))
        return HF_E_INVALID_ARGUMENT;
    if (hf_utf8_check(s, len) != len)
        return HF_E_UTF8;
    sink.buf = out;
    sink.cap = cap;
    hf_sink_json_string(&sink, s, len);
    return finish(&sink, written);
}

static int strs_valid(const hf_str *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (v[i].ptr == NULL && v[i].len > 0)
            return 0;
        if (hf_utf8_check(v[i].ptr, v[i].len) != v[i].len)
            return 0;
    }
    return 1;
}

static void sink_object(hf_sink *s, const hf_str *keys, const hf_str *values,
                        size_t n)
{
    size_t i;

    hf_sink_put(s, "{", 1);
    for (i = 0; i < n; i++) {
        if (i > 0)
            hf_sink_put(s, ", ", 2);
        hf_sink_json_string(s, (const unsigned char *)keys[i].ptr,
                            keys[i].len);
        hf_sink_put(s, ": ", 2);
        hf_sink_json_string(s, (const unsigned char *)values[i].ptr,
                            values[i].len);
    }
    hf_sink_put(s, "}", 1);
}

size_t hf_json_object_len(const hf_str *keys, const hf_str *values, size_t n)
{
    hf_sink sink = {0};

    if (n > 0 && (keys == NULL || values == NULL))
        return 0;
    if (!strs_valid(keys, n) || !strs_valid(values, n))
        return 0;
    sink_object(&sink, keys, values, n);
    return sink.len;
}

hf_status hf_json_write_object(unsigned char *out, size_t cap,
                               const hf_str *keys, const hf_str *values,
                               size_t n, size_t *written)
{
    hf_sink sink = {0};

    if ((out == NULL && cap > 0) ||
        (n > 0 && (keys == NULL || values == NULL)))
        return HF_E_INVALID_ARGUMENT;
    if (!strs_valid(keys, n) || !strs_valid(values, n))
        return HF_E_UTF8;
    sink.buf = out;
    sink.cap = cap;
    sink_object(&sink, keys, values, n);
    return finish(&sink, written);
}

/* Length a UTF-8 sequence starting with lead byte c claims to have. */
static size_t lead_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c < 0xe0)
        return 2;
    return c < 0xf0 ? 3 : 4;
}

void hf_quote_for_message(char *dst, size_t cap, const char *s, size_t n)
{
    size_t out = 0, i = 0, seq;
    unsigned char c;

    if (cap == 0)
        return;
    while (i < n) {
        c = (unsigned char)s[i];
        seq = lead_len(c);
        if (seq > n - i || hf_utf8_check(s + i, seq) != seq)
            seq = 0;
        if (seq == 0 || c < 0x20 || c == 0x7f || c == '\\' || c == '"') {
            /* Shown as \xNN; keep room for "..." and the NUL. */
            if (cap - out < 4 + 4)
                break;
            snprintf(dst + out, 5, "\\x%02x", (unsigned)c);
            out += 4;
            i++;
            continue;
        }
        if (cap - out < seq + 4)
            break;
        memcpy(dst + out, s + i, seq);
        out += seq;
        i += seq;
    }
    if (i < n && cap - out >= 4) {
        memcpy(dst + out, "...", 3);
        out += 3;
    }
    dst[out] = '\0';
}

static int count_number(void *ctx, const char *s, size_t l)
{
    (void)s;
    (void)l;
    (*(int *)ctx)++;
    return 1;
}

int hf_is_json_number(const char *p, size_t n)
{
    /* Only numbers can reach yajl (see the character check below). */
    static const yajl_callbacks cb = {
        NULL, NULL, NULL, NULL, count_number, NULL,
        NULL, NULL, NULL, NULL, NULL
    };
    yajl_handle y;
    int numbers = 0, ok;
    size_t i;

    if (p == NULL || n == 0)
        return 0;
    /* Only a number's characters: yajl would also take a value followed
     * by the start of an unfinished token (1"x), or whitespace. */
    for (i = 0; i < n; i++)
        if (strchr("0123456789+-.eE", p[i]) == NULL || p[i] == '\0')
            return 0;
    y = yajl_alloc(&cb, NULL, &numbers);
    if (y == NULL)
        return 0;
    ok = yajl_parse(y, (const unsigned char *)p, n) == yajl_status_ok &&
         yajl_complete_parse(y) == yajl_status_ok;
    yajl_free(y);
    return ok && numbers == 1;
}

/* Value of the 4 hex digits at p, or -1 when they are not hex digits. */
static long hex4_value(const unsigned char *p)
{
    long v = 0;
    int i, d;

    for (i = 0; i < 4; i++) {
        if (p[i] >= '0' && p[i] <= '9')
            d = p[i] - '0';
        else if (p[i] >= 'a' && p[i] <= 'f')
            d = p[i] - 'a' + 10;
        else if (p[i] >= 'A' && p[i] <= 'F')
            d = p[i] - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* The code unit of a \uXXXX escape at p[0..n), or -1. */
static long escape_unit(const unsigned char *p, size_t n)
{
    if (n < 6 || p[0] != '\\' || p[1] != 'u')
        return -1;
    return hex4_value(p + 2);
}

size_t hf_json_lone_surrogate(const void *json, size_t len)
{
    const unsigned char *p = json;
    const unsigned char *q;
    size_t i = 0;
    long u, lo;

    if (p == NULL)
        return 0;
    while (i < len) {
        q = memchr(p + i, '\\', len - i);
        if (q == NULL)
            return len;
        i = (size_t)(q - p);
        u = escape_unit(p + i, len - i);
        if (u < 0xd800 || u > 0xdfff) {
            i += 2;             /* any escape: skip its two characters */
            continue;
        }
        if (u >= 0xdc00)
            return i;           /* a low surrogate alone */
        lo = escape_unit(p + i + 6, len - i - 6);
        if (lo < 0xdc00 || lo > 0xdfff)
            return i;           /* a high surrogate alone */
        i += 12;
    }
    return len;
}
