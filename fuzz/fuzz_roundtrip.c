/*
 * fuzz_roundtrip.c - decode, re-encode, decode again.
 *
 * For every frame of the input that hf_decode accepts (default limits):
 *  - the header has a canonical encoding (hf_header_json_len > 0), and
 *    hf_header_is_canonical says yes exactly when the input's header bytes
 *    are that encoding;
 *  - hf_encode writes 2 + json_len + content bytes into an exact-size
 *    buffer (or refuses with "header-too-long" when the canonical JSON
 *    outgrows the 16-bit prefix), reports the needed size with
 *    "no-space" into one byte less, and hf_encode_header writes the same
 *    prefix and header;
 *  - the encoded frame decodes to the same fields and content, and
 *    encoding that again gives the same bytes (canonical form is a fixed
 *    point).
 * The error that stops the decoding points where docs/protocol.md 4.2
 * says (fz_check_frame_error).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

static size_t prefix_n(const unsigned char *p)
{
    return (size_t)p[0] << 8 | p[1];
}

/* Encode h + content into a fresh exact-size buffer; *len gets its size.
 * NULL when the canonical header is too long for the prefix. */
static unsigned char *encode(const hf_header *h, const unsigned char *content,
                             size_t content_len, size_t *len)
{
    unsigned char *out;
    unsigned char *small;
    size_t jlen;
    size_t need;
    size_t w;
    hf_status st;

    /* A decoded header can fail to encode only by its length: its
     * canonical JSON outgrows the 16-bit prefix (hf_header_json_len 0). */
    jlen = hf_header_json_len(h);
    if (jlen == 0) {
        FZ_CHECK(hf_encode(h, content, content_len, NULL, 0, &w) ==
                 HF_E_HEADER_TOO_LONG);
        return NULL;
    }
    FZ_CHECK(jlen >= HF_HEADER_MIN && jlen <= HF_HEADER_MAX);
    need = HF_PREFIX_LEN + jlen + content_len;
    out = malloc(need);
    FZ_CHECK(out != NULL);
    w = 0;
    st = hf_encode(h, content, content_len, out, need, &w);
    FZ_CHECK(st == HF_OK);
    FZ_CHECK(w == need);
    FZ_CHECK(prefix_n(out) == jlen);

    /* One byte short: "no-space", and the size that is needed. */
    small = malloc(need - 1);
    FZ_CHECK(small != NULL);
    w = 0;
    st = hf_encode(h, content, content_len, small, need - 1, &w);
    FZ_CHECK(st == HF_E_NO_SPACE);
    FZ_CHECK(w == need);

    free(small);

    /* The header alone, into exactly its size, then one byte less. */
    small = malloc(HF_PREFIX_LEN + jlen);
    FZ_CHECK(small != NULL);
    w = 0;
    st = hf_encode_header(h, small, HF_PREFIX_LEN + jlen, &w);
    FZ_CHECK(st == HF_OK);
    FZ_CHECK(w == HF_PREFIX_LEN + jlen);
    FZ_CHECK(memcmp(small, out, w) == 0);
    w = 0;
    st = hf_encode_header(h, small, HF_PREFIX_LEN + jlen - 1, &w);
    FZ_CHECK(st == HF_E_NO_SPACE);
    FZ_CHECK(w == HF_PREFIX_LEN + jlen);
    free(small);

    *len = need;
    return out;
}

static void roundtrip(const unsigned char *frame, const hf_frame *fr)
{
    hf_decoder d2;
    hf_limits lim;
    hf_frame fr2;
    const hf_header *h;
    unsigned char *enc;
    unsigned char *enc2;
    size_t n;
    size_t len;
    size_t len2;
    size_t jlen;
    int same;

    h = fr->header;
    n = prefix_n(frame);
    jlen = hf_header_json_len(h);
    enc = encode(h, fr->content, fr->content_len, &len);
    if (enc == NULL) {
        FZ_CHECK(!hf_header_is_canonical(h, frame + HF_PREFIX_LEN, n));
        return;
    }
    same = jlen == n &&
           memcmp(enc + HF_PREFIX_LEN, frame + HF_PREFIX_LEN, n) == 0;
    FZ_CHECK(!hf_header_is_canonical(h, frame + HF_PREFIX_LEN, n) == !same);
    FZ_CHECK(hf_header_is_canonical(h, enc + HF_PREFIX_LEN, jlen));

    hf_limits_default(&lim);
    lim.max_content = HF_CONTENT_LIMIT_MAX;
    FZ_CHECK(hf_decoder_init(&d2, &lim) == HF_OK);
    FZ_CHECK(hf_decode(&d2, enc, len, &fr2) == HF_OK);
    FZ_CHECK(fr2.frame_len == len);
    FZ_CHECK(fz_header_eq(fr2.header, h));
    FZ_CHECK(fr2.header->header_len == jlen);
    FZ_CHECK(fr2.content_len == fr->content_len);
    if (fr->content_len > 0)
        FZ_CHECK(memcmp(fr2.content, fr->content, fr->content_len) == 0);

    enc2 = encode(fr2.header, fr2.content, fr2.content_len, &len2);
    FZ_CHECK(enc2 != NULL);
    FZ_CHECK(len2 == len);
    FZ_CHECK(memcmp(enc2, enc, len) == 0);

    free(enc2);
    free(enc);
    hf_decoder_free(&d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf;
    hf_decoder d;
    hf_limits lim;
    hf_frame fr;
    hf_status st;
    size_t off;

    buf = fz_dup(data, size);
    hf_limits_default(&lim);
    FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
    off = 0;
    st = HF_OK;
    while (off < size &&
           (st = hf_decode(&d, buf + off, size - off, &fr)) == HF_OK) {
        roundtrip(buf + off, &fr);
        off += fr.frame_len;
    }
    if (st > HF_NEED_MORE)
        fz_check_frame_error(hf_decoder_error(&d), st, 0, buf + off,
                             size - off, &lim);
    hf_decoder_free(&d);
    free(buf);
    return 0;
}
