/*
 * gw_json.h - what yajl lets through and JSON does not.
 *
 * yajl (2.1) accepts a few inputs that are not JSON: malformed UTF-8 such
 * as overlong forms, vertical tab and form feed as whitespace, and an
 * unfinished token after the top-level value. The index loader and the
 * request parser check for these themselves, so both read exactly JSON.
 */
#ifndef GW_JSON_H
#define GW_JSON_H

#include <stddef.h>

/* Offset of the first byte that cannot appear in any JSON text (invalid
 * UTF-8, or a vertical tab or form feed, which are neither whitespace
 * nor allowed raw inside strings); len when there is none. */
size_t gw_json_bad_byte(const unsigned char *s, size_t len);

/* Non-zero when s[0..len) is ASCII without a backslash, vertical tab or
 * form feed: then neither gw_json_bad_byte nor hf_json_lone_surrogate
 * has anything to find, and this one pass spares both. */
int gw_json_plain(const unsigned char *s, size_t len);

/* Non-zero when s[0..len) is JSON whitespace only (space, tab, LF, CR). */
int gw_json_only_space(const unsigned char *s, size_t len);

#endif /* GW_JSON_H */
