/*
 * check_util.c - the Check suite for util/ (libutil.a): the one syntax
 * of numbers, sizes, durations and addresses that the hframe command and
 * hframe-gateway share.
 */
#define _GNU_SOURCE         /* RTLD_NEXT */
#include <check.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_parse.h>

#include "util.h"

typedef struct value_case {
    util_kind kind;
    const char *text;
    uint64_t min, max;
    int ok;
    uint64_t want;
} value_case;

#define MS ((uint64_t)1000)
#define S UTIL_SEC

static const value_case values[] = {
    /* numbers: digits only */
    { UTIL_NUMBER, "0", 0, 10, 1, 0 },
    { UTIL_NUMBER, "10", 0, 10, 1, 10 },
    { UTIL_NUMBER, "11", 0, 10, 0, 0 },
    { UTIL_NUMBER, "0", 1, 10, 0, 0 },
    { UTIL_NUMBER, "", 0, 10, 0, 0 },
    { UTIL_NUMBER, "+1", 0, 10, 0, 0 },
    { UTIL_NUMBER, "-1", 0, 10, 0, 0 },
    { UTIL_NUMBER, " 1", 0, 10, 0, 0 },
    { UTIL_NUMBER, "1 ", 0, 10, 0, 0 },
    { UTIL_NUMBER, "1k", 0, 9000, 0, 0 },
    { UTIL_NUMBER, "0x10", 0, 9000, 0, 0 },
    { UTIL_NUMBER, "18446744073709551615", 0, UINT64_MAX, 1, UINT64_MAX },
    { UTIL_NUMBER, "18446744073709551616", 0, UINT64_MAX, 0, 0 },
    { UTIL_NUMBER, "007", 0, 10, 1, 7 },
    /* sizes: powers of 1024 */
    { UTIL_SIZE, "65536", 0, UINT64_MAX, 1, 65536 },
    { UTIL_SIZE, "64k", 0, UINT64_MAX, 1, 65536 },
    { UTIL_SIZE, "64K", 0, UINT64_MAX, 1, 65536 },
    { UTIL_SIZE, "64KiB", 0, UINT64_MAX, 1, 65536 },
    { UTIL_SIZE, "16M", 0, UINT64_MAX, 1, 16777216 },
    { UTIL_SIZE, "16MiB", 0, UINT64_MAX, 1, 16777216 },
    { UTIL_SIZE, "2G", 0, UINT64_MAX, 1, 2147483648u },
    { UTIL_SIZE, "0", 0, 10, 1, 0 },
    { UTIL_SIZE, "1m", 0, UINT64_MAX, 0, 0 },
    { UTIL_SIZE, "1.5M", 0, UINT64_MAX, 0, 0 },
    { UTIL_SIZE, "k", 0, UINT64_MAX, 0, 0 },
    { UTIL_SIZE, "16M", 0, 16777215, 0, 0 },
    { UTIL_SIZE, "17179869184G", 0, UINT64_MAX, 0, 0 },
    { UTIL_SIZE, "17179869183G", 0, UINT64_MAX, 1, 17179869183ull << 30 },
    { UTIL_SIZE, "1 k", 0, UINT64_MAX, 0, 0 },
    /* durations: seconds, s, ms; microseconds out */
    { UTIL_DURATION, "0", 0, 86400 * S, 1, 0 },
    { UTIL_DURATION, "0", 1, 86400 * S, 0, 0 },
    { UTIL_DURATION, "10", 0, 86400 * S, 1, 10 * S },
    { UTIL_DURATION, "1.5", 0, 86400 * S, 1, 1500 * MS },
    { UTIL_DURATION, "2s", 0, 86400 * S, 1, 2 * S },
    { UTIL_DURATION, "250ms", 0, 86400 * S, 1, 250 * MS },
    { UTIL_DURATION, "0.5ms", 0, 86400 * S, 1, 500 },
    { UTIL_DURATION, "0.000001", 0, 86400 * S, 1, 1 },
    { UTIL_DURATION, "0.0000001", 0, 86400 * S, 0, 0 },
    { UTIL_DURATION, "0.0001ms", 0, 86400 * S, 0, 0 },
    { UTIL_DURATION, "1.", 0, 86400 * S, 0, 0 },
    { UTIL_DURATION, ".5", 0, 86400 * S, 0, 0 },
    { UTIL_DURATION, "1m", 0, 86400 * S, 0, 0 },
    { UTIL_DURATION, "1h", 0, 86400 * S, 0, 0 },
    { UTIL_DURATION, "-1", 0, 86400 * S, 0, 0 },
    { UTIL_DURATION, "86400", 0, 86400 * S, 1, 86400 * S },
    { UTIL_DURATION, "86400.000001", 0, 86400 * S, 0, 0 },
    { UTIL_DURATION, "18446744073709551615", 0, UINT64_MAX, 0, 0 },
    { UTIL_DURATION, "2S", 0, 86400 * S, 0, 0 },
};

