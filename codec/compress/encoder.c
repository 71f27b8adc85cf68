/* df11_encode_file: two streaming passes over the input. Pass 1 hashes the
 * file and counts exponents per EXP segment; pass 2 encodes every chunk with
 * the segment's code and keeps the smallest of EXP, ZSTD and RAW. Both
 * passes read with pread into a bounded window of slots. */
#include "plan.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

typedef struct {
    uint64_t orig_offset;
    uint32_t length;
    uint32_t segment;
} job;

typedef struct {
    uint8_t *in, *out, *alt;
    size_t out_len;
    uint8_t codec;
    uint64_t xxh3;
    uint64_t freq[256];
} slot;

typedef struct {
    const char *in_path, *out_path;
    int in_fd, out_fd;
    uint64_t size;
    df11_encode_options o;
    df11_plan plan;
    uint32_t *first_chunk;
    job *jobs;
    uint64_t njobs;
    uint64_t (*freq)[256];
    uint8_t (*len)[256];
    uint16_t (*code)[256];
    slot *slots;
    unsigned window;
    ZSTD_CCtx **cctx;
    EVP_MD_CTX *sha;
    uint8_t *chunk_table;
    uint64_t *pass1_xxh3; /* what pass 1 read, to catch an input that changes */
    uint64_t out_pos, done;
    df11_error *err;
    pthread_mutex_t err_lock;
} encoder;

static df11_status fail_locked(encoder *e, df11_status s, df11_error *local)
{
    df11_error_keep_first(&e->err_lock, e->err, local);
    return s;
}

static df11_status read_job(encoder *e, uint64_t i, slot *sl)
{
    df11_error local = {0};
    df11_status s = df11_fd_read_exact(e->in_fd, e->in_path, sl->in, e->jobs[i].length,
                                    e->jobs[i].orig_offset, &local);
    return s == DF11_OK ? s : fail_locked(e, s, &local);
}

static df11_status pass1_work(uint64_t i, unsigned worker, void *ctx)
{
    (void)worker;
    encoder *e = ctx;
    slot *sl = &e->slots[i % e->window];
    df11_status s = read_job(e, i, sl);
    if (s != DF11_OK) return s;
    memset(sl->freq, 0, sizeof sl->freq);
    e->pass1_xxh3[i] = XXH3_64bits(sl->in, e->jobs[i].length);
    uint8_t kind = e->plan.segs[e->jobs[i].segment].kind;
    if (kind != DF11_SEG_BYTES) {
        unsigned w = kind == DF11_SEG_EXP32 ? 4 : 2;
        df11_exp_histogram(sl->in, e->jobs[i].length / w, w, sl->freq);
    }
    return DF11_OK;
}

static df11_status pass1_emit(uint64_t i, void *ctx)
{
    encoder *e = ctx;
    slot *sl = &e->slots[i % e->window];
    for (int s = 0; s < 256; s++) e->freq[e->jobs[i].segment][s] += sl->freq[s];
    EVP_DigestUpdate(e->sha, sl->in, e->jobs[i].length);
    e->done += e->jobs[i].length;
    if (e->o.progress) e->o.progress(e->o.progress_ctx, e->done / 2, e->size);
    return DF11_OK;
}

/* Order-0 entropy of the sign/mantissa bytes: real weights sit near 8 bits,
 * so zstd is only worth trying when this is clearly lower. */
static double raw_plane_entropy(const uint8_t *src, uint32_t n, unsigned w)
{
    uint32_t h[256] = {0};
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *q = src + (size_t)i * w + w - 2;
        h[(q[1] & 0x80) | (q[0] & 0x7F)]++;
    }
    double bits = 0;
    for (int s = 0; s < 256; s++)
        if (h[s]) bits -= h[s] * log2((double)h[s] / n);
    return n ? bits / n : 0;
}

