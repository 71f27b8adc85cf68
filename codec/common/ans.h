/*
 * ans.h - the ANS codec's constants and its one-lane reference decoder
 * (FORMAT.md 9). Plain C usable from CUDA device code (kernels/) and from
 * the GPU model (gpu_emul.c), so the host checks, the model and the kernel
 * cannot disagree on the arithmetic. The fast CPU decoder
 * (codec/decompress/ans_decode.c) interleaves lanes but does the same steps.
 *
 * rANS with a 32-bit state x in [2^16, 2^32), renormalised by 16-bit words:
 * a symbol with frequency f and cumulative frequency c out of 2^P decodes
 * from slot = x mod 2^P as x' = f * (x >> P) + slot - c, then one word is
 * read when x' < 2^16. Each element is its exponent (P = 14), then its 7
 * mantissa bits (P = 12) under the context the exponent selects.
 */
#ifndef DF11_ANS_H
#define DF11_ANS_H

#include <stdint.h>

#ifdef __CUDACC__
#define DF11_ANS_FN static inline __host__ __device__
#else
#define DF11_ANS_FN static inline
#endif

#define DF11_ANS_EXP_BITS 14u
#define DF11_ANS_MANT_BITS 12u
#define DF11_ANS_LOW (1u << 16)   /* state lower bound; the encoder starts there */
#define DF11_ANS_LANE 16384u      /* elements per lane */
/* Per lane: u32 start state, u16 stream length in 16-bit words. */
#define DF11_ANS_LANE_HEAD 6u

/* Exponent entry: freq (15 bits) | cum << 15 (14 bits) | context << 29. */
DF11_ANS_FN uint32_t df11_ans_einfo(uint32_t freq, uint32_t cum, uint32_t ctx)
{
    return freq | cum << 15 | ctx << 29;
}
/* Mantissa entry for one slot: symbol (7 bits) | freq << 7 (13 bits) |
 * (slot - cum) << 20 (12 bits). */
DF11_ANS_FN uint32_t df11_ans_mslot(uint32_t sym, uint32_t freq, uint32_t bias)
{
    return sym | freq << 7 | bias << 20;
}

/* A lane's word reader that never reads at or past `end` (words read as 0
 * there and the lane fails its end check). */
typedef struct {
    uint32_t x;
    uint32_t pos, end; /* in 16-bit words from base */
} df11_ans_lane;

DF11_ANS_FN uint32_t df11_ans_word(const uint8_t *base, uint32_t w, uint32_t end)
{
    return w < end ? (uint32_t)base[2 * w] | (uint32_t)base[2 * w + 1] << 8 : 0;
}

/* One element: returns the BF16 word without its sign. esym: 2^14 bytes,
 * einfo: 256 entries, mslot: 8 x 2^12 entries. */
DF11_ANS_FN uint32_t df11_ans_next(df11_ans_lane *l, const uint8_t *base, const uint8_t *esym,
                                   const uint32_t *einfo, const uint32_t *mslot)
{
    uint32_t x = l->x;
    uint32_t slot = x & ((1u << DF11_ANS_EXP_BITS) - 1);
    uint32_t e = esym[slot], inf = einfo[e];
    x = (inf & 0x7FFFu) * (x >> DF11_ANS_EXP_BITS) + slot - ((inf >> 15) & 0x3FFFu);
    if (x < DF11_ANS_LOW) x = x << 16 | df11_ans_word(base, l->pos++, l->end);
    uint32_t ms = mslot[(inf >> 29) << DF11_ANS_MANT_BITS | (x & ((1u << DF11_ANS_MANT_BITS) - 1))];
    x = ((ms >> 7) & 0x1FFFu) * (x >> DF11_ANS_MANT_BITS) + (ms >> 20);
    if (x < DF11_ANS_LOW) x = x << 16 | df11_ans_word(base, l->pos++, l->end);
    l->x = x;
    return e << 7 | (ms & 0x7Fu);
}

