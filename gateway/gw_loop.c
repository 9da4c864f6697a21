/* gw_loop.c - the event loop (see gw_loop.h). */
#include "gw_loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw_log.h"
#include "gw_loop_int.h"
#include "util.h"

gw_time gw_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gw_time)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ------------------------------------------------ the descriptor table */

int gw_loop_own(gw_loop *l, int fd, endpoint *ep)
{
    if (fd >= l->fds_cap) {
        int cap = l->fds_cap > 0 ? l->fds_cap : 256;
        endpoint **n;

        while (cap <= fd)
            cap *= 2;
        n = realloc(l->fds, (size_t)cap * sizeof *n);
        if (n == NULL)
            return -1;
        memset(n + l->fds_cap, 0, (size_t)(cap - l->fds_cap) * sizeof *n);
        l->fds = n;
        l->fds_cap = cap;
    }
    l->fds[fd] = ep;
    return 0;
}

/* Forget and close a descriptor. */
void gw_loop_release(gw_loop *l, int fd)
{
    if (fd < 0)
        return;
    gw_poller_set(l->poller, fd, 0);
    if (fd < l->fds_cap)
        l->fds[fd] = NULL;
    close(fd);
}

const char *gw_loop_name(const endpoint *ep)
{
    if (ep->up != NULL)
        return ep->loop->cfg.upstreams[gw_upconn_upstream(ep->up)].name;
    return ((const client *)ep)->peer;
}

/* Pool connections go on a list of their own, driven when no client
 * is left to drive: the requests read from every client in a pass are
 * on their connections by then, and those that share one leave in one
 * write. */
void gw_loop_enqueue(gw_loop *l, endpoint *ep)
{
    endpoint **list = ep->up != NULL ? &l->run_up : &l->run;

    if (ep->queued)
        return;
    ep->queued = 1;
    ep->next_run = *list;
    *list = ep;
}

void gw_loop_ep_init(endpoint *ep, gw_loop *l, int fd, gw_upconn *u)
{
    memset(ep, 0, sizeof *ep);
    gw_timer_init(&ep->timer, ep);
    ep->loop = l;
    ep->fd = fd;
    ep->up = u;
}

/* The pool has news: a connection (new ones get an endpoint) or a
 * client to drive in this pass. */
static void pool_wake(void *ctx, gw_upconn *u, gw_conn *c)
{
    gw_loop *l = ctx;
    endpoint *ep;

    if (c != NULL) {
        gw_loop_enqueue(l, &((client *)gw_conn_user(c))->ep);
        return;
    }
    ep = gw_upconn_user(u);
    if (ep == NULL) {
        ep = malloc(sizeof *ep);
        if (ep == NULL)
            return;     /* it is driven never: its clients time out */
        gw_loop_ep_init(ep, l, -1, u);
        gw_upconn_set_user(u, ep);
    }
    gw_loop_enqueue(l, ep);
}

static void pool_log(void *ctx, int warn, const char *msg)
{
    (void)ctx;
    gw_log(warn ? GW_LOG_WARN : GW_LOG_INFO, "%s", msg);
}

/* ------------------------------------------------ callbacks of gw_conn */

static void on_request(void *user, const gw_request_info *info)
{
    client *c = user;
    const gw_loop *l = c->ep.loop;

    gw_stats_request(&c->ep.loop->slot->st, c->peer, info,
                     info->upstream >= 0
                         ? l->cfg.upstreams[info->upstream].name : NULL);
}

/* The PROXY header names the real client: log that address from now on
 * (with the proxy's, once, at level debug). */
static void on_proxy(void *user, const gw_proxy_info *info)
{
    client *c = user;
    char host[INET6_ADDRSTRLEN];
    char via[GW_PEER_MAX];

    if (info->family != AF_INET && info->family != AF_INET6)
        return;
    if (inet_ntop(info->family, info->src_addr, host, sizeof host) == NULL)
        return;
    memcpy(via, c->peer, sizeof via);
    snprintf(c->peer, sizeof c->peer,
             info->family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
             (unsigned)info->src_port);
    gw_log(GW_LOG_DEBUG, "proxy peer=%s via=%s", c->peer, via);
}

/* ------------------------------------------------ the loop itself */

