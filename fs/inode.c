/* inode.c - the inode table: inode numbers handed to the kernel, their
 * lookup counts, and what each one stands for in STORE.
 *
 * Inode numbers come from a counter and are never reused. A node is found
 * by number (kernel requests) or by mirrored path (lookups). When the kind
 * of file behind a path changes, the path gets a new node; when only the
 * contents change (a .df11 replaced by rename), the node keeps its number,
 * switches to a vfile of the new backing file and is marked stale so the
 * next open drops the kernel's cached pages. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "fs.h"

struct node {
    uint64_t ino;
    uint64_t nlookup;
    enum node_kind kind;
    char *vpath;            /* mirrored path; "" for the root */
    char *bpath;            /* backing path relative to STORE */
    struct stat bst;        /* last lstat of the backing file */
    struct fs_ident ident;  /* identity of the backing file last seen */
    struct vfile *vf;       /* NK_DF11: the current version */
    int stale;              /* the kernel may cache an older version */
    int in_path;            /* reachable through the path table */
    struct node *inext, *pnext;
};

static struct {
    pthread_mutex_t mu;
    struct node **by_ino, **by_path;
    size_t nb, count;
    uint64_t next_ino;
    struct node *root;
} T = { .mu = PTHREAD_MUTEX_INITIALIZER };

static size_t hash_ino(uint64_t ino) { return (size_t)(ino * 0x9E3779B97F4A7C15ull >> 20) & (T.nb - 1); }

static size_t hash_path(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32)) & (T.nb - 1);
}

static struct node *find_ino(uint64_t ino)
{
    for (struct node *n = T.by_ino[hash_ino(ino)]; n; n = n->inext)
        if (n->ino == ino)
            return n;
    return NULL;
}

static struct node *find_path(const char *vpath)
{
    for (struct node *n = T.by_path[hash_path(vpath)]; n; n = n->pnext)
        if (!strcmp(n->vpath, vpath))
            return n;
    return NULL;
}

static void path_unlink(struct node *n)
{
    if (!n->in_path)
        return;
    struct node **p = &T.by_path[hash_path(n->vpath)];
    while (*p && *p != n)
        p = &(*p)->pnext;
    if (*p)
        *p = n->pnext;
    n->in_path = 0;
}

static void grow(void)
{
    size_t nb = T.nb * 2;
    struct node **bi = calloc(nb, sizeof *bi), **bp = calloc(nb, sizeof *bp);
    if (!bi || !bp) {
        free(bi);
        free(bp);
        return;
    }
    struct node **oi = T.by_ino, **op = T.by_path;
    size_t on = T.nb;
    T.by_ino = bi;
    T.by_path = bp;
    T.nb = nb;
    for (size_t i = 0; i < on; i++) {
        for (struct node *n = oi[i], *next; n; n = next) {
            next = n->inext;
            n->inext = bi[hash_ino(n->ino)];
            bi[hash_ino(n->ino)] = n;
            if (n->in_path) {
                n->pnext = bp[hash_path(n->vpath)];
                bp[hash_path(n->vpath)] = n;
            }
        }
    }
    free(oi);
    free(op);           /* its chains were rebuilt from the ino table */
}

static struct node *node_new(enum node_kind kind, const char *vpath, const char *bpath)
{
    struct node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->vpath = strdup(vpath);
    n->bpath = strdup(bpath);
    if (!n->vpath || !n->bpath) {
        free(n->vpath);
        free(n->bpath);
        free(n);
        return NULL;
    }
    n->kind = kind;
    n->ino = T.next_ino++;
    if (T.count + 1 > T.nb)
        grow();
    n->inext = T.by_ino[hash_ino(n->ino)];
    T.by_ino[hash_ino(n->ino)] = n;
    n->pnext = T.by_path[hash_path(vpath)];
    T.by_path[hash_path(vpath)] = n;
    n->in_path = 1;
    T.count++;
    return n;
}

static void node_free(struct node *n)
{
    vfile_unref(n->vf);
    free(n->vpath);
    free(n->bpath);
    free(n);
}

