/* gw_conn.c - the sans-I/O connection state machine (see gw_conn.h). */
#include "gw_conn.h"

#include <string.h>
#include <sys/socket.h>

#define CT_JSON "text/json"

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

/* a + b, saturating at GW_TIME_NEVER (both non-negative in practice). */
static gw_time add_time(gw_time a, gw_time b)
{
    if (b > 0 && a > GW_TIME_NEVER - b)
        return GW_TIME_NEVER;
    return a + b;
}

static gw_time min_time(gw_time a, gw_time b)
{
    return a < b ? a : b;
}

int gw_conn_init(gw_conn *c, const gw_conn_config *cfg, void *user,
                 gw_time now)
{
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->user = user;
    c->state = GW_CONN_OPEN;
    c->reason = GW_CLOSE_NONE;
    gw_buf_init(&c->out);
    gw_buf_init(&c->body);
    gw_buf_init(&c->stage);
    gw_buf_init(&c->up_stage);
    gw_buf_init(&c->up_out);
    c->last_active = now;
    c->write_since = now;
    c->drain_until = GW_TIME_NEVER;
    c->up = GW_UP_NONE;
    if (hf_decoder_init(&c->dec, &cfg->limits) != HF_OK ||
        hf_decoder_init(&c->up_dec, &cfg->limits) != HF_OK) {
        hf_decoder_free(&c->dec);
        hf_decoder_free(&c->up_dec);
        return -1;
    }
    return 0;
}

void gw_conn_free(gw_conn *c)
{
    hf_decoder_free(&c->dec);
    hf_decoder_free(&c->up_dec);
    gw_buf_free(&c->out);
    gw_buf_free(&c->body);
    gw_buf_free(&c->stage);
    gw_buf_free(&c->up_stage);
    gw_buf_free(&c->up_out);
}

gw_conn_state_t gw_conn_state(const gw_conn *c)
{
    return c->state;
}

gw_close_reason gw_conn_reason(const gw_conn *c)
{
    return c->reason;
}

size_t gw_conn_pending(const gw_conn *c)
{
    return gw_buf_pending(&c->out);
}

/* Relay: request bytes not sent to the upstream yet (a PROXY header
 * for it included). */
static size_t up_unsent(const gw_conn *c)
{
    return gw_buf_pending(&c->up_out) - c->up_sent +
           (c->up_pre_len - c->up_pre_off);
}

int gw_conn_want_read(const gw_conn *c)
{
    if (c->state == GW_CONN_DRAINING)
        return 1;
    if (c->state != GW_CONN_OPEN ||
        gw_buf_pending(&c->out) >= c->cfg->max_output)
        return 0;
    if (!c->cfg->relay)
        return 1;
    if (c->peer_eof)
        return 0;
    /* One request at a time: the next is read once the last answer is
     * complete and the last request byte has gone out. */
    if (!c->x_active)
        return gw_buf_pending(&c->up_out) == 0;
    return !c->req_done && up_unsent(c) < c->cfg->max_output;
}

int gw_conn_want_write(const gw_conn *c)
{
    return gw_buf_pending(&c->out) > 0 &&
           (c->state == GW_CONN_OPEN || c->state == GW_CONN_CLOSING ||
            c->state == GW_CONN_LINGER);
}

int gw_conn_in_request(const gw_conn *c)
{
    if (c->cfg->relay)
        return c->frame_started || c->x_active;
    return c->frame_started && (!c->answered || c->skipping);
}

void gw_conn_abort(gw_conn *c, gw_close_reason why)
{
    c->state = GW_CONN_CLOSED;
    c->reason = why;
}

/* Output went from empty to non-empty: the write clock starts now. */
static void output_added(gw_conn *c, size_t before, gw_time now)
{
    if (before == 0 && gw_buf_pending(&c->out) > 0)
        c->write_since = now;
}

/* Count an answered request and tell cfg->on_request about it. */
static void report_at(gw_conn *c, const gw_reply *r, size_t ctype_len,
                      uint64_t bytes_in, gw_time started, gw_time now)
{
    gw_request_info info;

    c->requests++;
    if (c->cfg->on_request == NULL)
        return;
    info.reply = r;
    info.content_type = c->ctype;
    info.content_type_len = ctype_len;
    info.bytes_in = bytes_in;
    info.started = started;
    info.finished = now;
    c->cfg->on_request(c->user, &info);
}

