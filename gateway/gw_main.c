/*
 * gw_main.c - hframe-gateway: from the options to a running loop. The
 * option table is gw_options.c, sockets and files gw_net.c, signals
 * gw_signal.c, workers gw_supervisor.c; connections live in gw_loop and
 * gw_conn.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "hframe.h"
#include "util.h"
#include "gw_conn.h"
#include "gw_handler.h"
#include "gw_index.h"
#include "gw_log.h"
#include "gw_loop.h"
#include "gw_metrics.h"
#include "gw_net.h"
#include "gw_options.h"
#include "gw_privs.h"
#include "gw_reload.h"
#include "gw_signal.h"
#include "gw_supervisor.h"
#include "gw_systemd.h"

/* How long a client that got an error frame may keep sending before the
 * socket is closed: long enough for the frame to arrive, short enough
 * that a misbehaving client cannot hold the slot. Capped by
 * --drain-timeout unless that is 0 (no limit). */
#define LINGER_TIME ((gw_time)1000000)

/* Descriptors a process keeps for itself: standard streams, the
 * listening sockets, the signal pipe, the poller, the index file, the
 * loop's reserve descriptor, and some room. */
#define FD_RESERVE 32

/* Default clients per process when descriptors allow more: what the
 * ten-thousand-client target needs with room to spare. */
#define DEFAULT_MAX_CONNS 65536

typedef struct app {
    gw_options opt;
    gw_index *index;
    gw_loop *loop;
    gw_reload *reload;      /* SIGHUP in a serving process */
    gw_upstream upstreams[GW_UPSTREAM_MAX];
    gw_privs privs;             /* --user, --group */
    gw_shared *shared;          /* the counters, a slot per worker */
    gw_metrics *metrics;        /* --metrics, in the process serving it */
    const char *up_names[GW_UPSTREAM_MAX];
    int wrote_pid;          /* the pid file is ours to remove */
    int listened;           /* so is the port file */
    unsigned port;          /* the port it holds */
    char status[160];       /* for the service manager, after a reload */
} app;

/* ------------------------------------------------------- descriptors */

/* Upstream connections a relay may hold beside `clients` clients: one
 * per client at most (the pool's total is --max-conns), fewer when
 * --upstream-conns caps each upstream lower. */
static uint64_t pool_need(const gw_options *o, uint64_t clients)
{
    uint64_t cap;

    if (o->n_upstream == 0)
        return 0;
    cap = o->upstream_conns == 0 ? clients
                                 : o->upstream_conns * o->n_upstream;
    return cap < clients ? cap : clients;
}

/* Clients that fit in `budget` descriptors beside their upstream
 * connections: n + pool_need(n) <= budget. */
static uint64_t clients_fit(const gw_options *o, uint64_t budget)
{
    uint64_t pool = pool_need(o, budget);

    if (pool >= budget / 2)
        return o->n_upstream > 0 ? budget / 2 : budget;
    return budget - pool;
}

/*
 * Raise the soft descriptor limit to the hard one, then size what was not
 * given: a client needs one descriptor; in relay mode the pool's
 * connections need more (at most one per client). Say how many clients
 * fit, and warn when what was given does not.
 */
static void size_to_descriptors(gw_options *o)
{
    struct rlimit rl;
    uint64_t budget, fit, clients;
    int given = o->max_conns != 0;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = rl.rlim_max = 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;

        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = was;
    }
    budget = rl.rlim_cur > FD_RESERVE ? (uint64_t)rl.rlim_cur - FD_RESERVE
                                      : 1;
    fit = clients_fit(o, budget);
    if (fit == 0)
        fit = 1;
    if (!given)
        o->max_conns = fit > DEFAULT_MAX_CONNS ? DEFAULT_MAX_CONNS : fit;
    clients = o->max_conns < fit ? o->max_conns : fit;
    if (o->n_upstream > 0)
        gw_log(GW_LOG_INFO, "descriptor limit %llu: up to %llu clients at "
               "once beside up to %llu upstream connections (relay: each "
               "takes a descriptor)", (unsigned long long)rl.rlim_cur,
               (unsigned long long)clients,
               (unsigned long long)pool_need(o, clients));
    else
        gw_log(GW_LOG_INFO, "descriptor limit %llu: up to %llu clients at "
               "once", (unsigned long long)rl.rlim_cur,
               (unsigned long long)clients);
    if (given && o->max_conns > fit)
        gw_log(GW_LOG_WARN, "--max-conns %llu needs about %llu descriptors "
               "and the limit is %llu: clients past %llu are refused with a "
               "busy frame (raise ulimit -n or use --workers)",
               (unsigned long long)o->max_conns,
               (unsigned long long)(o->max_conns +
                                    pool_need(o, o->max_conns) + FD_RESERVE),
               (unsigned long long)rl.rlim_cur, (unsigned long long)clients);
    if (o->n_upstream > 0 && o->upstream_conns == 0)
        o->upstream_conns = o->max_conns;
    /* A pipelining client's requests side by side: as many as one
     * upstream connection carries, or a few connections' worth. */
    if (o->client_pipeline == 0)
        o->client_pipeline = o->upstream_pipeline > GW_RELAY_DEPTH_DEFAULT
                                 ? o->upstream_pipeline
                                 : GW_RELAY_DEPTH_DEFAULT;
}

