/*
 * bench_codec.c - in-process microbenchmarks of libhframe (one core).
 *
 *   bench_codec [-t SECONDS] [--json]
 *
 * Each case runs for about SECONDS (default 0.5) three times and keeps
 * the best round, since a shared machine only ever makes a round slower.
 * Cases:
 *   decode-search      hf_decode of the tutorial's search request frame
 *   stream-search      the same frame, 1 MiB of copies pushed at once
 *   stream-4k          the same stream fed in 4 KiB chunks
 *   stream-1b          the same stream fed 1 byte at a time
 *   encode-search      hf_encode of the search request
 *   stream-1m          a stream of 1 MiB binary frames (64 KiB chunks),
 *                      with memcpy of the same bytes as its reference
 *   stream-1m-4k       the 1 MiB frames fed in 4 KiB chunks
 * Exit status 0, or 1 when a decode fails (the numbers would be wrong).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hframe.h"

#define NS_PER_S 1000000000.0
/* Rounds per case; the best is kept. */
#define ROUNDS 3
/* Bytes of search frames in the streaming cases. */
#define SMALL_STREAM (1024 * 1024)
/* Binary frame content and how many of them form the large stream. */
#define BIG_CONTENT (1024 * 1024)
#define BIG_FRAMES 32

static const char search_frame[] =
    "\x00\x64{\"byteorder\": \"big\", \"content-type\": \"text/json\", "
    "\"content-encoding\": \"utf-8\", \"content-length\": 41}"
    "{\"action\": \"search\", \"value\": \"morpheus\"}";

static volatile uint64_t sink;

typedef struct result {
    const char *name;
    const char *unit;       /* what ops counts */
    double ops_per_s;
    double bytes_per_s;
    double ref_bytes_per_s; /* memcpy of the same bytes, 0: none */
} result;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / NS_PER_S;
}

/* Push the whole buffer in chunks of `chunk` bytes; returns frames seen,
 * or UINT64_MAX on a decoding error. */
static uint64_t push_all(hf_decoder *d, const unsigned char *buf,
                         size_t len, size_t chunk)
{
    uint64_t frames = 0, sum = 0;
    size_t off = 0, end, used;
    hf_event ev;

    while (off < len) {
        end = len - off < chunk ? len : off + chunk;
        for (;;) {
            used = hf_decoder_push(d, buf + off, end - off, &ev);
            off += used;
            if (ev.type == HF_EV_NEED_MORE)
                break;
            if (ev.type == HF_EV_ERROR)
                return UINT64_MAX;
            if (ev.type == HF_EV_CONTENT)
                sum += ev.len;
            else if (ev.type == HF_EV_FRAME_END)
                frames++;
        }
    }
    /* The last frame's end may still be pending. */
    for (;;) {
        hf_decoder_push(d, NULL, 0, &ev);
        if (ev.type != HF_EV_FRAME_END)
            break;
        frames++;
    }
    sink += sum;
    return frames;
}

/* Run fn repeatedly for `seconds`, ROUNDS times; best ops/s. */
typedef uint64_t (*case_fn)(void *ctx);

static double measure(case_fn fn, void *ctx, double seconds, int *failed)
{
    double best = 0.0, t0, t;
    uint64_t ops, r;
    int round;

    for (round = 0; round < ROUNDS; round++) {
        ops = 0;
        t0 = now_s();
        do {
            r = fn(ctx);
            if (r == UINT64_MAX) {
                *failed = 1;
                return 0.0;
            }
            ops += r;
            t = now_s();
        } while (t - t0 < seconds);
        if ((double)ops / (t - t0) > best)
            best = (double)ops / (t - t0);
    }
    return best;
}

typedef struct stream_ctx {
    hf_decoder dec;
    const unsigned char *buf;
    size_t len;
    size_t chunk;
    unsigned char *dst;     /* memcpy target */
} stream_ctx;

static uint64_t case_decode_one(void *p)
{
    stream_ctx *c = p;
    hf_frame f;
    uint64_t n;

    for (n = 0; n < 1000; n++) {
        if (hf_decode(&c->dec, c->buf, c->len, &f) != HF_OK)
            return UINT64_MAX;
        sink += f.content_len;
    }
    return n;
}

