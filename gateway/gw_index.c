/* gw_index.c - the search index: yajl loader, sorted table, lookups. */
#include "gw_index.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yajl_parse.h>

#include "hframe.h"
#include "gw_buf.h"
#include "gw_json.h"

/* While loading, strings live in a growing arena, so entries hold
 * offsets; they become pointers once the arena stops moving. */
typedef struct entry {
    union { size_t off; const char *ptr; } key;
    union { size_t off; const char *ptr; } val;
    size_t key_len;
    size_t val_len;
    size_t where;   /* input offset of the key, for duplicate reports */
    size_t prep_off;    /* its prepared answer in the index's prep */
    size_t prep_len;    /* 0: none */
} entry;

struct gw_index {
    entry *e;
    size_t n;
    unsigned char *arena;
    unsigned char *prep;    /* answers made ahead, NULL: none */
};

typedef struct loader {
    yajl_handle yh;
    const unsigned char *text;  /* the input yajl parses, whole */
    gw_buf arena;
    entry *e;
    size_t n;
    size_t cap;
    int depth;
    int have_key;          /* a key waits for its value */
    size_t end;            /* offset just past the top-level object */
    gw_index_status st;    /* set by a callback that cancels the parse */
    size_t st_offset;
    char st_detail[GW_INDEX_DETAIL_MAX];
} loader;

/* The tutorial's entries, as the JSON an index file would hold. */
static const char builtin_json[] =
    "{\"morpheus\": \"Follow the white rabbit. \xf0\x9f\x90\xb0\", "
    "\"ring\": \"In the caves beneath the Misty Mountains. \xf0\x9f\x92\x8d\", "
    "\"\xf0\x9f\x90\xb6\": \"\xf0\x9f\x90\xbe Playing ball! \xf0\x9f\x8f\x90\"}";

const char *gw_index_strerror(gw_index_status st)
{
    switch (st) {
    case GW_INDEX_OK: return "ok";
    case GW_INDEX_E_IO: return "io-error";
    case GW_INDEX_E_TOO_BIG: return "too-big";
    case GW_INDEX_E_JSON: return "json-syntax";
    case GW_INDEX_E_NOT_OBJECT: return "not-object";
    case GW_INDEX_E_NOT_STRING: return "not-string";
    case GW_INDEX_E_DUPLICATE: return "duplicate-key";
    case GW_INDEX_E_NOMEM: return "out-of-memory";
    }
    return "unknown";
}

static void set_err(gw_index_error *err, gw_index_status code, size_t off,
                    const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    err->code = code;
    err->offset = off;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    va_end(ap);
}

/* Where the token a callback was just given starts: yajl counts the
 * bytes up to its end. A string is found back from its closing quote
 * (a quote after an even run of backslashes opens it); any other token
 * is a '{', a '[', or a run of the letters, digits and signs that
 * numbers and literals are made of. */
static size_t token_start(const loader *ld)
{
    size_t end = yajl_get_bytes_consumed(ld->yh), i, k;
    const unsigned char *t = ld->text;

    if (end == 0)
        return 0;
    if (t[end - 1] == '{' || t[end - 1] == '[')
        return end - 1;
    if (t[end - 1] == '"') {
        for (i = end - 1; i-- > 0;) {
            for (k = 0; k < i && t[i - 1 - k] == '\\'; k++)
                ;
            if (t[i] == '"' && k % 2 == 0)
                return i;
        }
        return 0;
    }
    for (i = end; i > 0 && (isalnum(t[i - 1]) || t[i - 1] == '-' ||
                            t[i - 1] == '+' || t[i - 1] == '.');
         i--)
        ;
    return i;
}

/* Cancel the parse from a callback with a reason, at the token it was
 * just given. */
static int fail(loader *ld, gw_index_status st, const char *what)
{
    ld->st = st;
    ld->st_offset = token_start(ld);
    snprintf(ld->st_detail, sizeof ld->st_detail, "%s", what);
    return 0;
}

/* A value at depth 1 that is not a string. */
static int not_string(loader *ld)
{
    if (ld->depth == 0)
        return fail(ld, GW_INDEX_E_NOT_OBJECT,
                    "the index must be a JSON object");
    return fail(ld, GW_INDEX_E_NOT_STRING, "every answer must be a string");
}

static int cb_null(void *ctx)
{
    return not_string(ctx);
}

