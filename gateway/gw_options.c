/*
 * gw_options.c - the option table and the parser, usage text and errors
 * that come from it.
 */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hframe.h"
#include "util.h"
#include "gw_conn.h"
#include "gw_options.h"
#include "gw_pool.h"

#define SEC UTIL_SEC

/* Longest duration accepted on the command line: one day. */
#define DURATION_MAX (86400 * SEC)

/* Most clients per process: far above what descriptors allow. */
#define CONNS_MAX 10000000

typedef enum opt_kind {
    K_HELP,
    K_VERSION,
    K_FLAG,         /* int, set to 1 */
    K_TEXT,         /* const char * */
    K_ADDRESS,      /* const char *, HOST:PORT with a numeric port */
    K_NUMBER,       /* uint64_t fields, util.h syntax */
    K_SIZE,
    K_TIME,
    K_UPSTREAM,     /* appended to upstream[] */
    K_LEVEL,        /* gw_log_level */
    K_FORMAT,       /* gw_log_format */
    K_IO            /* gw_poll_kind */
} opt_kind;

typedef struct opt_row {
    const char *name;
    char letter;            /* short option, 0 for none */
    opt_kind kind;
    size_t field;           /* offsetof(gw_options, ...) */
    uint64_t min, max, def;
    int zero_off;           /* K_TIME: 0 turns it off */
    const char *arg;        /* the value's name in --help */
    const char *help;
} opt_row;

#define F(x) offsetof(gw_options, x)
#define NONE 0, 0, 0, 0

static const opt_row rows[] = {
    { "help", 'h', K_HELP, 0, NONE, NULL, "print this text and exit" },
    { "version", 0, K_VERSION, 0, NONE, NULL, "print the version and exit" },
    { "listen", 'l', K_TEXT, F(host), NONE, "HOST",
      "address to listen on (127.0.0.1; \"\": all)" },
    { "port", 'p', K_TEXT, F(port), NONE, "PORT",
      "port to listen on (65432; 0: any free one)" },
    { "index", 0, K_TEXT, F(index_path), NONE, "FILE",
      "search index, a JSON object (a built-in one)" },
    { "io", 0, K_IO, F(io), NONE, "select|epoll",
      "readiness backend (default select)" },
    { "max-conns", 0, K_NUMBER, F(max_conns), 1, CONNS_MAX, 0, 0, "N",
      "most clients per worker (as descriptors allow)" },
    { "max-header", 0, K_SIZE, F(max_header), HF_HEADER_MIN, HF_HEADER_MAX,
      HF_HEADER_MAX, 0, "BYTES", "longest JSON header of a frame" },
    { "max-content", 0, K_SIZE, F(max_content), 0, HF_CONTENT_LIMIT_MAX,
      HF_CONTENT_DEFAULT, 0, "BYTES", "longest content of a frame" },
    { "max-json", 0, K_SIZE, F(max_json), 1, HF_CONTENT_LIMIT_MAX,
      GW_JSON_DEFAULT, 0, "BYTES", "longest JSON content of a search" },
    { "max-output", 0, K_SIZE, F(max_output), 1, SIZE_MAX / 2,
      GW_OUTPUT_DEFAULT, 0, "BYTES",
      "answer bytes held before reading stops" },
    { "request-timeout", 0, K_TIME, F(request_timeout), 0, DURATION_MAX,
      10 * SEC, 1, "TIME", "longest time to receive one request frame" },
    { "idle-timeout", 0, K_TIME, F(idle_timeout), 0, DURATION_MAX,
      60 * SEC, 1, "TIME", "longest wait for a client's next request" },
    { "write-timeout", 0, K_TIME, F(write_timeout), 0, DURATION_MAX,
      30 * SEC, 1, "TIME", "longest time a client may not read its answer" },
    { "drain-timeout", 0, K_TIME, F(drain_timeout), 0, DURATION_MAX,
      5 * SEC, 0, "TIME",
      "at shutdown, longest wait for answers in hand (0: as long as they "
      "take)" },
    { "log-level", 0, K_LEVEL, F(log_level), NONE, "LEVEL",
      "error, warn, info (the default) or debug" },
    { "log-format", 0, K_FORMAT, F(log_format), NONE, "text|json",
      "log lines as key=value text (the default) or JSON" },
    { "workers", 0, K_NUMBER, F(workers), 1, GW_WORKERS_MAX, 1, 0, "N",
      "processes serving the port (SO_REUSEPORT)" },
    { "port-file", 0, K_TEXT, F(port_file), NONE, "FILE",
      "write the port to FILE once listening" },
    { "pidfile", 0, K_TEXT, F(pid_file), NONE, "FILE",
      "write the process id to FILE; removed at exit" },
    { "metrics", 0, K_ADDRESS, F(metrics), NONE, "HOST:PORT",
      "serve /metrics (every worker's counts) and /health" },
    { "user", 0, K_TEXT, F(user), NONE, "NAME",
      "run as this user once the sockets are bound" },
    { "group", 0, K_TEXT, F(group), NONE, "NAME",
      "... and this group (the user's own by default)" },
    { "proxy-protocol", 0, K_FLAG, F(proxy_protocol), NONE, NULL,
      "clients start with a PROXY v1 or v2 header" },
    { "upstream", 0, K_UPSTREAM, 0, NONE, "HOST:PORT",
      "relay to this server (up to 16 times)" },
    { "upstream-timeout", 0, K_TIME, F(upstream_timeout), 0, DURATION_MAX,
      10 * SEC, 1, "TIME", "longest time an upstream may make no progress" },
    { "upstream-connect-timeout", 0, K_TIME, F(upstream_connect_timeout),
      0, DURATION_MAX, 2 * SEC, 1, "TIME",
      "longest time to connect to an upstream" },
    { "upstream-conns", 0, K_NUMBER, F(upstream_conns), 1, CONNS_MAX, 0, 0,
      "N", "connections per upstream (as descriptors allow)" },
    { "upstream-pipeline", 0, K_NUMBER, F(upstream_pipeline), 1,
      GW_POOL_PIPELINE_MAX, 1, 0, "N", "requests in flight per connection" },
    { "client-pipeline", 0, K_NUMBER, F(client_pipeline), 1,
      GW_RELAY_DEPTH_MAX, 0, 0, "N",
      "a client's requests relayed at once" },
    { "upstream-fails", 0, K_NUMBER, F(upstream_fails), 1, 1000000, 1, 0,
      "N", "failures in a row that take an upstream out" },
    { "upstream-retry", 0, K_TIME, F(upstream_retry), 1000, DURATION_MAX,
      2 * SEC, 0, "TIME", "how long an upstream stays out at first" },
    { "upstream-check", 0, K_TIME, F(upstream_check), 0, DURATION_MAX, 0,
      1, "TIME", "probe an upstream that is out this often" },
    { "upstream-private", 0, K_FLAG, F(upstream_private), NONE, NULL,
      "one upstream connection per client, never shared" },
    { "upstream-proxy-protocol", 0, K_FLAG, F(upstream_proxy), NONE, NULL,
      "send PROXY v2 headers upstream" },
};

