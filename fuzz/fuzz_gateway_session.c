/*
 * fuzz_gateway_session.c - the gateway's sans-I/O connection state
 * machine (gateway/gw_conn.h) driven by fuzzed client bytes, chunk sizes,
 * clock steps, partial sends, EOF, shutdown and drain. The bytes move
 * through gw_drive, the event loop's own driver, over memory (gw_memio):
 * the client peer sends what the steps make readable and takes what they
 * let it read.
 *
 * Input: one limits byte (fz_limits_from_byte; 0xff: invalid limits,
 * which gw_conn_init must refuse), one output-cap byte (its value * 16,
 * 0: the default; bit 7 also sets --max-json to 1 + its low 7 bits, so
 * long JSON requests are refused and skipped; bit 6 turns on the PROXY
 * protocol, the client's bytes then start with a PROXY header or get
 * bad-proxy-header), one byte whose
 * value mod 33 is the number k of step bytes and whose value / 33 picks
 * the timeouts (some disabled), k step bytes, then the client's bytes.
 * Each step byte is an operation (low 2 bits) and an amount (high 6
 * bits); after each, one gw_drive call with what the peer allows:
 *   0  the client sends the next 1 + 4 * amount bytes (what the
 *      connection keeps back is taken later: backpressure);
 *   1  the client reads up to 1 + 64 * amount bytes;
 *   2  advance the clock by amount * 100 ms and tick when due;
 *   3  amount % 8: 0 EOF (gw_conn_eof at once, bytes not yet read or
 *      not), 1 server shutdown, 2 drain (in LINGER, output sent), 3 the
 *      client reads everything, 4 abort (socket error), 5 the kernel
 *      says how many output bytes it still holds (gw_conn_queued: a
 *      count that shrinks by amount / 8 KiB steps from 64 KiB, then
 *      starts again, so it sometimes stays; the first count moves no
 *      clock) and tick now, 6 jump to the
 *      deadline and tick, 7 the client's socket fails.
 * After the steps the rest of the client bytes are sent and read, EOF
 * given and the clock run until the connection closes (bounded).
 *
 * Oracles:
 *  - every byte sent decodes as a sequence of complete, valid frames
 *    (canonical headers, text/json contents parse as JSON objects with a
 *    "result" or an "error" and "message", binary answers of the
 *    documented type), and bytes sent + bytes pending = the sum of
 *    bytes_out over on_request callbacks;
 *  - no more answers than request frames whose header is in the client
 *    bytes (after a valid PROXY header when the protocol is on), plus
 *    one error frame;
 *  - a PROXY header cut short by EOF gets bad-proxy-header: the
 *    connection is not closed for the peer with part of one read;
 *  - a stream that ends inside a frame gets the truncated error frame:
 *    a connection closed as done (the client closed its side) had taken
 *    whole frames, and a truncated error comes only where the bytes taken
 *    stop inside a frame, reporting as many bytes of it as were taken
 *    (the offset of the byte that did not arrive);
 *  - any other frame error is the one decoding the client's bytes finds
 *    (same code, same frame offset), at the place docs/protocol.md 4.2
 *    gives (fz_check_frame_error); once the connection closed with all
 *    its output read, the last frame the client read names the error;
 *  - pending output stays within max_output plus one answer; the
 *    connection's buffers within the content limit and one read; the
 *    decoder's memory within its limits and all of it freed;
 *  - what gw_conn_poll says agrees with the state: reading only while
 *    open or draining, a shut only in LINGER with nothing to send, a
 *    close exactly when closed or closing with nothing to send; the
 *    driver never stops while something it may do is wanted.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "gw_conn.h"
#include "gw_memio.h"

/* Most step bytes read from the input. */
#define STEPS_MAX 32

/* Bound on the clock-driven wind-down: each tick moves a deadline. */
#define WIND_DOWN_TICKS 64

/* Bytes one answer may take beyond the request's own bytes: header,
 * fixed texts, the error detail, the built-in index's answers. */
#define ANSWER_SLACK 1024u

