/* CPU decoder of EXP chunks (FORMAT.md 5): table-driven Huffman over
 * independent lanes, four lanes interleaved so their dependency chains
 * overlap, then one vectorisable pass that merges exponents back in. */
#include "../common/internal.h"

#include <stdio.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the merge pass assumes a little-endian host"
#endif

typedef struct {
    const uint8_t *base;  /* start of the stream area, shared by all lanes */
    uint64_t pos;         /* next bit to read */
    uint64_t limit;       /* bit where this lane ends */
    uint8_t *out, *end;   /* exponent output for this lane */
} lane;

/* 64 bits starting at bit pos, MSB first; at least 57 of them are valid. */
static inline uint64_t peek64(const uint8_t *base, uint64_t pos)
{
    uint64_t w;
    memcpy(&w, base + (pos >> 3), 8);
    return __builtin_bswap64(w) << (pos & 7);
}

/* Four lookups from one load: at most 48 bits, within the 57 valid. Writes
 * up to 16 symbols, so the caller keeps 16 bytes of room in out. */
static inline void burst(lane *l, const uint64_t *T)
{
    uint64_t w = peek64(l->base, l->pos), e;
    unsigned used = 0;
    for (int k = 0; k < 4; k++) {
        e = T[(w << used) >> 52];
        memcpy(l->out, &e, 4);
        l->out += (e >> 40) & 0xFF;
        used += (e >> 32) & 0xFF;
    }
    l->pos += used;
}

static inline bool can_burst(const lane *l)
{
    return l->end - l->out >= 16 && l->pos <= l->limit;
}

/* Finishes one lane exactly: bursts while there is room, then one symbol
 * at a time. Returns false if the lane overruns its declared length. */
static bool finish_lane(lane *l, const uint64_t *T)
{
    while (can_burst(l)) burst(l, T);
    while (l->out < l->end) {
        if (l->pos > l->limit) return false;
        uint64_t e = T[peek64(l->base, l->pos) >> 52];
        *l->out++ = (uint8_t)e;
        l->pos += (e >> 48) & 0xFF;
    }
    return l->pos == l->limit;
}

/* Four lanes at once, with their state in locals: stores through uint8_t
 * pointers may alias anything, so state kept in the lane structs would be
 * reloaded after every store and the four chains would not overlap. */
#define BURST(w, pos, out)                                   \
    do {                                                     \
        uint64_t w_ = peek64(base, pos), e_;                 \
        unsigned u_ = 0;                                     \
        for (int k_ = 0; k_ < 4; k_++) {                     \
            e_ = T[(w_ << u_) >> 52];                        \
            memcpy(out, &e_, 4);                             \
            out += (e_ >> 40) & 0xFF;                        \
            u_ += (e_ >> 32) & 0xFF;                         \
        }                                                    \
        pos += u_;                                           \
    } while (0)

static void interleave4(lane *L, const uint64_t *T)
{
    const uint8_t *base = L[0].base;
    uint64_t p0 = L[0].pos, p1 = L[1].pos, p2 = L[2].pos, p3 = L[3].pos;
    uint8_t *o0 = L[0].out, *o1 = L[1].out, *o2 = L[2].out, *o3 = L[3].out;
    uint8_t *const e0 = L[0].end, *const e1 = L[1].end, *const e2 = L[2].end, *const e3 = L[3].end;
    const uint64_t l0 = L[0].limit, l1 = L[1].limit, l2 = L[2].limit, l3 = L[3].limit;
    while (e0 - o0 >= 16 && e1 - o1 >= 16 && e2 - o2 >= 16 && e3 - o3 >= 16 && p0 <= l0 &&
           p1 <= l1 && p2 <= l2 && p3 <= l3) {
        BURST(w0, p0, o0);
        BURST(w1, p1, o1);
        BURST(w2, p2, o2);
        BURST(w3, p3, o3);
    }
    L[0].pos = p0, L[1].pos = p1, L[2].pos = p2, L[3].pos = p3;
    L[0].out = o0, L[1].out = o1, L[2].out = o2, L[3].out = o3;
}

/* Rebuilding elements: lo byte = e<<7 | r&0x7F, hi byte = r&0x80 | e>>1.
 * SSE2 (every x86-64) does 16 elements a step; gcc -O2 would not vectorise
 * the byte-interleaving scalar loop, which then dominated the profile. */
static inline void merge_scalar(uint8_t *dst, const uint8_t *e, const uint8_t *r,
                                const uint8_t *low, uint32_t i, uint32_t n, unsigned width)
{
    for (; i < n; i++) {
        uint8_t *d = dst + (size_t)i * width;
        if (width == 4) {
            d[0] = low[2 * i];
            d[1] = low[2 * i + 1];
            d += 2;
        }
        d[0] = (uint8_t)((e[i] << 7) | (r[i] & 0x7F));
        d[1] = (uint8_t)((r[i] & 0x80) | (e[i] >> 1));
    }
}

