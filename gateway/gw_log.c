/* gw_log.c - stderr logging through a buffer that never blocks. */
#include "gw_log.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static gw_log_level log_level = GW_LOG_INFO;

static const char *const level_names[] = { "notice", "error", "warn",
                                           "info", "debug" };

/* syslog priorities of the levels, for the journal. */
static const int level_prio[] = { 5, 3, 4, 6, 7 };

static struct {
    char buf[GW_LOG_BUFFER];
    size_t len;
    int defer;
    unsigned long dropped;      /* in all */
    unsigned long unreported;   /* dropped since the last report */
    int journal;                /* -1: not yet known */
    time_t stamp_sec;           /* the second stamp[] was made for */
    char stamp[32];             /* "2026-01-02T03:04:05" */
} lg = { .journal = -1, .stamp_sec = -1 };

void gw_log_set_level(gw_log_level lvl)
{
    log_level = lvl;
}

int gw_log_parse_level(const char *s, gw_log_level *out)
{
    size_t i;

    for (i = 1; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (gw_log_level)i;
            return 0;
        }
    }
    return -1;
}

int gw_log_enabled(gw_log_level lvl)
{
    return lvl <= log_level;
}

/* JOURNAL_STREAM is "DEV:INODE" of the journal's socket; it counts only
 * when stderr is still that socket (not redirected since). */
static int to_journal(void)
{
    const char *js;
    unsigned long long dev, ino;
    struct stat st;

    if (lg.journal >= 0)
        return lg.journal;
    lg.journal = 0;
    js = getenv("JOURNAL_STREAM");
    if (js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
        fstat(STDERR_FILENO, &st) == 0 &&
        (unsigned long long)st.st_dev == dev &&
        (unsigned long long)st.st_ino == ino)
        lg.journal = 1;
    return lg.journal;
}

/* Whole lines from the front of the buffer, at most PIPE_BUF bytes. */
static size_t chunk(void)
{
    size_t n = lg.len < PIPE_BUF ? lg.len : PIPE_BUF;

    while (n > 0 && lg.buf[n - 1] != '\n')
        n--;
    return n;
}

/* Write as much as stderr takes now; 0 when the buffer is empty. */
static int drain(void)
{
    struct pollfd p;
    size_t n;
    ssize_t k;

    while (lg.len > 0) {
        p.fd = STDERR_FILENO;
        p.events = POLLOUT;
        if (poll(&p, 1, 0) != 1 || (p.revents & POLLOUT) == 0) {
            if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
                lg.len = 0;     /* nobody will read them */
            return -1;
        }
        n = chunk();
        k = write(STDERR_FILENO, lg.buf, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            lg.len = 0;         /* a failed log write has nowhere to go */
            return -1;
        }
        memmove(lg.buf, lg.buf + k, lg.len - (size_t)k);
        lg.len -= (size_t)k;
    }
    return 0;
}

/* "TIME hframe-gateway[PID] LEVEL: " or "<N>hframe-gateway[PID] ...". */
static size_t prefix(char *line, size_t cap, gw_log_level lvl)
{
    struct timespec ts;
    struct tm tm;
    int k;

    if (to_journal()) {
        k = snprintf(line, cap, "<%d>hframe-gateway[%ld] %s: ",
                     level_prio[lvl], (long)getpid(), level_names[lvl]);
    } else {
        clock_gettime(CLOCK_REALTIME, &ts);
        if (ts.tv_sec != lg.stamp_sec) {
            gmtime_r(&ts.tv_sec, &tm);
            strftime(lg.stamp, sizeof lg.stamp, "%Y-%m-%dT%H:%M:%S", &tm);
            lg.stamp_sec = ts.tv_sec;
        }
        k = snprintf(line, cap, "%s.%03ldZ hframe-gateway[%ld] %s: ",
                     lg.stamp, ts.tv_nsec / 1000000L, (long)getpid(),
                     level_names[lvl]);
    }
    return k > 0 && (size_t)k < cap ? (size_t)k : 0;
}

static void put(const char *line, size_t n)
{
    if (GW_LOG_BUFFER - lg.len < n && (drain(), GW_LOG_BUFFER - lg.len < n)) {
        lg.dropped++;
        lg.unreported++;
        return;
    }
    memcpy(lg.buf + lg.len, line, n);
    lg.len += n;
}

static void vlog(gw_log_level lvl, const char *fmt, va_list ap)
{
    char line[GW_LOG_LINE_MAX];
    size_t n;
    int k;

    n = prefix(line, sizeof line, lvl);
    k = vsnprintf(line + n, sizeof line - n, fmt, ap);
    if (k > 0)
        n += (size_t)k < sizeof line - n ? (size_t)k : sizeof line - n - 1;
    line[n++] = '\n';
    put(line, n);
}

static void report_dropped(void)
{
    char line[GW_LOG_LINE_MAX];
    size_t n;
    int k;

    if (lg.unreported == 0 || lg.len > 0)
        return;
    n = prefix(line, sizeof line, GW_LOG_WARN);
    k = snprintf(line + n, sizeof line - n, "%lu log lines dropped: "
                 "stderr was not read", lg.unreported);
    if (k < 0 || (size_t)k >= sizeof line - n)
        return;
    n += (size_t)k;
    line[n++] = '\n';
    lg.unreported = 0;
    put(line, n);
}

void gw_log(gw_log_level lvl, const char *fmt, ...)
{
    va_list ap;

    if (!gw_log_enabled(lvl))
        return;
    va_start(ap, fmt);
    vlog(lvl, fmt, ap);
    va_end(ap);
    if (!lg.defer)
        gw_log_flush();
}

void gw_log_defer(int on)
{
    lg.defer = on;
    if (!on)
        gw_log_flush();
}

void gw_log_flush(void)
{
    if (drain() == 0 && lg.unreported > 0) {
        report_dropped();
        drain();
    }
}

void gw_log_forked(void)
{
    lg.len = 0;
    lg.unreported = 0;
}

unsigned long gw_log_dropped(void)
{
    return lg.dropped;
}

char *gw_log_escape(char *dst, size_t cap, const void *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = s;
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        unsigned char ch = p[i];

        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            if (cap - o < 2)
                break;
            dst[o++] = (char)ch;
            continue;
        }
        if (cap - o < 5)
            break;
        dst[o++] = '\\';
        dst[o++] = 'x';
        dst[o++] = hex[ch >> 4];
        dst[o++] = hex[ch & 15];
    }
    dst[o] = '\0';
    return dst;
}
