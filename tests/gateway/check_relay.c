/*
 * check_relay.c - relay mode (gw_relay.h) and the pool of upstream
 * connections (gw_pool.h), moved by gw_drive over memory: clients and
 * upstreams played by gw_memio in a gw_memnet, connects that complete
 * when a test says so, every failure of an upstream, pooling,
 * pipelining, health, and the clocks.
 */
#define _GNU_SOURCE 1  /* memmem */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_pool_int.h"
#include "gw_test.h"

static int wants(relay_t *r, unsigned bit)
{
    return (relay_wants(r, NULL) & bit) != 0;
}

static gw_time deadline_of(relay_t *r)
{
    gw_time d;

    relay_wants(r, &d);
    return d;
}

/* Read a single error frame from the client's output. */
static void relay_expect_error(relay_t *r, gw_req_status st)
{
    assert_error_frame(r->cout, r->clen, gw_req_status_name(st));
    r->clen = 0;
}

/* The request most tests relay, and an answer to it. */
static unsigned char ring_req[512], ring_ans[512];
static size_t ring_rlen, ring_alen;

static void ring_setup(void)
{
    builtin_setup();
    ring_rlen = search_request(ring_req, sizeof ring_req, "ring");
    ring_alen = json_answer(ring_ans, sizeof ring_ans,
                            "{\"result\": \"z\"}");
}

/* A relay that sent req upstream at time now. */
static relay_t *relay_asked(unsigned attempts, gw_time now)
{
    relay_t *r = relay_new(attempts);

    relay_client(r, ring_req, ring_rlen, 0, now);
    relay_connect(r, now);
    ck_assert_uint_eq(r->ulen, ring_rlen);
    return r;
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

    ck_assert_uint_eq(r->opened, 0);
    relay_client(r, req, rlen, (size_t)_i, 1);
    ck_assert_uint_eq(r->opened, 1);
    relay_connect(r, 2);
    ck_assert_uint_eq(r->ulen, rlen);
    ck_assert_mem_eq(r->uout, req, rlen);
    ck_assert_uint_eq(r->clen, 0);
    ck_assert(gw_conn_in_request(&r->c[0]));
    ck_assert(!wants(r, GW_WANT_READ));  /* waiting for the answer */
    relay_upstream(r, ans, alen, (size_t)_i, 3);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_mem_eq(r->cout, ans, alen);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    ck_assert(wants(r, GW_WANT_READ));
    ck_assert(!gw_conn_in_request(&r->c[0]));
    ck_assert_ptr_nonnull(r->up);          /* kept for the next one */
    ck_assert_uint_eq(r->opened, 1);
    ck_assert_uint_eq(gw_conn_requests(&r->c[0]), 1);
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
    relay_t *r = relay_new(1);

    relay_client(r, req, r1 + r2, 0, 1);
    relay_connect(r, 1);
    ck_assert_uint_eq(r->ulen, r1);
    relay_upstream(r, ans, alen, 0, 2);
    ck_assert_uint_eq(r->opened, 1);     /* kept connection */
    ck_assert_uint_eq(r->ulen, r1 + r2);
    ck_assert_mem_eq(r->uout, req, r1 + r2);
    relay_upstream(r, ans, alen, 0, 4);
    ck_assert_uint_eq(r->clen, 2 * alen);
    ck_assert_mem_eq(r->cout + alen, ans, alen);
    relay_free(r);
}
END_TEST

/* What the access log would be told of the last relayed request. */
static gw_names seen_names;
static unsigned seen_relayed;

static void keep_names_seen(void *user, const gw_request_info *info)
{
    (void)user;
    seen_names = *info->names;
    seen_relayed++;
}

/* The access log names a relayed search's action and value, read from
 * the request passed on (serving mode's reading), and nothing for a
 * request too big to read or not JSON. */
START_TEST(test_relay_names)
{
    static unsigned char req[8192];
    unsigned char ans[512];
    size_t r1 = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"x\"}");
    const char *json = "{\"action\": \"search\", \"value\": \"a\"}";
    size_t r2;
    relay_t *r = relay_new(1);

    r->cfg.on_request = keep_names_seen;
    r->cfg.relay.names = 1;
    seen_relayed = 0;
    relay_client(r, req, r1, 1, 1);
    relay_connect(r, 1);
    relay_upstream(r, ans, alen, 0, 2);
    ck_assert_uint_eq(seen_relayed, 1);
    ck_assert_uint_eq(seen_names.action_len, 6);
    ck_assert_mem_eq(seen_names.action, "search", 6);
    ck_assert_uint_eq(seen_names.value_len, 4);
    ck_assert_mem_eq(seen_names.value, "ring", 4);
    /* Above max_json: passed on, not read. */
    r->cfg.max_json = 10;
    r2 = search_request(req, sizeof req, "morpheus");
    relay_client(r, req, r2, 0, 3);
    relay_upstream(r, ans, alen, 0, 4);
    ck_assert_uint_eq(seen_relayed, 2);
    ck_assert_uint_eq(seen_names.action_len, 0);
    ck_assert_uint_eq(seen_names.value_len, 0);
    /* Binary content: nothing to read. */
    r->cfg.max_json = 1 << 20;
    r2 = mkframe(req, sizeof req, "big", "x/any", "binary", json,
                 strlen(json));
    relay_client(r, req, r2, 0, 5);
    relay_upstream(r, ans, alen, 0, 6);
    ck_assert_uint_eq(seen_relayed, 3);
    ck_assert_uint_eq(seen_names.action_len, 0);
    relay_free(r);
}
END_TEST

/* A failed connect is tried again, up to relay.attempts connections;
 * then upstream-unavailable, and the client connection goes on. */
START_TEST(test_relay_unavailable)
{
    unsigned char req[512], ans[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"y\"}");
    relay_t *r = relay_new(2);

    r->connect_done_result = GW_IO_ERROR;
    relay_client(r, req, rlen, 0, 1);
    ck_assert_uint_eq(r->opened, 2);     /* tried again */
    ck_assert_uint_eq(r->closed, 2);
    ck_assert_ptr_null(r->up);
    relay_expect_error(r, GW_REQ_E_UP_UNAVAILABLE);
    ck_assert_uint_eq(r->ulen, 0);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    ck_assert(wants(r, GW_WANT_READ));
    /* The next request tries again. */
    r->connect_done_result = 0;
    relay_client(r, req, rlen, 0, 5);
    ck_assert_uint_eq(r->opened, 3);
    relay_connect(r, 6);
    ck_assert_uint_eq(r->ulen, rlen);
    relay_upstream(r, ans, alen, 0, 7);
    ck_assert_uint_eq(r->clen, alen);
    relay_free(r);
}
END_TEST

/* No socket to connect with (descriptors ran out here) fails the
 * request with upstream-unavailable but is not the upstream's fault:
 * with one failure enough to mark it down, it stays up, no failure is
 * counted, and the next request goes to it. */
START_TEST(test_relay_no_socket)
{
    unsigned char req[512], ans[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"y\"}");
    relay_t *r = relay_new(2);
    gw_upstream_stats st;

    r->pc.fails = 1;
    r->connect_result = GW_IO_LOCAL;
    relay_client(r, req, rlen, 0, 1);
    ck_assert_uint_eq(r->opened, 2);     /* tried again */
    ck_assert_uint_eq(r->closed, 2);
    relay_expect_error(r, GW_REQ_E_UP_UNAVAILABLE);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    gw_pool_stats(r->pool, 0, &st);
    ck_assert_int_eq(st.down, 0);
    ck_assert_uint_eq(st.failures, 0);
    ck_assert_uint_eq(st.connects, 0);
    /* Descriptors again: the next request goes to the same upstream. */
    r->connect_result = 1;
    r->clen = 0;
    relay_client(r, req, rlen, 0, 2);
    ck_assert_uint_eq(r->opened, 3);
    ck_assert_uint_eq(r->ulen, rlen);
    relay_upstream(r, ans, alen, 0, 3);
    ck_assert_uint_eq(r->clen, alen);
    relay_free(r);
}
END_TEST

/* A connect that hangs counts as refused after connect_timeout: the
 * request goes to the next upstream at once, not after the upstream
 * timeout. */
START_TEST(test_relay_connect_timeout)
{
    unsigned char req[512], ans[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"y\"}");
    relay_t *r = relay_new(2);

    r->pc.connect_timeout = 2;
    r->pc.upstream_timeout = 100;
    relay_client(r, req, rlen, 0, 10);
    ck_assert_uint_eq(r->opened, 1);
    ck_assert_int_eq(gw_memnet_deadline(r->net), 12);
    relay_pump(r, 11);
    ck_assert_uint_eq(r->closed, 0);
    relay_pump(r, 12);
    ck_assert_uint_eq(r->closed, 1);
    ck_assert_uint_eq(r->opened, 2);
    ck_assert_uint_eq(r->clen, 0);
    relay_connect(r, 13);
    ck_assert_uint_eq(r->ulen, rlen);
    relay_upstream(r, ans, alen, 0, 14);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_mem_eq(r->cout, ans, alen);
    /* Out of attempts: upstream-unavailable at the connect timeout. */
    r->clen = 0;
    relay_upstream_ends(r, 1, 15);
    relay_client(r, req, rlen, 0, 20);
    relay_pump(r, 22);
    relay_pump(r, 24);
    relay_expect_error(r, GW_REQ_E_UP_UNAVAILABLE);
    relay_free(r);
}
END_TEST

/* An answer that is not a valid frame never reaches the client. */
START_TEST(test_relay_bad_frame)
{
    static const unsigned char bad[] = "\x00\x05{\"a\":}xxxxxxxxxx";
    relay_t *r = relay_asked(3, 1);

    relay_upstream(r, bad, sizeof bad - 1, 3, 2);
    relay_expect_error(r, GW_REQ_E_UP_BAD_FRAME);
    ck_assert_ptr_null(r->up);
    ck_assert_uint_eq(r->opened, 1);     /* not tried again */
    ck_assert_uint_eq(r->closed, 1);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    ck_assert(wants(r, GW_WANT_READ));
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
    ck_assert_int_eq(gw_memnet_deadline(r->net),
                     11 + r->pc.upstream_timeout);
    relay_pump(r, 15);
    ck_assert_uint_eq(r->clen, 0);
    relay_pump(r, 16);
    relay_expect_error(r, GW_REQ_E_UP_TIMEOUT);
    ck_assert_ptr_null(r->up);
    /* Idle again: the idle timeout applies, not the upstream's. */
    ck_assert_int_eq(deadline_of(r), 16 + r->cfg.idle_timeout);
    relay_free(r);
}
END_TEST

