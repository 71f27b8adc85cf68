/*
 * ans_il_util.h - a small, plain ANS_IL encoder (FORMAT.md 10) for the
 * decoder's tests (ans_il_decode.c) and its fuzz target
 * (tests/fuzz/fuzz_ans_il.c), written from the format text alone so it is
 * an independent oracle of the library's encoder: rANS is LIFO, so the
 * groups go last to first, and within a group the mantissa steps of lanes
 * cnt-1..0, then the exponent steps of lanes cnt-1..0; a step first emits
 * the state's low word when x >= freq << 20, then x = (x / f) << 12 +
 * x % f + cum. The words come out in reverse reading order; the final
 * states are the payload's initial states.
 */
#ifndef DF11_ANS_IL_UTIL_H
#define DF11_ANS_IL_UTIL_H

#include "../../codec/decompress/reader.h"

#include <stdlib.h>

typedef struct {
    uint16_t ef[256];     /* exponent frequencies, sum 4096 */
    uint8_t ctx[256];     /* context of each exponent (< 8) */
    uint16_t mf[8][128];  /* mantissa frequencies per context, sum 4096 */
    uint32_t ec[257], mc[8][129];
} il_model;

/* Cumulative frequencies and the decode tables of m. */
static inline void il_model_finish(il_model *m, df11_ans_il_dtable *t)
{
    m->ec[0] = 0;
    for (int s = 0; s < 256; s++) m->ec[s + 1] = m->ec[s] + m->ef[s];
    const uint16_t *mf[8];
    for (int c = 0; c < 8; c++) {
        m->mc[c][0] = 0;
        for (int s = 0; s < 128; s++) m->mc[c][s + 1] = m->mc[c][s] + m->mf[c][s];
        mf[c] = m->mf[c];
    }
    if (t) {
        df11_ans_il_build(m->ef, mf, t->eslot, t->mslot);
        for (int e = 0; e < 256; e++) t->ctx[e] = m->ctx[e];
        memset(t->pad, 0, sizeof t->pad);
    }
}

/* Counts to frequencies summing to 4096, each below 4096, non-zero exactly
 * where the count is (plus one neighbour when a single symbol is counted,
 * since no symbol may own all slots). */
static inline void il_quantize(const uint64_t *cnt, int ns, uint16_t *f)
{
    uint64_t tot = 0;
    int used = 0, only = 0;
    for (int i = 0; i < ns; i++) tot += cnt[i], used += cnt[i] != 0, only = cnt[i] ? i : only;
    if (used == 0) {
        for (int i = 0; i < ns; i++) f[i] = (uint16_t)(4096 / ns);
        return;
    }
    if (used == 1) {
        memset(f, 0, (size_t)ns * 2);
        f[only] = 4095;
        f[(only + 1) % ns] = 1;
        return;
    }
    int sum = 0;
    for (int i = 0; i < ns; i++) {
        uint64_t q = cnt[i] * 4096 / tot;
        f[i] = cnt[i] ? (uint16_t)(q ? q : 1) : 0;
        sum += f[i];
    }
    while (sum != 4096) { /* the largest absorbs the difference, one at a time */
        int b = 0;
        for (int i = 1; i < ns; i++)
            if (f[i] > f[b]) b = i;
        if (sum > 4096) f[b]--, sum--;
        else f[b]++, sum++;
    }
}

/* Encodes n elements v into out (cap bytes): the payload, or 0 when an
 * element's exponent or mantissa has frequency 0, or out is too small.
 * signs: as in a file with flag IL_SIGNS (FORMAT.md 10.1): lane k starts
 * in 2^16 + b, bit j of b the sign of element k + j*nl for the lane's
 * first 16 elements, and the plane holds the elements after the first
 * 16*nl (none when there are no more). */
static inline size_t il_encode(const uint16_t *v, uint32_t n, const il_model *m, bool signs, uint8_t *out,
                               size_t cap)
{
    uint32_t nl = df11_ans_il_lanes(n), x[DF11_ANS_IL_MAX_LANES];
    uint32_t t = signs ? (16 * nl < n ? 16 * nl : n) : 0;
    size_t wcap = 2 * (size_t)n + 16, wpos = wcap;
    uint16_t *w = malloc(wcap * 2);
    if (!w) return 0;
    for (uint32_t k = 0; k < nl; k++) {
        x[k] = DF11_ANS_LOW;
        for (uint32_t j = 0; k + j * nl < t; j++) x[k] += (uint32_t)(v[k + j * nl] >> 15) << j;
    }
    uint64_t groups = ((uint64_t)n + nl - 1) / nl;
    for (uint64_t g = groups; g-- > 0;) {
        uint64_t i0 = g * nl;
        uint32_t cnt = n - i0 < nl ? (uint32_t)(n - i0) : nl;
        for (int pass = 0; pass < 2; pass++) /* mantissas, then exponents */
            for (uint32_t k = cnt; k-- > 0;) {
                uint16_t e = v[i0 + k] >> 7 & 0xFF, s = v[i0 + k] & 0x7F;
                uint32_t f, c;
                if (pass == 0) f = m->mf[m->ctx[e] & 7][s], c = m->mc[m->ctx[e] & 7][s];
                else f = m->ef[e], c = m->ec[e];
                if (f == 0 || f >= 4096) {
                    free(w);
                    return 0;
                }
                if ((uint64_t)x[k] >= (uint64_t)f << 20) {
                    w[--wpos] = (uint16_t)x[k];
                    x[k] >>= 16;
                }
                x[k] = ((x[k] / f) << 12) + x[k] % f + c;
            }
    }
    size_t nw = wcap - wpos, sign = ((size_t)(n - t) + 7) / 8, len = 4 * (size_t)nl + 2 * nw + sign;
    if (len > cap) {
        free(w);
        return 0;
    }
    for (uint32_t k = 0; k < nl; k++) memcpy(out + 4 * k, &x[k], 4);
    memcpy(out + 4 * (size_t)nl, w + wpos, 2 * nw);
    uint8_t *sg = out + len - sign;
    memset(sg, 0, sign);
    for (uint32_t i = t; i < n; i++) sg[(i - t) >> 3] |= (uint8_t)((v[i] >> 15) << ((i - t) & 7));
    free(w);
    return len;
}

/* The model of a set of elements: ctx from the distance to the most common
 * exponent, capped at 7 (the shape of the library's fitted contexts). */
static inline void il_model_of(const uint16_t *v, size_t n, il_model *m)
{
    uint64_t ec[256] = {0};
    static uint64_t mc[8][128];
    for (size_t i = 0; i < n; i++) ec[v[i] >> 7 & 0xFF]++;
    int mode = 0;
    for (int e = 1; e < 256; e++)
        if (ec[e] > ec[mode]) mode = e;
    for (int e = 0; e < 256; e++) {
        int d = e > mode ? e - mode : mode - e;
        m->ctx[e] = (uint8_t)(d > 7 ? 7 : d);
    }
    il_quantize(ec, 256, m->ef);
    memset(mc, 0, sizeof mc);
    for (size_t i = 0; i < n; i++) mc[m->ctx[v[i] >> 7 & 0xFF]][v[i] & 0x7F]++;
    for (int c = 0; c < 8; c++) il_quantize(mc[c], 128, m->mf[c]);
}

#endif
