/*
 * gw_upconn.c - one connection of the pool to an upstream: the requests
 * it carries, in the order they went out, and their answers, matched to
 * them in the same order (see gw_pool.h).
 *
 * Its queue holds an entry per request: the front ones are sent and
 * answered first. Several requests go out in one write (iovecs over
 * their buffers); several answers come back in one read. A request's
 * answer goes to its exchange (the client's output, or what the exchange
 * holds until its client's earlier answers are through); when that is
 * full the connection stops reading (what it read waits in the side's
 * input), so every answer stays bounded by its cap.
 */
#include "gw_pool_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

gw_upconn *gw_upconn_new(gw_pool *p, size_t i, gw_conn *owner)
{
    gw_upconn *u = calloc(1, sizeof *u);

    if (u == NULL)
        return NULL;
    u->q = calloc(p->cfg.pipeline, sizeof *u->q);
    if (u->q == NULL || gw_side_init(&u->side, &p->cfg.limits) != 0) {
        free(u->q);
        free(u);
        return NULL;
    }
    u->pool = p;
    u->upstream = i;
    u->owner = owner;
    u->state = GW_UP_NONE;
    return u;
}

void gw_upconn_free(gw_upconn *u)
{
    gw_side_free(&u->side);
    free(u->q);
    free(u);
}

size_t gw_upconn_upstream(const gw_upconn *u)
{
    return u->upstream;
}

int gw_upconn_is_probe(const gw_upconn *u)
{
    return u->probe;
}

void gw_upconn_set_user(gw_upconn *u, void *user)
{
    u->user = user;
}

void *gw_upconn_user(const gw_upconn *u)
{
    return u->user;
}

static gw_entry *entry(const gw_upconn *u, unsigned k)
{
    return &u->q[(u->head + k) % u->pool->cfg.pipeline];
}

unsigned gw_upconn_load(const gw_upconn *u)
{
    unsigned k, n = 0;

    for (k = 0; k < u->n; k++)
        n += !entry(u, k)->answered;
    return n;
}

int gw_upconn_has_room(const gw_upconn *u, const gw_exchange *x)
{
    const gw_entry *e;
    unsigned k;

    if (u->over || u->probe || u->n >= u->pool->cfg.pipeline ||
        (u->n > 0 && u->pool->up[u->upstream].one_each))
        return 0;
    if (u->n == 0)
        return 1;
    /* A request still arriving goes on a connection of its own: should
     * its client leave halfway, the connection is of no further use,
     * and the requests of others on it would go with it. */
    if (!gw_relay_whole(x))
        return 0;
    /* A request whose answer is held until its client's earlier ones
     * are through may hold up the connection: only its own client's
     * requests share one with it. Every client's first may share with
     * other firsts, whose answers always go on. */
    for (k = 0; k < u->n; k++) {
        e = entry(u, k);
        if (e->x == NULL)
            continue;
        if (gw_relay_is_head(x) ? !gw_relay_is_head(e->x)
                                : e->x->c != x->c)
            return 0;
    }
    e = entry(u, u->n - 1);
    return e->x == NULL || gw_relay_whole(e->x);
}

int gw_upconn_filling(const gw_upconn *u)
{
    const gw_entry *e;

    if (u->n == 0 || u->over)
        return 0;
    e = entry(u, u->n - 1);
    return e->x != NULL && !e->sent_any;
}

void gw_upconn_add(gw_upconn *u, gw_exchange *x, gw_time now)
{
    gw_entry *e = entry(u, u->n);

    e->x = x;
    e->answered = 0;
    e->sent_any = 0;
    if (u->n == 0)
        u->since = now;
    u->n++;
    gw_relay_attached(x, u, (int)u->upstream, now);
    gw_pool_wake(u->pool, u, NULL);
}

/* The first entry whose answer is still to come. */
static gw_entry *answer_head(const gw_upconn *u)
{
    unsigned k;

    for (k = 0; k < u->n; k++) {
        gw_entry *e = entry(u, k);

        if (!e->answered)
            return e;
    }
    return NULL;
}

