#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exitcodes.h"
#include "input.h"
#include "msg.h"
#include "outfile.h"

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

int copy_file(const char *src, const char *dst, int force)
{
    int in, rc;
    struct stat st;
    if ((rc = input_open(src, &in, &st)))
        return rc;
    outfile f;
    if ((rc = outfile_open(&f, dst, force)) == CLI_EXIT_OK) {
        rc = copy_fd(in, f.fd, src, dst);
        if (rc == CLI_EXIT_OK)
            rc = outfile_commit(&f, &st);
        else
            outfile_abort(&f);
    }
    close(in);
    return rc;
}

int same_file(const char *a, const char *b)
{
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev &&
           x.st_ino == y.st_ino;
}
