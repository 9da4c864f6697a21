/* gw_memio.c - gw_drive's functions over memory, and the event loop over
 * memory (see gw_memio.h). */
#include "gw_memio.h"

#include <stdlib.h>
#include <string.h>

static size_t smaller(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void moved(gw_memio *m, int write, size_t n)
{
    m->moves++;
    if (m->on_io != NULL && n > 0)
        m->on_io(m->user, write, n);
}

static long mem_read(void *ctx, void *buf, size_t cap)
{
    gw_memio *m = ctx;
    size_t n = smaller(gw_buf_pending(&m->queue), m->readable);

    if (m->fail) {
        m->fail = 0;
        m->moves++;
        return GW_IO_ERROR;
    }
    if (n == 0) {
        if (gw_buf_pending(&m->queue) == 0 && m->eof) {
            m->moves++;
            return 0;
        }
        return GW_IO_AGAIN;
    }
    n = smaller(n, cap);
    if (m->read_max > 0)
        n = smaller(n, m->read_max);
    memcpy(buf, gw_buf_peek(&m->queue), n);
    gw_buf_consume(&m->queue, n);
    if (m->readable != SIZE_MAX)
        m->readable -= n;
    moved(m, 0, n);
    return (long)n;
}

static long mem_write(void *ctx, const struct iovec *iov, int cnt)
{
    gw_memio *m = ctx;
    size_t n = m->budget, done = 0, k, keep;
    int i;

    if (m->fail || m->fail_write) {
        if (m->fail_write)
            m->readable = SIZE_MAX;
        m->fail = m->fail_write = 0;
        m->moves++;
        return GW_IO_ERROR;
    }
    if (m->write_max > 0)
        n = smaller(n, m->write_max);
    for (i = 0; i < cnt && done < n; i++) {
        k = smaller(iov[i].iov_len, n - done);
        keep = k;
        if (m->sink_max > 0)
            keep = smaller(k, m->sink_max > gw_buf_pending(&m->sink)
                                  ? m->sink_max - gw_buf_pending(&m->sink)
                                  : 0);
        if (keep > 0 && gw_buf_append(&m->sink, iov[i].iov_base, keep) != 0)
            return GW_IO_ERROR;
        done += k;
    }
    if (done == 0)
        return GW_IO_AGAIN;
    m->received += done;
    if (m->budget != SIZE_MAX)
        m->budget -= done;
    moved(m, 1, done);
    return (long)done;
}

static int mem_connect(void *ctx)
{
    gw_memio *m = ctx;

    m->connects++;
    m->moves++;
    m->connected = m->connect_result == 1;
    return m->connect_result;
}

static int mem_connect_done(void *ctx)
{
    gw_memio *m = ctx;

    if (m->connect_done_result != 0)
        m->moves++;
    m->connected = m->connect_done_result == 1;
    return m->connect_done_result;
}

static void mem_shut(void *ctx)
{
    gw_memio *m = ctx;

    m->moves++;
    m->shut = 1;
}

void gw_memio_init(gw_memio *m)
{
    memset(m, 0, sizeof *m);
    gw_buf_init(&m->queue);
    gw_buf_init(&m->sink);
    m->readable = SIZE_MAX;
    m->budget = SIZE_MAX;
    m->connect_result = 1;
    m->connect_done_result = 1;
    m->io.read = mem_read;
    m->io.write = mem_write;
    m->io.connect = mem_connect;
    m->io.connect_done = mem_connect_done;
    m->io.shut = mem_shut;
    m->io.ctx = m;
    m->io.buf = m->buf;
    m->io.buf_len = sizeof m->buf;
}

void gw_memio_free(gw_memio *m)
{
    gw_buf_free(&m->queue);
    gw_buf_free(&m->sink);
}

int gw_memio_send(gw_memio *m, const void *p, size_t n)
{
    return gw_buf_append(&m->queue, p, n);
}

const unsigned char *gw_memio_sink(const gw_memio *m, size_t *len)
{
    *len = gw_buf_pending(&m->sink);
    return gw_buf_peek(&m->sink);
}

void gw_memio_take(gw_memio *m)
{
    gw_buf_clear(&m->sink);
}

unsigned gw_memio_ready(const gw_memio *m)
{
    unsigned r = 0;

    if (m->fail || m->eof ||
        (gw_buf_pending(&m->queue) > 0 && m->readable > 0))
        r |= GW_READY_IN;
    if (m->fail || m->fail_write || m->budget > 0 ||
        m->connect_done_result != 0)
        r |= GW_READY_OUT;
    return r;
}

unsigned gw_memio_drive(gw_memio *m, gw_conn *c, gw_time now)
{
    return gw_drive(c, &gw_conn_ops, &m->io, gw_memio_ready(m), now, NULL);
}

unsigned gw_memio_settle(gw_memio *m, gw_conn *c, gw_time now, int rounds)
{
    unsigned want = gw_conn_poll(c, NULL);
    uint64_t before;
    int i;

    for (i = 0; i < rounds; i++) {
        before = m->moves;
        want = gw_memio_drive(m, c, now);
        if (m->moves == before || (want & GW_WANT_CLOSE))
            break;
    }
    return want;
}

/* ---- the event loop over memory ---- */

typedef struct mem_ep {
    gw_conn *c;             /* a client, or */
    gw_upconn *u;           /* a pool connection (NULL once released) */
    gw_memio *m;
    int owned;              /* m is the net's */
    int woken;
    int gone;
    struct mem_ep *next;
} mem_ep;

struct gw_memnet {
    gw_memnet_hooks hooks;
    gw_pool *pool;
    mem_ep *eps;
    int woken;
};

gw_memnet *gw_memnet_new(const gw_memnet_hooks *hooks)
{
    gw_memnet *n = calloc(1, sizeof *n);

    if (n != NULL && hooks != NULL)
        n->hooks = *hooks;
    return n;
}

void gw_memnet_set_pool(gw_memnet *n, gw_pool *pool)
{
    n->pool = pool;
}

static void drop_ep(gw_memnet *n, mem_ep *e)
{
    if (e->u != NULL && n->hooks.closed != NULL)
        n->hooks.closed(n->hooks.user, e->u, e->m);
    if (e->owned) {
        gw_memio_free(e->m);
        free(e->m);
    }
    free(e);
}

void gw_memnet_free(gw_memnet *n)
{
    mem_ep *e, *next;

    if (n == NULL)
        return;
    for (e = n->eps; e != NULL; e = next) {
        next = e->next;
        drop_ep(n, e);
    }
    free(n);
}

static mem_ep *find(const gw_memnet *n, const gw_upconn *u,
                    const gw_conn *c)
{
    mem_ep *e;

    for (e = n->eps; e != NULL; e = e->next) {
        if (!e->gone && ((u != NULL && e->u == u) ||
                         (c != NULL && e->c == c)))
            return e;
    }
    return NULL;
}

static mem_ep *add(gw_memnet *n, gw_upconn *u, gw_conn *c, gw_memio *m)
{
    mem_ep *e = calloc(1, sizeof *e);

    if (e == NULL)
        return NULL;
    e->u = u;
    e->c = c;
    e->m = m;
    e->next = n->eps;
    n->eps = e;
    return e;
}

void gw_memnet_wake(void *ctx, gw_upconn *u, gw_conn *c)
{
    gw_memnet *n = ctx;
    mem_ep *e = find(n, u, c);
    gw_memio *m;

    if (e == NULL && u != NULL) {
        m = malloc(sizeof *m);
        if (m == NULL)
            return;
        gw_memio_init(m);
        if ((e = add(n, u, NULL, m)) == NULL) {
            free(m);
            return;
        }
        e->owned = 1;
        if (n->hooks.opened != NULL)
            n->hooks.opened(n->hooks.user, u, m);
    }
    if (e != NULL) {
        e->woken = 1;
        n->woken = 1;
    }
}

int gw_memnet_add(gw_memnet *n, gw_conn *c, gw_memio *m)
{
    mem_ep *e = add(n, NULL, c, m);

    if (e == NULL)
        return -1;
    e->woken = 1;
    return 0;
}

void gw_memnet_remove(gw_memnet *n, gw_conn *c)
{
    mem_ep *e = find(n, NULL, c);

    if (e != NULL)
        e->gone = 1;
}

gw_memio *gw_memnet_peer(const gw_memnet *n, const gw_upconn *u)
{
    mem_ep *e = find(n, u, NULL);

    return e != NULL ? e->m : NULL;
}

static gw_time ep_deadline(const mem_ep *e)
{
    gw_time d;

    if (e->u != NULL)
        gw_upconn_poll(e->u, &d);
    else
        gw_conn_poll(e->c, &d);
    return d;
}

gw_time gw_memnet_deadline(const gw_memnet *n)
{
    gw_time d = GW_TIME_NEVER;
    const mem_ep *e;

    for (e = n->eps; e != NULL; e = e->next) {
        if (!e->gone)
            d = gw_time_min(d, ep_deadline(e));
    }
    return d;
}

/* One pass: every endpoint that was woken, has a due deadline or has
 * something its peer allows is driven once. Returns non-zero when
 * something moved. */
static int pass(gw_memnet *n, gw_time now)
{
    mem_ep *e, **link;
    uint64_t before;
    unsigned ready, want;
    int moved = n->woken;

    n->woken = 0;
    if (n->pool != NULL)
        gw_pool_tick(n->pool, now);
    for (e = n->eps; e != NULL; e = e->next) {
        if (e->gone)
            continue;
        ready = gw_memio_ready(e->m);
        if (!e->woken && ready == 0 && ep_deadline(e) > now)
            continue;
        e->woken = 0;
        before = e->m->moves;
        if (e->u != NULL) {
            gw_upconn_tick(e->u, now);
            want = gw_drive(e->u, &gw_upconn_ops, &e->m->io, ready, now, NULL);
            if (want & GW_WANT_CLOSE) {
                if (n->hooks.closed != NULL)
                    n->hooks.closed(n->hooks.user, e->u, e->m);
                gw_pool_release(n->pool, e->u);
                e->u = NULL;
                e->gone = 1;
                moved = 1;
            }
        } else {
            gw_conn_tick(e->c, now);
            gw_drive(e->c, &gw_conn_ops, &e->m->io, ready, now, NULL);
        }
        moved |= e->m->moves != before;
    }
    for (link = &n->eps; (e = *link) != NULL;) {
        if (e->gone) {
            *link = e->next;
            drop_ep(n, e);
        } else {
            link = &e->next;
        }
    }
    return moved;
}

int gw_memnet_settle(gw_memnet *n, gw_time now, int rounds)
{
    int i;

    for (i = 0; i < rounds; i++) {
        if (!pass(n, now))
            break;
    }
    return i;
}
