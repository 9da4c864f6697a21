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
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "hframe.h"

static gw_log_level log_level = GW_LOG_INFO;
static gw_log_format log_format = GW_LOG_TEXT;

static const char *const format_names[] = { "text", "json" };

#define N_LEVELS (sizeof level_names / sizeof level_names[0])
#define N_FORMATS (sizeof format_names / sizeof format_names[0])

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
    pid_t pid;                  /* 0: not known in this process yet */
    char prefix[128];           /* the last line's start, made for: */
    size_t prefix_len;          /* 0: none */
    long long prefix_ms;        /* its millisecond (-1: journal) */
    gw_log_level prefix_lvl;
    gw_log_format prefix_fmt;
    pid_t prefix_pid;
} lg = { .journal = -1, .stamp_sec = -1 };

void gw_log_set_level(gw_log_level lvl)
{
    log_level = lvl;
}

/* The index of s among names[first..n), or -1. */
static int find_name(const char *const *names, size_t first, size_t n,
                     const char *s)
{
    size_t i;

    for (i = first; i < n; i++) {
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    }
    return -1;
}

/* From 1: "notice" is not a level one can choose. */
int gw_log_parse_level(const char *s, gw_log_level *out)
{
    int i = find_name(level_names, 1, N_LEVELS, s);

    *out = i >= 0 ? (gw_log_level)i : *out;
    return i >= 0 ? 0 : -1;
}

void gw_log_set_format(gw_log_format fmt)
{
    log_format = fmt;
}

