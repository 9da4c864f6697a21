/*
 * gw_privs.h - --user and --group: give up root once the sockets are
 * bound and the index is read, in the one process that then forks the
 * workers (so every process of the gateway runs as the user).
 */
#ifndef GW_PRIVS_H
#define GW_PRIVS_H

#include <sys/types.h>

/* Longest user or group name kept for messages. */
#define GW_PRIVS_NAME_MAX 64

typedef struct gw_privs {
    int on;                     /* --user was given */
    uid_t uid;
    gid_t gid;                  /* --group's, else the user's own */
    char user[GW_PRIVS_NAME_MAX];
} gw_privs;

/*
 * Look the names up (user NULL: nothing to do; group NULL: the user's
 * primary group). 0, or -1 after a message on stderr naming what is
 * unknown.
 */
int gw_privs_resolve(const char *user, const char *group, gw_privs *p);

/*
 * Become p's user: supplementary groups set to p's group alone, then the
 * group, then the user, then checked (real, effective and saved ids, and
 * that root cannot be taken back). Without root it succeeds only when
 * the process already runs as that user and group. 0, or -1 after a
 * log line: the caller must not go on.
 */
int gw_privs_drop(const gw_privs *p);

#endif /* GW_PRIVS_H */
