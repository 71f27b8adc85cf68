/*
 * codec_huffman: the Huffman code and the EXP codec against brute-force
 * oracles. Code lengths against textbook Huffman (unlimited) and package-
 * merge (optimal at 12 bits); canonical codes against a symbol-by-symbol
 * construction and an all-pairs prefix check; the 4096-entry decode table
 * against a bit-at-a-time decoder; df11_exp_encode byte for byte against a
 * bit-at-a-time encoder; df11_exp_decode against the input and on random
 * bitstreams no encoder made. Seeded (DF11_SEED replays).
 */
#include "codec_util.h"
#include "../../codec/decompress/reader.h"
#include "../fuzz/oracle.h"

/* ---- oracles for code lengths ---- */

/* Cost (total bits) and height of a textbook Huffman tree. */
static uint64_t huffman_cost(const uint64_t freq[256], unsigned *height)
{
    uint64_t w[256];
    unsigned d[256], n = 0;
    for (int s = 0; s < 256; s++)
        if (freq[s]) w[n] = freq[s], d[n++] = 0;
    uint64_t cost = 0;
    *height = n == 1 ? 1 : 0;
    while (n > 1) {
        unsigned a = 0, b = 1;
        if (w[b] < w[a]) a = 1, b = 0;
        for (unsigned i = 2; i < n; i++) {
            if (w[i] < w[a]) b = a, a = i;
            else if (w[i] < w[b]) b = i;
        }
        uint64_t sum = w[a] + w[b];
        unsigned depth = (d[a] > d[b] ? d[a] : d[b]) + 1;
        cost += sum;
        unsigned lo = a < b ? a : b, hi = a < b ? b : a;
        w[lo] = sum, d[lo] = depth;
        w[hi] = w[n - 1], d[hi] = d[n - 1];
        n--;
        if (depth > *height) *height = depth;
    }
    return cost;
}

/* Optimal cost with lengths <= limit: package-merge (Larmore-Hirschberg). */
typedef struct {
    uint64_t w;
    uint8_t count[256]; /* how often each leaf is inside this item */
} pm_item;

static int by_weight(const void *a, const void *b)
{
    uint64_t x = ((const pm_item *)a)->w, y = ((const pm_item *)b)->w;
    return x < y ? -1 : x > y;
}

static uint64_t package_merge_cost(const uint64_t freq[256], unsigned limit)
{
    static pm_item leaves[256], list[512], next[512];
    unsigned n = 0;
    for (int s = 0; s < 256; s++)
        if (freq[s]) {
            memset(&leaves[n], 0, sizeof leaves[n]);
            leaves[n].w = freq[s];
            n++;
        }
    if (n < 2) return 0;
    qsort(leaves, n, sizeof leaves[0], by_weight);
    for (unsigned j = 0; j < n; j++) leaves[j].count[j] = 1; /* leaf j, in sorted order */
    unsigned m = n;
    memcpy(list, leaves, n * sizeof list[0]);
    for (unsigned level = limit; level > 1; level--) {
        unsigned k = 0;
        for (unsigned i = 0; i + 1 < m; i += 2) { /* package pairs */
            next[k].w = list[i].w + list[i + 1].w;
            for (unsigned j = 0; j < n; j++)
                next[k].count[j] = (uint8_t)(list[i].count[j] + list[i + 1].count[j]);
            k++;
        }
        memcpy(next + k, leaves, n * sizeof next[0]); /* merge with the leaves */
        k += n;
        qsort(next, k, sizeof next[0], by_weight);
        m = k;
        memcpy(list, next, m * sizeof list[0]);
    }
    unsigned len[256] = {0};
    for (unsigned i = 0; i < 2 * n - 2; i++)
        for (unsigned j = 0; j < n; j++) len[j] += list[i].count[j];
    uint64_t cost = 0;
    for (unsigned j = 0; j < n; j++) cost += leaves[j].w * len[j];
    return cost;
}

