/*
 * ans_guard: the ANS decoders (scalar, AVX2, AVX-512VL) against guard
 * pages. ASan does not see what an AVX gather reads, so each payload is
 * placed with exactly DF11_PAYLOAD_SLACK bytes (what the reader
 * guarantees, reader_read.c) before a PROT_NONE page, or right after
 * one; the decode table and the output buffer likewise. Any read or write
 * past what the format allows is then a SIGSEGV, reported as a FAIL.
 *
 * Payloads are made here by a small rANS encoder (FORMAT.md 9) over
 * random tables, so n can sit at every lane boundary (1, 16383, 16384,
 * 16385, 4 and 8 lanes +-1, 2^20), and then damaged: lanes cut short,
 * word counts moved between lanes, a word count of 65535, start states
 * 2^16 - 1, 2^16 and 2^32 - 1, streams of 0xFF, streams of random bytes,
 * empty streams. Every outcome (status, failing job, message, bytes) must
 * equal the scalar path's, one chunk alone and several through
 * df11_ans_decode_many (different tables and lengths, one corrupt and one
 * fine); a valid payload must give its elements back.
 */
#include "codec_util.h"
#include "../../codec/decompress/reader.h"


#include "guard_pages.h"

/* ---- tables and a reference encoder ---- */

typedef struct {
    df11_fmt_table tab[1 + DF11_ANS_CONTEXTS];
    df11_fmt_model model;
    uint32_t cum[1 + DF11_ANS_CONTEXTS][257];
    uint8_t sym[1 + DF11_ANS_CONTEXTS][1u << 14]; /* slot -> symbol, to draw elements */
} tables;

/* Frequencies summing to 2^bits over symbols < nsym: kind 0 skewed random,
 * 1 a single symbol, 2 nearly flat. */
static void make_freq(tu_rng *g, df11_fmt_table *t, unsigned bits, unsigned nsym, int kind)
{
    memset(t, 0, sizeof *t);
    t->prob_bits = bits;
    uint32_t total = 1u << bits;
    if (kind == 1) {
        t->freq[tu_below(g, nsym)] = (uint16_t)total;
        return;
    }
    double w[256], sum = 0;
    for (unsigned s = 0; s < nsym; s++) {
        w[s] = kind == 2 ? 1.0 : (tu_below(g, 3) ? 0.0 : exp(-(double)tu_below(g, 12)));
        sum += w[s];
    }
    if (sum == 0) w[0] = sum = 1;
    uint32_t left = total;
    for (unsigned s = 0; s < nsym; s++) {
        uint32_t f = w[s] > 0 ? (uint32_t)(w[s] / sum * (total - nsym)) + 1 : 0;
        if (f > left) f = left;
        t->freq[s] = (uint16_t)f;
        left -= f;
    }
    for (unsigned s = 0; left; s = (s + 1) % nsym) /* the rest to used symbols */
        if (t->freq[s]) t->freq[s]++, left--;
}

static void make_tables(tu_rng *g, tables *T, int kind)
{
    make_freq(g, &T->tab[0], 14, 256, kind);
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) make_freq(g, &T->tab[1 + c], 12, 128, kind);
    T->model.exp_table = 0;
    for (unsigned e = 0; e < 256; e++) T->model.ctx[e] = (uint8_t)tu_below(g, DF11_ANS_CONTEXTS);
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) T->model.mant_table[c] = 1 + c;
    for (unsigned k = 0; k <= DF11_ANS_CONTEXTS; k++) {
        uint32_t cum = 0;
        for (unsigned s = 0; s < 256; s++) {
            T->cum[k][s] = cum;
            for (uint32_t j = 0; j < T->tab[k].freq[s]; j++) T->sym[k][cum + j] = (uint8_t)s;
            cum += T->tab[k].freq[s];
        }
        T->cum[k][256] = cum;
    }
}

/* Elements drawn from the tables (so streams have realistic lengths). */
static void make_elems(tu_rng *g, const tables *T, uint16_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t e = T->sym[0][tu_below(g, 1u << 14)];
        uint32_t m = T->sym[1 + T->model.ctx[e]][tu_below(g, 1u << 12)];
        v[i] = (uint16_t)((tu_below(g, 2) << 15) | e << 7 | m);
    }
}

