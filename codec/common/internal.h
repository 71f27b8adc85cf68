/*
 * internal.h - what the encoder (codec/compress/) and the reader
 * (codec/decompress/) share: the format's constants and byte order, error
 * helpers, Huffman codes, the ordered parallel loop, the safetensors
 * header. What only the reader needs (its structures, the decoders, the
 * table cache) is in codec/decompress/reader.h. fs/, tools/, bench/ and
 * python/ never see either: they see only df11.h.
 */
#ifndef DF11_INTERNAL_H
#define DF11_INTERNAL_H

#include "df11.h"
#include "ans.h"
#include "format.h"
#include "lanes.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <xxhash.h>
/* Chunk-sized buffers are hashed with df11_xxh3_64 (df11.h: the CPU's
 * widest loop, registers left clean); small records keep XXH3_64bits. */

#define DF11_HEADER_SIZE DF11_FMT_HEADER_BYTES
#define DF11_SEGMENT_ENTRY_SIZE DF11_FMT_SEGMENT_BYTES
#define DF11_CHUNK_ENTRY_SIZE DF11_FMT_CHUNK_BYTES
#define DF11_MAX_CODE_LEN 12u
#define DF11_TABLE_SIZE (1u << DF11_MAX_CODE_LEN)
/* Every payload buffer handed to a decoder has this many readable bytes
 * past its end, so bit readers may load 8 bytes at a time without bounds
 * checks; the lane-length check catches any real overrun. */
#define DF11_PAYLOAD_SLACK 16u
#define DF11_CHUNK_LOG2_MIN 16u
#define DF11_CHUNK_LOG2_MAX 20u
#define DF11_CHUNK_LOG2_DEFAULT 18u
#define DF11_LANE_SYMBOLS_DEFAULT 2048u
#define DF11_LANE_SYMBOLS_MIN 256u
#define DF11_LANE_SYMBOLS_MAX 4096u
/* More threads than this only add memory (windows of chunk buffers). */
#define DF11_MAX_THREADS 256u

extern const uint8_t df11_magic[8];

enum df11_segment_kind { DF11_SEG_BYTES = 0, DF11_SEG_EXP16 = 1, DF11_SEG_EXP32 = 2 };

/* CPU decode table: entry[peek of the next 12 bits]. Each entry decodes up
 * to six whole symbols: bits 0..7 the bits consumed, bits 8..15 the symbol
 * count, bits 16..63 the symbols (first in the low byte). The bits consumed
 * sit in the low byte so the decoder can shift its bit window by the entry
 * itself: the lookup-to-lookup dependency is then load, shift, shift. Six,
 * not four: on GPT-2 a 12-bit window holds 4.18 whole exponent codes per
 * lookup on average when up to six count, 3.67 when four do. */
#define DF11_TABLE_MAX_SYMBOLS 6u
typedef struct {
    uint64_t entry[DF11_TABLE_SIZE];
    uint8_t len[256];        /* code length of each symbol */
    bool constant;           /* one-symbol code: no bits at all */
    uint8_t constant_symbol;
} df11_huff_dtable;

/* A buffer owned by the calling thread, reused across calls and freed at
 * thread exit; slots 0..DF11_THREAD_SLOTS-1 are independent (2: the ANS
 * decode table, 3..6: the ANS_IL ones). NULL when out of memory. */
uint8_t *df11_thread_buffer(unsigned slot, size_t size);
#define DF11_THREAD_SLOTS 7u
/* Slots first..first+count-1 as the calling thread's cache of decode
 * tables, each of `size` bytes: the one that holds model `model` of the
 * reader with `uid` (never 0), else the least recently used, and *stale
 * is true: the caller builds that table there at once. The `count` most
 * recently asked stay valid. NULL when out of memory. */
uint8_t *df11_thread_table(unsigned first, unsigned count, size_t size, uint64_t uid, uint32_t model,
                           bool *stale);
/* The calling thread's zstd decompression context (ZSTD_DCtx), made on
 * first use and freed at thread exit: ZSTD_decompress makes and frees one
 * of about 160 KB per call. NULL when out of memory. */
