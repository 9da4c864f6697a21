/* gw_systemd.c - readiness and socket activation (see gw_systemd.h). */
#include "gw_systemd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "util.h"
#include "gw_log.h"

/* Longest message to the service manager. */
#define NOTIFY_MAX 256

static int silent;

static int adopt(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
        gw_log(GW_LOG_ERROR, "socket activation: descriptor %d is not a "
               "listening stream socket", fd);
        return -1;
    }
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        gw_log(GW_LOG_ERROR, "socket activation: descriptor %d: %s", fd,
               strerror(errno));
        return -1;
    }
    return 0;
}

int gw_systemd_listeners(gw_listeners *ls)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int n = sd_listen_fds(1), i;

    ls->n = 0;
    ls->port = 0;
    if (n < 0) {
        gw_log(GW_LOG_ERROR, "socket activation: %s", strerror(-n));
        return -1;
    }
    if (n > GW_LISTEN_MAX) {
        gw_log(GW_LOG_ERROR, "socket activation: %d sockets passed, at "
               "most %d are used", n, GW_LISTEN_MAX);
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (adopt(SD_LISTEN_FDS_START + i) != 0)
            return -1;
        ls->fd[ls->n++] = SD_LISTEN_FDS_START + i;
    }
    if (n > 0 && getsockname(ls->fd[0], (struct sockaddr *)&ss, &sl) == 0)
        ls->port = util_addr_port((struct sockaddr *)&ss);
    return n;
}

void gw_systemd_notify(const char *state, const char *status)
{
    char msg[NOTIFY_MAX];
    int rc;

    if (silent)
        return;
    if (status != NULL)
        snprintf(msg, sizeof msg, "%s\nSTATUS=%s", state, status);
    else
        snprintf(msg, sizeof msg, "%s", state);
    rc = sd_notify(0, msg);
    if (rc < 0)
        gw_log(GW_LOG_WARN, "sd_notify %s: %s", state, strerror(-rc));
}

void gw_systemd_forked(void)
{
    silent = 1;
}