static void put(uint32_t *x, uint16_t **w, uint32_t f, uint32_t cum, unsigned bits)
{
    if ((uint64_t)*x >= (uint64_t)f << (32 - bits)) {
        *(*w)++ = (uint16_t)*x;
        *x >>= 16;
    }
    *x = (*x / f << bits) + *x % f + cum;
}

/* Payload of n elements v (FORMAT.md 9); *len its length. malloc'd. */
static uint8_t *encode(const tables *T, const uint16_t *v, uint32_t n, uint32_t *len)
{
    uint32_t nl = df11_lanes(n, DF11_ANS_LANE), head = DF11_ANS_LANE_HEAD * nl;
    uint16_t *tmp = malloc(sizeof(uint16_t) * (2 * (size_t)DF11_ANS_LANE + 2));
    uint8_t *p = malloc(head + 4 * (size_t)n + (n + 7) / 8 + 16);
    if (!tmp || !p) exit(1);
    size_t off = head;
    for (uint32_t k = 0; k < nl; k++) {
        uint32_t first = df11_lane_first(k, DF11_ANS_LANE), cnt = df11_lane_len(n, DF11_ANS_LANE, k);
        uint32_t x = DF11_ANS_LOW;
        uint16_t *w = tmp;
        for (uint32_t i = cnt; i-- > 0;) {
            uint32_t e = v[first + i] >> 7 & 0xFF, m = v[first + i] & 0x7F, c = 1 + T->model.ctx[e];
            put(&x, &w, T->tab[c].freq[m], T->cum[c][m], 12);
            put(&x, &w, T->tab[0].freq[e], T->cum[0][e], 14);
        }
        uint32_t nw = (uint32_t)(w - tmp);
        if (nw > UINT16_MAX) exit(1); /* cannot happen: 30 bits an element at most */
        df11_wr32(p + 4 * (size_t)k, x);
        df11_wr16(p + 4 * (size_t)nl + 2 * k, (uint16_t)nw);
        for (uint32_t j = 0; j < nw; j++) df11_wr16(p + off + 2 * j, tmp[nw - 1 - j]);
        off += 2 * (size_t)nw;
    }
    memset(p + off, 0, (n + 7) / 8);
    for (uint32_t i = 0; i < n; i++) p[off + i / 8] |= (uint8_t)((v[i] >> 15) << (i % 8));
    *len = (uint32_t)(off + (n + 7) / 8);
    free(tmp);
    return p;
}

/* ---- damage ---- */

enum { K_VALID, K_CUT_LAST, K_CUT_FIRST, K_MOVE, K_HUGE, K_STATE_LOW, K_STATE_2_16, K_STATE_MAX,
       K_FF, K_RANDOM, K_EMPTY, K_FLIP, K_SHORT, K_COUNT };
static const char *const kind_name[K_COUNT] = {
    "valid", "cut_last_lane", "cut_first_lane", "counts_moved", "count_65535", "state_2^16-1",
    "state_2^16", "state_2^32-1", "streams_ff", "streams_random", "streams_empty", "bit_flip",
    "payload_short"};

/* Stream area offsets of payload p (n elements). */
static void layout(const uint8_t *p, uint32_t n, uint32_t *nl, uint32_t *head, uint64_t *words)
{
    *nl = df11_lanes(n, DF11_ANS_LANE);
    *head = DF11_ANS_LANE_HEAD * *nl;
    *words = 0;
    for (uint32_t k = 0; k < *nl; k++) *words += df11_rd16(p + 4 * (size_t)*nl + 2 * k);
}

/* Removes (d > 0) or inserts (random) |d| words at word w of the streams,
 * and changes lane k's count by the same. */
