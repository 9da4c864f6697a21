/*
 * check_conn.c - the connection state machine in serve mode (gw_conn.h),
 * moved by gw_drive over memory: every request vector in chunk sizes
 * 1..31 and whole, pipelining, backpressure, frame errors, EOF,
 * timeouts, shutdown, reload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_test.h"

/* The same vectors through the state machine, every chunk size. */
START_TEST(test_conn_vectors)
{
    const req_vec *v = &req_vecs[_i];
    unsigned char req[4096], want[4096], got[8192];
    size_t rlen = vec_request(v, req, sizeof req);
    size_t wlen = vec_answer(v, want, sizeof want);
    size_t chunk, n;
    pair p;

    for (chunk = 0; chunk <= MAX_CHUNK; chunk++) {
        pair_init(&p);
        pair_open(&p, NULL);
        n = pair_feed(&p, req, rlen, chunk, got, sizeof got);
        ck_assert_msg(n == wlen, "%s chunk %zu: %zu bytes, want %zu",
                      v->name, chunk, n, wlen);
        ck_assert_mem_eq(got, want, wlen);
        /* Content errors keep the connection open. */
        ck_assert_int_eq(gw_conn_state(&p.c), GW_CONN_OPEN);
        ck_assert(!gw_conn_in_request(&p.c));
        ck_assert(gw_conn_poll(&p.c, NULL) & GW_WANT_READ);
        pair_free(&p);
    }
}
END_TEST

/* Every vector back to back on one connection, answers in order. */
START_TEST(test_conn_pipelined)
{
    static unsigned char req[BIG], want[BIG], got[BIG];
    size_t rlen = 0, wlen = 0, chunk, n;
    int i, round;
    pair p;

    for (round = 0; round < 3; round++) {
        for (i = 0; i < n_req_vecs; i++) {
            rlen += vec_request(&req_vecs[i], req + rlen, sizeof req - rlen);
            wlen += vec_answer(&req_vecs[i], want + wlen, sizeof want - wlen);
        }
    }
    for (chunk = 0; chunk <= MAX_CHUNK + 40; chunk += chunk < 8 ? 1 : 13) {
        pair_init(&p);
        pair_open(&p, NULL);
        n = pair_feed(&p, req, rlen, chunk, got, sizeof got);
        ck_assert_uint_eq(n, wlen);
        ck_assert_mem_eq(got, want, wlen);
        ck_assert_uint_eq(gw_conn_requests(&p.c), (uint64_t)n_req_vecs * 3);
        pair_free(&p);
    }
}
END_TEST

/* A client that does not read: the connection stops reading at the cap
 * (the rest of what it read is held), and resumes as output is taken. */
START_TEST(test_conn_backpressure)
{
    static unsigned char req[BIG], want[BIG], got[BIG];
    size_t one, rlen = 0, wlen = 0, n = 0;
    int i, stalls = 0;
    pair p;

    pair_init(&p);
    p.cfg.max_output = 300;
    for (i = 0; i < 40; i++) {
        rlen += vec_request(&req_vecs[0], req + rlen, sizeof req - rlen);
        wlen += vec_answer(&req_vecs[0], want + wlen, sizeof want - wlen);
    }
    one = wlen / 40;
    pair_open(&p, NULL);
    p.m.budget = 0;
    ck_assert_int_eq(gw_memio_send(&p.m, req, rlen), 0);
    while (n < wlen) {
        pair_settle(&p);
        if (gw_conn_requests(&p.c) < 40) {
            stalls++;
            ck_assert(!(gw_conn_poll(&p.c, NULL) & GW_WANT_READ));
            /* Soft cap: at most one answer beyond it. */
            ck_assert_uint_lt(pending(&p.c),
                              p.cfg.max_output + one);
        }
        /* Take part of the output only, as a slow reader would. */
        p.m.budget = 100;
        pair_settle(&p);
        n += pair_take(&p, got + n, sizeof got - n);
        p.m.budget = 0;
        ck_assert_int_lt(stalls, 10000);
    }
    ck_assert_int_gt(stalls, 3);
    ck_assert_uint_eq(n, wlen);
    ck_assert_mem_eq(got, want, wlen);
    pair_free(&p);
}
END_TEST

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

/* A good request, then garbage: one answer, one error frame, linger,
 * shut, drain, close. */
