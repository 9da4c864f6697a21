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
 * buffer as it arrives.
 *
 * Each request is an exchange (gw_exchange): its bytes, the pool
 * connection carrying it, its answer. A client that pipelines has up to
 * cfg.depth exchanges at once, each on whatever connection the pool
 * gives it, so its requests are answered side by side; the answers still
 * reach it in the order of its requests. The first exchange (the head)
 * passes its answer straight into the client's output; a later one
 * holds its answer (at most about max_output bytes, then its connection
 * stops reading) until every earlier answer has gone into the output.
 * So that a held answer never stands in the way of another client's, a
 * later exchange shares a pool connection only with its own client's
 * exchanges, and a head only with other heads (gw_relay_is_head). At most
 * about max_output bytes of a request wait to go out; a request no
 * longer than that is kept whole until its answer begins, so it can be
 * sent again when its connection breaks.
 *
 * A request that cannot be passed on or answered gets one error frame
 * (upstream-unavailable, -failed, -timeout, -bad-frame) in its place and
 * the client connection stays open; one whose connection breaks before
 * any byte of its answer is tried again, on another upstream where there
 * is one (at most cfg.attempts connections). An answer that breaks after
 * its header went into the client's output closes the client connection
 * (GW_CLOSE_UPSTREAM); one still held is replaced by upstream-failed.
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

/* Most requests of one client relayed at once (--client-pipeline), and
 * the default without upstream pipelining: each needs an upstream
 * connection then, and more than a few cost more descriptors and
 * readiness work than they gain from a fast upstream. */
#define GW_RELAY_DEPTH_MAX 256
#define GW_RELAY_DEPTH_DEFAULT 4

/* A spare exchange other than the first keeps request and answer
 * buffers up to this capacity; larger ones are freed. */
#define GW_RELAY_SPARE_BUF 4096

typedef struct gw_relay_config {
    int on;                     /* relay mode */
    unsigned attempts;          /* connections tried per request before
                                   it fails, >= 1 */
    unsigned depth;             /* requests of a client relayed at once;
                                   0 counts as 1 */
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
    GW_UP_EV_CONNECTED,         /* it finished (or succeeded at once) */
    GW_UP_EV_NO_SOCKET          /* none could be made (descriptors or
                                   memory ran out): the upstream is not
                                   at fault */
} gw_up_event;

/* Where an exchange stands: the request's bytes (still coming from the
 * client, or whole) against its answer (none yet, being passed back,
 * complete). */
typedef enum gw_x_state {
    GW_X_SENDING = 0,   /* header valid, more bytes to come, no answer */
    GW_X_WAITING,       /* request whole, no answer byte yet */
    GW_X_CROSSING,      /* answer being passed back, request not whole */
    GW_X_ANSWERING,     /* answer being passed back, request whole */
    GW_X_ANSWERED,      /* answer complete, request bytes still go up */
    GW_X_SKIPPING,      /* error frame in place, request bytes dropped */
    GW_X_DONE           /* answer (or error frame) complete, request
                           whole: over once the pool lets go of it and
                           the earlier exchanges are over */
} gw_x_state;

/* One relayed request of a client, from its header to its answer's
 * end. Private: the relay and the pool touch it. */
