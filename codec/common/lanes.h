/*
 * lanes.h - the lane geometry of an EXP payload (FORMAT.md 5.2), the one
 * place its formula lives: n symbols are cut into lanes of lane_symbols
 * (L) each, the last one shorter. Plain C, usable from CUDA device code
 * too (kernels/), so host checks and kernels cannot disagree.
 * L is never 0 here: readers reject such headers at open.
 */
#ifndef DF11_LANES_H
#define DF11_LANES_H

#include <stdint.h>

#ifdef __CUDACC__
#define DF11_LANES_FN static inline __host__ __device__
#else
#define DF11_LANES_FN static inline
#endif

/* Lanes of n symbols: ceil(n / L), computed without overflow. */
DF11_LANES_FN uint32_t df11_lanes(uint32_t n, uint32_t L)
{
    return (uint32_t)(((uint64_t)n + L - 1) / L);
}

/* Index of the first symbol of lane k. */
DF11_LANES_FN uint32_t df11_lane_first(uint32_t k, uint32_t L) { return k * L; }

/* Symbols in lane k (k < df11_lanes(n, L)): L, fewer in the last lane. */
DF11_LANES_FN uint32_t df11_lane_len(uint32_t n, uint32_t L, uint32_t k)
{
    uint32_t first = k * L;
    return n - first < L ? n - first : L;
}

/* The lane holding symbol i. */
DF11_LANES_FN uint32_t df11_lane_of(uint32_t i, uint32_t L) { return i / L; }

#undef DF11_LANES_FN
#endif
