/*
 * gw_side.h - one side of a connection: the frames that arrive on a
 * socket and the bytes that go out on it.
 *
 * A client connection has one side; in relay mode its upstream socket is
 * a second one of the same type (as HAProxy's stream holds two channels),
 * and every function that works on a direction takes the side it works
 * on. A side holds:
 *
 *   in     received bytes not consumed yet (backpressure): the socket is
 *          not read again until they are gone, so at most one read
 *          waits here;
 *   dec    the decoder every received frame goes through, made when a
 *          frame begins and given back when the side is trimmed (an
 *          idle connection holds no decoder);
 *   stage  relay: the prefix and header of the frame being read, kept
 *          until the decoder accepts them, so nothing of an invalid frame
 *          is passed on (client side: the PROXY header first);
 *   out    bytes to send.
 *
 * Ownership: the side owns its buffers; pointers from gw_side_output live
 * until the next call that changes the side.
 */
#ifndef GW_SIDE_H
#define GW_SIDE_H

#include <stddef.h>
#include <stdint.h>

#include "hframe.h"
#include "gw_buf.h"

typedef struct gw_side {
    hf_decoder *dec;        /* NULL until needed (gw_side_decoder) */
    const hf_limits *lim;   /* the caller's, for the decoder */
    gw_buf in;
    gw_buf stage;
    gw_buf out;
    uint64_t bytes_in;      /* received on this side */
    uint64_t bytes_out;     /* sent on this side */
} gw_side;

/* 0, or -1 when lim is invalid. lim must outlive the side. */
int gw_side_init(gw_side *s, const hf_limits *lim);
void gw_side_free(gw_side *s);

/* The side's decoder, made now if it has none; NULL when memory runs
 * out. */
hf_decoder *gw_side_decoder(gw_side *s);

/* Give back what an idle side holds: the decoder when it stands between
 * frames, and every buffer that is empty. */
void gw_side_trim(gw_side *s);

/* Bytes the side holds allocated: decoder and buffer capacities. */
size_t gw_side_buffered(const gw_side *s);

/* Bytes not sent yet. */
size_t gw_side_unsent(const gw_side *s);

/* The next bytes to send; NULL and 0 when nothing waits. */
const unsigned char *gw_side_output(const gw_side *s, size_t *len);

/* n of gw_side_output's bytes went out (n is clamped to what waits). */
void gw_side_sent(gw_side *s, size_t n);

#endif /* GW_SIDE_H */
