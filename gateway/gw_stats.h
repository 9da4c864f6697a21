/*
 * gw_stats.h - a worker's counters and the access log: one line per
 * answered request at level info, and the counters as one line at level
 * notice (SIGUSR1, and at exit).
 *
 * Every member of gw_stats is a uint64_t count that only grows, so the
 * counters of several workers add up member by member (gw_stats_add).
 */
#ifndef GW_STATS_H
#define GW_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "gw_conn.h"
#include "gw_hist.h"
#include "gw_pool.h"

/* Longest name of a peer or upstream in a log line. */
#define GW_PEER_NAME_MAX 64

typedef struct gw_stats {
    uint64_t accepted;
    uint64_t rejected_cap;      /* refused with a busy frame: over
                                   --max-conns, or stopping */
    uint64_t rejected_nofd;     /* refused with a busy frame: waiting
                                   while the descriptors ran out */
    uint64_t rejected_nomem;    /* closed: no memory to watch the
                                   descriptor */
    uint64_t accept_errors;
    uint64_t closed[GW_CLOSE_REASON_COUNT];
    uint64_t requests[GW_KIND_COUNT];
    uint64_t frame_errors[HF_STATUS_COUNT];
    uint64_t request_errors[GW_REQ_STATUS_COUNT];
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t log_dropped;       /* log lines the worker dropped */
    gw_hist latency[GW_KIND_COUNT];     /* first byte to answer queued */
    gw_hist upstream_latency[GW_POOL_UPSTREAMS];  /* relay: sent to the
                                                     upstream to answer */
} gw_stats;

/* sum += st, member by member. */
void gw_stats_add(gw_stats *sum, const gw_stats *st);

/* Count one answered request of the client named peer, and write its
 * access log line when level info is on; upstream names the upstream a
 * relayed request went to (NULL: none). */
void gw_stats_request(gw_stats *st, const char *peer,
                      const gw_request_info *info, const char *upstream);

/* Write the counters (conns: connections open now; relay: relay mode,
 * with the counters of its n upstreams and their names). */
void gw_stats_log(const gw_stats *st, size_t conns, int relay,
                  const gw_upstream_stats *up, const char *const *names,
                  size_t n);

#endif /* GW_STATS_H */
