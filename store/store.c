/*
 * store.c - df11store: open (origin, disk cache, manifest, offline
 * fallback), snapshots and refresh, the retry loop around the origin, and
 * the counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "int.h"

void df11store_options_default(df11store_options *o)
{
    memset(o, 0, sizeof *o);
}

int df11store_is_url(const char *s)
{
    return s && (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8) || !strncmp(s, "s3://", 5));
}

int64_t store_deadline(const df11store *s)
{
    double t = s->opt.timeout > 0 ? s->opt.timeout : 60;
    return (int64_t)(t * 1e9);
}

df11_status store_fetch(df11store *s, const char *object, const char *display, uint64_t off,
                        size_t len, void *buf, uint64_t expect_size, const uint64_t *verify,
                        uint64_t *total, int64_t deadline, df11_error *err)
{
    int64_t nap = 50000000;   /* 50 ms, doubling to 2 s */
    unsigned attempts = 0;
    df11_error last = { 0 };
    for (;;) {
        attempts++;
        df11_status st = s->org->get(s->org, object, off, len, buf, expect_size, total, deadline, &last);
        if (!st && verify && df11_xxh3_64(buf, len) != *verify) {
            atomic_fetch_add(&s->ctr.origin_errors, 1);
            st = st_fail(&last, DF11_E_AGAIN, "%s: bytes %" PRIu64 "-%" PRIu64
                         ": the bytes received do not match the manifest's block hash",
                         display, off, off + len - 1);
        }
        if (!st)
            return DF11_OK;
        if (st != DF11_E_AGAIN)
            return st_fail(err, st, "%s", last.message);
        /* Jitter: processes that failed together do not retry together. */
        int64_t wait = nap + (int64_t)(((uint64_t)st_now_ns() * 2654435761u) % (uint64_t)(nap / 2 + 1));
        if (st_now_ns() + wait >= deadline)
            return st_fail(err, DF11_E_IO, "%s (gave up after %u attempts in %.0f s)", last.message,
                           attempts, (double)store_deadline(s) / 1e9);
        atomic_fetch_add(&s->ctr.origin_retries, 1);
        st_sleep_ns(wait);
        if (nap < 2000000000)
            nap *= 2;
    }
}

/* ---- snapshots ---- */

df11store_snapshot *df11store_snapshot_get(df11store *s)
{
    pthread_mutex_lock(&s->mu);
    df11store_snapshot *snap = s->cur;
    atomic_fetch_add(&snap->refs, 1);
    pthread_mutex_unlock(&s->mu);
    return snap;
}

/* The plain accessors read s->cur without a reference: the lifetime rule
 * in df11store.h (one change of grace) is what keeps their entries alive. */
static df11store_snapshot *cur(const df11store *s)
{
    pthread_mutex_lock((pthread_mutex_t *)&s->mu);
    df11store_snapshot *snap = s->cur;
    pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
    return snap;
}

size_t df11store_count(const df11store *s) { return df11store_snapshot_count(cur(s)); }
const df11store_entry *df11store_entry_at(const df11store *s, size_t i)
{
    return df11store_snapshot_at(cur(s), i);
}
const df11store_entry *df11store_lookup(const df11store *s, const char *path)
{
    return df11store_snapshot_lookup(cur(s), path);
}

/* ---- the manifest ---- */

/* Gets and parses the manifest, retrying transient failures (a torn or
 * corrupt body included) until deadline. *not_modified when etag matched. */
static df11_status fetch_manifest(df11store *s, const char *etag, int64_t deadline,
                                  df11store_snapshot **snap, char **etag_out, void **raw,
                                  size_t *raw_len, int *not_modified, df11_error *err)
{
    int64_t nap = 50000000;
    *snap = NULL;
    *raw = NULL;
    for (;;) {
        void *buf = NULL;
        size_t len = 0;
        df11_error e;
        df11_status st = s->org->get_all(s->org, DF11STORE_MANIFEST_NAME, etag, &buf, &len, etag_out,
                                         not_modified, MF_MAX_BYTES, deadline, &e);
        if (!st && *not_modified)
            return DF11_OK;
        if (!st) {
            char *disp = origin_object_display(s->org, DF11STORE_MANIFEST_NAME);
            st = mf_parse(buf, len, disp ? disp : DF11STORE_MANIFEST_NAME, snap, &e);
            free(disp);
            if (!st) {
                *raw = buf;
                *raw_len = len;
                return DF11_OK;
            }
            free(buf);
            free(*etag_out);
            *etag_out = NULL;
            if (!s->org->remote)
                return st_fail(err, st, "%s", e.message);
            st = DF11_E_AGAIN;   /* a torn or corrupted transfer: again */
        }
        if (st != DF11_E_AGAIN) {
            if (e.code == DF11_E_IO && strstr(e.message, "HTTP 404"))
                return st_fail(err, DF11_E_IO, "%s (no store there, or not published: "
                               "'df11 manifest STORE' writes the manifest)", e.message);
            return st_fail(err, st, "%s", e.message);
        }
        if (st_now_ns() + nap >= deadline)
            return st_fail(err, DF11_E_AGAIN, "%s", e.message);
        atomic_fetch_add(&s->ctr.origin_retries, 1);
        st_sleep_ns(nap);
        if (nap < 1000000000)
            nap *= 2;
    }
}

