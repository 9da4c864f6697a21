/*
 * gw_timer.h - the event loop's deadlines: a binary min-heap of timers,
 * one per connection, so that finding the next deadline costs nothing
 * per idle connection and changing one costs O(log n).
 *
 * Ownership: timers live in their owners (embedded); the heap holds
 * pointers and grows as needed. A timer must leave the heap
 * (gw_timers_set to GW_TIME_NEVER) before its owner is freed.
 */
#ifndef GW_TIMER_H
#define GW_TIMER_H

#include <stddef.h>

#include "gw_time.h"

typedef struct gw_timer {
    gw_time when;           /* GW_TIME_NEVER: not in the heap */
    size_t pos;             /* index in the heap while in it */
    void *owner;
} gw_timer;

typedef struct gw_timers {
    gw_timer **heap;
    size_t n;
    size_t cap;
} gw_timers;

void gw_timer_init(gw_timer *t, void *owner);
void gw_timers_init(gw_timers *h);
void gw_timers_free(gw_timers *h);

/* Move t to when (GW_TIME_NEVER takes it out). 0, or -1 when memory runs
 * out (t is then out of the heap). */
int gw_timers_set(gw_timers *h, gw_timer *t, gw_time when);

/* The earliest timer, NULL when none. */
gw_timer *gw_timers_first(const gw_timers *h);

#endif /* GW_TIMER_H */
