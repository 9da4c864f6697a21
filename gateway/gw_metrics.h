/*
 * gw_metrics.h - --metrics: the loop's counters in the Prometheus text
 * format at /metrics, and /health (200 while the gateway accepts, 503
 * once it drains), served by libmicrohttpd inside the event loop: MHD
 * runs without threads in its epoll mode, and its one epoll descriptor
 * is a foreign descriptor of the loop (gw_loop_add_foreign), so a scrape
 * costs the loop one pass and never a lock.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include "gw_loop.h"

typedef struct gw_metrics gw_metrics;

/*
 * Serve on listen_fd (a listening TCP socket, which the server then
 * owns) the counters of loop, until gw_metrics_stop. NULL after a log
 * line when MHD cannot start or the loop cannot watch it.
 */
gw_metrics *gw_metrics_start(int listen_fd, gw_loop *loop);

/* Stop serving, close the socket, free m (NULL is fine). */
void gw_metrics_stop(gw_metrics *m);

#endif /* GW_METRICS_H */
