/*
 * gw_memio.h - gw_drive's functions over memory: the peers of the
 * gateway's endpoints played by a test or a fuzzer.
 *
 * A gw_memio is one socket: its peer has a queue of bytes it sends (the
 * endpoint reads them) and a sink of bytes it received (the endpoint
 * wrote them). The caller decides how the peer behaves: how many queued
 * bytes are readable now, how many bytes a write may take before the
 * socket "blocks", when the peer ends its stream or the socket fails,
 * and what a connect does. Then gw_drive moves the bytes exactly as it
 * does for real sockets.
 *
 * A gw_memnet is the event loop over memory: client connections, the
 * relay's pool and a gw_memio for each of the pool's connections, all
 * driven until nothing moves.
 *
 * Ownership: a gw_memio owns its queue and sink (gw_memio_free);
 * pointers into them live until the next call that changes them. A
 * gw_memnet owns the gw_memio of each pool connection, not the clients'.
 */
#ifndef GW_MEMIO_H
#define GW_MEMIO_H

#include <stddef.h>
#include <stdint.h>

#include "gw_buf.h"
#include "gw_conn.h"
#include "gw_drive.h"
#include "gw_pool.h"

typedef struct gw_memio {
    gw_io io;               /* hand this to gw_drive */
    gw_buf queue;           /* bytes the peer sends, not read yet */
    size_t readable;        /* of queue, readable now (SIZE_MAX: all) */
    size_t read_max;        /* most bytes one read returns (0: any) */
    int eof;                /* once queue is empty: end of stream */
    int fail;               /* the next read or write fails */
    int fail_write;         /* the next write fails: the peer reset,
                               and what it sent before (all of queue)
                               is readable from then on */
    gw_buf sink;            /* bytes the peer received */
    size_t sink_max;        /* sink keeps at most this (0: no limit);
                               bytes beyond it are counted, not kept */
    uint64_t received;      /* bytes written to the peer in all */
    size_t budget;          /* bytes writes may still take (SIZE_MAX:
                               any); at 0 a write would block */
    size_t write_max;       /* most bytes one write takes (0: any) */
    int shut;               /* the endpoint shut its write side */
    int connect_result;     /* what connect returns: 1, 0, GW_IO_ERROR */
    int connect_done_result;/* what connect_done returns */
    int connects;           /* connects asked for */
    int connected;          /* a connect finished */
    uint64_t moves;         /* calls that moved something */
    /* Called after every read (write 0) or write (write 1) that moved n
     * bytes, so a caller sees them in the order they happen; may be
     * NULL. */
    void (*on_io)(void *user, int write, size_t n);
    void *user;
    unsigned char buf[GW_DRIVE_READ_SIZE];
} gw_memio;

/* A peer that sends nothing yet, takes every write, and connects at
 * once. */
void gw_memio_init(gw_memio *m);
void gw_memio_free(gw_memio *m);

/* Queue bytes the peer sends. 0, or -1 when memory runs out. */
int gw_memio_send(gw_memio *m, const void *p, size_t n);

/* What the endpoint wrote since the last take: pointer and length;
 * gw_memio_take drops them. */
const unsigned char *gw_memio_sink(const gw_memio *m, size_t *len);
void gw_memio_take(gw_memio *m);

/* What a poller would report now (GW_READY_* bits). */
unsigned gw_memio_ready(const gw_memio *m);

/* ---- the event loop over memory ---- */

typedef struct gw_memnet gw_memnet;

/* For the caller: a new pool connection and its peer (set its connect
 * result and what it sends here), or one that closed (its peer is freed
 * after this). May be NULL. */
typedef struct gw_memnet_hooks {
    void (*opened)(void *user, gw_upconn *u, gw_memio *m);
    void (*closed)(void *user, gw_upconn *u, gw_memio *m);
    void *user;
} gw_memnet_hooks;

/* NULL when memory runs out. Pass gw_memnet_wake and the net as the
 * pool's wake and wake_ctx, then gw_memnet_set_pool. */
gw_memnet *gw_memnet_new(const gw_memnet_hooks *hooks);
void gw_memnet_set_pool(gw_memnet *n, gw_pool *pool);
/* Closes what is open; frees every peer of the pool's connections (the
 * pool and the clients are the caller's). */
void gw_memnet_free(gw_memnet *n);
void gw_memnet_wake(void *ctx, gw_upconn *u, gw_conn *c);

/* Client c with peer m joins (both the caller's); 0, or -1. */
int gw_memnet_add(gw_memnet *n, gw_conn *c, gw_memio *m);
/* Client c leaves: gw_conn_free it after this. */
void gw_memnet_remove(gw_memnet *n, gw_conn *c);

/* The peer of pool connection u, NULL when it is not open. */
gw_memio *gw_memnet_peer(const gw_memnet *n, const gw_upconn *u);

/* Drive every endpoint with what its peer allows, ticking those whose
 * deadline has come, until nothing moves (at most rounds passes); pool
 * connections that are over are closed. Returns the passes made. */
int gw_memnet_settle(gw_memnet *n, gw_time now, int rounds);

/* The earliest deadline of every endpoint and the pool. */
gw_time gw_memnet_deadline(const gw_memnet *n);

/* Drive one client once with what its peer allows; its want mask. */
unsigned gw_memio_drive(gw_memio *m, gw_conn *c, gw_time now);

/* Drive one client until it stands still (at most rounds); its mask. */
unsigned gw_memio_settle(gw_memio *m, gw_conn *c, gw_time now, int rounds);

#endif /* GW_MEMIO_H */
