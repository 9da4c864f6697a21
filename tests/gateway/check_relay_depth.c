/*
 * check_relay_depth.c - a client's pipelined requests relayed side by
 * side (gw_relay.h, cfg.relay.depth > 1): each on a pool connection of
 * its own, answers held until the earlier ones are through, so the
 * client reads them in the order it asked, whatever order they come
 * back in.
 */
#include <stdio.h>
#include <string.h>

#include "gw_test.h"

#define DEPTH_REQS 3

/* Client 0's requests, and an answer to each (distinct contents). */
static unsigned char d_req[DEPTH_REQS * 256], d_ans[DEPTH_REQS][256];
static size_t d_rlen[DEPTH_REQS], d_alen[DEPTH_REQS], d_all;

static void depth_setup(void)
{
    static const char *const value[DEPTH_REQS] = { "ring", "dog", "cat" };
    char result[64];
    int i;

    builtin_setup();
    d_all = 0;
    for (i = 0; i < DEPTH_REQS; i++) {
        d_rlen[i] = search_request(d_req + d_all, sizeof d_req - d_all,
                                   value[i]);
        d_all += d_rlen[i];
        snprintf(result, sizeof result, "{\"result\": \"answer %d\"}", i);
        d_alen[i] = json_answer(d_ans[i], sizeof d_ans[i], result);
    }
}

/* A relay whose client 0 may have depth requests in hand; connects
 * succeed at once. */
static relay_t *depth_relay(unsigned depth, unsigned conns,
                            unsigned pipeline)
{
    relay_t *r = relay_new(1);

    r->cfg.relay.depth = depth;
    r->pc.conns = conns;
    r->pc.pipeline = pipeline;
    r->connect_result = 1;
    r->keep_sinks = 1;
    return r;
}

