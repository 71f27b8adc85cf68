/* Host-side preparation for the GPU decoders: the EXP16 kernel's 4096-entry
 * lookup table (kept in shared memory), the ANS kernel's per-model tables
 * (built with codec/common/ans.h's df11_ans_build), the ANS_IL kernels'
 * (df11_ans_il_build), and the payload checks
 * done before a launch so the kernels only ever see consistent sizes. The canonical code
 * is rebuilt here on purpose rather than taken from the CPU decoder's table:
 * the GPU path then shares no decoding code with the CPU path it is compared
 * against. */
#include "reader.h"
#include "gpu_codec.h"

#include <stdio.h>

df11_status df11_gpu_build_lut(const uint8_t len[256], uint16_t lut[DF11_CUDA_LUT_ENTRIES])
{
    unsigned count[DF11_MAX_CODE_LEN + 1] = {0}, used = 0, last = 0;
    for (unsigned s = 0; s < 256; s++) {
        if (len[s] > DF11_MAX_CODE_LEN) return DF11_E_BAD_TABLE;
        if (len[s]) {
            count[len[s]]++;
            used++;
            last = s;
        }
    }
    if (used == 0) return DF11_E_BAD_TABLE;
    if (used == 1) {
        /* Constant code: every symbol is `last` and takes no bits. */
        if (len[last] != 1) return DF11_E_BAD_TABLE;
        for (unsigned i = 0; i < DF11_CUDA_LUT_ENTRIES; i++) lut[i] = (uint16_t)last;
        return DF11_OK;
    }
    /* DEFLATE construction: first code of each length. */
    unsigned next[DF11_MAX_CODE_LEN + 2] = {0}, code = 0;
    for (unsigned l = 1; l <= DF11_MAX_CODE_LEN; l++) {
        code = (code + count[l - 1]) << 1;
        next[l] = code;
    }
    unsigned filled = 0;
    for (unsigned s = 0; s < 256; s++) {
        unsigned l = len[s];
        if (!l) continue;
        unsigned c = next[l]++, span = 1u << (DF11_MAX_CODE_LEN - l);
        if (c >= (1u << l)) return DF11_E_BAD_TABLE; /* over-full */
        for (unsigned k = 0; k < span; k++) lut[(c << (DF11_MAX_CODE_LEN - l)) + k] = (uint16_t)(s | l << 8);
        filled += span;
    }
    /* Complete codes only: every 12-bit peek must decode to a symbol. */
    return filled == DF11_CUDA_LUT_ENTRIES ? DF11_OK : DF11_E_BAD_TABLE;
}

int df11_gpu_payload_len_ok(uint32_t payload_len, uint32_t n, uint32_t lane_symbols)
{
    if (n == 0 || lane_symbols == 0) return 0;
    uint64_t nl = df11_lanes(n, lane_symbols);
    uint64_t min = 2 * nl + n;
    uint64_t max = min + ((uint64_t)n * DF11_MAX_CODE_LEN + 7) / 8;
    return payload_len >= min && payload_len <= max;
}

df11_status df11_gpu_check_payload(const uint8_t *p, uint32_t payload_len, uint32_t n,
                                   uint32_t lane_symbols, int constant, char *why, size_t why_len)
{
    if (!df11_gpu_payload_len_ok(payload_len, n, lane_symbols)) {
        snprintf(why, why_len, "payload of %u bytes impossible for %u elements", payload_len, n);
        return DF11_E_CORRUPT_CHUNK;
    }
    uint32_t nl = df11_lanes(n, lane_symbols);
    uint64_t bits = 0;
    for (uint32_t k = 0; k < nl; k++) {
        uint32_t len = df11_rd16(p + 2 * (size_t)k);
        uint32_t syms = df11_lane_len(n, lane_symbols, k);
        /* A lane of s symbols holds between s and 12*s bits (0 if constant). */
        if (constant ? len != 0 : (len < syms || len > syms * DF11_MAX_CODE_LEN)) {
            snprintf(why, why_len, "lane %u: %u bits impossible for %u symbols", k, len, syms);
            return DF11_E_CORRUPT_CHUNK;
        }
        bits += len;
    }
    if (2 * (uint64_t)nl + (bits + 7) / 8 + n != payload_len) {
        snprintf(why, why_len, "lane lengths add up to %llu bits, payload holds %llu bytes for them",
                 (unsigned long long)bits, (unsigned long long)(payload_len - 2 * (uint64_t)nl - n));
        return DF11_E_CORRUPT_CHUNK;
    }
    return DF11_OK;
}

df11_status df11_gpu_build_ans(const df11_fmt_table *tables, uint32_t table_count,
                               const df11_fmt_model *m, df11_cuda_ans_table *out)
{
    /* The reader checked all of this at open; a table that does not fit
     * here would make the kernel index past its arrays, so check again. */
    if (m->exp_table >= table_count || tables[m->exp_table].prob_bits != DF11_ANS_EXP_BITS)
        return DF11_E_BAD_TABLE;
    uint32_t sum = 0;
    for (unsigned s = 0; s < 256; s++) {
        sum += tables[m->exp_table].freq[s];
        if (m->ctx[s] >= DF11_ANS_CONTEXTS) return DF11_E_BAD_TABLE;
    }
    if (sum != 1u << DF11_ANS_EXP_BITS) return DF11_E_BAD_TABLE;
    const uint16_t *mf[DF11_ANS_CONTEXTS];
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) {
        const df11_fmt_table *t = m->mant_table[c] < table_count ? &tables[m->mant_table[c]] : NULL;
        if (!t || t->prob_bits != DF11_ANS_MANT_BITS) return DF11_E_BAD_TABLE;
        sum = 0;
        for (unsigned s = 0; s < 256; s++) {
            if (s >= 128 && t->freq[s]) return DF11_E_BAD_TABLE;
            sum += t->freq[s];
        }
        if (sum != 1u << DF11_ANS_MANT_BITS) return DF11_E_BAD_TABLE;
        mf[c] = t->freq;
    }
    df11_ans_build(tables[m->exp_table].freq, m->ctx, mf, out->esym, out->einfo, out->mslot);
    return DF11_OK;
}

