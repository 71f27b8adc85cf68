/* Putting decoded exponents back into BF16 (and the top half of F32)
 * elements, FORMAT.md 5: lo byte = e<<7 | r&0x7F, hi byte = r&0x80 | e>>1,
 * after the low 16 bits for F32. gcc -O2 does not vectorise the
 * byte-interleaving scalar loop, which then dominated the profile, so x86-64
 * gets SSE2 (16 elements a step, every x86-64) and AVX2 (32 a step, chosen
 * at run time). */
#include "reader.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the merge assumes a little-endian host"
#endif

static void merge_scalar(uint8_t *dst, const uint8_t *e, const uint8_t *r, const uint8_t *low,
                         uint32_t i, uint32_t n, unsigned width)
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

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* Elements i.. while 16 remain; returns where it stopped. */
static uint32_t merge_sse2(uint8_t *dst, const uint8_t *e, const uint8_t *r, const uint8_t *low,
                           uint32_t i, uint32_t n, unsigned width)
{
    const __m128i one = _mm_set1_epi8(1), m7f = _mm_set1_epi8(0x7F), m80 = _mm_set1_epi8((char)0x80);
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
    return i;
}

/* BF16 only (F32 tensors are rare enough for SSE2). The byte unpacks work
 * within 128-bit halves, so the two results are re-paired across halves
 * before the stores to keep element order. */
__attribute__((target("avx2"))) static uint32_t merge_bf16_avx2(uint8_t *dst, const uint8_t *e,
                                                                 const uint8_t *r, uint32_t i,
                                                                 uint32_t n)
{
    const __m256i one = _mm256_set1_epi8(1), m7f = _mm256_set1_epi8(0x7F),
                  m80 = _mm256_set1_epi8((char)0x80);
    for (; i + 32 <= n; i += 32) {
        __m256i ev = _mm256_loadu_si256((const __m256i *)(e + i));
        __m256i rv = _mm256_loadu_si256((const __m256i *)(r + i));
        __m256i lo = _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(ev, one), 7),
                                     _mm256_and_si256(rv, m7f));
        __m256i hi = _mm256_or_si256(_mm256_and_si256(rv, m80),
                                     _mm256_and_si256(_mm256_srli_epi16(ev, 1), m7f));
        __m256i w0 = _mm256_unpacklo_epi8(lo, hi), w1 = _mm256_unpackhi_epi8(lo, hi);
        _mm256_storeu_si256((__m256i *)(dst + 2 * (size_t)i), _mm256_permute2x128_si256(w0, w1, 0x20));
        _mm256_storeu_si256((__m256i *)(dst + 2 * (size_t)i + 32), _mm256_permute2x128_si256(w0, w1, 0x31));
    }
    return i;
}

void df11_exp_merge(uint8_t *dst, const uint8_t *e, const uint8_t *r, const uint8_t *low,
                    uint32_t n, unsigned width)
{
    uint32_t i = 0;
    if (width == 2 && __builtin_cpu_supports("avx2")) i = merge_bf16_avx2(dst, e, r, i, n);
    i = merge_sse2(dst, e, r, low, i, n, width);
    merge_scalar(dst, e, r, low, i, n, width);
}
#else
void df11_exp_merge(uint8_t *dst, const uint8_t *e, const uint8_t *r, const uint8_t *low,
                    uint32_t n, unsigned width)
{
    merge_scalar(dst, e, r, low, 0, n, width);
}
#endif
