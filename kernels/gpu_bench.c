/*
 * gpu_bench - GPU decode throughput on real weights.
 *
 *   gpu_bench [--max] [model.safetensors] [min_MiB]
 *
 * The model (default: the GPT-2 file in /work/shared/models) is compressed to
 * a temporary .df11; its chunks are repeated until the batch decodes to at
 * least min_MiB (default 256) of BF16. Reported, all from this one run:
 *   d2d   payloads resident in GPU memory, output into GPU memory: kernel
 *         time only (CUDA events around each of 20 passes, the median),
 *         GB/s of output and as a fraction of the device's peak memory
 *         bandwidth (reads of payload + writes counted); then a
 *         cudaMemcpy device to device of as many bytes, the measured
 *         ceiling;
 *   h2h   df11_gpu_decode_batch(HOST) wall time, file -> pinned -> GPU ->
 *         host, every chunk checked, against a plain pinned H2D + D2H copy
 *         of the same decoded bytes (the floor for any host-to-host path);
 *         once into pageable memory (the driver stages the copy out) and
 *         once into pinned memory (one asynchronous DMA per chunk);
 *   cpu   the same batch on the CPU fallback path (one thread), for scale.
 * --max compresses with DF11_LEVEL_MAX, so BF16 chunks are ANS_IL chunks
 * (format 1.2; ANS chunks from an encoder before it) and the ANS_IL (or
 * ANS) kernel is what d2d times; the "# chunks" line says which. Without a GPU it prints one SKIP line
 * and exits 0. The benchmark's job preparation (df11_gpu_plan_*) is the
 * batch API's own; only this driver lives outside libdf11.
 */
#include "df11.h"
#include "decompress/gpu_codec.h"
#include "decompress/reader.h"
#include "lane_decode.h" /* DF11_LANE_AHEAD, to say which build this is */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static uint8_t unused_dst;

/* Jobs over every chunk of r (all codecs), repeated to at least min bytes,
 * each repeat into its own region of out (NULL: a placeholder dst). */
static df11_chunk_job *make_jobs(df11_reader *r, uint64_t min, uint8_t *out, size_t *n, uint64_t *total)
{
    uint32_t nc = df11_chunk_count(r);
    uint64_t per = df11_original_size(r);
    size_t reps = per ? (size_t)((min + per - 1) / per) : 0;
    size_t cap = reps * nc;
    df11_chunk_job *jobs = malloc((cap ? cap : 1) * sizeof *jobs);
    if (!jobs) return NULL;
    size_t k = 0;
    for (size_t rep = 0; rep < reps; rep++)
        for (uint32_t i = 0; i < nc; i++) {
            uint64_t off;
            uint32_t len;
            df11_chunk_extent(r, i, &off, &len);
            /* Without out (d2d), dst is never written (df11_cuda_bench_decode
             * decodes into its own device buffer) but must not be NULL: the
             * batch's job check refuses NULL destinations. */
            jobs[k++] = (df11_chunk_job){r, i, out ? out + rep * per + off : (void *)&unused_dst};
        }
    *n = k;
    *total = reps * per;
    return jobs;
}

/* df11_cuda_bench_decode over the GPU-path chunks among jobs (the others
 * are left out; *bytes gets the decoded bytes per pass). */
static df11_status bench_jobs(const df11_chunk_job *jobs, size_t n, int reps, double *sec,
                              uint64_t *bytes, df11_error *err)
{
    df11_gpu_plan *plan;
    const df11_cuda_job *gj;
    size_t ng;
    df11_cuda_tables tables;
    df11_cuda_io io;
    df11_status st = df11_gpu_plan_make(jobs, n, DF11_BATCH_DEVICE, &plan, &gj, &ng, &tables, &io, err);
    if (st != DF11_OK) return st;
    *bytes = 0;
    for (size_t k = 0; k < ng; k++) *bytes += (uint64_t)gj[k].n * 2;
    char why[256] = "";
    st = df11_cuda_bench_decode(gj, ng, &tables, &io, reps, sec, why, sizeof why);
    if (st != DF11_OK) {
        df11_gpu_plan_error(plan, err);
        if (err && err->code == DF11_OK) {
            err->code = st;
            snprintf(err->message, sizeof err->message, "GPU benchmark: %s", why);
        }
    }
    df11_gpu_plan_free(plan);
    return st;
}

