/* gw_relay.c - relay mode of a client connection (see gw_relay.h). */
#include "gw_conn_core.h"

#include <string.h>

static gw_pool *pool_of(const gw_conn *c)
{
    return c->cfg->relay.pool;
}

void gw_relay_init(gw_relay *r)
{
    memset(r, 0, sizeof *r);
    gw_buf_init(&r->req);
    r->upstream = -1;
}

void gw_relay_free(gw_conn *c, gw_time now)
{
    if (c->cfg->relay.on && pool_of(c) != NULL) {
        gw_pool_leave(pool_of(c), c, now);
        gw_pool_gone(pool_of(c), c, now);
    }
    gw_buf_free(&c->relay.req);
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

static size_t unsent(const gw_relay *r)
{
    return gw_buf_pending(&r->req) - r->sent;
}

/* Sent bytes are not needed any more (no replay from here on). */
static void let_go(gw_relay *r)
{
    gw_buf_consume(&r->req, r->sent);
    r->sent = 0;
    r->keep = 0;
}

/* Off the pool, with every byte meant for the upstream. */
static void drop_request(gw_conn *c, gw_time now)
{
    gw_pool_leave(pool_of(c), c, now);
    gw_buf_clear(&c->relay.req);
    c->relay.sent = 0;
    c->relay.keep = 0;
}

/* The request is read and answered: go on with the next once its last
 * byte has gone out (an answer may come before the request ends). Its
 * connection lets it go once both are done. */
static void finish(gw_conn *c, gw_time now)
{
    gw_relay *r = &c->relay;

    r->x = GW_X_NONE;
    memset(&r->names, 0, sizeof r->names);
    let_go(r);
    gw_pool_kick(pool_of(c), c);
    gw_conn_request_done(c, now);
}

/* The request will get no answer from upstream: an error frame instead,
 * when the client's output stands between frames. */
static void fail(gw_conn *c, gw_req_status st, gw_time now)
{
    gw_relay *r = &c->relay;

    drop_request(c, now);
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

void gw_relay_given_back(gw_conn *c, int retry, gw_req_status st,
                         gw_time now)
{
    gw_relay *r = &c->relay;

    r->up = NULL;
    r->queued = 0;
    r->sent = 0;
    gw_pool_wake(pool_of(c), NULL, c);     /* whatever comes, c moves */
    if (!awaiting(r->x)) {
        /* Answered already: what was not sent of the request is lost. */
        fail(c, GW_REQ_OK, now);
        return;
    }
    if (retry && !answer_begun(r->x) && r->got == 0 && r->keep &&
        r->attempts + 1 < c->cfg->relay.attempts) {
        r->attempts++;
        gw_pool_dispatch(pool_of(c), c, now);
        return;
    }
    fail(c, st, now);
}

void gw_relay_attached(gw_conn *c, gw_upconn *u, int i, gw_time now)
{
    gw_relay *r = &c->relay;

    r->up = u;
    r->queued = u == NULL;
    r->upstream = i;
    if (i >= 0 && i < 32)
        r->tried |= (uint32_t)1 << i;
    r->sent = 0;
    r->since = now;
    r->up_start = now;
}

/* A request sent as it arrives may grow too big to keep for a replay:
 * then sent bytes go at once. */
static void trim(gw_conn *c)
{
    gw_relay *r = &c->relay;

    if (r->keep && r->sent > 0 &&
        gw_buf_pending(&r->req) > c->cfg->max_output)
        let_go(r);
}

/* A request's header is valid: it begins, and the pool gives it a
 * connection (its staged bytes are in req already). */
static void request_header(gw_conn *c, gw_time now)
{
    const hf_header *h = hf_decoder_header(c->client.dec);
    gw_relay *r = &c->relay;

    gw_conn_keep_type(c, h);
    r->x = GW_X_SENDING;
    r->attempts = 0;
    r->tried = 0;
    r->got = 0;
    r->answer_bytes = 0;
    r->bytes_in = gw_frame_bytes(h);
    r->content_length = h->content_length;
    r->start = c->frame_start;
    r->keep = 1;
    r->sent = 0;
    gw_pool_dispatch(pool_of(c), c, now);
}

/* For the access log, what a JSON request asks, read the way serving
 * mode reads it: only while the whole request is still at hand and no
 * bigger than serving mode would read. */
static void describe(gw_conn *c)
{
    gw_relay *r = &c->relay;
    size_t held = gw_buf_pending(&r->req);

    if (!c->cfg->relay.names || !r->keep || held != r->bytes_in ||
        r->content_length > gw_conn_max_json(c->cfg) ||
        r->content_length > held)
        return;
    gw_describe_request(hf_decoder_header(c->client.dec),
                        gw_buf_peek(&r->req) + (held - r->content_length),
                        (size_t)r->content_length, &r->names);
}

static void request_end(gw_conn *c, gw_time now)
{
    gw_relay *r = &c->relay;

    describe(c);
    c->frame_started = 0;
    if (r->x == GW_X_SENDING)
        r->x = GW_X_WAITING;
    else if (r->x == GW_X_CROSSING)
        r->x = GW_X_ANSWERING;
    else if (r->x != GW_X_NONE)
        finish(c, now);
}

static void answer_header(gw_conn *c, size_t staged)
{
    gw_relay *r = &c->relay;

    r->answer_bytes += staged;
    r->x = r->x == GW_X_SENDING ? GW_X_CROSSING : GW_X_ANSWERING;
    let_go(r);              /* no replay once the answer has begun */
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
    gw_conn_report(c, &rep, r->bytes_in, r->start, now);
    if (r->x == GW_X_CROSSING)
        r->x = GW_X_ANSWERED;
    else
        finish(c, now);
}

/* The receiving side may take more bytes: what they go to is under its
 * cap. */
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

size_t gw_relay_pass(gw_conn *c, gw_side *from, int upward,
                     const unsigned char *p, size_t len, gw_time now,
                     hf_event_type *last)
{
    gw_buf *to = upward ? &c->relay.req : &c->client.out;
    hf_decoder *d = from->dec;
    size_t off = 0, n, staged;
    int added = 0;
    int head;
    hf_event ev;
    /* Every request byte went out: the connection waits on the client. */
    int drained = upward && unsent(&c->relay) == 0;

    *last = HF_EV_NEED_MORE;
    if (d == NULL && len > 0 && (d = gw_side_decoder(from)) == NULL)
        goto nomem;
    if (d == NULL)
        return 0;
    /* Until no event is left: the end of a frame is reported by a push
     * after its last content byte, which must happen even when no more
     * bytes may be taken (backpressure), or nobody would ask again. */
    for (;;) {
        head = heading(c, upward);
        n = hf_decoder_push(d, p + off, may_take(c, upward) ? len - off : 0,
                            &ev);
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
            goto out;
        case HF_EV_HEADER:
            staged = gw_buf_pending(&from->stage);
            if (gw_buf_append(to, gw_buf_peek(&from->stage), staged) != 0)
                goto nomem;
            added = 1;
            gw_buf_clear(&from->stage);
            if (upward)
                request_header(c, now);
            else
                answer_header(c, staged);
            break;
        case HF_EV_CONTENT:
            if (upward && c->relay.x == GW_X_SKIPPING)
                break;
            if (gw_buf_append(to, ev.data, ev.len) != 0)
                goto nomem;
            added = 1;
            if (upward)
                trim(c);
            else
                c->relay.answer_bytes += ev.len;
            break;
        case HF_EV_FRAME_END:
            if (!upward) {
                *last = HF_EV_FRAME_END;
                answer_end(c, now);
                return off;     /* the next answer is someone else's */
            }
            request_end(c, now);
            break;
        case HF_EV_ERROR:
            *last = HF_EV_ERROR;
            if (!upward)
                return off;     /* the pool connection breaks */
            /* Only a header can be invalid, so nothing of this frame
             * went upstream and no answer is on its way. */
            gw_buf_clear(&from->stage);
            gw_conn_frame_error(c, GW_CONN_LINGER, now);
            return len;
        }
        if (c->state != GW_CONN_OPEN)
            return upward ? len : off;  /* down: the rest is dropped */
    }
out:
    /* After a wait on the client, the upstream clock starts again. */
    if (upward && added && drained)
        gw_pool_resume(pool_of(c), c, now);
    else if (upward && added)
        gw_pool_kick(pool_of(c), c);
    return off;
nomem:
    gw_conn_abort(c, GW_CLOSE_NOMEM);
    return upward ? len : off;
}

int gw_relay_client_readable(const gw_conn *c)
{
    const gw_relay *r = &c->relay;

    if (r->peer_eof)
        return 0;
    /* One request at a time: the next is read once the last answer is
     * complete and the last request byte has gone out. */
    if (r->x == GW_X_NONE)
        return gw_buf_pending(&r->req) == 0;
    return request_open(r->x) && unsent(r) < c->cfg->max_output;
}

void gw_relay_deadline(const gw_conn *c, gw_time *d)
{
    if (c->relay.queued)
        *d = gw_time_min(*d, gw_time_after(c->relay.since,
                                           c->cfg->relay.wait_timeout));
}

void gw_relay_tick(gw_conn *c, gw_time now)
{
    const gw_relay *r = &c->relay;

    if (r->queued &&
        now >= gw_time_after(r->since, c->cfg->relay.wait_timeout))
        fail(c, GW_REQ_E_UP_TIMEOUT, now);
}

void gw_relay_resumed(gw_conn *c, gw_time now)
{
    gw_pool_resume(pool_of(c), c, now);
}

int gw_relay_client_eof(gw_conn *c, gw_time now)
{
    gw_relay *r = &c->relay;

    if (c->frame_started) {
        /* Part of the request may have gone upstream: that connection
         * is of no further use. */
        if (r->x == GW_X_CROSSING) {
            gw_conn_abort(c, GW_CLOSE_PEER);
            return 1;
        }
        drop_request(c, now);
        r->x = GW_X_NONE;
        return 0;
    }
    if (r->x != GW_X_NONE) {
        r->peer_eof = 1;    /* the answer is still on its way */
        return 1;
    }
    return 0;
}

/* ---- for the pool ---- */

const unsigned char *gw_relay_unsent(const gw_conn *c, size_t *len)
{
    const gw_relay *r = &c->relay;

    *len = unsent(r);
    return *len == 0 ? NULL : gw_buf_peek(&r->req) + r->sent;
}

void gw_relay_wrote(gw_conn *c, size_t n, gw_time now)
{
    gw_relay *r = &c->relay;
    size_t before = unsent(r);

    if (n > before)
        n = before;
    if (r->keep)
        r->sent += n;
    else
        gw_buf_consume(&r->req, n);
    /* The client may be read again: below the cap, or all sent. */
    if (before >= c->cfg->max_output || unsent(r) == 0)
        gw_pool_wake(pool_of(c), NULL, c);
    (void)now;
}

int gw_relay_whole(const gw_conn *c)
{
    return !request_open(c->relay.x);
}

int gw_relay_sent_all(const gw_conn *c)
{
    return gw_relay_whole(c) && unsent(&c->relay) == 0;
}

int gw_relay_takes_answer(const gw_conn *c)
{
    return c->state == GW_CONN_OPEN && awaiting(c->relay.x) &&
           gw_side_unsent(&c->client) < c->cfg->max_output;
}