/* Relay mode: the pool of upstream connections every client shares. */
static int make_pool(gw_loop *l)
{
    gw_pool_config pc = l->cfg.pool;
    size_t i;

    pc.n_upstreams = l->cfg.n_upstreams;
    for (i = 0; i < l->cfg.n_upstreams && i < GW_POOL_UPSTREAMS; i++)
        pc.names[i] = l->cfg.upstreams[i].name;
    pc.limits = l->cfg.conn.limits;
    pc.max_output = l->cfg.conn.max_output;
    pc.wake = pool_wake;
    pc.wake_ctx = l;
    pc.counters = l->slot->up;
    l->pool = gw_pool_new(&pc);
    if (l->pool == NULL)
        return -1;
    gw_pool_set_logger(l->pool, pool_log, l);
    l->conn_cfg.relay.pool = l->pool;
    return 0;
}

gw_loop *gw_loop_new(const gw_loop_config *cfg)
{
    gw_loop *l = calloc(1, sizeof *l);
    gw_reply busy;

    if (l == NULL)
        return NULL;
    l->cfg = *cfg;
    l->slot = cfg->slot != NULL ? cfg->slot : &l->own;
    l->log_dropped = gw_log_dropped();
    l->conn_cfg = cfg->conn;
    l->conn_cfg.on_request = on_request;
    l->conn_cfg.on_proxy = on_proxy;
    l->poller = gw_poller_new(cfg->poll);
    gw_buf_init(&l->busy);
    if (l->poller == NULL ||
        gw_handle_bad_request(GW_REQ_E_BUSY, &l->busy, &busy) != 0) {
        gw_poller_free(l->poller);
        gw_buf_free(&l->busy);
        free(l);
        return NULL;
    }
    gw_timers_init(&l->timers);
    l->pool_due = GW_TIME_NEVER;
    if (cfg->conn.relay.on && make_pool(l) != 0) {
        gw_loop_free(l);
        return NULL;
    }
    l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    gw_sockio_init(&l->io);
    l->io.buf = l->rbuf;
    l->io.buf_len = sizeof l->rbuf;
    return l;
}

void gw_loop_set_index(gw_loop *l, const gw_index *idx)
{
    l->conn_cfg.index = idx;
}

const gw_stats *gw_loop_stats(const gw_loop *l)
{
    return &l->slot->st;
}

size_t gw_loop_conns(const gw_loop *l)
{
    return l->n_clients;
}

int gw_loop_stopping(const gw_loop *l)
{
    return l->stopping;
}

int gw_loop_upstream(const gw_loop *l, size_t i, gw_upstream_stats *st,
                     const char **name)
{
    if (l->pool == NULL || i >= l->cfg.n_upstreams)
        return -1;
    gw_pool_stats(l->pool, i, st);
    *name = l->cfg.upstreams[i].name;
    return 0;
}

int gw_loop_add_foreign(gw_loop *l, const gw_loop_foreign *f)
{
    if (l->n_foreign == GW_FOREIGN_MAX ||
        gw_poller_set(l->poller, f->fd, GW_POLL_IN) != 0)
        return -1;
    l->foreign[l->n_foreign++] = *f;
    return 0;
}

void gw_loop_log_stats(const gw_loop *l)
{
    gw_upstream_stats us[GW_POOL_UPSTREAMS];
    const char *names[GW_POOL_UPSTREAMS];
    size_t n = 0;

    while (n < GW_POOL_UPSTREAMS &&
           gw_loop_upstream(l, n, &us[n], &names[n]) == 0)
        n++;
    gw_stats_log(&l->slot->st, l->n_clients, l->cfg.conn.relay.on, us,
                 names, n);
}

/* Watch ep's socket for what it wants, and its deadline. */
static void follow(gw_loop *l, endpoint *ep, unsigned want,
                   gw_time deadline)
{
    unsigned m;
    int fail = 0;

    m = ((want & GW_WANT_READ) ? GW_POLL_IN : 0) |
        ((want & (GW_WANT_WRITE | GW_WANT_CONNECTING)) ? GW_POLL_OUT : 0);
    if (ep->fd >= 0 && gw_poller_set(l->poller, ep->fd, m) != 0)
        fail = 1;
    if (gw_timers_set(&l->timers, &ep->timer, deadline) != 0)
        fail = 1;
    if (fail && ep->up == NULL)
        gw_conn_abort(&((client *)ep)->conn, GW_CLOSE_NOMEM);
    else if (fail)
        ep->dead = 1;
}

/* Move ep along: timeouts (when its deadline came: every timeout is
 * in the deadline its poll gives), then every byte that can move. */
