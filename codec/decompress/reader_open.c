/* Opening a .df11 file: the header and the index are checked completely
 * here, so every later read can trust offsets, lengths and code tables. */
#include "../common/format.h"
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#define FAIL(code, off, ...) fail_at(err, code, r->path, off, __VA_ARGS__)

static df11_status fail_at(df11_error *err, df11_status code, const char *path, uint64_t off,
                           const char *what)
{
    return df11_fail(err, code, "%s: offset %llu: %s", path, (unsigned long long)off, what);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

/* The checks that need nothing but the 128 header bytes; shared by
 * df11_parse_header (a size without opening) and the reader's open. */
static df11_status check_header(const df11_fmt_header *h, const char *path, df11_error *err)
{
    if (!h->magic_ok) return fail_at(err, DF11_E_BAD_MAGIC, path, 0, "not a .df11 file (bad magic)");
    if (h->major != DF11_FORMAT_MAJOR)
        return df11_fail(err, DF11_E_VERSION, "%s: offset 8: format version %u.%u is not supported (this library reads %u.x)",
                         path, h->major, h->minor, DF11_FORMAT_MAJOR);
    if (!h->checksum_ok) return fail_at(err, DF11_E_CORRUPT_HEADER, path, 120, "header checksum mismatch");
    /* Flag bits are required features (FORMAT.md 8): one this library
     * lacks is a version problem, named, not corruption. */
    if (h->flags & ~DF11_FMT_KNOWN_FLAGS) {
        char b[16];
        return df11_fail(err, DF11_E_VERSION,
                         "%s: offset 12: format %u.%u file needs feature %s, which this library (format %u.%u: EXP_HI, ANS, ANS_IL, EXP_LZ, IL_SIGNS) does not have",
                         path, h->major, h->minor, df11_fmt_feature_name(h->flags & ~DF11_FMT_KNOWN_FLAGS, b),
                         DF11_FORMAT_MAJOR, DF11_FORMAT_MINOR);
    }
    if (!h->reserved_zero) return fail_at(err, DF11_E_CORRUPT_HEADER, path, 104, "reserved bytes are not zero");
    if (!(h->flags & DF11_FMT_FLAGS_MODELS) && (h->table_count || h->model_count))
        return fail_at(err, DF11_E_CORRUPT_HEADER, path, 96, "ANS table counts without the ANS or ANS_IL flag");
    /* IL_SIGNS changes ANS_IL payloads; a file without them has no use
     * for it and sets it only by corruption */
    if ((h->flags & DF11_FMT_FLAG_IL_SIGNS) && !(h->flags & DF11_FMT_FLAG_ANS_IL))
        return fail_at(err, DF11_E_CORRUPT_HEADER, path, 12, "flag IL_SIGNS without flag ANS_IL");
    return DF11_OK;
}

/* A buffer shorter than the header: bad magic if its first bytes already
 * differ from the magic (an empty or short non-.df11 file), else truncated. */
static df11_status short_header(const uint8_t *h, size_t len, const char *path, df11_error *err)
{
    size_t n = len < 8 ? len : 8;
    if (n == 0 || memcmp(h, df11_magic, n) != 0)
        return fail_at(err, DF11_E_BAD_MAGIC, path, 0, "not a .df11 file (bad magic)");
    return fail_at(err, DF11_E_TRUNCATED, path, len, "file is shorter than the 128-byte header");
}

df11_status df11_parse_header(const void *buf, size_t len, const char *name,
                              df11_header_info *out, df11_error *err)
{
    if (!buf || !out) return df11_fail(err, DF11_E_ARG, "df11_parse_header: NULL argument");
    if (!name) name = "(buffer)";
    if (len < DF11_HEADER_SIZE) return short_header(buf, len, name, err);
    df11_fmt_header h;
    df11_fmt_header_unpack(buf, &h);
    df11_status s = check_header(&h, name, err);
    if (s != DF11_OK) return s;
    out->original_size = h.original_size;
    memcpy(out->original_sha256, h.sha256, 32);
    return DF11_OK;
}

static df11_status parse_header(df11_reader *r, const df11_fmt_header *h, df11_error *err)
{
    df11_status st = check_header(h, r->path, err);
    if (st != DF11_OK) return st;
    r->original_size = h->original_size;
    memcpy(r->sha256, h->sha256, 32);
    r->chunk_log2 = h->chunk_log2;
    r->lane_symbols = h->lane_symbols;
    r->segment_count = h->segment_count;
    r->chunk_count = h->chunk_count;
    r->index_offset = h->index_offset;
    r->flags = h->flags;
    r->minor = h->minor;
    r->table_count = h->table_count;
    r->model_count = h->model_count;
    uint64_t index_length = h->index_length;
    if (r->chunk_log2 < DF11_CHUNK_LOG2_MIN || r->chunk_log2 > DF11_CHUNK_LOG2_MAX)
        return FAIL(DF11_E_CORRUPT_HEADER, 56, "chunk size out of range");
    uint32_t L = r->lane_symbols;
    if (L < DF11_LANE_SYMBOLS_MIN || L > DF11_LANE_SYMBOLS_MAX || (L & (L - 1)))
        return FAIL(DF11_E_CORRUPT_HEADER, 60, "lane size out of range");
    if (r->index_offset < DF11_HEADER_SIZE || r->index_offset > r->file_size ||
        index_length > r->file_size - r->index_offset)
        return FAIL(DF11_E_TRUNCATED, 72, "index does not end at the end of the file");
    if (index_length != r->file_size - r->index_offset)
        return FAIL(DF11_E_CORRUPT_HEADER, r->index_offset + index_length, "bytes after the end of the index");
    if ((r->original_size == 0) != (r->segment_count == 0) || r->segment_count > r->chunk_count)
        return FAIL(DF11_E_CORRUPT_HEADER, 64, "segment and chunk counts are inconsistent");
    return DF11_OK;
}

static df11_status parse_segments(df11_reader *r, const uint8_t *idx, df11_error *err)
{
    uint64_t pos = 0;
    uint32_t chunks = 0;
    uint64_t C = 1ull << r->chunk_log2;
    for (uint32_t i = 0; i < r->segment_count; i++) {
        df11_fmt_segment f;
        df11_fmt_segment_unpack(idx + (size_t)i * DF11_SEGMENT_ENTRY_SIZE, &f);
        uint64_t at = r->index_offset + (uint64_t)i * DF11_SEGMENT_ENTRY_SIZE;
        df11_segment *s = &r->segments[i];
        s->orig_offset = f.orig_offset;
        s->orig_length = f.orig_length;
        s->first_chunk = f.first_chunk;
        s->kind = f.kind;
        memcpy(s->code_lengths, f.code_lengths, 256);
        s->model = f.model;
        if (s->orig_offset != pos || s->orig_length == 0 || s->orig_length > r->original_size - pos)
            return FAIL(DF11_E_CORRUPT_INDEX, at, "segment is not contiguous with the previous one");
        if (s->kind > DF11_SEG_EXP32 || !f.reserved_zero)
            return FAIL(DF11_E_CORRUPT_INDEX, at + 20, "bad segment kind or reserved bytes");
        /* EXP32 segments have models from 1.3 on, for ANS_IL_LZ chunks:
         * only in files with the flags those need (FORMAT.md 8) */
        const uint32_t lz_il = df11_fmt_codec_flags(DF11_FMT_ANS_IL_LZ);
        if (s->model && (s->kind == DF11_SEG_BYTES || s->model > r->model_count ||
                         (s->kind == DF11_SEG_EXP32 && (r->flags & lz_il) != lz_il)))
            return FAIL(DF11_E_CORRUPT_INDEX, at + 24, "ANS model where none can be");
        uint64_t width = s->kind == DF11_SEG_EXP32 ? 4 : 2;
        if (s->kind != DF11_SEG_BYTES && s->orig_length % width)
            return FAIL(DF11_E_CORRUPT_INDEX, at + 8, "segment length is not a whole number of elements");
        uint64_t n = s->orig_length / C + (s->orig_length % C != 0);
        if (s->first_chunk != chunks || n > r->chunk_count - chunks)
            return FAIL(DF11_E_CORRUPT_INDEX, at + 16, "segment's first chunk does not follow the previous segment");
        s->chunk_count = (uint32_t)n;
        chunks += (uint32_t)n;
        pos += s->orig_length;
        if (s->kind == DF11_SEG_BYTES) {
            if (!all_zero(s->code_lengths, 256))
                return FAIL(DF11_E_BAD_TABLE, at + 32, "code lengths in a BYTES segment");
            continue;
        }
        bool constant;
        if (df11_huff_check(s->code_lengths, &constant) != DF11_OK)
            return FAIL(DF11_E_BAD_TABLE, at + 32, "invalid Huffman code lengths");
        s->code_hash = df11_code_hash(s->code_lengths);
    }
    if (pos != r->original_size || chunks != r->chunk_count)
        return FAIL(DF11_E_CORRUPT_INDEX, r->index_offset, "segments do not cover the original file");
    return DF11_OK;
}

/* The longest EXP payload of n elements of width W: every lane at its
 * 16-bit bit-length maximum (n <= 2^20 / 2). */
static uint64_t max_exp(const df11_reader *r, uint64_t n, uint64_t W)
{
    uint64_t nl = df11_lanes((uint32_t)n, r->lane_symbols);
    return 2 * nl + (nl * UINT16_MAX + 7) / 8 + n * (W - 1);
}

/* The longest ANS_IL payload of n elements: lane states, at most one word
 * per step (two per element), signs. */
static uint64_t max_ans_il(uint64_t n)
{
    return 4ull * df11_ans_il_lanes((uint32_t)n) + 4 * n + (n + 7) / 8;
}

/* The longest payload a valid chunk can have, so a crafted index cannot make
 * a reader allocate gigabytes for one chunk. EXP_LZ and ANS_IL_LZ: the
 * length word, the upper part of n = D / 4 elements, the planes' frame. */
static uint64_t max_payload(const df11_reader *r, const df11_segment *s, const df11_chunk *c)
{
    uint64_t D = c->decoded_length;
    switch (c->codec) {
    case DF11_FMT_ZSTD: return ZSTD_compressBound(D);
    case DF11_FMT_ANS: {
        uint64_t n = D / 2, nl = df11_lanes((uint32_t)n, DF11_ANS_LANE);
        return DF11_ANS_LANE_HEAD * nl + 2 * nl * UINT16_MAX + (n + 7) / 8;
    }
    case DF11_FMT_ANS_IL: return max_ans_il(D / 2);
    case DF11_FMT_ANS_IL_LZ: return 4 + max_ans_il(D / 4) + ZSTD_compressBound(D / 2);
    case DF11_FMT_EXP_HI: return max_exp(r, D / 4, 2);
    case DF11_FMT_EXP_LZ: return 4 + max_exp(r, D / 4, 2) + ZSTD_compressBound(D / 2);
    case DF11_FMT_EXP: return s->kind == DF11_SEG_EXP32 ? max_exp(r, D / 4, 4) : max_exp(r, D / 2, 2);
    default: return D;
    }
}

/* Whether a chunk codec may stand in a segment of this kind (FORMAT.md 4):
 * RAW and ZSTD anywhere, EXP in EXP16 and EXP32, ANS and ANS_IL in EXP16,
 * the codecs of F32 chunks in EXP32. */
static bool codec_fits_kind(uint8_t codec, uint8_t kind)
{
    switch (codec) {
    case DF11_FMT_RAW:
    case DF11_FMT_ZSTD: return true;
    case DF11_FMT_EXP: return kind != DF11_SEG_BYTES;
    case DF11_FMT_ANS:
    case DF11_FMT_ANS_IL: return kind == DF11_SEG_EXP16;
    default: return kind == DF11_SEG_EXP32;
    }
}

static df11_status parse_chunks(df11_reader *r, const uint8_t *idx, df11_error *err)
{
    const uint8_t *base = idx + (size_t)r->segment_count * DF11_SEGMENT_ENTRY_SIZE;
    uint64_t at0 = r->index_offset + (uint64_t)r->segment_count * DF11_SEGMENT_ENTRY_SIZE;
    uint64_t payload = DF11_HEADER_SIZE;
    uint32_t i = 0;
    for (uint32_t si = 0; si < r->segment_count; si++) {
        const df11_segment *s = &r->segments[si];
        for (uint32_t j = 0; j < s->chunk_count; j++, i++) {
            df11_fmt_chunk f;
            df11_fmt_chunk_unpack(base + (size_t)i * DF11_CHUNK_ENTRY_SIZE, &f);
            uint64_t at = at0 + (uint64_t)i * DF11_CHUNK_ENTRY_SIZE;
            df11_chunk *c = &r->chunks[i];
            c->payload_offset = f.payload_offset;
            c->payload_length = f.payload_length;
            c->codec = f.codec;
            c->xxh3 = f.xxh3;
            c->segment = si;
            c->orig_offset = s->orig_offset + ((uint64_t)j << r->chunk_log2);
            uint64_t left = s->orig_offset + s->orig_length - c->orig_offset;
            c->decoded_length = (uint32_t)(left < (1ull << r->chunk_log2) ? left : 1ull << r->chunk_log2);
            if (c->payload_offset != payload || c->payload_length > r->index_offset - payload)
                return FAIL(DF11_E_CORRUPT_INDEX, at, "chunk payload is not contiguous with the previous one");
            payload += c->payload_length;
            uint32_t need = df11_fmt_codec_flags(c->codec);
            if (c->codec > DF11_FMT_ANS_IL_LZ || !f.reserved_zero || (r->flags & need) != need ||
                !codec_fits_kind(c->codec, s->kind) || ((need & DF11_FMT_FLAGS_MODELS) && s->model == 0))
                return FAIL(DF11_E_CORRUPT_INDEX, at + 12, "bad chunk codec for its segment");
            if (c->codec == DF11_FMT_RAW && c->payload_length != c->decoded_length)
                return FAIL(DF11_E_CORRUPT_INDEX, at + 8, "RAW chunk length differs from its decoded length");
            if (c->payload_length > max_payload(r, s, c))
                return FAIL(DF11_E_CORRUPT_INDEX, at + 8, "chunk payload is longer than its codec can produce");
        }
    }
    if (payload != r->index_offset)
        return FAIL(DF11_E_CORRUPT_INDEX, r->index_offset, "chunk payloads do not end where the index starts");
    return DF11_OK;
}

/* The ANS tables and models (FORMAT.md 9, 10) after the chunk table: every
 * table sums to 2^prob_bits; a model's exponent table has 14 bits (an ANS
 * model) or 12 (an ANS_IL model), its mantissa tables 12 bits and no
 * symbol above 127, and every context is one of its eight. Decoding then
 * never meets a slot without a symbol. Which codec a model serves is
 * checked against the chunks that use it (check_model_uses). */
static df11_status parse_ans(df11_reader *r, const uint8_t *idx, df11_error *err)
{
    const uint8_t *base = idx + (size_t)r->segment_count * DF11_SEGMENT_ENTRY_SIZE +
                          (size_t)r->chunk_count * DF11_CHUNK_ENTRY_SIZE;
    uint64_t at0 = r->index_offset + (uint64_t)(base - idx);
    for (uint32_t i = 0; i < r->table_count; i++) {
        df11_fmt_table *t = &r->tables[i];
        df11_fmt_table_unpack(base + (size_t)i * DF11_FMT_TABLE_BYTES, t);
        uint64_t sum = 0;
        for (int k = 0; k < 256; k++) sum += t->freq[k];
        if ((t->prob_bits != DF11_ANS_EXP_BITS && t->prob_bits != DF11_ANS_MANT_BITS) ||
            sum != 1ull << t->prob_bits)
            return FAIL(DF11_E_BAD_TABLE, at0 + (uint64_t)i * DF11_FMT_TABLE_BYTES,
                        "ANS table does not sum to 2^prob_bits");
    }
    base += (size_t)r->table_count * DF11_FMT_TABLE_BYTES;
    at0 += (uint64_t)r->table_count * DF11_FMT_TABLE_BYTES;
    for (uint32_t i = 0; i < r->model_count; i++) {
        df11_fmt_model *m = &r->models[i];
        df11_fmt_model_unpack(base + (size_t)i * DF11_FMT_MODEL_BYTES, m);
        bool ok = m->exp_table < r->table_count;
        for (int e = 0; e < 256; e++) ok = ok && m->ctx[e] < DF11_ANS_CONTEXTS;
        for (unsigned c = 0; ok && c < DF11_ANS_CONTEXTS; c++) {
            uint32_t t = m->mant_table[c];
            ok = t < r->table_count && r->tables[t].prob_bits == DF11_ANS_MANT_BITS;
            for (int k = 128; ok && k < 256; k++) ok = r->tables[t].freq[k] == 0;
        }
        if (!ok)
            return FAIL(DF11_E_BAD_TABLE, at0 + (uint64_t)i * DF11_FMT_MODEL_BYTES,
                        "ANS model refers to missing or unfit tables");
    }
    return DF11_OK;
}

/* Whether model m may serve ANS_IL chunks (FORMAT.md 10): a 12-bit
 * exponent table, and no symbol of it or of its mantissa tables owning all
 * 4096 slots (the one-lookup entries hold frequencies in 12 bits). */
static bool il_model(const df11_reader *r, const df11_fmt_model *m, bool *all_below)
{
    const df11_fmt_table *t = &r->tables[m->exp_table];
    bool below = true;
    for (int k = 0; k < 256; k++) below = below && t->freq[k] < (1u << DF11_ANS_IL_BITS);
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++)
        for (int k = 0; k < 256; k++) below = below && r->tables[m->mant_table[c]].freq[k] < (1u << DF11_ANS_IL_BITS);
    *all_below = below;
    return t->prob_bits == DF11_ANS_IL_BITS;
}

