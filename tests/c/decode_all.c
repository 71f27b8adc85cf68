/* decode_all: df11_decode_all gives the original bytes (golden files by
 * SHA-256, a generated file by memcmp) on 1..4 threads, in pieces of at
 * most a few hundred KiB; a failing write stops it with the write's status
 * and message; a corrupt chunk fails with the file and offset named;
 * progress is monotonic and ends at the total. */
#include "codec_util.h"
#include "decompress/reader.h"

#include <openssl/evp.h>

#define PIECE_MAX (512u << 10)

typedef struct {
    EVP_MD_CTX *sha;
    uint8_t *out;       /* when not NULL: bytes collected here */
    size_t cap, len;
    size_t pieces, fail_at; /* fail_at: piece index that fails (SIZE_MAX: none) */
    size_t calls_after_fail;
    bool failed, too_big;
} sink;

static df11_status sink_write(void *ctx, const void *buf, size_t len, df11_error *err)
{
    sink *s = ctx;
    if (s->failed) s->calls_after_fail++;
    if (len > PIECE_MAX || len == 0) s->too_big = true;
    if (s->pieces++ == s->fail_at) {
        s->failed = true;
        err->code = DF11_E_IO;
        snprintf(err->message, sizeof err->message, "sink: disk full at piece %zu", s->fail_at);
        return DF11_E_IO;
    }
    if (s->sha) EVP_DigestUpdate(s->sha, buf, len);
    if (s->out) {
        if (s->len + len > s->cap) return DF11_E_INTERNAL;
        memcpy(s->out + s->len, buf, len);
    }
    s->len += len;
    return DF11_OK;
}

typedef struct {
    uint64_t last, total, calls;
    bool backwards;
} prog;

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    prog *p = ctx;
    if (done < p->last || done > total) p->backwards = true;
    p->last = done;
    p->total = total;
    p->calls++;
}

