/*
 * fuzz_header_diff.c - header validation against an independent JSON
 * parser (jansson).
 *
 * The input is the header JSON (no prefix). hf_parse_header (yajl plus
 * the codec's own checks) and jansson's json_loadb (any top-level value,
 * NUL allowed in strings; once keeping duplicate keys, once rejecting
 * them) must agree:
 *  - hframe accepts => jansson accepts, finds no duplicate key, and reads
 *    the same byteorder, content type, encoding, length and the same
 *    extension keys and values in the same order;
 *  - hframe reports a syntax-class error (invalid-utf8, lone-surrogate,
 *    json-syntax, trailing-data) => jansson rejects too;
 *  - jansson rejects => hframe rejects;
 *  - jansson accepts without duplicates and hframe reports a rule
 *    violation => jansson's tree shows that violation (the reported one
 *    need not be the only one: hframe reports the first in the text);
 *  - hframe reports duplicate-key => jansson finds a duplicate;
 *  - every error points where docs/protocol.md 4.2 says, worked out from
 *    the header's bytes (fz_check_header_error).
 * Documented exceptions (docs/fuzzing.md): jansson's own limits make it
 * reject valid JSON that hframe accepts: integers beyond long long ("too
 * big integer"), reals beyond double ("real number overflow"), "\u0000"
 * in a key ("NUL byte in object key not supported"); and jansson takes
 * some raw NUL bytes outside strings that JSON (and hframe) refuse, so
 * inputs with a raw NUL are not held to "hframe refuses => jansson
 * refuses".
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_util.h"

static const char *const required[] = {
    "byteorder", "content-type", "content-encoding", "content-length"
};

static int is_syntax_error(hf_status st)
{
    return st == HF_E_UTF8 || st == HF_E_LONE_SURROGATE ||
           st == HF_E_JSON_SYNTAX || st == HF_E_TRAILING_DATA;
}

/* jansson rejected valid JSON because of its own numeric range. */
static int jansson_limit(const json_error_t *err)
{
    return strstr(err->text, "too big") != NULL ||
           strstr(err->text, "NUL byte in object key") != NULL ||
           strstr(err->text, "real number overflow") != NULL;
}

static int is_required(const char *key, size_t len)
{
    size_t i;

    for (i = 0; i < 4; i++)
        if (strlen(required[i]) == len && memcmp(required[i], key, len) == 0)
            return 1;
    return 0;
}

static int string_is(const json_t *v, hf_str s)
{
    return json_is_string(v) && json_string_length(v) == s.len &&
           (s.len == 0 || memcmp(json_string_value(v), s.ptr, s.len) == 0);
}

static int nonempty_string(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 0;
}

/* Same value for an extension: strings by bytes, literals by type,
 * numbers by their value as the C library reads the original text. */
static int ext_value_is(const json_t *v, const hf_ext *e)
{
    switch (e->type) {
    case HF_VALUE_STRING:
        return string_is(v, e->value);
    case HF_VALUE_TRUE:
        return json_is_true(v);
    case HF_VALUE_FALSE:
        return json_is_false(v);
    case HF_VALUE_NULL:
        return json_is_null(v);
    case HF_VALUE_NUMBER:
        if (json_is_integer(v))
            return strtoll(e->value.ptr, NULL, 10) == json_integer_value(v);
        if (json_is_real(v))
            return strtod(e->value.ptr, NULL) == json_real_value(v);
        return 0;
    default:
        return 0;
    }
}

static void check_same(const hf_header *h, json_t *root)
{
    const json_t *v;
    const char *key;
    size_t key_len;
    void *it;
    size_t i;

    FZ_CHECK(json_is_object(root));
    FZ_CHECK(json_object_size(root) == 4 + h->n_ext);
    v = json_object_get(root, "byteorder");
    FZ_CHECK(json_is_string(v));
    FZ_CHECK(strcmp(json_string_value(v), hf_byteorder_name(h->byteorder))
             == 0);
    FZ_CHECK(string_is(json_object_get(root, "content-type"),
                       h->content_type));
    FZ_CHECK(string_is(json_object_get(root, "content-encoding"),
                       h->content_encoding));
    v = json_object_get(root, "content-length");
    FZ_CHECK(json_is_integer(v));
    FZ_CHECK(json_integer_value(v) >= 0);
    FZ_CHECK((uint64_t)json_integer_value(v) == h->content_length);

    /* Extensions: jansson keeps insertion order. */
    i = 0;
    for (it = json_object_iter(root); it != NULL;
         it = json_object_iter_next(root, it)) {
        key = json_object_iter_key(it);
        key_len = json_object_iter_key_len(it);
        if (is_required(key, key_len))
            continue;
        FZ_CHECK(i < h->n_ext);
        FZ_CHECK(h->ext[i].key.len == key_len);
        FZ_CHECK(memcmp(h->ext[i].key.ptr, key, key_len) == 0);
        FZ_CHECK(ext_value_is(json_object_iter_value(it), &h->ext[i]));
        i++;
    }
    FZ_CHECK(i == h->n_ext);
}

