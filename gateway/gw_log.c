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

#include "gw_word.h"
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
    int pass_time;              /* pass_ts holds this pass's time */
    struct timespec pass_ts;
    unsigned long dropped;      /* in all */
    unsigned long unreported;   /* dropped since the last report */
    int journal;                /* -1: not yet known */
    int regular;                /* stderr is a regular file; -1: not known */
    time_t stamp_sec;           /* the second stamp[] was made for */
    char stamp[32];             /* "2026-01-02T03:04:05" */
    pid_t pid;                  /* 0: not known in this process yet */
    char prefix[128];           /* the last line's start, made for: */
    size_t prefix_len;          /* 0: none */
    long long prefix_ms;        /* its millisecond (-1: journal) */
    gw_log_level prefix_lvl;
    gw_log_format prefix_fmt;
    pid_t prefix_pid;
} lg = { .journal = -1, .regular = -1, .stamp_sec = -1 };

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

/* A regular file takes any write at once (poll always says so), and
 * the kernel keeps each write(2) to it whole; only pipes and terminals
 * need the poll and the PIPE_BUF chunks. */
static int to_file(void)
{
    struct stat st;

    if (lg.regular < 0)
        lg.regular = fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode);
    return lg.regular;
}

/* Whole lines from buf[off..len), at most PIPE_BUF bytes but to a
 * regular file. */
