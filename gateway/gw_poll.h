/*
 * gw_poll.h - the readiness backend of the event loop: which descriptors
 * to watch for what, and a wait that says which are ready.
 *
 * The loop knows descriptors, a mask and a timeout, nothing of how the
 * kernel is asked; a backend knows nothing of clients. Two backends:
 *   select  the default: descriptor sets sized to the highest descriptor
 *           watched (no FD_SETSIZE ceiling: the kernel's select() takes
 *           any count; only the C library's fd_set is fixed), rebuilt
 *           from the master sets before every call. Each call costs
 *           time for every descriptor handed to it, ready or not; past
 *           512 descriptors most waits hand it only the recently active
 *           ones, and the others are seen at most 10 ms late
 *           (gw_poll_select.c).
 *   epoll   interest kept in the kernel, changed only when a mask
 *           changes; a wait costs time in proportion to the ready
 *           descriptors. For many idle connections.
 * Both are level-triggered: a descriptor stays ready until read or
 * written.
 */
#ifndef GW_POLL_H
#define GW_POLL_H

#include "gw_time.h"

#define GW_POLL_IN  0x1u
#define GW_POLL_OUT 0x2u

typedef enum gw_poll_kind {
    GW_POLL_SELECT = 0,
    GW_POLL_EPOLL
} gw_poll_kind;

typedef struct gw_poll_event {
    int fd;
    unsigned mask;          /* GW_POLL_IN | GW_POLL_OUT */
} gw_poll_event;

typedef struct gw_poller gw_poller;

/* NULL when memory runs out or the backend cannot start (errno set). */
gw_poller *gw_poller_new(gw_poll_kind kind);
void gw_poller_free(gw_poller *p);

/* Watch fd for mask (0: stop watching it). 0, or -1 with errno. */
int gw_poller_set(gw_poller *p, int fd, unsigned mask);

/* Wait until a watched descriptor is ready or timeout microseconds have
 * passed (GW_TIME_NEVER: no limit; 0: do not wait). Returns the count of
 * ready descriptors, with *ev pointing at them (valid until the next
 * wait, whatever is watched meanwhile), or -1 with errno (EINTR
 * included). */
int gw_poller_wait(gw_poller *p, gw_time timeout, const gw_poll_event **ev);

/* "select", "epoll"; 0 on success, -1 for any other name. */
int gw_poll_parse(const char *name, gw_poll_kind *out);
const char *gw_poll_name(gw_poll_kind kind);

/* Backends (gw_poll_select.c, gw_poll_epoll.c) behind gw_poller. */
typedef struct gw_poll_ops {
    void *(*create)(void);
    void (*destroy)(void *b);
    int (*set)(void *b, int fd, unsigned old_mask, unsigned mask);
    /* Fill ev (room for cap, at least one per watched descriptor). */
    int (*wait)(void *b, gw_time timeout, gw_poll_event *ev, int cap);
} gw_poll_ops;

extern const gw_poll_ops gw_poll_select_ops;
extern const gw_poll_ops gw_poll_epoll_ops;

#endif /* GW_POLL_H */
