/* gw_relay.c - relay mode of a client connection (see gw_relay.h). */
#include "gw_conn_core.h"

#include <stdlib.h>
#include <string.h>

static gw_pool *pool_of(const gw_conn *c)
{
    return c->cfg->relay.pool;
}

static unsigned depth_of(const gw_conn *c)
{
    unsigned d = c->cfg->relay.depth;

    return d == 0 ? 1 : d;
}

void gw_relay_init(gw_relay *r)
{
    memset(r, 0, sizeof *r);
    r->upstream = -1;
}

/* ---- exchanges: made, chained, given back ---- */

static void exchange_free(gw_exchange *x)
{
    if (x == NULL)
        return;
    gw_buf_free(&x->req);
    gw_buf_free(&x->held);
    free(x);
}

/* A new exchange at the end of c's: a spare one, or a new one. */
static gw_exchange *exchange_new(gw_conn *c)
{
    gw_relay *r = &c->relay;
    gw_exchange *x = r->spare;
    gw_buf req, held;

    if (x != NULL) {
        r->spare = x->next;
        r->n_spare--;
        req = x->req;
        held = x->held;
    } else {
        x = malloc(sizeof *x);
        if (x == NULL)
            return NULL;
        gw_buf_init(&req);
        gw_buf_init(&held);
    }
    memset(x, 0, sizeof *x);
    x->req = req;
    x->held = held;
    x->c = c;
    x->upstream = -1;
    if (r->tail != NULL)
        r->tail->next = x;
    else
        r->head = x;
    r->tail = x;
    r->n++;
    return x;
}

/* Take x off its client's chain and keep or free it. */
static void unlink_exchange(gw_exchange *x)
{
    gw_relay *r = &x->c->relay;
    gw_exchange *prev = NULL, *w;

    for (w = r->head; w != NULL && w != x; w = w->next)
        prev = w;
    if (w == NULL)
        return;
    if (prev != NULL)
        prev->next = x->next;
    else
        r->head = x->next;
    if (r->tail == x)
        r->tail = prev;
    r->n--;
    if (r->n_spare >= depth_of(x->c)) {
        exchange_free(x);
        return;
    }
    /* Kept for the client's next requests: a pipelining client would
     * otherwise have two allocations made and freed per request. Only
     * the first spare keeps large buffers. */
    if (r->spare != NULL && x->req.cap > GW_RELAY_SPARE_BUF)
        gw_buf_free(&x->req);
    if (r->spare != NULL && x->held.cap > GW_RELAY_SPARE_BUF)
        gw_buf_free(&x->held);
    gw_buf_clear(&x->req);
    gw_buf_clear(&x->held);
    x->next = r->spare;
    r->spare = x;
    r->n_spare++;
}

/* Free every spare exchange of r. */
static void spares_free(gw_relay *r)
{
    gw_exchange *x;

    while ((x = r->spare) != NULL) {
        r->spare = x->next;
        exchange_free(x);
    }
    r->n_spare = 0;
}

void gw_relay_free(gw_conn *c, gw_time now)
{
    gw_relay *r = &c->relay;
    gw_exchange *x, *next;
    int pooled = c->cfg->relay.on && pool_of(c) != NULL;

    for (x = r->head; x != NULL; x = next) {
        next = x->next;
        if (pooled)
            gw_pool_leave(pool_of(c), x, now);
        exchange_free(x);
    }
    r->head = r->tail = NULL;
    r->n = 0;
    if (pooled)
        gw_pool_gone(pool_of(c), c, now);
    spares_free(r);
}

void gw_relay_trim(gw_conn *c)
{
    spares_free(&c->relay);
}

size_t gw_relay_buffered(const gw_conn *c)
{
    const gw_exchange *x;
    size_t n = 0;

    for (x = c->relay.head; x != NULL; x = x->next)
        n += x->req.cap + x->held.cap;
    for (x = c->relay.spare; x != NULL; x = x->next)
        n += x->req.cap + x->held.cap;
    return n;
}

int gw_relay_busy(const gw_conn *c)
{
    return c->relay.n > 0;
}

int gw_relay_is_head(const gw_exchange *x)
{
    return x->c->relay.head == x;
}

/* ---- where an exchange stands ---- */

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