#define N_ROWS (sizeof rows / sizeof rows[0])

/* Width of the option column of --help. */
#define HELP_LEFT 28

static util_kind util_kind_of(opt_kind k)
{
    return k == K_SIZE ? UTIL_SIZE : k == K_TIME ? UTIL_DURATION
                                                 : UTIL_NUMBER;
}

static void *field_of(gw_options *o, const opt_row *r)
{
    return (char *)o + r->field;
}

static void set_defaults(gw_options *o)
{
    size_t i;

    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = "65432";
    o->log_level = GW_LOG_INFO;
    o->io = GW_POLL_SELECT;
    for (i = 0; i < N_ROWS; i++) {
        if (rows[i].kind == K_NUMBER || rows[i].kind == K_SIZE ||
            rows[i].kind == K_TIME)
            *(uint64_t *)field_of(o, &rows[i]) = rows[i].def;
    }
}

void gw_options_usage(FILE *f)
{
    char lo[32], hi[32], def[32], left[64];
    size_t i;

    fprintf(f,
        "usage: " GW_PROG " [options] [HOST PORT | HOST:PORT]\n"
        "\n"
        "Answers hframe search and binary requests on HOST PORT (default\n"
        "127.0.0.1 65432). With --upstream it relays instead: each valid\n"
        "request frame goes to a healthy upstream over a shared pool of\n"
        "connections, and the answer comes back. See hframe-gateway(8).\n"
        "\n"
        "Sizes are bytes or with k, M, G (\"64k\"); times are seconds or\n"
        "with s, ms (\"1.5\", \"250ms\"); 0 turns a timeout off.\n"
        "\n"
        "Options:\n");
    for (i = 0; i < N_ROWS; i++) {
        const opt_row *r = &rows[i];
        util_kind uk = util_kind_of(r->kind);

        snprintf(left, sizeof left, "%c%c%c --%s%s%s",
                 r->letter ? '-' : ' ', r->letter ? r->letter : ' ',
                 r->letter ? ',' : ' ', r->name, r->arg ? " " : "",
                 r->arg ? r->arg : "");
        if (strlen(left) > HELP_LEFT)
            fprintf(f, "  %s\n  %-*s %s\n", left, HELP_LEFT, "", r->help);
        else
            fprintf(f, "  %-*s %s\n", HELP_LEFT, left, r->help);
        if (r->kind != K_NUMBER && r->kind != K_SIZE && r->kind != K_TIME)
            continue;
        fprintf(f, "  %-*s (", HELP_LEFT, "");
        if (r->def != 0 || r->kind == K_TIME)
            fprintf(f, "default %s, ", util_format(uk, r->def, def,
                                                    sizeof def));
        fprintf(f, "%s to %s%s)\n", util_format(uk, r->min, lo, sizeof lo),
                util_format(uk, r->max, hi, sizeof hi),
                r->zero_off ? ", 0 is off" : "");
    }
    fprintf(f,
        "\n"
        "--metrics: /metrics holds the counts of every worker, summed (with\n"
        "--workers the supervisor serves it, and a worker that dies keeps\n"
        "its counts): hframe_requests_total{kind}, the histogram\n"
        "hframe_request_duration_seconds{kind} (buckets 100us to 10s), and\n"
        "per upstream in relay mode, hframe_upstream_* and the histogram\n"
        "hframe_upstream_duration_seconds{upstream}. /health answers 200\n"
        "while the gateway accepts, 503 from SIGTERM while it drains.\n");
}