START_TEST(test_value)
{
    const value_case *t = &values[_i];
    uint64_t v = 12345;
    char msg[UTIL_MSG_MAX];
    int rc;

    msg[0] = '\0';
    rc = util_parse_value(t->kind, "--opt", t->text, t->min, t->max, 0, &v,
                          msg, sizeof msg);
    if (t->ok) {
        ck_assert_msg(rc == 0, "'%s' refused: %s", t->text, msg);
        ck_assert_uint_eq(v, t->want);
    } else {
        ck_assert_msg(rc != 0, "'%s' accepted", t->text);
        ck_assert_uint_eq(v, 12345);
        ck_assert_msg(strstr(msg, "for --opt: expected") != NULL, "%s", msg);
    }
}
END_TEST

typedef struct msg_case {
    util_kind kind;
    uint64_t min, max;
    int zero_off;
    const char *want;
} msg_case;

static const msg_case messages[] = {
    { UTIL_NUMBER, 1, 65535, 0,
      "invalid value 'x' for --opt: expected a number from 1 to 65535" },
    { UTIL_SIZE, 1, 16777216, 0,
      "invalid value 'x' for --opt: expected a size from 1 to 16M (bytes, "
      "or with k, M, G)" },
    { UTIL_DURATION, 0, 86400 * S, 1,
      "invalid value 'x' for --opt: expected a time from 0s to 86400s "
      "(seconds, or with s, ms; 0 turns it off)" },
    { UTIL_DURATION, 1000, 1500 * MS, 0,
      "invalid value 'x' for --opt: expected a time from 1ms to 1.5s "
      "(seconds, or with s, ms)" },
};

START_TEST(test_message)
{
    const msg_case *t = &messages[_i];
    char msg[UTIL_MSG_MAX];
    uint64_t v;

    ck_assert_int_ne(util_parse_value(t->kind, "--opt", "x", t->min, t->max,
                                      t->zero_off, &v, msg, sizeof msg), 0);
    ck_assert_str_eq(msg, t->want);
}
END_TEST

/* "--name=value" for a known flag: the length of "--name"; else 0. */
START_TEST(test_flag_with_value)
{
    ck_assert_uint_eq(util_flag_with_value("--quiet=yes", 'q'), 7);
    ck_assert_uint_eq(util_flag_with_value("--json=", 300), 6);
    ck_assert_uint_eq(util_flag_with_value("--nope=1", 0), 0);
    ck_assert_uint_eq(util_flag_with_value("--quiet", 'q'), 0);
    ck_assert_uint_eq(util_flag_with_value("-q=1", 'q'), 0);
}
END_TEST

START_TEST(test_format_roundtrip)
{
    static const uint64_t sizes[] = { 0, 1, 1023, 1024, 65536, 16777216,
                                      1073741824, 3 * 1073741824ull + 1 };
    static const uint64_t times[] = { 0, 1, 999, 1000, 250000, S, 1500000,
                                      86400 * S };
    char buf[64];
    uint64_t v;
    size_t i;

    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        util_format(UTIL_SIZE, sizes[i], buf, sizeof buf);
        ck_assert_int_eq(util_parse_size(buf, 0, UINT64_MAX, &v), 0);
        ck_assert_uint_eq(v, sizes[i]);
    }
    for (i = 0; i < sizeof times / sizeof times[0]; i++) {
        util_format(UTIL_DURATION, times[i], buf, sizeof buf);
        ck_assert_int_eq(util_parse_duration(buf, 0, UINT64_MAX, &v), 0);
        ck_assert_uint_eq(v, times[i]);
    }
    ck_assert_str_eq(util_format(UTIL_SIZE, 65536, buf, sizeof buf), "64k");
    ck_assert_str_eq(util_format(UTIL_DURATION, 250000, buf, sizeof buf),
                     "250ms");
}
END_TEST

typedef struct hostport_case {
    const char *spec;
    const char *host;   /* NULL: refused, with the message below */
    const char *port;
    const char *msg;
} hostport_case;

