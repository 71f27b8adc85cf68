/*
 * diskcache.c - the node's persistent cache of stored bytes, shared by
 * every process that opens it (doc/STORE.md "Disk cache").
 *
 *   DIR/df11store-v1/lock              OFD byte-range locks (below)
 *   DIR/df11store-v1/blocks/XX/K-I.blk block I of the object with key K
 *   DIR/df11store-v1/meta/NAME         cached manifests (etag line + bytes)
 *
 * A block file is a 48-byte header (magic, key, index, length, XXH3-64 of
 * the data) and the data. Files are written under a temporary name
 * (.tmp-PID-N) and renamed, so a name always holds a whole file; a
 * reader checks everything anyway (a disk can still corrupt it) and
 * removes what fails. Nothing is fsynced: after a power cut a block may be
 * garbage, which its checksum catches.
 *
 * Locks: byte 0 of the lock file is the housekeeping lock (startup clean,
 * eviction), byte 1 + hash(key, index) the fetch lock of one block, so a
 * process that misses a block another process is fetching waits for it
 * and reads it from disk. OFD locks die with their process: a kill -9
 * never leaves a block locked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <xxhash.h>

#include "int.h"

#define BLK_MAGIC "DF11BLK1"
#define BLK_HDR 48

struct diskcache {
    char *root;          /* DIR/df11store-v1 */
    int lock_fd;
    uint64_t limit;
    st_counters *ctr;
    pthread_mutex_t mu;  /* guards total, since_scan */
    uint64_t total;      /* bytes of block files, as last scanned + written */
    uint64_t since_scan;
};

/* Temporary names are PID-N with N unique in the process: two caches open
 * on one folder in one process (two stores) must not pick the same name. */
static atomic_ullong tmp_seq;

static int mkdirs(const char *p)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", p);
    for (char *s = buf + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

uint64_t dc_default_limit(const char *dir)
{
    struct statvfs sv;
    uint64_t gib = 1ull << 30;
    if (statvfs(dir, &sv) != 0)
        return 10 * gib;
    uint64_t size = (uint64_t)sv.f_blocks * sv.f_frsize;
    uint64_t lim = size / 4;
    if (lim > 100 * gib)
        lim = 100 * gib;
    if (lim < gib)
        lim = size / 2 < gib ? size / 2 : gib;
    return lim;
}

static bool lock_range(int fd, uint64_t off, short type, bool wait_ok)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = (off_t)off, .l_len = 1 };
    for (;;) {
        if (fcntl(fd, wait_ok ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0)
            return true;
        if (errno != EINTR)
            return false;
    }
}

static void block_path(const diskcache *dc, char *out, size_t cap, uint64_t khi, uint64_t klo,
                       uint64_t index)
{
    snprintf(out, cap, "%s/blocks/%02x/%016llx%016llx-%llx.blk", dc->root, (unsigned)(khi >> 56),
             (unsigned long long)khi, (unsigned long long)klo, (unsigned long long)index);
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* A temporary file of a process that is gone (or an hour old: its pid
 * may have been reused). */
static bool stale_tmp(const char *name, const struct stat *st)
{
    long pid = strtol(name + 5, NULL, 10);
    if (pid > 0 && pid != getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return true;
    return time(NULL) - st->st_mtime > 3600;
}

typedef struct {
    char *path;
    int64_t mtime_ns;
    uint64_t size;
} file_rec;

static int cmp_rec(const void *a, const void *b)
{
    int64_t x = ((const file_rec *)a)->mtime_ns, y = ((const file_rec *)b)->mtime_ns;
    return x < y ? -1 : x > y;
}

/* Lists every block file; removes stale temporary files on the way.
 * With recs NULL only sums. */
static uint64_t scan(diskcache *dc, file_rec **recs, size_t *nrec)
{
    uint64_t total = 0;
    size_t n = 0, cap = 0;
    file_rec *v = NULL;
    for (int i = 0; i < 256; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/blocks/%02x", dc->root, i);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            struct stat st;
            if (de->d_name[0] == '.' && strncmp(de->d_name, ".tmp-", 5))
                continue;
            if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
                continue;
            if (!strncmp(de->d_name, ".tmp-", 5)) {
                if (stale_tmp(de->d_name, &st))
                    unlinkat(dirfd(d), de->d_name, 0);
                continue;
            }
            if (!ends_with(de->d_name, ".blk"))
                continue;
            total += (uint64_t)st.st_size;
            if (!recs)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                file_rec *nv = realloc(v, cap * sizeof *v);
                if (!nv)
                    continue;
                v = nv;
            }
            size_t pl = strlen(dir) + strlen(de->d_name) + 2;
            char *p = malloc(pl);
            if (!p)
                continue;
            snprintf(p, pl, "%s/%s", dir, de->d_name);
            v[n++] = (file_rec){ p, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
                                 (uint64_t)st.st_size };
        }
        closedir(d);
    }
    if (recs) {
        *recs = v;
        *nrec = n;
    }
    return total;
}

