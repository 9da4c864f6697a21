/* cmd_encode.c - `hframe encode`: files or stdin to frames with canonical
 * headers. Each whole input as one frame (default), one frame per line
 * (--lines), or frames re-created from `decode --ndjson` records
 * (--ndjson). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char cli_encode_usage[] =
    "usage: hframe encode [-f] [-b little|big] [-e encoding] "
    "[-H key=value]... [-t type]\n"
    "                     [--json] [--lines] [-o file] [--max-content size]\n"
    "                     [--max-header size] [file ...]\n"
    "       hframe encode --ndjson [-f] [--fix-length] [-o file] "
    "[--max-content size]\n"
    "                     [--max-header size] [file ...]\n";

static const char encode_help[] =
    "Write frames with canonical headers: each FILE (none or -: standard\n"
    "input) whole as one frame, or one frame per line.\n"
    "\n"
    "  -b, --byteorder little|big\n"
    "                         the \"byteorder\" header (default: the "
    "host's)\n"
    "  -e, --encoding NAME    the \"content-encoding\" header (default "
    "binary)\n"
    "  -H, --header KEY=VALUE add a string extension header (repeatable)\n"
    "  -t, --type TYPE        the \"content-type\" header (default\n"
    "                         binary/octet-stream)\n"
    "      --json             the content is one JSON value, written in\n"
    "                         canonical form (-t text/json -e utf-8)\n"
    "      --lines            one frame per input line, without its "
    "newline\n"
    "      --ndjson           re-create frames from 'hframe decode' "
    "records,\n"
    "                         one per line ('jq -c' writes them so)\n"
    "      --fix-length       with --ndjson: set \"content-length\" from "
    "the\n"
    "                         content (after editing the text)\n"
    "  -f, --force            write frames even to a terminal\n";

enum {
    OPT_JSON = CLI_OPT_FIRST_FREE,
    OPT_LINES,
    OPT_NDJSON,
    OPT_FIX_LENGTH
};

typedef struct enc {
    hf_limits lim;
    hf_header h;
    const char *type;
    const char *encoding;
    int json;
    int lines;
    int ndjson;
    int fix_length;
    int force;
    int fd;                     /* the input being read */
    cli_common co;
    uint64_t line_no;
    unsigned char *hdr;         /* prefix + header, HF_HEADER_MAX room */
    hf_decoder dec;             /* --ndjson: validates record headers */
    cli_buf line;               /* --ndjson: the record's line */
    cli_buf content;            /* --json: canonical form made so far */
    cli_canon *canon;           /* --lines --json: the line's, or NULL */
    int canon_rc;               /* its first failure, reported at the
                                   line's end (as a long line's comes
                                   first) */
    uint64_t line_bytes;        /* --lines --json: the line's length */
    cli_sink sink;              /* a content waiting for its header */
    unsigned char *chunk;       /* CLI_CHUNK bytes of scratch */
} enc;

/* ---------------------------------------------------------------- */
/* Options                                                           */
/* ---------------------------------------------------------------- */

static int is_required_key(const char *k, size_t n)
{
    static const char *const req[] = {
        "byteorder", "content-type", "content-encoding", "content-length"
    };
    size_t i;

    for (i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        if (strlen(req[i]) == n && memcmp(req[i], k, n) == 0)
            return 1;
    }
    return 0;
}

/* -H KEY=VALUE: a string extension header (KEY may be empty, as the
 * protocol allows). */
