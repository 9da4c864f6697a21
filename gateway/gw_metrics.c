/* gw_metrics.c - Prometheus metrics and health (see gw_metrics.h). */
#include "gw_metrics.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_hist.h"
#include "gw_log.h"

/* HTTP connections at once: scrapers and health checks need a few;
 * more leave room while clients that send nothing wait out
 * METRICS_TIMEOUT, and each holds a descriptor. */
#define METRICS_CONNS 64

/* Seconds a scraper may idle on its connection. */
#define METRICS_TIMEOUT 10

#define TEXT_FORMAT "text/plain; version=0.0.4; charset=utf-8"

struct gw_metrics {
    struct MHD_Daemon *d;
    gw_metrics_config cfg;
    int listen_fd;
    int draining;
    int closed;     /* a scraper's connection closed since the last run */
    int conn_fd[METRICS_CONNS];     /* scrapers' sockets; -1: free */
};

static const char *const kind_names[GW_KIND_COUNT] = {
    "search", "invalid_action", "binary", "bad_request", "frame_error",
    "relayed"
};

/* "# HELP" and "# TYPE" of one metric. */
static void head(FILE *f, const char *name, const char *type,
                 const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type,
                const char *help, uint64_t v)
{
    head(f, name, type, help);
    fprintf(f, "%s %" PRIu64 "\n", name, v);
}

/* A label value: our names are printable ASCII; '"' and '\' escaped. */
static void label(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
}

/* Every entry of a counter table as name{key="..."} (zero ones too, so
 * series do not appear out of nothing). */
static void table(FILE *f, const char *name, const char *help,
                  const char *key, const uint64_t *v, unsigned first,
                  unsigned count, const char *(*label_of)(unsigned))
{
    unsigned i;

    head(f, name, "counter", help);
    for (i = first; i < count; i++) {
        fprintf(f, "%s{%s=\"", name, key);
        label(f, label_of(i));
        fprintf(f, "\"} %" PRIu64 "\n", v[i]);
    }
}

static const char *kind_label(unsigned i)
{
    return kind_names[i];
}

static const char *frame_label(unsigned i)
{
    return hf_status_name((hf_status)i);
}

static const char *req_label(unsigned i)
{
    return gw_req_status_name((gw_req_status)i);
}

/* Why a client was refused: over --max-conns (or stopping), out of
 * descriptors, no memory to watch it. */
static const char *reject_label(unsigned i)
{
    static const char *const names[] = { "max-conns", "descriptors",
                                         "memory" };

    return names[i];
}

static const char *close_label(unsigned i)
{
    return gw_close_reason_name((gw_close_reason)i);
}

/* A histogram's series for one label: cumulative buckets, sum, count. */
static void hist(FILE *f, const char *name, const char *key,
                 const char *value, const gw_hist *h)
{
    uint64_t total = 0;
    unsigned i;

    for (i = 0; i <= GW_HIST_BOUNDS; i++) {
        total += h->bucket[i];
        fprintf(f, "%s_bucket{%s=\"", name, key);
        label(f, value);
        if (i < GW_HIST_BOUNDS)
            fprintf(f, "\",le=\"%g\"} %" PRIu64 "\n",
                    (double)gw_hist_bound_us(i) / 1e6, total);
        else
            fprintf(f, "\",le=\"+Inf\"} %" PRIu64 "\n", total);
    }
    fprintf(f, "%s_sum{%s=\"", name, key);
    label(f, value);
    fprintf(f, "\"} %.6f\n", (double)h->sum_us / 1e6);
    fprintf(f, "%s_count{%s=\"", name, key);
    label(f, value);
    fprintf(f, "\"} %" PRIu64 "\n", total);
}

/* Per-upstream series: one metric, one line per upstream. */
typedef enum up_item {
    UP_UP, UP_REQUESTS, UP_FAILURES, UP_TIMEOUTS, UP_CONNECTS, UP_CONNS,
    UP_INFLIGHT, UP_ITEMS
} up_item;

static const struct {
    const char *name, *type, *help;
} up_meta[UP_ITEMS] = {
    { "hframe_upstream_up", "gauge", "1 while every worker uses the "
      "upstream, 0 while one has it marked down" },
    { "hframe_upstream_requests_total", "counter",
      "Answers passed back from the upstream" },
    { "hframe_upstream_failures_total", "counter",
      "Refused or broken connections and bad answers" },
    { "hframe_upstream_timeouts_total", "counter",
      "Requests on which the upstream made no progress in time" },
    { "hframe_upstream_connects_total", "counter",
      "Connections opened to the upstream" },
    { "hframe_upstream_connections", "gauge",
      "Connections to the upstream open now" },
    { "hframe_upstream_inflight", "gauge",
      "Requests on the upstream's connections now" },
};