/* The answer's header was passed back and its end was not. */
static int answer_begun(gw_x_state x)
{
    return x == GW_X_CROSSING || x == GW_X_ANSWERING;
}

/* The exchange whose request is being read from the client, or NULL. */
static gw_exchange *reading(const gw_conn *c)
{
    gw_exchange *t = c->relay.tail;

    return t != NULL && request_open(t->x) ? t : NULL;
}

/* Where x's answer goes: the client's output, or x's own while an
 * earlier answer (or what x holds) is not through. */
static gw_buf *answer_out(gw_exchange *x)
{
    if (gw_relay_is_head(x) && gw_buf_pending(&x->held) == 0)
        return &x->c->client.out;
    return &x->held;
}

/* x's answer may take more bytes: what they go to is under its cap. */
static int answer_room(const gw_exchange *x)
{
    const gw_conn *c = x->c;

    if (gw_relay_is_head(x) && gw_buf_pending(&x->held) == 0)
        return gw_side_unsent(&c->client) < c->cfg->max_output;
    return gw_buf_pending(&x->held) < c->cfg->max_output;
}

static size_t unsent(const gw_exchange *x)
{
    return gw_buf_pending(&x->req) - x->sent;
}

/* Sent bytes are not needed any more (no replay from here on). */
static void let_go(gw_exchange *x)
{
    gw_buf_consume(&x->req, x->sent);
    x->sent = 0;
    x->keep = 0;
}

/* Off the pool, with every byte meant for the upstream. */
static void drop_request(gw_exchange *x, gw_time now)
{
    gw_pool_leave(pool_of(x->c), x, now);
    gw_buf_clear(&x->req);
    x->sent = 0;
    x->keep = 0;
}

/* ---- the access log ---- */

/* Tell the log about x's reply once all of it is in the client's output
 * (so replies are told in the order the client reads them). */
static void report_due(gw_exchange *x)
{
    gw_request_info info;

    if (!x->to_report || !gw_relay_is_head(x) ||
        gw_buf_pending(&x->held) > 0)
        return;
    x->to_report = 0;
    info.reply = &x->reply;
    info.names = &x->names;
    info.content_type = x->ctype;
    info.content_type_len = x->ctype_len;
    info.bytes_in = x->bytes_in;
    info.started = x->start;
    info.finished = x->replied;
    info.upstream = x->upstream;
    info.up_started = x->up_start;
    gw_conn_count(x->c, &info);
}

/* x's reply is complete: it is told now or once it reaches the client. */
static void report(gw_exchange *x, const gw_reply *rep, gw_time now)
{
    x->reply = *rep;
    x->replied = now;
    x->to_report = 1;
    report_due(x);
}

/* x's error frame goes into the client's output, whole. 0, or -1
 * (connection aborted: out of memory). */
static int write_refusal(gw_exchange *x, gw_time when)
{
    gw_reply rep;

    x->refusal = 0;
    if (gw_handle_bad_request(x->refused, &x->c->client.out, &rep) != 0) {
        gw_conn_abort(x->c, GW_CLOSE_NOMEM);
        return -1;
    }
    report(x, &rep, when);
    return 0;
}

/* An error frame in the place of x's answer: now, or once the answers
 * before it are through. 0, or -1 (connection aborted). */
static int refuse(gw_exchange *x, gw_req_status st, gw_time now)
{
    x->refused = st;
    x->refusal = 1;
    x->replied = now;
    if (answer_out(x) != &x->c->client.out)
        return 0;
    return write_refusal(x, now);
}

/* ---- the client's chain moves on ---- */

/* x goes to the pool once it is whole, or, the client's oldest, once
 * --max-output of it came (a large request streams): a request still
 * arriving takes no pool connection from other clients' whole ones. */
static void dispatch(gw_exchange *x, gw_time now)
{
    if (x->dispatched ||
        !(x->x == GW_X_WAITING ||
          (x->x == GW_X_SENDING && gw_relay_is_head(x) &&
           gw_buf_pending(&x->req) >= x->c->cfg->max_output)))
        return;
    x->dispatched = 1;
    gw_pool_dispatch(pool_of(x->c), x, now);
}

/* What the head holds of its answer goes to the client as far as its
 * output is under the cap; 1 when none is left. */
