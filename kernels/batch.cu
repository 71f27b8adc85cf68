/*
 * batch.cu - host side of the GPU decoders: device probe, pinned staging
 * slots and the stream pipeline of df11_cuda_decode().
 *
 * Pipeline: a batch is cut into sub-batches that fit one staging slot
 * (pinned input + output buffers, device twins, job/block/lane tables and
 * the decode tables its jobs use). A call claims slots from a pool of
 * NSLOT, each with its own stream. Packing a slot (io->load reads payloads
 * from the file straight into pinned memory and validates them) runs on the
 * CPU while the call's other slots copy and decode on the GPU; finishing a
 * slot (copy out, io->check's XXH3 of every chunk) likewise overlaps them.
 *
 * Locking: g_lock guards only the context's lifetime and the slot pool.
 * File reads, payload checks and checksums run outside it, on slots the
 * call owns alone, so concurrent callers (the fs's reader threads) overlap
 * their host work; device work needs no lock (each slot has its stream,
 * its buffers and its own copy of the decode tables on the device).
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
constexpr size_t BLOCK_CAP = 4096;            /* EXP16 blocks */
constexpr size_t LANE_CAP = 4096;             /* ANS lanes: >= OUT_CAP / 32 KiB + JOB_CAP */
constexpr size_t LUT_CAP = 256;               /* EXP16 LUTs (8 KiB each) */
constexpr size_t ANS_CAP = 16;                /* ANS model tables (145 KiB each), ANS_IL (148 KiB) */

/* A slot's decode tables: device copies with their pinned host source.
 * h[i] holds exactly what d[i] holds (or will, once the slot's stream ran
 * its upload), so a later fill that needs the same table - the same
 * tensor's next chunks, in this call or the next - finds it by content and
 * uploads nothing: tables stay on the device across batches. */
template <typename T> struct TableCache {
    T *h = nullptr, *d = nullptr;
    bool valid[ANS_CAP > LUT_CAP ? ANS_CAP : LUT_CAP] = {};
    bool dirty[ANS_CAP > LUT_CAP ? ANS_CAP : LUT_CAP] = {};
    size_t src[ANS_CAP > LUT_CAP ? ANS_CAP : LUT_CAP] = {}; /* call table, this fill; SIZE_MAX: unused */
    size_t cap = 0, victim = 0;
};

struct Slot {
    cudaStream_t st;
    cudaEvent_t done;
    uint8_t *h_in, *h_out, *d_in, *d_out;
    df11_dev_job *h_jobs, *d_jobs;
    df11_dev_block *h_blocks, *d_blocks;   /* EXP16: (job, first lane) per block */
    df11_dev_block *h_lanes, *d_lanes;     /* ANS: (job, lane) per thread */
    df11_dev_block *h_ilw, *d_ilw;         /* ANS_IL: per warp, (job, 0) or two 16-lane jobs (job, 1 + job) */
    df11_dev_block *h_ils, *d_ils;         /* ANS_IL: (job, 0) per thread (1 lane) */
    int32_t *h_err, *d_err;
    TableCache<uint16_t> luts;             /* DF11_CUDA_LUT_ENTRIES per entry */
    TableCache<df11_cuda_ans_table> ans;
    TableCache<df11_cuda_ans_il_table> ans_il;
    size_t *map;        /* slot job -> job index of the call */
    size_t *out_off;    /* slot job -> offset in h_out / d_out */
    uint8_t *direct;    /* host mode: D2H straight into the (pinned) dst */
    size_t count, nblocks, nlanes, nilw, nils;
    size_t il_open;     /* h_ilw entry of one 16-lane job awaiting a partner, or SIZE_MAX */
    bool busy;          /* submitted, not yet finished */
    bool owned;         /* claimed by a call */
};

struct Ctx {
    bool ready, broken;
    int device;
    int users;          /* calls between ctx_enter and ctx_leave */
    Slot slot[NSLOT];
};

Ctx g_ctx;
pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;

size_t align16(size_t v) { return (v + 15u) & ~(size_t)15u; }

/* Frees whatever exists; errors are ignored (this is also the cleanup after
 * a failure, when the context may be unusable). Caller holds g_lock and
 * no call uses the context. */
