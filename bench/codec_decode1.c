/*
 * codec_decode1: one thread decodes every chunk of each .df11 file given
 * (df11_decode_chunk: payload read from the page cache, decode, XXH3
 * check) into memory, R rounds interleaved across the files, and prints the
 * median GB/s of original bytes per file. Used to compare the default and
 * --max codecs (and two builds) on the same bytes at the same moment.
 * With -p, each round also reads the whole original with one df11_pread
 * into memory (one thread), the path on which consecutive --max chunks of
 * a tensor are decoded two at a time, interleaved; printed as "pread".
 *
 *   codec_decode1 [-r ROUNDS] [-p] A.df11 [B.df11 ...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "df11.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int rounds = 5, opt, whole = 0;
    while ((opt = getopt(argc, argv, "r:p")) != -1) {
        if (opt == 'p') whole = 1;
        else rounds = atoi(optarg);
    }
    int nf = argc - optind;
    if (nf < 1 || rounds < 1) {
        fprintf(stderr, "usage: codec_decode1 [-r ROUNDS] [-p] A.df11 [B.df11 ...]\n");
        return 2;
    }
    df11_reader **r = calloc(nf, sizeof *r);
    double *t = calloc((size_t)nf * rounds, sizeof *t), *tp = calloc((size_t)nf * rounds, sizeof *tp);
    uint8_t *buf = NULL, *all = NULL;
    uint64_t all_size = 0;
    for (int f = 0; f < nf; f++) {
        df11_error err;
        if (df11_open(argv[optind + f], &r[f], &err) != DF11_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        if (!buf) buf = malloc(df11_chunk_size_max(r[f]) > (1u << 20) ? df11_chunk_size_max(r[f]) : (1u << 20));
        if (df11_original_size(r[f]) > all_size) all_size = df11_original_size(r[f]);
    }
    if (whole && !(all = malloc(all_size ? all_size : 1))) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int k = 0; k < rounds; k++)
        for (int f = 0; f < nf; f++) {
            double t0 = now();
            for (uint32_t c = 0; c < df11_chunk_count(r[f]); c++) {
                df11_error err;
                if (df11_decode_chunk(r[f], c, buf, &err) != DF11_OK) {
                    fprintf(stderr, "%s\n", err.message);
                    return 1;
                }
            }
            t[f * rounds + k] = now() - t0;
            if (!whole) continue;
            df11_error err;
            t0 = now();
            if (df11_pread(r[f], all, df11_original_size(r[f]), 0, &err) != DF11_OK) {
                fprintf(stderr, "%s\n", err.message);
                return 1;
            }
            tp[f * rounds + k] = now() - t0;
        }
    for (int f = 0; f < nf; f++) {
        qsort(t + f * rounds, rounds, sizeof *t, cmp);
        double med = t[f * rounds + rounds / 2];
        printf("%-40s %8.3f GB/s  (median of %d, %.1f MB)\n", argv[optind + f],
               df11_original_size(r[f]) / med / 1e9, rounds, df11_original_size(r[f]) / 1e6);
        if (whole) {
            qsort(tp + f * rounds, rounds, sizeof *tp, cmp);
            med = tp[f * rounds + rounds / 2];
            printf("%-40s %8.3f GB/s  (pread, median of %d)\n", argv[optind + f],
                   df11_original_size(r[f]) / med / 1e9, rounds);
        }
        df11_close(r[f]);
    }
    free(buf);
    free(all);
    free(tp);
    free(t);
    free(r);
    return 0;
}
