/* gw_memio.c - gw_drive's functions over memory (see gw_memio.h). */
#include "gw_memio.h"

#include <string.h>

static size_t smaller(size_t a, size_t b)
{
    return a < b ? a : b;
}

static long mem_read(void *ctx, gw_end e, void *buf, size_t cap)
{
    gw_memio *m = ctx;
    gw_memio_peer *p = &m->peer[e];
    size_t n = smaller(gw_buf_pending(&p->queue), p->readable);

    if (p->fail) {
        p->fail = 0;
        m->moves++;
        return GW_IO_ERROR;
    }
    if (n == 0) {
        if (gw_buf_pending(&p->queue) == 0 && p->eof) {
            m->moves++;
            return 0;
        }
        return GW_IO_AGAIN;
    }
    n = smaller(n, cap);
    if (p->read_max > 0)
        n = smaller(n, p->read_max);
    memcpy(buf, gw_buf_peek(&p->queue), n);
    gw_buf_consume(&p->queue, n);
    if (p->readable != SIZE_MAX)
        p->readable -= n;
    m->moves++;
    if (m->on_io != NULL)
        m->on_io(m->user, e, 0, n);
    return (long)n;
}

static long mem_write(void *ctx, gw_end e, const void *buf, size_t len)
{
    gw_memio *m = ctx;
    gw_memio_peer *p = &m->peer[e];
    size_t n = smaller(len, p->budget), keep;

    if (p->fail) {
        p->fail = 0;
        m->moves++;
        return GW_IO_ERROR;
    }
    if (p->write_max > 0)
        n = smaller(n, p->write_max);
    if (n == 0)
        return GW_IO_AGAIN;
    keep = n;
    if (p->sink_max > 0)
        keep = smaller(n, p->sink_max > gw_buf_pending(&p->sink)
                              ? p->sink_max - gw_buf_pending(&p->sink) : 0);
    if (keep > 0 && gw_buf_append(&p->sink, buf, keep) != 0)
        return GW_IO_ERROR;
    p->received += n;
    if (p->budget != SIZE_MAX)
        p->budget -= n;
    m->moves++;
    if (m->on_io != NULL)
        m->on_io(m->user, e, 1, n);
    return (long)n;
}

/* The upstream peer of a connection that is gone forgets its bytes. */
static void up_gone(gw_memio *m)
{
    gw_memio_peer *p = &m->peer[GW_UPSTREAM];

    gw_buf_clear(&p->queue);
    p->eof = 0;
    p->fail = 0;
}

static int mem_connect(void *ctx, unsigned attempt)
{
    gw_memio *m = ctx;

    m->connects++;
    m->last_attempt = attempt;
    m->moves++;
    up_gone(m);
    if (m->on_connect != NULL)
        m->on_connect(m->user, attempt);
    m->up_open = m->connect_result != GW_IO_ERROR;
    m->up_connected = m->connect_result == 1;
    return m->connect_result;
}

static int mem_connect_done(void *ctx)
{
    gw_memio *m = ctx;

    /* A failed connect still holds its socket until it is closed. */
    if (m->connect_done_result != 0)
        m->moves++;
    m->up_connected = m->connect_done_result == 1;
    return m->connect_done_result;
}

static void mem_close_up(void *ctx)
{
    gw_memio *m = ctx;

    m->moves++;
    if (!m->up_open)
        return;
    m->up_open = 0;
    m->closes++;
    if (m->on_close != NULL)
        m->on_close(m->user);
    up_gone(m);
}

static void mem_shut(void *ctx)
{
    gw_memio *m = ctx;

    m->moves++;
    m->peer[GW_CLIENT].shut = 1;
}

void gw_memio_init(gw_memio *m)
{
    int e;

    memset(m, 0, sizeof *m);
    for (e = 0; e < 2; e++) {
        gw_buf_init(&m->peer[e].queue);
        gw_buf_init(&m->peer[e].sink);
        m->peer[e].readable = SIZE_MAX;
        m->peer[e].budget = SIZE_MAX;
    }
    m->connect_result = 1;
    m->connect_done_result = 1;
    m->io.read = mem_read;
    m->io.write = mem_write;
    m->io.connect = mem_connect;
    m->io.connect_done = mem_connect_done;
    m->io.close_up = mem_close_up;
    m->io.shut = mem_shut;
    m->io.ctx = m;
    m->io.buf = m->buf;
    m->io.buf_len = sizeof m->buf;
}

void gw_memio_free(gw_memio *m)
{
    int e;

    for (e = 0; e < 2; e++) {
        gw_buf_free(&m->peer[e].queue);
        gw_buf_free(&m->peer[e].sink);
    }
}

int gw_memio_send(gw_memio *m, gw_end e, const void *p, size_t n)
{
    return gw_buf_append(&m->peer[e].queue, p, n);
}

const unsigned char *gw_memio_sink(const gw_memio *m, gw_end e,
                                   size_t *len)
{
    *len = gw_buf_pending(&m->peer[e].sink);
    return gw_buf_peek(&m->peer[e].sink);
}

void gw_memio_take(gw_memio *m, gw_end e)
{
    gw_buf_clear(&m->peer[e].sink);
}

/* What a poller would report now. */
static unsigned readiness(const gw_memio *m, gw_end e)
{
    const gw_memio_peer *p = &m->peer[e];
    unsigned r = 0;

    if (e == GW_UPSTREAM && !m->up_open)
        return 0;
    if (p->fail || p->eof ||
        (gw_buf_pending(&p->queue) > 0 && p->readable > 0))
        r |= e == GW_CLIENT ? GW_READY_CLIENT_IN : GW_READY_UP_IN;
    if (p->fail || p->budget > 0 || e == GW_UPSTREAM)
        r |= e == GW_CLIENT ? GW_READY_CLIENT_OUT : GW_READY_UP_OUT;
    return r;
}

unsigned gw_memio_settle(gw_memio *m, gw_conn *c, gw_time now, int rounds)
{
    unsigned want = gw_conn_poll(c, NULL);
    uint64_t before;
    int i;

    for (i = 0; i < rounds; i++) {
        before = m->moves;
        want = gw_drive(c, &m->io,
                        readiness(m, GW_CLIENT) | readiness(m, GW_UPSTREAM),
                        now);
        if (m->moves == before || (want & GW_WANT_CLOSE))
            break;
    }
    return want;
}