/* Let go of the front entries that are answered and sent. */
static void pop_done(gw_upconn *u, gw_time now)
{
    unsigned before = u->n;
    gw_exchange *x;
    gw_entry *e;
    gw_conn *c;

    while (u->n > 0) {
        e = entry(u, 0);
        if (!e->answered || (e->x != NULL && !gw_relay_sent_all(e->x)))
            break;
        x = e->x;
        u->head = (u->head + 1) % u->pool->cfg.pipeline;
        u->n--;
        if (x != NULL) {
            c = x->c;
            gw_relay_detached(x, now);      /* x may be gone now */
            gw_pool_wake(u->pool, NULL, c);
        }
    }
    if (u->n < before && !u->over)
        gw_pool_room(u->pool, u, now);
}

/* The connection ends: its requests are given back, retried where the
 * connection is to blame, failed otherwise, and the pool told why. The
 * request whose answer was awaited meets a timeout or a bad frame; the
 * ones behind it go elsewhere. */
static void end(gw_upconn *u, gw_up_end why, gw_time now)
{
    unsigned k, n = u->n, first = n;
    gw_entry q[GW_POOL_PIPELINE_MAX];
    gw_req_status st;
    int retry;

    if (u->over)
        return;
    u->over = 1;
    for (k = 0; k < n; k++) {
        q[k] = *entry(u, k);
        if (first == n && !q[k].answered)
            first = k;
    }
    u->n = 0;
    gw_pool_ended(u->pool, u, why, now);
    for (k = 0; k < n; k++) {
        if (q[k].x == NULL)
            continue;
        q[k].x->up = NULL;
        /* A request it took and closed on: whoever answers it says who
         * is to blame. */
        if (why == GW_UP_END_UNANSWERED && q[k].sent_any)
            q[k].x->unanswered_by |= (uint32_t)1 << u->upstream;
        /* A connection that failed before a request behind the front
         * one went out costs that request nothing: the front one spent
         * a try on it. Nor does the close of an upstream that closes
         * after every answer (the reference server): expected, not the
         * request's doing. Another kept connection found closed costs
         * the request no try, once (gw_relay_given_back). */
        retry = k > first && !q[k].sent_any ? GW_RETRY_UNSENT
                : why != GW_UP_END_CLOSED  ? GW_RETRY
                : u->pool->up[u->upstream].one_each ? GW_RETRY_UNSENT
                                                    : GW_RETRY_FREE;
        st = why == GW_UP_END_REFUSED || why == GW_UP_END_NO_SOCKET
                 ? GW_REQ_E_UP_UNAVAILABLE : GW_REQ_E_UP_FAILED;
        if (k == first && why == GW_UP_END_TIMEOUT) {
            retry = GW_RETRY_NO;
            st = GW_REQ_E_UP_TIMEOUT;
        } else if (k == first && why == GW_UP_END_BAD_FRAME) {
            retry = GW_RETRY_NO;
            st = GW_REQ_E_UP_BAD_FRAME;
        }
        gw_relay_given_back(q[k].x, retry, st, now);
    }
    gw_pool_freed(u->pool, u->upstream, now);
}

void gw_upconn_retire(gw_upconn *u, gw_time now)
{
    u->owner = NULL;
    end(u, GW_UP_END_IDLE, now);
    gw_pool_wake(u->pool, u, NULL);     /* the caller closes it */
}

void gw_upconn_remove(gw_upconn *u, gw_exchange *x, gw_time now)
{
    unsigned k, j;
    gw_entry *e;

    for (k = 0; k < u->n; k++) {
        e = entry(u, k);
        if (e->x != x)
            continue;
        x->up = NULL;
        if (!e->sent_any) {
            for (j = k; j + 1 < u->n; j++)
                *entry(u, j) = *entry(u, j + 1);
            u->n--;
            pop_done(u, now);
            if (!u->over)
                gw_pool_room(u->pool, u, now);  /* a place came free */
            return;
        } else if (gw_relay_sent_all(x)) {
            e->x = NULL;    /* its answer, if any comes, is dropped */
            /* It may have waited on its client (answers held back,
             * nothing read): from its next drive it waits on the
             * upstream, whose clock starts then (now may be the client's
             * last activity), and it has to be driven to read. */
            u->restart_clock = 1;
            gw_pool_wake(u->pool, u, NULL);
        } else {
            /* Half a request went out: the stream is of no further
             * use. */
            e->x = NULL;
            end(u, GW_UP_END_DROPPED, now);
            return;
        }
        pop_done(u, now);
        return;
    }
}

