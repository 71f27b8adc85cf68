/*
 * store_cache: the disk cache of libdf11store over a local origin (the
 * same code serves HTTP and S3 origins): cold and warm reads, corrupted
 * and truncated block files fetched again, wrong bytes at the origin
 * refused and never cached, eviction under the limit, stale temporary
 * files cleaned, single flight among threads and among two stores on one
 * cache folder (as two processes would be).
 */
#include <pthread.h>
#include <sys/wait.h>

#include "store_util.h"

#define BS 65536u
#define BIG (17 * BS - 12345)   /* 17 blocks, the last one short */

static char *root, *store;
static uint8_t *big;

static df11store *open_store(const char *cache, uint64_t limit, double timeout)
{
    df11store_options o;
    df11store_options_default(&o);
    o.cache_dir = cache;
    o.cache_dir_size = limit;
    o.timeout = timeout;
    o.connections = 4;
    df11store *s = NULL;
    df11_error err;
    if (df11store_open(store, &o, &s, &err) != DF11_OK) {
        printf("FAIL open %s: %s\n", store, err.message);
        exit(1);
    }
    return s;
}

static char *cache_path(const char *tag)
{
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/cache-%s", root, tag);
    return p;
}

static bool read_big(df11store *s, df11_error *err)
{
    const df11store_entry *e = df11store_lookup(s, "big.bin");
    df11_status st;
    uint8_t *b = e ? su_read_entry(s, e, &st, err) : NULL;
    bool ok = b && !memcmp(b, big, BIG);
    free(b);
    return ok;
}

static void test_cold_warm(void)
{
    char *c = cache_path("cw");
    df11_error err;
    df11store *s = open_store(c, 0, 10);
    bool ok = read_big(s, &err);
    uint64_t req = su_stat(s, "origin_requests"), miss = su_stat(s, "cache_misses");
    uint64_t bytes;
    size_t nb = su_blocks(c, &bytes, NULL, 0);
    su_check(ok && req == 17 && miss == 17 && nb == 17, "cache.cold",
             "ok %d requests %llu misses %llu block files %zu: %s", ok, (unsigned long long)req,
             (unsigned long long)miss, nb, ok ? "" : err.message);
    df11store_close(s);

    s = open_store(c, 0, 10);
    ok = read_big(s, &err);
    req = su_stat(s, "origin_requests");
    uint64_t hits = su_stat(s, "cache_hits");
    su_check(ok && req == 0 && hits == 17, "cache.warm_other_store",
             "ok %d requests %llu hits %llu", ok, (unsigned long long)req, (unsigned long long)hits);
    df11store_close(s);

    /* A .df11 object through the cache, decoded and checked twice. */
    s = open_store(c, 0, 10);
    for (int round = 0; round < 2; round++) {
        const df11store_entry *e = df11store_lookup(s, "bf16.safetensors");
        df11_source src;
        df11_reader *r = NULL;
        df11_status st = e ? df11store_source(s, e, &src, &err) : DF11_E_ARG;
        if (!st)
            st = df11_open_source(&src, &r, &err);
        if (!st)
            st = df11_verify(r, 2, NULL, NULL, &err);
        df11_close(r);
        su_check(!st && e && e->kind == DF11STORE_DF11, round ? "cache.df11_warm" : "cache.df11_cold",
                 "%s", err.message);
    }
    df11store_close(s);

    /* Damage two block files: one byte flipped, one cut short. */
    char paths[2][8192];
    int found = 0;
    for (int i = 0; i < 256 && found < 2; i++) {
        char d[4096];
        snprintf(d, sizeof d, "%s/df11store-v1/blocks/%02x", c, i);
        DIR *dir = opendir(d);
        struct dirent *de;
        while (dir && found < 2 && (de = readdir(dir)))
            if (strstr(de->d_name, ".blk"))
                snprintf(paths[found++], sizeof paths[0], "%s/%s", d, de->d_name);
        if (dir)
            closedir(dir);
    }
    size_t n;
    uint8_t *b = su_read(paths[0], &n);
    b[n / 2] ^= 1;
    su_write(paths[0], b, n);
    free(b);
    if (truncate(paths[1], 1000) != 0)
        perror("truncate");
    s = open_store(c, 0, 10);
    ok = read_big(s, &err) && read_big(s, &err);
    uint64_t bad = su_stat(s, "cache_bad_blocks");
    req = su_stat(s, "origin_requests");
    /* bf16.df11's block may be one of the two damaged: read it too */
    const df11store_entry *e = df11store_lookup(s, "bf16.safetensors");
    df11_status st;
    uint8_t *d = su_read_entry(s, e, &st, &err);
    free(d);
    bad = su_stat(s, "cache_bad_blocks");
    req = su_stat(s, "origin_requests");
    su_check(ok && !st && bad == 2 && req == 2, "cache.damaged_blocks_fetched_again",
             "ok %d bad %llu requests %llu", ok, (unsigned long long)bad, (unsigned long long)req);
    df11store_close(s);
    s = open_store(c, 0, 10);
    ok = read_big(s, &err);
    su_check(ok && su_stat(s, "cache_bad_blocks") == 0, "cache.damaged_blocks_replaced", NULL);
    df11store_close(s);
    free(c);
}

