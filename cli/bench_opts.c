/* bench_opts.c - the options of `hframe bench` (bench.h): its usage,
 * its help, and the parser, through the value syntax all of hframe
 * uses (util.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "util.h"

static void usage(FILE *f)
{
    fputs("usage: hframe bench [-c CONNECTIONS] [-n REQUESTS | -d TIME] "
          "[-T THREADS]\n"
          "                    [--action search|binary] [--value VALUE] "
          "[--size BYTES]\n"
          "                    [--new-connection] [--pipeline N] "
          "[--timeout TIME]\n"
          "                    [--expect TEXT] [--json] [--histogram]\n"
          "                    [--max-header SIZE] [--max-content SIZE] "
          "HOST PORT\n", f);
}

static void help(void)
{
    usage(stdout);
    fputs("\n"
          "Load-test an hframe server: every answer is decoded and checked.\n"
          "\n"
          "  -c, --connections N  connections kept busy (default 16)\n"
          "  -n, --requests N     requests in total (default 100000)\n"
          "  -d, --duration TIME  run for TIME instead (2, 1.5, 2s, 250ms)"
          "\n"
          "  -T, --threads N      worker threads (default 1)\n"
          "      --action A       search (text/json, the default) or "
          "binary\n"
          "      --value V        search value, or binary content pattern\n"
          "                       (default \"morpheus\")\n"
          "      --size SIZE      binary content size: the pattern \"binary\""
          "\n"
          "                       VALUE repeated to fill it; k, M or G for\n"
          "                       KiB, MiB, GiB (default: the pattern once)\n"
          "      --new-connection one request per connection, as the "
          "reference\n"
          "                       client does (default: reuse connections)"
          "\n"
          "      --pipeline N     requests in flight per connection "
          "(default 1)\n"
          "      --timeout TIME   a request with no progress for TIME is "
          "an\n"
          "                       error, as is a name lookup that takes "
          "longer\n"
          "                       (default 10s)\n"
          "      --expect TEXT    the search result expected (default: "
          "learnt from\n"
          "                       a probe request before the run)\n"
          "      --json           print the results as one JSON object\n"
          "      --histogram      print an ASCII latency histogram\n"
          "      --max-header SIZE  decoder header limit (default 65535)\n"
          "      --max-content SIZE decoder content limit (default 16M)\n"
          "  -h, --help           show this help\n"
          "\n"
          "Each request counts once. Bytes answering no request break "
          "their\n"
          "connection: they fail the request it would have carried "
          "next.\n"
          "Errors by kind: connect, io, closed (with requests in flight),\n"
          "protocol (not a frame, or answering nothing), mismatch, timeout,\n"
          "server (an error frame, such as busy from a server at its cap).\n"
          "Options may come before or after operands; -- ends them.\n"
          "Exit status: 0 all answers correct, 1 any error, 2 usage "
          "error.\n", stdout);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("hframe: bench: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    usage(stderr);
    return 2;
}

/* Long-option values of the options without a short form. */
enum {
    B_ACTION = 0x100, B_VALUE, B_SIZE, B_NEW_CONN, B_PIPELINE, B_TIMEOUT,
    B_EXPECT, B_JSON, B_HISTOGRAM, B_MAX_HEADER, B_MAX_CONTENT
};

/* An option's value through the parser all of hframe uses (util.h);
 * 0, or -1 after the usage error. */
static int bench_value(util_kind kind, const char *name, const char *val,
                       uint64_t min, uint64_t max, uint64_t *out)
{
    char msg[UTIL_MSG_MAX];

    if (util_parse_value(kind, name, val, min, max, 0, out, msg,
                         sizeof msg) == 0)
        return 0;
    usage_error("%s", msg);
    return -1;
}

/* A duration option in nanoseconds: at least 1 ms, at most a day. */
static int bench_seconds(const char *name, const char *val, uint64_t *ns)
{
    uint64_t us;

    if (bench_value(UTIL_DURATION, name, val, 1000, SECONDS_MAX * UTIL_SEC,
                    &us) != 0)
        return -1;
    *ns = us * 1000;
    return 0;
}

/* One option c with value val (NULL for flags). 0, or 2 after a usage
 * error. */
