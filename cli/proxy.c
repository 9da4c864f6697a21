/* proxy.c - the PROXY protocol header `request --proxy-protocol` sends
 * before its frames, so that a gateway run with --proxy-protocol can be
 * tested without another tool. Version 1 is one text line, version 2 a
 * binary block; both name this connection's own two ends. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The twelve bytes every version 2 header starts with. */
static const unsigned char v2_sig[12] = {
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static size_t proxy_v1(const struct sockaddr *src, const struct sockaddr *dst,
                       unsigned char *out, size_t cap)
{
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
    int v6 = src->sa_family == AF_INET6, n;
    const void *sa, *da;

    if (v6) {
        sa = &((const struct sockaddr_in6 *)src)->sin6_addr;
        da = &((const struct sockaddr_in6 *)dst)->sin6_addr;
    } else {
        sa = &((const struct sockaddr_in *)src)->sin_addr;
        da = &((const struct sockaddr_in *)dst)->sin_addr;
    }
    if (inet_ntop(src->sa_family, sa, s, sizeof(s)) == NULL ||
        inet_ntop(dst->sa_family, da, d, sizeof(d)) == NULL)
        return 0;
    n = snprintf((char *)out, cap, "PROXY %s %s %s %u %u\r\n",
                 v6 ? "TCP6" : "TCP4", s, d, util_addr_port(src),
                 util_addr_port(dst));
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static size_t proxy_v2(const struct sockaddr *src, const struct sockaddr *dst,
                       unsigned char *out, size_t cap)
{
    int v6 = src->sa_family == AF_INET6;
    size_t alen = v6 ? 16 : 4, len = 16 + 2 * alen + 4;
    unsigned char *p = out + 16;

    if (cap < len)
        return 0;
    memcpy(out, v2_sig, sizeof(v2_sig));
    out[12] = 0x21;                     /* version 2, PROXY */
    out[13] = v6 ? 0x21 : 0x11;         /* TCP over IPv6 or IPv4 */
    put16(out + 14, (unsigned)(2 * alen + 4));
    if (v6) {
        memcpy(p, &((const struct sockaddr_in6 *)src)->sin6_addr, 16);
        memcpy(p + 16, &((const struct sockaddr_in6 *)dst)->sin6_addr, 16);
    } else {
        memcpy(p, &((const struct sockaddr_in *)src)->sin_addr, 4);
        memcpy(p + 4, &((const struct sockaddr_in *)dst)->sin_addr, 4);
    }
    put16(p + 2 * alen, util_addr_port(src));
    put16(p + 2 * alen + 2, util_addr_port(dst));
    return len;
}

size_t cli_proxy_header(int version, const struct sockaddr *src,
                        const struct sockaddr *dst, unsigned char *out,
                        size_t cap)
{
    if (src->sa_family != dst->sa_family ||
        (src->sa_family != AF_INET && src->sa_family != AF_INET6))
        return 0;
    return version == 1 ? proxy_v1(src, dst, out, cap)
                        : proxy_v2(src, dst, out, cap);
}
