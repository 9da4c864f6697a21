/* stream.c - drive the codec's streaming decoder over a file descriptor
 * for decode and validate: read a chunk, push it until the decoder asks
 * for more, hand each event to the subcommand, and at the end turn a
 * truncated frame into a precise sentence. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "stream.h"

/* Remember the length prefix of each frame, so that a truncation can
 * say how long the header was meant to be, and its raw header, whose
 * key order the decoded header does not keep. Bytes consumed before the
 * header event are prefix and header bytes only. */
static void track_bytes(cli_stream *s, const unsigned char *p, size_t n)
{
    uint64_t in_frame = s->pos - s->frame_start;
    size_t i = 0;

    for (; s->pos + i < sizeof(s->head) && i < n; i++)
        s->head[s->pos + i] = p[i];
    if (s->head_len < sizeof(s->head))
        s->head_len = s->pos + i < sizeof(s->head) ? (size_t)(s->pos + i)
                                                   : sizeof(s->head);
    i = 0;
    s->pos += n;
    if (s->have_header)
        return;
    if (in_frame == 0)
        s->hdr_len = 0;
    for (; i < n && in_frame + i < HF_PREFIX_LEN; i++)
        s->prefix[in_frame + i] = p[i];
    if (n - i > HF_HEADER_MAX - s->hdr_len)
        return;     /* the decoder refuses such a header anyway */
    memcpy(s->hdr + s->hdr_len, p + i, n - i);
    s->hdr_len += n - i;
}

static const char *plural(uint64_t n)
{
    return n == 1 ? "" : "s";
}

/* After an error in the first frame: say so when the input is text. */
static void hint_text(const cli_stream *s)
{
    char start[CLI_SNIFF_MAX];

    if (s->frames == 0 &&
        cli_sniff(s->head, s->head_len, start, sizeof(start)) == CLI_SNIFF_TEXT)
        cli_err("%sinput is text, not frames (it starts with %s); "
                "'hframe encode' makes frames", cli_input_prefix(), start);
}

static void report_truncated(const cli_stream *s)
{
    uint64_t in_frame = s->pos - s->frame_start;

    if (s->have_header) {
        cli_err("%soffset %" PRIu64 ": truncated: stream ended %" PRIu64
                " byte%s into a %" PRIu64 "-byte content", cli_input_prefix(),
                s->pos,
                s->content_got, plural(s->content_got), s->content_len);
    } else if (in_frame < HF_PREFIX_LEN) {
        cli_err("%soffset %" PRIu64 ": truncated: stream ended %" PRIu64
                " byte into the 2-byte length prefix", cli_input_prefix(),
                s->pos, in_frame);
    } else {
        unsigned n = (unsigned)s->prefix[0] << 8 | s->prefix[1];
        uint64_t got = in_frame - HF_PREFIX_LEN;

        cli_err("%soffset %" PRIu64 ": truncated: stream ended %" PRIu64
                " byte%s into a %u-byte header", cli_input_prefix(), s->pos,
                got, plural(got), n);
    }
    hint_text(s);
}

/* One decoder event; returns CLI_EXIT_OK to go on. */
static int stream_event(cli_stream *s, const hf_event *ev)
{
    const hf_header *h = hf_decoder_header(&s->dec);

    switch (ev->type) {
    case HF_EV_HEADER:
        s->have_header = 1;
        s->content_got = 0;
        s->content_len = h->content_length;
        return s->on_header == NULL ? CLI_EXIT_OK : s->on_header(s, h);
    case HF_EV_CONTENT:
        s->content_got += ev->len;
        return s->on_content == NULL ? CLI_EXIT_OK
                                     : s->on_content(s, ev->data, ev->len);
    case HF_EV_FRAME_END:
        s->frames++;
        s->have_header = 0;
        s->frame_start = s->pos;
        return s->on_frame_end == NULL ? CLI_EXIT_OK
                                       : s->on_frame_end(s, h);
    case HF_EV_ERROR:
        cli_out_flush();    /* what came before, then the error */
        cli_err_decoder(hf_decoder_error(&s->dec));
        hint_text(s);
        return CLI_EXIT_INVALID;
    default:
        return CLI_EXIT_OK;
    }
}

/* Push one chunk until the decoder has consumed it and has nothing more
 * to say (a frame's end may follow its last content slice). */
