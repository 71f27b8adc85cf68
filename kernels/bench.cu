/*
 * bench.cu - measurement helpers for kernels/gpu_bench.c: device properties,
 * device-to-device decode time of a set of chunks (payloads resident on the
 * GPU, output into GPU memory), and plain pinned copy times to compare with.
 * Timing uses CUDA events on one stream; the first pass is a checked warm-up.
 */
#include <stdlib.h>

#include "cuda_check.cuh"
#include "exp16.cuh"

extern "C" df11_status df11_cuda_info(df11_cuda_device_info *info, char *why, size_t why_len)
{
    int dev = 0, clock_khz = 0, bus_bits = 0;
    cudaDeviceProp p;
    CK(cudaGetDevice(&dev));
    CK(cudaGetDeviceProperties(&p, dev));
    /* Memory clock and bus width left cudaDeviceProp in CUDA 13. */
    CK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, dev));
    CK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev));
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%.127s", p.name);
    info->cc_major = p.major;
    info->cc_minor = p.minor;
    info->sm_count = p.multiProcessorCount;
    info->mem_bytes = p.totalGlobalMem;
    /* DDR: two transfers per clock. */
    info->mem_bw_gbs = 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;
    return DF11_OK;
}

namespace {

struct Bench {
    uint8_t *h_in = nullptr, *d_in = nullptr, *d_out = nullptr, *h_out = nullptr;
    uint16_t *d_luts = nullptr;
    df11_cuda_ans_table *d_ans = nullptr;
    df11_cuda_ans_il_table *d_il = nullptr;
    df11_dev_job *d_jobs = nullptr;
    df11_dev_block *d_blocks = nullptr, *d_lanes = nullptr, *d_ilw = nullptr, *d_ils = nullptr;
    int32_t *d_err = nullptr;
    cudaStream_t st = nullptr;
    cudaEvent_t t0 = nullptr, t1 = nullptr;
    ~Bench()
    {
        if (st) cudaStreamSynchronize(st);
        cudaFreeHost(h_in); cudaFreeHost(h_out);
        cudaFree(d_in); cudaFree(d_out); cudaFree(d_luts); cudaFree(d_ans);
        cudaFree(d_jobs); cudaFree(d_blocks); cudaFree(d_lanes); cudaFree(d_err);
        cudaFree(d_il); cudaFree(d_ilw); cudaFree(d_ils);
        if (t0) cudaEventDestroy(t0);
        if (t1) cudaEventDestroy(t1);
        if (st) cudaStreamDestroy(st);
    }
};

size_t align16(size_t v) { return (v + 15u) & ~(size_t)15u; }

int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times reps passes of work() (which enqueues on b.st and returns its
 * status; name says what it is when it fails), each between its own
 * events; *sec is the median seconds of a pass. */
template <typename Work>
df11_status time_passes(Bench &b, int reps, Work work, const char *name, double *sec, char *why, size_t why_len)
{
    if (reps < 1) reps = 1;
    double *t = (double *)malloc((size_t)reps * sizeof *t);
    if (!t) return DF11_E_NOMEM;
    df11_status st = DF11_OK;
    for (int r = 0; r < reps && st == DF11_OK; r++) {
        float ms = 0;
        if (!df11_ck(cudaEventRecord(b.t0, b.st), "cudaEventRecord", why, why_len) ||
            !df11_ck(work(), name, why, why_len) ||
            !df11_ck(cudaEventRecord(b.t1, b.st), "cudaEventRecord", why, why_len) ||
            !df11_ck(cudaEventSynchronize(b.t1), "cudaEventSynchronize", why, why_len) ||
            !df11_ck(cudaEventElapsedTime(&ms, b.t0, b.t1), "cudaEventElapsedTime", why, why_len))
            st = DF11_E_GPU;
        t[r] = ms / 1e3;
    }
    if (st == DF11_OK) {
        qsort(t, (size_t)reps, sizeof *t, cmp_double);
        *sec = reps % 2 ? t[reps / 2] : (t[reps / 2 - 1] + t[reps / 2]) / 2;
    }
    free(t);
    return st;
}

} // namespace

/* Every kernel over the whole set, on b.st. */
static cudaError_t launch_all(const Bench &b, uint32_t nblocks, uint32_t nlanes, uint32_t nilw, uint32_t nils)
{
    cudaError_t e = df11_exp16_launch(b.d_in, b.d_jobs, b.d_blocks, nblocks, b.d_luts, b.d_err, b.st);
    if (e == cudaSuccess) e = df11_ans_launch(b.d_in, b.d_jobs, b.d_lanes, nlanes, b.d_ans, b.d_err, b.st);
    if (e == cudaSuccess)
        e = df11_ans_il_launch(b.d_in, b.d_jobs, b.d_ilw, nilw, b.d_ils, nils, b.d_il, b.d_err, b.st);
    return e;
}

