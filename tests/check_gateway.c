/*
 * check_gateway.c - unit tests of the gateway's sans-I/O parts: the
 * index, the handlers and the connection state machine. Every request
 * vector goes through gw_conn in chunk sizes 1..31 and whole; time is a
 * plain number passed in.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hframe.h"
#include "gw_buf.h"
#include "gw_conn.h"
#include "gw_handler.h"
#include "gw_index.h"
#include "gw_proxy.h"

#define BIG 65536
#define MAX_CHUNK 31

#define RABBIT "Follow the white rabbit. \xf0\x9f\x90\xb0"
#define RING "In the caves beneath the Misty Mountains. \xf0\x9f\x92\x8d"
#define DOG "\xf0\x9f\x90\xb6"
#define BALL "\xf0\x9f\x90\xbe Playing ball! \xf0\x9f\x8f\x90"
#define BIN10 "binary\xf0\x9f\x98\x83"
#define BIN_TYPE "binary/custom-server-binary-type"

/* ------------------------------------------------------------ helpers */

/* A frame with a hand-written header (requests need not be canonical). */
static size_t mkframe(unsigned char *out, size_t cap, const char *bo,
                      const char *ctype, const char *enc,
                      const void *content, size_t clen)
{
    char hdr[1024];
    int n = snprintf(hdr, sizeof hdr,
                     "{\"byteorder\": \"%s\", \"content-type\": \"%s\", "
                     "\"content-encoding\": \"%s\", \"content-length\": %zu}",
                     bo, ctype, enc, clen);

    ck_assert(n > 0 && (size_t)n < sizeof hdr);
    ck_assert((size_t)n + 2 + clen <= cap);
    out[0] = (unsigned char)(n >> 8);
    out[1] = (unsigned char)n;
    memcpy(out + 2, hdr, (size_t)n);
    if (clen > 0)
        memcpy(out + 2 + n, content, clen);
    return 2 + (size_t)n + clen;
}

/* The answer the gateway must give: canonical header, host byteorder. */
static size_t mkanswer(unsigned char *out, size_t cap, const char *ctype,
                       const char *enc, const void *content, size_t clen)
{
    return mkframe(out, cap, hf_byteorder_name(hf_host_byteorder()), ctype,
                   enc, content, clen);
}

static size_t json_answer(unsigned char *out, size_t cap, const char *c)
{
    return mkanswer(out, cap, "text/json", "utf-8", c, strlen(c));
}

static size_t error_answer(unsigned char *out, size_t cap, gw_req_status st)
{
    char c[512];

    snprintf(c, sizeof c, "{\"error\": \"%s\", \"message\": \"%s\"}",
             gw_req_status_name(st), gw_req_strerror(st));
    /* Messages quote "action"/"value": escape those quotes. */
    {
        char esc[1024];
        size_t i, o = 0;
        const char *body = strstr(c, "\"message\": \"") + 12;

        memcpy(esc, c, (size_t)(body - c));
        o = (size_t)(body - c);
        for (i = 0; body[i + 2] != '\0'; i++) {
            if (body[i] == '"')
                esc[o++] = '\\';
            esc[o++] = body[i];
        }
        memcpy(esc + o, "\"}", 3);
        return json_answer(out, cap, esc);
    }
}

static gw_index *builtin;

static void setup(void)
{
    builtin = gw_index_builtin();
    ck_assert_ptr_nonnull(builtin);
}

static void teardown(void)
{
    gw_index_free(builtin);
    builtin = NULL;
}

static void config(gw_conn_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    hf_limits_default(&cfg->limits);
    cfg->max_output = GW_OUTPUT_DEFAULT;
    cfg->request_timeout = 10;
    cfg->idle_timeout = 60;
    cfg->write_timeout = 30;
    cfg->drain_timeout = 2;
    cfg->index = builtin;
}

/* Feed in[] in chunks of `chunk` bytes (0: whole), taking all output
 * after each call. Returns the output length gathered in out. */
static size_t drive(gw_conn *c, const unsigned char *in, size_t len,
                    size_t chunk, unsigned char *out, size_t cap)
{
    size_t off = 0, got = 0;

    if (chunk == 0)
        chunk = len;
    while (off < len) {
        size_t n = len - off < chunk ? len - off : chunk;
        size_t used = 0;
        int spins = 0;

        while (used < n) {
            size_t olen;
            const unsigned char *o;
            size_t k = gw_conn_input(c, in + off + used, n - used, 0);

            used += k;
            o = gw_conn_output(c, &olen);
            ck_assert_uint_le(got + olen, cap);
            if (olen > 0)
                memcpy(out + got, o, olen);
            got += olen;
            gw_conn_output_done(c, olen, 0);
            ck_assert_int_lt(++spins, 1000000);
        }
        off += n;
    }
    return got;
}

/* ------------------------------------------------------------ index */

START_TEST(test_index_builtin)
{
    size_t n;
    const char *v;

    ck_assert_uint_eq(gw_index_count(builtin), 3);
    v = gw_index_lookup(builtin, "morpheus", 8, &n);
    ck_assert_mem_eq(v, RABBIT, n);
    ck_assert_uint_eq(n, strlen(RABBIT));
    v = gw_index_lookup(builtin, "ring", 4, &n);
    ck_assert_uint_eq(n, strlen(RING));
    ck_assert_mem_eq(v, RING, n);
    v = gw_index_lookup(builtin, DOG, 4, &n);
    ck_assert_uint_eq(n, strlen(BALL));
    ck_assert_mem_eq(v, BALL, n);
    ck_assert_ptr_null(gw_index_lookup(builtin, "morphe", 6, &n));
    ck_assert_ptr_null(gw_index_lookup(builtin, "morpheus!", 9, &n));
    ck_assert_ptr_null(gw_index_lookup(builtin, "", 0, &n));
}
END_TEST

typedef struct index_vec {
    const char *json;
    gw_index_status st;
    size_t count;
    size_t offset;          /* checked when not (size_t)-1 */
} index_vec;

static const index_vec index_vecs[] = {
    { "{}", GW_INDEX_OK, 0, (size_t)-1 },
    { " { \"a\" : \"b\" } \n", GW_INDEX_OK, 1, (size_t)-1 },
    { "{\"\": \"\"}", GW_INDEX_OK, 1, (size_t)-1 },
    { "{\"caf\\u00e9\": \"x\", \"b\": \"\\\"q\\\"\"}", GW_INDEX_OK, 2,
      (size_t)-1 },
    { "", GW_INDEX_E_JSON, 0, 0 },
    { "{", GW_INDEX_E_JSON, 0, 1 },
    /* A file that ends too early: the error stands at its end. */
    { "{\"morpheus\": \"half a file", GW_INDEX_E_JSON, 0, 25 },
    { "{\"a\": \"b\"", GW_INDEX_E_JSON, 0, 9 },
    { "{\"a\": \"b\",}", GW_INDEX_E_JSON, 0, (size_t)-1 },
    { "{} {}", GW_INDEX_E_JSON, 0, (size_t)-1 },
    { "{\"a\": \"\xff\"}", GW_INDEX_E_JSON, 0, (size_t)-1 },
    { "/* c */ {}", GW_INDEX_E_JSON, 0, (size_t)-1 },
    { "{\"a\": \"\xc0\xaf\"}", GW_INDEX_E_JSON, 0, 7 },
    { "{\"A\":\"2\"}\"}", GW_INDEX_E_JSON, 0, 9 },
    { "{\"A\":\"2\"} \"", GW_INDEX_E_JSON, 0, 9 },
    { "\f{\"A\":\"2\"}", GW_INDEX_E_JSON, 0, 0 },
    { "{\"A\":\"2\"}\v", GW_INDEX_E_JSON, 0, 9 },
    { "{\"A\":\"2\"}\t\r\n ", GW_INDEX_OK, 1, (size_t)-1 },
    { "{\"a\": \"\\ud800\"}", GW_INDEX_E_JSON, 0, 7 },
    { "{\"a\": \"\\ud800\\udc00\"}", GW_INDEX_OK, 1,
      (size_t)-1 },
    { "[]", GW_INDEX_E_NOT_OBJECT, 0, (size_t)-1 },
    { "\"x\"", GW_INDEX_E_NOT_OBJECT, 0, (size_t)-1 },
    { "1", GW_INDEX_E_NOT_OBJECT, 0, (size_t)-1 },
    { "{\"a\": 1}", GW_INDEX_E_NOT_STRING, 0, (size_t)-1 },
    { "{\"a\": null}", GW_INDEX_E_NOT_STRING, 0, (size_t)-1 },
    { "{\"a\": true}", GW_INDEX_E_NOT_STRING, 0, (size_t)-1 },
    { "{\"a\": {}}", GW_INDEX_E_NOT_STRING, 0, (size_t)-1 },
    { "{\"a\": [\"b\"]}", GW_INDEX_E_NOT_STRING, 0, (size_t)-1 },
    { "{\"a\": \"b\", \"c\": \"d\", \"a\": \"e\"}", GW_INDEX_E_DUPLICATE, 0,
      24 },
};

START_TEST(test_index_load)
{
    const index_vec *v = &index_vecs[_i];
    gw_index_error err;
    gw_index *idx = NULL;
    gw_index_status st;

    st = gw_index_load_mem(v->json, strlen(v->json), &idx, &err);
    ck_assert_msg(st == v->st, "vector %d: got %s (%s), want %s", _i,
                  gw_index_strerror(st), err.detail,
                  gw_index_strerror(v->st));
    ck_assert_int_eq(err.code, st);
    if (st == GW_INDEX_OK) {
        ck_assert_ptr_nonnull(idx);
        ck_assert_uint_eq(gw_index_count(idx), v->count);
    } else {
        ck_assert_ptr_null(idx);
        ck_assert(err.detail[0] != '\0');
        ck_assert_uint_le(err.offset, strlen(v->json));
        if (v->offset != (size_t)-1)
            ck_assert_uint_eq(err.offset, v->offset);
    }
    gw_index_free(idx);
}
END_TEST

