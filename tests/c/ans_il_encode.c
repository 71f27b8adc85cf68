/*
 * ans_il_encode: the ANS_IL chunk encoder (codec/compress/ans_il_encode.c)
 * and what --max writes with it, checked against the normative reference
 * decoder df11_ans_il_decode_ref (codec/common/ans.h, FORMAT.md 10) and
 * nothing else of the reader, so it holds before and apart from the fast
 * decoders.
 *
 *  - chunks encoded directly, with models from df11_ans_plan (il): one
 *    symbol (all zeros, all 1.0), n = 1, below 16384 (one lane), 16384
 *    (16 lanes), n not a multiple of the lane count, 2^19 (64 lanes),
 *    random 16-bit words and F16-like data decode to themselves, in the
 *    same bytes as the decoder tests' independent encoder (ans_il_util.h:
 *    with the same tables there is one right payload); every
 *    table is 12-bit with no frequency 4096; a byte flipped in the lane
 *    states, the words or the sign plane is caught (the reference fails
 *    or the bytes differ); a symbol the model lacks makes the encoder
 *    return 0; a payload that does not fit its buffer is refused;
 *  - whole files through df11_encode_file at --max (a synthetic one with
 *    an all-zero tensor, and GPT-2 when ../shared/models has it): format
 *    1.2, flag ANS_IL and not ANS, every ANS_IL chunk decoded by the
 *    reference from the file's own index matches the original bytes and
 *    the chunk's XXH3; with the DF11_ANS_CODEC=3 test hook the file is a
 *    1.1 ANS file with 14-bit exponent tables instead.
 */
#include "codec_util.h"
#include "../../codec/compress/ans_model.h"
#include "ans_il_util.h" /* the decoder tests' encoder, written from FORMAT.md 10 alone */

#include <xxhash.h>
#include <zstd.h>

#define CAP_SLACK 64 /* the encoder gives a chunk 2C + 64 bytes */

/* ---- a model for one run of elements, as --max makes them ---- */

typedef struct {
    df11_ans_book book;
    uint32_t model; /* index in book */
    df11_ans_enc enc;
    uint32_t *eslot, *mslot;
} lib_model;

static bool table_fits_il(const df11_fmt_table *t)
{
    uint32_t sum = 0;
    for (int s = 0; s < 256; s++) {
        if (t->freq[s] >= 1u << DF11_ANS_IL_BITS) return false;
        sum += t->freq[s];
    }
    return t->prob_bits == DF11_ANS_IL_BITS && sum == 1u << DF11_ANS_IL_BITS;
}

static bool model_fits_il(const df11_fmt_table *tables, const df11_fmt_model *m)
{
    bool ok = table_fits_il(&tables[m->exp_table]);
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) {
        ok = ok && table_fits_il(&tables[m->mant_table[c]]);
        for (int s = 128; ok && s < 256; s++) ok = tables[m->mant_table[c]].freq[s] == 0;
    }
    return ok;
}

/* The reference decoder's tables of model m. */
static void il_tables(const df11_fmt_table *tables, const df11_fmt_model *m, uint32_t *eslot,
                      uint32_t *mslot)
{
    const uint16_t *mf[DF11_ANS_CONTEXTS];
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) mf[c] = tables[m->mant_table[c]].freq;
    df11_ans_il_build(tables[m->exp_table].freq, mf, eslot, mslot);
}

/* One EXP16 segment of n elements through df11_ans_plan: fitted contexts
 * from 2^16 elements on (as --max from 128 KiB), else by the mode. */
