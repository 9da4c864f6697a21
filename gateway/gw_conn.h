/*
 * gw_conn.h - the sans-I/O connection state machine.
 *
 * One gw_conn per client connection. It never touches a socket or a
 * clock: the caller (the event loop, a test, a fuzzer) hands it the bytes
 * it received and the current time, takes the bytes it should send, and
 * asks it what to wait for and until when.
 *
 *   bytes in  --gw_conn_input-->  hf_decoder  -->  gw_handle_request
 *   bytes out <--gw_conn_output-- output buffer <--  (one frame each)
 *
 * Driving it:
 *   1. gw_conn_init(c, cfg, user, now).
 *   2. While gw_conn_want_read(c): give received bytes to gw_conn_input;
 *      it returns how many it consumed. Fewer than given means the output
 *      is over its cap (backpressure): keep the rest and offer it again
 *      once output has been sent. End of input: gw_conn_eof.
 *   3. While gw_conn_output gives bytes: send them, then report how many
 *      went out with gw_conn_output_done.
 *   4. Call gw_conn_tick(c, now) when gw_conn_deadline(c) has passed.
 *   5. Act on gw_conn_state (see gw_conn_state_t); gw_conn_free at the end.
 *   6. Relay mode only: keep one upstream socket as gw_conn_upstream_*
 *      asks (see "Relay mode" below).
 *
 * Time: any monotonic count of microseconds the caller likes (gw_time);
 * only differences matter. A timeout of 0 disables it.
 *
 * Ownership:
 *   - cfg is the caller's, shared by many connections, and must outlive
 *     them; the caller may swap cfg->index between calls (reload): a
 *     connection reads it only inside gw_conn_input.
 *   - Bytes given to gw_conn_input are read during the call only; content
 *     that arrives whole in one call is answered straight from them (no
 *     copy), content split across calls is copied into the connection's
 *     body buffer (text/json: up to max_json bytes, longer JSON content
 *     is refused at its header and skipped; other types: only the first
 *     GW_BINARY_QUOTE bytes are kept).
 *   - The output buffer belongs to the connection; the pointer from
 *     gw_conn_output lives until the next call on the connection.
 *   - gw_request_info passed to the on_request callback lives during the
 *     callback only.
 *
 * PROXY protocol (cfg->proxy_protocol): the connection's first bytes
 * must be a PROXY header (gw_proxy.h), read before any frame; the
 * request timeout covers it. cfg->on_proxy then gets what it says. A
 * connection that does not start with a valid one gets a
 * bad-proxy-header error frame and closes (as after a frame error).
 * Frame offsets in error frames count from the first byte after it.
 */
#ifndef GW_CONN_H
#define GW_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "hframe.h"
#include "gw_buf.h"
#include "gw_handler.h"
#include "gw_index.h"
#include "gw_proxy.h"

typedef int64_t gw_time;            /* microseconds, caller's clock */
#define GW_TIME_NEVER INT64_MAX     /* "no deadline" */

/* Default soft cap of unsent output per connection: room for many
 * pipelined answers while bounding what a client that does not read can
 * make us hold (at most this plus one answer). */
#define GW_OUTPUT_DEFAULT ((size_t)256 * 1024)

/* Default JSON request limit: search requests are a few dozen bytes, so
 * 64 KiB is generous, and a client that stalls in the middle of one holds
 * at most that much of our memory (not the whole content limit). */
#define GW_JSON_DEFAULT ((uint64_t)64 * 1024)

/* Bytes of the content type kept for the access log (truncated). */
#define GW_TYPE_LOG_MAX 64

typedef enum gw_conn_state_t {
    GW_CONN_OPEN = 0,   /* reading requests and writing answers */
    GW_CONN_CLOSING,    /* send what is pending, then close (peer EOF,
                           server shutdown) */
    GW_CONN_LINGER,     /* an error frame was queued: send what is
                           pending, then shutdown(SHUT_WR) and call
                           gw_conn_drain */
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
    GW_CLOSE_IO,            /* set by the caller: a socket error */
    GW_CLOSE_UPSTREAM,      /* relay: the upstream failed in the middle
                               of an answer already partly passed on */
    GW_CLOSE_REASON_COUNT
} gw_close_reason;

/* What the access log needs about one answered request. */
typedef struct gw_request_info {
    const gw_reply *reply;      /* kind, status, action, bytes_out */
    const char *content_type;   /* raw bytes, not NUL-terminated */
    size_t content_type_len;    /* "" for a frame error before a header */
    uint64_t bytes_in;          /* frame length (or bytes up to the error) */
    gw_time started;            /* first byte of the frame */
    gw_time finished;           /* answer queued */
} gw_request_info;