static int flush_held(gw_exchange *x, gw_time now)
{
    gw_conn *c = x->c;
    size_t n = gw_buf_pending(&x->held);
    size_t out = gw_side_unsent(&c->client), cap = c->cfg->max_output;

    if (n == 0)
        return 1;
    if (out >= cap)
        return 0;
    if (n > cap - out)
        n = cap - out;
    if (gw_buf_append(&c->client.out, gw_buf_peek(&x->held), n) != 0) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return 0;
    }
    gw_buf_consume(&x->held, n);
    if (gw_buf_pending(&x->held) > 0)
        return 0;
    /* The rest of its answer may go straight on. */
    gw_pool_resume(pool_of(c), x, now);
    return 1;
}

/* The head's answer goes on; the exchanges at the head that are over
 * (answer passed on, request whole and sent, off the pool) are let go,
 * and the next one's answer follows. */
static void advance(gw_conn *c, gw_time now)
{
    gw_relay *r = &c->relay;
    gw_exchange *x;
    int moved = 0;

    while ((x = r->head) != NULL && c->state == GW_CONN_OPEN) {
        if (!x->dispatched && awaiting(x->x)) {
            dispatch(x, now);
            if (x->dispatched)
                continue;   /* it may have failed at once */
        }
        if (!flush_held(x, now))
            break;
        if (x->refusal && write_refusal(x, x->replied) != 0)
            return;
        report_due(x);
        if (x->x != GW_X_DONE || x->up != NULL || x->queued)
            break;
        unlink_exchange(x);
        moved = 1;
    }
    if (r->n == 0 && r->broken) {
        /* The client may still send (drain it), unless it is done. */
        r->broken = 0;
        gw_conn_frame_error(c, r->peer_eof ? GW_CONN_CLOSING
                                           : GW_CONN_LINGER, now);
    } else if (r->n == 0 && !c->frame_started) {
        gw_conn_request_done(c, now);
    } else if (moved) {
        c->last_active = now;
    }
}

/* x will get no answer from upstream: an error frame instead. */
static void fail(gw_exchange *x, gw_req_status st, gw_time now)
{
    gw_conn *c = x->c;

    drop_request(x, now);
    switch (x->x) {
    case GW_X_SKIPPING:
    case GW_X_DONE:
        break;
    case GW_X_CROSSING:
    case GW_X_ANSWERING:
        if (gw_relay_is_head(x)) {
            /* The head's answer is the tail of the client's output (its
             * first bytes) and what it holds (the rest). */
            uint64_t queued = x->answer_bytes - gw_buf_pending(&x->held);
            size_t unsent = gw_buf_pending(&c->client.out);

            if (queued > unsent) {
                /* Part of the answer went to the client: no frame
                 * boundary is left for an error frame. The request is
                 * logged and counted as failed all the same. */
                gw_reply rep;

                memset(&rep, 0, sizeof rep);
                rep.kind = GW_KIND_BAD_REQUEST;
                rep.req_status = st == GW_REQ_OK ? GW_REQ_E_UP_FAILED : st;
                rep.status = gw_req_status_name(rep.req_status);
                rep.bytes_out = (size_t)(queued - unsent);
                gw_buf_clear(&x->held);
                report(x, &rep, now);
                gw_conn_abort(c, GW_CLOSE_UPSTREAM);
                return;
            }
            /* None of it left yet: it is taken back, the answers before
             * it stay. */
            gw_buf_cut(&c->client.out, unsent - (size_t)queued);
        }
        /* Not sent: an error frame takes its place. */
        gw_buf_clear(&x->held);
        if (refuse(x, st == GW_REQ_OK ? GW_REQ_E_UP_FAILED : st, now) != 0)
            return;
        x->x = x->x == GW_X_CROSSING ? GW_X_SKIPPING : GW_X_DONE;
        break;
    case GW_X_ANSWERED:
        x->x = GW_X_SKIPPING;
        break;
    case GW_X_SENDING:
    case GW_X_WAITING:
        if (refuse(x, st, now) != 0)
            return;
        x->x = x->x == GW_X_SENDING ? GW_X_SKIPPING : GW_X_DONE;
        break;
    }
    advance(c, now);
}

