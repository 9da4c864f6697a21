/* gw_stats.c - counters and the access log (see gw_stats.h). */
#include "gw_stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gw_log.h"

void gw_stats_request(gw_stats *st, const char *peer,
                      const gw_request_info *info, const char *upstream)
{
    const gw_reply *r = info->reply;

    if ((unsigned)r->kind < GW_KIND_COUNT) {
        st->requests[r->kind]++;
        gw_hist_add(&st->latency[r->kind], info->finished - info->started);
    }
    if (upstream != NULL && info->upstream >= 0 &&
        info->upstream < GW_POOL_UPSTREAMS)
        gw_hist_add(&st->upstream_latency[info->upstream],
                    info->finished - info->up_started);
    if (r->kind == GW_KIND_FRAME_ERROR &&
        (unsigned)r->frame_status < HF_STATUS_COUNT)
        st->frame_errors[r->frame_status]++;
    if (r->kind == GW_KIND_BAD_REQUEST &&
        (unsigned)r->req_status < GW_REQ_STATUS_COUNT)
        st->request_errors[r->req_status]++;
    if (!gw_log_enabled(GW_LOG_INFO))
        return;
    {
        const gw_log_field f[10] = {
            { GW_LOG_KEY("peer"), .text = peer },
            { GW_LOG_KEY("type"), .text = info->content_type,
              .len = info->content_type_len, .quote = 1 },
            { GW_LOG_KEY("action"), .text = info->names->action,
              .len = info->names->action_len, .quote = 1 },
            { GW_LOG_KEY("value"), .text = info->names->value,
              .len = info->names->value_len, .quote = 1 },
            { GW_LOG_KEY("in"), .num = (long long)info->bytes_in },
            { GW_LOG_KEY("out"), .num = (long long)r->bytes_out },
            { GW_LOG_KEY("status"), .text = r->status },
            { GW_LOG_KEY("us"),
              .num = (long long)(info->finished - info->started) },
            { GW_LOG_KEY("upstream"), .text = upstream },
            { GW_LOG_KEY("up_us"),
              .num = (long long)(info->finished - info->up_started) },
        };

        gw_log_fields(GW_LOG_INFO, "access", f, upstream != NULL ? 10 : 8);
    }
}

/* gw_stats holds uint64_t members only (gw_hist too): no padding. */
_Static_assert(sizeof(gw_stats) % sizeof(uint64_t) == 0,
               "gw_stats is made of uint64_t counts");

void gw_stats_add(gw_stats *sum, const gw_stats *st)
{
    uint64_t *to = (uint64_t *)(void *)sum;
    const uint64_t *from = (const uint64_t *)(const void *)st;
    size_t i;

    for (i = 0; i < sizeof *st / sizeof *from; i++)
        to[i] += from[i];
}

/* " name=count" for every non-zero entry of a table, appended at *n. */
static void append_counts(char *buf, size_t cap, size_t *n,
                          const char *prefix, const uint64_t *v,
                          unsigned first, unsigned count,
                          const char *(*name)(unsigned))
{
    unsigned i;
    int k;

    for (i = first; i < count; i++) {
        if (v[i] == 0)
            continue;
        k = snprintf(buf + *n, cap - *n, " %s%s=%" PRIu64, prefix, name(i),
                     v[i]);
        if (k < 0 || (size_t)k >= cap - *n)
            return;
        *n += (size_t)k;
    }
}

static const char *frame_name(unsigned i)
{
    return hf_status_name((hf_status)i);
}

static const char *req_name(unsigned i)
{
    return gw_req_status_name((gw_req_status)i);
}

/* The relay's items: its totals, then each upstream's. */
static void relay_counts(char *buf, size_t cap, const gw_stats *st,
                         const gw_upstream_stats *up,
                         const char *const *names, size_t n)
{
    uint64_t connects = 0, errors = 0;
    size_t i, len;
    int k;

    for (i = 0; i < n; i++) {
        connects += up[i].connects;
        errors += up[i].failures + up[i].timeouts;
    }
    k = snprintf(buf, cap, " req_relayed=%" PRIu64 " upstream_connects=%"
                 PRIu64 " upstream_errors=%" PRIu64,
                 st->requests[GW_KIND_RELAYED], connects, errors);
    len = k > 0 && (size_t)k < cap ? (size_t)k : 0;
    for (i = 0; i < n && len < cap; i++) {
        k = snprintf(buf + len, cap - len, " up.%s=%s,req:%" PRIu64
                     ",fail:%" PRIu64 ",timeout:%" PRIu64 ",conns:%u,"
                     "inflight:%u", names[i], up[i].down ? "down" : "up",
                     up[i].requests, up[i].failures, up[i].timeouts,
                     up[i].conns, up[i].inflight);
        if (k < 0 || (size_t)k >= cap - len)
            break;
        len += (size_t)k;
    }
}

void gw_stats_log(const gw_stats *st, size_t conns, int relay,
                  const gw_upstream_stats *up, const char *const *names,
                  size_t nup)
{
    char errs[512];
    char rel[GW_POOL_UPSTREAMS * 160 + 128];
    size_t n = 0;

    errs[0] = '\0';
    rel[0] = '\0';
    if (relay)
        relay_counts(rel, sizeof rel, st, up, names, nup);
    append_counts(errs, sizeof errs, &n, "err.", st->frame_errors, 0,
                  HF_STATUS_COUNT, frame_name);
    append_counts(errs, sizeof errs, &n, "req_err.", st->request_errors, 1,
                  GW_REQ_STATUS_COUNT, req_name);
    gw_log(GW_LOG_NOTICE,
           "stats conns=%zu accepted=%" PRIu64 " rejected_cap=%" PRIu64
           " rejected_nofd=%" PRIu64 " rejected_nomem=%" PRIu64
           " accept_errors=%" PRIu64
           " timeout_request=%" PRIu64 " timeout_idle=%" PRIu64
           " timeout_write=%" PRIu64 " req_search=%" PRIu64
           " req_invalid_action=%" PRIu64 " req_binary=%" PRIu64
           " req_bad_request=%" PRIu64 " req_frame_error=%" PRIu64
           " bytes_in=%" PRIu64 " bytes_out=%" PRIu64 "%s%s",
           conns, st->accepted, st->rejected_cap, st->rejected_nofd,
           st->rejected_nomem,
           st->accept_errors, st->closed[GW_CLOSE_REQUEST_TIMEOUT],
           st->closed[GW_CLOSE_IDLE_TIMEOUT],
           st->closed[GW_CLOSE_WRITE_TIMEOUT],
           st->requests[GW_KIND_SEARCH], st->requests[GW_KIND_INVALID_ACTION],
           st->requests[GW_KIND_BINARY], st->requests[GW_KIND_BAD_REQUEST],
           st->requests[GW_KIND_FRAME_ERROR], st->bytes_in, st->bytes_out,
           rel, errs);
}