typedef struct gw_conn_config {
    hf_limits limits;           /* decoder limits (max header/content) */
    size_t max_output;          /* soft cap of unsent output, >= 1 */
    uint64_t max_json;          /* text/json content above this is
                                   refused (json-too-long) and skipped,
                                   not buffered; 0: limits.max_content */
    gw_time request_timeout;    /* a started frame must finish within */
    gw_time idle_timeout;       /* no frame and nothing to send */
    gw_time write_timeout;      /* output waits without progress */
    gw_time drain_timeout;      /* GW_CONN_DRAINING at most this long */
    const gw_index *index;      /* answers for search (not relay mode) */
    int relay;                  /* non-zero: relay mode, see below */
    unsigned relay_attempts;    /* relay: connections tried per request
                                   before upstream-unavailable, >= 1 */
    gw_time upstream_timeout;   /* relay: the upstream makes no progress
                                   (connect, read our bytes, answer) */
    int proxy_protocol;         /* every connection starts with a PROXY
                                   protocol header (v1 or v2) */
    int upstream_proxy;         /* relay: each upstream connection starts
                                   with a PROXY v2 header naming the
                                   client (see gw_conn_set_addresses) */
    /* Called once the PROXY header is read; may be NULL. */
    void (*on_proxy)(void *user, const gw_proxy_info *info);
    /* Called once per answered request or error frame; may be NULL. */
    void (*on_request)(void *user, const gw_request_info *info);
} gw_conn_config;

/* Relay mode: where the connection's upstream socket stands. */
typedef enum gw_up_state {
    GW_UP_NONE = 0,     /* no socket: close the one you hold, if any */
    GW_UP_CONNECTING,   /* connect() in progress */
    GW_UP_READY         /* connected */
} gw_up_state;

/* Private state: allocate it anywhere, touch it through functions. */
typedef struct gw_conn {
    const gw_conn_config *cfg;
    void *user;
    gw_conn_state_t state;
    gw_close_reason reason;
    hf_decoder dec;
    gw_buf out;             /* unsent answers */
    gw_buf body;            /* content split across inputs */
    uint64_t content_len;   /* current frame's content-length */
    uint64_t content_got;   /* content bytes seen so far */
    int have_header;
    int is_json;
    int answered;           /* current frame answered, FRAME_END pending */
    int skipping;           /* answered by refusal; its content is still
                               arriving and is discarded */
    int frame_started;      /* bytes of an unanswered frame consumed */
    int stopping;           /* server shutdown: close at next boundary */
    gw_time frame_start;
    gw_time last_active;    /* last input, or output fully sent */
    gw_time write_since;    /* output pending since / last progress */
    gw_time drain_until;
    char ctype[GW_TYPE_LOG_MAX];
    size_t ctype_len;
    uint64_t requests;      /* answered on this connection */
    int proxy_done;         /* the PROXY header (if required) was read */
    gw_proxy_info addr;     /* the client's address and ours (family
                               AF_UNSPEC when unknown) */
    size_t up_pre_len;      /* relay: PROXY header still to send on this */
    size_t up_pre_off;      /*   upstream connection: up_pre[off..len) */
    unsigned char up_pre[GW_PROXY_V2_OUT_MAX];
    /* Relay mode: one request at a time is being passed on (x_*). */
    gw_up_state up;
    int up_want;            /* an upstream connection is needed */
    int up_replay;          /* up_out still holds the whole request from
                               its first byte (sent bytes are kept) */
    int peer_eof;           /* the client closed while waiting for an
                               answer: close once it is sent */
    int x_active;           /* a request is being relayed */
    int req_done;           /*   its last byte was read from the client */
    int req_skip;           /*   the rest of it is read and dropped */
    int resp_started;       /*   its answer's header went to the client */
    int resp_done;          /*   its answer (or error frame) is queued */
    unsigned attempts;      /*   connections tried for it, minus one */
    uint64_t up_got;        /*   answer bytes received */
    uint64_t resp_bytes;    /*   answer bytes queued for the client */
    uint64_t x_bytes_in;    /*   its frame length, for the log */
    gw_time x_start;
    size_t up_sent;         /* of up_out, sent but kept for a replay */
    gw_time up_since;       /* last upstream progress */
    hf_decoder up_dec;      /* validates the upstream's answers */
    gw_buf stage;           /* request prefix + header, until valid */
    gw_buf up_stage;        /* answer prefix + header, until valid */
    gw_buf up_out;          /* request bytes for the upstream */
} gw_conn;

/* Set up c. 0 on success, -1 when cfg's limits are invalid. user is
 * passed back to cfg->on_request. */
int gw_conn_init(gw_conn *c, const gw_conn_config *cfg, void *user,
                 gw_time now);

/* Release c's buffers. */
void gw_conn_free(gw_conn *c);

/* Consume received bytes; returns how many were consumed (see above).
 * Outside GW_CONN_OPEN every byte is accepted and discarded. */
size_t gw_conn_input(gw_conn *c, const void *data, size_t len, gw_time now);