START_TEST(test_conn_frame_errors)
{
    const bad_vec *v = &bad_vecs[_i];
    unsigned char in[4096], want[4096], got[8192];
    size_t good = vec_request(&req_vecs[0], in, sizeof in);
    size_t wlen = vec_answer(&req_vecs[0], want, sizeof want);
    size_t chunk, n, blen;
    unsigned w;
    pair p;

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
        pair_init(&p);
        p.cfg.limits.max_content = 1000;
        p.cfg.limits.max_header = 255;
        p.cfg.limits.max_extensions = 2;
        pair_open(&p, NULL);
        p.now = 100;
        n = pair_feed(&p, in, good + blen + 4, chunk, got, sizeof got);
        /* The driver shut the write side once the error frame was out. */
        ck_assert_msg(gw_conn_state(&p.c) == GW_CONN_DRAINING,
                      "%s chunk %zu: state %d", v->name, chunk,
                      gw_conn_state(&p.c));
        ck_assert(p.m.shut);
        ck_assert_int_eq(gw_conn_reason(&p.c), GW_CLOSE_FRAME_ERROR);
        ck_assert_uint_gt(n, wlen);
        ck_assert_mem_eq(got, want, wlen);
        assert_error_frame(got + wlen, n - wlen, hf_status_name(v->code));
        w = gw_conn_poll(&p.c, NULL);
        ck_assert(w & GW_WANT_READ);
        ck_assert(!(w & GW_WANT_WRITE));
        /* Input is discarded while draining. */
        gw_conn_input(&p.c, "more", 4, 101);
        ck_assert_uint_eq(pending(&p.c), 0);
        {
            gw_time d;

            gw_conn_poll(&p.c, &d);
            ck_assert_int_eq(d, 100 + p.cfg.drain_timeout);
        }
        ck_assert_int_eq(gw_conn_tick(&p.c, 101), GW_CONN_DRAINING);
        ck_assert_int_eq(gw_conn_tick(&p.c, 100 + p.cfg.drain_timeout),
                         GW_CONN_CLOSED);
        ck_assert(gw_conn_poll(&p.c, NULL) & GW_WANT_CLOSE);
        pair_free(&p);
    }
}
END_TEST

START_TEST(test_conn_drain_eof)
{
    pair p;

    pair_init(&p);
    pair_open(&p, NULL);
    p.m.eof = 1;
    ck_assert_int_eq(gw_memio_send(&p.m, "\x00\x01{", 3), 0);
    ck_assert(pair_settle(&p) & GW_WANT_CLOSE);
    ck_assert_int_eq(gw_conn_state(&p.c), GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&p.c), GW_CLOSE_FRAME_ERROR);
    pair_free(&p);
}
END_TEST

/* EOF in the middle of a frame: a "truncated" error frame, then close
 * once it is sent. EOF between frames: close once answers are sent. */
START_TEST(test_conn_eof)
{
    unsigned char req[4096], got[8192];
    size_t rlen = vec_request(&req_vecs[0], req, sizeof req);
    size_t n;
    unsigned w;
    pair p;

    pair_init(&p);
    pair_open(&p, NULL);
    p.m.budget = 0;
    n = pair_feed(&p, req, rlen - 5, 7, got, sizeof got);
    ck_assert_uint_eq(n, 0);
    ck_assert(gw_conn_in_request(&p.c));
    p.m.eof = 1;
    w = pair_settle(&p);
    ck_assert_int_eq(gw_conn_state(&p.c), GW_CONN_CLOSING);
    ck_assert(w & GW_WANT_WRITE);
    ck_assert(!(w & GW_WANT_READ));
    {
        size_t olen;
        const unsigned char *o = gw_conn_output(&p.c, &olen);

        assert_error_frame(o, olen, "truncated");
    }
    p.m.budget = SIZE_MAX;
    ck_assert(pair_settle(&p) & GW_WANT_CLOSE);
    pair_free(&p);

    pair_init(&p);
    pair_open(&p, NULL);
    p.m.budget = 0;
    ck_assert_int_eq(gw_memio_send(&p.m, req, rlen), 0);
    p.m.eof = 1;
    w = pair_settle(&p);
    ck_assert_int_eq(gw_conn_state(&p.c), GW_CONN_CLOSING);
    ck_assert_int_eq(gw_conn_reason(&p.c), GW_CLOSE_PEER);
    ck_assert(w & GW_WANT_WRITE);
    pair_free(&p);
}
END_TEST