/* ---- what gw_drive sees ---- */

/* Waiting for the upstream: a request to send, or an answer to read
 * that its client can take, to a request that is whole (not while a
 * client does not read, nor while it has not sent all its request: the
 * client's own write and request timeouts cover those); a probe, from
 * its connect to its answer (it has no entry). */
static int busy(const gw_upconn *u)
{
    const gw_entry *e = answer_head(u);
    struct iovec iov[1];

    if (u->probe || gw_upconn_output(u, iov, 1) > 0)
        return 1;
    return e != NULL && (e->x == NULL ||
                         (gw_relay_takes_answer(e->x) &&
                          gw_relay_whole(e->x)));
}

static int takes(const gw_upconn *u)
{
    const gw_entry *e = answer_head(u);

    return e == NULL || e->x == NULL || gw_relay_takes_answer(e->x) ||
           e->x->c->state != GW_CONN_OPEN;
}

int gw_upconn_output(const gw_upconn *u, struct iovec *iov, int max)
{
    unsigned k;
    int n = 0;

    if (u->state != GW_UP_READY || u->over)
        return 0;
    if (u->pre_off < u->pre_len && n < max) {
        iov[n].iov_base = (void *)(u->pre + u->pre_off);
        iov[n++].iov_len = u->pre_len - u->pre_off;
    }
    if (u->probe && u->probe_sent < gw_buf_pending(&u->pool->probe) &&
        n < max) {
        iov[n].iov_base = (void *)(gw_buf_peek(&u->pool->probe) +
                                   u->probe_sent);
        iov[n++].iov_len = gw_buf_pending(&u->pool->probe) - u->probe_sent;
    }
    for (k = 0; k < u->n && n < max; k++) {
        const gw_entry *e = entry(u, k);
        const unsigned char *p;
        size_t len;

        if (e->x == NULL)
            continue;
        /* Answer bytes held back (a client is full) arrived before this
         * request went out, so they cannot be its answer: it waits until
         * they are passed on, and any left over are found stray. */
        if (!e->sent_any && gw_buf_pending(&u->side.in) > 0)
            break;
        p = gw_relay_unsent(e->x, &len);
        if (len > 0) {
            iov[n].iov_base = (void *)p;
            iov[n++].iov_len = len;
        }
        if (!gw_relay_whole(e->x))
            break;
    }
    return n;
}

/* How long u may wait for its upstream: t, or, for a probe when t sets
 * no limit, a try's longest time (gw_pool.c, start_try). A probe of an
 * upstream that never answers then ends with its try; without a bound
 * each later try would leave one more connection open. */
static gw_time wait_limit(const gw_upconn *u, gw_time t)
{
    return t > 0 || !u->probe ? t : GW_POOL_RETRY_MAX;
}

unsigned gw_upconn_poll(const gw_upconn *u, gw_time *deadline)
{
    const gw_pool_config *cfg = &u->pool->cfg;
    struct iovec iov[1];
    unsigned want = 0;
    gw_time d = GW_TIME_NEVER;

    if (u->over) {
        want = GW_WANT_CLOSE;
    } else if (u->state == GW_UP_NONE) {
        want = GW_WANT_CONNECT;
    } else if (u->state == GW_UP_CONNECTING) {
        want = GW_WANT_CONNECTING;
        d = gw_time_after(u->since, wait_limit(u, cfg->connect_timeout));
    } else {
        if (gw_buf_pending(&u->side.in) == 0 && takes(u))
            want |= GW_WANT_READ;
        if (gw_upconn_output(u, iov, 1) > 0)
            want |= GW_WANT_WRITE;
        if (busy(u))
            d = gw_time_after(u->since,
                              wait_limit(u, cfg->upstream_timeout));
    }
    if (deadline != NULL)
        *deadline = d;
    return want;
}

