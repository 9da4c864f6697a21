/* gw_relay.c - relay mode of a connection (see gw_relay.h). */
#include "gw_conn_core.h"

#include <string.h>

int gw_relay_init(gw_relay *r, const hf_limits *lim)
{
    memset(r, 0, sizeof *r);
    return gw_side_init(&r->up, lim);
}

void gw_relay_free(gw_relay *r)
{
    gw_side_free(&r->up);
}

int gw_relay_busy(const gw_conn *c)
{
    return c->relay.x != GW_X_NONE;
}

/* The request's bytes still come from the client. */
static int request_open(gw_x_state x)
{
    return x == GW_X_SENDING || x == GW_X_CROSSING || x == GW_X_ANSWERED ||
           x == GW_X_SKIPPING;
}

/* An answer byte is expected from the upstream. */
static int awaiting(gw_x_state x)
{
    return x == GW_X_SENDING || x == GW_X_WAITING || x == GW_X_CROSSING ||
           x == GW_X_ANSWERING;
}

/* The answer's header went to the client and its end did not. */
static int answer_begun(gw_x_state x)
{
    return x == GW_X_CROSSING || x == GW_X_ANSWERING;
}

/* Forget the upstream connection; a socket the caller holds for it is to
 * be closed (GW_WANT_CLOSE_UP). The request bytes stay for a replay. */
static void drop(gw_relay *r)
{
    if (r->state != GW_UP_NONE)
        r->close_pending = 1;
    r->state = GW_UP_NONE;
    r->sent_since_answer = 0;
    r->up.pre_len = 0;
    r->up.pre_off = 0;
    gw_side_restart(&r->up);
    gw_buf_clear(&r->up.stage);
    gw_buf_clear(&r->up.in);
}

/* Forget the connection and every byte meant for it. */
static void discard(gw_relay *r)
{
    drop(r);
    r->want_connect = 0;
    gw_buf_clear(&r->up.out);
    r->up.kept = 0;
    r->up.keep = 0;
}

/* The request is read and answered: go on with the next. */
static void finish(gw_conn *c, gw_time now)
{
    gw_relay *r = &c->relay;

    r->x = GW_X_NONE;
    r->want_connect = 0;
    gw_side_release(&r->up);
    gw_conn_request_done(c, now);
}

/* The request will get no answer from upstream: an error frame instead,
 * when the client's output stands between frames. */
static void fail(gw_conn *c, gw_req_status st, gw_time now)
{
    gw_relay *r = &c->relay;

    discard(r);
    switch (r->x) {
    case GW_X_NONE:
    case GW_X_SKIPPING:
        return;
    case GW_X_CROSSING:
    case GW_X_ANSWERING:
        gw_conn_abort(c, GW_CLOSE_UPSTREAM);
        return;
    case GW_X_ANSWERED:
        r->x = GW_X_SKIPPING;
        return;
    case GW_X_SENDING:
    case GW_X_WAITING:
        if (gw_conn_refuse(c, st, r->bytes_in, r->start, now) != 0)
            return;
        if (r->x == GW_X_SENDING)
            r->x = GW_X_SKIPPING;
        else
            finish(c, now);
        return;
    }
}

void gw_relay_lost(gw_conn *c, gw_time now)
{
    gw_relay *r = &c->relay;
    int connecting = r->state == GW_UP_CONNECTING;

    if (r->state == GW_UP_NONE)
        return;
    if (!awaiting(r->x)) {
        /* Nothing waits for an answer; unsent bytes of a request already
         * answered can only be dropped. */
        fail(c, GW_REQ_OK, now);
        return;
    }
    if (!answer_begun(r->x) && r->got == 0 &&
        r->attempts + 1 < c->cfg->relay.attempts &&
        (connecting || r->up.keep)) {
        /* No answer byte yet, and the request is whole: again, on a new
         * connection (the caller picks the next upstream). */
        drop(r);
        r->attempts++;
        r->want_connect = 1;
        r->since = now;
        return;
    }
    fail(c, connecting ? GW_REQ_E_UP_UNAVAILABLE : GW_REQ_E_UP_FAILED, now);
}

