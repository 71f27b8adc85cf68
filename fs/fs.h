/*
 * fs.h - internal interfaces of df11fs, shared by the files in fs/.
 *
 * Layering (squashfuse style): inode.c, vfile.c, cache.c, prefetch.c and
 * stats.c know nothing of FUSE; ops.c is the thin FUSE front end and main.c
 * parses options and runs the session.
 */
#ifndef DF11FS_FS_H
#define DF11FS_FS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "df11.h"
#include "df11store.h"

#define FS_ROOT_INO 1
#define FS_STATS_INO 2             /* the hidden stats file */
#define FS_STATS_NAME ".df11fs-stats"

/* ---- configuration (main.c fills it once, read-only afterwards) ---- */

enum fs_gpu_mode { FS_GPU_OFF = 0, FS_GPU_AUTO = 1, FS_GPU_ON = 2 };

struct fs_config {
    char *store;              /* absolute path of STORE */
    int store_fd;             /* O_DIRECTORY descriptor of STORE */
    uint64_t cache_size;      /* decoded-chunk cache budget, bytes */
    enum fs_gpu_mode gpu_mode;
    int gpu_active;           /* decided after daemonizing */
    unsigned gpu_min_chunks;  /* reads touching this many chunks go batched */
    unsigned stats_interval;  /* seconds; 0 = no periodic log line */
    unsigned check_interval;  /* seconds between replacement checks; 0 = off */
    unsigned refresh;         /* seconds between manifest polls; 0 = never */
    unsigned prefetch;        /* chunks to decode ahead of a sequential reader */
    unsigned workers;         /* prefetch worker threads */
    double timeout;           /* entry and attribute timeout, seconds */
    unsigned readahead_kb;    /* kernel readahead for the mount; 0 = leave it */
    char *mountpoint;         /* absolute, for finding the mount's bdi */
    dev_t mount_dev;          /* st_dev of our own mount; 0 until known */
    int foreground;
};

extern struct fs_config fs_cfg;

/* ---- log.c ---- */

void fs_log_init(int use_syslog);
void fs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 the first time key is seen (recently): for logging an event once. */
int fs_log_first_time(uint64_t key);
uint64_t fs_hash_str(uint64_t seed, const char *s);

/* ---- remote.c: STORE behind libdf11store (URL, or -o cache_dir) ---- */

struct dir_list;
struct fs_ident;
int remote_active(void);
df11store *remote_store(void);
int remote_open(const char *url, const df11store_options *o, char *why, size_t why_len);
void remote_close(void);
/* lstat of the mounted path's backing object (*df11: a .df11 object). */
int remote_stat(const char *path, struct stat *st, int *df11);
int remote_probe(const char *path, struct stat *st, uint64_t *orig_size);
int remote_readlink(const char *path, char *buf, size_t size);
int remote_list(const char *dir, struct dir_list *out,
                int (*add)(struct dir_list *, size_t *, const char *, size_t, ino_t, mode_t));
/* A source over the object at path if it still is version want; -ESTALE
 * otherwise. */
int remote_source(const char *path, const struct fs_ident *want, df11_source *src);
/* Polls the manifest; 1 when it changed. */
int remote_refresh(void);

/* ---- mountinfo.c ---- */

/* "MAJ:MIN" of the newest mount at mnt whose type starts with fstype
 * ("fuse", "fuse.df11fs "); 0, or -1 when there is none. */
int fs_mount_devno(const char *mnt, const char *fstype, char *devno, size_t size);

/* ---- bdi.c ---- */

/* Sets the mount's kernel readahead; call after INIT was answered. */
void bdi_set_readahead(void);

/* ---- stats.c ---- */

struct fs_stats {
    atomic_uint_fast64_t reads, bytes_served, chunks_decoded, cache_hits,
        cache_misses, errors, decode_ns, bytes_decoded_cpu, bytes_decoded_gpu,
        gpu_batches, prefetch_chunks, replacements, reads_1m, read_max;
};
extern struct fs_stats fs_stats;

#define STAT_ADD(field, n) atomic_fetch_add_explicit(&fs_stats.field, (n), memory_order_relaxed)

/* Formats all counters as "name value" lines; returns a malloc'd string. */
char *fs_stats_format(size_t *len);
int fs_stats_start(void);   /* the stats_interval log thread */
void fs_stats_stop(void);

