/*
 * ans_il_decode: the ANS_IL chunk decoders (codec/decompress/ans_il.c:
 * scalar, AVX2, AVX-512) against the normative reference
 * df11_ans_il_decode_ref (codec/common/ans.h). On every input each
 * available level must give the reference's verdict, and its bytes
 * whenever the verdict is ok (and whenever both decode every element:
 * payloads whose stream cannot run out).
 *
 * Payloads come from ans_il_util.h's independent encoder: GPT-2 chunks
 * (../shared/models/gpt2-small-partial.bf16.safetensors; SKIP when it is
 * absent) and synthetic tables (skewed, a symbol with 4095 of 4096 slots,
 * flat, exponents >= 128 only, an F16-like spread across 128) at n on
 * every lane boundary (1, 16383, 16384, 16385, 131072, 131073, 393217,
 * 2^19, n not a multiple of nl), then damaged at random (bytes flipped,
 * cut, appended, start states 2^16 - 1, 2^16, 2^32 - 1). Arbitrary
 * decode-table entries (a one-symbol table's freq 4096 reads as 0) and
 * random payloads go through every level too. A guard-page run places
 * payload (with no slack at all), tables and output against PROT_NONE
 * pages (ASan does not see gathers): any read past the payload is a
 * SIGSEGV, reported as a FAIL. Finally the fuzz corpus of
 * tests/fuzz/fuzz_ans_il.c is replayed.
 *
 * ans_il_decode -b [file]: decode throughput of each level on GPT-2
 * chunks of 2^19 elements (GB/s of output), no tests.
 */
#include "codec_util.h"
#include "ans_il_util.h"

#include <xxhash.h>
#include <zstd.h>

#define DF11_REPLAY
#include "../fuzz/fuzz_ans_il.c"
#include "fuzz_replay.h"

static int max_level;

#include "guard_pages.h"

/* ---- comparison with the reference ---- */

/* Decodes p at every level and with the reference; false (with a FAIL
 * line) on any disagreement. full: the stream cannot run out, so the
 * bytes must agree even when the verdict is bad. */
static bool agree(const char *name, const uint8_t *p, size_t len, uint32_t n,
                  const df11_ans_il_dtable *t, bool full, int *verdict)
{
    size_t bytes = 2 * (size_t)n + 1;
    uint8_t *ref = malloc(bytes), *got = malloc(bytes);
    memset(ref, 0xEE, bytes);
    int want = df11_ans_il_decode_ref(p, len, n, t->eslot, t->mslot, t->ctx, t->signs, ref);
    if (verdict) *verdict = want;
    bool ok = true;
    for (int lv = 0; lv <= max_level && ok; lv++) {
        char why[160] = "";
        memset(got, 0xEE, bytes);
        int bad = df11_ans_il_decode_level(lv, t, p, len, n, got, why, sizeof why);
        if (bad != want) {
            tu_result(false, name, "level %d says %s, the reference %s (n %u, len %zu: %s)", lv,
                      bad ? "bad" : "ok", want ? "bad" : "ok", n, len, why);
            ok = false;
        } else if ((!want || full) && memcmp(got, ref, 2 * (size_t)n) != 0) {
            size_t i = 0;
            while (got[i] == ref[i]) i++;
            tu_result(false, name, "level %d: bytes differ from the reference at element %zu of %u", lv,
                      i / 2, n);
            ok = false;
        } else if (got[2 * (size_t)n] != 0xEE) {
            tu_result(false, name, "level %d wrote past element %u", lv, n);
            ok = false;
        } else if (bad && !why[0]) {
            tu_result(false, name, "level %d: a bad payload without a reason", lv);
            ok = false;
        }
    }
    free(ref);
    free(got);
    return ok;
}

/* The same, with payload (exactly len bytes), table and output against
 * guard pages, after them (front) or before. */
static bool agree_guarded(const char *name, const uint8_t *p, size_t len, uint32_t n,
                          const df11_ans_il_dtable *t)
{
    bool ok = true;
    for (int front = 0; front < 2 && ok; front++) {
        region rp, rt, rd;
        uint8_t *gp = guarded(&rp, len, front);
        memcpy(gp, p, len);
        df11_ans_il_dtable *gt = (df11_ans_il_dtable *)(void *)guarded(&rt, sizeof *gt, front);
        memcpy(gt, t, sizeof *gt);
        uint8_t *gd = guarded(&rd, 2 * (size_t)n, front);
        int want = df11_ans_il_decode_ref(p, len, n, t->eslot, t->mslot, t->ctx, t->signs, gd);
        uint8_t *ref = malloc(2 * (size_t)n + 1);
        memcpy(ref, gd, 2 * (size_t)n);
        for (int lv = 0; lv <= max_level && ok; lv++) {
            snprintf(current, sizeof current, "%s (level %d, guard %s)", name, lv, front ? "before" : "after");
            char why[160];
            int bad = df11_ans_il_decode_level(lv, gt, gp, len, n, gd, why, sizeof why);
            if (bad != want || (!bad && memcmp(gd, ref, 2 * (size_t)n))) {
                tu_result(false, current, "verdict %d, reference %d, or bytes differ", bad, want);
                ok = false;
            }
        }
        snprintf(current, sizeof current, "ans_il_decode");
        free(ref);
        unguard(&rp), unguard(&rt), unguard(&rd);
    }
    return ok;
}