static gw_time deadline_of(const gw_conn *c)
{
    gw_time d;

    gw_conn_poll(c, &d);
    return d;
}

START_TEST(test_timeout_idle)
{
    gw_conn_config cfg;
    gw_conn c;

    config(&cfg);
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 1000), 0);
    ck_assert_int_eq(deadline_of(&c), 1000 + cfg.idle_timeout);
    ck_assert_int_eq(gw_conn_tick(&c, 1000 + cfg.idle_timeout - 1),
                     GW_CONN_OPEN);
    ck_assert_int_eq(gw_conn_tick(&c, 1000 + cfg.idle_timeout),
                     GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&c), GW_CLOSE_IDLE_TIMEOUT);
    gw_conn_free(&c);

    /* No idle timeout: the one deadline left is the trim's. */
    cfg.idle_timeout = 0;
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 1000), 0);
    ck_assert_int_eq(deadline_of(&c), 1000 + GW_TRIM_AFTER);
    ck_assert_int_eq(gw_conn_tick(&c, 1000 + GW_TRIM_AFTER), GW_CONN_OPEN);
    ck_assert_int_eq(deadline_of(&c), GW_TIME_NEVER);
    ck_assert_int_eq(gw_conn_tick(&c, GW_TIME_NEVER - 1), GW_CONN_OPEN);
    gw_conn_free(&c);
}
END_TEST

/* An idle connection gives back its decoder and buffers after
 * GW_TRIM_AFTER, and serves the next request as before. */
START_TEST(test_conn_trim)
{
    unsigned char req[4096], want[4096], got[8192];
    size_t rlen = vec_request(&req_vecs[0], req, sizeof req);
    size_t wlen = vec_answer(&req_vecs[0], want, sizeof want);
    size_t busy;
    pair p;

    pair_init(&p);
    p.cfg.idle_timeout = 0;
    pair_open(&p, NULL);
    ck_assert_uint_eq(gw_conn_buffered(&p.c), 0);
    ck_assert_uint_eq(pair_feed(&p, req, rlen, 7, got, sizeof got), wlen);
    busy = gw_conn_buffered(&p.c);
    ck_assert_uint_gt(busy, sizeof(hf_decoder));
    /* Not yet: a client that sends a request a second keeps them. */
    ck_assert_int_eq(gw_conn_tick(&p.c, GW_TRIM_AFTER - 1), GW_CONN_OPEN);
    ck_assert_uint_eq(gw_conn_buffered(&p.c), busy);
    ck_assert_int_eq(gw_conn_tick(&p.c, GW_TRIM_AFTER), GW_CONN_OPEN);
    ck_assert_uint_eq(gw_conn_buffered(&p.c), 0);
    p.now = GW_TRIM_AFTER + 1;
    ck_assert_uint_eq(pair_feed(&p, req, rlen, 5, got, sizeof got), wlen);
    ck_assert_mem_eq(got, want, wlen);
    /* Mid-request: nothing is given back. */
    gw_conn_input(&p.c, req, 20, p.now);
    busy = gw_conn_buffered(&p.c);
    ck_assert_int_eq(gw_conn_tick(&p.c, p.now + 3 * GW_TRIM_AFTER),
                     GW_CONN_CLOSED);   /* the request timeout */
    ck_assert_uint_eq(gw_conn_buffered(&p.c), busy);
    pair_free(&p);
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
    ck_assert_int_eq(deadline_of(&c), 1010);
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

/* While the gateway does not read because the client does not take its
 * answers (output at its cap), the request clock stands: a request that
 * waited on the gateway is not timed out for it. Here the request is
 * refused at its header (JSON too long) and its content still comes. */
START_TEST(test_timeout_request_held_back)
{
    static unsigned char req[BIG];
    static char content[1000];
    size_t rlen;
    pair p;

    pair_init(&p);
    p.cfg.max_output = 50;
    p.cfg.max_json = 10;
    p.cfg.request_timeout = 1000;
    p.cfg.write_timeout = 0;
    p.cfg.idle_timeout = 0;
    memset(content, ' ', sizeof content);
    rlen = mkframe(req, sizeof req, "big", "text/json", "utf-8", content,
                   sizeof content);
    pair_open(&p, NULL);
    gw_conn_input(&p.c, req, 200, 10);
    ck_assert_uint_ge(pending(&p.c), 50);
    ck_assert(gw_conn_in_request(&p.c));
    ck_assert(!(gw_conn_poll(&p.c, NULL) & GW_WANT_READ));
    ck_assert_int_eq(deadline_of(&p.c), GW_TIME_NEVER);
    ck_assert_int_eq(gw_conn_tick(&p.c, 5000), GW_CONN_OPEN);
    /* The client reads at 5000: the clock runs again, with what it had
     * used before the stop (nothing) behind it. */
    gw_conn_sent(&p.c, pending(&p.c), 5000);
    ck_assert(gw_conn_poll(&p.c, NULL) & GW_WANT_READ);
    ck_assert_int_eq(deadline_of(&p.c), 5000 + 1000);
    ck_assert_int_eq(gw_conn_tick(&p.c, 5500), GW_CONN_OPEN);
    gw_conn_input(&p.c, req + 200, rlen - 200, 5600);
    ck_assert(!gw_conn_in_request(&p.c));
    ck_assert_uint_eq(gw_conn_requests(&p.c), 1);
    ck_assert_int_eq(gw_conn_tick(&p.c, 7000), GW_CONN_OPEN);
    pair_free(&p);

    /* Without the stop, the same request times out at 1010. */
    pair_init(&p);
    p.cfg.max_json = 10;
    p.cfg.write_timeout = 0;
    p.cfg.request_timeout = 1000;
    pair_open(&p, NULL);
    gw_conn_input(&p.c, req, 200, 10);
    ck_assert_int_eq(deadline_of(&p.c), 1010);
    ck_assert_int_eq(gw_conn_tick(&p.c, 1010), GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&p.c), GW_CLOSE_REQUEST_TIMEOUT);
    pair_free(&p);
}
END_TEST

