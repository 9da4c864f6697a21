/*
 * gw_main.c - hframe-gateway: options, listening sockets, signals,
 * workers. Everything about connections lives in gw_loop and gw_conn.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hframe.h"
#include "gw_conn.h"
#include "gw_index.h"
#include "gw_log.h"
#include "gw_loop.h"

#define PROG "hframe-gateway"

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT "65432"

/* Defaults, in microseconds. */
#define SEC ((gw_time)1000000)
#define DEFAULT_REQUEST_TIMEOUT (10 * SEC)
#define DEFAULT_IDLE_TIMEOUT (60 * SEC)
#define DEFAULT_WRITE_TIMEOUT (30 * SEC)
#define DEFAULT_DRAIN_TIMEOUT (5 * SEC)
/* Relay mode: an upstream that neither connects, reads nor answers for
 * this long is given up for the request in hand. */
#define DEFAULT_UPSTREAM_TIMEOUT (10 * SEC)
/* Relay mode: a connect that has not finished by then counts as refused
 * and the request goes to the next upstream. */
#define DEFAULT_CONNECT_TIMEOUT (2 * SEC)

/* How long a client that got an error frame may keep sending before the
 * socket is closed: long enough for the frame to arrive, short enough
 * that a misbehaving client cannot hold the slot. Capped by
 * --drain-timeout. */
#define LINGER_TIME (1 * SEC)

/* Longest duration accepted on the command line: one day. */
#define DURATION_MAX (86400 * SEC)

/* Connection cap default: what one select() loop can hold anyway. */
#define DEFAULT_MAX_CONNS 1000

/* Relay mode's default: a client and its upstream connection are two
 * descriptors, and a few are the process's own. */
#define RELAY_MAX_CONNS ((FD_SETSIZE - 32) / 2)

/* Most workers: far above the cores of any one machine. */
#define WORKERS_MAX 256

/* Workers that die within this long of starting are restarted only
 * after it, so a crash loop does not spin. */
#define RESTART_HOLDOFF (1 * SEC)

/* How long the parent waits for workers to start listening. */
#define READY_TIMEOUT (10 * SEC)

/* Exit statuses (documented in hframe-gateway(8)). */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

typedef struct options {
    const char *host;
    const char *port;
    const char *index_path;
    const char *port_file;
    size_t max_conns;
    int max_conns_set;          /* given on the command line */
    size_t max_header;
    uint64_t max_content;
    uint64_t max_json;
    size_t max_output;
    gw_time request_timeout;
    gw_time idle_timeout;
    gw_time write_timeout;
    gw_time drain_timeout;
    gw_time upstream_timeout;
    int proxy_protocol;
    int upstream_proxy;
    unsigned workers;
    const char *upstream[GW_UPSTREAM_MAX];  /* relay mode: "host:port" */
    size_t n_upstream;
} options;

/* Signal numbers go through this pipe to the loop that handles them. */
static int sig_pipe[2] = { -1, -1 };

typedef struct app {
    options opt;
    gw_index *index;
    gw_loop *loop;
    gw_upstream upstreams[GW_UPSTREAM_MAX];
} app;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: " PROG " [-h] [--version] [-l host] [-p port] [--index file]\n"
        "       [--max-conns n] [--max-header bytes] [--max-content bytes]\n"
        "       [--max-json bytes] [--max-output bytes]\n"
        "       [--request-timeout time]\n"
        "       [--idle-timeout time] [--write-timeout time]\n"
        "       [--drain-timeout time] [--log-level level] [--workers n]\n"
        "       [--port-file file] [--upstream host:port ...]\n"
        "       [--upstream-timeout time] [--upstream-proxy-protocol]\n"
        "       [--proxy-protocol] [host port]\n"
        "\n"
        "Answers hframe search and binary requests (see hframe-gateway(8)).\n"
        "With --upstream (up to 16 times) it relays instead: each valid\n"
        "request frame goes to the upstreams in turn, the answer comes back.\n"
        "Times are seconds (\"1.5\", \"2s\") or milliseconds (\"250ms\");\n"
        "0 disables a timeout. Default: 127.0.0.1 65432.\n");
}