/* ---- synthetic models ---- */

enum { K_SKEW, K_NEAR_ONE, K_FLAT, K_HIGH, K_F16, K_KINDS };
static const char *kind_name[K_KINDS] = { "skewed", "near_one", "flat", "high_e", "f16_like" };

static void counts_peak(tu_rng *g, uint64_t *cnt, int ns, int lo, int hi, int center, double fall)
{
    memset(cnt, 0, (size_t)ns * sizeof *cnt);
    for (int s = lo; s <= hi; s++) {
        int d = s > center ? s - center : center - s;
        double w = 1e6 * pow(fall, d) * (0.5 + tu_unit(g));
        cnt[s] = (uint64_t)w + (tu_below(g, 4) == 0);
    }
}

static void make_model(tu_rng *g, int kind, il_model *m)
{
    uint64_t ec[256], mc[128];
    switch (kind) {
    case K_SKEW: counts_peak(g, ec, 256, 90, 140, 118 + (int)tu_below(g, 8), 0.6); break;
    case K_NEAR_ONE:
        memset(ec, 0, sizeof ec);
        ec[tu_below(g, 256)] = 1;
        break;
    case K_FLAT: for (int s = 0; s < 256; s++) ec[s] = 1; break;
    case K_HIGH: counts_peak(g, ec, 256, 128, 255, 128 + (int)tu_below(g, 128), 0.8); break;
    default: counts_peak(g, ec, 256, 60, 200, 120 + (int)tu_below(g, 16), 0.93); break;
    }
    il_quantize(ec, 256, m->ef);
    for (int e = 0; e < 256; e++) m->ctx[e] = (uint8_t)(kind == K_SKEW || kind == K_HIGH ? tu_below(g, 8) : (uint64_t)(e * 7) % 8);
    for (int c = 0; c < 8; c++) {
        if (kind == K_NEAR_ONE || (kind == K_SKEW && c == 3)) {
            memset(mc, 0, sizeof mc);
            mc[tu_below(g, 128)] = 1;
        } else if (kind == K_FLAT) {
            for (int s = 0; s < 128; s++) mc[s] = 1;
        } else {
            counts_peak(g, mc, 128, 0, 127, (int)tu_below(g, 128), 0.97);
        }
        il_quantize(mc, 128, m->mf[c]);
    }
}

/* n elements drawn from m's own distribution, random signs. */
static void draw(tu_rng *g, const il_model *m, uint16_t *v, uint32_t n)
{
    static uint8_t esym[4096], msym[8][4096];
    for (int s = 0; s < 256; s++)
        for (uint32_t k = m->ec[s]; k < m->ec[s + 1]; k++) esym[k] = (uint8_t)s;
    for (int c = 0; c < 8; c++)
        for (int s = 0; s < 128; s++)
            for (uint32_t k = m->mc[c][s]; k < m->mc[c][s + 1]; k++) msym[c][k] = (uint8_t)s;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t r = tu_next(g);
        uint32_t e = esym[r & 4095], s = msym[m->ctx[e] & 7][r >> 12 & 4095];
        v[i] = (uint16_t)((r >> 24 & 1) << 15 | e << 7 | s);
    }
}

/* ---- tests ---- */

static df11_ans_il_dtable tab;

/* Encode, then every level decodes to the elements; then damaged copies. */
static bool roundtrip(tu_rng *g, const char *name, const uint16_t *v, uint32_t n, const il_model *m,
                      int damage, bool guard)
{
    size_t cap = 4 * (size_t)DF11_ANS_IL_MAX_LANES + 4 * (size_t)n + n / 8 + 64;
    uint8_t *p = malloc(cap);
    size_t len = il_encode(v, n, m, tab.signs, p, cap);
    bool ok = len > 0;
    if (!ok) tu_result(false, name, "the test encoder failed (n %u)", n);
    int verdict = 1;
    ok = ok && agree(name, p, len, n, &tab, false, &verdict);
    if (ok && verdict) {
        tu_result(false, name, "the reference rejects the test encoder's payload (n %u)", n);
        ok = false;
    }
    if (ok) {
        uint8_t *d = malloc(2 * (size_t)n);
        char why[160];
        for (int lv = 0; lv <= max_level && ok; lv++)
            if (df11_ans_il_decode_level(lv, &tab, p, len, n, d, why, sizeof why) ||
                memcmp(d, v, 2 * (size_t)n)) {
                tu_result(false, name, "level %d does not give the elements back (n %u)", lv, n);
                ok = false;
            }
        free(d);
    }
    if (ok && guard) ok = agree_guarded(name, p, len, n, &tab);
    uint32_t nl = df11_ans_il_lanes(n);
    size_t plane = df11_ans_il_plane_bytes(n, df11_ans_il_carried(n, nl, tab.signs));
    uint8_t *q = malloc(cap + 64);
    for (int k = 0; k < damage && ok; k++) {
        size_t ql = len;
        memcpy(q, p, len);
        switch (tu_below(g, 9)) {
        case 0: /* a byte anywhere */
            q[tu_below(g, len)] ^= (uint8_t)(1 + tu_below(g, 255));
            break;
        case 1: { /* a byte of the stream's last 64 */
            size_t sl = len - plane - 4 * (size_t)nl;
            if (sl) q[4 * (size_t)nl + sl - 1 - tu_below(g, sl < 64 ? sl : 64)] ^= 0x5A;
            break;
        }
        case 2: /* cut */
            ql = len - 1 - tu_below(g, len < 40 ? len : 40);
            break;
        case 3: /* appended */
            ql = len + 1 + tu_below(g, 40);
            for (size_t j = len; j < ql; j++) q[j] = (uint8_t)tu_next(g);
            break;
        case 4: { /* a start state */
            static const uint32_t st[] = { 0xFFFFu, 0x10000u, 0xFFFFFFFFu, 0x10001u };
            memcpy(q + 4 * tu_below(g, nl), &st[tu_below(g, 4)], 4);
            break;
        }
        case 5: /* two words of the stream swapped */
            if (len - plane - 4 * nl >= 4) {
                size_t a = 4 * nl + 2 * tu_below(g, (len - plane - 4 * nl) / 2);
                uint8_t t0 = q[a];
                q[a] = q[4 * nl], q[4 * nl] = t0;
            }
            break;
        case 6: /* a sign byte (stays ok, other bytes) */
            if (plane) q[len - 1 - tu_below(g, plane)] ^= 0xFF;
            break;
        case 7: /* a carried sign in a start state: past the lane's held
                 * bits the payload is bad, within them only an element
                 * changes */
            q[4 * tu_below(g, nl) + 2] ^= (uint8_t)(1u << tu_below(g, 2));
            break;
        default: /* several bytes */
            for (int j = 0; j < 8; j++) q[tu_below(g, len)] = (uint8_t)tu_next(g);
            break;
        }
        char nm[200];
        snprintf(nm, sizeof nm, "%s.damaged", name);
        ok = agree(nm, q, ql, n, &tab, false, NULL);
        if (ok && guard && k < 4) ok = agree_guarded(nm, q, ql, n, &tab);
    }
    free(q);
    free(p);
    return ok;
}

