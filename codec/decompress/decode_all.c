/* df11_decode_all: the whole original, in order, as fast as the slowest of
 * decoding (parallel), SHA-256 (sequential by nature; skipped with
 * DF11_DECODE_NO_SHA256) and the caller's write.
 *
 * Three kinds of thread share a ring of chunk buffers:
 *  - workers decode chunks ahead, in any order, into free slots;
 *  - one hasher feeds the chunks to SHA-256 in file order;
 *  - the calling thread hands the same chunks to write, in file order, in
 *    pieces of at most PIECE bytes.
 * A slot is free again once both the hasher and the writer are past it.
 * The ring holds a few chunks per worker, so the decoded bytes are read
 * twice (SHA, then the kernel's copy) from L2/L3, not from DRAM: with 10 MB
 * write buffers, 28% of `df11 decompress` went to the kernel copying data
 * that had left the caches. Hashing and writing on different threads lets
 * the copy into the kernel overlap the SHA-256, the longest sequential
 * step (~1.8 GB/s with SHA-NI against ~4 GB/s per decode thread). Without
 * a write (df11_verify) the calling thread hashes and no hasher starts;
 * without SHA-256 no hasher starts either, and the calling thread writes
 * (or, verifying, only waits for each chunk). */
#include "reader.h"

#include <openssl/evp.h>
#include <stdlib.h>

/* Bytes handed to write at a time: well inside L2 (1 MiB per core here),
 * big enough that one write(2) per piece costs nothing. */
#define PIECE (256u << 10)

/* The most the ring of decoded chunks may take: 64 threads on 1 MiB
 * chunks would otherwise hold 585 MiB; with the cap they still decode
 * far faster than anything writes. */
#define RING_BYTES (64ull << 20)
#define RING_MIN (4ull << 20)

typedef struct {
    df11_reader *r;
    uint64_t n;             /* chunks */
    unsigned window;        /* slots in the ring */
    unsigned batch;         /* most chunks one df11_decode_chunks call takes */
    uint8_t **bufs;
    uint64_t *ready;        /* per slot: 1 + the chunk decoded into it, 0 if none */
    pthread_mutex_t lock;
    /* Two conditions, so a finished chunk wakes only the hasher and the
     * writer, and a freed slot only the workers: on a busy machine every
     * needless wake-up is a context switch (~30k per GB with one). */
    pthread_cond_t slot_free, chunk_ready;
    uint64_t next;          /* next chunk a worker takes */
    uint64_t hashed, written; /* chunks the hasher / the writer are done with */
    bool writer;            /* false: nobody writes, `written` follows `hashed` */
    df11_status status;     /* first failure; stops everyone */
    df11_error *err;
    EVP_MD_CTX *sha;        /* NULL: no SHA-256 (DF11_DECODE_NO_SHA256) */
    df11_write_fn write;
    void *wctx;
    void (*progress)(void *, uint64_t, uint64_t);
    void *pctx;
} ring;

static void fail(ring *g, df11_status s, const df11_error *e)
{
    df11_error_keep_first(&g->lock, g->err, e);
    pthread_mutex_lock(&g->lock);
    if (g->status == DF11_OK) g->status = s;
    pthread_cond_broadcast(&g->slot_free);
    pthread_cond_broadcast(&g->chunk_ready);
    pthread_mutex_unlock(&g->lock);
}

static uint64_t consumed(const ring *g)
{
    if (!g->writer) return g->hashed;  /* the calling thread hashes, or only waits */
    if (!g->sha) return g->written;    /* nobody else reads the ring */
    return g->hashed < g->written ? g->hashed : g->written;
}

