/* gw_drive.c - the one loop that moves an endpoint's bytes (gw_drive.h),
 * and the two kinds of endpoint as it sees them. */
#include "gw_drive.h"

#include "gw_conn.h"
#include "gw_pool.h"

/* What the driver knows of the socket during one call. */
typedef struct drive {
    void *ep;
    const gw_ep_ops *ops;
    const gw_io *io;
    unsigned ready;         /* reported by the poller, still believed */
    unsigned can;           /* ready plus writes not yet refused */
    int reads;              /* full reads so far */
    int write_failed;       /* to report once reads are done */
    gw_time now;
} drive;

static void write_out(drive *d)
{
    struct iovec iov[GW_DRIVE_IOV];
    int cnt = d->ops->output(d->ep, iov, GW_DRIVE_IOV), i;
    size_t len = 0;
    long n;

    for (i = 0; i < cnt; i++)
        len += iov[i].iov_len;
    if (len == 0)
        return;
    n = d->io->write(d->io->ctx, iov, cnt);
    if (n > 0) {
        d->ops->sent(d->ep, (size_t)n > len ? len : (size_t)n, d->now);
        if ((size_t)n < len)
            d->can &= ~GW_READY_OUT;    /* the socket's buffer is full */
        return;
    }
    d->can &= ~GW_READY_OUT;
    if (n != GW_IO_ERROR)
        return;
    if (d->ops->read_after_write_error) {
        d->write_failed = 1;
        d->can |= GW_READY_IN;      /* a reset socket reads at once */
        return;
    }
    d->ops->error(d->ep, d->now);
}

static void read_in(drive *d)
{
    long n = d->io->read(d->io->ctx, d->io->buf, d->io->buf_len);

    if (n > 0) {
        d->reads++;
        if ((size_t)n < d->io->buf_len)
            d->can &= ~GW_READY_IN;     /* most likely all there was */
        d->ops->input(d->ep, d->io->buf, (size_t)n, d->now);
        return;
    }
    d->can &= ~GW_READY_IN;
    if (n == 0) {
        d->ops->eof(d->ep, d->now);
    } else if (n == GW_IO_ERROR) {
        d->write_failed = 0;        /* this says it */
        d->ops->error(d->ep, d->now);
    }
}

static void connect_to(drive *d)
{
    int rc = d->io->connect(d->io->ctx);

    d->ready = 0;
    d->can = GW_READY_OUT;
    if (rc == GW_IO_LOCAL) {
        d->ops->event(d->ep, 2, d->now);    /* GW_UP_EV_NO_SOCKET */
        return;
    }
    d->ops->event(d->ep, 0, d->now);        /* GW_UP_EV_CONNECTING */
    if (rc == 1)
        d->ops->event(d->ep, 1, d->now);    /* GW_UP_EV_CONNECTED */
    else if (rc < 0)
        d->ops->error(d->ep, d->now);
}

static void connect_done(drive *d)
{
    int rc = d->io->connect_done(d->io->ctx);

    d->ready &= ~GW_READY_OUT;
    if (rc == 1)
        d->ops->event(d->ep, 1, d->now);
    else if (rc < 0)
        d->ops->error(d->ep, d->now);
}

/* Do one thing ep wants that can be done; 0 when there is none. */
static int step(drive *d, unsigned want)
{
    if (want & GW_WANT_CONNECT) {
        connect_to(d);
    } else if ((want & GW_WANT_CONNECTING) && (d->ready & GW_READY_OUT)) {
        connect_done(d);
    } else if ((want & GW_WANT_WRITE) && (d->can & GW_READY_OUT)) {
        write_out(d);
    } else if ((want & GW_WANT_READ) && (d->can & GW_READY_IN) &&
               d->reads < GW_DRIVE_READS) {
        read_in(d);
    } else if (want & GW_WANT_SHUT) {
        /* Let the error frame arrive before any reset: stop sending,
         * keep reading until the client closes or time is up. */
        d->io->shut(d->io->ctx);
        d->can &= ~GW_READY_OUT;
        d->ops->drain(d->ep, d->now);
    } else {
        return 0;
    }
    return 1;
}

unsigned gw_drive(void *ep, const gw_ep_ops *ops, const gw_io *io,
                  unsigned ready, gw_time now, gw_time *deadline)
{
    drive d;
    unsigned want;
    int i;

    d.ep = ep;
    d.ops = ops;
    d.io = io;
    d.ready = ready;
    d.can = ready | GW_READY_OUT;
    d.reads = 0;
    d.write_failed = 0;
    d.now = now;
    if (ops->settle != NULL)
        ops->settle(ep, now);
    /* The poll that finds nothing left to do is the answer. */
    for (i = 0;; i++) {
        want = ops->poll(ep, deadline);
        if (i == GW_DRIVE_STEPS || (want & GW_WANT_CLOSE) || !step(&d, want))
            break;
    }
    if (d.write_failed) {
        ops->error(ep, now);        /* what could be read was read */
        want = ops->poll(ep, deadline);
    }
    return want;
}

/* ---- a client connection ---- */

static unsigned conn_poll(const void *ep, gw_time *deadline)
{
    return gw_conn_poll(ep, deadline);
}

static void conn_settle(void *ep, gw_time now)
{
    gw_conn_settle(ep, now);
}

static void conn_input(void *ep, const void *p, size_t n, gw_time now)
{
    gw_conn_input(ep, p, n, now);
}

static void conn_eof(void *ep, gw_time now)
{
    gw_conn_eof(ep, now);
}

static void conn_error(void *ep, gw_time now)
{
    gw_conn_error(ep, now);
}

static int conn_output(const void *ep, struct iovec *iov, int max)
{
    size_t len;
    const unsigned char *p = gw_conn_output(ep, &len);

    if (len == 0 || max < 1)
        return 0;
    iov[0].iov_base = (void *)p;
    iov[0].iov_len = len;
    return 1;
}

static void conn_sent(void *ep, size_t n, gw_time now)
{
    gw_conn_sent(ep, n, now);
}

static void conn_drain(void *ep, gw_time now)
{
    gw_conn_drain(ep, now);
}

/* A client whose socket failed is gone: what it sent is not read (it
 * would be relayed for nobody). */
const gw_ep_ops gw_conn_ops = {
    conn_poll, conn_settle, conn_input, conn_eof, conn_error, conn_output,
    conn_sent, NULL, conn_drain, 0
};

/* ---- a pool connection to an upstream ---- */

static unsigned up_poll(const void *ep, gw_time *deadline)
{
    return gw_upconn_poll(ep, deadline);
}

static void up_settle(void *ep, gw_time now)
{
    gw_upconn_settle(ep, now);
}

static void up_input(void *ep, const void *p, size_t n, gw_time now)
{
    gw_upconn_input(ep, p, n, now);
}

static void up_eof(void *ep, gw_time now)
{
    gw_upconn_eof(ep, now);
}

static void up_error(void *ep, gw_time now)
{
    gw_upconn_error(ep, now);
}

static int up_output(const void *ep, struct iovec *iov, int max)
{
    return gw_upconn_output(ep, iov, max);
}

static void up_sent(void *ep, size_t n, gw_time now)
{
    gw_upconn_sent(ep, n, now);
}

static void up_event(void *ep, int ev, gw_time now)
{
    gw_upconn_event(ep, ev, now);
}

const gw_ep_ops gw_upconn_ops = {
    up_poll, up_settle, up_input, up_eof, up_error, up_output, up_sent,
    up_event, NULL, 1
};
