/*
 * check_hist.c - latency histograms (gw_hist.h): an observation goes to
 * the first bucket whose upper bound it does not pass, as Prometheus's
 * "le" says, and the sum keeps every microsecond.
 */
#include <stdint.h>
#include <string.h>

#include "gw_hist.h"
#include "gw_test.h"

static const struct {
    int64_t us;
    unsigned bucket;
} hist_cases[] = {
    { -5, 0 },              /* a clock step back counts as 0 */
    { 0, 0 },
    { 100, 0 },             /* on a bound: that bucket ("le") */
    { 101, 1 },
    { 250, 1 },
    { 251, 2 },
    { 999999, 12 },
    { 1000000, 12 },
    { 10000000, GW_HIST_BOUNDS - 1 },
    { 10000001, GW_HIST_BOUNDS },   /* +Inf */
    { INT64_MAX, GW_HIST_BOUNDS },
};

START_TEST(test_hist_bucket)
{
    gw_hist h;
    unsigned i, n = 0;

    memset(&h, 0, sizeof h);
    gw_hist_add(&h, hist_cases[_i].us);
    for (i = 0; i <= GW_HIST_BOUNDS; i++) {
        ck_assert_uint_eq(h.bucket[i], i == hist_cases[_i].bucket);
        n += (unsigned)h.bucket[i];
    }
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(h.sum_us, hist_cases[_i].us > 0
                                    ? (uint64_t)hist_cases[_i].us : 0);
}
END_TEST

/* The bounds rise, from 100 us to 10 s. */
START_TEST(test_hist_bounds)
{
    unsigned i;

    ck_assert_uint_eq(gw_hist_bound_us(0), 100);
    ck_assert_uint_eq(gw_hist_bound_us(GW_HIST_BOUNDS - 1), 10000000);
    for (i = 1; i < GW_HIST_BOUNDS; i++)
        ck_assert_uint_gt(gw_hist_bound_us(i), gw_hist_bound_us(i - 1));
}
END_TEST

Suite *hist_suite(void)
{
    Suite *s = suite_create("hist");
    TCase *tc = tcase_create("hist");

    tcase_add_loop_test(tc, test_hist_bucket, 0,
                        (int)(sizeof hist_cases / sizeof hist_cases[0]));
    tcase_add_test(tc, test_hist_bounds);
    suite_add_tcase(s, tc);
    return s;
}
