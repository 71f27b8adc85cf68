/* Packing and unpacking of the .df11 records (format.h); the byte offsets
 * of doc/FORMAT.md live here and nowhere else. */
#include "format.h"
#include "internal.h"

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
    h->reserved_zero = all_zero(in + 96, 24);
    h->checksum_ok = XXH3_64bits(in, 120) == df11_rd64(in + 120);
}

void df11_fmt_segment_pack(const df11_fmt_segment *s, uint8_t out[DF11_FMT_SEGMENT_BYTES])
{
    memset(out, 0, DF11_FMT_SEGMENT_BYTES);
    df11_wr64(out, s->orig_offset);
    df11_wr64(out + 8, s->orig_length);
    df11_wr32(out + 16, s->first_chunk);
    out[20] = s->kind;
    for (int k = 0; k < 128; k++)
        out[32 + k] = (uint8_t)((s->code_lengths[2 * k] & 0x0F) | s->code_lengths[2 * k + 1] << 4);
}

void df11_fmt_segment_unpack(const uint8_t in[DF11_FMT_SEGMENT_BYTES], df11_fmt_segment *s)
{
    s->orig_offset = df11_rd64(in);
    s->orig_length = df11_rd64(in + 8);
    s->first_chunk = df11_rd32(in + 16);
    s->kind = in[20];
    s->reserved_zero = all_zero(in + 21, 11);
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
