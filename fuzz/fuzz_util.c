/* fuzz_util.c - see fuzz_util.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl_parse.h>

#include "fuzz_util.h"

_Noreturn void fz_fail(const char *file, int line, const char *what,
                       const char *detail)
{
    fprintf(stderr, "%s:%d: invariant broken: %s%s%s\n", file, line, what,
            detail != NULL ? ": " : "", detail != NULL ? detail : "");
    fflush(stderr);
    abort();
}

int fz_known(const char *id)
{
    const char *list;
    const char *p;
    size_t n;

    list = getenv("FUZZ_KNOWN");
    if (list == NULL)
        return 0;
    n = strlen(id);
    for (p = strstr(list, id); p != NULL; p = strstr(p + 1, id))
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

unsigned char *fz_dup(const uint8_t *data, size_t size)
{
    unsigned char *p;

    p = malloc(size);
    if (p == NULL && size == 0)
        p = malloc(1);
    if (p == NULL)
        fz_fail(__FILE__, __LINE__, "malloc", "out of memory");
    if (size > 0)
        memcpy(p, data, size);
    return p;
}

uint8_t fz_take_u8(fz_reader *r)
{
    uint8_t b;

    if (r->len == 0)
        return 0;
    b = r->p[0];
    r->p++;
    r->len--;
    return b;
}

uint16_t fz_take_u16(fz_reader *r)
{
    uint16_t hi;

    hi = fz_take_u8(r);
    return (uint16_t)(hi << 8 | fz_take_u8(r));
}

size_t fz_take_bytes(fz_reader *r, size_t n, const uint8_t **out)
{
    if (n > r->len)
        n = r->len;
    *out = r->p;
    r->p += n;
    r->len -= n;
    return n;
}

/* ------------------------------------------------------------------ */
/* Counting allocator                                                  */
/* ------------------------------------------------------------------ */

/* Each block starts with its size, padded to the strictest alignment. */
typedef union fz_block {
    size_t size;
    max_align_t align;
} fz_block;

static int fz_should_fail(fz_alloc *a)
{
    size_t call;

    call = a->calls++;
    if (call != a->fail_at)
        return 0;
    a->failed++;
    return 1;
}

static void *fz_malloc(void *ctx, size_t size)
{
    fz_alloc *a = ctx;
    fz_block *b;

    if (fz_should_fail(a))
        return NULL;
    if (size > SIZE_MAX - sizeof(*b))
        return NULL;
    b = malloc(sizeof(*b) + size);
    if (b == NULL)
        return NULL;
    b->size = size;
    a->live += size;
    if (a->live > a->peak)
        a->peak = a->live;
    return b + 1;
}

static void fz_free(void *ctx, void *ptr)
{
    fz_alloc *a = ctx;
    fz_block *b;

    if (ptr == NULL)
        return;
    b = (fz_block *)ptr - 1;
    FZ_CHECK(a->live >= b->size);
    a->live -= b->size;
    free(b);
}

static void *fz_realloc(void *ctx, void *ptr, size_t size)
{
    fz_alloc *a = ctx;
    fz_block *b;
    fz_block *nb;
    size_t old;

    if (ptr == NULL)
        return fz_malloc(ctx, size);
    if (fz_should_fail(a))
        return NULL;
    if (size > SIZE_MAX - sizeof(*b))
        return NULL;
    b = (fz_block *)ptr - 1;
    old = b->size;
    nb = realloc(b, sizeof(*nb) + size);
    if (nb == NULL)
        return NULL;
    nb->size = size;
    FZ_CHECK(a->live >= old);
    a->live = a->live - old + size;
    if (a->live > a->peak)
        a->peak = a->live;
    return nb + 1;
}

void fz_alloc_init(fz_alloc *a, size_t fail_at)
{
    memset(a, 0, sizeof(*a));
    a->hooks.malloc_fn = fz_malloc;
    a->hooks.realloc_fn = fz_realloc;
    a->hooks.free_fn = fz_free;
    a->hooks.ctx = a;
    a->fail_at = fail_at;
}

