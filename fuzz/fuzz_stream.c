/*
 * fuzz_stream.c - the streaming decoder against one-shot decoding.
 *
 * Input: one limits byte (fz_limits_from_byte), one byte k (mod 17), k
 * chunk sizes (0 means "push zero bytes, then one"), then the stream. k = 0
 * pushes the whole stream at once.
 *
 * Differential oracle: the stream is pushed to hf_decoder_push in those
 * chunks, and every event is checked against hf_decode run frame by frame
 * over the same bytes (the reference):
 *  - HF_EV_HEADER: the reference decoded this frame (or, for a last frame
 *    cut inside its content, hf_parse_header accepts its header) and the
 *    headers are equal; the stream offset is right after the header;
 *  - HF_EV_CONTENT: the slice points into the input exactly where the
 *    reference says the content is, and never runs past it;
 *  - HF_EV_FRAME_END: all content arrived, the offsets and frame counts
 *    agree with the reference;
 *  - HF_EV_ERROR: the reference failed on this frame with the same code,
 *    at the same absolute offset, which is where docs/protocol.md 4.2
 *    says, worked out from the frame's bytes (fz_check_frame_error: both
 *    decoders share the header parser); later pushes consume nothing;
 *  - at the end, hf_decoder_finish says HF_OK exactly when the reference
 *    used up the input, HF_E_TRUNCATED when it needed more bytes, at the
 *    end of the input.
 * The stream is then reset and pushed again in one piece. Memory goes
 * through a counting allocator: bounded while running, all freed after.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

/* See fuzz_decode.c. */
#define STREAM_MEM_SLACK 16384u

/* Most chunk sizes read from the input. */
#define PLAN_MAX 16

typedef struct run {
    const unsigned char *buf;  /* the stream */
    size_t len;
    const hf_limits *lim;
    /* reference */
    hf_decoder ref;            /* hf_decode, frame by frame */
    hf_decoder hdr;            /* hf_parse_header for a cut last frame */
    size_t base;               /* first byte of the current frame */
    hf_status ref_st;          /* hf_decode at base; unused at the end */
    hf_frame ref_fr;
    /* stream */
    hf_decoder dec;
    size_t pos;                /* bytes the stream decoder consumed */
    int have_header;
    size_t header_n;
    uint64_t content_len;
    uint64_t got;              /* content bytes seen in this frame */
    uint64_t frames;
    int failed;                /* HF_EV_ERROR seen */
} run;

static size_t prefix_n(const unsigned char *p)
{
    return (size_t)p[0] << 8 | p[1];
}

static void ref_next(run *r)
{
    if (r->base == r->len)
        return;
    r->ref_st = hf_decode(&r->ref, r->buf + r->base, r->len - r->base,
                          &r->ref_fr);
}

/* The header the reference expects at base, or abort. */
static const hf_header *ref_header(run *r)
{
    size_t left;
    size_t n;

    if (r->ref_st == HF_OK)
        return r->ref_fr.header;
    FZ_CHECK(r->ref_st == HF_NEED_MORE);
    left = r->len - r->base;
    FZ_CHECK(left >= HF_PREFIX_LEN);
    n = prefix_n(r->buf + r->base);
    FZ_CHECK(left - HF_PREFIX_LEN >= n);
    FZ_CHECK(hf_parse_header(&r->hdr, r->buf + r->base + HF_PREFIX_LEN, n)
             == HF_OK);
    return hf_decoder_header(&r->hdr);
}

static void on_header(run *r)
{
    const hf_header *h;
    const hf_header *want;

    FZ_CHECK(!r->have_header);
    FZ_CHECK(r->base < r->len);
    h = hf_decoder_header(&r->dec);
    FZ_CHECK(h != NULL);
    fz_check_header(h, r->lim);
    want = ref_header(r);
    FZ_CHECK(fz_header_eq(h, want));
    FZ_CHECK(h->header_len == prefix_n(r->buf + r->base));
    r->header_n = h->header_len;
    FZ_CHECK(hf_decoder_offset(&r->dec) ==
             r->base + HF_PREFIX_LEN + r->header_n);
    FZ_CHECK(hf_decoder_in_frame(&r->dec));
    r->have_header = 1;
    r->content_len = h->content_length;
    r->got = 0;
}

static void on_content(run *r, const hf_event *ev)
{
    FZ_CHECK(r->have_header);
    FZ_CHECK(ev->len > 0);
    FZ_CHECK(ev->len <= r->content_len - r->got);
    FZ_CHECK(ev->data == r->buf + r->base + HF_PREFIX_LEN + r->header_n +
                         r->got);
    r->got += ev->len;
}

static void on_frame_end(run *r)
{
    FZ_CHECK(r->have_header);
    FZ_CHECK(r->got == r->content_len);
    FZ_CHECK(r->ref_st == HF_OK);
    FZ_CHECK(hf_decoder_offset(&r->dec) == r->base + r->ref_fr.frame_len);
    FZ_CHECK(!hf_decoder_in_frame(&r->dec));
    r->frames++;
    FZ_CHECK(hf_decoder_frames(&r->dec) == r->frames);
    r->base += r->ref_fr.frame_len;
    r->have_header = 0;
    ref_next(r);
}