/* ---- df11_huff_check ---- */
static void check_validity(void)
{
    uint8_t len[256];
    bool constant, ok = true;
    memset(len, 0, 256);
    ok &= df11_huff_check(len, &constant) == DF11_E_BAD_TABLE; /* empty */
    len[7] = 1;
    ok &= df11_huff_check(len, &constant) == DF11_OK && constant; /* constant */
    len[7] = 2;
    ok &= df11_huff_check(len, &constant) == DF11_E_BAD_TABLE; /* lone symbol, length 2 */
    len[7] = 1, len[9] = 1;
    ok &= df11_huff_check(len, &constant) == DF11_OK && !constant;
    len[10] = 1;
    ok &= df11_huff_check(len, &constant) == DF11_E_BAD_TABLE; /* overfull */
    memset(len, 0, 256);
    len[0] = 1, len[1] = 2;
    ok &= df11_huff_check(len, &constant) == DF11_E_BAD_TABLE; /* underfull */
    len[2] = 2;
    ok &= df11_huff_check(len, &constant) == DF11_OK;
    memset(len, 8, 256);
    ok &= df11_huff_check(len, &constant) == DF11_OK; /* all 256 at 8 bits */
    len[0] = 13;
    ok &= df11_huff_check(len, &constant) == DF11_E_BAD_TABLE;
    /* 4096 codes of 12 bits would be complete but there are only 256 symbols;
     * 1 + 1/2 + ... with the deepest pair at 12 bits is complete */
    memset(len, 0, 256);
    for (int s = 0; s < 11; s++) len[s] = (uint8_t)(s + 1);
    len[11] = 12, len[12] = 12;
    ok &= df11_huff_check(len, &constant) == DF11_OK;
    len[12] = 0, len[200] = 12;
    ok &= df11_huff_check(len, &constant) == DF11_OK;
    len[200] = 15; /* a nibble can say 15: must be refused */
    ok &= df11_huff_check(len, &constant) == DF11_E_BAD_TABLE;
    tu_result(ok, "huffman.check_valid_and_invalid_tables", "a table was judged wrongly");
}

/* ---- histograms ---- */
static void random_hist(tu_rng *g, uint64_t freq[256], int kind)
{
    memset(freq, 0, 256 * sizeof freq[0]);
    unsigned n = 2 + (unsigned)tu_below(g, 255);
    switch (kind) {
    case 0: /* uniform weights over a random subset */
        for (unsigned i = 0; i < n; i++) freq[tu_below(g, 256)] += 1 + tu_below(g, 1000);
        break;
    case 1: /* weights spread over many orders of magnitude */
        for (unsigned i = 0; i < n; i++) freq[tu_below(g, 256)] += 1 + (tu_next(g) >> (20 + tu_below(g, 44)));
        break;
    case 2: { /* Fibonacci weights: the textbook worst case, far deeper than 12 */
        unsigned m = 14 + (unsigned)tu_below(g, 40);
        uint64_t a = 1, b = 1;
        unsigned base = (unsigned)tu_below(g, 256 - m);
        for (unsigned i = 0; i < m; i++) {
            freq[base + i] = a;
            uint64_t c = a + b;
            a = b, b = c;
        }
        break;
    }
    case 3: { /* BF16 exponents of Gaussian weights, with the rare tail */
        unsigned count = 1000 + (unsigned)tu_below(g, 200000);
        double std = 0.001 + tu_unit(g) * 0.1;
        for (unsigned i = 0; i < count; i++) {
            uint16_t v = tu_f32_to_bf16((float)(tu_gauss(g) * std));
            freq[(v >> 7) & 0xFF]++;
        }
        break;
    }
    default: /* geometric: each symbol half as likely as the last */
        for (unsigned i = 0; i < 40; i++) freq[i * 3] = 1ull << (40 - i);
    }
    unsigned present = 0;
    for (int s = 0; s < 256; s++) present += freq[s] != 0;
    if (present < 2) freq[0] += 1, freq[255] += 1;
}

