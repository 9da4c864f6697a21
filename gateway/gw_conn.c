/* gw_conn.c - the sans-I/O connection state machine (see gw_conn.h). */
#include "gw_conn_core.h"

#include <string.h>
#include <sys/socket.h>

static const char *const reason_names[GW_CLOSE_REASON_COUNT] = {
    "none", "peer", "frame-error", "request-timeout", "idle-timeout",
    "write-timeout", "shutdown", "out-of-memory",
    "io-error", "upstream-error"
};

const char *gw_close_reason_name(gw_close_reason why)
{
    if ((unsigned)why >= GW_CLOSE_REASON_COUNT)
        return "unknown";
    return reason_names[why];
}

uint64_t gw_frame_bytes(const hf_header *h)
{
    return HF_PREFIX_LEN + (uint64_t)h->header_len + h->content_length;
}

uint64_t gw_conn_max_json(const gw_conn_config *cfg)
{
    return cfg->max_json > 0 ? cfg->max_json : cfg->limits.max_content;
}

static int relaying(const gw_conn *c)
{
    return c->cfg->relay.on;
}

int gw_conn_init(gw_conn *c, const gw_conn_config *cfg, void *user,
                 gw_time now)
{
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->user = user;
    c->state = GW_CONN_OPEN;
    c->reason = GW_CLOSE_NONE;
    gw_buf_init(&c->body);
    c->last_active = now;
    c->write_since = now;
    c->drain_until = GW_TIME_NEVER;
    c->out_idle = 1;
    c->addr.family = AF_UNSPEC;
    gw_relay_init(&c->relay);
    if (gw_side_init(&c->client, &cfg->limits) != 0)
        return -1;
    return cfg->relay.on && cfg->relay.pool == NULL ? -1 : 0;
}

void gw_conn_free(gw_conn *c)
{
    gw_relay_free(c, c->last_active);
    gw_side_free(&c->client);
    gw_buf_free(&c->body);
}

gw_conn_state_t gw_conn_state(const gw_conn *c)
{
    return c->state;
}

void *gw_conn_user(const gw_conn *c)
{
    return c->user;
}

gw_close_reason gw_conn_reason(const gw_conn *c)
{
    return c->reason;
}

uint64_t gw_conn_requests(const gw_conn *c)
{
    return c->requests;
}

void gw_conn_abort(gw_conn *c, gw_close_reason why)
{
    c->state = GW_CONN_CLOSED;
    c->reason = why;
}

void gw_conn_close_after(gw_conn *c, gw_close_reason why)
{
    /* Stopping, the client may have sent more than we answer: closing
     * with its bytes unread would reset the connection and could lose
     * answers already sent. Shut the write side and drain instead, as
     * after an error frame. */
    c->state = why == GW_CLOSE_SHUTDOWN ? GW_CONN_LINGER : GW_CONN_CLOSING;
    c->reason = why;
}

int gw_conn_in_request(const gw_conn *c)
{
    if (relaying(c))
        return c->frame_started || gw_relay_busy(c);
    return c->frame_started && (!c->answered || c->skipping);
}

/* The request clock runs: a request is being read and the client is not
 * held back. A relayed request waiting for its answer is the upstream
 * clocks' business (the client may meanwhile send the next). */
static int request_clock_runs(const gw_conn *c)
{
    return !c->held_back && (!relaying(c) || c->frame_started);
}

int gw_conn_takes_client(const gw_conn *c)
{
    if (c->state != GW_CONN_OPEN ||
        gw_side_unsent(&c->client) >= c->cfg->max_output)
        return 0;
    return !relaying(c) || gw_relay_client_readable(c);
}

void gw_conn_frame_begins(gw_conn *c, gw_time now)
{
    if (c->frame_started)
        return;
    c->frame_started = 1;
    c->frame_start = now;
    c->frame_first = now;
    c->held_back = 0;
}

void gw_conn_count(gw_conn *c, const gw_request_info *info)
{
    c->requests++;
    if (c->cfg->on_request != NULL)
        c->cfg->on_request(c->user, info);
}

void gw_conn_report(gw_conn *c, const gw_reply *r, uint64_t bytes_in,
                    gw_time started, gw_time now)
{
    gw_request_info info;

    info.reply = r;
    info.names = &r->names;
    info.content_type = c->ctype;
    info.content_type_len = c->ctype_len;
    info.bytes_in = bytes_in;
    info.started = started;
    info.finished = now;
    info.upstream = -1;
    info.up_started = 0;
    gw_conn_count(c, &info);
}

int gw_conn_answered(gw_conn *c, int rc, const gw_reply *r,
                    uint64_t bytes_in, gw_time now)
{
    if (rc != 0) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return 0;
    }
    if (!c->have_header)
        c->ctype_len = 0;
    gw_conn_report(c, r, bytes_in, c->frame_started ? c->frame_first : now,
                   now);
    c->answered = 1;
    return 1;
}

