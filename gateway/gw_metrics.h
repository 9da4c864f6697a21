/*
 * gw_metrics.h - --metrics: the counters of every worker (gw_shared.h),
 * summed, in the Prometheus text format at /metrics, and /health (200
 * while the gateway accepts, 503 once it drains), served by
 * libmicrohttpd without threads in its epoll mode: its one epoll
 * descriptor is watched by whoever runs the server, which calls
 * gw_metrics_run when it is readable or when gw_metrics_due has come.
 *
 * One process serves: with --workers N the supervisor, from its own
 * small poll loop, so that the workers' loops never see a scrape and the
 * page holds the counts of every worker, the dead ones' too; with one
 * process, that process, from its event loop (gw_metrics_watch).
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stddef.h>

#include "gw_loop.h"
#include "gw_shared.h"
#include "gw_time.h"

typedef struct gw_metrics gw_metrics;

typedef struct gw_metrics_config {
    const gw_shared *shared;            /* summed for each page */
    const char *const *upstream_names;  /* relay: the upstreams, in the
                                           order of the slots' up[] */
    size_t n_upstreams;                 /* 0: not a relay */
} gw_metrics_config;

/*
 * Serve on listen_fd (a listening TCP socket, which the server then
 * owns) what cfg (copied; the pointers in it outlive the server) names,
 * until gw_metrics_stop. NULL after a log line when MHD cannot start.
 */
gw_metrics *gw_metrics_start(int listen_fd, const gw_metrics_config *cfg);

/* From now on /health answers 503: the gateway drains. */
void gw_metrics_draining(gw_metrics *m);

/* The descriptor to watch for reading. */
int gw_metrics_fd(const gw_metrics *m);

/* When the server next has something to do without input
 * (GW_TIME_NEVER: nothing), on gw_now()'s clock. */
gw_time gw_metrics_due(const gw_metrics *m);

/* Do what can be done now; never blocks. */
void gw_metrics_run(gw_metrics *m);

/* Run the server from loop l, as one of its foreign descriptors.
 * 0, or -1 after a log line. */
int gw_metrics_watch(gw_metrics *m, gw_loop *l);

/* In a process forked from the server's: close its descriptors (the
 * listening socket, the epoll descriptor and every scraper's
 * connection) so that this process holds no connection open, and free
 * nothing the parent still uses. m may be NULL. */
void gw_metrics_forked(gw_metrics *m);

/* Stop serving, close the socket, free m (NULL is fine). */
void gw_metrics_stop(gw_metrics *m);

#endif /* GW_METRICS_H */
