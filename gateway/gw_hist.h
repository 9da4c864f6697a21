/*
 * gw_hist.h - a latency histogram with fixed bounds, as Prometheus
 * histograms are exported: counts per bucket (not cumulative here; the
 * exporter adds them up), and the sum of what was observed.
 *
 * Every member is a uint64_t count, so that histograms inside gw_stats
 * are summed over workers like the other counters (gw_stats_add).
 */
#ifndef GW_HIST_H
#define GW_HIST_H

#include <stdint.h>

/* Finite upper bounds, 100 us to 10 s (see gw_hist.c); the last bucket
 * holds what is above the largest bound (+Inf). */
#define GW_HIST_BOUNDS 16

typedef struct gw_hist {
    uint64_t bucket[GW_HIST_BOUNDS + 1];
    uint64_t sum_us;            /* microseconds observed, in all */
} gw_hist;

/* Count one observation of us microseconds (negative counts as 0). */
void gw_hist_add(gw_hist *h, int64_t us);

/* Upper bound of bucket i < GW_HIST_BOUNDS, in microseconds. */
uint64_t gw_hist_bound_us(unsigned i);

#endif /* GW_HIST_H */