/* Most output kept for the oracle (the input is small, so is this). */
#define SENT_MAX ((size_t)4 << 20)

#define MS ((gw_time)1000)

typedef struct session {
    gw_conn c;
    gw_conn_config cfg;
    gw_memio m;                /* the client peer */
    gw_time now;
    const unsigned char *in;   /* client bytes */
    size_t in_len;
    size_t in_pos;             /* next byte to send */
    uint64_t answers;          /* on_request callbacks */
    uint64_t queued;           /* sum of bytes_out */
    size_t max_answer;         /* biggest answer seen */
    size_t kernel_queue;       /* what op 3/5 says the kernel holds */
    int asked;                 /* op 3/5 said it while output waited */
    hf_status frame_error;     /* code of the frame error reply, HF_OK */
    uint64_t frame_error_at;   /* its bytes_in: the error's frame offset */
    int left_open;             /* the connection is no longer OPEN ... */
    size_t taken;              /* ... and had then taken these bytes */
} session;

static void on_request(void *user, const gw_request_info *info)
{
    session *s = user;

    FZ_CHECK(info->reply != NULL);
    FZ_CHECK(info->reply->kind < GW_KIND_COUNT);
    FZ_CHECK(info->reply->status != NULL);
    FZ_CHECK(info->reply->bytes_out > 0);
    FZ_CHECK(info->content_type_len <= GW_TYPE_LOG_MAX);
    FZ_CHECK(info->finished >= info->started);
    s->answers++;
    s->queued += info->reply->bytes_out;
    if (info->reply->bytes_out > s->max_answer)
        s->max_answer = info->reply->bytes_out;
    if (info->reply->kind == GW_KIND_FRAME_ERROR) {
        /* One at most: after it the connection reads nothing more. */
        FZ_CHECK(s->frame_error == HF_OK);
        s->frame_error = info->reply->frame_status;
        s->frame_error_at = info->bytes_in;
    }
}

static size_t pending_out(const session *s)
{
    size_t n;

    gw_conn_output(&s->c, &n);
    return n;
}

/* Client bytes the connection read from its socket. */
static size_t bytes_read(const session *s)
{
    return s->in_pos - gw_buf_pending(&s->m.queue);
}

/* Once the connection leaves OPEN it takes no more client bytes: note
 * how many it took, those it read and did not keep back for later. The
 * stream-end oracles use this when the client's EOF made it leave OPEN;
 * every call that can deliver an EOF (gw_drive, op 3's gw_conn_eof) is
 * followed by this, before more bytes can be read. */
static void note_left_open(session *s)
{
    if (s->left_open || gw_conn_state(&s->c) == GW_CONN_OPEN)
        return;
    s->left_open = 1;
    s->taken = bytes_read(s) - gw_buf_pending(&s->c.client.in);
}

static void check_caps(session *s)
{
    const hf_limits *lim = &s->cfg.limits;
    size_t pending;

    pending = pending_out(s);
    FZ_CHECK(pending <= s->cfg.max_output + s->max_answer);
    FZ_CHECK(s->max_answer <= 2 * s->in_len + ANSWER_SLACK);
    FZ_CHECK(gw_conn_buffered(&s->c) <=
             2 * (lim->max_content + GW_BINARY_QUOTE) +
             2 * (s->cfg.max_output + s->max_answer) + 4 * GW_DRIVE_READ_SIZE +
             8 * GW_BUF_MIN_ALLOC + 4 * lim->max_header);
}

/* One gw_drive call, with the client's socket readable when it has
 * bytes and writable while it reads; then the driver wants nothing it
 * could do. */
static void drive(session *s)
{
    gw_memio *p = &s->m;
    unsigned ready = 0, want;

    if (p->eof || p->fail || gw_buf_pending(&p->queue) > 0)
        ready |= GW_READY_IN;
    if (p->budget > 0)
        ready |= GW_READY_OUT;
    want = gw_drive(&s->c, &gw_conn_ops, &s->m.io, ready, s->now, NULL);
    FZ_CHECK(!(want & (GW_WANT_SHUT | GW_WANT_CONNECT |
                       GW_WANT_CONNECTING)));
    note_left_open(s);
    check_caps(s);
}

