/*
 * fuzz_encode.c - the encoder fed header fields built from raw bytes.
 *
 * Input: one flags byte (byteorder, including out-of-range values, and how
 * the content length is read), 8 bytes of content length, then fields
 * separated by 0xff: content type, content encoding, then pairs of
 * extension key and value, the value's first byte choosing its type.
 *
 * Oracles:
 *  - the header is encodable (hf_header_json_len > 0, but 0 for a text
 *    above HF_HEADER_MAX, which hf_encode_header refuses with
 *    header-too-long) exactly when an
 *    independent check of the documented rules says so: byteorder in
 *    range, non-empty valid UTF-8 type and encoding, content length at
 *    most HF_CONTENT_LIMIT_MAX, keys and string values valid UTF-8,
 *    number values valid JSON numbers, no key twice or equal to a
 *    required one;
 *  - the encoded bytes are exactly those of an independent model of the
 *    canonical form (key order, ", " and ": ", the string escapes);
 *  - the decoder accepts them and reads the same fields back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

static const char *const required[] = {
    "byteorder", "content-type", "content-encoding", "content-length"
};

static const char *const literal[] = { "true", "false", "null" };

static int valid_utf8(hf_str s)
{
    return fz_utf8_prefix((const unsigned char *)s.ptr, s.len) == s.len;
}

static int key_taken(const hf_header *h, size_t i)
{
    size_t j;
    hf_str r;

    for (j = 0; j < 4; j++) {
        r.ptr = required[j];
        r.len = strlen(required[j]);
        if (fz_str_eq(r, h->ext[i].key))
            return 1;
    }
    for (j = 0; j < i; j++)
        if (fz_str_eq(h->ext[j].key, h->ext[i].key))
            return 1;
    return 0;
}

/* The documented encodability rules, checked independently. */
static int encodable(const hf_header *h)
{
    const hf_ext *e;
    size_t i;

    if (h->byteorder != HF_BYTEORDER_LITTLE &&
        h->byteorder != HF_BYTEORDER_BIG)
        return 0;
    if (h->content_type.len == 0 || !valid_utf8(h->content_type))
        return 0;
    if (h->content_encoding.len == 0 || !valid_utf8(h->content_encoding))
        return 0;
    if (h->content_length > HF_CONTENT_LIMIT_MAX)
        return 0;
    for (i = 0; i < h->n_ext; i++) {
        e = &h->ext[i];
        if (!valid_utf8(e->key) || key_taken(h, i))
            return 0;
        if (e->type == HF_VALUE_STRING && !valid_utf8(e->value))
            return 0;
        if (e->type == HF_VALUE_NUMBER &&
            !fz_is_json_number(e->value.ptr, e->value.len))
            return 0;
    }
    return 1;
}

static size_t put(unsigned char *out, size_t w, const void *p, size_t n)
{
    if (out != NULL && n > 0)
        memcpy(out + w, p, n);
    return w + n;
}

static size_t put_z(unsigned char *out, size_t w, const char *z)
{
    return put(out, w, z, strlen(z));
}

static size_t put_json(unsigned char *out, size_t w, hf_str s)
{
    return w + fz_json_string(out != NULL ? out + w : NULL,
                              (const unsigned char *)s.ptr, s.len);
}

/* The canonical header JSON by the model; its length, written when out. */
static size_t model_header(unsigned char *out, const hf_header *h)
{
    char num[24];
    const hf_ext *e;
    size_t w;
    size_t i;

    w = put_z(out, 0, "{\"byteorder\": \"");
    w = put_z(out, w, h->byteorder == HF_BYTEORDER_BIG ? "big" : "little");
    w = put_z(out, w, "\", \"content-type\": ");
    w = put_json(out, w, h->content_type);
    w = put_z(out, w, ", \"content-encoding\": ");
    w = put_json(out, w, h->content_encoding);
    w = put_z(out, w, ", \"content-length\": ");
    (void)snprintf(num, sizeof(num), "%llu",
                   (unsigned long long)h->content_length);
    w = put_z(out, w, num);
    for (i = 0; i < h->n_ext; i++) {
        e = &h->ext[i];
        w = put_z(out, w, ", ");
        w = put_json(out, w, e->key);
        w = put_z(out, w, ": ");
        if (e->type == HF_VALUE_STRING)
            w = put_json(out, w, e->value);
        else if (e->type == HF_VALUE_NUMBER)
            w = put(out, w, e->value.ptr, e->value.len);
        else
            w = put_z(out, w, literal[e->type - HF_VALUE_TRUE]);
    }
    return put_z(out, w, "}");
}