/* A request sent as it arrives may grow too big to keep for a replay:
 * then sent bytes go at once. */
static void trim(gw_conn *c)
{
    gw_side *up = &c->relay.up;

    if (up->keep && gw_buf_pending(&up->out) > c->cfg->max_output)
        gw_side_release(up);
}

/* A request's header is valid: it begins. */
static void request_header(gw_conn *c, gw_time now)
{
    const hf_header *h = hf_decoder_header(c->client.dec);
    gw_relay *r = &c->relay;

    gw_conn_keep_type(c, h);
    r->x = GW_X_SENDING;
    r->attempts = 0;
    r->got = 0;
    r->answer_bytes = 0;
    r->bytes_in = gw_frame_bytes(h);
    r->start = c->frame_start;
    r->since = now;
    r->up.keep = 1;
    if (r->state == GW_UP_NONE)
        r->want_connect = 1;
}

static void request_end(gw_conn *c, gw_time now)
{
    gw_relay *r = &c->relay;

    c->frame_started = 0;
    if (r->x == GW_X_SENDING)
        r->x = GW_X_WAITING;
    else if (r->x == GW_X_CROSSING)
        r->x = GW_X_ANSWERING;
    else
        finish(c, now);
}

static void answer_end(gw_conn *c, gw_time now)
{
    gw_relay *r = &c->relay;
    gw_reply rep;

    memset(&rep, 0, sizeof rep);
    rep.kind = GW_KIND_RELAYED;
    rep.status = "ok";
    rep.frame_status = HF_OK;
    rep.req_status = GW_REQ_OK;
    rep.bytes_out = (size_t)r->answer_bytes;
    r->sent_since_answer = 0;
    gw_conn_report(c, &rep, r->bytes_in, r->start, now);
    if (r->x == GW_X_CROSSING)
        r->x = GW_X_ANSWERED;
    else
        finish(c, now);
}

/* The receiving and the sending side of a direction. */
static gw_side *from_side(gw_conn *c, int upward)
{
    return upward ? &c->client : &c->relay.up;
}

static gw_side *to_side(gw_conn *c, int upward)
{
    return upward ? &c->relay.up : &c->client;
}

/* The receiving side may take more bytes: the side they go to is under
 * its cap. */
static int may_take(gw_conn *c, int upward)
{
    if (upward)
        return gw_conn_takes_client(c);
    return gw_side_unsent(&c->client) < c->cfg->max_output;
}

/* The frame being received has no valid header yet: its bytes wait in
 * the stage. */
static int heading(const gw_conn *c, int upward)
{
    gw_x_state x = c->relay.x;

    if (upward)
        return x == GW_X_NONE;
    return x == GW_X_SENDING || x == GW_X_WAITING;
}

/* Events of one direction: upward (client to upstream) or down. */
static void on_header(gw_conn *c, int upward, size_t staged, gw_time now)
{
    if (upward) {
        request_header(c, now);
        trim(c);
        return;
    }
    c->relay.answer_bytes += staged;
    c->relay.x = c->relay.x == GW_X_SENDING ? GW_X_CROSSING
                                            : GW_X_ANSWERING;
}

static void on_end(gw_conn *c, int upward, gw_time now)
{
    if (upward)
        request_end(c, now);
    else
        answer_end(c, now);
}

/*
 * Pass frames across, validated: from one side's bytes p[0..len) to the
 * other side's output. A frame's prefix and header wait in the stage
 * until the decoder accepts them; its content follows as it comes.
 * Returns the bytes consumed (fewer than len: the other side is full).
 */
