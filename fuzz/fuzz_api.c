/*
 * fuzz_api.c - the codec's public API called the way hframe.h allows,
 * including its documented refusals: limits in and out of range, NULL
 * pointers where a length of 0 permits them, buffers of size 0, full
 * extension tables, status codes out of range.
 *
 * The input is a sequence of operations: one byte picks the operation,
 * the bytes after it are its arguments. Each operation checks the result
 * hframe.h documents for those arguments, worked out independently.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

/* A canonical header with content-length 41 and three extensions. */
static const char sample[] =
    "{\"byteorder\": \"big\", \"content-type\": \"text/json\", "
    "\"content-encoding\": \"utf-8\", \"content-length\": 41, "
    "\"x-a\": 1, \"x-b\": true, \"x-c\": \"c\"}";
#define SAMPLE_EXT 3
#define SAMPLE_CONTENT 41

/* Where a refusal of sample points (docs/protocol.md 4.2), the prefix
 * counted: the content-length's first digit, the quote of the first
 * extension key beyond the limit, the frame's first byte for its
 * length. */
static uint64_t sample_error_offset(hf_status st, const hf_limits *lim)
{
    static const char *const ext_keys[SAMPLE_EXT] = {
        "\"x-a\"", "\"x-b\"", "\"x-c\""
    };
    const char *at;

    if (st == HF_E_CONTENT_TOO_LONG)
        at = strstr(sample, "41");
    else if (st == HF_E_TOO_MANY_EXTENSIONS)
        at = strstr(sample, ext_keys[lim->max_extensions]);
    else
        return 0;
    FZ_CHECK(at != NULL);
    return HF_PREFIX_LEN + (uint64_t)(at - sample);
}

static void op_status(fz_reader *r)
{
    int st;
    const char *name;

    st = (int8_t)fz_take_u8(r);
    name = hf_status_name((hf_status)st);
    FZ_CHECK(name != NULL && name[0] != '\0');
    FZ_CHECK(hf_strerror((hf_status)st) != NULL);
    FZ_CHECK(hf_strerror((hf_status)st)[0] != '\0');
    if (st >= 0 && st < HF_STATUS_COUNT)
        FZ_CHECK(strcmp(name, "unknown") != 0);
    else
        FZ_CHECK(strcmp(name, "unknown") == 0);
}

/* Limits from the input, checked against the documented ranges, then
 * used on a known header. */
static void op_limits(fz_reader *r)
{
    static hf_allocator partial;
    fz_alloc a;
    hf_limits lim;
    hf_decoder d;
    hf_status want;
    hf_status st;
    uint8_t mode;
    int i;

    mode = fz_take_u8(r);
    hf_limits_default(&lim);
    lim.max_header = fz_take_u16(r);
    if (mode & 1)
        lim.max_header += (size_t)HF_HEADER_MAX + 1;
    lim.max_content = 0;
    for (i = 0; i < 8; i++)
        lim.max_content = lim.max_content << 8 | fz_take_u8(r);
    if (mode & 2)
        lim.max_content %= HF_CONTENT_LIMIT_MAX + 2;
    else
        lim.max_content &= 0xff;
    lim.max_extensions = fz_take_u8(r) % (HF_EXT_MAX + 3);
    fz_alloc_init(&a, SIZE_MAX);
    if (mode & 4)
        lim.alloc = &a.hooks;
    if (mode & 8) {
        partial = a.hooks;
        partial.realloc_fn = NULL;
        lim.alloc = &partial;
    }
    want = HF_OK;
    if (lim.max_header < HF_HEADER_MIN || lim.max_header > HF_HEADER_MAX ||
        lim.max_content > HF_CONTENT_LIMIT_MAX ||
        lim.max_extensions > HF_EXT_MAX || (mode & 8))
        want = HF_E_INVALID_ARGUMENT;
    FZ_CHECK(hf_limits_check(&lim) == want);
    st = hf_decoder_init(&d, &lim);
    FZ_CHECK(st == want);
    if (st != HF_OK) {
        hf_decoder_free(&d);
        return;
    }
    st = hf_parse_header(&d, sample, sizeof(sample) - 1);
    if (sizeof(sample) - 1 > lim.max_header)
        FZ_CHECK(st == HF_E_HEADER_TOO_LONG);
    else if (SAMPLE_CONTENT > lim.max_content)
        FZ_CHECK(st == HF_E_CONTENT_TOO_LONG);
    else if (SAMPLE_EXT > lim.max_extensions)
        FZ_CHECK(st == HF_E_TOO_MANY_EXTENSIONS);
    else
        FZ_CHECK(st == HF_OK);
    if (st != HF_OK) {
        fz_check_header_error(hf_decoder_error(&d), st,
                              (const unsigned char *)sample,
                              sizeof(sample) - 1, &lim);
        FZ_CHECK(hf_decoder_error(&d)->offset ==
                 sample_error_offset(st, &lim));
    }
    hf_decoder_free(&d);
    FZ_CHECK(a.live == 0);
}

