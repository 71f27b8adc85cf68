/*
 * decode_batch: the reader's batches of ANS_IL / ANS_IL_LZ chunks
 * (df11_batch_len, decode_group in reader_read.c) on layouts a review
 * found wrong, at every SIMD level. A batch may span tensors, holds at
 * most DF11_ANS_IL_TABLES models among its 16-lane chunks and decodes its
 * other chunks first; whatever it does, df11_pread of the whole file and
 * df11_verify must give the bytes of the original, or fail exactly as the
 * first chunk (in chunk order) that fails when decoded alone, naming it.
 *
 *  - tables: 1 MiB chunks (64 lanes) whose tensor ends in a 16-lane tail,
 *    then four one-chunk tensors with their own models: a valid file that
 *    failed to decode when the first tensor's model went uncounted.
 *  - checksum_first: chunk 1 only fails its checksum (a sign bit), chunk 3
 *    (the next tensor) fails to decode; chunk 1 must be named.
 *  - split_first: an F32 tensor whose full chunk and tail both have an
 *    ANS_IL_LZ length word past the payload; the full one must be named.
 */
#include "codec_util.h"
#include "ans_il_util.h"

typedef struct {
    const char *dtype;
    uint64_t n;
    double std;
} spec;

static uint8_t *orig;
static size_t osize;
static int max_level;

static bool build(tu_rng *g, const char *in, const char *out, const spec *s, int ns, uint32_t log2)
{
    tu_tensor t[8];
    uint8_t *data[8];
    static char names[8][16];
    for (int k = 0; k < ns; k++) {
        size_t w = strcmp(s[k].dtype, "F32") == 0 ? 4 : 2;
        data[k] = malloc(w * s[k].n);
        if (w == 4) tu_fill_f32(g, data[k], s[k].n, s[k].std);
        else tu_fill_bf16(g, data[k], s[k].n, s[k].std);
        snprintf(names[k], sizeof names[k], "t%d", k);
        t[k] = (tu_tensor){ names[k], s[k].dtype, s[k].n, data[k], w * s[k].n };
    }
    free(orig);
    orig = tu_write_safetensors(in, t, ns, &osize);
    for (int k = 0; k < ns; k++) free(data[k]);
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.level = DF11_LEVEL_MAX;
    o.threads = 1;
    o.chunk_log2 = log2;
    df11_error e;
    return orig && df11_encode_file(in, out, &o, &e) == DF11_OK;
}

/* Damages chunk `chunk` of the file at path into out: 0 the payload's last
 * byte (ANS_IL sign bits: only the checksum notices), 1 its middle (the
 * word stream), 2 an ANS_IL_LZ length word. */
static bool damage(const char *path, const char *out, const uint32_t *chunk, const int *kind, int n)
{
    df11_reader *r;
    df11_error e;
    size_t fs = 0;
    uint8_t *f = tu_read_file(path, &fs);
    if (!f || df11_open(path, &r, &e) != DF11_OK) return false;
    for (int k = 0; k < n; k++) {
        const df11_chunk *c = &r->chunks[chunk[k]];
        uint8_t *p = f + c->payload_offset;
        if (kind[k] == 0) p[c->payload_length - 1] ^= 1;
        else if (kind[k] == 1) p[c->payload_length / 2] ^= 0x5A;
        else p[2] ^= 0x40;
    }
    df11_close(r);
    bool ok = tu_write_file(out, f, fs);
    free(f);
    return ok;
}

/* pread of the whole file and verify, at every level, against the chunks
 * decoded alone: same bytes, or the first failing chunk's status and name.
 * need_span: a chunk that some batch must take from a later tensor (so the
 * case cannot pass without the layout it is about). */
