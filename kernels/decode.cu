/*
 * decode.cu - the EXP16 (BF16) chunk decoder kernel.
 *
 * Mapping: one block per group of DF11_LANES_PER_BLOCK lanes of one chunk,
 * one thread per lane (lanes are independent by construction, FORMAT.md
 * 5.2). The grid covers every lane of every chunk of a launch, so many chunks
 * go in one launch. Per block:
 *   1. the chunk's 4096-entry LUT is copied to shared memory (16-byte loads);
 *   2. a block-wide prefix sum over the lane-length table (lengths in bits,
 *      lanes packed bit after bit) gives each thread its lane's start bit;
 *   3. in steps of DF11_TILE symbols, each thread decodes its lane into a
 *      shared tile, then the block writes the tile out cooperatively: a warp
 *      writes one lane's 64 BF16 words (128 contiguous bytes) per store, so
 *      output and sign/mantissa reads are coalesced although every thread
 *      walks its own lane.
 * Nothing is trusted: reads are clamped to the payload (zeros beyond), the
 * LUT index is always 12 bits, and a lane whose bit count does not match its
 * stored length is reported in errs[] for the host to turn into
 * DF11_E_CORRUPT_CHUNK. There are no device asserts.
 */
#include "exp16.cuh"
#include "lane_decode.h"

#define TILE_WORDS (DF11_TILE / 4u + 1u) /* +1: odd stride, no bank conflicts */

/* Inclusive block-wide scan of v; *total gets the block sum. Every thread of
 * the block must call it. */
static __device__ uint32_t block_scan(uint32_t v, uint32_t *warp_sums, uint32_t *total)
{
    const uint32_t lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
    for (uint32_t d = 1; d < 32u; d <<= 1) {
        uint32_t t = __shfl_up_sync(0xffffffffu, v, d);
        if (lane >= d) v += t;
    }
    if (lane == 31u) warp_sums[warp] = v;
    __syncthreads();
    uint32_t before = 0, all = 0;
    for (uint32_t w = 0; w < DF11_LANES_PER_BLOCK / 32u; w++) {
        uint32_t s = warp_sums[w];
        if (w < warp) before += s;
        all += s;
    }
    __syncthreads(); /* warp_sums is reused by the next call */
    *total = all;
    return v + before;
}

/* Stores two BF16 words at out + 2*e, with the widest store the (caller's)
 * alignment allows. */
static __device__ __forceinline__ void store_pair(uint8_t *out, uint32_t e,
                                                  uint16_t v0, uint16_t v1, int align)
{
    uint8_t *p = out + 2u * (size_t)e;
    if (align >= 4) {
        *reinterpret_cast<uint32_t *>(p) = (uint32_t)v0 | (uint32_t)v1 << 16;
    } else if (align == 2) {
        reinterpret_cast<uint16_t *>(p)[0] = v0;
        reinterpret_cast<uint16_t *>(p)[1] = v1;
    } else {
        p[0] = (uint8_t)v0; p[1] = (uint8_t)(v0 >> 8);
        p[2] = (uint8_t)v1; p[3] = (uint8_t)(v1 >> 8);
    }
}

static __device__ __forceinline__ void store_one(uint8_t *out, uint32_t e, uint16_t v, int align)
{
    uint8_t *p = out + 2u * (size_t)e;
    if (align >= 2) {
        *reinterpret_cast<uint16_t *>(p) = v;
    } else {
        p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
    }
}