extern "C" df11_status df11_cuda_bench_decode(const df11_cuda_job *jobs, size_t n,
                                              const df11_cuda_tables *tables,
                                              const df11_cuda_io *io, int reps, double *sec,
                                              char *why, size_t why_len)
{
    Bench b;
    size_t in_total = 0, out_total = 0, nblocks = 0, nlanes = 0, nilw = 0, nils = 0;
    for (size_t j = 0; j < n; j++) {
        const bool ans = jobs[j].codec == DF11_CUDA_ANS, il = jobs[j].codec == DF11_CUDA_ANS_IL;
        const size_t ntab = ans ? tables->ans_count : il ? tables->ans_il_count : tables->lut_count;
        if (jobs[j].table >= ntab || jobs[j].n == 0 ||
            (!ans && !il && (jobs[j].codec != DF11_CUDA_EXP16 || jobs[j].lane_symbols < DF11_TILE ||
                             jobs[j].lane_symbols % DF11_TILE))) {
            df11_set_why(why, why_len, "job not valid for the GPU decoder");
            return DF11_E_ARG;
        }
        in_total += align16((size_t)jobs[j].payload_len + DF11_CUDA_SLACK);
        out_total += align16((size_t)jobs[j].n * 2u);
        if (ans) nlanes += df11_ans_lanes(jobs[j].n);
        else if (il) (df11_ans_il_lanes(jobs[j].n) == 1 ? nils : nilw)++; /* at most: pairs take one */
        else nblocks += df11_block_count(jobs[j].n, jobs[j].lane_symbols);
    }
    if (n == 0 || nblocks > 0x7fffffffu || nlanes > 0x7fffffffu) {
        df11_set_why(why, why_len, "nothing to decode, or too many blocks");
        return DF11_E_ARG;
    }
    df11_dev_job *hj = (df11_dev_job *)malloc(n * sizeof *hj);
    df11_dev_block *hb = (df11_dev_block *)malloc((nblocks + 1) * sizeof *hb);
    df11_dev_block *hl = (df11_dev_block *)malloc((nlanes + 1) * sizeof *hl);
    df11_dev_block *hw = (df11_dev_block *)malloc((nilw + 1) * sizeof *hw);
    df11_dev_block *hs = (df11_dev_block *)malloc((nils + 1) * sizeof *hs);
    int32_t *herr = (int32_t *)malloc(n * sizeof *herr);
    size_t *out_off = (size_t *)malloc(n * sizeof *out_off);
    const size_t lut_bytes = (tables->lut_count ? tables->lut_count : 1) * DF11_CUDA_LUT_ENTRIES * 2u;
    const size_t ans_bytes = (tables->ans_count ? tables->ans_count : 1) * sizeof(df11_cuda_ans_table);
    const size_t il_bytes = (tables->ans_il_count ? tables->ans_il_count : 1) * sizeof(df11_cuda_ans_il_table);
    df11_status st = DF11_E_NOMEM;
    if (!hj || !hb || !hl || !hw || !hs || !herr || !out_off) goto out;
    st = DF11_E_GPU;
    if (!df11_ck(cudaMallocHost((void **)&b.h_in, in_total), "cudaMallocHost", why, why_len) ||
        !df11_ck(cudaMalloc((void **)&b.d_in, in_total), "cudaMalloc", why, why_len) ||
        !df11_ck(cudaMalloc((void **)&b.d_out, out_total), "cudaMalloc", why, why_len) ||
        !df11_ck(cudaMalloc((void **)&b.d_luts, lut_bytes), "cudaMalloc", why, why_len) ||
        !df11_ck(cudaMalloc((void **)&b.d_ans, ans_bytes), "cudaMalloc", why, why_len) ||
        !df11_ck(cudaMalloc((void **)&b.d_jobs, n * sizeof *hj), "cudaMalloc", why, why_len) ||
        !df11_ck(cudaMalloc((void **)&b.d_blocks, (nblocks + 1) * sizeof *hb), "cudaMalloc", why, why_len) ||
        !df11_ck(cudaMalloc((void **)&b.d_lanes, (nlanes + 1) * sizeof *hl), "cudaMalloc", why, why_len) ||
        !df11_ck(cudaMalloc((void **)&b.d_il, il_bytes), "cudaMalloc", why, why_len) ||
        !df11_ck(cudaMalloc((void **)&b.d_ilw, (nilw + 1) * sizeof *hw), "cudaMalloc", why, why_len) ||
        !df11_ck(cudaMalloc((void **)&b.d_ils, (nils + 1) * sizeof *hs), "cudaMalloc", why, why_len) ||
        !df11_ck(cudaMalloc((void **)&b.d_err, n * sizeof *herr), "cudaMalloc", why, why_len) ||
        !df11_ck(cudaStreamCreate(&b.st), "cudaStreamCreate", why, why_len) ||
        !df11_ck(cudaEventCreate(&b.t0), "cudaEventCreate", why, why_len) ||
        !df11_ck(cudaEventCreate(&b.t1), "cudaEventCreate", why, why_len))
        goto out;
    {
        size_t in_off = 0, o = 0, blk = 0, ln = 0, iw = 0, is = 0, open = SIZE_MAX;
        for (size_t j = 0; j < n; j++) {
            st = io->load(io->ctx, j, b.h_in + in_off);
            if (st != DF11_OK) {
                df11_set_why(why, why_len, "a payload failed to load or validate");
                goto out;
            }
            size_t in_need = align16((size_t)jobs[j].payload_len + DF11_CUDA_SLACK);
            memset(b.h_in + in_off + jobs[j].payload_len, 0, in_need - jobs[j].payload_len);
            hj[j] = df11_dev_job{in_off, b.d_out + o, jobs[j].payload_len, jobs[j].n,
                                 jobs[j].lane_symbols, jobs[j].table, jobs[j].il_signs};
            if (jobs[j].codec == DF11_CUDA_ANS) {
                for (uint32_t k = 0; k < df11_ans_lanes(jobs[j].n); k++) hl[ln++] = df11_dev_block{(uint32_t)j, k};
            } else if (jobs[j].codec == DF11_CUDA_ANS_IL) {
                /* As batch.cu pairs them: two 16-lane chunks of one table a warp. */
                const uint32_t nl = df11_ans_il_lanes(jobs[j].n);
                if (nl == 1) {
                    hs[is++] = df11_dev_block{(uint32_t)j, 0};
                } else if (nl == 16 && open != SIZE_MAX && jobs[hw[open].job].table == jobs[j].table) {
                    hw[open].lane0 = (uint32_t)j + 1u;
                    open = SIZE_MAX;
                } else {
                    if (nl == 16) open = iw;
                    hw[iw++] = df11_dev_block{(uint32_t)j, 0};
                }
            } else {
                uint32_t nb = df11_block_count(jobs[j].n, jobs[j].lane_symbols);
                for (uint32_t k = 0; k < nb; k++) hb[blk++] = df11_dev_block{(uint32_t)j, k * DF11_LANES_PER_BLOCK};
            }
            out_off[j] = o;
            in_off += in_need;
            o += align16((size_t)jobs[j].n * 2u);
        }
        nilw = iw; /* paired 16-lane chunks share an entry */
    }
    st = DF11_E_GPU;
    if (!df11_ck(cudaMemcpy(b.d_in, b.h_in, in_total, cudaMemcpyHostToDevice), "cudaMemcpy", why, why_len) ||
        (tables->lut_count &&
         !df11_ck(cudaMemcpy(b.d_luts, tables->luts, tables->lut_count * DF11_CUDA_LUT_ENTRIES * 2u,
                             cudaMemcpyHostToDevice), "cudaMemcpy", why, why_len)) ||
        (tables->ans_count &&
         !df11_ck(cudaMemcpy(b.d_ans, tables->ans, tables->ans_count * sizeof(df11_cuda_ans_table),
                             cudaMemcpyHostToDevice), "cudaMemcpy", why, why_len)) ||
        !df11_ck(cudaMemcpy(b.d_jobs, hj, n * sizeof *hj, cudaMemcpyHostToDevice), "cudaMemcpy", why, why_len) ||
        !df11_ck(cudaMemcpy(b.d_blocks, hb, (nblocks + 1) * sizeof *hb, cudaMemcpyHostToDevice), "cudaMemcpy", why, why_len) ||
        !df11_ck(cudaMemcpy(b.d_lanes, hl, (nlanes + 1) * sizeof *hl, cudaMemcpyHostToDevice), "cudaMemcpy", why, why_len) ||
        (tables->ans_il_count &&
         !df11_ck(cudaMemcpy(b.d_il, tables->ans_il, tables->ans_il_count * sizeof(df11_cuda_ans_il_table),
                             cudaMemcpyHostToDevice), "cudaMemcpy", why, why_len)) ||
        (nilw && !df11_ck(cudaMemcpy(b.d_ilw, hw, nilw * sizeof *hw, cudaMemcpyHostToDevice), "cudaMemcpy", why, why_len)) ||
        (nils && !df11_ck(cudaMemcpy(b.d_ils, hs, nils * sizeof *hs, cudaMemcpyHostToDevice), "cudaMemcpy", why, why_len)) ||
        !df11_ck(cudaMemset(b.d_err, 0, n * sizeof *herr), "cudaMemset", why, why_len) ||
        !df11_ck(launch_all(b, (uint32_t)nblocks, (uint32_t)nlanes, (uint32_t)nilw, (uint32_t)nils), "launch", why, why_len) ||
        !df11_ck(cudaStreamSynchronize(b.st), "cudaStreamSynchronize", why, why_len) ||
        !df11_ck(cudaMemcpy(herr, b.d_err, n * sizeof *herr, cudaMemcpyDeviceToHost), "cudaMemcpy", why, why_len))
        goto out;
    /* The warm-up pass is checked in full: a fast wrong decoder is no result. */
    if (!df11_ck(cudaMallocHost((void **)&b.h_out, out_total), "cudaMallocHost", why, why_len) ||
        !df11_ck(cudaMemcpy(b.h_out, b.d_out, out_total, cudaMemcpyDeviceToHost), "cudaMemcpy", why, why_len))
        goto out;
    for (size_t j = 0; j < n; j++) {
        if (herr[j] != 0 || io->check(io->ctx, j, b.h_out + out_off[j]) != DF11_OK) {
            st = herr[j] ? DF11_E_CORRUPT_CHUNK : DF11_E_CHECKSUM;
            if (why && why_len) snprintf(why, why_len, "warm-up decode of job %zu is wrong", j);
            goto out;
        }
    }
    st = time_passes(b, reps, [&] { return launch_all(b, (uint32_t)nblocks, (uint32_t)nlanes, (uint32_t)nilw, (uint32_t)nils); },
                     "launch", sec, why, why_len);
out:
    free(hj);
    free(hb);
    free(hl);
    free(hw);
    free(hs);
    free(herr);
    free(out_off);
    return st;
}

