/* vfile.c - opened versions of .df11 backing files, and the descriptors
 * they hold.
 *
 * Looking a file up costs no descriptor: vfile_probe reads the 128-byte
 * header (the original size) and closes. A vfile - a df11_reader on one
 * descriptor, pinned to the exact backing inode - exists only while a
 * handle is open on it, plus a short list of idle ones kept so that the
 * open/close cycles of loaders do not re-read indexes and drop cached
 * chunks. So `ls -l` of 20,000 files holds no descriptors at all, and the
 * daemon holds at most (open handles + idle_max) of them.
 *
 * Open handles keep their own reference, so a reader that opened the file
 * before it was replaced keeps decoding the old inode to the end. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "fs.h"

static atomic_uint_fast64_t next_vfile_id = 1;

void fs_ident_of(const struct stat *st, struct fs_ident *id)
{
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->mtime = st->st_mtim;
    id->size = st->st_size;
}

int fs_ident_eq(const struct fs_ident *a, const struct fs_ident *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Descriptor exhaustion is the daemon's problem, not the file's: it is
 * reported as such and never logged or counted as corruption. */
static int is_fd_limit(int e) { return e == EMFILE || e == ENFILE || e == ENOMEM; }

static int errno_of(df11_status s)
{
    switch (s) {
    case DF11_E_NOMEM: return ENOMEM;
    case DF11_E_ARG: return EINVAL;
    default: return EIO;
    }
}

/* Opens STORE/bpath for reading as a .df11 backing file (a regular file,
 * no symlink anywhere in the path) and fstats it. */
