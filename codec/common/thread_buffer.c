/* Per-thread scratch buffers, grown on demand and freed when the thread
 * exits (pthread key destructor), so hot decode paths allocate nothing. */
#include "internal.h"

#include <stdlib.h>
#include <zstd.h>

#define SLOTS DF11_THREAD_SLOTS

typedef struct {
    uint8_t *buf[SLOTS];
    size_t cap[SLOTS];
    /* df11_thread_table: the (reader uid, model) whose table a slot holds;
     * uid 0 (no reader has it) when none; when it was last asked for */
    uint64_t uid[SLOTS];
    uint32_t model[SLOTS];
    uint64_t used[SLOTS], clock;
    ZSTD_DCtx *dctx; /* df11_thread_dctx */
} thread_buffers;

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool key_ok;

static void destroy(void *p)
{
    thread_buffers *b = p;
    for (unsigned i = 0; i < SLOTS; i++) free(b->buf[i]);
    ZSTD_freeDCtx(b->dctx);
    free(b);
}

static void make_key(void) { key_ok = pthread_key_create(&key, destroy) == 0; }

/* The calling thread's buffers with slot `slot` at least size bytes. */
static thread_buffers *buffers(unsigned slot, size_t size)
{
    if (slot >= SLOTS) return NULL;
    pthread_once(&once, make_key);
    if (!key_ok) return NULL;
    thread_buffers *b = pthread_getspecific(key);
    if (!b) {
        if (!(b = calloc(1, sizeof *b))) return NULL;
        if (pthread_setspecific(key, b) != 0) {
            free(b);
            return NULL;
        }
    }
    if (b->cap[slot] < size) {
        uint8_t *p = realloc(b->buf[slot], size);
        if (!p) return NULL;
        b->buf[slot] = p;
        b->cap[slot] = size;
        b->uid[slot] = 0;
    }
    return b;
}

uint8_t *df11_thread_buffer(unsigned slot, size_t size)
{
    thread_buffers *b = buffers(slot, size);
    if (!b) return NULL;
    b->uid[slot] = 0; /* a scratch use overwrites any table */
    return b->buf[slot];
}

uint8_t *df11_thread_table(unsigned first, unsigned count, size_t size, uint64_t uid, uint32_t model,
                           bool *stale)
{
    if (count == 0 || first >= SLOTS || count > SLOTS - first) return NULL;
    thread_buffers *b = buffers(first, 0);
    if (!b) return NULL;
    unsigned slot = first;
    for (unsigned k = first; k < first + count; k++) {
        if (b->uid[k] == uid && b->model[k] == model) {
            slot = k;
            break;
        }
        if (b->used[k] < b->used[slot]) slot = k;
    }
    /* (growing a slot forgets what it held: then it is stale) */
    if (!buffers(slot, size)) return NULL;
    *stale = b->uid[slot] != uid || b->model[slot] != model;
    b->uid[slot] = uid;
    b->model[slot] = model;
    b->used[slot] = ++b->clock;
    return b->buf[slot];
}

ZSTD_DCtx *df11_thread_dctx(void)
{
    thread_buffers *b = buffers(0, 0);
    if (!b) return NULL;
    if (!b->dctx) b->dctx = ZSTD_createDCtx();
    return b->dctx;
}

size_t df11_zstd_decompress(void *dst, size_t cap, const void *src, size_t len)
{
    ZSTD_DCtx *d = df11_thread_dctx();
    return d ? ZSTD_decompressDCtx(d, dst, cap, src, len) : ZSTD_decompress(dst, cap, src, len);
}
