/*
 * gw_conn.h - the sans-I/O connection state machine.
 *
 * One gw_conn per client connection. It never touches a socket or a
 * clock: the caller hands it the bytes it received and the current time,
 * takes the bytes it should send, and asks it what it wants next.
 *
 *   bytes in  --gw_conn_input-->  hf_decoder  -->  gw_handle_request
 *   bytes out <--gw_conn_output-- output buffer <--  (one frame each)
 *
 * In relay mode (cfg->relay) the connection passes each request on to
 * an upstream over a connection of the pool instead of answering it
 * (gw_relay.h, gw_pool.h).
 *
 * Driving it: gw_conn_poll says what the connection wants of its socket
 * now, as a mask of GW_WANT_* bits (gw_want.h), and when it next has
 * something to do by the clock (its deadline). gw_drive (gw_drive.h) is
 * the one loop that does what the mask asks with caller-supplied read
 * and write functions; the event loop gives it system calls, the tests
 * and fuzzers give it memory.
 *
 * Input is always taken whole: what cannot be processed yet (its answer
 * would put more than cfg->max_output bytes in the output) is kept, and
 * GW_WANT_READ stays off until it has been processed, which happens as
 * soon as output drains. So at most one read waits.
 *
 * Time: any monotonic count of microseconds the caller likes (gw_time);
 * only differences matter. A timeout of 0 disables it.
 *
 * Ownership:
 *   - cfg is the caller's, shared by many connections, and must outlive
 *     them; the caller may swap cfg->index between calls (reload): a
 *     connection reads it only inside the call that answers a request.
 *   - Bytes given to gw_conn_input are read during the call only, or
 *     copied (the part kept for later, content split across inputs).
 *   - The pointer from gw_conn_output lives until the next call on the
 *     connection.
 *   - gw_request_info passed to cfg->on_request lives during the
 *     callback only.
 *
 * PROXY protocol (cfg->proxy_protocol): the connection's first bytes
 * must be a PROXY header (gw_proxy.h), read before any frame; the
 * request timeout covers it. cfg->on_proxy then gets what it says. A
 * connection that does not start with a valid one, or ends inside it,
 * gets a bad-proxy-header error frame and closes (as after a frame
 * error). Frame offsets in error frames count from the first byte after
 * it.
 */
#ifndef GW_CONN_H
#define GW_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "hframe.h"
#include "gw_handler.h"
#include "gw_proxy.h"
#include "gw_relay.h"
#include "gw_side.h"
#include "gw_time.h"
#include "gw_want.h"

/* Default soft cap of unsent output per connection: room for many
 * pipelined answers while bounding what a client that does not read can
 * make us hold (at most this plus one answer). */
#define GW_OUTPUT_DEFAULT ((size_t)256 * 1024)

/* Default JSON request limit: search requests are a few dozen bytes, so
 * 64 KiB is generous, and a client that stalls in the middle of one holds
 * at most that much of our memory (not the whole content limit). */
#define GW_JSON_DEFAULT ((uint64_t)64 * 1024)

/* An idle connection gives back its decoders and empty buffers after
 * this long (microseconds): long enough that a client sending a request
 * a second keeps them, short enough that idle clients cost little. */
#define GW_TRIM_AFTER ((gw_time)2000000)

typedef enum gw_conn_state_t {
    GW_CONN_OPEN = 0,   /* reading requests and writing answers */
    GW_CONN_CLOSING,    /* send what is pending, then close (the peer
                           sent EOF) */
    GW_CONN_LINGER,     /* an error frame was queued, or the server is
                           stopping: send what is pending, then shut the
                           write side and drain */
    GW_CONN_DRAINING,   /* write side shut: input is discarded until EOF
                           or the drain deadline */
    GW_CONN_CLOSED      /* close the socket now */
} gw_conn_state_t;

