/* inode.c - the inode table: inode numbers handed to the kernel, their
 * lookup counts, and what each one stands for in STORE.
 *
 * Inode numbers come from a counter and are never reused. A node is found
 * by number (kernel requests) or by mirrored path (lookups). A file node
 * stands for one version of its backing file, identified by (st_dev,
 * st_ino, mtime, size): when the backing file is replaced (the encoder
 * renames a new file over the old), changed or removed, the node is unbound
 * from its path and the next lookup makes a new node. So, as on a local
 * filesystem after rename(), handles opened before keep the old inode, its
 * df11_reader and its cached pages, and new opens get the new contents in a
 * fresh page cache: never a mix of the two. */
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
    uint64_t parent;        /* inode of the directory it was looked up in */
    enum node_kind kind;
    char *vpath;            /* mirrored path; "" for the root */
    char *bpath;            /* backing path relative to STORE */
    struct stat bst;        /* lstat of the backing file (at lookup) */
    struct fs_ident ident;  /* the version this node stands for */
    uint64_t orig_size;     /* NK_DF11: from that version's header */
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
    /* st_blocks stays the .df11's own: du shows the disk the store uses
     * and du --apparent-size the original size, as on compressed btrfs. */
    if (n->kind == NK_DF11)
        st->st_size = (off_t)n->orig_size;
}

static int is_file(enum node_kind k) { return k == NK_REG || k == NK_DF11; }


