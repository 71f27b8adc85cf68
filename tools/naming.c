#include "naming.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