START_TEST(test_index_file)
{
    char path[] = "/tmp/check_gateway_XXXXXX";
    gw_index_error err;
    gw_index *idx = NULL;
    size_t n;
    const char *v;
    FILE *f;
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    fputs("{\"neo\": \"The One. \xf0\x9f\x95\xb6\"}", f);
    fclose(f);
    ck_assert_int_eq(gw_index_load_file(path, &idx, &err), GW_INDEX_OK);
    v = gw_index_lookup(idx, "neo", 3, &n);
    ck_assert_ptr_nonnull(v);
    ck_assert_mem_eq(v, "The One. \xf0\x9f\x95\xb6", n);
    gw_index_free(idx);
    unlink(path);
    ck_assert_int_eq(gw_index_load_file(path, &idx, &err), GW_INDEX_E_IO);
    ck_assert_ptr_null(idx);
}
END_TEST

/* Many entries: every one is found, misses are not. */
START_TEST(test_index_many)
{
    gw_buf b;
    gw_index *idx = NULL;
    gw_index_error err;
    char key[32], val[32];
    size_t n;
    const char *v;
    int i;

    gw_buf_init(&b);
    gw_buf_append(&b, "{", 1);
    for (i = 0; i < 5000; i++) {
        int k = snprintf(key, sizeof key, "%s\"k%d\": \"v%d\"",
                         i == 0 ? "" : ", ", (i * 7919) % 5000, i);
        gw_buf_append(&b, key, (size_t)k);
    }
    gw_buf_append(&b, "}", 1);
    ck_assert_int_eq(gw_index_load_mem(gw_buf_peek(&b), gw_buf_pending(&b),
                                       &idx, &err), GW_INDEX_OK);
    for (i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", (i * 7919) % 5000);
        snprintf(val, sizeof val, "v%d", i);
        v = gw_index_lookup(idx, key, strlen(key), &n);
        ck_assert_ptr_nonnull(v);
        ck_assert_uint_eq(n, strlen(val));
        ck_assert_mem_eq(v, val, n);
    }
    ck_assert_ptr_null(gw_index_lookup(idx, "k5000", 5, &n));
    gw_index_free(idx);
    gw_buf_free(&b);
}
END_TEST

/* ------------------------------------------------------------ vectors */

typedef struct req_vec {
    const char *name;
    const char *ctype;
    const char *enc;
    const char *content;
    size_t clen;               /* 0: strlen(content) */
    gw_kind kind;
    gw_req_status st;          /* GW_KIND_BAD_REQUEST */
    const char *answer;        /* JSON or binary content expected */
} req_vec;

