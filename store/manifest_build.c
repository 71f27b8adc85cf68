/*
 * manifest_build.c - the manifest file, written: walk a local store folder
 * (never following symlinks), apply the naming rule, read each .df11
 * header, hash each object's blocks, emit the JSON body and its header
 * line, and write it atomically (df11store_write_manifest).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "int.h"

typedef struct {
    char *path, *object, *target;
    df11store_kind kind;
    uint64_t size, stored_size;
    uint32_t mode;
    int64_t mtime;
    uint32_t mtime_nsec;
    uint8_t sha256[32];
    uint64_t *hashes;   /* NULL: none */
} bentry;

typedef struct {
    bentry *v;
    size_t n, cap;
    uint32_t block_size;
    bool hash;
    const df11store_snapshot *old;
    const df11store_manifest_options *o;
    const char *root_name;
    df11_error *err;
} builder;

static void bentry_free(bentry *b)
{
    free(b->path);
    free(b->object);
    free(b->target);
    free(b->hashes);
}

static bentry *add(builder *b)
{
    if (b->n == b->cap) {
        size_t c = b->cap ? b->cap * 2 : 64;
        bentry *v = realloc(b->v, c * sizeof *v);
        if (!v)
            return NULL;
        b->v = v;
        b->cap = c;
    }
    bentry *e = &b->v[b->n++];
    memset(e, 0, sizeof *e);
    return e;
}

static char *join(const char *a, const char *b)
{
    size_t x = strlen(a), y = strlen(b);
    char *p = malloc(x + y + 2);
    if (!p)
        return NULL;
    memcpy(p, a, x);
    if (x)
        p[x++] = '/';
    memcpy(p + x, b, y + 1);
    return p;
}

/* Our own files and the CLI's temporary outputs are not store entries. */
static bool skip_name(const char *dir, const char *name)
{
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return true;
    if (!*dir && !strncmp(name, DF11STORE_MANIFEST_NAME, strlen(DF11STORE_MANIFEST_NAME)))
        return true;
    /* tools/outfile.c: ".df11.XXXXXX" (mkstemp) while a file is written */
    if (!strncmp(name, ".df11.", 6) && strlen(name) == 12)
        return true;
    return false;
}

typedef struct {
    char **names;
    size_t n;
} name_set;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int set_has(void *ctx, const char *name)
{
    name_set *s = ctx;
    return bsearch(&name, s->names, s->n, sizeof *s->names, cmp_str) != NULL;
}