/* Least recently used first (a hit touches the file's mtime) until the
 * cache is at 90% of its limit. One process at a time; the others skip. */
static void evict(diskcache *dc)
{
    if (!lock_range(dc->lock_fd, 0, F_WRLCK, false))
        return;
    file_rec *v = NULL;
    size_t n = 0;
    uint64_t total = scan(dc, &v, &n);
    uint64_t target = dc->limit / 10 * 9;
    if (total > dc->limit) {
        qsort(v, n, sizeof *v, cmp_rec);
        for (size_t i = 0; i < n && total > target; i++) {
            if (unlink(v[i].path) == 0) {
                total -= v[i].size;
                atomic_fetch_add(&dc->ctr->cache_evictions, 1);
            } else if (errno == ENOENT) {
                /* Gone already: another thread of this process evicting at
                 * the same time (the lock is per open file, so it does not
                 * keep them apart). Counting it as still here made both
                 * evict down to the target on their own: often everything. */
                total -= v[i].size;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].path);
    free(v);
    lock_range(dc->lock_fd, 0, F_UNLCK, false);
    pthread_mutex_lock(&dc->mu);
    dc->total = total;
    dc->since_scan = 0;
    pthread_mutex_unlock(&dc->mu);
}

/* Temporary files a dead process left among the cached manifests. */
static void clean_meta(diskcache *dc)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/meta", dc->root);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        struct stat st;
        if (!strncmp(de->d_name, ".tmp-", 5) &&
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && stale_tmp(de->d_name, &st))
            unlinkat(dirfd(d), de->d_name, 0);
    }
    if (d)
        closedir(d);
}

df11_status dc_open(const char *dir, uint64_t limit, st_counters *ctr, diskcache **out,
                    df11_error *err)
{
    diskcache *dc = calloc(1, sizeof *dc);
    size_t rl = strlen(dir) + 32;
    if (!dc || !(dc->root = malloc(rl))) {
        free(dc);
        return st_fail(err, DF11_E_NOMEM, "out of memory");
    }
    snprintf(dc->root, rl, "%s/df11store-v1", dir);
    dc->ctr = ctr;
    dc->lock_fd = -1;
    pthread_mutex_init(&dc->mu, NULL);
    char p[4096];
    int ok = mkdirs(dc->root) == 0;
    snprintf(p, sizeof p, "%s/meta", dc->root);
    ok = ok && mkdirs(p) == 0;
    for (int i = 0; ok && i < 256; i++) {
        snprintf(p, sizeof p, "%s/blocks/%02x", dc->root, i);
        ok = mkdirs(p) == 0;
    }
    snprintf(p, sizeof p, "%s/lock", dc->root);
    if (ok)
        dc->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (!ok || dc->lock_fd < 0) {
        df11_status st = st_fail(err, DF11_E_IO, "%s: cannot set up the cache folder: %s", dir, strerror(errno));
        dc_close(dc);
        return st;
    }
    dc->limit = limit ? limit : dc_default_limit(dir);
    /* Startup: a shared-nothing scan cleans what crashed processes left
     * (temporary files) and learns the size. */
    if (lock_range(dc->lock_fd, 0, F_WRLCK, true)) {
        dc->total = scan(dc, NULL, NULL);
        clean_meta(dc);
        lock_range(dc->lock_fd, 0, F_UNLCK, false);
    }
    if (dc->total > dc->limit)
        evict(dc);
    *out = dc;
    return DF11_OK;
}

void dc_close(diskcache *dc)
{
    if (!dc)
        return;
    if (dc->lock_fd >= 0)
        close(dc->lock_fd);
    pthread_mutex_destroy(&dc->mu);
    free(dc->root);
    free(dc);
}

uint64_t dc_bytes(const diskcache *dc) { return dc ? dc->total : 0; }
uint64_t dc_limit(const diskcache *dc) { return dc ? dc->limit : 0; }