/* Parse a decimal unsigned number in [min, max]; nothing else allowed. */
static int parse_u64(const char *s, uint64_t min, uint64_t max,
                     uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;

    if (*p == '\0')
        return -1;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "10", "1.5", "2s", "250ms" -> microseconds, at most DURATION_MAX. */
static int parse_duration(const char *s, gw_time *out)
{
    uint64_t whole = 0, frac = 0, scale = 1000000;
    const char *p = s;
    int digits = 0, fdigits = 0;

    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (whole > (uint64_t)DURATION_MAX)
            return -1;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, fdigits++) {
            if (fdigits >= 6)
                return -1;
            frac = frac * 10 + (uint64_t)(*p - '0');
        }
        if (fdigits == 0)
            return -1;
    }
    if (digits == 0)
        return -1;
    if (strcmp(p, "ms") == 0)
        scale = 1000;
    else if (strcmp(p, "s") != 0 && *p != '\0')
        return -1;
    while (fdigits++ < 6)
        frac *= 10;
    if (whole > (uint64_t)DURATION_MAX / scale)
        return -1;
    whole = whole * scale + frac * scale / 1000000;
    if (whole > (uint64_t)DURATION_MAX)
        return -1;
    *out = (gw_time)whole;
    return 0;
}

static int bad_value(const char *opt, const char *val, const char *what)
{
    fprintf(stderr, PROG ": invalid %s '%s': %s\n", opt, val, what);
    return -1;
}

enum {
    OPT_INDEX = 256, OPT_MAX_CONNS, OPT_MAX_HEADER, OPT_MAX_CONTENT,
    OPT_MAX_OUTPUT, OPT_MAX_JSON, OPT_REQUEST_TIMEOUT, OPT_IDLE_TIMEOUT,
    OPT_WRITE_TIMEOUT, OPT_DRAIN_TIMEOUT, OPT_LOG_LEVEL, OPT_WORKERS,
    OPT_PORT_FILE, OPT_UPSTREAM, OPT_UPSTREAM_TIMEOUT, OPT_PROXY_PROTOCOL,
    OPT_UPSTREAM_PROXY, OPT_VERSION
};