static const char *const kind_names[] = {"uniform", "wide", "fibonacci", "bf16", "geometric"};

static void check_lengths(tu_rng *g)
{
    int bad_valid = 0, bad_opt = 0, tried = 0, limited = 0;
    double worst_unlimited = 1, worst_limited[5] = {1, 1, 1, 1, 1};
    char first[256] = "";
    for (int trial = 0; trial < 600; trial++) {
        int kind = trial % 5;
        uint64_t freq[256];
        uint8_t len[256];
        random_hist(g, freq, kind);
        df11_huff_lengths(freq, len);
        tried++;
        bool ok = oracle_check(len) == 0;
        for (int s = 0; s < 256; s++) ok &= (len[s] != 0) == (freq[s] != 0);
        if (!ok) {
            if (!bad_valid++) snprintf(first, sizeof first, "%s histogram, trial %d", kind_names[kind], trial);
            continue;
        }
        uint64_t cost = 0;
        for (int s = 0; s < 256; s++) cost += freq[s] * len[s];
        unsigned height;
        uint64_t opt = huffman_cost(freq, &height);
        if (height <= DF11_MAX_CODE_LEN) {
            double ratio = (double)cost / (double)opt;
            if (ratio > worst_unlimited) worst_unlimited = ratio;
            if (cost < opt || ratio > 1.01) bad_opt++;
        } else {
            limited++;
            uint64_t pm = package_merge_cost(freq, DF11_MAX_CODE_LEN);
            double ratio = (double)cost / (double)pm;
            if (ratio > worst_limited[kind]) worst_limited[kind] = ratio;
            if (cost < pm) bad_opt++; /* better than optimal: lengths must be wrong */
        }
    }
    tu_result(bad_valid == 0, "huffman.lengths_valid_and_complete",
              "%d of %d length sets invalid or missing a symbol, first: %s", bad_valid, tried, first);
    tu_result(bad_opt == 0, "huffman.lengths_cost_vs_huffman",
              "%d sets cost more than 1%% over Huffman (worst %.4f) or beat the optimum", bad_opt,
              worst_unlimited);
    printf("# %d histograms, %d needed limiting; cost / optimum: unlimited worst %.4f;", tried,
           limited, worst_unlimited);
    for (int k = 0; k < 5; k++) printf(" %s %.4f", kind_names[k], worst_limited[k]);
    printf(" (limited, vs package-merge)\n");
    double worst = 1;
    for (int k = 0; k < 5; k++) worst = worst_limited[k] > worst ? worst_limited[k] : worst;
    tu_result(worst < 1.05, "huffman.lengths_limited_within_5pct_of_optimal",
              "a limited code costs %.4f of the 12-bit optimum", worst);
    /* and very little where it matters (real BF16 exponents) */
    tu_result(worst_limited[3] < 1.01, "huffman.lengths_limited_bf16_near_optimal",
              "BF16 exponent histogram costs %.4f of the 12-bit optimum", worst_limited[3]);

    /* one symbol: the constant code */
    uint64_t freq[256] = {0};
    uint8_t len[256];
    freq[77] = 12345;
    df11_huff_lengths(freq, len);
    bool ok = oracle_check(len) == 1 && len[77] == 1;
    freq[78] = 1;
    df11_huff_lengths(freq, len);
    ok &= oracle_check(len) == 0 && len[77] == 1 && len[78] == 1;
    for (int s = 0; s < 256; s++) freq[s] = 1 + (uint64_t)s;
    df11_huff_lengths(freq, len);
    ok &= oracle_check(len) == 0;
    tu_result(ok, "huffman.lengths_one_two_all_symbols", "wrong lengths");
}

/* ---- canonical codes ---- */
static bool prefix_free(const uint8_t len[256], const uint16_t code[256])
{
    for (int a = 0; a < 256; a++) {
        if (!len[a]) continue;
        if (code[a] >> len[a]) return false; /* does not fit its length */
        for (int b = 0; b < 256; b++) {
            if (a == b || !len[b] || len[b] < len[a]) continue;
            if ((code[b] >> (len[b] - len[a])) == code[a]) return false;
        }
    }
    return true;
}

