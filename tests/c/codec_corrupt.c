/*
 * codec_corrupt: damaged .df11 files must be refused, never decoded into
 * wrong bytes. A small file holding RAW, ZSTD and EXP chunks (EXP16 with
 * several lanes, EXP32, a constant code, a segment of two chunks) is
 * truncated at many lengths and has every one of its bytes flipped (XOR
 * 0x01 and 0xFF). A second file, written at --max through the 1.1
 * writer's hook with a BF16-widened F32 tensor and one with structured
 * low halves, gets the same sweep over its ANS, EXP_HI and EXP_LZ chunks
 * and the ANS tables and models in its index, and a third, --max as the library
 * writes it, over its ANS_IL chunks and the ANS_IL_LZ chunks of its F32
 * tensors (and their models), written as 1.4 writes them (lane states
 * carrying signs, flag IL_SIGNS). For each damaged file,
 * df11_open either fails, or every
 * read of the whole original fails or returns exactly the original bytes.
 * Every error message must name the file and an offset.
 */
#include "codec_util.h"

#include <math.h>
#include "../../codec/decompress/reader.h"

/* Test names: "corrupt." for the 1.0 file, "corrupt.max." for --max. */
static const char *prefix = "corrupt.";
static const char *nm(const char *suffix)
{
    static char buf[4][96];
    static unsigned k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s%s", prefix, suffix);
    return b;
}

/* Where each region of the test file lies, for reporting. */
typedef struct { uint64_t start, end; const char *what; } region;
static region regions[64];
static size_t nregions;

static const char *region_of(uint64_t off)
{
    for (size_t i = 0; i < nregions; i++)
        if (off >= regions[i].start && off < regions[i].end) return regions[i].what;
    return "?";
}

typedef struct {
    const char *path;
    const uint8_t *orig;
    size_t orig_size;
    size_t tensors;
    uint8_t *buf;
    /* outcomes */
    unsigned open_fail[32], read_fail[32], opened, identical, wrong, bad_message;
    char first_wrong[256], first_bad_message[DF11_ERROR_MESSAGE_MAX + 64];
} sweep;

static void note_error(sweep *w, df11_status st, const df11_error *e)
{
    if (e->code == st && strstr(e->message, w->path) && strstr(e->message, "offset")) return;
    if (!w->bad_message++)
        snprintf(w->first_bad_message, sizeof w->first_bad_message, "%s (code %s): %s",
                 df11_status_name(st), df11_status_name(e->code), e->message);
}

/* Opens w->path and classifies the result; what tells where the damage is. */
static void try_file(sweep *w, const char *what)
{
    df11_reader *r = NULL;
    df11_error e = {0};
    df11_status st = df11_open(w->path, &r, &e);
    if (st != DF11_OK) {
        w->open_fail[st & 31]++;
        note_error(w, st, &e);
        return;
    }
    w->opened++;
    bool failed = false;
    if (df11_original_size(r) != w->orig_size) {
        /* possible only if the header checksum let a changed size through */
        failed = true;
        if (!w->wrong++)
            snprintf(w->first_wrong, sizeof w->first_wrong, "%s: size %llu opened", what,
                     (unsigned long long)df11_original_size(r));
    }
    if (!failed) {
        memset(w->buf, 0xA5, w->orig_size);
        st = df11_pread(r, w->buf, w->orig_size, 0, &e);
        if (st != DF11_OK) {
            w->read_fail[st & 31]++;
            note_error(w, st, &e);
            failed = true;
        } else if (memcmp(w->buf, w->orig, w->orig_size) != 0) {
            failed = true;
            if (!w->wrong++) snprintf(w->first_wrong, sizeof w->first_wrong, "%s: wrong bytes read", what);
        }
    }
    size_t count = 0;
    e = (df11_error){0};
    st = df11_tensor_count(r, &count, &e);
    if (st != DF11_OK) note_error(w, st, &e);
    else if (count != w->tensors && !w->wrong++)
        snprintf(w->first_wrong, sizeof w->first_wrong, "%s: %zu tensors listed", what, count);
    if (!failed) {
        /* a damaged file whose every read is right: the damage is in bits
         * the decoder may ignore (the padding after the last lane) */
        e = (df11_error){0};
        st = df11_verify(r, 1, NULL, NULL, &e);
        if (st == DF11_OK) w->identical++;
        else if (!w->wrong++)
            snprintf(w->first_wrong, sizeof w->first_wrong, "%s: reads right but verify says %s", what,
                     df11_status_name(st));
    }
    df11_close(r);
}