static int cb_boolean(void *ctx, int v)
{
    (void)v;
    return not_string(ctx);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    (void)s;
    (void)len;
    return not_string(ctx);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    loader *ld = ctx;
    entry *e;

    if (ld->depth != 1 || !ld->have_key)
        return not_string(ld);
    e = &ld->e[ld->n - 1];
    e->val.off = ld->arena.len;
    e->val_len = len;
    if (gw_buf_append(&ld->arena, s, len) != 0)
        return fail(ld, GW_INDEX_E_NOMEM, "out of memory");
    ld->have_key = 0;
    return 1;
}

static int cb_start_map(void *ctx)
{
    loader *ld = ctx;

    if (ld->depth != 0)
        return not_string(ld);
    ld->depth++;
    return 1;
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
    loader *ld = ctx;
    entry *e;

    if (ld->n == ld->cap) {
        size_t ncap = ld->cap == 0 ? 16 : ld->cap * 2;

        if (ld->n >= GW_INDEX_ENTRIES_MAX)
            return fail(ld, GW_INDEX_E_TOO_BIG, "too many entries");
        e = realloc(ld->e, ncap * sizeof *e);
        if (e == NULL)
            return fail(ld, GW_INDEX_E_NOMEM, "out of memory");
        ld->e = e;
        ld->cap = ncap;
    }
    e = &ld->e[ld->n++];
    e->key.off = ld->arena.len;
    e->key_len = len;
    e->val.off = 0;
    e->val_len = 0;
    e->where = token_start(ld);
    if (gw_buf_append(&ld->arena, s, len) != 0)
        return fail(ld, GW_INDEX_E_NOMEM, "out of memory");
    ld->have_key = 1;
    return 1;
}

static int cb_end_map(void *ctx)
{
    loader *ld = ctx;

    if (--ld->depth == 0)
        ld->end = yajl_get_bytes_consumed(ld->yh);
    return 1;
}

static int cb_start_array(void *ctx)
{
    return not_string(ctx);
}

static const yajl_callbacks callbacks = {
    cb_null, cb_boolean, NULL, NULL, cb_number, cb_string,
    cb_start_map, cb_map_key, cb_end_map, cb_start_array, NULL
};

static int cmp_key(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int r = n == 0 ? 0 : memcmp(a, b, n);

    if (r != 0)
        return r;
    return alen < blen ? -1 : alen > blen;
}

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a;
    const entry *y = b;
    int r = cmp_key(x->key.ptr, x->key_len, y->key.ptr, y->key_len);

    if (r != 0)
        return r;
    /* Equal keys: order by position so the report names the later one. */
    return x->where < y->where ? -1 : x->where > y->where;
}

/* Copy a message for the log: printable ASCII only. */
static void printable(char *dst, size_t cap, const unsigned char *s)
{
    size_t i = 0;

    for (; *s != '\0' && i + 1 < cap; s++) {
        if (*s == '\n')
            continue;
        dst[i++] = (*s >= 0x20 && *s < 0x7f) ? (char)*s : '?';
    }
    dst[i] = '\0';
}

static gw_index_status finish(loader *ld, gw_index **out,
                              gw_index_error *err)
{
    gw_index *idx;
    const char *base;
    size_t i;

    idx = malloc(sizeof *idx);
    if (idx == NULL) {
        set_err(err, GW_INDEX_E_NOMEM, 0, "out of memory");
        return GW_INDEX_E_NOMEM;
    }
    idx->arena = ld->arena.data;
    idx->prep = NULL;
    idx->e = ld->e;
    idx->n = ld->n;
    /* Only empty strings were seen when nothing was allocated. */
    base = idx->arena == NULL ? "" : (const char *)idx->arena;
    for (i = 0; i < idx->n; i++) {
        idx->e[i].key.ptr = base + idx->e[i].key.off;
        idx->e[i].val.ptr = base + idx->e[i].val.off;
        idx->e[i].prep_len = 0;
    }
    if (idx->n > 1)
        qsort(idx->e, idx->n, sizeof *idx->e, cmp_entry);
    for (i = 1; i < idx->n; i++) {
        const entry *a = &idx->e[i - 1];
        const entry *b = &idx->e[i];

        if (cmp_key(a->key.ptr, a->key_len, b->key.ptr, b->key_len) == 0) {
            set_err(err, GW_INDEX_E_DUPLICATE, b->where,
                    "a query appears twice (first at offset %zu)", a->where);
            free(idx);
            return GW_INDEX_E_DUPLICATE;
        }
    }
    ld->arena.data = NULL;
    ld->e = NULL;
    *out = idx;
    return GW_INDEX_OK;
}

