/* gw_pool.c - the relay's upstreams: which one a request goes to, on
 * which connection, and whether an upstream is up (see gw_pool.h). */
#include "gw_pool_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the health check asks: any answer will do, a valid frame is the
 * point. */
#define CHECK_SEARCH "{\"action\": \"search\", \"value\": \"hframe-check\"}"

static int make_probe(gw_buf *out)
{
    hf_header h;
    size_t len = sizeof CHECK_SEARCH - 1, w;
    unsigned char *p;

    hf_header_init(&h, "text/json", "utf-8");
    h.content_length = len;
    p = gw_buf_reserve(out, HF_PREFIX_LEN + HF_HEADER_MAX + len);
    if (p == NULL ||
        hf_encode(&h, CHECK_SEARCH, len, p, HF_PREFIX_LEN + HF_HEADER_MAX +
                  len, &w) != HF_OK)
        return -1;
    gw_buf_commit(out, w);
    return 0;
}

gw_pool *gw_pool_new(const gw_pool_config *cfg)
{
    gw_pool *p;
    size_t i;

    if (cfg->n_upstreams == 0 || cfg->n_upstreams > GW_POOL_UPSTREAMS ||
        cfg->conns == 0 || cfg->pipeline == 0 ||
        cfg->pipeline > GW_POOL_PIPELINE_MAX || cfg->fails == 0 ||
        hf_limits_check(&cfg->limits) != HF_OK)
        return NULL;
    p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->cfg = *cfg;
    gw_buf_init(&p->probe);
    if (make_probe(&p->probe) != 0) {
        gw_pool_free(p);
        return NULL;
    }
    for (i = 0; i < cfg->n_upstreams; i++) {
        p->up[i].down_until = GW_TIME_NEVER;
        p->up[i].retry = cfg->retry;
        p->up[i].next_check = GW_TIME_NEVER;
        p->up[i].st = cfg->counters != NULL ? &cfg->counters[i]
                                            : &p->up[i].own;
    }
    return p;
}

void gw_pool_free(gw_pool *p)
{
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->cfg.n_upstreams; i++) {
        while (p->up[i].conns != NULL) {
            gw_upconn *u = p->up[i].conns;

            p->up[i].conns = u->next;
            gw_upconn_free(u);
        }
    }
    gw_buf_free(&p->probe);
    free(p);
}

void gw_pool_foreach(gw_pool *p, void (*fn)(void *ctx, gw_upconn *u),
                     void *ctx)
{
    gw_upconn *u, *next;
    size_t i;

    for (i = 0; i < p->cfg.n_upstreams; i++) {
        for (u = p->up[i].conns; u != NULL; u = next) {
            next = u->next;
            fn(ctx, u);
        }
    }
}

void gw_pool_set_logger(gw_pool *p,
                        void (*log)(void *ctx, int warn, const char *msg),
                        void *ctx)
{
    p->log = log;
    p->log_ctx = ctx;
}

static void say(const gw_pool *p, int warn, const char *fmt, size_t i,
                const char *why)
{
    char msg[256];

    if (p->log == NULL)
        return;
    snprintf(msg, sizeof msg, fmt, p->cfg.names[i] != NULL
                                       ? p->cfg.names[i] : "?", why);
    p->log(p->log_ctx, warn, msg);
}

void gw_pool_wake(gw_pool *p, gw_upconn *u, gw_conn *c)
{
    if (p->cfg.wake != NULL)
        p->cfg.wake(p->cfg.wake_ctx, u, c);
}

void gw_pool_stats(const gw_pool *p, size_t i, gw_upstream_stats *st)
{
    const gw_upstream *up = &p->up[i];
    const gw_upconn *u;
    const gw_exchange *w;

    *st = *up->st;
    st->conns = 0;
    st->inflight = 0;
    for (u = up->conns; u != NULL; u = u->next) {
        st->conns += !u->over;
        st->inflight += gw_upconn_load(u);
    }
    for (w = up->wait_head; w != NULL; w = w->wait_next)
        st->inflight++;
    st->down = up->down_until != GW_TIME_NEVER;
}

/* Requests on upstream i now: in flight and waiting. */
static unsigned load(const gw_pool *p, size_t i)
{
    gw_upstream_stats st;

    gw_pool_stats(p, i, &st);
    return st.inflight;
}

/* A try of upstream i (a probe, or a request after its time down)
 * starts at now; it is over when it answers or fails, or at the latest
 * once a connect and an upstream timeout have passed (a minute when
 * either has no limit). */
