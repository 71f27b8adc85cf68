#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exitcodes.h"
#include "msg.h"

int path_ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a > b && strcmp(s + a - b, suffix) == 0;
}

char *path_swap_suffix(const char *p, const char *old, const char *neu, int append)
{
    size_t n = strlen(p);
    if (path_ends_with(p, old))
        n -= strlen(old);
    else if (!append)
        return NULL;
    char *r = malloc(n + strlen(neu) + 1);
    if (r) {
        memcpy(r, p, n);
        strcpy(r + n, neu);
    }
    return r;
}

char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir);
    while (a > 1 && dir[a - 1] == '/')
        a--;
    char *r = malloc(a + strlen(name) + 2);
    if (r) {
        memcpy(r, dir, a);
        r[a] = '/';
        strcpy(r + a + 1, name);
    }
    return r;
}

int out_check(const char *dst, int force)
{
    struct stat st;
    if (lstat(dst, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            msg_error("%s: output exists and is a directory", dst);
            return CLI_EXIT_EXISTS;
        }
        if (!force) {
            msg_error("%s: already exists; use -f to overwrite", dst);
            return CLI_EXIT_EXISTS;
        }
    }
    return CLI_EXIT_OK;
}

int out_tmp_open(const char *dst, char **tmp, int *rc)
{
    const char *slash = strrchr(dst, '/');
    size_t dl = slash ? (size_t)(slash - dst + 1) : 0;
    const char *base = dst + dl;
    size_t n = dl + strlen(base) + 32;
    char *t = malloc(n);
    if (!t) {
        *rc = msg_errno(dst, "allocating", ENOMEM);
        return -1;
    }
    /* Hidden, in the destination folder: rename stays within one file
     * system, and df11fs or a loader listing the folder skips dot files. */
    snprintf(t, n, "%.*s.%s.df11tmp.XXXXXX", (int)dl, dst, base);
    int fd = mkostemp(t, O_CLOEXEC);
    if (fd < 0) {
        *rc = msg_errno(dst, "creating temporary file", errno);
        free(t);
        return -1;
    }
    *tmp = t;
    return fd;
}

void out_abort(char *tmp)
{
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
}

int out_commit(char *tmp, const char *dst, int force)
{
    int e = 0;
    if (force) {
        e = rename(tmp, dst) == 0 ? 0 : errno;
    } else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE) != 0) {
        e = errno;
        if (e == EINVAL || e == ENOSYS) {
            /* File systems without RENAME_NOREPLACE: link() refuses to
             * replace as well. */
            e = link(tmp, dst) == 0 ? 0 : errno;
            if (e == 0)
                unlink(tmp);
        }
    }
    if (e == 0) {
        free(tmp);
        return CLI_EXIT_OK;
    }
    out_abort(tmp);
    if (e == EEXIST && !force) {
        msg_error("%s: already exists; use -f to overwrite", dst);
        return CLI_EXIT_EXISTS;
    }
    return msg_errno(dst, "renaming into place", e);
}

void meta_copy_fd(int fd, const struct stat *st)
{
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    (void)fchmod(fd, st->st_mode & 07777);
    (void)futimens(fd, ts);
}

void meta_copy_path(const char *path, const struct stat *st)
{
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    (void)chmod(path, st->st_mode & 07777);
    (void)utimensat(AT_FDCWD, path, ts, 0);
}

int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int copy_fd(int in, int out, const char *src, const char *dst)
{
    static char buf[1 << 20];
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n > 0)
            continue;
        if (n == 0)
            return CLI_EXIT_OK;
        if (errno == EINTR)
            continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
            return msg_errno(src, "copying", errno);
        break; /* not supported here: plain read/write from where it stopped */
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0)
            return CLI_EXIT_OK;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return msg_errno(src, "reading", errno);
        }
        int e = write_all(out, buf, (size_t)n);
        if (e)
            return msg_errno(dst, "writing", e);
    }
}

int copy_file(const char *src, const char *dst, const struct stat *st, int force)
{
    int rc = out_check(dst, force);
    if (rc)
        return rc;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return msg_errno(src, "opening", errno);
    char *tmp = NULL;
    int out = out_tmp_open(dst, &tmp, &rc);
    if (out < 0) {
        close(in);
        return rc;
    }
    rc = copy_fd(in, out, src, dst);
    close(in);
    if (rc == CLI_EXIT_OK)
        meta_copy_fd(out, st);
    if (close(out) != 0 && rc == CLI_EXIT_OK)
        rc = msg_errno(dst, "writing", errno);
    if (rc != CLI_EXIT_OK) {
        out_abort(tmp);
        return rc;
    }
    return out_commit(tmp, dst, force);
}

int same_file(const char *a, const char *b)
{
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev &&
           x.st_ino == y.st_ino;
}