static void test_synthetic(tu_rng *g)
{
    static const uint32_t ns[] = { 1, 2, 15, 16, 17, 1000, 16383, 16384, 16385, 16400, 131071, 131072,
                                   131073, 262145, 393216, 393217, 524288, 600001 };
    uint16_t *v = malloc(2 * 600001);
    for (int kind = 0; kind < K_KINDS; kind++) {
        bool ok = true;
        for (size_t j = 0; j < sizeof ns / sizeof *ns && ok; j++) {
            il_model m;
            make_model(g, kind, &m);
            il_model_finish(&m, &tab);
            tab.signs = (j + (size_t)kind) % 2; /* both layouts (FORMAT.md 10, 10.1) at every size */
            draw(g, &m, v, ns[j]);
            char name[100];
            snprintf(name, sizeof name, "ans_il_decode.synthetic.%s.n%u", kind_name[kind], ns[j]);
            bool guard = ns[j] <= 131073 || j == sizeof ns / sizeof *ns - 1;
            ok = roundtrip(g, name, v, ns[j], &m, ns[j] > 200000 ? 12 : 40, guard);
        }
        char name[100];
        snprintf(name, sizeof name, "ans_il_decode.synthetic.%s", kind_name[kind]);
        if (ok) tu_result(true, name, NULL);
    }
    free(v);
}

/* Arbitrary table entries and random payloads: long streams (never run
 * out, so the bytes must agree too) and short ones. */
static void test_arbitrary(tu_rng *g)
{
    bool ok = true;
    static const uint32_t ns[] = { 5, 16384, 16397, 131073, 400000 };
    uint8_t *p = malloc(4 * 64 + 4 * 400000 + 400000 / 8 + 1024);
    for (int it = 0; it < 40 && ok; it++) {
        df11_ans_il_dtable *t = &tab;
        int mode = it % 4;
        t->signs = it / 4 % 2;
        for (int k = 0; k < 4096; k++) t->eslot[k] = (uint32_t)tu_next(g);
        for (int k = 0; k < 8 * 4096; k++) t->mslot[k] = (uint32_t)tu_next(g);
        for (int k = 0; k < 256; k++) t->ctx[k] = (uint8_t)tu_next(g);
        if (mode == 1) { /* a one-symbol table as the builder makes it (freq 4096 reads as 0) */
            uint16_t ef[256] = {0}, mfz[128] = {0};
            ef[tu_below(g, 256)] = 4096;
            mfz[tu_below(g, 128)] = 4096;
            const uint16_t *mf[8] = { mfz, mfz, mfz, mfz, mfz, mfz, mfz, mfz };
            df11_ans_il_build(ef, mf, t->eslot, t->mslot);
        }
        uint32_t n = ns[tu_below(g, 5)], nl = df11_ans_il_lanes(n);
        bool full = mode != 3;
        uint64_t nw = full ? 2 * (uint64_t)n + tu_below(g, 100) : tu_below(g, 2 * (uint64_t)n + 100);
        size_t len = 4 * (size_t)nl + 2 * nw + df11_ans_il_plane_bytes(n, df11_ans_il_carried(n, nl, t->signs));
        for (size_t j = 0; j < len; j++) p[j] = (uint8_t)tu_next(g);
        for (uint32_t k = 0; k < nl; k++) p[4 * k + 3] |= mode == 2 ? 0 : 1; /* states >= 2^24 */
        if (mode == 2)
            for (uint32_t k = 0; k < nl; k++) {
                uint32_t x = DF11_ANS_LOW;
                memcpy(p + 4 * k, &x, 4);
            }
        char name[100];
        snprintf(name, sizeof name, "ans_il_decode.arbitrary.%d", it);
        ok = agree(name, p, len, n, t, full, NULL);
        if (ok && it < 8) ok = agree_guarded(name, p, len, n, t);
    }
    free(p);
    if (ok) tu_result(true, "ans_il_decode.arbitrary_tables", NULL);
}

