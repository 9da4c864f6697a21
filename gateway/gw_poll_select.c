/*
 * gw_poll_select.c - the select() backend (gw_poll.h).
 *
 * The C library's fd_set holds FD_SETSIZE (1024) descriptors and FD_SET
 * past it is undefined; the kernel's select() reads as many bits as nfds
 * says. So the sets here are arrays of words grown to cover the highest
 * descriptor, set and tested with our own bit operations, and handed to
 * select() through a cast.
 *
 * select() costs time for every descriptor it is given, ready or not:
 * with ten thousand idle clients, each call polls ten thousand sockets
 * (and, when it sleeps, joins and leaves ten thousand wait queues). So
 * once the highest descriptor reaches HOT_FROM_FD, the descriptors that
 * were ready or changed their mask in the last HOT_TTL are "hot": most
 * waits look at them only, and every descriptor is looked at once per
 * FULL_EVERY at least, in a scan that does not sleep while hot ones
 * exist. A descriptor that becomes ready while cold is thus seen at most
 * FULL_EVERY late; with none hot the wait is a plain select() of all.
 */
#include "gw_poll.h"

#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

/* The kernel reads the sets as arrays of long; ours are unsigned so that
 * the top bit of a word is set without an overflowing shift. */
typedef unsigned long word;
_Static_assert(sizeof(word) == sizeof(fd_mask), "fd_mask is a long");

#define WORD_BITS ((int)(8 * sizeof(word)))

/* Below this highest descriptor every wait is a select() of all. */
#define HOT_FROM_FD 512
/* Every descriptor is looked at at least this often. */
#define FULL_EVERY ((gw_time)10000)
/* A descriptor stays hot this long after it was last ready or set. */
#define HOT_TTL GW_SEC

typedef struct sel {
    word *master[2];     /* read, write interest */
    word *work[2];       /* copies handed to select() */
    int words;              /* allocated words per set */
    int max_fd;             /* highest watched descriptor, -1 if none */
    word *is_hot;           /* descriptors in hot[] */
    gw_time *seen;          /* per descriptor: last ready or set */
    int *hot;               /* the hot descriptors, unordered */
    int n_hot, cap_hot;
    gw_time last_full;      /* the last scan of every descriptor */
} sel;

static gw_time clock_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gw_time)ts.tv_sec * GW_SEC + ts.tv_nsec / 1000;
}

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
    free(s->is_hot);
    free(s->seen);
    free(s->hot);
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

static int grow_one(void **p, size_t size, int from, int to)
{
    unsigned char *n = realloc(*p, (size_t)to * size);

    if (n == NULL)
        return -1;
    memset(n + (size_t)from * size, 0, (size_t)(to - from) * size);
    *p = n;
    return 0;
}

/* Room for descriptor fd in every set. */
static int sel_grow(sel *s, int fd)
{
    int words = s->words > 0 ? s->words : 16, i;

    if (fd / WORD_BITS < s->words)
        return 0;
    while (fd / WORD_BITS >= words)
        words *= 2;
    for (i = 0; i < 5; i++) {
        void **set = i < 2 ? (void **)&s->master[i]
                   : i < 4 ? (void **)&s->work[i - 2] : (void **)&s->is_hot;

        if (grow_one(set, sizeof(word), s->words, words) != 0)
            return -1;
    }
    if (grow_one((void **)&s->seen, sizeof(gw_time), s->words * WORD_BITS,
                 words * WORD_BITS) != 0)
        return -1;
    s->words = words;
    return 0;
}

/* fd was ready, or its mask changed, at now. -1 when memory runs out
 * (fd stays cold: it is still seen, only later). */
static int make_hot(sel *s, int fd, gw_time now)
{
    int *n;

    s->seen[fd] = now;
    if (bit_test(s->is_hot, fd))
        return 0;
    if (s->n_hot == s->cap_hot) {
        n = realloc(s->hot, (size_t)(s->cap_hot > 0 ? s->cap_hot * 2 : 64) *
                                sizeof *n);
        if (n == NULL)
            return -1;
        s->hot = n;
        s->cap_hot = s->cap_hot > 0 ? s->cap_hot * 2 : 64;
    }
    s->hot[s->n_hot++] = fd;
    bit_put(s->is_hot, fd, 1);
    return 0;
}

static int watched(const sel *s, int fd)
{
    return bit_test(s->master[0], fd) || bit_test(s->master[1], fd);
}

static int sel_set(void *b, int fd, unsigned old_mask, unsigned mask)
{
    sel *s = b;

    if (sel_grow(s, fd) != 0)
        return -1;
    bit_put(s->master[0], fd, (mask & GW_POLL_IN) != 0);
    bit_put(s->master[1], fd, (mask & GW_POLL_OUT) != 0);
    if (mask != 0 && fd > s->max_fd)
        s->max_fd = fd;
    while (s->max_fd >= 0 && !watched(s, s->max_fd))
        s->max_fd--;
    /* New interest is likely to be met soon: a new client's request,
     * room to write an answer. */
    if (mask != 0 && mask != old_mask)
        (void)make_hot(s, fd, clock_now());     /* else merely cold */
    return 0;
}

