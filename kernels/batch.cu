/*
 * batch.cu - host side of the GPU decoder: device probe, pinned staging and
 * the stream pipeline of df11_cuda_decode().
 *
 * Pipeline: a batch is cut into sub-batches that fit one staging slot
 * (pinned input + output buffers, device twins, job and block tables). Slots
 * rotate over NSLOT streams. Packing slot k (io->load reads payloads from the
 * file straight into pinned memory) runs on the CPU while slots k-1, k-2 copy
 * and decode on the GPU; finishing a slot (checksums, copy to the caller's
 * buffers) likewise overlaps the others. One mutex serialises callers.
 */
#include <pthread.h>
#include <stdlib.h>

#include "cuda_check.cuh"
#include "exp16.cuh"

namespace {

constexpr int NSLOT = 3;
constexpr size_t IN_CAP = (size_t)16 << 20;   /* payload bytes per slot */
constexpr size_t OUT_CAP = (size_t)16 << 20;  /* decoded bytes per slot */
constexpr size_t JOB_CAP = 2048;
constexpr size_t BLOCK_CAP = 4096;

struct Slot {
    cudaStream_t st;
    cudaEvent_t done;
    uint8_t *h_in, *h_out, *d_in, *d_out;
    df11_dev_job *h_jobs, *d_jobs;
    df11_dev_block *h_blocks, *d_blocks;
    int32_t *h_err, *d_err;
    size_t *map;        /* slot job -> job index of the call */
    size_t *out_off;    /* slot job -> offset in h_out / d_out */
    size_t count, nblocks;
    bool busy;
};

struct Ctx {
    bool ready;
    int device;
    Slot slot[NSLOT];
    uint16_t *d_luts;
    size_t lut_cap;     /* LUTs d_luts can hold */
};

Ctx g_ctx;
pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

size_t align16(size_t v) { return (v + 15u) & ~(size_t)15u; }

/* Frees whatever exists; errors are ignored (this is also the cleanup after
 * a failure, when the context may be unusable). */
void ctx_free()
{
    for (Slot &s : g_ctx.slot) {
        if (s.st) cudaStreamSynchronize(s.st);
        if (s.done) cudaEventDestroy(s.done);
        if (s.st) cudaStreamDestroy(s.st);
        cudaFreeHost(s.h_in); cudaFreeHost(s.h_out);
        cudaFreeHost(s.h_jobs); cudaFreeHost(s.h_blocks); cudaFreeHost(s.h_err);
        cudaFree(s.d_in); cudaFree(s.d_out);
        cudaFree(s.d_jobs); cudaFree(s.d_blocks); cudaFree(s.d_err);
        free(s.map); free(s.out_off);
    }
    cudaFree(g_ctx.d_luts);
    cudaGetLastError(); /* clear non-sticky errors left by the cleanup */
    g_ctx = Ctx();
}

template <typename T> df11_status host_alloc(T **p, size_t count, char *why, size_t why_len)
{
    CK(cudaMallocHost((void **)p, count * sizeof(T)));
    return DF11_OK;
}

template <typename T> df11_status dev_alloc(T **p, size_t count, char *why, size_t why_len)
{
    CK(cudaMalloc((void **)p, count * sizeof(T)));
    return DF11_OK;
}

df11_status slot_init(Slot &s, char *why, size_t why_len)
{
    CK(cudaStreamCreateWithFlags(&s.st, cudaStreamNonBlocking));
    CK(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming));
    df11_status st;
    if ((st = host_alloc(&s.h_in, IN_CAP, why, why_len)) ||
        (st = host_alloc(&s.h_out, OUT_CAP, why, why_len)) ||
        (st = host_alloc(&s.h_jobs, JOB_CAP, why, why_len)) ||
        (st = host_alloc(&s.h_blocks, BLOCK_CAP, why, why_len)) ||
        (st = host_alloc(&s.h_err, JOB_CAP, why, why_len)) ||
        (st = dev_alloc(&s.d_in, IN_CAP, why, why_len)) ||
        (st = dev_alloc(&s.d_out, OUT_CAP, why, why_len)) ||
        (st = dev_alloc(&s.d_jobs, JOB_CAP, why, why_len)) ||
        (st = dev_alloc(&s.d_blocks, BLOCK_CAP, why, why_len)) ||
        (st = dev_alloc(&s.d_err, JOB_CAP, why, why_len)))
        return st;
    /* The padding between jobs in d_out is never written by the kernel but
     * is copied back with the rest: give it defined contents once. */
    CK(cudaMemset(s.d_out, 0, OUT_CAP));
    s.map = (size_t *)malloc(JOB_CAP * sizeof(size_t));
    s.out_off = (size_t *)malloc(JOB_CAP * sizeof(size_t));
    if (!s.map || !s.out_off) {
        df11_set_why(why, why_len, "out of host memory for GPU job tables");
        return DF11_E_NOMEM;
    }
    return DF11_OK;
}

