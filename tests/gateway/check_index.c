/* check_index.c - the index (gw_index.h) and the byte buffer
 * (gw_buf.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_test.h"

START_TEST(test_index_builtin)
{
    size_t n;
    const char *v;

    ck_assert_uint_eq(gw_index_count(builtin), 3);
    v = gw_index_lookup(builtin, "morpheus", 8, &n);
    ck_assert_mem_eq(v, RABBIT, n);
    ck_assert_uint_eq(n, strlen(RABBIT));
    v = gw_index_lookup(builtin, "ring", 4, &n);
    ck_assert_uint_eq(n, strlen(RING));
    ck_assert_mem_eq(v, RING, n);
    v = gw_index_lookup(builtin, DOG, 4, &n);
    ck_assert_uint_eq(n, strlen(BALL));
    ck_assert_mem_eq(v, BALL, n);
    ck_assert_ptr_null(gw_index_lookup(builtin, "morphe", 6, &n));
    ck_assert_ptr_null(gw_index_lookup(builtin, "morpheus!", 9, &n));
    ck_assert_ptr_null(gw_index_lookup(builtin, "", 0, &n));
}
END_TEST

typedef struct index_vec {
    const char *json;
    gw_index_status st;
    size_t count;
    size_t offset;          /* checked when not (size_t)-1 */
} index_vec;

static const index_vec index_vecs[] = {
    { "{}", GW_INDEX_OK, 0, (size_t)-1 },
    { " { \"a\" : \"b\" } \n", GW_INDEX_OK, 1, (size_t)-1 },
    { "{\"\": \"\"}", GW_INDEX_OK, 1, (size_t)-1 },
    { "{\"caf\\u00e9\": \"x\", \"b\": \"\\\"q\\\"\"}", GW_INDEX_OK, 2,
      (size_t)-1 },
    { "", GW_INDEX_E_JSON, 0, 0 },
    { "{", GW_INDEX_E_JSON, 0, 1 },
    /* A file that ends too early: the error stands at its end. */
    { "{\"morpheus\": \"half a file", GW_INDEX_E_JSON, 0, 25 },
    { "{\"a\": \"b\"", GW_INDEX_E_JSON, 0, 9 },
    { "{\"a\": \"b\",}", GW_INDEX_E_JSON, 0, (size_t)-1 },
    { "{} {}", GW_INDEX_E_JSON, 0, (size_t)-1 },
    { "{\"a\": \"\xff\"}", GW_INDEX_E_JSON, 0, (size_t)-1 },
    { "/* c */ {}", GW_INDEX_E_JSON, 0, (size_t)-1 },
    { "\xef\xbb\xbf{}", GW_INDEX_E_JSON, 0, 0 },
    { "{\"a\": \"\xc0\xaf\"}", GW_INDEX_E_JSON, 0, 7 },
    { "{\"A\":\"2\"}\"}", GW_INDEX_E_JSON, 0, 9 },
    { "{\"A\":\"2\"} \"", GW_INDEX_E_JSON, 0, 9 },
    { "\f{\"A\":\"2\"}", GW_INDEX_E_JSON, 0, 0 },
    { "{\"A\":\"2\"}\v", GW_INDEX_E_JSON, 0, 9 },
    /* The first of a vertical tab, a form feed and bad UTF-8. */
    { "{\"A\":\"2\"} \v\f\xff", GW_INDEX_E_JSON, 0, 10 },
    { "{\"A\":\"2\"} \f\v\xff", GW_INDEX_E_JSON, 0, 10 },
    { "{\"A\":\"2\"} \xff\f\v", GW_INDEX_E_JSON, 0, 10 },
    { "{\"A\":\"2\"}\t\r\n ", GW_INDEX_OK, 1, (size_t)-1 },
    { "{\"a\": \"\\ud800\"}", GW_INDEX_E_JSON, 0, 7 },
    { "{\"a\": \"\\ud800\\udc00\"}", GW_INDEX_OK, 1,
      (size_t)-1 },
    /* Type errors stand at the first byte of the value. */
    { "[]", GW_INDEX_E_NOT_OBJECT, 0, 0 },
    { " \"x\\\"y\"", GW_INDEX_E_NOT_OBJECT, 0, 1 },
    { "\n-1.5e+3 ", GW_INDEX_E_NOT_OBJECT, 0, 1 },
    { "{\"a\": 12}", GW_INDEX_E_NOT_STRING, 0, 6 },
    { "{\"a\": null}", GW_INDEX_E_NOT_STRING, 0, 6 },
    { "{\"a\":true}", GW_INDEX_E_NOT_STRING, 0, 5 },
    { "{\"a\": false}", GW_INDEX_E_NOT_STRING, 0, 6 },
    { "{\"a\": {}}", GW_INDEX_E_NOT_STRING, 0, 6 },
    { "{\"a\": [\"b\"]}", GW_INDEX_E_NOT_STRING, 0, 6 },
    /* A duplicate at the later key's opening quote. */
    { "{\"a\": \"b\", \"c\": \"d\", \"a\": \"e\"}", GW_INDEX_E_DUPLICATE, 0,
      21 },
    { "{\"\\\\\": \"b\", \"\\\\\": \"e\"}", GW_INDEX_E_DUPLICATE, 0,
      12 },
};

