/*
 * reader.h - what only the reader needs: the opened file's structures, the
 * decode-table cache, the chunk decoders and the reader's internal calls.
 * Used by codec/decompress/, the kernels' CPU model and the white-box
 * tests; the encoder sees only common/internal.h.
 */
#ifndef DF11_READER_H
#define DF11_READER_H

#include "../common/internal.h"

typedef struct {
    uint64_t orig_offset;
    uint64_t orig_length;
    uint32_t first_chunk;
    uint32_t chunk_count;
    uint8_t kind;
    uint8_t code_lengths[256];  /* unpacked from the nibbles */
    uint64_t code_hash;         /* df11_code_hash(code_lengths), the key of
                                   its decode table in the table cache */
    uint32_t model;             /* ANS model index + 1; 0: none (format 1.1) */
} df11_segment;

typedef struct {
    uint64_t payload_offset;
    uint64_t orig_offset;
    uint32_t payload_length;
    uint32_t decoded_length;
    uint32_t segment;
    uint8_t codec;
    uint64_t xxh3;
} df11_chunk;

typedef struct df11_tensor_table df11_tensor_table;

struct df11_reader {
    df11_source src;        /* every byte of the object comes through it */
    char *path;             /* src.name, copied: the name in messages */
    uint64_t file_size;
    uint64_t original_size;
    uint8_t sha256[32];
    uint32_t chunk_log2;
    uint32_t lane_symbols;
    uint32_t segment_count;
    uint32_t chunk_count;
    uint64_t index_offset;
    df11_segment *segments;
    df11_chunk *chunks;
    uint32_t flags;             /* header flags: the 1.1 features it uses */
    uint16_t minor;             /* header version_minor (FORMAT.md 2) */
    uint32_t table_count, model_count;
    df11_fmt_table *tables;     /* ANS frequency tables, validated at open */
    df11_fmt_model *models;     /* ANS models, validated at open */
    uint64_t uid;               /* unique per open: key of per-thread caches */
    pthread_mutex_t tensor_lock;
    df11_tensor_table *tensors; /* built lazily by df11_tensor_count */
};

/* Whether r's ANS_IL payloads have their lane states carrying signs
 * (flag IL_SIGNS, FORMAT.md 10.1): the layout every ANS_IL decoder of r
 * needs to be told. */
static inline bool df11_il_signs(const df11_reader *r) { return (r->flags & DF11_FMT_FLAG_IL_SIGNS) != 0; }

/* --- Decode table cache (codec/decompress/dtables.c) --- */
/* Decode tables live in one process-wide cache keyed by code (not per
 * reader), bounded by df11_set_table_budget. A decode pins the table it
 * uses and unpins it when done; only unpinned tables are evicted. */
uint64_t df11_code_hash(const uint8_t len[256]);
/* The table for code lengths len (hash = df11_code_hash(len)), built if
 * needed, pinned. NULL only when out of memory (after evicting and
 * retrying). Thread-safe. */
const df11_huff_dtable *df11_dtable_pin(const uint8_t len[256], uint64_t hash);
void df11_dtable_unpin(const df11_huff_dtable *t); /* NULL is accepted */
/* df11_dtable_pin of EXP segment seg's code; unpin it when done. */
const df11_huff_dtable *df11_segment_dtable(df11_reader *r, uint32_t seg);
/* Bytes one cached table counts for in df11_table_bytes(). */
uint64_t df11_table_entry_bytes(void);

/* Reads exactly len bytes of a source (codec/decompress/source.c): short
 * reads are continued, DF11_E_AGAIN is retried a bounded number of times,
 * the end of the object gives DF11_E_TRUNCATED. */
df11_status df11_source_read_exact(const df11_source *src, void *buf, size_t len,
                                   uint64_t off, df11_error *err);