/* The frame in hand was answered. */
static void report(gw_conn *c, const gw_reply *r, uint64_t bytes_in,
                   gw_time now)
{
    report_at(c, r, c->have_header ? c->ctype_len : 0, bytes_in,
              c->frame_started ? c->frame_start : now, now);
}

/* A handler returned rc after appending r's frame to the output (output
 * held `before` bytes until then): account for it, or give up on the
 * connection when memory ran out. 1 when the frame was queued. */
static int queued(gw_conn *c, int rc, size_t before, const gw_reply *r,
                  uint64_t bytes_in, gw_time now)
{
    if (rc != 0) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return 0;
    }
    output_added(c, before, now);
    report(c, r, bytes_in, now);
    c->answered = 1;
    return 1;
}

/* Bytes of the current frame, for the access log. */
static uint64_t frame_bytes(const hf_header *h)
{
    return HF_PREFIX_LEN + (uint64_t)h->header_len + h->content_length;
}

/* The current frame is complete enough to answer: content holds all of
 * it (text/json) or its first bytes (other types). */
static void answer(gw_conn *c, const unsigned char *content, size_t len,
                   gw_time now)
{
    const hf_header *h = hf_decoder_header(&c->dec);
    size_t before = gw_buf_pending(&c->out);
    gw_reply r;
    int rc;

    if (h == NULL) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return;
    }
    rc = gw_handle_request(c->cfg->index, h, content, len, &c->out, &r);
    if (queued(c, rc, before, &r, frame_bytes(h), now) && c->stopping) {
        c->state = GW_CONN_CLOSING;
        c->reason = GW_CLOSE_SHUTDOWN;
    }
}

/* A well-formed request the gateway will not serve: one error frame; the
 * rest of the frame is skipped and the connection stays open. */
static void refuse(gw_conn *c, gw_req_status st, gw_time now)
{
    const hf_header *h = hf_decoder_header(&c->dec);
    size_t before = gw_buf_pending(&c->out);
    gw_reply r;
    int rc;

    rc = gw_handle_bad_request(st, &c->out, &r);
    if (queued(c, rc, before, &r, frame_bytes(h), now))
        c->skipping = c->content_len > 0;
}

/* The stream is broken: queue one error frame, then linger and close. */
static void frame_error(gw_conn *c, gw_conn_state_t next, gw_time now)
{
    const hf_error *err = hf_decoder_error(&c->dec);
    size_t before = gw_buf_pending(&c->out);
    gw_reply r;
    int rc;

    rc = gw_handle_frame_error(err, &c->out, &r);
    if (queued(c, rc, before, &r, err->frame_offset, now)) {
        c->state = next;
        c->reason = GW_CLOSE_FRAME_ERROR;
    }
}

static uint64_t max_json(const gw_conn_config *cfg)
{
    return cfg->max_json > 0 ? cfg->max_json : cfg->limits.max_content;
}

static void on_header(gw_conn *c, gw_time now)
{
    const hf_header *h = hf_decoder_header(&c->dec);
    size_t n;

    if (h == NULL) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return;
    }
    c->have_header = 1;
    c->content_len = h->content_length;
    c->content_got = 0;
    gw_buf_clear(&c->body);
    c->is_json = h->content_type.len == sizeof CT_JSON - 1 &&
                 memcmp(h->content_type.ptr, CT_JSON,
                        sizeof CT_JSON - 1) == 0;
    n = h->content_type.len < sizeof c->ctype ? h->content_type.len
                                               : sizeof c->ctype;
    memcpy(c->ctype, h->content_type.ptr, n);
    c->ctype_len = n;
    if (c->is_json && c->content_len > max_json(c->cfg))
        refuse(c, GW_REQ_E_TOO_LONG, now);
    else if (c->content_len == 0)
        answer(c, NULL, 0, now);
}

static void on_content(gw_conn *c, const unsigned char *data, size_t len,
                       gw_time now)
{
    size_t keep = len;
    size_t have;

    if (c->answered || !c->have_header)
        return;
    /* Whole content in this input: answer from the caller's bytes. */
    if (c->content_got == 0 && len == c->content_len) {
        c->content_got = len;
        answer(c, data, len, now);
        return;
    }
    if (!c->is_json) {
        have = gw_buf_pending(&c->body);
        keep = have >= GW_BINARY_QUOTE ? 0 : GW_BINARY_QUOTE - have;
        if (keep > len)
            keep = len;
    }
    if (gw_buf_append(&c->body, data, keep) != 0) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return;
    }
    c->content_got += len;
    if (c->content_got >= c->content_len)
        answer(c, gw_buf_peek(&c->body), gw_buf_pending(&c->body), now);
}

