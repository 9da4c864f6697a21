/*
 * gw_drive.h - the one loop that moves a connection's bytes.
 *
 * gw_conn_poll says what a connection wants (GW_WANT_* bits); gw_drive
 * does it with the caller's functions until the connection wants nothing
 * that is ready. The event loop passes system calls (recv, send,
 * connect, close, shutdown) and the readiness its poller reported; the
 * unit tests and the session fuzzers pass functions over memory. Nothing
 * else drives a gw_conn.
 *
 * Readiness: reads happen only on an end reported readable; writes are
 * tried whenever output waits, until one says it would block (a socket
 * is writable until it says otherwise, so answers go out in the pass
 * that made them); a connect in progress is finished only once the
 * upstream is reported writable. At most GW_DRIVE_READS full reads are
 * made per end and call, so one fast peer cannot hold the loop.
 */
#ifndef GW_DRIVE_H
#define GW_DRIVE_H

#include <stddef.h>

#include "gw_conn.h"

/* What a read or write function returns besides a byte count. */
#define GW_IO_AGAIN (-1)    /* would block: wait for readiness */
#define GW_IO_ERROR (-2)    /* the socket failed: reset, refused, ... */

/* Full reads per end and gw_drive call. */
#define GW_DRIVE_READS 8

/* Steps per gw_drive call at most (reads, writes, connects...). */
#define GW_DRIVE_STEPS 64

/* Readiness the caller's poller reported, one bit each. */
#define GW_READY_CLIENT_IN  0x1u
#define GW_READY_CLIENT_OUT 0x2u
#define GW_READY_UP_IN      0x4u
#define GW_READY_UP_OUT     0x8u

typedef struct gw_io {
    /* Read up to cap bytes from end e into buf: the count (> 0), 0 at
     * end of stream, GW_IO_AGAIN or GW_IO_ERROR. */
    long (*read)(void *ctx, gw_end e, void *buf, size_t cap);
    /* Write up to len bytes to end e: the count (> 0), GW_IO_AGAIN or
     * GW_IO_ERROR. */
    long (*write)(void *ctx, gw_end e, const void *buf, size_t len);
    /* Relay: open a connection for the request's attempt-th try
     * (gw_conn_upstream_attempt): 1 connected, 0 in progress,
     * GW_IO_ERROR when it failed (no socket is then held). */
    int (*connect)(void *ctx, unsigned attempt);
    /* Relay: the connect in progress, once writable: 1 connected, 0 not
     * yet after all, GW_IO_ERROR failed. */
    int (*connect_done)(void *ctx);
    /* Relay: close the upstream socket (if one is held). */
    void (*close_up)(void *ctx);
    /* shutdown(SHUT_WR) on the client. */
    void (*shut)(void *ctx);
    void *ctx;
    unsigned char *buf;     /* where reads go; shared by connections */
    size_t buf_len;
} gw_io;

/* Move c's bytes as above at time now. ready: GW_READY_* bits. Returns
 * what c wants afterwards (gw_conn_poll). */
unsigned gw_drive(gw_conn *c, const gw_io *io, unsigned ready, gw_time now);

#endif /* GW_DRIVE_H */
