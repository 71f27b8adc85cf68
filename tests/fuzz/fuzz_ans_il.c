/*
 * fuzz_ans_il: the ANS_IL chunk decoders (codec/decompress/ans_il.c) at
 * every SIMD level the CPU has, differentially against the reference
 * df11_ans_il_decode_ref (codec/common/ans.h): same verdict on every
 * payload, same bytes when it is ok (and when the stream is too long to
 * run out, so both decode every element); and two copies of it through
 * df11_ans_il_decode_many agree too.
 *
 * Layout: d[0] flags (bits 0-1: 0 raw payload under tables from the
 * counts, 1 round trip of element bytes through ans_il_util.h's encoder
 * with one byte then changed, 2 raw payload under arbitrary table entries
 * drawn from d[4..11]; bit 2: n + 131072 (32 lanes); bit 3: n + 393216
 * (64 lanes); bit 4: the layout of files with flag IL_SIGNS, FORMAT.md
 * 10.1, lane states carrying signs), d[1..2] n (mod 65536), d[3] the changed byte's value,
 * d[4..259] exponent counts, d[260..387] mantissa counts (8 contexts x
 * 16 groups of 8), d[388] the mode exponent (contexts are the distance to
 * it, capped at 7), then the payload or the element bytes (whose last 4
 * bytes place the change).
 */
#include "../c/ans_il_util.h"

#include <stdio.h>

#define FZ_HEAD 389

static void fz_require(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_ans_il: invariant broken: %s\n", what);
        abort();
    }
}

static uint64_t fz_mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Every level against the reference on payload p. */
static void fz_compare(const uint8_t *p, size_t len, uint32_t n, const df11_ans_il_dtable *t)
{
    static int levels = -1;
    if (levels < 0) levels = df11_ans_simd_force(-1);
    uint8_t *ref = malloc(2 * (size_t)n + 1), *got = malloc(2 * (size_t)n + 1);
    fz_require(ref && got, "memory");
    int want = df11_ans_il_decode_ref(p, len, n, t->eslot, t->mslot, t->ctx, t->signs, ref);
    uint32_t nl = df11_ans_il_lanes(n);
    uint64_t head = 4ull * nl, sign = df11_ans_il_plane_bytes(n, df11_ans_il_carried(n, nl, t->signs));
    /* (an odd stream is refused before any element is written: nothing
     * to compare then) */
    bool full = len >= head + sign && (len - head - sign) % 2 == 0 && (len - head - sign) / 2 >= 2 * (uint64_t)n;
    for (uint32_t k = 0; full && k < nl; k++) full = df11_rd32(p + 4 * k) >= DF11_ANS_LOW;
    for (int lv = 0; lv <= levels; lv++) {
        char why[160];
        got[2 * (size_t)n] = 0xEE;
        int bad = df11_ans_il_decode_level(lv, t, p, len, n, got, why, sizeof why);
        fz_require(bad == want, "a level's verdict differs from the reference's");
        fz_require(!(!bad || full) || memcmp(got, ref, 2 * (size_t)n) == 0,
                   "a level's bytes differ from the reference's");
        fz_require(got[2 * (size_t)n] == 0xEE, "a level wrote past the output");
        /* two copies through df11_ans_il_decode_many (interleaved when
         * they have 16 lanes): the verdict names the first */
        if (len > UINT32_MAX) continue;
        uint8_t *got2 = malloc(2 * (size_t)n);
        fz_require(got2 != NULL, "memory");
        df11_ans_il_job jobs[2] = { { t, p, (uint32_t)len, n, got }, { t, p, (uint32_t)len, n, got2 } };
        uint32_t which = 7;
        bad = df11_ans_il_decode_many_level(lv, jobs, 2, &which, why, sizeof why);
        fz_require(bad == want && (!bad || which == 0),
                   "df11_ans_il_decode_many's verdict differs from the reference's");
        fz_require(bad || (memcmp(got, ref, 2 * (size_t)n) == 0 && memcmp(got2, ref, 2 * (size_t)n) == 0),
                   "df11_ans_il_decode_many's bytes differ from the reference's");
        free(got2);
    }
    free(ref);
    free(got);
}