static uint64_t case_stream(void *p)
{
    stream_ctx *c = p;

    hf_decoder_reset(&c->dec);
    return push_all(&c->dec, c->buf, c->len, c->chunk);
}

/* Counts bytes, so its rate compares with case_stream_bytes. */
static uint64_t case_memcpy(void *p)
{
    stream_ctx *c = p;

    memcpy(c->dst, c->buf, c->len);
    sink += c->dst[c->len - 1];
    return c->len;
}

static uint64_t case_stream_bytes(void *p)
{
    stream_ctx *c = p;

    hf_decoder_reset(&c->dec);
    if (push_all(&c->dec, c->buf, c->len, c->chunk) == UINT64_MAX)
        return UINT64_MAX;
    return c->len;
}

typedef struct encode_ctx {
    hf_header h;
    const char *content;
    size_t content_len;
    unsigned char out[512];
} encode_ctx;

static uint64_t case_encode(void *p)
{
    encode_ctx *c = p;
    size_t n = 0;
    uint64_t i;

    for (i = 0; i < 1000; i++) {
        if (hf_encode(&c->h, c->content, c->content_len, c->out,
                      sizeof c->out, &n) != HF_OK)
            return UINT64_MAX;
        sink += n;
    }
    return i;
}

/* Copies of `frame` back to back filling about `target` bytes. */
static unsigned char *repeat(const void *frame, size_t flen, size_t target,
                             size_t *len)
{
    size_t n = target / flen, i;
    unsigned char *buf;

    if (n == 0)
        n = 1;
    buf = malloc(n * flen);
    if (buf == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        memcpy(buf + i * flen, frame, flen);
    *len = n * flen;
    return buf;
}

static void print_results(const result *r, size_t n, int json)
{
    size_t i;

    if (json) {
        fputs("{\"codec\": [", stdout);
        for (i = 0; i < n; i++) {
            printf("%s{\"name\": \"%s\", \"unit\": \"%s\", "
                   "\"per_s\": %.1f, \"bytes_per_s\": %.1f",
                   i > 0 ? ", " : "", r[i].name, r[i].unit, r[i].ops_per_s,
                   r[i].bytes_per_s);
            if (r[i].ref_bytes_per_s > 0)
                printf(", \"memcpy_bytes_per_s\": %.1f, \"ratio\": %.3f",
                       r[i].ref_bytes_per_s,
                       r[i].bytes_per_s / r[i].ref_bytes_per_s);
            fputs("}", stdout);
        }
        fputs("]}\n", stdout);
        return;
    }
    printf("%-16s %16s %12s  %s\n", "codec case", "rate", "MB/s",
           "vs memcpy");
    for (i = 0; i < n; i++) {
        printf("%-16s %11.0f %-5s %11.1f", r[i].name, r[i].ops_per_s,
               r[i].unit, r[i].bytes_per_s / 1e6);
        if (r[i].ref_bytes_per_s > 0)
            printf("  %.2f (memcpy %.0f MB/s)",
                   r[i].bytes_per_s / r[i].ref_bytes_per_s,
                   r[i].ref_bytes_per_s / 1e6);
        putchar('\n');
    }
}

int main(int argc, char **argv)
{
    static const char req[] = "{\"action\": \"search\", \"value\": "
                              "\"morpheus\"}";
    const size_t flen = sizeof search_frame - 1;
    result res[8];
    size_t nres = 0, small_len = 0, big_len, i;
    unsigned char *small = NULL, *big = NULL, *dst = NULL, *frame1m;
    stream_ctx sc;
    encode_ctx *ec;
    hf_header h;
    double seconds = 0.5, per_frame;
    int json = 0, failed = 0;
    char *end;

    for (i = 1; i < (size_t)argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "-t") == 0 && i + 1 < (size_t)argc) {
            seconds = strtod(argv[++i], &end);
            if (*end != '\0' || !(seconds > 0.0 && seconds <= 60.0)) {
                fputs("bench_codec: -t takes 0 < SECONDS <= 60\n", stderr);
                return 2;
            }
        } else {
            fputs("usage: bench_codec [-t SECONDS] [--json]\n", stderr);
            return 2;
        }
    }

    memset(&sc, 0, sizeof sc);
    ec = calloc(1, sizeof *ec);
    if (ec == NULL || hf_decoder_init(&sc.dec, NULL) != HF_OK)
        return 1;

    /* Small frames. */
    sc.buf = (const unsigned char *)search_frame;
    sc.len = flen;
    res[nres].name = "decode-search";
    res[nres].unit = "fr/s";
    res[nres].ops_per_s = measure(case_decode_one, &sc, seconds, &failed);
    res[nres].bytes_per_s = res[nres].ops_per_s * (double)flen;
    res[nres++].ref_bytes_per_s = 0;

    small = repeat(search_frame, flen, SMALL_STREAM, &small_len);
    if (small == NULL)
        return 1;
    sc.buf = small;
    sc.len = small_len;
    {
        static const struct { const char *name; size_t chunk; } sm[] = {
            { "stream-search", SMALL_STREAM }, { "stream-4k", 4096 },
            { "stream-1b", 1 },
        };
        for (i = 0; i < sizeof sm / sizeof sm[0]; i++) {
            sc.chunk = sm[i].chunk;
            res[nres].name = sm[i].name;
            res[nres].unit = "fr/s";
            res[nres].ops_per_s = measure(case_stream, &sc, seconds,
                                          &failed);
            res[nres].bytes_per_s = res[nres].ops_per_s * (double)flen;
            res[nres++].ref_bytes_per_s = 0;
        }
    }

    hf_header_init(&ec->h, "text/json", "utf-8");
    ec->content = req;
    ec->content_len = sizeof req - 1;
    res[nres].name = "encode-search";
    res[nres].unit = "fr/s";
    res[nres].ops_per_s = measure(case_encode, ec, seconds, &failed);
    res[nres].bytes_per_s = res[nres].ops_per_s * (double)flen;
    res[nres++].ref_bytes_per_s = 0;

    /* Large frames: BIG_FRAMES frames of 1 MiB content back to back. */
    frame1m = malloc(BIG_CONTENT + 256);
    dst = malloc(BIG_CONTENT);
    if (frame1m == NULL || dst == NULL)
        return 1;
    memset(dst, 'x', BIG_CONTENT);
    hf_header_init(&h, "binary/custom-client-binary-type", "binary");
    if (hf_encode(&h, dst, BIG_CONTENT, frame1m, BIG_CONTENT + 256,
                  &big_len) != HF_OK) {
        fputs("bench_codec: cannot encode the 1 MiB frame\n", stderr);
        return 1;
    }
    free(dst);
    big = repeat(frame1m, big_len, big_len * BIG_FRAMES, &big_len);
    dst = malloc(big_len);
    free(frame1m);
    if (big == NULL || dst == NULL)
        return 1;
    memset(dst, 0, big_len);
    sc.buf = big;
    sc.len = big_len;
    sc.dst = dst;
    per_frame = (double)big_len / BIG_FRAMES;
    {
        static const struct { const char *name; size_t chunk; } bg[] = {
            { "stream-1m", 65536 }, { "stream-1m-4k", 4096 },
        };
        double ref = measure(case_memcpy, &sc, seconds, &failed);

        for (i = 0; i < sizeof bg / sizeof bg[0]; i++) {
            sc.chunk = bg[i].chunk;
            res[nres].name = bg[i].name;
            res[nres].unit = "fr/s";
            res[nres].bytes_per_s = measure(case_stream_bytes, &sc, seconds,
                                            &failed);
            res[nres].ops_per_s = res[nres].bytes_per_s / per_frame;
            res[nres++].ref_bytes_per_s = ref;
        }
    }

    if (failed) {
        fputs("bench_codec: a decode failed; no results\n", stderr);
        return 1;
    }
    print_results(res, nres, json);
    hf_decoder_free(&sc.dec);
    free(small);
    free(big);
    free(dst);
    free(ec);
    return fflush(stdout) == 0 ? 0 : 1;
}
