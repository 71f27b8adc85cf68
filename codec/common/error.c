/* Status names, error messages and the small I/O helper every part uses. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

const uint8_t df11_magic[8] = {'D', 'F', '1', '1', 0x0D, 0x0A, 0x1A, 0x0A};

const char *df11_status_name(df11_status code)
{
    static const char *const names[] = {
        "DF11_OK", "DF11_E_ARG", "DF11_E_NOMEM", "DF11_E_IO", "DF11_E_TRUNCATED",
        "DF11_E_BAD_MAGIC", "DF11_E_VERSION", "DF11_E_CORRUPT_HEADER",
        "DF11_E_CORRUPT_INDEX", "DF11_E_BAD_TABLE", "DF11_E_CORRUPT_CHUNK",
        "DF11_E_CHECKSUM", "DF11_E_SHA256", "DF11_E_NOT_SAFETENSORS", "DF11_E_RANGE",
        "DF11_E_NO_GPU", "DF11_E_GPU", "DF11_E_INTERNAL", "DF11_E_AGAIN",
        "DF11_E_CHANGED",
    };
    if ((unsigned)code < sizeof names / sizeof names[0]) return names[code];
    return "DF11_E_UNKNOWN";
}

const char *df11_version(void) { return DF11_LIB_VERSION; }

df11_status df11_fail(df11_error *err, df11_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void df11_error_keep_first(pthread_mutex_t *lock, df11_error *dst, const df11_error *src)
{
    if (!dst) return;
    pthread_mutex_lock(lock);
    if (dst->code == DF11_OK) *dst = *src;
    pthread_mutex_unlock(lock);
}

df11_status df11_fd_read_exact(int fd, const char *path, void *buf, size_t len,
                            uint64_t off, df11_error *err)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t got = pread(fd, p, len, (off_t)off);
        if (got < 0) {
            if (errno == EINTR) continue;
            return df11_fail(err, DF11_E_IO, "%s: offset %llu: read failed: %s", path,
                             (unsigned long long)off, strerror(errno));
        }
        if (got == 0)
            return df11_fail(err, DF11_E_TRUNCATED, "%s: offset %llu: unexpected end of file",
                             path, (unsigned long long)off);
        p += got;
        len -= (size_t)got;
        off += (uint64_t)got;
    }
    return DF11_OK;
}
