/*
 * gw_signal.h - signals as bytes on a pipe, read by the loop that acts
 * on them (the self-pipe: the handler only writes the signal number).
 *
 * Caught: SIGTERM, SIGINT, SIGHUP, SIGUSR1 and, for a supervisor,
 * SIGCHLD. SIGPIPE is ignored.
 */
#ifndef GW_SIGNAL_H
#define GW_SIGNAL_H

#include <stddef.h>
#include <sys/types.h>

/* Install the handlers and make the pipe. 0, or -1 with errno. */
int gw_signal_setup(int with_chld);

/* Default handlers again and the pipe closed (in a new worker). */
void gw_signal_reset(void);

/* The pipe's read end, readable when a signal came; -1 before setup. */
int gw_signal_fd(void);

/* The pipe's write end, for other wake-ups of the same loop (bytes
 * that are no signal number). */
int gw_signal_notify_fd(void);

/* Signal numbers that came, up to cap; 0 when none (never blocks). */
size_t gw_signal_take(unsigned char *sig, size_t cap);

#endif /* GW_SIGNAL_H */
