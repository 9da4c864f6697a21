/* gw_handler.c - request handlers: search, invalid action, binary and
 * error responses, each appended as one frame to an output buffer. */
#include "gw_handler.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl_parse.h>

#include "gw_json.h"

#define CT_JSON "text/json"
#define CT_BINARY_OUT "binary/custom-server-binary-type"
#define BINARY_PREFIX "First 10 bytes of request: "

enum { KEY_OTHER = 0, KEY_ACTION, KEY_VALUE };
enum { FIELD_MISSING = 0, FIELD_STRING, FIELD_OTHER };

/* Action and value strings up to this long are kept without a malloc
 * (the index's keys and the actions are far shorter). */
#define FIELD_SMALL 64

/* One of the two request fields: the last occurrence wins, as with the
 * reference peers' JSON parser. */
typedef struct field {
    int state;
    unsigned char *s;   /* FIELD_STRING only: small, or a malloc'd copy */
    size_t len;
    unsigned char small[FIELD_SMALL];
} field;

typedef struct req_parse {
    yajl_handle yh;
    int depth;
    int key;            /* key just seen at depth 1 */
    size_t end;         /* offset just past the top-level object */
    field action;
    field value;
    gw_req_status st;   /* reason for a cancel */
    int nomem;
} req_parse;

static void reply_init(gw_reply *r, gw_kind kind)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->status = "ok";
    r->frame_status = HF_OK;
    r->req_status = GW_REQ_OK;
}

/* Up to cap bytes of s into dst, for the log. */
static size_t keep_for_log(char *dst, size_t cap, const unsigned char *s,
                           size_t len)
{
    if (len > cap)
        len = cap;
    if (len > 0)
        memcpy(dst, s, len);
    return len;
}

static void keep_names(gw_names *n, const req_parse *rp)
{
    n->action_len = keep_for_log(n->action, sizeof n->action, rp->action.s,
                                 rp->action.len);
    n->value_len = keep_for_log(n->value, sizeof n->value, rp->value.s,
                                rp->value.len);
}
/* Append one frame: header (content type, encoding, host byteorder) and
 * the canonical JSON object built from n pairs. Returns 0, -1 when memory
 * runs out, -2 when a string is not valid UTF-8. */
static int put_json(gw_buf *out, const hf_str *keys, const hf_str *vals,
                    size_t n, size_t *written)
{
    hf_header h;
    size_t clen, hlen, total, w, w2;
    unsigned char *p;

    clen = hf_json_object_len(keys, vals, n);
    if (clen == 0)
        return -2;
    hf_header_init(&h, CT_JSON, "utf-8");
    h.content_length = clen;
    hlen = hf_header_json_len(&h);
    if (hlen == 0 || hlen > HF_HEADER_MAX)
        return -2;
    if (clen > SIZE_MAX - HF_PREFIX_LEN - hlen)
        return -1;
    total = HF_PREFIX_LEN + hlen + clen;
    p = gw_buf_reserve(out, total);
    if (p == NULL)
        return -1;
    if (hf_encode_header(&h, p, total, &w) != HF_OK || w > total)
        return -2;
    if (hf_json_write_object(p + w, total - w, keys, vals, n, &w2)
            != HF_OK || w2 != total - w)
        return -2;
    gw_buf_commit(out, total);
    *written = total;
    return 0;
}

static int put_pair(gw_buf *out, const char *key, const void *val,
                    size_t val_len, size_t *written)
{
    hf_str k = { key, strlen(key) };
    hf_str v = { val, val_len };

    return put_json(out, &k, &v, 1, written);
}

int gw_write_error_frame(gw_buf *out, const char *code, const char *message,
                         size_t *written)
{
    hf_str k[2] = { { "error", 5 }, { "message", 7 } };
    hf_str v[2];
    size_t dummy;

    v[0].ptr = code;
    v[0].len = strlen(code);
    v[1].ptr = message;
    v[1].len = strlen(message);
    return put_json(out, k, v, 2, written != NULL ? written : &dummy) == 0
        ? 0 : -1;
}