static void on_error(run *r)
{
    const hf_error *e;
    const hf_error *want;
    hf_event ev;

    FZ_CHECK(r->base < r->len);
    FZ_CHECK(r->ref_st > HF_NEED_MORE);
    e = hf_decoder_error(&r->dec);
    want = hf_decoder_error(&r->ref);
    FZ_CHECK(e->code == r->ref_st);
    FZ_CHECK(e->offset == r->base + want->offset);
    FZ_CHECK(e->frame_offset == want->frame_offset);
    fz_check_frame_error(e, e->code, r->base, r->buf + r->base,
                         r->len - r->base, r->lim);
    /* Sticky: nothing more is consumed until a reset. */
    FZ_CHECK(hf_decoder_push(&r->dec, r->buf, r->len, &ev) == 0);
    FZ_CHECK(ev.type == HF_EV_ERROR);
    r->failed = 1;
}

/* Push p[0..n) until the decoder wants more; 0 once it failed. */
static int feed(run *r, const unsigned char *p, size_t n)
{
    hf_event ev;
    size_t used;

    for (;;) {
        FZ_CHECK(n == 0 || p == r->buf + r->pos);
        memset(&ev, 0x5a, sizeof(ev));
        used = hf_decoder_push(&r->dec, p, n, &ev);
        FZ_CHECK(used <= n);
        r->pos += used;
        switch (ev.type) {
        case HF_EV_NEED_MORE:
            FZ_CHECK(used == n);
            return 1;
        case HF_EV_HEADER:
            on_header(r);
            break;
        case HF_EV_CONTENT:
            on_content(r, &ev);
            break;
        case HF_EV_FRAME_END:
            on_frame_end(r);
            break;
        case HF_EV_ERROR:
            on_error(r);
            return 0;
        default:
            FZ_CHECK(!"event type out of range");
        }
        p += used;
        n -= used;
    }
}

static void check_finish(run *r)
{
    hf_status st;
    const hf_error *e;

    st = hf_decoder_finish(&r->dec);
    if (r->failed) {
        FZ_CHECK(st == r->ref_st);
        return;
    }
    FZ_CHECK(r->pos == r->len);
    FZ_CHECK(hf_decoder_offset(&r->dec) == r->len);
    if (r->base == r->len) {
        FZ_CHECK(st == HF_OK);
        FZ_CHECK(!hf_decoder_in_frame(&r->dec));
        FZ_CHECK(hf_decoder_error(&r->dec)->code == HF_OK);
        return;
    }
    /* The reference stopped on an incomplete frame without an error. */
    FZ_CHECK(r->ref_st == HF_NEED_MORE);
    FZ_CHECK(st == HF_E_TRUNCATED);
    FZ_CHECK(hf_decoder_in_frame(&r->dec));
    e = hf_decoder_error(&r->dec);
    fz_check_frame_error(e, HF_E_TRUNCATED, r->base, r->buf + r->base,
                         r->len - r->base, r->lim);
}

/* One pass over the stream with the given chunk plan (k == 0: one push). */
static void pass(run *r, const uint8_t *plan, size_t k)
{
    size_t i;
    size_t sz;

    r->base = 0;
    r->pos = 0;
    r->have_header = 0;
    r->frames = 0;
    r->failed = 0;
    ref_next(r);
    i = 0;
    while (r->pos < r->len) {
        sz = k == 0 ? r->len : plan[i++ % k];
        if (sz == 0) {
            if (!feed(r, NULL, 0))
                break;
            sz = 1;
        }
        if (sz > r->len - r->pos)
            sz = r->len - r->pos;
        if (!feed(r, r->buf + r->pos, sz))
            break;
    }
    if (!r->failed && r->len == 0)
        (void)feed(r, NULL, 0);
    check_finish(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader rd;
    hf_limits lim;
    fz_alloc a;
    run r;
    const uint8_t *plan;
    unsigned char *buf;
    size_t k;

    rd.p = data;
    rd.len = size;
    fz_limits_from_byte(&lim, fz_take_u8(&rd));
    k = fz_take_u8(&rd) % (PLAN_MAX + 1);
    k = fz_take_bytes(&rd, k, &plan);

    buf = fz_dup(rd.p, rd.len);
    memset(&r, 0, sizeof(r));
    r.buf = buf;
    r.len = rd.len;
    r.lim = &lim;
    FZ_CHECK(hf_decoder_init(&r.ref, &lim) == HF_OK);
    FZ_CHECK(hf_decoder_init(&r.hdr, &lim) == HF_OK);
    fz_alloc_init(&a, SIZE_MAX);
    lim.alloc = &a.hooks;
    FZ_CHECK(hf_decoder_init(&r.dec, &lim) == HF_OK);

    pass(&r, plan, k);
    hf_decoder_reset(&r.dec);
    FZ_CHECK(hf_decoder_offset(&r.dec) == 0);
    FZ_CHECK(hf_decoder_frames(&r.dec) == 0);
    FZ_CHECK(hf_decoder_error(&r.dec)->code == HF_OK);
    pass(&r, plan, 0);

    FZ_CHECK(a.peak <= 4 * lim.max_header + STREAM_MEM_SLACK);
    hf_decoder_free(&r.dec);
    FZ_CHECK(a.live == 0);
    hf_decoder_free(&r.hdr);
    hf_decoder_free(&r.ref);
    free(buf);
    return 0;
}