int gw_log_parse_format(const char *s, gw_log_format *out)
{
    int i = find_name(format_names, 0, N_FORMATS, s);

    *out = i >= 0 ? (gw_log_format)i : *out;
    return i >= 0 ? 0 : -1;
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

/* Whole lines from buf[off..len), at most PIPE_BUF bytes. */
static size_t chunk(size_t off)
{
    size_t n = lg.len - off < PIPE_BUF ? lg.len - off : PIPE_BUF;

    while (n > 0 && lg.buf[off + n - 1] != '\n')
        n--;
    return n;
}

/* What is left from off moves to the front, once per drain. */
static void keep_from(size_t off)
{
    memmove(lg.buf, lg.buf + off, lg.len - off);
    lg.len -= off;
}

/* Write as much as stderr takes now; 0 when the buffer is empty. */
static int drain(void)
{
    struct pollfd p;
    size_t n, off = 0;
    ssize_t k;

    while (off < lg.len) {
        p.fd = STDERR_FILENO;
        p.events = POLLOUT;
        if (poll(&p, 1, 0) != 1 || (p.revents & POLLOUT) == 0) {
            if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
                lg.len = off = 0;   /* nobody will read them */
            keep_from(off);
            return -1;
        }
        n = chunk(off);
        k = write(STDERR_FILENO, lg.buf + off, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            lg.len = 0;         /* a failed log write has nowhere to go */
            return -1;
        }
        off += (size_t)k;
    }
    lg.len = 0;
    return 0;
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

/* The line's start: "TIME hframe-gateway[PID] LEVEL: " (text) or
 * {"time":"TIME","level":"LEVEL","pid":PID,"msg": (JSON); under the
 * journal "<N>" instead of the time. Made again only when the
 * millisecond or the level changed: access lines come thousands a
 * second, and most share both. */
static size_t prefix(char *line, size_t cap, gw_log_level lvl)
{
    struct timespec ts;
    struct tm tm;
    char when[48];
    int k, journal = to_journal();
    long long ms = -1;

    if (!journal) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000L;
    }
    if (lg.pid == 0)
        lg.pid = getpid();
    if (lg.prefix_len > 0 && lg.prefix_ms == ms && lg.prefix_lvl == lvl &&
        lg.prefix_fmt == log_format && lg.prefix_pid == lg.pid)
        goto copy;
    if (journal) {
        snprintf(when, sizeof when, "<%d>", level_prio[lvl]);
    } else {
        if (ts.tv_sec != lg.stamp_sec) {
            gmtime_r(&ts.tv_sec, &tm);
            strftime(lg.stamp, sizeof lg.stamp, "%Y-%m-%dT%H:%M:%S", &tm);
            lg.stamp_sec = ts.tv_sec;
        }
        snprintf(when, sizeof when, "%s.%03ldZ", lg.stamp,
                 ts.tv_nsec / 1000000L);
    }
    if (log_format == GW_LOG_JSON)
        k = snprintf(lg.prefix, sizeof lg.prefix,
                     "%s{%s%s%s\"level\":\"%s\",\"pid\":%ld,\"msg\":",
                     journal ? when : "", journal ? "" : "\"time\":\"",
                     journal ? "" : when, journal ? "" : "\",",
                     level_names[lvl], (long)lg.pid);
    else
        k = snprintf(lg.prefix, sizeof lg.prefix,
                     "%s%shframe-gateway[%ld] %s: ", when,
                     journal ? "" : " ", (long)lg.pid, level_names[lvl]);
    lg.prefix_len = k > 0 && (size_t)k < sizeof lg.prefix ? (size_t)k : 0;
    lg.prefix_ms = ms;
    lg.prefix_lvl = lvl;
    lg.prefix_fmt = log_format;
    lg.prefix_pid = lg.pid;
copy:
    if (lg.prefix_len >= cap)
        return 0;
    memcpy(line, lg.prefix, lg.prefix_len);
    return lg.prefix_len;
}

/* Append to line[*n..cap) what fits, always leaving a NUL. */
static void add(char *line, size_t cap, size_t *n, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static void add(char *line, size_t cap, size_t *n, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (*n >= cap)
        return;
    va_start(ap, fmt);
    k = vsnprintf(line + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k > 0)
        *n += (size_t)k < cap - *n ? (size_t)k : cap - *n - 1;
}

/* s as a JSON string at line[*n], by the codec's writer; when s is not
 * UTF-8 or too long, its printable ASCII form (\xHH for the rest), cut
 * to fit. Nothing when not even "" fits. */
static void add_json_string(char *line, size_t cap, size_t *n,
                            const char *s)
{
    char ascii[GW_LOG_LINE_MAX];
    size_t w, room = cap - *n;

    if (hf_json_write_string((unsigned char *)line + *n, room, s, strlen(s),
                             &w) == HF_OK) {
        *n += w;
        return;
    }
    if (room < 3)
        return;
    /* Escaping doubles a backslash at most. */
    gw_log_escape(ascii, (room - 2) / 2 + 1 < sizeof ascii
                             ? (room - 2) / 2 + 1 : sizeof ascii,
                  s, strlen(s));
    if (hf_json_write_string((unsigned char *)line + *n, room, ascii,
                             strlen(ascii), &w) == HF_OK)
        *n += w;
}

/* v in decimal, ending at end (digits[] of 24 bytes); its first byte. */
static const char *num_text(char *end, long long v)
{
    char *p = end;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
                                 : (unsigned long long)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        *--p = '-';
    return p;
}

/* One field as text (" key=v", " key=\"v\"") into out[0..cap), no NUL.
 * Returns its length; when that is cap or more, nothing is written. */
static size_t field_text(char *out, size_t cap, const gw_log_field *f)
{
    char digits[24];
    const char *v;
    size_t klen = strlen(f->key), vlen, q = f->quote ? 1 : 0, need, n;

    if (f->text == NULL) {
        v = num_text(digits + sizeof digits, f->num);
        vlen = (size_t)(digits + sizeof digits - v);
    } else {
        v = f->text;
        vlen = strlen(v);
    }
    if (klen > cap || vlen > cap)
        return cap;
    need = 2 + klen + vlen + 2 * q;
    if (need >= cap)
        return need;
    out[0] = ' ';
    memcpy(out + 1, f->key, klen);
    n = 1 + klen;
    out[n++] = '=';
    if (q)
        out[n++] = '"';
    memcpy(out + n, v, vlen);
    n += vlen;
    if (q)
        out[n++] = '"';
    return n;
}

/* One field as JSON (",\"key\":v") into out[0..cap), NUL-terminated.
 * Returns its length. */
static size_t field_json(char *out, size_t cap, const gw_log_field *f)
{
    size_t n = 0;

    add(out, cap, &n, ",\"%s\":", f->key);
    if (f->text == NULL)
        add(out, cap, &n, "%lld", f->num);
    else
        add_json_string(out, cap, &n, f->text);
    return n;
}

/* A whole line into line[0..GW_LOG_LINE_MAX): prefix, message, fields
 * (those that do not fit are left out), end. Returns its length. */
static size_t build(char *line, gw_log_level lvl, const char *msg,
                    const gw_log_field *f, size_t nf)
{
    char one[GW_LOG_LINE_MAX];
    /* Room is kept for "}\n" (JSON) or "\n" (text). */
    size_t n, k, i, cap = GW_LOG_LINE_MAX - 2;

    n = prefix(line, cap, lvl);
    if (log_format == GW_LOG_JSON) {
        add_json_string(line, cap, &n, msg);
        /* Made aside: a JSON field cut short would not be JSON. */
        for (i = 0; i < nf; i++) {
            k = field_json(one, sizeof one, &f[i]);
            if (k >= cap - n)
                break;
            memcpy(line + n, one, k);
            n += k;
        }
        line[n++] = '}';
    } else {
        k = strlen(msg);
        if (k > cap - n)
            k = cap - n;
        memcpy(line + n, msg, k);
        n += k;
        for (i = 0; i < nf; i++) {
            k = field_text(line + n, cap - n, &f[i]);
            if (k >= cap - n)
                break;
            n += k;
        }
    }
    line[n++] = '\n';
    return n;
}

/* A line is made in the buffer itself when the longest one fits there. */
static void emit(gw_log_level lvl, const char *msg, const gw_log_field *f,
                 size_t nf)
{
    char line[GW_LOG_LINE_MAX];

    if (GW_LOG_BUFFER - lg.len >= GW_LOG_LINE_MAX) {
        lg.len += build(lg.buf + lg.len, lvl, msg, f, nf);
        return;
    }
    put(line, build(line, lvl, msg, f, nf));
}

static void vlog(gw_log_level lvl, const char *fmt, va_list ap)
{
    char msg[GW_LOG_LINE_MAX];

    vsnprintf(msg, sizeof msg, fmt, ap);
    emit(lvl, msg, NULL, 0);
}

static void report_dropped(void)
{
    char msg[GW_LOG_LINE_MAX];

    if (lg.unreported == 0 || lg.len > 0)
        return;
    snprintf(msg, sizeof msg, "%lu log lines dropped: stderr was not read",
             lg.unreported);
    lg.unreported = 0;
    emit(GW_LOG_WARN, msg, NULL, 0);
}

void gw_log_fields(gw_log_level lvl, const char *msg,
                   const gw_log_field *f, size_t n)
{
    if (!gw_log_enabled(lvl))
        return;
    emit(lvl, msg, f, n);
    if (!lg.defer)
        gw_log_flush();
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
    lg.pid = 0;             /* a new process: its own pid in the lines */
    lg.len = 0;
    lg.unreported = 0;
}

unsigned long gw_log_dropped(void)
{
    return lg.dropped;
}

/* A byte a log line carries as it is. */
static int plain(unsigned char ch)
{
    return ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\';
}

char *gw_log_escape(char *dst, size_t cap, const void *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = s;
    size_t i = 0, o = 0, run;

    while (i < len) {
        unsigned char ch;

        /* A run of plain bytes (most fields are one) in one copy. */
        for (run = i; run < len && plain(p[run]); run++)
            ;
        if (run > i) {
            if (run - i > cap - 1 - o)
                run = i + (cap - 1 - o);
            memcpy(dst + o, p + i, run - i);
            o += run - i;
            i = run;
            if (o == cap - 1)
                break;
            continue;
        }
        ch = p[i++];
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
