/* store_path.c - every path into STORE is resolved here.
 *
 * A backing path is resolved beneath STORE's descriptor without following
 * a symlink in ANY component. Following one in an intermediate component
 * would let whoever can write STORE swap a looked-up folder for a link to
 * anywhere (a 0700 folder of another user, /root) and read it through a
 * mount that root runs with allow_other. Symlinks inside STORE are still
 * shown as symlinks: the kernel resolves those against the mount, not us.
 *
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) does it in one call; on
 * kernels before 5.6 (ENOSYS) the same rule is applied by walking the path
 * one component at a time with O_NOFOLLOW. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"

static int no_openat2;      /* set once the kernel said ENOSYS */

static int open_beneath2(const char *bpath, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    for (;;) {
        long fd = syscall(SYS_openat2, fs_cfg.store_fd, *bpath ? bpath : ".", &how, sizeof how);
        if (fd >= 0)
            return (int)fd;
        if (errno == EINTR)
            continue;
        /* EAGAIN: a rename raced the lookup (RESOLVE_* lookups are not
         * retried by the kernel); the walk gives a definite answer. */
        return -errno;
    }
}

/* The fallback: one component at a time, each opened O_NOFOLLOW, the
 * intermediate ones O_DIRECTORY. ".." and "." never occur in backing
 * paths (names with '/' are refused at lookup); refuse them anyway. */
static int open_walk(const char *bpath, int flags)
{
    if (!*bpath) {  /* "" is STORE itself */
        int fd = openat(fs_cfg.store_fd, ".", flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
    }
    int dfd = openat(fs_cfg.store_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    const char *p = bpath;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char comp[NAME_MAX + 1];
        if (n == 0 || n > NAME_MAX || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
            close(dfd);
            return n > NAME_MAX ? -ENAMETOOLONG : -ENOENT;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        int last = !slash;
        int fd = openat(dfd, comp, (last ? flags : O_RDONLY | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(dfd);
        if (fd < 0)
            return -e;
        if (last)
            return fd;
        dfd = fd;
        p = slash + 1;
    }
    close(dfd);
    return -ENOENT;     /* a path ending in '/' */
}

int store_open(const char *bpath, int flags)
{
    if (!no_openat2) {
        int fd = open_beneath2(bpath, flags);
        if (fd != -ENOSYS && fd != -EAGAIN)
            return fd;
        if (fd == -ENOSYS)
            no_openat2 = 1;
    }
    return open_walk(bpath, flags);
}

int store_open_parent(const char *bpath, const char **last)
{
    const char *slash = strrchr(bpath, '/');
    *last = slash ? slash + 1 : bpath;
    if (!slash)
        return store_open("", O_RDONLY | O_DIRECTORY);
    size_t n = (size_t)(slash - bpath);
    char *dir = strndup(bpath, n);
    if (!dir)
        return -ENOMEM;
    int fd = store_open(dir, O_RDONLY | O_DIRECTORY);
    free(dir);
    return fd;
}

int bstat(const char *bpath, struct stat *st)
{
    if (remote_active())
        return remote_stat(bpath, st, NULL);
    if (!*bpath)
        return fstatat(fs_cfg.store_fd, ".", st, 0) != 0 ? -errno : 0;
    const char *last;
    int dfd = store_open_parent(bpath, &last);
    if (dfd < 0)
        return dfd;
    int rc = fstatat(dfd, last, st, AT_SYMLINK_NOFOLLOW) != 0 ? -errno : 0;
    close(dfd);
    return rc;
}

int store_readlink(const char *bpath, char *buf, size_t size)
{
    if (remote_active())
        return remote_readlink(bpath, buf, size);
    const char *last;
    int dfd = store_open_parent(bpath, &last);
    if (dfd < 0)
        return dfd;
    ssize_t n = readlinkat(dfd, last, buf, size - 1);
    int rc = n < 0 ? -errno : 0;
    close(dfd);
    if (n >= 0)
        buf[n] = '\0';
    return rc;
}
