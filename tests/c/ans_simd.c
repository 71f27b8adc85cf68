/*
 * ans_simd: the SIMD decoder of ANS chunks (codec/decompress/ans_simd.c)
 * against the scalar one, which stays the reference.
 *
 *  - round trips at every level this CPU has (0 scalar, 1 AVX2, 2
 *    AVX-512VL; df11_ans_simd_force): --max files at chunk sizes 2^16 (two
 *    lanes a chunk: scalar only), 2^18 (one group of eight lanes; pairs of
 *    chunks through df11_pread and df11_verify) and 2^20 (four groups a
 *    chunk, paired inside it), read whole, chunk by chunk and verified;
 *  - corrupt payloads (bytes flipped in the lane streams, states, word
 *    counts and sign plane; streams cut short): every level gives the same
 *    status, the same message and, when it decodes, the same bytes, one
 *    chunk alone and two chunks together. Payload buffers have exactly
 *    DF11_PAYLOAD_SLACK bytes past the payload, so ASan sees any read
 *    beyond what the format allows.
 */
#include "codec_util.h"
#include "../../codec/decompress/reader.h"

enum { N_BIG = 700000, N_FIVE = 5 * 16384 + 100 };

static uint8_t *make(const char *path, tu_rng *g, size_t *size)
{
    static uint8_t big[2 * N_BIG], five[2 * N_FIVE], wide[2 * N_BIG];
    tu_fill_bf16(g, big, N_BIG, 0.02);
    tu_fill_bf16(g, five, N_FIVE, 0.01);
    tu_fill_bf16(g, wide, N_BIG, 3.0); /* many exponents: long streams */
    tu_tensor t[] = {
        {"big", "BF16", N_BIG, big, sizeof big},
        {"five_lanes", "BF16", N_FIVE, five, sizeof five},
        {"wide", "BF16", N_BIG, wide, sizeof wide},
    };
    return tu_write_safetensors(path, t, 3, size);
}

/* Whole, chunk by chunk and verify: the original bytes at this level. */
static bool round_trip(df11_reader *r, const uint8_t *orig, size_t size)
{
    uint8_t *buf = malloc(size);
    bool ok = buf && df11_pread(r, buf, size, 0, NULL) == DF11_OK && memcmp(buf, orig, size) == 0;
    for (uint32_t c = 0; ok && c < df11_chunk_count(r); c++) {
        uint64_t off;
        uint32_t len;
        df11_chunk_extent(r, c, &off, &len);
        ok = df11_decode_chunk(r, c, buf, NULL) == DF11_OK && memcmp(buf, orig + off, len) == 0;
    }
    free(buf);
    return ok && df11_verify(r, 2, NULL, NULL, NULL) == DF11_OK;
}

/* A payload copy with exactly DF11_PAYLOAD_SLACK zero bytes after it. */
static uint8_t *copy_payload(const uint8_t *p, uint32_t len)
{
    uint8_t *c = calloc(1, (size_t)len + DF11_PAYLOAD_SLACK);
    if (c) memcpy(c, p, len);
    return c;
}

typedef struct {
    df11_status s;
    uint32_t bad;
    char why[160];
    uint8_t *out[2];
} outcome;

static void decode_at(int level, df11_ans_job *jobs, uint32_t count, outcome *o)
{
    df11_ans_simd_force(level);
    for (uint32_t j = 0; j < count; j++) {
        o->out[j] = calloc(1, (size_t)jobs[j].n * 2);
        jobs[j].dst = o->out[j];
    }
    o->bad = 0;
    o->why[0] = 0;
    o->s = df11_ans_decode_many(jobs, count, &o->bad, o->why, sizeof o->why);
}

static bool same(const outcome *a, const outcome *b, const df11_ans_job *jobs, uint32_t count)
{
    if (a->s != b->s) return false;
    if (a->s != DF11_OK) return a->bad == b->bad && strcmp(a->why, b->why) == 0;
    for (uint32_t j = 0; j < count; j++)
        if (memcmp(a->out[j], b->out[j], (size_t)jobs[j].n * 2) != 0) return false;
    return true;
}

/* One corruption of payload p (length len, n elements) in place. */
static void corrupt(tu_rng *g, uint8_t *p, uint32_t *len, uint32_t n, int kind)
{
    uint32_t nl = df11_lanes(n, DF11_ANS_LANE), head = DF11_ANS_LANE_HEAD * nl;
    uint32_t signs = (n + 7) / 8, words = *len - head - signs;
    switch (kind) {
    case 0: /* flips in the streams */
        for (int k = 0; k < 1 + (int)tu_below(g, 4); k++) p[head + tu_below(g, words)] ^= (uint8_t)(1u << tu_below(g, 8));
        break;
    case 1: /* a lane's state */
        p[tu_below(g, 4 * nl)] ^= (uint8_t)(1u << tu_below(g, 8));
        break;
    case 2: { /* word counts moved between two lanes: the sum still fits */
        uint32_t a = (uint32_t)tu_below(g, nl), b = (uint32_t)tu_below(g, nl);
        uint16_t wa = df11_rd16(p + 4 * nl + 2 * a), wb = df11_rd16(p + 4 * nl + 2 * b);
        uint16_t d = (uint16_t)(1 + tu_below(g, 40));
        if (a != b && wa >= d && wb <= UINT16_MAX - d) {
            df11_wr16(p + 4 * nl + 2 * a, (uint16_t)(wa - d));
            df11_wr16(p + 4 * nl + 2 * b, (uint16_t)(wb + d));
        } else {
            p[head] ^= 0x5A;
        }
        break;
    }
    case 3: /* the sign plane: decodes, other bytes */
        p[*len - 1 - tu_below(g, signs)] ^= (uint8_t)(1u << tu_below(g, 8));
        break;
    default: /* the last lane's stream zeroed from some point */
        memset(p + head + words - 1 - tu_below(g, words / 8 + 1) * 2, 0, 2);
        break;
    }
}

