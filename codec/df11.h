/*
 * df11.h - the one public header of libdf11.
 *
 * libdf11 stores .safetensors files (or any file) losslessly in the .df11
 * format (doc/FORMAT.md) and reads any byte range of the original back by
 * decoding only the chunks that range touches.
 *
 * Conventions, for every function below:
 *  - Functions that can fail return a df11_status; DF11_OK (0) is success.
 *    On failure they fill *err (when err is not NULL) with the same code and
 *    a message that names the file and, where one applies, the offset.
 *  - Status codes are stable: their numbers never change meaning.
 *  - Nothing here aborts, prints, or exits on bad input.
 */
#ifndef DF11_H
#define DF11_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DF11_LIB_VERSION "1.0.0"
#define DF11_FORMAT_MAJOR 1
#define DF11_FORMAT_MINOR 4

typedef enum {
    DF11_OK = 0,
    DF11_E_ARG = 1,            /* invalid argument from the caller */
    DF11_E_NOMEM = 2,          /* allocation failed */
    DF11_E_IO = 3,             /* open/read/write failed (errno in message) */
    DF11_E_TRUNCATED = 4,      /* file shorter than its own header says */
    DF11_E_BAD_MAGIC = 5,      /* not a .df11 file */
    DF11_E_VERSION = 6,        /* format major version not supported */
    DF11_E_CORRUPT_HEADER = 7, /* file header fails its checks */
    DF11_E_CORRUPT_INDEX = 8,  /* segment/chunk tables fail their checks */
    DF11_E_BAD_TABLE = 9,      /* invalid Huffman code lengths */
    DF11_E_CORRUPT_CHUNK = 10, /* chunk payload inconsistent */
    DF11_E_CHECKSUM = 11,      /* decoded chunk does not match its XXH3 */
    DF11_E_SHA256 = 12,        /* whole-file SHA-256 mismatch */
    DF11_E_NOT_SAFETENSORS = 13, /* input is not a valid .safetensors file */
    DF11_E_RANGE = 14,         /* read past the end of the original file */
    DF11_E_NO_GPU = 15,        /* no usable CUDA device or driver */
    DF11_E_GPU = 16,           /* a CUDA call failed */
    DF11_E_INTERNAL = 17,
    DF11_E_AGAIN = 18,         /* a source's transient failure; retry later */
    DF11_E_CHANGED = 19        /* input changed while it was being encoded */
} df11_status;

#define DF11_ERROR_MESSAGE_MAX 512
typedef struct {
    df11_status code;
    char message[DF11_ERROR_MESSAGE_MAX];
} df11_error;

/* "DF11_E_CHECKSUM" etc.; never NULL. */
const char *df11_status_name(df11_status code);
/* Library version string, DF11_LIB_VERSION of the built library. */
const char *df11_version(void);

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

typedef struct df11_reader df11_reader;

/* Where a reader gets the bytes of a .df11 object: a local file, a remote
 * object, a cache. The reader never touches a descriptor itself; it calls
 * read_at, from many threads at once, so read_at must be thread-safe.
 *
 * read_at reads up to len bytes at offset off into buf and sets *got.
 * A short read is fine (the reader asks again for the rest); *got == 0 with
 * DF11_OK means the object ends at off. It returns DF11_OK, DF11_E_AGAIN
 * for a transient failure the reader may retry (a few times, then it
 * reports DF11_E_IO), or any other status, usually DF11_E_IO with the errno
 * or HTTP status and the object's name in err->message. A source that can
 * be slow (a network) does its own retries and deadlines; the reader only
 * bounds DF11_E_AGAIN. */
typedef struct df11_source {
    void *ctx;
    uint64_t size;          /* bytes in the .df11 object */
    const char *name;       /* path or URL, for messages; copied at open */
    df11_status (*read_at)(void *ctx, void *buf, size_t len, uint64_t off,
                           size_t *got, df11_error *err);
    void (*close)(void *ctx);   /* may be NULL; called once by df11_close()
                                   or by a failed open */
} df11_source;

/* Opens a reader over a source and validates the header, index and code
 * tables (not the chunk payloads). The reader owns the source from the
 * call on, whether the open succeeds or not: it calls src->close exactly
 * once. */
df11_status df11_open_source(const df11_source *src, df11_reader **out,
                             df11_error *err);

