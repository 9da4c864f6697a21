/*
 * encode.c - write one hframe frame to standard output.
 *
 *   encode CONTENT-TYPE [KEY=VALUE...] < content > frame
 *
 * The content is standard input (at most 64 KiB here); every KEY=VALUE
 * becomes a string extension header. The header uses the host's byte
 * order and the content-encoding "binary".
 *
 * Build: cc -o encode encode.c $(pkg-config --cflags --libs hframe)
 */
#include <hframe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTENT_MAX 65536

int main(int argc, char **argv)
{
    static unsigned char content[CONTENT_MAX];
    unsigned char *frame;
    size_t len, cap, written;
    hf_header h;
    hf_status st;
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: encode CONTENT-TYPE [KEY=VALUE...]\n");
        return 2;
    }
    hf_header_init(&h, argv[1], "binary");
    for (i = 2; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        hf_str key, value;

        if (eq == NULL) {
            fprintf(stderr, "encode: %s: not KEY=VALUE\n", argv[i]);
            return 2;
        }
        key.ptr = argv[i];
        key.len = (size_t)(eq - argv[i]);
        value.ptr = eq + 1;
        value.len = strlen(eq + 1);
        st = hf_header_add_ext(&h, key, value, HF_VALUE_STRING);
        if (st != HF_OK) {
            fprintf(stderr, "encode: %s\n", hf_strerror(st));
            return 1;
        }
    }
    len = fread(content, 1, sizeof content, stdin);
    if (ferror(stdin) || !feof(stdin)) {
        fprintf(stderr, "encode: content unreadable or above %d bytes\n",
                CONTENT_MAX);
        return 1;
    }

    /* Ask for the size first: HF_E_NO_SPACE says how much is needed. */
    st = hf_encode(&h, content, len, NULL, 0, &cap);
    if (st != HF_E_NO_SPACE) {
        fprintf(stderr, "encode: %s\n", hf_strerror(st));
        return 1;
    }
    frame = malloc(cap);
    if (frame == NULL)
        return 1;
    st = hf_encode(&h, content, len, frame, cap, &written);
    if (st != HF_OK) {
        fprintf(stderr, "encode: %s\n", hf_strerror(st));
        free(frame);
        return 1;
    }
    if (fwrite(frame, 1, written, stdout) != written || fflush(stdout) != 0) {
        perror("encode: stdout");
        free(frame);
        return 1;
    }
    free(frame);
    return 0;
}
