/* The canonical code of FORMAT.md 5.1: validity, code values, and the CPU
 * decode table that resolves up to six symbols per 12-bit lookup. */
#include "internal.h"

df11_status df11_huff_check(const uint8_t len[256], bool *constant)
{
    unsigned present = 0;
    uint32_t kraft = 0;
    for (int s = 0; s < 256; s++) {
        if (len[s] == 0) continue;
        if (len[s] > DF11_MAX_CODE_LEN) return DF11_E_BAD_TABLE;
        present++;
        kraft += DF11_TABLE_SIZE >> len[s];
    }
    if (present == 1) {
        for (int s = 0; s < 256; s++)
            if (len[s] != 0 && len[s] != 1) return DF11_E_BAD_TABLE;
        *constant = true;
        return DF11_OK;
    }
    *constant = false;
    return (present >= 2 && kraft == DF11_TABLE_SIZE) ? DF11_OK : DF11_E_BAD_TABLE;
}

void df11_huff_canonical(const uint8_t len[256], uint16_t code[256])
{
    unsigned count[DF11_MAX_CODE_LEN + 1] = {0};
    uint16_t next[DF11_MAX_CODE_LEN + 2] = {0};
    for (int s = 0; s < 256; s++) count[len[s]]++;
    count[0] = 0;
    uint16_t c = 0;
    for (unsigned l = 1; l <= DF11_MAX_CODE_LEN; l++) {
        c = (uint16_t)((c + count[l - 1]) << 1);
        next[l] = c;
    }
    for (int s = 0; s < 256; s++) code[s] = len[s] ? next[len[s]]++ : 0;
}

void df11_huff_build_dtable(const uint8_t len[256], df11_huff_dtable *t)
{
    bool constant = false;
    (void)df11_huff_check(len, &constant);
    memset(t, 0, sizeof *t);
    memcpy(t->len, len, 256);
    if (constant) {
        t->constant = true;
        for (int s = 0; s < 256; s++)
            if (len[s]) t->constant_symbol = (uint8_t)s;
        return;
    }
    /* single[peek] = symbol | length << 8 for the first code in the window */
    static _Thread_local uint16_t single[DF11_TABLE_SIZE];
    uint16_t code[256];
    df11_huff_canonical(len, code);
    for (int s = 0; s < 256; s++) {
        if (!len[s]) continue;
        unsigned shift = DF11_MAX_CODE_LEN - len[s];
        unsigned first = (unsigned)code[s] << shift, span = 1u << shift;
        for (unsigned i = 0; i < span; i++) single[first + i] = (uint16_t)(s | len[s] << 8);
    }
    for (unsigned p = 0; p < DF11_TABLE_SIZE; p++) {
        uint64_t syms = 0;
        unsigned bits = 0, n = 0;
        while (n < DF11_TABLE_MAX_SYMBOLS) {
            uint16_t e = single[(p << bits) & (DF11_TABLE_SIZE - 1)];
            unsigned l = e >> 8;
            if (bits + l > DF11_MAX_CODE_LEN) break;
            syms |= (uint64_t)(e & 0xFF) << (8 * n);
            bits += l;
            n++;
        }
        t->entry[p] = syms << 16 | (uint64_t)n << 8 | bits;
    }
}
