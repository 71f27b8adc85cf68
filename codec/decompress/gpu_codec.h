/*
 * gpu_codec.h - what the codec provides around the GPU seam
 * (kernels/df11_cuda.h): code tables as kernel LUTs, payload checks before
 * a job is handed over, and the benchmark entry that kernels/gpu_bench.c
 * drives. Implemented in codec/decompress/gpu_prep.c and gpu_batch.c.
 */
#ifndef DF11_GPU_CODEC_H
#define DF11_GPU_CODEC_H

#include "../../kernels/df11_cuda.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- gpu_prep.c --- */
/* LUT for 256 code lengths that passed the format's checks: DF11_E_BAD_TABLE
 * unless they form a complete or constant code (FORMAT.md 5.1). */
df11_status df11_gpu_build_lut(const uint8_t len[256], uint16_t lut[DF11_CUDA_LUT_ENTRIES]);
/* Whether payload_len is possible for n elements at all (before reading). */
int df11_gpu_payload_len_ok(uint32_t payload_len, uint32_t n, uint32_t lane_symbols);
/* Validates a read EXP16 payload: lane table total matches the payload
 * exactly; a constant code has only empty lanes. why names the lane. */
df11_status df11_gpu_check_payload(const uint8_t *p, uint32_t payload_len,
                                   uint32_t n, uint32_t lane_symbols,
                                   int constant, char *why, size_t why_len);
/* --- gpu_batch.c --- */
/* df11_cuda_bench_decode over the EXP16 chunks among jobs (others are
 * skipped; *bytes gets the decoded bytes per pass). */
df11_status df11_gpu_bench_jobs(const df11_chunk_job *jobs, size_t n, int reps,
                                double *sec, uint64_t *bytes, df11_error *err);

#ifdef __cplusplus
}
#endif
#endif
