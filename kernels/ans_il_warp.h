/*
 * ans_il_warp.h - an ANS_IL chunk (FORMAT.md 10) decoded by one warp, and a
 * one-lane chunk decoded by one thread, shared by the CUDA kernels
 * (kernels/decode_ans_il.cu) and their CPU model (kernels/gpu_emul.c and
 * the fake runtime's launcher, kernels/fake_cuda.cpp).
 *
 * The team function is written once in SIMT form and compiled twice. A
 * team is a whole warp (W = 32) for a chunk of 32..64 lanes, or a half-warp
 * (W = 16) for a chunk of 16 lanes - --max's default 256 KiB chunks - so a
 * warp decodes two of those at once instead of idling half its threads. On
 * the device each IL_FOR_T block is the calling thread's part (t = its
 * index in the team) and IL_BALLOT is __ballot_sync over the team's
 * threads, shifted down to team bits. On the host IL_FOR_T runs the block
 * for t = 0..W-1 in turn, per-thread variables (IL_DECL, IL_T) become
 * 32-entry arrays, and IL_BALLOT ORs bit t of the mask. Every cross-thread
 * exchange of the kernel is a ballot between two IL_FOR_T blocks, so
 * running the blocks thread after thread gives exactly the team's results:
 * the model runs the kernel's code, not a copy of it. (Two half-warp teams
 * never exchange anything, so the host runs them one after the other.)
 *
 * Mapping: thread t owns lanes t and t + W (when nl > W). Per group of nl
 * elements (codec/common/ans.h, df11_ans_il_decode_ref): every active
 * lane's exponent step, then the refills in lane order - the lanes that
 * need a word take the stream's next words in lane order, so lane k's word
 * is pos + (needing lanes before k): popc(ballot & lanes-below-me), lanes
 * W..2W-1 after all of lanes 0..W-1 - then the mantissa steps and their
 * refills the same way, and each lane writes its element. The stream
 * position is team-uniform. A word at or past the stream's end reads as 0
 * and the chunk fails (pos ends != nw). Every element is written even then
 * (a payload whose geometry is impossible writes nothing, but the host
 * never launches those: df11_gpu_check_ans_il):
 * device mode copies the whole destination back for its checksum, and an
 * element a failed chunk left unwritten would be a read of uninitialised
 * memory (compute-sanitizer initcheck, on the H200, 2026-11-30). pos grows
 * by at most 2 words an element, so it cannot wrap (n < 2^31).
 *
 * Tables: eslot[2^12] and ectx[2^12] (the exponent's context per slot,
 * fetched beside the exponent entry, off the dependent chain) in shared
 * memory on the device, mslot[8 << 12] through the read-only cache. All
 * indices are masked (slot & 4095, context & 7), so no table content can
 * make a read leave them; the host checks the tables anyway
 * (codec/decompress/gpu_prep.c) because a wrong table is a wrong decode.
 */
#ifndef DF11_ANS_IL_WARP_H
#define DF11_ANS_IL_WARP_H

#include <stdint.h>

#include "../codec/common/ans.h"

#ifdef __CUDACC__
#define DF11_ILD __host__ __device__ __forceinline__ static
#else
#define DF11_ILD static inline
#endif

#ifdef __CUDA_ARCH__
#define IL_FOR_T {                                  \
        const uint32_t t = threadIdx.x & (W - 1u);  \
        (void)t;
#define IL_END }
#define IL_DECL(type, v) type v
#define IL_T(v) (v)
/* il_mask: the team's threads in the warp; il_base: its first. */
#define IL_BALLOT(m, pred) ((m) |= (__ballot_sync(il_mask, (pred)) & il_mask) >> il_base)
#define IL_POPC(v) ((uint32_t)__popc(v))
#define IL_LOAD32(p) __ldg(p)
#else
#define IL_FOR_T for (uint32_t t = 0; t < W; t++) {
#define IL_END }
#define IL_DECL(type, v) type v[32]
#define IL_T(v) (v)[t]
#define IL_BALLOT(m, pred) ((m) |= (uint32_t)((pred) != 0) << t)
#define IL_POPC(v) ((uint32_t)__builtin_popcount(v))
#define IL_LOAD32(p) (*(p))
#endif