static const req_vec req_vecs[] = {
    { "search morpheus", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"morpheus\"}", 0,
      GW_KIND_SEARCH, GW_REQ_OK, "{\"result\": \"" RABBIT "\"}" },
    { "search ring", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"ring\"}", 0,
      GW_KIND_SEARCH, GW_REQ_OK, "{\"result\": \"" RING "\"}" },
    { "search dog", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"" DOG "\"}", 0,
      GW_KIND_SEARCH, GW_REQ_OK, "{\"result\": \"" BALL "\"}" },
    { "search miss", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"trinity\"}", 0,
      GW_KIND_SEARCH, GW_REQ_OK,
      "{\"result\": \"No match for 'trinity'.\"}" },
    { "search escaped miss", "text/json", "UTF-8",
      "{\"value\": \"a\\\"b\\u00e9\", \"action\": \"search\"}", 0,
      GW_KIND_SEARCH, GW_REQ_OK,
      "{\"result\": \"No match for 'a\\\"b\xc3\xa9'.\"}" },
    { "invalid action", "text/json", "utf-8",
      "{\"action\": \"find\", \"value\": \"x\"}", 0,
      GW_KIND_INVALID_ACTION, GW_REQ_OK,
      "{\"result\": \"Error: invalid action 'find'.\"}" },
    { "last key wins", "text/json", "utf-8",
      "{\"action\": 1, \"action\": \"search\", \"value\": \"ring\", "
      "\"extra\": [1, {\"a\": null}]}", 0,
      GW_KIND_SEARCH, GW_REQ_OK, "{\"result\": \"" RING "\"}" },
    { "binary tutorial", "binary/custom-client-binary-type", "binary",
      BIN10, 0, GW_KIND_BINARY, GW_REQ_OK,
      "First 10 bytes of request: " BIN10 },
    { "binary long", "image/png", "binary",
      "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghij", 0,
      GW_KIND_BINARY, GW_REQ_OK, "First 10 bytes of request: 0123456789" },
    { "binary short", "x", "y", "ab", 0, GW_KIND_BINARY, GW_REQ_OK,
      "First 10 bytes of request: ab" },
    { "binary empty", "application/octet-stream", "binary", "", 0,
      GW_KIND_BINARY, GW_REQ_OK, "First 10 bytes of request: " },
    { "json type differs in case", "Text/JSON", "utf-8", "{}", 0,
      GW_KIND_BINARY, GW_REQ_OK, "First 10 bytes of request: {}" },
    { "json empty", "text/json", "utf-8", "", 0, GW_KIND_BAD_REQUEST,
      GW_REQ_E_JSON, NULL },
    { "json syntax", "text/json", "utf-8", "{\"action\": ", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_JSON, NULL },
    { "json lone low surrogate", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"\\udc00\"}", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_JSON, NULL },
    { "json lone high surrogate", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"\\ud83dx\"}", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_JSON, NULL },
    { "json surrogate pair", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"\\ud83d\\udc36\"}", 0,
      GW_KIND_SEARCH, GW_REQ_OK, "{\"result\": \"" BALL "\"}" },
    { "json trailing", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"ring\"} x", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_JSON, NULL },
    { "json bad utf-8", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"\xc0\xaf\"}", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_JSON, NULL },
    { "json too deep", "text/json", "utf-8",
      "{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
      "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_JSON, NULL },
    { "json unfinished token after", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"ring\"}\"", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_JSON, NULL },
    { "json vertical tab", "text/json", "utf-8",
      "{\"action\": \"search\",\v\"value\": \"ring\"}", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_JSON, NULL },
    { "json form feed after", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"ring\"}\f", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_JSON, NULL },
    { "json whitespace after", "text/json", "utf-8",
      "\r\n{\"action\": \"search\", \"value\": \"ring\"}\t ", 0,
      GW_KIND_SEARCH, GW_REQ_OK, "{\"result\": \"" RING "\"}" },
    { "not object", "text/json", "utf-8", "[\"search\"]", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_NOT_OBJECT, NULL },
    { "not object string", "text/json", "utf-8", "\"search\"", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_NOT_OBJECT, NULL },
    { "action missing", "text/json", "utf-8", "{\"value\": \"ring\"}", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_ACTION, NULL },
    { "action number", "text/json", "utf-8",
      "{\"action\": 7, \"value\": \"ring\"}", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_ACTION, NULL },
    { "action object", "text/json", "utf-8",
      "{\"action\": {\"x\": \"search\"}, \"value\": \"ring\"}", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_ACTION, NULL },
    { "value missing", "text/json", "utf-8", "{\"action\": \"search\"}", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_VALUE, NULL },
    { "value null", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": null}", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_VALUE, NULL },
    { "encoding latin-1", "text/json", "latin-1",
      "{\"action\": \"search\", \"value\": \"ring\"}", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_ENCODING, NULL },
};

#define N_REQ_VECS ((int)(sizeof req_vecs / sizeof req_vecs[0]))

static size_t vec_request(const req_vec *v, unsigned char *out, size_t cap)
{
    size_t clen = v->clen != 0 ? v->clen : strlen(v->content);

    return mkframe(out, cap, "big", v->ctype, v->enc, v->content, clen);
}

static size_t vec_answer(const req_vec *v, unsigned char *out, size_t cap)
{
    if (v->kind == GW_KIND_BAD_REQUEST)
        return error_answer(out, cap, v->st);
    if (v->kind == GW_KIND_BINARY)
        return mkanswer(out, cap, BIN_TYPE, "binary", v->answer,
                        strlen(v->answer));
    return json_answer(out, cap, v->answer);
}

/* The handler alone, given a decoded header. */
START_TEST(test_handler_vectors)
{
    const req_vec *v = &req_vecs[_i];
    unsigned char req[4096], want[4096];
    size_t rlen = vec_request(v, req, sizeof req);
    size_t wlen = vec_answer(v, want, sizeof want);
    hf_decoder d;
    hf_frame fr;
    gw_buf out;
    gw_reply r;

    ck_assert_int_eq(hf_decoder_init(&d, NULL), HF_OK);
    ck_assert_int_eq(hf_decode(&d, req, rlen, &fr), HF_OK);
    gw_buf_init(&out);
    ck_assert_int_eq(gw_handle_request(builtin, fr.header, fr.content,
                                       fr.content_len, &out, &r), 0);
    ck_assert_int_eq(r.kind, v->kind);
    ck_assert_uint_eq(r.bytes_out, wlen);
    ck_assert_uint_eq(gw_buf_pending(&out), wlen);
    ck_assert_mem_eq(gw_buf_peek(&out), want, wlen);
    if (v->kind == GW_KIND_BAD_REQUEST)
        ck_assert_int_eq(r.req_status, v->st);
    gw_buf_free(&out);
    hf_decoder_free(&d);
}
END_TEST

/* The same vectors through the state machine, every chunk size. */
START_TEST(test_conn_vectors)
{
    const req_vec *v = &req_vecs[_i];
    unsigned char req[4096], want[4096], got[8192];
    size_t rlen = vec_request(v, req, sizeof req);
    size_t wlen = vec_answer(v, want, sizeof want);
    gw_conn_config cfg;
    gw_conn c;
    size_t chunk, n;

    config(&cfg);
    for (chunk = 0; chunk <= MAX_CHUNK; chunk++) {
        ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
        n = drive(&c, req, rlen, chunk, got, sizeof got);
        ck_assert_msg(n == wlen, "%s chunk %zu: %zu bytes, want %zu",
                      v->name, chunk, n, wlen);
        ck_assert_mem_eq(got, want, wlen);
        /* Content errors keep the connection open. */
        ck_assert_int_eq(gw_conn_state(&c), GW_CONN_OPEN);
        ck_assert(!gw_conn_in_request(&c));
        ck_assert(gw_conn_want_read(&c));
        gw_conn_free(&c);
    }
}
END_TEST

/* Every vector back to back on one connection, answers in order. */
START_TEST(test_conn_pipelined)
{
    static unsigned char req[BIG], want[BIG], got[BIG];
    size_t rlen = 0, wlen = 0, chunk, n;
    gw_conn_config cfg;
    gw_conn c;
    int i, round;

    config(&cfg);
    for (round = 0; round < 3; round++) {
        for (i = 0; i < N_REQ_VECS; i++) {
            rlen += vec_request(&req_vecs[i], req + rlen, sizeof req - rlen);
            wlen += vec_answer(&req_vecs[i], want + wlen, sizeof want - wlen);
        }
    }
    for (chunk = 0; chunk <= MAX_CHUNK + 40; chunk += chunk < 8 ? 1 : 13) {
        ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
        n = drive(&c, req, rlen, chunk, got, sizeof got);
        ck_assert_uint_eq(n, wlen);
        ck_assert_mem_eq(got, want, wlen);
        ck_assert_uint_eq(c.requests, (uint64_t)N_REQ_VECS * 3);
        gw_conn_free(&c);
    }
}
END_TEST

/* A client that does not read: input stops being consumed at the cap,
 * and resumes once output is taken. */
START_TEST(test_conn_backpressure)
{
    static unsigned char req[BIG], want[BIG], got[BIG];
    size_t one, rlen = 0, wlen = 0, off = 0, n = 0, olen, used;
    const unsigned char *o;
    gw_conn_config cfg;
    gw_conn c;
    int i, stalls = 0;

    config(&cfg);
    cfg.max_output = 300;
    for (i = 0; i < 40; i++) {
        rlen += vec_request(&req_vecs[0], req + rlen, sizeof req - rlen);
        wlen += vec_answer(&req_vecs[0], want + wlen, sizeof want - wlen);
    }
    one = wlen / 40;
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    while (off < rlen) {
        used = gw_conn_input(&c, req + off, rlen - off, 0);
        off += used;
        if (off < rlen) {
            stalls++;
            ck_assert(!gw_conn_want_read(&c));
            /* Soft cap: at most one answer beyond it. */
            ck_assert_uint_lt(gw_conn_pending(&c), cfg.max_output + one);
            ck_assert_uint_eq(gw_conn_input(&c, req + off, rlen - off, 0),
                              0);
        }
        /* Take part of the output only, as a slow reader would. */
        o = gw_conn_output(&c, &olen);
        if (olen > 100)
            olen = 100;
        memcpy(got + n, o, olen);
        n += olen;
        gw_conn_output_done(&c, olen, 0);
    }
    while ((o = gw_conn_output(&c, &olen)) != NULL) {
        memcpy(got + n, o, olen);
        n += olen;
        gw_conn_output_done(&c, olen, 0);
    }
    ck_assert_int_gt(stalls, 3);
    ck_assert_uint_eq(n, wlen);
    ck_assert_mem_eq(got, want, wlen);
    gw_conn_free(&c);
}
END_TEST

/* ------------------------------------------------------------ errors */

typedef struct bad_vec {
    const char *name;
    const char *bytes;
    size_t len;
    hf_status code;
    int raw;            /* bytes include the prefix; else add it */
} bad_vec;

/* Raw bytes, prefix included. */
#define BV(name, s, code) { name, s, sizeof s - 1, code, 1 }
/* A header JSON text; the test writes its prefix. */
#define HV(name, s, code) { name, s, sizeof s - 1, code, 0 }
#define REQUIRED "\"byteorder\": \"big\", \"content-type\": \"a\", " \
                 "\"content-encoding\": \"b\", \"content-length\": 0"

static const bad_vec bad_vecs[] = {
    BV("header too short", "\x00\x01{", HF_E_HEADER_TOO_SHORT),
    BV("json syntax", "\x00\x04{\"a\"", HF_E_JSON_SYNTAX),
    BV("not object", "\x00\x02[]", HF_E_NOT_OBJECT),
    BV("trailing",
       "\x00\x59{\"byteorder\": \"big\", \"content-type\": \"a\", "
       "\"content-encoding\": \"b\", \"content-length\": 0} x",
       HF_E_TRAILING_DATA),
    BV("missing key", "\x00\x02{}", HF_E_MISSING_KEY),
    BV("duplicate key",
       "\x00\x2a{\"byteorder\": \"big\", \"byteorder\": \"big\"}",
       HF_E_DUPLICATE_KEY),
    BV("bad byteorder",
       "\x00\x5a{\"byteorder\": \"middle\", \"content-type\": \"a\", "
       "\"content-encoding\": \"b\", \"content-length\": 0}",
       HF_E_BAD_BYTEORDER),
    BV("bad content length",
       "\x00\x58{\"byteorder\": \"big\", \"content-type\": \"a\", "
       "\"content-encoding\": \"b\", \"content-length\": -1}",
       HF_E_BAD_CONTENT_LENGTH),
    BV("content too long",
       "\x00\x5e{\"byteorder\": \"big\", \"content-type\": \"a\", "
       "\"content-encoding\": \"b\", \"content-length\": 99999999}",
       HF_E_CONTENT_TOO_LONG),
    BV("invalid utf-8", "\x00\x06{\"\xff\": 1}", HF_E_UTF8),
    BV("header too long", "\x01\x00{", HF_E_HEADER_TOO_LONG),
    HV("nested value", "{" REQUIRED ", \"x\": {}}", HF_E_NESTED_VALUE),
    HV("array value", "{" REQUIRED ", \"x\": [1]}", HF_E_NESTED_VALUE),
    HV("lone surrogate", "{" REQUIRED ", \"x\": \"\\ud800\"}",
       HF_E_LONE_SURROGATE),
    HV("too many extensions", "{" REQUIRED ", \"x\": 1, \"y\": 2, \"z\": 3}",
       HF_E_TOO_MANY_EXTENSIONS),
    HV("empty content type",
       "{\"byteorder\": \"big\", \"content-type\": \"\", "
       "\"content-encoding\": \"b\", \"content-length\": 0}",
       HF_E_BAD_CONTENT_TYPE),
    HV("content encoding not a string",
       "{\"byteorder\": \"big\", \"content-type\": \"a\", "
       "\"content-encoding\": 5, \"content-length\": 0}",
       HF_E_BAD_CONTENT_ENCODING),
    HV("content length fraction",
       "{\"byteorder\": \"big\", \"content-type\": \"a\", "
       "\"content-encoding\": \"b\", \"content-length\": 1.5}",
       HF_E_BAD_CONTENT_LENGTH),
};

#define N_BAD_VECS ((int)(sizeof bad_vecs / sizeof bad_vecs[0]))

/* Check that buf holds exactly one text/json frame whose content starts
 * with {"error": "NAME", "message": */
static void assert_error_frame(const unsigned char *buf, size_t len,
                               const char *name)
{
    char prefix[128];
    hf_decoder d;
    hf_frame fr;
    size_t plen;

    plen = (size_t)snprintf(prefix, sizeof prefix,
                            "{\"error\": \"%s\", \"message\": \"", name);
    ck_assert_int_eq(hf_decoder_init(&d, NULL), HF_OK);
    ck_assert_int_eq(hf_decode(&d, buf, len, &fr), HF_OK);
    ck_assert_uint_eq(fr.frame_len, len);
    ck_assert_str_eq(fr.header->content_type.ptr, "text/json");
    ck_assert_uint_ge(fr.content_len, plen);
    ck_assert_mem_eq(fr.content, prefix, plen);
    ck_assert_int_eq(fr.content[fr.content_len - 2], '"');
    ck_assert_int_eq(fr.content[fr.content_len - 1], '}');
    hf_decoder_free(&d);
}

/* A good request, then garbage: one answer, one error frame, linger,
 * drain, close. */
START_TEST(test_conn_frame_errors)
{
    const bad_vec *v = &bad_vecs[_i];
    unsigned char in[4096], want[4096], got[8192];
    size_t good = vec_request(&req_vecs[0], in, sizeof in);
    size_t wlen = vec_answer(&req_vecs[0], want, sizeof want);
    size_t chunk, n, blen;
    gw_conn_config cfg;
    gw_conn c;

    config(&cfg);
    cfg.limits.max_content = 1000;
    cfg.limits.max_header = 255;
    cfg.limits.max_extensions = 2;
    blen = v->len;
    if (v->raw) {
        memcpy(in + good, v->bytes, v->len);
    } else {
        in[good] = (unsigned char)(v->len >> 8);
        in[good + 1] = (unsigned char)v->len;
        memcpy(in + good + 2, v->bytes, v->len);
        blen += 2;
    }
    /* Bytes after the error are never looked at. */
    memcpy(in + good + blen, "junk", 4);
    for (chunk = 0; chunk <= MAX_CHUNK; chunk++) {
        ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
        n = drive(&c, in, good + blen + 4, chunk, got, sizeof got);
        ck_assert_msg(gw_conn_state(&c) == GW_CONN_LINGER,
                      "%s chunk %zu: state %d", v->name, chunk,
                      gw_conn_state(&c));
        ck_assert_int_eq(gw_conn_reason(&c), GW_CLOSE_FRAME_ERROR);
        ck_assert_uint_gt(n, wlen);
        ck_assert_mem_eq(got, want, wlen);
        assert_error_frame(got + wlen, n - wlen, hf_status_name(v->code));
        ck_assert(!gw_conn_want_read(&c));
        /* The loop shuts the write side and drains. */
        gw_conn_drain(&c, 100);
        ck_assert_int_eq(gw_conn_state(&c), GW_CONN_DRAINING);
        ck_assert(gw_conn_want_read(&c));
        ck_assert_uint_eq(gw_conn_input(&c, "more", 4, 101), 4);
        ck_assert_uint_eq(gw_conn_pending(&c), 0);
        ck_assert_int_eq(gw_conn_deadline(&c), 100 + cfg.drain_timeout);
        ck_assert_int_eq(gw_conn_tick(&c, 101), GW_CONN_DRAINING);
        ck_assert_int_eq(gw_conn_tick(&c, 100 + cfg.drain_timeout),
                         GW_CONN_CLOSED);
        gw_conn_free(&c);
    }
}
END_TEST

START_TEST(test_conn_drain_eof)
{
    gw_conn_config cfg;
    gw_conn c;
    size_t olen;

    config(&cfg);
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    gw_conn_input(&c, "\x00\x01{", 3, 0);
    ck_assert_int_eq(gw_conn_state(&c), GW_CONN_LINGER);
    gw_conn_output(&c, &olen);
    gw_conn_output_done(&c, olen, 0);
    gw_conn_drain(&c, 0);
    gw_conn_eof(&c, 1);
    ck_assert_int_eq(gw_conn_state(&c), GW_CONN_CLOSED);
    gw_conn_free(&c);
}
END_TEST

/* EOF in the middle of a frame: a "truncated" error frame, then close
 * once it is sent. EOF between frames: close once answers are sent. */
START_TEST(test_conn_eof)
{
    unsigned char req[4096], got[8192];
    size_t rlen = vec_request(&req_vecs[0], req, sizeof req);
    gw_conn_config cfg;
    gw_conn c;
    size_t n;

    config(&cfg);
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    n = drive(&c, req, rlen - 5, 7, got, sizeof got);
    ck_assert_uint_eq(n, 0);
    ck_assert(gw_conn_in_request(&c));
    gw_conn_eof(&c, 1);
    ck_assert_int_eq(gw_conn_state(&c), GW_CONN_CLOSING);
    ck_assert(gw_conn_want_write(&c));
    ck_assert(!gw_conn_want_read(&c));
    {
        size_t olen;
        const unsigned char *o = gw_conn_output(&c, &olen);

        assert_error_frame(o, olen, "truncated");
    }
    gw_conn_free(&c);

    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    ck_assert_uint_eq(gw_conn_input(&c, req, rlen, 0), rlen);
    gw_conn_eof(&c, 1);
    ck_assert_int_eq(gw_conn_state(&c), GW_CONN_CLOSING);
    ck_assert_int_eq(gw_conn_reason(&c), GW_CLOSE_PEER);
    ck_assert(gw_conn_want_write(&c));
    gw_conn_free(&c);
}
END_TEST

/* ------------------------------------------------------------ timeouts */

START_TEST(test_timeout_idle)
{
    gw_conn_config cfg;
    gw_conn c;

    config(&cfg);
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 1000), 0);
    ck_assert_int_eq(gw_conn_deadline(&c), 1000 + cfg.idle_timeout);
    ck_assert_int_eq(gw_conn_tick(&c, 1000 + cfg.idle_timeout - 1),
                     GW_CONN_OPEN);
    ck_assert_int_eq(gw_conn_tick(&c, 1000 + cfg.idle_timeout),
                     GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&c), GW_CLOSE_IDLE_TIMEOUT);
    gw_conn_free(&c);

    cfg.idle_timeout = 0;
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 1000), 0);
    ck_assert_int_eq(gw_conn_deadline(&c), GW_TIME_NEVER);
    ck_assert_int_eq(gw_conn_tick(&c, GW_TIME_NEVER - 1), GW_CONN_OPEN);
    gw_conn_free(&c);
}
END_TEST