static void check(const char *name, const char *path, uint32_t need_span)
{
    df11_reader *r;
    df11_error e;
    if (df11_open(path, &r, &e) != DF11_OK) {
        tu_result(false, name, "open: %s", e.message);
        return;
    }
    bool spans = need_span == UINT32_MAX;
    for (uint32_t s0 = 0; s0 < need_span && s0 < r->chunk_count && !spans; s0++)
        spans = s0 + df11_batch_len(r, s0, DF11_ANS_IL_BATCH) > need_span &&
                r->chunks[s0].segment != r->chunks[need_span].segment;
    uint8_t *buf = malloc(osize), *one = malloc((size_t)1 << r->chunk_log2);
    bool ok = spans;
    char why[1400] = "";
    if (!spans) snprintf(why, sizeof why, "no batch reaches chunk %u from an earlier tensor", need_span);
    for (int lv = 0; lv <= max_level && ok; lv++) {
        df11_ans_simd_force(lv);
        uint32_t first = UINT32_MAX;
        df11_status want = DF11_OK;
        for (uint32_t c = 0; c < r->chunk_count && first == UINT32_MAX; c++)
            if ((want = df11_decode_chunk(r, c, one, &e)) != DF11_OK) first = c;
        char named[32];
        snprintf(named, sizeof named, "chunk %u", first);
        df11_status s1 = df11_pread(r, buf, osize, 0, &e);
        bool ok1 = s1 == want && (want == DF11_OK ? memcmp(buf, orig, osize) == 0 : strstr(e.message, named) != NULL);
        df11_error e2;
        df11_status s2 = df11_verify(r, 1, NULL, NULL, &e2);
        bool ok2 = s2 == want && (want == DF11_OK || strstr(e2.message, named) != NULL);
        if (!ok1 || !ok2) {
            snprintf(why, sizeof why, "level %d: alone the first failure is %s (%s); pread says %s (%s), verify %s (%s)",
                     lv, first == UINT32_MAX ? "none" : named, df11_status_name(want), df11_status_name(s1),
                     s1 ? e.message : "", df11_status_name(s2), s2 ? e2.message : "");
            ok = false;
        }
    }
    df11_ans_simd_force(-1);
    tu_result(ok, name, "%s", why);
    free(buf);
    free(one);
    df11_close(r);
}

int main(void)
{
    tu_rng g = { tu_seed("decode_batch") };
    max_level = df11_ans_simd_level();
    char *dir = tu_tempdir(), in[4200], out[4200], bad[4200];
    if (!dir) return 1;
    snprintf(in, sizeof in, "%s/t.safetensors", dir);
    snprintf(out, sizeof out, "%s/t.df11", dir);
    snprintf(bad, sizeof bad, "%s/bad.df11", dir);
    {
        spec s[] = { { "BF16", 524288 + 131072, 0.02 }, { "BF16", 131072, 0.5 }, { "BF16", 131072, 3e-3 },
                     { "BF16", 131072, 20.0 }, { "BF16", 131072, 1e-5 } };
        if (build(&g, in, out, s, 5, 20)) check("decode_batch.tables", out, 5);
        else tu_result(false, "decode_batch.tables", "encode failed");
    }
    {
        spec s[] = { { "BF16", 131072 + 20000, 0.02 }, { "BF16", 3000, 0.5 } };
        uint32_t ch[2] = { 1, 3 };
        int kind[2] = { 0, 1 };
        if (build(&g, in, out, s, 2, 18) && damage(out, bad, ch, kind, 2)) check("decode_batch.checksum_first", bad, 3);
        else tu_result(false, "decode_batch.checksum_first", "encode failed");
    }
    {
        spec s[] = { { "F32", 65536 + 4000, 0.02 } };
        uint32_t ch[2] = { 1, 2 };
        int kind[2] = { 2, 2 };
        if (build(&g, in, out, s, 1, 18) && damage(out, bad, ch, kind, 2)) check("decode_batch.split_first", bad, UINT32_MAX);
        else tu_result(false, "decode_batch.split_first", "encode failed");
    }
    free(orig);
    unlink(in), unlink(out), unlink(bad), rmdir(dir);
    free(dir);
    return 0;
}
