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
 * subtraction a step. With AVX-512 the full groups go sixteen lanes a
 * vector (z_groups): one gather per step, the renormalising lanes' words
 * compressed into place, the division in doubles; the same bytes (GPT-2
 * in chunks of 2^17 elements, best of 12: 425 MB/s scalar, 640 AVX-512;
 * 2^19: 780). */
#include "ans_model.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "words are stored as they lie in a uint16_t: a little-endian host"
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

/* The SIMD level of the library's ANS decoders (codec/decompress/
 * ans_simd.c, declared in decompress/reader.h): the CPU's, or less with
 * DF11_SIMD=0/1 or df11_ans_simd_force, so one knob reaches the encoder
 * too. 2: AVX-512 F, VL, BW and VBMI2. */
int df11_ans_simd_level(void);

/* One step at P = 12 (see df11_ans_sym; put in ans_encode.c is the same
 * step at either P): the word below w is always written, and w moves
 * down only when it is kept, so the renormalisation has no branch (taken
 * about one step in three, at random). Through memcpy, which is one
 * 16-bit store at any alignment (df11_wr16's two byte stores cost 4%). */
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

#if HAVE_X86
#define T_AVX512 __attribute__((target("avx2,bmi2,popcnt,avx512f,avx512vl,avx512bw")))
#define INL static inline __attribute__((always_inline))

/* Sixteen lanes' steps at once with their packed symbols pk (freq | cum
 * << 12, df11_ans_enc.epack/mpack): the lanes that renormalise write
 * their low words below *w in lane order (a compress, then a masked
 * store of exactly that many words), as the scalar steps of lanes 15..0
 * would. x / freq in doubles: x < 2^32 and freq < 2^12 convert exactly,
 * and the rounded quotient cannot cross an integer (x / freq is one, or
 * at least 1 / freq away from one, far above the quotient's rounding
 * error below 2^20), so truncating it is the exact floor. */
INL T_AVX512 __m512i z_put(__m512i x, __m512i pk, uint8_t **w)
{
    const __m512i m12 = _mm512_set1_epi32(0xFFF);
    __m512i f = _mm512_and_si512(pk, m12);
    __mmask16 big = _mm512_cmpge_epu32_mask(x, _mm512_slli_epi32(f, 20));
    unsigned cnt = (unsigned)__builtin_popcount(big);
    __m256i words = _mm512_cvtepi32_epi16(_mm512_maskz_compress_epi32(big, x));
    *w -= 2 * cnt;
    _mm256_mask_storeu_epi16(*w, (__mmask16)((1u << cnt) - 1), words);
    x = _mm512_mask_srli_epi32(x, big, x, 16);
    /* a symbol without a frequency (the chunk fails) divides by 1, not 0 */
    __m512i d = _mm512_max_epu32(f, _mm512_set1_epi32(1));
    __m512d qlo = _mm512_div_pd(_mm512_cvtepu32_pd(_mm512_castsi512_si256(x)),
                                _mm512_cvtepu32_pd(_mm512_castsi512_si256(d)));
    __m512d qhi = _mm512_div_pd(_mm512_cvtepu32_pd(_mm512_extracti64x4_epi64(x, 1)),
                                _mm512_cvtepu32_pd(_mm512_extracti64x4_epi64(d, 1)));
    __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvttpd_epu32(qlo)), _mm512_cvttpd_epu32(qhi), 1);
    /* (q << 12) + x mod f + cum */
    __m512i r = _mm512_sub_epi32(x, _mm512_mullo_epi32(q, f));
    return _mm512_add_epi32(_mm512_add_epi32(_mm512_slli_epi32(q, 12), r),
                            _mm512_and_si512(_mm512_srli_epi32(pk, 12), m12));
}

/* Full groups of nl = 16 V lanes, from the one at element g down to 0,
 * while each has room for all its words above lo; returns the next group
 * still to encode (UINT32_MAX when none is left). Lane order and word
 * order are the scalar loop's, so the bytes are the same. */
