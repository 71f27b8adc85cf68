/* x86 SIMD runners of the ANS_IL decoder (FORMAT.md 10; the design is in
 * ans_il.c's opening comment). Built per function with target attributes
 * and picked at run time by df11_ans_simd_level; every runner stops at a
 * group boundary where the stream might run short, and ans_il.c's scalar
 * code finishes and checks. Off x86 the entry points do nothing. */
#include "ans_il.h"

#include <stdlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define T_AVX512 __attribute__((target("avx2,bmi2,popcnt,avx512f,avx512vl,avx512bw,avx512vbmi,avx512vbmi2")))
#define T_AVX2 __attribute__((target("avx2,bmi2,popcnt")))
#define INL static inline __attribute__((always_inline))

/* ---- the cursors of a multi-chunk run (z_multi, zy_multi, y_multi) ----
 * Per chunk: stream, output and sign-plane positions, and the last a group
 * may start from (a whole 16-lane group left, and 2*16 + 16 words: a group
 * takes at most 32, a refill loads at most 16). Each chunk keeps its own
 * stream; the run stops when any chunk lacks a whole group or words. */
typedef struct {
    const uint8_t *p[8], *lim[8], *sg[8];
    uint8_t *o[8], *oend[8];
    /* each chunk's tables: consecutive chunks of a batch may be of
     * different tensors, each with its model */
    const uint32_t *eslot[8], *mslot[8];
    const uint8_t *ctx[8];
} il_cursors;

INL void cursors_init(il_cursors *c, const unsigned J, il_state *const *s)
{
#pragma GCC unroll 8
    for (unsigned j = 0; j < J; j++) {
        c->p[j] = s[j]->w + 2 * s[j]->pos;
        c->lim[j] = s[j]->w + 2 * (s[j]->nw - (2 * 16 + 16));
        c->o[j] = s[j]->dst + 2 * s[j]->i;
        c->oend[j] = s[j]->dst + 2 * (s[j]->i + (s[j]->n - s[j]->i) / 16 * 16) - 32;
        c->sg[j] = s[j]->sg + s[j]->i / 8;
        c->eslot[j] = s[j]->t->eslot;
        c->mslot[j] = s[j]->t->mslot;
        c->ctx[j] = s[j]->t->ctx;
    }
}

/* Groups every chunk can surely take, so the loop that runs them checks
 * nothing (GPT-2 takes ~11 words a group, so this is asked a few times per
 * chunk, ever shorter). */
INL uint64_t cursors_groups(const il_cursors *c, const unsigned J)
{
    uint64_t K = UINT64_MAX;
#pragma GCC unroll 8
    for (unsigned j = 0; j < J; j++) {
        uint64_t g = c->o[j] <= c->oend[j] ? (uint64_t)(c->oend[j] - c->o[j]) / 32 + 1 : 0;
        uint64_t w = c->p[j] <= c->lim[j] ? (uint64_t)(c->lim[j] - c->p[j]) / 64 + 1 : 0;
        g = g < w ? g : w;
        K = K < g ? K : g;
    }
    return K;
}

INL void cursors_save(const il_cursors *c, const unsigned J, il_state *const *s)
{
#pragma GCC unroll 8
    for (unsigned j = 0; j < J; j++) {
        s[j]->pos = (uint64_t)(c->p[j] - s[j]->w) / 2;
        s[j]->i = (uint64_t)(c->o[j] - s[j]->dst) / 2;
    }
}

/* ---- AVX-512: V chains of 16 lanes ---- */

/* The refill of one chain: lanes in k (below 2^16) take the next words,
 * in lane order. p has at least 16 readable words. */
INL T_AVX512 __m512i z_refill(__m512i x, __mmask16 k, const uint8_t **p)
{
    __m512i w = _mm512_maskz_expand_epi32(k, _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)*p)));
    *p += 2 * (unsigned)__builtin_popcount(k);
    return _mm512_mask_or_epi32(x, k, _mm512_slli_epi32(x, 16), w);
}

/* The context map in four zmm, masked to its 3 bits (the reference uses
 * ctx & 7), for z_ctx_of. */
typedef struct {
    __m512i t0, t1, t2, t3;
} z_ctx;

INL T_AVX512 z_ctx z_ctx_load(const uint8_t *ctx)
{
    const __m512i c7 = _mm512_set1_epi8(7);
    return (z_ctx){ _mm512_and_si512(_mm512_loadu_si512(ctx), c7),
                    _mm512_and_si512(_mm512_loadu_si512(ctx + 64), c7),
                    _mm512_and_si512(_mm512_loadu_si512(ctx + 128), c7),
                    _mm512_and_si512(_mm512_loadu_si512(ctx + 192), c7) };
}

/* ctx[e] for the exponent in byte 0 of each 32-bit lane of e, in byte 0
 * of the result (bytes 1-3 zero): a vpermi2b over the low and one over the
 * high 128 entries, then a byte blend on bit 7 of e. */
