/*
 * gpu_diff - df11_gpu_decode_batch() against the original bytes.
 *
 * Three decoders run the same checks, each compared with the original file
 * (the independent oracle), never only with each other:
 *   cpu   DF11_GPU=0: the batch API's CPU fallback (every build);
 *   emul  DF11_GPU=0 DF11_GPU_EMULATE=1: the CPU model of the GPU kernel
 *         (same lane reader, staging and validation; every build);
 *   gpu   the CUDA kernel, host and device mode (SKIP without a GPU).
 * Inputs: the real model in /work/shared/models (or $DF11_TEST_MODEL) and a
 * generated file of edge cases (sizes around every lane and chunk boundary,
 * all 256 exponents, one-symbol tensors), at two chunk sizes; both again
 * compressed with --max (ANS chunks, FORMAT.md 9), and the golden
 * tests/golden/max.df11, checked against the SHA-256 its header records;
 * ANS_IL payloads (FORMAT.md 10) from a small encoder of its own, through
 * the kernels' seam, against the reference decoder (ans_il_checks).
 * Corrupted chunks (EXP and ANS) must fail alone, and a clean batch must
 * succeed afterwards. Four threads decoding at once must each get exact
 * bytes (the GPU path's host work runs outside its lock).
 * `gpu_diff --probe` exits 0 with a GPU, 77 without (for gpu_sanitizer.sh);
 * `gpu_diff --gpu-only` runs only the GPU checks, `gpu_diff --ans-il` only
 * the ANS_IL seam checks (model, and fake or GPU when there is one), and
 * `gpu_diff --ans-il-bench [MiB]` times the ANS_IL kernels on them.
 */
#include "decompress/reader.h"
#include "decompress/gpu_codec.h"

#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../kernels/ans_il_warp.h"

static int failed;
static char tmpdir[64];

static void result(int ok, const char *name, const char *detail)
{
    printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", name, detail && *detail ? "  # " : "",
           detail ? detail : "");
    if (!ok) failed = 1;
    fflush(stdout);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* --- generated edge cases --- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* A weight-like exponent: mostly 118..126, geometric tails. */
static uint32_t rnd_exp(void)
{
    uint32_t e = 122;
    while (rnd() % 3 == 0 && e > 1) e--;
    if (rnd() % 4 == 0) e += rnd() % 5;
    return e;
}

static uint16_t bf16(uint32_t e, uint32_t sm)
{
    return (uint16_t)((sm & 0x80) << 8 | (e & 0xFF) << 7 | (sm & 0x7F));
}

typedef struct {
    char name[32];
    uint32_t n;
    uint16_t *v;
} tensor;

static void fill(tensor *t, const char *kind)
{
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t e;
        if (!strcmp(kind, "const")) e = 127;
        else if (!strcmp(kind, "two")) e = rnd() % 2 ? 120 : 121;
        else if (!strcmp(kind, "all256")) e = i < 256 ? i : rnd_exp(); /* every exponent, skewed rest */
        else e = rnd_exp();
        t->v[i] = bf16(e, rnd());
    }
}

/* Writes a safetensors file of BF16 vectors. */
static int write_safetensors(const char *path, tensor *ts, size_t nt)
{
    size_t cap = 64 + nt * 128, len = 0;
    char *h = malloc(cap + 8);
    uint64_t off = 0;
    len += (size_t)snprintf(h + len, cap - len, "{");
    for (size_t i = 0; i < nt; i++) {
        uint64_t b = (uint64_t)ts[i].n * 2;
        len += (size_t)snprintf(h + len, cap - len, "%s\"%s\":{\"dtype\":\"BF16\",\"shape\":[%u],\"data_offsets\":[%llu,%llu]}",
                                i ? "," : "", ts[i].name, ts[i].n, (unsigned long long)off,
                                (unsigned long long)(off + b));
        off += b;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8) h[len++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint8_t hl[8];
    df11_wr64(hl, len);
    int ok = fwrite(hl, 1, 8, f) == 8 && fwrite(h, 1, len, f) == len;
    for (size_t i = 0; ok && i < nt; i++) {
        for (uint32_t k = 0; k < ts[i].n; k++) {
            uint8_t b[2];
            df11_wr16(b, ts[i].v[k]);
            ok = ok && fwrite(b, 1, 2, f) == 2;
        }
    }
    ok = fclose(f) == 0 && ok;
    free(h);
    return ok ? 0 : -1;
}

static int make_edge_file(const char *path)
{
    static const uint32_t sizes[] = {0, 1, 2, 3, 255, 256, 257, 1023, 1024, 1025, 2047, 2048, 2049,
                                     32767, 32768, 32769, 65535, 65536, 65537, 131071, 131072,
                                     131073, 262143, 262145, 300001};
    const size_t ns = sizeof sizes / sizeof sizes[0];
    tensor ts[64];
    size_t nt = 0;
    for (size_t i = 0; i < ns; i++) {
        ts[nt].n = sizes[i];
        snprintf(ts[nt].name, sizeof ts[nt].name, "w.%u", sizes[i]);
        nt++;
    }
    static const struct { const char *kind; uint32_t n; } special[] = {
        {"const", 1}, {"const", 5000}, {"const", 70000}, {"two", 3000}, {"two", 140000},
        {"all256", 256}, {"all256", 5000}, {"all256", 200000},
    };
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        ts[nt].n = special[i].n;
        snprintf(ts[nt].name, sizeof ts[nt].name, "%s.%u", special[i].kind, special[i].n);
        nt++;
    }
    for (size_t i = 0; i < nt; i++) {
        ts[i].v = malloc((ts[i].n ? ts[i].n : 1) * sizeof(uint16_t));
        const char *dot = strchr(ts[i].name, '.');
        char kind[16];
        snprintf(kind, sizeof kind, "%.*s", (int)(dot - ts[i].name), ts[i].name);
        fill(&ts[i], kind);
    }
    int rc = write_safetensors(path, ts, nt);
    for (size_t i = 0; i < nt; i++) free(ts[i].v);
    return rc;
}

/* --- decoding a whole file through the batch API --- */

typedef struct {
    const char *label;   /* e.g. "model" */
    char df11[256];
    uint8_t *orig;       /* NULL: check against the header's SHA-256 */
    size_t orig_len;
} dataset;

/* Chunks the GPU decoders take (EXP or ANS codec in an EXP16 segment). */
static uint32_t gpu_chunks_of(const df11_reader *r, int codec)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->chunk_count; i++)
        k += r->chunks[i].codec == codec && r->segments[r->chunks[i].segment].kind == DF11_SEG_EXP16;
    return k;
}

static uint32_t gpu_chunks(const df11_reader *r)
{
    return gpu_chunks_of(r, DF11_FMT_EXP) + gpu_chunks_of(r, DF11_FMT_ANS) + gpu_chunks_of(r, DF11_FMT_ANS_IL);
}

static int sha256_is(const uint8_t *p, size_t n, const uint8_t want[32])
{
    uint8_t md[32];
    unsigned len = 0;
    return EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) == 1 && len == 32 && memcmp(md, want, 32) == 0;
}

/* Decodes every chunk of path in one batch (device memory when mode is
 * DEVICE, at byte offset misalign; pinned host memory when pinned) and
 * compares with orig. */
static int decode_all(const char *path, const uint8_t *orig, size_t orig_len, df11_batch_mode mode,
                      int misalign, int pinned, char *msg, size_t msg_len)
{
    df11_reader *r;
    df11_error err;
    if (df11_open(path, &r, &err) != DF11_OK) {
        snprintf(msg, msg_len, "open: %s", err.message);
        return 0;
    }
    uint32_t n = df11_chunk_count(r);
    if (!orig) orig_len = (size_t)df11_original_size(r);
    df11_chunk_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    df11_status *st = calloc(n ? n : 1, sizeof *st);
    uint8_t *out = NULL, *dev = NULL;
    char why[256];
    if (pinned && df11_cuda_malloc_host((void **)&out, orig_len + 1, why, sizeof why) != DF11_OK) {
        snprintf(msg, msg_len, "cudaMallocHost: %s", why);
        out = NULL;
    } else if (!pinned) {
        out = malloc(orig_len + 1);
    }
    int ok = jobs && st && out;
    if (ok && mode == DF11_BATCH_DEVICE && df11_cuda_malloc((void **)&dev, orig_len + 2, why, sizeof why) != DF11_OK) {
        snprintf(msg, msg_len, "cudaMalloc: %s", why);
        ok = 0;
    }
    uint8_t *base = mode == DF11_BATCH_DEVICE ? dev + misalign : out;
    /* Reverse order: the batch must not depend on chunk order. */
    for (uint32_t i = 0; ok && i < n; i++) {
        uint64_t off;
        uint32_t len;
        df11_chunk_extent(r, n - 1 - i, &off, &len);
        jobs[i] = (df11_chunk_job){r, n - 1 - i, base + off};
    }
    if (ok) {
        df11_status rc = df11_gpu_decode_batch(jobs, n, mode, st, &err);
        uint32_t bad = 0;
        for (uint32_t i = 0; i < n; i++) bad += st[i] != DF11_OK;
        if (rc != DF11_OK || bad) {
            snprintf(msg, msg_len, "%s, %u of %u jobs failed: %s", df11_status_name(rc), bad, n, err.message);
            ok = 0;
        }
    }
    if (ok && mode == DF11_BATCH_DEVICE && orig_len &&
        df11_cuda_copy_to_host(out, dev + misalign, orig_len, why, sizeof why) != DF11_OK) {
        snprintf(msg, msg_len, "copy back: %s", why);
        ok = 0;
    }
    if (ok && !orig && !sha256_is(out, orig_len, r->sha256)) {
        snprintf(msg, msg_len, "decoded bytes do not have the SHA-256 the header records");
        ok = 0;
    } else if (ok && orig && memcmp(out, orig, orig_len) != 0) {
        size_t i = 0;
        while (out[i] == orig[i]) i++;
        snprintf(msg, msg_len, "decoded bytes differ from the original at offset %zu", i);
        ok = 0;
    }
    if (ok)
        snprintf(msg, msg_len, "%u chunks, %u on the GPU path (%u ANS, %u ANS_IL), %zu bytes", n, gpu_chunks(r),
                 gpu_chunks_of(r, DF11_FMT_ANS), gpu_chunks_of(r, DF11_FMT_ANS_IL), orig_len);
    df11_cuda_free(dev);
    if (pinned) df11_cuda_free_host(out);
    else free(out);
    free(jobs);
    free(st);
    df11_close(r);
    return ok;
}