/* A frame that started must finish in time (slowloris), however much
 * trickles in meanwhile. */
START_TEST(test_timeout_request)
{
    unsigned char req[4096];
    size_t rlen = vec_request(&req_vecs[0], req, sizeof req);
    gw_conn_config cfg;
    gw_conn c;
    size_t i;

    config(&cfg);
    cfg.request_timeout = 1000;
    cfg.idle_timeout = 50;
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    gw_conn_input(&c, req, 1, 10);
    ck_assert_int_eq(gw_conn_deadline(&c), 1010);
    for (i = 1; i < rlen - 1 && i < 50; i++) {
        gw_conn_input(&c, req + i, 1, 10 + (gw_time)i * 19);
        ck_assert_int_eq(gw_conn_tick(&c, 10 + (gw_time)i * 19),
                         GW_CONN_OPEN);
    }
    ck_assert_int_eq(gw_conn_tick(&c, 1009), GW_CONN_OPEN);
    ck_assert_int_eq(gw_conn_tick(&c, 1010), GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&c), GW_CLOSE_REQUEST_TIMEOUT);
    gw_conn_free(&c);
}
END_TEST

/* Answers nobody reads: the write clock runs from the last progress. */
START_TEST(test_timeout_write)
{
    unsigned char req[4096];
    size_t rlen = vec_request(&req_vecs[0], req, sizeof req);
    gw_conn_config cfg;
    gw_conn c;

    config(&cfg);
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    gw_conn_input(&c, req, rlen, 5);
    ck_assert(gw_conn_want_write(&c));
    ck_assert_int_eq(gw_conn_deadline(&c), 5 + cfg.write_timeout);
    gw_conn_output_done(&c, 3, 20);
    ck_assert_int_eq(gw_conn_deadline(&c), 20 + cfg.write_timeout);
    ck_assert_int_eq(gw_conn_tick(&c, 19 + cfg.write_timeout), GW_CONN_OPEN);
    ck_assert_int_eq(gw_conn_tick(&c, 20 + cfg.write_timeout),
                     GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&c), GW_CLOSE_WRITE_TIMEOUT);
    gw_conn_free(&c);

    /* Everything sent: the idle clock starts from then. */
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    gw_conn_input(&c, req, rlen, 5);
    gw_conn_output_done(&c, gw_conn_pending(&c), 7);
    ck_assert_int_eq(gw_conn_deadline(&c), 7 + cfg.idle_timeout);
    gw_conn_free(&c);
}
END_TEST

/* ------------------------------------------------------------ misc */

START_TEST(test_conn_shutdown)
{
    unsigned char req[4096], got[8192];
    size_t rlen = vec_request(&req_vecs[0], req, sizeof req);
    gw_conn_config cfg;
    gw_conn c;

    config(&cfg);
    /* Idle: closes at once. */
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    gw_conn_shutdown(&c, 0);
    ck_assert_int_eq(gw_conn_state(&c), GW_CONN_CLOSING);
    ck_assert_int_eq(gw_conn_reason(&c), GW_CLOSE_SHUTDOWN);
    gw_conn_free(&c);
    /* Mid-request: the request is finished and answered first. */
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    gw_conn_input(&c, req, 10, 0);
    gw_conn_shutdown(&c, 0);
    ck_assert_int_eq(gw_conn_state(&c), GW_CONN_OPEN);
    ck_assert_uint_eq(gw_conn_input(&c, req + 10, rlen - 10, 0), rlen - 10);
    ck_assert_int_eq(gw_conn_state(&c), GW_CONN_CLOSING);
    ck_assert(gw_conn_want_write(&c));
    ck_assert_uint_eq(drive(&c, req, 0, 0, got, sizeof got), 0);
    gw_conn_free(&c);
}
END_TEST

static int seen_requests;
static gw_kind seen_kind;

static void count_request(void *user, const gw_request_info *info)
{
    ck_assert_ptr_eq(user, &seen_requests);
    seen_requests++;
    seen_kind = info->reply->kind;
    ck_assert_uint_gt(info->bytes_in, 0);
}

/* Swapping the index between inputs changes answers (SIGHUP reload). */
START_TEST(test_conn_reload)
{
    unsigned char req[4096], want[4096], got[8192];
    size_t rlen = vec_request(&req_vecs[0], req, sizeof req);
    gw_conn_config cfg;
    gw_index *other = NULL;
    gw_index_error err;
    const char *ans = "{\"result\": \"Wake up, Neo.\"}";
    gw_conn c;
    size_t n, wlen;

    config(&cfg);
    cfg.on_request = count_request;
    seen_requests = 0;
    ck_assert_int_eq(gw_index_load_mem("{\"morpheus\": \"Wake up, Neo.\"}",
                                       29, &other, &err), GW_INDEX_OK);
    ck_assert_int_eq(gw_conn_init(&c, &cfg, &seen_requests, 0), 0);
    n = drive(&c, req, rlen, 0, got, sizeof got);
    wlen = vec_answer(&req_vecs[0], want, sizeof want);
    ck_assert_uint_eq(n, wlen);
    cfg.index = other;
    n = drive(&c, req, rlen, 3, got, sizeof got);
    wlen = json_answer(want, sizeof want, ans);
    ck_assert_uint_eq(n, wlen);
    ck_assert_mem_eq(got, want, wlen);
    ck_assert_int_eq(seen_requests, 2);
    ck_assert_int_eq(seen_kind, GW_KIND_SEARCH);
    gw_conn_free(&c);
    gw_index_free(other);
}
END_TEST

/* Large content split over many inputs: copied, answered once. */
START_TEST(test_conn_large_content)
{
    static unsigned char req[BIG], want[4096], got[8192];
    static char content[40000];
    gw_conn_config cfg;
    gw_conn c;
    size_t rlen, wlen, n, chunk;
    char *val;

    config(&cfg);
    memcpy(content, "{\"action\": \"search\", \"value\": \"", 31);
    val = content + 31;
    memset(val, 'x', 3000);
    memcpy(val + 3000, "\"}", 3);
    rlen = mkframe(req, sizeof req, "little", "text/json", "utf-8", content,
                   strlen(content));
    {
        static char ans[4000];

        snprintf(ans, sizeof ans, "{\"result\": \"No match for '%.3000s'.\"}",
                 val);
        wlen = json_answer(want, sizeof want, ans);
    }
    for (chunk = 1; chunk < 2000; chunk = chunk * 3 + 1) {
        ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
        n = drive(&c, req, rlen, chunk, got, sizeof got);
        ck_assert_uint_eq(n, wlen);
        ck_assert_mem_eq(got, want, wlen);
        gw_conn_free(&c);
    }
    /* Binary: only the first bytes are kept. */
    memset(content, 'b', sizeof content);
    rlen = mkframe(req, sizeof req, "little", "a/b", "binary", content,
                   sizeof content);
    wlen = mkanswer(want, sizeof want, BIN_TYPE, "binary",
                    "First 10 bytes of request: bbbbbbbbbb", 37);
    for (chunk = 1; chunk < 40000; chunk = chunk * 5 + 3) {
        ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
        n = drive(&c, req, rlen, chunk, got, sizeof got);
        ck_assert_uint_eq(n, wlen);
        ck_assert_mem_eq(got, want, wlen);
        ck_assert_uint_le(c.body.cap, GW_BUF_MIN_ALLOC);
        gw_conn_free(&c);
    }
}
END_TEST