/* The decode tables of one model, in the layout df11_ans_next reads:
 * esym[2^14] (slot -> exponent), einfo[256] (df11_ans_einfo), and
 * mslot[8 << 12] (df11_ans_mslot per context and slot). efreq: the exponent
 * table's 256 frequencies (sum 2^14); ctx: the model's 256 contexts (< 8);
 * mfreq[c]: context c's mantissa frequencies (128 used, sum 2^12). The
 * tables must have passed the reader's checks (FORMAT.md 9). One builder,
 * so every decoder that adopts it indexes the same layout; the GPU path
 * (codec/decompress/gpu_prep.c) builds its device tables with it. */
DF11_ANS_FN void df11_ans_build(const uint16_t *efreq, const uint8_t *ctx,
                                const uint16_t *const *mfreq, uint8_t *esym,
                                uint32_t *einfo, uint32_t *mslot)
{
    uint32_t cum = 0;
    for (uint32_t s = 0; s < 256; s++) {
        uint32_t f = efreq[s];
        einfo[s] = df11_ans_einfo(f, cum & 0x3FFFu, ctx[s] & 7u);
        for (uint32_t k = 0; k < f && cum + k < (1u << DF11_ANS_EXP_BITS); k++)
            esym[cum + k] = (uint8_t)s;
        cum += f;
    }
    for (uint32_t c = 0; c < 8u; c++) {
        uint32_t *out = mslot + (c << DF11_ANS_MANT_BITS);
        cum = 0;
        for (uint32_t s = 0; s < 128u; s++) {
            uint32_t f = mfreq[c][s];
            for (uint32_t k = 0; k < f && cum + k < (1u << DF11_ANS_MANT_BITS); k++)
                out[cum + k] = df11_ans_mslot(s, f, k);
            cum += f;
        }
    }
}

/* Payload geometry of an ANS chunk of n elements (FORMAT.md 9): nl lanes,
 * then the stream area starts at DF11_ANS_LANE_HEAD * nl and the sign
 * plane takes the last (n + 7) / 8 bytes. */
DF11_ANS_FN uint32_t df11_ans_lanes(uint32_t n)
{
    return (uint32_t)(((uint64_t)n + DF11_ANS_LANE - 1) / DF11_ANS_LANE);
}
DF11_ANS_FN uint32_t df11_ans_sign_bytes(uint32_t n) { return (uint32_t)(((uint64_t)n + 7) / 8); }

/* A lane decoded correctly ends exactly at its last word, in the state the
 * encoder started from. */
DF11_ANS_FN int df11_ans_lane_ok(const df11_ans_lane *l)
{
    return l->pos == l->end && l->x == DF11_ANS_LOW;
}

/* ---- ANS_IL (FORMAT.md 10, format 1.2) ----
 *
 * The same two steps per element, with both tables at P = 12 and no
 * symbol owning all 2^12 slots, so one 32-bit entry per slot holds the
 * symbol, its frequency and slot - cum: a SIMD decoder needs one lookup
 * per step. The lanes of a chunk share one word stream: element i is on
 * lane i mod nl, and per group of nl consecutive elements every lane's
 * exponent step comes first, in lane order, then every lane's mantissa
 * step, each taking the stream's next word when its state falls below
 * 2^16. A vector of lanes refills by expanding consecutive words into the
 * lanes that need one; a GPU warp by a ballot and a prefix count. */
#define DF11_ANS_IL_BITS 12u
#define DF11_ANS_IL_MAX_LANES 64u

/* Lanes of a chunk of n elements: 1 below 2^14 elements, else 16 per
 * 2^17 elements (rounded up), at most 64; whole vectors of 16. */
DF11_ANS_FN uint32_t df11_ans_il_lanes(uint32_t n)
{
    if (n < 16384u) return 1;
    uint32_t v = (uint32_t)(((uint64_t)n + 131071u) / 131072u);
    return 16u * (v > 4u ? 4u : v);
}

/* Exponent entry of a slot: e | freq << 8 | (slot - cum) << 20. */
DF11_ANS_FN uint32_t df11_ans_il_eslot(uint32_t e, uint32_t freq, uint32_t bias)
{
    return e | freq << 8 | bias << 20;
}
/* Mantissa entry of a slot: m | freq << 7 | (slot - cum) << 19. */
DF11_ANS_FN uint32_t df11_ans_il_mslot(uint32_t m, uint32_t freq, uint32_t bias)
{
    return m | freq << 7 | bias << 19;
}