/* --- corruption --- */

static int copy_file(const char *from, const char *to)
{
    size_t n;
    uint8_t *p = slurp(from, &n);
    if (!p) return -1;
    FILE *f = fopen(to, "wb");
    int ok = f && fwrite(p, 1, n, f) == n;
    if (f) ok = fclose(f) == 0 && ok;
    free(p);
    return ok ? 0 : -1;
}

static int patch(const char *path, uint64_t off, const uint8_t *b, size_t n)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0) return -1;
    int ok = pwrite(fd, b, n, (off_t)off) == (ssize_t)n;
    close(fd);
    return ok ? 0 : -1;
}

/* The largest GPU-path chunk of codec with at least two lanes, or
 * UINT32_MAX. */
static uint32_t pick_chunk(const df11_reader *r, int codec)
{
    uint32_t best = UINT32_MAX, best_len = 0;
    /* ANS_IL: n > 16384 has 16 or more lanes (the warp kernel). */
    const uint32_t lane = codec == DF11_FMT_ANS ? DF11_ANS_LANE : codec == DF11_FMT_ANS_IL ? 16384u : r->lane_symbols;
    for (uint32_t i = 0; i < r->chunk_count; i++) {
        const df11_chunk *c = &r->chunks[i];
        if (c->codec != codec || r->segments[c->segment].kind != DF11_SEG_EXP16) continue;
        if (c->decoded_length / 2 > lane && c->decoded_length > best_len) {
            best = i;
            best_len = c->decoded_length;
        }
    }
    return best;
}

/* Decodes all chunks of the corrupted file: chunk bad must fail with an
 * allowed status, every other chunk must match the original. */
static int check_corrupt(const char *path, const uint8_t *orig, uint32_t bad, df11_status want1,
                         df11_status want2, char *msg, size_t msg_len)
{
    df11_reader *r;
    df11_error err;
    if (df11_open(path, &r, &err) != DF11_OK) {
        snprintf(msg, msg_len, "open: %s", err.message);
        return 0;
    }
    uint32_t n = df11_chunk_count(r);
    /* Plus two jobs that are wrong on the caller's side. */
    df11_chunk_job *jobs = calloc(n + 2, sizeof *jobs);
    df11_status *st = calloc(n + 2, sizeof *st);
    uint8_t *out = malloc((size_t)df11_original_size(r) + 1);
    uint8_t spare[8];
    for (uint32_t i = 0; i < n; i++) {
        uint64_t off;
        uint32_t len;
        df11_chunk_extent(r, i, &off, &len);
        jobs[i] = (df11_chunk_job){r, i, out + off};
    }
    jobs[n] = (df11_chunk_job){NULL, 0, spare};
    jobs[n + 1] = (df11_chunk_job){r, n + 7, spare};
    df11_status rc = df11_gpu_decode_batch(jobs, n + 2, DF11_BATCH_HOST, st, &err);
    int ok = 1;
    char why[200] = "";
    if (st[bad] != want1 && st[bad] != want2) {
        snprintf(why, sizeof why, "corrupted chunk %u gave %s", bad, df11_status_name(st[bad]));
        ok = 0;
    } else if (rc != st[bad] || !strstr(err.message, "chunk")) {
        snprintf(why, sizeof why, "batch returned %s (message below)", df11_status_name(rc));
        ok = 0;
    } else if (st[n] != DF11_E_ARG || st[n + 1] != DF11_E_ARG) {
        snprintf(why, sizeof why, "bad jobs gave %s, %s", df11_status_name(st[n]), df11_status_name(st[n + 1]));
        ok = 0;
    }
    for (uint32_t i = 0; ok && i < n; i++) {
        if (i == bad) continue;
        uint64_t off;
        uint32_t len;
        df11_chunk_extent(r, i, &off, &len);
        if (st[i] != DF11_OK || memcmp(out + off, orig + off, len) != 0) {
            snprintf(why, sizeof why, "intact chunk %u: %s or wrong bytes", i, df11_status_name(st[i]));
            ok = 0;
        }
    }
    snprintf(msg, msg_len, "%s%s%s", why, *why ? "; " : "", err.message);
    free(jobs);
    free(st);
    free(out);
    df11_close(r);
    return ok;
}

/* Writes a patched copy of d's file and checks that chunk k alone fails
 * with want1 or want2. */
static void corrupt_case(const char *backend, const dataset *d, const char *what, uint32_t k,
                         uint64_t at, const uint8_t *b, size_t nb, df11_status want1, df11_status want2)
{
    char name[128], msg[800], path[300];
    snprintf(name, sizeof name, "gpu_%s_corrupt_%s_%s", backend, what, d->label);
    snprintf(path, sizeof path, "%s/%s-%s.df11", tmpdir, d->label, what);
    if (copy_file(d->df11, path) != 0 || patch(path, at, b, nb) != 0) result(0, name, "cannot patch the copy");
    else result(check_corrupt(path, d->orig, k, want1, want2, msg, sizeof msg), name, msg);
}

/* Two corruptions of one EXP chunk: a flipped byte inside its lane
 * bitstreams (checksum or lane error), and one bit of length moved from lane
 * 1 to lane 0 so the total still matches (only the per-lane end check can
 * catch it). Each must fail that chunk alone. */
static void corrupt_exp(const char *backend, const dataset *d, df11_reader *r, uint32_t k)
{
    df11_error err;
    const df11_chunk *c = &r->chunks[k];
    uint64_t po = c->payload_offset;
    uint32_t nl = (c->decoded_length / 2 + r->lane_symbols - 1) / r->lane_symbols;
    uint8_t lanes[4], b;
    df11_source_read_exact(&r->src, lanes, 4, po, &err);
    uint32_t l0 = df11_rd16(lanes), l1 = df11_rd16(lanes + 2);
    uint64_t at = po + 2 * nl + l0 / 16; /* inside lane 0 (lengths are in bits) */
    df11_source_read_exact(&r->src, &b, 1, at, &err);
    b ^= 0x5A;
    corrupt_case(backend, d, "bitstream", k, at, &b, 1, DF11_E_CHECKSUM, DF11_E_CORRUPT_CHUNK);
    uint8_t nb[4];
    df11_wr16(nb, (uint16_t)(l0 + 1));
    df11_wr16(nb + 2, (uint16_t)(l1 - 1));
    corrupt_case(backend, d, "lanes", k, po, nb, 4, DF11_E_CORRUPT_CHUNK, DF11_E_CORRUPT_CHUNK);
}

/* Three corruptions of one ANS chunk: a flipped byte inside lane 0's
 * stream (checksum or lane error), one word moved from lane 1's count to
 * lane 0's (the total still matches: only the lane end check catches it),
 * and lane 1 starting below 2^16 (the host's payload check). */
static void corrupt_ans(const char *backend, const dataset *d, df11_reader *r, uint32_t k)
{
    df11_error err;
    const df11_chunk *c = &r->chunks[k];
    uint64_t po = c->payload_offset;
    uint32_t nl = df11_ans_lanes(c->decoded_length / 2);
    uint8_t cnt[4], b;
    df11_source_read_exact(&r->src, cnt, 4, po + 4 * (uint64_t)nl, &err);
    uint32_t w0 = df11_rd16(cnt), w1 = df11_rd16(cnt + 2);
    uint64_t at = po + DF11_ANS_LANE_HEAD * (uint64_t)nl + w0; /* mid lane 0 (w0 words = 2*w0 bytes) */
    df11_source_read_exact(&r->src, &b, 1, at, &err);
    b ^= 0x5A;
    corrupt_case(backend, d, "ans_stream", k, at, &b, 1, DF11_E_CHECKSUM, DF11_E_CORRUPT_CHUNK);
    uint8_t nb[4];
    df11_wr16(nb, (uint16_t)(w0 + 1));
    df11_wr16(nb + 2, (uint16_t)(w1 - 1));
    corrupt_case(backend, d, "ans_counts", k, po + 4 * (uint64_t)nl, nb, 4, DF11_E_CORRUPT_CHUNK,
                 DF11_E_CORRUPT_CHUNK);
    uint8_t x[4];
    df11_wr32(x, 0x1234);
    corrupt_case(backend, d, "ans_state", k, po + 4, x, 4, DF11_E_CORRUPT_CHUNK, DF11_E_CORRUPT_CHUNK);
}

/* Two corruptions of one ANS_IL chunk of 16 or more lanes (FORMAT.md 10):
 * a flipped byte mid-stream (checksum or the chunk's end check), and lane
 * 1 starting below 2^16 (the host's payload check). */
static void corrupt_ans_il(const char *backend, const dataset *d, df11_reader *r, uint32_t k)
{
    df11_error err;
    const df11_chunk *c = &r->chunks[k];
    const uint32_t n = c->decoded_length / 2, nl = df11_ans_il_lanes(n);
    const uint64_t po = c->payload_offset, sw = (c->payload_length - 4ull * nl - (n + 7) / 8) / 2;
    uint8_t b;
    const uint64_t at = po + 4ull * nl + sw; /* mid-stream */
    df11_source_read_exact(&r->src, &b, 1, at, &err);
    b ^= 0x5A;
    corrupt_case(backend, d, "ans_il_stream", k, at, &b, 1, DF11_E_CHECKSUM, DF11_E_CORRUPT_CHUNK);
    uint8_t x[4];
    df11_wr32(x, 0x1234);
    corrupt_case(backend, d, "ans_il_state", k, po + 4, x, 4, DF11_E_CORRUPT_CHUNK, DF11_E_CORRUPT_CHUNK);
}