/* Bytes leaving the kernel's send buffer count as progress for the
 * upstream clock (gw_upconn_queued: asked when a write leaves output
 * waiting, and when the clock runs out); a queue that stays the same, or
 * a first reading, does not. The request here goes out whole: the
 * readings stand for a kernel still holding it. */
START_TEST(test_relay_timeout_queued)
{
    relay_t *r = relay_new(1);
    gw_upconn *u;

    relay_client(r, ring_req, ring_rlen, 0, 10);
    relay_connect(r, 11);
    u = relay_head_up(&r->c[0]);
    ck_assert_ptr_nonnull(u);
    gw_upconn_queued(u, 3000, 11);      /* the socket is full: start */
    gw_upconn_queued(u, 2000, 16);      /* fewer: moving */
    relay_pump(r, 16);
    ck_assert_uint_eq(r->clen, 0);
    ck_assert_int_eq(gw_memnet_deadline(r->net), 16 + r->pc.upstream_timeout);
    gw_upconn_queued(u, 1000, 21);      /* fewer: moving */
    relay_pump(r, 21);
    ck_assert_uint_eq(r->clen, 0);
    gw_upconn_queued(u, 1000, 26);      /* the same: stuck */
    relay_pump(r, 26);
    relay_expect_error(r, GW_REQ_E_UP_TIMEOUT);
    relay_free(r);

    /* A first reading when the clock runs out is no progress. */
    r = relay_new(1);
    relay_client(r, ring_req, ring_rlen, 0, 10);
    relay_connect(r, 11);
    gw_upconn_queued(relay_head_up(&r->c[0]), 3000, 16);
    relay_pump(r, 16);
    relay_expect_error(r, GW_REQ_E_UP_TIMEOUT);
    relay_free(r);

    /* Nothing held by the kernel: the clock runs out as before. */
    r = relay_new(1);
    relay_client(r, ring_req, ring_rlen, 0, 10);
    relay_connect(r, 11);
    gw_upconn_queued(relay_head_up(&r->c[0]), 0, 16);
    relay_pump(r, 16);
    relay_expect_error(r, GW_REQ_E_UP_TIMEOUT);
    relay_free(r);
}
END_TEST

/* A kept connection the upstream closed before answering: the request,
 * whole in memory, goes again on a new connection. */
START_TEST(test_relay_replay)
{
    relay_t *r = relay_asked(2, 1);

    relay_upstream(r, ring_ans, ring_alen, 0, 2);
    r->ulen = 0;
    r->clen = 0;
    relay_client(r, ring_req, ring_rlen, 0, 3);
    ck_assert_uint_eq(r->ulen, ring_rlen);
    relay_upstream_ends(r, 1, 4);
    ck_assert_uint_eq(r->opened, 2);
    relay_connect(r, 5);
    ck_assert_uint_eq(r->ulen, 2 * ring_rlen);
    ck_assert_mem_eq(r->uout + ring_rlen, ring_req, ring_rlen);
    relay_upstream(r, ring_ans, ring_alen, 0, 6);
    ck_assert_uint_eq(r->clen, ring_alen);
    ck_assert_mem_eq(r->cout, ring_ans, ring_alen);
    /* Attempts are counted per request, and a kept connection found
     * closed costs none: two new connections fail, then it gives up. */
    r->clen = 0;
    relay_client(r, ring_req, ring_rlen, 0, 7);
    relay_upstream_ends(r, 1, 8);
    ck_assert_uint_eq(r->opened, 3);
    relay_connect(r, 9);
    relay_upstream_ends(r, 0, 10);
    ck_assert_uint_eq(r->opened, 4);
    ck_assert_uint_eq(r->clen, 0);
    relay_connect(r, 11);
    relay_upstream_ends(r, 0, 12);
    ck_assert_uint_eq(r->opened, 4);
    relay_expect_error(r, GW_REQ_E_UP_FAILED);
    relay_free(r);
}
END_TEST

/* The upstream breaks in the middle of an answer already partly passed
 * on: no frame boundary is left for an error frame, so the client
 * connection closes. */
/* The status and size the last request's access line gives. */
static char last_status[32];
static size_t last_out;

static void note_reply(void *user, const gw_request_info *info)
{
    (void)user;
    snprintf(last_status, sizeof last_status, "%s", info->reply->status);
    last_out = info->reply->bytes_out;
}

START_TEST(test_relay_half_answer)
{
    unsigned char req[512], ans[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"zzzz\"}");
    relay_t *r = relay_new(3);

    r->cfg.on_request = note_reply;
    last_status[0] = '\0';
    relay_client(r, req, rlen, 0, 1);
    relay_connect(r, 1);
    relay_upstream(r, ans, alen - 3, 0, 2);
    ck_assert_uint_eq(r->clen, alen - 3);
    ck_assert_mem_eq(r->cout, ans, alen - 3);
    relay_upstream_ends(r, 1, 3);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&r->c[0]), GW_CLOSE_UPSTREAM);
    ck_assert(wants(r, GW_WANT_CLOSE));
    /* Logged and counted: failed, with the bytes the client got. */
    ck_assert_str_eq(last_status, "upstream-failed");
    ck_assert_uint_eq(last_out, alen - 3);
    relay_free(r);
}
END_TEST

/* An answer cut short while all of it still waits in the client's
 * output (the client is not reading) is taken back: the answers before
 * it stay, an upstream-failed frame takes its place, and the client's
 * connection goes on. */
START_TEST(test_relay_cut_unsent)
{
    unsigned char req[1024], ans[512], first[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"zzzz\"}");
    size_t flen = json_answer(first, sizeof first, "{\"result\": \"1\"}");
    unsigned char both[1024];
    relay_t *r = relay_new(3);

    memcpy(req + rlen, req, rlen);
    memcpy(both, first, flen);
    memcpy(both + flen, ans, alen - 3);
    r->cfg.relay.depth = 2;
    r->pc.conns = 1;
    r->pc.pipeline = 2;
    relay_client(r, req, 2 * rlen, 0, 1);
    relay_connect(r, 1);
    ck_assert_uint_eq(r->ulen, 2 * rlen);
    r->m[0].budget = 0;
    relay_upstream(r, both, flen + alen - 3, 0, 2);
    ck_assert_uint_eq(r->clen, 0);
    relay_upstream_ends(r, 0, 3);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    r->m[0].budget = SIZE_MAX;
    gw_memnet_wake(r->net, NULL, &r->c[0]);
    relay_pump(r, 4);
    ck_assert_uint_ge(r->clen, flen);
    ck_assert_mem_eq(r->cout, first, flen);
    memmove(r->cout, r->cout + flen, r->clen - flen);
    r->clen -= flen;
    relay_expect_error(r, GW_REQ_E_UP_FAILED);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    /* The next request is relayed as usual. */
    relay_client(r, req, rlen, 0, 5);
    relay_connect(r, 5);
    relay_upstream(r, first, flen, 0, 6);
    ck_assert_uint_eq(r->clen, flen);
    ck_assert_mem_eq(r->cout, first, flen);
    relay_free(r);
}
END_TEST

/* Bytes the upstream sends unasked (between requests, after an answer,
 * or before the request was written) end that upstream connection, not
 * the client's, and never reach the client. */
START_TEST(test_relay_stray_bytes)
{
    unsigned char req[512], ans[1024], other[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"z\"}");
    size_t olen = json_answer(other, sizeof other, "{\"result\": \"no\"}");
    relay_t *r = relay_new(2);

    /* Two answers in one read: the first is passed on, then the upstream
     * is dropped. */
    memcpy(ans + alen, ans, alen);
    relay_client(r, req, rlen, 0, 1);
    relay_connect(r, 1);
    relay_upstream(r, ans, 2 * alen, 0, 2);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_ptr_null(r->up);
    ck_assert_uint_eq(r->closed, 1);
    /* Between requests. */
    r->clen = 0;
    relay_client(r, req, rlen, 0, 3);
    relay_connect(r, 3);
    relay_upstream(r, ans, alen, 0, 4);
    relay_upstream(r, "x", 1, 0, 5);
    ck_assert_ptr_null(r->up);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    ck_assert_uint_eq(r->clen, alen);
    /* A whole frame before the next request went out (the upstream reads
     * nothing): it is not that request's answer. The request goes again
     * on a new connection and gets its own. */
    r->clen = 0;
    r->ulen = 0;
    relay_client(r, req, rlen, 0, 6);
    relay_connect(r, 6);
    relay_upstream(r, ans, alen, 0, 7);
    r->clen = 0;
    r->ulen = 0;
    r->up->budget = 0;
    relay_client(r, req, rlen, 0, 8);
    ck_assert_uint_eq(r->ulen, 0);
    relay_upstream(r, other, olen, 0, 9);
    ck_assert_uint_eq(r->clen, 0);
    ck_assert_uint_eq(r->opened, 4);        /* a new one, connecting */
    relay_connect(r, 10);
    ck_assert_uint_eq(r->ulen, rlen);
    relay_upstream(r, ans, alen, 0, 11);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_mem_eq(r->cout, ans, alen);
    relay_free(r);
}
END_TEST

/* Answers read ahead for a client whose output is full wait in the
 * relay; a frame read behind them arrived before any later request went
 * out, so no request is written on that connection until they are
 * passed on, and then the frame is found stray: the later request goes
 * on a new connection and gets its own answer, never that frame. */
