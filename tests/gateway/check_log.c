/*
 * check_log.c - log fields (gw_log.h): gw_log_escape keeps printable
 * ASCII, writes every other byte, '"' and '\' as \xHH, never cuts an
 * escape in two and always ends with a NUL; checked against the rule
 * written out byte by byte, for every cap, on fixed and random inputs.
 * Lines with fields, read back from the stderr they went to: text and
 * JSON, quoted bytes escaped, numbers, keys with and without their
 * length, a field too long for the line left out with those after it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* The lines gw_log_fields writes, with stderr a temporary file. */
static char *logged(gw_log_format fmt, const gw_log_field *f, size_t n)
{
    static char text[4 * GW_LOG_LINE_MAX];
    FILE *tmp = tmpfile();
    size_t len;

    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_eq(dup2(fileno(tmp), STDERR_FILENO), STDERR_FILENO);
    gw_log_forked();
    gw_log_set_level(GW_LOG_INFO);
    gw_log_set_format(fmt);
    gw_log_fields(GW_LOG_INFO, "access", f, n);
    rewind(tmp);
    len = fread(text, 1, sizeof text - 1, tmp);
    text[len] = '\0';
    fclose(tmp);
    return text;
}

static const char wire[] = "a\"b\\c\0\xff" "0123456789";

START_TEST(test_fields_text)
{
    const gw_log_field f[] = {
        { GW_LOG_KEY("peer"), .text = "127.0.0.1:5" },
        { .key = "type", .text = wire, .len = sizeof wire - 1,
          .quote = 1 },
        { GW_LOG_KEY("empty"), .text = wire, .len = 0, .quote = 1 },
        { GW_LOG_KEY("in"), .num = -1234567890123LL },
        { .key = "status", .text = "ok" },
    };
    const char *line = logged(GW_LOG_TEXT, f, 5);

    ck_assert_ptr_nonnull(strstr(line, " info: access peer=127.0.0.1:5 "
                                       "type=\"a\\x22b\\x5cc\\x00\\xff"
                                       "0123456789\" empty=\"\" "
                                       "in=-1234567890123 status=ok\n"));
    ck_assert_ptr_eq(strchr(line, '\n'), line + strlen(line) - 1);
}
END_TEST

START_TEST(test_fields_json)
{
    const gw_log_field f[] = {
        { GW_LOG_KEY("peer"), .text = "[::1]:5" },
        { GW_LOG_KEY("type"), .text = wire, .len = sizeof wire - 1,
          .quote = 1 },
        { GW_LOG_KEY("out"), .num = 0 },
    };
    const char *line = logged(GW_LOG_JSON, f, 3);

    ck_assert_ptr_nonnull(strstr(line, "\"msg\":\"access\",\"peer\":"
                                       "\"[::1]:5\",\"type\":\"a\\\\x22b"
                                       "\\\\x5cc\\\\x00\\\\xff0123456789\","
                                       "\"out\":0}\n"));
}
END_TEST

/* Valid UTF-8 goes into a JSON line as it is, JSON-escaped (a quote, a
 * backslash, a newline), not as \xHH text. */
START_TEST(test_fields_json_utf8)
{
    static const char text[] = "caf\xc3\xa9 \xf0\x9f\x90\xb6 \"q\"\\\n";
    const gw_log_field f[] = {
        { GW_LOG_KEY("value"), .text = text, .len = sizeof text - 1,
          .quote = 1 },
    };
    const char *line = logged(GW_LOG_JSON, f, 1);

    ck_assert_ptr_nonnull(strstr(line, "\"value\":\"caf\xc3\xa9 "
                                       "\xf0\x9f\x90\xb6 \\\"q\\\"\\\\\\n\"}"
                                       "\n"));
}
END_TEST

