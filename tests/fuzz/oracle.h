/*
 * oracle.h - slow, obviously-correct reference versions of the EXP codec
 * (doc/FORMAT.md section 5), written from the spec and not from the codec
 * sources: canonical codes assigned symbol by symbol, a bit-at-a-time
 * encoder and decoder. The fuzz targets and tests/c/codec_huffman.c hold
 * the real codec to them.
 */
#ifndef DF11_ORACLE_H
#define DF11_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ORACLE_MAX_LEN 12

/* 5.1: symbols sorted by (length, value) take consecutive codes, shifted
 * left whenever the length grows. */
static inline void oracle_canonical(const uint8_t len[256], uint16_t code[256])
{
    uint32_t next = 0;
    unsigned cur = 0;
    for (unsigned l = 1; l <= ORACLE_MAX_LEN; l++)
        for (unsigned s = 0; s < 256; s++) {
            if (len[s] != l) continue;
            if (cur == 0) cur = l; /* the first code is all zeros, at any length */
            next <<= (l - cur);
            cur = l;
            code[s] = (uint16_t)next++;
        }
    for (unsigned s = 0; s < 256; s++)
        if (len[s] == 0) code[s] = 0;
}

/* 0: complete code, 1: constant code, -1: invalid (5.1). */
static inline int oracle_check(const uint8_t len[256])
{
    unsigned present = 0, ones = 0;
    uint64_t kraft = 0;
    for (unsigned s = 0; s < 256; s++) {
        if (!len[s]) continue;
        if (len[s] > ORACLE_MAX_LEN) return -1;
        present++;
        ones += len[s] == 1;
        kraft += 1u << (ORACLE_MAX_LEN - len[s]);
    }
    if (present == 1) return ones == 1 ? 1 : -1;
    return present >= 2 && kraft == (1u << ORACLE_MAX_LEN) ? 0 : -1;
}

static inline unsigned oracle_bit(const uint8_t *p, uint64_t pos)
{
    return (p[pos >> 3] >> (7 - (pos & 7))) & 1;
}

static inline void oracle_put_bit(uint8_t *p, uint64_t pos, unsigned b)
{
    if (b) p[pos >> 3] |= (uint8_t)(0x80 >> (pos & 7));
    else p[pos >> 3] &= (uint8_t)~(0x80 >> (pos & 7));
}

/* A code ready for bit-at-a-time decoding: sym[l][c] is the symbol whose
 * code is the l-bit value c, or -1. */
typedef struct {
    uint8_t len[256];
    uint16_t code[256];
    int kind; /* as oracle_check */
    int constant_symbol;
    int16_t sym[ORACLE_MAX_LEN + 1][1u << ORACLE_MAX_LEN];
} oracle_code;

static inline void oracle_code_init(oracle_code *c, const uint8_t len[256])
{
    memcpy(c->len, len, 256);
    c->kind = oracle_check(len);
    c->constant_symbol = -1;
    memset(c->sym, 0xFF, sizeof c->sym);
    if (c->kind < 0) return;
    oracle_canonical(len, c->code);
    for (unsigned s = 0; s < 256; s++)
        if (len[s]) {
            c->sym[len[s]][c->code[s]] = (int16_t)s;
            c->constant_symbol = (int)s;
        }
}

/* Decodes one symbol from bit pos of p (nbits readable bits), one bit at a
 * time. Returns the symbol, or -1 when no code matches within nbits. */
static inline int oracle_symbol(const oracle_code *c, const uint8_t *p, uint64_t nbits, uint64_t *pos)
{
    uint32_t v = 0;
    for (unsigned l = 1; l <= ORACLE_MAX_LEN; l++) {
        if (*pos + l > nbits) return -1;
        v = v << 1 | oracle_bit(p, *pos + l - 1);
        if (c->sym[l][v] >= 0) {
            *pos += l;
            return c->sym[l][v];
        }
    }
    return -1;
}