START_TEST(test_relay_held_then_stray)
{
    unsigned char req[1024], ans[4096], big[2000], two[512], other[512];
    unsigned char mine[512], all[6144], got[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t tlen = json_answer(two, sizeof two, "{\"result\": \"two\"}");
    size_t olen = json_answer(other, sizeof other, "{\"result\": \"no\"}");
    size_t mlen = json_answer(mine, sizeof mine, "{\"result\": \"b\"}");
    size_t alen, n;
    relay_t *r = relay_new(2);

    memset(big, 'a', sizeof big);
    alen = mkframe(ans, sizeof ans, "big", "x/y", "binary", big, sizeof big);
    memcpy(all, ans, alen);
    memcpy(all + alen, two, tlen);
    memcpy(all + alen + tlen, other, olen);
    n = alen + tlen + olen;
    memcpy(req + rlen, req, rlen);
    r->pc.conns = 1;
    r->pc.pipeline = 4;
    r->cfg.relay.depth = 2;
    r->cfg.max_output = 256;
    /* Client 0 pipelines two requests, then stops reading. */
    relay_client(r, req, 2 * rlen, 0, 1);
    relay_connect(r, 1);
    ck_assert_uint_eq(r->ulen, 2 * rlen);
    r->m[0].budget = 0;
    /* Both answers and a frame nobody asked for in one read: the first
     * answer fills client 0's output, the rest waits in the relay. */
    relay_upstream(r, all, n, 0, 2);
    ck_assert_uint_eq(r->clen, 0);
    ck_assert_uint_eq(r->closed, 0);
    /* Client 1's request waits for them. */
    relay_join(r, 1);
    relay_send(r, 1, req, rlen, 0, 3);
    ck_assert_uint_eq(r->opened, 1);
    ck_assert_uint_eq(r->ulen, 2 * rlen);
    /* Client 0 reads: both its answers, then the frame is stray. */
    r->m[0].budget = SIZE_MAX;
    gw_memnet_wake(r->net, NULL, &r->c[0]);
    relay_pump(r, 4);
    ck_assert_uint_eq(r->clen, alen + tlen);
    ck_assert_mem_eq(r->cout, all, alen + tlen);
    ck_assert_uint_eq(r->closed, 1);
    ck_assert_uint_eq(relay_take(r, 1, got, sizeof got), 0);
    /* Client 1's request on a new connection, with its own answer. */
    ck_assert_uint_eq(r->opened, 2);
    relay_connect(r, 5);
    ck_assert_uint_eq(r->ulen, 3 * rlen);
    relay_upstream(r, mine, mlen, 0, 6);
    ck_assert_uint_eq(relay_take(r, 1, got, sizeof got), mlen);
    ck_assert_mem_eq(got, mine, mlen);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    ck_assert_int_eq(gw_conn_state(&r->c[1]), GW_CONN_OPEN);
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
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_DRAINING);
    ck_assert_int_eq(gw_conn_reason(&r->c[0]), GW_CLOSE_FRAME_ERROR);
    ck_assert_uint_eq(r->ulen, 0);
    ck_assert_uint_eq(r->opened, 0);
    ck_assert_uint_gt(r->clen, 0);
    relay_free(r);
}
END_TEST

/* The client closes its side after a request: the answer still comes,
 * then the connection closes. A client that stops in the middle of a
 * request gets a truncated error (after the answers to the requests
 * before it) and the upstream connection is dropped. */
START_TEST(test_relay_client_eof)
{
    relay_t *r = relay_asked(1, 1);
    size_t cut;
    int i;

    r->m[0].eof = 1;
    relay_pump(r, 2);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    ck_assert(!wants(r, GW_WANT_READ));
    relay_upstream(r, ring_ans, ring_alen, 0, 3);
    ck_assert_uint_eq(r->clen, ring_alen);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_CLOSING);
    ck_assert_int_eq(gw_conn_reason(&r->c[0]), GW_CLOSE_PEER);
    ck_assert(wants(r, GW_WANT_CLOSE));
    relay_free(r);

    /* A request cut short below the output cap never went upstream. */
    r = relay_new(1);
    relay_client(r, ring_req, ring_rlen - 5, 0, 1);
    ck_assert_uint_eq(r->opened, 0);
    r->m[0].eof = 1;
    relay_pump(r, 2);
    ck_assert_uint_eq(r->opened, 0);
    assert_error_frame(r->cout, r->clen, hf_status_name(HF_E_TRUNCATED));
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_CLOSING);
    relay_free(r);

    /* One that streamed: its connection is of no further use. */
    r = relay_new(1);
    r->cfg.max_output = 64;
    relay_client(r, ring_req, ring_rlen - 5, 0, 1);
    relay_connect(r, 1);
    ck_assert_uint_eq(r->ulen, ring_rlen - 5);
    r->m[0].eof = 1;
    relay_pump(r, 2);
    ck_assert_ptr_null(r->up);
    ck_assert_uint_eq(r->closed, 1);
    assert_error_frame(r->cout, r->clen, hf_status_name(HF_E_TRUNCATED));
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_CLOSING);
    relay_free(r);

    /* Cut short behind a request in flight (a client that may have two
     * in hand), in the next frame's header or in its content: the
     * answer, then the truncated error frame. */
    for (i = 0; i < 2; i++) {
        cut = i == 0 ? 3 : ring_rlen - 5;
        r = relay_new(1);
        r->cfg.relay.depth = 2;
        relay_client(r, ring_req, ring_rlen, 0, 1);
        relay_connect(r, 1);
        relay_client(r, ring_req, cut, 0, 2);
        ck_assert_uint_eq(r->ulen, ring_rlen);
        r->m[0].eof = 1;
        relay_pump(r, 2);
        ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
        relay_upstream(r, ring_ans, ring_alen, 0, 3);
        ck_assert_uint_gt(r->clen, ring_alen);
        ck_assert_mem_eq(r->cout, ring_ans, ring_alen);
        assert_error_frame(r->cout + ring_alen, r->clen - ring_alen,
                           hf_status_name(HF_E_TRUNCATED));
        ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_CLOSING);
        ck_assert_int_eq(gw_conn_reason(&r->c[0]), GW_CLOSE_FRAME_ERROR);
        relay_free(r);
    }
}
END_TEST

/* A 1 MiB binary request frame (free it). */
static unsigned char *big_request(int fill, size_t *rlen)
{
    const size_t clen = (size_t)1 << 20;
    unsigned char *req = malloc(clen + 512);
    unsigned char *content = malloc(clen);

    ck_assert_ptr_nonnull(req);
    ck_assert_ptr_nonnull(content);
    memset(content, fill, clen);
    *rlen = mkframe(req, clen + 512, "little", "x/bytes", "binary", content,
                    clen);
    free(content);
    return req;
}

/* Relay r (new, upstream timeout t) with a 64 KiB output cap, that has
 * the first bytes of req in hand, an open upstream, and the rest of req
 * readable from the client. */
static relay_t *relay_upload(relay_t *r, gw_time t, const unsigned char *req,
                             size_t rlen)
{
    size_t first = 65536;   /* a request streams from the output cap on */

    r->pc.upstream_timeout = t;
    r->cfg.max_output = first;
    relay_client(r, req, first, 0, 1);
    relay_connect(r, 1);
    ck_assert_int_eq(gw_memio_send(&r->m[0], req + first, rlen - first),
                     0);
    return r;
}

/* Content streams through: a 1 MiB request sent to an upstream that
 * reads slowly never has more than the output cap waiting for it, and
 * arrives whole. */
START_TEST(test_relay_large)
{
    unsigned char ans[512];
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"big\"}");
    size_t rlen;
    unsigned char *req = big_request('q', &rlen);
    int rounds = 0;
    relay_t *r = relay_upload(relay_new(1), 5, req, rlen);

    while (r->ulen < rlen) {
        r->up->budget = 20000;
        relay_pump(r, 2);
        ck_assert_uint_le(gw_conn_buffered(&r->c[0]),
                          4 * (r->cfg.max_output + GW_DRIVE_READ_SIZE));
        ck_assert_int_lt(++rounds, 1000);
    }
    ck_assert_int_gt(rounds, 40);
    ck_assert_uint_eq(r->ulen, rlen);
    ck_assert_mem_eq(r->uout, req, rlen);
    relay_upstream(r, ans, alen, 0, 3);
    ck_assert_uint_eq(r->clen, alen);
    free(req);
    relay_free(r);
}
END_TEST

/* The times the last request's access line gives. */
static gw_time req_started, req_finished;

static void note_times(void *user, const gw_request_info *info)
{
    (void)user;
    req_started = info->started;
    req_finished = info->finished;
}

/* An upload the relay holds back (the upstream reads slowly) is not
 * timed out for it: the request clock stands while the client is not
 * read, and the upstream clock runs from the upstream's last progress. */
START_TEST(test_relay_held_upload)
{
    unsigned char ans[512];
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"big\"}");
    size_t rlen;
    unsigned char *req = big_request('u', &rlen);
    gw_time now = 1;
    relay_t *r = relay_new(1);

    r->cfg.request_timeout = 100;
    r->cfg.on_request = note_times;
    req_started = -1;
    relay_upload(r, 50, req, rlen);
    /* 9000 bytes every 10 ticks: the upload takes over 1000 ticks, ten
     * request timeouts, every one of them spent waiting on the upstream. */
    while (r->ulen < rlen) {
        now += 10;
        r->up->budget = 9000;
        relay_pump(r, now);
        ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    }
    ck_assert_int_gt(now, 10 * r->cfg.request_timeout);
    ck_assert_mem_eq(r->uout, req, rlen);
    relay_upstream(r, ans, alen, 0, now + 1);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_mem_eq(r->cout, ans, alen);
    /* Its access line counts from its first byte, held time and all. */
    ck_assert_int_eq(req_started, 1);
    ck_assert_int_eq(req_finished, now + 1);
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

    r->cfg.max_output = 200;        /* it streams from its 200th byte */
    relay_client(r, req, 200, 0, 1);
    relay_connect(r, 1);
    relay_upstream(r, ans, alen, 0, 2);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert(wants(r, GW_WANT_READ));
    relay_client(r, req + 200, rlen - 200, 0, 3);
    ck_assert_uint_eq(r->ulen, rlen);
    ck_assert(!gw_conn_in_request(&r->c[0]));
    relay_free(r);
}
END_TEST