/* NULL pointers: refused where a length says there are bytes, accepted
 * with a length of 0. */
static void op_null(fz_reader *r)
{
    hf_decoder d;
    hf_limits lim;
    hf_frame fr;
    hf_event ev;
    size_t len;

    len = 1 + fz_take_u8(r);
    hf_limits_default(&lim);
    FZ_CHECK(hf_decoder_init(NULL, NULL) == HF_E_INVALID_ARGUMENT);
    FZ_CHECK(hf_limits_check(NULL) == HF_E_INVALID_ARGUMENT);
    FZ_CHECK(hf_decoder_init(&d, NULL) == HF_OK);
    FZ_CHECK(hf_decode(&d, NULL, len, &fr) == HF_E_INVALID_ARGUMENT);
    FZ_CHECK(hf_decode(&d, NULL, 0, &fr) == HF_NEED_MORE);
    FZ_CHECK(fr.need == HF_PREFIX_LEN);
    FZ_CHECK(hf_parse_header(&d, NULL, len) == HF_E_INVALID_ARGUMENT);
    FZ_CHECK(hf_parse_header(&d, NULL, 0) == HF_E_HEADER_TOO_SHORT);
    fz_check_header_error(hf_decoder_error(&d), HF_E_HEADER_TOO_SHORT, NULL,
                          0, &lim);
    hf_decoder_reset(&d);
    FZ_CHECK(hf_decoder_push(&d, NULL, 0, &ev) == 0);
    FZ_CHECK(ev.type == HF_EV_NEED_MORE);
    FZ_CHECK(hf_decoder_finish(&d) == HF_OK);
    FZ_CHECK(hf_decoder_header(&d) == NULL);
    hf_decoder_free(&d);
    hf_decoder_free(NULL);
}

/* Building headers: the extension table's bound, lookups, and what the
 * encoder refuses. */