void gw_relay_given_back(gw_exchange *x, int retry, gw_req_status st,
                         gw_time now)
{
    gw_conn *c = x->c;

    x->up = NULL;
    x->queued = 0;
    x->sent = 0;
    gw_pool_wake(pool_of(c), NULL, c);     /* whatever comes, c moves */
    if (!awaiting(x->x)) {
        /* Answered already: what was not sent of the request is lost. */
        fail(x, GW_REQ_OK, now);
        return;
    }
    /* One free go at most: a request that makes every kept connection
     * it lands on close would otherwise be sent on each of them. */
    if (retry == GW_RETRY_FREE && x->free_used)
        retry = GW_RETRY;
    /* Its client was closed (an earlier answer broke off halfway): no
     * answer can reach it, so nothing is sent again. */
    if (c->state == GW_CONN_CLOSED)
        retry = GW_RETRY_NO;
    if (retry != GW_RETRY_NO && !answer_begun(x->x) && x->got == 0 &&
        x->keep && (retry != GW_RETRY ||
                    x->attempts + 1 < c->cfg->relay.attempts)) {
        x->attempts += retry == GW_RETRY;
        x->free_used |= retry == GW_RETRY_FREE;
        gw_pool_dispatch(pool_of(c), x, now);
        return;
    }
    fail(x, st, now);
}

void gw_relay_attached(gw_exchange *x, gw_upconn *u, int i, gw_time now)
{
    x->up = u;
    x->queued = u == NULL;
    x->upstream = i;
    x->c->relay.upstream = i;
    if (i >= 0 && i < 32)
        x->tried |= (uint32_t)1 << i;
    x->sent = 0;
    /* A request that waits on (requeued, no connection yet) keeps the
     * time its wait began; its upstream time counts from there too. */
    if (!(x->requeued && u == NULL))
        x->since = now;
    if (!x->requeued)
        x->up_start = now;
    x->requeued = 0;
}

void gw_relay_detached(gw_exchange *x, gw_time now)
{
    x->up = NULL;
    if (x->x == GW_X_DONE)
        advance(x->c, now);
}

/* ---- requests and answers ---- */

/* A request sent as it arrives may grow too big to keep for a replay:
 * then sent bytes go at once. */
static void trim(gw_exchange *x)
{
    if (x->keep && x->sent > 0 &&
        gw_buf_pending(&x->req) > x->c->cfg->max_output)
        let_go(x);
}

/* A request's header is valid: it begins (its staged bytes are in req
 * already), and goes to the pool when dispatch says so. */
static void request_header(gw_exchange *x, gw_time now)
{
    gw_conn *c = x->c;
    const hf_header *h = hf_decoder_header(c->client.dec);

    gw_keep_type(x->ctype, &x->ctype_len, h);
    x->x = GW_X_SENDING;
    x->bytes_in = gw_frame_bytes(h);
    x->content_length = h->content_length;
    x->start = c->frame_first;
    x->keep = 1;
    dispatch(x, now);
}

/* For the access log, what a JSON request asks, read the way serving
 * mode reads it: only while the whole request is still at hand and no
 * bigger than serving mode would read. */
static void describe(gw_exchange *x)
{
    gw_conn *c = x->c;
    size_t held = gw_buf_pending(&x->req);

    if (!c->cfg->relay.names || !x->keep || held != x->bytes_in ||
        x->content_length > gw_conn_max_json(c->cfg) ||
        x->content_length > held)
        return;
    gw_describe_request(hf_decoder_header(c->client.dec),
                        gw_buf_peek(&x->req) + (held - x->content_length),
                        (size_t)x->content_length, &x->names);
}

static void request_end(gw_exchange *x, gw_time now)
{
    describe(x);
    x->c->frame_started = 0;
    switch (x->x) {
    case GW_X_SENDING:
        x->x = GW_X_WAITING;
        dispatch(x, now);
        break;
    case GW_X_CROSSING:
        x->x = GW_X_ANSWERING;
        break;
    case GW_X_ANSWERED:
    case GW_X_SKIPPING:
        x->x = GW_X_DONE;
        advance(x->c, now);
        break;
    default:
        break;
    }
}

static void answer_header(gw_exchange *x, size_t staged)
{
    x->answer_bytes += staged;
    x->x = x->x == GW_X_SENDING ? GW_X_CROSSING : GW_X_ANSWERING;
    let_go(x);              /* no replay once the answer has begun */
}

