/* cmd_encode.c - `hframe encode`: stdin to frames with canonical headers.
 * Whole input as one frame (default), one frame per line (--lines), or
 * frames re-created from `decode --ndjson` records (--ndjson). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char encode_usage[] =
    "usage: hframe encode [-b little|big] [-e encoding] [-H key=value]... "
    "[-t type]\n"
    "                     [--json] [--lines] [--max-content n] "
    "[--max-header n]\n"
    "       hframe encode --ndjson [--max-content n] [--max-header n]\n";

enum {
    OPT_JSON = CLI_OPT_FIRST_FREE,
    OPT_LINES,
    OPT_NDJSON
};

typedef struct enc {
    hf_limits lim;
    hf_header h;
    const char *type;
    const char *encoding;
    int json;
    int lines;
    int ndjson;
    uint64_t line_no;
    unsigned char *hdr;         /* prefix + header, HF_HEADER_MAX room */
    hf_decoder dec;             /* --ndjson: validates record headers */
    cli_buf line;               /* the line being gathered */
    cli_buf content;            /* a frame's content */
    cli_buf raw;                /* --ndjson: "text"/"base64" string */
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

/* -H KEY=VALUE: a string extension header. */
static int add_header_opt(enc *e, const char *arg)
{
    const char *eq = strchr(arg, '=');
    hf_str key, value;

    if (eq == NULL || eq == arg) {
        cli_usage_error(encode_usage, "-H: \"%s\" is not KEY=VALUE", arg);
        return -1;
    }
    key.ptr = arg;
    key.len = (size_t)(eq - arg);
    value.ptr = eq + 1;
    value.len = strlen(eq + 1);
    if (hf_utf8_check(arg, strlen(arg)) != strlen(arg)) {
        cli_usage_error(encode_usage, "-H: not valid UTF-8");
        return -1;
    }
    if (is_required_key(key.ptr, key.len)) {
        cli_usage_error(encode_usage, "-H: \"%.*s\" is set with -b, -t, -e "
                        "or by the content", (int)key.len, key.ptr);
        return -1;
    }
    if (hf_header_find_ext(&e->h, key.ptr, key.len) != NULL) {
        cli_usage_error(encode_usage, "-H: key \"%.*s\" given twice",
                        (int)key.len, key.ptr);
        return -1;
    }
    if (hf_header_add_ext(&e->h, key, value, HF_VALUE_STRING) != HF_OK) {
        cli_usage_error(encode_usage, "-H: more than %d extension headers",
                        HF_EXT_MAX);
        return -1;
    }
    return 0;
}

static int check_name(const char *opt, const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || hf_utf8_check(v, n) != n) {
        cli_usage_error(encode_usage, "%s: must be a non-empty UTF-8 string",
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
        cli_usage_error(encode_usage, "-b: \"%s\" is not little or big", v);
        return -1;
    }
    return 0;
}

