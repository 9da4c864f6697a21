/* cmd_request.c - `hframe request HOST PORT ACTION VALUE`: send the
 * request the reference client sends, read the first complete response
 * frame (the server may close or keep the connection), and print it. */
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

static const char request_usage[] =
    "usage: hframe request [-v] [--frame] [--timeout seconds] "
    "[--max-content n]\n"
    "                      [--max-header n] host port action value\n";

/* Default for connecting and for the response: long enough for a busy
 * server, short enough that a dead one does not look like a hang. */
#define REQUEST_TIMEOUT_MS 10000
#define REQUEST_TIMEOUT_MAX_MS (86400 * 1000ULL)

/* Nesting accepted in a text/json response: answers are flat objects,
 * so this only bounds the work on a hostile one. */
#define RESPONSE_DEPTH_MAX 64

enum {
    OPT_FRAME = CLI_OPT_FIRST_FREE,
    OPT_TIMEOUT
};

typedef struct req {
    hf_limits lim;
    int verbose;
    int frame;
    uint64_t timeout_ms;
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

/* Milliseconds left until deadline, for poll(): 0 when it has passed. */
static int left_ms(long long deadline)
{
    long long left = deadline - now_ms();

    if (left <= 0)
        return 0;
    return left > 1000000 ? 1000000 : (int)left;
}

static void seconds_text(uint64_t ms, char *buf, size_t cap)
{
    if (ms % 1000 == 0)
        snprintf(buf, cap, "%llu s", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, cap, "%.3g s", (double)ms / 1000.0);
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
static int build_request(req *r)
{
    cli_buf c;
    hf_header h;
    size_t need = 0;
    hf_status st;
    int rc = -1;

    cli_buf_init(&c, SIZE_MAX / 2);
    if (strcmp(r->action, "search") == 0) {
        hf_header_init(&h, "text/json", "utf-8");
        if (search_content(r, &c) != 0) {
            cli_err("request: action and value must be valid UTF-8");
            goto out;
        }
    } else {
        hf_header_init(&h, "binary/custom-client-binary-type", "binary");
        if (cli_buf_append(&c, r->action, strlen(r->action)) != 0 ||
            cli_buf_append(&c, r->value, strlen(r->value)) != 0)
            goto out;
    }
    h.content_length = c.len;
    need = hf_header_json_len(&h);
    if (need == 0 || cli_buf_reserve(&r->out, HF_PREFIX_LEN + need +
                                                  c.len) != 0) {
        cli_err("request: cannot encode the request frame");
        goto out;
    }
    st = hf_encode(&h, c.p, c.len, r->out.p, r->out.cap, &r->out.len);
    if (st != HF_OK) {
        cli_err("request: cannot encode the request frame: %s",
                hf_strerror(st));
        goto out;
    }
    r->sent = h;    /* its strings are literals: safe to keep */
    rc = 0;
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

static int connect_host(req *r)
{
    struct addrinfo hints, *res = NULL, *ai;
    long long deadline = now_ms() + (long long)r->timeout_ms;
    char secs[32];
    int rc, err = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(r->host, r->port, &hints, &res);
    if (rc != 0) {
        cli_err("%s: %s", r->host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL && left_ms(deadline) > 0; ai = ai->ai_next) {
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
    seconds_text(r->timeout_ms, secs, sizeof(secs));
    if (err == ETIMEDOUT || err == 0)
        cli_err("connect to %s port %s: timed out after %s", r->host,
                r->port, secs);
    else
        cli_err("connect to %s port %s: %s", r->host, r->port,
                strerror(err));
    return -1;
}

/* ---------------------------------------------------------------- */
/* Exchange                                                          */
/* ---------------------------------------------------------------- */

static int timed_out(req *r, const char *what)
{
    char secs[32];

    seconds_text(r->timeout_ms, secs, sizeof(secs));
    cli_err("%s %s port %s: timed out after %s (%llu response bytes "
            "received)", what, r->host, r->port, secs,
            (unsigned long long)hf_decoder_offset(&r->dec));
    return -1;
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

static int send_request(req *r, long long deadline)
{
    size_t off = 0;

    while (off < r->out.len) {
        ssize_t n = send(r->fd, r->out.p + off, r->out.len - off,
                         MSG_NOSIGNAL);
        int w;

        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
            errno != EINTR) {
            cli_err("send to %s port %s: %s", r->host, r->port,
                    strerror(errno));
            return -1;
        }
        w = wait_fd(r->fd, POLLOUT, deadline);
        if (w == 0)
            return timed_out(r, "send to");
        if (w < 0) {
            cli_err("poll: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Push received bytes; stops at the first complete frame. */
static int push_response(req *r, const unsigned char *p, size_t n)
{
    size_t off = 0, used;
    hf_event ev;

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
            return -1;
        }
    }
    return 0;
nomem:
    cli_err("out of memory");
    return -1;
}

static int read_response(req *r, long long deadline, unsigned char *chunk)
{
    while (!r->done) {
        ssize_t n = recv(r->fd, chunk, CLI_CHUNK, 0);
        int w;

        if (n > 0) {
            if (push_response(r, chunk, (size_t)n) != 0)
                return -1;
            continue;
        }
        if (n == 0) {
            cli_err("%s port %s closed the connection after %llu bytes, "
                    "before a complete response", r->host, r->port,
                    (unsigned long long)hf_decoder_offset(&r->dec));
            return -1;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            cli_err("receive from %s port %s: %s", r->host, r->port,
                    strerror(errno));
            return -1;
        }
        w = wait_fd(r->fd, POLLIN, deadline);
        if (w == 0)
            return timed_out(r, "response from");
        if (w < 0) {
            cli_err("poll: %s", strerror(errno));
            return -1;
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
    int rc = CLI_EXIT_FAIL;

    if (r->resp.content_encoding.len != 5 ||
        strncasecmp(r->resp.content_encoding.ptr, "utf-8", 5) != 0) {
        cli_err("response: text/json in unsupported content-encoding %s",
                r->resp.content_encoding.ptr);
        return CLI_EXIT_FAIL;
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
        cli_err("server error: %.*s: %.*s", (int)j.error.len,
                (char *)j.error.p, (int)j.message.len, (char *)j.message.p);
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
    else if (strcmp(r->resp.content_type.ptr, "text/json") == 0)
        return print_json_result(r);
    else
        rc = cli_out_write(r->content.p, r->content.len);
    return rc == 0 ? CLI_EXIT_OK : cli_out_exit();
}

/* ---------------------------------------------------------------- */
/* Entry                                                             */
/* ---------------------------------------------------------------- */

static int parse_operands(req *r, int argc, char **argv)
{
    uint64_t port;

    if (argc - optind != 4) {
        cli_usage_error(request_usage, "request: expected host, port, "
                        "action and value");
        return CLI_EXIT_USAGE;
    }
    r->host = argv[optind];
    r->port = argv[optind + 1];
    r->action = argv[optind + 2];
    r->value = argv[optind + 3];
    if (cli_parse_u64(r->port, 1, 65535, &port) != 0) {
        cli_usage_error(request_usage, "request: port \"%s\" is not a "
                        "number from 1 to 65535", r->port);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* Returns -1 to go on, else the exit status. */
static int parse_opts(req *r, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "verbose", no_argument, NULL, 'v' },
        { "frame", no_argument, NULL, OPT_FRAME },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "max-header", required_argument, NULL, CLI_OPT_MAX_HEADER },
        { "max-content", required_argument, NULL, CLI_OPT_MAX_CONTENT },
        { NULL, 0, NULL, 0 }
    };
    int c;

    while ((c = getopt_long(argc, argv, "+:hv", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cli_out_str(request_usage);
            return CLI_EXIT_OK;
        case 'v':
            r->verbose = 1;
            break;
        case OPT_FRAME:
            r->frame = 1;
            break;
        case OPT_TIMEOUT:
            if (cli_parse_ms(optarg, REQUEST_TIMEOUT_MAX_MS,
                             &r->timeout_ms) != 0) {
                cli_usage_error(request_usage, "--timeout: \"%s\" is not "
                                "a number of seconds from 0.001 to 86400",
                                optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        default:
            if (cli_common_option(request_usage, c, argv, &r->lim) != 0)
                return CLI_EXIT_USAGE;
            break;
        }
    }
    return parse_operands(r, argc, argv);
}

static int run_request(req *r, unsigned char *chunk)
{
    long long deadline;

    if (build_request(r) != 0 || connect_host(r) != 0)
        return CLI_EXIT_FAIL;
    deadline = now_ms() + (long long)r->timeout_ms;
    if (r->verbose)
        trace_frame("sent", &r->sent);
    if (send_request(r, deadline) != 0 ||
        read_response(r, deadline, chunk) != 0)
        return CLI_EXIT_FAIL;
    return print_response(r);
}

int hf_cmd_request(int argc, char **argv)
{
    unsigned char *chunk;
    req *r;
    int rc;

    r = calloc(1, sizeof(*r));
    chunk = malloc(CLI_CHUNK);
    if (r == NULL || chunk == NULL) {
        free(r);
        free(chunk);
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
    r->fd = -1;
    r->timeout_ms = REQUEST_TIMEOUT_MS;
    hf_limits_default(&r->lim);
    rc = parse_opts(r, argc, argv);
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