static uint8_t *resize_lane(tu_rng *g, const uint8_t *p, uint32_t *len, uint32_t n, uint32_t k, int64_t d)
{
    uint32_t nl, head;
    uint64_t words;
    layout(p, n, &nl, &head, &words);
    uint64_t lane_end = 0;
    for (uint32_t j = 0; j <= k; j++) lane_end += df11_rd16(p + 4 * (size_t)nl + 2 * j);
    uint32_t cnt = df11_rd16(p + 4 * (size_t)nl + 2 * k);
    if (d < 0 && (uint64_t)-d > cnt) d = -(int64_t)cnt;
    if (d > 0 && cnt + d > UINT16_MAX) d = UINT16_MAX - cnt;
    size_t newlen = (size_t)((int64_t)*len + 2 * d);
    uint8_t *q = malloc(newlen + 1);
    if (!q) exit(1);
    size_t cut = head + 2 * (size_t)lane_end; /* the end of lane k's stream */
    if (d <= 0) {
        memcpy(q, p, cut - 2 * (size_t)-d);
        memcpy(q + cut - 2 * (size_t)-d, p + cut, *len - cut);
    } else {
        memcpy(q, p, cut);
        tu_fill_random(g, q + cut, 2 * (size_t)d);
        memcpy(q + cut + 2 * (size_t)d, p + cut, *len - cut);
    }
    df11_wr16(q + 4 * (size_t)nl + 2 * k, (uint16_t)(cnt + d));
    *len = (uint32_t)newlen;
    return q;
}

/* A damaged copy of payload p (or a plain copy for K_VALID). */
static uint8_t *damage(tu_rng *g, const uint8_t *p, uint32_t *len, uint32_t n, int kind)
{
    uint32_t nl, head;
    uint64_t words;
    layout(p, n, &nl, &head, &words);
    uint32_t lane = (uint32_t)tu_below(g, nl);
    uint8_t *q = NULL;
    switch (kind) {
    case K_CUT_LAST:
        return resize_lane(g, p, len, n, nl - 1, -(int64_t)(1 + tu_below(g, 8)));
    case K_CUT_FIRST:
        return resize_lane(g, p, len, n, 0, -(int64_t)(1 + tu_below(g, 3)));
    case K_HUGE:
        return resize_lane(g, p, len, n, lane, UINT16_MAX);
    case K_EMPTY: /* every count 0, the streams gone: lanes run on into the signs */
        q = malloc(*len + 1);
        memcpy(q, p, head);
        memset(q + 4 * (size_t)nl, 0, 2 * (size_t)nl);
        memcpy(q + head, p + head + 2 * words, *len - head - 2 * words);
        *len -= (uint32_t)(2 * words);
        return q;
    case K_SHORT: /* one byte less: the length check */
        q = malloc(*len);
        memcpy(q, p, *len - 1);
        *len -= 1;
        return q;
    default:
        break;
    }
    q = malloc(*len + 1);
    memcpy(q, p, *len);
    switch (kind) {
    case K_MOVE: {
        uint32_t b = (uint32_t)tu_below(g, nl);
        uint16_t wa = df11_rd16(q + 4 * (size_t)nl + 2 * lane), wb = df11_rd16(q + 4 * (size_t)nl + 2 * b);
        uint16_t d = (uint16_t)(1 + tu_below(g, 4));
        if (lane != b && wa >= d && wb <= UINT16_MAX - d) {
            df11_wr16(q + 4 * (size_t)nl + 2 * lane, (uint16_t)(wa - d));
            df11_wr16(q + 4 * (size_t)nl + 2 * b, (uint16_t)(wb + d));
        } else if (words) {
            q[head] ^= 0x40;
        }
        break;
    }
    case K_STATE_LOW: df11_wr32(q + 4 * (size_t)lane, DF11_ANS_LOW - 1); break;
    case K_STATE_2_16: df11_wr32(q + 4 * (size_t)lane, DF11_ANS_LOW); break;
    case K_STATE_MAX: df11_wr32(q + 4 * (size_t)lane, UINT32_MAX); break;
    case K_FF: memset(q + head, 0xFF, 2 * words); break;
    case K_RANDOM: tu_fill_random(g, q + head, 2 * words); break;
    case K_FLIP:
        if (words) q[head + tu_below(g, 2 * words)] ^= (uint8_t)(1u << tu_below(g, 8));
        break;
    default: break;
    }
    return q;
}

