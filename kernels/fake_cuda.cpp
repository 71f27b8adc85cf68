/*
 * fake_cuda.cpp - the CPU implementation of kernels/fake_cuda.h (see there):
 * a CUDA runtime subset where every call runs at once, "device" memory is
 * host memory remembered as such, and the three launchers run the kernels'
 * lanes with the code their CPU model shares with them (lane_decode.h,
 * ans_lane.h, ans_il_warp.h), block by block and lane by lane as the grids
 * lay them out.
 */
#include <map>
#include <mutex>
#include <set>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <string>
#include <time.h>

#include "exp16.cuh"
#include "ans_lane.h"
#include "ans_il_warp.h"
#include "lane_decode.h"

namespace {

std::mutex g_mu;
std::map<uintptr_t, std::pair<size_t, cudaMemoryType>> g_allocs; /* start -> (len, type) */
std::string g_fail_env;
long g_fail_at, g_calls;
thread_local cudaError_t t_last = cudaSuccess;

/* DF11_FAKE_CUDA_FAIL_AT=N: the Nth fallible call after the variable last
 * changed fails, once. */
cudaError_t fallible()
{
    std::lock_guard<std::mutex> lk(g_mu);
    const char *v = getenv("DF11_FAKE_CUDA_FAIL_AT");
    std::string now = v ? v : "";
    if (now != g_fail_env) {
        g_fail_env = now;
        g_fail_at = v ? atol(v) : 0;
        g_calls = 0;
    }
    if (g_fail_at > 0 && ++g_calls == g_fail_at) {
        t_last = cudaErrorUnknown;
        return cudaErrorUnknown;
    }
    return cudaSuccess;
}

cudaError_t alloc(void **p, size_t len, cudaMemoryType type)
{
    if (cudaError_t e = fallible()) return e;
    /* 256-byte alignment like cudaMalloc; at least one byte. */
    *p = aligned_alloc(256, (len + 255) / 256 * 256 + 256);
    if (!*p) return cudaErrorMemoryAllocation;
    std::lock_guard<std::mutex> lk(g_mu);
    g_allocs[(uintptr_t)*p] = {len, type};
    return cudaSuccess;
}

cudaError_t release(void *p)
{
    if (!p) return cudaSuccess;
    std::lock_guard<std::mutex> lk(g_mu);
    auto it = g_allocs.find((uintptr_t)p);
    if (it == g_allocs.end()) return cudaErrorInvalidValue;
    g_allocs.erase(it);
    free(p);
    return cudaSuccess;
}

/* The type of the allocation holding [p, p + len), Unregistered if none;
 * a range that runs out of its allocation is an error, as on a GPU. */
cudaError_t lookup(const void *p, size_t len, cudaMemoryType *type)
{
    std::lock_guard<std::mutex> lk(g_mu);
    auto it = g_allocs.upper_bound((uintptr_t)p);
    *type = cudaMemoryTypeUnregistered;
    if (it == g_allocs.begin()) return cudaSuccess;
    --it;
    const uintptr_t a = it->first, q = (uintptr_t)p;
    if (q >= a + it->second.first + (it->second.first == 0)) return cudaSuccess;
    if (q + len > a + it->second.first) return cudaErrorInvalidValue;
    *type = it->second.second;
    return cudaSuccess;
}

/* A copy checks what a GPU would: each side is of the kind named. */
cudaError_t copy(void *dst, const void *src, size_t len, cudaMemcpyKind k)
{
    if (cudaError_t e = fallible()) return e;
    cudaMemoryType td, ts;
    if (lookup(dst, len, &td) || lookup(src, len, &ts)) return t_last = cudaErrorInvalidValue;
    const bool dev_dst = td == cudaMemoryTypeDevice, dev_src = ts == cudaMemoryTypeDevice;
    const bool ok = (k == cudaMemcpyHostToDevice && dev_dst && !dev_src) ||
                    (k == cudaMemcpyDeviceToHost && !dev_dst && dev_src) ||
                    (k == cudaMemcpyDeviceToDevice && dev_dst && dev_src) ||
                    (k == cudaMemcpyHostToHost && !dev_dst && !dev_src);
    if (!ok) return t_last = cudaErrorInvalidValue;
    if (len) memmove(dst, src, len);
    return cudaSuccess;
}

} // namespace

/* Work is done at once, but each stream counts what was enqueued on it
 * (seq) and how much of that a successful synchronization has covered
 * (synced), so a test can tell whether a caller returned or handed a
 * slot on while work it enqueued could, on a GPU, still be running
 * (df11_fake_cuda_unsynced). */
struct fake_stream { long seq = 0, synced = 0; };
struct fake_event { double t = 0; fake_stream *s = nullptr; long mark = 0; };

namespace {
std::set<fake_stream *> g_streams; /* under g_mu */

cudaError_t enqueued(cudaError_t e, cudaStream_t s)
{
    if (e == cudaSuccess && s) {
        std::lock_guard<std::mutex> lk(g_mu);
        s->seq++;
    }
    return e;
}
} // namespace