void gw_upconn_sent(gw_upconn *u, size_t n, gw_time now)
{
    size_t pre = u->pre_len - u->pre_off, take, len;
    unsigned k;

    if (n == 0 || u->over)
        return;
    u->since = now;
    u->kq += n;             /* the kernel holds n more */
    u->pool->up[u->upstream].st->bytes_out += n;
    take = n < pre ? n : pre;
    u->pre_off += take;
    n -= take;
    if (u->probe) {
        u->probe_sent += n;
        return;
    }
    for (k = 0; k < u->n && n > 0; k++) {
        gw_entry *e = entry(u, k);

        if (e->x == NULL)
            continue;
        gw_relay_unsent(e->x, &len);
        take = n < len ? n : len;
        if (take > 0) {
            e->sent_any = 1;
            gw_relay_wrote(e->x, take, now);
            n -= take;
        }
        if (!gw_relay_whole(e->x))
            break;
    }
    pop_done(u, now);
}

/* Read and drop one answer (its client left, or a health check's):
 * the bytes consumed; *ev the last event. */
static size_t drop(gw_upconn *u, const unsigned char *p, size_t n,
                   hf_event *ev)
{
    hf_decoder *d = gw_side_decoder(&u->side);
    size_t off = 0;

    ev->type = HF_EV_ERROR;
    if (d == NULL)
        return 0;
    /* What was staged of its header was meant for a request that has
     * left: it must not prefix the next answer. */
    gw_buf_clear(&u->side.stage);
    for (;;) {
        off += hf_decoder_push(d, p + off, n - off, ev);
        if (ev->type != HF_EV_HEADER && ev->type != HF_EV_CONTENT)
            return off;
    }
}

/* Every upstream in mask but u's closed on a request that u's
 * upstream has now answered: each of them is counted as failing. */
static void blame_others(const gw_upconn *u, uint32_t mask, gw_time now)
{
    size_t i;

    for (i = 0; i < GW_POOL_UPSTREAMS; i++)
        if ((mask >> i & 1) && i != u->upstream)
            gw_pool_blame(u->pool, i, now);
}

/* Answer bytes: to the request whose answer comes next. Returns how
 * many were taken (fewer: that client's output is full). */
static size_t consume(gw_upconn *u, const unsigned char *p, size_t n,
                      gw_time now)
{
    size_t off = 0, k;
    hf_event ev;
    gw_entry *e;

    while (off < n && !u->over) {
        e = answer_head(u);
        if (!u->probe && (e == NULL || !e->sent_any)) {
            /* Bytes nobody asked for (yet): this upstream cannot be
             * trusted, and what it sends next cannot be told from an
             * answer. */
            end(u, GW_UP_END_STRAY, now);
            return n;
        }
        if (u->probe || e->x == NULL || e->x->c->state != GW_CONN_OPEN) {
            k = drop(u, p + off, n - off, &ev);
        } else {
            k = gw_relay_pass(e->x->c, e->x, &u->side, p + off, n - off,
                              now, &ev.type);
            gw_pool_wake(u->pool, NULL, e->x->c);
        }
        off += k;
        if (ev.type == HF_EV_ERROR) {
            end(u, GW_UP_END_BAD_FRAME, now);
            return n;
        }
        if (ev.type == HF_EV_FRAME_END) {
            u->pool->up[u->upstream].st->requests++;
            gw_pool_answered(u->pool, u, now);
            /* Answered here after other upstreams closed on it: they
             * failed, not the request. */
            if (!u->probe && e->x != NULL && e->x->unanswered_by != 0) {
                blame_others(u, e->x->unanswered_by, now);
                e->x->unanswered_by = 0;
            }
            if (u->probe) {
                u->over = 1;
                gw_pool_ended(u->pool, u, GW_UP_END_IDLE, now);
                gw_pool_freed(u->pool, u->upstream, now);
                return n;
            }
            e->answered = 1;
            if (++u->answers > 1)
                u->pool->up[u->upstream].one_each = 0;
            pop_done(u, now);
            continue;
        }
        if (k == 0)
            break;
    }
    return u->over ? n : off;
}

