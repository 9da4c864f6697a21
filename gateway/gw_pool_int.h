/*
 * gw_pool_int.h - the pool's own types, shared by gw_pool.c (upstreams,
 * choice, health) and gw_upconn.c (one connection). Nothing else
 * includes it.
 */
#ifndef GW_POOL_INT_H
#define GW_POOL_INT_H

#include "gw_conn_core.h"
#include "gw_pool.h"
#include "gw_proxy.h"

/* Why a connection ended, for health and the log. */
typedef enum gw_up_end {
    GW_UP_END_IDLE = 0,     /* closed with nothing in flight: not a fault */
    GW_UP_END_REFUSED,      /* connect failed or timed out */
    GW_UP_END_LOST,         /* closed or reset with requests in flight */
    GW_UP_END_TIMEOUT,      /* no progress in time */
    GW_UP_END_BAD_FRAME,    /* an answer that is not a valid frame */
    GW_UP_END_STRAY,        /* bytes nobody asked for */
    GW_UP_END_DROPPED,      /* a client left in the middle of a request */
    GW_UP_END_CLOSED,       /* a connection that had answered before was
                               closed with requests on it but no answer
                               begun: the upstream's keep-alive ran out
                               as they went; not a fault, they go again */
    GW_UP_END_NO_SOCKET,    /* no socket to connect with (descriptors or
                               memory ran out here): not the upstream's
                               fault */
    GW_UP_END_UNANSWERED    /* closed or reset after taking requests,
                               before any byte of an answer: the request
                               may be what made it close (content the
                               upstream cannot handle), so the upstream
                               is blamed only once another upstream
                               answers that request (gw_pool_blame) */
} gw_up_end;

/* One request on a connection, in the order they went out. */
typedef struct gw_entry {
    gw_exchange *x;         /* NULL: it left (the answer is read and
                               dropped) */
    int answered;           /* its answer is complete */
    int sent_any;           /* a byte of it went out on this connection */
} gw_entry;

struct gw_upconn {
    gw_pool *pool;
    size_t upstream;
    void *user;
    gw_upconn *prev, *next;     /* the upstream's list */
    gw_side side;               /* answers in */
    unsigned char pre[GW_PROXY_V2_OUT_MAX];     /* the PROXY header, sent */
    size_t pre_len, pre_off;                    /* first: pre[pre_off..) */
    gw_up_state state;          /* NONE: wants a connect */
    int over;                   /* given up: wants GW_WANT_CLOSE */
    int probe;                  /* a health check: sends the pool's
                                   search, reads one answer */
    size_t probe_sent;          /* of the search, sent */
    struct gw_conn *owner;      /* private: its one client */
    gw_entry *q;                /* pool->cfg.pipeline entries */
    unsigned head;              /* first entry */
    unsigned n;                 /* entries */
    gw_time since;              /* last progress */
    int restart_clock;          /* since starts again at the next drive
                                   (it waited on a client that left) */
    size_t kq;                  /* bytes the kernel held for the upstream
                                   when last asked, plus those written
                                   since ... */
    int kq_known;               /* ... once it was asked */
    uint64_t answers;           /* answers it passed back */
};

/* One upstream server: its connections and its health. */
typedef struct gw_upstream {
    gw_upconn *conns;           /* every connection to it: those that
                                   can take a request first, full ones
                                   last (place) */
    gw_upconn *last;
    gw_exchange *wait_head;     /* requests waiting for a connection */
    gw_exchange *wait_tail;
    unsigned fails;             /* failures in a row */
    gw_time down_until;         /* GW_TIME_NEVER: up */
    gw_time retry;              /* the next time down */
    int probing;                /* a connection or a request is trying
                                   it (after its time down) ... */
    gw_time probing_until;      /* ... until then at most: a try whose
                                   request went away, or that hangs,
                                   does not keep it out for good */
    gw_time next_check;         /* active check while down */
    int one_each;               /* it closed a connection after its
                                   first answer: requests go one per
                                   connection, not pipelined (the
                                   close would reset those behind) */
    gw_upstream_stats *st;      /* counted here: cfg.counters[i] or own */
    gw_upstream_stats own;
} gw_upstream;

struct gw_pool {
    gw_pool_config cfg;
    gw_buf probe;               /* the health check's search frame */
    gw_upstream up[GW_POOL_UPSTREAMS];
    size_t turn;                /* ties go to the upstreams in turn */
    unsigned live;              /* connections not over, all upstreams */
    int starved;                /* a request waits for cfg.conns_total */
    void (*log)(void *ctx, int warn, const char *msg);
    void *log_ctx;
};

/* gw_upconn.c: a new connection to upstream i (owner for a private one,
 * NULL else); NULL when memory runs out. */
gw_upconn *gw_upconn_new(gw_pool *p, size_t i, struct gw_conn *owner);
void gw_upconn_free(gw_upconn *u);

/* Room for request x: u carries nothing, or its last request is whole,
 * the queue has room, and either x and every request on u are their
 * clients' heads (gw_relay_is_head) or every request on u is of x's
 * client. */
int gw_upconn_has_room(const gw_upconn *u, const gw_exchange *x);

/* u's last request has not gone out yet: one put behind it leaves in
 * the same write. */
int gw_upconn_filling(const gw_upconn *u);

/* Put request x on u's queue. */
void gw_upconn_add(gw_upconn *u, gw_exchange *x, gw_time now);

/* x leaves u: its answer will be dropped, or, if part of its request
 * went out and part did not, u is of no further use. */
void gw_upconn_remove(gw_upconn *u, gw_exchange *x, gw_time now);

/* Requests in flight on u. */
unsigned gw_upconn_load(const gw_upconn *u);

/* Connections serve one client each (private_conns, upstream_proxy). */
int gw_pool_private(const gw_pool *p);

/* Close u (it carries no request the pool needs, or its owner left);
 * what is still on it is given back. */
void gw_upconn_retire(gw_upconn *u, gw_time now);

/* gw_pool.c, for gw_upconn.c: u ended for why (counted, the upstream's
 * health told); the caller then gives its requests back (retried or
 * failed: they go before those waiting), then calls gw_pool_freed. */
void gw_pool_ended(gw_pool *p, gw_upconn *u, gw_up_end why, gw_time now);
/* A connection of upstream i is gone and its requests given back: the
 * requests waiting may take its place. */
void gw_pool_freed(gw_pool *p, size_t i, gw_time now);
/* An answer came back whole from u's upstream. */
void gw_pool_answered(gw_pool *p, gw_upconn *u, gw_time now);
/* Upstream i closed on a request unanswered (GW_UP_END_UNANSWERED) that
 * another upstream has now answered: it counts as i's failure. */
void gw_pool_blame(gw_pool *p, size_t i, gw_time now);
/* u has room again: give it a waiting request. */
void gw_pool_room(gw_pool *p, gw_upconn *u, gw_time now);

#endif /* GW_POOL_INT_H */
