/*
 * gw_stats.h - a worker's counters and the access log: one line per
 * answered request at level info, and the counters as one line at level
 * notice (SIGUSR1, and at exit).
 */
#ifndef GW_STATS_H
#define GW_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "gw_conn.h"

typedef struct gw_stats {
    uint64_t accepted;
    uint64_t rejected_cap;      /* over --max-conns */
    uint64_t rejected_fdset;    /* no memory to watch the descriptor */
    uint64_t accept_errors;
    uint64_t closed[GW_CLOSE_REASON_COUNT];
    uint64_t requests[GW_KIND_COUNT];
    uint64_t frame_errors[HF_STATUS_COUNT];
    uint64_t request_errors[GW_REQ_STATUS_COUNT];
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t up_connects;       /* relay: connections opened upstream */
    uint64_t up_errors;         /* relay: of those, failed or reset */
} gw_stats;

/* Count one answered request of the client named peer, and write its
 * access log line when level info is on. */
void gw_stats_request(gw_stats *st, const char *peer,
                      const gw_request_info *info);

/* Write the counters (conns: connections open now; relay: relay mode). */
void gw_stats_log(const gw_stats *st, size_t conns, int relay);

#endif /* GW_STATS_H */