int gw_conn_refuse(gw_conn *c, gw_req_status st, uint64_t bytes_in,
                   gw_time started, gw_time now)
{
    gw_reply r;

    if (gw_handle_bad_request(st, &c->client.out, &r) != 0) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return -1;
    }
    gw_conn_report(c, &r, bytes_in, started, now);
    return 0;
}

void gw_keep_type(char *dst, size_t *len, const hf_header *h)
{
    size_t n = h->content_type.len < GW_TYPE_LOG_MAX ? h->content_type.len
                                                     : GW_TYPE_LOG_MAX;

    memcpy(dst, h->content_type.ptr, n);
    *len = n;
}

void gw_conn_frame_error(gw_conn *c, gw_conn_state_t next, gw_time now)
{
    const hf_error *err;
    gw_reply r;
    int rc;

    if (c->client.dec == NULL) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return;
    }
    err = hf_decoder_error(c->client.dec);
    rc = gw_handle_frame_error(err, &c->client.out, &r);
    if (gw_conn_answered(c, rc, &r, err->frame_offset, now)) {
        c->state = next;
        c->reason = GW_CLOSE_FRAME_ERROR;
    }
}

void gw_conn_request_done(gw_conn *c, gw_time now)
{
    c->last_active = now;
    if (c->state != GW_CONN_OPEN)
        return;
    if (c->relay.peer_eof)
        gw_conn_close_after(c, GW_CLOSE_PEER);
    else if (c->stopping)
        gw_conn_close_after(c, GW_CLOSE_SHUTDOWN);
}

/* ------------------------------------------------------------------ */
/* PROXY protocol header                                               */
/* ------------------------------------------------------------------ */

/* The PROXY header is not valid (or ended early): one error frame, then
 * close as after a frame error. */
static void proxy_refused(gw_conn *c, uint64_t bytes_in,
                          gw_conn_state_t next, gw_time now)
{
    gw_buf_clear(&c->client.stage);
    c->ctype_len = 0;
    if (gw_conn_refuse(c, GW_REQ_E_PROXY, bytes_in, c->frame_first,
                       now) != 0)
        return;
    c->frame_started = 0;
    c->state = next;
    c->reason = GW_CLOSE_FRAME_ERROR;
}

/* Gather the header in the client's stage (never longer than
 * GW_PROXY_MAX); returns the bytes of p that belong to it. */
static size_t proxy_input(gw_conn *c, const unsigned char *p, size_t len,
                          gw_time now)
{
    gw_buf *stage = &c->client.stage;
    size_t have = gw_buf_pending(stage);
    size_t take = len < GW_PROXY_MAX - have ? len : GW_PROXY_MAX - have;
    gw_proxy_info info;
    gw_proxy_status st;

    if (take > 0)
        gw_conn_frame_begins(c, now);
    if (gw_buf_append(stage, p, take) != 0) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return len;
    }
    st = gw_proxy_parse(gw_buf_peek(stage), gw_buf_pending(stage), &info);
    if (st == GW_PROXY_NEED_MORE)
        return take;
    if (st != GW_PROXY_OK) {
        proxy_refused(c, have + take, GW_CONN_LINGER, now);
        return len;
    }
    gw_buf_clear(stage);
    c->frame_started = 0;
    c->proxy_done = 1;
    /* No address in it (UNKNOWN, LOCAL, Unix): the client is unknown,
     * not the balancer that connected. */
    c->addr = info;
    if (c->cfg->on_proxy != NULL)
        c->cfg->on_proxy(c->user, &info);
    return info.len - have;
}

/* ------------------------------------------------------------------ */
/* Input, output, the clock                                            */
/* ------------------------------------------------------------------ */

/* Process client bytes as far as the connection takes them. */
static size_t client_consume(gw_conn *c, const unsigned char *p, size_t len,
                             gw_time now)
{
    size_t off = 0;

    if (c->cfg->proxy_protocol && !c->proxy_done) {
        off = proxy_input(c, p, len, now);
        if (c->state != GW_CONN_OPEN || !c->proxy_done)
            return len;
    }
    if (relaying(c)) {
        hf_event_type last;

        return off + gw_relay_pass(c, NULL, &c->client, p + off,
                                   len - off, now, &last);
    }
    return off + gw_serve_input(c, p + off, len - off, now);
}

/* Offer the bytes kept back again; 1 when some were taken. */
static int resume(gw_conn *c, gw_time now)
{
    gw_buf *in = &c->client.in;
    size_t n;

    if (gw_buf_pending(in) == 0 || c->state != GW_CONN_OPEN)
        return 0;
    n = client_consume(c, gw_buf_peek(in), gw_buf_pending(in), now);
    gw_buf_consume(in, n);
    return n > 0;
}

