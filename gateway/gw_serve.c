/* gw_serve.c - serve mode of a connection: each request frame is
 * answered by the handlers (gw_handler.h), one answer per request, in
 * order. Content that arrives whole in one input is answered from the
 * caller's bytes; content split across inputs is gathered in the body
 * buffer (text/json: up to max_json; other types: the bytes quoted). */
#include "gw_conn_core.h"

#include <string.h>

#define CT_JSON "text/json"

/* The current frame is complete enough to answer: content holds all of
 * it (text/json) or its first bytes (other types). */
static void answer(gw_conn *c, const unsigned char *content, size_t len,
                   gw_time now)
{
    const hf_header *h = hf_decoder_header(c->client.dec);
    gw_reply r;
    int rc;

    if (h == NULL) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return;
    }
    rc = gw_handle_request(c->cfg->index, h, content, len, &c->client.out,
                           &r);
    if (gw_conn_answered(c, rc, &r, gw_frame_bytes(h), now) && c->stopping)
        gw_conn_close_after(c, GW_CLOSE_SHUTDOWN);
}

/* A well-formed request the gateway will not serve: one error frame; the
 * rest of the frame is skipped and the connection stays open. */
static void refuse(gw_conn *c, gw_req_status st, gw_time now)
{
    const hf_header *h = hf_decoder_header(c->client.dec);
    gw_reply r;
    int rc;

    rc = gw_handle_bad_request(st, &c->client.out, &r);
    if (gw_conn_answered(c, rc, &r, gw_frame_bytes(h), now))
        c->skipping = c->content_len > 0;
}

static void on_header(gw_conn *c, gw_time now)
{
    const hf_header *h = hf_decoder_header(c->client.dec);

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
    gw_keep_type(c->ctype, &c->ctype_len, h);
    if (c->is_json && c->content_len > gw_conn_max_json(c->cfg))
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

size_t gw_serve_input(gw_conn *c, const unsigned char *p, size_t len,
                          gw_time now)
{
    size_t off = 0, n;
    hf_decoder *d = c->client.dec;
    hf_event ev;

    if (d == NULL && len > 0 && (d = gw_side_decoder(&c->client)) == NULL) {
        gw_conn_abort(c, GW_CLOSE_NOMEM);
        return len;
    }
    if (d == NULL)
        return 0;
    /* Until no event is left: a frame's end is reported by a push after
     * its last content byte, even when no more bytes may be taken. */
    for (;;) {
        n = hf_decoder_push(d, p + off,
                            gw_conn_takes_client(c) ? len - off : 0, &ev);
        off += n;
        if (n > 0 && !c->answered)
            gw_conn_frame_begins(c, now);
        switch (ev.type) {
        case HF_EV_NEED_MORE:
            return off;
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
            gw_conn_frame_error(c, GW_CONN_LINGER, now);
            return len;
        }
        if (c->state != GW_CONN_OPEN)
            return len;
    }
}