struct ZSTD_DCtx_s *df11_thread_dctx(void);
/* ZSTD_decompress through it, or without it when there is none. */
size_t df11_zstd_decompress(void *dst, size_t cap, const void *src, size_t len);

/* Fills *err (if not NULL) and returns code. Messages name the file first. */
df11_status df11_fail(df11_error *err, df11_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline uint16_t df11_rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t df11_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t df11_rd64(const uint8_t *p) {
    return (uint64_t)df11_rd32(p) | (uint64_t)df11_rd32(p + 4) << 32;
}
static inline void df11_wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void df11_wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void df11_wr64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Copies src into *dst under lock unless dst already holds an error, so
 * the first failure of a parallel loop is the one reported. dst may be NULL. */
void df11_error_keep_first(pthread_mutex_t *lock, df11_error *dst, const df11_error *src);

/* Reads exactly len bytes of a local file (the encoder's input):
 * DF11_E_IO on error, DF11_E_TRUNCATED when the file ends first. */
df11_status df11_fd_read_exact(int fd, const char *path, void *buf, size_t len,
                               uint64_t off, df11_error *err);

/* --- Huffman code (codec/common/huffman_code.c) --- */
/* DF11_OK when the 256 lengths form a valid code per FORMAT.md 5.1. */
df11_status df11_huff_check(const uint8_t len[256], bool *constant);
/* Canonical code values for the lengths (valid complete code). */
void df11_huff_canonical(const uint8_t len[256], uint16_t code[256]);
/* Builds the CPU decode table; lengths must have passed df11_huff_check. */
void df11_huff_build_dtable(const uint8_t len[256], df11_huff_dtable *t);

/* --- Encoder pieces (codec/compress/) --- */
/* Length-limited (<= 12) Huffman code lengths for a histogram with at least
 * one nonzero count; one symbol gives the constant code. */
void df11_huff_lengths(const uint64_t freq[256], uint8_t len[256]);
/* Encodes n elements of width 2 or 4 from src as an EXP payload into out
 * (capacity cap). Returns the payload size, or 0 if it does not fit. */
size_t df11_exp_encode(const uint8_t *src, uint32_t n, unsigned width, uint32_t lane_symbols,
                       const uint8_t len[256], const uint16_t code[256],
                       uint8_t *out, size_t cap);
/* Adds the exponents of n elements of width 2 or 4 to freq. */
void df11_exp_histogram(const uint8_t *src, uint32_t n, unsigned width, uint64_t freq[256]);

/* --- Ordered parallel loop (codec/common/parallel.c) --- */
/* Runs work(i, worker, ctx) for i in 0..n-1 on `threads` threads, at most
 * `window` items ahead of emit, and emit(i, ctx) on the calling thread in
 * order. The first non-OK status stops the loop and is returned. */
typedef df11_status (*df11_work_fn)(uint64_t i, unsigned worker, void *ctx);
typedef df11_status (*df11_emit_fn)(uint64_t i, void *ctx);
df11_status df11_parallel_ordered(uint64_t n, unsigned threads, unsigned window,
                                  df11_work_fn work, df11_emit_fn emit, void *ctx);
unsigned df11_default_threads(void);

/* --- safetensors header (codec/common/safetensors_header.c) --- */
#define DF11_ST_MAX_HEADER (100u << 20) /* the safetensors library's own cap */
typedef struct {
    char *name;
    char dtype[16];
    uint64_t begin, end; /* absolute offsets in the original file */
    uint64_t elements;
    bool elements_ok;    /* false when the shape product overflows */
} df11_st_tensor;

typedef struct {
    uint64_t data_start; /* 8 + header length */
    size_t count;
    df11_st_tensor *tensors; /* in header order */
} df11_st_header;

/* Parses the JSON header (len bytes) of a safetensors file of file_size
 * bytes. DF11_E_NOT_SAFETENSORS on anything the format does not allow. */
df11_status df11_st_parse(const char *path, const uint8_t *json, size_t len,
                          uint64_t file_size, df11_st_header *out, df11_error *err);
void df11_st_free(df11_st_header *h);

#endif
