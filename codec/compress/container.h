/* The index and the file header of a .df11 file (FORMAT.md 2-4), built in
 * memory once pass 1 has fixed every chunk's codec and size, so the whole
 * file can then be written front to back. */
#ifndef DF11_CONTAINER_H
#define DF11_CONTAINER_H
#include "ans_model.h"
#include "plan.h"

typedef struct {
    uint8_t *z;        /* the zstd frame of the index, malloc'd */
    size_t zlen;
    size_t raw_len;    /* decompressed size */
    uint64_t xxh3;     /* of the decompressed bytes */
} df11_index_blob;

/* Serialises the segment table (plan, first chunk and code lengths of each
 * segment) and chunks (nchunks records, packed here) and
 * compresses them. DF11_E_NOMEM or DF11_E_INTERNAL on failure. */
df11_status df11_index_build(const df11_plan *plan, const uint32_t *first_chunk,
                             const uint8_t (*len)[256], const df11_fmt_chunk *chunks,
                             uint64_t nchunks, const df11_ans_book *book,
                             const uint32_t *seg_model, df11_index_blob *out);
void df11_index_free(df11_index_blob *b);
/* The ANS records of b alone, zstd-compressed as the index would be: what
 * they add to a file, near enough, to decide whether ANS pays. */
df11_status df11_ans_book_zsize(const df11_ans_book *b, size_t *out);

/* The zstd level for an index of raw_len bytes (see container.c). */
int df11_index_level(size_t raw_len);

/* Fills the 128-byte file header. */
void df11_header_build(uint8_t h[DF11_HEADER_SIZE], uint64_t original_size,
                       const uint8_t sha[32], uint32_t chunk_log2, uint32_t segments,
                       uint64_t chunks, uint64_t index_offset, uint32_t flags,
                       const df11_ans_book *book, const df11_index_blob *ix);
#endif