INL T_AVX512 __m512i z_ctx_of(const z_ctx *c, __m512i e)
{
    __m512i lo = _mm512_maskz_permutex2var_epi8(0x1111111111111111ull, c->t0, e, c->t1);
    __m512i hi = _mm512_permutex2var_epi8(c->t2, e, c->t3);
    return _mm512_mask_mov_epi8(lo, _mm512_test_epi8_mask(e, _mm512_set1_epi32(0x80)), hi);
}

/* One group of C zmm chains (C chunks, or the V chains of one chunk),
 * in four phases, each over every chain: the exponent gathers, the
 * exponent updates and refills, the contexts and mantissa gathers, the
 * mantissa updates and refills with the output. Issuing all C gathers of a
 * step together lets them overlap; with each chain's whole step in a row
 * (gather, update, refill, then the next chain) the later chains' gathers
 * sit behind ~20 vector ops each and enter the scheduler late (GPT-2,
 * Zen 4, 4-5 chunks at a time: 1.28 -> 1.48 GB/s through df11_pread).
 * p[c] is chain c's stream cursor (chains of one chunk share one: pass the
 * same pointer C times), out[c] where its 16 elements go, ks[c] their signs,
 * eslot[c] and mslot[c] its tables. With one model for every chain
 * (shared), the context map is sh, in registers; otherwise chain c's is
 * loaded from ctx[c] at each group (3-7% slower at one model, measured:
 * chunks of several tensors take it only when they have to).
 * Entry: e in bits 0-7, freq in 8-19, slot - cum in 20-31 (exponent);
 * m in 0-6, freq in 7-18, slot - cum in 19-30 (mantissa). */
INL T_AVX512 void z_group(const unsigned C, const bool shared, __m512i *x, const uint32_t *const *eslot,
                          const uint32_t *const *mslot, const z_ctx *sh, const uint8_t *const *ctx,
                          const uint8_t **const *p, uint8_t *const *out, const __mmask16 *ks)
{
    const __m512i m12 = _mm512_set1_epi32((int)IL_M), low = _mm512_set1_epi32((int)DF11_ANS_LOW);
    __m512i e[8], ms[8];
#pragma GCC unroll 8
    for (unsigned c = 0; c < C; c++) e[c] = _mm512_i32gather_epi32(_mm512_and_si512(x[c], m12), eslot[c], 4);
#pragma GCC unroll 8
    for (unsigned c = 0; c < C; c++) {
        __m512i y = _mm512_add_epi32(
            _mm512_mullo_epi32(_mm512_and_si512(_mm512_srli_epi32(e[c], 8), m12), _mm512_srli_epi32(x[c], 12)),
            _mm512_srli_epi32(e[c], 20));
        x[c] = z_refill(y, _mm512_cmplt_epu32_mask(y, low), p[c]);
    }
#pragma GCC unroll 8
    for (unsigned c = 0; c < C; c++) {
        __m512i k;
        if (shared) {
            k = z_ctx_of(sh, e[c]);
        } else {
            z_ctx own = z_ctx_load(ctx[c]);
            k = z_ctx_of(&own, e[c]);
        }
        /* ctx[e] << 12 | (x & 0xFFF) */
        __m512i idx = _mm512_ternarylogic_epi32(_mm512_slli_epi32(k, 12), x[c], m12, 0xF8);
        ms[c] = _mm512_i32gather_epi32(idx, mslot[c], 4);
    }
#pragma GCC unroll 8
    for (unsigned c = 0; c < C; c++) {
        __m512i y = _mm512_add_epi32(
            _mm512_mullo_epi32(_mm512_and_si512(_mm512_srli_epi32(ms[c], 7), m12), _mm512_srli_epi32(x[c], 12)),
            _mm512_and_si512(_mm512_srli_epi32(ms[c], 19), m12));
        x[c] = z_refill(y, _mm512_cmplt_epu32_mask(y, low), p[c]);
        /* e << 7 | m (bits 0-6 from ms, 7-14 from e), then the sign */
        __m512i r = _mm512_ternarylogic_epi32(_mm512_slli_epi32(e[c], 7), ms[c], _mm512_set1_epi32(0x7F), 0xD8);
        r = _mm512_ternarylogic_epi32(r, _mm512_maskz_mov_epi32(ks[c], _mm512_set1_epi32(0x8000)),
                                      _mm512_set1_epi32(0x7FFF), 0xEC);
        _mm256_storeu_si256((__m256i *)out[c], _mm512_cvtepi32_epi16(r));
    }
}