void ctx_free()
{
    for (Slot &s : g_ctx.slot) {
        if (s.st) cudaStreamSynchronize(s.st);
        if (s.done) cudaEventDestroy(s.done);
        if (s.st) cudaStreamDestroy(s.st);
        cudaFreeHost(s.h_in); cudaFreeHost(s.h_out);
        cudaFreeHost(s.h_jobs); cudaFreeHost(s.h_blocks); cudaFreeHost(s.h_lanes);
        cudaFreeHost(s.h_err); cudaFreeHost(s.luts.h); cudaFreeHost(s.ans.h);
        cudaFreeHost(s.h_ilw); cudaFreeHost(s.h_ils); cudaFreeHost(s.ans_il.h);
        cudaFree(s.d_in); cudaFree(s.d_out);
        cudaFree(s.d_jobs); cudaFree(s.d_blocks); cudaFree(s.d_lanes); cudaFree(s.d_err);
        cudaFree(s.luts.d); cudaFree(s.ans.d);
        cudaFree(s.d_ilw); cudaFree(s.d_ils); cudaFree(s.ans_il.d);
        free(s.map); free(s.out_off); free(s.direct);
    }
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
    s.luts.cap = LUT_CAP;
    s.ans.cap = ANS_CAP;
    s.ans_il.cap = ANS_CAP;
    if ((st = host_alloc(&s.h_in, IN_CAP, why, why_len)) ||
        (st = host_alloc(&s.h_out, OUT_CAP, why, why_len)) ||
        (st = host_alloc(&s.h_jobs, JOB_CAP, why, why_len)) ||
        (st = host_alloc(&s.h_blocks, BLOCK_CAP, why, why_len)) ||
        (st = host_alloc(&s.h_lanes, LANE_CAP, why, why_len)) ||
        (st = host_alloc(&s.h_err, JOB_CAP, why, why_len)) ||
        (st = host_alloc(&s.luts.h, LUT_CAP * DF11_CUDA_LUT_ENTRIES, why, why_len)) ||
        (st = host_alloc(&s.ans.h, ANS_CAP, why, why_len)) ||
        (st = host_alloc(&s.h_ilw, JOB_CAP, why, why_len)) ||
        (st = host_alloc(&s.h_ils, JOB_CAP, why, why_len)) ||
        (st = host_alloc(&s.ans_il.h, ANS_CAP, why, why_len)) ||
        (st = dev_alloc(&s.d_in, IN_CAP, why, why_len)) ||
        (st = dev_alloc(&s.d_out, OUT_CAP, why, why_len)) ||
        (st = dev_alloc(&s.d_jobs, JOB_CAP, why, why_len)) ||
        (st = dev_alloc(&s.d_blocks, BLOCK_CAP, why, why_len)) ||
        (st = dev_alloc(&s.d_lanes, LANE_CAP, why, why_len)) ||
        (st = dev_alloc(&s.d_err, JOB_CAP, why, why_len)) ||
        (st = dev_alloc(&s.luts.d, LUT_CAP * DF11_CUDA_LUT_ENTRIES, why, why_len)) ||
        (st = dev_alloc(&s.ans.d, ANS_CAP, why, why_len)) ||
        (st = dev_alloc(&s.d_ilw, JOB_CAP, why, why_len)) ||
        (st = dev_alloc(&s.d_ils, JOB_CAP, why, why_len)) ||
        (st = dev_alloc(&s.ans_il.d, ANS_CAP, why, why_len)))
        return st;
    /* The padding between jobs in d_out is never written by the kernels but
     * is copied back with the rest in device mode: give it defined contents. */
    CK(cudaMemset(s.d_out, 0, OUT_CAP));
    s.map = (size_t *)malloc(JOB_CAP * sizeof(size_t));
    s.out_off = (size_t *)malloc(JOB_CAP * sizeof(size_t));
    s.direct = (uint8_t *)malloc(JOB_CAP);
    if (!s.map || !s.out_off || !s.direct) {
        df11_set_why(why, why_len, "out of host memory for GPU job tables");
        return DF11_E_NOMEM;
    }
    return DF11_OK;
}

/* Caller holds g_lock. */
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

