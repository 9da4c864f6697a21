/* gw_side.c - one side of a connection (see gw_side.h). */
#include "gw_side.h"

#include <string.h>

int gw_side_init(gw_side *s, const hf_limits *lim)
{
    memset(s, 0, sizeof *s);
    gw_buf_init(&s->in);
    gw_buf_init(&s->stage);
    gw_buf_init(&s->out);
    if (hf_decoder_init(&s->dec, lim) != HF_OK) {
        hf_decoder_free(&s->dec);
        return -1;
    }
    return 0;
}

void gw_side_free(gw_side *s)
{
    hf_decoder_free(&s->dec);
    gw_buf_free(&s->in);
    gw_buf_free(&s->stage);
    gw_buf_free(&s->out);
}

size_t gw_side_unsent(const gw_side *s)
{
    return (s->pre_len - s->pre_off) + (gw_buf_pending(&s->out) - s->kept);
}

const unsigned char *gw_side_output(const gw_side *s, size_t *len)
{
    if (s->pre_off < s->pre_len) {
        *len = s->pre_len - s->pre_off;
        return s->pre + s->pre_off;
    }
    *len = gw_buf_pending(&s->out) - s->kept;
    return *len == 0 ? NULL : gw_buf_peek(&s->out) + s->kept;
}

void gw_side_sent(gw_side *s, size_t n)
{
    size_t pre = s->pre_len - s->pre_off;
    size_t body = gw_buf_pending(&s->out) - s->kept;

    if (pre > 0) {
        /* gw_side_output gave the preamble alone. */
        s->pre_off += n < pre ? n : pre;
        s->bytes_out += n < pre ? n : pre;
        return;
    }
    if (n > body)
        n = body;
    s->bytes_out += n;
    if (s->keep)
        s->kept += n;
    else
        gw_buf_consume(&s->out, n);
}

void gw_side_rewind(gw_side *s, const unsigned char *pre, size_t len)
{
    if (len > sizeof s->pre)
        len = sizeof s->pre;
    if (len > 0)
        memcpy(s->pre, pre, len);
    s->pre_len = len;
    s->pre_off = 0;
    s->kept = 0;
}

void gw_side_release(gw_side *s)
{
    gw_buf_consume(&s->out, s->kept);
    s->kept = 0;
    s->keep = 0;
}

void gw_side_reset(gw_side *s)
{
    hf_decoder_reset(&s->dec);
    gw_buf_clear(&s->in);
    gw_buf_clear(&s->stage);
    gw_buf_clear(&s->out);
    s->kept = 0;
    s->keep = 0;
    s->pre_len = 0;
    s->pre_off = 0;
}
