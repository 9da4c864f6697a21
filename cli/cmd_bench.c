/* cmd_bench.c - `hframe bench`: the load generator (placeholder until the
 * real implementation lands). */
#include <stdio.h>

int hf_cmd_bench(int argc, char **argv);

int hf_cmd_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("hframe: bench: not implemented yet\n", stderr);
    return 2;
}
