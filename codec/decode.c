/*
 * decode.c - the streaming frame decoder (a push state machine) and the
 * one-shot decoder built on it.
 *
 * States, in frame order:
 *   ST_PREFIX   gathering the 2-byte header length
 *   ST_HEADER   gathering N header bytes, parsed once when complete
 *   ST_CONTENT  handing out content slices that point into the input
 *   ST_END      content complete; HF_EV_FRAME_END still to report
 *   ST_ERROR    sticky until hf_decoder_reset
 * Each byte is looked at a bounded number of times: a header split over
 * many pushes is copied once into hbuf; a header that arrives whole is
 * parsed where it lies, then copied to hbuf. A header byte for byte the
 * same as the last one parsed (a client sends the same header again and
 * again) is not parsed again: header and arena still hold the result,
 * which depends on nothing else (the limits stay as they are).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

enum {
    ST_PREFIX = 0,
    ST_HEADER,
    ST_CONTENT,
    ST_END,
    ST_ERROR
};

void hf_set_error(hf_decoder *d, hf_status code, uint64_t frame_off,
                  const char *fmt, ...)
{
    va_list ap;

    d->error.code = code;
    d->error.frame_offset = frame_off;
    d->error.offset = d->frame_start + frame_off;
    va_start(ap, fmt);
    vsnprintf(d->error.detail, sizeof d->error.detail, fmt, ap);
    va_end(ap);
    d->state = ST_ERROR;
}

static void clear_frame(hf_decoder *d)
{
    d->header_len = 0;
    d->have = 0;
    d->content_left = 0;
    d->arena_len = 0;
    d->header_valid = 0;
}

hf_status hf_decoder_init(hf_decoder *d, const hf_limits *lim)
{
    hf_status st = HF_OK;

    if (d == NULL)
        return HF_E_INVALID_ARGUMENT;
    memset(d, 0, sizeof *d);
    hf_limits_default(&d->lim);
    if (lim != NULL) {
        st = hf_limits_check(lim);
        if (st == HF_OK)
            d->lim = *lim;
    }
    d->state = ST_PREFIX;
    return st;
}

void hf_decoder_free(hf_decoder *d)
{
    if (d == NULL)
        return;
    hf_free(&d->lim, d->hbuf);
    hf_free(&d->lim, d->arena);
    d->same_len = 0;
    d->hbuf = NULL;
    d->arena = NULL;
    d->hbuf_cap = 0;
    d->arena_cap = 0;
    d->arena_len = 0;
}

void hf_decoder_reset(hf_decoder *d)
{
    if (d == NULL)
        return;
    clear_frame(d);
    d->state = ST_PREFIX;
    d->stream_pos = 0;
    d->frame_start = 0;
    d->frames = 0;
    memset(&d->error, 0, sizeof d->error);
}

/* The prefix is complete: check N against the limits before buffering. */
static int start_header(hf_decoder *d)
{
    d->header_len = ((size_t)d->prefix[0] << 8) | d->prefix[1];
    d->have = 0;
    if (d->header_len < HF_HEADER_MIN) {
        hf_set_error(d, HF_E_HEADER_TOO_SHORT, 0, "header length %zu is "
                     "below the minimum of %d", d->header_len,
                     HF_HEADER_MIN);
        return 0;
    }
    if (d->header_len > d->lim.max_header) {
        hf_set_error(d, HF_E_HEADER_TOO_LONG, 0, "header length %zu "
                     "exceeds the limit of %zu", d->header_len,
                     d->lim.max_header);
        return 0;
    }
    d->state = ST_HEADER;
    return 1;
}

static size_t push_prefix(hf_decoder *d, const unsigned char *p, size_t n)
{
    size_t take = HF_PREFIX_LEN - d->have;

    if (take > n)
        take = n;
    memcpy(d->prefix + d->have, p, take);
    d->have += take;
    if (d->have == HF_PREFIX_LEN)
        start_header(d);
    return take;
}

/* A header just parsed from json[0..len) is kept in hbuf for the next
 * frame to compare with; when hbuf cannot grow, it is not kept. */
static void keep_header(hf_decoder *d, const unsigned char *json,
                        size_t len)
{
    unsigned char *p;

    if (json != d->hbuf) {
        if (d->hbuf_cap < len) {
            p = hf_realloc(&d->lim, d->hbuf, len);
            if (p == NULL)
                return;
            d->hbuf = p;
            d->hbuf_cap = len;
        }
        memcpy(d->hbuf, json, len);
    }
    d->same_len = len;
    d->same_arena_len = d->arena_len;
}

