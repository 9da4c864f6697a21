/*
 * gw_accept.c - new clients: accept a batch, refuse those over the cap
 * with a busy frame, shed the listen queue when descriptors run out
 * (see gw_loop.h for the rules).
 */
#define _GNU_SOURCE 1   /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_log.h"
#include "gw_loop_int.h"
#include "util.h"

/* Relay with --upstream-proxy-protocol: who connected to where. */
static void set_addresses(client *c, const struct sockaddr_storage *peer)
{
    struct sockaddr_storage local;
    socklen_t sl = sizeof local;
    gw_proxy_info a;

    memset(&a, 0, sizeof a);
    a.family = AF_UNSPEC;
    if (getsockname(c->ep.fd, (struct sockaddr *)&local, &sl) != 0 ||
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
    if (c == NULL || gw_loop_own(l, fd, &c->ep) != 0 ||
        gw_poller_set(l->poller, fd, GW_POLL_IN) != 0) {
        gw_log(GW_LOG_WARN, "accept: out of memory for descriptor %d", fd);
        l->slot->st.rejected_nomem++;
        if (c != NULL && fd < l->fds_cap)
            l->fds[fd] = NULL;
        free(c);
        close(fd);
        return;
    }
    gw_loop_ep_init(&c->ep, l, fd, NULL);
    util_addr_name((const struct sockaddr *)ss, c->peer, sizeof c->peer);
    if (gw_conn_init(&c->conn, &l->conn_cfg, c, now) != 0) {
        gw_log(GW_LOG_ERROR, "accept: invalid connection limits");
        gw_conn_free(&c->conn);
        gw_loop_release(l, fd);
        free(c);
        return;
    }
    if (l->cfg.pool.upstream_proxy)
        set_addresses(c, ss);
    l->n_clients++;
    l->slot->st.accepted++;
    gw_log(GW_LOG_DEBUG, "open peer=%s fd=%d conns=%zu", c->peer, fd,
           l->n_clients);
    gw_loop_enqueue(l, &c->ep);
}

/* Tell a client the server is full with the busy error frame, so it can
 * tell overload from a crash, and close it; count it in *counter. What
 * it already sent is read and dropped first: closing with bytes unread
 * would reset the connection and could destroy the frame. */
static void refuse(int fd, const gw_buf *busy, uint64_t *counter)
{
    unsigned char sink[512];
    int i;

    (*counter)++;
    if (send(fd, gw_buf_peek(busy), gw_buf_pending(busy),
             MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
        shutdown(fd, SHUT_WR);
        for (i = 0; i < 8 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0;
             i++)
            ;
    }
    close(fd);
}

/* A client over the connection cap. Under a flood of them, one line a
 * second says how many went unlogged since the last (the counters have
 * them all). */
static void reject(gw_loop *l, int fd, const struct sockaddr_storage *ss,
                   const char *why, gw_time now)
{
    char peer[GW_PEER_MAX];

    if (l->reject_logged != 0 && now - l->reject_logged < GW_SEC) {
        l->reject_unlogged++;
    } else {
        util_addr_name((const struct sockaddr *)ss, peer, sizeof peer);
        if (l->reject_unlogged > 0)
            gw_log(GW_LOG_WARN, "reject peer=%s: %s; %" PRIu64 " more "
                   "refused since the last such line", peer, why,
                   l->reject_unlogged);
        else
            gw_log(GW_LOG_WARN, "reject peer=%s: %s", peer, why);
        l->reject_logged = now;
        l->reject_unlogged = 0;
    }
    refuse(fd, &l->busy, &l->slot->st.rejected_cap);
}

/* Out of descriptors: give up the reserve to take the clients waiting
 * in the queue off it and refuse them, all of them (they would only wait
 * for a timeout), so the backlog does not wedge; then pause accepting.
 * Returns how many were refused. */
static int shed(gw_loop *l, int lfd, gw_time now)
{
    int fd, i;

    l->slot->st.accept_errors++;
    l->accept_paused_until = now + GW_ACCEPT_PAUSE;
    if (l->reserve_fd < 0)
        return 0;
    close(l->reserve_fd);
    for (i = 0; i < GW_SHED_MAX; i++) {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            break;
        refuse(fd, &l->busy, &l->slot->st.rejected_nofd);
    }
    l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return i;
}

void gw_loop_accept(gw_loop *l, int lfd, gw_time now)
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
            if (errno == EMFILE || errno == ENFILE) {
                int err = errno, n = shed(l, lfd, now);

                gw_log(GW_LOG_WARN, "accept: %s: %d waiting clients "
                       "refused with a busy frame, accepts paused",
                       strerror(err), n);
                return;
            }
            gw_log(GW_LOG_WARN, "accept: %s", strerror(errno));
            l->slot->st.accept_errors++;
            l->accept_paused_until = now + GW_ACCEPT_PAUSE;
            return;
        }
        if (l->n_clients >= l->cfg.max_conns || l->stopping) {
            snprintf(why, sizeof why, "%zu connections (cap %zu)",
                     l->n_clients, l->cfg.max_conns);
            reject(l, fd, &ss, why, now);
            continue;
        }
        add_client(l, fd, &ss, now);
    }
}
