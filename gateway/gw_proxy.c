/* gw_proxy.c - the PROXY protocol header parser (see gw_proxy.h). */
#include "gw_proxy.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#define V1_MAGIC "PROXY "
#define V1_MAGIC_LEN (sizeof V1_MAGIC - 1)
#define V2_FIXED 16             /* signature, 2 bytes, length */

static const unsigned char v2_sig[12] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

static const char *const names[GW_PROXY_STATUS_COUNT] = {
    "ok", "need-more", "bad-signature", "v1-too-long", "v1-syntax",
    "v2-version", "v2-command", "v2-family", "v2-length"
};

const char *gw_proxy_status_name(gw_proxy_status st)
{
    if ((unsigned)st >= GW_PROXY_STATUS_COUNT)
        return "unknown";
    return names[st];
}

/* "0".."65535", no sign, no leading zero. */
static int parse_port(const char *s, uint16_t *out)
{
    unsigned long v = 0;
    size_t n = strlen(s), i;

    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* Split "a b c d" (single spaces, no empty field) into 4 strings, in
 * place. */
static int split4(char *s, char *f[4])
{
    int i;

    for (i = 0; i < 4; i++) {
        f[i] = s;
        s = strchr(s, ' ');
        if (i < 3) {
            if (s == NULL)
                return -1;
            *s++ = '\0';
        } else if (s != NULL) {
            return -1;
        }
        if (f[i][0] == '\0')
            return -1;
    }
    return 0;
}

/* The fields after "PROXY ": line[0..n), without the CRLF. */
static gw_proxy_status v1_fields(const unsigned char *line, size_t n,
                                 gw_proxy_info *out)
{
    char text[GW_PROXY_V1_MAX + 1];
    char *f[4];
    int af;

    memcpy(text, line, n);
    text[n] = '\0';
    if (strncmp(text, "UNKNOWN", 7) == 0 &&
        (text[7] == '\0' || text[7] == ' ')) {
        out->family = AF_UNSPEC;
        return GW_PROXY_OK;
    }
    if (strncmp(text, "TCP4 ", 5) == 0)
        af = AF_INET;
    else if (strncmp(text, "TCP6 ", 5) == 0)
        af = AF_INET6;
    else
        return GW_PROXY_E_V1_SYNTAX;
    if (split4(text + 5, f) != 0 ||
        inet_pton(af, f[0], out->src_addr) != 1 ||
        inet_pton(af, f[1], out->dst_addr) != 1 ||
        parse_port(f[2], &out->src_port) != 0 ||
        parse_port(f[3], &out->dst_port) != 0)
        return GW_PROXY_E_V1_SYNTAX;
    out->family = af;
    return GW_PROXY_OK;
}

static gw_proxy_status parse_v1(const unsigned char *buf, size_t len,
                                gw_proxy_info *out)
{
    size_t i;

    for (i = V1_MAGIC_LEN; i < len && i < GW_PROXY_V1_MAX - 1; i++) {
        if (buf[i] == '\r') {
            if (i + 1 == len)
                return GW_PROXY_NEED_MORE;
            if (buf[i + 1] != '\n')
                return GW_PROXY_E_V1_SYNTAX;
            out->version = 1;
            out->len = i + 2;
            return v1_fields(buf + V1_MAGIC_LEN, i - V1_MAGIC_LEN, out);
        }
        if (buf[i] < 0x20 || buf[i] > 0x7e)
            return GW_PROXY_E_V1_SYNTAX;
    }
    /* The CR may sit at byte 105 at the latest (CRLF ends at 107). */
    return i >= GW_PROXY_V1_MAX - 1 ? GW_PROXY_E_V1_TOO_LONG
                                    : GW_PROXY_NEED_MORE;
}

static gw_proxy_status parse_v2(const unsigned char *buf, size_t len,
                                gw_proxy_info *out)
{
    size_t body, total, addr_len, p, tl;
    unsigned cmd, fam, proto;

    if (len > 12 && buf[12] >> 4 != 2)
        return GW_PROXY_E_V2_VERSION;
    if (len > 12 && (buf[12] & 0x0f) > 1)
        return GW_PROXY_E_V2_COMMAND;
    if (len > 13 && (buf[13] >> 4 > 3 || (buf[13] & 0x0f) > 2))
        return GW_PROXY_E_V2_FAMILY;
    if (len < V2_FIXED)
        return GW_PROXY_NEED_MORE;
    cmd = buf[12] & 0x0f;
    fam = buf[13] >> 4;
    proto = buf[13] & 0x0f;
    body = (size_t)buf[14] << 8 | buf[15];
    total = V2_FIXED + body;
    addr_len = fam == 1 ? 12 : fam == 2 ? 36 : fam == 3 ? 216 : 0;
    if (total > GW_PROXY_V2_MAX || body < addr_len)
        return GW_PROXY_E_V2_LENGTH;
    if (len < total)
        return GW_PROXY_NEED_MORE;
    /* Type-length-value records must fill the rest exactly. */
    for (p = V2_FIXED + addr_len; p < total; p += 3 + tl) {
        if (total - p < 3)
            return GW_PROXY_E_V2_LENGTH;
        tl = (size_t)buf[p + 1] << 8 | buf[p + 2];
        if (total - p - 3 < tl)
            return GW_PROXY_E_V2_LENGTH;
    }
    out->version = 2;
    out->len = total;
    out->family = AF_UNSPEC;
    if (cmd != 1 || proto != 1)
        return GW_PROXY_OK;     /* LOCAL, or not TCP: keep the socket's */
    if (fam == 1) {
        out->family = AF_INET;
        memcpy(out->src_addr, buf + 16, 4);
        memcpy(out->dst_addr, buf + 20, 4);
        out->src_port = (uint16_t)(buf[24] << 8 | buf[25]);
        out->dst_port = (uint16_t)(buf[26] << 8 | buf[27]);
    } else if (fam == 2) {
        out->family = AF_INET6;
        memcpy(out->src_addr, buf + 16, 16);
        memcpy(out->dst_addr, buf + 32, 16);
        out->src_port = (uint16_t)(buf[48] << 8 | buf[49]);
        out->dst_port = (uint16_t)(buf[50] << 8 | buf[51]);
    }
    return GW_PROXY_OK;
}

static gw_proxy_status parse(const unsigned char *buf, size_t len,
                             gw_proxy_info *out)
{
    size_t n;

    memset(out, 0, sizeof *out);
    if (len == 0)
        return GW_PROXY_NEED_MORE;
    if (buf[0] == 'P') {
        n = len < V1_MAGIC_LEN ? len : V1_MAGIC_LEN;
        if (memcmp(buf, V1_MAGIC, n) != 0)
            return GW_PROXY_E_SIGNATURE;
        if (len < V1_MAGIC_LEN)
            return GW_PROXY_NEED_MORE;
        return parse_v1(buf, len, out);
    }
    n = len < sizeof v2_sig ? len : sizeof v2_sig;
    if (memcmp(buf, v2_sig, n) != 0)
        return GW_PROXY_E_SIGNATURE;
    return parse_v2(buf, len, out);
}

gw_proxy_status gw_proxy_parse(const unsigned char *buf, size_t len,
                               gw_proxy_info *out)
{
    gw_proxy_status st = parse(buf, len, out);

    if (st != GW_PROXY_OK)
        memset(out, 0, sizeof *out);
    return st;
}

size_t gw_proxy_write_v2(const gw_proxy_info *info, unsigned char *out)
{
    size_t alen = info->family == AF_INET ? 4 : 16;
    size_t body;

    memcpy(out, v2_sig, sizeof v2_sig);
    if (info->family != AF_INET && info->family != AF_INET6) {
        out[12] = 0x20;         /* version 2, LOCAL */
        out[13] = 0x00;
        out[14] = 0;
        out[15] = 0;
        return V2_FIXED;
    }
    body = 2 * alen + 4;
    out[12] = 0x21;             /* version 2, PROXY */
    out[13] = info->family == AF_INET ? 0x11 : 0x21;    /* TCP */
    out[14] = 0;
    out[15] = (unsigned char)body;
    memcpy(out + V2_FIXED, info->src_addr, alen);
    memcpy(out + V2_FIXED + alen, info->dst_addr, alen);
    out[V2_FIXED + 2 * alen] = (unsigned char)(info->src_port >> 8);
    out[V2_FIXED + 2 * alen + 1] = (unsigned char)info->src_port;
    out[V2_FIXED + 2 * alen + 2] = (unsigned char)(info->dst_port >> 8);
    out[V2_FIXED + 2 * alen + 3] = (unsigned char)info->dst_port;
    return V2_FIXED + body;
}