static int open_backing(const char *bpath, struct stat *st)
{
    int fd = store_open(bpath, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return fd;
    int e = fstat(fd, st) != 0 ? errno : !S_ISREG(st->st_mode) ? ENOENT : 0;
    if (e) {    /* st is only read once fstat has filled it */
        close(fd);
        return -e;
    }
    return fd;
}

int vfile_probe(const char *bpath, const char *vname, struct stat *st, uint64_t *orig_size)
{
    if (remote_active())
        return remote_probe(bpath, st, orig_size);
    int fd = open_backing(bpath, st);
    if (fd < 0)
        return fd;
    uint8_t h[DF11_HEADER_BYTES];
    ssize_t n;
    do
        n = pread(fd, h, sizeof h, 0);
    while (n < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (n < 0) {
        fs_log(LOG_ERR, "%s: cannot read the header: %s", vname, strerror(e));
        return -EIO;
    }
    df11_header_info hi;
    df11_error err;
    if (df11_parse_header(h, (size_t)n, vname, &hi, &err) != DF11_OK) {
        fs_log(LOG_ERR, "%s: %s", vname, err.message);
        STAT_ADD(errors, 1);
        return -EIO;
    }
    *orig_size = hi.original_size;
    return 0;
}

/* Every live vfile (refs > 0) and the idle ones (refs == 0, newest first),
 * so a second open of the same version shares the reader. */
static struct {
    pthread_mutex_t mu;
    struct vfile *live;
    struct vfile *idle_head, *idle_tail;
    unsigned idle, idle_max;
} V = { .mu = PTHREAD_MUTEX_INITIALIZER, .idle_max = 64 };

void vfile_set_idle_max(unsigned n) { V.idle_max = n; }

static void vfile_free(struct vfile *vf)
{
    cache_drop_file(vf->id);
    df11_close(vf->r);
    free(vf->name);
    free(vf);
}

static void list_del(struct vfile **head, struct vfile *vf)
{
    for (struct vfile **p = head; *p; p = &(*p)->next)
        if (*p == vf) {
            *p = vf->next;
            break;
        }
    vf->next = NULL;
}

static void idle_del(struct vfile *vf)
{
    if (vf->iprev) vf->iprev->inext = vf->inext; else V.idle_head = vf->inext;
    if (vf->inext) vf->inext->iprev = vf->iprev; else V.idle_tail = vf->iprev;
    vf->iprev = vf->inext = NULL;
    V.idle--;
}

static struct vfile *find_locked(const struct fs_ident *id)
{
    for (struct vfile *v = V.live; v; v = v->next)
        if (fs_ident_eq(&v->ident, id))
            return v;
    return NULL;
}

/* Takes a reference to a vfile under the lock, out of the idle list. */
static struct vfile *take_locked(struct vfile *v)
{
    if (atomic_fetch_add(&v->refs, 1) == 0)
        idle_del(v);
    return v;
}

/* The reader over a remote store's object, when it still is version want. */
static int open_remote(const char *bpath, const struct fs_ident *want, const char *vname,
                       df11_reader **r)
{
    df11_source src;
    int rc = remote_source(bpath, want, &src);
    if (rc)
        return rc;
    df11_error err;
    if (df11_open_source(&src, r, &err) != DF11_OK) {
        fs_log(LOG_ERR, "%s: cannot open: %s", vname, err.message);
        STAT_ADD(errors, 1);
        return -errno_of(err.code);
    }
    return 0;
}

static int vfile_wrap(df11_reader *r, const struct fs_ident *id, const char *vname,
                      struct vfile **out)
{
    struct vfile *vf = calloc(1, sizeof *vf);
    char *name = strdup(vname);
    if (!vf || !name) {
        free(vf);
        free(name);
        df11_close(r);
        return -ENOMEM;
    }
    atomic_init(&vf->refs, 1);
    atomic_init(&vf->seq_end, 0);
    vf->id = atomic_fetch_add(&next_vfile_id, 1);
    vf->r = r;
    vf->ident = *id;
    vf->size = df11_original_size(r);
    vf->nchunks = df11_chunk_count(r);
    vf->name = name;
    *out = vf;
    return 0;
}

static int open_new(const char *bpath, const struct fs_ident *want, const char *vname,
                    struct vfile **out)
{
    if (remote_active()) {
        df11_reader *r = NULL;
        int rc = open_remote(bpath, want, vname, &r);
        if (rc)
            return rc;
        return vfile_wrap(r, want, vname, out);
    }
    struct stat st;
    int fd = open_backing(bpath, &st);
    if (fd < 0) {
        if (fd == -ENOENT || fd == -ELOOP)
            return -ESTALE;     /* gone or replaced by something else */
        if (!is_fd_limit(-fd))
            fs_log(LOG_ERR, "%s: cannot open: %s", vname, strerror(-fd));
        return fd;
    }
    struct fs_ident id;
    fs_ident_of(&st, &id);
    if (!fs_ident_eq(&id, want)) {
        close(fd);
        return -ESTALE;
    }
    df11_source src;
    df11_error err;
    df11_reader *r = NULL;
    df11_status s = df11_source_fd(fd, vname, &src, &err);
    if (s != DF11_OK)
        close(fd);
    else
        s = df11_open_source(&src, &r, &err);
    if (s != DF11_OK) {
        fs_log(LOG_ERR, "%s: cannot open: %s", vname, err.message);
        STAT_ADD(errors, 1);
        return -errno_of(s);
    }
    return vfile_wrap(r, &id, vname, out);
}

int vfile_get(const char *bpath, const struct fs_ident *want, const char *vname,
              struct vfile **out)
{
    /* A new open must find that version still at its name (removed or
     * replaced: ESTALE, and the kernel looks the name up again), even when
     * an older handle keeps the version open. */
    struct stat st;
    struct fs_ident id;
    int rc = bstat(bpath, &st);
    if (rc)
        return rc == -ENOENT || rc == -ELOOP || rc == -ENOTDIR ? -ESTALE : rc;
    fs_ident_of(&st, &id);
    if (!fs_ident_eq(&id, want))
        return -ESTALE;
    pthread_mutex_lock(&V.mu);
    struct vfile *v = find_locked(want);
    if (v) {
        *out = take_locked(v);
        pthread_mutex_unlock(&V.mu);
        return 0;
    }
    pthread_mutex_unlock(&V.mu);
    struct vfile *nv;
    rc = open_new(bpath, want, vname, &nv);
    if (rc == -EMFILE || rc == -ENFILE) {
        vfile_drop_idle();      /* idle files hold descriptors: give them back */
        rc = open_new(bpath, want, vname, &nv);
    }
    if (rc)
        return rc;
    pthread_mutex_lock(&V.mu);
    v = find_locked(want);      /* another open won the race: share its */
    if (v) {
        *out = take_locked(v);
        pthread_mutex_unlock(&V.mu);
        vfile_free(nv);
        return 0;
    }
    nv->next = V.live;
    V.live = nv;
    *out = nv;
    pthread_mutex_unlock(&V.mu);
    return 0;
}

struct vfile *vfile_ref(struct vfile *vf)
{
    if (vf)
        atomic_fetch_add(&vf->refs, 1);
    return vf;
}

void vfile_unref(struct vfile *vf)
{
    if (!vf)
        return;
    pthread_mutex_lock(&V.mu);
    if (atomic_fetch_sub(&vf->refs, 1) != 1) {
        pthread_mutex_unlock(&V.mu);
        return;
    }
    /* Last reference: keep it idle, newest first; close the oldest idle
     * one past idle_max. */
    vf->inext = V.idle_head;
    vf->iprev = NULL;
    if (V.idle_head) V.idle_head->iprev = vf; else V.idle_tail = vf;
    V.idle_head = vf;
    V.idle++;
    struct vfile *drop = NULL;
    if (V.idle > V.idle_max) {
        drop = V.idle_tail;
        idle_del(drop);
        list_del(&V.live, drop);
    }
    pthread_mutex_unlock(&V.mu);
    if (drop)
        vfile_free(drop);
}

/* Closes every idle vfile (at exit, and when descriptors run short). */
void vfile_drop_idle(void)
{
    for (;;) {
        pthread_mutex_lock(&V.mu);
        struct vfile *drop = V.idle_tail;
        if (drop) {
            idle_del(drop);
            list_del(&V.live, drop);
        }
        pthread_mutex_unlock(&V.mu);
        if (!drop)
            return;
        vfile_free(drop);
    }
}
