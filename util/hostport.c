/* hostport.c - "host:port", name resolution, address names (util.h). */
#include "util.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int util_unbracket(const char *s, char *host, size_t host_cap)
{
    size_t n = strlen(s);

    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n == 0 || n >= host_cap)
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    return 0;
}

int util_split_hostport(const char *spec, char *host, size_t host_cap,
                        const char **port, char *msg, size_t cap)
{
    const char *colon = strrchr(spec, ':');
    size_t hlen;

    if (colon == NULL || colon[1] == '\0' || colon == spec) {
        snprintf(msg, cap, "invalid address '%s': expected host:port or "
                 "[v6addr]:port", spec);
        return -1;
    }
    hlen = (size_t)(colon - spec);
    if (spec[0] == '[' ? hlen < 3 || spec[hlen - 1] != ']'
                       : memchr(spec, ':', hlen) != NULL) {
        snprintf(msg, cap, "invalid address '%s': an IPv6 address goes in "
                 "brackets, as in [::1]:65432", spec);
        return -1;
    }
    if (spec[0] == '[') {
        spec++;
        hlen -= 2;
    }
    if (hlen >= host_cap) {
        snprintf(msg, cap, "invalid address '%.64s...': host name too long",
                 spec);
        return -1;
    }
    memcpy(host, spec, hlen);
    host[hlen] = '\0';
    *port = colon + 1;
    return 0;
}

int util_resolve(const char *host, const char *port, int passive,
                 struct addrinfo **res, char *msg, size_t cap)
{
    struct addrinfo hints;
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    rc = getaddrinfo(host, port, &hints, res);
    if (rc == 0)
        return 0;
    snprintf(msg, cap, "cannot resolve '%s' port '%s': %s",
             host == NULL ? "*" : host, port,
             rc == EAI_SYSTEM ? "system error" : gai_strerror(rc));
    return -1;
}

const char *util_addr_name(const struct sockaddr *sa, char *buf,
                           size_t cap)
{
    char host[INET6_ADDRSTRLEN];

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(buf, cap, "%s:%u", host, (unsigned)ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(buf, cap, "[%s]:%u", host,
                 (unsigned)ntohs(in6->sin6_port));
    } else {
        snprintf(buf, cap, "unknown");
    }
    return buf;
}

unsigned util_addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}
