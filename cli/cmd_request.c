/* cmd_request.c - `hframe request HOST PORT ACTION VALUE`: send the
 * request the reference client sends, read the first complete response
 * frame (the server may close or keep the connection), and print it.
 * Each way it can fail has its own exit status (cli.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>

#include "cli.h"

const char cli_request_usage[] =
    "usage: hframe request [-fv] [--binary] [--frame] [--proxy-protocol "
    "v1|v2]\n"
    "                      [--timeout time] [-o file] [--max-content size]\n"
    "                      [--max-header size] host port action value\n"
    "       hframe request --raw [-fv] [--proxy-protocol v1|v2] "
    "[--timeout time]\n"
    "                      [-o file] [--max-content size] "
    "[--max-header size]\n"
    "                      host port\n";

static const char request_help[] =
    "Send one request to the server at HOST PORT (or HOST:PORT; HOST a name,\n"
    "an address or [v6addr]; PORT a number or a service name) and print\n"
    "the answer: a text/json response's \"result\", other contents as "
    "they are.\n"
    "ACTION search sends {\"action\": \"search\", \"value\": VALUE} as "
    "text/json;\n"
    "binary sends ACTION and VALUE as a binary request.\n"
    "\n"
    "  -v, --verbose          trace the connection and frames on stderr\n"
    "      --binary           send any ACTION as a binary request\n"
    "      --frame            write the raw response frame\n"
    "      --raw              send the frames read from standard input as "
    "they\n"
    "                         are, write the answers' frames (as many as "
    "sent)\n"
    "      --proxy-protocol v1|v2\n"
    "                         send a PROXY protocol header first, naming "
    "this\n"
    "                         connection's ends (1 and 2 are accepted "
    "for v1\n"
    "                         and v2)\n"
    "      --timeout TIME     to look up and connect, then for the exchange\n"
    "                         (default 10s; 0 waits for ever); TIME is "
    "seconds,\n"
    "                         or with s or ms\n"
    "  -f, --force            write frames even to a terminal\n";

/* Default for connecting and for the response: long enough for a busy
 * server, short enough that a dead one does not look like a hang. */
#define REQUEST_TIMEOUT_US (10 * UTIL_SEC)
#define REQUEST_TIMEOUT_MAX_US (86400 * UTIL_SEC)

/* Nesting accepted in a text/json response: answers are flat objects,
 * so this only bounds the work on a hostile one. */
#define RESPONSE_DEPTH_MAX 64

enum {
    OPT_FRAME = CLI_OPT_FIRST_FREE,
    OPT_TIMEOUT,
    OPT_BINARY,
    OPT_RAW,
    OPT_PROXY
};

typedef struct req {
    cli_common co;
    hf_limits lim;
    int verbose;
    int frame;
    int binary;
    int force;
    int raw_mode;               /* --raw */
    int proxy;                  /* PROXY header version, 0 for none */
    uint64_t timeout_us;        /* 0: none */
    char hostbuf[UTIL_HOST_MAX];
    const char *host;
    const char *port;
    const char *action;
    const char *value;
    int fd;
    cli_buf out;          /* the request frame */
    cli_buf content;      /* the response's content */
    cli_buf raw;          /* --frame: the response frame's bytes */
    hf_decoder dec;
    hf_header sent;       /* the request's header, for -v */
    hf_header resp;       /* copy of the response header */
    int done;
    unsigned char head[16];   /* the response's first bytes */
    size_t head_len;
} req;

/* ---------------------------------------------------------------- */
/* Time                                                              */
/* ---------------------------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline, for poll(): 0 when it has passed,
 * -1 (wait for ever) when there is none. */
static int left_ms(long long deadline)
{
    long long left;

    if (deadline < 0)
        return -1;
    left = deadline - now_ms();
    if (left <= 0)
        return 0;
    return left > 1000000 ? 1000000 : (int)left;
}

/* The deadline timeout_us from now, or -1 for none. */
static long long deadline_after(const req *r)
{
    if (r->timeout_us == 0)
        return -1;
    return now_ms() + (long long)((r->timeout_us + 999) / 1000);
}

/* ---------------------------------------------------------------- */
/* The request frame                                                 */
/* ---------------------------------------------------------------- */