/* A random valid table: split leaves of a random binary tree. */
static void random_table(tu_rng *g, uint8_t len[256], unsigned symbols)
{
    uint8_t depth[256];
    unsigned n = 1;
    depth[0] = 0;
    while (n < symbols) {
        unsigned i = (unsigned)tu_below(g, n);
        if (depth[i] >= DF11_MAX_CODE_LEN) {
            bool any = false;
            for (unsigned j = 0; j < n && !any; j++)
                if (depth[j] < DF11_MAX_CODE_LEN) i = j, any = true;
            if (!any) break;
        }
        depth[i]++;
        depth[n++] = depth[i];
    }
    memset(len, 0, 256);
    /* scatter the depths over random distinct symbols */
    uint8_t perm[256];
    for (int s = 0; s < 256; s++) perm[s] = (uint8_t)s;
    for (int s = 255; s > 0; s--) {
        int j = (int)tu_below(g, (uint64_t)s + 1);
        uint8_t t = perm[s];
        perm[s] = perm[j], perm[j] = t;
    }
    for (unsigned i = 0; i < n; i++) len[perm[i]] = n == 1 ? 1 : depth[i];
}

static void check_canonical(tu_rng *g)
{
    int bad = 0, tried = 0;
    for (int trial = 0; trial < 400; trial++) {
        uint8_t len[256];
        if (trial % 2) {
            uint64_t freq[256];
            random_hist(g, freq, trial % 5);
            df11_huff_lengths(freq, len);
        } else {
            random_table(g, len, 2 + (unsigned)tu_below(g, 255));
        }
        if (oracle_check(len) != 0) {
            bad++;
            continue;
        }
        uint16_t code[256], want[256];
        df11_huff_canonical(len, code);
        oracle_canonical(len, want);
        tried++;
        bool ok = prefix_free(len, code);
        for (int s = 0; s < 256; s++) ok &= !len[s] || code[s] == want[s];
        bad += !ok;
    }
    tu_result(bad == 0, "huffman.canonical_prefix_free_and_canonical", "%d of %d tables wrong",
              bad, tried);
}

/* ---- the CPU decode table ---- */
static uint64_t oracle_entry(const oracle_code *oc, unsigned peek)
{
    uint8_t window[2] = {(uint8_t)(peek >> 4), (uint8_t)(peek << 4)};
    uint64_t pos = 0, syms = 0;
    unsigned n = 0;
    while (n < DF11_TABLE_MAX_SYMBOLS) {
        uint64_t at = pos;
        int s = oracle_symbol(oc, window, DF11_MAX_CODE_LEN, &at);
        if (s < 0) break;
        syms |= (uint64_t)s << (8 * n);
        pos = at;
        n++;
    }
    return syms << 16 | (uint64_t)n << 8 | pos;
}

static void check_dtable(tu_rng *g)
{
    static df11_huff_dtable t;
    int bad = 0, tables = 0;
    char first[160] = "";
    for (int trial = 0; trial < 60; trial++) {
        uint8_t len[256];
        if (trial == 0) { memset(len, 8, 256); }
        else if (trial == 1) { memset(len, 0, 256); len[3] = 1; len[250] = 1; }
        else if (trial == 2) {
            memset(len, 0, 256);
            for (int s = 0; s < 11; s++) len[s] = (uint8_t)(s + 1);
            len[11] = 12, len[12] = 12;
        } else random_table(g, len, 2 + (unsigned)tu_below(g, 255));
        static oracle_code oc;
        oracle_code_init(&oc, len);
        df11_huff_build_dtable(len, &t);
        tables++;
        bool ok = !t.constant;
        for (unsigned p = 0; ok && p < DF11_TABLE_SIZE; p++) {
            uint64_t want = oracle_entry(&oc, p);
            if (t.entry[p] != want) {
                ok = false;
                if (!bad) snprintf(first, sizeof first, "table %d, peek %u: %016llx, want %016llx", trial, p,
                                   (unsigned long long)t.entry[p], (unsigned long long)want);
            }
        }
        bad += !ok;
    }
    uint8_t len[256] = {0};
    len[42] = 1;
    df11_huff_build_dtable(len, &t);
    bool constant_ok = t.constant && t.constant_symbol == 42;
    tu_result(bad == 0 && constant_ok, "huffman.dtable_matches_bitwise_decoder",
              "%d of %d tables differ (%s); constant table %s", bad, tables, first,
              constant_ok ? "ok" : "wrong");
}

