/*
 * fuzz_proxy_header.c - the PROXY protocol header parser
 * (gateway/gw_proxy.h).
 *
 * The input is the first bytes of a connection. Oracles:
 *  - the status is a known one; GW_PROXY_NEED_MORE only while fewer
 *    than GW_PROXY_MAX bytes are given (a caller's buffer of that size
 *    always suffices);
 *  - accepted: the header length lies inside the input and within the
 *    version's bound; a version 1 header starts with "PROXY " and ends
 *    with its first CRLF, and written out again from what the parser
 *    returned, it parses to the same result (for TCP4, to the same
 *    bytes); a version 2 header starts with the signature, its length is
 *    16 plus its length field, and the addresses returned are the bytes
 *    at their fixed places;
 *  - the bytes after the header do not matter: the header alone parses
 *    the same, and every shorter prefix needs more;
 *  - refused: no prefix gives another error, and every prefix is either
 *    refused the same way or needs more (an error is reported as soon as
 *    a byte shows it);
 *  - after an error the result is cleared;
 *  - gw_proxy_write_v2 of addresses taken from the input's first bytes
 *    writes a header that parses back to them.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz_util.h"
#include "gw_proxy.h"

static const unsigned char v2_sig[12] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

static int same_info(const gw_proxy_info *a, const gw_proxy_info *b)
{
    return a->version == b->version && a->family == b->family &&
           a->len == b->len && a->src_port == b->src_port &&
           a->dst_port == b->dst_port &&
           memcmp(a->src_addr, b->src_addr, sizeof a->src_addr) == 0 &&
           memcmp(a->dst_addr, b->dst_addr, sizeof a->dst_addr) == 0;
}

/* Write a version 1 TCP4/TCP6 line back from info and parse it. */
static void check_v1_roundtrip(const unsigned char *in,
                               const gw_proxy_info *info)
{
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    char line[160];
    gw_proxy_info again;
    int n;

    FZ_CHECK(inet_ntop(info->family, info->src_addr, src, sizeof src) !=
             NULL);
    FZ_CHECK(inet_ntop(info->family, info->dst_addr, dst, sizeof dst) !=
             NULL);
    n = snprintf(line, sizeof line, "PROXY %s %s %s %u %u\r\n",
                 info->family == AF_INET ? "TCP4" : "TCP6", src, dst,
                 (unsigned)info->src_port, (unsigned)info->dst_port);
    FZ_CHECK(n > 0 && (size_t)n < sizeof line);
    if (info->family == AF_INET) {
        /* Dotted quads have one spelling: the very same bytes. */
        FZ_CHECK((size_t)n == info->len);
        FZ_CHECK(memcmp(line, in, info->len) == 0);
    }
    if ((size_t)n > GW_PROXY_V1_MAX)
        return;     /* a longer spelling of the same IPv6 addresses */
    FZ_CHECK(gw_proxy_parse((const unsigned char *)line, (size_t)n,
                            &again) == GW_PROXY_OK);
    again.len = info->len;
    FZ_CHECK(same_info(&again, info));
}

