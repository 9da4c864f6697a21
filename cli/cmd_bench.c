/*
 * cmd_bench.c - `hframe bench`: a load generator for hframe servers.
 *
 * Each worker thread drives its share of the connections with one poll()
 * loop: non-blocking connect, requests written with sendmsg() (several at
 * once when pipelining), answers pushed through a libhframe streaming
 * decoder and compared with the expected frame. Latencies go into a
 * log-bucket histogram (a fixed table, no per-sample storage), so a run of
 * any length uses the same memory.
 *
 * Before the measured run one probe request checks that the server is
 * there and learns the expected search answer (unless --expect gives it);
 * binary answers are computed: "First 10 bytes of request: " followed by
 * the first 10 bytes of the request content.
 *
 * Exit status: 0 when every request got the expected answer, 1 on any
 * error (network, protocol, wrong answer, timeout), 2 on usage errors.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "hframe.h"

/* Requests handed to one sendmsg(); IOV_MAX is 1024, fewer suffice. */
#define IOV_BATCH 64
/* Bytes read per recv(): one buffer per thread, answers are small. */
#define RECV_BUF 65536
/* Answer content kept for comparison when the expectation is unknown
 * (probe); answers longer than that cannot be a search result we check. */
#define LEARN_MAX 65536
/* Answer content kept at least, so a wrong answer can be shown. */
#define KEEP_MIN 128
/* After a failed connect, a slot waits this long before trying again so
 * a refused port does not turn into a busy loop. */
#define RETRY_NS (UINT64_C(50) * 1000 * 1000)
/* Longest poll() sleep: bounds how late the stop flag and the deadline
 * are noticed. */
#define POLL_MAX_MS 100
/* ------------------------------------------------------------------ */
/* Shared run state                                                    */
/* ------------------------------------------------------------------ */

/* Ways a request can fail; each failed request counts once. */
enum {
    ERR_CONNECT = 0,  /* connect() failed */
    ERR_IO,           /* send/recv error (reset, ...) */
    ERR_CLOSED,       /* server closed with requests in flight */
    ERR_PROTOCOL,     /* answer is not a valid frame */
    ERR_MISMATCH,     /* valid frame, not the expected answer */
    ERR_TIMEOUT,      /* no progress within --timeout */
    ERR_SERVER,       /* an error frame (busy, ...) */
    ERR_KINDS
};

static const char *const err_names[ERR_KINDS] = {
    "connect", "io", "closed", "protocol", "mismatch", "timeout", "server"
};

typedef struct bench_run {
    const bench_cfg *cfg;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    unsigned char *req;          /* one encoded request frame */
    size_t req_len;
    const char *want_type;       /* expected answer content type */
    unsigned char *want;         /* expected answer content */
    size_t want_len;
    int learn;                   /* probe: keep the first answer */
    unsigned char *learnt;
    size_t learnt_len;
    uint64_t start_ns;
    uint64_t deadline_ns;        /* duration mode */
    atomic_int stop;
} bench_run;

typedef struct bench_conn {
    int fd;                  /* -1: no connection */
    int connecting;
    unsigned inflight;       /* claimed, not yet answered */
    unsigned queued;         /* claimed, not yet completely sent */
    size_t out_off;          /* bytes of the first queued request sent */
    unsigned ring_head;      /* start times of requests in flight */
    uint64_t *ring;
    uint64_t last_ns;        /* last progress, for the timeout */
    uint64_t retry_ns;       /* no new connection before this */
    int type_ok;             /* current answer's content type */
    int type_json;           /* it is text/json (an error frame's) */
    hf_decoder dec;
    unsigned char *keep;     /* current answer's content */
    size_t keep_len;
    size_t keep_cap;
    int keep_over;
} bench_conn;

typedef struct bench_worker {
    bench_run *run;
    pthread_t tid;
    unsigned long nconns;
    bench_conn *conns;
    struct pollfd *pfd;
    unsigned long *pidx;
    uint64_t quota;          /* requests to claim; 0: duration mode */
    uint64_t claimed;
    atomic_ullong ok;
    atomic_ullong failed;
    uint64_t err[ERR_KINDS];
    uint64_t bytes_out;
    uint64_t bytes_in;
    uint64_t connects;
    uint64_t end_ns;
    hist lat;
    char first_error[256];
    unsigned char rbuf[RECV_BUF];
    atomic_int done;
} bench_worker;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void note_error(bench_worker *w, int kind, uint64_t n,
                       const char *fmt, const char *arg)
{
    if (n == 0)
        return;
    w->err[kind] += n;
    atomic_fetch_add_explicit(&w->failed, n, memory_order_relaxed);
    if (w->first_error[0] == '\0')
        snprintf(w->first_error, sizeof w->first_error, fmt, arg);
}

/* ------------------------------------------------------------------ */
/* Requests and expected answers                                       */
/* ------------------------------------------------------------------ */

