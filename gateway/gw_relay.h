/*
 * gw_relay.h - relay mode of a client connection: each request frame is
 * validated like any other, then passed on byte for byte to an upstream
 * server over a connection of the pool (gw_pool.h), and the upstream's
 * answer, validated the same way, is passed back byte for byte.
 *
 *   client --in--> client.dec --stage--> req --pool connection--> upstream
 *   client <--send-- client.out <--stage-- up.dec <--in--  upstream
 *
 * Both directions are the same code (gw_relay_pass) over two gw_side
 * values: the bytes of a frame's prefix and header wait in the receiving
 * side's stage until the decoder accepts them, so nothing of an invalid
 * frame is passed on; content is then appended to the other direction's
 * buffer as it arrives. A client's requests are relayed one at a time:
 * the next one is read once the answer to the last is complete and its
 * last byte has gone out, so a client's answers come back in the order
 * of its requests whichever connections carried them. At most about
 * max_output bytes of a request wait to go out; a request no longer
 * than that is kept whole until its answer begins, so it can be sent
 * again when its connection breaks.
 *
 * A request that cannot be passed on or answered gets one error frame
 * (upstream-unavailable, -failed, -timeout, -bad-frame) and the client
 * connection stays open; one whose connection breaks before any byte of
 * its answer is tried again, on another upstream where there is one (at
 * most cfg.attempts connections). An answer that breaks after its header
 * went out closes the client connection (GW_CLOSE_UPSTREAM).
 *
 * The functions below are the connection's own and the pool's; callers
 * outside the gateway core use gw_conn.h.
 */
#ifndef GW_RELAY_H
#define GW_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "gw_buf.h"
#include "gw_handler.h"
#include "gw_pool.h"
#include "gw_side.h"
#include "gw_status.h"
#include "gw_time.h"

typedef struct gw_relay_config {
    int on;                     /* relay mode */
    unsigned attempts;          /* connections tried per request before
                                   it fails, >= 1 */
    gw_time wait_timeout;       /* a request may wait this long for a
                                   connection of the pool (upstream-
                                   timeout); 0: no limit */
    gw_pool *pool;              /* the caller's, shared by connections */
    int names;                  /* read what JSON requests ask, for the
                                   access log (gw_request_info.names) */
} gw_relay_config;

/* Where the upstream socket of a pool connection stands. */
typedef enum gw_up_state {
    GW_UP_NONE = 0,     /* no socket yet: a connect is wanted */
    GW_UP_CONNECTING,   /* connect() in progress */
    GW_UP_READY         /* connected */
} gw_up_state;

/* What the caller did with an upstream socket (gw_upconn_event). */
typedef enum gw_up_event {
    GW_UP_EV_CONNECTING = 0,    /* a non-blocking connect() started */
    GW_UP_EV_CONNECTED          /* it finished (or succeeded at once) */
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

/* Relay state of one client connection: the request in hand. Private:
 * touch it through gw_conn.h. */
typedef struct gw_relay {
    gw_x_state x;
    gw_buf req;             /* the request's bytes, to send */
    size_t sent;            /* of req, gone out on its connection */
    int keep;               /* req holds the request from its first byte
                               (sent bytes are kept for a replay) */
    gw_upconn *up;          /* the pool connection carrying it */
    int queued;             /* waiting in the pool for a connection */
    struct gw_conn *wait_next;  /* the pool's wait list */
    int upstream;           /* the upstream it went to last, -1 */
    uint32_t tried;         /* upstreams tried for it, one bit each */
    unsigned attempts;      /* connections tried for it, minus one */
    int peer_eof;           /* the client closed while an answer was on
                               its way: close once it is sent */
    uint64_t got;           /* answer bytes received */
    uint64_t answer_bytes;  /* answer bytes queued for the client */
    uint64_t bytes_in;      /* the request's frame length, for the log */
    gw_time start;          /* the request's first byte */
    gw_time up_start;       /* handed to its last connection */
    gw_time since;          /* waiting for a connection since */
    uint64_t content_length;    /* the request's */
    gw_names names;         /* what it asked, for the log */
} gw_relay;

struct gw_conn;

void gw_relay_init(gw_relay *r);
/* Leave the pool (a connection or its wait list) and free. */
void gw_relay_free(struct gw_conn *c, gw_time now);

/* Pass frames across, validated (see above): upward from the client's
 * side into the request, or down from a pool connection's side (from)
 * into the client's output. Returns the bytes of p consumed; down, it
 * stops after one answer's end (*last HF_EV_FRAME_END) or at a bad one
 * (HF_EV_ERROR), else *last is HF_EV_NEED_MORE. */
size_t gw_relay_pass(struct gw_conn *c, gw_side *from, int upward,
                     const unsigned char *p, size_t len, gw_time now,
                     hf_event_type *last);

/* Non-zero when the relay lets the client be read now. */
int gw_relay_client_readable(const struct gw_conn *c);
/* Non-zero while a request is being relayed. */
int gw_relay_busy(const struct gw_conn *c);
/* The relay's deadline (waiting for a connection), lowered into *d. */
void gw_relay_deadline(const struct gw_conn *c, gw_time *d);
void gw_relay_tick(struct gw_conn *c, gw_time now);
/* The client's output went back under its cap: its connection may read
 * again. */
void gw_relay_resumed(struct gw_conn *c, gw_time now);
/* The client sent EOF; 1 when the relay dealt with it. */
int gw_relay_client_eof(struct gw_conn *c, gw_time now);

/* ---- for the pool (gw_pool.c, gw_upconn.c) ---- */

/* Request bytes not sent yet on its connection. */
const unsigned char *gw_relay_unsent(const struct gw_conn *c, size_t *len);
void gw_relay_wrote(struct gw_conn *c, size_t n, gw_time now);
/* Every byte of the request came from the client. */
int gw_relay_whole(const struct gw_conn *c);
/* Every byte of the request came and went out. */
int gw_relay_sent_all(const struct gw_conn *c);
/* An answer byte for c may be taken now (its output is under the cap,
 * and c still waits for one). */
int gw_relay_takes_answer(const struct gw_conn *c);
/* The pool gave the request connection u of upstream i (u NULL: it
 * waits for one). */
void gw_relay_attached(struct gw_conn *c, gw_upconn *u, int i, gw_time now);
/* Its connection ended before the answer did: retried (again handed to
 * the pool), or failed with st. retry: the connection is to blame, not
 * the request. */
void gw_relay_given_back(struct gw_conn *c, int retry, gw_req_status st,
                         gw_time now);

#endif /* GW_RELAY_H */