/* Bytes leaving the kernel's send buffer count as progress for the
 * write clock (gw_conn_queued: asked when a write leaves output waiting,
 * and when the clock runs out): a client that reads a large answer
 * slowly is not cut; a queue that holds what it held plus what was
 * written since, a first reading, or an empty queue do not count. */
START_TEST(test_timeout_write_queued)
{
    unsigned char req[4096];
    size_t rlen = vec_request(&req_vecs[0], req, sizeof req);
    gw_time t;
    gw_conn_config cfg;
    gw_conn c;

    config(&cfg);
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    gw_conn_input(&c, req, rlen, 5);
    gw_conn_sent(&c, 3, 6);
    t = 6 + cfg.write_timeout;
    gw_conn_queued(&c, 9000, t);        /* first asked: only a start */
    ck_assert_int_eq(gw_conn_tick(&c, t), GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&c), GW_CLOSE_WRITE_TIMEOUT);
    gw_conn_free(&c);

    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    gw_conn_input(&c, req, rlen, 5);
    gw_conn_sent(&c, 3, 6);
    gw_conn_queued(&c, 9000, 6);        /* the socket is full: start */
    t = 6 + cfg.write_timeout;
    gw_conn_queued(&c, 4000, t);        /* fewer: moving */
    ck_assert_int_eq(gw_conn_tick(&c, t), GW_CONN_OPEN);
    ck_assert_int_eq(deadline_of(&c), t + cfg.write_timeout);
    t += cfg.write_timeout;
    gw_conn_queued(&c, 4000, t);        /* the same: stuck */
    ck_assert_int_eq(gw_conn_tick(&c, t), GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&c), GW_CLOSE_WRITE_TIMEOUT);
    gw_conn_free(&c);

    /* A write in between: the kernel holds what it held and those
     * bytes; fewer than that sum is progress, the sum is not. */
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    gw_conn_input(&c, req, rlen, 5);
    gw_conn_queued(&c, 9000, 6);
    gw_conn_sent(&c, 3, 7);
    t = 7 + cfg.write_timeout;
    gw_conn_queued(&c, 9002, t);
    ck_assert_int_eq(gw_conn_tick(&c, t), GW_CONN_OPEN);
    t += cfg.write_timeout;
    gw_conn_queued(&c, 9002, t);
    ck_assert_int_eq(gw_conn_tick(&c, t), GW_CONN_CLOSED);
    gw_conn_free(&c);

    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    gw_conn_input(&c, req, rlen, 5);
    gw_conn_queued(&c, 9000, 6);
    gw_conn_sent(&c, 3, 7);
    t = 7 + cfg.write_timeout;
    gw_conn_queued(&c, 9003, t);
    ck_assert_int_eq(gw_conn_tick(&c, t), GW_CONN_CLOSED);
    gw_conn_free(&c);

    /* Nothing held by the kernel: the clock runs out as before. */
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    gw_conn_input(&c, req, rlen, 5);
    gw_conn_queued(&c, 0, 5);
    t = 5 + cfg.write_timeout;
    gw_conn_queued(&c, 0, t);
    ck_assert_int_eq(gw_conn_tick(&c, t), GW_CONN_CLOSED);
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
    ck_assert(gw_conn_poll(&c, NULL) & GW_WANT_WRITE);
    ck_assert_int_eq(deadline_of(&c), 5 + cfg.write_timeout);
    gw_conn_sent(&c, 3, 20);
    ck_assert_int_eq(deadline_of(&c), 20 + cfg.write_timeout);
    ck_assert_int_eq(gw_conn_tick(&c, 19 + cfg.write_timeout), GW_CONN_OPEN);
    ck_assert_int_eq(gw_conn_tick(&c, 20 + cfg.write_timeout),
                     GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&c), GW_CLOSE_WRITE_TIMEOUT);
    gw_conn_free(&c);

    /* Everything sent: the idle clock starts from then. */
    ck_assert_int_eq(gw_conn_init(&c, &cfg, NULL, 0), 0);
    gw_conn_input(&c, req, rlen, 5);
    gw_conn_sent(&c, pending(&c), 7);
    ck_assert_int_eq(deadline_of(&c), 7 + cfg.idle_timeout);
    gw_conn_free(&c);
}
END_TEST

