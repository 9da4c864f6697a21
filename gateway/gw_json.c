/* gw_json.c - strictness checks around yajl (see gw_json.h). */
#include "gw_json.h"

#include <string.h>

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
