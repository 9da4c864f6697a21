/* gw_side.c - one side of a connection (see gw_side.h). */
#include "gw_side.h"

#include <stdlib.h>
#include <string.h>

int gw_side_init(gw_side *s, const hf_limits *lim)
{
    memset(s, 0, sizeof *s);
    s->lim = lim;
    gw_buf_init(&s->in);
    gw_buf_init(&s->stage);
    gw_buf_init(&s->out);
    return hf_limits_check(lim) == HF_OK ? 0 : -1;
}

static void drop_decoder(gw_side *s)
{
    if (s->dec == NULL)
        return;
    hf_decoder_free(s->dec);
    free(s->dec);
    s->dec = NULL;
}

void gw_side_free(gw_side *s)
{
    drop_decoder(s);
    gw_buf_free(&s->in);
    gw_buf_free(&s->stage);
    gw_buf_free(&s->out);
}

hf_decoder *gw_side_decoder(gw_side *s)
{
    if (s->dec != NULL)
        return s->dec;
    s->dec = malloc(sizeof *s->dec);
    if (s->dec == NULL)
        return NULL;
    if (hf_decoder_init(s->dec, s->lim) != HF_OK) {
        free(s->dec);
        s->dec = NULL;
    }
    return s->dec;
}

static void trim_buf(gw_buf *b)
{
    if (gw_buf_pending(b) == 0)
        gw_buf_free(b);
}

void gw_side_trim(gw_side *s)
{
    if (s->dec != NULL && !hf_decoder_in_frame(s->dec))
        drop_decoder(s);
    trim_buf(&s->in);
    trim_buf(&s->stage);
    trim_buf(&s->out);
}

size_t gw_side_buffered(const gw_side *s)
{
    return (s->dec != NULL ? sizeof *s->dec : 0) + s->in.cap +
           s->stage.cap + s->out.cap;
}

size_t gw_side_unsent(const gw_side *s)
{
    return gw_buf_pending(&s->out);
}

const unsigned char *gw_side_output(const gw_side *s, size_t *len)
{
    *len = gw_buf_pending(&s->out);
    return *len == 0 ? NULL : gw_buf_peek(&s->out);
}

void gw_side_sent(gw_side *s, size_t n)
{
    size_t body = gw_buf_pending(&s->out);

    if (n > body)
        n = body;
    s->bytes_out += n;
    gw_buf_consume(&s->out, n);
}
