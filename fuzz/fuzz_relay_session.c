/*
 * fuzz_relay_session.c - the gateway's connection state machine in relay
 * mode (gateway/gw_relay.h), driven from both ends: the harness plays the
 * client and a scripted upstream server behind gw_memio's sockets, and
 * gw_drive, the event loop's own driver, opens, closes, reads and writes
 * them as the connection asks.
 *
 * Input:
 *   byte 0    limits (fz_limits_from_byte; 0xff: invalid limits, which
 *             gw_conn_init must refuse);
 *   byte 1    output cap: 0 the default, else 4 * value (both directions);
 *   byte 2    low 3 bits: timeout profile (request, idle, write, drain,
 *             upstream, the connect timeout half of it; some
 *             disabled); bits 3-4: relay.attempts - 1;
 *             bit 5: PROXY protocol on, the client's bytes then start
 *             with a valid PROXY header the harness writes (bit 6: v2,
 *             else v1);
 *   byte 3    k mod 65: the number of step bytes;
 *   bytes 4-5 the client's byte count (big-endian, clamped);
 *   k step bytes, the client's bytes, then the upstream's script.
 * Each step byte is an operation (low 4 bits) and an amount a (high 4
 * bits); CHUNK[a] is a size from 1 byte to "everything". Every step that
 * moves bytes ends in one gw_drive call, the event loop's own driver,
 * over memory (gw_memio), with the readiness the step gives:
 *   0  the client sends the next CHUNK[a] bytes (what the connection
 *      keeps back is read again later: backpressure);
 *   1  the client reads up to CHUNK[a] bytes;
 *   2  the upstream reads up to CHUNK[a] request bytes; every request
 *      frame it completes is answered with the next script item (unless
 *      stalled);
 *   3  the upstream's next CHUNK[a] answer bytes become readable; once
 *      they are all read, a pending close is reported;
 *   4  the upstream sends the next script item now, asked for or not;
 *   5  connects: a % 4 = 0 completes a connect in progress, 1 fails it,
 *      2 makes the next connects fail at once, 3 succeed at once (they
 *      stay in progress until told otherwise);
 *   6  the upstream: a % 3 = 0 closes after its pending bytes, 1 resets
 *      now, 2 stops answering;
 *   7  the clock advances a * 250 ms, tick when due;
 *   8  a % 8: 0 client EOF (the client sends nothing more), 1 server
 *      shutdown, 2 drain (in LINGER, output sent), 3 the client reads
 *      everything, 4 abort (socket error), 5 tick now, 6 jump to the
 *      deadline and tick, 7 the client's socket fails;
 *   9-14 one round of the event loop (both peers read, write and
 *      deliver) with CHUNK[a] as every size;
 *   15 a % 2 = 0: zero-length calls (gw_conn_input and gw_conn_sent of
 *      nothing, both ends), 1: as 9.
 * Script items (one byte t, then what it names): t % 8 = 0, 1: a
 * canonical answer (hf_encode; byteorder t & 1; content type and one of
 * 8 content lengths from t / 8; content from the script, then filler);
 * 2: the same with an extension header; 3: a valid, non-canonical header
 * (whitespace, key order, an escape); 4: 1 + 4 * (t / 8) raw script
 * bytes; 5: a canonical answer cut at the next byte's offset, then EOF,
 * a reset or nothing; 6: close (EOF or reset) after what is pending,
 * stop answering, or one answer and EOF (as the reference server does);
 * 7: two answers, or an answer and a stray byte. An empty script gives
 * a plain canonical answer. After the steps the event loop runs until
 * nothing moves, the client sends EOF, and the clock runs with every
 * upstream socket closed and every connect refused until the connection
 * closes (bounded).
 *
 * Oracles:
 *  - everything queued for the client (sent and pending) is, reply by
 *    reply (on_request), complete frames: a relayed answer of exactly
 *    bytes_out bytes, byte-identical to a complete, valid frame (under
 *    the configured limits) that the upstream delivered, later than the
 *    previous one; an upstream-* error frame (text/json, canonical,
 *    {"error", "message"} only, the code matching req_status); or one
 *    codec error frame. Bytes after the last reply are a proper prefix
 *    of a delivered frame, only when the connection ended CLOSED with
 *    upstream-error, peer, request-timeout, write-timeout or io-error;
 *    upstream-error always leaves such a prefix (an answer cut short);
 *  - every upstream connection received a run of the client's bytes
 *    that starts at a request frame with a valid header and stays before
 *    the first invalid frame, each byte sent only after the client sent
 *    it and after its frame's header was complete;
 *  - the n-th answer or upstream error reports the n-th request's frame
 *    length; no more answers than requests with a valid header; at most
 *    one codec error frame; upstream-bad-frame only for a connection
 *    that delivered an invalid frame; upstream-unavailable only after
 *    failed connects; upstream-failed only after a connection was lost;
 *    upstream-timeout only with a timeout set; request-timeout only
 *    while a request frame is incomplete;
 *  - liveness: once the loop stands still with a clean upstream (one
 *    valid answer per request it read, nothing cut, no close, no stall)
 *    and nothing left to send either way, every complete request the
 *    connection took has its reply; zero-length calls change nothing;
 *  - PROXY protocol: on_proxy once, with the header's length, before
 *    any reply, and only once the connection took the whole header;
 *  - no stray answer reaches the client: every relayed answer is a
 *    frame that came on an upstream connection after more requests had
 *    gone out on it than answers had come back (bytes sent before any
 *    request byte went out are not an answer, whatever the timing);
 *  - gw_conn_upstream_attempt stays below relay.attempts and counts up
 *    by one from one connect to the next while no reply came between;
 *  - output pending for either side within max_output plus one read,
 *    header or error frame; the connection's buffers within that and
 *    its header limits; the upstream socket is held only while the
 *    state says one is; what gw_conn_poll says agrees with the state;
 *  - decoder memory bounded and all of it freed; the session ends in
 *    GW_CONN_CLOSED, or in GW_CONN_CLOSING with nothing left to send.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "gw_conn.h"
#include "gw_memio.h"

/* Most step bytes read from the input. */
#define STEPS_MAX 64

/* Bounds on the wind-down: event loop rounds, clock ticks. */
#define PUMP_ROUNDS 256
#define WIND_DOWN_TICKS 64

/* Room for one scripted answer: a header of a few dozen bytes and at
 * most 1000 content bytes. */
#define ANSWER_MAX 2048

/* One error frame: its header, the code and a message (a codec detail
 * of at most HF_DETAIL_MAX bytes, each escaped to at most 6). */
#define ERROR_FRAME_MAX (256 + 6 * HF_DETAIL_MAX)

#define MS ((gw_time)1000)

/* Chunk sizes a step's amount picks. */
static const size_t chunk_sizes[16] = {
    1, 2, 3, 5, 8, 13, 21, 34, 64, 100, 143, 256, 512, 1024, 4096,
    SIZE_MAX
};

/* Timeout profiles (request, idle, write, drain, upstream), in ms;
 * 0: disabled. */
