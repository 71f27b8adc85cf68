/*
 * gpu_codec.h - what the codec provides around the GPU seam
 * (kernels/df11_cuda.h): code tables as kernel LUTs, payload checks before
 * a job is handed over, and the prepared GPU part of a batch that
 * kernels/gpu_bench.c times. Implemented in codec/decompress/gpu_prep.c and gpu_batch.c.
 */
#ifndef DF11_GPU_CODEC_H
#define DF11_GPU_CODEC_H

#include "../common/format.h"
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
/* The kernel tables of ANS model m (FORMAT.md 9); DF11_E_BAD_TABLE when its
 * tables are not the format's. */
df11_status df11_gpu_build_ans(const df11_fmt_table *tables, uint32_t table_count,
                               const df11_fmt_model *m, df11_cuda_ans_table *out);
/* Whether an ANS payload_len is possible for n elements (before reading). */
int df11_gpu_ans_len_ok(uint32_t payload_len, uint32_t n);
/* Validates a read ANS payload: start states >= 2^16, word counts add up to
 * the stream area exactly. why names the lane. */
df11_status df11_gpu_check_ans(const uint8_t *p, uint32_t payload_len, uint32_t n, char *why,
                               size_t why_len);
/* The kernel tables of ANS_IL model m (FORMAT.md 10: exponent and mantissa
 * tables at 12 bits, every frequency < 4096, sums exact, contexts < 8,
 * mantissa symbols < 128); DF11_E_BAD_TABLE otherwise, so no table the
 * kernels get can be one their slot layout cannot hold. */
df11_status df11_gpu_build_ans_il(const df11_fmt_table *tables, uint32_t table_count,
                                  const df11_fmt_model *m, df11_cuda_ans_il_table *out);
/* Whether an ANS_IL payload_len is possible for n elements (before reading;
 * il_signs: the file's flag IL_SIGNS, FORMAT.md 10.1): room for the start
 * states and the sign plane, an even stream, and at
 * most two words per element (one per step). */
int df11_gpu_ans_il_len_ok(uint32_t payload_len, uint32_t n, int il_signs);
/* Validates a read ANS_IL payload: its length, start states >= 2^16. The
 * stream's exact use is checked by the kernel (the lanes share it). */
df11_status df11_gpu_check_ans_il(const uint8_t *p, uint32_t payload_len, uint32_t n, int il_signs,
                                  char *why, size_t why_len);

/* --- gpu_batch.c --- */
/* A batch's GPU part, prepared: the jobs the GPU decoders take, their
 * tables, and the callbacks that read, validate and check them. Made for
 * df11_gpu_decode_batch, and for the benchmark (kernels/gpu_bench.c), which
 * times the same jobs with df11_cuda_bench_decode. */
typedef struct df11_gpu_plan df11_gpu_plan;
/* Routes jobs (argument errors and CPU-only chunks are left out) and builds
 * the GPU job list; *cuda_jobs, *count, *tables and *io describe it until
 * df11_gpu_plan_free. */
df11_status df11_gpu_plan_make(const df11_chunk_job *jobs, size_t n, df11_batch_mode mode,
                               df11_gpu_plan **plan, const df11_cuda_job **cuda_jobs,
                               size_t *count, df11_cuda_tables *tables, df11_cuda_io *io,
                               df11_error *err);
/* The first error the callbacks reported (code DF11_OK when none). */
void df11_gpu_plan_error(const df11_gpu_plan *plan, df11_error *err);
void df11_gpu_plan_free(df11_gpu_plan *plan);

#ifdef __cplusplus
}
#endif
#endif