static bool model_of(const uint8_t *src, uint32_t n, lib_model *im)
{
    memset(im, 0, sizeof *im);
    uint64_t *joint = calloc(256 * 128, sizeof *joint);
    uint64_t *sctx = calloc(DF11_ANS_SCTX_WORDS, sizeof *sctx);
    uint64_t(*freq)[256] = calloc(1, sizeof *freq);
    uint64_t(*gctx)[128] = calloc(DF11_ANS_CONTEXTS, sizeof *gctx);
    bool ok = joint && sctx && freq && gctx;
    if (ok) {
        for (uint32_t i = 0; i < n; i++) joint[(src[2 * i] | src[2 * i + 1] << 8) & 0x7FFF]++;
        unsigned mode = 0;
        for (unsigned e = 0; e < 256; e++) {
            for (unsigned m = 0; m < 128; m++) freq[0][e] += joint[e * 128 + m];
            if (freq[0][e] > freq[0][mode]) mode = e;
        }
        uint8_t map[256];
        for (unsigned e = 0; e < 256; e++) map[e] = df11_ans_ctx_of((int)e, (int)mode);
        if (n >= 65536) df11_ans_ctx_map(joint, map);
        memcpy(sctx + DF11_ANS_CONTEXTS * 128, map, 256);
        for (unsigned e = 0; e < 256; e++)
            for (unsigned m = 0; m < 128; m++) {
                sctx[map[e] * 128 + m] += joint[e * 128 + m];
                gctx[map[e]][m] += joint[e * 128 + m];
            }
        uint8_t kind = DF11_SEG_EXP16, md = (uint8_t)mode;
        uint32_t seg_model = 0;
        uint64_t *sc[1] = {sctx};
        ok = df11_ans_plan(1, &kind, (const uint64_t(*)[256])freq, &md, sc, (const uint64_t(*)[128])gctx,
                           &im->book, &seg_model, true) == DF11_OK &&
             seg_model != 0;
        im->model = seg_model - 1;
    }
    free(joint), free(sctx), free(freq), free(gctx);
    if (!ok) return false;
    df11_ans_enc_build(&im->book, im->model, &im->enc);
    im->eslot = malloc(sizeof(uint32_t) << DF11_ANS_IL_BITS);
    im->mslot = malloc(sizeof(uint32_t) * DF11_ANS_CONTEXTS << DF11_ANS_IL_BITS);
    if (!im->eslot || !im->mslot) return false;
    il_tables(im->book.tables, &im->book.models[im->model], im->eslot, im->mslot);
    return model_fits_il(im->book.tables, &im->book.models[im->model]);
}

static void model_free(lib_model *im)
{
    df11_ans_book_free(&im->book);
    free(im->eslot), free(im->mslot);
}

/* ---- synthetic data ---- */

static uint16_t f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7FFFFFFFu;
    if (a >= 0x47800000u) return (uint16_t)(sign | 0x7C00u); /* overflow: inf */
    if (a < 0x33000000u) return (uint16_t)sign;              /* below half the least subnormal */
    int e = (int)(a >> 23) - 127;
    uint32_t mant = (a & 0x7FFFFFu) | 0x800000u;
    int shift = e < -14 ? 13 + (-14 - e) : 13; /* subnormals keep fewer bits */
    uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    uint32_t v = e < -14 ? q : ((uint32_t)(e + 15) << 10) + (q - 0x400u);
    return (uint16_t)(sign | v); /* a carry into the exponent is right */
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* ---- direct round trips ---- */

/* Encodes src with a model of its own, decodes with the reference and
 * checks the bytes; then damages the payload byte by byte. */
/* The layout direct() writes: FORMAT.md 10.1's (lane states carrying
 * signs, flag IL_SIGNS, what the library writes) or 10's. */
static bool cur_signs = true;

