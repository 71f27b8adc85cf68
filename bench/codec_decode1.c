/*
 * codec_decode1: one thread decodes every chunk of each .df11 file given
 * (df11_decode_chunk: payload read from the page cache, decode, XXH3
 * check) into memory, R rounds interleaved across the files, and prints the
 * median GB/s of original bytes per file. Used to compare the default and
 * --max codecs (and two builds) on the same bytes at the same moment.
 * With -p, each round also reads the whole original with one df11_pread
 * into memory (one thread), the path on which consecutive --max chunks of
 * a tensor are decoded together, interleaved; printed as "pread".
 * With -b, each round also decodes every chunk again through
 * df11_decode_chunks, eight chunks a call (the interleaved path without the
 * one large destination buffer); printed as "batch8".
 * With -s, the chunk-by-chunk pass is skipped (its line then says 0), so
 * that a profile of -p or -b holds only that path.
 * With -m, each .df11 file is read into memory first and opened through a
 * df11_source that copies from there (memcpy), so the payloads come from
 * memory rather than through pread from the page cache: decode "in
 * memory", every check included.
 *
 *   codec_decode1 [-r ROUNDS] [-p] [-b] [-s] [-m] A.df11 [B.df11 ...]
 */
#include <math.h>
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

/* -m: a .df11 object held in memory */
typedef struct {
    uint8_t *bytes;
    uint64_t size;
} mem_object;

static df11_status mem_read_at(void *ctx, void *buf, size_t len, uint64_t off, size_t *got, df11_error *err)
{
    (void)err;
    mem_object *m = ctx;
    size_t n = off >= m->size ? 0 : m->size - off < len ? (size_t)(m->size - off) : len;
    memcpy(buf, m->bytes + off, n);
    *got = n;
    return DF11_OK;
}

static void mem_close(void *ctx)
{
    mem_object *m = ctx;
    free(m->bytes);
    free(m);
}

static df11_status open_in_memory(const char *path, df11_reader **r, df11_error *err)
{
    FILE *f = fopen(path, "rb");
    mem_object *m = calloc(1, sizeof *m);
    if (!f || !m || fseek(f, 0, SEEK_END) != 0 || (m->size = (uint64_t)ftell(f), fseek(f, 0, SEEK_SET)) != 0 ||
        !(m->bytes = malloc(m->size ? m->size : 1)) || fread(m->bytes, 1, m->size, f) != m->size) {
        if (f) fclose(f);
        if (m) free(m->bytes);
        free(m);
        snprintf(err->message, sizeof err->message, "%s: cannot read into memory", path);
        return DF11_E_IO;
    }
    fclose(f);
    df11_source src = { m, m->size, path, mem_read_at, mem_close };
    return df11_open_source(&src, r, err);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int rounds = 5, opt, whole = 0, batch = 0, single = 1, memory = 0;
    while ((opt = getopt(argc, argv, "r:pbsm")) != -1) {
        if (opt == 'p') whole = 1;
        else if (opt == 'm') memory = 1;
        else if (opt == 'b') batch = 1;
        else if (opt == 's') single = 0;
        else rounds = atoi(optarg);
    }
    int nf = argc - optind;
    if (nf < 1 || rounds < 1) {
        fprintf(stderr, "usage: codec_decode1 [-r ROUNDS] [-p] [-b] [-s] [-m] A.df11 [B.df11 ...]\n");
        return 2;
    }
    df11_reader **r = calloc(nf, sizeof *r);
    double *t = calloc((size_t)nf * rounds, sizeof *t), *tp = calloc((size_t)nf * rounds, sizeof *tp);
    double *tb = calloc((size_t)nf * rounds, sizeof *tb);
    enum { B = 8 };
    uint8_t *buf = NULL, *all = NULL, *bbuf = NULL;
    size_t cmax = 1u << 20;
    uint64_t all_size = 0;
    for (int f = 0; f < nf; f++) {
        df11_error err;
        if ((memory ? open_in_memory(argv[optind + f], &r[f], &err) : df11_open(argv[optind + f], &r[f], &err)) !=
            DF11_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        if (df11_chunk_size_max(r[f]) > cmax) cmax = df11_chunk_size_max(r[f]);
        if (df11_original_size(r[f]) > all_size) all_size = df11_original_size(r[f]);
    }
    buf = malloc(cmax);
    if (!buf || (batch && !(bbuf = malloc(B * cmax))) || (whole && !(all = malloc(all_size ? all_size : 1)))) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int k = 0; k < rounds; k++)
        for (int f = 0; f < nf; f++) {
            double t0 = now();
            for (uint32_t c = 0; single && c < df11_chunk_count(r[f]); c++) {
                df11_error err;
                if (df11_decode_chunk(r[f], c, buf, &err) != DF11_OK) {
                    fprintf(stderr, "%s\n", err.message);
                    return 1;
                }
            }
            t[f * rounds + k] = single ? now() - t0 : INFINITY;
            if (batch) {
                void *dst[B];
                for (int i = 0; i < B; i++) dst[i] = bbuf + i * cmax;
                t0 = now();
                for (uint32_t c = 0, n = df11_chunk_count(r[f]); c < n; c += B) {
                    df11_error err;
                    if (df11_decode_chunks(r[f], c, n - c < B ? n - c : B, dst, &err) != DF11_OK) {
                        fprintf(stderr, "%s\n", err.message);
                        return 1;
                    }
                }
                tb[f * rounds + k] = now() - t0;
            }
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
        if (batch) {
            qsort(tb + f * rounds, rounds, sizeof *tb, cmp);
            med = tb[f * rounds + rounds / 2];
            printf("%-40s %8.3f GB/s  (batch8, median of %d)\n", argv[optind + f],
                   df11_original_size(r[f]) / med / 1e9, rounds);
        }
        if (whole) {
            qsort(tp + f * rounds, rounds, sizeof *tp, cmp);
            med = tp[f * rounds + rounds / 2];
            printf("%-40s %8.3f GB/s  (pread, median of %d)\n", argv[optind + f],
                   df11_original_size(r[f]) / med / 1e9, rounds);
        }
        df11_close(r[f]);
    }
    free(buf);
    free(bbuf);
    free(tb);
    free(all);
    free(tp);
    free(t);
    free(r);
    return 0;
}