static int stream_chunk(cli_stream *s, const unsigned char *p, size_t n)
{
    size_t off = 0;
    hf_event ev;
    int rc;

    for (;;) {
        size_t used = hf_decoder_push(&s->dec, p + off, n - off, &ev);

        if (used > n - off) {
            cli_err("internal error: decoder consumed more than given");
            return CLI_EXIT_FAIL;
        }
        track_bytes(s, p + off, used);
        off += used;
        if (ev.type == HF_EV_NEED_MORE)
            return CLI_EXIT_OK;
        rc = stream_event(s, &ev);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
}

int cli_stream_init(cli_stream *s, const hf_limits *lim)
{
    s->lim = *lim;
    if (hf_decoder_init(&s->dec, lim) != HF_OK) {
        cli_err("invalid limits");
        return -1;
    }
    s->chunk = malloc(CLI_CHUNK);
    s->hdr = malloc(HF_HEADER_MAX);
    if (s->chunk == NULL || s->hdr == NULL) {
        hf_decoder_free(&s->dec);
        free(s->chunk);
        free(s->hdr);
        cli_err("out of memory");
        return -1;
    }
    return 0;
}

int cli_stream_start(cli_stream *s, const struct cli_common *co)
{
    int rc = cli_open_output(co);

    if (rc != CLI_EXIT_OK)
        return rc;
    memset(s, 0, sizeof(*s));
    return cli_stream_init(s, &co->lim) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

void cli_stream_free(cli_stream *s)
{
    hf_decoder_free(&s->dec);
    free(s->chunk);
    free(s->hdr);
    s->chunk = NULL;
    s->hdr = NULL;
}

int cli_stream_run(cli_stream *s, int fd)
{
    hf_status st;
    long n;
    int rc;

    while ((n = cli_read(fd, s->chunk, CLI_CHUNK)) > 0) {
        rc = stream_chunk(s, s->chunk, (size_t)n);
        if (rc == CLI_EXIT_OK && s->on_chunk_done != NULL)
            rc = s->on_chunk_done(s);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    if (n < 0)
        return CLI_EXIT_FAIL;
    st = hf_decoder_finish(&s->dec);
    if (st == HF_OK)
        return CLI_EXIT_OK;
    cli_out_flush();
    if (st == HF_E_TRUNCATED) {
        report_truncated(s);
    } else {
        cli_err_decoder(hf_decoder_error(&s->dec));
        hint_text(s);
    }
    return CLI_EXIT_INVALID;
}

/* A fresh decoder and counters for the next input; the totals stay. */
static int stream_reset(cli_stream *s)
{
    hf_decoder_free(&s->dec);
    if (hf_decoder_init(&s->dec, &s->lim) != HF_OK) {
        cli_err("invalid limits");
        return -1;
    }
    s->pos = 0;
    s->frame_start = 0;
    s->frames = 0;
    s->hdr_len = 0;
    s->have_header = 0;
    s->head_len = 0;
    return 0;
}

int cli_stream_files(cli_stream *s, char **files, int n, int keep_going)
{
    int i, rc, worst = CLI_EXIT_OK;

    if (n == 0) {
        files = (char **)cli_stdin_operand;
        n = 1;
    }
    for (i = 0; i < n; i++) {
        int fd;

        if (i > 0 && stream_reset(s) != 0)
            return CLI_EXIT_FAIL;
        cli_set_input_name(strcmp(files[i], "-") == 0 ? NULL : files[i]);
        fd = cli_open_input(files[i]);
        rc = fd < 0 ? CLI_EXIT_FAIL : cli_stream_run(s, fd);
        if (fd >= 0)
            cli_close_input(fd);
        s->total_frames += s->frames;
        s->total_bytes += s->pos;
        if (rc == CLI_STOPPED)
            return rc;
        /* The status must not depend on the order of the files: the one
         * that comes first in the exit table wins (an unreadable file,
         * 1, was not checked at all, which is worse than invalid, 3). */
        if (rc != CLI_EXIT_OK && (worst == CLI_EXIT_OK || rc < worst))
            worst = rc;
        if (rc != CLI_EXIT_OK && !keep_going)
            break;
    }
    cli_set_input_name(NULL);
    return worst;
}
