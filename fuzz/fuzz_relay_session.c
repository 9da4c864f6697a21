/*
 * fuzz_relay_session.c - relay mode (gateway/gw_relay.h) with its pool of
 * upstream connections (gateway/gw_pool.h), driven from every end:
 * several clients and a scripted upstream server behind gw_memio's
 * sockets, moved by gw_drive, the event loop's own driver, in a
 * gw_memnet (the event loop over memory).
 *
 * Input:
 *   byte 0    limits (fz_limits_from_byte; 0xff: a relay without a
 *             pool, then invalid limits, both of which gw_conn_init must
 *             refuse);
 *   byte 1    low 6 bits: output cap, 0 the default, else 4 * value;
 *             high 2 bits: a client's requests relayed at once: 0
 *             (which counts as 1), 2, 3 or 4;
 *   byte 2    low 3 bits: timeout profile (request, idle, write, drain,
 *             upstream, connect; some disabled); bits 3-4: attempts - 1;
 *             bit 5: PROXY protocol on, each client's bytes then start
 *             with a valid PROXY header the harness writes (bit 6: v2);
 *             bit 7: health on (one failure marks the upstream down);
 *   byte 3    low 2 bits: clients - 1 (1 to 4); bits 2-3: pool
 *             connections - 1; bits 4-5: pipeline depth - 1 (1 to 4);
 *             bit 6: active checks every 500 ms; bit 7: each upstream
 *             connection starts with a PROXY v2 header naming its client
 *             (--upstream-proxy-protocol), the clients' sockets then
 *             having a TCP4 address of their own;
 *   byte 4    k mod 65: the number of step bytes; k / 65: the PROXY
 *             header the clients send (with bit 5 of byte 2): TCP4, no
 *             address (v1 UNKNOWN, v2 LOCAL), v2 AF_UNIX, TCP6;
 *   bytes 5-6 the clients' byte count (big-endian, clamped), the same
 *             bytes for every client;
 *   k step bytes, the clients' bytes, then the upstream's script.
 * Each step byte is an operation (low 4 bits) and an amount a (high 4
 * bits); CHUNK[a] is a size from 1 byte to "everything". The client or
 * upstream connection a step acts on is the step's index modulo their
 * count. After each step the loop runs (a few passes) with what the
 * peers allow:
 *   0  the client sends its next CHUNK[a] bytes;
 *   1  the client reads up to CHUNK[a] bytes;
 *   2  the upstream connection reads up to CHUNK[a] request bytes; every
 *      request frame it completes is answered with the next script item
 *      (unless stalled);
 *   3  up to CHUNK[a] of its answer bytes become readable; once all are
 *      read, a pending close is reported;
 *   4  a < 8: it sends a frame nobody asked for, when no request is
 *      outstanding on it (one that comes after a request went out cannot
 *      be told from that request's answer by any relay); a >= 8: it
 *      answers its next request early, as soon as a content byte of it
 *      arrives, its digest then being of the bytes received so far (a
 *      server may answer before a request ends, and the relay must pass
 *      that answer on while the rest of the request still goes up);
 *   5  connects: a % 4 = 0 completes those in progress, 1 fails them, 2
 *      makes new connects fail at once (from a = 8 on: find no socket to
 *      try with, descriptors having run out), 3 succeed at once;
 *   6  the upstream connection: a % 3 = 0 closes after its pending bytes,
 *      1 resets now, 2 stops answering;
 *   7  the clock advances a * 250 ms;
 *   8  a % 8: 0 client EOF, 1 server shutdown, 2 client reads all, 3
 *      abort (socket error), 4 its socket fails, 5 tick, 6 jump to the
 *      next deadline, 7 nothing;
 *   9-15 one round of the loop with CHUNK[a] as every size.
 * Answers: the upstream answers each request with a frame whose content
 * starts with a digest of the request's bytes; a script item (one byte
 * t) picks how: t % 8 = 0, 1: canonical (byteorder t & 1, content type
 * and length from t / 8); 2: with an extension; 3: a valid non-canonical
 * header; 4: raw script bytes (garbage); 5: the answer cut short, then
 * EOF, a reset or nothing; 6: close (EOF or reset), stall, or one answer
 * and EOF; 7: the answer and then a frame nobody asked for, or a stray
 * byte. After the steps the loop runs until nothing moves, the clients
 * send EOF, and the clock runs with every connect refused until every
 * client is done (bounded).
 *
 * Oracles:
 *  - every answer a client receives is the answer to its own request:
 *    its n-th relayed reply carries the digest of its n-th request (of
 *    a prefix of it taking in a content byte, when answered early), byte
 *    for byte a frame an upstream connection delivered; a frame nobody
 *    asked for never reaches a client, and never shifts an answer;
 *  - every reply is a relayed answer, an upstream-* error frame
 *    (text/json, canonical, code matching), a codec error frame, or
 *    bad-proxy-header; one per request in order (its bytes_in is the
 *    request's length); bytes after the last reply only when the client
 *    was closed and they are a prefix of a delivered frame;
 *  - no failure counted against the upstream, and never marked down,
 *    while the only trouble was no socket to connect with;
 *  - upstream-bad-frame only after an upstream delivered an invalid
 *    frame, upstream-unavailable only after a connect failed or with
 *    health on, upstream-timeout only with a timeout set;
 *  - with --upstream-proxy-protocol, each upstream connection of a
 *    client starts with a v2 header naming the address of the client's
 *    own PROXY header, or its socket's without one, and LOCAL when its
 *    header has no address (never the socket's then);
 *  - every upstream connection received whole, valid request frames,
 *    each byte-identical to one of the clients' (a cut last one only on
 *    a connection the relay gave up on), at most the pipeline depth in
 *    flight;
 *  - a frame error but truncated is the one decoding the client's bytes
 *    finds (same code, same frame offset), at the place docs/protocol.md
 *    4.2 gives (fz_check_frame_error);
 *  - a client closed as done (its stream ended) read to a frame's end:
 *    one whose stream ends inside a frame gets the truncated error frame
 *    after the answers before it (unless that frame's answer had begun
 *    to go out early, which can only be cut);
 *  - a request timeout only after the request timeout has passed while
 *    the relay wanted to read that client since its frame's first byte:
 *    the clock stands while the relay holds the client back (a request
 *    or output at the cap, an answer awaited);
 *  - liveness: once the loop stands still with clean upstreams (one valid
 *    answer per request, nothing cut or stalled) and nothing left to
 *    send, every complete request has its reply;
 *  - the relay names the one upstream once a request went to it (each
 *    exchange too), always once an answer was relayed;
 *  - gw_conn_poll agrees with the state; output within its cap plus one
 *    read, header or error frame; decoder memory bounded and freed;
 *    no more of a client's requests relayed at once than its depth,
 *    nor of them and the spare exchanges kept for its next ones;
 *    what a connection's buffers hold allocated bounded by its caps and
 *    depth, and nothing once it was idle long enough to be trimmed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz_util.h"
#include "gw_conn.h"
#include "gw_memio.h"
#include "gw_pool.h"
#include "gw_pool_int.h"

#define STEPS_MAX 64
#define CLIENTS_MAX 4
#define UPS_MAX 64              /* upstream connections over a session */
#define PASSES 8                /* loop passes after a step */
#define WIND_DOWN 256
#define ANSWER_MAX 2048
#define DIGEST_LEN 8
#define STRAY "STRAY!"
#define ERROR_FRAME_MAX (256 + 6 * HF_DETAIL_MAX)
#define MS ((gw_time)1000)

static const size_t chunk_sizes[16] = {
    1, 2, 3, 5, 8, 13, 21, 34, 64, 100, 143, 256, 512, 1024, 4096,
    SIZE_MAX
};

/* Timeout profiles: request, idle, write, drain, upstream, connect (ms;
 * 0: disabled). */
static const int timeouts[8][6] = {
    { 2000, 5000, 3000, 1000, 1500, 700 },
    { 0, 0, 0, 0, 0, 0 },
    { 0, 500, 0, 0, 300, 0 },
    { 500, 0, 500, 500, 0, 200 },
    { 100, 100, 100, 100, 100, 100 },
    { 300, 0, 200, 0, 700, 300 },
    { 0, 0, 0, 0, 250, 0 },
    { 5000, 0, 0, 0, 1000, 500 }
};

static const size_t answer_lens[8] = { 0, 1, 5, 10, 37, 43, 300, 1000 };

