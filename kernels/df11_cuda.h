/*
 * df11_cuda.h - the plain-C seam between the codec (codec/decompress/gpu_*.c)
 * and the CUDA code in the kernels/ .cu files. It declares only what
 * kernels/ implements (the .cu files or gpu_stub.c, and gpu_emul.c, the CPU
 * model of the kernel); what the codec provides to its GPU glue is in
 * codec/decompress/gpu_codec.h. No CUDA types cross it, so the codec is
 * compiled by the C compiler alone and links against either the .cu objects
 * or kernels/gpu_stub.c (builds without CUDA).
 *
 * Three kinds of chunk reach this interface, all of EXP16 (BF16) segments:
 * EXP chunks (Huffman exponents, FORMAT.md 5), ANS chunks (rANS, 9) and
 * ANS_IL chunks (rANS, lanes sharing one word stream, 10).
 * The codec validates reader, chunk and tables before a job is handed over;
 * the payload itself is validated by the io->load callback (it reads it).
 */
#ifndef DF11_CUDA_H
#define DF11_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "df11.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DF11_CUDA_LUT_ENTRIES 4096u
/* Zeroed bytes the staging code keeps after every payload, so word loads
 * near the end of a payload never touch another job's bytes. */
#define DF11_CUDA_SLACK 16u

/* The decode tables of one ANS model (codec/common/ans.h, df11_ans_build):
 * 145 KiB, built once per model and batch on the host. */
typedef struct {
    uint8_t esym[1u << 14];     /* slot -> exponent */
    uint32_t einfo[256];        /* df11_ans_einfo */
    uint32_t mslot[8u << 12];   /* df11_ans_mslot, per context and slot */
} df11_cuda_ans_table;

/* The decode tables of one ANS_IL model (FORMAT.md 10), built on the host
 * with codec/common/ans.h's df11_ans_il_build: eslot and mslot as there;
 * ectx[slot] is the context of the exponent that slot decodes
 * (ctx[eslot[slot] & 0xFF]), so a kernel fetches the mantissa table's
 * context together with the exponent entry instead of after it. 148 KiB. */
typedef struct {
    uint32_t eslot[1u << 12];   /* df11_ans_il_eslot per slot */
    uint32_t mslot[8u << 12];   /* df11_ans_il_mslot, per context and slot */
    uint8_t ectx[1u << 12];     /* < 8 */
} df11_cuda_ans_il_table;

/* The tables of one call: jobs index them by their table field. */
typedef struct {
    const uint16_t *luts;               /* lut_count x DF11_CUDA_LUT_ENTRIES */
    size_t lut_count;
    const df11_cuda_ans_table *ans;     /* ans_count tables */
    size_t ans_count;
    const df11_cuda_ans_il_table *ans_il; /* ans_il_count tables */
    size_t ans_il_count;
} df11_cuda_tables;

enum { DF11_CUDA_EXP16 = 0, DF11_CUDA_ANS = 1, DF11_CUDA_ANS_IL = 2 };

/* One chunk to decode. EXP16: the LUT entry for a 12-bit peek is
 * symbol | code_length << 8; a constant code has length 0 everywhere.
 * ANS: lanes of DF11_ANS_LANE elements, one thread each. ANS_IL: a warp
 * per chunk (df11_ans_il_lanes(n) >= 16), or one thread (1 lane). */
typedef struct {
    uint32_t payload_len;
    uint32_t n;            /* BF16 elements: decoded bytes / 2 */
    uint32_t lane_symbols; /* EXP16: the file's lane_symbols; ANS: unused */
    uint32_t table;        /* EXP16: index into luts; ANS: into ans; ANS_IL: into ans_il */
    uint32_t codec;        /* DF11_CUDA_EXP16, DF11_CUDA_ANS or DF11_CUDA_ANS_IL */
    void *dst;             /* n*2 bytes; host or device memory per mode */
    uint32_t il_signs;     /* ANS_IL: the file has flag IL_SIGNS (FORMAT.md 10.1) */
} df11_cuda_job;

