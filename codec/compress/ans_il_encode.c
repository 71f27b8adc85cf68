/* Writing ANS_IL payloads (FORMAT.md 10). The decoder takes, per group
 * of nl elements (element i on lane i mod nl), every lane's exponent step
 * in lane order, then every lane's mantissa step, each reading the shared
 * stream's next word when its state falls below 2^16. rANS is last in,
 * first out, so the encoder runs that sequence backwards: groups last to
 * first, and in a group the mantissa steps of lanes cnt-1..0, then the
 * exponent steps of lanes cnt-1..0. A step emits at most one word (the
 * state is below 2^32 and the renormalisation moves 16 bits), the word
 * the decoder's same step reads, so the words go out backwards in
 * exactly the reverse of the order the decoder reads them.
 *
 * The words are staged backwards at the end of out and moved down behind
 * the lane states at the end: no second buffer, whatever the chunk size.
 * The lanes of a group are independent chains, so the core overlaps them
 * by itself (the one-lane ANS encoder needed four lanes written out side
 * by side for that); what the steps share is the word pointer, one
 * subtraction a step. */
#include "ans_model.h"

/* One step at P = 12 (see df11_ans_sym; put in ans_encode.c is the same
 * step at either P): the word below w is always written, and w moves
 * down only when it is kept, so the renormalisation has no branch (taken
 * about one step in three, at random). Bytes through memcpy: out need
 * not be aligned. */
static inline uint32_t put(uint32_t x, const df11_ans_sym *s, uint8_t **w)
{
    bool big = (x >> (32 - DF11_ANS_IL_BITS)) >= s->freq;
    uint16_t low = (uint16_t)x;
    memcpy(*w - 2, &low, 2);
    *w -= 2 * (size_t)big;
    x = big ? x >> 16 : x;
    uint32_t q = (uint32_t)(((unsigned __int128)x * s->rcp) >> 64);
    return x + s->bias + q * s->cmpl;
}

/* The same step when the words may not fit: nothing is written below
 * lo, and *full is set instead. Only for the group that could reach lo,
 * so its branch costs nothing in practice. */
static inline uint32_t put_checked(uint32_t x, const df11_ans_sym *s, uint8_t **w, const uint8_t *lo,
                                   bool *full)
{
    if ((x >> (32 - DF11_ANS_IL_BITS)) >= s->freq) {
        if (*w - lo < 2) {
            *full = true;
            return x;
        }
        uint16_t low = (uint16_t)x;
        memcpy(*w - 2, &low, 2);
        *w -= 2;
        x >>= 16;
    }
    uint32_t q = (uint32_t)(((unsigned __int128)x * s->rcp) >> 64);
    return x + s->bias + q * s->cmpl;
}

/* One group of cnt elements at p, lanes x[0..cnt), words below *w.
 * checked: the group might not fit above lo (then *full). Returns the
 * bad flags of its mantissas: an exponent without a frequency selects
 * the extra context, all of whose mantissas are bad. Always inlined, so
 * checked is a constant and the word pointer a register: through memory
 * it chained every step through a store and a load (GPT-2 in chunks of
 * 2^17 elements, best of 12 on a busy machine: 398 MB/s, 425 inlined,
 * the ANS encoder 440). */
static inline __attribute__((always_inline)) uint32_t
group(const uint8_t *p, uint32_t cnt, const df11_ans_enc *m, uint32_t *x, const df11_ans_sym **es,
      uint8_t **wp, bool checked, const uint8_t *lo, bool *full)
{
    uint32_t bad = 0;
    uint8_t *w = *wp;
    for (uint32_t k = cnt; k-- > 0;) {
        uint32_t v = df11_rd16(p + 2 * (size_t)k);
        const df11_ans_sym *e = &m->exp[(v >> 7) & 0xFF];
        const df11_ans_sym *ms = &m->mant[e->ctx][v & 0x7F];
        bad |= ms->bad;
        es[k] = e;
        x[k] = checked ? put_checked(x[k], ms, &w, lo, full) : put(x[k], ms, &w);
    }
    for (uint32_t k = cnt; k-- > 0;)
        x[k] = checked ? put_checked(x[k], es[k], &w, lo, full) : put(x[k], es[k], &w);
    *wp = w;
    return bad;
}

size_t df11_ans_il_encode(const uint8_t *src, uint32_t n, const df11_ans_enc *m, uint8_t *out,
                          size_t cap, uint16_t *tmp)
{
    (void)tmp;
    uint32_t nl = df11_ans_il_lanes(n);
    size_t head = 4 * (size_t)nl, sign = df11_ans_sign_bytes(n);
    if (head + sign > cap) return 0;
    /* the words are staged in [w, end), which ends where the sign plane
     * could still follow them; lo is where they start in the payload */
    uint8_t *lo = out + head, *end = lo + ((cap - head - sign) & ~(size_t)1), *w = end;
    uint32_t x[DF11_ANS_IL_MAX_LANES];
    const df11_ans_sym *es[DF11_ANS_IL_MAX_LANES];
    for (uint32_t k = 0; k < nl; k++) x[k] = DF11_ANS_LOW;
    uint32_t bad = 0;
    bool full = false;
    if (n) {
        uint32_t g = (n - 1) / nl * nl, cnt = n - g;
        for (;;) {
            const uint8_t *p = src + 2 * (size_t)g;
            /* a group writes at most 2 * cnt words, and put one more below */
            if ((size_t)(w - lo) >= 4 * (size_t)cnt + 2) {
                bad |= group(p, cnt, m, x, es, &w, false, lo, &full);
            } else {
                bad |= group(p, cnt, m, x, es, &w, true, lo, &full);
                if (full) return 0;
            }
            if (g == 0) break;
            g -= nl;
            cnt = nl;
        }
    }
    if (bad) return 0;
    size_t nb = (size_t)(end - w);
    memmove(lo, w, nb);
    /* the encoder's final states are the decoder's initial ones */
    for (uint32_t k = 0; k < nl; k++) df11_wr32(out + 4 * (size_t)k, x[k]);
    df11_ans_sign_plane(src, n, lo + nb);
    return head + nb + sign;
}
