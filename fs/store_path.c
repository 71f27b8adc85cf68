/* store_path.c - every path into STORE is resolved here, beneath STORE's
 * descriptor and following no symlink in any component
 * (df11store_open_beneath, shared with libdf11store's local origin: the
 * reason is written there). Symlinks inside STORE are still shown as
 * symlinks: the kernel resolves those against the mount, not us. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

int store_open(const char *bpath, int flags)
{
    return df11store_open_beneath(fs_cfg.store_fd, bpath, flags);
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