/* ---- decoding in guarded buffers ---- */

typedef struct {
    df11_status s;
    uint32_t bad;
    char why[160];
    uint16_t *out[4]; /* copies of the decoded elements */
} outcome;

typedef struct {
    const df11_ans_dtable *t; /* unguarded; copied next to a guard page */
    const uint8_t *p;
    uint32_t len, n;
} input;

/* Decodes count inputs together at SIMD level `level`, each payload, table
 * and output against a guard page (after, or before when front). */
static void run(const input *in, uint32_t count, int level, bool front, outcome *o)
{
    df11_ans_simd_force(level);
    region rp[4], rt[4], rd[4];
    df11_ans_job jobs[4];
    for (uint32_t j = 0; j < count; j++) {
        /* the slack always follows the payload (the reader's contract);
         * front: the payload's first byte right after the guard */
        uint8_t *pl = guarded(&rp[j], (size_t)in[j].len + DF11_PAYLOAD_SLACK, front);
        memcpy(pl, in[j].p, in[j].len);
        memset(pl + in[j].len, 0, DF11_PAYLOAD_SLACK);
        df11_ans_dtable *t = (df11_ans_dtable *)(void *)guarded(&rt[j], sizeof *t, front);
        memcpy(t, in[j].t, sizeof *t);
        uint8_t *d = guarded(&rd[j], 2 * (size_t)in[j].n, front);
        jobs[j] = (df11_ans_job){t, pl, in[j].len, in[j].n, d};
    }
    o->bad = UINT32_MAX;
    o->why[0] = 0;
    o->s = df11_ans_decode_many(jobs, count, &o->bad, o->why, sizeof o->why);
    for (uint32_t j = 0; j < count; j++) {
        o->out[j] = malloc(2 * (size_t)in[j].n);
        memcpy(o->out[j], jobs[j].dst, 2 * (size_t)in[j].n);
        unguard(&rp[j]), unguard(&rt[j]), unguard(&rd[j]);
    }
}

static void drop(outcome *o, uint32_t count)
{
    for (uint32_t j = 0; j < count; j++) free(o->out[j]);
}

static bool same(const outcome *a, const outcome *b, const input *in, uint32_t count)
{
    if (a->s != b->s) return false;
    if (a->s != DF11_OK) return a->bad == b->bad && strcmp(a->why, b->why) == 0;
    for (uint32_t j = 0; j < count; j++)
        if (memcmp(a->out[j], b->out[j], 2 * (size_t)in[j].n)) return false;
    return true;
}

static int hw;
static long cases, rejected;

/* One input set at every level and both placements: the scalar outcome
 * (level 0, guard after) is the reference. */
static bool check(const input *in, uint32_t count, outcome *ref)
{
    run(in, count, 0, false, ref);
    cases++;
    rejected += ref->s != DF11_OK;
    bool ok = true;
    for (int level = 0; level <= hw && ok; level++)
        for (int front = 0; front < 2 && ok; front++) {
            if (level == 0 && !front) continue;
            outcome o;
            run(in, count, level, front, &o);
            ok = same(ref, &o, in, count);
            if (!ok)
                printf("# %s: level %d front %d: status %d/%d bad %u/%u '%s' / '%s'\n", current,
                       level, front, ref->s, o.s, ref->bad, o.bad, ref->why, o.why);
            drop(&o, count);
        }
    return ok;
}

/* A --max file with two pairable ANS chunks, one of them damaged (lane 0's
 * start state zeroed): df11_decode_chunk_pair and df11_pread must refuse
 * with DF11_E_CORRUPT_CHUNK naming the file, the damaged chunk and its
 * payload offset, at every SIMD level; the other chunk alone decodes. */
