/* Writing ANS payloads (FORMAT.md 9): per lane, the elements are encoded
 * last to first (rANS is last in, first out), each element's mantissa
 * before its exponent, so the decoder reads exponent then mantissa in
 * element order. Words go out backwards into a per-lane buffer and are
 * copied forward.
 *
 * One lane is a chain of dependent steps (~20 cycles an element on one
 * lane); DF11_ANS_ENC_GROUP lanes of equal length are encoded side by side
 * so the core overlaps their chains, and the renormalisation is branch
 * free (its branch was taken about one step in three, at random). Each
 * lane's bytes are what the one-lane loop wrote. */
#include "ans_model.h"

#include <stdlib.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "lane words are copied as they lie in memory: a little-endian host"
#endif

/* One rANS step (see df11_ans_sym): the word below *w is always written,
 * and *w moves down only when it is kept. The renormalisation test is
 * x >= freq << (32 - P), taken as a shift of x so freq 2^P (a one-symbol
 * table) needs no 33-bit bound. */
static inline uint32_t put(uint32_t x, const df11_ans_sym *s, unsigned P, uint16_t **w)
{
    bool big = (x >> (32 - P)) >= s->freq;
    (*w)[-1] = (uint16_t)x;
    *w -= big;
    uint32_t xs = x >> 16;
    x = big ? xs : x;
    uint32_t q = (uint32_t)(((unsigned __int128)x * s->rcp) >> 64);
    return x + s->bias + q * s->cmpl;
}

/* One element of a lane: its mantissa, then its exponent. */
static inline uint32_t element(uint32_t x, uint32_t v, const df11_ans_enc *m, uint16_t **w,
                               uint32_t *bad)
{
    const df11_ans_sym *es = &m->exp[(v >> 7) & 0xFF];
    const df11_ans_sym *ms = &m->mant[es->ctx][v & 0x7F];
    *bad |= ms->bad; /* the histogram did not see it */
    x = put(x, ms, DF11_ANS_MANT_BITS, w);
    return put(x, es, DF11_ANS_EXP_BITS, w);
}

/* g lanes (1 or DF11_ANS_ENC_GROUP) of cnt elements each, lane l from
 * element base + l*DF11_ANS_LANE, its words ending at ends[l]. The group's
 * states and word pointers are locals, not arrays, so they stay in
 * registers. Returns false on a symbol without a frequency. */
static bool encode_group(const uint8_t *src, uint32_t base, uint32_t cnt, unsigned g,
                         const df11_ans_enc *m, uint16_t *const *ends, uint16_t **w, uint32_t *x)
{
    uint32_t bad = 0;
    const uint8_t *p = src + 2 * (size_t)base;
    if (g == 1) {
        uint16_t *w0 = ends[0];
        uint32_t x0 = DF11_ANS_LOW;
        for (uint32_t i = cnt; i-- > 0;) x0 = element(x0, df11_rd16(p + 2 * (size_t)i), m, &w0, &bad);
        w[0] = w0, x[0] = x0;
        return !bad;
    }
    _Static_assert(DF11_ANS_ENC_GROUP == 4, "the group below is written out for four lanes");
    const size_t L2 = 2 * (size_t)DF11_ANS_LANE;
    uint16_t *w0 = ends[0], *w1 = ends[1], *w2 = ends[2], *w3 = ends[3];
    uint32_t x0 = DF11_ANS_LOW, x1 = x0, x2 = x0, x3 = x0;
    for (uint32_t i = cnt; i-- > 0;) {
        const uint8_t *q = p + 2 * (size_t)i;
        x0 = element(x0, df11_rd16(q), m, &w0, &bad);
        x1 = element(x1, df11_rd16(q + L2), m, &w1, &bad);
        x2 = element(x2, df11_rd16(q + 2 * L2), m, &w2, &bad);
        x3 = element(x3, df11_rd16(q + 3 * L2), m, &w3, &bad);
    }
    w[0] = w0, w[1] = w1, w[2] = w2, w[3] = w3;
    x[0] = x0, x[1] = x1, x[2] = x2, x[3] = x3;
    return !bad;
}

/* Bit i mod 8 of byte i / 8: bit 15 of element i. A byte is gathered in
 * a register from its eight elements (or-ing into memory bit by bit was a
 * tenth of the encoder's time). ANS_IL's plane is the same (FORMAT.md 10). */
void df11_ans_sign_plane(const uint8_t *src, uint32_t n, uint8_t *sg)
{
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, src + 2 * (size_t)i, 8);
        uint64_t u;
        memcpy(&u, src + 2 * (size_t)i + 8, 8);
        /* the top bit of each 16-bit word, then four per 64-bit word */
        v = (v >> 15) & 0x0001000100010001ull;
        u = (u >> 15) & 0x0001000100010001ull;
        uint32_t b = (uint32_t)(v | v >> 15 | v >> 30 | v >> 45) & 0xF;
        b |= ((uint32_t)(u | u >> 15 | u >> 30 | u >> 45) & 0xF) << 4;
        sg[i >> 3] = (uint8_t)b;
    }
    if (i < n) {
        uint8_t b = 0;
        for (uint32_t k = 0; i + k < n; k++) b |= (uint8_t)((src[2 * (size_t)(i + k) + 1] >> 7) << k);
        sg[i >> 3] = b; /* the bits past n stay 0 */
    }
}

size_t df11_ans_encode(const uint8_t *src, uint32_t n, const df11_ans_enc *m, uint8_t *out,
                       size_t cap, uint16_t *tmp)
{
    uint32_t nl = df11_lanes(n, DF11_ANS_LANE);
    size_t pos = (size_t)DF11_ANS_LANE_HEAD * nl;
    if (pos + (n + 7) / 8 > cap) return 0;
    uint16_t *ends[DF11_ANS_ENC_GROUP], *w[DF11_ANS_ENC_GROUP];
    uint32_t x[DF11_ANS_ENC_GROUP];
    for (unsigned l = 0; l < DF11_ANS_ENC_GROUP; l++) ends[l] = tmp + (size_t)(l + 1) * DF11_ANS_LANE_WORDS;
    for (uint32_t k = 0; k < nl;) {
        uint32_t cnt = df11_lane_len(n, DF11_ANS_LANE, k);
        /* a group when the next lanes are as long (all but a short last) */
        unsigned g = k + DF11_ANS_ENC_GROUP <= nl &&
                             df11_lane_len(n, DF11_ANS_LANE, k + DF11_ANS_ENC_GROUP - 1) == cnt
                         ? DF11_ANS_ENC_GROUP
                         : 1;
        if (!encode_group(src, df11_lane_first(k, DF11_ANS_LANE), cnt, g, m, ends, w, x)) return 0;
        for (unsigned l = 0; l < g; l++, k++) {
            size_t nw = (size_t)(ends[l] - w[l]);
            if (nw > UINT16_MAX || pos + 2 * nw + (n + 7) / 8 > cap) return 0;
            df11_wr32(out + 4 * (size_t)k, x[l]);
            df11_wr16(out + 4 * (size_t)nl + 2 * (size_t)k, (uint16_t)nw);
            memcpy(out + pos, w[l], 2 * nw);
            pos += 2 * nw;
        }
    }
    df11_ans_sign_plane(src, n, out + pos);
    return pos + (n + 7) / 8;
}