/* A source over an open descriptor of a regular file (pread; EINTR is
 * retried). On success the source owns fd and closes it; on failure fd
 * stays the caller's. name is for messages. */
df11_status df11_source_fd(int fd, const char *name, df11_source *out,
                           df11_error *err);

/* Convenience: df11_open_source over df11_source_fd of path, opened
 * O_RDONLY. */
df11_status df11_open(const char *path, df11_reader **out, df11_error *err);

/* The fixed header alone (the first 128 bytes of a .df11 object): enough
 * to show a file's size without loading its index or keeping it open.
 * Checks the magic, the version and the header checksum. */
typedef struct {
    uint64_t original_size;
    uint8_t original_sha256[32];
} df11_header_info;
#define DF11_HEADER_BYTES 128
df11_status df11_parse_header(const void *buf, size_t len, const char *name,
                              df11_header_info *out, df11_error *err);
/* Closes the file and frees everything. NULL is accepted. */
void df11_close(df11_reader *r);

/* Size of the original file, from the header alone. */
uint64_t df11_original_size(const df11_reader *r);
/* SHA-256 of the original file, as recorded in the header (32 bytes). */
const uint8_t *df11_original_sha256(const df11_reader *r);
/* Size of the .df11 file itself. */
uint64_t df11_stored_size(const df11_reader *r);
/* The path the reader was opened with; owned by the reader. */
const char *df11_path(const df11_reader *r);

/* What the file says of its format (doc/FORMAT.md 8): the version in its
 * header, which is the oldest reader version that can read it, and the
 * features it needs, by name ("ANS_IL", "IL_SIGNS"; none for a 1.0 file;
 * static strings). */
typedef struct {
    unsigned major, minor;
    unsigned feature_count;
    const char *features[8];
} df11_format_info;
void df11_format(const df11_reader *r, df11_format_info *out);

/* Reads exactly len bytes of the original file starting at off into buf.
 * off + len must not exceed the original size (DF11_E_RANGE otherwise).
 * Every chunk touched is decoded and checked against its checksum.
 * Thread-safe: many threads may call it on one reader at once. */
df11_status df11_pread(df11_reader *r, void *buf, size_t len, uint64_t off,
                       df11_error *err);

/* Chunk geometry, for callers that cache decoded chunks (df11fs). */
uint32_t df11_chunk_count(const df11_reader *r);
/* Largest decoded size of any chunk: 2^chunk_log2. */
uint32_t df11_chunk_size_max(const df11_reader *r);
/* The chunk holding original byte off; off must be < original size. */
uint32_t df11_chunk_at(const df11_reader *r, uint64_t off);
/* Original offset and decoded length of chunk idx (idx < chunk count). */
void df11_chunk_extent(const df11_reader *r, uint32_t idx, uint64_t *off,
                       uint32_t *len);
/* Decodes chunk idx into dst (at least its decoded length) and checks it.
 * Thread-safe. */
df11_status df11_decode_chunk(df11_reader *r, uint32_t idx, void *dst,
                              df11_error *err);
/* Decodes chunks idx .. idx + count - 1 into dst[0] .. dst[count - 1], as
 * that many df11_decode_chunk calls would, but consecutive --max chunks
 * of a tensor decode together, interleaved: a lone --max chunk is bound
 * by the latency of its lanes (about 0.75 GB/s on a Zen 4 core for ANS_IL
 * chunks), four or more together by throughput (about 1.6). Stops at the
 * first failure. Thread-safe. */
df11_status df11_decode_chunks(df11_reader *r, uint32_t idx, uint32_t count,
                               void *const *dst, df11_error *err);

/* Decodes the whole original in order on up to threads threads (<= 0: all
 * the CPUs this thread may use; with the SHA-256, never more than those
 * less one, which the SHA-256 needs to itself), checks every chunk and the
 * whole-file SHA-256, and hands the bytes to write (called from one thread
 * at a time, in file order, with pieces of at most a few hundred KiB) as
 * they become ready. A write that fails stops the decode; its status and
 * message are returned. write may be NULL (df11_verify). progress may be
 * NULL. Thread-safe. */
typedef df11_status (*df11_write_fn)(void *ctx, const void *buf, size_t len,
                                     df11_error *err);
