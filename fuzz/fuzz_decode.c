/*
 * fuzz_decode.c - one-shot decoding (hf_decode) of every frame in the input.
 *
 * Oracles, for each frame in turn (the next one starts where the last
 * ended):
 *  - HF_OK: the lengths add up (2 + N + content = frame_len <= input),
 *    the content lies inside the input right after the header, the header
 *    passes fz_check_header, and hf_parse_header on the same header bytes
 *    gives the same header;
 *  - HF_NEED_MORE: out->need is exactly what hframe.h promises for the
 *    state the bytes leave the decoder in: 2 while the prefix is short,
 *    2 + N while the header is, then the whole frame, 2 + N +
 *    content-length (content-length read by hf_parse_header on a decoder
 *    of its own);
 *  - an error: a real code at the offset docs/protocol.md 4.2 gives,
 *    checked against the frame's bytes (fz_check_frame_error), and the
 *    same code and offset from hf_parse_header when the header is
 *    complete.
 * The input is decoded three ways: default limits, limits chosen by its
 * last byte, and with allocation failures injected (results must match
 * the clean run or stop at "out-of-memory"). Every byte allocated through
 * the hooks is freed by hf_decoder_free.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

/* Bound on what one decoder may hold: the issue allows the header buffer
 * and the decoded strings (each at most the header limit) plus yajl's
 * own state; 16 KiB is generous for the latter. */
#define DECODE_MEM_SLACK 16384u

/* Outcome of decoding a whole input. */
typedef struct summary {
    size_t frames;       /* frames decoded with HF_OK */
    size_t end;          /* offset where decoding stopped */
    hf_status st;        /* status that stopped it (HF_OK: input used up) */
    uint64_t err_offset; /* absolute error offset for an error */
} summary;

static size_t prefix_n(const unsigned char *p)
{
    return (size_t)p[0] << 8 | p[1];
}

/* Cross-check a frame whose header bytes are all present with
 * hf_parse_header on its own decoder. */
static void check_parse_header(const unsigned char *frame, hf_status st,
                               const hf_decoder *d, const hf_limits *lim)
{
    hf_decoder d2;
    hf_status st2;
    size_t n;

    n = prefix_n(frame);
    if (n < HF_HEADER_MIN || n > lim->max_header)
        return;
    FZ_CHECK(hf_decoder_init(&d2, lim) == HF_OK);
    st2 = hf_parse_header(&d2, frame + HF_PREFIX_LEN, n);
    if (st == HF_OK || st == HF_NEED_MORE) {
        FZ_CHECK(st2 == HF_OK);
        FZ_CHECK(hf_decoder_header(&d2) != NULL);
        if (st == HF_OK)
            FZ_CHECK(fz_header_eq(hf_decoder_header(&d2),
                                  hf_decoder_header(d)));
    } else {
        FZ_CHECK(st2 == st);
        FZ_CHECK(hf_decoder_error(&d2)->offset ==
                 hf_decoder_error(d)->offset);
    }
    hf_decoder_free(&d2);
}

static void check_ok(const unsigned char *buf, size_t len,
                     const hf_frame *fr, const hf_decoder *d,
                     const hf_limits *lim)
{
    size_t n;

    FZ_CHECK(len >= HF_PREFIX_LEN + HF_HEADER_MIN);
    n = prefix_n(buf);
    FZ_CHECK(fr->header != NULL);
    FZ_CHECK(fr->header == hf_decoder_header(d));
    FZ_CHECK(hf_decoder_error(d)->code == HF_OK);
    FZ_CHECK(fr->header->header_len == n);
    FZ_CHECK(fr->content_len == fr->header->content_length);
    FZ_CHECK(fr->frame_len <= len);
    FZ_CHECK(fr->frame_len == HF_PREFIX_LEN + n + fr->content_len);
    if (fr->content_len > 0)
        FZ_CHECK(fr->content == buf + HF_PREFIX_LEN + n);
    fz_check_header(fr->header, lim);
}

/* The content-length of a header the decoder accepted, read by
 * hf_parse_header on a decoder of its own (no allocation failures). */
static uint64_t content_length_of(const unsigned char *json, size_t n,
                                  const hf_limits *lim)
{
    hf_decoder d;
    hf_limits plain;
    uint64_t content_length;

    plain = *lim;
    plain.alloc = NULL;
    FZ_CHECK(hf_decoder_init(&d, &plain) == HF_OK);
    FZ_CHECK(hf_parse_header(&d, json, n) == HF_OK);
    content_length = hf_decoder_header(&d)->content_length;
    hf_decoder_free(&d);
    return content_length;
}

