/* prefetch.c - sequential readahead: detects readers walking a file forward
 * and decodes the chunks ahead of them on worker threads, so the kernel's
 * next requests hit the cache. With the GPU, each job is one batch. */
#include <errno.h>
#include <stdlib.h>
#include <syslog.h>

#include "fs.h"

#define QUEUE_MAX 64

struct job {
    struct vfile *vf;
    uint32_t first, n;
    int readahead;          /* ahead of a sequential reader, not a read's own */
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job q[QUEUE_MAX];
    unsigned head, len;
    int stop;
    pthread_t *threads;
    unsigned nthreads;
} P = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static uint64_t chunk_end(struct vfile *vf, uint32_t idx)
{
    uint64_t off;
    uint32_t len;
    df11_chunk_extent(vf->r, idx, &off, &len);
    return off + len;
}

static void *worker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&P.mu);
    for (;;) {
        while (!P.stop && P.len == 0)
            pthread_cond_wait(&P.cv, &P.mu);
        if (P.stop)
            break;
        struct job j = P.q[P.head];
        P.head = (P.head + 1) % QUEUE_MAX;
        P.len--;
        pthread_mutex_unlock(&P.mu);
        /* A job that waited in the queue may be partly behind the reader
         * by now; those chunks were served (and dropped) already. */
        uint64_t pos = atomic_load_explicit(&j.vf->seq_end, memory_order_relaxed);
        while (j.readahead && j.n && chunk_end(j.vf, j.first) <= pos)
            j.first++, j.n--;
        unsigned done = cache_fill(j.vf, j.first, j.n, fs_cfg.gpu_active);
        STAT_ADD(prefetch_chunks, done);
        vfile_unref(j.vf);
        pthread_mutex_lock(&P.mu);
    }
    pthread_mutex_unlock(&P.mu);
    return NULL;
}

int prefetch_start(unsigned workers)
{
    if (workers == 0)
        return 0;
    P.threads = calloc(workers, sizeof *P.threads);
    if (!P.threads)
        return -ENOMEM;
    for (unsigned i = 0; i < workers; i++) {
        int rc = pthread_create(&P.threads[i], NULL, worker_main, NULL);
        if (rc) {
            prefetch_stop();
            return -rc;
        }
        P.nthreads++;
    }
    return 0;
}

void prefetch_stop(void)
{
    pthread_mutex_lock(&P.mu);
    P.stop = 1;
    pthread_cond_broadcast(&P.cv);
    pthread_mutex_unlock(&P.mu);
    for (unsigned i = 0; i < P.nthreads; i++)
        pthread_join(P.threads[i], NULL);
    free(P.threads);
    P.threads = NULL;
    P.nthreads = 0;
    /* Jobs never started still hold file references. */
    while (P.len) {
        vfile_unref(P.q[P.head].vf);
        P.head = (P.head + 1) % QUEUE_MAX;
        P.len--;
    }
}

/* Queues a job; a full queue drops it, since prefetching is only a hint. */
static void submit(struct vfile *vf, uint32_t first, uint32_t n, int readahead)
{
    pthread_mutex_lock(&P.mu);
    if (!P.stop && P.nthreads && P.len < QUEUE_MAX) {
        P.q[(P.head + P.len) % QUEUE_MAX] = (struct job){ vfile_ref(vf), first, n, readahead };
        P.len++;
        pthread_cond_signal(&P.cv);
    }
    pthread_mutex_unlock(&P.mu);
}

void ra_init(struct ra_state *ra)
{
    pthread_mutex_init(&ra->mu, NULL);
    ra->end = 0;
    ra->streak = 0;
    ra->next_chunk = 0;
}

void ra_destroy(struct ra_state *ra)
{
    pthread_mutex_destroy(&ra->mu);
}

/* The kernel issues its readahead asynchronously and a multi-threaded daemon
 * may see the requests out of order, by up to the readahead window, so
 * "sequential" means "starts near where the furthest read so far ended". */
static uint64_t seq_slack(void)
{
    uint64_t ra = (uint64_t)fs_cfg.readahead_kb << 11;    /* twice the window */
    return ra > (2u << 20) ? ra : (2u << 20);
}

int ra_note(struct ra_state *ra, struct vfile *vf, uint64_t off, size_t len)
{
    if (len == 0 || vf->nchunks == 0)
        return 0;
    uint64_t end = off + len;
    uint32_t first = 0, n = 0;
    uint64_t slack = seq_slack();
    pthread_mutex_lock(&ra->mu);
    int seq = off <= ra->end + slack && end + slack >= ra->end;
    ra->streak = seq ? ra->streak + 1 : 0;
    if (end > ra->end || !seq)
        ra->end = end;
    int sequential = ra->streak >= 2;
    if (sequential) {
        uint_fast64_t cur = atomic_load_explicit(&vf->seq_end, memory_order_relaxed);
        while (end > cur && !atomic_compare_exchange_weak_explicit(&vf->seq_end, &cur, end,
                                                                   memory_order_relaxed,
                                                                   memory_order_relaxed))
            ;
    }
    if (sequential && fs_cfg.prefetch && P.nthreads && ra->end < vf->size) {
        uint32_t from = df11_chunk_at(vf->r, ra->end);
        /* At least two requests' worth ahead: with 1 MiB requests and small
         * chunks, a fixed chunk count would not even cover the next one. */
        uint64_t depth = fs_cfg.prefetch, csize = df11_chunk_size_max(vf->r);
        if (csize && 2 * len / csize > depth)
            depth = 2 * len / csize;
        uint64_t lim = (uint64_t)from + depth;
        if (lim > vf->nchunks)
            lim = vf->nchunks;
        if (ra->next_chunk < from || ra->next_chunk > lim)
            ra->next_chunk = from;
        /* Only top the window up by at least a quarter, so jobs are batches
         * rather than one chunk each. */
        if (lim - ra->next_chunk >= (depth + 3) / 4 || lim == vf->nchunks) {
            first = ra->next_chunk;
            n = (uint32_t)(lim - first);
            ra->next_chunk = (uint32_t)lim;
        }
    }
    pthread_mutex_unlock(&ra->mu);
    if (n)
        submit(vf, first, n, 1);
    return sequential;
}

void decode_split(struct vfile *vf, uint32_t first, uint32_t n)
{
    if (n && P.nthreads)
        submit(vf, first, n, 0);
}