/* Does jansson's tree (no duplicate keys) show the violation st? */
static int tree_shows(hf_status st, json_t *root, const hf_limits *lim)
{
    const json_t *v;
    const char *key;
    void *it;
    size_t i;
    size_t n_ext;

    if (st == HF_E_NOT_OBJECT)
        return !json_is_object(root);
    if (!json_is_object(root))
        return 0;
    switch (st) {
    case HF_E_MISSING_KEY:
        for (i = 0; i < 4; i++)
            if (json_object_get(root, required[i]) == NULL)
                return 1;
        return 0;
    case HF_E_BAD_BYTEORDER:
        v = json_object_get(root, "byteorder");
        return v != NULL && !(json_is_string(v) &&
                              (strcmp(json_string_value(v), "little") == 0 ||
                               strcmp(json_string_value(v), "big") == 0) &&
                              strlen(json_string_value(v)) ==
                                  json_string_length(v));
    case HF_E_BAD_CONTENT_TYPE:
        v = json_object_get(root, "content-type");
        return v != NULL && !nonempty_string(v);
    case HF_E_BAD_CONTENT_ENCODING:
        v = json_object_get(root, "content-encoding");
        return v != NULL && !nonempty_string(v);
    case HF_E_BAD_CONTENT_LENGTH:
        /* jansson reads "-0" as the integer 0, which hframe refuses for
         * its sign: 0 counts as a possible violation. */
        v = json_object_get(root, "content-length");
        return v != NULL && (!json_is_integer(v) ||
                             json_integer_value(v) <= 0);
    case HF_E_CONTENT_TOO_LONG:
        v = json_object_get(root, "content-length");
        return v != NULL && json_is_integer(v) &&
               json_integer_value(v) > 0 &&
               (uint64_t)json_integer_value(v) > lim->max_content;
    case HF_E_NESTED_VALUE:
        for (it = json_object_iter(root); it != NULL;
             it = json_object_iter_next(root, it)) {
            v = json_object_iter_value(it);
            if (json_is_object(v) || json_is_array(v))
                return 1;
        }
        return 0;
    case HF_E_TOO_MANY_EXTENSIONS:
        n_ext = 0;
        for (it = json_object_iter(root); it != NULL;
             it = json_object_iter_next(root, it)) {
            key = json_object_iter_key(it);
            if (!is_required(key, json_object_iter_key_len(it)))
                n_ext++;
        }
        return n_ext > lim->max_extensions;
    default:
        return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf;
    hf_decoder d;
    hf_limits lim;
    hf_status st;
    json_error_t err;
    json_error_t err2;
    json_t *any;
    json_t *nodup;
    const hf_error *e;

    buf = fz_dup(data, size);
    hf_limits_default(&lim);
    FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
    st = hf_parse_header(&d, buf, size);
    e = hf_decoder_error(&d);

    any = json_loadb((const char *)buf, size,
                     JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    nodup = json_loadb((const char *)buf, size,
                       JSON_DECODE_ANY | JSON_ALLOW_NUL |
                           JSON_REJECT_DUPLICATES, &err2);
    FZ_CHECK(any != NULL || nodup == NULL);

    if (st != HF_OK)
        fz_check_header_error(e, st, buf, size, &lim);
    if (size < HF_HEADER_MIN || size > lim.max_header) {
        /* Refused by its length: fz_check_header_error saw which. */
        FZ_CHECK(st != HF_OK);
    } else if (st == HF_OK) {
        FZ_CHECK(e->code == HF_OK);
        fz_check_header(hf_decoder_header(&d), &lim);
        FZ_CHECK(hf_decoder_header(&d)->header_len == size);
        if (any == NULL) {
            if (!jansson_limit(&err))
                fz_fail(__FILE__, __LINE__, "jansson rejects", err.text);
        } else {
            FZ_CHECK(nodup != NULL);
            check_same(hf_decoder_header(&d), nodup);
        }
    } else if (is_syntax_error(st)) {
        if (any != NULL && memchr(buf, '\0', size) == NULL)
            fz_fail(__FILE__, __LINE__, "jansson accepts", e->detail);
    } else if (st == HF_E_DUPLICATE_KEY) {
        FZ_CHECK(any == NULL || nodup == NULL);
    } else if (nodup != NULL) {
        FZ_CHECK(tree_shows(st, nodup, &lim));
    }

    json_decref(nodup);
    json_decref(any);
    hf_decoder_free(&d);
    free(buf);
    return 0;
}