static void start_try(gw_pool *p, size_t i, gw_time now)
{
    gw_time span = p->cfg.connect_timeout > 0 && p->cfg.upstream_timeout > 0
                       ? p->cfg.connect_timeout + p->cfg.upstream_timeout
                       : GW_POOL_RETRY_MAX;

    p->up[i].probing = 1;
    p->up[i].probing_until = gw_time_add(now, span);
}

/* Whether a try of upstream i is still on at now. */
static int trying(const gw_upstream *up, gw_time now)
{
    return up->probing && now < up->probing_until;
}

/* Upstream i may take a request at now: it is up, or its time down is
 * over and nothing tries it yet. */
static int usable(const gw_pool *p, size_t i, gw_time now)
{
    const gw_upstream *up = &p->up[i];

    if (up->down_until == GW_TIME_NEVER)
        return 1;
    return now >= up->down_until && !trying(up, now);
}

/* The upstream for request x: usable, not yet tried for it where
 * another is, the fewest requests, ties in turn. -1 when none. */
static int pick(gw_pool *p, const gw_exchange *x, gw_time now)
{
    size_t n = p->cfg.n_upstreams, k, i;
    int best = -1, fresh, best_fresh = 0;
    unsigned l, best_load = 0;

    if (n == 1)
        return usable(p, 0, now) ? 0 : -1;
    for (k = 0; k < n; k++) {
        i = (p->turn + k) % n;
        if (!usable(p, i, now))
            continue;
        fresh = !(x->tried & ((uint32_t)1 << i));
        l = load(p, i);
        if (best < 0 || fresh > best_fresh ||
            (fresh == best_fresh && l < best_load)) {
            best = (int)i;
            best_fresh = fresh;
            best_load = l;
        }
    }
    if (best >= 0)
        p->turn = ((size_t)best + 1) % n;
    return best;
}

/* u leaves its upstream's list. */
static void unlink_conn(gw_upstream *up, gw_upconn *u)
{
    if (u->prev != NULL)
        u->prev->next = u->next;
    else
        up->conns = u->next;
    if (u->next != NULL)
        u->next->prev = u->prev;
    else
        up->last = u->prev;
    u->prev = u->next = NULL;
}

static void push_front(gw_upstream *up, gw_upconn *u)
{
    u->prev = NULL;
    u->next = up->conns;
    if (up->conns != NULL)
        up->conns->prev = u;
    else
        up->last = u;
    up->conns = u;
}

static void push_back(gw_upstream *up, gw_upconn *u)
{
    u->next = NULL;
    u->prev = up->last;
    if (up->last != NULL)
        up->last->next = u;
    else
        up->conns = u;
    up->last = u;
}

/* u goes where find looks for it: to the front of its upstream's list
 * when it can take a request (idle, or its last request not sent yet),
 * to the back when it is full (without pipelining, any request on it),
 * so that finding one mostly ends at the first. */
static void place(gw_pool *p, gw_upconn *u)
{
    gw_upstream *up = &p->up[u->upstream];

    if (u->over)
        return;
    if (u->n >= p->cfg.pipeline || (u->n > 0 && up->one_each)) {
        if (up->last != u) {
            unlink_conn(up, u);
            push_back(up, u);
        }
    } else if ((u->n == 0 || gw_upconn_filling(u)) && up->conns != u) {
        unlink_conn(up, u);
        push_front(up, u);
    }
}

/* A connection of upstream i that can take request x now: one whose
 * last request has not gone out yet (x leaves in the same write), then
 * an idle one, ready before connecting, then the least loaded with
 * room. Such connections are at the front of the list (place), so
 * the search mostly ends at the first. */
static gw_upconn *find(gw_pool *p, size_t i, const gw_exchange *x)
{
    const gw_conn *owner = gw_pool_private(p) ? x->c : NULL;
    gw_upconn *u, *best = NULL;

    for (u = p->up[i].conns; u != NULL; u = u->next) {
        if (u->owner != owner || !gw_upconn_has_room(u, x))
            continue;
        if (gw_upconn_filling(u))
            return u;
        if (best == NULL || u->n < best->n ||
            (u->n == best->n && u->state == GW_UP_READY &&
             best->state != GW_UP_READY))
            best = u;
        if (u->n == 0 && u->state == GW_UP_READY)
            break;
    }
    return best;
}

static unsigned count(const gw_pool *p, size_t i)
{
    const gw_upconn *u;
    unsigned n = 0;

    for (u = p->up[i].conns; u != NULL; u = u->next)
        n += !u->over;
    return n;
}

static gw_upconn *open_conn(gw_pool *p, size_t i, gw_conn *owner)
{
    gw_upconn *u = gw_upconn_new(p, i, owner);

    if (u == NULL)
        return NULL;
    push_front(&p->up[i], u);
    p->live++;
    return u;
}

