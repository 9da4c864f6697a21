/*
 * gw_loop_int.h - the event loop's own types, shared by gw_loop.c (the
 * loop), gw_accept.c (new clients) and gw_sockio.c (system calls for
 * gw_drive). Nothing else includes it.
 */
#ifndef GW_LOOP_INT_H
#define GW_LOOP_INT_H

#include "gw_drive.h"
#include "gw_loop.h"
#include "gw_pool.h"
#include "gw_timer.h"

/* One socket the loop watches: a client's, or a pool connection's to an
 * upstream. */
typedef struct endpoint endpoint;

struct endpoint {
    gw_timer timer;         /* the endpoint's next deadline */
    gw_loop *loop;
    int fd;                 /* -1 until a pool connection connects */
    int dead;               /* close after this pass */
    int queued;             /* on a run list */
    int expired;            /* its deadline came: tick it */
    unsigned ready;         /* GW_READY_* reported this pass */
    endpoint *next_run;
    gw_upconn *up;          /* a pool connection; NULL: a client */
};

typedef struct client {
    endpoint ep;            /* first: a client is an endpoint */
    char peer[GW_PEER_MAX];
    gw_conn conn;
} client;

struct gw_loop {
    gw_loop_config cfg;
    gw_conn_config conn_cfg;    /* what every gw_conn points at */
    gw_pool *pool;              /* relay mode */
    gw_poller *poller;
    endpoint **fds;             /* indexed by descriptor */
    int fds_cap;
    size_t n_clients;
    endpoint *run;              /* endpoints to drive in this pass */
    endpoint *run_up;           /* ... pool connections, after them */
    endpoint *run_next;         /* ... and in the next one, at once */
    gw_timers timers;
    gw_time pool_due;           /* the pool's next deadline */
    int reserve_fd;             /* given up on EMFILE to shed clients */
    int listening;              /* listeners are in the poller */
    int stopping;
    gw_time stop_deadline;
    gw_time accept_paused_until;
    gw_time reject_logged;      /* the last "reject" line (one a second) */
    uint64_t reject_unlogged;   /* clients refused since, not logged */
    gw_slot *slot;              /* counters: cfg.slot or own */
    gw_slot own;
    gw_time publish_at;         /* gauges into the slot from then on */
    int publish_pending;        /* a pass ran since they were */
    uint64_t log_dropped;       /* gw_log_dropped() last published */
    gw_buf busy;                /* the busy error frame, made once */
    gw_io io;                   /* system calls, ctx set per endpoint */
    gw_loop_foreign foreign[GW_FOREIGN_MAX];
    size_t n_foreign;
    unsigned char rbuf[GW_DRIVE_READ_SIZE];   /* shared by all reads */
};

/* Record that fd belongs to ep. 0, or -1 when memory runs out. */
int gw_loop_own(gw_loop *l, int fd, endpoint *ep);

/* Stop watching fd, forget it, close it. */
void gw_loop_release(gw_loop *l, int fd);

/* A new endpoint on fd (-1: not connected yet); u for a pool
 * connection, NULL for a client. */
void gw_loop_ep_init(endpoint *ep, gw_loop *l, int fd, gw_upconn *u);

/* Drive ep in this pass (once, whatever woke it). */
void gw_loop_enqueue(gw_loop *l, endpoint *ep);

/* Accept what waits on listening socket lfd (gw_accept.c). */
void gw_loop_accept(gw_loop *l, int lfd, gw_time now);

/* io's functions over an endpoint's socket; io->ctx is the endpoint
 * being driven. */
void gw_sockio_init(gw_io *io);

/* Bytes sent on socket fd that its peer has not taken yet (0 when the
 * kernel will not say). */
size_t gw_sock_unsent(int fd);

/* The name of an endpoint for the log: the client's address, or the
 * upstream's. */
const char *gw_loop_name(const endpoint *ep);

#endif /* GW_LOOP_INT_H */