gw_index_status gw_index_load_mem(const void *buf, size_t len,
                                  gw_index **out, gw_index_error *err)
{
    loader ld;
    yajl_status ys;
    gw_index_status st;
    size_t bad;
    int finishing = 0;

    *out = NULL;
    if (err != NULL) {
        err->code = GW_INDEX_OK;
        err->offset = 0;
        err->detail[0] = '\0';
    }
    if (len > GW_INDEX_FILE_MAX) {
        set_err(err, GW_INDEX_E_TOO_BIG, 0, "larger than %zu bytes",
                GW_INDEX_FILE_MAX);
        return GW_INDEX_E_TOO_BIG;
    }
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        set_err(err, GW_INDEX_E_JSON, 0, "a byte order mark is not "
                "allowed before the JSON text");
        return GW_INDEX_E_JSON;
    }
    bad = gw_json_bad_byte(buf, len);
    if (bad < len) {
        set_err(err, GW_INDEX_E_JSON, bad,
                "invalid UTF-8 or control character");
        return GW_INDEX_E_JSON;
    }
    /* yajl would turn a lone surrogate escape into '?' without a word. */
    bad = hf_json_lone_surrogate(buf, len);
    if (bad < len) {
        set_err(err, GW_INDEX_E_JSON, bad,
                "\\u escape is a lone surrogate");
        return GW_INDEX_E_JSON;
    }
    memset(&ld, 0, sizeof ld);
    gw_buf_init(&ld.arena);
    ld.st = GW_INDEX_OK;
    ld.text = (const unsigned char *)buf;
    ld.yh = yajl_alloc(&callbacks, NULL, &ld);
    if (ld.yh == NULL) {
        set_err(err, GW_INDEX_E_NOMEM, 0, "out of memory");
        return GW_INDEX_E_NOMEM;
    }
    ys = yajl_parse(ld.yh, buf, len);
    if (ys == yajl_status_ok) {
        /* yajl_complete_parse reads a buffer of its own: its offsets no
         * longer count in buf, whose every byte has been read by then. */
        finishing = 1;
        ys = yajl_complete_parse(ld.yh);
    }
    if (ys == yajl_status_client_canceled) {
        st = ld.st;
        set_err(err, st, finishing ? len : ld.st_offset, "%s",
                ld.st_detail);
    } else if (ys != yajl_status_ok) {
        unsigned char *msg = yajl_get_error(ld.yh, 0, buf, len);

        st = GW_INDEX_E_JSON;
        set_err(err, st, finishing ? len : yajl_get_bytes_consumed(ld.yh),
                "invalid JSON");
        if (msg != NULL && err != NULL)
            printable(err->detail, sizeof err->detail, msg);
        if (msg != NULL)
            yajl_free_error(ld.yh, msg);
    } else if (ld.end > len ||
               !gw_json_only_space((const unsigned char *)buf + ld.end,
                                   len - ld.end)) {
        /* yajl takes an unfinished token after the object. */
        st = GW_INDEX_E_JSON;
        set_err(err, st, ld.end, "trailing data after the object");
    } else {
        st = finish(&ld, out, err);
    }
    /* yajl may count a byte past the end of a short input. */
    if (err != NULL && err->offset > len)
        err->offset = len;
    yajl_free(ld.yh);
    gw_buf_free(&ld.arena);
    free(ld.e);
    return st;
}

/* What a file that is not a regular one is, for the error message. */
static const char *file_kind(mode_t m)
{
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a file";
}

/* Open path for reading if it is a regular file: checked before it is
 * opened (a FIFO would block an open for reading until a writer came)
 * and again on what was opened, non-blocking, in case it was replaced
 * in between. The descriptor, or -1 with *err set. */
static int open_regular(const char *path, gw_index_error *err)
{
    struct stat st;
    int fd;

    if (stat(path, &st) != 0) {
        set_err(err, GW_INDEX_E_IO, 0, "%s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, GW_INDEX_E_IO, 0, "not a regular file (%s)",
                file_kind(st.st_mode));
        return -1;
    }
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, GW_INDEX_E_IO, 0, "%s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        set_err(err, GW_INDEX_E_IO, 0, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, GW_INDEX_E_IO, 0, "not a regular file (%s)",
                file_kind(st.st_mode));
        close(fd);
        return -1;
    }
    return fd;
}