static void print_outcomes(const sweep *w, const char *label, unsigned tries)
{
    printf("# %s: %u damaged files: %u read back identical, %u wrong\n", label, tries, w->identical,
           w->wrong);
    for (int s = 0; s < 32; s++) {
        if (w->open_fail[s]) printf("#   open fails %-24s %u\n", df11_status_name((df11_status)s), w->open_fail[s]);
        if (w->read_fail[s]) printf("#   read fails %-24s %u\n", df11_status_name((df11_status)s), w->read_fail[s]);
    }
}

/* The test file; returns the .df11 bytes. */
static uint8_t *make_file(const char *dir, tu_rng *g, int level, uint8_t **orig,
                          size_t *orig_size, size_t *df11_size, size_t *ntensors)
{
    enum { N_U8 = 300, N_ONE = 32768, N_NOISE = 1000, N_A = 5000, N_A_MAX = 17000, N_CONST = 500, N_I64 = 2048, N_F32 = 1000, N_B = 3000 };
    static uint8_t u8[N_U8], noise[2 * (N_ONE + N_NOISE)], a[2 * N_A_MAX], c[2 * N_CONST], i64[8 * N_I64], f32[4 * N_F32], b[2 * N_B];
    tu_fill_random(g, u8, sizeof u8);
    /* a first chunk of 1.0s (zstd), then random bits that the segment's
     * code, dominated by 1.0, spends long codes on: a RAW chunk */
    for (int k = 0; k < N_ONE; k++) noise[2 * k] = 0x80, noise[2 * k + 1] = 0x3F;
    tu_fill_random(g, noise + 2 * N_ONE, 2 * N_NOISE);
    /* --max: weights on a grid of 1/16 (few mantissa bits), where the
     * mantissa tables pay for themselves in a file this small; 17000 of
     * them so that an ANS_IL chunk has 16 lanes and a short last group */
    const size_t n_a = level ? N_A_MAX : N_A;
    tu_fill_bf16(g, a, n_a, 0.02);
    for (size_t k = 0; level && k < n_a; k++) {
        float f = (float)(round(tu_gauss(g) * 16) / 16 * 0.02);
        uint16_t v = tu_f32_to_bf16(f);
        a[2 * k] = (uint8_t)v, a[2 * k + 1] = (uint8_t)(v >> 8);
    }
    for (int k = 0; k < N_CONST; k++) {
        uint16_t v = (uint16_t)(0x3F80 | (tu_next(g) & 0x807F)); /* +-[1, 2): one exponent */
        c[2 * k] = (uint8_t)v, c[2 * k + 1] = (uint8_t)(v >> 8);
    }
    for (int k = 0; k < N_I64; k++) { /* small integers: zstd squeezes them */
        uint64_t v = (uint64_t)k / 7;
        memcpy(i64 + 8 * k, &v, 8);
    }
    tu_fill_f32(g, f32, N_F32, 0.02);
    tu_fill_bf16(g, b, N_B, 0.05);
    static uint8_t wide[4 * N_F32];
    for (int k = 0; k < N_F32; k++) /* BF16 widened to F32: low halves zero */
        memcpy(wide + 4 * k + 2, f32 + 4 * k + 2, 2), wide[4 * k] = wide[4 * k + 1] = 0;
    static uint8_t tf32[4 * N_F32];
    for (int k = 0; k < N_F32; k++) { /* 13 low bits zero: planes zstd squeezes (EXP_LZ) */
        uint32_t v;
        memcpy(&v, f32 + 4 * k, 4);
        v &= ~0x1FFFu;
        memcpy(tf32 + 4 * k, &v, 4);
    }
    tu_tensor t[] = {
        {"u8_random", "U8", N_U8, u8, sizeof u8},
        {"bf16_ones_noise", "BF16", N_ONE + N_NOISE, noise, sizeof noise},
        {"bf16_a", "BF16", n_a, a, 2 * n_a},        /* EXP16, three lanes */
        {"bf16_const_exp", "BF16", N_CONST, c, sizeof c},
        {"i64_small", "I64", N_I64, i64, sizeof i64}, /* ZSTD */
        {"f32", "F32", N_F32, f32, sizeof f32},     /* EXP32 */
        {"bf16_b", "BF16", N_B, b, sizeof b},
        {"f32_widened", "F32", N_F32, wide, sizeof wide}, /* EXP_HI */
        {"f32_tf32", "F32", N_F32, tf32, sizeof tf32},    /* --max: EXP_LZ */
    };
    char in[4200], out[4200];
    snprintf(in, sizeof in, "%s/small.safetensors", dir);
    snprintf(out, sizeof out, "%s/small.df11", dir);
    *ntensors = sizeof t / sizeof t[0] - 2 * (level == DF11_LEVEL_DEFAULT);
    *orig = tu_write_safetensors(in, t, *ntensors, orig_size);
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.chunk_log2 = 16;
    o.level = level;
    df11_error e = {0};
    uint8_t *d = NULL;
    if (*orig && df11_encode_file(in, out, &o, &e) == DF11_OK) d = tu_read_file(out, df11_size);
    else printf("# encode failed: %s\n", e.message);
    unlink(in);
    unlink(out);
    return d;
}

