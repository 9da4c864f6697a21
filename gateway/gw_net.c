/* gw_net.c - listening sockets, upstream addresses, port and pid files. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "gw_log.h"
#include "gw_net.h"
#include "gw_options.h"

void gw_listeners_close(gw_listeners *ls)
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
    return util_addr_port((struct sockaddr *)&ss);
}

static int set_port(struct sockaddr *sa, unsigned port)
{
    if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
    return 0;
}

static int open_one(const struct addrinfo *ai, int reuseport, int do_listen)
{
    int fd, one = 1, fl;

    /* A socket with SO_REUSEPORT shares its port with any other process
     * of the user that sets it too: a second gateway started by mistake
     * would quietly take half the clients. The first to bind a port for
     * workers first binds it without sharing, to find it free. */
    if (reuseport == GW_REUSEPORT_FIRST &&
        util_addr_port(ai->ai_addr) != 0) {
        fd = open_one(ai, 0, 0);
        if (fd < 0)
            return -1;
        close(fd);
    }
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
                SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
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
    return fd;
fail:
    fl = errno;
    close(fd);
    errno = fl;
    return -1;
}

int gw_listeners_open(const char *host, const char *port, int reuseport,
                      int do_listen, gw_listeners *ls)
{
    char name[UTIL_HOST_MAX], msg[UTIL_MSG_MAX];
    struct addrinfo *res, *ai;
    int fd;

    ls->n = 0;
    ls->port = 0;
    if (host[0] != '\0' && util_unbracket(host, name, sizeof name) != 0) {
        gw_log(GW_LOG_ERROR, "cannot listen on '%s': bad host", host);
        return -1;
    }
    if (util_resolve(host[0] == '\0' ? NULL : name, port, 1, &res, msg,
                     sizeof msg) != 0) {
        gw_log(GW_LOG_ERROR, "%s", msg);
        return -1;
    }
    for (ai = res; ai != NULL && ls->n < GW_LISTEN_MAX; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        /* Same port for every family once the first one chose it. */
        if (ls->port != 0)
            set_port(ai->ai_addr, ls->port);
        fd = open_one(ai, reuseport, do_listen);
        if (fd < 0) {
            gw_log(GW_LOG_ERROR, "cannot listen on '%s' port %s: %s", host,
                   port, strerror(errno));
            freeaddrinfo(res);
            gw_listeners_close(ls);
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

static int bad_upstream(const char *spec, const char *why)
{
    fprintf(stderr, GW_PROG ": invalid value '%s' for --upstream: %s\n",
            spec, why);
    return -1;
}

int gw_upstream_resolve(const char *spec, gw_upstream *u)
{
    char host[UTIL_HOST_MAX], msg[UTIL_MSG_MAX];
    const char *port;
    struct addrinfo *res, *ai;

    if (util_split_hostport(spec, host, sizeof host, &port, msg,
                            sizeof msg) != 0)
        return bad_upstream(spec, msg);
    if (util_resolve(host, port, 0, &res, msg, sizeof msg) != 0)
        return bad_upstream(spec, msg);
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
            ai->ai_addrlen <= sizeof u->addr)
            break;
    }
    if (ai == NULL || util_addr_port(ai->ai_addr) == 0) {
        freeaddrinfo(res);
        return bad_upstream(spec, ai == NULL ? "no IPv4 or IPv6 address"
                                             : "port 0 cannot be reached");
    }
    memset(u, 0, sizeof *u);
    memcpy(&u->addr, ai->ai_addr, ai->ai_addrlen);
    u->addr_len = (socklen_t)ai->ai_addrlen;
    snprintf(u->name, sizeof u->name, "%s", spec);
    freeaddrinfo(res);
    return 0;
}

/* The address part of sa: its bytes and length, or NULL. */
static const void *addr_bytes(const struct sockaddr *sa, size_t *len)
{
    if (sa->sa_family == AF_INET) {
        *len = 4;
        return &((const struct sockaddr_in *)sa)->sin_addr;
    }
    if (sa->sa_family == AF_INET6) {
        *len = 16;
        return &((const struct sockaddr_in6 *)sa)->sin6_addr;
    }
    return NULL;
}

static int is_any(const void *a, size_t len)
{
    static const unsigned char zero[16];

    return memcmp(a, zero, len) == 0;
}

/* An address of this host: one a socket can be bound to. */
static int is_local(const struct sockaddr *sa, socklen_t len)
{
    struct sockaddr_storage ss;
    int fd, rc;

    memcpy(&ss, sa, len);
    set_port((struct sockaddr *)&ss, 0);
    fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    rc = bind(fd, (struct sockaddr *)&ss, len);
    close(fd);
    return rc == 0;
}

int gw_upstream_is_self(const gw_upstream *u, const gw_listeners *ls)
{
    const struct sockaddr *up = (const struct sockaddr *)&u->addr;
    size_t i, ulen, llen;
    const void *ua = addr_bytes(up, &ulen);

    for (i = 0; ua != NULL && i < ls->n; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        const void *la;

        if (getsockname(ls->fd[i], (struct sockaddr *)&ss, &sl) != 0 ||
            ss.ss_family != up->sa_family ||
            util_addr_port((struct sockaddr *)&ss) != util_addr_port(up))
            continue;
        la = addr_bytes((struct sockaddr *)&ss, &llen);
        if (la == NULL)
            continue;
        if (memcmp(la, ua, ulen) == 0 ||
            (is_any(la, llen) && is_local(up, u->addr_len)))
            return 1;
    }
    return 0;
}

const char *gw_listeners_name(const gw_listeners *ls, char *buf,
                              size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char one[64];
    size_t i, n = 0;
    int k;

    buf[0] = '\0';
    for (i = 0; i < ls->n && n < cap; i++) {
        len = sizeof ss;
        if (getsockname(ls->fd[i], (struct sockaddr *)&ss, &len) != 0)
            continue;
        k = snprintf(buf + n, cap - n, "%s%s", n > 0 ? ", " : "",
                     util_addr_name((struct sockaddr *)&ss, one,
                                    sizeof one));
        n += k > 0 ? (size_t)k : 0;
    }
    return buf;
}

/* A temporary file beside path, made anew (O_EXCL: never an existing
 * file, nor one a link there points at), then renamed over path. */
int gw_write_number_file(const char *path, const char *what, long value)
{
    char tmp[4096], text[32];
    int fd, n, ok;

    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
        gw_log(GW_LOG_ERROR, "cannot write %s %s: name too long", what,
               path);
        return -1;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        gw_log(GW_LOG_ERROR, "cannot write %s %s: %s", what, tmp,
               strerror(errno));
        return -1;
    }
    n = snprintf(text, sizeof text, "%ld\n", value);
    ok = fchmod(fd, 0644) == 0 && write(fd, text, (size_t)n) == n;
    if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
        gw_log(GW_LOG_ERROR, "cannot write %s %s: %s", what, path,
               strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

void gw_remove_number_file(const char *path, long value)
{
    char text[32];
    FILE *f = fopen(path, "re");
    long v;
    int ours;

    if (f == NULL)
        return;
    ours = fgets(text, sizeof text, f) != NULL &&
           sscanf(text, "%ld", &v) == 1 && v == value;
    fclose(f);
    if (ours)
        unlink(path);
}
