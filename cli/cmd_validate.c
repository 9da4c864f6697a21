/* cmd_validate.c - `hframe validate`: check streams of frames (files or
 * stdin), report each one's first problem with its offset, or summarise
 * what was seen. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "stream.h"

const char cli_validate_usage[] =
    "usage: hframe validate [-q] [-o file] [--max-content size] "
    "[--max-header size]\n"
    "                       [file ...]\n";

static const char validate_help[] =
    "Check that each FILE (none or -: standard input) holds zero or more\n"
    "valid frames and nothing else; the first problem of each is reported\n"
    "with its offset. On success, one summary line over all files.\n"
    "\n"
    "  -q, --quiet            print nothing on success\n";

/* Distinct content types named in the summary; the rest are counted
 * together so a hostile stream cannot grow the table. */
#define TYPES_MAX 8

/* Progress appears once the run has lasted this long (so only for
 * large or slow inputs), then at most this often. */
#define PROGRESS_AFTER_NS 1000000000LL

typedef struct vtype {
    char *name;         /* NUL-terminated copy */
    size_t len;
    uint64_t count;
} vtype;

typedef struct val {
    int quiet;
    int progress;       /* stderr is a terminal */
    long long start_ns;
    long long last_ns;
    vtype types[TYPES_MAX];
    size_t n_types;
    uint64_t other;     /* frames of types beyond the table */
} val;

static long long now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int on_header(cli_stream *s, const hf_header *h)
{
    val *v = s->ctx;
    size_t i;

    for (i = 0; i < v->n_types; i++) {
        if (v->types[i].len == h->content_type.len &&
            memcmp(v->types[i].name, h->content_type.ptr, v->types[i].len)
                == 0) {
            v->types[i].count++;
            return CLI_EXIT_OK;
        }
    }
    if (v->n_types == TYPES_MAX) {
        v->other++;
        return CLI_EXIT_OK;
    }
    v->types[i].name = malloc(h->content_type.len + 1);
    if (v->types[i].name == NULL) {
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
    memcpy(v->types[i].name, h->content_type.ptr, h->content_type.len);
    v->types[i].name[h->content_type.len] = '\0';
    v->types[i].len = h->content_type.len;
    v->types[i].count = 1;
    v->n_types++;
    return CLI_EXIT_OK;
}

static int on_chunk_done(cli_stream *s)
{
    val *v = s->ctx;
    long long t;
    double secs, mib;

    if (!v->progress)
        return CLI_EXIT_OK;
    t = now_ns();
    if (t - v->start_ns < PROGRESS_AFTER_NS ||
        t - v->last_ns < PROGRESS_AFTER_NS)
        return CLI_EXIT_OK;
    v->last_ns = t;
    secs = (double)(t - v->start_ns) / 1e9;
    mib = (double)(s->total_bytes + s->pos) / (1024.0 * 1024.0);
    cli_progress("validate: %.1f MiB, %" PRIu64 " frames, %.1f MiB/s",
                 mib, s->total_frames + s->frames, mib / secs);
    return CLI_EXIT_OK;
}

static int summary(const cli_stream *s, const val *v)
{
    cli_buf b;
    char num[96];
    size_t i;
    int rc = 0;

    cli_buf_init(&b, SIZE_MAX / 2);
    snprintf(num, sizeof(num), "ok: %" PRIu64 " frame%s, %" PRIu64
             " bytes", s->total_frames, s->total_frames == 1 ? "" : "s",
             s->total_bytes);
    rc |= cli_buf_append(&b, num, strlen(num));
    for (i = 0; i < v->n_types; i++) {
        rc |= cli_buf_append(&b, i == 0 ? ", content types: " : ", ",
                             i == 0 ? 17 : 2);
        rc |= cli_json_string(&b, v->types[i].name, v->types[i].len);
        snprintf(num, sizeof(num), " (%" PRIu64 ")", v->types[i].count);
        rc |= cli_buf_append(&b, num, strlen(num));
    }
    if (v->other > 0) {
        snprintf(num, sizeof(num), ", other types (%" PRIu64 ")",
                 v->other);
        rc |= cli_buf_append(&b, num, strlen(num));
    }
    rc |= cli_buf_append(&b, "\n", 1);
    if (rc != 0) {
        cli_buf_free(&b);
        cli_err("out of memory");
        return CLI_EXIT_FAIL;
    }
    rc = cli_out_write(b.p, b.len);
    cli_buf_free(&b);
    return rc == 0 ? CLI_EXIT_OK : cli_out_stop();
}

/* Returns -1 to go on, else the exit status. */
static int parse_opts(val *v, cli_common *co, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "quiet", no_argument, NULL, 'q' },
        CLI_COMMON_LONGOPTS
    };
    int c;

    while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "q", longopts,
                            NULL)) != -1) {
        switch (c) {
        case 'q':
            v->quiet = 1;
            break;
        default:
            if (cli_common_option(co, c, argv) != 0)
                return CLI_EXIT_USAGE;
            if (co->help_shown)
                return CLI_EXIT_OK;
            break;
        }
    }
    return -1;
}

int hf_cmd_validate(int argc, char **argv)
{
    cli_stream s;
    cli_common co;
    val v;
    size_t i;
    int rc;

    memset(&v, 0, sizeof(v));
    cli_common_init(&co, cli_validate_usage, validate_help);
    rc = parse_opts(&v, &co, argc, argv);
    if (rc >= 0)
        return rc;
    cli_set_inputs(&co, argv + optind, argc - optind);
    rc = cli_stream_start(&s, &co);
    if (rc != CLI_EXIT_OK)
        return rc;
    v.progress = !v.quiet && isatty(STDERR_FILENO);
    v.start_ns = now_ns();
    s.on_header = on_header;
    s.on_chunk_done = on_chunk_done;
    s.ctx = &v;
    rc = cli_stream_files(&s, argv + optind, argc - optind, 1);
    cli_progress_end();
    if (rc == CLI_EXIT_OK && !v.quiet)
        rc = summary(&s, &v);
    cli_stream_free(&s);
    for (i = 0; i < v.n_types; i++)
        free(v.types[i].name);
    return rc == CLI_STOPPED ? CLI_EXIT_OK : rc;
}