/* hf_frame.need: the bytes from the frame's start that the decoder's
 * next step needs (codec/hframe.h), which is exact in every state. */
static void check_need_more(const unsigned char *buf, size_t len,
                            const hf_frame *fr, const hf_limits *lim)
{
    uint64_t frame_len;
    size_t n;

    FZ_CHECK(fr->need > len);
    FZ_CHECK(fr->header == NULL && fr->content_len == 0);
    if (len < HF_PREFIX_LEN) {
        FZ_CHECK(fr->need == HF_PREFIX_LEN);
        return;
    }
    n = prefix_n(buf);
    FZ_CHECK(n >= HF_HEADER_MIN && n <= lim->max_header);
    if (len - HF_PREFIX_LEN < n) {
        FZ_CHECK(fr->need == HF_PREFIX_LEN + n);
        return;
    }
    /* The header is complete, the content is not: the whole frame (a
     * size_t cannot say more than SIZE_MAX on a 32-bit build). */
    frame_len = HF_PREFIX_LEN + (uint64_t)n +
                content_length_of(buf + HF_PREFIX_LEN, n, lim);
    FZ_CHECK(frame_len > len);
    FZ_CHECK(fr->need == (frame_len > SIZE_MAX ? SIZE_MAX
                                               : (size_t)frame_len));
}

static summary decode_all(const unsigned char *buf, size_t len,
                          hf_limits *lim, fz_alloc *a, int cross_check)
{
    hf_decoder d;
    hf_frame fr;
    hf_status st;
    summary s;
    size_t off;

    memset(&s, 0, sizeof(s));
    lim->alloc = &a->hooks;
    FZ_CHECK(hf_decoder_init(&d, lim) == HF_OK);
    off = 0;
    st = HF_OK;
    while (off < len) {
        memset(&fr, 0xa5, sizeof(fr));
        st = hf_decode(&d, buf + off, len - off, &fr);
        if (st == HF_E_NOMEM) {
            FZ_CHECK(a->failed > 0);
            break;
        }
        if (st == HF_OK)
            check_ok(buf + off, len - off, &fr, &d, lim);
        else if (st == HF_NEED_MORE)
            check_need_more(buf + off, len - off, &fr, lim);
        else
            fz_check_frame_error(hf_decoder_error(&d), st, 0, buf + off,
                                 len - off, lim);
        if (cross_check && len - off >= HF_PREFIX_LEN &&
            len - off - HF_PREFIX_LEN >= prefix_n(buf + off))
            check_parse_header(buf + off, st, &d, lim);
        if (st != HF_OK)
            break;
        s.frames++;
        off += fr.frame_len;
    }
    s.end = off;
    s.st = st;
    if (st > HF_NEED_MORE)
        s.err_offset = off + hf_decoder_error(&d)->offset;
    FZ_CHECK(a->peak <= 4 * lim->max_header + DECODE_MEM_SLACK);
    hf_decoder_free(&d);
    FZ_CHECK(a->live == 0);
    lim->alloc = NULL;
    return s;
}

/* A run with an injected allocation failure either matches the clean run
 * or stops with "out-of-memory" no later than the clean run did. */
static void check_nomem(const unsigned char *buf, size_t len,
                        hf_limits *lim, const summary *clean,
                        size_t fail_at)
{
    fz_alloc a;
    summary s;

    fz_alloc_init(&a, fail_at);
    s = decode_all(buf, len, lim, &a, 0);
    if (s.st == HF_E_NOMEM) {
        FZ_CHECK(s.frames <= clean->frames);
        return;
    }
    FZ_CHECK(s.frames == clean->frames);
    FZ_CHECK(s.end == clean->end);
    FZ_CHECK(s.st == clean->st);
    FZ_CHECK(s.err_offset == clean->err_offset);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf;
    hf_limits lim;
    fz_alloc a;
    summary clean;
    size_t i;
    size_t calls;

    buf = fz_dup(data, size);

    hf_limits_default(&lim);
    fz_alloc_init(&a, SIZE_MAX);
    clean = decode_all(buf, size, &lim, &a, 1);
    calls = a.calls;

    if (calls <= 12) {
        for (i = 0; i < calls; i++)
            check_nomem(buf, size, &lim, &clean, i);
    } else {
        check_nomem(buf, size, &lim, &clean, 0);
        check_nomem(buf, size, &lim, &clean, size % calls);
        check_nomem(buf, size, &lim, &clean, calls - 1);
    }

    fz_limits_from_byte(&lim, size > 0 ? buf[size - 1] : 0);
    fz_alloc_init(&a, SIZE_MAX);
    (void)decode_all(buf, size, &lim, &a, 1);

    free(buf);
    return 0;
}