static size_t pass(gw_conn *c, int upward, const unsigned char *p,
                   size_t len, gw_time now)
{
    gw_side *from = from_side(c, upward), *to = to_side(c, upward);
    hf_decoder *d = from->dec;
    size_t off = 0, n, staged;
    int head;
    hf_event ev;

    if (d == NULL && len > 0 && (d = gw_side_decoder(from)) == NULL)
        goto nomem;
    if (d == NULL)
        return 0;
    /* Until no event is left: the end of a frame is reported by a push
     * after its last content byte, which must happen even when no more
     * bytes may be taken (backpressure), or nobody would ask again. */
    for (;;) {
        head = heading(c, upward);
        n = hf_decoder_push(d, p + off,
                            may_take(c, upward) ? len - off : 0, &ev);
        if (head && n > 0 && ev.type != HF_EV_ERROR &&
            gw_buf_append(&from->stage, p + off, n) != 0)
            goto nomem;
        if (upward && n > 0)
            gw_conn_frame_begins(c, now);
        if (!upward)
            c->relay.got += n;
        off += n;
        switch (ev.type) {
        case HF_EV_NEED_MORE:
            return off;
        case HF_EV_HEADER:
            staged = gw_buf_pending(&from->stage);
            if (gw_buf_append(&to->out, gw_buf_peek(&from->stage),
                              staged) != 0)
                goto nomem;
            gw_buf_clear(&from->stage);
            on_header(c, upward, staged, now);
            break;
        case HF_EV_CONTENT:
            if (upward && c->relay.x == GW_X_SKIPPING)
                break;
            if (gw_buf_append(&to->out, ev.data, ev.len) != 0)
                goto nomem;
            if (upward)
                trim(c);
            else
                c->relay.answer_bytes += ev.len;
            break;
        case HF_EV_FRAME_END:
            on_end(c, upward, now);
            if (!upward) {
                if (off < len)
                    gw_relay_lost(c, now);  /* more than one answer */
                return len;
            }
            break;
        case HF_EV_ERROR:
            if (!upward) {
                fail(c, GW_REQ_E_UP_BAD_FRAME, now);
                return len;
            }
            /* Only a header can be invalid, so nothing of this frame
             * went upstream and no answer is on its way. */
            gw_buf_clear(&from->stage);
            discard(&c->relay);
            gw_conn_frame_error(c, GW_CONN_LINGER, now);
            return len;
        }
        if (c->state != GW_CONN_OPEN)
            return len;
    }
nomem:
    gw_conn_abort(c, GW_CLOSE_NOMEM);
    return len;
}

size_t gw_relay_client_input(gw_conn *c, const unsigned char *p, size_t len,
                             gw_time now)
{
    return pass(c, 1, p, len, now);
}

size_t gw_relay_upstream_input(gw_conn *c, const unsigned char *p,
                               size_t len, gw_time now)
{
    gw_relay *r = &c->relay;

    r->since = now;
    if (!awaiting(r->x) || !r->sent_since_answer) {
        /* Bytes nobody asked for: this upstream cannot be trusted, and
         * what it sends next cannot be told from an answer. */
        gw_relay_lost(c, now);
        return len;
    }
    return pass(c, 0, p, len, now);
}

int gw_relay_client_readable(const gw_conn *c)
{
    const gw_relay *r = &c->relay;

    if (r->peer_eof)
        return 0;
    /* One request at a time: the next is read once the last answer is
     * complete and the last request byte has gone out. */
    if (r->x == GW_X_NONE)
        return gw_buf_pending(&r->up.out) == 0;
    return request_open(r->x) &&
           gw_side_unsent(&r->up) < c->cfg->max_output;
}

/* The upstream is what the connection waits for (not while the answer
 * waits for the client to read: the write timeout covers that). */