static int trace_frame(const char *dir, const hf_header *h)
{
    cli_buf b;

    cli_buf_init(&b, SIZE_MAX / 2);
    if (cli_json_header(&b, h) != 0 || cli_buf_append(&b, "", 1) != 0) {
        cli_buf_free(&b);
        return -1;
    }
    cli_err("%s frame: %s + %llu content bytes", dir, (char *)b.p,
            (unsigned long long)h->content_length);
    cli_buf_free(&b);
    return 0;
}

/* Content of the search request: {"action": "search", "value": V}. */
static int search_content(req *r, cli_buf *c)
{
    hf_str keys[2] = { { "action", 6 }, { "value", 5 } };
    hf_str vals[2];
    size_t need, written;

    vals[0].ptr = r->action;
    vals[0].len = strlen(r->action);
    vals[1].ptr = r->value;
    vals[1].len = strlen(r->value);
    need = hf_json_object_len(keys, vals, 2);
    if (need == 0 || cli_buf_reserve(c, need) != 0)
        return -1;
    if (hf_json_write_object(c->p, c->cap, keys, vals, 2, &written) != HF_OK)
        return -1;
    c->len = written;
    return 0;
}

/* Build the frame the reference client sends into r->out. */
/* The request frame into r->out: CLI_EXIT_OK, CLI_EXIT_USAGE for
 * operands that cannot make one, CLI_EXIT_INVALID above a limit (as
 * the exit table has it), CLI_EXIT_FAIL when memory ran out. */
static int build_request(req *r)
{
    cli_buf c;
    hf_header h;
    size_t need = 0;
    hf_status st;
    int rc = CLI_EXIT_USAGE;

    cli_buf_init(&c, SIZE_MAX / 2);
    if (!r->binary && strcmp(r->action, "search") == 0) {
        hf_header_init(&h, "text/json", "utf-8");
        if (search_content(r, &c) != 0) {
            cli_err("request: action and value must be valid UTF-8");
            goto out;
        }
    } else {
        hf_header_init(&h, "binary/custom-client-binary-type", "binary");
        if (cli_buf_append(&c, r->action, strlen(r->action)) != 0 ||
            cli_buf_append(&c, r->value, strlen(r->value)) != 0) {
            cli_err("out of memory");
            rc = CLI_EXIT_FAIL;
            goto out;
        }
    }
    if (c.len > r->co.lim.max_content) {
        cli_err("request: content-too-long: the request's content is %zu "
                "bytes, above the content limit of %llu bytes (raise it "
                "with --max-content)", c.len,
                (unsigned long long)r->co.lim.max_content);
        rc = CLI_EXIT_INVALID;
        goto out;
    }
    h.content_length = c.len;
    need = hf_header_json_len(&h);
    if (need > r->co.lim.max_header) {
        cli_err("request: header-too-long: the request's header is %zu "
                "bytes, above the header limit of %zu bytes (raise it "
                "with --max-header)", need, r->co.lim.max_header);
        rc = CLI_EXIT_INVALID;
        goto out;
    }
    if (need == 0 || cli_buf_reserve(&r->out, HF_PREFIX_LEN + need +
                                                  c.len) != 0) {
        cli_err("request: cannot encode the request frame");
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    st = hf_encode(&h, c.p, c.len, r->out.p, r->out.cap, &r->out.len);
    if (st != HF_OK) {
        cli_err("request: cannot encode the request frame: %s",
                hf_strerror(st));
        goto out;
    }
    r->sent = h;    /* its strings are literals: safe to keep */
    rc = CLI_EXIT_OK;
out:
    cli_buf_free(&c);
    return rc;
}

/* ---------------------------------------------------------------- */
/* Connecting                                                        */
/* ---------------------------------------------------------------- */

/* Wait for a non-blocking connect; 0, or -1 with errno set. */
static int connect_wait(int fd, long long deadline)
{
    struct pollfd p = { fd, POLLOUT, 0 };
    socklen_t len = sizeof(int);
    int rc, err = 0;

    do {
        rc = poll(&p, 1, left_ms(deadline));
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (rc < 0)
        return -1;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return -1;
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}

static int connect_one(const struct addrinfo *ai, long long deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
                    SOCK_CLOEXEC, ai->ai_protocol);
    int err;

    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno == EINPROGRESS && connect_wait(fd, deadline) == 0)
        return fd;
    err = errno;
    close(fd);
    errno = err;
    return -1;
}

