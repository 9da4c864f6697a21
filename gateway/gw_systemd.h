/*
 * gw_systemd.h - what the gateway tells its service manager and takes
 * from it, through libsystemd (sd_notify(3), sd_listen_fds(3)):
 *
 *   READY=1        once the gateway listens (the supervisor's once every
 *                  worker listens);
 *   RELOADING=1    when SIGHUP arrives, then READY=1 once the index was
 *                  read again (or kept);
 *   STOPPING=1     when SIGTERM or SIGINT starts the shutdown.
 *
 * Without NOTIFY_SOCKET in the environment every call is a no-op. Only
 * the process systemd started speaks: a worker calls gw_systemd_forked
 * first, after which it stays silent (the unit keeps NotifyAccess=main).
 */
#ifndef GW_SYSTEMD_H
#define GW_SYSTEMD_H

#include "gw_net.h"

/*
 * Sockets passed by socket activation (LISTEN_FDS and LISTEN_PID naming
 * this process) into ls: made non-blocking and close-on-exec, ls->port
 * the first one's port. Returns how many (0: none were passed, bind as
 * usual), or -1 with a message when one is not a listening stream
 * socket or there are more than GW_LISTEN_MAX.
 */
int gw_systemd_listeners(gw_listeners *ls);

/* Tell the service manager state ("READY=1", ...), with STATUS=status
 * when status is not NULL. */
void gw_systemd_notify(const char *state, const char *status);

/* In a new worker: from now on gw_systemd_notify is silent. */
void gw_systemd_forked(void);

#endif /* GW_SYSTEMD_H */