static void answer_end(gw_exchange *x, gw_time now)
{
    gw_reply rep;

    memset(&rep, 0, sizeof rep);
    rep.kind = GW_KIND_RELAYED;
    rep.status = "ok";
    rep.frame_status = HF_OK;
    rep.req_status = GW_REQ_OK;
    rep.bytes_out = (size_t)x->answer_bytes;
    report(x, &rep, now);
    /* Over once its connection lets go of it (gw_relay_detached). */
    x->x = x->x == GW_X_CROSSING ? GW_X_ANSWERED : GW_X_DONE;
}

/* The receiving side may take more bytes: what they go to is under its
 * cap. */
static int may_take(gw_conn *c, gw_exchange *x, int upward)
{
    return upward ? gw_conn_takes_client(c) : answer_room(x);
}

/* Request bytes were added to x: its connection has something to send
 * (and its clock starts again if it was waiting on the client). */
static void request_grew(gw_exchange *x, int drained, gw_time now)
{
    if (drained)
        gw_pool_resume(pool_of(x->c), x, now);
    else
        gw_pool_kick(pool_of(x->c), x);
}

size_t gw_relay_pass(gw_conn *c, gw_exchange *x, gw_side *from,
                     const unsigned char *p, size_t len, gw_time now,
                     hf_event_type *last)
{
    int upward = x == NULL;
    hf_decoder *d = from->dec;
    size_t off = 0, n, staged;
    int head, drained;
    gw_buf *to;
    hf_event ev;

    *last = HF_EV_NEED_MORE;
    if (upward)
        x = reading(c);
    if (d == NULL && len > 0 && (d = gw_side_decoder(from)) == NULL)
        goto nomem;
    if (d == NULL)
        return 0;
    /* Until no event is left: the end of a frame is reported by a push
     * after its last content byte, which must happen even when no more
     * bytes may be taken (backpressure), or nobody would ask again. */
    for (;;) {
        head = upward ? x == NULL
                      : x->x == GW_X_SENDING || x->x == GW_X_WAITING;
        n = hf_decoder_push(d, p + off,
                            may_take(c, x, upward) ? len - off : 0,
                            &ev);
        if (head && n > 0 && ev.type != HF_EV_ERROR &&
            gw_buf_append(&from->stage, p + off, n) != 0)
            goto nomem;
        if (upward && n > 0)
            gw_conn_frame_begins(c, now);
        if (!upward)
            x->got += n;
        off += n;
        switch (ev.type) {
        case HF_EV_NEED_MORE:
            return off;
        case HF_EV_HEADER:
            if (upward && (x = exchange_new(c)) == NULL)
                goto nomem;
            to = upward ? &x->req : answer_out(x);
            staged = gw_buf_pending(&from->stage);
            if (gw_buf_append(to, gw_buf_peek(&from->stage), staged) != 0)
                goto nomem;
            gw_buf_clear(&from->stage);
            if (upward)
                request_header(x, now);
            else
                answer_header(x, staged);
            break;
        case HF_EV_CONTENT:
            if (upward && x->x == GW_X_SKIPPING)
                break;
            drained = upward && unsent(x) == 0;
            if (gw_buf_append(upward ? &x->req : answer_out(x), ev.data,
                              ev.len) != 0)
                goto nomem;
            if (upward) {
                trim(x);
                request_grew(x, drained, now);
                dispatch(x, now);
            } else {
                x->answer_bytes += ev.len;
            }
            break;
        case HF_EV_FRAME_END:
            if (!upward) {
                *last = HF_EV_FRAME_END;
                answer_end(x, now);
                return off;     /* the next answer is someone else's */
            }
            request_end(x, now);
            x = NULL;           /* the next frame is a new request */
            break;
        case HF_EV_ERROR:
            *last = HF_EV_ERROR;
            if (!upward)
                return off;     /* the pool connection breaks */
            /* Only a header can be invalid, so nothing of this frame
             * went upstream and no answer is on its way. The requests
             * before it are answered first: the error frame follows
             * their answers. */
            gw_buf_clear(&from->stage);
            if (c->relay.n > 0)
                c->relay.broken = 1;
            else
                gw_conn_frame_error(c, GW_CONN_LINGER, now);
            return len;
        }
        if (c->state != GW_CONN_OPEN)
            return upward ? len : off;  /* down: the rest is dropped */
    }
nomem:
    gw_conn_abort(c, GW_CLOSE_NOMEM);
    return upward ? len : off;
}