/* The decoder read back what was encoded (literals by type only). */
static void check_decoded(const hf_header *got, const hf_header *h)
{
    size_t i;

    FZ_CHECK(got->byteorder == h->byteorder);
    FZ_CHECK(fz_str_eq(got->content_type, h->content_type));
    FZ_CHECK(fz_str_eq(got->content_encoding, h->content_encoding));
    FZ_CHECK(got->content_length == h->content_length);
    FZ_CHECK(got->n_ext == h->n_ext);
    for (i = 0; i < h->n_ext; i++) {
        FZ_CHECK(fz_str_eq(got->ext[i].key, h->ext[i].key));
        FZ_CHECK(got->ext[i].type == h->ext[i].type);
        if (h->ext[i].type == HF_VALUE_STRING ||
            h->ext[i].type == HF_VALUE_NUMBER)
            FZ_CHECK(fz_str_eq(got->ext[i].value, h->ext[i].value));
    }
}

static void encode_and_check(const hf_header *h)
{
    unsigned char *want;
    unsigned char *out;
    hf_decoder d;
    hf_limits lim;
    size_t jlen;
    size_t mlen;
    size_t w;
    hf_status st;

    jlen = hf_header_json_len(h);
    if (!encodable(h)) {
        FZ_CHECK(jlen == 0);
        out = malloc(16);
        FZ_CHECK(out != NULL);
        st = hf_encode_header(h, out, 16, &w);
        /* hframe.h documents HF_E_INVALID_ARGUMENT; the codec names the
         * rule instead (bad-byteorder, invalid-utf8, duplicate-key...).
         * Either way it must be a refusal, not a size problem. */
        FZ_CHECK(st > HF_NEED_MORE && st != HF_E_NO_SPACE &&
                 st != HF_E_HEADER_TOO_LONG && st < HF_STATUS_COUNT);
        free(out);
        return;
    }
    mlen = model_header(NULL, h);
    /* hframe.h: 0 for a text the prefix cannot announce. */
    FZ_CHECK(jlen == (mlen > HF_HEADER_MAX ? 0 : mlen));
    want = malloc(HF_PREFIX_LEN + mlen);
    out = malloc(HF_PREFIX_LEN + mlen);
    FZ_CHECK(want != NULL && out != NULL);
    want[0] = (unsigned char)(mlen >> 8);
    want[1] = (unsigned char)mlen;
    (void)model_header(want + HF_PREFIX_LEN, h);

    w = 0;
    st = hf_encode_header(h, out, HF_PREFIX_LEN + mlen, &w);
    if (mlen > HF_HEADER_MAX) {
        FZ_CHECK(st == HF_E_HEADER_TOO_LONG);
    } else {
        FZ_CHECK(st == HF_OK);
        FZ_CHECK(w == HF_PREFIX_LEN + mlen);
        FZ_CHECK(memcmp(out, want, w) == 0);
        FZ_CHECK(hf_header_is_canonical(h, out + HF_PREFIX_LEN, mlen));

        hf_limits_default(&lim);
        lim.max_content = HF_CONTENT_LIMIT_MAX;
        FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
        FZ_CHECK(hf_parse_header(&d, out + HF_PREFIX_LEN, mlen) == HF_OK);
        check_decoded(hf_decoder_header(&d), h);
        FZ_CHECK(hf_decoder_header(&d)->header_len == mlen);
        hf_decoder_free(&d);
    }
    free(out);
    free(want);
}

/* Next field: bytes up to the next 0xff (or the end). 0 when none left. */
static int next_field(fz_reader *r, hf_str *s)
{
    const uint8_t *end;
    size_t n;

    if (r->p == NULL)
        return 0;
    end = memchr(r->p, 0xff, r->len);
    n = end != NULL ? (size_t)(end - r->p) : r->len;
    s->ptr = (const char *)r->p;
    s->len = n;
    if (end == NULL) {
        r->p = NULL;
        r->len = 0;
    } else {
        r->p += n + 1;
        r->len -= n + 1;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf;
    hf_header h;
    fz_reader r;
    hf_str key;
    hf_str value;
    uint64_t cl;
    uint8_t flags;
    int i;
    hf_value_type type;

    buf = fz_dup(data, size);
    r.p = buf;
    r.len = size;
    flags = fz_take_u8(&r);
    cl = 0;
    for (i = 0; i < 8; i++)
        cl = cl << 8 | fz_take_u8(&r);
    if (flags & 4)
        cl %= HF_CONTENT_LIMIT_MAX + 2;

    hf_header_init(&h, "", "");
    h.byteorder = (hf_byteorder)(flags & 3);
    h.content_length = cl;
    h.content_type.len = 0;
    h.content_encoding.len = 0;
    (void)next_field(&r, &h.content_type);
    (void)next_field(&r, &h.content_encoding);
    while (next_field(&r, &key)) {
        if (!next_field(&r, &value)) {
            value.ptr = NULL;
            value.len = 0;
        }
        type = HF_VALUE_STRING;
        if (value.len > 0) {
            type = (hf_value_type)((unsigned char)value.ptr[0] % 5);
            value.ptr++;
            value.len--;
        }
        if (hf_header_add_ext(&h, key, value, type) != HF_OK) {
            FZ_CHECK(h.n_ext == HF_EXT_MAX);
            break;
        }
    }
    encode_and_check(&h);
    free(buf);
    return 0;
}
