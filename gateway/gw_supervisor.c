/* gw_supervisor.c - worker processes for --workers. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gw_log.h"
#include "gw_loop.h"
#include "gw_options.h"
#include "gw_signal.h"
#include "gw_supervisor.h"
#include "gw_systemd.h"

#define SEC ((gw_time)1000000)

/* Workers that die within this long of starting are restarted only
 * after it, so a crash loop does not spin. */
#define RESTART_HOLDOFF (1 * SEC)

/* How long the parent waits for workers to start listening. */
#define READY_TIMEOUT (10 * SEC)

/* After the workers' own drain time, how long before they are killed. */
#define STOP_GRACE (5 * SEC)

typedef struct worker {
    pid_t pid;
    gw_time started;
    gw_time restart_at;     /* GW_TIME_NEVER unless waiting to restart */
} worker;

typedef struct supervisor {
    const gw_supervisor_config *cfg;
    gw_listeners *hold;
    worker w[GW_WORKERS_MAX];
    unsigned n;
    int stopping;
    gw_time stop_deadline;
} supervisor;

/* Wait up to `wait` microseconds (GW_TIME_NEVER: no limit) for fd, or
 * for other (-1: none). */
static int wait_readable(int fd, int other, gw_time wait)
{
    struct pollfd p[2];
    int ms = wait == GW_TIME_NEVER ? -1
             : (int)((wait + 999) / 1000 > 3600000 ? 3600000
                                                    : (wait + 999) / 1000);

    p[0].fd = fd;
    p[0].events = POLLIN;
    p[1].fd = other;
    p[1].events = POLLIN;
    return poll(p, other >= 0 ? 2 : 1, ms);
}

/* In the new worker: never returns. */
static void run_worker(supervisor *s, unsigned slot, pid_t parent,
                       int ready_fd, int other_fd)
{
    char portstr[8];
    gw_listeners ls;
    int rc;

    gw_log_forked();
    gw_systemd_forked();
    gw_metrics_forked(s->cfg->metrics);
    gw_signal_reset();
    if (!s->cfg->inherit)
        gw_listeners_close(s->hold);
    if (other_fd >= 0)
        close(other_fd);
    if (gw_signal_setup(0) != 0) {
        gw_log(GW_LOG_ERROR, "worker: signals: %s", strerror(errno));
        _exit(GW_EXIT_FAIL);
    }
    /* A worker must not outlive its supervisor: told by the kernel when
     * the parent goes, and checked once for a parent gone already. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
        _exit(GW_EXIT_FAIL);
    if (s->cfg->inherit) {
        ls = *s->hold;
    } else {
        snprintf(portstr, sizeof portstr, "%u", s->hold->port);
        if (gw_listeners_open(s->cfg->host, portstr, GW_REUSEPORT_JOIN, 1,
                              &ls) != 0)
            _exit(GW_EXIT_FAIL);
    }
    gw_log(GW_LOG_INFO, "worker listening on port %u", s->hold->port);
    if (ready_fd >= 0) {
        if (write(ready_fd, "r", 1) < 0)
            gw_log(GW_LOG_WARN, "worker: ready pipe: %s", strerror(errno));
        close(ready_fd);
    }
    rc = s->cfg->serve(s->cfg->ctx, &ls, slot);
    gw_log_flush();
    _exit(rc);
}

static pid_t spawn(supervisor *s, unsigned slot, int ready_fd, int other_fd)
{
    pid_t parent = getpid(), pid;

    gw_log_flush();
    pid = fork();
    if (pid == 0)
        run_worker(s, slot, parent, ready_fd, other_fd);
    return pid;
}

static void forward(const supervisor *s, int sig)
{
    unsigned i;

    for (i = 0; i < s->n; i++) {
        if (s->w[i].pid > 0)
            kill(s->w[i].pid, sig);
    }
}

static unsigned alive(const supervisor *s)
{
    unsigned i, k = 0;

    for (i = 0; i < s->n; i++)
        k += s->w[i].pid > 0;
    return k;
}

/* Wait for n "ready" bytes from the workers, bounded. */
static int wait_ready(int fd, unsigned n)
{
    gw_time until = gw_now() + READY_TIMEOUT;
    unsigned got = 0;
    char buf[64];

    while (got < n) {
        gw_time now = gw_now();
        ssize_t k;

        if (now >= until)
            return -1;
        if (wait_readable(fd, -1, until - now) < 0 && errno != EINTR)
            return -1;
        k = read(fd, buf, sizeof buf);
        if (k == 0)
            return -1;
        if (k > 0)
            got += (unsigned)k;
    }
    return 0;
}

static void reap(supervisor *s, gw_time now)
{
    int status, lvl = s->stopping ? GW_LOG_INFO : GW_LOG_WARN;
    unsigned i;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (i = 0; i < s->n; i++) {
            worker *w = &s->w[i];

            if (w->pid != pid)
                continue;
            w->pid = 0;
            gw_shared_retire(s->cfg->shared, i);
            if (WIFSIGNALED(status))
                gw_log((gw_log_level)lvl, "worker %ld killed by signal %d",
                       (long)pid, WTERMSIG(status));
            else
                gw_log((gw_log_level)lvl, "worker %ld exited with status %d",
                       (long)pid, WEXITSTATUS(status));
            if (!s->stopping)
                w->restart_at = now - w->started < RESTART_HOLDOFF
                                    ? w->started + RESTART_HOLDOFF : now;
        }
    }
}

