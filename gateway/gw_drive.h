/*
 * gw_drive.h - the one loop that moves an endpoint's bytes.
 *
 * An endpoint is whatever owns one socket and says what it wants of it
 * (gw_want.h): a client connection (gw_conn.h) or a pool connection to
 * an upstream (gw_pool.h). gw_drive does what the endpoint wants with
 * the caller's functions until it wants nothing that is ready. The event
 * loop passes system calls and the readiness its poller reported; the
 * unit tests and the session fuzzers pass functions over memory
 * (gw_memio.h). Nothing else moves an endpoint's bytes.
 *
 * Readiness: reads happen only on a socket reported readable; writes
 * are tried whenever bytes wait, until one says it would block (a socket
 * is writable until it says otherwise, so answers go out in the pass
 * that made them), several buffers at once (writev); a connect in
 * progress is finished only once the socket is reported writable. At
 * most GW_DRIVE_READS full reads are made per call, so one fast peer
 * cannot hold the loop.
 */
#ifndef GW_DRIVE_H
#define GW_DRIVE_H

#include <stddef.h>
#include <sys/uio.h>

#include "gw_time.h"
#include "gw_want.h"

/* What a read or write function returns besides a byte count. */
#define GW_IO_AGAIN (-1)    /* would block: wait for readiness */
#define GW_IO_ERROR (-2)    /* the socket failed: reset, refused, ... */
#define GW_IO_LOCAL (-3)    /* connect: no socket could be made here
                               (descriptors or memory ran out): not the
                               peer's fault */

/* Bytes one read takes at most: the size of the event loop's read
 * buffer (and gw_memio's). 64 KiB, as a TCP window's worth: a 1 MiB
 * content takes 16 reads instead of 64 at 16 KiB, a third less CPU. */
#define GW_DRIVE_READ_SIZE 65536

/* Full reads per gw_drive call: GW_DRIVE_READS * GW_DRIVE_READ_SIZE
 * (256 KiB) is the most one endpoint moves in before the loop goes on. */
#define GW_DRIVE_READS 4

/* Steps per gw_drive call at most (reads, writes, connects...). */
#define GW_DRIVE_STEPS 64

/* Buffers one write may take. */
#define GW_DRIVE_IOV 64

/* Readiness the caller's poller reported. */
#define GW_READY_IN  0x1u
#define GW_READY_OUT 0x2u

/* An endpoint, as the driver sees it. Functions an endpoint does not
 * need are NULL. */
typedef struct gw_ep_ops {
    unsigned (*poll)(const void *ep, gw_time *deadline);
    void (*settle)(void *ep, gw_time now);  /* before anything else */
    void (*input)(void *ep, const void *p, size_t n, gw_time now);
    void (*eof)(void *ep, gw_time now);
    void (*error)(void *ep, gw_time now);
    /* Bytes to send: up to max buffers; the count. */
    int (*output)(const void *ep, struct iovec *iov, int max);
    void (*sent)(void *ep, size_t n, gw_time now);
    /* GW_UP_EV_CONNECTING, _CONNECTED, _NO_SOCKET (gw_relay.h). */
    void (*event)(void *ep, int ev, gw_time now);
    /* The write side was shut (GW_WANT_SHUT). */
    void (*drain)(void *ep, gw_time now);
    /* A failed write is reported (error) only once what can still be
     * read is read: an upstream that answered before it had read the
     * whole request and then reset left its answer in the socket. */
    int read_after_write_error;
} gw_ep_ops;

/* The two kinds of endpoint (gw_drive.c). */
extern const gw_ep_ops gw_conn_ops;
extern const gw_ep_ops gw_upconn_ops;

typedef struct gw_io {
    /* Read up to cap bytes into buf: the count (> 0), 0 at end of
     * stream, GW_IO_AGAIN or GW_IO_ERROR. */
    long (*read)(void *ctx, void *buf, size_t cap);
    /* Write from cnt buffers: the count (> 0), GW_IO_AGAIN or
     * GW_IO_ERROR. */
    long (*write)(void *ctx, const struct iovec *iov, int cnt);
    /* Open the socket (GW_WANT_CONNECT): 1 connected, 0 in progress,
     * GW_IO_ERROR when it failed, GW_IO_LOCAL when there was no socket
     * to try with. */
    int (*connect)(void *ctx);
    /* The connect in progress, once writable: 1 connected, 0 not yet
     * after all, GW_IO_ERROR failed. */
    int (*connect_done)(void *ctx);
    /* shutdown(SHUT_WR). */
    void (*shut)(void *ctx);
    void *ctx;
    unsigned char *buf;     /* where reads go; shared by endpoints */
    size_t buf_len;
} gw_io;

/* Move ep's bytes as above at time now. ready: GW_READY_* bits. Returns
 * what ep wants afterwards (its poll), and its deadline in *deadline
 * when deadline is not NULL. */
unsigned gw_drive(void *ep, const gw_ep_ops *ops, const gw_io *io,
                  unsigned ready, gw_time now, gw_time *deadline);

#endif /* GW_DRIVE_H */