static void drive_ep(gw_loop *l, endpoint *ep, gw_time now)
{
    int expired = ep->expired;
    gw_time deadline;
    unsigned want;

    l->io.ctx = ep;
    ep->expired = 0;
    if (ep->up != NULL) {
        if (expired) {
            /* Its clock ran out: is the upstream still taking what the
             * kernel holds for it? */
            gw_upconn_poll(ep->up, &deadline);
            if (ep->fd >= 0 && now >= deadline)
                gw_upconn_queued(ep->up, gw_sock_unsent(ep->fd), now);
            gw_upconn_tick(ep->up, now);
        }
        want = gw_drive(ep->up, &gw_upconn_ops, &l->io, ep->ready, now,
                        &deadline);
        /* The socket's buffer is full: what the kernel holds now. */
        if ((want & GW_WANT_WRITE) && ep->fd >= 0)
            gw_upconn_queued(ep->up, gw_sock_unsent(ep->fd), now);
    } else {
        gw_conn *conn = &((client *)ep)->conn;

        if (expired) {
            /* Its clock ran out: is the client still reading what the
             * kernel holds for it? */
            gw_conn_poll(conn, &deadline);
            if (ep->fd >= 0 && now >= deadline)
                gw_conn_queued(conn, gw_sock_unsent(ep->fd), now);
            gw_conn_tick(conn, now);
        }
        want = gw_drive(conn, &gw_conn_ops, &l->io, ep->ready, now,
                        &deadline);
        if (l->stopping) {
            gw_conn_shutdown(conn, now);
            want = gw_drive(conn, &gw_conn_ops, &l->io, 0, now, &deadline);
        }
        if ((want & GW_WANT_WRITE) && ep->fd >= 0)
            gw_conn_queued(conn, gw_sock_unsent(ep->fd), now);
    }
    ep->ready = 0;
    if (want & GW_WANT_CLOSE) {
        ep->dead = 1;
        return;
    }
    /* Steps left over (the drive's bound): at once, next pass. */
    if (want & (GW_WANT_CONNECT | GW_WANT_SHUT)) {
        ep->queued = 1;
        ep->next_run = l->run_next;
        l->run_next = ep;
    }
    follow(l, ep, want, deadline);
}

static void close_client(gw_loop *l, client *c)
{
    gw_close_reason why = gw_conn_reason(&c->conn);
    gw_log_level lvl = GW_LOG_DEBUG;

    /* What a client or an operator may want to know of: its answer cut
     * short by an upstream, a timeout, no memory. */
    if (why == GW_CLOSE_REQUEST_TIMEOUT || why == GW_CLOSE_IDLE_TIMEOUT ||
        why == GW_CLOSE_WRITE_TIMEOUT || why == GW_CLOSE_NOMEM ||
        why == GW_CLOSE_UPSTREAM)
        lvl = GW_LOG_INFO;
    gw_log(lvl, "close peer=%s reason=%s requests=%" PRIu64, c->peer,
           gw_close_reason_name(why), gw_conn_requests(&c->conn));
    if ((unsigned)why < GW_CLOSE_REASON_COUNT)
        l->slot->st.closed[why]++;
    gw_timers_set(&l->timers, &c->ep.timer, GW_TIME_NEVER);
    gw_loop_release(l, c->ep.fd);
    gw_conn_free(&c->conn);
    l->n_clients--;
    free(c);
}

static void close_ep(gw_loop *l, endpoint *ep)
{
    if (ep->up == NULL) {
        close_client(l, (client *)ep);
        return;
    }
    gw_timers_set(&l->timers, &ep->timer, GW_TIME_NEVER);
    gw_loop_release(l, ep->fd);
    gw_pool_release(l->pool, ep->up);
    free(ep);
}

/* Drive every endpoint on the run lists, clients first, then close the
 * dead ones. The lists grow while they run (a client's request wakes a
 * pool connection, an answer its client): those are driven in this
 * pass too. */
static void run_pass(gw_loop *l, gw_time now)
{
    endpoint *ep, *dead_clients = NULL, *dead_ups = NULL;

    for (;;) {
        endpoint **list = l->run != NULL ? &l->run : &l->run_up;

        if ((ep = *list) == NULL)
            break;
        *list = ep->next_run;
        ep->queued = 0;
        if (!ep->dead)
            drive_ep(l, ep, now);
        if (ep->dead && !ep->queued) {
            ep->queued = 1;
            if (ep->up == NULL) {
                ep->next_run = dead_clients;
                dead_clients = ep;
            } else {
                ep->next_run = dead_ups;
                dead_ups = ep;
            }
        }
    }
    l->run = l->run_next;
    l->run_next = NULL;
    /* Clients first: they leave the pool connections they are on. */
    while ((ep = dead_clients) != NULL) {
        dead_clients = ep->next_run;
        close_ep(l, ep);
    }
    while ((ep = dead_ups) != NULL) {
        dead_ups = ep->next_run;
        close_ep(l, ep);
    }
}

