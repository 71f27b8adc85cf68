/*
 * Parallel decode of a whole .df11 file into a stream. Chunks are decoded in
 * batches by worker threads; while the workers fill one buffer, the calling
 * thread writes and hashes the previous one, so decoding, SHA-256 and I/O
 * overlap. The SHA-256 check is on top of the per-chunk XXH3: it also proves
 * that no chunk was dropped or reordered.
 */
#include "decode_out.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "fsutil.h"
#include "msg.h"

typedef struct {
    df11_reader *r;
    uint32_t first, n;   /* chunks [first, first+n) */
    uint64_t base;       /* original offset of chunk `first` */
    uint64_t bytes;      /* decoded length of the batch */
    char *buf;
    atomic_uint next;
    atomic_int failed;
    pthread_mutex_t mu;
    uint32_t err_chunk;  /* lowest failing chunk, so the report is stable */
    df11_error err;
} batch;

static void *worker(void *arg)
{
    batch *b = arg;
    unsigned i;
    while (!atomic_load(&b->failed) && (i = atomic_fetch_add(&b->next, 1)) < b->n) {
        uint32_t idx = b->first + i;
        uint64_t off;
        uint32_t len;
        df11_chunk_extent(b->r, idx, &off, &len);
        df11_error e;
        if (df11_decode_chunk(b->r, idx, b->buf + (off - b->base), &e) != DF11_OK) {
            pthread_mutex_lock(&b->mu);
            if (!atomic_load(&b->failed) || idx < b->err_chunk) {
                b->err_chunk = idx;
                b->err = e;
            }
            atomic_store(&b->failed, 1);
            pthread_mutex_unlock(&b->mu);
        }
    }
    return NULL;
}

static void batch_setup(batch *b, df11_reader *r, uint32_t first, uint32_t n)
{
    uint64_t off, last_off;
    uint32_t len, last_len;
    df11_chunk_extent(r, first, &off, &len);
    df11_chunk_extent(r, first + n - 1, &last_off, &last_len);
    b->r = r;
    b->first = first;
    b->n = n;
    b->base = off;
    b->bytes = last_off + last_len - off;
    atomic_store(&b->next, 0);
    atomic_store(&b->failed, 0);
}

/* Starts up to `threads` workers on b; returns how many started (0 means
 * run it on this thread). */
static int batch_start(batch *b, pthread_t *tid, int threads)
{
    int started = 0;
    for (int t = 0; t < threads && t < (int)b->n; t++) {
        if (pthread_create(&tid[t], NULL, worker, b) != 0)
            break;
        started++;
    }
    if (started == 0)
        worker(b);
    return started;
}

static void batch_join(pthread_t *tid, int started)
{
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
}

static int emit(int fd, const char *out_name, EVP_MD_CTX *md, const batch *b)
{
    EVP_DigestUpdate(md, b->buf, b->bytes);
    int e = write_all(fd, b->buf, b->bytes);
    return e ? msg_errno(out_name, "writing", e) : CLI_EXIT_OK;
}

int decode_to_fd(df11_reader *r, int fd, const char *out_name, int threads,
                 progress *p)
{
    uint32_t nchunks = df11_chunk_count(r);
    uint64_t total = df11_original_size(r);
    size_t cmax = df11_chunk_size_max(r);
    if (threads < 1)
        threads = 1;
    /* ~16 MiB per batch and at least a few chunks per worker, so threads
     * rarely wait for each other at the end of a batch. */
    uint32_t per = (uint32_t)((16u << 20) / cmax);
    if (per < (uint32_t)threads * 4)
        per = (uint32_t)threads * 4;
    if (per > nchunks)
        per = nchunks ? nchunks : 1;

    int rc = CLI_EXIT_OK;
    batch b[2];
    memset(b, 0, sizeof b);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    b[0].buf = malloc(per * cmax);
    b[1].buf = malloc(per * cmax);
    if (!tid || !md || !b[0].buf || !b[1].buf || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        rc = msg_errno(out_name, "allocating decode buffers", ENOMEM);
        goto out;
    }
    pthread_mutex_init(&b[0].mu, NULL);
    pthread_mutex_init(&b[1].mu, NULL);

    uint64_t done = 0;
    batch *prev = NULL;
    for (uint32_t first = 0, k = 0; first < nchunks; first += per, k++) {
        batch *cur = &b[k & 1];
        uint32_t n = nchunks - first < per ? nchunks - first : per;
        batch_setup(cur, r, first, n);
        int started = batch_start(cur, tid, threads);
        if (prev && rc == CLI_EXIT_OK) {
            rc = emit(fd, out_name, md, prev);
            done += prev->bytes;
            progress_update(p, done, total);
        }
        batch_join(tid, started);
        if (rc == CLI_EXIT_OK && atomic_load(&cur->failed))
            rc = msg_lib_error(&cur->err);
        if (rc != CLI_EXIT_OK)
            break;
        prev = cur;
    }
    if (rc == CLI_EXIT_OK && prev) {
        rc = emit(fd, out_name, md, prev);
        done += prev->bytes;
        progress_update(p, done, total);
    }
    if (rc == CLI_EXIT_OK) {
        unsigned char sha[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        EVP_DigestFinal_ex(md, sha, &len);
        if (done != total) {
            msg_error("%s: decoded %llu bytes, header says %llu", df11_path(r),
                      (unsigned long long)done, (unsigned long long)total);
            rc = CLI_EXIT_CORRUPT;
        } else if (len != 32 || memcmp(sha, df11_original_sha256(r), 32) != 0) {
            msg_error("%s: SHA-256 of the decoded data does not match the one "
                      "recorded in the header", df11_path(r));
            rc = CLI_EXIT_CORRUPT;
        }
    }
    pthread_mutex_destroy(&b[0].mu);
    pthread_mutex_destroy(&b[1].mu);
out:
    free(b[0].buf);
    free(b[1].buf);
    free(tid);
    EVP_MD_CTX_free(md);
    return rc;
}