/* ---- vfile.c: one opened version of a .df11 backing file ---- */

struct fs_ident {           /* what identifies a version of a backing file */
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
    off_t size;
};

void fs_ident_of(const struct stat *st, struct fs_ident *id);
int fs_ident_eq(const struct fs_ident *a, const struct fs_ident *b);

struct vfile {
    atomic_int refs;        /* 0: idle, kept for a later open */
    uint64_t id;            /* cache key; never reused */
    df11_reader *r;         /* holds the one descriptor of this version */
    struct fs_ident ident;
    uint64_t size;          /* original size */
    uint32_t nchunks;
    char *name;             /* mount-relative name, for log lines */
    atomic_uint_fast64_t seq_end;   /* furthest end of a sequential read */
    struct vfile *next;             /* every vfile, live or idle */
    struct vfile *inext, *iprev;    /* the idle list */
};

/* Reads the header of STORE/bpath: *st is the fstat of what was read and
 * *orig_size its original size. Holds no descriptor afterwards. 0 or
 * -errno (a bad header is logged and gives -EIO). */
int vfile_probe(const char *bpath, const char *vname, struct stat *st, uint64_t *orig_size);
/* A reference to the opened version `want` of STORE/bpath, shared with
 * every other handle on it. -ESTALE when the file there is not that
 * version any more; -EMFILE/-ENFILE when descriptors ran out. */
int vfile_get(const char *bpath, const struct fs_ident *want, const char *vname,
              struct vfile **out);
struct vfile *vfile_ref(struct vfile *vf);
void vfile_unref(struct vfile *vf);
/* How many unreferenced vfiles (one descriptor each) stay open. */
void vfile_set_idle_max(unsigned n);
/* Closes every unreferenced vfile. */
void vfile_drop_idle(void);

/* ---- store_path.c: resolving backing paths beneath STORE ---- */

/* Opens STORE/bpath ("" is STORE) with flags, following no symlink in any
 * component and never leaving STORE. A descriptor or -errno. */
int store_open(const char *bpath, int flags);
/* Opens the folder holding bpath the same way; *last is its final name. */
int store_open_parent(const char *bpath, const char **last);
/* lstat of STORE/bpath, resolved the same way. */
int bstat(const char *bpath, struct stat *st);
/* readlink of STORE/bpath into buf (NUL-terminated). */
int store_readlink(const char *bpath, char *buf, size_t size);

/* ---- cache.c: decoded chunks shared by all files, byte budget ---- */

struct centry;

int cache_init(uint64_t budget);
void cache_destroy(void);
/* Returns chunk idx of vf decoded and pinned, or NULL with *st set. */
struct centry *cache_get(struct vfile *vf, uint32_t idx, df11_status *st);
void cache_put(struct centry *e);
/* cache_put for a sequential reader that was served nbytes of the chunk;
 * a chunk served in full is dropped (drop-behind). */
void cache_put_served(struct centry *e, uint32_t nbytes);
const uint8_t *centry_data(const struct centry *e);
uint32_t centry_len(const struct centry *e);
/* Decodes the chunks [first, first+n) of vf that are not cached yet,
 * batched on the GPU when use_gpu; returns how many it decoded. */
unsigned cache_fill(struct vfile *vf, uint32_t first, uint32_t n, int use_gpu);
/* Drops every unpinned chunk of a file that is going away. */
void cache_drop_file(uint64_t vfid);
uint64_t cache_bytes(void);
/* Frees every unpinned chunk and pooled buffer: an allocation failed. */
void cache_reclaim(void);

/* ---- prefetch.c: sequential detection and readahead workers ---- */

struct ra_state {           /* per open handle */
    pthread_mutex_t mu;
    uint64_t end;           /* end of the furthest read so far */
    unsigned streak;        /* consecutive reads that looked sequential */
    uint32_t next_chunk;    /* first chunk not yet handed to a worker */
};

int prefetch_start(unsigned workers);
void prefetch_stop(void);
/* Hands chunks [first, first+n) of a read that touches several to the
 * workers, so they decode in parallel with the reader's own thread (which
 * decodes whatever nobody has started yet). Not a prefetch: the read
 * itself needs them now. */
