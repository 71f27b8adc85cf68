/* ops.c - the FUSE low-level handlers: a thin front end over inode.c and
 * read_plan.c. Every handler sends exactly one reply. Nothing that
 * modifies the tree is implemented: the mount is always ro, so the kernel
 * answers EROFS before such a request could reach us. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include "fs.h"
#include "fuse_front.h"

struct handle {
    enum node_kind kind;
    int fd;                 /* NK_REG of a local store */
    df11_source src;        /* NK_REG of a remote store */
    int has_src;
    struct vfile *vf;       /* NK_DF11 */
    struct ra_state ra;     /* NK_DF11 */
    char *data;             /* NK_STATS: snapshot taken at open */
    size_t len;
    struct dir_list dl;     /* directories */
    struct handle *prev, *next;     /* every live handle, see ops_release_all */
};

static struct handle *H(struct fuse_file_info *fi) { return (struct handle *)(uintptr_t)fi->fh; }

/* Handles the kernel still holds. After a lazy unmount the kernel sends the
 * last RELEASE in the background and may tear the connection down before we
 * read it, so whatever is left here is freed at exit instead. */
static pthread_mutex_t handles_mu = PTHREAD_MUTEX_INITIALIZER;
static struct handle handles = { .prev = &handles, .next = &handles };

static void handle_track(struct handle *h)
{
    pthread_mutex_lock(&handles_mu);
    h->next = handles.next;
    h->prev = &handles;
    handles.next->prev = h;
    handles.next = h;
    pthread_mutex_unlock(&handles_mu);
}

/* Frees a handle and what it holds; untracks it first if it was tracked. */
static void handle_free(struct handle *h)
{
    if (h->next) {
        pthread_mutex_lock(&handles_mu);
        h->prev->next = h->next;
        h->next->prev = h->prev;
        pthread_mutex_unlock(&handles_mu);
    }
    if (h->fd >= 0)
        close(h->fd);
    if (h->has_src && h->src.close)
        h->src.close(h->src.ctx);
    if (h->kind == NK_DF11)
        ra_destroy(&h->ra);
    if (h->kind == NK_DIR)
        dir_list_free(&h->dl);
    vfile_unref(h->vf);
    free(h->data);
    free(h);
}

void ops_release_all(void)
{
    while (handles.next != &handles)
        handle_free(handles.next);
}

static void fill_entry(struct fuse_entry_param *e, const struct stat *st)
{
    memset(e, 0, sizeof *e);
    e->ino = st->st_ino;
    e->attr = *st;
    e->attr_timeout = fs_cfg.timeout;
    e->entry_timeout = fs_cfg.timeout;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    (void)userdata;
    /* Large requests: libfuse derives the kernel's max_pages from
     * max_write, so this also lets reads grow to 1 MiB. */
    conn->max_write = 1u << 20;
    conn->max_readahead = 1u << 20;
    /* An inode's contents never change (a replaced file gets a new inode),
     * so reads need not re-check attributes. */
    conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
    if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
        conn->want |= FUSE_CAP_CACHE_SYMLINKS;
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    conn->time_gran = 1;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct stat st;
    int rc = inode_lookup(parent, name, &st);
    if (rc) {
        fuse_reply_err(req, -rc);
        return;
    }
    struct fuse_entry_param e;
    fill_entry(&e, &st);
    if (fuse_reply_entry(req, &e) != 0 && st.st_ino != FS_STATS_INO)
        inode_forget(st.st_ino, 1);     /* the kernel never got it */
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    inode_forget(ino, nlookup);
    fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
    for (size_t i = 0; i < count; i++)
        inode_forget(f[i].ino, f[i].nlookup);
    fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct stat st;
    int rc = inode_getattr(ino, &st);
    if (rc)
        fuse_reply_err(req, -rc);
    else
        fuse_reply_attr(req, &st, fs_cfg.timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    char buf[PATH_MAX + 1];
    int rc = inode_readlink(ino, buf, sizeof buf);
    if (rc)
        fuse_reply_err(req, -rc);
    else
        fuse_reply_readlink(req, buf);
}

/* The readahead can only be raised once the kernel has our INIT reply, so
 * the first open does it: sequential reads only matter from then on. */
static pthread_once_t readahead_once = PTHREAD_ONCE_INIT;

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    pthread_once(&readahead_once, bdi_set_readahead);
    struct open_info oi;
    int rc = inode_open(ino, fi->flags, &oi);
    if (rc) {
        fuse_reply_err(req, -rc);
        return;
    }
    struct handle *h = calloc(1, sizeof *h);
    if (!h) {
        if (oi.fd >= 0)
            close(oi.fd);
        if (oi.has_src && oi.src.close)
            oi.src.close(oi.src.ctx);
        vfile_unref(oi.vf);
        fuse_reply_err(req, ENOMEM);
        return;
    }
    h->kind = oi.kind;
    h->fd = oi.fd;
    h->src = oi.src;
    h->has_src = oi.has_src;
    h->vf = oi.vf;
    if (h->kind == NK_STATS) {
        h->data = fs_stats_format(&h->len);
        fi->direct_io = 1;      /* size 0 in stat; contents made at open */
    } else {
        if (h->kind == NK_DF11)
            ra_init(&h->ra);
        /* Cached mode so mmap works. An inode's contents never change (a
         * replaced backing file gets a new inode), so its pages stay valid
         * across opens. */
        fi->keep_cache = 1;
    }
    fi->noflush = 1;
    fi->fh = (uintptr_t)h;
    handle_track(h);
    if (fuse_reply_open(req, fi) != 0)
        handle_free(h);
}