/* Operations enqueued on live streams that no successful stream or event
 * synchronization has covered yet. */
extern "C" long df11_fake_cuda_unsynced(void)
{
    std::lock_guard<std::mutex> lk(g_mu);
    long n = 0;
    for (fake_stream *s : g_streams) n += s->seq - s->synced;
    return n;
}

cudaError_t cudaGetDeviceCount(int *count) { *count = 1; return cudaSuccess; }
cudaError_t cudaGetDevice(int *dev) { *dev = 0; return cudaSuccess; }
cudaError_t cudaSetDevice(int dev) { return dev == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int)
{
    snprintf(p->name, sizeof p->name, "fake CUDA device (CPU, kernels/fake_cuda.cpp)");
    p->major = 9;
    p->minor = 0;
    p->multiProcessorCount = 1;
    p->totalGlobalMem = (size_t)1 << 30;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int)
{
    *v = a == cudaDevAttrMemoryClockRate ? 1000000 : 64; /* 16 GB/s, "DDR" */
    return cudaSuccess;
}
cudaError_t cudaGetLastError(void)
{
    cudaError_t e = t_last;
    t_last = cudaSuccess;
    return e;
}
const char *cudaGetErrorString(cudaError_t e) { return e ? "fake failure" : "no error"; }
const char *cudaGetErrorName(cudaError_t e) { return e ? "cudaErrorUnknown" : "cudaSuccess"; }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned)
{
    *s = new fake_stream();
    std::lock_guard<std::mutex> lk(g_mu);
    g_streams.insert(*s);
    return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t *s) { return cudaStreamCreateWithFlags(s, 0); }
cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    std::lock_guard<std::mutex> lk(g_mu);
    g_streams.erase(s);
    delete s;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
    cudaError_t e = fallible();
    if (e == cudaSuccess && s) {
        std::lock_guard<std::mutex> lk(g_mu);
        s->synced = s->seq;
    }
    return e;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned)
{
    *e = new fake_event();
    return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t *e) { return cudaEventCreateWithFlags(e, 0); }
cudaError_t cudaEventDestroy(cudaEvent_t e) { delete e; return cudaSuccess; }
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    e->t = ts.tv_sec + ts.tv_nsec / 1e9;
    cudaError_t r = fallible();
    if (r == cudaSuccess) {
        std::lock_guard<std::mutex> lk(g_mu);
        e->s = s;
        e->mark = s ? s->seq : 0;
    }
    return r;
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    *ms = (float)((b->t - a->t) * 1e3);
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t ev)
{
    cudaError_t e = fallible();
    if (e == cudaSuccess && ev->s) {
        std::lock_guard<std::mutex> lk(g_mu);
        if (g_streams.count(ev->s) && ev->s->synced < ev->mark) ev->s->synced = ev->mark;
    }
    return e;
}
cudaError_t cudaMalloc(void **p, size_t len) { return alloc(p, len, cudaMemoryTypeDevice); }
cudaError_t cudaMallocHost(void **p, size_t len) { return alloc(p, len, cudaMemoryTypeHost); }
cudaError_t cudaFree(void *p) { return release(p); }
cudaError_t cudaFreeHost(void *p) { return release(p); }
cudaError_t cudaMemset(void *p, int v, size_t len)
{
    cudaMemoryType t;
    if (lookup(p, len, &t) || t != cudaMemoryTypeDevice) return cudaErrorInvalidValue;
    memset(p, v, len);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int v, size_t len, cudaStream_t s)
{
    if (cudaError_t e = fallible()) return e;
    return enqueued(cudaMemset(p, v, len), s);
}
cudaError_t cudaMemcpy(void *dst, const void *src, size_t len, cudaMemcpyKind k)
{
    return copy(dst, src, len, k);
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t len, cudaMemcpyKind k, cudaStream_t s)
{
    return enqueued(copy(dst, src, len, k), s);
}
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes *a, const void *p)
{
    cudaMemoryType t;
    lookup(p, 1, &t);
    a->type = t;
    a->device = t == cudaMemoryTypeUnregistered ? -1 : 0;
    return cudaSuccess;
}

/* --- the launchers --- */

static void report(int32_t *errs, uint32_t job, int32_t v)
{
    if (errs[job] == 0) errs[job] = v; /* atomicCAS(errs[job], 0, v) */
}

/* decode.cu's grid, block by block: the same size checks, lane offsets,
 * lane reader, end check and BF16 join, without the shared-memory tile. */