static inline uint16_t oracle_upper(const uint8_t *src, size_t i, unsigned width)
{
    const uint8_t *q = src + i * width + width - 2;
    return (uint16_t)(q[0] | q[1] << 8);
}

/* Encodes n elements (width 2 or 4) as an EXP payload into out, which must
 * hold the worst case; returns the payload length. len must be valid. */
static inline size_t oracle_encode(const uint8_t *src, uint32_t n, unsigned width, uint32_t L,
                                   const uint8_t len[256], uint8_t *out)
{
    uint16_t code[256];
    oracle_canonical(len, code);
    uint32_t nl = (uint32_t)(((uint64_t)n + L - 1) / L);
    uint8_t *bits = out + 2 * (size_t)nl;
    uint64_t pos = 0;
    bool constant = oracle_check(len) == 1; /* a constant code writes no bits */
    for (uint32_t k = 0; k < nl; k++) {
        uint64_t start = pos;
        for (uint32_t i = k * L; i < n && i < (k + 1) * L; i++) {
            unsigned e = (oracle_upper(src, i, width) >> 7) & 0xFF;
            if (constant) continue;
            for (unsigned b = len[e]; b-- > 0;) oracle_put_bit(bits, pos++, (code[e] >> b) & 1);
        }
        out[2 * k] = (uint8_t)(pos - start);
        out[2 * k + 1] = (uint8_t)((pos - start) >> 8);
    }
    while (pos % 8) oracle_put_bit(bits, pos++, 0);
    uint8_t *r = bits + pos / 8;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t v = oracle_upper(src, i, width);
        r[i] = (uint8_t)(((v >> 8) & 0x80) | (v & 0x7F));
    }
    if (width == 4)
        for (uint32_t i = 0; i < n; i++) {
            r[n + 2 * i] = src[4 * (size_t)i];
            r[n + 2 * i + 1] = src[4 * (size_t)i + 1];
        }
    return (size_t)(r - out) + (size_t)n * (width - 1);
}

/* Decodes an EXP payload the slow way into dst (n * width bytes). Returns
 * false on anything FORMAT.md 5 forbids. */
static inline bool oracle_decode(const uint8_t *payload, size_t payload_len, uint32_t n,
                                 unsigned width, uint32_t L, const oracle_code *c, uint8_t *dst)
{
    if (c->kind < 0) return false;
    uint64_t nl = ((uint64_t)n + L - 1) / L;
    uint64_t fixed = 2 * nl + (uint64_t)n * (width - 1);
    if (payload_len < 2 * nl) return false;
    uint64_t total = 0;
    for (uint64_t k = 0; k < nl; k++) total += (uint64_t)(payload[2 * k] | payload[2 * k + 1] << 8);
    if (payload_len != fixed + (total + 7) / 8) return false;
    if (c->kind == 1 && total != 0) return false;
    const uint8_t *bits = payload + 2 * nl, *r = bits + (total + 7) / 8, *low = r + n;
    uint64_t pos = 0;
    for (uint64_t k = 0; k < nl; k++) {
        uint64_t lane_len = (uint64_t)(payload[2 * k] | payload[2 * k + 1] << 8);
        uint64_t end = pos + lane_len;
        for (uint64_t i = k * L; i < n && i < (k + 1) * L; i++) {
            int e = c->kind == 1 ? c->constant_symbol : oracle_symbol(c, bits, end, &pos);
            if (e < 0) return false;
            uint16_t v = (uint16_t)(((r[i] & 0x80) << 8) | (unsigned)e << 7 | (r[i] & 0x7F));
            uint8_t *d = dst + i * width;
            if (width == 4) {
                d[0] = low[2 * i];
                d[1] = low[2 * i + 1];
                d += 2;
            }
            d[0] = (uint8_t)v;
            d[1] = (uint8_t)(v >> 8);
        }
        if (pos != end) return false;
    }
    return true;
}

#endif
