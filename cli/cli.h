/*
 * cli.h - shared pieces of the hframe command: subcommand entry points,
 * strict number parsing, the common limit options, error reporting and
 * binary-safe I/O on stdin/stdout.
 *
 * Every subcommand is called as cmd(argc, argv) with argv[0] the
 * subcommand's name ("encode") and its options after it; getopt's state
 * is fresh (optind == 1). It returns the process exit status:
 * CLI_EXIT_OK, CLI_EXIT_FAIL (data, protocol or network error, one line
 * already on stderr) or CLI_EXIT_USAGE.
 */
#ifndef HFRAME_CLI_H
#define HFRAME_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "hframe.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Internal result, never an exit status: stdout was closed by its
 * reader, so stop quietly and exit with CLI_EXIT_OK. */
#define CLI_STOPPED (-2)

/* Read size for stdin and sockets: large enough that syscalls are not
 * the cost, small enough to live on the stack of any thread. */
#define CLI_CHUNK 65536

/* Long-option values of the options every subcommand takes. */
enum cli_common_opt {
    CLI_OPT_MAX_HEADER = 0x100,
    CLI_OPT_MAX_CONTENT,
    CLI_OPT_FIRST_FREE       /* subcommands number their own from here */
};

int hf_cmd_encode(int argc, char **argv);
int hf_cmd_decode(int argc, char **argv);
int hf_cmd_validate(int argc, char **argv);
int hf_cmd_request(int argc, char **argv);
int hf_cmd_bench(int argc, char **argv);   /* cli/cmd_bench.c */

/* ---------------------------------------------------------------- */
/* Numbers and options                                               */
/* ---------------------------------------------------------------- */

/* Strict decimal: digits only (no sign, space or suffix), value within
 * [min, max]. 0 on success, -1 otherwise (*out untouched). */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Seconds with up to three decimals ("10", "0.5"), within
 * [1 ms, max_ms]; result in milliseconds. 0 on success, -1 otherwise. */
int cli_parse_ms(const char *s, uint64_t max_ms, uint64_t *out);

/* Handle --max-header/--max-content for a subcommand: returns 1 when opt
 * was one of them and the value is valid (lim updated), -1 when it was
 * one of them with an invalid value (message printed), 0 otherwise. */
int cli_limit_option(int opt, const char *arg, hf_limits *lim);

/* For getopt_long's default case (optstring starting with "+:"):
 * handles --max-header/--max-content (0 when valid), and reports bad
 * values, unknown options and missing values with the usage (-1). */
int cli_common_option(const char *usage, int c, char **argv,
                      hf_limits *lim);