/* ------------------------------------------------------- index */

static gw_index *load_index(const char *path)
{
    gw_index_error err;
    gw_index *idx = NULL;

    if (path == NULL) {
        idx = gw_index_builtin();
        if (idx == NULL)
            gw_log(GW_LOG_ERROR, "built-in index: out of memory");
        else
            gw_handle_prepare(idx);
        return idx;
    }
    if (gw_index_load_file(path, &idx, &err) != GW_INDEX_OK) {
        gw_log(GW_LOG_ERROR, "index %s: %s at offset %zu: %s", path,
               gw_index_strerror(err.code), err.offset, err.detail);
        return NULL;
    }
    gw_handle_prepare(idx);
    return idx;
}

/* idx (NULL: the file was bad, err says why) replaces the index. */
/* The reload's outcome, also told to the service manager: its status
 * line says a failed reload until one succeeds. */
static void swap_index(app *a, gw_index *idx, const gw_index_error *err)
{
    if (idx == NULL) {
        gw_log(GW_LOG_ERROR, "index %s: %s at offset %zu: %s",
               a->opt.index_path, gw_index_strerror(err->code),
               err->offset, err->detail);
        gw_log(GW_LOG_WARN, "SIGHUP: keeping the previous index "
               "(%zu entries)", gw_index_count(a->index));
        snprintf(a->status, sizeof a->status, "serving the previous index: "
                 "reload failed: %s at offset %zu",
                 gw_index_strerror(err->code), err->offset);
        return;
    }
    if (a->loop != NULL)
        gw_loop_set_index(a->loop, idx);
    gw_index_free(a->index);
    a->index = idx;
    gw_log(GW_LOG_NOTICE, "index %s reloaded: %zu entries",
           a->opt.index_path, gw_index_count(idx));
    snprintf(a->status, sizeof a->status, "serving");
}

/* SIGHUP in a serving process: the file is read off the loop. */
static void start_reload(app *a)
{
    if (a->opt.n_upstream > 0) {
        gw_log(GW_LOG_INFO, "SIGHUP: a relay has no index to reload");
        return;
    }
    if (a->opt.index_path == NULL) {
        gw_log(GW_LOG_INFO, "SIGHUP: no --index file, keeping the "
               "built-in index");
        return;
    }
    switch (gw_reload_start(a->reload, a->opt.index_path)) {
    case 1:
        gw_systemd_notify("RELOADING=1", NULL);
        break;
    case 0:
        break;              /* one is running: it reads the file again */
    default:
        gw_log(GW_LOG_ERROR, "SIGHUP: cannot start the reload: out of "
               "threads; keeping the previous index");
    }
}

static void finish_reload(app *a)
{
    gw_index_error err;
    gw_index *idx;
    int again;

    if (gw_reload_take(a->reload, &idx, &err, &again) < 0)
        return;
    swap_index(a, idx, &err);
    if (again)
        gw_log(GW_LOG_INFO, "SIGHUP during the reload: reading %s again",
               a->opt.index_path);
    else
        gw_systemd_notify("READY=1", a->status);
}

/* The supervisor's copy of the index, which restarted workers inherit
 * (read in place: the supervisor serves no client). */
static const char *reload_parent(void *ctx)
{
    app *a = ctx;
    gw_index_error err;
    gw_index *idx = NULL;

    if (a->opt.index_path == NULL)
        return "serving";
    memset(&err, 0, sizeof err);
    if (gw_index_load_file(a->opt.index_path, &idx, &err) != GW_INDEX_OK)
        idx = NULL;
    else
        gw_handle_prepare(idx);
    swap_index(a, idx, &err);
    return a->status;
}