static int same_header(const hf_decoder *d, const unsigned char *json)
{
    return d->same_len == d->header_len && json != d->hbuf &&
           memcmp(json, d->hbuf, d->header_len) == 0;
}

/* The header is complete in json[0..header_len): parse it, unless it is
 * the last one parsed again. */
static void finish_header(hf_decoder *d, const unsigned char *json)
{
    if (same_header(d, json)) {
        d->arena_len = d->same_arena_len;
    } else {
        if (hf_header_parse(d, json, d->header_len, HF_PREFIX_LEN) != HF_OK)
            return;
        keep_header(d, json, d->header_len);
    }
    d->header_valid = 1;
    d->content_left = d->header.content_length;
    d->state = d->content_left > 0 ? ST_CONTENT : ST_END;
}

static int grow_hbuf(hf_decoder *d, size_t need)
{
    unsigned char *p;

    if (d->hbuf_cap >= need)
        return 1;
    p = hf_realloc(&d->lim, d->hbuf, need);
    if (p == NULL) {
        hf_set_error(d, HF_E_NOMEM, HF_PREFIX_LEN, "no memory to buffer "
                     "a %zu-byte header", need);
        return 0;
    }
    d->hbuf = p;
    d->hbuf_cap = need;
    return 1;
}

static size_t push_header(hf_decoder *d, const unsigned char *p, size_t n)
{
    size_t take;

    if (d->have == 0 && n >= d->header_len) {
        finish_header(d, p);
        return d->header_len;
    }
    /* Split: hbuf gathers this header in place of the last one. */
    d->same_len = 0;
    if (!grow_hbuf(d, d->header_len))
        return 0;
    take = d->header_len - d->have;
    if (take > n)
        take = n;
    memcpy(d->hbuf + d->have, p, take);
    d->have += take;
    if (d->have == d->header_len)
        finish_header(d, d->hbuf);
    return take;
}

static size_t consumed(hf_decoder *d, size_t n)
{
    d->stream_pos += n;
    return n;
}

size_t hf_decoder_push(hf_decoder *d, const void *data, size_t len,
                       hf_event *ev)
{
    const unsigned char *p = data;
    size_t off = 0, take;

    if (ev == NULL)
        return 0;
    memset(ev, 0, sizeof *ev);
    if (d == NULL) {
        ev->type = HF_EV_ERROR;
        return 0;
    }
    if (data == NULL && len > 0 && d->state != ST_ERROR) {
        hf_set_error(d, HF_E_INVALID_ARGUMENT, d->stream_pos - d->frame_start,
                     "%zu bytes pushed from a NULL pointer", len);
        d->state = ST_ERROR;
    }
    if (d->state == ST_ERROR) {
        ev->type = HF_EV_ERROR;
        return 0;
    }
    if (d->state == ST_END) {
        d->state = ST_PREFIX;
        d->frames++;
        d->frame_start = d->stream_pos;
        d->have = 0;
        ev->type = HF_EV_FRAME_END;
        return 0;
    }
    if (d->state == ST_PREFIX && d->have == 0 && d->header_valid)
        clear_frame(d);
    while (off < len && (d->state == ST_PREFIX || d->state == ST_HEADER)) {
        if (d->state == ST_PREFIX)
            off += push_prefix(d, p + off, len - off);
        else
            off += push_header(d, p + off, len - off);
        if (d->state == ST_ERROR) {
            ev->type = HF_EV_ERROR;
            return consumed(d, off);
        }
        if (d->header_valid) {
            ev->type = HF_EV_HEADER;
            return consumed(d, off);
        }
    }
    if (d->state != ST_CONTENT || off == len) {
        ev->type = HF_EV_NEED_MORE;
        return consumed(d, off);
    }
    take = len - off;
    if ((uint64_t)take > d->content_left)
        take = (size_t)d->content_left;
    d->content_left -= take;
    if (d->content_left == 0)
        d->state = ST_END;
    ev->type = HF_EV_CONTENT;
    ev->data = p + off;
    ev->len = take;
    return consumed(d, off + take);
}

static const char *bytes_word(uint64_t n)
{
    return n == 1 ? "byte" : "bytes";
}