/* "hframe: <cmd>: <message>" for usage errors, then the usage text. */
void cli_usage_error(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------- */
/* Errors                                                            */
/* ---------------------------------------------------------------- */

/* One line "hframe: <message>" on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A progress line on stderr (a terminal): "hframe: <text>" replacing
 * the previous one, without a newline. cli_err and cli_progress_end
 * clear it. */
void cli_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_progress_end(void);

/* "hframe: offset N: <code-name>: <detail>" for a decoder error. */
void cli_err_decoder(const hf_error *e);

/* ---------------------------------------------------------------- */
/* I/O                                                               */
/* ---------------------------------------------------------------- */

/* read(2) retried on EINTR: bytes read, 0 at end of input, -1 on error
 * ("hframe: read error: ..." printed). */
long cli_read(int fd, void *buf, size_t cap);

/*
 * Buffered, binary-safe stdout. Writes return 0, or -1 once stdout has
 * failed: a closed pipe (EPIPE) is remembered silently, any other error
 * is reported once. After a failure every write is dropped and returns
 * -1; cli_out_exit() then gives the exit status to use (CLI_EXIT_OK for
 * a closed pipe: the reader went away, which is not our error).
 */
int cli_out_write(const void *p, size_t n);
int cli_out_str(const char *s);
int cli_out_flush(void);
/* Flush and close stdout, so that late errors (NFS, /dev/full) show. */
int cli_out_close(void);
int cli_out_exit(void);
/* After a failed write: CLI_STOPPED for a closed pipe, else
 * CLI_EXIT_FAIL. */
int cli_out_stop(void);

/* Growable byte buffer with a hard cap; the CLI's only dynamic memory. */
typedef struct cli_buf {
    unsigned char *p;
    size_t len;
    size_t cap;
    size_t max;      /* len never exceeds this */
} cli_buf;

void cli_buf_init(cli_buf *b, size_t max);
void cli_buf_free(cli_buf *b);
/* 0, or -1 when len would exceed max or memory ran out (nothing added). */
int cli_buf_append(cli_buf *b, const void *p, size_t n);
/* Make room for n more bytes without adding them; same results. */
int cli_buf_reserve(cli_buf *b, size_t n);

/* ---------------------------------------------------------------- */
/* JSON (cli/json.c)                                                 */
/* ---------------------------------------------------------------- */

/* Append s as a canonical JSON string (hf_json_write_string); -1 when s
 * is not UTF-8 or the buffer is full. */
int cli_json_string(cli_buf *b, const void *s, size_t len);

/* Append h as the canonical header JSON object (no length prefix, no
 * limit on its size). -1 when the buffer is full. */
int cli_json_header(cli_buf *b, const hf_header *h);

/* The order of a header's keys as they appeared in its frame: key[i] is
 * one of CLI_KEY_* (CLI_KEY_EXT stands for the next extension). */
enum {
    CLI_KEY_BYTEORDER = 0,
    CLI_KEY_TYPE,
    CLI_KEY_ENCODING,
    CLI_KEY_LENGTH,
    CLI_KEY_EXT
};

typedef struct cli_key_order {
    unsigned char key[4 + HF_EXT_MAX];
    size_t n;
} cli_key_order;

/* Read the key order of raw header JSON the codec has accepted. 0, or
 * -1 when it cannot be read (then use the canonical order). */
int cli_header_order(const void *json, size_t len, cli_key_order *o);

/* Like cli_json_header, with the keys in order o (NULL, or an order
 * that does not match h: the canonical order); spacing stays canonical. */
int cli_json_header_in(cli_buf *b, const hf_header *h,
                       const cli_key_order *o);

/*
 * Escape check that yajl lacks: yajl silently turns a lone "\uD800" into
 * '?'. Feed the raw bytes of a text yajl accepts; lone surrogate escapes
 * are reported. Streams across chunks.
 */
typedef struct cli_esc {
    int state;
    unsigned unit;      /* hex value being read */
    int digits;
    uint64_t pos;       /* bytes fed so far */
    uint64_t bad_at;    /* offset of the offending escape */
    uint64_t esc_start;
} cli_esc;

void cli_esc_init(cli_esc *e);
/* 0 while fine, -1 at the first lone surrogate (e->bad_at set). */
int cli_esc_feed(cli_esc *e, const void *p, size_t n);
/* Call at the end: -1 when the text ended after a high surrogate. */
int cli_esc_finish(cli_esc *e);

/*
 * Canonical re-writer for one JSON value (encode --json): input is fed
 * in chunks, yajl parses it, and the value is appended to out in the
 * form json.dumps(ensure_ascii=False) gives (", " and ": " separators,
 * numbers keep their text).
 */
typedef struct cli_canon cli_canon;

cli_canon *cli_canon_new(cli_buf *out);
void cli_canon_free(cli_canon *c);
/* 0, or -1 with a message in cli_canon_error (offset counted from the
 * first byte fed). */
int cli_canon_feed(cli_canon *c, const void *p, size_t n);
int cli_canon_finish(cli_canon *c);
const char *cli_canon_error(const cli_canon *c);

/* ---------------------------------------------------------------- */
/* Base64 (RFC 4648, standard alphabet, padded)                      */
/* ---------------------------------------------------------------- */

/* Encoded length of n bytes; 0 when it would not fit in size_t. */
size_t cli_b64_len(size_t n);
/* Writes cli_b64_len(n) bytes to out. */
void cli_b64_encode(unsigned char *out, const unsigned char *in, size_t n);
/* Strict decode (length a multiple of 4, padding only at the end, unused
 * bits zero, so every input has one encoding). Output needs
 * cli_b64_decoded_len(in, n) bytes. 0 with *out_len set, or -1 with
 * *bad_at the offending offset. */
int cli_b64_decode(unsigned char *out, const unsigned char *in, size_t n,
                   size_t *out_len, size_t *bad_at);
/* Bytes a valid encoding in[0..n) decodes to (padding discounted). */
size_t cli_b64_decoded_len(const unsigned char *in, size_t n);

/* ---------------------------------------------------------------- */
/* NDJSON records (cli/ndjson.c)                                     */
/* ---------------------------------------------------------------- */

/* Append one record line (with its newline) for a frame; o as for
 * cli_json_header_in. */
int cli_ndjson_record(cli_buf *b, const hf_header *h,
                      const cli_key_order *o,
                      const unsigned char *content, size_t len);

/*
 * Parse one record line (without its newline). The header is validated
 * with hf_parse_header on d (d's limits apply; hf_decoder_header(d) is
 * the result); the content lands in *content; raw is scratch space
 * whose max bounds the "text"/"base64" string. 0, or -1 with a message
 * in err.
 */
int cli_ndjson_parse(hf_decoder *d, const unsigned char *line, size_t len,
                     cli_buf *raw, cli_buf *content, char *err,
                     size_t errcap);

#endif /* HFRAME_CLI_H */