#define RING_REQ "{\"action\": \"search\", \"value\": \"ring\"}"

/* JSON content above max_json: refused at its header, skipped without
 * being stored, and the connection goes on serving. */
START_TEST(test_conn_json_too_long)
{
    static unsigned char req[BIG], want[4096], got[8192];
    static char content[5000];
    gw_conn_config cfg;
    gw_conn c;
    size_t rlen, wlen, n, chunk;

    config(&cfg);
    cfg.max_json = 1000;
    memset(content, ' ', sizeof content);
    memcpy(content, RING_REQ, sizeof RING_REQ - 1);
    rlen = mkframe(req, sizeof req, "little", "text/json", "utf-8", content,
                   sizeof content);
    rlen += vec_request(&req_vecs[0], req + rlen, sizeof req - rlen);
    wlen = error_answer(want, sizeof want, GW_REQ_E_TOO_LONG);
    wlen += vec_answer(&req_vecs[0], want + wlen, sizeof want - wlen);
    for (chunk = 0; chunk < 6000; chunk = chunk * 4 + 1) {
        ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
        n = drive(&c, req, rlen, chunk, got, sizeof got);
        ck_assert_uint_eq(n, wlen);
        ck_assert_mem_eq(got, want, wlen);
        ck_assert_uint_le(c.body.cap, GW_BUF_MIN_ALLOC);
        ck_assert_int_eq(gw_conn_state(&c), GW_CONN_OPEN);
        gw_conn_free(&c);
    }
    /* At the limit it is parsed as usual. */
    cfg.max_json = sizeof content;
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    n = drive(&c, req, rlen, 7, got, sizeof got);
    wlen = json_answer(want, sizeof want, "{\"result\": \"" RING "\"}");
    ck_assert_uint_ge(n, wlen);
    ck_assert_mem_eq(got, want, wlen);
    gw_conn_free(&c);
    /* The request timeout still covers the content being skipped. */
    cfg.max_json = 1000;
    cfg.request_timeout = 100;
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    gw_conn_input(&c, req, 300, 5);
    gw_conn_output(&c, &n);
    ck_assert_uint_gt(n, 0);
    gw_conn_output_done(&c, n, 5);
    ck_assert(gw_conn_in_request(&c));
    ck_assert_int_eq(gw_conn_tick(&c, 104), GW_CONN_OPEN);
    ck_assert_int_eq(gw_conn_tick(&c, 105), GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&c), GW_CLOSE_REQUEST_TIMEOUT);
    gw_conn_free(&c);
}
END_TEST

START_TEST(test_names)
{
    int i;

    for (i = 0; i < GW_REQ_STATUS_COUNT; i++)
        ck_assert_str_ne(gw_req_status_name((gw_req_status)i), "unknown");
    ck_assert_str_eq(gw_req_status_name(GW_REQ_STATUS_COUNT), "unknown");
    for (i = 0; i < GW_CLOSE_REASON_COUNT; i++)
        ck_assert_str_ne(gw_close_reason_name((gw_close_reason)i),
                         "unknown");
    ck_assert_str_eq(gw_index_strerror(GW_INDEX_E_DUPLICATE),
                     "duplicate-key");
}
END_TEST

START_TEST(test_buf)
{
    gw_buf b;
    int i;

    gw_buf_init(&b);
    ck_assert_ptr_null(gw_buf_peek(&b));
    for (i = 0; i < 1000; i++) {
        ck_assert_int_eq(gw_buf_append(&b, "abcdefgh", 8), 0);
        gw_buf_consume(&b, 5);
    }
    ck_assert_uint_eq(gw_buf_pending(&b), 3000);
    ck_assert_mem_eq(gw_buf_peek(&b), "abcdefgh", 8);
    ck_assert_uint_le(b.cap, 8192);
    gw_buf_consume(&b, 3000);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_uint_eq(b.len, 0);
    gw_buf_free(&b);
}
END_TEST

/* ------------------------------------------------------------ relay */

/* One connection in relay mode, with everything it sent to the client
 * and to the upstream gathered. */
typedef struct relay_t {
    gw_conn c;
    gw_conn_config cfg;
    unsigned char cout[BIG * 2];
    size_t clen;
    unsigned char *uout;        /* RELAY_UOUT bytes */
    size_t ulen;
} relay_t;

#define RELAY_UOUT ((size_t)4 << 20)

static relay_t *relay_new(unsigned attempts)
{
    relay_t *r = calloc(1, sizeof *r);

    ck_assert_ptr_nonnull(r);
    r->uout = malloc(RELAY_UOUT);
    ck_assert_ptr_nonnull(r->uout);
    config(&r->cfg);
    r->cfg.index = NULL;
    r->cfg.relay = 1;
    r->cfg.relay_attempts = attempts;
    r->cfg.upstream_timeout = 5;
    ck_assert_int_eq(gw_conn_init(&r->c, &r->cfg, NULL, 0), 0);
    return r;
}

static void relay_free(relay_t *r)
{
    gw_conn_free(&r->c);
    free(r->uout);
    free(r);
}

/* Send everything either side may send now. */
static void relay_pump(relay_t *r, gw_time now)
{
    size_t n;
    const unsigned char *p;

    p = gw_conn_output(&r->c, &n);
    if (n > 0) {
        ck_assert_uint_le(r->clen + n, sizeof r->cout);
        memcpy(r->cout + r->clen, p, n);
        r->clen += n;
        gw_conn_output_done(&r->c, n, now);
    }
    /* The upstream side may come in two pieces (a PROXY header first). */
    while ((p = gw_conn_upstream_output(&r->c, &n)) != NULL) {
        ck_assert(gw_conn_upstream_want_write(&r->c));
        ck_assert_uint_le(r->ulen + n, RELAY_UOUT);
        memcpy(r->uout + r->ulen, p, n);
        r->ulen += n;
        gw_conn_upstream_done(&r->c, n, now);
    }
}

/* Offer bytes to one side (the client's input, or the upstream's with
 * upstream set) in chunks (0: whole), sending all output after each
 * call, until the connection takes no more; returns how many it took. */
static size_t relay_offer(relay_t *r, int upstream, const void *data,
                          size_t len, size_t chunk, gw_time now)
{
    const unsigned char *p = data;
    size_t off = 0, n, k;

    if (chunk == 0)
        chunk = len;
    while (off < len) {
        n = len - off < chunk ? len - off : chunk;
        k = upstream ? gw_conn_upstream_input(&r->c, p + off, n, now)
                     : gw_conn_input(&r->c, p + off, n, now);
        off += k;
        relay_pump(r, now);
        if (k == 0)
            break;
    }
    return off;
}

static size_t relay_client(relay_t *r, const void *data, size_t len,
                           size_t chunk, gw_time now)
{
    return relay_offer(r, 0, data, len, chunk, now);
}

static size_t relay_upstream(relay_t *r, const void *data, size_t len,
                             size_t chunk, gw_time now)
{
    return relay_offer(r, 1, data, len, chunk, now);
}

/* Answer a connect request with success. */
static void relay_connect(relay_t *r, gw_time now)
{
    ck_assert(gw_conn_want_connect(&r->c));
    gw_conn_upstream_connecting(&r->c, now);
    ck_assert_int_eq(gw_conn_upstream_state(&r->c), GW_UP_CONNECTING);
    ck_assert(!gw_conn_want_connect(&r->c));
    gw_conn_upstream_connected(&r->c, now);
    ck_assert_int_eq(gw_conn_upstream_state(&r->c), GW_UP_READY);
    relay_pump(r, now);
}

static size_t search_request(unsigned char *out, size_t cap, const char *v)
{
    char c[256];

    snprintf(c, sizeof c, "{\"action\": \"search\", \"value\": \"%s\"}", v);
    return mkframe(out, cap, "big", "text/json", "utf-8", c, strlen(c));
}

/* Whatever the chunk sizes on either side: the request reaches the
 * upstream byte for byte, the answer the client byte for byte, and the
 * upstream connection is kept. */
START_TEST(test_relay_roundtrip)
{
    unsigned char req[512], ans[512];
    size_t rlen = search_request(req, sizeof req, "morpheus");
    size_t alen = mkframe(ans, sizeof ans, "little", "x/any", "binary",
                          "\x00\x01\x02", 3);
    relay_t *r = relay_new(1);

    ck_assert(!gw_conn_want_connect(&r->c));
    ck_assert_uint_eq(relay_client(r, req, rlen, (size_t)_i, 1), rlen);
    relay_connect(r, 2);
    ck_assert_uint_eq(r->ulen, rlen);
    ck_assert_mem_eq(r->uout, req, rlen);
    ck_assert_uint_eq(r->clen, 0);
    ck_assert(gw_conn_in_request(&r->c));
    ck_assert(!gw_conn_want_read(&r->c));  /* waiting for the answer */
    ck_assert_uint_eq(relay_upstream(r, ans, alen, (size_t)_i, 3), alen);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_mem_eq(r->cout, ans, alen);
    ck_assert_int_eq(gw_conn_state(&r->c), GW_CONN_OPEN);
    ck_assert(gw_conn_want_read(&r->c));
    ck_assert(!gw_conn_in_request(&r->c));
    ck_assert_int_eq(gw_conn_upstream_state(&r->c), GW_UP_READY);
    ck_assert(!gw_conn_want_connect(&r->c));
    ck_assert_uint_eq(r->c.requests, 1);
    relay_free(r);
}
END_TEST