/* A model serves one codec, which its exponent table's prob_bits says: 14
 * for ANS chunks (codec 3), 12 for ANS_IL chunks (codec 5). */
static df11_status check_model_uses(df11_reader *r, df11_error *err)
{
    uint64_t at0 = r->index_offset + (uint64_t)r->segment_count * DF11_SEGMENT_ENTRY_SIZE;
    uint64_t models = at0 + (uint64_t)r->chunk_count * DF11_CHUNK_ENTRY_SIZE +
                      (uint64_t)r->table_count * DF11_FMT_TABLE_BYTES;
    uint32_t last = UINT32_MAX; /* the segment checked last: chunks come by segment */
    for (uint32_t i = 0; i < r->chunk_count; i++) {
        const df11_chunk *c = &r->chunks[i];
        if (!(df11_fmt_codec_flags(c->codec) & DF11_FMT_FLAGS_MODELS) || c->segment == last) continue;
        last = c->segment;
        uint32_t mi = r->segments[c->segment].model - 1;
        const df11_fmt_model *m = &r->models[mi];
        bool below, il = il_model(r, m, &below);
        /* the segment's other chunks: one codec per model */
        for (uint32_t j = i; j < r->chunk_count && r->chunks[j].segment == c->segment; j++) {
            uint8_t cj = r->chunks[j].codec == DF11_FMT_ANS_IL_LZ ? DF11_FMT_ANS_IL : r->chunks[j].codec;
            uint64_t at = at0 + (uint64_t)j * DF11_CHUNK_ENTRY_SIZE + 12;
            if (cj == DF11_FMT_ANS && il)
                return FAIL(DF11_E_CORRUPT_INDEX, at, "ANS chunk whose model has a 12-bit exponent table");
            if (cj == DF11_FMT_ANS_IL && !il)
                return FAIL(DF11_E_CORRUPT_INDEX, at, "ANS_IL chunk whose model has a 14-bit exponent table");
            if (cj == DF11_FMT_ANS_IL && !below)
                return FAIL(DF11_E_CORRUPT_INDEX, models + (uint64_t)mi * DF11_FMT_MODEL_BYTES,
                            "ANS_IL model with a symbol owning all 4096 slots of a table");
        }
    }
    return DF11_OK;
}