static const char *const answer_types[4] = {
    "text/json", "binary/custom-server-binary-type", "a",
    "text/json; charset=\xc3\xa9"
};

typedef struct vec {
    unsigned char *p;
    size_t len;
    size_t cap;
} vec;

/* One request frame of a client's bytes whose header is valid. */
typedef struct req_frame {
    size_t start;
    size_t header_end;      /* where its content begins */
    size_t end;             /* just past its last byte in the input */
    uint64_t declared;      /* 2 + N + content-length */
} req_frame;

typedef struct reply_rec {
    gw_kind kind;
    gw_req_status req_status;
    hf_status frame_status;
    size_t bytes_out;
    uint64_t bytes_in;
    int clean;              /* no upstream fault before it */
} reply_rec;

enum { UP_CLOSE_NONE = 0, UP_CLOSE_EOF, UP_CLOSE_RESET };

/* One connection of the pool, as the scripted server sees it. */
typedef struct upstream {
    struct session *s;
    gw_upconn *u;           /* NULL once closed */
    gw_memio *m;
    hf_decoder rxd;         /* reads the requests it receives */
    vec rx;                 /* every byte it received */
    size_t req_start;       /* where the request being read began */
    uint64_t begun;         /* request frames begun */
    uint64_t requests;      /* ... and whole */
    uint64_t answered;      /* answers emitted for them */
    vec tx;                 /* what it sends: tx_off readable, tx_read
                               read by the relay */
    size_t tx_off;
    size_t tx_read;
    vec dl;                 /* the bytes the relay read */
    int close_after;
    int stall;
    int early;              /* answer the next request at its first
                               content byte */
    int broken;             /* sent something else than one answer per
                               request */
    int invalid;            /* sent bytes that are not a valid frame */
    int shifted;            /* sent something else than an answer
                               while requests were on their way (a frame
                               nobody asked for, garbage, an answer cut
                               short): what follows may read as the
                               answer to a later request, which no relay
                               can tell */
    int probe;              /* the pool's health check */
    int pre;                /* a PROXY header comes first (owner set) */
    vec pre_rx;             /* ... its bytes, until it is whole */
    uint64_t most_inflight; /* requests begun before their answers were
                               read, at most */
} upstream;

typedef struct client {
    gw_conn c;
    gw_memio m;
    unsigned char *in;      /* its bytes: the input's, every content
                               byte xored with the client's number, so
                               no two clients send the same request */
    size_t sent;            /* bytes sent to the relay */
    size_t read;            /* ... and read by it */
    int eof;
    int gone;               /* closed and freed, as the loop would */
    gw_conn_state_t state;  /* ... then: its last state and reason */
    gw_close_reason reason;
    vec pending_out;        /* ... and what it had not sent */
    vec got;                /* every byte it received */
    reply_rec *replies;
    size_t n_replies;
    size_t replies_cap;
    int proxy_calls;
    gw_time clock;          /* time the relay wanted to read it */
    gw_time clock_mark;     /* clock when its current frame's first
                               byte was read */
    struct session *self;
} client;