INL T_AVX512 void z_run(const unsigned V, il_state *s)
{
    const uint32_t *eslot = s->t->eslot, *mslot = s->t->mslot;
    const z_ctx ctx = z_ctx_load(s->t->ctx);
    const uint32_t nl = 16 * V;
    __m512i x[4];
#pragma GCC unroll 4
    for (unsigned v = 0; v < V; v++) x[v] = _mm512_loadu_si512(s->x + 16 * v);
    const uint8_t *p = s->w + 2 * s->pos;
    /* the last position a group may start from: 2*nl + 16 words left */
    const uint8_t *lim = s->w + 2 * (s->nw - (2 * (uint64_t)nl + 16));
    uint64_t i = s->i;
    uint8_t *dst = s->dst;
    const uint8_t **pp[4] = { &p, &p, &p, &p };
    const uint32_t *es[4] = { eslot, eslot, eslot, eslot }, *ms[4] = { mslot, mslot, mslot, mslot };
    while (s->n - i >= nl && p <= lim) {
        uint8_t *out[4];
        __mmask16 ks[4];
#pragma GCC unroll 4
        for (unsigned v = 0; v < V; v++) {
            out[v] = dst + 2 * (i + 16 * v);
            ks[v] = (__mmask16)rd16(s->sg + (i >> 3) + 2 * v);
        }
        z_group(V, true, x, es, ms, &ctx, NULL, pp, out, ks);
        i += nl;
    }
#pragma GCC unroll 4
    for (unsigned v = 0; v < V; v++) _mm512_storeu_si512(s->x + 16 * v, x[v]);
    s->pos = (uint64_t)(p - s->w) / 2;
    s->i = i;
}


/* A 16-lane chunk alone as two 8-lane ymm chains (AVX-512VL): the lanes
 * are independent either way, but a ymm gather completes sooner than a
 * zmm one, and a lone chunk is bound by that latency. */
INL T_AVX512 __m256i zy_refill(__m256i x, __mmask8 k, const uint8_t **p)
{
    __m256i w = _mm256_maskz_expand_epi32(k, _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)*p)));
    *p += 2 * (unsigned)__builtin_popcount(k);
    return _mm256_mask_or_epi32(x, k, _mm256_slli_epi32(x, 16), w);
}

static T_AVX512 void zy_run16(il_state *s)
{
    const __m256i m12 = _mm256_set1_epi32((int)IL_M), low = _mm256_set1_epi32((int)DF11_ANS_LOW);
    const __m256i m7f = _mm256_set1_epi32(0x7F), m7fff = _mm256_set1_epi32(0x7FFF), sbit = _mm256_set1_epi32(0x8000);
    const uint32_t *eslot = s->t->eslot, *mslot = s->t->mslot;
    const z_ctx ctx = z_ctx_load(s->t->ctx);
    __m256i x0 = _mm256_loadu_si256((const __m256i *)s->x), x1 = _mm256_loadu_si256((const __m256i *)(s->x + 8));
    const uint8_t *p = s->w + 2 * s->pos;
    const uint8_t *lim = s->w + 2 * (s->nw - (2 * 16 + 16));
    uint64_t i = s->i;
    uint8_t *dst = s->dst;
    while (s->n - i >= 16 && p <= lim) {
        __m256i e0 = _mm256_i32gather_epi32((const int *)eslot, _mm256_and_si256(x0, m12), 4);
        __m256i e1 = _mm256_i32gather_epi32((const int *)eslot, _mm256_and_si256(x1, m12), 4);
        __m256i y0 = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(e0, 8), m12), _mm256_srli_epi32(x0, 12)),
                                      _mm256_srli_epi32(e0, 20));
        __m256i y1 = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(e1, 8), m12), _mm256_srli_epi32(x1, 12)),
                                      _mm256_srli_epi32(e1, 20));
        x0 = zy_refill(y0, _mm256_cmplt_epu32_mask(y0, low), &p);
        x1 = zy_refill(y1, _mm256_cmplt_epu32_mask(y1, low), &p);
        __m512i e = _mm512_inserti64x4(_mm512_castsi256_si512(e0), e1, 1);
        __m512i c = _mm512_slli_epi32(z_ctx_of(&ctx, e), 12);
        __m256i i0 = _mm256_ternarylogic_epi32(_mm512_castsi512_si256(c), x0, m12, 0xF8);
        __m256i i1 = _mm256_ternarylogic_epi32(_mm512_extracti64x4_epi64(c, 1), x1, m12, 0xF8);
        __m256i ms0 = _mm256_i32gather_epi32((const int *)mslot, i0, 4);
        __m256i ms1 = _mm256_i32gather_epi32((const int *)mslot, i1, 4);
        y0 = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(ms0, 7), m12), _mm256_srli_epi32(x0, 12)),
                              _mm256_and_si256(_mm256_srli_epi32(ms0, 19), m12));
        y1 = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(ms1, 7), m12), _mm256_srli_epi32(x1, 12)),
                              _mm256_and_si256(_mm256_srli_epi32(ms1, 19), m12));
        x0 = zy_refill(y0, _mm256_cmplt_epu32_mask(y0, low), &p);
        x1 = zy_refill(y1, _mm256_cmplt_epu32_mask(y1, low), &p);
        uint32_t ks = rd16(s->sg + (i >> 3));
        __m256i r0 = _mm256_ternarylogic_epi32(_mm256_slli_epi32(e0, 7), ms0, m7f, 0xD8);
        __m256i r1 = _mm256_ternarylogic_epi32(_mm256_slli_epi32(e1, 7), ms1, m7f, 0xD8);
        r0 = _mm256_ternarylogic_epi32(r0, _mm256_maskz_mov_epi32((__mmask8)ks, sbit), m7fff, 0xEC);
        r1 = _mm256_ternarylogic_epi32(r1, _mm256_maskz_mov_epi32((__mmask8)(ks >> 8), sbit), m7fff, 0xEC);
        _mm_storeu_si128((__m128i *)(dst + 2 * i), _mm256_cvtepi32_epi16(r0));
        _mm_storeu_si128((__m128i *)(dst + 2 * i + 16), _mm256_cvtepi32_epi16(r1));
        i += 16;
    }
    _mm256_storeu_si256((__m256i *)s->x, x0);
    _mm256_storeu_si256((__m256i *)(s->x + 8), x1);
    s->pos = (uint64_t)(p - s->w) / 2;
    s->i = i;
}
static T_AVX512 void z_run2(il_state *s) { z_run(2, s); }
static T_AVX512 void z_run3(il_state *s) { z_run(3, s); }
static T_AVX512 void z_run4(il_state *s) { z_run(4, s); }