static int bad_request(gw_buf *out, gw_req_status st, gw_reply *r)
{
    r->kind = GW_KIND_BAD_REQUEST;
    r->req_status = st;
    r->status = gw_req_status_name(st);
    return gw_write_error_frame(out, gw_req_status_name(st),
                                gw_req_strerror(st), &r->bytes_out);
}

int gw_handle_bad_request(gw_req_status st, gw_buf *out, gw_reply *r)
{
    reply_init(r, GW_KIND_BAD_REQUEST);
    return bad_request(out, st, r);
}

int gw_handle_frame_error(const hf_error *err, gw_buf *out, gw_reply *r)
{
    const char *name = hf_status_name(err->code);
    const char *msg = err->detail[0] != '\0' ? err->detail
                                             : hf_strerror(err->code);

    reply_init(r, GW_KIND_FRAME_ERROR);
    r->frame_status = err->code;
    r->status = name;
    if (gw_write_error_frame(out, name, msg, &r->bytes_out) == 0)
        return 0;
    /* A detail that is not UTF-8 cannot be quoted: use the generic text. */
    return gw_write_error_frame(out, name, hf_strerror(err->code),
                                &r->bytes_out);
}

static int answer_binary(const unsigned char *content, size_t len,
                         gw_buf *out, gw_reply *r)
{
    unsigned char body[sizeof BINARY_PREFIX - 1 + GW_BINARY_QUOTE];
    size_t plen = sizeof BINARY_PREFIX - 1;
    size_t q = len < GW_BINARY_QUOTE ? len : GW_BINARY_QUOTE;
    hf_header h;
    size_t need = 0;
    unsigned char *p;

    memcpy(body, BINARY_PREFIX, plen);
    if (q > 0)
        memcpy(body + plen, content, q);
    hf_header_init(&h, CT_BINARY_OUT, "binary");
    h.content_length = plen + q;
    need = hf_header_json_len(&h);
    if (need == 0)
        return -1;
    need += HF_PREFIX_LEN + plen + q;
    p = gw_buf_reserve(out, need);
    if (p == NULL)
        return -1;
    if (hf_encode(&h, body, plen + q, p, need, &r->bytes_out) != HF_OK)
        return -1;
    gw_buf_commit(out, r->bytes_out);
    return 0;
}

/* ---------------------------------------------------- JSON content */

static int cancel(req_parse *rp, gw_req_status st)
{
    rp->st = st;
    return 0;
}

/* One yajl handle parses request after request. yajl 2 cannot reset a
 * handle, but one that allows several values takes each new content
 * as the next value of one stream of objects. It is kept only after a
 * content that was one whole object and blanks, where the stream
 * stands between two values with nothing held back in its lexer; after
 * anything else it is freed and the next parse makes a new one. The
 * loop is single-threaded; rp is the request being parsed. */
typedef struct parser {
    yajl_handle yh;
    req_parse *rp;
} parser;

static parser kept;

static req_parse *parsing(void *ctx)
{
    return ((parser *)ctx)->rp;
}

static void free_field(field *f)
{
    if (f->s != f->small)
        free(f->s);
    f->s = NULL;
    f->len = 0;
}

/* f holds a copy of s[0..len): 0 when memory ran out (rp->nomem set). */
static int keep_string(req_parse *rp, field *f, const unsigned char *s,
                       size_t len)
{
    free_field(f);
    f->s = len <= sizeof f->small ? f->small : malloc(len);
    if (f->s == NULL) {
        rp->nomem = 1;
        f->state = FIELD_MISSING;
        return 0;
    }
    if (len > 0)
        memcpy(f->s, s, len);
    f->len = len;
    f->state = FIELD_STRING;
    return 1;
}