/* A reply is one writev of a header plus the pieces, so more than IOV_MAX-1
 * pieces would fail in the kernel - and a failed reply is never answered:
 * the reader would wait for ever. Files written before the encoder grouped
 * tiny tensors can put a thousand one-tensor chunks in one page; such a
 * reply is gathered into one buffer. A send that fails is logged (libfuse
 * has freed the request by then, so nothing else can be sent). */
#define REPLY_IOV_MAX 64

static int reply_pieces(fuse_req_t req, const struct iovec *iov, uint32_t n, size_t size)
{
    int rc;
    if (n <= REPLY_IOV_MAX) {
        rc = fuse_reply_iov(req, iov, (int)n);
    } else {
        char *flat = malloc(size ? size : 1);
        if (!flat)
            return fuse_reply_err(req, ENOMEM), -ENOMEM;
        size_t at = 0;
        for (uint32_t i = 0; i < n; i++) {
            memcpy(flat + at, iov[i].iov_base, iov[i].iov_len);
            at += iov[i].iov_len;
        }
        rc = fuse_reply_buf(req, flat, size);
        free(flat);
    }
    if (rc != 0 && rc != -ENOENT)   /* ENOENT: the request was interrupted */
        fs_log(LOG_ERR, "read reply of %zu bytes in %u pieces not sent: %s", size, n, strerror(-rc));
    return rc;
}

static void read_df11(fuse_req_t req, struct handle *h, size_t size, off_t off)
{
    struct vfile *vf = h->vf;
    struct read_plan p;
    int rc = off < 0 ? 0 : read_plan_make(&p, vf, &h->ra, (uint64_t)off, size);
    if (off < 0)
        read_plan_init(&p);
    int served = 0;
    if (rc) {
        /* The bad chunk itself is logged once by the cache; this line once
         * per file, first chunk and error, not once per retried read. */
        if (fs_log_first_time((vf->id * 0x100000001B3ull ^ p.first) * 31 + (uint64_t)-rc))
            fs_log(LOG_ERR, "%s: read of %zu bytes at %lld failed: %s", vf->name, size,
                   (long long)off, strerror(-rc));
        fuse_reply_err(req, -rc);
    } else if (p.size == 0) {
        fuse_reply_buf(req, NULL, 0);
    } else if (reply_pieces(req, p.iov, p.n, p.size) == 0) {
        served = 1;
        STAT_ADD(reads, 1);
        STAT_ADD(bytes_served, p.size);
    }
    read_plan_release(&p, served);
}

/* A plain file of a remote store: its bytes come through the store's
 * block cache, as the source reads them; short only at end of file. */
static void read_source(fuse_req_t req, struct handle *h, size_t size, off_t off)
{
    if (off < 0 || (uint64_t)off >= h->src.size || size == 0) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    if (size > h->src.size - (uint64_t)off)
        size = (size_t)(h->src.size - (uint64_t)off);
    char *buf = malloc(size);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t got = 0;
    df11_status st = DF11_OK;
    df11_error err = { DF11_OK, "" };
    while (got < size && st == DF11_OK) {
        size_t n = 0;
        st = h->src.read_at(h->src.ctx, buf + got, size - got, (uint64_t)off + got, &n, &err);
        if (st == DF11_OK && n == 0)
            break;
        got += n;
    }
    if (st != DF11_OK || got != size) {
        if (fs_log_first_time(fs_hash_str(5, h->src.name)))
            fs_log(LOG_ERR, "%s: read of %zu bytes at %lld failed: %s", h->src.name, size,
                   (long long)off, err.message[0] ? err.message : "short read");
        STAT_ADD(errors, 1);
        fuse_reply_err(req, st == DF11_E_NOMEM ? ENOMEM : EIO);
    } else if (fuse_reply_buf(req, buf, size) == 0) {
        STAT_ADD(reads, 1);
        STAT_ADD(bytes_served, size);
    }
    free(buf);
}

