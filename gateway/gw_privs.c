/* gw_privs.c - dropping root (see gw_privs.h). */
#define _GNU_SOURCE 1   /* setgroups, getresuid, getresgid */
#include "gw_privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gw_log.h"
#include "gw_options.h"

/* A name the system does not know: errno says why, when it says. */
static int unknown(const char *opt, const char *name, const char *what)
{
    fprintf(stderr, GW_PROG ": invalid value '%s' for %s: %s\n", name, opt,
            errno != 0 ? strerror(errno) : what);
    return -1;
}

int gw_privs_resolve(const char *user, const char *group, gw_privs *p)
{
    struct passwd *pw;
    struct group *gr;

    memset(p, 0, sizeof *p);
    if (user == NULL)
        return 0;
    errno = 0;
    pw = getpwnam(user);
    gr = pw != NULL && group != NULL ? getgrnam(group) : NULL;
    if (pw == NULL)
        return unknown("--user", user, "no such user");
    if (group != NULL && gr == NULL)
        return unknown("--group", group, "no such group");
    p->on = 1;
    p->uid = pw->pw_uid;
    p->gid = gr != NULL ? gr->gr_gid : pw->pw_gid;
    snprintf(p->user, sizeof p->user, "%s", user);
    return 0;
}

/* Every id of the process is p's, and root is gone for good. */
static int verify(const gw_privs *p)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;

    if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
        return -1;
    if (ru != p->uid || eu != p->uid || su != p->uid || rg != p->gid ||
        eg != p->gid || sg != p->gid)
        return -1;
    if (p->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
        return -1;
    return 0;
}

int gw_privs_drop(const gw_privs *p)
{
    if (!p->on)
        return 0;
    if (geteuid() != 0) {
        if (verify(p) == 0)
            return 0;
        gw_log(GW_LOG_ERROR, "--user %s: not running as root, cannot "
               "change user (uid %ld, user's uid %ld)", p->user,
               (long)geteuid(), (long)p->uid);
        return -1;
    }
    if (setgroups(1, &p->gid) != 0 || setgid(p->gid) != 0 ||
        setuid(p->uid) != 0) {
        gw_log(GW_LOG_ERROR, "--user %s: %s: refusing to run as root",
               p->user, strerror(errno));
        return -1;
    }
    if (verify(p) != 0) {
        gw_log(GW_LOG_ERROR, "--user %s: the process still holds other ids: "
               "refusing to go on", p->user);
        return -1;
    }
    gw_log(GW_LOG_INFO, "running as user %s (uid %ld, gid %ld)", p->user,
           (long)p->uid, (long)p->gid);
    return 0;
}