static int upstream_timed(const gw_conn *c)
{
    const gw_relay *r = &c->relay;

    if (r->state == GW_UP_NONE)
        return 0;
    return r->state == GW_UP_CONNECTING || gw_side_unsent(&r->up) > 0 ||
           ((r->x == GW_X_WAITING || r->x == GW_X_ANSWERING) &&
            gw_side_unsent(&c->client) < c->cfg->max_output);
}

unsigned gw_relay_poll(const gw_conn *c, gw_time *deadline)
{
    const gw_relay *r = &c->relay;
    const gw_relay_config *cfg = &c->cfg->relay;
    unsigned want = 0;

    if (r->want_connect && r->state == GW_UP_NONE && !r->close_pending)
        want |= GW_WANT_CONNECT_UP;
    if (r->state == GW_UP_CONNECTING) {
        want |= GW_WANT_CONNECTING_UP;
        *deadline = gw_time_min(*deadline,
                                gw_time_after(r->since,
                                              cfg->connect_timeout));
    }
    if (r->state == GW_UP_READY) {
        if (gw_buf_pending(&r->up.in) == 0 &&
            gw_side_unsent(&c->client) < c->cfg->max_output)
            want |= GW_WANT_READ_UP;
        if (gw_side_unsent(&r->up) > 0)
            want |= GW_WANT_WRITE_UP;
    }
    if (upstream_timed(c))
        *deadline = gw_time_min(*deadline,
                                gw_time_after(r->since,
                                              cfg->upstream_timeout));
    return want;
}

void gw_relay_tick(gw_conn *c, gw_time now)
{
    gw_relay *r = &c->relay;
    const gw_relay_config *cfg = &c->cfg->relay;

    if (r->state == GW_UP_CONNECTING &&
        now >= gw_time_after(r->since, cfg->connect_timeout)) {
        gw_relay_lost(c, now);      /* as if refused: the next upstream */
        return;
    }
    if (upstream_timed(c) &&
        now >= gw_time_after(r->since, cfg->upstream_timeout))
        fail(c, GW_REQ_E_UP_TIMEOUT, now);
}

void gw_relay_event(gw_conn *c, gw_up_event ev, gw_time now)
{
    gw_relay *r = &c->relay;
    unsigned char pre[GW_PROXY_V2_OUT_MAX];
    size_t n = 0;

    switch (ev) {
    case GW_UP_EV_CONNECTING:
        if (c->cfg->relay.upstream_proxy)
            n = gw_proxy_write_v2(&c->addr, pre);
        drop(r);
        r->close_pending = 0;
        r->state = GW_UP_CONNECTING;
        r->want_connect = 0;
        r->since = now;
        gw_side_rewind(&r->up, pre, n);
        break;
    case GW_UP_EV_CONNECTED:
        if (r->state != GW_UP_CONNECTING)
            return;
        r->state = GW_UP_READY;
        r->since = now;
        break;
    case GW_UP_EV_CLOSED:
        r->close_pending = 0;
        break;
    }
}

void gw_relay_sent(gw_conn *c, size_t n, gw_time now)
{
    gw_relay *r = &c->relay;

    if (r->state != GW_UP_READY)
        return;
    if (r->up.pre_off == r->up.pre_len)
        r->sent_since_answer = 1;
    gw_side_sent(&r->up, n);
    r->since = now;
}

void gw_relay_resumed(gw_conn *c, gw_time now)
{
    c->relay.since = now;
}

int gw_relay_client_eof(gw_conn *c, gw_time now)
{
    gw_relay *r = &c->relay;

    (void)now;
    if (c->frame_started) {
        /* Part of the request may have gone upstream: that connection
         * is of no further use. */
        if (r->x == GW_X_CROSSING) {
            gw_conn_abort(c, GW_CLOSE_PEER);
            return 1;
        }
        discard(r);
        r->x = GW_X_NONE;
        return 0;
    }
    if (r->x != GW_X_NONE) {
        r->peer_eof = 1;    /* the answer is still on its way */
        return 1;
    }
    return 0;
}