/* A call's use of the context. A failed call marks the context broken; the
 * last call to leave frees it, and the next one to enter builds a fresh one
 * (after a failure nothing may still write into buffers a caller reuses). */
df11_status ctx_enter(char *why, size_t why_len)
{
    pthread_mutex_lock(&g_lock);
    while (g_ctx.ready && g_ctx.broken && g_ctx.users > 0) pthread_cond_wait(&g_cond, &g_lock);
    if (g_ctx.ready && g_ctx.broken) ctx_free();
    df11_status st = ctx_init(why, why_len);
    if (st == DF11_OK) g_ctx.users++;
    pthread_mutex_unlock(&g_lock);
    return st;
}

void ctx_leave(bool failed)
{
    pthread_mutex_lock(&g_lock);
    g_ctx.users--;
    if (failed) g_ctx.broken = true;
    if (g_ctx.broken && g_ctx.users == 0) ctx_free();
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
}

/* A free slot, or nullptr when none is free and the call holds in-flight
 * slots of its own (it then finishes its oldest and retries: waiting while
 * holding slots could deadlock two callers). Waits otherwise. */
Slot *slot_claim(bool holds_slots)
{
    pthread_mutex_lock(&g_lock);
    Slot *got = nullptr;
    for (;;) {
        for (Slot &s : g_ctx.slot)
            if (!s.owned) {
                s.owned = true;
                got = &s;
                break;
            }
        if (got || holds_slots) break;
        pthread_cond_wait(&g_cond, &g_lock);
    }
    pthread_mutex_unlock(&g_lock);
    return got;
}

void slot_release(Slot &s)
{
    pthread_mutex_lock(&g_lock);
    s.owned = false;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
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
    const df11_cuda_tables *tables;
};

bool same_table(const uint16_t *a, const uint16_t *b)
{
    return memcmp(a, b, DF11_CUDA_LUT_ENTRIES * sizeof *a) == 0;
}

bool same_table(const df11_cuda_ans_table *a, const df11_cuda_ans_table *b)
{
    /* einfo (1 KiB) differs between nearly all distinct models: test it first. */
    return memcmp(a->einfo, b->einfo, sizeof a->einfo) == 0 &&
           memcmp(a->esym, b->esym, sizeof a->esym) == 0 &&
           memcmp(a->mslot, b->mslot, sizeof a->mslot) == 0;
}

bool same_table(const df11_cuda_ans_il_table *a, const df11_cuda_ans_il_table *b)
{
    return memcmp(a->eslot, b->eslot, sizeof a->eslot) == 0 &&
           memcmp(a->ectx, b->ectx, sizeof a->ectx) == 0 &&
           memcmp(a->mslot, b->mslot, sizeof a->mslot) == 0;
}

/* Slot entry for call table t (host copy src, stride entries apart), or
 * SIZE_MAX when every entry is taken by this fill. */
template <typename T> size_t table_slot(TableCache<T> &c, size_t t, const T *src, size_t stride)
{
    for (size_t i = 0; i < c.cap; i++)
        if (c.src[i] == t) return i;
    for (size_t i = 0; i < c.cap; i++)
        if (c.src[i] == SIZE_MAX && c.valid[i] && same_table(c.h + i * stride, src)) {
            c.src[i] = t;
            return i;
        }
    for (size_t k = 0; k < c.cap; k++) {
        const size_t i = (c.victim + k) % c.cap;
        if (c.src[i] != SIZE_MAX) continue;
        c.victim = i + 1;
        memcpy(c.h + i * stride, src, stride * sizeof(T));
        c.valid[i] = true;
        c.dirty[i] = true;
        c.src[i] = t;
        return i;
    }
    return SIZE_MAX;
}

template <typename T> df11_status table_upload(TableCache<T> &c, size_t stride, cudaStream_t st,
                                               char *why, size_t why_len)
{
    for (size_t i = 0; i < c.cap; i++) {
        c.src[i] = SIZE_MAX; /* ready for the next fill */
        if (!c.dirty[i]) continue;
        c.dirty[i] = false;
        c.valid[i] = false; /* until the copy is known to have been enqueued */
        CK(cudaMemcpyAsync(c.d + i * stride, c.h + i * stride, stride * sizeof(T),
                           cudaMemcpyHostToDevice, st));
        c.valid[i] = true;
    }
    return DF11_OK;
}

