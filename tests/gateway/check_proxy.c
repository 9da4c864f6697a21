/* check_proxy.c - the PROXY protocol header (gw_proxy.h) and the
 * connection that must start with one. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "gw_test.h"

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
    gw_time d;
    pair p;

    memcpy(in, hdr, sizeof hdr - 1);
    rlen = vec_request(&req_vecs[0], in + sizeof hdr - 1,
                       sizeof in - sizeof hdr);
    wlen = vec_answer(&req_vecs[0], want, sizeof want);
    memset(&seen_proxy, 0, sizeof seen_proxy);
    pair_init(&p);
    p.cfg.proxy_protocol = 1;
    p.cfg.on_proxy = keep_proxy;
    pair_open(&p, NULL);
    n = pair_feed(&p, in, sizeof hdr - 1 + rlen, (size_t)_i, got,
                  sizeof got);
    ck_assert_uint_eq(n, wlen);
    ck_assert_mem_eq(got, want, wlen);
    ck_assert_int_eq(seen_proxy.family, AF_INET);
    ck_assert_uint_eq(seen_proxy.src_port, 51234);
    ck_assert_int_eq(gw_conn_state(&p.c), GW_CONN_OPEN);
    pair_free(&p);

    /* A frame where the header should be. */
    pair_init(&p);
    p.cfg.proxy_protocol = 1;
    pair_open(&p, NULL);
    n = pair_feed(&p, in + sizeof hdr - 1, rlen, (size_t)_i, got,
                  sizeof got);
    assert_error_frame(got, n, "bad-proxy-header");
    ck_assert_int_eq(gw_conn_state(&p.c), GW_CONN_DRAINING);
    pair_free(&p);

    /* A client that never finishes it meets the request timeout. */
    pair_init(&p);
    p.cfg.proxy_protocol = 1;
    pair_open(&p, NULL);
    gw_conn_input(&p.c, "PROXY ", 6, 1);
    gw_conn_poll(&p.c, &d);
    ck_assert_int_eq(d, 1 + p.cfg.request_timeout);
    ck_assert_int_eq(gw_conn_tick(&p.c, 1 + p.cfg.request_timeout),
                     GW_CONN_CLOSED);
    ck_assert_int_eq(gw_conn_reason(&p.c), GW_CLOSE_REQUEST_TIMEOUT);
    pair_free(&p);
}
END_TEST

/* PROXY headers cut short: v1, v2 (inside its signature), one byte. */
static const struct { const char *bytes; size_t len; } proxy_cuts[] = {
    { "PROXY TCP4 203.0.113.7", 22 },
    { "\r\n\r\n\0\r\nQU", 10 },
    { "P", 1 },
};
#define N_PROXY_CUTS ((int)(sizeof proxy_cuts / sizeof proxy_cuts[0]))

/* A header cut short by the client's EOF is answered like a frame cut
 * short: an error frame (bad-proxy-header), then close. EOF before any
 * byte is a plain close. */
START_TEST(test_conn_proxy_eof)
{
    unsigned char got[4096];
    size_t n;
    pair p;

    pair_init(&p);
    p.cfg.proxy_protocol = 1;
    pair_open(&p, NULL);
    p.m.eof = 1;
    n = pair_feed(&p, proxy_cuts[_i].bytes, proxy_cuts[_i].len, 0, got,
                  sizeof got);
    assert_error_frame(got, n, "bad-proxy-header");
    ck_assert_int_eq(gw_conn_reason(&p.c), GW_CLOSE_FRAME_ERROR);
    ck_assert(pair_settle(&p) & GW_WANT_CLOSE);
    pair_free(&p);

    pair_init(&p);
    p.cfg.proxy_protocol = 1;
    pair_open(&p, NULL);
    p.m.eof = 1;
    ck_assert_uint_eq(pair_feed(&p, "", 0, 0, got, sizeof got), 0);
    ck_assert_int_eq(gw_conn_reason(&p.c), GW_CLOSE_PEER);
    pair_free(&p);
}
END_TEST

/* The same in relay mode: bad-proxy-header, and nothing goes upstream
 * (no connection is even opened). */
START_TEST(test_relay_proxy_eof)
{
    relay_t *r = relay_new(1);

    r->cfg.proxy_protocol = 1;
    r->connect_result = 1;
    relay_join(r, 0);
    r->m[0].eof = 1;
    relay_client(r, proxy_cuts[_i].bytes, proxy_cuts[_i].len, 0, 1);
    assert_error_frame(r->cout, r->clen, "bad-proxy-header");
    ck_assert_int_eq(gw_conn_reason(&r->c[0]), GW_CLOSE_FRAME_ERROR);
    ck_assert(relay_wants(r, NULL) & GW_WANT_CLOSE);
    ck_assert_uint_eq(r->opened, 0);
    ck_assert_uint_eq(r->ulen, 0);
    relay_free(r);
}
END_TEST

/* A relay passes the client its PROXY header named on to the upstream;
 * a header without an address (UNKNOWN, LOCAL, a Unix socket) makes the
 * client unknown, so the upstream gets LOCAL, never the address of the
 * balancer that connected. */
START_TEST(test_relay_proxy_unknown)
{
    static const struct { const char *bytes; size_t len; } hdrs[] = {
        { "PROXY UNKNOWN\r\n", 15 },
        { V2SIG "\x20\x00\x00\x00", 16 },
        { V2SIG "\x21\x31\x00\xd8", 16 },
    };
    unsigned char in[4096];
    size_t hlen = hdrs[_i].len, rlen;
    gw_proxy_info lb, got;
    relay_t *r = relay_new(1);

    memcpy(in, hdrs[_i].bytes, hlen);
    if (_i == 2) {
        memset(in + hlen, 0, 216);      /* two Unix socket paths */
        hlen += 216;
    }
    rlen = search_request(in + hlen, sizeof in - hlen, "ring");
    r->cfg.proxy_protocol = 1;
    r->pc.upstream_proxy = 1;
    r->connect_result = 1;
    relay_join(r, 0);
    /* The balancer's own address, as the loop sets it from the socket. */
    memset(&lb, 0, sizeof lb);
    lb.family = AF_INET;
    ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.9", lb.src_addr), 1);
    lb.src_port = 5555;
    gw_conn_set_addresses(&r->c[0], &lb);
    relay_client(r, in, hlen + rlen, 0, 1);
    ck_assert_int_eq(gw_proxy_parse(r->uout, r->ulen, &got), GW_PROXY_OK);
    ck_assert_int_eq(got.family, AF_UNSPEC);
    ck_assert_uint_eq(got.len, 16);
    ck_assert_int_eq(r->uout[12], 0x20);        /* LOCAL */
    ck_assert_uint_eq(r->ulen, got.len + rlen);
    ck_assert_mem_eq(r->uout + got.len, in + hlen, rlen);
    relay_free(r);
}
END_TEST

Suite *proxy_suite(void)
{
    Suite *s = suite_create("proxy");
    TCase *tc = tcase_create("proxy");

    tcase_add_checked_fixture(tc, builtin_setup, builtin_teardown);
    tcase_add_loop_test(tc, test_proxy_vectors, 0,
                        (int)(sizeof proxy_vecs / sizeof proxy_vecs[0]));
    tcase_add_loop_test(tc, test_conn_proxy, 0, MAX_CHUNK + 1);
    tcase_add_loop_test(tc, test_conn_proxy_eof, 0, N_PROXY_CUTS);
    tcase_add_loop_test(tc, test_relay_proxy_eof, 0, N_PROXY_CUTS);
    tcase_add_loop_test(tc, test_relay_proxy_unknown, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}