static void offer(session *s, size_t n)
{
    if (n > s->in_len - s->in_pos)
        n = s->in_len - s->in_pos;
    FZ_CHECK(gw_memio_send(&s->m, s->in + s->in_pos, n) == 0);
    s->in_pos += n;
    drive(s);
}

static void send_out(session *s, size_t n)
{
    s->m.budget = n;
    drive(s);
    s->m.budget = 0;
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
        (void)gw_conn_tick(&s->c, s->now);
}

static void special(session *s, unsigned amount)
{
    gw_time due;
    size_t step;
    int first;

    switch (amount % 8) {
    case 0:
        gw_conn_eof(&s->c, s->now);
        break;
    case 1:
        gw_conn_shutdown(&s->c, s->now);
        break;
    case 2:
        if (gw_conn_state(&s->c) == GW_CONN_LINGER && pending_out(s) == 0)
            gw_conn_drain(&s->c, s->now);
        break;
    case 3:
        send_out(s, SIZE_MAX);
        break;
    case 4:
        gw_conn_abort(&s->c, GW_CLOSE_IO);
        FZ_CHECK(gw_conn_state(&s->c) == GW_CONN_CLOSED);
        FZ_CHECK(gw_conn_reason(&s->c) == GW_CLOSE_IO);
        break;
    case 5:
        /* The first reading only starts the count: no clock moves. */
        first = !s->asked && pending_out(s) > 0 &&
                gw_conn_state(&s->c) != GW_CONN_CLOSED;
        due = deadline(s);
        gw_conn_queued(&s->c, s->kernel_queue, s->now);
        FZ_CHECK(!first || deadline(s) == due);
        if (first)
            s->asked = 1;
        step = (size_t)(amount / 8) * 8192;
        s->kernel_queue = s->kernel_queue > step ? s->kernel_queue - step
                                                 : 65536;
        (void)gw_conn_tick(&s->c, s->now);
        break;
    case 6:
        due = deadline(s);
        if (due != GW_TIME_NEVER && due > s->now)
            s->now = due;
        (void)gw_conn_tick(&s->c, s->now);
        break;
    default:
        s->m.fail = 1;
        drive(s);
        break;
    }
}

/* What the connection says of itself is consistent. */
static void check_state(const session *s)
{
    gw_conn_state_t st;
    const char *name;

    unsigned want = gw_conn_poll(&s->c, NULL);
    size_t pending = pending_out(s);

    st = gw_conn_state(&s->c);
    FZ_CHECK(st <= GW_CONN_CLOSED);
    if (want & GW_WANT_WRITE)
        FZ_CHECK(pending > 0 && st != GW_CONN_CLOSED &&
                 st != GW_CONN_DRAINING);
    if (want & GW_WANT_READ)
        FZ_CHECK(st == GW_CONN_OPEN || st == GW_CONN_DRAINING);
    FZ_CHECK(!(want & GW_WANT_SHUT) ==
             !(st == GW_CONN_LINGER && pending == 0));
    FZ_CHECK(!(want & GW_WANT_CLOSE) ==
             !(st == GW_CONN_CLOSED ||
               (st == GW_CONN_CLOSING && pending == 0)));
    FZ_CHECK(!(want & (GW_WANT_CONNECT | GW_WANT_CONNECTING)));
    if (st == GW_CONN_CLOSED)
        FZ_CHECK(deadline(s) == GW_TIME_NEVER);
    if (st != GW_CONN_OPEN)
        FZ_CHECK(gw_conn_reason(&s->c) != GW_CLOSE_NONE ||
                 st == GW_CONN_CLOSING);
    FZ_CHECK(gw_conn_reason(&s->c) < GW_CLOSE_REASON_COUNT);
    name = gw_close_reason_name(gw_conn_reason(&s->c));
    FZ_CHECK(name != NULL && name[0] != '\0');
}

