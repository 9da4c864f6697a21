/* gw_json.c - strictness checks around yajl (see gw_json.h). */
#include "gw_json.h"

#include "hframe.h"

size_t gw_json_bad_byte(const unsigned char *s, size_t len)
{
    size_t bad = len == 0 ? 0 : hf_utf8_check(s, len);
    size_t i;

    for (i = 0; i < bad; i++) {
        if (s[i] == '\v' || s[i] == '\f')
            return i;
    }
    return bad;
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
