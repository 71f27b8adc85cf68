/* SIMD decoder of ANS lane groups (FORMAT.md 9): the eight full lanes of a
 * group sit in the eight 32-bit slots of one ymm register and every table
 * lookup is a gather. One chain of eight is bound by latency (each step is
 * gather -> multiply -> refill -> gather ...), so wherever two groups are
 * at hand (a chunk of 16+ lanes, or two chunks decoded together) their
 * chains run interleaved and overlap.
 *
 * Per element: a 32-bit gather of the lane's next two words (off the
 * chain: it depends on the position only), the exponent step through
 * `eslot` (frequency, slot - cum and context in one slot-indexed entry, so
 * one gather instead of esym then einfo), the refill as a blend, then the
 * mantissa step through `mslot` and its refill, which takes the second
 * word when the first was used. The exponent symbol itself comes from a
 * gather of `esym` that nothing waits on. Measured and dropped (GPT-2,
 * two chains): esym then einfo on the chain (two L1-resident gathers)
 * 0.56 GB/s against 0.69 with eslot; one 64-bit entry holding eslot and
 * the symbol (8 qword gathers instead of two dword ones) 0.67; EVEX
 * gathers with an all-ones k mask the same as the AVX2 form.
 *
 * Bounds: a position check every four elements, as in the scalar decoder,
 * so a lane reads at most 16 bytes past its words (the 32-bit word gather
 * at position end+6 ends 16 bytes past). Built per function with target
 * attributes and picked at run time (df11_ans_simd_level); the scalar path
 * in ans_decode.c stays the reference and the fallback. */
#include "reader.h"

#include <stdlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

static int simd_level = -1; /* -1: not yet decided */

static int hw_level(void)
{
#if HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi2"))
        return 2;
    if (__builtin_cpu_supports("avx2")) return 1;
#endif
    return 0;
}

int df11_ans_simd_level(void)
{
    int l = __atomic_load_n(&simd_level, __ATOMIC_RELAXED);
    if (l >= 0) return l;
    l = hw_level();
    /* DF11_SIMD=0: scalar, 1: AVX2 at most; tests run each and compare */
    const char *env = getenv("DF11_SIMD");
    if (env && *env >= '0' && *env <= '9' && atoi(env) < l) l = atoi(env);
    __atomic_store_n(&simd_level, l, __ATOMIC_RELAXED);
    return l;
}

int df11_ans_simd_force(int level)
{
    int hw = hw_level();
    int l = level < 0 || level > hw ? hw : level;
    __atomic_store_n(&simd_level, l, __ATOMIC_RELAXED);
    return l;
}

#if HAVE_X86

#define LANE_BYTES (2 * (size_t)DF11_ANS_LANE)

/* Four element vectors (u32, values < 2^15) to the eight lanes' outputs:
 * a 4 x 8 transpose, packed to 16 bits, eight 8-byte stores. */
#define STORE4_BODY(out, i, r0, r1, r2, r3)                                                  \
    do {                                                                                     \
        __m256i t0 = _mm256_unpacklo_epi32(r0, r1), t1 = _mm256_unpackhi_epi32(r0, r1);      \
        __m256i t2 = _mm256_unpacklo_epi32(r2, r3), t3 = _mm256_unpackhi_epi32(r2, r3);      \
        __m256i p0 = _mm256_packus_epi32(_mm256_unpacklo_epi64(t0, t2),                      \
                                         _mm256_unpackhi_epi64(t0, t2)); /* l0 l1 | l4 l5 */ \
        __m256i p1 = _mm256_packus_epi32(_mm256_unpacklo_epi64(t1, t3),                      \
                                         _mm256_unpackhi_epi64(t1, t3)); /* l2 l3 | l6 l7 */ \
        uint8_t *o_ = (out) + 2 * (size_t)(i);                                               \
        __m128i a_ = _mm256_castsi256_si128(p0), b_ = _mm256_extracti128_si256(p0, 1);       \
        __m128i c_ = _mm256_castsi256_si128(p1), d_ = _mm256_extracti128_si256(p1, 1);       \
        _mm_storeu_si64(o_, a_);                                                             \
        _mm_storeu_si64(o_ + LANE_BYTES, _mm_unpackhi_epi64(a_, a_));                        \
        _mm_storeu_si64(o_ + 2 * LANE_BYTES, c_);                                            \
        _mm_storeu_si64(o_ + 3 * LANE_BYTES, _mm_unpackhi_epi64(c_, c_));                    \
        _mm_storeu_si64(o_ + 4 * LANE_BYTES, b_);                                            \
        _mm_storeu_si64(o_ + 5 * LANE_BYTES, _mm_unpackhi_epi64(b_, b_));                    \
        _mm_storeu_si64(o_ + 6 * LANE_BYTES, d_);                                            \
        _mm_storeu_si64(o_ + 7 * LANE_BYTES, _mm_unpackhi_epi64(d_, d_));                    \
    } while (0)

