/*
 * check_loop_parts.c - the event loop's parts that can be tested alone:
 * the timer heap (gw_timer.h) and the readiness backends (gw_poll.h),
 * the select backend's descriptor sets at word boundaries and past
 * FD_SETSIZE.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "gw_poll.h"
#include "gw_test.h"
#include "gw_timer.h"

#define N_TIMERS 500

/* Timers set, moved and removed in a scrambled order come out of the
 * heap in deadline order. */
START_TEST(test_timer_heap)
{
    static gw_timer t[N_TIMERS];
    gw_timers h;
    gw_timer *first;
    gw_time last = 0;
    int i, n = 0;

    gw_timers_init(&h);
    for (i = 0; i < N_TIMERS; i++) {
        gw_timer_init(&t[i], &t[i]);
        ck_assert_int_eq(gw_timers_set(&h, &t[i],
                                       (gw_time)((i * 7919) % 1000) + 1), 0);
    }
    /* Move every third, remove every fifth. */
    for (i = 0; i < N_TIMERS; i += 3)
        ck_assert_int_eq(gw_timers_set(&h, &t[i], (gw_time)(i % 97) + 1), 0);
    for (i = 0; i < N_TIMERS; i += 5)
        ck_assert_int_eq(gw_timers_set(&h, &t[i], GW_TIME_NEVER), 0);
    while ((first = gw_timers_first(&h)) != NULL) {
        ck_assert_int_ge(first->when, last);
        ck_assert_ptr_eq(first->owner, first);
        last = first->when;
        gw_timers_set(&h, first, GW_TIME_NEVER);
        n++;
    }
    ck_assert_int_eq(n, N_TIMERS - N_TIMERS / 5);
    for (i = 0; i < N_TIMERS; i++)
        ck_assert_int_eq(t[i].when, GW_TIME_NEVER);
    gw_timers_free(&h);
}
END_TEST

/* A pipe's read end placed at each descriptor number: written, it is
 * reported readable, and the others are not. */
static const int fd_marks[] = { 3, 62, 63, 64, 65, 127, 128, 1022, 1023,
                                1024, 1025, 2047, 2048, 4100 };
#define N_MARKS ((int)(sizeof fd_marks / sizeof fd_marks[0]))

static int room_for(int fd)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur <= (rlim_t)fd && rl.rlim_max > (rlim_t)fd) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > (rlim_t)fd;
}

START_TEST(test_poll_marks)
{
    gw_poll_kind kind = _i % 2 == 0 ? GW_POLL_SELECT : GW_POLL_EPOLL;
    int mark = fd_marks[_i / 2];
    int p[2], rd, wr, other, k;
    const gw_poll_event *ev;
    gw_poller *poller;

    if (!room_for(mark + 1))
        return;     /* no descriptor that high here */
    ck_assert_int_eq(pipe(p), 0);
    rd = dup2(p[0], mark);
    ck_assert_int_eq(rd, mark);
    close(p[0]);
    wr = p[1];
    other = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(other, 0);
    poller = gw_poller_new(kind);
    ck_assert_ptr_nonnull(poller);
    ck_assert_int_eq(gw_poller_set(poller, rd, GW_POLL_IN), 0);
    /* Nothing yet. */
    ck_assert_int_eq(gw_poller_wait(poller, 0, &ev), 0);
    ck_assert_int_eq(write(wr, "x", 1), 1);
    k = gw_poller_wait(poller, GW_SEC, &ev);
    ck_assert_int_eq(k, 1);
    ck_assert_int_eq(ev[0].fd, mark);
    ck_assert_uint_eq(ev[0].mask, GW_POLL_IN);
    /* Write interest on the pipe's write end, below the mark. */
    ck_assert_int_eq(gw_poller_set(poller, wr, GW_POLL_OUT), 0);
    k = gw_poller_wait(poller, 0, &ev);
    ck_assert_int_eq(k, 2);
    /* Interest removed: no longer reported; added again: reported. */
    ck_assert_int_eq(gw_poller_set(poller, rd, 0), 0);
    ck_assert_int_eq(gw_poller_set(poller, wr, 0), 0);
    ck_assert_int_eq(gw_poller_wait(poller, 0, &ev), 0);
    ck_assert_int_eq(gw_poller_set(poller, rd, GW_POLL_IN), 0);
    ck_assert_int_eq(gw_poller_wait(poller, 0, &ev), 1);
    ck_assert_int_eq(ev[0].fd, mark);
    gw_poller_free(poller);
    close(rd);
    close(wr);
    close(other);
}
END_TEST

