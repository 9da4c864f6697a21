/* gw_shared.c - counters shared by the workers (see gw_shared.h). */
#include "gw_shared.h"

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

struct gw_shared {
    size_t bytes;           /* of the whole mapping */
    unsigned n;
    gw_slot slot[];
};

gw_shared *gw_shared_new(unsigned n)
{
    size_t bytes = offsetof(gw_shared, slot) + (size_t)n * sizeof(gw_slot);
    gw_shared *sh;

    if (n == 0)
        return NULL;
    sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return NULL;
    /* Anonymous mappings start zeroed: every count starts at 0. */
    sh->bytes = bytes;
    sh->n = n;
    return sh;
}

void gw_shared_free(gw_shared *sh)
{
    if (sh != NULL)
        munmap(sh, sh->bytes);
}

gw_slot *gw_shared_slot(gw_shared *sh, unsigned i)
{
    return sh != NULL && i < sh->n ? &sh->slot[i] : NULL;
}

unsigned gw_shared_count(const gw_shared *sh)
{
    return sh != NULL ? sh->n : 0;
}

static void add_upstream(gw_upstream_stats *sum, const gw_upstream_stats *u)
{
    sum->requests += u->requests;
    sum->failures += u->failures;
    sum->timeouts += u->timeouts;
    sum->connects += u->connects;
    sum->bytes_out += u->bytes_out;
    sum->bytes_in += u->bytes_in;
    sum->conns += u->conns;
    sum->inflight += u->inflight;
    sum->down += u->down != 0;
}

void gw_shared_sum(const gw_shared *sh, gw_slot *sum)
{
    unsigned i, k;

    memset(sum, 0, sizeof *sum);
    for (i = 0; i < sh->n; i++) {
        const gw_slot *s = &sh->slot[i];

        gw_stats_add(&sum->st, &s->st);
        for (k = 0; k < GW_POOL_UPSTREAMS; k++)
            add_upstream(&sum->up[k], &s->up[k]);
        sum->conns += s->conns;
    }
}

void gw_shared_retire(gw_shared *sh, unsigned i)
{
    gw_slot *s = gw_shared_slot(sh, i);
    unsigned k;

    if (s == NULL)
        return;
    s->conns = 0;
    for (k = 0; k < GW_POOL_UPSTREAMS; k++) {
        s->up[k].conns = 0;
        s->up[k].inflight = 0;
        s->up[k].down = 0;
    }
}