static int host_batch(const df11_chunk_job *jobs, size_t n, df11_status *st, double *best)
{
    df11_error err;
    *best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        df11_status s = df11_gpu_decode_batch(jobs, n, DF11_BATCH_HOST, st, &err);
        double t = now() - t0;
        if (s != DF11_OK) {
            fprintf(stderr, "gpu_bench: host batch failed: %s\n", err.message);
            return -1;
        }
        if (t < *best) *best = t;
    }
    return 0;
}

int main(int argc, char **argv)
{
    df11_encode_options opt;
    df11_encode_options_default(&opt);
    if (argc > 1 && !strcmp(argv[1], "--max")) {
        opt.level = DF11_LEVEL_MAX;
        argc--;
        argv++;
    }
    const char *model = argc > 1 ? argv[1] : "/work/shared/models/gpt2-small-partial.bf16.safetensors";
    uint64_t min = (argc > 2 ? strtoull(argv[2], NULL, 10) : 256) << 20;
    df11_error err;
    if (df11_gpu_available(&err) != DF11_OK) {
        printf("SKIP gpu_bench %s\n", err.message);
        return 0;
    }
    printf("# %s\n", err.message);
    char why[256];
    df11_cuda_device_info info;
    if (df11_cuda_info(&info, why, sizeof why) != DF11_OK) {
        fprintf(stderr, "gpu_bench: %s\n", why);
        return 1;
    }
    printf("# %s, %d SMs, %.1f GiB, peak memory bandwidth %.0f GB/s\n", info.name, info.sm_count,
           info.mem_bytes / 1073741824.0, info.mem_bw_gbs);
    printf("# EXP16 lane reader: %d word(s) loaded ahead (DF11_LANE_AHEAD)\n", DF11_LANE_AHEAD);

    char dir[] = "/tmp/gpu_bench.XXXXXX", path[64];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/m.df11", dir);
    df11_reader *r = NULL;
    int rc = 1;
    if (df11_encode_file(model, path, &opt, &err) != DF11_OK || df11_open(path, &r, &err) != DF11_OK) {
        fprintf(stderr, "gpu_bench: %s\n", err.message);
        goto out;
    }
    printf("# %s: %llu -> %llu bytes (%.2f%%)\n", model, (unsigned long long)df11_original_size(r),
           (unsigned long long)df11_stored_size(r), 100.0 * df11_stored_size(r) / df11_original_size(r));
    {
        uint32_t by[6] = {0};
        for (uint32_t i = 0; i < r->chunk_count; i++) by[r->chunks[i].codec < 6 ? r->chunks[i].codec : 0]++;
        printf("# chunks: %u EXP, %u ANS, %u ANS_IL, %u other\n", by[DF11_FMT_EXP], by[DF11_FMT_ANS],
               by[DF11_FMT_ANS_IL], r->chunk_count - by[DF11_FMT_EXP] - by[DF11_FMT_ANS] - by[DF11_FMT_ANS_IL]);
    }

    /* Device to device: the EXP16 chunks only (the others never go to the GPU). */
    {
        size_t n;
        uint64_t total, bytes = 0;
        df11_chunk_job *jobs = make_jobs(r, min + min / 2, NULL, &n, &total);
        double sec = 0;
        if (!jobs || bench_jobs(jobs, n, 20, &sec, &bytes, &err) != DF11_OK) {
            fprintf(stderr, "gpu_bench: d2d: %s\n", jobs ? err.message : "out of memory");
            free(jobs);
            goto out;
        }
        double in_bytes = bytes * (double)df11_stored_size(r) / df11_original_size(r);
        printf("d2d  %.1f MiB BF16 out in %.3f ms (median of 20): %.1f GB/s output, %.1f%% of peak memory "
               "bandwidth (%.1f%% counting payload reads)\n",
               bytes / 1048576.0, sec * 1e3, bytes / sec / 1e9, 100.0 * bytes / sec / 1e9 / info.mem_bw_gbs,
               100.0 * (bytes + in_bytes) / sec / 1e9 / info.mem_bw_gbs);
        /* The ceiling from the same run: a plain device-to-device copy of
         * as many bytes as the decode writes. */
        double copy = 0;
        if (df11_cuda_bench_d2d_copy((size_t)bytes, 20, &copy, why, sizeof why) == DF11_OK)
            printf("d2d  cudaMemcpy device to device of %.1f MiB in %.3f ms (median of 20): %.1f GB/s "
                   "(%.1f GB/s read + write); decode / copy time = %.2f\n",
                   bytes / 1048576.0, copy * 1e3, bytes / copy / 1e9, 2.0 * bytes / copy / 1e9, sec / copy);
        else
            fprintf(stderr, "gpu_bench: d2d copy: %s\n", why);
        free(jobs);
    }
    /* For a profiler run (ncu) of the d2d kernels alone. */
    if (getenv("GPU_BENCH_D2D_ONLY")) {
        rc = 0;
        goto out;
    }

    /* Host to host, against the plain copy floor and the CPU path. */
    {
        size_t n;
        uint64_t total;
        uint64_t per = df11_original_size(r);
        size_t reps = (size_t)((min + per - 1) / per);
        uint8_t *out = malloc(reps * per);
        df11_chunk_job *jobs = out ? make_jobs(r, min, out, &n, &total) : NULL;
        df11_status *st = jobs ? malloc(n * sizeof *st) : NULL;
        double gpu_t, cpu_t, h2d, d2h;
        if (!st) {
            fprintf(stderr, "gpu_bench: out of memory\n");
            free(out);
            free(jobs);
            goto out;
        }
        memset(out, 1, total); /* fault the pages in before timing */
        int ok = host_batch(jobs, n, st, &gpu_t) == 0 &&
                 df11_cuda_bench_copy(total, 5, &h2d, &d2h, why, sizeof why) == DF11_OK;
        /* The same batch into pinned memory: the asynchronous D2H path,
         * against the driver-staged copy into pageable memory above. */
        double pin_t = 0;
        uint8_t *pin = NULL;
        size_t pn;
        uint64_t ptotal;
        df11_chunk_job *pjobs = NULL;
        if (ok && df11_cuda_malloc_host((void **)&pin, reps * per, why, sizeof why) == DF11_OK &&
            (pjobs = make_jobs(r, min, pin, &pn, &ptotal)) != NULL) {
            memset(pin, 1, ptotal);
            if (host_batch(pjobs, pn, st, &pin_t) != 0) pin_t = 0;
        }
        free(pjobs);
        df11_cuda_free_host(pin);
        setenv("DF11_GPU", "0", 1);
        ok = ok && host_batch(jobs, n, st, &cpu_t) == 0;
        unsetenv("DF11_GPU");
        if (ok) {
            printf("h2h  %.1f MiB: GPU batch %.1f ms (%.2f GB/s); pinned H2D+D2H copy %.1f ms (%.2f GB/s); "
                   "batch / copy = %.2f\n",
                   total / 1048576.0, gpu_t * 1e3, total / gpu_t / 1e9, (h2d + d2h) * 1e3,
                   total / (h2d + d2h) / 1e9, gpu_t / (h2d + d2h));
            if (pin_t > 0)
                printf("h2h  %.1f MiB into pinned memory: GPU batch %.1f ms (%.2f GB/s); pageable / pinned = %.2f\n",
                       total / 1048576.0, pin_t * 1e3, total / pin_t / 1e9, gpu_t / pin_t);
            printf("cpu  %.1f MiB: CPU fallback batch (1 thread) %.1f ms (%.2f GB/s)\n", total / 1048576.0,
                   cpu_t * 1e3, total / cpu_t / 1e9);
            rc = 0;
        } else {
            fprintf(stderr, "gpu_bench: h2h: %s\n", why);
        }
        free(st);
        free(jobs);
        free(out);
    }
out:
    df11_close(r);
    unlink(path);
    rmdir(dir);
    return rc;
}