static void direct(tu_rng *g, const char *name, const uint8_t *src, uint32_t n, bool damage)
{
    const bool sg1 = cur_signs;
    lib_model im;
    char what[96];
    snprintf(what, sizeof what, "direct_%s", name);
    if (!model_of(src, n, &im)) {
        tu_result(false, what, "no model, or a table unfit for ANS_IL");
        model_free(&im);
        return;
    }
    size_t cap = 4 * (size_t)n + CAP_SLACK;
    uint8_t *out = malloc(cap), *dst = malloc(2 * (size_t)n + 1), *bad = malloc(cap);
    size_t len = out ? df11_ans_il_encode(src, n, &im.enc, sg1, out, cap) : 0;
    const df11_fmt_model *m = &im.book.models[im.model];
    bool ok = len > 0 && dst && bad &&
              df11_ans_il_decode_ref(out, len, n, im.eslot, im.mslot, m->ctx, sg1, dst) == 0 &&
              memcmp(dst, src, 2 * (size_t)n) == 0;
    tu_result(ok, what, "len %zu, n %u", len, n);
    if (!ok) goto done;

    /* every SIMD level of the encoder writes the same bytes */
    {
        int hw = df11_ans_simd_force(-1);
        for (int level = 0; level <= hw; level++) {
            memset(bad, 0x5A, cap);
            size_t l = df11_ans_il_encode_at(src, n, &im.enc, sg1, bad, cap, level);
            snprintf(what, sizeof what, "level%d_%s", level, name);
            tu_result(l == len && memcmp(bad, out, len) == 0, what, "%zu bytes against %zu", l, len);
        }
    }
    /* the independent encoder, given the same tables, writes the same bytes */
    {
        il_model um;
        memset(&um, 0, sizeof um);
        const df11_fmt_table *t = im.book.tables;
        memcpy(um.ef, t[m->exp_table].freq, sizeof um.ef);
        memcpy(um.ctx, m->ctx, sizeof um.ctx);
        for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) memcpy(um.mf[c], t[m->mant_table[c]].freq, sizeof um.mf[c]);
        il_model_finish(&um, NULL);
        uint16_t *v = malloc(2 * (size_t)n + 2);
        size_t len2 = 0;
        if (v) {
            memcpy(v, src, 2 * (size_t)n);
            len2 = il_encode(v, n, &um, sg1, bad, cap);
        }
        snprintf(what, sizeof what, "oracle_%s", name);
        tu_result(len2 == len && memcmp(bad, out, len) == 0, what, "%zu bytes against %zu", len2, len);
        free(v);
    }
    if (!damage) goto done;

    /* damaged payloads: every byte of the lane states and a sample of the
     * stream and of the sign plane (except the last sign byte, whose bits
     * past n the decoder ignores) */
    uint32_t nl = df11_ans_il_lanes(n);
    size_t head = 4 * (size_t)nl, sign = df11_ans_il_plane_bytes(n, df11_ans_il_carried(n, nl, sg1));
    size_t missed = 0, tried = 0;
    int tries = n > 100000 ? 24 : 160; /* each is a whole decode */
    for (int t = 0; t < tries; t++) {
        size_t at;
        if (t < tries / 4) at = (size_t)tu_below(g, head);
        else if (t < tries * 7 / 8 && len - sign > head) at = head + (size_t)tu_below(g, len - sign - head);
        else if (sign > 1) at = len - sign + (size_t)tu_below(g, sign - 1);
        else continue;
        memcpy(bad, out, len);
        bad[at] ^= (uint8_t)(1u << tu_below(g, 8));
        tried++;
        if (df11_ans_il_decode_ref(bad, len, n, im.eslot, im.mslot, m->ctx, sg1, dst) == 0 &&
            memcmp(dst, src, 2 * (size_t)n) == 0)
            missed++;
    }
    /* a stream one word short or long */
    if (len - sign > head) {
        memcpy(bad, out, len - sign - 2);
        memcpy(bad + len - sign - 2, out + len - sign, sign);
        missed += df11_ans_il_decode_ref(bad, len - 2, n, im.eslot, im.mslot, m->ctx, sg1, dst) == 0;
        tried++;
    }
    memcpy(bad, out, len - sign);
    bad[len - sign] = 0, bad[len - sign + 1] = 0;
    memcpy(bad + len - sign + 2, out + len - sign, sign);
    missed += df11_ans_il_decode_ref(bad, len + 2, n, im.eslot, im.mslot, m->ctx, sg1, dst) == 0;
    tried++;
    snprintf(what, sizeof what, "damaged_%s", name);
    tu_result(missed == 0, what, "%zu of %zu damaged payloads decoded to the original", missed, tried);

    /* too small a buffer: refused, never overrun (the slack is checked) */
    snprintf(what, sizeof what, "no_room_%s", name);
    uint8_t *small = malloc(len + 16);
    bool refused = small != NULL;
    static const size_t under[] = {1, 2, 3, 4, 5, 17, 64, 300};
    for (size_t u = 0; refused && u < sizeof under / sizeof *under && under[u] <= len; u++) {
        size_t c = len - under[u];
        memset(small, 0xA5, len + 16);
        refused = df11_ans_il_encode(src, n, &im.enc, sg1, small, c) == 0 && small[c] == 0xA5;
    }
    refused = refused && df11_ans_il_encode(src, n, &im.enc, sg1, small, len) == len &&
              memcmp(small, out, len) == 0;
    tu_result(refused, what, "a buffer under %zu bytes was not refused, or %zu failed", len, len);
    free(small);
done:
    free(out), free(dst), free(bad);
    model_free(&im);
}

/* A symbol the model has no frequency for: refused. */
static void missing_symbol(tu_rng *g)
{
    enum { N = 40000 };
    static uint8_t a[2 * N], b[2 * N];
    tu_fill_bf16(g, a, N, 0.02);
    memcpy(b, a, sizeof b);
    put16(b + 2 * (N / 2), 0x7F80); /* +inf: exponent 255, not in a */
    put16(a, 0x3F80);               /* and an exponent of a b lacks, so both tables differ */
    lib_model im;
    bool ok = model_of(a, N, &im);
    uint8_t *out = malloc(4 * N + CAP_SLACK);
    ok = ok && out && df11_ans_il_encode(b, N, &im.enc, true, out, 4 * N + CAP_SLACK) == 0;
    tu_result(ok, "missing_symbol_refused", NULL);
    free(out);
    model_free(&im);
}