/* The upstream peer carrying client k's i-th request in hand. */
static gw_memio *peer_of(relay_t *r, int k, unsigned i)
{
    gw_upconn *u = relay_nth_up(&r->c[k], i);
    gw_memio *m;

    ck_assert_ptr_nonnull(u);
    m = gw_memnet_peer(r->net, u);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* The peer received exactly len bytes, p. */
static void peer_got(gw_memio *m, const void *p, size_t len)
{
    size_t n;
    const unsigned char *got = gw_memio_sink(m, &n);

    ck_assert_uint_eq(n, len);
    ck_assert_mem_eq(got, p, len);
    gw_memio_take(m);
}

static void answer(relay_t *r, gw_memio *m, const void *p, size_t len,
                   gw_time now)
{
    ck_assert_int_eq(gw_memio_send(m, p, len), 0);
    relay_pump(r, now);
}

/* Client 0's received bytes are the answers to its requests, in order. */
static void expect_answers_in_order(relay_t *r)
{
    size_t off = 0;
    int i;

    for (i = 0; i < DEPTH_REQS; i++) {
        ck_assert_uint_ge(r->clen, off + d_alen[i]);
        ck_assert_mem_eq(r->cout + off, d_ans[i], d_alen[i]);
        off += d_alen[i];
    }
    ck_assert_uint_eq(r->clen, off);
}

/* Three requests in one write go out at once on three connections;
 * answered last first, they reach the client first first, and every
 * connection is kept. */
START_TEST(test_depth_side_by_side)
{
    relay_t *r = depth_relay(4, 16, 1);
    gw_memio *m[DEPTH_REQS];
    size_t off = 0;
    int i;

    relay_client(r, d_req, d_all, 0, 1);
    ck_assert_uint_eq(r->opened, DEPTH_REQS);
    for (i = 0; i < DEPTH_REQS; i++) {
        m[i] = peer_of(r, 0, (unsigned)i);
        peer_got(m[i], d_req + off, d_rlen[i]);
        off += d_rlen[i];
    }
    answer(r, m[2], d_ans[2], d_alen[2], 2);
    answer(r, m[1], d_ans[1], d_alen[1], 3);
    ck_assert_uint_eq(r->clen, 0);          /* held for the first */
    ck_assert_uint_eq(gw_conn_requests(&r->c[0]), 0);   /* told in order */
    answer(r, m[0], d_ans[0], d_alen[0], 4);
    expect_answers_in_order(r);
    ck_assert_uint_eq(gw_conn_requests(&r->c[0]), DEPTH_REQS);
    ck_assert(!gw_conn_in_request(&r->c[0]));
    ck_assert_uint_eq(r->closed, 0);
    relay_free(r);
}
END_TEST

/* Exchanges a pipelining client is done with are kept for its next
 * requests (up to its depth, the first with its buffers) and freed
 * when it idles. */
START_TEST(test_depth_spares)
{
    relay_t *r = depth_relay(2, 16, 1);
    const gw_exchange *was[2];
    gw_memio *m[2];
    int i;

    r->cfg.idle_timeout = 0;
    for (i = 0; i < 2; i++) {
        relay_client(r, d_req, d_rlen[0] + d_rlen[1], 0, 1);
        if (i == 0) {
            was[0] = r->c[0].relay.head;
            was[1] = was[0]->next;
        } else {
            /* The same two, taken from the spares. */
            ck_assert(r->c[0].relay.head == was[0] ||
                      r->c[0].relay.head == was[1]);
            ck_assert(r->c[0].relay.head->next == was[0] ||
                      r->c[0].relay.head->next == was[1]);
        }
        m[0] = peer_of(r, 0, 0);
        m[1] = peer_of(r, 0, 1);
        answer(r, m[0], d_ans[0], d_alen[0], 2);
        answer(r, m[1], d_ans[1], d_alen[1], 3);
        ck_assert_uint_eq(r->c[0].relay.n, 0);
        ck_assert_uint_eq(r->c[0].relay.n_spare, 2);
        r->clen = 0;
    }
    relay_pump(r, 3 + GW_TRIM_AFTER);   /* idle: trimmed */
    ck_assert_uint_eq(r->c[0].relay.n_spare, 0);
    ck_assert_uint_eq(gw_conn_buffered(&r->c[0]), 0);
    relay_free(r);
}
END_TEST

/* With depth 1 (and by default) the second request goes out only once
 * the first is answered. */
START_TEST(test_depth_one)
{
    relay_t *r = depth_relay(_i, 16, 1);
    gw_memio *m;

    relay_client(r, d_req, d_rlen[0] + d_rlen[1], 0, 1);
    ck_assert_uint_eq(r->opened, 1);
    m = peer_of(r, 0, 0);
    peer_got(m, d_req, d_rlen[0]);
    answer(r, m, d_ans[0], d_alen[0], 2);
    ck_assert_uint_eq(r->opened, 1);
    peer_got(m, d_req + d_rlen[0], d_rlen[1]);
    relay_free(r);
}
END_TEST

/* On a pipelined connection a client's later requests follow its first
 * (they go out together); another client's request is never queued
 * behind a later one (whose held answer could hold it up), only behind
 * every client's first. */
START_TEST(test_depth_no_sharing_behind)
{
    relay_t *r = depth_relay(4, 1, 4);
    unsigned char other[256], other_ans[256];
    size_t olen = search_request(other, sizeof other, "fox");
    size_t oalen = json_answer(other_ans, sizeof other_ans, "{\"o\": 1}");
    unsigned char got[256];
    gw_memio *m;

    relay_client(r, d_req, d_rlen[0] + d_rlen[1], 0, 1);
    ck_assert_uint_eq(r->opened, 1);
    m = peer_of(r, 0, 0);
    ck_assert_ptr_eq(relay_nth_up(&r->c[0], 1), relay_nth_up(&r->c[0], 0));
    peer_got(m, d_req, d_rlen[0] + d_rlen[1]);
    relay_send(r, 1, other, olen, 0, 2);    /* not behind a later one */
    ck_assert(relay_head_queued(&r->c[1]));
    peer_got(m, "", 0);
    answer(r, m, d_ans[0], d_alen[0], 3);
    ck_assert_uint_eq(r->clen, d_alen[0]);
    peer_got(m, other, olen);               /* behind a first now */
    answer(r, m, d_ans[1], d_alen[1], 4);
    ck_assert_uint_eq(r->clen, d_alen[0] + d_alen[1]);
    ck_assert_mem_eq(r->cout + d_alen[0], d_ans[1], d_alen[1]);
    answer(r, m, other_ans, oalen, 5);
    ck_assert_uint_eq(relay_take(r, 1, got, sizeof got), oalen);
    ck_assert_mem_eq(got, other_ans, oalen);
    ck_assert_uint_eq(r->opened, 1);
    relay_free(r);
}
END_TEST

/* Without pipelining, a later request waits for a connection of its
 * own rather than share one. */
START_TEST(test_depth_own_connection)
{
    relay_t *r = depth_relay(4, 1, 1);
    gw_memio *m;

    relay_client(r, d_req, d_rlen[0] + d_rlen[1], 0, 1);
    ck_assert_uint_eq(r->opened, 1);
    m = peer_of(r, 0, 0);
    peer_got(m, d_req, d_rlen[0]);
    ck_assert(relay_nth_queued(&r->c[0], 1));
    answer(r, m, d_ans[0], d_alen[0], 2);
    peer_got(m, d_req + d_rlen[0], d_rlen[1]);
    answer(r, m, d_ans[1], d_alen[1], 3);
    ck_assert_uint_eq(r->clen, d_alen[0] + d_alen[1]);
    relay_free(r);
}
END_TEST

/* A held answer longer than the output cap: its connection stops
 * reading at the cap, and the whole of it follows the first answer. */
START_TEST(test_depth_held_cap)
{
    static unsigned char big[8192], big_ans[8192 + 256];
    relay_t *r = depth_relay(4, 16, 1);
    size_t blen, n, off;
    gw_memio *m0, *m1;
    unsigned i;

    for (i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7);
    blen = mkanswer(big_ans, sizeof big_ans, "binary/custom-server",
                    "binary", big, sizeof big);
    r->cfg.max_output = 512;
    relay_client(r, d_req, d_rlen[0] + d_rlen[1], 0, 1);
    m0 = peer_of(r, 0, 0);
    m1 = peer_of(r, 0, 1);
    answer(r, m1, big_ans, blen, 2);
    ck_assert_uint_eq(r->clen, 0);
    ck_assert_uint_le(gw_relay_buffered(&r->c[0]),
                      4 * (512 + GW_DRIVE_READ_SIZE) + 4 * GW_BUF_MIN_ALLOC);
    gw_memio_sink(m1, &n);
    answer(r, m0, d_ans[0], d_alen[0], 3);
    for (i = 0; i < 64 && r->clen < d_alen[0] + blen; i++)
        relay_pump(r, 4 + i);
    ck_assert_uint_eq(r->clen, d_alen[0] + blen);
    ck_assert_mem_eq(r->cout, d_ans[0], d_alen[0]);
    off = d_alen[0];
    ck_assert_mem_eq(r->cout + off, big_ans, blen);
    relay_free(r);
}
END_TEST

/* A later request's connection breaks in the middle of its held answer:
 * an upstream-failed error frame takes its place, after the first
 * answer, and the client connection stays open. */
START_TEST(test_depth_held_broken)
{
    relay_t *r = depth_relay(4, 16, 1);
    gw_memio *m0, *m1;
    unsigned char err[512];
    size_t elen = error_answer(err, sizeof err, GW_REQ_E_UP_FAILED);

    relay_client(r, d_req, d_rlen[0] + d_rlen[1], 0, 1);
    m0 = peer_of(r, 0, 0);
    m1 = peer_of(r, 0, 1);
    answer(r, m1, d_ans[1], d_alen[1] - 3, 2);
    m1->eof = 1;
    relay_pump(r, 3);
    ck_assert_uint_eq(r->clen, 0);
    answer(r, m0, d_ans[0], d_alen[0], 4);
    ck_assert_uint_eq(r->clen, d_alen[0] + elen);
    ck_assert_mem_eq(r->cout, d_ans[0], d_alen[0]);
    assert_error_frame(r->cout + d_alen[0], elen,
                       gw_req_status_name(GW_REQ_E_UP_FAILED));
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    ck_assert_uint_eq(gw_conn_requests(&r->c[0]), 2);
    relay_free(r);
}
END_TEST

/* The head's answer breaks off after its first bytes reached the
 * client: the client is closed (no frame boundary is left for an error
 * frame), and the request behind it on the same connection is not sent
 * again on another one for a client that is gone. */
START_TEST(test_depth_cut_head_no_retry)
{
    relay_t *r = depth_relay(2, 16, 2);
    gw_memio *m;

    r->cfg.relay.attempts = 3;
    relay_client(r, d_req, d_rlen[0] + d_rlen[1], 0, 1);
    ck_assert_ptr_eq(relay_nth_up(&r->c[0], 0), relay_nth_up(&r->c[0], 1));
    ck_assert_uint_eq(r->opened, 1);
    m = peer_of(r, 0, 0);
    answer(r, m, d_ans[0], d_alen[0] - 3, 2);
    ck_assert_uint_eq(r->clen, d_alen[0] - 3);
    m->eof = 1;
    relay_pump(r, 3);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_CLOSED);
    ck_assert_uint_eq(r->opened, 1);            /* nothing sent again */
    ck_assert_uint_eq(r->clen, d_alen[0] - 3);
    relay_free(r);
}
END_TEST

