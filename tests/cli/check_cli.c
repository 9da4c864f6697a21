/*
 * check_cli.c - the Check suite for the pieces of the hframe command that
 * are not plain I/O (cli/): strict numbers, base64, the lone-surrogate
 * escape check, the canonical JSON re-writer and the NDJSON records.
 *
 * Streaming pieces are fed every input whole and again in chunks of
 * 1..31 bytes, all of which must agree. Inputs live in exact-size heap
 * blocks so that AddressSanitizer catches an over-read by one byte.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* A copy of s[0..n) in a heap block of exactly n bytes (1 when empty). */
static unsigned char *exact(const void *s, size_t n)
{
    unsigned char *p = malloc(n == 0 ? 1 : n);

    ck_assert_ptr_nonnull(p);
    memcpy(p, s, n);
    return p;
}

/* ------------------------------------------------------------------ */
/* What input that is not hframe looks like                            */
/* ------------------------------------------------------------------ */

static const struct {
    const char *in;
    size_t len;
    int kind;
    const char *quoted;
} sniff_vectors[] = {
    { "hello\n", 6, CLI_SNIFF_TEXT, "\"hello\\n\"" },
    { "SSH-2.0-OpenSSH_9.2p1 Debian\r\n", 30, CLI_SNIFF_TEXT,
      "\"SSH-2.0-OpenSSH_\"" },
    { "HTTP/1.1 400 Bad", 16, CLI_SNIFF_TEXT, "\"HTTP/1.1 400 Bad\"" },
    { "a\t\"\\", 4, CLI_SNIFF_TEXT, "\"a\\t\\\"\\\\\"" },
    { "\x16\x03\x01\x02\x00", 5, CLI_SNIFF_TLS, NULL },
    { "\x00\x64{\"byteorder\"", 14, CLI_SNIFF_NONE, NULL },
    { "x", 1, CLI_SNIFF_NONE, NULL },
    { "ab\xc3\xa9", 4, CLI_SNIFF_NONE, NULL },
    { "", 0, CLI_SNIFF_NONE, NULL },
};

START_TEST(test_sniff)
{
    char buf[CLI_SNIFF_MAX];
    int kind = cli_sniff((const unsigned char *)sniff_vectors[_i].in,
                         sniff_vectors[_i].len, buf, sizeof(buf));

    ck_assert_int_eq(kind, sniff_vectors[_i].kind);
    if (sniff_vectors[_i].quoted != NULL)
        ck_assert_str_eq(buf, sniff_vectors[_i].quoted);
}
END_TEST

/* ------------------------------------------------------------------ */
/* PROXY header                                                        */
/* ------------------------------------------------------------------ */

/* An IPv4 socket address, host order in. */
static struct sockaddr_in addr4(uint32_t ip, uint16_t port)
{
    struct sockaddr_in a;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(ip);
    a.sin_port = htons(port);
    return a;
}

START_TEST(test_proxy_v1)
{
    struct sockaddr_in s4, d4;
    struct sockaddr_in6 s6, d6;
    unsigned char out[CLI_PROXY_MAX];
    size_t n;

    s4 = addr4(0xc0000201, 56324);     /* 192.0.2.1 */
    d4 = addr4(0x7f000001, 443);
    n = cli_proxy_header(1, (struct sockaddr *)&s4, (struct sockaddr *)&d4,
                         out, sizeof(out));
    ck_assert_uint_eq(n, 42);
    ck_assert_mem_eq(out, "PROXY TCP4 192.0.2.1 127.0.0.1 56324 443\r\n",
                     n);
    memset(&s6, 0, sizeof(s6));
    memset(&d6, 0, sizeof(d6));
    s6.sin6_family = d6.sin6_family = AF_INET6;
    s6.sin6_addr.s6_addr[15] = 1;
    d6.sin6_addr.s6_addr[0] = 0x20;
    d6.sin6_addr.s6_addr[1] = 0x01;
    d6.sin6_addr.s6_addr[2] = 0x0d;
    d6.sin6_addr.s6_addr[3] = 0xb8;
    d6.sin6_addr.s6_addr[15] = 2;
    s6.sin6_port = htons(1);
    d6.sin6_port = htons(65535);
    n = cli_proxy_header(1, (struct sockaddr *)&s6, (struct sockaddr *)&d6,
                         out, sizeof(out));
    ck_assert_uint_eq(n, 36);
    ck_assert_mem_eq(out, "PROXY TCP6 ::1 2001:db8::2 1 65535\r\n", n);
    /* Families that differ cannot be named. */
    ck_assert_uint_eq(cli_proxy_header(1, (struct sockaddr *)&s4,
                                       (struct sockaddr *)&d6, out,
                                       sizeof(out)), 0);
}
END_TEST