static df11_status walk_snapshot(df11store *s, df11store_snapshot **snap, df11_error *err)
{
    char *buf;
    size_t len;
    df11_status st = mf_build(s->local_dir, DF11STORE_BLOCK_SIZE_DEFAULT, false, NULL, NULL, &buf,
                              &len, NULL, err);
    if (st)
        return st;
    st = mf_parse(buf, len, s->local_dir, snap, err);
    free(buf);
    return st;
}

static bool local_has_manifest(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, DF11STORE_MANIFEST_NAME);
    struct stat st;
    return lstat(p, &st) == 0;
}

/* Loads the first snapshot: origin, else (remote, unreachable) the cached
 * copy. */
static df11_status load_first(df11store *s, df11_error *err)
{
    if (s->walk_mode)
        return walk_snapshot(s, &s->cur, err);
    void *cached = NULL;
    size_t clen = 0;
    char *cetag = NULL;
    bool have_cached = s->dc && s->org->remote &&
                       dc_get_meta(s->dc, s->meta_name, &cached, &clen, &cetag);
    /* With a cached manifest to fall back on, an unreachable origin is
     * given a short try, so an offline start does not hang a mount. */
    int64_t t = store_deadline(s);
    if (have_cached && t > 5000000000)
        t = 5000000000;
    void *raw;
    size_t rlen;
    int nm = 0;
    char *etag = NULL;
    df11_error e;
    df11_status st = fetch_manifest(s, NULL, st_now_ns() + t, &s->cur, &etag, &raw, &rlen, &nm, &e);
    if (!st) {
        if (s->dc && s->org->remote)
            dc_put_meta(s->dc, s->meta_name, raw, rlen, etag);
        free(raw);
        s->manifest_etag = etag;
    } else if (st == DF11_E_AGAIN && have_cached &&
               !mf_parse(cached, clen, s->url, &s->cur, NULL)) {
        s->offline = true;
        s->manifest_etag = cetag;
        cetag = NULL;
        st = DF11_OK;
    } else {
        if (st == DF11_E_AGAIN)
            st = st_fail(err, DF11_E_IO, "%s (origin unreachable; %s)", e.message,
                         have_cached ? "the cached manifest is unusable" : "no cached manifest");
        else
            st = st_fail(err, st, "%s", e.message);
    }
    free(cached);
    free(cetag);
    return st;
}

df11_status df11store_open(const char *url, const df11store_options *o, df11store **out,
                           df11_error *err)
{
    if (!url || !*url || !out)
        return st_fail(err, DF11_E_ARG, "df11store_open: no store");
    *out = NULL;
    df11store *s = calloc(1, sizeof *s);
    if (!s || !(s->url = strdup(url))) {
        free(s);
        return st_fail(err, DF11_E_NOMEM, "out of memory");
    }
    if (o)
        s->opt = *o;
    s->opt.cache_dir = s->opt.s3_endpoint = s->opt.s3_region = s->opt.proxy = s->opt.ca_file = NULL;
    pthread_mutex_init(&s->mu, NULL);
    df11_status st;
    if (df11store_is_url(url)) {
        st = origin_http_open(url, o ? o : &s->opt, &s->ctr, &s->org, err);
    } else {
        st = origin_local_open(url, &s->org, err);
        if (!st) {
            s->org->ctr = &s->ctr;
            s->local_dir = strdup(url);
            s->walk_mode = !local_has_manifest(url);
            if (!s->local_dir)
                st = st_fail(err, DF11_E_NOMEM, "out of memory");
        }
    }
    if (!st && o && o->cache_dir)
        st = dc_open(o->cache_dir, o->cache_dir_size, &s->ctr, &s->dc, err);
    s->direct = s->org && !s->org->remote && (!s->dc || s->walk_mode);
    if (!st) {
        size_t ml = strlen(url) + 16;
        s->meta_name = malloc(ml);
        if (s->meta_name)
            snprintf(s->meta_name, ml, "manifest %s", url);
        else
            st = st_fail(err, DF11_E_NOMEM, "out of memory");
    }
    if (!st)
        st = load_first(s, err);
    if (!st)
        st = blocks_new(s, &s->blk, err);
    if (st) {
        df11store_close(s);
        return st;
    }
    *out = s;
    return DF11_OK;
}

