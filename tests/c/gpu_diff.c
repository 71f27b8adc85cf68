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
 * tests/golden/max.df11, checked against the SHA-256 its header records.
 * Corrupted chunks (EXP and ANS) must fail alone, and a clean batch must
 * succeed afterwards. Four threads decoding at once must each get exact
 * bytes (the GPU path's host work runs outside its lock).
 * `gpu_diff --probe` exits 0 with a GPU, 77 without (for gpu_sanitizer.sh);
 * `gpu_diff --gpu-only` runs only the GPU checks.
 */
#include "decompress/reader.h"
#include "decompress/gpu_codec.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

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
    return gpu_chunks_of(r, DF11_FMT_EXP) + gpu_chunks_of(r, DF11_FMT_ANS);
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
        snprintf(msg, msg_len, "%u chunks, %u on the GPU path (%u ANS), %zu bytes", n, gpu_chunks(r),
                 gpu_chunks_of(r, DF11_FMT_ANS), orig_len);
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
    const uint32_t lane = codec == DF11_FMT_ANS ? DF11_ANS_LANE : r->lane_symbols;
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
    uint32_t ke = pick_chunk(r, DF11_FMT_EXP), ka = pick_chunk(r, DF11_FMT_ANS);
    if (ke == UINT32_MAX && ka == UINT32_MAX)
        printf("SKIP gpu_%s_corrupt_%s no multi-lane GPU-path chunk\n", backend, d->label);
    if (ke != UINT32_MAX) corrupt_exp(backend, d, r, ke);
    if (ka != UINT32_MAX) corrupt_ans(backend, d, r, ka);
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
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gpu_diff.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    dataset ds[12];
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
    const char *model = getenv("DF11_TEST_MODEL");
    if (!model) model = "/work/shared/models/gpt2-small-partial.bf16.safetensors";
    if (access(model, R_OK) == 0) {
        if (prepare(&ds[nds], "model", model, 18, DF11_LEVEL_DEFAULT) == 0) nds++;
        if (prepare(&ds[nds], "max_model", model, 18, DF11_LEVEL_MAX) == 0) nds++;
    } else {
        printf("SKIP gpu_model %s not found\n", model);
    }
    /* Golden files: no originals here, their headers' SHA-256 are. max: ANS
     * chunks; many_chunks: 1,500 one-chunk tensors, more codes than a
     * staging slot holds tables for; mixed: every codec and a constant
     * code; f32hi: EXP_HI chunks, which stay on the CPU. */
    static const char *const golden[][2] = {{"max_golden", "max"},
                                            {"golden_many_chunks", "many_chunks"},
                                            {"golden_mixed", "mixed"},
                                            {"golden_f32hi", "f32hi"}};
    const char *root = getenv("DF11_ROOT");
    for (size_t g = 0; g < sizeof golden / sizeof golden[0]; g++) {
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
        uint32_t a = gpu_chunks_of(r, DF11_FMT_ANS);
        snprintf(name, sizeof name, "gpu_%s_has_ans_chunks", ds[i].label);
        snprintf(msg, sizeof msg, "%u ANS chunks of %u", a, r->chunk_count);
        result(a > 0, name, msg);
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
    for (size_t i = 0; i < nds; i++) free(ds[i].orig);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return failed ? 1 : 0;
}