/* ------------------------------------------------------------------ */
/* Independent checks                                                  */
/* ------------------------------------------------------------------ */

size_t fz_utf8_prefix(const unsigned char *s, size_t len)
{
    size_t i;
    size_t k;
    size_t extra;
    uint32_t cp;
    uint32_t min;
    unsigned char c;

    i = 0;
    while (i < len) {
        c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1fu;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0fu;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07u;
            min = 0x10000;
        } else {
            return i;
        }
        if (len - i - 1 < extra)
            return i;
        for (k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += extra + 1;
    }
    return len;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int fz_is_json_number(const char *p, size_t n)
{
    size_t i;

    i = 0;
    if (i < n && p[i] == '-')
        i++;
    if (i == n)
        return 0;
    if (p[i] == '0') {
        i++;
    } else if (is_digit(p[i])) {
        while (i < n && is_digit(p[i]))
            i++;
    } else {
        return 0;
    }
    if (i < n && p[i] == '.') {
        i++;
        if (i == n || !is_digit(p[i]))
            return 0;
        while (i < n && is_digit(p[i]))
            i++;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i == n || !is_digit(p[i]))
            return 0;
        while (i < n && is_digit(p[i]))
            i++;
    }
    return i == n;
}

/* The canonical string form of valid UTF-8 s, by the rules of the
 * protocol, written without the codec. Returns the length; writes to out
 * when out != NULL. */
size_t fz_json_string(unsigned char *out, const unsigned char *s,
                           size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char tmp[6];
    size_t n;
    size_t i;
    size_t k;
    size_t w;

    w = 0;
    if (out != NULL)
        out[w] = '"';
    w++;
    for (i = 0; i < len; i++) {
        n = 2;
        tmp[0] = '\\';
        switch (s[i]) {
        case '"': tmp[1] = '"'; break;
        case '\\': tmp[1] = '\\'; break;
        case '\n': tmp[1] = 'n'; break;
        case '\r': tmp[1] = 'r'; break;
        case '\t': tmp[1] = 't'; break;
        case '\b': tmp[1] = 'b'; break;
        case '\f': tmp[1] = 'f'; break;
        default:
            if (s[i] < 0x20) {
                memcpy(tmp + 1, "u00", 3);
                tmp[4] = (unsigned char)hex[s[i] >> 4];
                tmp[5] = (unsigned char)hex[s[i] & 15];
                n = 6;
            } else {
                tmp[0] = s[i];
                n = 1;
            }
        }
        for (k = 0; k < n; k++) {
            if (out != NULL)
                out[w] = tmp[k];
            w++;
        }
    }
    if (out != NULL)
        out[w] = '"';
    return w + 1;
}

int fz_str_eq(hf_str a, hf_str b)
{
    if (a.len != b.len)
        return 0;
    if (a.len == 0)
        return 1;
    return memcmp(a.ptr, b.ptr, a.len) == 0;
}

int fz_header_eq(const hf_header *a, const hf_header *b)
{
    size_t i;

    if (a->byteorder != b->byteorder)
        return 0;
    if (!fz_str_eq(a->content_type, b->content_type))
        return 0;
    if (!fz_str_eq(a->content_encoding, b->content_encoding))
        return 0;
    if (a->content_length != b->content_length)
        return 0;
    if (a->n_ext != b->n_ext)
        return 0;
    for (i = 0; i < a->n_ext; i++) {
        if (a->ext[i].type != b->ext[i].type)
            return 0;
        if (!fz_str_eq(a->ext[i].key, b->ext[i].key))
            return 0;
        if (!fz_str_eq(a->ext[i].value, b->ext[i].value))
            return 0;
    }
    return 1;
}

/* A decoded string: non-NULL, valid UTF-8, NUL right after the bytes. */
static void check_decoded_str(hf_str s)
{
    FZ_CHECK(s.ptr != NULL);
    FZ_CHECK(fz_utf8_prefix((const unsigned char *)s.ptr, s.len) == s.len);
    FZ_CHECK(s.ptr[s.len] == '\0');
}

