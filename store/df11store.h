/*
 * df11store.h - the one public header of libdf11store: a store of .df11
 * and plain files behind a local folder, an HTTP(S) server or an S3 bucket,
 * described by a manifest, read through a verified on-disk block cache.
 *
 * A store is the folder `df11 compress MODEL_DIR -o STORE` writes, plus a
 * manifest at its root (DF11STORE_MANIFEST_NAME) that lists every entry, so
 * a remote origin needs no listing. Publishing a new version of a store
 * means uploading the objects first and the manifest last. The design is
 * in doc/STORE.md.
 *
 * Conventions are those of df11.h: functions that can fail return a
 * df11_status and fill *err (when not NULL) with a message naming the URL
 * (never credentials) and, for reads, the byte range. Nothing here prints,
 * aborts or exits.
 */
#ifndef DF11STORE_H
#define DF11STORE_H

#include <stddef.h>
#include <stdint.h>

#include "df11.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The manifest's name at the store root. It is the store's bookkeeping:
 * it is not an entry of the store and a mount does not show it. */
#define DF11STORE_MANIFEST_NAME ".df11-manifest.json"
/* Default size of a fetched and cached block of a stored object. Blocks
 * are aligned in the object; the manifest records the size it was written
 * with (a power of two, 64 KiB to 64 MiB). */
#define DF11STORE_BLOCK_SIZE_DEFAULT (4u << 20)

typedef struct df11store df11store;

typedef struct {
    const char *cache_dir;      /* NULL: no disk cache */
    uint64_t cache_dir_size;    /* 0: 1/4 of the cache file system's size,
                                   at most 100 GiB, at least 1 GiB (or half
                                   the file system when that is smaller) */
    unsigned connections;       /* parallel keep-alive connections to the
                                   origin; 0: 8 */
    double timeout;             /* per-read deadline in seconds, retries
                                   included; 0: 60 */
    const char *s3_endpoint;    /* NULL: $AWS_ENDPOINT_URL, else
                                   https://s3.REGION.amazonaws.com */
    const char *s3_region;      /* NULL: $AWS_REGION, $AWS_DEFAULT_REGION,
                                   else us-east-1 */
    const char *proxy;          /* NULL: libcurl's own http_proxy,
                                   https_proxy and no_proxy handling */
    int insecure;               /* 1: skip TLS certificate verification */
    const char *ca_file;        /* NULL: the system's CA certificates */
    unsigned mem_blocks;        /* blocks kept in memory per store (also
                                   the read-ahead window); 0: 2 *
                                   connections + 4 */
    unsigned readahead;         /* blocks fetched ahead of a sequential
                                   reader; 0: min(connections, 4);
                                   DF11STORE_NO_READAHEAD: none */
} df11store_options;
#define DF11STORE_NO_READAHEAD 0xffffffffu

/* Fills *o with the defaults (all zero / NULL). */
void df11store_options_default(df11store_options *o);

/* 1 when s looks like a URL this library reads (http://, https://, s3://),
 * 0 for anything else (a local path). */
int df11store_is_url(const char *s);

/* Opens a store. url is a local folder path, http://HOST/PREFIX/,
 * https://HOST/PREFIX/ or s3://BUCKET/PREFIX. o may be NULL (defaults).
 *
 * A remote store needs its manifest; 403 and 404 give a clear DF11_E_IO at
 * once. When the origin cannot be reached (connection refused, timeout,
 * 5xx) and cache_dir holds a manifest of this URL from an earlier run, the
 * store opens from it and serves what the cache holds (offline mode;
 * df11store_stats says "offline 1" until a refresh reaches the origin).
 * A local folder without a manifest is listed by walking it (header reads
 * only); its objects are then read directly, without the disk cache. */
df11_status df11store_open(const char *url, const df11store_options *o,
                           df11store **out, df11_error *err);

/* Waits for read-ahead in flight, frees everything. Sources obtained from
 * the store must be closed before. NULL is accepted. */
void df11store_close(df11store *s);

typedef enum {
    DF11STORE_DIR,
    DF11STORE_FILE,   /* a plain file, served as it is stored */
    DF11STORE_LINK,   /* a symbolic link; link_target is its target */
    DF11STORE_DF11    /* a .df11 object shown as the original file */
} df11store_kind;

#define DF11STORE_NONE ((size_t)-1)