static void step(session *s, uint8_t b)
{
    unsigned amount = b >> 2;

    check_state(s);
    if (gw_conn_state(&s->c) == GW_CONN_CLOSED)
        return;
    switch (b & 3) {
    case 0:
        offer(s, 1 + 4 * (size_t)amount);
        break;
    case 1:
        send_out(s, 1 + 64 * (size_t)amount);
        break;
    case 2:
        advance(s, (gw_time)amount * 100 * MS);
        break;
    default:
        special(s, amount);
        break;
    }
    note_left_open(s);
}

/* Play the rest: all input, all output, EOF, then let time pass. */
/* A PROXY header cut short by the client's EOF gets bad-proxy-header,
 * as a frame cut short gets truncated: the connection is never closed
 * for the peer with part of a header read (bytes are read only while
 * it is open or draining, and draining never follows the peer's EOF). */
static void check_proxy_eof(const session *s)
{
    size_t read = bytes_read(s);
    gw_proxy_info info;

    if (!s->cfg.proxy_protocol || read == 0 ||
        gw_conn_reason(&s->c) != GW_CLOSE_PEER)
        return;
    FZ_CHECK(gw_proxy_parse(s->in, read, &info) != GW_PROXY_NEED_MORE);
}

static void wind_down(session *s)
{
    int i;

    offer(s, s->in_len - s->in_pos);
    s->m.eof = 1;
    for (i = 0; i < WIND_DOWN_TICKS; i++) {
        send_out(s, SIZE_MAX);
        if (gw_conn_state(&s->c) == GW_CONN_CLOSED)
            break;
        advance(s, 1000 * MS);
    }
}

/* ---- checking what was sent ---- */

static void check_answer(const hf_header *h, const unsigned char *p,
                         size_t n)
{
    static const hf_str text_json = { "text/json", 9 };
    static const hf_str binary = { "binary/custom-server-binary-type", 32 };
    static const hf_str quote = { "First 10 bytes of request: ", 27 };
    fz_answer_json a;
    hf_str head;

    if (fz_str_eq(h->content_type, binary)) {
        FZ_CHECK(n >= quote.len && n <= quote.len + GW_BINARY_QUOTE);
        head.ptr = (const char *)p;
        head.len = quote.len;
        FZ_CHECK(fz_str_eq(head, quote));
        return;
    }
    FZ_CHECK(fz_str_eq(h->content_type, text_json));
    fz_check_answer_json(p, n, NULL, &a);
    FZ_CHECK(!a.other_key);
    FZ_CHECK((a.has_result && a.keys == 1) ||
             (a.has_error && a.has_message && a.keys == 2));
}

/* Every byte sent is a sequence of complete, valid, canonical frames;
 * when last_error is not NULL, the last is an error frame naming it. */
static uint64_t check_sent(const session *s, const char *last_error)
{
    size_t sent_len;
    const unsigned char *sent = gw_memio_sink(&s->m, &sent_len);
    const unsigned char *last = NULL;
    size_t last_len = 0;
    fz_answer_json a;
    hf_decoder d;
    hf_limits lim;
    hf_frame fr;
    uint64_t frames;
    size_t off;
    hf_status st;

    hf_limits_default(&lim);
    lim.max_content = HF_CONTENT_LIMIT_MAX;
    FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
    frames = 0;
    off = 0;
    while (off < sent_len) {
        st = hf_decode(&d, sent + off, sent_len - off, &fr);
        /* Output cut short only when the connection dropped it. */
        if (st == HF_NEED_MORE && pending_out(s) > 0)
            break;
        FZ_CHECK(st == HF_OK);
        FZ_CHECK(hf_header_is_canonical(fr.header, sent + off + 2,
                                        fr.header->header_len));
        check_answer(fr.header, fr.content, fr.content_len);
        last = fr.content;
        last_len = fr.content_len;
        frames++;
        off += fr.frame_len;
    }
    hf_decoder_free(&d);
    if (last_error != NULL) {
        FZ_CHECK(last != NULL);
        fz_check_answer_json(last, last_len, last_error, &a);
        FZ_CHECK(a.has_error && a.code_ok);
    }
    return frames;
}