extern "C" df11_status df11_cuda_bench_copy(size_t bytes, int reps, double *h2d_sec, double *d2h_sec,
                                            char *why, size_t why_len)
{
    Bench b;
    float ms = 0;
    CK(cudaMallocHost((void **)&b.h_in, bytes));
    CK(cudaMalloc((void **)&b.d_in, bytes));
    CK(cudaStreamCreate(&b.st));
    CK(cudaEventCreate(&b.t0));
    CK(cudaEventCreate(&b.t1));
    memset(b.h_in, 0x5a, bytes); /* touch every page before timing */
    CK(cudaMemcpy(b.d_in, b.h_in, bytes, cudaMemcpyHostToDevice));
    CK(cudaEventRecord(b.t0, b.st));
    for (int r = 0; r < reps; r++) CK(cudaMemcpyAsync(b.d_in, b.h_in, bytes, cudaMemcpyHostToDevice, b.st));
    CK(cudaEventRecord(b.t1, b.st));
    CK(cudaEventSynchronize(b.t1));
    CK(cudaEventElapsedTime(&ms, b.t0, b.t1));
    *h2d_sec = ms / 1e3 / (reps > 0 ? reps : 1);
    CK(cudaEventRecord(b.t0, b.st));
    for (int r = 0; r < reps; r++) CK(cudaMemcpyAsync(b.h_in, b.d_in, bytes, cudaMemcpyDeviceToHost, b.st));
    CK(cudaEventRecord(b.t1, b.st));
    CK(cudaEventSynchronize(b.t1));
    CK(cudaEventElapsedTime(&ms, b.t0, b.t1));
    *d2h_sec = ms / 1e3 / (reps > 0 ? reps : 1);
    return DF11_OK;
}

/* The device's own copy ceiling, in the same run as the decode: bytes
 * copied device to device (read once, written once), median of reps. */
extern "C" df11_status df11_cuda_bench_d2d_copy(size_t bytes, int reps, double *sec, char *why, size_t why_len)
{
    Bench b;
    CK(cudaMalloc((void **)&b.d_in, bytes));
    CK(cudaMalloc((void **)&b.d_out, bytes));
    CK(cudaStreamCreate(&b.st));
    CK(cudaEventCreate(&b.t0));
    CK(cudaEventCreate(&b.t1));
    CK(cudaMemset(b.d_in, 0x5a, bytes));
    CK(cudaMemcpyAsync(b.d_out, b.d_in, bytes, cudaMemcpyDeviceToDevice, b.st)); /* warm-up */
    return time_passes(b, reps, [&] { return cudaMemcpyAsync(b.d_out, b.d_in, bytes, cudaMemcpyDeviceToDevice, b.st); },
                       "cudaMemcpyAsync", sec, why, why_len);
}