/* J chunks of 16 lanes (one chain each; on one model's tables when
 * shared, else each on its own), run interleaved: a 256 KiB chunk (the default size) has 16 lanes, and one
 * chain alone runs at the latency of gather -> multiply -> refill ->
 * gather (GPT-2, Zen 4: 0.64 GB/s alone, see df11_ans_il_decode_many).
 * Each chunk keeps its own stream; all stop when one of them has no
 * whole group or too few words left. */
INL T_AVX512 void z_multi(const unsigned J, const bool shared, il_state *const *s)
{
    const z_ctx ctx = z_ctx_load(s[0]->t->ctx);
    __m512i x[8];
    il_cursors cur;
    cursors_init(&cur, J, s);
    const uint8_t **pp[8];
#pragma GCC unroll 8
    for (unsigned j = 0; j < J; j++) x[j] = _mm512_loadu_si512(s[j]->x), pp[j] = &cur.p[j];
    for (uint64_t K; (K = cursors_groups(&cur, J)) > 0;) {
        for (; K > 0; K--) {
            __mmask16 ks[8];
#pragma GCC unroll 8
            for (unsigned j = 0; j < J; j++) ks[j] = (__mmask16)rd16(cur.sg[j]);
            z_group(J, shared, x, cur.eslot, cur.mslot, &ctx, cur.ctx, pp, cur.o, ks);
#pragma GCC unroll 8
            for (unsigned j = 0; j < J; j++) {
                cur.o[j] += 32;
                cur.sg[j] += 2;
            }
        }
    }
#pragma GCC unroll 8
    for (unsigned j = 0; j < J; j++) _mm512_storeu_si512(s[j]->x, x[j]);
    cursors_save(&cur, J, s);
}

/* The same with each chunk as two ymm chains: faster for two chunks
 * (four chains; 2^17-element chunks 1.34 -> 1.47-1.52 GB/s), no faster
 * from three on, where the gathers' throughput bounds both (~1.6). */
INL T_AVX512 void zy_multi(const unsigned J, il_state *const *s)
{
    const __m256i m12 = _mm256_set1_epi32((int)IL_M), low = _mm256_set1_epi32((int)DF11_ANS_LOW);
    const __m256i m7f = _mm256_set1_epi32(0x7F), m7fff = _mm256_set1_epi32(0x7FFF), sbit = _mm256_set1_epi32(0x8000);
    __m256i xa[8], xb[8];
    il_cursors cur;
    cursors_init(&cur, J, s);
    /* each chunk's context map in registers (two chunks: eight zmm) */
    z_ctx ctx[8];
#pragma GCC unroll 8
    for (unsigned j = 0; j < J; j++) ctx[j] = z_ctx_load(cur.ctx[j]);
#pragma GCC unroll 8
    for (unsigned j = 0; j < J; j++) {
        xa[j] = _mm256_loadu_si256((const __m256i *)s[j]->x);
        xb[j] = _mm256_loadu_si256((const __m256i *)(s[j]->x + 8));
    }
    for (uint64_t K; (K = cursors_groups(&cur, J)) > 0;) {
        for (; K > 0; K--) {
            __m256i ea[8], eb[8];
#pragma GCC unroll 8
            for (unsigned j = 0; j < J; j++) {
                const int *eslot = (const int *)cur.eslot[j];
                __m256i e0 = _mm256_i32gather_epi32(eslot, _mm256_and_si256(xa[j], m12), 4);
                __m256i e1 = _mm256_i32gather_epi32(eslot, _mm256_and_si256(xb[j], m12), 4);
                __m256i y0 = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(e0, 8), m12), _mm256_srli_epi32(xa[j], 12)),
                                              _mm256_srli_epi32(e0, 20));
                __m256i y1 = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(e1, 8), m12), _mm256_srli_epi32(xb[j], 12)),
                                              _mm256_srli_epi32(e1, 20));
                xa[j] = zy_refill(y0, _mm256_cmplt_epu32_mask(y0, low), &cur.p[j]);
                xb[j] = zy_refill(y1, _mm256_cmplt_epu32_mask(y1, low), &cur.p[j]);
                ea[j] = e0, eb[j] = e1;
            }
