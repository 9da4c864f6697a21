/*
 * cli.h - shared pieces of the hframe command: subcommand entry points,
 * strict number parsing, the common limit options, error reporting and
 * binary-safe I/O on stdin/stdout.
 *
 * Every subcommand is called as cmd(argc, argv) with argv[0] the
 * subcommand's name ("encode") and its options and operands after it, in
 * any order ("--" ends the options); getopt's state is fresh
 * (optind == 1). It returns the process exit status, one of CLI_EXIT_*
 * (one line already on stderr for any but CLI_EXIT_OK).
 */
#ifndef HFRAME_CLI_H
#define HFRAME_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hframe.h"
#include "util.h"

/* Exit statuses, documented in hframe(1): each failure a script may
 * want to tell apart has its own. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1      /* I/O error: a file, stdout, memory */
#define CLI_EXIT_USAGE 2     /* bad option, operand or value */
#define CLI_EXIT_INVALID 3   /* input is not valid frames/records/JSON */
#define CLI_EXIT_CONNECT 4   /* could not connect (refused, unreachable) */
#define CLI_EXIT_TIMEOUT 5   /* ran out of time */
#define CLI_EXIT_PEER 6      /* the peer does not speak hframe */
#define CLI_EXIT_SERVER 7    /* the server answered with an error */
#define CLI_EXIT_RESOLVE 8   /* the host name could not be resolved */

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

/* getopt_long rows of the common options, to end each subcommand's
 * table with (its last row is the terminator). */
#define CLI_COMMON_LONGOPTS                                              \
    { "help", no_argument, NULL, 'h' },                                  \
    { "output", required_argument, NULL, 'o' },                          \
    { "max-header", required_argument, NULL, CLI_OPT_MAX_HEADER },       \
    { "max-content", required_argument, NULL, CLI_OPT_MAX_CONTENT },     \
    { NULL, 0, NULL, 0 }

/* Short options every subcommand takes; getopt strings start with ":"
 * (errors reported by cli_common_option) and permute (GNU order). */
#define CLI_COMMON_SHORTOPTS ":ho:"

/* The --help lines of the common options. */
#define CLI_COMMON_HELP                                                  \
    "  -o, --output FILE      write to FILE instead of standard output\n" \
    "                         (not one of the inputs)\n"                \
    "      --max-header SIZE  longest header accepted or written (2 to\n"  \
    "                         65535, default 65535)\n"                     \
    "      --max-content SIZE longest content accepted or written\n"       \
    "                         (default 16M)\n"                             \
    "  -h, --help             show this help\n"                            \
    "\n"                                                                  \
    "SIZE is bytes, or with k, M or G (powers of 1024): 64k, 16M.\n"      \
    "Options may come before or after operands; -- ends them.\n"

/* What the common options set. */
typedef struct cli_common {
    const char *usage;      /* the subcommand's synopsis */
    const char *help;       /* its option list (before CLI_COMMON_HELP) */
    hf_limits lim;
    const char *output;     /* -o FILE, or NULL for stdout */
    int help_shown;         /* --help was given and printed */
    char **inputs;          /* the files read (cli_set_inputs), which -o */
    int n_inputs;           /* may not name; NULL when none are read */
} cli_common;

int hf_cmd_encode(int argc, char **argv);
int hf_cmd_decode(int argc, char **argv);
int hf_cmd_validate(int argc, char **argv);
int hf_cmd_request(int argc, char **argv);
int hf_cmd_bench(int argc, char **argv);   /* cli/cmd_bench.c */

/* Each subcommand's synopsis ("usage: hframe encode ...\n", lines
 * after the first indented), for its --help and for `hframe --help`. */
extern const char cli_encode_usage[];
extern const char cli_decode_usage[];
extern const char cli_validate_usage[];
extern const char cli_request_usage[];

/* ---------------------------------------------------------------- */
/* Numbers and options                                               */
/* ---------------------------------------------------------------- */

/* Strict decimal: digits only (no sign, space or suffix), value within
 * [min, max]. 0 on success, -1 otherwise (*out untouched). */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Seconds with up to three decimals ("10", "0.5"), within
 * [1 ms, max_ms]; result in milliseconds. 0 on success, -1 otherwise. */
int cli_parse_ms(const char *s, uint64_t max_ms, uint64_t *out);

/* Start a subcommand's options: default limits, no output file. */
void cli_common_init(cli_common *co, const char *usage, const char *help);

/* The one reader of option values: kind, bounds and wording of
 * util_parse_value. 0, or -1 after a usage error (message printed). */
int cli_value(const cli_common *co, util_kind kind, const char *name,
              const char *val, uint64_t min, uint64_t max, int zero_off,
              uint64_t *out);

/* For getopt_long's default case: handles -h, -o and the limits (0),
 * and reports bad values, unknown options and missing values (-1 with
 * the usage printed). After -h, co->help_shown is set: return
 * CLI_EXIT_OK. */
int cli_common_option(cli_common *co, int c, char **argv);

/* The input operands of a subcommand that reads files (none: stdin),
 * for cli_open_output's check. */
