/* base64.c - RFC 4648 base64 (standard alphabet, padded) for the NDJSON
 * records. The decoder is strict so that every byte string has exactly
 * one accepted encoding and NDJSON round trips stay byte-exact. */
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t cli_b64_len(size_t n)
{
    size_t groups = n / 3 + (n % 3 != 0);

    if (groups > SIZE_MAX / 4)
        return 0;
    return groups * 4;
}

void cli_b64_encode(unsigned char *out, const unsigned char *in, size_t n)
{
    size_t i;

    for (i = 0; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
                     in[i + 2];

        *out++ = (unsigned char)b64_alphabet[v >> 18];
        *out++ = (unsigned char)b64_alphabet[(v >> 12) & 63];
        *out++ = (unsigned char)b64_alphabet[(v >> 6) & 63];
        *out++ = (unsigned char)b64_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;

        *out++ = (unsigned char)b64_alphabet[v >> 18];
        *out++ = (unsigned char)b64_alphabet[(v >> 12) & 63];
        *out++ = '=';
        *out++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

        *out++ = (unsigned char)b64_alphabet[v >> 18];
        *out++ = (unsigned char)b64_alphabet[(v >> 12) & 63];
        *out++ = (unsigned char)b64_alphabet[(v >> 6) & 63];
        *out++ = '=';
    }
}

/* Value of one alphabet character, -1 for anything else. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decode the last group, which may hold padding; returns the bytes it
 * gives (1..3, and writes no more) or -1, with *bad the offending index
 * within the group. */
static int b64_last_group(const unsigned char *g, unsigned char *out,
                          size_t *bad)
{
    int v[4], i, pad = 0;

    for (i = 0; i < 4; i++) {
        if (g[i] == '=' && i >= 2) {
            pad++;
            v[i] = 0;
            continue;
        }
        v[i] = b64_value(g[i]);
        if (v[i] < 0 || pad > 0) {
            *bad = (size_t)i;
            return -1;
        }
    }
    /* Bits that padding drops must be zero: one spelling per input. */
    if ((pad == 2 && (v[1] & 15) != 0) || (pad == 1 && (v[2] & 3) != 0)) {
        *bad = (size_t)(3 - pad);
        return -1;
    }
    out[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
    if (pad < 2)
        out[1] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
    if (pad < 1)
        out[2] = (unsigned char)((v[2] & 3) << 6 | v[3]);
    return 3 - pad;
}

size_t cli_b64_decoded_len(const unsigned char *in, size_t n)
{
    size_t len = n / 4 * 3;

    if (n >= 4 && n % 4 == 0 && in[n - 1] == '=')
        len -= in[n - 2] == '=' ? 2 : 1;
    return len;
}

int cli_b64_decode_groups(unsigned char *out, const unsigned char *in,
                          size_t n, size_t *bad_at)
{
    size_t i;

    for (i = 0; n - i >= 4; i += 4) {
        int a = b64_value(in[i]), b = b64_value(in[i + 1]);
        int c = b64_value(in[i + 2]), d = b64_value(in[i + 3]);

        if ((a | b | c | d) < 0) {
            *bad_at = i + (a < 0 ? 0 : b < 0 ? 1 : c < 0 ? 2 : 3);
            return -1;
        }
        *out++ = (unsigned char)(a << 2 | b >> 4);
        *out++ = (unsigned char)((b & 15) << 4 | c >> 2);
        *out++ = (unsigned char)((c & 3) << 6 | d);
    }
    return 0;
}

int cli_b64_decode(unsigned char *out, const unsigned char *in, size_t n,
                   size_t *out_len, size_t *bad_at)
{
    size_t body = n < 4 ? 0 : n - 4, bad = 0;
    int got;

    if (n % 4 != 0) {
        *bad_at = n - n % 4;
        return -1;
    }
    if (cli_b64_decode_groups(out, in, body, bad_at) != 0)
        return -1;
    *out_len = body / 4 * 3;
    if (n == 0)
        return 0;
    got = b64_last_group(in + body, out + *out_len, &bad);
    if (got < 0) {
        *bad_at = body + bad;
        return -1;
    }
    *out_len += (size_t)got;
    return 0;
}