/* A bad frame after a pipelined request: its error frame follows the
 * answer to the request before it. */
START_TEST(test_depth_bad_frame_after)
{
    relay_t *r = depth_relay(4, 16, 1);
    unsigned char buf[512];
    size_t len;

    memcpy(buf, d_req, d_rlen[0]);
    memcpy(buf + d_rlen[0], "\x00\x05hello", 7);
    len = d_rlen[0] + 7;
    relay_client(r, buf, len, 0, 1);
    ck_assert_uint_eq(r->clen, 0);
    ck_assert(!(relay_wants(r, NULL) & GW_WANT_READ));
    answer(r, peer_of(r, 0, 0), d_ans[0], d_alen[0], 2);
    ck_assert_uint_gt(r->clen, d_alen[0]);
    ck_assert_mem_eq(r->cout, d_ans[0], d_alen[0]);
    assert_error_frame(r->cout + d_alen[0], r->clen - d_alen[0],
                       hf_status_name(HF_E_JSON_SYNTAX));
    ck_assert_int_ne(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    ck_assert_int_eq(gw_conn_reason(&r->c[0]), GW_CLOSE_FRAME_ERROR);
    relay_free(r);
}
END_TEST

/* The client closes its side with answers on their way: they are all
 * sent, then the connection closes. */
START_TEST(test_depth_eof)
{
    relay_t *r = depth_relay(4, 16, 1);
    gw_memio *m[DEPTH_REQS];
    int i;

    relay_client(r, d_req, d_all, 0, 1);
    for (i = 0; i < DEPTH_REQS; i++)
        m[i] = peer_of(r, 0, (unsigned)i);
    r->m[0].eof = 1;
    relay_pump(r, 2);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    for (i = DEPTH_REQS - 1; i >= 0; i--)
        answer(r, m[i], d_ans[i], d_alen[i], 3 + i);
    expect_answers_in_order(r);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_CLOSING);
    ck_assert_int_eq(gw_conn_reason(&r->c[0]), GW_CLOSE_PEER);
    relay_free(r);
}
END_TEST