void gw_loop_stop(gw_loop *l)
{
    gw_time now = gw_now();
    size_t i;
    int fd;

    if (l->stopping) {
        /* A second stop signal: no more waiting for the drain. */
        if (l->stop_deadline > now) {
            gw_log(GW_LOG_NOTICE, "stopping now: %zu connections closed "
                   "unfinished", l->n_clients);
            l->stop_deadline = now;
        }
        return;
    }
    /* Clients whose connection the kernel took before the stop (waiting
     * in the listen queue) are taken in and served, not reset with the
     * listening socket. */
    for (i = 0; i < l->cfg.n_listen; i++) {
        size_t before;
        int k;

        for (k = 0; k < GW_STOP_ACCEPTS && l->cfg.listen_fds[i] >= 0; k++) {
            before = l->n_clients;
            gw_loop_accept(l, l->cfg.listen_fds[i], now);
            if (l->n_clients == before)
                break;
        }
    }
    l->stopping = 1;
    l->stop_deadline = gw_time_after(now, l->cfg.stop_timeout);
    /* New connections go to another worker or get refused. */
    for (i = 0; i < l->cfg.n_listen; i++) {
        if (l->cfg.listen_fds[i] < 0)
            continue;
        gw_poller_set(l->poller, l->cfg.listen_fds[i], 0);
        close(l->cfg.listen_fds[i]);
        l->cfg.listen_fds[i] = -1;
    }
    /* Each client is told when it is next driven, after it has read
     * what it had sent before the stop (drive_ep): a request whose first
     * bytes had come is then in hand and answered. */
    for (fd = 0; fd < l->fds_cap; fd++) {
        endpoint *ep = l->fds[fd];

        if (ep != NULL && ep->up == NULL) {
            ep->ready |= GW_READY_IN;
            gw_loop_enqueue(l, ep);
        }
    }
    gw_log(GW_LOG_NOTICE, "stopping: %zu connections to finish",
           l->n_clients);
}

/* Listen while not paused nor stopping; the wake fd always. */
static void watch_listeners(gw_loop *l, gw_time now)
{
    int on = !l->stopping && now >= l->accept_paused_until;
    size_t i;

    if (on == l->listening)
        return;
    for (i = 0; i < l->cfg.n_listen; i++) {
        if (l->cfg.listen_fds[i] >= 0)
            gw_poller_set(l->poller, l->cfg.listen_fds[i],
                          on ? GW_POLL_IN : 0);
    }
    l->listening = on;
}

static int is_listener(const gw_loop *l, int fd)
{
    size_t i;

    for (i = 0; i < l->cfg.n_listen; i++) {
        if (l->cfg.listen_fds[i] == fd)
            return 1;
    }
    return 0;
}

/* Foreign descriptors: those that were ready, and those whose time has
 * come (due is asked again after each run, so each runs once). */
static void run_foreign(gw_loop *l, const gw_poll_event *ev, int n,
                        gw_time now)
{
    size_t k;
    int i, ran;

    for (k = 0; k < l->n_foreign; k++) {
        const gw_loop_foreign *f = &l->foreign[k];

        for (i = 0, ran = 0; i < n && !ran; i++)
            ran = ev[i].fd == f->fd;
        if (ran || f->due(f->ctx) <= now)
            f->on_ready(f->ctx);
    }
}

/* The gauges into the slot, for a metrics page another process may
 * serve: not more often than GW_PUBLISH_EVERY (an upstream's are
 * counted over its connections), and once after the last pass. */
static void publish(gw_loop *l, gw_time now)
{
    gw_upstream_stats u;
    const char *name;
    uint64_t dropped;
    size_t i;

    if (now < l->publish_at) {
        l->publish_pending = 1;
        return;
    }
    l->slot->conns = l->n_clients;
    for (i = 0; gw_loop_upstream(l, i, &u, &name) == 0; i++) {
        l->slot->up[i].conns = u.conns;
        l->slot->up[i].inflight = u.inflight;
        l->slot->up[i].down = u.down;
    }
    dropped = gw_log_dropped();
    l->slot->st.log_dropped += dropped - l->log_dropped;
    l->log_dropped = dropped;
    l->publish_at = gw_time_add(now, GW_PUBLISH_EVERY);
    l->publish_pending = 0;
}