typedef struct session {
    gw_conn_config cfg;
    gw_pool_config pc;
    gw_pool *pool;
    gw_memnet *net;
    gw_time now;
    int n_clients;
    client cl[CLIENTS_MAX];
    unsigned char *in;      /* every client's bytes */
    size_t in_len;
    size_t proxy_len;
    gw_proxy_info sock_addr;    /* the clients' sockets' addresses */
    gw_proxy_info named;        /* who an upstream must be told of */
    req_frame *frames;
    size_t n_frames;
    size_t valid_end;
    upstream ups[UPS_MAX];
    int n_ups;
    fz_reader script;
    unsigned connect_failures;
    unsigned local_failures;    /* ... of them with no socket to try */
    unsigned faults;        /* upstream faults the steps caused */
    int health;
    int answered_early;     /* an upstream answered a request early */
    int connect_mode;       /* what new connects do: 1, 0, GW_IO_ERROR,
                               GW_IO_LOCAL */
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

#define FNV_START 2166136261u

static uint32_t fnv(uint32_t h, const unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void hex_digest(uint32_t h, char out[DIGEST_LEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < DIGEST_LEN; i++)
        out[i] = hex[(h >> (28 - 4 * i)) & 15];
}

/* The digest an answer to request bytes p[0..n) starts with: FNV-1a,
 * as 8 hex digits. */
static void digest(const unsigned char *p, size_t n, char out[DIGEST_LEN])
{
    hex_digest(fnv(FNV_START, p, n), out);
}

/* Is tag the digest of request f of bytes in, or (early) of a prefix of
 * it that takes in at least one content byte? */
static int answers_frame(const unsigned char *in, const req_frame *f,
                         const unsigned char *tag, int early)
{
    char want[DIGEST_LEN];
    uint32_t h;
    size_t at;

    digest(in + f->start, f->end - f->start, want);
    if (memcmp(tag, want, DIGEST_LEN) == 0)
        return 1;
    if (!early)
        return 0;
    h = fnv(FNV_START, in + f->start, f->header_end - f->start);
    for (at = f->header_end; at < f->end; at++) {
        h = fnv(h, in + at, 1);
        hex_digest(h, want);
        if (memcmp(tag, want, DIGEST_LEN) == 0)
            return 1;
    }
    return 0;
}

/* The upstream connections so far answered every request once,
 * validly, and cut, stalled or reset nothing. */
static int ups_clean(const session *s)
{
    const upstream *up;
    int i;

    for (i = 0; i < s->n_ups; i++) {
        up = &s->ups[i];
        if (up->broken || up->stall || up->close_after != UP_CLOSE_NONE ||
            (up->m != NULL && up->m->fail))
            return 0;
    }
    return 1;
}

/* No upstream fault so far: every request was answered once, validly,
 * and nothing was cut, stalled, refused or reset. */
static int clean(const session *s)
{
    return s->faults == 0 && s->connect_failures == 0 && ups_clean(s);
}

static void on_request(void *user, const gw_request_info *info)
{
    client *cl = user;
    const gw_reply *r = info->reply;
    reply_rec *rec;

    FZ_CHECK(r != NULL && r->status != NULL && r->bytes_out > 0);
    FZ_CHECK(info->content_type_len <= GW_TYPE_LOG_MAX);
    FZ_CHECK(info->finished >= info->started);
    FZ_CHECK(info->names != NULL &&
             info->names->action_len <= sizeof info->names->action &&
             info->names->value_len <= sizeof info->names->value);
    switch (r->kind) {
    case GW_KIND_RELAYED:
        FZ_CHECK(r->req_status == GW_REQ_OK);
        FZ_CHECK(info->upstream == 0);
        break;
    case GW_KIND_BAD_REQUEST:
        FZ_CHECK(r->req_status == GW_REQ_E_UP_UNAVAILABLE ||
                 r->req_status == GW_REQ_E_UP_FAILED ||
                 r->req_status == GW_REQ_E_UP_TIMEOUT ||
                 r->req_status == GW_REQ_E_UP_BAD_FRAME ||
                 r->req_status == GW_REQ_E_PROXY);
        break;
    case GW_KIND_FRAME_ERROR:
        FZ_CHECK(r->frame_status > HF_NEED_MORE &&
                 r->frame_status < HF_STATUS_COUNT);
        break;
    default:
        FZ_CHECK(!"a reply kind relay mode never gives");
    }
    cl->replies = grow(cl->replies, &cl->replies_cap, cl->n_replies + 1,
                       sizeof(*cl->replies));
    rec = &cl->replies[cl->n_replies++];
    rec->kind = r->kind;
    rec->req_status = r->req_status;
    rec->frame_status = r->frame_status;
    rec->bytes_out = r->bytes_out;
    rec->bytes_in = info->bytes_in;
    rec->clean = clean(cl->self);
}

static void on_proxy(void *user, const gw_proxy_info *info)
{
    client *cl = user;

    FZ_CHECK(info->version == 1 || info->version == 2);
    FZ_CHECK(cl->n_replies == 0);
    cl->proxy_calls++;
    FZ_CHECK(cl->proxy_calls == 1);
}

/* The PROXY header every client sends: kind 0 TCP4, 1 no address
 * (v1 UNKNOWN, v2 LOCAL), 2 v2 AF_UNIX (v1: UNKNOWN with addresses),
 * 3 TCP6. */
static size_t proxy_header(unsigned char *out, int v2, int kind)
{
    static const char *const v1[4] = {
        "PROXY TCP4 192.0.2.1 198.51.100.7 51234 65432\r\n",
        "PROXY UNKNOWN\r\n",
        "PROXY UNKNOWN 192.0.2.1 198.51.100.7 51234 65432\r\n",
        "PROXY TCP6 2001:db8::1 2001:db8::7 51234 65432\r\n"
    };
    static const unsigned char sig[12] = {
        0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54,
        0x0a
    };
    static const unsigned char tcp4[16] = {
        0x21, 0x11, 0x00, 0x0c, 192, 0, 2, 1, 198, 51, 100, 7,
        0xc8, 0x22, 0xff, 0x98
    };
    static const unsigned char tcp6[40] = {
        0x21, 0x21, 0x00, 0x24, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 1, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 7, 0xc8, 0x22, 0xff, 0x98
    };
    size_t n;

    if (!v2) {
        n = strlen(v1[kind]);
        memcpy(out, v1[kind], n);
        return n;
    }
    memcpy(out, sig, sizeof(sig));
    if (kind == 0) {
        memcpy(out + 12, tcp4, sizeof(tcp4));
        return 12 + sizeof(tcp4);
    }
    if (kind == 3) {
        memcpy(out + 12, tcp6, sizeof(tcp6));
        return 12 + sizeof(tcp6);
    }
    if (kind == 1) {
        memcpy(out + 12, "\x20\x00\x00\x00", 4);
        return 16;
    }
    memcpy(out + 12, "\x21\x31\x00\xd8", 4);    /* AF_UNIX, 216 */
    memset(out + 16, 'u', 216);
    return 16 + 216;
}

/* An upstream connection's first bytes, its PROXY header: once whole,
 * it must name whom s->named says (LOCAL when nobody); the bytes after
 * it go on as requests. Returns how many of p[0..n) follow it. */
static size_t up_preamble(session *s, upstream *up, const unsigned char *p,
                          size_t n)
{
    gw_proxy_info got;
    const gw_proxy_info *want = &s->named;
    size_t len;

    vec_add(&up->pre_rx, p, n);
    if (gw_proxy_parse(up->pre_rx.p, up->pre_rx.len, &got) ==
        GW_PROXY_NEED_MORE)
        return 0;
    FZ_CHECK(gw_proxy_parse(up->pre_rx.p, up->pre_rx.len, &got) ==
             GW_PROXY_OK);
    FZ_CHECK(got.version == 2);
    FZ_CHECK(got.family == want->family);
    if (want->family == AF_INET || want->family == AF_INET6) {
        len = want->family == AF_INET ? 4 : 16;
        FZ_CHECK(memcmp(got.src_addr, want->src_addr, len) == 0);
        FZ_CHECK(memcmp(got.dst_addr, want->dst_addr, len) == 0);
        FZ_CHECK(got.src_port == want->src_port);
        FZ_CHECK(got.dst_port == want->dst_port);
    } else {
        FZ_CHECK(up->pre_rx.p[12] == 0x20);     /* LOCAL */
    }
    up->pre = 0;
    len = up->pre_rx.len - got.len;             /* bytes after it */
    return len;
}

static void add_frame(session *s, size_t start, size_t header_end,
                      size_t end, uint64_t declared)
{
    req_frame *f;

    s->frames = realloc(s->frames, (s->n_frames + 1) * sizeof(*s->frames));
    FZ_CHECK(s->frames != NULL);
    f = &s->frames[s->n_frames++];
    f->start = start;
    f->header_end = header_end;
    f->end = end;
    f->declared = declared;
}

/* The clients' request frames (at the same places for every client), and
 * each client's bytes. */
static void scan_clients(session *s)
{
    hf_decoder d;
    hf_limits lim = s->cfg.limits;
    hf_event ev;
    size_t off = s->proxy_len, start = s->proxy_len, header_end = 0, i, j;
    uint64_t declared = 0;
    int k;
    int have_header = 0;

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
    for (k = 0; k < s->n_clients; k++) {
        s->cl[k].in = fz_dup(s->in, s->in_len);
        for (i = 0; i < s->n_frames; i++)
            for (j = s->frames[i].header_end; j < s->frames[i].end; j++)
                s->cl[k].in[j] ^= (unsigned char)k;
    }
}

/* ---- the upstream's script ---- */

static void script_content(session *s, unsigned char *buf, size_t n)
{
    const uint8_t *p;
    size_t got = fz_take_bytes(&s->script, n, &p), i;

    if (got > 0)
        memcpy(buf, p, got);
    for (i = got; i < n; i++)
        buf[i] = (unsigned char)('a' + i % 26);
}

/* An answer frame whose content starts with tag (DIGEST_LEN bytes, or
 * STRAY), the rest from the script. */
static size_t encode_answer(session *s, unsigned char *out, const char *tag,
                            size_t tag_len, unsigned type, int big, int ext,
                            size_t clen)
{
    static const hf_str key = { "x-relay", 7 };
    static const hf_str value = { "-1.5e3", 6 };
    unsigned char content[DIGEST_LEN + 1000];
    hf_header h;
    size_t w = 0;

    hf_header_init(&h, answer_types[type & 3],
                   (type & 3) == 1 ? "binary" : "utf-8");
    h.byteorder = big ? HF_BYTEORDER_BIG : HF_BYTEORDER_LITTLE;
    if (ext)
        FZ_CHECK(hf_header_add_ext(&h, key, value, HF_VALUE_NUMBER) ==
                 HF_OK);
    memcpy(content, tag, tag_len);
    script_content(s, content + tag_len, clen);
    FZ_CHECK(hf_encode(&h, content, tag_len + clen, out, ANSWER_MAX, &w) ==
             HF_OK);
    return w;
}

static size_t encode_loose(session *s, unsigned char *out, const char *tag,
                           size_t clen)
{
    int n;

    n = snprintf((char *)out + HF_PREFIX_LEN, ANSWER_MAX - HF_PREFIX_LEN,
                 " {\"content-length\" :%zu,\"content-encoding\":"
                 "\"u\\u0074f-8\",\n\t\"byteorder\":\"big\","
                 "\"x\":null,\"content-type\":\"text/json\"}\r\n",
                 DIGEST_LEN + clen);
    FZ_CHECK(n > 0 && (size_t)n + HF_PREFIX_LEN + DIGEST_LEN + clen <=
                          ANSWER_MAX);
    out[0] = (unsigned char)(n >> 8);
    out[1] = (unsigned char)(n & 0xff);
    memcpy(out + HF_PREFIX_LEN + n, tag, DIGEST_LEN);
    script_content(s, out + HF_PREFIX_LEN + n + DIGEST_LEN, clen);
    return HF_PREFIX_LEN + (size_t)n + DIGEST_LEN + clen;
}

static void stray(session *s, upstream *up)
{
    unsigned char frame[ANSWER_MAX];
    size_t n = encode_answer(s, frame, STRAY, sizeof STRAY - 1, 0, 0, 0, 3);

    vec_add(&up->tx, frame, n);
    up->broken = 1;
}

/* The upstream answers the request rx[from..to) with the next item. */
static void answer(session *s, upstream *up, size_t from, size_t to)
{
    unsigned char frame[ANSWER_MAX];
    char tag[DIGEST_LEN];
    const uint8_t *raw;
    size_t n, cut;
    unsigned p;
    uint8_t t;

    if (up->close_after != UP_CLOSE_NONE)
        return;
    digest(up->rx.p + from, to - from, tag);
    t = s->script.len == 0 ? 0 : fz_take_u8(&s->script);
    p = t >> 3;
    switch (t & 7) {
    case 0:
    case 1:
    case 2:
        n = encode_answer(s, frame, tag, DIGEST_LEN, p >> 3, t & 1,
                          (t & 7) == 2, answer_lens[p & 7]);
        vec_add(&up->tx, frame, n);
        break;
    case 3:
        n = encode_loose(s, frame, tag, answer_lens[p & 7]);
        vec_add(&up->tx, frame, n);
        break;
    case 4:
        n = fz_take_bytes(&s->script, 1 + (size_t)p * 4, &raw);
        vec_add(&up->tx, raw, n);
        up->broken = 1;
        up->invalid = 1;
        up->shifted = 1;
        break;
    case 5:
        up->broken = 1;
        n = encode_answer(s, frame, tag, DIGEST_LEN, 0, 1, 0,
                          answer_lens[p & 7]);
        cut = fz_take_u8(&s->script) % n;
        vec_add(&up->tx, frame, cut);
        if ((p >> 3) < 2)
            up->close_after = (p >> 3) == 0 ? UP_CLOSE_EOF : UP_CLOSE_RESET;
        else
            up->shifted = 1;
        break;
    case 6:
        switch (p & 3) {
        case 0:
            up->close_after = UP_CLOSE_EOF;
            up->broken = 1;
            break;
        case 1:
            up->close_after = UP_CLOSE_RESET;
            up->broken = 1;
            break;
        case 2:
            up->stall = 1;
            break;
        default:
            n = encode_answer(s, frame, tag, DIGEST_LEN, p >> 3, 0, 0,
                              answer_lens[5]);
            vec_add(&up->tx, frame, n);
            up->close_after = UP_CLOSE_EOF;
            break;
        }
        break;
    default:
        n = encode_answer(s, frame, tag, DIGEST_LEN, 0, 0, 0,
                          answer_lens[p & 7]);
        vec_add(&up->tx, frame, n);
        if (p & 1) {
            stray(s, up);
        } else {
            vec_add(&up->tx, "", 1);
            up->broken = 1;
            up->invalid = 1;
        }
        up->shifted = 1;
        break;
    }
}

/* ---- the upstream's connections ---- */

static upstream *up_of(session *s, const gw_memio *m)
{
    int i;

    for (i = 0; i < s->n_ups; i++)
        if (s->ups[i].m == m)
            return &s->ups[i];
    return NULL;
}

/* Complete answer frames the relay has read from up. */
static uint64_t answers_read(const upstream *up)
{
    hf_decoder d;
    hf_limits lim;
    hf_frame fr;
    uint64_t n = 0;
    size_t off = 0;

    hf_limits_default(&lim);
    lim.max_content = HF_CONTENT_LIMIT_MAX;
    FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
    while (off < up->dl.len &&
           hf_decode(&d, up->dl.p + off, up->dl.len - off, &fr) == HF_OK) {
        n++;
        off += fr.frame_len;
    }
    hf_decoder_free(&d);
    return n;
}

/* gw_memio's hook on an upstream socket: bytes moved. */
static void up_io(void *user, int write, size_t n)
{
    upstream *up = user;
    size_t at;
    hf_event ev;

    if (!write) {
        /* The relay read n answer bytes. */
        vec_add(&up->dl, up->tx.p + up->tx_read, n);
        up->tx_read += n;
        return;
    }
    at = up->rx.len;
    {
        size_t len, after;
        const unsigned char *p = gw_memio_sink(up->m, &len);

        FZ_CHECK(len == n);
        if (up->pre) {
            after = up_preamble(up->s, up, p, len);
            if (!up->pre)
                vec_add(&up->rx, up->pre_rx.p + up->pre_rx.len - after,
                        after);
        } else {
            vec_add(&up->rx, p, len);
        }
        gw_memio_take(up->m);
    }
    /* What the server makes of it: frames begun, frames whole. */
    while (at < up->rx.len) {
        if (!hf_decoder_in_frame(&up->rxd)) {
            uint64_t inflight;

            up->begun++;
            up->req_start = at;
            inflight = up->begun - answers_read(up);
            if (inflight > up->most_inflight)
                up->most_inflight = inflight;
        }
        at += hf_decoder_push(&up->rxd, up->rx.p + at, up->rx.len - at,
                              &ev);
        while (ev.type == HF_EV_HEADER || ev.type == HF_EV_CONTENT) {
            if (ev.type == HF_EV_CONTENT && up->early && !up->stall &&
                up->answered == up->requests) {
                up->early = 0;
                up->s->answered_early = 1;
                up->answered++;         /* the frame's end asks no more */
                answer(up->s, up, up->req_start, at);
            }
            at += hf_decoder_push(&up->rxd, up->rx.p + at,
                                  up->rx.len - at, &ev);
        }
        FZ_CHECK(ev.type != HF_EV_ERROR);   /* only valid frames go up */
        if (ev.type == HF_EV_FRAME_END) {
            up->requests++;
            if (!up->stall && up->answered < up->requests) {
                up->answered++;
                answer(up->s, up, up->req_start, at);
            }
        }
    }
}

/* gw_memnet's hook: the pool opened a connection; its peer starts as the
 * steps say connects go. */
static void up_opened(void *user, gw_upconn *u, gw_memio *m)
{
    session *s = user;
    upstream *up;
    hf_limits lim;

    FZ_CHECK(s->n_ups < UPS_MAX);
    up = &s->ups[s->n_ups++];
    memset(up, 0, sizeof(*up));
    up->s = s;
    up->u = u;
    up->m = m;
    up->probe = u->probe;
    up->pre = s->pc.upstream_proxy && u->owner != NULL;
    hf_limits_default(&lim);
    lim.max_content = HF_CONTENT_LIMIT_MAX;
    FZ_CHECK(hf_decoder_init(&up->rxd, &lim) == HF_OK);
    m->user = up;
    m->on_io = up_io;
    m->budget = 0;
    m->connect_result = s->connect_mode;
    m->connect_done_result = 0;
}

static void up_closed(void *user, gw_upconn *u, gw_memio *m)
{
    session *s = user;
    upstream *up = up_of(s, m);

    (void)u;
    if (up == NULL)
        return;
    if (!m->connected)
        s->connect_failures++;
    if (!m->connected && m->connect_result == GW_IO_LOCAL)
        s->local_failures++;
    up->u = NULL;
    up->m = NULL;
}

/* ---- the loop and the clients ---- */

/* A frame (the PROXY header, a request, or the bytes after the last
 * valid one) begins in [from, to) of a client's bytes. */
static int frame_begins(const session *s, size_t from, size_t to)
{
    size_t i;

    if (from == to)
        return 0;
    if (from == 0 || (s->valid_end >= from && s->valid_end < to))
        return 1;
    for (i = 0; i < s->n_frames; i++)
        if (s->frames[i].start >= from && s->frames[i].start < to)
            return 1;
    return 0;
}

static void collect(session *s, int k)
{
    client *cl = &s->cl[k];
    size_t n, was = cl->read;
    const unsigned char *p = gw_memio_sink(&cl->m, &n);

    vec_add(&cl->got, p, n);
    gw_memio_take(&cl->m);
    cl->read = cl->sent - gw_buf_pending(&cl->m.queue);
    if (frame_begins(s, was, cl->read))
        cl->clock_mark = cl->clock;
}

/* The clock moves to t. A client's request clock may count only the
 * time the relay wanted to read it: while it holds the client back
 * (output or request at its cap, the answer awaited) the clock stands. */
static void advance(session *s, gw_time t)
{
    int k;

    if (t <= s->now)
        return;
    for (k = 0; k < s->n_clients; k++) {
        client *cl = &s->cl[k];

        if (!cl->gone && (gw_conn_poll(&cl->c, NULL) & GW_WANT_READ))
            cl->clock += t - s->now;
    }
    s->now = t;
}

/* A client the loop would close: its record stays for the oracles. */
static void retire(session *s, int k)
{
    client *cl = &s->cl[k];
    size_t n;
    const unsigned char *p;

    collect(s, k);
    cl->gone = 1;
    cl->state = gw_conn_state(&cl->c);
    cl->reason = gw_conn_reason(&cl->c);
    p = gw_conn_output(&cl->c, &n);
    vec_add(&cl->pending_out, p, n);
    gw_memnet_remove(s->net, &cl->c);
    gw_conn_free(&cl->c);
    gw_memio_free(&cl->m);
}

/* A client's requests relayed at once (a depth of 0 counts as 1). */
static unsigned depth(const session *s)
{
    return s->cfg.relay.depth == 0 ? 1 : s->cfg.relay.depth;
}

/* What a connection holds allocated: nothing once trimmed; else its
 * side's three buffers and two for each exchange (request, held answer),
 * up to depth of them with the spares, each holding at most the output cap,
 * one read and a header or error frame, which a doubling buffer may
 * allocate twice over. */
static void check_memory(const session *s, const gw_conn *c, size_t slack)
{
    size_t most = s->cfg.max_output + GW_DRIVE_READ_SIZE + slack;
    size_t bufs = 3 + 2 * ((size_t)depth(s) + 1);

    if (c->trimmed)
        FZ_CHECK(gw_conn_buffered(c) == 0);
    FZ_CHECK(gw_conn_buffered(c) <=
             sizeof(hf_decoder) + bufs * (2 * most + GW_BUF_MIN_ALLOC));
}

static void check_state(const session *s, int k)
{
    const client *cl = &s->cl[k];
    const gw_conn *c = &cl->c;
    gw_conn_state_t st = gw_conn_state(c);
    unsigned want = gw_conn_poll(c, NULL);
    size_t out, hdr = HF_PREFIX_LEN + s->cfg.limits.max_header;
    size_t slack = hdr > ERROR_FRAME_MAX ? hdr : ERROR_FRAME_MAX;
    size_t i;
    const gw_exchange *x;
    int up = c->relay.upstream;

    /* The one upstream, once a request went to it (and since a time
     * that has been); always once an answer was relayed. */
    FZ_CHECK(up == -1 || up == 0);
    for (x = c->relay.head; x != NULL; x = x->next) {
        FZ_CHECK(x->upstream == -1 || x->upstream == 0);
        if (x->upstream == 0)
            FZ_CHECK(x->up_start <= s->now);
    }
    FZ_CHECK(c->relay.n <= depth(s));
    /* Spares come from finished exchanges and go to new ones first. */
    FZ_CHECK(c->relay.n + c->relay.n_spare <= depth(s));
    for (i = 0; i < cl->n_replies; i++)
        if (cl->replies[i].kind == GW_KIND_RELAYED)
            FZ_CHECK(up == 0);
    gw_conn_output(c, &out);
    FZ_CHECK(st <= GW_CONN_CLOSED);
    if (want & GW_WANT_WRITE)
        FZ_CHECK(out > 0 && st != GW_CONN_CLOSED && st != GW_CONN_DRAINING);
    if (want & GW_WANT_READ)
        FZ_CHECK(st == GW_CONN_OPEN || st == GW_CONN_DRAINING);
    FZ_CHECK(!(want & GW_WANT_SHUT) == !(st == GW_CONN_LINGER && out == 0));
    FZ_CHECK(!(want & GW_WANT_CLOSE) ==
             !(st == GW_CONN_CLOSED || (st == GW_CONN_CLOSING && out == 0)));
    FZ_CHECK(!(want & (GW_WANT_CONNECT | GW_WANT_CONNECTING)));
    FZ_CHECK(out < s->cfg.max_output + GW_DRIVE_READ_SIZE + slack);
    check_memory(s, c, slack);
    if (st != GW_CONN_OPEN)
        FZ_CHECK(gw_conn_reason(c) != GW_CLOSE_NONE ||
                 st == GW_CONN_CLOSING);
}

/* The loop runs a few passes; then what moved is gathered, the clients
 * the loop would close are let go, and each is checked. */
/* No socket to connect with is the relay's own trouble: while it is the
 * only one (no timeout could have fired, no answer broke the limits), no
 * failure is counted
 * against the upstream and it is never marked down. */
static int any_bad_answer(const session *s);

static void check_health(const session *s)
{
    gw_upstream_stats st;

    if (s->faults > 0 || s->connect_failures > s->local_failures ||
        s->pc.connect_timeout > 0 || s->pc.upstream_timeout > 0 ||
        !ups_clean(s) || any_bad_answer(s))
        return;
    gw_pool_stats(s->pool, 0, &st);
    FZ_CHECK(st.failures == 0 && st.timeouts == 0 && !st.down);
}

static void settle(session *s)
{
    int k;

    gw_memnet_settle(s->net, s->now, PASSES);
    check_health(s);
    for (k = 0; k < s->n_clients; k++) {
        if (s->cl[k].gone)
            continue;
        collect(s, k);
        check_state(s, k);
        if (gw_conn_poll(&s->cl[k].c, NULL) & GW_WANT_CLOSE)
            retire(s, k);
    }
}

static void client_send(session *s, int k, size_t n)
{
    client *cl = &s->cl[k];

    if (cl->gone || cl->eof)
        return;
    if (n > s->in_len - cl->sent)
        n = s->in_len - cl->sent;
    FZ_CHECK(gw_memio_send(&cl->m, cl->in + cl->sent, n) == 0);
    cl->sent += n;
    gw_memnet_wake(s->net, NULL, &cl->c);
}

static void client_budget(session *s, size_t n)
{
    int k;

    for (k = 0; k < s->n_clients; k++)
        if (!s->cl[k].gone)
            s->cl[k].m.budget = n;
}

/* The open upstream connection a step picks; NULL when none. */
static upstream *pick_up(session *s, unsigned idx)
{
    int i, open = 0;

    for (i = 0; i < s->n_ups; i++)
        open += s->ups[i].m != NULL;
    if (open == 0)
        return NULL;
    idx %= (unsigned)open;
    for (i = 0; i < s->n_ups; i++) {
        if (s->ups[i].m != NULL && idx-- == 0)
            return &s->ups[i];
    }
    return NULL;
}

/* Up to n more answer bytes become readable; or the pending close. */
static void up_deliver(upstream *up, size_t n)
{
    size_t avail = up->tx.len - up->tx_off;

    if (n > avail)
        n = avail;
    if (n > 0) {
        FZ_CHECK(gw_memio_send(up->m, up->tx.p + up->tx_off, n) == 0);
        up->tx_off += n;
    } else if (up->tx_read == up->tx.len &&
               up->close_after != UP_CLOSE_NONE) {
        if (up->close_after == UP_CLOSE_RESET)
            up->m->fail = 1;
        else
            up->m->eof = 1;
    }
}

/* A frame nobody asked for, when no request is outstanding on up: read
 * by that connection alone, before anything else moves. */
static void up_unasked(session *s, upstream *up)
{
    unsigned want;

    if (up->u == NULL || gw_upconn_load(up->u) != 0 ||
        up->begun != answers_read(up) || up->tx_read != up->tx.len ||
        up->tx_off != up->tx.len)
        return;
    want = gw_upconn_poll(up->u, NULL);
    if (!(want & GW_WANT_READ) || (want & GW_WANT_WRITE))
        return;
    stray(s, up);
    up_deliver(up, SIZE_MAX);
    gw_drive(up->u, &gw_upconn_ops, &up->m->io, GW_READY_IN, s->now, NULL);
}

static void connects(session *s, int result)
{
    int i;

    for (i = 0; i < s->n_ups; i++) {
        if (s->ups[i].m != NULL && !s->ups[i].m->connected)
            s->ups[i].m->connect_done_result = result;
    }
}

/* One round of the loop with n as every size. */
static void round_all(session *s, size_t n)
{
    int i, k;

    for (k = 0; k < s->n_clients; k++)
        client_send(s, k, n);
    for (i = 0; i < s->n_ups; i++) {
        if (s->ups[i].m == NULL)
            continue;
        s->ups[i].m->budget = n;
        up_deliver(&s->ups[i], n);
    }
    client_budget(s, n);
    settle(s);
    client_budget(s, 0);
    for (i = 0; i < s->n_ups; i++)
        if (s->ups[i].m != NULL)
            s->ups[i].m->budget = 0;
}

static void special(session *s, int k, unsigned a)
{
    client *cl = &s->cl[k];
    gw_time d;
    int j;

    switch (a % 8) {
    case 0:
        if (!cl->gone) {
            cl->eof = 1;
            cl->m.eof = 1;
            gw_memnet_wake(s->net, NULL, &cl->c);
        }
        break;
    case 1:
        for (j = 0; j < s->n_clients; j++)
            if (!s->cl[j].gone)
                gw_conn_shutdown(&s->cl[j].c, s->now);
        break;
    case 2:
        client_budget(s, SIZE_MAX);
        settle(s);
        client_budget(s, 0);
        break;
    case 3:
        if (!cl->gone)
            gw_conn_abort(&cl->c, GW_CLOSE_IO);
        break;
    case 4:
        if (!cl->gone)
            cl->m.fail = 1;
        break;
    case 6:
        d = gw_memnet_deadline(s->net);
        if (d != GW_TIME_NEVER)
            advance(s, d);
        break;
    default:
        break;
    }
}

static void step(session *s, unsigned idx, uint8_t b)
{
    unsigned a = b >> 4;
    size_t n = chunk_sizes[a];
    int k = (int)(idx % (unsigned)s->n_clients);
    upstream *up = pick_up(s, idx);

    switch (b & 15) {
    case 0:
        client_send(s, k, n);
        break;
    case 1:
        if (!s->cl[k].gone)
            s->cl[k].m.budget = n;
        break;
    case 2:
        if (up != NULL)
            up->m->budget = n;
        break;
    case 3:
        if (up != NULL)
            up_deliver(up, n);
        break;
    case 4:
        if (up != NULL && a >= 8)
            up->early = 1;
        else if (up != NULL)
            up_unasked(s, up);
        break;
    case 5:
        switch (a % 4) {
        case 0:
            connects(s, 1);
            break;
        case 1:
            connects(s, GW_IO_ERROR);
            break;
        case 2:
            /* From 8 on: no socket to try with. */
            s->connect_mode = a >= 8 ? GW_IO_LOCAL : GW_IO_ERROR;
            s->faults += a < 8;
            break;
        default:
            s->connect_mode = 1;
            break;
        }
        break;
    case 6:
        if (up == NULL)
            break;
        s->faults++;
        if (a % 3 == 0)
            up->close_after = UP_CLOSE_EOF;
        else if (a % 3 == 1 && (a & 16) == 0)
            up->m->fail = 1;
        else if (a % 3 == 1)
            up->m->fail_write = 1;  /* met by the next request byte */
        else
            up->stall = 1;
        break;
    case 7:
        advance(s, s->now + (gw_time)a * 250 * MS);
        break;
    case 8:
        special(s, k, a);
        break;
    default:
        round_all(s, n);
        return;
    }
    settle(s);
    client_budget(s, 0);
    if (up != NULL && up->m != NULL)
        up->m->budget = 0;
}

/* ---- the end of a session ---- */

/* Complete requests of client k whose every byte the relay read. */
static size_t whole_read(const session *s, int k)
{
    const req_frame *f;
    size_t i, n = 0;

    for (i = 0; i < s->n_frames; i++) {
        f = &s->frames[i];
        if (f->end <= s->cl[k].read && f->end - f->start == f->declared)
            n++;
    }
    return n;
}

/* Replies that answer a request (not a codec error or a bad PROXY
 * header). */
static size_t answers_of(const client *cl)
{
    size_t i, n = 0;

    for (i = 0; i < cl->n_replies; i++)
        n += cl->replies[i].kind != GW_KIND_FRAME_ERROR &&
             cl->replies[i].req_status != GW_REQ_E_PROXY;
    return n;
}

/* A request that streams (past the output cap) and whose client
 * stopped inside it: it holds its pool connection until the client
 * sends the rest or its request timeout, and requests that need that
 * connection wait as long. */
static int streaming_stalled(const session *s)
{
    const gw_exchange *x;
    int k;

    for (k = 0; k < s->n_clients; k++) {
        if (s->cl[k].gone)
            continue;
        for (x = s->cl[k].c.relay.head; x != NULL; x = x->next)
            if (x->up != NULL && !gw_relay_whole(x))
                return 1;
    }
    return 0;
}

/* Client k has a request waiting in the pool for a connection. */
static int waits_in_pool(const session *s, int k)
{
    const gw_exchange *x;

    for (x = s->cl[k].c.relay.head; x != NULL; x = x->next)
        if (x->queued)
            return 1;
    return 0;
}

/* Liveness: the loop stands still, the upstream was clean and every
 * client has sent and read all: every request read has its reply,
 * unless it waits in the pool while a stalled request holds a
 * connection. */
static void check_idle(const session *s)
{
    const client *cl;
    int k, stalled;

    if (!clean(s))
        return;
    stalled = streaming_stalled(s);
    for (k = 0; k < s->n_clients; k++) {
        cl = &s->cl[k];
        if (cl->gone || gw_conn_state(&cl->c) != GW_CONN_OPEN ||
            (stalled && waits_in_pool(s, k)))
            continue;
        FZ_CHECK(answers_of(cl) >= whole_read(s, k));
    }
}

/* Every upstream connection: everything it has to send, readable. */
static void up_all(session *s)
{
    int i;

    for (i = 0; i < s->n_ups; i++) {
        if (s->ups[i].m == NULL)
            continue;
        s->ups[i].m->budget = SIZE_MAX;
        up_deliver(&s->ups[i], SIZE_MAX);
    }
}

static int clients_left(const session *s)
{
    int k, n = 0;

    for (k = 0; k < s->n_clients; k++)
        n += !s->cl[k].gone;
    return n;
}

/* Play the rest: the loop until nothing moves with every connect
 * succeeding; the clients' EOF; then time with every upstream failing
 * until every client is done. */
static void wind_down(session *s)
{
    uint64_t before;
    size_t got;
    int i, k;

    s->connect_mode = 1;
    connects(s, 1);
    for (i = 0; i < WIND_DOWN; i++) {
        before = 0;
        for (k = 0; k < s->n_clients; k++)
            before += s->cl[k].sent + s->cl[k].got.len;
        for (k = 0; k < s->n_ups; k++)
            before += s->ups[k].rx.len + s->ups[k].tx_read +
                      s->ups[k].tx.len;
        round_all(s, SIZE_MAX);
        client_budget(s, SIZE_MAX);
        up_all(s);
        settle(s);
        client_budget(s, 0);
        got = 0;
        for (k = 0; k < s->n_clients; k++)
            got += s->cl[k].sent + s->cl[k].got.len;
        for (k = 0; k < s->n_ups; k++)
            got += s->ups[k].rx.len + s->ups[k].tx_read + s->ups[k].tx.len;
        if (got == before)
            break;
    }
    if (i < WIND_DOWN)
        check_idle(s);
    for (k = 0; k < s->n_clients; k++)
        special(s, k, 0);
    s->connect_mode = GW_IO_ERROR;
    s->faults++;
    connects(s, GW_IO_ERROR);
    for (i = 0; i < WIND_DOWN && clients_left(s) > 0; i++) {
        for (k = 0; k < s->n_ups; k++)
            if (s->ups[k].m != NULL && s->ups[k].m->connected)
                s->ups[k].m->fail = 1;
        client_budget(s, SIZE_MAX);
        up_all(s);
        settle(s);
        client_budget(s, 0);
        advance(s, s->now + 1000 * MS);
    }
    FZ_CHECK(clients_left(s) == 0);
}

/* ---- what went upstream ---- */

/* Is p[0..n) client k's frame i, or (cut) a prefix of it? */
static int is_request(const session *s, const unsigned char *p, size_t n,
                     int cut)
{
    const req_frame *f;
    size_t i;
    int k;

    for (i = 0; i < s->n_frames; i++) {
        f = &s->frames[i];
        if (cut ? n >= f->declared || n > f->end - f->start
                : n != f->declared || f->end - f->start != n)
            continue;
        for (k = 0; k < s->n_clients; k++)
            if (memcmp(s->cl[k].in + f->start, p, n) == 0)
                return 1;
    }
    return 0;
}

static void check_upstream_bytes(const session *s)
{
    const upstream *up;
    hf_decoder d;
    hf_limits lim;
    hf_frame fr;
    hf_status st;
    size_t off;
    int i;

    hf_limits_default(&lim);
    lim.max_content = HF_CONTENT_LIMIT_MAX;
    FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
    for (i = 0; i < s->n_ups; i++) {
        up = &s->ups[i];
        FZ_CHECK(up->most_inflight <= s->pc.pipeline);
        if (up->probe) {
            /* The pool's own search, nothing else, after a LOCAL PROXY
             * header when upstreams are told of clients. */
            const unsigned char *p = up->rx.p;
            size_t n = up->rx.len;
            gw_proxy_info pi;

            if (s->pc.upstream_proxy && n > 0) {
                if (gw_proxy_parse(p, n, &pi) == GW_PROXY_NEED_MORE)
                    continue;   /* cut inside the header */
                FZ_CHECK(gw_proxy_parse(p, n, &pi) == GW_PROXY_OK &&
                         pi.family == AF_UNSPEC);
                p += pi.len;
                n -= pi.len;
            }
            FZ_CHECK(n <= gw_buf_pending(&s->pool->probe));
            FZ_CHECK(n == 0 ||
                     memcmp(p, gw_buf_peek(&s->pool->probe), n) == 0);
            continue;
        }
        off = 0;
        while (off < up->rx.len) {
            st = hf_decode(&d, up->rx.p + off, up->rx.len - off, &fr);
            if (st == HF_NEED_MORE) {
                FZ_CHECK(is_request(s, up->rx.p + off, up->rx.len - off,
                                    1));
                break;
            }
            FZ_CHECK(st == HF_OK);
            FZ_CHECK(is_request(s, up->rx.p + off, fr.frame_len, 0));
            off += fr.frame_len;
        }
    }
    hf_decoder_free(&d);
}

/* ---- what went to the clients ---- */

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

/* A frame error but truncated (the stream's end, checked by
 * check_stream_end) is the error of the client's first invalid frame,
 * with its frame offset as the reply's bytes_in, where docs/protocol.md
 * 4.2 says (fz_check_frame_error). */
static void check_client_frame_error(const session *s, const client *cl,
                                     const reply_rec *r)
{
    hf_decoder d;
    hf_limits lim = s->cfg.limits;
    hf_frame fr;
    hf_status st;
    size_t at = s->valid_end;

    if (r->frame_status == HF_E_TRUNCATED)
        return;
    lim.alloc = NULL;
    FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
    st = hf_decode(&d, cl->in + at, s->in_len - at, &fr);
    FZ_CHECK(st == r->frame_status);
    FZ_CHECK(hf_decoder_error(&d)->frame_offset == r->bytes_in);
    fz_check_frame_error(hf_decoder_error(&d), st, 0, cl->in + at,
                         s->in_len - at, &lim);
    hf_decoder_free(&d);
}

/* The upstream connection whose read bytes hold p[0..n) (as a whole
 * frame, or as the start of one when cut); NULL when none. */
static const upstream *delivered_by(const session *s, const unsigned char *p,
                                    size_t n)
{
    const upstream *up;
    size_t off;
    int i;

    for (i = 0; i < s->n_ups; i++) {
        up = &s->ups[i];
        for (off = 0; off + n <= up->dl.len; off++)
            if (memcmp(up->dl.p + off, p, n) == 0)
                return up;
    }
    return NULL;
}

/* Did any upstream connection send what the relay must refuse: bytes
 * that are no frame, or a frame beyond the limits? */
static int any_bad_answer(const session *s)
{
    hf_decoder d;
    hf_limits lim = s->cfg.limits;
    hf_frame fr;
    hf_status st;
    size_t off;
    int i, bad = 0;

    lim.alloc = NULL;
    FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
    for (i = 0; i < s->n_ups && !bad; i++) {
        bad = s->ups[i].invalid || s->ups[i].shifted;
        for (off = 0; off < s->ups[i].dl.len && !bad;
             off += fr.frame_len) {
            st = hf_decode(&d, s->ups[i].dl.p + off,
                           s->ups[i].dl.len - off, &fr);
            if (st != HF_OK) {
                bad = st != HF_NEED_MORE;
                break;
            }
        }
    }
    hf_decoder_free(&d);
    return bad;
}

/* Bytes after the last reply: may the connection have left them? */
static int may_cut(const client *cl)
{
    if (cl->state != GW_CONN_CLOSED)
        return 0;
    switch (cl->reason) {
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

static void check_client_bytes(session *s, int k)
{
    client *cl = &s->cl[k];
    const reply_rec *r;
    const req_frame *f;
    const upstream *up;
    hf_decoder d;
    hf_limits lim;
    hf_frame fr;
    hf_status st;
    size_t i, off = 0, tail, answers = 0;
    unsigned frame_errors = 0;

    vec_add(&cl->got, cl->pending_out.p, cl->pending_out.len);
    hf_limits_default(&lim);
    lim.max_content = HF_CONTENT_LIMIT_MAX;
    FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
    for (i = 0; i < cl->n_replies; i++) {
        r = &cl->replies[i];
        if (i + 1 == cl->n_replies && cl->reason == GW_CLOSE_UPSTREAM &&
            r->kind == GW_KIND_BAD_REQUEST) {
            /* The answer the upstream cut after part of it went out:
             * the rest of what the client got, part of one frame an
             * upstream delivered, logged with the bytes written to the
             * client (not those still in its output at the close). */
            tail = cl->got.len - off;
            FZ_CHECK(r->bytes_out > 0 &&
                     r->bytes_out + cl->pending_out.len == tail);
            FZ_CHECK(hf_decode(&d, cl->got.p + off, tail, &fr) ==
                     HF_NEED_MORE);
            FZ_CHECK(delivered_by(s, cl->got.p + off, tail) != NULL);
            FZ_CHECK(r->req_status != GW_REQ_E_PROXY);
            f = answers < s->n_frames ? &s->frames[answers] : NULL;
            FZ_CHECK(f != NULL && r->bytes_in == f->declared);
            FZ_CHECK(frame_errors == 0);
            hf_decoder_free(&d);
            return;
        }
        st = hf_decode(&d, cl->got.p + off, cl->got.len - off, &fr);
        FZ_CHECK(st == HF_OK);
        FZ_CHECK(fr.frame_len == r->bytes_out);
        f = answers < s->n_frames ? &s->frames[answers] : NULL;
        switch (r->kind) {
        case GW_KIND_RELAYED:
            /* Byte for byte a frame an upstream connection delivered,
             * the answer to this client's request (unless it came after
             * a frame nobody asked for, which shifts what follows). */
            up = delivered_by(s, cl->got.p + off, fr.frame_len);
            FZ_CHECK(up != NULL);
            FZ_CHECK(f != NULL);
            if (!up->shifted)
                FZ_CHECK(fr.content_len >= DIGEST_LEN &&
                         answers_frame(cl->in, f, fr.content,
                                       s->answered_early));
            break;
        case GW_KIND_BAD_REQUEST:
            check_error_frame(&fr, cl->got.p + off,
                              gw_req_status_name(r->req_status));
            switch (r->req_status) {
            case GW_REQ_E_UP_BAD_FRAME:
                FZ_CHECK(any_bad_answer(s));
                break;
            case GW_REQ_E_UP_UNAVAILABLE:
                FZ_CHECK(s->connect_failures > 0 || s->health ||
                         s->pc.connect_timeout > 0);
                break;
            case GW_REQ_E_UP_FAILED:
                /* A bad answer on a pipelined connection fails the
                 * requests behind it too (an answer over the limits
                 * leaves the upstream looking clean). */
                FZ_CHECK(!r->clean || s->pc.upstream_timeout > 0 ||
                         s->pc.connect_timeout > 0 || any_bad_answer(s));
                break;
            case GW_REQ_E_UP_TIMEOUT:
                FZ_CHECK(s->pc.upstream_timeout > 0 ||
                         s->pc.connect_timeout > 0 ||
                         s->cfg.relay.wait_timeout > 0);
                break;
            default:
                frame_errors++;
                break;
            }
            break;
        default:
            check_error_frame(&fr, cl->got.p + off,
                              hf_status_name(r->frame_status));
            check_client_frame_error(s, cl, r);
            frame_errors++;
            break;
        }
        if (r->kind != GW_KIND_FRAME_ERROR &&
            r->req_status != GW_REQ_E_PROXY) {
            /* One reply per request, in order: the n-th is the n-th
             * request frame's. */
            FZ_CHECK(f != NULL);
            FZ_CHECK(r->bytes_in == f->declared);
            answers++;
        }
        off += fr.frame_len;
    }
    tail = cl->got.len - off;
    if (tail > 0) {
        /* An answer cut short, by a close that allows it. */
        FZ_CHECK(may_cut(cl));
        st = hf_decode(&d, cl->got.p + off, tail, &fr);
        FZ_CHECK(st == HF_NEED_MORE);
        FZ_CHECK(delivered_by(s, cl->got.p + off, tail) != NULL);
    }
    if (cl->reason == GW_CLOSE_UPSTREAM)
        FZ_CHECK(tail > 0);
    FZ_CHECK(frame_errors <= 1);
    hf_decoder_free(&d);
}

/* A stream that ends inside a frame gets its truncated error frame,
 * after the answers to the requests before it, unless an answer to that
 * very frame had begun to go out (answered early), which can only be
 * cut: a client closed as done (reason peer) read to a frame's end. */
static void check_stream_end(const session *s, int k)
{
    const client *cl = &s->cl[k];
    const req_frame *f;
    int boundary = cl->read == 0 || cl->read == s->proxy_len;
    size_t i;

    if (cl->reason != GW_CLOSE_PEER || s->answered_early)
        return;
    for (i = 0; i < s->n_frames && !boundary; i++) {
        f = &s->frames[i];
        boundary = cl->read == f->end && f->end - f->start == f->declared;
    }
    FZ_CHECK(boundary);
}

/* A request timeout only while a request frame is incomplete. */
static void check_close_reason(const session *s, int k)
{
    const client *cl = &s->cl[k];
    size_t i;

    if (cl->reason != GW_CLOSE_REQUEST_TIMEOUT)
        return;
    FZ_CHECK(s->cfg.request_timeout > 0);
    FZ_CHECK(cl->read > 0);
    FZ_CHECK(cl->clock - cl->clock_mark >= s->cfg.request_timeout);
    for (i = 0; i < s->n_frames; i++) {
        const req_frame *f = &s->frames[i];

        if (cl->read - 1 >= f->start && cl->read - 1 < f->end)
            FZ_CHECK(cl->read < f->end || f->end < f->start + f->declared);
    }
}

static void up_free(upstream *up)
{
    hf_decoder_free(&up->rxd);
    vec_free(&up->pre_rx);
    vec_free(&up->rx);
    vec_free(&up->tx);
    vec_free(&up->dl);
}

/* The clients' sockets' addresses (as the loop sets them for
 * --upstream-proxy-protocol), and whom an upstream must be told of: the
 * address of the clients' PROXY header (head, s->proxy_len bytes) when
 * it has one, nobody (AF_UNSPEC) when it has none, else the sockets'. */
static void name_clients(session *s, const unsigned char *head)
{
    gw_proxy_info *a = &s->sock_addr;

    memset(a, 0, sizeof(*a));
    a->family = AF_INET;
    memcpy(a->src_addr, "\xcb\x00\x71\x09", 4);     /* 203.0.113.9 */
    memcpy(a->dst_addr, "\xc6\x33\x64\x01", 4);     /* 198.51.100.1 */
    a->src_port = 4444;
    a->dst_port = 80;
    s->named = *a;
    if (s->proxy_len > 0)
        FZ_CHECK(gw_proxy_parse(head, s->proxy_len, &s->named) ==
                 GW_PROXY_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader rd;
    fz_alloc a;
    session *s;
    const uint8_t *steps;
    const int *tp;
    gw_memnet_hooks hooks;
    size_t i, steps_n, clen, per;
    uint8_t lim_byte, cap, prof, shape;
    unsigned char head[GW_PROXY_MAX];
    int k, pkind;

    s = calloc(1, sizeof(*s));
    FZ_CHECK(s != NULL);
    rd.p = data;
    rd.len = size;
    lim_byte = fz_take_limits(&rd, &s->cfg.limits, &a);
    cap = fz_take_u8(&rd);
    s->cfg.max_output = (cap & 63) == 0 ? GW_OUTPUT_DEFAULT
                                        : (size_t)(cap & 63) * 4;
    s->cfg.relay.depth = (cap >> 6) == 0 ? 0 : 1 + (cap >> 6);
    prof = fz_take_u8(&rd);
    shape = fz_take_u8(&rd);
    tp = timeouts[prof & 7];
    s->cfg.request_timeout = tp[0] * MS;
    s->cfg.idle_timeout = tp[1] * MS;
    s->cfg.write_timeout = tp[2] * MS;
    s->cfg.drain_timeout = tp[3] * MS;
    s->cfg.relay.on = 1;
    s->cfg.relay.attempts = 1 + ((prof >> 3) & 3);
    s->cfg.relay.names = (prof >> 6) & 1;  /* shared with the PROXY
                                                header's version */
    s->cfg.relay.wait_timeout = tp[4] * 2 * MS;
    s->cfg.proxy_protocol = (prof >> 5) & 1;
    s->cfg.on_proxy = on_proxy;
    s->cfg.on_request = on_request;
    s->health = (prof >> 7) & 1;
    s->n_clients = 1 + (shape & 3);
    s->pc.n_upstreams = 1;
    s->pc.names[0] = "up:1";
    s->pc.limits = s->cfg.limits;
    s->pc.max_output = s->cfg.max_output;
    s->pc.conns = 1 + ((shape >> 2) & 3);
    /* A total below the per-upstream cap when the limit byte says so
     * (shared bit): private connections then make way for each other
     * through the total too. */
    s->pc.conns_total = (lim_byte & 2) && s->pc.conns > 1
                            ? s->pc.conns - 1 : 0;
    s->pc.pipeline = 1 + ((shape >> 4) & 3);
    s->pc.fails = s->health ? 1 : 1000000;
    s->pc.retry = 1000 * MS;
    s->pc.check = (shape >> 6) & 1 ? 500 * MS : 0;
    s->pc.upstream_timeout = tp[4] * MS;
    s->pc.connect_timeout = tp[5] * MS;
    s->pc.upstream_proxy = (shape >> 7) & 1;
    steps_n = fz_take_u8(&rd);
    pkind = (int)(steps_n / (STEPS_MAX + 1));
    steps_n %= STEPS_MAX + 1;
    clen = fz_take_u16(&rd);
    steps_n = fz_take_bytes(&rd, steps_n, &steps);
    if (clen > rd.len)
        clen = rd.len;
    if (s->cfg.proxy_protocol)
        s->proxy_len = proxy_header(head, (prof >> 6) & 1, pkind);
    name_clients(s, head);
    s->in = malloc(s->proxy_len + clen + 1);
    FZ_CHECK(s->in != NULL);
    memcpy(s->in, head, s->proxy_len);
    if (clen > 0)
        memcpy(s->in + s->proxy_len, rd.p, clen);
    s->in_len = s->proxy_len + clen;
    s->script.p = rd.p + clen;
    s->script.len = rd.len - clen;
    s->now = 1000 * MS;

    if (lim_byte == 0xff) {
        /* Relay mode without a pool, then invalid limits: refused, and
         * what was set up before the refusal is freed. */
        FZ_CHECK(gw_conn_init(&s->cl[0].c, &s->cfg, NULL, s->now) == -1);
        gw_conn_free(&s->cl[0].c);
        s->cfg.limits.max_header = HF_HEADER_MIN - 1;
        FZ_CHECK(gw_conn_init(&s->cl[0].c, &s->cfg, NULL, s->now) == -1);
        s->pc.limits = s->cfg.limits;
        FZ_CHECK(gw_pool_new(&s->pc) == NULL);
        FZ_CHECK(a.live == 0);
        free(s->in);
        free(s);
        return 0;
    }
    hooks.opened = up_opened;
    hooks.closed = up_closed;
    hooks.user = s;
    s->net = gw_memnet_new(&hooks);
    FZ_CHECK(s->net != NULL);
    s->pc.wake = gw_memnet_wake;
    s->pc.wake_ctx = s->net;
    s->pool = gw_pool_new(&s->pc);
    FZ_CHECK(s->pool != NULL);
    gw_memnet_set_pool(s->net, s->pool);
    s->cfg.relay.pool = s->pool;
    scan_clients(s);
    for (k = 0; k < s->n_clients; k++) {
        client *cl = &s->cl[k];

        gw_memio_init(&cl->m);
        cl->self = s;
        cl->m.budget = 0;
        FZ_CHECK(gw_conn_init(&cl->c, &s->cfg, cl, s->now) == 0);
        if (s->pc.upstream_proxy)
            gw_conn_set_addresses(&cl->c, &s->sock_addr);
        FZ_CHECK(gw_memnet_add(s->net, &cl->c, &cl->m) == 0);
    }

    for (i = 0; i < steps_n; i++)
        step(s, (unsigned)i, steps[i]);
    wind_down(s);

    check_upstream_bytes(s);
    for (k = 0; k < s->n_clients; k++) {
        client *cl = &s->cl[k];

        check_client_bytes(s, k);
        check_close_reason(s, k);
        check_stream_end(s, k);
        if (cl->proxy_calls > 0)
            FZ_CHECK(cl->read >= s->proxy_len);
        if (s->proxy_len > 0 && cl->n_replies > 0 &&
            cl->replies[0].req_status != GW_REQ_E_PROXY)
            FZ_CHECK(cl->proxy_calls == 1);
    }
    per = 2 * (4 * s->cfg.limits.max_header + 16384);
    FZ_CHECK(a.peak <= (s->n_clients + s->pc.conns + 1) * per);
    gw_memnet_free(s->net);
    gw_pool_free(s->pool);
    FZ_CHECK(a.live == 0);
    for (i = 0; i < (size_t)s->n_ups; i++)
        up_free(&s->ups[i]);
    for (k = 0; k < s->n_clients; k++) {
        client *cl = &s->cl[k];

        vec_free(&cl->got);
        vec_free(&cl->pending_out);
        free(cl->replies);
        free(cl->in);
    }
    free(s->frames);
    free(s->in);
    free(s);
    return 0;
}