/* A value at depth 1 (or the top-level value at depth 0). */
static int scalar(req_parse *rp, const unsigned char *s, size_t len,
                  int is_string)
{
    field *f;

    /* After the object (rp->end set), a value of its own is trailing
     * garbage. */
    if (rp->depth == 0)
        return cancel(rp, rp->end > 0 ? GW_REQ_E_JSON : GW_REQ_E_NOT_OBJECT);
    if (rp->depth != 1 || rp->key == KEY_OTHER)
        return 1;
    f = rp->key == KEY_ACTION ? &rp->action : &rp->value;
    rp->key = KEY_OTHER;
    if (!is_string) {
        free_field(f);
        f->state = FIELD_OTHER;
        return 1;
    }
    return keep_string(rp, f, s, len);
}

static int cb_null(void *ctx)
{
    return scalar(parsing(ctx), NULL, 0, 0);
}

static int cb_boolean(void *ctx, int v)
{
    (void)v;
    return scalar(parsing(ctx), NULL, 0, 0);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    (void)s;
    (void)len;
    return scalar(parsing(ctx), NULL, 0, 0);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    return scalar(parsing(ctx), s, len, 1);
}

static int open_nested(req_parse *rp, int is_map)
{
    if (rp->depth == 0 && rp->end > 0)
        return cancel(rp, GW_REQ_E_JSON);
    if (rp->depth == 0 && !is_map)
        return cancel(rp, GW_REQ_E_NOT_OBJECT);
    if (rp->depth >= GW_JSON_DEPTH_MAX)
        return cancel(rp, GW_REQ_E_JSON);
    if (rp->depth == 1 && rp->key != KEY_OTHER)
        scalar(rp, NULL, 0, 0);
    rp->depth++;
    return 1;
}

static int cb_start_map(void *ctx)
{
    return open_nested(parsing(ctx), 1);
}

static int cb_start_array(void *ctx)
{
    return open_nested(parsing(ctx), 0);
}

static int cb_end(void *ctx)
{
    req_parse *rp = parsing(ctx);

    if (--rp->depth == 0)
        rp->end = yajl_get_bytes_consumed(rp->yh);
    return 1;
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
    req_parse *rp = parsing(ctx);

    if (rp->depth != 1)
        return 1;
    if (len == 6 && memcmp(s, "action", 6) == 0)
        rp->key = KEY_ACTION;
    else if (len == 5 && memcmp(s, "value", 5) == 0)
        rp->key = KEY_VALUE;
    else
        rp->key = KEY_OTHER;
    return 1;
}

static const yajl_callbacks callbacks = {
    cb_null, cb_boolean, NULL, NULL, cb_number, cb_string,
    cb_start_map, cb_map_key, cb_end, cb_start_array, cb_end
};

/* yajl's verdict on the content, then ours: one object and blanks. */
static gw_req_status verdict(const req_parse *rp, yajl_status ys,
                             const unsigned char *c, size_t len)
{
    if (ys == yajl_status_client_canceled)
        return rp->nomem ? GW_REQ_E_JSON : rp->st;
    if (ys != yajl_status_ok || rp->end == 0)
        return GW_REQ_E_JSON;
    /* yajl takes an unfinished token after the object. */
    if (rp->end > len || !gw_json_only_space(c + rp->end, len - rp->end))
        return GW_REQ_E_JSON;
    return GW_REQ_OK;
}

/* Parse the content into rp: GW_REQ_OK or the reason it failed
 * (rp->nomem set when memory ran out). */
