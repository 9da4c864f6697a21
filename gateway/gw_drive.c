/* gw_drive.c - the one loop that moves a connection's bytes (gw_drive.h). */
#include "gw_drive.h"

/* What the driver knows of the two sockets during one call. */
typedef struct drive {
    gw_conn *c;
    const gw_io *io;
    unsigned ready;         /* reported by the poller, still believed */
    unsigned can;           /* ready plus writes not yet refused */
    int reads[2];           /* full reads per end */
    gw_time now;
} drive;

static unsigned in_bit(gw_end e)
{
    return e == GW_CLIENT ? GW_READY_CLIENT_IN : GW_READY_UP_IN;
}

static unsigned out_bit(gw_end e)
{
    return e == GW_CLIENT ? GW_READY_CLIENT_OUT : GW_READY_UP_OUT;
}

static void write_end(drive *d, gw_end e)
{
    size_t len;
    const unsigned char *p = gw_conn_output(d->c, e, &len);
    long n;

    if (len == 0)
        return;
    n = d->io->write(d->io->ctx, e, p, len);
    if (n > 0) {
        gw_conn_sent(d->c, e, (size_t)n > len ? len : (size_t)n, d->now);
        if ((size_t)n < len)
            d->can &= ~out_bit(e);      /* the socket's buffer is full */
        return;
    }
    d->can &= ~out_bit(e);
    if (n == GW_IO_ERROR)
        gw_conn_error(d->c, e, d->now);
}

static void read_end(drive *d, gw_end e)
{
    long n = d->io->read(d->io->ctx, e, d->io->buf, d->io->buf_len);

    if (n > 0) {
        d->reads[e]++;
        if ((size_t)n < d->io->buf_len)
            d->can &= ~in_bit(e);       /* most likely all there was */
        gw_conn_input(d->c, e, d->io->buf, (size_t)n, d->now);
        return;
    }
    d->can &= ~in_bit(e);
    if (n == 0)
        gw_conn_eof(d->c, e, d->now);
    else if (n == GW_IO_ERROR)
        gw_conn_error(d->c, e, d->now);
}

static void connect_up(drive *d)
{
    int rc;

    gw_conn_upstream(d->c, GW_UP_EV_CONNECTING, d->now);
    rc = d->io->connect(d->io->ctx, gw_conn_upstream_attempt(d->c));
    d->ready &= ~(GW_READY_UP_IN | GW_READY_UP_OUT);
    d->can &= ~GW_READY_UP_IN;
    d->can |= GW_READY_UP_OUT;
    if (rc == 1)
        gw_conn_upstream(d->c, GW_UP_EV_CONNECTED, d->now);
    else if (rc < 0)
        gw_conn_error(d->c, GW_UPSTREAM, d->now);
}

static void connect_done(drive *d)
{
    int rc = d->io->connect_done(d->io->ctx);

    d->ready &= ~GW_READY_UP_OUT;
    if (rc == 1)
        gw_conn_upstream(d->c, GW_UP_EV_CONNECTED, d->now);
    else if (rc < 0)
        gw_conn_error(d->c, GW_UPSTREAM, d->now);
}

/* Do one thing c wants that can be done; 0 when there is none. */
static int step(drive *d, unsigned want)
{
    if (want & GW_WANT_CLOSE_UP) {
        d->io->close_up(d->io->ctx);
        d->ready &= ~(GW_READY_UP_IN | GW_READY_UP_OUT);
        d->can &= ~(GW_READY_UP_IN | GW_READY_UP_OUT);
        gw_conn_upstream(d->c, GW_UP_EV_CLOSED, d->now);
    } else if (want & GW_WANT_CONNECT_UP) {
        connect_up(d);
    } else if ((want & GW_WANT_CONNECTING_UP) &&
               (d->ready & GW_READY_UP_OUT)) {
        connect_done(d);
    } else if ((want & GW_WANT_WRITE_CLIENT) &&
               (d->can & GW_READY_CLIENT_OUT)) {
        write_end(d, GW_CLIENT);
    } else if ((want & GW_WANT_WRITE_UP) && (d->can & GW_READY_UP_OUT)) {
        write_end(d, GW_UPSTREAM);
    } else if ((want & GW_WANT_READ_UP) && (d->can & GW_READY_UP_IN) &&
               d->reads[GW_UPSTREAM] < GW_DRIVE_READS) {
        read_end(d, GW_UPSTREAM);
    } else if ((want & GW_WANT_READ_CLIENT) &&
               (d->can & GW_READY_CLIENT_IN) &&
               d->reads[GW_CLIENT] < GW_DRIVE_READS) {
        read_end(d, GW_CLIENT);
    } else if (want & GW_WANT_SHUT_CLIENT) {
        /* Let the error frame arrive before any reset: stop sending,
         * keep reading until the client closes or time is up. */
        d->io->shut(d->io->ctx);
        d->can &= ~GW_READY_CLIENT_OUT;
        gw_conn_drain(d->c, d->now);
    } else {
        return 0;
    }
    return 1;
}

unsigned gw_drive(gw_conn *c, const gw_io *io, unsigned ready, gw_time now)
{
    drive d;
    unsigned want;
    int i;

    d.c = c;
    d.io = io;
    d.ready = ready;
    d.can = ready | GW_READY_CLIENT_OUT | GW_READY_UP_OUT;
    d.reads[GW_CLIENT] = 0;
    d.reads[GW_UPSTREAM] = 0;
    d.now = now;
    for (i = 0; i < GW_DRIVE_STEPS; i++) {
        want = gw_conn_poll(c, NULL);
        if ((want & GW_WANT_CLOSE) || !step(&d, want))
            break;
    }
    return gw_conn_poll(c, NULL);
}
