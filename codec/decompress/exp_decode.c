/* CPU decoder of EXP chunks (FORMAT.md 5): table-driven Huffman over
 * independent lanes, four lanes interleaved so their dependency chains
 * overlap, then exp_merge.c puts the exponents back into the elements. */
#include "reader.h"

#include <stdio.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the table's packed symbols assume a little-endian host"
#endif

/* Lane k's exponents go to scratch + k * LANE_STRIDE(L): every lane has
 * spare bytes after it, so a lane's last burst may run past its end without
 * touching the next lane, which another slot is decoding at the same time.
 * A burst starts with out < end and advances out by at most 4 x 6 symbols;
 * its last 8-byte store starts at most 18 symbols in: end + 25 at most. */
#define LANE_SLACK 32u
#define LANE_STRIDE(L) ((size_t)(L) + LANE_SLACK)

size_t df11_exp_scratch_size(uint32_t n, uint32_t lane_symbols)
{
    size_t nl = df11_lanes(n, lane_symbols);
    return (nl ? nl : 1) * LANE_STRIDE(lane_symbols);
}

typedef struct {
    uint64_t pos;         /* next bit to read */
    uint64_t limit;       /* bit where this lane ends */
    uint8_t *out, *end;   /* exponent output for this lane */
    uint32_t index;       /* for error messages */
} lane;

/* The lanes of one chunk, handed out in order to the decoding slots. */
typedef struct {
    const uint8_t *base;  /* start of the stream area, shared by all lanes */
    const uint8_t *lens;  /* u16 bit length of each lane */
    uint8_t *scratch;     /* exponent output, LANE_STRIDE bytes per lane */
    uint32_t next, count; /* next lane to hand out, lanes in all */
    uint32_t n, lane_symbols;
    uint64_t start;       /* first bit of lane `next` */
} lane_queue;

static bool next_lane(lane_queue *q, lane *l)
{
    if (q->next == q->count) return false;
    uint32_t k = q->next++;
    uint32_t len = df11_rd16(q->lens + 2 * (size_t)k);
    uint8_t *out = q->scratch + k * LANE_STRIDE(q->lane_symbols);
    *l = (lane){q->start, q->start + len, out, out + df11_lane_len(q->n, q->lane_symbols, k), k};
    q->start += len;
    return true;
}

/* 64 bits starting at bit pos, MSB first; at least 57 of them are valid. */
static inline uint64_t peek64(const uint8_t *base, uint64_t pos)
{
    uint64_t w;
    memcpy(&w, base + (pos >> 3), 8);
    return __builtin_bswap64(w) << (pos & 7);
}

/* One table lookup: up to six symbols out (stored as 8 bytes; the two past
 * the count are overwritten next), the window shifted past them.
 * Only `w` carries from one lookup to the next (load, shift by the entry's
 * low byte, shift for the index); the store and the counts are off that
 * chain. The entry's low byte is at most 12, so `& 63` changes nothing and
 * lets the compiler shift by the entry directly. */
#define STEP(w, out, used)                          \
    do {                                            \
        uint64_t e_ = T[(w) >> 52];                 \
        (w) <<= (e_ & 63);                          \
        uint64_t s_ = e_ >> 16;                     \
        memcpy((out), &s_, 8);                      \
        (out) += (e_ >> 8) & 0xFF;                  \
        (used) += (unsigned)(e_ & 0xFF);            \
    } while (0)

/* Four lookups from one load: at most 48 bits, within the 57 valid. */
#define BURST(pos, out)                                      \
    do {                                                     \
        uint64_t w_ = peek64(base, pos);                     \
        unsigned u_ = 0;                                     \
        STEP(w_, out, u_);                                   \
        STEP(w_, out, u_);                                   \
        STEP(w_, out, u_);                                   \
        STEP(w_, out, u_);                                   \
        (pos) += u_;                                         \
    } while (0)

/* A lane keeps bursting until it has all its symbols; pos <= limit keeps a
 * corrupt lane from reading on past its own bits. */
static inline bool lane_running(const lane *l)
{
    return l->out < l->end && l->pos <= l->limit;
}

/* Finishes a lane that has stopped running. Its last burst may have decoded
 * a few symbols past the end from the next lane's bits; taking their code
 * lengths back off gives the exact bit where the lane's own symbols end,
 * which must be the declared length (FORMAT.md 5.2). No serial tail. */
static bool lane_ends_exactly(const lane *l, const uint8_t len[256])
{
    if (l->out < l->end) return false;
    uint64_t extra = 0;
    for (const uint8_t *p = l->end; p < l->out; p++) extra += len[*p];
    return l->pos - extra == l->limit;
}

