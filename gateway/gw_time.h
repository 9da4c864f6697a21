/*
 * gw_time.h - time as the state machines see it: a count of microseconds
 * on the caller's monotonic clock. Only differences matter.
 */
#ifndef GW_TIME_H
#define GW_TIME_H

#include <stdint.h>

typedef int64_t gw_time;            /* microseconds, caller's clock */
#define GW_TIME_NEVER INT64_MAX     /* "no deadline" */
#define GW_SEC ((gw_time)1000000)

/* a + b, saturating at GW_TIME_NEVER (both non-negative in practice). */
static inline gw_time gw_time_add(gw_time a, gw_time b)
{
    if (b > 0 && a > GW_TIME_NEVER - b)
        return GW_TIME_NEVER;
    return a + b;
}

static inline gw_time gw_time_min(gw_time a, gw_time b)
{
    return a < b ? a : b;
}

/* The deadline of a timeout of length t (0: off) started at since. */
static inline gw_time gw_time_after(gw_time since, gw_time t)
{
    return t > 0 ? gw_time_add(since, t) : GW_TIME_NEVER;
}

#endif /* GW_TIME_H */
