/* Writing EXP payloads (FORMAT.md 5): lane length table, MSB-first lane
 * bitstreams, then the raw planes. */
#include "../common/internal.h"

void df11_exp_histogram(const uint8_t *src, uint32_t n, unsigned width, uint64_t freq[256])
{
    /* four sub-histograms hide the store-to-load latency of repeated bins */
    uint32_t h[4][256] = {{0}};
    const uint8_t *p = src + width - 2;
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) {
            const uint8_t *q = p + (size_t)(i + k) * width;
            h[k][(uint8_t)((q[1] << 1) | (q[0] >> 7))]++;
        }
    for (; i < n; i++) {
        const uint8_t *q = p + (size_t)i * width;
        h[0][(uint8_t)((q[1] << 1) | (q[0] >> 7))]++;
    }
    for (int s = 0; s < 256; s++) freq[s] += (uint64_t)h[0][s] + h[1][s] + h[2][s] + h[3][s];
}

size_t df11_exp_encode(const uint8_t *src, uint32_t n, unsigned width, uint32_t lane_symbols,
                       const uint8_t len[256], const uint16_t code[256], uint8_t *out, size_t cap)
{
    uint32_t nl = (uint32_t)(((uint64_t)n + lane_symbols - 1) / lane_symbols);
    size_t planes = (size_t)n * (width - 1);
    /* worst case: every symbol 12 bits; lane bit lengths must fit a u16 */
    if (lane_symbols * DF11_MAX_CODE_LEN > UINT16_MAX ||
        2ull * nl + (uint64_t)n * 12 / 8 + planes + 8 > cap)
        return 0;
    bool constant = false;
    (void)df11_huff_check(len, &constant);
    const uint8_t *hi = src + width - 2; /* the BF16 half of each element */
    uint8_t *dst = out + 2ull * nl;
    uint64_t acc = 0;
    unsigned cnt = 0; /* bits in acc not yet written */
    for (uint32_t k = 0; k < nl; k++) {
        uint32_t bits = 0;
        uint32_t end = (k + 1) * lane_symbols < n ? (k + 1) * lane_symbols : n;
        for (uint32_t i = k * lane_symbols; i < end; i++) {
            const uint8_t *q = hi + (size_t)i * width;
            uint8_t e = (uint8_t)((q[1] << 1) | (q[0] >> 7));
            /* a symbol the code lacks (the input differs from what the
             * histogram saw): refuse, and the chunk is stored otherwise */
            if (len[e] == 0) return 0;
            if (constant) continue;
            acc = acc << len[e] | code[e];
            cnt += len[e];
            bits += len[e];
            if (cnt >= 32) {
                cnt -= 32;
                uint32_t v = (uint32_t)(acc >> cnt);
                dst[0] = (uint8_t)(v >> 24);
                dst[1] = (uint8_t)(v >> 16);
                dst[2] = (uint8_t)(v >> 8);
                dst[3] = (uint8_t)v;
                dst += 4;
            }
        }
        df11_wr16(out + 2 * k, (uint16_t)bits);
    }
    while (cnt >= 8) {
        cnt -= 8;
        *dst++ = (uint8_t)(acc >> cnt);
    }
    if (cnt) *dst++ = (uint8_t)(acc << (8 - cnt));
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *q = hi + (size_t)i * width;
        dst[i] = (uint8_t)((q[1] & 0x80) | (q[0] & 0x7F));
    }
    dst += n;
    if (width == 4)
        for (uint32_t i = 0; i < n; i++) {
            dst[2 * i] = src[(size_t)i * 4];
            dst[2 * i + 1] = src[(size_t)i * 4 + 1];
        }
    return (size_t)(dst - out) + (width == 4 ? 2ull * n : 0);
}

size_t df11_exp_size(const uint32_t freq[256], uint32_t n, unsigned width, uint32_t lane_symbols,
                     const uint8_t len[256])
{
    bool constant = false;
    (void)df11_huff_check(len, &constant);
    uint64_t bits = 0;
    for (int s = 0; s < 256; s++) {
        if (freq[s] && len[s] == 0) return 0; /* as df11_exp_encode: refused */
        bits += (uint64_t)freq[s] * len[s];
    }
    if (constant) bits = 0;
    uint64_t nl = ((uint64_t)n + lane_symbols - 1) / lane_symbols;
    return (size_t)(2 * nl + (bits + 7) / 8 + (uint64_t)n * (width - 1));
}
