/*
 * format.h - the on-disk records of a .df11 file (doc/FORMAT.md 3-4): the
 * 128-byte header, the 160-byte segment entry and the 24-byte chunk entry,
 * packed and unpacked in one place. Unpacking only decodes fields; what
 * they must satisfy is checked by the reader (reader_open.c), which knows
 * the offsets to name in its messages.
 */
#ifndef DF11_FORMAT_H
#define DF11_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#define DF11_FMT_HEADER_BYTES 128u
#define DF11_FMT_SEGMENT_BYTES 160u
#define DF11_FMT_CHUNK_BYTES 24u

typedef struct {
    bool magic_ok;             /* bytes 0..7 */
    uint16_t major, minor;     /* 8, 10 */
    uint32_t flags;            /* 12 */
    uint64_t original_size;    /* 16 */
    uint8_t sha256[32];        /* 24 */
    uint32_t chunk_log2;       /* 56 */
    uint32_t lane_symbols;     /* 60 */
    uint32_t segment_count;    /* 64 */
    uint32_t chunk_count;      /* 68 */
    uint64_t index_offset;     /* 72 */
    uint64_t index_length;     /* 80: bytes of the zstd frame */
    uint64_t index_xxh3;       /* 88: XXH3 of the decompressed index */
    bool reserved_zero;        /* 96..119 */
    bool checksum_ok;          /* 120: XXH3 of bytes 0..119 */
} df11_fmt_header;

typedef struct {
    uint64_t orig_offset;      /* 0 */
    uint64_t orig_length;      /* 8 */
    uint32_t first_chunk;      /* 16 */
    uint8_t kind;              /* 20: enum df11_segment_kind */
    bool reserved_zero;        /* 21..31 */
    uint8_t code_lengths[256]; /* 32..159: one nibble each, even symbol low */
} df11_fmt_segment;

typedef struct {
    uint64_t payload_offset;   /* 0 */
    uint32_t payload_length;   /* 8 */
    uint8_t codec;             /* 12: 0 RAW, 1 ZSTD, 2 EXP */
    bool reserved_zero;        /* 13..15 */
    uint64_t xxh3;             /* 16: XXH3 of the decoded chunk */
} df11_fmt_chunk;

/* pack writes every byte of the record: the magic, zero reserved bytes
 * and (header) the checksum; the bool fields are ignored. */
void df11_fmt_header_pack(const df11_fmt_header *h, uint8_t out[DF11_FMT_HEADER_BYTES]);
void df11_fmt_header_unpack(const uint8_t in[DF11_FMT_HEADER_BYTES], df11_fmt_header *h);
void df11_fmt_segment_pack(const df11_fmt_segment *s, uint8_t out[DF11_FMT_SEGMENT_BYTES]);
void df11_fmt_segment_unpack(const uint8_t in[DF11_FMT_SEGMENT_BYTES], df11_fmt_segment *s);
void df11_fmt_chunk_pack(const df11_fmt_chunk *c, uint8_t out[DF11_FMT_CHUNK_BYTES]);
void df11_fmt_chunk_unpack(const uint8_t in[DF11_FMT_CHUNK_BYTES], df11_fmt_chunk *c);

#endif
