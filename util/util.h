/*
 * util.h - what the hframe command and hframe-gateway share beyond the
 * codec: one strict parser for numbers, sizes and durations, one
 * "host:port" syntax and resolver, socket address names, and yajl's
 * error text. A small static library (libutil.a), not part of libhframe:
 * the codec knows nothing of command lines or sockets.
 *
 * Syntax (the same for every option of both programs, hframe(1)):
 *   number    decimal digits only: "0", "65535"
 *   size      a number of bytes, optionally followed by k, M or G
 *             (powers of 1024; "KiB", "MiB", "GiB" also read): "65536",
 *             "64k", "16M"
 *   duration  seconds with up to 6 decimals, optionally followed by s or
 *             ms: "10", "1.5", "2s", "250ms"; kept in microseconds.
 *             "0" means "off" where the option says so.
 *   address   "host:port", "[v6addr]:port"; the port is a number or a
 *             service name ("http")
 *
 * Ownership: nothing here allocates except util_resolve (freed with
 * freeaddrinfo) and nothing keeps state between calls.
 */
#ifndef HF_UTIL_H
#define HF_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct addrinfo;

/* What a value on a command line is. */
typedef enum util_kind {
    UTIL_NUMBER,
    UTIL_SIZE,
    UTIL_DURATION       /* microseconds */
} util_kind;

/* Room for any message of this module. */
#define UTIL_MSG_MAX 256

/* Longest host name or address text util_split_hostport keeps. */
#define UTIL_HOST_MAX 256

/* Longest "[v6]:port" text of a socket address, NUL included. */
#define UTIL_ADDR_MAX 64

/* Microseconds in a second, for durations. */
#define UTIL_SEC ((uint64_t)1000000)

/* Strict decimal: digits only (no sign, space or suffix), within
 * [min, max]. 0 on success, -1 otherwise (*out untouched). */
int util_parse_u64(const char *s, uint64_t min, uint64_t max,
                   uint64_t *out);

/* A size ("64k", "16M", "65536") in bytes, within [min, max]. */
int util_parse_size(const char *s, uint64_t min, uint64_t max,
                    uint64_t *out);

/* A duration ("250ms", "2s", "1.5") in microseconds, within [min, max]. */
int util_parse_duration(const char *s, uint64_t min, uint64_t max,
                        uint64_t *out);

/*
 * The one way a program reads an option's value: parse val as kind within
 * [min, max]. On failure, 0 is not returned and msg gets the one wording
 * both programs use:
 *   invalid value 'VAL' for NAME: expected a size from 1 to 16M (bytes,
 *   or with k, M, G)
 * For durations, zero_off says that 0 turns the option off (shown in the
 * message). Returns 0 or -1.
 */
int util_parse_value(util_kind kind, const char *name, const char *val,
                     uint64_t min, uint64_t max, int zero_off,
                     uint64_t *out, char *msg, size_t cap);

/* After getopt_long returned '?' with optopt for arg (argv[optind - 1]):
 * the length of "--name" when arg is "--name=value" for a known option
 * that takes no value (optopt is then not 0), else 0. */
size_t util_flag_with_value(const char *arg, int optopt);

/* v as its shortest exact text in the kind's syntax ("16M", "250ms",
 * "1.5s", "65535"). Returns buf. */
const char *util_format(util_kind kind, uint64_t v, char *buf, size_t cap);

/*
 * "host:port" or "[v6]:port" into host (brackets removed) and *port (a
 * pointer into spec, after the last colon). A host without brackets may
 * not hold a colon, so "::1:80" is refused: write "[::1]:80". 0 on
 * success; -1 with msg set ("invalid address 'SPEC': " and what is
 * wrong: the port or the host missing, a bracket, a bare IPv6 address).
 * The port is only split off: util_resolve checks it.
 */
int util_split_hostport(const char *spec, char *host, size_t host_cap,
                        const char **port, char *msg, size_t cap);

/* A host given alone (a command operand): "[::1]" -> "::1", anything
 * else copied. 0, or -1 when it does not fit or is empty. */
int util_unbracket(const char *s, char *host, size_t host_cap);

/*
 * getaddrinfo for a TCP stream: host may be NULL with passive (any
 * address), port a number from 0 to 65535 or a service name. 0 with *res
 * set (free it with freeaddrinfo); -1 with msg ("invalid port 'p': ..."
 * or "cannot resolve 'h' port 'p': ...").
 */
int util_resolve(const char *host, const char *port, int passive,
                 struct addrinfo **res, char *msg, size_t cap);

/* util_resolve_within: the lookup took longer than its time. */
#define UTIL_RESOLVE_TIMEOUT (-2)

/*
 * util_resolve for a client (host not NULL, not passive) that waits at
 * most timeout_us microseconds (0: as long as the lookup takes). A
 * name lookup can take many seconds (a resolver that does not answer
 * is asked again), so it runs on a thread of its own; when the time is
 * up the caller goes on and the thread frees what it finds. 0 with
 * *res set, -1 as util_resolve, or UTIL_RESOLVE_TIMEOUT with msg
 * ("cannot resolve 'h': no answer within T").
 */
int util_resolve_within(const char *host, const char *port,
                        uint64_t timeout_us, struct addrinfo **res,
                        char *msg, size_t cap);

/* "1.2.3.4:80", "[::1]:80" or "unknown". Returns buf. */
const char *util_addr_name(const struct sockaddr *sa, char *buf,
                           size_t cap);

/* The port of an AF_INET/AF_INET6 address, 0 for others. */
unsigned util_addr_port(const struct sockaddr *sa);

/*
 * yajl's message for the error of handle h (a yajl_handle), without its
 * trailing newline, into buf (always NUL-terminated). Returns buf.
 */
const char *util_yajl_error(void *h, char *buf, size_t cap);

#endif /* HF_UTIL_H */
