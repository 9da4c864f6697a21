/*
 * gw_supervisor.h - --workers N: a parent that starts N worker processes
 * on one port (SO_REUSEPORT), restarts those that die (not faster than
 * once a second each), forwards SIGHUP and SIGUSR1 to them, and on
 * SIGTERM stops them and waits. Workers exit when the parent dies.
 *
 * The parent also serves --metrics (gw_metrics.h) from its own poll
 * loop: the workers count into their slots of the shared counters
 * (gw_shared.h), a worker restarted in a slot goes on counting there,
 * and the gauges of a worker that died are cleared. /health answers
 * 503 from SIGTERM until the last worker has drained.
 */
#ifndef GW_SUPERVISOR_H
#define GW_SUPERVISOR_H

#include "gw_metrics.h"
#include "gw_net.h"
#include "gw_shared.h"
#include "gw_time.h"

typedef struct gw_supervisor_config {
    const char *host;           /* what workers listen on */
    int inherit;                /* workers accept on hold itself (it
                                   listens: socket activation, --user)
                                   instead of their own SO_REUSEPORT
                                   sockets */
    unsigned workers;
    gw_time drain_timeout;      /* workers' own; the parent waits longer */
    const char *port_file;      /* written once every worker listens */
    /* In a worker: serve on ls (listening) and return an exit status.
     * slot is the worker's number, 0 to workers - 1, kept by the worker
     * that replaces it. */
    int (*serve)(void *ctx, gw_listeners *ls, unsigned slot);
    gw_shared *shared;          /* a slot per worker */
    gw_metrics *metrics;        /* served here; NULL: no --metrics */
    /* In the parent, on SIGHUP, before workers are told: the status
     * to tell the service manager ("serving", or why not the new). */
    const char *(*reload)(void *ctx);
    void *ctx;
} gw_supervisor_config;

/*
 * Run the workers until SIGTERM or SIGINT. hold is bound to the port (not
 * listening, unless cfg->inherit); the parent keeps it so the port stays
 * ours while a worker restarts. The parent tells the service manager
 * READY=1, RELOADING=1 and STOPPING=1 (gw_systemd.h). Returns 0, or 1
 * when the workers did not start or the port file could not be
 * written.
 */
int gw_supervise(const gw_supervisor_config *cfg, gw_listeners *hold);

#endif /* GW_SUPERVISOR_H */
