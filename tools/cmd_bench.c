/*
 * df11 bench: CPU decode throughput of one .df11 file, with memcpy of the
 * same bytes as a baseline measured in the same run on the same threads.
 *
 * Each thread pulls runs of chunk numbers from a shared counter and decodes into its
 * own region of a window (up to 512 MiB in all), so the output lands in
 * memory the way a real decompress does, not in one cache-hot buffer, and no
 * two threads ever write the same bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "msg.h"
#include "input.h"
#include "progress.h"

#define WINDOW_MAX ((size_t)512 << 20)

typedef struct {
    df11_reader *r;
    uint32_t n;
    const uint32_t *len;
    size_t cmax, slots; /* per-thread region: slots x cmax bytes */
    char *dst, *src;
    int copy;           /* 1: memcpy baseline, 0: decode */
    atomic_uint next;
    atomic_int failed;
    df11_error err;
} bench_run;

typedef struct {
    bench_run *b;
    int t;
} bench_arg;

/* Chunks are taken BATCH at a time and decoded with df11_decode_chunks,
 * as df11_pread and df11fs do: consecutive --max chunks of a tensor decode
 * interleaved (a lone 256 KiB ANS_IL chunk is latency-bound at about half
 * the speed of four together). The memcpy baseline takes the same batches. */
#define BATCH 8

static void *work(void *arg)
{
    bench_arg *a = arg;
    bench_run *b = a->b;
    char *dst = b->dst + (size_t)a->t * b->slots * b->cmax;
    char *src = b->src + (size_t)a->t * b->slots * b->cmax;
    size_t k = 0;
    unsigned step = b->slots < BATCH ? (unsigned)b->slots : BATCH, i;
    while ((i = atomic_fetch_add(&b->next, step)) < b->n) {
        unsigned n = b->n - i < step ? b->n - i : step;
        void *d[BATCH];
        for (unsigned j = 0; j < n; j++) d[j] = dst + (k++ % b->slots) * b->cmax;
        if (b->copy) {
            for (unsigned j = 0; j < n; j++)
                memcpy(d[j], src + ((char *)d[j] - dst), b->len[i + j]);
        } else {
            df11_error e;
            if (df11_decode_chunks(b->r, i, n, d, &e) != DF11_OK) {
                if (!atomic_exchange(&b->failed, 1))
                    b->err = e;
                break;
            }
        }
    }
    return NULL;
}

/* One pass over every chunk; returns seconds, or -1 after a decode error. */
static double pass(bench_run *b, int threads, pthread_t *tid, bench_arg *args)
{
    atomic_store(&b->next, 0);
    double t0 = cli_now();
    int started = 0;
    for (int t = 0; t < threads; t++) {
        args[t].b = b;
        args[t].t = t;
        if (pthread_create(&tid[t], NULL, work, &args[t]) == 0)
            started++;
    }
    if (!started)
        work(&args[0]);
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    double dt = cli_now() - t0;
    return atomic_load(&b->failed) ? -1.0 : dt;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int bench(const cli_opts *o, df11_reader *r, const char *path)
{
    int T = o->threads, R = o->repeat, rc = CLI_EXIT_OK;
    uint32_t n = df11_chunk_count(r);
    uint64_t total = df11_original_size(r);
    bench_run b;
    memset(&b, 0, sizeof b);
    b.r = r;
    b.n = n;
    b.cmax = df11_chunk_size_max(r);
    size_t per_thread = (n + (size_t)T - 1) / (size_t)T;
    b.slots = WINDOW_MAX / ((size_t)T * b.cmax);
    if (b.slots > per_thread)
        b.slots = per_thread;
    if (b.slots < 1)
        b.slots = 1;
    size_t window = (size_t)T * b.slots * b.cmax;
    uint32_t *len = malloc((n ? n : 1) * sizeof *len);
    b.dst = malloc(window);
    b.src = malloc(window);
    pthread_t *tid = calloc((size_t)T, sizeof *tid);
    bench_arg *args = calloc((size_t)T, sizeof *args);
    double *td = calloc((size_t)R, sizeof *td), *tc = calloc((size_t)R, sizeof *tc);
    if (!len || !b.dst || !b.src || !tid || !args || !td || !tc) {
        rc = msg_errno(path, "allocating bench buffers", ENOMEM);
        goto out;
    }
    b.len = len;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t off;
        df11_chunk_extent(r, i, &off, &len[i]);
    }
    /* Touch every page first so neither side pays for page faults. */
    memset(b.dst, 0, window);
    memset(b.src, 0x5a, window);

    if (pass(&b, T, tid, args) < 0) { /* warm-up, and proof it decodes */
        rc = msg_lib_error(&b.err);
        goto out;
    }
    for (int k = 0; k < R; k++) {
        b.copy = 0;
        if ((td[k] = pass(&b, T, tid, args)) < 0) {
            rc = msg_lib_error(&b.err);
            goto out;
        }
        b.copy = 1;
        tc[k] = pass(&b, T, tid, args);
    }
    double md = median(td, R), mc = median(tc, R);
    double gd = (double)total / md / 1e9, gc = (double)total / mc / 1e9;
    char a[32], s[32];
    printf("file      %s\n", path);
    printf("size      %s original, %s stored, %u chunks\n",
           msg_size(a, sizeof a, (double)total),
           msg_size(s, sizeof s, (double)df11_stored_size(r)), n);
    printf("threads   %d, %d repeats, medians (GB = 1e9 bytes of output)\n", T, R);
    printf("decode    %8.3f GB/s   %8.3f GB/s per thread   (min %.3f, max %.3f)\n",
           gd, gd / T, (double)total / td[R - 1] / 1e9, (double)total / td[0] / 1e9);
    printf("memcpy    %8.3f GB/s   %8.3f GB/s per thread\n", gc, gc / T);
    printf("decode is %.1f%% of memcpy speed\n", 100.0 * gd / gc);
out:
    free(len);
    free(b.dst);
    free(b.src);
    free(tid);
    free(args);
    free(td);
    free(tc);
    return rc;
}

static int run(const cli_opts *o)
{
    const char *path = o->inputs[0];
    df11_reader *r;
    int rc = input_open_df11(path, &r, NULL);
    if (rc)
        return rc;
    if (df11_original_size(r) == 0) {
        msg_error("%s: empty original; nothing to measure", path);
        rc = CLI_EXIT_FORMAT;
    } else {
        rc = bench(o, r, path);
    }
    df11_close(r);
    return rc;
}

const cli_command cmd_bench = {
    .name = "bench",
    .accepts = "qvThr",
    .synopsis = "measure decode throughput against memcpy",
    .min_inputs = 1,
    .max_inputs = 1,
    .run = run,
    .help =
        "Usage: df11 bench [-T N] [-r N] FILE.df11\n\n"
        "Decodes every chunk of FILE with N threads (one warm-up pass, then\n"
        "R timed passes) and prints the median decode throughput in GB/s of\n"
        "output (1 GB = 1e9 bytes), the same per thread, and memcpy of the\n"
        "same bytes on the same threads as a baseline. Every decoded chunk\n"
        "is checked against its checksum, as in normal reads.\n\n"
        "Options:\n"
        "  -T, --threads N   threads (default 0: all cores)\n"
        "  -r, --repeat N    timed passes (default 5)\n"
        "  -h, --help        this text\n\n"
        "Exit codes: 0 ok, 2 I/O error, 3 not a .df11 file or not a regular\n"
        "file, 4 corrupt data, 6 out of memory or internal error.\n",
};
