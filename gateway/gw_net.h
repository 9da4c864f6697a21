/*
 * gw_net.h - the gateway's sockets and files outside the event loop:
 * listening sockets, upstream addresses, the port and pid files.
 *
 * Errors are logged here (gw_log) with what was asked for and why it
 * failed; callers only see -1.
 */
#ifndef GW_NET_H
#define GW_NET_H

#include <stddef.h>

#include "gw_loop.h"

typedef struct gw_listeners {
    int fd[GW_LISTEN_MAX];
    size_t n;
    unsigned port;          /* the port actually bound */
} gw_listeners;

/* gw_listeners_open's reuseport: share the port (SO_REUSEPORT) with the
 * sockets bound first (a worker's), or bind it first for workers to
 * share, refusing a port another process holds even with SO_REUSEPORT. */
#define GW_REUSEPORT_JOIN 1
#define GW_REUSEPORT_FIRST 2

/*
 * Bind every address host ("" for any, "[::1]" accepted) and port
 * resolve to, non-blocking and close-on-exec; with port "0" the first
 * socket picks the port and the others take the same one. reuseport: 0,
 * or GW_REUSEPORT_JOIN or _FIRST above; with do_listen 0 the sockets are
 * bound only, which holds the port without taking clients.
 */
int gw_listeners_open(const char *host, const char *port, int reuseport,
                      int do_listen, gw_listeners *ls);

void gw_listeners_close(gw_listeners *ls);

/* "host:port" or "[v6]:port" -> the first IPv4 or IPv6 address it
 * resolves to. -1 with a message on stderr. */
int gw_upstream_resolve(const char *spec, gw_upstream *u);

/* Non-zero when connecting to u would reach one of ls: the same address
 * and port, or the port of a socket bound to every address and an
 * address of this host. */
int gw_upstream_is_self(const gw_upstream *u, const gw_listeners *ls);

/* Write "VALUE\n" to path atomically (a new temporary file beside it,
 * then rename). */
int gw_write_number_file(const char *path, const char *what, long value);

/* Remove path when it still holds value: another process may have
 * written its own since (a second gateway given the same file). */
void gw_remove_number_file(const char *path, long value);

/* The addresses ls is bound to, "127.0.0.1:P, [::1]:P", into buf.
 * Returns buf. */
const char *gw_listeners_name(const gw_listeners *ls, char *buf,
                              size_t cap);

#endif /* GW_NET_H */
