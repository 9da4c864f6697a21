/*
 * check_gateway.c - the runner of the gateway's Check suites, one per
 * component, under tests/gateway/: the index, the handlers, the
 * connection in serve and in relay mode, the PROXY protocol, and the
 * event loop's parts. Everything but the loop is driven without sockets,
 * by gw_drive over memory (gw_memio), with time a plain number; and the
 * latency histograms of the metrics, and the log's field escaping.
 */
#include <stdlib.h>

#include "gateway/gw_test.h"

int main(void)
{
    SRunner *sr = srunner_create(index_suite());
    int failed;

    srunner_add_suite(sr, handler_suite());
    srunner_add_suite(sr, conn_suite());
    srunner_add_suite(sr, relay_suite());
    srunner_add_suite(sr, relay_depth_suite());
    srunner_add_suite(sr, proxy_suite());
    srunner_add_suite(sr, loop_parts_suite());
    srunner_add_suite(sr, hist_suite());
    srunner_add_suite(sr, log_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