/* Request sizes show whether the kernel's readahead reaches max_pages. */
static void note_request(size_t size)
{
    if (size >= (1u << 20))
        STAT_ADD(reads_1m, 1);
    uint_fast64_t cur = atomic_load_explicit(&fs_stats.read_max, memory_order_relaxed);
    while (size > cur && !atomic_compare_exchange_weak_explicit(&fs_stats.read_max, &cur, size,
                                                                memory_order_relaxed,
                                                                memory_order_relaxed))
        ;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)ino;
    struct handle *h = H(fi);
    note_request(size);
    switch (h->kind) {
    case NK_DF11:
        read_df11(req, h, size, off);
        return;
    case NK_REG: {
        if (h->has_src) {
            read_source(req, h, size, off);
            return;
        }
        struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
        buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
        buf.buf[0].fd = h->fd;
        buf.buf[0].pos = off;
        STAT_ADD(reads, 1);
        if (fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE) == 0)
            STAT_ADD(bytes_served, size);
        return;
    }
    case NK_STATS: {
        size_t n = 0;
        if (off >= 0 && (size_t)off < h->len)
            n = h->len - (size_t)off < size ? h->len - (size_t)off : size;
        /* Replied from a copy: once the kernel has the reply, the reader may
         * close and the RELEASE free h on another thread, while AddressSanitizer
         * still checks the buffer after writev returned. */
        char *copy = n ? malloc(n) : NULL;
        if (n && !copy) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        if (n)
            memcpy(copy, h->data + off, n);
        fuse_reply_buf(req, copy, n);
        free(copy);
        return;
    }
    default:
        fuse_reply_err(req, EISDIR);
    }
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    handle_free(H(fi));
    fuse_reply_err(req, 0);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct handle *h = calloc(1, sizeof *h);
    if (!h) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    h->kind = NK_DIR;
    h->fd = -1;
    /* One snapshot per opendir, so offsets stay valid whatever happens to
     * STORE while the directory is being read. */
    int rc = inode_list_dir(ino, &h->dl);
    if (rc) {
        free(h);
        fuse_reply_err(req, -rc);
        return;
    }
    fi->fh = (uintptr_t)h;
    fi->cache_readdir = 0;
    handle_track(h);
    if (fuse_reply_open(req, fi) != 0)
        handle_free(h);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi, int plus)
{
    struct handle *h = H(fi);
    char *buf = malloc(size);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t used = 0;
    for (size_t i = off < 0 ? 0 : (size_t)off; i < h->dl.n; i++) {
        struct dirent_v *d = &h->dl.e[i];
        size_t need;
        if (!plus) {
            struct stat st = { .st_ino = d->d_ino, .st_mode = d->type };
            need = fuse_add_direntry(req, buf + used, size - used, d->name, &st, (off_t)i + 1);
            if (need > size - used)
                break;
            used += need;
            continue;
        }
        /* Check the room first: an entry looked up but not sent would
         * leak a lookup count. */
        need = fuse_add_direntry_plus(req, NULL, 0, d->name, NULL, 0);
        if (need > size - used)
            break;
        struct fuse_entry_param e;
        memset(&e, 0, sizeof e);
        int is_dot = !strcmp(d->name, ".") || !strcmp(d->name, "..");
        struct stat st;
        if (!is_dot && inode_lookup(ino, d->name, &st) == 0) {
            fill_entry(&e, &st);
        } else {
            /* ino 0: the kernel lists the name but caches no entry, so a
             * later lookup reports the real error. */
            e.attr.st_ino = d->d_ino;
            e.attr.st_mode = d->type;
        }
        used += fuse_add_direntry_plus(req, buf + used, size - used, d->name, &e, (off_t)i + 1);
    }
    fuse_reply_buf(req, buf, used);
    free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, fi, 1);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    handle_free(H(fi));
    fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    (void)ino;
    /* df on the mount reports the file system that holds the store: the
     * local folder, or for a remote store the node cache (the root's
     * file system without one). */
    struct statvfs sv;
    if (fstatvfs(fs_cfg.store_fd, &sv) != 0)
        fuse_reply_err(req, errno);
    else
        fuse_reply_statfs(req, &sv);
}

const struct fuse_lowlevel_ops fs_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .readlink = op_readlink,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .releasedir = op_releasedir,
    .statfs = op_statfs,
};