START_TEST(test_index_load)
{
    const index_vec *v = &index_vecs[_i];
    gw_index_error err;
    gw_index *idx = NULL;
    gw_index_status st;

    st = gw_index_load_mem(v->json, strlen(v->json), &idx, &err);
    ck_assert_msg(st == v->st, "vector %d: got %s (%s), want %s", _i,
                  gw_index_strerror(st), err.detail,
                  gw_index_strerror(v->st));
    ck_assert_int_eq(err.code, st);
    if (st == GW_INDEX_OK) {
        ck_assert_ptr_nonnull(idx);
        ck_assert_uint_eq(gw_index_count(idx), v->count);
    } else {
        ck_assert_ptr_null(idx);
        ck_assert(err.detail[0] != '\0');
        ck_assert_uint_le(err.offset, strlen(v->json));
        if (v->offset != (size_t)-1)
            ck_assert_uint_eq(err.offset, v->offset);
    }
    gw_index_free(idx);
}
END_TEST

/* A byte order mark is named as such, not as a syntax error. */
START_TEST(test_index_bom)
{
    gw_index_error err;
    gw_index *idx = NULL;

    ck_assert_int_eq(gw_index_load_mem("\xef\xbb\xbf{}", 5, &idx, &err),
                     GW_INDEX_E_JSON);
    ck_assert_ptr_null(idx);
    ck_assert_uint_eq(err.offset, 0);
    ck_assert_ptr_nonnull(strstr(err.detail, "byte order mark"));
}
END_TEST

START_TEST(test_index_file)
{
    char path[] = "/tmp/check_gateway_XXXXXX";
    gw_index_error err;
    gw_index *idx = NULL;
    size_t n;
    const char *v;
    FILE *f;
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    fputs("{\"neo\": \"The One. \xf0\x9f\x95\xb6\"}", f);
    fclose(f);
    ck_assert_int_eq(gw_index_load_file(path, &idx, &err), GW_INDEX_OK);
    v = gw_index_lookup(idx, "neo", 3, &n);
    ck_assert_ptr_nonnull(v);
    ck_assert_mem_eq(v, "The One. \xf0\x9f\x95\xb6", n);
    gw_index_free(idx);
    unlink(path);
    ck_assert_int_eq(gw_index_load_file(path, &idx, &err), GW_INDEX_E_IO);
    ck_assert_ptr_null(idx);
}
END_TEST

/* Only a regular file is an index: a FIFO (whose open would wait for a
 * writer, for ever), a directory or a device is refused at once, with
 * a message that says what it is. */