/* At the depth, the client is not read until an answer is through. */
START_TEST(test_depth_limit)
{
    relay_t *r = depth_relay(2, 16, 1);
    gw_memio *m0;

    relay_client(r, d_req, d_all, 0, 1);
    ck_assert_uint_eq(r->opened, 2);
    ck_assert(!(relay_wants(r, NULL) & GW_WANT_READ));
    m0 = peer_of(r, 0, 0);
    peer_got(m0, d_req, d_rlen[0]);
    answer(r, m0, d_ans[0], d_alen[0], 2);
    ck_assert_uint_eq(r->clen, d_alen[0]);
    /* The third goes out on the first's kept connection. */
    ck_assert_uint_eq(r->opened, 2);
    peer_got(m0, d_req + d_rlen[0] + d_rlen[1], d_rlen[2]);
    answer(r, peer_of(r, 0, 0), d_ans[1], d_alen[1], 3);
    answer(r, m0, d_ans[2], d_alen[2], 4);
    expect_answers_in_order(r);
    relay_free(r);
}
END_TEST

/* The server stops with requests in hand: no request after them is
 * read; they are answered, then the connection closes. */
START_TEST(test_depth_shutdown)
{
    relay_t *r = depth_relay(4, 16, 1);
    gw_memio *m0;

    relay_client(r, d_req, d_rlen[0], 0, 1);
    m0 = peer_of(r, 0, 0);
    gw_conn_shutdown(&r->c[0], 2);
    ck_assert(!(relay_wants(r, NULL) & GW_WANT_READ));
    relay_client(r, d_req + d_rlen[0], d_rlen[1], 0, 3);
    ck_assert_uint_eq(r->opened, 1);        /* not read */
    answer(r, m0, d_ans[0], d_alen[0], 4);
    ck_assert_uint_eq(r->clen, d_alen[0]);
    ck_assert_int_ne(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    ck_assert_int_eq(gw_conn_reason(&r->c[0]), GW_CLOSE_SHUTDOWN);
    ck_assert_uint_eq(gw_conn_requests(&r->c[0]), 1);
    relay_free(r);
}
END_TEST

/* The server stops while a PROXY header is being read: once it is read,
 * the connection closes (no request is in hand). */
START_TEST(test_depth_shutdown_proxy)
{
    static const char proxy[] = "PROXY TCP4 10.0.0.1 10.0.0.2 1111 2222\r\n";
    relay_t *r = depth_relay(4, 16, 1);

    r->cfg.proxy_protocol = 1;
    relay_client(r, proxy, 10, 0, 1);
    gw_conn_shutdown(&r->c[0], 2);
    ck_assert_int_eq(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    relay_client(r, proxy + 10, sizeof proxy - 1 - 10, 0, 3);
    ck_assert_int_ne(gw_conn_state(&r->c[0]), GW_CONN_OPEN);
    ck_assert_int_eq(gw_conn_reason(&r->c[0]), GW_CLOSE_SHUTDOWN);
    ck_assert_uint_eq(r->opened, 0);
    relay_free(r);
}
END_TEST

Suite *relay_depth_suite(void)
{
    Suite *s = suite_create("relay depth");
    TCase *tc = tcase_create("depth");

    tcase_add_checked_fixture(tc, depth_setup, builtin_teardown);
    tcase_add_test(tc, test_depth_side_by_side);
    tcase_add_test(tc, test_depth_spares);
    tcase_add_loop_test(tc, test_depth_one, 0, 2);
    tcase_add_test(tc, test_depth_no_sharing_behind);
    tcase_add_test(tc, test_depth_own_connection);
    tcase_add_test(tc, test_depth_held_cap);
    tcase_add_test(tc, test_depth_held_broken);
    tcase_add_test(tc, test_depth_cut_head_no_retry);
    tcase_add_test(tc, test_depth_bad_frame_after);
    tcase_add_test(tc, test_depth_eof);
    tcase_add_test(tc, test_depth_limit);
    tcase_add_test(tc, test_depth_shutdown);
    tcase_add_test(tc, test_depth_shutdown_proxy);
    suite_add_tcase(s, tc);
    return s;
}