df11_status ctx_init(char *why, size_t why_len)
{
    if (g_ctx.ready) {
        CK(cudaSetDevice(g_ctx.device));
        return DF11_OK;
    }
    CK(cudaGetDevice(&g_ctx.device));
    for (Slot &s : g_ctx.slot) {
        df11_status st = slot_init(s, why, why_len);
        if (st) {
            ctx_free();
            return st;
        }
    }
    g_ctx.ready = true;
    return DF11_OK;
}

/* Restores the calling thread's current device on every exit path: the
 * caller (a framework) may have its own idea of it. */
struct DeviceGuard {
    int prev = -1;
    DeviceGuard() { if (cudaGetDevice(&prev) != cudaSuccess) prev = -1; }
    ~DeviceGuard() { if (prev >= 0) cudaSetDevice(prev); }
};

struct Call {
    const df11_cuda_job *jobs;
    size_t n;
    int device_mode;
    const df11_cuda_io *io;
    df11_status *status;
    bool *settled;       /* status[j] is final before any launch */
};

/* Fills slot s from job *next on and enqueues its copies and launch. */
df11_status slot_submit(Slot &s, Call &c, size_t *next, char *why, size_t why_len)
{
    size_t in_used = 0, out_used = 0;
    s.count = 0;
    s.nblocks = 0;
    while (*next < c.n) {
        const size_t j = *next;
        const df11_cuda_job &J = c.jobs[j];
        if (c.settled[j]) { (*next)++; continue; }
        const uint32_t nb = df11_block_count(J.n, J.lane_symbols);
        const size_t in_need = align16((size_t)J.payload_len + DF11_CUDA_SLACK);
        const size_t out_need = align16((size_t)J.n * 2u);
        if (in_need > IN_CAP || out_need > OUT_CAP || nb > BLOCK_CAP) {
            /* Cannot happen for jobs the codec validated; refuse, never overflow. */
            c.status[j] = DF11_E_INTERNAL;
            c.settled[j] = true;
            c.io->fail(c.io->ctx, j, DF11_E_INTERNAL, "chunk larger than the GPU staging buffers");
            (*next)++;
            continue;
        }
        if (s.count == JOB_CAP || s.nblocks + nb > BLOCK_CAP || in_used + in_need > IN_CAP ||
            out_used + out_need > OUT_CAP)
            break;
        (*next)++;
        df11_status st = c.io->load(c.io->ctx, j, s.h_in + in_used);
        if (st != DF11_OK) {
            c.status[j] = st;
            c.settled[j] = true;
            continue;
        }
        memset(s.h_in + in_used + J.payload_len, 0, in_need - J.payload_len);
        df11_dev_job &d = s.h_jobs[s.count];
        d.in_off = in_used;
        d.out = c.device_mode ? (uint8_t *)J.dst : s.d_out + out_used;
        d.payload_len = J.payload_len;
        d.n = J.n;
        d.lane_symbols = J.lane_symbols;
        d.lut = J.lut;
        for (uint32_t b = 0; b < nb; b++)
            s.h_blocks[s.nblocks + b] = df11_dev_block{(uint32_t)s.count, b * DF11_LANES_PER_BLOCK};
        s.map[s.count] = j;
        s.out_off[s.count] = out_used;
        s.count++;
        s.nblocks += nb;
        in_used += in_need;
        out_used += out_need;
    }
    if (s.count == 0) return DF11_OK;

    CK(cudaMemcpyAsync(s.d_in, s.h_in, in_used, cudaMemcpyHostToDevice, s.st));
    CK(cudaMemcpyAsync(s.d_jobs, s.h_jobs, s.count * sizeof(df11_dev_job), cudaMemcpyHostToDevice, s.st));
    CK(cudaMemcpyAsync(s.d_blocks, s.h_blocks, s.nblocks * sizeof(df11_dev_block),
                       cudaMemcpyHostToDevice, s.st));
    CK(cudaMemsetAsync(s.d_err, 0, s.count * sizeof(int32_t), s.st));
    CK(df11_exp16_launch(s.d_in, s.d_jobs, s.d_blocks, (uint32_t)s.nblocks, g_ctx.d_luts, s.d_err, s.st));
    if (c.device_mode) {
        /* The checksum is computed on the host: copy the result back once. */
        for (size_t i = 0; i < s.count; i++) {
            const df11_cuda_job &J = c.jobs[s.map[i]];
            CK(cudaMemcpyAsync(s.h_out + s.out_off[i], J.dst, (size_t)J.n * 2u,
                               cudaMemcpyDeviceToHost, s.st));
        }
    } else {
        CK(cudaMemcpyAsync(s.h_out, s.d_out, out_used, cudaMemcpyDeviceToHost, s.st));
    }
    CK(cudaMemcpyAsync(s.h_err, s.d_err, s.count * sizeof(int32_t), cudaMemcpyDeviceToHost, s.st));
    CK(cudaEventRecord(s.done, s.st));
    s.busy = true;
    return DF11_OK;
}