static const struct option long_opts[] = {
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, OPT_VERSION },
    { "listen", required_argument, NULL, 'l' },
    { "port", required_argument, NULL, 'p' },
    { "index", required_argument, NULL, OPT_INDEX },
    { "max-conns", required_argument, NULL, OPT_MAX_CONNS },
    { "max-header", required_argument, NULL, OPT_MAX_HEADER },
    { "max-content", required_argument, NULL, OPT_MAX_CONTENT },
    { "max-output", required_argument, NULL, OPT_MAX_OUTPUT },
    { "max-json", required_argument, NULL, OPT_MAX_JSON },
    { "request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT },
    { "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
    { "write-timeout", required_argument, NULL, OPT_WRITE_TIMEOUT },
    { "drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT },
    { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
    { "workers", required_argument, NULL, OPT_WORKERS },
    { "port-file", required_argument, NULL, OPT_PORT_FILE },
    { "upstream", required_argument, NULL, OPT_UPSTREAM },
    { "upstream-timeout", required_argument, NULL, OPT_UPSTREAM_TIMEOUT },
    { "proxy-protocol", no_argument, NULL, OPT_PROXY_PROTOCOL },
    { "upstream-proxy-protocol", no_argument, NULL, OPT_UPSTREAM_PROXY },
    { NULL, 0, NULL, 0 }
};

static int parse_time_opt(const char *name, const char *val, gw_time *out)
{
    if (parse_duration(val, out) != 0)
        return bad_value(name, val, "expected seconds (\"10\", \"1.5\", "
                         "\"2s\") or milliseconds (\"250ms\"), at most "
                         "one day");
    return 0;
}

/* -1 to go on, EXIT_OK after --help or --version, EXIT_USAGE on a bad
 * command line. */
static int parse_args(int argc, char **argv, options *o)
{
    uint64_t v;
    gw_log_level lvl;
    int ch;

    o->host = DEFAULT_HOST;
    o->port = DEFAULT_PORT;
    o->index_path = NULL;
    o->port_file = NULL;
    o->max_conns = DEFAULT_MAX_CONNS;
    o->max_header = HF_HEADER_MAX;
    o->max_content = HF_CONTENT_DEFAULT;
    o->max_output = GW_OUTPUT_DEFAULT;
    o->max_json = GW_JSON_DEFAULT;
    o->request_timeout = DEFAULT_REQUEST_TIMEOUT;
    o->idle_timeout = DEFAULT_IDLE_TIMEOUT;
    o->write_timeout = DEFAULT_WRITE_TIMEOUT;
    o->drain_timeout = DEFAULT_DRAIN_TIMEOUT;
    o->upstream_timeout = DEFAULT_UPSTREAM_TIMEOUT;
    o->n_upstream = 0;
    o->workers = 1;
    while ((ch = getopt_long(argc, argv, "hl:p:", long_opts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            usage(stdout);
            /* Report a help text that could not be written. */
            if (fflush(stdout) != 0 || ferror(stdout))
                return EXIT_FAIL;
            return EXIT_OK;
        case OPT_VERSION:
            printf(PROG " %s\n", HF_VERSION);
            if (fflush(stdout) != 0 || ferror(stdout))
                return EXIT_FAIL;
            return EXIT_OK;
        case 'l':
            o->host = optarg;
            break;
        case 'p':
            if (parse_u64(optarg, 0, 65535, &v) != 0) {
                bad_value("port", optarg, "expected 0..65535");
                return EXIT_USAGE;
            }
            o->port = optarg;
            break;
        case OPT_INDEX:
            o->index_path = optarg;
            break;
        case OPT_MAX_CONNS:
            if (parse_u64(optarg, 1, 1000000, &v) != 0) {
                bad_value("--max-conns", optarg, "expected 1..1000000");
                return EXIT_USAGE;
            }
            o->max_conns = (size_t)v;
            o->max_conns_set = 1;
            break;
        case OPT_MAX_HEADER:
            if (parse_u64(optarg, HF_HEADER_MIN, HF_HEADER_MAX, &v) != 0) {
                bad_value("--max-header", optarg, "expected 2..65535");
                return EXIT_USAGE;
            }
            o->max_header = (size_t)v;
            break;
        case OPT_MAX_CONTENT:
            if (parse_u64(optarg, 0, HF_CONTENT_LIMIT_MAX, &v) != 0 ||
                v > SIZE_MAX / 2) {
                bad_value("--max-content", optarg,
                          "expected 0..9007199254740991");
                return EXIT_USAGE;
            }
            o->max_content = v;
            break;
        case OPT_MAX_JSON:
            if (parse_u64(optarg, 1, HF_CONTENT_LIMIT_MAX, &v) != 0 ||
                v > SIZE_MAX / 2) {
                bad_value("--max-json", optarg,
                          "expected 1..9007199254740991");
                return EXIT_USAGE;
            }
            o->max_json = v;
            break;
        case OPT_MAX_OUTPUT:
            if (parse_u64(optarg, 1, SIZE_MAX / 2, &v) != 0) {
                bad_value("--max-output", optarg, "expected a byte count "
                          ">= 1");
                return EXIT_USAGE;
            }
            o->max_output = (size_t)v;
            break;
        case OPT_REQUEST_TIMEOUT:
            if (parse_time_opt("--request-timeout", optarg,
                               &o->request_timeout) != 0)
                return EXIT_USAGE;
            break;
        case OPT_IDLE_TIMEOUT:
            if (parse_time_opt("--idle-timeout", optarg,
                               &o->idle_timeout) != 0)
                return EXIT_USAGE;
            break;
        case OPT_WRITE_TIMEOUT:
            if (parse_time_opt("--write-timeout", optarg,
                               &o->write_timeout) != 0)
                return EXIT_USAGE;
            break;
        case OPT_DRAIN_TIMEOUT:
            if (parse_time_opt("--drain-timeout", optarg,
                               &o->drain_timeout) != 0)
                return EXIT_USAGE;
            break;
        case OPT_LOG_LEVEL:
            if (gw_log_parse_level(optarg, &lvl) != 0) {
                bad_value("--log-level", optarg,
                          "expected error, warn, info or debug");
                return EXIT_USAGE;
            }
            gw_log_set_level(lvl);
            break;
        case OPT_WORKERS:
            if (parse_u64(optarg, 1, WORKERS_MAX, &v) != 0) {
                bad_value("--workers", optarg, "expected 1..256");
                return EXIT_USAGE;
            }
            o->workers = (unsigned)v;
            break;
        case OPT_PORT_FILE:
            o->port_file = optarg;
            break;
        case OPT_UPSTREAM:
            if (o->n_upstream == GW_UPSTREAM_MAX) {
                bad_value("--upstream", optarg, "at most 16 upstreams");
                return EXIT_USAGE;
            }
            o->upstream[o->n_upstream++] = optarg;
            break;
        case OPT_PROXY_PROTOCOL:
            o->proxy_protocol = 1;
            break;
        case OPT_UPSTREAM_PROXY:
            o->upstream_proxy = 1;
            break;
        case OPT_UPSTREAM_TIMEOUT:
            if (parse_time_opt("--upstream-timeout", optarg,
                               &o->upstream_timeout) != 0)
                return EXIT_USAGE;
            break;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    argc -= optind;
    argv += optind;
    if (argc != 0 && argc != 2) {
        fprintf(stderr, PROG ": expected HOST PORT or no operands\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (argc == 2) {
        if (parse_u64(argv[1], 0, 65535, &v) != 0) {
            bad_value("port", argv[1], "expected 0..65535");
            return EXIT_USAGE;
        }
        o->host = argv[0];
        o->port = argv[1];
    }
    if (o->upstream_proxy && o->n_upstream == 0) {
        fprintf(stderr, PROG ": --upstream-proxy-protocol needs "
                "--upstream\n");
        return EXIT_USAGE;
    }
    if (o->n_upstream > 0 && o->index_path != NULL) {
        fprintf(stderr, PROG ": --index and --upstream exclude each other "
                "(a relay answers nothing itself)\n");
        return EXIT_USAGE;
    }
    return -1;
}

/* "host:port", "[v6]:port" -> one address (the first the resolver
 * gives). -1 with a message on stderr when it is malformed or does not
 * resolve. */
static int resolve_upstream(const char *spec, gw_upstream *u)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    const char *h = spec;
    size_t hlen;
    uint64_t port;
    struct addrinfo hints, *res, *ai;
    int rc;

    if (colon == NULL || parse_u64(colon + 1, 1, 65535, &port) != 0)
        return bad_value("--upstream", spec, "expected host:port with a "
                         "port 1..65535");
    hlen = (size_t)(colon - spec);
    if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
        h = spec + 1;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof host)
        return bad_value("--upstream", spec, "expected host:port");
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0)
        return bad_value("--upstream", spec, gai_strerror(rc));
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
            ai->ai_addrlen <= sizeof u->addr)
            break;
    }
    if (ai == NULL) {
        freeaddrinfo(res);
        return bad_value("--upstream", spec, "no IPv4 or IPv6 address");
    }
    memset(u, 0, sizeof *u);
    memcpy(&u->addr, ai->ai_addr, ai->ai_addrlen);
    u->addr_len = (socklen_t)ai->ai_addrlen;
    snprintf(u->name, sizeof u->name, "%s", spec);
    freeaddrinfo(res);
    return 0;
}

/* ------------------------------------------------------- sockets */

typedef struct listeners {
    int fd[GW_LISTEN_MAX];
    size_t n;
    unsigned port;          /* the port actually bound */
} listeners;

static void close_listeners(listeners *ls)
{
    size_t i;

    for (i = 0; i < ls->n; i++)
        close(ls->fd[i]);
    ls->n = 0;
}

static unsigned bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int open_one(const struct addrinfo *ai, int reuseport, int do_listen)
{
    int fd, one = 1, fl;

    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0)
        return -1;
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        goto fail;
    if (reuseport &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        goto fail;
    /* IPv4 and IPv6 get separate sockets, so both can bind the port. */
    if (ai->ai_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
        goto fail;
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        goto fail;
    if (do_listen && listen(fd, SOMAXCONN) != 0)
        goto fail;
    if (fd >= FD_SETSIZE) {
        errno = EMFILE;
        goto fail;
    }
    return fd;
fail:
    fl = errno;
    close(fd);
    errno = fl;
    return -1;
}

/* Bind every address host/port resolves to. With port "0" the first
 * socket picks the port and the others use the same one. */
static int open_listeners(const char *host, const char *port, int reuseport,
                          int do_listen, listeners *ls)
{
    struct addrinfo hints, *res, *ai;
    int rc, fd;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    ls->n = 0;
    ls->port = 0;
    rc = getaddrinfo(host[0] == '\0' ? NULL : host, port, &hints, &res);
    if (rc != 0) {
        gw_log(GW_LOG_ERROR, "cannot resolve '%s' port %s: %s", host, port,
               gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL && ls->n < GW_LISTEN_MAX; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        if (ls->port != 0) {
            /* Same port for every family once the first one chose it. */
            if (ai->ai_family == AF_INET6)
                ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port =
                    htons((uint16_t)ls->port);
            else
                ((struct sockaddr_in *)ai->ai_addr)->sin_port =
                    htons((uint16_t)ls->port);
        }
        fd = open_one(ai, reuseport, do_listen);
        if (fd < 0) {
            gw_log(GW_LOG_ERROR, "cannot listen on '%s' port %s: %s", host,
                   port, strerror(errno));
            freeaddrinfo(res);
            close_listeners(ls);
            return -1;
        }
        ls->fd[ls->n++] = fd;
        if (ls->port == 0)
            ls->port = bound_port(fd);
    }
    freeaddrinfo(res);
    if (ls->n == 0) {
        gw_log(GW_LOG_ERROR, "no address to listen on for '%s'", host);
        return -1;
    }
    return 0;
}

/* Write "PORT\n" atomically (temporary file, then rename). */
static int write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    FILE *f;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%u\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        gw_log(GW_LOG_ERROR, "cannot write port file %s: %s", path,
               strerror(errno));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------- signals */

static void on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    int saved = errno;

    /* A full pipe already holds a wake-up; dropping this byte is fine. */
    if (write(sig_pipe[1], &b, 1) < 0) {
        errno = saved;
        return;
    }
    errno = saved;
}

static int setup_signals(int with_chld)
{
    static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
    struct sigaction sa;
    size_t i;
    int k;

    if (pipe(sig_pipe) != 0)
        return -1;
    for (k = 0; k < 2; k++) {
        int fl = fcntl(sig_pipe[k], F_GETFL);

        if (fl < 0 || fcntl(sig_pipe[k], F_SETFL, fl | O_NONBLOCK) < 0 ||
            fcntl(sig_pipe[k], F_SETFD, FD_CLOEXEC) < 0)
            return -1;
    }
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    if (with_chld) {
        sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
        sigaction(SIGCHLD, &sa, NULL);
    }
    return 0;
}

static void reset_signals(void)
{
    static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD };
    struct sigaction sa;
    size_t i;

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_DFL;
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    sig_pipe[0] = -1;
    sig_pipe[1] = -1;
}

/* ------------------------------------------------------- index */

static gw_index *load_index(const char *path)
{
    gw_index_error err;
    gw_index *idx = NULL;

    if (path == NULL) {
        idx = gw_index_builtin();
        if (idx == NULL)
            gw_log(GW_LOG_ERROR, "built-in index: out of memory");
        return idx;
    }
    if (gw_index_load_file(path, &idx, &err) != GW_INDEX_OK) {
        gw_log(GW_LOG_ERROR, "index %s: %s at offset %zu: %s", path,
               gw_index_strerror(err.code), err.offset, err.detail);
        return NULL;
    }
    return idx;
}

static void reload_index(app *a)
{
    gw_index *idx;

    if (a->opt.index_path == NULL) {
        gw_log(GW_LOG_INFO, "SIGHUP: no --index file, keeping the "
               "built-in index");
        return;
    }
    idx = load_index(a->opt.index_path);
    if (idx == NULL) {
        gw_log(GW_LOG_WARN, "SIGHUP: keeping the previous index "
               "(%zu entries)", gw_index_count(a->index));
        return;
    }
    gw_loop_set_index(a->loop, idx);
    gw_index_free(a->index);
    a->index = idx;
    gw_log(GW_LOG_NOTICE, "index %s reloaded: %zu entries",
           a->opt.index_path, gw_index_count(idx));
}

/* The supervisor's copy of the index, which restarted workers inherit. */
static void reload_parent(app *a)
{
    gw_index *idx;

    if (a->opt.index_path == NULL)
        return;
    idx = load_index(a->opt.index_path);
    if (idx == NULL)
        return;
    gw_index_free(a->index);
    a->index = idx;
}

/* ------------------------------------------------------- one worker */

static void worker_wake(void *ctx)
{
    app *a = ctx;
    unsigned char sig[64];
    ssize_t n, i;

    while ((n = read(sig_pipe[0], sig, sizeof sig)) > 0) {
        for (i = 0; i < n; i++) {
            switch (sig[i]) {
            case SIGTERM:
            case SIGINT:
                gw_loop_stop(a->loop);
                break;
            case SIGHUP:
                reload_index(a);
                break;
            case SIGUSR1:
                gw_loop_log_stats(a->loop);
                break;
            default:
                break;
            }
        }
    }
}

/* Serve on ls until told to stop. Returns an exit status. */
static int serve(app *a, listeners *ls)
{
    gw_loop_config lc;
    size_t i;
    int rc;

    memset(&lc, 0, sizeof lc);
    for (i = 0; i < ls->n; i++)
        lc.listen_fds[i] = ls->fd[i];
    lc.n_listen = ls->n;
    ls->n = 0;                      /* the loop closes them on stop */
    lc.max_conns = a->opt.max_conns;
    lc.stop_timeout = a->opt.drain_timeout;
    hf_limits_default(&lc.conn.limits);
    lc.conn.limits.max_header = a->opt.max_header;
    lc.conn.limits.max_content = a->opt.max_content;
    lc.conn.max_output = a->opt.max_output;
    lc.conn.max_json = a->opt.max_json;
    lc.conn.request_timeout = a->opt.request_timeout;
    lc.conn.idle_timeout = a->opt.idle_timeout;
    lc.conn.write_timeout = a->opt.write_timeout;
    lc.conn.drain_timeout = a->opt.drain_timeout < LINGER_TIME
                                ? a->opt.drain_timeout : LINGER_TIME;
    lc.conn.index = a->index;
    lc.conn.proxy_protocol = a->opt.proxy_protocol;
    if (a->opt.n_upstream > 0) {
        lc.conn.relay.on = 1;
        /* Each upstream once, and one more for a request sent on a kept
         * connection the upstream had just closed. */
        lc.conn.relay.attempts = (unsigned)a->opt.n_upstream + 1;
        lc.conn.relay.upstream_timeout = a->opt.upstream_timeout;
        lc.conn.relay.connect_timeout = DEFAULT_CONNECT_TIMEOUT;
        lc.conn.relay.upstream_proxy = a->opt.upstream_proxy;
        memcpy(lc.upstreams, a->upstreams, sizeof lc.upstreams);
        lc.n_upstreams = a->opt.n_upstream;
    }
    lc.wake_fd = sig_pipe[0];
    lc.on_wake = worker_wake;
    lc.wake_ctx = a;
    a->loop = gw_loop_new(&lc);
    if (a->loop == NULL) {
        gw_log(GW_LOG_ERROR, "out of memory");
        return EXIT_FAIL;
    }
    rc = gw_loop_run(a->loop);
    gw_loop_log_stats(a->loop);
    gw_loop_free(a->loop);
    a->loop = NULL;
    return rc == 0 ? EXIT_OK : EXIT_FAIL;
}

/* ------------------------------------------------------- supervisor */

typedef struct worker {
    pid_t pid;
    gw_time started;
    gw_time restart_at;     /* GW_TIME_NEVER unless waiting to restart */
} worker;

/* Fork one worker. ready_fd (or -1) gets a byte once it listens;
 * other_fd (or -1) is a parent-only descriptor the worker closes. */
static pid_t spawn(app *a, listeners *hold, unsigned port, int ready_fd,
                   int other_fd)
{
    char portstr[8];
    listeners ls;
    pid_t pid;
    int rc;

    pid = fork();
    if (pid != 0)
        return pid;
    reset_signals();
    close_listeners(hold);
    if (other_fd >= 0)
        close(other_fd);
    if (setup_signals(0) != 0) {
        gw_log(GW_LOG_ERROR, "worker: signals: %s", strerror(errno));
        _exit(EXIT_FAIL);
    }
    snprintf(portstr, sizeof portstr, "%u", port);
    if (open_listeners(a->opt.host, portstr, 1, 1, &ls) != 0)
        _exit(EXIT_FAIL);
    gw_log(GW_LOG_INFO, "worker listening on port %u", port);
    if (ready_fd >= 0) {
        if (write(ready_fd, "r", 1) < 0)
            gw_log(GW_LOG_WARN, "worker: ready pipe: %s", strerror(errno));
        close(ready_fd);
    }
    rc = serve(a, &ls);
    gw_index_free(a->index);
    _exit(rc);
}

static void forward(worker *w, unsigned n, int sig)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        if (w[i].pid > 0)
            kill(w[i].pid, sig);
    }
}