static gw_req_status parse_content(req_parse *rp, const unsigned char *c,
                                   size_t len)
{
    gw_req_status st;
    yajl_status ys;

    if (kept.yh == NULL) {
        kept.yh = yajl_alloc(&callbacks, NULL, &kept);
        if (kept.yh == NULL) {
            rp->nomem = 1;
            return GW_REQ_E_JSON;
        }
        yajl_config(kept.yh, yajl_allow_multiple_values, 1);
        /* read_request has checked the whole content as UTF-8 already. */
        yajl_config(kept.yh, yajl_dont_validate_strings, 1);
    }
    kept.rp = rp;
    rp->yh = kept.yh;
    /* yajl wants a real pointer even for empty content. */
    ys = yajl_parse(rp->yh, c != NULL ? c : (const unsigned char *)"", len);
    /* Once the object closed, what follows is checked by verdict(); only
     * an unfinished document needs yajl's word at its end. */
    if (ys == yajl_status_ok && rp->end == 0)
        ys = yajl_complete_parse(rp->yh);
    st = verdict(rp, ys, c, len);
    if (st != GW_REQ_OK) {
        yajl_free(kept.yh);
        kept.yh = NULL;
    }
    kept.rp = NULL;
    rp->yh = NULL;
    return st;
}

static int is_utf8_name(const hf_str *enc)
{
    /* The spelling nearly every client sends, before any other case. */
    if (enc->len == 5 && memcmp(enc->ptr, "utf-8", 5) == 0)
        return 1;
    return (enc->len == 5 && strncasecmp(enc->ptr, "utf-8", 5) == 0) ||
           (enc->len == 4 && strncasecmp(enc->ptr, "utf8", 4) == 0);
}

/* "PREFIX" + s + "'." into a fresh buffer; NULL when memory runs out. */
static unsigned char *quote(const char *prefix, const unsigned char *s,
                            size_t len, size_t *out_len)
{
    size_t plen = strlen(prefix);
    unsigned char *p;

    if (len > SIZE_MAX - plen - 2)
        return NULL;
    p = malloc(plen + len + 2);
    if (p == NULL)
        return NULL;
    memcpy(p, prefix, plen);
    if (len > 0)
        memcpy(p + plen, s, len);
    memcpy(p + plen + len, "'.", 2);
    *out_len = plen + len + 2;
    return p;
}

/* The search the reference client sends, byte for byte:
 * {"action": "search", "value": "V"} as json.dumps writes it, where V
 * holds no quote, backslash or control byte, so it stands for itself.
 * Such content is one object whose action is "search" and value V,
 * exactly what yajl would read; recognising the bytes spares the parser
 * (a third of the gateway's own work per search). Anything else, even
 * an equivalent text spaced otherwise, goes to yajl. The content has
 * been checked as UTF-8 before. fuzz_request checks both give the same
 * answers. */
static int canonical_search(const unsigned char *c, size_t len,
                            const unsigned char **value, size_t *vlen)
{
    static const char head[] = "{\"action\": \"search\", \"value\": \"";
    const size_t hlen = sizeof head - 1;
    size_t i;

    if (len < hlen + 2 || memcmp(c, head, hlen) != 0 ||
        c[len - 2] != '"' || c[len - 1] != '}')
        return 0;
    for (i = hlen; i < len - 2; i++)
        if (c[i] == '"' || c[i] == '\\' || c[i] < 0x20)
            return 0;
    *value = c + hlen;
    *vlen = len - 2 - hlen;
    return 1;
}

/* Read a text/json request's action and value into rp (the caller frees
 * them): GW_REQ_OK or why it cannot be served (rp->nomem set when memory
 * ran out). */
static gw_req_status read_request(req_parse *rp, const unsigned char *content,
                                  size_t len)
{
    const unsigned char *value;
    size_t vlen;
    gw_req_status st;

    memset(rp, 0, sizeof *rp);
    /* yajl lets some malformed UTF-8 and \v, \f through, and would turn
     * a lone surrogate escape into '?' without a word. */
    if (!gw_json_plain(content, len) &&
        (gw_json_bad_byte(content, len) < len ||
         hf_json_lone_surrogate(content, len) != len))
        return GW_REQ_E_JSON;
    if (canonical_search(content, len, &value, &vlen))
        return keep_string(rp, &rp->action, (const unsigned char *)"search",
                           6) &&
               keep_string(rp, &rp->value, value, vlen)
                   ? GW_REQ_OK : GW_REQ_E_JSON;
    st = parse_content(rp, content, len);
    if (st == GW_REQ_OK && rp->action.state != FIELD_STRING)
        st = GW_REQ_E_ACTION;
    if (st == GW_REQ_OK && rp->value.state != FIELD_STRING)
        st = GW_REQ_E_VALUE;
    return st;
}