START_TEST(test_conn_shutdown)
{
    unsigned char req[4096], got[8192], want[4096];
    size_t rlen = vec_request(&req_vecs[0], req, sizeof req);
    size_t wlen = vec_answer(&req_vecs[0], want, sizeof want);
    pair p;

    /* Idle: shuts its write side at once, then drains. */
    pair_init(&p);
    pair_open(&p, NULL);
    gw_conn_shutdown(&p.c, 0);
    ck_assert_int_eq(gw_conn_state(&p.c), GW_CONN_LINGER);
    ck_assert_int_eq(gw_conn_reason(&p.c), GW_CLOSE_SHUTDOWN);
    ck_assert(gw_conn_poll(&p.c, NULL) & GW_WANT_SHUT);
    pair_settle(&p);
    ck_assert(p.m.shut);
    ck_assert_int_eq(gw_conn_state(&p.c), GW_CONN_DRAINING);
    pair_free(&p);
    /* Mid-request: the request is finished and answered first; what the
     * client pipelined behind it is read and dropped, not answered, and
     * the connection ends with a shut, never with bytes unread. */
    pair_init(&p);
    pair_open(&p, NULL);
    ck_assert_uint_eq(pair_feed(&p, req, 10, 0, got, sizeof got), 0);
    gw_conn_shutdown(&p.c, 0);
    ck_assert_int_eq(gw_conn_state(&p.c), GW_CONN_OPEN);
    memcpy(req + rlen, req, rlen);
    ck_assert_uint_eq(pair_feed(&p, req + 10, 2 * rlen - 10, 0, got,
                                sizeof got), wlen);
    ck_assert_mem_eq(got, want, wlen);
    ck_assert(p.m.shut);
    ck_assert_int_eq(gw_conn_state(&p.c), GW_CONN_DRAINING);
    ck_assert_uint_eq(gw_conn_requests(&p.c), 1);
    p.m.eof = 1;
    ck_assert(pair_settle(&p) & GW_WANT_CLOSE);
    pair_free(&p);
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
    gw_index *other = NULL;
    gw_index_error err;
    const char *ans = "{\"result\": \"Wake up, Neo.\"}";
    size_t n, wlen;
    pair p;

    pair_init(&p);
    p.cfg.on_request = count_request;
    seen_requests = 0;
    ck_assert_int_eq(gw_index_load_mem("{\"morpheus\": \"Wake up, Neo.\"}",
                                       29, &other, &err), GW_INDEX_OK);
    pair_open(&p, &seen_requests);
    n = pair_feed(&p, req, rlen, 0, got, sizeof got);
    wlen = vec_answer(&req_vecs[0], want, sizeof want);
    ck_assert_uint_eq(n, wlen);
    p.cfg.index = other;
    n = pair_feed(&p, req, rlen, 3, got, sizeof got);
    wlen = json_answer(want, sizeof want, ans);
    ck_assert_uint_eq(n, wlen);
    ck_assert_mem_eq(got, want, wlen);
    ck_assert_int_eq(seen_requests, 2);
    ck_assert_int_eq(seen_kind, GW_KIND_SEARCH);
    pair_free(&p);
    gw_index_free(other);
}
END_TEST

