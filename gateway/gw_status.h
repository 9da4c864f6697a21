/*
 * gw_status.h - the error codes the gateway answers with, beyond the
 * codec's own (hf_status): a request it will not serve, a relayed request
 * that got no answer, a PROXY header that is not one. Each is sent as a
 * text/json error frame {"error": NAME, "message": TEXT} (docs/protocol.md
 * lists them all).
 */
#ifndef GW_STATUS_H
#define GW_STATUS_H

/* Why a well-formed frame's JSON content could not be served. */
typedef enum gw_req_status {
    GW_REQ_OK = 0,
    GW_REQ_E_JSON,          /* "invalid-json" */
    GW_REQ_E_NOT_OBJECT,    /* "content-not-object" */
    GW_REQ_E_ACTION,        /* "bad-action": missing or not a string */
    GW_REQ_E_VALUE,         /* "bad-value": missing or not a string */
    GW_REQ_E_ENCODING,      /* "bad-encoding": not utf-8 */
    GW_REQ_E_RESPONSE,      /* "bad-response": answer not valid UTF-8 */
    GW_REQ_E_TOO_LONG,      /* "json-too-long": above the JSON limit */
    /* Relay mode: the request could not be passed on or answered. */
    GW_REQ_E_UP_UNAVAILABLE,/* "upstream-unavailable": no connection */
    GW_REQ_E_UP_FAILED,     /* "upstream-failed": closed or reset before
                               its answer */
    GW_REQ_E_UP_TIMEOUT,    /* "upstream-timeout": no progress in time */
    GW_REQ_E_UP_BAD_FRAME,  /* "upstream-bad-frame": answer not a valid
                               frame */
    GW_REQ_E_PROXY,         /* "bad-proxy-header": --proxy-protocol and
                               the connection did not start with one */
    GW_REQ_E_BUSY,          /* "busy": the server is at its connection
                               cap; sent before closing a new client
                               (counted as a refused connection, not a
                               request error: keep it last) */
    GW_REQ_STATUS_COUNT
} gw_req_status;

/* Stable kebab-case name ("bad-action"); static, never NULL. */
const char *gw_req_status_name(gw_req_status st);

/* Generic message for a status; static, never NULL. */
const char *gw_req_strerror(gw_req_status st);

#endif /* GW_STATUS_H */