static df11_status load(df11_reader *r, df11_error *err)
{
    r->file_size = r->src.size;
    if (r->file_size < DF11_HEADER_SIZE) {
        uint8_t m[8] = {0};
        size_t n = r->file_size < 8 ? (size_t)r->file_size : 8;
        df11_status s = df11_source_read_exact(&r->src, m, n, 0, err);
        return s != DF11_OK ? s : short_header(m, (size_t)r->file_size, r->path, err);
    }
    uint8_t raw[DF11_HEADER_SIZE];
    df11_fmt_header h;
    df11_status s = df11_source_read_exact(&r->src, raw, sizeof raw, 0, err);
    if (s == DF11_OK) {
        df11_fmt_header_unpack(raw, &h);
        s = parse_header(r, &h, err);
    }
    if (s != DF11_OK) return s;
    /* The stored index is at most the file; its decoded size follows from
     * the counts, which cannot claim more than the file could describe. */
    size_t zlen = (size_t)(r->file_size - r->index_offset);
    uint64_t len = (uint64_t)r->segment_count * DF11_SEGMENT_ENTRY_SIZE +
                   (uint64_t)r->chunk_count * DF11_CHUNK_ENTRY_SIZE +
                   (uint64_t)r->table_count * DF11_FMT_TABLE_BYTES +
                   (uint64_t)r->model_count * DF11_FMT_MODEL_BYTES;
    /* zstd expands at most ~32768x (RLE blocks); 1 GiB of index already
     * describes an 11 TB original. Checked before anything is allocated. */
    if (r->chunk_count > r->original_size || len > (uint64_t)zlen * 32768 || len > (1ull << 30))
        return FAIL(DF11_E_CORRUPT_HEADER, 64, "segment or chunk count is impossible");
    uint8_t *z = malloc(zlen ? zlen : 1);
    uint8_t *idx = malloc(len ? len : 1);
    r->segments = calloc(r->segment_count ? r->segment_count : 1, sizeof *r->segments);
    r->chunks = calloc(r->chunk_count ? r->chunk_count : 1, sizeof *r->chunks);
    r->tables = calloc(r->table_count ? r->table_count : 1, sizeof *r->tables);
    r->models = calloc(r->model_count ? r->model_count : 1, sizeof *r->models);
    if (!z || !idx || !r->segments || !r->chunks || !r->tables || !r->models)
        s = df11_fail(err, DF11_E_NOMEM, "%s: out of memory", r->path);
    if (s == DF11_OK) s = df11_source_read_exact(&r->src, z, zlen, r->index_offset, err);
    if (s == DF11_OK && (ZSTD_findFrameCompressedSize(z, zlen) != zlen ||
                         ZSTD_decompress(idx, len, z, zlen) != len))
        s = FAIL(DF11_E_CORRUPT_INDEX, r->index_offset, "index is not one zstd frame of the expected size");
    free(z);
    if (s == DF11_OK && df11_xxh3_64(idx, len) != h.index_xxh3)
        s = FAIL(DF11_E_CORRUPT_INDEX, r->index_offset, "index checksum mismatch");
    if (s == DF11_OK) s = parse_segments(r, idx, err);
    if (s == DF11_OK) s = parse_chunks(r, idx, err);
    if (s == DF11_OK) s = parse_ans(r, idx, err);
    if (s == DF11_OK) s = check_model_uses(r, err);
    free(idx);
    return s;
}