/* Host mode: whether dst is page-locked host memory the GPU can copy into
 * directly (cudaMallocHost, or cudaHostRegister'ed by the caller). */
bool is_pinned(const void *p)
{
    cudaPointerAttributes a;
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    return a.type == cudaMemoryTypeHost;
}

/* Fills slot s from job *next on, on the host: reads and validates payloads
 * (io->load), outside any lock. */
void slot_fill(Slot &s, Call &c, size_t *next)
{
    size_t in_used = 0, out_used = 0;
    s.count = 0;
    s.nblocks = 0;
    s.nlanes = 0;
    s.nilw = 0;
    s.nils = 0;
    s.il_open = SIZE_MAX;
    for (size_t i = 0; i < s.luts.cap; i++) s.luts.src[i] = SIZE_MAX;
    for (size_t i = 0; i < s.ans.cap; i++) s.ans.src[i] = SIZE_MAX;
    for (size_t i = 0; i < s.ans_il.cap; i++) s.ans_il.src[i] = SIZE_MAX;
    while (*next < c.n) {
        const size_t j = *next;
        const df11_cuda_job &J = c.jobs[j];
        if (c.settled[j]) { (*next)++; continue; }
        const bool ans = J.codec == DF11_CUDA_ANS, il = J.codec == DF11_CUDA_ANS_IL;
        const uint32_t nb = ans || il ? 0 : df11_block_count(J.n, J.lane_symbols);
        const uint32_t nla = ans ? df11_ans_lanes(J.n) : 0;
        const size_t in_need = align16((size_t)J.payload_len + DF11_CUDA_SLACK);
        const size_t out_need = align16((size_t)J.n * 2u);
        if (in_need > IN_CAP || out_need > OUT_CAP || nb > BLOCK_CAP || nla > LANE_CAP) {
            /* Cannot happen for jobs the codec validated; refuse, never overflow. */
            c.status[j] = DF11_E_INTERNAL;
            c.settled[j] = true;
            c.io->fail(c.io->ctx, j, DF11_E_INTERNAL, "chunk larger than the GPU staging buffers");
            (*next)++;
            continue;
        }
        if (s.count == JOB_CAP || s.nblocks + nb > BLOCK_CAP || s.nlanes + nla > LANE_CAP ||
            in_used + in_need > IN_CAP || out_used + out_need > OUT_CAP)
            break;
        /* ANS_IL items are one per job, like the jobs themselves (JOB_CAP). */
        const size_t tab = ans  ? table_slot(s.ans, J.table, &c.tables->ans[J.table], 1)
                           : il ? table_slot(s.ans_il, J.table, &c.tables->ans_il[J.table], 1)
                                : table_slot(s.luts, J.table,
                                            c.tables->luts + (size_t)J.table * DF11_CUDA_LUT_ENTRIES,
                                            DF11_CUDA_LUT_ENTRIES);
        if (tab == SIZE_MAX) break; /* this fill uses every table entry: next slot */
        (*next)++;
        df11_status st = c.io->load(c.io->ctx, j, s.h_in + in_used);
        if (st != DF11_OK) {
            c.status[j] = st;
            c.settled[j] = true;
            continue;
        }
        memset(s.h_in + in_used + J.payload_len, 0, in_need - J.payload_len);
        s.direct[s.count] = !c.device_mode && is_pinned(J.dst);
        df11_dev_job &d = s.h_jobs[s.count];
        d.in_off = in_used;
        d.out = c.device_mode ? (uint8_t *)J.dst : s.d_out + out_used;
        d.payload_len = J.payload_len;
        d.n = J.n;
        d.lane_symbols = J.lane_symbols;
        d.il_signs = J.il_signs;
        d.lut = (uint32_t)tab;
        for (uint32_t b = 0; b < nb; b++)
            s.h_blocks[s.nblocks + b] = df11_dev_block{(uint32_t)s.count, b * DF11_LANES_PER_BLOCK};
        for (uint32_t k = 0; k < nla; k++) s.h_lanes[s.nlanes + k] = df11_dev_block{(uint32_t)s.count, k};
        if (il && df11_ans_il_lanes(J.n) == 1) {
            s.h_ils[s.nils++] = df11_dev_block{(uint32_t)s.count, 0};
        } else if (il && df11_ans_il_lanes(J.n) == 16 && s.il_open != SIZE_MAX &&
                   s.h_jobs[s.h_ilw[s.il_open].job].lut == (uint32_t)tab) {
            /* The upper half-warp of a block whose lower half has a 16-lane
             * chunk of the same table (one shared-memory copy of it). */
            s.h_ilw[s.il_open].lane0 = (uint32_t)s.count + 1u;
            s.il_open = SIZE_MAX;
        } else if (il) {
            if (df11_ans_il_lanes(J.n) == 16) s.il_open = s.nilw;
            s.h_ilw[s.nilw++] = df11_dev_block{(uint32_t)s.count, 0};
        }
        s.map[s.count] = j;
        s.out_off[s.count] = out_used;
        s.count++;
        s.nblocks += nb;
        s.nlanes += nla;
        in_used += in_need;
        out_used += out_need;
    }
}