/* The file has what the sweeps are meant to damage. */
static bool check_shape(const char *path, int level, uint64_t *bounds, size_t *nbounds)
{
    df11_reader *r = NULL;
    if (df11_open(path, &r, NULL) != DF11_OK) return false;
    nregions = 0;
    bool codec[8] = {0}, constant = false, exp32 = false, multi = false, lanes = false;
    size_t nb = 0;
    static const char *const names[8] = {"RAW chunk", "ZSTD chunk", "EXP chunk", "ANS chunk",
                                         "EXP_HI chunk", "ANS_IL chunk", "EXP_LZ chunk", "ANS_IL_LZ chunk"};
    bounds[nb++] = DF11_HEADER_SIZE;
    regions[nregions++] = (region){0, DF11_HEADER_SIZE, "header"};
    for (uint32_t i = 0; i < r->chunk_count && nregions < 62; i++) {
        const df11_chunk *c = &r->chunks[i];
        const df11_segment *s = &r->segments[c->segment];
        regions[nregions++] = (region){c->payload_offset, c->payload_offset + c->payload_length,
                                                   names[c->codec]};
        codec[c->codec] = true;
        if (c->codec == 2 && df11_segment_dtable(r, c->segment)->constant) constant = true;
        if (c->codec == 2 && s->kind == DF11_SEG_EXP32) exp32 = true;
        if (c->codec == 2 && c->decoded_length / 2 > 2 * r->lane_symbols) lanes = true;
        if (s->chunk_count > 1) multi = true;
        bounds[nb++] = c->payload_offset + c->payload_length;
    }
    bounds[nb++] = r->index_offset;
    regions[nregions++] = (region){r->index_offset, r->file_size, "index (zstd frame)"};
    *nbounds = nb;
    printf("# test file: %u segments, %u chunks, index at %llu of %llu bytes\n", r->segment_count,
           r->chunk_count, (unsigned long long)r->index_offset, (unsigned long long)r->file_size);
    df11_close(r);
    bool ok = codec[0] && codec[1] && codec[2] && constant && exp32 && multi && lanes;
    /* --max writes ANS_IL; DF11_ANS_CODEC=3 (the 1.1 writer) ANS */
    bool il = !getenv("DF11_ANS_CODEC");
    if (level != DF11_LEVEL_DEFAULT)
        /* F32 upper halves take ANS_IL (ANS_IL_LZ) only where ANS_IL is the codec */
        ok = codec[0] && codec[1] && codec[il ? 5 : 3] && !codec[il ? 3 : 5] && codec[il ? 7 : 4] &&
             (il || codec[6]) && multi;
    if (!ok)
        printf("# shape: raw %d zstd %d exp %d ans %d exp_hi %d ans_il %d exp_lz %d ans_il_lz %d constant %d exp32 %d multi-chunk %d 3-lane %d\n",
               codec[0], codec[1], codec[2], codec[3], codec[4], codec[5], codec[6], codec[7], constant, exp32,
               multi, lanes);
    return ok;
}

static void truncations(sweep *w, const uint8_t *d, size_t size, const uint64_t *bounds,
                        size_t nbounds)
{
    unsigned tries = 0;
    for (size_t len = 0; len < size; len++) {
        bool pick = len < 256 || len + 2048 >= size || len % 61 == 0;
        for (size_t k = 0; !pick && k < nbounds; k++)
            pick = len + 1 >= bounds[k] && len <= bounds[k] + 1;
        if (!pick) continue;
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu bytes", len);
        if (!tu_write_file(w->path, d, len)) {
            tu_result(false, nm("truncate"), "cannot write %s", w->path);
            return;
        }
        try_file(w, what);
        tries++;
    }
    /* and one byte too many: the index must end at the end of the file */
    uint8_t *longer = malloc(size + 1);
    if (longer) {
        memcpy(longer, d, size);
        longer[size] = 0;
        if (tu_write_file(w->path, longer, size + 1)) try_file(w, "one byte appended");
        tries++;
        free(longer);
    }
    print_outcomes(w, "truncation", tries);
    tu_result(w->wrong == 0, nm("truncate_never_wrong_bytes"), "%s", w->first_wrong);
    tu_result(w->opened == 0, nm("truncate_refused_at_open"), "%u truncated files opened",
              w->opened);
}

