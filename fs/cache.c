/* cache.c - decoded chunks, shared by every open file, within a byte budget.
 *
 * Entries are keyed by (vfile id, chunk index). A chunk is decoded once:
 * the first thread to miss inserts a LOADING entry and decodes outside the
 * lock; others wait for it. Readers pin entries while the kernel copies
 * from them; eviction (least recently used first) skips pinned entries, so
 * the budget can be exceeded briefly when every entry is in use. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "fs.h"

enum { CE_LOADING, CE_READY, CE_FAILED };

struct centry {
    uint64_t vfid;
    uint32_t idx;
    uint32_t len;
    uint32_t cap;           /* size of buf: the file's largest chunk */
    int state;
    int pins;
    int hashed;             /* still reachable through the table */
    uint32_t served;        /* bytes handed to sequential readers */
    df11_status status;
    uint8_t *buf;
    struct centry *hnext;
    struct centry *lprev, *lnext;   /* LRU list, READY entries only */
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct centry **tab;
    size_t nbuckets, count;
    uint64_t bytes, budget;
    struct centry lru;      /* sentinel: lru.lnext is the most recent */
} C = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* Recycled chunk buffers, per size: a fresh 256 KiB allocation is an mmap
 * plus a page fault per page, which cost more than decoding the chunk. */