static const int timeouts[8][5] = {
    { 2000, 5000, 3000, 1000, 1500 },
    { 0, 0, 0, 0, 0 },
    { 0, 500, 0, 0, 300 },
    { 500, 0, 500, 500, 0 },
    { 100, 100, 100, 100, 100 },
    { 300, 0, 200, 0, 700 },
    { 0, 0, 0, 0, 250 },
    { 5000, 0, 0, 0, 1000 }
};

static const size_t answer_lens[8] = { 0, 1, 5, 10, 37, 43, 300, 1000 };

static const char *const answer_types[4] = {
    "text/json", "binary/custom-server-binary-type", "a",
    "text/json; charset=\xc3\xa9"
};

/* A growable array owned by the harness. */
typedef struct vec {
    unsigned char *p;
    size_t len;
    size_t cap;
} vec;

/* One request frame of the client's bytes whose header is valid. */
typedef struct req_frame {
    size_t start;
    size_t header_end;      /* just past its header */
    size_t end;             /* just past its last byte in the input */
    uint64_t declared;      /* 2 + N + content-length */
} req_frame;

/* One upstream connection: what it received and what it delivered (the
 * bytes the connection consumed), as ranges of s->rx and s->dl. */
typedef struct seg {
    size_t rx_start;
    size_t rx_len;
    size_t dl_start;
    size_t dl_len;
} seg;

/* The upstream read request bytes: its total on the connection then,
 * and how many client bytes the connection had read. */
typedef struct recv_rec {
    size_t seg;
    size_t rx_len;
    size_t in_pos;
} recv_rec;

/* One on_request callback. */
typedef struct reply_rec {
    gw_kind kind;
    gw_req_status req_status;
    hf_status frame_status;
    size_t bytes_out;
    uint64_t bytes_in;
} reply_rec;

/* A delivered frame start (complete frames and the cut one at the end of
 * a connection), as a range of s->dl. */
typedef struct answer_rec {
    size_t off;
    size_t len;             /* frame length; bytes present when cut */
    int complete;
    int stray;              /* came when no request was outstanding */
} answer_rec;

/* The connection read answer bytes: where in s->dl they start, and how
 * many request frames had begun to go out on that connection by then. */
typedef struct dlv_rec {
    size_t dl_off;
    size_t seg;
    uint64_t requests;
} dlv_rec;

enum { UP_CLOSE_NONE = 0, UP_CLOSE_EOF, UP_CLOSE_RESET };

/* The scripted upstream server's side of the connection it holds. */
typedef struct upstream {
    int held;               /* a socket is open (gw_memio's up_open) */
    int loss;               /* the harness ended it (EOF, reset) */
    hf_decoder rxd;         /* reads the requests it receives */
    int rxd_on;
    uint64_t begun;         /* request frames begun (first byte read) */
    uint64_t requests;      /* request frames received */
    uint64_t answered;      /* of them, answered */
    vec tx;                 /* answer bytes: tx_off of them readable,
                               tx_read of those read */
    size_t tx_off;
    size_t tx_read;
    int close_after;        /* once tx is delivered */
    int stall;              /* answers nothing more */
    int broken;             /* sent something else than one answer per
                               request read */
} upstream;

typedef struct session {
    gw_conn c;
    gw_conn_config cfg;
    gw_memio m;             /* both peers' sockets */
    gw_time now;
    /* the client */
    unsigned char *in;
    size_t in_len;
    size_t in_sent;         /* sent by the client */
    size_t in_pos;          /* read by the connection */
    size_t proxy_len;       /* the PROXY header in front, 0: none */
    unsigned proxy_calls;
    int client_eof;
    vec sent;
    size_t max_in_chunk;
    req_frame *frames;
    size_t n_frames;
    size_t frames_cap;
    size_t valid_end;       /* no byte from here on may go upstream */
    /* the upstream */
    upstream up;
    fz_reader script;
    vec rx;
    vec dl;
    seg *segs;
    size_t n_segs;
    size_t segs_cap;
    recv_rec *recvs;
    size_t n_recvs;
    size_t recvs_cap;
    dlv_rec *dlvs;
    size_t n_dlvs;
    size_t dlvs_cap;
    size_t max_up_chunk;
    unsigned connect_failures;  /* lost while connecting */
    unsigned ready_losses;      /* lost once connected */
    int connected_before;
    unsigned last_attempt;      /* gw_conn_upstream_attempt at the last */
    size_t replies_then;        /*   connect, and replies by then */
    /* what the connection reported */
    reply_rec *replies;
    size_t n_replies;
    size_t replies_cap;
} session;

/* ---- small helpers ---- */

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap;

    if (need <= n)
        return p;
    if (n == 0)
        n = 16;
    while (n < need)
        n *= 2;
    p = realloc(p, n * elem);
    FZ_CHECK(p != NULL);
    *cap = n;
    return p;
}

static void vec_add(vec *v, const void *src, size_t n)
{
    if (n == 0)
        return;
    v->p = grow(v->p, &v->cap, v->len + n, 1);
    memcpy(v->p + v->len, src, n);
    v->len += n;
}

