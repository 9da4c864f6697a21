/* check_handler.c - the request handlers (gw_handler.h) and the
 * names of every status. */
#include <string.h>

#include "gw_test.h"

/* The handler alone, given a decoded header. */
START_TEST(test_handler_vectors)
{
    const req_vec *v = &req_vecs[_i];
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
    ck_assert_int_eq(gw_handle_request(builtin, fr.header, fr.content,
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
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    return s;
}
