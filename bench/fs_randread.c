/* fs_randread.c - random reads for bench/fs_bench.sh: N preads of 4 KiB to
 * 1 MiB (log-uniform sizes) at random offsets, from a fixed seed so two
 * files see the same requests. Prints latency percentiles and throughput.
 *
 *   fs_randread FILE [N] [SEED]
 *   -> "p50_us P p90_us P p99_us P mean_us M MBps T bytes B" */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fs_randread FILE [N] [SEED]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    uint64_t s = argc > 3 ? strtoull(argv[3], NULL, 0) : 42;
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || n < 1) {
        fprintf(stderr, "fs_randread: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    uint64_t size = (uint64_t)st.st_size;
    char *buf = malloc(1 << 20);
    double *lat = calloc((size_t)n, sizeof *lat);
    uint64_t bytes = 0;
    double t0 = now();
    for (int i = 0; i < n; i++) {
        size_t len = (size_t)(4096.0 * pow(256.0, (double)(rnd(&s) % 10001) / 10000.0));
        if (len > (1u << 20))
            len = 1u << 20;
        uint64_t off = size > len ? rnd(&s) % (size - len) : 0;
        double a = now();
        ssize_t got = pread(fd, buf, len, (off_t)off);
        lat[i] = (now() - a) * 1e6;
        if (got != (ssize_t)len) {
            fprintf(stderr, "fs_randread: short or failed read at %llu\n", (unsigned long long)off);
            return 1;
        }
        bytes += len;
    }
    double total = now() - t0;
    qsort(lat, (size_t)n, sizeof *lat, cmp_d);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += lat[i];
    printf("p50_us %.0f p90_us %.0f p99_us %.0f mean_us %.0f MBps %.1f bytes %llu\n",
           lat[n / 2], lat[n * 9 / 10], lat[n * 99 / 100], sum / n,
           (double)bytes / total / 1e6, (unsigned long long)bytes);
    free(buf);
    free(lat);
    close(fd);
    return 0;
}