static void *worker(void *p)
{
    ring *g = p;
    pthread_mutex_lock(&g->lock);
    for (;;) {
        /* A worker waits for room for a whole batch rather than taking
         * what is free: interleaved chunks (two ANS ones, up to eight
         * ANS_IL ones) decode up to twice as fast together as one at a
         * time, and with a worker taking single chunks as single slots
         * freed, `df11 decompress --max` ran at 0.69 GB/s instead of 1.23
         * (tiled file, -T 1). */
        while (g->status == DF11_OK && g->next < g->n &&
               g->next + df11_batch_len(g->r, (uint32_t)g->next, g->batch) > consumed(g) + g->window)
            pthread_cond_wait(&g->slot_free, &g->lock);
        if (g->status != DF11_OK || g->next >= g->n) break;
        uint64_t i = g->next;
        uint32_t k = df11_batch_len(g->r, (uint32_t)i, g->batch);
        g->next = i + k;
        pthread_mutex_unlock(&g->lock);
        df11_error e = {0};
        void *d[DF11_ANS_IL_BATCH];
        for (uint32_t j = 0; j < k; j++) d[j] = g->bufs[(i + j) % g->window];
        df11_status s = df11_decode_chunks(g->r, (uint32_t)i, k, d, &e);
        if (s != DF11_OK) fail(g, s, &e);
        pthread_mutex_lock(&g->lock);
        if (s == DF11_OK) {
            for (uint32_t j = 0; j < k; j++) g->ready[(i + j) % g->window] = i + j + 1;
            pthread_cond_broadcast(&g->chunk_ready);
        }
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* Waits until chunk i is decoded; false when the run failed. */
static bool wait_ready(ring *g, uint64_t i)
{
    pthread_mutex_lock(&g->lock);
    while (g->status == DF11_OK && g->ready[i % g->window] != i + 1)
        pthread_cond_wait(&g->chunk_ready, &g->lock);
    bool ok = g->status == DF11_OK;
    pthread_mutex_unlock(&g->lock);
    return ok;
}

/* Counts chunk `counter` done; wakes the workers when that frees a slot. */
static void advance(ring *g, uint64_t *counter)
{
    pthread_mutex_lock(&g->lock);
    uint64_t before = consumed(g);
    (*counter)++;
    if (consumed(g) != before) pthread_cond_broadcast(&g->slot_free);
    pthread_mutex_unlock(&g->lock);
}

/* Runs on its own thread beside a writer, else on the calling thread, which
 * then also reports progress. */
static void *hasher(void *p)
{
    ring *g = p;
    uint64_t done = 0;
    for (uint64_t i = 0; i < g->n && wait_ready(g, i); i++) {
        uint32_t len = g->r->chunks[i].decoded_length;
        if (g->sha && EVP_DigestUpdate(g->sha, g->bufs[i % g->window], len) != 1) {
            df11_error e;
            fail(g, df11_fail(&e, DF11_E_INTERNAL, "%s: SHA-256 update failed", g->r->path), &e);
            break;
        }
        done += len;
        advance(g, &g->hashed);
        if (!g->writer && g->progress) g->progress(g->pctx, done, g->r->original_size);
    }
    return NULL;
}

static void write_chunks(ring *g)
{
    uint64_t done = 0;
    for (uint64_t i = 0; i < g->n && wait_ready(g, i); i++) {
        const uint8_t *p = g->bufs[i % g->window];
        uint32_t len = g->r->chunks[i].decoded_length;
        for (uint32_t at = 0; at < len; at += PIECE) {
            size_t k = len - at < PIECE ? len - at : PIECE;
            df11_error e = { DF11_OK, "" };
            df11_status s = g->write(g->wctx, p + at, k, &e);
            if (s != DF11_OK) {
                if (!e.message[0])
                    df11_fail(&e, s, "%s: writing original bytes %llu..%llu failed (%s)", g->r->path,
                              (unsigned long long)(done + at), (unsigned long long)(done + at + k),
                              df11_status_name(s));
                e.code = s;
                fail(g, s, &e);
                return;
            }
        }
        done += len;
        advance(g, &g->written);
        if (g->progress) g->progress(g->pctx, done, g->r->original_size);
    }
}

/* Starts `count` threads running fn(g); returns how many started. */
static unsigned start(pthread_t *tids, unsigned count, void *(*fn)(void *), ring *g)
{
    unsigned k = 0;
    while (k < count && pthread_create(&tids[k], NULL, fn, g) == 0) k++;
    return k;
}

df11_status df11_decode_all(df11_reader *r, int threads, df11_write_fn write, void *write_ctx,
                            void (*progress)(void *ctx, uint64_t done, uint64_t total),
                            void *progress_ctx, df11_error *err)
{
    return df11_decode_all_flags(r, threads, 0, write, write_ctx, progress, progress_ctx, err);
}

df11_status df11_decode_all_flags(df11_reader *r, int threads, unsigned flags, df11_write_fn write,
                                  void *write_ctx, void (*progress)(void *ctx, uint64_t done, uint64_t total),
                                  void *progress_ctx, df11_error *err)
{
    if (!r) return df11_fail(err, DF11_E_ARG, "df11_decode_all: NULL reader");
    if (flags & ~DF11_DECODE_NO_SHA256) return df11_fail(err, DF11_E_ARG, "df11_decode_all_flags: unknown flags 0x%x", flags);
    if (err) {
        err->code = DF11_OK;
        err->message[0] = 0;
    }
    bool sha = !(flags & DF11_DECODE_NO_SHA256);
    unsigned cores = df11_default_threads();
    unsigned t = threads > 0 ? (unsigned)threads : cores;
    /* The SHA-256 is the one sequential stage, and its thread (the calling
     * thread when verifying) needs a core to itself: workers that take
     * every core preempt it, and the whole run waits. On 2 cores, 2 workers
     * and the hasher decompressed the tiled file at 1.25 GB/s (default
     * level) and 1.03 (--max); 1 worker and the hasher at 1.64 and 1.18. */
    if (sha && cores > 1 && t > cores - 1) t = cores - 1;
    if (t > DF11_MAX_THREADS) t = DF11_MAX_THREADS;
    /* A batch and a chunk per worker, and as much again for the hasher and
     * the writer, keep every worker busy while the hasher lags a little;
     * at least RING_MIN bytes of it, so that a worker woken late (tens of
     * microseconds) still finds the hasher with work queued: with 4 slots of
     * 256 KiB the hasher waited 16% of the time, with 16 slots 4% (tiled
     * file, default level, one worker: 1.45 -> 1.63 GB/s). More would only
     * push the ring out of the caches. */
    ring g = { .r = r, .n = r->chunk_count, .err = err,
               .writer = write != NULL, .write = write, .wctx = write_ctx,
               .progress = progress, .pctx = progress_ctx };
    g.batch = df11_batch_max(r);
    g.window = (t + 1) * (g.batch + 1);
    if (g.window < (RING_MIN >> r->chunk_log2)) g.window = (unsigned)(RING_MIN >> r->chunk_log2);
    /* Many threads on big chunks: at most RING_BYTES of ring (a worker
     * waits for a whole batch, so two batches' worth is the floor). */
    unsigned cap = (unsigned)(RING_BYTES >> r->chunk_log2);
    if (cap < 2 * (g.batch + 1)) cap = 2 * (g.batch + 1);
    if (g.window > cap) g.window = cap;
    if (g.window > g.n + 1) g.window = (unsigned)g.n + 1;
    if (t > g.n) t = g.n ? (unsigned)g.n : 1;
    g.bufs = calloc(g.window, sizeof *g.bufs);
    g.ready = calloc(g.window, sizeof *g.ready);
    g.sha = sha ? EVP_MD_CTX_new() : NULL;
    pthread_t *tids = calloc(t + 1, sizeof *tids);
    df11_status s = g.bufs && g.ready && (g.sha || !sha) && tids ? DF11_OK : DF11_E_NOMEM;
    for (unsigned i = 0; s == DF11_OK && i < g.window; i++)
        if (!(g.bufs[i] = malloc(1u << r->chunk_log2))) s = DF11_E_NOMEM;
    if (s == DF11_E_NOMEM) df11_fail(err, s, "%s: out of memory for decode buffers", r->path);
    if (s == DF11_OK && sha && EVP_DigestInit_ex(g.sha, EVP_sha256(), NULL) != 1)
        s = df11_fail(err, DF11_E_INTERNAL, "%s: SHA-256 unavailable", r->path);
    pthread_mutex_init(&g.lock, NULL);
    pthread_cond_init(&g.slot_free, NULL);
    pthread_cond_init(&g.chunk_ready, NULL);
    g.status = s;

    unsigned workers = 0, hashers = 0;
    if (s == DF11_OK && (workers = start(tids, t, worker, &g)) == 0)
        s = df11_fail(err, DF11_E_INTERNAL, "%s: cannot start decode threads", r->path);
    if (s == DF11_OK && write && sha && (hashers = start(tids + workers, 1, hasher, &g)) == 0)
        s = df11_fail(err, DF11_E_INTERNAL, "%s: cannot start the hashing thread", r->path);
    if (s != DF11_OK) fail(&g, s, err); /* stops workers already started */
    else if (write) write_chunks(&g);
    else hasher(&g);
    for (unsigned i = 0; i < workers + hashers; i++) pthread_join(tids[i], NULL);

    if (s == DF11_OK) s = g.status;
    if (s == DF11_OK) {
        uint8_t digest[32];
        unsigned n = 0;
        if (g.sha && (EVP_DigestFinal_ex(g.sha, digest, &n) != 1 || memcmp(digest, r->sha256, 32) != 0))
            s = df11_fail(err, DF11_E_SHA256,
                          "%s: offset 24: SHA-256 of the decoded file does not match the header", r->path);
        else if (progress && g.n == 0)
            progress(progress_ctx, 0, 0); /* an empty original ends at its total too */
    } else if (err && err->code == DF11_OK) {
        df11_fail(err, s, "%s: decoding failed: %s", r->path, df11_status_name(s));
    }
    pthread_cond_destroy(&g.slot_free);
    pthread_cond_destroy(&g.chunk_ready);
    pthread_mutex_destroy(&g.lock);
    for (unsigned i = 0; g.bufs && i < g.window; i++) free(g.bufs[i]);
    free(g.bufs);
    free(g.ready);
    free(tids);
    EVP_MD_CTX_free(g.sha);
    return s;
}
