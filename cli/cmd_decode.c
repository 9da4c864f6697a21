/* cmd_decode.c - `hframe decode`: streams of frames (files or stdin) to
 * NDJSON records, raw contents, one content per line or headers on
 * stdout, frame by frame. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    "                         a newline is an error, and nothing of it is\n"
    "                         written); the counterpart of 'hframe encode\n"
    "                         --lines'\n"
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
    cli_sink content;   /* --ndjson: the frame's content so far */
    cli_buf line;       /* the output line being built */
    unsigned char *work; /* a slice of content and the carry before it */
} dec;

static int write_buf(cli_buf *b)
{
    int rc = cli_out_write(b->p, b->len);

    b->len = 0;
    return rc == 0 ? CLI_EXIT_OK : cli_out_stop();
}

/* After a failed step: a failed stdout says how to stop; anything else
 * was reported already. */
static int failed(void)
{
    return cli_out_write("", 0) != 0 ? cli_out_stop() : CLI_EXIT_FAIL;
}

/* ---------------------------------------------------------------- */
/* A record whose content was spooled, written in pieces             */
/* ---------------------------------------------------------------- */

/* What a pass over a spooled content does with each slice. */
enum { PASS_CHECK, PASS_TEXT, PASS_BASE64 };

typedef struct pass {
    dec *d;
    int kind;
    unsigned char carry[4];  /* bytes held for the next slice */
    size_t carry_len;
    int bad;                 /* PASS_CHECK: not UTF-8 */
} pass;

/* One slice w[0..n): handle its whole part, return what is left over
 * (a split UTF-8 sequence, or base64's last 1-2 bytes). */
static size_t pass_slice(pass *ps, const unsigned char *w, size_t n)
{
    size_t v = ps->kind == PASS_BASE64 ? n - n % 3 : hf_utf8_check(w, n);
    cli_buf *b = &ps->d->line;

    if (ps->kind == PASS_CHECK) {
        if (n - v > 3)
            ps->bad = 1;
        return n - v;
    }
    b->len = 0;
    if (ps->kind == PASS_TEXT) {
        if (cli_json_string(b, w, v) != 0) {
            cli_err("out of memory");
            return SIZE_MAX;
        }
        /* The string's quotes are written around all the slices. */
        if (cli_out_write(b->p + 1, b->len - 2) != 0)
            return SIZE_MAX;
        return n - v;
    }
    if (cli_buf_reserve(b, cli_b64_len(v)) != 0) {
        cli_err("out of memory");
        return SIZE_MAX;
    }
    cli_b64_encode(b->p, w, v);
    if (cli_out_write(b->p, cli_b64_len(v)) != 0)
        return SIZE_MAX;
    return n - v;
}

/* Feed p[0..n) in slices of CLI_CHUNK after the carry. 0, or -1. */
static int pass_bytes(pass *ps, const unsigned char *p, size_t n)
{
    while (n > 0 && !ps->bad) {
        size_t take = n < CLI_CHUNK ? n : CLI_CHUNK, len, left;

        memcpy(ps->d->work, ps->carry, ps->carry_len);
        memcpy(ps->d->work + ps->carry_len, p, take);
        len = ps->carry_len + take;
        left = pass_slice(ps, ps->d->work, len);
        if (left == SIZE_MAX)
            return -1;
        if (left > sizeof(ps->carry)) {
            ps->bad = 1;
            return 0;
        }
        memcpy(ps->carry, ps->d->work + len - left, left);
        ps->carry_len = left;
        p += take;
        n -= take;
    }
    return 0;
}

/* One piece of the content (a cli_sink_fn); the pieces stop coming
 * once a check found what it looked for. */
static int pass_piece(void *ctx, const unsigned char *p, size_t n)
{
    pass *ps = ctx;

    if (pass_bytes(ps, p, n) != 0)
        return CLI_EXIT_FAIL;
    return ps->bad ? CLI_STOPPED : CLI_EXIT_OK;
}

