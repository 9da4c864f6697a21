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
Suite *proxy_suite(void);
Suite *loop_parts_suite(void);

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

/* A connection, its configuration and its two peers. */
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

/* Bytes end e's peer received since the last take; they are dropped. */
size_t pair_take(pair *p, gw_end e, unsigned char *out, size_t cap);

/* The output waiting for end e, unsent. */
size_t pending(const gw_conn *c, gw_end e);

#endif /* GW_TEST_H */