#pragma GCC unroll 8
            for (unsigned j = 0; j < J; j++) {
                __m256i e0 = ea[j], e1 = eb[j];
                __m512i e = _mm512_inserti64x4(_mm512_castsi256_si512(e0), e1, 1);
                __m512i c = _mm512_slli_epi32(z_ctx_of(&ctx[j], e), 12);
                __m256i i0 = _mm256_ternarylogic_epi32(_mm512_castsi512_si256(c), xa[j], m12, 0xF8);
                __m256i i1 = _mm256_ternarylogic_epi32(_mm512_extracti64x4_epi64(c, 1), xb[j], m12, 0xF8);
                const int *mslot = (const int *)cur.mslot[j];
                __m256i ms0 = _mm256_i32gather_epi32(mslot, i0, 4);
                __m256i ms1 = _mm256_i32gather_epi32(mslot, i1, 4);
                __m256i y0 = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(ms0, 7), m12), _mm256_srli_epi32(xa[j], 12)),
                                              _mm256_and_si256(_mm256_srli_epi32(ms0, 19), m12));
                __m256i y1 = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(ms1, 7), m12), _mm256_srli_epi32(xb[j], 12)),
                                              _mm256_and_si256(_mm256_srli_epi32(ms1, 19), m12));
                xa[j] = zy_refill(y0, _mm256_cmplt_epu32_mask(y0, low), &cur.p[j]);
                xb[j] = zy_refill(y1, _mm256_cmplt_epu32_mask(y1, low), &cur.p[j]);
                uint32_t ks = rd16(cur.sg[j]);
                __m256i r0 = _mm256_ternarylogic_epi32(_mm256_slli_epi32(e0, 7), ms0, m7f, 0xD8);
                __m256i r1 = _mm256_ternarylogic_epi32(_mm256_slli_epi32(e1, 7), ms1, m7f, 0xD8);
                r0 = _mm256_ternarylogic_epi32(r0, _mm256_maskz_mov_epi32((__mmask8)ks, sbit), m7fff, 0xEC);
                r1 = _mm256_ternarylogic_epi32(r1, _mm256_maskz_mov_epi32((__mmask8)(ks >> 8), sbit), m7fff, 0xEC);
                _mm_storeu_si128((__m128i *)cur.o[j], _mm256_cvtepi32_epi16(r0));
                _mm_storeu_si128((__m128i *)(cur.o[j] + 16), _mm256_cvtepi32_epi16(r1));
                cur.o[j] += 32;
                cur.sg[j] += 2;
            }
        }
    }
#pragma GCC unroll 8
    for (unsigned j = 0; j < J; j++) {
        _mm256_storeu_si256((__m256i *)s[j]->x, xa[j]);
        _mm256_storeu_si256((__m256i *)(s[j]->x + 8), xb[j]);
    }
    cursors_save(&cur, J, s);
}

static T_AVX512 void zy_multi2(il_state *const *s) { zy_multi(2, s); }

static T_AVX512 void z_multi3(il_state *const *s) { z_multi(3, true, s); }
static T_AVX512 void z_multi4(il_state *const *s) { z_multi(4, true, s); }
static T_AVX512 void z_multi5(il_state *const *s) { z_multi(5, true, s); }
static T_AVX512 void z_multi6(il_state *const *s) { z_multi(6, true, s); }
static T_AVX512 void z_multi7(il_state *const *s) { z_multi(7, true, s); }
static T_AVX512 void z_multi8(il_state *const *s) { z_multi(8, true, s); }
static T_AVX512 void z_mixed3(il_state *const *s) { z_multi(3, false, s); }
static T_AVX512 void z_mixed4(il_state *const *s) { z_multi(4, false, s); }
static T_AVX512 void z_mixed5(il_state *const *s) { z_multi(5, false, s); }
static T_AVX512 void z_mixed6(il_state *const *s) { z_multi(6, false, s); }
static T_AVX512 void z_mixed7(il_state *const *s) { z_multi(7, false, s); }
static T_AVX512 void z_mixed8(il_state *const *s) { z_multi(8, false, s); }