static df11_status pass2_work(uint64_t i, unsigned worker, void *ctx)
{
    encoder *e = ctx;
    slot *sl = &e->slots[i % e->window];
    df11_status s = read_job(e, i, sl);
    if (s != DF11_OK) return s;
    const job *j = &e->jobs[i];
    uint8_t kind = e->plan.segs[j->segment].kind;
    size_t cap = 2 * ((size_t)1 << e->o.chunk_log2) + 64;
    sl->codec = 0;
    sl->out_len = j->length;
    bool try_zstd = true;
    if (kind != DF11_SEG_BYTES) {
        unsigned w = kind == DF11_SEG_EXP32 ? 4 : 2;
        size_t n = df11_exp_encode(sl->in, j->length / w, w, DF11_LANE_SYMBOLS_DEFAULT,
                                   e->len[j->segment], e->code[j->segment], sl->out, cap);
        if (n && n < sl->out_len) {
            sl->codec = 2;
            sl->out_len = n;
        }
        try_zstd = raw_plane_entropy(sl->in, j->length / w, w) < 7.0;
    }
    if (try_zstd) {
        size_t z = ZSTD_compressCCtx(e->cctx[worker], sl->alt, ZSTD_compressBound(j->length), sl->in,
                                     j->length, e->o.zstd_level);
        if (!ZSTD_isError(z) && z < sl->out_len) {
            uint8_t *t = sl->out;
            sl->out = sl->alt;
            sl->alt = t;
            sl->codec = 1;
            sl->out_len = z;
        }
    }
    if (sl->codec == 0) memcpy(sl->out, sl->in, j->length);
    sl->xxh3 = XXH3_64bits(sl->in, j->length);
    return DF11_OK;
}

