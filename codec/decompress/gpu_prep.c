/* Host-side preparation for the GPU EXP16 decoder: the 4096-entry lookup
 * table it keeps in shared memory, and the payload checks done before a
 * launch so the kernel only ever sees consistent sizes. The canonical code
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