df11_status df11_open_source(const df11_source *src, df11_reader **out, df11_error *err)
{
    if (!src || !out || !src->read_at) {
        if (src && src->close) src->close(src->ctx);
        return df11_fail(err, DF11_E_ARG, "df11_open_source: NULL argument");
    }
    *out = NULL;
    const char *name = src->name ? src->name : "(source)";
    df11_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(name))) {
        free(r);
        if (src->close) src->close(src->ctx);
        return df11_fail(err, DF11_E_NOMEM, "%s: out of memory", name);
    }
    r->src = *src;
    r->src.name = r->path;
    r->uid = df11_reader_uid();
    pthread_mutex_init(&r->tensor_lock, NULL);
    df11_status s = load(r, err);
    if (s != DF11_OK) {
        df11_close(r);
        return s;
    }
    *out = r;
    return DF11_OK;
}

void df11_close(df11_reader *r)
{
    if (!r) return;
    if (r->src.close) r->src.close(r->src.ctx);
    df11_tensor_table_free(r->tensors);
    pthread_mutex_destroy(&r->tensor_lock);
    free(r->segments);
    free(r->chunks);
    free(r->tables);
    free(r->models);
    free(r->path);
    free(r);
}

uint64_t df11_original_size(const df11_reader *r) { return r->original_size; }
const uint8_t *df11_original_sha256(const df11_reader *r) { return r->sha256; }
uint64_t df11_stored_size(const df11_reader *r) { return r->file_size; }
const char *df11_path(const df11_reader *r) { return r->path; }