typedef struct {
    const char *path;        /* path as mounted (original name), relative,
                                "" = the root */
    const char *name;        /* last component of path ("" for the root) */
    const char *object;      /* stored object's path relative to the store
                                root (x.df11 for DF11 entries); NULL for
                                DIR and LINK */
    df11store_kind kind;
    uint64_t size;           /* size as mounted (original size for DF11,
                                strlen(link_target) for LINK, 0 for DIR) */
    uint64_t stored_size;    /* size of the stored object */
    uint32_t mode;           /* permission bits (07777) */
    int64_t mtime_sec;
    uint32_t mtime_nsec;
    const char *link_target; /* LINK only */
    uint8_t sha256[32];      /* DF11: of the original (from the .df11
                                header); zero for other kinds */
    /* Tree links, as indices for df11store_entry_at / snapshot_at: the
     * parent folder (the root is its own parent), the first child of a
     * folder and the next entry of the same folder; DF11STORE_NONE when
     * there is none. Children are in byte order of their names. */
    size_t parent, child, sibling;
    const void *priv;        /* the library's own (block hashes) */
} df11store_entry;

/* ---- Entries -----------------------------------------------------------
 * The entries of a store come from one version of its manifest, a
 * snapshot. Lifetime rule: a snapshot and its entries live while someone
 * holds a reference. The store holds one on the current snapshot and,
 * after a refresh that changed it, one on the previous snapshot until the
 * next change. So:
 *  - entries from df11store_count/entry_at/lookup (the current snapshot)
 *    stay valid until the SECOND df11store_refresh() after they were
 *    obtained that reports a change (one change of grace, so a thread that
 *    is using an entry while another refreshes is safe);
 *  - a caller that keeps entries longer (a mount's inodes) takes a
 *    reference with df11store_snapshot_get and drops it with
 *    df11store_snapshot_put; everything of that snapshot stays valid (and
 *    its sources keep reading the version it lists) until then. */
typedef struct df11store_snapshot df11store_snapshot;

/* A new reference to the current snapshot. Thread-safe. */
df11store_snapshot *df11store_snapshot_get(df11store *s);
/* Drops a reference; the last one frees the snapshot. NULL is accepted.
 * May be called after df11store_close. */
void df11store_snapshot_put(df11store_snapshot *snap);
/* Entries of a snapshot, sorted by path in byte order; index 0 is the
 * root. lookup returns NULL when path is absent ("" is the root). */
size_t df11store_snapshot_count(const df11store_snapshot *snap);
const df11store_entry *df11store_snapshot_at(const df11store_snapshot *snap, size_t i);
const df11store_entry *df11store_snapshot_lookup(const df11store_snapshot *snap,
                                                 const char *path);
/* Generation number of a snapshot: 1 for the first, +1 per change. */
uint64_t df11store_snapshot_generation(const df11store_snapshot *snap);

/* The same on the current snapshot (lifetime rule above). Thread-safe. */
size_t df11store_count(const df11store *s);
const df11store_entry *df11store_entry_at(const df11store *s, size_t i);
const df11store_entry *df11store_lookup(const df11store *s, const char *path);

/* ---- Reading ----------------------------------------------------------- */

/* A df11_source over the stored object of entry e (a DF11 or FILE entry of
 * any snapshot of s): for DF11 pass it to df11_open_source; for FILE call
 * read_at directly (it returns the file's bytes). The source copies what
 * it needs from e, so e may die before the source; it must be closed
 * (src->close, or by df11_close of the reader that owns it) before
 * df11store_close. Thread-safe; many at once.
 *
 * Every byte is read through the block cache: blocks of the object
 * (DF11STORE_BLOCK_SIZE_DEFAULT unless the manifest says otherwise) are
 * fetched with one range request each, checked against the block hashes of
 * the manifest, kept in memory (mem_blocks) and, with a cache_dir, on disk.
 * A block that many threads or processes want at once is fetched once.
 * Sequential readers get read-ahead. A read either returns the right bytes
 * or fails within the deadline (options.timeout) with DF11_E_IO naming the
 * URL and the range. */
df11_status df11store_source(df11store *s, const df11store_entry *e,
                             df11_source *out, df11_error *err);

/* Opens one object URL (http(s):// or s3://), e.g. for `df11 verify URL`.
 * When the URL's folder holds a store manifest that lists the object, it
 * is read as that store's entry (block hashes checked, cache_dir used,
 * offline start from a cached manifest). Otherwise it is read bare: its
 * size comes from a first range request, its bytes are checked by the
 * reader's chunk checksums only, nothing is cached on disk. The source is
 * self-contained (closing it frees everything). */
df11_status df11store_open_object(const char *url, const df11store_options *o,
                                  df11_source *out, df11_error *err);

/* ---- Refresh and stats ------------------------------------------------- */

