/*
 * fuzz_index.c - the gateway's index loader (gw_index_load_mem) against
 * jansson.
 *
 * The input is an index file. Oracles:
 *  - the loader's error is a known code with its offset inside the input
 *    (or at its end) and a NUL-terminated detail; *out is NULL then;
 *  - loaded: jansson reads the same text as an object of strings with no
 *    duplicate key, the index has as many entries, every key looks up to
 *    the same answer, and keys absent from the file are not found;
 *  - jansson reads an object of strings without duplicates: the loader
 *    accepts it, except where jansson's own limits reject valid JSON (see
 *    fuzz_header_diff.c) or a lone \u surrogate, which jansson refuses
 *    and yajl decodes;
 *  - not-object, not-string and duplicate errors show in jansson's view;
 *  - answers made ahead (gw_index_prepare) are found under their own keys:
 *    each is what make gave for that key's value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_util.h"
#include "gw_index.h"

/* jansson refused JSON the loader may accept: its own numeric and key
 * limits, and lone \u surrogates, which the loader (through yajl) reads
 * as '?' (docs/fuzzing.md, known divergences). */
static int jansson_limit(const json_error_t *err)
{
    return strstr(err->text, "too big") != NULL ||
           strstr(err->text, "NUL byte in object key") != NULL ||
           strstr(err->text, "real number overflow") != NULL ||
           strstr(err->text, "maximum parsing depth") != NULL ||
           strstr(err->text, "invalid Unicode") != NULL;
}

/* Non-zero when root is an object whose values are all strings. */
static int strings_only(json_t *root)
{
    void *it;

    if (!json_is_object(root))
        return 0;
    for (it = json_object_iter(root); it != NULL;
         it = json_object_iter_next(root, it))
        if (!json_is_string(json_object_iter_value(it)))
            return 0;
    return 1;
}

/* Answers made ahead for the fuzzer: the value's length in 8 bytes, then
 * the value; none for values that start with 'x'. */
static int make_tagged(void *ctx, const char *value, size_t len, gw_buf *out)
{
    uint64_t n = len;

    (void)ctx;
    if (len > 0 && value[0] == 'x')
        return -1;
    if (gw_buf_append(out, &n, sizeof n) != 0 ||
        gw_buf_append(out, value, len) != 0)
        return -1;
    return 0;
}

static void check_prepared(const gw_index *idx, const char *key,
                           size_t key_len, const char *value, size_t len)
{
    const unsigned char *p;
    uint64_t n;
    size_t plen;

    p = gw_index_lookup_prepared(idx, key, key_len, &plen);
    if (len > 0 && value[0] == 'x') {
        FZ_CHECK(p == NULL && plen == 0);
        return;
    }
    FZ_CHECK(p != NULL && plen == sizeof n + len);
    memcpy(&n, p, sizeof n);
    FZ_CHECK(n == len);
    FZ_CHECK(len == 0 || memcmp(p + sizeof n, value, len) == 0);
}

static void check_same(const gw_index *idx, json_t *root)
{
    const char *key;
    const char *answer;
    const json_t *v;
    char longer[64];
    size_t key_len;
    size_t len;
    void *it;

    FZ_CHECK(gw_index_count(idx) == json_object_size(root));
    for (it = json_object_iter(root); it != NULL;
         it = json_object_iter_next(root, it)) {
        key = json_object_iter_key(it);
        key_len = json_object_iter_key_len(it);
        v = json_object_iter_value(it);
        answer = gw_index_lookup(idx, key, key_len, &len);
        FZ_CHECK(answer != NULL);
        FZ_CHECK(len == json_string_length(v));
        FZ_CHECK(len == 0 || memcmp(answer, json_string_value(v), len) == 0);
        check_prepared(idx, key, key_len, json_string_value(v), len);
        /* A key one byte longer is another key. */
        if (key_len < sizeof(longer)) {
            memcpy(longer, key, key_len);
            longer[key_len] = '\x01';
            if (json_object_getn(root, longer, key_len + 1) == NULL)
                FZ_CHECK(gw_index_lookup(idx, longer, key_len + 1, &len)
                         == NULL);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf;
    gw_index *idx;
    gw_index_error err;
    gw_index_status st;
    json_error_t jerr;
    json_error_t jerr2;
    json_t *any;
    json_t *nodup;

    buf = fz_dup(data, size);
    idx = (gw_index *)buf; /* must be overwritten */
    memset(&err, 0x5a, sizeof(err));
    st = gw_index_load_mem(buf, size, &idx, &err);
    any = json_loadb((const char *)buf, size,
                     JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    nodup = json_loadb((const char *)buf, size,
                       JSON_DECODE_ANY | JSON_ALLOW_NUL |
                           JSON_REJECT_DUPLICATES, &jerr2);

    if (st == GW_INDEX_OK) {
        FZ_CHECK(idx != NULL);
        if (nodup == NULL) {
            if (!jansson_limit(&jerr2))
                fz_fail(__FILE__, __LINE__, "jansson rejects", jerr2.text);
        } else {
            FZ_CHECK(strings_only(nodup));
            FZ_CHECK(gw_index_prepare(idx, make_tagged, NULL) == 0);
            check_same(idx, nodup);
        }
        gw_index_free(idx);
    } else {
        FZ_CHECK(idx == NULL);
        FZ_CHECK(st <= GW_INDEX_E_NOMEM);
        FZ_CHECK(err.code == st);
        FZ_CHECK(err.offset <= size);
        FZ_CHECK(memchr(err.detail, '\0', sizeof(err.detail)) != NULL);
        FZ_CHECK(strcmp(gw_index_strerror(st), "") != 0);
        if (nodup != NULL && strings_only(nodup) &&
            st != GW_INDEX_E_NOMEM && st != GW_INDEX_E_TOO_BIG)
            fz_fail(__FILE__, __LINE__, "loader rejects", err.detail);
        if (st == GW_INDEX_E_NOT_OBJECT && any != NULL)
            FZ_CHECK(!json_is_object(any));
        if (st == GW_INDEX_E_NOT_STRING && nodup != NULL)
            FZ_CHECK(json_is_object(nodup) && !strings_only(nodup));
        if (st == GW_INDEX_E_DUPLICATE)
            FZ_CHECK(any == NULL || nodup == NULL);
    }
    json_decref(nodup);
    json_decref(any);
    free(buf);
    return 0;
}