START_TEST(test_proxy_v2)
{
    static const unsigned char want[] = {
        0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54,
        0x0a, 0x21, 0x11, 0x00, 0x0c, 192, 0, 2, 1, 127, 0, 0, 1,
        0xdc, 0x04, 0x01, 0xbb
    };
    struct sockaddr_in s4, d4;
    unsigned char out[CLI_PROXY_MAX];
    size_t n;

    s4 = addr4(0xc0000201, 56324);
    d4 = addr4(0x7f000001, 443);
    n = cli_proxy_header(2, (struct sockaddr *)&s4, (struct sockaddr *)&d4,
                         out, sizeof(out));
    ck_assert_uint_eq(n, sizeof(want));
    ck_assert_mem_eq(out, want, n);
    ck_assert_uint_eq(cli_proxy_header(2, (struct sockaddr *)&s4,
                                       (struct sockaddr *)&d4, out, 20), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Base64                                                              */
/* ------------------------------------------------------------------ */

/* RFC 4648, section 10. */
static const struct {
    const char *raw;
    const char *b64;
} b64_vectors[] = {
    { "", "" },
    { "f", "Zg==" },
    { "fo", "Zm8=" },
    { "foo", "Zm9v" },
    { "foob", "Zm9vYg==" },
    { "fooba", "Zm9vYmE=" },
    { "foobar", "Zm9vYmFy" },
    { "\xff\xfe\xfd", "//79" },
    { "\xfb\xff", "+/8=" },
};

START_TEST(test_b64_vectors)
{
    const char *raw = b64_vectors[_i].raw, *b64 = b64_vectors[_i].b64;
    size_t n = strlen(raw), m = strlen(b64), got = 99, bad;
    unsigned char out[16], *in;

    ck_assert_uint_eq(cli_b64_len(n), m);
    cli_b64_encode(out, (const unsigned char *)raw, n);
    ck_assert_mem_eq(out, b64, m);
    in = exact(b64, m);
    ck_assert_int_eq(cli_b64_decode(out, in, m, &got, &bad), 0);
    ck_assert_uint_eq(got, n);
    ck_assert_mem_eq(out, raw, n);
    free(in);
}
END_TEST

static const struct {
    const char *in;
    size_t bad_at;
} b64_bad[] = {
    { "Zg=", 0 },          /* length not a multiple of 4 */
    { "Zh==", 1 },         /* dropped bits not zero */
    { "Zm9=", 2 },
    { "Z===", 1 },         /* too much padding */
    { "====", 0 },
    { "=Zg=", 0 },
    { "Zg==Zg==", 2 },     /* padding inside */
    { "Zm9v\nZm9", 4 },    /* no line breaks */
    { "Zm-v", 2 },         /* URL-safe alphabet is not ours */
    { "Zm9v Zm9", 4 },
    { "Zg=a", 3 },
};

START_TEST(test_b64_reject)
{
    size_t n = strlen(b64_bad[_i].in), got = 0, bad = 99;
    unsigned char out[16], *in = exact(b64_bad[_i].in, n);

    ck_assert_int_eq(cli_b64_decode(out, in, n, &got, &bad), -1);
    ck_assert_uint_eq(bad, b64_bad[_i].bad_at);
    free(in);
}
END_TEST

/* Every length 0..300 of varied bytes round-trips. */
START_TEST(test_b64_roundtrip)
{
    unsigned char raw[300], enc[400];
    size_t n = (size_t)_i, m, got = 0, bad;
    unsigned char *in, *out;
    size_t i;

    for (i = 0; i < n; i++)
        raw[i] = (unsigned char)(i * 151 + n * 7);
    m = cli_b64_len(n);
    ck_assert_uint_le(m, sizeof(enc));
    cli_b64_encode(enc, raw, n);
    in = exact(enc, m);
    ck_assert_uint_eq(cli_b64_decoded_len(in, m), n);
    /* The output block is exactly as large as announced. */
    out = malloc(n == 0 ? 1 : n);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(cli_b64_decode(out, in, m, &got, &bad), 0);
    ck_assert_uint_eq(got, n);
    if (n > 0)
        ck_assert_mem_eq(out, raw, n);
    free(out);
    free(in);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Lone surrogate escapes                                              */
/* ------------------------------------------------------------------ */

static const struct {
    const char *text;
    int ok;
    uint64_t bad_at;
} esc_vectors[] = {
    { "\"plain\"", 1, 0 },
    { "\"\\u00e9\\n\\\\\"", 1, 0 },
    { "\"\\ud83d\\ude00\"", 1, 0 },
    { "\"\\uD83D\\uDE00\"", 1, 0 },
    { "\"\\\\ud800\"", 1, 0 },           /* an escaped backslash */
    { "\"\\ud800\"", 0, 1 },
    { "\"ab\\udc00\"", 0, 3 },
    { "\"\\ud800\\u0041\"", 0, 1 },
    { "\"\\ud800\\n\"", 0, 1 },
    { "\"\\ud800x\"", 0, 1 },
    { "[\"\\ud83d\\ude00\", \"\\udfff\"]", 0, 18 },
    { "\"\\ud800", 0, 1 },                /* ends inside the pair */
};

static int esc_run(const char *text, size_t chunk, uint64_t *bad_at)
{
    size_t n = strlen(text), off = 0;
    cli_esc e;

    cli_esc_init(&e);
    while (off < n) {
        size_t k = n - off < chunk ? n - off : chunk;

        if (cli_esc_feed(&e, text + off, k) != 0) {
            *bad_at = e.bad_at;
            return -1;
        }
        off += k;
    }
    if (cli_esc_finish(&e) != 0) {
        *bad_at = e.bad_at;
        return -1;
    }
    return 0;
}

START_TEST(test_esc)
{
    size_t chunk;

    for (chunk = 1; chunk <= 32; chunk++) {
        uint64_t bad = 0;
        int rc = esc_run(esc_vectors[_i].text, chunk, &bad);

        ck_assert_int_eq(rc, esc_vectors[_i].ok ? 0 : -1);
        if (!esc_vectors[_i].ok)
            ck_assert_uint_eq(bad, esc_vectors[_i].bad_at);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* Canonical JSON re-writer                                            */
/* ------------------------------------------------------------------ */

static const struct {
    const char *in;
    const char *out;    /* NULL: must be refused */
} canon_vectors[] = {
    { "{\"action\":\"search\",\"value\":\"morpheus\"}",
      "{\"action\": \"search\", \"value\": \"morpheus\"}" },
    { " [ 1 , 2.50 , -0 , 1E+2 ] \n", "[1, 2.50, -0, 1E+2]" },
    { "{}", "{}" },
    { "[]", "[]" },
    { "[[],{},[{}]]", "[[], {}, [{}]]" },
    { "{\"a\":{\"b\":[true,false,null]}}",
      "{\"a\": {\"b\": [true, false, null]}}" },
    { "\"\\u00e9\\/\\b\\f\\n\\r\\t\\u0001\\u007f\"",
      "\"\xc3\xa9/\\b\\f\\n\\r\\t\\u0001\x7f\"" },
    { "\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"" },
    { "{\"k\":1,\"k\":2}", "{\"k\": 1, \"k\": 2}" },
    { "42", "42" },
    { "null", "null" },
    { "", NULL },
    { "   ", NULL },
    { "{\"a\":1} x", NULL },
    { "[1,]", NULL },
    { "{'a':1}", NULL },
    { "NaN", NULL },
    { "[1] [2]", NULL },
    { "// c\n1", NULL },
    { "\"\\ud800\"", NULL },
    { "\"\xed\xa0\x80\"", NULL },
    { "\"\xc0\xaf\"", NULL },
    { "\xef\xbb\xbf{}", NULL },
};

static int canon_run(const char *in, size_t chunk, cli_buf *out)
{
    size_t n = strlen(in), off = 0;
    unsigned char *copy = exact(in, n);
    cli_canon *c = cli_canon_new(out, NULL);
    int rc = 0;

    ck_assert_ptr_nonnull(c);
    while (rc == 0 && off < n) {
        size_t k = n - off < chunk ? n - off : chunk;

        rc = cli_canon_feed(c, copy + off, k);
        off += k;
    }
    if (rc == 0)
        rc = cli_canon_finish(c);
    if (rc != 0)
        ck_assert_str_ne(cli_canon_error(c), "");
    cli_canon_free(c);
    free(copy);
    return rc;
}

START_TEST(test_canon)
{
    const char *want = canon_vectors[_i].out;
    size_t chunk;

    for (chunk = 1; chunk <= 32; chunk++) {
        cli_buf out;
        int rc;

        cli_buf_init(&out, 1 << 20);
        rc = canon_run(canon_vectors[_i].in, chunk == 32 ? 1 << 20 : chunk,
                       &out);
        if (want == NULL) {
            ck_assert_int_eq(rc, -1);
        } else {
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(out.len, strlen(want));
            ck_assert_mem_eq(out.p, want, out.len);
        }
        cli_buf_free(&out);
    }
}
END_TEST

START_TEST(test_canon_limits)
{
    cli_buf out;

    /* 512 levels are fine, 513 are not. */
    {
        char ok[1025];

        memset(ok, '[', 512);
        memset(ok + 512, ']', 512);
        ok[1024] = '\0';
        cli_buf_init(&out, 1 << 20);
        ck_assert_int_eq(canon_run(ok, 7, &out), 0);
        cli_buf_free(&out);
    }
    {
        char bad[1027];

        memset(bad, '[', 513);
        memset(bad + 513, ']', 513);
        bad[1026] = '\0';
        cli_buf_init(&out, 1 << 20);
        ck_assert_int_eq(canon_run(bad, 7, &out), -1);
        cli_buf_free(&out);
    }
    /* The output cap holds exactly. */
    cli_buf_init(&out, 6);
    ck_assert_int_eq(canon_run("[1,2]", 1, &out), 0);
    cli_buf_free(&out);
    cli_buf_init(&out, 5);
    ck_assert_int_eq(canon_run("[1,2]", 1, &out), -1);
    cli_buf_free(&out);
}
END_TEST

/* The sink's bytes, read back: spooled part, then memory. */
static unsigned char *sink_bytes(cli_sink *k, size_t *n)
{
    size_t spooled = (size_t)k->spooled;
    unsigned char *p = malloc(spooled + k->mem.len + 1);

    ck_assert_ptr_nonnull(p);
    if (spooled > 0) {
        ck_assert_int_eq(lseek(k->fd, 0, SEEK_SET), 0);
        ck_assert_int_eq(read(k->fd, p, spooled), (ssize_t)spooled);
    }
    if (k->mem.len > 0)
        memcpy(p + spooled, k->mem.p, k->mem.len);
    *n = spooled + k->mem.len;
    return p;
}

/* The content a record parse left, whole: in the line or the sink. */
static unsigned char *content_bytes(cli_ndjson_content *c, size_t *n)
{
    unsigned char *p;
    size_t bad;

    if (c->str == NULL)
        return sink_bytes(c->sink, n);
    p = malloc(c->str_len + 1);
    ck_assert_ptr_nonnull(p);
    if (!c->base64) {
        memcpy(p, c->str, c->str_len);
        *n = c->str_len;
    } else if (c->str_len == 0) {
        *n = 0;
    } else {
        ck_assert_int_eq(cli_b64_decode(p, c->str, c->str_len, n, &bad), 0);
    }
    ck_assert_uint_eq(*n, c->len);
    return p;
}

/* A 3 MiB string with escapes and multibyte characters at every slice
 * boundary, fed in small chunks: its canonical form is spilled to the
 * sink in slices, identical to the whole string's, and the limit holds
 * to the byte. */
START_TEST(test_canon_long_string)
{
    static const char unit[] = "ab\\n\\\\\\\"\\u0001\\u00e9\\ud83d\\ude00"
                               "\xc3\xa9\xf0\x9f\x90\xb0" "x";
    static const char plain[] = "ab\n\\\"\x01\xc3\xa9\xf0\x9f\x98\x80"
                                "\xc3\xa9\xf0\x9f\x90\xb0" "x";
    size_t units = 3 * 1024 * 1024 / (sizeof(unit) - 1), i, n, got;
    size_t in_len = units * (sizeof(unit) - 1) + 4;
    unsigned char *in = malloc(in_len), *out;
    cli_buf want, buf;
    cli_sink sink;
    cli_canon *c;
    int limit_case, rc = 0;

    ck_assert_ptr_nonnull(in);
    memcpy(in, "[\"", 2);
    for (i = 0; i < units; i++)
        memcpy(in + 2 + i * (sizeof(unit) - 1), unit, sizeof(unit) - 1);
    memcpy(in + in_len - 2, "\"]", 2);
    /* What the codec writes for the whole decoded string. */
    cli_buf_init(&buf, 1 << 26);
    for (i = 0; i < units; i++)
        ck_assert_int_eq(cli_buf_append(&buf, plain, sizeof(plain) - 1), 0);
    cli_buf_init(&want, 1 << 26);
    ck_assert_int_eq(cli_buf_append(&want, "[", 1), 0);
    ck_assert_int_eq(cli_json_string(&want, buf.p, buf.len), 0);
    ck_assert_int_eq(cli_buf_append(&want, "]", 1), 0);
    cli_buf_free(&buf);
    for (limit_case = 0; limit_case < 2; limit_case++) {
        cli_buf_init(&buf, want.len - (size_t)limit_case);
        cli_sink_init(&sink);
        c = cli_canon_new(&buf, &sink);
        ck_assert_ptr_nonnull(c);
        rc = 0;
        for (i = 0; rc == 0 && i < in_len; i += n) {
            n = in_len - i < 4093 ? in_len - i : 4093;
            rc = cli_canon_feed(c, in + i, n);
        }
        if (rc == 0)
            rc = cli_canon_finish(c);
        if (limit_case == 1) {
            ck_assert_int_eq(rc, -1);
            ck_assert(strstr(cli_canon_error(c), "exceeds the content") !=
                      NULL);
        } else {
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_gt(sink.spooled, 0);
            ck_assert_uint_eq(buf.len, 0);
            out = sink_bytes(&sink, &got);
            ck_assert_uint_eq(got, want.len);
            ck_assert_mem_eq(out, want.p, got);
            free(out);
        }
        cli_canon_free(c);
        ck_assert_uint_eq(buf.max, want.len - (size_t)limit_case);
        cli_buf_free(&buf);
        cli_sink_free(&sink);
    }
    cli_buf_free(&want);
    free(in);
}
END_TEST

/* ------------------------------------------------------------------ */
/* NDJSON records                                                      */
/* ------------------------------------------------------------------ */

static const struct {
    const char *type;
    const char *encoding;
    const char *content;
    size_t len;
    const char *member;     /* "text" or "base64" */
} rec_vectors[] = {
    { "text/json", "utf-8", "{\"a\": 1}", 8, "\"text\"" },
    { "text/plain", "UTF-8", "caf\xc3\xa9\n\t\"\\", 10, "\"text\"" },
    { "text/plain", "Utf-8", "a\0b", 3, "\"text\"" },
    { "text/plain", "utf-8", "", 0, "\"text\"" },
    { "text/plain", "utf-8", "\xff", 1, "\"base64\"" },
    { "text/plain", "utf8", "abc", 3, "\"base64\"" },
    { "binary/x", "binary", "binary\xf0\x9f\x98\x83", 10, "\"base64\"" },
    { "binary/x", "binary", "", 0, "\"base64\"" },
};

static int contains(const unsigned char *p, size_t n, const char *s)
{
    size_t m = strlen(s), i;

    for (i = 0; m <= n && i <= n - m; i++) {
        if (memcmp(p + i, s, m) == 0)
            return 1;
    }
    return 0;
}

START_TEST(test_record_roundtrip)
{
    hf_header h;
    const hf_header *got;
    hf_decoder d;
    cli_buf line;
    cli_sink sink;
    cli_ndjson_content content;
    char err[256];
    unsigned char *copy, *bytes, a[512], b[512];
    size_t alen, blen, n;
    hf_str k = { "x-n", 3 }, v = { "1.50", 4 };

    hf_header_init(&h, rec_vectors[_i].type, rec_vectors[_i].encoding);
    h.content_length = rec_vectors[_i].len;
    ck_assert_int_eq(hf_header_add_ext(&h, k, v, HF_VALUE_NUMBER), HF_OK);
    cli_buf_init(&line, 1 << 20);
    ck_assert_int_eq(cli_ndjson_record(&line, &h, NULL,
                                       (const unsigned char *)
                                           rec_vectors[_i].content,
                                       rec_vectors[_i].len), 0);
    ck_assert_uint_gt(line.len, 0);
    ck_assert_int_eq(line.p[line.len - 1], '\n');
    ck_assert(contains(line.p, line.len, rec_vectors[_i].member));
    copy = exact(line.p, line.len - 1);
    ck_assert_int_eq(hf_decoder_init(&d, NULL), HF_OK);
    cli_sink_init(&sink);
    content.sink = &sink;
    ck_assert_int_eq(cli_ndjson_parse(&d, copy, line.len - 1, 1 << 20,
                                      &content, 0, err, sizeof(err)), 0);
    got = hf_decoder_header(&d);
    ck_assert_ptr_nonnull(got);
    bytes = content_bytes(&content, &n);
    ck_assert_uint_eq(n, rec_vectors[_i].len);
    if (n > 0)
        ck_assert_mem_eq(bytes, rec_vectors[_i].content, n);
    free(bytes);
    ck_assert_int_eq(hf_encode_header(&h, a, sizeof(a), &alen), HF_OK);
    ck_assert_int_eq(hf_encode_header(got, b, sizeof(b), &blen), HF_OK);
    ck_assert_uint_eq(alen, blen);
    ck_assert_mem_eq(a, b, alen);
    hf_decoder_free(&d);
    cli_buf_free(&line);
    cli_sink_free(&sink);
    free(copy);
}
END_TEST

#define HDR "\"header\": {\"byteorder\": \"big\", \"content-type\": \"a\", " \
            "\"content-encoding\": \"b\", \"content-length\": 3}"

static const struct {
    const char *line;
    const char *err_prefix;
} rec_bad[] = {
    { "[1]", "record is not a JSON object" },
    { "\"x\"", "record is not a JSON object" },
    { "{" HDR "}", "record needs" },
    { "{\"text\": \"abc\"}", "record needs" },
    { "{" HDR ", \"text\": \"ab\"}", "content-length is 3" },
    { "{" HDR ", \"text\": 3}", "\"text\"/\"base64\" is not a string" },
    { "{" HDR ", \"base64\": \"YWJ=\"}", "\"base64\" is not canonical" },
    { "{" HDR ", \"text\": \"abc\", \"text\": \"abc\"}",
      "record member appears twice" },
    { "{" HDR ", \"x\": 1, \"text\": \"abc\"}", "unknown record member" },
    { "{\"header\": 1, \"text\": \"\"}", "\"header\" is not an object" },
    { "{\"header\": {}, \"text\": \"\"}", "header: missing-key" },
    { "{" HDR ", \"text\": \"a\\ud800b\"}", "lone-surrogate" },
    { "{" HDR ", \"text\": \"a\xed\xa0\x80\"}", "\"text\" is not valid" },
    { "{" HDR ", \"text\": \"abc\"} x", "json-syntax" },
    { "{" HDR ", \"text\": \"abc\"", "json-syntax" },
    { "", "json-syntax" },
};

START_TEST(test_record_reject)
{
    size_t n = strlen(rec_bad[_i].line);
    unsigned char *copy = exact(rec_bad[_i].line, n);
    cli_sink sink;
    cli_ndjson_content content;
    hf_decoder d;
    char err[256] = "";

    ck_assert_int_eq(hf_decoder_init(&d, NULL), HF_OK);
    cli_sink_init(&sink);
    content.sink = &sink;
    ck_assert_int_eq(cli_ndjson_parse(&d, copy, n, 1 << 20, &content, 0,
                                      err, sizeof(err)), -1);
    ck_assert_msg(strncmp(err, rec_bad[_i].err_prefix,
                          strlen(rec_bad[_i].err_prefix)) == 0,
                  "error \"%s\" for %s", err, rec_bad[_i].line);
    hf_decoder_free(&d);
    cli_sink_free(&sink);
    free(copy);
}
END_TEST

/* A base64 content decoded in slices: padding that ends the first
 * slice, a bad character in a later one, and one past the limit are
 * found at the offsets a whole decode gives; a good one comes out whole,
 * past CLI_SPOOL_AFTER in the sink's file. at is where "AA==" or "!!"
 * goes, or -1 for none; want_bad is the offending character. */
static const struct {
    long at;
    const char *put;
    long want_bad;
    size_t max;
} b64_slices[] = {
    { -1, "", -1, 1 << 22 },
    { 16380, "AA==", 16382, 1 << 22 },
    { 16384, "AA==", 16386, 1 << 22 },
    { 1600001, "!", 1600001, 1 << 22 },
    { -1, "", -2, (3 << 19) - 1 },
    { -1, "/", -1, 1 << 22 },      /* "/" written "\/": into the sink */
};

/* line[0..*len) with every "/" written "\/" (the line is freed). */
static unsigned char *escape_slashes(unsigned char *line, size_t *len)
{
    unsigned char *out = malloc(2 * *len);
    size_t i, n = 0;

    ck_assert_ptr_nonnull(out);
    for (i = 0; i < *len; i++) {
        if (line[i] == '/')
            out[n++] = '\\';
        out[n++] = line[i];
    }
    free(line);
    *len = n;
    return out;
}

START_TEST(test_record_b64_slices)
{
    static const char hdr[] = "{\"header\": {\"byteorder\": \"big\", "
        "\"content-type\": \"a\", \"content-encoding\": \"b\", "
        "\"content-length\": 1572864}, \"base64\": \"";
    size_t content = 1572864, b64 = content / 3 * 4, i, got;
    size_t len = sizeof(hdr) - 1 + b64 + 2;
    unsigned char *line = malloc(len), *bytes, *out;
    cli_sink sink;
    cli_ndjson_content c;
    hf_decoder d;
    char err[256] = "", want[128];
    int rc;

    ck_assert_ptr_nonnull(line);
    bytes = malloc(content);
    ck_assert_ptr_nonnull(bytes);
    for (i = 0; i < content; i++)
        bytes[i] = (unsigned char)(i * 7 + i / 251);
    memcpy(line, hdr, sizeof(hdr) - 1);
    cli_b64_encode(line + sizeof(hdr) - 1, bytes, content);
    memcpy(line + len - 2, "\"}", 2);
    if (b64_slices[_i].at >= 0)
        memcpy(line + sizeof(hdr) - 1 + b64_slices[_i].at,
               b64_slices[_i].put, strlen(b64_slices[_i].put));
    if (b64_slices[_i].at < 0 && b64_slices[_i].put[0] == '/')
        line = escape_slashes(line, &len);
    ck_assert_int_eq(hf_decoder_init(&d, NULL), HF_OK);
    cli_sink_init(&sink);
    c.sink = &sink;
    rc = cli_ndjson_parse(&d, line, len, b64_slices[_i].max, &c, 0, err,
                          sizeof(err));
    if (b64_slices[_i].want_bad == -1) {
        ck_assert_int_eq(rc, 0);
        /* In place unless escaped; then in the sink, past its memory. */
        ck_assert(c.str == NULL || b64_slices[_i].put[0] != '/');
        ck_assert(c.str != NULL || sink.spooled > 0);
        out = content_bytes(&c, &got);
        ck_assert_uint_eq(got, content);
        ck_assert_mem_eq(out, bytes, content);
        free(out);
    } else if (b64_slices[_i].want_bad == -2) {
        ck_assert_int_eq(rc, -1);
        ck_assert_str_eq(err, "content exceeds the content limit");
    } else {
        snprintf(want, sizeof(want),
                 "\"base64\" is not canonical base64 (character %ld)",
                 b64_slices[_i].want_bad);
        ck_assert_int_eq(rc, -1);
        ck_assert_str_eq(err, want);
    }
    hf_decoder_free(&d);
    cli_sink_free(&sink);
    free(bytes);
    free(line);
}
END_TEST

/* Key order: raw header in, the same order out with canonical spacing. */
static const struct {
    const char *raw;
    const char *out;
} order_vectors[] = {
    { "{\"byteorder\":\"big\",\"content-type\":\"a\","
      "\"content-encoding\":\"b\",\"content-length\":0}",
      "{\"byteorder\": \"big\", \"content-type\": \"a\", "
      "\"content-encoding\": \"b\", \"content-length\": 0}" },
    { "{ \"x\" : 1 , \"content-length\":0,\"y\":\"\\u0041\","
      "\"content-encoding\":\"b\",\"byteorder\":\"little\","
      "\"content\\u002dtype\":\"a\"} ",
      "{\"x\": 1, \"content-length\": 0, \"y\": \"A\", "
      "\"content-encoding\": \"b\", \"byteorder\": \"little\", "
      "\"content-type\": \"a\"}" },
};

START_TEST(test_header_order)
{
    size_t n = strlen(order_vectors[_i].raw);
    unsigned char *raw = exact(order_vectors[_i].raw, n);
    const hf_header *h;
    cli_key_order o;
    hf_decoder d;
    cli_buf b;

    ck_assert_int_eq(hf_decoder_init(&d, NULL), HF_OK);
    ck_assert_int_eq(hf_parse_header(&d, raw, n), HF_OK);
    h = hf_decoder_header(&d);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(cli_header_order(raw, n, &o), 0);
    cli_buf_init(&b, 1 << 16);
    ck_assert_int_eq(cli_json_header_in(&b, h, &o), 0);
    ck_assert_uint_eq(b.len, strlen(order_vectors[_i].out));
    ck_assert_mem_eq(b.p, order_vectors[_i].out, b.len);
    /* An order that does not fit the header falls back to canonical. */
    o.n = 1;
    b.len = 0;
    ck_assert_int_eq(cli_json_header_in(&b, h, &o), 0);
    ck_assert_int_eq(b.p[2], 'b');
    cli_buf_free(&b);
    hf_decoder_free(&d);
    free(raw);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Capped buffer                                                       */
/* ------------------------------------------------------------------ */

START_TEST(test_buf_cap)
{
    cli_buf b;

    cli_buf_init(&b, 10);
    ck_assert_int_eq(cli_buf_append(&b, "0123456789", 10), 0);
    ck_assert_int_eq(cli_buf_append(&b, "x", 1), -1);
    ck_assert_uint_eq(b.len, 10);
    ck_assert_int_eq(cli_buf_append(&b, "", 0), 0);
    ck_assert_uint_le(b.cap, 10);
    cli_buf_free(&b);
    ck_assert_ptr_null(b.p);
    ck_assert_uint_eq(b.max, 10);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("sniff");

    tcase_add_loop_test(tc, test_sniff, 0, N(sniff_vectors));
    tcase_add_test(tc, test_proxy_v1);
    tcase_add_test(tc, test_proxy_v2);
    suite_add_tcase(s, tc);
    tc = tcase_create("base64");
    tcase_add_loop_test(tc, test_b64_vectors, 0, N(b64_vectors));
    tcase_add_loop_test(tc, test_b64_reject, 0, N(b64_bad));
    tcase_add_loop_test(tc, test_b64_roundtrip, 0, 301);
    suite_add_tcase(s, tc);
    tc = tcase_create("json");
    tcase_add_loop_test(tc, test_esc, 0, N(esc_vectors));
    tcase_add_loop_test(tc, test_canon, 0, N(canon_vectors));
    tcase_add_test(tc, test_canon_limits);
    tcase_add_test(tc, test_canon_long_string);
    /* The 3 MiB string takes some 3 s under AddressSanitizer alone,
     * close to Check's default 4 s; the suite shares the cores. */
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    tc = tcase_create("ndjson");
    tcase_add_loop_test(tc, test_record_roundtrip, 0, N(rec_vectors));
    tcase_add_loop_test(tc, test_record_reject, 0, N(rec_bad));
    tcase_add_loop_test(tc, test_record_b64_slices, 0, N(b64_slices));
    tcase_add_loop_test(tc, test_header_order, 0, N(order_vectors));
    tcase_add_test(tc, test_buf_cap);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cli_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
