/* gw_loop.c - the select() event loop (see gw_loop.h). */
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

/* Rounds of "send, then consume waiting input" after each event, so
 * pipelined requests move without a select() each, yet one busy client
 * cannot hold the loop. */
#define SETTLE_ROUNDS 8

/* Full reads per readiness event (see do_read). */
#define READ_ROUNDS 8

typedef struct client {
    int fd;
    int dead;               /* close after this pass */
    gw_loop *loop;
    gw_conn conn;
    char peer[GW_PEER_MAX];
    size_t in_off;          /* received bytes not yet consumed: */
    size_t in_len;          /*   in[in_off..in_len) */
    /* Relay mode: the upstream socket and what it sent, not consumed. */
    int up_fd;              /* -1 when none */
    int up_polled;          /* up_fd is in this pass's fd sets */
    const gw_upstream *up;  /* where up_fd goes */
    size_t up_base;         /* the request's first upstream (index) */
    size_t uin_off;
    size_t uin_len;
    unsigned char *uin;     /* GW_READ_CHUNK bytes, allocated on first use */
    unsigned char in[GW_READ_CHUNK];
} client;

struct gw_loop {
    gw_loop_config cfg;
    gw_conn_config conn_cfg;    /* what every gw_conn points at */
    client *clients[FD_SETSIZE];
    size_t n_clients;
    int max_fd;                 /* highest client fd, -1 when none */
    int reserve_fd;             /* given up on EMFILE to shed a client */
    int stopping;
    gw_time stop_deadline;
    gw_time accept_paused_until;
    size_t next_up;             /* relay: upstream of the next connect */
    gw_stats st;
};

