/*
 * ref_server.c - the trivial reference server `make bench` measures the
 * gateway against: the least work a server can do and still speak the
 * protocol, so the ratio gateway/ref_server shows what the gateway's
 * checking, logging and bookkeeping cost.
 *
 *   ref_server [HOST] PORT      (PORT 0: an ephemeral port, printed on
 *                                stdout as "port N")
 *
 * One thread, epoll, level-triggered. It trusts its clients: it finds
 * "content-length" and "text/json" in the header by scanning, without
 * parsing or validating the JSON. Every text/json request gets one fixed
 * frame, the tutorial's answer for "morpheus"; any other content type
 * gets "First 10 bytes of request: " and the first 10 content bytes, as
 * the gateway answers. Content is streamed through (only 10 bytes kept),
 * so large requests cost no memory. Not a server to deploy.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hframe.h"

/* Events handled per epoll_wait(). */
#define EVENTS_MAX 256
/* Bytes read per recv(). */
#define READ_BUF 65536
/* Output a connection may queue before the server stops reading it. */
#define OUT_MAX (256 * 1024)

enum { ST_PREFIX, ST_HEADER, ST_CONTENT };

typedef struct ref_conn {
    int fd;
    int state;
    unsigned char prefix[2];
    size_t need;             /* bytes still needed in this state */
    size_t have;             /* bytes gathered in this state */
    unsigned char *hdr;      /* header bytes (HF_HEADER_MAX) */
    int is_json;
    uint64_t content_left;
    unsigned char first[10];
    size_t nfirst;
    unsigned char *out;
    size_t out_len;
    size_t out_off;
    size_t out_cap;
    unsigned mask;           /* epoll events registered */
} ref_conn;

static unsigned char json_answer[256];
static size_t json_answer_len;
static unsigned char rbuf[READ_BUF];
static int epfd;

static int out_append(ref_conn *c, const void *p, size_t n)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (n > c->out_cap - c->out_len) {
        size_t cap = c->out_cap > 0 ? c->out_cap : 4096;
        unsigned char *q;

        while (cap - c->out_len < n)
            cap *= 2;
        q = realloc(c->out, cap);
        if (q == NULL)
            return -1;
        c->out = q;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

/* The header is complete: find the two fields we need by scanning. */
static int header_done(ref_conn *c)
{
    static const char cl[] = "\"content-length\"";
    static const char tj[] = "\"text/json\"";
    size_t n = c->need, i;
    uint64_t v = 0;
    int found = 0;

    c->is_json = 0;
    for (i = 0; i + sizeof tj - 1 <= n; i++)
        if (memcmp(c->hdr + i, tj, sizeof tj - 1) == 0)
            c->is_json = 1;
    for (i = 0; i + sizeof cl - 1 <= n; i++) {
        if (memcmp(c->hdr + i, cl, sizeof cl - 1) != 0)
            continue;
        i += sizeof cl - 1;
        while (i < n && (c->hdr[i] == ' ' || c->hdr[i] == ':'))
            i++;
        while (i < n && c->hdr[i] >= '0' && c->hdr[i] <= '9' &&
               v < HF_CONTENT_LIMIT_MAX) {
            v = v * 10 + (uint64_t)(c->hdr[i] - '0');
            i++;
            found = 1;
        }
        break;
    }
    if (!found)
        return -1;
    c->content_left = v;
    c->nfirst = 0;
    return 0;
}

static int answer(ref_conn *c)
{
    static const char pre[] = "First 10 bytes of request: ";
    unsigned char buf[HF_PREFIX_LEN + 256 + sizeof pre + 10];
    unsigned char content[sizeof pre + 10];
    hf_header h;
    size_t n;

    if (c->is_json)
        return out_append(c, json_answer, json_answer_len);
    memcpy(content, pre, sizeof pre - 1);
    memcpy(content + sizeof pre - 1, c->first, c->nfirst);
    hf_header_init(&h, "binary/custom-server-binary-type", "binary");
    if (hf_encode(&h, content, sizeof pre - 1 + c->nfirst, buf, sizeof buf,
                  &n) != HF_OK)
        return -1;
    return out_append(c, buf, n);
}

/* Feed received bytes through the tiny state machine. */
static int consume(ref_conn *c, const unsigned char *p, size_t n)
{
    size_t take;

    while (n > 0 || (c->state == ST_CONTENT && c->content_left == 0)) {
        switch (c->state) {
        case ST_PREFIX:
            c->prefix[c->have++] = *p++;
            n--;
            if (c->have == 2) {
                c->need = (size_t)c->prefix[0] << 8 | c->prefix[1];
                c->have = 0;
                c->state = ST_HEADER;
                if (c->need < HF_HEADER_MIN)
                    return -1;
            }
            break;
        case ST_HEADER:
            take = c->need - c->have < n ? c->need - c->have : n;
            memcpy(c->hdr + c->have, p, take);
            c->have += take;
            p += take;
            n -= take;
            if (c->have == c->need) {
                if (header_done(c) != 0)
                    return -1;
                c->state = ST_CONTENT;
            }
            break;
        default:
            take = c->content_left < n ? (size_t)c->content_left : n;
            if (c->nfirst < 10) {
                size_t k = 10 - c->nfirst < take ? 10 - c->nfirst : take;

                memcpy(c->first + c->nfirst, p, k);
                c->nfirst += k;
            }
            c->content_left -= take;
            p += take;
            n -= take;
            if (c->content_left == 0) {
                if (answer(c) != 0)
                    return -1;
                c->state = ST_PREFIX;
                c->have = 0;
            }
            break;
        }
    }
    return 0;
}

static void conn_free(ref_conn *c)
{
    close(c->fd);
    free(c->hdr);
    free(c->out);
    free(c);
}

static void set_interest(ref_conn *c)
{
    struct epoll_event ev;
    size_t pending = c->out_len - c->out_off;
    unsigned mask;

    /* Stop reading while output piles up (a client that does not read),
     * ask for writability only while output waits. */
    mask = (pending <= OUT_MAX ? (unsigned)EPOLLIN : 0u) |
           (pending > 0 ? (unsigned)EPOLLOUT : 0u);
    if (mask == c->mask)
        return;
    memset(&ev, 0, sizeof ev);
    ev.events = mask;
    ev.data.ptr = c;
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->mask = mask;
}

static int flush_out(ref_conn *c)
{
    ssize_t w;

    while (c->out_off < c->out_len) {
        w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                 MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            return -1;
        }
        c->out_off += (size_t)w;
    }
    set_interest(c);
    return 0;
}

