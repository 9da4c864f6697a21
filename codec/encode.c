/*
 * encode.c - header construction and canonical frame encoding.
 *
 * The canonical header is what json.dumps(header, ensure_ascii=False)
 * writes for the reference peers' dict: the four required keys in a fixed
 * order, then the extensions in order, ", " and ": " as separators.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *const required_keys[4] = {
    "byteorder", "content-type", "content-encoding", "content-length"
};

hf_byteorder hf_host_byteorder(void)
{
    const uint16_t probe = 1;
    unsigned char first;

    memcpy(&first, &probe, 1);
    return first == 1 ? HF_BYTEORDER_LITTLE : HF_BYTEORDER_BIG;
}

const char *hf_byteorder_name(hf_byteorder bo)
{
    switch (bo) {
    case HF_BYTEORDER_LITTLE:
        return "little";
    case HF_BYTEORDER_BIG:
        return "big";
    default:
        return "unknown";
    }
}

void hf_header_init(hf_header *h, const char *content_type,
                    const char *content_encoding)
{
    if (h == NULL)
        return;
    memset(h, 0, sizeof *h);
    h->byteorder = hf_host_byteorder();
    h->content_type.ptr = content_type;
    h->content_type.len = content_type != NULL ? strlen(content_type) : 0;
    h->content_encoding.ptr = content_encoding;
    h->content_encoding.len =
        content_encoding != NULL ? strlen(content_encoding) : 0;
}

hf_status hf_header_add_ext(hf_header *h, hf_str key, hf_str value,
                            hf_value_type type)
{
    hf_ext *e;

    if (h == NULL)
        return HF_E_INVALID_ARGUMENT;
    if (h->n_ext >= HF_EXT_MAX)
        return HF_E_TOO_MANY_EXTENSIONS;
    e = &h->ext[h->n_ext++];
    e->key = key;
    e->value = value;
    e->type = type;
    return HF_OK;
}

const hf_ext *hf_header_find_ext(const hf_header *h, const char *key,
                                 size_t key_len)
{
    size_t i;

    if (h == NULL || (key == NULL && key_len > 0))
        return NULL;
    for (i = 0; i < h->n_ext && i < HF_EXT_MAX; i++)
        if (h->ext[i].key.len == key_len &&
            (key_len == 0 || memcmp(h->ext[i].key.ptr, key, key_len) == 0))
            return &h->ext[i];
    return NULL;
}

static int str_ok(hf_str s)
{
    if (s.ptr == NULL)
        return s.len == 0;
    return hf_utf8_check(s.ptr, s.len) == s.len;
}

static int same(hf_str a, const char *b, size_t blen)
{
    return a.len == blen && (blen == 0 || memcmp(a.ptr, b, blen) == 0);
}

static hf_status check_ext_value(const hf_ext *e)
{
    switch (e->type) {
    case HF_VALUE_STRING:
        return str_ok(e->value) ? HF_OK : HF_E_UTF8;
    case HF_VALUE_NUMBER:
        return hf_is_json_number(e->value.ptr, e->value.len) ?
               HF_OK : HF_E_INVALID_ARGUMENT;
    case HF_VALUE_TRUE:
    case HF_VALUE_FALSE:
    case HF_VALUE_NULL:
        return HF_OK;
    default:
        return HF_E_INVALID_ARGUMENT;
    }
}

/* A string whose bytes are missing: NULL with a length. */
static int str_missing(hf_str s)
{
    return s.ptr == NULL && s.len > 0;
}

/* Every rule a decoder would apply to the encoded header. */
static hf_status check_header(const hf_header *h)
{
    size_t i, j, k;
    hf_status st;

    if (str_missing(h->content_type) || str_missing(h->content_encoding))
        return HF_E_INVALID_ARGUMENT;
    for (i = 0; i < h->n_ext && i < HF_EXT_MAX; i++)
        if (str_missing(h->ext[i].key) || str_missing(h->ext[i].value))
            return HF_E_INVALID_ARGUMENT;

    if (h->byteorder != HF_BYTEORDER_LITTLE &&
        h->byteorder != HF_BYTEORDER_BIG)
        return HF_E_BAD_BYTEORDER;
    if (h->content_type.len == 0 || !str_ok(h->content_type))
        return h->content_type.len == 0 ? HF_E_BAD_CONTENT_TYPE : HF_E_UTF8;
    if (h->content_encoding.len == 0 || !str_ok(h->content_encoding))
        return h->content_encoding.len == 0 ? HF_E_BAD_CONTENT_ENCODING :
                                               HF_E_UTF8;
    if (h->content_length > HF_CONTENT_LIMIT_MAX)
        return HF_E_CONTENT_TOO_LONG;
    if (h->n_ext > HF_EXT_MAX)
        return HF_E_TOO_MANY_EXTENSIONS;
    for (i = 0; i < h->n_ext; i++) {
        if (!str_ok(h->ext[i].key))
            return HF_E_UTF8;
        st = check_ext_value(&h->ext[i]);
        if (st != HF_OK)
            return st;
        for (k = 0; k < 4; k++)
            if (same(h->ext[i].key, required_keys[k],
                     strlen(required_keys[k])))
                return HF_E_DUPLICATE_KEY;
        for (j = 0; j < i; j++)
            if (same(h->ext[i].key, h->ext[j].key.ptr, h->ext[j].key.len))
                return HF_E_DUPLICATE_KEY;
    }
    return HF_OK;
}

