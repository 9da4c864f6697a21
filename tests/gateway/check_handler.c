/* check_handler.c - the request handlers (gw_handler.h), every vector
 * alone and after every other, and the names of every status. */
#include <stdio.h>
#include <string.h>

#include "gw_test.h"

/* The handler alone, given a decoded header, over idx. */
static void handle_vector(const gw_index *idx, const req_vec *v)
{
    unsigned char req[4096], want[4096];
    size_t rlen = vec_request(v, req, sizeof req);
    size_t wlen = vec_answer(v, want, sizeof want);
    hf_decoder d;
    hf_frame fr;
    gw_buf out;
    gw_reply r;

    ck_assert_int_eq(hf_decoder_init(&d, NULL), HF_OK);
    ck_assert_int_eq(hf_decode(&d, req, rlen, &fr), HF_OK);
    gw_buf_init(&out);
    ck_assert_int_eq(gw_handle_request(idx, fr.header, fr.content,
                                       fr.content_len, &out, &r), 0);
    ck_assert_int_eq(r.kind, v->kind);
    ck_assert_uint_eq(r.bytes_out, wlen);
    ck_assert_uint_eq(gw_buf_pending(&out), wlen);
    ck_assert_mem_eq(gw_buf_peek(&out), want, wlen);
    if (v->kind == GW_KIND_BAD_REQUEST)
        ck_assert_int_eq(r.req_status, v->st);
    gw_buf_free(&out);
    hf_decoder_free(&d);
}

/* A search whose content holds an extra member nested depth levels
 * deep in all (the object itself is the first): answered up to
 * GW_JSON_DEPTH_MAX (512), invalid-json past it. */
static void nested_search(int depth, gw_req_status want)
{
    static char content[2 * GW_JSON_DEPTH_MAX + 128];
    hf_header h;
    gw_buf out;
    gw_reply r;
    size_t n;
    int i;

    n = (size_t)snprintf(content, sizeof content,
                         "{\"action\": \"search\", \"value\": \"ring\", "
                         "\"z\": ");
    for (i = 1; i < depth; i++)
        content[n++] = '[';
    for (i = 1; i < depth; i++)
        content[n++] = ']';
    if (depth == 1)
        content[n++] = '0';
    content[n++] = '}';
    ck_assert_uint_lt(n, sizeof content);
    hf_header_init(&h, "text/json", "utf-8");
    h.content_length = n;
    gw_buf_init(&out);
    ck_assert_int_eq(gw_handle_request(builtin, &h,
                                       (const unsigned char *)content, n,
                                       &out, &r), 0);
    ck_assert_int_eq(r.kind, want == GW_REQ_OK ? GW_KIND_SEARCH
                                               : GW_KIND_BAD_REQUEST);
    if (want != GW_REQ_OK)
        ck_assert_int_eq(r.req_status, want);
    gw_buf_free(&out);
}

START_TEST(test_handler_depth)
{
    nested_search(1, GW_REQ_OK);
    nested_search(2, GW_REQ_OK);
    nested_search(512, GW_REQ_OK);      /* as protocol.md says */
    nested_search(513, GW_REQ_E_JSON);
    nested_search(GW_JSON_DEPTH_MAX + 40, GW_REQ_E_JSON);
}
END_TEST

START_TEST(test_handler_vectors)
{
    handle_vector(builtin, &req_vecs[_i]);
}
END_TEST

/* One parser serves request after request: whatever came before (a
 * request that keeps it, one that ends it, one of another type), every
 * request gets its own answer. */
START_TEST(test_handler_after_each)
{
    int j;

    for (j = 0; j < n_req_vecs; j++) {
        handle_vector(builtin, &req_vecs[_i]);
        handle_vector(builtin, &req_vecs[j]);
    }
}
END_TEST

/* Answers made ahead (gw_handle_prepare) are the same bytes. */
START_TEST(test_handler_vectors_prepared)
{
    gw_index *idx = gw_index_builtin();

    ck_assert_ptr_nonnull(idx);
    ck_assert_int_eq(gw_handle_prepare(idx), 0);
    handle_vector(idx, &req_vecs[_i]);
    gw_index_free(idx);
}
END_TEST