/* GPT-2's BF16 data in chunks of 2^19 elements (1 MiB), each with its own
 * model; NULL when the file is absent. */
static uint16_t *gpt2(const char *path, size_t *count)
{
    size_t size;
    uint8_t *b = tu_read_file(path, &size);
    if (!b) return NULL;
    uint64_t hl;
    memcpy(&hl, b, 8);
    size_t off = 8 + hl, n = (size - off) / 2;
    uint16_t *v = malloc(2 * n);
    memcpy(v, b + off, 2 * n);
    free(b);
    *count = n;
    return v;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: the machine is shared */
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

#define CHUNK (1u << 19)

static int bench(const char *path, int reps)
{
    size_t n;
    uint16_t *v = gpt2(path, &n);
    if (!v) {
        printf("SKIP ans_il_decode.bench: %s not found\n", path);
        return 0;
    }
    size_t chunks = n / CHUNK, cap = 4 * 64 + 4 * (size_t)CHUNK + CHUNK / 8 + 64;
    uint8_t **pl = malloc(chunks * sizeof *pl);
    size_t *len = malloc(chunks * sizeof *len), total = 0;
    il_model *ms = malloc(chunks * sizeof *ms);
    for (size_t c = 0; c < chunks; c++) {
        il_model_of(v + c * CHUNK, CHUNK, &ms[c]);
        il_model_finish(&ms[c], NULL);
        pl[c] = malloc(cap);
        len[c] = il_encode(v + c * CHUNK, CHUNK, &ms[c], true, pl[c], cap);
        total += len[c];
    }
    printf("# %zu chunks of %u elements, payload %.3f%% of the BF16 bytes\n", chunks, CHUNK,
           100.0 * (double)total / (double)(chunks * CHUNK * 2));
    uint8_t *d = malloc(2 * CHUNK);
    df11_ans_il_dtable *t = aligned_alloc(64, sizeof *t);
    t->signs = true;
    for (int lv = -1; lv <= max_level; lv++) {
        double el = 0;
        int bad = 0;
        for (size_t c = 0; c < chunks; c++) {
            il_model_finish(&ms[c], t);
            char why[160];
            double t0 = now();
            for (int r = 0; r < reps; r++)
                bad |= lv < 0 ? df11_ans_il_decode_ref(pl[c], len[c], CHUNK, t->eslot, t->mslot, t->ctx, true, (uint8_t *)d)
                              : df11_ans_il_decode_level(lv, t, pl[c], len[c], CHUNK, d, why, sizeof why);
            el += now() - t0;
            bad |= memcmp(d, v + c * CHUNK, 2 * CHUNK) != 0;
        }
        printf("%s: %.3f GB/s%s\n", lv < 0 ? "reference" : lv == 0 ? "scalar" : lv == 1 ? "AVX2" : "AVX-512",
               (double)chunks * CHUNK * 2 * reps / el / 1e9, bad ? " (WRONG)" : "");
    }
    /* the default 256 KiB chunks (16 lanes), one model for the file, in
     * batches of b through df11_ans_il_decode_many */
    const uint32_t S = CHUNK / 4;
    size_t ns = chunks * 4;
    il_model *all = malloc(sizeof *all);
    il_model_of(v, chunks * CHUNK, all);
    il_model_finish(all, t);
    uint8_t **sp = malloc(ns * sizeof *sp), *d4 = malloc(2 * (size_t)S * ns);
    size_t *sl = malloc(ns * sizeof *sl);
    for (size_t q = 0; q < ns; q++) {
        sp[q] = malloc(cap);
        sl[q] = il_encode(v + q * S, S, all, true, sp[q], cap);
    }
    for (int lv = 0; lv <= max_level; lv++)
        for (uint32_t batch = 1; batch <= DF11_ANS_IL_BATCH; batch++) {
            int bad = 0;
            char why[160];
            uint32_t b;
            double t0 = now();
            for (int r = 0; r < reps; r++)
                for (size_t q = 0, nb; q < ns; q += nb) {
                    df11_ans_il_job jobs[DF11_ANS_IL_BATCH];
                    nb = ns - q < batch ? ns - q : batch;
                    for (size_t k = 0; k < nb; k++)
                        jobs[k] = (df11_ans_il_job){ t, sp[q + k], (uint32_t)sl[q + k], S, d4 + 2 * (q + k) * S };
                    bad |= df11_ans_il_decode_many_level(lv, jobs, (uint32_t)nb, &b, why, sizeof why);
                }
            double el = now() - t0;
            bad |= memcmp(d4, v, 2 * (size_t)S * ns) != 0;
            printf("%s, 2^17-element chunks %u at a time: %.3f GB/s%s\n",
                   lv == 0 ? "scalar" : lv == 1 ? "AVX2" : "AVX-512", batch, (double)ns * S * 2 * reps / el / 1e9,
                   bad ? " (WRONG)" : "");
        }
    return 0;
}

static void test_gpt2(tu_rng *g, const char *path)
{
    size_t n;
    uint16_t *v = gpt2(path, &n);
    if (!v) {
        printf("SKIP ans_il_decode.gpt2: %s not found\n", path);
        return;
    }
    bool ok = true;
    size_t chunks = n / CHUNK;
    /* whole chunks, and the tail pieces a tensor's last chunk may be */
    for (size_t c = 0; c < chunks && ok; c += chunks / 6 + 1) {
        static const uint32_t sizes[] = { CHUNK, 294912, 131073, 16385, 16383 };
        for (int s = 0; s < 5 && ok; s++) {
            il_model m;
            il_model_of(v + c * CHUNK, sizes[s], &m);
            il_model_finish(&m, &tab);
            tab.signs = (c + (size_t)s) % 2;
            char name[100];
            snprintf(name, sizeof name, "ans_il_decode.gpt2.chunk%zu.n%u", c, sizes[s]);
            ok = roundtrip(g, name, v + c * CHUNK, sizes[s], &m, s == 0 ? 10 : 4, s == 0 && c == 0);
        }
    }
    free(v);
    if (ok) tu_result(true, "ans_il_decode.gpt2", NULL);
}

/* df11_ans_il_decode_many: 16-lane chunks (the default 256 KiB chunk)
 * interleaved, with other sizes and damaged ones among them, on one model
 * (the first 40 rounds) or on three (chunks of consecutive tensors, each
 * chain on its own tables); the verdict must name the first chunk that
 * fails alone, the bytes of a good batch must be each chunk's own. */
static void test_many(tu_rng *g, const uint16_t *v, size_t nv)
{
    enum { J = 20, T = 3 };
    static const uint32_t sizes[] = { 131072, 131072, 131072, 131072, 131072, 16384, 200000, 131071, 5 };
    bool ok = true;
    uint8_t *pl[J], *dst[J], *one = malloc(2 * 200000);
    size_t cap = 4 * 64 + 4 * 200000 + 200000 / 8 + 64;
    /* three models from three parts of the data (the first is tab) */
    il_model m[T];
    static df11_ans_il_dtable more[T - 1];
    df11_ans_il_dtable *tabs[T] = { &tab, &more[0], &more[1] };
    size_t part = nv / T < 400000 ? nv / T : 400000;
    for (int k = 0; k < T; k++) {
        il_model_of(v + (size_t)k * (nv / T), part, &m[k]);
        il_model_finish(&m[k], tabs[k]);
        tabs[k]->signs = true;
    }
    for (int j = 0; j < J; j++) pl[j] = malloc(cap), dst[j] = malloc(2 * 200000);
    for (int it = 0; it < 100 && ok; it++) {
        uint32_t count = 1 + (uint32_t)tu_below(g, it < 40 ? 10 : J);
        df11_ans_il_job jobs[J];
        int first_bad = -1;
        for (uint32_t j = 0; j < count; j++) {
            uint32_t n = it < 20 || (it >= 40 && it < 60) ? 131072 : sizes[tu_below(g, 9)];
            uint32_t k = it < 40 ? 0 : (uint32_t)tu_below(g, T);
            size_t at = tu_below(g, nv - n);
            size_t len = il_encode(v + at, n, &m[k], true, pl[j], cap);
            if (!len) {
                /* an exponent the model lacks: a chunk of the model's own part */
                at = (size_t)k * (nv / T);
                len = il_encode(v + at, n < part ? n : (uint32_t)part, &m[k], true, pl[j], cap);
                n = n < part ? n : (uint32_t)part;
            }
            if (tu_below(g, 4) == 0) pl[j][tu_below(g, len)] ^= (uint8_t)(1 + tu_below(g, 255));
            jobs[j] = (df11_ans_il_job){ tabs[k], pl[j], (uint32_t)len, n, dst[j] };
            char why[160];
            if (first_bad < 0 && df11_ans_il_decode_level(0, tabs[k], pl[j], len, n, one, why, sizeof why))
                first_bad = (int)j;
        }
        for (int lv = 0; lv <= max_level && ok; lv++) {
            uint32_t bad = UINT32_MAX;
            char why[160];
            int r = df11_ans_il_decode_many_level(lv, jobs, count, &bad, why, sizeof why);
            if (r != (first_bad >= 0) || (r && bad != (uint32_t)first_bad)) {
                tu_result(false, "ans_il_decode.many", "level %d, %u chunks: says %d (job %u), alone the first bad is %d",
                          lv, count, r, bad, first_bad);
                ok = false;
            }
            for (uint32_t j = 0; j < count && ok && !r; j++) {
                char w2[160];
                df11_ans_il_decode_level(0, jobs[j].t, jobs[j].payload, jobs[j].payload_len, jobs[j].n, one, w2, sizeof w2);
                if (memcmp(one, dst[j], 2 * (size_t)jobs[j].n)) {
                    tu_result(false, "ans_il_decode.many", "level %d: chunk %u of %u decodes differently in a batch", lv, j, count);
                    ok = false;
                }
            }
        }
    }
    for (int j = 0; j < J; j++) free(pl[j]), free(dst[j]);
    free(one);
    if (ok) tu_result(true, "ans_il_decode.many", NULL);
}

static void test_index(const uint8_t *f, size_t fsize, const char *path);

/* Through the reader: a --max file of the library's encoder (ANS_IL
 * chunks where they are smaller) read back by df11_pread (whole, and
 * from odd offsets) and df11_verify at every level, then with one byte of
 * an ANS_IL chunk in the middle of a batch changed: every read that
 * covers it fails naming that chunk, the same at every level. */
static void test_file(tu_rng *g)
{
    char *dir = tu_tempdir(), in[4200], out[4200], bad[4200];
    snprintf(in, sizeof in, "%s/t.safetensors", dir);
    snprintf(out, sizeof out, "%s/t.df11", dir);
    snprintf(bad, sizeof bad, "%s/bad.df11", dir);
    /* c.w is three chunks, too few to interleave alone: its batch goes on
     * into c.idx (I32, stored RAW or ZSTD: decoded alone inside the batch),
     * d.w and e.w */
    enum { NT = 6 };
    static const uint64_t count[NT] = { 589824, 768, 393216, 3000, 20000, 131072 + 77 };
    static const char *names[NT] = { "a.w", "a.b", "c.w", "c.idx", "d.w", "e.w" };
    tu_tensor t[NT];
    uint8_t *data[NT];
    for (int k = 0; k < NT; k++) {
        data[k] = malloc(2 * count[k]);
        tu_fill_bf16(g, data[k], count[k], k == 2 ? 0.5 : 0.02);
        t[k] = (tu_tensor){ names[k], k == 3 ? "I32" : "BF16", k == 3 ? count[k] / 2 : count[k], data[k],
                            2 * count[k] };
    }
    size_t osize;
    uint8_t *orig = tu_write_safetensors(in, t, NT, &osize);
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.level = DF11_LEVEL_MAX;
    o.threads = 1;
    df11_error e;
    df11_reader *r = NULL;
    bool ok = orig && df11_encode_file(in, out, &o, &e) == DF11_OK && df11_open(out, &r, &e) == DF11_OK;
    if (!ok) {
        tu_result(false, "ans_il_decode.file", "encode or open failed: %s", e.message);
        return;
    }
    /* a run of ANS_IL chunks in one segment; the change goes into its third */
    uint32_t il = 0, target = UINT32_MAX;
    for (uint32_t c = 0; c < r->chunk_count; c++) {
        il += r->chunks[c].codec == DF11_FMT_ANS_IL;
        if (target == UINT32_MAX && c >= 2 && r->chunks[c].codec == DF11_FMT_ANS_IL &&
            r->chunks[c - 2].codec == DF11_FMT_ANS_IL && r->chunks[c - 2].segment == r->chunks[c].segment &&
            c + 1 < r->chunk_count && r->chunks[c + 1].segment == r->chunks[c].segment)
            target = c;
    }
    if (!il || target == UINT32_MAX) {
        printf("SKIP ans_il_decode.file: the encoder wrote %u ANS_IL chunks, no run of four\n", il);
        df11_close(r);
        return;
    }
    printf("# file: %u chunks, %u ANS_IL, damage in chunk %u\n", r->chunk_count, il, target);
    uint8_t *buf = malloc(osize);
    for (int lv = 0; lv <= max_level && ok; lv++) {
        df11_ans_simd_force(lv);
        memset(buf, 0, osize);
        ok = df11_pread(r, buf, osize, 0, &e) == DF11_OK && memcmp(buf, orig, osize) == 0;
        for (int k = 0; k < 20 && ok; k++) {
            uint64_t off = tu_below(g, osize), len = tu_below(g, osize - off + 1);
            ok = df11_pread(r, buf, len, off, &e) == DF11_OK && memcmp(buf, orig + off, len) == 0;
        }
        ok = ok && df11_verify(r, 1, NULL, NULL, &e) == DF11_OK && df11_verify(r, 2, NULL, NULL, &e) == DF11_OK;
        /* df11_decode_chunks over random runs of chunks, across segments */
        for (uint32_t i0 = 0; i0 < r->chunk_count && ok;) {
            uint32_t cnt = 1 + (uint32_t)tu_below(g, 12);
            if (cnt > r->chunk_count - i0) cnt = r->chunk_count - i0;
            void *d[12];
            for (uint32_t k = 0; k < cnt; k++) d[k] = buf + r->chunks[i0 + k].orig_offset;
            memset(buf, 0, osize);
            ok = df11_decode_chunks(r, i0, cnt, d, &e) == DF11_OK;
            for (uint32_t k = 0; k < cnt && ok; k++) {
                const df11_chunk *ck = &r->chunks[i0 + k];
                ok = memcmp(buf + ck->orig_offset, orig + ck->orig_offset, ck->decoded_length) == 0;
            }
            i0 += cnt;
        }
        if (!ok) tu_result(false, "ans_il_decode.file", "level %d: reads differ or fail: %s", lv, e.message);
    }
    if (ok) tu_result(true, "ans_il_decode.file", NULL);
    /* a batch that spans tensors: c.w's three chunks and the next ones;
     * its first ANS_IL chunk of another tensor gets the second change, its
     * chunk of another codec the third */
    uint32_t cross = UINT32_MAX, foreign = UINT32_MAX;
    for (uint32_t s0 = 0; s0 < r->chunk_count && cross == UINT32_MAX; s0++) {
        if (s0 > 0 && r->chunks[s0 - 1].segment == r->chunks[s0].segment) continue;
        uint32_t k = df11_batch_len(r, s0, DF11_ANS_IL_BATCH);
        for (uint32_t j = 1; j < k; j++) {
            const df11_chunk *cj = &r->chunks[s0 + j];
            if (cj->segment == r->chunks[s0].segment) continue;
            if (cj->codec != DF11_FMT_ANS_IL && foreign == UINT32_MAX) foreign = s0 + j;
            if (cj->codec == DF11_FMT_ANS_IL && cross == UINT32_MAX) cross = s0 + j;
        }
    }
    tu_result(cross != UINT32_MAX && foreign != UINT32_MAX, "ans_il_decode.file_batch_spans_tensors",
              "no batch of the reader spans two ANS_IL tensors (%u) with a chunk of another codec (%u)", cross,
              foreign);
    /* the damaged copies: in the middle of one tensor's batch, then at the
     * first chunk of the second tensor of a batch */
    size_t fsize;
    uint8_t *f = tu_read_file(out, &fsize);
    test_index(f, fsize, bad);
    uint32_t targets[3] = { target, cross, foreign };
    static const char *const dnames[3] = { "ans_il_decode.file_damaged", "ans_il_decode.file_damaged_across",
                                           "ans_il_decode.file_damaged_other_codec" };
    for (int d = 0; d < 3; d++) {
        if (targets[d] == UINT32_MAX) break;
        target = targets[d];
        uint8_t *fd = malloc(fsize);
        memcpy(fd, f, fsize);
        const df11_chunk *c = &r->chunks[target];
        fd[c->payload_offset + c->payload_length / 2] ^= 0x5A;
        char want[64];
        snprintf(want, sizeof want, "chunk %u", target);
        uint64_t at = c->orig_offset;
        df11_close(r);
        r = NULL;
        ok = tu_write_file(bad, fd, fsize) && df11_open(bad, &r, &e) == DF11_OK;
        free(fd);
        if (!ok) {
            tu_result(false, dnames[d], "cannot write or open the damaged copy: %s", e.message);
            break;
        }
        for (int lv = 0; lv <= max_level && ok; lv++) {
            df11_ans_simd_force(lv);
            df11_status s1 = df11_pread(r, buf, osize, 0, &e);
            bool named = strstr(e.message, want) != NULL;
            df11_error e2;
            df11_status s2 = df11_decode_chunk(r, target, buf, &e2);
            df11_error e3;
            df11_status s3 = df11_verify(r, 2, NULL, NULL, &e3);
            df11_status s4 = df11_pread(r, buf, 1000, at > 3000 ? at - 3000 : 0, &e2); /* before it: fine */
            ok = (s1 == DF11_E_CORRUPT_CHUNK || s1 == DF11_E_CHECKSUM) && named && s2 == s1 && s3 == s1 &&
                 strstr(e3.message, want) && s4 == DF11_OK;
            if (!ok)
                tu_result(false, dnames[d], "level %d, chunk %u: pread %s (%s), chunk %s, verify %s, before %s", lv, target,
                          df11_status_name(s1), e.message, df11_status_name(s2), df11_status_name(s3), df11_status_name(s4));
        }
        if (ok) tu_result(true, dnames[d], NULL);
        df11_ans_simd_force(-1);
    }
    df11_close(r);
    free(f);
    free(buf);
    free(orig);
    for (int k = 0; k < NT; k++) free(data[k]);
    unlink(in), unlink(out), unlink(bad);
    rmdir(dir);
    free(dir);
}

/* The index rules of FORMAT.md 10, on the file of test_file: the index
 * is decompressed, changed, recompressed with its checksums fixed, and
 * the open must fail with the expected status. */
enum { MUT_CODEC3, MUT_FREQ4096, MUT_EXP14, MUT_NO_IL_FLAG, MUT_NO_MODEL, MUT_SIGNS_ALONE, MUT_KINDS };

static df11_status open_mutated(const uint8_t *f, size_t fsize, const char *path, int what,
                                df11_error *e)
{
    df11_fmt_header h;
    df11_fmt_header_unpack(f, &h);
    size_t len = (size_t)h.segment_count * DF11_SEGMENT_ENTRY_SIZE +
                 (size_t)h.chunk_count * DF11_CHUNK_ENTRY_SIZE +
                 (size_t)h.table_count * DF11_FMT_TABLE_BYTES + (size_t)h.model_count * DF11_FMT_MODEL_BYTES;
    uint8_t *idx = malloc(len), *out = malloc(h.index_offset + ZSTD_compressBound(len));
    ZSTD_decompress(idx, len, f + h.index_offset, h.index_length);
    uint8_t *seg = idx, *chk = seg + (size_t)h.segment_count * DF11_SEGMENT_ENTRY_SIZE;
    uint8_t *tabs = chk + (size_t)h.chunk_count * DF11_CHUNK_ENTRY_SIZE;
    uint8_t *mods = tabs + (size_t)h.table_count * DF11_FMT_TABLE_BYTES;
    /* the first ANS_IL chunk, its segment and model */
    uint32_t c = 0;
    while (chk[(size_t)c * DF11_CHUNK_ENTRY_SIZE + 12] != DF11_FMT_ANS_IL) c++;
    uint32_t si = 0;
    for (uint32_t k = 0; k < h.segment_count; k++)
        if (df11_rd32(seg + (size_t)k * DF11_SEGMENT_ENTRY_SIZE + 16) <= c) si = k;
    uint32_t model = df11_rd32(seg + (size_t)si * DF11_SEGMENT_ENTRY_SIZE + 24) - 1;
    df11_fmt_model m;
    df11_fmt_model_unpack(mods + (size_t)model * DF11_FMT_MODEL_BYTES, &m);
    switch (what) {
    case MUT_CODEC3: /* an ANS chunk (flag ANS set too) on a 12-bit model */
        chk[(size_t)c * DF11_CHUNK_ENTRY_SIZE + 12] = DF11_FMT_ANS;
        h.flags |= DF11_FMT_FLAG_ANS;
        break;
    case MUT_FREQ4096: { /* one mantissa symbol owns all 4096 slots */
        uint8_t *t = tabs + (size_t)m.mant_table[0] * DF11_FMT_TABLE_BYTES;
        memset(t + 4, 0, 512);
        t[4 + 2 * 5] = 0x00, t[4 + 2 * 5 + 1] = 0x10;
        break;
    }
    case MUT_EXP14: { /* the model's exponent table made a valid 14-bit one */
        uint8_t *t = tabs + (size_t)m.exp_table * DF11_FMT_TABLE_BYTES;
        t[0] = 14;
        for (int k = 0; k < 256; k++) {
            uint32_t v = 4u * df11_rd16(t + 4 + 2 * k);
            t[4 + 2 * k] = (uint8_t)v, t[5 + 2 * k] = (uint8_t)(v >> 8);
        }
        break;
    }
    case MUT_NO_IL_FLAG: /* codec 5 in a file that says ANS only */
        h.flags = (h.flags & ~(DF11_FMT_FLAG_ANS_IL | DF11_FMT_FLAG_IL_SIGNS)) | DF11_FMT_FLAG_ANS;
        break;
    case MUT_SIGNS_ALONE: /* IL_SIGNS, which only ANS_IL payloads use, without ANS_IL */
        h.flags = (h.flags & ~DF11_FMT_FLAG_ANS_IL) | DF11_FMT_FLAG_ANS;
        break;
    default: /* codec 5 in a segment without a model */
        memset(seg + (size_t)si * DF11_SEGMENT_ENTRY_SIZE + 24, 0, 4);
        break;
    }
    size_t z = ZSTD_compress(out + h.index_offset, ZSTD_compressBound(len), idx, len, 3);
    memcpy(out, f, h.index_offset);
    h.index_length = z;
    h.index_xxh3 = XXH3_64bits(idx, len);
    df11_fmt_header_pack(&h, out);
    df11_reader *r = NULL;
    df11_status s = tu_write_file(path, out, h.index_offset + z) ? df11_open(path, &r, e) : DF11_E_IO;
    df11_close(r);
    free(idx);
    free(out);
    (void)fsize;
    return s;
}

static void test_index(const uint8_t *f, size_t fsize, const char *path)
{
    static const char *what[MUT_KINDS] = { "ans_chunk_on_il_model", "freq_4096", "il_chunk_on_ans_model",
                                           "codec5_without_flag", "codec5_without_model",
                                           "il_signs_without_il" };
    for (int k = 0; k < MUT_KINDS; k++) {
        df11_error e = { DF11_OK, "" };
        df11_status s = open_mutated(f, fsize, path, k, &e);
        char name[100];
        snprintf(name, sizeof name, "ans_il_decode.index.%s", what[k]);
        printf("# %s: %s\n", what[k], e.message);
        /* the last is the header's business (FORMAT.md 8), at the flags */
        df11_status want = k == MUT_SIGNS_ALONE ? DF11_E_CORRUPT_HEADER : DF11_E_CORRUPT_INDEX;
        tu_result(s == want && strstr(e.message, k == MUT_SIGNS_ALONE ? "offset 12" : "offset"), name,
                  "open says %s: %s", df11_status_name(s), e.message);
    }
}

int main(int argc, char **argv)
{
    guard_init("ans_il_decode");
    max_level = df11_ans_simd_force(-1);
    const char *root = getenv("DF11_ROOT");
    if (!root || !*root) root = ".";
    char path[4096];
    snprintf(path, sizeof path, "%s/../shared/models/gpt2-small-partial.bf16.safetensors", root);
    if (argc > 1 && strcmp(argv[1], "-b") == 0)
        return bench(argc > 2 ? argv[2] : path, argc > 3 ? atoi(argv[3]) : 5);
    printf("# levels 0..%d\n", max_level);
    tu_rng g = { tu_seed("ans_il_decode") };
    test_synthetic(&g);
    test_arbitrary(&g);
    test_gpt2(&g, path);
    test_file(&g);
    {
        size_t nv;
        uint16_t *v = gpt2(path, &nv);
        if (v) test_many(&g, v, nv);
        else printf("SKIP ans_il_decode.many: %s not found\n", path);
        free(v);
    }
    if (replay(root, "ans_il", fuzz_ans_il)) tu_failures++;
    return tu_failures ? 1 : 0;
}