int inode_init(void)
{
    T.nb = 1024;
    T.by_ino = calloc(T.nb, sizeof *T.by_ino);
    T.by_path = calloc(T.nb, sizeof *T.by_path);
    if (!T.by_ino || !T.by_path)
        return -ENOMEM;
    T.next_ino = FS_ROOT_INO;
    T.root = node_new(NK_DIR, "", "");
    T.next_ino = FS_STATS_INO + 1;
    if (!T.root)
        return -ENOMEM;
    T.root->nlookup = 1;
    return bstat("", &T.root->bst);
}

void inode_destroy(void)
{
    for (size_t i = 0; T.by_ino && i < T.nb; i++) {
        for (struct node *n = T.by_ino[i], *next; n; n = next) {
            next = n->inext;
            node_free(n);
        }
    }
    free(T.by_ino);
    free(T.by_path);
    T.by_ino = T.by_path = NULL;
}

static void stats_attr(struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = FS_STATS_INO;
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    st->st_mtim = T.root->bst.st_mtim;
    st->st_ctim = T.root->bst.st_ctim;
    st->st_atim = T.root->bst.st_atim;
    /* size 0: it is served with direct_io, so the kernel reads it anyway */
}

static void fill_attr(const struct node *n, struct stat *st)
{
    *st = n->bst;
    st->st_ino = n->ino;
    if (n->kind == NK_DF11) {
        st->st_size = (off_t)n->vf->size;
        st->st_blocks = (blkcnt_t)((n->vf->size + 511) / 512);
    }
}

/* Points node n at a new backing state; returns the vfile to release
 * (outside the lock). Consumes the caller's reference to vf. */
static struct vfile *node_update(struct node *n, const struct stat *st, struct vfile *vf)
{
    struct fs_ident id;
    fs_ident_of(st, &id);
    struct vfile *old = NULL;
    if (n->kind == NK_DF11) {
        if (n->vf == vf) {
            old = vf;           /* the caller's extra reference */
        } else {
            if (n->vf) {
                n->stale = 1;
                STAT_ADD(replacements, 1);
            }
            old = n->vf;
            n->vf = vf;
        }
    } else if (n->kind == NK_REG && n->ident.ino && !fs_ident_eq(&n->ident, &id)) {
        n->stale = 1;
        STAT_ADD(replacements, 1);
    }
    n->ident = id;
    n->bst = *st;
    return old;
}

/* A vfile for the backing file described by st: the node's current one when
 * it is still that file, else a newly opened one. */
static int vfile_for(const char *vpath, const char *bpath, const struct stat *st,
                     struct vfile **out)
{
    struct fs_ident id;
    fs_ident_of(st, &id);
    pthread_mutex_lock(&T.mu);
    struct node *n = find_path(vpath);
    if (n && n->kind == NK_DF11 && n->vf && fs_ident_eq(&n->vf->ident, &id)) {
        *out = vfile_ref(n->vf);
        pthread_mutex_unlock(&T.mu);
        return 0;
    }
    pthread_mutex_unlock(&T.mu);
    return vfile_open(bpath, vpath, out);
}