/* Enqueues slot s's copies and launches on its stream. */
df11_status slot_submit(Slot &s, Call &c, char *why, size_t why_len)
{
    const df11_dev_job &last = s.h_jobs[s.count - 1];
    const size_t in_used = last.in_off + align16((size_t)last.payload_len + DF11_CUDA_SLACK);
    df11_status st;
    /* Busy from the first enqueue on: a call failing half-way through must
     * still wait for what it did enqueue (copies into a pinned or device
     * dst, kernels) before its caller decodes on the CPU into the same
     * buffers or another call refills this slot's pinned buffers. */
    s.busy = true;
    if ((st = table_upload(s.luts, DF11_CUDA_LUT_ENTRIES, s.st, why, why_len)) ||
        (st = table_upload(s.ans, 1, s.st, why, why_len)) ||
        (st = table_upload(s.ans_il, 1, s.st, why, why_len)))
        return st;
    CK(cudaMemcpyAsync(s.d_in, s.h_in, in_used, cudaMemcpyHostToDevice, s.st));
    CK(cudaMemcpyAsync(s.d_jobs, s.h_jobs, s.count * sizeof(df11_dev_job), cudaMemcpyHostToDevice, s.st));
    if (s.nblocks)
        CK(cudaMemcpyAsync(s.d_blocks, s.h_blocks, s.nblocks * sizeof(df11_dev_block),
                           cudaMemcpyHostToDevice, s.st));
    if (s.nlanes)
        CK(cudaMemcpyAsync(s.d_lanes, s.h_lanes, s.nlanes * sizeof(df11_dev_block),
                           cudaMemcpyHostToDevice, s.st));
    if (s.nilw)
        CK(cudaMemcpyAsync(s.d_ilw, s.h_ilw, s.nilw * sizeof(df11_dev_block), cudaMemcpyHostToDevice, s.st));
    if (s.nils)
        CK(cudaMemcpyAsync(s.d_ils, s.h_ils, s.nils * sizeof(df11_dev_block), cudaMemcpyHostToDevice, s.st));
    CK(cudaMemsetAsync(s.d_err, 0, s.count * sizeof(int32_t), s.st));
    CK(df11_exp16_launch(s.d_in, s.d_jobs, s.d_blocks, (uint32_t)s.nblocks, s.luts.d, s.d_err, s.st));
    CK(df11_ans_launch(s.d_in, s.d_jobs, s.d_lanes, (uint32_t)s.nlanes, s.ans.d, s.d_err, s.st));
    CK(df11_ans_il_launch(s.d_in, s.d_jobs, s.d_ilw, (uint32_t)s.nilw, s.d_ils, (uint32_t)s.nils, s.ans_il.d,
                          s.d_err, s.st));
    for (size_t i = 0; i < s.count; i++) {
        const df11_cuda_job &J = c.jobs[s.map[i]];
        const size_t len = (size_t)J.n * 2u;
        if (c.device_mode) {
            /* The checksum is computed on the host: copy the result back once. */
            CK(cudaMemcpyAsync(s.h_out + s.out_off[i], J.dst, len, cudaMemcpyDeviceToHost, s.st));
        } else if (s.direct[i]) {
            /* Pinned destination: one DMA, asynchronous, no staging. */
            CK(cudaMemcpyAsync(J.dst, s.d_out + s.out_off[i], len, cudaMemcpyDeviceToHost, s.st));
        }
    }
    CK(cudaMemcpyAsync(s.h_err, s.d_err, s.count * sizeof(int32_t), cudaMemcpyDeviceToHost, s.st));
    CK(cudaEventRecord(s.done, s.st));
    return DF11_OK;
}