DF11_ILD uint32_t df11_il_rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
DF11_ILD uint32_t df11_il_rd32(const uint8_t *p)
{
    return df11_il_rd16(p) | df11_il_rd16(p + 2) << 16;
}

/* Element i (BF16 word v) of the chunk's destination, any alignment. */
DF11_ILD void df11_il_put(uint8_t *out, uint32_t i, uint32_t v)
{
#ifdef __CUDA_ARCH__
    if (((uintptr_t)out & 1u) == 0) {
        reinterpret_cast<uint16_t *>(out)[i] = (uint16_t)v;
        return;
    }
#endif
    out[2 * (uint64_t)i] = (uint8_t)v;
    out[2 * (uint64_t)i + 1] = (uint8_t)(v >> 8);
}

/* The stream's word o, 0 at or past its end (nw words). On the device one
 * 16-bit load through the read-only cache: the refill is on every step's
 * dependent chain, and the stream is 2-aligned whenever the payload is
 * (the staging buffers align payloads to 16; the states before it take
 * 4 * nl bytes). */
DF11_ILD uint32_t df11_il_word(const uint8_t *w, uint32_t o, uint32_t nw)
{
#ifdef __CUDA_ARCH__
    if (o < nw && ((uintptr_t)w & 1u) == 0) return __ldg(reinterpret_cast<const unsigned short *>(w) + o);
#endif
    return o < nw ? df11_il_rd16(w + 2 * (uint64_t)o) : 0u;
}

/* The payload's geometry: 0 when the payload is too short for its header
 * and sign plane or leaves an odd stream (FORMAT.md 10); *t: the elements
 * whose signs the lane states carry (10.1, il_signs), 0 without. */
DF11_ILD int df11_il_geometry(uint32_t plen, uint32_t n, uint32_t il_signs, uint32_t *nl, uint32_t *nw,
                              uint32_t *t)
{
    *nl = df11_ans_il_lanes(n);
    *t = df11_ans_il_carried(n, *nl, il_signs != 0);
    const uint64_t head = 4ull * *nl, signs = df11_ans_il_plane_bytes(n, *t);
    if (n == 0 || (uint64_t)plen < head + signs || ((plen - head - signs) & 1u)) return 0;
    *nw = (uint32_t)((plen - head - signs) / 2u);
    return 1;
}

/* The team width for a chunk of nl lanes (nl = 1 chunks go to
 * df11_il_serial instead). */
DF11_ILD uint32_t df11_il_team(uint32_t nl) { return nl <= 16u ? 16u : 32u; }

/* Decodes the ANS_IL payload p (plen bytes, n elements) into out (2n bytes,
 * any alignment) with a team of W threads (16 or 32, at least
 * df11_il_team(nl)): on the device a whole warp, or one aligned half of
 * it, every thread of the team calling it with the same arguments; on the
 * host call it once. Returns 1 when the chunk decoded exactly (every lane
 * back in state 2^16, the stream read to its last word), the same answer
 * in every thread of the team. Any lane count of the format up to 2W
 * works; nl = 1 chunks go to df11_il_serial instead (one thread). */