/* An idle connection of up a request of c could make way for: not a
 * probe, not private to c. NULL when there is none. */
static gw_upconn *idle_other(const gw_upstream *up, const gw_conn *c)
{
    gw_upconn *u;

    for (u = up->conns; u != NULL; u = u->next) {
        if (!u->over && !u->probe && u->n == 0 && u->owner != c)
            return u;
    }
    return NULL;
}

/* A new connection may open within cfg.conns_total: there is room, or
 * an idle connection (of any upstream, not one private to c) is closed
 * to make it. */
static int room_in_total(gw_pool *p, const gw_conn *c, gw_time now)
{
    gw_upconn *u = NULL;
    size_t j;

    if (p->cfg.conns_total == 0 || p->live < p->cfg.conns_total)
        return 1;
    for (j = 0; j < p->cfg.n_upstreams && u == NULL; j++)
        u = idle_other(&p->up[j], c);
    /* Its place may go to a request that waited on its upstream: then
     * this one waits like the others. */
    if (u != NULL)
        gw_upconn_retire(u, now);
    if (p->live < p->cfg.conns_total)
        return 1;
    p->starved = 1;     /* the next connection to end makes room */
    return 0;
}

int gw_pool_private(const gw_pool *p)
{
    return p->cfg.private_conns || p->cfg.upstream_proxy;
}

/* Private connections, at the connection cap: close an idle one of
 * another client, so that c may have one. */
static void retire_idle(gw_pool *p, size_t i, const gw_conn *c,
                        gw_time now)
{
    gw_upconn *u = idle_other(&p->up[i], c);

    if (u != NULL)
        gw_upconn_retire(u, now);
}

/* With pipelining, a client's request follows its previous one on that
 * one's connection when it has room (and x has not failed there): they
 * go out together and come back in order. NULL when it cannot. */
static gw_upconn *follow(const gw_pool *p, const gw_exchange *x)
{
    const gw_exchange *w, *prev = NULL;
    gw_upconn *u;

    if (p->cfg.pipeline < 2)
        return NULL;
    for (w = x->c->relay.head; w != NULL && w != x; w = w->next)
        prev = w;
    if (prev == NULL || (u = prev->up) == NULL ||
        (u->upstream < 32 && (x->tried & ((uint32_t)1 << u->upstream))) ||
        p->up[u->upstream].down_until != GW_TIME_NEVER ||
        !gw_upconn_has_room(u, x))
        return NULL;
    return u;
}

/* Upstream i, down, is tried by a connection of the pool's own that
 * sends the check search and reads one answer: no client's request
 * waits on it. */
static void probe(gw_pool *p, size_t i, gw_time now)
{
    gw_upconn *u = open_conn(p, i, NULL);

    if (u == NULL)
        return;
    u->probe = 1;
    start_try(p, i, now);
    gw_pool_wake(p, u, NULL);
}

/* While an upstream is up, one whose time down is over is tried again
 * by a probe, not by a client's request (its connect may hang for the
 * whole connect timeout); with every upstream down, a request tries
 * one (pick). */
static void try_again(gw_pool *p, gw_time now)
{
    size_t i, n = p->cfg.n_upstreams;

    for (i = 0; i < n && p->up[i].down_until != GW_TIME_NEVER; i++)
        ;
    if (i == n)
        return;             /* none up */
    for (i = 0; i < n; i++) {
        const gw_upstream *up = &p->up[i];

        if (up->down_until != GW_TIME_NEVER && now >= up->down_until &&
            !trying(up, now))
            probe(p, i, now);
    }
}

void gw_pool_dispatch(gw_pool *p, gw_exchange *x, gw_time now)
{
    gw_conn *c = x->c;
    gw_upstream *up;
    gw_upconn *u;
    int i;

    gw_pool_leave(p, x, now);
    if (p->cfg.n_upstreams > 1)
        try_again(p, now);
    if ((u = follow(p, x)) != NULL) {
        gw_upconn_add(u, x, now);
        place(p, u);
        return;
    }
    i = pick(p, x, now);
    if (i < 0) {
        /* Every upstream is down: fail at once, not after a connect. */
        gw_relay_given_back(x, GW_RETRY_NO, GW_REQ_E_UP_UNAVAILABLE, now);
        return;
    }
    up = &p->up[i];
    if (up->down_until != GW_TIME_NEVER)
        start_try(p, (size_t)i, now);  /* its time is up: this one tries it */
    u = find(p, (size_t)i, x);
    if (u == NULL && gw_pool_private(p) &&
        count(p, (size_t)i) >= p->cfg.conns)
        retire_idle(p, (size_t)i, c, now);
    if (u == NULL && count(p, (size_t)i) < p->cfg.conns &&
        room_in_total(p, c, now))
        u = open_conn(p, (size_t)i, gw_pool_private(p) ? c : NULL);
    if (u != NULL) {
        gw_upconn_add(u, x, now);
        place(p, u);
        return;
    }
    /* Every connection is busy: wait for one. */
    x->wait_next = NULL;
    if (up->wait_tail != NULL)
        up->wait_tail->wait_next = x;
    else
        up->wait_head = x;
    up->wait_tail = x;
    gw_relay_attached(x, NULL, i, now);
}