/* An upstream that answers before it has read the whole request and
 * then resets: the write that fails does not lose the answer waiting in
 * the socket, which is read first and reaches the client. */
START_TEST(test_relay_answer_then_reset)
{
    static const char filler[1500] = { 0 };
    unsigned char req[4096], ans[512];
    size_t rlen = mkframe(req, sizeof req, "big", "text/json", "utf-8",
                          filler, sizeof filler);
    size_t alen = error_answer(ans, sizeof ans, GW_REQ_E_TOO_LONG);
    relay_t *r = relay_new(1);

    r->cfg.max_output = 200;        /* it streams from its 200th byte */
    relay_client(r, req, 200, 0, 1);
    relay_connect(r, 1);
    /* The answer comes with the reset, which the next write meets. */
    r->up->readable = 0;
    ck_assert_int_eq(gw_memio_send(r->up, ans, alen), 0);
    r->up->fail_write = 1;
    relay_client(r, req + 200, rlen - 200, 0, 2);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_mem_eq(r->cout, ans, alen);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    relay_free(r);
}
END_TEST

/* A frame whose last bytes fill an output to its cap still ends: the
 * next request is read, in both directions. */
START_TEST(test_relay_cap_boundary)
{
    unsigned char req[4096], ans[4096], big[2000];
    size_t rlen, alen;
    relay_t *r = relay_new(1);

    memset(big, 'b', sizeof big);
    rlen = mkframe(req, sizeof req, "big", "x/y", "binary", big,
                   (size_t)_i * 7);
    alen = mkframe(ans, sizeof ans, "big", "x/y", "binary", big,
                   (size_t)_i * 11);
    r->cfg.max_output = 64;
    relay_client(r, req, rlen, 0, 1);
    relay_connect(r, 1);
    ck_assert_uint_eq(r->ulen, rlen);
    ck_assert_mem_eq(r->uout, req, rlen);
    ck_assert(!wants(r, GW_WANT_READ));
    relay_upstream(r, ans, alen, 0, 2);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_mem_eq(r->cout, ans, alen);
    ck_assert(!gw_conn_in_request(&r->c[0]));
    ck_assert(wants(r, GW_WANT_READ));
    relay_free(r);
}
END_TEST

/* A client that sends its request slowly keeps the upstream waiting:
 * that is not the upstream's fault either. With every byte it sent gone
 * out, the upstream clock stands (the request clock covers the client),
 * and starts again when more bytes come. */
START_TEST(test_relay_slow_sender)
{
    unsigned char req[2048], content[1000];
    size_t rlen;
    relay_t *r = relay_new(1);
    gw_time t = r->pc.upstream_timeout;

    memset(content, 's', sizeof content);
    rlen = mkframe(req, sizeof req, "big", "x/y", "binary", content,
                   sizeof content);
    r->cfg.request_timeout = 10 * t;
    r->cfg.max_output = 200;        /* it streams from its 200th byte */
    relay_client(r, req, 200, 0, 1);
    relay_connect(r, 1);
    ck_assert_uint_eq(r->ulen, 200);
    /* The client pauses well past the upstream timeout. */
    relay_pump(r, 2 + 3 * t);
    ck_assert_uint_eq(r->clen, 0);
    ck_assert_uint_eq(r->closed, 0);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    /* More bytes, which the upstream does not read at once: it has a
     * full timeout from now on. */
    r->up->budget = 0;
    relay_client(r, req + 200, 100, 0, 3 + 3 * t);
    ck_assert_uint_eq(r->ulen, 200);
    ck_assert_int_eq(gw_memnet_deadline(r->net), 3 + 4 * t);
    r->up->budget = SIZE_MAX;
    relay_client(r, req + 300, rlen - 300, 0, 4 + 3 * t);
    ck_assert_uint_eq(r->ulen, rlen);
    ck_assert_mem_eq(r->uout, req, rlen);
    relay_upstream(r, ring_ans, ring_alen, 0, 5 + 3 * t);
    ck_assert_uint_eq(r->clen, ring_alen);
    ck_assert_mem_eq(r->cout, ring_ans, ring_alen);
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
    size_t alen;
    relay_t *r = relay_new(1);
    gw_time t = r->pc.upstream_timeout;

    memset(big, 'a', sizeof big);
    alen = mkframe(ans, sizeof ans, "big", "x/y", "binary", big, sizeof big);
    r->cfg.max_output = 256;
    relay_client(r, req, rlen, 0, 1);
    relay_connect(r, 1);
    r->m[0].budget = 0;
    relay_upstream(r, ans, 300, 0, 2);
    ck_assert_uint_eq(r->clen, 0);
    /* Well past the upstream timeout, not yet the write timeout. */
    ck_assert_int_lt(4 * t, r->cfg.write_timeout);
    relay_pump(r, 2 + 4 * t);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    ck_assert_uint_eq(r->closed, 0);
    /* The client reads: the upstream has a full timeout again. */
    r->m[0].budget = SIZE_MAX;
    gw_memnet_wake(r->net, NULL, &r->c[0]);
    relay_pump(r, 3 + 4 * t);
    ck_assert_int_eq(gw_memnet_deadline(r->net), 3 + 5 * t);
    relay_upstream(r, ans + 300, alen - 300, 0, 4 + 4 * t);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_mem_eq(r->cout, ans, alen);
    ck_assert(!gw_conn_in_request(&r->c[0]));
    relay_free(r);
}
END_TEST

/* relay.upstream_proxy: each upstream connection starts with a PROXY v2
 * header naming the client, sent again on a new connection. */
START_TEST(test_relay_upstream_proxy)
{
    unsigned char req[512], ans[512];
    size_t rlen = search_request(req, sizeof req, "ring");
    size_t alen = json_answer(ans, sizeof ans, "{\"result\": \"z\"}");
    gw_proxy_info a, got;
    relay_t *r = relay_new(2);
    int k;

    r->pc.upstream_proxy = 1;
    relay_join(r, 0);
    memset(&a, 0, sizeof a);
    a.family = AF_INET6;
    ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::7", a.src_addr), 1);
    ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", a.dst_addr), 1);
    a.src_port = 40000;
    a.dst_port = 65432;
    gw_conn_set_addresses(&r->c[0], &a);
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
        relay_upstream_ends(r, 1, 3);
    }
    relay_free(r);
}
END_TEST

/* A server shutdown lets the request in flight finish. */
START_TEST(test_relay_shutdown)
{
    relay_t *r = relay_asked(1, 1);

    gw_conn_shutdown(&r->c[0], 2);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    relay_upstream(r, ring_ans, ring_alen, 0, 3);
    ck_assert_uint_eq(r->clen, ring_alen);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_DRAINING);
    ck_assert_int_eq(gw_conn_reason(&r->c[0]), GW_CLOSE_SHUTDOWN);
    ck_assert(r->m[0].shut);
    relay_free(r);
}
END_TEST

/* ---- the pool ---- */

/* Clients share the pool's connections: the second client's request
 * goes on the connection the first one's used, and an idle client holds
 * no upstream connection. */
START_TEST(test_pool_shared)
{
    unsigned char got[512];
    relay_t *r = relay_asked(1, 1);

    relay_upstream(r, ring_ans, ring_alen, 0, 2);
    ck_assert_uint_eq(r->clen, ring_alen);
    ck_assert_ptr_null(relay_head_up(&r->c[0]));      /* idle: holds none */
    relay_send(r, 1, ring_req, ring_rlen, 0, 3);
    ck_assert_uint_eq(r->opened, 1);           /* the same connection */
    ck_assert_uint_eq(r->ulen, 2 * ring_rlen);
    relay_upstream(r, ring_ans, ring_alen, 0, 4);
    ck_assert_uint_eq(relay_take(r, 1, got, sizeof got), ring_alen);
    ck_assert_mem_eq(got, ring_ans, ring_alen);
    ck_assert_uint_eq(r->clen, ring_alen);     /* client 0: nothing more */
    relay_free(r);
}
END_TEST

/* Two busy clients without pipelining: two connections. */
START_TEST(test_pool_busy)
{
    relay_t *r = relay_new(1);

    relay_client(r, ring_req, ring_rlen, 0, 1);
    relay_send(r, 1, ring_req, ring_rlen, 0, 1);
    ck_assert_uint_eq(r->opened, 2);
    relay_free(r);

    /* At the connection cap, the second waits for the first's answer. */
    r = relay_new(1);
    r->pc.conns = 1;
    relay_client(r, ring_req, ring_rlen, 0, 1);
    relay_connect(r, 1);
    relay_send(r, 1, ring_req, ring_rlen, 0, 2);
    ck_assert_uint_eq(r->opened, 1);
    ck_assert_uint_eq(r->ulen, ring_rlen);
    ck_assert(relay_head_queued(&r->c[1]));
    relay_upstream(r, ring_ans, ring_alen, 0, 3);
    ck_assert_uint_eq(r->ulen, 2 * ring_rlen);
    relay_free(r);
}
END_TEST

/* The upstream connection that carries client k's request answers it. */
static void answer_client(relay_t *r, int k, gw_time now)
{
    gw_memio *m;

    ck_assert_ptr_nonnull(relay_head_up(&r->c[k]));
    m = gw_memnet_peer(r->net, relay_head_up(&r->c[k]));
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(gw_memio_send(m, ring_ans, ring_alen), 0);
    relay_pump(r, now);
}

/* Bytes client k received (client 0's are gathered in cout). */
static size_t answered(relay_t *r, int k)
{
    unsigned char got[512];

    return k == 0 ? r->clen : relay_take(r, k, got, sizeof got);
}

/* cfg.conns_total bounds the connections over all upstreams: a request
 * that would need one more waits, and the first connection to go idle
 * serves it or makes way for it (closed when it is another upstream's).
 * Without the bound, a third connection opens. */