/* One group's registers and table pointers. */
typedef struct {
    __m256i x, pos, end;
    const int *eslot, *esym, *mslot, *words;
    uint8_t *out;
} chain;

#define T_AVX2 __attribute__((target("avx2,bmi2")))
#define T_AVX512 __attribute__((target("avx2,bmi2,avx512f,avx512vl,avx512bw,avx512vbmi2")))
#define INL static inline __attribute__((always_inline))

/* ---- AVX2 ---- */

/* One element of the eight lanes; returns e << 7 | m per lane. */
INL T_AVX2 __m256i step_avx2(chain *c)
{
    const __m256i lo16 = _mm256_set1_epi32(0xFFFF);
    __m256i x = c->x, pos = c->pos;
    __m256i w = _mm256_i32gather_epi32(c->words, pos, 2); /* words pos, pos+1 */
    __m256i slot = _mm256_and_si256(x, _mm256_set1_epi32(0x3FFF));
    __m256i ent = _mm256_i32gather_epi32(c->eslot, slot, 4);
    __m256i e = _mm256_and_si256(_mm256_i32gather_epi32(c->esym, slot, 1), _mm256_set1_epi32(0xFF));
    x = _mm256_add_epi32(
        _mm256_mullo_epi32(_mm256_and_si256(ent, _mm256_set1_epi32(0x7FFF)), _mm256_srli_epi32(x, 14)),
        _mm256_and_si256(_mm256_srli_epi32(ent, 15), _mm256_set1_epi32(0x3FFF)));
    __m256i m1 = _mm256_cmpeq_epi32(_mm256_srli_epi32(x, 16), _mm256_setzero_si256());
    x = _mm256_blendv_epi8(x, _mm256_or_si256(_mm256_slli_epi32(x, 16), _mm256_and_si256(w, lo16)), m1);
    w = _mm256_srlv_epi32(w, _mm256_and_si256(m1, _mm256_set1_epi32(16)));
    __m256i idx = _mm256_or_si256(_mm256_and_si256(x, _mm256_set1_epi32(0xFFF)),
                                  _mm256_and_si256(_mm256_srli_epi32(ent, 17), _mm256_set1_epi32(0x7000)));
    __m256i ms = _mm256_i32gather_epi32(c->mslot, idx, 4);
    x = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(ms, 7),
                                                              _mm256_set1_epi32(0x1FFF)),
                                             _mm256_srli_epi32(x, 12)),
                         _mm256_srli_epi32(ms, 20));
    __m256i m2 = _mm256_cmpeq_epi32(_mm256_srli_epi32(x, 16), _mm256_setzero_si256());
    c->x = _mm256_blendv_epi8(x, _mm256_or_si256(_mm256_slli_epi32(x, 16), _mm256_and_si256(w, lo16)), m2);
    c->pos = _mm256_sub_epi32(_mm256_sub_epi32(pos, m1), m2);
    return _mm256_or_si256(_mm256_slli_epi32(e, 7), _mm256_and_si256(ms, _mm256_set1_epi32(0x7F)));
}

INL T_AVX2 bool over_avx2(const chain *c)
{
    return !_mm256_testz_si256(_mm256_cmpgt_epi32(c->pos, c->end), _mm256_cmpgt_epi32(c->pos, c->end));
}

INL T_AVX2 void store4_avx2(uint8_t *out, uint32_t i, __m256i r0, __m256i r1, __m256i r2, __m256i r3)
{
    STORE4_BODY(out, i, r0, r1, r2, r3);
}

/* ---- AVX-512VL on ymm: mask registers make each refill one masked
 * double shift after the compare ---- */

