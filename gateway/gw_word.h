/*
 * gw_word.h - questions about eight bytes at once, for the scans that
 * look for a few byte values in short text (log fields, request
 * content): a load and a handful of arithmetic operations per word
 * instead of a loop per byte.
 *
 * The answers are exact for the word as a whole (a borrow only ever
 * runs from a byte that matches into the bytes above it); which byte
 * matched is for the caller's byte loop to find.
 */
#ifndef GW_WORD_H
#define GW_WORD_H

#include <stdint.h>
#include <string.h>

/* b in each of the eight bytes. */
#define GW_WORD_BYTES(b) (UINT64_C(0x0101010101010101) * (uint8_t)(b))

/* The eight bytes at p (any alignment). */
static inline uint64_t gw_word_load(const void *p)
{
    uint64_t w;

    memcpy(&w, p, sizeof w);
    return w;
}

/* Non-zero when some byte of w is below n (n at most 0x80). */
static inline uint64_t gw_word_below(uint64_t w, unsigned n)
{
    return (w - GW_WORD_BYTES(n)) & ~w & GW_WORD_BYTES(0x80);
}

/* Non-zero when some byte of w is b. */
static inline uint64_t gw_word_has(uint64_t w, unsigned b)
{
    return gw_word_below(w ^ GW_WORD_BYTES(b), 1);
}

/* Non-zero when some byte of w is 0x80 or above. */
static inline uint64_t gw_word_high(uint64_t w)
{
    return w & GW_WORD_BYTES(0x80);
}

#endif /* GW_WORD_H */
