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
    return l->out + 16 <= l->end && l->pos <= l->limit;
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

static void merge(uint8_t *dst, const uint8_t *e, const uint8_t *r, const uint8_t *low,
                  uint32_t n, unsigned width)
{
    if (width == 2) {
        for (uint32_t i = 0; i < n; i++) {
            dst[2 * i] = (uint8_t)((e[i] << 7) | (r[i] & 0x7F));
            dst[2 * i + 1] = (uint8_t)((r[i] & 0x80) | (e[i] >> 1));
        }
    } else {
        for (uint32_t i = 0; i < n; i++) {
            dst[4 * i] = low[2 * i];
            dst[4 * i + 1] = low[2 * i + 1];
            dst[4 * i + 2] = (uint8_t)((e[i] << 7) | (r[i] & 0x7F));
            dst[4 * i + 3] = (uint8_t)((r[i] & 0x80) | (e[i] >> 1));
        }
    }
}

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
            /* four lanes ready: interleave their bursts */
            while (can_burst(&L[0]) && can_burst(&L[1]) && can_burst(&L[2]) && can_burst(&L[3])) {
                burst(&L[0], T);
                burst(&L[1], T);
                burst(&L[2], T);
                burst(&L[3], T);
            }
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