df11_status df11_decode_all(df11_reader *r, int threads, df11_write_fn write,
                            void *write_ctx,
                            void (*progress)(void *ctx, uint64_t done, uint64_t total),
                            void *progress_ctx, df11_error *err);
/* df11_decode_all with flags. DF11_DECODE_NO_SHA256 skips the whole-file
 * SHA-256: every chunk is still checked against its XXH3-64, taken from
 * the original's bytes when the file was written (FORMAT.md 5), so a
 * damaged chunk fails as surely as under zstd's content checksum; what is
 * given up is the whole file's cryptographic identity. SHA-256 runs on
 * one core (about 1.8 GB/s with SHA-NI) and caps df11_decode_all once two
 * or more cores decode. */
#define DF11_DECODE_NO_SHA256 0x1u
df11_status df11_decode_all_flags(df11_reader *r, int threads, unsigned flags,
                                  df11_write_fn write, void *write_ctx,
                                  void (*progress)(void *ctx, uint64_t done, uint64_t total),
                                  void *progress_ctx, df11_error *err);

/* Decode tables (one per distinct Huffman code, ~33 KB each) are shared by
 * every reader of the process and kept in an LRU bounded by a byte budget
 * (default DF11_TABLE_BUDGET_DEFAULT). A table in use by a decode is never
 * freed, so the total may exceed the budget by one table per thread that
 * is decoding. Setting the budget trims the cache at once; 0 keeps only
 * tables in use. Thread-safe. */
#define DF11_TABLE_BUDGET_DEFAULT (64ull << 20)
void df11_set_table_budget(uint64_t bytes);
/* Bytes the decode tables hold now (for callers that budget memory). */
uint64_t df11_table_bytes(void);

/* XXH3-64 (seed 0) of n bytes: the checksum every chunk carries (and the
 * one store/ keys its blocks by), through libxxhash's run-time dispatch to
 * the CPU's widest loop. Thread-safe. */
uint64_t df11_xxh3_64(const void *p, size_t n);

/* df11_decode_all with write == NULL: decodes everything, checks every
 * chunk and the whole-file SHA-256, keeps no bytes.
 * progress (may be NULL) is called with bytes done so far. Thread-safe. */
df11_status df11_verify(df11_reader *r, int threads,
                        void (*progress)(void *ctx, uint64_t done, uint64_t total),
                        void *ctx, df11_error *err);

/* ------------------------------------------------------------------ */
/* Tensor table (from the original safetensors header)                 */
/* ------------------------------------------------------------------ */

typedef enum {
    DF11_CODEC_RAW = 0,
    DF11_CODEC_ZSTD = 1,
    DF11_CODEC_EXP = 2,
    DF11_CODEC_MIXED = 3, /* a tensor whose chunks use different codecs */
    DF11_CODEC_ANS = 4,    /* format 1.1: rANS exponent and mantissa on separate lanes (1.1's --max; chunk codec 3) */
    DF11_CODEC_EXP_HI = 5, /* format 1.1: F32 whose low halves are zero */
    DF11_CODEC_ANS_IL = 6, /* format 1.2: the same coding on interleaved lanes (--max; chunk codec 5) */
    DF11_CODEC_EXP_LZ = 7, /* format 1.3: F32 with zstd-coded low byte planes (--max; chunk codec 6) */
    DF11_CODEC_ANS_IL_LZ = 8 /* format 1.3: the same with ANS_IL upper halves (--max; chunk codec 7) */
} df11_codec;

typedef struct {
    const char *name;        /* owned by the reader */
    const char *dtype;       /* "BF16", "F32", ...; owned by the reader */
    uint64_t offset;         /* original file offset of the data */
    uint64_t length;         /* bytes in the original file */
    uint64_t elements;       /* product of the shape */
    uint64_t stored_bytes;   /* payload bytes of the chunks it spans */
    df11_codec codec;
} df11_tensor;

/* Parses the original safetensors header (decoding the first chunks) and
 * returns the number of tensors in *count. Fails with
 * DF11_E_NOT_SAFETENSORS when the original is not a safetensors file.
 * Thread-safe; the table is built once and kept. */
df11_status df11_tensor_count(df11_reader *r, size_t *count, df11_error *err);
/* Fills *t for tensor i (in header order) after a successful
 * df11_tensor_count(). Returns DF11_E_ARG for i out of range. */