/* The code of the frame error that closed the connection when all of
 * its output reached the client (nothing is pending, and received +
 * pending = queued is checked), so that the error frame is the last
 * frame the client read; NULL when there is none, or an abort or a
 * timeout came since. */
static const char *error_read_last(const session *s)
{
    if (s->frame_error == HF_OK ||
        gw_conn_reason(&s->c) != GW_CLOSE_FRAME_ERROR || pending_out(s) > 0)
        return NULL;
    return hf_status_name(s->frame_error);
}

/* Decode the client's bytes [0, to) frame by frame as the connection
 * does (after the PROXY header when the protocol is on): HF_OK when they
 * end between frames, HF_NEED_MORE inside a frame (or PROXY header) that
 * is valid so far, else the error of the frame they hold, in *err with
 * its offsets relative to that frame. *frame_start: where the last frame
 * began. */
static hf_status decode_client(const session *s, size_t to,
                               size_t *frame_start, hf_error *err)
{
    gw_proxy_info info;
    hf_decoder d;
    hf_limits lim;
    hf_frame fr;
    hf_status st = HF_OK;
    size_t off = 0;

    *frame_start = 0;
    if (s->cfg.proxy_protocol && to > 0) {
        if (gw_proxy_parse(s->in, to, &info) != GW_PROXY_OK)
            return HF_NEED_MORE;
        off = info.len;
        *frame_start = off;
    }
    lim = s->cfg.limits;
    lim.alloc = NULL;
    FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
    while (off < to) {
        st = hf_decode(&d, s->in + off, to - off, &fr);
        if (st != HF_OK)
            break;
        off += fr.frame_len;
        *frame_start = off;
    }
    if (st > HF_NEED_MORE)
        *err = *hf_decoder_error(&d);
    hf_decoder_free(&d);
    return st;
}

/* A stream that ended inside a frame gets the truncated error frame,
 * never a close as done (the peer's), and the frame error reports as
 * many bytes of that frame as the connection took. Any other frame
 * error is the one the client's bytes hold, where protocol.md 4.2
 * says. */
static void check_frame_errors(const session *s)
{
    hf_limits lim = s->cfg.limits;
    hf_error err;
    size_t start;
    hf_status st;

    if (s->left_open && gw_conn_reason(&s->c) == GW_CLOSE_PEER)
        FZ_CHECK(decode_client(s, s->taken, &start, &err) == HF_OK);
    if (s->frame_error == HF_E_TRUNCATED) {
        FZ_CHECK(s->left_open);
        FZ_CHECK(decode_client(s, s->taken, &start, &err) == HF_NEED_MORE);
        FZ_CHECK(s->frame_error_at == s->taken - start);
    } else if (s->frame_error != HF_OK) {
        st = decode_client(s, s->in_len, &start, &err);
        FZ_CHECK(st == s->frame_error);
        FZ_CHECK(err.frame_offset == s->frame_error_at);
        fz_check_frame_error(&err, st, 0, s->in + start, s->in_len - start,
                             &lim);
    }
}

/* Complete request frames in the client bytes (error frame aside). */
static uint64_t count_requests(const session *s)
{
    hf_decoder d;
    hf_limits lim;
    hf_event ev;
    uint64_t headers;
    size_t off, n;

    lim = s->cfg.limits;
    lim.alloc = NULL;
    FZ_CHECK(hf_decoder_init(&d, &lim) == HF_OK);
    headers = 0;
    off = 0;
    if (s->cfg.proxy_protocol) {
        gw_proxy_info info;

        if (gw_proxy_parse(s->in, s->in_len, &info) != GW_PROXY_OK) {
            hf_decoder_free(&d);
            return 0;
        }
        off = info.len;
    }
    /* Frames whose header is complete: a request is answered (or
     * refused, json-too-long) as soon as its header is in. */
    for (;;) {
        n = hf_decoder_push(&d, s->in + off, s->in_len - off, &ev);
        off += n;
        if (ev.type == HF_EV_HEADER)
            headers++;
        if (ev.type == HF_EV_ERROR ||
            (ev.type == HF_EV_NEED_MORE && off == s->in_len))
            break;
    }
    hf_decoder_free(&d);
    return headers;
}

