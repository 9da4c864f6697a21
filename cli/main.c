/* main.c - `hframe`: dispatch to the subcommands, and the process-wide
 * rules: SIGPIPE ignored (a closed stdout is EPIPE, handled quietly),
 * and stdout checked at exit so that no write error goes unnoticed. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char main_usage[] =
    "usage: hframe encode [-b little|big] [-e encoding] [-H key=value]... "
    "[-t type]\n"
    "                     [--json] [--lines] [--max-content n] "
    "[--max-header n]\n"
    "       hframe encode --ndjson [--max-content n] [--max-header n]\n"
    "       hframe decode [--ndjson | --content | --header] "
    "[--max-content n]\n"
    "                     [--max-header n]\n"
    "       hframe validate [-q] [--max-content n] [--max-header n]\n"
    "       hframe request [-v] [--frame] [--timeout seconds] "
    "[--max-content n]\n"
    "                      [--max-header n] host port action value\n"
    "       hframe bench [options] host port\n"
    "       hframe --version\n"
    "\n"
    "Subcommands:\n"
    "  encode    read stdin, write frames with canonical headers\n"
    "  decode    read a stream of frames, write NDJSON, contents or "
    "headers\n"
    "  validate  check a stream of frames; exit 1 at the first problem\n"
    "  request   send one request to a server and print the response\n"
    "  bench     load-test a server\n"
    "\n"
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

/* Options before the subcommand: only --help and --version. */
static int top_level(const char *arg)
{
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        cli_out_str(main_usage);
        return CLI_EXIT_OK;
    }
    if (strcmp(arg, "--version") == 0) {
        cli_out_str("hframe " HF_VERSION "\n");
        return CLI_EXIT_OK;
    }
    cli_usage_error(main_usage, "unknown subcommand \"%s\"", arg);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    cmd_fn fn;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    opterr = 0;
    if (argc < 2) {
        cli_usage_error(main_usage, "missing subcommand");
        return CLI_EXIT_USAGE;
    }
    fn = find_command(argv[1]);
    if (fn == NULL) {
        rc = top_level(argv[1]);
    } else {
        optind = 1;
        rc = fn(argc - 1, argv + 1);
    }
    /* A subcommand may also have written through stdio. */
    if (fflush(stdout) != 0 && errno != EPIPE && rc == CLI_EXIT_OK) {
        cli_err("write error on standard output: %s", strerror(errno));
        rc = CLI_EXIT_FAIL;
    }
    if (cli_out_close() != 0 && rc == CLI_EXIT_OK)
        rc = cli_out_exit();
    return rc;
}
