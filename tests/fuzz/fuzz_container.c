/*
 * fuzz_container: arbitrary bytes as a .df11 file. The file is opened, every
 * chunk it claims (up to a cap) is decoded, the original is read with
 * df11_pread, and the tensor table is listed. Nothing may crash, leak or
 * read out of bounds, and what the reader reports must hang together.
 *
 * The first input byte picks fix-ups so the fuzzer gets past the checksums
 * it could never forge: bit 0 recomputes the header checksum; bit 1 takes
 * the bytes from the header's index_offset to the end as the *raw* index,
 * compresses it into one zstd frame and fixes index_length and index_xxh3.
 */
#include "../../codec/decompress/reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#define FC_MAX_CHUNKS 64
#define FC_MAX_READ (4u << 20)

static void fc_require(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_container: invariant broken: %s\n", what);
        abort();
    }
}

/* Builds the file the input describes; returns its bytes (malloc'd). */
static uint8_t *fc_build(const uint8_t *d, size_t n, size_t *size)
{
    uint8_t mode = n ? d[0] : 0;
    const uint8_t *f = n ? d + 1 : d;
    size_t fn = n ? n - 1 : 0;
    if (fn < DF11_HEADER_SIZE || !(mode & 3)) {
        uint8_t *out = malloc(fn ? fn : 1);
        if (out && fn) memcpy(out, f, fn);
        *size = fn;
        return out;
    }
    uint64_t io = df11_rd64(f + 72);
    if (io < DF11_HEADER_SIZE || io > fn) io = fn;
    size_t raw_len = fn - (size_t)io;
    size_t zcap = ZSTD_compressBound(raw_len);
    uint8_t *out = malloc((size_t)io + zcap);
    if (!out) return NULL;
    memcpy(out, f, (size_t)io);
    size_t total = fn;
    if (mode & 2) {
        size_t z = ZSTD_compress(out + io, zcap, f + io, raw_len, 1);
        if (ZSTD_isError(z)) {
            free(out);
            return NULL;
        }
        df11_wr64(out + 72, io);
        df11_wr64(out + 80, z);
        df11_wr64(out + 88, XXH3_64bits(f + io, raw_len));
        total = (size_t)io + z;
    } else {
        memcpy(out + io, f + io, raw_len);
    }
    df11_wr64(out + 120, XXH3_64bits(out, 120));
    *size = total;
    return out;
}

static void fc_exercise(df11_reader *r)
{
    uint64_t size = df11_original_size(r);
    uint32_t nc = df11_chunk_count(r), cmax = df11_chunk_size_max(r);
    fc_require(cmax >= (1u << DF11_CHUNK_LOG2_MIN) && cmax <= (1u << DF11_CHUNK_LOG2_MAX), "chunk size");
    uint8_t *chunk = malloc(cmax);
    if (!chunk) return;
    uint64_t pos = 0;
    for (uint32_t i = 0; i < nc; i++) { /* the chunks tile the original */
        uint64_t off;
        uint32_t len;
        df11_chunk_extent(r, i, &off, &len);
        fc_require(off == pos && len > 0 && len <= cmax, "chunk extents tile the original");
        fc_require(df11_chunk_at(r, off) == i && df11_chunk_at(r, off + len - 1) == i, "chunk_at");
        pos += len;
    }
    fc_require(pos == size, "chunks cover the original");
    size_t want = size < FC_MAX_READ ? (size_t)size : FC_MAX_READ;
    uint8_t *all = malloc(want ? want : 1);
    df11_status whole = all ? df11_pread(r, all, want, 0, NULL) : DF11_E_NOMEM;
    for (uint32_t i = 0; i < nc && i < FC_MAX_CHUNKS; i++) {
        uint64_t off;
        uint32_t len;
        df11_chunk_extent(r, i, &off, &len);
        df11_error e = {0};
        df11_status s = df11_decode_chunk(r, i, chunk, &e);
        fc_require(s == e.code, "status and error code agree");
        /* a chunk inside a range that read fine decodes to the same bytes */
        if (s == DF11_OK && whole == DF11_OK && off + len <= want)
            fc_require(memcmp(chunk, all + off, len) == 0, "decode_chunk agrees with pread");
        if (whole == DF11_OK && off + len <= want) fc_require(s == DF11_OK, "pread ok but chunk fails");
    }
    fc_require(df11_pread(r, chunk, 1, size, NULL) == DF11_E_RANGE, "read past the end is E_RANGE");
    if (size <= FC_MAX_READ) {
        df11_error e = {0};
        df11_status s = df11_verify(r, 1, NULL, NULL, &e);
        fc_require(s == e.code, "verify status and error code agree");
        if (s == DF11_OK) fc_require(whole == DF11_OK, "verify ok but pread failed");
    }
    size_t count = 0;
    if (df11_tensor_count(r, &count, NULL) == DF11_OK)
        for (size_t i = 0; i <= count; i++) {
            df11_tensor t;
            df11_status s = df11_tensor_get(r, i, &t, NULL);
            fc_require((s == DF11_OK) == (i < count), "tensor_get range");
            if (s == DF11_OK)
                fc_require(t.name && t.dtype && t.offset <= size && t.length <= size - t.offset,
                           "tensor lies inside the original");
        }
    (void)df11_overhead_bytes(r);
    free(all);
    free(chunk);
}

int fuzz_container(const uint8_t *d, size_t n)
{
    size_t size = 0;
    uint8_t *file = fc_build(d, n, &size);
    if (!file) return 0;
    int fd = memfd_create("df11-fuzz", MFD_CLOEXEC);
    if (fd < 0) {
        free(file);
        return 0;
    }
    size_t put = 0;
    while (put < size) {
        ssize_t w = write(fd, file + put, size - put);
        if (w <= 0) break;
        put += (size_t)w;
    }
    free(file);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    df11_reader *r = NULL;
    df11_error e = {0};
    df11_status s = put == size ? df11_open(path, &r, &e) : DF11_E_IO;
    if (s == DF11_OK) {
        fc_require(r != NULL && df11_stored_size(r) == size, "open fills the reader");
        fc_exercise(r);
        df11_close(r);
    } else {
        fc_require(r == NULL, "failed open leaves no reader");
        if (put == size)
            fc_require(e.code == s && strstr(e.message, path) != NULL, "error names the file");
    }
    close(fd);
    return 0;
}

#ifndef DF11_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_container(d, n); }
#endif