static void on_frame_end(gw_conn *c, gw_time now)
{
    if (!c->answered && c->have_header)
        answer(c, gw_buf_peek(&c->body), gw_buf_pending(&c->body), now);
    c->answered = 0;
    c->skipping = 0;
    c->frame_started = 0;
    c->have_header = 0;
    gw_buf_clear(&c->body);
}

/* ------------------------------------------------------------------ */
/* Relay mode (see gw_conn.h)                                          */
/* ------------------------------------------------------------------ */

/* Forget the upstream connection (the caller closes its socket). */
static void up_drop(gw_conn *c)
{
    c->up = GW_UP_NONE;
    c->up_pre_len = 0;
    c->up_pre_off = 0;
    hf_decoder_reset(&c->up_dec);
    gw_buf_clear(&c->up_stage);
}

/* Forget the connection and every byte meant for it. */
static void up_discard(gw_conn *c)
{
    up_drop(c);
    c->up_want = 0;
    gw_buf_clear(&c->up_out);
    c->up_sent = 0;
    c->up_replay = 0;
}

/* A request too big to keep whole for a replay: let sent bytes go. */
static void up_trim(gw_conn *c)
{
    if (c->up_replay && gw_buf_pending(&c->up_out) > c->cfg->max_output) {
        gw_buf_consume(&c->up_out, c->up_sent);
        c->up_sent = 0;
        c->up_replay = 0;
    }
}

/* The request being relayed was answered (its frame may be long gone
 * from the decoder). */
static void relay_report(gw_conn *c, const gw_reply *r, gw_time now)
{
    report_at(c, r, c->ctype_len, c->x_bytes_in, c->x_start, now);
}

/* The request is read and answered: read the next one. */
static void relay_finish(gw_conn *c, gw_time now)
{
    if (!c->x_active || !c->req_done || !c->resp_done)
        return;
    c->x_active = 0;
    gw_buf_consume(&c->up_out, c->up_sent);
    c->up_sent = 0;
    c->up_replay = 0;
    c->up_want = 0;
    c->last_active = now;
    if (c->state != GW_CONN_OPEN)
        return;
    if (c->peer_eof) {
        c->state = GW_CONN_CLOSING;
        c->reason = GW_CLOSE_PEER;
    } else if (c->stopping) {
        c->state = GW_CONN_CLOSING;
        c->reason = GW_CLOSE_SHUTDOWN;
    }
}

/* The request will get no answer from upstream: an error frame instead,
 * when the client's output stands between frames. */
static void relay_fail(gw_conn *c, gw_req_status st, gw_time now)
{
    size_t before = gw_buf_pending(&c->out);
    gw_reply r;

    up_discard(c);
    if (!c->x_active)
        return;
    if (!c->req_done)
        c->req_skip = 1;
    if (!c->resp_done && c->resp_started) {
        gw_conn_abort(c, GW_CLOSE_UPSTREAM);
        return;
    }
    if (!c->resp_done) {
        if (gw_handle_bad_request(st, &c->out, &r) != 0) {
            gw_conn_abort(c, GW_CLOSE_NOMEM);
            return;
        }
        output_added(c, before, now);
        relay_report(c, &r, now);
        c->resp_done = 1;
    }
    relay_finish(c, now);
}

/* The upstream connection ended (connect failed, reset, closed). */
static void relay_lost(gw_conn *c, gw_time now)
{
    int connecting = c->up == GW_UP_CONNECTING;

    if (c->up == GW_UP_NONE)
        return;
    if (!c->x_active || c->resp_done) {
        /* Nothing is waiting for an answer; unsent bytes of a request
         * already answered can only be dropped. */
        relay_fail(c, GW_REQ_OK, now);
        return;
    }
    if (!c->resp_started && c->up_got == 0 &&
        c->attempts + 1 < c->cfg->relay_attempts &&
        (connecting || c->up_replay)) {
        /* No answer byte yet, and the request is whole: again, on a new
         * connection (the caller picks the next upstream). */
        up_drop(c);
        c->attempts++;
        c->up_sent = 0;
        c->up_want = 1;
        c->up_since = now;
        return;
    }
    relay_fail(c, connecting ? GW_REQ_E_UP_UNAVAILABLE : GW_REQ_E_UP_FAILED,
               now);
}

