/* gw_sockio.c - gw_drive's functions over sockets: one read path and
 * one write path for any socket, client or upstream, and the connect of
 * a pool connection (see gw_loop_int.h). */
#include "gw_loop_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_log.h"

static int transient(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* A client's socket errors are logged at debug; an upstream's at info,
 * but a probe's at debug: a down upstream probed every --upstream-check
 * would repeat the same line (its state changes are logged at warn). */
static void io_failed(const endpoint *ep, const char *what, int err)
{
    if (ep->up == NULL)
        gw_log(GW_LOG_DEBUG, "%s peer=%s: %s", what, gw_loop_name(ep),
               strerror(err));
    else
        gw_log(gw_upconn_is_probe(ep->up) ? GW_LOG_DEBUG : GW_LOG_INFO,
               "upstream %s: %s: %s", gw_loop_name(ep), what,
               strerror(err));
}

static long sys_read(void *ctx, void *buf, size_t cap)
{
    endpoint *ep = ctx;
    ssize_t n = recv(ep->fd, buf, cap, 0);

    if (n >= 0) {
        if (ep->up == NULL)
            ep->loop->slot->st.bytes_in += (uint64_t)n;
        return (long)n;
    }
    if (transient(errno))
        return GW_IO_AGAIN;
    io_failed(ep, "recv", errno);
    return GW_IO_ERROR;
}

static long sys_write(void *ctx, const struct iovec *iov, int cnt)
{
    endpoint *ep = ctx;
    struct msghdr msg;
    ssize_t n;

    /* One buffer (a client's answers): send(2), which spares the
     * kernel copying in and checking a message header and a vector. */
    if (cnt == 1) {
        n = send(ep->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    } else {
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = (struct iovec *)iov;
        msg.msg_iovlen = (size_t)cnt;
        n = sendmsg(ep->fd, &msg, MSG_NOSIGNAL);
    }
    if (n > 0) {
        if (ep->up == NULL)
            ep->loop->slot->st.bytes_out += (uint64_t)n;
        return (long)n;
    }
    if (n == 0 || transient(errno))
        return GW_IO_AGAIN;
    io_failed(ep, "send", errno);
    return GW_IO_ERROR;
}

static void sys_shut(void *ctx)
{
    endpoint *ep = ctx;

    shutdown(ep->fd, SHUT_WR);
}

/* A non-blocking connection to the pool connection's upstream. */
static int sys_connect(void *ctx)
{
    endpoint *ep = ctx;
    gw_loop *l = ep->loop;
    const gw_upstream *u = &l->cfg.upstreams[gw_upconn_upstream(ep->up)];
    int one = 1, fd, err;

    fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0) {
        err = errno;
        io_failed(ep, "connect", err);
        return err == EMFILE || err == ENFILE || err == ENOBUFS ||
               err == ENOMEM ? GW_IO_LOCAL : GW_IO_ERROR;
    }
    if (gw_loop_own(l, fd, ep) != 0) {
        close(fd);
        io_failed(ep, "connect", ENOMEM);
        return GW_IO_LOCAL;
    }
    ep->fd = fd;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)&u->addr, u->addr_len) == 0)
        return 1;
    err = errno;
    if (err == EINPROGRESS || err == EINTR)
        return 0;
    io_failed(ep, "connect", err);
    return GW_IO_ERROR;
}

/* The socket was writable while connecting. */
static int sys_connect_done(void *ctx)
{
    endpoint *ep = ctx;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int err = 0;
    socklen_t el = sizeof err;

    if (getsockopt(ep->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
        err = errno;
    if (err == 0 && getpeername(ep->fd, (struct sockaddr *)&ss, &sl) != 0) {
        if (errno == ENOTCONN)
            return 0;           /* not finished after all */
        err = errno;
    }
    if (err == 0)
        return 1;
    io_failed(ep, "connect", err);
    return GW_IO_ERROR;
}

void gw_sockio_init(gw_io *io)
{
    io->read = sys_read;
    io->write = sys_write;
    io->connect = sys_connect;
    io->connect_done = sys_connect_done;
    io->shut = sys_shut;
}

size_t gw_sock_unsent(int fd)
{
    int n = 0;

    if (ioctl(fd, SIOCOUTQ, &n) != 0 || n < 0)
        return 0;
    return (size_t)n;
}
