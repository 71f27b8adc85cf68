/*
 * store_util.h - helpers of the tests/c/store_*.c programs: result lines,
 * temporary folders, whole-file reads and writes, reading an entry through
 * a store source. Header-only (static), like codec_util.h.
 */
#ifndef STORE_UTIL_H
#define STORE_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "int.h"
#include "codec_util.h"

/* Result lines and the failure count are codec_util.h's. */
#define su_check tu_result
#define su_failures tu_failures

static inline const char * su_root(void)
{
    const char *r = getenv("DF11_ROOT");
    return r && *r ? r : ".";
}

static inline char * su_tmpdir(const char *tag)
{
    char *p = malloc(128);
    snprintf(p, 128, "/tmp/df11-%s.XXXXXX", tag);
    if (!mkdtemp(p)) {
        perror("mkdtemp");
        exit(2);
    }
    return p;
}

static inline void su_rmrf(const char *p)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", p);
}

static inline uint8_t * su_read(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) close(fd);
        return NULL;
    }
    uint8_t *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    *n = got;
    return b;
}

static inline void su_write(const char *path, const void *buf, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, buf, n) != (ssize_t)n) {
        perror(path);
        exit(2);
    }
    close(fd);
}

static inline void su_copy(const char *from, const char *to)
{
    size_t n;
    uint8_t *b = su_read(from, &n);
    if (!b) {
        perror(from);
        exit(2);
    }
    su_write(to, b, n);
    free(b);
}

/* Reads the whole stored object of e through a source, in pieces of
 * varying size; NULL (and *st) on failure. */
static inline uint8_t * su_read_entry(df11store *s, const df11store_entry *e, df11_status *st,
                              df11_error *err)
{
    df11_source src;
    *st = df11store_source(s, e, &src, err);
    if (*st)
        return NULL;
    uint8_t *buf = malloc(src.size + 1);
    uint64_t off = 0;
    size_t piece = 1000;
    while (off < src.size) {
        size_t got = 0;
        size_t want = piece < src.size - off ? piece : (size_t)(src.size - off);
        *st = src.read_at(src.ctx, buf + off, want, off, &got, err);
        if (*st || !got)
            break;
        off += got;
        piece = piece * 3 % 300007 + 1;
    }
    if (!*st && off != src.size)
        *st = DF11_E_TRUNCATED;
    src.close(src.ctx);
    if (*st) {
        free(buf);
        return NULL;
    }
    return buf;
}

static inline uint64_t su_stat(df11store *s, const char *name)
{
    char *t = df11store_stats(s);
    uint64_t v = UINT64_MAX;
    size_t n = strlen(name);
    for (char *l = t; l && *l;) {
        if (!strncmp(l, name, n) && l[n] == ' ') {
            v = strtoull(l + n + 1, NULL, 10);
            break;
        }
        char *nl = strchr(l, '\n');
        l = nl ? nl + 1 : NULL;
    }
    free(t);
    return v;
}

/* Block files (*.blk) under a cache folder and their total size. */
static inline size_t su_blocks(const char *cache, uint64_t *bytes, char *first, size_t cap)
{
    size_t n = 0;
    *bytes = 0;
    if (first) first[0] = 0;
    for (int i = 0; i < 256; i++) {
        char d[4096];
        snprintf(d, sizeof d, "%s/df11store-v1/blocks/%02x", cache, i);
        DIR *dir = opendir(d);
        if (!dir) continue;
        struct dirent *de;
        while ((de = readdir(dir))) {
            size_t k = strlen(de->d_name);
            if (k < 4 || strcmp(de->d_name + k - 4, ".blk")) continue;
            char p[8192];
            snprintf(p, sizeof p, "%s/%s", d, de->d_name);
            struct stat st;
            if (stat(p, &st) == 0) {
                n++;
                *bytes += (uint64_t)st.st_size;
                if (first && !first[0]) snprintf(first, cap, "%s", p);
            }
        }
        closedir(dir);
    }
    return n;
}

#endif