static void sink_key(hf_sink *s, const char *key, int first)
{
    if (!first)
        hf_sink_put(s, ", ", 2);
    hf_sink_put(s, "\"", 1);
    hf_sink_str(s, key);
    hf_sink_put(s, "\": ", 3);
}

static void sink_string(hf_sink *s, hf_str v)
{
    hf_sink_json_string(s, (const unsigned char *)v.ptr, v.len);
}

static void sink_ext_value(hf_sink *s, const hf_ext *e)
{
    switch (e->type) {
    case HF_VALUE_STRING:
        sink_string(s, e->value);
        break;
    case HF_VALUE_NUMBER:
        hf_sink_put(s, e->value.ptr, e->value.len);
        break;
    case HF_VALUE_TRUE:
        hf_sink_str(s, "true");
        break;
    case HF_VALUE_FALSE:
        hf_sink_str(s, "false");
        break;
    default:
        hf_sink_str(s, "null");
        break;
    }
}

/* Decimal digits of v into num (room for 20); returns their count. */
static size_t format_u64(char num[24], uint64_t v)
{
    char tmp[24];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    for (i = 0; i < n; i++)
        num[i] = tmp[n - 1 - i];
    return n;
}

/* The canonical header JSON of a header that passed check_header. */
static void sink_header(hf_sink *s, const hf_header *h)
{
    char num[24];
    size_t i;

    hf_sink_put(s, "{", 1);
    sink_key(s, required_keys[0], 1);
    hf_sink_put(s, "\"", 1);
    hf_sink_str(s, hf_byteorder_name(h->byteorder));
    hf_sink_put(s, "\"", 1);
    sink_key(s, required_keys[1], 0);
    sink_string(s, h->content_type);
    sink_key(s, required_keys[2], 0);
    sink_string(s, h->content_encoding);
    sink_key(s, required_keys[3], 0);
    hf_sink_put(s, num, format_u64(num, h->content_length));
    for (i = 0; i < h->n_ext; i++) {
        hf_sink_put(s, ", ", 2);
        sink_string(s, h->ext[i].key);
        hf_sink_put(s, ": ", 2);
        sink_ext_value(s, &h->ext[i]);
    }
    hf_sink_put(s, "}", 1);
}

size_t hf_header_json_len(const hf_header *h)
{
    hf_sink s = {0};

    if (h == NULL || check_header(h) != HF_OK)
        return 0;
    sink_header(&s, h);
    return s.len <= HF_HEADER_MAX ? s.len : 0;
}

/* Prefix + header (+ content when content != NULL or content_len == 0). */
static hf_status encode_frame(const hf_header *h, const void *content,
                              size_t content_len, int with_content,
                              unsigned char *out, size_t cap,
                              size_t *written)
{
    hf_sink s = {0};
    size_t json_len, total;
    unsigned char prefix[2];
    hf_status st;

    if (h == NULL || (out == NULL && cap > 0) ||
        (with_content && content == NULL && content_len > 0))
        return HF_E_INVALID_ARGUMENT;
    st = check_header(h);
    if (st != HF_OK)
        return st;
    sink_header(&s, h);
    json_len = s.len;
    if (json_len > HF_HEADER_MAX)
        return HF_E_HEADER_TOO_LONG;
    total = HF_PREFIX_LEN + json_len;
    if (with_content) {
        if (content_len > SIZE_MAX - total)
            return HF_E_NO_SPACE;
        total += content_len;
    }
    if (written != NULL)
        *written = total;
    if (total > cap)
        return HF_E_NO_SPACE;
    prefix[0] = (unsigned char)(json_len >> 8);
    prefix[1] = (unsigned char)(json_len & 0xff);
    memset(&s, 0, sizeof s);
    s.buf = out;
    s.cap = cap;
    hf_sink_put(&s, prefix, 2);
    sink_header(&s, h);
    if (with_content)
        hf_sink_put(&s, content, content_len);
    return HF_OK;
}

hf_status hf_encode_header(const hf_header *h, unsigned char *out,
                           size_t cap, size_t *written)
{
    return encode_frame(h, NULL, 0, 0, out, cap, written);
}

hf_status hf_encode(const hf_header *h, const void *content,
                    size_t content_len, unsigned char *out, size_t cap,
                    size_t *written)
{
    hf_header copy;

    if (h == NULL)
        return HF_E_INVALID_ARGUMENT;
    /* check_header refuses a length above HF_CONTENT_LIMIT_MAX. */
    copy = *h;
    copy.content_length = content_len;
    return encode_frame(&copy, content, content_len, 1, out, cap, written);
}

int hf_header_is_canonical(const hf_header *h, const void *json, size_t len)
{
    hf_sink s = {0};

    if (h == NULL || (json == NULL && len > 0) || check_header(h) != HF_OK)
        return 0;
    s.cmp = json;
    s.cap = len;
    sink_header(&s, h);
    return !s.mismatch && s.len == len;
}
