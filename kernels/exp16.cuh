/*
 * exp16.cuh - what decode.cu and decode_ans.cu (the kernels), batch.cu (host
 * pipeline) and bench.cu share: the device-side job layout and the
 * launchers.
 */
#ifndef DF11_EXP16_CUH
#define DF11_EXP16_CUH

#ifdef DF11_FAKE_CUDA
#include "fake_cuda.h" /* batch.cu's host logic on the CPU, for tests */
#else
#include <cuda_runtime.h>
#endif
#include <stdint.h>

#include "../codec/common/ans.h"
#include "../codec/common/lanes.h"
#include "df11_cuda.h"

/* One thread per lane; a block takes up to this many lanes of one chunk.
 * 64 matches the default geometry (256 KiB chunk / 2048 symbols per lane). */
#define DF11_LANES_PER_BLOCK 64u
/* Symbols per lane decoded between two cooperative output writes: 64 BF16
 * words = one 128-byte line per lane. lane_symbols (>= 256, a power of two)
 * is a multiple of it. */
#define DF11_TILE 64u

struct df11_dev_job {
    uint64_t in_off;       /* payload offset in the input buffer, 16-aligned */
    uint8_t *out;          /* n*2 bytes of device memory */
    uint32_t payload_len;
    uint32_t n;
    uint32_t lane_symbols;
    uint32_t lut;          /* EXP16: LUT index; ANS, ANS_IL: table index */
    uint32_t il_signs;     /* ANS_IL: lane states carry signs (FORMAT.md 10.1) */
};

/* EXP16: one block's lanes; ANS: one thread's lane (lane0 is the lane);
 * ANS_IL: one warp's or one thread's chunk (lane0 is 0). */
struct df11_dev_block {
    uint32_t job;          /* index into the job array of the launch */
    uint32_t lane0;        /* EXP16: first lane, a multiple of DF11_LANES_PER_BLOCK */
};

static inline uint32_t df11_lane_count(uint32_t n, uint32_t lane_symbols)
{
    return df11_lanes(n, lane_symbols);
}

static inline uint32_t df11_block_count(uint32_t n, uint32_t lane_symbols)
{
    return (df11_lane_count(n, lane_symbols) + DF11_LANES_PER_BLOCK - 1) / DF11_LANES_PER_BLOCK;
}

/* errs[] value for a job whose sizes make no sense (lanes give 1 + lane). */
#define DF11_ERR_SIZES 0x7fffffff

/* Enqueues the decoder on st. errs[job] ends 0, or 1 + the first bad lane
 * found (callers zero it first). Returns the launch status. */
cudaError_t df11_exp16_launch(const uint8_t *in, const df11_dev_job *jobs,
                              const df11_dev_block *blocks, uint32_t nblocks,
                              const uint16_t *luts, int32_t *errs,
                              cudaStream_t st);
/* Attributes of the kernel; fails when no image fits the current device. */
cudaError_t df11_exp16_attributes(cudaFuncAttributes *a);

/* Enqueues the ANS decoder (decode_ans.cu) over nlanes (job, lane) entries;
 * errs[job] as above. */
cudaError_t df11_ans_launch(const uint8_t *in, const df11_dev_job *jobs,
                            const df11_dev_block *lanes, uint32_t nlanes,
                            const df11_cuda_ans_table *tabs, int32_t *errs,
                            cudaStream_t st);
cudaError_t df11_ans_attributes(cudaFuncAttributes *a);

/* Enqueues the ANS_IL decoders (decode_ans_il.cu): one warp (block) per
 * entry of warps (a chunk of 32..64 lanes, or of 16 lanes with lane0 = 0 or
 * 1 + a second 16-lane chunk of the same table for the upper half-warp),
 * one thread per entry of serial (one-lane chunks, lane0 0); errs[job] ends
 * 0 or 1. */
cudaError_t df11_ans_il_launch(const uint8_t *in, const df11_dev_job *jobs, const df11_dev_block *warps,
                               uint32_t nwarps, const df11_dev_block *serial, uint32_t nserial,
                               const df11_cuda_ans_il_table *tabs, int32_t *errs, cudaStream_t st);
cudaError_t df11_ans_il_attributes(cudaFuncAttributes *a);

#endif