static unsigned alive(const worker *w, unsigned n)
{
    unsigned i, k = 0;

    for (i = 0; i < n; i++)
        k += w[i].pid > 0;
    return k;
}

/* Wait for n "ready" bytes from the workers, bounded. */
static int wait_ready(int fd, unsigned n)
{
    gw_time until = gw_now() + READY_TIMEOUT;
    unsigned got = 0;
    char buf[64];

    while (got < n) {
        gw_time now = gw_now();
        struct timeval tv;
        fd_set rs;
        ssize_t k;

        if (now >= until)
            return -1;
        tv.tv_sec = (time_t)((until - now) / SEC);
        tv.tv_usec = (suseconds_t)((until - now) % SEC);
        FD_ZERO(&rs);
        FD_SET(fd, &rs);
        if (select(fd + 1, &rs, NULL, NULL, &tv) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        k = read(fd, buf, sizeof buf);
        if (k == 0)
            return -1;
        if (k > 0)
            got += (unsigned)k;
    }
    return 0;
}

static void reap_workers(worker *w, unsigned n, int stopping, gw_time now)
{
    pid_t pid;
    int status;
    unsigned i;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (i = 0; i < n; i++) {
            if (w[i].pid != pid)
                continue;
            w[i].pid = 0;
            if (WIFSIGNALED(status))
                gw_log(stopping ? GW_LOG_INFO : GW_LOG_WARN,
                       "worker %ld killed by signal %d", (long)pid,
                       WTERMSIG(status));
            else
                gw_log(stopping ? GW_LOG_INFO : GW_LOG_WARN,
                       "worker %ld exited with status %d", (long)pid,
                       WEXITSTATUS(status));
            if (!stopping)
                w[i].restart_at = now - w[i].started < RESTART_HOLDOFF
                                      ? w[i].started + RESTART_HOLDOFF
                                      : now;
        }
    }
}