void df11_format(const df11_reader *r, df11_format_info *out)
{
    memset(out, 0, sizeof *out);
    out->major = DF11_FORMAT_MAJOR;
    out->minor = r->minor;
    /* open refused any flag this library does not know, so each has a
     * static name */
    for (unsigned b = 0; b < 32 && out->feature_count < sizeof out->features / sizeof *out->features; b++)
        if (r->flags >> b & 1 & DF11_FMT_KNOWN_FLAGS >> b) {
            char buf[16];
            out->features[out->feature_count++] = df11_fmt_feature_name(1u << b, buf);
        }
}
uint32_t df11_chunk_count(const df11_reader *r) { return r->chunk_count; }
uint32_t df11_chunk_size_max(const df11_reader *r) { return 1u << r->chunk_log2; }

uint64_t df11_overhead_bytes(const df11_reader *r)
{
    uint64_t o = r->file_size - r->index_offset + DF11_HEADER_SIZE;
    for (uint32_t i = 0; i < r->chunk_count; i++) {
        const df11_chunk *c = &r->chunks[i];
        uint32_t W = r->segments[c->segment].kind == DF11_SEG_EXP32 ? 4 : 2;
        if (c->codec == DF11_FMT_EXP || c->codec == DF11_FMT_EXP_HI || c->codec == DF11_FMT_EXP_LZ)
            o += 2ull * df11_lanes(c->decoded_length / W, r->lane_symbols);
        if (c->codec == DF11_FMT_ANS)
            o += DF11_ANS_LANE_HEAD * (uint64_t)df11_lanes(c->decoded_length / 2, DF11_ANS_LANE);
        if (c->codec == DF11_FMT_ANS_IL) o += 4ull * df11_ans_il_lanes(c->decoded_length / 2);
        if (c->codec == DF11_FMT_EXP_LZ) o += 4; /* its length word */
        if (c->codec == DF11_FMT_ANS_IL_LZ) o += 4 + 4ull * df11_ans_il_lanes(c->decoded_length / 4);
    }
    return o;
}
