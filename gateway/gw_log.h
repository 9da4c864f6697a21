/*
 * gw_log.h - one line per event on stderr.
 *
 *   2026-01-02T03:04:05.678Z hframe-gateway[PID] LEVEL: message
 *
 * Each line goes out in one write(2), so lines from several workers
 * sharing stderr do not interleave. The level is process-wide state set
 * once at start-up.
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

/* Longest line written; longer messages are cut. */
#define GW_LOG_LINE_MAX 1024

void gw_log_set_level(gw_log_level lvl);

/* "error", "warn", "info", "debug" -> *out; -1 for anything else
 * ("notice" is not a level one can choose). */
int gw_log_parse_level(const char *s, gw_log_level *out);

/* Non-zero when messages at lvl are written. */
int gw_log_enabled(gw_log_level lvl);

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
void gw_log(gw_log_level lvl, const char *fmt, ...);

/* Copy s[0..len) to dst for a log line: printable ASCII as is, '"' and
 * '\' and every other byte as \xHH. Always NUL-terminates (cap >= 1);
 * cut when dst is full. Returns dst. */
char *gw_log_escape(char *dst, size_t cap, const void *s, size_t len);

#endif /* GW_LOG_H */
