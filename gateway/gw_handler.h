/*
 * gw_handler.h - request handlers: one request in, one response frame out.
 *
 * Pure functions: no sockets, no clocks, no global state. Each appends
 * exactly one complete frame to the caller's output buffer and reports
 * what it did in a gw_reply for the access log and the counters.
 *
 * Responses (byte for byte those of the reference server; headers in
 * canonical form with the host's byteorder):
 *   - text/json, "action": "search": {"result": ANSWER}, ANSWER from the
 *     index or "No match for 'VALUE'.";
 *   - text/json, any other action: {"result": "Error: invalid action
 *     'ACTION'."};
 *   - any other content type: binary/custom-server-binary-type, encoding
 *     binary, "First 10 bytes of request: " + the first 10 content bytes;
 *   - a text/json request that cannot be served (invalid JSON, not an
 *     object, action/value missing or not strings, encoding not UTF-8):
 *     text/json {"error": CODE, "message": TEXT}; the stream stays valid;
 *   - a stream error from the codec: the same error frame with the codec's
 *     status name; the caller then closes the connection.
 */
#ifndef GW_HANDLER_H
#define GW_HANDLER_H

#include <stddef.h>

#include "hframe.h"
#include "gw_buf.h"
#include "gw_index.h"
#include "gw_status.h"

/* Content bytes a binary request's answer quotes. */
#define GW_BINARY_QUOTE 10

/* JSON nesting accepted in a request's content (yajl has no limit of its
 * own). Requests are flat objects; this is room for extension fields,
 * and for every depth the reference server parses (Python's json stops
 * near 1,000 levels). */
#define GW_JSON_DEPTH_MAX 512

/* Bytes of the action and of the value kept in a gw_reply for the log
 * (truncated). */
#define GW_ACTION_LOG_MAX 48

/* Bytes of the content type kept for the access log (truncated). */
#define GW_TYPE_LOG_MAX 64

typedef enum gw_kind {
    GW_KIND_SEARCH = 0,     /* search action answered */
    GW_KIND_INVALID_ACTION, /* other action answered */
    GW_KIND_BINARY,         /* non-JSON request answered */
    GW_KIND_BAD_REQUEST,    /* content error frame; connection stays */
    GW_KIND_FRAME_ERROR,    /* codec error frame; connection closes */
    GW_KIND_RELAYED,        /* relay mode: an upstream's answer passed on */
    GW_KIND_COUNT
} gw_kind;

/* What a request asked, for the log: raw bytes of its action and value,
 * possibly truncated; empty when it is not a JSON request. */
typedef struct gw_names {
    char action[GW_ACTION_LOG_MAX];
    size_t action_len;
    char value[GW_ACTION_LOG_MAX];
    size_t value_len;
} gw_names;

/* What a handler did. Strings are static or held inside the struct. */
typedef struct gw_reply {
    gw_kind kind;
    gw_req_status req_status;  /* GW_KIND_BAD_REQUEST: why */
    hf_status frame_status;    /* GW_KIND_FRAME_ERROR: the codec's code */
    const char *status;        /* "ok" or the error code name; static */
    gw_names names;            /* what the request asked */
    size_t bytes_out;          /* size of the frame appended */
} gw_reply;

/*
 * Answer one request. h is the decoded header; content[0..len) is the
 * whole content for text/json requests and at least the first
 * min(GW_BINARY_QUOTE, content-length) bytes for the others (only those
 * are read). Appends one frame to out. Returns 0, or -1 when memory runs
 * out (out then holds no partial frame).
 */
int gw_handle_request(const gw_index *idx, const hf_header *h,
                      const unsigned char *content, size_t len,
                      gw_buf *out, gw_reply *r);

/* The action and value of a text/json request (UTF-8 encoding) whose
 * content[0..len) reads as the gateway's own requests do, into *n; *n is
 * left alone otherwise. For the relay, which passes on the original
 * bytes and answers nothing itself. */
void gw_describe_request(const hf_header *h, const unsigned char *content,
                         size_t len, gw_names *n);

/* Make the answers to idx's searches ahead of time (gw_index_prepare),
 * so a search that finds its key costs one copy. Answers are the same
 * bytes either way. Returns 0, or -1 when memory ran out (idx is then
 * served as it is, each answer made when asked). */
int gw_handle_prepare(gw_index *idx);

/* Append the error frame for a request the gateway will not serve
 * (st != GW_REQ_OK). Returns 0, or -1 when memory runs out. */
int gw_handle_bad_request(gw_req_status st, gw_buf *out, gw_reply *r);

/* Append the error frame for a codec error (code name and detail).
 * Returns 0, or -1 when memory runs out. */
int gw_handle_frame_error(const hf_error *err, gw_buf *out, gw_reply *r);

/* Append a text/json error frame {"error": code, "message": message}
 * (both NUL-terminated UTF-8). Returns 0, or -1 on failure. */
int gw_write_error_frame(gw_buf *out, const char *code,
                         const char *message, size_t *written);

#endif /* GW_HANDLER_H */