gw_time gw_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gw_time)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_request(void *user, const gw_request_info *info)
{
    client *c = user;
    gw_stats *st = &c->loop->st;
    const gw_reply *r = info->reply;
    char type[GW_TYPE_LOG_MAX * 4 + 1];
    char action[GW_ACTION_LOG_MAX * 4 + 1];

    if ((unsigned)r->kind < GW_KIND_COUNT)
        st->requests[r->kind]++;
    if (r->kind == GW_KIND_FRAME_ERROR &&
        (unsigned)r->frame_status < HF_STATUS_COUNT)
        st->frame_errors[r->frame_status]++;
    if (r->kind == GW_KIND_BAD_REQUEST &&
        (unsigned)r->req_status < GW_REQ_STATUS_COUNT)
        st->request_errors[r->req_status]++;
    if (!gw_log_enabled(GW_LOG_INFO))
        return;
    gw_log_escape(type, sizeof type, info->content_type,
                  info->content_type_len);
    gw_log_escape(action, sizeof action, r->action, r->action_len);
    gw_log(GW_LOG_INFO,
           "access peer=%s type=\"%s\" action=\"%s\" in=%" PRIu64
           " out=%zu status=%s us=%" PRId64,
           c->peer, type, action, info->bytes_in, r->bytes_out, r->status,
           info->finished - info->started);
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

gw_loop *gw_loop_new(const gw_loop_config *cfg)
{
    gw_loop *l = calloc(1, sizeof *l);

    if (l == NULL)
        return NULL;
    l->cfg = *cfg;
    l->conn_cfg = cfg->conn;
    l->conn_cfg.on_request = on_request;
    l->conn_cfg.on_proxy = on_proxy;
    l->max_fd = -1;
    l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
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
    const gw_stats *st = &l->st;
    char errs[512];
    char relay[160];
    size_t n = 0;
    int k;
    unsigned i;

    errs[0] = '\0';
    relay[0] = '\0';
    if (l->cfg.conn.relay)
        snprintf(relay, sizeof relay, " req_relayed=%" PRIu64
                 " upstream_connects=%" PRIu64 " upstream_errors=%" PRIu64,
                 st->requests[GW_KIND_RELAYED], st->up_connects,
                 st->up_errors);
    for (i = 0; i < HF_STATUS_COUNT; i++) {
        if (st->frame_errors[i] == 0)
            continue;
        k = snprintf(errs + n, sizeof errs - n, " err.%s=%" PRIu64,
                     hf_status_name((hf_status)i), st->frame_errors[i]);
        if (k < 0 || (size_t)k >= sizeof errs - n)
            break;
        n += (size_t)k;
    }
    for (i = 1; i < GW_REQ_STATUS_COUNT; i++) {
        if (st->request_errors[i] == 0)
            continue;
        k = snprintf(errs + n, sizeof errs - n, " req_err.%s=%" PRIu64,
                     gw_req_status_name((gw_req_status)i),
                     st->request_errors[i]);
        if (k < 0 || (size_t)k >= sizeof errs - n)
            break;
        n += (size_t)k;
    }
    gw_log(GW_LOG_NOTICE,
           "stats conns=%zu accepted=%" PRIu64 " rejected_cap=%" PRIu64
           " rejected_fdsetsize=%" PRIu64 " accept_errors=%" PRIu64
           " timeout_request=%" PRIu64 " timeout_idle=%" PRIu64
           " timeout_write=%" PRIu64 " req_search=%" PRIu64
           " req_invalid_action=%" PRIu64 " req_binary=%" PRIu64
           " req_bad_request=%" PRIu64 " req_frame_error=%" PRIu64
           " bytes_in=%" PRIu64 " bytes_out=%" PRIu64 "%s%s",
           l->n_clients, st->accepted, st->rejected_cap, st->rejected_fdset,
           st->accept_errors, st->closed[GW_CLOSE_REQUEST_TIMEOUT],
           st->closed[GW_CLOSE_IDLE_TIMEOUT],
           st->closed[GW_CLOSE_WRITE_TIMEOUT],
           st->requests[GW_KIND_SEARCH], st->requests[GW_KIND_INVALID_ACTION],
           st->requests[GW_KIND_BINARY], st->requests[GW_KIND_BAD_REQUEST],
           st->requests[GW_KIND_FRAME_ERROR], st->bytes_in, st->bytes_out,
           relay, errs);
}

static void peer_name(const struct sockaddr_storage *ss, char *out,
                      size_t cap)
{
    char host[INET6_ADDRSTRLEN];

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        snprintf(out, cap, "%s:%u", host, (unsigned)ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        snprintf(out, cap, "[%s]:%u", host, (unsigned)ntohs(s6->sin6_port));
    } else {
        snprintf(out, cap, "unknown");
    }
}

/* A socket address into the address half of a gw_proxy_info. */
static int sockaddr_to_proxy(const struct sockaddr_storage *ss,
                             unsigned char *addr, uint16_t *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

        memcpy(addr, &sin->sin_addr, 4);
        *port = ntohs(sin->sin_port);
        return AF_INET;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

        memcpy(addr, &s6->sin6_addr, 16);
        *port = ntohs(s6->sin6_port);
        return AF_INET6;
    }
    return AF_UNSPEC;
}

