/*
 * gw_loop_int.h - the event loop's own types, shared by gw_loop.c (the
 * loop) and gw_sockio.c (system calls for gw_drive). Nothing else
 * includes it.
 */
#ifndef GW_LOOP_INT_H
#define GW_LOOP_INT_H

#include "gw_drive.h"
#include "gw_loop.h"
#include "gw_timer.h"

typedef struct client client;

struct client {
    gw_timer timer;         /* the connection's next deadline */
    gw_loop *loop;
    int fd;
    int up_fd;              /* relay: -1 when none */
    int dead;               /* close after this pass */
    int queued;             /* on the run list */
    unsigned ready;         /* GW_READY_* reported this pass */
    client *next_run;
    const gw_upstream *up;  /* where up_fd goes */
    size_t up_base;         /* the request's first upstream (index) */
    char peer[GW_PEER_MAX];
    gw_conn conn;
};

/* Who owns a descriptor. */
typedef struct slot {
    client *c;
    gw_end end;
} slot;

struct gw_loop {
    gw_loop_config cfg;
    gw_conn_config conn_cfg;    /* what every gw_conn points at */
    gw_poller *poller;
    slot *fds;                  /* indexed by descriptor */
    int fds_cap;
    size_t n_clients;
    client *run;                /* clients to drive in this pass */
    client *run_next;           /* ... and in the next one, at once */
    gw_timers timers;
    int reserve_fd;             /* given up on EMFILE to shed a client */
    int listening;              /* listeners are in the poller */
    int stopping;
    gw_time stop_deadline;
    gw_time accept_paused_until;
    size_t next_up;             /* relay: upstream of the next connect */
    gw_stats st;
    gw_buf busy;                /* the busy error frame, made once */
    gw_io io;                   /* system calls, ctx set per client */
    unsigned char rbuf[GW_READ_CHUNK];
};

/* Record that fd belongs to end `end` of c. 0, or -1 when memory runs
 * out. */
int gw_loop_own(gw_loop *l, int fd, client *c, gw_end end);

/* Stop watching fd, forget it, close it. */
void gw_loop_release(gw_loop *l, int fd);

/* io's functions over the client's and the upstream's sockets; io->ctx
 * is the client being driven. */
void gw_sockio_init(gw_io *io);

#endif /* GW_LOOP_INT_H */