/* ---- whole files ---- */

typedef struct {
    uint32_t il_chunks, ans_chunks;
    bool ok;
    char why[200];
} file_check;

/* Reads a .df11 file's index and decodes every ANS_IL chunk with the
 * reference decoder against orig. want_il: the file should be 1.4 with
 * flags ANS_IL and IL_SIGNS (want_signs) or 1.2 with flag ANS_IL alone;
 * else 1.1 with flag ANS and 14-bit exponent tables. */
static void check_file(const char *path, const uint8_t *orig, size_t orig_size, bool want_il,
                       bool want_signs, file_check *fc)
{
    memset(fc, 0, sizeof *fc);
    size_t size = 0;
    uint8_t *f = tu_read_file(path, &size), *ix = NULL, *dst = NULL;
    uint32_t *eslot = NULL, *mslot = NULL;
    df11_fmt_header h;
    if (!f || size < DF11_FMT_HEADER_BYTES) {
        snprintf(fc->why, sizeof fc->why, "cannot read %.150s", path);
        goto out;
    }
    df11_fmt_header_unpack(f, &h);
    uint32_t want_flag = want_il ? DF11_FMT_FLAG_ANS_IL | (want_signs ? DF11_FMT_FLAG_IL_SIGNS : 0) : DF11_FMT_FLAG_ANS;
    if (h.minor != (want_il ? want_signs ? 4 : 2 : 1) ||
        (h.flags & (DF11_FMT_FLAG_ANS | DF11_FMT_FLAG_ANS_IL | DF11_FMT_FLAG_IL_SIGNS)) != want_flag) {
        snprintf(fc->why, sizeof fc->why, "version 1.%u flags %#x", h.minor, h.flags);
        goto out;
    }
    size_t raw = (size_t)h.segment_count * DF11_FMT_SEGMENT_BYTES + (size_t)h.chunk_count * DF11_FMT_CHUNK_BYTES +
                 (size_t)h.table_count * DF11_FMT_TABLE_BYTES + (size_t)h.model_count * DF11_FMT_MODEL_BYTES;
    ix = malloc(raw + 1);
    if (!ix || h.index_offset + h.index_length != size ||
        ZSTD_decompress(ix, raw, f + h.index_offset, h.index_length) != raw) {
        snprintf(fc->why, sizeof fc->why, "index");
        goto out;
    }
    const uint8_t *segs = ix, *chunks = segs + (size_t)h.segment_count * DF11_FMT_SEGMENT_BYTES;
    const uint8_t *tabs = chunks + (size_t)h.chunk_count * DF11_FMT_CHUNK_BYTES;
    const uint8_t *mods = tabs + (size_t)h.table_count * DF11_FMT_TABLE_BYTES;
    df11_fmt_table *tables = calloc(h.table_count + 1, sizeof *tables);
    df11_fmt_model *models = calloc(h.model_count + 1, sizeof *models);
    if (!tables || !models) goto out2;
    for (uint32_t t = 0; t < h.table_count; t++) df11_fmt_table_unpack(tabs + (size_t)t * DF11_FMT_TABLE_BYTES, &tables[t]);
    for (uint32_t m = 0; m < h.model_count; m++) {
        df11_fmt_model_unpack(mods + (size_t)m * DF11_FMT_MODEL_BYTES, &models[m]);
        bool fit = want_il ? model_fits_il(tables, &models[m])
                           : tables[models[m].exp_table].prob_bits == DF11_ANS_EXP_BITS;
        if (!fit) {
            snprintf(fc->why, sizeof fc->why, "model %u does not fit the codec", m);
            goto out2;
        }
    }
    uint64_t C = 1ull << h.chunk_log2;
    eslot = malloc(sizeof(uint32_t) << DF11_ANS_IL_BITS);
    mslot = malloc(sizeof(uint32_t) * DF11_ANS_CONTEXTS << DF11_ANS_IL_BITS);
    dst = malloc(C);
    if (!eslot || !mslot || !dst) goto out2;
    uint32_t built = UINT32_MAX;
    for (uint32_t s = 0; s < h.segment_count; s++) {
        df11_fmt_segment sg;
        df11_fmt_segment_unpack(segs + (size_t)s * DF11_FMT_SEGMENT_BYTES, &sg);
        uint64_t nch = (sg.orig_length + C - 1) / C;
        for (uint64_t j = 0; j < nch; j++) {
            df11_fmt_chunk c;
            df11_fmt_chunk_unpack(chunks + (sg.first_chunk + j) * DF11_FMT_CHUNK_BYTES, &c);
            fc->ans_chunks += c.codec == DF11_FMT_ANS;
            if (c.codec != DF11_FMT_ANS_IL) continue;
            uint64_t off = sg.orig_offset + j * C, d = sg.orig_length - j * C < C ? sg.orig_length - j * C : C;
            if (!want_il || sg.kind != DF11_SEG_EXP16 || !sg.model || sg.model > h.model_count ||
                off + d > orig_size || c.payload_offset + c.payload_length > h.index_offset) {
                snprintf(fc->why, sizeof fc->why, "segment %u chunk %llu: bad ANS_IL entry", s,
                         (unsigned long long)j);
                goto out2;
            }
            if (built != sg.model - 1) il_tables(tables, &models[sg.model - 1], eslot, mslot), built = sg.model - 1;
            int r = df11_ans_il_decode_ref(f + c.payload_offset, c.payload_length, (uint32_t)(d / 2), eslot,
                                           mslot, models[sg.model - 1].ctx, want_signs, dst);
            if (r || memcmp(dst, orig + off, d) != 0 || XXH3_64bits(dst, d) != c.xxh3) {
                snprintf(fc->why, sizeof fc->why, "segment %u chunk %llu (offset %llu): ref %d, bytes %s", s,
                         (unsigned long long)j, (unsigned long long)off, r,
                         memcmp(dst, orig + off, d) ? "differ" : "same");
                goto out2;
            }
            fc->il_chunks++;
        }
    }
    fc->ok = want_il ? fc->il_chunks > 0 && fc->ans_chunks == 0 : fc->il_chunks == 0 && fc->ans_chunks > 0;
    if (!fc->ok) snprintf(fc->why, sizeof fc->why, "%u ANS_IL and %u ANS chunks", fc->il_chunks, fc->ans_chunks);
out2:
    free(tables), free(models);
out:
    free(f), free(ix), free(dst), free(eslot), free(mslot);
}