static void corruption_checks(const char *backend, const dataset *d)
{
    char name[96];
    df11_reader *r;
    df11_error err;
    if (!d->orig) return; /* intact chunks are compared with the original */
    if (df11_open(d->df11, &r, &err) != DF11_OK) {
        snprintf(name, sizeof name, "gpu_%s_corrupt_%s", backend, d->label);
        result(0, name, err.message);
        return;
    }
    uint32_t ke = pick_chunk(r, DF11_FMT_EXP), ka = pick_chunk(r, DF11_FMT_ANS), ki = pick_chunk(r, DF11_FMT_ANS_IL);
    if (ke == UINT32_MAX && ka == UINT32_MAX && ki == UINT32_MAX)
        printf("SKIP gpu_%s_corrupt_%s no multi-lane GPU-path chunk\n", backend, d->label);
    if (ke != UINT32_MAX) corrupt_exp(backend, d, r, ke);
    if (ka != UINT32_MAX) corrupt_ans(backend, d, r, ka);
    if (ki != UINT32_MAX) corrupt_ans_il(backend, d, r, ki);
    df11_close(r);
}

/* Four threads decode d at once, each into its own buffer. */
typedef struct {
    const dataset *d;
    int ok;
    char msg[700];
} thread_arg;

static void *decode_thread(void *p)
{
    thread_arg *a = p;
    a->ok = decode_all(a->d->df11, a->d->orig, a->d->orig_len, DF11_BATCH_HOST, 0, 0, a->msg, sizeof a->msg);
    return NULL;
}

static void threads_check(const char *backend, const dataset *d)
{
    char name[96];
    thread_arg a[4];
    pthread_t th[4];
    int started = 0, ok = 1;
    for (int i = 0; i < 4; i++) {
        a[i] = (thread_arg){.d = d};
        if (pthread_create(&th[i], NULL, decode_thread, &a[i]) == 0) started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        ok = ok && a[i].ok;
    }
    snprintf(name, sizeof name, "gpu_%s_threads_%s", backend, d->label);
    int bad = 0;
    while (bad < 3 && a[bad].ok) bad++;
    result(ok && started == 4, name, a[bad].msg);
}

/* One batch over every chunk of several files, interleaved (ANS chunks of
 * the golden max.df11 beside the ANS_IL chunks of a --max file, EXP chunks
 * beside both): a slot then holds jobs of every codec and both ANS table
 * caches at once. Each file is compared with its original, or with the
 * SHA-256 its header records. */
static void mixed_check(const char *backend, const dataset *ds, size_t nds)
{
    char name[96], detail[400] = "";
    const dataset *pick[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < nds; i++) {
        if (!strcmp(ds[i].label, "max_golden")) pick[0] = &ds[i];
        if (!strcmp(ds[i].label, "max_edge64k")) pick[1] = &ds[i];
        if (!strcmp(ds[i].label, "edge64k")) pick[2] = &ds[i];
    }
    snprintf(name, sizeof name, "gpu_%s_mixed_codecs", backend);
    if (!pick[0] || !pick[1] || !pick[2]) {
        printf("SKIP %s the golden max.df11 or the edge files are missing\n", name);
        return;
    }
    df11_reader *r[3] = {NULL, NULL, NULL};
    uint8_t *out[3] = {NULL, NULL, NULL};
    df11_error err;
    int ok = 1;
    size_t total = 0;
    for (int f = 0; f < 3 && ok; f++) {
        if (df11_open(pick[f]->df11, &r[f], &err) != DF11_OK) {
            snprintf(detail, sizeof detail, "open: %.380s", err.message);
            ok = 0;
            break;
        }
        out[f] = malloc((size_t)df11_original_size(r[f]) + 1);
        total += r[f]->chunk_count;
    }
    df11_chunk_job *jobs = calloc(total + 1, sizeof *jobs);
    df11_status *st = calloc(total + 1, sizeof *st);
    size_t n = 0;
    for (uint32_t c = 0; ok && jobs && st; c++) { /* round robin over the files */
        int any = 0;
        for (int f = 0; f < 3; f++) {
            if (c >= r[f]->chunk_count) continue;
            uint64_t off;
            uint32_t len;
            df11_chunk_extent(r[f], c, &off, &len);
            jobs[n++] = (df11_chunk_job){r[f], c, out[f] + off};
            any = 1;
        }
        if (!any) break;
    }
    if (ok && (!jobs || !st)) snprintf(detail, sizeof detail, "out of memory"), ok = 0;
    if (ok && df11_gpu_decode_batch(jobs, n, DF11_BATCH_HOST, st, &err) != DF11_OK) {
        snprintf(detail, sizeof detail, "batch: %.380s", err.message);
        ok = 0;
    }
    for (int f = 0; f < 3 && ok; f++) {
        const size_t len = (size_t)df11_original_size(r[f]);
        const int same = pick[f]->orig ? len == pick[f]->orig_len && !memcmp(out[f], pick[f]->orig, len)
                                       : sha256_is(out[f], len, r[f]->sha256);
        if (!same) snprintf(detail, sizeof detail, "%s: wrong bytes", pick[f]->label), ok = 0;
    }
    if (ok)
        snprintf(detail, sizeof detail, "%zu jobs: %u ANS, %u ANS_IL, %u EXP chunks", n,
                 gpu_chunks_of(r[0], DF11_FMT_ANS) + gpu_chunks_of(r[1], DF11_FMT_ANS),
                 gpu_chunks_of(r[0], DF11_FMT_ANS_IL) + gpu_chunks_of(r[1], DF11_FMT_ANS_IL),
                 gpu_chunks_of(r[2], DF11_FMT_EXP));
    result(ok, name, detail);
    for (int f = 0; f < 3; f++) {
        free(out[f]);
        if (r[f]) df11_close(r[f]);
    }
    free(jobs);
    free(st);
}

static void set_backend(const char *backend)
{
    unsetenv("DF11_GPU");
    unsetenv("DF11_GPU_EMULATE");
    if (!strcmp(backend, "cpu")) setenv("DF11_GPU", "0", 1);
    if (!strcmp(backend, "emul")) {
        setenv("DF11_GPU", "0", 1);
        setenv("DF11_GPU_EMULATE", "1", 1);
    }
}

static void run_backend(const char *backend, dataset *ds, size_t nds)
{
    char name[96], msg[700];
    set_backend(backend);
    for (size_t i = 0; i < nds; i++) {
        snprintf(name, sizeof name, "gpu_%s_host_%s", backend, ds[i].label);
        result(decode_all(ds[i].df11, ds[i].orig, ds[i].orig_len, DF11_BATCH_HOST, 0, 0, msg, sizeof msg), name, msg);
    }
    for (size_t i = 0; i < nds; i++) corruption_checks(backend, &ds[i]);
    for (size_t i = 0; i < nds; i++)
        if (ds[i].orig && !strncmp(ds[i].label, "max", 3)) threads_check(backend, &ds[i]);
    mixed_check(backend, ds, nds);
    /* The same process, after the failures: clean batches still decode. */
    for (size_t i = 0; i < nds; i++) {
        snprintf(name, sizeof name, "gpu_%s_clean_after_corrupt_%s", backend, ds[i].label);
        result(decode_all(ds[i].df11, ds[i].orig, ds[i].orig_len, DF11_BATCH_HOST, 0, 0, msg, sizeof msg), name, msg);
    }
    if (!strcmp(backend, "gpu") || !strcmp(backend, "fake")) {
        /* A pinned destination takes the direct asynchronous D2H path. */
        for (size_t i = 0; i < nds; i++) {
            snprintf(name, sizeof name, "gpu_%s_host_pinned_%s", backend, ds[i].label);
            result(decode_all(ds[i].df11, ds[i].orig, ds[i].orig_len, DF11_BATCH_HOST, 0, 1, msg, sizeof msg),
                   name, msg);
        }
        for (size_t i = 0; i < nds; i++) {
            for (int mis = 0; mis < 2; mis++) {
                snprintf(name, sizeof name, "gpu_%s_device_%s%s", backend, ds[i].label, mis ? "_misaligned" : "");
                result(decode_all(ds[i].df11, ds[i].orig, ds[i].orig_len, DF11_BATCH_DEVICE, mis, 0, msg, sizeof msg),
                       name, msg);
            }
        }
    }
}

/* The fake CUDA runtime only (DF11_FAKE_CUDA_FAIL_AT, kernels/fake_cuda.h):
 * a CUDA call failing at any point of a batch sends it to the CPU, exact
 * bytes still, and the next batch gets a fresh context. */
static void fake_failures(const dataset *d)
{
    static const int at[] = {1, 2, 5, 9, 17, 40};
    char name[96], msg[700];
    for (int m = 0; m < 2; m++) {
        const df11_batch_mode mode = m ? DF11_BATCH_DEVICE : DF11_BATCH_HOST;
        int ok = 1;
        char first[800] = "";
        for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
            char v[16];
            /* device mode: call 1 is this test's own cudaMalloc */
            snprintf(v, sizeof v, "%d", at[k] + m);
            setenv("DF11_FAKE_CUDA_FAIL_AT", v, 1);
            int a = decode_all(d->df11, d->orig, d->orig_len, mode, 0, 0, msg, sizeof msg);
            unsetenv("DF11_FAKE_CUDA_FAIL_AT");
            int b = a && decode_all(d->df11, d->orig, d->orig_len, mode, 0, 0, msg, sizeof msg);
            if (!b && ok) snprintf(first, sizeof first, "failing call %d: %s", at[k], msg);
            ok = ok && b;
        }
        snprintf(name, sizeof name, "gpu_fake_cuda_failure_falls_back_%s_%s", m ? "device" : "host", d->label);
        result(ok, name, first);
    }
}

/* kernels/fake_cuda.cpp: operations enqueued on streams that no successful
 * synchronization covered yet; absent (NULL) outside gpu_diff_fake. */
extern long df11_fake_cuda_unsynced(void) __attribute__((weak));

/* Call B of fake_partial_submit: its payload load waits until released, so
 * it holds a slot and the context while call A fails. */
typedef struct {
    df11_cuda_io inner, io;
    const df11_cuda_job *jobs;
    size_t n;
    const df11_cuda_tables *tables;
    df11_status *status;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, released;
} held_call;

