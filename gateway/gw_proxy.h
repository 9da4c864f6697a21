/*
 * gw_proxy.h - the PROXY protocol header a load balancer puts in front of
 * a connection (HAProxy's PROXY protocol, versions 1 and 2), parsed
 * without I/O.
 *
 * Version 1 is one text line of at most 107 bytes:
 *   "PROXY TCP4 192.0.2.1 198.51.100.7 51234 65432\r\n"
 *   "PROXY TCP6 2001:db8::1 2001:db8::2 51234 65432\r\n"
 *   "PROXY UNKNOWN[anything]\r\n"
 * Version 2 is binary: the 12-byte signature
 *   0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A,
 * a version/command byte (0x20 LOCAL, 0x21 PROXY), a family/transport
 * byte (high nibble 0 unspecified, 1 IPv4, 2 IPv6, 3 Unix; low nibble 0
 * unspecified, 1 stream, 2 datagram), a big-endian length L, then L bytes:
 * the addresses (IPv4: 4 + 4 + 2 + 2, IPv6: 16 + 16 + 2 + 2, Unix: 108 +
 * 108) followed by type-length-value records, which are checked for shape
 * and otherwise ignored.
 *
 * Strictness: single spaces, ports in decimal without leading zeros,
 * addresses as inet_pton(3) reads them, CRLF at the end; a version 2
 * header must be version 2 with a known command, family and transport,
 * long enough for its addresses, and its records must fill it exactly.
 */
#ifndef GW_PROXY_H
#define GW_PROXY_H

#include <stddef.h>
#include <stdint.h>

/* Longest version 1 line, CRLF included (the protocol's own bound). */
#define GW_PROXY_V1_MAX 107

/* Longest version 2 header accepted: the 16 fixed bytes, Unix addresses
 * and room for the records load balancers add (TLS details, ids). */
#define GW_PROXY_V2_MAX (16 + 2048)

/* Bytes a caller must be able to hold to parse any accepted header. */
#define GW_PROXY_MAX GW_PROXY_V2_MAX

typedef enum gw_proxy_status {
    GW_PROXY_OK = 0,
    GW_PROXY_NEED_MORE,     /* a valid beginning: more bytes needed */
    GW_PROXY_E_SIGNATURE,   /* neither "PROXY " nor the v2 signature */
    GW_PROXY_E_V1_TOO_LONG, /* no CRLF within 107 bytes */
    GW_PROXY_E_V1_SYNTAX,   /* v1 line malformed */
    GW_PROXY_E_V2_VERSION,  /* v2 version nibble is not 2 */
    GW_PROXY_E_V2_COMMAND,  /* v2 command neither LOCAL nor PROXY */
    GW_PROXY_E_V2_FAMILY,   /* v2 family or transport unknown */
    GW_PROXY_E_V2_LENGTH,   /* v2 too long, too short for its addresses,
                               or records that do not fill it */
    GW_PROXY_STATUS_COUNT
} gw_proxy_status;

/* What a complete header says. */
typedef struct gw_proxy_info {
    int version;            /* 1 or 2 */
    int family;             /* AF_INET or AF_INET6 when addresses are
                               given; AF_UNSPEC for LOCAL, UNKNOWN, Unix
                               or unspecified (keep the socket's own) */
    unsigned char src_addr[16];  /* network byte order; 4 bytes for IPv4 */
    unsigned char dst_addr[16];
    uint16_t src_port;
    uint16_t dst_port;
    size_t len;             /* bytes the header takes */
} gw_proxy_info;

/*
 * Parse the header at buf[0..len). GW_PROXY_OK fills *out (out->len
 * bytes belong to the header; what follows is the connection's data);
 * GW_PROXY_NEED_MORE when every byte so far is a valid beginning (at
 * most GW_PROXY_MAX bytes are ever needed); an error otherwise, as soon
 * as a byte shows it. Reads only buf[0..len); no allocation.
 */
gw_proxy_status gw_proxy_parse(const unsigned char *buf, size_t len,
                               gw_proxy_info *out);

/* Longest header gw_proxy_write_v2 writes (IPv6 addresses). */
#define GW_PROXY_V2_OUT_MAX (16 + 36)

/*
 * Write a version 2 header for info (family AF_INET or AF_INET6: a PROXY
 * command with those addresses and ports over TCP; anything else: a
 * LOCAL command without addresses) into out, which has room for
 * GW_PROXY_V2_OUT_MAX bytes. Returns its length; info->version and
 * info->len are not read. gw_proxy_parse reads back the same addresses.
 */
size_t gw_proxy_write_v2(const gw_proxy_info *info, unsigned char *out);

/* Stable kebab-case name ("v1-syntax"); static, never NULL. */
const char *gw_proxy_status_name(gw_proxy_status st);

#endif /* GW_PROXY_H */