/* Waits for slot s, then checks and delivers its jobs. */
df11_status slot_finish(Slot &s, Call &c, char *why, size_t why_len)
{
    if (!s.busy) return DF11_OK;
    s.busy = false;
    CK(cudaEventSynchronize(s.done));
    for (size_t i = 0; i < s.count; i++) {
        const size_t j = s.map[i];
        const df11_cuda_job &J = c.jobs[j];
        if (s.h_err[i] != 0) {
            char msg[96];
            if (s.h_err[i] == DF11_ERR_SIZES)
                snprintf(msg, sizeof msg, "payload sizes inconsistent");
            else
                snprintf(msg, sizeof msg, "lane %d: bit length does not match its stored length",
                         (int)s.h_err[i] - 1);
            c.status[j] = DF11_E_CORRUPT_CHUNK;
            c.io->fail(c.io->ctx, j, DF11_E_CORRUPT_CHUNK, msg);
            continue;
        }
        const uint8_t *bytes = s.h_out + s.out_off[i];
        c.status[j] = c.io->check(c.io->ctx, j, bytes);
        if (c.status[j] == DF11_OK && !c.device_mode) memcpy(J.dst, bytes, (size_t)J.n * 2u);
    }
    return DF11_OK;
}

/* Device mode: a destination must be device memory of our device. */
bool is_device_ptr(const void *p)
{
    cudaPointerAttributes a;
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    return (a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged) &&
           a.device == g_ctx.device;
}

df11_status upload_luts(const uint16_t *luts, size_t lut_count, char *why, size_t why_len)
{
    if (lut_count > g_ctx.lut_cap) {
        CK(cudaFree(g_ctx.d_luts));
        g_ctx.d_luts = nullptr;
        g_ctx.lut_cap = 0;
        CK(cudaMalloc((void **)&g_ctx.d_luts, lut_count * DF11_CUDA_LUT_ENTRIES * sizeof(uint16_t)));
        g_ctx.lut_cap = lut_count;
    }
    if (lut_count)
        CK(cudaMemcpy(g_ctx.d_luts, luts, lut_count * DF11_CUDA_LUT_ENTRIES * sizeof(uint16_t),
                      cudaMemcpyHostToDevice));
    return DF11_OK;
}

