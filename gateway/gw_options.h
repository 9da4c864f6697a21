/*
 * gw_options.h - hframe-gateway's command line: one table, one row per
 * option (its kind, bounds, default and help text), from which parsing,
 * --help and every bounds error come.
 *
 * Values use the syntax of util.h, shared with the hframe command:
 * numbers, sizes ("64k", "16M"), durations ("250ms", "2s", "1.5"; 0 is
 * "off" where the row says so) and "host:port" / "[v6]:port".
 *
 * Ownership: string values point into argv; nothing is allocated.
 */
#ifndef GW_OPTIONS_H
#define GW_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gw_log.h"
#include "gw_poll.h"

#define GW_PROG "hframe-gateway"

/* Most --workers: far above the cores of any one machine. */
#define GW_WORKERS_MAX 256

/* Most --upstream servers. */
#define GW_OPTIONS_UPSTREAMS 16

/* Exit statuses (hframe-gateway(8), EXIT STATUS). */
#define GW_EXIT_OK 0
#define GW_EXIT_FAIL 1
#define GW_EXIT_USAGE 2

typedef struct gw_options {
    const char *host;
    const char *port;
    const char *index_path;
    const char *port_file;
    const char *pid_file;
    const char *user;           /* --user, --group: NULL when not given */
    const char *group;
    const char *metrics;        /* --metrics HOST:PORT, or NULL */
    uint64_t max_conns;         /* 0: sized from the descriptor limit */
    uint64_t max_header;
    uint64_t max_content;
    uint64_t max_json;
    uint64_t max_output;
    uint64_t request_timeout;   /* durations in microseconds */
    uint64_t idle_timeout;
    uint64_t write_timeout;
    uint64_t drain_timeout;
    uint64_t upstream_timeout;
    uint64_t upstream_connect_timeout;
    uint64_t upstream_conns;    /* 0: sized from the descriptor limit */
    uint64_t upstream_pipeline;
    uint64_t client_pipeline;   /* relay: a client's requests at once */
    uint64_t upstream_fails;
    uint64_t upstream_retry;
    uint64_t upstream_check;
    uint64_t workers;
    int proxy_protocol;
    int upstream_proxy;
    int upstream_private;
    gw_log_level log_level;
    gw_log_format log_format;
    gw_poll_kind io;
    const char *upstream[GW_OPTIONS_UPSTREAMS];
    size_t n_upstream;
    const char *relay_option;   /* a relay-only option given, or NULL */
    int address_option;         /* -l or -p given */
} gw_options;

/*
 * Fill o from the command line. Returns -1 to go on, GW_EXIT_OK after
 * --help or --version (written to stdout), GW_EXIT_USAGE after a message
 * on stderr naming the option, the value and what it accepts.
 */
int gw_options_parse(gw_options *o, int argc, char **argv);

/* The usage text, generated from the table. */
void gw_options_usage(FILE *f);

#endif /* GW_OPTIONS_H */