static int build_request(bench_run *run)
{
    const bench_cfg *cfg = run->cfg;
    hf_header h;
    unsigned char *content = NULL;
    size_t clen, written, cap;
    hf_status st;

    if (cfg->binary) {
        const char *pre = "binary";
        size_t plen = strlen(pre), vlen = strlen(cfg->value), i;

        clen = cfg->size_set ? (size_t)cfg->size : plen + vlen;
        content = malloc(clen > 0 ? clen : 1);
        if (content == NULL)
            return -1;
        for (i = 0; i < clen; i++) {
            size_t j = i % (plen + vlen);

            content[i] = (unsigned char)(j < plen ? pre[j]
                                                  : cfg->value[j - plen]);
        }
        hf_header_init(&h, "binary/custom-client-binary-type", "binary");
    } else {
        hf_str keys[2] = { { "action", 6 }, { "value", 5 } };
        hf_str vals[2] = { { "search", 6 }, { NULL, 0 } };

        vals[1].ptr = cfg->value;
        vals[1].len = strlen(cfg->value);
        clen = hf_json_object_len(keys, vals, 2);
        content = malloc(clen > 0 ? clen : 1);
        if (content == NULL || clen == 0 ||
            hf_json_write_object(content, clen, keys, vals, 2, &written) !=
            HF_OK) {
            free(content);
            return -1;
        }
        hf_header_init(&h, "text/json", "utf-8");
    }
    cap = HF_PREFIX_LEN + HF_HEADER_MAX + clen;
    run->req = malloc(cap);
    if (run->req == NULL) {
        free(content);
        return -1;
    }
    st = hf_encode(&h, content, clen, run->req, cap, &written);
    if (st != HF_OK) {
        free(content);
        return -1;
    }
    run->req_len = written;

    if (cfg->binary) {
        static const char pre[] = "First 10 bytes of request: ";
        size_t n = clen < 10 ? clen : 10;

        run->want_type = "binary/custom-server-binary-type";
        run->want_len = sizeof pre - 1 + n;
        run->want = malloc(run->want_len);
        if (run->want == NULL) {
            free(content);
            return -1;
        }
        memcpy(run->want, pre, sizeof pre - 1);
        memcpy(run->want + sizeof pre - 1, content, n);
    } else {
        run->want_type = "text/json";
        if (cfg->expect != NULL) {
            hf_str k = { "result", 6 };
            hf_str v;

            v.ptr = cfg->expect;
            v.len = strlen(cfg->expect);
            run->want_len = hf_json_object_len(&k, &v, 1);
            run->want = malloc(run->want_len + 1);
            if (run->want == NULL ||
                hf_json_write_object(run->want, run->want_len, &k, &v, 1,
                                     &written) != HF_OK) {
                free(content);
                return -1;
            }
        }
    }
    free(content);
    return 0;
}

/* A search answer is {"result": "..."}: anything else (an error object,
 * another key) is not what a benchmark should measure. */
static int looks_like_result(const unsigned char *p, size_t n)
{
    static const char pre[] = "{\"result\": \"";

    return n >= sizeof pre + 1 && memcmp(p, pre, sizeof pre - 1) == 0 &&
           p[n - 2] == '"' && p[n - 1] == '}';
}