/* ---- EXP encode/decode ---- */
typedef struct {
    uint32_t n, L;
    unsigned width;
    int dist;
} exp_case;

static void fill_elements(tu_rng *g, uint8_t *src, uint32_t n, unsigned width, int dist)
{
    for (uint32_t i = 0; i < n; i++) {
        uint16_t v;
        switch (dist) {
        case 0: v = tu_f32_to_bf16((float)(tu_gauss(g) * 0.02)); break;
        case 1: v = (uint16_t)tu_next(g); break;                        /* all 256 exponents */
        case 2: v = (uint16_t)(0x3F80 | (tu_next(g) & 0x807F)); break;   /* one exponent */
        case 3: v = (uint16_t)((tu_next(g) & 0x807F) | (tu_below(g, 2) ? 0x3F80 : 0x4000)); break;
        default: /* mostly one exponent with a rare tail: 12-bit codes */
            v = (uint16_t)((tu_next(g) & 0x807F) |
                           (uint16_t)((tu_below(g, 64) ? 127u : (unsigned)tu_below(g, 256)) << 7));
        }
        uint8_t *d = src + (size_t)i * width;
        if (width == 4) d[0] = (uint8_t)tu_next(g), d[1] = (uint8_t)tu_next(g), d += 2;
        d[0] = (uint8_t)v, d[1] = (uint8_t)(v >> 8);
    }
}

/* Payload copied into a buffer of exactly len + DF11_PAYLOAD_SLACK bytes,
 * the slack random, so ASan sees any read beyond what the format allows
 * and results cannot depend on the slack. */
static uint8_t *exact_copy(tu_rng *g, const uint8_t *p, size_t len)
{
    uint8_t *b = malloc(len + DF11_PAYLOAD_SLACK);
    if (!b) return NULL;
    memcpy(b, p, len);
    tu_fill_random(g, b + len, DF11_PAYLOAD_SLACK);
    return b;
}

static df11_status decode_exact(tu_rng *g, const uint8_t *payload, size_t plen, uint32_t n,
                                unsigned width, uint32_t L, const df11_huff_dtable *t, uint8_t *dst)
{
    uint8_t *p = exact_copy(g, payload, plen);
    uint8_t *scratch = malloc(df11_exp_scratch_size(n, L));
    char why[160];
    df11_status s = p && scratch ? df11_exp_decode(p, (uint32_t)plen, n, width, L, t, dst, scratch, why, sizeof why)
                                 : DF11_E_NOMEM;
    free(p);
    free(scratch);
    return s;
}