void decode_split(struct vfile *vf, uint32_t first, uint32_t n);
void ra_init(struct ra_state *ra);
void ra_destroy(struct ra_state *ra);
/* Called before each read of vf; may queue the chunks that follow.
 * Returns 1 when the handle reads sequentially. */
int ra_note(struct ra_state *ra, struct vfile *vf, uint64_t off, size_t len);

/* ---- read_plan.c: one read of a .df11-backed file, FUSE-free ---- */

#include <sys/uio.h>
#define READ_PLAN_SMALL 8
struct read_plan {
    size_t size;            /* bytes the pieces hold; 0 at EOF */
    uint32_t first, n;      /* first chunk; entries pinned */
    int seq;                /* the handle reads sequentially */
    struct centry **es;
    struct iovec *iov;      /* n pieces, in order */
    struct centry *es_small[READ_PLAN_SMALL];
    struct iovec iov_small[READ_PLAN_SMALL];
};
void read_plan_init(struct read_plan *p);
/* Plans a read of size bytes at off (clipped at EOF): decodes or finds
 * every chunk, pins it and points a piece at its bytes. 0, or -EIO /
 * -ENOMEM (release the plan either way). ra may be NULL. */
int read_plan_make(struct read_plan *p, struct vfile *vf, struct ra_state *ra, uint64_t off,
                   size_t size);
/* Unpins; served = the reply went out (drop-behind for sequential reads). */
void read_plan_release(struct read_plan *p, int served);

/* ---- names.c: mapping STORE names to mirrored names ---- */

enum node_kind { NK_DIR, NK_REG, NK_LNK, NK_DF11, NK_STATS };

struct resolved {
    enum node_kind kind;
    char *bpath;            /* backing path relative to STORE, malloc'd */
    struct stat st;         /* lstat of the backing path */
};

/* Joins two parts of a path relative to STORE (or the mount), where "" is
 * the root: ("", "x") is "x", not "/x" as tools/'s path_join makes of an
 * output folder. malloc'd. */
char *relpath_join(const char *dir, const char *name);
/* The node kind of a file mode: folder, regular file or symlink; -ENOENT
 * for anything else (not shown). */
int names_kind_of(mode_t m, enum node_kind *k);
/* Maps mirrored name in mirrored directory dir to its backing file. */
int names_resolve(const char *dir, const char *name, struct resolved *r);

/* A snapshot of a mirrored directory's entries, "." and ".." first. */
struct dirent_v {
    char *name;
    ino_t d_ino;
    mode_t type;            /* S_IFDIR etc. */
};
struct dir_list {
    struct dirent_v *e;
    size_t n;
};
int names_list(const char *dir, struct dir_list *out);
void dir_list_free(struct dir_list *dl);

/* ---- inode.c: the inode table ---- */

struct node;

int inode_init(void);
void inode_destroy(void);
/* Looks name up in directory parent and takes one lookup reference.
 * Fills *st (st_ino = our inode number). Returns 0 or -errno. */
int inode_lookup(uint64_t parent, const char *name, struct stat *st);
void inode_forget(uint64_t ino, uint64_t n);
/* Attributes of inode ino. A file inode stands for one version of its
 * backing file and keeps that version's attributes. */
int inode_getattr(uint64_t ino, struct stat *st);

/* What an open() needs: the kind and a backing fd or a vfile reference.
 * Fails with ESTALE when the backing file is no longer the version this
 * inode stands for, which makes the kernel look the name up again. */
struct open_info {
    enum node_kind kind;
    int fd;                 /* NK_REG: owned by the caller; -1 for remote */
    df11_source src;        /* NK_REG of a remote store: owned by the caller */
    int has_src;
    struct vfile *vf;       /* NK_DF11: one reference, owned by the caller */
};
int inode_open(uint64_t ino, int flags, struct open_info *oi);
int inode_readlink(uint64_t ino, char *buf, size_t size);

int inode_list_dir(uint64_t ino, struct dir_list *out);

/* For the watcher: re-stats every file reachable by name; those whose
 * backing file was replaced, changed or removed are unbound from their
 * name (the next lookup makes a new inode) and returned, as (parent inode,
 * name) pairs for the kernel's dentry invalidation. */
struct changed {
    uint64_t parent;
    char *name;             /* malloc'd */
};
size_t inode_check_changes(struct changed **out);

#endif