static const hostport_case hostports[] = {
    { "127.0.0.1:65432", "127.0.0.1", "65432", NULL },
    { "localhost:http", "localhost", "http", NULL },
    { "[::1]:80", "::1", "80", NULL },
    { "[fe80::1%lo]:80", "fe80::1%lo", "80", NULL },
    { "::1:80", NULL, NULL, "invalid address '::1:80': an IPv6 address "
      "goes in brackets, as in [::1]:80" },
    { "::1", NULL, NULL, "invalid address '::1': an IPv6 address goes in "
      "brackets, the port after them, as in [::1]:PORT" },
    { "fe80::1", NULL, NULL, "invalid address 'fe80::1': an IPv6 address "
      "goes in brackets, the port after them, as in [fe80::1]:PORT" },
    { "[::1]", NULL, NULL, "invalid address '[::1]': the port is missing "
      "(expected host:port or [v6addr]:port)" },
    { "[::1]:", NULL, NULL, "invalid address '[::1]:': the port is "
      "missing (expected host:port or [v6addr]:port)" },
    { "host", NULL, NULL, "invalid address 'host': the port is missing "
      "(expected host:port or [v6addr]:port)" },
    { "host:", NULL, NULL, "invalid address 'host:': the port is missing "
      "(expected host:port or [v6addr]:port)" },
    { ":80", NULL, NULL, "invalid address ':80': the host is missing" },
    { "[]:80", NULL, NULL, "invalid address '[]:80': the host is missing" },
    { "[::1", NULL, NULL, "invalid address '[::1': '[' without its ']'" },
    { "[::1:80", NULL, NULL, "invalid address '[::1:80': '[' without its "
      "']'" },
    { "[::1]80", NULL, NULL, "invalid address '[::1]80': expected ':' and "
      "the port after ']'" },
    { "x[::1]:80", NULL, NULL, "invalid address 'x[::1]:80': brackets go "
      "around a whole IPv6 address, as in [::1]:80" },
    { "host]:80", NULL, NULL, "invalid address 'host]:80': brackets go "
      "around a whole IPv6 address, as in [::1]:80" },
    { "[x[::1]]:80", NULL, NULL, "invalid address '[x[::1]]:80': expected "
      "':' and the port after ']'" },
};

START_TEST(test_hostport)
{
    const hostport_case *t = &hostports[_i];
    char host[UTIL_HOST_MAX], msg[UTIL_MSG_MAX];
    const char *port = NULL;
    int rc;

    rc = util_split_hostport(t->spec, host, sizeof host, &port, msg,
                             sizeof msg);
    if (t->host == NULL) {
        ck_assert_msg(rc != 0, "'%s' accepted", t->spec);
        ck_assert_str_eq(msg, t->msg);
        return;
    }
    ck_assert_msg(rc == 0, "'%s': %s", t->spec, msg);
    ck_assert_str_eq(host, t->host);
    ck_assert_str_eq(port, t->port);
}
END_TEST

START_TEST(test_hostport_long)
{
    char spec[UTIL_HOST_MAX + 8], host[UTIL_HOST_MAX], msg[UTIL_MSG_MAX];
    const char *port;

    memset(spec, 'a', UTIL_HOST_MAX);
    memcpy(spec + UTIL_HOST_MAX, ":80", 4);
    ck_assert_int_ne(util_split_hostport(spec, host, sizeof host, &port,
                                         msg, sizeof msg), 0);
    ck_assert_ptr_nonnull(strstr(msg, "too long"));
    spec[UTIL_HOST_MAX - 1] = ':';
    memcpy(spec + UTIL_HOST_MAX - 1, ":80", 4);
    ck_assert_int_eq(util_split_hostport(spec, host, sizeof host, &port,
                                         msg, sizeof msg), 0);
    ck_assert_uint_eq(strlen(host), UTIL_HOST_MAX - 1);
}
END_TEST