static void check_exp_roundtrip(tu_rng *g)
{
    static const uint32_t sizes[] = {0, 1, 2, 3, 15, 16, 17, 255, 256, 257, 2047, 2048, 2049,
                                     4095, 4096, 4097, 8191, 8193, 32768};
    static const uint32_t lanes[] = {256, 2048, 4096};
    static df11_huff_dtable t;
    int tried = 0, bad_encode = 0, bad_decode = 0, bad_oracle = 0, bad_corrupt = 0;
    char first[200] = "";
    for (int trial = 0; trial < 260; trial++) {
        exp_case c;
        c.n = trial < 19 * 5 ? sizes[trial % 19] : (uint32_t)tu_below(g, 70000);
        c.dist = trial < 19 * 5 ? trial / 19 : (int)tu_below(g, 5);
        c.width = tu_below(g, 2) ? 4 : 2;
        c.L = lanes[tu_below(g, 3)];
        uint8_t *src = malloc((size_t)c.n * c.width + 1);
        size_t cap = 2 * ((size_t)c.n / c.L + 1) + (size_t)c.n * 12 / 8 + (size_t)c.n * (c.width - 1) + 64;
        uint8_t *out = malloc(cap), *want = calloc(1, cap), *dst = malloc((size_t)c.n * c.width + 1),
                *odst = malloc((size_t)c.n * c.width + 1);
        if (!src || !out || !want || !dst || !odst) {
            tu_result(false, "huffman.exp_alloc", "out of memory");
            return;
        }
        fill_elements(g, src, c.n, c.width, c.dist);
        uint64_t freq[256] = {0};
        df11_exp_histogram(src, c.n, c.width, freq);
        if (c.n == 0) freq[127] = 1; /* an empty chunk still has a segment code */
        uint8_t len[256];
        uint16_t code[256];
        df11_huff_lengths(freq, len);
        if (oracle_check(len) < 0) { /* counted by huffman.lengths_* already */
            bad_encode++;
            goto next;
        }
        df11_huff_canonical(len, code);
        df11_huff_build_dtable(len, &t);
        static oracle_code oc;
        oracle_code_init(&oc, len);
        tried++;
        char label[120];
        snprintf(label, sizeof label, "n=%u width=%u L=%u dist=%d", c.n, c.width, c.L, c.dist);
        size_t plen = df11_exp_encode(src, c.n, c.width, c.L, len, code, out, cap);
        size_t wlen = oracle_encode(src, c.n, c.width, c.L, len, want);
        if (plen != wlen || memcmp(out, want, plen) != 0) {
            if (!bad_encode++ && !*first) snprintf(first, sizeof first, "encode %s: %zu bytes, oracle %zu", label, plen, wlen);
            goto next;
        }
        memset(dst, 0xEE, (size_t)c.n * c.width);
        df11_status s = decode_exact(g, out, plen, c.n, c.width, c.L, &t, dst);
        if (s != DF11_OK || memcmp(dst, src, (size_t)c.n * c.width) != 0) {
            if (!bad_decode++ && !*first) snprintf(first, sizeof first, "decode %s: %s", label, df11_status_name(s));
            goto next;
        }
        if (!oracle_decode(out, plen, c.n, c.width, c.L, &oc, odst) ||
            memcmp(odst, src, (size_t)c.n * c.width) != 0) {
            if (!bad_oracle++ && !*first) snprintf(first, sizeof first, "oracle decode %s", label);
            goto next;
        }
        /* damaged lane lengths: every one must be caught */
        uint32_t nl = (c.n + c.L - 1) / c.L;
        uint8_t *bad = malloc(plen + 1);
        if (nl >= 1 && bad) {
            memcpy(bad, out, plen);
            df11_wr16(bad, (uint16_t)(df11_rd16(bad) + 1)); /* lane 0 one bit longer */
            if (decode_exact(g, bad, plen, c.n, c.width, c.L, &t, dst) != DF11_E_CORRUPT_CHUNK)
                bad_corrupt++;
            if (nl >= 2 && df11_rd16(out + 2) > 0) { /* and lane 1 one shorter: same total */
                df11_wr16(bad + 2, (uint16_t)(df11_rd16(bad + 2) - 1));
                if (decode_exact(g, bad, plen, c.n, c.width, c.L, &t, dst) != DF11_E_CORRUPT_CHUNK)
                    bad_corrupt++;
            }
            if (decode_exact(g, out, plen - 1, c.n, c.width, c.L, &t, dst) != DF11_E_CORRUPT_CHUNK)
                bad_corrupt++;
        }
        free(bad);
    next:
        free(src);
        free(out);
        free(want);
        free(dst);
        free(odst);
    }
    tu_result(bad_encode == 0, "huffman.exp_encode_matches_bitwise_encoder", "%d of %d: %s", bad_encode, tried, first);
    tu_result(bad_decode == 0, "huffman.exp_roundtrip", "%d of %d: %s", bad_decode, tried, first);
    tu_result(bad_oracle == 0, "huffman.exp_oracle_decodes_encoder_output", "%d of %d: %s", bad_oracle, tried, first);
    tu_result(bad_corrupt == 0, "huffman.exp_bad_lane_lengths_refused", "%d damaged payloads accepted", bad_corrupt);
}