/* Large content split over many inputs: copied, answered once. */
START_TEST(test_conn_large_content)
{
    static unsigned char req[BIG], want[4096], got[8192];
    static char content[40000];
    size_t rlen, wlen, n, chunk;
    char *val;
    pair p;

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
        pair_init(&p);
        pair_open(&p, NULL);
        n = pair_feed(&p, req, rlen, chunk, got, sizeof got);
        ck_assert_uint_eq(n, wlen);
        ck_assert_mem_eq(got, want, wlen);
        pair_free(&p);
    }
    /* Binary: only the first bytes are kept. */
    memset(content, 'b', sizeof content);
    rlen = mkframe(req, sizeof req, "little", "a/b", "binary", content,
                   sizeof content);
    wlen = mkanswer(want, sizeof want, BIN_TYPE, "binary",
                    "First 10 bytes of request: bbbbbbbbbb", 37);
    for (chunk = 1; chunk < 40000; chunk = chunk * 5 + 3) {
        pair_init(&p);
        pair_open(&p, NULL);
        n = pair_feed(&p, req, rlen, chunk, got, sizeof got);
        ck_assert_uint_eq(n, wlen);
        ck_assert_mem_eq(got, want, wlen);
        ck_assert_uint_le(gw_conn_buffered(&p.c), 8 * GW_BUF_MIN_ALLOC);
        pair_free(&p);
    }
}
END_TEST

/* Reads of one drive call: GW_DRIVE_READS at most, each as large as the
 * read buffer, so a client sending a large content neither holds the
 * loop nor takes it 16 KiB at a time. */
static size_t read_sizes[2 * GW_DRIVE_READS];
static int reads_seen;

static void count_read(void *user, int write, size_t n)
{
    (void)user;
    if (!write && reads_seen < 2 * GW_DRIVE_READS)
        read_sizes[reads_seen++] = n;
}

START_TEST(test_conn_read_bound)
{
    size_t clen = 4 * GW_DRIVE_READS * GW_DRIVE_READ_SIZE;
    unsigned char *content = malloc(clen), *req = malloc(clen + 256);
    unsigned char want[256], got[256];
    size_t rlen, wlen, n;
    unsigned mask;
    int i;
    pair p;

    ck_assert_ptr_nonnull(content);
    ck_assert_ptr_nonnull(req);
    memset(content, 'b', clen);
    rlen = mkframe(req, clen + 256, "little", "a/b", "binary", content,
                   clen);
    wlen = mkanswer(want, sizeof want, BIN_TYPE, "binary",
                    "First 10 bytes of request: bbbbbbbbbb", 37);
    pair_init(&p);
    pair_open(&p, NULL);
    p.m.on_io = count_read;
    reads_seen = 0;
    ck_assert_int_eq(gw_memio_send(&p.m, req, rlen), 0);
    mask = gw_memio_drive(&p.m, &p.c, p.now);
    ck_assert_int_eq(reads_seen, GW_DRIVE_READS);
    for (i = 0; i < reads_seen; i++)
        ck_assert_uint_eq(read_sizes[i], GW_DRIVE_READ_SIZE);
    ck_assert(mask & GW_WANT_READ);
    ck_assert_uint_eq(pending(&p.c), 0);
    pair_settle(&p);
    n = pair_take(&p, got, sizeof got);
    ck_assert_uint_eq(n, wlen);
    ck_assert_mem_eq(got, want, wlen);
    pair_free(&p);
    free(content);
    free(req);
}
END_TEST

