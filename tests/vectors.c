/*
 * vectors.c - read the files of tests/vectors/ for the C suites (vectors.h).
 */
#include "vectors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef HF_VECTORS_DIR
#define HF_VECTORS_DIR "tests/vectors"
#endif

/* A vector file is a few dozen KiB; the cap only stops a wrong path
 * (a device, a huge file) from being read whole. */
#define VEC_FILE_MAX (4u << 20)
/* The bytes one member may expand to (repeats included). */
#define VEC_BYTES_MAX (16u << 20)

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL)
        die("%s: %s (set HF_VECTORS to the vectors directory)", path,
            strerror(errno));
    buf = malloc(VEC_FILE_MAX + 1);
    if (buf == NULL)
        die("%s: out of memory", path);
    n = fread(buf, 1, VEC_FILE_MAX + 1, f);
    if (ferror(f) || n > VEC_FILE_MAX)
        die("%s: unreadable or larger than %u bytes", path, VEC_FILE_MAX);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

void vec_load(vec_set *s, const char *name)
{
    const char *dir = getenv("HF_VECTORS");
    char err[256];
    char *text, *line, *end;
    size_t len, lineno = 0, cap = 0;
    int n;

    memset(s, 0, sizeof *s);
    if (dir == NULL || dir[0] == '\0')
        dir = HF_VECTORS_DIR;
    n = snprintf(NULL, 0, "%s/%s.jsonl", dir, name);
    s->path = malloc((size_t)n + 1);
    if (s->path == NULL)
        die("out of memory");
    snprintf(s->path, (size_t)n + 1, "%s/%s.jsonl", dir, name);
    text = read_all(s->path, &len);
    for (line = text; line < text + len; line = end + 1) {
        end = memchr(line, '\n', (size_t)(text + len - line));
        if (end == NULL)
            end = text + len;
        *end = '\0';
        lineno++;
        if (line[strspn(line, " \t\r")] == '\0')
            continue;
        if (s->n == cap) {
            cap = cap == 0 ? 64 : 2 * cap;
            s->v = realloc(s->v, cap * sizeof *s->v);
            s->line = realloc(s->line, cap * sizeof *s->line);
            if (s->v == NULL || s->line == NULL)
                die("%s: out of memory", s->path);
        }
        s->v[s->n] = yajl_tree_parse(line, err, sizeof err);
        if (s->v[s->n] == NULL || !YAJL_IS_OBJECT(s->v[s->n]))
            die("%s:%zu: not a JSON object: %s", s->path, lineno,
                s->v[s->n] == NULL ? err : "another value");
        s->line[s->n++] = lineno;
    }
    free(text);
    if (s->n == 0)
        die("%s: no vectors", s->path);
}

void vec_free(vec_set *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        yajl_tree_free(s->v[i]);
    free(s->v);
    free(s->line);
    free(s->path);
    memset(s, 0, sizeof *s);
}

static yajl_val member(const vec_set *s, size_t i, const char *key)
{
    const char *path[2];

    path[0] = key;
    path[1] = NULL;
    return yajl_tree_get(s->v[i], path, yajl_t_any);
}

static void bad(const vec_set *s, size_t i, const char *key,
                const char *want)
{
    die("%s:%zu: member \"%s\" must be %s", s->path, s->line[i], key, want);
}

const char *vec_text(const vec_set *s, size_t i, const char *key,
                     int required)
{
    yajl_val m = member(s, i, key);

    if (m == NULL && !required)
        return NULL;
    if (m == NULL || !YAJL_IS_STRING(m))
        bad(s, i, key, "a string");
    return m->u.string;
}

unsigned long long vec_count(const vec_set *s, size_t i, const char *key,
                             unsigned long long dflt)
{
    yajl_val m = member(s, i, key);

    if (m == NULL)
        return dflt;
    if (!YAJL_IS_INTEGER(m) || YAJL_GET_INTEGER(m) < 0)
        bad(s, i, key, "a non-negative integer");
    return (unsigned long long)YAJL_GET_INTEGER(m);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Append part p to out (NULL: count only); the bytes it adds, or -1 when
 * it is not a part. */
static long long put_part(yajl_val p, unsigned char *out)
{
    const char *path[2] = {NULL, NULL};
    yajl_val h, r, c;
    size_t n, k;
    long long count, j;

    if (YAJL_IS_STRING(p)) {
        n = strlen(p->u.string);
        if (out != NULL)
            memcpy(out, p->u.string, n);
        return (long long)n;
    }
    if (!YAJL_IS_OBJECT(p) || YAJL_GET_OBJECT(p)->len == 0)
        return -1;
    path[0] = "hex";
    h = yajl_tree_get(p, path, yajl_t_string);
    if (h != NULL && YAJL_GET_OBJECT(p)->len == 1) {
        n = strlen(h->u.string);
        if (n % 2 != 0)
            return -1;
        for (k = 0; k < n; k += 2) {
            int hi = hex_digit(h->u.string[k]);
            int lo = hex_digit(h->u.string[k + 1]);

            if (hi < 0 || lo < 0)
                return -1;
            if (out != NULL)
                out[k / 2] = (unsigned char)(hi << 4 | lo);
        }
        return (long long)(n / 2);
    }
    path[0] = "repeat";
    r = yajl_tree_get(p, path, yajl_t_string);
    path[0] = "count";
    c = yajl_tree_get(p, path, yajl_t_number);
    if (r == NULL || c == NULL || YAJL_GET_OBJECT(p)->len != 2 ||
        !YAJL_IS_INTEGER(c) || YAJL_GET_INTEGER(c) < 0)
        return -1;
    n = strlen(r->u.string);
    count = YAJL_GET_INTEGER(c);
    if (n > 0 && (unsigned long long)count > VEC_BYTES_MAX / n)
        return -1;
    for (j = 0; out != NULL && j < count; j++)
        memcpy(out + (size_t)j * n, r->u.string, n);
    return (long long)n * count;
}

unsigned char *vec_bytes(const vec_set *s, size_t i, const char *key,
                         size_t *len)
{
    yajl_val m = member(s, i, key);
    unsigned char *out;
    size_t k, parts, total = 0;
    long long n;
    int pass;

    if (m == NULL || !(YAJL_IS_STRING(m) || YAJL_IS_ARRAY(m)))
        bad(s, i, key, "bytes: a string or a list of parts");
    parts = YAJL_IS_ARRAY(m) ? YAJL_GET_ARRAY(m)->len : 1;
    out = NULL;
    /* Pass 0 measures, pass 1 copies. */
    for (pass = 0; pass < 2; pass++) {
        total = 0;
        for (k = 0; k < parts; k++) {
            yajl_val p = YAJL_IS_ARRAY(m) ? YAJL_GET_ARRAY(m)->values[k] : m;

            n = put_part(p, out == NULL ? NULL : out + total);
            if (n < 0 || (unsigned long long)n > VEC_BYTES_MAX - total)
                bad(s, i, key, "bytes: strings, {\"hex\": ...} or "
                    "{\"repeat\": ..., \"count\": N}, 16 MiB at most");
            total += (size_t)n;
        }
        if (pass == 0) {
            out = malloc(total + 1);
            if (out == NULL)
                die("%s: out of memory", s->path);
        }
    }
    out[total] = '\0';
    *len = total;
    return out;
}