static void op_header(fz_reader *r)
{
    hf_header h;
    hf_str key;
    hf_str value;
    unsigned char out[8];
    char names[HF_EXT_MAX + 8][4];
    size_t n;
    size_t i;
    size_t w;
    size_t jlen;
    hf_status st;

    n = fz_take_u8(r) % (HF_EXT_MAX + 8);
    hf_header_init(&h, "t", "e");
    FZ_CHECK(h.byteorder == hf_host_byteorder());
    FZ_CHECK(h.content_length == 0 && h.n_ext == 0);
    for (i = 0; i < n; i++) {
        names[i][0] = 'k';
        names[i][1] = (char)('a' + i / 26);
        names[i][2] = (char)('a' + i % 26);
        names[i][3] = '\0';
        key.ptr = names[i];
        key.len = 3;
        value.ptr = names[i];
        value.len = 3;
        st = hf_header_add_ext(&h, key, value, HF_VALUE_STRING);
        FZ_CHECK(st == (i < HF_EXT_MAX ? HF_OK : HF_E_TOO_MANY_EXTENSIONS));
    }
    FZ_CHECK(h.n_ext == (n < HF_EXT_MAX ? n : HF_EXT_MAX));
    for (i = 0; i < h.n_ext; i++)
        FZ_CHECK(hf_header_find_ext(&h, names[i], 3) == &h.ext[i]);
    FZ_CHECK(hf_header_find_ext(&h, "kzz", 3) == NULL);
    FZ_CHECK(hf_header_find_ext(&h, "k", 1) == NULL);

    jlen = hf_header_json_len(&h);
    FZ_CHECK(jlen > 0);
    w = 0;
    FZ_CHECK(hf_encode_header(&h, NULL, 0, &w) == HF_E_NO_SPACE);
    FZ_CHECK(w == HF_PREFIX_LEN + jlen);
    FZ_CHECK(hf_encode_header(&h, out, sizeof(out), NULL) == HF_E_NO_SPACE);
    FZ_CHECK(hf_encode(&h, NULL, 1 + n, out, sizeof(out), &w) ==
             HF_E_INVALID_ARGUMENT);
    FZ_CHECK(hf_encode(NULL, NULL, 0, out, sizeof(out), &w) ==
             HF_E_INVALID_ARGUMENT);
    FZ_CHECK(hf_encode_header(NULL, out, sizeof(out), &w) ==
             HF_E_INVALID_ARGUMENT);
    FZ_CHECK(hf_encode_header(&h, NULL, 1, &w) == HF_E_INVALID_ARGUMENT);
    FZ_CHECK(!hf_header_is_canonical(&h, NULL, 0));
    FZ_CHECK(!hf_header_is_canonical(NULL, "{}", 2));
    FZ_CHECK(!hf_header_is_canonical(&h, NULL, 5));
    if (sizeof(size_t) > 4) {
        w = 0;
        FZ_CHECK(hf_encode(&h, "", (size_t)(HF_CONTENT_LIMIT_MAX + 1),
                           out, sizeof(out), &w) != HF_OK);
    }

    /* An extension type out of range is not encodable. */
    if (h.n_ext > 0) {
        h.ext[0].type = (hf_value_type)(HF_VALUE_NULL + 1 + n % 3);
        FZ_CHECK(hf_header_json_len(&h) == 0);
        FZ_CHECK(hf_encode_header(&h, out, sizeof(out), &w) != HF_OK);
        h.ext[0].type = HF_VALUE_STRING;
    }

    /* A number value with no text is not a JSON number. */
    if (h.n_ext > 0) {
        h.ext[0].type = HF_VALUE_NUMBER;
        h.ext[0].value.ptr = NULL;
        h.ext[0].value.len = 0;
        FZ_CHECK(hf_header_json_len(&h) == 0);
        h.ext[0].type = HF_VALUE_STRING;
    }

    /* A table said to be larger than it can be is not encodable. */
    h.n_ext = HF_EXT_MAX + 1 + n;
    FZ_CHECK(hf_header_json_len(&h) == 0);
    FZ_CHECK(hf_encode_header(&h, out, sizeof(out), &w) != HF_OK);
    h.n_ext = 0;
    h.byteorder = (hf_byteorder)2;
    FZ_CHECK(hf_header_json_len(&h) == 0);
    h.byteorder = HF_BYTEORDER_BIG;
    h.content_type.ptr = NULL;
    h.content_type.len = n;
    FZ_CHECK(hf_header_json_len(&h) == 0);
}

/* A header whose canonical JSON is just within or beyond the 16-bit
 * prefix: its length is worked out here, and hf_header_json_len gives it,
 * or 0 when it is beyond (the encoders then say header-too-long). */
