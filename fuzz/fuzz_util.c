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