static int rejected, tried;

/* Corrupt payloads of ANS chunks c (and c + 1): the same outcome at every level. */
static bool differential(df11_reader *r, tu_rng *g, uint32_t c, uint32_t count, int hw, int rounds)
{
    const df11_ans_dtable *t = df11_ans_dtable_get(r, r->segments[r->chunks[c].segment].model - 1);
    if (!t) return false;
    bool ok = true;
    for (int round = 0; round < rounds && ok; round++) {
        df11_ans_job jobs[2];
        uint8_t *p[2] = {NULL, NULL};
        for (uint32_t j = 0; j < count; j++) {
            uint8_t *orig = NULL;
            if (df11_read_payload(r, c + j, &orig, NULL) != DF11_OK) return false;
            uint32_t len = r->chunks[c + j].payload_length, n = r->chunks[c + j].decoded_length / 2;
            p[j] = copy_payload(orig, len);
            free(orig);
            if (round > 0 && (j == 0 || tu_below(g, 2))) corrupt(g, p[j], &len, n, (int)tu_below(g, 5));
            jobs[j] = (df11_ans_job){t, p[j], len, n, NULL};
        }
        outcome ref, o;
        decode_at(0, jobs, count, &ref);
        if (round == 0) ok = ref.s == DF11_OK;
        else tried++, rejected += ref.s != DF11_OK;
        for (int level = 1; level <= hw && ok; level++) {
            decode_at(level, jobs, count, &o);
            ok = same(&ref, &o, jobs, count);
            if (!ok)
                printf("# level %d round %d: status %d/%d bad %u/%u '%s' / '%s'\n", level, round,
                       ref.s, o.s, ref.bad, o.bad, ref.why, o.why);
            for (uint32_t j = 0; j < count; j++) free(o.out[j]);
        }
        for (uint32_t j = 0; j < count; j++) free(ref.out[j]), free(p[j]);
    }
    return ok;
}

int main(void)
{
    /* this tests the ANS (codec 3) decoders: --max files as 1.1 wrote them,
     * through the encoder's test hook (ANS_IL has tests/c/ans_il_decode.c) */
    setenv("DF11_ANS_CODEC", "3", 1);
    uint64_t seed = tu_seed("ans_simd");
    tu_rng g = {seed};
    char *dir = tu_tempdir();
    if (!dir) return 1;
    char in[4200], out[4200];
    snprintf(in, sizeof in, "%s/w.safetensors", dir);
    size_t size = 0;
    uint8_t *orig = make(in, &g, &size);
    int hw = df11_ans_simd_force(-1);
    printf("# SIMD level of this CPU: %d (0 scalar, 1 AVX2, 2 AVX-512VL)\n", hw);
    const int logs[] = {16, 18, 20};
    for (int li = 0; li < 3; li++) {
        df11_encode_options o;
        df11_encode_options_default(&o);
        o.chunk_log2 = (uint32_t)logs[li];
        o.level = DF11_LEVEL_MAX;
        o.threads = 2;
        snprintf(out, sizeof out, "%s/w-%d.df11", dir, logs[li]);
        df11_error e = {0};
        df11_reader *r = NULL;
        bool opened = orig && df11_encode_file(in, out, &o, &e) == DF11_OK && df11_open(out, &r, &e) == DF11_OK;
        for (int level = 0; level <= 2; level++) {
            char name[96];
            snprintf(name, sizeof name, "ans_simd.roundtrip.chunk_log2_%d.level_%d", logs[li], level);
            if (level > hw) {
                printf("SKIP %s this CPU lacks it\n", name);
                continue;
            }
            df11_ans_simd_force(level);
            tu_result(opened && round_trip(r, orig, size), name, "%s", e.message);
        }
        /* differential corruption on the first ANS chunk with full lanes and on a pair */
        uint32_t c1 = UINT32_MAX, c2 = UINT32_MAX;
        for (uint32_t c = 0; r && c < r->chunk_count; c++) { /* the largest ANS chunk, a pair */
            if (r->chunks[c].codec != DF11_FMT_ANS) continue;
            if (c1 == UINT32_MAX || r->chunks[c].decoded_length > r->chunks[c1].decoded_length) c1 = c;
            if (c2 == UINT32_MAX && df11_pairable(r, c)) c2 = c;
        }
        char name[96];
        snprintf(name, sizeof name, "ans_simd.corrupt_same.chunk_log2_%d", logs[li]);
        bool ok = opened && c1 != UINT32_MAX && differential(r, &g, c1, 1, hw, 120);
        if (ok && c2 != UINT32_MAX) ok = differential(r, &g, c2, 2, hw, 60);
        tu_result(ok, name, "seed %llu", (unsigned long long)seed);
        df11_close(r);
        unlink(out);
    }
    unlink(in);
    rmdir(dir);
    free(dir);
    printf("# %d of %d corrupt payloads rejected (the others decode, all levels alike)\n", rejected, tried);
    df11_ans_simd_force(-1);
    free(orig);
    return tu_failures ? 1 : 0;
}