static int str_is(hf_str s, const char *z)
{
    hf_str t;

    t.ptr = z;
    t.len = strlen(z);
    return fz_str_eq(s, t);
}

static int is_required_key(hf_str k)
{
    return str_is(k, "byteorder") || str_is(k, "content-type") ||
           str_is(k, "content-encoding") || str_is(k, "content-length");
}

void fz_check_header(const hf_header *h, const hf_limits *lim)
{
    const hf_ext *e;
    size_t i;
    size_t j;

    FZ_CHECK(h->byteorder == HF_BYTEORDER_LITTLE ||
             h->byteorder == HF_BYTEORDER_BIG);
    check_decoded_str(h->content_type);
    check_decoded_str(h->content_encoding);
    FZ_CHECK(h->content_type.len > 0);
    FZ_CHECK(h->content_encoding.len > 0);
    FZ_CHECK(h->content_length <= lim->max_content);
    FZ_CHECK(h->n_ext <= lim->max_extensions);
    FZ_CHECK(h->n_ext <= HF_EXT_MAX);
    FZ_CHECK(h->header_len >= HF_HEADER_MIN);
    FZ_CHECK(h->header_len <= lim->max_header);
    for (i = 0; i < h->n_ext; i++) {
        e = &h->ext[i];
        check_decoded_str(e->key);
        check_decoded_str(e->value);
        FZ_CHECK(!is_required_key(e->key));
        switch (e->type) {
        case HF_VALUE_STRING:
            break;
        case HF_VALUE_NUMBER:
            FZ_CHECK(fz_is_json_number(e->value.ptr, e->value.len));
            break;
        case HF_VALUE_TRUE:
            FZ_CHECK(str_is(e->value, "true"));
            break;
        case HF_VALUE_FALSE:
            FZ_CHECK(str_is(e->value, "false"));
            break;
        case HF_VALUE_NULL:
            FZ_CHECK(str_is(e->value, "null"));
            break;
        default:
            FZ_CHECK(!"extension value type out of range");
        }
        for (j = 0; j < i; j++)
            FZ_CHECK(!fz_str_eq(h->ext[j].key, e->key));
        FZ_CHECK(hf_header_find_ext(h, e->key.ptr, e->key.len) == e);
    }
}

void fz_check_error(const hf_error *e, hf_status st, uint64_t base,
                    size_t len)
{
    FZ_CHECK(st > HF_NEED_MORE && st < HF_STATUS_COUNT);
    FZ_CHECK(e->code == st);
    FZ_CHECK(e->offset >= base);
    FZ_CHECK(e->offset - base <= len);
    FZ_CHECK(e->frame_offset <= e->offset);
    FZ_CHECK(memchr(e->detail, '\0', sizeof(e->detail)) != NULL);
    FZ_CHECK(e->detail[0] != '\0');
    FZ_CHECK(strcmp(hf_status_name(st), "unknown") != 0);
    FZ_CHECK(hf_strerror(st) != NULL && hf_strerror(st)[0] != '\0');
}

/* ------------------------------------------------------------------ */
/* Where a decoder error points (docs/protocol.md 3.1 and 4.2)         */
/* ------------------------------------------------------------------ */

/* JSON whitespace: \v and \f are not (protocol.md 3.2, "Syntax"). */
static int is_json_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The first offset at or after i in s[0..n) that is not whitespace. */
static size_t skip_space(const unsigned char *s, size_t i, size_t n)
{
    while (i < n && is_json_space(s[i]))
        i++;
    return i;
}

/* The last byte before s[i] that is not whitespace; -1 when none. */
static int byte_before(const unsigned char *s, size_t i)
{
    while (i > 0 && is_json_space(s[i - 1]))
        i--;
    return i > 0 ? s[i - 1] : -1;
}

/* Just past the brace that closes the object opening at s[open], 0 when
 * s[0..n) does not close it. Only strings (with their escapes) and
 * nesting are followed, which is enough for text a parser accepted up to
 * that brace: what an error offset is checked against. */