/* The first address of the server, looked up within --timeout. */
static int resolve(bench_run *run)
{
    struct addrinfo *res = NULL;
    char msg[UTIL_MSG_MAX];

    if (util_resolve_within(run->cfg->host, run->cfg->port,
                            run->cfg->timeout_ns / 1000, &res, msg,
                            sizeof msg) != 0) {
        fprintf(stderr, "hframe: bench: %s\n", msg);
        return -1;
    }
    memcpy(&run->addr, res->ai_addr, res->ai_addrlen);
    run->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

static void conn_close(bench_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->connecting = 0;
    c->inflight = 0;
    c->queued = 0;
    c->out_off = 0;
    c->keep_len = 0;
    c->keep_over = 0;
    hf_decoder_reset(&c->dec);
}

/* End the connection, failing what is in flight with kind. */
static void conn_fail(bench_worker *w, bench_conn *c, int kind,
                      const char *fmt, const char *arg)
{
    note_error(w, kind, c->inflight, fmt, arg);
    conn_close(c);
}

/* A connection attempt failed. It counts as one failed request even
 * when none was claimed yet (reused connections), so a refused port
 * ends a -n run instead of retrying forever. */
static void attempt_fail(bench_worker *w, bench_conn *c, int kind,
                         uint64_t now, const char *fmt, const char *arg)
{
    if (c->inflight == 0) {
        c->inflight = 1;
        w->claimed++;
    }
    conn_fail(w, c, kind, fmt, arg);
    c->retry_ns = now + RETRY_NS;
}

static int want_more(bench_worker *w, uint64_t now)
{
    bench_run *run = w->run;

    if (atomic_load_explicit(&run->stop, memory_order_relaxed) ||
        interrupted)
        return 0;
    if (w->quota > 0)
        return w->claimed < w->quota;
    return now < run->deadline_ns;
}

/* Bytes that answer no request (an extra frame, garbage) break the
 * connection. Each request must count once, so they fail the request
 * the connection would have carried next, claimed for it; once the run
 * wants no more requests, they are not looked at, as --raw does with
 * what follows the last answer. */
static void unsolicited(bench_worker *w, bench_conn *c, uint64_t now,
                        int kind, const char *fmt, const char *arg)
{
    if (!want_more(w, now)) {
        conn_close(c);
        return;
    }
    c->inflight = 1;
    w->claimed++;
    conn_fail(w, c, kind, fmt, arg);
}

/* The code of an error frame as the gateway writes it (text/json
 * content {"error": "CODE", ...}) into code; 0 when it is not one. */
static int error_frame(const bench_conn *c, char *code, size_t cap)
{
    static const char pre[] = "{\"error\": \"";
    size_t n = sizeof pre - 1, i;

    if (!c->type_json || c->keep_len <= n || memcmp(c->keep, pre, n) != 0)
        return 0;
    for (i = 0; n + i < c->keep_len && i + 1 < cap; i++) {
        unsigned char ch = c->keep[n + i];

        if (ch == '"')
            break;
        code[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '.';
    }
    code[i] = '\0';
    return n + i < c->keep_len && c->keep[n + i] == '"';
}

static void claim(bench_worker *w, bench_conn *c, uint64_t now)
{
    unsigned slot = (c->ring_head + c->inflight) %
                    (unsigned)w->run->cfg->pipeline;

    c->ring[slot] = now;
    c->inflight++;
    c->queued++;
    w->claimed++;
}

static void conn_open(bench_worker *w, bench_conn *c, uint64_t now)
{
    bench_run *run = w->run;
    int fd, one = 1, rc;

    /* Non-blocking from the start: with --new-connection every system
     * call here is paid per request. */
    fd = socket(run->addr.ss_family,
                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        attempt_fail(w, c, ERR_CONNECT, now, "socket: %s",
                     strerror(errno));
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    w->connects++;
    c->fd = fd;
    c->last_ns = now;
    rc = connect(fd, (const struct sockaddr *)&run->addr, run->addrlen);
    if (rc == 0) {
        c->connecting = 0;
    } else if (errno == EINPROGRESS) {
        c->connecting = 1;
    } else {
        attempt_fail(w, c, ERR_CONNECT, now, "connect: %s",
                     strerror(errno));
    }
}

/* Claim what the pipeline allows and write as much as the socket takes. */
static void conn_send(bench_worker *w, bench_conn *c, uint64_t now)
{
    bench_run *run = w->run;
    struct iovec iov[IOV_BATCH];
    struct msghdr msg;
    unsigned n, i;
    ssize_t r;
    size_t left;

    if (!w->run->cfg->new_conn) {
        while (c->inflight < run->cfg->pipeline && want_more(w, now))
            claim(w, c, now);
    }
    while (c->queued > 0) {
        n = c->queued < IOV_BATCH ? c->queued : IOV_BATCH;
        for (i = 0; i < n; i++) {
            size_t off = i == 0 ? c->out_off : 0;

            iov[i].iov_base = run->req + off;
            iov[i].iov_len = run->req_len - off;
        }
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = iov;
        msg.msg_iovlen = n;
        r = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            conn_fail(w, c, ERR_IO, "send: %s", strerror(errno));
            return;
        }
        w->bytes_out += (uint64_t)r;
        c->last_ns = now;
        left = (size_t)r;
        while (left > 0) {
            size_t rest = run->req_len - c->out_off;

            if (left < rest) {
                c->out_off += left;
                break;
            }
            left -= rest;
            c->out_off = 0;
            c->queued--;
        }
        if (c->queued > 0 && c->out_off > 0)
            return; /* short write: wait for POLLOUT */
    }
}

/* A whole answer arrived: check it against the expectation (or, for
 * the probe, keep it as the expectation). */
static void answer_done(bench_worker *w, bench_conn *c, uint64_t now)
{
    bench_run *run = w->run;
    uint64_t start;
    char shown[96];
    size_t n, i;
    int good;

    start = c->ring[c->ring_head];
    c->ring_head = (c->ring_head + 1) % (unsigned)run->cfg->pipeline;
    c->inflight--;
    c->last_ns = now;
    if (run->learn) {
        good = c->type_ok && !c->keep_over &&
               looks_like_result(c->keep, c->keep_len);
        if (good && run->learnt == NULL) {
            run->learnt = malloc(c->keep_len + 1);
            if (run->learnt == NULL)
                good = 0;
            else
                memcpy(run->learnt, c->keep, c->keep_len);
            run->learnt_len = c->keep_len;
        }
    } else {
        good = run->want != NULL && c->type_ok && !c->keep_over &&
               c->keep_len == run->want_len &&
               memcmp(c->keep, run->want, run->want_len) == 0;
    }
    if (good) {
        bench_hist_add(&w->lat, now - start);
        atomic_fetch_add_explicit(&w->ok, 1, memory_order_relaxed);
    } else if (error_frame(c, shown, sizeof shown)) {
        note_error(w, ERR_SERVER, 1, "the server answered error %s", shown);
    } else {
        n = c->keep_len < sizeof shown - 1 ? c->keep_len : sizeof shown - 1;
        for (i = 0; i < n; i++)
            shown[i] = c->keep[i] >= 0x20 && c->keep[i] < 0x7f
                       ? (char)c->keep[i] : '.';
        shown[n] = '\0';
        note_error(w, ERR_MISMATCH, 1, c->type_ok
                   ? "unexpected answer: %s"
                   : "unexpected content type, answer: %s", shown);
    }
    c->keep_len = 0;
    c->keep_over = 0;
}

static void conn_recv(bench_worker *w, bench_conn *c, uint64_t now)
{
    bench_run *run = w->run;
    const hf_header *h;
    hf_event ev;
    ssize_t r;
    size_t off, used;

    for (;;) {
        r = recv(c->fd, w->rbuf, sizeof w->rbuf, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            conn_fail(w, c, ERR_IO, "recv: %s", strerror(errno));
            return;
        }
        if (r == 0) {
            if (c->inflight > 0 || hf_decoder_in_frame(&c->dec))
                conn_fail(w, c, ERR_CLOSED, "%s",
                          "server closed the connection with requests "
                          "in flight");
            else
                conn_close(c);
            return;
        }
        w->bytes_in += (uint64_t)r;
        c->last_ns = now;
        off = 0;
        for (;;) {
            /* Pushing 0 bytes is needed too: the frame end may follow
             * the last content slice as an event of its own. */
            used = hf_decoder_push(&c->dec, w->rbuf + off, (size_t)r - off,
                                   &ev);
            off += used;
            if (ev.type == HF_EV_NEED_MORE)
                break;
            switch (ev.type) {
            case HF_EV_HEADER:
                h = hf_decoder_header(&c->dec);
                c->type_ok = h != NULL &&
                    cli_str_is(h->content_type, run->want_type);
                c->type_json = h != NULL &&
                    cli_str_is(h->content_type, "text/json");
                c->keep_len = 0;
                c->keep_over = 0;
                break;
            case HF_EV_CONTENT: {
                size_t room = c->keep_cap - c->keep_len;

                /* Keep what fits: enough to compare, and to show. */
                if (ev.len > room)
                    c->keep_over = 1;
                memcpy(c->keep + c->keep_len, ev.data,
                       ev.len < room ? ev.len : room);
                c->keep_len += ev.len < room ? ev.len : room;
                break;
            }
            case HF_EV_FRAME_END:
                if (c->inflight == 0) {
                    char code[64];

                    /* A server at its cap answers busy at once. */
                    if (error_frame(c, code, sizeof code))
                        unsolicited(w, c, now, ERR_SERVER,
                                    "the server answered error %s", code);
                    else
                        unsolicited(w, c, now, ERR_PROTOCOL, "%s",
                                    "answer to no request");
                    return;
                }
                answer_done(w, c, now);
                if (run->cfg->new_conn) {
                    conn_close(c);
                    return;
                }
                break;
            case HF_EV_ERROR: {
                const hf_error *e = hf_decoder_error(&c->dec);
                char msg[200];

                snprintf(msg, sizeof msg, "offset %llu: %s: %s",
                         (unsigned long long)e->offset,
                         hf_status_name(e->code), e->detail);
                if (c->inflight == 0)
                    unsolicited(w, c, now, ERR_PROTOCOL,
                                "invalid answer: %s", msg);
                else
                    conn_fail(w, c, ERR_PROTOCOL, "invalid answer: %s",
                              msg);
                return;
            }
            default:
                break;
            }
        }
        if (c->inflight == 0 && run->cfg->new_conn)
            return;
        if ((size_t)r < sizeof w->rbuf)
            return;
    }
}

/* Connected (or failed to) after POLLOUT. */
static void conn_connected(bench_worker *w, bench_conn *c, uint64_t now)
{
    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0) {
        attempt_fail(w, c, ERR_CONNECT, now, "connect: %s",
                     strerror(err));
        return;
    }
    c->connecting = 0;
    c->last_ns = now;
}

/* Timeouts, new connections and pending writes before each poll(). */
static void conn_tick(bench_worker *w, bench_conn *c, uint64_t now)
{
    const bench_cfg *cfg = w->run->cfg;

    if (c->fd >= 0 && (c->inflight > 0 || c->connecting) &&
        now - c->last_ns >= cfg->timeout_ns) {
        attempt_fail(w, c, ERR_TIMEOUT, now, "%s", c->connecting
                     ? "connect timed out" : "request timed out");
        return;
    }
    if (c->fd < 0) {
        if (now < c->retry_ns || !want_more(w, now))
            return;
        if (cfg->new_conn)
            claim(w, c, now);
        conn_open(w, c, now);
        if (c->fd < 0)
            return;
    }
    if (!c->connecting)
        conn_send(w, c, now);
}

static int worker_busy(bench_worker *w, uint64_t now)
{
    unsigned long i;

    if (want_more(w, now))
        return 1;
    for (i = 0; i < w->nconns; i++)
        if (w->conns[i].fd >= 0 && w->conns[i].inflight > 0)
            return 1;
    return 0;
}

static void *worker_main(void *arg)
{
    bench_worker *w = arg;
    bench_run *run = w->run;
    unsigned long i, n;
    uint64_t now;
    int rc, timeout_ms;

    now = now_ns();
    while (worker_busy(w, now)) {
        n = 0;
        timeout_ms = POLL_MAX_MS;
        for (i = 0; i < w->nconns; i++) {
            bench_conn *c = &w->conns[i];

            conn_tick(w, c, now);
            if (c->fd < 0) {
                if (c->retry_ns > now && want_more(w, now))
                    timeout_ms = 1 + (int)((c->retry_ns - now) / 1000000);
                continue;
            }
            w->pfd[n].fd = c->fd;
            w->pfd[n].events = POLLIN;
            if (c->connecting || c->queued > 0)
                w->pfd[n].events |= POLLOUT;
            w->pfd[n].revents = 0;
            w->pidx[n] = i;
            n++;
        }
        if (run->cfg->requests == 0 && now < run->deadline_ns &&
            (run->deadline_ns - now) / 1000000 < (uint64_t)timeout_ms)
            timeout_ms = (int)((run->deadline_ns - now) / 1000000) + 1;
        rc = poll(w->pfd, (nfds_t)n, timeout_ms);
        now = now_ns();
        if (rc < 0 && errno != EINTR) {
            note_error(w, ERR_IO, 1, "poll: %s", strerror(errno));
            break;
        }
        for (i = 0; rc > 0 && i < n; i++) {
            bench_conn *c = &w->conns[w->pidx[i]];
            short re = w->pfd[i].revents;

            if (re == 0 || c->fd != w->pfd[i].fd)
                continue;
            if (c->connecting) {
                conn_connected(w, c, now);
                if (c->fd < 0 || c->connecting)
                    continue;
            }
            if (re & (POLLIN | POLLERR | POLLHUP))
                conn_recv(w, c, now);
            if (c->fd >= 0 && !c->connecting)
                conn_send(w, c, now);
        }
    }
    for (i = 0; i < w->nconns; i++) {
        if (w->conns[i].fd >= 0) {
            close(w->conns[i].fd);
            w->conns[i].fd = -1;
        }
    }
    w->end_ns = now;
    atomic_store(&w->done, 1);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Workers                                                             */
/* ------------------------------------------------------------------ */

static void workers_free(bench_worker *ws, unsigned long nw)
{
    unsigned long t, i;

    if (ws == NULL)
        return;
    for (t = 0; t < nw; t++) {
        for (i = 0; ws[t].conns != NULL && i < ws[t].nconns; i++) {
            hf_decoder_free(&ws[t].conns[i].dec);
            free(ws[t].conns[i].ring);
            free(ws[t].conns[i].keep);
        }
        free(ws[t].conns);
        free(ws[t].pfd);
        free(ws[t].pidx);
    }
    free(ws);
}

static bench_worker *workers_new(bench_run *run, unsigned long nw,
                                 unsigned long conns, uint64_t requests)
{
    bench_worker *ws;
    unsigned long t, i;
    size_t keep_cap = run->want == NULL ? LEARN_MAX
                      : run->want_len < KEEP_MIN ? KEEP_MIN
                      : run->want_len + 1;

    ws = calloc(nw, sizeof *ws);
    if (ws == NULL)
        return NULL;
    for (t = 0; t < nw; t++) {
        bench_worker *w = &ws[t];

        w->run = run;
        w->nconns = conns / nw + (t < conns % nw ? 1 : 0);
        w->quota = requests / nw + (t < requests % nw ? 1 : 0);
        if (requests > 0 && w->quota == 0)
            w->nconns = 0;
        w->conns = calloc(w->nconns + 1, sizeof *w->conns);
        w->pfd = calloc(w->nconns + 1, sizeof *w->pfd);
        w->pidx = calloc(w->nconns + 1, sizeof *w->pidx);
        if (w->conns == NULL || w->pfd == NULL || w->pidx == NULL) {
            workers_free(ws, t + 1);
            return NULL;
        }
        for (i = 0; i < w->nconns; i++) {
            bench_conn *c = &w->conns[i];

            c->fd = -1;
            c->ring = calloc(run->cfg->pipeline, sizeof *c->ring);
            c->keep = malloc(keep_cap);
            c->keep_cap = keep_cap;
            if (c->ring == NULL || c->keep == NULL ||
                hf_decoder_init(&c->dec, &run->cfg->lim) != HF_OK) {
                w->nconns = i + 1;
                workers_free(ws, t + 1);
                return NULL;
            }
        }
    }
    return ws;
}

static void progress(bench_worker *ws, unsigned long nw, uint64_t start,
                     uint64_t *last_ok, uint64_t *last_ns)
{
    uint64_t ok = 0, failed = 0, now = now_ns();
    unsigned long t;
    double rate;

    for (t = 0; t < nw; t++) {
        ok += atomic_load_explicit(&ws[t].ok, memory_order_relaxed);
        failed += atomic_load_explicit(&ws[t].failed, memory_order_relaxed);
    }
    rate = now > *last_ns ? (double)(ok - *last_ok) * 1e9 /
                            (double)(now - *last_ns) : 0.0;
    fprintf(stderr, "\r%6.1f s: %llu requests, %.0f requests/s, "
            "%llu errors   ", (double)(now - start) / 1e9,
            (unsigned long long)ok, rate, (unsigned long long)failed);
    *last_ok = ok;
    *last_ns = now;
}

/* Run the workers to completion. Returns 0, or -1 when they could not
 * start (message printed). */
static int run_workers(bench_worker *ws, unsigned long nw, int show)
{
    bench_run *run = ws[0].run;
    uint64_t last_ok = 0, last_ns, next;
    unsigned long t, started = 0;
    struct timespec pause = { 0, 20 * 1000 * 1000 };
    int all;

    run->start_ns = now_ns();
    run->deadline_ns = run->start_ns + run->cfg->duration_ns;
    last_ns = run->start_ns;
    next = run->start_ns + NS_PER_S;
    for (t = 0; t < nw; t++) {
        if (pthread_create(&ws[t].tid, NULL, worker_main, &ws[t]) != 0) {
            fputs("hframe: bench: cannot start a thread\n", stderr);
            atomic_store(&run->stop, 1);
            break;
        }
        started++;
    }
    for (;;) {
        all = 1;
        for (t = 0; t < started; t++)
            if (!atomic_load(&ws[t].done))
                all = 0;
        if (all)
            break;
        nanosleep(&pause, NULL);
        if (show && now_ns() >= next) {
            progress(ws, nw, run->start_ns, &last_ok, &last_ns);
            next += NS_PER_S;
        }
    }
    for (t = 0; t < started; t++)
        pthread_join(ws[t].tid, NULL);
    if (show && next > run->start_ns + NS_PER_S)
        fputs("\r                                                      "
              "                   \r", stderr);
    return started == nw ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Reporting                                                           */
/* ------------------------------------------------------------------ */

typedef struct bench_result {
    uint64_t ok;
    uint64_t failed;
    uint64_t err[ERR_KINDS];
    uint64_t bytes_out;
    uint64_t bytes_in;
    uint64_t connects;
    double seconds;
    double cpu_seconds;      /* this process, user + system */
    hist *lat;
    const char *first_error;
} bench_result;

static void json_str(const char *s)
{
    size_t len = hf_json_string_len(s, strlen(s)), n;
    unsigned char *buf = len > 0 ? malloc(len) : NULL;

    if (buf != NULL &&
        hf_json_write_string(buf, len, s, strlen(s), &n) == HF_OK)
        fwrite(buf, 1, n, stdout);
    else
        fputs("\"\"", stdout);
    free(buf);
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static void print_json(const bench_cfg *cfg, const bench_run *run,
                       const bench_result *r)
{
    static const double qs[] = { 0.5, 0.9, 0.99, 0.999 };
    static const char *const qn[] = { "p50", "p90", "p99", "p99_9" };
    size_t i;

    fputs("{\"host\": ", stdout);
    json_str(cfg->host);
    printf(", \"port\": %s, \"action\": \"%s\", \"value\": ", cfg->port,
           cfg->binary ? "binary" : "search");
    json_str(cfg->value);
    printf(", \"request_bytes\": %zu, \"connections\": %lu, "
           "\"threads\": %lu, \"pipeline\": %lu, \"new_connection\": %s, "
           "\"requests\": %llu, \"ok\": %llu, \"errors\": %llu, "
           "\"seconds\": %.6f, \"requests_per_s\": %.1f, "
           "\"bytes_sent\": %llu, \"bytes_received\": %llu, "
           "\"sent_bytes_per_s\": %.1f, \"received_bytes_per_s\": %.1f, "
           "\"connects\": %llu, \"client_cpu_us_per_request\": %.2f, "
           "\"latency_ms\": {",
           run->req_len, cfg->conns, cfg->threads, cfg->pipeline,
           cfg->new_conn ? "true" : "false",
           (unsigned long long)(r->ok + r->failed),
           (unsigned long long)r->ok, (unsigned long long)r->failed,
           r->seconds, r->seconds > 0 ? (double)r->ok / r->seconds : 0.0,
           (unsigned long long)r->bytes_out,
           (unsigned long long)r->bytes_in,
           r->seconds > 0 ? (double)r->bytes_out / r->seconds : 0.0,
           r->seconds > 0 ? (double)r->bytes_in / r->seconds : 0.0,
           (unsigned long long)r->connects,
           r->ok + r->failed > 0
           ? r->cpu_seconds * 1e6 / (double)(r->ok + r->failed) : 0.0);
    for (i = 0; i < 4; i++)
        printf("\"%s\": %.3f, ", qn[i], ms(bench_hist_quantile(r->lat, qs[i])));
    printf("\"max\": %.3f, \"mean\": %.3f}, \"error_counts\": {",
           ms(r->lat->max),
           r->lat->count > 0 ? r->lat->sum / (double)r->lat->count / 1e6
                             : 0.0);
    for (i = 0; i < ERR_KINDS; i++)
        printf("%s\"%s\": %llu", i > 0 ? ", " : "", err_names[i],
               (unsigned long long)r->err[i]);
    fputs("}, \"first_error\": ", stdout);
    json_str(r->first_error != NULL ? r->first_error : "");
    fputs("}\n", stdout);
}

static void print_histogram(const hist *h)
{
    uint64_t lo, hi, edge, width, cnt, most = 0, counts[64], edges[64];
    size_t i, rows = 0, b;
    int bar;

    if (h->count == 0)
        return;
    /* One row per power of two (in ns) from the minimum to the
     * maximum. */
    lo = h->min > 0 ? h->min : 1;
    edge = 1;
    while (edge * 2 <= lo)
        edge *= 2;
    hi = h->max;
    while (rows < 64 && (rows == 0 || edges[rows - 1] <= hi)) {
        edges[rows] = edge * 2;
        counts[rows] = 0;
        rows++;
        if (edge > UINT64_MAX / 4)
            break;
        edge *= 2;
    }
    for (b = 0; b < HIST_BUCKETS; b++) {
        if (h->bucket[b] == 0)
            continue;
        lo = bench_hist_low(b, &width);
        for (i = 0; i + 1 < rows && lo >= edges[i]; i++)
            ;
        counts[i] += h->bucket[b];
    }
    for (i = 0; i < rows; i++)
        if (counts[i] > most)
            most = counts[i];
    puts("latency histogram (upper bound of each row):");
    for (i = 0; i < rows; i++) {
        cnt = counts[i];
        bar = most > 0 ? (int)((cnt * 50 + most - 1) / most) : 0;
        printf("  < %10.3f ms |%-50.*s %llu (%.2f%%)\n", ms(edges[i]), bar,
               "##################################################",
               (unsigned long long)cnt,
               100.0 * (double)cnt / (double)h->count);
    }
}

static void print_text(const bench_cfg *cfg, const bench_run *run,
                       const bench_result *r)
{
    size_t i;
    double s = r->seconds > 0 ? r->seconds : 1e-9;

    printf("hframe bench: %s port %s, %s", cfg->host, cfg->port,
           cfg->binary ? "binary" : "search");
    if (cfg->binary)
        printf(" %zu-byte frames", run->req_len);
    else
        printf(" \"%s\"", cfg->value);
    printf(", %lu connection%s (%s), pipeline %lu, %lu thread%s\n",
           cfg->conns, cfg->conns == 1 ? "" : "s",
           cfg->new_conn ? "new per request" : "reused", cfg->pipeline,
           cfg->threads, cfg->threads == 1 ? "" : "s");
    printf("  requests   %llu ok, %llu errors in %.3f s, %llu "
           "connections opened\n",
           (unsigned long long)r->ok, (unsigned long long)r->failed,
           r->seconds, (unsigned long long)r->connects);
    printf("  rate       %.1f requests/s\n", (double)r->ok / s);
    printf("  sent       %.2f MB/s (%llu bytes)\n",
           (double)r->bytes_out / s / 1e6,
           (unsigned long long)r->bytes_out);
    printf("  received   %.2f MB/s (%llu bytes)\n",
           (double)r->bytes_in / s / 1e6, (unsigned long long)r->bytes_in);
    printf("  latency    p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, "
           "p99.9 %.3f ms, max %.3f ms\n",
           ms(bench_hist_quantile(r->lat, 0.5)), ms(bench_hist_quantile(r->lat, 0.9)),
           ms(bench_hist_quantile(r->lat, 0.99)),
           ms(bench_hist_quantile(r->lat, 0.999)), ms(r->lat->max));
    fputs("  errors    ", stdout);
    for (i = 0; i < ERR_KINDS; i++)
        printf(" %s %llu%s", err_names[i], (unsigned long long)r->err[i],
               i + 1 < ERR_KINDS ? "," : "\n");
    if (cfg->histogram)
        print_histogram(r->lat);
}

/* ------------------------------------------------------------------ */
/* Entry point                                                         */
/* ------------------------------------------------------------------ */

/* CPU time this process has used, user + system, in seconds: with the
 * request count it tells what the load generator itself costs. */
static double cpu_now(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Enough descriptors for the connections plus stdio and slack. */
static int raise_fd_limit(unsigned long conns)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)conns + 64;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        fprintf(stderr, "hframe: bench: %lu connections need %lu file "
                "descriptors; the limit is %lu\n", conns,
                (unsigned long)need, (unsigned long)rl.rlim_max);
        return -1;
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "hframe: bench: cannot raise the file descriptor "
                "limit: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

/* One request on one connection: the server answers, and for search the
 * answer becomes the expectation unless --expect set it. */
static int probe(bench_run *run)
{
    bench_cfg pc = *run->cfg;
    const bench_cfg *saved = run->cfg;
    bench_worker *ws;
    int rc = -1;

    pc.conns = 1;
    pc.threads = 1;
    pc.pipeline = 1;
    pc.requests = 1;
    pc.new_conn = 1;
    run->cfg = &pc;
    run->learn = run->want == NULL;
    ws = workers_new(run, 1, 1, 1);
    if (ws == NULL) {
        fputs("hframe: bench: out of memory\n", stderr);
        run->cfg = saved;
        return -1;
    }
    if (run_workers(ws, 1, 0) == 0) {
        if (atomic_load(&ws[0].ok) == 1 && (run->want != NULL ||
                                            run->learnt != NULL)) {
            rc = 0;
        } else {
            fprintf(stderr, "hframe: bench: %s port %s: probe request "
                    "failed: %s\n", saved->host, saved->port,
                    ws[0].first_error[0] != '\0' ? ws[0].first_error
                    : "the answer is not a search result");
        }
    }
    if (rc == 0 && run->want == NULL) {
        run->want = run->learnt;
        run->want_len = run->learnt_len;
        run->learnt = NULL;
    }
    run->learn = 0;
    workers_free(ws, 1);
    run->cfg = saved;
    return rc;
}

int hf_cmd_bench(int argc, char **argv)
{
    bench_cfg cfg;
    bench_run run;
    bench_worker *ws = NULL;
    bench_result res;
    hist *lat = NULL;
    struct sigaction sa, old_int;
    unsigned long t, nw;
    uint64_t end = 0;
    double cpu0, cpu1;
    size_t i;
    int rc;

    rc = bench_parse_args(argc, argv, &cfg);
    if (rc == 1)
        return fflush(stdout) == 0 || errno == EPIPE ? 0 : 1;
    if (rc != 0)
        return 2;

    memset(&run, 0, sizeof run);
    run.cfg = &cfg;
    atomic_init(&run.stop, 0);
    if (raise_fd_limit(cfg.conns) != 0)
        return 1;
    if (build_request(&run) != 0) {
        fputs("hframe: bench: cannot build the request (out of memory or "
              "too large)\n", stderr);
        rc = 1;
        goto out;
    }
    if (resolve(&run) != 0 || probe(&run) != 0) {
        rc = 1;
        goto out;
    }

    nw = cfg.threads;
    ws = workers_new(&run, nw, cfg.conns, cfg.requests);
    lat = calloc(1, sizeof *lat);
    if (ws == NULL || lat == NULL) {
        fputs("hframe: bench: out of memory\n", stderr);
        rc = 1;
        goto out;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old_int);
    cpu0 = cpu_now();
    rc = run_workers(ws, nw, isatty(STDERR_FILENO));
    cpu1 = cpu_now();
    sigaction(SIGINT, &old_int, NULL);
    if (rc != 0) {
        rc = 1;
        goto out;
    }

    memset(&res, 0, sizeof res);
    res.lat = lat;
    res.cpu_seconds = cpu1 - cpu0;
    for (t = 0; t < nw; t++) {
        res.ok += atomic_load(&ws[t].ok);
        res.failed += atomic_load(&ws[t].failed);
        for (i = 0; i < ERR_KINDS; i++)
            res.err[i] += ws[t].err[i];
        res.bytes_out += ws[t].bytes_out;
        res.bytes_in += ws[t].bytes_in;
        res.connects += ws[t].connects;
        bench_hist_merge(lat, &ws[t].lat);
        if (ws[t].end_ns > end)
            end = ws[t].end_ns;
        if (res.first_error == NULL && ws[t].first_error[0] != '\0')
            res.first_error = ws[t].first_error;
    }
    res.seconds = end > run.start_ns ? (double)(end - run.start_ns) / 1e9
                                     : 0.0;
    if (cfg.json)
        print_json(&cfg, &run, &res);
    else
        print_text(&cfg, &run, &res);
    if (res.first_error != NULL)
        fprintf(stderr, "hframe: bench: %llu errors; first: %s\n",
                (unsigned long long)res.failed, res.first_error);
    rc = res.failed > 0 ? 1 : 0;
    /* A reader that went away (| head) ends us quietly. */
    if ((fflush(stdout) != 0 || ferror(stdout)) && errno != EPIPE) {
        fprintf(stderr, "hframe: bench: write error: %s\n",
                strerror(errno));
        rc = 1;
    }
out:
    workers_free(ws, cfg.threads);
    free(lat);
    free(run.req);
    free(run.want);
    free(run.learnt);
    return rc;
}
