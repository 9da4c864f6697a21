/* util.c - the common options, input and output files, error lines,
 * reads, the buffered stdout writer and the capped byte buffer. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* ---------------------------------------------------------------- */
/* Numbers and options                                               */
/* ---------------------------------------------------------------- */

void cli_common_init(cli_common *co, const char *usage, const char *help)
{
    memset(co, 0, sizeof(*co));
    co->usage = usage;
    co->help = help;
    hf_limits_default(&co->lim);
}

int cli_value(const cli_common *co, util_kind kind, const char *name,
              const char *val, uint64_t min, uint64_t max, int zero_off,
              uint64_t *out)
{
    char msg[UTIL_MSG_MAX];

    if (util_parse_value(kind, name, val, min, max, zero_off, out, msg,
                         sizeof(msg)) == 0)
        return 0;
    cli_usage_error(co->usage, "%s", msg);
    return -1;
}

/* Contents are held in memory by some subcommands. */
static uint64_t content_limit_max(void)
{
    uint64_t max = HF_CONTENT_LIMIT_MAX;

    return max > SIZE_MAX / 8 ? SIZE_MAX / 8 : max;
}

static int limit_option(cli_common *co, int c, const char *arg)
{
    uint64_t v;

    if (c == CLI_OPT_MAX_HEADER) {
        if (cli_value(co, UTIL_SIZE, "--max-header", arg, HF_HEADER_MIN,
                      HF_HEADER_MAX, 0, &v) != 0)
            return -1;
        co->lim.max_header = (size_t)v;
        return 0;
    }
    if (cli_value(co, UTIL_SIZE, "--max-content", arg, 0,
                  content_limit_max(), 0, &v) != 0)
        return -1;
    co->lim.max_content = v;
    return 0;
}

int cli_common_option(cli_common *co, int c, char **argv)
{
    const char *name = argv[optind - 1];

    switch (c) {
    case 'h':
        cli_out_str(co->usage);
        cli_out_str("\n");
        cli_out_str(co->help);
        cli_out_str(CLI_COMMON_HELP);
        co->help_shown = 1;
        return 0;
    case 'o':
        co->output = optarg;
        return 0;
    case CLI_OPT_MAX_HEADER:
    case CLI_OPT_MAX_CONTENT:
        return limit_option(co, c, optarg);
    default:
        break;
    }
    if (c == '?' && util_flag_with_value(name, optopt) > 0)
        cli_usage_error(co->usage, "option %.*s takes no value",
                        (int)util_flag_with_value(name, optopt), name);
    else if (c == ':' && optopt > 0 && optopt < 0x100)
        cli_usage_error(co->usage, "option -%c needs a value", optopt);
    else if (c == ':')
        cli_usage_error(co->usage, "option %s needs a value", name);
    else if (optopt > 0 && optopt < 0x100)
        cli_usage_error(co->usage, "unknown option -%c", optopt);
    else
        cli_usage_error(co->usage, "unknown option %s", name);
    return -1;
}

char *const cli_stdin_operand[] = { "-", NULL };

void cli_set_inputs(cli_common *co, char **files, int n)
{
    co->inputs = n > 0 ? files : (char **)cli_stdin_operand;
    co->n_inputs = n > 0 ? n : 1;
}

/* Set by cli_open_output: the file stdout goes to, for error lines. */
static const char *out_name;

const char *cli_out_name(void)
{
    static char buf[CLI_SHOW_MAX * 6 + 8];

    if (out_name == NULL)
        return "standard output";
    snprintf(buf, sizeof(buf), "'%s'", cli_show(out_name, strlen(out_name)));
    return buf;
}

/* Whether fd is the very file st describes (same device and inode, as
 * sort -o checks). Only regular files: two names for one terminal or
 * /dev/null are harmless. */
static int same_file(int fd, const struct stat *st)
{
    struct stat in;

    return fstat(fd, &in) == 0 && S_ISREG(in.st_mode) &&
           in.st_dev == st->st_dev && in.st_ino == st->st_ino;
}

/* Whether an input operand is also the output file. Inputs are opened
 * (not stat'ed by name) so that "-" is stdin itself. */