START_TEST(test_unbracket)
{
    char host[8];

    ck_assert_int_eq(util_unbracket("[::1]", host, sizeof host), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(util_unbracket("a.b", host, sizeof host), 0);
    ck_assert_str_eq(host, "a.b");
    ck_assert_int_ne(util_unbracket("[]", host, sizeof host), 0);
    ck_assert_int_ne(util_unbracket("", host, sizeof host), 0);
    ck_assert_int_ne(util_unbracket("abcdefgh", host, sizeof host), 0);
}
END_TEST

START_TEST(test_resolve_and_name)
{
    struct addrinfo *res;
    char msg[UTIL_MSG_MAX], name[UTIL_ADDR_MAX];

    ck_assert_int_eq(util_resolve("127.0.0.1", "65432", 0, &res, msg,
                                  sizeof msg), 0);
    ck_assert_str_eq(util_addr_name(res->ai_addr, name, sizeof name),
                     "127.0.0.1:65432");
    ck_assert_uint_eq(util_addr_port(res->ai_addr), 65432);
    freeaddrinfo(res);
    ck_assert_int_eq(util_resolve("::1", "0", 0, &res, msg, sizeof msg), 0);
    ck_assert_str_eq(util_addr_name(res->ai_addr, name, sizeof name),
                     "[::1]:0");
    freeaddrinfo(res);
    ck_assert_int_ne(util_resolve("127.0.0.1", "no-such-service-name", 0,
                                  &res, msg, sizeof msg), 0);
    ck_assert_str_eq(msg, "cannot resolve '127.0.0.1' port "
                          "'no-such-service-name': no such service (see "
                          "/etc/services)");
    ck_assert_int_eq(util_resolve("127.0.0.1", "65535", 0, &res, msg,
                                  sizeof msg), 0);
    freeaddrinfo(res);
    ck_assert_int_ne(util_resolve("127.0.0.1", "65536", 0, &res, msg,
                                  sizeof msg), 0);
    ck_assert_str_eq(msg, "invalid port '65536': expected a number from 0 "
                          "to 65535 or a service name");
    ck_assert_int_ne(util_resolve("127.0.0.1", "99999999999999999999", 0,
                                  &res, msg, sizeof msg), 0);
    ck_assert_ptr_nonnull(strstr(msg, "expected a number from 0 to 65535"));
}
END_TEST

/* A resolver that takes its time for one name: this getaddrinfo is
 * found before the C library's. Other names go to the real one. */
#define SLOW_NAME "slow.test"
#define SLOW_NS 300000000L

int getaddrinfo(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res)
{
    typedef int (*gai_fn)(const char *, const char *,
                          const struct addrinfo *, struct addrinfo **);
    static gai_fn real;

    if (node != NULL && strcmp(node, SLOW_NAME) == 0) {
        struct timespec ts = { 0, SLOW_NS };

        nanosleep(&ts, NULL);
        return EAI_NONAME;
    }
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    return real(node, service, hints, res);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A lookup that outlasts its time returns at its time; one that does
 * not is util_resolve's (same result, same messages). */
START_TEST(test_resolve_within)
{
    struct addrinfo *res = NULL;
    char msg[UTIL_MSG_MAX], name[UTIL_ADDR_MAX];
    struct timespec t0, rest = { 0, 2 * SLOW_NS };

    ck_assert_int_eq(util_resolve_within("127.0.0.1", "65432", UTIL_SEC,
                                         &res, msg, sizeof msg), 0);
    ck_assert_str_eq(util_addr_name(res->ai_addr, name, sizeof name),
                     "127.0.0.1:65432");
    freeaddrinfo(res);
    ck_assert_int_eq(util_resolve_within("127.0.0.1", "65536", UTIL_SEC,
                                         &res, msg, sizeof msg), -1);
    ck_assert_str_eq(msg, "invalid port '65536': expected a number from 0 "
                          "to 65535 or a service name");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(util_resolve_within(SLOW_NAME, "80", 20 * MS, &res,
                                         msg, sizeof msg),
                     UTIL_RESOLVE_TIMEOUT);
    ck_assert(seconds_since(&t0) < 0.2);
    ck_assert_str_eq(msg, "cannot resolve 'slow.test': no answer within "
                          "20ms");
    /* Waited out, the same lookup gives the resolver's answer. */
    ck_assert_int_eq(util_resolve_within(SLOW_NAME, "80", 10 * UTIL_SEC,
                                         &res, msg, sizeof msg), -1);
    ck_assert_ptr_nonnull(strstr(msg, "cannot resolve 'slow.test' port "
                                      "'80'"));
    /* The first lookup's thread ends meanwhile and frees its record
     * (the sanitizers watch). */
    nanosleep(&rest, NULL);
}
END_TEST

START_TEST(test_yajl_error)
{
    yajl_handle h = yajl_alloc(NULL, NULL, NULL);
    char buf[UTIL_MSG_MAX], tiny[4];

    ck_assert_ptr_nonnull(h);
    ck_assert_int_ne(yajl_parse(h, (const unsigned char *)"{]", 2),
                     yajl_status_ok);
    util_yajl_error(h, buf, sizeof buf);
    ck_assert_uint_gt(strlen(buf), 0);
    ck_assert_ptr_null(strchr(buf, '\n'));
    ck_assert_uint_ne((unsigned char)buf[strlen(buf) - 1], ' ');
    util_yajl_error(h, tiny, sizeof tiny);
    ck_assert_uint_le(strlen(tiny), 3);
    yajl_free(h);
}
END_TEST

static Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");

    tcase_add_loop_test(tc, test_value, 0,
                        (int)(sizeof values / sizeof values[0]));
    tcase_add_loop_test(tc, test_message, 0,
                        (int)(sizeof messages / sizeof messages[0]));
    tcase_add_test(tc, test_format_roundtrip);
    tcase_add_test(tc, test_flag_with_value);
    tcase_add_loop_test(tc, test_hostport, 0,
                        (int)(sizeof hostports / sizeof hostports[0]));
    tcase_add_test(tc, test_hostport_long);
    tcase_add_test(tc, test_unbracket);
    tcase_add_test(tc, test_resolve_and_name);
    tcase_add_test(tc, test_resolve_within);
    tcase_add_test(tc, test_yajl_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(util_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