START_TEST(test_index_not_regular)
{
    static const char *const kinds[] = { "a FIFO", "a directory",
                                         "a character device" };
    char dir[] = "/tmp/check_gateway_XXXXXX";
    char path[64];
    gw_index_error err;
    gw_index *idx = NULL;
    char want[64];

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/index", dir);
    if (_i == 0)
        ck_assert_int_eq(mkfifo(path, 0600), 0);
    else if (_i == 1)
        ck_assert_int_eq(mkdir(path, 0700), 0);
    else
        snprintf(path, sizeof path, "/dev/null");
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(gw_index_load_file(path, &idx, &err), GW_INDEX_E_IO);
    ck_assert_ptr_null(idx);
    ck_assert_int_eq(err.code, GW_INDEX_E_IO);
    snprintf(want, sizeof want, "not a regular file (%s)", kinds[_i]);
    ck_assert_str_eq(err.detail, want);
    if (_i == 0)
        unlink(path);
    else if (_i == 1)
        rmdir(path);
    rmdir(dir);
}
END_TEST

/* Many entries: every one is found, misses are not. */
START_TEST(test_index_many)
{
    gw_buf b;
    gw_index *idx = NULL;
    gw_index_error err;
    char key[32], val[32];
    size_t n;
    const char *v;
    int i;

    gw_buf_init(&b);
    gw_buf_append(&b, "{", 1);
    for (i = 0; i < 5000; i++) {
        int k = snprintf(key, sizeof key, "%s\"k%d\": \"v%d\"",
                         i == 0 ? "" : ", ", (i * 7919) % 5000, i);
        gw_buf_append(&b, key, (size_t)k);
    }
    gw_buf_append(&b, "}", 1);
    ck_assert_int_eq(gw_index_load_mem(gw_buf_peek(&b), gw_buf_pending(&b),
                                       &idx, &err), GW_INDEX_OK);
    for (i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", (i * 7919) % 5000);
        snprintf(val, sizeof val, "v%d", i);
        v = gw_index_lookup(idx, key, strlen(key), &n);
        ck_assert_ptr_nonnull(v);
        ck_assert_uint_eq(n, strlen(val));
        ck_assert_mem_eq(v, val, n);
    }
    ck_assert_ptr_null(gw_index_lookup(idx, "k5000", 5, &n));
    gw_index_free(idx);
    gw_buf_free(&b);
}
END_TEST

/* A test's way of making answers ahead: "<value>", none for values
 * that end in '7'. */
static int wrap(void *ctx, const char *value, size_t len, gw_buf *out)
{
    unsigned *calls = ctx;

    (*calls)++;
    if (len > 0 && value[len - 1] == '7')
        return -1;
    if (gw_buf_append(out, "<", 1) != 0 ||
        gw_buf_append(out, value, len) != 0 ||
        gw_buf_append(out, ">", 1) != 0)
        return -1;
    return 0;
}

/* Every entry gets its own answer made ahead, except those make leaves;
 * plain lookups are unchanged. */
START_TEST(test_index_prepare)
{
    gw_buf b;
    gw_index *idx = NULL;
    gw_index_error err;
    char key[32], val[32];
    const unsigned char *p;
    unsigned calls = 0;
    size_t n;
    int i;

    gw_buf_init(&b);
    gw_buf_append(&b, "{", 1);
    for (i = 0; i < 500; i++) {
        int k = snprintf(key, sizeof key, "%s\"k%d\": \"v%d\"",
                         i == 0 ? "" : ", ", (i * 37) % 500, i);
        gw_buf_append(&b, key, (size_t)k);
    }
    gw_buf_append(&b, "}", 1);
    ck_assert_int_eq(gw_index_load_mem(gw_buf_peek(&b), gw_buf_pending(&b),
                                       &idx, &err), GW_INDEX_OK);
    ck_assert_ptr_null(gw_index_lookup_prepared(idx, "k1", 2, &n));
    ck_assert_int_eq(gw_index_prepare(idx, wrap, &calls), 0);
    ck_assert_uint_eq(calls, 500);
    for (i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "k%d", (i * 37) % 500);
        n = (size_t)snprintf(val, sizeof val, "<v%d>", i);
        p = gw_index_lookup_prepared(idx, key, strlen(key), &n);
        if (i % 10 == 7) {
            ck_assert_ptr_null(p);
            ck_assert_uint_eq(n, 0);
        } else {
            ck_assert_ptr_nonnull(p);
            ck_assert_uint_eq(n, strlen(val));
            ck_assert_mem_eq(p, val, n);
        }
        ck_assert_ptr_nonnull(gw_index_lookup(idx, key, strlen(key), &n));
        ck_assert_uint_eq(n, strlen(val) - 2);
    }
    ck_assert_ptr_null(gw_index_lookup_prepared(idx, "k500", 4, &n));
    gw_index_free(idx);
    gw_buf_free(&b);
}
END_TEST

