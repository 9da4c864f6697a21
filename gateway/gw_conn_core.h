/*
 * gw_conn_core.h - what the two modes of a connection, serve
 * (gw_serve.c) and relay (gw_relay.c), and the connection itself
 * (gw_conn.c) call in each other. Nothing outside the three uses it: the
 * event loop, the tests and the fuzzers go through gw_conn.h.
 */
#ifndef GW_CONN_CORE_H
#define GW_CONN_CORE_H

#include "gw_conn.h"

/* Count an answered request and tell cfg->on_request about it. */
void gw_conn_count(gw_conn *c, const gw_request_info *info);
/* The same for the frame in hand (serve mode, and errors before a
 * request is relayed). */
void gw_conn_report(gw_conn *c, const gw_reply *r, uint64_t bytes_in,
                    gw_time started, gw_time now);

/* The frame in hand was answered: report it (rc from the handler that
 * queued r's frame; non-zero when memory ran out). 1 when queued. */
int gw_conn_answered(gw_conn *c, int rc, const gw_reply *r,
                     uint64_t bytes_in, gw_time now);

/* Send what is pending, then close, for why. */
void gw_conn_close_after(gw_conn *c, gw_close_reason why);

/* Serve mode (gw_serve.c): client bytes; returns how many were
 * consumed. */
size_t gw_serve_input(gw_conn *c, const unsigned char *p, size_t len,
                      gw_time now);

/* Queue the error frame for st and report it for a request of bytes_in
 * bytes begun at started. 0, or -1 (connection aborted: out of memory). */
int gw_conn_refuse(gw_conn *c, gw_req_status st, uint64_t bytes_in,
                   gw_time started, gw_time now);

/* The client's stream is broken: queue the decoder's error frame, then
 * go to next (GW_CONN_LINGER, or GW_CONN_CLOSING after EOF). */
void gw_conn_frame_error(gw_conn *c, gw_conn_state_t next, gw_time now);

/* Keep a frame's content type for the log: its first GW_TYPE_LOG_MAX
 * bytes into dst, their count into *len. */
void gw_keep_type(char *dst, size_t *len, const hf_header *h);

/* The frame in hand began now, if it had not yet. */
void gw_conn_frame_begins(gw_conn *c, gw_time now);

/* A relayed request is done: go on with the next, or close as the
 * client or the server asked meanwhile. */
void gw_conn_request_done(gw_conn *c, gw_time now);

/* The client may be read now: open, output under its cap, and (relay)
 * the relay ready for more of the request. */
int gw_conn_takes_client(const gw_conn *c);

/* Bytes of a frame: prefix, header and content. */
uint64_t gw_frame_bytes(const hf_header *h);

/* The most text/json content the gateway reads (cfg->max_json, or the
 * content limit when it is 0). */
uint64_t gw_conn_max_json(const gw_conn_config *cfg);

#endif /* GW_CONN_CORE_H */