/* ------------------------------------------------------- one process */

static void on_wake(void *ctx)
{
    app *a = ctx;
    unsigned char sig[64];
    size_t n, i;

    while ((n = gw_signal_take(sig, sizeof sig)) > 0) {
        for (i = 0; i < n; i++) {
            switch (sig[i]) {
            case SIGTERM:
            case SIGINT:
                gw_systemd_notify("STOPPING=1", NULL);
                gw_metrics_draining(a->metrics);
                gw_loop_stop(a->loop);
                break;
            case SIGHUP:
                start_reload(a);
                break;
            case GW_RELOAD_DONE:
                finish_reload(a);
                break;
            case SIGUSR1:
                gw_loop_log_stats(a->loop);
                break;
            default:
                break;
            }
        }
    }
}

static void relay_config(const app *a, gw_loop_config *lc)
{
    const gw_options *o = &a->opt;

    lc->conn.relay.on = 1;
    /* Each upstream once, and one more for a request sent on a kept
     * connection the upstream had just closed. */
    lc->conn.relay.attempts = (unsigned)o->n_upstream + 1;
    lc->conn.relay.depth = (unsigned)o->client_pipeline;
    lc->conn.relay.wait_timeout = (gw_time)o->upstream_timeout;
    lc->conn.relay.names = o->log_level >= GW_LOG_INFO;
    lc->pool.upstream_timeout = (gw_time)o->upstream_timeout;
    lc->pool.connect_timeout = (gw_time)o->upstream_connect_timeout;
    lc->pool.upstream_proxy = o->upstream_proxy;
    lc->pool.private_conns = o->upstream_private;
    lc->pool.conns = (unsigned)(o->upstream_conns > UINT32_MAX
                                    ? UINT32_MAX : o->upstream_conns);
    /* One upstream connection per client at most, whatever the number
     * of upstreams: the descriptor budget counted two per client. */
    lc->pool.conns_total = (unsigned)(o->max_conns > UINT32_MAX
                                          ? UINT32_MAX : o->max_conns);
    lc->pool.pipeline = (unsigned)o->upstream_pipeline;
    lc->pool.fails = (unsigned)o->upstream_fails;
    lc->pool.retry = (gw_time)o->upstream_retry;
    lc->pool.check = (gw_time)o->upstream_check;
    memcpy(lc->upstreams, a->upstreams, sizeof lc->upstreams);
    lc->n_upstreams = o->n_upstream;
}

/* --metrics: its socket, bound before root goes, and its server, which
 * the supervisor runs with --workers and the loop without. The address
 * was checked by the option parser; binding it may still fail. */
static int start_metrics(app *a)
{
    char host[UTIL_HOST_MAX], msg[UTIL_MSG_MAX];
    gw_metrics_config mc;
    const char *port;
    gw_listeners ls;
    size_t i;

    if (a->opt.metrics == NULL)
        return 0;
    if (util_split_hostport(a->opt.metrics, host, sizeof host, &port, msg,
                            sizeof msg) != 0 ||
        gw_listeners_open(host, port, 0, 1, &ls) != 0) {
        gw_log(GW_LOG_ERROR, "--metrics %s: cannot serve the metrics there",
               a->opt.metrics);
        return -1;
    }
    /* The first address only: one server, one socket. */
    while (ls.n > 1)
        close(ls.fd[--ls.n]);
    for (i = 0; i < a->opt.n_upstream; i++)
        a->up_names[i] = a->upstreams[i].name;
    memset(&mc, 0, sizeof mc);
    mc.shared = a->shared;
    mc.upstream_names = a->up_names;
    mc.n_upstreams = a->opt.n_upstream;
    a->metrics = gw_metrics_start(ls.fd[0], &mc);
    if (a->metrics == NULL)
        return -1;
    gw_log(GW_LOG_NOTICE, "metrics on '%s' port %u", host, ls.port);
    return 0;
}