/* --- EXP chunk decode (codec/decompress/exp_decode.c) --- */
/* Decodes one EXP payload (payload_len bytes, DF11_PAYLOAD_SLACK readable
 * bytes beyond) into dst: n elements of width 2 or 4 bytes. scratch holds
 * df11_exp_scratch_size(n, lane_symbols) bytes. Returns DF11_E_CORRUPT_CHUNK (message names the lane) on any
 * inconsistency; the caller prefixes file and chunk. */
size_t df11_exp_scratch_size(uint32_t n, uint32_t lane_symbols);
/* Rebuilds n elements of width 2 or 4 into dst from exponents e, the
 * sign/mantissa plane r and (width 4) the low plane (exp_merge.c). */
void df11_exp_merge(uint8_t *dst, const uint8_t *e, const uint8_t *r, const uint8_t *low,
                    uint32_t n, unsigned width);
df11_status df11_exp_decode(const uint8_t *payload, uint32_t payload_len,
                            uint32_t n, unsigned width, uint32_t lane_symbols,
                            const df11_huff_dtable *t, void *dst,
                            uint8_t *scratch, char *why, size_t why_len);

/* --- ANS chunk decode (codec/decompress/ans_decode.c) --- */
typedef struct {
    uint8_t esym[1u << DF11_ANS_EXP_BITS];  /* slot -> exponent */
    /* slot -> df11_ans_eslot: the exponent step in one lookup (SIMD path;
     * right after esym, whose 32-bit gathers read 3 bytes past it) */
    uint32_t eslot[1u << DF11_ANS_EXP_BITS];
    uint32_t einfo[256];                      /* df11_ans_einfo */
    uint32_t mslot[DF11_ANS_CONTEXTS << DF11_ANS_MANT_BITS]; /* df11_ans_mslot */
} df11_ans_dtable;
/* Exponent entry per slot: freq (15 bits, 2^14 for a one-symbol table) |
 * (slot - cum) << 15 (14 bits) | context << 29. */
static inline uint32_t df11_ans_eslot(uint32_t freq, uint32_t bias, uint32_t ctx)
{
    return freq | bias << 15 | ctx << 29;
}
/* Tables and model must have passed the reader's checks (reader_open.c). */
void df11_ans_dtable_build(const df11_fmt_table *tables, const df11_fmt_model *m,
                           df11_ans_dtable *t);
/* The calling thread's decode table of model `model` of r; NULL when out
 * of memory. Valid until this thread asks for another. */
const df11_ans_dtable *df11_ans_dtable_get(const df11_reader *r, uint32_t model);
uint64_t df11_reader_uid(void);
/* Decodes an ANS payload of n BF16 elements into dst (DF11_PAYLOAD_SLACK
 * readable bytes past the payload). */
df11_status df11_ans_decode(const df11_ans_dtable *t, const uint8_t *payload,
                            uint32_t payload_len, uint32_t n, void *dst, char *why,
                            size_t why_len);
/* Eight full lanes of one chunk, decoded together: a SIMD register's
 * worth (ans_simd.c). Built and checked by ans_decode.c. */
typedef struct {
    const df11_ans_dtable *t;
    const uint8_t *base;            /* the chunk's first lane word */
    uint8_t *out;                   /* lane 0's first element; lane k 2*16384*k bytes on */
    uint32_t x[8], pos[8], end[8];  /* state; position and end in words from base */
    uint32_t done;                  /* elements decoded in every lane */
    bool bad;                       /* a lane went past its words */
} df11_ans_group;
/* Runs every group to its end, or to the first four elements after which
 * a lane is past its words (bad). False, nothing done, when the SIMD path
 * is off or absent. */
bool df11_ans_simd_groups(df11_ans_group *g, uint32_t count);
/* 0 scalar, 1 AVX2, 2 AVX-512VL: what the CPU has, lowered by the
 * environment variable DF11_SIMD (read once). */
int df11_ans_simd_level(void);
/* For tests: use `level` (clamped to what the CPU has; < 0: the best);
 * returns the level now in use. */