void gw_pool_kick(gw_pool *p, gw_exchange *x)
{
    if (x->up != NULL)
        gw_pool_wake(p, x->up, NULL);
}

void gw_pool_resume(gw_pool *p, gw_exchange *x, gw_time now)
{
    if (x->up == NULL)
        return;
    x->up->since = now;
    gw_pool_wake(p, x->up, NULL);
}

static void unqueue(gw_pool *p, gw_exchange *x)
{
    gw_upstream *up = &p->up[x->upstream];
    gw_exchange *prev = NULL, *w;

    for (w = up->wait_head; w != NULL; prev = w, w = w->wait_next) {
        if (w != x)
            continue;
        if (prev != NULL)
            prev->wait_next = w->wait_next;
        else
            up->wait_head = w->wait_next;
        if (up->wait_tail == w)
            up->wait_tail = prev;
        break;
    }
    x->queued = 0;
    x->wait_next = NULL;
}

void gw_pool_leave(gw_pool *p, gw_exchange *x, gw_time now)
{
    if (x->queued)
        unqueue(p, x);
    if (x->up != NULL)
        gw_upconn_remove(x->up, x, now);
}

/* The request waiting on u's upstream that u takes next, or NULL: the
 * first client's head that fits (the others of its client wait for its
 * answer), else the first that fits. */
static gw_exchange *next_waiting(const gw_upstream *up, const gw_upconn *u)
{
    gw_exchange *x, *later = NULL;

    for (x = up->wait_head; x != NULL; x = x->wait_next) {
        if (!gw_upconn_has_room(u, x))
            continue;
        if (gw_relay_is_head(x))
            return x;
        if (later == NULL)
            later = x;
    }
    return later;
}

void gw_pool_room(gw_pool *p, gw_upconn *u, gw_time now)
{
    gw_upstream *up = &p->up[u->upstream];
    gw_exchange *x;

    /* Idle with nothing waiting here, while a request for another
     * upstream waits for the total cap: it makes way. */
    if (up->wait_head == NULL && p->starved && u->n == 0 && !u->probe) {
        gw_upconn_retire(u, now);
        return;
    }
    while ((x = next_waiting(up, u)) != NULL) {
        if (gw_pool_private(p) && u->owner != x->c) {
            /* Private to another client: idle, it makes way (the
             * waiting requests are dispatched again as it ends). */
            if (u->n == 0)
                gw_upconn_retire(u, now);
            return;
        }
        unqueue(p, x);
        gw_upconn_add(u, x, now);
    }
    place(p, u);
}

/* The first connection of up that is c's, or NULL. */
static gw_upconn *owned_by(const gw_upstream *up, const gw_conn *c)
{
    gw_upconn *u;

    for (u = up->conns; u != NULL; u = u->next) {
        if (u->owner == c)
            return u;
    }
    return NULL;
}

void gw_pool_gone(gw_pool *p, gw_conn *c, gw_time now)
{
    gw_upconn *u;
    size_t i;

    if (!gw_pool_private(p))
        return;
    /* Retiring one may hand waiting requests to the pool, which moves
     * connections in the list (place): each is looked for from the
     * front again. A retired one is no one's. */
    for (i = 0; i < p->cfg.n_upstreams; i++) {
        while ((u = owned_by(&p->up[i], c)) != NULL) {
            if (u->over)
                u->owner = NULL;
            else
                gw_upconn_retire(u, now);
        }
    }
}

void gw_pool_answered(gw_pool *p, gw_upconn *u, gw_time now)
{
    gw_upstream *up = &p->up[u->upstream];

    (void)now;
    up->fails = 0;
    up->retry = p->cfg.retry;
    up->probing = 0;
    if (up->down_until != GW_TIME_NEVER) {
        up->down_until = GW_TIME_NEVER;
        up->next_check = GW_TIME_NEVER;
        say(p, 1, "upstream %s up%s", u->upstream, "");
    }
}