cudaError_t df11_exp16_launch(const uint8_t *in, const df11_dev_job *jobs, const df11_dev_block *blocks,
                              uint32_t nblocks, const uint16_t *luts, int32_t *errs, cudaStream_t st)
{
    if (nblocks == 0) return cudaSuccess;
    if (cudaError_t e = fallible()) return e;
    for (uint32_t b = 0; b < nblocks; b++) {
        const df11_dev_block blk = blocks[b];
        const df11_dev_job job = jobs[blk.job];
        const uint8_t *p = in + job.in_off;
        const uint32_t L = job.lane_symbols, n = job.n, plen = job.payload_len;
        const uint32_t nl = L ? df11_lanes(n, L) : 0u;
        if (L < DF11_TILE || L % DF11_TILE != 0 || blk.lane0 >= nl || (uint64_t)plen < 2ull * nl + n ||
            plen > (1u << 28)) {
            report(errs, blk.job, DF11_ERR_SIZES);
            continue;
        }
        const uint16_t *lut = luts + (size_t)job.lut * 4096u;
        uint64_t off = 0;
        for (uint32_t k = 0; k < blk.lane0; k++) off += (uint32_t)p[2u * k] | (uint32_t)p[2u * k + 1u] << 8;
        const uint32_t sym_end = plen - n;
        for (uint32_t lane = blk.lane0; lane < nl && lane < blk.lane0 + DF11_LANES_PER_BLOCK; lane++) {
            const uint32_t len = (uint32_t)p[2u * lane] | (uint32_t)p[2u * lane + 1u] << 8;
            const uint64_t start = 16ull * nl + off;
            off += len;
            const bool bad = start + len > 8ull * sym_end;
            df11_lane_reader rd;
            df11_lane_init(&rd, p, plen, bad ? 0u : (uint32_t)start);
            const uint32_t count = df11_lane_len(n, L, lane);
            for (uint32_t i = 0; i < count; i++) {
                const uint32_t e0 = lane * L + i;
                const uint16_t v = df11_bf16_join(df11_lane_next(&rd, lut), p[sym_end + e0]);
                job.out[2u * (size_t)e0] = (uint8_t)v;
                job.out[2u * (size_t)e0 + 1u] = (uint8_t)(v >> 8);
            }
            if (bad || !df11_lane_ok(&rd, len)) report(errs, blk.job, (int32_t)(lane + 1u));
        }
    }
    return enqueued(cudaSuccess, st);
}

/* decode_ans.cu's grid, thread by thread. */
cudaError_t df11_ans_launch(const uint8_t *in, const df11_dev_job *jobs, const df11_dev_block *lanes,
                            uint32_t nlanes, const df11_cuda_ans_table *tabs, int32_t *errs, cudaStream_t st)
{
    if (nlanes == 0) return cudaSuccess;
    if (cudaError_t e = fallible()) return e;
    for (uint32_t t = 0; t < nlanes; t++) {
        const df11_dev_block e = lanes[t];
        const df11_dev_job job = jobs[e.job];
        const df11_cuda_ans_table *tab = tabs + job.lut;
        if (!df11_ans_lane_run(in + job.in_off, job.payload_len, job.n, e.lane0, tab->esym, tab->einfo,
                               tab->mslot, job.out))
            report(errs, e.job, (int32_t)(e.lane0 + 1u));
    }
    return enqueued(cudaSuccess, st);
}

/* decode_ans_il.cu's two grids: each warp block runs ans_il_warp.h's team
 * function (its ballots emulated; the model has no shared-memory copy of
 * eslot/ectx, it reads the device table directly) for its chunk, or its
 * two 16-lane chunks (half-warp teams, one after the other), then each
 * serial item. */
cudaError_t df11_ans_il_launch(const uint8_t *in, const df11_dev_job *jobs, const df11_dev_block *warps,
                               uint32_t nwarps, const df11_dev_block *serial, uint32_t nserial,
                               const df11_cuda_ans_il_table *tabs, int32_t *errs, cudaStream_t st)
{
    if (nwarps == 0 && nserial == 0) return cudaSuccess;
    if (cudaError_t e = fallible()) return e;
    for (uint32_t b = 0; b < nwarps + nserial; b++) {
        const df11_dev_block it = b < nwarps ? warps[b] : serial[b - nwarps];
        const df11_cuda_ans_il_table *tab = tabs + jobs[it.job].lut; /* the block's table */
        if (b >= nwarps) {
            const df11_dev_job job = jobs[it.job];
            if (!df11_il_serial(in + job.in_off, job.payload_len, job.n, job.il_signs, tab->eslot, tab->ectx, tab->mslot, job.out))
                report(errs, it.job, 1);
            continue;
        }
        const uint32_t W = df11_il_team(df11_ans_il_lanes(jobs[it.job].n));
        for (uint32_t half = 0; half < (W == 16u ? 2u : 1u); half++) {
            if (half && it.lane0 == 0) break;
            const uint32_t j = half ? it.lane0 - 1u : it.job;
            const df11_dev_job job = jobs[j];
            if (!df11_il_warp(in + job.in_off, job.payload_len, job.n, job.il_signs, tab->eslot, tab->ectx, tab->mslot, job.out, W))
                report(errs, j, 1);
        }
    }
    return enqueued(cudaSuccess, st);
}

cudaError_t df11_exp16_attributes(cudaFuncAttributes *a) { a->numRegs = 0; return cudaSuccess; }
cudaError_t df11_ans_il_attributes(cudaFuncAttributes *a) { a->numRegs = 0; return cudaSuccess; }
cudaError_t df11_ans_attributes(cudaFuncAttributes *a) { a->numRegs = 0; return cudaSuccess; }
