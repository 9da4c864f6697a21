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

/* msg = "invalid address 'SPEC': WHY"; returns -1. */
static int bad_address(const char *spec, const char *why, char *msg,
                       size_t cap)
{
    snprintf(msg, cap, "invalid address '%s': %s", spec, why);
    return -1;
}

int util_split_hostport(const char *spec, char *host, size_t host_cap,
                        const char **port, char *msg, size_t cap)
{
    const char *h = spec, *end, *colon = strrchr(spec, ':');
    char why[UTIL_MSG_MAX];
    size_t hlen;

    if (spec[0] == '[') {
        h = spec + 1;
        end = strchr(h, ']');
        if (end == NULL)
            return bad_address(spec, "'[' without its ']'", msg, cap);
        if (end[1] != '\0' && end[1] != ':')
            return bad_address(spec, "expected ':' and the port after ']'",
                               msg, cap);
        colon = end[1] == ':' ? end + 1 : NULL;
    } else {
        end = colon;
    }
    if (colon == NULL || colon[1] == '\0')
        return bad_address(spec, "the port is missing (expected "
                           "host:port or [v6addr]:port)", msg, cap);
    hlen = (size_t)(end - h);
    if (hlen == 0)
        return bad_address(spec, "the host is missing", msg, cap);
    if (spec[0] != '[' && (memchr(h, '[', hlen) != NULL ||
                           memchr(h, ']', hlen) != NULL))
        return bad_address(spec, "brackets go around a whole IPv6 "
                           "address, as in [::1]:80", msg, cap);
    if (spec[0] != '[' && memchr(h, ':', hlen) != NULL) {
        /* Split before "::": the last group cannot be the port ("::1",
         * "fe80::1" are addresses without one), so the whole text goes
         * in the brackets. */
        if (h[hlen - 1] == ':')
            snprintf(why, sizeof why, "an IPv6 address goes in brackets, "
                     "the port after them, as in [%.64s]:PORT", spec);
        else
            snprintf(why, sizeof why, "an IPv6 address goes in brackets, "
                     "as in [%.*s]:%s", (int)(hlen > 64 ? 64 : hlen), h,
                     colon + 1);
        return bad_address(spec, why, msg, cap);
    }
    if (hlen >= host_cap) {
        snprintf(msg, cap, "invalid address '%.64s...': host name too long",
                 spec);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = colon + 1;
    return 0;
}

int util_resolve(const char *host, const char *port, int passive,
                 struct addrinfo **res, char *msg, size_t cap)
{
    struct addrinfo hints;
    uint64_t num;
    int rc;

    /* getaddrinfo takes 99999 and wraps it: a number must be a port. */
    if (port[strspn(port, "0123456789")] == '\0' &&
        util_parse_u64(port, 0, 65535, &num) != 0) {
        snprintf(msg, cap, "invalid port '%s': expected a number from 0 to "
                 "65535 or a service name", port);
        return -1;
    }
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
             rc == EAI_SYSTEM ? "system error"
             : rc == EAI_SERVICE ? "no such service (see /etc/services)"
             : gai_strerror(rc));
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