static void relay_header(gw_conn *c, gw_time now)
{
    const hf_header *h = hf_decoder_header(&c->dec);
    size_t n;

    if (h == NULL) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return;
    }
    n = h->content_type.len < sizeof c->ctype ? h->content_type.len
                                               : sizeof c->ctype;
    memcpy(c->ctype, h->content_type.ptr, n);
    c->ctype_len = n;
    c->x_active = 1;
    c->req_done = 0;
    c->req_skip = 0;
    c->resp_started = 0;
    c->resp_done = 0;
    c->attempts = 0;
    c->up_got = 0;
    c->resp_bytes = 0;
    c->x_bytes_in = frame_bytes(h);
    c->x_start = c->frame_start;
    c->up_since = now;
    /* up_out is empty here (see gw_conn_want_read). */
    c->up_sent = 0;
    c->up_replay = 1;
    if (gw_buf_append(&c->up_out, gw_buf_peek(&c->stage),
                      gw_buf_pending(&c->stage)) != 0) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return;
    }
    gw_buf_clear(&c->stage);
    if (c->up == GW_UP_NONE)
        c->up_want = 1;
    up_trim(c);
}

static void relay_content(gw_conn *c, const unsigned char *data, size_t len)
{
    if (c->req_skip)
        return;
    if (gw_buf_append(&c->up_out, data, len) != 0) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return;
    }
    up_trim(c);
}

/* gw_conn_input in relay mode: the frame's prefix and header wait in
 * stage until the decoder accepts them, then go to up_out with the
 * content that follows. */
static size_t relay_input(gw_conn *c, const unsigned char *p, size_t len,
                          gw_time now)
{
    size_t off = 0;
    size_t n;
    int head;
    hf_event ev;

    /* Until no event is left: the end of a frame is reported by a push
     * after its last content byte, which must happen even when no more
     * bytes may be taken (backpressure), or nobody would ask again. */
    for (;;) {
        head = !c->x_active;
        n = hf_decoder_push(&c->dec, p + off,
                            gw_conn_want_read(c) ? len - off : 0, &ev);
        if (n > 0 && !c->frame_started) {
            c->frame_started = 1;
            c->frame_start = now;
        }
        if (head && n > 0 && ev.type != HF_EV_ERROR &&
            gw_buf_append(&c->stage, p + off, n) != 0) {
            gw_conn_abort(c, GW_CLOSE_NOMEM);
            return len;
        }
        off += n;
        switch (ev.type) {
        case HF_EV_NEED_MORE:
            return off;
        case HF_EV_HEADER:
            relay_header(c, now);
            break;
        case HF_EV_CONTENT:
            relay_content(c, ev.data, ev.len);
            break;
        case HF_EV_FRAME_END:
            c->req_done = 1;
            c->frame_started = 0;
            relay_finish(c, now);
            break;
        case HF_EV_ERROR:
            /* Only a header can be invalid, so nothing of this frame
             * went upstream and no answer is on its way. */
            gw_buf_clear(&c->stage);
            up_discard(c);
            frame_error(c, GW_CONN_LINGER, now);
            return len;
        }
        if (c->state != GW_CONN_OPEN)
            return len;
    }
}

int gw_conn_want_connect(const gw_conn *c)
{
    return c->cfg->relay && c->up_want && c->up == GW_UP_NONE &&
           c->state != GW_CONN_CLOSED && c->state != GW_CONN_DRAINING;
}

unsigned gw_conn_upstream_attempt(const gw_conn *c)
{
    return c->attempts;
}

gw_up_state gw_conn_upstream_state(const gw_conn *c)
{
    return c->up;
}

void gw_conn_set_addresses(gw_conn *c, const gw_proxy_info *addr)
{
    c->addr = *addr;
}

void gw_conn_upstream_connecting(gw_conn *c, gw_time now)
{
    c->up_pre_off = 0;
    c->up_pre_len = c->cfg->upstream_proxy
                        ? gw_proxy_write_v2(&c->addr, c->up_pre) : 0;
    c->up = GW_UP_CONNECTING;
    c->up_want = 0;
    c->up_since = now;
    hf_decoder_reset(&c->up_dec);
    gw_buf_clear(&c->up_stage);
}

void gw_conn_upstream_connected(gw_conn *c, gw_time now)
{
    if (c->up != GW_UP_CONNECTING)
        return;
    c->up = GW_UP_READY;
    c->up_since = now;
}