typedef enum gw_close_reason {
    GW_CLOSE_NONE = 0,
    GW_CLOSE_PEER,          /* the client closed its side */
    GW_CLOSE_FRAME_ERROR,   /* malformed stream: error frame sent */
    GW_CLOSE_REQUEST_TIMEOUT,
    GW_CLOSE_IDLE_TIMEOUT,
    GW_CLOSE_WRITE_TIMEOUT,
    GW_CLOSE_SHUTDOWN,      /* server stopping */
    GW_CLOSE_NOMEM,
    GW_CLOSE_IO,            /* a socket error on the client */
    GW_CLOSE_UPSTREAM,      /* relay: the upstream failed in the middle
                               of an answer already partly passed on */
    GW_CLOSE_REASON_COUNT
} gw_close_reason;

/* What the access log needs about one answered request. */
typedef struct gw_request_info {
    const gw_reply *reply;      /* kind, status, bytes_out */
    const gw_names *names;      /* what the request asked (relay: read
                                   from the request it passed on) */
    const char *content_type;   /* raw bytes, not NUL-terminated */
    size_t content_type_len;    /* "" for a frame error before a header */
    uint64_t bytes_in;          /* frame length (or bytes up to the error) */
    gw_time started;            /* first byte of the frame */
    gw_time finished;           /* answer queued */
    int upstream;               /* relay: the upstream it went to last
                                   (index), -1 for none */
    gw_time up_started;         /* relay: when it went there */
} gw_request_info;

typedef struct gw_conn_config {
    hf_limits limits;           /* decoder limits (max header/content) */
    size_t max_output;          /* soft cap of unsent output, >= 1 */
    uint64_t max_json;          /* text/json content above this is
                                   refused (json-too-long) and skipped,
                                   not buffered; 0: limits.max_content */
    gw_time request_timeout;    /* a started frame must finish within
                                   (the clock stops while the gateway
                                   holds the client back) */
    gw_time idle_timeout;       /* no frame and nothing to send */
    gw_time write_timeout;      /* output waits without progress */
    gw_time drain_timeout;      /* GW_CONN_DRAINING at most this long */
    const gw_index *index;      /* answers for search (not relay mode) */
    gw_relay_config relay;      /* relay mode when relay.on */
    int proxy_protocol;         /* every connection starts with a PROXY
                                   protocol header (v1 or v2) */
    /* Called once the PROXY header is read; may be NULL. */
    void (*on_proxy)(void *user, const gw_proxy_info *info);
    /* Called once per answered request or error frame; may be NULL. */
    void (*on_request)(void *user, const gw_request_info *info);
} gw_conn_config;

/* Private state: allocate it anywhere, touch it through functions. */
typedef struct gw_conn {
    const gw_conn_config *cfg;
    void *user;
    gw_conn_state_t state;
    gw_close_reason reason;
    gw_side client;         /* requests in, answers out */
    gw_buf body;            /* serve mode: content split across inputs */
    uint64_t content_len;   /* current frame's content-length */
    uint64_t content_got;   /* content bytes seen so far */
    int have_header;
    int is_json;
    int answered;           /* current frame answered, FRAME_END pending */
    int skipping;           /* answered by refusal; its content is still
                               arriving and is discarded */
    int frame_started;      /* bytes of an unanswered frame consumed */
    int stopping;           /* server shutdown: close at next boundary */
    int proxy_done;         /* the PROXY header (if required) was read */
    int trimmed;            /* idle, decoders and buffers given back */
    int held_back;          /* a request is in hand but the client is not
                               read (output full): its clock stands */
    gw_time frame_start;    /* request clock (moved on while held back) */
    gw_time frame_first;    /* its first byte, for the access line */
    gw_time held_since;
    gw_time last_active;    /* last input, or output fully sent */
    int out_idle;           /* no output waits (the write clock is off) */
    gw_time write_since;    /* output pending since / last progress */
    size_t kq;              /* output bytes the kernel held for the
                               client when last asked, plus those
                               written since ... */
    int kq_known;           /* ... once it was asked */
    gw_time drain_until;
    char ctype[GW_TYPE_LOG_MAX];
    size_t ctype_len;
    uint64_t requests;      /* answered on this connection */
    gw_proxy_info addr;     /* the client's address and ours (family
                               AF_UNSPEC when unknown) */
    gw_relay relay;         /* relay mode: the requests in hand */
} gw_conn;

