/* sink.c - a frame's content gathered before its header can be written
 * (the header carries the content's length): held in memory up to
 * CLI_SPOOL_AFTER bytes, past that in an unlinked temporary file, then
 * copied out after the header. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void cli_sink_init(cli_sink *s)
{
    cli_buf_init(&s->mem, CLI_SPOOL_AFTER);
    s->fd = -1;
    s->spooled = 0;
    s->copy = NULL;
}

void cli_sink_free(cli_sink *s)
{
    cli_buf_free(&s->mem);
    free(s->copy);
    if (s->fd >= 0)
        close(s->fd);
    cli_sink_init(s);
}

int cli_sink_reset(cli_sink *s)
{
    s->mem.len = 0;
    if (s->spooled == 0)
        return 0;
    s->spooled = 0;
    if (ftruncate(s->fd, 0) != 0 || lseek(s->fd, 0, SEEK_SET) != 0) {
        cli_err("cannot reuse a temporary file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

uint64_t cli_sink_len(const cli_sink *s)
{
    return s->spooled + s->mem.len;
}

/* Move the memory part to the file (created on first use). */
static int sink_flush(cli_sink *s)
{
    if (s->copy == NULL && (s->copy = malloc(CLI_CHUNK)) == NULL) {
        cli_err("out of memory");
        return -1;
    }
    if (s->fd < 0)
        s->fd = cli_spool_open();
    if (s->fd < 0 || cli_spool_write(s->fd, s->mem.p, s->mem.len) != 0)
        return -1;
    s->spooled += s->mem.len;
    s->mem.len = 0;
    return 0;
}

int cli_sink_write(cli_sink *s, const void *p, size_t n)
{
    if (n <= s->mem.max - s->mem.len) {
        if (cli_buf_append(&s->mem, p, n) != 0) {
            cli_err("out of memory");
            return -1;
        }
        return 0;
    }
    if (sink_flush(s) != 0)
        return -1;
    if (n < s->mem.max)
        return cli_sink_write(s, p, n);
    if (cli_spool_write(s->fd, p, n) != 0)
        return -1;
    s->spooled += n;
    return 0;
}

int cli_copy_out(int fd, uint64_t n, int at_end, unsigned char *chunk)
{
    long got;

    while (n > 0) {
        got = cli_read(fd, chunk, n < CLI_CHUNK ? (size_t)n : CLI_CHUNK);
        if (got < 0)
            return CLI_EXIT_FAIL;
        if (got == 0)
            break;
        if (cli_out_write(chunk, (size_t)got) != 0)
            return cli_out_stop();
        n -= (uint64_t)got;
    }
    if (n == 0 && (!at_end || cli_read(fd, chunk, 1) == 0))
        return CLI_EXIT_OK;
    cli_err("%sinput changed size while being read", cli_input_prefix());
    return CLI_EXIT_FAIL;
}

int cli_sink_each(cli_sink *s, cli_sink_fn fn, void *ctx)
{
    uint64_t left = s->spooled;
    long got;
    int rc;

    if (left > 0 && lseek(s->fd, 0, SEEK_SET) != 0) {
        cli_err("cannot read a temporary file: %s", strerror(errno));
        return CLI_EXIT_FAIL;
    }
    while (left > 0) {
        got = cli_read(s->fd, s->copy,
                       left < CLI_CHUNK ? (size_t)left : CLI_CHUNK);
        if (got < 0)
            return CLI_EXIT_FAIL;
        if (got == 0) {
            cli_err("a temporary file ended early");
            return CLI_EXIT_FAIL;
        }
        rc = fn(ctx, s->copy, (size_t)got);
        if (rc != CLI_EXIT_OK)
            return rc;
        left -= (uint64_t)got;
    }
    return fn(ctx, s->mem.p, s->mem.len);
}

static int emit_piece(void *ctx, const unsigned char *p, size_t n)
{
    (void)ctx;
    return cli_out_write(p, n) == 0 ? CLI_EXIT_OK : cli_out_stop();
}

int cli_sink_emit(cli_sink *s)
{
    return cli_sink_each(s, emit_piece, NULL);
}