static int input_is_output(const cli_common *co, const struct stat *st)
{
    int i;

    for (i = 0; i < co->n_inputs; i++) {
        const char *name = co->inputs[i];
        /* O_NONBLOCK: opening a FIFO to look at it must not wait for a
         * writer. */
        int fd = strcmp(name, "-") == 0
                     ? STDIN_FILENO
                     : open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        int same = fd >= 0 && same_file(fd, st);

        cli_close_input(fd);
        if (same)
            return 1;
    }
    return 0;
}

int cli_open_output(const cli_common *co)
{
    struct stat st;
    int fd;

    if (co->output == NULL || strcmp(co->output, "-") == 0)
        return CLI_EXIT_OK;
    /* Truncating the output first would destroy an input before it is
     * read. */
    if (co->inputs != NULL && stat(co->output, &st) == 0 &&
        input_is_output(co, &st)) {
        cli_usage_error(co->usage, "-o '%s' is also an input: writing "
                        "it would destroy it (write to another file)",
                        cli_show(co->output, strlen(co->output)));
        return CLI_EXIT_USAGE;
    }
    fd = open(co->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0 || (fd != STDOUT_FILENO && dup2(fd, STDOUT_FILENO) < 0)) {
        cli_err("cannot open '%s': %s",
                cli_show(co->output, strlen(co->output)), strerror(errno));
        if (fd >= 0)
            close(fd);
        return CLI_EXIT_FAIL;
    }
    if (fd != STDOUT_FILENO)
        close(fd);
    out_name = co->output;
    return CLI_EXIT_OK;
}

int cli_open_input(const char *path)
{
    int fd;

    if (strcmp(path, "-") == 0)
        return STDIN_FILENO;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        cli_err("cannot open '%s': %s", cli_show(path, strlen(path)),
                strerror(errno));
    return fd;
}

void cli_close_input(int fd)
{
    if (fd > STDERR_FILENO)
        close(fd);
}

int cli_out_is_tty(void)
{
    static int tty = -1;

    if (tty < 0)
        tty = isatty(STDOUT_FILENO);
    return tty;
}

int cli_refuse_tty(const cli_common *co, int force)
{
    if (force || !cli_out_is_tty())
        return 0;
    cli_err("frames are binary: refusing to write them to a terminal "
            "(use -o FILE, a pipe, or -f to force)");
    (void)co;
    return -1;
}