/* Serve on ls until told to stop. Returns an exit status. */
static int serve(void *ctx, gw_listeners *ls, unsigned slot)
{
    app *a = ctx;
    const gw_options *o = &a->opt;
    gw_loop_config lc;
    size_t i;
    int rc;

    memset(&lc, 0, sizeof lc);
    for (i = 0; i < ls->n; i++)
        lc.listen_fds[i] = ls->fd[i];
    lc.n_listen = ls->n;
    ls->n = 0;                      /* the loop closes them on stop */
    lc.max_conns = (size_t)o->max_conns;
    lc.stop_timeout = (gw_time)o->drain_timeout;
    lc.poll = o->io;
    hf_limits_default(&lc.conn.limits);
    lc.conn.limits.max_header = (size_t)o->max_header;
    lc.conn.limits.max_content = o->max_content;
    lc.conn.max_output = (size_t)o->max_output;
    lc.conn.max_json = o->max_json;
    lc.conn.request_timeout = (gw_time)o->request_timeout;
    lc.conn.idle_timeout = (gw_time)o->idle_timeout;
    lc.conn.write_timeout = (gw_time)o->write_timeout;
    lc.conn.drain_timeout = o->drain_timeout == 0 ||
                                    (gw_time)o->drain_timeout > LINGER_TIME
                                ? LINGER_TIME : (gw_time)o->drain_timeout;
    lc.conn.index = a->index;
    lc.conn.proxy_protocol = o->proxy_protocol;
    if (o->n_upstream > 0)
        relay_config(a, &lc);
    lc.slot = gw_shared_slot(a->shared, slot);
    lc.wake_fd = gw_signal_fd();
    lc.on_wake = on_wake;
    lc.wake_ctx = a;
    a->reload = gw_reload_new(gw_signal_notify_fd());
    a->loop = a->reload != NULL ? gw_loop_new(&lc) : NULL;
    if (a->loop == NULL) {
        gw_log(GW_LOG_ERROR, "out of memory");
        gw_reload_free(a->reload);
        return GW_EXIT_FAIL;
    }
    /* A worker leaves the metrics to its supervisor (which closed the
     * server's descriptors in it); a gateway of one process serves them
     * from its loop. */
    if (a->opt.workers > 1)
        a->metrics = NULL;
    else if (a->metrics != NULL && gw_metrics_watch(a->metrics,
                                                    a->loop) != 0) {
        gw_loop_free(a->loop);
        a->loop = NULL;
        gw_reload_free(a->reload);
        a->reload = NULL;
        return GW_EXIT_FAIL;
    }
    rc = gw_loop_run(a->loop);
    gw_loop_log_stats(a->loop);
    gw_loop_free(a->loop);
    a->loop = NULL;
    gw_reload_free(a->reload);
    a->reload = NULL;
    return rc == 0 ? GW_EXIT_OK : GW_EXIT_FAIL;
}

/* ------------------------------------------------------- start-up */

/* Resolve the upstreams; refuse one that is this gateway itself. */
static int check_upstreams(app *a, const gw_listeners *ls)
{
    const gw_upstream *u = a->upstreams;
    size_t i, j;

    for (i = 0; i < a->opt.n_upstream; i++) {
        if (gw_upstream_is_self(&u[i], ls)) {
            gw_log(GW_LOG_ERROR, "--upstream %s is this gateway's own "
                   "address: a relay cannot relay to itself", u[i].name);
            return -1;
        }
        /* Written two ways ("localhost:9000", "127.0.0.1:9000"), one
         * server would count twice in the rotation and the health. */
        for (j = 0; j < i; j++) {
            if (u[j].addr_len == u[i].addr_len &&
                memcmp(&u[j].addr, &u[i].addr, u[i].addr_len) == 0) {
                gw_log(GW_LOG_ERROR, "--upstream %s and --upstream %s are "
                       "the same address", u[j].name, u[i].name);
                return -1;
            }
        }
    }
    return 0;
}

/* The sockets systemd passed, or our own. Several workers on our own:
 * the parent binds without listening (so the port is resolved once and
 * held), each worker listens on its own. With --user workers could not
 * bind a privileged port: they share the parent's listening sockets, as
 * they share sockets systemd passed (*shared). */
static int open_listeners(const app *a, gw_listeners *ls, int *shared)
{
    int many = a->opt.workers > 1, n = gw_systemd_listeners(ls);

    *shared = n > 0 || a->privs.on;
    if (n < 0)
        return -1;
    if (n > 0) {
        gw_log(GW_LOG_INFO, "socket activation: %d socket%s passed (HOST "
               "and PORT are not used)", n, n == 1 ? "" : "s");
        return 0;
    }
    return gw_listeners_open(a->opt.host, a->opt.port,
                             many && !*shared ? GW_REUSEPORT_FIRST : 0,
                             !many || *shared, ls);
}