/* Whether the 16-lane fast loop can take another group of s. */
static bool z_can(const il_state *s)
{
    return s->n - s->i >= 16 && s->nw >= 2 * 16 + 16 && s->nw - s->pos >= 2 * 16 + 16;
}

/* The 16-lane chunks of a batch: those that can go on in the fast loop
 * run together, m of them (up to most) through run[m], or mixed[m] when
 * they are not all on one table (each chain then loads its own context
 * map, 3-7% slower), until at most one can; that one finishes alone
 * through lone. s is reordered. */
typedef void (*il_multi_fn)(il_state *const *);
static void multi_run(il_state **s, uint32_t count, const il_multi_fn *run, const il_multi_fn *mixed,
                      uint32_t most, void (*lone)(il_state *))
{
    for (uint32_t m = count;;) {
        uint32_t left = 0;
        for (uint32_t k = 0; k < m; k++)
            if (z_can(s[k])) s[left++] = s[k];
        m = left;
        if (m < 2) {
            if (m == 1) lone(s[0]);
            return;
        }
        uint32_t take = m < most ? m : most;
        bool one = true;
        for (uint32_t k = 1; k < take; k++) one &= s[k]->t == s[0]->t;
        (one ? run : mixed)[take](s);
    }
}

/* AVX-512: up to eight at a time, one zmm chain each (two ymm for two). */
static void z_multi_run(il_state **s, uint32_t count)
{
    static const il_multi_fn run[9] = { NULL, NULL, zy_multi2, z_multi3, z_multi4,
                                        z_multi5, z_multi6, z_multi7, z_multi8 };
    static const il_multi_fn mixed[9] = { NULL, NULL, zy_multi2, z_mixed3, z_mixed4,
                                          z_mixed5, z_mixed6, z_mixed7, z_mixed8 };
    multi_run(s, count, run, mixed, 8, zy_run16);
}

/* ---- AVX2: V chains of 8 lanes ---- */

/* expand8[k]: for mask k of 8 lanes, lane j's source word index (the
 * popcount of k below j) in a nibble, for vpermd after a nibble spread. */
static uint32_t expand8[256];
static pthread_once_t expand_once = PTHREAD_ONCE_INIT;
static void expand_init(void)
{
    for (unsigned k = 0; k < 256; k++) {
        uint32_t v = 0, c = 0;
        for (unsigned j = 0; j < 8; j++) {
            v |= c << (4 * j);
            c += k >> j & 1;
        }
        expand8[k] = v;
    }
}

INL T_AVX2 __m256i y_refill(__m256i y, const uint8_t **p)
{
    __m256i lt = _mm256_cmpeq_epi32(_mm256_srli_epi32(y, 16), _mm256_setzero_si256()); /* y < 2^16 */
    unsigned k = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(lt));
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)*p));
    __m256i ord = _mm256_srlv_epi32(_mm256_set1_epi32((int)expand8[k]),
                                    _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
    w = _mm256_permutevar8x32_epi32(w, ord); /* vpermd uses the low 3 bits */
    *p += 2 * (unsigned)__builtin_popcount(k);
    return _mm256_blendv_epi8(y, _mm256_or_si256(_mm256_slli_epi32(y, 16), w), lt);
}

/* One group of C ymm chains, phase by phase as z_group (the exponent
 * gathers of every chain first). out[c]: where chain c's 8 elements go;
 * sg[c]: their sign byte; eslot[c], mslot[c], ctx[c]: its tables (the
 * context is a byte gather, so a map per chain costs nothing more). */
INL T_AVX2 void y_group(const unsigned C, __m256i *x, const uint32_t *const *eslot, const uint32_t *const *mslot,
                        const uint8_t *const *ctx, const uint8_t **const *p, uint8_t *const *out, const uint8_t *sg)
{
    const __m256i m12 = _mm256_set1_epi32((int)IL_M);
    /* per-lane shifts that put sign bit j of a byte at bit 15 */
    const __m256i sh = _mm256_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8);
    __m256i e[8], ms[8];
#pragma GCC unroll 8
    for (unsigned c = 0; c < C; c++)
        e[c] = _mm256_i32gather_epi32((const int *)eslot[c], _mm256_and_si256(x[c], m12), 4);
#pragma GCC unroll 8
    for (unsigned c = 0; c < C; c++) {
        __m256i y = _mm256_add_epi32(
            _mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(e[c], 8), m12), _mm256_srli_epi32(x[c], 12)),
            _mm256_srli_epi32(e[c], 20));
        x[c] = y_refill(y, p[c]);
    }
#pragma GCC unroll 8
    for (unsigned c = 0; c < C; c++) {
        /* ctx[e]: a byte gather reads 3 bytes past ctx[255] (the
         * dtable's padding) */
        __m256i k = _mm256_i32gather_epi32((const int *)(const void *)ctx[c],
                                           _mm256_and_si256(e[c], _mm256_set1_epi32(0xFF)), 1);
        __m256i idx = _mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(k, _mm256_set1_epi32(7)), 12),
                                      _mm256_and_si256(x[c], m12));
        ms[c] = _mm256_i32gather_epi32((const int *)mslot[c], idx, 4);
    }