static void run_lane(lane *l, const uint8_t *base, const uint64_t *T)
{
    uint64_t pos = l->pos;
    uint8_t *out = l->out;
    while (out < l->end && pos <= l->limit) BURST(pos, out);
    l->pos = pos, l->out = out;
}

/* Four lanes at once while all four run, with their state in locals:
 * stores through uint8_t pointers may alias anything, so state kept in the
 * lane structs would be reloaded after every store and the four chains
 * would not overlap. (Six chains, or bursts counted ahead instead of checked
 * one by one, measured no faster on Zen 5: the loop is not latency-bound.) */
static void interleave4(lane *L, const uint8_t *base, const uint64_t *T)
{
    uint64_t p0 = L[0].pos, p1 = L[1].pos, p2 = L[2].pos, p3 = L[3].pos;
    uint8_t *o0 = L[0].out, *o1 = L[1].out, *o2 = L[2].out, *o3 = L[3].out;
    uint8_t *const e0 = L[0].end, *const e1 = L[1].end, *const e2 = L[2].end, *const e3 = L[3].end;
    const uint64_t l0 = L[0].limit, l1 = L[1].limit, l2 = L[2].limit, l3 = L[3].limit;
    while (o0 < e0 && o1 < e1 && o2 < e2 && o3 < e3 && p0 <= l0 && p1 <= l1 && p2 <= l2 &&
           p3 <= l3) {
        BURST(p0, o0);
        BURST(p1, o1);
        BURST(p2, o2);
        BURST(p3, o3);
    }
    L[0].pos = p0, L[1].pos = p1, L[2].pos = p2, L[3].pos = p3;
    L[0].out = o0, L[1].out = o1, L[2].out = o2, L[3].out = o3;
}

/* Decodes every lane of the queue. Four slots run interleaved; when a
 * slot's lane ends, it is checked and the slot takes the next lane. Once
 * the queue runs dry, the two or three lanes still running stay
 * interleaved: the spare slots shadow them (same bits, output into a
 * throwaway buffer), so the last lanes of a chunk are not decoded one after
 * another at the latency of a single chain. Returns false with *bad set on
 * the first lane that does not decode to its declared length. */
static bool decode_lanes(lane_queue *q, const df11_huff_dtable *t, uint32_t *bad)
{
    const uint64_t *T = t->entry;
    lane L[4];
    uint8_t shadow_out[LANE_STRIDE(DF11_LANE_SYMBOLS_MAX)];
    unsigned live = 0;
    while (live < 4 && next_lane(q, &L[live])) live++;
    for (;;) {
        unsigned j = 0;
        while (j < live) {
            if (lane_running(&L[j])) { j++; continue; }
            if (!lane_ends_exactly(&L[j], t->len)) { *bad = L[j].index; return false; }
            if (!next_lane(q, &L[j])) L[j] = L[--live];
        }
        if (live < 2) break;
        lane S[4];
        for (j = 0; j < 4; j++) {
            const lane *from = &L[j % live];
            S[j] = *from;
            if (j >= live) S[j].out = shadow_out, S[j].end = shadow_out + (from->end - from->out);
        }
        interleave4(S, q->base, T);
        for (j = 0; j < live; j++) L[j] = S[j];
    }
    if (live == 1) {
        run_lane(&L[0], q->base, T);
        if (!lane_ends_exactly(&L[0], t->len)) { *bad = L[0].index; return false; }
    }
    return true;
}

df11_status df11_exp_decode(const uint8_t *payload, uint32_t payload_len, uint32_t n,
                            unsigned width, uint32_t lane_symbols,
                            const df11_huff_dtable *t, void *dst, uint8_t *scratch,
                            char *why, size_t why_len)
{
    uint32_t nl = df11_lanes(n, lane_symbols);
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
        for (uint32_t k = 0; k < nl; k++)
            memset(scratch + k * LANE_STRIDE(lane_symbols), t->constant_symbol, lane_symbols);
    } else {
        lane_queue q = {payload + 2ull * nl, payload, scratch, 0, nl, n, lane_symbols, 0};
        uint32_t bad = 0;
        if (!decode_lanes(&q, t, &bad)) {
            snprintf(why, why_len, "lane %u of %u does not decode to its declared length", bad, nl);
            return DF11_E_CORRUPT_CHUNK;
        }
    }
    for (uint32_t k = 0; k < nl; k++) {
        uint32_t first = df11_lane_first(k, lane_symbols), count = df11_lane_len(n, lane_symbols, k);
        df11_exp_merge((uint8_t *)dst + (size_t)first * width, scratch + k * LANE_STRIDE(lane_symbols),
                       planes + first, planes + n + 2 * (size_t)first, count, width);
    }
    return DF11_OK;
}