static size_t chunk(size_t off)
{
    size_t n = lg.len - off < PIPE_BUF || to_file() ? lg.len - off
                                                     : PIPE_BUF;

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
        p.revents = 0;
        if (!to_file() &&
            (poll(&p, 1, 0) != 1 || (p.revents & POLLOUT) == 0)) {
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
        /* The lines of one loop pass (deferred, written at its end) share
         * the time of its first: one clock read per pass, not per line. */
        if (!lg.pass_time) {
            clock_gettime(CLOCK_REALTIME, &lg.pass_ts);
            lg.pass_time = lg.defer;
        }
        ts = lg.pass_ts;
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

/* s[0..len) as a JSON string at line[*n], by the codec's writer; when
 * s is not UTF-8 or too long, its printable ASCII form (\xHH for the
 * rest), cut to fit. Nothing when not even "" fits. */
static void add_json_string(char *line, size_t cap, size_t *n,
                            const char *s, size_t len)
{
    char ascii[GW_LOG_LINE_MAX];
    size_t w, room = cap - *n;

    if (hf_json_write_string((unsigned char *)line + *n, room, s, len,
                             &w) == HF_OK) {
        *n += w;
        return;
    }
    if (room < 3)
        return;
    /* Escaping doubles a backslash at most. */
    gw_log_escape(ascii, (room - 2) / 2 + 1 < sizeof ascii
                             ? (room - 2) / 2 + 1 : sizeof ascii,
                  s, len);
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

/* n bytes from src to dst: fields are a few bytes long, and two
 * overlapping word copies cost less than a call to memcpy. */
static inline void copy_bytes(char *dst, const char *src, size_t n)
{
    if (n >= 8 && n <= 16) {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4 && n < 8) {
        memcpy(dst, src, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else if (n >= 2 && n < 4) {
        memcpy(dst, src, 2);
        memcpy(dst + n - 2, src + n - 2, 2);
    } else if (n > 16) {
        memcpy(dst, src, n);
    } else if (n == 1) {
        dst[0] = src[0];
    }
}

static size_t escape_put(char *dst, const void *s, size_t len);
static size_t escaped_len(const void *s, size_t len);

/* One field as text (" key=v", " key=\"v\"") at out, when it fits in
 * room bytes: returns its length, or room + 1 (nothing written) when it
 * does not. The room is checked once per field, on the most a value
 * can take (every quoted byte an escape), and byte by byte only for a
 * value that long. */
static size_t field_text(char *out, size_t room, const gw_log_field *f)
{
    char digits[24];
    const char *v = f->text;
    size_t klen = f->klen > 0 ? f->klen : strlen(f->key), vlen, n;

    if (f->quote) {
        vlen = f->len;
        if (klen + 4 + 4 * vlen > room &&
            klen + 4 + escaped_len(v, vlen) > room)
            return room + 1;
    } else {
        if (v == NULL) {
            v = num_text(digits + sizeof digits, f->num);
            vlen = (size_t)(digits + sizeof digits - v);
        } else {
            vlen = f->len > 0 ? f->len : strlen(v);
        }
        if (klen + 2 + vlen > room)
            return room + 1;
    }
    out[0] = ' ';
    copy_bytes(out + 1, f->key, klen);
    n = 1 + klen;
    out[n++] = '=';
    if (!f->quote) {
        copy_bytes(out + n, v, vlen);
        return n + vlen;
    }
    out[n++] = '"';
    n += escape_put(out + n, v, vlen);
    out[n++] = '"';
    return n;
}

/* One field as JSON (",\"key\":v") into out[0..cap), NUL-terminated.
 * Returns its length. */
static size_t field_json(char *out, size_t cap, const gw_log_field *f)
{
    size_t n = 0;

    add(out, cap, &n, ",\"%s\":", f->key);
    if (f->quote) {
        add_json_string(out, cap, &n, f->text, f->len);
    } else if (f->text == NULL) {
        add(out, cap, &n, "%lld", f->num);
    } else {
        add_json_string(out, cap, &n, f->text,
                        f->len > 0 ? f->len : strlen(f->text));
    }
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
        add_json_string(line, cap, &n, msg, strlen(msg));
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
        k = k < cap - n ? k : cap - n;
        copy_bytes(line + n, msg, k);
        n += k;
        for (i = 0; i < nf; i++) {
            k = field_text(line + n, cap - n, &f[i]);
            if (k > cap - n)
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
    lg.pass_time = 0;
    if (!on)
        gw_log_flush();
}

void gw_log_flush(void)
{
    lg.pass_time = 0;
    if (drain() == 0 && lg.unreported > 0) {
        report_dropped();
        drain();
    }
}

void gw_log_forked(void)
{
    lg.pass_time = 0;
    lg.regular = -1;
    lg.pid = 0;             /* a new process: its own pid in the lines */
    lg.len = 0;
    lg.unreported = 0;
}

unsigned long gw_log_dropped(void)
{
    return lg.dropped;
}

/* The bytes a log line carries as they are: printable ASCII but '"' and
 * '\\'. */
static int plain(unsigned char ch)
{
    return ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\';
}

/* Whether any of the eight bytes in w is not plain. */
static inline int any_special(uint64_t w)
{
    return (gw_word_below(w, 0x20) | gw_word_has(w, '"') |
            gw_word_has(w, '\\') | gw_word_has(w, 0x7f) |
            gw_word_high(w)) != 0;
}

/* The four bytes at p as a word whose other four are plain ('A'). */
static inline uint64_t load4(const unsigned char *p)
{
    uint32_t h;

    memcpy(&h, p, sizeof h);
    return (uint64_t)h | (GW_WORD_BYTES('A') << 32);
}

/* How many bytes of s[0..len) are plain before the first that is not.
 * Most fields are plain throughout: a word at a time, the last word
 * overlapping the one before, and four-byte words below eight bytes;
 * byte by byte only from the word that holds the first byte that is
 * not. */
static inline size_t plain_span(const unsigned char *p, size_t len)
{
    size_t i = 0;

    if (len >= 8) {
        for (; len - i > 8; i += 8) {
            if (any_special(gw_word_load(p + i)))
                goto bytes;
        }
        if (!any_special(gw_word_load(p + len - 8)))
            return len;
    } else if (len >= 4) {
        if (!any_special(load4(p)) && !any_special(load4(p + len - 4)))
            return len;
    }
bytes:
    while (i < len && plain(p[i]))
        i++;
    return i;
}

/* s[0..len) escaped at dst, which has room for 4 * len bytes; the
 * length written. */
static size_t escape_put(char *dst, const void *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = s;
    size_t i = 0, o = 0, run;

    for (;;) {
        /* A run of plain bytes (most fields are one) in one copy. */
        run = plain_span(p + i, len - i);
        copy_bytes(dst + o, (const char *)p + i, run);
        i += run;
        o += run;
        if (i == len)
            return o;
        dst[o++] = '\\';
        dst[o++] = 'x';
        dst[o++] = hex[p[i] >> 4];
        dst[o++] = hex[p[i] & 15];
        i++;
    }
}

/* What escape_put writes for s[0..len). */
static size_t escaped_len(const void *s, size_t len)
{
    const unsigned char *p = s;
    size_t i, n = len;

    for (i = 0; i < len; i++)
        n += plain(p[i]) ? 0 : 3;
    return n;
}

size_t gw_log_escape_into(char *dst, size_t cap, const void *s, size_t len,
                          size_t *out)
{
    const unsigned char *p = s;
    size_t i = 0, o = 0, k;

    /* Whole when it fits; else a byte (or an escape) at a time. */
    if (4 * len <= cap || escaped_len(s, len) <= cap) {
        *out = escape_put(dst, s, len);
        return len;
    }
    for (; i < len; i++) {
        k = plain(p[i]) ? 1 : 4;
        if (k > cap - o)
            break;
        o += escape_put(dst + o, p + i, 1);
    }
    *out = o;
    return i;
}

char *gw_log_escape(char *dst, size_t cap, const void *s, size_t len)
{
    size_t o;

    gw_log_escape_into(dst, cap - 1, s, len, &o);
    dst[o] = '\0';
    return dst;
}