/* Timeout profiles (request, idle, write, drain), in ms; 0: disabled. */
static const int timeouts[8][4] = {
    { 2000, 5000, 3000, 1000 },
    { 0, 0, 0, 0 },
    { 0, 500, 0, 0 },
    { 500, 0, 500, 500 },
    { 100, 100, 100, 100 },
    { 300, 0, 200, 0 },
    { 600, 0, 400, 0 },
    { 900, 0, 600, 0 }
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gw_index *idx, *idx_ready;   /* answers made when asked, and
                                           ahead (the same bytes) */
    fz_reader rd;
    fz_alloc a;
    session *s;
    const uint8_t *steps;
    size_t k;
    size_t i;
    uint8_t lim_byte;
    uint8_t cap;
    uint8_t kb;

    /* Made once: the index is read-only. */
    if (idx == NULL) {
        idx = gw_index_builtin();
        idx_ready = gw_index_builtin();
        FZ_CHECK(idx != NULL && idx_ready != NULL);
        FZ_CHECK(gw_handle_prepare(idx_ready) == 0);
    }
    rd.p = data;
    rd.len = size;
    s = calloc(1, sizeof(*s));
    FZ_CHECK(s != NULL);
    lim_byte = fz_take_limits(&rd, &s->cfg.limits, &a);
    cap = fz_take_u8(&rd);
    s->cfg.max_output = cap == 0 ? GW_OUTPUT_DEFAULT : (size_t)cap * 16;
    s->cfg.max_json = (cap & 0x80) ? (uint64_t)(cap & 0x7f) + 1 : 0;
    s->cfg.proxy_protocol = (cap & 0x40) != 0;
    kb = fz_take_u8(&rd);
    s->cfg.request_timeout = timeouts[kb / (STEPS_MAX + 1)][0] * MS;
    s->cfg.idle_timeout = timeouts[kb / (STEPS_MAX + 1)][1] * MS;
    s->cfg.write_timeout = timeouts[kb / (STEPS_MAX + 1)][2] * MS;
    s->cfg.drain_timeout = timeouts[kb / (STEPS_MAX + 1)][3] * MS;
    s->cfg.index = (lim_byte & 1) ? idx_ready : idx;
    s->cfg.on_request = on_request;
    k = kb % (STEPS_MAX + 1);
    k = fz_take_bytes(&rd, k, &steps);

    s->in = fz_dup(rd.p, rd.len);
    s->in_len = rd.len;
    gw_memio_init(&s->m);
    s->m.budget = 0;
    s->m.sink_max = SENT_MAX;
    s->now = 1000 * MS;
    if (lim_byte == 0xff) {
        s->cfg.limits.max_header = HF_HEADER_MIN - 1;
        FZ_CHECK(gw_conn_init(&s->c, &s->cfg, s, s->now) == -1);
        gw_memio_free(&s->m);
        free((void *)s->in);
        free(s);
        return 0;
    }
    FZ_CHECK(gw_conn_init(&s->c, &s->cfg, s, s->now) == 0);

    for (i = 0; i < k; i++)
        step(s, steps[i]);
    wind_down(s);
    check_state(s);
    check_proxy_eof(s);
    check_frame_errors(s);

    FZ_CHECK(s->m.received + pending_out(s) == s->queued);
    FZ_CHECK(s->m.received <= SENT_MAX);
    FZ_CHECK(check_sent(s, error_read_last(s)) <= s->answers);
    FZ_CHECK(s->answers <= count_requests(s) + 1);
    FZ_CHECK(a.peak <= 4 * s->cfg.limits.max_header + 16384);
    gw_conn_free(&s->c);
    gw_memio_free(&s->m);
    FZ_CHECK(a.live == 0);
    free((void *)s->in);
    free(s);
    return 0;
}