void cli_set_inputs(cli_common *co, char **files, int n);

/* The operand list that stands for standard input alone: { "-" }. */
extern char *const cli_stdin_operand[];

/* Send stdout to co->output when set (created or truncated). Call once
 * the options are all valid. CLI_EXIT_OK; CLI_EXIT_USAGE when the
 * output is one of co->inputs (same device and inode), which it would
 * destroy; CLI_EXIT_FAIL when it cannot be opened. */
int cli_open_output(const cli_common *co);

/* Where stdout goes, for error lines: "standard output", or the -o
 * file quoted ("'out.bin'"). */
const char *cli_out_name(void);

/* Open an input operand: "-" is stdin. The fd, or -1 after an error
 * line ("cannot open 'f': ..."). */
int cli_open_input(const char *path);

/* Close what cli_open_input returned (stdin stays open). */
void cli_close_input(int fd);

/* For subcommands that write frames: 0 when stdout is not a terminal or
 * force is set; -1 after a usage error otherwise (as gzip does). */
int cli_refuse_tty(const cli_common *co, int force);

/* Whether stdout is a terminal (checked once). */
int cli_out_is_tty(void);

/* Help of "--max-content" and "--max-header" errors: the option that
 * raises the limit a decoder status hit, or NULL. */
const char *cli_limit_hint(hf_status st);

/* "hframe: <cmd>: <message>" for usage errors, then the usage text. */
void cli_usage_error(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------- */
/* Errors                                                            */
/* ---------------------------------------------------------------- */

/* Longest piece of outside text cli_show shows (then "..."). */
#define CLI_SHOW_MAX 256

/* Text not ours (a server's message, a file name) made safe for an
 * error line: escaped as in a JSON string (control characters as \n,
 * \u001b...), bytes that are not UTF-8 as \xNN, so it can neither
 * drive the terminal nor forge a line. A static buffer, one of four
 * reused in turn (a message may show a few). */
const char *cli_show(const void *p, size_t n);

/* One line "hframe: <message>" on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A progress line on stderr (a terminal): "hframe: <text>" replacing
 * the previous one, without a newline. cli_err and cli_progress_end
 * clear it. */
void cli_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_progress_end(void);

/* "hframe: [NAME: ]offset N: <code-name>: <detail>" for a decoder
 * error; a limit error names the option that raises the limit. */
void cli_err_decoder(const hf_error *e);

/* s is exactly the text z: a decoded string may hold NUL bytes of its
 * own, so strcmp would stop early. */
int cli_str_is(hf_str s, const char *z);

/* The input being read, named in error lines ("a.bin: offset 3: ...")
 * when it is a file operand; NULL for none. The name must outlive its
 * use (an argv string). */
void cli_set_input_name(const char *name);
/* "NAME: " or "". */
const char *cli_input_prefix(void);

/* What the first bytes of a stream that is not hframe look like. */
enum {
    CLI_SNIFF_NONE = 0,   /* nothing recognisable */
    CLI_SNIFF_TEXT,       /* printable text (SSH-, HTTP/ included) */
    CLI_SNIFF_TLS         /* a TLS record */
};

/* Room for cli_sniff's quoted start. */
#define CLI_SNIFF_MAX 64

/* Look at p[0..n): CLI_SNIFF_*, with buf the start quoted as a JSON
 * string ("\"SSH-2.0-Open\"") for the TEXT kind. */
int cli_sniff(const unsigned char *p, size_t n, char *buf, size_t cap);

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

/* Data kept in memory before the rest goes to a spool file: most frames
 * fit, and a frame or a record needs the whole content before its
 * first byte (its length, or whether it is text). */
#define CLI_SPOOL_AFTER (1024 * 1024)

/* An unlinked temporary file in $TMPDIR (or /tmp), read and write; its
 * fd, or -1 after an error line. */
int cli_spool_open(void);
/* Write p[0..n) whole; 0, or -1 after an error line. */
int cli_spool_write(int fd, const unsigned char *p, size_t n);

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

/* Copy exactly n bytes of fd to stdout (at_end: fd must then be at its
 * end; a file that changed size while being read is an error). A
 * CLI_EXIT_* status, or CLI_STOPPED. */
int cli_copy_out(int fd, uint64_t n, int at_end, unsigned char *chunk);

/*
 * A frame's content gathered before its header is written (cli/sink.c):
 * the first CLI_SPOOL_AFTER bytes in memory, the rest in a spool file
 * (opened on first need, kept for the next content). Memory stays
 * bounded by CLI_SPOOL_AFTER whatever the content's length.
 */
typedef struct cli_sink {
    cli_buf mem;         /* bytes after the spooled ones */
    int fd;              /* the spool file, or -1 */
    uint64_t spooled;    /* bytes in it */
    unsigned char *copy; /* CLI_CHUNK bytes to copy it out with */
} cli_sink;

void cli_sink_init(cli_sink *s);
void cli_sink_free(cli_sink *s);
/* Empty it for the next content. 0, or -1 after an error line. */
int cli_sink_reset(cli_sink *s);
/* Append p[0..n). 0, or -1 after an error line (out of memory, a full
 * or unwritable $TMPDIR). */
int cli_sink_write(cli_sink *s, const void *p, size_t n);
/* Bytes gathered. */
uint64_t cli_sink_len(const cli_sink *s);
/* What functions that write to a sink return when it failed (its error
 * line printed): an I/O error, not bad input. */
#define CLI_SINK_FAILED (-3)
/* Called with the bytes gathered, in order and in pieces (of at most
 * CLI_CHUNK bytes from the spool file, then the memory part, which may
 * be empty): CLI_EXIT_OK to go on, anything else to stop with it. */
typedef int (*cli_sink_fn)(void *ctx, const unsigned char *p, size_t n);
/* Each piece to fn. CLI_EXIT_OK, fn's status, or CLI_EXIT_FAIL after an
 * error line (the spool file unreadable). */
int cli_sink_each(cli_sink *s, cli_sink_fn fn, void *ctx);
/* Write them all to stdout. A CLI_EXIT_* status, or CLI_STOPPED. */
int cli_sink_emit(cli_sink *s);

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
 * numbers keep their text). The canonical form may not exceed out's
 * max as given to cli_canon_new.
 *
 * With a spill sink, out holds at most about CLI_SPOOL_AFTER bytes: the
 * rest moves to the sink as it is made (a long string in slices), and
 * cli_canon_finish moves the end there too. yajl hands over a string
 * only whole, holding it meanwhile; while one string takes more than
 * CLI_SPOOL_AFTER of input, input is passed to yajl in growing batches
 * (a quarter of the string so far), since yajl scans its held part
 * again on every call: linear time, at the cost of that quarter.
 */