df11_status run_batch(Call &c, const uint16_t *luts, size_t lut_count, char *why, size_t why_len)
{
    df11_status st = upload_luts(luts, lut_count, why, why_len);
    if (st) return st;
    for (size_t j = 0; j < c.n; j++) {
        if (c.jobs[j].lut >= lut_count || c.jobs[j].lane_symbols < DF11_TILE ||
            c.jobs[j].lane_symbols % DF11_TILE != 0 || c.jobs[j].n == 0) {
            c.status[j] = DF11_E_INTERNAL;
            c.io->fail(c.io->ctx, j, DF11_E_INTERNAL, "job not valid for the GPU decoder");
        } else if (c.device_mode && !is_device_ptr(c.jobs[j].dst)) {
            c.status[j] = DF11_E_ARG;
            c.io->fail(c.io->ctx, j, DF11_E_ARG, "dst is not device memory of the decoding GPU");
        } else {
            continue;
        }
        c.settled[j] = true;
    }
    size_t next = 0, k = 0;
    while (next < c.n) {
        Slot &s = g_ctx.slot[k++ % NSLOT];
        if ((st = slot_finish(s, c, why, why_len))) return st;
        if ((st = slot_submit(s, c, &next, why, why_len))) return st;
    }
    for (int i = 0; i < NSLOT; i++)
        if ((st = slot_finish(g_ctx.slot[(k + i) % NSLOT], c, why, why_len))) return st;
    return DF11_OK;
}

} // namespace

extern "C" df11_status df11_cuda_probe(char *why, size_t why_len)
{
    int count = 0;
    CK(cudaGetDeviceCount(&count));
    if (count <= 0) {
        df11_set_why(why, why_len, "no CUDA device");
        return DF11_E_NO_GPU;
    }
    int dev = 0;
    cudaDeviceProp prop;
    CK(cudaGetDevice(&dev));
    CK(cudaGetDeviceProperties(&prop, dev));
    cudaFuncAttributes attr;
    cudaError_t e = df11_exp16_attributes(&attr);
    if (e != cudaSuccess) {
        cudaGetLastError();
        if (why && why_len)
            snprintf(why, why_len, "%s (compute capability %d.%d): no usable decoder image: %s",
                     prop.name, prop.major, prop.minor, cudaGetErrorString(e));
        return DF11_E_NO_GPU;
    }
    if (why && why_len)
        snprintf(why, why_len, "device %d: %s (compute capability %d.%d)", dev, prop.name,
                 prop.major, prop.minor);
    return DF11_OK;
}

extern "C" df11_status df11_cuda_decode(const df11_cuda_job *jobs, size_t n,
                                        const uint16_t *luts, size_t lut_count,
                                        int device_mode, const df11_cuda_io *io,
                                        df11_status *status, char *why, size_t why_len)
{
    if (n == 0) return DF11_OK;
    bool *settled = (bool *)calloc(n, sizeof(bool));
    if (!settled) {
        df11_set_why(why, why_len, "out of memory");
        return DF11_E_NOMEM;
    }
    pthread_mutex_lock(&g_lock);
    df11_status st;
    {
        DeviceGuard guard;
        st = ctx_init(why, why_len);
        if (st == DF11_OK) {
            Call c{jobs, n, device_mode, io, status, settled};
            st = run_batch(c, luts, lut_count, why, why_len);
            /* After a failure nothing may still write into buffers the caller
             * reuses; start over with a fresh context next time. */
            if (st != DF11_OK) ctx_free();
        }
    }
    pthread_mutex_unlock(&g_lock);
    free(settled);
    return st == DF11_E_NOMEM ? DF11_E_GPU : st;
}

extern "C" df11_status df11_cuda_copy_to_device(void *dst, const void *src, size_t len,
                                                char *why, size_t why_len)
{
    pthread_mutex_lock(&g_lock);
    df11_status st;
    {
        DeviceGuard guard;
        st = ctx_init(why, why_len);
        if (st == DF11_OK && !is_device_ptr(dst)) {
            df11_set_why(why, why_len, "dst is not device memory of the decoding GPU");
            st = DF11_E_ARG;
        } else if (st == DF11_OK && !df11_ck(cudaMemcpy(dst, src, len, cudaMemcpyHostToDevice),
                                             "cudaMemcpy", why, why_len)) {
            st = DF11_E_GPU;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return st;
}

extern "C" df11_status df11_cuda_copy_to_host(void *dst, const void *src, size_t len,
                                              char *why, size_t why_len)
{
    CK(cudaMemcpy(dst, src, len, cudaMemcpyDeviceToHost));
    return DF11_OK;
}

extern "C" df11_status df11_cuda_malloc(void **p, size_t len, char *why, size_t why_len)
{
    *p = nullptr;
    CK(cudaMalloc(p, len));
    return DF11_OK;
}

extern "C" void df11_cuda_free(void *p)
{
    cudaFree(p);
}
