/* gw_reload.c - the index read in a thread (see gw_reload.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_reload.h"

#include "gw_handler.h"

struct gw_reload {
    int wake_fd;
    pthread_t thread;
    int running;            /* a thread was made and not joined */
    atomic_int done;        /* it has its result */
    int again;              /* asked for while running */
    const char *path;       /* the caller's, for the life of the reload */
    gw_index *idx;
    gw_index_status st;
    gw_index_error err;
};

static void *run(void *arg)
{
    gw_reload *r = arg;
    unsigned char b = GW_RELOAD_DONE;
    ssize_t rc;

    r->idx = NULL;
    r->st = gw_index_load_file(r->path, &r->idx, &r->err);
    if (r->st == GW_INDEX_OK)
        gw_handle_prepare(r->idx);      /* off the loop, like the load */
    atomic_store(&r->done, 1);
    rc = write(r->wake_fd, &b, 1);
    (void)rc;               /* a full pipe already holds a wake-up */
    return NULL;
}

gw_reload *gw_reload_new(int wake_fd)
{
    gw_reload *r = calloc(1, sizeof *r);

    if (r != NULL)
        r->wake_fd = wake_fd;
    return r;
}

int gw_reload_start(gw_reload *r, const char *path)
{
    if (r->running) {
        r->again = 1;
        r->path = path;
        return 0;
    }
    r->path = path;
    atomic_store(&r->done, 0);
    if (pthread_create(&r->thread, NULL, run, r) != 0)
        return -1;
    r->running = 1;
    return 1;
}

int gw_reload_take(gw_reload *r, gw_index **idx, gw_index_error *err,
                   int *again)
{
    int ok;

    *again = 0;
    if (!r->running || !atomic_load(&r->done))
        return -1;
    pthread_join(r->thread, NULL);
    r->running = 0;
    ok = r->st == GW_INDEX_OK;
    *idx = ok ? r->idx : NULL;
    if (!ok)
        *err = r->err;
    r->idx = NULL;
    if (r->again) {
        r->again = 0;
        *again = gw_reload_start(r, r->path) == 1;
    }
    return ok;
}

void gw_reload_free(gw_reload *r)
{
    if (r == NULL)
        return;
    if (r->running) {
        pthread_join(r->thread, NULL);
        gw_index_free(r->idx);
    }
    free(r);
}
