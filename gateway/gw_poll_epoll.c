/* gw_poll_epoll.c - the epoll backend (gw_poll.h), level-triggered. */
#include "gw_poll.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

typedef struct ep {
    int fd;
    struct epoll_event *ev;
    int ev_cap;
} ep;

static void *ep_create(void)
{
    ep *e = calloc(1, sizeof *e);

    if (e == NULL)
        return NULL;
    e->fd = epoll_create1(EPOLL_CLOEXEC);
    if (e->fd < 0) {
        free(e);
        return NULL;
    }
    return e;
}

static void ep_destroy(void *b)
{
    ep *e = b;

    close(e->fd);
    free(e->ev);
    free(e);
}

static int ep_set(void *b, int fd, unsigned old_mask, unsigned mask)
{
    ep *e = b;
    struct epoll_event ev;

    ev.events = ((mask & GW_POLL_IN) ? EPOLLIN : 0) |
                ((mask & GW_POLL_OUT) ? EPOLLOUT : 0);
    ev.data.fd = fd;
    if (mask == 0)
        return epoll_ctl(e->fd, EPOLL_CTL_DEL, fd, &ev);
    return epoll_ctl(e->fd, old_mask == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
                     fd, &ev);
}

static int ep_wait(void *b, gw_time timeout, gw_poll_event *out, int cap)
{
    ep *e = b;
    int ms, n, i;

    if (cap > e->ev_cap) {
        struct epoll_event *v = realloc(e->ev, (size_t)cap * sizeof *v);

        if (v == NULL)
            return -1;
        e->ev = v;
        e->ev_cap = cap;
    }
    /* Round up: waking a little late is fine, early spins. */
    if (timeout == GW_TIME_NEVER)
        ms = -1;
    else if (timeout >= (gw_time)1 << 40)
        ms = 1 << 30;
    else
        ms = (int)((timeout + 999) / 1000);
    n = epoll_wait(e->fd, e->ev, cap, ms);
    for (i = 0; i < n; i++) {
        unsigned m = 0;

        if (e->ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            m |= GW_POLL_IN;
        if (e->ev[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            m |= GW_POLL_OUT;
        out[i].fd = e->ev[i].data.fd;
        out[i].mask = m;
    }
    return n;
}

const gw_poll_ops gw_poll_epoll_ops = {
    ep_create, ep_destroy, ep_set, ep_wait
};
