/* resolve_within.c - a name lookup with a time limit (util.h).
 *
 * getaddrinfo cannot be told how long to take, so the lookup runs on a
 * detached thread. The caller and the thread share one lookup record;
 * whichever of them is done with it last frees it, so a caller whose
 * time ran out returns at once and the thread's late result is
 * dropped. */
#include "util.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct lookup {
    pthread_mutex_t mu;
    pthread_cond_t done_cv;
    int done;
    int refs;                   /* the caller and the thread */
    int rc;
    struct addrinfo *res;
    char msg[UTIL_MSG_MAX];
    char *host, *port;          /* copies: the caller may be gone */
} lookup;

static void lookup_free(lookup *l)
{
    if (l->res != NULL)
        freeaddrinfo(l->res);
    pthread_cond_destroy(&l->done_cv);
    pthread_mutex_destroy(&l->mu);
    free(l->host);
    free(l->port);
    free(l);
}

/* Drop one reference; the last frees. Called with l->mu held. */
static void lookup_put(lookup *l)
{
    int last = --l->refs == 0;

    pthread_mutex_unlock(&l->mu);
    if (last)
        lookup_free(l);
}

static void *lookup_run(void *arg)
{
    lookup *l = arg;
    struct addrinfo *res = NULL;
    char msg[UTIL_MSG_MAX];
    int rc = util_resolve(l->host, l->port, 0, &res, msg, sizeof msg);

    pthread_mutex_lock(&l->mu);
    l->rc = rc;
    l->res = res;
    memcpy(l->msg, msg, sizeof msg);
    l->done = 1;
    pthread_cond_signal(&l->done_cv);
    lookup_put(l);
    return NULL;
}

static int lookup_init(lookup *l, const char *host, const char *port)
{
    pthread_condattr_t ca;

    l->refs = 2;
    l->host = strdup(host);
    l->port = strdup(port);
    if (l->host == NULL || l->port == NULL)
        return -1;
    if (pthread_mutex_init(&l->mu, NULL) != 0)
        return -1;
    /* Waits are timed on the monotonic clock: a change of the wall
     * clock moves no deadline. */
    if (pthread_condattr_init(&ca) != 0)
        goto no_cv;
    if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&l->done_cv, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        goto no_cv;
    }
    pthread_condattr_destroy(&ca);
    return 0;
no_cv:
    pthread_mutex_destroy(&l->mu);
    return -1;
}

int util_resolve_within(const char *host, const char *port,
                        uint64_t timeout_us, struct addrinfo **res,
                        char *msg, size_t cap)
{
    struct timespec until;
    pthread_attr_t attr;
    pthread_t th;
    lookup *l;
    int rc, started;

    if (timeout_us == 0)
        return util_resolve(host, port, 0, res, msg, cap);
    l = calloc(1, sizeof *l);
    if (l == NULL || lookup_init(l, host, port) != 0) {
        if (l != NULL) {
            free(l->host);
            free(l->port);
        }
        free(l);
        snprintf(msg, cap, "cannot resolve '%s': out of memory", host);
        return -1;
    }
    started = pthread_attr_init(&attr) == 0;
    if (started) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&th, &attr, lookup_run, l) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!started) {
        /* No thread to spare: look it up here, without a limit. */
        lookup_free(l);
        return util_resolve(host, port, 0, res, msg, cap);
    }
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(timeout_us / 1000000);
    until.tv_nsec += (long)(timeout_us % 1000000) * 1000;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->mu);
    while (!l->done &&
           pthread_cond_timedwait(&l->done_cv, &l->mu, &until) != ETIMEDOUT)
        ;
    if (!l->done) {
        char took[32];

        util_format(UTIL_DURATION, timeout_us, took, sizeof took);
        snprintf(msg, cap, "cannot resolve '%s': no answer within %s",
                 host, took);
        lookup_put(l);
        return UTIL_RESOLVE_TIMEOUT;
    }
    rc = l->rc;
    *res = l->res;
    l->res = NULL;
    snprintf(msg, cap, "%s", l->msg);
    lookup_put(l);
    return rc;
}