/* Callbacks into the codec. j indexes the job array of the call. */
typedef struct {
    /* Reads job j's payload (payload_len bytes) into buf and validates its
     * sizes and lane-length table; a non-OK status drops the job. */
    df11_status (*load)(void *ctx, size_t j, uint8_t *buf);
    /* Checks job j's decoded bytes (host memory) against the chunk XXH3. */
    df11_status (*check)(void *ctx, size_t j, const void *bytes);
    /* Reports a job the decoder itself rejected (status already set). */
    void (*fail)(void *ctx, size_t j, df11_status st, const char *msg);
    void *ctx;
} df11_cuda_io;

/* DF11_OK when a CUDA device can run the decoder; why gets the device name
 * or, on DF11_E_NO_GPU, the reason (no driver, no device, no kernel image). */
df11_status df11_cuda_probe(char *why, size_t why_len);

/* Decodes n jobs. Every job gets status[j]. Returns DF11_OK when the batch
 * ran (per-job results in status), DF11_E_GPU with the failing CUDA call in
 * why when the GPU failed: then no status is meaningful and the caller
 * decodes the whole batch another way. device_mode: dst is device memory and
 * the decoded bytes are copied back once for io->check. Serialised. */
df11_status df11_cuda_decode(const df11_cuda_job *jobs, size_t n,
                             const df11_cuda_tables *tables, int device_mode, const df11_cuda_io *io,
                             df11_status *status, char *why, size_t why_len);

/* Device memory helpers (device-mode CPU fallback, tests, benchmarks). */
df11_status df11_cuda_copy_to_device(void *dst, const void *src, size_t len,
                                     char *why, size_t why_len);
df11_status df11_cuda_copy_to_host(void *dst, const void *src, size_t len,
                                   char *why, size_t why_len);
df11_status df11_cuda_malloc(void **p, size_t len, char *why, size_t why_len);
void df11_cuda_free(void *p);
/* Page-locked host memory (tests: host-mode batches into pinned buffers). */
df11_status df11_cuda_malloc_host(void **p, size_t len, char *why, size_t why_len);
void df11_cuda_free_host(void *p);

/* --- benchmarks (kernels/bench.cu) --- */
typedef struct {
    char name[128];
    int cc_major, cc_minor;
    int sm_count;
    uint64_t mem_bytes;
    double mem_bw_gbs;     /* theoretical peak from cudaDeviceProp */
} df11_cuda_device_info;

df11_status df11_cuda_info(df11_cuda_device_info *info, char *why, size_t why_len);
/* Loads every payload once into device memory, decodes once and checks
 * every job with io->check, then times reps device-to-device decodes of the
 * whole set, each pass between its own events; *sec is the median seconds
 * per pass. dst of the jobs is unused. */
df11_status df11_cuda_bench_decode(const df11_cuda_job *jobs, size_t n,
                                   const df11_cuda_tables *tables,
                                   const df11_cuda_io *io, int reps,
                                   double *sec, char *why, size_t why_len);
/* Mean seconds of a pinned H2D and a pinned D2H copy of bytes. */
df11_status df11_cuda_bench_copy(size_t bytes, int reps, double *h2d_sec,
                                 double *d2h_sec, char *why, size_t why_len);
/* Median seconds of a cudaMemcpy device to device of bytes: the memory
 * ceiling the d2d decode is compared with, measured in the same run. */
df11_status df11_cuda_bench_d2d_copy(size_t bytes, int reps, double *sec, char *why, size_t why_len);

/* --- the CPU model of the kernel (kernels/gpu_emul.c) --- */
/* CPU model of the kernel: the same lane decoder and reconstruction run
 * sequentially. Host mode only; used by tests through DF11_GPU_EMULATE=1. */
df11_status df11_emul_decode(const df11_cuda_job *jobs, size_t n,
                             const df11_cuda_tables *tables,
                             const df11_cuda_io *io, df11_status *status,
                             char *why, size_t why_len);

#ifdef __cplusplus
}
#endif
#endif