/* The decode tables of one model for ANS_IL: eslot[2^12], mslot[8 << 12].
 * efreq/mfreq as for df11_ans_build; the tables must have passed the
 * reader's checks (FORMAT.md 10: P = 12, every freq < 2^12). The
 * context map stays the model's own ctx[256]. */
DF11_ANS_FN void df11_ans_il_build(const uint16_t *efreq, const uint16_t *const *mfreq,
                                   uint32_t *eslot, uint32_t *mslot)
{
    const uint32_t S = 1u << DF11_ANS_IL_BITS;
    uint32_t cum = 0;
    for (uint32_t s = 0; s < 256; s++)
        for (uint32_t k = 0; k < efreq[s] && cum < S; k++) eslot[cum++] = df11_ans_il_eslot(s, efreq[s], k);
    for (uint32_t c = 0; c < 8u; c++) {
        uint32_t *out = mslot + (c << DF11_ANS_IL_BITS);
        cum = 0;
        for (uint32_t s = 0; s < 128u; s++)
            for (uint32_t k = 0; k < mfreq[c][s] && cum < S; k++)
                out[cum++] = df11_ans_il_mslot(s, mfreq[c][s], k);
    }
}

/* One step of a lane from an entry whose frequency sits at bit fshift and
 * whose slot - cum at bit bshift. */
DF11_ANS_FN uint32_t df11_ans_il_step(uint32_t x, uint32_t ent, unsigned fshift, unsigned bshift)
{
    return ((ent >> fshift) & 0xFFFu) * (x >> DF11_ANS_IL_BITS) + ((ent >> bshift) & 0xFFFu);
}

/* ---- Signs in the lane states (FORMAT.md 10.1, format 1.4, flag IL_SIGNS)
 *
 * A lane's encoder starts in state 2^16 + b instead of 2^16, and b holds
 * the signs of the lane's first elements: bit j is the sign of element
 * k + j*nl of lane k, for the lane's elements among the chunk's first
 * t = df11_ans_il_carried(n, nl, 1) (16 per lane when the chunk has that
 * many). The decoder ends in that state, so the 16 bits that every lane's
 * stored state wasted now hold data, and the sign plane starts at element
 * t. A decoder reads element i's sign bit at sg[i / 8] where sg =
 * df11_ans_il_signs_at(...): for i < t those bytes are part of the lane
 * states or the stream (never outside the payload), and the element is
 * corrected from the final state afterwards (df11_ans_il_put_signs). */
#define DF11_ANS_IL_HELD 16u

/* Elements whose signs the states carry: 0 without the flag. */
DF11_ANS_FN uint32_t df11_ans_il_carried(uint32_t n, uint32_t nl, int signs)
{
    uint64_t t = (uint64_t)DF11_ANS_IL_HELD * nl;
    return !signs ? 0u : t < n ? (uint32_t)t : n;
}
/* Of those, the ones on lane k: bits of its final state above 2^16. */
DF11_ANS_FN uint32_t df11_ans_il_held(uint32_t t, uint32_t nl, uint32_t k)
{
    return k < t ? (t - k + nl - 1u) / nl : 0u;
}
/* Bytes of the stored sign plane: elements t .. n-1. */
DF11_ANS_FN uint64_t df11_ans_il_plane_bytes(uint32_t n, uint32_t t)
{
    return ((uint64_t)n - t + 7u) / 8u;
}
/* Where element i's sign bit is read, sg[i >> 3] >> (i & 7): the plane
 * ends the payload (p, len), and its first bit is element t's. t is a
 * multiple of 8 unless t == n (then the plane is empty); reads for i < t
 * stay inside the lane states, which are at least ceil(t / 8) bytes. */
DF11_ANS_FN const uint8_t *df11_ans_il_signs_at(const uint8_t *p, uint64_t len, uint32_t n, uint32_t t)
{
    return p + len - df11_ans_il_plane_bytes(n, t) - ((uint64_t)t + 7u) / 8u;
}
/* Whether lane k's final state x is one the encoder could start from:
 * 2^16 + b with b below 2^held. */
DF11_ANS_FN int df11_ans_il_end_ok(uint32_t x, uint32_t held)
{
    return x >= DF11_ANS_LOW && ((x - DF11_ANS_LOW) >> held) == 0u;
}
/* Sets the sign of lane k's carried elements in dst (2n bytes, any
 * alignment) from its final state x. */
