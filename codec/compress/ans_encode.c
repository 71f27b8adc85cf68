/* Writing ANS payloads (FORMAT.md 9): per lane, the elements are encoded
 * last to first (rANS is last in, first out), each element's mantissa
 * before its exponent, so the decoder reads exponent then mantissa in
 * element order. Words go out backwards into a per-lane buffer and are
 * copied forward. */
#include "ans_model.h"

#include <stdlib.h>


/* The division x / f as a multiply by ceil(2^64 / f), exact for x and f
 * below 2^32 (the error term stays under 1/f); f == 1 is x itself. Two
 * hardware divisions per element were two thirds of --max's encode time. */
static inline uint32_t put(uint32_t x, const df11_ans_sym *s, unsigned P, uint16_t **w)
{
    uint32_t f = s->freq;
    uint64_t xmax = (uint64_t)f << (32 - P);
    if (x >= xmax) {
        *--*w = (uint16_t)x;
        x >>= 16;
    }
    uint32_t q = f == 1 ? x : (uint32_t)(((unsigned __int128)x * s->rcp) >> 64);
    return (q << P) + (x - q * f) + s->cum;
}

size_t df11_ans_encode(const uint8_t *src, uint32_t n, const df11_ans_enc *m, uint8_t *out,
                       size_t cap, uint16_t *tmp)
{
    uint32_t nl = df11_lanes(n, DF11_ANS_LANE);
    size_t pos = (size_t)DF11_ANS_LANE_HEAD * nl;
    if (pos + (n + 7) / 8 > cap) return 0;
    for (uint32_t k = 0; k < nl; k++) {
        uint32_t first = df11_lane_first(k, DF11_ANS_LANE), cnt = df11_lane_len(n, DF11_ANS_LANE, k);
        uint16_t *end = tmp + DF11_ANS_TMP_WORDS, *w = end;
        uint32_t x = DF11_ANS_LOW;
        for (uint32_t i = first + cnt; i-- > first;) {
            uint32_t v = df11_rd16(src + 2 * (size_t)i);
            uint32_t e = (v >> 7) & 0xFF, mm = v & 0x7F;
            const df11_ans_sym *es = &m->exp[e];
            if (es->freq == 0) return 0; /* the histogram did not see it */
            const df11_ans_sym *ms = &m->mant[es->ctx][mm];
            if (ms->freq == 0) return 0;
            x = put(x, ms, DF11_ANS_MANT_BITS, &w);
            x = put(x, es, DF11_ANS_EXP_BITS, &w);
        }
        size_t nw = (size_t)(end - w);
        if (nw > UINT16_MAX || pos + 2 * nw + (n + 7) / 8 > cap) return 0;
        df11_wr32(out + 4 * (size_t)k, x);
        df11_wr16(out + 4 * (size_t)nl + 2 * (size_t)k, (uint16_t)nw);
        for (size_t j = 0; j < nw; j++) df11_wr16(out + pos + 2 * j, w[j]);
        pos += 2 * nw;
    }
    uint8_t *sg = out + pos;
    memset(sg, 0, (n + 7) / 8);
    for (uint32_t i = 0; i < n; i++) sg[i >> 3] |= (uint8_t)((src[2 * (size_t)i + 1] >> 7) << (i & 7));
    return pos + (n + 7) / 8;
}
