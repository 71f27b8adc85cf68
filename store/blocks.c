/*
 * blocks.c - blocks of stored objects in memory: single flight (a block
 * being loaded has one loader; everyone else who wants it waits for that
 * load), a small LRU of loaded blocks, and read-ahead workers that load the
 * next blocks of a sequential reader. A load goes disk cache -> (fetch lock
 * across processes) -> disk cache again -> origin, verified, -> disk cache.
 */
#include <stdlib.h>
#include <time.h>

#include "int.h"

#define NBUCKET 1024

typedef struct mblk {
    uint64_t id, index;
    int state;               /* 0 loading, 1 ready, 2 failed */
    long refs;
    bool in_table;
    uint8_t *data;
    size_t len;
    df11_status st;
    df11_error err;
    struct mblk *hnext, *prev, *next;
} mblk;

typedef struct {
    objinfo *oi;
    mblk *b;
} job;

struct blocks {
    df11store *s;
    pthread_mutex_t mu;
    pthread_cond_t done, work;
    mblk *tab[NBUCKET];
    mblk lru;                /* sentinel; ready blocks nobody holds */
    size_t nready, cap;
    unsigned ahead;
    job *q;
    size_t qh, qn, qcap;
    pthread_t *workers;
    unsigned nworkers;
    bool stop;
};

static size_t bucket(uint64_t id, uint64_t index)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull ^ index * 0xC2B2AE3D27D4EB4Full) >> 54) % NBUCKET;
}

static mblk *find(blocks *b, uint64_t id, uint64_t index)
{
    for (mblk *m = b->tab[bucket(id, index)]; m; m = m->hnext)
        if (m->id == id && m->index == index)
            return m;
    return NULL;
}

static void unhash(blocks *b, mblk *m)
{
    mblk **pp = &b->tab[bucket(m->id, m->index)];
    while (*pp && *pp != m)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = m->hnext;
    m->in_table = false;
}

static void lru_unlink(mblk *m)
{
    if (m->prev) {
        m->prev->next = m->next;
        m->next->prev = m->prev;
        m->prev = m->next = NULL;
    }
}

static void mblk_free(mblk *m)
{
    free(m->data);
    free(m);
}

static void trim(blocks *b)
{
    while (b->nready > b->cap && b->lru.prev != &b->lru) {
        mblk *m = b->lru.prev;
        lru_unlink(m);
        unhash(b, m);
        b->nready--;
        mblk_free(m);
    }
}

/* Drops a reference (b->mu held). */
static void put_locked(blocks *b, mblk *m)
{
    if (--m->refs > 0)
        return;
    if (m->in_table && m->state == 1) {
        m->next = b->lru.next;
        m->prev = &b->lru;
        b->lru.next->prev = m;
        b->lru.next = m;
        trim(b);
    } else if (!m->in_table) {
        mblk_free(m);
    }
}

static mblk *new_loading(blocks *b, uint64_t id, uint64_t index)
{
    mblk *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->id = id;
    m->index = index;
    m->refs = 1;
    m->in_table = true;
    size_t h = bucket(id, index);
    m->hnext = b->tab[h];
    b->tab[h] = m;
    return m;
}

/* Loads m's bytes (b->mu not held). */
static void load(blocks *b, objinfo *oi, mblk *m)
{
    df11store *s = b->s;
    uint64_t off = m->index * oi->block_size;
    size_t len = (size_t)(oi->size - off < oi->block_size ? oi->size - off : oi->block_size);
    int64_t deadline = st_now_ns() + store_deadline(s);
    uint8_t *data = malloc(len ? len : 1);
    df11_status st = DF11_OK;
    const uint64_t *want = oi->hashes ? &oi->hashes[m->index] : NULL;
    bool keyed = s->dc && (oi->key_hi | oi->key_lo);
    if (!data) {
        st = st_fail(&m->err, DF11_E_NOMEM, "out of memory for a block of %s", oi->display);
    } else if (keyed && dc_read(s->dc, oi->key_hi, oi->key_lo, m->index, data, len, want, want ? *want : 0)) {
        atomic_fetch_add(&s->ctr.cache_hits, 1);
    } else {
        int64_t tok = -1;
        if (keyed) {
            atomic_fetch_add(&s->ctr.cache_misses, 1);
            tok = dc_lock(s->dc, oi->key_hi, oi->key_lo, m->index, deadline);
            if (tok < 0)
                st = st_fail(&m->err, DF11_E_IO, "%s: bytes %llu-%llu: another process kept fetching past the deadline",
                             oi->display, (unsigned long long)off, (unsigned long long)(off + len - 1));
        }
        if (!st && keyed && dc_read(s->dc, oi->key_hi, oi->key_lo, m->index, data, len, want, want ? *want : 0)) {
            /* fetched by another process while we waited for the lock */
        } else if (!st) {
            st = store_fetch(s, oi->object, oi->display, off, len, data, oi->size, want, NULL,
                             deadline, &m->err);
            if (!st && keyed)
                dc_write(s->dc, oi->key_hi, oi->key_lo, m->index, data, len);
        }
        if (tok >= 0)
            dc_unlock(s->dc, tok);
    }
    if (st) {
        free(data);
        data = NULL;
    }
    pthread_mutex_lock(&b->mu);
    m->st = st;
    m->data = data;
    m->len = len;
    m->state = st ? 2 : 1;
    if (st)
        unhash(b, m);   /* the next reader tries again */
    else
        b->nready++;
    pthread_cond_broadcast(&b->done);
    pthread_mutex_unlock(&b->mu);
}

