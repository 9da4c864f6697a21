/*
 * gw_loop.h - the event loop: sockets, timers, accept, reaping.
 *
 * One loop per process. It owns the client sockets (and, in relay mode,
 * their upstream sockets) and one gw_conn per client; everything about
 * the protocol happens inside gw_conn, and every byte moves through
 * gw_drive. The loop is mechanism only:
 *
 *   poller (gw_poll.h) --ready--> gw_drive(conn, system calls) --want-->
 *   interest for the poller, deadline for the timer heap (gw_timer.h)
 *
 * The listening sockets and the wake fd are the caller's (not closed
 * here, except that listening sockets are closed when shutdown begins so
 * that new connections go elsewhere).
 *
 * Rules the loop keeps:
 *   - interest follows what each connection wants after each drive:
 *     read only when gw_conn_poll asks for it, write only when output
 *     waits and the socket said it would block;
 *   - any descriptor number works with either backend (the select
 *     backend's sets grow past FD_SETSIZE); a client over the connection
 *     cap gets a busy error frame, then the close;
 *   - clients are marked dead during a pass and closed after it, never
 *     inside their own drive;
 *   - accept errors (EMFILE, ENFILE, ECONNABORTED, ...) never end the
 *     loop: a reserve fd is given up to shed the clients waiting in the
 *     listen queue, and accepting pauses briefly;
 *   - relay mode: the pool's connections to upstreams (gw_pool.h) are
 *     endpoints too, opened when the pool makes one and closed when it
 *     is over; a client's request wakes its pool connection and an
 *     answer its client, in the same pass.
 */
#ifndef GW_LOOP_H
#define GW_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gw_conn.h"
#include "gw_poll.h"
#include "gw_pool.h"
#include "gw_shared.h"
#include "gw_stats.h"

/* Accepts per listening socket per pass: keeps one busy listener from
 * starving the clients already connected. */
#define GW_ACCEPT_BATCH 64

/* Batches accepted at a stop from each listen queue (clients the kernel
 * took before it): GW_STOP_ACCEPTS * GW_ACCEPT_BATCH at most. */
#define GW_STOP_ACCEPTS 64

/* Most clients closed at once when out of descriptors: the listen
 * queue's length, bounded so one pass stays short. */
#define GW_SHED_MAX 4096

/* Pause after an accept error other than "try again" (microseconds). */
#define GW_ACCEPT_PAUSE 100000

/* Longest textual peer address ("[v6]:port"). */
#define GW_PEER_MAX 64

/* Most listening sockets (IPv4 + IPv6 and a few more). */
#define GW_LISTEN_MAX 8

/* Most upstream servers in relay mode. */
#define GW_UPSTREAM_MAX 16

/* Relay mode: one upstream server. */
typedef struct gw_upstream {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char name[GW_PEER_MAX];     /* for the log */
} gw_upstream;


typedef struct gw_loop_config {
    int listen_fds[GW_LISTEN_MAX];  /* non-blocking */
    size_t n_listen;
    size_t max_conns;
    gw_time stop_timeout;        /* shutdown: longest wait for answers
                                    (0: no limit) */
    gw_poll_kind poll;           /* readiness backend */
    gw_conn_config conn;         /* copied; on_request is the loop's */
    gw_upstream upstreams[GW_UPSTREAM_MAX];  /* relay mode (conn.relay.on) */
    size_t n_upstreams;
    gw_pool_config pool;         /* relay: conns, pipeline, fails, retry,
                                    check, timeouts, upstream_proxy (the
                                    loop sets the rest) */
    gw_slot *slot;               /* where the counters are kept (a slot
                                    of gw_shared.h, which outlives the
                                    loop); NULL: in the loop */
    int wake_fd;                 /* -1 for none; readable -> on_wake */
    void (*on_wake)(void *ctx);
    void *wake_ctx;
} gw_loop_config;

typedef struct gw_loop gw_loop;

/* Most foreign descriptors (gw_loop_add_foreign). */
#define GW_FOREIGN_MAX 4

/* A descriptor the loop watches for another module (the metrics
 * server): on_ready runs when fd is readable or when the time due
 * returned has come (GW_TIME_NEVER: no deadline). The loop knows
 * nothing else of it, and neither closes nor frees it. */
typedef struct gw_loop_foreign {
    int fd;
    void (*on_ready)(void *ctx);
    gw_time (*due)(void *ctx);
    void *ctx;
} gw_loop_foreign;

/* A monotonic clock in microseconds. */
gw_time gw_now(void);

/* NULL when memory runs out. cfg is copied. */
gw_loop *gw_loop_new(const gw_loop_config *cfg);

/* Run until a shutdown started by gw_loop_stop has finished. Returns 0,
 * or -1 when select() itself fails. */
int gw_loop_run(gw_loop *l);

/* Begin a graceful shutdown (safe to call again). */
void gw_loop_stop(gw_loop *l);

/* Use idx for answers from now on. The loop does not own indexes: the
 * caller frees the previous one once this returns. */
void gw_loop_set_index(gw_loop *l, const gw_index *idx);

/* Gauges in the slot (clients, upstream connections, requests in
 * flight, upstreams down) are published at most this often, and once
 * more after the last change. */
#define GW_PUBLISH_EVERY 100000

/* Write the counters to the log: one line at level notice, which is
 * always written. */
void gw_loop_log_stats(const gw_loop *l);

const gw_stats *gw_loop_stats(const gw_loop *l);

/* Watch f (copied) from now on. 0, or -1 when GW_FOREIGN_MAX are
 * watched already or the poller refuses the descriptor. */
int gw_loop_add_foreign(gw_loop *l, const gw_loop_foreign *f);

/* Clients connected now. */
size_t gw_loop_conns(const gw_loop *l);

/* Non-zero once a shutdown has begun. */
int gw_loop_stopping(const gw_loop *l);

/* Relay mode: upstream i's counters and name. 0, or -1 past the last
 * upstream (and always in serve mode). */
int gw_loop_upstream(const gw_loop *l, size_t i, gw_upstream_stats *st,
                     const char **name);

/* Close every client and free the loop. */
void gw_loop_free(gw_loop *l);

#endif /* GW_LOOP_H */