static df11_status held_load(void *ctx, size_t j, uint8_t *buf)
{
    held_call *h = ctx;
    pthread_mutex_lock(&h->mu);
    h->entered = 1;
    pthread_cond_broadcast(&h->cv);
    while (!h->released) pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    return h->inner.load(h->inner.ctx, j, buf);
}
static df11_status held_check(void *ctx, size_t j, const void *bytes)
{
    held_call *h = ctx;
    return h->inner.check(h->inner.ctx, j, bytes);
}
static void held_fail(void *ctx, size_t j, df11_status st, const char *msg)
{
    held_call *h = ctx;
    h->inner.fail(h->inner.ctx, j, st, msg);
}
static void *held_thread(void *p)
{
    held_call *h = p;
    char why[256];
    df11_cuda_decode(h->jobs, h->n, h->tables, 0, &h->io, h->status, why, sizeof why);
    return NULL;
}

/* The fake only: a CUDA call failing anywhere in a batch while another
 * call holds the context (so the failed one's slots are not freed behind
 * it) must not return, or hand a slot back to the pool, with copies or
 * kernels it enqueued still unsynchronized: on a GPU they would go on
 * writing the caller's buffers (pinned dst, device dst) while the CPU
 * fallback writes the right bytes there, or read a slot's pinned buffers
 * while the next owner refills them. */
static void fake_partial_submit(const dataset *d)
{
    char detail[600] = "";
    int ok = 1, fails = 0;
    df11_reader *r = NULL;
    df11_error err;
    if (!df11_fake_cuda_unsynced || df11_open(d->df11, &r, &err) != DF11_OK) {
        result(0, "gpu_fake_failure_leaves_nothing_in_flight", "no fake runtime or cannot open");
        return;
    }
    const size_t n = r->chunk_count;
    df11_chunk_job *cj = calloc(n, sizeof *cj);
    uint8_t *dst[2] = {NULL, NULL};
    char mwhy[256];
    for (int k = 0; k < 2; k++)
        if (df11_cuda_malloc_host((void **)&dst[k], (size_t)r->original_size + 1, mwhy, sizeof mwhy) != DF11_OK)
            dst[k] = NULL;
    for (int at = 1; ok && at <= 80 && cj && dst[0] && dst[1]; at++) {
        df11_gpu_plan *pa = NULL, *pb = NULL;
        const df11_cuda_job *ja, *jb;
        size_t na, nb;
        df11_cuda_tables ta, tb;
        df11_cuda_io ioa;
        held_call h = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
        for (int k = 0; k < 2; k++) {
            for (size_t i = 0; i < n; i++) /* pinned: the direct D2H path */
                cj[i] = (df11_chunk_job){r, (uint32_t)i, dst[k] + r->chunks[i].orig_offset};
            df11_status s = k ? df11_gpu_plan_make(cj, n, DF11_BATCH_HOST, &pb, &jb, &nb, &tb, &h.inner, &err)
                              : df11_gpu_plan_make(cj, n, DF11_BATCH_HOST, &pa, &ja, &na, &ta, &ioa, &err);
            if (s != DF11_OK) ok = 0;
        }
        df11_status *sa = calloc(na + 1, sizeof *sa), *sb = calloc(nb + 1, sizeof *sb);
        h.io = (df11_cuda_io){held_load, held_check, held_fail, &h};
        h.jobs = jb, h.n = nb, h.tables = &tb, h.status = sb;
        pthread_t th;
        if (!ok || !sa || !sb || na == 0 || pthread_create(&th, NULL, held_thread, &h) != 0) {
            snprintf(detail, sizeof detail, "cannot set up (plans, %zu GPU jobs, thread)", na);
            ok = 0;
        } else {
            pthread_mutex_lock(&h.mu);
            while (!h.entered) pthread_cond_wait(&h.cv, &h.mu);
            pthread_mutex_unlock(&h.mu);
            char v[16], why[256] = "";
            snprintf(v, sizeof v, "%d", at);
            setenv("DF11_FAKE_CUDA_FAIL_AT", v, 1);
            df11_status s = df11_cuda_decode(ja, na, &ta, 0, &ioa, sa, why, sizeof why);
            unsetenv("DF11_FAKE_CUDA_FAIL_AT");
            long left = df11_fake_cuda_unsynced(); /* B has enqueued nothing yet */
            fails += s != DF11_OK;
            if (left != 0) {
                snprintf(detail, sizeof detail,
                         "CUDA call %d failing (status %d: %s): %ld operations still unsynchronized when "
                         "df11_cuda_decode returned",
                         at, (int)s, why, left);
                ok = 0;
            }
            pthread_mutex_lock(&h.mu);
            h.released = 1;
            pthread_cond_broadcast(&h.cv);
            pthread_mutex_unlock(&h.mu);
            pthread_join(th, NULL);
        }
        free(sa), free(sb);
        df11_gpu_plan_free(pa);
        df11_gpu_plan_free(pb);
    }
    if (ok && fails == 0) snprintf(detail, sizeof detail, "no call failed: the test missed"), ok = 0;
    for (int k = 0; k < 2; k++) df11_cuda_free_host(dst[k]);
    free(cj);
    df11_close(r);
    char name[96];
    snprintf(name, sizeof name, "gpu_fake_failure_leaves_nothing_in_flight_%s", d->label);
    result(ok, name, detail);
}

/* --- ANS_IL (FORMAT.md 10) at the kernels' seam ---
 *
 * The library's ANS_IL encoder and the reader's codec-5 support are being
 * written concurrently, so these checks do not go through files: a small
 * independent rANS encoder below writes ANS_IL payloads of chosen sizes,
 * the test's own io callbacks hand them to df11_emul_decode (the CPU model)
 * and df11_cuda_decode (the kernels, or the fake runtime's launchers), and
 * every result is compared with codec/common/ans.h's reference decoder
 * (df11_ans_il_decode_ref) and, for intact payloads, with the input. */


typedef struct {
    uint16_t efreq[256], mfreq[8][256];
    uint8_t ctx[256];
} il_model;

/* Normalises counts of nsym symbols to frequencies summing to 4096, every
 * used symbol >= 1, none 4096 (a second symbol gets 1 if only one is used;
 * an unused context gets a flat table). */
static void il_normalize(const uint64_t *cnt, unsigned nsym, uint16_t *f)
{
    uint64_t total = 0;
    unsigned used = 0, top = 0;
    for (unsigned s = 0; s < 256; s++) f[s] = 0;
    for (unsigned s = 0; s < nsym; s++) total += cnt[s], used += cnt[s] != 0;
    if (used == 0) {
        for (unsigned s = 0; s < nsym; s++) f[s] = (uint16_t)(4096 / nsym);
        return;
    }
    int32_t sum = 0;
    for (unsigned s = 0; s < nsym; s++) {
        if (!cnt[s]) continue;
        uint64_t v = cnt[s] * 4096 / total;
        f[s] = (uint16_t)(v ? (v > 4095 ? 4095 : v) : 1);
        sum += f[s];
        if (f[s] > f[top] || !cnt[top]) top = s;
    }
    if (used == 1) {
        f[top] = 4095;
        f[(top + 1) % nsym] = 1;
        return;
    }
    while (sum != 4096) { /* the largest absorbs the rounding, one unit at a time */
        unsigned big = 0;
        for (unsigned s = 0; s < nsym; s++)
            if (f[s] > f[big]) big = s;
        if (sum > 4096 && f[big] > 1) f[big]--, sum--;
        else if (sum < 4096 && f[big] < 4095) f[big]++, sum++;
        else break;
    }
}

/* A model fitted to v: exponent context e % 8, so all eight mantissa
 * tables are used. */
static void il_fit(const uint16_t *v, uint32_t n, il_model *m)
{
    static uint64_t ec[256], mc[8][128];
    memset(ec, 0, sizeof ec);
    memset(mc, 0, sizeof mc);
    for (unsigned e = 0; e < 256; e++) m->ctx[e] = (uint8_t)(e % 8);
    for (uint32_t i = 0; i < n; i++) {
        ec[v[i] >> 7 & 0xFF]++;
        mc[m->ctx[v[i] >> 7 & 0xFF]][v[i] & 0x7F]++;
    }
    il_normalize(ec, 256, m->efreq);
    for (unsigned c = 0; c < 8; c++) il_normalize(mc[c], 128, m->mfreq[c]);
}

/* rANS put: emit the low word when x >= freq << 20, then encode. */
static void il_put(uint32_t *x, uint32_t f, uint32_t c, uint16_t *words, size_t *nw)
{
    if (*x >= f << 20) {
        words[(*nw)++] = (uint16_t)*x;
        *x >>= 16;
    }
    *x = (*x / f << 12) + *x % f + c;
}

/* The ANS_IL payload of v (n elements) under m, LIFO: groups last to first;
 * in a group the mantissa steps of lanes cnt-1..0, then the exponent steps
 * of lanes cnt-1..0. The words come out in reverse reading order and the
 * final states are the decoder's initial ones. */
/* sg: FORMAT.md 10.1's layout (flag IL_SIGNS): lane k starts in 2^16 plus
 * the signs of its first 16 elements, and the plane leaves those out. */
static uint8_t *il_encode(const uint16_t *v, uint32_t n, const il_model *m, int sg, uint32_t *len)
{
    uint16_t ecum[256], mcum[8][256];
    for (unsigned s = 0, a = 0; s < 256; a += m->efreq[s], s++) ecum[s] = (uint16_t)a;
    for (unsigned c = 0; c < 8; c++)
        for (unsigned s = 0, a = 0; s < 256; a += m->mfreq[c][s], s++) mcum[c][s] = (uint16_t)a;
    const uint32_t nl = df11_ans_il_lanes(n);
    uint32_t x[64];
    const uint32_t carried = sg ? (16 * nl < n ? 16 * nl : n) : 0;
    for (uint32_t k = 0; k < nl; k++) {
        x[k] = DF11_ANS_LOW;
        for (uint32_t j = 0; k + j * nl < carried; j++) x[k] |= (uint32_t)(v[k + j * nl] >> 15) << j;
    }
    uint16_t *words = malloc((2 * (size_t)n + 1) * sizeof *words);
    size_t nw = 0;
    const uint32_t groups = (n + nl - 1) / nl;
    for (uint32_t g = groups; g-- > 0;) {
        const uint32_t cnt = n - g * nl < nl ? n - g * nl : nl;
        for (uint32_t k = cnt; k-- > 0;) {
            const uint32_t e = v[g * nl + k] >> 7 & 0xFF, c = m->ctx[e], s = v[g * nl + k] & 0x7F;
            il_put(&x[k], m->mfreq[c][s], mcum[c][s], words, &nw);
        }
        for (uint32_t k = cnt; k-- > 0;) {
            const uint32_t e = v[g * nl + k] >> 7 & 0xFF;
            il_put(&x[k], m->efreq[e], ecum[e], words, &nw);
        }
    }
    const uint32_t signs = (n - carried + 7) / 8;
    *len = 4 * nl + 2 * (uint32_t)nw + signs;
    uint8_t *p = calloc(*len, 1);
    for (uint32_t k = 0; k < nl; k++) df11_wr32(p + 4 * k, x[k]);
    for (size_t i = 0; i < nw; i++) df11_wr16(p + 4 * nl + 2 * i, words[nw - 1 - i]);
    for (uint32_t i = carried; i < n; i++)
        p[*len - signs + (i - carried) / 8] |= (uint8_t)((v[i] >> 15) << ((i - carried) % 8));
    free(words);
    return p;
}

