/*
 * make_seeds: writes the seed inputs of tests/fuzz/corpus/ (see README.md).
 * Built by hand, not by the Makefile:
 *   cc -std=c11 -O1 -D_GNU_SOURCE -Icodec -o /tmp/make_seeds \
 *      tests/fuzz/make_seeds.c build/libdf11.a $(pkg-config --libs libcjson libzstd libxxhash libcrypto) -lm -pthread
 *   /tmp/make_seeds tests/fuzz/corpus
 * Seeds are small real inputs: valid .df11 files, valid code tables, valid
 * EXP payloads and safetensors headers. The generator is seeded, so the
 * output is the same every run (the encoder permitting).
 */
#include "../c/codec_util.h"
#include "../../codec/decompress/reader.h"

#include <zstd.h>

static const char *root;

static void put(const char *target, const char *name, const uint8_t *a, size_t an,
                const uint8_t *b, size_t bn)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/seed-%s", root, target, name);
    uint8_t *buf = malloc(an + bn + 1);
    if (an) memcpy(buf, a, an);
    if (bn) memcpy(buf + an, b, bn);
    if (!tu_write_file(path, buf, an + bn)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    free(buf);
}

/* A .df11 of the given tensors at a level, as container seeds: plain
 * (mode 0) and with the raw index (mode 3, see fuzz_container.c). */
static void container_seed(const char *name, const tu_tensor *t, size_t n, int level)
{
    char in[] = "/tmp/df11-seed.safetensors", out[] = "/tmp/df11-seed.df11";
    size_t size = 0;
    free(tu_write_safetensors(in, t, n, &size));
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.chunk_log2 = 16;
    o.level = level;
    df11_error e = {0};
    if (df11_encode_file(in, out, &o, &e) != DF11_OK) {
        fprintf(stderr, "%s\n", e.message);
        exit(1);
    }
    uint8_t *d = tu_read_file(out, &size);
    uint8_t mode = 0;
    char nm[256];
    snprintf(nm, sizeof nm, "%s.df11", name);
    put("container", nm, &mode, 1, d, size);
    /* the same file with its index decompressed */
    uint64_t io = df11_rd64(d + 72);
    uint64_t raw = (uint64_t)df11_rd32(d + 64) * DF11_SEGMENT_ENTRY_SIZE + (uint64_t)df11_rd32(d + 68) * DF11_CHUNK_ENTRY_SIZE +
                   (uint64_t)df11_rd32(d + 96) * DF11_FMT_TABLE_BYTES + (uint64_t)df11_rd32(d + 100) * DF11_FMT_MODEL_BYTES;
    uint8_t *f = malloc(io + raw + 1);
    memcpy(f, d, io);
    if (ZSTD_decompress(f + io, raw, d + io, size - io) != raw) exit(1);
    mode = 3;
    snprintf(nm, sizeof nm, "%s.rawindex", name);
    put("container", nm, &mode, 1, f, io + raw);
    free(f);
    free(d);
    unlink(in);
    unlink(out);
}

