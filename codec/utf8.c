/*
 * utf8.c - strict UTF-8 validation (RFC 3629, table 3-7 of Unicode):
 *
 *   00..7F
 *   C2..DF 80..BF
 *   E0     A0..BF 80..BF        (no overlongs)
 *   E1..EC 80..BF 80..BF
 *   ED     80..9F 80..BF        (no UTF-16 surrogates)
 *   EE..EF 80..BF 80..BF
 *   F0     90..BF 80..BF 80..BF (no overlongs)
 *   F1..F3 80..BF 80..BF 80..BF
 *   F4     80..8F 80..BF 80..BF (nothing above U+10FFFF)
 */
#include <string.h>

#include "internal.h"

/* Length of the valid sequence at p[0..n), or 0 when it is invalid. */
static size_t sequence_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t need, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2;
    else if (c >= 0xe0 && c <= 0xef)
        need = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 4;
    else
        return 0;
    if (n < need)
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < need; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return need;
}

size_t hf_utf8_check(const void *s, size_t len)
{
    const unsigned char *p = s;
    size_t off = 0, n;
    uint64_t word;

    if (p == NULL)
        return 0;
    while (off < len) {
        /* ASCII runs are the common case: eight bytes at a time. */
        while (len - off >= 8) {
            memcpy(&word, p + off, 8);
            if (word & UINT64_C(0x8080808080808080))
                break;
            off += 8;
        }
        if (off == len)
            break;
        n = sequence_len(p + off, len - off);
        if (n == 0)
            return off;
        off += n;
    }
    return len;
}