/* After every event: move what was held back, keep the write clock and
 * the request clock (which stands while the client is held back). */
void gw_conn_settle(gw_conn *c, gw_time now)
{
    int round, held;

    for (round = 0; round < 4; round++) {
        if (!resume(c, now))
            break;
    }
    /* Stopping: close at the first boundary between requests, however
     * it was reached (an answer, a PROXY header read, a request let go
     * of). */
    if (c->stopping && c->state == GW_CONN_OPEN && !gw_conn_in_request(c))
        gw_conn_close_after(c, GW_CLOSE_SHUTDOWN);
    if (gw_side_unsent(&c->client) == 0) {
        c->out_idle = 1;
    } else if (c->out_idle) {
        c->out_idle = 0;        /* output waits: the write clock starts */
        c->write_since = now;
    }
    held = c->state == GW_CONN_OPEN && gw_conn_in_request(c) &&
           !gw_conn_takes_client(c);
    if (held && !c->held_back) {
        c->held_since = now;
    } else if (!held && c->held_back && now > c->held_since) {
        c->frame_start = gw_time_add(c->frame_start, now - c->held_since);
    }
    c->held_back = held;
}

void gw_conn_input(gw_conn *c, const void *data, size_t len, gw_time now)
{
    gw_side *s = &c->client;
    size_t n;

    if (len == 0)
        return;
    s->bytes_in += len;
    c->trimmed = 0;
    if (c->state != GW_CONN_OPEN)
        return;     /* discarded (draining, closing) */
    c->last_active = now;
    if (gw_buf_pending(&s->in) > 0) {
        n = 0;      /* behind bytes kept earlier: keep these too */
    } else {
        n = client_consume(c, data, len, now);
    }
    if (n < len && c->state == GW_CONN_OPEN &&
        gw_buf_append(&s->in, (const unsigned char *)data + n, len - n)
            != 0)
        gw_conn_abort(c, GW_CLOSE_NOMEM);
    gw_conn_settle(c, now);
}

void gw_conn_eof(gw_conn *c, gw_time now)
{
    switch (c->state) {
    case GW_CONN_OPEN:
        if (c->cfg->proxy_protocol && !c->proxy_done) {
            if (gw_buf_pending(&c->client.stage) > 0)
                proxy_refused(c, gw_buf_pending(&c->client.stage),
                              GW_CONN_CLOSING, now);
            else
                gw_conn_close_after(c, GW_CLOSE_PEER);
            break;
        }
        if (relaying(c) && gw_relay_client_eof(c, now))
            break;
        if (gw_conn_in_request(c) && c->client.dec != NULL &&
            hf_decoder_finish(c->client.dec) != HF_OK) {
            /* The client can still read: tell it what went wrong. */
            gw_conn_frame_error(c, GW_CONN_CLOSING, now);
            break;
        }
        gw_conn_close_after(c, GW_CLOSE_PEER);
        break;
    case GW_CONN_LINGER:
        c->state = GW_CONN_CLOSING;  /* no need to drain any more */
        break;
    case GW_CONN_DRAINING:
        c->state = GW_CONN_CLOSED;
        break;
    case GW_CONN_CLOSING:
    case GW_CONN_CLOSED:
        break;
    }
    gw_conn_settle(c, now);
}

void gw_conn_error(gw_conn *c, gw_time now)
{
    (void)now;
    gw_conn_abort(c, GW_CLOSE_IO);
}

const unsigned char *gw_conn_output(const gw_conn *c, size_t *len)
{
    *len = 0;
    return gw_side_output(&c->client, len);
}

void gw_conn_sent(gw_conn *c, size_t n, gw_time now)
{
    size_t before;

    if (n == 0)
        return;
    before = gw_side_unsent(&c->client);
    gw_side_sent(&c->client, n);
    c->write_since = now;
    c->kq += n;             /* the kernel holds n more */
    if (gw_side_unsent(&c->client) == 0)
        c->last_active = now;
    if (relaying(c) && before >= c->cfg->max_output &&
        gw_side_unsent(&c->client) < c->cfg->max_output)
        gw_relay_resumed(c, now);
    gw_conn_settle(c, now);
}

size_t gw_conn_buffered(const gw_conn *c)
{
    return gw_side_buffered(&c->client) + gw_relay_buffered(c) +
           c->body.cap;
}

/* Idle: no request in hand, nothing to send, nothing held back. */
static int idle(const gw_conn *c)
{
    return c->state == GW_CONN_OPEN && !gw_conn_in_request(c) &&
           gw_side_unsent(&c->client) == 0 &&
           gw_buf_pending(&c->client.in) == 0;
}

/* An idle connection gives back its decoders and empty buffers, so that
 * many idle clients cost little; the next request makes them again. */