int df11_ans_simd_force(int level);
/* One chunk for df11_ans_decode_many. */
typedef struct {
    const df11_ans_dtable *t;
    const uint8_t *payload;         /* DF11_PAYLOAD_SLACK readable bytes past it */
    uint32_t payload_len, n;        /* n BF16 elements */
    void *dst;
} df11_ans_job;
/* Decodes count ANS chunks, interleaving their lanes where it can. On
 * failure *bad is the index of a failing job and why says what failed. */
df11_status df11_ans_decode_many(const df11_ans_job *jobs, uint32_t count, uint32_t *bad,
                                 char *why, size_t why_len);
/* --- ANS_IL chunk decode (codec/decompress/ans_il.c, FORMAT.md 10) --- */
typedef struct {
    uint32_t eslot[1u << DF11_ANS_IL_BITS];                     /* df11_ans_il_eslot */
    uint32_t mslot[DF11_ANS_CONTEXTS << DF11_ANS_IL_BITS];       /* df11_ans_il_mslot */
    uint8_t ctx[256];                                            /* the model's, & 7 */
    uint8_t pad[64]; /* the AVX2 path's 32-bit gathers of ctx read 3 bytes past it */
    /* The file's flag IL_SIGNS (FORMAT.md 10.1): the payload layout of
     * every chunk that decodes with these tables, kept beside them because
     * they are the file's (a thread's tables are per reader and model). */
    bool signs;
} df11_ans_il_dtable;
/* Tables and model must have passed the reader's checks for ANS_IL;
 * signs: the file has flag IL_SIGNS. */
void df11_ans_il_dtable_build(const df11_fmt_table *tables, const df11_fmt_model *m, bool signs,
                              df11_ans_il_dtable *t);
/* The calling thread's ANS_IL decode table of model `model` of r; NULL
 * when out of memory. Valid until this thread has asked for
 * DF11_ANS_IL_TABLES other models since. */
#define DF11_ANS_IL_TABLES 4u
const df11_ans_il_dtable *df11_ans_il_dtable_get(const df11_reader *r, uint32_t model);
/* Decodes an ANS_IL payload of exactly payload_len bytes (nothing past it
 * is read) holding n 16-bit elements into dst (2n bytes, any alignment).
 * DF11_E_CORRUPT_CHUNK (why says what) exactly when
 * df11_ans_il_decode_ref says bad; otherwise dst holds its bytes. Uses
 * df11_ans_simd_level(). */
df11_status df11_ans_il_decode(const df11_ans_il_dtable *t, const uint8_t *payload,
                               uint32_t payload_len, uint32_t n, void *dst, char *why,
                               size_t why_len);
/* The same at a given level (0 scalar, 1 AVX2, 2 AVX-512; the caller
 * makes sure the CPU has it): 0 ok, 1 bad. For tests and the fuzzer. */
int df11_ans_il_decode_level(int level, const df11_ans_il_dtable *t, const uint8_t *payload,
                             uint64_t len, uint32_t n, void *dst, char *why, size_t why_len);
/* Chunks decoded together: up to this many 16-lane chunks (the default
 * 256 KiB chunk) interleave their vector chains, of one tensor or of
 * consecutive ones (at most DF11_ANS_IL_TABLES models in a batch). */
#define DF11_ANS_IL_BATCH 8u
typedef struct {
    const df11_ans_il_dtable *t;
    const uint8_t *payload; /* exactly payload_len bytes readable */
    uint32_t payload_len, n;
    void *dst;
} df11_ans_il_job;
/* Decodes count chunks, each exactly as df11_ans_il_decode would; on
 * failure *bad is the first failing job and why says what failed. */
df11_status df11_ans_il_decode_many(const df11_ans_il_job *jobs, uint32_t count, uint32_t *bad,
                                    char *why, size_t why_len);
int df11_ans_il_decode_many_level(int level, const df11_ans_il_job *jobs, uint32_t count,
                                  uint32_t *bad, char *why, size_t why_len);