/* Answers made ahead stop at GW_INDEX_PREPARED_MAX bytes: the entries
 * past it are answered when asked. */
START_TEST(test_index_prepare_cap)
{
    enum { N = 20, VAL = 1 << 20 };
    gw_buf b;
    gw_index *idx = NULL;
    gw_index_error err;
    char key[32];
    unsigned char *v;
    unsigned calls = 0, ready = 0;
    size_t n;
    int i;

    gw_buf_init(&b);
    gw_buf_append(&b, "{", 1);
    for (i = 0; i < N; i++) {
        int k = snprintf(key, sizeof key, "%s\"k%02d\": \"",
                         i == 0 ? "" : ", ", i);
        gw_buf_append(&b, key, (size_t)k);
        v = gw_buf_reserve(&b, VAL);
        ck_assert_ptr_nonnull(v);
        memset(v, 'a', VAL);
        gw_buf_commit(&b, VAL);
        gw_buf_append(&b, "\"", 1);
    }
    gw_buf_append(&b, "}", 1);
    ck_assert_int_eq(gw_index_load_mem(gw_buf_peek(&b), gw_buf_pending(&b),
                                       &idx, &err), GW_INDEX_OK);
    gw_buf_free(&b);
    ck_assert_int_eq(gw_index_prepare(idx, wrap, &calls), 0);
    for (i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        if (gw_index_lookup_prepared(idx, key, 3, &n) != NULL) {
            ck_assert_uint_eq(n, VAL + 2);
            ck_assert_uint_eq(ready, (unsigned)i);  /* in key order */
            ready++;
        }
        ck_assert_ptr_nonnull(gw_index_lookup(idx, key, 3, &n));
    }
    ck_assert_uint_eq(ready, GW_INDEX_PREPARED_MAX / (VAL + 2));
    gw_index_free(idx);
}
END_TEST

START_TEST(test_buf)
{
    gw_buf b;
    int i;

    gw_buf_init(&b);
    ck_assert_ptr_null(gw_buf_peek(&b));
    for (i = 0; i < 1000; i++) {
        ck_assert_int_eq(gw_buf_append(&b, "abcdefgh", 8), 0);
        gw_buf_consume(&b, 5);
    }
    ck_assert_uint_eq(gw_buf_pending(&b), 3000);
    ck_assert_mem_eq(gw_buf_peek(&b), "abcdefgh", 8);
    ck_assert_uint_le(b.cap, 8192);
    gw_buf_consume(&b, 3000);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_uint_eq(b.len, 0);
    gw_buf_free(&b);
}
END_TEST

Suite *index_suite(void)
{
    Suite *s = suite_create("index");
    TCase *tc = tcase_create("index");

    tcase_add_checked_fixture(tc, builtin_setup, builtin_teardown);
    tcase_add_test(tc, test_index_builtin);
    tcase_add_loop_test(tc, test_index_load, 0,
                        (int)(sizeof index_vecs / sizeof index_vecs[0]));
    tcase_add_test(tc, test_index_file);
    tcase_add_test(tc, test_index_bom);
    tcase_add_loop_test(tc, test_index_not_regular, 0, 3);
    tcase_add_test(tc, test_index_many);
    tcase_add_test(tc, test_index_prepare);
    tcase_add_test(tc, test_index_prepare_cap);
    tcase_add_test(tc, test_buf);
    suite_add_tcase(s, tc);
    return s;
}
