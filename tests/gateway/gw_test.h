/*
 * gw_test.h - what the gateway's Check suites share: frames written by
 * hand, the answers the gateway must give, the request and error vectors,
 * and a connection with its peers played in memory (gw_memio) and moved
 * by the one driver, gw_drive.
 */
#ifndef GW_TEST_H
#define GW_TEST_H

#include <check.h>
#include <stddef.h>

#include "hframe.h"
#include "gw_buf.h"
#include "gw_conn.h"
#include "gw_handler.h"
#include "gw_index.h"
#include "gw_memio.h"
#include "gw_proxy.h"

#define BIG 65536
#define MAX_CHUNK 31

#define RABBIT "Follow the white rabbit. \xf0\x9f\x90\xb0"
#define RING "In the caves beneath the Misty Mountains. \xf0\x9f\x92\x8d"
#define DOG "\xf0\x9f\x90\xb6"
#define BALL "\xf0\x9f\x90\xbe Playing ball! \xf0\x9f\x8f\x90"
#define BIN10 "binary\xf0\x9f\x98\x83"
#define BIN_TYPE "binary/custom-server-binary-type"

/* The suites, one per component (tests/check_gateway.c runs them). */
Suite *index_suite(void);
Suite *handler_suite(void);
Suite *conn_suite(void);
Suite *relay_suite(void);
Suite *relay_depth_suite(void);
Suite *proxy_suite(void);
Suite *loop_parts_suite(void);
Suite *hist_suite(void);
Suite *log_suite(void);

/* The built-in index, set up and freed around each test by the suites
 * that need it (tcase_add_checked_fixture). */
extern gw_index *builtin;
void builtin_setup(void);
void builtin_teardown(void);

/* A frame with a hand-written header (requests need not be canonical). */
size_t mkframe(unsigned char *out, size_t cap, const char *bo,
               const char *ctype, const char *enc, const void *content,
               size_t clen);
/* The answer the gateway must give: canonical header, host byteorder. */
size_t mkanswer(unsigned char *out, size_t cap, const char *ctype,
                const char *enc, const void *content, size_t clen);
size_t json_answer(unsigned char *out, size_t cap, const char *c);
size_t error_answer(unsigned char *out, size_t cap, gw_req_status st);
size_t search_request(unsigned char *out, size_t cap, const char *v);

/* buf holds exactly one text/json frame whose content starts with
 * {"error": "NAME", "message": */
void assert_error_frame(const unsigned char *buf, size_t len,
                        const char *name);

/* A request, its kind and the answer it must get. */
typedef struct req_vec {
    const char *name;
    const char *ctype;
    const char *enc;
    const char *content;
    size_t clen;               /* 0: strlen(content) */
    gw_kind kind;
    gw_req_status st;          /* GW_KIND_BAD_REQUEST */
    const char *answer;        /* JSON or binary content expected */
} req_vec;

extern const req_vec req_vecs[];
extern const int n_req_vecs;
size_t vec_request(const req_vec *v, unsigned char *out, size_t cap);
size_t vec_answer(const req_vec *v, unsigned char *out, size_t cap);

/* Serve-mode settings with the built-in index; times in microseconds. */
void config(gw_conn_config *cfg);

/* A connection, its configuration and its client. */
typedef struct pair {
    gw_conn c;
    gw_conn_config cfg;
    gw_memio m;
    gw_time now;
} pair;

/* config() and peers that send nothing and read everything; the
 * connection is opened by pair_open (cfg may be changed in between). */
void pair_init(pair *p);
void pair_open(pair *p, void *user);
void pair_free(pair *p);

/* Everything that can move, moves (bounded). */
unsigned pair_settle(pair *p);

/* The client sends in[0..len) in chunks (0: whole), each followed by a
 * settle; what the client received is appended to out (cap bytes).
 * Returns the bytes received. */
size_t pair_feed(pair *p, const void *in, size_t len, size_t chunk,
                 unsigned char *out, size_t cap);

/* Bytes the peer received since the last take, into out (cap bytes);
 * they are dropped from the sink. */
size_t take_sink(gw_memio *m, unsigned char *out, size_t cap);
size_t pair_take(pair *p, unsigned char *out, size_t cap);

/* The output waiting for the client, unsent. */
size_t pending(const gw_conn *c);

/* ---- relay mode: clients, the pool, upstreams, all over memory ---- */

#define RELAY_CLIENTS 4
#define RELAY_UOUT ((size_t)4 << 20)

typedef struct relay_t {
    gw_conn_config cfg;         /* every client's */
    gw_pool_config pc;          /* the pool's, read when it is made */
    gw_pool *pool;              /* made on first use */
    gw_memnet *net;
    gw_conn c[RELAY_CLIENTS];
    gw_memio m[RELAY_CLIENTS];
    int joined[RELAY_CLIENTS];
    unsigned char cout[BIG * 2];    /* what client 0 received */
    size_t clen;
    unsigned char *uout;        /* what every upstream received, in turn */
    size_t ulen;
    gw_memio *up;               /* the newest upstream peer, NULL once it
                                   closed */
    int keep_sinks;             /* leave what upstreams receive in their
                                   sinks (uout gathers nothing) */
    unsigned opened;            /* upstream connections opened */
    unsigned closed;            /* ... and closed */
    int connect_result;         /* for new upstream peers */
    int connect_done_result;
    int refuse[GW_POOL_UPSTREAMS];  /* connects to it fail */
    unsigned opened_to[GW_POOL_UPSTREAMS];
    gw_time now;
} relay_t;

/* Client 0 and a pool with one upstream; connects stay in progress until
 * relay_connect; health is off (a test turns it on with pc.fails). The
 * pool is made when first used, so cfg and pc may change before. */
relay_t *relay_new(unsigned attempts);
void relay_free(relay_t *r);
/* Client k joins (0 has already). */
void relay_join(relay_t *r, int k);
/* Client k goes (its connection is freed). */
void relay_leave(relay_t *r, int k);
/* Move everything that can move at time now; gather what the peers
 * received. Returns what client 0 wants. */
unsigned relay_pump(relay_t *r, gw_time now);
/* Client k sends data in chunks (0: whole), each followed by a pump. */
void relay_send(relay_t *r, int k, const void *data, size_t len,
                size_t chunk, gw_time now);
void relay_client(relay_t *r, const void *data, size_t len, size_t chunk,
                  gw_time now);
/* The newest upstream sends data, likewise. */
void relay_upstream(relay_t *r, const void *data, size_t len, size_t chunk,
                    gw_time now);
/* The newest upstream's connect in progress succeeds. */
void relay_connect(relay_t *r, gw_time now);
/* The newest upstream ends its stream (1) or its socket fails (0). */
void relay_upstream_ends(relay_t *r, int eof, gw_time now);
/* What client 0 wants now, and its deadline (d may be NULL). */
unsigned relay_wants(relay_t *r, gw_time *d);
/* Take client k's received bytes into out. */
size_t relay_take(relay_t *r, int k, unsigned char *out, size_t cap);
/* The pool connection carrying c's oldest request (NULL: none), and
 * whether that request waits for one; the same for its i-th. */
gw_upconn *relay_head_up(const gw_conn *c);
int relay_head_queued(const gw_conn *c);
gw_upconn *relay_nth_up(const gw_conn *c, unsigned i);
int relay_nth_queued(const gw_conn *c, unsigned i);

#endif /* GW_TEST_H */