/* The format's record form of m (tables 0..8, model 0), for gpu_prep.c. */
static void il_records(const il_model *m, df11_fmt_table t[9], df11_fmt_model *fm)
{
    memset(t, 0, 9 * sizeof *t);
    t[0].prob_bits = 12;
    memcpy(t[0].freq, m->efreq, sizeof t[0].freq);
    for (unsigned c = 0; c < 8; c++) {
        t[1 + c].prob_bits = 12;
        memcpy(t[1 + c].freq, m->mfreq[c], sizeof t[1 + c].freq);
        fm->mant_table[c] = 1 + c;
    }
    fm->exp_table = 0;
    memcpy(fm->ctx, m->ctx, sizeof fm->ctx);
}

/* One payload of the set, what the reference makes of it, and its table. */
typedef struct {
    char name[96];
    uint8_t *p;
    uint32_t len, n, table;
    int signs;            /* the layout of files with flag IL_SIGNS (10.1) */
    uint8_t *want;        /* the reference's bytes (2n) */
    int ref_bad;          /* df11_ans_il_decode_ref said malformed */
    int host_bad;         /* df11_gpu_check_ans_il refuses it */
} il_case;

typedef struct {
    il_case *c;
    size_t n, cap;
    df11_cuda_ans_il_table *tabs;
    size_t ntabs;
    /* per call */
    df11_status *got;
    char (*msg)[160];
    const uint8_t **host_out; /* device mode: where check found the bytes */
} il_set;

static df11_status il_load(void *ctx, size_t j, uint8_t *buf)
{
    il_set *s = ctx;
    const il_case *c = &s->c[j];
    memcpy(buf, c->p, c->len);
    char why[160];
    df11_status st = df11_gpu_check_ans_il(buf, c->len, c->n, c->signs, why, sizeof why);
    if (st != DF11_OK) snprintf(s->msg[j], sizeof s->msg[j], "load: %.150s", why);
    return st;
}
static df11_status il_check(void *ctx, size_t j, const void *bytes)
{
    il_set *s = ctx;
    return memcmp(bytes, s->c[j].want, 2 * (size_t)s->c[j].n) ? DF11_E_CHECKSUM : DF11_OK;
}
static void il_fail(void *ctx, size_t j, df11_status st, const char *msg)
{
    il_set *s = ctx;
    snprintf(s->msg[j], sizeof s->msg[j], "%s: %s", df11_status_name(st), msg);
}

/* Adds payload p (taken) of n elements under table t, with the reference's
 * verdict and bytes. */
static void il_add(il_set *s, const char *name, uint8_t *p, uint32_t len, uint32_t n, uint32_t t,
                   const il_model *m, int sg)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->c = realloc(s->c, s->cap * sizeof *s->c);
    }
    il_case *c = &s->c[s->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->p = p, c->len = len, c->n = n, c->table = t, c->signs = sg;
    c->want = calloc(2 * (size_t)n + 1, 1);
    c->ref_bad = df11_ans_il_decode_ref(p, len, n, s->tabs[t].eslot, s->tabs[t].mslot, m->ctx, sg, c->want);
    char why[160];
    c->host_bad = df11_gpu_check_ans_il(p, len, n, sg, why, sizeof why) != DF11_OK;
}

/* Runs the whole set through one backend (emul: df11_emul_decode; else
 * df11_cuda_decode, host mode or device mode at byte offset mis) and checks
 * every job: a payload the reference rejects must fail with
 * DF11_E_CORRUPT_CHUNK, any other must give the reference's bytes. */
static int il_run(il_set *s, const char *backend, int device, int mis, char *detail, size_t dlen)
{
    size_t out_len = 0;
    for (size_t j = 0; j < s->n; j++) out_len += 2 * (size_t)s->c[j].n + 16;
    uint8_t *host = malloc(out_len + 16), *dev = NULL;
    df11_cuda_job *jobs = calloc(s->n, sizeof *jobs);
    s->got = calloc(s->n, sizeof *s->got);
    s->msg = calloc(s->n, sizeof *s->msg);
    char why[256] = "";
    int ok = host && jobs && s->got && s->msg;
    if (ok && device && df11_cuda_malloc((void **)&dev, out_len + 16, why, sizeof why) != DF11_OK) {
        snprintf(detail, dlen, "cudaMalloc: %s", why);
        ok = 0;
    }
    uint8_t *base = (device ? dev : host) + mis;
    size_t off = 0;
    for (size_t j = 0; ok && j < s->n; j++) {
        jobs[j] = (df11_cuda_job){s->c[j].len, s->c[j].n, 0, s->c[j].table, DF11_CUDA_ANS_IL, base + off,
                                  (uint32_t)s->c[j].signs};
        off += 2 * (size_t)s->c[j].n + 16;
    }
    df11_cuda_tables t = {.ans_il = s->tabs, .ans_il_count = s->ntabs};
    df11_cuda_io io = {il_load, il_check, il_fail, s};
    if (ok) {
        df11_status st = !strcmp(backend, "emul")
                             ? df11_emul_decode(jobs, s->n, &t, &io, s->got, why, sizeof why)
                             : df11_cuda_decode(jobs, s->n, &t, device, &io, s->got, why, sizeof why);
        if (st != DF11_OK) {
            snprintf(detail, dlen, "the batch failed: %s: %s", df11_status_name(st), why);
            ok = 0;
        }
    }
    /* Only what the decoders wrote comes back (gaps and rejected jobs may
     * hold bytes nothing initialised: compute-sanitizer's initcheck). */
    off = 0;
    for (size_t j = 0; ok && device && j < s->n; j++) {
        if (!s->c[j].ref_bad && s->got[j] == DF11_OK &&
            df11_cuda_copy_to_host(host + mis + off, dev + mis + off, 2 * (size_t)s->c[j].n, why, sizeof why) != DF11_OK) {
            snprintf(detail, dlen, "copy back: %s", why);
            ok = 0;
        }
        off += 2 * (size_t)s->c[j].n + 16;
    }
    size_t good = 0, bad = 0;
    off = 0;
    for (size_t j = 0; ok && j < s->n; j++) {
        const il_case *c = &s->c[j];
        const uint8_t *out = host + mis + off;
        off += 2 * (size_t)c->n + 16;
        if (c->ref_bad) {
            if (s->got[j] != DF11_E_CORRUPT_CHUNK) {
                snprintf(detail, dlen, "%s (n %u): the reference rejects it, the %s path gave %s", c->name, c->n,
                         backend, df11_status_name(s->got[j]));
                ok = 0;
            }
            bad++;
        } else if (s->got[j] != DF11_OK || memcmp(out, c->want, 2 * (size_t)c->n)) {
            snprintf(detail, dlen, "%s (n %u): %s, %s the reference's bytes (%s)", c->name, c->n,
                     df11_status_name(s->got[j]), memcmp(out, c->want, 2 * (size_t)c->n) ? "not" : "",
                     s->msg[j]);
            ok = 0;
        } else {
            good++;
        }
    }
    if (ok) snprintf(detail, dlen, "%zu payloads: %zu decoded as the reference, %zu rejected as it does", s->n, good, bad);
    df11_cuda_free(dev);
    free(host);
    free(jobs);
    free(s->got);
    free(s->msg);
    return ok;
}

/* The model's two decoders called directly on every payload of the set,
 * each placed so that it ends at a PROT_NONE page (a read past the payload
 * faults), against the reference's verdict and bytes; the host check is
 * bypassed, so the kernels' own guards meet every corruption. */
static int il_direct(const il_set *s, char *detail, size_t dlen)
{
    const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t j = 0; j < s->n; j++) {
        const il_case *c = &s->c[j];
        const size_t span = (c->len + pg - 1) / pg * pg;
        uint8_t *map = mmap(NULL, span + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (map == MAP_FAILED || mprotect(map + span, pg, PROT_NONE) != 0) {
            snprintf(detail, dlen, "mmap");
            return 0;
        }
        uint8_t *p = map + span - c->len, *out = malloc(2 * (size_t)c->n + 1);
        memcpy(p, c->p, c->len);
        const df11_cuda_ans_il_table *t = &s->tabs[c->table];
        const uint32_t nl = df11_ans_il_lanes(c->n);
        const int ok = nl == 1 ? df11_il_serial(p, c->len, c->n, (uint32_t)c->signs, t->eslot, t->ectx, t->mslot, out)
                               : df11_il_warp(p, c->len, c->n, (uint32_t)c->signs, t->eslot, t->ectx, t->mslot, out,
                                              df11_il_team(nl));
        int same = ok == !c->ref_bad && (!ok || memcmp(out, c->want, 2 * (size_t)c->n) == 0);
        if (same && nl == 16) { /* a whole warp on a 16-lane chunk agrees too */
            const int ok32 = df11_il_warp(p, c->len, c->n, (uint32_t)c->signs, t->eslot, t->ectx, t->mslot, out, 32);
            same = ok32 == ok && (!ok || memcmp(out, c->want, 2 * (size_t)c->n) == 0);
        }
        munmap(map, span + pg);
        free(out);
        if (!same) {
            snprintf(detail, dlen, "%s (n %u, %u lanes): model %s, reference %s", c->name, c->n,
                     df11_ans_il_lanes(c->n), ok ? "accepts" : "rejects", c->ref_bad ? "rejects" : "accepts");
            return 0;
        }
    }
    snprintf(detail, dlen, "%zu payloads, every one ending at a PROT_NONE page", s->n);
    return 1;
}

