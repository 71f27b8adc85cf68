#include "naming.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *base_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* 1 when the last component of p ends with suffix after a non-empty stem. */
static int has_suffix(const char *p, const char *suffix)
{
    const char *b = base_of(p);
    size_t n = strlen(b), k = strlen(suffix);
    return n > k && memcmp(b + n - k, suffix, k) == 0;
}

static char *swap(const char *p, size_t cut, const char *add)
{
    size_t n = strlen(p) - cut, k = strlen(add);
    char *r = malloc(n + k + 1);
    if (r) {
        memcpy(r, p, n);
        memcpy(r + n, add, k + 1);
    }
    return r;
}

char *naming_stored(const char *p)
{
    if (has_suffix(p, NAMING_ST))
        return swap(p, strlen(NAMING_ST), NAMING_DF11);
    return swap(p, 0, NAMING_KEEP);
}

char *naming_original(const char *p)
{
    if (has_suffix(p, NAMING_DF11))
        return swap(p, strlen(NAMING_DF11), NAMING_ST);
    if (has_suffix(p, NAMING_KEEP))
        return swap(p, strlen(NAMING_KEEP), "");
    return NULL;
}

int naming_is_packed(const char *p)
{
    return has_suffix(p, NAMING_DF11) || has_suffix(p, NAMING_KEEP);
}

int naming_sniff_fd(int fd, off_t size)
{
    unsigned char b[9];
    if (size < 10 || pread(fd, b, sizeof b, 0) != (ssize_t)sizeof b)
        return 0;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | b[i];
    return n >= 2 && n <= (uint64_t)size - 8 && b[8] == '{';
}

int naming_sniff_path(const char *path)
{
    struct stat st;
    /* Regular files only, and a non-blocking open, as in input.c: a FIFO
     * must not hang the scan. */
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int r = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && naming_sniff_fd(fd, st.st_size);
    close(fd);
    return r;
}
