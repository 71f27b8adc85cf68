/* Index and header serialisation (FORMAT.md 2-4). */
#include "container.h"

#include <stdlib.h>
#include <xxhash.h>
#include <zstd.h>

/* zstd -19 squeezes the index hardest but runs at ~1.7 MB/s: an 18.4 MB
 * index (100,000 segments) took 10.9 s at 19, 0.36 s at 9 for 2.5% more
 * bytes (1,748,880 vs 1,792,007). Below 1 MiB, -19 costs under ~0.6 s
 * and every real checkpoint's index is there (GPT-2: 36 KB); above, 9. */
#define DF11_INDEX_SMALL (1u << 20)

int df11_index_level(size_t raw_len)
{
    return raw_len < DF11_INDEX_SMALL ? 19 : 9;
}

df11_status df11_index_build(const df11_plan *plan, const uint32_t *first_chunk,
                             const uint8_t (*len)[256], const df11_fmt_chunk *chunks,
                             uint64_t nchunks, const df11_ans_book *book,
                             const uint32_t *seg_model, df11_index_blob *out)
{
    memset(out, 0, sizeof *out);
    size_t seg_bytes = (size_t)plan->count * DF11_SEGMENT_ENTRY_SIZE;
    size_t chunk_bytes = (size_t)nchunks * DF11_CHUNK_ENTRY_SIZE;
    size_t ans_bytes = book ? (size_t)book->ntables * DF11_FMT_TABLE_BYTES +
                                  (size_t)book->nmodels * DF11_FMT_MODEL_BYTES : 0;
    size_t raw = seg_bytes + chunk_bytes + ans_bytes;
    uint8_t *idx = calloc(raw + 1, 1);
    if (!idx) return DF11_E_NOMEM;
    for (uint32_t s = 0; s < plan->count; s++) {
        df11_fmt_segment f = {
            .orig_offset = plan->segs[s].offset,
            .orig_length = plan->segs[s].length,
            .first_chunk = first_chunk[s],
            .kind = plan->segs[s].kind,
            .model = seg_model ? seg_model[s] : 0,
        };
        if (plan->segs[s].kind != DF11_SEG_BYTES)
            memcpy(f.code_lengths, len[s], 256);
        df11_fmt_segment_pack(&f, idx + (size_t)s * DF11_SEGMENT_ENTRY_SIZE);
    }
    for (uint64_t c = 0; c < nchunks; c++)
        df11_fmt_chunk_pack(&chunks[c], idx + seg_bytes + c * DF11_CHUNK_ENTRY_SIZE);
    if (book) {
        uint8_t *q = idx + seg_bytes + chunk_bytes;
        for (uint32_t t = 0; t < book->ntables; t++, q += DF11_FMT_TABLE_BYTES)
            df11_fmt_table_pack(&book->tables[t], q);
        for (uint32_t m = 0; m < book->nmodels; m++, q += DF11_FMT_MODEL_BYTES)
            df11_fmt_model_pack(&book->models[m], q);
    }
    size_t zcap = ZSTD_compressBound(raw);
    out->z = malloc(zcap);
    if (!out->z) {
        free(idx);
        return DF11_E_NOMEM;
    }
    size_t zlen = ZSTD_compress(out->z, zcap, idx, raw, df11_index_level(raw));
    out->xxh3 = df11_xxh3_64(idx, raw);
    free(idx);
    if (ZSTD_isError(zlen)) {
        df11_index_free(out);
        return DF11_E_NOMEM; /* the bound fits, so only an allocation can fail */
    }
    out->zlen = zlen;
    out->raw_len = raw;
    return DF11_OK;
}

df11_status df11_ans_book_zsize(const df11_ans_book *b, size_t *out)
{
    size_t raw = (size_t)b->ntables * DF11_FMT_TABLE_BYTES + (size_t)b->nmodels * DF11_FMT_MODEL_BYTES;
    uint8_t *p = malloc(raw + 1), *q = p;
    size_t zcap = ZSTD_compressBound(raw);
    uint8_t *z = malloc(zcap);
    if (!p || !z) {
        free(p);
        free(z);
        return DF11_E_NOMEM;
    }
    for (uint32_t t = 0; t < b->ntables; t++, q += DF11_FMT_TABLE_BYTES) df11_fmt_table_pack(&b->tables[t], q);
    for (uint32_t m = 0; m < b->nmodels; m++, q += DF11_FMT_MODEL_BYTES) df11_fmt_model_pack(&b->models[m], q);
    size_t zlen = ZSTD_compress(z, zcap, p, raw, df11_index_level(raw));
    free(p);
    free(z);
    if (ZSTD_isError(zlen)) return DF11_E_NOMEM;
    *out = zlen;
    return DF11_OK;
}

void df11_index_free(df11_index_blob *b)
{
    free(b->z);
    b->z = NULL;
}

void df11_header_build(uint8_t h[DF11_HEADER_SIZE], uint64_t original_size,
                       const uint8_t sha[32], uint32_t chunk_log2, uint32_t segments,
                       uint64_t chunks, uint64_t index_offset, uint32_t flags,
                       const df11_ans_book *book, const df11_index_blob *ix)
{
    df11_fmt_header f = {
        .major = DF11_FORMAT_MAJOR,
        /* a file without features is a 1.0 file, byte for byte as before */
        .minor = df11_fmt_minor_of(flags),
        .flags = flags,
        .original_size = original_size,
        .chunk_log2 = chunk_log2,
        .lane_symbols = DF11_LANE_SYMBOLS_DEFAULT,
        .segment_count = segments,
        .chunk_count = (uint32_t)chunks,
        .index_offset = index_offset,
        .index_length = ix->zlen,
        .index_xxh3 = ix->xxh3,
        .table_count = book ? book->ntables : 0,
        .model_count = book ? book->nmodels : 0,
    };
    memcpy(f.sha256, sha, 32);
    df11_fmt_header_pack(&f, h);
}
