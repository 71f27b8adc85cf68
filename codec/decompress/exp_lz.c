/* EXP_LZ and ANS_IL_LZ chunks (FORMAT.md 5.4, format 1.3): an F32 chunk
 * whose upper halves are an EXP payload of width 2 (as EXP_HI) or an
 * ANS_IL payload (section 10, the segment's model), and whose lower halves
 * are two byte planes in one zstd frame. Real F32 weights carry a little
 * structure in their low bytes (rows of an embedding widened from a coarser
 * type, a skew of the low mantissa) that EXP, which stores them raw,
 * cannot use and zstd's Huffman stage over a plane of like bytes can. */
#include "reader.h"

#include <stdio.h>
#include <string.h>
#include <zstd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

size_t df11_exp_lz_scratch_size(uint32_t n, uint32_t lane_symbols)
{
    return df11_exp_scratch_size(n, lane_symbols) + 2 * (size_t)n;
}

bool df11_lz_split(const uint8_t *payload, uint32_t payload_len, uint32_t n, uint8_t *planes,
                   uint32_t *hi, char *why, size_t why_len)
{
    if (payload_len < 4) {
        snprintf(why, why_len, "payload of %u bytes has no length word", payload_len);
        return false;
    }
    *hi = df11_rd32(payload);
    if (*hi > payload_len - 4) {
        snprintf(why, why_len, "upper halves of %u bytes run past the payload (%u bytes)", *hi, payload_len);
        return false;
    }
    const uint8_t *z = payload + 4 + *hi;
    size_t zlen = payload_len - 4 - (size_t)*hi;
    size_t frame = ZSTD_findFrameCompressedSize(z, zlen);
    if (ZSTD_isError(frame) || frame != zlen) {
        snprintf(why, why_len, "low planes are not exactly one zstd frame");
        return false;
    }
    size_t got = df11_zstd_decompress(planes, 2 * (size_t)n, z, zlen);
    if (ZSTD_isError(got) || got != 2 * (size_t)n) {
        snprintf(why, why_len, "low planes: zstd: %s", ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong decoded size");
        return false;
    }
    return true;
}

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "widen assumes a little-endian host"
#endif

enum { BLOCK = 64 };

/* BLOCK elements from copies that cannot alias out. GCC at -O2 does not
 * vectorise this loop (its trip count is not a constant), and scalar it
 * took 27% of an ANS_IL_LZ decode; on x86-64 SSE2 (always there) takes
 * 16 elements a step: the two planes' bytes interleaved into 16-bit low
 * halves, then interleaved with the upper halves. */
static void widen_block(uint8_t *restrict out, const uint16_t *restrict hi, const uint8_t *restrict p0,
                        const uint8_t *restrict p1, uint32_t k)
{
    uint32_t i = 0;
#ifdef __SSE2__
    for (; i + 16 <= k; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(p0 + i)), b = _mm_loadu_si128((const __m128i *)(p1 + i));
        __m128i h0 = _mm_loadu_si128((const __m128i *)(hi + i)), h1 = _mm_loadu_si128((const __m128i *)(hi + i + 8));
        __m128i lo0 = _mm_unpacklo_epi8(a, b), lo1 = _mm_unpackhi_epi8(a, b);
        _mm_storeu_si128((__m128i *)(out + 4 * i), _mm_unpacklo_epi16(lo0, h0));
        _mm_storeu_si128((__m128i *)(out + 4 * i + 16), _mm_unpackhi_epi16(lo0, h0));
        _mm_storeu_si128((__m128i *)(out + 4 * i + 32), _mm_unpacklo_epi16(lo1, h1));
        _mm_storeu_si128((__m128i *)(out + 4 * i + 48), _mm_unpackhi_epi16(lo1, h1));
    }
#endif
    uint32_t v[BLOCK];
    for (uint32_t j = i; j < k; j++) v[j - i] = (uint32_t)hi[j] << 16 | (uint32_t)p1[j] << 8 | p0[j];
    memcpy(out + 4 * (size_t)i, v, 4 * (size_t)(k - i));
}

/* The upper halves sit in the back half of dst: widened in place front to
 * back with the planes, a block at a time. A block's upper halves (bytes
 * 2n + 2i on) are copied out before its 4 * BLOCK bytes are written at 4i,
 * which end before the next block's upper halves begin while one
 * follows (4(i + BLOCK) <= 2n + 2(i + BLOCK) whenever i + BLOCK <= n). */
void df11_lz_widen(uint8_t *d, uint32_t n, const uint8_t *planes)
{
    uint16_t hi[BLOCK];
    for (uint32_t i = 0; i < n; i += BLOCK) {
        uint32_t k = n - i < BLOCK ? n - i : BLOCK;
        memcpy(hi, d + 2 * (size_t)n + 2 * (size_t)i, 2 * (size_t)k);
        widen_block(d + 4 * (size_t)i, hi, planes + i, planes + n + i, k);
    }
}

df11_status df11_exp_lz_decode(const uint8_t *payload, uint32_t payload_len, uint32_t n,
                               uint32_t lane_symbols, const df11_huff_dtable *t, void *dst,
                               uint8_t *scratch, char *why, size_t why_len)
{
    uint32_t hi;
    uint8_t *planes = scratch + df11_exp_scratch_size(n, lane_symbols);
    if (!df11_lz_split(payload, payload_len, n, planes, &hi, why, why_len)) return DF11_E_CORRUPT_CHUNK;
    uint8_t *d = dst;
    df11_status s = df11_exp_decode(payload + 4, hi, n, 2, lane_symbols, t, d + 2 * (size_t)n,
                                    scratch, why, why_len);
    if (s != DF11_OK) return s;
    df11_lz_widen(d, n, planes);
    return DF11_OK;
}

df11_status df11_ans_il_lz_decode(const df11_ans_il_dtable *t, const uint8_t *payload,
                                  uint32_t payload_len, uint32_t n, void *dst, uint8_t *planes,
                                  char *why, size_t why_len)
{
    uint32_t hi;
    if (!df11_lz_split(payload, payload_len, n, planes, &hi, why, why_len)) return DF11_E_CORRUPT_CHUNK;
    uint8_t *d = dst;
    df11_status s = df11_ans_il_decode(t, payload + 4, hi, n, d + 2 * (size_t)n, why, why_len);
    if (s != DF11_OK) return s;
    df11_lz_widen(d, n, planes);
    return DF11_OK;
}