static void stop(supervisor *s)
{
    if (!s->stopping) {
        s->stopping = 1;
        gw_systemd_notify("STOPPING=1", NULL);
        gw_metrics_draining(s->cfg->metrics);
        /* A drain timeout of 0 is "no limit": wait for the workers. */
        s->stop_deadline = s->cfg->drain_timeout == 0
                               ? GW_TIME_NEVER
                               : gw_time_add(gw_now(),
                                             s->cfg->drain_timeout +
                                                 STOP_GRACE);
        gw_log(GW_LOG_NOTICE, "stopping %u workers", alive(s));
    } else if (s->stop_deadline > gw_time_add(gw_now(), STOP_GRACE)) {
        /* A second stop signal: the workers stop at once (they get it
         * too) and are given STOP_GRACE to do so. */
        s->stop_deadline = gw_time_add(gw_now(), STOP_GRACE);
    }
    forward(s, SIGTERM);
}

/* Restart the workers whose time has come; the next restart time. */
static gw_time restart(supervisor *s, gw_time now)
{
    gw_time next = GW_TIME_NEVER;
    unsigned i;

    for (i = 0; i < s->n && !s->stopping; i++) {
        worker *w = &s->w[i];

        if (w->pid != 0 || w->restart_at == GW_TIME_NEVER)
            continue;
        if (now >= w->restart_at) {
            w->pid = spawn(s, i, -1, -1);
            w->started = now;
            w->restart_at = GW_TIME_NEVER;
            if (w->pid < 0) {
                w->pid = 0;
                w->restart_at = now + RESTART_HOLDOFF;
            } else {
                gw_log(GW_LOG_NOTICE, "worker %ld started", (long)w->pid);
            }
        }
        if (w->restart_at < next)
            next = w->restart_at;
    }
    return next;
}

static void on_signals(supervisor *s)
{
    unsigned char sig[64];
    const char *status;
    size_t k, j;

    while ((k = gw_signal_take(sig, sizeof sig)) > 0) {
        for (j = 0; j < k; j++) {
            switch (sig[j]) {
            case SIGTERM:
            case SIGINT:
                stop(s);
                break;
            case SIGHUP:
                /* Workers started later inherit the parent's index;
                 * the running ones read it again on their own. */
                gw_systemd_notify("RELOADING=1", NULL);
                status = s->cfg->reload != NULL ? s->cfg->reload(s->cfg->ctx)
                                                : "serving";
                forward(s, SIGHUP);
                gw_systemd_notify("READY=1", status);
                break;
            case SIGUSR1:
                forward(s, SIGUSR1);
                break;
            default:
                break;
            }
        }
    }
}

static int start_all(supervisor *s)
{
    int ready[2];
    unsigned i;

    if (pipe(ready) != 0) {
        gw_log(GW_LOG_ERROR, "pipe: %s", strerror(errno));
        return -1;
    }
    for (i = 0; i < s->n; i++) {
        s->w[i].pid = spawn(s, i, ready[1], ready[0]);
        s->w[i].started = gw_now();
        s->w[i].restart_at = GW_TIME_NEVER;
        if (s->w[i].pid < 0) {
            s->w[i].pid = 0;
            gw_log(GW_LOG_ERROR, "fork: %s", strerror(errno));
        }
    }
    close(ready[1]);
    if (wait_ready(ready[0], s->n) != 0) {
        gw_log(GW_LOG_ERROR, "workers did not start");
        forward(s, SIGKILL);
        close(ready[0]);
        return -1;
    }
    close(ready[0]);
    return 0;
}

int gw_supervise(const gw_supervisor_config *cfg, gw_listeners *hold)
{
    supervisor s;
    gw_time wait;
    char names[256];
    int rc = GW_EXIT_OK, metrics_fd;

    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    s.hold = hold;
    s.n = cfg->workers < GW_WORKERS_MAX ? cfg->workers : GW_WORKERS_MAX;
    s.stop_deadline = GW_TIME_NEVER;
    metrics_fd = cfg->metrics != NULL ? gw_metrics_fd(cfg->metrics) : -1;
    if (start_all(&s) != 0) {
        s.stopping = 1;
        rc = GW_EXIT_FAIL;
    } else {
        gw_log(GW_LOG_NOTICE, "listening on %s with %u workers",
               gw_listeners_name(hold, names, sizeof names), s.n);
        gw_systemd_notify("READY=1", "serving");
        if (cfg->port_file != NULL &&
            gw_write_number_file(cfg->port_file, "port file",
                                 (long)hold->port) != 0) {
            rc = GW_EXIT_FAIL;
            stop(&s);
        }
    }
    for (;;) {
        gw_time now = gw_now(), next;

        reap(&s, now);
        if (s.stopping && alive(&s) == 0)
            break;
        if (s.stopping && now >= s.stop_deadline) {
            gw_log(GW_LOG_WARN, "workers still running: killing them");
            forward(&s, SIGKILL);
            s.stop_deadline = now + STOP_GRACE;
        }
        next = restart(&s, now);
        if (s.stopping && s.stop_deadline < next)
            next = s.stop_deadline;
        if (cfg->metrics != NULL)
            next = gw_time_min(next, gw_metrics_due(cfg->metrics));
        wait = next == GW_TIME_NEVER ? GW_TIME_NEVER
                                     : next > now ? next - now : 0;
        gw_log_flush();
        if (wait_readable(gw_signal_fd(), metrics_fd, wait) < 0 &&
            errno != EINTR) {
            gw_log(GW_LOG_ERROR, "poll: %s", strerror(errno));
            break;
        }
        on_signals(&s);
        if (cfg->metrics != NULL)
            gw_metrics_run(cfg->metrics);
    }
    gw_log(GW_LOG_NOTICE, "stopped");
    return rc;
}