/* A pipe whose read end is descriptor fd; its write end in *wr. */
static int pipe_at(int fd, int *wr)
{
    int p[2];

    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(dup2(p[0], fd), fd);
    close(p[0]);
    *wr = p[1];
    return fd;
}

/* The select backend past HOT_FROM_FD: a descriptor ready within the
 * last second is looked at on every wait, a cold one once per scan of
 * all (at most 10 ms late), and once seen it is hot again. */
START_TEST(test_poll_hot)
{
    int a, b, wa, wb, i, k;
    char c;
    const gw_poll_event *ev;
    gw_poller *poller;
    struct timespec t0, t1;
    long ms;

    if (!room_for(701))
        return;
    a = pipe_at(700, &wa);
    b = pipe_at(701, &wb);
    poller = gw_poller_new(GW_POLL_SELECT);
    ck_assert_ptr_nonnull(poller);
    ck_assert_int_eq(gw_poller_set(poller, a, GW_POLL_IN), 0);
    ck_assert_int_eq(gw_poller_set(poller, b, GW_POLL_IN), 0);
    /* a keeps being ready; b goes cold after a second. */
    for (i = 0; i < 12; i++) {
        ck_assert_int_eq(write(wa, "x", 1), 1);
        k = gw_poller_wait(poller, GW_SEC, &ev);
        ck_assert_int_eq(k, 1);
        ck_assert_int_eq(ev[0].fd, a);
        ck_assert_int_eq(read(a, &c, 1), 1);
        usleep(100000);
    }
    ck_assert_int_eq(write(wa, "x", 1), 1);
    k = gw_poller_wait(poller, GW_SEC, &ev);     /* scans all: a only */
    ck_assert_int_eq(k, 1);
    ck_assert_int_eq(read(a, &c, 1), 1);
    /* Both ready at once, right after a scan of all: the hot one only. */
    ck_assert_int_eq(write(wa, "x", 1), 1);
    ck_assert_int_eq(write(wb, "y", 1), 1);
    k = gw_poller_wait(poller, 0, &ev);
    ck_assert_int_eq(k, 1);
    ck_assert_int_eq(ev[0].fd, a);
    ck_assert_int_eq(read(a, &c, 1), 1);
    /* The cold one is seen by the next scan of all, soon. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    k = gw_poller_wait(poller, GW_SEC, &ev);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ck_assert_int_eq(k, 1);
    ck_assert_int_eq(ev[0].fd, b);
    ck_assert_int_lt(ms, 500);
    ck_assert_int_eq(read(b, &c, 1), 1);
    /* Now hot: seen at once. */
    ck_assert_int_eq(write(wb, "y", 1), 1);
    k = gw_poller_wait(poller, 0, &ev);
    ck_assert_int_eq(k, 1);
    ck_assert_int_eq(ev[0].fd, b);
    gw_poller_free(poller);
    close(a);
    close(b);
    close(wa);
    close(wb);
}
END_TEST

START_TEST(test_poll_names)
{
    gw_poll_kind k;

    ck_assert_int_eq(gw_poll_parse("select", &k), 0);
    ck_assert_int_eq(k, GW_POLL_SELECT);
    ck_assert_int_eq(gw_poll_parse("epoll", &k), 0);
    ck_assert_int_eq(k, GW_POLL_EPOLL);
    ck_assert_int_ne(gw_poll_parse("poll", &k), 0);
    ck_assert_str_eq(gw_poll_name(GW_POLL_EPOLL), "epoll");
}
END_TEST

Suite *loop_parts_suite(void)
{
    Suite *s = suite_create("loop parts");
    TCase *tc = tcase_create("loop parts");

    tcase_add_test(tc, test_timer_heap);
    tcase_add_loop_test(tc, test_poll_marks, 0, 2 * N_MARKS);
    tcase_add_test(tc, test_poll_names);
    tcase_add_test(tc, test_poll_hot);
    suite_add_tcase(s, tc);
    return s;
}