void gw_upconn_input(gw_upconn *u, const void *p, size_t n, gw_time now)
{
    size_t k;

    if (n == 0 || u->over || u->state != GW_UP_READY)
        return;
    u->since = now;
    u->pool->up[u->upstream].st->bytes_in += n;
    k = gw_buf_pending(&u->side.in) > 0 ? 0 : consume(u, p, n, now);
    if (k < n && !u->over &&
        gw_buf_append(&u->side.in, (const unsigned char *)p + k, n - k) != 0)
        end(u, GW_UP_END_DROPPED, now);
}

/* Answer bytes held back while a client was full: on again. */
/* The clock starts again at now when a client that left asked it to
 * (gw_upconn_remove). */
static void clock_from(gw_upconn *u, gw_time now)
{
    if (u->restart_clock) {
        u->since = now;
        u->restart_clock = 0;
    }
}

void gw_upconn_settle(gw_upconn *u, gw_time now)
{
    gw_buf *in = &u->side.in;

    clock_from(u, now);
    if (gw_buf_pending(in) > 0 && !u->over && takes(u))
        gw_buf_consume(in, consume(u, gw_buf_peek(in), gw_buf_pending(in),
                                   now));
}

void gw_upconn_eof(gw_upconn *u, gw_time now)
{
    int begun = u->side.dec != NULL && hf_decoder_in_frame(u->side.dec);
    gw_upstream *up = &u->pool->up[u->upstream];

    /* An upstream that closes after one answer (as the reference server
     * does) gets one request per connection from now on; one that
     * answers more on a connection is pipelined to again. */
    if (u->state == GW_UP_READY && !begun && u->answers == 1)
        up->one_each = 1;

    if (u->state != GW_UP_READY)
        end(u, GW_UP_END_REFUSED, now);
    else if (u->n == 0 && !u->probe)
        end(u, GW_UP_END_IDLE, now);
    else if (u->answers > 0 && !begun)
        end(u, GW_UP_END_CLOSED, now);
    else if (!begun)
        end(u, GW_UP_END_UNANSWERED, now);
    else
        end(u, GW_UP_END_LOST, now);
}

void gw_upconn_error(gw_upconn *u, gw_time now)
{
    gw_upconn_eof(u, now);
}

void gw_upconn_event(gw_upconn *u, int ev, gw_time now)
{
    if (ev == GW_UP_EV_NO_SOCKET) {
        end(u, GW_UP_END_NO_SOCKET, now);
        return;
    }
    if (ev == GW_UP_EV_CONNECTING) {
        u->state = GW_UP_CONNECTING;
        u->since = now;
        u->pool->up[u->upstream].st->connects++;
        if (u->pool->cfg.upstream_proxy) {
            /* A probe has no client: a LOCAL header (no addresses), as
             * an upstream that requires the header still takes. */
            gw_proxy_info local;

            memset(&local, 0, sizeof local);
            u->pre_len = gw_proxy_write_v2(u->owner != NULL
                                               ? &u->owner->addr
                                               : &local,
                                           u->pre);
            u->pre_off = 0;
        }
        return;
    }
    if (u->state == GW_UP_CONNECTING) {
        u->state = GW_UP_READY;
        u->since = now;
    }
}

void gw_upconn_queued(gw_upconn *u, size_t bytes, gw_time now)
{
    if (u->over || u->state != GW_UP_READY)
        return;
    if (u->kq_known && bytes < u->kq)
        u->since = now;
    u->kq = bytes;
    u->kq_known = 1;
}

gw_time gw_upconn_tick(gw_upconn *u, gw_time now)
{
    const gw_pool_config *cfg = &u->pool->cfg;
    gw_time d;

    if (u->over)
        return GW_TIME_NEVER;
    clock_from(u, now);
    if (u->state == GW_UP_CONNECTING &&
        now >= gw_time_after(u->since,
                             wait_limit(u, cfg->connect_timeout))) {
        end(u, GW_UP_END_REFUSED, now);
        return GW_TIME_NEVER;
    }
    gw_upconn_poll(u, &d);
    if (u->state == GW_UP_READY && d != GW_TIME_NEVER && now >= d)
        end(u, GW_UP_END_TIMEOUT, now);
    gw_upconn_poll(u, &d);
    return d;
}
