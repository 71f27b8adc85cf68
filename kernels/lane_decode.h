/*
 * lane_decode.h - the per-lane bit reader of the EXP16 decoder, shared by the
 * CUDA kernel (kernels/decode.cu) and its CPU model (gpu_emul.c) so the model
 * exercises the very code the GPU runs.
 *
 * A lane is a run of MSB-first canonical codes starting at any bit of the
 * payload (FORMAT.md 5.2: lanes are packed bit after bit). The reader loads
 * aligned 32-bit words, DF11_LANE_AHEAD of them ahead of need; words at or
 * past lim read as zero, so a lane that runs over never reads outside its
 * payload. Whether the lane was consistent
 * is decided once at the end: the bits used must equal its stored length.
 */
#ifndef DF11_LANE_DECODE_H
#define DF11_LANE_DECODE_H

#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define DF11_HD __host__ __device__ __forceinline__ static
#else
#define DF11_HD static inline
#endif

/* Words the reader loads ahead of need. 1 is what ran on the H200
 * (2026-11-30: 381 GB/s, against 371 with none); one refill, a dozen
 * symbols, hides far less than an L2 miss, which is where ncu found the
 * kernel waiting. DF11_LANE_AHEAD=4 (make KERNEL_DEFS=-DDF11_LANE_AHEAD=4)
 * hides about four times as much; kernels/gpu_check.sh builds and times
 * both, so the next GPU session can decide. The bits read and the
 * results are the same for any value. */
#ifndef DF11_LANE_AHEAD
#define DF11_LANE_AHEAD 1
#endif

typedef struct {
    const uint8_t *base; /* payload start, 4-byte aligned */
    uint64_t buf;        /* unread bits, left-aligned */
    uint32_t ahead[DF11_LANE_AHEAD]; /* the words after buf's, in order */
    uint32_t word;       /* next word to load, in words from base */
    uint32_t lim;        /* words at index >= lim read as zero */
    uint32_t have;       /* valid bits in buf */
    uint32_t used;       /* bits consumed so far */
} df11_lane_reader;

DF11_HD uint32_t df11_lane_word(const uint8_t *base, uint32_t word, uint32_t lim)
{
    if (word >= lim) return 0;
#ifdef __CUDA_ARCH__
    return __byte_perm(__ldg((const unsigned int *)base + word), 0, 0x0123);
#else
    uint32_t w;
    memcpy(&w, base + (size_t)word * 4, 4);
    return __builtin_bswap32(w); /* payloads are little-endian hosts' bytes */
#endif
}

/* Positions the reader at bit start_bit of the payload. */
DF11_HD void df11_lane_init(df11_lane_reader *r, const uint8_t *base,
                            uint32_t payload_len, uint32_t start_bit)
{
    uint32_t skip = start_bit & 31u;
    r->base = base;
    r->lim = (payload_len + 3u) / 4u;
    r->word = start_bit / 32u;
    r->buf = (uint64_t)df11_lane_word(base, r->word, r->lim) << (32u + skip);
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
    for (uint32_t k = 0; k < DF11_LANE_AHEAD; k++) r->ahead[k] = df11_lane_word(base, r->word + 1u + k, r->lim);
    r->word += 1u + DF11_LANE_AHEAD;
    r->have = 32u - skip;
    r->used = 0;
}

/* One symbol. lut[peek of 12 bits] = symbol | length << 8. A refill takes
 * the oldest word loaded ahead and starts loading a new one, so a global
 * load's latency is spent decoding the symbols in between, not waited for
 * (the kernel's stalls on L1TEX loads, ncu on the H200, 2026-11-30). The
 * shifts use constant indices only: the ring stays in registers. */
DF11_HD uint32_t df11_lane_next(df11_lane_reader *r, const uint16_t *lut)
{
    if (r->have < 12u) {
        r->buf |= (uint64_t)r->ahead[0] << (32u - r->have);
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
        for (uint32_t k = 0; k + 1u < DF11_LANE_AHEAD; k++) r->ahead[k] = r->ahead[k + 1u];
        r->ahead[DF11_LANE_AHEAD - 1u] = df11_lane_word(r->base, r->word, r->lim);
        r->word++;
        r->have += 32u;
    }
    uint32_t e = lut[(uint32_t)(r->buf >> 52)];
    uint32_t l = e >> 8;
    r->buf <<= l;
    r->have -= l;
    r->used += l;
    return e & 0xFFu;
}

/* The lane is consistent when its symbols used exactly its stored bits. */
DF11_HD int df11_lane_ok(const df11_lane_reader *r, uint32_t lane_bits)
{
    return r->used == lane_bits;
}

/* BF16 word from exponent e and sign/mantissa byte m (FORMAT.md 5). */
DF11_HD uint16_t df11_bf16_join(uint32_t e, uint32_t m)
{
    return (uint16_t)(((m & 0x80u) << 8) | ((e & 0xFFu) << 7) | (m & 0x7Fu));
}

#endif
