/* An ordered parallel loop: workers compute items out of order, the caller
 * consumes them in order, and no worker runs more than `window` items ahead
 * of the consumer, which bounds memory whatever n is. */
#include "internal.h"

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    uint64_t n, next, emitted;
    unsigned window;
    uint8_t *done; /* per slot: item next-emitted is ready */
    df11_status status;
    df11_work_fn work;
    void *ctx;
} loop;

typedef struct {
    loop *l;
    unsigned id;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    loop *l = a->l;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (l->status == DF11_OK && l->next < l->n && l->next >= l->emitted + l->window)
            pthread_cond_wait(&l->changed, &l->lock);
        if (l->status != DF11_OK || l->next >= l->n) break;
        uint64_t i = l->next++;
        pthread_mutex_unlock(&l->lock);
        df11_status s = l->work(i, a->id, l->ctx);
        pthread_mutex_lock(&l->lock);
        if (s != DF11_OK && l->status == DF11_OK) l->status = s;
        l->done[i % l->window] = 1;
        pthread_cond_broadcast(&l->changed);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

/* The CPUs this thread may run on (taskset, cpusets), not all the
 * machine's: more threads than that only take turns. */
unsigned df11_default_threads(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

df11_status df11_parallel_ordered(uint64_t n, unsigned threads, unsigned window,
                                  df11_work_fn work, df11_emit_fn emit, void *ctx)
{
    if (threads == 0) threads = 1;
    if (window < threads) window = threads;
    loop l = {.n = n, .window = window, .work = work, .ctx = ctx, .status = DF11_OK};
    l.done = calloc(window, 1);
    pthread_t *tids = calloc(threads, sizeof *tids);
    worker_arg *args = calloc(threads, sizeof *args);
    if (!l.done || !tids || !args) {
        free(l.done);
        free(tids);
        free(args);
        return DF11_E_NOMEM;
    }
    pthread_mutex_init(&l.lock, NULL);
    pthread_cond_init(&l.changed, NULL);
    unsigned started = 0;
    for (; started < threads; started++) {
        args[started] = (worker_arg){&l, started};
        if (pthread_create(&tids[started], NULL, worker, &args[started]) != 0) break;
    }
    pthread_mutex_lock(&l.lock);
    if (started == 0) l.status = DF11_E_INTERNAL;
    while (l.status == DF11_OK && l.emitted < n) {
        uint64_t i = l.emitted;
        while (l.status == DF11_OK && !l.done[i % window]) pthread_cond_wait(&l.changed, &l.lock);
        if (l.status != DF11_OK) break;
        pthread_mutex_unlock(&l.lock);
        df11_status s = emit ? emit(i, ctx) : DF11_OK;
        pthread_mutex_lock(&l.lock);
        if (s != DF11_OK && l.status == DF11_OK) l.status = s;
        l.done[i % window] = 0;
        l.emitted++;
        pthread_cond_broadcast(&l.changed);
    }
    if (l.status == DF11_OK && l.emitted < n) l.status = DF11_E_INTERNAL;
    pthread_cond_broadcast(&l.changed);
    pthread_mutex_unlock(&l.lock);
    for (unsigned t = 0; t < started; t++) pthread_join(tids[t], NULL);
    pthread_mutex_destroy(&l.lock);
    pthread_cond_destroy(&l.changed);
    free(l.done);
    free(tids);
    free(args);
    return l.status;
}