/* Pipelined requests go upstream one at a time. */
START_TEST(test_relay_one_at_a_time)
{
    unsigned char req[1024], ans[512];
    size_t r1 = search_request(req, sizeof req, "ring");
    size_t r2 = search_request(req + r1, sizeof req - r1, DOG);
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"x\"}");
    size_t took;
    relay_t *r = relay_new(1);

    took = relay_client(r, req, r1 + r2, 0, 1);
    ck_assert_uint_eq(took, r1);
    relay_connect(r, 1);
    ck_assert_uint_eq(r->ulen, r1);
    relay_upstream(r, ans, alen, 0, 2);
    ck_assert_uint_eq(relay_client(r, req + took, r1 + r2 - took, 0, 3), r2);
    ck_assert(!gw_conn_want_connect(&r->c));   /* kept connection */
    ck_assert_uint_eq(r->ulen, r1 + r2);
    ck_assert_mem_eq(r->uout, req, r1 + r2);
    relay_upstream(r, ans, alen, 0, 4);
    ck_assert_uint_eq(r->clen, 2 * alen);
    ck_assert_mem_eq(r->cout + alen, ans, alen);
    relay_free(r);
}
END_TEST

/* Read a single error frame from the client's output. */
static void relay_expect_error(relay_t *r, gw_req_status st)
{
    assert_error_frame(r->cout, r->clen, gw_req_status_name(st));
    r->clen = 0;
}

/* A failed connect is tried again, up to relay_attempts connections;
 * then upstream-unavailable, and the client connection goes on. */
START_TEST(test_relay_unavailable)
{
    unsigned char req[512], ans[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"y\"}");
    relay_t *r = relay_new(2);

    relay_client(r, req, rlen, 0, 1);
    gw_conn_upstream_connecting(&r->c, 1);
    gw_conn_upstream_error(&r->c, 2);
    ck_assert_int_eq(gw_conn_upstream_state(&r->c), GW_UP_NONE);
    ck_assert(gw_conn_want_connect(&r->c));     /* the next upstream */
    gw_conn_upstream_connecting(&r->c, 3);
    gw_conn_upstream_error(&r->c, 4);
    ck_assert(!gw_conn_want_connect(&r->c));
    relay_pump(r, 4);
    relay_expect_error(r, GW_REQ_E_UP_UNAVAILABLE);
    ck_assert_uint_eq(r->ulen, 0);
    ck_assert_int_eq(gw_conn_state(&r->c), GW_CONN_OPEN);
    ck_assert(gw_conn_want_read(&r->c));
    /* The next request tries again. */
    ck_assert_uint_eq(relay_client(r, req, rlen, 0, 5), rlen);
    relay_connect(r, 6);
    ck_assert_uint_eq(r->ulen, rlen);
    relay_upstream(r, ans, alen, 0, 7);
    ck_assert_uint_eq(r->clen, alen);
    relay_free(r);
}
END_TEST

/* An answer that is not a valid frame never reaches the client. */
START_TEST(test_relay_bad_frame)
{
    static const unsigned char bad[] = "\x00\x05{\"a\":}xxxxxxxxxx";
    unsigned char req[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    relay_t *r = relay_new(3);

    relay_client(r, req, rlen, 0, 1);
    relay_connect(r, 1);
    ck_assert_uint_eq(relay_upstream(r, bad, sizeof bad - 1, 3, 2),
                      sizeof bad - 1);
    relay_expect_error(r, GW_REQ_E_UP_BAD_FRAME);
    ck_assert_int_eq(gw_conn_upstream_state(&r->c), GW_UP_NONE);
    ck_assert(!gw_conn_want_connect(&r->c));    /* not tried again */
    ck_assert_int_eq(gw_conn_state(&r->c), GW_CONN_OPEN);
    ck_assert(gw_conn_want_read(&r->c));
    relay_free(r);
}
END_TEST

/* No progress within upstream_timeout: upstream-timeout. */
START_TEST(test_relay_timeout)
{
    unsigned char req[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    relay_t *r = relay_new(3);

    relay_client(r, req, rlen, 0, 10);
    relay_connect(r, 11);
    ck_assert_int_eq(gw_conn_deadline(&r->c), 11 + r->cfg.upstream_timeout);
    ck_assert_int_eq(gw_conn_tick(&r->c, 15), GW_CONN_OPEN);
    ck_assert_uint_eq(r->clen, 0);
    ck_assert_int_eq(gw_conn_tick(&r->c, 16), GW_CONN_OPEN);
    relay_pump(r, 16);
    relay_expect_error(r, GW_REQ_E_UP_TIMEOUT);
    ck_assert_int_eq(gw_conn_upstream_state(&r->c), GW_UP_NONE);
    /* Idle again: the idle timeout applies, not the upstream's. */
    ck_assert_int_eq(gw_conn_deadline(&r->c), 16 + r->cfg.idle_timeout);
    relay_free(r);
}
END_TEST

/* A kept connection the upstream closed before answering: the request,
 * whole in memory, goes again on a new connection. */
START_TEST(test_relay_replay)
{
    unsigned char req[512], ans[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"z\"}");
    relay_t *r = relay_new(2);

    relay_client(r, req, rlen, 0, 1);
    relay_connect(r, 1);
    relay_upstream(r, ans, alen, 0, 2);
    r->ulen = 0;
    r->clen = 0;
    relay_client(r, req, rlen, 0, 3);
    ck_assert_uint_eq(r->ulen, rlen);
    gw_conn_upstream_eof(&r->c, 4);
    ck_assert(gw_conn_want_connect(&r->c));
    relay_connect(r, 5);
    ck_assert_uint_eq(r->ulen, 2 * rlen);
    ck_assert_mem_eq(r->uout + rlen, req, rlen);
    relay_upstream(r, ans, alen, 0, 6);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_mem_eq(r->cout, ans, alen);
    /* Attempts are counted per request: fails once more, then gives up. */
    r->clen = 0;
    relay_client(r, req, rlen, 0, 7);
    gw_conn_upstream_eof(&r->c, 8);
    relay_connect(r, 9);
    gw_conn_upstream_error(&r->c, 10);
    relay_pump(r, 10);
    relay_expect_error(r, GW_REQ_E_UP_FAILED);
    relay_free(r);
}
END_TEST

/* The upstream breaks in the middle of an answer already partly passed
 * on: no frame boundary is left for an error frame, so the client
 * connection closes. */
START_TEST(test_relay_half_answer)
{
    unsigned char req[512], ans[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"zzzz\"}");
    relay_t *r = relay_new(3);

    relay_client(r, req, rlen, 0, 1);
    relay_connect(r, 1);
    relay_upstream(r, ans, alen - 3, 0, 2);
    ck_assert_uint_eq(r->clen, alen - 3);
    ck_assert_mem_eq(r->cout, ans, alen - 3);
    gw_conn_upstream_eof(&r->c, 3);
    ck_assert_int_eq(gw_conn_state(&r->c), GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&r->c), GW_CLOSE_UPSTREAM);
    relay_free(r);
}
END_TEST

/* Bytes the upstream sends unasked (between requests, or after an
 * answer) end that upstream connection, not the client's. */
START_TEST(test_relay_stray_bytes)
{
    unsigned char req[512], ans[1024];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"z\"}");
    relay_t *r = relay_new(1);

    /* Two answers in one read: the first is passed on, then the upstream
     * is dropped. */
    memcpy(ans + alen, ans, alen);
    relay_client(r, req, rlen, 0, 1);
    relay_connect(r, 1);
    relay_upstream(r, ans, 2 * alen, 0, 2);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_int_eq(gw_conn_upstream_state(&r->c), GW_UP_NONE);
    /* Between requests. */
    r->clen = 0;
    relay_client(r, req, rlen, 0, 3);
    relay_connect(r, 3);
    relay_upstream(r, ans, alen, 0, 4);
    ck_assert_uint_eq(gw_conn_upstream_input(&r->c, "x", 1, 5), 1);
    ck_assert_int_eq(gw_conn_upstream_state(&r->c), GW_UP_NONE);
    ck_assert_int_eq(gw_conn_state(&r->c), GW_CONN_OPEN);
    ck_assert_uint_eq(r->clen, alen);
    relay_free(r);
}
END_TEST

/* An invalid client frame is answered by the relay itself and never
 * forwarded, even in part. */
START_TEST(test_relay_client_error)
{
    static const unsigned char bad[] = "\x00\x04{}{}";
    relay_t *r = relay_new(1);

    relay_client(r, bad, sizeof bad - 1, (size_t)_i, 1);
    ck_assert_int_eq(gw_conn_state(&r->c), GW_CONN_LINGER);
    ck_assert_uint_eq(r->ulen, 0);
    ck_assert(!gw_conn_want_connect(&r->c));
    ck_assert_uint_gt(r->clen, 0);
    relay_free(r);
}
END_TEST

/* The client closes its side after a request: the answer still comes,
 * then the connection closes. A client that stops in the middle of a
 * request gets a truncated error and the upstream connection is
 * dropped. */
START_TEST(test_relay_client_eof)
{
    unsigned char req[512], ans[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"z\"}");
    relay_t *r = relay_new(1);

    relay_client(r, req, rlen, 0, 1);
    relay_connect(r, 1);
    gw_conn_eof(&r->c, 2);
    ck_assert_int_eq(gw_conn_state(&r->c), GW_CONN_OPEN);
    ck_assert(!gw_conn_want_read(&r->c));
    relay_upstream(r, ans, alen, 0, 3);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_int_eq(gw_conn_state(&r->c), GW_CONN_CLOSING);
    ck_assert_int_eq(gw_conn_reason(&r->c), GW_CLOSE_PEER);
    relay_free(r);

    r = relay_new(1);
    relay_client(r, req, rlen - 5, 0, 1);
    relay_connect(r, 1);
    ck_assert_uint_eq(r->ulen, rlen - 5);
    gw_conn_eof(&r->c, 2);
    ck_assert_int_eq(gw_conn_upstream_state(&r->c), GW_UP_NONE);
    relay_pump(r, 2);
    assert_error_frame(r->cout, r->clen, hf_status_name(HF_E_TRUNCATED));
    ck_assert_int_eq(gw_conn_state(&r->c), GW_CONN_CLOSING);
    relay_free(r);
}
END_TEST

/* Content streams through: a 1 MiB request never has more than the
 * output cap waiting for the upstream, and arrives whole. */