static int usage_error(const char *msg)
{
    fprintf(stderr, GW_PROG ": %s\n", msg);
    fprintf(stderr, "Try '" GW_PROG " --help' for the options.\n");
    return GW_EXIT_USAGE;
}

static int print_and_exit(int version)
{
    if (version)
        printf(GW_PROG " %s\n", HF_VERSION);
    else
        gw_options_usage(stdout);
    /* Report a text that could not be written. */
    if (fflush(stdout) != 0 || ferror(stdout))
        return GW_EXIT_FAIL;
    return GW_EXIT_OK;
}

/* The host of a HOST:PORT operand (options point into it). */
static char operand_host[UTIL_HOST_MAX + 1];

static int check_port(const char *val)
{
    char msg[UTIL_MSG_MAX];
    uint64_t v;

    if (util_parse_value(UTIL_NUMBER, "the port", val, 0, 65535, 0, &v,
                         msg, sizeof msg) != 0)
        return usage_error(msg);
    return -1;
}

/* HOST:PORT (or [V6]:PORT) with a port from 0 to 65535. */
static int check_address(const opt_row *r, const char *val)
{
    char host[UTIL_HOST_MAX], what[64], msg[UTIL_MSG_MAX],
         full[UTIL_MSG_MAX + 64];
    const char *port;
    uint64_t v;

    if (util_split_hostport(val, host, sizeof host, &port, msg,
                            sizeof msg) != 0) {
        snprintf(full, sizeof full, "--%s: %s", r->name, msg);
        return usage_error(full);
    }
    snprintf(what, sizeof what, "the --%s port", r->name);
    if (util_parse_value(UTIL_NUMBER, what, port, 0, 65535, 0, &v, msg,
                         sizeof msg) != 0)
        return usage_error(msg);
    return -1;
}

/* A value that is none of a row's names. */
static int bad_choice(const opt_row *r, const char *val, const char *names)
{
    char msg[UTIL_MSG_MAX];

    snprintf(msg, sizeof msg, "invalid value '%s' for --%s: expected %s",
             val, r->name, names);
    return usage_error(msg);
}

/* One option's value into o. -1 to go on, or an exit status. */
/* The options that only a relay uses: --upstream-* and
 * --client-pipeline. */
static int relay_only(const opt_row *r)
{
    return strncmp(r->name, "upstream-", 9) == 0 ||
           strcmp(r->name, "client-pipeline") == 0;
}