static uint64_t up_value(const gw_upstream_stats *u, up_item it)
{
    switch (it) {
    case UP_UP: return u->down ? 0 : 1;
    case UP_REQUESTS: return u->requests;
    case UP_FAILURES: return u->failures;
    case UP_TIMEOUTS: return u->timeouts;
    case UP_CONNECTS: return u->connects;
    case UP_CONNS: return u->conns;
    case UP_INFLIGHT: return u->inflight;
    default: return 0;
    }
}

static void upstreams(FILE *f, const gw_metrics *m, const gw_slot *sum)
{
    unsigned it;
    size_t i;

    if (m->cfg.n_upstreams == 0)
        return;
    for (it = 0; it < UP_ITEMS; it++) {
        head(f, up_meta[it].name, up_meta[it].type, up_meta[it].help);
        for (i = 0; i < m->cfg.n_upstreams; i++) {
            fprintf(f, "%s{upstream=\"", up_meta[it].name);
            label(f, m->cfg.upstream_names[i]);
            fprintf(f, "\"} %" PRIu64 "\n",
                    up_value(&sum->up[i], (up_item)it));
        }
    }
    head(f, "hframe_upstream_duration_seconds", "histogram",
         "Time from a request's going to the upstream to its answer "
         "or failure");
    for (i = 0; i < m->cfg.n_upstreams; i++)
        hist(f, "hframe_upstream_duration_seconds", "upstream",
             m->cfg.upstream_names[i], &sum->st.upstream_latency[i]);
}

/* The whole page into a buffer from malloc; NULL when memory runs out. */
static char *render(const gw_metrics *m, size_t *len)
{
    gw_slot sum;
    const gw_stats *st = &sum.st;
    uint64_t rejected[3];
    char *buf = NULL;
    FILE *f;
    unsigned k;

    gw_shared_sum(m->cfg.shared, &sum);
    f = open_memstream(&buf, len);
    if (f == NULL)
        return NULL;
    table(f, "hframe_requests_total", "Requests answered, by kind",
          "kind", st->requests, 0, GW_KIND_COUNT, kind_label);
    head(f, "hframe_request_duration_seconds", "histogram",
         "Time from a request's first byte to its answer, by kind");
    for (k = 0; k < GW_KIND_COUNT; k++)
        hist(f, "hframe_request_duration_seconds", "kind", kind_names[k],
             &st->latency[k]);
    table(f, "hframe_frame_errors_total", "Malformed frames, by code",
          "code", st->frame_errors, HF_NEED_MORE + 1, HF_STATUS_COUNT,
          frame_label);
    /* busy goes to a connection refused before any request: it is
     * counted in hframe_connections_rejected_total. */
    table(f, "hframe_request_errors_total", "Bad requests, by code",
          "code", st->request_errors, 1, GW_REQ_E_BUSY, req_label);
    table(f, "hframe_connections_closed_total",
          "Client connections closed, by reason", "reason", st->closed, 1,
          GW_CLOSE_REASON_COUNT, close_label);
    one(f, "hframe_connections_accepted_total", "counter",
        "Client connections accepted", st->accepted);
    rejected[0] = st->rejected_cap;
    rejected[1] = st->rejected_nofd;
    rejected[2] = st->rejected_nomem;
    table(f, "hframe_connections_rejected_total",
          "Client connections refused, by reason: max-conns and "
          "descriptors are told with a busy frame, memory is closed",
          "reason", rejected, 0, 3, reject_label);
    one(f, "hframe_accept_errors_total", "counter",
        "accept() failures other than try again", st->accept_errors);
    one(f, "hframe_connections", "gauge", "Client connections open now",
        sum.conns);
    one(f, "hframe_received_bytes_total", "counter",
        "Request bytes received", st->bytes_in);
    one(f, "hframe_sent_bytes_total", "counter", "Answer bytes sent",
        st->bytes_out);
    one(f, "hframe_log_lines_dropped_total", "counter",
        "Log lines dropped while stderr was not read",
        st->log_dropped);
    upstreams(f, m, &sum);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code,
                             const char *type, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r;
    enum MHD_Result rc;

    r = MHD_create_response_from_buffer(len, body, mode);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

/* A relay with every upstream marked down by every worker cannot
 * answer but with upstream-unavailable: a load balancer should send its
 * clients elsewhere. (A worker being restarted counts as not marking
 * any down.) */
static int no_upstream_up(const gw_metrics *m)
{
    gw_slot sum;
    unsigned workers = gw_shared_count(m->cfg.shared);
    size_t i;

    if (m->cfg.n_upstreams == 0 || workers == 0)
        return 0;
    gw_shared_sum(m->cfg.shared, &sum);
    for (i = 0; i < m->cfg.n_upstreams; i++) {
        if (sum.up[i].down < 0 || (unsigned)sum.up[i].down < workers)
            return 0;
    }
    return 1;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_len, void **state)
{
    gw_metrics *m = cls;
    char *page;
    size_t len;

    (void)version;
    (void)upload;
    if (*state == NULL) {
        *state = m;         /* headers only: answer on the next call */
        return MHD_YES;
    }
    if (*upload_len != 0) {
        *upload_len = 0;    /* a body is not asked for: dropped */
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                     "GET only\n", 9, MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/health") == 0) {
        if (m->draining)
            return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
                         "draining\n", 9, MHD_RESPMEM_PERSISTENT);
        if (no_upstream_up(m))
            return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
                         "no upstream up\n", 15, MHD_RESPMEM_PERSISTENT);
        return reply(c, MHD_HTTP_OK, "text/plain", "ok\n", 3,
                     MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/metrics") != 0)
        return reply(c, MHD_HTTP_NOT_FOUND, "text/plain",
                     "/metrics or /health\n", 20, MHD_RESPMEM_PERSISTENT);
    page = render(m, &len);
    if (page == NULL)
        return MHD_NO;
    return reply(c, MHD_HTTP_OK, TEXT_FORMAT, page, len,
                 MHD_RESPMEM_MUST_FREE);
}

/* MHD's connections come and go: their sockets are kept so that a
 * forked process can close its copies (gw_metrics_forked). */
static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_ctx,
                          enum MHD_ConnectionNotificationCode what)
{
    gw_metrics *m = cls;
    const union MHD_ConnectionInfo *info;
    unsigned i;
    int fd;