START_TEST(test_relay_large)
{
    const size_t clen = (size_t)1 << 20;
    unsigned char *req = malloc(clen + 512);
    unsigned char *content = malloc(clen);
    unsigned char ans[512];
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"big\"}");
    size_t rlen, off = 0, n, k;
    relay_t *r = relay_new(1);

    ck_assert_ptr_nonnull(req);
    ck_assert_ptr_nonnull(content);
    memset(content, 'q', clen);
    rlen = mkframe(req, clen + 512, "little", "x/bytes", "binary", content,
                   clen);
    r->cfg.max_output = 65536;
    relay_client(r, req, 200, 0, 1);
    relay_connect(r, 1);
    while (off < rlen - 200) {
        n = rlen - 200 - off < 20000 ? rlen - 200 - off : 20000;
        k = gw_conn_input(&r->c, req + 200 + off, n, 2);
        off += k;
        ck_assert_uint_le(r->c.up_out.len - r->c.up_out.off,
                          r->cfg.max_output + 20000);
        relay_pump(r, 2);
    }
    ck_assert_uint_eq(r->ulen, rlen);
    ck_assert_mem_eq(r->uout, req, rlen);
    relay_upstream(r, ans, alen, 0, 3);
    ck_assert_uint_eq(r->clen, alen);
    free(content);
    free(req);
    relay_free(r);
}
END_TEST

/* An answer that comes before the request is fully sent (an upstream
 * refusing at the header) is passed on; the rest of the request still
 * goes, and the next request waits for it. */
START_TEST(test_relay_early_answer)
{
    static const char filler[1500] = { 0 };
    unsigned char req[4096], ans[512];
    size_t rlen = mkframe(req, sizeof req, "big", "text/json", "utf-8",
                          filler, sizeof filler);
    size_t alen = error_answer(ans, sizeof ans, GW_REQ_E_TOO_LONG);
    relay_t *r = relay_new(1);

    relay_client(r, req, 200, 0, 1);
    relay_connect(r, 1);
    relay_upstream(r, ans, alen, 0, 2);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert(gw_conn_want_read(&r->c));
    ck_assert_uint_eq(relay_client(r, req + 200, rlen - 200, 0, 3),
                      rlen - 200);
    ck_assert_uint_eq(r->ulen, rlen);
    ck_assert(!gw_conn_in_request(&r->c));
    relay_free(r);
}
END_TEST

/* A frame whose last bytes fill an output to its cap still ends: the
 * next request is read, in both directions. */
START_TEST(test_relay_cap_boundary)
{
    unsigned char req[4096], ans[4096], big[2000];
    size_t rlen, alen, off;
    int spins = 0;
    relay_t *r = relay_new(1);

    memset(big, 'b', sizeof big);
    rlen = mkframe(req, sizeof req, "big", "x/y", "binary", big,
                   (size_t)_i * 7);
    alen = mkframe(ans, sizeof ans, "big", "x/y", "binary", big,
                   (size_t)_i * 11);
    r->cfg.max_output = 64;
    off = relay_client(r, req, rlen, 0, 1);
    relay_connect(r, 1);
    while (off < rlen) {
        off += relay_client(r, req + off, rlen - off, 0, 1);
        ck_assert_int_lt(++spins, 10000);
    }
    relay_pump(r, 1);
    ck_assert_uint_eq(r->ulen, rlen);
    ck_assert_mem_eq(r->uout, req, rlen);
    ck_assert(!gw_conn_want_read(&r->c));
    ck_assert_uint_eq(relay_upstream(r, ans, alen, 0, 2), alen);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_mem_eq(r->cout, ans, alen);
    ck_assert(!gw_conn_in_request(&r->c));
    ck_assert(gw_conn_want_read(&r->c));
    relay_free(r);
}
END_TEST

/* A client that does not read holds the answer back: that is not the
 * upstream's fault, so the upstream timeout waits, and starts again once
 * the client reads. */
START_TEST(test_relay_slow_reader)
{
    unsigned char req[512], ans[4096], big[2000];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen, took, n;
    relay_t *r = relay_new(1);
    gw_time t = r->cfg.upstream_timeout;

    memset(big, 'a', sizeof big);
    alen = mkframe(ans, sizeof ans, "big", "x/y", "binary", big, sizeof big);
    r->cfg.max_output = 256;
    relay_client(r, req, rlen, 0, 1);
    relay_connect(r, 1);
    took = gw_conn_upstream_input(&r->c, ans, 300, 2);
    ck_assert_uint_eq(took, 300);
    ck_assert(!gw_conn_upstream_want_read(&r->c));
    /* Well past the upstream timeout, not yet the write timeout. */
    ck_assert_int_lt(4 * t, r->cfg.write_timeout);
    ck_assert_int_eq(gw_conn_tick(&r->c, 2 + 4 * t), GW_CONN_OPEN);
    ck_assert_int_eq(gw_conn_upstream_state(&r->c), GW_UP_READY);
    /* The client reads: the upstream has a full timeout again. */
    gw_conn_output(&r->c, &n);
    gw_conn_output_done(&r->c, n, 3 + 4 * t);
    ck_assert_int_eq(gw_conn_deadline(&r->c), 3 + 5 * t);
    took += relay_upstream(r, ans + took, alen - took, 0, 4 + 4 * t);
    ck_assert_uint_eq(took, alen);
    ck_assert_uint_eq(r->clen + n, alen);
    ck_assert(!gw_conn_in_request(&r->c));
    relay_free(r);
}
END_TEST

/* --upstream-proxy-protocol: each upstream connection starts with a
 * PROXY v2 header naming the client, sent again on a new connection. */
START_TEST(test_relay_upstream_proxy)
{
    unsigned char req[512], ans[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"z\"}");
    gw_proxy_info a, got;
    relay_t *r = relay_new(2);
    int k;

    r->cfg.upstream_proxy = 1;
    memset(&a, 0, sizeof a);
    a.family = AF_INET6;
    ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::7", a.src_addr), 1);
    ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", a.dst_addr), 1);
    a.src_port = 40000;
    a.dst_port = 65432;
    gw_conn_set_addresses(&r->c, &a);
    for (k = 0; k < 2; k++) {
        r->ulen = 0;
        r->clen = 0;
        relay_client(r, req, rlen, 0, 1);
        relay_connect(r, 1);
        ck_assert_int_eq(gw_proxy_parse(r->uout, r->ulen, &got), GW_PROXY_OK);
        ck_assert_int_eq(got.family, AF_INET6);
        ck_assert_mem_eq(got.src_addr, a.src_addr, 16);
        ck_assert_uint_eq(got.src_port, 40000);
        ck_assert_uint_eq(got.dst_port, 65432);
        ck_assert_uint_eq(r->ulen, got.len + rlen);
        ck_assert_mem_eq(r->uout + got.len, req, rlen);
        relay_upstream(r, ans, alen, 0, 2);
        ck_assert_uint_eq(r->clen, alen);
        /* The upstream closes after its answer: a new connection, a new
         * header. */
        gw_conn_upstream_eof(&r->c, 3);
    }
    relay_free(r);
}
END_TEST

/* A server shutdown lets the request in flight finish. */
START_TEST(test_relay_shutdown)
{
    unsigned char req[512], ans[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"z\"}");
    relay_t *r = relay_new(1);

    relay_client(r, req, rlen, 0, 1);
    relay_connect(r, 1);
    gw_conn_shutdown(&r->c, 2);
    ck_assert_int_eq(gw_conn_state(&r->c), GW_CONN_OPEN);
    relay_upstream(r, ans, alen, 0, 3);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_int_eq(gw_conn_state(&r->c), GW_CONN_CLOSING);
    ck_assert_int_eq(gw_conn_reason(&r->c), GW_CLOSE_SHUTDOWN);
    relay_free(r);
}
END_TEST

/* ------------------------------------------------------------ PROXY */

#define V2SIG "\r\n\r\n\0\r\nQUIT\n"

typedef struct proxy_vec {
    const char *name;
    const char *bytes;
    size_t len;                 /* 0: strlen(bytes) */
    gw_proxy_status want;
    int family;
    const char *src;            /* textual, for OK with an address */
    unsigned sport;
    size_t hlen;                /* header length for OK */
} proxy_vec;

#define V(name, s, want) { name, s, sizeof s - 1, want, 0, NULL, 0, 0 }

