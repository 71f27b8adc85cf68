/* EXP_LZ chunks (FORMAT.md 5.4, format 1.3): an F32 chunk whose upper
 * halves are an EXP payload of width 2 (as EXP_HI) and whose lower halves
 * are two byte planes in one zstd frame. Real F32 weights carry a little
 * structure in their low bytes (rows of an embedding widened from a coarser
 * type, a skew of the low mantissa) that EXP, which stores them raw,
 * cannot use and zstd's Huffman stage over a plane of like bytes can. */
#include "reader.h"

#include <stdio.h>
#include <zstd.h>

size_t df11_exp_lz_scratch_size(uint32_t n, uint32_t lane_symbols)
{
    return df11_exp_scratch_size(n, lane_symbols) + 2 * (size_t)n;
}

df11_status df11_exp_lz_decode(const uint8_t *payload, uint32_t payload_len, uint32_t n,
                               uint32_t lane_symbols, const df11_huff_dtable *t, void *dst,
                               uint8_t *scratch, char *why, size_t why_len)
{
    if (payload_len < 4) {
        snprintf(why, why_len, "EXP_LZ payload of %u bytes has no length word", payload_len);
        return DF11_E_CORRUPT_CHUNK;
    }
    uint32_t hi = df11_rd32(payload);
    if (hi > payload_len - 4) {
        snprintf(why, why_len, "EXP_LZ upper halves of %u bytes run past the payload (%u bytes)", hi,
                 payload_len);
        return DF11_E_CORRUPT_CHUNK;
    }
    const uint8_t *z = payload + 4 + hi;
    size_t zlen = payload_len - 4 - (size_t)hi;
    size_t frame = ZSTD_findFrameCompressedSize(z, zlen);
    if (ZSTD_isError(frame) || frame != zlen) {
        snprintf(why, why_len, "EXP_LZ low planes are not exactly one zstd frame");
        return DF11_E_CORRUPT_CHUNK;
    }
    uint8_t *planes = scratch + df11_exp_scratch_size(n, lane_symbols);
    size_t got = df11_zstd_decompress(planes, 2 * (size_t)n, z, zlen);
    if (ZSTD_isError(got) || got != 2 * (size_t)n) {
        snprintf(why, why_len, "EXP_LZ low planes: zstd: %s",
                 ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong decoded size");
        return DF11_E_CORRUPT_CHUNK;
    }
    /* the upper halves into the back half of dst, then widened in place
     * front to back as EXP_HI does: element i's upper half (byte 2n + 2i)
     * is read before anything is written there */
    uint8_t *d = dst;
    df11_status s = df11_exp_decode(payload + 4, hi, n, 2, lane_symbols, t, d + 2 * (size_t)n,
                                    scratch, why, why_len);
    if (s != DF11_OK) return s;
    const uint8_t *p0 = planes, *p1 = planes + n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)df11_rd16(d + 2 * (size_t)n + 2 * (size_t)i) << 16 |
                     (uint32_t)p1[i] << 8 | p0[i];
        df11_wr32(d + 4 * (size_t)i, v);
    }
    return DF11_OK;
}
