/* gw_poll.c - the backend-independent part of gw_poll.h: the masks of
 * the watched descriptors and the event array. */
#include "gw_poll.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct gw_poller {
    const gw_poll_ops *ops;
    void *backend;
    unsigned char *masks;   /* per descriptor, 0 when not watched */
    int masks_cap;
    int watched;
    gw_poll_event *ev;
    int ev_cap;
};

static const char *const names[] = { "select", "epoll" };

int gw_poll_parse(const char *name, gw_poll_kind *out)
{
    unsigned i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (gw_poll_kind)i;
            return 0;
        }
    }
    return -1;
}

const char *gw_poll_name(gw_poll_kind kind)
{
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind]
                                                          : "unknown";
}

gw_poller *gw_poller_new(gw_poll_kind kind)
{
    gw_poller *p = calloc(1, sizeof *p);

    if (p == NULL)
        return NULL;
    p->ops = kind == GW_POLL_EPOLL ? &gw_poll_epoll_ops
                                   : &gw_poll_select_ops;
    p->backend = p->ops->create();
    if (p->backend == NULL) {
        free(p);
        return NULL;
    }
    return p;
}

void gw_poller_free(gw_poller *p)
{
    if (p == NULL)
        return;
    p->ops->destroy(p->backend);
    free(p->masks);
    free(p->ev);
    free(p);
}

/* Room for one event per watched descriptor (doubling). Called only
 * before a wait: the array the last wait returned stays put while the
 * caller walks it, whatever it watches meanwhile. 0, or -1 when memory
 * runs out. */
static int grow_events(gw_poller *p)
{
    if (p->watched + 1 > p->ev_cap) {
        int cap = p->ev_cap > 0 ? p->ev_cap : 64;
        gw_poll_event *e;

        while (cap < p->watched + 1)
            cap *= 2;
        e = realloc(p->ev, (size_t)cap * sizeof *e);
        if (e == NULL)
            return -1;
        p->ev = e;
        p->ev_cap = cap;
    }
    return 0;
}

/* Room for descriptor fd in the mask table (doubling). 0, or -1 when
 * memory runs out. */
static int grow(gw_poller *p, int fd)
{
    if (fd >= p->masks_cap) {
        int cap = p->masks_cap > 0 ? p->masks_cap : 64;
        unsigned char *m;

        while (cap <= fd)
            cap *= 2;
        m = realloc(p->masks, (size_t)cap);
        if (m == NULL)
            return -1;
        memset(m + p->masks_cap, 0, (size_t)(cap - p->masks_cap));
        p->masks = m;
        p->masks_cap = cap;
    }
    return 0;
}

int gw_poller_set(gw_poller *p, int fd, unsigned mask)
{
    unsigned old;

    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (fd >= p->masks_cap && mask == 0)
        return 0;
    if (grow(p, fd) != 0) {
        errno = ENOMEM;
        return -1;
    }
    old = p->masks[fd];
    if (old == mask)
        return 0;
    if (p->ops->set(p->backend, fd, old, mask) != 0)
        return -1;
    p->masks[fd] = (unsigned char)mask;
    p->watched += (old == 0) - (mask == 0);
    return 0;
}

int gw_poller_wait(gw_poller *p, gw_time timeout, const gw_poll_event **ev)
{
    int n;

    if (grow_events(p) != 0) {
        errno = ENOMEM;
        return -1;
    }
    n = p->ops->wait(p->backend, timeout, p->ev, p->ev_cap);
    *ev = p->ev;
    return n;
}
