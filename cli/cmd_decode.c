/* cmd_decode.c - `hframe decode`: a stream of frames on stdin to NDJSON
 * records, raw contents or headers on stdout, frame by frame. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "stream.h"

static const char decode_usage[] =
    "usage: hframe decode [--ndjson | --content | --header] "
    "[--max-content n]\n"
    "                     [--max-header n]\n";

enum {
    OPT_NDJSON = CLI_OPT_FIRST_FREE,
    OPT_CONTENT,
    OPT_HEADER
};

typedef struct dec {
    int mode;           /* OPT_NDJSON, OPT_CONTENT or OPT_HEADER */
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
    if (d->mode == OPT_CONTENT)
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

    if (d->mode == OPT_CONTENT)
        return cli_out_write(p, n) == 0 ? CLI_EXIT_OK : cli_out_stop();
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
static int parse_opts(dec *d, hf_limits *lim, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "ndjson", no_argument, NULL, OPT_NDJSON },
        { "content", no_argument, NULL, OPT_CONTENT },
        { "header", no_argument, NULL, OPT_HEADER },
        { "max-header", required_argument, NULL, CLI_OPT_MAX_HEADER },
        { "max-content", required_argument, NULL, CLI_OPT_MAX_CONTENT },
        { NULL, 0, NULL, 0 }
    };
    int c;

    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cli_out_str(decode_usage);
            return CLI_EXIT_OK;
        case OPT_NDJSON:
        case OPT_CONTENT:
        case OPT_HEADER:
            if (d->mode != 0 && d->mode != c) {
                cli_usage_error(decode_usage, "decode: --ndjson, --content "
                                "and --header exclude each other");
                return CLI_EXIT_USAGE;
            }
            d->mode = c;
            break;
        default:
            if (cli_common_option(decode_usage, c, argv, lim) != 0)
                return CLI_EXIT_USAGE;
            break;
        }
    }
    if (optind != argc) {
        cli_usage_error(decode_usage, "decode: unexpected argument \"%s\"",
                        argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (d->mode == 0)
        d->mode = OPT_NDJSON;
    return -1;
}

int hf_cmd_decode(int argc, char **argv)
{
    cli_stream s;
    hf_limits lim;
    dec d;
    int rc;

    memset(&d, 0, sizeof(d));
    hf_limits_default(&lim);
    rc = parse_opts(&d, &lim, argc, argv);
    if (rc >= 0)
        return rc;
    memset(&s, 0, sizeof(s));
    if (cli_stream_init(&s, &lim) != 0)
        return CLI_EXIT_FAIL;
    cli_buf_init(&d.content, (size_t)lim.max_content);
    cli_buf_init(&d.line, SIZE_MAX / 2);
    s.on_header = on_header;
    s.on_content = on_content;
    s.on_frame_end = on_frame_end;
    s.on_chunk_done = on_chunk_done;
    s.ctx = &d;
    rc = cli_stream_run(&s, STDIN_FILENO);
    cli_stream_free(&s);
    cli_buf_free(&d.content);
    cli_buf_free(&d.line);
    return rc == CLI_STOPPED ? CLI_EXIT_OK : rc;
}