/* Set up c. 0 on success, -1 when cfg's limits are invalid or relay
 * mode has no pool. user is passed back to cfg->on_request and
 * cfg->on_proxy. */
int gw_conn_init(gw_conn *c, const gw_conn_config *cfg, void *user,
                 gw_time now);

/* Release c's buffers. */
void gw_conn_free(gw_conn *c);

/* What c wants now (GW_WANT_* bits); *deadline (when not NULL) gets the
 * earliest time gw_conn_tick has something to do, GW_TIME_NEVER when
 * nothing is timed. */
unsigned gw_conn_poll(const gw_conn *c, gw_time *deadline);

/* Bytes received: all are taken (see above). */
void gw_conn_input(gw_conn *c, const void *data, size_t len, gw_time now);

/* The client closed its sending side. */
void gw_conn_eof(gw_conn *c, gw_time now);

/* A socket error (reset). */
void gw_conn_error(gw_conn *c, gw_time now);

/* Bytes waiting for the client: pointer and length (NULL/0 when none). */
const unsigned char *gw_conn_output(const gw_conn *c, size_t *len);

/* n of gw_conn_output's bytes were sent. */
void gw_conn_sent(gw_conn *c, size_t n, gw_time now);

/* Move what was held back, after something outside the connection
 * changed it (relay: an answer came, a request went out). */
void gw_conn_settle(gw_conn *c, gw_time now);

/* Apply timeouts at time now; returns the (possibly new) state. */
gw_conn_state_t gw_conn_tick(gw_conn *c, gw_time now);

/* The kernel holds bytes of c's output that the client has not read
 * yet (SIOCOUTQ). Asked when a write leaves output waiting (the socket's
 * buffer is full) and when c's write clock runs out: fewer than when
 * last asked, plus what was written since, means the client read some,
 * which counts as progress. With a socket buffer of megabytes the socket
 * turns writable only after much of it was read, so a client reading a
 * large answer steadily but slowly would otherwise be taken for one that
 * does not read. The first reading is only where counting starts. */
void gw_conn_queued(gw_conn *c, size_t bytes, gw_time now);

/* The write side was shut (GW_WANT_SHUT): discard input until EOF or now
 * + drain_timeout. */
void gw_conn_drain(gw_conn *c, gw_time now);

/* Server shutdown: finish the request in progress and pending output,
 * then shut the write side and drain (so that requests the client sent
 * meanwhile do not make the close a reset); an idle connection does so
 * at once. */
void gw_conn_shutdown(gw_conn *c, gw_time now);

/* Force GW_CONN_CLOSED with a reason. */
void gw_conn_abort(gw_conn *c, gw_close_reason why);

gw_conn_state_t gw_conn_state(const gw_conn *c);
/* The user pointer given to gw_conn_init. */
void *gw_conn_user(const gw_conn *c);
gw_close_reason gw_conn_reason(const gw_conn *c);

/* Requests answered (or refused) on this connection. */
uint64_t gw_conn_requests(const gw_conn *c);


/* Non-zero while a frame has started and is not yet answered (or, in
 * relay mode, a request is being relayed). */
int gw_conn_in_request(const gw_conn *c);

/* The client's address (src) and the one it connected to (dst), for the
 * PROXY header of relay.upstream_proxy. A PROXY header the client sent
 * (cfg->proxy_protocol) replaces them, so a chain of relays passes the
 * first client's address on; one without an address (UNKNOWN, LOCAL, a
 * Unix socket) makes them unknown. Unknown: the header says LOCAL. */
void gw_conn_set_addresses(gw_conn *c, const gw_proxy_info *addr);

/* Bytes the connection's buffers hold allocated (capacities), for
 * memory accounting. */
size_t gw_conn_buffered(const gw_conn *c);

/* "idle-timeout" etc.; static, never NULL. */
const char *gw_close_reason_name(gw_close_reason why);

#endif /* GW_CONN_H */
