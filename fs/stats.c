/* stats.c - counters readable while mounted (the hidden stats file) and the
 * optional periodic log line (-o stats_interval). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "fs.h"

struct fs_stats fs_stats;

static pthread_t stats_thread;
static int stats_running;
static pthread_mutex_t stats_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stats_cv = PTHREAD_COND_INITIALIZER;
static int stats_stop_flag;

#define LD(f) ((uint64_t)atomic_load_explicit(&fs_stats.f, memory_order_relaxed))

char *fs_stats_format(size_t *len)
{
    char *s = NULL;
    int n = asprintf(&s,
        "reads %" PRIu64 "\n"
        "bytes_served %" PRIu64 "\n"
        "chunks_decoded %" PRIu64 "\n"
        "cache_hits %" PRIu64 "\n"
        "cache_misses %" PRIu64 "\n"
        "errors %" PRIu64 "\n"
        "decode_ns %" PRIu64 "\n"
        "bytes_decoded_cpu %" PRIu64 "\n"
        "bytes_decoded_gpu %" PRIu64 "\n"
        "gpu_batches %" PRIu64 "\n"
        "prefetch_chunks %" PRIu64 "\n"
        "replacements %" PRIu64 "\n"
        "reads_1m %" PRIu64 "\n"
        "read_max %" PRIu64 "\n"
        "cache_bytes %" PRIu64 "\n"
        "cache_budget %" PRIu64 "\n"
        "table_bytes %" PRIu64 "\n"
        "gpu %s\n",
        LD(reads), LD(bytes_served), LD(chunks_decoded), LD(cache_hits),
        LD(cache_misses), LD(errors), LD(decode_ns), LD(bytes_decoded_cpu),
        LD(bytes_decoded_gpu), LD(gpu_batches), LD(prefetch_chunks),
        LD(replacements), LD(reads_1m), LD(read_max), cache_bytes(), fs_cfg.cache_size,
        df11_table_bytes(),
        fs_cfg.gpu_active ? "on" : "off");
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    /* A remote store's counters (origin bytes, requests, retries, disk
     * cache hits, misses, bytes, evictions), prefixed store_ so they never
     * clash with the decoded-chunk cache's. No credentials in them. */
    char *st = remote_active() ? df11store_stats(remote_store()) : NULL;
    for (char *line = st, *nl; line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break;
        size_t ll = (size_t)(nl - line) + 1;
        char *grown = realloc(s, *len + 6 + ll + 1);
        if (!grown)
            break;
        s = grown;
        memcpy(s + *len, "store_", 6);
        memcpy(s + *len + 6, line, ll);
        *len += 6 + ll;
        s[*len] = '\0';
    }
    free(st);
    return s;
}

static void *stats_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&stats_mu);
    while (!stats_stop_flag) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_sec += fs_cfg.stats_interval;
        while (!stats_stop_flag && pthread_cond_timedwait(&stats_cv, &stats_mu, &t) != ETIMEDOUT)
            ;
        if (stats_stop_flag)
            break;
        fs_log(LOG_INFO,
               "stats: reads=%" PRIu64 " bytes_served=%" PRIu64 " chunks_decoded=%" PRIu64
               " hits=%" PRIu64 " misses=%" PRIu64 " errors=%" PRIu64 " decode_ms=%" PRIu64
               " cpu_bytes=%" PRIu64 " gpu_bytes=%" PRIu64 " cache_bytes=%" PRIu64,
               LD(reads), LD(bytes_served), LD(chunks_decoded), LD(cache_hits),
               LD(cache_misses), LD(errors), LD(decode_ns) / 1000000,
               LD(bytes_decoded_cpu), LD(bytes_decoded_gpu), cache_bytes());
    }
    pthread_mutex_unlock(&stats_mu);
    return NULL;
}

int fs_stats_start(void)
{
    if (fs_cfg.stats_interval == 0)
        return 0;
    int rc = pthread_create(&stats_thread, NULL, stats_main, NULL);
    if (rc)
        return -rc;
    stats_running = 1;
    return 0;
}

void fs_stats_stop(void)
{
    if (!stats_running)
        return;
    pthread_mutex_lock(&stats_mu);
    stats_stop_flag = 1;
    pthread_cond_broadcast(&stats_cv);
    pthread_mutex_unlock(&stats_mu);
    pthread_join(stats_thread, NULL);
    stats_running = 0;
}