#pragma GCC unroll 8
    for (unsigned c = 0; c < C; c++) {
        __m256i y = _mm256_add_epi32(
            _mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(ms[c], 7), m12), _mm256_srli_epi32(x[c], 12)),
            _mm256_and_si256(_mm256_srli_epi32(ms[c], 19), m12));
        x[c] = y_refill(y, p[c]);
        __m256i r = _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi32(e[c], 7), _mm256_set1_epi32(0x7F80)),
                                    _mm256_and_si256(ms[c], _mm256_set1_epi32(0x7F)));
        __m256i b = _mm256_set1_epi32(sg[c]);
        r = _mm256_or_si256(r, _mm256_and_si256(_mm256_sllv_epi32(b, sh), _mm256_set1_epi32(0x8000)));
        __m256i pk = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08); /* 0-3 | 4-7 */
        _mm_storeu_si128((__m128i *)out[c], _mm256_castsi256_si128(pk));
    }
}

INL T_AVX2 void y_run(const unsigned V, il_state *s)
{
    const uint32_t *eslot = s->t->eslot, *mslot = s->t->mslot;
    const uint8_t *ctx = s->t->ctx;
    const uint32_t nl = 8 * V;
    __m256i x[8];
#pragma GCC unroll 8
    for (unsigned v = 0; v < V; v++) x[v] = _mm256_loadu_si256((const __m256i *)(s->x + 8 * v));
    const uint8_t *p = s->w + 2 * s->pos;
    /* a refill loads 8 words */
    const uint8_t *lim = s->w + 2 * (s->nw - (2 * (uint64_t)nl + 8));
    uint64_t i = s->i;
    uint8_t *dst = s->dst;
    const uint8_t **pp[8] = { &p, &p, &p, &p, &p, &p, &p, &p };
    const uint32_t *es[8], *ms[8];
    const uint8_t *cs[8];
    for (unsigned v = 0; v < 8; v++) es[v] = eslot, ms[v] = mslot, cs[v] = ctx;
    while (s->n - i >= nl && p <= lim) {
        uint8_t *out[8];
#pragma GCC unroll 8
        for (unsigned v = 0; v < V; v++) out[v] = dst + 2 * (i + 8 * v);
        y_group(V, x, es, ms, cs, pp, out, s->sg + (i >> 3));
        i += nl;
    }
#pragma GCC unroll 8
    for (unsigned v = 0; v < V; v++) _mm256_storeu_si256((__m256i *)(s->x + 8 * v), x[v]);
    s->pos = (uint64_t)(p - s->w) / 2;
    s->i = i;
}

/* J 16-lane chunks, two ymm chains each, each chunk on its own tables,
 * interleaved (as z_multi; a lone 16-lane chunk's two chains are bound by
 * latency). */
INL T_AVX2 void y_multi(const unsigned J, il_state *const *s)
{
    __m256i x[8];
    il_cursors cur;
    cursors_init(&cur, J, s);
    const uint8_t **pp[8];
    const uint32_t *es[8], *ms[8];
    const uint8_t *cs[8];
#pragma GCC unroll 4
    for (unsigned j = 0; j < J; j++) {
        x[2 * j] = _mm256_loadu_si256((const __m256i *)s[j]->x);
        x[2 * j + 1] = _mm256_loadu_si256((const __m256i *)(s[j]->x + 8));
        pp[2 * j] = pp[2 * j + 1] = &cur.p[j];
        es[2 * j] = es[2 * j + 1] = cur.eslot[j];
        ms[2 * j] = ms[2 * j + 1] = cur.mslot[j];
        cs[2 * j] = cs[2 * j + 1] = cur.ctx[j];
    }
    for (uint64_t K; (K = cursors_groups(&cur, J)) > 0;) {
        for (; K > 0; K--) {
            uint8_t *out[8], sb[8];
#pragma GCC unroll 4
            for (unsigned j = 0; j < J; j++) {
                out[2 * j] = cur.o[j], out[2 * j + 1] = cur.o[j] + 16;
                sb[2 * j] = cur.sg[j][0], sb[2 * j + 1] = cur.sg[j][1];
            }
            y_group(2 * J, x, es, ms, cs, pp, out, sb);
#pragma GCC unroll 4
            for (unsigned j = 0; j < J; j++) cur.o[j] += 32, cur.sg[j] += 2;
        }
    }
#pragma GCC unroll 4
    for (unsigned j = 0; j < J; j++) {
        _mm256_storeu_si256((__m256i *)s[j]->x, x[2 * j]);
        _mm256_storeu_si256((__m256i *)(s[j]->x + 8), x[2 * j + 1]);
    }
    cursors_save(&cur, J, s);
}