/* The peer closed its sending side. */
void gw_conn_eof(gw_conn *c, gw_time now);

/* Pending output: pointer and length (NULL/0 when nothing waits). */
const unsigned char *gw_conn_output(const gw_conn *c, size_t *len);

/* n bytes of gw_conn_output's bytes were sent. */
void gw_conn_output_done(gw_conn *c, size_t n, gw_time now);

/* Bytes waiting to be sent. */
size_t gw_conn_pending(const gw_conn *c);

/* Non-zero when the caller should read from the peer now: open and
 * output under its cap, or draining. */
int gw_conn_want_read(const gw_conn *c);

/* Non-zero when output waits and may be sent. */
int gw_conn_want_write(const gw_conn *c);

/* Non-zero while a frame has started and is not yet answered, or was
 * refused at its header while its content still arrives (the request
 * timeout covers both). */
int gw_conn_in_request(const gw_conn *c);

/* Earliest time gw_conn_tick has something to do; GW_TIME_NEVER when
 * nothing is timed. */
gw_time gw_conn_deadline(const gw_conn *c);

/* Apply timeouts at time now; returns the (possibly new) state. */
gw_conn_state_t gw_conn_tick(gw_conn *c, gw_time now);

/* The write side was shut down after LINGER: discard input until EOF or
 * now + drain_timeout. */
void gw_conn_drain(gw_conn *c, gw_time now);

/* Server shutdown: finish the request in progress and pending output,
 * then close; an idle connection closes at once. */
void gw_conn_shutdown(gw_conn *c, gw_time now);

/* Force GW_CONN_CLOSED with a reason (socket errors and the like). */
void gw_conn_abort(gw_conn *c, gw_close_reason why);

/*
 * Relay mode (cfg->relay). Each request frame is validated like any
 * other, then passed on byte for byte to an upstream server, and the
 * upstream's answer, validated the same way, is passed back byte for
 * byte. One request at a time: the next one is read once the answer is
 * complete, so answers stay in order and an upstream that closes after
 * every answer works. Content streams through; at most about max_output
 * bytes wait in each direction.
 *
 * The caller keeps at most one upstream socket per connection:
 *   - gw_conn_want_connect: open one (to the next upstream) and call
 *     gw_conn_upstream_connecting, then gw_conn_upstream_connected or,
 *     if it fails, gw_conn_upstream_error;
 *   - gw_conn_upstream_state == GW_UP_NONE while a socket is held: close
 *     it (the connection gave up on it);
 *   - read when gw_conn_upstream_want_read and give the bytes to
 *     gw_conn_upstream_input (fewer consumed than given: backpressure,
 *     offer the rest later); end of stream: gw_conn_upstream_eof;
 *   - send gw_conn_upstream_output and report gw_conn_upstream_done.
 * A request that cannot be passed on or answered gets one error frame
 * (upstream-unavailable, -failed, -timeout, -bad-frame) and the client
 * connection stays open. A request that got no answer byte is tried
 * again on a new connection while it is whole in memory (at most
 * relay_attempts connections); an answer that breaks after its header
 * went out closes the client connection (GW_CLOSE_UPSTREAM).
 */
int gw_conn_want_connect(const gw_conn *c);
/* The client's address (src) and the one it connected to (dst), for the
 * PROXY header of cfg->upstream_proxy. A PROXY header the client sent
 * (cfg->proxy_protocol) replaces them, so a chain of relays passes the
 * first client's address on. Unset: the header says LOCAL. */
void gw_conn_set_addresses(gw_conn *c, const gw_proxy_info *addr);
/* Connections already tried for the request in hand (0 for its first):
 * start each request at the next upstream in turn and add this, so that
 * its retries go to every upstream once. */
unsigned gw_conn_upstream_attempt(const gw_conn *c);
gw_up_state gw_conn_upstream_state(const gw_conn *c);
void gw_conn_upstream_connecting(gw_conn *c, gw_time now);
void gw_conn_upstream_connected(gw_conn *c, gw_time now);
/* Connect failed, or a socket error on the upstream. */
void gw_conn_upstream_error(gw_conn *c, gw_time now);
void gw_conn_upstream_eof(gw_conn *c, gw_time now);
int gw_conn_upstream_want_read(const gw_conn *c);
int gw_conn_upstream_want_write(const gw_conn *c);
size_t gw_conn_upstream_input(gw_conn *c, const void *data, size_t len,
                              gw_time now);
const unsigned char *gw_conn_upstream_output(const gw_conn *c,
                                             size_t *len);
void gw_conn_upstream_done(gw_conn *c, size_t n, gw_time now);

gw_conn_state_t gw_conn_state(const gw_conn *c);
gw_close_reason gw_conn_reason(const gw_conn *c);

/* "idle-timeout" etc.; static, never NULL. */
const char *gw_close_reason_name(gw_close_reason why);

#endif /* GW_CONN_H */