DF11_ANS_FN void df11_ans_il_put_signs(uint8_t *dst, uint32_t t, uint32_t nl, uint32_t k, uint32_t x)
{
    uint32_t held = df11_ans_il_held(t, nl, k), b = x - DF11_ANS_LOW;
    for (uint32_t j = 0; j < held; j++) {
        uint64_t i = k + (uint64_t)j * nl;
        dst[2 * i + 1] = (uint8_t)((dst[2 * i + 1] & 0x7Fu) | (b >> j & 1u) << 7);
    }
}

/* The reference decoder of an ANS_IL payload of len bytes holding n
 * elements, into dst (2n bytes, any alignment), sign plane included;
 * signs: the file has flag IL_SIGNS (10.1). Reads nothing outside the
 * payload. Returns 0, or 1 when the payload is malformed (too short, a
 * lane not back in a state the encoder starts from, words left over or
 * missing); the fast decoders must agree with it on every input. */
DF11_ANS_FN int df11_ans_il_decode_ref(const uint8_t *p, uint64_t len, uint32_t n,
                                       const uint32_t *eslot, const uint32_t *mslot,
                                       const uint8_t *ctx, int signs, uint8_t *dst)
{
    uint32_t nl = df11_ans_il_lanes(n), x[DF11_ANS_IL_MAX_LANES], ev[DF11_ANS_IL_MAX_LANES];
    uint32_t t = df11_ans_il_carried(n, nl, signs);
    uint64_t head = 4ull * nl, sign = df11_ans_il_plane_bytes(n, t);
    if (len < head + sign || (len - head - sign) % 2) return 1;
    const uint8_t *w = p + head, *sg = df11_ans_il_signs_at(p, len, n, t);
    uint64_t nw = (len - head - sign) / 2, pos = 0;
    int bad = 0;
    for (uint32_t k = 0; k < nl; k++) {
        x[k] = (uint32_t)p[4 * k] | (uint32_t)p[4 * k + 1] << 8 | (uint32_t)p[4 * k + 2] << 16 |
               (uint32_t)p[4 * k + 3] << 24;
        bad |= x[k] < DF11_ANS_LOW;
    }
    const uint32_t M = (1u << DF11_ANS_IL_BITS) - 1;
    for (uint64_t g = 0; g < n; g += nl) {
        uint32_t cnt = n - g < nl ? (uint32_t)(n - g) : nl;
        for (uint32_t k = 0; k < cnt; k++) {
            uint32_t ent = eslot[x[k] & M];
            x[k] = df11_ans_il_step(x[k], ent, 8, 20);
            if (x[k] < DF11_ANS_LOW) {
                uint32_t v = pos < nw ? (uint32_t)w[2 * pos] | (uint32_t)w[2 * pos + 1] << 8 : 0;
                bad |= pos++ >= nw;
                x[k] = x[k] << 16 | v;
            }
            ev[k] = ent & 0xFFu;
        }
        for (uint32_t k = 0; k < cnt; k++) {
            uint32_t ent = mslot[(uint32_t)(ctx[ev[k]] & 7u) << DF11_ANS_IL_BITS | (x[k] & M)];
            x[k] = df11_ans_il_step(x[k], ent, 7, 19);
            if (x[k] < DF11_ANS_LOW) {
                uint32_t v = pos < nw ? (uint32_t)w[2 * pos] | (uint32_t)w[2 * pos + 1] << 8 : 0;
                bad |= pos++ >= nw;
                x[k] = x[k] << 16 | v;
            }
            uint64_t i = g + k;
            uint32_t v = (uint32_t)(sg[i >> 3] >> (i & 7) & 1u) << 15 | ev[k] << 7 | (ent & 0x7Fu);
            dst[2 * i] = (uint8_t)v;
            dst[2 * i + 1] = (uint8_t)(v >> 8);
        }
    }
    for (uint32_t k = 0; k < nl; k++) {
        bad |= !df11_ans_il_end_ok(x[k], df11_ans_il_held(t, nl, k));
        df11_ans_il_put_signs(dst, t, nl, k, x[k]);
    }
    return bad || pos != nw;
}

#undef DF11_ANS_FN
#endif
