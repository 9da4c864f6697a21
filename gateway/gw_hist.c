/* gw_hist.c - latency histograms (see gw_hist.h). */
#include "gw_hist.h"

/* 1, 2.5, 5 steps per decade from 100 us (a search answered from memory
 * on loopback) to 10 s (the default --upstream-timeout). */
static const uint64_t bounds_us[GW_HIST_BOUNDS] = {
    100, 250, 500,
    1000, 2500, 5000,
    10000, 25000, 50000,
    100000, 250000, 500000,
    1000000, 2500000, 5000000,
    10000000
};

void gw_hist_add(gw_hist *h, int64_t us)
{
    uint64_t v = us > 0 ? (uint64_t)us : 0;
    unsigned i = 0;

    while (i < GW_HIST_BOUNDS && v > bounds_us[i])
        i++;
    h->bucket[i]++;
    h->sum_us += v;
}

uint64_t gw_hist_bound_us(unsigned i)
{
    return i < GW_HIST_BOUNDS ? bounds_us[i] : UINT64_MAX;
}