static int bench_option(int c, const char *val, bench_cfg *cfg, int *have_n,
                        int *have_d)
{
    uint64_t v;

    switch (c) {
    case 'c':
        if (bench_value(UTIL_NUMBER, "-c", val, 1, CONNS_MAX, &v) != 0)
            return 2;
        cfg->conns = (unsigned long)v;
        return 0;
    case 'n':
        if (bench_value(UTIL_NUMBER, "-n", val, 1, UINT64_C(1) << 40,
                        &cfg->requests) != 0)
            return 2;
        *have_n = 1;
        return 0;
    case 'd':
        *have_d = 1;
        return bench_seconds("-d", val, &cfg->duration_ns) != 0 ? 2 : 0;
    case 'T':
        if (bench_value(UTIL_NUMBER, "-T", val, 1, THREADS_MAX, &v) != 0)
            return 2;
        cfg->threads = (unsigned long)v;
        return 0;
    case B_ACTION:
        if (strcmp(val, "search") != 0 && strcmp(val, "binary") != 0)
            return usage_error("bad action '%s' (search or binary)", val);
        cfg->binary = strcmp(val, "binary") == 0;
        return 0;
    case B_VALUE:
        cfg->value = val;
        return 0;
    case B_SIZE:
        cfg->size_set = 1;
        return bench_value(UTIL_SIZE, "--size", val, 0, SIZE_MAX_BYTES,
                           &cfg->size) != 0 ? 2 : 0;
    case B_NEW_CONN:
        cfg->new_conn = 1;
        return 0;
    case B_PIPELINE:
        if (bench_value(UTIL_NUMBER, "--pipeline", val, 1, PIPELINE_MAX,
                        &v) != 0)
            return 2;
        cfg->pipeline = (unsigned long)v;
        return 0;
    case B_TIMEOUT:
        return bench_seconds("--timeout", val, &cfg->timeout_ns) != 0 ? 2
                                                                      : 0;
    case B_EXPECT:
        cfg->expect = val;
        return 0;
    case B_JSON:
        cfg->json = 1;
        return 0;
    case B_HISTOGRAM:
        cfg->histogram = 1;
        return 0;
    case B_MAX_HEADER:
        if (bench_value(UTIL_SIZE, "--max-header", val, HF_HEADER_MIN,
                        HF_HEADER_MAX, &v) != 0)
            return 2;
        cfg->lim.max_header = (size_t)v;
        return 0;
    case B_MAX_CONTENT:
        return bench_value(UTIL_SIZE, "--max-content", val, 0,
                           HF_CONTENT_LIMIT_MAX, &cfg->lim.max_content)
                   != 0 ? 2 : 0;
    default:
        return usage_error("%s", "internal error: unknown option");
    }
}

/* What the options say together, and the operands. 0, or 2. */
static int bench_check(bench_cfg *cfg, int have_n, int have_d, int npos,
                       char **pos)
{
    uint64_t v;

    if (npos != 2)
        return usage_error("%s", "expected HOST and PORT");
    if (have_n && have_d)
        return usage_error("%s", "-n and -d exclude each other");
    if (have_d)
        cfg->requests = 0;
    if (cfg->size_set && !cfg->binary)
        return usage_error("%s", "--size needs --action binary");
    if (cfg->expect != NULL && cfg->binary)
        return usage_error("%s", "--expect applies to search only");
    if (cfg->threads > cfg->conns)
        cfg->threads = cfg->conns;
    if (cfg->new_conn && cfg->pipeline > 1)
        return usage_error("%s", "--pipeline needs reused connections");
    if (hf_utf8_check(cfg->value, strlen(cfg->value)) !=
        strlen(cfg->value))
        return usage_error("value '%s' is not valid UTF-8", cfg->value);
    if (cfg->expect != NULL &&
        hf_utf8_check(cfg->expect, strlen(cfg->expect)) !=
        strlen(cfg->expect))
        return usage_error("expected text '%s' is not valid UTF-8",
                           cfg->expect);
    cfg->host = pos[0];
    cfg->port = pos[1];
    return bench_value(UTIL_NUMBER, "port", cfg->port, 1, 65535, &v) != 0
               ? 2 : 0;
}

/*
 * getopt_long, as every subcommand: options anywhere, "--" ends them.
 * Returns 0, 1 after --help, or 2 after a usage error (printed).
 */
int bench_parse_args(int argc, char **argv, bench_cfg *cfg)
{
    static const struct option longopts[] = {
        { "connections", required_argument, NULL, 'c' },
        { "requests", required_argument, NULL, 'n' },
        { "duration", required_argument, NULL, 'd' },
        { "threads", required_argument, NULL, 'T' },
        { "action", required_argument, NULL, B_ACTION },
        { "value", required_argument, NULL, B_VALUE },
        { "size", required_argument, NULL, B_SIZE },
        { "new-connection", no_argument, NULL, B_NEW_CONN },
        { "pipeline", required_argument, NULL, B_PIPELINE },
        { "timeout", required_argument, NULL, B_TIMEOUT },
        { "expect", required_argument, NULL, B_EXPECT },
        { "json", no_argument, NULL, B_JSON },
        { "histogram", no_argument, NULL, B_HISTOGRAM },
        { "max-header", required_argument, NULL, B_MAX_HEADER },
        { "max-content", required_argument, NULL, B_MAX_CONTENT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int c, rc, have_n = 0, have_d = 0;
    char flag[64];
    size_t flag_len;

    memset(cfg, 0, sizeof *cfg);
    cfg->conns = 16;
    cfg->threads = 1;
    cfg->pipeline = 1;
    cfg->requests = 100000;
    cfg->timeout_ns = 10 * NS_PER_S;
    cfg->value = "morpheus";
    hf_limits_default(&cfg->lim);
    while ((c = getopt_long(argc, argv, ":c:n:d:T:h", longopts, NULL)) !=
           -1) {
        if (c == 'h') {
            help();
            return 1;
        }
        if (c == ':')
            return usage_error("option '%s' needs a value",
                               argv[optind - 1]);
        flag_len = c == '?' ? util_flag_with_value(argv[optind - 1], optopt)
                            : 0;
        if (flag_len > 0) {
            snprintf(flag, sizeof flag, "%.*s", (int)flag_len,
                     argv[optind - 1]);
            return usage_error("option '%s' takes no value", flag);
        }
        if (c == '?')
            return usage_error("unknown option '%s'", argv[optind - 1]);
        rc = bench_option(c, optarg, cfg, &have_n, &have_d);
        if (rc != 0)
            return rc;
    }
    return bench_check(cfg, have_n, have_d, argc - optind, argv + optind);
}