START_TEST(test_pool_total)
{
    unsigned char got[512];
    relay_t *r = relay_new(1);
    int bounded = _i, other;

    r->pc.n_upstreams = 2;
    r->pc.names[1] = "up:2";
    r->pc.conns = 4;
    r->pc.conns_total = bounded ? 2 : 0;
    r->connect_result = 1;
    relay_client(r, ring_req, ring_rlen, 0, 1);
    relay_send(r, 1, ring_req, ring_rlen, 0, 1);
    ck_assert_uint_eq(r->opened, 2);
    ck_assert_uint_eq(r->opened_to[0], 1);      /* one each: the fewest */
    ck_assert_uint_eq(r->opened_to[1], 1);
    relay_send(r, 2, ring_req, ring_rlen, 0, 2);
    if (!bounded) {
        ck_assert_uint_eq(r->opened, 3);
        relay_free(r);
        return;
    }
    ck_assert_uint_eq(r->opened, 2);
    ck_assert(relay_head_queued(&r->c[2]));
    /* The client on the other upstream is answered first: its idle
     * connection is closed to make way. */
    other = r->c[0].relay.upstream != r->c[2].relay.upstream ? 0 : 1;
    answer_client(r, other, 3);
    ck_assert_uint_eq(answered(r, other), ring_alen);
    ck_assert(!relay_head_queued(&r->c[2]));           /* on its way now */
    ck_assert_uint_eq(r->closed, 1);
    ck_assert_uint_eq(r->opened, 3);
    answer_client(r, 2, 4);
    ck_assert_uint_eq(relay_take(r, 2, got, sizeof got), ring_alen);
    ck_assert_mem_eq(got, ring_ans, ring_alen);
    answer_client(r, 1 - other, 5);
    ck_assert_uint_eq(answered(r, 1 - other), ring_alen);
    ck_assert_uint_eq(r->opened - r->closed, 2);
    relay_free(r);
}
END_TEST

/* --upstream-proxy-protocol makes each connection private to a client
 * (its PROXY header names that client). At the connection cap, another
 * client's request does not wait for ever behind an idle private
 * connection: it is closed and a new one opened; a busy one makes way
 * once its answer is in; and a client that goes takes its connections
 * with it, so none is ever used for a client it does not name. */
START_TEST(test_pool_private)
{
    unsigned char got[512];
    relay_t *r = relay_new(1);

    r->pc.conns = 1;
    r->pc.upstream_proxy = 1;
    r->connect_result = 1;
    if (_i == 0) {
        relay_client(r, ring_req, ring_rlen, 0, 1);
        relay_upstream(r, ring_ans, ring_alen, 0, 2);
        ck_assert_uint_eq(r->clen, ring_alen);
        relay_send(r, 1, ring_req, ring_rlen, 0, 3);     /* idle: closed */
    } else if (_i == 1) {
        relay_client(r, ring_req, ring_rlen, 0, 1);
        relay_send(r, 1, ring_req, ring_rlen, 0, 2);     /* waits */
        ck_assert(relay_head_queued(&r->c[1]));
        ck_assert_uint_eq(r->opened, 1);
        relay_upstream(r, ring_ans, ring_alen, 0, 3);    /* then closed */
        ck_assert_uint_eq(r->clen, ring_alen);
    } else {
        relay_client(r, ring_req, ring_rlen, 0, 1);
        relay_upstream(r, ring_ans, ring_alen, 0, 2);
        relay_leave(r, 0);
        relay_pump(r, 3);
        ck_assert_uint_eq(r->closed, 1);                 /* goes with it */
        relay_send(r, 1, ring_req, ring_rlen, 0, 4);
    }
    ck_assert_uint_eq(r->closed, 1);
    ck_assert_uint_eq(r->opened, 2);
    ck_assert(!relay_head_queued(&r->c[1]));
    relay_upstream(r, ring_ans, ring_alen, 0, 5);
    ck_assert_uint_eq(relay_take(r, 1, got, sizeof got), ring_alen);
    ck_assert_mem_eq(got, ring_ans, ring_alen);
    relay_free(r);
}
END_TEST

/* Pipelining: requests of several clients go out on one connection in
 * one write, and the answers, read in one go, reach each its own
 * client, in order. */
START_TEST(test_pool_pipelined)
{
    unsigned char reqs[3][512], anss[3][512], all[2048], got[512];
    size_t rl[3], al[3], n = 0;
    uint64_t writes;
    relay_t *r = relay_new(1);
    int k;

    r->pc.conns = 1;
    r->pc.pipeline = 4;
    for (k = 0; k < 3; k++) {
        char v[8], a[32];

        snprintf(v, sizeof v, "v%d", k);
        snprintf(a, sizeof a, "{\"result\": \"a%d\"}", k);
        rl[k] = search_request(reqs[k], sizeof reqs[k], v);
        al[k] = json_answer(anss[k], sizeof anss[k], a);
        memcpy(all + n, anss[k], al[k]);
        n += al[k];
    }
    for (k = 0; k < 3; k++)
        relay_send(r, k, reqs[k], rl[k], 0, 1);
    ck_assert_uint_eq(r->opened, 1);
    ck_assert_uint_eq(r->ulen, 0);
    writes = r->up->moves;
    relay_connect(r, 2);
    /* The connect, then one write of all three. */
    ck_assert_uint_eq(r->up->moves - writes, 2);
    ck_assert_uint_eq(r->ulen, rl[0] + rl[1] + rl[2]);
    relay_upstream(r, all, n, 0, 3);
    for (k = 0; k < 3; k++) {
        size_t len = k == 0 ? r->clen : relay_take(r, k, got, sizeof got);

        ck_assert_uint_eq(len, al[k]);
        ck_assert_mem_eq(k == 0 ? r->cout : got, anss[k], al[k]);
    }
    relay_free(r);
}
END_TEST

/* An upstream that closes a connection after its first answer (as the
 * reference server does) is not pipelined to: the requests behind would
 * be reset with the close. One that answers twice on a connection is
 * pipelined to again. */
START_TEST(test_pool_one_each)
{
    unsigned char reqs[3][512], ans[512];
    size_t rl[3], al;
    relay_t *r = relay_new(1);
    int k;

    r->pc.conns = 4;
    r->pc.pipeline = 4;
    r->connect_result = 1;
    al = json_answer(ans, sizeof ans, "{\"result\": \"a\"}");
    for (k = 0; k < 3; k++) {
        char v[8];

        snprintf(v, sizeof v, "v%d", k);
        rl[k] = search_request(reqs[k], sizeof reqs[k], v);
    }
    relay_send(r, 0, reqs[0], rl[0], 0, 1);
    ck_assert_uint_eq(r->opened, 1);
    relay_upstream(r, ans, al, 0, 2);
    relay_upstream_ends(r, 1, 3);               /* closed after one */
    for (k = 0; k < 3; k++)
        relay_send(r, k, reqs[k], rl[k], 0, 4);
    ck_assert_uint_eq(r->opened, 4);            /* one each */
    relay_free(r);

    /* Without such a close they share one connection. */
    r = relay_new(1);
    r->pc.conns = 4;
    r->pc.pipeline = 4;
    r->connect_result = 1;
    relay_send(r, 0, reqs[0], rl[0], 0, 1);
    relay_upstream(r, ans, al, 0, 2);
    for (k = 0; k < 3; k++)
        relay_send(r, k, reqs[k], rl[k], 0, 4);
    ck_assert_uint_eq(r->opened, 1);
    relay_free(r);
}
END_TEST

/* Pipelining: requests that come in the same pass go out on one
 * connection in one write, even when another connection is idle. */
START_TEST(test_pool_same_pass)
{
    relay_t *r = relay_new(1);
    gw_memio *m[2];
    size_t before[2], n;
    uint64_t moves[2];
    int k;

    r->pc.conns = 4;
    r->pc.pipeline = 2;
    r->connect_result = 1;
    r->keep_sinks = 1;
    for (k = 0; k < 3; k++)
        relay_send(r, k, ring_req, ring_rlen, 0, 1);
    ck_assert_uint_eq(r->opened, 2);            /* the first one is full */
    m[0] = gw_memnet_peer(r->net, relay_head_up(&r->c[0]));
    m[1] = gw_memnet_peer(r->net, relay_head_up(&r->c[2]));
    ck_assert_ptr_ne(m[0], m[1]);
    for (k = 0; k < 3; k++)
        answer_client(r, k, 2);
    for (k = 0; k < 3; k++)
        ck_assert_uint_eq(answered(r, k), ring_alen);
    for (k = 0; k < 2; k++) {
        gw_memio_sink(m[k], &before[k]);
        moves[k] = m[k]->moves;
    }
    /* Both idle; two clients' requests in the same pass. */
    for (k = 0; k < 2; k++) {
        ck_assert_int_eq(gw_memio_send(&r->m[k], ring_req, ring_rlen), 0);
        gw_memnet_wake(r->net, NULL, &r->c[k]);
    }
    relay_pump(r, 3);
    ck_assert_ptr_eq(relay_head_up(&r->c[0]), relay_head_up(&r->c[1]));
    ck_assert_uint_eq(r->opened, 2);
    k = gw_memnet_peer(r->net, relay_head_up(&r->c[0])) == m[0] ? 0 : 1;
    gw_memio_sink(m[k], &n);
    ck_assert_uint_eq(n - before[k], 2 * ring_rlen);
    ck_assert_uint_eq(m[k]->moves - moves[k], 1);       /* one write */
    gw_memio_sink(m[1 - k], &n);
    ck_assert_uint_eq(n, before[1 - k]);
    /* Answers in the order the requests went out. */
    answer_client(r, 0, 4);
    answer_client(r, 0, 4);
    ck_assert_uint_eq(answered(r, 0), 2 * ring_alen);
    ck_assert_uint_eq(answered(r, 1), ring_alen);
    relay_free(r);
}
END_TEST

/* A pipelined connection breaks after one answer: the requests that got
 * no answer byte go again on a new connection and get their own
 * answers; nothing is lost or shifted. (The upstream closed after one
 * answer, so they go one at a time.) */