static void pair_messages(tu_rng *g)
{
    char *dir = tu_tempdir();
    if (!dir) {
        tu_result(false, "ans_guard.pair_messages", "no temporary directory");
        return;
    }
    enum { N = 3 * 131072 + 5000 };
    static uint8_t w[2 * N];
    tu_fill_bf16(g, w, N, 0.02);
    tu_tensor t[] = {{"w", "BF16", N, w, sizeof w}};
    char in[4200], out[4200], bad[4200];
    snprintf(in, sizeof in, "%s/p.safetensors", dir);
    snprintf(out, sizeof out, "%s/p.df11", dir);
    snprintf(bad, sizeof bad, "%s/p-bad.df11", dir);
    size_t size = 0;
    uint8_t *orig = tu_write_safetensors(in, t, 1, &size);
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.chunk_log2 = 18;
    o.level = DF11_LEVEL_MAX;
    o.threads = 1;
    df11_error e = {0};
    df11_reader *r = NULL;
    bool ok = orig && df11_encode_file(in, out, &o, &e) == DF11_OK && df11_open(out, &r, &e) == DF11_OK;
    uint32_t idx = UINT32_MAX;
    for (uint32_t c = 0; ok && c + 1 < r->chunk_count && idx == UINT32_MAX; c++)
        if (df11_pairable(r, c)) idx = c;
    char detail[1200] = "";
    if (!ok || idx == UINT32_MAX) {
        snprintf(detail, sizeof detail, "no pairable ANS chunks (%s)", e.message);
        ok = false;
    }
    size_t fsize = 0;
    uint8_t *file = ok ? tu_read_file(out, &fsize) : NULL;
    uint8_t *d0 = malloc(1u << 18), *d1 = malloc(1u << 18), *all = malloc(size);
    for (uint32_t which = 0; ok && which < 2; which++) {
        const uint32_t victim = idx + which, other = idx + 1 - which;
        uint8_t *f = malloc(fsize);
        memcpy(f, file, fsize);
        memset(f + r->chunks[victim].payload_offset, 0, 4); /* lane 0 starts at 0 < 2^16 */
        df11_reader *rb = NULL;
        ok = tu_write_file(bad, f, fsize) && df11_open(bad, &rb, &e) == DF11_OK;
        char want_chunk[64], want_off[64];
        snprintf(want_chunk, sizeof want_chunk, "chunk %u:", victim);
        snprintf(want_off, sizeof want_off, "offset %llu:", (unsigned long long)r->chunks[victim].payload_offset);
        for (int level = 0; ok && level <= hw; level++) {
            df11_ans_simd_force(level);
            df11_error e1 = {0}, e2 = {0};
            df11_status s1 = df11_decode_chunk_pair(rb, idx, d0, d1, &e1);
            df11_status s2 = df11_pread(rb, all, size, 0, &e2);
            ok = s1 == DF11_E_CORRUPT_CHUNK && s2 == DF11_E_CORRUPT_CHUNK;
            for (int k = 0; k < 2 && ok; k++) {
                const char *m = k ? e2.message : e1.message;
                ok = strstr(m, bad) && strstr(m, want_chunk) && strstr(m, want_off);
            }
            uint64_t off;
            uint32_t len;
            df11_chunk_extent(rb, other, &off, &len);
            ok = ok && df11_decode_chunk(rb, other, d0, &e) == DF11_OK && memcmp(d0, orig + off, len) == 0;
            if (!ok)
                snprintf(detail, sizeof detail, "level %d, chunk %u damaged: pair %d '%s', pread %d '%s'",
                         level, victim, s1, e1.message, s2, e2.message);
        }
        df11_close(rb);
        free(f);
    }
    tu_result(ok, "ans_guard.pair_messages", "%s", detail);
    df11_ans_simd_force(-1);
    free(file), free(d0), free(d1), free(all), free(orig);
    df11_close(r);
    unlink(in), unlink(out), unlink(bad);
    rmdir(dir);
    free(dir);
}

/* n near 2^32 through the API (a file's chunks stop at 2^19 elements):
 * the sign plane's size must not wrap, so a payload of lane heads alone
 * (all word counts 0) is too short, refused before anything is written.
 * dst is one page against a guard page: a decoder that went on would
 * write past it. */
