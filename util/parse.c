/* parse.c - numbers, sizes and durations, strictly (see util.h). */
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A size suffix and what it multiplies by. */
typedef struct unit {
    const char *text;
    uint64_t scale;
} unit;

static const unit size_units[] = {
    { "", 1 },
    { "k", (uint64_t)1 << 10 }, { "K", (uint64_t)1 << 10 },
    { "KiB", (uint64_t)1 << 10 },
    { "M", (uint64_t)1 << 20 }, { "MiB", (uint64_t)1 << 20 },
    { "G", (uint64_t)1 << 30 }, { "GiB", (uint64_t)1 << 30 },
};

static const unit time_units[] = {
    { "", UTIL_SEC }, { "s", UTIL_SEC }, { "ms", 1000 },
};

/* Leading decimal digits of s into *v; the count of digits, or -1 on
 * overflow. */
static int digits(const char *s, uint64_t *v)
{
    int n = 0;

    *v = 0;
    for (; s[n] >= '0' && s[n] <= '9'; n++) {
        unsigned d = (unsigned)(s[n] - '0');

        if (*v > (UINT64_MAX - d) / 10)
            return -1;
        *v = *v * 10 + d;
    }
    return n;
}

int util_parse_u64(const char *s, uint64_t min, uint64_t max,
                   uint64_t *out)
{
    uint64_t v;
    int n;

    if (s == NULL)
        return -1;
    n = digits(s, &v);
    if (n <= 0 || s[n] != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The scale of suffix s in table u, 0 when it is not one. */
static uint64_t find_unit(const unit *u, size_t n, const char *s)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(u[i].text, s) == 0)
            return u[i].scale;
    }
    return 0;
}

int util_parse_size(const char *s, uint64_t min, uint64_t max,
                    uint64_t *out)
{
    uint64_t v, scale;
    int n;

    if (s == NULL)
        return -1;
    n = digits(s, &v);
    if (n <= 0)
        return -1;
    scale = find_unit(size_units, sizeof size_units / sizeof size_units[0],
                      s + n);
    if (scale == 0 || v > UINT64_MAX / scale)
        return -1;
    v *= scale;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int util_parse_duration(const char *s, uint64_t min, uint64_t max,
                        uint64_t *out)
{
    uint64_t whole, frac = 0, scale, v;
    const char *p;
    int n, fdigits = 0;

    if (s == NULL)
        return -1;
    n = digits(s, &whole);
    if (n <= 0)
        return -1;
    p = s + n;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, fdigits++) {
            if (fdigits == 6)
                return -1;          /* finer than a microsecond */
            frac = frac * 10 + (uint64_t)(*p - '0');
        }
        if (fdigits == 0)
            return -1;
    }
    scale = find_unit(time_units, sizeof time_units / sizeof time_units[0],
                      p);
    if (scale == 0)
        return -1;
    for (; fdigits < 6; fdigits++)
        frac *= 10;
    /* frac is in millionths of the unit; it must land on a microsecond. */
    if (frac * scale % UTIL_SEC != 0)
        return -1;
    if (whole > (UINT64_MAX - UTIL_SEC) / scale)
        return -1;
    v = whole * scale + frac * scale / UTIL_SEC;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* v microseconds as seconds with the decimals it needs: "1.5s". */
static void format_seconds(uint64_t v, char *buf, size_t cap)
{
    uint64_t frac = v % UTIL_SEC;
    int width = 6;

    while (frac % 10 == 0) {
        frac /= 10;
        width--;
    }
    snprintf(buf, cap, "%" PRIu64 ".%0*" PRIu64 "s", v / UTIL_SEC, width,
             frac);
}

const char *util_format(util_kind kind, uint64_t v, char *buf, size_t cap)
{
    static const char *const sfx[] = { "", "k", "M", "G" };
    unsigned i = 0;

    switch (kind) {
    case UTIL_SIZE:
        while (i < 3 && v != 0 && v % 1024 == 0) {
            v /= 1024;
            i++;
        }
        snprintf(buf, cap, "%" PRIu64 "%s", v, sfx[i]);
        break;
    case UTIL_DURATION:
        if (v % UTIL_SEC == 0)
            snprintf(buf, cap, "%" PRIu64 "s", v / UTIL_SEC);
        else if (v % 1000 == 0 && v < UTIL_SEC)
            snprintf(buf, cap, "%" PRIu64 "ms", v / 1000);
        else
            format_seconds(v, buf, cap);
        break;
    case UTIL_NUMBER:
    default:
        snprintf(buf, cap, "%" PRIu64, v);
        break;
    }
    return buf;
}

int util_parse_value(util_kind kind, const char *name, const char *val,
                     uint64_t min, uint64_t max, int zero_off,
                     uint64_t *out, char *msg, size_t cap)
{
    char lo[32], hi[32];
    const char *what = "a number", *how = "";
    int rc;

    switch (kind) {
    case UTIL_SIZE:
        rc = util_parse_size(val, min, max, out);
        what = "a size";
        how = " (bytes, or with k, M, G)";
        break;
    case UTIL_DURATION:
        rc = util_parse_duration(val, min, max, out);
        what = "a time";
        how = zero_off ? " (seconds, or with s, ms; 0 turns it off)"
                       : " (seconds, or with s, ms)";
        break;
    case UTIL_NUMBER:
    default:
        rc = util_parse_u64(val, min, max, out);
        break;
    }
    if (rc == 0)
        return 0;
    snprintf(msg, cap, "invalid value '%s' for %s: expected %s from %s "
             "to %s%s", val == NULL ? "" : val, name, what,
             util_format(kind, min, lo, sizeof lo),
             util_format(kind, max, hi, sizeof hi), how);
    return -1;
}

size_t util_flag_with_value(const char *arg, int optopt)
{
    const char *eq = strchr(arg, '=');

    if (optopt == 0 || strncmp(arg, "--", 2) != 0 || eq == NULL)
        return 0;
    return (size_t)(eq - arg);
}
