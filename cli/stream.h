/* stream.h - the decoding loop shared by `decode` and `validate`. */
#ifndef HFRAME_CLI_STREAM_H
#define HFRAME_CLI_STREAM_H

#include <stdint.h>

#include "hframe.h"

typedef struct cli_stream cli_stream;

/* Event handlers return CLI_EXIT_OK to go on; anything else stops the
 * stream and becomes cli_stream_run's result. NULL handlers are skipped.
 * The header pointer lives until the next frame's first byte. */
struct cli_stream {
    hf_decoder dec;
    hf_limits lim;
    int (*on_header)(cli_stream *s, const hf_header *h);
    int (*on_content)(cli_stream *s, const unsigned char *p, size_t n);
    int (*on_frame_end)(cli_stream *s, const hf_header *h);
    int (*on_chunk_done)(cli_stream *s);  /* before the next read */
    void *ctx;                            /* the subcommand's state */
    unsigned char *chunk;                 /* CLI_CHUNK read buffer */
    uint64_t pos;                         /* bytes consumed */
    uint64_t frame_start;                 /* pos of the frame's 1st byte */
    uint64_t frames;                      /* frames completed */
    unsigned char prefix[2];              /* current frame's prefix */
    unsigned char *hdr;                   /* its raw header bytes ... */
    size_t hdr_len;                       /* ... as far as they came */
    int have_header;                      /* current frame's header done */
    uint64_t content_len;
    uint64_t content_got;
    unsigned char head[16];               /* the stream's first bytes */
    size_t head_len;
    uint64_t total_frames;                /* over all inputs */
    uint64_t total_bytes;
};

/* Set up s (zero it first and fill the handlers). 0 or -1 (reported). */
int cli_stream_init(cli_stream *s, const hf_limits *lim);

/* What a subcommand that reads frames does once its options are parsed
 * (and its inputs given to cli_set_inputs): open the output co names,
 * zero s and set it up with co's limits. CLI_EXIT_OK (fill the handlers
 * next), or the exit status after an error line. */
struct cli_common;
int cli_stream_start(cli_stream *s, const struct cli_common *co);
void cli_stream_free(cli_stream *s);

/* Decode fd to its end: CLI_EXIT_OK when it held zero or more complete
 * valid frames, CLI_EXIT_INVALID after reporting the first problem
 * (with a hint when the input is text), CLI_EXIT_FAIL after a read
 * error, or a handler's result. Error lines start with
 * cli_input_prefix(). */
int cli_stream_run(cli_stream *s, int fd);

/* Run each of files[0..n) (none: stdin; "-": stdin) as a stream of
 * its own, with a fresh decoder, naming the file in error lines. Stops
 * at the first failure unless keep_going; returns the lowest failure
 * status seen (so 1 before 3, whatever the files' order), CLI_STOPPED
 * at once, or CLI_EXIT_OK. */
int cli_stream_files(cli_stream *s, char **files, int n, int keep_going);

#endif /* HFRAME_CLI_STREAM_H */
