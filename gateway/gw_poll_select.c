/*
 * gw_poll_select.c - the select() backend (gw_poll.h).
 *
 * The C library's fd_set holds FD_SETSIZE (1024) descriptors and FD_SET
 * past it is undefined; the kernel's select() reads as many bits as nfds
 * says. So the sets here are arrays of words grown to cover the highest
 * descriptor, set and tested with our own bit operations, and handed to
 * select() through a cast.
 */
#include "gw_poll.h"

#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

/* The kernel reads the sets as arrays of long; ours are unsigned so that
 * the top bit of a word is set without an overflowing shift. */
typedef unsigned long word;
_Static_assert(sizeof(word) == sizeof(fd_mask), "fd_mask is a long");

#define WORD_BITS ((int)(8 * sizeof(word)))

typedef struct sel {
    word *master[2];     /* read, write interest */
    word *work[2];       /* copies handed to select() */
    int words;              /* allocated words per set */
    int max_fd;             /* highest watched descriptor, -1 if none */
} sel;

static void *sel_create(void)
{
    sel *s = calloc(1, sizeof *s);

    if (s != NULL)
        s->max_fd = -1;
    return s;
}

static void sel_destroy(void *b)
{
    sel *s = b;
    int i;

    for (i = 0; i < 2; i++) {
        free(s->master[i]);
        free(s->work[i]);
    }
    free(s);
}

static int bit_test(const word *set, int fd)
{
    return (set[fd / WORD_BITS] >> (fd % WORD_BITS)) & 1;
}

static void bit_put(word *set, int fd, int on)
{
    word bit = (word)1 << (fd % WORD_BITS);

    if (on)
        set[fd / WORD_BITS] |= bit;
    else
        set[fd / WORD_BITS] &= ~bit;
}

/* Room for descriptor fd in every set. */
static int sel_grow(sel *s, int fd)
{
    int words = s->words > 0 ? s->words : 16, i;

    if (fd / WORD_BITS < s->words)
        return 0;
    while (fd / WORD_BITS >= words)
        words *= 2;
    for (i = 0; i < 4; i++) {
        word **set = i < 2 ? &s->master[i] : &s->work[i - 2];
        word *n = realloc(*set, (size_t)words * sizeof **set);

        if (n == NULL)
            return -1;
        memset(n + s->words, 0, (size_t)(words - s->words) * sizeof *n);
        *set = n;
    }
    s->words = words;
    return 0;
}

static int sel_set(void *b, int fd, unsigned old_mask, unsigned mask)
{
    sel *s = b;

    (void)old_mask;
    if (sel_grow(s, fd) != 0)
        return -1;
    bit_put(s->master[0], fd, (mask & GW_POLL_IN) != 0);
    bit_put(s->master[1], fd, (mask & GW_POLL_OUT) != 0);
    if (mask != 0 && fd > s->max_fd)
        s->max_fd = fd;
    while (s->max_fd >= 0 && !bit_test(s->master[0], s->max_fd) &&
           !bit_test(s->master[1], s->max_fd))
        s->max_fd--;
    return 0;
}

static int sel_wait(void *b, gw_time timeout, gw_poll_event *ev, int cap)
{
    sel *s = b;
    struct timeval tv, *tvp = NULL;
    size_t bytes;
    int n, fd, k = 0;

    if (timeout != GW_TIME_NEVER) {
        tv.tv_sec = (time_t)(timeout / GW_SEC);
        tv.tv_usec = (suseconds_t)(timeout % GW_SEC);
        tvp = &tv;
    }
    if (s->max_fd < 0)
        return select(0, NULL, NULL, NULL, tvp) < 0 ? -1 : 0;
    bytes = (size_t)(s->max_fd / WORD_BITS + 1) * sizeof(word);
    memcpy(s->work[0], s->master[0], bytes);
    memcpy(s->work[1], s->master[1], bytes);
    n = select(s->max_fd + 1, (fd_set *)(void *)s->work[0],
               (fd_set *)(void *)s->work[1], NULL, tvp);
    if (n <= 0)
        return n;
    for (fd = 0; fd <= s->max_fd && k < cap; fd++) {
        unsigned m = (bit_test(s->work[0], fd) ? GW_POLL_IN : 0) |
                     (bit_test(s->work[1], fd) ? GW_POLL_OUT : 0);

        if (m == 0)
            continue;
        ev[k].fd = fd;
        ev[k].mask = m;
        k++;
    }
    return k;
}

const gw_poll_ops gw_poll_select_ops = {
    sel_create, sel_destroy, sel_set, sel_wait
};
