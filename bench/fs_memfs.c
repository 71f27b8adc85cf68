/* fs_memfs.c - the ceiling for bench/fs_bench.sh: a trivial low-level FUSE
 * server that serves one file's bytes from memory with the same settings as
 * df11fs (cached mode, keep_cache, 1 MiB requests, multi-threaded), so the
 * difference to df11fs is the cost of decoding.
 *
 *   fs_memfs [-f] [-s] [-o opts] FILE MOUNTPOINT   -> MOUNTPOINT/basename(FILE) */
#define FUSE_USE_VERSION 34
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *data;
static size_t size;
static char *name;

static void attr_of(fuse_ino_t ino, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = ino;
    if (ino == 1) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
    } else {
        st->st_mode = S_IFREG | 0444;
        st->st_nlink = 1;
        st->st_size = (off_t)size;
    }
}

static void m_init(void *u, struct fuse_conn_info *c)
{
    (void)u;
    c->max_write = 1u << 20;
    c->max_readahead = 1u << 20;
}

static void m_lookup(fuse_req_t req, fuse_ino_t parent, const char *n)
{
    if (parent != 1 || strcmp(n, name)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    struct fuse_entry_param e = { .ino = 2, .attr_timeout = 86400, .entry_timeout = 86400 };
    attr_of(2, &e.attr);
    fuse_reply_entry(req, &e);
}

static void m_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct stat st;
    attr_of(ino, &st);
    fuse_reply_attr(req, &st, 86400);
}

static void m_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    if (ino != 2) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    fi->keep_cache = 1;
    fuse_reply_open(req, fi);
}

static void m_read(fuse_req_t req, fuse_ino_t ino, size_t n, off_t off, struct fuse_file_info *fi)
{
    (void)ino, (void)fi;
    if ((size_t)off >= size)
        n = 0;
    else if (n > size - (size_t)off)
        n = size - (size_t)off;
    fuse_reply_buf(req, n ? data + off : NULL, n);
}

static void m_readdir(fuse_req_t req, fuse_ino_t ino, size_t sz, off_t off, struct fuse_file_info *fi)
{
    (void)ino, (void)fi;
    char buf[4096];
    size_t used = 0;
    struct stat st;
    attr_of(2, &st);
    if (off == 0 && sz <= sizeof buf)
        used = fuse_add_direntry(req, buf, sz, name, &st, 1);
    fuse_reply_buf(req, buf, used > sz ? 0 : used);
}

static const struct fuse_lowlevel_ops ops = {
    .init = m_init, .lookup = m_lookup, .getattr = m_getattr, .open = m_open,
    .read = m_read, .readdir = m_readdir,
};

int main(int argc, char **argv)
{
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    const char *file = NULL;
    /* The first non-option argument is FILE; the rest goes to libfuse. */
    for (int i = 0; i < argc; i++) {
        if (i > 0 && !file && argv[i][0] != '-' && strcmp(argv[i - 1], "-o")) {
            file = argv[i];
            continue;
        }
        fuse_opt_add_arg(&args, argv[i]);
    }
    struct fuse_cmdline_opts o;
    if (!file || fuse_parse_cmdline(&args, &o) != 0 || !o.mountpoint) {
        fprintf(stderr, "usage: fs_memfs [-f] [-s] [-o opts] FILE MOUNTPOINT\n");
        return 2;
    }
    int fd = open(file, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(file);
        return 1;
    }
    size = (size_t)st.st_size;
    data = malloc(size ? size : 1);
    for (size_t got = 0; data && got < size;) {
        ssize_t n = pread(fd, data + got, size - got, (off_t)got);
        if (n <= 0) {
            perror("read");
            return 1;
        }
        got += (size_t)n;
    }
    close(fd);
    char *dup = strdup(file);
    name = strdup(basename(dup));
    fuse_opt_add_arg(&args, "-oro,subtype=fs_memfs");
    struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, NULL);
    if (!se || fuse_set_signal_handlers(se) || fuse_session_mount(se, o.mountpoint))
        return 1;
    fuse_daemonize(o.foreground);
    int rc;
    if (o.singlethread) {
        rc = fuse_session_loop(se);
    } else {
        struct fuse_loop_config cfg = { .clone_fd = o.clone_fd, .max_idle_threads = o.max_idle_threads };
        rc = fuse_session_loop_mt(se, &cfg);
    }
    fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    free(data);
    free(dup);
    free(name);
    free(o.mountpoint);
    fuse_opt_free_args(&args);
    return rc < 0;
}