static void huge_n(void)
{
    const uint32_t ns[] = {UINT32_MAX, UINT32_MAX - 6, UINT32_MAX - 7};
    bool ok = true;
    char detail[200] = "";
    static tables T;
    tu_rng g = {7};
    make_tables(&g, &T, 1); /* one symbol: lanes without words decode */
    df11_ans_dtable *t = malloc(sizeof *t);
    df11_ans_dtable_build(T.tab, &T.model, t);
    for (size_t k = 0; k < sizeof ns / sizeof ns[0] && ok; k++) {
        const uint32_t n = ns[k], nl = df11_lanes(n, DF11_ANS_LANE);
        const uint32_t len = DF11_ANS_LANE_HEAD * nl;
        for (int level = 0; level <= hw && ok; level++) {
            df11_ans_simd_force(level);
            region rp, rd;
            uint8_t *p = guarded(&rp, (size_t)len + DF11_PAYLOAD_SLACK, false);
            memset(p, 0, (size_t)len + DF11_PAYLOAD_SLACK);
            for (uint32_t j = 0; j < nl; j++) df11_wr32(p + 4 * (size_t)j, DF11_ANS_LOW);
            uint8_t *d = guarded(&rd, page, false);
            snprintf(current, sizeof current, "ans_guard.huge_n (n %u, level %d)", n, level);
            char why[160] = "";
            df11_status s = df11_ans_decode(t, p, len, n, d, why, sizeof why);
            ok = s == DF11_E_CORRUPT_CHUNK;
            if (!ok) snprintf(detail, sizeof detail, "n %u level %d: status %d '%s'", n, level, s, why);
            unguard(&rp), unguard(&rd);
        }
    }
    free(t);
    df11_ans_simd_force(-1);
    tu_result(ok, "ans_guard.huge_n", "%s", detail);
}