/* How long the poller may wait. */
static gw_time wait_time(gw_loop *l, gw_time now)
{
    gw_timer *t = gw_timers_first(&l->timers);
    gw_time until = t != NULL ? t->when : GW_TIME_NEVER;
    size_t k;

    if (l->run != NULL || l->run_up != NULL)
        return 0;
    for (k = 0; k < l->n_foreign; k++)
        until = gw_time_min(until, l->foreign[k].due(l->foreign[k].ctx));
    until = gw_time_min(until, l->pool_due);
    if (l->publish_pending)
        until = gw_time_min(until, l->publish_at);
    if (l->stopping)
        until = gw_time_min(until, l->stop_deadline);
    else if (!l->listening)
        until = gw_time_min(until, l->accept_paused_until);
    if (until == GW_TIME_NEVER)
        return GW_TIME_NEVER;
    return until > now ? until - now : 0;
}

/* What the poller said: wake-ups, accepts, and clients to drive. */
static void dispatch(gw_loop *l, const gw_poll_event *ev, int n, gw_time now)
{
    int i;

    for (i = 0; i < n; i++) {
        int fd = ev[i].fd;
        endpoint *ep;

        if (fd == l->cfg.wake_fd) {
            if (l->cfg.on_wake != NULL)
                l->cfg.on_wake(l->cfg.wake_ctx);
            continue;
        }
        if (is_listener(l, fd)) {
            if (!l->stopping)
                gw_loop_accept(l, fd, now);
            continue;
        }
        /* Foreign descriptors are never in fds[]: run_foreign's. */
        if (fd >= l->fds_cap || (ep = l->fds[fd]) == NULL)
            continue;
        if (ev[i].mask & GW_POLL_IN)
            ep->ready |= GW_READY_IN;
        if (ev[i].mask & GW_POLL_OUT)
            ep->ready |= GW_READY_OUT;
        gw_loop_enqueue(l, ep);
    }
}

int gw_loop_run(gw_loop *l)
{
    const gw_poll_event *ev;
    gw_timer *t;
    gw_time now;
    int n;

    if (l->cfg.wake_fd >= 0 &&
        gw_poller_set(l->poller, l->cfg.wake_fd, GW_POLL_IN) != 0) {
        gw_log(GW_LOG_ERROR, "poller: %s", strerror(errno));
        return -1;
    }
    /* Log lines wait for the end of a pass: one write for many. */
    gw_log_defer(1);
    for (;;) {
        now = gw_now();
        if (l->stopping && (l->n_clients == 0 || now >= l->stop_deadline))
            break;
        watch_listeners(l, now);
        n = gw_poller_wait(l->poller, wait_time(l, now), &ev);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            gw_log(GW_LOG_ERROR, "%s: %s", gw_poll_name(l->cfg.poll),
                   strerror(errno));
            gw_log_defer(0);
            return -1;
        }
        now = gw_now();
        dispatch(l, ev, n, now);
        run_foreign(l, ev, n, now);
        while ((t = gw_timers_first(&l->timers)) != NULL && t->when <= now) {
            gw_timers_set(&l->timers, t, GW_TIME_NEVER);
            ((endpoint *)t->owner)->expired = 1;
            gw_loop_enqueue(l, t->owner);
        }
        run_pass(l, now);
        if (l->pool != NULL)
            l->pool_due = gw_pool_tick(l->pool, now);
        publish(l, now);
        gw_log_flush();
    }
    gw_log_defer(0);
    return 0;
}

/* At the end: a pool connection's socket and record go. */
static void forget_ep(void *ctx, gw_upconn *u)
{
    endpoint *ep = gw_upconn_user(u);

    if (ep == NULL)
        return;
    gw_loop_release(ctx, ep->fd);
    free(ep);
    gw_upconn_set_user(u, NULL);
}

void gw_loop_free(gw_loop *l)
{
    endpoint *ep;
    int fd;

    if (l == NULL)
        return;
    /* Clients first: they leave the pool's connections. */
    for (fd = 0; fd < l->fds_cap; fd++) {
        ep = l->fds[fd];
        if (ep == NULL || ep->up != NULL)
            continue;
        if (gw_conn_reason(&((client *)ep)->conn) == GW_CLOSE_NONE)
            gw_conn_abort(&((client *)ep)->conn, GW_CLOSE_SHUTDOWN);
        close_ep(l, ep);
    }
    if (l->pool != NULL)
        gw_pool_foreach(l->pool, forget_ep, l);
    gw_pool_free(l->pool);
    if (l->reserve_fd >= 0)
        close(l->reserve_fd);
    gw_timers_free(&l->timers);
    gw_poller_free(l->poller);
    gw_buf_free(&l->busy);
    free(l->fds);
    free(l);
}
