/* gw_test.c - what the gateway's Check suites share (see gw_test.h). */
#include "gw_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gw_index *builtin;

void builtin_setup(void)
{
    builtin = gw_index_builtin();
    ck_assert_ptr_nonnull(builtin);
}

void builtin_teardown(void)
{
    gw_index_free(builtin);
    builtin = NULL;
}

/* A frame with a hand-written header (requests need not be canonical). */
size_t mkframe(unsigned char *out, size_t cap, const char *bo,
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
size_t mkanswer(unsigned char *out, size_t cap, const char *ctype,
                       const char *enc, const void *content, size_t clen)
{
    return mkframe(out, cap, hf_byteorder_name(hf_host_byteorder()), ctype,
                   enc, content, clen);
}

size_t json_answer(unsigned char *out, size_t cap, const char *c)
{
    return mkanswer(out, cap, "text/json", "utf-8", c, strlen(c));
}

size_t error_answer(unsigned char *out, size_t cap, gw_req_status st)
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

size_t search_request(unsigned char *out, size_t cap, const char *v)
{
    char c[256];

    snprintf(c, sizeof c, "{\"action\": \"search\", \"value\": \"%s\"}", v);
    return mkframe(out, cap, "big", "text/json", "utf-8", c, strlen(c));
}

#define X64 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

const req_vec req_vecs[] = {
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
    /* The handler keeps strings up to 64 bytes without a malloc. */
    { "search miss, 64-byte value", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"" X64 "\"}", 0,
      GW_KIND_SEARCH, GW_REQ_OK,
      "{\"result\": \"No match for '" X64 "'.\"}" },
    { "search miss, 65-byte value", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"" X64 "y\"}", 0,
      GW_KIND_SEARCH, GW_REQ_OK,
      "{\"result\": \"No match for '" X64 "y'.\"}" },
    { "long value, then a short one", "text/json", "utf-8",
      "{\"value\": \"" X64 "y\", \"action\": \"search\", "
      "\"value\": \"ring\"}", 0,
      GW_KIND_SEARCH, GW_REQ_OK, "{\"result\": \"" RING "\"}" },
    { "invalid action, 65 bytes", "text/json", "utf-8",
      "{\"action\": \"" X64 "y\", \"value\": \"x\"}", 0,
      GW_KIND_INVALID_ACTION, GW_REQ_OK,
      "{\"result\": \"Error: invalid action '" X64 "y'.\"}" },
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
    { "json second object", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"ring\"}"
      "{\"action\": \"search\", \"value\": \"dog\"}", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_JSON, NULL },
    { "json string after", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"ring\"} \"x\"", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_JSON, NULL },
    { "json number after", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"ring\"} 12", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_JSON, NULL },
    { "json array after", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"ring\"}[]", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_JSON, NULL },
    { "json blanks only", "text/json", "utf-8", " \r\n\t", 0,
      GW_KIND_BAD_REQUEST, GW_REQ_E_JSON, NULL },
    { "json bad utf-8", "text/json", "utf-8",
      "{\"action\": \"search\", \"value\": \"\xc0\xaf\"}", 0,
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
    { "not object number", "text/json", "utf-8", "12", 0,
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

const int n_req_vecs = (int)(sizeof req_vecs / sizeof req_vecs[0]);

size_t vec_request(const req_vec *v, unsigned char *out, size_t cap)
{
    size_t clen = v->clen != 0 ? v->clen : strlen(v->content);

    return mkframe(out, cap, "big", v->ctype, v->enc, v->content, clen);
}

size_t vec_answer(const req_vec *v, unsigned char *out, size_t cap)
{
    if (v->kind == GW_KIND_BAD_REQUEST)
        return error_answer(out, cap, v->st);
    if (v->kind == GW_KIND_BINARY)
        return mkanswer(out, cap, BIN_TYPE, "binary", v->answer,
                        strlen(v->answer));
    return json_answer(out, cap, v->answer);
}

/* Check that buf holds exactly one text/json frame whose content starts
 * with {"error": "NAME", "message": */
void assert_error_frame(const unsigned char *buf, size_t len,
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

void config(gw_conn_config *cfg)
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

void pair_init(pair *p)
{
    memset(p, 0, sizeof *p);
    config(&p->cfg);
    gw_memio_init(&p->m);
}

void pair_open(pair *p, void *user)
{
    ck_assert_int_eq(gw_conn_init(&p->c, &p->cfg, user, p->now), 0);
}

void pair_free(pair *p)
{
    gw_conn_free(&p->c);
    gw_memio_free(&p->m);
}

unsigned pair_settle(pair *p)
{
    return gw_memio_settle(&p->m, &p->c, p->now, 100000);
}

size_t take_sink(gw_memio *m, unsigned char *out, size_t cap)
{
    size_t n;
    const unsigned char *s = gw_memio_sink(m, &n);

    ck_assert_uint_le(n, cap);
    if (n > 0)
        memcpy(out, s, n);
    gw_memio_take(m);
    return n;
}

size_t pair_take(pair *p, unsigned char *out, size_t cap)
{
    return take_sink(&p->m, out, cap);
}

size_t pair_feed(pair *p, const void *in, size_t len, size_t chunk,
                 unsigned char *out, size_t cap)
{
    const unsigned char *b = in;
    size_t off = 0, got = 0, n;

    if (chunk == 0)
        chunk = len;
    do {
        n = len - off < chunk ? len - off : chunk;
        ck_assert_int_eq(gw_memio_send(&p->m, b + off, n), 0);
        off += n;
        pair_settle(p);
        got += pair_take(p, out + got, cap - got);
    } while (off < len);
    return got;
}

size_t pending(const gw_conn *c)
{
    size_t n;

    gw_conn_output(c, &n);
    return n;
}

/* ---- relay mode ---- */

static void up_opened(void *user, gw_upconn *u, gw_memio *m)
{
    relay_t *r = user;

    m->connect_result = r->connect_result;
    m->connect_done_result = r->connect_done_result;
    if (r->refuse[gw_upconn_upstream(u)]) {
        m->connect_result = GW_IO_ERROR;
        m->connect_done_result = GW_IO_ERROR;
    }
    r->opened_to[gw_upconn_upstream(u)]++;
    r->up = m;
    r->opened++;
}

static void gather_up(relay_t *r, gw_memio *m)
{
    r->ulen += take_sink(m, r->uout + r->ulen, RELAY_UOUT - r->ulen);
}

static void up_closed(void *user, gw_upconn *u, gw_memio *m)
{
    relay_t *r = user;

    (void)u;
    gather_up(r, m);
    if (r->up == m)
        r->up = NULL;
    r->closed++;
}

relay_t *relay_new(unsigned attempts)
{
    relay_t *r = calloc(1, sizeof *r);

    ck_assert_ptr_nonnull(r);
    r->uout = malloc(RELAY_UOUT);
    ck_assert_ptr_nonnull(r->uout);
    config(&r->cfg);
    r->cfg.index = NULL;
    r->cfg.relay.on = 1;
    r->cfg.relay.attempts = attempts;
    r->cfg.relay.wait_timeout = 5;
    r->pc.n_upstreams = 1;
    r->pc.names[0] = "up:1";
    r->pc.conns = 16;
    r->pc.pipeline = 1;
    r->pc.fails = 1000000;
    r->pc.retry = 100;
    r->pc.upstream_timeout = 5;
    r->connect_result = 0;
    r->connect_done_result = 0;
    return r;
}

/* The pool and client 0, once. */
static void relay_open(relay_t *r)
{
    gw_memnet_hooks h;

    if (r->pool != NULL)
        return;
    h.opened = up_opened;
    h.closed = up_closed;
    h.user = r;
    r->net = gw_memnet_new(&h);
    ck_assert_ptr_nonnull(r->net);
    r->pc.limits = r->cfg.limits;
    r->pc.max_output = r->cfg.max_output;
    r->pc.wake = gw_memnet_wake;
    r->pc.wake_ctx = r->net;
    r->pool = gw_pool_new(&r->pc);
    ck_assert_ptr_nonnull(r->pool);
    gw_memnet_set_pool(r->net, r->pool);
    r->cfg.relay.pool = r->pool;
    relay_join(r, 0);
}

void relay_join(relay_t *r, int k)
{
    relay_open(r);
    if (r->joined[k])
        return;
    gw_memio_init(&r->m[k]);
    ck_assert_int_eq(gw_conn_init(&r->c[k], &r->cfg, NULL, r->now), 0);
    ck_assert_int_eq(gw_memnet_add(r->net, &r->c[k], &r->m[k]), 0);
    r->joined[k] = 1;
}

void relay_leave(relay_t *r, int k)
{
    if (!r->joined[k])
        return;
    gw_memnet_remove(r->net, &r->c[k]);
    gw_conn_free(&r->c[k]);
    gw_memio_free(&r->m[k]);
    r->joined[k] = 0;
}

void relay_free(relay_t *r)
{
    int k;

    for (k = 0; k < RELAY_CLIENTS; k++)
        relay_leave(r, k);
    gw_memnet_free(r->net);
    gw_pool_free(r->pool);
    free(r->uout);
    free(r);
}

unsigned relay_pump(relay_t *r, gw_time now)
{
    relay_open(r);
    r->now = now;
    gw_memnet_settle(r->net, now, 100000);
    r->clen += take_sink(&r->m[0], r->cout + r->clen,
                         sizeof r->cout - r->clen);
    if (r->up != NULL && !r->keep_sinks)
        gather_up(r, r->up);
    return gw_conn_poll(&r->c[0], NULL);
}

void relay_send(relay_t *r, int k, const void *data, size_t len,
                size_t chunk, gw_time now)
{
    const unsigned char *p = data;
    size_t off = 0, n;

    relay_join(r, k);
    if (chunk == 0)
        chunk = len;
    while (off < len) {
        n = len - off < chunk ? len - off : chunk;
        ck_assert_int_eq(gw_memio_send(&r->m[k], p + off, n), 0);
        gw_memnet_wake(r->net, NULL, &r->c[k]);
        off += n;
        relay_pump(r, now);
    }
}

void relay_client(relay_t *r, const void *data, size_t len, size_t chunk,
                  gw_time now)
{
    relay_send(r, 0, data, len, chunk, now);
}

/* The upstream peer that carries client 0's request, or the newest. */
static gw_memio *peer_of_0(relay_t *r)
{
    gw_memio *m = NULL;

    if (relay_head_up(&r->c[0]) != NULL)
        m = gw_memnet_peer(r->net, relay_head_up(&r->c[0]));
    return m != NULL ? m : r->up;
}

void relay_upstream(relay_t *r, const void *data, size_t len, size_t chunk,
                    gw_time now)
{
    const unsigned char *p = data;
    size_t off = 0, n;

    r->up = peer_of_0(r);
    ck_assert_ptr_nonnull(r->up);
    if (chunk == 0)
        chunk = len;
    while (off < len && r->up != NULL) {
        n = len - off < chunk ? len - off : chunk;
        ck_assert_int_eq(gw_memio_send(r->up, p + off, n), 0);
        off += n;
        relay_pump(r, now);
    }
}

void relay_connect(relay_t *r, gw_time now)
{
    gw_memio *m = r->up;

    ck_assert_ptr_nonnull(m);
    ck_assert(!m->connected);
    m->connect_done_result = 1;
    relay_pump(r, now);
    ck_assert(m->connected);
}

void relay_upstream_ends(relay_t *r, int eof, gw_time now)
{
    ck_assert_ptr_nonnull(r->up);
    if (eof)
        r->up->eof = 1;
    else
        r->up->fail = 1;
    relay_pump(r, now);
}

unsigned relay_wants(relay_t *r, gw_time *d)
{
    return gw_conn_poll(&r->c[0], d);
}

size_t relay_take(relay_t *r, int k, unsigned char *out, size_t cap)
{
    return take_sink(&r->m[k], out, cap);
}

static const gw_exchange *nth(const gw_conn *c, unsigned i)
{
    const gw_exchange *x = c->relay.head;

    while (x != NULL && i-- > 0)
        x = x->next;
    return x;
}

gw_upconn *relay_nth_up(const gw_conn *c, unsigned i)
{
    const gw_exchange *x = nth(c, i);

    return x != NULL ? x->up : NULL;
}

int relay_nth_queued(const gw_conn *c, unsigned i)
{
    const gw_exchange *x = nth(c, i);

    return x != NULL && x->queued;
}

gw_upconn *relay_head_up(const gw_conn *c)
{
    return relay_nth_up(c, 0);
}

int relay_head_queued(const gw_conn *c)
{
    return relay_nth_queued(c, 0);
}