static void test_wrong_origin_bytes(void)
{
    char *c = cache_path("wrong");
    char p[4096];
    snprintf(p, sizeof p, "%s/big.bin", store);
    df11_error err = { 0 };
    df11store *s = open_store(c, 0, 1);
    /* The object changes in place after the manifest was written. */
    big[BS + 100] ^= 0xff;
    su_write(p, big, BIG);
    big[BS + 100] ^= 0xff;
    const df11store_entry *e = df11store_lookup(s, "big.bin");
    df11_source src;
    df11store_source(s, e, &src, &err);
    uint8_t buf[100];
    size_t got;
    int64_t t0 = st_now_ns();
    df11_status a = src.read_at(src.ctx, buf, sizeof buf, 10, &got, &err);
    bool a_ok = !a && !memcmp(buf, big + 10, sizeof buf);
    df11_status b = src.read_at(src.ctx, buf, sizeof buf, BS + 50, &got, &err);
    double secs = (double)(st_now_ns() - t0) / 1e9;
    src.close(src.ctx);
    su_check(a_ok && b == DF11_E_IO && strstr(err.message, "block hash") && secs < 3,
             "cache.wrong_origin_bytes_refused",
             "block0 %d block1 %s in %.1fs (%s)", a_ok, df11_status_name(b), secs, err.message);
    df11store_close(s);
    /* Nothing wrong was cached: with the object right again, a new store
     * on the same cache reads it all, with no bad block. */
    su_write(p, big, BIG);
    s = open_store(c, 0, 10);
    bool ok = read_big(s, &err);
    su_check(ok && su_stat(s, "cache_bad_blocks") == 0, "cache.wrong_bytes_never_cached", NULL);
    df11store_close(s);
    free(c);
}

static void test_eviction(void)
{
    char *c = cache_path("evict");
    uint64_t limit = 5 * (BS + 48);
    df11_error err;
    df11store *s = open_store(c, limit, 10);
    bool ok = read_big(s, &err) && read_big(s, &err);
    uint64_t bytes;
    size_t nb = su_blocks(c, &bytes, NULL, 0);
    uint64_t ev = su_stat(s, "cache_evictions");
    su_check(ok && bytes <= limit && ev > 0 && nb >= 1, "cache.eviction_under_limit",
             "ok %d bytes %llu limit %llu evictions %llu", ok, (unsigned long long)bytes,
             (unsigned long long)limit, (unsigned long long)ev);
    df11store_close(s);
    free(c);
}

static void test_stale_tmp(void)
{
    char *c = cache_path("tmp");
    df11store_close(open_store(c, 0, 10));
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);   /* a pid that is surely gone */
    char dead[4096], live[4096];
    snprintf(dead, sizeof dead, "%s/df11store-v1/blocks/3a/.tmp-%d-7", c, (int)pid);
    snprintf(live, sizeof live, "%s/df11store-v1/blocks/3a/.tmp-%d-8", c, (int)getpid());
    char meta[4096];
    snprintf(meta, sizeof meta, "%s/df11store-v1/meta/.tmp-%d-9", c, (int)pid);
    su_write(dead, "x", 1);
    su_write(live, "x", 1);
    su_write(meta, "x", 1);
    df11store_close(open_store(c, 0, 10));
    su_check(access(dead, F_OK) != 0 && access(meta, F_OK) != 0 && access(live, F_OK) == 0,
             "cache.stale_tmp_cleaned", "dead %d meta %d live %d", access(dead, F_OK) == 0,
             access(meta, F_OK) == 0, access(live, F_OK) == 0);
    unlink(live);
    free(c);
}

typedef struct {
    df11store *s;
    pthread_barrier_t *bar;
    bool ok;
} thr;

static void *reader(void *arg)
{
    thr *t = arg;
    df11_error err;
    pthread_barrier_wait(t->bar);
    t->ok = read_big(t->s, &err);
    return NULL;
}

static void test_single_flight(int nstores)
{
    char *c = cache_path(nstores == 1 ? "sf1" : "sf2");
    enum { T = 8 };
    df11store *s[2];
    for (int i = 0; i < nstores; i++)
        s[i] = open_store(c, 0, 20);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, T);
    thr t[T];
    pthread_t id[T];
    for (int i = 0; i < T; i++) {
        t[i] = (thr){ s[i % nstores], &bar, false };
        pthread_create(&id[i], NULL, reader, &t[i]);
    }
    bool ok = true;
    for (int i = 0; i < T; i++) {
        pthread_join(id[i], NULL);
        ok = ok && t[i].ok;
    }
    uint64_t req = 0;
    for (int i = 0; i < nstores; i++)
        req += su_stat(s[i], "origin_requests");
    su_check(ok && req == 17, nstores == 1 ? "cache.single_flight_threads" : "cache.single_flight_two_stores",
             "ok %d origin requests %llu for 17 blocks", ok, (unsigned long long)req);
    for (int i = 0; i < nstores; i++)
        df11store_close(s[i]);
    pthread_barrier_destroy(&bar);
    free(c);
}

int main(void)
{
    root = su_tmpdir("store-cache");
    store = malloc(4096);
    snprintf(store, 4096, "%s/store", root);
    mkdir(store, 0755);
    big = malloc(BIG);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < BIG; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        big[i] = (uint8_t)x;
    }
    char p[4096], g[4096];
    snprintf(p, sizeof p, "%s/big.bin", store);
    su_write(p, big, BIG);
    snprintf(g, sizeof g, "%s/tests/golden/bf16.df11", su_root());
    snprintf(p, sizeof p, "%s/bf16.df11", store);
    su_copy(g, p);
    df11store_manifest_options mo = { .block_size = BS };
    df11_error err;
    if (df11store_write_manifest_ex(store, &mo, NULL, &err) != DF11_OK) {
        printf("FAIL manifest: %s\n", err.message);
        return 1;
    }
    test_cold_warm();
    test_wrong_origin_bytes();
    test_eviction();
    test_stale_tmp();
    test_single_flight(1);
    test_single_flight(2);
    su_rmrf(root);
    free(big);
    free(store);
    free(root);
    return su_failures ? 1 : 0;
}