static int supervise(app *a)
{
    worker w[WORKERS_MAX];
    listeners hold;
    unsigned i, n = a->opt.workers;
    int ready[2], stopping = 0;
    gw_time stop_deadline = GW_TIME_NEVER;

    /* Hold the port (bound, not listening, so it takes no clients): it
     * resolves port 0 once for every worker and keeps it ours while a
     * worker restarts. */
    if (open_listeners(a->opt.host, a->opt.port, 1, 0, &hold) != 0)
        return EXIT_FAIL;
    if (pipe(ready) != 0) {
        gw_log(GW_LOG_ERROR, "pipe: %s", strerror(errno));
        return EXIT_FAIL;
    }
    for (i = 0; i < n; i++) {
        w[i].pid = spawn(a, &hold, hold.port, ready[1], ready[0]);
        w[i].started = gw_now();
        w[i].restart_at = GW_TIME_NEVER;
        if (w[i].pid < 0)
            gw_log(GW_LOG_ERROR, "fork: %s", strerror(errno));
    }
    close(ready[1]);
    if (wait_ready(ready[0], n) != 0) {
        gw_log(GW_LOG_ERROR, "workers did not start");
        forward(w, n, SIGKILL);
        close(ready[0]);
        return EXIT_FAIL;
    }
    close(ready[0]);
    gw_log(GW_LOG_NOTICE, "listening on '%s' port %u with %u workers",
           a->opt.host, hold.port, n);
    if (a->opt.port_file != NULL &&
        write_port_file(a->opt.port_file, hold.port) != 0) {
        stopping = 1;
        forward(w, n, SIGTERM);
        stop_deadline = gw_now() + a->opt.drain_timeout + 5 * SEC;
    }
    for (;;) {
        gw_time now = gw_now(), next = stop_deadline;
        struct timeval tv, *tvp = NULL;
        unsigned char sig[64];
        fd_set rs;
        ssize_t k, j;

        reap_workers(w, n, stopping, now);
        if (stopping && alive(w, n) == 0)
            break;
        if (stopping && now >= stop_deadline) {
            gw_log(GW_LOG_WARN, "workers still running: killing them");
            forward(w, n, SIGKILL);
            stop_deadline = now + 5 * SEC;
            next = stop_deadline;
        }
        for (i = 0; i < n && !stopping; i++) {
            if (w[i].pid != 0 || w[i].restart_at == GW_TIME_NEVER)
                continue;
            if (now >= w[i].restart_at) {
                w[i].pid = spawn(a, &hold, hold.port, -1, -1);
                w[i].started = now;
                w[i].restart_at = GW_TIME_NEVER;
                if (w[i].pid < 0) {
                    w[i].pid = 0;
                    w[i].restart_at = now + RESTART_HOLDOFF;
                } else {
                    gw_log(GW_LOG_NOTICE, "worker %ld started",
                           (long)w[i].pid);
                }
            }
            if (w[i].restart_at < next)
                next = w[i].restart_at;
        }
        if (next != GW_TIME_NEVER) {
            gw_time wait = next > now ? next - now : 0;

            tv.tv_sec = (time_t)(wait / SEC);
            tv.tv_usec = (suseconds_t)(wait % SEC);
            tvp = &tv;
        }
        FD_ZERO(&rs);
        FD_SET(sig_pipe[0], &rs);
        if (select(sig_pipe[0] + 1, &rs, NULL, NULL, tvp) < 0 &&
            errno != EINTR) {
            gw_log(GW_LOG_ERROR, "select: %s", strerror(errno));
            break;
        }
        while ((k = read(sig_pipe[0], sig, sizeof sig)) > 0) {
            for (j = 0; j < k; j++) {
                switch (sig[j]) {
                case SIGTERM:
                case SIGINT:
                    if (!stopping) {
                        stopping = 1;
                        stop_deadline = gw_now() + a->opt.drain_timeout +
                                        5 * SEC;
                        gw_log(GW_LOG_NOTICE, "stopping %u workers",
                               alive(w, n));
                    }
                    forward(w, n, SIGTERM);
                    break;
                case SIGHUP:
                    /* Workers started later inherit the parent's index. */
                    reload_parent(a);
                    forward(w, n, sig[j]);
                    break;
                case SIGUSR1:
                    forward(w, n, sig[j]);
                    break;
                default:
                    break;
                }
            }
        }
    }
    close_listeners(&hold);
    gw_log(GW_LOG_NOTICE, "stopped");
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    app a;
    listeners ls;
    size_t i;
    int rc;

    memset(&a, 0, sizeof a);
    rc = parse_args(argc, argv, &a.opt);
    if (rc >= 0)
        return rc;
    if (a.opt.n_upstream > 0 && a.opt.max_conns > RELAY_MAX_CONNS) {
        if (!a.opt.max_conns_set)
            a.opt.max_conns = RELAY_MAX_CONNS;
        else
            gw_log(GW_LOG_WARN, "relay mode: each client also holds an "
                   "upstream descriptor; above %d clients per worker "
                   "select() runs out (FD_SETSIZE %d), use --workers",
                   RELAY_MAX_CONNS, FD_SETSIZE);
    }
    for (i = 0; i < a.opt.n_upstream; i++) {
        if (resolve_upstream(a.opt.upstream[i], &a.upstreams[i]) != 0)
            return EXIT_USAGE;
    }
    a.index = load_index(a.opt.index_path);
    if (a.index == NULL)
        return EXIT_FAIL;
    if (setup_signals(a.opt.workers > 1) != 0) {
        gw_log(GW_LOG_ERROR, "signals: %s", strerror(errno));
        gw_index_free(a.index);
        return EXIT_FAIL;
    }
    if (a.opt.workers > 1) {
        rc = supervise(&a);
        gw_index_free(a.index);
        return rc;
    }
    if (open_listeners(a.opt.host, a.opt.port, 0, 1, &ls) != 0) {
        gw_index_free(a.index);
        return EXIT_FAIL;
    }
    gw_log(GW_LOG_NOTICE, "listening on '%s' port %u (%zu socket%s)%s",
           a.opt.host, ls.port, ls.n, ls.n == 1 ? "" : "s",
           a.opt.n_upstream > 0 ? ", relaying" : "");
    if (a.opt.port_file != NULL &&
        write_port_file(a.opt.port_file, ls.port) != 0) {
        close_listeners(&ls);
        gw_index_free(a.index);
        return EXIT_FAIL;
    }
    rc = serve(&a, &ls);
    gw_index_free(a.index);
    gw_log(GW_LOG_NOTICE, "stopped");
    return rc;
}