START_TEST(test_pool_pipeline_broken)
{
    unsigned char got[512];
    relay_t *r = relay_new(3);
    int k;

    r->pc.conns = 1;
    r->pc.pipeline = 4;
    for (k = 0; k < 3; k++)
        relay_send(r, k, ring_req, ring_rlen, 0, 1);
    relay_connect(r, 2);
    ck_assert_uint_eq(r->ulen, 3 * ring_rlen);
    relay_upstream(r, ring_ans, ring_alen, 0, 3);
    relay_upstream_ends(r, 1, 4);
    ck_assert_uint_eq(r->clen, ring_alen);
    ck_assert_uint_eq(r->opened, 2);
    relay_connect(r, 5);
    ck_assert_uint_eq(r->ulen, 4 * ring_rlen);
    relay_upstream(r, ring_ans, ring_alen, 0, 6);
    ck_assert_uint_eq(r->ulen, 5 * ring_rlen);
    relay_upstream(r, ring_ans, ring_alen, 0, 7);
    for (k = 1; k < 3; k++) {
        ck_assert_uint_eq(relay_take(r, k, got, sizeof got), ring_alen);
        ck_assert_mem_eq(got, ring_ans, ring_alen);
    }
    relay_free(r);
}
END_TEST

/* The list find walks: connections that can take a request come
 * first, full ones last, so that a request finds an idle one at once
 * however many are busy. */
static void check_order(const relay_t *r)
{
    const gw_upconn *u;
    int full_seen = 0;

    for (u = r->pool->up[0].conns; u != NULL; u = u->next) {
        if (u->n > 0)
            full_seen = 1;
        else
            ck_assert_msg(!full_seen, "an idle connection behind a busy one");
        ck_assert(u->next != NULL || r->pool->up[0].last == u);
    }
}

START_TEST(test_pool_order)
{
    relay_t *r = relay_new(1);
    int k;

    r->pc.conns = 4;
    r->connect_result = 1;
    for (k = 0; k < 3; k++) {
        relay_send(r, k, ring_req, ring_rlen, 0, 1);
        check_order(r);
    }
    ck_assert_uint_eq(r->opened, 3);
    for (k = 0; k < 3; k++) {
        answer_client(r, k, 2);
        check_order(r);
    }
    for (k = 0; k < 3; k++) {
        relay_send(r, k, ring_req, ring_rlen, 0, 3);
        check_order(r);
        ck_assert_uint_eq(r->opened, 3);
    }
    answer_client(r, 1, 4);
    check_order(r);
    relay_send(r, 1, ring_req, ring_rlen, 0, 5);
    check_order(r);
    ck_assert_uint_eq(r->opened, 3);
    relay_free(r);
}
END_TEST

/* A pipelined connection that fails before it wrote anything: the
 * request at its front spends a try (the connection failed it), the
 * ones queued behind it, never sent, go again without spending one. */
START_TEST(test_pool_queued_unsent)
{
    unsigned char got[512];
    relay_t *r = relay_new(1);
    int k;

    r->pc.conns = 1;
    r->pc.pipeline = 4;
    for (k = 0; k < 3; k++)
        relay_send(r, k, ring_req, ring_rlen, 0, 1);
    ck_assert_uint_eq(r->opened, 1);
    r->up->connect_done_result = GW_IO_ERROR;
    relay_pump(r, 2);
    relay_expect_error(r, GW_REQ_E_UP_UNAVAILABLE);
    ck_assert_uint_eq(r->opened, 2);
    relay_connect(r, 3);
    ck_assert_uint_eq(r->ulen, 2 * ring_rlen);
    relay_upstream(r, ring_ans, ring_alen, 0, 4);
    relay_upstream(r, ring_ans, ring_alen, 0, 5);
    for (k = 1; k < 3; k++) {
        ck_assert_uint_eq(relay_take(r, k, got, sizeof got), ring_alen);
        ck_assert_mem_eq(got, ring_ans, ring_alen);
    }
    relay_free(r);
}
END_TEST

/* --upstream-private without PROXY headers: each client gets its own
 * connection, another client's idle one is not used, and a client's
 * connection closes when it goes. */
START_TEST(test_pool_private_flag)
{
    unsigned char got[512];
    relay_t *r = relay_new(3);

    r->pc.private_conns = 1;
    relay_send(r, 0, ring_req, ring_rlen, 0, 1);
    relay_connect(r, 2);
    relay_upstream(r, ring_ans, ring_alen, 0, 3);
    ck_assert_uint_eq(r->clen, ring_alen);
    relay_send(r, 1, ring_req, ring_rlen, 0, 4);
    ck_assert_uint_eq(r->opened, 2);
    relay_connect(r, 5);
    relay_upstream(r, ring_ans, ring_alen, 0, 6);
    ck_assert_uint_eq(relay_take(r, 1, got, sizeof got), ring_alen);
    ck_assert_mem_eq(got, ring_ans, ring_alen);
    relay_send(r, 1, ring_req, ring_rlen, 0, 7);
    ck_assert_uint_eq(r->opened, 2);
    ck_assert_uint_eq(r->closed, 0);
    relay_upstream(r, ring_ans, ring_alen, 0, 8);
    relay_leave(r, 1);
    relay_pump(r, 9);
    ck_assert_uint_eq(r->closed, 1);
    relay_free(r);
}
END_TEST

/* Health: an upstream that refuses is marked down after its first
 * failure and gets no request until its time down is over; the other
 * takes them all. Then a probe of the pool's own tries it, while the
 * requests go on to the other at once, even when the probe's connect
 * hangs; the probe's answer marks it up. With every upstream down, a
 * request fails at once. */
START_TEST(test_pool_health)
{
    gw_upstream_stats st;
    relay_t *r = relay_new(3);
    gw_memio *probe;
    int i;

    r->cfg.idle_timeout = 0;
    r->pc.n_upstreams = 2;
    r->pc.names[1] = "up:2";
    r->pc.fails = 1;
    r->pc.retry = 1000;
    r->refuse[0] = 1;
    r->connect_result = 1;
    for (i = 0; i < 6; i++) {
        r->clen = 0;
        relay_client(r, ring_req, ring_rlen, 0, 10 + i);
        relay_upstream(r, ring_ans, ring_alen, 0, 10 + i);
        ck_assert_uint_eq(r->clen, ring_alen);
    }
    ck_assert_uint_eq(r->opened_to[0], 1);     /* tried once, then down */
    /* Its time is up: the probe's connect hangs; the request is
     * answered by the other meanwhile. */
    r->refuse[0] = 0;
    r->connect_result = 0;
    r->clen = 0;
    relay_client(r, ring_req, ring_rlen, 0, 1100);
    ck_assert_uint_eq(r->opened_to[0], 2);     /* the probe */
    probe = r->up;
    relay_upstream(r, ring_ans, ring_alen, 0, 1100);
    ck_assert_uint_eq(r->clen, ring_alen);
    /* The probe connects, sends the check and reads an answer: up. */
    r->up = probe;
    r->ulen = 0;
    relay_connect(r, 1101);
    ck_assert_ptr_nonnull(memmem(r->uout, r->ulen, "hframe-check", 12));
    gw_pool_stats(r->pool, 0, &st);
    ck_assert_int_eq(st.down, 1);
    ck_assert_int_eq(gw_memio_send(r->up, ring_ans, ring_alen), 0);
    relay_pump(r, 1102);
    gw_pool_stats(r->pool, 0, &st);
    ck_assert_int_eq(st.down, 0);
    ck_assert_uint_eq(r->opened_to[0], 2);     /* no request tried it */
    relay_free(r);

    /* One upstream, down: fail at once, no connect. */
    r = relay_new(2);
    r->pc.fails = 1;
    r->pc.retry = 1000;
    r->connect_done_result = GW_IO_ERROR;
    relay_client(r, ring_req, ring_rlen, 0, 1);
    relay_expect_error(r, GW_REQ_E_UP_UNAVAILABLE);
    relay_client(r, ring_req, ring_rlen, 0, 2);
    relay_expect_error(r, GW_REQ_E_UP_UNAVAILABLE);
    ck_assert_uint_eq(r->opened, 1);
    relay_free(r);
}
END_TEST

/* An upstream that takes a request and closes without a byte of answer
 * may have been made to by the request (content it cannot handle, as
 * the reference server closes on content it cannot parse): it is blamed
 * only when another upstream answers that request. With one upstream,
 * such a request fails with upstream-failed after its tries and the
 * upstream stays up for everyone else; with two, the other's answer
 * marks the one that closed down. */