static void whole_file(const char *name, const char *in, const char *dir, unsigned chunk_log2)
{
    size_t size = 0;
    uint8_t *orig = tu_read_file(in, &size);
    char out[4096], what[96];
    snprintf(out, sizeof out, "%s/%s.df11", dir, name);
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.level = DF11_LEVEL_MAX;
    o.threads = 2;
    o.chunk_log2 = chunk_log2;
    /* the library's --max (1.4), then the test hooks: 1.1's ANS, 1.2's
     * ANS_IL without signs in the states */
    for (int hook = 0; hook < 3; hook++) {
        if (hook) setenv("DF11_ANS_CODEC", hook == 1 ? "3" : "5", 1);
        df11_error err = {0};
        file_check fc = {0};
        snprintf(what, sizeof what, "%s_%s", hook == 1 ? "file_hook3" : hook ? "file_hook5" : "file_il", name);
        if (!orig || df11_encode_file(in, out, &o, &err) != DF11_OK) {
            tu_result(false, what, "encode: %s", err.message);
        } else {
            check_file(out, orig, size, hook != 1, hook == 0, &fc);
            tu_result(fc.ok, what, "%s", fc.why);
            if (fc.ok && hook != 1) printf("# %s: %u ANS_IL chunks decoded by the reference\n", name, fc.il_chunks);
        }
        unsetenv("DF11_ANS_CODEC");
        unlink(out);
    }
    free(orig);
}