INL T_AVX512 uint32_t z_groups(const unsigned V, const uint8_t *src, uint32_t g, const df11_ans_enc *m,
                               uint32_t *xs, uint8_t **wp, const uint8_t *lo, uint32_t *bad)
{
    const uint32_t nl = 16 * V;
    const __m512i mff = _mm512_set1_epi32(0xFF), m7f = _mm512_set1_epi32(0x7F), mf = _mm512_set1_epi32(0xF);
    __m512i x[4], acc = _mm512_setzero_si512();
    for (unsigned v = 0; v < V; v++) x[v] = _mm512_loadu_si512(xs + 16 * v);
    uint8_t *w = *wp;
    for (;;) {
        if ((size_t)(w - lo) < 4 * (size_t)nl) break;
        const uint8_t *p = src + 2 * (size_t)g;
        __m512i ep[4];
        for (unsigned v = V; v-- > 0;) {
            __m512i e = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p + 32 * v)));
            __m512i mi = _mm512_and_si512(e, m7f);
            e = _mm512_and_si512(_mm512_srli_epi32(e, 7), mff);
            ep[v] = _mm512_i32gather_epi32(e, m->epack, 4);
            /* the mantissa's row: the exponent's context (8 for none) */
            mi = _mm512_or_si512(mi, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(ep[v], 24), mf), 7));
            __m512i mp = _mm512_i32gather_epi32(mi, m->mpack, 4);
            acc = _mm512_or_si512(acc, mp);
            x[v] = z_put(x[v], mp, &w);
        }
        for (unsigned v = V; v-- > 0;) x[v] = z_put(x[v], ep[v], &w);
        if (g == 0) {
            g = UINT32_MAX;
            break;
        }
        g -= nl;
    }
    for (unsigned v = 0; v < V; v++) _mm512_storeu_si512(xs + 16 * v, x[v]);
    *bad |= (uint32_t)_mm512_reduce_or_epi32(acc) >> 28 & 1u;
    *wp = w;
    return g;
}

static T_AVX512 uint32_t z_groups_any(uint32_t nl, const uint8_t *src, uint32_t g, const df11_ans_enc *m,
                                      uint32_t *xs, uint8_t **wp, const uint8_t *lo, uint32_t *bad)
{
    switch (nl) { /* V a constant, so the states stay in registers */
    case 16: return z_groups(1, src, g, m, xs, wp, lo, bad);
    case 32: return z_groups(2, src, g, m, xs, wp, lo, bad);
    case 48: return z_groups(3, src, g, m, xs, wp, lo, bad);
    default: return z_groups(4, src, g, m, xs, wp, lo, bad);
    }
}
#endif

size_t df11_ans_il_encode(const uint8_t *src, uint32_t n, const df11_ans_enc *m, bool signs,
                          uint8_t *out, size_t cap)
{
    return df11_ans_il_encode_at(src, n, m, signs, out, cap, df11_ans_simd_level());
}

size_t df11_ans_il_encode_at(const uint8_t *src, uint32_t n, const df11_ans_enc *m, bool signs,
                             uint8_t *out, size_t cap, int level)
{
    uint32_t nl = df11_ans_il_lanes(n), carried = df11_ans_il_carried(n, nl, signs);
    size_t head = 4 * (size_t)nl, sign = (size_t)df11_ans_il_plane_bytes(n, carried);
    if (head + sign > cap) return 0;
    /* the words are staged in [w, end), which ends where the sign plane
     * could still follow them; lo is where they start in the payload */
    uint8_t *lo = out + head, *end = lo + ((cap - head - sign) & ~(size_t)1), *w = end;
    uint32_t x[DF11_ANS_IL_MAX_LANES];
    const df11_ans_sym *es[DF11_ANS_IL_MAX_LANES];
    /* the decoder ends in these states: with IL_SIGNS (FORMAT.md 10.1)
     * they hold the signs of each lane's first elements, which the plane
     * then leaves out */
    for (uint32_t k = 0; k < nl; k++) {
        uint32_t b = 0, held = df11_ans_il_held(carried, nl, k);
        for (uint32_t j = 0; j < held; j++) b |= (uint32_t)(src[2 * ((size_t)k + (size_t)j * nl) + 1] >> 7) << j;
        x[k] = DF11_ANS_LOW + b;
    }
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
#if HAVE_X86
            /* the full groups below, sixteen lanes a vector */
            if (level >= 2 && nl >= 16) {
                g = z_groups_any(nl, src, g, m, x, &w, lo, &bad);
                if (g == UINT32_MAX) break;
            }
#else
            (void)level;
#endif
        }
    }
    if (bad) return 0;
    size_t nb = (size_t)(end - w);
    memmove(lo, w, nb);
    /* the encoder's final states are the decoder's initial ones */
    for (uint32_t k = 0; k < nl; k++) df11_wr32(out + 4 * (size_t)k, x[k]);
    df11_ans_sign_plane(src + 2 * (size_t)carried, n - carried, lo + nb);
    return head + nb + sign;
}