__global__ void __launch_bounds__(DF11_LANES_PER_BLOCK)
df11_exp16_kernel(const uint8_t *__restrict__ in, const df11_dev_job *__restrict__ jobs,
                  const df11_dev_block *__restrict__ blocks,
                  const uint16_t *__restrict__ luts, int32_t *__restrict__ errs)
{
    __shared__ __align__(16) uint16_t lut[4096];
    __shared__ uint32_t tile[DF11_LANES_PER_BLOCK * TILE_WORDS];
    __shared__ uint32_t warp_sums[DF11_LANES_PER_BLOCK / 32u];

    const uint32_t tid = threadIdx.x;
    const df11_dev_block blk = blocks[blockIdx.x];
    const df11_dev_job job = jobs[blk.job];
    const uint8_t *p = in + job.in_off;
    const uint32_t L = job.lane_symbols, n = job.n, plen = job.payload_len;
    const uint32_t nl = L ? df11_lanes(n, L) : 0u;

    /* The host validated all of this; a block that still finds it false
     * reports the chunk rather than reading outside the payload. */
    if (L < DF11_TILE || L % DF11_TILE != 0 || blk.lane0 >= nl ||
        (uint64_t)plen < 2ull * nl + n || plen > (1u << 28)) {
        if (tid == 0) atomicCAS(&errs[blk.job], 0, DF11_ERR_SIZES);
        return; /* uniform across the block: no barrier is skipped */
    }

    const uint4 *src = reinterpret_cast<const uint4 *>(luts + (size_t)job.lut * 4096u);
    uint4 *lut4 = reinterpret_cast<uint4 *>(lut);
    for (uint32_t i = tid; i < 4096u * 2u / 16u; i += DF11_LANES_PER_BLOCK) lut4[i] = __ldg(src + i);

    /* Where this thread's lane starts: all lanes before it, summed. */
    uint32_t before = 0, my_off = 0, my_len = 0;
    for (uint32_t g = 0; g <= blk.lane0; g += DF11_LANES_PER_BLOCK) {
        const uint32_t k = g + tid;
        uint32_t len = 0;
        if (k < nl && 2u * k + 1u < plen) len = (uint32_t)p[2u * k] | (uint32_t)p[2u * k + 1u] << 8;
        uint32_t total;
        const uint32_t incl = block_scan(len, warp_sums, &total);
        if (g == blk.lane0) {
            my_off = before + incl - len;
            my_len = len;
        }
        before += total;
    }
    /* block_scan synchronised the block, so the LUT is complete here. */

    const uint32_t lane = blk.lane0 + tid;
    const uint32_t sym_end = plen - n; /* sign/mantissa plane start */
    const uint64_t start = 16ull * nl + my_off;
    uint32_t count = 0;
    if (lane < nl) count = df11_lane_len(n, L, lane);
    const int bad = lane < nl && start + my_len > 8ull * sym_end;

    df11_lane_reader rd;
    df11_lane_init(&rd, p, plen, bad ? 0u : (uint32_t)start);

    const uint32_t first_count = df11_lane_len(n, L, blk.lane0); /* the block's longest lane */
    const uint32_t steps = (first_count + DF11_TILE - 1u) / DF11_TILE;
    const uintptr_t oa = reinterpret_cast<uintptr_t>(job.out);
    const int align = (oa & 3u) == 0 ? 4 : (oa & 1u) == 0 ? 2 : 1;
    const uint32_t wl = tid & 31u, warp = tid >> 5;

    for (uint32_t s = 0; s < steps; s++) {
        const uint32_t first = s * DF11_TILE;
        const uint32_t m = count > first ? min(count - first, DF11_TILE) : 0u;
        for (uint32_t q = 0; q < DF11_TILE / 4u; q++) {
            uint32_t w = 0;
            if (4u * q + 3u < m) {
                w = df11_lane_next(&rd, lut);
                w |= df11_lane_next(&rd, lut) << 8;
                w |= df11_lane_next(&rd, lut) << 16;
                w |= df11_lane_next(&rd, lut) << 24;
            } else {
                for (uint32_t b = 0; b < 4u; b++)
                    if (4u * q + b < m) w |= df11_lane_next(&rd, lut) << (8u * b);
            }
            tile[tid * TILE_WORDS + q] = w;
        }
        __syncthreads();
        /* Warp w writes rows w, w+4, ...: 32 threads x 2 elements = the
         * row's 64 contiguous BF16 words. */
        for (uint32_t row = warp; row < DF11_LANES_PER_BLOCK; row += DF11_LANES_PER_BLOCK / 32u) {
            const uint32_t ln = blk.lane0 + row;
            if (ln >= nl) break;
            const uint32_t e0 = ln * L + first + 2u * wl;
            if (e0 >= n) continue;
            const uint32_t w = tile[row * TILE_WORDS + (wl >> 1)] >> ((wl & 1u) * 16u);
            const uint16_t v0 = df11_bf16_join(w & 0xFFu, p[sym_end + e0]);
            if (e0 + 1u < n) {
                const uint16_t v1 = df11_bf16_join((w >> 8) & 0xFFu, p[sym_end + e0 + 1u]);
                store_pair(job.out, e0, v0, v1, align);
            } else {
                store_one(job.out, e0, v0, align);
            }
        }
        __syncthreads();
    }

    if (lane < nl && (bad || !df11_lane_ok(&rd, my_len))) atomicCAS(&errs[blk.job], 0, (int32_t)(lane + 1u));
}

cudaError_t df11_exp16_launch(const uint8_t *in, const df11_dev_job *jobs,
                              const df11_dev_block *blocks, uint32_t nblocks,
                              const uint16_t *luts, int32_t *errs, cudaStream_t st)
{
    if (nblocks == 0) return cudaSuccess;
    df11_exp16_kernel<<<nblocks, DF11_LANES_PER_BLOCK, 0, st>>>(in, jobs, blocks, luts, errs);
    return cudaGetLastError();
}

cudaError_t df11_exp16_attributes(cudaFuncAttributes *a)
{
    return cudaFuncGetAttributes(a, df11_exp16_kernel);
}