/* Relay with --upstream-proxy-protocol: who connected to where. */
static void set_addresses(client *c, const struct sockaddr_storage *peer)
{
    struct sockaddr_storage local;
    socklen_t sl = sizeof local;
    gw_proxy_info a;

    memset(&a, 0, sizeof a);
    if (getsockname(c->fd, (struct sockaddr *)&local, &sl) != 0 ||
        local.ss_family != peer->ss_family)
        return;
    a.family = sockaddr_to_proxy(peer, a.src_addr, &a.src_port);
    sockaddr_to_proxy(&local, a.dst_addr, &a.dst_port);
    gw_conn_set_addresses(&c->conn, &a);
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void add_client(gw_loop *l, int fd, const struct sockaddr_storage *ss,
                       gw_time now)
{
    client *c;
    int one = 1;

    if (set_nonblock(fd) < 0) {
        gw_log(GW_LOG_WARN, "accept: fcntl: %s", strerror(errno));
        close(fd);
        return;
    }
    /* Answers are small and written whole: do not wait for more. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c = malloc(sizeof *c);
    if (c == NULL) {
        gw_log(GW_LOG_WARN, "accept: out of memory");
        l->st.accept_errors++;
        close(fd);
        return;
    }
    c->fd = fd;
    c->dead = 0;
    c->loop = l;
    c->in_off = 0;
    c->in_len = 0;
    c->up_fd = -1;
    c->up_polled = 0;
    c->up = NULL;
    c->up_base = 0;
    c->uin_off = 0;
    c->uin_len = 0;
    c->uin = NULL;
    peer_name(ss, c->peer, sizeof c->peer);
    if (gw_conn_init(&c->conn, &l->conn_cfg, c, now) != 0) {
        gw_log(GW_LOG_ERROR, "accept: invalid connection limits");
        gw_conn_free(&c->conn);
        free(c);
        close(fd);
        return;
    }
    if (l->conn_cfg.upstream_proxy)
        set_addresses(c, ss);
    l->clients[fd] = c;
    l->n_clients++;
    if (fd > l->max_fd)
        l->max_fd = fd;
    l->st.accepted++;
    gw_log(GW_LOG_DEBUG, "open peer=%s fd=%d conns=%zu", c->peer, fd,
           l->n_clients);
}

/* Out of fds: give up the reserve to take one client off the queue and
 * close it, so the backlog does not wedge, then pause accepting. */
static void shed_one(gw_loop *l, int lfd, gw_time now)
{
    int fd;

    l->st.accept_errors++;
    l->accept_paused_until = now + GW_ACCEPT_PAUSE;
    if (l->reserve_fd < 0)
        return;
    close(l->reserve_fd);
    fd = accept(lfd, NULL, NULL);
    if (fd >= 0) {
        close(fd);
        l->st.rejected_cap++;
    }
    l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void accept_batch(gw_loop *l, int lfd, gw_time now)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    char peer[GW_PEER_MAX];
    int i, fd;

    for (i = 0; i < GW_ACCEPT_BATCH; i++) {
        sl = sizeof ss;
        fd = accept(lfd, (struct sockaddr *)&ss, &sl);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            gw_log(GW_LOG_WARN, "accept: %s%s", strerror(errno),
                   errno == EMFILE || errno == ENFILE
                       ? " (shedding one client, pausing accepts)" : "");
            if (errno == EMFILE || errno == ENFILE) {
                shed_one(l, lfd, now);
            } else {
                l->st.accept_errors++;
                l->accept_paused_until = now + GW_ACCEPT_PAUSE;
            }
            return;
        }
        if (fd >= FD_SETSIZE) {
            peer_name(&ss, peer, sizeof peer);
            gw_log(GW_LOG_WARN, "reject peer=%s: fd %d >= FD_SETSIZE %d",
                   peer, fd, FD_SETSIZE);
            l->st.rejected_fdset++;
            close(fd);
            continue;
        }
        if (l->n_clients >= l->cfg.max_conns || l->stopping) {
            peer_name(&ss, peer, sizeof peer);
            gw_log(GW_LOG_WARN, "reject peer=%s: %zu connections (cap %zu)",
                   peer, l->n_clients, l->cfg.max_conns);
            l->st.rejected_cap++;
            close(fd);
            continue;
        }
        add_client(l, fd, &ss, now);
    }
}

/* Offer received bytes that were not consumed yet. */
static void feed(client *c, gw_time now)
{
    size_t used;

    if (c->in_off == c->in_len)
        return;
    used = gw_conn_input(&c->conn, c->in + c->in_off, c->in_len - c->in_off,
                         now);
    c->in_off += used;
    if (c->in_off >= c->in_len) {
        c->in_off = 0;
        c->in_len = 0;
    }
}

static int transient(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* One recv() into the client's buffer; 1 when a full buffer was read and
 * all of it consumed, so that reading again may pay off. */
static int read_once(client *c, gw_time now)
{
    ssize_t n = recv(c->fd, c->in, sizeof c->in, 0);

    if (n > 0) {
        c->loop->st.bytes_in += (uint64_t)n;
        c->in_off = 0;
        c->in_len = (size_t)n;
        feed(c, now);
        return (size_t)n == sizeof c->in && c->in_len == 0 &&
               gw_conn_want_read(&c->conn);
    }
    if (n == 0) {
        c->in_off = 0;
        c->in_len = 0;
        gw_conn_eof(&c->conn, now);
    } else if (!transient(errno)) {
        gw_log(GW_LOG_DEBUG, "recv peer=%s: %s", c->peer, strerror(errno));
        gw_conn_abort(&c->conn, GW_CLOSE_IO);
    }
    return 0;
}

/* A large request moves in up to READ_ROUNDS full buffers per select()
 * pass instead of one, which saves a select() per 16 KiB; the bound
 * keeps one fast sender from holding the loop. */
static void do_read(client *c, gw_time now)
{
    int round;

    for (round = 0; round < READ_ROUNDS; round++)
        if (!read_once(c, now))
            return;
}

static void do_write(client *c, gw_time now)
{
    size_t len;
    const unsigned char *p = gw_conn_output(&c->conn, &len);
    ssize_t n;

    if (len == 0 || !gw_conn_want_write(&c->conn))
        return;
    n = send(c->fd, p, len, MSG_NOSIGNAL);
    if (n > 0) {
        c->loop->st.bytes_out += (uint64_t)n;
        gw_conn_output_done(&c->conn, (size_t)n, now);
    } else if (n < 0 && !transient(errno)) {
        gw_log(GW_LOG_DEBUG, "send peer=%s: %s", c->peer, strerror(errno));
        gw_conn_abort(&c->conn, GW_CLOSE_IO);
    }
}

/* ------------------------------------------------ relay mode */

static void up_close(client *c)
{
    if (c->up_fd < 0)
        return;
    close(c->up_fd);
    c->up_fd = -1;
    c->up_polled = 0;
    c->uin_off = 0;
    c->uin_len = 0;
}

/* Open a non-blocking connection: a request's first goes to the next
 * upstream in turn, its retries to the ones after it, so every upstream
 * is tried whatever other clients do meanwhile. */
static void up_connect(client *c, gw_time now)
{
    gw_loop *l = c->loop;
    unsigned attempt = gw_conn_upstream_attempt(&c->conn);
    const gw_upstream *u;
    int one = 1, fd, err;

    if (attempt == 0)
        c->up_base = l->next_up++;
    u = &l->cfg.upstreams[(c->up_base + attempt) % l->cfg.n_upstreams];

    gw_conn_upstream_connecting(&c->conn, now);
    l->st.up_connects++;
    c->up = u;
    if (c->uin == NULL && (c->uin = malloc(GW_READ_CHUNK)) == NULL) {
        err = ENOMEM;
        goto fail;
    }
    fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0) {
        err = errno;
        goto fail;
    }
    if (fd >= FD_SETSIZE) {
        close(fd);
        err = EMFILE;
        goto fail;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->up_fd = fd;
    if (connect(fd, (const struct sockaddr *)&u->addr, u->addr_len) == 0) {
        gw_conn_upstream_connected(&c->conn, now);
        return;
    }
    err = errno;
    if (err == EINPROGRESS || err == EINTR)
        return;
    up_close(c);
fail:
    gw_log(GW_LOG_INFO, "upstream %s for peer=%s: connect: %s", u->name,
           c->peer, strerror(err));
    l->st.up_errors++;
    gw_conn_upstream_error(&c->conn, now);
}

/* The upstream socket was writable while connecting. */
static void up_connect_done(client *c, gw_time now)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int err = 0;
    socklen_t el = sizeof err;

    if (getsockopt(c->up_fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
        err = errno;
    if (err == 0 &&
        getpeername(c->up_fd, (struct sockaddr *)&ss, &sl) != 0) {
        if (errno == ENOTCONN)
            return;             /* not finished after all */
        err = errno;
    }
    if (err == 0) {
        gw_conn_upstream_connected(&c->conn, now);
        return;
    }
    gw_log(GW_LOG_INFO, "upstream %s for peer=%s: connect: %s", c->up->name,
           c->peer, strerror(err));
    c->loop->st.up_errors++;
    up_close(c);
    gw_conn_upstream_error(&c->conn, now);
}

static void up_io_error(client *c, const char *what, int err, gw_time now)
{
    gw_log(GW_LOG_INFO, "upstream %s for peer=%s: %s: %s", c->up->name,
           c->peer, what, strerror(err));
    c->loop->st.up_errors++;
    up_close(c);
    gw_conn_upstream_error(&c->conn, now);
}

/* Offer upstream bytes that were not consumed yet. */
static void up_feed(client *c, gw_time now)
{
    size_t used;

    if (c->uin_off == c->uin_len)
        return;
    used = gw_conn_upstream_input(&c->conn, c->uin + c->uin_off,
                                  c->uin_len - c->uin_off, now);
    c->uin_off += used;
    if (c->uin_off >= c->uin_len) {
        c->uin_off = 0;
        c->uin_len = 0;
    }
}

/* One recv() from the upstream; 1 when a full buffer was read and all
 * of it consumed, so that reading again may pay off (as read_once). */
static int up_read_once(client *c, gw_time now)
{
    ssize_t n;

    if (c->up_fd < 0 || c->uin_off != c->uin_len ||
        !gw_conn_upstream_want_read(&c->conn))
        return 0;
    n = recv(c->up_fd, c->uin, GW_READ_CHUNK, 0);
    if (n > 0) {
        c->uin_off = 0;
        c->uin_len = (size_t)n;
        up_feed(c, now);
        return (size_t)n == GW_READ_CHUNK && c->uin_len == 0;
    }
    if (n == 0) {
        up_close(c);
        gw_conn_upstream_eof(&c->conn, now);
    } else if (!transient(errno)) {
        up_io_error(c, "recv", errno, now);
    }
    return 0;
}

/* Large answers move in up to READ_ROUNDS buffers per pass, as large
 * requests do (see do_read); sending them on happens in between. */
static void up_read(client *c, gw_time now)
{
    int round;

    for (round = 0; round < READ_ROUNDS; round++) {
        if (!up_read_once(c, now))
            return;
        do_write(c, now);
    }
}

static void up_write(client *c, gw_time now)
{
    size_t len;
    const unsigned char *p = gw_conn_upstream_output(&c->conn, &len);
    ssize_t n;

    if (len == 0 || c->up_fd < 0)
        return;
    n = send(c->up_fd, p, len, MSG_NOSIGNAL);
    if (n > 0)
        gw_conn_upstream_done(&c->conn, (size_t)n, now);
    else if (n < 0 && !transient(errno))
        up_io_error(c, "send", errno, now);
}

/* Hold the upstream socket the state machine asks for. */
static void up_sync(client *c, gw_time now)
{
    if (c->up_fd >= 0 && gw_conn_upstream_state(&c->conn) == GW_UP_NONE)
        up_close(c);
    if (c->up_fd < 0 && gw_conn_want_connect(&c->conn))
        up_connect(c, now);
}

/* Everything a settle round can change, to see when it stops moving. */
typedef struct snapshot {
    size_t out, up_out, in_off, in_len, uin_off, uin_len;
    int up_fd;
    gw_up_state up;
    gw_conn_state_t state;
} snapshot;

static void snap(const client *c, snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->out = gw_conn_pending(&c->conn);
    gw_conn_upstream_output(&c->conn, &s->up_out);
    s->in_off = c->in_off;
    s->in_len = c->in_len;
    s->uin_off = c->uin_off;
    s->uin_len = c->uin_len;
    s->up_fd = c->up_fd;
    s->up = gw_conn_upstream_state(&c->conn);
    s->state = gw_conn_state(&c->conn);
}

static void settle_relay(client *c, gw_time now)
{
    snapshot before, after;
    int i;

    for (i = 0; i < SETTLE_ROUNDS; i++) {
        snap(c, &before);
        do_write(c, now);
        up_sync(c, now);
        up_write(c, now);
        up_feed(c, now);
        if (c->in_off != c->in_len && gw_conn_want_read(&c->conn))
            feed(c, now);
        up_sync(c, now);
        snap(c, &after);
        if (memcmp(&before, &after, sizeof before) == 0)
            break;
    }
}

/* Move a client along after an event: send what waits, consume input
 * held back by backpressure, and act on the state machine's state. */
static void settle(client *c, gw_time now)
{
    int i;

    if (c->loop->cfg.conn.relay)
        settle_relay(c, now);
    for (i = 0; i < SETTLE_ROUNDS; i++) {
        size_t before = gw_conn_pending(&c->conn);

        do_write(c, now);
        if (c->in_off == c->in_len || !gw_conn_want_read(&c->conn))
            break;
        feed(c, now);
        if (gw_conn_pending(&c->conn) == before && c->in_off == c->in_len)
            break;
    }
    switch (gw_conn_state(&c->conn)) {
    case GW_CONN_OPEN:
        break;
    case GW_CONN_CLOSING:
        if (gw_conn_pending(&c->conn) == 0)
            c->dead = 1;
        break;
    case GW_CONN_LINGER:
        if (gw_conn_pending(&c->conn) == 0) {
            /* Let the error frame arrive before any reset: stop sending,
             * keep reading until the client closes or time is up. */
            shutdown(c->fd, SHUT_WR);
            c->in_off = 0;
            c->in_len = 0;
            gw_conn_drain(&c->conn, now);
            if (gw_conn_state(&c->conn) == GW_CONN_CLOSED)
                c->dead = 1;
        }
        break;
    case GW_CONN_DRAINING:
        c->in_off = 0;
        c->in_len = 0;
        break;
    case GW_CONN_CLOSED:
        c->dead = 1;
        break;
    }
}

static void close_client(gw_loop *l, client *c)
{
    gw_close_reason why = gw_conn_reason(&c->conn);
    gw_log_level lvl = GW_LOG_DEBUG;

    if (why == GW_CLOSE_REQUEST_TIMEOUT || why == GW_CLOSE_IDLE_TIMEOUT ||
        why == GW_CLOSE_WRITE_TIMEOUT || why == GW_CLOSE_NOMEM)
        lvl = GW_LOG_INFO;
    gw_log(lvl, "close peer=%s reason=%s requests=%" PRIu64, c->peer,
           gw_close_reason_name(why), c->conn.requests);
    if ((unsigned)why < GW_CLOSE_REASON_COUNT)
        l->st.closed[why]++;
    l->clients[c->fd] = NULL;
    l->n_clients--;
    close(c->fd);
    up_close(c);
    free(c->uin);
    gw_conn_free(&c->conn);
    free(c);
}

static void reap(gw_loop *l)
{
    int fd, top = -1;

    for (fd = 0; fd <= l->max_fd; fd++) {
        client *c = l->clients[fd];

        if (c == NULL)
            continue;
        if (c->dead)
            close_client(l, c);
        else
            top = fd;
    }
    l->max_fd = top;
}

void gw_loop_stop(gw_loop *l)
{
    gw_time now = gw_now();
    size_t i;
    int fd;

    if (l->stopping)
        return;
    l->stopping = 1;
    l->stop_deadline = now + l->cfg.stop_timeout;
    /* New connections go to another worker or get refused. */
    for (i = 0; i < l->cfg.n_listen; i++) {
        close(l->cfg.listen_fds[i]);
        l->cfg.listen_fds[i] = -1;
    }
    for (fd = 0; fd <= l->max_fd; fd++) {
        if (l->clients[fd] != NULL)
            gw_conn_shutdown(&l->clients[fd]->conn, now);
    }
    gw_log(GW_LOG_NOTICE, "stopping: %zu connections to finish",
           l->n_clients);
}

/* The upstream socket's readiness from this pass's select(). */
static void up_events(client *c, fd_set *rs, fd_set *ws, gw_time now)
{
    int fd = c->up_fd;

    if (fd < 0)
        return;
    if (FD_ISSET(fd, ws)) {
        if (gw_conn_upstream_state(&c->conn) == GW_UP_CONNECTING)
            up_connect_done(c, now);
        else
            up_write(c, now);
    }
    if (c->up_fd == fd && FD_ISSET(fd, rs))
        up_read(c, now);
}

static gw_time pass_deadline(gw_loop *l, fd_set *rs, fd_set *ws, int *nfds,
                             gw_time now)
{
    gw_time deadline = GW_TIME_NEVER;
    size_t i;
    int fd;

    FD_ZERO(rs);
    FD_ZERO(ws);
    *nfds = 0;
    if (!l->stopping) {
        if (now >= l->accept_paused_until) {
            for (i = 0; i < l->cfg.n_listen; i++) {
                fd = l->cfg.listen_fds[i];
                if (fd < 0 || fd >= FD_SETSIZE)
                    continue;
                FD_SET(fd, rs);
                if (fd >= *nfds)
                    *nfds = fd + 1;
            }
        } else {
            deadline = l->accept_paused_until;
        }
    } else if (l->stop_deadline < deadline) {
        deadline = l->stop_deadline;
    }
    if (l->cfg.wake_fd >= 0 && l->cfg.wake_fd < FD_SETSIZE) {
        FD_SET(l->cfg.wake_fd, rs);
        if (l->cfg.wake_fd >= *nfds)
            *nfds = l->cfg.wake_fd + 1;
    }
    for (fd = 0; fd <= l->max_fd; fd++) {
        client *c = l->clients[fd];
        gw_time d;

        if (c == NULL)
            continue;
        if (gw_conn_want_read(&c->conn) && c->in_off == c->in_len)
            FD_SET(fd, rs);
        if (gw_conn_want_write(&c->conn))
            FD_SET(fd, ws);
        if (fd >= *nfds)
            *nfds = fd + 1;
        c->up_polled = 0;
        if (c->up_fd >= 0) {
            if (gw_conn_upstream_state(&c->conn) == GW_UP_CONNECTING ||
                gw_conn_upstream_want_write(&c->conn))
                FD_SET(c->up_fd, ws);
            if (gw_conn_upstream_want_read(&c->conn) &&
                c->uin_off == c->uin_len)
                FD_SET(c->up_fd, rs);
            if (c->up_fd >= *nfds)
                *nfds = c->up_fd + 1;
            c->up_polled = 1;
        }
        d = gw_conn_deadline(&c->conn);
        if (d < deadline)
            deadline = d;
    }
    return deadline;
}

int gw_loop_run(gw_loop *l)
{
    fd_set rs, ws;
    struct timeval tv, *tvp;
    gw_time now, deadline;
    size_t i;
    int nfds, fd, top, rc;

    for (;;) {
        now = gw_now();
        if (l->stopping && (l->n_clients == 0 || now >= l->stop_deadline))
            break;
        deadline = pass_deadline(l, &rs, &ws, &nfds, now);
        tvp = NULL;
        if (deadline != GW_TIME_NEVER) {
            gw_time wait = deadline > now ? deadline - now : 0;

            tv.tv_sec = (time_t)(wait / 1000000);
            tv.tv_usec = (suseconds_t)(wait % 1000000);
            tvp = &tv;
        }
        rc = select(nfds, &rs, &ws, NULL, tvp);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            gw_log(GW_LOG_ERROR, "select: %s", strerror(errno));
            return -1;
        }
        now = gw_now();
        top = l->max_fd;
        if (l->cfg.wake_fd >= 0 && rc > 0 && FD_ISSET(l->cfg.wake_fd, &rs) &&
            l->cfg.on_wake != NULL)
            l->cfg.on_wake(l->cfg.wake_ctx);
        for (i = 0; i < l->cfg.n_listen && rc > 0 && !l->stopping; i++) {
            fd = l->cfg.listen_fds[i];
            if (fd >= 0 && fd < FD_SETSIZE && FD_ISSET(fd, &rs))
                accept_batch(l, fd, now);
        }
        /* Only clients that existed when the sets were built. */
        for (fd = 0; fd <= top; fd++) {
            client *c = l->clients[fd];

            if (c == NULL || c->dead)
                continue;
            if (rc > 0 && c->up_polled)
                up_events(c, &rs, &ws, now);
            if (rc > 0 && FD_ISSET(fd, &ws))
                do_write(c, now);
            if (rc > 0 && FD_ISSET(fd, &rs))
                do_read(c, now);
            gw_conn_tick(&c->conn, now);
            settle(c, now);
        }
        reap(l);
    }
    return 0;
}

void gw_loop_free(gw_loop *l)
{
    int fd;

    if (l == NULL)
        return;
    for (fd = 0; fd <= l->max_fd; fd++) {
        if (l->clients[fd] == NULL)
            continue;
        if (gw_conn_reason(&l->clients[fd]->conn) == GW_CLOSE_NONE)
            gw_conn_abort(&l->clients[fd]->conn, GW_CLOSE_SHUTDOWN);
        close_client(l, l->clients[fd]);
    }
    if (l->reserve_fd >= 0)
        close(l->reserve_fd);
    free(l);
}
