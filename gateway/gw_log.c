/* gw_log.c - stderr logging, one write per line. */
#include "gw_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static gw_log_level log_level = GW_LOG_INFO;

static const char *const level_names[] = { "notice", "error", "warn",
                                           "info", "debug" };

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

void gw_log(gw_log_level lvl, const char *fmt, ...)
{
    char line[GW_LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int k;
    va_list ap;

    if (!gw_log_enabled(lvl))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    k = snprintf(line + n, sizeof line - n, ".%03ldZ hframe-gateway[%ld] %s: ",
                 ts.tv_nsec / 1000000L, (long)getpid(), level_names[lvl]);
    if (k > 0 && (size_t)k < sizeof line - n)
        n += (size_t)k;
    va_start(ap, fmt);
    k = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (k > 0)
        n += (size_t)k < sizeof line - n ? (size_t)k : sizeof line - n - 1;
    line[n++] = '\n';
    /* A failed log write has nowhere to be reported. */
    if (write(STDERR_FILENO, line, n) < 0)
        return;
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