static uint8_t *il_copy(const il_case *c, uint32_t extra)
{
    uint8_t *p = malloc(c->len + extra + 1);
    memcpy(p, c->p, c->len);
    return p;
}

/* Damaged copies of an intact payload c (n elements, model m). */
static void il_corrupt(il_set *s, const il_case *c0, const il_model *m)
{
    const il_case c = *c0; /* il_add may move the array */
    const uint32_t nl = df11_ans_il_lanes(c.n);
    const uint32_t signs = (uint32_t)df11_ans_il_plane_bytes(c.n, df11_ans_il_carried(c.n, nl, c.signs));
    const uint32_t sw = (c.len - 4 * nl - signs) / 2;
    char name[80];
    uint8_t *p;
    if (sw > 0) { /* a flipped stream byte, mid-stream and in the last word */
        (p = il_copy(&c, 0))[4 * nl + sw] ^= 0x5A;
        snprintf(name, sizeof name, "%.60s/flip", c.name);
        il_add(s, name, p, c.len, c.n, c.table, m, c.signs);
        (p = il_copy(&c, 0))[4 * nl + 2 * sw - 1] ^= 0x01;
        snprintf(name, sizeof name, "%.60s/flip_last", c.name);
        il_add(s, name, p, c.len, c.n, c.table, m, c.signs);
    }
    /* the last lane's state below 2^16 (the host check), and one off */
    df11_wr32((p = il_copy(&c, 0)) + 4 * (nl - 1), 0x1234);
    snprintf(name, sizeof name, "%.60s/state_low", c.name);
    il_add(s, name, p, c.len, c.n, c.table, m, c.signs);
    df11_wr32((p = il_copy(&c, 0)), df11_rd32(c.p) ^ 1);
    snprintf(name, sizeof name, "%.60s/state_off", c.name);
    il_add(s, name, p, c.len, c.n, c.table, m, c.signs);
    if (sw > 0) { /* the stream one word short: the last step wants a word past the end */
        p = il_copy(&c, 0);
        memmove(p + c.len - signs - 2, p + c.len - signs, signs);
        snprintf(name, sizeof name, "%.60s/short", c.name);
        il_add(s, name, p, c.len - 2, c.n, c.table, m, c.signs);
    }
    /* one word too many: not read to its end */
    (p = il_copy(&c, 2));
    memmove(p + c.len - signs + 2, p + c.len - signs, signs);
    p[c.len - signs] = 0x11, p[c.len - signs + 1] = 0x22;
    snprintf(name, sizeof name, "%.60s/long", c.name);
    il_add(s, name, p, c.len + 2, c.n, c.table, m, c.signs);
    /* an odd stream (the host check and the kernels' geometry) */
    (p = il_copy(&c, 1))[c.len] = 0;
    snprintf(name, sizeof name, "%.60s/odd", c.name);
    il_add(s, name, p, c.len + 1, c.n, c.table, m, c.signs);
    /* the stream replaced by noise */
    p = il_copy(&c, 0);
    for (uint32_t i = 4 * nl; i < c.len - signs; i++) p[i] = (uint8_t)rnd();
    snprintf(name, sizeof name, "%.60s/noise", c.name);
    il_add(s, name, p, c.len, c.n, c.table, m, c.signs);
    /* too short for the header and sign plane */
    p = il_copy(&c, 0);
    snprintf(name, sizeof name, "%.60s/truncated", c.name);
    il_add(s, name, p, 4 * nl + signs - 1, c.n, c.table, m, c.signs);
}

/* Adds an intact payload of v under a model fitted to it; returns its index. */
static size_t il_add_data(il_set *s, il_model *models, const char *name, const uint16_t *v, uint32_t n)
{
    const size_t t = s->ntabs++;
    s->tabs = realloc(s->tabs, s->ntabs * sizeof *s->tabs);
    il_fit(v, n, &models[t]);
    df11_fmt_table rec[9];
    df11_fmt_model fm;
    il_records(&models[t], rec, &fm);
    if (df11_gpu_build_ans_il(rec, 9, &fm, &s->tabs[t]) != DF11_OK) {
        printf("FAIL gpu_ans_il_fit_%s  # the fitted model is not a valid ANS_IL model\n", name);
        failed = 1;
    }
    uint32_t len;
    /* both layouts (FORMAT.md 10 and 10.1), model by model */
    const int sg = t % 2 == 0;
    uint8_t *p = il_encode(v, n, &models[t], sg, &len);
    il_add(s, name, p, len, n, (uint32_t)t, &models[t], sg);
    const il_case *c = &s->c[s->n - 1];
    if (c->ref_bad || memcmp(c->want, v, 2 * (size_t)n) != 0) { /* the encoder's own check */
        printf("FAIL gpu_ans_il_encode_%s  # the reference does not decode the test encoder's payload\n", name);
        failed = 1;
    }
    return s->n - 1;
}

/* Slices of one tensor under one model fitted to all of it: consecutive
 * jobs of one table, which the GPU path pairs two to a warp when they have
 * 16 lanes. */
static void il_add_slices(il_set *s, il_model *models, const char *name, const uint16_t *v, uint32_t n,
                          const uint32_t *len, size_t nlen)
{
    const size_t t = s->ntabs++;
    s->tabs = realloc(s->tabs, s->ntabs * sizeof *s->tabs);
    il_fit(v, n, &models[t]);
    df11_fmt_table rec[9];
    df11_fmt_model fm;
    il_records(&models[t], rec, &fm);
    df11_gpu_build_ans_il(rec, 9, &fm, &s->tabs[t]);
    uint32_t at = 0;
    for (size_t k = 0; k < nlen && at + len[k] <= n; at += len[k], k++) {
        uint32_t plen;
        uint8_t *p = il_encode(v + at, len[k], &models[t], (int)(k % 2), &plen);
        char nm[64];
        snprintf(nm, sizeof nm, "%s@%u.%u", name, at, len[k]);
        il_add(s, nm, p, plen, len[k], (uint32_t)t, &models[t], (int)(k % 2));
        if (s->c[s->n - 1].ref_bad || memcmp(s->c[s->n - 1].want, v + at, 2 * (size_t)len[k])) {
            printf("FAIL gpu_ans_il_encode_%s  # the reference does not decode the test encoder's payload\n", nm);
            failed = 1;
        }
    }
}

/* gpu_prep.c's table check: what the format forbids is refused, a valid
 * model is built as df11_ans_il_build builds it, with ectx = ctx[e]. */
static void il_table_checks(const il_model *m, const df11_cuda_ans_il_table *built)
{
    df11_fmt_table rec[9], bad[9];
    df11_fmt_model fm, bm;
    il_records(m, rec, &fm);
    static df11_cuda_ans_il_table out;
    static uint32_t es[4096], ms[8 << 12];
    const uint16_t *mf[8];
    for (unsigned c = 0; c < 8; c++) mf[c] = m->mfreq[c];
    df11_ans_il_build(m->efreq, mf, es, ms);
    int ok = df11_gpu_build_ans_il(rec, 9, &fm, &out) == DF11_OK && !memcmp(out.eslot, es, sizeof es) &&
             !memcmp(out.mslot, ms, sizeof ms) && !memcmp(&out, built, sizeof out);
    for (unsigned k = 0; ok && k < 4096; k++) ok = out.ectx[k] == m->ctx[es[k] & 0xFF];
    result(ok, "gpu_ans_il_tables_built_as_ans_h", "");
    unsigned top = 0;
    for (unsigned s = 0; s < 256; s++)
        if (rec[0].freq[s] > rec[0].freq[top]) top = s;
    unsigned mtop = 0;
    for (unsigned s = 0; s < 128; s++)
        if (rec[1].freq[s] > rec[1].freq[mtop]) mtop = s;
    static const char *const what[] = {"exp_p14", "exp_sum", "exp_4096", "mant_sym128", "mant_sum",
                                       "ctx8", "exp_index", "mant_index", "mant_p14"};
    int all = 1;
    char detail[160] = "";
    for (unsigned w = 0; w < sizeof what / sizeof what[0]; w++) {
        memcpy(bad, rec, sizeof bad);
        bm = fm;
        switch (w) {
        case 0: bad[0].prob_bits = 14; break;
        case 1: bad[0].freq[top]--; break;
        case 2: memset(bad[0].freq, 0, sizeof bad[0].freq), bad[0].freq[7] = 4096; break;
        case 3: bad[1].freq[mtop]--, bad[1].freq[200] = 1; break;
        case 4: bad[1].freq[mtop]++; break;
        case 5: bm.ctx[100] = 8; break;
        case 6: bm.exp_table = 9; break;
        case 7: bm.mant_table[5] = 1000; break;
        case 8: bad[3].prob_bits = 14; break;
        }
        if (df11_gpu_build_ans_il(bad, 9, &bm, &out) != DF11_E_BAD_TABLE) {
            all = 0;
            snprintf(detail, sizeof detail, "%s accepted", what[w]);
        }
    }
    result(all, "gpu_ans_il_bad_tables_refused", detail);
}

/* Throughput of the ANS_IL kernels (gpu_diff --ans-il-bench [MiB]): the
 * intact payloads of pick, repeated to at least mib MiB of output, decoded
 * device to device by df11_cuda_bench_decode (checked warm-up, then timed
 * passes). Prints a d2d line for kernels/gpu_check.sh's summary. */
typedef struct {
    il_set *s;
    const size_t *pick;
    size_t npick;
} il_bench_io;
static df11_status ilb_load(void *ctx, size_t j, uint8_t *buf)
{
    il_bench_io *b = ctx;
    return il_load(b->s, b->pick[j % b->npick], buf);
}
static df11_status ilb_check(void *ctx, size_t j, const void *bytes)
{
    il_bench_io *b = ctx;
    return il_check(b->s, b->pick[j % b->npick], bytes);
}
static void ilb_fail(void *ctx, size_t j, df11_status st, const char *msg)
{
    il_bench_io *b = ctx;
    il_fail(b->s, b->pick[j % b->npick], st, msg);
}