static const proxy_vec proxy_vecs[] = {
    { "v1 tcp4", "PROXY TCP4 203.0.113.7 192.0.2.1 51234 65432\r\nrest", 0,
      GW_PROXY_OK, AF_INET, "203.0.113.7", 51234, 46 },
    { "v1 tcp6", "PROXY TCP6 2001:db8::9 ::1 0 65535\r\n", 0, GW_PROXY_OK,
      AF_INET6, "2001:db8::9", 0, 36 },
    { "v1 unknown", "PROXY UNKNOWN\r\n", 0, GW_PROXY_OK, AF_UNSPEC, NULL, 0,
      15 },
    { "v1 unknown+", "PROXY UNKNOWN ffff::1 ::1 1 2\r\n", 0, GW_PROXY_OK,
      AF_UNSPEC, NULL, 0, 31 },
    { "v2 tcp4", V2SIG "\x21\x11\x00\x0c\xcb\x00\x71\x07\xc0\x00\x02\x01"
      "\x0f\xa0\xff\x98", 28, GW_PROXY_OK, AF_INET, "203.0.113.7", 4000,
      28 },
    { "v2 local", V2SIG "\x20\x00\x00\x00", 16, GW_PROXY_OK, AF_UNSPEC,
      NULL, 0, 16 },
    { "v2 tlv", V2SIG "\x21\x11\x00\x11\xcb\x00\x71\x07\xc0\x00\x02\x01"
      "\x0f\xa0\xff\x98\x04\x00\x02xy", 33, GW_PROXY_OK, AF_INET,
      "203.0.113.7", 4000, 33 },
    { "v2 unspec", V2SIG "\x21\x00\x00\x03\x01\x00\x00", 19, GW_PROXY_OK,
      AF_UNSPEC, NULL, 0, 19 },
    V("empty", "", GW_PROXY_NEED_MORE),
    V("v1 prefix", "PROX", GW_PROXY_NEED_MORE),
    V("v1 no crlf", "PROXY TCP4 1.2.3.4", GW_PROXY_NEED_MORE),
    V("v1 cr only", "PROXY UNKNOWN\r", GW_PROXY_NEED_MORE),
    V("v2 prefix", "\r\n\r\n\0", GW_PROXY_NEED_MORE),
    V("v2 short", V2SIG "\x21\x11\x00\x0c\xcb", GW_PROXY_NEED_MORE),
    V("http", "GET / HTTP/1.1\r\n", GW_PROXY_E_SIGNATURE),
    V("frame", "\x00\x10{", GW_PROXY_E_SIGNATURE),
    V("lower", "proxy TCP4", GW_PROXY_E_SIGNATURE),
    V("v2 bad sig", "\r\n\r\n\0\r\nQUIX", GW_PROXY_E_SIGNATURE),
    V("v1 two spaces", "PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n",
      GW_PROXY_E_V1_SYNTAX),
    V("v1 tcp5", "PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n", GW_PROXY_E_V1_SYNTAX),
    V("v1 bad addr", "PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n",
      GW_PROXY_E_V1_SYNTAX),
    V("v1 v6 in tcp4", "PROXY TCP4 ::1 ::1 1 2\r\n", GW_PROXY_E_V1_SYNTAX),
    V("v1 port 65536", "PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n",
      GW_PROXY_E_V1_SYNTAX),
    V("v1 port zero-led", "PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n",
      GW_PROXY_E_V1_SYNTAX),
    V("v1 port sign", "PROXY TCP4 1.2.3.4 1.2.3.4 +1 2\r\n",
      GW_PROXY_E_V1_SYNTAX),
    V("v1 five fields", "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n",
      GW_PROXY_E_V1_SYNTAX),
    V("v1 trailing space", "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n",
      GW_PROXY_E_V1_SYNTAX),
    V("v1 lf only", "PROXY UNKNOWN\n", GW_PROXY_E_V1_SYNTAX),
    V("v1 cr x", "PROXY UNKNOWN\rx", GW_PROXY_E_V1_SYNTAX),
    V("v1 nul", "PROXY UNKNOWN\0\r\n", GW_PROXY_E_V1_SYNTAX),
    V("v1 unknownx", "PROXY UNKNOWNX\r\n", GW_PROXY_E_V1_SYNTAX),
    V("v1 too long", "PROXY UNKNOWN 456789012345678901234567890123456789"
      "0123456789012345678901234567890123456789012345678901234567890123",
      GW_PROXY_E_V1_TOO_LONG),
    { "v1 107 bytes", "PROXY UNKNOWN "
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", 0, GW_PROXY_OK,
      AF_UNSPEC, NULL, 0, 107 },
    V("v1 108 bytes", "PROXY UNKNOWN "
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n",
      GW_PROXY_E_V1_TOO_LONG),
    V("v2 version 1", V2SIG "\x11", GW_PROXY_E_V2_VERSION),
    V("v2 command 2", V2SIG "\x22", GW_PROXY_E_V2_COMMAND),
    V("v2 family 4", V2SIG "\x21\x41", GW_PROXY_E_V2_FAMILY),
    V("v2 transport 3", V2SIG "\x21\x13", GW_PROXY_E_V2_FAMILY),
    V("v2 too short", V2SIG "\x21\x11\x00\x0b", GW_PROXY_E_V2_LENGTH),
    V("v2 too long", V2SIG "\x21\x11\x08\x01", GW_PROXY_E_V2_LENGTH),
    V("v2 tlv over", V2SIG "\x21\x00\x00\x04\x01\x00\x02x",
      GW_PROXY_E_V2_LENGTH),
    V("v2 tlv stub", V2SIG "\x21\x00\x00\x02\x01\x00", GW_PROXY_E_V2_LENGTH),
};

#undef V

/* Each vector, and every prefix of it: a prefix of a valid header needs
 * more, a prefix of an invalid one needs more or fails the same way. */
START_TEST(test_proxy_vectors)
{
    const proxy_vec *v = &proxy_vecs[_i];
    size_t len = v->len > 0 ? v->len : strlen(v->bytes);
    gw_proxy_info info;
    unsigned char addr[16];
    gw_proxy_status st;
    unsigned char *copy = malloc(len + 1);
    size_t k;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, v->bytes, len);
    st = gw_proxy_parse(copy, len, &info);
    ck_assert_msg(st == v->want, "%s: %s, want %s", v->name,
                  gw_proxy_status_name(st), gw_proxy_status_name(v->want));
    if (st == GW_PROXY_OK) {
        ck_assert_uint_eq(info.len, v->hlen);
        ck_assert_int_eq(info.family, v->family);
        ck_assert_int_eq(info.version, copy[0] == 'P' ? 1 : 2);
        if (v->src != NULL) {
            ck_assert_int_eq(inet_pton(v->family, v->src, addr), 1);
            ck_assert_mem_eq(info.src_addr, addr,
                             v->family == AF_INET ? 4 : 16);
            ck_assert_uint_eq(info.src_port, v->sport);
        }
    }
    for (k = 0; k < len; k++) {
        gw_proxy_status p = gw_proxy_parse(copy, k, &info);

        if (st == GW_PROXY_OK && k < v->hlen)
            ck_assert_int_eq(p, GW_PROXY_NEED_MORE);
        else if (st != GW_PROXY_OK)
            ck_assert(p == GW_PROXY_NEED_MORE || p == st);
    }
    free(copy);
}
END_TEST

/* The connection reads the header first, then frames; the callback
 * sees it; without one the client gets bad-proxy-header and the
 * connection closes. */
static gw_proxy_info seen_proxy;

static void keep_proxy(void *user, const gw_proxy_info *info)
{
    (void)user;
    seen_proxy = *info;
}

START_TEST(test_conn_proxy)
{
    static const char hdr[] = "PROXY TCP4 203.0.113.7 192.0.2.1 51234 1\r\n";
    unsigned char in[4096], want[4096], got[8192];
    size_t rlen, wlen, n;
    gw_conn_config cfg;
    gw_conn c;

    config(&cfg);
    cfg.proxy_protocol = 1;
    cfg.on_proxy = keep_proxy;
    memcpy(in, hdr, sizeof hdr - 1);
    rlen = vec_request(&req_vecs[0], in + sizeof hdr - 1,
                       sizeof in - sizeof hdr);
    wlen = vec_answer(&req_vecs[0], want, sizeof want);
    memset(&seen_proxy, 0, sizeof seen_proxy);
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    n = drive(&c, in, sizeof hdr - 1 + rlen, (size_t)_i, got, sizeof got);
    ck_assert_uint_eq(n, wlen);
    ck_assert_mem_eq(got, want, wlen);
    ck_assert_int_eq(seen_proxy.family, AF_INET);
    ck_assert_uint_eq(seen_proxy.src_port, 51234);
    ck_assert_int_eq(gw_conn_state(&c), GW_CONN_OPEN);
    gw_conn_free(&c);

    /* A frame where the header should be. */
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    n = drive(&c, in + sizeof hdr - 1, rlen, (size_t)_i, got, sizeof got);
    assert_error_frame(got, n, "bad-proxy-header");
    ck_assert_int_eq(gw_conn_state(&c), GW_CONN_LINGER);
    gw_conn_free(&c);

    /* A client that never finishes it meets the request timeout. */
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    ck_assert_uint_eq(gw_conn_input(&c, "PROXY ", 6, 1), 6);
    ck_assert_int_eq(gw_conn_deadline(&c), 1 + cfg.request_timeout);
    ck_assert_int_eq(gw_conn_tick(&c, 1 + cfg.request_timeout),
                     GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&c), GW_CLOSE_REQUEST_TIMEOUT);
    gw_conn_free(&c);
}
END_TEST

static Suite *gateway_suite(void)
{
    Suite *s = suite_create("gateway");
    TCase *tc;

    tc = tcase_create("index");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_index_builtin);
    tcase_add_loop_test(tc, test_index_load, 0,
                        (int)(sizeof index_vecs / sizeof index_vecs[0]));
    tcase_add_test(tc, test_index_file);
    tcase_add_test(tc, test_index_many);
    suite_add_tcase(s, tc);

    tc = tcase_create("handler");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_handler_vectors, 0, N_REQ_VECS);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_buf);
    suite_add_tcase(s, tc);

    tc = tcase_create("conn");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_conn_vectors, 0, N_REQ_VECS);
    tcase_add_test(tc, test_conn_pipelined);
    tcase_add_test(tc, test_conn_backpressure);
    tcase_add_loop_test(tc, test_conn_frame_errors, 0, N_BAD_VECS);
    tcase_add_test(tc, test_conn_drain_eof);
    tcase_add_test(tc, test_conn_eof);
    tcase_add_test(tc, test_conn_shutdown);
    tcase_add_test(tc, test_conn_reload);
    tcase_add_test(tc, test_conn_large_content);
    tcase_add_test(tc, test_conn_json_too_long);
    suite_add_tcase(s, tc);

    tc = tcase_create("timeouts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_timeout_idle);
    tcase_add_test(tc, test_timeout_request);
    tcase_add_test(tc, test_timeout_write);
    suite_add_tcase(s, tc);

    tc = tcase_create("relay");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_relay_roundtrip, 0, MAX_CHUNK + 1);
    tcase_add_test(tc, test_relay_one_at_a_time);
    tcase_add_test(tc, test_relay_unavailable);
    tcase_add_test(tc, test_relay_bad_frame);
    tcase_add_test(tc, test_relay_timeout);
    tcase_add_test(tc, test_relay_replay);
    tcase_add_test(tc, test_relay_half_answer);
    tcase_add_test(tc, test_relay_stray_bytes);
    tcase_add_loop_test(tc, test_relay_client_error, 0, 4);
    tcase_add_test(tc, test_relay_client_eof);
    tcase_add_test(tc, test_relay_large);
    tcase_add_test(tc, test_relay_early_answer);
    tcase_add_test(tc, test_relay_shutdown);
    tcase_add_test(tc, test_relay_slow_reader);
    tcase_add_test(tc, test_relay_upstream_proxy);
    tcase_add_loop_test(tc, test_relay_cap_boundary, 0, 150);
    suite_add_tcase(s, tc);

    tc = tcase_create("proxy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_proxy_vectors, 0,
                        (int)(sizeof proxy_vecs / sizeof proxy_vecs[0]));
    tcase_add_loop_test(tc, test_conn_proxy, 0, MAX_CHUNK + 1);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gateway_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
