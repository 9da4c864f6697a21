/* gw_timer.c - a binary min-heap of deadlines (see gw_timer.h). */
#include "gw_timer.h"

#include <stdlib.h>

void gw_timer_init(gw_timer *t, void *owner)
{
    t->when = GW_TIME_NEVER;
    t->pos = 0;
    t->owner = owner;
}

void gw_timers_init(gw_timers *h)
{
    h->heap = NULL;
    h->n = 0;
    h->cap = 0;
}

void gw_timers_free(gw_timers *h)
{
    free(h->heap);
    gw_timers_init(h);
}

static void place(gw_timers *h, gw_timer *t, size_t i)
{
    h->heap[i] = t;
    t->pos = i;
}

static void sift_up(gw_timers *h, size_t i)
{
    gw_timer *t = h->heap[i];

    while (i > 0 && h->heap[(i - 1) / 2]->when > t->when) {
        place(h, h->heap[(i - 1) / 2], i);
        i = (i - 1) / 2;
    }
    place(h, t, i);
}

static void sift_down(gw_timers *h, size_t i)
{
    gw_timer *t = h->heap[i];
    size_t k;

    for (;;) {
        k = 2 * i + 1;
        if (k >= h->n)
            break;
        if (k + 1 < h->n && h->heap[k + 1]->when < h->heap[k]->when)
            k++;
        if (h->heap[k]->when >= t->when)
            break;
        place(h, h->heap[k], i);
        i = k;
    }
    place(h, t, i);
}

static void take_out(gw_timers *h, gw_timer *t)
{
    size_t i = t->pos;
    gw_timer *last;

    t->when = GW_TIME_NEVER;
    h->n--;
    if (i == h->n)
        return;
    last = h->heap[h->n];
    place(h, last, i);
    sift_up(h, i);
    sift_down(h, last->pos);
}

int gw_timers_set(gw_timers *h, gw_timer *t, gw_time when)
{
    gw_time old = t->when;

    if (when == old)
        return 0;
    if (old != GW_TIME_NEVER)
        take_out(h, t);
    if (when == GW_TIME_NEVER)
        return 0;
    if (h->n == h->cap) {
        size_t cap = h->cap > 0 ? h->cap * 2 : 64;
        gw_timer **n = realloc(h->heap, cap * sizeof *n);

        if (n == NULL)
            return -1;
        h->heap = n;
        h->cap = cap;
    }
    t->when = when;
    place(h, t, h->n++);
    sift_up(h, h->n - 1);
    return 0;
}

gw_timer *gw_timers_first(const gw_timers *h)
{
    return h->n > 0 ? h->heap[0] : NULL;
}