int df11_gpu_ans_len_ok(uint32_t payload_len, uint32_t n)
{
    if (n == 0) return 0;
    uint64_t nl = df11_ans_lanes(n);
    uint64_t min = DF11_ANS_LANE_HEAD * nl + df11_ans_sign_bytes(n);
    return payload_len >= min && payload_len <= min + 2 * 0xFFFFull * nl;
}

df11_status df11_gpu_check_ans(const uint8_t *p, uint32_t payload_len, uint32_t n, char *why,
                               size_t why_len)
{
    if (!df11_gpu_ans_len_ok(payload_len, n)) {
        snprintf(why, why_len, "ANS payload of %u bytes impossible for %u elements", payload_len, n);
        return DF11_E_CORRUPT_CHUNK;
    }
    uint32_t nl = df11_ans_lanes(n);
    uint64_t words = 0;
    for (uint32_t k = 0; k < nl; k++) {
        if (df11_rd32(p + 4 * (size_t)k) < DF11_ANS_LOW) {
            snprintf(why, why_len, "ANS lane %u of %u starts in an impossible state", k, nl);
            return DF11_E_CORRUPT_CHUNK;
        }
        words += df11_rd16(p + 4 * (size_t)nl + 2 * (size_t)k);
    }
    uint64_t rest = payload_len - (uint64_t)DF11_ANS_LANE_HEAD * nl - df11_ans_sign_bytes(n);
    if (2 * words != rest) {
        snprintf(why, why_len, "ANS lane lengths sum to %llu words, payload holds %llu bytes for them",
                 (unsigned long long)words, (unsigned long long)rest);
        return DF11_E_CORRUPT_CHUNK;
    }
    return DF11_OK;
}

/* A P = 12 table an ANS_IL model may use (FORMAT.md 10): frequencies sum
 * to 4096, none owns all slots, and mantissa tables use symbols < 128. */
static int il_table_ok(const df11_fmt_table *tables, uint32_t table_count, uint32_t t, int mant)
{
    if (t >= table_count || tables[t].prob_bits != DF11_ANS_IL_BITS) return 0;
    uint32_t sum = 0;
    for (unsigned s = 0; s < 256; s++) {
        const uint32_t f = tables[t].freq[s];
        if (f >= 1u << DF11_ANS_IL_BITS || (mant && s >= 128 && f)) return 0;
        sum += f;
    }
    return sum == 1u << DF11_ANS_IL_BITS;
}

df11_status df11_gpu_build_ans_il(const df11_fmt_table *tables, uint32_t table_count,
                                  const df11_fmt_model *m, df11_cuda_ans_il_table *out)
{
    /* The reader checks this at open; the kernels read eslot/ectx/mslot at
     * masked indices, but a table off the format would fill the slots only
     * partly (uninitialised entries) or wrongly: check again. */
    if (!il_table_ok(tables, table_count, m->exp_table, 0)) return DF11_E_BAD_TABLE;
    const uint16_t *mf[DF11_ANS_CONTEXTS];
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) {
        if (!il_table_ok(tables, table_count, m->mant_table[c], 1)) return DF11_E_BAD_TABLE;
        mf[c] = tables[m->mant_table[c]].freq;
    }
    for (unsigned s = 0; s < 256; s++)
        if (m->ctx[s] >= DF11_ANS_CONTEXTS) return DF11_E_BAD_TABLE;
    df11_ans_il_build(tables[m->exp_table].freq, mf, out->eslot, out->mslot);
    for (unsigned k = 0; k < (1u << DF11_ANS_IL_BITS); k++) out->ectx[k] = m->ctx[out->eslot[k] & 0xFFu];
    return DF11_OK;
}

int df11_gpu_ans_il_len_ok(uint32_t payload_len, uint32_t n, int il_signs)
{
    if (n == 0) return 0;
    const uint32_t nl = df11_ans_il_lanes(n);
    const uint64_t min = 4ull * nl + df11_ans_il_plane_bytes(n, df11_ans_il_carried(n, nl, il_signs));
    return payload_len >= min && (payload_len - min) % 2 == 0 && payload_len - min <= 4ull * n;
}

df11_status df11_gpu_check_ans_il(const uint8_t *p, uint32_t payload_len, uint32_t n, int il_signs,
                                  char *why, size_t why_len)
{
    if (!df11_gpu_ans_il_len_ok(payload_len, n, il_signs)) {
        snprintf(why, why_len, "ANS_IL payload of %u bytes impossible for %u elements", payload_len, n);
        return DF11_E_CORRUPT_CHUNK;
    }
    const uint32_t nl = df11_ans_il_lanes(n);
    for (uint32_t k = 0; k < nl; k++)
        if (df11_rd32(p + 4 * (size_t)k) < DF11_ANS_LOW) {
            snprintf(why, why_len, "ANS_IL lane %u of %u starts in an impossible state", k, nl);
            return DF11_E_CORRUPT_CHUNK;
        }
    return DF11_OK;
}
