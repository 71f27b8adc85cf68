/*
 * ratio_max: the --max level (ANS chunks, format 1.1) and the EXP_HI codec
 * of BF16-widened F32 tensors (default level), through the public API.
 *
 *  - round trips: a file of Gaussian BF16 tensors of awkward sizes (one
 *    lane, one past a lane, several chunks, five full lanes and a short one
 *    in one chunk (the four-lane path), a one-exponent tensor, tiny
 *    tensors sharing a segment), a widened F32 tensor and a plain one,
 *    encoded at both levels and at chunk sizes 2^16 and 2^18, read back
 *    whole and in odd pieces: the original bytes exactly;
 *  - what each file says about itself: the flags and minor version of the
 *    features it uses, and a file that uses none is still 1.0;
 *  - --max is smaller than the default on BF16 Gaussian weights;
 *  - --max writes the same bytes into a file (header last, one ANS pass)
 *    as into a pipe (front to back, a sizing pass), also for a file whose
 *    ANS chunks do not pay for their tables (written, then rewritten);
 *  - a flag bit this library lacks gives DF11_E_VERSION naming it; a chunk
 *    codec the flags do not allow gives DF11_E_CORRUPT_INDEX.
 */
#include "codec_util.h"
#include "../../codec/decompress/reader.h"

#include <pthread.h>
#include <xxhash.h>

enum { N_BIG = 300000, N_LANE = 16385, N_FIVE = 5 * 16384 + 100, N_CONST = 4000, N_TINY = 300, N_F32 = 40000 };

static uint8_t *make(const char *path, tu_rng *g, size_t *size, bool with_f32)
{
    static uint8_t big[2 * N_BIG], five[2 * N_FIVE], lane[2 * N_LANE], cst[2 * N_CONST], t1[2 * N_TINY],
        t2[2 * N_TINY], wide[4 * N_F32], f32[4 * N_F32];
    tu_fill_bf16(g, big, N_BIG, 0.02);
    tu_fill_bf16(g, lane, N_LANE, 0.3);
    tu_fill_bf16(g, five, N_FIVE, 0.01);
    for (int k = 0; k < N_CONST; k++) {
        uint16_t v = (uint16_t)(0x3F80 | (tu_next(g) & 0x807F));
        cst[2 * k] = (uint8_t)v, cst[2 * k + 1] = (uint8_t)(v >> 8);
    }
    tu_fill_bf16(g, t1, N_TINY, 0.1);
    tu_fill_bf16(g, t2, N_TINY, 0.1);
    tu_fill_bf16(g, wide + 2 * N_F32, N_F32, 0.05); /* widen: BF16 in the high half */
    for (int k = 0; k < N_F32; k++) {
        wide[4 * k + 3] = wide[2 * N_F32 + 2 * k + 1];
        wide[4 * k + 2] = wide[2 * N_F32 + 2 * k];
        wide[4 * k] = wide[4 * k + 1] = 0;
    }
    tu_fill_f32(g, f32, N_F32, 0.05);
    tu_tensor t[] = {
        {"big", "BF16", N_BIG, big, sizeof big},
        {"lane_plus_one", "BF16", N_LANE, lane, sizeof lane},
        {"five_lanes", "BF16", N_FIVE, five, sizeof five}, /* 4 interleaved + 2 alone */
        {"const_exp", "BF16", N_CONST, cst, sizeof cst},
        {"tiny1", "BF16", N_TINY, t1, sizeof t1},
        {"tiny2", "BF16", N_TINY, t2, sizeof t2},
        {"widened", "F32", N_F32, wide, sizeof wide},
        {"f32", "F32", N_F32, f32, sizeof f32},
    };
    return tu_write_safetensors(path, t, with_f32 ? 8 : 6, size);
}

static bool same_as(df11_reader *r, const uint8_t *orig, size_t size, tu_rng *g)
{
    uint8_t *buf = malloc(size);
    bool ok = buf && df11_pread(r, buf, size, 0, NULL) == DF11_OK && memcmp(buf, orig, size) == 0;
    for (int k = 0; ok && k < 50; k++) { /* odd pieces across chunk and lane edges */
        uint64_t off = tu_below(g, size), len = 1 + tu_below(g, size - off);
        if (len > 70000) len = 70000;
        ok = df11_pread(r, buf, len, off, NULL) == DF11_OK && memcmp(buf, orig + off, len) == 0;
    }
    free(buf);
    return ok;
}