int main(void)
{
    /* this tests the ANS (codec 3) decoders: --max files as 1.1 wrote them,
     * through the encoder's test hook (ANS_IL has tests/c/ans_il_decode.c) */
    setenv("DF11_ANS_CODEC", "3", 1);
    guard_init("ans_guard");
    uint64_t seed = tu_seed("ans_guard");
    tu_rng g = {seed};
    hw = df11_ans_simd_force(-1);
    printf("# SIMD level of this CPU: %d (0 scalar, 1 AVX2, 2 AVX-512VL)\n", hw);

    const uint32_t L = DF11_ANS_LANE;
    const uint32_t ns[] = {1, 7, 8, 9, L - 1, L, L + 1, 4 * L - 1, 4 * L, 4 * L + 1, 5 * L + 100,
                           8 * L - 1, 8 * L, 8 * L + 1, 12 * L + 3, 16 * L, 16 * L + 1, 64 * L};
    enum { NN = sizeof ns / sizeof ns[0], TK = 3 };
    static tables T[TK];
    df11_ans_dtable *dt[TK];
    for (int k = 0; k < TK; k++) {
        make_tables(&g, &T[k], k);
        dt[k] = malloc(sizeof *dt[k]);
        df11_ans_dtable_build(T[k].tab, &T[k].model, dt[k]);
    }

    /* valid payloads of every n under every table kind, kept for the pairs */
    uint16_t *elems[NN][TK];
    uint8_t *pay[NN][TK];
    uint32_t plen[NN][TK];
    for (int i = 0; i < NN; i++)
        for (int k = 0; k < TK; k++) {
            elems[i][k] = malloc(2 * (size_t)ns[i]);
            make_elems(&g, &T[k], elems[i][k], ns[i]);
            pay[i][k] = encode(&T[k], elems[i][k], ns[i], &plen[i][k]);
        }

    /* one chunk: every damage at every n */
    for (int kind = 0; kind < K_COUNT; kind++) {
        bool ok = true;
        for (int i = 0; i < NN && ok; i++)
            for (int k = 0; k < TK && ok; k++) {
                uint32_t len = plen[i][k];
                uint8_t *q = damage(&g, pay[i][k], &len, ns[i], kind);
                snprintf(current, sizeof current, "ans_guard.one.%s (n %u, tables %d, seed %llu)",
                         kind_name[kind], ns[i], k, (unsigned long long)seed);
                input in = {dt[k], q, len, ns[i]};
                outcome ref;
                ok = check(&in, 1, &ref);
                if (ok && kind == K_VALID) {
                    ok = ref.s == DF11_OK && memcmp(ref.out[0], elems[i][k], 2 * (size_t)ns[i]) == 0;
                    if (!ok) printf("# %s: status %d '%s' or wrong bytes\n", current, ref.s, ref.why);
                }
                if (ok && (kind == K_STATE_LOW || kind == K_SHORT ||
                           ((kind == K_CUT_LAST || kind == K_HUGE) && len != plen[i][k]))) {
                    ok = ref.s == DF11_E_CORRUPT_CHUNK; /* these can never decode */
                    if (!ok) printf("# %s: accepted\n", current);
                }
                drop(&ref, 1);
                free(q);
            }
        char name[96];
        snprintf(name, sizeof name, "ans_guard.one.%s", kind_name[kind]);
        tu_result(ok, name, "%s", current);
    }

    /* several chunks through df11_ans_decode_many: different n and tables,
     * any one damaged or none; against the scalar path and against each
     * chunk decoded alone */
    bool ok = true;
    for (int round = 0; round < 120 && ok; round++) {
        uint32_t count = 2 + (uint32_t)(round % 3 == 2) * (uint32_t)tu_below(&g, 3);
        input in[4];
        uint8_t *q[4];
        int bad_one = round % 4 == 0 ? -1 : (int)tu_below(&g, count);
        char desc[120] = "";
        for (uint32_t j = 0; j < count; j++) {
            int i = (int)tu_below(&g, NN), k = (int)tu_below(&g, TK);
            int kind = (int)j == bad_one ? 1 + (int)tu_below(&g, K_COUNT - 1) : K_VALID;
            uint32_t len = plen[i][k];
            q[j] = damage(&g, pay[i][k], &len, ns[i], kind);
            in[j] = (input){dt[k], q[j], len, ns[i]};
            size_t used = strlen(desc);
            snprintf(desc + used, sizeof desc - used, "%s%u/%s", j ? "+" : "", ns[i], kind_name[kind]);
        }
        snprintf(current, sizeof current, "ans_guard.many round %d %s (seed %llu)", round, desc,
                 (unsigned long long)seed);
        outcome ref;
        ok = check(in, count, &ref);
        /* alone, the scalar way: the set fails iff some chunk fails alone,
         * naming one that does; else the same bytes */
        bool any_bad = false;
        for (uint32_t j = 0; j < count && ok; j++) {
            outcome a;
            run(&in[j], 1, 0, false, &a);
            if (a.s != DF11_OK) {
                any_bad = true;
                if (ref.bad == j && (ref.s != a.s || strcmp(ref.why, a.why))) {
                    printf("# %s: chunk %u: '%s' together, '%s' alone\n", current, j, ref.why, a.why);
                    ok = false;
                }
            } else if (ref.s == DF11_OK && memcmp(a.out[0], ref.out[j], 2 * (size_t)in[j].n)) {
                printf("# %s: chunk %u decodes differently alone\n", current, j);
                ok = false;
            } else if (ref.s != DF11_OK && ref.bad == j) {
                printf("# %s: chunk %u named but decodes alone\n", current, j);
                ok = false;
            }
            drop(&a, 1);
        }
        if (ok && any_bad != (ref.s != DF11_OK)) {
            printf("# %s: together %d, a chunk alone %s\n", current, ref.s, any_bad ? "fails" : "decodes");
            ok = false;
        }
        drop(&ref, count);
        for (uint32_t j = 0; j < count; j++) free(q[j]);
    }
    tu_result(ok, "ans_guard.many", "%s", current);
    pair_messages(&g);
    huge_n();
    printf("# %ld decodes compared across levels, %ld rejected\n", cases, rejected);

    for (int i = 0; i < NN; i++)
        for (int k = 0; k < TK; k++) free(elems[i][k]), free(pay[i][k]);
    for (int k = 0; k < TK; k++) free(dt[k]);
    df11_ans_simd_force(-1);
    return tu_failures ? 1 : 0;
}