static const char *why_name(gw_up_end why)
{
    static const char *const names[] = {
        "idle", "refused", "lost", "timeout", "bad-frame", "stray",
        "dropped", "closed", "no-socket", "unanswered"
    };

    return (unsigned)why < sizeof names / sizeof names[0] ? names[why]
                                                         : "?";
}

/* Hand every request waiting on upstream i to the pool again (it went
 * down, or lost its last connection). */
static void requeue(gw_pool *p, size_t i, gw_time now)
{
    gw_exchange *x = p->up[i].wait_head, *next;

    p->up[i].wait_head = NULL;
    p->up[i].wait_tail = NULL;
    for (; x != NULL; x = next) {
        next = x->wait_next;
        x->queued = 0;
        x->wait_next = NULL;
        x->requeued = 1;
        gw_pool_dispatch(p, x, now);
    }
}

/* A failure of upstream i: enough in a row (or one while a request
 * tries it after its time down) mark it down. */
static void failed(gw_pool *p, size_t i, gw_up_end why, gw_time now)
{
    gw_upstream *up = &p->up[i];
    char reason[32];
    int was_down;

    if (++up->fails < p->cfg.fails && !up->probing)
        return;
    /* Logged when it goes down, not at each try that finds it still
     * down. */
    was_down = up->down_until != GW_TIME_NEVER;
    /* Connections opened before it went down fail with it: the time
     * down doubles once per try (a probe, or a request after the time
     * down), not once per such failure. */
    if (was_down && now < up->down_until && !up->probing)
        return;
    up->down_until = gw_time_add(now, up->retry);
    up->next_check = gw_time_after(now, p->cfg.check);
    up->retry = up->retry * 2 > GW_POOL_RETRY_MAX ? GW_POOL_RETRY_MAX
                                                   : up->retry * 2;
    up->probing = 0;
    snprintf(reason, sizeof reason, " (%s)", why_name(why));
    if (!was_down)
        say(p, 1, "upstream %s down%s", i, reason);
}

void gw_pool_blame(gw_pool *p, size_t i, gw_time now)
{
    if (i < p->cfg.n_upstreams)
        failed(p, i, GW_UP_END_UNANSWERED, now);
}

void gw_pool_ended(gw_pool *p, gw_upconn *u, gw_up_end why, gw_time now)
{
    gw_upstream *up = &p->up[u->upstream];
    size_t i = u->upstream;
    int fault = why != GW_UP_END_IDLE && why != GW_UP_END_DROPPED &&
                why != GW_UP_END_CLOSED && why != GW_UP_END_NO_SOCKET;

    if (why == GW_UP_END_TIMEOUT)
        up->st->timeouts++;
    else if (fault)
        up->st->failures++;
    /* Faults that no socket error has told of (those log themselves). */
    if (why == GW_UP_END_TIMEOUT || why == GW_UP_END_BAD_FRAME ||
        why == GW_UP_END_STRAY)
        say(p, 0, "upstream %s: connection closed (%s)", i, why_name(why));
    if (!fault) {
        if (up->probing && u->probe)
            up->probing = 0;
    } else if (why != GW_UP_END_UNANSWERED || up->probing) {
        failed(p, i, why, now);
    }
    p->live--;
}

void gw_pool_freed(gw_pool *p, size_t i, gw_time now)
{
    size_t j;

    if (p->starved) {
        /* Room in the total: every waiting request may find it. */
        p->starved = 0;
        for (j = 0; j < p->cfg.n_upstreams; j++)
            if (p->up[j].wait_head != NULL)
                requeue(p, j, now);
    } else if (p->up[i].wait_head != NULL) {
        requeue(p, i, now);
    }
}

void gw_pool_release(gw_pool *p, gw_upconn *u)
{
    unlink_conn(&p->up[u->upstream], u);
    gw_upconn_free(u);
}

gw_time gw_pool_tick(gw_pool *p, gw_time now)
{
    gw_time next = GW_TIME_NEVER;
    size_t i;

    for (i = 0; i < p->cfg.n_upstreams; i++) {
        gw_upstream *up = &p->up[i];

        if (up->down_until == GW_TIME_NEVER || p->cfg.check <= 0)
            continue;
        if (now >= up->next_check && !trying(up, now)) {
            up->next_check = gw_time_add(now, p->cfg.check);
            probe(p, i, now);
        }
        /* While a try is on, the next check waits for its end: a time
         * already past would have the loop spin. */
        next = gw_time_min(next, trying(up, now) && up->probing_until >
                                         up->next_check
                                     ? up->probing_until
                                     : up->next_check);
    }
    return next;
}