static void *worker(void *arg)
{
    blocks *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->stop && !b->qn)
            pthread_cond_wait(&b->work, &b->mu);
        if (!b->qn && b->stop)
            break;
        job j = b->q[b->qh];
        b->qh = (b->qh + 1) % b->qcap;
        b->qn--;
        pthread_mutex_unlock(&b->mu);
        load(b, j.oi, j.b);
        atomic_fetch_add(&b->s->ctr.readahead_blocks, 1);
        objinfo_put(j.oi);
        pthread_mutex_lock(&b->mu);
        put_locked(b, j.b);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

df11_status blocks_new(df11store *s, blocks **out, df11_error *err)
{
    blocks *b = calloc(1, sizeof *b);
    if (!b)
        return st_fail(err, DF11_E_NOMEM, "out of memory");
    b->s = s;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->done, NULL);
    pthread_cond_init(&b->work, NULL);
    b->lru.next = b->lru.prev = &b->lru;
    unsigned conns = s->opt.connections ? s->opt.connections : 8;
    b->ahead = s->opt.readahead == DF11STORE_NO_READAHEAD ? 0
             : s->opt.readahead ? s->opt.readahead : (conns < 4 ? conns : 4);
    if (!s->org->remote && !s->dc)
        b->ahead = 0;
    b->cap = s->opt.mem_blocks ? s->opt.mem_blocks : 2 * conns + 4;
    if (b->cap < b->ahead + 2)
        b->cap = b->ahead + 2;
    b->qcap = b->ahead * 4 + 4;
    b->q = calloc(b->qcap, sizeof *b->q);
    b->nworkers = b->ahead ? (b->ahead < conns ? b->ahead : conns) : 0;
    b->workers = calloc(b->nworkers + 1, sizeof *b->workers);
    if (!b->q || !b->workers) {
        blocks_free(b);
        return st_fail(err, DF11_E_NOMEM, "out of memory");
    }
    for (unsigned i = 0; i < b->nworkers; i++) {
        if (pthread_create(&b->workers[i], NULL, worker, b) != 0) {
            b->nworkers = i;
            blocks_free(b);
            return st_fail(err, DF11_E_NOMEM, "cannot start read-ahead threads");
        }
    }
    *out = b;
    return DF11_OK;
}

void blocks_free(blocks *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    /* Queued jobs are dropped, not loaded: a closing store fetches nothing. */
    while (b->qn) {
        job j = b->q[b->qh];
        b->qh = (b->qh + 1) % b->qcap;
        b->qn--;
        unhash(b, j.b);
        j.b->state = 2;
        pthread_cond_broadcast(&b->done);
        put_locked(b, j.b);
        objinfo_put(j.oi);
    }
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->mu);
    for (unsigned i = 0; i < b->nworkers; i++)
        pthread_join(b->workers[i], NULL);
    for (size_t i = 0; i < NBUCKET; i++) {
        mblk *m = b->tab[i];
        while (m) {
            mblk *n = m->hnext;
            mblk_free(m);
            m = n;
        }
    }
    free(b->q);
    free(b->workers);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->done);
    pthread_cond_destroy(&b->work);
    free(b);
}

static void queue_ahead(blocks *b, objinfo *oi, uint64_t index)
{
    for (unsigned k = 1; k <= b->ahead && index + k < oi->nblocks; k++) {
        if (b->qn == b->qcap || b->stop)
            return;
        if (find(b, oi->mem_id, index + k))
            continue;
        mblk *m = new_loading(b, oi->mem_id, index + k);
        if (!m)
            return;
        atomic_fetch_add(&oi->refs, 1);
        b->q[(b->qh + b->qn) % b->qcap] = (job){ oi, m };
        b->qn++;
        pthread_cond_signal(&b->work);
    }
}

df11_status blocks_read(blocks *b, objinfo *oi, void *buf, size_t len, uint64_t off, bool seq,
                        df11_error *err)
{
    uint64_t index = off / oi->block_size;
    uint64_t in_off = off - index * oi->block_size;
    pthread_mutex_lock(&b->mu);
    if (seq && b->ahead)
        queue_ahead(b, oi, index);
    mblk *m = find(b, oi->mem_id, index);
    if (m) {
        m->refs++;
        lru_unlink(m);
        if (m->state == 1) {
            atomic_fetch_add(&b->s->ctr.mem_hits, 1);
        } else {
            atomic_fetch_add(&b->s->ctr.singleflight_waits, 1);
            int64_t deadline = st_now_ns() + store_deadline(b->s);
            while (m->state == 0 && st_cond_wait_until(&b->done, &b->mu, deadline, 200000000))
                ;
        }
    } else {
        m = new_loading(b, oi->mem_id, index);
        if (!m) {
            pthread_mutex_unlock(&b->mu);
            return st_fail(err, DF11_E_NOMEM, "out of memory");
        }
        pthread_mutex_unlock(&b->mu);
        load(b, oi, m);
        pthread_mutex_lock(&b->mu);
    }
    df11_status st;
    if (m->state == 1) {
        if (in_off + len > m->len)
            st = st_fail(err, DF11_E_INTERNAL, "%s: read past its block", oi->display);
        else {
            memcpy(buf, m->data + in_off, len);
            st = DF11_OK;
        }
    } else if (m->state == 2) {
        st = m->st;
        if (err)
            *err = m->err;
    } else {
        st = st_fail(err, DF11_E_IO, "%s: bytes %llu-%llu: still being fetched at the deadline",
                     oi->display, (unsigned long long)(index * oi->block_size),
                     (unsigned long long)(index * oi->block_size + oi->block_size - 1));
    }
    put_locked(b, m);
    pthread_mutex_unlock(&b->mu);
    return st;
}
