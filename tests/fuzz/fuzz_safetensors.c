/*
 * fuzz_safetensors: arbitrary bytes as a safetensors JSON header. Parsing
 * must fail cleanly or give tensors that lie inside the file.
 */
#include "../../codec/decompress/reader.h"

#include <stdio.h>
#include <stdlib.h>

static void fs_require(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_safetensors: invariant broken: %s\n", what);
        abort();
    }
}

int fuzz_safetensors(const uint8_t *d, size_t n)
{
    /* a file with some data after the header, so offsets can be valid */
    uint64_t file_size = 8 + (uint64_t)n + 4096;
    df11_st_header h;
    df11_error e = {0};
    df11_status s = df11_st_parse("fuzz.safetensors", d, n, file_size, &h, &e);
    fs_require(s == DF11_OK || s == DF11_E_NOT_SAFETENSORS || s == DF11_E_NOMEM, "status");
    if (s != DF11_OK) {
        fs_require(h.tensors == NULL && h.count == 0, "failed parse leaves nothing");
        fs_require(e.code == s && strstr(e.message, "fuzz.safetensors") != NULL, "error names the file");
        return 0;
    }
    fs_require(h.data_start == 8 + (uint64_t)n, "data starts after the header");
    for (size_t i = 0; i < h.count; i++) {
        const df11_st_tensor *t = &h.tensors[i];
        fs_require(t->name != NULL && memchr(t->dtype, 0, sizeof t->dtype) != NULL, "name and dtype");
        fs_require(t->begin >= h.data_start && t->begin <= t->end && t->end <= file_size,
                   "tensor inside the file");
        fs_require(t->elements_ok || t->elements == 0, "overflowed shape has no element count");
    }
    df11_st_free(&h);
    return 0;
}

#ifndef DF11_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_safetensors(d, n); }
#endif