void gw_conn_upstream_error(gw_conn *c, gw_time now)
{
    relay_lost(c, now);
}

void gw_conn_upstream_eof(gw_conn *c, gw_time now)
{
    relay_lost(c, now);
}

int gw_conn_upstream_want_read(const gw_conn *c)
{
    return c->up == GW_UP_READY &&
           gw_buf_pending(&c->out) < c->cfg->max_output;
}

int gw_conn_upstream_want_write(const gw_conn *c)
{
    return c->up == GW_UP_READY && up_unsent(c) > 0;
}

const unsigned char *gw_conn_upstream_output(const gw_conn *c, size_t *len)
{
    *len = 0;
    if (c->up != GW_UP_READY)
        return NULL;
    if (c->up_pre_off < c->up_pre_len) {
        *len = c->up_pre_len - c->up_pre_off;
        return c->up_pre + c->up_pre_off;
    }
    *len = up_unsent(c);
    return *len == 0 ? NULL : gw_buf_peek(&c->up_out) + c->up_sent;
}

void gw_conn_upstream_done(gw_conn *c, size_t n, gw_time now)
{
    size_t pre = c->up_pre_len - c->up_pre_off;

    if (n > up_unsent(c))
        n = up_unsent(c);
    if (n == 0)
        return;
    c->up_since = now;
    if (pre > 0) {
        /* gw_conn_upstream_output gave the PROXY header alone. */
        c->up_pre_off += n < pre ? n : pre;
        return;
    }
    if (c->up_replay)
        c->up_sent += n;
    else
        gw_buf_consume(&c->up_out, n);
}

/* Answer bytes: the prefix and header wait in up_stage until valid. */
size_t gw_conn_upstream_input(gw_conn *c, const void *data, size_t len,
                              gw_time now)
{
    const unsigned char *p = data;
    size_t off = 0;
    size_t n, before;
    int head;
    hf_event ev;
    gw_reply r;

    if (c->up != GW_UP_READY || len == 0)
        return len;
    c->up_since = now;
    if (!c->x_active || c->resp_done) {
        /* Bytes nobody asked for: this upstream cannot be trusted. */
        relay_fail(c, GW_REQ_OK, now);
        return len;
    }
    /* As in relay_input: the last event may need a push of 0 bytes. */
    for (;;) {
        head = !c->resp_started;
        before = gw_buf_pending(&c->out);
        n = hf_decoder_push(&c->up_dec, p + off,
                            before < c->cfg->max_output ? len - off : 0,
                            &ev);
        if (head && n > 0 && ev.type != HF_EV_ERROR &&
            gw_buf_append(&c->up_stage, p + off, n) != 0) {
            gw_conn_abort(c, GW_CLOSE_NOMEM);
            return len;
        }
        off += n;
        c->up_got += n;
        switch (ev.type) {
        case HF_EV_NEED_MORE:
            return off;
        case HF_EV_HEADER:
            if (gw_buf_append(&c->out, gw_buf_peek(&c->up_stage),
                              gw_buf_pending(&c->up_stage)) != 0) {
                gw_conn_abort(c, GW_CLOSE_NOMEM);
                return len;
            }
            c->resp_bytes += gw_buf_pending(&c->up_stage);
            gw_buf_clear(&c->up_stage);
            c->resp_started = 1;
            output_added(c, before, now);
            break;
        case HF_EV_CONTENT:
            if (gw_buf_append(&c->out, ev.data, ev.len) != 0) {
                gw_conn_abort(c, GW_CLOSE_NOMEM);
                return len;
            }
            c->resp_bytes += ev.len;
            output_added(c, before, now);
            break;
        case HF_EV_FRAME_END:
            memset(&r, 0, sizeof r);
            r.kind = GW_KIND_RELAYED;
            r.status = "ok";
            r.frame_status = HF_OK;
            r.req_status = GW_REQ_OK;
            r.bytes_out = (size_t)c->resp_bytes;
            c->resp_done = 1;
            relay_report(c, &r, now);
            if (off < len)
                relay_fail(c, GW_REQ_OK, now);  /* more than one answer */
            else
                relay_finish(c, now);
            return len;
        case HF_EV_ERROR:
            relay_fail(c, GW_REQ_E_UP_BAD_FRAME, now);
            return len;
        }
        if (c->state == GW_CONN_CLOSED)
            return len;
    }
}