typedef struct cli_canon cli_canon;

cli_canon *cli_canon_new(cli_buf *out, cli_sink *spill);
/* Gives out back its max. */
void cli_canon_free(cli_canon *c);
/* 0; -1 with a message in cli_canon_error (offset counted from the
 * first byte fed); or CLI_SINK_FAILED. */
int cli_canon_feed(cli_canon *c, const void *p, size_t n);
/* Pass what is batched to yajl now (before giving up on the input for
 * another reason, so that an error in it is the one reported). Same
 * results. */
int cli_canon_drain(cli_canon *c);
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
/* Decode groups that come before the last one: in[0..n), n a multiple
 * of 4, no padding, to n / 4 * 3 bytes at out. 0, or -1 with *bad_at
 * the offending offset. For strings decoded in slices. */
int cli_b64_decode_groups(unsigned char *out, const unsigned char *in,
                          size_t n, size_t *bad_at);

/* ---------------------------------------------------------------- */
/* NDJSON records (cli/ndjson.c)                                     */
/* ---------------------------------------------------------------- */

/* Append one record line (with its newline) for a frame; o as for
 * cli_json_header_in. */
int cli_ndjson_record(cli_buf *b, const hf_header *h,
                      const cli_key_order *o,
                      const unsigned char *content, size_t len);

/* Where cli_ndjson_parse leaves a record's content. */
typedef struct cli_ndjson_content {
    cli_sink *sink;            /* the caller's: a content decoded now */
    const unsigned char *str;  /* or, when not NULL, the "text" or
                                  "base64" string as it is in the line */
    size_t str_len;
    int base64;                /* str is base64 */
    uint64_t len;              /* the content's length */
} cli_ndjson_content;

/*
 * Parse one record line (without its newline). The header is validated
 * with hf_parse_header on d (d's limits apply; hf_decoder_header(d) is
 * the result). The content is checked whole before this returns, never
 * copied whole: a "text"/"base64" string without escapes is left where
 * it is in the line (yajl parses the line in place) and decoded when
 * written; one with escapes is decoded into content->sink (emptied
 * first) while yajl holds its unescaped copy. A content longer than
 * max_content is refused. With fix_length, the header's content-length
 * need not match the content (the frame writer sets it). 0; -1 with a
 * message in err; or CLI_SINK_FAILED after the sink's error line.
 */
int cli_ndjson_parse(hf_decoder *d, const unsigned char *line, size_t len,
                     uint64_t max_content, cli_ndjson_content *content,
                     int fix_length, char *err, size_t errcap);

/* Write a parsed content to stdout (the line must be unchanged): a
 * CLI_EXIT_* status, or CLI_STOPPED. */
int cli_ndjson_content_out(const cli_ndjson_content *c);

/* ---------------------------------------------------------------- */
/* PROXY protocol header (cli/proxy.c)                               */
/* ---------------------------------------------------------------- */

/* Room for either version: the longest v1 line is 107 bytes. */
#define CLI_PROXY_MAX 108

/* The PROXY header of the given version (1 or 2) naming src as the
 * client and dst as the server, into out. Its length, or 0 when the
 * two families differ, are not IPv4/IPv6, or cap is too small. */
size_t cli_proxy_header(int version, const struct sockaddr *src,
                        const struct sockaddr *dst, unsigned char *out,
                        size_t cap);

#endif /* HFRAME_CLI_H */