static T_AVX2 void y_multi2(il_state *const *s) { y_multi(2, s); }
static T_AVX2 void y_multi3(il_state *const *s) { y_multi(3, s); }
static T_AVX2 void y_multi4(il_state *const *s) { y_multi(4, s); }

static T_AVX2 void y_run2(il_state *s) { y_run(2, s); }
static T_AVX2 void y_run4(il_state *s) { y_run(4, s); }
static T_AVX2 void y_run6(il_state *s) { y_run(6, s); }
static T_AVX2 void y_run8(il_state *s) { y_run(8, s); }

/* AVX2: up to four at a time (eight ymm chains). */
static void y_multi_run(il_state **s, uint32_t count)
{
    static const il_multi_fn run[5] = { NULL, NULL, y_multi2, y_multi3, y_multi4 };
    pthread_once(&expand_once, expand_init);
    /* (y_multi reads each chunk's tables: one runner for both cases) */
    multi_run(s, count, run, run, 4, y_run2);
}

void df11_il_simd_run(int level, il_state *s)
{
    if (s->nl < 16) return;
    if (level >= 2) {
        uint64_t need = 2 * (uint64_t)s->nl + 16;
        if (s->nw < need) return;
        static void (*const run[5])(il_state *) = { NULL, zy_run16, z_run2, z_run3, z_run4 };
        run[s->nl / 16](s);
    } else if (level == 1) {
        uint64_t need = 2 * (uint64_t)s->nl + 8;
        if (s->nw < need) return;
        pthread_once(&expand_once, expand_init);
        static void (*const run[5])(il_state *) = { NULL, y_run2, y_run4, y_run6, y_run8 };
        run[s->nl / 16](s);
    }
}

bool df11_il_have_vbmi(void)
{
    static int v = -1; /* atomic: decoding threads ask at once */
    int got = __atomic_load_n(&v, __ATOMIC_RELAXED);
    if (got < 0) {
        __builtin_cpu_init();
        got = __builtin_cpu_supports("avx512vbmi") != 0;
        __atomic_store_n(&v, got, __ATOMIC_RELAXED);
    }
    return got;
}

/* Entries base | k << shift for k < f at out; false past 2^12 slots. */
INL T_AVX512 void z_fill(uint32_t *out, uint32_t base, uint32_t f, unsigned shift)
{
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i b = _mm512_set1_epi32((int)base);
    for (uint32_t k = 0; k < f; k += 16) {
        __m512i v = _mm512_or_si512(b, _mm512_sll_epi32(_mm512_add_epi32(iota, _mm512_set1_epi32((int)k)),
                                                        _mm_cvtsi32_si128((int)shift)));
        __mmask16 m = f - k >= 16 ? 0xFFFF : (__mmask16)((1u << (f - k)) - 1);
        _mm512_mask_storeu_epi32(out + k, m, v);
    }
}

static T_AVX512 void z_build(const uint16_t *efreq, const uint16_t *const *mfreq, uint32_t *eslot,
                             uint32_t *mslot)
{
    const uint32_t S = 1u << DF11_ANS_IL_BITS;
    uint32_t cum = 0;
    for (uint32_t s = 0; s < 256; s++) {
        uint32_t f = efreq[s] < S - cum ? efreq[s] : S - cum;
        z_fill(eslot + cum, df11_ans_il_eslot(s, efreq[s], 0), f, 20);
        cum += f;
    }
    for (uint32_t c = 0; c < 8u; c++) {
        uint32_t *out = mslot + (c << DF11_ANS_IL_BITS);
        cum = 0;
        for (uint32_t s = 0; s < 128u; s++) {
            uint32_t f = mfreq[c][s] < S - cum ? mfreq[c][s] : S - cum;
            z_fill(out + cum, df11_ans_il_mslot(s, mfreq[c][s], 0), f, 19);
            cum += f;
        }
    }
}

bool df11_il_fast_build(const uint16_t *efreq, const uint16_t *const *mfreq, uint32_t *eslot,
                        uint32_t *mslot)
{
    if (df11_ans_simd_level() < 2) return false;
    z_build(efreq, mfreq, eslot, mslot);
    return true;
}

void df11_il_multi_run(int level, il_state **s, uint32_t count)
{
    if (level >= 2) z_multi_run(s, count);
    else if (level == 1) y_multi_run(s, count);
}

#else

bool df11_il_fast_build(const uint16_t *efreq, const uint16_t *const *mfreq, uint32_t *eslot,
                        uint32_t *mslot)
{
    (void)efreq, (void)mfreq, (void)eslot, (void)mslot;
    return false;
}

void df11_il_simd_run(int level, il_state *s)
{
    (void)level;
    (void)s;
}

bool df11_il_have_vbmi(void) { return false; }

void df11_il_multi_run(int level, il_state **s, uint32_t count)
{
    (void)level, (void)s, (void)count;
}

#endif