/* 0, or the exit status after an error line. */
static int connect_host(req *r)
{
    struct addrinfo *res = NULL, *ai;
    long long deadline = deadline_after(r);
    char secs[32], msg[UTIL_MSG_MAX];
    int err = 0;

    /* The name lookup is part of the time allowed to connect. */
    switch (util_resolve_within(r->host, r->port, r->timeout_us, &res, msg,
                                sizeof(msg))) {
    case 0:
        break;
    case UTIL_RESOLVE_TIMEOUT:
        cli_err("%s", msg);
        return CLI_EXIT_TIMEOUT;
    default:
        cli_err("%s", msg);
        return CLI_EXIT_RESOLVE;
    }
    for (ai = res; ai != NULL && left_ms(deadline) != 0; ai = ai->ai_next) {
        r->fd = connect_one(ai, deadline);
        if (r->fd >= 0)
            break;
        err = errno;
    }
    freeaddrinfo(res);
    if (r->fd >= 0) {
        if (r->verbose)
            cli_err("connected to %s port %s", r->host, r->port);
        return 0;
    }
    util_format(UTIL_DURATION, r->timeout_us, secs, sizeof(secs));
    if (err == ETIMEDOUT || err == 0) {
        cli_err("connect to %s port %s: timed out after %s", r->host,
                r->port, secs);
        return CLI_EXIT_TIMEOUT;
    }
    cli_err("connect to %s port %s: %s", r->host, r->port, strerror(err));
    return CLI_EXIT_CONNECT;
}

/* ---------------------------------------------------------------- */
/* Exchange                                                          */
/* ---------------------------------------------------------------- */

/* After a failed exchange: when the peer sent something, say what it
 * looks like if not hframe. */
static void hint_peer(const req *r)
{
    char start[CLI_SNIFF_MAX];

    switch (cli_sniff(r->head, r->head_len, start, sizeof(start))) {
    case CLI_SNIFF_TEXT:
        cli_err("the peer does not speak hframe (it starts with %s)",
                start);
        break;
    case CLI_SNIFF_TLS:
        cli_err("the peer does not speak hframe (it starts a TLS "
                "handshake)");
        break;
    default:
        break;
    }
}

static int timed_out(req *r, const char *what)
{
    char secs[32];

    util_format(UTIL_DURATION, r->timeout_us, secs, sizeof(secs));
    cli_err("%s %s port %s: timed out after %s (%llu response bytes "
            "received)", what, r->host, r->port, secs,
            (unsigned long long)hf_decoder_offset(&r->dec));
    hint_peer(r);
    return CLI_EXIT_TIMEOUT;
}

/* Wait for fd to be ready for events; 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
    struct pollfd p = { fd, events, 0 };
    int rc;

    do {
        rc = poll(&p, 1, left_ms(deadline));
    } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -1 : rc > 0;
}

/* Send p[0..len) whole. 0, or the exit status after an error line. */
static int send_all(req *r, const unsigned char *p, size_t len,
                    long long deadline)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(r->fd, p + off, len - off, MSG_NOSIGNAL);
        int w;

        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
            errno != EINTR) {
            cli_err("send to %s port %s: %s", r->host, r->port,
                    strerror(errno));
            return CLI_EXIT_CONNECT;
        }
        w = wait_fd(r->fd, POLLOUT, deadline);
        if (w == 0)
            return timed_out(r, "send to");
        if (w < 0) {
            cli_err("poll: %s", strerror(errno));
            return CLI_EXIT_FAIL;
        }
    }
    return 0;
}

/* Push received bytes; stops at the first complete frame. 0, or the
 * exit status after an error line. */
static int push_response(req *r, const unsigned char *p, size_t n)
{
    size_t off = 0, used;
    hf_event ev;

    for (; r->head_len < sizeof(r->head) && off < n; off++)
        r->head[r->head_len++] = p[off];
    off = 0;
    while (!r->done) {
        used = hf_decoder_push(&r->dec, p + off, n - off, &ev);
        if (r->frame && cli_buf_append(&r->raw, p + off, used) != 0)
            goto nomem;
        off += used;
        switch (ev.type) {
        case HF_EV_NEED_MORE:
            return 0;
        case HF_EV_HEADER:
            r->resp = *hf_decoder_header(&r->dec);
            if (r->verbose)
                trace_frame("received", &r->resp);
            break;
        case HF_EV_CONTENT:
            if (cli_buf_append(&r->content, ev.data, ev.len) != 0)
                goto nomem;
            break;
        case HF_EV_FRAME_END:
            r->done = 1;
            break;
        default:
            cli_err_decoder(hf_decoder_error(&r->dec));
            hint_peer(r);
            return CLI_EXIT_PEER;
        }
    }
    return 0;
nomem:
    cli_err("out of memory");
    return CLI_EXIT_FAIL;
}

