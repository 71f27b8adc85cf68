/*
 * decode_ans_il.cu - the ANS_IL (FORMAT.md 10) chunk decoder kernels.
 *
 * The lanes of an ANS_IL chunk share one word stream, so they cannot be
 * split across blocks: a chunk of 32 to 64 lanes is one warp's work
 * (df11_ans_il_warp_kernel, a block of 32 threads; thread t owns lanes t
 * and t + 32; refill offsets by ballot and prefix popcount), a chunk of 16
 * lanes (--max's default 256 KiB chunks) one half-warp's, two such chunks
 * of one model sharing a block, and a chunk of one lane (under 16384
 * elements: biases, norms) is one thread's (df11_ans_il_serial_kernel, 32
 * chunks a block). The decoding itself is kernels/ans_il_warp.h, which the
 * CPU model runs too.
 *
 * Tables: the chunk's model's eslot (16 KiB) and ectx (4 KiB) are copied
 * into shared memory first - every element looks them up, and they are the
 * first lookup of each step - while mslot (128 KiB, 8 contexts of which a
 * tensor's exponents use two or three hot ones) is read through the
 * read-only cache: in shared memory it would leave one block per SM. 20 KiB
 * per 32-thread block allows 11 blocks (11 to 22 chunks) per SM, more than
 * a launch has chunks per SM (a 16 MiB sub-batch is 64 chunks of 256 KiB).
 *
 * Errors: a chunk that does not decode exactly reports
 * atomicCAS(errs[job], 0, 1); the host makes it DF11_E_CORRUPT_CHUNK for
 * that job only. No device asserts.
 */
#include "exp16.cuh"
#include "ans_il_warp.h"

#define IL_WARP 32u

__global__ void __launch_bounds__(IL_WARP)
df11_ans_il_warp_kernel(const uint8_t *__restrict__ in, const df11_dev_job *__restrict__ jobs,
                        const df11_dev_block *__restrict__ items,
                        const df11_cuda_ans_il_table *__restrict__ tabs, int32_t *__restrict__ errs)
{
    __shared__ __align__(16) uint32_t s_eslot[1u << DF11_ANS_IL_BITS];
    __shared__ __align__(16) uint8_t s_ectx[1u << DF11_ANS_IL_BITS];
    /* it.job, and it.lane0 - 1 when it.lane0 != 0: a second 16-lane chunk
     * of the same table, for the upper half-warp (the host pairs them). */
    const df11_dev_block it = items[blockIdx.x];
    const df11_cuda_ans_il_table *tab = tabs + jobs[it.job].lut;
    /* 16-byte loads: the table array is 16-aligned (cudaMalloc) and both
     * arrays are multiples of 16 bytes from its start. */
    const uint4 *ge = reinterpret_cast<const uint4 *>(tab->eslot);
    const uint4 *gc = reinterpret_cast<const uint4 *>(tab->ectx);
    uint4 *se = reinterpret_cast<uint4 *>(s_eslot), *sc = reinterpret_cast<uint4 *>(s_ectx);
    for (uint32_t k = threadIdx.x; k < sizeof s_eslot / 16u; k += IL_WARP) se[k] = __ldg(ge + k);
    for (uint32_t k = threadIdx.x; k < sizeof s_ectx / 16u; k += IL_WARP) sc[k] = __ldg(gc + k);
    __syncwarp();
    const uint32_t W = df11_il_team(df11_ans_il_lanes(jobs[it.job].n));
    /* The team's job: the whole warp's, or its half's (block-uniform W:
     * the host pairs only 16-lane chunks of the same table). */
    const uint32_t j = W == 32u || threadIdx.x < 16u ? it.job : it.lane0 - 1u;
    if (W == 16u && threadIdx.x >= 16u && it.lane0 == 0) return; /* no partner */
    const df11_dev_job job = jobs[j];
    const int ok = df11_il_warp(in + job.in_off, job.payload_len, job.n, job.il_signs, s_eslot, s_ectx,
                                tab->mslot, job.out, W);
    if (!ok && (threadIdx.x & (W - 1u)) == 0) atomicCAS(&errs[j], 0, 1);
}

__global__ void __launch_bounds__(IL_WARP)
df11_ans_il_serial_kernel(const uint8_t *__restrict__ in, const df11_dev_job *__restrict__ jobs,
                          const df11_dev_block *__restrict__ items, uint32_t nitems,
                          const df11_cuda_ans_il_table *__restrict__ tabs, int32_t *__restrict__ errs)
{
    const uint32_t t = blockIdx.x * IL_WARP + threadIdx.x;
    if (t >= nitems) return;
    const df11_dev_block it = items[t];
    const df11_dev_job job = jobs[it.job];
    const df11_cuda_ans_il_table *tab = tabs + job.lut;
    if (!df11_il_serial(in + job.in_off, job.payload_len, job.n, job.il_signs, tab->eslot, tab->ectx, tab->mslot,
                        job.out))
        atomicCAS(&errs[it.job], 0, 1);
}

cudaError_t df11_ans_il_launch(const uint8_t *in, const df11_dev_job *jobs, const df11_dev_block *warps,
                               uint32_t nwarps, const df11_dev_block *serial, uint32_t nserial,
                               const df11_cuda_ans_il_table *tabs, int32_t *errs, cudaStream_t st)
{
    if (nwarps) {
        df11_ans_il_warp_kernel<<<nwarps, IL_WARP, 0, st>>>(in, jobs, warps, tabs, errs);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) return e;
    }
    if (nserial) {
        df11_ans_il_serial_kernel<<<(nserial + IL_WARP - 1u) / IL_WARP, IL_WARP, 0, st>>>(in, jobs, serial, nserial,
                                                                                         tabs, errs);
        return cudaGetLastError();
    }
    return cudaSuccess;
}

cudaError_t df11_ans_il_attributes(cudaFuncAttributes *a)
{
    cudaError_t e = cudaFuncGetAttributes(a, df11_ans_il_serial_kernel);
    return e == cudaSuccess ? cudaFuncGetAttributes(a, df11_ans_il_warp_kernel) : e;
}