df11_status df11_tensor_get(df11_reader *r, size_t i, df11_tensor *t,
                            df11_error *err);
/* Bytes of the .df11 file spent on headers, tables and lane lengths. */
uint64_t df11_overhead_bytes(const df11_reader *r);

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

typedef struct {
    int threads;          /* worker threads; <= 0: all the CPUs this thread may use */
    int zstd_level;       /* level for ZSTD chunks; default 3 */
    uint32_t chunk_log2;  /* 16..20; default 18 (256 KiB chunks) */
    /* Called from the writing thread with bytes of input done. May be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* DF11_LEVEL_DEFAULT (0) or DF11_LEVEL_MAX: BF16 and F16 chunks may
     * also take the ANS_IL codec (rANS exponent and context-modelled
     * mantissa on interleaved lanes, format 1.2), smaller by about 0.7
     * points of the original, decoded at about half the speed; F32 chunks
     * the ANS_IL_LZ codec (the same for their upper halves, zstd-coded low
     * byte planes, format 1.3) or EXP_LZ. Since format 1.4 the ANS_IL
     * lane states carry the signs of each lane's first elements (flag
     * IL_SIGNS, FORMAT.md 10.1): such files need a 1.4 reader. */
    int level;
} df11_encode_options;
#define DF11_LEVEL_DEFAULT 0
#define DF11_LEVEL_MAX 9

void df11_encode_options_default(df11_encode_options *o);

/* Compresses in_path (a .safetensors file) into out_path: a thin wrapper
 * that opens in_path, creates out_path (O_TRUNC, mode 0644 less the umask),
 * runs df11_encode_fd, fdatasyncs and closes it, and removes out_path again
 * on failure. No temporary name and no rename: out_path is partial while it
 * is written, so a caller that needs atomic replacement encodes into its
 * own temporary file and renames it. Memory stays bounded whatever the
 * input size: the input is streamed with pread. Fails with
 * DF11_E_NOT_SAFETENSORS when the input header is not valid safetensors,
 * DF11_E_CHANGED when the input changes while it is read. opts may be NULL
 * for the defaults. */
df11_status df11_encode_file(const char *in_path, const char *out_path,
                             const df11_encode_options *opts, df11_error *err);

/* Compresses the safetensors file open on in_fd (a regular file, read with
 * pread; in_name names it in messages) into out_fd, written with write(2)
 * from its current position, in order (a pipe works). Creates, renames and
 * removes nothing: file policy belongs to the caller. If the input changes
 * size or content between the two passes it fails with DF11_E_CHANGED. */
df11_status df11_encode_fd(int in_fd, const char *in_name, int out_fd,
                           const char *out_name,
                           const df11_encode_options *opts, df11_error *err);

/* ------------------------------------------------------------------ */
/* GPU decoding (kernels/; CPU fallback when built without CUDA)       */
/* ------------------------------------------------------------------ */

typedef struct {
    df11_reader *reader;
    uint32_t chunk;
    void *dst;            /* host or device memory, per df11_batch_mode */
} df11_chunk_job;

typedef enum {
    DF11_BATCH_HOST = 0,  /* dst is host memory */
    DF11_BATCH_DEVICE = 1 /* dst is CUDA device memory (GPU path only) */
} df11_batch_mode;

/* DF11_OK when this build has CUDA and a usable device; otherwise
 * DF11_E_NO_GPU with the reason in err. Cheap after the first call. */
df11_status df11_gpu_available(df11_error *err);

/* Decodes n chunks (possibly from many readers) on the GPU in one batch.
 * status[i] (n entries, caller-owned) receives each job's result, so one
 * corrupt chunk does not fail the others. Returns DF11_OK when every job
 * succeeded, otherwise the first failing status. Host mode falls back to the
 * CPU for jobs the GPU cannot take. A job that fails leaves its dst
 * undefined, as df11_decode_chunk does. Thread-safe: concurrent calls do
 * their host work (reads, checks, XXH3) in parallel and share the device's
 * staging slots; only the device work is serialised. */
df11_status df11_gpu_decode_batch(const df11_chunk_job *jobs, size_t n,
                                  df11_batch_mode mode, df11_status *status,
                                  df11_error *err);

#ifdef __cplusplus
}
#endif
#endif