static df11_status hash_object(builder *b, int fd, const char *disp, bentry *e)
{
    uint64_t nb = (e->stored_size + b->block_size - 1) / b->block_size;
    e->hashes = malloc((nb ? nb : 1) * 8);
    uint8_t *buf = malloc(b->block_size);
    df11_status st = DF11_OK;
    if (!e->hashes || !buf) {
        st = st_fail(b->err, DF11_E_NOMEM, "%s: out of memory", disp);
        goto out;
    }
    for (uint64_t k = 0; k < nb; k++) {
        uint64_t off = k * b->block_size;
        size_t want = (size_t)(e->stored_size - off < b->block_size ? e->stored_size - off : b->block_size);
        size_t got = 0;
        while (got < want) {
            ssize_t r = pread(fd, buf + got, want - got, (off_t)(off + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                st = r < 0 ? st_fail(b->err, DF11_E_IO, "%s: read at %llu: %s", disp,
                                     (unsigned long long)(off + got), strerror(errno))
                           : st_fail(b->err, DF11_E_CHANGED, "%s: shrank while it was hashed", disp);
                goto out;
            }
            got += (size_t)r;
        }
        e->hashes[k] = df11_xxh3_64(buf, want);
    }
    struct stat st2;
    if (fstat(fd, &st2) != 0 || (uint64_t)st2.st_size != e->stored_size ||
        st2.st_mtim.tv_sec != e->mtime || (uint32_t)st2.st_mtim.tv_nsec != e->mtime_nsec)
        st = st_fail(b->err, DF11_E_CHANGED, "%s: changed while it was hashed", disp);
    if (!st && b->o && b->o->progress)
        b->o->progress(b->o->progress_ctx, e->object, e->stored_size, e->stored_size);
out:
    free(buf);
    return st;
}

/* Hashes from the previous manifest, when that listed the same object with
 * the same size and mtime. */
static bool reuse(builder *b, bentry *e)
{
    if (!b->old || b->old->block_size != b->block_size)
        return false;
    const df11store_entry *o = df11store_snapshot_lookup(b->old, e->path);
    if (!o || o->kind != e->kind || !o->object || strcmp(o->object, e->object) ||
        o->stored_size != e->stored_size || o->mtime_sec != e->mtime ||
        o->mtime_nsec != e->mtime_nsec || o->size != e->size)
        return false;
    const entry_priv *x = o->priv;
    if (!x->hashes || (e->kind == DF11STORE_DF11 && memcmp(o->sha256, e->sha256, 32)))
        return false;
    e->hashes = malloc((x->nblocks ? x->nblocks : 1) * 8);
    if (!e->hashes)
        return false;
    memcpy(e->hashes, x->hashes, x->nblocks * 8);
    return true;
}

static df11_status object_entry(builder *b, int dfd, const char *name, const char *rel,
                                const char *shown_rel, bool df11, const struct stat *st)
{
    char disp[PATH_MAX + 64];
    snprintf(disp, sizeof disp, "%s/%s", b->root_name, rel);
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat fst;
    if (fd < 0 || fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
        int e = fd < 0 ? errno : EINVAL;
        if (fd >= 0)
            close(fd);
        return st_fail(b->err, DF11_E_IO, "%s: cannot open: %s", disp, strerror(e));
    }
    (void)st;
    bentry *e = add(b);
    df11_status rc = DF11_OK;
    if (!e) {
        close(fd);
        return st_fail(b->err, DF11_E_NOMEM, "out of memory");
    }
    e->path = strdup(shown_rel);
    e->object = strdup(rel);
    e->kind = df11 ? DF11STORE_DF11 : DF11STORE_FILE;
    e->stored_size = e->size = (uint64_t)fst.st_size;
    e->mode = fst.st_mode & 07777;
    e->mtime = fst.st_mtim.tv_sec;
    e->mtime_nsec = (uint32_t)fst.st_mtim.tv_nsec;
    if (!e->path || !e->object) {
        rc = st_fail(b->err, DF11_E_NOMEM, "out of memory");
        goto out;
    }
    if (df11) {
        uint8_t hdr[DF11_HEADER_BYTES];
        ssize_t r = pread(fd, hdr, sizeof hdr, 0);
        df11_header_info hi;
        if (r < 0) {
            rc = st_fail(b->err, DF11_E_IO, "%s: read: %s", disp, strerror(errno));
            goto out;
        }
        if ((rc = df11_parse_header(hdr, (size_t)r, disp, &hi, b->err)))
            goto out;
        e->size = hi.original_size;
        memcpy(e->sha256, hi.original_sha256, 32);
    }
    if (b->hash && !reuse(b, e))
        rc = hash_object(b, fd, disp, e);
out:
    close(fd);
    return rc;
}

static df11_status walk(builder *b, int dfd, const char *rel)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return st_fail(b->err, DF11_E_IO, "%s/%s: cannot list: %s", b->root_name, rel, strerror(errno));
    }
    name_set set = { 0 };
    size_t cap = 0;
    df11_status rc = DF11_OK;
    struct dirent *de;
    while ((errno = 0, de = readdir(d))) {
        if (skip_name(rel, de->d_name))
            continue;
        if (set.n == cap) {
            cap = cap ? cap * 2 : 32;
            char **v = realloc(set.names, cap * sizeof *v);
            if (!v) {
                rc = st_fail(b->err, DF11_E_NOMEM, "out of memory");
                goto out;
            }
            set.names = v;
        }
        if (!(set.names[set.n] = strdup(de->d_name))) {
            rc = st_fail(b->err, DF11_E_NOMEM, "out of memory");
            goto out;
        }
        set.n++;
    }
    if (errno) {
        rc = st_fail(b->err, DF11_E_IO, "%s/%s: cannot list: %s", b->root_name, rel, strerror(errno));
        goto out;
    }
    if (set.n)      /* an empty folder has no array: qsort(NULL, 0) is undefined */
        qsort(set.names, set.n, sizeof *set.names, cmp_str);
    for (size_t i = 0; i < set.n && !rc; i++) {
        const char *name = set.names[i];
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue;   /* removed meanwhile */
            rc = st_fail(b->err, DF11_E_IO, "%s/%s/%s: %s", b->root_name, rel, name, strerror(errno));
            break;
        }
        char *crel = join(rel, name);
        if (!crel) {
            rc = st_fail(b->err, DF11_E_NOMEM, "out of memory");
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            bentry *e = add(b);
            if (!e) {
                rc = st_fail(b->err, DF11_E_NOMEM, "out of memory");
            } else {
                e->path = strdup(crel);
                e->kind = DF11STORE_DIR;
                e->mode = st.st_mode & 07777;
                e->mtime = st.st_mtim.tv_sec;
                e->mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
                int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (!e->path)
                    rc = st_fail(b->err, DF11_E_NOMEM, "out of memory");
                else if (sub < 0)
                    rc = st_fail(b->err, DF11_E_IO, "%s/%s: cannot open: %s", b->root_name, crel, strerror(errno));
                if (!rc)
                    rc = walk(b, sub, crel);
                else if (sub >= 0)
                    close(sub);
            }
        } else if (S_ISLNK(st.st_mode)) {
            char tgt[PATH_MAX];
            ssize_t k = readlinkat(dirfd(d), name, tgt, sizeof tgt - 1);
            bentry *e = k > 0 ? add(b) : NULL;
            if (k <= 0) {
                rc = st_fail(b->err, DF11_E_IO, "%s/%s: readlink: %s", b->root_name, crel,
                             k < 0 ? strerror(errno) : "empty");
            } else if (!e) {
                rc = st_fail(b->err, DF11_E_NOMEM, "out of memory");
            } else {
                tgt[k] = 0;
                e->path = strdup(crel);
                e->target = strdup(tgt);
                e->kind = DF11STORE_LINK;
                e->size = (uint64_t)k;
                e->mode = 0777;
                e->mtime = st.st_mtim.tv_sec;
                e->mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
                if (!e->path || !e->target)
                    rc = st_fail(b->err, DF11_E_NOMEM, "out of memory");
            }
        } else if (S_ISREG(st.st_mode)) {
            char shown[NAME_MAX + 1];
            df11store_name_rule r = df11store_shown_name(name, shown, sizeof shown, set_has, &set);
            if (r == DF11STORE_NAME_SAME) {
                rc = object_entry(b, dirfd(d), name, crel, crel, false, &st);
            } else if (r == DF11STORE_NAME_DF11) {
                char *srel = join(rel, shown);
                rc = srel ? object_entry(b, dirfd(d), name, crel, srel, true, &st)
                          : st_fail(b->err, DF11_E_NOMEM, "out of memory");
                free(srel);
            }
        }
        free(crel);
    }