int inode_lookup(uint64_t parent, const char *name, struct stat *st)
{
    pthread_mutex_lock(&T.mu);
    struct node *p = find_ino(parent);
    if (!p || p->kind != NK_DIR) {
        pthread_mutex_unlock(&T.mu);
        return p ? -ENOTDIR : -ESTALE;
    }
    char *dir = strdup(p->vpath);
    pthread_mutex_unlock(&T.mu);
    if (!dir)
        return -ENOMEM;
    if (parent == FS_ROOT_INO && !strcmp(name, FS_STATS_NAME)) {
        free(dir);
        stats_attr(st);
        return 0;
    }
    struct resolved r;
    int rc = names_resolve(dir, name, &r);
    char *vpath = rc ? NULL : path_join(dir, name);
    free(dir);
    if (rc)
        return rc;
    struct vfile *vf = NULL;
    if (!vpath)
        rc = -ENOMEM;
    else if (r.kind == NK_DF11)
        rc = vfile_for(vpath, r.bpath, &r.st, &vf);
    if (rc) {
        free(vpath);
        free(r.bpath);
        return rc;
    }
    /* vfile_open stats again; use what the reader really holds. */
    if (vf) {
        r.st.st_ino = vf->ident.ino;
        r.st.st_dev = vf->ident.dev;
        r.st.st_size = vf->ident.size;
        r.st.st_mtim = vf->ident.mtime;
    }
    pthread_mutex_lock(&T.mu);
    struct node *n = find_path(vpath);
    if (n && (n->kind != r.kind || strcmp(n->bpath, r.bpath))) {
        path_unlink(n);         /* something else lives at this path now */
        n = NULL;
    }
    if (!n)
        n = node_new(r.kind, vpath, r.bpath);
    struct vfile *old = vf;
    if (n) {
        old = node_update(n, &r.st, vf);
        n->nlookup++;
        fill_attr(n, st);
    } else {
        rc = -ENOMEM;
    }
    pthread_mutex_unlock(&T.mu);
    vfile_unref(old);
    free(vpath);
    free(r.bpath);
    return rc;
}

void inode_forget(uint64_t ino, uint64_t count)
{
    if (ino <= FS_STATS_INO)
        return;
    pthread_mutex_lock(&T.mu);
    struct node *n = find_ino(ino);
    if (!n) {
        pthread_mutex_unlock(&T.mu);
        return;
    }
    n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
    if (n->nlookup) {
        pthread_mutex_unlock(&T.mu);
        return;
    }
    struct node **p = &T.by_ino[hash_ino(ino)];
    while (*p != n)
        p = &(*p)->inext;
    *p = n->inext;
    path_unlink(n);
    T.count--;
    pthread_mutex_unlock(&T.mu);
    node_free(n);
}

/* Copies what a request needs out of the node, under the lock. */
static int snapshot(uint64_t ino, enum node_kind *kind, char **bpath, char **vpath)
{
    pthread_mutex_lock(&T.mu);
    struct node *n = find_ino(ino);
    if (!n) {
        pthread_mutex_unlock(&T.mu);
        return -ESTALE;
    }
    *kind = n->kind;
    *bpath = strdup(n->bpath);
    if (vpath)
        *vpath = strdup(n->vpath);
    pthread_mutex_unlock(&T.mu);
    if (!*bpath || (vpath && !*vpath)) {
        free(*bpath);
        if (vpath)
            free(*vpath);
        return -ENOMEM;
    }
    return 0;
}

static int kind_matches(enum node_kind k, mode_t m)
{
    switch (k) {
    case NK_DIR: return S_ISDIR(m);
    case NK_LNK: return S_ISLNK(m);
    default: return S_ISREG(m);
    }
}

/* Re-stats node ino's backing file and follows a replacement. */
static int refresh(uint64_t ino, struct stat *attr, struct vfile **vf_out, int *stale_out)
{
    enum node_kind kind;
    char *bpath, *vpath;
    int rc = snapshot(ino, &kind, &bpath, &vpath);
    if (rc)
        return rc;
    struct stat st;
    struct vfile *vf = NULL;
    rc = bstat(bpath, &st);
    if (!rc && !kind_matches(kind, st.st_mode))
        rc = -ESTALE;
    if (!rc && kind == NK_DF11)
        rc = vfile_for(vpath, bpath, &st, &vf);
    if (!rc && vf) {
        st.st_ino = vf->ident.ino;
        st.st_dev = vf->ident.dev;
        st.st_size = vf->ident.size;
        st.st_mtim = vf->ident.mtime;
    }
    free(bpath);
    free(vpath);
    if (rc)
        return rc;
    pthread_mutex_lock(&T.mu);
    struct node *n = find_ino(ino);
    struct vfile *old = vf;
    if (n) {
        old = node_update(n, &st, vf);
        if (attr)
            fill_attr(n, attr);
        if (vf_out)
            *vf_out = vfile_ref(n->vf);
        if (stale_out) {
            *stale_out = n->stale;
            n->stale = 0;
        }
    } else {
        rc = -ESTALE;
    }
    pthread_mutex_unlock(&T.mu);
    vfile_unref(old);
    return rc;
}