void df11store_close(df11store *s)
{
    if (!s)
        return;
    blocks_free(s->blk);
    dc_close(s->dc);
    if (s->org)
        s->org->free(s->org);
    df11store_snapshot_put(s->cur);
    df11store_snapshot_put(s->prev);
    pthread_mutex_destroy(&s->mu);
    free(s->manifest_etag);
    free(s->local_dir);
    free(s->meta_name);
    free(s->url);
    free(s);
}

df11_status df11store_refresh(df11store *s, int *changed, df11_error *err)
{
    int ch = 0;
    if (changed)
        *changed = 0;
    if (!s)
        return st_fail(err, DF11_E_ARG, "df11store_refresh: no store");
    df11store_snapshot *snap = NULL;
    df11_status st;
    if (s->walk_mode) {
        st = walk_snapshot(s, &snap, err);
    } else {
        pthread_mutex_lock(&s->mu);
        char *etag = s->manifest_etag ? strdup(s->manifest_etag) : NULL;
        pthread_mutex_unlock(&s->mu);
        void *raw = NULL;
        size_t rlen = 0;
        int nm = 0;
        char *netag = NULL;
        st = fetch_manifest(s, etag, st_now_ns() + store_deadline(s), &snap, &netag, &raw, &rlen,
                            &nm, err);
        free(etag);
        if (st == DF11_E_AGAIN)
            st = err ? (err->code = DF11_E_IO) : DF11_E_IO;
        if (!st) {
            pthread_mutex_lock(&s->mu);
            s->offline = false;
            if (!nm) {
                free(s->manifest_etag);
                s->manifest_etag = netag;
                netag = NULL;
            }
            pthread_mutex_unlock(&s->mu);
            if (raw && s->dc && s->org->remote)
                dc_put_meta(s->dc, s->meta_name, raw, rlen, s->manifest_etag);
        }
        free(raw);
        free(netag);
    }
    if (st || !snap)
        return st;
    pthread_mutex_lock(&s->mu);
    if (snap->content_xxh3 != s->cur->content_xxh3) {
        snap->generation = s->cur->generation + 1;
        df11store_snapshot *drop = s->prev;
        s->prev = s->cur;
        s->cur = snap;
        snap = drop;
        ch = 1;
    }
    pthread_mutex_unlock(&s->mu);
    df11store_snapshot_put(snap);
    if (changed)
        *changed = ch;
    return DF11_OK;
}

char *df11store_stats(df11store *s)
{
    sbuf b = { 0 };
    st_counters *c = &s->ctr;
    pthread_mutex_lock(&s->mu);
    bool off = s->offline;
    uint64_t gen = s->cur->generation;
    size_t n = s->cur->n;
    pthread_mutex_unlock(&s->mu);
    sb_printf(&b, "origin %s\n", s->org->remote ? "remote" : "local");
    sb_printf(&b, "offline %d\n", off ? 1 : 0);
#define C(name) sb_printf(&b, #name " %llu\n", (unsigned long long)atomic_load(&c->name))
    C(origin_bytes);
    C(origin_requests);
    C(origin_retries);
    C(origin_errors);
    C(cache_hits);
    C(cache_misses);
    sb_printf(&b, "cache_bytes %llu\n", (unsigned long long)dc_bytes(s->dc));
    sb_printf(&b, "cache_limit %llu\n", (unsigned long long)dc_limit(s->dc));
    C(cache_evictions);
    C(cache_bad_blocks);
    C(mem_hits);
    C(singleflight_waits);
    C(readahead_blocks);
#undef C
    sb_printf(&b, "generation %llu\n", (unsigned long long)gen);
    sb_printf(&b, "entries %zu\n", n);
    if (b.oom) {
        free(b.buf);
        return NULL;
    }
    return b.buf;
}
