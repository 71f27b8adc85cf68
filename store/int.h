/*
 * int.h - what the files of store/ share and nobody else sees: the
 * snapshot (a parsed manifest), origins, the memory and disk block caches,
 * the counters. doc/STORE.md describes how they fit together.
 */
#ifndef DF11STORE_INT_H
#define DF11STORE_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "df11store.h"

/* ---- errors ---- */
static inline df11_status st_fail(df11_error *err, df11_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline df11_status st_fail(df11_error *err, df11_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- time ---- */
int64_t st_now_ns(void);          /* CLOCK_MONOTONIC */
/* Waits on cv (mu held) at most until deadline (st_now_ns time) and at most
 * slice_ns at a time, so a waiter notices the deadline even if nobody
 * signals. 0 when the deadline has passed (nothing waited), else 1. */
int st_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline, int64_t slice_ns);
void st_sleep_ns(int64_t ns);

/* ---- snapshot (manifest.c, snapshot.c) ---- */
#define MF_MAGIC "DF11MANIFEST"
#define MF_VERSION 1
#define MF_MAX_BYTES (1ull << 30)     /* refuse manifests larger than this */

/* Per-entry data the public struct does not show (entry.priv). */
typedef struct {
    const uint64_t *hashes;   /* XXH3-64 of each block of the object, or NULL */
    uint64_t nblocks;
    uint64_t key_hi, key_lo;  /* the object's identity for the disk cache */
} entry_priv;

struct df11store_snapshot {
    atomic_long refs;
    uint64_t generation;
    uint32_t block_size;
    size_t n;
    df11store_entry *e;       /* sorted by path; e[0] is the root */
    entry_priv *x;            /* parallel to e */
    uint64_t content_xxh3;    /* of the manifest body: equal => same tree */
    void *arena;              /* strings and hashes */
};

/* Parses a whole manifest file (header line + JSON body), checks its
 * checksum and every entry, and builds a snapshot with one reference.
 * name is for messages. */
df11_status mf_parse(const void *buf, size_t len, const char *name,
                     df11store_snapshot **out, df11_error *err);

/* ---- manifest building (manifest_build.c) ---- */
typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} sbuf;
void sb_put(sbuf *b, const void *p, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_json_str(sbuf *b, const char *s);

/* Walks store_dir and returns a complete manifest file (header + body) in
 * *out (malloc'd). hash: read every object for block hashes (reusing
 * those of `old` where object, size and mtime match); without, the
 * manifest has no block hashes (a local folder read in place). */
df11_status mf_build(const char *store_dir, uint32_t block_size, bool hash,
                     const df11store_snapshot *old,
                     const df11store_manifest_options *o,
                     char **out, size_t *out_len, size_t *entries, df11_error *err);
/* Header line + body -> manifest file bytes (malloc'd). */
char *mf_wrap(const char *body, size_t body_len, size_t *out_len);

/* ---- counters ---- */
typedef struct {
    atomic_ullong origin_bytes, origin_requests, origin_retries, origin_errors;
    atomic_ullong cache_hits, cache_misses, cache_evictions, cache_bad_blocks;
    atomic_ullong mem_hits, singleflight_waits, readahead_blocks;
} st_counters;

/* ---- origins (origin_local.c, origin_http.c) ---- */
typedef struct origin origin;
struct origin {
    /* One attempt at exactly len bytes at off of object into buf. Returns
     * DF11_OK, DF11_E_AGAIN (transient: worth retrying before deadline) or
     * another status (final). *total (may be NULL) gets the object's size
     * when the response says it. expect_size: the object's size from the
     * manifest, UINT64_MAX when unknown. */
    df11_status (*get)(origin *o, const char *object, uint64_t off, size_t len, void *buf,
                       uint64_t expect_size, uint64_t *total, int64_t deadline,
                       df11_error *err);
    /* One attempt at a whole small object (at most max bytes). With etag
     * set, a conditional GET: *not_modified = 1 on 304. *etag_out gets the
     * response's ETag (malloc'd, may be NULL). Local origins ignore etags. */
    df11_status (*get_all)(origin *o, const char *object, const char *etag,
                           void **buf, size_t *len, char **etag_out, int *not_modified,
                           size_t max, int64_t deadline, df11_error *err);
    void (*free)(origin *o);
    char *display;     /* the store URL for messages (no credentials) */
    bool remote;
    st_counters *ctr;
};

df11_status origin_local_open(const char *dir, origin **out, df11_error *err);
/* A descriptor of object in a local origin's folder, opened beneath it
 * (df11store_open_beneath), or -errno. */
int origin_local_open_object(origin *o, const char *object);
df11_status origin_http_open(const char *url, const df11store_options *o, st_counters *ctr,
                             origin **out, df11_error *err);
/* Full URL of object in messages (malloc'd). */
char *origin_object_display(const origin *o, const char *object);

/* Validation of one range response, a pure function so tests can feed it
 * every wrong answer: status, the Content-Range and Content-Length header
 * values (NULL when absent), body bytes received, the range asked. Sets
 * *total when known (else UINT64_MAX). Returns DF11_OK, DF11_E_AGAIN (a
 * wrong answer worth retrying) or DF11_E_IO (a final one), with why in
 * msg. */
df11_status http_check_range(long status, const char *content_range,
                             const char *content_length, uint64_t body_len,
                             uint64_t off, uint64_t len, uint64_t expect_size,
                             uint64_t *total, char *msg, size_t msg_cap);

/* ---- S3 credentials (s3cred.c) ---- */
typedef struct {
    char *key, *secret, *token;   /* NULL when not set */
} s3_creds;
/* From AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, else the
 * profile AWS_PROFILE (default "default") of AWS_SHARED_CREDENTIALS_FILE
 * (default ~/.aws/credentials). No credentials is not an error (anonymous
 * requests). */
void s3_creds_load(s3_creds *c);
void s3_creds_free(s3_creds *c);
/* Parses INI text for profile; exposed for tests. */
void s3_creds_parse(const char *text, const char *profile, s3_creds *c);

/* ---- disk cache (diskcache.c) ---- */
typedef struct diskcache diskcache;
df11_status dc_open(const char *dir, uint64_t limit, st_counters *ctr, diskcache **out,
                    df11_error *err);
void dc_close(diskcache *dc);
/* Reads block (key, index) of len bytes whose content hash is want (when
 * has_want) into buf. true on a verified hit; a bad or short file is
 * removed and counted. */
bool dc_read(diskcache *dc, uint64_t khi, uint64_t klo, uint64_t index, void *buf,
             size_t len, bool has_want, uint64_t want);
/* Stores a block atomically (temp + rename); failures are ignored (the
 * cache is an optimisation), then evicts if over the limit. */
void dc_write(diskcache *dc, uint64_t khi, uint64_t klo, uint64_t index, const void *buf,
              size_t len);
/* Cross-process single flight: lock for block (key, index), polling until
 * deadline. Returns a token for dc_unlock, or -1 on timeout. */
int64_t dc_lock(diskcache *dc, uint64_t khi, uint64_t klo, uint64_t index, int64_t deadline);
void dc_unlock(diskcache *dc, int64_t token);
/* A cached small whole object (the manifest of a remote store). */
bool dc_get_meta(diskcache *dc, const char *name, void **buf, size_t *len, char **etag);
void dc_put_meta(diskcache *dc, const char *name, const void *buf, size_t len,
                 const char *etag);
uint64_t dc_bytes(const diskcache *dc);
uint64_t dc_limit(const diskcache *dc);
/* Default limit for a cache in dir (see df11store.h). */
uint64_t dc_default_limit(const char *dir);

/* ---- the store, memory blocks, read-ahead (store.c, blocks.c) ---- */
typedef struct blocks blocks;

/* What a source or a read-ahead job knows of its object (refcounted). */
typedef struct objinfo {
    atomic_long refs;
    char *object;            /* relative path */
    char *display;           /* full URL for messages */
    uint64_t size;
    uint32_t block_size;
    uint64_t *hashes;        /* NULL: unverified */
    uint64_t nblocks;
    uint64_t key_hi, key_lo; /* identity (0,0: not cacheable on disk) */
    uint64_t mem_id;         /* identity in the memory cache */
} objinfo;
void objinfo_put(objinfo *oi);

struct df11store {
    char *url;
    df11store_options opt;   /* strings not kept */
    origin *org;
    diskcache *dc;
    blocks *blk;
    st_counters ctr;
    pthread_mutex_t mu;      /* guards cur, prev, etag, offline */
    df11store_snapshot *cur, *prev;
    char *manifest_etag;
    bool offline;
    bool walk_mode;          /* local folder without a manifest */
    bool direct;             /* local origin without disk cache: pread */
    char *local_dir;
    char *meta_name;         /* disk cache name of the manifest */
    atomic_ullong next_mem_id;
};

df11_status blocks_new(df11store *s, blocks **out, df11_error *err);
void blocks_free(blocks *b);
/* Copies [off, off+len) of the object (within one block) into buf,
 * through memory, disk and origin; seq: the caller reads sequentially
 * (start read-ahead). */
df11_status blocks_read(blocks *b, objinfo *oi, void *buf, size_t len, uint64_t off,
                        bool seq, df11_error *err);

/* The per-read deadline of s, in ns from now. */
int64_t store_deadline(const df11store *s);
/* The retry loop around origin->get: backoff on DF11_E_AGAIN until the
 * deadline, then DF11_E_IO naming the URL and range. verify: when not
 * NULL, the bytes must hash (XXH3-64) to *verify. */
df11_status store_fetch(df11store *s, const char *object, const char *display,
                        uint64_t off, size_t len, void *buf, uint64_t expect_size,
                        const uint64_t *verify, uint64_t *total, int64_t deadline,
                        df11_error *err);

#endif
