/*
 * decode_ans.cu - the ANS (rANS, FORMAT.md 9) chunk decoder kernel.
 *
 * Mapping: one thread per lane of 16384 elements (a 256 KiB chunk has 8).
 * The format gives every lane its own start state and word count, so a
 * thread finds its stream by summing the counts of the lanes before it; no
 * cross-thread cooperation, no shared memory, no barriers. The grid covers
 * a flat list of (job, lane) entries of a launch, so lanes of many chunks
 * fill a block. Each element is two dependent table steps, so a lane is a
 * serial chain of 32768 lookups: the kernel is latency-bound and wants
 * thousands of lanes in flight; the tables (145 KiB per model) stay in
 * global memory behind the L1/L2 caches (they do not fit shared memory at
 * more than one block per SM).
 *
 * The lane itself is kernels/ans_lane.h, which the CPU model runs too. A
 * lane that fails its end check (or whose header is impossible) reports
 * atomicCAS(errs[job], 0, lane + 1); the host turns it into
 * DF11_E_CORRUPT_CHUNK for that job only. No device asserts.
 */
#include "exp16.cuh"
#include "ans_lane.h"

/* One warp a block: a launch has few lanes (512 per 16 MiB sub-batch), and
 * small blocks spread them over all SMs instead of piling two warps on a
 * few; there is nothing to share within a block. */
#define ANS_THREADS 32u

__global__ void __launch_bounds__(ANS_THREADS)
df11_ans_kernel(const uint8_t *__restrict__ in, const df11_dev_job *__restrict__ jobs,
                const df11_dev_block *__restrict__ lanes, uint32_t nlanes,
                const df11_cuda_ans_table *__restrict__ tabs, int32_t *__restrict__ errs)
{
    const uint32_t t = blockIdx.x * ANS_THREADS + threadIdx.x;
    if (t >= nlanes) return;
    const df11_dev_block e = lanes[t];
    const df11_dev_job job = jobs[e.job];
    const df11_cuda_ans_table *tab = tabs + job.lut;
    if (!df11_ans_lane_run(in + job.in_off, job.payload_len, job.n, e.lane0, tab->esym, tab->einfo,
                           tab->mslot, job.out))
        atomicCAS(&errs[e.job], 0, (int32_t)(e.lane0 + 1u));
}

cudaError_t df11_ans_launch(const uint8_t *in, const df11_dev_job *jobs, const df11_dev_block *lanes,
                            uint32_t nlanes, const df11_cuda_ans_table *tabs, int32_t *errs,
                            cudaStream_t st)
{
    if (nlanes == 0) return cudaSuccess;
    const uint32_t blocks = (nlanes + ANS_THREADS - 1u) / ANS_THREADS;
    df11_ans_kernel<<<blocks, ANS_THREADS, 0, st>>>(in, jobs, lanes, nlanes, tabs, errs);
    return cudaGetLastError();
}

cudaError_t df11_ans_attributes(cudaFuncAttributes *a)
{
    return cudaFuncGetAttributes(a, df11_ans_kernel);
}