static void op_too_long(fz_reader *r)
{
    /* The canonical header with empty byteorder and content-type. */
    static const char frame_text[] =
        "{\"byteorder\": \"\", \"content-type\": \"\", "
        "\"content-encoding\": \"e\", \"content-length\": 0}";
    static char big[HF_HEADER_MAX + 256];
    unsigned char out[16];
    hf_header h;
    size_t w;
    size_t n;
    size_t jlen;

    n = HF_HEADER_MAX - 80 + fz_take_u8(r);
    memset(big, 'a', n);
    big[n] = '\0';
    hf_header_init(&h, big, "e");
    jlen = sizeof(frame_text) - 1 +
           strlen(hf_byteorder_name(hf_host_byteorder())) + n;
    w = 0;
    if (jlen > HF_HEADER_MAX) {
        FZ_CHECK(hf_header_json_len(&h) == 0);
        FZ_CHECK(hf_encode_header(&h, out, sizeof(out), &w) ==
                 HF_E_HEADER_TOO_LONG);
        FZ_CHECK(hf_encode(&h, "x", 1, out, sizeof(out), &w) ==
                 HF_E_HEADER_TOO_LONG);
    } else {
        FZ_CHECK(hf_header_json_len(&h) == jlen);
        FZ_CHECK(hf_encode_header(&h, out, sizeof(out), &w) ==
                 HF_E_NO_SPACE);
        FZ_CHECK(w == HF_PREFIX_LEN + jlen);
    }
}

static void op_byteorder(fz_reader *r)
{
    union {
        uint16_t u;
        unsigned char b[2];
    } probe;

    (void)r;
    probe.u = 0x0102;
    FZ_CHECK(hf_host_byteorder() == (probe.b[0] == 0x01 ?
                                     HF_BYTEORDER_BIG :
                                     HF_BYTEORDER_LITTLE));
    FZ_CHECK(strcmp(hf_byteorder_name(HF_BYTEORDER_LITTLE), "little") == 0);
    FZ_CHECK(strcmp(hf_byteorder_name(HF_BYTEORDER_BIG), "big") == 0);
}

/* The writer with NULL and zero-size buffers. */
static void op_writer(fz_reader *r)
{
    unsigned char out[16];
    hf_str keys[2];
    hf_str values[2];
    size_t w;
    size_t n;

    n = fz_take_u8(r) % 3;
    w = 0;
    FZ_CHECK(hf_json_write_string(NULL, 0, "ab", 2, &w) == HF_E_NO_SPACE);
    FZ_CHECK(w == 4);
    FZ_CHECK(hf_json_write_string(NULL, 3, "ab", 2, &w) ==
             HF_E_INVALID_ARGUMENT);
    FZ_CHECK(hf_json_write_string(out, sizeof(out), NULL, n + 1, &w) !=
             HF_OK);
    FZ_CHECK(hf_json_string_len(NULL, n + 1) == 0);
    FZ_CHECK(hf_json_write_object(out, sizeof(out), NULL, NULL, 0, &w) ==
             HF_OK);
    FZ_CHECK(w == 2 && memcmp(out, "{}", 2) == 0);
    FZ_CHECK(hf_json_object_len(NULL, NULL, 0) == 2);
    FZ_CHECK(hf_json_write_object(out, sizeof(out), NULL, NULL, n + 1,
                                  &w) == HF_E_INVALID_ARGUMENT);
    FZ_CHECK(hf_json_object_len(NULL, NULL, n + 1) == 0);
    FZ_CHECK(hf_json_write_object(NULL, 1, NULL, NULL, 0, &w) ==
             HF_E_INVALID_ARGUMENT);
    keys[0].ptr = "k";
    keys[0].len = 1;
    keys[1].ptr = NULL;
    keys[1].len = 1;
    values[0] = keys[0];
    values[1] = keys[0];
    FZ_CHECK(hf_json_object_len(keys, values, 2) == 0);
    FZ_CHECK(hf_json_write_object(out, sizeof(out), keys, values, 2, &w) !=
             HF_OK);
    w = 0;
    FZ_CHECK(hf_json_write_object(NULL, 0, keys, values, 1, &w) ==
             HF_E_NO_SPACE);
    FZ_CHECK(w == 10);
}

