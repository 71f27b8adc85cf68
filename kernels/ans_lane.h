/*
 * ans_lane.h - one lane of an ANS chunk (FORMAT.md 9), shared by the CUDA
 * kernel (kernels/decode_ans.cu, one thread per lane) and its CPU model
 * (kernels/gpu_emul.c, lane after lane), so the model runs the very code
 * the GPU runs: the same offsets, the same bounds, the same end check, and
 * codec/common/ans.h's df11_ans_next for the arithmetic.
 *
 * Nothing in the payload is trusted here although the host validated it
 * (gpu_prep.c): the lane's stream is located by summing the word counts of
 * the lanes before it and must lie inside the stream area, or the lane
 * fails without decoding; reads are bounded by df11_ans_word.
 */
#ifndef DF11_ANS_LANE_H
#define DF11_ANS_LANE_H

#include <stdint.h>
#include <string.h>

#include "../codec/common/ans.h"
#include "../codec/common/lanes.h"

#ifdef __CUDACC__
#define DF11_AHD __host__ __device__ __forceinline__ static
#else
#define DF11_AHD static inline
#endif

DF11_AHD uint32_t df11_ans_rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
DF11_AHD uint32_t df11_ans_rd32(const uint8_t *p)
{
    return df11_ans_rd16(p) | df11_ans_rd16(p + 2) << 16;
}

/* Stores m (<= 8) BF16 words at dst (any alignment; 16-byte stores when
 * a whole group is aligned, which it is whenever the chunk's destination
 * is: lanes start at multiples of 32 KiB and groups at 16 bytes). */
DF11_AHD void df11_ans_store(uint8_t *dst, const uint16_t *v, uint32_t m)
{
#ifdef __CUDA_ARCH__
    const uintptr_t a = (uintptr_t)dst;
    if (m == 8u && (a & 15u) == 0) {
        uint4 w;
        w.x = v[0] | (uint32_t)v[1] << 16;
        w.y = v[2] | (uint32_t)v[3] << 16;
        w.z = v[4] | (uint32_t)v[5] << 16;
        w.w = v[6] | (uint32_t)v[7] << 16;
        *reinterpret_cast<uint4 *>(dst) = w;
    } else if ((a & 1u) == 0) {
        for (uint32_t j = 0; j < m; j++) reinterpret_cast<uint16_t *>(dst)[j] = v[j];
    } else {
        for (uint32_t j = 0; j < m; j++) {
            dst[2 * j] = (uint8_t)v[j];
            dst[2 * j + 1] = (uint8_t)(v[j] >> 8);
        }
    }
#else
    for (uint32_t j = 0; j < m; j++) {
        dst[2 * j] = (uint8_t)v[j];
        dst[2 * j + 1] = (uint8_t)(v[j] >> 8);
    }
#endif
}

/* Decodes lane k of the ANS payload p (plen bytes, n elements) into out,
 * the chunk's n*2-byte destination, sign plane joined. Returns 1 when the
 * lane decoded exactly (df11_ans_lane_ok), 0 otherwise; a lane whose
 * header is impossible writes nothing. */
DF11_AHD int df11_ans_lane_run(const uint8_t *p, uint32_t plen, uint32_t n, uint32_t k,
                               const uint8_t *esym, const uint32_t *einfo,
                               const uint32_t *mslot, uint8_t *out)
{
    const uint32_t nl = df11_ans_lanes(n);
    const uint64_t head = (uint64_t)DF11_ANS_LANE_HEAD * nl, signs = df11_ans_sign_bytes(n);
    if (k >= nl || head + signs > plen) return 0;
    uint64_t woff = 0;
    for (uint32_t j = 0; j < k; j++) woff += df11_ans_rd16(p + 4 * (uint64_t)nl + 2 * (uint64_t)j);
    const uint32_t words = df11_ans_rd16(p + 4 * (uint64_t)nl + 2 * (uint64_t)k);
    const uint32_t x0 = df11_ans_rd32(p + 4 * (uint64_t)k);
    if (2 * (woff + words) > plen - head - signs || x0 < DF11_ANS_LOW) return 0;

    const uint8_t *base = p + head + 2 * woff, *sg = p + plen - signs;
    const uint32_t first = df11_lane_first(k, DF11_ANS_LANE);
    const uint32_t count = df11_lane_len(n, DF11_ANS_LANE, k);
    df11_ans_lane l;
    l.x = x0;
    l.pos = 0;
    l.end = words;
    uint16_t v[8];
    /* Groups of eight: one sign byte each (lanes start at multiples of 8). */
    for (uint32_t i = 0; i < count; i += 8u) {
        const uint32_t m = count - i < 8u ? count - i : 8u;
        const uint32_t sb = sg[(first + i) >> 3];
        for (uint32_t j = 0; j < m; j++)
            v[j] = (uint16_t)(df11_ans_next(&l, base, esym, einfo, mslot) | ((sb >> j) & 1u) << 15);
        df11_ans_store(out + 2 * ((uint64_t)first + i), v, m);
    }
    return df11_ans_lane_ok(&l);
}

#undef DF11_AHD
#endif
