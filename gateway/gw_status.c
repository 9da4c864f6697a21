/* gw_status.c - names and messages of the gateway's error codes. */
#include "gw_status.h"

static const char *const req_names[GW_REQ_STATUS_COUNT] = {
    "ok", "invalid-json", "content-not-object", "bad-action", "bad-value",
    "bad-encoding", "bad-response", "json-too-long", "upstream-unavailable",
    "upstream-failed", "upstream-timeout", "upstream-bad-frame",
    "bad-proxy-header", "busy"
};

static const char *const req_messages[GW_REQ_STATUS_COUNT] = {
    "success",
    "content is not valid JSON",
    "content is not a JSON object",
    "\"action\" is missing or not a string",
    "\"value\" is missing or not a string",
    "content-encoding must be utf-8 for text/json",
    "the answer could not be encoded",
    "text/json content is longer than the gateway accepts",
    "no upstream server accepted a connection",
    "the upstream server closed or reset the connection before answering",
    "the upstream server made no progress in time",
    "the upstream server's answer is not a valid frame",
    "the connection did not start with a valid PROXY protocol header",
    "the server is at its connection limit; try again later"
};

const char *gw_req_status_name(gw_req_status st)
{
    if ((unsigned)st >= GW_REQ_STATUS_COUNT)
        return "unknown";
    return req_names[st];
}

const char *gw_req_strerror(gw_req_status st)
{
    if ((unsigned)st >= GW_REQ_STATUS_COUNT)
        return "unknown status";
    return req_messages[st];
}