out:
    for (size_t i = 0; i < set.n; i++)
        free(set.names[i]);
    free(set.names);
    closedir(d);
    return rc;
}

static int cmp_bentry(const void *a, const void *b)
{
    return strcmp(((const bentry *)a)->path, ((const bentry *)b)->path);
}

static int cmp_path_key(const void *key, const void *e)
{
    return strcmp(key, ((const bentry *)e)->path);
}

/* A folder's mtime is the newest of its entries' (its own when empty), so
 * that writing the manifest, or a temporary file come and gone, does not
 * change the manifest. Children sort after their folder: walking back,
 * every folder is final before its own folder sees it. */
static void folder_times(builder *b)
{
    bool *seen = calloc(b->n ? b->n : 1, 1);
    if (!seen)
        return;
    for (size_t i = b->n; i-- > 1;) {
        bentry *e = &b->v[i];
        const char *slash = strrchr(e->path, '/');
        char *pp = strndup(e->path, slash ? (size_t)(slash - e->path) : 0);
        bentry *p = pp ? bsearch(pp, b->v, b->n, sizeof *b->v, cmp_path_key) : NULL;
        free(pp);
        if (!p)
            continue;
        size_t pi = (size_t)(p - b->v);
        if (!seen[pi] || e->mtime > p->mtime || (e->mtime == p->mtime && e->mtime_nsec > p->mtime_nsec)) {
            p->mtime = e->mtime;
            p->mtime_nsec = e->mtime_nsec;
        }
        seen[pi] = true;
    }
    free(seen);
}

