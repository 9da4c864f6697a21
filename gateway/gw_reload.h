/*
 * gw_reload.h - an index file read off the event loop.
 *
 * A large index takes a while to read and check (a 56 MiB file, about a
 * second); done inside the loop, every connection would wait for it. A
 * reload runs in a thread of its own instead, which only reads the file
 * into a new gw_index; when it is done it writes one byte to the fd
 * given at the start (the loop's wake pipe), and the loop takes the
 * result with gw_reload_take and swaps the index between two passes.
 *
 * The thread logs nothing and touches nothing but its own result. One
 * reload at a time: a SIGHUP during one is remembered and starts
 * another when it ends, so the last edit of the file always counts.
 */
#ifndef GW_RELOAD_H
#define GW_RELOAD_H

#include "gw_index.h"

/* The byte the thread writes when it is done: no signal has number 0. */
#define GW_RELOAD_DONE 0

typedef struct gw_reload gw_reload;

/* NULL when memory runs out. wake_fd gets GW_RELOAD_DONE when a reload
 * is done (non-blocking; a full pipe already holds a wake-up). */
gw_reload *gw_reload_new(int wake_fd);

/* Start reading path. 1 when started, 0 when one is running already
 * (it will be started again once that one ends), -1 when no thread could
 * be made. */
int gw_reload_start(gw_reload *r, const char *path);

/*
 * After GW_RELOAD_DONE: 1 with *idx (the caller's to free) or 0 with
 * *err when the file was bad; -1 when no reload has finished. A reload
 * asked for meanwhile starts now (*again set to 1).
 */
int gw_reload_take(gw_reload *r, gw_index **idx, gw_index_error *err,
                   int *again);

/* Wait for a reload in progress, then free. */
void gw_reload_free(gw_reload *r);

#endif /* GW_RELOAD_H */