START_TEST(test_pool_unanswered)
{
    gw_upstream_stats st;
    relay_t *r = relay_new(2);

    r->pc.fails = 1;
    r->connect_result = 1;
    relay_client(r, ring_req, ring_rlen, 0, 1);
    ck_assert_uint_eq(r->ulen, ring_rlen);
    relay_upstream_ends(r, 1, 2);           /* took it, closed */
    ck_assert_uint_eq(r->opened, 2);        /* tried again */
    ck_assert_uint_eq(r->ulen, 2 * ring_rlen);
    relay_upstream_ends(r, 0, 3);           /* took it, reset */
    relay_expect_error(r, GW_REQ_E_UP_FAILED);
    gw_pool_stats(r->pool, 0, &st);
    ck_assert_int_eq(st.down, 0);
    ck_assert_uint_eq(st.failures, 2);
    /* The next request is relayed and answered. */
    r->clen = 0;
    relay_client(r, ring_req, ring_rlen, 0, 4);
    ck_assert_uint_eq(r->opened, 3);
    relay_upstream(r, ring_ans, ring_alen, 0, 5);
    ck_assert_uint_eq(r->clen, ring_alen);
    ck_assert_mem_eq(r->cout, ring_ans, ring_alen);
    relay_free(r);

    /* Two upstreams: the first closes on it, the second answers. */
    r = relay_new(3);
    r->pc.n_upstreams = 2;
    r->pc.names[1] = "up:2";
    r->pc.fails = 1;
    r->pc.retry = 1000;
    r->connect_result = 1;
    relay_client(r, ring_req, ring_rlen, 0, 1);
    ck_assert_uint_eq(r->opened_to[0] + r->opened_to[1], 1);
    relay_upstream_ends(r, 1, 2);
    ck_assert_uint_eq(r->opened_to[0], 1);
    ck_assert_uint_eq(r->opened_to[1], 1);
    gw_pool_stats(r->pool, 0, &st);
    ck_assert_int_eq(st.down, 0);           /* not yet: who is to blame? */
    relay_upstream(r, ring_ans, ring_alen, 0, 3);
    ck_assert_uint_eq(r->clen, ring_alen);
    gw_pool_stats(r->pool, 0, &st);
    ck_assert_int_eq(st.down, 1);
    gw_pool_stats(r->pool, 1, &st);
    ck_assert_int_eq(st.down, 0);
    relay_free(r);

    /* Three: two close on it in turn, the third answers; both are to
     * blame (before, only the last that closed was). */
    r = relay_new(4);
    r->pc.n_upstreams = 3;
    r->pc.names[1] = "up:2";
    r->pc.names[2] = "up:3";
    r->pc.fails = 1;
    r->pc.retry = 1000;
    r->connect_result = 1;
    relay_client(r, ring_req, ring_rlen, 0, 1);
    relay_upstream_ends(r, 1, 2);
    relay_upstream_ends(r, 1, 3);
    ck_assert_uint_eq(r->opened_to[0] + r->opened_to[1] + r->opened_to[2],
                      3);
    relay_upstream(r, ring_ans, ring_alen, 0, 4);
    ck_assert_uint_eq(r->clen, ring_alen);
    {
        int down = 0;
        size_t i;

        for (i = 0; i < 3; i++) {
            gw_pool_stats(r->pool, i, &st);
            ck_assert_uint_eq(r->opened_to[i], 1);
            down += st.down;
        }
        ck_assert_int_eq(down, 2);
    }
    relay_free(r);
}
END_TEST

/* A request waiting for a pool connection waits at most the wait
 * timeout from when its wait began, however often a connection of the
 * upstream ends meanwhile (each hands the waiting requests to the pool
 * again). */
START_TEST(test_pool_wait_from_start)
{
    relay_t *r = relay_new(1);          /* wait timeout 5 */
    unsigned char got[512];
    size_t n;

    r->pc.conns = 1;
    r->connect_result = 1;
    relay_client(r, ring_req, ring_rlen, 0, 1);
    relay_send(r, 1, ring_req, ring_rlen, 0, 1);
    relay_send(r, 2, ring_req, ring_rlen, 0, 1);
    ck_assert(relay_head_queued(&r->c[2]));
    relay_upstream_ends(r, 0, 4);       /* client 1 takes the new one */
    ck_assert(relay_head_queued(&r->c[2]));
    relay_pump(r, 6);                   /* waited 5 since 1 */
    ck_assert(!relay_head_queued(&r->c[2]));
    n = relay_take(r, 2, got, sizeof got);
    ck_assert_ptr_nonnull(memmem(got, n, "upstream-timeout", 16));
    relay_free(r);
}
END_TEST

/* A request that makes every kept connection it lands on close is sent
 * again for free once, then spends its tries: with one try it is sent
 * twice in all, not once per kept connection. */
START_TEST(test_pool_closed_free_once)
{
    relay_t *r = relay_new(1);
    gw_memio *m;
    int i, k, sends = 0;

    r->pc.conns = 3;
    r->connect_result = 1;
    r->keep_sinks = 1;
    /* Three kept connections, each has answered twice (an upstream that
     * keeps its connections, unlike one closing after every answer). */
    for (i = 0; i < 2; i++) {
        for (k = 0; k < 3; k++)
            relay_send(r, k, ring_req, ring_rlen, 0, 1);
        for (k = 0; k < 3; k++)
            answer_client(r, k, 2);
    }
    ck_assert_uint_eq(r->opened, 3);
    r->clen = 0;
    relay_client(r, ring_req, ring_rlen, 0, 3);
    while (relay_head_up(&r->c[0]) != NULL && sends < 10) {
        m = gw_memnet_peer(r->net, relay_head_up(&r->c[0]));
        sends++;
        m->eof = 1;                         /* closes on it */
        relay_pump(r, 4);
    }
    ck_assert_int_eq(sends, 2);
    relay_expect_error(r, GW_REQ_E_UP_FAILED);
    relay_free(r);
}
END_TEST

/* Pipelining: a request still arriving (streamed from its client) does
 * not join a connection other clients' requests are on, so its client
 * leaving halfway does not take their answers with it. */
START_TEST(test_pool_stream_alone)
{
    static unsigned char big[8192], breq[9000], ans[4096];
    relay_t *r = relay_new(2);
    size_t alen;

    r->cfg.max_output = 256;
    r->pc.conns = 2;
    r->pc.pipeline = 2;
    r->connect_result = 1;
    memset(big, 'b', sizeof big);
    mkframe(breq, sizeof breq, "big", "x/y", "binary", big, sizeof big);
    alen = mkframe(ans, sizeof ans, "big", "x/y", "binary", big, 2000);
    relay_client(r, ring_req, ring_rlen, 0, 1);
    relay_upstream(r, ans, 300, 0, 2);          /* client 0's answer begins */
    relay_send(r, 1, breq, 1000, 0, 3);         /* client 1 streams */
    ck_assert_ptr_ne(relay_head_up(&r->c[1]), relay_head_up(&r->c[0]));
    relay_leave(r, 1);
    relay_pump(r, 4);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    relay_upstream(r, ans + 300, alen - 300, 0, 5);
    ck_assert_uint_eq(r->clen, alen);
    ck_assert_mem_eq(r->cout, ans, alen);
    relay_free(r);
}
END_TEST

/* When a connection ends, the requests that were on it go before those
 * that waited for a connection: they were on the wire first. */
START_TEST(test_pool_given_back_first)
{
    relay_t *r = relay_new(2);
    int i;

    r->pc.conns = 1;
    r->connect_result = 1;
    for (i = 0; i < 2; i++) {           /* a kept connection */
        relay_send(r, 0, ring_req, ring_rlen, 0, 1);
        answer_client(r, 0, 1);
    }
    relay_send(r, 1, ring_req, ring_rlen, 0, 2);     /* on it */
    relay_send(r, 2, ring_req, ring_rlen, 0, 2);     /* waits */
    ck_assert(!relay_head_queued(&r->c[1]));
    ck_assert(relay_head_queued(&r->c[2]));
    relay_upstream_ends(r, 1, 3);       /* closed as client 1's went */
    ck_assert(!relay_head_queued(&r->c[1]));
    ck_assert(relay_head_queued(&r->c[2]));
    relay_free(r);
}
END_TEST

/* Upstream 0 marked down at 1 (a refused connect, one failure enough)
 * for 100; its connects hang from then on. */
static void down_at_1(relay_t *r)
{
    r->pc.fails = 1;
    r->pc.retry = 100;
    r->connect_done_result = GW_IO_ERROR;
    relay_client(r, ring_req, ring_rlen, 0, 1);
    relay_expect_error(r, GW_REQ_E_UP_UNAVAILABLE);
    r->connect_done_result = 0;
}

/* A client that leaves while its answer is held back (it did not read)
 * does not leave its pool connection unwatched, nor with the clock it
 * had while it waited on the client: the connection is driven again,
 * reads, and is timed from then, so the upstream is not blamed for the
 * client's wait. */
static unsigned up_wakes;
static gw_upconn *up_watched;

static void count_wake(void *ctx, gw_upconn *u, gw_conn *c)
{
    if (u != NULL && u == up_watched)
        up_wakes++;
    gw_memnet_wake(ctx, u, c);
}

START_TEST(test_pool_leave_held)
{
    unsigned char ans[4096], big[2000];
    relay_t *r = relay_new(1);
    gw_upstream_stats st;
    gw_time d;

    memset(big, 'a', sizeof big);
    mkframe(ans, sizeof ans, "big", "x/y", "binary", big, sizeof big);
    r->cfg.max_output = 256;
    r->pc.fails = 1;
    r->pc.upstream_timeout = 5;
    relay_join(r, 0);
    r->pool->cfg.wake = count_wake;
    relay_send(r, 1, ring_req, ring_rlen, 0, 1);
    relay_connect(r, 1);
    up_watched = relay_head_up(&r->c[1]);
    r->m[1].budget = 0;                     /* client 1 does not read */
    relay_upstream(r, ans, 300, 0, 2);
    ck_assert(!(gw_upconn_poll(up_watched, &d) & GW_WANT_READ));
    up_wakes = 0;
    relay_leave(r, 1);
    ck_assert_uint_ge(up_wakes, 1);         /* driven again */
    relay_pump(r, 100);                     /* long after 2 + 5 */
    gw_pool_stats(r->pool, 0, &st);
    ck_assert_uint_eq(st.timeouts, 0);      /* timed from its drive */
    ck_assert(gw_upconn_poll(up_watched, &d) & GW_WANT_READ);
    ck_assert_int_eq(d, 100 + 5);
    relay_free(r);
}
END_TEST

/* A request that tries an upstream after its time down and goes away
 * (its client leaves) does not keep the upstream out for good: once a
 * try's longest time has passed, the next request tries it again. */
START_TEST(test_pool_try_gone)
{
    relay_t *r = relay_new(1);
    gw_time later;

    r->cfg.idle_timeout = 0;
    down_at_1(r);
    relay_send(r, 1, ring_req, ring_rlen, 0, 200);      /* tries it */
    ck_assert_uint_eq(r->opened, 2);
    relay_leave(r, 1);
    relay_pump(r, 201);
    /* Within the try's time, the next request finds it still tried. */
    r->clen = 0;
    relay_client(r, ring_req, ring_rlen, 0, 300);
    relay_expect_error(r, GW_REQ_E_UP_UNAVAILABLE);
    /* After it (a minute: no connect timeout here), it is tried, on
     * the connection the one gone had opened. */
    later = 300 + GW_POOL_RETRY_MAX;
    r->clen = 0;
    relay_client(r, ring_req, ring_rlen, 0, later);
    ck_assert_uint_eq(r->clen, 0);                      /* on its way */
    ck_assert_ptr_nonnull(r->up);
    if (!r->up->connected)
        relay_connect(r, later);
    relay_upstream(r, ring_ans, ring_alen, 0, later + 1);
    ck_assert_uint_eq(r->clen, ring_alen);
    ck_assert_mem_eq(r->cout, ring_ans, ring_alen);
    relay_free(r);
}
END_TEST