static void il_bench(il_set *s, const char *what, const size_t *pick, size_t npick, unsigned mib)
{
    size_t per = 0;
    for (size_t k = 0; k < npick; k++) per += 2 * (size_t)s->c[pick[k]].n;
    if (!npick || !per) return;
    const size_t reps = ((size_t)mib << 20) / per + 1, n = reps * npick;
    df11_cuda_job *jobs = calloc(n, sizeof *jobs);
    s->msg = calloc(s->n, sizeof *s->msg);
    size_t lanes = 0, bytes = 0;
    for (size_t j = 0; jobs && j < n; j++) {
        const il_case *c = &s->c[pick[j % npick]];
        jobs[j] = (df11_cuda_job){c->len, c->n, 0, c->table, DF11_CUDA_ANS_IL, NULL, (uint32_t)c->signs};
        lanes += df11_ans_il_lanes(c->n);
        bytes += 2 * (size_t)c->n;
    }
    il_bench_io b = {s, pick, npick};
    df11_cuda_io io = {ilb_load, ilb_check, ilb_fail, &b};
    df11_cuda_tables t = {.ans_il = s->tabs, .ans_il_count = s->ntabs};
    double sec = 0;
    char why[256] = "";
    df11_status st = jobs && s->msg ? df11_cuda_bench_decode(jobs, n, &t, &io, 5, &sec, why, sizeof why) : DF11_E_NOMEM;
    if (st == DF11_OK)
        printf("d2d ans_il %s: %.2f GB/s output (%zu chunks, %zu lanes, %.1f MiB, %.3f ms a pass)\n", what,
               bytes / sec / 1e9, n, lanes, bytes / 1048576.0, sec * 1e3);
    else
        printf("FAIL gpu_ans_il_bench_%s  # %s: %s\n", what, df11_status_name(st), why), failed = 1;
    free(jobs);
    free(s->msg);
    s->msg = NULL;
}

static void ans_il_checks(const char *model_path, int emul, int cuda, const char *cuda_name, unsigned bench_mib)
{
    il_set s = {0};
    il_model models[64];
    /* Synthetic: every lane count (1, 16, 32, 48, 64), whole and short last
     * groups, one-element and one-exponent chunks, all 256 exponents. */
    static const struct { uint32_t n; const char *kind; } syn[] = {
        {1, "w"}, {7, "w"}, {9, "const"}, {5000, "all256"}, {16383, "w"}, {16384, "w"}, {16385, "w"},
        {131072, "two"}, {131073, "w"}, {262145, "all256"}, {393216, "w"}, {393217, "w"}, {524285, "w"},
        {524288, "const"}};
    size_t intact[32], ni = 0;
    for (size_t k = 0; k < sizeof syn / sizeof syn[0]; k++) {
        tensor t = {.n = syn[k].n, .v = malloc(syn[k].n * sizeof(uint16_t))};
        fill(&t, syn[k].kind);
        char name[48];
        snprintf(name, sizeof name, "%s.%u", syn[k].kind, syn[k].n);
        intact[ni++] = il_add_data(&s, models, name, t.v, t.n);
        free(t.v);
    }
    /* One model, consecutive 16-lane chunks (paired on a warp), a 1-lane
     * and a 64-lane one between them (which break a pair). */
    {
        static const uint32_t len[] = {131072, 16384, 100000, 20000, 5000, 131072, 393217, 16385, 131071};
        uint32_t tot = 0;
        for (size_t k = 0; k < sizeof len / sizeof len[0]; k++) tot += len[k];
        tensor t = {.n = tot, .v = malloc(tot * sizeof(uint16_t))};
        fill(&t, "w");
        il_add_slices(&s, models, "slices", t.v, t.n, len, sizeof len / sizeof len[0]);
        free(t.v);
    }
    /* Real weights: slices of the model file's BF16 data. */
    size_t flen = 0;
    uint8_t *f = model_path ? slurp(model_path, &flen) : NULL;
    if (f && flen > 8) {
        const uint64_t hl = df11_rd64(f), n16 = (flen - 8 - hl) / 2;
        static const uint32_t sizes[] = {524288, 400000, 300000, 200000, 131072, 10000};
        uint64_t at = 8 + hl;
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0] && (at - 8 - hl) / 2 + sizes[k] <= n16; k++) {
            uint16_t *v = malloc(sizes[k] * sizeof *v);
            for (uint32_t i = 0; i < sizes[k]; i++) v[i] = df11_rd16(f + at + 2 * (uint64_t)i);
            char name[48];
            snprintf(name, sizeof name, "model@%llu.%u", (unsigned long long)at, sizes[k]);
            intact[ni++] = il_add_data(&s, models, name, v, sizes[k]);
            at += 2 * (uint64_t)sizes[k] + 1000002; /* skip on to other tensors */
            free(v);
        }
    } else {
        printf("SKIP gpu_ans_il_model %s not found\n", model_path ? model_path : "(none)");
    }
    free(f);
    const size_t clean = s.n;
    if (bench_mib) {
        /* Chunks of 64 lanes (1 MiB, --chunk-log2 20) of real weights when
         * there are some, else synthetic; then every intact payload. */
        size_t pick[32], np = 0, all[32], na = 0;
        for (size_t k = 0; k < ni; k++) {
            all[na++] = intact[k];
            if (df11_ans_il_lanes(s.c[intact[k]].n) == 64 && !strncmp(s.c[intact[k]].name, "model", 5))
                pick[np++] = intact[k];
        }
        for (size_t k = 0; np == 0 && k < ni; k++)
            if (df11_ans_il_lanes(s.c[intact[k]].n) == 64) pick[np++] = intact[k];
        il_bench(&s, np && !strncmp(s.c[pick[0]].name, "model", 5) ? "64lanes_model" : "64lanes_synthetic", pick,
                 np, bench_mib);
        /* --max's default 256 KiB chunks: 16 lanes, two a warp. */
        size_t p16[32], n16 = 0;
        for (size_t k = 0; k < ni; k++)
            if (df11_ans_il_lanes(s.c[intact[k]].n) == 16 && !strncmp(s.c[intact[k]].name, "model", 5))
                p16[n16++] = intact[k];
        il_bench(&s, "16lanes_model", p16, n16, bench_mib);
        il_bench(&s, "mixed", all, na, bench_mib);
        for (size_t j = 0; j < s.n; j++) free(s.c[j].p), free(s.c[j].want);
        free(s.c);
        free(s.tabs);
        return;
    }
    /* Damage the chunks of every lane count. */
    for (size_t k = 0; k < ni; k++) {
        const uint32_t n = s.c[intact[k]].n;
        if (n == 7 || n == 16385 || n == 131073 || n == 262145 || n == 393217 || n == 524285 || n == 200000)
            il_corrupt(&s, &s.c[intact[k]], &models[s.c[intact[k]].table]);
    }
    char detail[400];
    snprintf(detail, sizeof detail, "%zu intact payloads, %zu damaged", clean, s.n - clean);
    result(clean >= 23, "gpu_ans_il_payloads", detail);
    result(il_direct(&s, detail, sizeof detail), "gpu_ans_il_model_vs_reference", detail);
    il_table_checks(&models[0], &s.tabs[0]);
    if (emul) result(il_run(&s, "emul", 0, 0, detail, sizeof detail), "gpu_emul_ans_il_vs_reference", detail);
    if (cuda) {
        char name[96];
        snprintf(name, sizeof name, "gpu_%s_ans_il_vs_reference", cuda_name);
        result(il_run(&s, cuda_name, 0, 0, detail, sizeof detail), name, detail);
        /* --gpu-only (emul 0: the compute-sanitizer runs, minutes in all)
         * keeps host mode (16-bit stores) and misaligned device mode. */
        snprintf(name, sizeof name, "gpu_%s_ans_il_device", cuda_name);
        if (emul) result(il_run(&s, cuda_name, 1, 0, detail, sizeof detail), name, detail);
        snprintf(name, sizeof name, "gpu_%s_ans_il_device_misaligned", cuda_name);
        result(il_run(&s, cuda_name, 1, 1, detail, sizeof detail), name, detail);
    }
    for (size_t j = 0; j < s.n; j++) free(s.c[j].p), free(s.c[j].want);
    free(s.c);
    free(s.tabs);
}

static void no_gpu_contract(dataset *ds)
{
    char msg[700];
    df11_error err;
    set_backend("gpu");
    df11_status s = df11_gpu_available(&err);
    result(s == DF11_E_NO_GPU && err.code == DF11_E_NO_GPU && strlen(err.message) > 10,
           "gpu_available_reports_no_gpu", err.message);
    /* Device mode cannot fall back: every job says NO_GPU. */
    df11_reader *r;
    if (df11_open(ds->df11, &r, &err) != DF11_OK) {
        result(0, "gpu_device_mode_without_gpu", err.message);
        return;
    }
    uint8_t buf[1 << 16];
    df11_chunk_job job = {r, 0, buf};
    df11_status st = DF11_OK;
    s = df11_gpu_decode_batch(&job, 1, DF11_BATCH_DEVICE, &st, &err);
    snprintf(msg, sizeof msg, "%s", err.message);
    result(s == DF11_E_NO_GPU && st == DF11_E_NO_GPU, "gpu_device_mode_without_gpu", msg);
    df11_close(r);
    setenv("DF11_GPU", "0", 1);
    s = df11_gpu_available(&err);
    result(s == DF11_E_NO_GPU && strstr(err.message, "DF11_GPU=0") != NULL, "gpu_disabled_by_env", err.message);
}

/* DF11_TEST_MODEL: one .safetensors, or up to 4 separated by ':' (the
 * first is the one the ANS (1.1) and ANS_IL seam checks use); default the
 * GPT-2 file. Returns how many. */
static size_t test_models(char models[4][PATH_MAX])
{
    const char *env = getenv("DF11_TEST_MODEL");
    if (!env || !*env) env = "/work/shared/models/gpt2-small-partial.bf16.safetensors";
    size_t n = 0;
    while (n < 4 && *env) {
        size_t len = strcspn(env, ":");
        snprintf(models[n++], PATH_MAX, "%.*s", (int)(len < PATH_MAX - 1 ? len : PATH_MAX - 1), env);
        env += len + (env[len] == ':');
    }
    return n;
}