const char *cli_limit_hint(hf_status st)
{
    if (st == HF_E_CONTENT_TOO_LONG)
        return "--max-content";
    if (st == HF_E_HEADER_TOO_LONG)
        return "--max-header";
    return NULL;
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

static const char *input_name;

void cli_set_input_name(const char *name)
{
    input_name = name;
}

const char *cli_input_prefix(void)
{
    static char buf[CLI_SHOW_MAX * 6 + 8];

    if (input_name == NULL)
        return "";
    snprintf(buf, sizeof(buf), "%s: ",
             cli_show(input_name, strlen(input_name)));
    return buf;
}

void cli_err_decoder(const hf_error *e)
{
    const char *detail = e->detail[0] != '\0' ? e->detail
                                              : hf_strerror(e->code);
    const char *opt = cli_limit_hint(e->code);

    if (opt != NULL)
        cli_err("%soffset %" PRIu64 ": %s: %s (raise it with %s)",
                cli_input_prefix(), e->offset, hf_status_name(e->code),
                detail, opt);
    else
        cli_err("%soffset %" PRIu64 ": %s: %s", cli_input_prefix(),
                e->offset, hf_status_name(e->code), detail);
}

int cli_sniff(const unsigned char *p, size_t n, char *buf, size_t cap)
{
    size_t i, o = 0, show = n < 16 ? n : 16;

    if (n >= 3 && p[0] == 0x16 && p[1] == 0x03 && p[2] <= 0x04)
        return CLI_SNIFF_TLS;
    if (n < 2 || cap < 8)
        return CLI_SNIFF_NONE;
    for (i = 0; i < show; i++) {
        if ((p[i] < 0x20 || p[i] > 0x7e) && p[i] != '\n' && p[i] != '\r' &&
            p[i] != '\t')
            return CLI_SNIFF_NONE;
    }
    buf[o++] = '"';
    for (i = 0; i < show && o + 4 < cap; i++) {
        const char *esc = p[i] == '\n' ? "\\n" : p[i] == '\r' ? "\\r"
                        : p[i] == '\t' ? "\\t" : p[i] == '"' ? "\\\""
                        : p[i] == '\\' ? "\\\\" : NULL;

        if (esc != NULL) {
            buf[o++] = esc[0];
            buf[o++] = esc[1];
        } else {
            buf[o++] = (char)p[i];
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return CLI_SNIFF_TEXT;
}

/* ---------------------------------------------------------------- */
/* Input                                                             */
/* ---------------------------------------------------------------- */

/* A descriptor a parent left non-blocking (a shared pipe) says "try
 * again" instead of waiting: wait for it here, as on a blocking one. */
static int wait_again(int fd, short events)
{
    struct pollfd p;

    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return 0;
    p.fd = fd;
    p.events = events;
    while (poll(&p, 1, -1) < 0) {
        if (errno != EINTR)
            return 0;
    }
    return 1;
}

long cli_read(int fd, void *buf, size_t cap)
{
    ssize_t n;

    do {
        n = read(fd, buf, cap);
    } while (n < 0 && (errno == EINTR || wait_again(fd, POLLIN)));
    if (n < 0) {
        cli_err("%sread error: %s", cli_input_prefix(), strerror(errno));
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
    cli_err("write error on %s: %s", cli_out_name(), strerror(err));
    return -1;
}

static int out_raw(const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, p, n);

        if (w < 0 && (errno == EINTR || wait_again(STDOUT_FILENO, POLLOUT)))
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
/* Spool files                                                       */
/* ---------------------------------------------------------------- */

/* Where spool files go: $TMPDIR, or /tmp. */
static const char *spool_dir(void)
{
    const char *dir = getenv("TMPDIR");

    return dir == NULL || *dir == '\0' ? "/tmp" : dir;
}

int cli_spool_open(void)
{
    const char *dir = spool_dir();
    char path[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/hframe-XXXXXX", dir);
    fd = mkstemp(path);
    if (fd < 0) {
        cli_err("cannot create a temporary file in %s: %s (contents "
                "longer than 1 MiB are held there; set TMPDIR to a "
                "writable directory)", cli_show(dir, strlen(dir)),
                strerror(errno));
        return -1;
    }
    unlink(path);
    return fd;
}

int cli_spool_write(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            cli_err("cannot write a temporary file in %s: %s (contents "
                    "longer than 1 MiB are held there; set TMPDIR to a "
                    "file system with room)",
                    cli_show(spool_dir(), strlen(spool_dir())),
                    w < 0 ? strerror(errno) : "no space");
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
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

int cli_str_is(hf_str s, const char *z)
{
    size_t n = strlen(z);

    return s.len == n && (n == 0 || memcmp(s.ptr, z, n) == 0);
}

/* ---------------------------------------------------------------- */
/* Text from outside, for error lines                                */
/* ---------------------------------------------------------------- */

/* Append p[0..n) escaped as in a JSON string, without the quotes; a
 * byte that is not UTF-8 as \xNN. -1 when out of memory. */
static int show_append(cli_buf *b, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t valid = hf_utf8_check(p, n);
        char hex[5];

        if (valid > 0) {
            size_t start = b->len;

            if (cli_json_string(b, p, valid) != 0)
                return -1;
            /* Drop the quotes: the caller's message has its own. */
            memmove(b->p + start, b->p + start + 1, b->len - start - 2);
            b->len -= 2;
        }
        if (valid == n)
            break;
        snprintf(hex, sizeof(hex), "\\x%02x", p[valid]);
        if (cli_buf_append(b, hex, 4) != 0)
            return -1;
        p += valid + 1;
        n -= valid + 1;
    }
    return 0;
}

const char *cli_show(const void *p, size_t n)
{
    /* A few at once, for a message naming several things. */
    static char ring[4][CLI_SHOW_MAX * 6 + 4];
    static unsigned next;
    char *shown = ring[next++ % 4];
    size_t take = n > CLI_SHOW_MAX ? CLI_SHOW_MAX : n;
    cli_buf b;

    cli_buf_init(&b, sizeof(ring[0]) - 1);
    if (show_append(&b, p, take) != 0 ||
        (take < n && cli_buf_append(&b, "...", 3) != 0)) {
        cli_buf_free(&b);
        return "(text not shown: out of memory)";
    }
    if (b.len > 0)
        memcpy(shown, b.p, b.len);
    shown[b.len] = '\0';
    cli_buf_free(&b);
    return shown;
}
