/*
 * check_log.c - log fields (gw_log.h): gw_log_escape keeps printable
 * ASCII, writes every other byte, '"' and '\' as \xHH, never cuts an
 * escape in two and always ends with a NUL; checked against the rule
 * written out byte by byte, for every cap, on fixed and random inputs.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_log.h"
#include "gw_test.h"

/* The rule, one byte at a time: each byte's text, appended while it
 * fits whole before the NUL. */
static void escape_by_byte(char *dst, size_t cap, const unsigned char *p,
                           size_t len)
{
    char one[8];
    size_t i, o = 0, k;

    for (i = 0; i < len; i++) {
        if (isprint(p[i]) && p[i] != '"' && p[i] != '\\')
            snprintf(one, sizeof one, "%c", p[i]);
        else
            snprintf(one, sizeof one, "\\x%02x", p[i]);
        k = strlen(one);
        if (o + k >= cap)
            break;
        memcpy(dst + o, one, k);
        o += k;
    }
    dst[o] = '\0';
}

static void same_as_rule(const unsigned char *p, size_t len)
{
    char got[128], want[128];
    size_t cap;

    for (cap = 1; cap <= sizeof got; cap++) {
        memset(got, 'X', sizeof got);
        ck_assert_ptr_eq(gw_log_escape(got, cap, p, len), got);
        escape_by_byte(want, cap, p, len);
        ck_assert_str_eq(got, want);
        ck_assert_uint_lt(strlen(got), cap);
    }
}

START_TEST(test_escape_cases)
{
    static const char *const cases[] = {
        "", "search", "morpheus", "text/json", "say \"hi\"", "a\\b",
        "tab\there", "\x01\x7f\x80\xff", "caf\xc3\xa9", "\"", "\\\\\\",
        "0123456789abcdef0123456789abcdef0123456789",
    };
    size_t i;
    char out[16];

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        same_as_rule((const unsigned char *)cases[i], strlen(cases[i]));
    ck_assert_str_eq(gw_log_escape(out, sizeof out, "a\"b\\c\n", 6),
                     "a\\x22b\\x5cc\\x0a");
    /* An escape that does not fit is left out whole. */
    ck_assert_str_eq(gw_log_escape(out, 6, "ab\"", 3), "ab");
    ck_assert_str_eq(gw_log_escape(out, 1, "ab", 2), "");
}
END_TEST

START_TEST(test_escape_random)
{
    unsigned char p[96];
    unsigned seed = 12345;
    size_t n, k;
    int round;

    for (round = 0; round < 300; round++) {
        n = (size_t)round % sizeof p;
        for (k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            /* Mostly plain text, with escapes among it. */
            p[k] = (seed >> 16) % 4 == 0 ? (unsigned char)(seed >> 8)
                                         : (unsigned char)('a' + k % 26);
        }
        same_as_rule(p, n);
    }
}
END_TEST

Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("escape");

    tcase_add_test(tc, test_escape_cases);
    tcase_add_test(tc, test_escape_random);
    suite_add_tcase(s, tc);
    return s;
}
