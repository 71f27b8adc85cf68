/* Full verification: every chunk decoded and checked in parallel, the
 * original bytes hashed in order with SHA-256. */
#include "../common/internal.h"

#include <openssl/evp.h>
#include <stdlib.h>

typedef struct {
    df11_reader *r;
    uint8_t **bufs;
    unsigned window;
    EVP_MD_CTX *sha;
    uint64_t done;
    void (*progress)(void *, uint64_t, uint64_t);
    void *pctx;
    df11_error *err;
    pthread_mutex_t lock;
} verifier;

static df11_status work(uint64_t i, unsigned worker, void *ctx)
{
    (void)worker;
    verifier *v = ctx;
    df11_error local = {0};
    df11_status s = df11_decode_chunk(v->r, (uint32_t)i, v->bufs[i % v->window], &local);
    if (s != DF11_OK) df11_error_keep_first(&v->lock, v->err, &local);
    return s;
}

static df11_status emit(uint64_t i, void *ctx)
{
    verifier *v = ctx;
    uint32_t len = v->r->chunks[i].decoded_length;
    EVP_DigestUpdate(v->sha, v->bufs[i % v->window], len);
    v->done += len;
    if (v->progress) v->progress(v->pctx, v->done, v->r->original_size);
    return DF11_OK;
}

df11_status df11_verify(df11_reader *r, int threads,
                        void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx,
                        df11_error *err)
{
    if (!r) return df11_fail(err, DF11_E_ARG, "df11_verify: NULL reader");
    if (err) err->code = DF11_OK;
    unsigned t = threads > 0 ? (unsigned)threads : df11_default_threads();
    if (t > DF11_MAX_THREADS) t = DF11_MAX_THREADS;
    verifier v = {.r = r, .window = 2 * t, .progress = progress, .pctx = ctx, .err = err};
    v.bufs = calloc(v.window, sizeof *v.bufs);
    v.sha = EVP_MD_CTX_new();
    df11_status s = v.bufs && v.sha ? DF11_OK : DF11_E_NOMEM;
    for (unsigned i = 0; s == DF11_OK && i < v.window; i++)
        if (!(v.bufs[i] = malloc(1u << r->chunk_log2))) s = DF11_E_NOMEM;
    pthread_mutex_init(&v.lock, NULL);
    if (s == DF11_OK && EVP_DigestInit_ex(v.sha, EVP_sha256(), NULL) != 1) s = DF11_E_INTERNAL;
    if (s == DF11_OK) s = df11_parallel_ordered(r->chunk_count, t, v.window, work, emit, &v);
    if (s == DF11_OK) {
        uint8_t sha[32];
        unsigned n = 0;
        EVP_DigestFinal_ex(v.sha, sha, &n);
        if (memcmp(sha, r->sha256, 32) != 0)
            s = df11_fail(err, DF11_E_SHA256, "%s: offset 24: SHA-256 of the decoded file does not match the header", r->path);
    } else if (!err || err->code == DF11_OK) {
        df11_fail(err, s, "%s: verification failed: %s", r->path, df11_status_name(s));
    }
    pthread_mutex_destroy(&v.lock);
    for (unsigned i = 0; v.bufs && i < v.window; i++) free(v.bufs[i]);
    free(v.bufs);
    EVP_MD_CTX_free(v.sha);
    return s;
}
