/* gw_loop.c - the event loop (see gw_loop.h). */
#define _GNU_SOURCE 1   /* accept4 */
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

int gw_loop_own(gw_loop *l, int fd, client *c, gw_end end)
{
    if (fd >= l->fds_cap) {
        int cap = l->fds_cap > 0 ? l->fds_cap : 256;
        slot *n;

        while (cap <= fd)
            cap *= 2;
        n = realloc(l->fds, (size_t)cap * sizeof *n);
        if (n == NULL)
            return -1;
        memset(n + l->fds_cap, 0, (size_t)(cap - l->fds_cap) * sizeof *n);
        l->fds = n;
        l->fds_cap = cap;
    }
    l->fds[fd].c = c;
    l->fds[fd].end = end;
    return 0;
}

/* Forget and close a descriptor. */
void gw_loop_release(gw_loop *l, int fd)
{
    gw_poller_set(l->poller, fd, 0);
    if (fd < l->fds_cap)
        l->fds[fd].c = NULL;
    close(fd);
}

/* ------------------------------------------------ callbacks of gw_conn */

static void on_request(void *user, const gw_request_info *info)
{
    client *c = user;

    gw_stats_request(&c->loop->st, c->peer, info);
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

gw_loop *gw_loop_new(const gw_loop_config *cfg)
{
    gw_loop *l = calloc(1, sizeof *l);
    gw_reply busy;

    if (l == NULL)
        return NULL;
    l->cfg = *cfg;
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
    return &l->st;
}

void gw_loop_log_stats(const gw_loop *l)
{
    gw_stats_log(&l->st, l->n_clients, l->cfg.conn.relay.on);
}

/* Drive c in this pass (once, whatever woke it). */
static void enqueue(gw_loop *l, client *c)
{
    if (c->queued)
        return;
    c->queued = 1;
    c->next_run = l->run;
    l->run = c;
}

/* Relay with --upstream-proxy-protocol: who connected to where. */
static void set_addresses(client *c, const struct sockaddr_storage *peer)
{
    struct sockaddr_storage local;
    socklen_t sl = sizeof local;
    gw_proxy_info a;

    memset(&a, 0, sizeof a);
    a.family = AF_UNSPEC;
    if (getsockname(c->fd, (struct sockaddr *)&local, &sl) != 0 ||
        local.ss_family != peer->ss_family)
        return;
    if (peer->ss_family == AF_INET) {
        const struct sockaddr_in *p = (const struct sockaddr_in *)peer;
        const struct sockaddr_in *s = (const struct sockaddr_in *)&local;

        memcpy(a.src_addr, &p->sin_addr, 4);
        memcpy(a.dst_addr, &s->sin_addr, 4);
    } else if (peer->ss_family == AF_INET6) {
        const struct sockaddr_in6 *p = (const struct sockaddr_in6 *)peer;
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&local;

        memcpy(a.src_addr, &p->sin6_addr, 16);
        memcpy(a.dst_addr, &s->sin6_addr, 16);
    } else {
        return;
    }
    a.family = peer->ss_family;
    a.src_port = (uint16_t)util_addr_port((const struct sockaddr *)peer);
    a.dst_port = (uint16_t)util_addr_port((const struct sockaddr *)&local);
    gw_conn_set_addresses(&c->conn, &a);
}

static void add_client(gw_loop *l, int fd, const struct sockaddr_storage *ss,
                       gw_time now)
{
    client *c;
    int one = 1;

    /* Answers are small and written whole: do not wait for more. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c = malloc(sizeof *c);
    if (c == NULL || gw_loop_own(l, fd, c, GW_CLIENT) != 0 ||
        gw_poller_set(l->poller, fd, GW_POLL_IN) != 0) {
        gw_log(GW_LOG_WARN, "accept: out of memory for descriptor %d", fd);
        l->st.rejected_fdset++;
        if (c != NULL && fd < l->fds_cap)
            l->fds[fd].c = NULL;
        free(c);
        close(fd);
        return;
    }
    memset(c, 0, offsetof(client, conn));
    gw_timer_init(&c->timer, c);
    c->fd = fd;
    c->loop = l;
    c->up_fd = -1;
    util_addr_name((const struct sockaddr *)ss, c->peer, sizeof c->peer);
    if (gw_conn_init(&c->conn, &l->conn_cfg, c, now) != 0) {
        gw_log(GW_LOG_ERROR, "accept: invalid connection limits");
        gw_conn_free(&c->conn);
        l->fds[fd].c = NULL;
        free(c);
        close(fd);
        return;
    }
    if (l->conn_cfg.relay.upstream_proxy)
        set_addresses(c, ss);
    l->n_clients++;
    l->st.accepted++;
    gw_log(GW_LOG_DEBUG, "open peer=%s fd=%d conns=%zu", c->peer, fd,
           l->n_clients);
    enqueue(l, c);
}

/* Out of descriptors: give up the reserve to take the clients waiting
 * in the queue off it and close them, all of them (they would only wait
 * for a timeout), so the backlog does not wedge; then pause accepting. */
static void shed(gw_loop *l, int lfd, gw_time now)
{
    int fd, i;

    l->st.accept_errors++;
    l->accept_paused_until = now + GW_ACCEPT_PAUSE;
    if (l->reserve_fd < 0)
        return;
    close(l->reserve_fd);
    for (i = 0; i < GW_SHED_MAX; i++) {
        fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            break;
        close(fd);
        l->st.rejected_cap++;
    }
    l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* A client refused at the connection cap gets a busy error frame before
 * the close, so it can tell overload from a crash. What it already sent
 * is read and dropped first: closing with bytes unread would reset the
 * connection and could destroy the frame. */
static void reject(gw_loop *l, int fd, const struct sockaddr_storage *ss,
                   const char *why)
{
    char peer[GW_PEER_MAX];
    unsigned char sink[512];
    int i;

    util_addr_name((const struct sockaddr *)ss, peer, sizeof peer);
    gw_log(GW_LOG_WARN, "reject peer=%s: %s", peer, why);
    l->st.rejected_cap++;
    if (send(fd, gw_buf_peek(&l->busy), gw_buf_pending(&l->busy),
             MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
        shutdown(fd, SHUT_WR);
        for (i = 0; i < 8 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0;
             i++)
            ;
    }
    close(fd);
}

static void accept_batch(gw_loop *l, int lfd, gw_time now)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    char why[96];
    int i, fd;

    for (i = 0; i < GW_ACCEPT_BATCH; i++) {
        sl = sizeof ss;
        fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            gw_log(GW_LOG_WARN, "accept: %s%s", strerror(errno),
                   errno == EMFILE || errno == ENFILE
                       ? " (shedding the queue, pausing accepts)" : "");
            if (errno == EMFILE || errno == ENFILE) {
                shed(l, lfd, now);
            } else {
                l->st.accept_errors++;
                l->accept_paused_until = now + GW_ACCEPT_PAUSE;
            }
            return;
        }
        if (l->n_clients >= l->cfg.max_conns || l->stopping) {
            snprintf(why, sizeof why, "%zu connections (cap %zu)",
                     l->n_clients, l->cfg.max_conns);
            reject(l, fd, &ss, why);
            continue;
        }
        add_client(l, fd, &ss, now);
    }
}

/* Watch c's sockets for what its connection wants, and its deadline. */
static void follow(gw_loop *l, client *c, unsigned want)
{
    gw_time deadline;
    unsigned m;

    gw_conn_poll(&c->conn, &deadline);
    m = ((want & GW_WANT_READ_CLIENT) ? GW_POLL_IN : 0) |
        ((want & GW_WANT_WRITE_CLIENT) ? GW_POLL_OUT : 0);
    if (gw_poller_set(l->poller, c->fd, m) != 0)
        gw_conn_abort(&c->conn, GW_CLOSE_NOMEM);
    if (c->up_fd >= 0) {
        m = ((want & GW_WANT_READ_UP) ? GW_POLL_IN : 0) |
            ((want & (GW_WANT_WRITE_UP | GW_WANT_CONNECTING_UP))
                 ? GW_POLL_OUT : 0);
        if (gw_poller_set(l->poller, c->up_fd, m) != 0)
            gw_conn_abort(&c->conn, GW_CLOSE_NOMEM);
    }
    if (gw_timers_set(&l->timers, &c->timer, deadline) != 0)
        gw_conn_abort(&c->conn, GW_CLOSE_NOMEM);
}

/* Move c along: timeouts, then every byte that can move. */
static void drive_client(gw_loop *l, client *c, gw_time now)
{
    unsigned want;

    gw_conn_tick(&c->conn, now);
    l->io.ctx = c;
    want = gw_drive(&c->conn, &l->io, c->ready, now);
    c->ready = 0;
    if (want & GW_WANT_CLOSE) {
        c->dead = 1;
        return;
    }
    /* Steps left over (the drive's bound): at once, next pass. */
    if (want & (GW_WANT_CONNECT_UP | GW_WANT_CLOSE_UP |
                GW_WANT_SHUT_CLIENT)) {
        c->queued = 1;
        c->next_run = l->run_next;
        l->run_next = c;
    }
    follow(l, c, want);
    if (gw_conn_state(&c->conn) == GW_CONN_CLOSED)
        c->dead = 1;
}

static void close_client(gw_loop *l, client *c)
{
    gw_close_reason why = gw_conn_reason(&c->conn);
    gw_log_level lvl = GW_LOG_DEBUG;

    if (why == GW_CLOSE_REQUEST_TIMEOUT || why == GW_CLOSE_IDLE_TIMEOUT ||
        why == GW_CLOSE_WRITE_TIMEOUT || why == GW_CLOSE_NOMEM)
        lvl = GW_LOG_INFO;
    gw_log(lvl, "close peer=%s reason=%s requests=%" PRIu64, c->peer,
           gw_close_reason_name(why), gw_conn_requests(&c->conn));
    if ((unsigned)why < GW_CLOSE_REASON_COUNT)
        l->st.closed[why]++;
    gw_timers_set(&l->timers, &c->timer, GW_TIME_NEVER);
    gw_loop_release(l, c->fd);
    l->io.close_up(c);
    gw_conn_free(&c->conn);
    l->n_clients--;
    free(c);
}

/* Drive every client on the run list, then close the dead ones. */
static void run_pass(gw_loop *l, gw_time now)
{
    client *c, *next, *dead = NULL;

    for (c = l->run; c != NULL; c = next) {
        next = c->next_run;
        c->queued = 0;
        if (!c->dead)
            drive_client(l, c, now);
        if (c->dead && !c->queued) {
            c->next_run = dead;
            dead = c;
        }
    }
    l->run = l->run_next;
    l->run_next = NULL;
    for (c = dead; c != NULL; c = next) {
        next = c->next_run;
        close_client(l, c);
    }
}

void gw_loop_stop(gw_loop *l)
{
    gw_time now = gw_now();
    size_t i;
    int fd;

    if (l->stopping)
        return;
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
    for (fd = 0; fd < l->fds_cap; fd++) {
        client *c = l->fds[fd].c;

        if (c != NULL && l->fds[fd].end == GW_CLIENT) {
            gw_conn_shutdown(&c->conn, now);
            enqueue(l, c);
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

/* How long the poller may wait. */
static gw_time wait_time(gw_loop *l, gw_time now)
{
    gw_timer *t = gw_timers_first(&l->timers);
    gw_time until = t != NULL ? t->when : GW_TIME_NEVER;

    if (l->run != NULL)
        return 0;
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
        slot *s;

        if (fd == l->cfg.wake_fd) {
            if (l->cfg.on_wake != NULL)
                l->cfg.on_wake(l->cfg.wake_ctx);
            continue;
        }
        if (is_listener(l, fd)) {
            if (!l->stopping)
                accept_batch(l, fd, now);
            continue;
        }
        if (fd >= l->fds_cap || (s = &l->fds[fd])->c == NULL)
            continue;
        if (ev[i].mask & GW_POLL_IN)
            s->c->ready |= s->end == GW_CLIENT ? GW_READY_CLIENT_IN
                                               : GW_READY_UP_IN;
        if (ev[i].mask & GW_POLL_OUT)
            s->c->ready |= s->end == GW_CLIENT ? GW_READY_CLIENT_OUT
                                               : GW_READY_UP_OUT;
        enqueue(l, s->c);
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
            return -1;
        }
        now = gw_now();
        dispatch(l, ev, n, now);
        while ((t = gw_timers_first(&l->timers)) != NULL && t->when <= now) {
            gw_timers_set(&l->timers, t, GW_TIME_NEVER);
            enqueue(l, t->owner);
        }
        run_pass(l, now);
    }
    return 0;
}

void gw_loop_free(gw_loop *l)
{
    int fd;

    if (l == NULL)
        return;
    for (fd = 0; fd < l->fds_cap; fd++) {
        client *c = l->fds[fd].c;

        if (c == NULL || l->fds[fd].end != GW_CLIENT)
            continue;
        if (gw_conn_reason(&c->conn) == GW_CLOSE_NONE)
            gw_conn_abort(&c->conn, GW_CLOSE_SHUTDOWN);
        close_client(l, c);
    }
    if (l->reserve_fd >= 0)
        close(l->reserve_fd);
    gw_timers_free(&l->timers);
    gw_poller_free(l->poller);
    gw_buf_free(&l->busy);
    free(l->fds);
    free(l);
}
