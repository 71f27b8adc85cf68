/*
 * codec_util.h - helpers shared by the tests/c/codec_*.c programs: a
 * seeded generator, BF16 weights, safetensors writing, whole-file reads
 * and result lines. Everything is static inline so each program takes
 * only what it uses without -Wunused-function.
 */
#ifndef CODEC_UTIL_H
#define CODEC_UTIL_H

#include "df11.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- results ---- */
static int tu_failures;

static inline void tu_result(bool ok, const char *name, const char *fmt, ...)
{
    printf("%s %s", ok ? "PASS" : "FAIL", name);
    if (!ok && fmt) {
        va_list ap;
        va_start(ap, fmt);
        printf(": ");
        vprintf(fmt, ap);
        va_end(ap);
    }
    printf("\n");
    fflush(stdout);
    if (!ok) tu_failures++;
}

/* ---- seeded generator (splitmix64: tiny, and any seed is a good seed) ---- */
typedef struct { uint64_t s; } tu_rng;

static inline uint64_t tu_next(tu_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* Uniform in [0, n); n > 0. The modulo bias is irrelevant for tests. */
static inline uint64_t tu_below(tu_rng *r, uint64_t n) { return tu_next(r) % n; }
static inline double tu_unit(tu_rng *r) { return (double)(tu_next(r) >> 11) * 0x1.0p-53; }
static inline double tu_gauss(tu_rng *r)
{
    double u = tu_unit(r), v = tu_unit(r);
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* The seed: DF11_SEED from the environment to replay a run, else the time.
 * Always printed so a failure can be replayed. */
static inline uint64_t tu_seed(const char *prog)
{
    const char *env = getenv("DF11_SEED");
    uint64_t seed = env && *env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    printf("# %s: seed %llu (replay with DF11_SEED=%llu)\n", prog, (unsigned long long)seed,
           (unsigned long long)seed);
    return seed;
}

/* ---- weights ---- */
static inline uint16_t tu_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7FFFu + ((u >> 16) & 1); /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

/* n BF16 little-endian values ~ N(0, std). */
static inline void tu_fill_bf16(tu_rng *r, uint8_t *dst, size_t n, double std)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t v = tu_f32_to_bf16((float)(tu_gauss(r) * std));
        dst[2 * i] = (uint8_t)v;
        dst[2 * i + 1] = (uint8_t)(v >> 8);
    }
}

static inline void tu_fill_f32(tu_rng *r, uint8_t *dst, size_t n, double std)
{
    for (size_t i = 0; i < n; i++) {
        float f = (float)(tu_gauss(r) * std);
        memcpy(dst + 4 * i, &f, 4); /* the host is little-endian (x86-64) */
    }
}

static inline void tu_fill_random(tu_rng *r, uint8_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = (uint8_t)tu_next(r);
}

/* ---- safetensors writing ---- */
typedef struct {
    const char *name;
    const char *dtype;
    uint64_t shape0;   /* one-dimensional shapes are enough here */
    const uint8_t *data;
    size_t len;        /* bytes */
} tu_tensor;

/* Writes a safetensors file (header padded to 8 bytes with spaces, data in
 * the given order) and returns its bytes (malloc'd) and size. */
static inline uint8_t *tu_write_safetensors(const char *path, const tu_tensor *t, size_t n,
                                            size_t *size_out)
{
    size_t cap = 256 + n * 256, hl = 0;
    char *h = malloc(cap);
    if (!h) return NULL;
    uint64_t off = 0;
    hl += (size_t)snprintf(h + hl, cap - hl, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < n; i++) {
        hl += (size_t)snprintf(h + hl, cap - hl,
                               ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%llu],\"data_offsets\":[%llu,%llu]}",
                               t[i].name, t[i].dtype, (unsigned long long)t[i].shape0,
                               (unsigned long long)off, (unsigned long long)(off + t[i].len));
        off += t[i].len;
    }
    hl += (size_t)snprintf(h + hl, cap - hl, "}");
    while (hl % 8) h[hl++] = ' ';
    size_t size = 8 + hl + (size_t)off;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        free(h);
        return NULL;
    }
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, h, hl);
    free(h);
    size_t at = 8 + hl;
    for (size_t i = 0; i < n; i++) {
        if (t[i].len) memcpy(buf + at, t[i].data, t[i].len);
        at += t[i].len;
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, size, f) != size) {
        if (f) fclose(f);
        free(buf);
        return NULL;
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *size_out = size;
    return buf;
}

static inline uint8_t *tu_read_file(const char *path, size_t *size_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(size ? size : 1);
    while (buf && got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n <= 0) {
            free(buf);
            buf = NULL;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (buf) *size_out = size;
    return buf;
}

static inline bool tu_write_file(const char *path, const uint8_t *buf, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    size_t put = 0;
    while (put < size) {
        ssize_t n = write(fd, buf + put, size - put);
        if (n <= 0) {
            close(fd);
            return false;
        }
        put += (size_t)n;
    }
    return close(fd) == 0;
}

/* A fresh folder under $TMPDIR (or /tmp); the caller removes its files. */
static inline char *tu_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char *p = malloc(4096);
    if (!p) return NULL;
    snprintf(p, 4096, "%s/df11-codec-test.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(p)) {
        free(p);
        return NULL;
    }
    return p;
}

#endif