static df11_status write_at(encoder *e, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(e->out_fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            df11_error local;
            df11_status s = df11_fail(&local, DF11_E_IO, "%s: offset %llu: write failed: %s",
                                      e->out_path, (unsigned long long)off,
                                      strerror(n < 0 ? errno : ENOSPC));
            return fail_locked(e, s, &local);
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return DF11_OK;
}

static df11_status pass2_emit(uint64_t i, void *ctx)
{
    encoder *e = ctx;
    slot *sl = &e->slots[i % e->window];
    if (sl->out_len > UINT32_MAX) return DF11_E_INTERNAL;
    if (sl->xxh3 != e->pass1_xxh3[i]) {
        df11_error local;
        df11_status s = df11_fail(&local, DF11_E_IO, "%s: offset %llu: input changed while it was being compressed",
                                  e->in_path, (unsigned long long)e->jobs[i].orig_offset);
        return fail_locked(e, s, &local);
    }
    df11_status s = write_at(e, sl->out, sl->out_len, e->out_pos);
    if (s != DF11_OK) return s;
    uint8_t *c = e->chunk_table + i * DF11_CHUNK_ENTRY_SIZE;
    df11_wr64(c, e->out_pos);
    df11_wr32(c + 8, (uint32_t)sl->out_len);
    c[12] = sl->codec;
    df11_wr64(c + 16, sl->xxh3);
    e->out_pos += sl->out_len;
    e->done += e->jobs[i].length;
    if (e->o.progress) e->o.progress(e->o.progress_ctx, e->size / 2 + e->done / 2, e->size);
    return DF11_OK;
}

static df11_status make_jobs(encoder *e)
{
    uint64_t C = 1ull << e->o.chunk_log2, n = 0;
    for (uint32_t s = 0; s < e->plan.count; s++) n += (e->plan.segs[s].length + C - 1) / C;
    /* the decoder caps the index at 1 GiB (FORMAT.md 2 / reader_open.c) */
    if (n * DF11_CHUNK_ENTRY_SIZE + (uint64_t)e->plan.count * DF11_SEGMENT_ENTRY_SIZE > (1ull << 30))
        return df11_fail(e->err, DF11_E_ARG, "%s: too many chunks (%llu); use a larger chunk size",
                         e->in_path, (unsigned long long)n);
    e->njobs = n;
    e->jobs = calloc(n ? n : 1, sizeof *e->jobs);
    e->first_chunk = calloc(e->plan.count ? e->plan.count : 1, sizeof *e->first_chunk);
    if (!e->jobs || !e->first_chunk) return DF11_E_NOMEM;
    uint64_t k = 0;
    for (uint32_t s = 0; s < e->plan.count; s++) {
        const df11_plan_seg *g = &e->plan.segs[s];
        e->first_chunk[s] = (uint32_t)k;
        for (uint64_t off = 0; off < g->length; off += C)
            e->jobs[k++] = (job){g->offset + off, (uint32_t)(g->length - off < C ? g->length - off : C), s};
    }
    return DF11_OK;
}

static df11_status alloc_state(encoder *e, unsigned threads)
{
    size_t C = (size_t)1 << e->o.chunk_log2, cap = 2 * C + 64;
    size_t zcap = ZSTD_compressBound(C);
    if (zcap < cap) zcap = cap;
    e->window = 4 * threads;
    e->slots = calloc(e->window, sizeof *e->slots);
    e->cctx = calloc(threads, sizeof *e->cctx);
    uint32_t ns = e->plan.count ? e->plan.count : 1;
    e->freq = calloc(ns, sizeof *e->freq);
    e->len = calloc(ns, sizeof *e->len);
    e->code = calloc(ns, sizeof *e->code);
    e->chunk_table = calloc(e->njobs ? e->njobs : 1, DF11_CHUNK_ENTRY_SIZE);
    e->pass1_xxh3 = calloc(e->njobs ? e->njobs : 1, sizeof *e->pass1_xxh3);
    e->sha = EVP_MD_CTX_new();
    if (!e->slots || !e->cctx || !e->freq || !e->len || !e->code || !e->chunk_table ||
        !e->pass1_xxh3 || !e->sha)
        return DF11_E_NOMEM;
    for (unsigned i = 0; i < e->window; i++) {
        e->slots[i].in = malloc(C);
        e->slots[i].out = malloc(zcap);
        e->slots[i].alt = malloc(zcap);
        if (!e->slots[i].in || !e->slots[i].out || !e->slots[i].alt) return DF11_E_NOMEM;
    }
    for (unsigned t = 0; t < threads; t++)
        if (!(e->cctx[t] = ZSTD_createCCtx())) return DF11_E_NOMEM;
    return EVP_DigestInit_ex(e->sha, EVP_sha256(), NULL) == 1 ? DF11_OK : DF11_E_INTERNAL;
}

static void free_state(encoder *e, unsigned threads)
{
    for (unsigned i = 0; e->slots && i < e->window; i++) {
        free(e->slots[i].in);
        free(e->slots[i].out);
        free(e->slots[i].alt);
    }
    for (unsigned t = 0; e->cctx && t < threads; t++) ZSTD_freeCCtx(e->cctx[t]);
    free(e->slots);
    free(e->cctx);
    free(e->freq);
    free(e->len);
    free(e->code);
    free(e->chunk_table);
    free(e->pass1_xxh3);
    free(e->jobs);
    free(e->first_chunk);
    EVP_MD_CTX_free(e->sha);
    df11_plan_free(&e->plan);
}

static df11_status write_index(encoder *e, const uint8_t sha[32])
{
    size_t seg_bytes = (size_t)e->plan.count * DF11_SEGMENT_ENTRY_SIZE;
    size_t chunk_bytes = (size_t)e->njobs * DF11_CHUNK_ENTRY_SIZE;
    uint8_t *idx = calloc(seg_bytes + chunk_bytes + 1, 1);
    if (!idx) return DF11_E_NOMEM;
    for (uint32_t s = 0; s < e->plan.count; s++) {
        uint8_t *p = idx + (size_t)s * DF11_SEGMENT_ENTRY_SIZE;
        df11_wr64(p, e->plan.segs[s].offset);
        df11_wr64(p + 8, e->plan.segs[s].length);
        df11_wr32(p + 16, e->first_chunk[s]);
        p[20] = e->plan.segs[s].kind;
        if (e->plan.segs[s].kind != DF11_SEG_BYTES)
            for (int k = 0; k < 128; k++)
                p[32 + k] = (uint8_t)(e->len[s][2 * k] | e->len[s][2 * k + 1] << 4);
    }
    memcpy(idx + seg_bytes, e->chunk_table, chunk_bytes);
    size_t raw = seg_bytes + chunk_bytes, zcap = ZSTD_compressBound(raw);
    uint8_t *z = malloc(zcap);
    size_t zlen = z ? ZSTD_compress(z, zcap, idx, raw, 19) : 0;
    if (!z || ZSTD_isError(zlen)) {
        free(z);
        free(idx);
        return DF11_E_NOMEM;
    }
    uint8_t h[DF11_HEADER_SIZE] = {0};
    memcpy(h, df11_magic, 8);
    df11_wr16(h + 8, DF11_FORMAT_MAJOR);
    df11_wr16(h + 10, DF11_FORMAT_MINOR);
    df11_wr64(h + 16, e->size);
    memcpy(h + 24, sha, 32);
    df11_wr32(h + 56, e->o.chunk_log2);
    df11_wr32(h + 60, DF11_LANE_SYMBOLS_DEFAULT);
    df11_wr32(h + 64, e->plan.count);
    df11_wr32(h + 68, (uint32_t)e->njobs);
    df11_wr64(h + 72, e->out_pos);
    df11_wr64(h + 80, zlen);
    df11_wr64(h + 88, XXH3_64bits(idx, raw));
    df11_wr64(h + 120, XXH3_64bits(h, 120));
    df11_status s = write_at(e, z, zlen, e->out_pos);
    free(z);
    free(idx);
    return s == DF11_OK ? write_at(e, h, sizeof h, 0) : s;
}

static df11_status encode(encoder *e, unsigned threads)
{
    struct stat st;
    if (fstat(e->in_fd, &st) != 0)
        return df11_fail(e->err, DF11_E_IO, "%s: stat failed: %s", e->in_path, strerror(errno));
    e->size = (uint64_t)st.st_size;
    df11_status s = df11_plan_file(e->in_fd, e->in_path, e->size, &e->plan, e->err);
    if (s == DF11_OK) s = make_jobs(e);
    if (s == DF11_OK) s = alloc_state(e, threads);
    if (s == DF11_OK) s = df11_parallel_ordered(e->njobs, threads, e->window, pass1_work, pass1_emit, e);
    if (s != DF11_OK) return s;
    for (uint32_t g = 0; g < e->plan.count; g++)
        if (e->plan.segs[g].kind != DF11_SEG_BYTES) {
            df11_huff_lengths(e->freq[g], e->len[g]);
            df11_huff_canonical(e->len[g], e->code[g]);
        }
    uint8_t sha[32];
    unsigned shalen = 0;
    EVP_DigestFinal_ex(e->sha, sha, &shalen);
    e->out_pos = DF11_HEADER_SIZE;
    e->done = 0;
    s = df11_parallel_ordered(e->njobs, threads, e->window, pass2_work, pass2_emit, e);
    if (s == DF11_OK) s = write_index(e, sha);
    if (s == DF11_OK && fdatasync(e->out_fd) != 0)
        s = df11_fail(e->err, DF11_E_IO, "%s: sync failed: %s", e->out_path, strerror(errno));
    return s;
}

void df11_encode_options_default(df11_encode_options *o)
{
    memset(o, 0, sizeof *o);
    o->zstd_level = 3;
    o->chunk_log2 = DF11_CHUNK_LOG2_DEFAULT;
}

df11_status df11_encode_file(const char *in_path, const char *out_path,
                             const df11_encode_options *opts, df11_error *err)
{
    if (!in_path || !out_path) return df11_fail(err, DF11_E_ARG, "df11_encode_file: NULL path");
    df11_error local = {0};
    if (!err) err = &local;
    err->code = DF11_OK;
    err->message[0] = 0;
    encoder e = {.in_path = in_path, .out_path = out_path, .err = err, .out_fd = -1};
    df11_encode_options_default(&e.o);
    if (opts) e.o = *opts;
    if (e.o.chunk_log2 < DF11_CHUNK_LOG2_MIN || e.o.chunk_log2 > DF11_CHUNK_LOG2_MAX)
        return df11_fail(err, DF11_E_ARG, "%s: chunk_log2 %u out of range", out_path, e.o.chunk_log2);
    unsigned threads = e.o.threads > 0 ? (unsigned)e.o.threads : df11_default_threads();
    if (threads > DF11_MAX_THREADS) threads = DF11_MAX_THREADS;
    pthread_mutex_init(&e.err_lock, NULL);
    e.in_fd = open(in_path, O_RDONLY | O_CLOEXEC);
    if (e.in_fd < 0) {
        pthread_mutex_destroy(&e.err_lock);
        return df11_fail(err, DF11_E_IO, "%s: cannot open: %s", in_path, strerror(errno));
    }
    size_t plen = strlen(out_path);
    char *tmp = malloc(plen + 16);
    df11_status s = tmp ? DF11_OK : DF11_E_NOMEM;
    if (s == DF11_OK) {
        snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", out_path);
        e.out_fd = mkostemp(tmp, O_CLOEXEC);
        if (e.out_fd < 0)
            s = df11_fail(err, DF11_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
        else
            (void)fchmod(e.out_fd, 0644);
    }
    if (s == DF11_OK) s = encode(&e, threads);
    if (s == DF11_OK && close(e.out_fd) != 0)
        s = df11_fail(err, DF11_E_IO, "%s: close failed: %s", tmp, strerror(errno));
    else if (s != DF11_OK && e.out_fd >= 0)
        close(e.out_fd);
    if (s == DF11_OK && rename(tmp, out_path) != 0)
        s = df11_fail(err, DF11_E_IO, "%s: rename failed: %s", out_path, strerror(errno));
    if (s != DF11_OK && tmp && e.out_fd >= 0) unlink(tmp);
    if (s == DF11_E_NOMEM && err->code == DF11_OK)
        df11_fail(err, s, "%s: out of memory", in_path);
    else if (s != DF11_OK && err->code == DF11_OK)
        df11_fail(err, s, "%s: %s", in_path, df11_status_name(s));
    free_state(&e, threads);
    free(tmp);
    close(e.in_fd);
    pthread_mutex_destroy(&e.err_lock);
    return s;
}