/* A field that does not fit whole is left out, and those after it. */
START_TEST(test_fields_too_long)
{
    static char big[300];
    const gw_log_field f[] = {
        { GW_LOG_KEY("a"), .num = 1 },
        { GW_LOG_KEY("big"), .text = big, .len = sizeof big, .quote = 1 },
        { GW_LOG_KEY("b"), .num = 2 },
    };
    const char *line;

    memset(big, 0xff, sizeof big);      /* 1,200 bytes escaped */
    line = logged(GW_LOG_TEXT, f, 3);
    ck_assert_ptr_nonnull(strstr(line, " info: access a=1\n"));
    memset(big, 'x', sizeof big);
    line = logged(GW_LOG_TEXT, f, 3);
    ck_assert_ptr_nonnull(strstr(line, " a=1 big=\"xxxxxxxx"));
    ck_assert_ptr_nonnull(strstr(line, "xxxxxxxx\" b=2\n"));
}
END_TEST

/* Deferred lines to a regular file: more than PIPE_BUF bytes of them
 * arrive whole and in order at the flush. */
START_TEST(test_deferred_to_file)
{
    static char text[64 * 1024];
    FILE *tmp = tmpfile();
    char want[64];
    const char *p;
    size_t len;
    int i;

    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_eq(dup2(fileno(tmp), STDERR_FILENO), STDERR_FILENO);
    gw_log_forked();
    gw_log_set_level(GW_LOG_INFO);
    gw_log_set_format(GW_LOG_TEXT);
    gw_log_defer(1);
    for (i = 0; i < 200; i++)
        gw_log(GW_LOG_INFO, "line %d of a deferred batch", i);
    rewind(tmp);
    ck_assert_uint_eq(fread(text, 1, sizeof text, tmp), 0);
    gw_log_flush();
    rewind(tmp);
    len = fread(text, 1, sizeof text - 1, tmp);
    text[len] = '\0';
    ck_assert_uint_gt(len, 4096);
    for (p = text, i = 0; i < 200; i++) {
        snprintf(want, sizeof want, " info: line %d of a deferred batch\n",
                 i);
        p = strstr(p, want);
        ck_assert_msg(p != NULL, "line %d missing or out of order", i);
    }
    gw_log_defer(0);
    fclose(tmp);
}
END_TEST

/* Deferred lines share the time of the pass's first line; a flush
 * ends the pass, and the next line reads the clock again. */
START_TEST(test_deferred_share_time)
{
    static char text[4096];
    FILE *tmp = tmpfile();
    const struct timespec pause = { 0, 20 * 1000 * 1000 };
    char t1[32], t2[32], t3[32];
    size_t len;

    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_eq(dup2(fileno(tmp), STDERR_FILENO), STDERR_FILENO);
    gw_log_forked();
    gw_log_set_level(GW_LOG_INFO);
    gw_log_set_format(GW_LOG_TEXT);
    gw_log_defer(1);
    gw_log(GW_LOG_INFO, "first");
    nanosleep(&pause, NULL);
    gw_log(GW_LOG_INFO, "second");
    gw_log_flush();
    nanosleep(&pause, NULL);
    gw_log(GW_LOG_INFO, "third");
    gw_log_flush();
    gw_log_defer(0);
    rewind(tmp);
    len = fread(text, 1, sizeof text - 1, tmp);
    text[len] = '\0';
    fclose(tmp);
    ck_assert_int_eq(sscanf(text, "%31s %*[^\n]\n%31s %*[^\n]\n%31s", t1,
                            t2, t3), 3);
    ck_assert_str_eq(t1, t2);
    ck_assert_str_ne(t2, t3);
}
END_TEST

Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("escape");

    tcase_add_test(tc, test_escape_cases);
    tcase_add_test(tc, test_escape_random);
    suite_add_tcase(s, tc);
    tc = tcase_create("fields");
    tcase_add_test(tc, test_fields_text);
    tcase_add_test(tc, test_fields_json);
    tcase_add_test(tc, test_fields_json_utf8);
    tcase_add_test(tc, test_fields_too_long);
    tcase_add_test(tc, test_deferred_to_file);
    tcase_add_test(tc, test_deferred_share_time);
    suite_add_tcase(s, tc);
    return s;
}
