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

/* Format 1.1 to 1.4 (FORMAT.md 8): header flag bits are required features. A
 * file sets a bit only when it uses the feature; a reader that meets a bit
 * it does not know reports DF11_E_VERSION naming it. */
#define DF11_FMT_FLAG_EXP_HI 0x1u /* chunk codec 4: EXP32 chunk, low halves zero */
#define DF11_FMT_FLAG_ANS 0x2u    /* chunk codec 3, the table and model area */
#define DF11_FMT_FLAG_ANS_IL 0x4u /* 1.2: chunk codec 5, the table and model area */
#define DF11_FMT_FLAG_EXP_LZ 0x8u /* 1.3: chunk codecs 6 and 7, EXP32 with zstd-coded low planes */
#define DF11_FMT_FLAG_IL_SIGNS 0x10u /* 1.4: ANS_IL lane states carry signs (10.1); needs ANS_IL */
#define DF11_FMT_KNOWN_FLAGS                                                                     \
    (DF11_FMT_FLAG_EXP_HI | DF11_FMT_FLAG_ANS | DF11_FMT_FLAG_ANS_IL | DF11_FMT_FLAG_EXP_LZ |    \
     DF11_FMT_FLAG_IL_SIGNS)
/* The minor version a file with these flags says (FORMAT.md 8): the one
 * that defined the newest feature it uses; 0 (a 1.0 file) for none. */
static inline uint16_t df11_fmt_minor_of(uint32_t flags)
{
    return flags & DF11_FMT_FLAG_IL_SIGNS ? 4
           : flags & DF11_FMT_FLAG_EXP_LZ ? 3
           : flags & DF11_FMT_FLAG_ANS_IL ? 2
           : flags                        ? 1
                                          : 0;
}
/* "EXP_HI" etc. for the lowest bit set in flags; "bit N" for unknown ones. */
const char *df11_fmt_feature_name(uint32_t flags, char buf[16]);

/* Chunk codecs (FORMAT.md 4). */
enum {
    DF11_FMT_RAW = 0,
    DF11_FMT_ZSTD = 1,
    DF11_FMT_EXP = 2,
    DF11_FMT_ANS = 3,    /* 1.1 */
    DF11_FMT_EXP_HI = 4, /* 1.1 */
    DF11_FMT_ANS_IL = 5, /* 1.2 */
    DF11_FMT_EXP_LZ = 6, /* 1.3 */
    DF11_FMT_ANS_IL_LZ = 7 /* 1.3 */
};

/* The header flags a chunk codec needs (FORMAT.md 4, 8); 0 for 1.0's.
 * The encoder sets a file's flags from its chunks with it, the reader
 * checks each chunk against them. */
static inline uint32_t df11_fmt_codec_flags(uint8_t codec)
{
    switch (codec) {
    case DF11_FMT_ANS: return DF11_FMT_FLAG_ANS;
    case DF11_FMT_EXP_HI: return DF11_FMT_FLAG_EXP_HI;
    case DF11_FMT_ANS_IL: return DF11_FMT_FLAG_ANS_IL;
    case DF11_FMT_EXP_LZ: return DF11_FMT_FLAG_EXP_LZ;
    case DF11_FMT_ANS_IL_LZ: return DF11_FMT_FLAG_ANS_IL | DF11_FMT_FLAG_EXP_LZ;
    default: return 0;
    }
}
/* The features whose chunks decode with their segment's ANS model, and
 * which bring the table and model records (FORMAT.md 9, 10). */
#define DF11_FMT_FLAGS_MODELS (DF11_FMT_FLAG_ANS | DF11_FMT_FLAG_ANS_IL)

/* The ANS codec's records (FORMAT.md 9), after the chunk table in the
 * index: table_count frequency tables, then model_count models. */
#define DF11_FMT_TABLE_BYTES 516u /* u32 prob_bits, 256 x u16 freq */
#define DF11_FMT_MODEL_BYTES 292u /* u32 exp table, u8 ctx[256], u32 mant table[8] */
#define DF11_ANS_CONTEXTS 8u
typedef struct {
    uint32_t prob_bits;
    uint16_t freq[256];
} df11_fmt_table;
typedef struct {
    uint32_t exp_table;
    uint8_t ctx[256];
    uint32_t mant_table[DF11_ANS_CONTEXTS];
} df11_fmt_model;
void df11_fmt_table_pack(const df11_fmt_table *t, uint8_t out[DF11_FMT_TABLE_BYTES]);
void df11_fmt_table_unpack(const uint8_t in[DF11_FMT_TABLE_BYTES], df11_fmt_table *t);
void df11_fmt_model_pack(const df11_fmt_model *m, uint8_t out[DF11_FMT_MODEL_BYTES]);
void df11_fmt_model_unpack(const uint8_t in[DF11_FMT_MODEL_BYTES], df11_fmt_model *m);

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
    uint32_t table_count;      /* 96: ANS tables (1.1, flag ANS; else 0) */
    uint32_t model_count;      /* 100: ANS models (1.1, flag ANS; else 0) */
    bool reserved_zero;        /* 104..119 */
    bool checksum_ok;          /* 120: XXH3 of bytes 0..119 */
} df11_fmt_header;

typedef struct {
    uint64_t orig_offset;      /* 0 */
    uint64_t orig_length;      /* 8 */
    uint32_t first_chunk;      /* 16 */
    uint8_t kind;              /* 20: enum df11_segment_kind */
    uint32_t model;            /* 24: ANS model index + 1, 0 for none (1.1) */
    bool reserved_zero;        /* 21..23, 28..31 */
    uint8_t code_lengths[256]; /* 32..159: one nibble each, even symbol low */
} df11_fmt_segment;

typedef struct {
    uint64_t payload_offset;   /* 0 */
    uint32_t payload_length;   /* 8 */
    uint8_t codec;             /* 12: DF11_FMT_RAW ... DF11_FMT_EXP_HI */
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
