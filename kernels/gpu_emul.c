/* A CPU model of the GPU decoders for machines without a GPU: the same
 * staging (16-byte aligned payload, zeroed slack), the same lane offsets, the
 * same lane code (kernels/lane_decode.h for EXP16, kernels/ans_lane.h for
 * ANS) and the same end-of-lane checks, run one lane after another, writing
 * straight into the caller's buffer as the host-mode pipeline does. Tests
 * select it with DF11_GPU_EMULATE=1 so the whole batch path (routing, LUTs,
 * ANS tables, validation, checksums, per-job errors) runs for real where no
 * kernel can. It is not a fast path. */
#include "../codec/decompress/reader.h"
#include "df11_cuda.h"
#include "ans_lane.h"
#include "ans_il_warp.h"
#include "lane_decode.h"

#include <stdio.h>
#include <stdlib.h>

/* Decodes one staged payload into dst; lane errors name the lane. */
static df11_status emul_one(const uint8_t *p, const df11_cuda_job *J, const uint16_t *lut,
                            uint8_t *exps, uint8_t *dst, char *msg, size_t msg_len)
{
    const uint32_t L = J->lane_symbols, n = J->n;
    const uint32_t nl = df11_lanes(n, L);
    const uint32_t sym = J->payload_len - n;
    uint64_t off = 16ull * nl; /* in bits: lanes are packed bit after bit */
    for (uint32_t k = 0; k < nl; k++) {
        const uint32_t len = df11_rd16(p + 2 * (size_t)k);
        const uint32_t count = df11_lane_len(n, L, k);
        df11_lane_reader rd;
        if (off + len > 8ull * sym) {
            snprintf(msg, msg_len, "lane %u runs past the lane area", k);
            return DF11_E_CORRUPT_CHUNK;
        }
        df11_lane_init(&rd, p, J->payload_len, (uint32_t)off);
        for (uint32_t i = 0; i < count; i++) exps[(size_t)df11_lane_first(k, L) + i] = (uint8_t)df11_lane_next(&rd, lut);
        if (!df11_lane_ok(&rd, len)) {
            snprintf(msg, msg_len, "lane %u: bit length does not match its stored length", k);
            return DF11_E_CORRUPT_CHUNK;
        }
        off += len;
    }
    for (uint32_t i = 0; i < n; i++) df11_wr16(dst + 2 * (size_t)i, df11_bf16_join(exps[i], p[sym + i]));
    return DF11_OK;
}

/* The ANS kernel's work for one chunk: every lane, as its thread would. */
static df11_status emul_ans(const uint8_t *p, const df11_cuda_job *J, const df11_cuda_ans_table *t,
                            char *msg, size_t msg_len)
{
    const uint32_t nl = df11_ans_lanes(J->n);
    for (uint32_t k = 0; k < nl; k++)
        if (!df11_ans_lane_run(p, J->payload_len, J->n, k, t->esym, t->einfo, t->mslot, J->dst)) {
            snprintf(msg, msg_len, "ANS lane %u does not decode to its declared length", k);
            return DF11_E_CORRUPT_CHUNK;
        }
    return DF11_OK;
}

/* The ANS_IL kernels' work for one chunk: a team's (df11_il_warp, a warp
 * or a half-warp, its threads run block after block) or, for one lane, a
 * thread's. */
static df11_status emul_ans_il(const uint8_t *p, const df11_cuda_job *J, const df11_cuda_ans_il_table *t,
                               char *msg, size_t msg_len)
{
    const int ok = df11_ans_il_lanes(J->n) == 1
                       ? df11_il_serial(p, J->payload_len, J->n, J->il_signs, t->eslot, t->ectx, t->mslot, J->dst)
                       : df11_il_warp(p, J->payload_len, J->n, J->il_signs, t->eslot, t->ectx, t->mslot, J->dst,
                                      df11_il_team(df11_ans_il_lanes(J->n)));
    if (ok) return DF11_OK;
    snprintf(msg, msg_len, "ANS_IL chunk does not decode to its declared length");
    return DF11_E_CORRUPT_CHUNK;
}

df11_status df11_emul_decode(const df11_cuda_job *jobs, size_t n, const df11_cuda_tables *tables,
                             const df11_cuda_io *io, df11_status *status, char *why, size_t why_len)
{
    uint8_t *stage = NULL, *exps = NULL;
    size_t stage_cap = 0, exps_cap = 0;
    for (size_t j = 0; j < n; j++) {
        const df11_cuda_job *J = &jobs[j];
        size_t need = ((size_t)J->payload_len + DF11_CUDA_SLACK + 15) & ~(size_t)15;
        const int ans = J->codec == DF11_CUDA_ANS, il = J->codec == DF11_CUDA_ANS_IL;
        const size_t ntab = ans ? tables->ans_count : il ? tables->ans_il_count : tables->lut_count;
        if (J->table >= ntab || J->n == 0 || (J->codec == DF11_CUDA_EXP16 && J->lane_symbols == 0) ||
            (J->codec != DF11_CUDA_EXP16 && !ans && !il)) {
            status[j] = DF11_E_INTERNAL;
            io->fail(io->ctx, j, status[j], "job not valid for the GPU decoder");
            continue;
        }
        if (need > stage_cap || J->n > exps_cap) {
            free(stage);
            free(exps);
            stage_cap = need > stage_cap ? need : stage_cap;
            exps_cap = J->n > exps_cap ? J->n : exps_cap;
            stage = aligned_alloc(16, stage_cap);
            exps = malloc(exps_cap);
            if (!stage || !exps) {
                free(stage);
                free(exps);
                snprintf(why, why_len, "out of memory");
                return DF11_E_NOMEM;
            }
        }
        status[j] = io->load(io->ctx, j, stage);
        if (status[j] != DF11_OK) continue;
        memset(stage + J->payload_len, 0, need - J->payload_len);
        char msg[96];
        status[j] = ans  ? emul_ans(stage, J, &tables->ans[J->table], msg, sizeof msg)
                    : il ? emul_ans_il(stage, J, &tables->ans_il[J->table], msg, sizeof msg)
                         : emul_one(stage, J, tables->luts + (size_t)J->table * DF11_CUDA_LUT_ENTRIES,
                                   exps, J->dst, msg, sizeof msg);
        if (status[j] != DF11_OK) {
            io->fail(io->ctx, j, status[j], msg);
            continue;
        }
        status[j] = io->check(io->ctx, j, J->dst);
    }
    free(stage);
    free(exps);
    return DF11_OK;
}