    (void)socket_ctx;
    info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info == NULL)
        return;
    fd = info->connect_fd;
    for (i = 0; i < METRICS_CONNS; i++) {
        if (what == MHD_CONNECTION_NOTIFY_STARTED && m->conn_fd[i] < 0) {
            m->conn_fd[i] = fd;
            return;
        }
        if (what == MHD_CONNECTION_NOTIFY_CLOSED && m->conn_fd[i] == fd) {
            m->conn_fd[i] = -1;
            m->closed = 1;
            return;
        }
    }
}

void gw_metrics_draining(gw_metrics *m)
{
    if (m != NULL)
        m->draining = 1;
}

int gw_metrics_fd(const gw_metrics *m)
{
    const union MHD_DaemonInfo *info;

    info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
    return info != NULL ? info->epoll_fd : -1;
}

/* At the connection limit MHD takes the listening socket out of its
 * epoll set, and puts it back in the next run after a connection
 * closed; nothing would make the epoll descriptor readable for that run
 * (the last scraper gone, the set holds nothing), so a close makes the
 * server due at once. */
gw_time gw_metrics_due(const gw_metrics *m)
{
    MHD_UNSIGNED_LONG_LONG ms;

    if (m->closed)
        return gw_now();
    if (MHD_get_timeout(m->d, &ms) != MHD_YES)
        return GW_TIME_NEVER;
    return gw_time_add(gw_now(), (gw_time)ms * 1000);
}

void gw_metrics_run(gw_metrics *m)
{
    m->closed = 0;
    MHD_run(m->d);
}

static void on_ready(void *ctx)
{
    gw_metrics_run(ctx);
}

static gw_time due(void *ctx)
{
    return gw_metrics_due(ctx);
}

int gw_metrics_watch(gw_metrics *m, gw_loop *l)
{
    gw_loop_foreign fo;

    fo.fd = gw_metrics_fd(m);
    fo.on_ready = on_ready;
    fo.due = due;
    fo.ctx = m;
    if (fo.fd < 0 || gw_loop_add_foreign(l, &fo) != 0) {
        gw_log(GW_LOG_ERROR, "metrics: the loop cannot watch the HTTP "
               "server");
        return -1;
    }
    return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[GW_LOG_LINE_MAX];

    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    gw_log(GW_LOG_WARN, "metrics: %s", msg);
}

gw_metrics *gw_metrics_start(int listen_fd, const gw_metrics_config *cfg)
{
    gw_metrics *m = calloc(1, sizeof *m);
    unsigned i;

    if (m == NULL) {
        close(listen_fd);
        gw_log(GW_LOG_ERROR, "metrics: out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    m->listen_fd = listen_fd;
    for (i = 0; i < METRICS_CONNS; i++)
        m->conn_fd[i] = -1;
    m->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL,
                            NULL, answer, m,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_LISTEN_SOCKET, listen_fd,
                            MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)METRICS_CONNS,
                            MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)METRICS_TIMEOUT,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, m,
                            MHD_OPTION_END);
    if (m->d == NULL || gw_metrics_fd(m) < 0) {
        gw_log(GW_LOG_ERROR, "metrics: the HTTP server did not start");
        if (m->d == NULL)
            close(listen_fd);
        gw_metrics_stop(m);
        return NULL;
    }
    return m;
}

void gw_metrics_forked(gw_metrics *m)
{
    unsigned i;

    if (m == NULL)
        return;
    for (i = 0; i < METRICS_CONNS; i++) {
        if (m->conn_fd[i] >= 0)
            close(m->conn_fd[i]);
    }
    close(gw_metrics_fd(m));
    close(m->listen_fd);
}

void gw_metrics_stop(gw_metrics *m)
{
    if (m != NULL && m->d != NULL)
        MHD_stop_daemon(m->d);
    free(m);
}