/* Relay: the upstream is what the connection waits for (not while the
 * answer waits for the client to read: the write timeout covers that). */
static int relay_up_timed(const gw_conn *c)
{
    if (!c->cfg->relay || c->up == GW_UP_NONE)
        return 0;
    return c->up == GW_UP_CONNECTING || up_unsent(c) > 0 ||
           (c->x_active && c->req_done && !c->resp_done &&
            gw_buf_pending(&c->out) < c->cfg->max_output);
}

/* ------------------------------------------------------------------ */
/* PROXY protocol header                                               */
/* ------------------------------------------------------------------ */

/* Gather the header in stage (it is never longer than GW_PROXY_MAX);
 * returns the bytes of data that belong to it. */
static size_t proxy_input(gw_conn *c, const unsigned char *p, size_t len,
                          gw_time now)
{
    size_t have = gw_buf_pending(&c->stage);
    size_t take = len < GW_PROXY_MAX - have ? len : GW_PROXY_MAX - have;
    size_t before = gw_buf_pending(&c->out);
    gw_proxy_info info;
    gw_proxy_status st;
    gw_reply r;

    if (take > 0 && !c->frame_started) {
        c->frame_started = 1;
        c->frame_start = now;
    }
    if (gw_buf_append(&c->stage, p, take) != 0) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return len;
    }
    st = gw_proxy_parse(gw_buf_peek(&c->stage), gw_buf_pending(&c->stage),
                        &info);
    if (st == GW_PROXY_NEED_MORE)
        return take;
    gw_buf_clear(&c->stage);
    c->frame_started = 0;
    if (st == GW_PROXY_OK) {
        c->proxy_done = 1;
        if (info.family != AF_UNSPEC)
            c->addr = info;
        if (c->cfg->on_proxy != NULL)
            c->cfg->on_proxy(c->user, &info);
        return info.len - have;
    }
    if (gw_handle_bad_request(GW_REQ_E_PROXY, &c->out, &r) != 0) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return len;
    }
    output_added(c, before, now);
    report(c, &r, have + take, now);
    c->state = GW_CONN_LINGER;
    c->reason = GW_CLOSE_FRAME_ERROR;
    return len;
}

size_t gw_conn_input(gw_conn *c, const void *data, size_t len, gw_time now)
{
    const unsigned char *p = data;
    size_t off = 0;
    size_t n;
    hf_event ev;

    if (c->state != GW_CONN_OPEN)
        return len;
    if (len > 0)
        c->last_active = now;
    if (c->cfg->proxy_protocol && !c->proxy_done) {
        off = proxy_input(c, p, len, now);
        if (c->state != GW_CONN_OPEN || !c->proxy_done)
            return len;
        return off + gw_conn_input(c, p + off, len - off, now);
    }
    if (c->cfg->relay)
        return relay_input(c, p, len, now);
    while (off < len && gw_conn_want_read(c)) {
        n = hf_decoder_push(&c->dec, p + off, len - off, &ev);
        off += n;
        if (n > 0 && !c->frame_started && !c->answered) {
            c->frame_started = 1;
            c->frame_start = now;
        }
        switch (ev.type) {
        case HF_EV_NEED_MORE:
            if (n == 0)
                return len;     /* cannot happen; never spin */
            break;
        case HF_EV_HEADER:
            on_header(c, now);
            break;
        case HF_EV_CONTENT:
            on_content(c, ev.data, ev.len, now);
            break;
        case HF_EV_FRAME_END:
            on_frame_end(c, now);
            break;
        case HF_EV_ERROR:
            frame_error(c, GW_CONN_LINGER, now);
            return len;
        }
        if (c->state != GW_CONN_OPEN)
            return len;
    }
    return off;
}

