/*
 * replay_main.c - run a harness without a fuzzing engine.
 *
 *   replay_<harness> [path ...]
 *
 * Calls LLVMFuzzerTestOneInput once for every regular file named, and for
 * every regular file directly inside every directory named (names
 * starting with '.' skipped), each as an exact-size heap copy. Used by
 * `make check` (fuzz/replay.sh) to replay the corpus under the normal and
 * the sanitizer builds, by valgrind and the 32-bit build, and to
 * reproduce a crash: a broken invariant aborts with its file and line.
 * Exit status: 0 when every input ran, 1 when a path could not be read,
 * 2 on bad usage.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

/* Largest input replayed: corpus files are small; this catches a wrong
 * path (a large binary) before it is read into memory. */
#define REPLAY_MAX_INPUT (16u * 1024 * 1024)

/* A harness may define LLVMFuzzerInitialize; none has to. */
#pragma weak LLVMFuzzerInitialize

static unsigned long replayed;

static int replay_file(const char *path)
{
    FILE *f;
    unsigned char *buf;
    struct stat sb;
    size_t len;
    size_t got;

    f = fopen(path, "rb");
    if (f == NULL || fstat(fileno(f), &sb) != 0) {
        perror(path);
        if (f != NULL)
            fclose(f);
        return 1;
    }
    if (sb.st_size < 0 || (unsigned long long)sb.st_size > REPLAY_MAX_INPUT) {
        fprintf(stderr, "%s: larger than %u bytes\n", path,
                REPLAY_MAX_INPUT);
        fclose(f);
        return 1;
    }
    len = (size_t)sb.st_size;
    buf = malloc(len > 0 ? len : 1);
    if (buf == NULL) {
        fclose(f);
        fprintf(stderr, "%s: out of memory\n", path);
        return 1;
    }
    got = len > 0 ? fread(buf, 1, len, f) : 0;
    fclose(f);
    if (got != len) {
        fprintf(stderr, "%s: short read\n", path);
        free(buf);
        return 1;
    }
    if (getenv("REPLAY_VERBOSE") != NULL)
        fprintf(stderr, "replay %s (%zu bytes)\n", path, len);
    (void)LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    replayed++;
    return 0;
}

static int replay_dir(const char *dir)
{
    DIR *dp;
    struct dirent *de;
    struct stat sb;
    char *path;
    size_t n;
    int bad;

    dp = opendir(dir);
    if (dp == NULL) {
        perror(dir);
        return 1;
    }
    bad = 0;
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        n = strlen(dir) + strlen(de->d_name) + 2;
        path = malloc(n);
        if (path == NULL) {
            bad = 1;
            break;
        }
        snprintf(path, n, "%s/%s", dir, de->d_name);
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            bad |= replay_file(path);
        free(path);
    }
    closedir(dp);
    return bad;
}

int main(int argc, char **argv)
{
    struct stat sb;
    int bad;
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s path ...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize != NULL)
        (void)LLVMFuzzerInitialize(&argc, &argv);
    bad = 0;
    for (i = 1; i < argc; i++) {
        if (stat(argv[i], &sb) != 0) {
            perror(argv[i]);
            bad = 1;
        } else if (S_ISDIR(sb.st_mode)) {
            bad |= replay_dir(argv[i]);
        } else {
            bad |= replay_file(argv[i]);
        }
    }
    printf("%s: %lu inputs replayed\n", argv[0], replayed);
    return bad;
}