/* Hot descriptors still watched and ready within HOT_TTL; the highest. */
static int prune_hot(sel *s, gw_time now)
{
    int i = 0, fd, top = -1;

    while (i < s->n_hot) {
        fd = s->hot[i];
        if (fd <= s->max_fd && watched(s, fd) && now - s->seen[fd] < HOT_TTL) {
            top = fd > top ? fd : top;
            i++;
            continue;
        }
        bit_put(s->is_hot, fd, 0);
        s->hot[i] = s->hot[--s->n_hot];
    }
    return top;
}

/* What select() left in the work sets for fd, as a mask. */
static unsigned ready(const sel *s, int fd)
{
    return (bit_test(s->work[0], fd) ? GW_POLL_IN : 0) |
           (bit_test(s->work[1], fd) ? GW_POLL_OUT : 0);
}

static int call_select(sel *s, int top, gw_time timeout)
{
    struct timeval tv, *tvp = NULL;

    if (timeout != GW_TIME_NEVER) {
        tv.tv_sec = (time_t)(timeout / GW_SEC);
        tv.tv_usec = (suseconds_t)(timeout % GW_SEC);
        tvp = &tv;
    }
    if (top < 0)
        return select(0, NULL, NULL, NULL, tvp);
    return select(top + 1, (fd_set *)(void *)s->work[0],
                  (fd_set *)(void *)s->work[1], NULL, tvp);
}

/* One select() of the hot descriptors (top the highest). */
static int wait_hot(sel *s, int top, gw_time timeout, gw_time now,
                    gw_poll_event *ev, int cap)
{
    size_t bytes = (size_t)(top / WORD_BITS + 1) * sizeof(word);
    int i, n, fd, k = 0;
    unsigned m;

    memset(s->work[0], 0, bytes);
    memset(s->work[1], 0, bytes);
    for (i = 0; i < s->n_hot; i++) {
        fd = s->hot[i];
        bit_put(s->work[0], fd, bit_test(s->master[0], fd));
        bit_put(s->work[1], fd, bit_test(s->master[1], fd));
    }
    n = call_select(s, top, timeout);
    if (n <= 0)
        return n;
    for (i = 0; i < s->n_hot && k < cap; i++) {
        fd = s->hot[i];
        if ((m = ready(s, fd)) == 0)
            continue;
        s->seen[fd] = now;
        ev[k].fd = fd;
        ev[k].mask = m;
        k++;
    }
    return k;
}

/* One select() of every watched descriptor; the ready ones become hot. */
static int wait_all(sel *s, gw_time timeout, gw_time now, gw_poll_event *ev,
                    int cap)
{
    size_t bytes;
    int n, w, fd, k = 0;
    unsigned m;

    if (s->max_fd < 0)
        return call_select(s, -1, timeout) < 0 ? -1 : 0;
    bytes = (size_t)(s->max_fd / WORD_BITS + 1) * sizeof(word);
    memcpy(s->work[0], s->master[0], bytes);
    memcpy(s->work[1], s->master[1], bytes);
    s->last_full = now;
    n = call_select(s, s->max_fd, timeout);
    if (n <= 0)
        return n;
    for (w = 0; w <= s->max_fd / WORD_BITS && k < cap; w++) {
        if ((s->work[0][w] | s->work[1][w]) == 0)
            continue;
        for (fd = w * WORD_BITS; fd < (w + 1) * WORD_BITS && k < cap; fd++) {
            if ((m = ready(s, fd)) == 0)
                continue;
            if (s->max_fd >= HOT_FROM_FD)
                (void)make_hot(s, fd, now);
            ev[k].fd = fd;
            ev[k].mask = m;
            k++;
        }
    }
    return k;
}

static int sel_wait(void *b, gw_time timeout, gw_poll_event *ev, int cap)
{
    sel *s = b;
    gw_time now = clock_now(), end, left, slice;
    int top, n;

    end = gw_time_add(now, timeout);
    for (;;) {
        left = end == GW_TIME_NEVER ? GW_TIME_NEVER
                                    : (end > now ? end - now : 0);
        top = s->max_fd >= HOT_FROM_FD ? prune_hot(s, now) : -1;
        if (top < 0)
            return wait_all(s, left, now, ev, cap);
        if (now - s->last_full >= FULL_EVERY) {
            /* Every descriptor, without sleeping: hot ones are there. */
            n = wait_all(s, 0, now, ev, cap);
            if (n != 0 || left == 0)
                return n;
        }
        slice = FULL_EVERY - (now - s->last_full);
        if (slice > left)
            slice = left;
        n = wait_hot(s, top, slice, now, ev, cap);
        if (n != 0 || slice == left)
            return n;
        now = clock_now();
    }
}

const gw_poll_ops gw_poll_select_ops = {
    sel_create, sel_destroy, sel_set, sel_wait
};