static void free_request(req_parse *rp)
{
    free_field(&rp->action);
    free_field(&rp->value);
}

static int answer_json(const gw_index *idx, const unsigned char *content,
                       size_t len, gw_buf *out, gw_reply *r)
{
    req_parse rp;
    gw_req_status st;
    const unsigned char *ready;
    const char *ans = NULL;
    unsigned char *tmp = NULL;
    size_t ans_len = 0;
    int rc;

    st = read_request(&rp, content, len);
    if (rp.nomem) {
        rc = -1;
        goto done;
    }
    if (st != GW_REQ_OK) {
        rc = bad_request(out, st, r);
        goto done;
    }
    keep_names(&r->names, &rp);
    if (rp.action.len == 6 && memcmp(rp.action.s, "search", 6) == 0) {
        r->kind = GW_KIND_SEARCH;
        ready = gw_index_lookup_prepared(idx, rp.value.s, rp.value.len,
                                         &ans_len);
        if (ready != NULL) {
            rc = gw_buf_append(out, ready, ans_len);
            r->bytes_out = ans_len;
            goto done;
        }
        ans = gw_index_lookup(idx, rp.value.s, rp.value.len, &ans_len);
        /* An empty answer counts as none, as in the reference server. */
        if (ans == NULL || ans_len == 0) {
            tmp = quote("No match for '", rp.value.s, rp.value.len,
                        &ans_len);
            ans = (const char *)tmp;
        }
    } else {
        r->kind = GW_KIND_INVALID_ACTION;
        tmp = quote("Error: invalid action '", rp.action.s, rp.action.len,
                    &ans_len);
        ans = (const char *)tmp;
    }
    if (ans == NULL) {
        rc = -1;
        goto done;
    }
    rc = put_pair(out, "result", ans, ans_len, &r->bytes_out);
    if (rc == -2)
        rc = bad_request(out, GW_REQ_E_RESPONSE, r);
done:
    free(tmp);
    free_request(&rp);
    return rc == 0 ? 0 : -1;
}

/* One search answer made ahead: the frame put_pair would make, for the
 * answers a search can have (an empty one counts as none). */
static int make_answer(void *ctx, const char *value, size_t len,
                       gw_buf *out)
{
    size_t written;

    (void)ctx;
    if (len == 0)
        return -1;
    return put_pair(out, "result", value, len, &written) == 0 ? 0 : -1;
}

int gw_handle_prepare(gw_index *idx)
{
    return gw_index_prepare(idx, make_answer, NULL);
}

static int is_json_request(const hf_header *h)
{
    return h->content_type.len == sizeof CT_JSON - 1 &&
           memcmp(h->content_type.ptr, CT_JSON, sizeof CT_JSON - 1) == 0;
}

void gw_describe_request(const hf_header *h, const unsigned char *content,
                         size_t len, gw_names *n)
{
    req_parse rp;

    if (!is_json_request(h) || !is_utf8_name(&h->content_encoding))
        return;
    if (read_request(&rp, content, len) == GW_REQ_OK)
        keep_names(n, &rp);
    free_request(&rp);
}

int gw_handle_request(const gw_index *idx, const hf_header *h,
                      const unsigned char *content, size_t len,
                      gw_buf *out, gw_reply *r)
{
    reply_init(r, GW_KIND_BINARY);
    if (!is_json_request(h))
        return answer_binary(content, len, out, r);
    if (!is_utf8_name(&h->content_encoding))
        return bad_request(out, GW_REQ_E_ENCODING, r);
    return answer_json(idx, content, len, out, r);
}