DF11_ILD int df11_il_warp(const uint8_t *p, uint32_t plen, uint32_t n, uint32_t il_signs,
                          const uint32_t *eslot, const uint8_t *ectx, const uint32_t *mslot, uint8_t *out,
                          const uint32_t W)
{
    const uint32_t M = (1u << DF11_ANS_IL_BITS) - 1u;
    uint32_t nl, nw, tc;
    if ((W != 16u && W != 32u) || !df11_il_geometry(plen, n, il_signs, &nl, &nw, &tc) || nl > 2u * W)
        return 0;
#ifdef __CUDA_ARCH__
    const uint32_t il_base = W == 32u ? 0u : threadIdx.x & 16u;
    const uint32_t il_mask = W == 32u ? 0xFFFFFFFFu : 0xFFFFu << il_base;
#endif
    /* sign bits of the carried elements (tc of them) are read from the
     * lane states and set right at the end */
    const uint8_t *w = p + 4u * nl, *sg = df11_ans_il_signs_at(p, plen, n, tc);
    IL_DECL(uint32_t, xa); /* lane t */
    IL_DECL(uint32_t, xb); /* lane t + W */
    IL_DECL(uint32_t, ea); /* exponent of the group's element, lane t */
    IL_DECL(uint32_t, eb);
    IL_DECL(uint32_t, ca); /* its mantissa context */
    IL_DECL(uint32_t, cb);
    uint32_t bad = 0;
    IL_FOR_T
        IL_T(xa) = t < nl ? df11_il_rd32(p + 4u * t) : DF11_ANS_LOW;
        IL_T(xb) = t + W < nl ? df11_il_rd32(p + 4u * (t + W)) : DF11_ANS_LOW;
        IL_T(ea) = IL_T(eb) = IL_T(ca) = IL_T(cb) = 0;
        IL_BALLOT(bad, IL_T(xa) < DF11_ANS_LOW || IL_T(xb) < DF11_ANS_LOW);
    IL_END
    const uint32_t groups = (uint32_t)(((uint64_t)n + nl - 1u) / nl);
    uint32_t pos = 0; /* warp-uniform */
    for (uint32_t g = 0; g < groups; g++) {
        const uint32_t base = g * nl; /* < n */
        const uint32_t cnt = n - base < nl ? n - base : nl;
        /* Exponent steps of the group's lanes, then their refills. */
        uint32_t na = 0, nb = 0;
        IL_FOR_T
            if (t < cnt) {
                const uint32_t s = IL_T(xa) & M, ent = eslot[s];
                IL_T(ca) = ectx[s] & 7u;
                IL_T(ea) = ent & 0xFFu;
                IL_T(xa) = df11_ans_il_step(IL_T(xa), ent, 8, 20);
            }
            if (t + W < cnt) {
                const uint32_t s = IL_T(xb) & M, ent = eslot[s];
                IL_T(cb) = ectx[s] & 7u;
                IL_T(eb) = ent & 0xFFu;
                IL_T(xb) = df11_ans_il_step(IL_T(xb), ent, 8, 20);
            }
            IL_BALLOT(na, t < cnt && IL_T(xa) < DF11_ANS_LOW);
            IL_BALLOT(nb, t + W < cnt && IL_T(xb) < DF11_ANS_LOW);
        IL_END
        IL_FOR_T
            const uint32_t below = (1u << t) - 1u;
            if (na >> t & 1u)
                IL_T(xa) = IL_T(xa) << 16 | df11_il_word(w, pos + IL_POPC(na & below), nw);
            if (nb >> t & 1u)
                IL_T(xb) = IL_T(xb) << 16 | df11_il_word(w, pos + IL_POPC(na) + IL_POPC(nb & below), nw);
        IL_END
        pos += IL_POPC(na) + IL_POPC(nb);
        /* Mantissa steps under the exponents' contexts, refills, output. */
        uint32_t ma = 0, mb = 0;
        IL_FOR_T
            if (t < cnt) {
                const uint32_t ent = IL_LOAD32(mslot + (IL_T(ca) << DF11_ANS_IL_BITS | (IL_T(xa) & M)));
                IL_T(xa) = df11_ans_il_step(IL_T(xa), ent, 7, 19);
                IL_T(ea) = IL_T(ea) << 7 | (ent & 0x7Fu);
            }
            if (t + W < cnt) {
                const uint32_t ent = IL_LOAD32(mslot + (IL_T(cb) << DF11_ANS_IL_BITS | (IL_T(xb) & M)));
                IL_T(xb) = df11_ans_il_step(IL_T(xb), ent, 7, 19);
                IL_T(eb) = IL_T(eb) << 7 | (ent & 0x7Fu);
            }
            IL_BALLOT(ma, t < cnt && IL_T(xa) < DF11_ANS_LOW);
            IL_BALLOT(mb, t + W < cnt && IL_T(xb) < DF11_ANS_LOW);
        IL_END
        IL_FOR_T
            const uint32_t below = (1u << t) - 1u;
            if (ma >> t & 1u)
                IL_T(xa) = IL_T(xa) << 16 | df11_il_word(w, pos + IL_POPC(ma & below), nw);
            if (mb >> t & 1u)
                IL_T(xb) = IL_T(xb) << 16 | df11_il_word(w, pos + IL_POPC(ma) + IL_POPC(mb & below), nw);
            /* Consecutive threads write consecutive elements: one run of
             * 2W bytes per team and lane half. */
            if (t < cnt) {
                const uint32_t i = base + t;
                df11_il_put(out, i, (uint32_t)(sg[i >> 3] >> (i & 7u) & 1u) << 15 | IL_T(ea));
            }
            if (t + W < cnt) {
                const uint32_t i = base + t + W;
                df11_il_put(out, i, (uint32_t)(sg[i >> 3] >> (i & 7u) & 1u) << 15 | IL_T(eb));
            }
        IL_END
        pos += IL_POPC(ma) + IL_POPC(mb);
    }
    /* Every lane back in a state the encoder starts from; the signs that
     * state holds go to the lane's first elements (each thread rewrites
     * only elements it wrote itself). */
    IL_FOR_T
        const int oka = t >= nl || df11_ans_il_end_ok(IL_T(xa), df11_ans_il_held(tc, nl, t));
        const int okb = t + W >= nl || df11_ans_il_end_ok(IL_T(xb), df11_ans_il_held(tc, nl, t + W));
        if (t < nl) df11_ans_il_put_signs(out, tc, nl, t, IL_T(xa));
        if (t + W < nl) df11_ans_il_put_signs(out, tc, nl, t + W, IL_T(xb));
        IL_BALLOT(bad, !oka || !okb);
    IL_END
    return bad == 0 && pos == nw;
}

