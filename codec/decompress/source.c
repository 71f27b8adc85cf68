/* Sources: where a reader gets the bytes of a .df11 object. This file holds
 * the one source that touches a descriptor (a local file) and the one loop
 * that turns a source's short reads and transient failures into an exact
 * read. Remote origins and caches implement df11_source outside codec/. */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* How often DF11_E_AGAIN is retried before the read counts as failed. A
 * source with a network behind it does its own retries with backoff; this
 * only stops a source that keeps saying "again" from spinning forever. */
#define DF11_SOURCE_AGAIN_MAX 8

df11_status df11_source_read_exact(const df11_source *src, void *buf, size_t len,
                                   uint64_t off, df11_error *err)
{
    uint8_t *p = buf;
    unsigned again = 0;
    while (len > 0) {
        size_t got = 0;
        df11_error e = { DF11_OK, "" };
        df11_status s = src->read_at(src->ctx, p, len, off, &got, &e);
        if (s == DF11_E_AGAIN) {
            if (++again <= DF11_SOURCE_AGAIN_MAX) continue;
            return df11_fail(err, DF11_E_IO, "%s: offset %llu: read still failing after %u retries: %s",
                             src->name, (unsigned long long)off, DF11_SOURCE_AGAIN_MAX, e.message);
        }
        if (s != DF11_OK) {
            if (err) {
                *err = e;
                err->code = s;
                if (!err->message[0])
                    snprintf(err->message, sizeof err->message, "%s: offset %llu: read failed (%s)",
                             src->name, (unsigned long long)off, df11_status_name(s));
            }
            return s;
        }
        if (got == 0)
            return df11_fail(err, DF11_E_TRUNCATED, "%s: offset %llu: unexpected end of file",
                             src->name, (unsigned long long)off);
        if (got > len)
            return df11_fail(err, DF11_E_IO, "%s: offset %llu: source returned more than asked",
                             src->name, (unsigned long long)off);
        again = 0;
        p += got;
        len -= got;
        off += got;
    }
    return DF11_OK;
}

/* ---- the local-file source ---- */

struct fd_source {
    int fd;
    char name[];
};

static df11_status fd_read_at(void *ctx, void *buf, size_t len, uint64_t off, size_t *got,
                              df11_error *err)
{
    struct fd_source *fs = ctx;
    for (;;) {
        ssize_t n = pread(fs->fd, buf, len, (off_t)off);
        if (n >= 0) {
            *got = (size_t)n;
            return DF11_OK;
        }
        if (errno == EINTR) continue;
        return df11_fail(err, DF11_E_IO, "%s: offset %llu: read failed: %s", fs->name,
                         (unsigned long long)off, strerror(errno));
    }
}

static void fd_close(void *ctx)
{
    struct fd_source *fs = ctx;
    close(fs->fd);
    free(fs);
}

df11_status df11_source_fd(int fd, const char *name, df11_source *out, df11_error *err)
{
    if (!out || fd < 0) return df11_fail(err, DF11_E_ARG, "df11_source_fd: bad argument");
    if (!name) name = "(descriptor)";
    struct stat st;
    if (fstat(fd, &st) != 0)
        return df11_fail(err, DF11_E_IO, "%s: stat failed: %s", name, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return df11_fail(err, DF11_E_IO, "%s: not a regular file", name);
    struct fd_source *fs = malloc(sizeof *fs + strlen(name) + 1);
    if (!fs) return df11_fail(err, DF11_E_NOMEM, "%s: out of memory", name);
    fs->fd = fd;
    strcpy(fs->name, name);
    *out = (df11_source){ .ctx = fs, .size = (uint64_t)st.st_size, .name = fs->name,
                          .read_at = fd_read_at, .close = fd_close };
    return DF11_OK;
}

df11_status df11_open(const char *path, df11_reader **out, df11_error *err)
{
    if (!path || !out) return df11_fail(err, DF11_E_ARG, "df11_open: NULL argument");
    *out = NULL;
    /* O_NONBLOCK: a FIFO or a device must not block the open; a regular
     * file ignores the flag. df11_source_fd refuses anything but a regular
     * file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return df11_fail(err, DF11_E_IO, "%s: cannot open: %s", path, strerror(errno));
    df11_source src;
    df11_status s = df11_source_fd(fd, path, &src, err);
    if (s != DF11_OK) {
        close(fd);
        return s;
    }
    return df11_open_source(&src, out, err);
}