/* Waits for slot s, then delivers and checks its jobs (outside any lock).
 *
 * Host mode, pageable destinations: the bytes go device -> caller's buffer
 * in one cudaMemcpyAsync on the slot's stream. For pageable memory the
 * driver stages that copy through its own pinned buffers, pipelined with
 * the DMA, and returns when it is done; before, the slot's pinned h_out
 * received the DMA and we memcpy'd from it, a second full pass over the
 * bytes on this thread. Registering the caller's buffer (cudaHostRegister)
 * would make it one DMA, but pinning pages costs more per call than the
 * copy it saves unless the buffer is reused, so that is left to callers:
 * a destination that is already pinned takes the async DMA enqueued by
 * slot_submit. Either way the XXH3 check then reads the caller's buffer;
 * a job that fails it reports DF11_E_CHECKSUM and its bytes are not to be
 * used (as with the CPU decoder). */
df11_status slot_finish(Slot &s, Call &c, char *why, size_t why_len)
{
    if (!s.busy) return DF11_OK;
    /* Busy until everything below succeeded: on an error return the caller
     * synchronizes the stream (slot_quiesce) before the slot goes back. */
    CK(cudaEventSynchronize(s.done));
    for (size_t i = 0; i < s.count; i++) {
        const size_t j = s.map[i];
        const df11_cuda_job &J = c.jobs[j];
        const size_t len = (size_t)J.n * 2u;
        if (s.h_err[i] != 0) {
            char msg[96];
            if (s.h_err[i] == DF11_ERR_SIZES)
                snprintf(msg, sizeof msg, "payload sizes inconsistent");
            else if (J.codec == DF11_CUDA_ANS_IL)
                snprintf(msg, sizeof msg, "ANS_IL chunk does not decode to its declared length");
            else if (J.codec == DF11_CUDA_ANS)
                snprintf(msg, sizeof msg, "ANS lane %d does not decode to its declared length",
                         (int)s.h_err[i] - 1);
            else
                snprintf(msg, sizeof msg, "lane %d: bit length does not match its stored length",
                         (int)s.h_err[i] - 1);
            c.status[j] = DF11_E_CORRUPT_CHUNK;
            c.io->fail(c.io->ctx, j, DF11_E_CORRUPT_CHUNK, msg);
            continue;
        }
        const void *bytes = J.dst;
        if (c.device_mode) {
            bytes = s.h_out + s.out_off[i];
        } else if (!s.direct[i]) {
            CK(cudaMemcpyAsync(J.dst, s.d_out + s.out_off[i], len, cudaMemcpyDeviceToHost, s.st));
            CK(cudaStreamSynchronize(s.st));
        }
        c.status[j] = c.io->check(c.io->ctx, j, bytes);
    }
    s.busy = false;
    return DF11_OK;
}

/* After a failure: waits for whatever slot s still has enqueued, so
 * nothing writes into the caller's buffers or reads the slot's after this.
 * If even that fails the slot goes back all the same (keeping it would
 * starve the pool's waiters, who hold the broken context alive); the
 * context is marked broken and its streams are synchronized again, then
 * destroyed, when its last user leaves (ctx_free). */
