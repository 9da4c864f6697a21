/*
 * fuzz_json_writer.c - the canonical JSON writer against an independent
 * model and against yajl.
 *
 * The whole input is one string value:
 *  - hf_utf8_check agrees with an independent strict UTF-8 check;
 *  - valid UTF-8: hf_json_write_string writes exactly the bytes of an
 *    independent escaper following the canonical rules (into an
 *    exact-size buffer), hf_json_string_len agrees, one byte less gives
 *    "no-space" with the needed size, and yajl parses the output back to
 *    a single string equal to the input;
 *  - invalid UTF-8: HF_E_UTF8 and a length of 0.
 * The input split at 0xff bytes (never part of UTF-8) also gives the keys
 * and values of an object for hf_json_write_object, checked the same way
 * and parsed back by yajl as a map.
 */
#include <stdlib.h>
#include <string.h>

#include <yajl_parse.h>

#include "fuzz_util.h"

/* Pairs taken for the object writer. */
#define PAIRS_MAX 16

/* What yajl handed back while parsing the writer's output. */
typedef struct parsed {
    const hf_str *want;      /* expected strings, in order */
    size_t n_want;
    size_t seen;
    int depth;
    int bad;                 /* an unexpected event */
} parsed;

static int take_string(parsed *p, const unsigned char *s, size_t len)
{
    hf_str got;

    if (p->seen >= p->n_want) {
        p->bad = 1;
        return 0;
    }
    got.ptr = (const char *)s;
    got.len = len;
    if (!fz_str_eq(got, p->want[p->seen]))
        p->bad = 1;
    p->seen++;
    return !p->bad;
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    return take_string(ctx, s, len);
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
    return take_string(ctx, s, len);
}

static int cb_start_map(void *ctx)
{
    parsed *p = ctx;

    p->depth++;
    return p->depth == 1;
}

static int cb_end_map(void *ctx)
{
    (void)ctx;
    return 1;
}

static int cb_other(void *ctx)
{
    parsed *p = ctx;

    p->bad = 1;
    return 0;
}

static int cb_bool(void *ctx, int b)
{
    (void)b;
    return cb_other(ctx);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    (void)s;
    (void)len;
    return cb_other(ctx);
}

static const yajl_callbacks callbacks = {
    cb_other,   /* null */
    cb_bool,    /* boolean */
    NULL,       /* integer: yajl_number is used */
    NULL,       /* double */
    cb_number,  /* number */
    cb_string,  /* string */
    cb_start_map,
    cb_map_key,
    cb_end_map,
    cb_other,   /* start_array */
    cb_other    /* end_array */
};

/* yajl must parse json[0..len) and report exactly the strings want[]. */
static void yajl_reads_back(const unsigned char *json, size_t len,
                            const hf_str *want, size_t n_want)
{
    yajl_handle y;
    parsed p;

    memset(&p, 0, sizeof(p));
    p.want = want;
    p.n_want = n_want;
    y = yajl_alloc(&callbacks, NULL, &p);
    FZ_CHECK(y != NULL);
    FZ_CHECK(yajl_parse(y, json, len) == yajl_status_ok);
    FZ_CHECK(yajl_complete_parse(y) == yajl_status_ok);
    FZ_CHECK(!p.bad);
    FZ_CHECK(p.seen == n_want);
    yajl_free(y);
}

static void check_string(const unsigned char *s, size_t len)
{
    unsigned char *want;
    unsigned char *out;
    size_t valid;
    size_t wlen;
    size_t w;
    hf_status st;
    hf_str str;

    valid = fz_utf8_prefix(s, len);
    FZ_CHECK(hf_utf8_check(s, len) == valid);
    if (valid != len) {
        FZ_CHECK(hf_json_string_len(s, len) == 0);
        out = malloc(4);
        FZ_CHECK(out != NULL);
        FZ_CHECK(hf_json_write_string(out, 4, s, len, &w) == HF_E_UTF8);
        free(out);
        return;
    }
    wlen = fz_json_string(NULL, s, len);
    want = malloc(wlen);
    out = malloc(wlen);
    FZ_CHECK(want != NULL && out != NULL);
    (void)fz_json_string(want, s, len);
    FZ_CHECK(hf_json_string_len(s, len) == wlen);

    w = 0;
    st = hf_json_write_string(out, wlen, s, len, &w);
    FZ_CHECK(st == HF_OK);
    FZ_CHECK(w == wlen);
    FZ_CHECK(memcmp(out, want, wlen) == 0);
    w = 0;
    st = hf_json_write_string(out, wlen - 1, s, len, &w);
    FZ_CHECK(st == HF_E_NO_SPACE);
    FZ_CHECK(w == wlen);

    str.ptr = (const char *)s;
    str.len = len;
    yajl_reads_back(want, wlen, &str, 1);
    free(out);
    free(want);
}