static void pack(const uint8_t len[256], uint8_t packed[128])
{
    for (int k = 0; k < 128; k++) packed[k] = (uint8_t)(len[2 * k] | len[2 * k + 1] << 4);
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    root = argv[1];
    mkdir(root, 0755);
    tu_rng g = {20240611};

    /* container */
    static uint8_t a[2 * 3000], c[2 * 600], f[4 * 300], i32[4 * 64], noise[2 * 500];
    tu_fill_bf16(&g, a, 3000, 0.02);
    for (int k = 0; k < 600; k++) {
        uint16_t v = (uint16_t)(0x3F80 | (tu_next(&g) & 0x807F));
        c[2 * k] = (uint8_t)v, c[2 * k + 1] = (uint8_t)(v >> 8);
    }
    tu_fill_f32(&g, f, 300, 0.02);
    for (int k = 0; k < 64; k++) i32[4 * k] = (uint8_t)k;
    tu_fill_random(&g, noise, sizeof noise);
    tu_tensor mixed[] = {
        {"a", "BF16", 3000, a, sizeof a}, {"c", "BF16", 600, c, sizeof c},
        {"f", "F32", 300, f, sizeof f},   {"i", "I32", 64, i32, sizeof i32},
        {"n", "BF16", 500, noise, sizeof noise},
    };
    container_seed("mixed", mixed, 5, DF11_LEVEL_DEFAULT);
    container_seed("bf16", mixed, 1, DF11_LEVEL_DEFAULT);
    container_seed("empty", NULL, 0, DF11_LEVEL_DEFAULT);
    /* --max F32 whose low halves have 13 zero bits (1.3), one of two 64
     * KiB chunks and a short one: EXP_LZ chunks through the 1.1 writer's
     * hook (no models for F32). Without it, ANS_IL_LZ chunks of weights on
     * a grid of 1/16 (whose mantissas pay for tables in a file this small)
     * with noise in their low halves (so zstd does not take the chunk) */
    static uint8_t lz[4 * 17000];
    tu_fill_f32(&g, lz, 17000, 0.02);
    for (int k = 0; k < 17000; k++) lz[4 * k] = 0, lz[4 * k + 1] &= 0xE0;
    tu_tensor lzt[] = {{"lz", "F32", 17000, lz, sizeof lz}, {"f", "F32", 300, f, sizeof f}};
    setenv("DF11_ANS_CODEC", "3", 1);
    container_seed("lz", lzt, 2, DF11_LEVEL_MAX);
    unsetenv("DF11_ANS_CODEC");
    static uint8_t grid[4 * 17000];
    for (int k = 0; k < 17000; k++) {
        float v = (float)(round(tu_gauss(&g) * 16) / 16 * 0.02);
        memcpy(grid + 4 * k, &v, 4);
        grid[4 * k] = (uint8_t)tu_next(&g), grid[4 * k + 1] = (uint8_t)tu_next(&g);
    }
    tu_tensor gt[] = {{"grid", "F32", 17000, grid, sizeof grid}, {"f", "F32", 300, f, sizeof f}};
    container_seed("lzil", gt, 2, DF11_LEVEL_MAX);

    /* table: packed lengths, then bytes for the round trip and raw payload */
    uint64_t freq[256] = {0};
    df11_exp_histogram(a, 3000, 2, freq);
    uint8_t len[256], packed[128], rest[600];
    tu_fill_random(&g, rest, sizeof rest);
    df11_huff_lengths(freq, len);
    pack(len, packed);
    put("table", "bf16", packed, 128, rest, sizeof rest);
    memset(len, 8, 256);
    pack(len, packed);
    put("table", "all8", packed, 128, rest, 300);
    memset(len, 0, 256);
    len[127] = 1;
    pack(len, packed);
    put("table", "constant", packed, 128, rest, 100);
    memset(len, 0, 256);
    for (int s = 0; s < 11; s++) len[120 + s] = (uint8_t)(s + 1);
    len[131] = 12, len[132] = 12;
    pack(len, packed);
    put("table", "deep12", packed, 128, rest, 200);

    /* decode: flags, n, histogram, then a valid payload for that code */
    for (int w = 0; w < 2; w++) {
        unsigned width = w ? 4 : 2;
        uint32_t n = 1500;
        uint8_t *src = malloc((size_t)n * width);
        for (uint32_t i = 0; i < n; i++) {
            uint16_t v = tu_f32_to_bf16((float)(tu_gauss(&g) * 0.02));
            uint8_t *q = src + (size_t)i * width;
            if (width == 4) q[0] = (uint8_t)tu_next(&g), q[1] = (uint8_t)tu_next(&g), q += 2;
            q[0] = (uint8_t)v, q[1] = (uint8_t)(v >> 8);
        }
        uint64_t h[256] = {0};
        df11_exp_histogram(src, n, width, h);
        uint8_t head[259];
        head[0] = (uint8_t)(w ? 1 : 0); /* lanes of 256 */
        head[1] = (uint8_t)n, head[2] = (uint8_t)(n >> 8);
        uint64_t hf[256];
        for (int s = 0; s < 256; s++) {
            uint64_t v = h[s] ? 1 + h[s] / 4 : 0;
            head[3 + s] = (uint8_t)(v > 255 ? 255 : v);
            hf[s] = head[3 + s];
        }
        uint16_t code[256];
        df11_huff_lengths(hf, len);
        df11_huff_canonical(len, code);
        size_t cap = 2 * n + (size_t)n * 12 / 8 + (size_t)n * (width - 1) + 64;
        uint8_t *out = malloc(cap);
        size_t plen = df11_exp_encode(src, n, width, 256, len, code, out, cap);
        put("decode", w ? "exp32" : "exp16", head, sizeof head, out, plen);
        free(out);
        free(src);
    }

    /* safetensors headers */
    const char *headers[] = {
        "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[4,12]}}",
        "{}",
        "{\"x\":{\"dtype\":\"BF16\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "h%zu", i);
        put("safetensors", nm, (const uint8_t *)headers[i], strlen(headers[i]), NULL, 0);
    }
    return 0;
}
