/* gw_signal.c - the self-pipe for signals. */
#define _GNU_SOURCE 1   /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "gw_signal.h"

static int sig_pipe[2] = { -1, -1 };

static const int caught[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD };

static void on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    int saved = errno;
    ssize_t rc;

    /* A full pipe already holds a wake-up; dropping this byte is fine. */
    rc = write(sig_pipe[1], &b, 1);
    (void)rc;
    errno = saved;
}

int gw_signal_setup(int with_chld)
{
    struct sigaction sa;
    size_t i;

    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    for (i = 0; i < sizeof caught / sizeof caught[0]; i++) {
        if (caught[i] == SIGCHLD && !with_chld)
            continue;
        sa.sa_flags = SA_RESTART |
                      (caught[i] == SIGCHLD ? SA_NOCLDSTOP : 0);
        sigaction(caught[i], &sa, NULL);
    }
    return 0;
}

void gw_signal_reset(void)
{
    struct sigaction sa;
    size_t i;

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_DFL;
    for (i = 0; i < sizeof caught / sizeof caught[0]; i++)
        sigaction(caught[i], &sa, NULL);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    sig_pipe[0] = -1;
    sig_pipe[1] = -1;
}

int gw_signal_fd(void)
{
    return sig_pipe[0];
}

int gw_signal_notify_fd(void)
{
    return sig_pipe[1];
}

size_t gw_signal_take(unsigned char *sig, size_t cap)
{
    ssize_t n = read(sig_pipe[0], sig, cap);

    return n > 0 ? (size_t)n : 0;
}