/* The object {"k0": "v0", ...} by the model; length, written when out. */
static size_t model_object(unsigned char *out, const hf_str *keys,
                           const hf_str *values, size_t n)
{
    size_t w;
    size_t i;

    w = 0;
    if (out != NULL)
        out[w] = '{';
    w++;
    for (i = 0; i < n; i++) {
        if (i > 0) {
            if (out != NULL)
                memcpy(out + w, ", ", 2);
            w += 2;
        }
        w += fz_json_string(out != NULL ? out + w : NULL,
                          (const unsigned char *)keys[i].ptr, keys[i].len);
        if (out != NULL)
            memcpy(out + w, ": ", 2);
        w += 2;
        w += fz_json_string(out != NULL ? out + w : NULL,
                          (const unsigned char *)values[i].ptr,
                          values[i].len);
    }
    if (out != NULL)
        out[w] = '}';
    return w + 1;
}

static void check_object(const unsigned char *s, size_t len)
{
    hf_str keys[PAIRS_MAX];
    hf_str values[PAIRS_MAX];
    hf_str flat[2 * PAIRS_MAX];
    unsigned char *want;
    unsigned char *out;
    const unsigned char *end;
    size_t pieces;
    size_t n;
    size_t i;
    size_t w;
    size_t wlen;
    int valid;

    /* Split at 0xff into at most 2 * PAIRS_MAX pieces; an odd last
     * piece is not used. */
    pieces = 0;
    while (pieces < 2 * PAIRS_MAX) {
        end = memchr(s, 0xff, len);
        flat[pieces].ptr = (const char *)s;
        flat[pieces].len = end != NULL ? (size_t)(end - s) : len;
        pieces++;
        if (end == NULL)
            break;
        len -= (size_t)(end - s) + 1;
        s = end + 1;
    }
    n = pieces / 2;
    valid = 1;
    for (i = 0; i < n; i++) {
        keys[i] = flat[2 * i];
        values[i] = flat[2 * i + 1];
        if (fz_utf8_prefix((const unsigned char *)keys[i].ptr,
                           keys[i].len) != keys[i].len ||
            fz_utf8_prefix((const unsigned char *)values[i].ptr,
                           values[i].len) != values[i].len)
            valid = 0;
    }
    if (!valid) {
        FZ_CHECK(hf_json_object_len(keys, values, n) == 0);
        out = malloc(2);
        FZ_CHECK(out != NULL);
        FZ_CHECK(hf_json_write_object(out, 2, keys, values, n, &w) ==
                 HF_E_UTF8);
        free(out);
        return;
    }
    wlen = model_object(NULL, keys, values, n);
    want = malloc(wlen);
    out = malloc(wlen);
    FZ_CHECK(want != NULL && out != NULL);
    (void)model_object(want, keys, values, n);
    FZ_CHECK(hf_json_object_len(keys, values, n) == wlen);
    w = 0;
    FZ_CHECK(hf_json_write_object(out, wlen, keys, values, n, &w) == HF_OK);
    FZ_CHECK(w == wlen);
    FZ_CHECK(memcmp(out, want, wlen) == 0);
    w = 0;
    FZ_CHECK(hf_json_write_object(out, wlen - 1, keys, values, n, &w) ==
             HF_E_NO_SPACE);
    FZ_CHECK(w == wlen);
    yajl_reads_back(want, wlen, flat, 2 * n);
    free(out);
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf;

    buf = fz_dup(data, size);
    check_string(buf, size);
    check_object(buf, size);
    free(buf);
    return 0;
}