/* Returns -1 to go on, else the exit status. */
static int parse_opts(enc *e, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "json", no_argument, NULL, OPT_JSON },
        { "lines", no_argument, NULL, OPT_LINES },
        { "ndjson", no_argument, NULL, OPT_NDJSON },
        { "max-header", required_argument, NULL, CLI_OPT_MAX_HEADER },
        { "max-content", required_argument, NULL, CLI_OPT_MAX_CONTENT },
        { NULL, 0, NULL, 0 }
    };
    int c, framing = 0;

    while ((c = getopt_long(argc, argv, "+:b:e:hH:t:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cli_out_str(encode_usage);
            return CLI_EXIT_OK;
        case 'b':
            framing = 1;
            if (set_byteorder(e, optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'e':
            framing = 1;
            e->encoding = optarg;
            if (check_name("-e", optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 't':
            framing = 1;
            e->type = optarg;
            if (check_name("-t", optarg) != 0)
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
        default:
            if (cli_common_option(encode_usage, c, argv, &e->lim) != 0)
                return CLI_EXIT_USAGE;
            break;
        }
    }
    if (optind != argc) {
        cli_usage_error(encode_usage, "encode: unexpected argument \"%s\"",
                        argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (e->ndjson && framing) {
        cli_usage_error(encode_usage, "encode: --ndjson takes the framing "
                        "from its records; no -b, -e, -H, -t, --json or "
                        "--lines");
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* ---------------------------------------------------------------- */
/* Writing frames                                                    */
/* ---------------------------------------------------------------- */

/* Write one frame of header h (content_length set here) and content. */
static int emit_frame(enc *e, hf_header *h, const unsigned char *c,
                      size_t n)
{
    size_t w = 0;
    hf_status st;

    h->content_length = n;
    st = hf_encode_header(h, e->hdr, HF_PREFIX_LEN + HF_HEADER_MAX, &w);
    if (st == HF_E_HEADER_TOO_LONG ||
        (st == HF_OK && w - HF_PREFIX_LEN > e->lim.max_header)) {
        cli_err("header-too-long: the canonical header is longer than "
                "the limit of %zu bytes", e->lim.max_header);
        return CLI_EXIT_FAIL;
    }
    if (st != HF_OK) {
        cli_err("%s: cannot encode the header: %s", hf_status_name(st),
                hf_strerror(st));
        return CLI_EXIT_FAIL;
    }
    if (cli_out_write(e->hdr, w) != 0 || cli_out_write(c, n) != 0)
        return cli_out_stop();
    return CLI_EXIT_OK;
}

/* Canonical JSON of in[0..n) into e->content. */
static int canon_json(enc *e, const unsigned char *in, size_t n)
{
    cli_canon *c;
    int rc = CLI_EXIT_OK;

    e->content.len = 0;
    c = cli_canon_new(&e->content);
    if (c == NULL) {
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
    if (cli_canon_feed(c, in, n) != 0 || cli_canon_finish(c) != 0) {
        if (e->lines)
            cli_err("line %llu: not one JSON value: %s",
                    (unsigned long long)e->line_no, cli_canon_error(c));
        else
            cli_err("not one JSON value: %s", cli_canon_error(c));
        rc = CLI_EXIT_FAIL;
    }
    cli_canon_free(c);
    return rc;
}

/* ---------------------------------------------------------------- */
/* Whole input                                                       */
/* ---------------------------------------------------------------- */

static int too_long(const enc *e)
{
    cli_err("content-too-long: input exceeds the content limit of %llu "
            "bytes", (unsigned long long)e->lim.max_content);
    return CLI_EXIT_FAIL;
}

static int encode_whole_json(enc *e, unsigned char *chunk)
{
    cli_canon *c = cli_canon_new(&e->content);
    uint64_t total = 0;
    long n;
    int rc = CLI_EXIT_FAIL;

    if (c == NULL) {
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
    while ((n = cli_read(STDIN_FILENO, chunk, CLI_CHUNK)) > 0) {
        total += (uint64_t)n;
        if (total > e->lim.max_content) {
            rc = too_long(e);
            goto out;
        }
        if (cli_canon_feed(c, chunk, (size_t)n) != 0)
            break;
    }
    if (n < 0)
        goto out;
    /* n > 0: the loop stopped at a feed error. */
    if (n > 0 || cli_canon_finish(c) != 0) {
        cli_err("not one JSON value: %s", cli_canon_error(c));
        goto out;
    }
    rc = emit_frame(e, &e->h, e->content.p, e->content.len);
out:
    cli_canon_free(c);
    return rc;
}

static int encode_whole(enc *e, unsigned char *chunk)
{
    long n;

    if (e->json)
        return encode_whole_json(e, chunk);
    while ((n = cli_read(STDIN_FILENO, chunk, CLI_CHUNK)) > 0) {
        if (cli_buf_append(&e->content, chunk, (size_t)n) == 0)
            continue;
        if ((size_t)n > e->content.max - e->content.len)
            return too_long(e);
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
    if (n < 0)
        return CLI_EXIT_FAIL;
    return emit_frame(e, &e->h, e->content.p, e->content.len);
}

/* ---------------------------------------------------------------- */
/* Line by line                                                      */
/* ---------------------------------------------------------------- */

static int ndjson_line(enc *e, const unsigned char *p, size_t n)
{
    char err[HF_DETAIL_MAX + 96];
    hf_header h;

    if (n == 0)
        return CLI_EXIT_OK;       /* blank lines separate nothing */
    if (cli_ndjson_parse(&e->dec, p, n, &e->raw, &e->content, err,
                         sizeof(err)) != 0) {
        cli_err("line %llu: %s", (unsigned long long)e->line_no, err);
        return CLI_EXIT_FAIL;
    }
    h = *hf_decoder_header(&e->dec);
    return emit_frame(e, &h, e->content.p, e->content.len);
}

static int one_line(enc *e, const unsigned char *p, size_t n)
{
    int rc;

    e->line_no++;
    if (e->ndjson)
        return ndjson_line(e, p, n);
    if (!e->json)
        return emit_frame(e, &e->h, p, n);
    rc = canon_json(e, p, n);
    if (rc != CLI_EXIT_OK)
        return rc;
    return emit_frame(e, &e->h, e->content.p, e->content.len);
}

static int line_too_long(const enc *e)
{
    cli_err("line %llu: longer than the limit of %zu bytes",
            (unsigned long long)e->line_no + 1, e->line.max);
    return CLI_EXIT_FAIL;
}

/* Split a chunk into lines; a line split across chunks is gathered in
 * e->line (bounded by its max). */
static int lines_chunk(enc *e, const unsigned char *p, size_t n)
{
    while (n > 0) {
        const unsigned char *nl = memchr(p, '\n', n);
        size_t len = nl == NULL ? n : (size_t)(nl - p);
        int rc;

        if (cli_buf_append(&e->line, p, len) != 0)
            return line_too_long(e);
        if (nl == NULL)
            return CLI_EXIT_OK;
        rc = one_line(e, e->line.p, e->line.len);
        e->line.len = 0;
        if (rc != CLI_EXIT_OK)
            return rc;
        p = nl + 1;
        n -= len + 1;
    }
    return CLI_EXIT_OK;
}

static int encode_lines(enc *e, unsigned char *chunk)
{
    long n;
    int rc;

    while ((n = cli_read(STDIN_FILENO, chunk, CLI_CHUNK)) > 0) {
        rc = lines_chunk(e, chunk, (size_t)n);
        if (rc != CLI_EXIT_OK)
            return rc;
        if (cli_out_flush() != 0)
            return cli_out_stop();
    }
    if (n < 0)
        return CLI_EXIT_FAIL;
    if (e->line.len == 0)
        return CLI_EXIT_OK;
    return one_line(e, e->line.p, e->line.len);
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
    size_t cmax = (size_t)e->lim.max_content;

    if (e->type == NULL)
        e->type = e->json ? "text/json" : "binary/octet-stream";
    if (e->encoding == NULL)
        e->encoding = e->json ? "utf-8" : "binary";
    e->h.content_type.ptr = e->type;
    e->h.content_type.len = strlen(e->type);
    e->h.content_encoding.ptr = e->encoding;
    e->h.content_encoding.len = strlen(e->encoding);
    cli_buf_init(&e->content, cmax);
    cli_buf_init(&e->line, e->ndjson ? ndjson_line_max(&e->lim) : cmax);
    cli_buf_init(&e->raw, cli_b64_len(cmax) + 4);
    e->hdr = malloc(HF_PREFIX_LEN + HF_HEADER_MAX);
    if (e->hdr == NULL) {
        cli_err("out of memory");
        return -1;
    }
    if (e->ndjson && hf_decoder_init(&e->dec, &e->lim) != HF_OK) {
        cli_err("invalid limits");
        return -1;
    }
    return 0;
}

static void encode_cleanup(enc *e)
{
    if (e->ndjson)
        hf_decoder_free(&e->dec);
    free(e->hdr);
    cli_buf_free(&e->content);
    cli_buf_free(&e->line);
    cli_buf_free(&e->raw);
}

int hf_cmd_encode(int argc, char **argv)
{
    unsigned char *chunk;
    enc *e;
    int rc;

    e = calloc(1, sizeof(*e));
    chunk = malloc(CLI_CHUNK);
    if (e == NULL || chunk == NULL) {
        cli_err("out of memory");
        free(e);
        free(chunk);
        return CLI_EXIT_FAIL;
    }
    hf_limits_default(&e->lim);
    hf_header_init(&e->h, "", "");
    rc = parse_opts(e, argc, argv);
    if (rc < 0) {
        rc = CLI_EXIT_FAIL;
        if (encode_setup(e) == 0)
            rc = e->lines || e->ndjson ? encode_lines(e, chunk)
                                       : encode_whole(e, chunk);
        encode_cleanup(e);
    }
    free(chunk);
    free(e);
    return rc == CLI_STOPPED ? CLI_EXIT_OK : rc;
}