/* While a probe is on, the pool's next time is never in the past (the
 * loop would spin until the probe ends). */
START_TEST(test_pool_tick_while_probing)
{
    relay_t *r = relay_new(1);

    r->pc.check = 10;
    down_at_1(r);                           /* next check 11 */
    relay_pump(r, 11);
    ck_assert_int_gt(gw_pool_tick(r->pool, 30), 30);
    ck_assert_int_gt(gw_pool_tick(r->pool, 40), 40);
    relay_free(r);
}
END_TEST

/* Connections that fail together as the upstream goes down (a restart
 * resets them all) mark it down once: the time down doubles per try
 * after it, not per connection. */
START_TEST(test_pool_down_once)
{
    relay_t *r = relay_new(1);
    int k;

    r->pc.fails = 1;
    r->pc.retry = 100;
    r->pc.connect_timeout = 5;
    for (k = 0; k < 4; k++)
        relay_send(r, k, ring_req, ring_rlen, 0, 1);
    relay_pump(r, 10);                  /* the four connects time out */
    ck_assert_uint_eq(r->closed, 4);
    ck_assert_int_eq(r->pool->up[0].down_until, 10 + 100);
    ck_assert_int_eq(r->pool->up[0].retry, 200);
    relay_free(r);
}
END_TEST

/* With --upstream-proxy-protocol a probe starts with a PROXY header too
 * (LOCAL: it has no client), or an upstream that requires one would
 * refuse every probe and never come back. */
START_TEST(test_pool_probe_proxy_header)
{
    relay_t *r = relay_new(1);
    gw_proxy_info got;

    r->pc.upstream_proxy = 1;
    r->pc.check = 10;
    down_at_1(r);
    r->ulen = 0;
    relay_pump(r, 11);
    relay_connect(r, 12);
    ck_assert_int_eq(gw_proxy_parse(r->uout, r->ulen, &got), GW_PROXY_OK);
    ck_assert_int_eq(got.family, AF_UNSPEC);    /* LOCAL: no addresses */
    relay_free(r);
}
END_TEST

/* The active check: a down upstream is probed with a search every
 * period; a valid frame back marks it up again. */
START_TEST(test_pool_check)
{
    relay_t *r = relay_new(1);
    size_t n;

    r->pc.fails = 1;
    r->pc.retry = 100000;
    r->pc.check = 50;
    r->connect_result = 1;
    r->refuse[0] = 1;
    relay_client(r, ring_req, ring_rlen, 0, 1);
    relay_expect_error(r, GW_REQ_E_UP_UNAVAILABLE);
    r->refuse[0] = 0;
    relay_pump(r, 40);
    ck_assert_uint_eq(r->opened, 1);
    relay_pump(r, 51);
    ck_assert_uint_eq(r->opened, 2);           /* the probe */
    n = r->ulen;
    ck_assert_uint_gt(n, 0);
    ck_assert_ptr_nonnull(memmem(r->uout, n, "hframe-check", 12));
    relay_upstream(r, ring_ans, ring_alen, 0, 52);
    /* Up again: requests go there. */
    relay_client(r, ring_req, ring_rlen, 0, 53);
    ck_assert_uint_eq(r->ulen, n + ring_rlen);
    relay_upstream(r, ring_ans, ring_alen, 0, 54);
    ck_assert_uint_eq(r->clen, ring_alen);
    relay_free(r);
}
END_TEST

/* With no upstream timeout (0), a probe the upstream takes and never
 * answers still ends, with its try: before, it stayed open, and every
 * later check left one more such connection behind. */
START_TEST(test_pool_check_silent_no_timeout)
{
    relay_t *r = relay_new(1);
    gw_time end = 21 + GW_POOL_RETRY_MAX;
    unsigned closed;

    r->pc.fails = 1;
    r->pc.retry = 100000;
    r->pc.check = 20;
    r->pc.upstream_timeout = 0;
    r->connect_result = 1;
    r->refuse[0] = 1;
    relay_client(r, ring_req, ring_rlen, 0, 1);
    relay_expect_error(r, GW_REQ_E_UP_UNAVAILABLE);
    r->refuse[0] = 0;
    relay_pump(r, 21);
    ck_assert_uint_eq(r->opened, 2);           /* the probe */
    closed = r->closed;
    relay_pump(r, end - 1);
    ck_assert_uint_eq(r->opened, 2);           /* its try is on */
    ck_assert_uint_eq(r->closed, closed);
    relay_pump(r, end);
    relay_pump(r, end);
    ck_assert_uint_eq(r->closed, closed + 1);  /* it ended */
    ck_assert_uint_eq(r->opened, r->closed + 1);   /* one probe open */
    relay_free(r);
}
END_TEST

/* A probe that the upstream takes and never answers times out like a
 * request (it has no entry of its own to be waited on), and the next
 * check probes again, which brings the upstream back. */
START_TEST(test_pool_check_silent)
{
    relay_t *r = relay_new(1);
    unsigned closed;
    size_t n;

    r->pc.fails = 1;
    r->pc.retry = 100000;
    r->pc.check = 20;
    r->pc.upstream_timeout = 10;
    r->connect_result = 1;
    r->refuse[0] = 1;
    relay_client(r, ring_req, ring_rlen, 0, 1);
    relay_expect_error(r, GW_REQ_E_UP_UNAVAILABLE);
    r->refuse[0] = 0;
    relay_pump(r, 21);
    ck_assert_uint_eq(r->opened, 2);           /* the probe */
    ck_assert_ptr_nonnull(memmem(r->uout, r->ulen, "hframe-check", 12));
    closed = r->closed;
    relay_pump(r, 30);
    ck_assert_uint_eq(r->closed, closed);      /* within its timeout */
    relay_pump(r, 32);
    ck_assert_uint_eq(r->closed, closed + 1);  /* timed out */
    n = r->ulen;
    relay_pump(r, 52);
    relay_pump(r, 52);
    ck_assert_uint_eq(r->opened, 3);           /* probed again */
    ck_assert_uint_gt(r->ulen, n);
    relay_upstream(r, ring_ans, ring_alen, 0, 53);
    relay_client(r, ring_req, ring_rlen, 0, 54);
    relay_upstream(r, ring_ans, ring_alen, 0, 55);
    ck_assert_uint_eq(r->clen, ring_alen);     /* up again */
    relay_free(r);
}
END_TEST

Suite *relay_suite(void)
{
    Suite *s = suite_create("relay");
    TCase *tc = tcase_create("relay");

    tcase_add_checked_fixture(tc, ring_setup, builtin_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_relay_roundtrip, 0, MAX_CHUNK + 1);
    tcase_add_test(tc, test_relay_one_at_a_time);
    tcase_add_test(tc, test_relay_names);
    tcase_add_test(tc, test_relay_unavailable);
    tcase_add_test(tc, test_relay_no_socket);
    tcase_add_test(tc, test_relay_connect_timeout);
    tcase_add_test(tc, test_relay_bad_frame);
    tcase_add_test(tc, test_relay_timeout);
    tcase_add_test(tc, test_relay_timeout_queued);
    tcase_add_test(tc, test_relay_replay);
    tcase_add_test(tc, test_relay_half_answer);
    tcase_add_test(tc, test_relay_cut_unsent);
    tcase_add_test(tc, test_relay_stray_bytes);
    tcase_add_test(tc, test_relay_held_then_stray);
    tcase_add_loop_test(tc, test_relay_client_error, 0, 4);
    tcase_add_test(tc, test_relay_client_eof);
    tcase_add_test(tc, test_relay_large);
    tcase_add_test(tc, test_relay_held_upload);
    tcase_add_test(tc, test_relay_early_answer);
    tcase_add_test(tc, test_relay_answer_then_reset);
    tcase_add_test(tc, test_relay_shutdown);
    tcase_add_test(tc, test_relay_slow_reader);
    tcase_add_test(tc, test_relay_slow_sender);
    tcase_add_test(tc, test_relay_upstream_proxy);
    tcase_add_loop_test(tc, test_relay_cap_boundary, 0, 150);
    tcase_add_test(tc, test_pool_shared);
    tcase_add_test(tc, test_pool_busy);
    tcase_add_loop_test(tc, test_pool_total, 0, 2);
    tcase_add_loop_test(tc, test_pool_private, 0, 3);
    tcase_add_test(tc, test_pool_pipelined);
    tcase_add_test(tc, test_pool_one_each);
    tcase_add_test(tc, test_pool_same_pass);
    tcase_add_test(tc, test_pool_pipeline_broken);
    tcase_add_test(tc, test_pool_queued_unsent);
    tcase_add_test(tc, test_pool_order);
    tcase_add_test(tc, test_pool_leave_held);
    tcase_add_test(tc, test_pool_wait_from_start);
    tcase_add_test(tc, test_pool_closed_free_once);
    tcase_add_test(tc, test_pool_stream_alone);
    tcase_add_test(tc, test_pool_given_back_first);
    tcase_add_test(tc, test_pool_try_gone);
    tcase_add_test(tc, test_pool_tick_while_probing);
    tcase_add_test(tc, test_pool_down_once);
    tcase_add_test(tc, test_pool_probe_proxy_header);
    tcase_add_test(tc, test_pool_private_flag);
    tcase_add_test(tc, test_pool_health);
    tcase_add_test(tc, test_pool_unanswered);
    tcase_add_test(tc, test_pool_check);
    tcase_add_test(tc, test_pool_check_silent);
    tcase_add_test(tc, test_pool_check_silent_no_timeout);
    suite_add_tcase(s, tc);
    return s;
}