static void check_accepted(const unsigned char *in, size_t size,
                           const gw_proxy_info *info)
{
    const unsigned char *cr;

    FZ_CHECK(info->len > 0 && info->len <= size);
    FZ_CHECK(info->len <= GW_PROXY_MAX);
    FZ_CHECK(info->family == AF_INET || info->family == AF_INET6 ||
             info->family == AF_UNSPEC);
    if (info->version == 1) {
        FZ_CHECK(info->len <= GW_PROXY_V1_MAX);
        FZ_CHECK(memcmp(in, "PROXY ", 6) == 0);
        cr = memchr(in, '\r', info->len);
        FZ_CHECK(cr != NULL && (size_t)(cr - in) == info->len - 2);
        FZ_CHECK(in[info->len - 1] == '\n');
        if (info->family != AF_UNSPEC)
            check_v1_roundtrip(in, info);
        return;
    }
    FZ_CHECK(info->version == 2);
    FZ_CHECK(info->len >= 16 && memcmp(in, v2_sig, 12) == 0);
    FZ_CHECK(info->len == 16 + ((size_t)in[14] << 8 | in[15]));
    FZ_CHECK(in[12] >> 4 == 2);
    if (info->family == AF_INET) {
        FZ_CHECK(in[12] == 0x21 && in[13] == 0x11);
        FZ_CHECK(memcmp(info->src_addr, in + 16, 4) == 0);
        FZ_CHECK(memcmp(info->dst_addr, in + 20, 4) == 0);
        FZ_CHECK(info->src_port == (in[24] << 8 | in[25]));
        FZ_CHECK(info->dst_port == (in[26] << 8 | in[27]));
    } else if (info->family == AF_INET6) {
        FZ_CHECK(in[12] == 0x21 && in[13] == 0x21);
        FZ_CHECK(memcmp(info->src_addr, in + 16, 16) == 0);
        FZ_CHECK(memcmp(info->dst_addr, in + 32, 16) == 0);
        FZ_CHECK(info->src_port == (in[48] << 8 | in[49]));
        FZ_CHECK(info->dst_port == (in[50] << 8 | in[51]));
    }
}

/* Prefixes to try: all of the first 128, then a spread of the rest
 * (every prefix of a 2 KiB input would make the harness quadratic). */
static size_t next_prefix(size_t k, size_t end)
{
    if (k < 128)
        return k + 1;
    k += 1 + (end - k) / 16;
    return k < end ? k : end;
}

/* Addresses and ports from the input's first bytes, written and read
 * back. */
static void check_writer(const unsigned char *in, size_t size)
{
    static const int families[4] = { AF_INET, AF_INET6, AF_UNSPEC,
                                     AF_UNIX };
    unsigned char out[GW_PROXY_V2_OUT_MAX];
    gw_proxy_info w, r;
    size_t n;

    if (size < 1 + 36)
        return;
    memset(&w, 0, sizeof w);
    w.family = families[in[0] & 3];
    memcpy(w.src_addr, in + 1, w.family == AF_INET ? 4 : 16);
    memcpy(w.dst_addr, in + 17, w.family == AF_INET ? 4 : 16);
    w.src_port = (uint16_t)(in[33] << 8 | in[34]);
    w.dst_port = (uint16_t)(in[35] << 8 | in[36]);
    n = gw_proxy_write_v2(&w, out);
    FZ_CHECK(n >= 16 && n <= sizeof out);
    FZ_CHECK(gw_proxy_parse(out, n, &r) == GW_PROXY_OK);
    FZ_CHECK(r.version == 2 && r.len == n);
    if (w.family != AF_INET && w.family != AF_INET6) {
        FZ_CHECK(r.family == AF_UNSPEC && n == 16);
        return;
    }
    w.version = 2;
    w.len = n;
    FZ_CHECK(same_info(&r, &w));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *in = fz_dup(data, size);
    gw_proxy_info info, part;
    gw_proxy_status st, p;
    size_t k, end;

    st = gw_proxy_parse(in, size, &info);
    FZ_CHECK((unsigned)st < GW_PROXY_STATUS_COUNT);
    if (st == GW_PROXY_NEED_MORE)
        FZ_CHECK(size < GW_PROXY_MAX);
    if (st == GW_PROXY_OK) {
        check_accepted(in, size, &info);
        FZ_CHECK(gw_proxy_parse(in, info.len, &part) == GW_PROXY_OK);
        FZ_CHECK(same_info(&part, &info));
    } else {
        static const gw_proxy_info zero;

        FZ_CHECK(memcmp(&info, &zero, sizeof info) == 0);
    }
    end = st == GW_PROXY_OK ? info.len : size;
    for (k = 0; k < end; k = next_prefix(k, end)) {
        p = gw_proxy_parse(in, k, &part);
        if (st == GW_PROXY_OK || st == GW_PROXY_NEED_MORE)
            FZ_CHECK(p == GW_PROXY_NEED_MORE);
        else
            FZ_CHECK(p == GW_PROXY_NEED_MORE || p == st);
    }
    check_writer(in, size);
    free(in);
    return 0;
}