static const char *kind_name(df11store_kind k)
{
    switch (k) {
    case DF11STORE_DIR: return "dir";
    case DF11STORE_FILE: return "file";
    case DF11STORE_LINK: return "link";
    default: return "df11";
    }
}

char *mf_wrap(const char *body, size_t body_len, size_t *out_len)
{
    char head[80];
    int h = snprintf(head, sizeof head, MF_MAGIC " %d %zu %016llx\n", MF_VERSION, body_len,
                     (unsigned long long)XXH3_64bits(body, body_len));
    char *out = malloc((size_t)h + body_len + 1);
    if (!out)
        return NULL;
    memcpy(out, head, (size_t)h);
    memcpy(out + h, body, body_len);
    out[h + body_len] = 0;
    *out_len = (size_t)h + body_len;
    return out;
}

df11_status mf_build(const char *store_dir, uint32_t block_size, bool hash,
                     const df11store_snapshot *old, const df11store_manifest_options *o,
                     char **out, size_t *out_len, size_t *entries, df11_error *err)
{
    builder b = { .block_size = block_size, .hash = hash, .old = old, .o = o,
                  .root_name = store_dir, .err = err };
    *out = NULL;
    int dfd = open(store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (dfd < 0 || fstat(dfd, &st) != 0) {
        int e = errno;
        if (dfd >= 0)
            close(dfd);
        return st_fail(err, DF11_E_IO, "%s: cannot open store folder: %s", store_dir, strerror(e));
    }
    bentry *root = add(&b);
    df11_status rc = DF11_OK;
    if (!root || !(root->path = strdup(""))) {
        close(dfd);
        rc = st_fail(err, DF11_E_NOMEM, "out of memory");
        goto done;
    }
    root->kind = DF11STORE_DIR;
    root->mode = st.st_mode & 07777;
    root->mtime = st.st_mtim.tv_sec;
    root->mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
    if ((rc = walk(&b, dfd, "")))
        goto done;
    qsort(b.v, b.n, sizeof *b.v, cmp_bentry);
    /* Two stored names shown under one name (X.df11 and X.safetensors.df11n):
     * the first in stored-name order wins, as the walk saw them. */
    size_t w = 0;
    for (size_t i = 0; i < b.n; i++) {
        if (w && !strcmp(b.v[w - 1].path, b.v[i].path)) {
            bentry_free(&b.v[i]);
            continue;
        }
        b.v[w++] = b.v[i];
    }
    b.n = w;
    folder_times(&b);
    sbuf sb = { 0 };
    sb_printf(&sb, "{\"format\":\"df11-manifest\",\"version\":%d,\"block_size\":%u,\"entries\":[",
              MF_VERSION, block_size);
    for (size_t i = 0; i < b.n; i++) {
        bentry *e = &b.v[i];
        sb_puts(&sb, i ? ",\n{\"path\":" : "\n{\"path\":");
        sb_json_str(&sb, e->path);
        sb_printf(&sb, ",\"kind\":\"%s\"", kind_name(e->kind));
        if (e->object) {
            sb_puts(&sb, ",\"object\":");
            sb_json_str(&sb, e->object);
        }
        if (e->target) {
            sb_puts(&sb, ",\"target\":");
            sb_json_str(&sb, e->target);
        }
        sb_printf(&sb, ",\"size\":%llu,\"stored_size\":%llu,\"mode\":%u,\"mtime\":%lld,\"mtime_nsec\":%u",
                  (unsigned long long)e->size, (unsigned long long)e->stored_size, e->mode,
                  (long long)e->mtime, e->mtime_nsec);
        if (e->kind == DF11STORE_DF11) {
            sb_puts(&sb, ",\"sha256\":\"");
            for (int k = 0; k < 32; k++)
                sb_printf(&sb, "%02x", e->sha256[k]);
            sb_puts(&sb, "\"");
        }
        if (e->hashes) {
            uint64_t nb = (e->stored_size + block_size - 1) / block_size;
            sb_puts(&sb, ",\"blocks\":\"");
            for (uint64_t k = 0; k < nb; k++)
                sb_printf(&sb, "%016llx", (unsigned long long)e->hashes[k]);
            sb_puts(&sb, "\"");
        }
        sb_puts(&sb, "}");
    }
    sb_puts(&sb, "\n]}\n");
    if (sb.oom || !(*out = mf_wrap(sb.buf, sb.len, out_len)))
        rc = st_fail(err, DF11_E_NOMEM, "out of memory");
    free(sb.buf);
    if (entries)
        *entries = b.n;
done:
    for (size_t i = 0; i < b.n; i++)
        bentry_free(&b.v[i]);
    free(b.v);
    return rc;
}

static df11_status write_atomic(const char *dir, const char *name, const void *buf, size_t len,
                                df11_error *err)
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/%s.XXXXXX", dir, name);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return st_fail(err, DF11_E_IO, "%s: cannot create a temporary file: %s", dst, strerror(errno));
    const char *p = buf;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return st_fail(err, DF11_E_IO, "%s: write: %s", tmp, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, 0644) != 0 || fdatasync(fd) != 0 || close(fd) != 0 || rename(tmp, dst) != 0) {
        int e = errno;
        unlink(tmp);
        return st_fail(err, DF11_E_IO, "%s: cannot write: %s", dst, strerror(e));
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return DF11_OK;
}