/* Reads the manifest again (for a remote store a conditional GET: an
 * unchanged manifest costs one 304) and makes it the current snapshot when
 * its content changed; *changed (may be NULL) is 1 then, else 0. A failure
 * (origin unreachable, bad manifest) leaves the current snapshot in place.
 * Thread-safe with every other call. */
df11_status df11store_refresh(df11store *s, int *changed, df11_error *err);

/* The counters, one "name value\n" line each, malloc'd (free it): origin,
 * offline, origin_bytes, origin_requests, origin_retries, origin_errors,
 * cache_hits, cache_misses, cache_bytes, cache_limit, cache_evictions,
 * cache_bad_blocks, mem_hits, singleflight_waits, readahead_blocks,
 * generation, entries. No credentials. NULL when out of memory. */
char *df11store_stats(df11store *s);

/* ---- Manifests --------------------------------------------------------- */

/* Writes the manifest of the local store folder store_dir (atomically: a
 * temporary file and a rename), with DF11STORE_BLOCK_SIZE_DEFAULT blocks.
 * Reads every .df11 header and every stored byte once (block hashes);
 * entries of an existing manifest whose object, size and mtime are
 * unchanged keep their hashes without being read again. */
df11_status df11store_write_manifest(const char *store_dir, df11_error *err);

typedef struct {
    uint32_t block_size;     /* 0: DF11STORE_BLOCK_SIZE_DEFAULT */
    int rehash;              /* 1: read every object, reuse nothing */
    /* Called after each object hashed (may be NULL). */
    void (*progress)(void *ctx, const char *object, uint64_t done, uint64_t total);
    void *progress_ctx;
} df11store_manifest_options;

/* df11store_write_manifest with options (o may be NULL). *entries (may be
 * NULL) receives the number of entries written. */
df11_status df11store_write_manifest_ex(const char *store_dir,
                                        const df11store_manifest_options *o,
                                        size_t *entries, df11_error *err);

/* Opens dirfd/path with flags (O_CLOEXEC and O_NOFOLLOW are added) without
 * following a symlink in any component of path and without leaving dirfd's
 * folder; "" opens the folder itself. Returns a descriptor, or -errno
 * (ELOOP or ENOTDIR for a symlink in the way). df11fs's local stores and
 * the local origin both open through it. Thread-safe. */
int df11store_open_beneath(int dirfd, const char *path, int flags);

/* The naming rule, in one place: the CLI (compress, decompress), df11fs
 * (lookup and readdir of a local store) and the manifest writer all call
 * these. Told apart by the suffix of the last path component alone, so no
 * file is opened to know an original name:
 *  - X.safetensors is stored as X.df11;
 *  - a file N with safetensors content and any other name (a Hugging Face
 *    blob, w.bin) is stored as N.df11n ("n": the name is kept whole).
 * Neither suffix ends the other, so each stored name means one original.
 * The functions work on a name or a path (the rule applies to its last
 * component) and return malloc'd strings (NULL: out of memory, or for
 * df11store_original_name also "not a stored name", with errno 0). */
#define DF11STORE_EXT_DF11 ".df11"
#define DF11STORE_EXT_KEEP ".df11n"
char *df11store_stored_name(const char *original);
char *df11store_original_name(const char *stored);
/* 1 when the last component of p is a stored name: *.df11 or *.df11n
 * after a non-empty stem. */
int df11store_is_stored_name(const char *p);
/* The stored names that show as `shown`, in precedence order (X.df11
 * before X.safetensors.df11n); fills out[0..n) with malloc'd names and
 * returns n (0..2), or (size_t)-1 when out of memory. */
size_t df11store_stored_candidates(const char *shown, char *out[2]);

/* The naming rule, in one place (the manifest writer applies it; readers
 * of a manifest see its result in the paths): how a regular file `name` of
 * a store folder is shown. exists(ctx, n) says whether that folder holds
 * an entry named n.
 *  - X.df11 is shown as X.safetensors (DF11STORE_NAME_DF11, the name in
 *    shown), unless the folder also holds X.safetensors: that one already
 *    is the original and wins, X.df11 is hidden;
 *  - any other *.df11 name (or one whose shown name would not fit in cap
 *    or NAME_MAX) is hidden;
 *  - everything else is shown as it is (DF11STORE_NAME_SAME).
 * shown must hold cap bytes (NAME_MAX + 1 is enough). */
typedef enum {
    DF11STORE_NAME_SAME = 0,
    DF11STORE_NAME_DF11 = 1,
    DF11STORE_NAME_HIDDEN = 2
} df11store_name_rule;
df11store_name_rule df11store_shown_name(const char *name, char *shown, size_t cap,
                                         int (*exists)(void *ctx, const char *name),
                                         void *ctx);

#ifdef __cplusplus
}
#endif
#endif