static uint32_t flags_of(const char *path, uint16_t *minor)
{
    size_t n = 0;
    uint8_t *d = tu_read_file(path, &n);
    uint32_t f = d && n >= 128 ? df11_rd32(d + 12) : 0xFFFFFFFF;
    *minor = d && n >= 128 ? df11_rd16(d + 10) : 0xFFFF;
    free(d);
    return f;
}

/* Rewrites header bytes with a new checksum, so only the change counts. */
static bool patch_header(const char *path, const char *out, uint32_t flags)
{
    size_t n = 0;
    uint8_t *d = tu_read_file(path, &n);
    if (!d) return false;
    df11_wr32(d + 12, flags);
    df11_wr64(d + 120, XXH3_64bits(d, 120));
    bool ok = tu_write_file(out, d, n);
    free(d);
    return ok;
}

/* in encoded at level into out, then opened (*r, closed by the caller). */
static bool encode_open(const char *in, const char *out, int level, df11_reader **r, df11_error *e)
{
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.level = level ? DF11_LEVEL_MAX : DF11_LEVEL_DEFAULT;
    *r = NULL;
    return df11_encode_file(in, out, &o, e) == DF11_OK && df11_open(out, r, e) == DF11_OK;
}

typedef struct {
    int fd;
    uint8_t *buf;
    size_t len, cap;
} drain;

static void *drain_pipe(void *p)
{
    drain *d = p;
    for (;;) {
        if (d->len == d->cap) {
            uint8_t *b = realloc(d->buf, d->cap = d->cap ? 2 * d->cap : 1 << 16);
            if (!b) break;
            d->buf = b;
        }
        ssize_t n = read(d->fd, d->buf + d->len, d->cap - d->len);
        if (n <= 0) break;
        d->len += (size_t)n;
    }
    return NULL;
}

/* --max of in into a file and into a pipe: the same bytes, and they decode. */
static void file_equals_pipe(const char *in, const char *out, const char *name)
{
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.level = DF11_LEVEL_MAX;
    df11_error e = {0};
    bool ok = df11_encode_file(in, out, &o, &e) == DF11_OK;
    int p[2], fd = open(in, O_RDONLY);
    drain d = {0};
    pthread_t th;
    ok = ok && fd >= 0 && pipe(p) == 0;
    if (ok) {
        d.fd = p[0];
        ok = pthread_create(&th, NULL, drain_pipe, &d) == 0;
        if (ok) {
            ok = df11_encode_fd(fd, in, p[1], "(pipe)", &o, &e) == DF11_OK;
            close(p[1]);
            pthread_join(th, NULL);
        } else {
            close(p[1]);
        }
        close(p[0]);
    }
    if (fd >= 0) close(fd);
    size_t n = 0, m = 0;
    uint8_t *f = tu_read_file(out, &n), *orig = tu_read_file(in, &m);
    df11_reader *r = NULL;
    uint8_t *back = malloc(m + 1);
    bool same = ok && f && n == d.len && memcmp(f, d.buf, n) == 0;
    bool decodes = same && back && df11_open(out, &r, &e) == DF11_OK &&
                   df11_pread(r, back, m, 0, NULL) == DF11_OK && memcmp(back, orig, m) == 0;
    tu_result(decodes, name, "%zu bytes into a file, %zu into a pipe: %s", n, d.len, e.message);
    df11_close(r);
    free(back), free(f), free(orig), free(d.buf);
    unlink(out);
}