static void flips(sweep *w, const uint8_t *d, size_t size)
{
    if (!tu_write_file(w->path, d, size)) {
        tu_result(false, nm("flip"), "cannot write %s", w->path);
        return;
    }
    int fd = open(w->path, O_WRONLY | O_CLOEXEC);
    unsigned tries = 0;
    static const uint8_t masks[2] = {0x01, 0xFF};
    size_t first_identical = SIZE_MAX, last_identical = 0;
    for (size_t i = 0; fd >= 0 && i < size; i++)
        for (int m = 0; m < 2; m++) {
            uint8_t v = d[i] ^ masks[m];
            unsigned before = w->identical;
            if (pwrite(fd, &v, 1, (off_t)i) != 1) break;
            char what[64];
            snprintf(what, sizeof what, "byte %zu ^ 0x%02X", i, masks[m]);
            try_file(w, what);
            tries++;
            if (w->identical != before) {
                if (first_identical == SIZE_MAX) first_identical = i;
                last_identical = i;
                printf("#   %s (in the %s) reads back identical\n", what, region_of(i));
            }
            if (pwrite(fd, &d[i], 1, (off_t)i) != 1) break;
        }
    if (fd >= 0) close(fd);
    print_outcomes(w, "byte flips", tries);
    if (w->identical)
        printf("# flips that read back identical (unused padding bits) lie in bytes %zu..%zu\n",
               first_identical, last_identical);
    tu_result(tries == 2 * size, nm("flip_sweep_complete"), "%u of %zu flips tried", tries, 2 * size);
    tu_result(w->wrong == 0, nm("flip_never_wrong_bytes"), "%s", w->first_wrong);
}

int main(void)
{
    uint64_t seed = tu_seed("codec_corrupt");
    tu_rng g = {seed};
    char *dir = tu_tempdir();
    if (!dir) {
        printf("FAIL corrupt.tempdir: %s\n", strerror(errno));
        return 1;
    }
    /* pass 0: the default level (format 1.0 names); 1: --max as 1.1 wrote
     * it (ANS, through the encoder's DF11_ANS_CODEC=3 hook); 2: --max (ANS_IL) */
    for (int pass = 0; pass < 3; pass++) {
        int level = pass ? DF11_LEVEL_MAX : DF11_LEVEL_DEFAULT;
        if (pass == 1) setenv("DF11_ANS_CODEC", "3", 1);
        else unsetenv("DF11_ANS_CODEC");
        prefix = pass == 0 ? "corrupt." : pass == 1 ? "corrupt.max." : "corrupt.max_il.";
        uint8_t *orig = NULL;
        size_t orig_size = 0, size = 0, ntensors = 0;
        uint8_t *d = make_file(dir, &g, level, &orig, &orig_size, &size, &ntensors);
        char path[4200];
        snprintf(path, sizeof path, "%s/damaged.df11", dir);
        uint64_t bounds[64];
        size_t nbounds = 0;
        bool ok = d && tu_write_file(path, d, size) && check_shape(path, level, bounds, &nbounds);
        tu_result(ok, pass == 0   ? "corrupt.test_file_has_raw_zstd_exp_chunks"
                      : pass == 1 ? "corrupt.max.test_file_has_raw_zstd_ans_exp_hi_exp_lz_chunks"
                                  : "corrupt.max_il.test_file_has_raw_zstd_ans_il_ans_il_lz_chunks",
                  "see above");
        if (ok) {
            printf("# original %zu bytes, .df11 %zu bytes\n", orig_size, size);
            sweep *w = calloc(1, sizeof *w);
            uint8_t *buf = malloc(orig_size);
            if (w && buf) {
                *w = (sweep){.path = path, .orig = orig, .orig_size = orig_size, .tensors = ntensors, .buf = buf};
                truncations(w, d, size, bounds, nbounds);
                unsigned bad_trunc = w->bad_message;
                char first_trunc[sizeof w->first_bad_message];
                memcpy(first_trunc, w->first_bad_message, sizeof first_trunc);
                *w = (sweep){.path = path, .orig = orig, .orig_size = orig_size, .tensors = ntensors, .buf = buf};
                flips(w, d, size);
                tu_result(bad_trunc + w->bad_message == 0, nm("messages_name_file_and_offset"),
                          "%u messages lack them, e.g. %s", bad_trunc + w->bad_message,
                          bad_trunc ? first_trunc : w->first_bad_message);
            } else {
                tu_result(false, nm("alloc"), "out of memory");
            }
            free(buf);
            free(w);
        }
        unlink(path);
        free(orig);
        free(d);
    }
    rmdir(dir);
    free(dir);
    return tu_failures ? 1 : 0;
}