/* 0, or the exit status after an error line. */
static int read_response(req *r, long long deadline, unsigned char *chunk)
{
    int rc;

    while (!r->done) {
        ssize_t n = recv(r->fd, chunk, CLI_CHUNK, 0);
        int w;

        if (n > 0) {
            rc = push_response(r, chunk, (size_t)n);
            if (rc != 0)
                return rc;
            continue;
        }
        if (n == 0 || errno == ECONNRESET) {
            cli_err("%s port %s %s the connection after %llu bytes, "
                    "before a complete response", r->host, r->port,
                    n == 0 ? "closed" : "reset",
                    (unsigned long long)hf_decoder_offset(&r->dec));
            hint_peer(r);
            return CLI_EXIT_PEER;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            cli_err("receive from %s port %s: %s", r->host, r->port,
                    strerror(errno));
            return CLI_EXIT_CONNECT;
        }
        w = wait_fd(r->fd, POLLIN, deadline);
        if (w == 0)
            return timed_out(r, "response from");
        if (w < 0) {
            cli_err("poll: %s", strerror(errno));
            return CLI_EXIT_FAIL;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- */
/* Printing the response                                             */
/* ---------------------------------------------------------------- */

enum { K_OTHER = 0, K_RESULT, K_ERROR, K_MESSAGE };

typedef struct resp_json {
    int depth;
    int key;             /* K_* of the member whose value comes next */
    cli_buf result;
    cli_buf error;
    cli_buf message;
    int has_result;
} resp_json;

static int rj_value(resp_json *j)
{
    if (j->depth == 1)
        j->key = K_OTHER;
    return 1;
}

static int rj_null(void *ctx)
{
    return rj_value(ctx);
}

static int rj_bool(void *ctx, int v)
{
    (void)v;
    return rj_value(ctx);
}

static int rj_number(void *ctx, const char *s, size_t n)
{
    (void)s;
    (void)n;
    return rj_value(ctx);
}

static int rj_string(void *ctx, const unsigned char *s, size_t n)
{
    resp_json *j = ctx;
    cli_buf *b = NULL;

    if (j->depth == 1 && j->key == K_RESULT) {
        b = &j->result;
        j->has_result = 1;
    } else if (j->depth == 1 && j->key == K_ERROR) {
        b = &j->error;
    } else if (j->depth == 1 && j->key == K_MESSAGE) {
        b = &j->message;
    }
    if (b != NULL) {
        b->len = 0;
        if (cli_buf_append(b, s, n) != 0)
            return 0;
    }
    return rj_value(j);
}

static int rj_key(void *ctx, const unsigned char *s, size_t n)
{
    resp_json *j = ctx;

    if (j->depth != 1)
        return 1;
    j->key = K_OTHER;
    if (n == 6 && memcmp(s, "result", 6) == 0)
        j->key = K_RESULT;
    else if (n == 5 && memcmp(s, "error", 5) == 0)
        j->key = K_ERROR;
    else if (n == 7 && memcmp(s, "message", 7) == 0)
        j->key = K_MESSAGE;
    return 1;
}

static int rj_open(void *ctx)
{
    resp_json *j = ctx;

    rj_value(j);
    return ++j->depth <= RESPONSE_DEPTH_MAX;
}

static int rj_close(void *ctx)
{
    ((resp_json *)ctx)->depth--;
    return 1;
}

static const yajl_callbacks rj_callbacks = {
    rj_null, rj_bool, NULL, NULL, rj_number, rj_string, rj_open, rj_key,
    rj_close, rj_open, rj_close
};

static int print_json_result(req *r)
{
    resp_json j;
    yajl_handle y;
    yajl_status st;
    int rc = CLI_EXIT_PEER;

    if (r->resp.content_encoding.len != 5 ||
        strncasecmp(r->resp.content_encoding.ptr, "utf-8", 5) != 0) {
        cli_err("response: text/json in unsupported content-encoding %s",
                cli_show(r->resp.content_encoding.ptr,
                         r->resp.content_encoding.len));
        return CLI_EXIT_PEER;
    }
    memset(&j, 0, sizeof(j));
    cli_buf_init(&j.result, SIZE_MAX / 2);
    cli_buf_init(&j.error, 4096);
    cli_buf_init(&j.message, 4096);
    y = yajl_alloc(&rj_callbacks, NULL, &j);
    if (y == NULL) {
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
    st = yajl_parse(y, r->content.p, r->content.len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(y);
    if (st != yajl_status_ok) {
        cli_err("response: text/json content is not valid JSON");
    } else if (j.has_result &&
               hf_utf8_check(j.result.p, j.result.len) == j.result.len) {
        rc = CLI_EXIT_OK;
        if (cli_out_write(j.result.p, j.result.len) != 0 ||
            cli_out_write("\n", 1) != 0)
            rc = cli_out_exit();
    } else if (j.error.len > 0) {
        cli_err("server error: %s: %s", cli_show(j.error.p, j.error.len),
                cli_show(j.message.p, j.message.len));
        rc = CLI_EXIT_SERVER;
    } else {
        cli_err("response: text/json content has no \"result\" string");
    }
    yajl_free(y);
    cli_buf_free(&j.result);
    cli_buf_free(&j.error);
    cli_buf_free(&j.message);
    return rc;
}

static int print_response(req *r)
{
    int rc;

    if (r->frame)
        rc = cli_out_write(r->raw.p, r->raw.len);
    else if (cli_str_is(r->resp.content_type, "text/json"))
        return print_json_result(r);
    else
        rc = cli_out_write(r->content.p, r->content.len);
    /* On a terminal, text output ends with a newline. */
    if (rc == 0 && !r->frame && cli_out_is_tty() && r->content.len > 0 &&
        r->content.p[r->content.len - 1] != '\n')
        rc = cli_out_write("\n", 1);
    return rc == 0 ? CLI_EXIT_OK : cli_out_exit();
}

/* ---------------------------------------------------------------- */
/* Entry                                                             */
/* ---------------------------------------------------------------- */

/* HOST PORT, or HOST:PORT; -1 to go on, else the exit status. */
static int parse_address(req *r, char **ops, int n)
{
    char msg[UTIL_MSG_MAX];
    uint64_t port;

    if (n == 1 && strchr(ops[0], ':') == NULL) {
        cli_usage_error(r->co.usage, "request: expected host, port, "
                        "action and value");
        return CLI_EXIT_USAGE;
    }
    if (n == 1) {
        if (util_split_hostport(ops[0], r->hostbuf, sizeof(r->hostbuf),
                                &r->port, msg, sizeof(msg)) != 0) {
            cli_usage_error(r->co.usage, "request: %s", msg);
            return CLI_EXIT_USAGE;
        }
    } else {
        if (util_unbracket(ops[0], r->hostbuf, sizeof(r->hostbuf)) != 0) {
            cli_usage_error(r->co.usage, "request: invalid host '%s'",
                            ops[0]);
            return CLI_EXIT_USAGE;
        }
        r->port = ops[1];
    }
    r->host = r->hostbuf;
    /* Service names start with a letter; anything else must be a plain
     * port number, or getaddrinfo would take "+80" or " 80" as 80. */
    if (!isalpha((unsigned char)r->port[0]) &&
        cli_value(&r->co, UTIL_NUMBER, "port", r->port, 1, 65535, 0,
                  &port) != 0)
        return CLI_EXIT_USAGE;
    return -1;
}

static int parse_operands(req *r, int argc, char **argv)
{
    int n = argc - optind, rc;

    if (r->raw_mode) {
        if (n != 1 && n != 2) {
            cli_usage_error(r->co.usage, "request: --raw takes host and "
                            "port only");
            return CLI_EXIT_USAGE;
        }
        return parse_address(r, argv + optind, n);
    }
    if (n != 4 && n != 3) {
        cli_usage_error(r->co.usage, "request: expected host, port, "
                        "action and value");
        return CLI_EXIT_USAGE;
    }
    if (n == 4 && (strcmp(argv[optind + 1], "search") == 0 ||
                   strcmp(argv[optind + 1], "binary") == 0)) {
        cli_usage_error(r->co.usage, "request: '%s' where the port goes: "
                        "after HOST:PORT come only the action and the "
                        "value", argv[optind + 1]);
        return CLI_EXIT_USAGE;
    }
    rc = parse_address(r, argv + optind, n - 2);
    if (rc >= 0)
        return rc;
    r->action = argv[argc - 2];
    r->value = argv[argc - 1];
    if (!r->binary && strcmp(r->action, "search") != 0 &&
        strcmp(r->action, "binary") != 0) {
        cli_usage_error(r->co.usage, "request: unknown action '%s' (search "
                        "or binary); --binary sends it as a binary request",
                        r->action);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* Returns -1 to go on, else the exit status. */
static int parse_opts(req *r, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "verbose", no_argument, NULL, 'v' },
        { "force", no_argument, NULL, 'f' },
        { "binary", no_argument, NULL, OPT_BINARY },
        { "frame", no_argument, NULL, OPT_FRAME },
        { "raw", no_argument, NULL, OPT_RAW },
        { "proxy-protocol", required_argument, NULL, OPT_PROXY },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        CLI_COMMON_LONGOPTS
    };
    int c;

    while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "fv", longopts,
                            NULL)) != -1) {
        switch (c) {
        case 'v':
            r->verbose = 1;
            break;
        case 'f':
            r->force = 1;
            break;
        case OPT_BINARY:
            r->binary = 1;
            break;
        case OPT_FRAME:
            r->frame = 1;
            break;
        case OPT_RAW:
            r->raw_mode = 1;
            break;
        case OPT_PROXY:
            if (strcmp(optarg, "v1") == 0 || strcmp(optarg, "1") == 0) {
                r->proxy = 1;
            } else if (strcmp(optarg, "v2") == 0 ||
                       strcmp(optarg, "2") == 0) {
                r->proxy = 2;
            } else {
                cli_usage_error(r->co.usage, "invalid value '%s' for "
                                "--proxy-protocol: expected v1 or v2",
                                optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_TIMEOUT:
            if (cli_value(&r->co, UTIL_DURATION, "--timeout", optarg, 0,
                          REQUEST_TIMEOUT_MAX_US, 1, &r->timeout_us) != 0)
                return CLI_EXIT_USAGE;
            break;
        default:
            if (cli_common_option(&r->co, c, argv) != 0)
                return CLI_EXIT_USAGE;
            if (r->co.help_shown)
                return CLI_EXIT_OK;
            break;
        }
    }
    r->lim = r->co.lim;
    if (r->raw_mode && (r->frame || r->binary)) {
        cli_usage_error(r->co.usage, "request: --raw sends and writes "
                        "frames as they are; no --frame or --binary");
        return CLI_EXIT_USAGE;
    }
    return parse_operands(r, argc, argv);
}

/* The PROXY header naming this connection's ends, sent first. 0, or
 * the exit status after an error line. */
static int send_proxy(req *r, long long deadline)
{
    struct sockaddr_storage src, dst;
    socklen_t sl = sizeof(src), dl = sizeof(dst);
    unsigned char hdr[CLI_PROXY_MAX];
    size_t n = 0;

    if (r->proxy == 0)
        return 0;
    if (getsockname(r->fd, (struct sockaddr *)&src, &sl) == 0 &&
        getpeername(r->fd, (struct sockaddr *)&dst, &dl) == 0)
        n = cli_proxy_header(r->proxy, (struct sockaddr *)&src,
                             (struct sockaddr *)&dst, hdr, sizeof(hdr));
    if (n == 0) {
        cli_err("cannot name this connection in a PROXY header");
        return CLI_EXIT_CONNECT;
    }
    return send_all(r, hdr, n, deadline);
}

/* --raw: both directions at once, frames counted on both. */
typedef struct raw_state {
    hf_decoder in;          /* stdin's frames, checked before sending */
    uint64_t sent;          /* complete frames read from stdin */
    uint64_t sent_end;      /* stdin's offset after the last of them */
    uint64_t answered;      /* complete frames received */
    uint64_t in_bytes;      /* bytes read from stdin */
    int in_eof;             /* stdin is not read any further */
    int bad;                /* stdin is not valid frames: reported (exit
                               3) once the frames before it are answered */
    unsigned char *buf;     /* a chunk of stdin waiting to be sent */
    size_t len, off;
} raw_state;

/* Push p[0..n) through d, counting complete frames in *frames (and
 * setting *end, when not NULL, to the stream offset after the last), and
 * stop at the end of the frame that makes them most: *used is how many
 * bytes were taken. 0, or -1 at a decoder error. */
static int count_frames(hf_decoder *d, const unsigned char *p, size_t n,
                        uint64_t *frames, uint64_t most, size_t *used,
                        uint64_t *end)
{
    size_t off = 0;
    hf_event ev;

    for (;;) {
        off += hf_decoder_push(d, p + off, n - off, &ev);
        *used = off;
        if (ev.type == HF_EV_NEED_MORE)
            return 0;
        if (ev.type == HF_EV_FRAME_END && end != NULL)
            *end = hf_decoder_offset(d);
        if (ev.type == HF_EV_FRAME_END && ++*frames >= most)
            return 0;
        if (ev.type == HF_EV_ERROR)
            return -1;
    }
}

/* Read a chunk of stdin into rs->buf. Where it stops being frames (or
 * ends inside one), only the whole frames before go out, stdin is read
 * no further, and the error waits for their answers, so that what is
 * written and the exit status do not depend on how fast the server
 * answers. 0, or the exit status. */
static int raw_read_stdin(raw_state *rs)
{
    long n = cli_read(STDIN_FILENO, rs->buf, CLI_CHUNK);
    uint64_t start = rs->in_bytes;
    size_t used;

    if (n < 0)
        return CLI_EXIT_FAIL;
    if (n == 0) {
        rs->in_eof = 1;
        rs->bad = hf_decoder_finish(&rs->in) != HF_OK;
        return 0;
    }
    rs->in_bytes += (uint64_t)n;
    rs->off = 0;
    rs->len = (size_t)n;
    if (count_frames(&rs->in, rs->buf, (size_t)n, &rs->sent, UINT64_MAX,
                     &used, &rs->sent_end) != 0) {
        rs->bad = 1;
        rs->in_eof = 1;
        rs->len = rs->sent_end > start ? (size_t)(rs->sent_end - start) : 0;
    }
    return 0;
}

/* Answers asked for so far: the requests read whole from standard
 * input, and the one begun after them (a server may answer one from its
 * header) unless standard input went bad in it. */
static uint64_t asked(const raw_state *rs)
{
    return rs->sent + (!rs->bad && hf_decoder_offset(&rs->in) > rs->sent_end
                           ? 1 : 0);
}

/* Received bytes go to stdout as they are, up to the end of the answer
 * to the last request begun on standard input (a server may answer one
 * from its header): a frame beyond it was not asked for (while standard
 * input goes on, an error; once it has ended, the exchange is over and
 * what follows is not read). 0, or the exit status. */
static int raw_receive(req *r, raw_state *rs, unsigned char *chunk)
{
    ssize_t n = recv(r->fd, chunk, CLI_CHUNK, 0);
    uint64_t owed = asked(rs);
    size_t i, used;

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (n <= 0) {
        if (rs->in_eof && rs->len == rs->off && rs->answered >= rs->sent &&
            hf_decoder_offset(&r->dec) == 0)
            return 0;
        cli_err("%s port %s %s the connection after %llu of %llu answers",
                r->host, r->port, n == 0 ? "closed" : "reset",
                (unsigned long long)rs->answered,
                (unsigned long long)rs->sent);
        hint_peer(r);
        return CLI_EXIT_PEER;
    }
    for (i = 0; r->head_len < sizeof(r->head) && i < (size_t)n; i++)
        r->head[r->head_len++] = chunk[i];
    if (rs->answered >= owed) {
        used = 0;
    } else if (count_frames(&r->dec, chunk, (size_t)n, &rs->answered,
                            owed, &used, NULL) != 0) {
        cli_out_flush();
        cli_err_decoder(hf_decoder_error(&r->dec));
        hint_peer(r);
        return CLI_EXIT_PEER;
    }
    if (cli_out_write(chunk, used) != 0 || cli_out_flush() != 0)
        return cli_out_exit();
    if (used < (size_t)n && !rs->in_eof) {
        cli_err("%s port %s sent more than the %llu answers asked for so "
                "far", r->host, r->port, (unsigned long long)owed);
        hint_peer(r);
        return CLI_EXIT_PEER;
    }
    return 0;
}

/* Send what waits in rs->buf. 0, or the exit status. */
static int raw_send(req *r, raw_state *rs)
{
    ssize_t n = send(r->fd, rs->buf + rs->off, rs->len - rs->off,
                     MSG_NOSIGNAL);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (n < 0) {
        cli_err("send to %s port %s: %s", r->host, r->port,
                strerror(errno));
        return CLI_EXIT_CONNECT;
    }
    rs->off += (size_t)n;
    return 0;
}

static int raw_loop(req *r, raw_state *rs, unsigned char *chunk)
{
    long long deadline = -1;
    int rc = 0;

    while (rc == 0 && !(rs->in_eof && rs->len == rs->off &&
                        rs->answered >= rs->sent)) {
        struct pollfd p[2] = { { r->fd, POLLIN, 0 },
                               { STDIN_FILENO, POLLIN, 0 } };
        int waiting = rs->len > rs->off, np, pr;

        if (waiting)
            p[0].events |= POLLOUT;
        np = rs->in_eof || waiting ? 1 : 2;
        /* Standard input may be slow to bring the next request: with
         * nothing to send and no answer owed, the clock does not run. */
        if (!waiting && !rs->in_eof && rs->answered >= asked(rs))
            deadline = -1;
        else if (deadline < 0)
            deadline = deadline_after(r);
        do {
            pr = poll(p, (nfds_t)np, left_ms(deadline));
        } while (pr < 0 && errno == EINTR);
        if (pr == 0)
            return timed_out(r, "answers from");
        if (pr < 0) {
            cli_err("poll: %s", strerror(errno));
            return CLI_EXIT_FAIL;
        }
        deadline = -1;          /* something moved: a new step */
        if (np == 2 && p[1].revents != 0)
            rc = raw_read_stdin(rs);
        if (rc == 0 && (p[0].revents & POLLOUT) != 0)
            rc = raw_send(r, rs);
        if (rc == 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0)
            rc = raw_receive(r, rs, chunk);
    }
    return rc;
}

static int run_raw(req *r, unsigned char *chunk)
{
    raw_state rs;
    int rc;

    memset(&rs, 0, sizeof(rs));
    rs.buf = malloc(CLI_CHUNK);
    if (rs.buf == NULL || hf_decoder_init(&rs.in, &r->lim) != HF_OK) {
        free(rs.buf);
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
    rc = raw_loop(r, &rs, chunk);
    if (rs.bad) {
        cli_set_input_name("standard input");
        cli_err_decoder(hf_decoder_error(&rs.in));
        cli_set_input_name(NULL);
        if (rc == 0)
            rc = CLI_EXIT_INVALID;
    }
    hf_decoder_free(&rs.in);
    free(rs.buf);
    return rc;
}

static int run_request(req *r, unsigned char *chunk)
{
    long long deadline;
    int rc;

    if (!r->raw_mode && (rc = build_request(r)) != CLI_EXIT_OK)
        return rc;
    rc = connect_host(r);
    if (rc != 0)
        return rc;
    deadline = deadline_after(r);
    rc = send_proxy(r, deadline);
    if (rc != 0)
        return rc;
    if (r->raw_mode)
        return run_raw(r, chunk);
    if (r->verbose)
        trace_frame("sent", &r->sent);
    rc = send_all(r, r->out.p, r->out.len, deadline);
    if (rc == 0)
        rc = read_response(r, deadline, chunk);
    if (rc != 0)
        return rc;
    return print_response(r);
}

int hf_cmd_request(int argc, char **argv)
{
    unsigned char *chunk;
    req *r;
    int rc, out;

    r = calloc(1, sizeof(*r));
    chunk = malloc(CLI_CHUNK);
    if (r == NULL || chunk == NULL) {
        free(r);
        free(chunk);
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
    r->fd = -1;
    r->timeout_us = REQUEST_TIMEOUT_US;
    cli_common_init(&r->co, cli_request_usage, request_help);
    rc = parse_opts(r, argc, argv);
    /* --raw reads its frames from stdin, which -o may not destroy. */
    if (r->raw_mode)
        cli_set_inputs(&r->co, NULL, 0);
    if (rc < 0 && (out = cli_open_output(&r->co)) != CLI_EXIT_OK)
        rc = out;
    if (rc < 0 && (r->frame || r->raw_mode) &&
        cli_refuse_tty(&r->co, r->force) != 0)
        rc = CLI_EXIT_USAGE;
    if (rc < 0) {
        cli_buf_init(&r->out, SIZE_MAX / 2);
        cli_buf_init(&r->content, (size_t)r->lim.max_content);
        cli_buf_init(&r->raw, HF_PREFIX_LEN + r->lim.max_header +
                                  (size_t)r->lim.max_content);
        rc = CLI_EXIT_FAIL;
        if (hf_decoder_init(&r->dec, &r->lim) == HF_OK)
            rc = run_request(r, chunk);
        hf_decoder_free(&r->dec);
        if (r->fd >= 0)
            close(r->fd);
        cli_buf_free(&r->out);
        cli_buf_free(&r->content);
        cli_buf_free(&r->raw);
    }
    free(r);
    free(chunk);
    return rc;
}