static void vec_free(vec *v)
{
    free(v->p);
    memset(v, 0, sizeof(*v));
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

static void on_request(void *user, const gw_request_info *info)
{
    session *s = user;
    const gw_reply *r = info->reply;
    reply_rec *rec;

    FZ_CHECK(r != NULL);
    FZ_CHECK(r->status != NULL);
    FZ_CHECK(r->bytes_out > 0);
    FZ_CHECK(info->content_type_len <= GW_TYPE_LOG_MAX);
    FZ_CHECK(info->finished >= info->started);
    FZ_CHECK(info->finished == s->now);
    switch (r->kind) {
    case GW_KIND_RELAYED:
        FZ_CHECK(r->req_status == GW_REQ_OK);
        FZ_CHECK(strcmp(r->status, "ok") == 0);
        break;
    case GW_KIND_BAD_REQUEST:
        /* The PROXY header is always valid here: only an EOF inside it
         * gets bad-proxy-header. */
        FZ_CHECK(r->req_status == GW_REQ_E_UP_UNAVAILABLE ||
                 r->req_status == GW_REQ_E_UP_FAILED ||
                 r->req_status == GW_REQ_E_UP_TIMEOUT ||
                 r->req_status == GW_REQ_E_UP_BAD_FRAME ||
                 (r->req_status == GW_REQ_E_PROXY && s->client_eof &&
                  s->in_len < s->proxy_len));
        break;
    case GW_KIND_FRAME_ERROR:
        FZ_CHECK(r->frame_status > HF_NEED_MORE &&
                 r->frame_status < HF_STATUS_COUNT);
        break;
    default:
        FZ_CHECK(!"a reply kind relay mode never gives");
    }
    s->replies = grow(s->replies, &s->replies_cap, s->n_replies + 1,
                      sizeof(*s->replies));
    rec = &s->replies[s->n_replies++];
    rec->kind = r->kind;
    rec->req_status = r->req_status;
    rec->frame_status = r->frame_status;
    rec->bytes_out = r->bytes_out;
    rec->bytes_in = info->bytes_in;
}

static void on_proxy(void *user, const gw_proxy_info *info)
{
    session *s = user;

    FZ_CHECK(s->proxy_len > 0);
    FZ_CHECK(info->len == s->proxy_len);
    FZ_CHECK(info->version == 1 || info->version == 2);
    FZ_CHECK(s->n_replies == 0);
    s->proxy_calls++;
    FZ_CHECK(s->proxy_calls == 1);
}

/* A valid PROXY header in front of the client's bytes: v1 or v2,
 * TCP over IPv4. Returns its length. */
static size_t proxy_header(unsigned char *out, int v2)
{
    static const char v1[] =
        "PROXY TCP4 192.0.2.1 198.51.100.7 51234 65432\r\n";
    static const unsigned char v2h[28] = {
        0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54,
        0x0a, 0x21, 0x11, 0x00, 0x0c, 192, 0, 2, 1, 198, 51, 100, 7,
        0xc8, 0x22, 0xff, 0x98
    };

    if (v2) {
        memcpy(out, v2h, sizeof(v2h));
        return sizeof(v2h);
    }
    memcpy(out, v1, sizeof(v1) - 1);
    return sizeof(v1) - 1;
}

/* ---- the client's request frames, decoded independently ---- */

static void add_frame(session *s, size_t start, size_t header_end,
                      size_t end, uint64_t declared)
{
    req_frame *f;

    s->frames = grow(s->frames, &s->frames_cap, s->n_frames + 1,
                     sizeof(*s->frames));
    f = &s->frames[s->n_frames++];
    f->start = start;
    f->header_end = header_end;
    f->end = end;
    f->declared = declared;
}

static void scan_client(session *s)
{
    hf_decoder d;
    hf_limits lim;
    hf_event ev;
    size_t off = s->proxy_len;
    size_t start = s->proxy_len;
    size_t header_end = 0;
    uint64_t declared = 0;
    int have_header = 0;

    lim = s->cfg.limits;
    lim.alloc = NULL;
    FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
    for (;;) {
        off += hf_decoder_push(&d, s->in + off, s->in_len - off, &ev);
        if (ev.type == HF_EV_HEADER) {
            have_header = 1;
            header_end = off;
            declared = HF_PREFIX_LEN +
                       (uint64_t)hf_decoder_header(&d)->header_len +
                       hf_decoder_header(&d)->content_length;
        } else if (ev.type == HF_EV_FRAME_END) {
            add_frame(s, start, header_end, off, declared);
            start = off;
            have_header = 0;
        } else if (ev.type != HF_EV_CONTENT) {
            break;
        }
    }
    if (have_header)
        add_frame(s, start, header_end, s->in_len, declared);
    s->valid_end = have_header ? s->in_len : start;
    hf_decoder_free(&d);
}

/* ---- checks after every call ---- */

static size_t pending(const session *s, gw_end e)
{
    size_t n;

    gw_conn_output(&s->c, e, &n);
    return n;
}

static void check_caps(const session *s)
{
    size_t hdr = HF_PREFIX_LEN + s->cfg.limits.max_header;
    size_t out_slack, up_slack;

    out_slack = max_size(max_size(GW_MEMIO_READ, hdr), ERROR_FRAME_MAX);
    up_slack = max_size(GW_MEMIO_READ, hdr);
    FZ_CHECK(pending(s, GW_CLIENT) < s->cfg.max_output + out_slack);
    FZ_CHECK(pending(s, GW_UPSTREAM) < s->cfg.max_output + up_slack);
    FZ_CHECK(gw_conn_buffered(&s->c) <=
             4 * (s->cfg.max_output + out_slack + up_slack) +
             4 * max_size(hdr, GW_PROXY_MAX) + 16 * GW_BUF_MIN_ALLOC);
}

/* What the connection says of itself is consistent. */
static void check_state(const session *s)
{
    const gw_conn *c = &s->c;
    gw_conn_state_t st = gw_conn_state(c);
    gw_up_state up = gw_conn_upstream_state(c);
    unsigned want = gw_conn_poll(c, NULL);
    size_t out = pending(s, GW_CLIENT);
    const char *name;

    FZ_CHECK(st <= GW_CONN_CLOSED);
    FZ_CHECK(up <= GW_UP_READY);
    /* Only the caller opens: no socket held, no upstream state (once the
     * connection is over, the loop closes its sockets without a word). */
    if (!s->m.up_open && !(want & GW_WANT_CLOSE))
        FZ_CHECK(up == GW_UP_NONE);
    if (up == GW_UP_NONE && s->m.up_open)
        FZ_CHECK(want & GW_WANT_CLOSE_UP);
    if (want & GW_WANT_WRITE_CLIENT)
        FZ_CHECK(out > 0 && st != GW_CONN_CLOSED && st != GW_CONN_DRAINING);
    if (want & GW_WANT_READ_CLIENT)
        FZ_CHECK(st == GW_CONN_OPEN || st == GW_CONN_DRAINING);
    if (want & GW_WANT_CONNECT_UP)
        FZ_CHECK(up == GW_UP_NONE && st == GW_CONN_OPEN);
    if (want & GW_WANT_CONNECTING_UP)
        FZ_CHECK(up == GW_UP_CONNECTING);
    if (want & GW_WANT_READ_UP)
        FZ_CHECK(up == GW_UP_READY);
    FZ_CHECK(!(want & GW_WANT_WRITE_UP) == (pending(s, GW_UPSTREAM) == 0));
    if (up != GW_UP_READY)
        FZ_CHECK(pending(s, GW_UPSTREAM) == 0);
    FZ_CHECK(!(want & GW_WANT_SHUT_CLIENT) ==
             !(st == GW_CONN_LINGER && out == 0));
    FZ_CHECK(!(want & GW_WANT_CLOSE) ==
             !(st == GW_CONN_CLOSED || (st == GW_CONN_CLOSING && out == 0)));
    if (st == GW_CONN_CLOSED) {
        gw_time d;

        gw_conn_poll(c, &d);
        FZ_CHECK(d == GW_TIME_NEVER);
    }
    if (st != GW_CONN_OPEN)
        FZ_CHECK(gw_conn_reason(c) != GW_CLOSE_NONE ||
                 st == GW_CONN_CLOSING);
    FZ_CHECK(gw_conn_reason(c) < GW_CLOSE_REASON_COUNT);
    name = gw_close_reason_name(gw_conn_reason(c));
    FZ_CHECK(name != NULL && name[0] != '\0');
}

/* ---- the upstream socket ---- */

static seg *cur_seg(session *s)
{
    FZ_CHECK(s->up.held && s->n_segs > 0);
    return &s->segs[s->n_segs - 1];
}

/* gw_memio's hook: the connection opens an upstream socket. */
static void on_connect(void *user, unsigned attempt)
{
    session *s = user;
    hf_limits lim;
    seg *g;

    FZ_CHECK(!s->up.held);
    FZ_CHECK(attempt < s->cfg.relay.attempts);
    /* Same request as the last connect: one more attempt. */
    if (s->connected_before && s->n_replies == s->replies_then)
        FZ_CHECK(attempt == s->last_attempt + 1);
    s->connected_before = 1;
    s->last_attempt = attempt;
    s->replies_then = s->n_replies;
    s->segs = grow(s->segs, &s->segs_cap, s->n_segs + 1,
                   sizeof(*s->segs));
    g = &s->segs[s->n_segs++];
    g->rx_start = s->rx.len;
    g->rx_len = 0;
    g->dl_start = s->dl.len;
    g->dl_len = 0;
    hf_limits_default(&lim);
    lim.max_content = HF_CONTENT_LIMIT_MAX;
    FZ_CHECK(hf_decoder_init(&s->up.rxd, &lim) == HF_OK);
    s->up.rxd_on = 1;
    s->up.held = 1;
    s->up.loss = 0;
    s->up.begun = 0;
    s->up.requests = 0;
    s->up.answered = 0;
    s->up.tx.len = 0;
    s->up.tx_off = 0;
    s->up.tx_read = 0;
    s->up.close_after = UP_CLOSE_NONE;
    s->up.stall = 0;
    s->up.broken = 0;
    if (s->m.connect_result == GW_IO_ERROR) {
        /* Refused at once: no socket is held. */
        s->connect_failures++;
        s->up.held = 0;
        hf_decoder_free(&s->up.rxd);
        s->up.rxd_on = 0;
    }
}

/* The answer bytes the connection read since the last look: they are
 * delivered (s->dl), with how many requests had begun by then. */
static void take_reads(session *s)
{
    size_t queued = gw_buf_pending(&s->m.peer[GW_UPSTREAM].queue);
    size_t n;
    dlv_rec *r;
    seg *g;

    if (!s->up.held)
        return;
    n = s->up.tx_off - queued - s->up.tx_read;
    if (n == 0)
        return;
    g = cur_seg(s);
    s->dlvs = grow(s->dlvs, &s->dlvs_cap, s->n_dlvs + 1,
                   sizeof(*s->dlvs));
    r = &s->dlvs[s->n_dlvs++];
    r->dl_off = s->dl.len;
    r->seg = s->n_segs - 1;
    r->requests = s->up.begun;
    vec_add(&s->dl, s->up.tx.p + s->up.tx_read, n);
    g->dl_len += n;
    s->up.tx_read += n;
}

/* gw_memio's hook: the connection closes the upstream socket; bytes it
 * did not read are lost. */
static void on_close(void *user)
{
    session *s = user;

    if (!s->up.held)
        return;
    take_reads(s);
    /* A connect that never finished failed, whoever gave up on it. */
    if (!s->m.up_connected)
        s->connect_failures++;
    else if (s->up.loss || s->up.broken)
        s->ready_losses++;
    s->up.held = 0;
    hf_decoder_free(&s->up.rxd);
    s->up.rxd_on = 0;
    s->up.tx.len = 0;
    s->up.tx_off = 0;
    s->up.tx_read = 0;
}

/* ---- the upstream's script ---- */

/* Content: script bytes, then a filler pattern. */
static void answer_content(session *s, unsigned char *buf, size_t n)
{
    const uint8_t *p;
    size_t got;
    size_t i;

    got = fz_take_bytes(&s->script, n, &p);
    if (got > 0)
        memcpy(buf, p, got);
    for (i = got; i < n; i++)
        buf[i] = (unsigned char)('a' + i % 26);
}

/* A canonical answer frame in out; returns its length. */
static size_t encode_answer(session *s, unsigned char *out, unsigned type,
                            int big, int ext, size_t clen)
{
    static const hf_str key = { "x-relay", 7 };
    static const hf_str value = { "-1.5e3", 6 };
    unsigned char content[1000];
    hf_header h;
    size_t w = 0;

    hf_header_init(&h, answer_types[type & 3],
                   (type & 3) == 1 ? "binary" : "utf-8");
    h.byteorder = big ? HF_BYTEORDER_BIG : HF_BYTEORDER_LITTLE;
    if (ext)
        FZ_CHECK(hf_header_add_ext(&h, key, value, HF_VALUE_NUMBER) ==
                 HF_OK);
    FZ_CHECK(clen <= sizeof(content));
    answer_content(s, content, clen);
    FZ_CHECK(hf_encode(&h, content, clen, out, ANSWER_MAX, &w) == HF_OK);
    return w;
}

/* A valid answer whose header is not canonical. */
static size_t encode_loose(session *s, unsigned char *out, size_t clen)
{
    int n;

    n = snprintf((char *)out + HF_PREFIX_LEN, ANSWER_MAX - HF_PREFIX_LEN,
                 " {\"content-length\" :%zu,\"content-encoding\":"
                 "\"u\\u0074f-8\",\n\t\"byteorder\":\"big\","
                 "\"x\":null,\"content-type\":\"text/json\"}\r\n", clen);
    FZ_CHECK(n > 0 && (size_t)n + HF_PREFIX_LEN + clen <= ANSWER_MAX);
    out[0] = (unsigned char)(n >> 8);
    out[1] = (unsigned char)(n & 0xff);
    answer_content(s, out + HF_PREFIX_LEN + n, clen);
    return HF_PREFIX_LEN + (size_t)n + clen;
}

/* The upstream sends its next scripted item. */
static void emit_item(session *s)
{
    unsigned char frame[ANSWER_MAX];
    const uint8_t *raw;
    unsigned char stray = 0;
    size_t n;
    size_t cut;
    unsigned p;
    uint8_t t;

    if (!s->up.held || s->up.close_after != UP_CLOSE_NONE)
        return;
    if (s->script.len == 0) {
        n = encode_answer(s, frame, 0, 0, 0, answer_lens[3]);
        vec_add(&s->up.tx, frame, n);
        return;
    }
    t = fz_take_u8(&s->script);
    p = t >> 3;
    switch (t & 7) {
    case 0:
    case 1:
    case 2:
        n = encode_answer(s, frame, p >> 3, t & 1, (t & 7) == 2,
                          answer_lens[p & 7]);
        vec_add(&s->up.tx, frame, n);
        break;
    case 3:
        n = encode_loose(s, frame, answer_lens[p & 7]);
        vec_add(&s->up.tx, frame, n);
        break;
    case 4:
        n = fz_take_bytes(&s->script, 1 + (size_t)p * 4, &raw);
        vec_add(&s->up.tx, raw, n);
        s->up.broken = 1;
        break;
    case 5:
        s->up.broken = 1;
        n = encode_answer(s, frame, 0, 1, 0, answer_lens[p & 7]);
        cut = fz_take_u8(&s->script) % n;
        vec_add(&s->up.tx, frame, cut);
        if ((p >> 3) < 2)
            s->up.close_after = (p >> 3) == 0 ? UP_CLOSE_EOF
                                              : UP_CLOSE_RESET;
        break;
    case 6:
        switch (p & 3) {
        case 0:
            s->up.close_after = UP_CLOSE_EOF;
            break;
        case 1:
            s->up.close_after = UP_CLOSE_RESET;
            break;
        case 2:
            s->up.stall = 1;
            break;
        default:
            n = encode_answer(s, frame, p >> 3, 0, 0, answer_lens[5]);
            vec_add(&s->up.tx, frame, n);
            s->up.close_after = UP_CLOSE_EOF;
            break;
        }
        break;
    default:
        s->up.broken = 1;
        n = encode_answer(s, frame, 0, 0, 0, answer_lens[p & 7]);
        vec_add(&s->up.tx, frame, n);
        if (p & 1) {
            n = encode_answer(s, frame, 1, 1, 0, answer_lens[(p >> 1) & 7]);
            vec_add(&s->up.tx, frame, n);
        } else {
            vec_add(&s->up.tx, &stray, 1);
        }
        break;
    }
}

/* The request bytes the connection wrote since the last look: the
 * upstream reads them, and answers every request it has read in full. */
static void take_writes(session *s)
{
    size_t n;
    const unsigned char *p = gw_memio_sink(&s->m, GW_UPSTREAM, &n);
    recv_rec *r;
    hf_event ev;
    size_t off;
    seg *g;

    if (n == 0)
        return;
    FZ_CHECK(s->up.held);
    g = cur_seg(s);
    vec_add(&s->rx, p, n);
    gw_memio_take(&s->m, GW_UPSTREAM);
    g->rx_len += n;
    s->recvs = grow(s->recvs, &s->recvs_cap, s->n_recvs + 1,
                    sizeof(*s->recvs));
    r = &s->recvs[s->n_recvs++];
    r->seg = s->n_segs - 1;
    r->rx_len = g->rx_len;
    r->in_pos = s->in_pos;
    /* What the server makes of it: frames begun, frames whole. */
    off = 0;
    while (s->up.rxd_on) {
        if (off < n && !hf_decoder_in_frame(&s->up.rxd))
            s->up.begun++;
        off += hf_decoder_push(&s->up.rxd, s->rx.p + s->rx.len - n + off,
                               n - off, &ev);
        if (ev.type == HF_EV_NEED_MORE || ev.type == HF_EV_ERROR)
            break;
        if (ev.type == HF_EV_FRAME_END)
            s->up.requests++;
    }
    while (s->up.held && !s->up.stall && s->up.answered < s->up.requests) {
        s->up.answered++;
        emit_item(s);
    }
}

/* gw_memio's hook: bytes moved, in the order they move. */
static void on_io(void *user, gw_end e, int write, size_t n)
{
    session *s = user;

    (void)n;
    if (e == GW_CLIENT && !write)
        s->in_pos = s->in_sent -
                    gw_buf_pending(&s->m.peer[GW_CLIENT].queue);
    else if (e == GW_UPSTREAM && write)
        take_writes(s);
    else if (e == GW_UPSTREAM)
        take_reads(s);
}

/* One gw_drive call: the client's and the upstream's sockets report
 * what the step lets them; afterwards the peers take what moved. */
static void drive(session *s, unsigned ready)
{
    gw_memio_peer *cl = &s->m.peer[GW_CLIENT];
    const unsigned char *p;
    unsigned want;
    size_t n;

    if (cl->eof || cl->fail || gw_buf_pending(&cl->queue) > 0)
        ready &= ~0u;
    else
        ready &= ~GW_READY_CLIENT_IN;
    if (!s->m.up_open)
        ready &= ~(GW_READY_UP_IN | GW_READY_UP_OUT);
    want = gw_drive(&s->c, &s->m.io, ready, s->now);
    /* Over: the loop closes both sockets. */
    if ((want & GW_WANT_CLOSE) && s->m.up_open)
        s->m.io.close_up(s->m.io.ctx);
    p = gw_memio_sink(&s->m, GW_CLIENT, &n);
    vec_add(&s->sent, p, n);
    gw_memio_take(&s->m, GW_CLIENT);
    check_caps(s);
    check_state(s);
}

/* The harness ends the upstream's connection: EOF (once its bytes are
 * read) or a reset now. */
static void up_lost(session *s, int reset)
{
    if (!s->up.held)
        return;
    s->up.loss = 1;
    if (reset)
        s->m.peer[GW_UPSTREAM].fail = 1;
    else
        s->m.peer[GW_UPSTREAM].eof = 1;
    drive(s, GW_READY_UP_IN | GW_READY_UP_OUT);
}

/* The upstream's answer bytes: up to n more become readable, then the
 * connection reads; or the pending close once all were read. */
static void up_deliver(session *s, size_t n)
{
    size_t avail;

    if (!s->up.held)
        return;
    avail = s->up.tx.len - s->up.tx_off;
    if (avail == 0) {
        if (s->up.tx_read == s->up.tx_off &&
            s->up.close_after != UP_CLOSE_NONE)
            up_lost(s, s->up.close_after == UP_CLOSE_RESET);
        else
            drive(s, GW_READY_UP_IN);
        return;
    }
    if (n > avail)
        n = avail;
    FZ_CHECK(gw_memio_send(&s->m, GW_UPSTREAM, s->up.tx.p + s->up.tx_off,
                           n) == 0);
    s->up.tx_off += n;
    drive(s, GW_READY_UP_IN);
}

/* The upstream reads up to n request bytes. */
static void up_read(session *s, size_t n)
{
    s->m.peer[GW_UPSTREAM].budget = n;
    drive(s, GW_READY_UP_OUT);
    s->m.peer[GW_UPSTREAM].budget = 0;
}

/* ---- the client ---- */

static void offer(session *s, size_t n)
{
    if (n > s->in_len - s->in_sent)
        n = s->in_len - s->in_sent;
    FZ_CHECK(gw_memio_send(&s->m, GW_CLIENT, s->in + s->in_sent, n) == 0);
    s->in_sent += n;
    drive(s, GW_READY_CLIENT_IN);
}

static void send_out(session *s, size_t n)
{
    s->m.peer[GW_CLIENT].budget = n;
    drive(s, GW_READY_CLIENT_OUT);
    s->m.peer[GW_CLIENT].budget = 0;
}

/* The client sends nothing more: what it has not sent is never sent. */
static void client_eof(session *s)
{
    if (s->client_eof)
        return;
    s->client_eof = 1;
    s->in_len = s->in_sent;
    s->m.peer[GW_CLIENT].eof = 1;
    drive(s, GW_READY_CLIENT_IN);
}

static void tick(session *s)
{
    (void)gw_conn_tick(&s->c, s->now);
    drive(s, 0);
}

static gw_time deadline(const session *s)
{
    gw_time d;

    gw_conn_poll(&s->c, &d);
    return d;
}

static void advance(session *s, gw_time dt)
{
    gw_time due;

    s->now += dt;
    due = deadline(s);
    if (due != GW_TIME_NEVER && due <= s->now)
        tick(s);
}

static void special(session *s, unsigned amount)
{
    gw_time due;

    switch (amount % 8) {
    case 0:
        client_eof(s);
        break;
    case 1:
        gw_conn_shutdown(&s->c, s->now);
        drive(s, 0);
        break;
    case 2:
        if (gw_conn_state(&s->c) == GW_CONN_LINGER &&
            pending(s, GW_CLIENT) == 0) {
            gw_conn_drain(&s->c, s->now);
            drive(s, 0);
        }
        break;
    case 3:
        send_out(s, SIZE_MAX);
        break;
    case 4:
        gw_conn_abort(&s->c, GW_CLOSE_IO);
        FZ_CHECK(gw_conn_state(&s->c) == GW_CONN_CLOSED);
        FZ_CHECK(gw_conn_reason(&s->c) == GW_CLOSE_IO);
        check_state(s);
        break;
    case 5:
        tick(s);
        break;
    case 6:
        due = deadline(s);
        if (due != GW_TIME_NEVER && due > s->now)
            s->now = due;
        tick(s);
        break;
    default:
        s->m.peer[GW_CLIENT].fail = 1;
        drive(s, GW_READY_CLIENT_IN);
        break;
    }
}

/* Calls with nothing in them take nothing and queue nothing. */
static void zero_calls(session *s)
{
    unsigned char none = 0;
    size_t before = pending(s, GW_CLIENT);
    size_t up_before = pending(s, GW_UPSTREAM);

    gw_conn_input(&s->c, GW_UPSTREAM, &none, 0, s->now);
    gw_conn_sent(&s->c, GW_UPSTREAM, 0, s->now);
    gw_conn_sent(&s->c, GW_CLIENT, 0, s->now);
    gw_conn_input(&s->c, GW_CLIENT, &none, 0, s->now);
    FZ_CHECK(pending(s, GW_UPSTREAM) == up_before);
    FZ_CHECK(pending(s, GW_CLIENT) == before);
    check_state(s);
}

/* One round of the event loop with n as every size; non-zero when
 * something moved. */
static int pump(session *s, size_t n)
{
    uint64_t moves = s->m.moves;
    size_t tx = s->up.tx.len, sent = s->in_sent;
    size_t avail = s->up.tx.len - s->up.tx_off;

    if (n > avail)
        n = avail;
    if (n > 0) {
        FZ_CHECK(gw_memio_send(&s->m, GW_UPSTREAM,
                               s->up.tx.p + s->up.tx_off, n) == 0);
        s->up.tx_off += n;
    }
    n = n > 0 ? n : 1;
    if (s->in_len - s->in_sent > 0) {
        size_t k = s->in_len - s->in_sent < n ? s->in_len - s->in_sent : n;

        FZ_CHECK(gw_memio_send(&s->m, GW_CLIENT, s->in + s->in_sent, k) ==
                 0);
        s->in_sent += k;
    }
    s->m.peer[GW_CLIENT].budget = SIZE_MAX;
    s->m.peer[GW_UPSTREAM].budget = SIZE_MAX;
    if (s->m.connect_result == 0)
        s->m.connect_done_result = 1;
    drive(s, GW_READY_CLIENT_IN | GW_READY_CLIENT_OUT | GW_READY_UP_IN |
                 GW_READY_UP_OUT);
    s->m.connect_done_result = 0;
    s->m.peer[GW_CLIENT].budget = 0;
    s->m.peer[GW_UPSTREAM].budget = 0;
    if (s->up.held && s->up.tx_off == s->up.tx.len &&
        s->up.tx_read == s->up.tx_off && s->up.close_after != UP_CLOSE_NONE &&
        !s->up.loss)
        up_lost(s, s->up.close_after == UP_CLOSE_RESET);
    return s->m.moves != moves || s->up.tx.len != tx || s->in_sent != sent;
}

static void step(session *s, uint8_t b)
{
    unsigned amount = b >> 4;
    size_t n = chunk_sizes[amount];

    if (gw_conn_state(&s->c) == GW_CONN_CLOSED)
        return;
    switch (b & 15) {
    case 0:
        offer(s, n);
        break;
    case 1:
        send_out(s, n);
        break;
    case 2:
        up_read(s, n);
        break;
    case 3:
        up_deliver(s, n);
        break;
    case 4:
        if (s->up.held)
            s->up.broken = 1;   /* maybe unasked for */
        emit_item(s);
        break;
    case 5:
        switch (amount % 4) {
        case 0:
        case 1:
            if (gw_conn_upstream_state(&s->c) != GW_UP_CONNECTING)
                break;
            s->m.connect_done_result = amount % 4 == 0 ? 1 : GW_IO_ERROR;
            s->up.loss = amount % 4 == 1;
            drive(s, GW_READY_UP_OUT);
            s->m.connect_done_result = 0;
            break;
        case 2:
            s->m.connect_result = GW_IO_ERROR;
            drive(s, 0);
            break;
        default:
            s->m.connect_result = 1;
            drive(s, 0);
            break;
        }
        break;
    case 6:
        if (!s->up.held)
            break;
        if (amount % 3 == 0)
            s->up.close_after = UP_CLOSE_EOF;
        else if (amount % 3 == 1)
            up_lost(s, 1);
        else
            s->up.stall = 1;
        break;
    case 7:
        advance(s, (gw_time)amount * 250 * MS);
        break;
    case 8:
        special(s, amount);
        break;
    case 15:
        if (amount % 2 == 0) {
            zero_calls(s);
            break;
        }
        (void)pump(s, n);
        break;
    default:
        (void)pump(s, n);
        break;
    }
}

/* The loop stands still. If the upstream it holds is a clean server
 * (one valid answer per request read, nothing cut, no close, no stall)
 * with nothing left to deliver, and nothing waits to go to it, no
 * request can still wait for its answer: every complete request frame
 * the connection took has its reply. */
static void check_idle(const session *s)
{
    const req_frame *f;
    size_t done = 0;
    size_t replied = 0;
    size_t i;

    if (gw_conn_state(&s->c) != GW_CONN_OPEN || !s->up.held ||
        gw_conn_upstream_state(&s->c) != GW_UP_READY || s->up.broken ||
        s->up.stall || s->up.close_after != UP_CLOSE_NONE ||
        s->up.tx_read != s->up.tx.len || pending(s, GW_UPSTREAM) > 0 ||
        pending(s, GW_CLIENT) > 0)
        return;
    for (i = 0; i < s->n_frames; i++) {
        f = &s->frames[i];
        if (f->end <= s->in_pos && f->end - f->start == f->declared)
            done++;
    }
    for (i = 0; i < s->n_replies; i++)
        replied += s->replies[i].kind != GW_KIND_FRAME_ERROR &&
                   s->replies[i].req_status != GW_REQ_E_PROXY;
    FZ_CHECK(replied == done);
}

/* Play the rest: the loop until nothing moves, client EOF, then time
 * with every upstream closed and every connect refused. */
static void wind_down(session *s)
{
    gw_conn_state_t st;
    int i;

    s->m.connect_result = 1;
    for (i = 0; i < PUMP_ROUNDS; i++)
        if (gw_conn_state(&s->c) == GW_CONN_CLOSED || !pump(s, SIZE_MAX))
            break;
    if (i < PUMP_ROUNDS)
        check_idle(s);
    if (gw_conn_state(&s->c) != GW_CONN_CLOSED)
        client_eof(s);
    s->m.connect_result = GW_IO_ERROR;
    for (i = 0; i < WIND_DOWN_TICKS; i++) {
        st = gw_conn_state(&s->c);
        if (st == GW_CONN_CLOSED)
            break;
        (void)pump(s, SIZE_MAX);
        send_out(s, SIZE_MAX);
        st = gw_conn_state(&s->c);
        if (st == GW_CONN_CLOSED ||
            (st == GW_CONN_CLOSING && pending(s, GW_CLIENT) == 0))
            break;
        if (s->up.held && !s->up.loss) {
            up_lost(s, gw_conn_upstream_state(&s->c) == GW_UP_CONNECTING);
            continue;
        }
        advance(s, 1000 * MS);
    }
}

/* ---- checking what went upstream ---- */

/* The request frame holding client byte at. */
static const req_frame *frame_at(const session *s, size_t at)
{
    size_t i;

    for (i = 0; i < s->n_frames; i++)
        if (at >= s->frames[i].start && at < s->frames[i].end)
            return &s->frames[i];
    return NULL;
}

/* Could connection g's bytes be the client's from st on, each sent in
 * time? */
static int seg_fits(const session *s, size_t gi, size_t st)
{
    const seg *g = &s->segs[gi];
    const recv_rec *r;
    const req_frame *f;
    size_t i;
    size_t e;

    if (g->rx_len > s->valid_end - st)
        return 0;
    if (memcmp(s->in + st, s->rx.p + g->rx_start, g->rx_len) != 0)
        return 0;
    for (i = 0; i < s->n_recvs; i++) {
        r = &s->recvs[i];
        if (r->seg != gi)
            continue;
        e = st + r->rx_len;
        if (e > r->in_pos)
            return 0;
        f = frame_at(s, e - 1);
        if (f == NULL || f->header_end > r->in_pos)
            return 0;
    }
    return 1;
}

static void check_upstream_bytes(const session *s)
{
    size_t gi;
    size_t j;
    int ok;

    for (gi = 0; gi < s->n_segs; gi++) {
        if (s->segs[gi].rx_len == 0)
            continue;
        ok = 0;
        for (j = 0; j < s->n_frames && !ok; j++)
            ok = s->frames[j].start < s->valid_end &&
                 seg_fits(s, gi, s->frames[j].start);
        FZ_CHECK(ok);
    }
}

/* ---- checking what went to the client ---- */

/* One of the gateway's own error frames, with code. */
static void check_error_frame(const hf_frame *fr, const unsigned char *raw,
                              const char *code)
{
    static const hf_str text_json = { "text/json", 9 };
    fz_answer_json e;

    FZ_CHECK(fz_str_eq(fr->header->content_type, text_json));
    FZ_CHECK(hf_header_is_canonical(fr->header, raw + HF_PREFIX_LEN,
                                    fr->header->header_len));
    fz_check_answer_json(fr->content, fr->content_len, code, &e);
    FZ_CHECK(!e.other_key && e.keys == 2 && e.has_error && e.has_message);
    FZ_CHECK(e.message_len > 0);
    FZ_CHECK(e.code_ok);
}

/* Request frames begun on the connection of delivered byte at when the
 * connection read it. */
static uint64_t requests_then(const session *s, size_t at)
{
    uint64_t r = 0;
    size_t i;

    for (i = 0; i < s->n_dlvs && s->dlvs[i].dl_off <= at; i++)
        r = s->dlvs[i].requests;
    return r;
}

/* The frames every upstream connection delivered, decoded under the
 * connection's limits: complete ones, and the one cut at the end. */
static answer_rec *scan_answers(const session *s, size_t *count,
                                size_t *bad_segs)
{
    answer_rec *a = NULL;
    size_t cap = 0;
    size_t n = 0;
    hf_decoder d;
    hf_limits lim;
    hf_frame fr;
    hf_status st;
    const seg *g;
    size_t gi;
    size_t off;
    uint64_t frames;

    lim = s->cfg.limits;
    lim.alloc = NULL;
    FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
    *bad_segs = 0;
    for (gi = 0; gi < s->n_segs; gi++) {
        g = &s->segs[gi];
        off = 0;
        frames = 0;
        while (off < g->dl_len) {
            st = hf_decode(&d, s->dl.p + g->dl_start + off,
                           g->dl_len - off, &fr);
            if (st != HF_OK && st != HF_NEED_MORE) {
                (*bad_segs)++;
                break;
            }
            a = grow(a, &cap, n + 1, sizeof(*a));
            a[n].off = g->dl_start + off;
            a[n].complete = st == HF_OK;
            a[n].len = st == HF_OK ? fr.frame_len : g->dl_len - off;
            a[n].stray = requests_then(s, a[n].off) <= frames;
            frames++;
            n++;
            if (st != HF_OK)
                break;
            off += fr.frame_len;
        }
    }
    hf_decoder_free(&d);
    *count = n;
    return a;
}

/* Bytes after the last reply: may the connection have left them? */
static int may_cut(const session *s)
{
    if (gw_conn_state(&s->c) != GW_CONN_CLOSED)
        return 0;
    switch (gw_conn_reason(&s->c)) {
    case GW_CLOSE_UPSTREAM:
    case GW_CLOSE_PEER:
    case GW_CLOSE_REQUEST_TIMEOUT:
    case GW_CLOSE_WRITE_TIMEOUT:
    case GW_CLOSE_IO:
        return 1;
    default:
        return 0;
    }
}

static void check_client_bytes(session *s)
{
    const unsigned char *p;
    const reply_rec *r;
    answer_rec *ans;
    hf_decoder d;
    hf_limits lim;
    hf_frame fr;
    hf_status st;
    size_t n_ans, bad_segs, next, i, off, len, tail;
    unsigned answers = 0, frame_errors = 0, bad_frames = 0;
    unsigned unavailable = 0, failed = 0, timeouts_seen = 0;
    int found;

    /* Everything queued: sent, then still pending. */
    p = gw_conn_output(&s->c, GW_CLIENT, &len);
    if (len > 0)
        vec_add(&s->sent, p, len);
    ans = scan_answers(s, &n_ans, &bad_segs);
    hf_limits_default(&lim);
    lim.max_content = HF_CONTENT_LIMIT_MAX;
    FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
    off = 0;
    next = 0;
    for (i = 0; i < s->n_replies; i++) {
        r = &s->replies[i];
        st = hf_decode(&d, s->sent.p + off, s->sent.len - off, &fr);
        FZ_CHECK(st == HF_OK);
        FZ_CHECK(fr.frame_len == r->bytes_out);
        switch (r->kind) {
        case GW_KIND_RELAYED:
            /* Byte for byte a later frame the upstream delivered. */
            found = 0;
            for (; next < n_ans && !found; next++)
                found = ans[next].complete && !ans[next].stray &&
                        ans[next].len == fr.frame_len &&
                        memcmp(s->dl.p + ans[next].off, s->sent.p + off,
                               fr.frame_len) == 0;
            FZ_CHECK(found);
            break;
        case GW_KIND_BAD_REQUEST:
            check_error_frame(&fr, s->sent.p + off,
                              gw_req_status_name(r->req_status));
            bad_frames += r->req_status == GW_REQ_E_UP_BAD_FRAME;
            unavailable += r->req_status == GW_REQ_E_UP_UNAVAILABLE;
            failed += r->req_status == GW_REQ_E_UP_FAILED;
            timeouts_seen += r->req_status == GW_REQ_E_UP_TIMEOUT;
            frame_errors += r->req_status == GW_REQ_E_PROXY;
            break;
        default:
            check_error_frame(&fr, s->sent.p + off,
                              hf_status_name(r->frame_status));
            frame_errors++;
            break;
        }
        if (r->kind != GW_KIND_FRAME_ERROR &&
            r->req_status != GW_REQ_E_PROXY) {
            /* One reply per request, in order: the n-th is the n-th
             * request frame's. */
            FZ_CHECK(answers < s->n_frames);
            FZ_CHECK(r->bytes_in == s->frames[answers].declared);
            answers++;
        }
        off += fr.frame_len;
    }
    tail = s->sent.len - off;
    if (tail > 0) {
        /* An answer cut short, by an abort that allows it. */
        FZ_CHECK(may_cut(s));
        st = hf_decode(&d, s->sent.p + off, tail, &fr);
        FZ_CHECK(st == HF_NEED_MORE);
        found = 0;
        for (; next < n_ans && !found; next++)
            found = ans[next].len >= tail &&
                    memcmp(s->dl.p + ans[next].off, s->sent.p + off,
                           tail) == 0;
        FZ_CHECK(found);
    }
    if (gw_conn_reason(&s->c) == GW_CLOSE_UPSTREAM)
        FZ_CHECK(tail > 0);
    FZ_CHECK(frame_errors <= 1);
    FZ_CHECK(bad_frames <= bad_segs);
    FZ_CHECK(unavailable <= s->connect_failures);
    FZ_CHECK(failed <= s->ready_losses);
    FZ_CHECK(timeouts_seen == 0 || s->cfg.relay.upstream_timeout > 0);
    hf_decoder_free(&d);
    free(ans);
}

/* A request timeout only while a request frame is incomplete. */
static void check_close_reason(const session *s)
{
    const req_frame *f;

    if (gw_conn_reason(&s->c) != GW_CLOSE_REQUEST_TIMEOUT)
        return;
    FZ_CHECK(s->cfg.request_timeout > 0);
    FZ_CHECK(s->in_pos > 0);
    f = frame_at(s, s->in_pos - 1);
    FZ_CHECK(f == NULL || s->in_pos < f->end ||
             f->end < f->start + f->declared);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader rd;
    fz_alloc a;
    session *s;
    const uint8_t *steps;
    const int *tp;
    size_t k;
    size_t i;
    size_t clen;
    uint8_t lim_byte;
    uint8_t cap;
    uint8_t prof;
    unsigned char head[GW_PROXY_MAX];
    gw_conn_state_t st;

    s = calloc(1, sizeof(*s));
    FZ_CHECK(s != NULL);
    rd.p = data;
    rd.len = size;
    lim_byte = fz_take_u8(&rd);
    fz_limits_from_byte(&s->cfg.limits, lim_byte);
    fz_alloc_init(&a, SIZE_MAX);
    s->cfg.limits.alloc = &a.hooks;
    cap = fz_take_u8(&rd);
    s->cfg.max_output = cap == 0 ? GW_OUTPUT_DEFAULT : (size_t)cap * 4;
    prof = fz_take_u8(&rd);
    tp = timeouts[prof & 7];
    s->cfg.request_timeout = tp[0] * MS;
    s->cfg.idle_timeout = tp[1] * MS;
    s->cfg.write_timeout = tp[2] * MS;
    s->cfg.drain_timeout = tp[3] * MS;
    s->cfg.relay.upstream_timeout = tp[4] * MS;
    s->cfg.relay.connect_timeout = tp[4] * MS / 2;
    s->cfg.relay.on = 1;
    s->cfg.relay.attempts = 1 + ((prof >> 3) & 3);
    s->cfg.proxy_protocol = (prof >> 5) & 1;
    s->cfg.on_proxy = on_proxy;
    s->cfg.on_request = on_request;
    k = fz_take_u8(&rd) % (STEPS_MAX + 1);
    clen = fz_take_u16(&rd);
    k = fz_take_bytes(&rd, k, &steps);
    if (clen > rd.len)
        clen = rd.len;
    if (s->cfg.proxy_protocol) {
        s->proxy_len = proxy_header(head, (prof >> 6) & 1);
        s->in = malloc(s->proxy_len + clen);
        FZ_CHECK(s->in != NULL);
        memcpy(s->in, head, s->proxy_len);
        if (clen > 0)
            memcpy(s->in + s->proxy_len, rd.p, clen);
    } else {
        s->in = fz_dup(rd.p, clen);
    }
    s->in_len = s->proxy_len + clen;
    s->script.p = rd.p + clen;
    s->script.len = rd.len - clen;
    s->now = 1000 * MS;
    gw_memio_init(&s->m);
    s->m.user = s;
    s->m.on_connect = on_connect;
    s->m.on_close = on_close;
    s->m.on_io = on_io;
    s->m.connect_result = 0;        /* in progress until told */
    s->m.connect_done_result = 0;
    s->m.peer[GW_CLIENT].budget = 0;
    s->m.peer[GW_UPSTREAM].budget = 0;
    if (lim_byte == 0xff) {
        s->cfg.limits.max_header = HF_HEADER_MIN - 1;
        FZ_CHECK(gw_conn_init(&s->c, &s->cfg, s, s->now) == -1);
        FZ_CHECK(a.live == 0);
        gw_memio_free(&s->m);
        free(s->in);
        free(s);
        return 0;
    }
    FZ_CHECK(gw_conn_init(&s->c, &s->cfg, s, s->now) == 0);
    scan_client(s);

    for (i = 0; i < k; i++)
        step(s, steps[i]);
    wind_down(s);
    check_state(s);

    st = gw_conn_state(&s->c);
    FZ_CHECK(st == GW_CONN_CLOSED ||
             (st == GW_CONN_CLOSING && pending(s, GW_CLIENT) == 0));
    check_upstream_bytes(s);
    check_client_bytes(s);
    check_close_reason(s);
    if (s->proxy_calls > 0)
        FZ_CHECK(s->in_pos >= s->proxy_len);
    if (s->proxy_len > 0 && s->n_replies > 0 &&
        s->replies[0].req_status != GW_REQ_E_PROXY)
        FZ_CHECK(s->proxy_calls == 1);
    FZ_CHECK(a.peak <= 2 * (4 * s->cfg.limits.max_header + 16384));
    gw_conn_free(&s->c);
    FZ_CHECK(a.live == 0);
    if (s->up.rxd_on)
        hf_decoder_free(&s->up.rxd);
    gw_memio_free(&s->m);
    vec_free(&s->sent);
    vec_free(&s->rx);
    vec_free(&s->dl);
    vec_free(&s->up.tx);
    free(s->frames);
    free(s->segs);
    free(s->recvs);
    free(s->dlvs);
    free(s->replies);
    free(s->in);
    free(s);
    return 0;
}
