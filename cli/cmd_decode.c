/* cmd_decode.c - `hframe decode`: streams of frames (files or stdin) to
 * NDJSON records, raw contents, one content per line or headers on
 * stdout, frame by frame. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "stream.h"

const char cli_decode_usage[] =
    "usage: hframe decode [--ndjson | --content | --lines | --header] "
    "[-o file]\n"
    "                     [--max-content size] [--max-header size] "
    "[file ...]\n";

static const char decode_help[] =
    "Decode each FILE (none or -: standard input), a stream of frames.\n"
    "\n"
    "      --ndjson           one NDJSON record per frame: header and "
    "content\n"
    "                         (the default; 'hframe encode --ndjson' "
    "reads it)\n"
    "      --content          the contents, back to back\n"
    "      --lines            each content and a newline (a content that "
    "holds\n"
    "                         a newline is an error); the counterpart of\n"
    "                         'hframe encode --lines'\n"
    "      --header           each header as one line of JSON\n";

enum {
    OPT_NDJSON = CLI_OPT_FIRST_FREE,
    OPT_CONTENT,
    OPT_HEADER,
    OPT_LINES
};

typedef struct dec {
    int mode;           /* OPT_NDJSON, OPT_CONTENT, OPT_LINES, OPT_HEADER */
    int last;           /* last byte written by --content, or -1 */
    cli_key_order order; /* the frame's key order */
    int have_order;
    cli_buf content;    /* --ndjson: the frame's content so far */
    cli_buf line;       /* the output line being built */
} dec;

static int write_buf(cli_buf *b)
{
    int rc = cli_out_write(b->p, b->len);

    b->len = 0;
    return rc == 0 ? CLI_EXIT_OK : cli_out_stop();
}

static int on_header(cli_stream *s, const hf_header *h)
{
    dec *d = s->ctx;

    d->content.len = 0;
    if (d->mode == OPT_CONTENT || d->mode == OPT_LINES)
        return CLI_EXIT_OK;
    d->have_order = cli_header_order(s->hdr, s->hdr_len, &d->order) == 0;
    if (d->mode != OPT_HEADER)
        return CLI_EXIT_OK;
    d->line.len = 0;
    if (cli_json_header_in(&d->line, h,
                           d->have_order ? &d->order : NULL) != 0 ||
        cli_buf_append(&d->line, "\n", 1) != 0) {
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
    return write_buf(&d->line);
}

static int on_content(cli_stream *s, const unsigned char *p, size_t n)
{
    dec *d = s->ctx;

    if (d->mode == OPT_LINES && memchr(p, '\n', n) != NULL) {
        cli_out_flush();
        cli_err("%sframe %llu: the content holds a newline, which --lines "
                "cannot show (use --ndjson)", cli_input_prefix(),
                (unsigned long long)s->frames + 1);
        return CLI_EXIT_INVALID;
    }
    if (d->mode == OPT_CONTENT || d->mode == OPT_LINES) {
        if (n > 0)
            d->last = p[n - 1];
        return cli_out_write(p, n) == 0 ? CLI_EXIT_OK : cli_out_stop();
    }
    if (d->mode != OPT_NDJSON)
        return CLI_EXIT_OK;
    /* The header passed the content limit, so this stays bounded. */
    if (cli_buf_append(&d->content, p, n) != 0) {
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

static int on_frame_end(cli_stream *s, const hf_header *h)
{
    dec *d = s->ctx;

    if (d->mode == OPT_LINES)
        return cli_out_write("\n", 1) == 0 ? CLI_EXIT_OK : cli_out_stop();
    if (d->mode != OPT_NDJSON)
        return CLI_EXIT_OK;
    d->line.len = 0;
    if (cli_ndjson_record(&d->line, h, d->have_order ? &d->order : NULL,
                          d->content.p, d->content.len) != 0) {
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
    d->content.len = 0;
    return write_buf(&d->line);
}

static int on_chunk_done(cli_stream *s)
{
    (void)s;
    return cli_out_flush() == 0 ? CLI_EXIT_OK : cli_out_stop();
}

/* Returns -1 to go on, else the exit status. */
static int parse_opts(dec *d, cli_common *co, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "ndjson", no_argument, NULL, OPT_NDJSON },
        { "content", no_argument, NULL, OPT_CONTENT },
        { "header", no_argument, NULL, OPT_HEADER },
        { "lines", no_argument, NULL, OPT_LINES },
        CLI_COMMON_LONGOPTS
    };
    int c;

    while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case OPT_NDJSON:
        case OPT_CONTENT:
        case OPT_HEADER:
        case OPT_LINES:
            if (d->mode != 0 && d->mode != c) {
                cli_usage_error(co->usage, "decode: --ndjson, --content, "
                                "--lines and --header exclude each other");
                return CLI_EXIT_USAGE;
            }
            d->mode = c;
            break;
        default:
            if (cli_common_option(co, c, argv) != 0)
                return CLI_EXIT_USAGE;
            if (co->help_shown)
                return CLI_EXIT_OK;
            break;
        }
    }
    if (d->mode == 0)
        d->mode = OPT_NDJSON;
    return -1;
}

/* On a terminal, text output ends with a newline. */
static int end_line(const dec *d)
{
    if (d->mode != OPT_CONTENT || d->last < 0 || d->last == '\n' ||
        !cli_out_is_tty())
        return CLI_EXIT_OK;
    return cli_out_write("\n", 1) == 0 ? CLI_EXIT_OK : cli_out_stop();
}

int hf_cmd_decode(int argc, char **argv)
{
    cli_stream s;
    cli_common co;
    dec d;
    int rc;

    memset(&d, 0, sizeof(d));
    d.last = -1;
    cli_common_init(&co, cli_decode_usage, decode_help);
    rc = parse_opts(&d, &co, argc, argv);
    if (rc >= 0)
        return rc;
    if (cli_open_output(&co) != 0)
        return CLI_EXIT_FAIL;
    memset(&s, 0, sizeof(s));
    if (cli_stream_init(&s, &co.lim) != 0)
        return CLI_EXIT_FAIL;
    cli_buf_init(&d.content, (size_t)co.lim.max_content);
    cli_buf_init(&d.line, SIZE_MAX / 2);
    s.on_header = on_header;
    s.on_content = on_content;
    s.on_frame_end = on_frame_end;
    s.on_chunk_done = on_chunk_done;
    s.ctx = &d;
    rc = cli_stream_files(&s, argv + optind, argc - optind, 0);
    if (rc == CLI_EXIT_OK)
        rc = end_line(&d);
    cli_stream_free(&s);
    cli_buf_free(&d.content);
    cli_buf_free(&d.line);
    return rc == CLI_STOPPED ? CLI_EXIT_OK : rc;
}
