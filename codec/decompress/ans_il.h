/* ans_il.h - what the ANS_IL decoder's portable part (ans_il.c) and its
 * x86 SIMD runners (ans_il_x86.c) share: the decode state and the four
 * entry points of the SIMD side. Internal to codec/decompress. */
#ifndef DF11_ANS_IL_H
#define DF11_ANS_IL_H

#include "reader.h"

#define IL_M ((1u << DF11_ANS_IL_BITS) - 1)

static inline uint32_t rd16(const uint8_t *p)
{
    uint16_t w;
    memcpy(&w, p, 2);
    return w;
}

/* Where a decode stands: lane states, the stream position (in words) and
 * the first element not yet decoded (always a group boundary). */
typedef struct {
    uint32_t x[DF11_ANS_IL_MAX_LANES];
    uint32_t nl, n;
    uint32_t carried; /* elements whose signs the final states hold (10.1) */
    uint64_t pos, nw, i;
    const uint8_t *w, *sg;
    uint8_t *dst;
    const df11_ans_il_dtable *t;
} il_state;

/* The SIMD loop for one chunk at level (2 AVX-512, 1 AVX2): whole groups
 * while the stream surely holds them; the caller's scalar code finishes.
 * A no-op below 16 lanes, at level 0 and off x86. */
void df11_il_simd_run(int level, il_state *s);
/* The same for count 16-lane chunks, interleaved, each on its own
 * tables (of one model or several); s is reordered. */
void df11_il_multi_run(int level, il_state **s, uint32_t count);
/* The decode tables sixteen entries per store (AVX-512); false where it
 * cannot, and the caller builds them with ans.h's builder. */
bool df11_il_fast_build(const uint16_t *efreq, const uint16_t *const *mfreq, uint32_t *eslot,
                        uint32_t *mslot);
/* Whether the CPU has AVX-512 VBMI (the context lookup's vpermi2b). */
bool df11_il_have_vbmi(void);

#endif