static void trim(gw_conn *c)
{
    gw_side_trim(&c->client);
    gw_buf_free(&c->body);
    gw_relay_trim(c);
    c->trimmed = 1;
}

void gw_conn_set_addresses(gw_conn *c, const gw_proxy_info *addr)
{
    c->addr = *addr;
}

unsigned gw_conn_poll(const gw_conn *c, gw_time *deadline)
{
    const gw_conn_config *cfg = c->cfg;
    size_t unsent = gw_side_unsent(&c->client);
    unsigned want = 0;
    gw_time d = GW_TIME_NEVER;

    switch (c->state) {
    case GW_CONN_OPEN:
        if (gw_buf_pending(&c->client.in) == 0 && gw_conn_takes_client(c))
            want |= GW_WANT_READ;
        if (relaying(c))
            gw_relay_deadline(c, &d);
        if (gw_conn_in_request(c)) {
            if (request_clock_runs(c))
                d = gw_time_min(d, gw_time_after(c->frame_start,
                                                 cfg->request_timeout));
        } else if (unsent == 0) {
            d = gw_time_min(d, gw_time_after(c->last_active,
                                             cfg->idle_timeout));
        }
        if (!c->trimmed && idle(c))
            d = gw_time_min(d, gw_time_add(c->last_active, GW_TRIM_AFTER));
        break;
    case GW_CONN_CLOSING:
        if (unsent == 0)
            want |= GW_WANT_CLOSE;
        break;
    case GW_CONN_LINGER:
        if (unsent == 0)
            want |= GW_WANT_SHUT;
        break;
    case GW_CONN_DRAINING:
        want |= GW_WANT_READ;
        d = c->drain_until;
        break;
    case GW_CONN_CLOSED:
        want |= GW_WANT_CLOSE;
        break;
    }
    if (unsent > 0 && c->state != GW_CONN_DRAINING &&
        c->state != GW_CONN_CLOSED) {
        want |= GW_WANT_WRITE;
        d = gw_time_min(d, gw_time_after(c->write_since,
                                         cfg->write_timeout));
    }
    if (deadline != NULL)
        *deadline = d;
    return want;
}

void gw_conn_queued(gw_conn *c, size_t bytes, gw_time now)
{
    if (c->state == GW_CONN_CLOSED || gw_side_unsent(&c->client) == 0)
        return;
    if (c->kq_known && bytes < c->kq)
        c->write_since = now;
    c->kq = bytes;
    c->kq_known = 1;
}

gw_conn_state_t gw_conn_tick(gw_conn *c, gw_time now)
{
    const gw_conn_config *cfg = c->cfg;
    size_t unsent;

    if (c->state == GW_CONN_CLOSED)
        return c->state;
    /* What the relay's pool did meanwhile (an answer came) first. */
    gw_conn_settle(c, now);
    unsent = gw_side_unsent(&c->client);
    if (c->state == GW_CONN_DRAINING) {
        if (now >= c->drain_until)
            c->state = GW_CONN_CLOSED;
        return c->state;
    }
    if (unsent > 0 &&
        now >= gw_time_after(c->write_since, cfg->write_timeout)) {
        gw_conn_abort(c, GW_CLOSE_WRITE_TIMEOUT);
        return c->state;
    }
    if (c->state != GW_CONN_OPEN)
        return c->state;
    if (relaying(c)) {
        gw_relay_tick(c, now);
        gw_conn_settle(c, now);
        if (c->state != GW_CONN_OPEN)
            return c->state;
    }
    if (gw_conn_in_request(c)) {
        if (request_clock_runs(c) &&
            now >= gw_time_after(c->frame_start, cfg->request_timeout))
            gw_conn_abort(c, GW_CLOSE_REQUEST_TIMEOUT);
    } else if (unsent == 0 &&
               now >= gw_time_after(c->last_active, cfg->idle_timeout)) {
        gw_conn_abort(c, GW_CLOSE_IDLE_TIMEOUT);
    }
    if (!c->trimmed && idle(c) &&
        now >= gw_time_add(c->last_active, GW_TRIM_AFTER))
        trim(c);
    return c->state;
}

void gw_conn_drain(gw_conn *c, gw_time now)
{
    if (c->state == GW_CONN_CLOSED)
        return;
    gw_buf_clear(&c->client.in);
    if (c->cfg->drain_timeout <= 0) {
        c->state = GW_CONN_CLOSED;
        return;
    }
    c->state = GW_CONN_DRAINING;
    c->drain_until = gw_time_add(now, c->cfg->drain_timeout);
}

void gw_conn_shutdown(gw_conn *c, gw_time now)
{
    c->stopping = 1;
    if (c->state == GW_CONN_OPEN && !gw_conn_in_request(c))
        gw_conn_close_after(c, GW_CLOSE_SHUTDOWN);
    gw_conn_settle(c, now);
}
