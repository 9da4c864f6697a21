/* main.c - `hframe`: dispatch to the subcommands, and the process-wide
 * rules: SIGPIPE ignored (a closed stdout is EPIPE, handled quietly),
 * and stdout checked at exit so that no write error goes unnoticed. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* After the subcommands' synopses. */
static const char main_usage_tail[] =
    "       hframe bench [options] host port\n"
    "       hframe --version\n"
    "\n"
    "Subcommands:\n"
    "  encode    write frames with canonical headers from files or stdin\n"
    "  decode    read streams of frames, write NDJSON, contents or "
    "headers\n"
    "  validate  check streams of frames; report each one's first "
    "problem\n"
    "  request   send one request to a server and print the response\n"
    "  bench     load-test a server\n"
    "\n"
    "Options go before or after operands; -- ends them. A file operand -\n"
    "is standard input. Sizes take k, M, G (16M); times s, ms (250ms).\n"
    "Exit status: 0 ok, 1 I/O error, 2 usage, 3 invalid input, 4 cannot\n"
    "connect, 5 timed out, 6 peer does not speak hframe, 7 server error,\n"
    "8 cannot resolve the host.\n"
    "Run `hframe SUBCOMMAND --help` for its options; see hframe(1).\n";

typedef int (*cmd_fn)(int argc, char **argv);

static const struct {
    const char *name;
    cmd_fn fn;
} commands[] = {
    { "encode", hf_cmd_encode },
    { "decode", hf_cmd_decode },
    { "validate", hf_cmd_validate },
    { "request", hf_cmd_request },
    { "bench", hf_cmd_bench },
};

static cmd_fn find_command(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].fn;
    }
    return NULL;
}

/* The synopses of the subcommands, one "usage:" for all, then the
 * rest; to stderr for a usage error. */
static void main_usage(FILE *f)
{
    const char *const forms[] = {
        cli_encode_usage, cli_decode_usage, cli_validate_usage,
        cli_request_usage
    };
    size_t i;

    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        const char *u = forms[i] + strlen("usage: ");

        fputs(i == 0 ? "usage: " : "       ", f);
        fputs(u, f);
    }
    fputs(main_usage_tail, f);
}

/* Options before the subcommand: only --help and --version, each
 * alone (an operand after them would be silently ignored otherwise). */
static int top_level(const char *arg, int extra)
{
    int known = strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 ||
                strcmp(arg, "--version") == 0;

    if (known && extra > 0) {
        cli_err("%s takes no operand (see 'hframe --help')", arg);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        main_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(arg, "--version") == 0) {
        cli_out_str("hframe " HF_VERSION "\n");
        return CLI_EXIT_OK;
    }
    cli_err("unknown subcommand '%s' (see 'hframe --help')", arg);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    cmd_fn fn;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    opterr = 0;
    if (argc < 2) {
        cli_err("missing subcommand");
        main_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    fn = find_command(argv[1]);
    if (fn == NULL) {
        rc = top_level(argv[1], argc - 2);
    } else {
        optind = 1;
        rc = fn(argc - 1, argv + 1);
    }
    /* A subcommand may also have written through stdio. */
    if (fflush(stdout) != 0 && errno != EPIPE && rc == CLI_EXIT_OK) {
        cli_err("write error on %s: %s", cli_out_name(), strerror(errno));
        rc = CLI_EXIT_FAIL;
    }
    if (cli_out_close() != 0 && rc == CLI_EXIT_OK)
        rc = cli_out_exit();
    return rc;
}
