/* gw_sockio.c - gw_drive's functions over sockets: one read path and
 * one write path for any socket, client or upstream, and the upstream
 * connect (see gw_loop_int.h). */
#include "gw_loop_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_log.h"

static int transient(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static int end_fd(const client *c, gw_end e)
{
    return e == GW_CLIENT ? c->fd : c->up_fd;
}

static void io_failed(client *c, gw_end e, const char *what, int err)
{
    if (e == GW_CLIENT) {
        gw_log(GW_LOG_DEBUG, "%s peer=%s: %s", what, c->peer,
               strerror(err));
        return;
    }
    gw_log(GW_LOG_INFO, "upstream %s for peer=%s: %s: %s",
           c->up != NULL ? c->up->name : "?", c->peer, what,
           strerror(err));
    c->loop->st.up_errors++;
}

static long sys_read(void *ctx, gw_end e, void *buf, size_t cap)
{
    client *c = ctx;
    ssize_t n = recv(end_fd(c, e), buf, cap, 0);

    if (n >= 0) {
        c->loop->st.bytes_in += (uint64_t)n;
        return (long)n;
    }
    if (transient(errno))
        return GW_IO_AGAIN;
    io_failed(c, e, "recv", errno);
    return GW_IO_ERROR;
}

static long sys_write(void *ctx, gw_end e, const void *buf, size_t len)
{
    client *c = ctx;
    ssize_t n = send(end_fd(c, e), buf, len, MSG_NOSIGNAL);

    if (n > 0) {
        c->loop->st.bytes_out += (uint64_t)n;
        return (long)n;
    }
    if (n == 0 || transient(errno))
        return GW_IO_AGAIN;
    io_failed(c, e, "send", errno);
    return GW_IO_ERROR;
}

static void sys_close_up(void *ctx)
{
    client *c = ctx;

    if (c->up_fd < 0)
        return;
    gw_loop_release(c->loop, c->up_fd);
    c->up_fd = -1;
}

static void sys_shut(void *ctx)
{
    client *c = ctx;

    shutdown(c->fd, SHUT_WR);
}

/* Open a non-blocking connection: a request's first goes to the next
 * upstream in turn, its retries to the ones after it, so every upstream
 * is tried whatever other clients do meanwhile. */
static int sys_connect(void *ctx, unsigned attempt)
{
    client *c = ctx;
    gw_loop *l = c->loop;
    const gw_upstream *u;
    int one = 1, fd, err;

    if (attempt == 0)
        c->up_base = l->next_up++;
    u = &l->cfg.upstreams[(c->up_base + attempt) % l->cfg.n_upstreams];
    c->up = u;
    l->st.up_connects++;
    fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0) {
        io_failed(c, GW_UPSTREAM, "connect", errno);
        return GW_IO_ERROR;
    }
    if (gw_loop_own(l, fd, c, GW_UPSTREAM) != 0) {
        close(fd);
        io_failed(c, GW_UPSTREAM, "connect", ENOMEM);
        return GW_IO_ERROR;
    }
    c->up_fd = fd;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)&u->addr, u->addr_len) == 0)
        return 1;
    err = errno;
    if (err == EINPROGRESS || err == EINTR)
        return 0;
    io_failed(c, GW_UPSTREAM, "connect", err);
    sys_close_up(c);
    return GW_IO_ERROR;
}

/* The upstream socket was writable while connecting. */
static int sys_connect_done(void *ctx)
{
    client *c = ctx;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int err = 0;
    socklen_t el = sizeof err;

    if (getsockopt(c->up_fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
        err = errno;
    if (err == 0 &&
        getpeername(c->up_fd, (struct sockaddr *)&ss, &sl) != 0) {
        if (errno == ENOTCONN)
            return 0;           /* not finished after all */
        err = errno;
    }
    if (err == 0)
        return 1;
    io_failed(c, GW_UPSTREAM, "connect", err);
    return GW_IO_ERROR;
}

void gw_sockio_init(gw_io *io)
{
    io->read = sys_read;
    io->write = sys_write;
    io->connect = sys_connect;
    io->connect_done = sys_connect_done;
    io->close_up = sys_close_up;
    io->shut = sys_shut;
}