static int run(app *a)
{
    gw_supervisor_config sc;
    gw_listeners ls;
    char names[256];
    int many = a->opt.workers > 1, shared, rc;

    if (open_listeners(a, &ls, &shared) != 0)
        return GW_EXIT_FAIL;
    if (check_upstreams(a, &ls) != 0) {
        gw_listeners_close(&ls);
        return GW_EXIT_USAGE;
    }
    if (a->opt.pid_file != NULL &&
        gw_write_number_file(a->opt.pid_file, "pid file",
                             (long)getpid()) != 0) {
        gw_listeners_close(&ls);
        return GW_EXIT_FAIL;
    }
    a->wrote_pid = a->opt.pid_file != NULL;
    a->listened = 1;
    a->port = ls.port;
    /* Sockets bound, index read, pid file written: root is no longer
     * needed, in this process nor in the workers it forks. */
    if (start_metrics(a) != 0 || gw_privs_drop(&a->privs) != 0) {
        gw_listeners_close(&ls);
        return GW_EXIT_FAIL;
    }
    if (many) {
        memset(&sc, 0, sizeof sc);
        sc.host = a->opt.host;
        sc.inherit = shared;
        sc.workers = (unsigned)a->opt.workers;
        sc.drain_timeout = (gw_time)a->opt.drain_timeout;
        sc.port_file = a->opt.port_file;
        sc.serve = serve;
        sc.reload = reload_parent;
        sc.shared = a->shared;
        sc.metrics = a->metrics;
        sc.ctx = a;
        rc = gw_supervise(&sc, &ls);
        gw_listeners_close(&ls);
        return rc;
    }
    gw_log(GW_LOG_NOTICE, "listening on %s (%zu socket%s, %s)%s",
           gw_listeners_name(&ls, names, sizeof names), ls.n,
           ls.n == 1 ? "" : "s", gw_poll_name(a->opt.io),
           a->opt.n_upstream > 0 ? ", relaying" : "");
    if (a->opt.port_file != NULL &&
        gw_write_number_file(a->opt.port_file, "port file",
                             (long)ls.port) != 0) {
        gw_listeners_close(&ls);
        return GW_EXIT_FAIL;
    }
    gw_systemd_notify("READY=1", "serving");
    rc = serve(a, &ls, 0);
    gw_log(GW_LOG_NOTICE, "stopped");
    return rc;
}

int main(int argc, char **argv)
{
    app a;
    size_t i;
    int rc;

    memset(&a, 0, sizeof a);
    rc = gw_options_parse(&a.opt, argc, argv);
    if (rc >= 0)
        return rc;
    gw_log_set_level(a.opt.log_level);
    gw_log_set_format(a.opt.log_format);
    for (i = 0; i < a.opt.n_upstream; i++) {
        if (gw_upstream_resolve(a.opt.upstream[i], &a.upstreams[i]) != 0)
            return GW_EXIT_USAGE;
    }
    if (gw_privs_resolve(a.opt.user, a.opt.group, &a.privs) != 0)
        return GW_EXIT_USAGE;
    size_to_descriptors(&a.opt);
    a.index = load_index(a.opt.index_path);
    if (a.index == NULL)
        return GW_EXIT_FAIL;
    if (gw_signal_setup(a.opt.workers > 1) != 0) {
        gw_log(GW_LOG_ERROR, "signals: %s", strerror(errno));
        gw_index_free(a.index);
        return GW_EXIT_FAIL;
    }
    /* The counters, in memory every worker forked from here shares. */
    a.shared = gw_shared_new((unsigned)a.opt.workers);
    if (a.shared == NULL) {
        gw_log(GW_LOG_ERROR, "counters: %s", strerror(errno));
        gw_index_free(a.index);
        return GW_EXIT_FAIL;
    }
    rc = run(&a);
    gw_metrics_stop(a.metrics);
    gw_shared_free(a.shared);
    /* What was written for others to read goes with the process. */
    if (a.wrote_pid)
        gw_remove_number_file(a.opt.pid_file, (long)getpid());
    if (a.listened && a.opt.port_file != NULL)
        gw_remove_number_file(a.opt.port_file, (long)a.port);
    gw_index_free(a.index);
    gw_log_flush();
    return rc;
}