/* The empty string given as NULL with length 0, as hf_str allows. */
static void op_writer_null(fz_reader *r)
{
    unsigned char out[16];
    hf_str key;
    hf_str value;
    hf_header h;
    size_t w;

    (void)r;
    FZ_CHECK(hf_json_write_string(out, sizeof(out), NULL, 0, &w) == HF_OK);
    FZ_CHECK(w == 2 && memcmp(out, "\"\"", 2) == 0);
    FZ_CHECK(hf_json_string_len(NULL, 0) == 2);
    key.ptr = "k";
    key.len = 1;
    value.ptr = NULL;
    value.len = 0;
    hf_header_init(&h, "t", "e");
    FZ_CHECK(hf_header_add_ext(&h, key, value, HF_VALUE_STRING) == HF_OK);
    FZ_CHECK(hf_header_json_len(&h) > 0);
}

/* hframe.h: the decoder's own buffers, and what yajl's per-header state
 * needs beyond the stack, come from the hf_allocator. Parsing a header
 * in a fresh decoder allocates its string storage through the hooks; a
 * header with a string to unescape adds yajl's buffer; and
 * hf_decoder_free gives every block back. */
static void op_alloc_hooks(fz_reader *r)
{
    static const char escaped[] =
        "{\"byteorder\": \"big\", \"content-type\": \"t\", "
        "\"content-encoding\": \"e\", \"content-length\": 0, "
        "\"x\": \"a\\nb\"}";
    fz_alloc a;
    hf_limits lim;
    hf_decoder d;
    size_t calls;

    (void)r;
    fz_alloc_init(&a, SIZE_MAX);
    hf_limits_default(&lim);
    lim.alloc = &a.hooks;
    FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
    FZ_CHECK(hf_parse_header(&d, sample, sizeof(sample) - 1) == HF_OK);
    FZ_CHECK(a.calls >= 1);
    calls = a.calls;
    FZ_CHECK(hf_parse_header(&d, escaped, sizeof(escaped) - 1) == HF_OK);
    FZ_CHECK(a.calls > calls);
    hf_decoder_free(&d);
    FZ_CHECK(a.live == 0);
}

/* hf_decoder_finish right after the last content byte, before the
 * HF_EV_FRAME_END push: the frame is complete, so HF_OK. */
static void op_finish(fz_reader *r)
{
    static const char frame[] =
        "\x00\x57{\"byteorder\": \"big\", \"content-type\": \"a\", "
        "\"content-encoding\": \"b\", \"content-length\": 3}xyz";
    hf_decoder d;
    hf_event ev;
    size_t off;
    size_t len;
    size_t cut;

    len = sizeof(frame) - 1;
    cut = 1 + fz_take_u8(r) % (len - 1);
    FZ_CHECK(hf_decoder_init(&d, NULL) == HF_OK);
    off = 0;
    do {
        off += hf_decoder_push(&d, frame + off, (off < cut ? cut : len) - off,
                               &ev);
        FZ_CHECK(ev.type != HF_EV_ERROR);
    } while (off < len || ev.type == HF_EV_HEADER);
    FZ_CHECK(ev.type == HF_EV_CONTENT);
    FZ_CHECK(hf_decoder_in_frame(&d));
    FZ_CHECK(hf_decoder_finish(&d) == HF_OK);
    FZ_CHECK(hf_decoder_frames(&d) == 1);
    FZ_CHECK(!hf_decoder_in_frame(&d));
    hf_decoder_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf;
    fz_reader r;

    buf = fz_dup(data, size);
    r.p = buf;
    r.len = size;
    while (r.len > 0) {
        switch (fz_take_u8(&r) % 10) {
        case 0:
            op_status(&r);
            break;
        case 1:
            op_limits(&r);
            break;
        case 2:
            op_null(&r);
            break;
        case 3:
            op_header(&r);
            break;
        case 4:
            op_byteorder(&r);
            break;
        case 5:
            op_writer(&r);
            break;
        case 6:
            op_finish(&r);
            break;
        case 7:
            op_alloc_hooks(&r);
            break;
        case 8:
            op_too_long(&r);
            break;
        default:
            op_writer_null(&r);
            break;
        }
    }
    free(buf);
    return 0;
}