/* The answer to a search for key over idx, into out. */
static size_t search_answer(const gw_index *idx, const char *key,
                            gw_buf *out)
{
    unsigned char req[4096];
    size_t rlen = search_request(req, sizeof req, key);
    hf_decoder d;
    hf_frame fr;
    gw_reply r;

    ck_assert_int_eq(hf_decoder_init(&d, NULL), HF_OK);
    ck_assert_int_eq(hf_decode(&d, req, rlen, &fr), HF_OK);
    gw_buf_clear(out);
    ck_assert_int_eq(gw_handle_request(idx, fr.header, fr.content,
                                       fr.content_len, out, &r), 0);
    ck_assert_uint_eq(r.bytes_out, gw_buf_pending(out));
    hf_decoder_free(&d);
    return gw_buf_pending(out);
}

/* Values that need escapes, non-ASCII, an empty one (a miss), a long
 * one: prepared or not, every search gets the same bytes, hits and
 * misses. */
START_TEST(test_handler_prepared_same)
{
    static const char json[] =
        "{\"q\": \"say \\\"hi\\\"\\n\\t\\u0001 \\\\ /\", "
        "\"dog\": \"\xf0\x9f\x90\xb6 ball\", \"empty\": \"\", "
        "\"long\": \"%s\"}";
    static const char *keys[] = { "q", "dog", "empty", "long", "absent" };
    static char text[sizeof json + 5000];
    char filler[4001];
    gw_index *plain = NULL, *ready = NULL;
    gw_index_error err;
    gw_buf a, b;
    size_t i, n;

    memset(filler, 'z', sizeof filler - 1);
    filler[sizeof filler - 1] = '\0';
    snprintf(text, sizeof text, json, filler);
    ck_assert_int_eq(gw_index_load_mem(text, strlen(text), &plain, &err),
                     GW_INDEX_OK);
    ck_assert_int_eq(gw_index_load_mem(text, strlen(text), &ready, &err),
                     GW_INDEX_OK);
    ck_assert_int_eq(gw_handle_prepare(ready), 0);
    ck_assert_ptr_nonnull(gw_index_lookup_prepared(ready, "q", 1, &n));
    ck_assert_ptr_null(gw_index_lookup_prepared(ready, "empty", 5, &n));
    ck_assert_ptr_null(gw_index_lookup_prepared(plain, "q", 1, &n));
    gw_buf_init(&a);
    gw_buf_init(&b);
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        n = search_answer(plain, keys[i], &a);
        ck_assert_uint_gt(n, 0);
        ck_assert_uint_eq(search_answer(ready, keys[i], &b), n);
        ck_assert_mem_eq(gw_buf_peek(&a), gw_buf_peek(&b), n);
    }
    gw_buf_free(&a);
    gw_buf_free(&b);
    gw_index_free(plain);
    gw_index_free(ready);
}
END_TEST

START_TEST(test_names)
{
    int i;

    for (i = 0; i < GW_REQ_STATUS_COUNT; i++)
        ck_assert_str_ne(gw_req_status_name((gw_req_status)i), "unknown");
    ck_assert_str_eq(gw_req_status_name(GW_REQ_STATUS_COUNT), "unknown");
    for (i = 0; i < GW_CLOSE_REASON_COUNT; i++)
        ck_assert_str_ne(gw_close_reason_name((gw_close_reason)i),
                         "unknown");
    ck_assert_str_eq(gw_index_strerror(GW_INDEX_E_DUPLICATE),
                     "duplicate-key");
}
END_TEST

Suite *handler_suite(void)
{
    Suite *s = suite_create("handler");
    TCase *tc = tcase_create("handler");

    tcase_add_checked_fixture(tc, builtin_setup, builtin_teardown);
    tcase_add_loop_test(tc, test_handler_vectors, 0, n_req_vecs);
    tcase_add_loop_test(tc, test_handler_vectors_prepared, 0, n_req_vecs);
    tcase_add_loop_test(tc, test_handler_after_each, 0, n_req_vecs);
    tcase_add_test(tc, test_handler_prepared_same);
    tcase_add_test(tc, test_handler_depth);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    return s;
}
