/* util.c - strict number parsing, common options, error lines, stdin
 * reads, the buffered stdout writer and the capped byte buffer. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ---------------------------------------------------------------- */
/* Numbers and options                                               */
/* ---------------------------------------------------------------- */

int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (s == NULL || *s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        unsigned d;

        if (*s < '0' || *s > '9')
            return -1;
        d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_ms(const char *s, uint64_t max_ms, uint64_t *out)
{
    char whole[24];
    const char *dot;
    size_t wlen;
    uint64_t secs, ms = 0, scale = 100;

    if (s == NULL)
        return -1;
    dot = strchr(s, '.');
    wlen = dot == NULL ? strlen(s) : (size_t)(dot - s);
    if (wlen == 0 || wlen >= sizeof(whole))
        return -1;
    memcpy(whole, s, wlen);
    whole[wlen] = '\0';
    if (cli_parse_u64(whole, 0, max_ms / 1000, &secs) != 0)
        return -1;
    if (dot != NULL) {
        const char *f = dot + 1;

        if (*f == '\0' || strlen(f) > 3)
            return -1;
        for (; *f != '\0'; f++, scale /= 10) {
            if (*f < '0' || *f > '9')
                return -1;
            ms += (uint64_t)(*f - '0') * scale;
        }
    }
    ms += secs * 1000;
    if (ms < 1 || ms > max_ms)
        return -1;
    *out = ms;
    return 0;
}

int cli_limit_option(int opt, const char *arg, hf_limits *lim)
{
    uint64_t v;

    if (opt == CLI_OPT_MAX_HEADER) {
        if (cli_parse_u64(arg, HF_HEADER_MIN, HF_HEADER_MAX, &v) != 0) {
            cli_err("--max-header: \"%s\" is not a number from %d to %u",
                    arg, HF_HEADER_MIN, HF_HEADER_MAX);
            return -1;
        }
        lim->max_header = (size_t)v;
        return 1;
    }
    if (opt == CLI_OPT_MAX_CONTENT) {
        uint64_t max = HF_CONTENT_LIMIT_MAX;

        /* Contents are held in memory by some subcommands. */
        if (max > SIZE_MAX / 8)
            max = SIZE_MAX / 8;
        if (cli_parse_u64(arg, 0, max, &v) != 0) {
            cli_err("--max-content: \"%s\" is not a number from 0 to %"
                    PRIu64, arg, max);
            return -1;
        }
        lim->max_content = v;
        return 1;
    }
    return 0;
}

int cli_common_option(const char *usage, int c, char **argv,
                      hf_limits *lim)
{
    int r = cli_limit_option(c, optarg, lim);
    const char *name = argv[optind - 1];

    if (r > 0)
        return 0;
    if (r < 0) {
        fputs(usage, stderr);
        return -1;
    }
    if (c == ':' && optopt > 0 && optopt < 0x100)
        cli_usage_error(usage, "option -%c needs a value", optopt);
    else if (c == ':')
        cli_usage_error(usage, "option %s needs a value", name);
    else if (optopt > 0 && optopt < 0x100)
        cli_usage_error(usage, "unknown option -%c", optopt);
    else
        cli_usage_error(usage, "unknown option %s", name);
    return -1;
}

void cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;

    fputs("hframe: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fputs(usage, stderr);
}

/* ---------------------------------------------------------------- */
/* Errors                                                            */
/* ---------------------------------------------------------------- */

/* A progress line is on stderr's current line (no newline yet). */
static int progress_shown;

void cli_progress(const char *fmt, ...)
{
    va_list ap;

    fputs("\r\033[Khframe: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
    progress_shown = 1;
}

void cli_progress_end(void)
{
    if (progress_shown)
        fputs("\r\033[K", stderr);
    progress_shown = 0;
}

void cli_err(const char *fmt, ...)
{
    va_list ap;

    cli_progress_end();
    fputs("hframe: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_err_decoder(const hf_error *e)
{
    const char *detail = e->detail[0] != '\0' ? e->detail
                                              : hf_strerror(e->code);

    cli_err("offset %" PRIu64 ": %s: %s", e->offset,
            hf_status_name(e->code), detail);
}

/* ---------------------------------------------------------------- */
/* Input                                                             */
/* ---------------------------------------------------------------- */

long cli_read(int fd, void *buf, size_t cap)
{
    ssize_t n;

    do {
        n = read(fd, buf, cap);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        cli_err("read error: %s", strerror(errno));
        return -1;
    }
    return (long)n;
}

/* ---------------------------------------------------------------- */
/* Output                                                            */
/* ---------------------------------------------------------------- */

enum { OUT_OK = 0, OUT_EPIPE, OUT_ERROR };

/* The one stdout of the process. */
static struct {
    unsigned char buf[CLI_CHUNK];
    size_t len;
    int state;
} out;

static int out_fail(int err)
{
    if (err == EPIPE) {
        out.state = OUT_EPIPE;
        return -1;
    }
    out.state = OUT_ERROR;
    cli_err("write error on standard output: %s", strerror(err));
    return -1;
}

static int out_raw(const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return out_fail(errno);
        if (w == 0)
            return out_fail(EIO);
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int cli_out_flush(void)
{
    size_t n = out.len;

    if (out.state != OUT_OK)
        return -1;
    out.len = 0;
    return out_raw(out.buf, n);
}

int cli_out_write(const void *p, size_t n)
{
    if (out.state != OUT_OK)
        return -1;
    if (n == 0)
        return 0;
    if (n <= sizeof(out.buf) - out.len) {
        memcpy(out.buf + out.len, p, n);
        out.len += n;
        return 0;
    }
    if (cli_out_flush() != 0)
        return -1;
    if (n < sizeof(out.buf)) {
        memcpy(out.buf, p, n);
        out.len = n;
        return 0;
    }
    return out_raw(p, n);
}

int cli_out_str(const char *s)
{
    return cli_out_write(s, strlen(s));
}

int cli_out_close(void)
{
    int rc = cli_out_flush();

    if (close(STDOUT_FILENO) != 0 && rc == 0 && errno != EBADF &&
        errno != EINTR)
        rc = out_fail(errno);
    return rc;
}

int cli_out_stop(void)
{
    return out.state == OUT_ERROR ? CLI_EXIT_FAIL : CLI_STOPPED;
}

int cli_out_exit(void)
{
    return out.state == OUT_ERROR ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- */
/* Capped buffer                                                     */
/* ---------------------------------------------------------------- */

void cli_buf_init(cli_buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void cli_buf_free(cli_buf *b)
{
    free(b->p);
    cli_buf_init(b, b->max);
}

int cli_buf_reserve(cli_buf *b, size_t n)
{
    size_t want, cap;
    unsigned char *p;

    if (n > b->max - b->len)
        return -1;
    want = b->len + n;
    if (want <= b->cap)
        return 0;
    cap = b->cap < 4096 ? 4096 : b->cap;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    if (cap > b->max)
        cap = b->max;
    p = realloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int cli_buf_append(cli_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (cli_buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}