#define RING_REQ "{\"action\": \"search\", \"value\": \"ring\"}"

/* JSON content above max_json: refused at its header, skipped without
 * being stored, and the connection goes on serving. */
START_TEST(test_conn_json_too_long)
{
    static unsigned char req[BIG], want[4096], got[8192];
    static char content[5000];
    size_t rlen, wlen, n, chunk;
    pair p;

    memset(content, ' ', sizeof content);
    memcpy(content, RING_REQ, sizeof RING_REQ - 1);
    rlen = mkframe(req, sizeof req, "little", "text/json", "utf-8", content,
                   sizeof content);
    rlen += vec_request(&req_vecs[0], req + rlen, sizeof req - rlen);
    wlen = error_answer(want, sizeof want, GW_REQ_E_TOO_LONG);
    wlen += vec_answer(&req_vecs[0], want + wlen, sizeof want - wlen);
    for (chunk = 0; chunk < 6000; chunk = chunk * 4 + 1) {
        pair_init(&p);
        p.cfg.max_json = 1000;
        pair_open(&p, NULL);
        n = pair_feed(&p, req, rlen, chunk, got, sizeof got);
        ck_assert_uint_eq(n, wlen);
        ck_assert_mem_eq(got, want, wlen);
        ck_assert_uint_le(gw_conn_buffered(&p.c), 8 * GW_BUF_MIN_ALLOC);
        ck_assert_int_eq(gw_conn_state(&p.c), GW_CONN_OPEN);
        pair_free(&p);
    }
    /* At the limit it is parsed as usual. */
    pair_init(&p);
    p.cfg.max_json = sizeof content;
    pair_open(&p, NULL);
    n = pair_feed(&p, req, rlen, 7, got, sizeof got);
    wlen = json_answer(want, sizeof want, "{\"result\": \"" RING "\"}");
    ck_assert_uint_ge(n, wlen);
    ck_assert_mem_eq(got, want, wlen);
    pair_free(&p);
    /* The request timeout still covers the content being skipped. */
    pair_init(&p);
    p.cfg.max_json = 1000;
    p.cfg.request_timeout = 100;
    pair_open(&p, NULL);
    gw_conn_input(&p.c, req, 300, 5);
    n = pending(&p.c);
    ck_assert_uint_gt(n, 0);
    gw_conn_sent(&p.c, n, 5);
    ck_assert(gw_conn_in_request(&p.c));
    ck_assert_int_eq(gw_conn_tick(&p.c, 104), GW_CONN_OPEN);
    ck_assert_int_eq(gw_conn_tick(&p.c, 105), GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&p.c), GW_CLOSE_REQUEST_TIMEOUT);
    pair_free(&p);
}
END_TEST

Suite *conn_suite(void)
{
    Suite *s = suite_create("conn");
    TCase *tc = tcase_create("conn");

    tcase_add_checked_fixture(tc, builtin_setup, builtin_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_conn_vectors, 0, n_req_vecs);
    tcase_add_test(tc, test_conn_pipelined);
    tcase_add_test(tc, test_conn_backpressure);
    tcase_add_loop_test(tc, test_conn_frame_errors, 0,
                        (int)(sizeof bad_vecs / sizeof bad_vecs[0]));
    tcase_add_test(tc, test_conn_drain_eof);
    tcase_add_test(tc, test_conn_eof);
    tcase_add_test(tc, test_conn_shutdown);
    tcase_add_test(tc, test_conn_reload);
    tcase_add_test(tc, test_conn_large_content);
    tcase_add_test(tc, test_conn_read_bound);
    tcase_add_test(tc, test_conn_json_too_long);
    suite_add_tcase(s, tc);

    tc = tcase_create("timeouts");
    tcase_add_checked_fixture(tc, builtin_setup, builtin_teardown);
    tcase_add_test(tc, test_timeout_idle);
    tcase_add_test(tc, test_conn_trim);
    tcase_add_test(tc, test_timeout_request);
    tcase_add_test(tc, test_timeout_request_held_back);
    tcase_add_test(tc, test_timeout_write);
    tcase_add_test(tc, test_timeout_write_queued);
    suite_add_tcase(s, tc);
    return s;
}