int gw_relay_client_readable(const gw_conn *c)
{
    const gw_relay *r = &c->relay;
    const gw_exchange *x = reading(c);

    if (r->peer_eof || r->broken)
        return 0;
    if (x != NULL)
        return unsent(x) < c->cfg->max_output;
    /* The next request: up to depth of them at once; once the server
     * stops, only one already begun (those in hand are finished, then
     * it closes). */
    return r->n < depth_of(c) && (!c->stopping || c->frame_started);
}

void gw_relay_deadline(const gw_conn *c, gw_time *d)
{
    const gw_exchange *x;

    for (x = c->relay.head; x != NULL; x = x->next)
        if (x->queued)
            *d = gw_time_min(*d, gw_time_after(x->since,
                                               c->cfg->relay.wait_timeout));
}

void gw_relay_tick(gw_conn *c, gw_time now)
{
    gw_exchange *x;

again:
    for (x = c->relay.head; x != NULL && c->state == GW_CONN_OPEN;
         x = x->next) {
        if (x->queued &&
            now >= gw_time_after(x->since, c->cfg->relay.wait_timeout)) {
            fail(x, GW_REQ_E_UP_TIMEOUT, now);
            goto again;     /* the chain may have moved */
        }
    }
}

void gw_relay_resumed(gw_conn *c, gw_time now)
{
    gw_exchange *x = c->relay.head;

    if (x != NULL && gw_buf_pending(&x->held) == 0)
        gw_pool_resume(pool_of(c), x, now);
    else if (x != NULL)
        advance(c, now);
}

int gw_relay_client_eof(gw_conn *c, gw_time now)
{
    gw_relay *r = &c->relay;
    gw_exchange *x = reading(c);

    if (x != NULL) {
        if (x->x == GW_X_CROSSING && gw_relay_is_head(x)) {
            /* Part of the answer went out to a request cut short. */
            gw_conn_abort(c, GW_CLOSE_PEER);
            return 1;
        }
        /* Part of the request may have gone upstream: that connection
         * is of no further use. A reply already complete still goes. */
        drop_request(x, now);
        if (x->x == GW_X_ANSWERED || x->x == GW_X_SKIPPING)
            x->x = GW_X_DONE;
        else
            unlink_exchange(x);
        advance(c, now);
        if (c->state != GW_CONN_OPEN)
            return 1;
    }
    if (r->n > 0) {
        /* Answers are still on their way: close once they are sent,
         * and when the stream ended inside a frame, after its error
         * frame (truncated), as in serve mode. */
        if (gw_conn_in_request(c) && c->client.dec != NULL &&
            hf_decoder_finish(c->client.dec) != HF_OK)
            r->broken = 1;
        r->peer_eof = 1;
        c->frame_started = 0;
        return 1;
    }
    return 0;
}

/* ---- for the pool ---- */

const unsigned char *gw_relay_unsent(const gw_exchange *x, size_t *len)
{
    *len = unsent(x);
    return *len == 0 ? NULL : gw_buf_peek(&x->req) + x->sent;
}

void gw_relay_wrote(gw_exchange *x, size_t n, gw_time now)
{
    size_t before = unsent(x);

    if (n > before)
        n = before;
    if (x->keep)
        x->sent += n;
    else
        gw_buf_consume(&x->req, n);
    /* The client may be read again: below the cap, or all sent. */
    if (before >= x->c->cfg->max_output || unsent(x) == 0)
        gw_pool_wake(pool_of(x->c), NULL, x->c);
    (void)now;
}

int gw_relay_whole(const gw_exchange *x)
{
    return !request_open(x->x);
}

int gw_relay_sent_all(const gw_exchange *x)
{
    return gw_relay_whole(x) && unsent(x) == 0;
}

int gw_relay_takes_answer(const gw_exchange *x)
{
    const gw_conn *c = x->c;

    return c->state == GW_CONN_OPEN && awaiting(x->x) && answer_room(x);
}
