/*
 * fuzz_request.c - the request handler (gateway/gw_handler.h) on one
 * request's content, and the yajl handle it keeps from one request to
 * the next.
 *
 * Input: one byte that picks the header (bits 0-1: text/json in UTF-8,
 * "Text/JSON", text/json in another encoding, a binary type; bit 2: the
 * index's answers made ahead or not), then the content.
 *
 * Oracles:
 *  - the handler appends exactly one frame, which decodes whole and
 *    whose size is the reply's bytes_out; a text/json answer is one JSON
 *    object of strings, {"result"} or {"error", "message"} with the
 *    reply's status as its code;
 *  - the kind follows the header: BINARY for other types, BAD_REQUEST
 *    (encoding) for another encoding, SEARCH, INVALID_ACTION or
 *    BAD_REQUEST for text/json;
 *  - the answer does not depend on what came before: the same content
 *    after a request that leaves the kept parser in place, after one
 *    that ends it, and right after itself gets the same bytes and the
 *    same reply;
 *  - a request read as valid has the same action and value for the log
 *    through gw_describe_request;
 *  - a blank after the content changes nothing of an answer to a valid
 *    request: the reference client's exact bytes take a shortcut past
 *    the parser (canonical_search), the same bytes and a space do not.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "gw_handler.h"
#include "gw_index.h"

/* A search the built-in index answers: it leaves the parser kept. */
static const char keeps[] = "{\"action\": \"search\", \"value\": \"ring\"}";
/* Unfinished JSON: it ends the kept parser. */
static const char ends[] = "{\"action\": ";

typedef struct answer {
    gw_buf out;
    gw_reply r;
} answer;

static void handle(const gw_index *idx, const hf_header *h,
                   const unsigned char *c, size_t len, answer *a)
{
    hf_header hh = *h;

    hh.content_length = len;
    gw_buf_init(&a->out);
    FZ_CHECK(gw_handle_request(idx, &hh, c, len, &a->out, &a->r) == 0);
}

static void prime(const gw_index *idx, const hf_header *json,
                  const char *content)
{
    answer a;

    handle(idx, json, (const unsigned char *)content, strlen(content), &a);
    gw_buf_free(&a.out);
}

static int same(const answer *a, const answer *b)
{
    return gw_buf_pending(&a->out) == gw_buf_pending(&b->out) &&
           memcmp(gw_buf_peek(&a->out), gw_buf_peek(&b->out),
                  gw_buf_pending(&a->out)) == 0 &&
           a->r.kind == b->r.kind && a->r.req_status == b->r.req_status &&
           a->r.bytes_out == b->r.bytes_out &&
           strcmp(a->r.status, b->r.status) == 0 &&
           a->r.names.action_len == b->r.names.action_len &&
           a->r.names.value_len == b->r.names.value_len &&
           memcmp(a->r.names.action, b->r.names.action,
                  a->r.names.action_len) == 0 &&
           memcmp(a->r.names.value, b->r.names.value,
                  a->r.names.value_len) == 0;
}

/* The answer is one whole frame of the reply's size, of the right
 * shape for its kind. */
static void check_frame(const answer *a, int json)
{
    const unsigned char *p = gw_buf_peek(&a->out);
    size_t n = gw_buf_pending(&a->out);
    hf_decoder d;
    hf_frame fr;
    fz_answer_json aj;

    FZ_CHECK(n > 0 && a->r.bytes_out == n);
    FZ_CHECK(hf_decoder_init(&d, NULL) == HF_OK);
    FZ_CHECK(hf_decode(&d, p, n, &fr) == HF_OK);
    FZ_CHECK(fr.frame_len == n);
    if (json || a->r.kind == GW_KIND_BAD_REQUEST) {
        fz_check_answer_json(fr.content, fr.content_len,
                             a->r.kind == GW_KIND_BAD_REQUEST
                                 ? a->r.status : NULL, &aj);
        if (a->r.kind == GW_KIND_BAD_REQUEST)
            FZ_CHECK(aj.has_error && aj.has_message && aj.code_ok &&
                     !aj.has_result);
        else
            FZ_CHECK(aj.has_result && !aj.has_error && aj.keys == 1);
    }
    hf_decoder_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gw_index *plain, *ready;
    static const char *const types[][2] = {
        { "text/json", "utf-8" }, { "Text/JSON", "utf-8" },
        { "text/json", "latin-1" }, { "binary/custom-client-binary-type",
                                      "binary" },
    };
    hf_header h, json;
    const gw_index *idx;
    unsigned char *c;
    answer first, kept, fresh, again;
    gw_names names;
    size_t len;
    int pick, is_json;

    if (plain == NULL) {
        plain = gw_index_builtin();
        ready = gw_index_builtin();
        FZ_CHECK(plain != NULL && ready != NULL &&
                 gw_handle_prepare(ready) == 0);
    }
    if (size < 1)
        return 0;
    pick = data[0] & 3;
    idx = data[0] & 4 ? ready : plain;
    len = size - 1;
    c = fz_dup(data + 1, len);
    hf_header_init(&h, types[pick][0], types[pick][1]);
    hf_header_init(&json, "text/json", "utf-8");
    is_json = pick == 0;

    handle(idx, &h, c, len, &first);
    check_frame(&first, is_json);
    switch (pick) {
    case 0:
        FZ_CHECK(first.r.kind == GW_KIND_SEARCH ||
                 first.r.kind == GW_KIND_INVALID_ACTION ||
                 first.r.kind == GW_KIND_BAD_REQUEST);
        break;
    case 2:
        FZ_CHECK(first.r.kind == GW_KIND_BAD_REQUEST &&
                 first.r.req_status == GW_REQ_E_ENCODING);
        break;
    default:
        FZ_CHECK(first.r.kind == GW_KIND_BINARY);
    }

    prime(idx, &json, keeps);
    handle(idx, &h, c, len, &kept);
    prime(idx, &json, ends);
    handle(idx, &h, c, len, &fresh);
    handle(idx, &h, c, len, &again);
    FZ_CHECK(same(&first, &kept));
    FZ_CHECK(same(&first, &fresh));
    FZ_CHECK(same(&first, &again));

    if (is_json && first.r.kind != GW_KIND_BAD_REQUEST) {
        memset(&names, 0, sizeof names);
        gw_describe_request(&h, c, len, &names);
        FZ_CHECK(names.action_len == first.r.names.action_len &&
                 names.value_len == first.r.names.value_len &&
                 memcmp(names.action, first.r.names.action,
                        names.action_len) == 0 &&
                 memcmp(names.value, first.r.names.value,
                        names.value_len) == 0);
    }
    if (is_json && first.r.kind != GW_KIND_BAD_REQUEST) {
        unsigned char *spaced = malloc(len + 1);
        answer blank;

        FZ_CHECK(spaced != NULL);
        if (len > 0)
            memcpy(spaced, c, len);
        spaced[len] = ' ';
        handle(idx, &h, spaced, len + 1, &blank);
        FZ_CHECK(same(&first, &blank));
        gw_buf_free(&blank.out);
        free(spaced);
    }
    gw_buf_free(&first.out);
    gw_buf_free(&kept.out);
    gw_buf_free(&fresh.out);
    gw_buf_free(&again.out);
    free(c);
    return 0;
}