void slot_quiesce(Slot &s)
{
    if (!s.busy) return;
    if (cudaStreamSynchronize(s.st) != cudaSuccess) cudaGetLastError();
    s.busy = false;
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

/* Settles the jobs no kernel may take (the codec never builds them). */
void check_jobs(Call &c)
{
    for (size_t j = 0; j < c.n; j++) {
        const df11_cuda_job &J = c.jobs[j];
        const bool ans = J.codec == DF11_CUDA_ANS, il = J.codec == DF11_CUDA_ANS_IL;
        const size_t ntab = ans ? c.tables->ans_count : il ? c.tables->ans_il_count : c.tables->lut_count;
        const bool ok = J.n != 0 && (ans || il || J.codec == DF11_CUDA_EXP16) && J.table < ntab &&
                        (ans || il || (J.lane_symbols >= DF11_TILE && J.lane_symbols % DF11_TILE == 0));
        if (!ok) {
            c.status[j] = DF11_E_INTERNAL;
            c.io->fail(c.io->ctx, j, DF11_E_INTERNAL, "job not valid for the GPU decoder");
        } else if (c.device_mode && !is_device_ptr(J.dst)) {
            c.status[j] = DF11_E_ARG;
            c.io->fail(c.io->ctx, j, DF11_E_ARG, "dst is not device memory of the decoding GPU");
        } else {
            continue;
        }
        c.settled[j] = true;
    }
}

df11_status run_batch(Call &c, char *why, size_t why_len)
{
    check_jobs(c);
    Slot *q[NSLOT]; /* this call's in-flight slots, oldest first */
    size_t qn = 0, next = 0;
    df11_status st = DF11_OK;
    while (st == DF11_OK && next < c.n) {
        Slot *s = slot_claim(qn > 0);
        if (!s) {
            st = slot_finish(*q[0], c, why, why_len);
            slot_quiesce(*q[0]);
            slot_release(*q[0]);
            for (size_t i = 1; i < qn; i++) q[i - 1] = q[i];
            qn--;
            continue;
        }
        slot_fill(*s, c, &next);
        if (s->count == 0) {
            slot_release(*s);
            continue;
        }
        st = slot_submit(*s, c, why, why_len);
        q[qn++] = s;
    }
    for (size_t i = 0; i < qn; i++) {
        if (st == DF11_OK) st = slot_finish(*q[i], c, why, why_len);
        /* Nothing may still write into the caller's buffers. */
        slot_quiesce(*q[i]);
        slot_release(*q[i]);
    }
    return st;
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
    if (e == cudaSuccess) e = df11_ans_attributes(&attr);
    if (e == cudaSuccess) e = df11_ans_il_attributes(&attr);
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
                                        const df11_cuda_tables *tables, int device_mode,
                                        const df11_cuda_io *io, df11_status *status,
                                        char *why, size_t why_len)
{
    if (n == 0) return DF11_OK;
    bool *settled = (bool *)calloc(n, sizeof(bool));
    if (!settled) {
        df11_set_why(why, why_len, "out of memory");
        return DF11_E_NOMEM;
    }
    df11_status st;
    {
        DeviceGuard guard;
        st = ctx_enter(why, why_len);
        if (st == DF11_OK) {
            Call c{jobs, n, device_mode, io, status, settled, tables};
            st = run_batch(c, why, why_len);
            ctx_leave(st != DF11_OK);
        }
    }
    free(settled);
    return st == DF11_E_NOMEM ? DF11_E_GPU : st;
}

extern "C" df11_status df11_cuda_copy_to_device(void *dst, const void *src, size_t len,
                                                char *why, size_t why_len)
{
    df11_status st;
    {
        DeviceGuard guard;
        st = ctx_enter(why, why_len);
        if (st != DF11_OK) return st;
        if (!is_device_ptr(dst)) {
            df11_set_why(why, why_len, "dst is not device memory of the decoding GPU");
            st = DF11_E_ARG;
        } else if (!df11_ck(cudaMemcpy(dst, src, len, cudaMemcpyHostToDevice), "cudaMemcpy", why,
                            why_len)) {
            st = DF11_E_GPU;
        }
        ctx_leave(st == DF11_E_GPU);
    }
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

extern "C" df11_status df11_cuda_malloc_host(void **p, size_t len, char *why, size_t why_len)
{
    *p = nullptr;
    CK(cudaMallocHost(p, len));
    return DF11_OK;
}

extern "C" void df11_cuda_free_host(void *p)
{
    cudaFreeHost(p);
}