INL T_AVX512 __m256i step_avx512(chain *c)
{
    __m256i x = c->x, pos = c->pos;
    const __m256i low = _mm256_set1_epi32((int)DF11_ANS_LOW), one = _mm256_set1_epi32(1);
    __m256i w = _mm256_i32gather_epi32(c->words, pos, 2);
    __m256i wl = _mm256_slli_epi32(w, 16); /* first word on top */
    __m256i slot = _mm256_and_si256(x, _mm256_set1_epi32(0x3FFF));
    __m256i ent = _mm256_i32gather_epi32(c->eslot, slot, 4);
    __m256i e = _mm256_i32gather_epi32(c->esym, slot, 1);
    x = _mm256_add_epi32(
        _mm256_mullo_epi32(_mm256_and_si256(ent, _mm256_set1_epi32(0x7FFF)), _mm256_srli_epi32(x, 14)),
        _mm256_and_si256(_mm256_srli_epi32(ent, 15), _mm256_set1_epi32(0x3FFF)));
    __mmask8 k1 = _mm256_cmplt_epu32_mask(x, low);
    x = _mm256_mask_shldi_epi32(x, k1, x, wl, 16);
    __m256i wm = _mm256_mask_mov_epi32(wl, k1, w); /* the word the mantissa refill takes, on top */
    /* (x & 0xFFF) | context << 12 */
    __m256i idx = _mm256_ternarylogic_epi32(x, _mm256_set1_epi32(0xFFF),
                                            _mm256_and_si256(_mm256_srli_epi32(ent, 17),
                                                             _mm256_set1_epi32(0x7000)),
                                            0xEA);
    __m256i ms = _mm256_i32gather_epi32(c->mslot, idx, 4);
    x = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(ms, 7),
                                                              _mm256_set1_epi32(0x1FFF)),
                                             _mm256_srli_epi32(x, 12)),
                         _mm256_srli_epi32(ms, 20));
    __mmask8 k2 = _mm256_cmplt_epu32_mask(x, low);
    c->x = _mm256_mask_shldi_epi32(x, k2, x, wm, 16);
    pos = _mm256_mask_add_epi32(pos, k1, pos, one);
    c->pos = _mm256_mask_add_epi32(pos, k2, pos, one);
    /* (e << 7 & 0x7F80) | (ms & 0x7F) */
    return _mm256_ternarylogic_epi32(_mm256_and_si256(_mm256_slli_epi32(e, 7), _mm256_set1_epi32(0x7F80)),
                                     ms, _mm256_set1_epi32(0x7F), 0xF8);
}

INL T_AVX512 bool over_avx512(const chain *c)
{
    return _mm256_cmpgt_epi32_mask(c->pos, c->end) != 0;
}

INL T_AVX512 void store4_avx512(uint8_t *out, uint32_t i, __m256i r0, __m256i r1, __m256i r2, __m256i r3)
{
    STORE4_BODY(out, i, r0, r1, r2, r3);
}

/* The runners, once per instruction set and chain count (the chains are
 * locals so they stay in registers). They run whole blocks of four
 * elements and stop at the first block after which a lane of any chain is
 * past its words; ok[k] says which. Written for up to four chains, built
 * for two: on GPT-2 (Zen 4) two chains decode 0.69 GB/s against 0.45 for
 * one, and three or four no faster (0.66-0.69): past two, the gathers'
 * throughput and the tables' L1 misses bound it, not the chain latency. */
