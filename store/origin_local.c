/* origin_local.c - a store in a local (or NFS) folder: objects are read
 * with pread, resolved beneath the folder with no symlink on the way (a
 * manifest names objects, it cannot send a read outside the store). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "int.h"

typedef struct {
    origin base;
    int dfd;
} local_origin;

/* Opens object beneath the store folder (no symlink in any component)
 * and fstats it; -1 with an error naming the object otherwise. */
static int open_object(origin *o, const char *object, struct stat *st, df11_error *err)
{
    int fd = origin_local_open_object(o, object);
    if (fd < 0) {
        st_fail(err, DF11_E_IO, "%s/%s: cannot open: %s", o->display, object, strerror(-fd));
        return -1;
    }
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        st_fail(err, DF11_E_IO, "%s/%s: cannot open: %s", o->display, object, strerror(e));
        return -1;
    }
    return fd;
}

int origin_local_open_object(origin *o, const char *object)
{
    return df11store_open_beneath(((local_origin *)o)->dfd, object, O_RDONLY | O_NONBLOCK);
}

static df11_status local_get(origin *o, const char *object, uint64_t off, size_t len, void *buf,
                             uint64_t expect_size, uint64_t *total, int64_t deadline,
                             df11_error *err)
{
    (void)deadline;
    if (o->ctr)
        atomic_fetch_add(&o->ctr->origin_requests, 1);
    struct stat st;
    int fd = open_object(o, object, &st, err);
    if (fd < 0)
        return err ? err->code : DF11_E_IO;
    if (total)
        *total = (uint64_t)st.st_size;
    if (expect_size != UINT64_MAX && (uint64_t)st.st_size != expect_size) {
        close(fd);
        return st_fail(err, DF11_E_IO, "%s/%s: is %llu bytes, the manifest says %llu", o->display,
                       object, (unsigned long long)st.st_size, (unsigned long long)expect_size);
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            return r < 0 ? st_fail(err, DF11_E_IO, "%s/%s: read at %llu: %s", o->display, object,
                                   (unsigned long long)(off + got), strerror(e))
                         : st_fail(err, DF11_E_IO, "%s/%s: ends at %llu, before %llu", o->display,
                                   object, (unsigned long long)(off + got),
                                   (unsigned long long)(off + len));
        }
        got += (size_t)r;
    }
    close(fd);
    if (o->ctr)
        atomic_fetch_add(&o->ctr->origin_bytes, len);
    return DF11_OK;
}

static df11_status local_get_all(origin *o, const char *object, const char *etag, void **buf,
                                 size_t *len, char **etag_out, int *not_modified, size_t max,
                                 int64_t deadline, df11_error *err)
{
    (void)etag;
    (void)deadline;
    *not_modified = 0;
    *etag_out = NULL;
    struct stat st;
    int fd = open_object(o, object, &st, err);
    if (fd < 0)
        return err ? err->code : DF11_E_IO;
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return st_fail(err, DF11_E_IO, "%s/%s: larger than %zu bytes", o->display, object, max);
    }
    size_t n = (size_t)st.st_size;
    char *p = malloc(n + 1);
    if (!p) {
        close(fd);
        return st_fail(err, DF11_E_NOMEM, "out of memory");
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    p[got] = 0;
    *buf = p;
    *len = got;
    return DF11_OK;
}

static void local_free(origin *o)
{
    local_origin *lo = (local_origin *)o;
    close(lo->dfd);
    free(o->display);
    free(lo);
}

df11_status origin_local_open(const char *dir, origin **out, df11_error *err)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return st_fail(err, DF11_E_IO, "%s: cannot open store folder: %s", dir, strerror(errno));
    local_origin *lo = calloc(1, sizeof *lo);
    if (!lo || !(lo->base.display = strdup(dir))) {
        free(lo);
        close(dfd);
        return st_fail(err, DF11_E_NOMEM, "out of memory");
    }
    lo->dfd = dfd;
    lo->base.get = local_get;
    lo->base.get_all = local_get_all;
    lo->base.free = local_free;
    *out = &lo->base;
    return DF11_OK;
}