static int apply(gw_options *o, const opt_row *r, const char *val)
{
    char name[64], msg[UTIL_MSG_MAX];
    gw_log_level lvl;
    gw_log_format fmt;
    gw_poll_kind io;
    size_t i;

    snprintf(name, sizeof name, "--%s", r->name);
    if (relay_only(r) && o->relay_option == NULL)
        o->relay_option = r->name;
    switch (r->kind) {
    case K_HELP:
    case K_VERSION:
        return print_and_exit(r->kind == K_VERSION);
    case K_FLAG:
        *(int *)field_of(o, r) = 1;
        return -1;
    case K_TEXT:
        *(const char **)field_of(o, r) = val;
        if (r->letter == 'l' || r->letter == 'p')
            o->address_option = 1;
        if (r->letter == 'p')
            return check_port(val);
        return -1;
    case K_ADDRESS:
        *(const char **)field_of(o, r) = val;
        return check_address(r, val);
    case K_UPSTREAM:
        if (o->n_upstream == GW_OPTIONS_UPSTREAMS)
            return usage_error("--upstream: at most 16 upstreams");
        for (i = 0; i < o->n_upstream; i++) {
            if (strcmp(o->upstream[i], val) == 0) {
                snprintf(msg, sizeof msg, "--upstream %s given twice", val);
                return usage_error(msg);
            }
        }
        o->upstream[o->n_upstream++] = val;
        return -1;
    case K_LEVEL:
        if (gw_log_parse_level(val, &lvl) != 0)
            return bad_choice(r, val, "error, warn, info or debug");
        *(gw_log_level *)field_of(o, r) = lvl;
        return -1;
    case K_FORMAT:
        if (gw_log_parse_format(val, &fmt) != 0)
            return bad_choice(r, val, "text or json");
        *(gw_log_format *)field_of(o, r) = fmt;
        return -1;
    case K_IO:
        if (gw_poll_parse(val, &io) != 0)
            return bad_choice(r, val, "select or epoll");
        *(gw_poll_kind *)field_of(o, r) = io;
        return -1;
    case K_NUMBER:
    case K_SIZE:
    case K_TIME:
    default:
        if (util_parse_value(util_kind_of(r->kind), name, val, r->min,
                             r->max, r->zero_off,
                             (uint64_t *)field_of(o, r), msg,
                             sizeof msg) != 0)
            return usage_error(msg);
        return -1;
    }
}

/* Rules between options. -1 to go on, or GW_EXIT_USAGE. */
static int check_together(const gw_options *o)
{
    char msg[UTIL_MSG_MAX];

    if (o->group != NULL && o->user == NULL)
        return usage_error("--group needs --user");
    if (o->relay_option != NULL && o->n_upstream == 0) {
        snprintf(msg, sizeof msg, "--%s needs --upstream", o->relay_option);
        return usage_error(msg);
    }
    if (o->n_upstream > 0 && o->index_path != NULL)
        return usage_error("--index and --upstream exclude each other (a "
                           "relay answers nothing itself)");
    return -1;
}

int gw_options_parse(gw_options *o, int argc, char **argv)
{
    struct option longs[N_ROWS + 1];
    char shorts[3 * N_ROWS + 2];
    size_t i, k = 0;
    char bad[UTIL_MSG_MAX];
    int ch, rc;

    set_defaults(o);
    shorts[k++] = ':';
    for (i = 0; i < N_ROWS; i++) {
        longs[i].name = rows[i].name;
        longs[i].has_arg = rows[i].arg != NULL ? required_argument
                                               : no_argument;
        longs[i].flag = NULL;
        longs[i].val = 256 + (int)i;
        if (rows[i].letter != 0) {
            shorts[k++] = rows[i].letter;
            if (rows[i].arg != NULL)
                shorts[k++] = ':';
        }
    }
    shorts[k] = '\0';
    memset(&longs[N_ROWS], 0, sizeof longs[N_ROWS]);
    opterr = 0;
    while ((ch = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        const opt_row *r = NULL;
        char msg[UTIL_MSG_MAX];

        if (ch >= 256 && ch < 256 + (int)N_ROWS)
            r = &rows[ch - 256];
        for (i = 0; r == NULL && i < N_ROWS; i++) {
            if (rows[i].letter != 0 && rows[i].letter == ch)
                r = &rows[i];
        }
        if (r == NULL) {
            if (ch == ':')
                snprintf(msg, sizeof msg, "option '%s' needs a value",
                         argv[optind - 1]);
            else if (util_flag_with_value(argv[optind - 1], optopt) > 0)
                snprintf(msg, sizeof msg, "option '%.*s' takes no value",
                         (int)util_flag_with_value(argv[optind - 1],
                                                   optopt),
                         argv[optind - 1]);
            else
                snprintf(msg, sizeof msg, "unknown option '%s'",
                         argv[optind - 1]);
            return usage_error(msg);
        }
        rc = apply(o, r, optarg);
        if (rc >= 0)
            return rc;
    }
    argc -= optind;
    argv += optind;
    if (argc > 2)
        return usage_error("expected HOST PORT, HOST:PORT or no operands");
    if (argc > 0 && o->address_option)
        return usage_error("-l/-p and the HOST PORT operands exclude each "
                           "other");
    if (argc == 1) {
        if (util_split_hostport(argv[0], operand_host, sizeof operand_host,
                                &o->port, bad, sizeof bad) != 0)
            return usage_error(bad);
        o->host = operand_host;
    } else if (argc == 2) {
        o->host = argv[0];
        o->port = argv[1];
    }
    if (argc > 0) {
        rc = check_port(o->port);
        if (rc >= 0)
            return rc;
    }
    return check_together(o);
}
