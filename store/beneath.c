/* beneath.c - opening a path beneath a folder's descriptor without
 * following a symlink in ANY component and without leaving the folder.
 *
 * Following one in an intermediate component would let whoever can write
 * a store swap a looked-up folder for a link to anywhere (a 0700 folder of
 * another user, /root) and read it through a mount that root runs with
 * allow_other, or through a node cache filled from a local store. df11fs's
 * local stores (fs/store_path.c) and this library's local origin both open
 * through here.
 *
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) does it in one call; on
 * kernels before 5.6 (ENOSYS) or under a seccomp filter that refuses it
 * (EPERM) the same rule is applied by walking the path one component at a
 * time with O_NOFOLLOW. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "df11store.h"

static atomic_int no_openat2;   /* set once the kernel said ENOSYS */

static int open_beneath2(int dirfd, const char *bpath, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    for (;;) {
        long fd = syscall(SYS_openat2, dirfd, *bpath ? bpath : ".", &how, sizeof how);
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
 * intermediate ones O_DIRECTORY. "." and ".." are refused: nothing under
 * a store is named so, and ".." would climb out. */
static int open_walk(int dirfd, const char *bpath, int flags)
{
    if (!*bpath) {  /* "" is dirfd's folder itself */
        int fd = openat(dirfd, ".", flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
    }
    int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

int df11store_open_beneath(int dirfd, const char *path, int flags)
{
    if (!atomic_load_explicit(&no_openat2, memory_order_relaxed)) {
        int fd = open_beneath2(dirfd, path, flags);
        if (fd != -ENOSYS && fd != -EAGAIN && fd != -EPERM)
            return fd;
        /* EPERM: a seccomp filter that does not know openat2 */
        if (fd == -ENOSYS || fd == -EPERM)
            atomic_store_explicit(&no_openat2, 1, memory_order_relaxed);
    }
    return open_walk(dirfd, path, flags);
}

