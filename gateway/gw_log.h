/*
 * gw_log.h - one line per event on stderr, never blocking the caller.
 *
 *   2026-01-02T03:04:05.678Z hframe-gateway[PID] LEVEL: message
 *
 * When stderr is the systemd journal (JOURNAL_STREAM names it), a line is
 * "<N>hframe-gateway[PID] LEVEL: message" instead: the syslog priority
 * N, and no time of our own (the journal stamps it).
 *
 * In the JSON format (gw_log_set_format) a line is one JSON object:
 *
 *   {"time":"2026-01-02T03:04:05.678Z","level":"info","pid":PID,
 *    "msg":"message", FIELDS...}
 *
 * with the fields of gw_log_fields as members of their own; under the
 * journal the same "<N>" prefix and no "time". Strings are written by
 * the codec's canonical JSON writer; bytes that are not UTF-8 as \xHH.
 *
 * Lines go to a buffer of GW_LOG_BUFFER bytes. Outside the event loop
 * each line is written at once; inside it (gw_log_defer(1)) the loop
 * writes them once per pass with gw_log_flush, many lines per write(2).
 * To a pipe or a terminal a write is only tried when stderr can take
 * it (poll), and at most PIPE_BUF bytes of whole lines at a time, so
 * lines from several workers sharing a pipe do not interleave and a
 * stderr nobody reads never stops the loop; to a regular file the whole
 * buffer goes in one write. The lines of one pass share the time of its
 * first line (one clock read per pass). Lines that do not fit while stderr is stuck are dropped and
 * counted; once it moves again a line says how many.
 *
 * The level and the buffer are process-wide state (one loop per
 * process).
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stddef.h>

typedef enum gw_log_level {
    GW_LOG_NOTICE = 0,  /* always written: counters, start, stop */
    GW_LOG_ERROR,
    GW_LOG_WARN,
    GW_LOG_INFO,
    GW_LOG_DEBUG
} gw_log_level;

typedef enum gw_log_format {
    GW_LOG_TEXT = 0,
    GW_LOG_JSON
} gw_log_format;

/* One named value of a log line: "key=text" in the text format, a
 * member in the JSON format; text NULL: num. Without quote text is a
 * string (len its length, 0: up to its NUL); with quote text[0..len)
 * are bytes from the wire, written as gw_log_escape writes them (in
 * double quotes in the text format). */
typedef struct gw_log_field {
    const char *key;
    size_t klen;        /* key's length; 0: up to its NUL */
    const char *text;
    size_t len;
    int quote;
    long long num;
} gw_log_field;

/* A key written as a literal, its length counted by the compiler. */
#define GW_LOG_KEY(k) .key = (k), .klen = sizeof(k) - 1

/* Longest line written; longer messages are cut. */
#define GW_LOG_LINE_MAX 1024

/* Lines held while stderr cannot take them: 64 access lines and more. */
#define GW_LOG_BUFFER 65536

void gw_log_set_level(gw_log_level lvl);

/* "error", "warn", "info", "debug" -> *out; -1 for anything else
 * ("notice" is not a level one can choose). */
int gw_log_parse_level(const char *s, gw_log_level *out);

void gw_log_set_format(gw_log_format fmt);

/* "text", "json" -> *out; -1 for anything else. */
int gw_log_parse_format(const char *s, gw_log_format *out);

/* Non-zero when messages at lvl are written. */
int gw_log_enabled(gw_log_level lvl);

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
void gw_log(gw_log_level lvl, const char *fmt, ...);

/* msg followed by n fields: "msg k=v ..." in text, members in JSON.
 * Fields that do not fit the line are left out. */
void gw_log_fields(gw_log_level lvl, const char *msg,
                   const gw_log_field *f, size_t n);

/* With on, lines wait for gw_log_flush; with 0 (the default) each is
 * written as it comes. */
void gw_log_defer(int on);

/* Write what waits, as far as stderr takes it without blocking. */
void gw_log_flush(void);

/* In a new child process: lines the parent had not written yet are the
 * parent's to write, not the child's. */
void gw_log_forked(void);

/* Lines dropped so far because stderr was stuck. */
unsigned long gw_log_dropped(void);

/* Copy s[0..len) to dst for a log line: printable ASCII as is, '"' and
 * '\' and every other byte as \xHH. Always NUL-terminates (cap >= 1);
 * cut when dst is full, never inside an escape. Returns dst. */
char *gw_log_escape(char *dst, size_t cap, const void *s, size_t len);

/* The same into dst[0..cap), no NUL: the bytes of s it took (len when
 * all of it fit); *out gets the length written. */
size_t gw_log_escape_into(char *dst, size_t cap, const void *s, size_t len,
                          size_t *out);

#endif /* GW_LOG_H */