static df11store_snapshot *load_old(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, DF11STORE_MANIFEST_NAME);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return NULL;
    df11store_snapshot *snap = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size <= MF_MAX_BYTES) {
        char *buf = malloc((size_t)st.st_size + 1);
        if (buf && pread(fd, buf, (size_t)st.st_size, 0) == st.st_size)
            (void)mf_parse(buf, (size_t)st.st_size, path, &snap, NULL);
        free(buf);
    }
    close(fd);
    return snap;
}

df11_status df11store_write_manifest_ex(const char *store_dir, const df11store_manifest_options *o,
                                        size_t *entries, df11_error *err)
{
    if (!store_dir || !*store_dir)
        return st_fail(err, DF11_E_ARG, "df11store_write_manifest: no store folder");
    uint32_t bs = o && o->block_size ? o->block_size : DF11STORE_BLOCK_SIZE_DEFAULT;
    if (bs < 65536 || bs > (64u << 20) || (bs & (bs - 1)))
        return st_fail(err, DF11_E_ARG, "block size %u is not a power of two from 64 KiB to 64 MiB", bs);
    df11store_snapshot *old = o && o->rehash ? NULL : load_old(store_dir);
    char *buf;
    size_t len;
    df11_status rc = mf_build(store_dir, bs, true, old, o, &buf, &len, entries, err);
    df11store_snapshot_put(old);
    if (rc)
        return rc;
    rc = write_atomic(store_dir, DF11STORE_MANIFEST_NAME, buf, len, err);
    free(buf);
    return rc;
}

df11_status df11store_write_manifest(const char *store_dir, df11_error *err)
{
    return df11store_write_manifest_ex(store_dir, NULL, NULL, err);
}