hf_status hf_decoder_finish(hf_decoder *d)
{
    uint64_t into, got;

    if (d == NULL)
        return HF_E_INVALID_ARGUMENT;
    into = d->stream_pos - d->frame_start;
    switch (d->state) {
    case ST_ERROR:
        return d->error.code;
    case ST_END:
        d->state = ST_PREFIX;
        d->frames++;
        d->frame_start = d->stream_pos;
        d->have = 0;
        return HF_OK;
    case ST_PREFIX:
        if (d->have == 0)
            return HF_OK;
        hf_set_error(d, HF_E_TRUNCATED, into, "stream ended %zu byte into "
                     "the 2-byte length prefix", d->have);
        return HF_E_TRUNCATED;
    case ST_HEADER:
        hf_set_error(d, HF_E_TRUNCATED, into, "stream ended %zu %s into "
                     "a %zu-byte header", d->have, bytes_word(d->have),
                     d->header_len);
        return HF_E_TRUNCATED;
    default:
        got = d->header.content_length - d->content_left;
        hf_set_error(d, HF_E_TRUNCATED, into, "stream ended %llu %s into "
                     "a %llu-byte content", (unsigned long long)got,
                     bytes_word(got),
                     (unsigned long long)d->header.content_length);
        return HF_E_TRUNCATED;
    }
}

const hf_header *hf_decoder_header(const hf_decoder *d)
{
    return d != NULL && d->header_valid ? &d->header : NULL;
}

const hf_error *hf_decoder_error(const hf_decoder *d)
{
    return d != NULL ? &d->error : NULL;
}

uint64_t hf_decoder_offset(const hf_decoder *d)
{
    return d != NULL ? d->stream_pos : 0;
}

uint64_t hf_decoder_frames(const hf_decoder *d)
{
    return d != NULL ? d->frames : 0;
}

int hf_decoder_in_frame(const hf_decoder *d)
{
    return d != NULL &&
           (d->stream_pos != d->frame_start || d->state == ST_END);
}

/* Bytes from the frame's start needed before the decoder can move on. */
static size_t bytes_needed(const hf_decoder *d)
{
    uint64_t need;

    if (d->state == ST_PREFIX)
        return HF_PREFIX_LEN;
    need = HF_PREFIX_LEN + (uint64_t)d->header_len;
    if (d->state == ST_CONTENT)
        need += d->header.content_length;
    return need > SIZE_MAX ? SIZE_MAX : (size_t)need;
}

hf_status hf_decode(hf_decoder *d, const void *buf, size_t len,
                    hf_frame *out)
{
    const unsigned char *p = buf;
    size_t off = 0;
    hf_event ev;

    if (out == NULL)
        return HF_E_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (d == NULL || (buf == NULL && len > 0))
        return HF_E_INVALID_ARGUMENT;
    if (p == NULL)
        p = (const unsigned char *)"";
    hf_decoder_reset(d);
    for (;;) {
        off += hf_decoder_push(d, p + off, len - off, &ev);
        switch (ev.type) {
        case HF_EV_HEADER:
            out->header = &d->header;
            out->content = p + off;
            break;
        case HF_EV_CONTENT:
            out->content_len += ev.len;
            break;
        case HF_EV_FRAME_END:
            out->frame_len = off;
            return HF_OK;
        case HF_EV_ERROR:
            out->header = NULL;
            return d->error.code;
        default:
            out->need = bytes_needed(d);
            out->header = NULL;
            out->content = NULL;
            out->content_len = 0;
            return HF_NEED_MORE;
        }
    }
}

hf_status hf_parse_header(hf_decoder *d, const void *json, size_t len)
{
    hf_status st;

    if (d == NULL || (json == NULL && len > 0))
        return HF_E_INVALID_ARGUMENT;
    hf_decoder_reset(d);
    if (len < HF_HEADER_MIN) {
        hf_set_error(d, HF_E_HEADER_TOO_SHORT, 0, "header length %zu is "
                     "below the minimum of %d", len, HF_HEADER_MIN);
        return HF_E_HEADER_TOO_SHORT;
    }
    if (len > d->lim.max_header) {
        hf_set_error(d, HF_E_HEADER_TOO_LONG, 0, "header length %zu "
                     "exceeds the limit of %zu", len, d->lim.max_header);
        return HF_E_HEADER_TOO_LONG;
    }
    st = hf_header_parse(d, json, len, HF_PREFIX_LEN);
    if (st == HF_OK)
        d->header_valid = 1;
    else
        d->state = ST_ERROR;
    return st;
}