/* The whole content, in order. 0, or -1. */
static int pass_all(pass *ps)
{
    if (cli_sink_each(&ps->d->content, pass_piece, ps) == CLI_EXIT_FAIL)
        return -1;
    if (ps->kind == PASS_CHECK && ps->carry_len > 0)
        ps->bad = 1;
    if (ps->kind == PASS_BASE64 && ps->carry_len > 0) {
        unsigned char out[4];

        cli_b64_encode(out, ps->carry, ps->carry_len);
        if (cli_out_write(out, 4) != 0)
            return -1;
    }
    return 0;
}

static int is_utf8_encoding(const hf_header *h)
{
    return h->content_encoding.len == 5 &&
           strncasecmp(h->content_encoding.ptr, "utf-8", 5) == 0;
}

/* The record of a frame whose content went past CLI_SPOOL_AFTER: the
 * same bytes cli_ndjson_record writes, in pieces. */
static int spooled_record(dec *d, const hf_header *h)
{
    pass ps;
    int text = 0;

    memset(&ps, 0, sizeof(ps));
    ps.d = d;
    if (is_utf8_encoding(h)) {
        ps.kind = PASS_CHECK;
        if (pass_all(&ps) != 0)
            return failed();
        text = !ps.bad;
    }
    d->line.len = 0;
    if (cli_buf_append(&d->line, "{\"header\": ", 11) != 0 ||
        cli_json_header_in(&d->line, h, d->have_order ? &d->order : NULL)
            != 0 ||
        cli_buf_append(&d->line, text ? ", \"text\": \"" : ", \"base64\": \"",
                       text ? 11 : 13) != 0) {
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
    if (write_buf(&d->line) != CLI_EXIT_OK)
        return cli_out_stop();
    memset(&ps, 0, sizeof(ps));
    ps.d = d;
    ps.kind = text ? PASS_TEXT : PASS_BASE64;
    if (pass_all(&ps) != 0)
        return failed();
    return cli_out_write("\"}\n", 3) == 0 ? CLI_EXIT_OK : cli_out_stop();
}

static int on_header(cli_stream *s, const hf_header *h)
{
    dec *d = s->ctx;

    if (cli_sink_reset(&d->content) != 0)
        return CLI_EXIT_FAIL;
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
    if (d->mode == OPT_CONTENT) {
        if (n > 0)
            d->last = p[n - 1];
        return cli_out_write(p, n) == 0 ? CLI_EXIT_OK : cli_out_stop();
    }
    /* --lines gathers the content too: a newline in its last slice
     * must leave nothing of the frame written, however the input was
     * split. */
    if (d->mode != OPT_NDJSON && d->mode != OPT_LINES)
        return CLI_EXIT_OK;
    return cli_sink_write(&d->content, p, n) == 0 ? CLI_EXIT_OK
                                                  : CLI_EXIT_FAIL;
}

static int on_frame_end(cli_stream *s, const hf_header *h)
{
    dec *d = s->ctx;

    if (d->mode == OPT_LINES) {
        int rc = cli_sink_emit(&d->content);

        if (rc != CLI_EXIT_OK)
            return rc;
        return cli_out_write("\n", 1) == 0 ? CLI_EXIT_OK : cli_out_stop();
    }
    if (d->mode != OPT_NDJSON)
        return CLI_EXIT_OK;
    if (d->content.spooled > 0)
        return spooled_record(d, h);
    d->line.len = 0;
    if (cli_ndjson_record(&d->line, h, d->have_order ? &d->order : NULL,
                          d->content.mem.p, d->content.mem.len) != 0) {
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
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
    cli_set_inputs(&co, argv + optind, argc - optind);
    rc = cli_stream_start(&s, &co);
    if (rc != CLI_EXIT_OK)
        return rc;
    cli_sink_init(&d.content);
    d.work = malloc(CLI_CHUNK + 4);
    if (d.work == NULL) {
        cli_stream_free(&s);
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
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
    free(d.work);
    cli_sink_free(&d.content);
    cli_buf_free(&d.line);
    return rc == CLI_STOPPED ? CLI_EXIT_OK : rc;
}
