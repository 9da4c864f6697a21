/*
 * gw_relay.h - relay mode of a connection: each request frame is
 * validated like any other, then passed on byte for byte to an upstream
 * server, and the upstream's answer, validated the same way, is passed
 * back byte for byte.
 *
 *   client --in--> client.dec --stage--> up.out  --send--> upstream
 *   client <--send-- client.out <--stage-- up.dec <--in--  upstream
 *
 * Both directions are the same code over two gw_side values: the bytes
 * of a frame's prefix and header wait in the receiving side's stage until
 * the decoder accepts them, so nothing of an invalid frame is passed on;
 * content slices are then appended to the other side's output as they
 * arrive. One request at a time: the next one is read once the answer is
 * complete and the last request byte has gone out, so answers stay in
 * order and an upstream that closes after every answer works. At most
 * about max_output bytes wait in each direction.
 *
 * The relay never opens a socket: gw_conn_poll asks for one
 * (GW_WANT_CONNECT_UP, GW_WANT_CLOSE_UP) and the caller reports what
 * happened with gw_conn_upstream, gw_conn_eof and gw_conn_error.
 *
 * A request that cannot be passed on or answered gets one error frame
 * (upstream-unavailable, -failed, -timeout, -bad-frame) and the client
 * connection stays open. A request that got no answer byte is tried
 * again on a new connection while it is whole in memory (at most
 * cfg.attempts connections); a connect that does not finish within
 * connect_timeout counts as refused. An answer that breaks after its
 * header went out closes the client connection (GW_CLOSE_UPSTREAM). Bytes
 * that arrive from the upstream while no request is outstanding on that
 * connection (nothing sent since its last answer) are a stray answer: the
 * connection is dropped and never used again, so they cannot be taken
 * for the answer to a later request.
 *
 * The functions below are the connection's own (gw_conn.c calls them);
 * callers outside the gateway core use gw_conn.h.
 */
#ifndef GW_RELAY_H
#define GW_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "gw_side.h"
#include "gw_status.h"
#include "gw_time.h"

typedef struct gw_relay_config {
    int on;                     /* relay mode */
    unsigned attempts;          /* connections tried per request before
                                   upstream-unavailable, >= 1 */
    gw_time upstream_timeout;   /* the upstream makes no progress (reads
                                   our bytes, answers) */
    gw_time connect_timeout;    /* a connect must finish within; 0: only
                                   upstream_timeout applies */
    int upstream_proxy;         /* each upstream connection starts with a
                                   PROXY v2 header naming the client */
} gw_relay_config;

/* Where the upstream socket stands. */
typedef enum gw_up_state {
    GW_UP_NONE = 0,     /* no socket */
    GW_UP_CONNECTING,   /* connect() in progress */
    GW_UP_READY         /* connected */
} gw_up_state;

/* What the caller did with the upstream socket (gw_conn_upstream). */
typedef enum gw_up_event {
    GW_UP_EV_CONNECTING = 0,    /* a non-blocking connect() started */
    GW_UP_EV_CONNECTED,         /* it finished (or connect() succeeded
                                   at once) */
    GW_UP_EV_CLOSED             /* the socket was closed as asked
                                   (GW_WANT_CLOSE_UP) */
} gw_up_event;

/* Where the request in hand stands: the request's bytes (still coming
 * from the client, or whole) against its answer (none yet, being passed
 * back, queued). */
typedef enum gw_x_state {
    GW_X_NONE = 0,      /* no request in hand */
    GW_X_SENDING,       /* header valid, more bytes to come, no answer */
    GW_X_WAITING,       /* request whole, no answer byte yet */
    GW_X_CROSSING,      /* answer being passed back, request not whole */
    GW_X_ANSWERING,     /* answer being passed back, request whole */
    GW_X_ANSWERED,      /* answer queued, request bytes still go up */
    GW_X_SKIPPING       /* error frame queued, request bytes dropped */
} gw_x_state;

/* Relay state of one connection: its upstream end and the request in
 * hand. Private: touch it through gw_conn.h. */
typedef struct gw_relay {
    gw_side up;             /* answers in, requests out */
    gw_up_state state;
    int close_pending;      /* a socket is held that was given up */
    int want_connect;       /* the request needs a connection */
    int sent_since_answer;  /* request bytes went out on this connection
                               since its last answer */
    int peer_eof;           /* the client closed while an answer was on
                               its way: close once it is sent */
    gw_x_state x;
    unsigned attempts;      /* connections tried for it, minus one */
    uint64_t got;           /* answer bytes received */
    uint64_t answer_bytes;  /* answer bytes queued for the client */
    uint64_t bytes_in;      /* the request's frame length, for the log */
    gw_time start;          /* the request's first byte */
    gw_time since;          /* last upstream progress */
} gw_relay;

struct gw_conn;

int gw_relay_init(gw_relay *r, const hf_limits *lim);
void gw_relay_free(gw_relay *r);

/* Client bytes in relay mode; returns how many were consumed. */
size_t gw_relay_client_input(struct gw_conn *c, const unsigned char *p,
                             size_t len, gw_time now);
/* Upstream bytes; returns how many were consumed. */
size_t gw_relay_upstream_input(struct gw_conn *c, const unsigned char *p,
                               size_t len, gw_time now);

/* Non-zero when the relay lets the client be read now. */
int gw_relay_client_readable(const struct gw_conn *c);
/* The upstream bits of gw_conn_poll; *deadline lowered to the relay's. */
unsigned gw_relay_poll(const struct gw_conn *c, gw_time *deadline);

void gw_relay_event(struct gw_conn *c, gw_up_event ev, gw_time now);
/* The upstream connection ended (EOF, error, failed connect). */
void gw_relay_lost(struct gw_conn *c, gw_time now);
void gw_relay_sent(struct gw_conn *c, size_t n, gw_time now);
/* The client's output went back under its cap: reading the upstream
 * resumes, its clock starts again. */
void gw_relay_resumed(struct gw_conn *c, gw_time now);
/* The client sent EOF; 1 when the relay dealt with it. */
int gw_relay_client_eof(struct gw_conn *c, gw_time now);
void gw_relay_tick(struct gw_conn *c, gw_time now);
/* Non-zero while a request is being relayed. */
int gw_relay_busy(const struct gw_conn *c);

#endif /* GW_RELAY_H */