int main(void)
{
    uint64_t seed = tu_seed("ratio_max");
    tu_rng g = {seed};
    char *dir = tu_tempdir();
    if (!dir) return 1;
    char in[4200], in2[4200], out[4200], bad[4200];
    snprintf(in, sizeof in, "%s/w.safetensors", dir);
    snprintf(in2, sizeof in2, "%s/bf16only.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.df11", dir);
    size_t size = 0, size2 = 0;
    uint8_t *orig = make(in, &g, &size, true);
    uint8_t *orig2 = make(in2, &g, &size2, false);
    uint64_t stored[3][2] = {{0}};
    /* v 0: default level; 1: --max (ANS_IL, 1.2); 2: --max as 1.1 wrote it
     * (ANS, the encoder's DF11_ANS_CODEC=3 hook) */
    for (int v = 0; v < 3; v++)
        for (int cl = 0; cl < 2; cl++) {
            int level = v > 0;
            const char *lname = v == 0 ? "default" : v == 1 ? "max" : "max_ans";
            if (v == 2) setenv("DF11_ANS_CODEC", "3", 1);
            else unsetenv("DF11_ANS_CODEC");
            df11_encode_options o;
            df11_encode_options_default(&o);
            o.chunk_log2 = cl ? 18 : 16;
            o.level = level ? DF11_LEVEL_MAX : DF11_LEVEL_DEFAULT;
            o.threads = 2;
            snprintf(out, sizeof out, "%s/w-%d-%d.df11", dir, v, cl);
            df11_error e = {0};
            df11_reader *r = NULL;
            bool ok = orig && df11_encode_file(in, out, &o, &e) == DF11_OK &&
                      df11_open(out, &r, &e) == DF11_OK;
            char name[96];
            snprintf(name, sizeof name, "ratio.roundtrip.%s.chunk_log2_%d", lname, o.chunk_log2);
            tu_result(ok && same_as(r, orig, size, &g), name, "%s", e.message);
            size_t nt = 0;
            bool ans = false, hi = false;
            if (r && df11_tensor_count(r, &nt, NULL) == DF11_OK)
                for (size_t i = 0; i < nt; i++) {
                    df11_tensor t;
                    df11_tensor_get(r, i, &t, NULL);
                    ans |= t.codec == (v == 2 ? DF11_CODEC_ANS : DF11_CODEC_ANS_IL);
                    /* widened F32: EXP_HI, or at 1.3's --max ANS_IL upper halves and
                     * an all-zero plane frame (ANS_IL_LZ), smaller still */
                    hi |= t.codec == (v == 1 ? DF11_CODEC_ANS_IL_LZ : DF11_CODEC_EXP_HI) &&
                          strcmp(t.name, "widened") == 0;
                }
            if (r) stored[v][cl] = df11_stored_size(r);
            df11_close(r);
            uint16_t minor = 0;
            uint32_t fl = flags_of(out, &minor);
            /* --max from 1.4: ANS_IL lane states carry signs (IL_SIGNS) */
            uint32_t want = v == 1 ? DF11_FMT_FLAG_ANS_IL | DF11_FMT_FLAG_EXP_LZ | DF11_FMT_FLAG_IL_SIGNS
                                   : DF11_FMT_FLAG_EXP_HI | (v == 2 ? DF11_FMT_FLAG_ANS : 0);
            snprintf(name, sizeof name, "ratio.features.%s.chunk_log2_%d", lname, o.chunk_log2);
            tu_result(fl == want && minor == (v == 1 ? 4 : 1) && hi && ans == (level == 1), name,
                      "flags %#x minor %u, ANS tensors %d, widened F32 as %s %d", fl, minor, ans,
                      v == 1 ? "ANS_IL_LZ" : "EXP_HI", hi);
            if (level == 1 && cl == 1) {
                const char *sfx = v == 2 ? ".ans" : "";
                /* a flag bit from a later minor version: named, as a version error */
                df11_status st = patch_header(out, bad, fl | 0x20) ? df11_open(bad, &r, &e) : DF11_E_IO;
                snprintf(name, sizeof name, "ratio.unknown_feature_is_a_version_error%s", sfx);
                tu_result(st == DF11_E_VERSION && strstr(e.message, "bit 5") && strstr(e.message, bad),
                          name, "%s: %s", df11_status_name(st), e.message);
                if (st == DF11_OK) df11_close(r);
                /* the same file without the flag its ANS chunks need */
                st = patch_header(out, bad, DF11_FMT_FLAG_EXP_HI) ? df11_open(bad, &r, &e) : DF11_E_IO;
                snprintf(name, sizeof name, "ratio.ans_without_its_flag_refused%s", sfx);
                tu_result(st == DF11_E_CORRUPT_HEADER || st == DF11_E_CORRUPT_INDEX, name, "%s: %s",
                          df11_status_name(st), e.message);
                /* and with the other ANS codec's flag instead of its own */
                uint32_t other = (fl & ~(DF11_FMT_FLAG_ANS | DF11_FMT_FLAG_ANS_IL | DF11_FMT_FLAG_IL_SIGNS)) |
                                 (v == 2 ? DF11_FMT_FLAG_ANS_IL : DF11_FMT_FLAG_ANS);
                st = patch_header(out, bad, other) ? df11_open(bad, &r, &e) : DF11_E_IO;
                snprintf(name, sizeof name, "ratio.ans_with_the_other_flag_refused%s", sfx);
                tu_result(st == DF11_E_CORRUPT_INDEX, name, "%s: %s", df11_status_name(st), e.message);
                if (st == DF11_OK) df11_close(r);
            }
        }
    unsetenv("DF11_ANS_CODEC");
    tu_result(stored[1][1] && stored[1][1] < stored[0][1], "ratio.max_smaller_than_default",
              "%llu vs %llu bytes", (unsigned long long)stored[1][1], (unsigned long long)stored[0][1]);
    snprintf(out, sizeof out, "%s/direct.df11", dir);
    file_equals_pipe(in, out, "ratio.max_file_equals_pipe");
    /* one mid-sized tensor: chunks take ANS, the tables do not pay, the
     * file is written again without ANS */
    char one[4200];
    snprintf(one, sizeof one, "%s/one.safetensors", dir);
    static uint8_t w1[2 * 20000];
    tu_fill_bf16(&g, w1, 20000, 0.02);
    tu_tensor t1 = {"w", "BF16", 20000, w1, sizeof w1};
    size_t size1 = 0;
    uint8_t *o1 = tu_write_safetensors(one, &t1, 1, &size1);
    free(o1);
    file_equals_pipe(one, out, "ratio.max_file_equals_pipe.ans_dropped");
    unlink(one);
    /* F32 whose low halves have structure EXP stores raw: values with 10-bit
     * mantissas (F16 or TF32 values widened, 13 low bits zero) take ZSTD
     * chunks at the default level, about 59% of their bytes instead of 83%;
     * at --max (format 1.3) ANS_IL_LZ chunks, smaller still, and so does
     * true F32 beside them (ANS_IL upper halves, raw planes), which keeps
     * EXP at the default level. Through the 1.1 writer's hook (no models
     * for F32) --max takes EXP_LZ for the first and EXP for the second.
     * A chunk of either codec in a file without flag EXP_LZ is refused. */
    {
        enum { NW = 600000 };
        static uint8_t wn[4 * NW], tf[4 * NW];
        tu_fill_f32(&g, wn, NW, 0.1);
        for (size_t k = 0; k < NW; k++) {
            uint32_t v;
            float f = (float)(tu_gauss(&g) * 0.02);
            memcpy(&v, &f, 4);
            v = (v + 0x1000u) & ~0x1FFFu;
            memcpy(tf + 4 * k, &v, 4);
        }
        char tin[4200];
        snprintf(tin, sizeof tin, "%s/tf32.safetensors", dir);
        tu_tensor tt[2] = { { "tf32", "F32", NW, tf, sizeof tf }, { "f32", "F32", NW, wn, sizeof wn } };
        size_t tsize = 0;
        uint8_t *torig = tu_write_safetensors(tin, tt, 2, &tsize);
        uint64_t zstd_bytes = 0;
        /* level 0: default; 1: --max; 2: --max through the 1.1 hook */
        for (int level = 0; level < 3; level++) {
            snprintf(out, sizeof out, "%s/tf32-%d.df11", dir, level);
            df11_error te = {0};
            df11_reader *r = NULL;
            if (level == 2) setenv("DF11_ANS_CODEC", "3", 1);
            bool tok = torig && encode_open(tin, out, level, &r, &te);
            unsetenv("DF11_ANS_CODEC");
            df11_tensor a = {0}, b = {0}, t;
            size_t nt = 0;
            tok = tok && df11_tensor_count(r, &nt, &te) == DF11_OK && nt == 2;
            for (size_t k = 0; tok && k < nt; k++)
                if (df11_tensor_get(r, k, &t, &te) == DF11_OK) *(strcmp(t.name, "tf32") == 0 ? &a : &b) = t;
            uint8_t *back = malloc(tsize);
            bool same = tok && back && df11_pread(r, back, tsize, 0, &te) == DF11_OK && memcmp(back, torig, tsize) == 0;
            char tname[96];
            static const char *const label[3] = {"default", "max", "max_1_1_hook"};
            snprintf(tname, sizeof tname, "ratio.f32_low_structure.%s", label[level]);
            static const df11_codec want[3] = {DF11_CODEC_ZSTD, DF11_CODEC_ANS_IL_LZ, DF11_CODEC_EXP_LZ};
            static const df11_codec want_b[3] = {DF11_CODEC_EXP, DF11_CODEC_ANS_IL_LZ, DF11_CODEC_EXP};
            static const uint32_t want_fl[3] = {0, DF11_FMT_FLAG_EXP_LZ | DF11_FMT_FLAG_ANS_IL | DF11_FMT_FLAG_IL_SIGNS,
                                                DF11_FMT_FLAG_EXP_LZ};
            static const uint16_t want_minor[3] = {0, 4, 3};
            if (!level) zstd_bytes = a.stored_bytes;
            uint16_t minor = 0;
            uint32_t fl = flags_of(out, &minor);
            bool flags_ok = fl == want_fl[level] && minor == want_minor[level];
            tu_result(tok && same && a.name && a.codec == want[level] && a.stored_bytes * 100 < a.length * 66 &&
                          (!level || a.stored_bytes < zstd_bytes) && b.codec == want_b[level] && flags_ok,
                      tname, "%s; tf32 codec %d (want %d) %llu of %llu bytes (ZSTD %llu), f32 codec %d (want %d), round trip %d, flags %#x minor %u",
                      te.message, tok ? (int)a.codec : -1, (int)want[level],
                      (unsigned long long)a.stored_bytes, (unsigned long long)a.length, (unsigned long long)zstd_bytes,
                      tok ? (int)b.codec : -1, (int)want_b[level], same, fl, minor);
            free(back);
            df11_close(r);
            if (level) {
                /* the same file less flag EXP_LZ */
                df11_error be = {0};
                df11_reader *br = NULL;
                df11_status bs = patch_header(out, bad, fl & ~DF11_FMT_FLAG_EXP_LZ) ? df11_open(bad, &br, &be) : DF11_E_IO;
                if (br) df11_close(br);
                snprintf(tname, sizeof tname, "ratio.%s_without_its_flag_refused", level == 1 ? "ans_il_lz" : "exp_lz");
                /* --max: refused at its EXP32 segments' models already */
                tu_result(bs == DF11_E_CORRUPT_INDEX &&
                              strstr(be.message, level == 1 ? "ANS model where none can be" : "bad chunk codec"),
                          tname, "status %d: %s", (int)bs, be.message);
            }
            unlink(out);
        }
        free(torig);
        unlink(tin);
    }
    /* a flag only for a codec some chunk ends up with: F32 chunks where
     * EXP_HI (zero low halves) or EXP_LZ (constant ones) beat EXP but
     * zstd beats both stay 1.0 files, at both levels (both flags were set
     * for such files until 1.3) */
    {
        enum { NC = 65536 };
        static uint8_t cst[4 * NC], zero[4 * NC];
        const float tenth = 0.1f;
        for (size_t k = 0; k < NC; k++) memcpy(cst + 4 * k, &tenth, 4);
        char cin[4200];
        snprintf(cin, sizeof cin, "%s/const32.safetensors", dir);
        tu_tensor ct[2] = { { "tenth", "F32", NC, cst, sizeof cst }, { "zero", "F32", NC, zero, sizeof zero } };
        size_t csize = 0;
        free(tu_write_safetensors(cin, ct, 2, &csize));
        for (int level = 0; level < 2; level++) {
            snprintf(out, sizeof out, "%s/const32-%d.df11", dir, level);
            df11_error ce = {0};
            df11_reader *r = NULL;
            bool cok = encode_open(cin, out, level, &r, &ce);
            int zstd = 0;
            df11_tensor t;
            size_t nt = 0;
            cok = cok && df11_tensor_count(r, &nt, &ce) == DF11_OK && nt == 2;
            for (size_t k = 0; cok && k < 2; k++)
                zstd += df11_tensor_get(r, k, &t, &ce) == DF11_OK && t.codec == DF11_CODEC_ZSTD;
            if (r) df11_close(r);
            uint16_t cminor = 9;
            uint32_t cfl = flags_of(out, &cminor);
            char cname[96];
            snprintf(cname, sizeof cname, "ratio.flags_only_for_codecs_used.%s", level ? "max" : "default");
            tu_result(cok && zstd == 2 && cfl == 0 && cminor == 0, cname, "%s; ZSTD tensors %d of 2, flags %#x minor %u",
                      ce.message, zstd, cfl, cminor);
            unlink(out);
        }
        unlink(cin);
    }
    /* no feature used: a plain 1.0 file, byte for byte what 1.0 readers take */
    df11_encode_options o;
    df11_encode_options_default(&o);
    snprintf(out, sizeof out, "%s/plain.df11", dir);
    uint16_t minor = 9;
    bool ok = orig2 && df11_encode_file(in2, out, &o, NULL) == DF11_OK;
    uint32_t fl = flags_of(out, &minor);
    tu_result(ok && fl == 0 && minor == 0, "ratio.no_features_stays_1_0", "flags %#x minor %u", fl, minor);
    unlink(out);
    for (int v = 0; v < 3; v++)
        for (int cl = 0; cl < 2; cl++) {
            snprintf(out, sizeof out, "%s/w-%d-%d.df11", dir, v, cl);
            unlink(out);
        }
    unlink(bad);
    unlink(in);
    unlink(in2);
    rmdir(dir);
    free(dir);
    free(orig);
    free(orig2);
    return tu_failures ? 1 : 0;
}