void gw_conn_eof(gw_conn *c, gw_time now)
{
    switch (c->state) {
    case GW_CONN_OPEN:
        if (c->cfg->relay && c->frame_started) {
            /* Part of the request may have gone upstream: that
             * connection is of no further use. */
            if (c->resp_started && !c->resp_done) {
                gw_conn_abort(c, GW_CLOSE_PEER);
                return;
            }
            up_discard(c);
            c->x_active = 0;
        } else if (c->cfg->relay && c->x_active) {
            c->peer_eof = 1;    /* the answer is still on its way */
            return;
        }
        if (gw_conn_in_request(c) && hf_decoder_finish(&c->dec) != HF_OK) {
            /* The client can still read: tell it what went wrong. */
            frame_error(c, GW_CONN_CLOSING, now);
            return;
        }
        c->state = GW_CONN_CLOSING;
        c->reason = GW_CLOSE_PEER;
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
}

const unsigned char *gw_conn_output(const gw_conn *c, size_t *len)
{
    *len = gw_buf_pending(&c->out);
    return *len == 0 ? NULL : gw_buf_peek(&c->out);
}

void gw_conn_output_done(gw_conn *c, size_t n, gw_time now)
{
    size_t pending = gw_buf_pending(&c->out);

    if (n > pending)
        n = pending;
    gw_buf_consume(&c->out, n);
    /* Relay: reading the upstream resumes; its clock starts again. */
    if (pending >= c->cfg->max_output &&
        gw_buf_pending(&c->out) < c->cfg->max_output)
        c->up_since = now;
    if (n > 0)
        c->write_since = now;
    if (gw_buf_pending(&c->out) == 0)
        c->last_active = now;
}

gw_time gw_conn_deadline(const gw_conn *c)
{
    const gw_conn_config *cfg = c->cfg;
    size_t pending = gw_buf_pending(&c->out);
    gw_time d = GW_TIME_NEVER;

    if (c->state == GW_CONN_CLOSED)
        return GW_TIME_NEVER;
    if (c->state == GW_CONN_DRAINING)
        return c->drain_until;
    if (pending > 0 && cfg->write_timeout > 0)
        d = min_time(d, add_time(c->write_since, cfg->write_timeout));
    if (c->state != GW_CONN_OPEN)
        return d;
    if (relay_up_timed(c) && cfg->upstream_timeout > 0)
        d = min_time(d, add_time(c->up_since, cfg->upstream_timeout));
    if (gw_conn_in_request(c)) {
        if (cfg->request_timeout > 0 && gw_conn_want_read(c))
            d = min_time(d, add_time(c->frame_start, cfg->request_timeout));
    } else if (pending == 0 && cfg->idle_timeout > 0) {
        d = min_time(d, add_time(c->last_active, cfg->idle_timeout));
    }
    return d;
}

gw_conn_state_t gw_conn_tick(gw_conn *c, gw_time now)
{
    const gw_conn_config *cfg = c->cfg;
    size_t pending = gw_buf_pending(&c->out);

    if (c->state == GW_CONN_CLOSED)
        return c->state;
    if (c->state == GW_CONN_DRAINING) {
        if (now >= c->drain_until)
            c->state = GW_CONN_CLOSED;
        return c->state;
    }
    if (pending > 0 && cfg->write_timeout > 0 &&
        now >= add_time(c->write_since, cfg->write_timeout)) {
        gw_conn_abort(c, GW_CLOSE_WRITE_TIMEOUT);
        return c->state;
    }
    if (c->state != GW_CONN_OPEN)
        return c->state;
    if (relay_up_timed(c) && cfg->upstream_timeout > 0 &&
        now >= add_time(c->up_since, cfg->upstream_timeout)) {
        relay_fail(c, GW_REQ_E_UP_TIMEOUT, now);
        if (c->state != GW_CONN_OPEN)
            return c->state;
    }
    if (gw_conn_in_request(c)) {
        if (cfg->request_timeout > 0 && gw_conn_want_read(c) &&
            now >= add_time(c->frame_start, cfg->request_timeout))
            gw_conn_abort(c, GW_CLOSE_REQUEST_TIMEOUT);
    } else if (pending == 0 && cfg->idle_timeout > 0 &&
               now >= add_time(c->last_active, cfg->idle_timeout)) {
        gw_conn_abort(c, GW_CLOSE_IDLE_TIMEOUT);
    }
    return c->state;
}

void gw_conn_drain(gw_conn *c, gw_time now)
{
    if (c->state == GW_CONN_CLOSED)
        return;
    if (c->cfg->drain_timeout <= 0) {
        c->state = GW_CONN_CLOSED;
        return;
    }
    c->state = GW_CONN_DRAINING;
    c->drain_until = add_time(now, c->cfg->drain_timeout);
}

void gw_conn_shutdown(gw_conn *c, gw_time now)
{
    (void)now;
    c->stopping = 1;
    if (c->state == GW_CONN_OPEN && !gw_conn_in_request(c)) {
        c->state = GW_CONN_CLOSING;
        c->reason = GW_CLOSE_SHUTDOWN;
    }
}
