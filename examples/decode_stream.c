/*
 * decode_stream.c - decode the frames a socket delivers, as they come.
 *
 *   decode_stream HOST PORT    connect over TCP and read until the peer
 *                              closes
 *   decode_stream              read standard input (a socket, a pipe or
 *                              a file) until its end
 *
 * For every frame it prints the header and how many content bytes came;
 * at the end of the input it checks that no frame was cut short. Reads
 * are small on purpose: headers and contents arrive in pieces, and the
 * decoder takes them as they come, one push per read.
 *
 * Build: cc -o decode_stream decode_stream.c \
 *            $(pkg-config --cflags --libs hframe)
 */
#define _POSIX_C_SOURCE 200809L

#include <hframe.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints, *res, *ai;
    int fd = -1, rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "decode_stream: %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "decode_stream: cannot connect to %s port %s\n",
                host, port);
    return fd;
}

static void print_header(const hf_header *h)
{
    size_t i;

    printf("header: %s, %s, %s, %llu content bytes\n",
           hf_byteorder_name(h->byteorder), h->content_type.ptr,
           h->content_encoding.ptr, (unsigned long long)h->content_length);
    for (i = 0; i < h->n_ext; i++)
        printf("  %s: %s\n", h->ext[i].key.ptr, h->ext[i].value.ptr);
}

static void report(const hf_decoder *d)
{
    const hf_error *e = hf_decoder_error(d);

    fprintf(stderr, "decode_stream: byte %llu: %s: %s\n",
            (unsigned long long)e->offset, hf_status_name(e->code),
            e->detail);
}

int main(int argc, char **argv)
{
    unsigned char buf[256];
    unsigned long long content = 0;
    hf_decoder d;
    hf_event ev;
    ssize_t n;
    size_t off;
    int fd = 0;

    if (argc == 3) {
        fd = connect_to(argv[1], argv[2]);
        if (fd < 0)
            return 1;
    } else if (argc != 1) {
        fprintf(stderr, "usage: decode_stream [HOST PORT]\n");
        return 2;
    }
    if (hf_decoder_init(&d, NULL) != HF_OK)
        return 1;
    for (;;) {
        n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("decode_stream: read");
            hf_decoder_free(&d);
            return 1;
        }
        if (n == 0)
            break;
        /* One read may hold the end of a frame and the start of the
         * next: push until the decoder has taken every byte. */
        off = 0;
        do {
            off += hf_decoder_push(&d, buf + off, (size_t)n - off, &ev);
            switch (ev.type) {
            case HF_EV_HEADER:
                print_header(hf_decoder_header(&d));
                content = 0;
                break;
            case HF_EV_CONTENT:
                content += ev.len;
                break;
            case HF_EV_FRAME_END:
                printf("frame %llu: %llu content bytes received\n",
                       (unsigned long long)hf_decoder_frames(&d), content);
                break;
            case HF_EV_ERROR:
                report(&d);
                hf_decoder_free(&d);
                return 1;
            case HF_EV_NEED_MORE:
                break;
            }
        } while (ev.type != HF_EV_NEED_MORE);
    }
    if (hf_decoder_finish(&d) != HF_OK) {
        report(&d);
        hf_decoder_free(&d);
        return 1;
    }
    hf_decoder_free(&d);
    if (fd != 0)
        close(fd);
    return fflush(stdout) == 0 ? 0 : 1;
}
