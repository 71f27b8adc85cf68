/* remote.c - a STORE behind libdf11store: an http(s):// or s3:// origin, or
 * a local folder read through the on-disk cache (-o cache_dir).
 *
 * The tree comes from the store's manifest, one snapshot at a time; a
 * backing path is the mounted path. These functions answer the same
 * questions as store_path.c and vfile.c answer for a plain local folder -
 * stat, list, readlink, the header's size, the bytes - from the current
 * snapshot, so inode.c and its replacement rules work unchanged: a file
 * whose manifest entry changed (another object, size, mtime or SHA-256) is
 * another version, with a new inode; handles opened before keep reading the
 * version they opened (its source holds what it needs). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "fs.h"

static df11store *S;

int remote_active(void) { return S != NULL; }
df11store *remote_store(void) { return S; }

int remote_open(const char *url, const df11store_options *o, char *why, size_t why_len)
{
    df11_error err;
    if (df11store_open(url, o, &S, &err) != DF11_OK) {
        snprintf(why, why_len, "%s", err.message);
        S = NULL;
        return -1;
    }
    return 0;
}

void remote_close(void)
{
    df11store_close(S);
    S = NULL;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* What lstat of the backing object would say. The identity (st_ino with
 * st_dev 0, mtime, size) changes whenever the entry names another version:
 * another object, size, mtime or original SHA-256. */
static void entry_stat(const df11store_entry *e, struct stat *st)
{
    memset(st, 0, sizeof *st);
    uint64_t h = hash_bytes(1469598103934665603ull, e->path, strlen(e->path) + 1);
    if (e->object)
        h = hash_bytes(h, e->object, strlen(e->object));
    h = hash_bytes(h, e->sha256, sizeof e->sha256);
    st->st_ino = (ino_t)(h | 1);
    st->st_uid = getuid();
    st->st_gid = getgid();
    st->st_mtim.tv_sec = e->mtime_sec;
    st->st_mtim.tv_nsec = e->mtime_nsec;
    st->st_atim = st->st_ctim = st->st_mtim;
    st->st_blksize = 4096;
    switch (e->kind) {
    case DF11STORE_DIR:
        st->st_mode = S_IFDIR | (e->mode & 07777);
        st->st_nlink = 2;
        st->st_size = 4096;
        break;
    case DF11STORE_LINK:
        st->st_mode = S_IFLNK | 0777;
        st->st_nlink = 1;
        st->st_size = e->link_target ? (off_t)strlen(e->link_target) : 0;
        break;
    default:
        /* The stored object's size: for a DF11 entry inode.c shows the
         * original size and keeps st_blocks, so du counts stored bytes. */
        st->st_mode = S_IFREG | (e->mode & 07777);
        st->st_nlink = 1;
        st->st_size = (off_t)e->stored_size;
        break;
    }
    st->st_blocks = (blkcnt_t)((st->st_size + 511) / 512);
}

/* Runs fn on the entry at path in a snapshot held for the call. */
#define WITH_ENTRY(path, e, body)                                            \
    do {                                                                      \
        df11store_snapshot *snap_ = df11store_snapshot_get(S);                \
        const df11store_entry *e = snap_ ? df11store_snapshot_lookup(snap_, path) : NULL; \
        body;                                                                 \
        df11store_snapshot_put(snap_);                                        \
    } while (0)

int remote_stat(const char *path, struct stat *st, int *df11)
{
    int rc = -ENOENT;
    WITH_ENTRY(path, e, {
        if (e) {
            entry_stat(e, st);
            if (df11)
                *df11 = e->kind == DF11STORE_DF11;
            rc = 0;
        }
    });
    return rc;
}

int remote_probe(const char *path, struct stat *st, uint64_t *orig_size)
{
    int rc = -ENOENT;
    WITH_ENTRY(path, e, {
        if (e && e->kind == DF11STORE_DF11) {
            entry_stat(e, st);
            *orig_size = e->size;
            rc = 0;
        }
    });
    return rc;
}

int remote_readlink(const char *path, char *buf, size_t size)
{
    int rc = -ENOENT;
    WITH_ENTRY(path, e, {
        if (e && e->kind == DF11STORE_LINK && e->link_target) {
            size_t n = strlen(e->link_target);
            if (n >= size)
                n = size - 1;
            memcpy(buf, e->link_target, n);
            buf[n] = '\0';
            rc = 0;
        } else if (e) {
            rc = -EINVAL;
        }
    });
    return rc;
}

static mode_t type_of(const df11store_entry *e)
{
    return e->kind == DF11STORE_DIR ? S_IFDIR : e->kind == DF11STORE_LINK ? S_IFLNK : S_IFREG;
}

int remote_list(const char *dir, struct dir_list *out, int (*add)(struct dir_list *, size_t *,
                const char *, size_t, ino_t, mode_t))
{
    int rc = -ENOENT;
    size_t cap = 0;
    struct dir_list dl = { 0 };
    WITH_ENTRY(dir, d, {
        if (!d) {
            rc = -ENOENT;
        } else if (d->kind != DF11STORE_DIR) {
            rc = -ENOTDIR;
        } else {
            rc = add(&dl, &cap, ".", 1, 1, S_IFDIR);
            if (!rc)
                rc = add(&dl, &cap, "..", 2, 1, S_IFDIR);
            for (size_t i = d->child; !rc && i != DF11STORE_NONE;) {
                const df11store_entry *c = df11store_snapshot_at(snap_, i);
                if (!c)
                    break;
                if (!(!*dir && !strcmp(c->name, FS_STATS_NAME))) {
                    struct stat st;
                    entry_stat(c, &st);
                    rc = add(&dl, &cap, c->name, strlen(c->name), st.st_ino, type_of(c));
                }
                i = c->sibling;
            }
        }
    });
    if (rc) {
        dir_list_free(&dl);
        return rc;
    }
    *out = dl;
    return 0;
}

int remote_source(const char *path, const struct fs_ident *want, df11_source *src)
{
    int rc = -ESTALE;
    WITH_ENTRY(path, e, {
        if (e && (e->kind == DF11STORE_DF11 || e->kind == DF11STORE_FILE)) {
            struct stat st;
            struct fs_ident id;
            entry_stat(e, &st);
            fs_ident_of(&st, &id);
            if (fs_ident_eq(&id, want)) {
                df11_error err;
                if (df11store_source(S, e, src, &err) == DF11_OK) {
                    rc = 0;
                } else {
                    if (fs_log_first_time(fs_hash_str(3, path)))
                        fs_log(LOG_ERR, "%s: cannot open: %s", path, err.message);
                    rc = err.code == DF11_E_NOMEM ? -ENOMEM : -EIO;
                }
            }
        }
    });
    return rc;
}

int remote_refresh(void)
{
    int changed = 0;
    df11_error err;
    if (df11store_refresh(S, &changed, &err) != DF11_OK) {
        if (fs_log_first_time(fs_hash_str(4, err.message)))
            fs_log(LOG_WARNING, "manifest refresh failed (serving the version we have): %s",
                   err.message);
        return 0;
    }
    if (changed)
        fs_log(LOG_INFO, "the store's manifest changed; new opens see the new version");
    return changed;
}