static int prepare(dataset *d, const char *label, const char *src, uint32_t chunk_log2, int level)
{
    df11_encode_options o;
    df11_error err;
    df11_encode_options_default(&o);
    o.chunk_log2 = chunk_log2;
    o.level = level;
    d->label = label;
    snprintf(d->df11, sizeof d->df11, "%s/%s.df11", tmpdir, label);
    if (df11_encode_file(src, d->df11, &o, &err) != DF11_OK) {
        printf("FAIL gpu_prepare_%s  # %s\n", label, err.message);
        failed = 1;
        return -1;
    }
    d->orig = slurp(src, &d->orig_len);
    return d->orig ? 0 : -1;
}

int main(int argc, char **argv)
{
    df11_error err;
    int gpu_only = argc > 1 && !strcmp(argv[1], "--gpu-only");
    if (argc > 1 && !strcmp(argv[1], "--probe")) {
        if (df11_gpu_available(&err) == DF11_OK) return 0;
        printf("%s\n", err.message);
        return 77;
    }
    if (argc > 1 && !strcmp(argv[1], "--ans-il-bench")) { /* ANS_IL kernel throughput, device to device */
        char models[4][PATH_MAX];
        test_models(models);
        const char *m = models[0];
        if (df11_gpu_available(&err) != DF11_OK) {
            printf("SKIP gpu_bench_ans_il %s\n", err.message);
            return 0;
        }
        printf("# %s\n", err.message);
        ans_il_checks(access(m, R_OK) == 0 ? m : NULL, 0, 1, "gpu", argc > 2 ? (unsigned)atoi(argv[2]) : 256u);
        return failed ? 1 : 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--ans-il")) { /* the ANS_IL seam checks alone */
        char models[4][PATH_MAX];
        test_models(models);
        const char *m = models[0];
        set_backend("gpu");
        const int cuda = df11_gpu_available(&err) == DF11_OK;
        ans_il_checks(access(m, R_OK) == 0 ? m : NULL, 1, cuda, strstr(err.message, "fake CUDA") ? "fake" : "gpu", 0);
        if (!cuda) printf("SKIP gpu_gpu_ans_il %s\n", err.message);
        return failed ? 1 : 0;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gpu_diff.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    /* 5 edge datasets, 3 of the first model, 2 of each of up to 3 more,
     * 6 goldens. */
    enum { MAX_DATASETS = 5 + 3 + 2 * 3 + 6 };
    dataset ds[MAX_DATASETS];
    size_t nds = 0;
    char edge[300];
    snprintf(edge, sizeof edge, "%s/edge.safetensors", tmpdir);
    if (make_edge_file(edge) != 0) {
        printf("FAIL gpu_prepare_edge  # cannot write %s\n", edge);
        return 1;
    }
    if (prepare(&ds[nds], "edge64k", edge, 16, DF11_LEVEL_DEFAULT) == 0) nds++;
    if (prepare(&ds[nds], "edge256k", edge, 18, DF11_LEVEL_DEFAULT) == 0) nds++;
    if (prepare(&ds[nds], "max_edge64k", edge, 16, DF11_LEVEL_MAX) == 0) nds++;
    /* --max writes ANS_IL since format 1.2; the encoder's test hook
     * DF11_ANS_CODEC=3 still writes ANS (1.1), whose kernel and corruption
     * checks need files with originals too. */
    setenv("DF11_ANS_CODEC", "3", 1);
    if (prepare(&ds[nds], "max_ans3_edge64k", edge, 16, DF11_LEVEL_MAX) == 0) nds++;
    /* --max writes format 1.4 (signs in the ANS_IL lane states); the hook
     * DF11_ANS_CODEC=5 writes 1.2's layout, which stays readable */
    setenv("DF11_ANS_CODEC", "5", 1);
    if (prepare(&ds[nds], "max_il12_edge64k", edge, 16, DF11_LEVEL_MAX) == 0) nds++;
    unsetenv("DF11_ANS_CODEC");
    char models[4][PATH_MAX];
    const size_t nmodels = test_models(models);
    const char *model = models[0];
    const int have_model = access(model, R_OK) == 0;
    if (have_model) {
        if (prepare(&ds[nds], "model", model, 18, DF11_LEVEL_DEFAULT) == 0) nds++;
        if (prepare(&ds[nds], "max_model", model, 18, DF11_LEVEL_MAX) == 0) nds++;
        setenv("DF11_ANS_CODEC", "3", 1);
        if (prepare(&ds[nds], "max_ans3_model", model, 18, DF11_LEVEL_MAX) == 0) nds++;
        unsetenv("DF11_ANS_CODEC");
    } else {
        printf("SKIP gpu_model %s not found\n", model);
    }
    /* More models (the device check's MiniLM and 1.1 GB tiled file): the
     * levels a user writes, default and --max; ANS (1.1) is covered above. */
    static char labels[4][2][32];
    for (size_t m = 1; m < nmodels; m++) {
        if (access(models[m], R_OK) != 0) {
            printf("SKIP gpu_model%zu %s not found\n", m + 1, models[m]);
            continue;
        }
        snprintf(labels[m][0], sizeof labels[m][0], "model%zu", m + 1);
        snprintf(labels[m][1], sizeof labels[m][1], "max_model%zu", m + 1);
        printf("# %s = %s\n", labels[m][0], models[m]);
        if (prepare(&ds[nds], labels[m][0], models[m], 18, DF11_LEVEL_DEFAULT) == 0) nds++;
        if (prepare(&ds[nds], labels[m][1], models[m], 18, DF11_LEVEL_MAX) == 0) nds++;
    }
    /* Golden files: no originals here, their headers' SHA-256 are. max: ANS
     * chunks; many_chunks: 1,500 one-chunk tensors, more codes than a
     * staging slot holds tables for; mixed: every codec and a constant
     * code; f32hi: EXP_HI chunks, which stay on the CPU; il and il4: ANS_IL
     * chunks of 64, 16 and 1 lanes in 1 MiB chunks, as 1.2 and 1.4 lay
     * them out. */
    static const char *const golden[][2] = {{"max_golden", "max"},
                                            {"golden_many_chunks", "many_chunks"},
                                            {"golden_mixed", "mixed"},
                                            {"golden_f32hi", "f32hi"},
                                            {"golden_il", "il"},
                                            {"golden_il4", "il4"}};
    const char *root = getenv("DF11_ROOT");
    for (size_t g = 0; g < sizeof golden / sizeof golden[0]; g++) {
        if (nds >= MAX_DATASETS) break;
        ds[nds] = (dataset){.label = golden[g][0]};
        snprintf(ds[nds].df11, sizeof ds[nds].df11, "%s/tests/golden/%s.df11", root ? root : ".", golden[g][1]);
        if (access(ds[nds].df11, R_OK) == 0) nds++;
        else printf("SKIP gpu_%s %s not found\n", golden[g][0], ds[nds].df11);
    }
    /* The edge file must really exercise the GPU path, constant codes too. */
    if (nds) {
        df11_reader *r;
        if (df11_open(ds[0].df11, &r, &err) == DF11_OK) {
            uint32_t constant = 0;
            for (uint32_t s = 0; s < r->segment_count; s++) {
                bool c = false;
                if (r->segments[s].kind == DF11_SEG_EXP16 && df11_huff_check(r->segments[s].code_lengths, &c) == DF11_OK && c)
                    constant++;
            }
            char msg[128];
            snprintf(msg, sizeof msg, "%u GPU-path chunks, %u constant-code segments", gpu_chunks(r), constant);
            result(gpu_chunks(r) >= 20 && constant >= 2, "gpu_edge_file_covers_gpu_path", msg);
            df11_close(r);
        }
    }
    /* The --max files must really reach the ANS decoder. */
    for (size_t i = 0; i < nds; i++) {
        df11_reader *r;
        if (strncmp(ds[i].label, "max", 3) || df11_open(ds[i].df11, &r, &err) != DF11_OK) continue;
        char name[96], msg[128];
        /* ANS (1.1) or ANS_IL (1.2, what --max writes since 1.2). */
        uint32_t a = gpu_chunks_of(r, DF11_FMT_ANS), il = gpu_chunks_of(r, DF11_FMT_ANS_IL);
        snprintf(name, sizeof name, "gpu_%s_has_ans_chunks", ds[i].label);
        snprintf(msg, sizeof msg, "%u ANS and %u ANS_IL chunks of %u", a, il, r->chunk_count);
        /* the ans3 files must really hold codec 3 chunks */
        result(strstr(ds[i].label, "ans3") ? a > il : a + il > 0, name, msg);
        df11_close(r);
    }

    if (!gpu_only) {
        run_backend("cpu", ds, nds);
        run_backend("emul", ds, nds);
    }
    set_backend("gpu");
    if (df11_gpu_available(&err) == DF11_OK) {
        /* gpu_diff_fake: batch.cu's host code on the CPU fake of CUDA. */
        const int fake = strstr(err.message, "fake CUDA") != NULL;
        printf("# %s\n", err.message);
        run_backend(fake ? "fake" : "gpu", ds, nds);
        for (size_t i = 0; fake && i < nds; i++)
            if (!strcmp(ds[i].label, "max_edge64k")) fake_failures(&ds[i]), fake_partial_submit(&ds[i]);
    } else {
        if (!gpu_only && nds) no_gpu_contract(&ds[0]);
        const char *checks[] = {"gpu_gpu_host", "gpu_gpu_corrupt", "gpu_gpu_clean_after_corrupt", "gpu_gpu_device",
                                "gpu_gpu_host_pinned", "gpu_gpu_threads"};
        for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) printf("SKIP %s %s\n", checks[i], err.message);
    }
    /* ANS_IL payloads at the kernels' seam (model, fake or GPU). */
    set_backend("gpu");
    const int cuda = df11_gpu_available(&err) == DF11_OK;
    ans_il_checks(have_model ? model : NULL, !gpu_only, cuda, strstr(err.message, "fake CUDA") ? "fake" : "gpu", 0);
    if (!cuda) printf("SKIP gpu_gpu_ans_il %s\n", err.message);
    for (size_t i = 0; i < nds; i++) free(ds[i].orig);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return failed ? 1 : 0;
}