static int add_header_opt(enc *e, const char *arg)
{
    const char *eq = strchr(arg, '=');
    hf_str key, value;

    if (eq == NULL) {
        cli_usage_error(e->co.usage, "-H: \"%s\" is not KEY=VALUE", arg);
        return -1;
    }
    key.ptr = arg;
    key.len = (size_t)(eq - arg);
    value.ptr = eq + 1;
    value.len = strlen(eq + 1);
    if (hf_utf8_check(arg, strlen(arg)) != strlen(arg)) {
        cli_usage_error(e->co.usage, "-H: not valid UTF-8");
        return -1;
    }
    if (is_required_key(key.ptr, key.len)) {
        cli_usage_error(e->co.usage, "-H: \"%.*s\" is set with -b, -t, -e "
                        "or by the content", (int)key.len, key.ptr);
        return -1;
    }
    if (hf_header_find_ext(&e->h, key.ptr, key.len) != NULL) {
        cli_usage_error(e->co.usage, "-H: key \"%.*s\" given twice",
                        (int)key.len, key.ptr);
        return -1;
    }
    if (hf_header_add_ext(&e->h, key, value, HF_VALUE_STRING) != HF_OK) {
        cli_usage_error(e->co.usage, "-H: more than %d extension headers",
                        HF_EXT_MAX);
        return -1;
    }
    return 0;
}

static int check_name(const enc *e, const char *opt, const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || hf_utf8_check(v, n) != n) {
        cli_usage_error(e->co.usage, "%s: must be a non-empty UTF-8 string",
                        opt);
        return -1;
    }
    return 0;
}

static int set_byteorder(enc *e, const char *v)
{
    if (strcmp(v, "little") == 0)
        e->h.byteorder = HF_BYTEORDER_LITTLE;
    else if (strcmp(v, "big") == 0)
        e->h.byteorder = HF_BYTEORDER_BIG;
    else {
        cli_usage_error(e->co.usage, "-b: \"%s\" is not little or big", v);
        return -1;
    }
    return 0;
}

