/*
 * gw_memio.h - gw_drive's functions over memory: the peers of a
 * connection played by a test or a fuzzer.
 *
 * Each end (client, upstream) is a peer with a queue of bytes it sends
 * (the connection reads them) and a sink of bytes it received (the
 * connection wrote them). The caller decides how the peers behave:
 * how many queued bytes are readable now, how many bytes a write may
 * take before the socket "blocks", when a peer ends its stream or a
 * socket fails, and what a connect does. Then gw_drive moves the bytes
 * exactly as it does for real sockets.
 *
 * Ownership: gw_memio owns its queues and sinks (freed by
 * gw_memio_free); pointers into them live until the next call that
 * changes them.
 */
#ifndef GW_MEMIO_H
#define GW_MEMIO_H

#include <stddef.h>
#include <stdint.h>

#include "gw_buf.h"
#include "gw_drive.h"

/* Bytes a read may take at most: as the event loop's buffer. */
#define GW_MEMIO_READ 16384

typedef struct gw_memio_peer {
    gw_buf queue;           /* bytes the peer sends, not read yet */
    size_t readable;        /* of queue, readable now (SIZE_MAX: all) */
    size_t read_max;        /* most bytes one read returns (0: any) */
    int eof;                /* once queue is empty: end of stream */
    int fail;               /* the next read or write fails */
    gw_buf sink;            /* bytes the peer received */
    size_t sink_max;        /* sink keeps at most this (0: no limit);
                               bytes beyond it are counted, not kept */
    uint64_t received;      /* bytes written to the peer in all */
    size_t budget;          /* bytes writes may still take (SIZE_MAX:
                               any); at 0 a write would block */
    size_t write_max;       /* most bytes one write takes (0: any) */
    int shut;               /* the connection shut its write side */
} gw_memio_peer;

typedef struct gw_memio {
    gw_io io;               /* hand this to gw_drive */
    gw_memio_peer peer[2];  /* indexed by gw_end */
    int up_open;            /* an upstream "socket" is held */
    int up_connected;       /*   and its connect finished */
    int connect_result;     /* what connect returns: 1, 0 or
                               GW_IO_ERROR */
    int connect_done_result;/* what connect_done returns */
    unsigned connects;      /* connects asked for */
    unsigned closes;        /* upstream sockets closed */
    unsigned last_attempt;  /* attempt of the last connect */
    uint64_t moves;         /* calls that moved something */
    /* Called when the connection opens (attempt) or closes the upstream
     * socket, so a caller can play a new upstream per connection; may be
     * NULL. on_connect comes after the previous peer's bytes are gone
     * and before connect_result is read; on_close before the closed
     * peer's unread bytes are dropped. */
    void (*on_connect)(void *user, unsigned attempt);
    void (*on_close)(void *user);
    /* Called after every read (write 0) or write (write 1) that moved n
     * bytes on end e, so a caller sees them in the order they happen;
     * may be NULL. */
    void (*on_io)(void *user, gw_end e, int write, size_t n);
    void *user;
    unsigned char buf[GW_MEMIO_READ];
} gw_memio;

/* Peers that send nothing yet, take every write, and connect at once. */
void gw_memio_init(gw_memio *m);
void gw_memio_free(gw_memio *m);

/* Queue bytes the peer at end e sends (readable at once unless
 * readable was lowered). 0, or -1 when memory runs out. */
int gw_memio_send(gw_memio *m, gw_end e, const void *p, size_t n);

/* What the connection wrote to end e since the last take: pointer and
 * length; gw_memio_take drops them. */
const unsigned char *gw_memio_sink(const gw_memio *m, gw_end e,
                                   size_t *len);
void gw_memio_take(gw_memio *m, gw_end e);

/* Drive c until it stands still: every step reports what it can, as
 * the poller would for a socket that has bytes (queued and readable) or
 * room (budget), at most rounds calls of gw_drive. Returns the last
 * gw_conn_poll mask. */
unsigned gw_memio_settle(gw_memio *m, gw_conn *c, gw_time now,
                         int rounds);

#endif /* GW_MEMIO_H */