/* Decodes an EXP_HI payload (n F32 elements, low halves zero) into dst. */
df11_status df11_exp_hi_decode(const uint8_t *payload, uint32_t payload_len, uint32_t n,
                               uint32_t lane_symbols, const df11_huff_dtable *t, void *dst,
                               uint8_t *scratch, char *why, size_t why_len);

/* Decodes an EXP_LZ payload (FORMAT.md 5.4; n F32 elements) into dst, as
 * df11_exp_decode does; scratch holds df11_exp_lz_scratch_size bytes
 * (exp_lz.c). */
size_t df11_exp_lz_scratch_size(uint32_t n, uint32_t lane_symbols);
df11_status df11_exp_lz_decode(const uint8_t *payload, uint32_t payload_len, uint32_t n,
                               uint32_t lane_symbols, const df11_huff_dtable *t, void *dst,
                               uint8_t *scratch, char *why, size_t why_len);
/* Decodes an ANS_IL_LZ payload (5.4: ANS_IL upper halves with table t) into
 * dst; planes is 2n bytes of scratch (exp_lz.c). */
df11_status df11_ans_il_lz_decode(const df11_ans_il_dtable *t, const uint8_t *payload,
                                  uint32_t payload_len, uint32_t n, void *dst, uint8_t *planes,
                                  char *why, size_t why_len);
/* The parts of an EXP_LZ or ANS_IL_LZ payload: checks the length word
 * (the upper part's length in *hi, after it) and decodes the low planes
 * into planes (2n bytes); false with why filled when either is wrong. */
bool df11_lz_split(const uint8_t *payload, uint32_t payload_len, uint32_t n, uint8_t *planes,
                   uint32_t *hi, char *why, size_t why_len);
/* n upper halves in the back half of dst (4n bytes), widened in place
 * with the planes into the F32 elements. */
void df11_lz_widen(uint8_t *dst, uint32_t n, const uint8_t *planes);

/* --- Reader internals (codec/decompress/) --- */
/* Reads chunk idx's payload into a new buffer with DF11_PAYLOAD_SLACK zero
 * bytes after it; free() it. */
df11_status df11_read_payload(df11_reader *r, uint32_t idx, uint8_t **out,
                              df11_error *err);
/* Decodes an already-read payload of chunk idx into dst and checks XXH3. */
df11_status df11_decode_payload(df11_reader *r, uint32_t idx,
                                const uint8_t *payload, void *dst,
                                df11_error *err);
/* Whether chunks idx and idx + 1 are ANS chunks of one model, which
 * df11_decode_chunk_pair decodes interleaved. */
bool df11_pairable(const df11_reader *r, uint32_t idx);
/* df11_decode_chunk of idx into dst0 and idx + 1 into dst1 (any two
 * chunks; pairable ones decode together, about 1.3x faster). */
df11_status df11_decode_chunk_pair(df11_reader *r, uint32_t idx, void *dst0, void *dst1,
                                   df11_error *err);
/* How many chunks from idx (at most max) df11_decode_chunks decodes
 * together: 2 for a pairable ANS pair, up to DF11_ANS_IL_BATCH
 * consecutive ANS_IL (or ANS_IL_LZ) chunks of at most DF11_ANS_IL_TABLES
 * models, else 1. */
uint32_t df11_batch_len(const df11_reader *r, uint32_t idx, uint32_t max);
/* The most df11_batch_len can answer for any chunk of r: its flags say
 * which codecs it may hold. */
uint32_t df11_batch_max(const df11_reader *r);
/* Checks dst (the decoded chunk idx) against its recorded XXH3. */
df11_status df11_check_chunk(const df11_reader *r, uint32_t idx,
                             const void *dst, df11_error *err);

/* Frees the lazily built tensor table (codec/decompress/tensors.c). */
void df11_tensor_table_free(df11_tensor_table *t);

#endif