int fuzz_ans_il(const uint8_t *d, size_t size)
{
    if (size < FZ_HEAD) return 0;
    uint32_t n = (uint32_t)(d[1] | d[2] << 8);
    if (d[0] & 4) n += 131072;
    if (d[0] & 8) n += 393216;
    if (n == 0) return 0;
    static df11_ans_il_dtable t;
    static il_model m;
    int mode = d[0] & 3;
    t.signs = (d[0] & 16) != 0;
    if (mode == 2) {
        uint64_t s;
        memcpy(&s, d + 4, 8);
        for (int k = 0; k < 4096; k++) t.eslot[k] = (uint32_t)fz_mix(&s);
        for (int k = 0; k < 8 * 4096; k++) t.mslot[k] = (uint32_t)fz_mix(&s);
        for (int k = 0; k < 256; k++) t.ctx[k] = (uint8_t)fz_mix(&s);
    } else {
        uint64_t ec[256], mc[128];
        for (int s = 0; s < 256; s++) ec[s] = d[4 + s];
        il_quantize(ec, 256, m.ef);
        for (int c = 0; c < 8; c++) {
            for (int s = 0; s < 128; s++) mc[s] = d[260 + 16 * c + s / 8];
            il_quantize(mc, 128, m.mf[c]);
        }
        for (int e = 0; e < 256; e++) {
            int dist = e > d[388] ? e - d[388] : d[388] - e;
            m.ctx[e] = (uint8_t)(dist > 7 ? 7 : dist);
        }
        il_model_finish(&m, &t);
        fz_require(m.ec[256] == 4096, "the exponent table sums to 4096");
        for (int s = 0; s < 256; s++) fz_require(m.ef[s] < 4096, "frequencies stay below 4096");
        for (int c = 0; c < 8; c++) fz_require(m.mc[c][128] == 4096, "mantissa tables sum to 4096");
    }
    const uint8_t *rest = d + FZ_HEAD;
    size_t rlen = size - FZ_HEAD;
    if (mode != 1) {
        fz_compare(rest, rlen, n, &t);
        return 0;
    }
    if (rlen < 5) return 0;
    /* elements from the bytes, each exponent one the table has */
    uint8_t have[256];
    unsigned present = 0;
    for (int s = 0; s < 256; s++)
        if (m.ef[s]) have[present++] = (uint8_t)s;
    uint16_t *v = malloc(2 * (size_t)n);
    size_t cap = 4 * 64 + 4 * (size_t)n + n / 8 + 64;
    uint8_t *p = malloc(cap);
    fz_require(v && p, "memory");
    size_t el = rlen - 4;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t a = rest[(2 * (size_t)i) % el], c = rest[(2 * (size_t)i + 1) % el];
        uint32_t e = have[(a ^ i) % present], ctx = m.ctx[e], s = c & 0x7F;
        while (!m.mf[ctx][s]) s = (s + 1) & 0x7F;
        v[i] = (uint16_t)((c & 0x80) << 8 | e << 7 | s);
    }
    size_t len = il_encode(v, n, &m, t.signs, p, cap);
    fz_require(len > 0, "the test encoder takes every element the tables have");
    uint8_t *out = malloc(2 * (size_t)n);
    char why[160];
    fz_require(df11_ans_il_decode_level(0, &t, p, len, n, out, why, sizeof why) == 0 &&
                   memcmp(out, v, 2 * (size_t)n) == 0,
               "round trip");
    free(out);
    uint32_t at = df11_rd32(rest + el);
    if (d[3]) p[at % len] ^= d[3];
    fz_compare(p, len, n, &t);
    free(v);
    free(p);
    return 0;
}

#ifndef DF11_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_ans_il(d, n); }
#endif