/* Returns -1 to go on, else the exit status. */
static int parse_opts(enc *e, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "byteorder", required_argument, NULL, 'b' },
        { "encoding", required_argument, NULL, 'e' },
        { "header", required_argument, NULL, 'H' },
        { "type", required_argument, NULL, 't' },
        { "force", no_argument, NULL, 'f' },
        { "json", no_argument, NULL, OPT_JSON },
        { "lines", no_argument, NULL, OPT_LINES },
        { "ndjson", no_argument, NULL, OPT_NDJSON },
        { "fix-length", no_argument, NULL, OPT_FIX_LENGTH },
        CLI_COMMON_LONGOPTS
    };
    int c, framing = 0;

    while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "b:e:fH:t:",
                            longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            e->force = 1;
            break;
        case 'b':
            framing = 1;
            if (set_byteorder(e, optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'e':
            framing = 1;
            e->encoding = optarg;
            if (check_name(e, "-e", optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 't':
            framing = 1;
            e->type = optarg;
            if (check_name(e, "-t", optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'H':
            framing = 1;
            if (add_header_opt(e, optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_JSON:
            framing = 1;
            e->json = 1;
            break;
        case OPT_LINES:
            framing = 1;
            e->lines = 1;
            break;
        case OPT_NDJSON:
            e->ndjson = 1;
            break;
        case OPT_FIX_LENGTH:
            e->fix_length = 1;
            break;
        default:
            if (cli_common_option(&e->co, c, argv) != 0)
                return CLI_EXIT_USAGE;
            if (e->co.help_shown)
                return CLI_EXIT_OK;
            break;
        }
    }
    if (e->fix_length && !e->ndjson) {
        cli_usage_error(e->co.usage, "encode: --fix-length goes with "
                        "--ndjson");
        return CLI_EXIT_USAGE;
    }
    if (e->ndjson && framing) {
        cli_usage_error(e->co.usage, "encode: --ndjson takes the framing "
                        "from its records; no -b, -e, -H, -t, --json or "
                        "--lines");
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* ---------------------------------------------------------------- */
/* Writing frames                                                    */
/* ---------------------------------------------------------------- */

/* Write the prefix and header h for a content of n bytes. */
static int emit_header(enc *e, hf_header *h, uint64_t n)
{
    size_t w = 0;
    hf_status st;

    h->content_length = n;
    st = hf_encode_header(h, e->hdr, HF_PREFIX_LEN + HF_HEADER_MAX, &w);
    if (st == HF_E_HEADER_TOO_LONG ||
        (st == HF_OK && w - HF_PREFIX_LEN > e->co.lim.max_header)) {
        cli_err("%sheader-too-long: the canonical header is longer than "
                "the limit of %zu bytes (%s)", cli_input_prefix(),
                e->co.lim.max_header,
                e->co.lim.max_header >= HF_HEADER_MAX
                    ? "the most a frame's 2-byte length can give"
                    : "raise it with --max-header");
        return CLI_EXIT_INVALID;
    }
    if (st != HF_OK) {
        cli_err("%s%s: cannot encode the header: %s", cli_input_prefix(),
                hf_status_name(st), hf_strerror(st));
        return CLI_EXIT_INVALID;
    }
    return cli_out_write(e->hdr, w) == 0 ? CLI_EXIT_OK : cli_out_stop();
}

/* Write one frame of header h and the content gathered in e->sink. */
static int emit_sink(enc *e, hf_header *h)
{
    int rc = emit_header(e, h, cli_sink_len(&e->sink));

    if (rc != CLI_EXIT_OK)
        return rc;
    return cli_sink_emit(&e->sink);
}

/* The canonical form of one JSON value: cli_canon_new over e->content
 * spilling into e->sink (emptied first). NULL after an error line. */
static cli_canon *canon_start(enc *e)
{
    cli_canon *c;

    e->content.len = 0;
    if (cli_sink_reset(&e->sink) != 0)
        return NULL;
    c = cli_canon_new(&e->content, &e->sink);
    if (c == NULL)
        cli_err("out of memory");
    return c;
}

/* ---------------------------------------------------------------- */
/* Whole input                                                       */
/* ---------------------------------------------------------------- */


static int too_long(const enc *e)
{
    cli_err("%scontent-too-long: input exceeds the content limit of %llu "
            "bytes (raise it with --max-content)", cli_input_prefix(),
            (unsigned long long)e->co.lim.max_content);
    return CLI_EXIT_INVALID;
}

static int not_json(const cli_canon *c)
{
    cli_err("%snot one JSON value: %s", cli_input_prefix(),
            cli_canon_error(c));
    if (strstr(cli_canon_error(c), "trailing garbage") != NULL)
        cli_err("several JSON values? --lines makes a frame of each line");
    return CLI_EXIT_INVALID;
}

/* The canonical form of the whole input as one frame, into the sink as
 * it is made. Input yajl has not seen yet is passed to it before giving
 * up for another reason, so an error in it is what gets reported. */
static int encode_whole_json(enc *e)
{
    cli_canon *c = canon_start(e);
    uint64_t total = 0;
    int rc = 0;
    long n = 0;

    if (c == NULL)
        return CLI_EXIT_FAIL;
    while (rc == 0 && (n = cli_read(e->fd, e->chunk, CLI_CHUNK)) > 0) {
        total += (uint64_t)n;
        if (total > e->co.lim.max_content) {
            rc = cli_canon_drain(c);
            if (rc == 0) {
                cli_canon_free(c);
                return too_long(e);
            }
            break;
        }
        rc = cli_canon_feed(c, e->chunk, (size_t)n);
    }
    if (rc == 0 && n < 0 && (rc = cli_canon_drain(c)) == 0)
        rc = CLI_SINK_FAILED;          /* the read error, reported */
    if (rc == 0)
        rc = cli_canon_finish(c);
    if (rc == 0)
        rc = emit_sink(e, &e->h);
    else
        rc = rc == -1 ? not_json(c) : CLI_EXIT_FAIL;
    cli_canon_free(c);
    return rc;
}

/* A regular file that reports its size: that is the content length,
 * copied as it is read, so a large file is streamed, not spooled (one
 * that changes size meanwhile is an error after the fact). */
static int encode_file(enc *e, const struct stat *st)
{
    off_t at = lseek(e->fd, 0, SEEK_CUR);
    uint64_t n;
    int rc;

    if (at < 0 || at > st->st_size)
        at = 0;
    n = (uint64_t)(st->st_size - at);
    if (n > e->co.lim.max_content)
        return too_long(e);
    rc = emit_header(e, &e->h, n);
    if (rc != CLI_EXIT_OK)
        return rc;
    return cli_copy_out(e->fd, n, 1, e->chunk);
}

/* Anything else (a pipe, a file that reports size 0, as those under
 * /proc do) is gathered in the sink (spooled past CLI_SPOOL_AFTER) and
 * written after its header once whole: nothing of the frame goes out
 * before its length is known. */
static int encode_whole(enc *e)
{
    struct stat st;
    long n;

    if (e->json)
        return encode_whole_json(e);
    if (fstat(e->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        return encode_file(e, &st);
    if (cli_sink_reset(&e->sink) != 0)
        return CLI_EXIT_FAIL;
    while ((n = cli_read(e->fd, e->chunk, CLI_CHUNK)) > 0) {
        if ((uint64_t)n > e->co.lim.max_content - cli_sink_len(&e->sink))
            return too_long(e);
        if (cli_sink_write(&e->sink, e->chunk, (size_t)n) != 0)
            return CLI_EXIT_FAIL;
    }
    if (n < 0)
        return CLI_EXIT_FAIL;
    return emit_sink(e, &e->h);
}

/* ---------------------------------------------------------------- */
/* Line by line                                                      */
/* ---------------------------------------------------------------- */

/* Why an NDJSON line did not parse, with what usually fixes it. */
static void ndjson_hint(const char *err)
{
    if (strncmp(err, "json-syntax:", 12) == 0)
        cli_err("records are one JSON object per line: pretty-printed "
                "JSON needs 'jq -c'");
    else if (strncmp(err, "content-length is ", 18) == 0)
        cli_err("after editing a record's content, --fix-length sets "
                "content-length from it");
}

static int ndjson_line(enc *e, const unsigned char *p, size_t n)
{
    char err[HF_DETAIL_MAX + 96];
    cli_ndjson_content c;
    hf_header h;
    int rc;

    if (n == 0)
        return CLI_EXIT_OK;       /* blank lines separate nothing */
    c.sink = &e->sink;
    rc = cli_ndjson_parse(&e->dec, p, n, e->co.lim.max_content, &c,
                          e->fix_length, err, sizeof(err));
    if (rc == CLI_SINK_FAILED)
        return CLI_EXIT_FAIL;
    if (rc != 0) {
        cli_err("%sline %llu: %s", cli_input_prefix(),
                (unsigned long long)e->line_no, err);
        ndjson_hint(err);
        return CLI_EXIT_INVALID;
    }
    h = *hf_decoder_header(&e->dec);
    rc = emit_header(e, &h, c.len);
    return rc == CLI_EXIT_OK ? cli_ndjson_content_out(&c) : rc;
}

/* The line gathered so far is whole: write its frame. */
/* --lines --json: the end of a line, whose canonical form is in the
 * sink. */
static int json_line_end(enc *e)
{
    int rc = e->canon_rc;

    if (e->canon == NULL && (e->canon = canon_start(e)) == NULL)
        return CLI_EXIT_FAIL;
    if (rc == 0)
        rc = cli_canon_finish(e->canon);
    if (rc == -1)
        cli_err("%sline %llu: not one JSON value: %s", cli_input_prefix(),
                (unsigned long long)e->line_no, cli_canon_error(e->canon));
    cli_canon_free(e->canon);
    e->canon = NULL;
    e->canon_rc = 0;
    e->line_bytes = 0;
    if (rc != 0)
        return rc == -1 ? CLI_EXIT_INVALID : CLI_EXIT_FAIL;
    return emit_sink(e, &e->h);
}

/* The line gathered so far is whole: write its frame. */
static int one_line(enc *e)
{
    size_t n;
    int rc;

    e->line_no++;
    if (e->json)
        return json_line_end(e);
    if (e->ndjson) {
        n = e->line.len;
        e->line.len = 0;
        return ndjson_line(e, e->line.p, n);
    }
    rc = emit_sink(e, &e->h);
    return rc == CLI_EXIT_OK && cli_sink_reset(&e->sink) != 0
               ? CLI_EXIT_FAIL : rc;
}

static int line_too_long(const enc *e)
{
    if (!e->json && !e->ndjson)
        cli_err("%sline %llu: longer than the content limit of %llu bytes "
                "(raise it with --max-content)", cli_input_prefix(),
                (unsigned long long)e->line_no + 1,
                (unsigned long long)e->co.lim.max_content);
    else if (e->ndjson)
        cli_err("%sline %llu: longer than %zu bytes, more than a record "
                "within the limits can take (raise them with "
                "--max-content, --max-header)", cli_input_prefix(),
                (unsigned long long)e->line_no + 1, e->line.max);
    else
        cli_err("%sline %llu: longer than the content limit of %zu bytes "
                "(raise it with --max-content)", cli_input_prefix(),
                (unsigned long long)e->line_no + 1, e->line.max);
    return CLI_EXIT_INVALID;
}

/* Bytes gathered of the line being read. */
static uint64_t line_len(const enc *e)
{
    if (e->ndjson)
        return e->line.len;
    return e->json ? e->line_bytes : cli_sink_len(&e->sink);
}

/* --lines --json: a piece of a line goes to the line's canonicalizer,
 * whose output goes to the sink. */
static int json_line_piece(enc *e, const unsigned char *p, size_t n)
{
    if (n > e->co.lim.max_content - e->line_bytes)
        return line_too_long(e);
    e->line_bytes += n;
    if (e->canon == NULL && (e->canon = canon_start(e)) == NULL)
        return CLI_EXIT_FAIL;
    if (e->canon_rc == 0)
        e->canon_rc = cli_canon_feed(e->canon, p, n);
    return e->canon_rc == CLI_SINK_FAILED ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* Gather a piece of a line: a record whole in e->line (yajl parses it
 * in place), a JSON line through its canonicalizer, a plain line in the
 * sink, which spools a long one. */
static int line_piece(enc *e, const unsigned char *p, size_t n)
{
    if (e->ndjson)
        return cli_buf_append(&e->line, p, n) == 0 ? CLI_EXIT_OK
                                                   : line_too_long(e);
    if (e->json)
        return json_line_piece(e, p, n);
    if (n > e->co.lim.max_content - cli_sink_len(&e->sink))
        return line_too_long(e);
    return cli_sink_write(&e->sink, p, n) == 0 ? CLI_EXIT_OK
                                                : CLI_EXIT_FAIL;
}

/* Split a chunk into lines; a line split across chunks is gathered
 * piece by piece. */
static int lines_chunk(enc *e, const unsigned char *p, size_t n)
{
    while (n > 0) {
        const unsigned char *nl = memchr(p, '\n', n);
        size_t len = nl == NULL ? n : (size_t)(nl - p);
        int rc = line_piece(e, p, len);

        if (rc != CLI_EXIT_OK || nl == NULL)
            return rc;
        rc = one_line(e);
        if (rc != CLI_EXIT_OK)
            return rc;
        p = nl + 1;
        n -= len + 1;
    }
    return CLI_EXIT_OK;
}

static int encode_lines(enc *e)
{
    long n;
    int rc;

    e->line_no = 0;
    e->line.len = 0;
    e->line_bytes = 0;
    if (cli_sink_reset(&e->sink) != 0)
        return CLI_EXIT_FAIL;
    while ((n = cli_read(e->fd, e->chunk, CLI_CHUNK)) > 0) {
        rc = lines_chunk(e, e->chunk, (size_t)n);
        if (rc != CLI_EXIT_OK)
            return rc;
        if (cli_out_flush() != 0)
            return cli_out_stop();
    }
    if (n < 0)
        return CLI_EXIT_FAIL;
    if (line_len(e) == 0)
        return CLI_EXIT_OK;
    return one_line(e);
}

/* ---------------------------------------------------------------- */
/* Entry                                                             */
/* ---------------------------------------------------------------- */

/* Longest NDJSON line: every content byte may take 6 characters as an
 * escape (\u0001), so do header bytes, plus the record's own keys. */
static size_t ndjson_line_max(const hf_limits *lim)
{
    uint64_t max = 6 * lim->max_content + 6 * (uint64_t)lim->max_header +
                   1024;

    return max > SIZE_MAX / 4 ? SIZE_MAX / 4 : (size_t)max;
}

static int encode_setup(enc *e)
{
    size_t cmax = (size_t)e->co.lim.max_content;

    if (e->type == NULL)
        e->type = e->json ? "text/json" : "binary/octet-stream";
    if (e->encoding == NULL)
        e->encoding = e->json ? "utf-8" : "binary";
    e->h.content_type.ptr = e->type;
    e->h.content_type.len = strlen(e->type);
    e->h.content_encoding.ptr = e->encoding;
    e->h.content_encoding.len = strlen(e->encoding);
    cli_buf_init(&e->content, cmax);
    cli_buf_init(&e->line, e->ndjson ? ndjson_line_max(&e->co.lim) : cmax);
    cli_sink_init(&e->sink);
    e->hdr = malloc(HF_PREFIX_LEN + HF_HEADER_MAX);
    e->chunk = malloc(CLI_CHUNK);
    if (e->hdr == NULL || e->chunk == NULL) {
        cli_err("out of memory");
        return -1;
    }
    if (e->ndjson && hf_decoder_init(&e->dec, &e->co.lim) != HF_OK) {
        cli_err("invalid limits");
        return -1;
    }
    return 0;
}

static void encode_cleanup(enc *e)
{
    if (e->ndjson)
        hf_decoder_free(&e->dec);
    cli_canon_free(e->canon);
    free(e->hdr);
    free(e->chunk);
    cli_buf_free(&e->content);
    cli_buf_free(&e->line);
    cli_sink_free(&e->sink);
}

/* Each operand in turn (none: stdin). */
static int encode_inputs(enc *e, char **files, int n)
{
    int i, rc = CLI_EXIT_OK;

    if (n == 0) {
        files = (char **)cli_stdin_operand;
        n = 1;
    }
    for (i = 0; i < n && rc == CLI_EXIT_OK; i++) {
        cli_set_input_name(strcmp(files[i], "-") == 0 ? NULL : files[i]);
        e->fd = cli_open_input(files[i]);
        if (e->fd < 0)
            return CLI_EXIT_FAIL;
        rc = e->lines || e->ndjson ? encode_lines(e) : encode_whole(e);
        cli_close_input(e->fd);
    }
    cli_set_input_name(NULL);
    return rc;
}

int hf_cmd_encode(int argc, char **argv)
{
    enc *e;
    int rc, out;

    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
    cli_common_init(&e->co, cli_encode_usage, encode_help);
    hf_header_init(&e->h, "", "");
    rc = parse_opts(e, argc, argv);
    cli_set_inputs(&e->co, argv + optind, argc - optind);
    if (rc < 0 && (out = cli_open_output(&e->co)) != CLI_EXIT_OK)
        rc = out;
    if (rc < 0 && cli_refuse_tty(&e->co, e->force) != 0)
        rc = CLI_EXIT_USAGE;
    if (rc < 0) {
        rc = CLI_EXIT_FAIL;
        if (encode_setup(e) == 0)
            rc = encode_inputs(e, argv + optind, argc - optind);
        encode_cleanup(e);
    }
    free(e);
    return rc == CLI_STOPPED ? CLI_EXIT_OK : rc;
}