static void hex(const uint8_t *d, char *out)
{
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

/* The expected SHA-256 of ORIGINAL (e.g. "bf16.safetensors") from
 * tests/golden/SHA256SUMS. */
static bool golden_sum(const char *original, char want[65])
{
    FILE *f = fopen("tests/golden/SHA256SUMS", "r");
    char line[512], name[256];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = sscanf(line, "%64s %255s", want, name) == 2 &&
                strcmp(name[0] == '*' ? name + 1 : name, original) == 0;
    if (f) fclose(f);
    return found;
}

static void golden(void)
{
    const char *names[] = { "bf16", "f32", "mixed", "empty" };
    for (int k = 0; k < 4; k++)
        for (int threads = 1; threads <= 3; threads += 2) {
            char path[256], orig[64], want[65] = "", got[65] = "", label[96];
            snprintf(path, sizeof path, "tests/golden/%s.df11", names[k]);
            snprintf(orig, sizeof orig, "%s.safetensors", names[k]);
            snprintf(label, sizeof label, "decode_all.golden_%s_t%d", names[k], threads);
            df11_reader *r = NULL;
            df11_error e = {0};
            sink s = { .sha = EVP_MD_CTX_new(), .fail_at = SIZE_MAX };
            prog p = {0};
            uint8_t d[32];
            unsigned dn = 0;
            bool ok = golden_sum(orig, want) && s.sha && EVP_DigestInit_ex(s.sha, EVP_sha256(), NULL) == 1 &&
                      df11_open(path, &r, &e) == DF11_OK &&
                      df11_decode_all(r, threads, sink_write, &s, on_progress, &p, &e) == DF11_OK &&
                      EVP_DigestFinal_ex(s.sha, d, &dn) == 1;
            if (ok) hex(d, got);
            ok = ok && strcmp(got, want) == 0 && !s.too_big && !p.backwards && p.calls > 0 &&
                 p.last == df11_original_size(r) && p.total == df11_original_size(r);
            tu_result(ok, label, "sha %s want %s, progress %llu/%llu%s, %s", got, want,
                      (unsigned long long)p.last, (unsigned long long)p.total,
                      p.backwards ? " went backwards" : "", e.message);
            EVP_MD_CTX_free(s.sha);
            df11_close(r);
        }
}

/* Copies the file and flips one byte in the middle of chunk idx's payload. */
static bool corrupt_copy(const char *from, const char *to, uint32_t idx, uint64_t *at)
{
    df11_reader *r = NULL;
    df11_error e;
    size_t size;
    uint8_t *b = tu_read_file(from, &size);
    if (!b || df11_open(from, &r, &e) != DF11_OK) return false;
    const df11_chunk *c = &r->chunks[idx];
    *at = c->payload_offset + c->payload_length / 2;
    b[*at] ^= 0x5A;
    bool ok = tu_write_file(to, b, size);
    df11_close(r);
    free(b);
    return ok;
}

/* --max: ANS_IL chunks that workers take eight at a time, between F32
 * chunks they take one at a time, on a ring that holds a batch per worker
 * (a worker waits for room for a whole batch, so a ring too small for one
 * would hang here); then a corrupt chunk inside a batch. */
static void max_level(tu_rng *g, const char *dir)
{
    char in[4200], out[4200], bad[4200];
    snprintf(in, sizeof in, "%s/max.safetensors", dir);
    snprintf(out, sizeof out, "%s/max.df11", dir);
    snprintf(bad, sizeof bad, "%s/maxbad.df11", dir);
    enum { N1 = 5000000, N2 = 200000, N3 = 700000 };
    uint8_t *w1 = malloc(2 * (size_t)N1), *w2 = malloc(4 * (size_t)N2), *w3 = malloc(2 * (size_t)N3);
    if (!w1 || !w2 || !w3) return;
    tu_fill_bf16(g, w1, N1, 0.02);
    tu_fill_f32(g, w2, N2, 0.1);
    tu_fill_bf16(g, w3, N3, 0.5);
    tu_tensor t[3] = { { "a", "BF16", N1, w1, 2 * (size_t)N1 }, { "b", "F32", N2, w2, 4 * (size_t)N2 },
                       { "c", "BF16", N3, w3, 2 * (size_t)N3 } };
    size_t size = 0;
    uint8_t *orig = tu_write_safetensors(in, t, 3, &size);
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.level = DF11_LEVEL_MAX;
    df11_error e = {0};
    df11_reader *r = NULL, *rb = NULL;
    bool ok = orig && df11_encode_file(in, out, &o, &e) == DF11_OK && df11_open(out, &r, &e) == DF11_OK &&
              (r->flags & DF11_FMT_FLAG_ANS_IL) && df11_chunk_count(r) > 40;
    tu_result(ok, "decode_all.max_setup", "%s, %u chunks", e.message, r ? df11_chunk_count(r) : 0);
    int thread_counts[] = { 1, 2, 3, 64 }; /* 64: more workers than chunks */
    for (int k = 0; ok && k < 4; k++) {
        int threads = thread_counts[k];
        sink s = { .out = malloc(size), .cap = size, .fail_at = SIZE_MAX };
        df11_status st = df11_decode_all(r, threads, sink_write, &s, NULL, NULL, &e);
        char label[64];
        snprintf(label, sizeof label, "decode_all.max_t%d", threads);
        tu_result(st == DF11_OK && s.len == size && memcmp(s.out, orig, size) == 0, label,
                  "%s: %s, %zu of %zu bytes", df11_status_name(st), e.message, s.len, size);
        free(s.out);
    }
    uint32_t victim = 13; /* inside the first tensor's run of ANS_IL chunks */
    uint64_t at = 0, coff;
    uint32_t clen;
    if (ok) df11_chunk_extent(r, victim, &coff, &clen);
    ok = ok && r->chunks[victim].codec == DF11_FMT_ANS_IL && corrupt_copy(out, bad, victim, &at) && df11_open(bad, &rb, &e) == DF11_OK;
    tu_result(ok, "decode_all.max_corrupt_setup", "%s", e.message);
    for (int threads = 1; ok && threads <= 2; threads++) {
        sink s = { .out = malloc(size), .cap = size, .fail_at = SIZE_MAX };
        df11_status st = df11_decode_all(rb, threads, sink_write, &s, NULL, NULL, &e);
        char where[64], label[64];
        snprintf(where, sizeof where, "offset %llu", (unsigned long long)rb->chunks[victim].payload_offset);
        snprintf(label, sizeof label, "decode_all.max_corrupt_chunk_t%d", threads);
        tu_result((st == DF11_E_CHECKSUM || st == DF11_E_CORRUPT_CHUNK) && strstr(e.message, where) &&
                      s.len <= coff && memcmp(s.out, orig, s.len) == 0,
                  label, "%s: %s (wanted %s), %zu bytes written", df11_status_name(st), e.message, where, s.len);
        free(s.out);
    }
    df11_close(rb);
    df11_close(r);
    unlink(in);
    unlink(out);
    unlink(bad);
    free(orig);
    free(w1);
    free(w2);
    free(w3);
}

/* 1 MiB chunks, more of them than the 64 MiB ring cap holds: 64 threads
 * get a 64-slot ring instead of (t + 1) * 2 = 130, and every byte comes
 * back. */
static void ring_cap(tu_rng *g, const char *dir)
{
    char in[4200], out[4200];
    snprintf(in, sizeof in, "%s/cap.safetensors", dir);
    snprintf(out, sizeof out, "%s/cap.df11", dir);
    enum { N = 36u << 20 }; /* 72 MiB of BF16 */
    uint8_t *w = malloc(2 * (size_t)N);
    if (!w) return;
    tu_fill_bf16(g, w, N, 0.02);
    tu_tensor t[1] = { { "w", "BF16", N, w, 2 * (size_t)N } };
    size_t size = 0;
    uint8_t *orig = tu_write_safetensors(in, t, 1, &size);
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.chunk_log2 = 20;
    df11_error e = {0};
    df11_reader *r = NULL;
    bool ok = orig && df11_encode_file(in, out, &o, &e) == DF11_OK && df11_open(out, &r, &e) == DF11_OK &&
              df11_chunk_count(r) > 64;
    tu_result(ok, "decode_all.ring_cap_setup", "%s, %u chunks", e.message, r ? df11_chunk_count(r) : 0);
    for (unsigned flags = 0; ok && flags <= DF11_DECODE_NO_SHA256; flags += DF11_DECODE_NO_SHA256) {
        sink s = { .out = malloc(size), .cap = size, .fail_at = SIZE_MAX };
        df11_status st = df11_decode_all_flags(r, 64, flags, sink_write, &s, NULL, NULL, &e);
        tu_result(st == DF11_OK && s.len == size && memcmp(s.out, orig, size) == 0,
                  flags ? "decode_all.ring_cap_t64_no_sha256" : "decode_all.ring_cap_t64",
                  "%s: %s, %zu of %zu bytes", df11_status_name(st), e.message, s.len, size);
        free(s.out);
    }
    df11_close(r);
    unlink(in);
    unlink(out);
    free(orig);
    free(w);
}

int main(void)
{
    /* a ring that waits for room it can never get hangs rather than fails:
     * make that a failure */
    alarm(300);
    tu_rng g = { tu_seed("decode_all") };
    golden();

    /* a generated file: BF16 and F32 weights over many chunks */
    char *dir = tu_tempdir();
    if (!dir) return 1;
    static char in[4200], out[4200], bad[4200];
    snprintf(in, sizeof in, "%s/gen.safetensors", dir);
    snprintf(out, sizeof out, "%s/gen.df11", dir);
    snprintf(bad, sizeof bad, "%s/bad.df11", dir);
    enum { N1 = 1500000, N2 = 300000 };
    uint8_t *w1 = malloc(2 * (size_t)N1), *w2 = malloc(4 * (size_t)N2);
    if (!w1 || !w2) return 1;
    tu_fill_bf16(&g, w1, N1, 0.02);
    tu_fill_f32(&g, w2, N2, 0.1);
    tu_tensor t[2] = { { "w1", "BF16", N1, w1, 2 * (size_t)N1 }, { "w2", "F32", N2, w2, 4 * (size_t)N2 } };
    size_t size = 0;
    uint8_t *orig = tu_write_safetensors(in, t, 2, &size);
    df11_error e = {0};
    df11_reader *r = NULL;
    bool ok = orig && df11_encode_file(in, out, NULL, &e) == DF11_OK && df11_open(out, &r, &e) == DF11_OK;
    tu_result(ok, "decode_all.setup", "%s", e.message);
    if (!ok) return 1;

    int thread_counts[] = { 1, 2, 4, 0 };
    for (int k = 0; k < 4; k++) {
        sink s = { .out = malloc(size), .cap = size, .fail_at = SIZE_MAX };
        prog p = {0};
        df11_status st = df11_decode_all(r, thread_counts[k], sink_write, &s, on_progress, &p, &e);
        char label[64];
        snprintf(label, sizeof label, "decode_all.generated_t%d", thread_counts[k]);
        tu_result(st == DF11_OK && s.len == size && memcmp(s.out, orig, size) == 0 && !s.too_big &&
                      !p.backwards && p.last == size,
                  label, "%s, %zu of %zu bytes, %zu pieces, progress %llu", df11_status_name(st), s.len, size,
                  s.pieces, (unsigned long long)p.last);
        free(s.out);
    }
    tu_result(df11_verify(r, 2, NULL, NULL, &e) == DF11_OK, "decode_all.verify_is_decode_all", "%s", e.message);

    /* The whole-file SHA-256: with the recorded hash one bit off, the
     * bytes are all right but the decode fails with DF11_E_SHA256 at
     * offset 24; DF11_DECODE_NO_SHA256 skips exactly that check (the
     * chunk checks stay: see the corrupt chunk below). */
    r->sha256[5] ^= 0x10;
    for (unsigned flags = 0; flags <= DF11_DECODE_NO_SHA256; flags += DF11_DECODE_NO_SHA256)
        for (int threads = 1; threads <= 3; threads += 2) {
            sink s = { .out = malloc(size), .cap = size, .fail_at = SIZE_MAX };
            df11_status st = df11_decode_all_flags(r, threads, flags, sink_write, &s, NULL, NULL, &e);
            df11_status want = flags ? DF11_OK : DF11_E_SHA256;
            char label[64];
            snprintf(label, sizeof label, "decode_all.sha256_%s_t%d", flags ? "skipped" : "checked", threads);
            tu_result(st == want && s.len == size && memcmp(s.out, orig, size) == 0 &&
                          (flags || strstr(e.message, "offset 24")),
                      label, "%s (wanted %s): %s, %zu of %zu bytes", df11_status_name(st), df11_status_name(want),
                      e.message, s.len, size);
            free(s.out);
        }
    tu_result(df11_decode_all_flags(r, 2, DF11_DECODE_NO_SHA256, NULL, NULL, NULL, NULL, &e) == DF11_OK &&
                  df11_verify(r, 2, NULL, NULL, &e) == DF11_E_SHA256,
              "decode_all.sha256_skipped_without_writer", "%s", e.message);
    r->sha256[5] ^= 0x10;
    tu_result(df11_decode_all_flags(r, 1, 0x2, NULL, NULL, NULL, NULL, &e) == DF11_E_ARG,
              "decode_all.unknown_flags", "%s", e.message);

    /* a write that fails at piece k stops everything with its status */
    for (size_t k = 0; k < 12; k += 5) {
        sink s = { .fail_at = k };
        df11_status st = df11_decode_all(r, 3, sink_write, &s, NULL, NULL, &e);
        char label[64];
        snprintf(label, sizeof label, "decode_all.write_fails_at_piece_%zu", k);
        tu_result(st == DF11_E_IO && e.code == DF11_E_IO && strstr(e.message, "disk full at piece") &&
                      s.calls_after_fail == 0 && s.pieces == k + 1,
                  label, "%s: %s; %zu calls after the failure", df11_status_name(st), e.message,
                  s.calls_after_fail);
    }

    /* a corrupt chunk: its status, the file and the offset in the message,
     * and every byte written before it is right */
    uint32_t victim = df11_chunk_count(r) / 2;
    uint64_t at = 0, coff;
    uint32_t clen;
    df11_chunk_extent(r, victim, &coff, &clen);
    df11_reader *rb = NULL;
    ok = corrupt_copy(out, bad, victim, &at) && df11_open(bad, &rb, &e) == DF11_OK;
    for (int threads = 1; ok && threads <= 4; threads *= 4) {
        sink s = { .out = malloc(size), .cap = size, .fail_at = SIZE_MAX };
        df11_status st = df11_decode_all(rb, threads, sink_write, &s, NULL, NULL, &e);
        char where[64], label[64];
        snprintf(where, sizeof where, "offset %llu", (unsigned long long)rb->chunks[victim].payload_offset);
        snprintf(label, sizeof label, "decode_all.corrupt_chunk_t%d", threads);
        tu_result((st == DF11_E_CHECKSUM || st == DF11_E_CORRUPT_CHUNK) && e.code == st &&
                      strstr(e.message, bad) && strstr(e.message, where) && s.len <= coff &&
                      memcmp(s.out, orig, s.len) == 0,
                  label, "%s: %s (wanted %s), %zu bytes written", df11_status_name(st), e.message, where, s.len);
        free(s.out);
    }
    tu_result(ok, "decode_all.corrupt_setup", "%s", e.message);
    df11_status vs = rb ? df11_verify(rb, 2, NULL, NULL, &e) : DF11_E_ARG;
    tu_result(vs == DF11_E_CHECKSUM || vs == DF11_E_CORRUPT_CHUNK, "decode_all.verify_corrupt", "%s",
              df11_status_name(vs));
    for (int threads = 1; rb && threads <= 2; threads++) {
        sink s = { .out = malloc(size), .cap = size, .fail_at = SIZE_MAX };
        df11_status st = df11_decode_all_flags(rb, threads, DF11_DECODE_NO_SHA256, sink_write, &s, NULL, NULL, &e);
        char label[64];
        snprintf(label, sizeof label, "decode_all.no_sha256_corrupt_chunk_t%d", threads);
        tu_result((st == DF11_E_CHECKSUM || st == DF11_E_CORRUPT_CHUNK) && strstr(e.message, bad) &&
                      s.len <= coff && memcmp(s.out, orig, s.len) == 0,
                  label, "%s: %s, %zu bytes written", df11_status_name(st), e.message, s.len);
        free(s.out);
    }
    tu_result(df11_decode_all(NULL, 1, NULL, NULL, NULL, NULL, &e) == DF11_E_ARG, "decode_all.null_reader", NULL);

    df11_close(rb);
    df11_close(r);
    max_level(&g, dir);
    ring_cap(&g, dir);
    unlink(in);
    unlink(out);
    unlink(bad);
    rmdir(dir);
    free(dir);
    free(orig);
    free(w1);
    free(w2);
    return tu_failures ? 1 : 0;
}
