/* bench_hist.c - the latency histogram of `hframe bench` (bench.h): a
 * fixed table of log-linear buckets, so a run of any length uses the
 * same memory. */
#include "bench.h"

static size_t bench_hist_index(uint64_t v)
{
    unsigned msb;

    if (v < HIST_SUB)
        return (size_t)v;
    msb = 63u - (unsigned)__builtin_clzll(v);
    return (size_t)(msb - HIST_SUB_BITS + 1) * HIST_SUB +
           (size_t)((v >> (msb - HIST_SUB_BITS)) - HIST_SUB);
}

/* Smallest value of bucket i, and its width. */
uint64_t bench_hist_low(size_t i, uint64_t *width)
{
    uint64_t k, r;

    if (i < HIST_SUB) {
        *width = 1;
        return i;
    }
    k = i / HIST_SUB;
    r = i % HIST_SUB;
    *width = UINT64_C(1) << (k - 1);
    return (HIST_SUB + r) << (k - 1);
}

void bench_hist_add(hist *h, uint64_t v)
{
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count++;
    h->sum += (double)v;
    h->bucket[bench_hist_index(v)]++;
}

void bench_hist_merge(hist *dst, const hist *src)
{
    size_t i;

    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
    for (i = 0; i < HIST_BUCKETS; i++)
        dst->bucket[i] += src->bucket[i];
}

/* Value at quantile q (0..1): the highest value of the bucket holding
 * the ceil(q * count)-th sample, never above the exact maximum. */
uint64_t bench_hist_quantile(const hist *h, double q)
{
    uint64_t rank, seen = 0, low, width, hi;
    size_t i;

    if (h->count == 0)
        return 0;
    rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    for (i = 0; i < HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            low = bench_hist_low(i, &width);
            hi = low + width - 1;
            return hi < h->max ? hi : h->max;
        }
    }
    return h->max;
}