/* A one-lane chunk (n < 16384) by one thread: the same steps in a row,
 * tables through the read-only cache. Returns 1 when it decoded exactly. */
DF11_ILD int df11_il_serial(const uint8_t *p, uint32_t plen, uint32_t n, uint32_t il_signs,
                            const uint32_t *eslot, const uint8_t *ectx, const uint32_t *mslot, uint8_t *out)
{
    const uint32_t M = (1u << DF11_ANS_IL_BITS) - 1u;
    uint32_t nl, nw, tc;
    if (!df11_il_geometry(plen, n, il_signs, &nl, &nw, &tc) || nl != 1u) return 0;
    const uint8_t *w = p + 4, *sg = df11_ans_il_signs_at(p, plen, n, tc);
    uint32_t x = df11_il_rd32(p), pos = 0;
    if (x < DF11_ANS_LOW) return 0;
    for (uint32_t i = 0; i < n; i++) { /* every element written, as above */
        const uint32_t s = x & M, ent = IL_LOAD32(eslot + s), c = ectx[s] & 7u;
        x = df11_ans_il_step(x, ent, 8, 20);
        if (x < DF11_ANS_LOW) x = x << 16 | df11_il_word(w, pos++, nw);
        const uint32_t ms = IL_LOAD32(mslot + (c << DF11_ANS_IL_BITS | (x & M)));
        x = df11_ans_il_step(x, ms, 7, 19);
        if (x < DF11_ANS_LOW) x = x << 16 | df11_il_word(w, pos++, nw);
        df11_il_put(out, i, (uint32_t)(sg[i >> 3] >> (i & 7u) & 1u) << 15 | (ent & 0xFFu) << 7 | (ms & 0x7Fu));
    }
    df11_ans_il_put_signs(out, tc, 1u, 0u, x);
    return df11_ans_il_end_ok(x, tc) && pos == nw;
}

#undef IL_FOR_T
#undef IL_END
#undef IL_DECL
#undef IL_T
#undef IL_BALLOT
#undef IL_POPC
#undef IL_LOAD32
#undef DF11_ILD
#endif