static size_t object_end(const unsigned char *s, size_t open, size_t n)
{
    size_t depth = 0;
    size_t i;
    int in_string = 0;

    for (i = open; i < n; i++) {
        if (in_string) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_string = 0;
        } else if (s[i] == '"') {
            in_string = 1;
        } else if (s[i] == '{' || s[i] == '[') {
            depth++;
        } else if ((s[i] == '}' || s[i] == ']') && --depth == 0) {
            return i + 1;
        }
    }
    return 0;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The code unit of the escape \uXXXX at s[i], -1 when s[i..n) does not
 * start with one. */
static long u_escape(const unsigned char *s, size_t i, size_t n)
{
    long v = 0;
    size_t k;
    int h;

    if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
        return -1;
    for (k = 2; k < 6; k++) {
        h = hex_value(s[i + k]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

static int is_low_surrogate(long u)
{
    return u >= 0xdc00 && u <= 0xdfff;
}

/* The backslash of the first \u escape in s[0..n) that is a surrogate
 * outside a high-low pair, or n. In text the parser accepted, every
 * backslash starts an escape inside a string. */
static size_t first_lone_surrogate(const unsigned char *s, size_t n)
{
    size_t i = 0;
    long u;

    while (i < n) {
        if (s[i] != '\\') {
            i++;
            continue;
        }
        u = u_escape(s, i, n);
        if (u < 0) {
            i += 2;             /* \" \\ \/ \b \f \n \r \t */
        } else if (is_low_surrogate(u)) {
            return i;
        } else if (u >= 0xd800 && u <= 0xdbff) {
            if (!is_low_surrogate(u_escape(s, i + 6, n)))
                return i;
            i += 12;
        } else {
            i += 6;
        }
    }
    return n;
}

/* The codec's details name a byte as "byte 0x%02x" (codec/header.c). */
static int detail_names_byte(const char *detail, unsigned char b)
{
    char want[16];

    snprintf(want, sizeof(want), "byte 0x%02x", (unsigned)b);
    return strstr(detail, want) != NULL;
}

static int is_value_rule(hf_status st)
{
    return st == HF_E_BAD_BYTEORDER || st == HF_E_BAD_CONTENT_TYPE ||
           st == HF_E_BAD_CONTENT_ENCODING ||
           st == HF_E_BAD_CONTENT_LENGTH || st == HF_E_CONTENT_TOO_LONG;
}

static int starts_value(unsigned char c)
{
    return c != '\0' && strchr("\"-0123456789tfn{[", c) != NULL;
}

/* An error st of the whole header json[0..n), N within the limits: the
 * order of checks of protocol.md 3.1 and the offsets of 4.2. */
static void check_header_offset(const hf_error *e, hf_status st,
                                const unsigned char *json, size_t n)
{
    size_t at;
    size_t bad;
    size_t text_end;
    size_t start;
    size_t end;
    int before;

    FZ_CHECK(e->frame_offset >= HF_PREFIX_LEN);
    FZ_CHECK(e->frame_offset - HF_PREFIX_LEN <= n);
    at = (size_t)(e->frame_offset - HF_PREFIX_LEN);
    if (n >= 3 && json[0] == 0xef && json[1] == 0xbb && json[2] == 0xbf) {
        FZ_CHECK(st == HF_E_JSON_SYNTAX && at == 0);
        return;
    }
    bad = fz_utf8_prefix(json, n);
    if (bad < n) {
        FZ_CHECK(st == HF_E_UTF8);
        FZ_CHECK(at == bad);
        FZ_CHECK(detail_names_byte(e->detail, json[bad]));
        return;
    }
    FZ_CHECK(st != HF_E_UTF8);

    /* The JSON text is read up to the first \v or \f (neither is JSON
     * whitespace, nor may stand raw in a string): no rule is decided at
     * or beyond it, and json-syntax is reported there at the latest. */
    for (text_end = 0; text_end < n; text_end++)
        if (json[text_end] == '\v' || json[text_end] == '\f')
            break;
    start = skip_space(json, 0, text_end);
    if (start == text_end) {
        FZ_CHECK(st == HF_E_JSON_SYNTAX && at == text_end);
        return;
    }
    FZ_CHECK(at < text_end || (st == HF_E_JSON_SYNTAX && at == text_end));
    before = byte_before(json, at);
    switch (st) {
    case HF_E_NOT_OBJECT:
        FZ_CHECK(at == start && json[at] != '{');
        break;
    case HF_E_TRAILING_DATA:
        FZ_CHECK(json[start] == '{');
        end = object_end(json, start, text_end);
        FZ_CHECK(end > 0);
        FZ_CHECK(at == skip_space(json, end, text_end));
        FZ_CHECK(detail_names_byte(e->detail, json[at]));
        break;
    case HF_E_MISSING_KEY:
        FZ_CHECK(json[start] == '{' && json[at] == '}');
        FZ_CHECK(object_end(json, start, text_end) == at + 1);
        break;
    case HF_E_DUPLICATE_KEY:
    case HF_E_TOO_MANY_EXTENSIONS:
        FZ_CHECK(json[at] == '"' && (before == '{' || before == ','));
        break;
    case HF_E_NESTED_VALUE:
        FZ_CHECK((json[at] == '{' || json[at] == '[') && before == ':');
        break;
    case HF_E_LONE_SURROGATE:
        FZ_CHECK(at == first_lone_surrogate(json, text_end));
        break;
    default:
        if (is_value_rule(st))
            FZ_CHECK(starts_value(json[at]) && before == ':');
        if (st == HF_E_CONTENT_TOO_LONG)
            FZ_CHECK(json[at] >= '1' && json[at] <= '9');
        break;
    }
}

/* Statuses that say nothing of the input. */
static int is_failure_of_call(hf_status st)
{
    return st == HF_E_NOMEM || st == HF_E_INVALID_ARGUMENT;
}

void fz_check_frame_error(const hf_error *e, hf_status st,
                          uint64_t frame_start, const unsigned char *frame,
                          size_t avail, const hf_limits *lim)
{
    size_t n;

    fz_check_error(e, st, frame_start, avail);
    FZ_CHECK(e->offset == frame_start + e->frame_offset);
    if (is_failure_of_call(st))
        return;
    if (st == HF_E_TRUNCATED) {
        FZ_CHECK(e->frame_offset == avail);
        return;
    }
    FZ_CHECK(avail >= HF_PREFIX_LEN);
    n = (size_t)frame[0] << 8 | frame[1];
    if (st == HF_E_HEADER_TOO_SHORT || st == HF_E_HEADER_TOO_LONG) {
        FZ_CHECK(e->frame_offset == 0);
        FZ_CHECK(st == (n < HF_HEADER_MIN ? HF_E_HEADER_TOO_SHORT
                                          : HF_E_HEADER_TOO_LONG));
        FZ_CHECK(n < HF_HEADER_MIN || n > lim->max_header);
        return;
    }
    FZ_CHECK(n >= HF_HEADER_MIN && n <= lim->max_header);
    FZ_CHECK(avail - HF_PREFIX_LEN >= n);
    check_header_offset(e, st, frame + HF_PREFIX_LEN, n);
}

void fz_check_header_error(const hf_error *e, hf_status st,
                           const unsigned char *json, size_t n,
                           const hf_limits *lim)
{
    fz_check_error(e, st, 0, HF_PREFIX_LEN + n);
    FZ_CHECK(e->offset == e->frame_offset);
    if (is_failure_of_call(st))
        return;
    if (n < HF_HEADER_MIN || n > lim->max_header) {
        FZ_CHECK(st == (n < HF_HEADER_MIN ? HF_E_HEADER_TOO_SHORT
                                          : HF_E_HEADER_TOO_LONG));
        FZ_CHECK(e->offset == 0);
        return;
    }
    FZ_CHECK(st != HF_E_HEADER_TOO_SHORT && st != HF_E_HEADER_TOO_LONG &&
             st != HF_E_TRUNCATED);
    check_header_offset(e, st, json, n);
}

/* ------------------------------------------------------------------ */
/* The JSON of the gateway's answers                                   */
/* ------------------------------------------------------------------ */

/* Keys of an answer, for the value that follows them. */
enum { ANSWER_KEY_OTHER, ANSWER_KEY_RESULT, ANSWER_KEY_ERROR,
       ANSWER_KEY_MESSAGE };

typedef struct answer_parse {
    fz_answer_json *out;
    const char *code;     /* the "error" value to compare with, or NULL */
    int depth;            /* maps opened so far */
    int key;              /* ANSWER_KEY_* of the last key */
} answer_parse;

static int answer_key(void *ctx, const unsigned char *k, size_t n)
{
    answer_parse *a = ctx;

    a->out->keys++;
    a->key = ANSWER_KEY_OTHER;
    if (n == 6 && memcmp(k, "result", 6) == 0) {
        a->key = ANSWER_KEY_RESULT;
        a->out->has_result = 1;
    } else if (n == 5 && memcmp(k, "error", 5) == 0) {
        a->key = ANSWER_KEY_ERROR;
        a->out->has_error = 1;
    } else if (n == 7 && memcmp(k, "message", 7) == 0) {
        a->key = ANSWER_KEY_MESSAGE;
        a->out->has_message = 1;
    } else {
        a->out->other_key = 1;
    }
    return 1;
}

static int answer_string(void *ctx, const unsigned char *v, size_t n)
{
    answer_parse *a = ctx;

    if (a->key == ANSWER_KEY_ERROR)
        a->out->code_ok = a->code != NULL && n == strlen(a->code) &&
                          memcmp(v, a->code, n) == 0;
    else if (a->key == ANSWER_KEY_MESSAGE)
        a->out->message_len = n;
    return 1;
}

/* Only the outermost map: a nested one stops the parse. */
static int answer_start_map(void *ctx)
{
    answer_parse *a = ctx;

    a->depth++;
    return a->depth == 1;
}

static int answer_end_map(void *ctx)
{
    (void)ctx;
    return 1;
}

/* Any value but a string stops the parse. */
static int answer_reject(void *ctx)
{
    (void)ctx;
    return 0;
}

static int answer_reject_bool(void *ctx, int b)
{
    (void)b;
    return answer_reject(ctx);
}

static int answer_reject_number(void *ctx, const char *p, size_t n)
{
    (void)p;
    (void)n;
    return answer_reject(ctx);
}

static const yajl_callbacks answer_callbacks = {
    answer_reject, answer_reject_bool, NULL, NULL, answer_reject_number,
    answer_string, answer_start_map, answer_key, answer_end_map,
    answer_reject, answer_reject
};

void fz_check_answer_json(const unsigned char *p, size_t n,
                          const char *code, fz_answer_json *out)
{
    answer_parse a;
    yajl_handle y;

    memset(out, 0, sizeof(*out));
    memset(&a, 0, sizeof(a));
    a.out = out;
    a.code = code;
    y = yajl_alloc(&answer_callbacks, NULL, &a);
    FZ_CHECK(y != NULL);
    FZ_CHECK(yajl_parse(y, p, n) == yajl_status_ok);
    FZ_CHECK(yajl_complete_parse(y) == yajl_status_ok);
    yajl_free(y);
    FZ_CHECK(a.depth == 1);
}

void fz_limits_from_byte(hf_limits *lim, uint8_t b)
{
    unsigned v;

    hf_limits_default(lim);
    v = b >> 2;
    switch (b & 3) {
    case 1: /* small everything: limit errors within a few bytes */
        lim->max_header = 16 + (size_t)v * 4;
        lim->max_content = v;
        lim->max_extensions = v % 5;
        break;
    case 2: /* the widest configuration */
        lim->max_content = HF_CONTENT_LIMIT_MAX;
        break;
    case 3: /* the smallest legal values */
        lim->max_header = HF_HEADER_MIN + v;
        lim->max_content = 0;
        lim->max_extensions = 0;
        break;
    default:
        break;
    }
}

uint8_t fz_take_limits(fz_reader *r, hf_limits *lim, fz_alloc *a)
{
    uint8_t b = fz_take_u8(r);

    fz_limits_from_byte(lim, b);
    fz_alloc_init(a, SIZE_MAX);
    lim->alloc = &a->hooks;
    return b;
}
