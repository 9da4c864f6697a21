/* gw_json.c - strictness checks around yajl (see gw_json.h). */
#include "gw_json.h"

#include <string.h>

#include "gw_word.h"
#include "hframe.h"

/* Offset of the first c in s[0..len), or len. */
static size_t first(const unsigned char *s, size_t len, int c)
{
    const unsigned char *p = memchr(s, c, len);

    return p == NULL ? len : (size_t)(p - s);
}

size_t gw_json_bad_byte(const unsigned char *s, size_t len)
{
    size_t bad;

    if (len == 0)
        return 0;
    bad = first(s, hf_utf8_check(s, len), '\v');
    return first(s, bad, '\f');
}

int gw_json_only_space(const unsigned char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return 0;
    }
    return 1;
}

/* A byte that sends the content to the full checks. */
static int unusual(unsigned char c)
{
    return c >= 0x80 || c == '\\' || c == '\v' || c == '\f';
}

int gw_json_plain(const unsigned char *s, size_t len)
{
    size_t i = 0;
    uint64_t w;

    for (; len - i >= 8; i += 8) {
        w = gw_word_load(s + i);
        if (gw_word_high(w) | gw_word_has(w, '\\') | gw_word_has(w, '\v') |
            gw_word_has(w, '\f'))
            return 0;
    }
    for (; i < len; i++) {
        if (unusual(s[i]))
            return 0;
    }
    return 1;
}