int main(void)
{
    tu_rng g = {tu_seed("ans_il_encode")};
    enum { BIG = 1u << 19 };
    uint8_t *b = malloc(2 * (size_t)BIG);
    if (!b) return 1;

    memset(b, 0, 2 * (size_t)BIG);
    direct(&g, "zeros_100000", b, 100000, true); /* one symbol: 4095 + 1 */
    direct(&g, "zeros_1", b, 1, true);
    for (uint32_t i = 0; i < 50000; i++) put16(b + 2 * i, 0x3F80);
    direct(&g, "ones_50000", b, 50000, true);

    static const struct {
        const char *name;
        uint32_t n;
    } sizes[] = {
        {"n1", 1},           {"n7", 7},           {"n1000", 1000},     {"n16383", 16383},
        {"n16384", 16384},   {"n16389", 16389},   {"n131072", 131072}, {"n131073", 131073},
        {"n262221", 262221}, {"n400000", 400000}, {"n2p19", BIG},
    };
    tu_fill_bf16(&g, b, BIG, 0.02);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        cur_signs = i % 2 == 0; /* both layouts at every lane count */
        direct(&g, sizes[i].name, b, sizes[i].n, true);
    }
    cur_signs = true;
    tu_fill_bf16(&g, b, BIG, 3.0); /* many exponents, long streams */
    direct(&g, "wide_2p19", b, BIG, true);

    tu_fill_random(&g, b, 2 * (size_t)BIG); /* every exponent, flat mantissas */
    direct(&g, "random_200000", b, 200000, true);
    direct(&g, "random_2p19", b, BIG, true);

    for (uint32_t i = 0; i < BIG; i++) put16(b + 2 * i, f32_to_f16((float)(tu_gauss(&g) * 0.05)));
    direct(&g, "f16_2p19", b, BIG, true);
    direct(&g, "f16_30001", b, 30001, true);
    missing_symbol(&g);

    char *dir = tu_tempdir();
    if (!dir) return 1;
    /* a file with an all-zero tensor (one exponent), small tensors and an
     * F16 one, at two chunk sizes (one lane per chunk at 2^16 bytes) */
    {
        enum { NZ = 300000, NW = 200000, NS = 3000, NF = 250000 };
        uint8_t *z = calloc(2, NZ), *w = malloc(2 * NW), *s = malloc(2 * NS), *h = malloc(2 * NF);
        if (!z || !w || !s || !h) return 1;
        tu_fill_bf16(&g, w, NW, 0.03);
        tu_fill_bf16(&g, s, NS, 1.0);
        for (uint32_t i = 0; i < NF; i++) put16(h + 2 * i, f32_to_f16((float)(tu_gauss(&g) * 0.1)));
        tu_tensor t[] = {
            {"zeros", "BF16", NZ, z, 2 * NZ},
            {"w", "BF16", NW, w, 2 * NW},
            {"small", "BF16", NS, s, 2 * NS},
            {"half", "F16", NF, h, 2 * NF},
        };
        char in[4096];
        snprintf(in, sizeof in, "%s/synthetic.safetensors", dir);
        size_t size;
        uint8_t *all = tu_write_safetensors(in, t, 4, &size);
        if (!all) return 1;
        whole_file("synthetic", in, dir, 18);
        whole_file("synthetic_c16", in, dir, 16);
        whole_file("synthetic_c20", in, dir, 20);
        unlink(in);
        free(all), free(z), free(w), free(s), free(h);
    }

    /* GPT-2: direct chunks of its data (tensors run together) and the file */
    const char *model = getenv("DF11_TEST_MODEL");
    char path[4096];
    const char *root = getenv("DF11_ROOT");
    if (!model) {
        snprintf(path, sizeof path, "%s/../shared/models/gpt2-small-partial.bf16.safetensors", root ? root : ".");
        model = access(path, R_OK) == 0 ? path : "/work/shared/models/gpt2-small-partial.bf16.safetensors";
    }
    size_t msize = 0;
    uint8_t *m = access(model, R_OK) == 0 ? tu_read_file(model, &msize) : NULL;
    if (!m || msize < 8) {
        printf("SKIP gpt2 %s not found\n", model);
    } else {
        uint64_t hl = 0;
        for (int i = 0; i < 8; i++) hl |= (uint64_t)m[i] << (8 * i);
        size_t at = 8 + (size_t)hl, count = 0;
        /* chunk sizes of 2^19, 2^17 and 2^14 - 1 elements in turn */
        static const uint32_t step[] = {BIG, 131072, 16383};
        char nm[64];
        for (int k = 0; at + 2 <= msize && k < 40; k++) {
            uint32_t n = step[k % 3];
            if ((msize - at) / 2 < n) n = (uint32_t)((msize - at) / 2);
            snprintf(nm, sizeof nm, "gpt2_at_%zu", at);
            cur_signs = k % 4 != 3;
            direct(&g, nm, m + at, n, k < 3);
            cur_signs = true;
            at += 2 * (size_t)n;
            count++;
        }
        whole_file("gpt2", model, dir, 18);
        free(m);
    }
    rmdir(dir);
    free(dir);
    free(b);
    return tu_failures ? 1 : 0;
}