struct gw_exchange {
    struct gw_conn *c;          /* the client */
    struct gw_exchange *next;   /* the client's next request */
    gw_x_state x;
    gw_buf req;             /* the request's bytes, to send */
    size_t sent;            /* of req, gone out on its connection */
    int keep;               /* req holds the request from its first byte
                               (sent bytes are kept for a replay) */
    gw_buf held;            /* its answer, while an earlier one is not
                               through (not the head) */
    int dispatched;         /* handed to the pool */
    gw_upconn *up;          /* the pool connection carrying it */
    int queued;             /* waiting in the pool for a connection */
    int free_used;          /* it went again once without spending a
                                   try: the next time it spends one */
    int requeued;           /* handed to the pool again from its wait
                               list: the wait goes on, not anew */
    struct gw_exchange *wait_next;  /* the pool's wait list */
    int upstream;           /* the upstream it went to last, -1 */
    uint32_t tried;         /* upstreams tried for it, one bit each */
    unsigned attempts;      /* connections tried for it, minus one */
    uint32_t unanswered_by; /* upstreams that closed on it unanswered
                               (GW_UP_END_UNANSWERED), one bit each */
    uint64_t got;           /* answer bytes received */
    uint64_t answer_bytes;  /* answer bytes passed back */
    uint64_t bytes_in;      /* the request's frame length, for the log */
    gw_time start;          /* the request's first byte */
    gw_time up_start;       /* handed to its last connection */
    gw_time since;          /* waiting for a connection since */
    uint64_t content_length;    /* the request's */
    gw_names names;         /* what it asked, for the log */
    gw_reply reply;         /* its answer or error frame, told to the
                               log once it is the client's next ... */
    int to_report;          /* ... (reply.kind set, not told yet) */
    gw_time replied;        /* when the answer or error was complete */
    int refusal;            /* an error frame (refused) takes the
                               answer's place once it is the head */
    gw_req_status refused;
    char ctype[GW_TYPE_LOG_MAX];    /* its content type, for the log */
    size_t ctype_len;
};

/* Relay state of one client connection: its exchanges, oldest first.
 * Private: touch it through gw_conn.h. */
typedef struct gw_relay {
    gw_exchange *head, *tail;
    unsigned n;
    gw_exchange *spare;     /* done with, kept for the next requests:
                               at most the depth of them (linked by
                               next), freed when the client idles */
    unsigned n_spare;
    int upstream;           /* the upstream its last request went to,
                               -1 */
    int broken;             /* a bad frame, or the end of the stream
                               inside one, came after these requests:
                               its error frame follows their answers */
    int peer_eof;           /* the client closed while answers were on
                               their way: close once they are sent */
} gw_relay;

struct gw_conn;

void gw_relay_init(gw_relay *r);
/* Leave the pool (connections and wait lists) and free. */
void gw_relay_free(struct gw_conn *c, gw_time now);
/* Give back what an idle relay keeps. */
void gw_relay_trim(struct gw_conn *c);
/* Bytes its buffers hold allocated. */
size_t gw_relay_buffered(const struct gw_conn *c);

/* Pass frames across, validated (see above): upward from the client's
 * side into a request (x NULL), or down from a pool connection's side
 * (from) into exchange x's answer. Returns the bytes of p consumed;
 * down, it stops after one answer's end (*last HF_EV_FRAME_END) or at a
 * bad one (HF_EV_ERROR), else *last is HF_EV_NEED_MORE. */
size_t gw_relay_pass(struct gw_conn *c, gw_exchange *x, gw_side *from,
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
const unsigned char *gw_relay_unsent(const gw_exchange *x, size_t *len);
void gw_relay_wrote(gw_exchange *x, size_t n, gw_time now);
/* Every byte of the request came from the client. */
int gw_relay_whole(const gw_exchange *x);
/* Every byte of the request came and went out. */
int gw_relay_sent_all(const gw_exchange *x);
/* x is its client's oldest exchange: its answer goes straight to the
 * client. Only such a one may share a pool connection. */
int gw_relay_is_head(const gw_exchange *x);
/* An answer byte for x may be taken now (what it goes to is under its
 * cap, and x still waits for one). */
int gw_relay_takes_answer(const gw_exchange *x);
/* The pool gave x connection u of upstream i (u NULL: it waits for
 * one). */
void gw_relay_attached(gw_exchange *x, gw_upconn *u, int i, gw_time now);
/* The pool let go of x (its answer is complete and its request sent,
 * or it left): x may be freed now. */
void gw_relay_detached(gw_exchange *x, gw_time now);
/* How gw_relay_given_back may retry a request. */
enum {
    GW_RETRY_NO = 0,    /* the request is to blame: it fails */
    GW_RETRY,           /* the connection is: again, as attempts allow */
    GW_RETRY_FREE,      /* a kept connection was found closed: again,
                           without counting an attempt (once) */
    GW_RETRY_UNSENT     /* it never went out on the connection that
                           failed: again, without counting anything */
};

/* Its connection ended before the answer did: retried (again handed to
 * the pool), or failed with st. */
void gw_relay_given_back(gw_exchange *x, int retry, gw_req_status st,
                         gw_time now);

#endif /* GW_RELAY_H */
