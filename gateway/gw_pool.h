/*
 * gw_pool.h - the relay's upstream connections, shared by all clients.
 *
 * A relayed request (an exchange of a client connection, gw_relay.h) is sent
 * on a connection of the pool (gw_upconn) to the upstream the pool
 * picks: the healthy one with the fewest requests in flight, ties in
 * turn. On that upstream, with pipelining (cfg.pipeline > 1), it first
 * joins a connection whose last request has not gone out yet, so that
 * the requests of every client read in one pass leave in one write
 * (the caller drives pool connections after its clients); else it takes
 * an idle connection, or opens a new one (at most cfg.conns per
 * upstream and cfg.conns_total in all, closing an idle connection to
 * another upstream to make room), or, with pipelining, joins the least
 * loaded connection that has room and whose last request is whole (a
 * client's later request first tries the connection of the one before
 * it; see gw_relay.h for who may share a connection with whom);
 * otherwise it waits for one, a client's oldest request served first. A
 * connection carries its requests in order and matches answers to them
 * in order, so several answers come back in one read. An idle client
 * holds no upstream connection.
 *
 * Health: an upstream that refuses, resets, times out, or sends a bad or
 * unasked-for frame counts a failure; cfg.fails failures in a row mark it
 * down for cfg.retry (doubling while it keeps failing, at most
 * GW_POOL_RETRY_MAX). A down upstream gets no requests; once its time is
 * up, the next request dispatched while another upstream is up has it
 * tried by a probe (a connection of the pool's own that sends a search
 * and reads one answer) and goes to the other; with none up, that
 * request tries it itself. The first answer marks it up again.
 * With every upstream down, a request fails at once (upstream-
 * unavailable). With cfg.check, an upstream that is down is also probed
 * every cfg.check by a search of the pool's own.
 *
 * With cfg.private_conns, a connection serves one client only, for as
 * long as that client is there, and closes when it goes: an upstream
 * that sends frames nobody asked for can then shift no other client's
 * answers. With cfg.upstream_proxy, a connection starts with a PROXY
 * header naming its client, so it is private too.
 *
 * The pool never opens a socket either: a connection says what it wants
 * (gw_upconn_poll, the GW_WANT_*_UP bits of gw_conn.h, GW_WANT_CLOSE
 * when it is over) and gw_drive does it with the caller's functions.
 * cfg.wake tells the caller which connections and clients have something
 * new to do.
 *
 * Ownership: the pool owns its connections; one stays valid until the
 * caller has seen GW_WANT_CLOSE from it and called gw_pool_release. Client
 * connections detach themselves (gw_relay_free) before they go.
 */
#ifndef GW_POOL_H
#define GW_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "hframe.h"
#include "gw_side.h"
#include "gw_time.h"
#include "gw_want.h"

struct iovec;

struct gw_conn;

/* Most upstream servers. */
#define GW_POOL_UPSTREAMS 16

/* Longest time an upstream stays down before it is tried again. */
#define GW_POOL_RETRY_MAX ((gw_time)60000000)

/* Most requests in flight on one connection (--upstream-pipeline). */
#define GW_POOL_PIPELINE_MAX 256

typedef struct gw_upconn gw_upconn;
typedef struct gw_pool gw_pool;
typedef struct gw_exchange gw_exchange;

/* Counters of one upstream, for the log and the metrics. */
typedef struct gw_upstream_stats {
    uint64_t requests;      /* answers passed back */
    uint64_t failures;      /* refused, reset, bad frame, stray */
    uint64_t timeouts;      /* no progress in time */
    uint64_t connects;      /* connections opened */
    uint64_t bytes_out;     /* request bytes sent */
    uint64_t bytes_in;      /* answer bytes received */
    unsigned conns;         /* connections open now */
    unsigned inflight;      /* requests on them now */
    int down;               /* marked down now */
} gw_upstream_stats;

typedef struct gw_pool_config {
    size_t n_upstreams;         /* 1 .. GW_POOL_UPSTREAMS */
    const char *names[GW_POOL_UPSTREAMS];  /* "host:port", for the log */
    hf_limits limits;           /* answers are checked with these */
    size_t max_output;          /* answer bytes waiting for a client */
    unsigned conns;             /* connections per upstream, >= 1 */
    unsigned conns_total;       /* connections over all upstreams; 0: no
                                   bound but n_upstreams * conns */
    unsigned pipeline;          /* requests in flight per connection */
    unsigned fails;             /* failures in a row that mark it down */
    gw_time retry;              /* first time down */
    gw_time check;              /* probe a down upstream this often; 0 */
    gw_time upstream_timeout;   /* no progress on a busy connection */
    gw_time connect_timeout;    /* a connect must finish within */
    int upstream_proxy;         /* PROXY headers; implies private */
    int private_conns;          /* each connection serves one client */
    /* Something new to do: a connection of the pool (c NULL) or a client
     * (u NULL). May be NULL. */
    void (*wake)(void *ctx, gw_upconn *u, struct gw_conn *c);
    void *wake_ctx;
    /* Where upstream i's counters are kept (counters[i], n_upstreams of
     * them, the caller's and outliving the pool), e.g. in memory shared
     * with the process that serves the metrics; NULL: in the pool. The
     * pool writes the counts, never the gauges (conns, inflight, down:
     * gw_pool_stats works them out). */
    gw_upstream_stats *counters;
} gw_pool_config;