/* Read all of fd into b, at most GW_INDEX_FILE_MAX bytes. */
static gw_index_status read_all(int fd, gw_buf *b, gw_index_error *err)
{
    unsigned char *p;
    ssize_t n;

    for (;;) {
        p = gw_buf_reserve(b, 65536);
        if (p == NULL) {
            set_err(err, GW_INDEX_E_NOMEM, 0, "out of memory");
            return GW_INDEX_E_NOMEM;
        }
        n = read(fd, p, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_err(err, GW_INDEX_E_IO, gw_buf_pending(b), "read: %s",
                    strerror(errno));
            return GW_INDEX_E_IO;
        }
        if (n == 0)
            return GW_INDEX_OK;
        gw_buf_commit(b, (size_t)n);
        if (gw_buf_pending(b) > GW_INDEX_FILE_MAX) {
            set_err(err, GW_INDEX_E_TOO_BIG, GW_INDEX_FILE_MAX,
                    "larger than %zu bytes", GW_INDEX_FILE_MAX);
            return GW_INDEX_E_TOO_BIG;
        }
    }
}

gw_index_status gw_index_load_file(const char *path, gw_index **out,
                                   gw_index_error *err)
{
    gw_buf b;
    gw_index_status st;
    int fd;

    *out = NULL;
    fd = open_regular(path, err);
    if (fd < 0)
        return GW_INDEX_E_IO;
    gw_buf_init(&b);
    st = read_all(fd, &b, err);
    close(fd);
    if (st == GW_INDEX_OK)
        st = gw_index_load_mem(gw_buf_peek(&b), gw_buf_pending(&b), out,
                               err);
    gw_buf_free(&b);
    return st;
}

gw_index *gw_index_builtin(void)
{
    gw_index *idx = NULL;

    if (gw_index_load_mem(builtin_json, sizeof builtin_json - 1, &idx,
                          NULL) != GW_INDEX_OK)
        return NULL;
    return idx;
}

static const entry *find(const gw_index *idx, const void *key,
                         size_t key_len)
{
    size_t lo = 0;
    size_t hi = idx->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const entry *e = &idx->e[mid];
        int r = cmp_key(key, key_len, e->key.ptr, e->key_len);

        if (r == 0)
            return e;
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *gw_index_lookup(const gw_index *idx, const void *key,
                            size_t key_len, size_t *value_len)
{
    const entry *e = find(idx, key, key_len);

    *value_len = e != NULL ? e->val_len : 0;
    return e != NULL ? e->val.ptr : NULL;
}

int gw_index_prepare(gw_index *idx,
                     int (*make)(void *ctx, const char *value, size_t len,
                                 gw_buf *out),
                     void *ctx)
{
    gw_buf b;
    size_t i, before;

    gw_buf_init(&b);
    for (i = 0; i < idx->n; i++)
        idx->e[i].prep_len = 0;
    for (i = 0; i < idx->n; i++) {
        entry *e = &idx->e[i];

        before = gw_buf_pending(&b);
        if (make(ctx, e->val.ptr, e->val_len, &b) != 0) {
            if (gw_buf_pending(&b) == before)
                continue;   /* this entry is answered when asked */
            goto nomem;     /* make ran out of memory halfway */
        }
        if (gw_buf_pending(&b) > GW_INDEX_PREPARED_MAX) {
            gw_buf_cut(&b, before);     /* this one and the rest: asked */
            break;
        }
        e->prep_off = before;
        e->prep_len = gw_buf_pending(&b) - before;
    }
    free(idx->prep);
    idx->prep = b.data;
    return 0;
nomem:
    for (i = 0; i < idx->n; i++)
        idx->e[i].prep_len = 0;
    gw_buf_free(&b);
    return -1;
}

const unsigned char *gw_index_lookup_prepared(const gw_index *idx,
                                              const void *key,
                                              size_t key_len, size_t *len)
{
    const entry *e = idx->prep != NULL ? find(idx, key, key_len) : NULL;

    if (e == NULL || e->prep_len == 0) {
        *len = 0;
        return NULL;
    }
    *len = e->prep_len;
    return idx->prep + e->prep_off;
}

size_t gw_index_count(const gw_index *idx)
{
    return idx->n;
}

void gw_index_free(gw_index *idx)
{
    if (idx == NULL)
        return;
    free(idx->e);
    free(idx->arena);
    free(idx->prep);
    free(idx);
}
