/* df11_decode_all: the whole original, in order, as fast as the slowest of
 * decoding (parallel), SHA-256 (sequential by nature) and the caller's
 * write.
 *
 * Workers decode chunks ahead into a small ring of chunk buffers; the
 * calling thread takes them in file order and, piece by piece, hashes the
 * piece and hands it to write while it is still in cache. Pieces are small
 * (PIECE bytes) and the ring holds only a few chunks per thread, so the
 * bytes are read from L2/L3 twice (SHA, then the kernel's copy) instead of
 * from DRAM: with 10 MB write buffers, 28% of `df11 decompress` went to the
 * kernel copying data that had left the caches. The SHA-256 of chunk i
 * overlaps the decoding of the chunks after it. */
#include "../common/internal.h"

#include <openssl/evp.h>
#include <stdlib.h>

/* Bytes hashed and written at a time: well inside L2 (1 MiB here), big
 * enough that a write(2) per piece costs nothing. */
#define PIECE (256u << 10)

typedef struct {
    df11_reader *r;
    uint8_t **bufs;
    unsigned window;
    EVP_MD_CTX *sha;
    df11_write_fn write;
    void *wctx;
    uint64_t done;
    void (*progress)(void *, uint64_t, uint64_t);
    void *pctx;
    df11_error *err;
    pthread_mutex_t lock;
} run;

static df11_status work(uint64_t i, unsigned worker, void *ctx)
{
    (void)worker;
    run *v = ctx;
    df11_error local = {0};
    df11_status s = df11_decode_chunk(v->r, (uint32_t)i, v->bufs[i % v->window], &local);
    if (s != DF11_OK) df11_error_keep_first(&v->lock, v->err, &local);
    return s;
}

static df11_status emit(uint64_t i, void *ctx)
{
    run *v = ctx;
    const uint8_t *p = v->bufs[i % v->window];
    uint32_t len = v->r->chunks[i].decoded_length;
    for (uint32_t at = 0; at < len; at += PIECE) {
        size_t n = len - at < PIECE ? len - at : PIECE;
        if (EVP_DigestUpdate(v->sha, p + at, n) != 1) {
            df11_error e;
            df11_fail(&e, DF11_E_INTERNAL, "%s: SHA-256 update failed", v->r->path);
            df11_error_keep_first(&v->lock, v->err, &e);
            return DF11_E_INTERNAL;
        }
        if (!v->write) continue;
        df11_error e = { DF11_OK, "" };
        df11_status s = v->write(v->wctx, p + at, n, &e);
        if (s != DF11_OK) {
            if (!e.message[0])
                df11_fail(&e, s, "%s: writing original bytes %llu..%llu failed (%s)", v->r->path,
                          (unsigned long long)(v->done + at),
                          (unsigned long long)(v->done + at + n), df11_status_name(s));
            e.code = s;
            df11_error_keep_first(&v->lock, v->err, &e);
            return s;
        }
    }
    v->done += len;
    if (v->progress) v->progress(v->pctx, v->done, v->r->original_size);
    return DF11_OK;
}

df11_status df11_decode_all(df11_reader *r, int threads, df11_write_fn write, void *write_ctx,
                            void (*progress)(void *ctx, uint64_t done, uint64_t total),
                            void *progress_ctx, df11_error *err)
{
    if (!r) return df11_fail(err, DF11_E_ARG, "df11_decode_all: NULL reader");
    if (err) {
        err->code = DF11_OK;
        err->message[0] = 0;
    }
    unsigned t = threads > 0 ? (unsigned)threads : df11_default_threads();
    if (t > DF11_MAX_THREADS) t = DF11_MAX_THREADS;
    /* Two chunks per worker keep every worker busy while the caller lags a
     * little; more would only push the ring out of the caches. */
    run v = { .r = r, .window = 2 * t + 2, .write = write, .wctx = write_ctx,
              .progress = progress, .pctx = progress_ctx, .err = err };
    if (v.window > r->chunk_count + 1) v.window = r->chunk_count + 1;
    if (t > v.window) t = v.window;
    v.bufs = calloc(v.window, sizeof *v.bufs);
    v.sha = EVP_MD_CTX_new();
    df11_status s = v.bufs && v.sha ? DF11_OK : DF11_E_NOMEM;
    for (unsigned i = 0; s == DF11_OK && i < v.window; i++)
        if (!(v.bufs[i] = malloc(1u << r->chunk_log2))) s = DF11_E_NOMEM;
    if (s == DF11_E_NOMEM) df11_fail(err, s, "%s: out of memory for decode buffers", r->path);
    pthread_mutex_init(&v.lock, NULL);
    if (s == DF11_OK && EVP_DigestInit_ex(v.sha, EVP_sha256(), NULL) != 1)
        s = df11_fail(err, DF11_E_INTERNAL, "%s: SHA-256 unavailable", r->path);
    if (s == DF11_OK) s = df11_parallel_ordered(r->chunk_count, t, v.window, work, emit, &v);
    if (s == DF11_OK) {
        uint8_t sha[32];
        unsigned n = 0;
        if (EVP_DigestFinal_ex(v.sha, sha, &n) != 1 || memcmp(sha, r->sha256, 32) != 0)
            s = df11_fail(err, DF11_E_SHA256,
                          "%s: offset 24: SHA-256 of the decoded file does not match the header", r->path);
        else if (progress && r->chunk_count == 0)
            progress(progress_ctx, 0, 0);
    } else if (err && err->code == DF11_OK) {
        df11_fail(err, s, "%s: decoding failed: %s", r->path, df11_status_name(s));
    }
    pthread_mutex_destroy(&v.lock);
    for (unsigned i = 0; v.bufs && i < v.window; i++) free(v.bufs[i]);
    free(v.bufs);
    EVP_MD_CTX_free(v.sha);
    return s;
}