/* NULL when memory runs out or cfg is invalid. cfg is copied. */
gw_pool *gw_pool_new(const gw_pool_config *cfg);

/* Free the pool and every connection it has (the caller closed their
 * sockets). Client connections must be gone. */
void gw_pool_free(gw_pool *p);

/* Call fn for every connection of the pool. */
void gw_pool_foreach(gw_pool *p, void (*fn)(void *ctx, gw_upconn *u),
                     void *ctx);

/* Counters of upstream i, into *st. */
void gw_pool_stats(const gw_pool *p, size_t i, gw_upstream_stats *st);

/* A connection the caller closed after it wanted GW_WANT_CLOSE. */
void gw_pool_release(gw_pool *p, gw_upconn *u);

/* Probes and retries due at now; the earliest time the pool next has
 * something to do (GW_TIME_NEVER when nothing). */
gw_time gw_pool_tick(gw_pool *p, gw_time now);

/* State changes are logged through this (level, message), may be NULL:
 * "upstream HOST:PORT down (REASON)", "... up". */
void gw_pool_set_logger(gw_pool *p,
                        void (*log)(void *ctx, int warn, const char *msg),
                        void *ctx);

/* ---- for the relay (gw_relay.c) ---- */

/* Give request x a connection: now, or when one has room;
 * gw_relay_attached or gw_relay_given_back says which. */
void gw_pool_dispatch(gw_pool *p, gw_exchange *x, gw_time now);
/* x has bytes to send, or can take answer bytes again: wake its
 * connection. */
void gw_pool_kick(gw_pool *p, gw_exchange *x);
/* x can take answer bytes again after its client read: the upstream
 * clock of its connection starts again (the wait was the client's). */
void gw_pool_resume(gw_pool *p, gw_exchange *x, gw_time now);
/* Tell the caller (cfg.wake) that connection u or client c has
 * something new to do. */
void gw_pool_wake(gw_pool *p, gw_upconn *u, struct gw_conn *c);
/* x leaves (it is over, or its client goes): off its connection or
 * the wait list. */
void gw_pool_leave(gw_pool *p, gw_exchange *x, gw_time now);
/* c is going away: the connections private to it (gw_pool_private) are
 * closed, so none is ever used for another client. */
void gw_pool_gone(gw_pool *p, struct gw_conn *c, gw_time now);

/* ---- a connection, as gw_drive sees it ---- */

unsigned gw_upconn_poll(const gw_upconn *u, gw_time *deadline);
/* Bytes to send: up to max iovecs filled (the PROXY header, then the
 * requests in order); the count. */
int gw_upconn_output(const gw_upconn *u, struct iovec *iov, int max);
void gw_upconn_sent(gw_upconn *u, size_t n, gw_time now);
void gw_upconn_input(gw_upconn *u, const void *p, size_t n, gw_time now);
/* Answer bytes held back while a client was full: on again. */
void gw_upconn_settle(gw_upconn *u, gw_time now);
void gw_upconn_eof(gw_upconn *u, gw_time now);
void gw_upconn_error(gw_upconn *u, gw_time now);
/* GW_UP_EV_CONNECTING, _CONNECTED, _NO_SOCKET (gw_relay.h). */
void gw_upconn_event(gw_upconn *u, int ev, gw_time now);
gw_time gw_upconn_tick(gw_upconn *u, gw_time now);
/* The kernel holds bytes of u's output that the upstream has not taken
 * yet (SIOCOUTQ). Asked when a write leaves output waiting (the socket's
 * buffer is full) and when u's clock runs out: fewer than when last
 * asked, plus what was written since, means the upstream read some,
 * which counts as progress. So a slow upstream reading a large request
 * out of the socket buffers is not timed out, even after the last of it
 * was written. The first reading is only where counting starts. */
void gw_upconn_queued(gw_upconn *u, size_t bytes, gw_time now);

/* Which upstream the connection goes to (index). */
size_t gw_upconn_upstream(const gw_upconn *u);
/* Non-zero for the pool's own health probe of a down upstream. */
int gw_upconn_is_probe(const gw_upconn *u);
/* The caller's pointer for it (its socket record). */
void gw_upconn_set_user(gw_upconn *u, void *user);
void *gw_upconn_user(const gw_upconn *u);

#endif /* GW_POOL_H */
