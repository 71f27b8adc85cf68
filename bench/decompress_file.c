/* decompress_file - the library's whole-file decode path, timed: df11_open,
 * then df11_decode_all writing to a file (or /dev/null), nothing else. Uses
 * only df11.h. bench/decompress_bench.sh runs it beside zstd -d.
 *
 * Usage: decompress_file [-T threads] [-n] IN.df11 OUT     (OUT "-": stdout)
 * -n: DF11_DECODE_NO_SHA256 (chunk checksums only). Prints "seconds <wall>
 * bytes <original size>" on stderr: the process's start and exit are not
 * in it, as a peer's in-process decompress call has none. */
#include "df11.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static df11_status write_fd(void *ctx, const void *buf, size_t len, df11_error *err)
{
    int fd = *(int *)ctx;
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            err->code = DF11_E_IO;
            snprintf(err->message, sizeof err->message, "write failed: %s", strerror(errno));
            return DF11_E_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return DF11_OK;
}

int main(int argc, char **argv)
{
    int threads = 0, opt;
    unsigned flags = 0;
    while ((opt = getopt(argc, argv, "T:n")) != -1) {
        if (opt == 'n') flags |= DF11_DECODE_NO_SHA256;
        else if (opt == 'T') threads = atoi(optarg);
        else return 2;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: decompress_file [-T threads] [-n] IN.df11 OUT\n");
        return 2;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    df11_error err;
    df11_reader *r = NULL;
    const char *out = argv[optind + 1];
    int fd = strcmp(out, "-") == 0 ? STDOUT_FILENO : open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(argv[optind + 1]);
        return 1;
    }
    df11_status s = df11_open(argv[optind], &r, &err);
    if (s == DF11_OK) s = df11_decode_all_flags(r, threads, flags, write_fd, &fd, NULL, NULL, &err);
    if (close(fd) != 0 && s == DF11_OK) s = DF11_E_IO;
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (s != DF11_OK) {
        fprintf(stderr, "decompress_file: %s\n", err.message);
        return 1;
    }
    fprintf(stderr, "seconds %.4f bytes %llu\n", (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9,
           (unsigned long long)df11_original_size(r));
    df11_close(r);
    return 0;
}
