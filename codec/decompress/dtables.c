/* Decode tables, shared by code across every reader of the process and
 * bounded by a byte budget.
 *
 * A table is ~33 KB and a checkpoint may have thousands of distinct codes
 * (one per tensor), so tables kept per reader until close grew a daemon to
 * hundreds of MB on a 2 MB file (issue "harden" #7). Here a table lives in
 * one process-wide cache keyed by its 256 code lengths: a decode pins it
 * (refcount) for the duration of one chunk, and unpinned tables sit in an
 * LRU list that is trimmed to the budget. Pinned tables are never freed, so
 * the cache exceeds the budget by at most one table per decoding thread.
 *
 * One mutex guards everything. A pin costs one lock, a hash-bucket walk
 * (hash computed once per segment at open) and one unlock: tens of ns
 * against ~60 us to decode a 256 KiB chunk. Tables are built outside the
 * lock. */
#include "reader.h"

#include <stdlib.h>
#include <xxhash.h>

typedef struct entry {
    df11_huff_dtable t;          /* first: a table pointer is an entry pointer */
    uint64_t hash;
    uint32_t pins;
    struct entry *chain;         /* hash bucket */
    struct entry *prev, *next;   /* LRU list of unpinned entries (head = newest) */
} entry;

#define ENTRY_BYTES ((uint64_t)sizeof(entry))

static struct {
    pthread_mutex_t lock;
    entry **buckets;
    size_t nbuckets, count;
    entry *lru_head, *lru_tail;
    uint64_t bytes;              /* atomic for readers outside the lock */
    uint64_t budget;
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER, .budget = DF11_TABLE_BUDGET_DEFAULT };

uint64_t df11_code_hash(const uint8_t len[256]) { return XXH3_64bits(len, 256); }

static void lru_unlink(entry *e)
{
    if (e->prev) e->prev->next = e->next;
    else cache.lru_head = e->next;
    if (e->next) e->next->prev = e->prev;
    else cache.lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(entry *e)
{
    e->prev = NULL;
    e->next = cache.lru_head;
    if (cache.lru_head) cache.lru_head->prev = e;
    else cache.lru_tail = e;
    cache.lru_head = e;
}

static entry **bucket_of(uint64_t hash) { return &cache.buckets[hash & (cache.nbuckets - 1)]; }

static entry *lookup(uint64_t hash, const uint8_t len[256])
{
    if (!cache.nbuckets) return NULL;
    for (entry *e = *bucket_of(hash); e; e = e->chain)
        if (e->hash == hash && memcmp(e->t.len, len, 256) == 0) return e;
    return NULL;
}

static void set_bytes(uint64_t b) { __atomic_store_n(&cache.bytes, b, __ATOMIC_RELAXED); }

/* Frees the least recently used unpinned entry; false when all are pinned. */
static bool evict_one(void)
{
    entry *e = cache.lru_tail;
    if (!e) return false;
    lru_unlink(e);
    entry **p = bucket_of(e->hash);
    while (*p != e) p = &(*p)->chain;
    *p = e->chain;
    cache.count--;
    set_bytes(cache.bytes - ENTRY_BYTES);
    free(e);
    return true;
}

static void trim(uint64_t target)
{
    while (cache.bytes > target && evict_one()) {}
}

/* Doubles the bucket array when it is full; a failure only makes chains
 * longer, so it is ignored. */
static void maybe_grow(void)
{
    if (cache.count < cache.nbuckets) return;
    size_t n = cache.nbuckets ? 2 * cache.nbuckets : 256;
    entry **b = calloc(n, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < cache.nbuckets; i++)
        for (entry *e = cache.buckets[i], *next; e; e = next) {
            next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(cache.buckets);
    cache.buckets = b;
    cache.nbuckets = n;
}

/* An allocation that makes room first: on failure every unpinned table is
 * freed and the allocation tried once more. */
static entry *alloc_entry(void)
{
    entry *e = malloc(sizeof *e);
    if (e) return e;
    pthread_mutex_lock(&cache.lock);
    trim(0);
    pthread_mutex_unlock(&cache.lock);
    return malloc(sizeof *e);
}

const df11_huff_dtable *df11_dtable_pin(const uint8_t len[256], uint64_t hash)
{
    pthread_mutex_lock(&cache.lock);
    entry *e = lookup(hash, len);
    if (e && e->pins++ == 0) lru_unlink(e);
    pthread_mutex_unlock(&cache.lock);
    if (e) return &e->t;

    entry *fresh = alloc_entry();
    if (!fresh) return NULL;
    df11_huff_build_dtable(len, &fresh->t);
    fresh->hash = hash;
    fresh->pins = 1;
    fresh->chain = fresh->prev = fresh->next = NULL;
    pthread_mutex_lock(&cache.lock);
    if (!cache.buckets) maybe_grow();
    if (!cache.buckets) {
        pthread_mutex_unlock(&cache.lock);
        free(fresh);
        return NULL;
    }
    e = lookup(hash, len); /* another thread may have built it meanwhile */
    if (e) {
        if (e->pins++ == 0) lru_unlink(e);
    } else {
        maybe_grow();
        entry **b = bucket_of(hash);
        fresh->chain = *b;
        *b = e = fresh;
        fresh = NULL;
        cache.count++;
        set_bytes(cache.bytes + ENTRY_BYTES);
        trim(cache.budget);
    }
    pthread_mutex_unlock(&cache.lock);
    free(fresh);
    return &e->t;
}

void df11_dtable_unpin(const df11_huff_dtable *t)
{
    if (!t) return;
    entry *e = (entry *)t; /* t is the first member */
    pthread_mutex_lock(&cache.lock);
    if (--e->pins == 0) {
        lru_push(e);
        trim(cache.budget);
    }
    pthread_mutex_unlock(&cache.lock);
}

const df11_huff_dtable *df11_segment_dtable(df11_reader *r, uint32_t seg)
{
    const df11_segment *s = &r->segments[seg];
    return df11_dtable_pin(s->code_lengths, s->code_hash);
}

void df11_set_table_budget(uint64_t bytes)
{
    pthread_mutex_lock(&cache.lock);
    cache.budget = bytes;
    trim(bytes);
    pthread_mutex_unlock(&cache.lock);
}

uint64_t df11_table_bytes(void) { return __atomic_load_n(&cache.bytes, __ATOMIC_RELAXED); }

uint64_t df11_table_entry_bytes(void) { return ENTRY_BYTES; }