static int on_readable(ref_conn *c)
{
    ssize_t r;

    for (;;) {
        r = recv(c->fd, rbuf, sizeof rbuf, 0);
        if (r == 0)
            return -1;
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (consume(c, rbuf, (size_t)r) != 0)
            return -1;
        if ((size_t)r < sizeof rbuf)
            break;
    }
    return flush_out(c);
}

static void on_accept(int lfd)
{
    struct epoll_event ev;
    ref_conn *c;
    int fd, one = 1;

    for (;;) {
        fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            return; /* EAGAIN, or EMFILE: try again on the next event */
        c = calloc(1, sizeof *c);
        if (c != NULL)
            c->hdr = malloc(HF_HEADER_MAX);
        if (c == NULL || c->hdr == NULL ||
            fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
            if (c != NULL)
                free(c->hdr);
            free(c);
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        c->mask = EPOLLIN;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
            conn_free(c);
    }
}

static int listen_on(const char *host, const char *port)
{
    struct addrinfo hints, *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char pbuf[16];
    int fd, one = 1;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) {
        fprintf(stderr, "ref_server: cannot resolve %s\n", host);
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, 4096) != 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        perror("ref_server: listen");
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    freeaddrinfo(res);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        getnameinfo((struct sockaddr *)&ss, sl, NULL, 0, pbuf, sizeof pbuf,
                    NI_NUMERICSERV) == 0) {
        printf("port %s\n", pbuf);
        fflush(stdout);
    }
    return fd;
}

int main(int argc, char **argv)
{
    static const char result[] = "{\"result\": \"Follow the white rabbit. "
                                 "\xf0\x9f\x90\xb0\"}";
    struct epoll_event ev, evs[EVENTS_MAX];
    hf_header h;
    int lfd, n, i;

    if (argc < 2 || argc > 3) {
        fputs("usage: ref_server [HOST] PORT\n", stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    hf_header_init(&h, "text/json", "utf-8");
    if (hf_encode(&h, result, sizeof result - 1, json_answer,
                  sizeof json_answer, &json_answer_len) != HF_OK) {
        fputs("ref_server: cannot encode the answer\n", stderr);
        return 1;
    }
    lfd = listen_on(argc == 3 ? argv[1] : "127.0.0.1", argv[argc - 1]);
    if (lfd < 0)
        return 1;
    epfd = epoll_create1(0);
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) != 0) {
        perror("ref_server: epoll");
        return 1;
    }
    for (;;) {
        n = epoll_wait(epfd, evs, EVENTS_MAX, -1);
        if (n < 0 && errno != EINTR) {
            perror("ref_server: epoll_wait");
            return 1;
        }
        for (i = 0; i < n; i++) {
            ref_conn *c = evs[i].data.ptr;
            int bad = 0;

            if (c == NULL) {
                on_accept(lfd);
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                bad = on_readable(c) != 0;
            else if (evs[i].events & EPOLLOUT)
                bad = flush_out(c) != 0;
            if (bad)
                conn_free(c);
        }
    }
}