int inode_getattr(uint64_t ino, struct stat *st)
{
    if (ino == FS_STATS_INO) {
        stats_attr(st);
        return 0;
    }
    return refresh(ino, st, NULL, NULL);
}

int inode_open(uint64_t ino, int flags, struct open_info *oi)
{
    memset(oi, 0, sizeof *oi);
    oi->fd = -1;
    if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
        return -EROFS;
    if (ino == FS_STATS_INO) {
        oi->kind = NK_STATS;
        return 0;
    }
    enum node_kind kind;
    char *bpath;
    int rc = snapshot(ino, &kind, &bpath, NULL);
    if (rc)
        return rc;
    oi->kind = kind;
    if (kind == NK_REG) {
        int fd = openat(fs_cfg.store_fd, bpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        rc = fd < 0 ? -errno : fstat(fd, &st) ? -errno : 0;
        free(bpath);
        if (rc) {
            if (fd >= 0)
                close(fd);
            return rc;
        }
        pthread_mutex_lock(&T.mu);
        struct node *n = find_ino(ino);
        if (n) {
            node_update(n, &st, NULL);
            oi->stale = n->stale;
            n->stale = 0;
        }
        pthread_mutex_unlock(&T.mu);
        oi->fd = fd;
        return 0;
    }
    free(bpath);
    if (kind == NK_DF11)
        return refresh(ino, NULL, &oi->vf, &oi->stale);
    return kind == NK_DIR ? 0 : -ELOOP;
}

int inode_readlink(uint64_t ino, char *buf, size_t size)
{
    enum node_kind kind;
    char *bpath;
    int rc = snapshot(ino, &kind, &bpath, NULL);
    if (rc)
        return rc;
    ssize_t n = kind == NK_LNK ? readlinkat(fs_cfg.store_fd, bpath, buf, size - 1) : -1;
    rc = n < 0 ? (kind == NK_LNK ? -errno : -EINVAL) : 0;
    free(bpath);
    if (n >= 0)
        buf[n] = '\0';
    return rc;
}

int inode_list_dir(uint64_t ino, struct dir_list *out)
{
    enum node_kind kind;
    char *bpath;
    int rc = snapshot(ino, &kind, &bpath, NULL);
    if (rc)
        return rc;
    rc = kind == NK_DIR ? names_list(bpath, out) : -ENOTDIR;
    free(bpath);
    return rc;
}

size_t inode_check_changes(uint64_t **inos)
{
    struct item { uint64_t ino; char *bpath; struct fs_ident id; } *items = NULL;
    size_t n = 0, found = 0;
    *inos = NULL;
    pthread_mutex_lock(&T.mu);
    items = calloc(T.count ? T.count : 1, sizeof *items);
    for (size_t b = 0; items && b < T.nb; b++) {
        for (struct node *nd = T.by_ino[b]; nd; nd = nd->inext) {
            if (nd->kind != NK_REG && nd->kind != NK_DF11)
                continue;
            char *bp = strdup(nd->bpath);
            if (!bp)
                continue;
            items[n++] = (struct item){ nd->ino, bp, nd->ident };
        }
    }
    pthread_mutex_unlock(&T.mu);
    uint64_t *out = n ? calloc(n, sizeof *out) : NULL;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        struct fs_ident id;
        if (out && bstat(items[i].bpath, &st) == 0) {
            fs_ident_of(&st, &id);
            if (!fs_ident_eq(&id, &items[i].id)) {
                pthread_mutex_lock(&T.mu);
                struct node *nd = find_ino(items[i].ino);
                /* Only the identity the watcher compares against moves on;
                 * the node keeps its vfile until someone looks again. */
                if (nd && fs_ident_eq(&nd->ident, &items[i].id)) {
                    nd->ident = id;
                    nd->stale = 1;
                    out[found++] = items[i].ino;
                }
                pthread_mutex_unlock(&T.mu);
            }
        }
        free(items[i].bpath);
    }
    free(items);
    if (found)
        *inos = out;
    else
        free(out);
    return found;
}