#ifdef __SSE2__
#include <emmintrin.h>
static void merge(uint8_t *dst, const uint8_t *e, const uint8_t *r, const uint8_t *low,
                  uint32_t n, unsigned width)
{
    const __m128i one = _mm_set1_epi8(1), m7f = _mm_set1_epi8(0x7F), m80 = _mm_set1_epi8((char)0x80);
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i ev = _mm_loadu_si128((const __m128i *)(e + i));
        __m128i rv = _mm_loadu_si128((const __m128i *)(r + i));
        __m128i lo = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(ev, one), 7), _mm_and_si128(rv, m7f));
        __m128i hi = _mm_or_si128(_mm_and_si128(rv, m80), _mm_and_si128(_mm_srli_epi16(ev, 1), m7f));
        __m128i w0 = _mm_unpacklo_epi8(lo, hi), w1 = _mm_unpackhi_epi8(lo, hi);
        if (width == 2) {
            _mm_storeu_si128((__m128i *)(dst + 2 * i), w0);
            _mm_storeu_si128((__m128i *)(dst + 2 * i + 16), w1);
        } else {
            __m128i l0 = _mm_loadu_si128((const __m128i *)(low + 2 * i));
            __m128i l1 = _mm_loadu_si128((const __m128i *)(low + 2 * i + 16));
            uint8_t *d = dst + 4 * (size_t)i;
            _mm_storeu_si128((__m128i *)d, _mm_unpacklo_epi16(l0, w0));
            _mm_storeu_si128((__m128i *)(d + 16), _mm_unpackhi_epi16(l0, w0));
            _mm_storeu_si128((__m128i *)(d + 32), _mm_unpacklo_epi16(l1, w1));
            _mm_storeu_si128((__m128i *)(d + 48), _mm_unpackhi_epi16(l1, w1));
        }
    }
    merge_scalar(dst, e, r, low, i, n, width);
}
#else
static void merge(uint8_t *dst, const uint8_t *e, const uint8_t *r, const uint8_t *low,
                  uint32_t n, unsigned width)
{
    merge_scalar(dst, e, r, low, 0, n, width);
}
#endif

df11_status df11_exp_decode(const uint8_t *payload, uint32_t payload_len, uint32_t n,
                            unsigned width, uint32_t lane_symbols,
                            const df11_huff_dtable *t, void *dst, uint8_t *scratch,
                            char *why, size_t why_len)
{
    uint32_t nl = (uint32_t)(((uint64_t)n + lane_symbols - 1) / lane_symbols);
    uint64_t need = 2ull * nl + (uint64_t)n * (width - 1);
    if (need > payload_len) {
        snprintf(why, why_len, "payload of %u bytes too short for %u elements", payload_len, n);
        return DF11_E_CORRUPT_CHUNK;
    }
    uint64_t bits = 0;
    for (uint32_t k = 0; k < nl; k++) bits += df11_rd16(payload + 2 * k);
    uint64_t streams = (bits + 7) / 8;
    if (need + streams != payload_len) {
        snprintf(why, why_len, "lane lengths sum to %llu bits, payload holds %llu bytes",
                 (unsigned long long)bits, (unsigned long long)(payload_len - need));
        return DF11_E_CORRUPT_CHUNK;
    }
    const uint8_t *planes = payload + 2ull * nl + streams;
    if (t->constant) {
        if (streams != 0) {
            snprintf(why, why_len, "constant code but lanes hold %llu bytes",
                     (unsigned long long)streams);
            return DF11_E_CORRUPT_CHUNK;
        }
        memset(scratch, t->constant_symbol, n);
    } else {
        const uint64_t *T = t->entry;
        const uint8_t *s = payload + 2ull * nl;
        uint64_t start = 0;
        uint32_t k = 0, bad = 0;
        lane L[4];
        for (; k < nl; k++) {
            lane *l = &L[k % 4];
            uint32_t len = df11_rd16(payload + 2 * k);
            uint32_t first = k * lane_symbols;
            uint32_t count = n - first < lane_symbols ? n - first : lane_symbols;
            *l = (lane){s, start, start + len, scratch + first, scratch + first + count};
            start += len;
            if (k % 4 != 3) continue;
            interleave4(L, T);
            for (uint32_t j = 0; j < 4; j++)
                if (!finish_lane(&L[j], T)) { bad = k - 3 + j; goto overrun; }
        }
        for (uint32_t j = k - k % 4; j < k; j++)
            if (!finish_lane(&L[j % 4], T)) { bad = j; goto overrun; }
        goto merge;
    overrun:
        snprintf(why, why_len, "lane %u of %u does not decode to its declared length", bad, nl);
        return DF11_E_CORRUPT_CHUNK;
    }
merge:
    merge(dst, scratch, planes, planes + n, n, width);
    return DF11_OK;
}
