/*
 * gw_shared.h - the counters of every worker, in memory the supervisor
 * owns: one anonymous MAP_SHARED mapping made before the workers fork,
 * one slot per worker. A worker writes its own slot only, with plain
 * stores of aligned 64-bit counts (the metrics page reads them while
 * they change and may see a count one request behind, never a torn
 * one); a worker started in place of one that died goes on counting in
 * the same slot, so no count is lost with a process.
 *
 * What a slot holds:
 *   - st: the worker's counters and histograms (gw_stats.h);
 *   - up: relay mode, each upstream's counters, which the pool counts
 *     in place (gw_pool_config.counters), and its gauges (connections,
 *     requests in flight, marked down), published by the loop;
 *   - conns: clients connected now, published by the loop.
 * Gauges of a slot whose worker is gone are cleared (gw_shared_retire).
 */
#ifndef GW_SHARED_H
#define GW_SHARED_H

#include <stdint.h>

#include "gw_pool.h"
#include "gw_stats.h"

typedef struct gw_slot {
    gw_stats st;
    gw_upstream_stats up[GW_POOL_UPSTREAMS];
    uint64_t conns;
} gw_slot;

typedef struct gw_shared gw_shared;

/* A mapping of n zeroed slots (n >= 1), shared with every process
 * forked after this. NULL (errno set) when the system refuses it. */
gw_shared *gw_shared_new(unsigned n);

/* Unmap (NULL is fine): in the process that made it, at the end. */
void gw_shared_free(gw_shared *sh);

/* Slot i < n; NULL past the last (and when sh is NULL). */
gw_slot *gw_shared_slot(gw_shared *sh, unsigned i);

/* The number of slots (0 for NULL). */
unsigned gw_shared_count(const gw_shared *sh);

/* Every slot summed into *sum: counters, histograms and gauges (an
 * upstream's down is the number of workers that have it marked down). */
void gw_shared_sum(const gw_shared *sh, gw_slot *sum);

/* Slot i's worker is gone: its gauges go to zero, its counts stay. */
void gw_shared_retire(gw_shared *sh, unsigned i);

#endif /* GW_SHARED_H */