#define POOL_CLASSES 5          /* chunk_log2 16..20 */
#define POOL_MAX 32
static struct {
    pthread_mutex_t mu;
    void *bufs[POOL_CLASSES][POOL_MAX];
    int n[POOL_CLASSES];
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int pool_class(uint32_t cap)
{
    for (int c = 0; c < POOL_CLASSES; c++)
        if (cap == (1u << (16 + c)))
            return c;
    return -1;
}

static uint8_t *buf_get(uint32_t cap)
{
    int c = pool_class(cap);
    void *b = NULL;
    if (c >= 0) {
        pthread_mutex_lock(&pool.mu);
        if (pool.n[c])
            b = pool.bufs[c][--pool.n[c]];
        pthread_mutex_unlock(&pool.mu);
    }
    return b ? b : malloc(cap ? cap : 1);
}

static void buf_put(uint8_t *b, uint32_t cap)
{
    int c = pool_class(cap);
    if (b && c >= 0) {
        pthread_mutex_lock(&pool.mu);
        if (pool.n[c] < POOL_MAX) {
            pool.bufs[c][pool.n[c]++] = b;
            b = NULL;
        }
        pthread_mutex_unlock(&pool.mu);
    }
    free(b);
}

static size_t bucket_of(uint64_t vfid, uint32_t idx)
{
    uint64_t h = vfid * 0x9E3779B97F4A7C15ull ^ (idx + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h ^ (h >> 29)) & (C.nbuckets - 1);
}

int cache_init(uint64_t budget)
{
    C.nbuckets = 4096;
    C.tab = calloc(C.nbuckets, sizeof *C.tab);
    if (!C.tab)
        return -ENOMEM;
    C.budget = budget;
    C.lru.lnext = C.lru.lprev = &C.lru;
    return 0;
}

static void lru_unlink(struct centry *e)
{
    e->lprev->lnext = e->lnext;
    e->lnext->lprev = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void lru_push_front(struct centry *e)
{
    e->lnext = C.lru.lnext;
    e->lprev = &C.lru;
    C.lru.lnext->lprev = e;
    C.lru.lnext = e;
}

static void table_remove(struct centry *e)
{
    struct centry **p = &C.tab[bucket_of(e->vfid, e->idx)];
    while (*p && *p != e)
        p = &(*p)->hnext;
    if (*p)
        *p = e->hnext;
    e->hnext = NULL;
    e->hashed = 0;
    C.count--;
}

static void grow_table(void)
{
    size_t n = C.nbuckets * 2;
    struct centry **t = calloc(n, sizeof *t);
    if (!t)
        return;             /* longer chains, still correct */
    struct centry **old = C.tab;
    size_t oldn = C.nbuckets;
    C.tab = t;
    C.nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        for (struct centry *e = old[i], *next; e; e = next) {
            next = e->hnext;
            size_t b = bucket_of(e->vfid, e->idx);
            e->hnext = t[b];
            t[b] = e;
        }
    }
    free(old);
}

static void entry_free(struct centry *e)
{
    buf_put(e->buf, e->cap);
    free(e);
}

/* Evicts unpinned READY entries, oldest first, until within budget. */
static void evict_locked(void)
{
    struct centry *e = C.lru.lprev;
    while (C.bytes > C.budget && e != &C.lru) {
        struct centry *prev = e->lprev;
        if (e->pins == 0) {
            lru_unlink(e);
            table_remove(e);
            C.bytes -= e->len;
            entry_free(e);
        }
        e = prev;
    }
}

static void pool_drain(void)
{
    pthread_mutex_lock(&pool.mu);
    for (int c = 0; c < POOL_CLASSES; c++)
        while (pool.n[c])
            free(pool.bufs[c][--pool.n[c]]);
    pthread_mutex_unlock(&pool.mu);
}

void cache_reclaim(void)
{
    pthread_mutex_lock(&C.mu);
    uint64_t budget = C.budget;
    C.budget = 0;           /* every unpinned entry goes */
    evict_locked();
    C.budget = budget;
    pthread_mutex_unlock(&C.mu);
    pool_drain();
}

void cache_destroy(void)
{
    pthread_mutex_lock(&C.mu);
    for (size_t i = 0; C.tab && i < C.nbuckets; i++) {
        for (struct centry *e = C.tab[i], *next; e; e = next) {
            next = e->hnext;
            entry_free(e);
        }
    }
    free(C.tab);
    C.tab = NULL;
    C.bytes = 0;
    C.lru.lnext = C.lru.lprev = &C.lru;
    pthread_mutex_unlock(&C.mu);
    pthread_mutex_lock(&pool.mu);
    for (int c = 0; c < POOL_CLASSES; c++)
        while (pool.n[c])
            free(pool.bufs[c][--pool.n[c]]);
    pthread_mutex_unlock(&pool.mu);
}

static struct centry *find_locked(uint64_t vfid, uint32_t idx)
{
    for (struct centry *e = C.tab[bucket_of(vfid, idx)]; e; e = e->hnext)
        if (e->vfid == vfid && e->idx == idx)
            return e;
    return NULL;
}

/* Inserts a LOADING entry, pinned once by the caller who must decode it. */
static struct centry *claim_locked(struct vfile *vf, uint32_t idx)
{
    struct centry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    uint64_t off;
    df11_chunk_extent(vf->r, idx, &off, &e->len);
    e->cap = df11_chunk_size_max(vf->r);
    if (e->cap < e->len)
        e->cap = e->len;
    e->vfid = vf->id;
    e->idx = idx;
    e->state = CE_LOADING;
    e->pins = 1;
    e->hashed = 1;
    size_t b = bucket_of(vf->id, idx);
    e->hnext = C.tab[b];
    C.tab[b] = e;
    C.bytes += e->len;
    if (++C.count > C.nbuckets * 2)
        grow_table();
    evict_locked();
    return e;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Counted every time, logged once per file version and chunk: every read
 * that touches a bad chunk fails on it, and so do its retries. */
static void log_chunk_error(struct vfile *vf, uint32_t idx, const df11_error *err)
{
    STAT_ADD(errors, 1);
    if (fs_log_first_time(vf->id * 0x100000001B3ull ^ idx))
        fs_log(LOG_ERR, "%s: chunk %u: %s", vf->name, idx, err->message);
}

/* Publishes the outcome of a decode; drops the loader's pin. */
static void finish_locked(struct centry *e, df11_status s)
{
    if (s == DF11_OK) {
        e->state = CE_READY;
        lru_push_front(e);
    } else {
        /* Failed entries leave the table at once so a later read retries
         * (an I/O error may be transient); waiters still see the status. */
        e->state = CE_FAILED;
        e->status = s;
        buf_put(e->buf, e->cap);
        e->buf = NULL;
        table_remove(e);
        C.bytes -= e->len;
    }
    pthread_cond_broadcast(&C.cv);
}

static df11_status decode_cpu(struct vfile *vf, struct centry *e)
{
    df11_error err;
    e->buf = buf_get(e->cap);
    if (!e->buf) {
        cache_reclaim();    /* under an address-space limit: evict, retry */
        e->buf = buf_get(e->cap);
    }
    if (!e->buf)
        return DF11_E_NOMEM;
    uint64_t t0 = now_ns();
    df11_status s = df11_decode_chunk(vf->r, e->idx, e->buf, &err);
    STAT_ADD(decode_ns, now_ns() - t0);
    if (s != DF11_OK) {
        log_chunk_error(vf, e->idx, &err);
        return s;
    }
    STAT_ADD(chunks_decoded, 1);
    STAT_ADD(bytes_decoded_cpu, e->len);
    return DF11_OK;
}

/* Runs of consecutive chunks decode through df11_decode_chunks, which
 * interleaves --max chunks of one tensor: a lone ANS_IL chunk of 256 KiB is
 * bound by the latency of its sixteen lanes (~0.74 GB/s on Zen 4), four
 * together by throughput (~1.6). A run that fails is decoded again chunk
 * by chunk (decode_cpu), so each chunk gets its own status and log line. */
#define RUN_MAX 8
static bool decode_cpu_run(struct vfile *vf, struct centry **es, unsigned n)
{
    void *dst[RUN_MAX];
    unsigned got = 0;
    while (got < n && (dst[got] = es[got]->buf = buf_get(es[got]->cap)))
        got++;
    df11_error err;
    uint64_t t0 = now_ns();
    if (got == n && df11_decode_chunks(vf->r, es[0]->idx, n, dst, &err) == DF11_OK) {
        STAT_ADD(decode_ns, now_ns() - t0);
        STAT_ADD(chunks_decoded, n);
        for (unsigned j = 0; j < n; j++)
            STAT_ADD(bytes_decoded_cpu, es[j]->len);
        return true;
    }
    for (unsigned j = 0; j < got; j++) {
        buf_put(es[j]->buf, es[j]->cap);
        es[j]->buf = NULL;
    }
    return false;
}

static void decode_cpu_many(struct vfile *vf, struct centry **es, unsigned k, df11_status *res)
{
    for (unsigned i = 0; i < k;) {
        unsigned n = 1;
        while (i + n < k && n < RUN_MAX && es[i + n]->idx == es[i]->idx + n)
            n++;
        bool ok = n > 1 && decode_cpu_run(vf, es + i, n);
        for (unsigned j = 0; j < n; j++)
            res[i + j] = ok ? DF11_OK : decode_cpu(vf, es[i + j]);
        i += n;
    }
}

void cache_put(struct centry *e)
{
    pthread_mutex_lock(&C.mu);
    if (--e->pins == 0 && !e->hashed)
        entry_free(e);
    else if (e->pins == 0 && C.bytes > C.budget)
        evict_locked();
    pthread_mutex_unlock(&C.mu);
}

/* Drop-behind: once sequential readers were served every byte of a chunk,
 * the kernel's page cache holds it and no sequential reader asks again, so
 * the chunk goes at once; its buffer goes back to the pool, still warm, for
 * the next decode. Keeping it would only fill the budget with chunks nobody
 * reads, and fresh buffers cost a page fault per page. */
void cache_put_served(struct centry *e, uint32_t nbytes)
{
    pthread_mutex_lock(&C.mu);
    e->served += nbytes;
    if (--e->pins == 0 && !e->hashed) {
        entry_free(e);
    } else if (e->pins == 0 && e->served >= e->len && e->state == CE_READY) {
        lru_unlink(e);
        table_remove(e);
        C.bytes -= e->len;
        entry_free(e);
    } else if (e->pins == 0 && C.bytes > C.budget) {
        evict_locked();
    }
    pthread_mutex_unlock(&C.mu);
}

struct centry *cache_get(struct vfile *vf, uint32_t idx, df11_status *st)
{
    pthread_mutex_lock(&C.mu);
    struct centry *e = find_locked(vf->id, idx);
    if (e) {
        e->pins++;
        if (e->state == CE_LOADING) {
            /* Somebody is decoding it (a prefetch, another reader). */
            while (e->state == CE_LOADING)
                pthread_cond_wait(&C.cv, &C.mu);
        } else {
            STAT_ADD(cache_hits, 1);
        }
        if (e->state == CE_READY) {
            lru_unlink(e);
            lru_push_front(e);
            pthread_mutex_unlock(&C.mu);
            return e;
        }
        *st = e->status;
        if (--e->pins == 0 && !e->hashed)
            entry_free(e);
        pthread_mutex_unlock(&C.mu);
        return NULL;
    }
    STAT_ADD(cache_misses, 1);
    e = claim_locked(vf, idx);
    pthread_mutex_unlock(&C.mu);
    if (!e) {
        *st = DF11_E_NOMEM;
        return NULL;
    }
    df11_status s = decode_cpu(vf, e);
    pthread_mutex_lock(&C.mu);
    finish_locked(e, s);
    if (s != DF11_OK) {
        *st = s;
        if (--e->pins == 0)
            entry_free(e);
        e = NULL;
    }
    pthread_mutex_unlock(&C.mu);
    return e;
}

const uint8_t *centry_data(const struct centry *e) { return e->buf; }
uint32_t centry_len(const struct centry *e) { return e->len; }

/* Decodes claimed entries in one GPU batch; entries the batch could not
 * allocate for, or that fail on the GPU, are retried on the CPU, which also
 * produces the log line with the library's message. */
static void decode_gpu(struct vfile *vf, struct centry **es, unsigned n, df11_status *res)
{
    df11_chunk_job *jobs = calloc(n, sizeof *jobs);
    df11_status *st = calloc(n, sizeof *st);
    unsigned nj = 0;
    uint64_t bytes = 0;
    for (unsigned i = 0; jobs && st && i < n; i++) {
        es[i]->buf = buf_get(es[i]->cap);
        if (!es[i]->buf)
            continue;
        jobs[nj].reader = vf->r;
        jobs[nj].chunk = es[i]->idx;
        jobs[nj].dst = es[i]->buf;
        nj++;
    }
    if (nj) {
        df11_error err;
        uint64_t t0 = now_ns();
        df11_gpu_decode_batch(jobs, nj, DF11_BATCH_HOST, st, &err);
        STAT_ADD(decode_ns, now_ns() - t0);
        STAT_ADD(gpu_batches, 1);
    }
    for (unsigned i = 0, j = 0; i < n; i++) {
        if (j < nj && jobs[j].dst == es[i]->buf && es[i]->buf) {
            if (st[j] == DF11_OK) {
                res[i] = DF11_OK;
                STAT_ADD(chunks_decoded, 1);
                bytes += es[i]->len;
                j++;
                continue;
            }
            j++;
        }
        buf_put(es[i]->buf, es[i]->cap);
        es[i]->buf = NULL;
        res[i] = decode_cpu(vf, es[i]);
    }
    STAT_ADD(bytes_decoded_gpu, bytes);
    free(jobs);
    free(st);
}

unsigned cache_fill(struct vfile *vf, uint32_t first, uint32_t n, int use_gpu)
{
    if (n == 0 || first >= vf->nchunks)
        return 0;
    if (n > vf->nchunks - first)
        n = vf->nchunks - first;
    struct centry **es = calloc(n, sizeof *es);
    df11_status *res = calloc(n, sizeof *res);
    if (!es || !res) {
        free(es);
        free(res);
        return 0;
    }
    unsigned k = 0;
    pthread_mutex_lock(&C.mu);
    for (uint32_t i = 0; i < n; i++) {
        if (find_locked(vf->id, first + i))
            continue;
        struct centry *e = claim_locked(vf, first + i);
        if (!e)
            break;
        es[k++] = e;
    }
    pthread_mutex_unlock(&C.mu);
    if (use_gpu && k > 1) {
        decode_gpu(vf, es, k, res);
    } else {
        decode_cpu_many(vf, es, k, res);
    }
    pthread_mutex_lock(&C.mu);
    for (unsigned i = 0; i < k; i++) {
        finish_locked(es[i], res[i]);
        if (--es[i]->pins == 0 && !es[i]->hashed)
            entry_free(es[i]);
    }
    if (C.bytes > C.budget)
        evict_locked();
    pthread_mutex_unlock(&C.mu);
    free(es);
    free(res);
    return k;
}

void cache_drop_file(uint64_t vfid)
{
    pthread_mutex_lock(&C.mu);
    if (!C.tab) {
        pthread_mutex_unlock(&C.mu);
        return;
    }
    for (struct centry *e = C.lru.lnext, *next; e != &C.lru; e = next) {
        next = e->lnext;
        if (e->vfid == vfid && e->pins == 0) {
            lru_unlink(e);
            table_remove(e);
            C.bytes -= e->len;
            entry_free(e);
        }
    }
    pthread_mutex_unlock(&C.mu);
}

uint64_t cache_bytes(void)
{
    pthread_mutex_lock(&C.mu);
    uint64_t b = C.bytes;
    pthread_mutex_unlock(&C.mu);
    return b;
}
