/*
 * bench.h - what the pieces of `hframe bench` share: its limits, its
 * configuration and the option parser that fills it (cli/bench_opts.c),
 * and the latency histogram (cli/bench_hist.c). The load generator
 * itself is cli/cmd_bench.c.
 */
#ifndef HFRAME_CLI_BENCH_H
#define HFRAME_CLI_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "hframe.h"

/* Connections per run: a client port range holds about 28,000 ports per
 * destination, so more could never connect at once anyway. */
#define CONNS_MAX 20000
/* Worker threads: far above the cores of any machine this runs on. */
#define THREADS_MAX 64
/* Requests in flight per connection (--pipeline). */
#define PIPELINE_MAX 1024
/* Largest binary request content: 1 GiB is far above any sane test. */
#define SIZE_MAX_BYTES (UINT64_C(1) << 30)
/* Seconds accepted by -d and --timeout (one day). */
#define SECONDS_MAX 86400

#define NS_PER_S UINT64_C(1000000000)

/* ------------------------------------------------------------------ */
/* Latency histogram                                                   */
/* ------------------------------------------------------------------ */

/*
 * Log-linear buckets: values below 2^HIST_SUB_BITS ns are exact, above
 * that each power of two is split in 2^HIST_SUB_BITS buckets, so every
 * bucket is within 1/128 (0.8%) of the values it holds and the table
 * covers the whole uint64_t range in 7,424 counters.
 */
#define HIST_SUB_BITS 7
#define HIST_SUB (UINT64_C(1) << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

typedef struct hist {
    uint64_t count;
    uint64_t min;
    uint64_t max;
    double sum;
    uint64_t bucket[HIST_BUCKETS];
} hist;

void bench_hist_add(hist *h, uint64_t v);
void bench_hist_merge(hist *dst, const hist *src);
/* Value at quantile q (0..1), never above the exact maximum. */
uint64_t bench_hist_quantile(const hist *h, double q);
/* Smallest value of bucket i, and its width. */
uint64_t bench_hist_low(size_t i, uint64_t *width);

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

typedef struct bench_cfg {
    const char *host;
    const char *port;
    unsigned long conns;
    unsigned long threads;
    unsigned long pipeline;
    uint64_t requests;       /* 0: run for duration_ns */
    uint64_t duration_ns;
    uint64_t timeout_ns;     /* no progress for this long: timeout */
    int binary;
    const char *value;
    uint64_t size;           /* binary content size */
    int size_set;
    int new_conn;
    int json;
    int histogram;
    const char *expect;
    hf_limits lim;
} bench_cfg;

/* Parse bench's options and operands (argv[0] is "bench"). Returns 0,
 * 1 after --help (printed), or 2 after a usage error (printed). */
int bench_parse_args(int argc, char **argv, bench_cfg *cfg);

#endif /* HFRAME_CLI_BENCH_H */