/* Random bitstreams: the lanes are whatever the bits say, cut where the
 * bit-at-a-time decoder says each lane's last symbol ends. */
static void check_random_bitstreams(tu_rng *g)
{
    static df11_huff_dtable t;
    int bad = 0, tried = 0;
    char first[200] = "";
    for (int trial = 0; trial < 200; trial++) {
        uint8_t len[256];
        static oracle_code oc;
        random_table(g, len, 2 + (unsigned)tu_below(g, trial % 3 ? 255 : 8));
        oracle_code_init(&oc, len);
        df11_huff_build_dtable(len, &t);
        uint32_t L = trial % 4 == 0 ? 256 : 2048;
        uint32_t n = (uint32_t)tu_below(g, 3 * L + 2);
        unsigned width = tu_below(g, 2) ? 4 : 2;
        uint32_t nl = (n + L - 1) / L;
        size_t nbits_max = (size_t)n * 12 + 64;
        uint8_t *bits = malloc(nbits_max / 8 + 8);
        size_t cap = 2ull * nl + nbits_max / 8 + 8 + (size_t)n * (width - 1);
        uint8_t *payload = malloc(cap), *dst = malloc((size_t)n * width + 1), *odst = malloc((size_t)n * width + 1);
        if (!bits || !payload || !dst || !odst) {
            tu_result(false, "huffman.bitstream_alloc", "out of memory");
            return;
        }
        tu_fill_random(g, bits, nbits_max / 8 + 8);
        uint64_t pos = 0;
        bool ok = true;
        for (uint32_t k = 0; k < nl && ok; k++) {
            uint64_t start = pos;
            for (uint32_t i = k * L; i < n && i < (k + 1) * L && ok; i++)
                ok = oracle_symbol(&oc, bits, nbits_max, &pos) >= 0; /* complete: always */
            df11_wr16(payload + 2 * k, (uint16_t)(pos - start));
        }
        size_t sbytes = (pos + 7) / 8;
        memcpy(payload + 2ull * nl, bits, sbytes); /* padding bits stay random */
        size_t plen = 2ull * nl + sbytes + (size_t)n * (width - 1);
        tu_fill_random(g, payload + 2ull * nl + sbytes, (size_t)n * (width - 1));
        tried++;
        df11_status s = ok ? decode_exact(g, payload, plen, n, width, L, &t, dst) : DF11_E_INTERNAL;
        bool oracle_ok = ok && oracle_decode(payload, plen, n, width, L, &oc, odst);
        if (s != DF11_OK || !oracle_ok || memcmp(dst, odst, (size_t)n * width) != 0) {
            if (!bad++)
                snprintf(first, sizeof first, "n=%u L=%u width=%u: %s, oracle %s", n, L, width,
                         df11_status_name(s), oracle_ok ? "ok" : "refused");
        }
        free(bits);
        free(payload);
        free(dst);
        free(odst);
    }
    tu_result(bad == 0, "huffman.decode_random_bitstreams_vs_bitwise_decoder", "%d of %d: %s", bad,
              tried, first);
}

int main(void)
{
    uint64_t seed = tu_seed("codec_huffman");
    tu_rng g = {seed};
    check_validity();
    check_lengths(&g);
    check_canonical(&g);
    check_dtable(&g);
    check_exp_roundtrip(&g);
    check_random_bitstreams(&g);
    return tu_failures ? 1 : 0;
}