/* Does node n (under the lock) still stand for what resolve found? */
static int node_matches(const struct node *n, const struct resolved *r)
{
    if (n->kind != r->kind || strcmp(n->bpath, r->bpath))
        return 0;
    if (!is_file(n->kind))
        return 1;
    struct fs_ident id;
    fs_ident_of(&r->st, &id);
    return fs_ident_eq(&n->ident, &id);
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
    char *vpath = rc ? NULL : relpath_join(dir, name);
    free(dir);
    if (rc)
        return rc;
    if (!vpath) {
        free(r.bpath);
        return -ENOMEM;
    }
    uint64_t orig_size = 0;
    if (r.kind == NK_DF11) {
        /* The header alone gives the size; the stat of what was read is
         * the version the node stands for. No descriptor is kept. */
        rc = vfile_probe(r.bpath, vpath, &r.st, &orig_size);
        if (rc) {
            free(vpath);
            free(r.bpath);
            return rc;
        }
    }
    pthread_mutex_lock(&T.mu);
    struct node *n = find_path(vpath);
    if (n && !node_matches(n, &r)) {
        path_unlink(n);     /* another version, or another kind of file */
        if (is_file(n->kind))
            STAT_ADD(replacements, 1);
        n = NULL;
    }
    if (!n) {
        n = node_new(r.kind, vpath, r.bpath);
        if (n) {
            n->parent = parent;
            n->bst = r.st;
            fs_ident_of(&r.st, &n->ident);
            n->orig_size = orig_size;
        }
    } else if (n->kind == NK_DIR || n->kind == NK_LNK) {
        n->bst = r.st;      /* directories change; they keep their inode */
    }
    if (n) {
        n->nlookup++;
        fill_attr(n, st);
    } else {
        rc = -ENOMEM;
    }
    pthread_mutex_unlock(&T.mu);
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
static int snapshot(uint64_t ino, enum node_kind *kind, char **bpath, struct fs_ident *id,
                    char **vpath)
{
    pthread_mutex_lock(&T.mu);
    struct node *n = find_ino(ino);
    if (!n) {
        pthread_mutex_unlock(&T.mu);
        return -ESTALE;
    }
    *kind = n->kind;
    *bpath = strdup(n->bpath);
    if (id)
        *id = n->ident;
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

int inode_getattr(uint64_t ino, struct stat *st)
{
    if (ino == FS_STATS_INO) {
        stats_attr(st);
        return 0;
    }
    pthread_mutex_lock(&T.mu);
    struct node *n = find_ino(ino);
    if (!n) {
        pthread_mutex_unlock(&T.mu);
        return -ESTALE;
    }
    if (is_file(n->kind)) {
        /* The version this inode stands for: a handle opened before a
         * replacement must keep seeing the size of what it reads. */
        fill_attr(n, st);
        pthread_mutex_unlock(&T.mu);
        return 0;
    }
    char *bpath = strdup(n->bpath);
    enum node_kind kind = n->kind;
    pthread_mutex_unlock(&T.mu);
    if (!bpath)
        return -ENOMEM;
    struct stat bst;
    int rc = bstat(bpath, &bst);
    free(bpath);
    if (rc)
        return rc;
    if ((kind == NK_DIR) != !!S_ISDIR(bst.st_mode) || (kind == NK_LNK) != !!S_ISLNK(bst.st_mode))
        return -ESTALE;
    pthread_mutex_lock(&T.mu);
    n = find_ino(ino);
    if (n) {
        n->bst = bst;
        fill_attr(n, st);
    }
    pthread_mutex_unlock(&T.mu);
    return n ? 0 : -ESTALE;
}

/* ESTALE for an inode whose backing file is not its version any more: the
 * kernel then looks the name up again (LOOKUP_REVAL) and retries the open
 * on the new inode. */
static int stale(uint64_t ino)
{
    pthread_mutex_lock(&T.mu);
    struct node *n = find_ino(ino);
    if (n && n->in_path) {
        path_unlink(n);
        STAT_ADD(replacements, 1);
    }
    pthread_mutex_unlock(&T.mu);
    return -ESTALE;
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
    char *bpath, *vpath;
    struct fs_ident want, id;
    int rc = snapshot(ino, &kind, &bpath, &want, &vpath);
    if (rc)
        return rc;
    oi->kind = kind;
    if (kind == NK_REG && remote_active()) {
        rc = remote_source(bpath, &want, &oi->src);
        free(bpath);
        free(vpath);
        if (rc == 0)
            oi->has_src = 1;
        return rc == -ESTALE ? stale(ino) : rc;
    }
    if (kind == NK_REG) {
        int fd = store_open(bpath, O_RDONLY | O_NONBLOCK);
        struct stat st;
        rc = fd < 0 ? fd : fstat(fd, &st) ? -errno : 0;
        free(bpath);
        free(vpath);
        if (rc == 0) {
            fs_ident_of(&st, &id);
            if (fs_ident_eq(&id, &want)) {
                oi->fd = fd;
                return 0;
            }
        }
        if (fd >= 0)
            close(fd);
        /* Out of memory or descriptors is ours to report, not a replaced
         * file: the kernel would look the name up again for ever. */
        if (rc == -ENOMEM || rc == -EMFILE || rc == -ENFILE)
            return rc;
        return stale(ino);
    }
    if (kind == NK_DF11) {
        rc = vfile_get(bpath, &want, vpath, &oi->vf);
        free(bpath);
        free(vpath);
        return rc == -ESTALE ? stale(ino) : rc;
    }
    free(bpath);
    free(vpath);
    return kind == NK_DIR ? 0 : -ELOOP;
}

int inode_readlink(uint64_t ino, char *buf, size_t size)
{
    enum node_kind kind;
    char *bpath;
    int rc = snapshot(ino, &kind, &bpath, NULL, NULL);
    if (rc)
        return rc;
    rc = kind == NK_LNK ? store_readlink(bpath, buf, size) : -EINVAL;
    free(bpath);
    return rc;
}

int inode_list_dir(uint64_t ino, struct dir_list *out)
{
    enum node_kind kind;
    char *bpath;
    int rc = snapshot(ino, &kind, &bpath, NULL, NULL);
    if (rc)
        return rc;
    rc = kind == NK_DIR ? names_list(bpath, out) : -ENOTDIR;
    free(bpath);
    return rc;
}

size_t inode_check_changes(struct changed **out)
{
    struct item { uint64_t ino; char *bpath; struct fs_ident id; enum node_kind kind; } *items;
    size_t n = 0, found = 0;
    *out = NULL;
    pthread_mutex_lock(&T.mu);
    items = calloc(T.count ? T.count : 1, sizeof *items);
    for (size_t b = 0; items && b < T.nb; b++) {
        for (struct node *nd = T.by_ino[b]; nd; nd = nd->inext) {
            if (!nd->in_path || nd == T.root)
                continue;
            char *bp = strdup(nd->bpath);
            if (bp)
                items[n++] = (struct item){ nd->ino, bp, nd->ident, nd->kind };
        }
    }
    pthread_mutex_unlock(&T.mu);
    struct changed *ch = n ? calloc(n, sizeof *ch) : NULL;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        struct fs_ident id;
        int gone = bstat(items[i].bpath, &st) != 0;
        int changed = gone;
        if (!gone && is_file(items[i].kind)) {
            fs_ident_of(&st, &id);
            changed = !fs_ident_eq(&id, &items[i].id);
        } else if (!gone) {
            /* A folder or link replaced by something else (a folder swapped
             * for a symlink): its name must be looked up again, or the
             * kernel keeps the old attributes for the entry timeout. */
            enum node_kind k;
            changed = names_kind_of(st.st_mode, &k) != 0 || k != items[i].kind ||
                      st.st_ino != items[i].id.ino || st.st_dev != items[i].id.dev;
        }
        if (ch && changed) {
            pthread_mutex_lock(&T.mu);
            struct node *nd = find_ino(items[i].ino);
            if (nd && nd->in_path) {
                const char *slash = strrchr(nd->vpath, '/');
                char *name = strdup(slash ? slash + 1 : nd->vpath);
                if (name) {
                    path_unlink(nd);
                    STAT_ADD(replacements, 1);
                    ch[found++] = (struct changed){ nd->parent, name };
                }
            }
            pthread_mutex_unlock(&T.mu);
        }
        free(items[i].bpath);
    }
    free(items);
    if (found)
        *out = ch;
    else
        free(ch);
    return found;
}