#define RUNN(SFX, T, N)                                                                      \
    static T void run##N##_##SFX(chain *const *pc, uint32_t *done, bool *ok)                 \
    {                                                                                        \
        chain c0 = *pc[0], c1 = *pc[N > 1 ? 1 : 0], c2 = *pc[N > 2 ? 2 : 0],                 \
              c3 = *pc[N > 3 ? 3 : 0];                                                       \
        const __m256i z = _mm256_setzero_si256();                                            \
        uint32_t i = *done;                                                                  \
        bool g0 = true, g1 = true, g2 = true, g3 = true;                                     \
        while (i < DF11_ANS_LANE && g0 && g1 && g2 && g3) {                                  \
            __m256i r[4][4];                                                                 \
            for (int j = 0; j < 4; j++) {                                                    \
                r[0][j] = step_##SFX(&c0);                                                   \
                r[1][j] = N > 1 ? step_##SFX(&c1) : z;                                       \
                r[2][j] = N > 2 ? step_##SFX(&c2) : z;                                       \
                r[3][j] = N > 3 ? step_##SFX(&c3) : z;                                       \
            }                                                                                \
            store4_##SFX(c0.out, i, r[0][0], r[0][1], r[0][2], r[0][3]);                     \
            if (N > 1) store4_##SFX(c1.out, i, r[1][0], r[1][1], r[1][2], r[1][3]);          \
            if (N > 2) store4_##SFX(c2.out, i, r[2][0], r[2][1], r[2][2], r[2][3]);          \
            if (N > 3) store4_##SFX(c3.out, i, r[3][0], r[3][1], r[3][2], r[3][3]);          \
            i += 4;                                                                          \
            g0 = !over_##SFX(&c0);                                                           \
            g1 = N < 2 || !over_##SFX(&c1);                                                  \
            g2 = N < 3 || !over_##SFX(&c2);                                                  \
            g3 = N < 4 || !over_##SFX(&c3);                                                  \
        }                                                                                    \
        *done = i;                                                                           \
        ok[0] = g0, *pc[0] = c0;                                                             \
        if (N > 1) ok[1] = g1, *pc[1] = c1;                                                  \
        if (N > 2) ok[2] = g2, *pc[2] = c2;                                                  \
        if (N > 3) ok[3] = g3, *pc[3] = c3;                                                  \
    }

#define RUNNERS(SFX, T)                                                                      \
    RUNN(SFX, T, 1)                                                                          \
    RUNN(SFX, T, 2)                                                                          \
    static void (*const runs_##SFX[3])(chain *const *, uint32_t *, bool *) = {               \
        NULL, run1_##SFX, run2_##SFX};

RUNNERS(avx2, T_AVX2)
RUNNERS(avx512, T_AVX512)

static T_AVX2 void load(chain *c, const df11_ans_group *g)
{
    c->x = _mm256_loadu_si256((const __m256i *)g->x);
    c->pos = _mm256_loadu_si256((const __m256i *)g->pos);
    c->end = _mm256_loadu_si256((const __m256i *)g->end);
    c->eslot = (const int *)g->t->eslot;
    c->esym = (const int *)(const void *)g->t->esym;
    c->mslot = (const int *)g->t->mslot;
    c->words = (const int *)(const void *)g->base;
    c->out = g->out;
}

static T_AVX2 void save(const chain *c, df11_ans_group *g)
{
    _mm256_storeu_si256((__m256i *)g->x, c->x);
    _mm256_storeu_si256((__m256i *)g->pos, c->pos);
}

/* Chains per run (see RUNN). */
#define MAX_CHAINS 2u

/* Runs up to MAX_CHAINS groups, all at the same element, to their end;
 * the survivors of an overrun go on without the failed ones. */
static T_AVX2 void run_set(int level, df11_ans_group **g, uint32_t n)
{
    while (n > 0) {
        chain c[MAX_CHAINS], *pc[MAX_CHAINS];
        bool ok[MAX_CHAINS];
        for (uint32_t k = 0; k < n; k++) load(&c[k], g[k]), pc[k] = &c[k];
        uint32_t done = g[0]->done;
        (level >= 2 ? runs_avx512 : runs_avx2)[n](pc, &done, ok);
        uint32_t m = 0;
        for (uint32_t k = 0; k < n; k++) {
            save(&c[k], g[k]);
            g[k]->done = done;
            g[k]->bad = !ok[k];
            if (ok[k] && done < DF11_ANS_LANE) g[m++] = g[k];
        }
        n = m;
    }
}

bool df11_ans_simd_groups(df11_ans_group *g, uint32_t count)
{
    int level = df11_ans_simd_level();
    if (level == 0) return false;
    for (uint32_t k = 0; k < count; k += MAX_CHAINS) {
        df11_ans_group *set[MAX_CHAINS];
        uint32_t n = count - k < MAX_CHAINS ? count - k : MAX_CHAINS;
        for (uint32_t j = 0; j < n; j++) set[j] = &g[k + j];
        run_set(level, set, n);
    }
    return true;
}

#else

bool df11_ans_simd_groups(df11_ans_group *g, uint32_t count)
{
    (void)g;
    (void)count;
    return false;
}

#endif
