/* Packing and unpacking of the .df11 records (format.h); the byte offsets
 * of doc/FORMAT.md live here and nowhere else. */
#include "format.h"
#include "internal.h"

#include <stdio.h>
#include <xxhash.h>

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

void df11_fmt_header_pack(const df11_fmt_header *h, uint8_t out[DF11_FMT_HEADER_BYTES])
{
    memset(out, 0, DF11_FMT_HEADER_BYTES);
    memcpy(out, df11_magic, 8);
    df11_wr16(out + 8, h->major);
    df11_wr16(out + 10, h->minor);
    df11_wr32(out + 12, h->flags);
    df11_wr64(out + 16, h->original_size);
    memcpy(out + 24, h->sha256, 32);
    df11_wr32(out + 56, h->chunk_log2);
    df11_wr32(out + 60, h->lane_symbols);
    df11_wr32(out + 64, h->segment_count);
    df11_wr32(out + 68, h->chunk_count);
    df11_wr64(out + 72, h->index_offset);
    df11_wr64(out + 80, h->index_length);
    df11_wr64(out + 88, h->index_xxh3);
    df11_wr32(out + 96, h->table_count);
    df11_wr32(out + 100, h->model_count);
    df11_wr64(out + 120, XXH3_64bits(out, 120));
}

void df11_fmt_header_unpack(const uint8_t in[DF11_FMT_HEADER_BYTES], df11_fmt_header *h)
{
    h->magic_ok = memcmp(in, df11_magic, 8) == 0;
    h->major = df11_rd16(in + 8);
    h->minor = df11_rd16(in + 10);
    h->flags = df11_rd32(in + 12);
    h->original_size = df11_rd64(in + 16);
    memcpy(h->sha256, in + 24, 32);
    h->chunk_log2 = df11_rd32(in + 56);
    h->lane_symbols = df11_rd32(in + 60);
    h->segment_count = df11_rd32(in + 64);
    h->chunk_count = df11_rd32(in + 68);
    h->index_offset = df11_rd64(in + 72);
    h->index_length = df11_rd64(in + 80);
    h->index_xxh3 = df11_rd64(in + 88);
    h->table_count = df11_rd32(in + 96);
    h->model_count = df11_rd32(in + 100);
    h->reserved_zero = all_zero(in + 104, 16);
    h->checksum_ok = XXH3_64bits(in, 120) == df11_rd64(in + 120);
}

void df11_fmt_segment_pack(const df11_fmt_segment *s, uint8_t out[DF11_FMT_SEGMENT_BYTES])
{
    memset(out, 0, DF11_FMT_SEGMENT_BYTES);
    df11_wr64(out, s->orig_offset);
    df11_wr64(out + 8, s->orig_length);
    df11_wr32(out + 16, s->first_chunk);
    out[20] = s->kind;
    df11_wr32(out + 24, s->model);
    for (int k = 0; k < 128; k++)
        out[32 + k] = (uint8_t)((s->code_lengths[2 * k] & 0x0F) | s->code_lengths[2 * k + 1] << 4);
}

void df11_fmt_segment_unpack(const uint8_t in[DF11_FMT_SEGMENT_BYTES], df11_fmt_segment *s)
{
    s->orig_offset = df11_rd64(in);
    s->orig_length = df11_rd64(in + 8);
    s->first_chunk = df11_rd32(in + 16);
    s->kind = in[20];
    s->model = df11_rd32(in + 24);
    s->reserved_zero = all_zero(in + 21, 3) && all_zero(in + 28, 4);
    for (int k = 0; k < 128; k++) {
        s->code_lengths[2 * k] = in[32 + k] & 0x0F;
        s->code_lengths[2 * k + 1] = in[32 + k] >> 4;
    }
}

void df11_fmt_chunk_pack(const df11_fmt_chunk *c, uint8_t out[DF11_FMT_CHUNK_BYTES])
{
    memset(out, 0, DF11_FMT_CHUNK_BYTES);
    df11_wr64(out, c->payload_offset);
    df11_wr32(out + 8, c->payload_length);
    out[12] = c->codec;
    df11_wr64(out + 16, c->xxh3);
}

void df11_fmt_chunk_unpack(const uint8_t in[DF11_FMT_CHUNK_BYTES], df11_fmt_chunk *c)
{
    c->payload_offset = df11_rd64(in);
    c->payload_length = df11_rd32(in + 8);
    c->codec = in[12];
    c->reserved_zero = all_zero(in + 13, 3);
    c->xxh3 = df11_rd64(in + 16);
}

const char *df11_fmt_feature_name(uint32_t flags, char buf[16])
{
    if (flags & DF11_FMT_FLAG_EXP_HI) return "EXP_HI";
    if (flags & DF11_FMT_FLAG_ANS) return "ANS";
    if (flags & DF11_FMT_FLAG_ANS_IL) return "ANS_IL";
    if (flags & DF11_FMT_FLAG_EXP_LZ) return "EXP_LZ";
    if (flags & DF11_FMT_FLAG_IL_SIGNS) return "IL_SIGNS";
    for (unsigned b = 0; b < 32; b++)
        if (flags >> b & 1) {
            snprintf(buf, 16, "bit %u", b);
            return buf;
        }
    return "none";
}

void df11_fmt_table_pack(const df11_fmt_table *t, uint8_t out[DF11_FMT_TABLE_BYTES])
{
    df11_wr32(out, t->prob_bits);
    for (int s = 0; s < 256; s++) df11_wr16(out + 4 + 2 * s, t->freq[s]);
}

void df11_fmt_table_unpack(const uint8_t in[DF11_FMT_TABLE_BYTES], df11_fmt_table *t)
{
    t->prob_bits = df11_rd32(in);
    for (int s = 0; s < 256; s++) t->freq[s] = df11_rd16(in + 4 + 2 * s);
}

void df11_fmt_model_pack(const df11_fmt_model *m, uint8_t out[DF11_FMT_MODEL_BYTES])
{
    df11_wr32(out, m->exp_table);
    memcpy(out + 4, m->ctx, 256);
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) df11_wr32(out + 260 + 4 * c, m->mant_table[c]);
}

void df11_fmt_model_unpack(const uint8_t in[DF11_FMT_MODEL_BYTES], df11_fmt_model *m)
{
    m->exp_table = df11_rd32(in);
    memcpy(m->ctx, in + 4, 256);
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) m->mant_table[c] = df11_rd32(in + 260 + 4 * c);
}