static bool read_full(int fd, void *buf, size_t len, off_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

bool dc_read(diskcache *dc, uint64_t khi, uint64_t klo, uint64_t index, void *buf, size_t len,
             bool has_want, uint64_t want)
{
    char path[4096];
    block_path(dc, path, sizeof path, khi, klo, index);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    struct stat st;
    uint8_t h[BLK_HDR];
    bool good = fstat(fd, &st) == 0 && (uint64_t)st.st_size == BLK_HDR + (uint64_t)len &&
                read_full(fd, h, BLK_HDR, 0) && read_full(fd, buf, len, BLK_HDR);
    if (good) {
        uint64_t f[5];
        memcpy(f, h + 8, sizeof f);
        uint64_t sum = df11_xxh3_64(buf, len);
        good = !memcmp(h, BLK_MAGIC, 8) && f[0] == khi && f[1] == klo && f[2] == index &&
               f[3] == len && f[4] == sum && (!has_want || sum == want);
    }
    if (good) {
        (void)futimens(fd, NULL);   /* LRU: the mtime is the last use */
    } else {
        /* Remove it unless it was replaced meanwhile by a good one. */
        struct stat now;
        if (stat(path, &now) == 0 && now.st_ino == st.st_ino && now.st_dev == st.st_dev)
            unlink(path);
        atomic_fetch_add(&dc->ctr->cache_bad_blocks, 1);
    }
    close(fd);
    return good;
}

static bool write_file(const char *dir_of, const char *final, const void *a, size_t alen,
                       const void *b, size_t blen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/.tmp-%ld-%llu", dir_of, (long)getpid(),
             (unsigned long long)atomic_fetch_add(&tmp_seq, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    const void *parts[2] = { a, b };
    size_t lens[2] = { alen, blen };
    bool ok = true;
    for (int i = 0; i < 2 && ok; i++) {
        const char *p = parts[i];
        size_t left = lens[i];
        while (left && ok) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                ok = false;
            else {
                p += w;
                left -= (size_t)w;
            }
        }
    }
    ok = close(fd) == 0 && ok && rename(tmp, final) == 0;
    if (!ok)
        unlink(tmp);
    return ok;
}

void dc_write(diskcache *dc, uint64_t khi, uint64_t klo, uint64_t index, const void *buf, size_t len)
{
    char path[4096], dir[4096];
    block_path(dc, path, sizeof path, khi, klo, index);
    snprintf(dir, sizeof dir, "%s/blocks/%02x", dc->root, (unsigned)(khi >> 56));
    uint8_t h[BLK_HDR];
    uint64_t f[5] = { khi, klo, index, len, df11_xxh3_64(buf, len) };
    memcpy(h, BLK_MAGIC, 8);
    memcpy(h + 8, f, sizeof f);
    if (!write_file(dir, path, h, sizeof h, buf, len))
        return;
    pthread_mutex_lock(&dc->mu);
    dc->total += BLK_HDR + len;
    dc->since_scan += BLK_HDR + len;
    /* Other processes write too: rescan now and then to see their bytes. */
    bool over = dc->total > dc->limit || dc->since_scan > dc->limit / 8;
    pthread_mutex_unlock(&dc->mu);
    if (over)
        evict(dc);
}

int64_t dc_lock(diskcache *dc, uint64_t khi, uint64_t klo, uint64_t index, int64_t deadline)
{
    uint64_t k[3] = { khi, klo, index };
    int64_t off = 1 + (int64_t)(XXH3_64bits(k, sizeof k) >> 2);
    int64_t nap = 1000000;
    while (!lock_range(dc->lock_fd, (uint64_t)off, F_WRLCK, false)) {
        if (errno != EAGAIN && errno != EACCES)
            return off;   /* locks unsupported here: go on without */
        if (st_now_ns() + nap > deadline)
            return -1;
        st_sleep_ns(nap);
        if (nap < 20000000)
            nap *= 2;
    }
    return off;
}

void dc_unlock(diskcache *dc, int64_t token)
{
    if (token > 0)
        lock_range(dc->lock_fd, (uint64_t)token, F_UNLCK, false);
}

static void meta_path(const diskcache *dc, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/meta/%016llx", dc->root,
             (unsigned long long)XXH3_64bits(name, strlen(name)));
}

bool dc_get_meta(diskcache *dc, const char *name, void **buf, size_t *len, char **etag)
{
    char path[4096];
    meta_path(dc, name, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return false;
    bool ok = false;
    char *data = NULL;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size <= MF_MAX_BYTES &&
        (data = malloc((size_t)st.st_size + 1)) && read_full(fd, data, (size_t)st.st_size, 0)) {
        data[st.st_size] = 0;
        char *nl = memchr(data, '\n', (size_t)st.st_size);
        if (nl) {
            *nl = 0;
            size_t hl = (size_t)(nl + 1 - data);
            *etag = *data ? strdup(data) : NULL;
            *len = (size_t)st.st_size - hl;
            memmove(data, nl + 1, *len + 1);
            *buf = data;
            data = NULL;
            ok = true;
        }
    }
    free(data);
    close(fd);
    return ok;
}

void dc_put_meta(diskcache *dc, const char *name, const void *buf, size_t len, const char *etag)
{
    char path[4096], dir[4096], line[300];
    meta_path(dc, name, path, sizeof path);
    snprintf(dir, sizeof dir, "%s/meta", dc->root);
    int n = snprintf(line, sizeof line, "%s\n", etag && !strchr(etag, '\n') ? etag : "");
    write_file(dir, path, line, (size_t)n, buf, len);
}
